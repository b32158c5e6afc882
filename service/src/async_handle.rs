//! The async twins of the blocking call handles in [`handle`](super::handle):
//! the same answers, waiting on the adapter's runtime through an
//! [`AsyncLink`], naming none.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::handle::{call_handle_common, gone, Link, Origin, ServerHead};
use super::{AsyncClientStream, AsyncRouter, AsyncServerStream, BoxFuture, CallContext, CallState};
use super::{CancelToken, Command};
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, Event, Request};

/// An async handle's way to its connection's owner and its call's inbox.
pub trait AsyncLink: Link {
    /// Hands `Send(call, message, compress)` to the owner at once (a
    /// half-close commanded next must follow it), and waits for the reply;
    /// `None` once the connection is gone.
    fn send(
        &self,
        call: CallId,
        message: Bytes,
        compress: bool,
    ) -> impl Future<Output = Option<Result<(), Status>>> + Send;
    /// The call's next event; `None` once the connection is gone.
    fn next(&mut self) -> impl Future<Output = Option<Event>> + Send;
    /// The next event if one has arrived: `None` if not, `Some(None)` once
    /// the connection is gone.
    fn try_next(&mut self) -> Option<Option<Event>>;
}

/// One call's end of the connection, async: its link and state.
struct Waiting<L> {
    call: CallId,
    link: L,
    state: CallState,
}

impl<L: AsyncLink> Waiting<L> {
    async fn wait(&mut self) {
        let event = self.link.next().await;
        self.state.note(event);
    }

    fn poll(&mut self) {
        while let Some(event) = self.link.try_next() {
            let gone = event.is_none();
            self.state.note(event);
            if gone {
                return;
            }
        }
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        // What has arrived goes in first: a call cancelled after its
        // half-close answers its status, not `Ok(None)` forever.
        self.poll();
        loop {
            if let Some(answer) = self.take() {
                return answer;
            }
            self.wait().await;
        }
    }

    /// What `recv` answers from what has arrived (taken in), if anything.
    fn try_recv(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        self.poll();
        self.take()
    }

    /// The next answer of the call's state; a message taken is consumed.
    fn take(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        let answer = self.state.poll_recv()?;
        if let Ok(Some(_)) = answer {
            self.link.command(Command::Consumed(self.call));
        }
        Some(answer)
    }

    /// Queues a message (and with `last`, the half-close right behind it)
    /// and waits until the engine took it.
    async fn send(&mut self, message: Bytes, compress: bool, last: bool) -> Result<(), Status> {
        if let Some((status, _)) = self.state.end() {
            return Err(status.clone());
        }
        let taken = self.link.send(self.call, message, compress);
        if last {
            self.link.command(Command::CloseSend(self.call));
        }
        let taken = taken.await;
        taken.unwrap_or_else(|| Err(gone())).map_err(|refused| {
            // If the call already ended (the server answered first), its end
            // is queued behind what we have not read: report that instead.
            self.poll();
            self.state.refusal(refused)
        })
    }

    fn end_with(&mut self, status: Status, command: Command<L::Done>) {
        if self.state.end_here(status) {
            self.link.command(command);
        }
    }
}

/// The client side of one call, async. Dropping it before the end cancels
/// the call (RST_STREAM CANCEL).
pub struct AsyncClientCall<L: AsyncLink> {
    inner: Waiting<L>,
}

impl<L: AsyncLink> AsyncClientCall<L> {
    /// The handle of `call`.
    pub fn new(call: CallId, link: L) -> Self {
        let state = CallState::client();
        AsyncClientCall {
            inner: Waiting { call, link, state },
        }
    }

    /// Sends a request message, waiting while the send buffer is full. An
    /// error is the call's status when it has ended, or why the message was
    /// refused.
    pub async fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.inner.send(message, true, false).await
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub async fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.inner.send(message, compress, false).await
    }

    /// Sends the last request message and half-closes, without waiting in
    /// between: the end of the stream goes out with the message.
    pub async fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        self.inner.send(message, true, true).await
    }

    /// The server's initial metadata, waiting for it if needed (empty for a
    /// Trailers-Only response).
    pub async fn headers(&mut self) -> Result<&Metadata, Status> {
        while self.inner.state.poll_headers().is_none() {
            self.inner.wait().await;
        }
        Ok(self.inner.state.poll_headers().expect("just seen"))
    }

    /// The next response message; `Ok(None)` when the call ended with OK;
    /// `Err(status)` when it ended otherwise.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.inner.recv().await
    }

    /// Waits for the end of the call (discarding unread messages) and returns
    /// its status and trailing metadata.
    pub async fn finish(mut self) -> (Status, Metadata) {
        self.wait_end().await
    }

    async fn wait_end(&mut self) -> (Status, Metadata) {
        while let Ok(Some(_)) = self.inner.recv().await {}
        self.inner
            .state
            .end()
            .cloned()
            .expect("recv returned the end")
    }
}

