//! Call handles for adapters that drive a connection in one place and hand its
//! calls to threads or tasks elsewhere. What a handle answers (a send refused
//! because the server already ended the call, a handler that returns without a
//! status, a client that drops its call) is decided here, once; the adapter
//! only supplies the channel to its connection: a [`Link`].
//!
//! The blocking handles ([`ClientCall`], [`ServerCall`]) wait on [`channel`]s;
//! the async ones are in [`AsyncClientCall`](super::AsyncClientCall) and
//! [`AsyncServerCall`](super::AsyncServerCall). None of them reads a clock:
//! the adapter passes the call's start and its clock in an [`Origin`].

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{channel, CallDone, CallInbox, ClientStream, ServerStream, Session};
use super::{
    check_compression, CallContext, CallState, CancelToken, Clock, Command, Reply, Router,
};
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{ByteStr, CallId, Event, Request};

/// A handle's way to its connection's owner (the thread or task driving the
/// connection), which applies each command with
/// [`Switchboard::apply`](grpc_sansio::session::Switchboard::apply).
pub trait Link: Send + 'static {
    /// How the owner tells a send that the engine took its message.
    type Done: Reply + Send + 'static;
    /// Hands `command` to the owner; false once the connection is gone.
    fn command(&self, command: Command<Self::Done>) -> bool;
}

/// What a blocking send waits on.
pub type SendDone = channel::Sender<Result<(), Status>>;

/// Where a connection's server calls come from, shared by its calls.
pub struct Origin {
    /// The client's address (`ip:port`, or "unix").
    pub peer_addr: ByteStr,
    /// Our address (`ip:port`, or a unix socket's path).
    pub local_addr: ByteStr,
    /// The clock a call's start and the time left are read from.
    pub clock: Arc<dyn Clock>,
}

/// What both flavours of server handle keep beside their channel.
pub(crate) struct ServerHead {
    pub(crate) request: Request,
    pub(crate) origin: Arc<Origin>,
    /// When the handle was made: the call's deadline counts from here.
    pub(crate) started: Instant,
    pub(crate) cancel: CancelToken,
    pub(crate) headers_sent: bool,
    /// The last response message (and whether to compress it), held to go
    /// out with the call's end.
    pub(crate) last: Option<(Bytes, bool)>,
}

impl ServerHead {
    pub(crate) fn new(request: Request, origin: Arc<Origin>, cancel: CancelToken) -> Self {
        let started = origin.clock.now();
        ServerHead {
            request,
            origin,
            started,
            cancel,
            headers_sent: false,
            last: None,
        }
    }

    /// Holds `message` as the last response, to go out with the call's end.
    pub(crate) fn hold_last(&mut self, message: Bytes, compress: bool) {
        self.headers_sent = true;
        self.last = Some((message, compress));
    }

    /// What ends the call: its end alone, or the held last message with it.
    pub(crate) fn finish_command<R>(
        &mut self,
        call: CallId,
        status: Status,
        trailers: Metadata,
    ) -> Command<R> {
        match self.last.take() {
            Some((message, compress)) => {
                Command::SendAndFinish(call, message, compress, status, trailers)
            }
            None => Command::Finish(call, status, trailers),
        }
    }

    pub(crate) fn context(&self) -> CallContext {
        let origin = &self.origin;
        CallContext::with_token(&self.request, self.started, self.cancel.clone())
            .with_peer_addr(origin.peer_addr.clone())
            .with_local_addr(origin.local_addr.clone())
            .with_clock(origin.clock.clone())
    }

    /// Checks that responses may be compressed with `encoding` now.
    pub(crate) fn compression(&self, encoding: Encoding) -> Result<(), Status> {
        check_compression(&self.request, self.headers_sent, encoding)
    }
}

/// What a call whose connection is gone reports: UNAVAILABLE.
pub fn gone() -> Status {
    Status::new(Code::Unavailable, "the connection is gone")
}

pub(crate) fn unfinished() -> Status {
    Status::new(Code::Unknown, "the handler returned without a status")
}

pub(crate) fn cancelled() -> Status {
    Status::new(Code::Cancelled, "cancelled")
}

