//! The server's ping policy against a client that pings like grpc-go, on
//! virtual time with default configurations (`min_ping_interval` 5 minutes).
//!
//! grpc-go clients send a BDP PING whenever DATA arrives, so a large response
//! brings many PINGs within a millisecond. grpc-go's server forgives the first
//! ping after each HEADERS or DATA frame it writes, and counts a strike only for
//! a ping sooner than `MinTime` after the previous one with no such write
//! between; the third strike gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
//! These tests hold our server to that: downloads with pings on every read are
//! never punished, pings with nothing flowing still are, and the forgiveness
//! is one ping per write.

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, CallOptions, Config, Event};
use grpc_sansio::h2::{frame::Frame, ErrorCode};
use grpc_sansio::testing::{self, finished, messages, pattern, Chunking, Side};
use spec_tests::bdp_pinger::{pinging_pair, pinging_pair_with, Pacing, PingingPair};

/// interop `large_unary`'s response size.
const LARGE: usize = 314_159;

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// (code, debug data) of every GOAWAY the server wrote (recording on).
fn server_goaways(pair: &PingingPair) -> Vec<(ErrorCode, Bytes)> {
    pair.sent_frames(Side::Server)
        .into_iter()
        .filter_map(|f| match f {
            Frame::GoAway(g) => Some((g.error_code, g.debug_data)),
            _ => None,
        })
        .collect()
}

/// Asserts the server has sent no GOAWAY and is still open, and that the
/// client saw nothing but call events: the ACKs of pings our client connection
/// never sent surface no event and no error. `events` are client events.
fn assert_no_goaway(pair: &PingingPair, events: &[Event], what: &str) {
    let pinger = pair.client_ref();
    assert!(
        pinger.goaways().is_empty(),
        "{what}: the server sent GOAWAY {:?} after {} pings ({} acknowledged) and {} DATA frames",
        pinger.goaways(),
        pinger.pings_sent(),
        pinger.acks_received(),
        pinger.data_frames(),
    );
    assert!(!pair.server_ref().is_closed(), "{what}: server closed");
    assert!(pair.receive_error(Side::Client).is_none(), "{what}");
    assert!(pair.receive_error(Side::Server).is_none(), "{what}");
    for event in events {
        assert!(
            testing::event_call(event).is_some(),
            "{what}: a client event about no call: {event:?}"
        );
    }
}

/// Asserts the server has struck the client out: one GOAWAY ENHANCE_YOUR_CALM
/// "too_many_pings", read by the pinger as written, and the server closed.
fn assert_struck_out(pair: &mut PingingPair, what: &str) {
    let written = server_goaways(pair);
    assert_eq!(
        written,
        [(
            ErrorCode::ENHANCE_YOUR_CALM,
            Bytes::from_static(b"too_many_pings")
        )],
        "{what}: server closed: {}",
        pair.server_ref().is_closed()
    );
    let read: Vec<_> = pair
        .client_ref()
        .goaways()
        .iter()
        .map(|g| (g.code, g.debug.clone()))
        .collect();
    assert_eq!(read, written, "{what}: the scanner reads what was written");
    assert!(pair.server_ref().is_closed(), "{what}");
    let events = pair.client_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::GoAway { code } if *code == ErrorCode::ENHANCE_YOUR_CALM)),
        "{what}: {events:?}"
    );
}

/// Starts a call with one request message, half-closed.
fn start(pair: &mut PingingPair, path: &str) -> CallId {
    let now = pair.now();
    let call = pair
        .client()
        .start_call(now, CallOptions::new(path))
        .expect("start_call");
    pair.client()
        .send_message(call, Bytes::from_static(b"req"))
        .expect("send_message");
    pair.client().close_send(call).expect("close_send");
    call
}

/// Asserts `call` finished OK with exactly `expected`.
fn assert_received(events: &[Event], call: CallId, expected: &[Bytes], what: &str) {
    let (status, _) = finished(events, call).unwrap_or_else(|| panic!("{what}: {call} unfinished"));
    assert_eq!(status.code(), Code::Ok, "{what}: {status:?}");
    let got = messages(events, call);
    assert_eq!(got.len(), expected.len(), "{what}: message count");
    assert!(got == expected, "{what}: message octets differ");
}

/// `calls` large unary calls, 1 to 4 at a time, each answered with a
/// 314,159-octet message; after each round, no GOAWAY and every call whole.
fn large_unaries(pair: &mut PingingPair, calls: usize) {
    let response = pattern(LARGE, 7);
    let mut done = 0;
    for round in 0.. {
        if done == calls {
            break;
        }
        let k = (1 + round % 4).min(calls - done);
        let ids: Vec<CallId> = (0..k).map(|_| start(pair, "/pings.Svc/Big")).collect();
        pair.drive();
        for _ in 0..k {
            let (scall, request) = pair.accept().expect("the call reached the server");
            assert_eq!(request.method(), "Big");
            pair.respond(scall, std::slice::from_ref(&response), &Status::ok());
        }
        pair.drive();
        let events = pair.client_events();
        let what = format!("after {done} calls");
        assert_no_goaway(pair, &events, &what);
        for call in ids {
            assert_received(&events, call, std::slice::from_ref(&response), &what);
        }
        pair.server_events();
        done += k;
    }
}

