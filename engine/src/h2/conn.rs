use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use super::bdp::{BdpEstimator, BDP_PING};
use super::flow::{RecvWindow, SendWindow, DEFAULT_WINDOW};
use super::frame::{self, Frame, Head, HEAD_LEN};
use super::semantics::{self, BlockKind};
use super::state::{Input, State};
use super::{Config, Error, ErrorCode, Event, Initiator, Reason, StreamId, UserError};
use crate::hash::FxHashMap;
use crate::hpack::{self, Header};

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Octets `poll_transmit` appends per call before it yields, so one busy
/// connection cannot build an unbounded write buffer.
const TRANSMIT_BUDGET: usize = 256 << 10;

/// The peer's stream limit we assume before its SETTINGS arrive.
const ASSUMED_MAX_CONCURRENT_STREAMS: u32 = 100;

/// Opaque data of the PING that completes a graceful shutdown.
const SHUTDOWN_PING: [u8; 8] = *b"shutdown";

/// Emptied header lists kept for reuse, at most this many, each with room for
/// at most [`SPARE_HEADER_LIST_FIELDS`]: 16 × 16 × 72 octets, 18 KiB per
/// connection at most.
const SPARE_HEADER_LISTS: usize = 16;

/// The largest capacity (in fields) of a header list kept for reuse.
const SPARE_HEADER_LIST_FIELDS: usize = 16;

/// Emptied send queues of closed streams kept for the next streams, at most
/// this many, each with room for at most [`SPARE_QUEUE_ITEMS`]: 16 × 8 × 40
/// octets, 5 KiB per connection at most.
const SPARE_QUEUES: usize = 16;

/// The largest capacity (in items) of a send queue kept for reuse.
const SPARE_QUEUE_ITEMS: usize = 8;

/// Which end of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We send the preface and open odd-numbered streams.
    Client,
    /// We accept the preface and the client's streams.
    Server,
}

/// The peer's SETTINGS as they stand (RFC 9113 §6.5.2 defaults until it sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSettings {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS. Unlimited by the RFC until stated, but
    /// until the peer's first SETTINGS arrives we assume 100, the minimum RFC
    /// 9113 §6.5.2 recommends, so early streams are not refused.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (unlimited until stated).
    pub max_header_list_size: u32,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            header_table_size: 4096,
            max_concurrent_streams: ASSUMED_MAX_CONCURRENT_STREAMS,
            initial_window_size: DEFAULT_WINDOW,
            max_frame_size: frame::DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: u32::MAX,
        }
    }
}

/// An HTTP/2 connection, client or server, as a pure state machine.
///
/// It owns no socket, no clock and no thread: the caller moves bytes and time in
/// and out. The driving loop, in the order to call things:
///
/// 1. Create it with [`Connection::new`]. A client's preface and both roles'
///    SETTINGS are queued at once.
/// 2. Feed every octet read from the transport to [`receive`](Self::receive). An
///    `Err` is a connection error: a GOAWAY is queued; flush it and close.
/// 3. Drain [`poll_event`](Self::poll_event) until `None` and act on each event
///    (start or finish streams, release consumed data with
///    [`release_capacity`](Self::release_capacity)).
/// 4. Drain [`poll_transmit`](Self::poll_transmit) into your write buffer until it
///    returns 0, and write that to the transport.
/// 5. Arm a timer for [`poll_timeout`](Self::poll_timeout) and call
///    [`handle_timeout`](Self::handle_timeout) when it fires. Re-read
///    `poll_timeout` after every call that takes `now`.
/// 6. Stop when [`is_closed`](Self::is_closed) says so.
///
/// Mutators ([`open_stream`](Self::open_stream), [`send_headers`](Self::send_headers),
/// [`send_data`](Self::send_data), [`reset`](Self::reset), [`ping`](Self::ping),
/// [`shutdown`](Self::shutdown)) only queue work: follow them with step 4.
/// `now` must never go backwards. The same inputs at the same instants produce
/// the same outputs.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    read_buf: BytesMut,
    /// Octets of an oversized DATA payload still to discard.
    skip: usize,
    decoder: hpack::Decoder,
    encoder: hpack::Encoder,
    streams: FxHashMap<StreamId, Stream>,
    closed: ClosedStreams,
    next_local_id: u32,
    max_remote_id: StreamId,
    active_local: u32,
    /// Our streams waiting for a concurrency slot, oldest first.
    pending_opens: VecDeque<StreamId>,
    active_remote: u32,
    peer: PeerSettings,
    peer_settings_received: bool,
    /// When our oldest unacknowledged SETTINGS must be acknowledged by.
    settings_deadline: Option<Instant>,
    /// Our SETTINGS frames not yet acknowledged; the first is the initial one.
    settings_unacked: u32,
    initial_settings_acked: bool,
    /// The receive window new streams get; our advertised value once ACKed.
    recv_initial_window: u32,
    /// The receive window we want every stream to have: the configured one,
    /// or what the BDP estimate grew it to.
    stream_window_target: u32,
    /// Grows the receive windows toward the measured bandwidth-delay product.
    bdp: Option<BdpEstimator>,
    send_window: SendWindow,
    recv_window: RecvWindow,
    partial: Option<PartialBlock>,
    /// Emptied header lists to build the next ones in: received lists the
    /// application handed back, and sent ones once encoded.
    spare_header_lists: Vec<Vec<Header>>,
    /// Emptied send queues of closed streams, for new streams.
    spare_queues: Vec<VecDeque<Outbound>>,
    /// Control frames, already encoded, in the order they were queued.
    control: Vec<u8>,
    /// Frames in `control` that the peer made us owe (ACKs, RST_STREAMs): the
    /// flood bound counts these.
    owed_frames: usize,
    send_ready: VecDeque<StreamId>,
    /// Unsent DATA octets over all streams.
    queued_total: usize,
    /// Streams refused for a full connection buffer, told when it drains.
    blocked_writers: Vec<StreamId>,
    events: VecDeque<Event>,
    goaway_sent: Option<StreamId>,
    goaway_received: Option<StreamId>,
    shutdown_pending: bool,
    /// When the graceful-shutdown PING must have returned; stamped by the first
    /// `handle_timeout` after `shutdown` (mutators take no `now`).
    shutdown_deadline: Option<Instant>,
    /// The latest `now` we were given: an instant never in the caller's future.
    last_now: Instant,
    reset_window_start: Option<Instant>,
    resets_in_window: u32,
    empty_frames: u32,
    /// A HEADERS or DATA frame was written since the last
    /// [`take_wrote_stream_frames`](Connection::take_wrote_stream_frames).
    wrote_stream_frames: bool,
    error: Option<Error>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Server: this many preface octets matched so far.
    Preface(usize),
    /// The peer's first frame must be SETTINGS.
    FirstSettings,
    Open,
}

/// A header block still waiting for its CONTINUATION frames.
#[derive(Debug)]
struct PartialBlock {
    stream: StreamId,
    block: BytesMut,
    end_stream: bool,
    self_dependent: bool,
    frames: usize,
}

#[derive(Debug)]
struct Stream {
    state: State,
    local: bool,
    send_window: SendWindow,
    recv_window: RecvWindow,
    queue: VecDeque<Outbound>,
    queued_bytes: usize,
    in_send_ready: bool,
    want_writable: bool,
    /// Whether our HEADERS went out, so the peer knows the stream.
    headers_sent: bool,
    /// Opened by us beyond the peer's concurrency limit: queued until a slot frees.
    waiting: bool,
    /// Our request, or our final (non-1xx) response, is queued or sent; later
    /// blocks are trailers.
    final_headers_queued: bool,
    /// Whether the application has seen the stream (opened it or got its headers).
    announced: bool,
    /// Final (non-1xx) headers received; later blocks are trailers.
    got_headers: bool,
    /// HEAD requests promise a content-length with no body.
    is_head: bool,
    content_length: Option<u64>,
    received_body: u64,
}

#[derive(Debug)]
enum Outbound {
    Headers {
        headers: Vec<Header>,
        end_stream: bool,
    },
    Data {
        data: Bytes,
        end_stream: bool,
    },
    /// RST_STREAM once everything before it is sent.
    Reset(ErrorCode),
}