call_handle_common!(client AsyncClientCall [AsyncLink]);

impl<L: AsyncLink> AsyncClientCall<L> {
    /// A refused send (too large, say) ends the call, so `finish` returns at
    /// once.
    async fn send_or_cancel(
        &mut self,
        message: Bytes,
        compress: bool,
        last: bool,
    ) -> Result<(), Status> {
        let result = self.inner.send(message, compress, last).await;
        if result.is_err() {
            self.cancel_now();
        }
        result
    }
}

impl<L: AsyncLink> AsyncClientStream for AsyncClientCall<L> {
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(self.send_or_cancel(message, compress, false))
    }
    fn send_last(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(self.send_or_cancel(message, true, true))
    }
    fn close_send(&mut self) -> BoxFuture<'_, ()> {
        AsyncClientCall::close_send(self);
        Box::pin(std::future::ready(()))
    }
    fn headers(&mut self) -> BoxFuture<'_, Result<Metadata, Status>> {
        Box::pin(async move { AsyncClientCall::headers(self).await.cloned() })
    }
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(self.inner.recv())
    }
    fn recv_compressed(&self) -> bool {
        AsyncClientCall::recv_compressed(self)
    }
    fn finish(&mut self) -> BoxFuture<'_, (Status, Metadata)> {
        Box::pin(self.wait_end())
    }
    fn cancel(&mut self) {
        self.cancel_now();
    }
}

/// A call handler for an adapter that polls handlers where it reads their
/// calls: an async function of the call's handle, one future per call.
/// Implemented by every `Fn(AsyncServerCall<L>) -> impl Future<Output = ()>`.
///
/// It must not block (no blocking I/O, no `std::thread::sleep`, no lock held
/// for long): while its future runs, the thread that drives its connection
/// serves nothing else. Awaiting is fine, whatever wakes it: the call's own
/// events, or a future completed on another thread (the waker wakes the
/// driving thread). A handler that panics ends its call with UNKNOWN.
pub trait AsyncHandler<L: AsyncLink>: Send + Sync + 'static {
    /// The future that serves one call.
    type Future: Future<Output = ()> + Send + 'static;
    /// Starts serving `call`.
    fn call(&self, call: AsyncServerCall<L>) -> Self::Future;
}

impl<L, F, Fut> AsyncHandler<L> for F
where
    L: AsyncLink,
    F: Fn(AsyncServerCall<L>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Future = Fut;
    fn call(&self, call: AsyncServerCall<L>) -> Fut {
        self(call)
    }
}

/// The server side of one call, async, for a handler in its own task.
///
/// Dropping it without [`finish`](Self::finish) ends the call with UNKNOWN.
pub struct AsyncServerCall<L: AsyncLink> {
    inner: Waiting<L>,
    head: ServerHead,
}

impl<L: AsyncLink> AsyncServerCall<L> {
    /// The handle of `call`; `cancel` is the token
    /// [`Switchboard::attach`](grpc_sansio::session::Switchboard::attach) returned.
    pub fn new(
        call: CallId,
        request: Request,
        link: L,
        origin: Arc<Origin>,
        cancel: CancelToken,
    ) -> Self {
        let state = CallState::server();
        AsyncServerCall {
            inner: Waiting { call, link, state },
            head: ServerHead::new(request, origin, cancel),
        }
    }

    /// Serves the call with `router` (unknown methods are answered
    /// UNIMPLEMENTED) and finishes it with the outcome.
    pub async fn serve(mut self, router: &AsyncRouter) {
        let context = self.context();
        let outcome = router.dispatch(&mut self, context).await;
        self.finish(outcome.status, outcome.trailers);
    }

