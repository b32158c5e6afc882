//! The event loop: one `mio::Poll`, an optional listener, connections keyed by
//! token, a command channel with a `Waker` for other threads, and the executor
//! of the tasks that serve calls on the loop itself. It moves bytes, time and
//! commands in and out of the engine; no protocol decisions live here.
//!
//! A turn: read everything readable, fire due timers, take other threads'
//! commands; then route each touched connection's events (to its inline
//! handler, which may start tasks), poll the woken tasks and apply their
//! commands, until nothing moves; then write each touched connection once.
//! What that write sets moving (sends waiting for room) goes round again, a
//! bounded number of times; the rest waits for the next turn, which then
//! does not sleep.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config, Event};
use grpc_sansio::hash::{FxHashMap, FxHashSet};
use grpc_sansio::session::{Command, Session};
use grpc_sansio_service::handle::SendDone;
use grpc_sansio_service::LocalExecutor;
use grpc_sansio_service::{self as service, channel, Origin};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::client::ClientCall;
use crate::server::{Calls, InlineHandler};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// Makes the inline handler of each new server connection.
pub(crate) type NewHandler = Box<dyn FnMut() -> Box<dyn InlineHandler> + Send>;

/// The tasks a loop polls: calls served on the loop, keyed by connection.
pub(crate) type Tasks = LocalExecutor<Token>;

/// Rounds of routing, polling and writing in one turn; what is left after
/// them waits for the next turn, so one busy connection cannot hold the loop.
const ROUNDS: usize = 8;

/// Calls are served both ways: [`CallInbox`] and [`Done`] say which.
pub(crate) use grpc_sansio_service::{CallDone as Done, CallInbox};

/// Work handed to a loop by another thread.
pub(crate) enum Cmd {
    /// A client call on a connection, and where to hand over its handle.
    Start(Token, CallOptions, Sender<Result<ClientCall, Status>>),
    /// A call handle's command.
    Call(Token, Command<SendDone>),
    /// Graceful shutdown; connections still open at the instant are cut.
    Shutdown(Option<Instant>),
}

/// The way into a loop from any thread.
#[derive(Clone)]
pub(crate) struct Remote {
    tx: channel::Sender<Cmd>,
    waker: Arc<Waker>,
    /// The loop waits for I/O, or is about to, having taken every command
    /// queued before: the next command must wake it.
    asleep: Arc<AtomicBool>,
}

impl Remote {
    /// Queues `cmd` and wakes the loop if it waits; false once the loop is
    /// gone. A queued command counts as sent: the loop carries it out on its
    /// next turn. A busy loop is not woken: one wake (a syscall) serves every
    /// command queued while it sleeps, not one each.
    pub(crate) fn send(&self, cmd: Cmd) -> bool {
        let queued = self.tx.send(cmd);
        if queued && self.asleep.swap(false, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
        queued
    }
}

/// A call handle's way to its event loop and connection.
#[derive(Clone)]
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

/// One connection; an inline handler sees it as [`Calls`].
pub(crate) struct Conn {
    socket: TcpStream,
    /// The engine, the calls driven by handles (on other threads, or tasks on
    /// the loop), and the output not yet written.
    pub(crate) session: Session<CallInbox, Done>,
    inline: Option<Box<dyn InlineHandler>>,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) link: Link,
    pub(crate) origin: Arc<Origin>,
    /// Its inline handler acted this turn: it hears when the turn is done.
    acted: bool,
}

