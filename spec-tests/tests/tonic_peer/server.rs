//! A tonic server for `grpc.testing.TestService`, behaving as CASES.md
//! "Server behaviour" says.
//!
//! It is built on tonic's transport (`Server`), its message framing
//! (`Streaming` to decode, `EncodeBody` to encode) and `tonic-prost`, but not on
//! the generated `TestService` trait: through the trait a handler can neither
//! put metadata in the trailers of an OK unary response, nor choose per
//! response whether to compress it, nor learn whether a request message came
//! compressed. What stays out of reach even so: `EncodeBody` compresses all
//! messages of a response or none, so a stream cannot mix compressed and
//! uncompressed messages (see [`Responses::send`]).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::body::Body;
use tonic::codec::{CompressionEncoding, EncodeBody, SingleMessageCompressionOverride, Streaming};
use tonic::codegen::http::{self, HeaderMap, HeaderValue};
use tonic::codegen::{Body as HttpBody, BoxFuture, Bytes, Service};
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tonic::service::AxumBody;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Code, Status};
use tonic_prost::{ProstDecoder, ProstEncoder};

use super::pb::{
    EchoStatus, Empty, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use super::{payload, ECHO_INITIAL, ECHO_TRAILING};

/// A running tonic server; `UnimplementedService` is not registered, so tonic
/// answers it UNIMPLEMENTED.
pub struct TonicServer {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl TonicServer {
    /// Binds 127.0.0.1 on a free port and serves in a spawned task.
    pub async fn start() -> TonicServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(
            Server::builder()
                .add_service(TestService)
                .serve_with_incoming_shutdown(incoming, async {
                    // A dropped sender stops the server too.
                    let _ = stop.await;
                }),
        );
        TonicServer {
            addr,
            shutdown,
            task,
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts down gracefully and waits until the server task has ended.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task
            .await
            .expect("server task panicked")
            .expect("server failed");
    }
}

/// The service: routes `/grpc.testing.TestService/<method>` to its handler.
#[derive(Clone)]
struct TestService;

impl NamedService for TestService {
    const NAME: &'static str = "grpc.testing.TestService";
}

impl Service<http::Request<Body>> for TestService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Read the headers now: the deadline counts from here.
        let call = Call::new(request.headers());
        Box::pin(async move {
            let call = match call {
                Ok(call) => call,
                Err(status) => return Ok(status.into_http()),
            };
            let method = request
                .uri()
                .path()
                .strip_prefix("/grpc.testing.TestService/")
                .unwrap_or_default()
                .to_owned();
            let body = request.into_body();
            Ok(match method.as_str() {
                "EmptyCall" => serve(call, body, empty_call).await,
                "UnaryCall" | "CacheableUnaryCall" => serve(call, body, unary_call).await,
                "StreamingOutputCall" => serve(call, body, streaming_output_call).await,
                "StreamingInputCall" => serve(call, body, streaming_input_call).await,
                "FullDuplexCall" => serve(call, body, full_duplex_call).await,
                "HalfDuplexCall" => serve(call, body, half_duplex_call).await,
                // UnimplementedCall included: the service leaves it unimplemented.
                _ => call.trailers_only(Status::unimplemented(format!(
                    "method {method} is not implemented"
                ))),
            })
        })
    }
}

async fn empty_call(mut requests: Requests<Empty>, out: Responses<Empty>) -> Result<(), Status> {
    requests.single().await?;
    out.send(Empty {}, false).await
}

async fn unary_call(
    mut requests: Requests<SimpleRequest>,
    out: Responses<SimpleResponse>,
) -> Result<(), Status> {
    let (request, compressed) = requests.single().await?;
    check_compressed(request.expect_compressed, compressed)?;
    end_with(&request.response_status)?;
    let response = SimpleResponse {
        payload: Some(payload(size(request.response_size)?)),
        ..Default::default()
    };
    out.send(response, is_set(request.response_compressed))
        .await
}

async fn streaming_input_call(
    mut requests: Requests<StreamingInputCallRequest>,
    out: Responses<StreamingInputCallResponse>,
) -> Result<(), Status> {
    let mut total = 0usize;
    while let Some((request, compressed)) = requests.next().await? {
        check_compressed(request.expect_compressed, compressed)?;
        total += request.payload.map_or(0, |p| p.body.len());
    }
    let aggregated_payload_size = i32::try_from(total)
        .map_err(|_| Status::invalid_argument("the payloads add up to more than i32::MAX"))?;
    let response = StreamingInputCallResponse {
        aggregated_payload_size,
    };
    out.send(response, false).await
}

