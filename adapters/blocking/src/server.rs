//! The blocking server: an accept thread, a thread per connection, and a
//! thread per call running the handler.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use grpc_sansio::grpc::{Config, Connection};
use grpc_sansio::service::{self, Origin, Router};

use crate::driver::{self, Input, Link};

/// A call handler: a plain function run on its own thread for each call.
pub trait Handler: Fn(ServerCall) + Send + Sync + 'static {}
impl<F: Fn(ServerCall) + Send + Sync + 'static> Handler for F {}

/// How to wake a blocked accept: connect to ourselves.
enum Waker {
    Tcp(SocketAddr),
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

/// A connection thread and its input channel.
type ConnectionThread = (Sender<Input>, JoinHandle<()>);

/// A running server. [`shutdown`](Server::shutdown) drains it gracefully.
pub struct Server {
    local: String,
    waker: Waker,
    stopping: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<ConnectionThread>>>,
    accept: Option<JoinHandle<()>>,
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
        Ok(Self::serve(
            accept,
            local_addr.to_string(),
            Waker::Tcp(local_addr),
            config,
            handler,
        ))
    }

    /// Binds to a unix domain socket at `path` and serves every call with `handler`.
    #[cfg(unix)]
    pub fn bind_unix(
        path: impl AsRef<std::path::Path>,
        config: Config,
        handler: impl Handler,
    ) -> io::Result<Server> {
        let path = path.as_ref().to_path_buf();
        let listener = std::os::unix::net::UnixListener::bind(&path)?;
        let accept = move || {
            let (socket, _) = listener.accept()?;
            Ok((socket, "unix".to_owned()))
        };
        Ok(Self::serve(
            accept,
            path.display().to_string(),
            Waker::Unix(path),
            config,
            handler,
        ))
    }

    fn serve<T: driver::Transport>(
        mut accept: impl FnMut() -> io::Result<(T, String)> + Send + 'static,
        local: String,
        waker: Waker,
        config: Config,
        handler: impl Handler,
    ) -> Server {
        let stopping = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<dyn Fn(ServerCall) + Send + Sync> = Arc::new(handler);
        let accept = {
            let (stopping, connections, local) =
                (stopping.clone(), connections.clone(), local.clone());
            thread::spawn(move || loop {
                let accepted = accept();
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok((socket, peer)) = accepted else {
                    continue;
                };
                let entry =
                    serve_connection(socket, local.clone(), peer, config.clone(), handler.clone());
                let mut list = connections.lock().expect("connection list");
                list.retain(|(_, h): &ConnectionThread| !h.is_finished());
                list.push(entry);
            })
        };
        Server {
            local,
            waker,
            stopping,
            connections,
            accept: Some(accept),
        }
    }

    /// The TCP address the server listens on (unspecified for a unix socket).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.waker {
            Waker::Tcp(addr) => *addr,
            #[cfg(unix)]
            Waker::Unix(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Where the server listens, as text (an address or a socket path).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// Graceful shutdown: no new connections or calls; calls in flight finish
    /// (GOAWAY, PING, final GOAWAY), then every thread is joined.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop with a connection of our own.
        match &self.waker {
            Waker::Tcp(addr) => drop(TcpStream::connect(addr)),
            #[cfg(unix)]
            Waker::Unix(path) => drop(std::os::unix::net::UnixStream::connect(path)),
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let connections = std::mem::take(&mut *self.connections.lock().expect("connection list"));
        for (tx, _) in &connections {
            let _ = tx.send(Input::Shutdown);
        }
        for (_, handle) in connections {
            let _ = handle.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.stop();
        }
    }
}

/// Serves one connection on its own thread; returns its input channel and thread.
pub(crate) fn serve_connection<T: driver::Transport>(
    socket: T,
    local: String,
    peer: String,
    config: Config,
    handler: Arc<dyn Fn(ServerCall) + Send + Sync>,
) -> ConnectionThread {
    let (tx, rx) = mpsc::channel();
    let input_tx = tx.clone();
    let handle = thread::spawn(move || {
        let config = Config {
            release_on_poll: false,
            ..config
        };
        let conn = Connection::server(config, Instant::now());
        let calls_tx = input_tx.clone();
        let clock = Arc::new(Instant::now);
        let (peer_addr, local_addr) = (peer, local);
        let origin = Arc::new(Origin {
            peer_addr,
            local_addr,
            clock,
        });
        driver::run(
            conn,
            socket,
            rx,
            input_tx,
            |call, request, inbox, cancel| {
                let link = Link(calls_tx.clone());
                let call = ServerCall::new(call, request, link, inbox, origin.clone(), cancel);
                let handler = handler.clone();
                thread::spawn(move || handler(call));
            },
        );
    });
    (tx, handle)
}

/// The server side of one call, handed to the handler on its own thread.
///
/// Dropping it without [`finish`](service::ServerCall::finish) ends the call
/// with UNKNOWN.
pub type ServerCall = service::ServerCall<Link>;
