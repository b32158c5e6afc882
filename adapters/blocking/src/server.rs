//! The blocking server: an accept thread, a thread per connection, and a
//! bounded pool of worker threads running the handler, one call at a time
//! each; or async handlers polled as tasks on the connection's thread.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::{Config, Event};
use grpc_sansio::session::Session;
use grpc_sansio_service::{
    self as service, pool_exhausted, AsyncRouter, BoxFuture, Feed, LocalLink, Origin, Pool, Router,
    Workers,
};

use crate::driver::{
    self, CallInbox, Conn, ConnectionThread, Input, Link, OnEvent, Tasks, Transport,
};

/// A unix socket listener that removes its file when dropped (the accept
/// thread owns it), as grpc-go's does.
#[cfg(unix)]
struct UnixSocket(std::os::unix::net::UnixListener, std::path::PathBuf);

#[cfg(unix)]
impl Drop for UnixSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.1);
    }
}

/// A call handler: a plain function a worker thread runs for each call.
pub trait Handler: Fn(ServerCall) + Send + Sync + 'static {}
impl<F: Fn(ServerCall) + Send + Sync + 'static> Handler for F {}

/// A running server. [`shutdown`](Server::shutdown) drains it gracefully, as
/// does dropping it.
pub struct Server {
    local: String,
    local_addr: SocketAddr,
    /// Wakes the blocked accept with a connection of our own.
    wake: Box<dyn Fn() + Send + Sync>,
    stopping: Arc<AtomicBool>,
    /// The accept thread; it returns the connection threads it started.
    accept: Option<JoinHandle<Vec<ConnectionThread>>>,
    pool: Arc<Pool<ServerCall>>,
    workers: Vec<JoinHandle<()>>,
}

/// A server's settings before it binds: [`Server::builder`].
///
/// Handlers run on a pool of worker threads, one call at a time each, never a
/// thread per call. A call goes to a worker only once it has work (unary and
/// server-streaming calls of a router's methods once their whole request has
/// arrived; other calls, and every call of a plain handler, at their first
/// message or half-close), so a peer that opens calls and sends nothing holds
/// no worker. One connection's calls hold at most
/// [`Workers::per_connection`] workers; its other calls wait behind other
/// connections' calls. Past [`Workers::queue`] waiting calls, a new call is
/// answered RESOURCE_EXHAUSTED at once.
///
/// ```no_run
/// use grpc_sansio::grpc::{metadata::Metadata, status::Status, Config};
/// use grpc_sansio_blocking::{Server, Workers};
///
/// let server = Server::builder(Config::server())
///     .workers(Workers::new(16).queue(256).per_connection(4))
///     .bind("127.0.0.1:0", |call| call.finish(Status::ok(), Metadata::new()))?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Or calls run inline, as tasks polled on the thread of the connection that
/// read them, with no thread hop ([`bind_router_inline`](Self::bind_router_inline)),
/// or per method ([`bind_routers`](Self::bind_routers)). Inline handlers must
/// not block: they run on the connection's thread; a method that may block
/// belongs on the pool.
#[derive(Debug, Clone)]
pub struct Builder {
    config: Config,
    workers: Workers,
}

