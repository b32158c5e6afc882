//! A client that pings like grpc-go's: [`BdpPinger`], in memory on a
//! [`GrpcPair`] ([`PingingPair`]) or over a TCP socket ([`TcpPinger`]).
//!
//! grpc-go clients estimate the bandwidth-delay product (BDP) of their
//! connection with PINGs: when a DATA frame arrives and no BDP ping is
//! outstanding they send one, and its ACK times the round trip. On a fast link
//! that is several PINGs a millisecond for as long as data flows. grpc-go's
//! server tolerates them because it forgives the first ping after each HEADERS
//! or DATA frame it writes (`resetPingStrikes`, `handlePing` in
//! `internal/transport/http2_server.go`). A server that instead counts them as
//! strikes answers a large download with GOAWAY ENHANCE_YOUR_CALM
//! "too_many_pings".
//!
//! [`BdpPinger`] wraps our client [`grpc::Connection`] and adds such PINGs to
//! what the connection writes. It finds the DATA frames in what it reads with
//! a [`FrameScanner`] (frames may be cut anywhere between reads), which also
//! notes the server's PING ACKs and GOAWAYs. The wrapped connection receives
//! ACKs of PINGs it never sent; it must ignore them.
//!
//! ```
//! use bytes::Bytes;
//! use grpc_sansio::grpc::{status::Status, CallOptions};
//! use spec_tests::bdp_pinger::{pinging_pair, Pacing};
//! use grpc_sansio::testing::{finished, messages, pattern};
//!
//! let mut pair = pinging_pair(Pacing::EveryDataRead, 1);
//! let now = pair.now();
//! let call = pair.client().start_call(now, CallOptions::new("/pkg.Svc/Big")).unwrap();
//! pair.client().close_send(call).unwrap();
//! pair.drive();
//! let (scall, _) = pair.accept().unwrap();
//! pair.respond(scall, &[pattern(200_000, 1)], &Status::ok());
//! pair.drive();
//! let events = pair.client_events();
//! assert_eq!(messages(&events, call), [pattern(200_000, 1)]);
//! assert!(finished(&events, call).unwrap().0.is_ok());
//! assert!(pair.client_ref().pings_sent() > 1);
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{self, CallId, CallOptions, Event};
use grpc_sansio::h2::{self, ErrorCode};

use crate::factory::{kind, FrameFactory};
use grpc_sansio::testing::{Endpoint, GrpcPair};

/// grpc-go's BDP ping payload (`bdpPing`, `internal/transport/bdp_estimator.go`).
pub const BDP_PING: [u8; 8] = [2, 4, 16, 16, 9, 14, 7, 7];

/// The most PINGs a burst holds. grpc-go's BDP ping can coincide with its
/// keepalive ping and one more; a fourth in a row with no server write between
/// would be struck out by grpc-go's own server.
pub const MAX_BURST: usize = 3;

/// The payloads of a burst, in order: the BDP ping, zeros (grpc-go's keepalive
/// ping), and one more.
pub const BURST_PAYLOADS: [[u8; 8]; MAX_BURST] = [BDP_PING, [0; 8], *b"bdpburst"];

/// The length of an HTTP/2 frame head.
const HEAD_LEN: usize = 9;

/// The ACK flag of PING and SETTINGS.
const ACK: u8 = 0x1;

/// When the pinger pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Only when asked ([`BdpPinger::queue_pings`]).
    Manual,
    /// A burst after every read that completed a DATA frame, acknowledged or
    /// not: as many pings as a client can send. Meant for the pair, whose
    /// lock-step puts a server write between two such reads. Over TCP several
    /// reads can carry DATA the server wrote at once, and grpc-go's own server
    /// would strike the pings they trigger.
    EveryDataRead,
    /// grpc-go's BDP estimator: a burst when a DATA frame arrives and every
    /// ping sent so far has been acknowledged. The DATA frame then follows the
    /// ACK in the stream, so the server wrote it after reading the last burst:
    /// a server that forgives one ping per write strikes at most `burst - 1`
    /// in a row, however the transport cuts the octets.
    AfterAck,
}

