//! Random use of two engine `Session`s, a client and a server, wired together
//! by the test as two adapters and a socket would be: bytes move in writes of
//! any size, a side may stop reading for a while, handles send, half-close,
//! finish, cancel and take messages in any order, time passes, a side (mostly
//! the server) shuts down, gracefully or with a cut, and the socket may fail
//! under either side. Whatever the order: nothing panics, no connection fails, a
//! handle's inbox ends with at most one terminal event and nothing after it,
//! every call ends for its handle, every send is answered, a call that was
//! not ended early delivers every message sent on it, in order, a shut down
//! connection closes on both sides, and the unwritten output never grows past
//! `write_buffer_size` and one turn of the connection's own output.

use std::sync::mpsc::{Receiver, TryRecvError};

use spec_tests::mailbox::{channel, Tx};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, CallOptions, Config, Event};
use grpc_sansio::session::{CallState, Command, Session};
use grpc_sansio::testing::Side;
use proptest::prelude::*;

type Done = Tx<Result<(), Status>>;
type Sess = Session<Tx<Event>, Done>;

/// What unwritten output may hold beyond `write_buffer_size`: one turn of
/// the connection's output, its transmit budget (256 KiB) and the frame that
/// crosses it (16 KiB of payload and its 9-octet head).
const SLACK: usize = (256 << 10) + (16 << 10) + 9;

/// The server's `write_buffer_size`: small, so its output piles up to it
/// whenever the client stops reading.
const SERVER_WRITE_BUFFER: usize = 8 << 10;

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
        gzip: bool,
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
    /// One write of at most `max` octets of `side`'s output into its peer.
    Write {
        side: Side,
        max: usize,
    },
    /// `side`'s adapter takes the events no handle takes.
    Route {
        side: Side,
    },
    /// `side` stops or resumes reading its socket.
    Read {
        side: Side,
        on: bool,
    },
    Advance {
        ms: u64,
    },
    Shutdown {
        side: Side,
        cut_ms: Option<u64>,
    },
    /// `side`'s transport fails; its peer notices on its next read or write.
    Hangup {
        side: Side,
    },
}

/// The parameters of one case.
#[derive(Debug, Clone)]
struct Setup {
    /// Flow-control windows of 1 MiB (else the defaults): a side that stops
    /// reading then lets its peer queue far more than its write buffer.
    wide: bool,
    /// 8 KiB or the default 256 KiB.
    client_write_buffer: usize,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

fn write_size() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => Just(1usize),
        2 => 1usize..64,
        2 => 64usize..32_768,
        2 => Just(usize::MAX),
    ]
}

fn message_len() -> impl Strategy<Value = usize> {
    prop_oneof![2 => 0usize..2_000, 1 => 2_000usize..64_000, 1 => 64_000usize..256_000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => proptest::option::weighted(0.2, 1u64..300)
            .prop_map(|deadline_ms| Op::Start { deadline_ms }),
        60 => (side(), 0usize..6, message_len(), any::<bool>())
            .prop_map(|(side, idx, len, compress)| Op::Send { side, idx, len, compress }),
        8 => (0usize..6).prop_map(|idx| Op::CloseSend { idx }),
        8 => (0usize..6, any::<bool>()).prop_map(|(idx, gzip)| Op::Headers { idx, gzip }),
        8 => (0usize..6, any::<bool>()).prop_map(|(idx, ok)| Op::Finish { idx, ok }),
        8 => (side(), 0usize..6).prop_map(|(side, idx)| Op::Cancel { side, idx }),
        35 => (side(), 0usize..6).prop_map(|(side, idx)| Op::Take { side, idx }),
        60 => (side(), write_size()).prop_map(|(side, max)| Op::Write { side, max }),
        15 => side().prop_map(|side| Op::Route { side }),
        8 => (side(), any::<bool>()).prop_map(|(side, on)| Op::Read { side, on }),
        10 => (1u64..200).prop_map(|ms| Op::Advance { ms }),
        1 => (prop_oneof![3 => Just(Side::Server), 1 => Just(Side::Client)],
              proptest::option::of(0u64..2_000))
            .prop_map(|(side, cut_ms)| Op::Shutdown { side, cut_ms }),
        1 => side().prop_map(|side| Op::Hangup { side }),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        prop_oneof![Just(8usize << 10), Just(256usize << 10)],
    )
        .prop_map(|(wide, client_write_buffer)| Setup {
            wide,
            client_write_buffer,
        })
}

/// A message: its sequence number on the call, then `len` filler octets.
fn message(seq: u32, len: usize) -> Bytes {
    let mut m = seq.to_le_bytes().to_vec();
    m.resize(4 + len, 7);
    Bytes::from(m)
}

