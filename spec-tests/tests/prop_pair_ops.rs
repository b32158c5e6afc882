//! Random operation sequences on a client/server [`Pair`] (after quinn's
//! `fuzz/fuzz_targets/streams.rs`): well-behaved use never panics, never fails
//! the connection, never resets a stream for a protocol fault, and never puts
//! more DATA on a stream or connection than the receiver's credit allows.
//! Segmenting the byte stream differently changes nothing observable.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use grpc_sansio::h2::{Config, ErrorCode, Event, Initiator, StreamId};
use proptest::prelude::*;
use spec_tests::pair::{self, Pair, Side};

#[derive(Debug, Clone)]
enum Op {
    /// The client opens a stream.
    Open {
        end_stream: bool,
    },
    /// `side` queues body octets on the `stream`-th stream opened.
    SendData {
        side: Side,
        stream: usize,
        len: usize,
        end_stream: bool,
    },
    /// The server responds (first time) or sends trailers; the client sends trailers.
    SendHeaders {
        side: Side,
        stream: usize,
        end_stream: bool,
    },
    Reset {
        side: Side,
        stream: usize,
        code: u32,
    },
    /// `side` releases this share (in 1/8ths) of what it holds unreleased on a stream.
    Release {
        side: Side,
        stream: usize,
        eighths: u8,
    },
    Advance {
        millis: u64,
    },
    Step {
        chunk: Option<usize>,
    },
    Drive {
        chunk: Option<usize>,
    },
    Ping {
        side: Side,
        payload: u8,
    },
    Shutdown {
        side: Side,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

fn chunk() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        Just(None),
        (1usize..=16).prop_map(Some),
        (17usize..=20_000).prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let stream = 0usize..8;
    prop_oneof![
        20 => prop::bool::weighted(0.25).prop_map(|end_stream| Op::Open { end_stream }),
        25 => (
            side(),
            stream.clone(),
            prop_oneof![0usize..=100, 100usize..=20_000, 20_000usize..=150_000],
            prop::bool::weighted(0.15),
        )
            .prop_map(|(side, stream, len, end_stream)| Op::SendData {
                side,
                stream,
                len,
                end_stream
            }),
        16 => (
            prop::bool::weighted(0.25),
            stream.clone(),
            any::<bool>()
        )
            .prop_map(|(client, stream, end_stream)| {
            let side = if client { Side::Client } else { Side::Server };
            Op::SendHeaders {
                side,
                stream,
                end_stream,
            }
        }),
        3 => (side(), stream.clone(), 0u32..=13).prop_map(|(side, stream, code)| Op::Reset {
            side,
            stream,
            code
        }),
        20 => (side(), stream, 0u8..=8).prop_map(|(side, stream, eighths)| Op::Release {
            side,
            stream,
            eighths
        }),
        3 => (0u64..=40_000).prop_map(|millis| Op::Advance { millis }),
        25 => chunk().prop_map(|chunk| Op::Step { chunk }),
        8 => chunk().prop_map(|chunk| Op::Drive { chunk }),
        3 => (side(), any::<u8>()).prop_map(|(side, payload)| Op::Ping { side, payload }),
        1 => prop::bool::weighted(0.1).prop_map(|client| Op::Shutdown {
            side: if client { Side::Client } else { Side::Server }
        }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![1 => Just(1u32), 1 => Just(1_000), 3 => Just(65_535), 2 => Just(300_000)],
        prop_oneof![Just(65_535u32), Just(1 << 20)],
        prop_oneof![Just(16_384u32), Just(100_000)],
        prop_oneof![1 => Just(1u32), 2 => Just(3), 3 => Just(100)],
        prop_oneof![Just(10_000usize), Just(1 << 20)],
    )
        .prop_map(
            |(initial_stream_window, connection_window, max_frame_size, streams, buffer)| Config {
                initial_stream_window,
                connection_window,
                max_frame_size,
                max_concurrent_streams: streams,
                max_send_buffer_per_stream: buffer,
                ..Config::default()
            },
        )
}

/// What one side received and released, to check the sender against.
#[derive(Default)]
struct Ledger {
    // Ordered maps: `finish` releases in stream order, so that two models
    // given the same operations stay identical.
    received: BTreeMap<StreamId, u64>,
    released: BTreeMap<StreamId, u64>,
    total_received: u64,
    total_released: u64,
    /// Streams whose inbound half ended (END_STREAM or reset) on this side.
    ended: HashSet<StreamId>,
}

impl Ledger {
    fn unreleased(&self, id: StreamId) -> u64 {
        self.received.get(&id).copied().unwrap_or(0) - self.released.get(&id).copied().unwrap_or(0)
    }
}

/// Replays operations on a pair, checking the invariants as it goes.
struct Model {
    pair: Pair,
    configs: [Config; 2],
    ids: Vec<StreamId>,
    responded: HashSet<StreamId>,
    ledgers: [Ledger; 2],
    /// Every event, in order, per side.
    log: [Vec<Event>; 2],
    /// Whether `Step`/`Drive` chunk sizes are honoured (false: whole batches).
    chunked: bool,
}

fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl Model {
    fn new(client: Config, server: Config, chunked: bool) -> Self {
        let mut pair = Pair::with_configs(client.clone(), server.clone());
        pair.drive();
        let mut model = Model {
            pair,
            configs: [client, server],
            ids: Vec::new(),
            responded: HashSet::new(),
            ledgers: [Ledger::default(), Ledger::default()],
            log: [Vec::new(), Vec::new()],
            chunked,
        };
        model.check();
        model
    }

    fn stream(&self, i: usize) -> Option<StreamId> {
        (!self.ids.is_empty()).then(|| self.ids[i % self.ids.len()])
    }

    fn apply(&mut self, op: &Op) {
        // API misuse (unknown streams, closed halves, limits) is refused with a
        // UserError, which a random sequence hits all the time: ignored here.
        match *op {
            Op::Open { end_stream } => {
                if let Ok(id) = self
                    .pair
                    .client()
                    .open_stream(pair::request("POST", "/"), end_stream)
                {
                    self.ids.push(id);
                }
            }
            Op::SendData {
                side,
                stream,
                len,
                end_stream,
            } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                if side == Side::Server && !self.responded.contains(&id) {
                    return;
                }
                let data = pair::pattern(len, id.get() as u8);
                let _ = self.pair.conn(side).send_data(id, data, end_stream);
            }
            Op::SendHeaders {
                side,
                stream,
                end_stream,
            } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                let trailers = pair::trailers(&[("grpc-status", "0")]);
                match side {
                    Side::Server if !self.responded.contains(&id) => {
                        if self
                            .pair
                            .server()
                            .send_headers(id, pair::response(200), end_stream)
                            .is_ok()
                        {
                            self.responded.insert(id);
                        }
                    }
                    _ => {
                        let _ = self.pair.conn(side).send_headers(id, trailers, true);
                    }
                }
            }
            Op::Reset { side, stream, code } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                let _ = self.pair.conn(side).reset(id, ErrorCode(code));
            }
            Op::Release {
                side,
                stream,
                eighths,
            } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                let ledger = &mut self.ledgers[index(side)];
                let n = ledger.unreleased(id) * u64::from(eighths) / 8;
                *ledger.released.entry(id).or_default() += n;
                ledger.total_released += n;
                self.pair.conn(side).release_capacity(id, n as u32);
            }
            Op::Advance { millis } => self.pair.advance(Duration::from_millis(millis)),
            Op::Step { chunk } => {
                self.set_chunk(chunk);
                self.pair.step();
            }
            Op::Drive { chunk } => {
                self.set_chunk(chunk);
                self.pair.drive();
            }
            Op::Ping { side, payload } => {
                let _ = self.pair.conn(side).ping([payload; 8]);
            }
            Op::Shutdown { side } => {
                let _ = self.pair.conn(side).shutdown();
            }
        }
        self.check();
    }

    fn set_chunk(&mut self, chunk: Option<usize>) {
        self.pair
            .set_chunk_size(if self.chunked { chunk } else { None });
    }

    /// Takes new events and checks every invariant.
    fn check(&mut self) {
        for side in [Side::Client, Side::Server] {
            assert!(
                self.pair.receive_error(side).is_none(),
                "{side:?} failed: {:?}",
                self.pair.receive_error(side)
            );
            assert!(self.pair.conn(side).error().is_none(), "{side:?}");
            let events = self.pair.events(side);
            let receiver = &self.configs[index(side)];
            let stream_window = u64::from(receiver.initial_stream_window);
            let conn_window = u64::from(receiver.connection_window.max(65_535));
            let ledger = &mut self.ledgers[index(side)];
            for event in &events {
                match event {
                    Event::Data {
                        stream,
                        data,
                        end_stream,
                    } => {
                        assert!(
                            !ledger.ended.contains(stream),
                            "{side:?}: DATA on {stream} after it ended"
                        );
                        let got = ledger.received.entry(*stream).or_default();
                        *got += data.len() as u64;
                        ledger.total_received += data.len() as u64;
                        let released = ledger.released.get(stream).copied().unwrap_or(0);
                        assert!(
                            *got <= stream_window + released,
                            "{side:?}: {got} octets on {stream} with {stream_window} + {released} of credit"
                        );
                        assert!(
                            ledger.total_received <= conn_window + ledger.total_released,
                            "{side:?}: {} octets with {conn_window} + {} of connection credit",
                            ledger.total_received,
                            ledger.total_released
                        );
                        if *end_stream {
                            ledger.ended.insert(*stream);
                        }
                    }
                    Event::Headers {
                        stream, end_stream, ..
                    } => {
                        assert!(
                            !ledger.ended.contains(stream),
                            "{side:?}: HEADERS on {stream} after it ended"
                        );
                        if *end_stream {
                            ledger.ended.insert(*stream);
                        }
                    }
                    Event::Reset {
                        stream,
                        code,
                        initiator,
                    } => {
                        assert_eq!(
                            *initiator,
                            Initiator::Remote,
                            "{side:?} reset {stream} with {code} on its own: a protocol fault"
                        );
                        ledger.ended.insert(*stream);
                    }
                    Event::GoAway { code, .. } => {
                        assert_eq!(*code, ErrorCode::NO_ERROR, "{side:?}");
                    }
                    _ => {}
                }
            }
            self.log[index(side)].extend(events);
        }
    }

    /// Releases everything held and drives to quiet: the pair must converge.
    fn finish(&mut self) {
        for side in [Side::Client, Side::Server] {
            let ledger = &mut self.ledgers[index(side)];
            let held: Vec<(StreamId, u64)> = ledger
                .received
                .keys()
                .map(|id| (*id, ledger.unreleased(*id)))
                .collect();
            for (id, n) in held {
                *ledger.released.entry(id).or_default() += n;
                ledger.total_released += n;
                self.pair.conn(side).release_capacity(id, n as u32);
            }
        }
        self.pair.set_chunk_size(None);
        self.pair.drive();
        self.check();
    }
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 10..80)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn well_behaved_operations_keep_every_invariant(
        client in config(),
        server in config(),
        ops in ops(),
    ) {
        let mut model = Model::new(client, server, true);
        for op in &ops {
            model.apply(op);
        }
        model.finish();
    }

    #[test]
    fn segmentation_does_not_change_what_either_side_sees(
        client in config(),
        server in config(),
        ops in ops(),
    ) {
        let mut chunked = Model::new(client.clone(), server.clone(), true);
        let mut whole = Model::new(client, server, false);
        for (i, op) in ops.iter().enumerate() {
            chunked.apply(op);
            whole.apply(op);
            prop_assert_eq!(&chunked.log, &whole.log, "events diverged after op {} {:?}", i, op);
        }
        chunked.finish();
        whole.finish();
        prop_assert_eq!(&chunked.log, &whole.log);
        for side in [Side::Client, Side::Server] {
            prop_assert!(
                chunked.pair.sent(side) == whole.pair.sent(side),
                "{:?} wrote different octets", side
            );
        }
    }
}