/// How a stream we no longer track ended; decides how its late frames are met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closure {
    /// We reset it: the peer may not know yet, so its frames are ignored.
    ResetByUs,
    /// The peer reset it, or both sides ended it.
    Ended,
}

/// A bounded memory of closed streams (RFC 9113 §5.1 "closed").
#[derive(Debug, Default)]
struct ClosedStreams {
    map: FxHashMap<StreamId, Closure>,
    order: VecDeque<StreamId>,
}

impl ClosedStreams {
    fn insert(&mut self, id: StreamId, closure: Closure, cap: usize) {
        if self.map.insert(id, closure).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > cap {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    fn get(&self, id: StreamId) -> Option<Closure> {
        self.map.get(&id).copied()
    }
}

/// Where a stream id stands.
enum Lookup {
    Active,
    Closed(Closure),
    /// Below the ids in use but not remembered: forgotten or never opened.
    Unknown,
    Idle,
}

impl Connection {
    /// A new connection. Queues the client preface (client role), our SETTINGS
    /// and the connection window update; the SETTINGS acknowledgement timer starts
    /// at `now`.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        let mut decoder = hpack::Decoder::new(config.header_table_size.max(4096) as usize);
        decoder.set_max_header_list_size(config.max_header_list_size as usize);
        let mut conn = Connection {
            role,
            phase: match role {
                Role::Server => Phase::Preface(0),
                Role::Client => Phase::FirstSettings,
            },
            read_buf: BytesMut::new(),
            skip: 0,
            decoder,
            encoder: hpack::Encoder::new(),
            streams: FxHashMap::default(),
            closed: ClosedStreams::default(),
            next_local_id: match role {
                Role::Client => 1,
                Role::Server => 2,
            },
            max_remote_id: StreamId::ZERO,
            active_local: 0,
            pending_opens: VecDeque::new(),
            active_remote: 0,
            peer: PeerSettings::default(),
            peer_settings_received: false,
            settings_deadline: Some(now + config.settings_timeout),
            settings_unacked: 1,
            initial_settings_acked: false,
            // Until the peer ACKs, it may still use the default window; a larger
            // one we advertise is honoured at once.
            recv_initial_window: config.initial_stream_window.max(DEFAULT_WINDOW),
            stream_window_target: config.initial_stream_window,
            bdp: config
                .max_adaptive_window
                .map(|limit| BdpEstimator::new(config.initial_stream_window, limit)),
            send_window: SendWindow::new(DEFAULT_WINDOW),
            recv_window: RecvWindow::new(DEFAULT_WINDOW, DEFAULT_WINDOW),
            partial: None,
            spare_header_lists: Vec::new(),
            spare_queues: Vec::new(),
            control: Vec::new(),
            owed_frames: 0,
            send_ready: VecDeque::new(),
            queued_total: 0,
            blocked_writers: Vec::new(),
            events: VecDeque::new(),
            goaway_sent: None,
            goaway_received: None,
            shutdown_pending: false,
            shutdown_deadline: None,
            last_now: now,
            reset_window_start: None,
            resets_in_window: 0,
            empty_frames: 0,
            wrote_stream_frames: false,
            error: None,
            config,
        };
        if role == Role::Client {
            conn.control.extend_from_slice(PREFACE);
        }
        let settings = frame::Settings {
            header_table_size: Some(conn.config.header_table_size),
            enable_push: (role == Role::Client).then_some(false),
            max_concurrent_streams: Some(conn.config.max_concurrent_streams),
            initial_window_size: Some(conn.config.initial_stream_window),
            max_frame_size: Some(conn.config.max_frame_size),
            max_header_list_size: Some(conn.config.max_header_list_size),
            ..frame::Settings::default()
        };
        conn.queue_control(settings.into());
        if let Some(increment) = conn.recv_window.grow_to(conn.config.connection_window) {
            conn.queue_control(
                frame::WindowUpdate {
                    stream_id: StreamId::ZERO,
                    increment,
                }
                .into(),
            );
        }
        conn
    }

    // ----- getters -----

    /// Whether we are the client or the server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The peer's settings as last received.
    pub fn peer_settings(&self) -> PeerSettings {
        self.peer
    }

    /// The state of a stream we track; `None` once it is closed and forgotten.
    pub fn stream_state(&self, stream: StreamId) -> Option<State> {
        self.streams.get(&stream).map(|s| s.state)
    }

    /// Streams not yet closed (both directions).
    pub fn active_streams(&self) -> usize {
        self.streams.len()
    }

    /// Octets the application may still queue on `stream` before `send_data`
    /// reports a full buffer.
    pub fn send_capacity(&self, stream: StreamId) -> usize {
        self.streams.get(&stream).map_or(0, |s| {
            self.config
                .max_send_buffer_per_stream
                .saturating_sub(s.queued_bytes)
        })
    }

    /// The connection error that ended this connection, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether the connection is finished: failed, or gone away with no stream
    /// left, and with nothing left to transmit. Close the transport then.
    pub fn is_closed(&self) -> bool {
        let done = self.error.is_some()
            || ((self.goaway_sent.is_some() || self.goaway_received.is_some())
                && !self.shutdown_pending
                && self.streams.is_empty());
        done && self.control.is_empty()
    }

    // ----- input -----

    /// Processes octets read from the transport.
    ///
    /// Stream errors are handled here (RST_STREAM queued, [`Event::Reset`] emitted)
    /// and do not show in the result. A connection error queues GOAWAY and is
    /// returned, now and on every later call.
    pub fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        self.last_now = self.last_now.max(now);
        self.read_buf.extend_from_slice(data);
        loop {
            match self.process_next(now) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(Error::Stream { id, code, .. }) => {
                    self.reset_for_error(now, id, code)?;
                }
                Err(error) => return Err(self.fail(error)),
            }
        }
    }

    /// Consumes one unit of input; `Ok(false)` when more octets are needed.
    fn process_next(&mut self, now: Instant) -> Result<bool, Error> {
        if self.skip > 0 {
            let n = self.skip.min(self.read_buf.len());
            self.read_buf.advance(n);
            self.skip -= n;
            return Ok(n > 0);
        }
        if let Phase::Preface(matched) = self.phase {
            let n = (PREFACE.len() - matched).min(self.read_buf.len());
            if self.read_buf[..n] != PREFACE[matched..matched + n] {
                return Err(Error::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    Reason::BadPreface,
                ));
            }
            self.read_buf.advance(n);
            self.phase = if matched + n == PREFACE.len() {
                Phase::FirstSettings
            } else {
                Phase::Preface(matched + n)
            };
            return Ok(n > 0);
        }
        let Some(head_bytes) = self.read_buf.first_chunk::<HEAD_LEN>() else {
            return Ok(false);
        };
        let head = Head::parse(head_bytes);
        if head.length > self.config.max_frame_size {
            return self.oversized(head);
        }
        let total = HEAD_LEN + head.length as usize;
        if self.read_buf.len() < total {
            // Reserve once so a large frame arriving in small reads is not
            // reallocated again and again.
            self.read_buf.reserve(total - self.read_buf.len());
            return Ok(false);
        }
        self.read_buf.advance(HEAD_LEN);
        let payload = self.read_buf.split_to(head.length as usize).freeze();
        if self.phase == Phase::FirstSettings {
            if head.kind != frame::Kind::Settings as u8 || head.flags & frame::flags::ACK != 0 {
                return Err(Error::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    Reason::FirstFrameNotSettings,
                ));
            }
            self.phase = Phase::Open;
        }
        if let Some(partial) = &self.partial {
            if head.kind != frame::Kind::Continuation as u8 || head.stream_id != partial.stream {
                return Err(Error::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    Reason::HeaderBlockInterrupted {
                        frame: frame::kind_name(head.kind),
                        id: partial.stream,
                    },
                ));
            }
        }
        let frame = Frame::decode(head, payload)?;
        self.handle_frame(now, frame)?;
        Ok(true)
    }

    /// A frame longer than our SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2): a DATA
    /// frame costs only its stream; anything that may alter connection state
    /// costs the connection.
    fn oversized(&mut self, head: Head) -> Result<bool, Error> {
        let reason = Reason::FrameTooLarge {
            frame: frame::kind_name(head.kind),
            len: head.length,
            max: self.config.max_frame_size,
        };
        let is_data = head.kind == frame::Kind::Data as u8;
        if !is_data || head.stream_id.is_zero() || self.partial.is_some() {
            return Err(Error::connection(ErrorCode::FRAME_SIZE_ERROR, reason));
        }
        self.read_buf.advance(HEAD_LEN);
        self.skip = head.length as usize;
        // The peer spent connection credit on it: give it back, as the frame is discarded.
        self.recv_window
            .receive(head.length)
            .map_err(|e| flow_error(head.length, e.window))?;
        self.release_connection(head.length);
        Err(Error::stream(
            head.stream_id,
            ErrorCode::FRAME_SIZE_ERROR,
            reason,
        ))
    }

    fn handle_frame(&mut self, now: Instant, frame: Frame) -> Result<(), Error> {
        match frame {
            Frame::Data(data) => self.recv_data(now, data),
            Frame::Headers(headers) => self.recv_headers(headers),
            Frame::Continuation(cont) => self.recv_continuation(cont),
            Frame::Priority(_) | Frame::Unknown(_) => Ok(()),
            Frame::RstStream(rst) => self.recv_reset(now, rst),
            Frame::Settings(settings) => self.recv_settings(now, settings),
            Frame::PushPromise(_) => Err(Error::connection(
                ErrorCode::PROTOCOL_ERROR,
                Reason::PushDisabled,
            )),
            Frame::Ping(ping) => self.recv_ping(now, ping),
            Frame::GoAway(goaway) => {
                self.recv_goaway(goaway);
                Ok(())
            }
            Frame::WindowUpdate(update) => self.recv_window_update(update),
        }
    }

    fn lookup(&self, id: StreamId) -> Lookup {
        if self.streams.contains_key(&id) {
            return Lookup::Active;
        }
        if let Some(closure) = self.closed.get(id) {
            return Lookup::Closed(closure);
        }
        let remote = match self.role {
            Role::Server => id.is_client_initiated(),
            Role::Client => id.is_server_initiated(),
        };
        let idle = if remote {
            id > self.max_remote_id
        } else {
            id.get() >= self.next_local_id
        };
        if idle {
            Lookup::Idle
        } else {
            Lookup::Unknown
        }
    }

    fn recv_data(&mut self, now: Instant, data: frame::Data) -> Result<(), Error> {
        let id = data.stream_id;
        let flow_len = data.flow_len();
        let end_stream = data.end_stream;
        self.count_empty(data.data.is_empty() && !end_stream, "empty DATA")?;
        let input = Input::RecvData { end_stream };
        match self.lookup(id) {
            Lookup::Active => {}
            Lookup::Idle => {
                State::Idle.next(id, input).map_err(local_misuse)?;
            }
            other => {
                // Late data on a stream that is gone: give the connection credit back.
                self.recv_window
                    .receive(flow_len)
                    .map_err(|e| flow_error(flow_len, e.window))?;
                self.release_connection(flow_len);
                return match other {
                    Lookup::Closed(Closure::ResetByUs) => Ok(()),
                    _ => State::Closed
                        .next(id, input)
                        .map(drop)
                        .map_err(local_misuse),
                };
            }
        }
        self.recv_window
            .receive(flow_len)
            .map_err(|e| flow_error(flow_len, e.window))?;
        let stream = self.streams.get_mut(&id).expect("active stream");
        let next = match stream.state.next(id, input) {
            Ok(next) => next,
            Err(e) => {
                self.release_connection(flow_len);
                return Err(local_misuse(e));
            }
        };
        if !stream.got_headers {
            // §8.1: a response starts with its final HEADERS, never with DATA.
            self.release_connection(flow_len);
            return Err(malformed(id, "DATA before the response HEADERS"));
        }
        if let Err(e) = stream.recv_window.receive(flow_len) {
            self.release_connection(flow_len);
            return Err(Error::stream(
                id,
                ErrorCode::FLOW_CONTROL_ERROR,
                Reason::WindowExceeded {
                    len: flow_len,
                    window: e.window,
                },
            ));
        }
        stream.received_body += data.data.len() as u64;
        let body_ok = match stream.content_length {
            Some(expected) if !stream.is_head => {
                stream.received_body <= expected
                    && (!end_stream || stream.received_body == expected)
            }
            _ => true,
        };
        stream.state = next;
        // Padding is never handed to the application, so it is released here.
        let padding = flow_len - data.data.len() as u32;
        if padding > 0 {
            self.release_capacity(id, padding);
        }
        if !body_ok {
            self.release_capacity(id, data.data.len() as u32);
            return Err(Error::stream(
                id,
                ErrorCode::PROTOCOL_ERROR,
                Reason::Malformed("DATA does not match content-length"),
            ));
        }
        self.events.push_back(Event::Data {
            stream: id,
            data: data.data,
            end_stream,
        });
        self.maybe_remove(id);
        if flow_len > 0 && self.bdp.as_mut().is_some_and(|b| b.add(now, flow_len)) {
            self.send_bdp_ping();
        }
        Ok(())
    }

    fn recv_headers(&mut self, headers: frame::Headers) -> Result<(), Error> {
        let id = headers.stream_id;
        let self_dependent = headers.priority.is_some_and(|p| p.is_self_dependent(id));
        if headers.end_headers {
            return self.recv_header_block(
                id,
                headers.header_block,
                headers.end_stream,
                self_dependent,
            );
        }
        self.check_block_size(headers.header_block.len(), 1)?;
        self.partial = Some(PartialBlock {
            stream: id,
            block: BytesMut::from(&headers.header_block[..]),
            end_stream: headers.end_stream,
            self_dependent,
            frames: 1,
        });
        Ok(())
    }

    fn recv_continuation(&mut self, cont: frame::Continuation) -> Result<(), Error> {
        let Some(mut partial) = self.partial.take() else {
            return Err(Error::connection(
                ErrorCode::PROTOCOL_ERROR,
                Reason::UnexpectedContinuation,
            ));
        };
        // `process_next` already checked that it continues the open block.
        partial.frames += 1;
        self.count_empty(
            cont.header_block.is_empty() && !cont.end_headers,
            "empty CONTINUATION",
        )?;
        self.check_block_size(
            partial.block.len() + cont.header_block.len(),
            partial.frames,
        )?;
        partial.block.extend_from_slice(&cont.header_block);
        if cont.end_headers {
            let block = partial.block.freeze();
            return self.recv_header_block(
                partial.stream,
                block,
                partial.end_stream,
                partial.self_dependent,
            );
        }
        self.partial = Some(partial);
        Ok(())
    }

    fn check_block_size(&self, bytes: usize, frames: usize) -> Result<(), Error> {
        if bytes > self.config.max_header_block_size
            || frames > self.config.max_continuation_frames + 1
        {
            return Err(Error::connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                Reason::HeaderBlockTooLarge {
                    frames: self.config.max_continuation_frames,
                    bytes: self.config.max_header_block_size,
                },
            ));
        }
        Ok(())
    }

    /// A complete header block. It is always decoded, even for streams we are
    /// about to refuse or ignore, so the HPACK table stays in step with the peer.
    fn recv_header_block(
        &mut self,
        id: StreamId,
        block: Bytes,
        end_stream: bool,
        self_dependent: bool,
    ) -> Result<(), Error> {
        let mut fields = self.header_list();
        let decoded = self.decoder.decode(&block, |field| fields.push(field));
        // Errors that cost only this stream, raised once its id is accounted for.
        let rejection = match decoded {
            Err(hpack::DecodeError::HeaderListTooLarge { .. }) => {
                Some(header_list_too_large(id, self.config.max_header_list_size))
            }
            Err(e) => return Err(Error::connection(ErrorCode::COMPRESSION_ERROR, e.into())),
            Ok(_) if self_dependent => Some(Error::stream(
                id,
                ErrorCode::PROTOCOL_ERROR,
                Reason::SelfDependency(id),
            )),
            Ok(_) => None,
        };
        if decoded.is_err() {
            fields.clear();
        }
        let input = Input::RecvHeaders { end_stream };
        match self.lookup(id) {
            Lookup::Active => {}
            Lookup::Closed(Closure::ResetByUs) => return Ok(()),
            Lookup::Closed(Closure::Ended) => {
                return State::Closed
                    .next(id, input)
                    .map(drop)
                    .map_err(local_misuse)
            }
            Lookup::Unknown => {
                return Err(Error::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    Reason::BadStreamId(id),
                ))
            }
            Lookup::Idle => return self.recv_new_stream(id, fields, rejection, end_stream),
        }
        let role = self.role;
        let stream = self.streams.get_mut(&id).expect("active stream");
        let next = stream.state.next(id, input).map_err(local_misuse)?;
        if let Some(error) = rejection {
            return Err(error);
        }
        let kind = match role {
            Role::Client if !stream.got_headers => BlockKind::Response,
            _ => BlockKind::Trailers,
        };
        let info = semantics::check(kind, &fields).map_err(|m| malformed(id, m))?;
        match kind {
            BlockKind::Trailers if !end_stream => {
                return Err(malformed(id, "trailers without END_STREAM"))
            }
            BlockKind::Trailers => {
                if stream
                    .content_length
                    .is_some_and(|n| n != stream.received_body)
                    && !stream.is_head
                {
                    return Err(malformed(id, "body shorter than content-length"));
                }
            }
            _ => {
                let informational = info.status.is_some_and(|s| (100..200).contains(&s));
                if !informational {
                    stream.got_headers = true;
                    stream.content_length = info.content_length;
                    if end_stream && !stream.is_head && info.content_length.is_some_and(|n| n != 0)
                    {
                        return Err(malformed(id, "body shorter than content-length"));
                    }
                } else if end_stream {
                    return Err(malformed(id, "1xx response with END_STREAM"));
                }
            }
        }
        stream.state = next;
        self.events.push_back(Event::Headers {
            stream: id,
            headers: fields,
            end_stream,
        });
        self.maybe_remove(id);
        Ok(())
    }

    fn recv_new_stream(
        &mut self,
        id: StreamId,
        fields: Vec<Header>,
        rejection: Option<Error>,
        end_stream: bool,
    ) -> Result<(), Error> {
        // A client never accepts streams (push is disabled); a server only odd ids.
        if self.role == Role::Client || !id.is_client_initiated() {
            return Err(Error::connection(
                ErrorCode::PROTOCOL_ERROR,
                Reason::BadStreamId(id),
            ));
        }
        self.max_remote_id = id;
        if self.goaway_sent.is_some_and(|last| id > last) {
            // After our GOAWAY, new streams are ignored (RFC 9113 §6.8).
            self.closed.insert(
                id,
                Closure::ResetByUs,
                self.config.max_reset_streams_remembered,
            );
            return Ok(());
        }
        if let Some(error) = rejection {
            return Err(error);
        }
        if self.active_remote >= self.config.max_concurrent_streams {
            self.closed.insert(
                id,
                Closure::ResetByUs,
                self.config.max_reset_streams_remembered,
            );
            return self.queue_owed(
                frame::RstStream {
                    stream_id: id,
                    error_code: ErrorCode::REFUSED_STREAM,
                }
                .into(),
            );
        }
        let info = semantics::check(BlockKind::Request, &fields).map_err(|m| malformed(id, m))?;
        if end_stream && info.content_length.is_some_and(|n| n != 0) {
            return Err(malformed(id, "body shorter than content-length"));
        }
        let state = State::Idle
            .next(id, Input::RecvHeaders { end_stream })
            .map_err(local_misuse)?;
        let mut stream = self.new_stream(state, false);
        stream.announced = true;
        stream.got_headers = true;
        stream.content_length = info.content_length;
        self.streams.insert(id, stream);
        self.active_remote += 1;
        self.events.push_back(Event::Headers {
            stream: id,
            headers: fields,
            end_stream,
        });
        Ok(())
    }

    fn recv_reset(&mut self, now: Instant, rst: frame::RstStream) -> Result<(), Error> {
        let id = rst.stream_id;
        match self.lookup(id) {
            Lookup::Active => {}
            Lookup::Idle => {
                return State::Idle
                    .next(id, Input::RecvReset)
                    .map(drop)
                    .map_err(local_misuse)
            }
            _ => return Ok(()),
        }
        // A server that answered in full and resets with NO_ERROR only tells
        // us to stop sending (RFC 9113 §8.1; gRPC does it whenever it answers
        // before the request ends): that is no flood, however often it comes.
        let answered = self.role == Role::Client
            && rst.error_code == ErrorCode::NO_ERROR
            && self.streams.get(&id).map(|s| s.state) == Some(State::HalfClosedRemote);
        if !answered {
            self.note_reset(now)?;
        }
        let stream = self.remove_stream(id, Closure::Ended);
        if stream.announced {
            self.events.push_back(Event::Reset {
                stream: id,
                code: rst.error_code,
                initiator: Initiator::Remote,
            });
        }
        Ok(())
    }

    fn recv_settings(&mut self, now: Instant, settings: frame::Settings) -> Result<(), Error> {
        if settings.ack {
            // ACKs come in the order our SETTINGS went out; an ACK of
            // nothing is ignored.
            if self.settings_unacked > 0 {
                self.settings_unacked -= 1;
                self.settings_deadline =
                    (self.settings_unacked > 0).then(|| now + self.config.settings_timeout);
                if !std::mem::replace(&mut self.initial_settings_acked, true) {
                    self.local_settings_acked();
                }
            }
            return Ok(());
        }
        if let Some(size) = settings.header_table_size {
            self.peer.header_table_size = size;
            self.encoder.set_max_table_size(size as usize);
        }
        if settings.enable_push == Some(true) && self.role == Role::Client {
            return Err(Error::connection(
                ErrorCode::PROTOCOL_ERROR,
                Reason::InvalidSetting {
                    id: frame::setting_id::ENABLE_PUSH,
                    value: 1,
                },
            ));
        }
        let first = !self.peer_settings_received;
        self.peer_settings_received = true;
        match settings.max_concurrent_streams {
            Some(n) => self.peer.max_concurrent_streams = n,
            // The assumption ends: the peer states no limit.
            None if first => self.peer.max_concurrent_streams = u32::MAX,
            None => {}
        }
        self.open_pending();
        if let Some(n) = settings.max_frame_size {
            self.peer.max_frame_size = n;
        }
        if let Some(n) = settings.max_header_list_size {
            self.peer.max_header_list_size = n;
        }
        if let Some(size) = settings.initial_window_size {
            let delta = i64::from(size) - i64::from(self.peer.initial_window_size);
            self.peer.initial_window_size = size;
            // In id order, so that the streams resume in the same order every run.
            let mut ids: Vec<StreamId> = self.streams.keys().copied().collect();
            ids.sort_unstable();
            for id in ids {
                let stream = self.streams.get_mut(&id).expect("listed stream");
                if stream.send_window.apply_delta(delta).is_err() {
                    return Err(Error::connection(
                        ErrorCode::FLOW_CONTROL_ERROR,
                        Reason::WindowOverflow,
                    ));
                }
                // A stream waiting for a concurrency slot stays waiting.
                if delta > 0 && !stream.queue.is_empty() && !stream.in_send_ready && !stream.waiting
                {
                    stream.in_send_ready = true;
                    self.send_ready.push_back(id);
                }
            }
        }
        self.queue_owed(frame::Settings::ack().into())
    }

    /// The peer ACKed our initial SETTINGS: the values that restrict it
    /// apply now. (A window larger than the default was honoured when sent.)
    fn local_settings_acked(&mut self) {
        self.decoder
            .set_max_table_size(self.config.header_table_size as usize);
        let target = self.stream_window_target;
        let delta = i64::from(target) - i64::from(self.recv_initial_window);
        if delta >= 0 {
            return;
        }
        self.recv_initial_window = target;
        for stream in self.streams.values_mut() {
            stream.recv_window.apply_delta(delta, target);
        }
    }

    /// Queues a BDP PING, after the connection credit already released: a
    /// peer (or proxy) that counts PINGs without data between them then sees
    /// a WINDOW_UPDATE first, as grpc-go's `handleData` arranges.
    fn send_bdp_ping(&mut self) {
        if let Some(increment) = self.recv_window.take_pending() {
            self.queue_control(
                frame::WindowUpdate {
                    stream_id: StreamId::ZERO,
                    increment,
                }
                .into(),
            );
        }
        self.queue_control(
            frame::Ping {
                ack: false,
                payload: BDP_PING,
            }
            .into(),
        );
    }

    /// The BDP estimate grew to `window`: the connection window grows by a
    /// WINDOW_UPDATE, every stream's by SETTINGS_INITIAL_WINDOW_SIZE (grpc-go:
    /// `updateFlowControl`). Larger windows are honoured as soon as they are
    /// sent.
    fn grow_windows(&mut self, now: Instant, window: u32) {
        if let Some(increment) = self.recv_window.raise_target(window) {
            self.queue_control(
                frame::WindowUpdate {
                    stream_id: StreamId::ZERO,
                    increment,
                }
                .into(),
            );
        }
        if window <= self.stream_window_target.max(self.recv_initial_window) {
            return;
        }
        let delta = i64::from(window) - i64::from(self.recv_initial_window);
        self.recv_initial_window = window;
        self.stream_window_target = window;
        for stream in self.streams.values_mut() {
            stream.recv_window.apply_delta(delta, window);
        }
        self.queue_control(
            frame::Settings {
                initial_window_size: Some(window),
                ..frame::Settings::default()
            }
            .into(),
        );
        self.settings_unacked += 1;
        self.settings_deadline
            .get_or_insert(now + self.config.settings_timeout);
    }

    fn recv_ping(&mut self, now: Instant, ping: frame::Ping) -> Result<(), Error> {
        if ping.ack {
            if ping.payload == SHUTDOWN_PING && self.shutdown_pending {
                self.finish_shutdown();
            }
            if ping.payload == BDP_PING {
                if let Some(window) = self.bdp.as_mut().and_then(|b| b.ping_acked(now)) {
                    self.grow_windows(now, window);
                }
                return Ok(());
            }
            self.events.push_back(Event::PingAck {
                payload: ping.payload,
            });
            return Ok(());
        }
        self.events.push_back(Event::Ping {
            payload: ping.payload,
        });
        self.queue_owed(
            frame::Ping {
                ack: true,
                payload: ping.payload,
            }
            .into(),
        )
    }

    fn recv_goaway(&mut self, goaway: frame::GoAway) {
        let last = goaway.last_stream_id;
        self.goaway_received = Some(self.goaway_received.map_or(last, |prev| prev.min(last)));
        // Our streams above `last` were never processed: safe to retry elsewhere.
        let mut refused: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(id, s)| s.local && **id > last)
            .map(|(id, _)| *id)
            .collect();
        refused.sort_unstable();
        for id in refused {
            self.remove_stream(id, Closure::Ended);
            self.events.push_back(Event::Reset {
                stream: id,
                code: ErrorCode::REFUSED_STREAM,
                initiator: Initiator::Remote,
            });
        }
        self.events.push_back(Event::GoAway {
            last_stream_id: last,
            code: goaway.error_code,
            debug_data: goaway.debug_data,
        });
    }

    fn recv_window_update(&mut self, update: frame::WindowUpdate) -> Result<(), Error> {
        let id = update.stream_id;
        if id.is_zero() {
            self.send_window.increase(update.increment).map_err(|_| {
                Error::connection(ErrorCode::FLOW_CONTROL_ERROR, Reason::WindowOverflow)
            })?;
            return Ok(());
        }
        match self.lookup(id) {
            Lookup::Active => {}
            Lookup::Idle => {
                return Err(Error::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    Reason::UnexpectedFrame {
                        frame: "WINDOW_UPDATE",
                        state: State::Idle.name(),
                    },
                ))
            }
            // §5.1: WINDOW_UPDATE may cross our END_STREAM or RST_STREAM.
            _ => return Ok(()),
        }
        let stream = self.streams.get_mut(&id).expect("active stream");
        if stream.send_window.increase(update.increment).is_err() {
            return Err(Error::stream(
                id,
                ErrorCode::FLOW_CONTROL_ERROR,
                Reason::WindowOverflow,
            ));
        }
        if !stream.queue.is_empty() && !stream.in_send_ready {
            stream.in_send_ready = true;
            self.send_ready.push_back(id);
        }
        Ok(())
    }

    // ----- errors and floods -----

    /// Resets a stream for the peer's fault and counts it toward the rapid-reset bound.
    /// The reason is not kept: the application learns the code from [`Event::Reset`].
    fn reset_for_error(
        &mut self,
        now: Instant,
        id: StreamId,
        code: ErrorCode,
    ) -> Result<(), Error> {
        if let Some(stream) = self
            .streams
            .contains_key(&id)
            .then(|| self.remove_stream(id, Closure::ResetByUs))
        {
            if stream.announced {
                self.events.push_back(Event::Reset {
                    stream: id,
                    code,
                    initiator: Initiator::Local,
                });
            }
        } else {
            self.closed.insert(
                id,
                Closure::ResetByUs,
                self.config.max_reset_streams_remembered,
            );
        }
        let result = self
            .queue_owed(
                frame::RstStream {
                    stream_id: id,
                    error_code: code,
                }
                .into(),
            )
            .and_then(|()| self.note_reset(now));
        result.map_err(|e| self.fail(e))
    }

    fn note_reset(&mut self, now: Instant) -> Result<(), Error> {
        let expired = self
            .reset_window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.config.reset_window);
        if expired {
            self.reset_window_start = Some(now);
            self.resets_in_window = 0;
        }
        self.resets_in_window += 1;
        if self.resets_in_window > self.config.max_resets_per_window {
            return Err(Error::connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                Reason::Flood("RST_STREAM"),
            ));
        }
        Ok(())
    }

    fn count_empty(&mut self, empty: bool, what: &'static str) -> Result<(), Error> {
        if !empty {
            self.empty_frames = 0;
            return Ok(());
        }
        self.empty_frames += 1;
        if self.empty_frames > self.config.max_empty_frames {
            return Err(Error::connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                Reason::Flood(what),
            ));
        }
        Ok(())
    }

    /// Makes a connection error final: GOAWAY queued, every stream reset.
    fn fail(&mut self, error: Error) -> Error {
        if let Some(existing) = &self.error {
            return existing.clone();
        }
        let debug = Bytes::from(error.reason().to_string());
        self.send_goaway(self.max_remote_id, error.code(), debug);
        let mut ids: Vec<StreamId> = self.streams.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let stream = self.remove_stream(id, Closure::ResetByUs);
            if stream.announced {
                self.events.push_back(Event::Reset {
                    stream: id,
                    code: error.code(),
                    initiator: Initiator::Local,
                });
            }
        }
        self.partial = None;
        self.settings_deadline = None;
        self.error = Some(error.clone());
        error
    }

    // ----- timers -----

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let shutdown = match (self.shutdown_pending, self.shutdown_deadline) {
            (true, None) => Some(self.last_now),
            (true, deadline) => deadline,
            (false, _) => None,
        };
        match (self.settings_deadline, shutdown) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on timers that expired at `now`: a SETTINGS ACK overdue fails the
    /// connection with SETTINGS_TIMEOUT.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.error.is_some() {
            return;
        }
        self.last_now = self.last_now.max(now);
        if self.shutdown_pending {
            match self.shutdown_deadline {
                None => self.shutdown_deadline = Some(now + self.config.shutdown_timeout),
                // The PING never came back: stop waiting for streams the
                // client may still have sent, and name the last one we saw.
                Some(deadline) if now >= deadline => self.finish_shutdown(),
                Some(_) => {}
            }
        }
        if self
            .settings_deadline
            .is_some_and(|deadline| now >= deadline)
        {
            self.fail(Error::connection(
                ErrorCode::SETTINGS_TIMEOUT,
                Reason::LocalSettingsTimeout,
            ));
        }
    }

    // ----- output -----

    /// The receive window the BDP estimate has asked for so far (it starts at
    /// `initial_stream_window`); `None` with the estimator off.
    pub fn adaptive_window(&self) -> Option<u32> {
        self.bdp.as_ref().map(BdpEstimator::window)
    }

    /// Whether a HEADERS or DATA frame was written since the last call. A
    /// server's PING policy forgives the next PING after one (grpc-go resets
    /// its ping strikes on every such write).
    pub fn take_wrote_stream_frames(&mut self) -> bool {
        std::mem::take(&mut self.wrote_stream_frames)
    }

    /// Drains the next application event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Appends frames to write to `buf` and returns how many octets it appended;
    /// call until it returns 0. Control frames go first, then stream frames
    /// round-robin, one frame per stream per turn, within the flow-control windows.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let start = buf.len();
        buf.append(&mut self.control);
        self.owed_frames = 0;
        if self.error.is_some() {
            return buf.len() - start;
        }
        let mut idle_turns = 0;
        while buf.len() - start < TRANSMIT_BUDGET && idle_turns < self.send_ready.len() {
            let Some(id) = self.send_ready.pop_front() else {
                break;
            };
            match self.transmit_one(id, buf) {
                Progress::Sent { more } => {
                    idle_turns = 0;
                    if more {
                        self.send_ready.push_back(id);
                    } else if let Some(s) = self.streams.get_mut(&id) {
                        s.in_send_ready = false;
                    }
                    self.after_transmit(id);
                }
                Progress::ConnectionBlocked => {
                    idle_turns += 1;
                    self.send_ready.push_back(id);
                }
                Progress::StreamBlocked => {
                    if let Some(s) = self.streams.get_mut(&id) {
                        s.in_send_ready = false;
                    }
                }
            }
        }
        buf.len() - start
    }

    /// Writes the next frame of `id`'s queue.
    fn transmit_one(&mut self, id: StreamId, buf: &mut Vec<u8>) -> Progress {
        let max_frame = self.peer.max_frame_size as usize;
        let Some(stream) = self.streams.get_mut(&id) else {
            return Progress::StreamBlocked;
        };
        match stream.queue.front_mut() {
            None => Progress::StreamBlocked,
            Some(Outbound::Headers { .. }) => {
                let Some(Outbound::Headers {
                    headers,
                    end_stream,
                }) = stream.queue.pop_front()
                else {
                    unreachable!("front was HEADERS")
                };
                stream.headers_sent = true;
                let more = !stream.queue.is_empty();
                // The block is encoded in place, behind a placeholder head.
                let head_at = buf.len();
                buf.extend_from_slice(&[0; HEAD_LEN]);
                self.encoder.encode(&headers, buf);
                recycle(&mut self.spare_header_lists, headers);
                frame_header_block(id, head_at, end_stream, max_frame, buf);
                self.wrote_stream_frames = true;
                Progress::Sent { more }
            }
            Some(Outbound::Reset(code)) => {
                let code = *code;
                self.remove_stream(id, Closure::ResetByUs);
                Frame::from(frame::RstStream {
                    stream_id: id,
                    error_code: code,
                })
                .encode(buf);
                Progress::Sent { more: false }
            }
            Some(Outbound::Data { .. }) => {
                let stream_window = stream.send_window.available() as usize;
                let budget = stream_window
                    .min(self.send_window.available() as usize)
                    .min(max_frame);
                // Consecutive chunks (a message prefix and its body, small
                // messages) share one DATA frame; the head is written last.
                let head_at = buf.len();
                buf.extend_from_slice(&[0; HEAD_LEN]);
                let mut written = 0;
                let mut end = false;
                while let Some(Outbound::Data { data, end_stream }) = stream.queue.front_mut() {
                    let n = data.len().min(budget - written);
                    buf.extend_from_slice(&data[..n]);
                    data.advance(n);
                    written += n;
                    if !data.is_empty() {
                        break;
                    }
                    end = *end_stream;
                    stream.queue.pop_front();
                    if end {
                        break;
                    }
                }
                if written == 0 && !end {
                    buf.truncate(head_at);
                    return match stream.queue.front() {
                        Some(Outbound::Data { .. }) if stream_window == 0 => {
                            Progress::StreamBlocked
                        }
                        Some(Outbound::Data { .. }) => Progress::ConnectionBlocked,
                        Some(_) => Progress::Sent { more: true },
                        None => Progress::StreamBlocked,
                    };
                }
                buf[head_at..head_at + HEAD_LEN].copy_from_slice(&frame::Data::head_bytes(
                    id,
                    written as u32,
                    end,
                ));
                stream.send_window.consume(written as u32);
                self.send_window.consume(written as u32);
                stream.queued_bytes -= written;
                self.queued_total -= written;
                self.wrote_stream_frames = true;
                Progress::Sent {
                    more: !stream.queue.is_empty(),
                }
            }
        }
    }

    fn after_transmit(&mut self, id: StreamId) {
        let limit = self.config.max_send_buffer_per_stream;
        if let Some(stream) = self.streams.get_mut(&id) {
            if stream.want_writable && stream.queued_bytes <= limit / 2 {
                stream.want_writable = false;
                self.events.push_back(Event::Writable { stream: id });
            }
        }
        if !self.blocked_writers.is_empty()
            && self.queued_total <= self.config.max_send_buffer_per_connection / 2
        {
            for blocked in std::mem::take(&mut self.blocked_writers) {
                if let Some(stream) = self.streams.get_mut(&blocked) {
                    if stream.want_writable {
                        stream.want_writable = false;
                        self.events.push_back(Event::Writable { stream: blocked });
                    }
                }
            }
        }
        self.maybe_remove(id);
    }

    // ----- mutators -----

    /// An empty header list to fill for [`open_stream`](Self::open_stream) or
    /// [`send_headers`](Self::send_headers), in the storage of a list already
    /// sent or handed back when there is one, so a warm connection builds its
    /// header lists without allocating.
    pub fn header_list(&mut self) -> Vec<Header> {
        self.spare_header_lists.pop().unwrap_or_default()
    }

    /// Hands back the list of an [`Event::Headers`] once read, so its storage
    /// builds a later list (see [`header_list`](Self::header_list)). Optional:
    /// a list dropped instead is only an allocation more.
    pub fn recycle_header_list(&mut self, list: Vec<Header>) {
        recycle(&mut self.spare_header_lists, list);
    }

    /// Opens a stream with a request header block (client role).
    pub fn open_stream(
        &mut self,
        headers: Vec<Header>,
        end_stream: bool,
    ) -> Result<StreamId, UserError> {
        if self.role != Role::Client {
            return Err(UserError::NotAClient);
        }
        self.check_open()?;
        if self.goaway_received.is_some() || self.goaway_sent.is_some() {
            return Err(UserError::GoingAway);
        }
        let waiting =
            self.active_local >= self.peer.max_concurrent_streams || !self.pending_opens.is_empty();
        if waiting && self.pending_opens.len() >= self.config.max_pending_streams {
            return Err(UserError::StreamLimit(self.peer.max_concurrent_streams));
        }
        if self.next_local_id > StreamId::MAX.get() {
            return Err(UserError::StreamIdsExhausted);
        }
        semantics::check(BlockKind::Request, &headers).map_err(UserError::Malformed)?;
        self.check_header_list_size(&headers)?;
        let id = StreamId::new(self.next_local_id);
        self.next_local_id += 2;
        let state = State::Idle
            .next(id, Input::SendHeaders { end_stream })
            .map_err(|_| UserError::Closed)?;
        let mut stream = self.new_stream(state, true);
        stream.announced = true;
        stream.waiting = waiting;
        stream.is_head = headers
            .iter()
            .any(|h| &h.name[..] == b":method" && &h.value[..] == b"HEAD");
        self.streams.insert(id, stream);
        if waiting {
            // Ids are taken in order and slots granted in order, so the peer
            // still sees them increase.
            self.pending_opens.push_back(id);
        } else {
            self.active_local += 1;
        }
        self.enqueue(
            id,
            Outbound::Headers {
                headers,
                end_stream,
            },
        );
        Ok(id)
    }

    /// Sends response headers (server), or trailers (either role, with
    /// `end_stream`).
    pub fn send_headers(
        &mut self,
        stream: StreamId,
        headers: Vec<Header>,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.check_open()?;
        self.check_header_list_size(&headers)?;
        let role = self.role;
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(UserError::UnknownStream(stream))?;
        let first_response = role == Role::Server && !s.final_headers_queued;
        let kind = if first_response {
            BlockKind::Response
        } else {
            BlockKind::Trailers
        };
        let info = semantics::check(kind, &headers).map_err(UserError::Malformed)?;
        let informational = info.status.is_some_and(|s| (100..200).contains(&s));
        if kind == BlockKind::Trailers && !end_stream {
            return Err(UserError::Malformed("trailers without END_STREAM"));
        }
        if informational && end_stream {
            return Err(UserError::Malformed("1xx response with END_STREAM"));
        }
        s.final_headers_queued |= kind == BlockKind::Response && !informational;
        s.state = s
            .state
            .next(stream, Input::SendHeaders { end_stream })
            .map_err(|_| UserError::SendClosed {
                stream,
                state: s.state.name(),
            })?;
        self.enqueue(
            stream,
            Outbound::Headers {
                headers,
                end_stream,
            },
        );
        Ok(())
    }

    /// Queues body octets. Refused with [`UserError::SendBufferFull`] when the
    /// stream already holds `max_send_buffer_per_stream` unsent octets, or the
    /// connection `max_send_buffer_per_connection` (a single chunk is always taken
    /// when the buffer is empty, so one large message can still go); an
    /// [`Event::Writable`] follows once it drains.
    pub fn send_data(
        &mut self,
        stream: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.send_data_parts(stream, &[data], end_stream)
    }

    /// [`send_data`](Self::send_data) for several chunks taken or refused as one,
    /// such as a message's 5-octet prefix and its body, without joining them.
    pub fn send_data_parts(
        &mut self,
        stream: StreamId,
        parts: &[Bytes],
        end_stream: bool,
    ) -> Result<(), UserError> {
        self.check_open()?;
        let len: usize = parts.iter().map(Bytes::len).sum();
        let (stream_limit, conn_limit) = (
            self.config.max_send_buffer_per_stream,
            self.config.max_send_buffer_per_connection,
        );
        let conn_full = self.queued_total > 0 && self.queued_total + len > conn_limit;
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(UserError::UnknownStream(stream))?;
        if !s.state.can_send() {
            return Err(UserError::SendClosed {
                stream,
                state: s.state.name(),
            });
        }
        if !s.final_headers_queued {
            return Err(UserError::HeadersFirst(stream));
        }
        // An empty END_STREAM costs no buffer, so it is never refused.
        if len > 0 && s.queued_bytes > 0 && s.queued_bytes + len > stream_limit {
            s.want_writable = true;
            return Err(UserError::SendBufferFull(stream));
        }
        if len > 0 && conn_full {
            s.want_writable = true;
            if !self.blocked_writers.contains(&stream) {
                self.blocked_writers.push(stream);
            }
            return Err(UserError::SendBufferFull(stream));
        }
        s.state = s
            .state
            .next(stream, Input::SendData { end_stream })
            .map_err(|_| UserError::SendClosed {
                stream,
                state: s.state.name(),
            })?;
        s.queued_bytes += len;
        self.queued_total += len;
        let last = parts.len().saturating_sub(1);
        for (i, data) in parts.iter().enumerate() {
            let end_stream = end_stream && i == last;
            self.enqueue(
                stream,
                Outbound::Data {
                    data: data.clone(),
                    end_stream,
                },
            );
        }
        if parts.is_empty() {
            self.enqueue(
                stream,
                Outbound::Data {
                    data: Bytes::new(),
                    end_stream,
                },
            );
        }
        Ok(())
    }

    /// Resets the stream with `code` once everything queued on it has been sent:
    /// the RST_STREAM(NO_ERROR) a gRPC server sends after early trailers.
    pub fn reset_after_send(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), UserError> {
        self.check_open()?;
        if !self.streams.contains_key(&stream) {
            return Err(UserError::UnknownStream(stream));
        }
        self.enqueue(stream, Outbound::Reset(code));
        Ok(())
    }

    /// Returns `n` consumed octets of `stream`'s received data to the flow-control
    /// windows; WINDOW_UPDATEs are batched. Data of streams already gone still
    /// returns to the connection window.
    pub fn release_capacity(&mut self, stream: StreamId, n: u32) {
        if let Some(s) = self.streams.get_mut(&stream) {
            if s.state.can_recv() {
                if let Some(increment) = s.recv_window.release(n) {
                    self.queue_control(
                        frame::WindowUpdate {
                            stream_id: stream,
                            increment,
                        }
                        .into(),
                    );
                }
            }
        }
        self.release_connection(n);
    }

    fn release_connection(&mut self, n: u32) {
        if let Some(increment) = self.recv_window.release(n) {
            self.queue_control(
                frame::WindowUpdate {
                    stream_id: StreamId::ZERO,
                    increment,
                }
                .into(),
            );
        }
    }

    /// Resets a stream with RST_STREAM and drops whatever it had queued.
    pub fn reset(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), UserError> {
        self.check_open()?;
        if !self.streams.contains_key(&stream) {
            return Err(UserError::UnknownStream(stream));
        }
        let s = self.remove_stream(stream, Closure::ResetByUs);
        // A stream whose HEADERS never left is still idle to the peer, and an
        // RST_STREAM on an idle stream is a protocol error there.
        if s.headers_sent || !s.local {
            self.queue_control(
                frame::RstStream {
                    stream_id: stream,
                    error_code: code,
                }
                .into(),
            );
        }
        Ok(())
    }

    /// Sends a PING; its acknowledgement arrives as [`Event::PingAck`].
    pub fn ping(&mut self, payload: [u8; 8]) -> Result<(), UserError> {
        self.check_open()?;
        self.queue_control(
            frame::Ping {
                ack: false,
                payload,
            }
            .into(),
        );
        Ok(())
    }

    /// Closes the connection now with GOAWAY(`code`): streams the peer opened up
    /// to now may finish, no new ones are accepted.
    pub fn go_away(&mut self, code: ErrorCode, debug_data: Bytes) -> Result<(), UserError> {
        self.check_open()?;
        self.shutdown_pending = false;
        self.send_goaway(self.max_remote_id, code, debug_data);
        Ok(())
    }

    /// Graceful shutdown (RFC 9113 §6.8): a server sends GOAWAY with 2^31-1 and a
    /// PING; when the PING returns, every stream the client could have sent is in,
    /// and the final GOAWAY names the last one. Streams in flight finish; new ones
    /// are refused. A client just sends GOAWAY. On a connection already closed,
    /// nothing.
    pub fn shutdown(&mut self) -> Result<(), UserError> {
        self.check_open()?;
        // A connection already over (the peer's GOAWAY, no streams left)
        // stays over: a GOAWAY of ours would only reopen it to write that.
        if self.goaway_sent.is_some() || self.is_closed() {
            return Ok(());
        }
        match self.role {
            Role::Server => {
                self.send_goaway(StreamId::MAX, ErrorCode::NO_ERROR, Bytes::new());
                self.shutdown_pending = true;
                self.queue_control(
                    frame::Ping {
                        ack: false,
                        payload: SHUTDOWN_PING,
                    }
                    .into(),
                );
            }
            Role::Client => self.send_goaway(self.max_remote_id, ErrorCode::NO_ERROR, Bytes::new()),
        }
        Ok(())
    }

    // ----- helpers -----

    fn check_open(&self) -> Result<(), UserError> {
        if self.error.is_some() {
            return Err(UserError::Closed);
        }
        Ok(())
    }

    fn check_header_list_size(&self, headers: &[Header]) -> Result<(), UserError> {
        let size: usize = headers.iter().map(Header::size).sum();
        let limit = self.peer.max_header_list_size;
        if size > limit as usize {
            return Err(UserError::HeaderListTooLarge { size, limit });
        }
        Ok(())
    }

    fn new_stream(&mut self, state: State, local: bool) -> Stream {
        Stream {
            state,
            local,
            send_window: SendWindow::new(self.peer.initial_window_size),
            recv_window: RecvWindow::new(self.recv_initial_window, self.stream_window_target),
            queue: self.spare_queues.pop().unwrap_or_default(),
            queued_bytes: 0,
            in_send_ready: false,
            want_writable: false,
            headers_sent: false,
            waiting: false,
            final_headers_queued: local,
            announced: false,
            got_headers: false,
            is_head: false,
            content_length: None,
            received_body: 0,
        }
    }

    fn enqueue(&mut self, id: StreamId, item: Outbound) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.queue.push_back(item);
            if !stream.in_send_ready && !stream.waiting {
                stream.in_send_ready = true;
                self.send_ready.push_back(id);
            }
        }
    }

    fn queue_control(&mut self, frame: Frame) {
        frame.encode(&mut self.control);
    }

    /// Queues a frame the peer's input obliges us to send, within the flood bound.
    fn queue_owed(&mut self, frame: Frame) -> Result<(), Error> {
        self.queue_control(frame);
        self.owed_frames += 1;
        if self.owed_frames > self.config.max_pending_control_frames {
            return Err(Error::connection(
                ErrorCode::ENHANCE_YOUR_CALM,
                Reason::Flood("control"),
            ));
        }
        Ok(())
    }

    fn send_goaway(&mut self, last: StreamId, code: ErrorCode, debug_data: Bytes) {
        self.goaway_sent = Some(self.goaway_sent.map_or(last, |prev| prev.min(last)));
        self.queue_control(
            frame::GoAway {
                last_stream_id: last,
                error_code: code,
                debug_data,
            }
            .into(),
        );
    }

    /// The second step of a graceful shutdown: the final GOAWAY.
    fn finish_shutdown(&mut self) {
        self.shutdown_pending = false;
        self.shutdown_deadline = None;
        self.send_goaway(self.max_remote_id, ErrorCode::NO_ERROR, Bytes::new());
    }

    /// Grants free slots under the peer's SETTINGS_MAX_CONCURRENT_STREAMS to
    /// streams waiting for one, oldest first.
    fn open_pending(&mut self) {
        while self.active_local < self.peer.max_concurrent_streams {
            let Some(id) = self.pending_opens.pop_front() else {
                return;
            };
            let Some(stream) = self.streams.get_mut(&id) else {
                continue;
            };
            stream.waiting = false;
            self.active_local += 1;
            if !stream.queue.is_empty() && !stream.in_send_ready {
                stream.in_send_ready = true;
                self.send_ready.push_back(id);
            }
        }
    }

    /// Forgets a stream that both sides have finished with.
    fn maybe_remove(&mut self, id: StreamId) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| s.state == State::Closed && s.queue.is_empty())
        {
            self.remove_stream(id, Closure::Ended);
        }
    }

    fn remove_stream(&mut self, id: StreamId, closure: Closure) -> Stream {
        let mut stream = self.streams.remove(&id).expect("stream to remove");
        self.queued_total -= stream.queued_bytes;
        // What is still queued is dropped; the storage serves a later stream.
        let mut queue = std::mem::take(&mut stream.queue);
        if queue.capacity() > 0
            && queue.capacity() <= SPARE_QUEUE_ITEMS
            && self.spare_queues.len() < SPARE_QUEUES
        {
            queue.clear();
            self.spare_queues.push(queue);
        }
        if stream.waiting {
            self.pending_opens.retain(|p| *p != id);
        } else if stream.local {
            self.active_local -= 1;
            self.open_pending();
        } else {
            self.active_remote -= 1;
        }
        self.closed
            .insert(id, closure, self.config.max_reset_streams_remembered);
        stream
    }
}

