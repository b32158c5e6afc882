//! The 18 interop client cases of `spec-tests/interop/CASES.md`, over any
//! async client transport (the blocking adapters come through
//! [`BlockingTransport`](super::bridge::BlockingTransport)).

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::CallOptions;
use grpc_sansio_service::codec::{decode, encode};
use grpc_sansio_service::{AsyncClientStream, AsyncClientTransport};
use prost::Message;

use super::payload;
use super::service::{ECHO_INITIAL, ECHO_TRAILING};
use crate::proto::{
    test_service_paths as paths, BoolValue, EchoStatus, Empty, ResponseParameters, SimpleRequest,
    SimpleResponse, StreamingInputCallRequest, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// Every case, in the order `all` runs them.
pub const ALL_CASES: [&str; 18] = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// Every call's deadline, so no case can hang on a broken peer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The case name.
    pub name: String,
    /// `Err` says why it failed.
    pub result: Result<(), String>,
}

impl Outcome {
    /// `PASS name` or `FAIL name: why`, one line.
    pub fn line(&self) -> String {
        match &self.result {
            Ok(()) => format!("PASS {}", self.name),
            Err(why) => format!("FAIL {}: {}", self.name, why.replace('\n', " ")),
        }
    }
}

/// The closing line: `N passed, M failed`.
pub fn summary(outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|o| o.result.is_ok()).count();
    format!("{passed} passed, {} failed", outcomes.len() - passed)
}