/// One send and its answer, once it came.
struct Sent {
    seq: u32,
    len: usize,
    answer: Receiver<Result<(), Status>>,
    ok: Option<bool>,
}

/// A call handle, as an adapter's would be, with what the test checks.
struct Handle {
    call: CallId,
    inbox: Receiver<Event>,
    state: CallState,
    /// Terminal events seen in the inbox, and events seen after the first.
    terminals: usize,
    after_end: usize,
    /// The code of the terminal event.
    end: Option<Code>,
    /// Ended by this side (finish, cancel): no terminal event comes.
    ended_here: bool,
    sends: Vec<Sent>,
    /// (sequence number, filler length) of each message taken, in order.
    taken: Vec<(u32, usize)>,
}

impl Handle {
    fn new(call: CallId, inbox: Receiver<Event>, state: CallState) -> Handle {
        Handle {
            call,
            inbox,
            state,
            terminals: 0,
            after_end: 0,
            end: None,
            ended_here: false,
            sends: Vec::new(),
            taken: Vec::new(),
        }
    }

    /// Takes in the inbox, counting what the test checks.
    fn take_in(&mut self) {
        while let Ok(event) = self.inbox.try_recv() {
            if self.terminals > 0 {
                self.after_end += 1;
            }
            if let Event::Finished { status, .. } | Event::Cancelled { status, .. } = &event {
                self.terminals += 1;
                self.end = Some(status.code());
            }
            self.state.note(Some(event));
        }
    }

    /// Collects the answers that came; a reply dropped unanswered fails.
    fn collect(&mut self) {
        for sent in self.sends.iter_mut().filter(|s| s.ok.is_none()) {
            match sent.answer.try_recv() {
                Ok(result) => sent.ok = Some(result.is_ok()),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => panic!("a send's reply was dropped unanswered"),
            }
        }
    }

    /// The messages the engine took, in order: what the peer must deliver.
    fn accepted(&mut self) -> Vec<(u32, usize)> {
        self.collect();
        let ok = self.sends.iter().filter(|s| s.ok == Some(true));
        ok.map(|s| (s.seq, s.len)).collect()
    }

    fn unanswered(&mut self) -> usize {
        self.collect();
        self.sends.iter().filter(|s| s.ok.is_none()).count()
    }
}

/// The unwritten output stays within its bound.
fn check_bound(side: Side, waiting: usize, limit: usize) {
    assert!(
        waiting <= limit + SLACK,
        "{side:?} holds {waiting} unwritten octets, over {limit} + {SLACK}"
    );
}

