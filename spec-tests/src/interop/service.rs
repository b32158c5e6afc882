//! `grpc.testing.TestService` as the interop descriptions define the test
//! server, written once over the async raw stream and registered on both
//! routers. Raw handlers, not the generated traits: the service must see
//! whether each request arrived compressed and choose per response.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio_service::codec::{decode, encode};
use grpc_sansio_service::{
    recv_message, AsyncRouter, AsyncServerStream, AsyncService, BoxFuture, CallContext, MethodKind,
    Router, Service,
};
use prost::Message;

use super::bridge::BlockingServerStream;
use super::{block_on, payload};
use crate::proto::{
    test_service_paths, BoolValue, EchoStatus, Empty, ResponseParameters, SimpleRequest,
    SimpleResponse, StreamingInputCallRequest, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// Echoed from the request metadata into the response headers.
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// Echoed from the request metadata into the trailers.
pub const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// How the service waits `interval_us`: the runtime's timer, or a thread sleep.
pub type Sleep = fn(Duration) -> BoxFuture<'static, ()>;

/// The methods, as `(name, kind)`; `UnimplementedCall` is left out on purpose.
const METHODS: [(&str, MethodKind); 7] = [
    ("EmptyCall", MethodKind::Unary),
    ("UnaryCall", MethodKind::Unary),
    ("CacheableUnaryCall", MethodKind::Unary),
    ("StreamingOutputCall", MethodKind::ServerStreaming),
    ("StreamingInputCall", MethodKind::ClientStreaming),
    ("FullDuplexCall", MethodKind::BidiStreaming),
    ("HalfDuplexCall", MethodKind::BidiStreaming),
];

/// The test service for blocking adapters (mio's pool, blocking).
pub fn router() -> Router {
    let mut service = Service::new(test_service_paths::SERVICE_NAME);
    for (method, kind) in METHODS {
        service = service.raw(method, kind, move |ctx, stream| {
            block_on(handle(
                method,
                ctx,
                &mut BlockingServerStream(stream),
                |d| {
                    std::thread::sleep(d);
                    Box::pin(std::future::ready(()))
                },
            ))
        });
    }
    let mut router = Router::new();
    router.add(service);
    router
}

/// The test service for the tokio adapter.
pub fn async_router() -> AsyncRouter {
    async_router_with(|d| Box::pin(tokio::time::sleep(d)))
}

/// The test service for an async executor without tokio's timer (mio's event
/// loop): `interval_us` is waited with [`thread_sleep`].
pub fn inline_router() -> AsyncRouter {
    async_router_with(thread_sleep)
}

/// The test service, async, waiting `interval_us` with `sleep`.
pub fn async_router_with(sleep: Sleep) -> AsyncRouter {
    let mut service = AsyncService::new(test_service_paths::SERVICE_NAME);
    for (method, kind) in METHODS {
        service = service.raw(method, kind, move |ctx, stream| {
            Box::pin(handle(method, ctx, stream, sleep))
        });
    }
    let mut router = AsyncRouter::new();
    router.add(service);
    router
}

/// A sleep for any executor, blocking none: a thread of its own sleeps, then
/// wakes the task. A thread per sleeping call is plenty for a test server.
pub fn thread_sleep(duration: Duration) -> BoxFuture<'static, ()> {
    let done = Arc::new(Mutex::new((false, None::<Waker>)));
    let theirs = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let waker = {
            let mut done = theirs.lock().unwrap_or_else(PoisonError::into_inner);
            done.0 = true;
            done.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
    Box::pin(std::future::poll_fn(move |cx| {
        let mut done = done.lock().unwrap_or_else(PoisonError::into_inner);
        if done.0 {
            return Poll::Ready(());
        }
        done.1 = Some(cx.waker().clone());
        Poll::Pending
    }))
}

async fn handle(
    method: &str,
    ctx: &mut CallContext,
    stream: &mut dyn AsyncServerStream,
    sleep: Sleep,
) -> Result<(), Status> {
    if let Some(value) = ctx.metadata().get_bin(ECHO_TRAILING).cloned() {
        ctx.set_trailer_bin(ECHO_TRAILING, value)?;
    }
    let mut reply = Reply::new(
        ctx,
        stream,
        method != "EmptyCall" && !method.ends_with("UnaryCall"),
    );
    let result = match method {
        "EmptyCall" => empty_call(&mut reply).await,
        "UnaryCall" | "CacheableUnaryCall" => unary_call(&mut reply).await,
        "StreamingOutputCall" => streaming_output_call(&mut reply, sleep).await,
        "StreamingInputCall" => streaming_input_call(&mut reply).await,
        "FullDuplexCall" => full_duplex_call(&mut reply, sleep).await,
        "HalfDuplexCall" => half_duplex_call(&mut reply, sleep).await,
        other => Err(Status::new(
            Code::Unimplemented,
            format!("{other} is not implemented"),
        )),
    };
    // The echoed initial metadata goes out even when the call fails.
    let flushed = reply.flush_headers().await;
    result.and(flushed)
}

/// The response side of a call: echoed headers held until the first message,
/// and the compression chosen before them.
struct Reply<'a> {
    stream: &'a mut dyn AsyncServerStream,
    headers: Option<Metadata>,
    /// Streams may compress some responses and not others: the call is set to
    /// gzip at the first response when the client accepts it.
    streaming: bool,
}

impl<'a> Reply<'a> {
    fn new(ctx: &CallContext, stream: &'a mut dyn AsyncServerStream, streaming: bool) -> Self {
        let mut headers = Metadata::new();
        if let Some(value) = ctx.metadata().get(ECHO_INITIAL) {
            // A value that arrived is a valid value.
            let _ = headers.insert(ECHO_INITIAL, value);
        }
        Reply {
            stream,
            headers: Some(headers),
            streaming,
        }
    }

