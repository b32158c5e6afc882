//! The connection task: one `grpc::Connection`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here:
//! the engine's `Switchboard` and call handles keep the calls' books.

use std::future::Future;
use std::pin::pin;
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

/// The connection task's command queue. Once every sender is dropped (a
/// client's channel and calls), the connection shuts down gracefully.
pub(crate) type Commands = UnboundedSender<Input>;

/// What reaches the connection task from the handles.
pub(crate) enum Input {
    /// A client call, the sender of its inbox, and where its id goes.
    Start(
        CallOptions,
        UnboundedSender<Event>,
        oneshot::Sender<Result<CallId, Status>>,
    ),
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

/// A call handle's way to its connection task, and the call's inbox.
pub struct Link {
    commands: Commands,
    /// Unbounded, but every message in it holds its flow-control credit, so
    /// the peer's window bounds it.
    inbox: UnboundedReceiver<Event>,
}

impl Link {
    pub(crate) fn new(commands: Commands, inbox: UnboundedReceiver<Event>) -> Link {
        Link { commands, inbox }
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
            Err(TryRecvError::Empty) => None,
            event => Some(event.ok()),
        }
    }
}

/// Runs a connection until it closes. `on_call` gets every call a peer
/// starts, with its inbox.
pub(crate) async fn run(
    mut conn: Connection,
    socket: impl Transport,
    mut inputs: UnboundedReceiver<Input>,
    mut on_call: impl FnMut(CallId, Request, UnboundedReceiver<Event>, CancelToken),
) {
    let (mut reader, mut writer) = tokio::io::split(socket);
    let mut board = Switchboard::new();
    let (mut rbuf, mut wbuf, mut written) = (vec![0u8; 64 << 10], Vec::new(), 0);
    let mut batch = Vec::with_capacity(BATCH);
    // The transport failed or the peer closed it: nothing more is read or written.
    let mut broken = false;
    // Every sender of `inputs` is gone: nothing more comes from handles.
    let mut orphaned = false;
    let mut timer = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
    loop {
        // Engine events go to their calls, and calls a peer starts to `on_call`.
        while let Some(event) = board.poll_event(&mut conn) {
            if let Event::CallStarted { call, request } = event {
                let (inbox, events) = mpsc::unbounded_channel();
                let cancel = board.attach(call, TaskInbox(inbox));
                on_call(call, request, events, cancel);
            }
        }
        // Take more from the engine only once the socket took the last batch,
        // so a slow peer leaves the octets (and the backpressure) in the engine.
        if written == wbuf.len() {
            wbuf.clear();
            written = 0;
            while conn.poll_transmit(&mut wbuf) > 0 {}
            if !broken && !wbuf.is_empty() {
                continue; // Transmission may have made calls writable: route that first.
            }
        }
        // Once broken, the engine ended every call and the loop routed that above.
        if broken || (conn.is_closed() && written == wbuf.len()) {
            let _ = writer.shutdown().await;
            return;
        }
        let deadline = conn.poll_timeout();
        if let Some(at) = deadline {
            timer.as_mut().reset(at.into());
        }
        tokio::select! {
            read = reader.read(&mut rbuf) => match read {
                // A connection error queues GOAWAY; the next turn flushes it.
                Ok(n) if n > 0 => drop(conn.receive(Instant::now(), &rbuf[..n])),
                _ => broken = true,
            },
            wrote = writer.write(&wbuf[written..]), if written < wbuf.len() => match wrote {
                Ok(n) if n > 0 => written += n,
                _ => broken = true,
            },
            // What is already queued goes in before the next write (one write
            // for many calls' frames), a bounded batch so writing is never starved.
            taken = inputs.recv_many(&mut batch, BATCH), if !orphaned => {
                for input in batch.drain(..) {
                    apply(&mut conn, &mut board, input);
                }
                if taken == 0 {
                    // A client's channel and calls are all dropped.
                    orphaned = true;
                    conn.shutdown();
                }
            }
            () = &mut timer, if deadline.is_some() => conn.handle_timeout(Instant::now()),
        }
        if broken {
            conn.transport_closed();
        }
    }
}

/// Carries out a handle's command.
fn apply(conn: &mut Connection, board: &mut Switchboard<TaskInbox, Done>, input: Input) {
    match input {
        Input::Start(options, inbox, reply) => {
            let started = board.start_call(conn, Instant::now(), options, TaskInbox(inbox));
            if let Err(Ok(call)) = reply.send(started) {
                // The caller stopped waiting: nobody owns the call.
                board.apply(conn, Command::Cancel(call));
            }
        }
        Input::Call(command) => board.apply(conn, command),
        Input::Shutdown => conn.shutdown(),
    }
}
