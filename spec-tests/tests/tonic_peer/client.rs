//! A tonic client running the 18 client cases of CASES.md.
//!
//! What tonic cannot observe or do, case by case, is said where it matters;
//! in short: tonic hides each response message's compressed flag (the checks
//! fall back to the `grpc-encoding` response header, a necessary condition
//! only), and it compresses all messages of a call or none.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};

use super::pb::test_service_client::TestServiceClient;
use super::pb::unimplemented_service_client::UnimplementedServiceClient;
use super::pb::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use super::{payload, ECHO_INITIAL, ECHO_TRAILING};

/// Every case, in CASES.md order: the same list our own client runs.
#[allow(unused_imports)] // not every test binary that includes the peer runs its client
pub use spec_tests::interop::cases::ALL_CASES;

/// How long one case may take before it fails, so that no case hangs a run.
const CASE_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one case: `Err` says why it failed.
#[derive(Debug)]
pub struct CaseOutcome {
    pub name: String,
    pub result: Result<(), String>,
}

/// Runs `cases` one after the other against the server at `addr`.
pub async fn run_cases(addr: SocketAddr, cases: &[&str]) -> Vec<CaseOutcome> {
    // Lazy: a server that cannot be reached fails each case, with the reason.
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("an http URI")
        .connect_lazy();
    let mut outcomes = Vec::with_capacity(cases.len());
    for &name in cases {
        let result = match tokio::time::timeout(CASE_TIMEOUT, run_case(name, channel.clone())).await
        {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {} s", CASE_TIMEOUT.as_secs())),
        };
        outcomes.push(CaseOutcome {
            name: name.to_owned(),
            result,
        });
    }
    outcomes
}

/// The CASES.md output: `PASS <case>` or `FAIL <case>: <why>` lines, then
/// `<N> passed, <M> failed`.
pub fn report(outcomes: &[CaseOutcome]) -> String {
    let mut out = String::new();
    let mut passed = 0;
    for outcome in outcomes {
        match &outcome.result {
            Ok(()) => {
                passed += 1;
                let _ = writeln!(out, "PASS {}", outcome.name);
            }
            Err(why) => {
                // `<why>` stays on one line.
                let why = why.replace('\r', "\\r").replace('\n', "\\n");
                let _ = writeln!(out, "FAIL {}: {why}", outcome.name);
            }
        }
    }
    let _ = write!(out, "{passed} passed, {} failed", outcomes.len() - passed);
    out
}

type Client = TestServiceClient<Channel>;

async fn run_case(name: &str, channel: Channel) -> Result<(), String> {
    let client = TestServiceClient::new(channel.clone());
    match name {
        "empty_unary" => empty_unary(client).await,
        "large_unary" => large_unary(client).await,
        "client_streaming" => client_streaming(client).await,
        "server_streaming" => server_streaming(client).await,
        "ping_pong" => ping_pong(client).await,
        "empty_stream" => empty_stream(client).await,
        "custom_metadata" => custom_metadata(client, channel).await,
        "status_code_and_message" => status_code_and_message(client).await,
        "special_status_message" => special_status_message(client).await,
        "unimplemented_method" => unimplemented_method(client).await,
        "unimplemented_service" => unimplemented_service(channel).await,
        "cancel_after_begin" => cancel_after_begin(client).await,
        "cancel_after_first_response" => cancel_after_first_response(client).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(client).await,
        "client_compressed_unary" => client_compressed_unary(client).await,
        "server_compressed_unary" => server_compressed_unary(client).await,
        "client_compressed_streaming" => client_compressed_streaming(client).await,
        "server_compressed_streaming" => server_compressed_streaming(client).await,
        _ => Err("unknown case".to_owned()),
    }
}

const LARGE_REQUEST: usize = 271_828;
const LARGE_RESPONSE: usize = 314_159;
/// (response size, request payload size) of each ping_pong round.
const PING_PONG: [(usize, usize); 4] = [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)];
const TEST_STATUS_MESSAGE: &str = "test status message";
const SPECIAL_STATUS_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n";
const ECHO_INITIAL_VALUE: &str = "test_initial_metadata_value";
const ECHO_TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];

async fn empty_unary(mut client: Client) -> Result<(), String> {
    let response = client.empty_call(Empty {}).await.map_err(failed)?;
    // Empty has no fields: decoding it is the check.
    let Empty {} = response.into_inner();
    Ok(())
}

async fn large_unary(mut client: Client) -> Result<(), String> {
    let response = client.unary_call(large_request()).await.map_err(failed)?;
    expect_payload(&response.into_inner().payload, LARGE_RESPONSE)
}