impl Builder {
    /// The worker pool's sizes: a number of workers, or [`Workers`] with the
    /// queue bound and the per-connection cap too. Default
    /// [`Workers::default`]: four per core, a queue of
    /// [`Workers::DEFAULT_QUEUE`] calls, half the workers per connection.
    pub fn workers(mut self, workers: impl Into<Workers>) -> Builder {
        self.workers = workers.into();
        self
    }

    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it); unknown methods are answered UNIMPLEMENTED.
    pub fn bind_router(self, addr: impl ToSocketAddrs, router: Arc<Router>) -> io::Result<Server> {
        let kinds = router.clone();
        let handler = move |call: ServerCall| call.serve(&router);
        self.bind_tcp(addr, handler, Routes::pool(kinds))
    }

    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it with `register_async`) on the connections' threads
    /// themselves, each call a task polled on the thread of the connection
    /// that read it: no thread hop, and every call a read brings that can be
    /// answered at once is answered in that turn's one write. Unknown methods
    /// are answered UNIMPLEMENTED. No worker thread is started.
    ///
    /// Inline handlers must not block: they run on the connection's thread; a
    /// method that may block belongs on the pool
    /// ([`bind_router`](Self::bind_router), [`bind_routers`](Self::bind_routers)).
    pub fn bind_router_inline(
        self,
        addr: impl ToSocketAddrs,
        router: Arc<AsyncRouter>,
    ) -> io::Result<Server> {
        self.bind_async(addr, move |call: AsyncServerCall| {
            let router = router.clone();
            async move { call.serve(&router).await }
        })
    }

    /// Binds to `addr` and runs `handler` for each call as a task polled on
    /// the thread of the connection that read it: no thread hop, and every
    /// call a read brings that can be answered at once is answered in that
    /// turn's one write. No worker thread is started.
    ///
    /// Inline handlers must not block: they run on the connection's thread; a
    /// method that may block belongs on the pool ([`bind`](Self::bind)).
    pub fn bind_async(
        self,
        addr: impl ToSocketAddrs,
        handler: impl AsyncHandler<LocalLink<()>>,
    ) -> io::Result<Server> {
        let spawn: Spawn = Arc::new(move |call| Box::pin(handler.call(call)));
        let routes = Routes {
            inline: Inline::Every(spawn),
            ..Routes::default()
        };
        self.bind_tcp(addr, |_: ServerCall| {}, routes)
    }

    /// Binds to `addr` and serves both routers, per method: a call to a
    /// method of `inline` (async; generated code registers into it with
    /// `register_async`) runs as a task on its connection's thread, every
    /// other call goes to the worker pool and `pool` (blocking; `register`),
    /// as [`bind_router`](Self::bind_router) runs them; `pool` answers
    /// unknown methods UNIMPLEMENTED.
    ///
    /// Inline handlers must not block: they run on the connection's thread; a
    /// method that may block belongs in `pool`.
    pub fn bind_routers(
        self,
        addr: impl ToSocketAddrs,
        pool: Arc<Router>,
        inline: Arc<AsyncRouter>,
    ) -> io::Result<Server> {
        let kinds = pool.clone();
        let handler = move |call: ServerCall| call.serve(&pool);
        let routes = Routes {
            inline: Inline::Methods(inline),
            ..Routes::pool(kinds)
        };
        self.bind_tcp(addr, handler, routes)
    }

    /// Binds to `addr` and serves every call with `handler`.
    pub fn bind(self, addr: impl ToSocketAddrs, handler: impl Handler) -> io::Result<Server> {
        self.bind_tcp(addr, handler, Routes::default())
    }

    fn bind_tcp(
        self,
        addr: impl ToSocketAddrs,
        handler: impl Handler,
        routes: Routes,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let accept = move || {
            let (socket, peer) = listener.accept()?;
            let _ = socket.set_nodelay(true);
            Ok((socket, peer.to_string()))
        };
        let wake = move || drop(TcpStream::connect(local_addr));
        let local = local_addr.to_string();
        self.serve(accept, wake, local_addr, local, handler, routes)
    }

    /// Binds to a unix domain socket at `path` (which must not exist yet) and
    /// serves every call with `handler`; the socket file is removed at shutdown.
    #[cfg(unix)]
    pub fn bind_unix(
        self,
        path: impl AsRef<std::path::Path>,
        handler: impl Handler,
    ) -> io::Result<Server> {
        use std::os::unix::net::{UnixListener, UnixStream};
        let path = path.as_ref().to_path_buf();
        let listener = UnixSocket(UnixListener::bind(&path)?, path.clone());
        let accept = move || Ok((listener.0.accept()?.0, "unix".to_owned()));
        let local = path.display().to_string();
        let wake = move || drop(UnixStream::connect(&path));
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        self.serve(accept, wake, unspecified, local, handler, Routes::default())
    }

    fn serve<T: Transport>(
        self,
        accept: impl FnMut() -> io::Result<(T, String)> + Send + 'static,
        wake: impl Fn() + Send + Sync + 'static,
        local_addr: SocketAddr,
        local: String,
        handler: impl Handler,
        routes: Routes,
    ) -> io::Result<Server> {
        // A call that ended while it waited (cancelled, past its deadline,
        // its connection gone) takes no worker.
        let alive = |call: &mut ServerCall| !call.is_cancelled();
        let pool = Arc::new(Pool::new(self.workers, alive));
        let handler = Arc::new(handler);
        // Every call a task: no call ever reaches the pool.
        let count = if matches!(routes.inline, Inline::Every(_)) {
            0
        } else {
            self.workers.count()
        };
        let mut workers = Vec::with_capacity(count);
        for _ in 0..count {
            let (queue, handler) = (pool.clone(), handler.clone());
            let worker = thread::Builder::new()
                .name("grpc-worker".into())
                .spawn(move || queue.work(|call| handler(call)));
            match worker {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    // The ones started return once the pool closes.
                    pool.close();
                    return Err(e);
                }
            }
        }
        let stopping = Arc::new(AtomicBool::new(false));
        let accept = {
            let (stopping, local) = (stopping.clone(), local.clone());
            let accepting = Accepting {
                pool: pool.clone(),
                routes,
                local: local.clone(),
            };
            let config = self.config;
            thread::spawn(move || accept_loop(accept, &stopping, &config, accepting))
        };
        Ok(Server {
            local,
            local_addr,
            wake: Box::new(wake),
            stopping,
            accept: Some(accept),
            pool,
            workers,
        })
    }
}

