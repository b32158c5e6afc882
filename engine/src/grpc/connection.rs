use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::call::{IllegalTransition, Input, State};
use super::codec::{self, MessageDecoder};
use super::compression::{self, Encoding, EncodingSet};
use super::metadata::Metadata;
use super::ping_policy::{PingPolicy, Verdict};
use super::status::{Code, Status};
use super::timeout;
use super::timers::{Timer, Timers};
use super::{ByteStr, CallError, CallId, Config, Event, Request};
use crate::h2::{self, ErrorCode, Initiator, Role, StreamId};
use crate::hash::FxHashMap;
use crate::hpack::Header;

/// Opaque data of our keepalive PINGs.
const KEEPALIVE_PING: [u8; 8] = *b"keepaliv";

/// Emptied chunk queues of ended calls' message decoders kept for the next
/// calls, at most this many, each with room for at most
/// [`SPARE_CHUNK_QUEUE_ITEMS`] chunks: 16 × 8 × 32 octets, 4 KiB per connection
/// at most.
const SPARE_CHUNK_QUEUES: usize = 16;

/// The largest capacity (in chunks) of a chunk queue kept for reuse.
const SPARE_CHUNK_QUEUE_ITEMS: usize = 8;

/// What to do with a call whose state machine hit an error.
struct CallFailure {
    status: Status,
    /// Reset the stream with this code (client) or answer with trailers (server).
    reset: ErrorCode,
}

/// A gRPC connection, client or server, as a pure state machine over
/// [`h2::Connection`].
///
/// The driving loop is the HTTP/2 one: [`receive`](Self::receive) what the
/// transport read; drain [`poll_event`](Self::poll_event); drain
/// [`poll_transmit`](Self::poll_transmit) into the write buffer; arm a timer for
/// [`poll_timeout`](Self::poll_timeout) and call
/// [`handle_timeout`](Self::handle_timeout) when it fires; tell
/// [`transport_closed`](Self::transport_closed) when the socket dies; stop when
/// [`is_closed`](Self::is_closed). Re-read `poll_timeout` after every call that
/// takes `now`.
///
/// Server side of a call: [`Event::CallStarted`] → [`send_headers`](Self::send_headers)
/// (optional) → [`send_message`](Self::send_message)* → [`finish`](Self::finish).
/// Client side: [`start_call`](Self::start_call) → `send_message`* →
/// [`close_send`](Self::close_send) → events until [`Event::Finished`].
///
/// Backpressure: `send_message` refuses with [`CallError::Full`] once a call or
/// the connection holds its bound of unsent octets, and [`Event::Writable`]
/// follows when it drains. Received messages return their flow-control credit
/// only as the application takes them from `poll_event`, so a slow consumer
/// slows its peer rather than growing memory.
#[derive(Debug)]
pub struct Connection {
    h2: h2::Connection,
    config: Config,
    calls: FxHashMap<StreamId, Call>,
    events: VecDeque<Queued>,
    /// 5-octet message prefixes are cut from this buffer, one allocation for many.
    prefixes: BytesMut,
    /// Emptied chunk queues of ended calls, for the decoders of new ones.
    spare_chunk_queues: Vec<VecDeque<Bytes>>,
    timers: Timers,
    /// Server: what the client's PINGs are allowed.
    ping_policy: PingPolicy,
    /// The transport is gone or the keepalive failed: nothing more is sent.
    dead: bool,
    fixed: FixedValues,
}

/// Header values that are the same for every call, built once so a call
/// clones a reference count instead of allocating.
#[derive(Debug)]
struct FixedValues {
    scheme: Bytes,
    authority: Bytes,
    user_agent: Bytes,
    accept_encoding: Bytes,
}

/// An event and the flow-control credit to return when the application takes it.
#[derive(Debug)]
struct Queued {
    event: Event,
    release: Option<(StreamId, u32)>,
}

#[derive(Debug)]
struct Call {
    decoder: MessageDecoder,
    /// The peer's `grpc-encoding`, for its compressed messages.
    recv_encoding: Option<Encoding>,
    send_encoding: Encoding,
    peer_accepts: EncodingSet,
    deadline: Option<Instant>,
    state: State,
    /// Octets of the message in progress whose credit already went back.
    partial_released: u64,
    /// Octets of whole messages queued as events, not yet taken (or, with
    /// manual release, not yet consumed).
    held: u64,
    /// Credit of messages taken but not yet consumed (`release_on_poll` off).
    unconsumed: VecDeque<u32>,
}

impl Call {
    /// A call whose request headers passed, its decoder queuing chunks in
    /// `storage`, an ended call's.
    fn new(
        max_recv: usize,
        send_encoding: Encoding,
        deadline: Option<Instant>,
        storage: VecDeque<Bytes>,
    ) -> Self {
        Call {
            decoder: MessageDecoder::with_storage(max_recv, storage),
            recv_encoding: None,
            send_encoding,
            peer_accepts: EncodingSet::all(),
            deadline,
            state: State::Open,
            partial_released: 0,
            held: 0,
            unconsumed: VecDeque::new(),
        }
    }

    /// Every received octet stays counted against the window until the
    /// application takes its message, so a receiver that reads nothing stops
    /// its peer. The one exception, as in grpc-go: once the application holds
    /// no whole message, the octets of the incomplete one go back, or a message
    /// larger than the window could never complete (its size is bounded by
    /// `max_recv_message_size`).
    fn release_partial(&mut self, id: StreamId, h2: &mut h2::Connection) {
        if self.held > 0 {
            return;
        }
        let partial = self.decoder.buffered() as u64;
        if partial > self.partial_released {
            let release = partial - self.partial_released;
            self.partial_released = partial;
            h2.release_capacity(id, release as u32);
        }
    }
}

/// Returns (or, with manual release, records) the credit of a message leaving
/// the queue; a function of the fields it needs, so that it can run while the
/// queue is borrowed.
fn settle(
    calls: &mut FxHashMap<StreamId, Call>,
    h2: &mut h2::Connection,
    release_on_poll: bool,
    queued: &Queued,
) {
    if let Some((id, wire)) = queued.release {
        match calls.get_mut(&id) {
            // Still held until the application says it consumed it.
            Some(call) if !release_on_poll => call.unconsumed.push_back(wire),
            Some(call) => {
                call.held -= u64::from(wire);
                h2.release_capacity(id, wire);
                call.release_partial(id, h2);
            }
            None => h2.release_capacity(id, wire),
        }
    }
}