/// What the blocking and the async handle of each side have alike, written
/// once: `$inner` is the handle's end of the connection (`Blocking` or
/// `Waiting`), which has the call's `CallState`, its link and `poll`.
macro_rules! call_handle_common {
    (client $Call:ident [$($bound:tt)+]) => {
        impl<L: $($bound)+> $Call<L> {
            /// Half-closes: no more request messages.
            pub fn close_send(&mut self) {
                let call = self.inner.call;
                self.inner.link.command($crate::Command::CloseSend(call));
            }

            /// Whether the message the last `recv` returned arrived compressed.
            pub fn recv_compressed(&self) -> bool {
                self.inner.state.recv_compressed()
            }

            /// Cancels the call (RST_STREAM CANCEL), as dropping it does.
            pub fn cancel(self) {}

            fn cancel_now(&mut self) {
                let call = self.inner.call;
                let cancelled = $crate::handle::cancelled();
                self.inner.end_with(cancelled, $crate::Command::Cancel(call));
            }
        }

        impl<L: $($bound)+> Drop for $Call<L> {
            fn drop(&mut self) {
                self.cancel_now();
            }
        }
    };
    (server $Call:ident [$($bound:tt)+]) => {
        impl<L: $($bound)+> $Call<L> {
            /// The request head: path, metadata, deadline, encodings.
            pub fn request(&self) -> &Request {
                &self.head.request
            }

            /// The client's address (`ip:port`, or "unix").
            pub fn peer_addr(&self) -> &str {
                &self.head.origin.peer_addr
            }

            /// Our address (`ip:port`, or the unix socket's path).
            pub fn local_addr(&self) -> &str {
                &self.head.origin.local_addr
            }

            /// The service layer's view of the call: deadline, metadata,
            /// addresses and a cancellation token the connection fires.
            pub fn context(&self) -> CallContext {
                self.head.context()
            }

            /// Whether the message the last `recv` returned arrived compressed.
            pub fn recv_compressed(&self) -> bool {
                self.inner.state.recv_compressed()
            }

            /// Whether the call was cancelled (by the client, its deadline,
            /// or the connection), checked without waiting.
            pub fn is_cancelled(&mut self) -> bool {
                self.inner.poll();
                self.head.cancel.is_cancelled() || self.inner.state.is_over()
            }

            /// Sends the response headers with initial metadata (optional:
            /// the first message sends empty ones); after
            /// [`send_last`](Self::send_last), they still go before that
            /// message.
            pub fn send_headers(&mut self, metadata: Metadata) {
                self.head.headers_sent = true;
                let call = self.inner.call;
                self.inner.link.command($crate::Command::Headers(call, metadata));
            }

            /// Compresses the responses with `encoding`: before the headers,
            /// and only an encoding the client accepts.
            pub fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
                self.head.compression(encoding)?;
                let call = self.inner.call;
                self.inner.link.command($crate::Command::Encoding(call, encoding));
                Ok(())
            }

            /// Sends the last response message without waiting: it goes out
            /// with the call's end ([`finish`](Self::finish)), in one
            /// command. An error says the call has ended; a message the
            /// engine refuses (too large) ends the call with that refusal. A
            /// later send sends it first, as any message.
            pub fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
                self.send_last_with(message, true)
            }

            /// Holds `message` as the last response unless the call has ended.
            fn hold_last(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
                self.inner.poll();
                if let Some((status, _)) = self.inner.state.end() {
                    return Err(status.clone());
                }
                self.head.hold_last(message, compress);
                Ok(())
            }

            /// Ends the call with `status` and trailing metadata.
            pub fn finish(mut self, status: Status, trailers: Metadata) {
                self.finish_with(status, trailers);
            }
        }

        impl<L: $($bound)+> Drop for $Call<L> {
            fn drop(&mut self) {
                // Checked first: most calls have ended, and the status allocates.
                if self.inner.state.end().is_none() {
                    let unfinished = $crate::handle::unfinished();
                    self.finish_with(unfinished, Metadata::new());
                }
            }
        }
    };
}

pub(crate) use call_handle_common;

