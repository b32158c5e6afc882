//! The connection task: one `service::Session`, its socket, and its calls. A
//! client's call handles live in the user's tasks and talk to the connection
//! task over one channel; a server's calls are futures the connection task
//! polls itself, with the engine's executor. No protocol decisions live here:
//! the session and the call handles keep the calls' books.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallId, CallOptions, Event, Request};
use grpc_sansio::session::{Command, Inbox, Reply, Session};
use grpc_sansio_service::{
    self as service, AsyncLink, CancelToken, LocalDone, LocalExecutor, LocalInbox, LocalLink,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{error::TryRecvError, UnboundedReceiver, UnboundedSender};
use tokio::sync::{oneshot, Notify};

/// A byte stream a connection task can drive: TCP, a unix socket, or a TLS
/// stream over either.
pub trait Transport: AsyncRead + AsyncWrite + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + 'static> Transport for T {}

/// Inputs taken in one turn before the connection writes again.
const BATCH: usize = 64;

/// The read buffer's first and largest sizes.
const READ_MIN: usize = 2 << 10;
const READ_MAX: usize = 64 << 10;

/// Passes of routing events and polling tasks before a write; what is left
/// waits for the next turn, so tasks that keep waking cannot starve I/O.
const ROUNDS: usize = 8;

/// A client connection task's command queue. Once every sender is dropped
/// (the channel and its calls), the connection shuts down gracefully.
pub(crate) type Commands = UnboundedSender<Input>;

/// What reaches a client's connection task from its channel and handles.
pub(crate) enum Input {
    /// A client call, the sender of its inbox, and where its id goes.
    Start(
        CallOptions,
        UnboundedSender<Event>,
        oneshot::Sender<Result<CallId, Status>>,
    ),
    Call(Command<Done>),
}

/// A client call's inbox, as the session delivers to it.
pub(crate) struct TaskInbox(UnboundedSender<Event>);

impl Inbox for TaskInbox {
    fn deliver(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// Where a client call's send learns that the engine took its message.
pub struct Done(oneshot::Sender<Result<(), Status>>);

impl Reply for Done {
    fn reply(self, result: Result<(), Status>) {
        let _ = self.0.send(result);
    }
}

/// A client call handle's way to its connection task, and the call's inbox.
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

/// Who serves a connection's calls, as its task sees them: what the session
/// delivers to and answers sends with, what reaches the task from outside,
/// and the work between reading and writing. A client's calls are handles in
/// the user's tasks ([`Handles`]); a server's are futures polled on the
/// connection task itself ([`Tasks`]).
pub(crate) trait Calls: Send {
    type Inbox: Inbox + Send;
    type Done: Reply + Send;
    /// What the task's input channel carries.
    type Input: Send;

    /// Carries out what arrived on the input channel.
    fn input(&mut self, session: &mut Session<Self::Inbox, Self::Done>, input: Self::Input);

    /// A call the peer started: attach it, and serve it.
    fn started(
        &mut self,
        session: &mut Session<Self::Inbox, Self::Done>,
        call: CallId,
        request: Request,
    );

    /// Polls what was woken and applies what it commanded; whether anything
    /// moved.
    fn poll(&mut self, session: &mut Session<Self::Inbox, Self::Done>) -> bool;

    /// Before the task waits: whether it may (nothing is left to poll). If so,
    /// work arriving until [`busy`](Self::busy) completes
    /// [`woken`](Self::woken).
    fn idle(&self) -> bool;

    /// The task is back from its wait.
    fn busy(&self);

    /// Completes once work arrived while the task was [`idle`](Self::idle).
    fn woken(&self) -> impl Future<Output = ()> + Send + '_;
}

/// A client's calls: handles in the user's tasks, talking to the connection
/// task over its input channel.
pub(crate) struct Handles;

impl Calls for Handles {
    type Inbox = TaskInbox;
    type Done = Done;
    type Input = Input;

    fn input(&mut self, session: &mut Session<TaskInbox, Done>, input: Input) {
        match input {
            Input::Start(options, inbox, reply) => {
                let started = session.start_call(Instant::now(), options, TaskInbox(inbox));
                if let Err(Ok(call)) = reply.send(started) {
                    // The caller stopped waiting: nobody owns the call.
                    session.apply(Command::Cancel(call));
                }
            }
            Input::Call(command) => session.apply(command),
        }
    }

    /// The peer, a server, starts no calls.
    fn started(&mut self, _: &mut Session<TaskInbox, Done>, _: CallId, _: Request) {}

    fn poll(&mut self, _: &mut Session<TaskInbox, Done>) -> bool {
        false
    }

    fn idle(&self) -> bool {
        true
    }

    fn busy(&self) {}

    fn woken(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::pending()
    }
}

/// Graceful shutdown of a server connection, the connection cut at the
/// instant if still open.
pub(crate) struct Shutdown(pub(crate) Option<Instant>);

/// A server's calls: each one a task polled on the connection task, serving
/// it with the future `serve` returns for its handle. No channel and no
/// spawned task per call.
pub(crate) struct Tasks<S> {
    executor: LocalExecutor<()>,
    /// What the executor calls for a task woken (or a command given) from
    /// elsewhere while the connection task waits. It keeps a permit, so a
    /// wake that comes before the wait is not lost.
    notify: Arc<Notify>,
    serve: S,
}

impl<S> Tasks<S> {
    pub(crate) fn new(serve: S) -> Tasks<S> {
        let notify = Arc::new(Notify::new());
        let wake = notify.clone();
        let executor = LocalExecutor::new(move || wake.notify_one());
        Tasks {
            executor,
            notify,
            serve,
        }
    }
}

impl<S, F> Calls for Tasks<S>
where
    S: FnMut(CallId, Request, LocalLink<()>, CancelToken) -> F + Send,
    F: Future<Output = ()> + Send + 'static,
{
    type Inbox = LocalInbox;
    type Done = LocalDone;
    type Input = Shutdown;

    fn input(&mut self, session: &mut Session<LocalInbox, LocalDone>, input: Shutdown) {
        session.shutdown(input.0);
    }

    fn started(
        &mut self,
        session: &mut Session<LocalInbox, LocalDone>,
        call: CallId,
        request: Request,
    ) {
        let (link, inbox) = self.executor.link(());
        let cancel = session.attach(call, inbox);
        // A handler that panics before its future exists drops the handle:
        // the call ends with UNKNOWN, as when the future panics.
        let serve = &mut self.serve;
        if let Ok(future) = catch_unwind(AssertUnwindSafe(|| serve(call, request, link, cancel))) {
            self.executor.spawn(future);
        }
    }

    fn poll(&mut self, session: &mut Session<LocalInbox, LocalDone>) -> bool {
        let mut moved = self.executor.poll_ready() > 0;
        for ((), command) in self.executor.take_commands() {
            session.apply(command);
            moved = true;
        }
        moved
    }

    fn idle(&self) -> bool {
        self.executor.idle()
    }

    fn busy(&self) {
        self.executor.busy();
    }

    fn woken(&self) -> impl Future<Output = ()> + Send + '_ {
        self.notify.notified()
    }
}

/// Runs a connection until it closes: route the session's events, poll the
/// calls' tasks and apply their commands while anything moves (a bounded
/// number of passes), then wait for whichever comes first: bytes read, bytes
/// written, inputs, the session's timer, or a task woken from elsewhere. The
/// calls (a server's executor, with any task left) go when it ends.
pub(crate) async fn run<C: Calls>(
    mut session: Session<C::Inbox, C::Done>,
    socket: impl Transport,
    mut inputs: UnboundedReceiver<C::Input>,
    mut calls: C,
) {
    let (mut reader, mut writer) = tokio::io::split(socket);
    // Small while the peer sends little (an idle connection holds a page,
    // not 64 KiB), doubled up to READ_MAX each time a read fills it.
    let mut rbuf = vec![0u8; READ_MIN];
    let mut batch = Vec::new();
    // Every sender of `inputs` is gone: nothing more comes from outside.
    let mut orphaned = false;
    let mut timer = pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
    loop {
        settle(&mut session, &mut calls);
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
        // From here until `busy`, a task woken elsewhere completes `woken`.
        let idle = calls.idle();
        tokio::select! {
            read = reader.read(&mut rbuf) => match read {
                Ok(n) if n > 0 => {
                    session.receive(Instant::now(), &rbuf[..n]);
                    if n == rbuf.len() && n < READ_MAX {
                        rbuf.resize(2 * n, 0);
                    }
                }
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
                    calls.input(&mut session, input);
                }
                if taken == 0 {
                    // A client's channel and calls, or a server, are all dropped.
                    orphaned = true;
                    session.shutdown(None);
                }
            }
            () = &mut timer, if deadline.is_some() => session.handle_timeout(Instant::now()),
            () = calls.woken(), if idle => {}
            // Tasks left to poll (the passes were used up): I/O that is ready
            // goes first, then the runtime's other tasks, then another settle.
            () = tokio::task::yield_now(), if !idle => {}
        }
        calls.busy();
    }
}

/// Routes the session's events (a new call to `calls`), polls the woken tasks
/// and applies their commands (which may deliver events and answer sends:
/// more tasks wake), until nothing moves or the passes are used up.
fn settle<C: Calls>(session: &mut Session<C::Inbox, C::Done>, calls: &mut C) {
    for _ in 0..ROUNDS {
        let mut moved = false;
        while let Some(event) = session.poll_event() {
            if let Event::CallStarted { call, request } = event {
                calls.started(session, call, request);
            }
            moved = true;
        }
        if !calls.poll(session) && !moved {
            return;
        }
    }
}
