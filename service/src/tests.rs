//! Service-layer tests over in-memory streams: router, typed handlers,
//! interceptors, clients, auth and tracing, blocking and async.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::auth::{BearerAuth, BearerToken};
use super::codec::{decode, encode};
use super::testing::{block_on, Loopback, MemoryStream, Sent};
use super::trace::{SequentialIds, SpanKind, SpanRecord, TraceContext, Tracing, TRACEPARENT};
use super::*;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Text {
    #[prost(string, tag = "1")]
    text: String,
}

fn num(value: i64) -> Num {
    Num { value }
}

fn text(text: &str) -> Text {
    Text { text: text.into() }
}

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Who is calling, as an auth interceptor attaches it.
#[derive(Debug, Clone, PartialEq)]
struct Principal(String);

/// `test.Calc`: one method of each kind, plus `Who` that reports what the
/// interceptors attached. `log` records handler runs.
fn calc(log: Log) -> Service {
    let (l1, l2, l3, l4, l5) = (log.clone(), log.clone(), log.clone(), log.clone(), log);
    Service::new("test.Calc")
        .unary("Double", move |ctx, request: Num| {
            push(&l1, "handler:Double");
            if request.value < 0 {
                ctx.set_trailer("x-reason", "negative")?;
                return Err(Status::new(Code::InvalidArgument, "negative"));
            }
            ctx.set_header("x-handler", "double")?;
            ctx.set_trailer("x-cost", "1")?;
            Ok(num(request.value * 2))
        })
        .server_streaming("Count", move |ctx, request: Num, mut sink| {
            push(&l2, "handler:Count");
            ctx.set_header("x-total", &request.value.to_string())?;
            for i in 1..=request.value {
                sink.send(&num(i))?;
            }
            Ok(())
        })
        .client_streaming("Sum", move |_ctx, requests: RequestStream<'_, Num>| {
            push(&l3, "handler:Sum");
            let mut total = 0;
            for request in requests {
                total += request?.value;
            }
            Ok(num(total))
        })
        .bidi_streaming(
            "Echo",
            move |_ctx, mut stream: BidiStream<'_, Text, Text>| {
                push(&l4, "handler:Echo");
                while let Some(message) = stream.recv()? {
                    stream.send(&text(&message.text.to_uppercase()))?;
                }
                Ok(())
            },
        )
        .unary("Who", move |ctx, _: Text| {
            push(&l5, "handler:Who");
            let who = ctx
                .extensions()
                .get::<Principal>()
                .map_or("anonymous".to_owned(), |p| p.0.clone());
            Ok(text(&who))
        })
}

fn ctx(path: &str) -> CallContext {
    CallContext::from_parts(path, Metadata::new(), None, Instant::now()).with_peer_addr("peer:1")
}

fn router(log: &Log) -> Router {
    let mut router = Router::new();
    router.add(calc(log.clone()));
    router
}

// ----- router and typed handlers -----

#[test]
fn router_unary_round_trip_with_response_metadata() {
    let log = Log::default();
    let router = router(&log);
    let mut stream = MemoryStream::new([encode(&num(21))]);
    let outcome = router.dispatch(&mut stream, ctx("/test.Calc/Double"));
    assert_eq!(outcome.status, Status::ok());
    assert_eq!(outcome.trailers.get("x-cost"), Some("1"));
    assert_eq!(stream.sent.len(), 2);
    assert_eq!(stream.headers().get("x-handler"), Some("double"));
    assert_eq!(
        decode::<Num>(stream.messages()[0].clone()).unwrap(),
        num(42)
    );
    assert_eq!(
        router.method_kind("/test.Calc/Double"),
        Some(MethodKind::Unary)
    );
    assert_eq!(router.service_names().collect::<Vec<_>>(), ["test.Calc"]);
}

#[test]
fn router_handler_error_keeps_its_trailers() {
    let log = Log::default();
    let mut stream = MemoryStream::new([encode(&num(-1))]);
    let outcome = router(&log).dispatch(&mut stream, ctx("/test.Calc/Double"));
    assert_eq!(outcome.status.code(), Code::InvalidArgument);
    assert_eq!(outcome.trailers.get("x-reason"), Some("negative"));
    assert!(stream.sent.is_empty(), "Trailers-Only: nothing sent");
}