/// One call's end of the connection, blocking: its link, inbox and state.
struct Blocking<L> {
    call: CallId,
    link: L,
    inbox: channel::Receiver<Event>,
    state: CallState,
    /// Where the answer to the last send comes, not waited for yet (a server
    /// handle's send returns once the message before it was taken).
    unanswered: Option<channel::Receiver<Result<(), Status>>>,
}

impl<L: Link<Done = SendDone>> Blocking<L> {
    fn command(&self, command: fn(CallId) -> Command<SendDone>) {
        self.link.command(command(self.call));
    }

    /// Waits for the next event (the inbox closing means the connection is gone).
    fn wait(&mut self) {
        self.state.note(self.inbox.recv());
    }

    /// Takes in what has arrived, without waiting.
    fn poll(&mut self) {
        while let Some(event) = self.inbox.try_recv() {
            self.state.note(Some(event));
        }
    }

    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        // What has arrived goes in first: a call cancelled after its
        // half-close answers its status, not `Ok(None)` forever (a handler
        // reading until an error would spin, holding its worker).
        self.poll();
        loop {
            if let Some(answer) = self.state.poll_recv() {
                if let Ok(Some(_)) = answer {
                    self.command(Command::Consumed);
                }
                return answer;
            }
            self.wait();
        }
    }

    /// Queues a message (and with `last`, the half-close right behind it)
    /// and waits until the engine took it. When the call has ended, the error
    /// is its status.
    fn send(&mut self, message: Bytes, compress: bool, last: bool) -> Result<(), Status> {
        let taken = self.queue(message, compress, last);
        self.answer(taken)
    }

    /// Queues a message and returns once the one before it was taken: the
    /// handle and the connection work side by side, and at most one message
    /// waits beyond what the engine holds. A refusal is reported by the next
    /// send, [`settle`](Self::settle), or the call's end.
    fn send_behind(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.settle()?;
        let taken = self.queue(message, compress, false);
        if taken.is_err() {
            return self.answer(taken);
        }
        self.unanswered = taken.ok();
        Ok(())
    }

    /// Waits for the answer to the last send, if not waited for yet.
    fn settle(&mut self) -> Result<(), Status> {
        match self.unanswered.take() {
            Some(taken) => self.answer(Ok(taken)),
            None => Ok(()),
        }
    }

    /// Queues a message; its answer comes on the receiver. `Err`: not sent.
    fn queue(
        &mut self,
        message: Bytes,
        compress: bool,
        last: bool,
    ) -> Result<channel::Receiver<Result<(), Status>>, Status> {
        if let Some((status, _)) = self.state.end() {
            return Err(status.clone());
        }
        let (done, taken) = channel::channel();
        let sent = self
            .link
            .command(Command::Send(self.call, message, compress, done));
        if !sent {
            return Err(gone());
        }
        if last {
            self.command(Command::CloseSend);
        }
        Ok(taken)
    }

    /// Waits for a send's answer: its refusal, or the call's own end when it
    /// ended first.
    fn answer(
        &mut self,
        taken: Result<channel::Receiver<Result<(), Status>>, Status>,
    ) -> Result<(), Status> {
        let result = taken.and_then(|taken| taken.recv().unwrap_or_else(|| Err(gone())));
        result.map_err(|refused| {
            // If the call already ended (the server answered first), its end
            // is queued behind what we have not read: report that instead.
            self.poll();
            self.state.refusal(refused)
        })
    }

    /// Ends the call from this side with `command`, unless it has ended.
    fn end_with(&mut self, status: Status, command: Command<SendDone>) {
        if self.state.end_here(status) {
            self.link.command(command);
        }
    }
}

/// The client side of one call, blocking. Dropping it before the end cancels
/// the call (RST_STREAM CANCEL).
pub struct ClientCall<L: Link<Done = SendDone>> {
    inner: Blocking<L>,
}

impl<L: Link<Done = SendDone>> ClientCall<L> {
    /// The handle of `call`, whose events arrive in `inbox`.
    pub fn new(call: CallId, link: L, inbox: channel::Receiver<Event>) -> Self {
        let state = CallState::client();
        let inner = Blocking {
            call,
            link,
            inbox,
            state,
            unanswered: None,
        };
        ClientCall { inner }
    }