/// A frame as [`FrameScanner`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFrame {
    /// The frame type octet.
    pub kind: u8,
    /// The flags octet.
    pub flags: u8,
    /// The stream id, reserved bit cleared.
    pub stream: u32,
    /// The payload length.
    pub length: u32,
    /// The payload; empty for DATA, whose octets are skipped, not kept.
    pub payload: Vec<u8>,
}

impl ScannedFrame {
    /// The payload of a PING ACK.
    pub fn ping_ack(&self) -> Option<[u8; 8]> {
        if self.kind == kind::PING && self.flags & ACK != 0 {
            self.payload.as_slice().try_into().ok()
        } else {
            None
        }
    }

    /// The GOAWAY this frame is, if it is one.
    pub fn go_away(&self) -> Option<SeenGoAway> {
        if self.kind != kind::GOAWAY || self.payload.len() < 8 {
            return None;
        }
        let word = |at: usize| {
            u32::from_be_bytes(self.payload[at..at + 4].try_into().expect("four octets"))
        };
        Some(SeenGoAway {
            last_stream: word(0) & 0x7fff_ffff,
            code: ErrorCode(word(4)),
            debug: Bytes::copy_from_slice(&self.payload[8..]),
        })
    }
}

/// A GOAWAY the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenGoAway {
    /// The last stream id it processed.
    pub last_stream: u32,
    /// Why.
    pub code: ErrorCode,
    /// The debug data ("too_many_pings" for the ping policy).
    pub debug: Bytes,
}

/// Splits an HTTP/2 octet stream into frames as it arrives, in pieces of any
/// size. It reads only the 9-octet heads and keeps the payloads of frames other
/// than DATA; it decodes nothing, so it trusts nothing of the engine under test.
/// Feed it a server's output (no connection preface).
#[derive(Debug, Default)]
pub struct FrameScanner {
    head: [u8; HEAD_LEN],
    head_len: usize,
    /// The frame whose payload is being read, and how much of it is left.
    current: Option<(ScannedFrame, usize)>,
}

impl FrameScanner {
    /// A scanner at a frame boundary.
    pub fn new() -> Self {
        FrameScanner::default()
    }

    /// Reads `octets`, appending every frame they complete to `out`.
    pub fn scan(&mut self, mut octets: &[u8], out: &mut Vec<ScannedFrame>) {
        loop {
            if let Some((frame, left)) = &mut self.current {
                let n = (*left).min(octets.len());
                if frame.kind != kind::DATA {
                    frame.payload.extend_from_slice(&octets[..n]);
                }
                *left -= n;
                octets = &octets[n..];
                if *left > 0 {
                    return;
                }
                let (frame, _) = self.current.take().expect("a frame in progress");
                out.push(frame);
            }
            if octets.is_empty() {
                return;
            }
            let n = (HEAD_LEN - self.head_len).min(octets.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&octets[..n]);
            self.head_len += n;
            octets = &octets[n..];
            if self.head_len < HEAD_LEN {
                return;
            }
            self.head_len = 0;
            let h = self.head;
            let length = u32::from_be_bytes([0, h[0], h[1], h[2]]);
            let frame = ScannedFrame {
                kind: h[3],
                flags: h[4],
                stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
                length,
                payload: Vec::new(),
            };
            self.current = Some((frame, length as usize));
        }
    }
}

/// Our client [`grpc::Connection`] plus grpc-go's BDP pings; see the
/// [module documentation](self). It derefs to the connection for starting
/// calls and the like, and drives like one ([`Endpoint`]); its own
/// [`receive`](Self::receive) and [`poll_transmit`](Self::poll_transmit) add
/// the scanning and the pings.
#[derive(Debug)]
pub struct BdpPinger {
    conn: grpc::Connection,
    pacing: Pacing,
    burst: usize,
    scanner: FrameScanner,
    scanned: Vec<ScannedFrame>,
    /// Pings to append to the next write.
    queued: usize,
    /// Pings queued or sent, not acknowledged yet.
    unacked: usize,
    pings_sent: u64,
    acks: u64,
    data_frames: u64,
    goaways: Vec<SeenGoAway>,
}

