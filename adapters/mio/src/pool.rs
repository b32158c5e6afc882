//! Blocking handles for server calls: a worker pool, or any call an inline
//! handler detaches to a thread of its own.

use std::io;
use std::net::ToSocketAddrs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use grpc_sansio::grpc::{CallId, Event, Request};
use grpc_sansio::service::{self, Router};

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

    /// Binds to `addr` and runs `handler` on `workers` threads, one call at a
    /// time each, with blocking [`ServerCall`] handles.
    pub fn serve_pool(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        handler: impl Fn(ServerCall) + Send + Sync + 'static,
    ) -> io::Result<ServerHandle> {
        let (tx, rx) = mpsc::channel::<ServerCall>();
        let (rx, handler) = (Arc::new(Mutex::new(rx)), Arc::new(handler));
        let mut handle = self.serve(addr, Pool(tx))?;
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

/// The inline handler of the worker pool: every call is detached to a worker.
#[derive(Clone)]
struct Pool(Sender<ServerCall>);

impl InlineHandler for Pool {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        if let Event::CallStarted { call, request } = event {
            let _ = self.0.send(calls.detach(call, request));
        }
    }
}

/// The server side of one call as a blocking handle, for a worker thread.
///
/// Dropping it without [`finish`](service::ServerCall::finish) ends the call
/// with UNKNOWN.
pub type ServerCall = service::ServerCall<Link>;