    /// Sends a request message, blocking while the send buffer is full.
    pub fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.inner.send(message, compress, false)
    }

    /// Sends the last request message and half-closes, without waiting in
    /// between: the end of the stream goes out with the message.
    pub fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        self.inner.send(message, true, true)
    }

    /// The server's initial metadata, waiting for it if needed (empty for a
    /// Trailers-Only response).
    pub fn headers(&mut self) -> Result<&Metadata, Status> {
        while self.inner.state.poll_headers().is_none() {
            self.inner.wait();
        }
        Ok(self.inner.state.poll_headers().expect("just seen"))
    }

    /// The next response message; `Ok(None)` when the call ended with OK;
    /// `Err(status)` when it ended otherwise.
    pub fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.inner.recv()
    }

    /// Waits for the end of the call (discarding unread messages) and returns
    /// its status and trailing metadata.
    pub fn finish(mut self) -> (Status, Metadata) {
        self.wait_end()
    }

    fn wait_end(&mut self) -> (Status, Metadata) {
        while let Ok(Some(_)) = self.inner.recv() {}
        self.inner
            .state
            .end()
            .cloned()
            .expect("recv returned the end")
    }
}

call_handle_common!(client ClientCall [Link<Done = SendDone>]);

impl<L: Link<Done = SendDone>> ClientCall<L> {
    /// A refused send (too large, say) ends the call, so `finish` returns at
    /// once.
    fn cancel_if_refused(&mut self, result: Result<(), Status>) -> Result<(), Status> {
        if result.is_err() {
            self.cancel_now();
        }
        result
    }
}

impl<L: Link<Done = SendDone>> ClientStream for ClientCall<L> {
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        let result = ClientCall::send_with(self, message, compress);
        self.cancel_if_refused(result)
    }
    fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        let result = ClientCall::send_last(self, message);
        self.cancel_if_refused(result)
    }
    fn close_send(&mut self) {
        ClientCall::close_send(self)
    }
    fn headers(&mut self) -> Result<Metadata, Status> {
        ClientCall::headers(self).cloned()
    }
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        ClientCall::recv(self)
    }
    fn recv_compressed(&self) -> bool {
        ClientCall::recv_compressed(self)
    }
    fn finish(&mut self) -> (Status, Metadata) {
        self.wait_end()
    }
    fn cancel(&mut self) {
        self.cancel_now()
    }
}

/// The server side of one call, blocking, for a handler on its own thread.
///
/// Dropping it without [`finish`](Self::finish) ends the call with UNKNOWN.
pub struct ServerCall<L: Link<Done = SendDone>> {
    inner: Blocking<L>,
    head: ServerHead,
}

impl<L: Link<Done = SendDone>> ServerCall<L> {
    /// The handle of `call`, whose events arrive in `inbox`; `cancel` is the
    /// token [`Switchboard::attach`](grpc_sansio::session::Switchboard::attach) returned.
    pub fn new(
        call: CallId,
        request: Request,
        link: L,
        inbox: channel::Receiver<Event>,
        origin: Arc<Origin>,
        cancel: CancelToken,
    ) -> Self {
        let state = CallState::server();
        let inner = Blocking {
            call,
            link,
            inbox,
            state,
            unanswered: None,
        };
        let head = ServerHead::new(request, origin, cancel);
        ServerCall { inner, head }
    }

    /// The handle of a new `call` of `session` (a connection that serves
    /// calls both ways), attached to it with `events` (what was seen of the
    /// call so far) first in its inbox; the session routes the rest. Their
    /// messages' credit goes back as the handler takes them.
    pub fn attach(
        session: &mut Session<CallInbox, CallDone>,
        call: CallId,
        request: Request,
        events: Vec<Event>,
        link: L,
        origin: Arc<Origin>,
    ) -> Self {
        let (tx, inbox) = channel::channel();
        for event in events {
            tx.send(event);
        }
        let cancel = session.attach(call, CallInbox::Channel(tx));
        ServerCall::new(call, request, link, inbox, origin, cancel)
    }

