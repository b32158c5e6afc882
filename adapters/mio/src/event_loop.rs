//! The event loop: one `mio::Poll`, an optional listener, connections keyed by
//! token, and a command channel with a `Waker` for other threads. It moves
//! bytes, time and commands in and out of the engine; no protocol decisions
//! live here.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Config, Connection, Event};
use grpc_sansio::service::handle::SendDone;
use grpc_sansio::service::{self, Clock, Command, Origin, Switchboard};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::server::{Calls, InlineHandler};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// With this many octets unwritten, `poll_transmit` waits: a slow reader
/// pushes back on the engine's bounded queues instead of growing the buffer.
const HIGH_WATER: usize = 256 << 10;

/// Makes the inline handler of each new server connection.
pub(crate) type Factory = Box<dyn FnMut() -> Box<dyn InlineHandler> + Send>;

/// Work handed to a loop by another thread.
pub(crate) enum Cmd {
    /// A client call on a connection, and where to answer with its inbox.
    Start(
        Token,
        CallOptions,
        Sender<Result<(CallId, Receiver<Event>), Status>>,
    ),
    /// A call handle's command.
    Call(Token, Command<SendDone>),
    /// Graceful shutdown; connections still open at the instant are cut.
    Shutdown(Option<Instant>),
}

/// The way into a loop from any thread.
#[derive(Clone)]
pub(crate) struct Remote {
    tx: Sender<Cmd>,
    waker: Arc<Waker>,
}

impl Remote {
    pub(crate) fn send(&self, cmd: Cmd) -> bool {
        self.tx.send(cmd).is_ok() && self.waker.wake().is_ok()
    }
}

/// A call handle's way to its event loop and connection.
pub struct Link {
    pub(crate) remote: Remote,
    pub(crate) token: Token,
}

impl service::Link for Link {
    type Done = SendDone;
    fn command(&self, command: Command<SendDone>) -> bool {
        self.remote.send(Cmd::Call(self.token, command))
    }
}

/// What a handler may know of its connection.
pub(crate) struct Info {
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) token: Token,
    pub(crate) remote: Remote,
    pub(crate) origin: Arc<Origin>,
}

/// Calls driven by blocking handles on other threads.
pub(crate) type Handles = Switchboard<Sender<Event>, SendDone>;

struct Conn {
    socket: TcpStream,
    engine: Connection,
    /// Unwritten output from `out[pos..]`.
    out: Vec<u8>,
    pos: usize,
    /// Writing failed or was given up: output is discarded.
    broken: bool,
    handles: Handles,
    inline: Option<Box<dyn InlineHandler>>,
    info: Info,
}

impl Conn {
    /// Reads until WouldBlock (the poll is edge-triggered).
    fn read(&mut self, now: Instant, buf: &mut [u8]) {
        loop {
            match self.socket.read(buf) {
                // A connection error queues GOAWAY; `drive` flushes it.
                Ok(n) if n > 0 => drop(self.engine.receive(now, &buf[..n])),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => return self.engine.transport_closed(),
            }
        }
    }

    /// Writes until done or WouldBlock; says whether anything changed.
    fn flush(&mut self) -> bool {
        let before = (self.pos, self.broken);
        while !self.broken && self.pos < self.out.len() {
            match self.socket.write(&self.out[self.pos..]) {
                Ok(n) if n > 0 => self.pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => {
                    self.broken = true;
                    self.engine.transport_closed();
                }
            }
        }
        let changed = before != (self.pos, self.broken);
        if self.broken || self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
        }
        changed
    }

    /// Hands the engine's events to the handles and the inline handler.
    fn dispatch(&mut self) {
        while let Some(event) = self.handles.poll_event(&mut self.engine) {
            let Some(handler) = &mut self.inline else {
                continue;
            };
            let consumed = match &event {
                Event::Message { call, .. } => Some(*call),
                _ => None,
            };
            let mut calls = Calls {
                engine: &mut self.engine,
                handles: &mut self.handles,
                info: &self.info,
            };
            // A handler that panics loses its connection, not the loop.
            if catch_unwind(AssertUnwindSafe(|| handler.on_event(&mut calls, event))).is_err() {
                self.inline = None;
                self.broken = true;
                self.engine.transport_closed();
            }
            // The inline handler took the message: its credit goes back.
            if let Some(call) = consumed {
                self.engine.message_consumed(call);
            }
        }
    }
}

/// One event-loop thread's state.
pub(crate) struct EventLoop {
    poll: Poll,
    rx: Receiver<Cmd>,
    remote: Remote,
    listener: Option<TcpListener>,
    factory: Option<Factory>,
    config: Config,
    clock: Arc<dyn Clock>,
    conns: HashMap<Token, Conn>,
    /// Tokens are never reused, so a stale handle cannot reach a new connection.
    next: usize,
    /// Shutting down, with the instant to cut the connections still open.
    drain: Option<Option<Instant>>,
}

impl EventLoop {
    pub(crate) fn new(
        config: Config,
        mut listener: Option<TcpListener>,
        factory: Option<Factory>,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        if let Some(l) = &mut listener {
            poll.registry().register(l, LISTENER, Interest::READABLE)?;
        }
        let (tx, rx) = mpsc::channel();
        Ok(EventLoop {
            poll,
            rx,
            remote: Remote { tx, waker },
            listener,
            factory,
            // Handles take messages later than `poll_event`: they say when.
            config: Config {
                release_on_poll: false,
                ..config
            },
            clock: Arc::new(Instant::now),
            conns: HashMap::new(),
            next: 2,
            drain: None,
        })
    }

