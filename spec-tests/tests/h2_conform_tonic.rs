//! `h2-conform` against the tonic server (hyper and h2 underneath): where it
//! deviates from h2spec's expectations. `spec-tests/README.md` publishes the
//! list; this test keeps it true by asserting that exactly these cases fail.

mod tonic_peer;

use std::time::Duration;

use spec_tests::conform::{run, Options, Outcome, RequestKind};
use tonic_peer::server::TonicServer;

/// The cases tonic fails (none with gRPC requests; see the README).
const TONIC_DEVIATIONS: &[&str] = &[];

/// The cases h2spec itself skips against tonic: it advertises no
/// SETTINGS_MAX_CONCURRENT_STREAMS, so the limit cannot be exceeded.
const TONIC_SKIPS: &[&str] = &["http2/5.1.2/1"];

#[test]
fn tonic_deviates_only_in_the_published_cases() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TonicServer::start());
    let mut options = Options::new("127.0.0.1", server.addr().port());
    options.timeout = Duration::from_millis(1000);
    options.path = "/grpc.testing.TestService/UnaryCall".to_owned();
    options.requests = RequestKind::Grpc;
    options.max_header_length = 3800;
    options.strict = true;
    let report = run(&options, |case| println!("{case}")).expect("every case is selected");
    println!("{}", report.summary());
    runtime.block_on(server.stop());

    let failed: Vec<String> = report.failures().map(|c| c.to_string()).collect();
    let ids: Vec<&str> = report.failures().map(|c| c.case.id).collect();
    assert_eq!(ids, TONIC_DEVIATIONS, "\n{}", failed.join("\n"));
    let skipped: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skip(_)))
        .map(|c| c.case.id)
        .collect();
    assert_eq!(skipped, TONIC_SKIPS, "{}", report.summary());
}