    /// Serves the call with `router` (unknown methods are answered
    /// UNIMPLEMENTED) and finishes it with the outcome.
    pub fn serve(mut self, router: &Router) {
        let context = self.context();
        let outcome = router.dispatch(&mut self, context);
        self.finish(outcome.status, outcome.trailers);
    }

    /// The next request message; `Ok(None)` once the client half-closed;
    /// `Err` with CANCELLED or DEADLINE_EXCEEDED once the call is cancelled.
    pub fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.inner.settle()?;
        self.inner.recv()
    }

    /// Sends a response message, blocking while the connection's send buffer
    /// is full: it returns once the message before it was taken, so the
    /// handler makes the next while the connection sends this one. An error
    /// says why the call ended, or that the engine refused the message before
    /// (too large); a refusal of the last one ends the call with it.
    pub fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.send_held()?;
        self.head.headers_sent = true;
        self.inner.send_behind(message, compress)
    }

    /// [`send_last`](Self::send_last), uncompressed when `compress` is false.
    pub fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.send_held()?;
        self.hold_last(message, compress)
    }

    /// Sends a held last message as an ordinary one.
    fn send_held(&mut self) -> Result<(), Status> {
        match self.head.last.take() {
            Some((message, compress)) => self.inner.send_behind(message, compress),
            None => Ok(()),
        }
    }

    fn finish_with(&mut self, status: Status, trailers: Metadata) {
        // A message the engine refused ends the call with that refusal.
        let status = match self.inner.settle() {
            Err(refused) if status.is_ok() => refused,
            _ => status,
        };
        let finish = self
            .head
            .finish_command(self.inner.call, status.clone(), trailers);
        self.inner.end_with(status, finish);
    }
}

impl<L: Link<Done = SendDone>> ServerStream for ServerCall<L> {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        ServerCall::recv(self)
    }
    fn recv_compressed(&self) -> bool {
        ServerCall::recv_compressed(self)
    }
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        ServerCall::send_headers(self, metadata);
        Ok(())
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        ServerCall::set_compression(self, encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        ServerCall::send_with(self, message, compress)
    }
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        ServerCall::send_last_with(self, message, compress)
    }
}