    /// Adds a connected socket, as a server or a client connection.
    pub(crate) fn add(&mut self, mut socket: TcpStream, server: bool) -> io::Result<Token> {
        let token = Token(self.next);
        self.next += 1;
        let _ = socket.set_nodelay(true);
        let (peer, local) = (socket.peer_addr()?, socket.local_addr()?);
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(&mut socket, token, interest)?;
        let (config, now) = (self.config.clone(), Instant::now());
        let engine = match server {
            true => Connection::server(config, now),
            false => Connection::client(config, now),
        };
        let remote = self.remote.clone();
        let conn = Conn {
            inline: self.factory.as_mut().filter(|_| server).map(|f| f()),
            info: Info {
                peer,
                local,
                token,
                remote,
                origin: Arc::new(Origin {
                    peer_addr: peer.to_string(),
                    local_addr: local.to_string(),
                    clock: self.clock.clone(),
                }),
            },
            socket,
            engine,
            out: Vec::with_capacity(64 << 10),
            pos: 0,
            broken: false,
            handles: Handles::default(),
        };
        self.conns.insert(token, conn);
        self.drive(token);
        Ok(token)
    }

    /// Runs the loop on its own thread.
    pub(crate) fn spawn(self) -> io::Result<(Remote, JoinHandle<()>)> {
        let remote = self.remote.clone();
        let thread = thread::Builder::new()
            .name("grpc-mio".into())
            .spawn(move || self.run())?;
        Ok((remote, thread))
    }

    /// Runs until shut down (server) or until the connection closes (client).
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut rbuf = vec![0u8; 64 << 10];
        let mut touched = Vec::new();
        while self.listener.is_some() || !self.conns.is_empty() {
            let timers = self.conns.values().filter_map(|c| c.engine.poll_timeout());
            let next = timers.chain(self.drain.flatten()).min();
            let timeout = next.map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    return;
                }
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    token => {
                        if let Some(c) = self.conns.get_mut(&token) {
                            if event.is_readable() || event.is_read_closed() {
                                c.read(now, &mut rbuf);
                            }
                            touched.push(token);
                        }
                    }
                }
            }
            while let Ok(cmd) = self.rx.try_recv() {
                self.command(now, cmd, &mut touched);
            }
            let cut = self.drain.flatten().is_some_and(|d| d <= now);
            for (token, c) in &mut self.conns {
                if cut {
                    c.broken = true;
                    c.engine.transport_closed();
                } else if c.engine.poll_timeout().is_some_and(|t| t <= now) {
                    c.engine.handle_timeout(now);
                } else {
                    continue;
                }
                touched.push(*token);
            }
            touched.sort_unstable();
            touched.dedup();
            for token in touched.drain(..) {
                self.drive(token);
            }
        }
    }

    fn accept(&mut self) {
        while let Some(listener) = &self.listener {
            match listener.accept() {
                Ok((socket, _)) => drop(self.add(socket, true)),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
                Err(_) => return, // WouldBlock, or out of descriptors
            }
        }
    }

    fn command(&mut self, now: Instant, cmd: Cmd, touched: &mut Vec<Token>) {
        match cmd {
            // A connection that is gone drops the input: its handle sees that.
            Cmd::Start(token, options, reply) => {
                let Some(c) = self.conns.get_mut(&token) else {
                    return;
                };
                let (tx, rx) = mpsc::channel();
                let started = c.handles.start_call(&mut c.engine, now, options, tx);
                if let Err(mpsc::SendError(Ok((call, _)))) = reply.send(started.map(|c| (c, rx))) {
                    // The caller stopped waiting: nobody owns the call.
                    c.handles.apply(&mut c.engine, Command::Cancel(call));
                }
                touched.push(token);
            }
            Cmd::Call(token, command) => {
                if let Some(c) = self.conns.get_mut(&token) {
                    c.handles.apply(&mut c.engine, command);
                    touched.push(token);
                }
            }
            Cmd::Shutdown(deadline) => {
                if let Some(mut listener) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut listener);
                }
                self.drain = Some(deadline);
                for (token, c) in &mut self.conns {
                    c.engine.shutdown();
                    touched.push(*token);
                }
            }
        }
    }

    /// Drains events and output; closes the connection once the engine is done.
    fn drive(&mut self, token: Token) {
        let Some(c) = self.conns.get_mut(&token) else {
            return;
        };
        loop {
            c.dispatch();
            if c.pos > 0 {
                c.out.drain(..c.pos);
                c.pos = 0;
            }
            let mut more = false;
            while c.out.len() < HIGH_WATER && c.engine.poll_transmit(&mut c.out) > 0 {
                more = true;
            }
            // New output may bring `Writable` events, written output room for
            // more, a failed write the calls' ends: go round until nothing moves.
            if !c.flush() && !more {
                break;
            }
        }
        // Both interests stay registered: edge-triggered, WRITABLE fires only
        // after a write met a full socket buffer.
        if c.engine.is_closed() && c.pos == c.out.len() {
            let _ = self.poll.registry().deregister(&mut c.socket);
            self.conns.remove(&token);
        }
    }
}
