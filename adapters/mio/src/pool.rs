//! Blocking handles for server calls: a worker pool, or any call an inline
//! handler detaches to a thread of its own.
//!
//! The pool's inline handler keeps each new call on the event loop until it
//! has work (see [`Server::serve_pool`]), then queues it for a worker; one
//! connection's calls hold at most [`Workers::per_connection`] workers.

use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::thread;

use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::{CallId, Event, Request};
use grpc_sansio_service::{
    self as service, pool_exhausted, AsyncRouter, Feed, Pool as Queue, Router, Workers,
};

use crate::event_loop::Link;
use crate::server::{Calls, InlineHandler, Server, ServerHandle};

impl Calls<'_> {
    /// Hands the call to another thread as a blocking [`ServerCall`]; its
    /// events no longer reach the inline handler.
    pub fn detach(&mut self, call: CallId, request: Request) -> ServerCall {
        self.detach_with(call, request, Vec::new())
    }

    /// [`detach`](Self::detach), with the call's events the inline handler
    /// has seen so far put first in the handle's inbox.
    fn detach_with(&mut self, call: CallId, request: Request, events: Vec<Event>) -> ServerCall {
        let (link, origin) = (self.conn.link.clone(), self.conn.origin.clone());
        let session = &mut self.conn.session;
        ServerCall::attach(session, call, request, events, link, origin)
    }
}

impl Server {
    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it) on a pool of `workers`; unknown methods are
    /// answered UNIMPLEMENTED. A unary or server-streaming call goes to a
    /// worker once its whole request has arrived, any other at its first
    /// message or half-close (see [`serve_pool`](Self::serve_pool)).
    pub fn serve_router(
        self,
        addr: impl ToSocketAddrs,
        workers: impl Into<Workers>,
        router: Arc<Router>,
    ) -> io::Result<ServerHandle> {
        let kinds = router.clone();
        let handler = move |call: ServerCall| call.serve(&router);
        self.serve_workers(addr, workers.into(), handler, Some(kinds), None)
    }

    /// Binds to `addr` and serves both routers, per method: a call to a
    /// method of `inline` (async; generated code registers into it with
    /// `register_async`) runs as a task on the event loop that read it, every
    /// other call goes to the `workers` and `pool` (blocking; `register`),
    /// as [`serve_router`](Self::serve_router) runs them; `pool` answers
    /// unknown methods UNIMPLEMENTED.
    ///
    /// Inline handlers must not block: they run on the event loop. A method
    /// that may block belongs in `pool`.
    pub fn serve_routers(
        self,
        addr: impl ToSocketAddrs,
        workers: impl Into<Workers>,
        pool: Arc<Router>,
        inline: Arc<AsyncRouter>,
    ) -> io::Result<ServerHandle> {
        let kinds = pool.clone();
        let handler = move |call: ServerCall| call.serve(&pool);
        self.serve_workers(addr, workers.into(), handler, Some(kinds), Some(inline))
    }

    /// Binds to `addr` and runs `handler` on a pool of worker threads, one
    /// call at a time each, with blocking [`ServerCall`] handles. `workers` is
    /// their number, or [`Workers`] with the queue bound and the
    /// per-connection cap too.
    ///
    /// A call goes to a worker only once it has work: the event loop holds a
    /// new call until its first message or half-close (the handler declares
    /// no method kinds; [`serve_router`](Self::serve_router) waits for the
    /// whole request of unary and server-streaming methods), so a peer that
    /// opens calls and sends nothing holds no worker. One connection's calls
    /// hold at most [`Workers::per_connection`] workers (default half); its
    /// other calls wait behind other connections' calls. Past
    /// [`Workers::queue`] waiting calls a new call is answered
    /// RESOURCE_EXHAUSTED from the loop. A call that ends while it waits
    /// (cancelled, its deadline passed) takes no worker.
    ///
    /// The loop returns a message's flow-control credit when it holds the
    /// message (at most two per call), so such a call's peer may get that
    /// many messages ahead of its handler.
    pub fn serve_pool(
        self,
        addr: impl ToSocketAddrs,
        workers: impl Into<Workers>,
        handler: impl Fn(ServerCall) + Send + Sync + 'static,
    ) -> io::Result<ServerHandle> {
        self.serve_workers(addr, workers.into(), handler, None, None)
    }

    /// [`serve_pool`](Self::serve_pool), but calls to the methods of `inline`
    /// are tasks on the loop.
    fn serve_workers(
        self,
        addr: impl ToSocketAddrs,
        workers: Workers,
        handler: impl Fn(ServerCall) + Send + Sync + 'static,
        kinds: Option<Arc<Router>>,
        inline: Option<Arc<AsyncRouter>>,
    ) -> io::Result<ServerHandle> {
        // A call that ended while it waited (cancelled, past its deadline,
        // its connection gone) takes no worker.
        let alive = |call: &mut ServerCall| !call.is_cancelled();
        let queue = Arc::new(Queue::new(workers, alive));
        let pool = Pool {
            feed: Feed::new(queue.clone()),
            closer: Arc::new(Closer(queue.clone())),
            kinds,
            inline,
        };
        let mut handle = self.serve(addr, pool)?;
        let handler = Arc::new(handler);
        for _ in 0..workers.count() {
            let (queue, handler) = (queue.clone(), handler.clone());
            // A panicking handler's call ends with UNKNOWN (its drop).
            let worker = move || queue.work(|call| handler(call));
            handle.threads.push(thread::spawn(worker));
        }
        Ok(handle)
    }
}

/// Closes the pool's queue when dropped: the inline handlers share it, so the
/// workers return once the loops (and their connections) are gone.
struct Closer(Arc<Queue<ServerCall>>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The inline handler of the worker pool, one per connection: it holds each
/// new call until it has work, then queues it for a worker.
struct Pool {
    /// This connection's way into the queue.
    feed: Feed<ServerCall>,
    closer: Arc<Closer>,
    /// Says each method's kind (none for a plain handler).
    kinds: Option<Arc<Router>>,
    /// Methods served as tasks on the loop instead.
    inline: Option<Arc<AsyncRouter>>,
}

/// Each connection gets a handler of its own: its own feed (gate and key).
impl Clone for Pool {
    fn clone(&self) -> Pool {
        Pool {
            feed: Feed::new(self.closer.0.clone()),
            closer: self.closer.clone(),
            kinds: self.kinds.clone(),
            inline: self.inline.clone(),
        }
    }
}

impl InlineHandler for Pool {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        // A task on the loop holds no worker: it starts at once.
        let event = match (event, &self.inline) {
            (Event::CallStarted { call, request }, Some(router))
                if router.method_kind(&request.path).is_some() =>
            {
                let router = router.clone();
                calls.spawn(call, request, |call| async move {
                    call.serve(&router).await;
                });
                return;
            }
            (event, _) => event,
        };
        let kinds = self.kinds.as_deref();
        let kind = |request: &Request| kinds?.method_kind(&request.path);
        let detach = |call, request, events| calls.detach_with(call, request, events);
        if let Some(refused) = self.feed.on_event(event, kind, detach) {
            let _ = calls.finish(refused, &pool_exhausted(), &Metadata::new());
        }
    }

    fn turn_done(&mut self) {
        self.feed.turn_done();
    }
}

/// The server side of one call as a blocking handle, for a worker thread.
///
/// Dropping it without [`finish`](service::ServerCall::finish) ends the call
/// with UNKNOWN.
pub type ServerCall = service::ServerCall<Link>;
