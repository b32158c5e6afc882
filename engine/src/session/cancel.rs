//! The cancellation signal of a call: set by the adapter, observed by handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::grpc::status::{Code, Status};

const LIVE: u8 = 0;
const CANCELLED: u8 = 1;
const DEADLINE_EXCEEDED: u8 = 2;

/// Why a call stopped before its handler finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// The client cancelled, the connection went away, or the peer broke the
    /// protocol.
    Cancelled,
    /// The call's deadline passed.
    DeadlineExceeded,
}

impl CancelReason {
    /// The gRPC code for this reason.
    pub fn code(self) -> Code {
        match self {
            CancelReason::Cancelled => Code::Cancelled,
            CancelReason::DeadlineExceeded => Code::DeadlineExceeded,
        }
    }

    /// A status for this reason, for a handler to return.
    pub fn to_status(self) -> Status {
        match self {
            CancelReason::Cancelled => Status::new(Code::Cancelled, "the call was cancelled"),
            CancelReason::DeadlineExceeded => Status::new(
                Code::DeadlineExceeded,
                "the deadline of the call has passed",
            ),
        }
    }

    /// The reason a cancellation status stands for: DEADLINE_EXCEEDED is the
    /// deadline, every other code a cancellation.
    pub fn from_status(status: &Status) -> CancelReason {
        match status.code() {
            Code::DeadlineExceeded => CancelReason::DeadlineExceeded,
            _ => CancelReason::Cancelled,
        }
    }
}

/// A call's cancellation signal, shared between the adapter (which sets it when
/// the engine reports [`Event::Cancelled`](crate::grpc::Event::Cancelled) or the
/// deadline passes) and the handler (which polls [`is_cancelled`](Self::is_cancelled)
/// in its loops, or awaits [`cancelled`](Self::cancelled)).
///
/// Clones share one signal. The first cancellation wins; later ones change
/// nothing. No thread, timer or global state is involved: setting the flag is an
/// atomic store plus waking the tasks that wait on it.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: AtomicU8,
    wakers: Mutex<Vec<Waker>>,
}

impl CancelToken {
    /// A signal not yet set.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Cancels: the client went away. Returns whether this call set the signal.
    pub fn cancel(&self) -> bool {
        self.cancel_with(CancelReason::Cancelled)
    }

    /// Cancels for `reason`. Returns whether this call set the signal (false
    /// when it was already set).
    pub fn cancel_with(&self, reason: CancelReason) -> bool {
        let value = match reason {
            CancelReason::Cancelled => CANCELLED,
            CancelReason::DeadlineExceeded => DEADLINE_EXCEEDED,
        };
        let set = self
            .inner
            .state
            .compare_exchange(LIVE, value, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if set {
            let wakers = std::mem::take(
                &mut *self
                    .inner
                    .wakers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            for waker in wakers {
                waker.wake();
            }
        }
        set
    }

    /// Cancels with the reason a status stands for (see
    /// [`CancelReason::from_status`]): what an adapter does with the status of
    /// [`Event::Cancelled`](crate::grpc::Event::Cancelled).
    pub fn cancel_for(&self, status: &Status) -> bool {
        self.cancel_with(CancelReason::from_status(status))
    }

    /// Whether the signal is set.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Why the call was cancelled, once it was.
    pub fn reason(&self) -> Option<CancelReason> {
        match self.inner.state.load(Ordering::Acquire) {
            CANCELLED => Some(CancelReason::Cancelled),
            DEADLINE_EXCEEDED => Some(CancelReason::DeadlineExceeded),
            _ => None,
        }
    }

    /// A future that completes when the signal is set, for an async handler to
    /// race against its work. Works on any executor.
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled { token: self }
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("reason", &self.reason())
            .finish()
    }
}

/// The future of [`CancelToken::cancelled`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled<'a> {
    token: &'a CancelToken,
}

impl Future for Cancelled<'_> {
    type Output = CancelReason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CancelReason> {
        if let Some(reason) = self.token.reason() {
            return Poll::Ready(reason);
        }
        let mut wakers = self
            .token
            .inner
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // `cancel_with` sets the state before it takes the lock, so looking again
        // under the lock cannot miss a cancellation.
        if let Some(reason) = self.token.reason() {
            return Poll::Ready(reason);
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_cancellation_wins() {
        let token = CancelToken::new();
        assert!(!token.is_cancelled());
        let clone = token.clone();
        assert!(clone.cancel_with(CancelReason::DeadlineExceeded));
        assert!(!token.cancel());
        assert_eq!(token.reason(), Some(CancelReason::DeadlineExceeded));
        assert_eq!(
            token.reason().unwrap().to_status().code(),
            Code::DeadlineExceeded
        );
    }

    #[test]
    fn cancel_for_maps_the_status() {
        let token = CancelToken::new();
        token.cancel_for(&Status::new(Code::Cancelled, "reset"));
        assert_eq!(token.reason(), Some(CancelReason::Cancelled));
        let token = CancelToken::new();
        token.cancel_for(&Status::new(Code::DeadlineExceeded, "late"));
        assert_eq!(token.reason(), Some(CancelReason::DeadlineExceeded));
    }
}