#[test]
fn unknown_service_and_method_reach_the_audit_hook_not_user_code() {
    let log = Log::default();
    let audit = Log::default();
    let mut router = router(&log);
    let sink = audit.clone();
    router.set_audit_hook(move |call: &UnknownCall<'_>| {
        push(
            &sink,
            format!(
                "{}|{:?}|{:?}|{:?}",
                call.path,
                call.reason,
                call.peer_addr,
                call.metadata.get("x-probe")
            ),
        );
    });
    let interceptor_log = Log::default();
    router.add_interceptor(Recording::new("never", &interceptor_log));

    for (path, code_message) in [
        ("/test.Nope/Double", "unknown service test.Nope"),
        (
            "/test.Calc/Triple",
            "unknown method Triple for service test.Calc",
        ),
        ("test.Calc", "malformed method name: \"test.Calc\""),
    ] {
        let mut md = Metadata::new();
        md.insert("x-probe", "yes").unwrap();
        let ctx =
            CallContext::from_parts(path, md, None, Instant::now()).with_peer_addr("10.1.1.1:9");
        let mut stream = MemoryStream::new([encode(&num(1))]);
        let outcome = router.dispatch(&mut stream, ctx);
        assert_eq!(outcome.status.code(), Code::Unimplemented);
        assert_eq!(outcome.status.message(), code_message);
        assert!(stream.sent.is_empty());
        assert_eq!(stream.requests.len(), 1, "the request was not even read");
    }
    assert_eq!(
        entries(&audit),
        [
            "/test.Nope/Double|UnknownService|Some(\"10.1.1.1:9\")|Some(\"yes\")",
            "/test.Calc/Triple|UnknownMethod|Some(\"10.1.1.1:9\")|Some(\"yes\")",
            "test.Calc|MalformedPath|Some(\"10.1.1.1:9\")|Some(\"yes\")",
        ]
    );
    assert!(entries(&log).is_empty(), "no handler ran");
    assert!(entries(&interceptor_log).is_empty(), "no interceptor ran");
}

#[test]
fn undecodable_and_missing_requests_are_internal() {
    let log = Log::default();
    let router = router(&log);
    let mut stream = MemoryStream::new([Bytes::from_static(&[0x08])]);
    let outcome = router.dispatch(&mut stream, ctx("/test.Calc/Double"));
    assert_eq!(outcome.status.code(), Code::Internal);
    assert!(outcome
        .status
        .message()
        .contains("failed to decode the request"));

    let mut stream = MemoryStream::new([]);
    let outcome = router.dispatch(&mut stream, ctx("/test.Calc/Double"));
    assert_eq!(outcome.status.code(), Code::Internal);
    assert!(outcome
        .status
        .message()
        .contains("without sending the request"));
    assert!(entries(&log).is_empty());
}

#[test]
fn streaming_kinds_over_the_router() {
    let log = Log::default();
    let router = router(&log);

    let mut stream = MemoryStream::new([encode(&num(3))]);
    let outcome = router.dispatch(&mut stream, ctx("/test.Calc/Count"));
    assert!(outcome.status.is_ok());
    assert!(matches!(&stream.sent[0], Sent::Headers(h) if h.get("x-total") == Some("3")));
    let values: Vec<i64> = stream
        .messages()
        .into_iter()
        .map(|m| decode::<Num>(m).unwrap().value)
        .collect();
    assert_eq!(values, [1, 2, 3]);

    let mut stream = MemoryStream::new([encode(&num(2)), encode(&num(5))]);
    assert!(router
        .dispatch(&mut stream, ctx("/test.Calc/Sum"))
        .status
        .is_ok());
    assert_eq!(decode::<Num>(stream.messages()[0].clone()).unwrap(), num(7));

    let mut stream = MemoryStream::new([encode(&text("a")), encode(&text("b"))]);
    assert!(router
        .dispatch(&mut stream, ctx("/test.Calc/Echo"))
        .status
        .is_ok());
    let echoed: Vec<String> = stream
        .messages()
        .into_iter()
        .map(|m| decode::<Text>(m).unwrap().text)
        .collect();
    assert_eq!(echoed, ["A", "B"]);
}

