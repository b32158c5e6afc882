//! What a blocking handle waits on: its call's events, and the answer to each
//! of its sends. A queue under a lock, and a condvar signalled only while the
//! receiver waits.
//!
//! `std::sync::mpsc` would do, but it costs per call what a call cannot
//! afford on the worker pools' path: its first send allocates and zeroes a
//! block of 31 slots (about 6 KiB for events), and every send signals. Here
//! a queue grows as the call's events need, and a sender makes a syscall
//! only when the receiver sleeps.

use std::collections::VecDeque;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

struct State<T> {
    items: VecDeque<T>,
    /// Live senders; none left closes the channel: nothing more comes.
    senders: usize,
    /// The receiver is still there: sends are worth queueing.
    receiver: bool,
    /// The receiver waits (or is about to): the next change signals.
    waiting: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Signals the receiver if it waits, once `state` is unlocked.
    fn wake(&self, mut state: MutexGuard<'_, State<T>>) {
        let wake = std::mem::replace(&mut state.waiting, false);
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }
}

/// A new channel: its sending and receiving ends.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receiver: true,
            waiting: false,
        }),
        ready: Condvar::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

/// The sending end; cloned for each further sender. The channel closes when
/// the last one is dropped.
pub struct Sender<T>(Arc<Shared<T>>);

impl<T> Sender<T> {
    /// Queues `item`; false if the receiver is gone (the item is dropped).
    pub fn send(&self, item: T) -> bool {
        let mut state = self.0.lock();
        if !state.receiver {
            drop(state);
            drop(item);
            return false;
        }
        state.items.push_back(item);
        self.0.wake(state);
        true
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.senders -= 1;
        if state.senders == 0 {
            self.0.wake(state);
        }
    }
}

/// The receiving end.
pub struct Receiver<T>(Arc<Shared<T>>);

impl<T> Receiver<T> {
    /// The next item, waiting for it; `None` once the channel is empty and
    /// closed.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.0.lock();
        loop {
            if let Some(item) = state.items.pop_front() {
                return Some(item);
            }
            if state.senders == 0 {
                return None;
            }
            state.waiting = true;
            state = self
                .0
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The next item if one is there, without waiting.
    pub fn try_recv(&self) -> Option<T> {
        self.0.lock().items.pop_front()
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.0.lock().items.is_empty()
    }

    /// [`recv`](Self::recv), waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.0.lock();
        loop {
            if let Some(item) = state.items.pop_front() {
                return Ok(item);
            }
            if state.senders == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            let Some(deadline) = deadline else {
                // Beyond any clock: wait as `recv` does.
                state.waiting = true;
                state = self
                    .0
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            state.waiting = true;
            state = (self.0.ready.wait_timeout(state, left))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What was queued and never taken is dropped with the receiver, outside
/// the lock (an item's drop may send on another channel).
impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let items = {
            let mut state = self.0.lock();
            state.receiver = false;
            std::mem::take(&mut state.items)
        };
        drop(items);
    }
}

// A blocking handle's inbox and its parked sends' replies.
impl grpc_sansio::session::Inbox for Sender<grpc_sansio::grpc::Event> {
    fn deliver(&self, event: grpc_sansio::grpc::Event) {
        self.send(event);
    }
}

impl grpc_sansio::session::Reply for Sender<Result<(), grpc_sansio::grpc::status::Status>> {
    fn reply(self, result: Result<(), grpc_sansio::grpc::status::Status>) {
        self.send(result);
    }
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::Duration;

    use super::*;

    #[test]
    fn items_arrive_in_order_then_the_end() {
        let (tx, rx) = channel();
        assert!(tx.send(1) && tx.send(2));
        let second = tx.clone();
        drop(tx);
        assert!(second.send(3), "a clone keeps the channel open");
        drop(second);
        assert_eq!(
            (rx.recv(), rx.recv(), rx.recv()),
            (Some(1), Some(2), Some(3))
        );
        assert_eq!(rx.recv(), None, "closed: no wait");
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn a_waiting_receiver_is_woken_by_a_send_and_by_the_close() {
        let (tx, rx) = channel();
        let receiver = thread::spawn(move || (rx.recv(), rx.recv()));
        thread::sleep(Duration::from_millis(20));
        assert!(tx.send("event"));
        thread::sleep(Duration::from_millis(20));
        drop(tx);
        assert_eq!(receiver.join().unwrap(), (Some("event"), None));
    }

    #[test]
    fn a_timed_wait_ends_with_an_item_the_time_or_the_close() {
        let (tx, rx) = channel();
        let short = Duration::from_millis(10);
        assert_eq!(rx.recv_timeout(short), Err(RecvTimeoutError::Timeout));
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            tx.send(5);
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(5));
        sender.join().unwrap();
        assert_eq!(rx.recv_timeout(short), Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn a_send_to_a_dropped_receiver_says_so() {
        let (tx, rx) = channel::<u8>();
        drop(rx);
        assert!(!tx.send(1));
    }
}