fn at(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

fn peer(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

const SIDES: [Side; 2] = [Side::Client, Side::Server];

struct World {
    sessions: [Sess; 2],
    handles: [Vec<Handle>; 2],
    limits: [usize; 2],
    now: Instant,
    /// Whether each side reads its socket.
    reading: [bool; 2],
    /// The socket is open: neither side closed it nor saw it fail.
    open: bool,
    /// Each side knows its transport is gone (it closed it, or noticed).
    gone: [bool; 2],
    /// A shutdown was asked for.
    shut: bool,
    /// When a bounded shutdown cuts the transport.
    cut: Option<Instant>,
}

impl World {
    fn new(setup: &Setup) -> World {
        let now = Instant::now();
        let mut client = Config::client();
        client.write_buffer_size = setup.client_write_buffer;
        // The client's compressed sends are gzip.
        client.send_encoding = Encoding::Gzip;
        let mut server = Config {
            write_buffer_size: SERVER_WRITE_BUFFER,
            ..Config::server()
        };
        for config in [&mut client, &mut server] {
            // Sends park in the switchboard, not only in the engine's queues.
            config.h2.max_send_buffer_per_stream = 64 << 10;
            if setup.wide {
                config.h2.initial_stream_window = 1 << 20;
                config.h2.connection_window = 4 << 20;
            }
        }
        World {
            limits: [client.write_buffer_size, server.write_buffer_size],
            sessions: [Session::client(client, now), Session::server(server, now)],
            handles: [Vec::new(), Vec::new()],
            now,
            reading: [true, true],
            open: true,
            gone: [false, false],
            shut: false,
            cut: None,
        }
    }

    fn session(&mut self, side: Side) -> &mut Sess {
        &mut self.sessions[at(side)]
    }

    /// The output `side` has to write; checks its bound.
    fn pending(&mut self, side: Side) -> usize {
        let limit = self.limits[at(side)];
        let waiting = self.session(side).poll_transmit().len();
        check_bound(side, waiting, limit);
        waiting
    }

    /// One write of at most `max` octets from `side` into its peer; how many.
    fn write(&mut self, side: Side, max: usize) -> usize {
        self.notice(side);
        if self.gone[at(side)] {
            return 0;
        }
        let (now, limit) = (self.now, self.limits[at(side)]);
        let reading = self.reading[at(peer(side))];
        let [client, server] = &mut self.sessions;
        let (from, to) = match side {
            Side::Client => (client, server),
            Side::Server => (server, client),
        };
        let out = from.poll_transmit();
        check_bound(side, out.len(), limit);
        // A peer that does not read leaves the socket full: nothing goes.
        let n = if reading { out.len().min(max) } else { 0 };
        if n == 0 {
            return 0;
        }
        to.receive(now, &out[..n]);
        from.advance(n);
        n
    }

    /// A side whose socket closed under it learns it at its next read or
    /// write, as from a socket.
    fn notice(&mut self, side: Side) {
        if !self.open && !self.gone[at(side)] {
            self.gone[at(side)] = true;
            self.close_transport(side);
        }
    }

    /// `side`'s transport failed: every call has ended for its handle, and
    /// the session is closed, at once.
    fn close_transport(&mut self, side: Side) {
        self.session(side).transport_closed();
        for h in &mut self.handles[at(side)] {
            h.take_in();
            assert!(h.ended_here || h.terminals == 1, "a lost call never ended");
        }
        assert!(
            self.session(side).is_closed(),
            "{side:?} open without transport"
        );
    }

    /// A handle's command. A session whose transport is gone has been
    /// dropped by its adapter: the command goes nowhere.
    fn command(&mut self, side: Side, command: Command<Done>) {
        if !self.gone[at(side)] {
            self.session(side).apply(command);
        }
    }

    /// An adapter closes the socket once its session says it is closed;
    /// says whether it did.
    fn hang_up_if_closed(&mut self, side: Side) -> bool {
        if !self.open || self.gone[at(side)] {
            return false;
        }
        self.pending(side);
        if !self.session(side).is_closed() {
            return false;
        }
        let unwritten = self.session(side).poll_transmit().len();
        assert_eq!(unwritten, 0, "{side:?} closed with output unwritten");
        self.open = false;
        self.gone[at(side)] = true;
        true
    }

    /// Takes the events no handle takes, as an adapter does: a new call gets
    /// a handle.
    fn dispatch(&mut self, side: Side) {
        while let Some(event) = self.session(side).poll_event() {
            if let Event::CallStarted { call, .. } = event {
                let (tx, rx) = channel();
                self.session(side).attach(call, tx);
                self.handles[at(side)].push(Handle::new(call, rx, CallState::server()));
            }
        }
    }

    /// Fires `side`'s timers if due.
    fn tick(&mut self, side: Side) {
        if self.gone[at(side)] {
            return;
        }
        let now = self.now;
        let session = self.session(side);
        if session.poll_timeout().is_some_and(|t| t <= now) {
            session.handle_timeout(now);
        }
    }

    fn handle(&mut self, side: Side, idx: usize) -> Option<&mut Handle> {
        let handles = &mut self.handles[at(side)];
        let len = handles.len();
        handles.get_mut(idx.checked_rem(len)?)
    }

    /// The handle takes in its inbox and one message if there is one.
    fn take(&mut self, side: Side, idx: usize) -> bool {
        let Some(h) = self.handle(side, idx) else {
            return false;
        };
        h.take_in();
        let Some(Ok(Some(message))) = h.state.poll_recv() else {
            return false;
        };
        let seq = u32::from_le_bytes(message[..4].try_into().expect("a sequence number"));
        assert!(
            message[4..].iter().all(|&b| b == 7),
            "a message's filler changed"
        );
        h.taken.push((seq, message.len() - 4));
        let call = h.call;
        self.command(side, Command::Consumed(call));
        true
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Start { deadline_ms } => {
                if self.gone[0] {
                    return;
                }
                let mut options = CallOptions::new("/pkg.Svc/Method");
                options.timeout = deadline_ms.map(Duration::from_millis);
                let (tx, rx) = channel();
                let now = self.now;
                if let Ok(call) = self.sessions[0].start_call(now, options, tx) {
                    self.handles[0].push(Handle::new(call, rx, CallState::client()));
                }
            }
            Op::Send {
                side,
                idx,
                len,
                compress,
            } => {
                let gone = self.gone[at(side)];
                let Some(h) = self.handle(side, idx) else {
                    return;
                };
                // A handle whose connection is gone fails the send itself.
                if h.state.is_over() || gone {
                    return;
                }
                let (done, answer) = channel();
                let seq = h.sends.len() as u32;
                h.sends.push(Sent {
                    seq,
                    len,
                    answer,
                    ok: None,
                });
                let call = h.call;
                let send = Command::Send(call, message(seq, len), compress, done);
                self.command(side, send);
            }
            Op::CloseSend { idx } => {
                if let Some(call) = self.handle(Side::Client, idx).map(|h| h.call) {
                    self.command(Side::Client, Command::CloseSend(call));
                }
            }
            Op::Headers { idx, gzip } => {
                if let Some(call) = self.handle(Side::Server, idx).map(|h| h.call) {
                    if gzip {
                        self.command(Side::Server, Command::Encoding(call, Encoding::Gzip));
                    }
                    self.command(Side::Server, Command::Headers(call, Metadata::new()));
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
                    self.command(Side::Server, finish);
                }
            }
            Op::Cancel { side, idx } => {
                let Some(h) = self.handle(side, idx) else {
                    return;
                };
                if h.state.end_here(Status::new(Code::Cancelled, "cancelled")) {
                    h.ended_here = true;
                    let call = h.call;
                    self.command(side, Command::Cancel(call));
                }
            }
            Op::Take { side, idx } => {
                self.take(side, idx);
            }
            Op::Write { side, max } => {
                self.write(side, max);
                self.hang_up_if_closed(side);
            }
            Op::Route { side } => {
                self.notice(side);
                if !self.gone[at(side)] {
                    self.dispatch(side);
                    self.hang_up_if_closed(side);
                }
            }
            Op::Read { side, on } => self.reading[at(side)] = on,
            Op::Advance { ms } => {
                self.now += Duration::from_millis(ms);
                for side in SIDES {
                    self.tick(side);
                    self.hang_up_if_closed(side);
                }
            }
            Op::Shutdown { side, cut_ms } => {
                if self.gone[at(side)] {
                    return;
                }
                self.shut = true;
                let cut_at = cut_ms.map(|ms| self.now + Duration::from_millis(ms));
                if let Some(at) = cut_at {
                    self.cut = Some(self.cut.map_or(at, |due| due.min(at)));
                }
                self.session(side).shutdown(cut_at);
            }
            Op::Hangup { side } => {
                if !self.gone[at(side)] {
                    self.open = false;
                    self.gone[at(side)] = true;
                    self.close_transport(side);
                }
            }
        }
    }

    /// Lets bytes flow both ways until quiet, as two adapters would: each
    /// writes all it has, its peer takes the events after reading, and the
    /// handles take every message. Time stands still.
    fn flow(&mut self) {
        self.reading = [true, true];
        // What each read before is taken first (a new call, a GOAWAY).
        for side in SIDES {
            if !self.gone[at(side)] {
                self.dispatch(side);
            }
        }
        // Far more rounds than the calls' messages need: more means the
        // sessions never go quiet.
        for _ in 0..10_000 {
            let mut moved = false;
            for side in SIDES {
                while self.write(side, usize::MAX) > 0 {
                    moved = true;
                    self.check_connections();
                    self.dispatch(peer(side));
                }
                self.notice(side);
                for idx in 0..self.handles[at(side)].len() {
                    while self.take(side, idx) {
                        moved = true;
                    }
                }
                // The peer is yet to notice.
                moved |= self.hang_up_if_closed(side);
            }
            if !moved {
                return;
            }
        }
        panic!("the sessions never went quiet");
    }

    /// Neither connection failed: each only ever reads its peer's output.
    fn check_connections(&mut self) {
        for side in SIDES {
            let error = self.session(side).connection().h2().error().cloned();
            assert!(error.is_none(), "{side:?} failed: {error:?}");
        }
    }

    /// Checked after every step.
    fn check(&mut self) {
        self.check_connections();
        for h in self.handles.iter_mut().flatten() {
            h.take_in();
            assert!(h.terminals <= 1, "{} terminal events", h.terminals);
            assert_eq!(h.after_end, 0, "events after the end");
            h.collect();
        }
    }

    /// The server's handle of the client's call `call`.
    fn server_of(&self, call: CallId) -> Option<usize> {
        self.handles[1].iter().position(|h| h.call == call)
    }

    fn final_phase(&mut self) -> Result<(), TestCaseError> {
        // Every client still running half-closes; bytes flow; every send is
        // answered, and each call still open on both sides delivered each
        // message its client had accepted, in order, then the half-close.
        for idx in 0..self.handles[0].len() {
            if !self.handles[0][idx].state.is_over() {
                // The second message waits in the switchboard until the first
                // is transmitted, and nothing is read after that: the
                // transmission itself must hand it over.
                for len in [20_000, 50_000] {
                    let (side, compress) = (Side::Client, false);
                    self.run(Op::Send {
                        side,
                        idx,
                        len,
                        compress,
                    });
                }
                self.run(Op::CloseSend { idx });
            }
        }
        self.flow();
        self.check();
        let mut open_calls = Vec::new();
        for c in 0..self.handles[0].len() {
            let unanswered = self.handles[0][c].unanswered();
            prop_assert_eq!(unanswered, 0, "a client's send is stuck");
            let Some(s) = self.server_of(self.handles[0][c].call) else {
                continue;
            };
            if self.handles[0][c].state.is_over() || self.handles[1][s].state.is_over() {
                continue;
            }
            let accepted = self.handles[0][c].accepted();
            let server = &mut self.handles[1][s];
            prop_assert_eq!(&server.taken, &accepted, "client to server");
            prop_assert_eq!(server.state.poll_recv(), Some(Ok(None)), "no half-close");
            open_calls.push(s);
        }
        for h in &mut self.handles[1] {
            prop_assert_eq!(h.unanswered(), 0, "a server's send is stuck");
        }
        self.check_ends_without_handles()?;

        let cut = self.cut.filter(|_| self.open);
        if let Some(cut) = cut {
            // The cut ends the calls still running, and the connection,
            // without their handles doing anything.
            self.now = self.now.max(cut);
            for side in SIDES {
                self.tick(side);
            }
            self.flow();
            self.check();
            prop_assert!(!self.open, "the connection outlived its cut");
            self.check_ends_without_handles()?;
        } else {
            // The server ends the open calls with one more message and OK.
            for &s in &open_calls {
                let side = Side::Server;
                let last = Op::Send {
                    side,
                    idx: s,
                    len: 3,
                    compress: false,
                };
                self.run(last);
                self.run(Op::Finish { idx: s, ok: true });
            }
            self.flow();
            self.check();
        }
        // A client that got the server's own status got every message the
        // server had accepted before, in order.
        for c in 0..self.handles[0].len() {
            let Some(s) = self.server_of(self.handles[0][c].call) else {
                continue;
            };
            let client = &self.handles[0][c];
            if open_calls.contains(&s) && cut.is_none() {
                prop_assert_eq!(client.end, Some(Code::Ok), "an open call did not finish");
            }
            if client.ended_here || !matches!(client.end, Some(Code::Ok | Code::NotFound)) {
                continue;
            }
            let accepted = self.handles[1][s].accepted();
            prop_assert_eq!(&self.handles[0][c].taken, &accepted, "server to client");
        }

        // Every handle ends its call; time passes every deadline and the
        // shutdown's own timers; the ends travel.
        for side in SIDES {
            for idx in 0..self.handles[at(side)].len() {
                self.run(Op::Cancel { side, idx });
            }
        }
        for _ in 0..4 {
            self.now += Duration::from_secs(15);
            for side in SIDES {
                self.tick(side);
            }
            self.flow();
        }
        self.check();
        for h in self.handles.iter_mut().flatten() {
            prop_assert!(
                h.ended_here || h.terminals == 1,
                "a call's end never reached its handle"
            );
            prop_assert_eq!(h.unanswered(), 0, "a send was left unanswered");
        }
        // A side that is gone was closed when its adapter dropped it.
        for side in SIDES {
            let closed = self.gone[at(side)] || self.session(side).is_closed();
            if self.shut || !self.open {
                prop_assert!(closed, "{:?} still open after the shutdown", side);
            } else {
                prop_assert!(!closed, "{:?} closed by itself", side);
            }
        }
        Ok(())
    }

    /// Once the socket is gone under both sides, every call has ended for
    /// its handle, whatever the handle did.
    fn check_ends_without_handles(&mut self) -> Result<(), TestCaseError> {
        if self.open {
            return Ok(());
        }
        for h in self.handles.iter_mut().flatten() {
            h.take_in();
            prop_assert!(h.ended_here || h.terminals == 1, "a lost call never ended");
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sessions_keep_the_books_under_any_interleaving(
        setup in setup(),
        ops in proptest::collection::vec(op(), 1..240),
    ) {
        let mut world = World::new(&setup);
        // The handshake, and a few calls under way, so most operations find one.
        world.flow();
        let starts = (0..3).map(|_| Op::Start { deadline_ms: None });
        let route = [Op::Write { side: Side::Client, max: usize::MAX }, Op::Route { side: Side::Server }];
        for op in starts.chain(route).chain(ops) {
            world.run(op);
            world.check();
        }
        world.final_phase()?;
    }
}