impl Connection {
    /// A server connection; the peer's preface is awaited.
    pub fn server(config: Config, now: Instant) -> Self {
        Self::new(Role::Server, config, now)
    }

    /// A client connection; our preface and SETTINGS are queued.
    pub fn client(config: Config, now: Instant) -> Self {
        Self::new(Role::Client, config, now)
    }

    fn new(role: Role, config: Config, now: Instant) -> Self {
        Connection {
            h2: h2::Connection::new(role, config.h2.clone(), now),
            calls: FxHashMap::default(),
            events: VecDeque::new(),
            prefixes: BytesMut::new(),
            spare_chunk_queues: Vec::new(),
            timers: Timers::new(role, &config, now),
            ping_policy: PingPolicy::new(
                config.min_ping_interval,
                config.keepalive_permit_without_calls,
            ),
            dead: false,
            fixed: FixedValues {
                scheme: Bytes::from(config.scheme.clone()),
                authority: Bytes::from(config.authority.clone()),
                user_agent: Bytes::from(config.user_agent.clone()),
                accept_encoding: Bytes::from(config.accept_encodings.to_header_value()),
            },
            config,
        }
    }

    // ----- getters -----

    /// Client or server.
    pub fn role(&self) -> Role {
        self.h2.role()
    }

    /// Calls not yet ended.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// The HTTP/2 connection underneath, for its settings and state.
    pub fn h2(&self) -> &h2::Connection {
        &self.h2
    }

    /// Octets `call` may still queue before `send_message` says
    /// [`CallError::Full`].
    pub fn send_capacity(&self, call: CallId) -> usize {
        self.h2.send_capacity(call.0)
    }

    /// Whether the connection is finished and the transport can be closed.
    pub fn is_closed(&self) -> bool {
        self.dead || self.h2.is_closed()
    }

    // ----- input -----