/// The case names of a `--test_case` value: a name, a comma list, or `all`.
pub fn select(spec: &str) -> Vec<String> {
    if spec == "all" {
        return ALL_CASES.iter().map(|c| c.to_string()).collect();
    }
    spec.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs one case.
pub async fn run(transport: &dyn AsyncClientTransport, name: &str) -> Outcome {
    let t = transport;
    let result = match name {
        "empty_unary" => empty_unary(t).await,
        "large_unary" => large_unary(t).await,
        "client_streaming" => client_streaming(t).await,
        "server_streaming" => server_streaming(t).await,
        "ping_pong" => ping_pong(t).await,
        "empty_stream" => empty_stream(t).await,
        "custom_metadata" => custom_metadata(t).await,
        "status_code_and_message" => status_code_and_message(t).await,
        "special_status_message" => special_status_message(t).await,
        "unimplemented_method" => unimplemented(t, paths::UNIMPLEMENTED_CALL).await,
        "unimplemented_service" => {
            unimplemented(t, "/grpc.testing.UnimplementedService/UnimplementedCall").await
        }
        "cancel_after_begin" => cancel_after_begin(t).await,
        "cancel_after_first_response" => cancel_after_first_response(t).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(t).await,
        "client_compressed_unary" => client_compressed_unary(t).await,
        "server_compressed_unary" => server_compressed_unary(t).await,
        "client_compressed_streaming" => client_compressed_streaming(t).await,
        "server_compressed_streaming" => server_compressed_streaming(t).await,
        _ => Err(format!(
            "unknown test case (known: {})",
            ALL_CASES.join(", ")
        )),
    };
    Outcome {
        name: name.to_owned(),
        result,
    }
}

type CaseResult = Result<(), String>;

/// Fails the case with `why` unless `ok`.
fn ensure(ok: bool, why: impl FnOnce() -> String) -> CaseResult {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

fn options(path: &str) -> CallOptions {
    CallOptions {
        timeout: Some(CALL_TIMEOUT),
        ..CallOptions::new(path)
    }
}

fn gzip(mut options: CallOptions) -> CallOptions {
    options.encoding = Some(Encoding::Gzip);
    options
}

fn status_text(status: &Status) -> String {
    format!("{:?}: {:?}", status.code(), status.message())
}

async fn start(
    t: &dyn AsyncClientTransport,
    options: CallOptions,
) -> Result<Box<dyn AsyncClientStream>, String> {
    t.call(options)
        .await
        .map_err(|s| format!("call not started: {}", status_text(&s)))
}

/// What a finished call gave back.
struct Answer<M> {
    messages: Vec<(M, bool)>,
    headers: Metadata,
    status: Status,
    trailers: Metadata,
}

/// Sends `requests` (each with its compress choice), half-closes, and reads
/// everything back. Send failures are left to the final status.
async fn exchange<Req: Message, Resp: Message + Default>(
    t: &dyn AsyncClientTransport,
    options: CallOptions,
    requests: &[(Req, bool)],
) -> Result<Answer<Resp>, String> {
    let mut call = start(t, options).await?;
    for (request, compress) in requests {
        if call.send_with(encode(request), *compress).await.is_err() {
            break;
        }
    }
    call.close_send().await;
    read_all(&mut *call).await
}

async fn read_all<Resp: Message + Default>(
    call: &mut dyn AsyncClientStream,
) -> Result<Answer<Resp>, String> {
    let mut messages = Vec::new();
    while let Ok(Some(bytes)) = call.recv().await {
        let compressed = call.recv_compressed();
        messages.push((decode_as::<Resp>(bytes)?, compressed));
    }
    let headers = call.headers().await.unwrap_or_default();
    let (status, trailers) = call.finish().await;
    Ok(Answer {
        messages,
        headers,
        status,
        trailers,
    })
}

fn decode_as<M: Message + Default>(bytes: Bytes) -> Result<M, String> {
    decode(bytes).map_err(|s| format!("undecodable response: {}", s.message()))
}

impl<M> Answer<M> {
    fn ok(self) -> Result<Self, String> {
        ensure(self.status.is_ok(), || {
            format!("status {}", status_text(&self.status))
        })?;
        Ok(self)
    }

    fn expect_status(&self, code: Code, message: Option<&str>) -> CaseResult {
        let matches =
            self.status.code() == code && message.is_none_or(|m| self.status.message() == m);
        ensure(matches, || {
            format!(
                "expected {code:?}{}, got {}",
                message.map(|m| format!(" {m:?}")).unwrap_or_default(),
                status_text(&self.status)
            )
        })
    }

    /// The one message of a unary-response call.
    fn single(self) -> Result<(M, bool), String> {
        let count = self.messages.len();
        ensure(count == 1, || format!("{count} responses, expected 1"))?;
        Ok(self.messages.into_iter().next().expect("one message"))
    }
}

fn simple_request(response_size: i32, payload_size: usize) -> SimpleRequest {
    SimpleRequest {
        response_size,
        payload: Some(payload(payload_size)),
        ..SimpleRequest::default()
    }
}

fn streaming_request(sizes: &[i32], payload_size: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        payload: (payload_size > 0).then(|| payload(payload_size)),
        ..StreamingOutputCallRequest::default()
    }
}

/// A payload of `len` zero bytes, or why not.
fn check_payload(payload: &Option<crate::proto::Payload>, len: usize) -> CaseResult {
    let body = payload.as_ref().map(|p| p.body.as_slice()).unwrap_or(&[]);
    ensure(body.len() == len, || {
        format!("payload of {} bytes, expected {len}", body.len())
    })?;
    ensure(body.iter().all(|&b| b == 0), || {
        "payload not all zeros".into()
    })
}

async fn empty_unary(t: &dyn AsyncClientTransport) -> CaseResult {
    let answer: Answer<Empty> =
        exchange(t, options(paths::EMPTY_CALL), &[(Empty {}, true)]).await?;
    let (response, _) = answer.ok()?.single()?;
    ensure(response.encoded_len() == 0, || "non-empty response".into())
}

async fn large_unary(t: &dyn AsyncClientTransport) -> CaseResult {
    let request = simple_request(314_159, 271_828);
    let answer: Answer<SimpleResponse> =
        exchange(t, options(paths::UNARY_CALL), &[(request, true)]).await?;
    let (response, _) = answer.ok()?.single()?;
    check_payload(&response.payload, 314_159)
}

async fn client_streaming(t: &dyn AsyncClientTransport) -> CaseResult {
    let requests: Vec<_> = [27_182, 8, 1_828, 45_904]
        .into_iter()
        .map(|n| {
            let request = StreamingInputCallRequest {
                payload: Some(payload(n)),
                ..StreamingInputCallRequest::default()
            };
            (request, true)
        })
        .collect();
    let answer: Answer<StreamingInputCallResponse> =
        exchange(t, options(paths::STREAMING_INPUT_CALL), &requests).await?;
    let (response, _) = answer.ok()?.single()?;
    let total = response.aggregated_payload_size;
    ensure(total == 74_922, || {
        format!("aggregated {total}, expected 74922")
    })
}

async fn server_streaming(t: &dyn AsyncClientTransport) -> CaseResult {
    let sizes = [31_415, 9, 2_653, 58_979];
    let request = streaming_request(&sizes, 0);
    let answer: Answer<StreamingOutputCallResponse> =
        exchange(t, options(paths::STREAMING_OUTPUT_CALL), &[(request, true)]).await?;
    let answer = answer.ok()?;
    let got: Vec<usize> = answer
        .messages
        .iter()
        .map(|(m, _)| m.payload.as_ref().map_or(0, |p| p.body.len()))
        .collect();
    ensure(got == [31_415, 9, 2_653, 58_979], || {
        format!("response sizes {got:?}, expected {sizes:?}")
    })
}

/// Sends one request and reads exactly one response of `size` bytes.
async fn ping(
    call: &mut dyn AsyncClientStream,
    request: &StreamingOutputCallRequest,
    size: usize,
) -> CaseResult {
    call.send(encode(request))
        .await
        .map_err(|s| format!("send refused: {}", status_text(&s)))?;
    match call.recv().await {
        Ok(Some(bytes)) => {
            let response: StreamingOutputCallResponse = decode_as(bytes)?;
            check_payload(&response.payload, size)
        }
        Ok(None) => Err("the call ended before the response".into()),
        Err(status) => Err(format!("status {}", status_text(&status))),
    }
}

async fn ping_pong(t: &dyn AsyncClientTransport) -> CaseResult {
    let mut call = start(t, options(paths::FULL_DUPLEX_CALL)).await?;
    for (response, request) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        ping(
            &mut *call,
            &streaming_request(&[response], request),
            response as usize,
        )
        .await?;
    }
    call.close_send().await;
    let rest: Answer<StreamingOutputCallResponse> = read_all(&mut *call).await?;
    let rest = rest.ok()?;
    let extra = rest.messages.len();
    ensure(extra == 0, || {
        format!("{extra} responses after the half-close")
    })
}