    /// The next request message; `Ok(None)` once the client half-closed;
    /// `Err` with CANCELLED or DEADLINE_EXCEEDED once the call is cancelled.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.inner.recv().await
    }

    /// Waits until the call is cancelled and says why. Messages that arrive
    /// meanwhile stay for [`recv`](Self::recv).
    pub async fn cancelled(&mut self) -> Status {
        loop {
            if let Some((status, _)) = self.inner.state.end() {
                return status.clone();
            }
            self.inner.wait().await;
        }
    }

    /// Sends a response message, waiting while the connection's send buffer
    /// is full. An error says why the call ended.
    pub async fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true).await
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub async fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if let Some((held, compress)) = self.head.last.take() {
            self.inner.send(held, compress, false).await?;
        }
        self.head.headers_sent = true;
        self.inner.send(message, compress, false).await
    }

    /// [`send_last`](Self::send_last), uncompressed when `compress` is false.
    pub fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if self.head.last.is_some() {
            return Err(Status::new(Code::Internal, "a second last message"));
        }
        self.hold_last(message, compress)
    }

    fn finish_with(&mut self, status: Status, trailers: Metadata) {
        let finish = self
            .head
            .finish_command(self.inner.call, status.clone(), trailers);
        self.inner.end_with(status, finish);
    }
}

impl<L: AsyncLink> AsyncServerStream for AsyncServerCall<L> {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(self.inner.recv())
    }
    fn try_recv(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        self.inner.try_recv()
    }
    fn recv_compressed(&self) -> bool {
        AsyncServerCall::recv_compressed(self)
    }
    fn send_headers(&mut self, metadata: Metadata) -> BoxFuture<'_, Result<(), Status>> {
        AsyncServerCall::send_headers(self, metadata);
        Box::pin(std::future::ready(Ok(())))
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        AsyncServerCall::set_compression(self, encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(AsyncServerCall::send_with(self, message, compress))
    }
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        AsyncServerCall::send_last_with(self, message, compress)
    }
}