#[test]
fn headers_set_without_a_message_still_go_out() {
    let log = Log::default();
    let router = router(&log);
    // Count(0): headers set, no message sent.
    let mut stream = MemoryStream::new([encode(&num(0))]);
    assert!(router
        .dispatch(&mut stream, ctx("/test.Calc/Count"))
        .status
        .is_ok());
    assert_eq!(stream.sent.len(), 1);
    assert_eq!(stream.headers().get("x-total"), Some("0"));
}

#[test]
fn a_streaming_handler_observes_cancellation() {
    let token = CancelToken::new();
    let setter = token.clone();
    let service = Service::new("test.Ticker").server_streaming(
        "Tick",
        move |ctx, _: Num, mut sink: ResponseSink<'_, Num>| {
            let mut i = 0;
            loop {
                ctx.check()?;
                sink.send(&num(i))?;
                i += 1;
                if i == 3 {
                    // The adapter saw the client's RST_STREAM.
                    setter.cancel_for(&Status::new(Code::Cancelled, "reset"));
                }
            }
        },
    );
    let mut router = Router::new();
    router.add(service);
    let mut stream = MemoryStream::new([encode(&num(0))]);
    let outcome = router.dispatch(
        &mut stream,
        ctx("/test.Ticker/Tick").with_cancel_token(token),
    );
    assert_eq!(outcome.status.code(), Code::Cancelled);
    assert_eq!(stream.messages().len(), 3);
}

#[test]
fn a_handler_sees_the_deadline_pass_with_a_clock() {
    let start = Instant::now();
    let clock = Arc::new(ManualClock::new(start));
    let ticking = clock.clone();
    let service = Service::new("test.Slow").unary("Work", move |ctx, _: Num| {
        assert_eq!(ctx.remaining(), Some(Duration::from_millis(100)));
        ticking.advance(Duration::from_millis(150));
        ctx.check()?;
        Ok(num(0))
    });
    let mut router = Router::new();
    router.add(service).set_clock(clock.clone());
    let ctx = CallContext::from_parts(
        "/test.Slow/Work",
        Metadata::new(),
        Some(start + Duration::from_millis(100)),
        start,
    );
    let mut stream = MemoryStream::new([encode(&num(1))]);
    let outcome = router.dispatch(&mut stream, ctx);
    assert_eq!(outcome.status.code(), Code::DeadlineExceeded);
}

// ----- server interceptors -----

/// Logs its hooks; optionally rejects, or attaches a principal.
struct Recording {
    name: &'static str,
    log: Log,
    reject: Option<Code>,
    attach: Option<&'static str>,
}

impl Recording {
    fn new(name: &'static str, log: &Log) -> Self {
        Recording {
            name,
            log: log.clone(),
            reject: None,
            attach: None,
        }
    }
}

impl ServerInterceptor for Recording {
    fn on_start(&self, ctx: &mut CallContext) -> Result<(), Status> {
        push(&self.log, format!("start:{}:{}", self.name, ctx.method()));
        if let Some(who) = self.attach {
            ctx.extensions_mut().insert(Principal(who.into()));
        }
        match self.reject {
            Some(code) => Err(Status::new(code, self.name)),
            None => Ok(()),
        }
    }

    fn on_finish(&self, ctx: &CallContext, status: &Status, elapsed: Option<Duration>) {
        push(
            &self.log,
            format!(
                "finish:{}:{}:{:?}:{:?}",
                self.name,
                ctx.method(),
                status.code(),
                elapsed
            ),
        );
    }
}