async fn empty_stream(t: &dyn AsyncClientTransport) -> CaseResult {
    let requests: [(StreamingOutputCallRequest, bool); 0] = [];
    let answer: Answer<StreamingOutputCallResponse> =
        exchange(t, options(paths::FULL_DUPLEX_CALL), &requests).await?;
    let answer = answer.ok()?;
    let count = answer.messages.len();
    ensure(count == 0, || format!("{count} responses, expected none"))
}

const ECHO_INITIAL_VALUE: &str = "test_initial_metadata_value";
const ECHO_TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];

fn check_echo<M>(answer: &Answer<M>) -> CaseResult {
    let initial = answer.headers.get(ECHO_INITIAL);
    ensure(initial == Some(ECHO_INITIAL_VALUE), || {
        format!("initial metadata {ECHO_INITIAL} = {initial:?}")
    })?;
    let trailing = answer.trailers.get_bin(ECHO_TRAILING);
    ensure(
        trailing.map(|b| &b[..]) == Some(&ECHO_TRAILING_VALUE[..]),
        || format!("trailer {ECHO_TRAILING} = {trailing:?}"),
    )
}

async fn custom_metadata(t: &dyn AsyncClientTransport) -> CaseResult {
    let with_metadata = |path| {
        let mut options = options(path);
        let md = &mut options.metadata;
        md.insert(ECHO_INITIAL, ECHO_INITIAL_VALUE).expect("valid");
        md.insert_bin(ECHO_TRAILING, Bytes::from_static(&ECHO_TRAILING_VALUE))
            .expect("valid");
        options
    };
    let request = simple_request(314_159, 271_828);
    let unary: Answer<SimpleResponse> =
        exchange(t, with_metadata(paths::UNARY_CALL), &[(request, true)]).await?;
    let unary = unary.ok().map_err(|e| format!("unary: {e}"))?;
    check_echo(&unary).map_err(|e| format!("unary: {e}"))?;
    let (response, _) = unary.single()?;
    check_payload(&response.payload, 314_159)?;

    let request = streaming_request(&[314_159], 271_828);
    let duplex: Answer<StreamingOutputCallResponse> = exchange(
        t,
        with_metadata(paths::FULL_DUPLEX_CALL),
        &[(request, true)],
    )
    .await?;
    let duplex = duplex.ok().map_err(|e| format!("duplex: {e}"))?;
    check_echo(&duplex).map_err(|e| format!("duplex: {e}"))?;
    let (response, _) = duplex.single()?;
    check_payload(&response.payload, 314_159)
}