/// Asserts every ping was answered and enough of them were sent for the test
/// to mean something.
fn assert_pinged(pair: &PingingPair, at_least: u64) {
    let pinger = pair.client_ref();
    assert!(
        pinger.pings_sent() >= at_least,
        "only {} pings sent",
        pinger.pings_sent()
    );
    assert_eq!(pinger.acks_received(), pinger.pings_sent());
}

/// 300 large unary responses, the client pinging once after every read that
/// carried DATA: no GOAWAY, every response whole.
#[test]
fn large_unary_with_a_ping_per_data_read() {
    let mut pair = pinging_pair(Pacing::EveryDataRead, 1);
    large_unaries(&mut pair, 300);
    assert_pinged(&pair, 300);
}

/// The same with bursts of three pings (BDP, keepalive and one more
/// coinciding): two of each burst strike, the next write forgives.
#[test]
fn large_unary_with_bursts_of_three() {
    let mut pair = pinging_pair(Pacing::EveryDataRead, 3);
    large_unaries(&mut pair, 300);
    assert_pinged(&pair, 300 * 3);
}

/// Server streams of 200 messages of 16 KiB, `calls` of them one after the
/// other; the server queues messages until its send buffer is full, as a
/// streaming handler does.
fn long_streams(pair: &mut PingingPair, calls: usize) {
    let parts: Vec<Bytes> = (0..200u8).map(|i| pattern(16 << 10, i)).collect();
    for n in 0..calls {
        let call = start(pair, "/pings.Svc/Stream");
        pair.drive();
        let (scall, _) = pair.accept().expect("the call reached the server");
        let mut next = 0;
        while next < parts.len() {
            match pair.server().send_message(scall, parts[next].clone()) {
                Ok(()) => next += 1,
                // Nothing moving while the buffer is full would never end.
                Err(CallError::Full(_)) => assert!(pair.step(), "stream {n} stalled"),
                Err(e) => {
                    let events = pair.client_events();
                    assert_no_goaway(pair, &events, &format!("stream {n}"));
                    panic!("stream {n}, message {next}: {e}");
                }
            }
        }
        pair.server()
            .finish(scall, &Status::ok(), &Metadata::new())
            .expect("finish");
        pair.drive();
        let events = pair.client_events();
        let what = format!("stream {n}");
        assert_no_goaway(pair, &events, &what);
        assert_received(&events, call, &parts, &what);
        pair.server_events();
    }
}

/// 20 long server streams with a ping per DATA read.
#[test]
fn long_server_streams_with_a_ping_per_data_read() {
    let mut pair = pinging_pair(Pacing::EveryDataRead, 1);
    long_streams(&mut pair, 20);
    assert_pinged(&pair, 20 * 40);
}

/// 20 long server streams with bursts of three.
#[test]
fn long_server_streams_with_bursts_of_three() {
    let mut pair = pinging_pair(Pacing::EveryDataRead, 3);
    long_streams(&mut pair, 20);
    assert_pinged(&pair, 20 * 40 * 3);
}

/// grpc-go's own pacing (a burst once the last one is acknowledged) with the
/// octets cut at random, so frames split across reads: the scanner still finds
/// every DATA frame the server wrote, and nothing is punished.
#[test]
fn grpc_go_pacing_over_random_segmentation() {
    for burst in [1, 3] {
        let mut pair = pinging_pair(Pacing::AfterAck, burst);
        pair.set_recording(Side::Server, true);
        pair.set_chunking(Chunking::Random {
            seed: 9 + burst as u64,
            max: 5000,
        });
        large_unaries(&mut pair, 40);
        long_streams(&mut pair, 2);
        let written = pair
            .sent_frames(Side::Server)
            .iter()
            .filter(|f| matches!(f, Frame::Data(_)))
            .count();
        assert_eq!(pair.client_ref().data_frames(), written as u64);
        assert_pinged(&pair, 40);
    }
}

/// A call both sides know, the server's answer not started: (client, server).
fn open_idle_call(pair: &mut PingingPair) -> (CallId, CallId) {
    let now = pair.now();
    let call = pair
        .client()
        .start_call(now, CallOptions::new("/pings.Svc/Idle"))
        .expect("start_call");
    pair.drive();
    let (scall, _) = pair.accept().expect("the call reached the server");
    (call, scall)
}

/// Sends `n` pings back to back (one write, read at once) and drives.
fn ping(pair: &mut PingingPair, n: usize) {
    pair.client().queue_pings(n);
    pair.drive();
}

