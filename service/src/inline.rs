//! Async handlers polled on the thread that drives their connection: a small
//! executor, and the [`AsyncLink`] its calls use, whose commands wait in a
//! queue that thread applies right after polling. No thread hop per call, no
//! channel, no syscall; sans-IO like the rest of the service layer (no
//! threads, no clock). The driving contract is on [`LocalExecutor`].

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;

use super::handle::{Link, SendDone};
use super::{AsyncLink, BoxFuture};
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, Event};
use grpc_sansio::hash::FxHashMap;
use grpc_sansio::session::{Command, Inbox, Reply};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What tasks and links hand the driving thread.
struct Queue<K> {
    /// Tasks woken since the last [`LocalExecutor::poll_ready`], each once.
    ready: Vec<u64>,
    /// Commands for the connections, in the order given.
    commands: Vec<(K, Command<LocalDone>)>,
    /// The driving thread waits (or is about to): new work calls `notify`.
    idle: bool,
    /// The executor is gone: what arrives is dropped.
    closed: bool,
}

/// The executor's queue, shared with its wakers and links.
struct Shared<K> {
    queue: Mutex<Queue<K>>,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl<K> Shared<K> {
    /// Adds work with `add`, which gets the queue unless the executor is
    /// gone; then wakes the driving thread if it waits.
    fn push<T>(&self, item: T, add: impl FnOnce(&mut Queue<K>, T)) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            // Dropped outside the lock: a reply's drop wakes a task.
            drop(queue);
            return drop(item);
        }
        add(&mut queue, item);
        let notify = std::mem::replace(&mut queue.idle, false);
        drop(queue);
        if notify {
            (self.notify)();
        }
    }
}

/// A task's waker: puts its id on the ready list, once until it is polled.
struct TaskWaker<K> {
    id: u64,
    queued: AtomicBool,
    shared: Arc<Shared<K>>,
}

impl<K: Send + 'static> Wake for TaskWaker<K> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.shared.push(self.id, |queue, id| queue.ready.push(id));
        }
    }
}

struct Task<K> {
    future: BoxFuture<'static, ()>,
    wake: Arc<TaskWaker<K>>,
    waker: Waker,
}

/// The tasks of one thread that drives connections (an event loop, a
/// connection's thread), polled on that thread when woken: async handlers
/// answer where their request was read, with no thread hop.
///
/// One executor serves every connection the thread drives; `K` is the
/// adapter's name for a connection (a mio `Token`, say). A turn of that
/// thread, after it handed what it read to each [`Session`](super::Session):
///
/// 1. route each session's events ([`Session::poll_event`](super::Session::poll_event));
///    for a new call, [`link`](Self::link) gives the call's link and the
///    inbox to [`attach`](super::Session::attach) it to, and
///    [`spawn`](Self::spawn) adds the future serving it
///    ([`AsyncServerCall::serve`](super::AsyncServerCall::serve), say);
/// 2. [`poll_ready`](Self::poll_ready) polls each woken task once, then
///    [`take_commands`](Self::take_commands) gives the commands they left, each
///    for its connection's [`Session::apply`](super::Session::apply) (which
///    may deliver events and answer sends: more tasks wake);
/// 3. repeat 1–2 while anything moved, then write each session's output once.
///
/// Before waiting for I/O, the thread asks [`idle`](Self::idle) (false: work
/// is waiting, do not sleep); from then until [`busy`](Self::busy), a task
/// woken or a command given from another thread (a future waiting on
/// something outside the loop) calls the `notify` given to [`new`](Self::new),
/// which must wake the thread. Wakes on the thread itself cost a push onto a
/// list under an uncontended lock.
///
/// A task that panics is dropped, and dropping its call handle ends the call
/// (UNKNOWN for a server call, as a worker pool's panicking handler does). A
/// send refused for a full buffer parks in the switchboard, and the reply
/// wakes its task when capacity returns; a message counts as consumed when
/// the task takes it (`recv`), so a slow task slows its peer. Futures must
/// not block: while one runs, the thread drives nothing else.
pub struct LocalExecutor<K> {
    tasks: FxHashMap<u64, Task<K>>,
    /// Task ids are never reused: a stale wake finds nothing.
    next: u64,
    shared: Arc<Shared<K>>,
    /// The ready list taken for one `poll_ready`, kept for its allocation.
    batch: Vec<u64>,
    /// The commands taken for one `take_commands`, likewise.
    commands: Vec<(K, Command<LocalDone>)>,
}