/// Keeps `list`'s storage among the spares, emptied, unless there are enough
/// spares or it grew too large to hold on to.
fn recycle(spares: &mut Vec<Vec<Header>>, mut list: Vec<Header>) {
    if list.capacity() == 0
        || list.capacity() > SPARE_HEADER_LIST_FIELDS
        || spares.len() >= SPARE_HEADER_LISTS
    {
        return;
    }
    list.clear();
    spares.push(list);
}

enum Progress {
    Sent { more: bool },
    StreamBlocked,
    ConnectionBlocked,
}

/// Frames the header block encoded at `buf[head_at + HEAD_LEN..]`: the
/// placeholder at `head_at` becomes its HEADERS head, and a block longer than
/// the peer's frame size goes on in CONTINUATIONs.
fn frame_header_block(
    id: StreamId,
    head_at: usize,
    end_stream: bool,
    max_frame: usize,
    buf: &mut Vec<u8>,
) {
    let block_len = buf.len() - head_at - HEAD_LEN;
    let first = block_len.min(max_frame);
    // Only a block over the frame size (16 KiB at least) is moved.
    let rest = (block_len > first).then(|| buf.split_off(head_at + HEAD_LEN + first));
    let mut flags = if end_stream {
        frame::flags::END_STREAM
    } else {
        0
    };
    if rest.is_none() {
        flags |= frame::flags::END_HEADERS;
    }
    let head = Head {
        length: first as u32,
        kind: frame::Kind::Headers as u8,
        flags,
        stream_id: id,
    };
    buf[head_at..head_at + HEAD_LEN].copy_from_slice(&head.to_bytes());
    let Some(rest) = rest else {
        return;
    };
    let mut chunks = rest.chunks(max_frame.max(1)).peekable();
    while let Some(chunk) = chunks.next() {
        let head = Head {
            length: chunk.len() as u32,
            kind: frame::Kind::Continuation as u8,
            flags: if chunks.peek().is_none() {
                frame::flags::END_HEADERS
            } else {
                0
            },
            stream_id: id,
        };
        head.encode(buf);
        buf.extend_from_slice(chunk);
    }
}