async fn client_streaming(mut client: Client) -> Result<(), String> {
    let requests = [27182, 8, 1828, 45904].map(|size| StreamingInputCallRequest {
        payload: Some(payload(size)),
        ..Default::default()
    });
    let response = client
        .streaming_input_call(tokio_stream::iter(requests))
        .await
        .map_err(failed)?;
    expect_aggregated(response.into_inner().aggregated_payload_size, 74922)
}

async fn server_streaming(mut client: Client) -> Result<(), String> {
    let sizes = [31415, 9, 2653, 58979];
    let request = StreamingOutputCallRequest {
        response_parameters: sizes.iter().map(|&size| parameters(size, None)).collect(),
        ..Default::default()
    };
    let responses = client
        .streaming_output_call(request)
        .await
        .map_err(failed)?
        .into_inner();
    expect_responses(responses, &sizes).await
}

async fn ping_pong(mut client: Client) -> Result<(), String> {
    let (requests, outgoing) = mpsc::unbounded_channel();
    // tonic returns from the call only once the response headers are in; a
    // server may hold them back until it has a request to answer.
    send(&requests, ping_pong_request(PING_PONG[0]))?;
    let mut responses = client
        .full_duplex_call(UnboundedReceiverStream::new(outgoing))
        .await
        .map_err(failed)?
        .into_inner();
    for (round, &(response_size, payload_size)) in PING_PONG.iter().enumerate() {
        if round > 0 {
            send(&requests, ping_pong_request((response_size, payload_size)))?;
        }
        let response = responses
            .message()
            .await
            .map_err(failed)?
            .ok_or_else(|| format!("the call ended OK after {round} responses, want 4"))?;
        expect_payload(&response.payload, response_size)
            .map_err(|why| format!("response {}: {why}", round + 1))?;
    }
    drop(requests);
    expect_end(&mut responses).await
}

async fn empty_stream(mut client: Client) -> Result<(), String> {
    let mut responses = client
        .full_duplex_call(tokio_stream::empty::<StreamingOutputCallRequest>())
        .await
        .map_err(failed)?
        .into_inner();
    expect_end(&mut responses).await
}

async fn custom_metadata(mut client: Client, channel: Channel) -> Result<(), String> {
    // (a) UnaryCall. The generated unary method merges the trailers into the
    // initial metadata, so this one goes through tonic's server-streaming
    // path, which sends the same bytes and keeps the two apart.
    let mut unary = Request::new(large_request());
    add_echo_metadata(unary.metadata_mut());
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| format!("(a) the channel is not ready: {e}"))?;
    let response = grpc
        .server_streaming(
            unary,
            PathAndQuery::from_static("/grpc.testing.TestService/UnaryCall"),
            tonic_prost::ProstCodec::<SimpleRequest, SimpleResponse>::default(),
        )
        .await
        .map_err(|s| format!("(a) {}", failed(s)))?;
    expect_echo_initial(response.metadata()).map_err(|why| format!("(a) {why}"))?;
    let mut messages = response.into_inner();
    let message = messages
        .message()
        .await
        .map_err(|s| format!("(a) {}", failed(s)))?
        .ok_or("(a) the call ended OK without a response")?;
    expect_payload(&message.payload, LARGE_RESPONSE).map_err(|why| format!("(a) {why}"))?;
    expect_end(&mut messages)
        .await
        .map_err(|why| format!("(a) {why}"))?;
    expect_echo_trailing(messages.trailers().await).map_err(|why| format!("(a) {why}"))?;

    // (b) FullDuplexCall.
    let (requests, outgoing) = mpsc::unbounded_channel();
    send(
        &requests,
        ping_pong_request((LARGE_RESPONSE, LARGE_REQUEST)),
    )?;
    let mut duplex = Request::new(UnboundedReceiverStream::new(outgoing));
    add_echo_metadata(duplex.metadata_mut());
    let response = client
        .full_duplex_call(duplex)
        .await
        .map_err(|s| format!("(b) {}", failed(s)))?;
    expect_echo_initial(response.metadata()).map_err(|why| format!("(b) {why}"))?;
    let mut responses = response.into_inner();
    let message = responses
        .message()
        .await
        .map_err(|s| format!("(b) {}", failed(s)))?
        .ok_or("(b) the call ended OK without a response")?;
    expect_payload(&message.payload, LARGE_RESPONSE).map_err(|why| format!("(b) {why}"))?;
    drop(requests);
    expect_end(&mut responses)
        .await
        .map_err(|why| format!("(b) {why}"))?;
    expect_echo_trailing(responses.trailers().await).map_err(|why| format!("(b) {why}"))
}