#[test]
fn server_interceptors_wrap_the_handler_in_onion_order() {
    let log = Log::default();
    let mut router = router(&log);
    router
        .add_interceptor(Recording::new("a", &log))
        .add_unary_interceptor(Recording::new("unary", &log))
        .add_stream_interceptor(Recording::new("stream", &log))
        .add_interceptor(Recording::new("b", &log));

    let mut stream = MemoryStream::new([encode(&num(1))]);
    assert!(router
        .dispatch(&mut stream, ctx("/test.Calc/Double"))
        .status
        .is_ok());
    assert_eq!(
        entries(&log),
        [
            "start:a:Double",
            "start:unary:Double",
            "start:b:Double",
            "handler:Double",
            "finish:b:Double:Ok:None",
            "finish:unary:Double:Ok:None",
            "finish:a:Double:Ok:None",
        ]
    );

    log.lock().unwrap().clear();
    let mut stream = MemoryStream::new([encode(&num(1))]);
    assert!(router
        .dispatch(&mut stream, ctx("/test.Calc/Count"))
        .status
        .is_ok());
    assert_eq!(
        entries(&log),
        [
            "start:a:Count",
            "start:stream:Count",
            "start:b:Count",
            "handler:Count",
            "finish:b:Count:Ok:None",
            "finish:stream:Count:Ok:None",
            "finish:a:Count:Ok:None",
        ]
    );
}

#[test]
fn a_rejecting_interceptor_stops_the_call_before_the_handler() {
    let log = Log::default();
    let mut router = router(&log);
    router
        .add_interceptor(Recording::new("outer", &log))
        .add_interceptor(Recording {
            reject: Some(Code::Unauthenticated),
            ..Recording::new("gate", &log)
        })
        .add_interceptor(Recording::new("inner", &log));
    let mut stream = MemoryStream::new([encode(&num(1))]);
    let outcome = router.dispatch(&mut stream, ctx("/test.Calc/Double"));
    assert_eq!(outcome.status.code(), Code::Unauthenticated);
    assert!(stream.sent.is_empty());
    assert_eq!(
        entries(&log),
        [
            "start:outer:Double",
            "start:gate:Double",
            "finish:gate:Double:Unauthenticated:None",
            "finish:outer:Double:Unauthenticated:None",
        ]
    );
}

#[test]
fn interceptors_attach_values_for_the_handler_and_time_the_call() {
    let log = Log::default();
    let start = Instant::now();
    let clock = Arc::new(ManualClock::new(start));
    let mut router = Router::new();
    let ticking = clock.clone();
    router
        .add(
            Service::new("test.Timed").unary("Who", move |ctx, _: Text| {
                ticking.advance(Duration::from_millis(7));
                Ok(text(&ctx.extensions().get::<Principal>().unwrap().0))
            }),
        )
        .add_interceptor(Recording {
            attach: Some("alice"),
            ..Recording::new("auth", &log)
        })
        .set_clock(clock);
    let mut stream = MemoryStream::new([encode(&text(""))]);
    assert!(router
        .dispatch(&mut stream, ctx("/test.Timed/Who"))
        .status
        .is_ok());
    assert_eq!(
        decode::<Text>(stream.messages()[0].clone()).unwrap(),
        text("alice")
    );
    assert_eq!(entries(&log)[1], "finish:auth:Who:Ok:Some(7ms)");
}

// ----- clients over the loopback transport -----

/// Logs its hooks; adds `x-from-<name>` metadata.
struct ClientRecording {
    name: &'static str,
    log: Log,
    reject: bool,
}

impl ClientInterceptor for ClientRecording {
    fn on_start(&self, call: &mut OutgoingCall) -> Result<(), Status> {
        push(&self.log, format!("start:{}:{}", self.name, call.path));
        call.options
            .metadata
            .insert(&format!("x-from-{}", self.name), "1")
            .unwrap();
        if self.reject {
            return Err(Status::new(Code::FailedPrecondition, "refused locally"));
        }
        Ok(())
    }

    fn on_finish(
        &self,
        call: &OutgoingCall,
        status: &Status,
        trailers: &Metadata,
        elapsed: Option<Duration>,
    ) {
        push(
            &self.log,
            format!(
                "finish:{}:{:?}:{:?}:{}:{:?}",
                self.name,
                call.kind,
                status.code(),
                trailers.len(),
                elapsed
            ),
        );
    }
}

fn client_recording(name: &'static str, log: &Log) -> ClientRecording {
    ClientRecording {
        name,
        log: log.clone(),
        reject: false,
    }
}

