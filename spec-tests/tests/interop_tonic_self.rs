//! The tonic interop peer against itself: the tonic client runs all 18 cases
//! of `interop/CASES.md` against the tonic server. This proves the peer sound
//! before the interop tests pair it with grpc-sansio.

mod tonic_peer;

use tonic::metadata::MetadataValue;
use tonic::{Code, Request};
use tonic_peer::client::{self, CaseOutcome};
use tonic_peer::pb::test_service_client::TestServiceClient;
use tonic_peer::pb::{EchoStatus, ResponseParameters, SimpleRequest, StreamingOutputCallRequest};
use tonic_peer::server::TonicServer;
use tonic_peer::ECHO_TRAILING;

/// Cases the tonic client cannot run at all (it answers `unsupported: ...`).
const UNSUPPORTED: [&str; 0] = [];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tonic_client_passes_every_case_against_tonic_server() {
    let server = TonicServer::start().await;
    let outcomes = client::run_cases(server.addr(), &client::ALL_CASES).await;
    server.stop().await;
    let report = client::report(&outcomes);
    println!("{report}");

    let names: Vec<&str> = outcomes.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, client::ALL_CASES, "one outcome per case, in order");
    for outcome in &outcomes {
        if UNSUPPORTED.contains(&outcome.name.as_str()) {
            assert!(
                matches!(&outcome.result, Err(why) if why.starts_with("unsupported:")),
                "{} should be unsupported:\n{report}",
                outcome.name
            );
        } else {
            assert!(outcome.result.is_ok(), "{} failed:\n{report}", outcome.name);
        }
    }
}

#[tokio::test]
async fn an_unknown_case_fails_without_calling_the_server() {
    // Port 9 (discard) on loopback: nothing is called, so nothing need listen.
    let outcomes = client::run_cases("127.0.0.1:9".parse().unwrap(), &["no_such_case"]).await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].result, Err("unknown case".to_owned()));
}

#[test]
fn report_has_the_cases_md_format() {
    let outcomes = [
        CaseOutcome {
            name: "empty_unary".to_owned(),
            result: Ok(()),
        },
        CaseOutcome {
            name: "special_status_message".to_owned(),
            result: Err("status Unknown \"a\nb\"".to_owned()),
        },
    ];
    assert_eq!(
        client::report(&outcomes),
        "PASS empty_unary\nFAIL special_status_message: status Unknown \"a\\nb\"\n1 passed, 1 failed"
    );
}

// Server behaviour the 18 cases leave out.

#[tokio::test]
async fn half_duplex_call_answers_every_request_in_order() {
    let server = TonicServer::start().await;
    let mut client = TestServiceClient::connect(format!("http://{}", server.addr()))
        .await
        .unwrap();
    let requests = [31415, 9, 2653].map(|size| StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size,
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut responses = client
        .half_duplex_call(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut sizes = Vec::new();
    while let Some(response) = responses.message().await.unwrap() {
        sizes.push(response.payload.unwrap().body.len());
    }
    assert_eq!(sizes, [31415, 9, 2653]);
    server.stop().await;
}

#[tokio::test]
async fn a_call_ending_with_an_error_still_echoes_the_trailing_metadata() {
    let server = TonicServer::start().await;
    let mut client = TestServiceClient::connect(format!("http://{}", server.addr()))
        .await
        .unwrap();
    let echo = || MetadataValue::from_bytes(&[0xab, 0xab, 0xab]);
    let status = EchoStatus {
        code: Code::Internal as i32,
        message: "asked for".to_owned(),
    };

    let mut unary = Request::new(SimpleRequest {
        response_status: Some(status.clone()),
        ..Default::default()
    });
    unary.metadata_mut().insert_bin(ECHO_TRAILING, echo());
    let error = client.unary_call(unary).await.unwrap_err();
    assert_eq!(
        (error.code(), error.message()),
        (Code::Internal, "asked for")
    );
    assert_eq!(error.metadata().get_bin(ECHO_TRAILING), Some(&echo()));

    // After a response: the status comes in trailers that follow a message.
    let request = StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters {
            size: 9,
            ..Default::default()
        }],
        response_status: Some(status),
        ..Default::default()
    };
    let mut duplex = Request::new(tokio_stream::iter([request]));
    duplex.metadata_mut().insert_bin(ECHO_TRAILING, echo());
    let mut responses = client.full_duplex_call(duplex).await.unwrap().into_inner();
    assert_eq!(
        responses
            .message()
            .await
            .unwrap()
            .unwrap()
            .payload
            .unwrap()
            .body
            .len(),
        9
    );
    let error = responses.message().await.unwrap_err();
    assert_eq!(
        (error.code(), error.message()),
        (Code::Internal, "asked for")
    );
    assert_eq!(error.metadata().get_bin(ECHO_TRAILING), Some(&echo()));
    server.stop().await;
}
