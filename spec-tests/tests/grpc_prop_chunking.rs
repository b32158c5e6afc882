//! Property: how the byte stream between the peers is cut changes nothing. The
//! same scripted calls (random message sizes, both directions, two calls
//! multiplexed, optional compression) give exactly the same events on both
//! sides whether each batch is received whole or in random pieces.

use std::time::Instant;

use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{self, CallOptions, Config, Event};
use grpc_sansio::testing::{messages, pattern, Chunking, GrpcPair};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Script {
    requests: Vec<usize>,
    responses: Vec<usize>,
    gzip: bool,
}

/// Runs the script and returns (client events, server events).
fn run(script: &Script, chunking: Chunking, start: Instant) -> (Vec<Event>, Vec<Event>) {
    let mut pair = GrpcPair::from_connections(
        grpc::Connection::client(Config::client(), start),
        grpc::Connection::server(Config::server(), start),
        start,
    );
    pair.set_chunking(chunking);
    let encoding = script.gzip.then_some(Encoding::Gzip);
    let calls: Vec<_> = (0..2)
        .map(|i| {
            pair.start_call(CallOptions {
                encoding,
                ..CallOptions::new(format!("/pkg.Svc/Call{i}"))
            })
        })
        .collect();
    let mut client_events = Vec::new();
    let mut server_events = Vec::new();
    // Requests alternate between the two calls, a step between each.
    for (i, &len) in script.requests.iter().enumerate() {
        let call = calls[i % 2];
        pair.client()
            .send_message_with(call, pattern(len, i as u8), i % 3 != 0)
            .unwrap();
        pair.step();
    }
    for &call in &calls {
        pair.client().close_send(call).unwrap();
    }
    pair.drive();
    let scalls: Vec<_> = std::iter::from_fn(|| pair.accept())
        .map(|(c, r)| {
            server_events.push(Event::CallStarted {
                call: c,
                request: r,
            });
            c
        })
        .collect();
    assert_eq!(scalls.len(), 2);
    server_events.extend(pair.server_events());
    for (i, &len) in script.responses.iter().enumerate() {
        let scall = scalls[i % 2];
        pair.server()
            .send_message(scall, pattern(len, 100 + i as u8))
            .unwrap();
        pair.step();
    }
    let mut trailers = Metadata::new();
    trailers.insert_bin("x-t-bin", pattern(300, 9)).unwrap();
    pair.server()
        .finish(scalls[0], &Status::ok(), &trailers)
        .unwrap();
    pair.server()
        .finish(
            scalls[1],
            &Status::new(Code::DataLoss, "lost \u{1F600} 100%"),
            &Metadata::new(),
        )
        .unwrap();
    pair.drive();
    client_events.extend(pair.client_events());
    server_events.extend(pair.server_events());
    // Sanity: the script did what it says.
    let sent: usize = script.requests.len();
    let got: usize = scalls
        .iter()
        .map(|c| messages(&server_events, *c).len())
        .sum();
    assert_eq!(got, sent);
    (client_events, server_events)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn segmentation_does_not_change_events(
        requests in prop::collection::vec(prop_oneof![0usize..100, 0usize..20_000, 60_000usize..140_000], 0..6),
        responses in prop::collection::vec(prop_oneof![0usize..100, 0usize..20_000, 60_000usize..140_000], 0..6),
        gzip in any::<bool>(),
        seed in any::<u64>(),
        max in prop_oneof![1usize..16, 1usize..2048, 1usize..70_000],
    ) {
        let script = Script { requests, responses, gzip };
        let start = Instant::now();
        let whole = run(&script, Chunking::Whole, start);
        let cut = run(&script, Chunking::Random { seed, max }, start);
        prop_assert_eq!(&whole.0, &cut.0, "client events differ");
        prop_assert_eq!(&whole.1, &cut.1, "server events differ");
        // And the messages are the ones sent.
        let finished: Vec<_> = whole.0.iter().filter(|e| matches!(e, Event::Finished { .. })).collect();
        prop_assert_eq!(finished.len(), 2);
        let total: usize = whole.0.iter().map(|e| match e {
            Event::Message { message, .. } => message.len(),
            _ => 0,
        }).sum();
        prop_assert_eq!(total, script.responses.iter().sum::<usize>());
    }
}
