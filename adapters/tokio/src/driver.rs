//! The connection task: one `grpc::Connection`, its socket, and the calls'
//! handles talking to it over one channel. No protocol decisions live here.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, CallOptions, Connection, Event, Request};
use grpc_sansio::service::CancelToken;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{self, error::TryRecvError, UnboundedSender};
use tokio::sync::oneshot;

/// A byte stream a connection task can drive: TCP, a unix socket, or a TLS
/// stream over either.
pub trait Transport: AsyncRead + AsyncWrite + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + 'static> Transport for T {}

/// The connection task's command queue.
pub(crate) type Commands = UnboundedSender<Input>;
type Done = oneshot::Sender<Result<(), Status>>;

/// What reaches the connection task from the handles.
pub(crate) enum Input {
    Start(CallOptions, oneshot::Sender<Result<Handle, Status>>),
    Headers(CallId, Metadata),
    /// A message, and whether to compress it.
    Send(CallId, Bytes, bool, Done),
    /// Server: the encoding of the responses (checked by the handle).
    Encoding(CallId, Encoding),
    CloseSend(CallId),
    Finish(CallId, Status, Metadata),
    Cancel(CallId),
    Consumed(CallId),
    Shutdown,
}

/// What waits for send capacity, in order: messages, then maybe a half-close.
enum Outgoing {
    Message(Bytes, bool, Done),
    CloseSend,
}

struct Driver<F> {
    conn: Connection,
    /// For the handles of new calls.
    commands: Commands,
    /// Each call's inbox, and the token that tells a handler the call was
    /// cancelled even while it is not reading.
    inboxes: HashMap<CallId, (UnboundedSender<Event>, CancelToken)>,
    parked: HashMap<CallId, VecDeque<Outgoing>>,
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
    let (inboxes, parked) = (HashMap::new(), HashMap::new());
    let mut d = Driver {
        conn,
        commands,
        inboxes,
        parked,
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
            Some(input) = inputs.recv() => d.apply(input),
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
    /// A handle for a new call, with its inbox registered.
    fn open(&mut self, call: CallId, gone: Code) -> Handle {
        let (tx, inbox) = mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        self.inboxes.insert(call, (tx, cancel.clone()));
        let (tx, messages) = (self.commands.clone(), VecDeque::new());
        let (headers, half_closed, end) = (None, false, None);
        Handle {
            call,
            tx,
            cancel,
            inbox,
            gone,
            messages,
            recv_compressed: false,
            headers,
            half_closed,
            end,
        }
    }

    /// Hands an engine event to its call's handle.
    fn route(&mut self, event: Event) {
        let call = match event {
            Event::CallStarted { call, request } => {
                let handle = self.open(call, Code::Cancelled);
                return (self.on_call)(handle, request);
            }
            Event::Writable { call } => return self.unpark(call),
            Event::Headers { call, .. }
            | Event::Message { call, .. }
            | Event::HalfClosed { call }
            | Event::Finished { call, .. }
            | Event::Cancelled { call, .. } => call,
            Event::GoAway { .. } => return,
        };
        if let Event::Finished { status, .. } | Event::Cancelled { status, .. } = &event {
            fail_parked(self.parked.remove(&call), status);
            if let Some((tx, token)) = self.inboxes.remove(&call) {
                if !status.is_ok() {
                    token.cancel_for(status);
                }
                let _ = tx.send(event);
            }
        } else if let Some((tx, _)) = self.inboxes.get(&call) {
            // A handle that is gone has its finish or cancel on the way: the
            // event is dropped and the call's credit returns when it ends.
            let _ = tx.send(event);
        }
    }

    /// Carries out a handle's command.
    fn apply(&mut self, input: Input) {
        let ended = || Status::new(Code::Cancelled, "the call ended");
        match input {
            Input::Start(options, reply) => {
                let started = self.conn.start_call(Instant::now(), options);
                let result = started.map(|call| self.open(call, Code::Unavailable));
                if let Err(Ok(handle)) = reply.send(result.map_err(|e| e.to_status())) {
                    // The caller stopped waiting: nobody owns the call.
                    self.apply(Input::Cancel(handle.call));
                }
            }
            Input::Headers(call, metadata) => drop(self.conn.send_headers(call, &metadata)),
            Input::Encoding(call, encoding) => drop(self.conn.set_send_encoding(call, encoding)),
            Input::Send(call, message, compress, done) => {
                let queue = self.parked.entry(call).or_default();
                queue.push_back(Outgoing::Message(message, compress, done));
                self.unpark(call);
            }
            Input::CloseSend(call) => match self.parked.get_mut(&call) {
                // Keep order: half-close after the parked messages.
                Some(queue) => queue.push_back(Outgoing::CloseSend),
                None => drop(self.conn.close_send(call)),
            },
            Input::Finish(call, status, trailers) => {
                fail_parked(self.parked.remove(&call), &ended());
                let _ = self.conn.finish(call, &status, &trailers);
                self.inboxes.remove(&call);
            }
            Input::Cancel(call) => {
                fail_parked(self.parked.remove(&call), &ended());
                let _ = self.conn.cancel(call);
                self.inboxes.remove(&call);
            }
            Input::Consumed(call) => self.conn.message_consumed(call),
            Input::Shutdown => self.conn.shutdown(),
        }
    }

    /// Hands parked messages to the engine until it is full again.
    fn unpark(&mut self, call: CallId) {
        let Some(queue) = self.parked.get_mut(&call) else {
            return;
        };
        while let Some(item) = queue.pop_front() {
            let Outgoing::Message(message, compress, done) = item else {
                let _ = self.conn.close_send(call);
                continue;
            };
            match self.conn.send_message_with(call, message.clone(), compress) {
                Ok(()) => drop(done.send(Ok(()))),
                Err(CallError::Full(_)) => {
                    queue.push_front(Outgoing::Message(message, compress, done));
                    return;
                }
                Err(e) => drop(done.send(Err(e.to_status()))),
            }
        }
        self.parked.remove(&call);
    }
}

/// Parked sends of a call that ended fail with the reason it ended.
fn fail_parked(queue: Option<VecDeque<Outgoing>>, status: &Status) {
    for item in queue.into_iter().flatten() {
        if let Outgoing::Message(_, _, done) = item {
            let _ = done.send(Err(status.clone()));
        }
    }
}

/// One call's end of the connection, shared by client and server calls: its
/// inbox, what it has seen so far, and the command queue.
pub(crate) struct Handle {
    pub(crate) call: CallId,
    pub(crate) tx: Commands,
    /// Fired when the call ends with a non-OK status.
    pub(crate) cancel: CancelToken,
    /// Unbounded, but every message in it holds its flow-control credit, so
    /// the peer's window bounds it.
    inbox: mpsc::UnboundedReceiver<Event>,
    /// The code of a call whose connection vanished.
    gone: Code,
    /// Received, not yet handed out (their credit is still held), with
    /// their compressed flags.
    messages: VecDeque<(Bytes, bool)>,
    /// Whether the message last handed out arrived compressed.
    pub(crate) recv_compressed: bool,
    pub(crate) headers: Option<Metadata>,
    pub(crate) half_closed: bool,
    pub(crate) end: Option<(Status, Metadata)>,
}

impl Handle {
    /// The next received message, returning its credit to the peer.
    pub(crate) fn message(&mut self) -> Option<Bytes> {
        let (message, compressed) = self.messages.pop_front()?;
        let _ = self.tx.send(Input::Consumed(self.call));
        self.recv_compressed = compressed;
        Some(message)
    }

