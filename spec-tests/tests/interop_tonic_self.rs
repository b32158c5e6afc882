//! The tonic interop peer against itself: the tonic client runs all 18 cases
//! of `interop/CASES.md` against the tonic server. This proves the peer sound
//! before the interop tests pair it with grpc-sansio.

mod tonic_peer;

use tonic_peer::client::{self, CaseOutcome};
use tonic_peer::server::TonicServer;

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
