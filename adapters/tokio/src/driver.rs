//! The connection task: one `grpc::Connection`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here:
//! the engine's `Switchboard` and `CallState` keep the calls' books.

use std::pin::pin;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Connection, Event, Request};
use grpc_sansio::service::{CallState, CancelToken, Command, Inbox, Reply, Switchboard};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedSender};
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
    Start(CallOptions, oneshot::Sender<Result<Handle, Status>>),
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
pub(crate) struct Done(oneshot::Sender<Result<(), Status>>);

impl Reply for Done {
    fn reply(self, result: Result<(), Status>) {
        let _ = self.0.send(result);
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
    (commands, mut inputs): (Commands, mpsc::UnboundedReceiver<Input>),
    on_call: impl FnMut(Handle, Request),
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
        while let Some(event) = d.conn.poll_event() {
            d.route(event);
        }
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

impl<F: FnMut(Handle, Request)> Driver<F> {
    /// A handle for a new call, with its inbox attached.
    fn open(&mut self, call: CallId, state: CallState) -> Handle {
        let (tx, inbox) = mpsc::unbounded_channel();
        let cancel = self.board.attach(call, TaskInbox(tx));
        Handle {
            call,
            tx: self.commands.clone(),
            cancel,
            inbox,
            state,
        }
    }

    /// Hands an engine event to its call's handle, or a new call to `on_call`.
    fn route(&mut self, event: Event) {
        if let Some(Event::CallStarted { call, request }) = self.board.route(&mut self.conn, event)
        {
            let handle = self.open(call, CallState::server());
            (self.on_call)(handle, request);
        }
    }

    /// Carries out a handle's command.
    fn apply(&mut self, input: Input) {
        match input {
            Input::Start(options, reply) => {
                let started = self.conn.start_call(Instant::now(), options);
                let result = started.map(|call| self.open(call, CallState::client()));
                if let Err(Ok(handle)) = reply.send(result.map_err(|e| e.to_status())) {
                    // The caller stopped waiting: nobody owns the call.
                    self.board
                        .apply(&mut self.conn, Command::Cancel(handle.call));
                }
            }
            Input::Call(command) => self.board.apply(&mut self.conn, command),
            Input::Shutdown => self.conn.shutdown(),
        }
    }
}

/// One call's end of the connection, shared by client and server calls: its
/// inbox, its state, and the command queue.
pub(crate) struct Handle {
    pub(crate) call: CallId,
    tx: Commands,
    /// Fired when the call ends with a non-OK status.
    pub(crate) cancel: CancelToken,
    /// Unbounded, but every message in it holds its flow-control credit, so
    /// the peer's window bounds it.
    inbox: mpsc::UnboundedReceiver<Event>,
    pub(crate) state: CallState,
}

impl Handle {
    /// Sends a command for this call to the connection.
    pub(crate) fn command(&self, command: Command<Done>) {
        let _ = self.tx.send(Input::Call(command));
    }

    /// The next message, the end of the stream, or the call's status.
    pub(crate) async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(answer) = self.state.poll_recv() {
                if let Ok(Some(_)) = answer {
                    self.command(Command::Consumed(self.call));
                }
                return answer;
            }
            self.wait().await;
        }
    }

    /// Waits for one more item from the connection.
    pub(crate) async fn wait(&mut self) {
        let event = self.inbox.recv().await;
        self.state.note(event);
    }

    /// Takes in what has arrived, without waiting.
    pub(crate) fn poll(&mut self) {
        loop {
            match self.inbox.try_recv() {
                Ok(event) => self.state.note(Some(event)),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => return self.state.note(None),
            }
        }
    }

    /// Queues a message and waits until the engine took it. When the call
    /// has ended, the error is its status.
    pub(crate) async fn send(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if let Some((status, _)) = self.state.end() {
            return Err(status.clone());
        }
        let gone = || {
            Status::new(
                grpc_sansio::grpc::status::Code::Unavailable,
                "the connection is gone",
            )
        };
        let (done, wait) = oneshot::channel();
        let send = Command::Send(self.call, message, compress, Done(done));
        let result = match self.tx.send(Input::Call(send)) {
            Ok(()) => wait.await.unwrap_or_else(|_| Err(gone())),
            Err(_) => Err(gone()),
        };
        result.map_err(|refused| {
            self.poll();
            self.state.refusal(refused)
        })
    }

    /// Ends the call from this side with `command`, unless it has ended.
    pub(crate) fn end_with(&mut self, status: Status, command: Command<Done>) {
        if self.state.end_here(status) {
            self.command(command);
        }
    }
}
