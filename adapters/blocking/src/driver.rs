//! The connection thread: one `service::Session`, its socket, the calls'
//! handles talking to it over one channel, and the executor of the calls
//! served as tasks on the thread itself. No protocol decisions live here.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{RecvTimeoutError, SendError, Sender};
use std::sync::{Arc, Weak};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Event};
use grpc_sansio::session::{Command, Session};
use grpc_sansio_service::channel::{self, Receiver};
use grpc_sansio_service::handle::SendDone;
use grpc_sansio_service::{self as service, LocalExecutor};

/// A byte stream the driver reads on one thread and writes on another,
/// through shared references: one descriptor per connection, not a clone.
pub trait Transport: Send + Sync + 'static {
    /// Reads what has arrived, waiting for some.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `buf`.
    fn write_all(&self, buf: &[u8]) -> io::Result<()>;
    /// Closes both directions, waking the reader.
    fn shutdown(&self);
}

impl Transport for TcpStream {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut &*self, buf)
    }
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        Write::write_all(&mut &*self, buf)
    }
    fn shutdown(&self) {
        let _ = TcpStream::shutdown(self, Shutdown::Both);
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut &*self, buf)
    }
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        Write::write_all(&mut &*self, buf)
    }
    fn shutdown(&self) {
        let _ = std::os::unix::net::UnixStream::shutdown(self, Shutdown::Both);
    }
}

/// Inputs taken in one turn before the connection writes again.
const BATCH: usize = 64;

/// The read buffer's first and largest sizes.
const READ_MIN: usize = 2 << 10;
const READ_MAX: usize = 64 << 10;

/// Passes of routing events and polling tasks before a write; what is left
/// waits for the next turn, so tasks that keep waking cannot starve writing.
const ROUNDS: usize = 8;

/// The tasks a connection thread polls: its calls served on the thread.
pub(crate) type Tasks = LocalExecutor<()>;

/// Calls are served both ways: [`CallInbox`] and [`Done`] say which.
pub(crate) use grpc_sansio_service::{CallDone as Done, CallInbox};

/// What reaches the connection thread.
pub(crate) enum Input {
    Read(Vec<u8>),
    ReadClosed,
    Start {
        options: CallOptions,
        reply: Sender<Result<(CallId, channel::Receiver<Event>), Status>>,
    },
    Call(Command<SendDone>),
    /// Graceful shutdown, the transport given up at the instant if any.
    Shutdown(Option<Instant>),
    /// A task was woken, or gave a command, from another thread.
    Wake,
}

/// A connection thread, its input channel, and its socket (to cut it; weak,
/// so a closed connection's descriptor is not held).
pub(crate) type ConnectionThread = (channel::Sender<Input>, JoinHandle<()>, Weak<dyn Transport>);

/// A connection as its thread drives it.
pub(crate) type Conn = Session<CallInbox, Done>;

/// What acts on a connection's events: every event no call handle takes (a
/// server's new calls and their first events, GOAWAY), with the session to
/// attach calls to, the link blocking handles talk back through, and the
/// thread's executor for calls served as tasks on it.
pub(crate) trait OnEvent: Send + 'static {
    fn on_event(&mut self, conn: &mut Conn, event: Event, link: &Link, tasks: &mut Tasks);

    /// The turn is over: what was read has been acted on and the answers
    /// written. Work handed elsewhere in a burst may be set going now.
    fn turn_done(&mut self) {}
}
/// A client's connection: its peer starts no calls, and the events of its
/// own calls go to their handles.
pub(crate) struct NoCalls;

impl OnEvent for NoCalls {
    fn on_event(&mut self, _: &mut Conn, _: Event, _: &Link, _: &mut Tasks) {}
}

/// Runs `session` (a client's or a server's) on its own thread until it
/// closes, handing `on_event` the events no call takes.
pub(crate) fn spawn<T: Transport>(
    socket: T,
    session: Conn,
    on_event: impl OnEvent,
) -> ConnectionThread {
    let (tx, inputs) = channel::channel();
    let link = Link(tx.clone());
    let socket = Arc::new(socket);
    let weak = Arc::downgrade(&socket);
    let thread = thread::spawn(move || run(socket, session, inputs, link, on_event));
    (tx, thread, weak)
}