impl<K: Copy + Send + 'static> LocalExecutor<K> {
    /// An executor with no tasks; `notify` must wake the driving thread from
    /// its wait for I/O (a mio `Waker`, say). It is called only between
    /// [`idle`](Self::idle) and [`busy`](Self::busy), once per wait at most.
    pub fn new(notify: impl Fn() + Send + Sync + 'static) -> Self {
        let queue = Queue {
            ready: Vec::new(),
            commands: Vec::new(),
            idle: false,
            closed: false,
        };
        LocalExecutor {
            tasks: FxHashMap::default(),
            next: 0,
            shared: Arc::new(Shared {
                queue: Mutex::new(queue),
                notify: Box::new(notify),
            }),
            batch: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// A call's link for connection `key`, and the inbox to
    /// [`attach`](super::Session::attach) the call to: its events go to the
    /// link and wake the task waiting on them.
    pub fn link(&self, key: K) -> (LocalLink<K>, LocalInbox) {
        let mailbox = Arc::new(Mutex::new(Mailbox::default()));
        let link = LocalLink {
            key,
            shared: self.shared.clone(),
            mailbox: mailbox.clone(),
        };
        (link, LocalInbox(mailbox))
    }

    /// Adds a task; it is first polled by the next
    /// [`poll_ready`](Self::poll_ready).
    pub fn spawn(&mut self, future: impl Future<Output = ()> + Send + 'static) {
        let id = self.next;
        self.next += 1;
        let wake = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(wake.clone());
        let task = Task {
            future: Box::pin(future),
            wake,
            waker,
        };
        task.waker.wake_by_ref();
        self.tasks.insert(id, task);
    }

    /// Polls each task woken since the last call, once; a task that
    /// completes or panics is dropped. Returns how many were polled. A task
    /// woken meanwhile waits for the next call, so a task that keeps waking
    /// itself cannot hold the thread.
    pub fn poll_ready(&mut self) -> usize {
        std::mem::swap(&mut self.batch, &mut lock(&self.shared.queue).ready);
        let mut polled = 0;
        for id in self.batch.drain(..) {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            polled += 1;
            // Cleared first: a wake during the poll queues it again.
            task.wake.queued.store(false, Ordering::Release);
            let mut cx = Context::from_waker(&task.waker);
            let future = &mut task.future;
            let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
            if !matches!(polled, Ok(Poll::Pending)) {
                let task = self.tasks.remove(&id);
                // Dropping its call handle ends the call; a drop that panics
                // loses nothing more.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(task)));
            }
        }
        polled
    }

    /// The commands tasks gave since the last call, in order, each with its
    /// connection: apply each to that connection's session (a connection that
    /// is gone drops them, which answers a send with "gone").
    pub fn take_commands(&mut self) -> std::vec::Drain<'_, (K, Command<LocalDone>)> {
        std::mem::swap(&mut self.commands, &mut lock(&self.shared.queue).commands);
        self.commands.drain(..)
    }

    /// Whether a task is woken or a command waits.
    pub fn has_work(&self) -> bool {
        let queue = lock(&self.shared.queue);
        !queue.ready.is_empty() || !queue.commands.is_empty()
    }

    /// Before the driving thread waits for I/O: whether it may, as no task is
    /// woken and no command waits. If so, work arriving from now until
    /// [`busy`](Self::busy) calls `notify`.
    pub fn idle(&self) -> bool {
        let mut queue = lock(&self.shared.queue);
        queue.idle = queue.ready.is_empty() && queue.commands.is_empty();
        queue.idle
    }

    /// The driving thread is back from its wait.
    pub fn busy(&self) {
        lock(&self.shared.queue).idle = false;
    }

    /// How many tasks have not completed.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether every task has completed.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl<K> Drop for LocalExecutor<K> {
    fn drop(&mut self) {
        // Commands hold replies whose wakers hold the queue: break the cycle.
        let commands = {
            let mut queue = lock(&self.shared.queue);
            queue.closed = true;
            std::mem::take(&mut queue.commands)
        };
        for (_, task) in self.tasks.drain() {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(task)));
        }
        // What the tasks' drops commanded was dropped on arrival.
        drop(commands);
    }
}

/// A call's events, between the switchboard and the task.
#[derive(Default)]
struct Mailbox {
    events: VecDeque<Event>,
    /// The switchboard let go of the inbox: no more events come.
    closed: bool,
    /// The task waiting for an event.
    waker: Option<Waker>,
}

impl Mailbox {
    fn take(&mut self) -> Option<Option<Event>> {
        match self.events.pop_front() {
            Some(event) => Some(Some(event)),
            None if self.closed => Some(None),
            None => None,
        }
    }
}

/// Where the switchboard delivers a call's events: its task's mailbox. Every
/// message in it holds its flow-control credit until the task takes it, so
/// the peer's window bounds it.
pub struct LocalInbox(Arc<Mutex<Mailbox>>);