impl BdpPinger {
    /// Wraps a client connection that nothing has been read into yet.
    ///
    /// # Panics
    ///
    /// When `burst` is 0 or above [`MAX_BURST`].
    pub fn new(conn: grpc::Connection, pacing: Pacing, burst: usize) -> Self {
        assert!(
            (1..=MAX_BURST).contains(&burst),
            "a burst holds 1 to {MAX_BURST} pings"
        );
        BdpPinger {
            conn,
            pacing,
            burst,
            scanner: FrameScanner::new(),
            scanned: Vec::new(),
            queued: 0,
            unacked: 0,
            pings_sent: 0,
            acks: 0,
            data_frames: 0,
            goaways: Vec::new(),
        }
    }

    /// The wrapped connection.
    pub fn connection(&self) -> &grpc::Connection {
        &self.conn
    }

    /// Appends `n` PINGs (payloads cycling through [`BURST_PAYLOADS`]) to the
    /// next write, whatever the pacing. Call it after the connection preface
    /// went out.
    pub fn queue_pings(&mut self, n: usize) {
        self.queued += n;
        self.unacked += n;
    }

    /// PINGs written so far.
    pub fn pings_sent(&self) -> u64 {
        self.pings_sent
    }

    /// ACKs of our PINGs read so far.
    pub fn acks_received(&self) -> u64 {
        self.acks
    }

    /// PINGs queued or sent and not acknowledged yet.
    pub fn unacked(&self) -> usize {
        self.unacked
    }

    /// DATA frames read so far (whole frames).
    pub fn data_frames(&self) -> u64 {
        self.data_frames
    }

    /// Every GOAWAY the server sent, as read.
    pub fn goaways(&self) -> &[SeenGoAway] {
        &self.goaways
    }

    /// Feeds octets read from the transport: the scanner sees them (and
    /// queues the pings they call for), then the connection.
    pub fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), h2::Error> {
        self.scan(data);
        self.conn.receive(now, data)
    }

    /// Appends the connection's output (whole frames), then the pings due.
    /// Shadows the connection's own `poll_transmit`, which would leave the
    /// pings out.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let mut n = self.conn.poll_transmit(buf);
        for i in 0..std::mem::take(&mut self.queued) {
            let ping = FrameFactory::ping(BURST_PAYLOADS[i % MAX_BURST], false);
            buf.extend_from_slice(&ping);
            n += ping.len();
            self.pings_sent += 1;
        }
        n
    }

    fn scan(&mut self, data: &[u8]) {
        self.scanned.clear();
        self.scanner.scan(data, &mut self.scanned);
        let mut data_read = false;
        for frame in &self.scanned {
            if frame.kind == kind::DATA {
                self.data_frames += 1;
                data_read = true;
                if self.pacing == Pacing::AfterAck && self.unacked == 0 {
                    self.queued += self.burst;
                    self.unacked += self.burst;
                }
            } else if let Some(payload) = frame.ping_ack() {
                if BURST_PAYLOADS.contains(&payload) {
                    self.acks += 1;
                    self.unacked = self.unacked.saturating_sub(1);
                }
            } else if let Some(goaway) = frame.go_away() {
                self.goaways.push(goaway);
            }
        }
        if data_read && self.pacing == Pacing::EveryDataRead {
            self.queued += self.burst;
            self.unacked += self.burst;
        }
    }
}

impl Deref for BdpPinger {
    type Target = grpc::Connection;

    fn deref(&self) -> &grpc::Connection {
        &self.conn
    }
}

impl DerefMut for BdpPinger {
    fn deref_mut(&mut self) -> &mut grpc::Connection {
        &mut self.conn
    }
}

impl Endpoint for BdpPinger {
    type Event = Event;

    fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), h2::Error> {
        BdpPinger::receive(self, now, data)
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.conn.poll_event()
    }

    fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        BdpPinger::poll_transmit(self, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }

    fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }
}