fn echo_status(message: &str) -> Option<EchoStatus> {
    Some(EchoStatus {
        code: 2,
        message: message.to_owned(),
    })
}

async fn status_code_and_message(t: &dyn AsyncClientTransport) -> CaseResult {
    let message = "test status message";
    let request = SimpleRequest {
        response_status: echo_status(message),
        ..SimpleRequest::default()
    };
    let unary: Answer<SimpleResponse> =
        exchange(t, options(paths::UNARY_CALL), &[(request, true)]).await?;
    unary
        .expect_status(Code::Unknown, Some(message))
        .map_err(|e| format!("unary: {e}"))?;

    let request = StreamingOutputCallRequest {
        response_status: echo_status(message),
        ..StreamingOutputCallRequest::default()
    };
    let duplex: Answer<StreamingOutputCallResponse> =
        exchange(t, options(paths::FULL_DUPLEX_CALL), &[(request, true)]).await?;
    duplex
        .expect_status(Code::Unknown, Some(message))
        .map_err(|e| format!("duplex: {e}"))
}

async fn special_status_message(t: &dyn AsyncClientTransport) -> CaseResult {
    let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
    let request = SimpleRequest {
        response_status: echo_status(message),
        ..SimpleRequest::default()
    };
    let answer: Answer<SimpleResponse> =
        exchange(t, options(paths::UNARY_CALL), &[(request, true)]).await?;
    answer.expect_status(Code::Unknown, Some(message))
}

async fn unimplemented(t: &dyn AsyncClientTransport, path: &str) -> CaseResult {
    let answer: Answer<Empty> = exchange(t, options(path), &[(Empty {}, true)]).await?;
    answer.expect_status(Code::Unimplemented, None)
}

async fn cancel_after_begin(t: &dyn AsyncClientTransport) -> CaseResult {
    let mut call = start(t, options(paths::STREAMING_INPUT_CALL)).await?;
    call.cancel();
    let (status, _) = call.finish().await;
    ensure(status.code() == Code::Cancelled, || {
        format!("expected Cancelled, got {}", status_text(&status))
    })
}

async fn cancel_after_first_response(t: &dyn AsyncClientTransport) -> CaseResult {
    let mut call = start(t, options(paths::FULL_DUPLEX_CALL)).await?;
    ping(&mut *call, &streaming_request(&[31_415], 27_182), 31_415).await?;
    call.cancel();
    let (status, _) = call.finish().await;
    ensure(status.code() == Code::Cancelled, || {
        format!("expected Cancelled, got {}", status_text(&status))
    })
}

async fn timeout_on_sleeping_server(t: &dyn AsyncClientTransport) -> CaseResult {
    let options = CallOptions {
        timeout: Some(Duration::from_millis(1)),
        ..CallOptions::new(paths::FULL_DUPLEX_CALL)
    };
    let mut call = start(t, options).await?;
    let request = streaming_request(&[], 27_182);
    // The deadline may pass before the send: its error is not the verdict.
    let _ = call.send(encode(&request)).await;
    let (status, _) = call.finish().await;
    ensure(status.code() == Code::DeadlineExceeded, || {
        format!("expected DeadlineExceeded, got {}", status_text(&status))
    })
}

