//! Blocking handles for server calls: a worker pool, or any call an inline
//! handler detaches to a thread of its own.

use std::io;
use std::net::ToSocketAddrs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use grpc_sansio::grpc::{CallId, Event, Request};
use grpc_sansio::service::{self, AsyncRouter, Router};

use crate::event_loop::{CallInbox, Link};
use crate::server::{Calls, InlineHandler, Server, ServerHandle};

impl Calls<'_> {
    /// Hands the call to another thread as a blocking [`ServerCall`]; its
    /// events no longer reach the inline handler.
    pub fn detach(&mut self, call: CallId, request: Request) -> ServerCall {
        let (tx, inbox) = mpsc::channel();
        let cancel = self.conn.session.attach(call, CallInbox::Channel(tx));
        let (link, origin) = (self.conn.link.clone(), self.conn.origin.clone());
        ServerCall::new(call, request, link, inbox, origin, cancel)
    }
}

impl Server {
    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it) on `workers` threads; unknown methods are answered
    /// UNIMPLEMENTED.
    pub fn serve_router(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        router: Arc<Router>,
    ) -> io::Result<ServerHandle> {
        self.serve_pool(addr, workers, move |call: ServerCall| call.serve(&router))
    }

    /// Binds to `addr` and serves both routers, per method: a call to a
    /// method of `inline` (async; generated code registers into it with
    /// `register_async`) runs as a task on the event loop that read it, every
    /// other call goes to `workers` threads and `pool` (blocking; `register`),
    /// which answers unknown methods UNIMPLEMENTED.
    ///
    /// Inline handlers must not block: they run on the event loop. A method
    /// that may block belongs in `pool`.
    pub fn serve_routers(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        pool: Arc<Router>,
        inline: Arc<AsyncRouter>,
    ) -> io::Result<ServerHandle> {
        let handler = move |call: ServerCall| call.serve(&pool);
        self.serve_workers(addr, workers, handler, Some(inline))
    }

    /// Binds to `addr` and runs `handler` on `workers` threads, one call at a
    /// time each, with blocking [`ServerCall`] handles.
    pub fn serve_pool(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        handler: impl Fn(ServerCall) + Send + Sync + 'static,
    ) -> io::Result<ServerHandle> {
        self.serve_workers(addr, workers, handler, None)
    }

    /// [`serve_pool`](Self::serve_pool), but calls to the methods of `inline`
    /// are tasks on the loop.
    fn serve_workers(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        handler: impl Fn(ServerCall) + Send + Sync + 'static,
        inline: Option<Arc<AsyncRouter>>,
    ) -> io::Result<ServerHandle> {
        let (tx, rx) = mpsc::channel::<ServerCall>();
        let (rx, handler) = (Arc::new(Mutex::new(rx)), Arc::new(handler));
        let mut handle = self.serve(addr, Pool { queue: tx, inline })?;
        for _ in 0..workers.max(1) {
            let (rx, handler) = (rx.clone(), handler.clone());
            // The queue closes when the event loops are gone.
            let next = move || rx.lock().ok()?.recv().ok();
            handle.threads.push(thread::spawn(move || {
                while let Some(call) = next() {
                    // A panicking handler's call ends with UNKNOWN (its drop).
                    let _ = catch_unwind(AssertUnwindSafe(|| handler(call)));
                }
            }));
        }
        Ok(handle)
    }
}

/// The inline handler of the worker pool: every call is detached to a
/// worker, but those to the methods of `inline`, which are tasks on the loop.
#[derive(Clone)]
struct Pool {
    queue: Sender<ServerCall>,
    inline: Option<Arc<AsyncRouter>>,
}

impl InlineHandler for Pool {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        let Event::CallStarted { call, request } = event else {
            return;
        };
        match &self.inline {
            Some(router) if router.method_kind(&request.path).is_some() => {
                let router = router.clone();
                calls.spawn(call, request, |call| async move {
                    call.serve(&router).await;
                });
            }
            _ => drop(self.queue.send(calls.detach(call, request))),
        }
    }
}

/// The server side of one call as a blocking handle, for a worker thread.
///
/// Dropping it without [`finish`](service::ServerCall::finish) ends the call
/// with UNKNOWN.
pub type ServerCall = service::ServerCall<Link>;
