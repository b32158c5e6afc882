//! The connection task: one `grpc::Connection`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here:
//! the engine's `Switchboard` and call handles keep the calls' books.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Connection, Event, Request};
use grpc_sansio::service::{self, AsyncLink, CancelToken, Command, Inbox, Reply, Switchboard};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

/// A byte stream a connection task can drive: TCP, a unix socket, or a TLS
/// stream over either.
pub trait Transport: AsyncRead + AsyncWrite + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + 'static> Transport for T {}

/// Commands taken in one turn before the connection writes again.
const BATCH: usize = 64;

/// The connection task's command queue.
pub(crate) type Commands = UnboundedSender<Input>;

/// What reaches the connection task from the handles.
pub(crate) enum Input {
    Start(CallOptions, oneshot::Sender<Result<(CallId, Link), Status>>),
    Call(Command<Done>),
    Shutdown,
}

/// A call's inbox, as the switchboard delivers to it.
struct TaskInbox(UnboundedSender<Event>);

impl Inbox for TaskInbox {
    fn deliver(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// Where a send learns that the engine took its message.
pub struct Done(oneshot::Sender<Result<(), Status>>);

impl Reply for Done {
    fn reply(self, result: Result<(), Status>) {
        let _ = self.0.send(result);
    }
}

/// Shuts the connection down gracefully once dropped: held by a client's
/// channel and its calls.
pub(crate) struct Owner(pub(crate) Commands);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.send(Input::Shutdown);
    }
}

/// A call handle's way to its connection task, and the call's inbox.
pub struct Link {
    commands: Commands,
    /// Unbounded, but every message in it holds its flow-control credit, so
    /// the peer's window bounds it.
    inbox: UnboundedReceiver<Event>,
    pub(crate) owner: Option<Arc<Owner>>,
}

impl Link {
    fn new(commands: Commands, inbox: UnboundedReceiver<Event>) -> Link {
        let owner = None;
        Link {
            commands,
            inbox,
            owner,
        }
    }
}

impl service::Link for Link {
    type Done = Done;
    fn command(&self, command: Command<Done>) -> bool {
        self.commands.send(Input::Call(command)).is_ok()
    }
}

impl AsyncLink for Link {
    fn send(
        &self,
        call: CallId,
        message: Bytes,
        compress: bool,
    ) -> impl Future<Output = Option<Result<(), Status>>> + Send {
        let (done, taken) = oneshot::channel();
        // Not delivered, the reply is dropped with the command.
        service::Link::command(self, Command::Send(call, message, compress, Done(done)));
        async move { taken.await.ok() }
    }
    async fn next(&mut self) -> Option<Event> {
        self.inbox.recv().await
    }
    fn try_next(&mut self) -> Option<Option<Event>> {
        match self.inbox.try_recv() {
            Ok(event) => Some(Some(event)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(None),
        }
    }
}

struct Driver<F> {
    conn: Connection,
    /// For the handles of new calls.
    commands: Commands,
    board: Switchboard<TaskInbox, Done>,
    on_call: F,
}

/// Runs a connection until it closes. `on_call` gets every call a peer starts.
pub(crate) async fn run(
    conn: Connection,
    socket: impl Transport,
    (commands, mut inputs): (Commands, UnboundedReceiver<Input>),
    on_call: impl FnMut(CallId, Request, Link, CancelToken),
) {
    let (mut reader, mut writer) = tokio::io::split(socket);
    let mut d = Driver {
        conn,
        commands,
        board: Switchboard::new(),
        on_call,
    };
    let (mut rbuf, mut wbuf, mut written) = (vec![0u8; 64 << 10], Vec::new(), 0);
    // The transport failed or the peer closed it: nothing more is read or written.
    let mut broken = false;
    let mut timer = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
    loop {
        d.route();
        // Take more from the engine only once the socket took the last batch,
        // so a slow peer leaves the octets (and the backpressure) in the engine.
        if written == wbuf.len() {
            wbuf.clear();
            written = 0;
            while d.conn.poll_transmit(&mut wbuf) > 0 {}
            if broken {
                wbuf.clear();
            } else if !wbuf.is_empty() {
                continue; // Transmission may have made calls writable: route that first.
            }
        }
        if d.conn.is_closed() && written == wbuf.len() {
            let _ = writer.shutdown().await;
            return;
        }
        let deadline = d.conn.poll_timeout();
        if let Some(at) = deadline {
            timer.as_mut().reset(at.into());
        }
        tokio::select! {
            read = reader.read(&mut rbuf), if !broken => match read {
                // A connection error queues GOAWAY; the next turn flushes it.
                Ok(n) if n > 0 => drop(d.conn.receive(Instant::now(), &rbuf[..n])),
                _ => broken = true,
            },
            wrote = writer.write(&wbuf[written..]), if !broken && written < wbuf.len() => {
                match wrote {
                    Ok(n) if n > 0 => written += n,
                    _ => broken = true,
                }
            }
            Some(input) = inputs.recv() => {
                d.apply(input);
                // What is already queued goes in before the next write (one
                // write for many calls' frames), a bounded batch so writing
                // is never starved.
                for _ in 1..BATCH {
                    let Ok(input) = inputs.try_recv() else { break };
                    d.apply(input);
                }
            }
            () = &mut timer, if deadline.is_some() => d.conn.handle_timeout(Instant::now()),
        }
        if broken {
            d.conn.transport_closed();
            wbuf.clear();
            written = 0;
        }
    }
}

impl<F: FnMut(CallId, Request, Link, CancelToken)> Driver<F> {
    /// Hands engine events to their calls, and new calls to `on_call`.
    fn route(&mut self) {
        while let Some(event) = self.board.poll_event(&mut self.conn) {
            if let Event::CallStarted { call, request } = event {
                let (tx, inbox) = mpsc::unbounded_channel();
                let cancel = self.board.attach(call, TaskInbox(tx));
                let link = Link::new(self.commands.clone(), inbox);
                (self.on_call)(call, request, link, cancel);
            }
        }
    }

    /// Carries out a handle's command.
    fn apply(&mut self, input: Input) {
        match input {
            Input::Start(options, reply) => {
                let (tx, inbox) = mpsc::unbounded_channel();
                let now = Instant::now();
                let started = (self.board).start_call(&mut self.conn, now, options, TaskInbox(tx));
                let commands = self.commands.clone();
                let result = started.map(|call| (call, Link::new(commands, inbox)));
                if let Err(Ok((call, _))) = reply.send(result) {
                    // The caller stopped waiting: nobody owns the call.
                    self.board.apply(&mut self.conn, Command::Cancel(call));
                }
            }
            Input::Call(command) => self.board.apply(&mut self.conn, command),
            Input::Shutdown => self.conn.shutdown(),
        }
    }
}