/// A pinging client against our server on virtual time.
pub type PingingPair = GrpcPair<BdpPinger, grpc::Connection>;

/// A [`PingingPair`] with default configurations ([`grpc::Config::client`],
/// [`grpc::Config::server`]: `min_ping_interval` 5 minutes).
pub fn pinging_pair(pacing: Pacing, burst: usize) -> PingingPair {
    pinging_pair_with(
        grpc::Config::client(),
        grpc::Config::server(),
        pacing,
        burst,
    )
}

/// The pinger plays grpc-go's BDP estimator, so the connection's own is off:
/// its one PING after a server write plus a burst of three would be four,
/// which grpc-go's own server strikes out too.
fn without_own_bdp(mut config: grpc::Config) -> grpc::Config {
    config.h2.max_adaptive_window = None;
    config
}

/// A [`PingingPair`] with the given configurations.
pub fn pinging_pair_with(
    client: grpc::Config,
    server: grpc::Config,
    pacing: Pacing,
    burst: usize,
) -> PingingPair {
    let start = Instant::now();
    GrpcPair::from_connections(
        BdpPinger::new(
            grpc::Connection::client(without_own_bdp(client), start),
            pacing,
            burst,
        ),
        grpc::Connection::server(server, start),
        start,
    )
}

/// How one call of [`TcpPinger::run`] ended.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The messages received, in order.
    pub messages: Vec<Bytes>,
    /// The final status (UNAVAILABLE when the connection was lost).
    pub status: Status,
}

impl CallOutcome {
    /// The octets of all messages.
    pub fn octets(&self) -> usize {
        self.messages.iter().map(Bytes::len).sum()
    }
}

/// How long [`TcpPinger::run`] waits for its calls before it gives up.
pub const TCP_RUN_LIMIT: Duration = Duration::from_secs(30);

/// A [`BdpPinger`] driven over a blocking [`TcpStream`]: write what the
/// connection and the pinger have, read, feed `receive`, drain events, fire
/// timers, until the calls end.
#[derive(Debug)]
pub struct TcpPinger {
    stream: TcpStream,
    client: BdpPinger,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Events about no call of a [`run`](Self::run) (a GOAWAY).
    others: Vec<Event>,
    /// The transport is gone (EOF or a failed read).
    eof: bool,
    /// A write failed: nothing more is written.
    write_failed: bool,
}

impl TcpPinger {
    /// Connects to `addr` with a client connection of `config`, its own BDP
    /// estimator off (the pinger plays grpc-go's).
    pub fn connect(
        addr: SocketAddr,
        config: grpc::Config,
        pacing: Pacing,
        burst: usize,
    ) -> io::Result<Self> {
        Self::connect_with(addr, without_own_bdp(config), pacing, burst)
    }