call_handle_common!(server AsyncServerCall [AsyncLink]);

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::time::Instant;

    use super::*;
    use crate::handle::SendDone;
    use crate::testing::{block_on, request_head};
    use grpc_sansio::grpc::compression::EncodingSet;
    use grpc_sansio::grpc::status::Code;
    use grpc_sansio::h2::StreamId;

    /// Commands (sends too, when made) go to the test; events are queued
    /// before the handle waits (an empty inbox reads as a connection that is
    /// gone); sends get `answer`.
    struct Scripted {
        commands: Sender<Command<SendDone>>,
        inbox: Receiver<Event>,
        answer: Option<Result<(), Status>>,
    }

    impl Link for Scripted {
        type Done = SendDone;
        fn command(&self, command: Command<SendDone>) -> bool {
            self.commands.send(command).is_ok()
        }
    }

    impl AsyncLink for Scripted {
        fn send(
            &self,
            call: CallId,
            message: Bytes,
            compress: bool,
        ) -> impl Future<Output = Option<Result<(), Status>>> + Send {
            let (done, _) = crate::channel::channel();
            self.command(Command::Send(call, message, compress, done));
            std::future::ready(self.answer.clone())
        }
        fn next(&mut self) -> impl Future<Output = Option<Event>> + Send {
            std::future::ready(self.inbox.try_recv().ok())
        }
        fn try_next(&mut self) -> Option<Option<Event>> {
            self.inbox.try_recv().ok().map(Some)
        }
    }

    fn id() -> CallId {
        CallId::from_stream_id(StreamId::new(1))
    }

    /// An uncompressed request message of the call.
    fn message(text: &'static [u8]) -> Event {
        Event::Message {
            call: id(),
            message: Bytes::from_static(text),
            compressed: false,
        }
    }

    fn scripted(
        answer: Option<Result<(), Status>>,
    ) -> (Scripted, Receiver<Command<SendDone>>, Sender<Event>) {
        let (commands, owner) = mpsc::channel();
        let (deliver, inbox) = mpsc::channel();
        let link = Scripted {
            commands,
            inbox,
            answer,
        };
        (link, owner, deliver)
    }

    fn server(link: Scripted) -> AsyncServerCall<Scripted> {
        let request = request_head(EncodingSet::all());
        let origin = Arc::new(Origin {
            peer_addr: "unix".into(),
            local_addr: "/tmp/s.sock".into(),
            clock: Arc::new(Instant::now),
        });
        AsyncServerCall::new(id(), request, link, origin, CancelToken::new())
    }

    #[test]
    fn a_dropped_server_call_ends_with_unknown_once() {
        let (link, owner, _deliver) = scripted(Some(Ok(())));
        let mut call = server(link);
        block_on(call.send(Bytes::from_static(b"m"))).unwrap();
        assert!(matches!(owner.try_recv(), Ok(Command::Send(..))));
        drop(call);
        let Ok(Command::Finish(_, status, _)) = owner.try_recv() else {
            panic!("the drop finishes the call");
        };
        assert_eq!(status.code(), Code::Unknown);
        assert!(owner.try_recv().is_err());
    }

    #[test]
    fn the_last_response_goes_with_the_end_without_a_wait() {
        // `None`: a send that waited for its answer would read "gone".
        let (link, owner, _deliver) = scripted(None);
        let mut call = server(link);
        call.send_last(Bytes::from_static(b"only")).unwrap();
        let second = call.send_last(Bytes::from_static(b"again")).unwrap_err();
        assert_eq!(second.code(), Code::Internal);
        call.finish(Status::ok(), Metadata::new());
        let Ok(Command::SendAndFinish(_, message, _, status, _)) = owner.try_recv() else {
            panic!("one command with the message and the end");
        };
        assert_eq!((&message[..], status.code()), (&b"only"[..], Code::Ok));
        assert!(owner.try_recv().is_err());
    }

    #[test]
    fn try_recv_answers_what_has_arrived_and_nothing_else() {
        let (link, owner, deliver) = scripted(None);
        let mut call = server(link);
        assert!(
            AsyncServerStream::try_recv(&mut call).is_none(),
            "nothing yet"
        );
        deliver.send(message(b"here")).unwrap();
        deliver.send(Event::HalfClosed { call: id() }).unwrap();
        let got = AsyncServerStream::try_recv(&mut call);
        assert_eq!(got, Some(Ok(Some(Bytes::from_static(b"here")))));
        assert!(matches!(owner.try_recv(), Ok(Command::Consumed(_))));
        assert_eq!(AsyncServerStream::try_recv(&mut call), Some(Ok(None)));
    }

    #[test]
    fn cancelled_says_why_and_leaves_earlier_messages_for_recv() {
        let (link, owner, deliver) = scripted(None);
        let mut call = server(link);
        deliver.send(message(b"early")).unwrap();
        let status = Status::new(Code::Cancelled, "the client reset the stream");
        deliver
            .send(Event::Cancelled { call: id(), status })
            .unwrap();
        assert_eq!(block_on(call.cancelled()).code(), Code::Cancelled);
        assert!(call.is_cancelled());
        let early = block_on(call.recv()).unwrap();
        assert_eq!(early.as_deref(), Some(&b"early"[..]));
        assert!(matches!(owner.try_recv(), Ok(Command::Consumed(_))));
        drop(call);
        assert!(
            owner.try_recv().is_err(),
            "an ended call is not finished again"
        );
    }

    #[test]
    fn a_client_send_refused_after_the_server_ended_reports_that_end() {
        let refused = Status::new(Code::Internal, "call is closed");
        let (link, owner, deliver) = scripted(Some(Err(refused)));
        let mut call = AsyncClientCall::new(id(), link);
        let status = Status::new(Code::Unimplemented, "no such method");
        let trailers = Metadata::new();
        deliver
            .send(Event::Finished {
                call: id(),
                status,
                trailers,
            })
            .unwrap();
        let err = block_on(call.send(Bytes::from_static(b"late"))).unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
        assert!(matches!(owner.try_recv(), Ok(Command::Send(..))));
        let (status, _) = block_on(call.finish());
        assert_eq!(status.code(), Code::Unimplemented);
        assert!(owner.try_recv().is_err(), "an ended call is not cancelled");
    }

    #[test]
    fn a_lost_connection_is_unavailable_to_the_client() {
        let (link, owner, deliver) = scripted(None);
        let mut call = AsyncClientCall::new(id(), link);
        drop(deliver);
        let err = block_on(call.send(Bytes::new())).unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        drop(call);
        assert!(matches!(owner.try_recv(), Ok(Command::Send(..))));
        assert!(matches!(owner.try_recv(), Ok(Command::Cancel(_))));
    }

    #[test]
    fn the_last_message_and_the_half_close_are_queued_before_the_send_is_answered() {
        let (link, owner, _deliver) = scripted(Some(Ok(())));
        let mut call = AsyncClientCall::new(id(), link);
        block_on(call.send_last(Bytes::from_static(b"only"))).unwrap();
        let Ok(Command::Send(_, message, _, _)) = owner.try_recv() else {
            panic!("a send");
        };
        assert_eq!(message, "only");
        assert!(matches!(owner.try_recv(), Ok(Command::CloseSend(_))));
    }
}