call_handle_common!(server ServerCall [Link<Done = SendDone>]);

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::thread;

    use super::*;
    use crate::testing::request_head;
    use grpc_sansio::grpc::compression::EncodingSet;
    use grpc_sansio::h2::StreamId;

    /// Hands every command to the test, which plays the connection's owner.
    struct Recorder(Sender<Command<SendDone>>);

    impl Link for Recorder {
        type Done = SendDone;
        fn command(&self, command: Command<SendDone>) -> bool {
            self.0.send(command).is_ok()
        }
    }

    fn id() -> CallId {
        CallId::from_stream_id(StreamId::new(1))
    }

    fn server(
        accept: EncodingSet,
    ) -> (
        ServerCall<Recorder>,
        Receiver<Command<SendDone>>,
        channel::Sender<Event>,
    ) {
        let (commands, owner) = mpsc::channel();
        let (deliver, inbox) = channel::channel();
        let origin = Arc::new(Origin {
            peer_addr: "10.0.0.1:5000".into(),
            local_addr: "10.0.0.2:50051".into(),
            clock: Arc::new(Instant::now),
        });
        let call = ServerCall::new(
            id(),
            request_head(accept),
            Recorder(commands),
            inbox,
            origin,
            CancelToken::new(),
        );
        (call, owner, deliver)
    }

    #[test]
    fn a_handler_that_returns_without_a_status_ends_the_call_with_unknown() {
        let (call, owner, _deliver) = server(EncodingSet::all());
        assert_eq!(call.context().peer_addr(), Some("10.0.0.1:5000"));
        drop(call);
        let Ok(Command::Finish(_, status, _)) = owner.try_recv() else {
            panic!("the dropped handle finishes the call");
        };
        assert_eq!(status.code(), Code::Unknown);
        assert!(owner.try_recv().is_err(), "once");
    }

    #[test]
    fn a_finished_call_is_finished_once_and_messages_are_reported_consumed() {
        let (mut call, owner, deliver) = server(EncodingSet::all());
        let message = Bytes::from_static(b"m");
        let compressed = true;
        assert!(deliver.send(Event::Message {
            call: id(),
            message,
            compressed,
        }));
        assert_eq!(call.recv().unwrap().as_deref(), Some(&b"m"[..]));
        assert!(call.recv_compressed());
        assert!(matches!(owner.try_recv(), Ok(Command::Consumed(_))));
        call.finish(Status::ok(), Metadata::new());
        assert!(matches!(owner.try_recv(), Ok(Command::Finish(..))));
        assert!(owner.try_recv().is_err(), "no second finish from the drop");
    }

    #[test]
    fn a_call_cancelled_after_its_half_close_answers_its_status() {
        let (mut call, _owner, deliver) = server(EncodingSet::all());
        assert!(deliver.send(Event::HalfClosed { call: id() }));
        assert_eq!(call.recv(), Ok(None));
        assert_eq!(call.recv(), Ok(None), "the end of the stream, again");
        let status = Status::new(Code::DeadlineExceeded, "deadline exceeded");
        assert!(deliver.send(Event::Cancelled { call: id(), status }));
        let err = call.recv().unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded);
    }

    #[test]
    fn the_last_response_goes_with_the_end_in_one_command_and_nothing_waits() {
        let (mut call, owner, _deliver) = server(EncodingSet::all());
        // No one answers sends here: a send that waited would hang the test.
        call.send_last_with(Bytes::from_static(b"only"), false)
            .unwrap();
        assert!(owner.try_recv().is_err(), "held until the end");
        call.finish(Status::ok(), Metadata::new());
        let Ok(Command::SendAndFinish(_, message, compress, status, _)) = owner.try_recv() else {
            panic!("one command with the message and the end");
        };
        assert_eq!(
            (&message[..], compress, status.code()),
            (&b"only"[..], false, Code::Ok)
        );
        assert!(
            owner.try_recv().is_err(),
            "nothing else, not even from the drop"
        );
    }

    #[test]
    fn a_send_after_the_last_response_sends_it_first() {
        let (mut call, owner, _deliver) = server(EncodingSet::all());
        call.send_last(Bytes::from_static(b"first")).unwrap();
        let connection = thread::spawn(move || {
            let mut sent = Vec::new();
            while let Ok(command) = owner.recv() {
                if let Command::Send(_, message, _, done) = command {
                    sent.push(message);
                    assert!(done.send(Ok(())));
                }
            }
            sent
        });
        call.send(Bytes::from_static(b"second")).unwrap();
        drop(call);
        assert_eq!(connection.join().unwrap(), ["first", "second"]);
    }

    #[test]
    fn a_response_send_returns_once_the_message_before_it_was_taken() {
        let (mut call, owner, _deliver) = server(EncodingSet::all());
        // Nobody answers yet: the first send does not wait.
        call.send(Bytes::from_static(b"one")).unwrap();
        let Ok(Command::Send(_, _, _, first)) = owner.try_recv() else {
            panic!("the first message is queued");
        };
        let connection = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(30));
            assert!(first.send(Ok(())));
            owner
        });
        // The second waits for the first's answer.
        call.send(Bytes::from_static(b"two")).unwrap();
        let owner = connection.join().unwrap();
        assert!(matches!(owner.try_recv(), Ok(Command::Send(..))));
    }

    #[test]
    fn a_refused_response_is_reported_and_ends_the_call_with_the_refusal() {
        let (mut call, owner, _deliver) = server(EncodingSet::all());
        let too_large = Status::new(Code::ResourceExhausted, "a message of 9 octets exceeds 4");
        call.send(Bytes::from_static(b"too large")).unwrap();
        let Ok(Command::Send(_, _, _, done)) = owner.try_recv() else {
            panic!("a send");
        };
        assert!(done.send(Err(too_large.clone())));
        // The handler returns OK; the call ends with what the engine said.
        call.finish(Status::ok(), Metadata::new());
        let Ok(Command::Finish(_, status, _)) = owner.try_recv() else {
            panic!("the end");
        };
        assert_eq!(status.code(), Code::ResourceExhausted);

        let (mut call, owner, _deliver) = server(EncodingSet::all());
        call.send(Bytes::from_static(b"too large")).unwrap();
        let Ok(Command::Send(_, _, _, done)) = owner.try_recv() else {
            panic!("a send");
        };
        assert!(done.send(Err(too_large)));
        let next = call.send(Bytes::from_static(b"next")).unwrap_err();
        assert_eq!(
            next.code(),
            Code::ResourceExhausted,
            "the next send says so"
        );
    }

    #[test]
    fn the_last_response_of_an_ended_call_is_refused_with_its_status() {
        let (mut call, owner, deliver) = server(EncodingSet::all());
        let status = Status::new(Code::Cancelled, "the client reset the stream");
        assert!(deliver.send(Event::Cancelled { call: id(), status }));
        let err = call.send_last(Bytes::from_static(b"late")).unwrap_err();
        assert_eq!(err.code(), Code::Cancelled);
        drop(call);
        assert!(owner.try_recv().is_err(), "nothing sent, the call is over");
    }

    #[test]
    fn compression_is_chosen_before_the_headers_and_only_as_accepted() {
        let (mut call, _owner, _deliver) = server(EncodingSet::from(Encoding::Identity));
        let refused = call.set_compression(Encoding::Gzip).unwrap_err();
        assert_eq!(refused.code(), Code::Internal);
        let (mut call, owner, _deliver) = server(EncodingSet::all());
        call.send_headers(Metadata::new());
        assert!(call.set_compression(Encoding::Gzip).is_err(), "too late");
        assert!(matches!(owner.try_recv(), Ok(Command::Headers(..))));
        assert!(owner.try_recv().is_err(), "no encoding command");
    }

    #[test]
    fn the_last_message_and_the_half_close_are_queued_before_the_send_is_answered() {
        let (commands, owner) = mpsc::channel();
        let (_deliver, inbox) = channel::channel();
        let mut call = ClientCall::new(id(), Recorder(commands), inbox);
        let connection = thread::spawn(move || {
            let Ok(Command::Send(_, message, _, done)) = owner.recv() else {
                panic!("a send");
            };
            // The half-close is already here, before the send is answered:
            // the connection can put END_STREAM on the message's frame.
            assert!(matches!(owner.recv(), Ok(Command::CloseSend(_))));
            assert!(done.send(Ok(())));
            message
        });
        call.send_last(Bytes::from_static(b"only")).unwrap();
        assert_eq!(connection.join().unwrap(), "only");
    }

    #[test]
    fn a_send_refused_after_the_server_ended_the_call_reports_that_end() {
        let (commands, owner) = mpsc::channel();
        let (deliver, inbox) = channel::channel();
        let mut call = ClientCall::new(id(), Recorder(commands), inbox);
        // The owner ends the call, then refuses the send that raced it.
        let connection = thread::spawn(move || {
            let Ok(Command::Send(call, _, _, done)) = owner.recv() else {
                panic!("a send");
            };
            let status = Status::new(Code::Unimplemented, "no such method");
            let trailers = Metadata::new();
            assert!(deliver.send(Event::Finished {
                call,
                status,
                trailers,
            }));
            assert!(done.send(Err(Status::new(Code::Internal, "call is closed"))));
            owner
        });
        let err = call.send(Bytes::from_static(b"late")).unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        let owner = connection.join().unwrap();
        drop(call);
        assert!(owner.try_recv().is_err(), "an ended call is not cancelled");
    }

    #[test]
    fn a_dropped_client_call_is_cancelled_and_a_lost_connection_is_unavailable() {
        let (commands, owner) = mpsc::channel();
        let (deliver, inbox) = channel::channel::<Event>();
        let call = ClientCall::new(id(), Recorder(commands), inbox);
        drop(call);
        assert!(matches!(owner.try_recv(), Ok(Command::Cancel(_))));
        drop(deliver);

        let (commands, owner) = mpsc::channel();
        let (deliver, inbox) = channel::channel::<Event>();
        let mut call = ClientCall::new(id(), Recorder(commands), inbox);
        drop(deliver);
        assert_eq!(call.recv().unwrap_err().code(), Code::Unavailable);
        drop(owner);
        assert_eq!(
            call.send(Bytes::new()).unwrap_err().code(),
            Code::Unavailable
        );
    }
}
