//! The server: event-loop threads sharing one listener, running inline
//! handlers.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::ops::{Deref, DerefMut};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use grpc_sansio::grpc::{Config, Connection, Event};

use crate::event_loop::{Cmd, Conn, EventLoop, Remote, Tasks};

/// A handler run on the event-loop thread; each connection gets its own clone
/// of the one given to [`Server::serve`].
///
/// It must not block: it answers through [`Calls`] on the spot,
/// [`spawn`](Calls::spawn)s a task on the loop for the call, or
/// [`detach`](Calls::detach)es it to another thread. A message it is
/// given counts as consumed (its flow-control credit goes back with this
/// turn's output). It may still see events of a call it has just finished
/// (queued before): ignore calls it does not know.
pub trait InlineHandler: Send + 'static {
    /// Acts on one event of this connection.
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event);

    /// The loop's turn is over: what this connection read has been acted on
    /// and its answers written. Work handed elsewhere in a burst may be
    /// set going now (the worker pool wakes its workers here).
    fn turn_done(&mut self) {}
}

/// The connection an [`InlineHandler`] runs on. It dereferences to the
/// engine's [`Connection`], whose call methods answer without blocking
/// (`send_headers`, `send_message`, `finish`, `cancel`, `send_capacity`; on
/// [`CallError::Full`](grpc_sansio::grpc::CallError::Full) keep the message
/// and retry on [`Event::Writable`]). The loop owns the driving methods
/// (`receive`, `poll_*`, `handle_timeout`): a handler leaves them alone.
pub struct Calls<'a> {
    pub(crate) conn: &'a mut Conn,
    /// The loop's tasks, for calls [`spawn`](Calls::spawn)ed on it.
    pub(crate) tasks: &'a mut Tasks,
}

impl Calls<'_> {
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.conn.peer
    }

    /// Our address.
    pub fn local_addr(&self) -> SocketAddr {
        self.conn.local
    }
}

impl Deref for Calls<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.session.connection()
    }
}

impl DerefMut for Calls<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.session.connection_mut()
    }
}

/// Server settings; a `serve_*` method starts it, and chooses where the
/// handlers run: on the event loops ([`serve_router_inline`](Self::serve_router_inline),
/// [`serve_async`](Self::serve_async), [`serve`](Self::serve)), where they
/// must not block, or on a worker pool ([`serve_router`](Self::serve_router),
/// [`serve_pool`](Self::serve_pool)), or per method
/// ([`serve_routers`](Self::serve_routers)).
pub struct Server {
    config: Config,
    threads: usize,
}

impl Server {
    /// A server with one event-loop thread.
    pub fn new(config: Config) -> Server {
        Server { config, threads: 1 }
    }

    /// Runs `n` event-loop threads, all accepting from one listener.
    pub fn threads(mut self, n: usize) -> Server {
        self.threads = n.max(1);
        self
    }

    /// Binds to `addr` and runs `handler` inline on the event loops.
    pub fn serve<H: InlineHandler + Clone>(
        self,
        addr: impl ToSocketAddrs,
        handler: H,
    ) -> io::Result<ServerHandle> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let mut handle = ServerHandle {
            local_addr: listener.local_addr()?,
            loops: Vec::new(),
            threads: Vec::new(),
        };
        for _ in 0..self.threads {
            let listener = mio::net::TcpListener::from_std(listener.try_clone()?);
            let handler = handler.clone();
            let new_handler = Box::new(move || Box::new(handler.clone()) as _);
            let event_loop = EventLoop::new(self.config.clone(), Some((listener, new_handler)))?;
            let (remote, thread) = event_loop.spawn()?;
            handle.loops.push(remote);
            handle.threads.push(thread);
        }
        Ok(handle)
    }
}

/// A running server. Dropping it is a graceful [`shutdown`](Self::shutdown).
pub struct ServerHandle {
    local_addr: SocketAddr,
    loops: Vec<Remote>,
    /// The loops' threads, then the worker pool's.
    pub(crate) threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Graceful shutdown: no new connections or calls; every connection sends
    /// GOAWAY and closes once its calls finish; then every thread is joined.
    /// A peer that stops reading, or a call that never ends, holds it:
    /// [`shutdown_timeout`](Self::shutdown_timeout) bounds the wait.
    pub fn shutdown(mut self) {
        self.stop(None);
    }

    /// [`shutdown`](Self::shutdown), but connections still open after `grace`
    /// are closed: their calls end (CANCELLED for handlers, UNAVAILABLE for
    /// clients).
    pub fn shutdown_timeout(mut self, grace: Duration) {
        self.stop(Some(Instant::now() + grace));
    }

    fn stop(&mut self, deadline: Option<Instant>) {
        for remote in self.loops.drain(..) {
            remote.send(Cmd::Shutdown(deadline));
        }
        // Once the loops are gone, and with them the pool's queue, workers return.
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop(None);
    }
}