    async fn recv<M: Message + Default>(&mut self) -> Result<Option<(M, bool)>, Status> {
        match recv_message(&mut *self.stream).await? {
            Some(bytes) => Ok(Some((decode(bytes)?, self.stream.recv_compressed()))),
            None => Ok(None),
        }
    }

    /// The one request of a unary or server-streaming call.
    async fn recv_one<M: Message + Default>(&mut self) -> Result<(M, bool), Status> {
        self.recv()
            .await?
            .ok_or_else(|| Status::new(Code::Unimplemented, "expected one request message"))
    }

    async fn send<M: Message>(&mut self, message: &M, compress: bool) -> Result<(), Status> {
        self.send_headers(compress).await?;
        self.stream.send_with(encode(message), compress).await
    }

    /// The one response of a unary or client-streaming call: it goes out
    /// with the call's end, nothing to wait for.
    async fn send_last<M: Message>(&mut self, message: &M, compress: bool) -> Result<(), Status> {
        self.send_headers(compress).await?;
        self.stream.send_last_with(encode(message), compress)
    }

    /// The headers, before the first response.
    async fn send_headers(&mut self, compress: bool) -> Result<(), Status> {
        let Some(headers) = self.headers.take() else {
            return Ok(());
        };
        if compress || self.streaming {
            // A client that does not take gzip gets plain messages.
            let _ = self.stream.set_compression(Encoding::Gzip);
        }
        if headers.is_empty() {
            // The first message sends empty headers itself.
            return Ok(());
        }
        self.stream.send_headers(headers).await
    }

    async fn flush_headers(&mut self) -> Result<(), Status> {
        match self.headers.take() {
            Some(headers) if !headers.is_empty() => self.stream.send_headers(headers).await,
            _ => Ok(()),
        }
    }
}

fn is_true(value: &Option<BoolValue>) -> bool {
    value.as_ref().is_some_and(|b| b.value)
}

/// The `expect_compressed` check of the compression cases.
fn check_compressed(expect: &Option<BoolValue>, compressed: bool) -> Result<(), Status> {
    if is_true(expect) && !compressed {
        return Err(Status::new(
            Code::InvalidArgument,
            "expected a compressed request",
        ));
    }
    Ok(())
}

/// The status a request asks the call to end with, if any.
fn requested_status(status: &Option<EchoStatus>) -> Result<(), Status> {
    match status {
        Some(s) if s.code != 0 => Err(Status::new(Code::from_i32(s.code), s.message.clone())),
        _ => Ok(()),
    }
}

fn size(n: i32) -> Result<usize, Status> {
    usize::try_from(n).map_err(|_| Status::new(Code::InvalidArgument, "negative size"))
}

async fn empty_call(reply: &mut Reply<'_>) -> Result<(), Status> {
    let (_, _): (Empty, bool) = reply.recv_one().await?;
    reply.send_last(&Empty {}, false).await
}

async fn unary_call(reply: &mut Reply<'_>) -> Result<(), Status> {
    let (request, compressed): (SimpleRequest, bool) = reply.recv_one().await?;
    check_compressed(&request.expect_compressed, compressed)?;
    requested_status(&request.response_status)?;
    let response = SimpleResponse {
        payload: Some(payload(size(request.response_size)?)),
        ..SimpleResponse::default()
    };
    reply
        .send_last(&response, is_true(&request.response_compressed))
        .await
}

async fn streaming_input_call(reply: &mut Reply<'_>) -> Result<(), Status> {
    let mut total = 0usize;
    while let Some((request, compressed)) = reply.recv::<StreamingInputCallRequest>().await? {
        check_compressed(&request.expect_compressed, compressed)?;
        total += request.payload.map_or(0, |p| p.body.len());
    }
    let aggregated_payload_size = i32::try_from(total)
        .map_err(|_| Status::new(Code::ResourceExhausted, "aggregated size overflows"))?;
    let response = StreamingInputCallResponse {
        aggregated_payload_size,
    };
    reply.send_last(&response, false).await
}

async fn streaming_output_call(reply: &mut Reply<'_>, sleep: Sleep) -> Result<(), Status> {
    let (request, _): (StreamingOutputCallRequest, bool) = reply.recv_one().await?;
    respond(reply, &request.response_parameters, sleep).await?;
    requested_status(&request.response_status)
}

async fn full_duplex_call(reply: &mut Reply<'_>, sleep: Sleep) -> Result<(), Status> {
    while let Some((request, _)) = reply.recv::<StreamingOutputCallRequest>().await? {
        requested_status(&request.response_status)?;
        respond(reply, &request.response_parameters, sleep).await?;
    }
    Ok(())
}

async fn half_duplex_call(reply: &mut Reply<'_>, sleep: Sleep) -> Result<(), Status> {
    let mut requests = Vec::new();
    while let Some((request, _)) = reply.recv::<StreamingOutputCallRequest>().await? {
        requests.push(request);
    }
    for request in requests {
        requested_status(&request.response_status)?;
        respond(reply, &request.response_parameters, sleep).await?;
    }
    Ok(())
}

/// One response per parameter entry, after its interval.
async fn respond(
    reply: &mut Reply<'_>,
    parameters: &[ResponseParameters],
    sleep: Sleep,
) -> Result<(), Status> {
    for parameter in parameters {
        if parameter.interval_us > 0 {
            sleep(Duration::from_micros(parameter.interval_us as u64)).await;
        }
        let response = StreamingOutputCallResponse {
            payload: Some(payload(size(parameter.size)?)),
        };
        reply
            .send(&response, is_true(&parameter.compressed))
            .await?;
    }
    Ok(())
}