#[test]
fn client_unary_with_options_interceptors_and_results() {
    let log = Log::default();
    let loopback = Loopback::new(router(&log));
    let calls = loopback.calls.clone();
    let start = Instant::now();
    let client = Client::new(loopback)
        .with_interceptor(client_recording("a", &log))
        .with_stream_interceptor(client_recording("stream", &log))
        .with_interceptor(client_recording("b", &log))
        .with_clock(move || start)
        .with_default_options(RequestOptions::new().with_timeout(Duration::from_secs(30)));

    let mut options = RequestOptions::new()
        .with_timeout(Duration::from_secs(2))
        .with_compression(grpc_sansio::grpc::compression::Encoding::Gzip);
    options.metadata.insert("x-request", "r1").unwrap();
    let response: Response<Num> = client.unary("/test.Calc/Double", &num(4), options).unwrap();
    assert_eq!(response.message, num(8));
    assert_eq!(response.headers.get("x-handler"), Some("double"));
    assert_eq!(response.trailers.get("x-cost"), Some("1"));

    let sent = calls.lock().unwrap()[0].clone();
    assert_eq!(sent.path, "/test.Calc/Double");
    assert_eq!(sent.timeout, Some(Duration::from_secs(2)));
    assert_eq!(
        sent.encoding,
        Some(grpc_sansio::grpc::compression::Encoding::Gzip)
    );
    let keys: Vec<_> = sent.metadata.iter().map(|(k, _)| k.to_owned()).collect();
    assert_eq!(keys, ["x-request", "x-from-a", "x-from-b"]);
    assert_eq!(
        entries(&log),
        [
            "start:a:/test.Calc/Double",
            "start:b:/test.Calc/Double",
            "handler:Double",
            "finish:b:Unary:Ok:1:Some(0ns)",
            "finish:a:Unary:Ok:1:Some(0ns)",
        ]
    );

    // A failing call: the error status reaches the caller and the interceptors.
    log.lock().unwrap().clear();
    let err = client
        .unary::<Num, Num>("/test.Calc/Double", &num(-3), RequestOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        entries(&log)[4],
        "finish:a:Unary:InvalidArgument:1:Some(0ns)"
    );
    assert_eq!(
        calls.lock().unwrap()[1].timeout,
        Some(Duration::from_secs(30))
    );
}