impl Server {
    /// A server to configure (the worker pool's sizes) before it binds.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            workers: Workers::default(),
        }
    }

    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it) on the default worker pool; unknown methods are
    /// answered UNIMPLEMENTED.
    pub fn bind_router(
        addr: impl ToSocketAddrs,
        config: Config,
        router: Arc<Router>,
    ) -> io::Result<Server> {
        Self::builder(config).bind_router(addr, router)
    }

    /// Binds to `addr` and serves every call with `handler` on the default
    /// worker pool.
    pub fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        handler: impl Handler,
    ) -> io::Result<Server> {
        Self::builder(config).bind(addr, handler)
    }

    /// Binds to a unix domain socket at `path` (which must not exist yet) and
    /// serves every call with `handler` on the default worker pool; the
    /// socket file is removed at shutdown.
    #[cfg(unix)]
    pub fn bind_unix(
        path: impl AsRef<std::path::Path>,
        config: Config,
        handler: impl Handler,
    ) -> io::Result<Server> {
        Self::builder(config).bind_unix(path, handler)
    }

    /// The TCP address the server listens on (unspecified for a unix socket).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the server listens, as text (an address or a socket path).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// Graceful shutdown: no new connections or calls; calls in flight finish
    /// (GOAWAY, PING, final GOAWAY), then the accept, connection and worker
    /// threads are joined.
    pub fn shutdown(self) {
        drop(self);
    }

    /// [`shutdown`](Self::shutdown), but connections still open after `grace`
    /// (a call that never ends, a peer that stops reading) are closed: their
    /// calls end (CANCELLED for handlers, UNAVAILABLE for clients). Workers
    /// still in a handler then are not waited for: each returns once its
    /// handler does.
    pub fn shutdown_timeout(mut self, grace: Duration) {
        self.stop(Some(Instant::now() + grace));
    }

    fn stop(&mut self, cut_at: Option<Instant>) {
        self.stopping.store(true, Ordering::SeqCst);
        (self.wake)();
        let accept = self.accept.take().map(JoinHandle::join);
        let connections = accept.and_then(Result::ok).unwrap_or_default();
        for (tx, _, _) in &connections {
            let _ = tx.send(Input::Shutdown(cut_at));
        }
        // A connection cuts itself at `cut_at`, unless it is stuck writing to
        // a peer that stopped reading: that one's socket is cut from here.
        for (_, thread, socket) in connections {
            while cut_at.is_some_and(|at| Instant::now() < at) && !thread.is_finished() {
                thread::sleep(Duration::from_millis(5));
            }
            // A connection that closed shut its socket already: cutting it again is harmless.
            if let Some(socket) = socket.upgrade().filter(|_| cut_at.is_some()) {
                socket.shutdown();
            }
            let _ = thread.join();
        }
        // No connection is left to serve: the workers return once their
        // calls are over (waited for unless the shutdown was bounded).
        self.pool.close();
        for worker in self.workers.drain(..) {
            if cut_at.is_none() {
                let _ = worker.join();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(None);
    }
}

/// A call handler run as a task polled on the thread of the connection that
/// read the call: while it runs, that connection's thread serves nothing
/// else, so it must not block.
pub use grpc_sansio_service::AsyncHandler;

/// An async handler, its future boxed.
type Spawn = Arc<dyn Fn(AsyncServerCall) -> BoxFuture<'static, ()> + Send + Sync>;

/// Which calls are tasks on their connection's thread.
#[derive(Default, Clone)]
enum Inline {
    /// None: every call goes to the pool.
    #[default]
    None,
    /// The calls to this router's methods.
    Methods(Arc<AsyncRouter>),
    /// Every call: the pool serves nothing.
    Every(Spawn),
}

/// Where a server's calls run.
#[derive(Default, Clone)]
struct Routes {
    /// Says each pooled method's kind (none for a plain handler).
    kinds: Option<Arc<Router>>,
    inline: Inline,
}

impl Routes {
    fn pool(kinds: Arc<Router>) -> Routes {
        Routes {
            kinds: Some(kinds),
            ..Routes::default()
        }
    }

    /// Whether a call to `path` is a task on its connection's thread.
    fn is_inline(&self, path: &str) -> bool {
        match &self.inline {
            Inline::None => false,
            Inline::Methods(router) => router.method_kind(path).is_some(),
            Inline::Every(_) => true,
        }
    }

    /// The future serving an inline call.
    fn serve(&self, call: AsyncServerCall) -> BoxFuture<'static, ()> {
        match &self.inline {
            Inline::Methods(router) => {
                let router = router.clone();
                Box::pin(async move { call.serve(&router).await })
            }
            Inline::Every(spawn) => spawn(call),
            // Not inline: dropped, the call ends with UNKNOWN.
            Inline::None => Box::pin(async {}),
        }
    }
}