fn flow_error(len: u32, window: i64) -> Error {
    Error::connection(
        ErrorCode::FLOW_CONTROL_ERROR,
        Reason::WindowExceeded { len, window },
    )
}

fn malformed(id: StreamId, what: &'static str) -> Error {
    Error::stream(id, ErrorCode::PROTOCOL_ERROR, Reason::Malformed(what))
}

fn header_list_too_large(id: StreamId, limit: u32) -> Error {
    // RFC 9113 §10.5.1 leaves the code open; hyperium/h2 resets with
    // PROTOCOL_ERROR as the request cannot be processed (grpc-go uses
    // FRAME_SIZE_ERROR; its clients read both as INTERNAL).
    Error::stream(
        id,
        ErrorCode::PROTOCOL_ERROR,
        Reason::HeaderListTooLarge(limit as usize),
    )
}

/// Receive paths only feed the table `Recv*` inputs, which never yield the
/// local-misuse marker; should one ever appear, it is our bug, reported as such.
fn local_misuse(error: Option<Error>) -> Error {
    error.unwrap_or(Error::connection(
        ErrorCode::INTERNAL_ERROR,
        Reason::Malformed("internal state error"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames `frame_header_block` writes are those of the frame types.
    #[test]
    fn header_block_framing_matches_the_frame_encoders() {
        let max = frame::DEFAULT_MAX_FRAME_SIZE as usize;
        let id = StreamId::new(3);
        for len in [0, 1, max - 1, max, max + 1, 2 * max, 2 * max + 7] {
            for end_stream in [false, true] {
                let block: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let mut expected = b"before".to_vec();
                let mut rest = Bytes::from(block.clone());
                let first = rest.split_to(rest.len().min(max));
                Frame::from(frame::Headers::new(id, first, end_stream, rest.is_empty()))
                    .encode(&mut expected);
                while !rest.is_empty() {
                    let chunk = rest.split_to(rest.len().min(max));
                    Frame::from(frame::Continuation {
                        stream_id: id,
                        header_block: chunk,
                        end_headers: rest.is_empty(),
                    })
                    .encode(&mut expected);
                }
                let mut buf = b"before".to_vec();
                let head_at = buf.len();
                buf.extend_from_slice(&[0; HEAD_LEN]);
                buf.extend_from_slice(&block);
                frame_header_block(id, head_at, end_stream, max, &mut buf);
                assert_eq!(buf, expected, "{len} octets, end_stream {end_stream}");
            }
        }
    }
}