fn expect_compressed(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

async fn client_compressed_unary(t: &dyn AsyncClientTransport) -> CaseResult {
    let request = |expect| SimpleRequest {
        expect_compressed: expect_compressed(expect),
        ..simple_request(314_159, 271_828)
    };
    let probe: Answer<SimpleResponse> =
        exchange(t, options(paths::UNARY_CALL), &[(request(true), false)]).await?;
    probe
        .expect_status(Code::InvalidArgument, None)
        .map_err(|e| format!("probe: {e}"))?;
    for (expect, call_options) in [
        (true, gzip(options(paths::UNARY_CALL))),
        (false, options(paths::UNARY_CALL)),
    ] {
        let answer: Answer<SimpleResponse> =
            exchange(t, call_options, &[(request(expect), expect)]).await?;
        let step = if expect { "compressed" } else { "uncompressed" };
        let (response, _) = answer
            .ok()
            .and_then(Answer::single)
            .map_err(|e| format!("{step}: {e}"))?;
        check_payload(&response.payload, 314_159).map_err(|e| format!("{step}: {e}"))?;
    }
    Ok(())
}

async fn server_compressed_unary(t: &dyn AsyncClientTransport) -> CaseResult {
    for compressed in [true, false] {
        let request = SimpleRequest {
            response_compressed: expect_compressed(compressed),
            ..simple_request(314_159, 271_828)
        };
        let answer: Answer<SimpleResponse> =
            exchange(t, options(paths::UNARY_CALL), &[(request, true)]).await?;
        let (response, flag) = answer.ok()?.single()?;
        check_payload(&response.payload, 314_159)?;
        ensure(flag == compressed, || {
            format!("response_compressed {compressed}, but the response's flag is {flag}")
        })?;
    }
    Ok(())
}

async fn client_compressed_streaming(t: &dyn AsyncClientTransport) -> CaseResult {
    let request = |expect, size| StreamingInputCallRequest {
        payload: Some(payload(size)),
        expect_compressed: expect_compressed(expect),
    };
    let probe: Answer<StreamingInputCallResponse> = exchange(
        t,
        options(paths::STREAMING_INPUT_CALL),
        &[(request(true, 27_182), false)],
    )
    .await?;
    probe
        .expect_status(Code::InvalidArgument, None)
        .map_err(|e| format!("probe: {e}"))?;
    let answer: Answer<StreamingInputCallResponse> = exchange(
        t,
        gzip(options(paths::STREAMING_INPUT_CALL)),
        &[
            (request(true, 27_182), true),
            (request(false, 45_904), false),
        ],
    )
    .await?;
    let (response, _) = answer.ok()?.single()?;
    let total = response.aggregated_payload_size;
    ensure(total == 73_086, || {
        format!("aggregated {total}, expected 73086")
    })
}

async fn server_compressed_streaming(t: &dyn AsyncClientTransport) -> CaseResult {
    let request = StreamingOutputCallRequest {
        response_parameters: vec![
            ResponseParameters {
                size: 31_415,
                compressed: expect_compressed(true),
                ..ResponseParameters::default()
            },
            ResponseParameters {
                size: 92_653,
                compressed: expect_compressed(false),
                ..ResponseParameters::default()
            },
        ],
        ..StreamingOutputCallRequest::default()
    };
    let answer: Answer<StreamingOutputCallResponse> =
        exchange(t, options(paths::STREAMING_OUTPUT_CALL), &[(request, true)]).await?;
    let answer = answer.ok()?;
    let got: Vec<(usize, bool)> = answer
        .messages
        .iter()
        .map(|(m, flag)| (m.payload.as_ref().map_or(0, |p| p.body.len()), *flag))
        .collect();
    ensure(got == [(31_415, true), (92_653, false)], || {
        format!("responses (size, compressed) {got:?}, expected [(31415, true), (92653, false)]")
    })
}
