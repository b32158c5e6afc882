//! The blocking server: an accept thread, a thread per connection, and a
//! thread per call running the handler.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use grpc_sansio::grpc::Config;
use grpc_sansio::service::{self, Origin, Router, Session};

use crate::driver::{self, ConnectionThread, Input, Link, Transport};

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

/// A call handler: a plain function run on its own thread for each call.
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
}

impl Server {
    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it); unknown methods are answered UNIMPLEMENTED.
    pub fn bind_router(
        addr: impl ToSocketAddrs,
        config: Config,
        router: Arc<Router>,
    ) -> io::Result<Server> {
        Self::bind(addr, config, move |call: ServerCall| call.serve(&router))
    }

    /// Binds to `addr` and serves every call with `handler`.
    pub fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        handler: impl Handler,
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
        let server = Self::serve(accept, wake, local_addr, local, config, handler);
        Ok(server)
    }

    /// Binds to a unix domain socket at `path` (which must not exist yet) and
    /// serves every call with `handler`; the socket file is removed at shutdown.
    #[cfg(unix)]
    pub fn bind_unix(
        path: impl AsRef<std::path::Path>,
        config: Config,
        handler: impl Handler,
    ) -> io::Result<Server> {
        use std::os::unix::net::{UnixListener, UnixStream};
        let path = path.as_ref().to_path_buf();
        let listener = UnixSocket(UnixListener::bind(&path)?, path.clone());
        let accept = move || Ok((listener.0.accept()?.0, "unix".to_owned()));
        let local = path.display().to_string();
        let wake = move || drop(UnixStream::connect(&path));
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let server = Self::serve(accept, wake, unspecified, local, config, handler);
        Ok(server)
    }

    fn serve<T: Transport>(
        accept: impl FnMut() -> io::Result<(T, String)> + Send + 'static,
        wake: impl Fn() + Send + Sync + 'static,
        local_addr: SocketAddr,
        local: String,
        config: Config,
        handler: impl Handler,
    ) -> Server {
        let stopping = Arc::new(AtomicBool::new(false));
        let accept = {
            let (stopping, local) = (stopping.clone(), local.clone());
            thread::spawn(move || accept_loop(accept, &stopping, &local, &config, handler))
        };
        Server {
            local,
            local_addr,
            wake: Box::new(wake),
            stopping,
            accept: Some(accept),
        }
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
    /// (GOAWAY, PING, final GOAWAY), then the accept and connection threads
    /// are joined.
    pub fn shutdown(self) {
        drop(self);
    }

    /// [`shutdown`](Self::shutdown), but connections still open after `grace`
    /// (a call that never ends, a peer that stops reading) are closed: their
    /// calls end (CANCELLED for handlers, UNAVAILABLE for clients).
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
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(None);
    }
}

/// Serves each accepted connection on its own thread, and each call on a
/// thread of its own, until the server stops; returns the connection threads.
fn accept_loop<T: Transport>(
    mut accept: impl FnMut() -> io::Result<(T, String)>,
    stopping: &AtomicBool,
    local: &str,
    config: &Config,
    handler: impl Handler,
) -> Vec<ConnectionThread> {
    let handler = Arc::new(handler);
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
            peer_addr,
            local_addr: local.to_owned(),
            clock: Arc::new(Instant::now),
        });
        let handler = handler.clone();
        let on_call = move |call, request, link, inbox, cancel| {
            let call = ServerCall::new(call, request, link, inbox, origin.clone(), cancel);
            let handler = handler.clone();
            thread::spawn(move || handler(call));
        };
        connections.retain(|(_, thread, _)| !thread.is_finished());
        let session = Session::server(config.clone(), Instant::now());
        connections.push(driver::spawn(socket, session, on_call));
    }
}

/// The server side of one call, handed to the handler on its own thread.
///
/// Dropping it without [`finish`](service::ServerCall::finish) ends the call
/// with UNKNOWN.
pub type ServerCall = service::ServerCall<Link>;