/// A pair recording the server's output, with the handshake done.
fn ready_pair(server: Config) -> PingingPair {
    let mut pair = pinging_pair_with(Config::client(), server, Pacing::Manual, 1);
    pair.set_recording(Side::Server, true);
    pair.drive();
    pair
}

/// Pings in a burst with nothing flowing, a call open but idle or no call at
/// all: the first sets the clock, two strikes are forgiven, the fourth ping
/// (third strike) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
#[test]
fn pings_with_nothing_flowing_are_struck_out() {
    for with_call in [true, false] {
        let what = if with_call { "idle call" } else { "no call" };
        let mut pair = ready_pair(Config::server());
        if with_call {
            open_idle_call(&mut pair);
        }
        ping(&mut pair, 3);
        let events = pair.client_events();
        assert_no_goaway(&pair, &events, what);
        ping(&mut pair, 1);
        assert_struck_out(&mut pair, what);
        // Read at once, the four pings are struck out the same.
        let mut pair = ready_pair(Config::server());
        if with_call {
            open_idle_call(&mut pair);
        }
        ping(&mut pair, 4);
        assert_struck_out(&mut pair, what);
    }
}

/// With no call active and `keepalive_permit_without_calls` false, a ping
/// sooner than two hours after the last is a strike even when slower than
/// `min_ping_interval`; the same pings are fine with a call open, with the
/// permission, or two hours apart.
#[test]
fn without_calls_pings_closer_than_two_hours_strike() {
    let mut pair = ready_pair(Config::server());
    for _ in 0..3 {
        ping(&mut pair, 1);
        pair.advance(minutes(10));
    }
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "no call, three pings");
    ping(&mut pair, 1);
    assert_struck_out(&mut pair, "no call, pings 10 minutes apart");

    let mut pair = ready_pair(Config::server());
    open_idle_call(&mut pair);
    for _ in 0..10 {
        ping(&mut pair, 1);
        pair.advance(minutes(10));
    }
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "idle call, pings 10 minutes apart");

    let mut permissive = Config::server();
    permissive.keepalive_permit_without_calls = true;
    let mut pair = ready_pair(permissive);
    for _ in 0..10 {
        ping(&mut pair, 1);
        pair.advance(minutes(10));
    }
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "permitted, pings 10 minutes apart");

    let mut pair = ready_pair(Config::server());
    for _ in 0..10 {
        ping(&mut pair, 1);
        pair.advance(minutes(121));
    }
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "no call, pings 2 hours apart");
    assert_pinged(&pair, 10);
}

/// grpc-go's forgiveness, exactly: after the server writes HEADERS, DATA or
/// trailers, the next ping is forgiven and the count starts again from zero,
/// even within `min_ping_interval`, so two more strikes are still tolerated.
#[test]
fn a_write_forgives_the_next_ping_and_resets_the_count() {
    let mut pair = ready_pair(Config::server());
    let (call, scall) = open_idle_call(&mut pair);
    // The clock, then two strikes.
    ping(&mut pair, 3);

    // Response headers: forgiven, then strikes 1 and 2.
    pair.server().send_headers(scall, &Metadata::new()).unwrap();
    pair.drive();
    ping(&mut pair, 3);
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "after HEADERS");

    // A message: the same.
    pair.server()
        .send_message(scall, Bytes::from_static(b"one"))
        .unwrap();
    pair.drive();
    ping(&mut pair, 3);
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "after DATA");
    assert_eq!(messages(&events, call), [Bytes::from_static(b"one")]);

    // Trailers end the call: with none active the interval is two hours, and
    // the ping after them is still forgiven.
    pair.server()
        .finish(scall, &Status::ok(), &Metadata::new())
        .unwrap();
    pair.drive();
    ping(&mut pair, 3);
    let events = pair.client_events();
    assert_no_goaway(&pair, &events, "after trailers");
    assert!(finished(&events, call).is_some());

    // Nothing written since: the next is the third strike.
    ping(&mut pair, 1);
    assert_struck_out(&mut pair, "no write since");
}

/// The forgiveness is one ping per write, not an exemption while a call is
/// open or data flowing: four pings after one DATA write are forgiven, struck,
/// struck, struck out, whether read one by one or at once. (Two strikes before
/// the write show that it reset the count.)
#[test]
fn four_pings_after_one_write_are_struck_out() {
    for one_read in [false, true] {
        let mut pair = ready_pair(Config::server());
        let (_call, scall) = open_idle_call(&mut pair);
        // The clock and two strikes, so that the count is not fresh.
        ping(&mut pair, 3);
        pair.server()
            .send_message(scall, Bytes::from_static(b"data"))
            .unwrap();
        pair.drive();
        if one_read {
            ping(&mut pair, 4);
        } else {
            ping(&mut pair, 3);
            let events = pair.client_events();
            assert_no_goaway(&pair, &events, "three pings after a write");
            ping(&mut pair, 1);
        }
        assert_struck_out(&mut pair, "four pings after a write");
    }
}
