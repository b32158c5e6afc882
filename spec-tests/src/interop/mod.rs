//! The gRPC interop tests (`doc/interop-test-descriptions.md` in grpc/grpc):
//! `grpc.testing.TestService` served over any of our adapters, and the 18
//! client cases run over any of them. The binaries `interop-server` and
//! `interop-client` are thin shells over this module; `spec-tests/interop/CASES.md`
//! says what each case checks.
//!
//! The service and the cases are written once, as async code over the service
//! layer's async streams. The blocking adapters run them through
//! [`bridge`]: their calls complete inside `poll`, so a trivial executor
//! ([`block_on`]) drives them.

pub mod bridge;
pub mod cases;
pub mod client;
pub mod server;
pub mod service;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::proto::{Payload, PayloadType};

/// Which of our adapters runs a side of the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `grpc-sansio-mio`: event loop, handlers on a worker pool (or, with
    /// [`Handlers::Inline`], as tasks on the event loop).
    Mio,
    /// `grpc-sansio-tokio`: a task per connection, async handlers.
    Tokio,
    /// `grpc-sansio-blocking`: a thread per connection, handlers on a worker
    /// pool (or, with [`Handlers::Inline`], as tasks on the connection's
    /// thread).
    Blocking,
}

impl Adapter {
    /// Every adapter.
    pub const ALL: [Adapter; 3] = [Adapter::Mio, Adapter::Tokio, Adapter::Blocking];

    /// The name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Mio => "mio",
            Adapter::Tokio => "tokio",
            Adapter::Blocking => "blocking",
        }
    }
}

impl FromStr for Adapter {
    type Err = String;

    fn from_str(s: &str) -> Result<Adapter, String> {
        match s {
            "mio" => Ok(Adapter::Mio),
            "tokio" => Ok(Adapter::Tokio),
            "blocking" => Ok(Adapter::Blocking),
            other => Err(format!(
                "unknown adapter {other:?} (expected mio, tokio or blocking)"
            )),
        }
    }
}

/// Where a server runs its handlers (`--handlers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Handlers {
    /// On threads other than the one that read the call: mio's and the
    /// blocking adapter's worker pools. Tokio's handlers are tasks either
    /// way.
    #[default]
    Pool,
    /// On the thread that read the call: mio serves the async service as
    /// tasks on its event loop, the blocking adapter as tasks on each
    /// connection's thread. Tokio's tasks already poll a ready future at
    /// once: the same server as `Pool`.
    Inline,
}

impl Handlers {
    /// The name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Handlers::Pool => "pool",
            Handlers::Inline => "inline",
        }
    }
}

impl FromStr for Handlers {
    type Err = String;

    fn from_str(s: &str) -> Result<Handlers, String> {
        match s {
            "pool" => Ok(Handlers::Pool),
            "inline" => Ok(Handlers::Inline),
            other => Err(format!(
                "unknown handlers {other:?} (expected inline or pool)"
            )),
        }
    }
}

/// `len` zero bytes as a COMPRESSABLE payload, as every interop message uses.
pub fn payload(len: usize) -> Payload {
    Payload {
        r#type: PayloadType::Compressable as i32,
        body: vec![0; len],
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (for the blocking bridges,
/// whose futures are ready at once, but correct for any future).
pub fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        // Made once per thread: a worker runs one call after another.
        static WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    }
    let mut future = std::pin::pin!(future);
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::park();
        }
    })
}