    /// Waits for one more item from the connection.
    pub(crate) async fn wait(&mut self) {
        let event = self.inbox.recv().await;
        self.note(event);
    }

    /// Takes in what has arrived, without waiting.
    pub(crate) fn poll(&mut self) {
        while self.end.is_none() {
            match self.inbox.try_recv() {
                Ok(event) => self.note(Some(event)),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.note(None),
            }
        }
    }

    fn note(&mut self, event: Option<Event>) {
        match event {
            Some(Event::Headers { metadata, .. }) => self.headers = Some(metadata),
            Some(Event::Message {
                message,
                compressed,
                ..
            }) => self.messages.push_back((message, compressed)),
            Some(Event::HalfClosed { .. }) => self.half_closed = true,
            Some(Event::Finished {
                status, trailers, ..
            }) => self.end = Some((status, trailers)),
            Some(Event::Cancelled { status, .. }) => self.end = Some((status, Metadata::new())),
            None if self.end.is_none() => self.end = Some((self.gone(), Metadata::new())),
            _ => {}
        }
    }

    fn gone(&self) -> Status {
        Status::new(self.gone, "the connection is gone")
    }

    /// Queues a message and waits until the engine took it. When the call
    /// has ended, the error is its status.
    pub(crate) async fn send(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if let Some((status, _)) = &self.end {
            return Err(status.clone());
        }
        let (done, wait) = oneshot::channel();
        let result = match self
            .tx
            .send(Input::Send(self.call, message, compress, done))
        {
            Ok(()) => wait.await.unwrap_or_else(|_| Err(self.gone())),
            Err(_) => Err(self.gone()),
        };
        result.map_err(|error| {
            self.poll();
            match &self.end {
                Some((status, _)) if !status.is_ok() => status.clone(),
                _ => error,
            }
        })
    }

    /// Ends the call from this side with `input`, unless it has ended.
    pub(crate) fn end_with(&mut self, status: Status, input: Input) {
        if self.end.is_none() {
            self.end = Some((status, Metadata::new()));
            let _ = self.tx.send(input);
        }
    }
}