    /// Processes octets read from the transport. A connection error is returned
    /// (and every call ends); flush `poll_transmit` to send the GOAWAY, then close.
    pub fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), h2::Error> {
        if self.dead {
            return Ok(());
        }
        self.timers.read(now);
        let result = self.h2.receive(now, data);
        self.pump(now);
        result
    }

    /// The transport closed or failed: every call ends (UNAVAILABLE for a
    /// client's calls, CANCELLED for a server's).
    pub fn transport_closed(&mut self) {
        self.abort("transport closed");
    }

    fn abort(&mut self, why: &str) {
        self.dead = true;
        let mut ids: Vec<StreamId> = self.calls.keys().copied().collect();
        ids.sort_unstable();
        let code = match self.role() {
            Role::Client => Code::Unavailable,
            Role::Server => Code::Cancelled,
        };
        for id in ids {
            self.end_call(id, Status::new(code, why));
        }
    }

    /// Moves everything the HTTP/2 layer reported into gRPC events.
    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.h2.poll_event() {
            match event {
                h2::Event::Headers {
                    stream,
                    headers,
                    end_stream,
                } => {
                    match self.role() {
                        Role::Server => self.server_headers(now, stream, &headers, end_stream),
                        Role::Client => self.client_headers(stream, &headers, end_stream),
                    }
                    self.h2.recycle_header_list(headers);
                }
                h2::Event::Data {
                    stream,
                    data,
                    end_stream,
                } => self.recv_data(stream, data, end_stream),
                h2::Event::Reset {
                    stream,
                    code,
                    initiator,
                } => self.stream_reset(now, stream, code, initiator),
                h2::Event::Writable { stream } => {
                    if self.calls.contains_key(&stream) {
                        self.push(Event::Writable {
                            call: CallId(stream),
                        });
                    }
                }
                h2::Event::Ping { .. } => self.peer_pinged(now),
                h2::Event::PingAck { payload } => {
                    if payload == KEEPALIVE_PING {
                        self.timers.ping_acked();
                    }
                }
                h2::Event::GoAway { code, .. } => {
                    self.timers.going_away();
                    self.push(Event::GoAway { code });
                }
            }
        }
        self.timers.clock(now);
    }

    fn server_headers(&mut self, now: Instant, id: StreamId, headers: &[Header], end_stream: bool) {
        if self.calls.contains_key(&id) {
            // Client trailers are unusual but legal: they only end its side.
            if end_stream && self.peer_step(id, Input::HalfClose) {
                self.half_closed(id);
            }
            return;
        }
        let request = match self.parse_request(now, headers) {
            Ok(request) => request,
            Err(Rejection::Http(status)) => {
                let headers = vec![Header::new(":status", status.to_string())];
                self.reject(id, headers, end_stream);
                return;
            }
            Err(Rejection::Grpc(status)) => {
                let mut headers = self.h2.header_list();
                trailers_only_head(&mut headers);
                if status.code() == Code::Unimplemented {
                    headers.push(Header::new(
                        "grpc-accept-encoding",
                        self.fixed.accept_encoding.clone(),
                    ));
                }
                status.to_headers(&mut headers);
                self.reject(id, headers, end_stream);
                return;
            }
        };
        let send_encoding = if request.accept_encodings.contains(self.config.send_encoding) {
            self.config.send_encoding
        } else {
            Encoding::Identity
        };
        let mut call = Call::new(
            self.config.max_recv_message_size,
            send_encoding,
            request.deadline,
            self.spare_chunk_queues.pop().unwrap_or_default(),
        );
        call.recv_encoding = Some(request.encoding);
        call.peer_accepts = request.accept_encodings;
        self.timers.call_started(id, call.deadline);
        self.calls.insert(id, call);
        self.push(Event::CallStarted {
            call: CallId(id),
            request,
        });
        if end_stream && self.peer_step(id, Input::HalfClose) {
            self.half_closed(id);
        }
    }

    /// Answers a request that never becomes a call.
    fn reject(&mut self, id: StreamId, headers: Vec<Header>, end_stream: bool) {
        if self.h2.send_headers(id, headers, true).is_ok() && !end_stream {
            let _ = self.h2.reset_after_send(id, ErrorCode::NO_ERROR);
        }
    }

    fn parse_request(&self, now: Instant, headers: &[Header]) -> Result<Request, Rejection> {
        let value = |name: &str| {
            headers
                .iter()
                .find(|h| h.name == name.as_bytes())
                .map(|h| &h.value)
        };
        let field = |name: &str| value(name).map(|v| &v[..]);
        if field(":method") != Some(b"POST") {
            return Err(Rejection::Http(405));
        }
        let content_type = value("content-type").cloned().unwrap_or_default();
        if !is_grpc_content_type(&content_type) {
            return Err(Rejection::Http(415));
        }
        let path = value(":path").cloned().unwrap_or_default();
        if !std::str::from_utf8(&path).is_ok_and(valid_path) {
            return Err(Rejection::Grpc(Status::new(
                Code::Unimplemented,
                "malformed method name",
            )));
        }
        if field("te") != Some(b"trailers") {
            return Err(Rejection::Grpc(Status::new(
                Code::Internal,
                "the request lacks \"te: trailers\"",
            )));
        }
        let timeout = match field("grpc-timeout") {
            None => None,
            Some(value) => Some(timeout::parse(value).map_err(|e| {
                Rejection::Grpc(Status::new(
                    Code::Internal,
                    format!("malformed grpc-timeout: {e}"),
                ))
            })?),
        };
        let encoding = match field("grpc-encoding") {
            None => Encoding::Identity,
            Some(name) => Encoding::from_name(name)
                .filter(|e| self.config.accept_encodings.contains(*e))
                .ok_or_else(|| {
                    Rejection::Grpc(Status::new(
                        Code::Unimplemented,
                        format!(
                            "grpc-encoding \"{}\" is not supported; accepted: {}",
                            String::from_utf8_lossy(name),
                            self.config.accept_encodings.to_header_value()
                        ),
                    ))
                })?,
        };
        let accept_encodings = field("grpc-accept-encoding")
            .map(EncodingSet::parse)
            .unwrap_or_default();
        let metadata = Metadata::from_headers(headers)
            .map_err(|e| Rejection::Grpc(Status::new(Code::Internal, e.to_string())))?;
        Ok(Request {
            path: ByteStr::from_checked(path),
            authority: value(":authority").map(ByteStr::from_utf8_lossy),
            content_type: ByteStr::from_utf8_lossy(&content_type),
            metadata,
            timeout,
            deadline: timeout.map(|t| {
                now.checked_add(t)
                    .unwrap_or(now + Duration::from_secs(1 << 40))
            }),
            encoding,
            accept_encodings,
            peer_settings: self.h2.peer_settings(),
        })
    }

    fn client_headers(&mut self, id: StreamId, headers: &[Header], end_stream: bool) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let http_status = headers
            .iter()
            .find(|h| h.name == ":status")
            .and_then(|h| std::str::from_utf8(&h.value).ok()?.parse::<u16>().ok());
        if !call.state.response_started() {
            if http_status.is_some_and(|s| (100..200).contains(&s)) {
                return;
            }
            // With END_STREAM these are a Trailers-Only response, which the
            // table takes as trailers alone.
            if !end_stream {
                match call.state.next(Input::ResponseHeaders) {
                    Ok(next) => call.state = next,
                    Err(e) => return self.peer_broke(id, e),
                }
            }
            if http_status != Some(200) {
                let code = Code::from_http_status(http_status.unwrap_or(0));
                let status = Status::new(
                    code,
                    format!("unexpected HTTP status {}", http_status.unwrap_or(0)),
                );
                return self.fail_call(
                    id,
                    CallFailure {
                        status,
                        reset: ErrorCode::CANCEL,
                    },
                );
            }
            let content_type = headers
                .iter()
                .find(|h| h.name == "content-type")
                .map(|h| &h.value[..])
                .unwrap_or_default();
            if !is_grpc_content_type(content_type) {
                let status = Status::new(
                    Code::Unknown,
                    format!(
                        "invalid content-type {:?}",
                        String::from_utf8_lossy(content_type)
                    ),
                );
                return self.fail_call(
                    id,
                    CallFailure {
                        status,
                        reset: ErrorCode::CANCEL,
                    },
                );
            }
            if let Some(name) = headers.iter().find(|h| h.name == "grpc-encoding") {
                call.recv_encoding = Encoding::from_name(&name.value);
                if call.recv_encoding.is_none() {
                    let status = Status::new(
                        Code::Internal,
                        format!(
                            "unsupported grpc-encoding {:?}",
                            String::from_utf8_lossy(&name.value)
                        ),
                    );
                    return self.fail_call(
                        id,
                        CallFailure {
                            status,
                            reset: ErrorCode::CANCEL,
                        },
                    );
                }
            }
            if !end_stream {
                match Metadata::from_headers(headers) {
                    Ok(metadata) => self.push(Event::Headers {
                        call: CallId(id),
                        metadata,
                    }),
                    Err(e) => {
                        let status = Status::new(Code::Internal, e.to_string());
                        self.fail_call(
                            id,
                            CallFailure {
                                status,
                                reset: ErrorCode::CANCEL,
                            },
                        );
                    }
                }
                return;
            }
        }
        if !end_stream {
            return;
        }
        // Trailers, or a Trailers-Only response.
        if let Some(call) = self.calls.get_mut(&id) {
            if let Err(e) = call.decoder.finish() {
                let status = Status::new(Code::Internal, e.to_string());
                return self.fail_call(
                    id,
                    CallFailure {
                        status,
                        reset: ErrorCode::CANCEL,
                    },
                );
            }
        }
        let status = Status::from_headers(headers)
            .unwrap_or_else(|| Status::new(Code::Unknown, "the server sent no grpc-status"));
        let trailers = Metadata::from_headers(headers).unwrap_or_default();
        self.finish_client_call(id, Input::Trailers, status, trailers);
    }

    /// A client call's response ended (`end`: by trailers, or by a reset when
    /// they never came): if we are still sending, stop the stream.
    fn finish_client_call(&mut self, id: StreamId, end: Input, status: Status, trailers: Metadata) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if let Err(e) = call.state.next(end) {
            return self.peer_broke(id, e);
        }
        let Some(call) = self.remove_call(id) else {
            return;
        };
        if !call.state.half_closed() {
            let _ = self.h2.reset(id, ErrorCode::NO_ERROR);
        }
        self.push(Event::Finished {
            call: CallId(id),
            status,
            trailers,
        });
    }

    fn recv_data(&mut self, id: StreamId, data: Bytes, end_stream: bool) {
        let len = data.len() as u32;
        let Some(call) = self.calls.get_mut(&id) else {
            // The call is over; its late data still owes the connection credit.
            self.h2.release_capacity(id, len);
            return;
        };
        if !data.is_empty() {
            let input = match self.h2.role() {
                Role::Server => Input::RequestMessage,
                Role::Client => Input::ResponseMessage,
            };
            if let Err(e) = call.state.next(input) {
                self.h2.release_capacity(id, len);
                return self.peer_broke(id, e);
            }
        }
        call.decoder.push(data);
        let mut failure = None;
        loop {
            match call.decoder.next_message() {
                Ok(Some(raw)) => {
                    // Credit of a part that arrived while the message was
                    // incomplete may have gone back already; the rest waits for
                    // the application to take the message.
                    let wire = raw.wire_len() as u64;
                    let early = wire.min(call.partial_released);
                    call.partial_released -= early;
                    let hold = wire - early;
                    let compressed = raw.compressed;
                    match decode_body(call, raw, self.config.max_recv_message_size) {
                        Ok(message) => {
                            call.held += hold;
                            self.events.push_back(Queued {
                                event: Event::Message {
                                    call: CallId(id),
                                    message,
                                    compressed,
                                },
                                release: Some((id, hold as u32)),
                            });
                        }
                        Err(status) => {
                            failure = Some(status);
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(codec_status(&e));
                    break;
                }
            }
        }
        // Octets of a message still incomplete go back at once: the message size
        // limit bounds them, and holding them could deadlock a message larger
        // than the window.
        self.release_partial(id);
        if let Some(status) = failure {
            return self.fail_call(
                id,
                CallFailure {
                    status,
                    reset: ErrorCode::CANCEL,
                },
            );
        }
        if end_stream {
            if self.role() == Role::Server && !self.peer_step(id, Input::HalfClose) {
                return;
            }
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            if let Err(e) = call.decoder.finish() {
                let status = Status::new(Code::Internal, e.to_string());
                return self.fail_call(
                    id,
                    CallFailure {
                        status,
                        reset: ErrorCode::CANCEL,
                    },
                );
            }
            match self.role() {
                Role::Server => self.half_closed(id),
                // DATA with END_STREAM: the server never sent trailers.
                Role::Client => {
                    let status = Status::new(
                        Code::Internal,
                        "the server closed the stream without sending trailers",
                    );
                    self.finish_client_call(id, Input::Reset, status, Metadata::new());
                }
            }
        }
    }

    fn half_closed(&mut self, id: StreamId) {
        self.push(Event::HalfClosed { call: CallId(id) });
    }

    /// Moves the call on `id` by the peer's `input`. A pair the table
    /// refuses breaks the call (the HTTP/2 layer lets none through today);
    /// returns whether the call goes on.
    fn peer_step(&mut self, id: StreamId, input: Input) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        match call.state.next(input) {
            Ok(next) => {
                call.state = next;
                true
            }
            Err(e) => {
                self.peer_broke(id, e);
                false
            }
        }
    }

    /// The peer moved a call in a way its state forbids: INTERNAL, as for
    /// the other rules a peer breaks within a call.
    fn peer_broke(&mut self, id: StreamId, error: IllegalTransition) {
        let who = match error.input.sender() {
            Some(Role::Client) => "the client",
            Some(Role::Server) => "the server",
            None => "the peer",
        };
        let status = Status::new(Code::Internal, format!("{who} sent {error}"));
        self.fail_call(
            id,
            CallFailure {
                status,
                reset: ErrorCode::CANCEL,
            },
        );
    }

    fn stream_reset(&mut self, now: Instant, id: StreamId, code: ErrorCode, initiator: Initiator) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let status = if self.h2.error().is_some() {
            // The whole connection failed.
            match self.role() {
                Role::Client => Status::new(Code::Unavailable, "the connection failed"),
                Role::Server => Status::new(Code::Cancelled, "the connection failed"),
            }
        } else if code == ErrorCode::CANCEL && call.deadline.is_some_and(|d| now >= d) {
            Status::new(Code::DeadlineExceeded, "deadline exceeded")
        } else {
            let who = match initiator {
                Initiator::Local => "we",
                Initiator::Remote => "the peer",
            };
            match self.role() {
                Role::Server if initiator == Initiator::Remote => Status::new(
                    Code::Cancelled,
                    format!("the client reset the stream with {code}"),
                ),
                _ => Status::new(
                    Code::from_reset(code),
                    format!("{who} reset the stream with {code}"),
                ),
            }
        };
        self.end_call(id, status);
    }

    /// Ends a call with a terminal event and forgets it.
    fn end_call(&mut self, id: StreamId, status: Status) {
        if self.remove_call(id).is_none() {
            return;
        }
        let call = CallId(id);
        self.push(match self.role() {
            Role::Client => Event::Finished {
                call,
                status,
                trailers: Metadata::new(),
            },
            Role::Server => Event::Cancelled { call, status },
        });
    }

    /// A call broke a rule or a limit: the server answers with the status, the
    /// client resets the stream; the application gets the terminal event.
    fn fail_call(&mut self, id: StreamId, failure: CallFailure) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        match self.role() {
            Role::Server => {
                let (headers_done, recv_closed) =
                    (call.state.response_started(), call.state.half_closed());
                let mut headers = self.h2.header_list();
                if !headers_done {
                    trailers_only_head(&mut headers);
                }
                failure.status.to_headers(&mut headers);
                if self.h2.send_headers(id, headers, true).is_err() {
                    let _ = self.h2.reset(id, ErrorCode::INTERNAL_ERROR);
                } else if !recv_closed {
                    let _ = self.h2.reset_after_send(id, ErrorCode::NO_ERROR);
                }
            }
            Role::Client => {
                let _ = self.h2.reset(id, failure.reset);
            }
        }
        self.end_call(id, failure.status);
    }

    fn peer_pinged(&mut self, now: Instant) {
        // After a GOAWAY for too many pings, the rest of the same read changes
        // nothing: one GOAWAY, as grpc-go writes before it closes.
        if self.role() != Role::Server || self.dead {
            return;
        }
        let calls_active = !self.calls.is_empty();
        if self.ping_policy.ping_received(now, calls_active) == Verdict::TooManyPings {
            let _ = self.h2.go_away(
                ErrorCode::ENHANCE_YOUR_CALM,
                Bytes::from_static(b"too_many_pings"),
            );
            self.abort("the client sent too many pings");
        }
    }

    // ----- timers -----

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead {
            return None;
        }
        match (self.h2.poll_timeout(), self.timers.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on every timer due at `now`: call deadlines, keepalive, connection
    /// idle and age limits, and the HTTP/2 layer's own.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead {
            return;
        }
        self.h2.handle_timeout(now);
        self.pump(now);
        for id in self.timers.expired_calls(now) {
            let status = Status::new(Code::DeadlineExceeded, "deadline exceeded");
            match self.role() {
                // The server answers with the status (trailers, then
                // RST_STREAM NO_ERROR): a client whose own timer is late
                // would read a bare reset as CANCELLED. grpc-go's server
                // sends only RST_STREAM(CANCEL); its clients read both the
                // same, as DEADLINE_EXCEEDED once their deadline passed.
                Role::Server => self.fail_call(
                    id,
                    CallFailure {
                        status,
                        reset: ErrorCode::CANCEL,
                    },
                ),
                Role::Client => {
                    let _ = self.h2.reset(id, ErrorCode::CANCEL);
                    self.end_call(id, status);
                }
            }
        }
        // An idle period the expired calls began starts now, not before.
        self.timers.clock(now);
        if self.timers.due(Timer::KeepaliveAck, now) {
            self.abort("keepalive ping unanswered");
            return;
        }
        if self.timers.due(Timer::KeepalivePing, now) && self.h2.ping(KEEPALIVE_PING).is_ok() {
            self.timers.ping_sent(now);
        }
        let idle = self.timers.due(Timer::Idle, now);
        let aged = self.timers.due(Timer::Age, now);
        if idle || aged {
            self.shutdown();
            if let Some(grace) = self.config.max_connection_age_grace.filter(|_| aged) {
                self.timers
                    .cut_at(now + grace, "max connection age reached");
            }
        }
        if let Some(why) = self.timers.take_cut(now) {
            let _ = self
                .h2
                .go_away(ErrorCode::NO_ERROR, Bytes::from_static(why.as_bytes()));
            self.abort(why);
        }
    }

    // ----- output -----

    /// The next event. Taking a [`Event::Message`] returns its flow-control
    /// credit, unless `release_on_poll` is off: then
    /// [`message_consumed`](Self::message_consumed) does.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let queued = self.events.pop_front()?;
        self.settle(&queued);
        Some(queued.event)
    }

    /// Returns (or, with manual release, records) the credit of a message
    /// leaving the queue.
    fn settle(&mut self, queued: &Queued) {
        settle(
            &mut self.calls,
            &mut self.h2,
            self.config.release_on_poll,
            queued,
        );
    }

    /// The application ended a call itself: events still queued for it are
    /// dropped (their credit returned, in queue order), so nothing follows the
    /// end it chose. In place: the queue keeps its storage.
    fn purge_events(&mut self, id: StreamId) {
        let Connection {
            events,
            calls,
            h2,
            config,
            ..
        } = self;
        events.retain(|queued| {
            if event_call(&queued.event) != Some(CallId(id)) {
                return true;
            }
            settle(calls, h2, config.release_on_poll, queued);
            false
        });
    }

    /// With `release_on_poll` off: the oldest message of `call` handed out by
    /// `poll_event` has been consumed, so its flow-control credit goes back to
    /// the peer. Adapters that queue messages for a handler call this when the
    /// handler takes one, so a slow handler slows its peer.
    pub fn message_consumed(&mut self, call: CallId) {
        if let Some(c) = self.calls.get_mut(&call.0) {
            if let Some(wire) = c.unconsumed.pop_front() {
                c.held -= u64::from(wire);
                self.h2.release_capacity(call.0, wire);
                self.release_partial(call.0);
            }
        }
    }

    /// [`Call::release_partial`] for the call on `id`, if it still runs.
    fn release_partial(&mut self, id: StreamId) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.release_partial(id, &mut self.h2);
        }
    }

    /// Forgets a call, returning the credit of messages nobody will consume.
    /// The call comes back in the state it ended in.
    fn remove_call(&mut self, id: StreamId) -> Option<Call> {
        let mut call = self.calls.remove(&id)?;
        self.timers
            .call_ended(id, call.deadline, self.calls.is_empty());
        let unconsumed: u32 = call.unconsumed.iter().sum();
        if unconsumed > 0 {
            self.h2.release_capacity(id, unconsumed);
        }
        let storage = call.decoder.take_storage();
        if storage.capacity() > 0
            && storage.capacity() <= SPARE_CHUNK_QUEUE_ITEMS
            && self.spare_chunk_queues.len() < SPARE_CHUNK_QUEUES
        {
            self.spare_chunk_queues.push(storage);
        }
        Some(call)
    }

    /// Appends bytes to write to `buf`; call until it returns 0.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        // Even after an abort, what the HTTP/2 layer queued (a GOAWAY saying
        // why) still goes out if the transport can take it.
        let n = self.h2.poll_transmit(buf);
        if self.h2.take_wrote_stream_frames() {
            self.ping_policy.wrote_headers_or_data();
        }
        // Writable events surface from transmission.
        if n > 0 {
            self.pump_writable();
        }
        n
    }

    /// Transmission only ever produces `Writable` events in the HTTP/2 layer.
    fn pump_writable(&mut self) {
        while let Some(event) = self.h2.poll_event() {
            match event {
                h2::Event::Writable { stream } if self.calls.contains_key(&stream) => {
                    self.push(Event::Writable {
                        call: CallId(stream),
                    });
                }
                h2::Event::Writable { .. } => {}
                other => debug_assert!(false, "unexpected event from transmission: {other:?}"),
            }
        }
    }

    fn push(&mut self, event: Event) {
        self.events.push_back(Queued {
            event,
            release: None,
        });
    }

    // ----- calls -----

    /// Client: starts a call. The request headers are queued; send messages and
    /// then [`close_send`](Self::close_send).
    pub fn start_call(&mut self, now: Instant, options: CallOptions) -> Result<CallId, CallError> {
        if self.role() != Role::Client {
            return Err(CallError::WrongRole);
        }
        if self.dead {
            return Err(CallError::Closed);
        }
        if !valid_path(&options.path) {
            return Err(CallError::InvalidPath(options.path.into()));
        }
        let mut headers = self.h2.header_list();
        headers.extend([
            Header::new(":method", "POST"),
            Header::new(":scheme", self.fixed.scheme.clone()),
            Header::new(":path", options.path),
            Header::new(
                ":authority",
                options
                    .authority
                    .map_or_else(|| self.fixed.authority.clone(), Bytes::from),
            ),
            Header::new("te", "trailers"),
            Header::new("content-type", "application/grpc"),
            Header::new("user-agent", self.fixed.user_agent.clone()),
        ]);
        let after = |t: Duration| now.checked_add(t).unwrap_or_else(|| far_future(now));
        let deadline = match (options.deadline, options.timeout) {
            (Some(d), Some(t)) => Some(d.min(after(t))),
            (d, t) => d.or_else(|| t.map(after)),
        };
        if let Some(deadline) = deadline {
            let remaining = deadline.saturating_duration_since(now);
            headers.push(Header::new("grpc-timeout", timeout::format(remaining)));
        }
        let encoding = options.encoding.unwrap_or(self.config.send_encoding);
        if encoding != Encoding::Identity {
            headers.push(Header::new("grpc-encoding", encoding.name()));
        }
        headers.push(Header::new(
            "grpc-accept-encoding",
            self.fixed.accept_encoding.clone(),
        ));
        options.metadata.to_headers(&mut headers);
        let id = self.h2.open_stream(headers, false)?;
        let call = Call::new(
            self.config.max_recv_message_size,
            encoding,
            deadline,
            self.spare_chunk_queues.pop().unwrap_or_default(),
        );
        self.timers.call_started(id, call.deadline);
        self.calls.insert(id, call);
        Ok(CallId(id))
    }

    /// Server: sends the response headers with initial metadata. Optional: the
    /// first message or `finish` sends them when needed.
    pub fn send_headers(&mut self, call: CallId, metadata: &Metadata) -> Result<(), CallError> {
        if self.role() != Role::Server {
            return Err(CallError::WrongRole);
        }
        let accept = self.fixed.accept_encoding.clone();
        let c = self.call_mut(call)?;
        c.state = c.state.next(Input::ResponseHeaders).map_err(misuse(call))?;
        let send_encoding = c.send_encoding;
        let mut headers = self.h2.header_list();
        headers.extend([
            Header::new(":status", "200"),
            Header::new("content-type", "application/grpc"),
        ]);
        if send_encoding != Encoding::Identity {
            headers.push(Header::new("grpc-encoding", send_encoding.name()));
        }
        headers.push(Header::new("grpc-accept-encoding", accept));
        metadata.to_headers(&mut headers);
        self.h2.send_headers(call.0, headers, false)?;
        Ok(())
    }

    /// Chooses how this call's messages are compressed from now on (server:
    /// before the response headers go out). The peer must accept the encoding.
    pub fn set_send_encoding(&mut self, call: CallId, encoding: Encoding) -> Result<(), CallError> {
        let role = self.role();
        let c = self.call_mut(call)?;
        if !c.peer_accepts.contains(encoding) {
            return Err(CallError::EncodingNotAccepted(encoding));
        }
        if role == Role::Server && c.state.response_started() {
            return Err(CallError::HeadersAlreadySent(call));
        }
        if role == Role::Client && encoding != c.send_encoding {
            // The request headers already named the call's encoding.
            return Err(CallError::HeadersAlreadySent(call));
        }
        c.send_encoding = encoding;
        Ok(())
    }

    /// Sends one message, compressed with the call's encoding if it has one.
    pub fn send_message(&mut self, call: CallId, message: Bytes) -> Result<(), CallError> {
        self.send_message_with(call, message, true)
    }

    /// Sends one message; `compress: false` sends it uncompressed even in a
    /// compressed call (per-message choice).
    pub fn send_message_with(
        &mut self,
        call: CallId,
        message: Bytes,
        compress: bool,
    ) -> Result<(), CallError> {
        self.send_or_keep(call, message, compress)
            .map_err(|(error, _)| error)
    }

    /// [`send_message_with`](Self::send_message_with), giving the message
    /// back with [`CallError::Full`]: a caller that parks it until
    /// [`Event::Writable`] need not keep a copy of every message it sends.
    pub(crate) fn send_or_keep(
        &mut self,
        call: CallId,
        message: Bytes,
        compress: bool,
    ) -> Result<(), (CallError, Option<Bytes>)> {
        let refused = |error: CallError| (error, None);
        let max = self.config.max_send_message_size;
        let role = self.role();
        let c = self.call_mut(call).map_err(refused)?;
        // A server's first message brings the response headers along.
        let implicit_headers = role == Role::Server && !c.state.response_started();
        let input = match role {
            Role::Client => Input::RequestMessage,
            Role::Server => Input::ResponseMessage,
        };
        let before = if implicit_headers {
            c.state.next(Input::ResponseHeaders)
        } else {
            Ok(c.state)
        };
        before
            .and_then(|state| state.next(input))
            .map_err(|e| refused(misuse(call)(e)))?;
        // Refused before anything goes out, so Trailers-Only stays possible.
        if message.len() > max {
            return Err(refused(CallError::MessageTooLarge {
                len: message.len(),
                max,
            }));
        }
        let encoding = c.send_encoding;
        if implicit_headers {
            self.send_headers(call, &Metadata::new()).map_err(refused)?;
        }
        // The message as given stays at hand until the engine took it.
        let (compressed, body, original) = if compress && encoding != Encoding::Identity {
            let mut out = Vec::new();
            compression::compress(encoding, &message, &mut out)
                .map_err(|e| refused(CallError::Compression(e.to_string())))?;
            (true, Bytes::from(out), Some(message))
        } else {
            (false, message, None)
        };
        let prefix = codec::encode_prefix(compressed, body.len()).map_err(|_| {
            refused(CallError::MessageTooLarge {
                len: body.len(),
                max: u32::MAX as usize,
            })
        })?;
        if self.prefixes.capacity() < codec::PREFIX_LEN {
            self.prefixes.reserve(4096);
        }
        self.prefixes.extend_from_slice(&prefix);
        let prefix = self.prefixes.split().freeze();
        let parts = [prefix, body];
        match self.h2.send_data_parts(call.0, &parts, false) {
            Ok(()) => {}
            Err(h2::UserError::SendBufferFull(_)) => {
                let [_, body] = parts;
                return Err((CallError::Full(call), Some(original.unwrap_or(body))));
            }
            Err(e) => return Err(refused(e.into())),
        }
        Ok(())
    }

    /// Client: half-closes, telling the server no more messages follow.
    pub fn close_send(&mut self, call: CallId) -> Result<(), CallError> {
        if self.role() != Role::Client {
            return Err(CallError::WrongRole);
        }
        let c = self.call_mut(call)?;
        if c.state.half_closed() {
            return Ok(());
        }
        let next = c.state.next(Input::HalfClose).map_err(misuse(call))?;
        self.h2.send_data(call.0, Bytes::new(), true)?;
        if let Some(c) = self.calls.get_mut(&call.0) {
            c.state = next;
        }
        Ok(())
    }

    /// Server: ends the call with a status and trailing metadata. Before any
    /// message this is a Trailers-Only response. If the client is still sending,
    /// RST_STREAM(NO_ERROR) follows the trailers.
    pub fn finish(
        &mut self,
        call: CallId,
        status: &Status,
        trailers: &Metadata,
    ) -> Result<(), CallError> {
        if self.role() != Role::Server {
            return Err(CallError::WrongRole);
        }
        let c = self.call_mut(call)?;
        c.state.next(Input::Trailers).map_err(misuse(call))?;
        let (headers_done, recv_closed) = (c.state.response_started(), c.state.half_closed());
        let mut headers = self.h2.header_list();
        if !headers_done {
            trailers_only_head(&mut headers);
        }
        status.to_headers(&mut headers);
        trailers.to_headers(&mut headers);
        self.h2.send_headers(call.0, headers, true)?;
        if !recv_closed {
            self.h2.reset_after_send(call.0, ErrorCode::NO_ERROR)?;
        }
        self.purge_events(call.0);
        self.remove_call(call.0);
        Ok(())
    }

    /// Cancels a call: RST_STREAM(CANCEL). A client gets
    /// [`Event::Finished`] with CANCELLED; a server's call just ends.
    pub fn cancel(&mut self, call: CallId) -> Result<(), CallError> {
        let c = self.call_mut(call)?;
        c.state.next(Input::Reset).map_err(misuse(call))?;
        let _ = self.h2.reset(call.0, ErrorCode::CANCEL);
        self.purge_events(call.0);
        match self.role() {
            Role::Client => self.end_call(
                call.0,
                Status::new(Code::Cancelled, "cancelled by the client"),
            ),
            Role::Server => {
                self.remove_call(call.0);
            }
        }
        Ok(())
    }

    /// Graceful shutdown: no new calls, running ones finish. A server sends
    /// GOAWAY(2^31-1), a PING, and the final GOAWAY when the PING returns.
    pub fn shutdown(&mut self) {
        self.timers.going_away();
        let _ = self.h2.shutdown();
    }

    /// [`shutdown`](Self::shutdown), bounded: calls still running at
    /// `deadline` end (UNAVAILABLE for a client's, CANCELLED for a server's),
    /// a final GOAWAY goes out and the connection closes.
    pub fn shutdown_by(&mut self, deadline: Instant) {
        self.shutdown();
        self.timers.cut_at(deadline, "shutdown deadline passed");
    }

    fn call_mut(&mut self, call: CallId) -> Result<&mut Call, CallError> {
        self.calls
            .get_mut(&call.0)
            .ok_or(CallError::UnknownCall(call))
    }
}