impl Conn {
    /// Reads until WouldBlock (the poll is edge-triggered).
    fn read(&mut self, now: Instant, buf: &mut [u8]) {
        loop {
            match self.socket.read(buf) {
                Ok(n) if n > 0 => self.session.receive(now, &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => return self.session.transport_closed(),
            }
        }
    }

    /// Hands the events no handle takes to the inline handler; true if it
    /// acted on one for the first time this turn.
    fn dispatch(&mut self, tasks: &mut Tasks) -> bool {
        let first = !self.acted;
        while let Some(event) = self.session.poll_event() {
            let Some(mut handler) = self.inline.take() else {
                continue;
            };
            if let Event::Message { call, .. } = &event {
                // The inline handler takes the message: its credit goes back.
                self.session.connection_mut().message_consumed(*call);
            }
            // A handler that panics loses its connection, not the loop.
            let calls = &mut Calls {
                conn: self,
                tasks: &mut *tasks,
            };
            match catch_unwind(AssertUnwindSafe(|| handler.on_event(calls, event))) {
                Ok(()) => self.inline = Some(handler),
                Err(_) => self.session.transport_closed(),
            }
            self.acted = true;
        }
        first && self.acted
    }

    /// Tells the inline handler that the loop's turn is over.
    fn turn_done(&mut self) {
        self.acted = false;
        if let Some(handler) = &mut self.inline {
            // A handler that panics here loses its connection, not the loop.
            if catch_unwind(AssertUnwindSafe(|| handler.turn_done())).is_err() {
                self.session.transport_closed();
            }
        }
    }

    /// Writes until there is nothing to write or the socket is full.
    fn write(&mut self) -> Written {
        let mut wrote = false;
        loop {
            let out = self.session.poll_transmit();
            if out.is_empty() {
                break;
            }
            match self.socket.write(out) {
                Ok(n) if n > 0 => {
                    self.session.advance(n);
                    wrote = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => self.session.transport_closed(),
            }
        }
        // Both interests stay registered: edge-triggered, WRITABLE fires only
        // after a write met a full socket buffer.
        if self.session.is_closed() {
            Written::Closed
        } else if wrote {
            Written::Some
        } else {
            Written::Nothing
        }
    }
}

/// What [`Conn::write`] did.
enum Written {
    /// Octets went out: what was waiting for room may move now.
    Some,
    Nothing,
    /// The session is over: the connection can go.
    Closed,
}

/// One event-loop thread's state.
pub(crate) struct EventLoop {
    poll: Poll,
    rx: channel::Receiver<Cmd>,
    remote: Remote,
    /// A server's listener; taken on shutdown.
    accept: Option<(TcpListener, NewHandler)>,
    config: Config,
    conns: FxHashMap<Token, Conn>,
    tasks: Tasks,
    /// Connections with work left for the next turn (new ones, or ones a
    /// turn's rounds did not finish).
    pending: FxHashSet<Token>,
    /// A turn's connections whose events are to be routed (empty between turns).
    dirty: FxHashSet<Token>,
    /// A turn's connections whose inline handler acted: told when it ends.
    acted: Vec<Token>,
    /// Tokens are never reused, so a stale handle cannot reach a new connection.
    next: usize,
    /// Accepting failed (out of descriptors, most likely): when to try again,
    /// since an edge-triggered listener stays silent until the next client.
    accept_again: Option<Instant>,
}

impl EventLoop {
    pub(crate) fn new(
        config: Config,
        mut accept: Option<(TcpListener, NewHandler)>,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        if let Some((listener, _)) = &mut accept {
            poll.registry()
                .register(listener, LISTENER, Interest::READABLE)?;
        }
        let (tx, rx) = channel::channel();
        let notify = waker.clone();
        // A task woken from another thread while the loop waits wakes the loop.
        let tasks = Tasks::new(move || drop(notify.wake()));
        Ok(EventLoop {
            poll,
            rx,
            remote: Remote {
                tx,
                waker,
                asleep: Arc::new(AtomicBool::new(false)),
            },
            accept,
            config,
            conns: FxHashMap::default(),
            tasks,
            pending: FxHashSet::default(),
            dirty: FxHashSet::default(),
            acted: Vec::new(),
            next: 2,
            accept_again: None,
        })
    }

    /// Adds a connected socket: a server connection if it has a handler.
    pub(crate) fn add(
        &mut self,
        mut socket: TcpStream,
        inline: Option<Box<dyn InlineHandler>>,
    ) -> io::Result<Token> {
        let token = Token(self.next);
        self.next += 1;
        let _ = socket.set_nodelay(true);
        let (peer, local) = (socket.peer_addr()?, socket.local_addr()?);
        let registry = self.poll.registry();
        registry.register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)?;
        let (config, now) = (self.config.clone(), Instant::now());
        let session = match inline {
            Some(_) => Session::server(config, now),
            None => Session::client(config, now),
        };
        let origin = Arc::new(Origin {
            peer_addr: peer.to_string().into(),
            local_addr: local.to_string().into(),
            clock: Arc::new(Instant::now),
        });
        let conn = Conn {
            socket,
            session,
            inline,
            peer,
            local,
            link: Link {
                remote: self.remote.clone(),
                token,
            },
            origin,
            acted: false,
        };
        // Its first output (preface or SETTINGS) goes out in the next turn.
        self.conns.insert(token, conn);
        self.pending.insert(token);
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
        let mut touched = FxHashSet::default();
        while self.accept.is_some() || !self.conns.is_empty() {
            // Work left from the last turn: do not sleep.
            let timeout = if self.pending.is_empty() && self.tasks.idle() {
                let timers = self.conns.values().filter_map(|c| c.session.poll_timeout());
                let next = timers.chain(self.accept_again).min();
                next.map(|t| t.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            // Commands queued before the loop says it sleeps make the wait
            // zero; any queued later wakes it (`Remote::send`).
            let timeout = if timeout != Some(Duration::ZERO) {
                self.remote.asleep.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                match self.rx.is_empty() {
                    true => timeout,
                    false => Some(Duration::ZERO),
                }
            } else {
                timeout
            };
            let polled = self.poll.poll(&mut events, timeout);
            self.remote.asleep.store(false, Ordering::SeqCst);
            self.tasks.busy();
            if polled.is_err_and(|e| e.kind() != ErrorKind::Interrupted) {
                return;
            }
            let now = Instant::now();
            if self.accept_again.is_some_and(|t| t <= now) {
                self.accept(now);
            }
            for event in events.iter() {
                if event.token() == LISTENER {
                    self.accept(now);
                } else if let Some(c) = self.conns.get_mut(&event.token()) {
                    if event.is_readable() || event.is_read_closed() {
                        c.read(now, &mut rbuf);
                    }
                    touched.insert(event.token());
                }
            }
            while let Some(cmd) = self.rx.try_recv() {
                self.command(now, cmd, &mut touched);
            }
            for (token, c) in &mut self.conns {
                if c.session.poll_timeout().is_some_and(|t| t <= now) {
                    c.session.handle_timeout(now);
                    touched.insert(*token);
                }
            }
            touched.extend(self.pending.drain());
            self.turn(&mut touched);
        }
    }

    /// Answers what the touched connections read: routes, polls and writes,
    /// a bounded number of rounds; leaves `touched` empty.
    fn turn(&mut self, touched: &mut FxHashSet<Token>) {
        // Connections whose events are to be routed; kept for its allocation.
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.extend(touched.iter().copied());
        for _ in 0..ROUNDS {
            self.settle(&mut dirty, touched);
            for token in touched.drain() {
                let Some(c) = self.conns.get_mut(&token) else {
                    continue;
                };
                match c.write() {
                    // Room was made: parked sends and inline handlers may go on.
                    Written::Some => drop(dirty.insert(token)),
                    Written::Nothing => {}
                    Written::Closed => {
                        let _ = self.poll.registry().deregister(&mut c.socket);
                        self.conns.remove(&token);
                    }
                }
            }
            if dirty.is_empty() && !self.tasks.has_work() {
                break;
            }
            touched.extend(dirty.iter().copied());
        }
        // Rounds used up: the rest waits for the next turn.
        self.pending.extend(touched.drain());
        self.pending.extend(dirty.drain());
        self.dirty = dirty;
        for token in self.acted.drain(..) {
            if let Some(c) = self.conns.get_mut(&token) {
                c.turn_done();
            }
        }
    }

    /// Routes the dirty connections' events, polls woken tasks and applies
    /// their commands, until nothing moves (or a bounded number of passes:
    /// a task that keeps waking itself waits for the next turn). Connections
    /// given commands join `touched`.
    fn settle(&mut self, dirty: &mut FxHashSet<Token>, touched: &mut FxHashSet<Token>) {
        for _ in 0..ROUNDS {
            for token in dirty.drain() {
                if let Some(c) = self.conns.get_mut(&token) {
                    if c.dispatch(&mut self.tasks) {
                        self.acted.push(token);
                    }
                }
            }
            let polled = self.tasks.poll_ready();
            for (token, command) in self.tasks.take_commands() {
                // A connection that is gone drops it: a send reads "gone".
                if let Some(c) = self.conns.get_mut(&token) {
                    c.session.apply(command.map_reply(Done::Task));
                    dirty.insert(token);
                    touched.insert(token);
                }
            }
            if polled == 0 && dirty.is_empty() {
                return;
            }
        }
    }

    fn accept(&mut self, now: Instant) {
        self.accept_again = None;
        while let Some((listener, new_handler)) = &mut self.accept {
            match listener.accept() {
                Ok((socket, _)) => {
                    let handler = Some(new_handler());
                    drop(self.add(socket, handler));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.accept_again = Some(now + Duration::from_millis(10));
                    return;
                }
            }
        }
    }

    fn command(&mut self, now: Instant, cmd: Cmd, touched: &mut FxHashSet<Token>) {
        match cmd {
            // A connection that is gone drops the input: its handle sees that.
            Cmd::Start(token, options, reply) => {
                let Some(c) = self.conns.get_mut(&token) else {
                    return;
                };
                let (tx, inbox) = channel::channel();
                let started = c.session.start_call(now, options, CallInbox::Channel(tx));
                let call = started.map(|call| ClientCall::new(call, c.link.clone(), inbox));
                // If the caller stopped waiting, the handle's drop cancels the call.
                let _ = reply.send(call);
                touched.insert(token);
            }
            Cmd::Call(token, command) => {
                if let Some(c) = self.conns.get_mut(&token) {
                    c.session.apply(command.map_reply(Done::Channel));
                    touched.insert(token);
                }
            }
            Cmd::Shutdown(deadline) => {
                if let Some((mut listener, _)) = self.accept.take() {
                    let _ = self.poll.registry().deregister(&mut listener);
                }
                for (token, c) in &mut self.conns {
                    c.session.shutdown(deadline);
                    touched.insert(*token);
                }
            }
        }
    }
}