    /// Connects to `addr` with a client connection of `config` exactly as
    /// given: with [`Pacing::Manual`] and no pings queued, a plain driver of
    /// our client (its own BDP PINGs included).
    pub fn connect_with(
        addr: SocketAddr,
        config: grpc::Config,
        pacing: Pacing,
        burst: usize,
    ) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let conn = grpc::Connection::client(config, Instant::now());
        Ok(TcpPinger {
            stream,
            client: BdpPinger::new(conn, pacing, burst),
            rbuf: vec![0; 64 << 10],
            wbuf: Vec::new(),
            others: Vec::new(),
            eof: false,
            write_failed: false,
        })
    }

    /// The pinger, for its counts and the GOAWAYs it read.
    pub fn pinger(&self) -> &BdpPinger {
        &self.client
    }

    /// Events that belonged to no call of a [`run`](Self::run), such as
    /// [`Event::GoAway`].
    pub fn other_events(&self) -> &[Event] {
        &self.others
    }

    /// Whether the transport is gone.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Starts one call per `(path, request)`, all at once (request headers,
    /// the message, half-close), and drives the connection until each has
    /// finished. Outcomes come in the order of `calls`.
    ///
    /// # Errors
    ///
    /// When the client refuses a call (`InvalidInput`), or the calls are not
    /// all over after [`TCP_RUN_LIMIT`] (`TimedOut`).
    pub fn run(&mut self, calls: &[(&str, Bytes)]) -> io::Result<Vec<CallOutcome>> {
        let refused = |e: grpc::CallError| io::Error::new(io::ErrorKind::InvalidInput, e);
        let mut ids: Vec<CallId> = Vec::with_capacity(calls.len());
        for (path, request) in calls {
            let call = self
                .client
                .start_call(Instant::now(), CallOptions::new(*path))
                .map_err(refused)?;
            self.client
                .send_message(call, request.clone())
                .map_err(refused)?;
            self.client.close_send(call).map_err(refused)?;
            ids.push(call);
        }
        let mut messages: Vec<Vec<Bytes>> = vec![Vec::new(); ids.len()];
        let mut statuses: Vec<Option<Status>> = vec![None; ids.len()];
        let give_up = Instant::now() + TCP_RUN_LIMIT;
        loop {
            self.turn();
            while let Some(event) = self.client.poll_event() {
                let at = |call: &CallId| ids.iter().position(|c| c == call);
                match event {
                    Event::Message { call, message, .. } if at(&call).is_some() => {
                        messages[at(&call).expect("ours")].push(message);
                    }
                    Event::Finished { call, status, .. } if at(&call).is_some() => {
                        statuses[at(&call).expect("ours")] = Some(status);
                    }
                    Event::Headers { .. } | Event::Writable { .. } => {}
                    other => self.others.push(other),
                }
            }
            // After EOF `transport_closed` has ended every call.
            if self.eof || statuses.iter().all(Option::is_some) {
                break;
            }
            self.read(give_up)?;
        }
        Ok(messages
            .into_iter()
            .zip(statuses)
            .map(|(messages, status)| CallOutcome {
                messages,
                status: status
                    .unwrap_or_else(|| Status::new(Code::Unavailable, "the transport ended")),
            })
            .collect())
    }

    /// Drives the connection until every ping sent has been acknowledged (or
    /// the transport is gone).
    ///
    /// # Errors
    ///
    /// `TimedOut` after [`TCP_RUN_LIMIT`].
    pub fn await_acks(&mut self) -> io::Result<()> {
        let give_up = Instant::now() + TCP_RUN_LIMIT;
        loop {
            self.turn();
            while let Some(event) = self.client.poll_event() {
                self.others.push(event);
            }
            if self.eof || self.client.unacked() == 0 {
                return Ok(());
            }
            self.read(give_up)?;
        }
    }

    /// Fires due timers and writes everything the connection and the pinger
    /// have.
    fn turn(&mut self) {
        let now = Instant::now();
        if self.client.poll_timeout().is_some_and(|at| at <= now) {
            self.client.handle_timeout(now);
        }
        self.wbuf.clear();
        while self.client.poll_transmit(&mut self.wbuf) > 0 {}
        if self.wbuf.is_empty() || self.eof || self.write_failed {
            return;
        }
        // The server may have closed after a GOAWAY still unread: read on
        // until the transport ends, so that it is seen.
        if self.stream.write_all(&self.wbuf).is_err() {
            self.write_failed = true;
        }
    }

    /// One read, waiting at most until the connection's next timer.
    fn read(&mut self, give_up: Instant) -> io::Result<()> {
        let now = Instant::now();
        if now >= give_up {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("still running after {TCP_RUN_LIMIT:?}"),
            ));
        }
        let until = self
            .client
            .poll_timeout()
            .map_or(give_up, |t| t.min(give_up));
        let wait = until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(wait))?;
        match self.stream.read(&mut self.rbuf) {
            Ok(0) => self.lost(),
            Ok(n) => {
                // A connection error ends the calls; the GOAWAY saying why
                // goes out with the next write.
                let _ = self.client.receive(Instant::now(), &self.rbuf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => self.lost(),
        }
        Ok(())
    }

    fn lost(&mut self) {
        self.eof = true;
        self.client.transport_closed();
    }
}
