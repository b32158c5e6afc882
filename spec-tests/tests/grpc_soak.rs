//! One million sequential unary calls on one connection: every call succeeds
//! with its own answer, stream ids keep increasing, and nothing accumulates —
//! no call or stream left behind after each batch, no event left unread, and
//! the process's resident memory stays flat. Alone in its binary so that the
//! memory reading is its own. Meant for `--release` (a few seconds).

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::Event;
use grpc_sansio::testing::GrpcPair;

const CALLS: u32 = 1_000_000;
const BATCH: u32 = 10_000;

/// Resident memory in KiB, where the platform tells.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_million_sequential_unary_calls_keep_memory_flat() {
    let started = Instant::now();
    let mut pair = GrpcPair::new();
    pair.drive();
    let mut last_id = 0;
    let mut baseline = None;
    for i in 0..CALLS {
        let request = Bytes::copy_from_slice(&i.to_be_bytes());
        let call = pair.start_unary("/pkg.Svc/Echo", request.clone());
        let id = call.stream_id().get();
        assert!(id > last_id, "stream id {id} after {last_id}");
        last_id = id;
        pair.drive();
        let (scall, _) = pair.accept().expect("call started");
        let mut got = None;
        for event in pair.server_events() {
            match event {
                Event::Message { message, .. } => got = Some(message),
                Event::HalfClosed { .. } => {}
                other => panic!("call {i}: unexpected {other:?}"),
            }
        }
        assert_eq!(got.as_ref(), Some(&request), "call {i}");
        pair.respond(scall, std::slice::from_ref(&request), &Status::ok());
        pair.drive();
        let mut answered = false;
        for event in pair.client_events() {
            match event {
                Event::Headers { .. } => {}
                Event::Message { message, .. } => assert_eq!(message, request, "call {i}"),
                Event::Finished {
                    call: c, status, ..
                } => {
                    assert_eq!(c, call);
                    assert_eq!(status.code(), Code::Ok, "call {i}: {status:?}");
                    answered = true;
                }
                other => panic!("call {i}: unexpected {other:?}"),
            }
        }
        assert!(answered, "call {i} did not finish");

        if (i + 1) % BATCH == 0 {
            for conn in [pair.client_ref(), pair.server_ref()] {
                assert_eq!(conn.active_calls(), 0, "after {} calls", i + 1);
                assert_eq!(conn.h2().active_streams(), 0, "after {} calls", i + 1);
                assert!(conn.h2().error().is_none());
            }
            assert_eq!(pair.in_flight(grpc_sansio::testing::Side::Client), 0);
            assert_eq!(pair.in_flight(grpc_sansio::testing::Side::Server), 0);
            if i + 1 == 10 * BATCH {
                baseline = rss_kib();
            }
        }
    }
    if let (Some(base), Some(end)) = (baseline, rss_kib()) {
        // A leak of even 40 octets a call would show as 36 MB here.
        assert!(
            end.saturating_sub(base) < 16 << 10,
            "resident memory grew from {base} KiB to {end} KiB over 900,000 calls"
        );
        eprintln!("resident memory {base} KiB after 100,000 calls, {end} KiB at the end");
    }
    eprintln!(
        "{CALLS} sequential unary calls in {:.2?} (last stream id {last_id})",
        started.elapsed()
    );
}