#[test]
fn a_rejecting_client_interceptor_never_reaches_the_transport() {
    let log = Log::default();
    let loopback = Loopback::new(router(&log));
    let calls = loopback.calls.clone();
    let client = Client::new(loopback)
        .with_interceptor(client_recording("outer", &log))
        .with_interceptor(ClientRecording {
            reject: true,
            ..client_recording("gate", &log)
        })
        .with_interceptor(client_recording("inner", &log));
    let err = client
        .unary::<Num, Num>("/test.Calc/Double", &num(1), RequestOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(calls.lock().unwrap().is_empty());
    assert_eq!(
        entries(&log),
        [
            "start:outer:/test.Calc/Double",
            "start:gate:/test.Calc/Double",
            "finish:gate:Unary:FailedPrecondition:0:None",
            "finish:outer:Unary:FailedPrecondition:0:None",
        ]
    );
}

#[test]
fn client_streaming_kinds_over_the_loopback() {
    let log = Log::default();
    let client =
        Client::new(Loopback::new(router(&log))).with_interceptor(client_recording("c", &log));

    let mut counts = client
        .server_streaming::<Num, Num>("/test.Calc/Count", &num(3), RequestOptions::new())
        .unwrap();
    assert_eq!(counts.headers().unwrap().get("x-total"), Some("3"));
    let values: Vec<i64> = counts.by_ref().map(|r| r.unwrap().value).collect();
    assert_eq!(values, [1, 2, 3]);
    assert!(counts.trailers().unwrap().is_empty());
    assert!(counts.finish().is_ok());

    let mut sum = client
        .client_streaming::<Num, Num>("/test.Calc/Sum", RequestOptions::new())
        .unwrap();
    for i in [10, 20, 12] {
        sum.send(&num(i)).unwrap();
    }
    assert_eq!(sum.close_and_recv().unwrap().message, num(42));

    let mut echo = client
        .bidi_streaming::<Text, Text>("/test.Calc/Echo", RequestOptions::new())
        .unwrap();
    echo.send(&text("hi")).unwrap();
    echo.send(&text("there")).unwrap();
    echo.close_send();
    assert_eq!(echo.recv().unwrap(), Some(text("HI")));
    assert_eq!(echo.recv().unwrap(), Some(text("THERE")));
    assert_eq!(echo.recv().unwrap(), None);
    assert!(echo.finish().is_ok());

    let finishes: Vec<String> = entries(&log)
        .into_iter()
        .filter(|e| e.starts_with("finish"))
        .collect();
    assert_eq!(
        finishes,
        [
            "finish:c:ServerStreaming:Ok:0:None",
            "finish:c:ClientStreaming:Ok:0:None",
            "finish:c:BidiStreaming:Ok:0:None",
        ]
    );
}

#[test]
fn dropping_a_call_cancels_it_and_is_observed_once() {
    let log = Log::default();
    let client =
        Client::new(Loopback::new(router(&log))).with_interceptor(client_recording("c", &log));
    let mut sum = client
        .client_streaming::<Num, Num>("/test.Calc/Sum", RequestOptions::new())
        .unwrap();
    sum.send(&num(1)).unwrap();
    drop(sum);
    assert_eq!(
        entries(&log)[1],
        "finish:c:ClientStreaming:Cancelled:0:None"
    );
    assert_eq!(entries(&log).len(), 2);
    assert!(!entries(&log).contains(&"handler:Sum".to_owned()));
}

#[test]
fn client_side_response_errors_are_internal() {
    // A handler that answers a unary call with no message, or with bytes that
    // are not the response type.
    let service = Service::new("test.Bad")
        .raw("Silent", MethodKind::Unary, |_, stream| {
            stream.recv()?;
            Ok(())
        })
        .raw("Garbage", MethodKind::Unary, |_, stream| {
            stream.recv()?;
            stream.send(Bytes::from_static(&[0x0a, 0x09]))
        });
    let mut router = Router::new();
    router.add(service);
    let log = Log::default();
    let client = Client::new(Loopback::new(router)).with_interceptor(client_recording("c", &log));
    let err = client
        .unary::<Num, Text>("/test.Bad/Silent", &num(1), RequestOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(err.message().contains("no response message"), "{err}");
    let err = client
        .unary::<Num, Text>("/test.Bad/Garbage", &num(1), RequestOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(
        err.message().contains("failed to decode the response"),
        "{err}"
    );
    // The interceptors saw what the caller saw.
    assert_eq!(
        entries(&log)
            .into_iter()
            .filter(|e| e.starts_with("finish"))
            .collect::<Vec<_>>(),
        [
            "finish:c:Unary:Internal:0:None",
            "finish:c:Unary:Internal:0:None"
        ]
    );
}

// ----- the shipped interceptors, end to end -----

#[test]
fn bearer_auth_accepted_and_rejected() {
    let log = Log::default();
    let mut router = router(&log);
    router.add_interceptor(BearerAuth::new(|token: &str| match token {
        "alice-token" => Ok(Principal("alice".into())),
        _ => Err(Status::new(Code::Unauthenticated, "unknown token")),
    }));
    let loopback = Loopback::new(router);

    let good = Client::new(loopback.clone()).with_interceptor(BearerToken::new("alice-token"));
    let who: Response<Text> = good
        .unary("/test.Calc/Who", &text(""), RequestOptions::new())
        .unwrap();
    assert_eq!(who.message, text("alice"));

    let bad = Client::new(loopback.clone()).with_interceptor(BearerToken::new("mallory"));
    let err = bad
        .unary::<Text, Text>("/test.Calc/Who", &text(""), RequestOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let anonymous = Client::new(loopback);
    let err = anonymous
        .unary::<Text, Text>("/test.Calc/Who", &text(""), RequestOptions::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(err.message(), "missing bearer token");

    assert_eq!(entries(&log), ["handler:Who"], "rejected calls never ran");
}

#[test]
fn traceparent_propagates_through_client_server_client() {
    let spans: Arc<Mutex<Vec<SpanRecord>>> = Arc::default();
    let sink = spans.clone();
    let tracing = Arc::new(
        Tracing::new(SequentialIds::new(42))
            .with_recorder(move |span: SpanRecord| sink.lock().unwrap().push(span)),
    );

    // Backend C: reports the traceparent it received.
    let mut backend = Router::new();
    backend
        .add(Service::new("test.Backend").unary("Look", |ctx, _: Text| {
            Ok(text(ctx.metadata().get(TRACEPARENT).unwrap_or_default()))
        }))
        .add_interceptor(tracing.clone());
    let backend = Client::new(Loopback::new(backend)).with_interceptor(tracing.clone());

    // Frontend B: calls C while serving, as a child of its own span.
    let mut frontend = Router::new();
    frontend
        .add(
            Service::new("test.Frontend").unary("Get", move |ctx, request: Text| {
                let seen: Response<Text> = backend.unary(
                    "/test.Backend/Look",
                    &request,
                    RequestOptions::child_of(ctx),
                )?;
                Ok(seen.message)
            }),
        )
        .add_interceptor(tracing.clone());

    // Client A, starting the trace.
    let client = Client::new(Loopback::new(frontend)).with_interceptor(tracing);
    let reply: Response<Text> = client
        .unary("/test.Frontend/Get", &text("x"), RequestOptions::new())
        .unwrap();

    let spans = spans.lock().unwrap();
    let kinds: Vec<_> = spans.iter().map(|s| (s.kind, s.path.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (SpanKind::Server, "/test.Backend/Look"),
            (SpanKind::Client, "/test.Backend/Look"),
            (SpanKind::Server, "/test.Frontend/Get"),
            (SpanKind::Client, "/test.Frontend/Get"),
        ]
    );
    let (c_server, b_client, b_server, a_client) = (
        &spans[0].context,
        &spans[1].context,
        &spans[2].context,
        &spans[3].context,
    );
    // One trace, linked parent to child: A client → B server → B client → C server.
    for span in [c_server, b_client, b_server] {
        assert_eq!(span.trace_id, a_client.trace_id);
    }
    assert_eq!(a_client.parent_span_id, None);
    assert_eq!(b_server.parent_span_id, Some(a_client.span_id));
    assert_eq!(b_client.parent_span_id, Some(b_server.span_id));
    assert_eq!(c_server.parent_span_id, Some(b_client.span_id));
    // What C received on the wire is B's client span.
    assert_eq!(
        TraceContext::parse(&reply.message.text).unwrap().span_id,
        b_client.span_id
    );
    assert!(spans.iter().all(|s| s.code == Code::Ok));
    assert_eq!(spans[2].peer_addr.as_deref(), Some("loopback"));
}

// ----- async -----

fn async_calc() -> AsyncService {
    AsyncService::new("test.Calc")
        .unary("Double", |ctx, request: Num| {
            Box::pin(async move {
                ctx.set_header("x-handler", "async")?;
                Ok(num(request.value * 2))
            })
        })
        .server_streaming(
            "Count",
            |_ctx, request: Num, mut sink: AsyncResponseSink<'_, Num>| {
                Box::pin(async move {
                    for i in 1..=request.value {
                        sink.send(&num(i)).await?;
                    }
                    Ok(())
                })
            },
        )
        .client_streaming("Sum", |_ctx, mut requests: AsyncRequestStream<'_, Num>| {
            Box::pin(async move {
                let mut total = 0;
                while let Some(request) = requests.recv().await? {
                    total += request.value;
                }
                Ok(num(total))
            })
        })
        .bidi_streaming(
            "Echo",
            |ctx, mut stream: AsyncBidiStream<'_, Text, Text>| {
                Box::pin(async move {
                    let who = ctx
                        .extensions()
                        .get::<Principal>()
                        .map_or("?".to_owned(), |p| p.0.clone());
                    while let Some(message) = stream.recv().await? {
                        stream
                            .send(&text(&format!("{who}:{}", message.text)))
                            .await?;
                    }
                    Ok(())
                })
            },
        )
}

#[test]
fn async_router_and_client_run_all_four_kinds() {
    let log = Log::default();
    let audit = Log::default();
    let mut router = AsyncRouter::new();
    let sink = audit.clone();
    router
        .add(async_calc())
        .add_interceptor(Recording {
            attach: Some("bob"),
            ..Recording::new("r", &log)
        })
        .set_audit_hook(move |call: &UnknownCall<'_>| push(&sink, call.path));
    let client =
        AsyncClient::new(Loopback::new_async(router)).with_interceptor(client_recording("c", &log));

    block_on(async {
        let response: Response<Num> = client
            .unary("/test.Calc/Double", &num(5), RequestOptions::new())
            .await
            .unwrap();
        assert_eq!(response.message, num(10));
        assert_eq!(response.headers.get("x-handler"), Some("async"));

        let mut counts = client
            .server_streaming::<Num, Num>("/test.Calc/Count", &num(2), RequestOptions::new())
            .await
            .unwrap();
        assert_eq!(counts.recv().await.unwrap(), Some(num(1)));
        assert_eq!(counts.recv().await.unwrap(), Some(num(2)));
        assert_eq!(counts.recv().await.unwrap(), None);

        let mut sum = client
            .client_streaming::<Num, Num>("/test.Calc/Sum", RequestOptions::new())
            .await
            .unwrap();
        sum.send(&num(40)).await.unwrap();
        sum.send(&num(2)).await.unwrap();
        assert_eq!(sum.close_and_recv().await.unwrap().message, num(42));

        let mut echo = client
            .bidi_streaming::<Text, Text>("/test.Calc/Echo", RequestOptions::new())
            .await
            .unwrap();
        echo.send(&text("yo")).await.unwrap();
        echo.close_send().await;
        assert_eq!(echo.recv().await.unwrap(), Some(text("bob:yo")));
        assert!(echo.finish().await.is_ok());

        let err = client
            .unary::<Num, Num>("/test.Calc/Missing", &num(1), RequestOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
    });
    assert_eq!(entries(&audit), ["/test.Calc/Missing"]);
    let server_finishes: Vec<_> = entries(&log)
        .into_iter()
        .filter(|e| e.starts_with("finish:r"))
        .collect();
    assert_eq!(server_finishes.len(), 4);
}

// ----- what adapters rely on -----

#[test]
fn shared_types_are_send_and_sync_and_futures_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Router>();
    send_sync::<AsyncRouter>();
    send_sync::<Client>();
    send_sync::<AsyncClient>();
    send_sync::<CallContext>();
    send_sync::<CancelToken>();

    let router = AsyncRouter::new();
    let mut stream = MemoryStream::default();
    let dispatch = router.dispatch(&mut stream, ctx("/a.B/C"));
    send(&dispatch);
    assert_eq!(block_on(dispatch).status.code(), Code::Unimplemented);

    let client = AsyncClient::new(Loopback::new_async(AsyncRouter::new()));
    let request = num(1);
    let call = client.unary::<Num, Num>("/a.B/C", &request, RequestOptions::new());
    send(&call);
    assert_eq!(block_on(call).unwrap_err().code(), Code::Unimplemented);
}

#[test]
fn a_context_from_the_request_head() {
    use grpc_sansio::grpc::compression::{Encoding, EncodingSet};
    use grpc_sansio::grpc::Request;

    let now = Instant::now();
    let mut metadata = Metadata::new();
    metadata.insert("x-user", "ada").unwrap();
    let request = Request {
        path: "/pkg.Svc/Get".into(),
        authority: Some("example.com".into()),
        content_type: "application/grpc".into(),
        metadata,
        timeout: Some(Duration::from_secs(5)),
        deadline: Some(now + Duration::from_secs(5)),
        encoding: Encoding::Identity,
        accept_encodings: EncodingSet::all(),
        peer_settings: Default::default(),
    };
    let ctx = CallContext::new(&request, now);
    assert_eq!(ctx.path(), "/pkg.Svc/Get");
    assert_eq!(ctx.authority(), Some("example.com"));
    assert_eq!(ctx.metadata().get("x-user"), Some("ada"));
    assert_eq!(ctx.remaining(), Some(Duration::from_secs(5)));
    assert_eq!(ctx.kind(), None);
    assert_eq!(ctx.started(), now);
}

// The engine's token; its waker is tested here, where a blocking waiter is.
#[test]
fn a_cancel_token_future_wakes_when_cancelled_from_another_thread() {
    let token = CancelToken::new();
    let clone = token.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        clone.cancel();
    });
    assert_eq!(block_on(token.cancelled()), CancelReason::Cancelled);
    setter.join().unwrap();
    // Already set: ready at once.
    assert_eq!(block_on(token.cancelled()), CancelReason::Cancelled);
}