async fn streaming_output_call(
    mut requests: Requests<StreamingOutputCallRequest>,
    out: Responses<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    let (request, _) = requests.single().await?;
    answer(&request, &out).await
}

async fn full_duplex_call(
    mut requests: Requests<StreamingOutputCallRequest>,
    out: Responses<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    // Headers go out at once: a client may wait for them before its first
    // request, and a response stream's compression must be fixed now (no
    // request says yet whether it wants compressed responses).
    out.open(false);
    while let Some((request, _)) = requests.next().await? {
        answer(&request, &out).await?;
    }
    Ok(())
}

async fn half_duplex_call(
    mut requests: Requests<StreamingOutputCallRequest>,
    out: Responses<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    out.open(false);
    let mut kept = Vec::new();
    while let Some((request, _)) = requests.next().await? {
        kept.push(request);
    }
    for request in &kept {
        answer(request, &out).await?;
    }
    Ok(())
}

/// Answers one `StreamingOutputCallRequest`: its responses, then its
/// `response_status` if that is not OK.
async fn answer(
    request: &StreamingOutputCallRequest,
    out: &Responses<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    for parameters in &request.response_parameters {
        let interval = u64::try_from(parameters.interval_us).unwrap_or(0);
        if interval > 0 {
            tokio::time::sleep(Duration::from_micros(interval)).await;
        }
        let response = StreamingOutputCallResponse {
            payload: Some(payload(size(parameters.size)?)),
        };
        out.send(response, is_set(parameters.compressed)).await?;
    }
    end_with(&request.response_status)
}

fn is_set(flag: Option<super::pb::BoolValue>) -> bool {
    flag.is_some_and(|b| b.value)
}

fn check_compressed(
    expect_compressed: Option<super::pb::BoolValue>,
    compressed: bool,
) -> Result<(), Status> {
    if is_set(expect_compressed) && !compressed {
        return Err(Status::invalid_argument(
            "expect_compressed is set but the message came uncompressed",
        ));
    }
    Ok(())
}

/// The `response_status` a request asks the call to end with, as an error
/// unless it is absent or OK.
fn end_with(status: &Option<EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => {
            Err(Status::new(Code::from(status.code), status.message.clone()))
        }
        _ => Ok(()),
    }
}

fn size(size: i32) -> Result<usize, Status> {
    usize::try_from(size).map_err(|_| Status::invalid_argument(format!("negative size {size}")))
}

/// Runs `handler` in its own task and answers with what it sends: the response
/// headers once the handler sends its first message (or opens the response,
/// or ends), then its messages, then trailers with its status and the echoed
/// trailing metadata.
async fn serve<Q, R, H, F>(call: Call, body: Body, handler: H) -> http::Response<Body>
where
    Q: Message + Default + Send + 'static,
    R: Message + Send + 'static,
    H: FnOnce(Requests<Q>, Responses<R>) -> F,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (head, head_sent) = oneshot::channel();
    // One slot: a handler runs no further ahead than the client reads.
    let (messages, to_send) = mpsc::channel(1);
    let out = Responses {
        head: Arc::new(Mutex::new(Some(head))),
        messages,
        gzip_accepted: call.gzip_accepted,
    };
    let ending = out.clone();
    let handling = handler(Requests::new(body, call.request_encoding), out);
    let deadline = call.deadline;
    let trailers = call.trailers();
    tokio::spawn(async move {
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, handling)
                .await
                .unwrap_or_else(|_| Err(deadline_exceeded())),
            None => handling.await,
        };
        let status = result.err().unwrap_or_else(|| Status::new(Code::Ok, ""));
        ending
            .finish(Status::with_metadata(
                status.code(),
                status.message(),
                trailers,
            ))
            .await;
    });
    let encoding = match deadline {
        Some(deadline) => tokio::select! {
            biased;
            encoding = head_sent => encoding,
            () = tokio::time::sleep_until(deadline) => {
                return call.trailers_only(deadline_exceeded());
            }
        },
        None => head_sent.await,
    };
    match encoding {
        Ok(encoding) => call.response::<R>(encoding, to_send),
        Err(_) => call.trailers_only(Status::internal("the handler ended without answering")),
    }
}

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the call's grpc-timeout expired")
}