async fn status_code_and_message(mut client: Client) -> Result<(), String> {
    let echo = EchoStatus {
        code: 2,
        message: TEST_STATUS_MESSAGE.to_owned(),
    };
    let unary = client
        .unary_call(SimpleRequest {
            response_status: Some(echo.clone()),
            ..Default::default()
        })
        .await;
    expect_status(unary.map(drop), Code::Unknown, TEST_STATUS_MESSAGE)
        .map_err(|why| format!("(a) {why}"))?;

    let request = StreamingOutputCallRequest {
        response_status: Some(echo),
        ..Default::default()
    };
    let duplex = async {
        let mut responses = client
            .full_duplex_call(tokio_stream::iter([request]))
            .await?
            .into_inner();
        while responses.message().await?.is_some() {}
        Ok(())
    };
    expect_status(duplex.await, Code::Unknown, TEST_STATUS_MESSAGE)
        .map_err(|why| format!("(b) {why}"))
}

async fn special_status_message(mut client: Client) -> Result<(), String> {
    let result = client
        .unary_call(SimpleRequest {
            response_status: Some(EchoStatus {
                code: 2,
                message: SPECIAL_STATUS_MESSAGE.to_owned(),
            }),
            ..Default::default()
        })
        .await;
    expect_status(result.map(drop), Code::Unknown, SPECIAL_STATUS_MESSAGE)
}

async fn unimplemented_method(mut client: Client) -> Result<(), String> {
    expect_code(
        client.unimplemented_call(Empty {}).await,
        Code::Unimplemented,
    )
}

async fn unimplemented_service(channel: Channel) -> Result<(), String> {
    let mut client = UnimplementedServiceClient::new(channel);
    expect_code(
        client.unimplemented_call(Empty {}).await,
        Code::Unimplemented,
    )
}

async fn cancel_after_begin(mut client: Client) -> Result<(), String> {
    // A request stream that never yields: the call has begun (its headers
    // went out) and has sent no message when it is cancelled.
    let mut request = Request::new(tokio_stream::pending::<StreamingInputCallRequest>());
    let cancel = request.cancellation_handle();
    let call = client.streaming_input_call(request);
    let (result, ()) = tokio::join!(call, async {
        tokio::task::yield_now().await;
        cancel.cancel();
    });
    expect_code(result, Code::Cancelled)
}

async fn cancel_after_first_response(mut client: Client) -> Result<(), String> {
    let (requests, outgoing) = mpsc::unbounded_channel();
    send(&requests, ping_pong_request(PING_PONG[0]))?;
    let mut request = Request::new(UnboundedReceiverStream::new(outgoing));
    let cancel = request.cancellation_handle();
    let mut responses = client
        .full_duplex_call(request)
        .await
        .map_err(failed)?
        .into_inner();
    let first = responses
        .message()
        .await
        .map_err(failed)?
        .ok_or("the call ended OK without a response")?;
    expect_payload(&first.payload, PING_PONG[0].0)?;
    cancel.cancel();
    let rest = async {
        while responses.message().await?.is_some() {}
        Ok(())
    };
    expect_code(rest.await, Code::Cancelled)
}

async fn timeout_on_sleeping_server(mut client: Client) -> Result<(), String> {
    let (requests, outgoing) = mpsc::unbounded_channel();
    // Send errors are ignored, as CASES.md says.
    let _ = requests.send(StreamingOutputCallRequest {
        payload: Some(payload(27182)),
        ..Default::default()
    });
    let mut request = Request::new(UnboundedReceiverStream::new(outgoing));
    request.set_timeout(Duration::from_millis(1));
    let result: Result<(), Status> = async {
        let mut responses = client.full_duplex_call(request).await?.into_inner();
        while responses.message().await?.is_some() {}
        Ok(())
    }
    .await;
    // The request stream stays open (no half-close) until the call has ended.
    drop(requests);
    match result {
        Err(status) if status.code() == Code::DeadlineExceeded => Ok(()),
        // tonic's own deadline timer, which runs until the response headers
        // arrive, ends the call as CANCELLED "Timeout expired" (tonic maps its
        // `TimeoutExpired` to CANCELLED): that is this deadline expiring too.
        // tonic makes that status without metadata, while a status a server
        // sends before the headers is Trailers-Only, with its content-type.
        Err(status)
            if status.code() == Code::Cancelled
                && status.message() == "Timeout expired"
                && status.metadata().is_empty() =>
        {
            Ok(())
        }
        other => Err(format!("{}, want DEADLINE_EXCEEDED", outcome(&other))),
    }
}