/// A turn: take what arrived (bytes, handles' commands, wakes), route the
/// events, poll the woken tasks and apply their commands while anything
/// moves, then write once; repeat until there is nothing to write.
fn run<T: Transport>(
    socket: Arc<T>,
    mut session: Conn,
    inputs: Receiver<Input>,
    link: Link,
    mut on_event: impl OnEvent,
) {
    let (reader, read_tx) = (socket.clone(), link.0.clone());
    thread::spawn(move || read_loop(&*reader, read_tx));
    // Work for a task from another thread wakes this one as a handle's
    // command does: through the input channel, which `recv` waits on.
    let wake = link.0.clone();
    let mut tasks = Tasks::new(move || {
        wake.send(Input::Wake);
    });
    loop {
        // Until quiet: each turn gives at most about a write buffer's worth.
        loop {
            settle(&mut session, &link, &mut tasks, &mut on_event);
            let out = session.poll_transmit();
            let n = out.len();
            if n == 0 {
                break;
            }
            match socket.write_all(out) {
                Ok(()) => session.advance(n),
                Err(_) => session.transport_closed(),
            }
        }
        on_event.turn_done();
        if session.is_closed() {
            socket.shutdown();
            return;
        }
        let first = match session.poll_timeout() {
            // Tasks left to poll (passes used up): take what is there, no wait.
            _ if !tasks.idle() => inputs.try_recv().ok_or(RecvTimeoutError::Timeout),
            Some(at) => inputs.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => inputs.recv().ok_or(RecvTimeoutError::Disconnected),
        };
        tasks.busy();
        let now = Instant::now();
        // What is already queued goes in before the next write (one write for
        // many calls' frames), a bounded batch so writing is never starved.
        let queued = std::iter::from_fn(|| inputs.try_recv())
            .take(BATCH - 1)
            .map(Ok);
        for input in std::iter::once(first).chain(queued) {
            match input {
                // Early (tasks had work) is harmless: nothing is due yet.
                Err(RecvTimeoutError::Timeout) => session.handle_timeout(now),
                Err(RecvTimeoutError::Disconnected) => return,
                Ok(Input::Read(bytes)) => session.receive(now, &bytes),
                Ok(Input::ReadClosed) => session.transport_closed(),
                Ok(Input::Start { options, reply }) => {
                    let (tx, rx) = channel::channel();
                    let result = session.start_call(now, options, CallInbox::Channel(tx));
                    if let Err(SendError(Ok((call, _)))) = reply.send(result.map(|c| (c, rx))) {
                        // The caller stopped waiting: nobody owns the call.
                        session.apply(Command::Cancel(call));
                    }
                }
                Ok(Input::Call(command)) => session.apply(command.map_reply(Done::Channel)),
                Ok(Input::Shutdown(cut_at)) => session.shutdown(cut_at),
                Ok(Input::Wake) => {}
            }
        }
    }
}

/// Routes the session's events, polls the woken tasks and applies their
/// commands (which may deliver events and answer sends: more tasks wake),
/// until nothing moves or the passes are used up.
fn settle(session: &mut Conn, link: &Link, tasks: &mut Tasks, on_event: &mut impl OnEvent) {
    for _ in 0..ROUNDS {
        let mut moved = false;
        while let Some(event) = session.poll_event() {
            on_event.on_event(session, event, link, tasks);
            moved = true;
        }
        moved |= tasks.poll_ready() > 0;
        for ((), command) in tasks.take_commands() {
            session.apply(command.map_reply(Done::Task));
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn read_loop(socket: &impl Transport, tx: channel::Sender<Input>) {
    // Small while the peer sends little (an idle connection holds a page,
    // not 64 KiB), doubled up to READ_MAX each time a read fills it.
    let mut buf = vec![0u8; READ_MIN];
    loop {
        let n = match socket.read(&mut buf) {
            Ok(n @ 1..) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // End of stream or an error: the peer is gone either way.
            _ => {
                tx.send(Input::ReadClosed);
                return;
            }
        };
        if !tx.send(Input::Read(buf[..n].to_vec())) {
            return;
        }
        if n == buf.len() && n < READ_MAX {
            buf.resize(2 * n, 0);
        }
    }
}

/// A call handle's way to its connection thread.
#[derive(Clone)]
pub struct Link(pub(crate) channel::Sender<Input>);

impl service::Link for Link {
    type Done = SendDone;
    fn command(&self, command: Command<SendDone>) -> bool {
        self.0.send(Input::Call(command))
    }
}
