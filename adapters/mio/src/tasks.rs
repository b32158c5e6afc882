//! Async handlers run as tasks on the event loop that read their call: no
//! thread hop per call. The executor and the handles' link are the engine's
//! ([`LocalExecutor`](grpc_sansio_service::LocalExecutor)); the loop polls
//! the tasks its reads woke and applies their commands before its one write.

use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use grpc_sansio::grpc::{CallId, Event, Request};
use grpc_sansio_service::{self as service, AsyncRouter, LocalLink};
use mio::Token;

use crate::event_loop::CallInbox;
use crate::server::{Calls, InlineHandler, Server, ServerHandle};

/// The server side of one call as an async handle, for a task on the event
/// loop ([`Server::serve_async`], [`Calls::spawn`]).
///
/// Dropping it without [`finish`](service::AsyncServerCall::finish) ends the
/// call with UNKNOWN.
pub type AsyncServerCall = service::AsyncServerCall<LocalLink<Token>>;

/// A call handler run as a task on the event loop that read the call
/// ([`Server::serve_async`]): while it runs, the loop serves no other
/// connection, so it must not block.
pub use grpc_sansio_service::AsyncHandler;

impl Calls<'_> {
    /// Serves the call as a task on this event loop: `serve` gets its async
    /// handle and returns the future, polled on the loop whenever the call's
    /// events or anything else wake it. The call's events no longer reach the
    /// inline handler. The future must not block (see [`AsyncHandler`]). If
    /// `serve` panics, the call ends as if its future had (UNKNOWN, from the
    /// dropped handle).
    pub fn spawn<F>(
        &mut self,
        call: CallId,
        request: Request,
        serve: impl FnOnce(AsyncServerCall) -> F,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        let (link, inbox) = self.tasks.link(self.conn.link.token);
        let cancel = self.conn.session.attach(call, CallInbox::Task(inbox));
        let origin = self.conn.origin.clone();
        let call = AsyncServerCall::new(call, request, link, origin, cancel);
        if let Ok(future) = catch_unwind(AssertUnwindSafe(|| serve(call))) {
            self.tasks.spawn(future);
        }
    }
}

impl Server {
    /// Binds to `addr` and runs `handler` for each call as a task on the
    /// event loop that read it: no thread hop, and every call a read brings
    /// is answered before that turn's one write.
    ///
    /// Inline handlers must not block: they run on the event loop. A method
    /// that may block belongs on the worker pool
    /// ([`serve_pool`](Self::serve_pool), [`serve_router`](Self::serve_router)).
    pub fn serve_async(
        self,
        addr: impl ToSocketAddrs,
        handler: impl AsyncHandler<LocalLink<Token>>,
    ) -> io::Result<ServerHandle> {
        self.serve(addr, Spawn(Arc::new(handler)))
    }

    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it with `register_async`) on the event loops
    /// themselves, each call a task polled on the loop that read it; unknown
    /// methods are answered UNIMPLEMENTED.
    ///
    /// Inline handlers must not block: they run on the event loop. A method
    /// that may block belongs on the worker pool
    /// ([`serve_router`](Self::serve_router)).
    pub fn serve_router_inline(
        self,
        addr: impl ToSocketAddrs,
        router: Arc<AsyncRouter>,
    ) -> io::Result<ServerHandle> {
        self.serve_async(addr, move |call: AsyncServerCall| {
            let router = router.clone();
            async move { call.serve(&router).await }
        })
    }
}

/// The inline handler of [`Server::serve_async`]: every call becomes a task.
struct Spawn<H>(Arc<H>);

impl<H> Clone for Spawn<H> {
    fn clone(&self) -> Self {
        Spawn(self.0.clone())
    }
}

impl<H: AsyncHandler<LocalLink<Token>>> InlineHandler for Spawn<H> {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        if let Event::CallStarted { call, request } = event {
            calls.spawn(call, request, |call| self.0.call(call));
        }
    }
}