/// How a client call is started.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// `/package.Service/Method`. A static one ([`ByteStr::from_static`]) goes
    /// out without being copied.
    pub path: ByteStr,
    /// Overrides the connection's `:authority`.
    pub authority: Option<String>,
    /// Request metadata.
    pub metadata: Metadata,
    /// Relative deadline, sent as `grpc-timeout`.
    pub timeout: Option<Duration>,
    /// Absolute deadline (the earlier of the two wins).
    pub deadline: Option<Instant>,
    /// Compression of this call's messages; the connection default otherwise.
    pub encoding: Option<Encoding>,
}

impl CallOptions {
    /// Options for a call to `path` with nothing else set. A `&str` is
    /// copied; a `String` or a [`ByteStr`] is not.
    pub fn new(path: impl Into<ByteStr>) -> Self {
        CallOptions {
            path: path.into(),
            ..CallOptions::default()
        }
    }
}

enum Rejection {
    /// Not gRPC at all: an HTTP status, no gRPC status (PROTOCOL-HTTP2.md).
    Http(u16),
    Grpc(Status),
}

/// A deadline too far to matter, for timeouts an `Instant` cannot hold.
fn far_future(now: Instant) -> Instant {
    // 99,999,999 hours, the largest grpc-timeout, fits every platform's Instant.
    now.checked_add(Duration::from_secs(99_999_999 * 3600))
        .unwrap_or(now)
}