async fn client_compressed_unary(client: Client) -> Result<(), String> {
    // (1) The probe: expect_compressed, sent uncompressed.
    let result = client
        .clone()
        .unary_call(compressed_unary_request(true))
        .await;
    expect_code(result, Code::InvalidArgument).map_err(|why| format!("(1) probe: {why}"))?;
    // (2) expect_compressed, sent compressed.
    let response = client
        .clone()
        .send_compressed(CompressionEncoding::Gzip)
        .unary_call(compressed_unary_request(true))
        .await
        .map_err(|s| format!("(2) {}", failed(s)))?;
    expect_payload(&response.into_inner().payload, LARGE_RESPONSE)
        .map_err(|why| format!("(2) {why}"))?;
    // (3) Not expected compressed, sent uncompressed.
    let response = client
        .clone()
        .unary_call(compressed_unary_request(false))
        .await
        .map_err(|s| format!("(3) {}", failed(s)))?;
    expect_payload(&response.into_inner().payload, LARGE_RESPONSE)
        .map_err(|why| format!("(3) {why}"))
}

async fn server_compressed_unary(client: Client) -> Result<(), String> {
    let mut client = client.accept_compressed(CompressionEncoding::Gzip);
    for compressed in [true, false] {
        let part = if compressed {
            "(compressed)"
        } else {
            "(uncompressed)"
        };
        let response = client
            .unary_call(SimpleRequest {
                response_compressed: Some(BoolValue { value: compressed }),
                response_size: LARGE_RESPONSE as i32,
                payload: Some(payload(LARGE_REQUEST)),
                ..Default::default()
            })
            .await
            .map_err(|s| format!("{part} {}", failed(s)))?;
        // tonic hides the message's compressed flag. A flagged message needs
        // `grpc-encoding: gzip`, so that much is checked; a clear flag cannot
        // be (the header may name gzip and the message still go uncompressed).
        if compressed {
            expect_gzip_header(response.metadata()).map_err(|why| format!("{part} {why}"))?;
        }
        expect_payload(&response.into_inner().payload, LARGE_RESPONSE)
            .map_err(|why| format!("{part} {why}"))?;
    }
    Ok(())
}

async fn client_compressed_streaming(client: Client) -> Result<(), String> {
    // (1) The probe: the first message expects compression, goes uncompressed.
    let probe = [StreamingInputCallRequest {
        expect_compressed: Some(BoolValue { value: true }),
        payload: Some(payload(27182)),
    }];
    let result = client
        .clone()
        .streaming_input_call(tokio_stream::iter(probe))
        .await;
    expect_code(result, Code::InvalidArgument).map_err(|why| format!("(1) probe: {why}"))?;
    // (2) tonic compresses every message of a call or none, so the second
    // message, which CASES.md sends uncompressed, goes compressed too. The
    // server checks nothing of a message with expect_compressed false.
    let requests =
        [(true, 27182), (false, 45904)].map(|(expect, size)| StreamingInputCallRequest {
            expect_compressed: Some(BoolValue { value: expect }),
            payload: Some(payload(size)),
        });
    let response = client
        .clone()
        .send_compressed(CompressionEncoding::Gzip)
        .streaming_input_call(tokio_stream::iter(requests))
        .await
        .map_err(|s| format!("(2) {}", failed(s)))?;
    expect_aggregated(response.into_inner().aggregated_payload_size, 73086)
        .map_err(|why| format!("(2) {why}"))
}

async fn server_compressed_streaming(client: Client) -> Result<(), String> {
    let mut client = client.accept_compressed(CompressionEncoding::Gzip);
    let request = StreamingOutputCallRequest {
        response_parameters: vec![
            parameters(31415, Some(true)),
            parameters(92653, Some(false)),
        ],
        ..Default::default()
    };
    let response = client
        .streaming_output_call(request)
        .await
        .map_err(failed)?;
    // tonic hides each message's compressed flag; only the `grpc-encoding`
    // the first (compressed) message needs is checked, not the flags.
    expect_gzip_header(response.metadata())?;
    expect_responses(response.into_inner(), &[31415, 92653]).await
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: LARGE_RESPONSE as i32,
        payload: Some(payload(LARGE_REQUEST)),
        ..Default::default()
    }
}

fn compressed_unary_request(expect_compressed: bool) -> SimpleRequest {
    SimpleRequest {
        expect_compressed: Some(BoolValue {
            value: expect_compressed,
        }),
        ..large_request()
    }
}

fn parameters(size: usize, compressed: Option<bool>) -> ResponseParameters {
    ResponseParameters {
        size: size as i32,
        compressed: compressed.map(|value| BoolValue { value }),
        ..Default::default()
    }
}