impl LocalInbox {
    fn update(&self, change: impl FnOnce(&mut Mailbox)) {
        let waker = {
            let mut mailbox = lock(&self.0);
            change(&mut mailbox);
            mailbox.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Inbox for LocalInbox {
    fn deliver(&self, event: Event) {
        self.update(|mailbox| mailbox.events.push_back(event));
    }
}

/// The call ended, or its connection is gone: the task reads what is left,
/// then the end.
impl Drop for LocalInbox {
    fn drop(&mut self) {
        self.update(|mailbox| mailbox.closed = true);
    }
}

/// The outcome of one send, between the switchboard and the task.
#[derive(Default)]
struct SendSlot {
    /// `Some(None)`: dropped unanswered (the connection is gone).
    outcome: Option<Option<Result<(), Status>>>,
    waker: Option<Waker>,
}

/// How the switchboard answers a task's send: it wakes the task. Dropped
/// unanswered (its connection is gone), it answers `None`.
pub struct LocalDone(Arc<Mutex<SendSlot>>);

impl LocalDone {
    fn settle(&self, outcome: Option<Result<(), Status>>) {
        let waker = {
            let mut slot = lock(&self.0);
            if slot.outcome.is_some() {
                return;
            }
            slot.outcome = Some(outcome);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Reply for LocalDone {
    fn reply(self, result: Result<(), Status>) {
        self.settle(Some(result));
    }
}

impl Drop for LocalDone {
    fn drop(&mut self) {
        self.settle(None);
    }
}

/// A send waiting for its [`LocalDone`].
struct Taken(Arc<Mutex<SendSlot>>);

impl Future for Taken {
    type Output = Option<Result<(), Status>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.0);
        match slot.outcome.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                register(&mut slot.waker, cx);
                Poll::Pending
            }
        }
    }
}

fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// A call handle's way to its connection when its task runs on the thread
/// that drives the connection: commands go into the executor's queue, events
/// come from the call's mailbox.
pub struct LocalLink<K> {
    key: K,
    shared: Arc<Shared<K>>,
    mailbox: Arc<Mutex<Mailbox>>,
}

impl<K: Copy + Send + 'static> Link for LocalLink<K> {
    type Done = LocalDone;

    /// Queues `command` for the driving thread, which applies it after this
    /// round of polls; true unless the executor is gone.
    fn command(&self, command: Command<LocalDone>) -> bool {
        let mut queued = false;
        self.shared.push(command, |queue, command| {
            queue.commands.push((self.key, command));
            queued = true;
        });
        queued
    }
}

impl<K: Copy + Send + 'static> AsyncLink for LocalLink<K> {
    fn send(
        &self,
        call: CallId,
        message: Bytes,
        compress: bool,
    ) -> impl Future<Output = Option<Result<(), Status>>> + Send {
        let slot = Arc::new(Mutex::new(SendSlot::default()));
        let done = LocalDone(slot.clone());
        // Not queued, `done` is dropped at once: the send reads "gone".
        self.command(Command::Send(call, message, compress, done));
        Taken(slot)
    }

    fn next(&mut self) -> impl Future<Output = Option<Event>> + Send {
        let mailbox = &self.mailbox;
        std::future::poll_fn(move |cx| {
            let mut mailbox = lock(mailbox);
            match mailbox.take() {
                Some(event) => Poll::Ready(event),
                None => {
                    register(&mut mailbox.waker, cx);
                    Poll::Pending
                }
            }
        })
    }

    fn try_next(&mut self) -> Option<Option<Event>> {
        lock(&self.mailbox).take()
    }
}

#[cfg(test)]
mod tests;

/// Where a call's events go on a connection that serves calls both ways: a
/// blocking handle's channel (a worker's, or a client's), or the mailbox of a
/// task polled on the connection's own thread.
pub enum CallInbox {
    /// A blocking handle's channel.
    Channel(super::channel::Sender<Event>),
    /// A task's mailbox.
    Task(LocalInbox),
}

impl Inbox for CallInbox {
    fn deliver(&self, event: Event) {
        match self {
            CallInbox::Channel(tx) => tx.deliver(event),
            CallInbox::Task(inbox) => inbox.deliver(event),
        }
    }
}

/// How a send is answered on such a connection: on a blocking handle's
/// channel, or by waking its task.
pub enum CallDone {
    /// A blocking handle's reply channel.
    Channel(SendDone),
    /// A task's send slot.
    Task(LocalDone),
}

impl Reply for CallDone {
    fn reply(self, result: Result<(), Status>) {
        match self {
            CallDone::Channel(done) => done.reply(result),
            CallDone::Task(done) => done.reply(result),
        }
    }
}