/// Appends the fields a Trailers-Only response starts with.
fn trailers_only_head(headers: &mut Vec<Header>) {
    headers.extend([
        Header::new(":status", "200"),
        Header::new("content-type", "application/grpc"),
    ]);
}

fn is_grpc_content_type(value: &[u8]) -> bool {
    value == b"application/grpc"
        || value.starts_with(b"application/grpc+")
        || value.starts_with(b"application/grpc;")
}

/// `/Service/Method`, both parts non-empty.
fn valid_path(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .is_some_and(|(service, method)| {
            !service.is_empty() && !method.is_empty() && !method.contains('/')
        })
}

fn decode_body(call: &Call, raw: codec::RawMessage, max: usize) -> Result<Bytes, Status> {
    if !raw.compressed {
        return Ok(raw.data);
    }
    match call.recv_encoding {
        None | Some(Encoding::Identity) => Err(Status::new(
            Code::Internal,
            "a compressed message arrived without grpc-encoding",
        )),
        Some(encoding) => compression::decompress(encoding, &raw.data, max)
            .map(Bytes::from)
            .map_err(|e| match e {
                compression::CompressionError::TooLarge { .. } => Status::new(
                    Code::ResourceExhausted,
                    format!("a decompressed message exceeds the limit of {max} octets"),
                ),
                other => Status::new(Code::Internal, format!("decompression failed: {other}")),
            }),
    }
}