/// A fixed long sequence, so the invariants are checked on deep state even when
/// the random cases stay shallow.
#[test]
fn a_long_scripted_sequence_keeps_every_invariant() {
    let mut model = Model::new(Config::default(), Config::default(), true);
    let mut ops = Vec::new();
    for i in 0..300usize {
        let stream = i % 7;
        let side = if i % 3 == 0 {
            Side::Server
        } else {
            Side::Client
        };
        ops.push(match i % 11 {
            0 | 5 => Op::Open {
                end_stream: i % 4 == 0,
            },
            1 | 6 => Op::SendData {
                side,
                stream,
                len: (i * 997) % 90_000,
                end_stream: i % 5 == 0,
            },
            2 => Op::SendHeaders {
                side,
                stream,
                end_stream: i % 2 == 0,
            },
            3 | 8 => Op::Release {
                side,
                stream,
                eighths: (i % 9) as u8,
            },
            4 => Op::Step {
                chunk: Some(1 + i % 50),
            },
            7 => Op::Drive { chunk: None },
            9 if i % 4 == 1 => Op::Reset {
                side,
                stream,
                code: 8,
            },
            9 => Op::Ping {
                side,
                payload: i as u8,
            },
            _ => Op::Advance {
                millis: (i as u64 * 37) % 5_000,
            },
        });
    }
    for op in &ops {
        model.apply(op);
    }
    model.finish();
    assert!(model.log[1].len() > 50, "the script did work");
}