/// What the server keeps of a call's request headers.
struct Call {
    /// The `grpc-encoding` of the request's compressed messages.
    request_encoding: Option<CompressionEncoding>,
    /// Whether `grpc-accept-encoding` lists gzip.
    gzip_accepted: bool,
    /// From `grpc-timeout`, see [`Call::new`].
    deadline: Option<Instant>,
    echo_initial: Option<HeaderValue>,
    echo_trailing: Option<HeaderValue>,
}

impl Call {
    fn new(headers: &HeaderMap) -> Result<Call, Status> {
        let request_encoding = match headers.get("grpc-encoding").map(HeaderValue::to_str) {
            None | Some(Ok("identity")) => None,
            Some(Ok("gzip")) => Some(CompressionEncoding::Gzip),
            Some(other) => {
                return Err(Status::unimplemented(format!(
                    "grpc-encoding {other:?} is not supported"
                )))
            }
        };
        let gzip_accepted = headers
            .get_all("grpc-accept-encoding")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|name| name.trim() == "gzip");
        // One timer tick (1 ms) early: tonic's transport runs its own
        // grpc-timeout timer, started a little before this one, until the
        // response headers are out, and answers CANCELLED when it fires first.
        let deadline = headers
            .get("grpc-timeout")
            .and_then(|value| parse_timeout(value.as_bytes()))
            .map(|timeout| Instant::now() + timeout.saturating_sub(Duration::from_millis(1)));
        Ok(Call {
            request_encoding,
            gzip_accepted,
            deadline,
            echo_initial: headers.get(ECHO_INITIAL).cloned(),
            echo_trailing: headers.get(ECHO_TRAILING).cloned(),
        })
    }

    /// The trailing metadata: the echoed `x-grpc-test-echo-trailing-bin`.
    fn trailers(&self) -> MetadataMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = &self.echo_trailing {
            headers.insert(ECHO_TRAILING, value.clone());
        }
        MetadataMap::from_headers(headers)
    }

    fn add_initial_metadata(&self, headers: &mut HeaderMap) {
        if let Some(value) = &self.echo_initial {
            headers.insert(ECHO_INITIAL, value.clone());
        }
    }

    /// A response of headers, `to_send`'s messages (compressed with
    /// `encoding`), then `to_send`'s final status as trailers.
    fn response<R: Message + Send + 'static>(
        &self,
        encoding: Option<CompressionEncoding>,
        to_send: mpsc::Receiver<Result<R, Status>>,
    ) -> http::Response<Body> {
        let body = EncodeBody::new_server(
            ProstEncoder::<R>::default(),
            ReceiverStream::new(to_send),
            encoding,
            SingleMessageCompressionOverride::default(),
            None,
        );
        let mut response = http::Response::new(Body::new(body));
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        if encoding.is_some() {
            headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        }
        headers.insert(
            "grpc-accept-encoding",
            HeaderValue::from_static("gzip,identity"),
        );
        self.add_initial_metadata(headers);
        response
    }

    /// A Trailers-Only response: `status`, and both echoed metadata.
    fn trailers_only(&self, status: Status) -> http::Response<Body> {
        let status = Status::with_metadata(status.code(), status.message(), self.trailers());
        let mut response: http::Response<Body> = status.into_http();
        self.add_initial_metadata(response.headers_mut());
        response
    }
}

/// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The request messages of a call, each with its compressed flag.
struct Requests<Q> {
    messages: Streaming<Q>,
    /// Compressed flags of the messages the decoder has not yet yielded.
    flags: Flags,
}

/// Per-message compressed flags, in arrival order.
type Flags = Arc<Mutex<VecDeque<bool>>>;