fn ping_pong_request((response_size, payload_size): (usize, usize)) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: vec![parameters(response_size, None)],
        payload: Some(payload(payload_size)),
        ..Default::default()
    }
}

fn send(
    requests: &mpsc::UnboundedSender<StreamingOutputCallRequest>,
    request: StreamingOutputCallRequest,
) -> Result<(), String> {
    requests
        .send(request)
        .map_err(|_| "the call stopped taking requests".to_owned())
}

fn add_echo_metadata(metadata: &mut MetadataMap) {
    metadata.insert(ECHO_INITIAL, MetadataValue::from_static(ECHO_INITIAL_VALUE));
    metadata.insert_bin(
        ECHO_TRAILING,
        MetadataValue::from_bytes(&ECHO_TRAILING_VALUE),
    );
}

fn expect_echo_initial(metadata: &MetadataMap) -> Result<(), String> {
    match metadata.get(ECHO_INITIAL).map(|v| v.to_str()) {
        Some(Ok(ECHO_INITIAL_VALUE)) => Ok(()),
        other => Err(format!(
            "initial metadata {ECHO_INITIAL} is {other:?}, want {ECHO_INITIAL_VALUE:?}"
        )),
    }
}

fn expect_echo_trailing(trailers: Result<Option<MetadataMap>, Status>) -> Result<(), String> {
    let trailers = trailers
        .map_err(failed)?
        .ok_or("the call has no trailers")?;
    match trailers.get_bin(ECHO_TRAILING).map(|v| v.to_bytes()) {
        Some(Ok(bytes)) if bytes[..] == ECHO_TRAILING_VALUE => Ok(()),
        other => Err(format!(
            "trailer {ECHO_TRAILING} is {other:?}, want {ECHO_TRAILING_VALUE:02x?}"
        )),
    }
}

fn expect_gzip_header(metadata: &MetadataMap) -> Result<(), String> {
    match metadata.get("grpc-encoding").map(|v| v.to_str()) {
        Some(Ok("gzip")) => Ok(()),
        other => Err(format!(
            "response grpc-encoding is {other:?}, want \"gzip\" for a compressed message"
        )),
    }
}

/// A payload of `size` zero bytes.
fn expect_payload(payload: &Option<Payload>, size: usize) -> Result<(), String> {
    let body = payload.as_ref().map_or(&[][..], |p| &p.body[..]);
    if body.len() != size {
        return Err(format!("payload of {} bytes, want {size}", body.len()));
    }
    if body.iter().any(|&b| b != 0) {
        return Err("payload bytes are not all zero".to_owned());
    }
    Ok(())
}

fn expect_aggregated(got: i32, want: i32) -> Result<(), String> {
    if got != want {
        return Err(format!("aggregated_payload_size {got}, want {want}"));
    }
    Ok(())
}

/// Exactly one response per size, of that size, in order, then OK.
async fn expect_responses(
    mut responses: Streaming<StreamingOutputCallResponse>,
    sizes: &[usize],
) -> Result<(), String> {
    for (i, &size) in sizes.iter().enumerate() {
        let response = responses.message().await.map_err(failed)?.ok_or_else(|| {
            format!(
                "the call ended OK after {i} responses, want {}",
                sizes.len()
            )
        })?;
        expect_payload(&response.payload, size)
            .map_err(|why| format!("response {}: {why}", i + 1))?;
    }
    expect_end(&mut responses).await
}

/// No further response, and status OK.
async fn expect_end<T>(responses: &mut Streaming<T>) -> Result<(), String> {
    match responses.message().await {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err("one response too many".to_owned()),
        Err(status) => Err(failed(status)),
    }
}

fn expect_code<T>(result: Result<T, Status>, code: Code) -> Result<(), String> {
    match result {
        Err(status) if status.code() == code => Ok(()),
        other => Err(format!("{}, want {code:?}", outcome(&other))),
    }
}

fn expect_status(result: Result<(), Status>, code: Code, message: &str) -> Result<(), String> {
    match &result {
        Err(status) if status.code() == code && status.message() == message => Ok(()),
        other => Err(format!("{}, want {code:?} {message:?}", outcome(other))),
    }
}

fn outcome<T>(result: &Result<T, Status>) -> String {
    match result {
        Ok(_) => "the call succeeded".to_owned(),
        Err(status) => describe(status),
    }
}

fn failed(status: Status) -> String {
    format!("the call failed: {}", describe(&status))
}

fn describe(status: &Status) -> String {
    format!("status {:?} {:?}", status.code(), status.message())
}