/// What every connection of a server shares: the worker pool, where calls
/// run, our address.
struct Accepting {
    pool: Arc<Pool<ServerCall>>,
    routes: Routes,
    local: String,
}

/// Serves each accepted connection on its own thread, its calls on the
/// worker pool, until the server stops; returns the connection threads.
fn accept_loop<T: Transport>(
    mut accept: impl FnMut() -> io::Result<(T, String)>,
    stopping: &AtomicBool,
    config: &Config,
    accepting: Accepting,
) -> Vec<ConnectionThread> {
    let mut connections = Vec::new();
    loop {
        let accepted = accept();
        if stopping.load(Ordering::SeqCst) {
            return connections;
        }
        let Ok((socket, peer_addr)) = accepted else {
            // Out of descriptors, most likely: give it a moment, not a spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let origin = Arc::new(Origin {
            peer_addr: peer_addr.into(),
            local_addr: accepting.local.clone().into(),
            clock: Arc::new(Instant::now),
        });
        let calls = Calls {
            feed: Feed::new(accepting.pool.clone()),
            routes: accepting.routes.clone(),
            origin,
        };
        connections.retain(|(_, thread, _)| !thread.is_finished());
        let session = Session::server(config.clone(), Instant::now());
        connections.push(driver::spawn(socket, session, calls));
    }
}

/// One connection's way of handing its calls to the worker pool.
struct Calls {
    /// This connection's way into the pool.
    feed: Feed<ServerCall>,
    routes: Routes,
    origin: Arc<Origin>,
}

impl OnEvent for Calls {
    /// On the connection thread: starts a task for a new call of an inline
    /// method; holds any other new call's events until it has work, then
    /// queues it for a worker, or answers RESOURCE_EXHAUSTED.
    fn on_event(&mut self, session: &mut Conn, event: Event, link: &Link, tasks: &mut Tasks) {
        let event = match event {
            // A task holds no worker: it starts at once.
            Event::CallStarted { call, request } if self.routes.is_inline(&request.path) => {
                let (local, inbox) = tasks.link(());
                let cancel = session.attach(call, CallInbox::Task(inbox));
                let origin = self.origin.clone();
                let call = AsyncServerCall::new(call, request, local, origin, cancel);
                return tasks.spawn(self.routes.serve(call));
            }
            event => event,
        };
        let kinds = self.routes.kinds.as_deref();
        let kind = |request: &grpc_sansio::grpc::Request| kinds?.method_kind(&request.path);
        let origin = &self.origin;
        let attach = |call, request, events| {
            ServerCall::attach(session, call, request, events, link.clone(), origin.clone())
        };
        if let Some(refused) = self.feed.on_event(event, kind, attach) {
            let _ = session
                .connection_mut()
                .finish(refused, &pool_exhausted(), &Metadata::new());
        }
    }

    fn turn_done(&mut self) {
        self.feed.turn_done();
    }
}

/// The server side of one call, handed to the handler on its own thread.
///
/// Dropping it without [`finish`](service::ServerCall::finish) ends the call
/// with UNKNOWN.
pub type ServerCall = service::ServerCall<Link>;

/// The server side of one call as an async handle, for a task polled on its
/// connection's thread ([`Builder::bind_router_inline`], [`Builder::bind_routers`]).
///
/// Dropping it without [`finish`](service::AsyncServerCall::finish) ends the
/// call with UNKNOWN.
pub type AsyncServerCall = service::AsyncServerCall<LocalLink<()>>;