/// The call an event belongs to.
fn event_call(event: &Event) -> Option<CallId> {
    match event {
        Event::CallStarted { call, .. }
        | Event::Headers { call, .. }
        | Event::Message { call, .. }
        | Event::HalfClosed { call }
        | Event::Finished { call, .. }
        | Event::Cancelled { call, .. }
        | Event::Writable { call } => Some(*call),
        Event::GoAway { .. } => None,
    }
}

/// Our own move a call's state forbids, as the API error that says so.
fn misuse(call: CallId) -> impl Fn(IllegalTransition) -> CallError {
    move |error| match error.input {
        Input::ResponseHeaders => CallError::HeadersAlreadySent(call),
        Input::RequestMessage | Input::HalfClose => CallError::SendClosed(call),
        // Every other move is legal while the call runs.
        _ => CallError::UnknownCall(call),
    }
}

fn codec_status(error: &codec::CodecError) -> Status {
    match error {
        codec::CodecError::MessageTooLarge { .. } => {
            Status::new(Code::ResourceExhausted, error.to_string())
        }
        _ => Status::new(Code::Internal, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::GrpcPair;

    /// A message refused for a full buffer comes back as it was given, so
    /// the switchboard parks it without a copy; compressed or not.
    #[test]
    fn a_message_refused_for_room_is_given_back_whole() {
        let mut config = Config::client();
        config.h2.max_send_buffer_per_stream = 1 << 10;
        let mut pair = GrpcPair::with_configs(config, Config::server());
        let options = CallOptions {
            encoding: Some(Encoding::Gzip),
            ..CallOptions::new("/pkg.Svc/Upload")
        };
        let now = pair.now();
        let call = pair.client().start_call(now, options).unwrap();
        let first = Bytes::from(vec![1u8; 2 << 10]);
        pair.client().send_or_keep(call, first, false).unwrap();
        for compress in [false, true] {
            let message = Bytes::from(vec![2u8; 4 << 10]);
            let Err((CallError::Full(_), Some(back))) =
                pair.client().send_or_keep(call, message.clone(), compress)
            else {
                panic!("refused for room");
            };
            assert_eq!(back, message);
        }
    }

    #[test]
    fn unary_call_round_trip() {
        let mut pair = GrpcPair::new();
        let mut md = Metadata::new();
        md.insert("x-hello", "world").unwrap();
        let now = pair.now();
        let call = pair
            .client()
            .start_call(
                now,
                CallOptions {
                    metadata: md,
                    timeout: Some(Duration::from_secs(5)),
                    ..CallOptions::new("/pkg.Svc/Method")
                },
            )
            .unwrap();
        pair.client()
            .send_message(call, Bytes::from_static(b"ping"))
            .unwrap();
        pair.client().close_send(call).unwrap();
        pair.drive();
        let events = pair.server_events();
        let Event::CallStarted {
            call: scall,
            request,
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert_eq!(request.service(), "pkg.Svc");
        assert_eq!(request.method(), "Method");
        assert_eq!(request.metadata.get("x-hello"), Some("world"));
        assert_eq!(request.timeout, Some(Duration::from_secs(5)));
        assert!(
            matches!(&events[1], Event::Message { message, .. } if message == &Bytes::from_static(b"ping"))
        );
        assert!(matches!(&events[2], Event::HalfClosed { .. }));
        let scall = *scall;
        pair.server()
            .send_message(scall, Bytes::from_static(b"pong"))
            .unwrap();
        let mut trailers = Metadata::new();
        trailers.insert_bin("x-t-bin", vec![0xab, 0xab]).unwrap();
        pair.server()
            .finish(scall, &Status::new(Code::Ok, ""), &trailers)
            .unwrap();
        pair.drive();
        let events = pair.client_events();
        assert!(matches!(&events[0], Event::Headers { .. }), "{events:?}");
        assert!(
            matches!(&events[1], Event::Message { message, .. } if message == &Bytes::from_static(b"pong"))
        );
        let Event::Finished {
            status, trailers, ..
        } = &events[2]
        else {
            panic!("{events:?}")
        };
        assert_eq!(status.code(), Code::Ok);
        assert_eq!(&trailers.get_bin("x-t-bin").unwrap()[..], &[0xab, 0xab]);
        assert_eq!(pair.client().active_calls(), 0);
        assert_eq!(pair.server().active_calls(), 0);
        assert_eq!(pair.server().h2().active_streams(), 0);
        assert_eq!(pair.client().h2().active_streams(), 0);
    }

    #[test]
    fn trailers_only_error_and_unknown_path() {
        let mut pair = GrpcPair::new();
        let now = pair.now();
        let call = pair
            .client()
            .start_call(now, CallOptions::new("/pkg.Svc/Fails"))
            .unwrap();
        pair.drive();
        let Event::CallStarted { call: scall, .. } = pair.server_events()[0].clone() else {
            panic!()
        };
        pair.server()
            .finish(
                scall,
                &Status::new(Code::NotFound, "no such thing: \u{1F600} 100%"),
                &Metadata::new(),
            )
            .unwrap();
        pair.drive();
        let events = pair.client_events();
        let Event::Finished {
            call: c, status, ..
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert_eq!(*c, call);
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no such thing: \u{1F600} 100%");
        assert_eq!(pair.client().h2().active_streams(), 0);
        assert_eq!(pair.server().h2().active_streams(), 0);
    }

    #[test]
    fn deadline_fires_on_both_sides() {
        let mut pair = GrpcPair::new();
        let now = pair.now();
        let call = pair
            .client()
            .start_call(
                now,
                CallOptions {
                    timeout: Some(Duration::from_millis(50)),
                    ..CallOptions::new("/pkg.Svc/Slow")
                },
            )
            .unwrap();
        pair.drive();
        assert!(matches!(pair.server_events()[0], Event::CallStarted { .. }));
        pair.advance(Duration::from_millis(50));
        assert!(pair.client_events().iter().any(|e| matches!(e,
            Event::Finished { call: c, status, .. } if *c == call && status.code() == Code::DeadlineExceeded)));
        assert!(pair.server_events().iter().any(|e| matches!(e,
            Event::Cancelled { status, .. } if status.code() == Code::DeadlineExceeded)));
    }
}

#[cfg(test)]
mod concurrency_tests {
    use super::*;

    #[test]
    fn calls_beyond_the_stream_limit_wait_for_a_slot() {
        let now = Instant::now();
        let mut client = Connection::client(Config::client(), now);
        let mut server = Connection::server(Config::server(), now);
        let mut calls = Vec::new();
        for i in 0..250usize {
            let call = client.start_call(now, CallOptions::new("/a.B/C")).unwrap();
            client
                .send_message(call, Bytes::from(vec![i as u8; 1 + i * 100]))
                .unwrap();
            client.close_send(call).unwrap();
            calls.push(call);
        }
        let mut finished = 0;
        for _ in 0..10_000 {
            let mut buf = Vec::new();
            while client.poll_transmit(&mut buf) > 0 {}
            server.receive(now, &buf).unwrap();
            while let Some(e) = server.poll_event() {
                if let Event::Message { call, message, .. } = e {
                    server.send_message(call, message).unwrap();
                    server
                        .finish(call, &Status::ok(), &Metadata::new())
                        .unwrap();
                }
            }
            buf.clear();
            while server.poll_transmit(&mut buf) > 0 {}
            client.receive(now, &buf).unwrap();
            while let Some(e) = client.poll_event() {
                if let Event::Finished { status, .. } = e {
                    assert!(status.is_ok(), "{status:?}");
                    finished += 1;
                }
            }
            if finished == calls.len() {
                return;
            }
        }
        panic!("only {finished} calls finished");
    }
}
