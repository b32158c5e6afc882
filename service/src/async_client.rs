//! The typed async client: [`Client`](super::Client) for async adapters,
//! written by the same [`client_shell!`] over the same call core.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use prost::Message;

use super::async_transport::{AsyncClientStream, AsyncClientTransport};
use super::client_core::client_shell;
use super::clock::Clock;
use super::codec::encode;
use super::interceptor::{ClientInterceptor, Scope};
use super::options::{RequestOptions, Response};
use super::MethodKind;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;

client_shell! {
    AsyncCall over AsyncClientStream, AsyncClientTransport;
    /// A typed client over an [`AsyncClientTransport`]:
    /// [`Client`](super::Client) for async adapters. Cloning is cheap.
    AsyncClient;
    /// The responses of an async server-streaming call. Dropping it before
    /// the end cancels the call.
    AsyncResponseStream;
    /// An async client-streaming call in progress. Dropping it before the end
    /// cancels the call.
    AsyncClientStreamingCall;
    /// An async bidirectional-streaming call in progress; [`split`](Self::split)
    /// it to send and receive from two tasks. Dropping it before the end
    /// cancels the call.
    AsyncBidiCall;
    [async] [.await]
}

impl<Req: Message, Resp: Message + Default> AsyncBidiCall<Req, Resp> {
    /// Splits the call into a sending half and a receiving half, for two
    /// tasks. The call is cancelled when both are dropped before its end.
    ///
    /// The halves take turns with the call: a receive waits without holding
    /// it, but a send holds it until the engine took the message (a send
    /// waiting for flow-control credit delays receives until it returns).
    pub fn split(self) -> (AsyncRequestSender<Req>, AsyncResponseReceiver<Resp>) {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                call: Some(self.call),
                cancel: false,
                waiting: Vec::new(),
            }),
        });
        let sender = AsyncRequestSender {
            shared: shared.clone(),
            _message: PhantomData,
        };
        let receiver = AsyncResponseReceiver {
            shared,
            _message: PhantomData,
        };
        (sender, receiver)
    }
}

/// The call the halves of a split bidi call share, and who waits for it.
struct Shared {
    slot: Mutex<Slot>,
}

struct Slot {
    /// `None` while one half uses it.
    call: Option<AsyncCall>,
    /// A half cancelled while the other used the call.
    cancel: bool,
    waiting: Vec<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the call, or registers `cx` to be woken when it is back.
    fn take(&self, cx: &Context<'_>) -> Poll<AsyncCall> {
        let mut slot = self.lock();
        match slot.call.take() {
            Some(call) => Poll::Ready(call),
            None => {
                slot.waiting.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Puts the call back (cancelling it if a half asked to meanwhile) and
    /// wakes who waited for it.
    fn give_back(&self, mut call: AsyncCall) {
        let mut slot = self.lock();
        if slot.cancel {
            call.cancel();
        }
        slot.call = Some(call);
        for waker in slot.waiting.drain(..) {
            waker.wake();
        }
    }

    /// Polls `op` on the call once, without keeping it: what the receiving
    /// half does, so the sending half is never locked out by a wait.
    fn poll_once<T>(
        &self,
        cx: &mut Context<'_>,
        op: for<'a> fn(&'a mut AsyncCall) -> Pin<Box<dyn Future<Output = T> + 'a>>,
    ) -> Poll<T> {
        let mut call = std::task::ready!(self.take(cx));
        let answer = op(&mut call).as_mut().poll(cx);
        self.give_back(call);
        answer
    }

    /// The call, until the returned lease is dropped.
    async fn lease(&self) -> Lease<'_> {
        let call = std::future::poll_fn(|cx| self.take(cx)).await;
        Lease {
            shared: self,
            call: Some(call),
        }
    }

    fn cancel(&self) {
        let mut slot = self.lock();
        match slot.call.as_mut() {
            Some(call) => call.cancel(),
            None => slot.cancel = true,
        }
    }
}

/// One half's hold on the call; given back when dropped (a send future
/// dropped midway gives it back too).
struct Lease<'a> {
    shared: &'a Shared,
    call: Option<AsyncCall>,
}

impl Lease<'_> {
    fn call(&mut self) -> &mut AsyncCall {
        self.call.as_mut().expect("held until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.shared.give_back(call);
        }
    }
}

/// The sending half of a split [`AsyncBidiCall`].
pub struct AsyncRequestSender<Req> {
    shared: Arc<Shared>,
    _message: PhantomData<fn(Req)>,
}

impl<Req: Message> AsyncRequestSender<Req> {
    /// Sends a request.
    pub async fn send(&mut self, message: &Req) -> Result<(), Status> {
        let message = encode(message);
        self.shared.lease().await.call().send(message).await
    }

    /// Half-closes: no more requests.
    pub async fn close_send(&mut self) {
        self.shared.lease().await.call().close_send().await;
    }

    /// Cancels the call (RST_STREAM CANCEL) for both halves.
    pub fn cancel(self) {
        self.shared.cancel();
    }
}

/// The receiving half of a split [`AsyncBidiCall`].
pub struct AsyncResponseReceiver<Resp> {
    shared: Arc<Shared>,
    _message: PhantomData<fn() -> Resp>,
}

impl<Resp: Message + Default + 'static> AsyncResponseReceiver<Resp> {
    /// The server's initial metadata.
    pub async fn headers(&mut self) -> Result<Metadata, Status> {
        std::future::poll_fn(|cx| self.shared.poll_once(cx, |call| Box::pin(call.headers()))).await
    }

    /// The next response; `Ok(None)` once the call ended with OK.
    pub async fn recv(&mut self) -> Result<Option<Resp>, Status> {
        std::future::poll_fn(|cx| {
            self.shared
                .poll_once(cx, |call| Box::pin(call.recv_decoded::<Resp>()))
        })
        .await
    }

    /// The trailers, once the call has ended.
    pub fn trailers(&self) -> Option<Metadata> {
        let slot = self.shared.lock();
        slot.call
            .as_ref()
            .and_then(|call| call.core.trailers().cloned())
    }

    /// Cancels the call (RST_STREAM CANCEL) for both halves.
    pub fn cancel(self) {
        self.shared.cancel();
    }
}

impl<Req> std::fmt::Debug for AsyncRequestSender<Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRequestSender").finish_non_exhaustive()
    }
}

impl<Resp> std::fmt::Debug for AsyncResponseReceiver<Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResponseReceiver")
            .finish_non_exhaustive()
    }
}
