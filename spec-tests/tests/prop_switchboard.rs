//! Random use of the engine's `Switchboard` and `CallState` on both sides of
//! an in-memory pair, as adapters use them: handles send, half-close, finish,
//! cancel and take messages in any order, while bytes and time move between
//! their steps. Whatever the order: nothing panics, the connection never
//! fails, a handle's inbox ends with at most one terminal event and nothing
//! after it, every call ends for its handle (its own finish or cancel, or
//! the one terminal event), and each send has had its answer.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, CallOptions, Config, Connection, Event};
use grpc_sansio::service::{CallState, Command, Switchboard};
use proptest::prelude::*;
use spec_tests::grpc_pair::{GrpcPair, Side};

type Done = Sender<Result<(), Status>>;
type Board = Switchboard<Sender<Event>, Done>;

#[derive(Debug, Clone)]
enum Op {
    Start {
        deadline_ms: Option<u64>,
    },
    Send {
        side: Side,
        idx: usize,
        len: usize,
        compress: bool,
    },
    CloseSend {
        idx: usize,
    },
    Headers {
        idx: usize,
    },
    Finish {
        idx: usize,
        ok: bool,
    },
    Cancel {
        side: Side,
        idx: usize,
    },
    Take {
        side: Side,
        idx: usize,
    },
    /// Bytes move; the events wait in the connections.
    Deliver,
    /// The adapters take the events.
    Route,
    Advance {
        ms: u64,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => proptest::option::weighted(0.2, 1u64..300)
            .prop_map(|deadline_ms| Op::Start { deadline_ms }),
        6 => (side(), 0usize..6, 0usize..40_000, any::<bool>())
            .prop_map(|(side, idx, len, compress)| Op::Send { side, idx, len, compress }),
        1 => (0usize..6).prop_map(|idx| Op::CloseSend { idx }),
        1 => (0usize..6).prop_map(|idx| Op::Headers { idx }),
        1 => (0usize..6, any::<bool>()).prop_map(|(idx, ok)| Op::Finish { idx, ok }),
        1 => (side(), 0usize..6).prop_map(|(side, idx)| Op::Cancel { side, idx }),
        4 => (side(), 0usize..6).prop_map(|(side, idx)| Op::Take { side, idx }),
        2 => Just(Op::Deliver),
        2 => Just(Op::Route),
        1 => (1u64..200).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// A call handle, as an adapter's would be, with what the test checks.
struct Handle {
    call: CallId,
    inbox: Receiver<Event>,
    state: CallState,
    /// Terminal events seen in the inbox, and events seen after the first.
    terminals: usize,
    after_end: usize,
    /// Ended by this side (finish, cancel): no terminal event comes.
    ended_here: bool,
    /// Messages the inbox delivered.
    messages: usize,
    sends: Vec<Receiver<Result<(), Status>>>,
}

impl Handle {
    fn new(call: CallId, inbox: Receiver<Event>, state: CallState) -> Handle {
        Handle {
            call,
            inbox,
            state,
            terminals: 0,
            after_end: 0,
            ended_here: false,
            messages: 0,
            sends: Vec::new(),
        }
    }

    /// Takes in the inbox, counting what the test checks.
    fn take_in(&mut self) {
        while let Ok(event) = self.inbox.try_recv() {
            if self.terminals > 0 {
                self.after_end += 1;
            }
            match event {
                Event::Finished { .. } | Event::Cancelled { .. } => self.terminals += 1,
                Event::Message { .. } => self.messages += 1,
                _ => {}
            }
            self.state.note(Some(event));
        }
    }
}

struct World {
    pair: GrpcPair,
    boards: [Board; 2],
    handles: [Vec<Handle>; 2],
}

fn at(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl World {
    fn new() -> World {
        let mut server = Config::server();
        server.release_on_poll = false;
        server.h2.max_send_buffer_per_stream = 64 << 10;
        let mut client = Config::client();
        client.release_on_poll = false;
        let mut pair = GrpcPair::with_configs(client, server);
        pair.set_collect(Side::Client, false);
        pair.set_collect(Side::Server, false);
        World {
            pair,
            boards: [Switchboard::new(), Switchboard::new()],
            handles: [Vec::new(), Vec::new()],
        }
    }

    fn conn(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::Client => self.pair.client(),
            Side::Server => self.pair.server(),
        }
    }

    fn apply(&mut self, side: Side, command: Command<Done>) {
        let board = &mut self.boards[at(side)];
        let conn = match side {
            Side::Client => self.pair.client(),
            Side::Server => self.pair.server(),
        };
        board.apply(conn, command);
    }

    /// Moves bytes and routes both sides' events until quiet.
    fn drive(&mut self) {
        for _ in 0..16 {
            self.pair.drive();
            if !self.route() {
                return;
            }
        }
    }

    /// Takes both sides' events as an adapter does; says whether there were any.
    fn route(&mut self) -> bool {
        let mut routed = false;
        for side in [Side::Client, Side::Server] {
            loop {
                let board = &mut self.boards[at(side)];
                let conn = match side {
                    Side::Client => self.pair.client(),
                    Side::Server => self.pair.server(),
                };
                let Some(event) = board.poll_event(conn) else {
                    break;
                };
                routed = true;
                if let Event::CallStarted { call, .. } = event {
                    let (tx, rx) = mpsc::channel();
                    self.boards[1].attach(call, tx);
                    self.handles[1].push(Handle::new(call, rx, CallState::server()));
                }
            }
        }
        routed
    }

    fn handle(&mut self, side: Side, idx: usize) -> Option<&mut Handle> {
        let handles = &mut self.handles[at(side)];
        let len = handles.len();
        handles.get_mut(idx.checked_rem(len)?)
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Start { deadline_ms } => {
                let mut options = CallOptions::new("/pkg.Svc/Method");
                if let Some(ms) = deadline_ms {
                    options.timeout = Some(Duration::from_millis(ms));
                }
                let (tx, rx) = mpsc::channel();
                let now = self.pair.now();
                let client = self.pair.client();
                if let Ok(call) = self.boards[0].start_call(client, now, options, tx) {
                    self.handles[0].push(Handle::new(call, rx, CallState::client()));
                }
            }
            Op::Send {
                side,
                idx,
                len,
                compress,
            } => {
                let Some(h) = self.handle(side, idx) else {
                    return;
                };
                if h.state.is_over() {
                    return;
                }
                let (done, answer) = mpsc::channel();
                h.sends.push(answer);
                let call = h.call;
                let message = Bytes::from(vec![7u8; len]);
                self.apply(side, Command::Send(call, message, compress, done));
            }
            Op::CloseSend { idx } => {
                if let Some(call) = self.handle(Side::Client, idx).map(|h| h.call) {
                    self.apply(Side::Client, Command::CloseSend(call));
                }
            }
            Op::Headers { idx } => {
                if let Some(call) = self.handle(Side::Server, idx).map(|h| h.call) {
                    self.apply(Side::Server, Command::Headers(call, Metadata::new()));
                }
            }
            Op::Finish { idx, ok } => {
                let status = match ok {
                    true => Status::ok(),
                    false => Status::new(Code::NotFound, "no"),
                };
                let Some(h) = self.handle(Side::Server, idx) else {
                    return;
                };
                if h.state.end_here(status.clone()) {
                    h.ended_here = true;
                    let finish = Command::Finish(h.call, status, Metadata::new());
                    self.apply(Side::Server, finish);
                }
            }
            Op::Cancel { side, idx } => {
                let Some(h) = self.handle(side, idx) else {
                    return;
                };
                if h.state.end_here(Status::new(Code::Cancelled, "cancelled")) {
                    h.ended_here = true;
                    let call = h.call;
                    self.apply(side, Command::Cancel(call));
                }
            }
            Op::Take { side, idx } => {
                let Some(h) = self.handle(side, idx) else {
                    return;
                };
                h.take_in();
                if let Some(Ok(Some(_))) = h.state.poll_recv() {
                    let call = h.call;
                    self.apply(side, Command::Consumed(call));
                }
            }
            Op::Deliver => self.pair.drive(),
            Op::Route => {
                self.route();
            }
            Op::Advance { ms } => {
                self.pair.advance(Duration::from_millis(ms));
                self.drive();
            }
        }
    }

    fn check(&mut self) {
        assert!(self.pair.receive_error(Side::Client).is_none());
        assert!(self.pair.receive_error(Side::Server).is_none());
        for h in self.handles.iter_mut().flatten() {
            h.take_in();
            assert!(h.terminals <= 1, "{} terminal events", h.terminals);
            assert_eq!(h.after_end, 0, "events after the end");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_order_of_handle_commands_keeps_the_books(ops in proptest::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        // A few calls under way first, so most operations find one.
        let starts = (0..3).map(|_| Op::Start { deadline_ms: None });
        for op in starts.chain([Op::Deliver, Op::Route]).chain(ops) {
            world.run(op);
            world.check();
        }
        // Every client half-closes and the servers take all there is: each
        // call still open on both sides got every message its client sent.
        for idx in 0..world.handles[0].len() {
            world.run(Op::CloseSend { idx });
        }
        for _ in 0..200 {
            world.drive();
            for idx in 0..world.handles[1].len() {
                world.run(Op::Take { side: Side::Server, idx });
            }
        }
        world.check();
        let mut answers = Vec::new();
        for h in &world.handles[0] {
            let sent: Vec<_> = h.sends.iter().map(|a| a.try_recv().ok()).collect();
            answers.push(sent);
        }
        for server in &world.handles[1] {
            let Some(i) = world.handles[0].iter().position(|c| c.call == server.call) else {
                continue;
            };
            let client = &world.handles[0][i];
            if server.state.is_over() || client.state.is_over() {
                continue;
            }
            let taken = answers[i].iter().filter(|a| matches!(a, Some(Ok(())))).count();
            prop_assert_eq!(server.messages, taken, "messages lost on the way");
        }
        // End every call from its own side, then let the ends travel.
        for side in [Side::Client, Side::Server] {
            for idx in 0..world.handles[at(side)].len() {
                world.run(Op::Cancel { side, idx });
            }
        }
        world.drive();
        world.check();
        for (side, handles) in world.handles.iter().enumerate() {
            for (i, h) in handles.iter().enumerate() {
                prop_assert!(h.ended_here || h.terminals == 1, "a call's end never reached its handle");
                for (j, answer) in h.sends.iter().enumerate() {
                    let earlier = side == 0 && answers[i][j].is_some();
                    prop_assert!(earlier || answer.try_recv().is_ok(), "a send was left unanswered");
                }
            }
        }
        let _ = world.conn(Side::Client).is_closed();
    }
}
