//! The connection task: one `service::Session`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here:
//! the session and the call handles keep the calls' books.

use std::future::Future;
use std::pin::pin;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Event, Request};
use grpc_sansio::service::{self, AsyncLink, CancelToken, Command, Inbox, Reply, Session};
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
    /// Graceful shutdown, the connection cut at the instant if still open.
    Shutdown(Option<Instant>),
}

/// A call's inbox, as the session delivers to it.
pub(crate) struct TaskInbox(UnboundedSender<Event>);

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
    mut session: Session<TaskInbox, Done>,
    socket: impl Transport,
    mut inputs: UnboundedReceiver<Input>,
    mut on_call: impl FnMut(CallId, Request, UnboundedReceiver<Event>, CancelToken),
) {
    let (mut reader, mut writer) = tokio::io::split(socket);
    let mut rbuf = vec![0u8; 64 << 10];
    let mut batch = Vec::with_capacity(BATCH);
    // Every sender of `inputs` is gone: nothing more comes from handles.
    let mut orphaned = false;
    let mut timer = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
    loop {
        // Calls a peer starts go to `on_call`; the session routes the rest.
        while let Some(event) = session.poll_event() {
            if let Event::CallStarted { call, request } = event {
                let (inbox, events) = mpsc::unbounded_channel();
                let cancel = session.attach(call, TaskInbox(inbox));
                on_call(call, request, events, cancel);
            }
        }
        // Also once the transport failed or was cut: the calls have ended.
        if session.is_closed() {
            let _ = writer.shutdown().await;
            return;
        }
        let deadline = session.poll_timeout();
        if let Some(at) = deadline {
            timer.as_mut().reset(at.into());
        }
        let out = session.poll_transmit();
        tokio::select! {
            read = reader.read(&mut rbuf) => match read {
                Ok(n) if n > 0 => session.receive(Instant::now(), &rbuf[..n]),
                _ => session.transport_closed(),
            },
            wrote = writer.write(out), if !out.is_empty() => match wrote {
                Ok(n) if n > 0 => session.advance(n),
                _ => session.transport_closed(),
            },
            // What is already queued goes in before the next write (one write
            // for many calls' frames), a bounded batch so writing is never starved.
            taken = inputs.recv_many(&mut batch, BATCH), if !orphaned => {
                for input in batch.drain(..) {
                    apply(&mut session, input);
                }
                if taken == 0 {
                    // A client's channel and calls are all dropped.
                    orphaned = true;
                    session.shutdown(None);
                }
            }
            () = &mut timer, if deadline.is_some() => session.handle_timeout(Instant::now()),
        }
    }
}

/// Carries out a handle's command.
fn apply(session: &mut Session<TaskInbox, Done>, input: Input) {
    match input {
        Input::Start(options, inbox, reply) => {
            let started = session.start_call(Instant::now(), options, TaskInbox(inbox));
            if let Err(Ok(call)) = reply.send(started) {
                // The caller stopped waiting: nobody owns the call.
                session.apply(Command::Cancel(call));
            }
        }
        Input::Call(command) => session.apply(command),
        Input::Shutdown(cut_at) => session.shutdown(cut_at),
    }
}
