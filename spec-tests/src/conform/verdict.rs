//! h2spec 2.6.0's verifiers (`spec/verifier.go`) as data: what a case waits
//! for, which frame decides it, and whether a closed transport passes.
//!
//! A verdict reads the server's frames in order. [`Expect::decide`] says of
//! each frame whether it passes (`Some(true)`), fails (`Some(false)`) or is
//! skipped (`None`); when the transport closes first, [`Expect::on_close`]
//! decides; when neither happens within the wait timeout, the case fails.
//! The in-memory [`TestServer`](crate::server::TestServer) and the TCP
//! driver both judge with these, so the two runs agree on what a case means.

use std::fmt;

use grpc_sansio::h2::frame::Frame;
use grpc_sansio::h2::{ErrorCode, StreamId};

/// What a case waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// conn-err: a GOAWAY carrying one of the codes, or the transport closing.
    ConnectionError(Vec<ErrorCode>),
    /// stream-err: an RST_STREAM (any stream) or a GOAWAY carrying one of the
    /// codes, or the transport closing.
    StreamError(Vec<ErrorCode>),
    /// A GOAWAY carrying this code; a close without it fails (http2/6.9.1/2).
    GoAway(ErrorCode),
    /// A GOAWAY with any code (http2/5.4.1/2, strict mode).
    AnyGoAway,
    /// The first RST_STREAM is on this stream with this code; GOAWAY or close
    /// fails (http2/6.9.1/3).
    RstStream(u32, ErrorCode),
    /// Only the transport closing passes; every frame is skipped.
    Close,
    /// The next PING has ACK and echoes the payload.
    PingAck([u8; 8]),
    /// A PING ACK echoing the payload, or the transport closing.
    PingAckOrClose([u8; 8]),
    /// Any PING frame.
    AnyPing,
    /// The next HEADERS frame is on this stream (any status).
    ResponseHeaders(u32),
    /// The next SETTINGS frame has ACK.
    SettingsAck,
    /// Any SETTINGS frame (h2spec's `VerifyEventType(SETTINGS)`).
    AnySettings,
    /// The very first frame is a SETTINGS without ACK.
    FirstFrameSettings,
    /// The next DATA frame has a payload of exactly this many octets (padding
    /// included, as h2spec reads the frame length).
    DataLen(u32),
    /// Any DATA frame.
    AnyData,
    /// h2spec's `VerifyStreamClose`: DATA or HEADERS with END_STREAM, or
    /// RST_STREAM with NO_ERROR.
    StreamEnd,
}

/// How a verdict treats the transport closing before a frame decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnClose<'a> {
    /// The close fails the case.
    Fails,
    /// The close passes.
    Passes,
    /// The close passes; h2spec cannot know the code, but a judge that does
    /// (the in-memory server) may require one of these.
    PassesWithCode(&'a [ErrorCode]),
}

impl Expect {
    /// Whether `frame` passes (`Some(true)`), fails (`Some(false)`) or is
    /// skipped (`None`).
    pub fn decide(&self, frame: &Frame) -> Option<bool> {
        match (self, frame) {
            (Expect::ConnectionError(codes), Frame::GoAway(g)) => {
                codes.contains(&g.error_code).then_some(true)
            }
            (Expect::StreamError(codes), Frame::GoAway(g)) => {
                codes.contains(&g.error_code).then_some(true)
            }
            (Expect::StreamError(codes), Frame::RstStream(r)) => {
                codes.contains(&r.error_code).then_some(true)
            }
            (Expect::GoAway(code), Frame::GoAway(g)) => (g.error_code == *code).then_some(true),
            (Expect::AnyGoAway, Frame::GoAway(_)) => Some(true),
            (Expect::RstStream(stream, code), Frame::RstStream(r)) => {
                Some(r.stream_id == StreamId::new(*stream) && r.error_code == *code)
            }
            (Expect::PingAck(payload), Frame::Ping(p)) => Some(p.ack && p.payload == *payload),
            (Expect::PingAckOrClose(payload), Frame::Ping(p)) => {
                (p.ack && p.payload == *payload).then_some(true)
            }
            (Expect::AnyPing, Frame::Ping(_)) => Some(true),
            (Expect::ResponseHeaders(stream), Frame::Headers(h)) => {
                Some(h.stream_id == StreamId::new(*stream))
            }
            (Expect::SettingsAck, Frame::Settings(s)) => Some(s.ack),
            (Expect::AnySettings, Frame::Settings(_)) => Some(true),
            (Expect::FirstFrameSettings, f) => Some(matches!(f, Frame::Settings(s) if !s.ack)),
            (Expect::DataLen(len), Frame::Data(d)) => Some(d.flow_len() == *len),
            (Expect::AnyData, Frame::Data(_)) => Some(true),
            (Expect::StreamEnd, Frame::Data(d)) if d.end_stream => Some(true),
            (Expect::StreamEnd, Frame::Headers(h)) if h.end_stream => Some(true),
            (Expect::StreamEnd, Frame::RstStream(r)) if r.error_code == ErrorCode::NO_ERROR => {
                Some(true)
            }
            _ => None,
        }
    }

    /// Whether the transport closing passes.
    pub fn on_close(&self) -> OnClose<'_> {
        match self {
            Expect::ConnectionError(codes) | Expect::StreamError(codes) => {
                OnClose::PassesWithCode(codes)
            }
            Expect::Close | Expect::PingAckOrClose(_) => OnClose::Passes,
            _ => OnClose::Fails,
        }
    }
}

/// The expected reaction, as failure messages name it.
impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::ConnectionError(codes) => write!(f, "GOAWAY({}) or close", names(codes)),
            Expect::StreamError(codes) => {
                write!(f, "RST_STREAM({0}) or GOAWAY({0}) or close", names(codes))
            }
            Expect::GoAway(code) => write!(f, "GOAWAY({code})"),
            Expect::AnyGoAway => f.write_str("GOAWAY (any code)"),
            Expect::RstStream(stream, code) => write!(f, "RST_STREAM(stream {stream}, {code})"),
            Expect::Close => f.write_str("connection close"),
            Expect::PingAck(payload) => write!(f, "PING(ack, {payload:?})"),
            Expect::PingAckOrClose(payload) => write!(f, "PING(ack, {payload:?}) or close"),
            Expect::AnyPing => f.write_str("a PING frame"),
            Expect::ResponseHeaders(stream) => write!(f, "HEADERS on stream {stream}"),
            Expect::SettingsAck => f.write_str("SETTINGS(ack)"),
            Expect::AnySettings => f.write_str("a SETTINGS frame"),
            Expect::FirstFrameSettings => f.write_str("a non-ACK SETTINGS as the first frame"),
            Expect::DataLen(len) => write!(f, "DATA of length {len}"),
            Expect::AnyData => f.write_str("a DATA frame"),
            Expect::StreamEnd => {
                f.write_str("the end of the response (END_STREAM or RST_STREAM(NO_ERROR))")
            }
        }
    }
}

fn names(codes: &[ErrorCode]) -> String {
    codes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}