impl<Q: Message + Default + Send + 'static> Requests<Q> {
    fn new(body: Body, encoding: Option<CompressionEncoding>) -> Self {
        // tonic's decoder hides the compressed flag, so the raw body passes
        // through a tap that reads each message's prefix on the way. Trailers
        // are dropped there: gRPC requests carry none.
        let flags = Flags::default();
        let tap = FlagTap {
            body,
            flags: flags.clone(),
            prefix: [0; 5],
            prefix_len: 0,
            payload_left: 0,
        };
        let messages = Streaming::new_request(
            ProstDecoder::<Q>::default(),
            AxumBody::from_stream(tap),
            encoding,
            None,
        );
        Requests { messages, flags }
    }

    /// The next message and whether it came compressed; `None` after the
    /// client's half-close.
    async fn next(&mut self) -> Result<Option<(Q, bool)>, Status> {
        let Some(message) = self.messages.message().await? else {
            return Ok(None);
        };
        // The tap saw this message's prefix before the decoder could yield it.
        let compressed = lock(&self.flags).pop_front().unwrap_or(false);
        Ok(Some((message, compressed)))
    }

    /// The one message of a unary request.
    async fn single(&mut self) -> Result<(Q, bool), Status> {
        self.next()
            .await?
            .ok_or_else(|| Status::internal("the request has no message"))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A request body's data, passed on unchanged, noting each gRPC message's
/// compressed flag as its 5-byte prefix goes by.
struct FlagTap {
    body: Body,
    flags: Flags,
    prefix: [u8; 5],
    prefix_len: usize,
    /// Bytes of the current message still to pass.
    payload_left: usize,
}

impl FlagTap {
    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(data.len());
                self.payload_left -= n;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.prefix_len).min(data.len());
            self.prefix[self.prefix_len..self.prefix_len + n].copy_from_slice(&data[..n]);
            self.prefix_len += n;
            data = &data[n..];
            if self.prefix_len == 5 {
                lock(&self.flags).push_back(self.prefix[0] == 1);
                let [_, a, b, c, d] = self.prefix;
                self.payload_left = u32::from_be_bytes([a, b, c, d]) as usize;
                self.prefix_len = 0;
            }
        }
    }
}

impl Stream for FlagTap {
    type Item = Result<Bytes, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(status)) => return Poll::Ready(Some(Err(status))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.observe(&data);
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}

/// The handler's side of a call's response.
struct Responses<R> {
    /// Sends the response headers, with the encoding of every message.
    head: Arc<Mutex<Option<oneshot::Sender<Option<CompressionEncoding>>>>>,
    messages: mpsc::Sender<Result<R, Status>>,
    gzip_accepted: bool,
}

impl<R> Clone for Responses<R> {
    fn clone(&self) -> Self {
        Responses {
            head: self.head.clone(),
            messages: self.messages.clone(),
            gzip_accepted: self.gzip_accepted,
        }
    }
}

impl<R> Responses<R> {
    /// Sends the response headers now, if not yet sent; `compress` (when the
    /// client accepts gzip) compresses every message of the response.
    fn open(&self, compress: bool) {
        if let Some(head) = lock(&self.head).take() {
            let encoding = (compress && self.gzip_accepted).then_some(CompressionEncoding::Gzip);
            // The receiver is gone only when the call already ended.
            let _ = head.send(encoding);
        }
    }

    /// Sends one message, compressed as asked if it is the first; later
    /// messages follow the first (tonic compresses a whole response or none).
    async fn send(&self, message: R, compress: bool) -> Result<(), Status> {
        self.open(compress);
        self.messages
            .send(Ok(message))
            .await
            .map_err(|_| Status::cancelled("the client stopped reading"))
    }

    /// Ends the response with `status` (OK included) in the trailers.
    async fn finish(&self, status: Status) {
        self.open(false);
        // Fails only when the client stopped reading.
        let _ = self.messages.send(Err(status)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_tap_reads_each_prefix_however_the_body_is_split() {
        // Three messages: compressed with 2 bytes, uncompressed empty,
        // compressed with 1 byte.
        let body = [1, 0, 0, 0, 2, 7, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 7];
        for split in 0..=body.len() {
            let mut tap = FlagTap {
                body: Body::empty(),
                flags: Flags::default(),
                prefix: [0; 5],
                prefix_len: 0,
                payload_left: 0,
            };
            tap.observe(&body[..split]);
            tap.observe(&body[split..]);
            assert_eq!(*lock(&tap.flags), [true, false, true], "split at {split}");
        }
    }

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse_timeout(b"1000u"), Some(Duration::from_millis(1)));
        assert_eq!(parse_timeout(b"2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout(b"3H"), Some(Duration::from_secs(3 * 3600)));
        assert_eq!(parse_timeout(b"123456789n"), None, "more than 8 digits");
        assert_eq!(parse_timeout(b"5x"), None);
        assert_eq!(parse_timeout(b"m"), None);
    }
}
