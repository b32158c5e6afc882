//! The response-body probe. Before a case that needs a response body, h2spec
//! sends the request on a connection of its own and adds up the DATA lengths;
//! a case needing more than the server gives is skipped. The probe runs once
//! per run here: the body does not change from case to case.

use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::h2::frame::Frame;
use grpc_sansio::h2::StreamId;
use grpc_sansio::hpack::Decoder;

use super::client::Client;
use super::tcp::{Arrival, Conn};
use super::Options;

/// The HPACK table size our SETTINGS leave at its default (RFC 9113 §6.5.2).
const HEADER_TABLE_SIZE: usize = 4096;

/// What the server answered the body request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyProbe {
    /// The response body length: the DATA payloads added up.
    pub len: usize,
    /// The request and the answer, in words, for skip messages.
    pub summary: String,
}

/// Sends the body request on a fresh connection and measures the response.
pub fn probe_body(options: &Options) -> BodyProbe {
    let request = options.requests.body_request(&options.path);
    match measure(options) {
        Ok(answer) => BodyProbe {
            len: answer.body_len,
            summary: format!("{request} was answered with {answer}"),
        },
        Err(why) => BodyProbe {
            len: 0,
            summary: format!("{request} got no answer: {why}"),
        },
    }
}

#[derive(Debug, Default)]
struct Answer {
    status: Option<String>,
    grpc_status: Option<String>,
    body_len: usize,
    /// How the response ended when not with END_STREAM.
    cut_short: Option<String>,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = format!(":status {}", self.status.as_deref().unwrap_or("(none)"));
        if let Some(code) = &self.grpc_status {
            let _ = write!(s, ", grpc-status {code}");
        }
        let _ = write!(s, " and {} body octets", self.body_len);
        if let Some(how) = &self.cut_short {
            let _ = write!(s, " (then {how})");
        }
        f.write_str(&s)
    }
}

fn measure(options: &Options) -> Result<Answer, String> {
    let mut conn = Conn::connect(options).map_err(|e| format!("cannot connect: {e}"))?;
    conn.handshake()?;
    conn.send_body_request(1);
    let stream = StreamId::new(1);
    let mut decoder = Decoder::new(HEADER_TABLE_SIZE);
    let (mut block, mut ends_with_block) = (Vec::new(), false);
    let mut answer = Answer::default();
    loop {
        let deadline = Instant::now() + options.timeout;
        let (fragment, end_headers) = match conn.next_arrival(deadline) {
            Arrival::Frame(Frame::Headers(h)) if h.stream_id == stream => {
                ends_with_block = h.end_stream;
                (h.header_block, h.end_headers)
            }
            Arrival::Frame(Frame::Continuation(c)) if c.stream_id == stream => {
                (c.header_block, c.end_headers)
            }
            Arrival::Frame(Frame::Data(d)) if d.stream_id == stream => {
                answer.body_len += d.data.len();
                if d.end_stream {
                    return Ok(answer);
                }
                continue;
            }
            Arrival::Frame(Frame::RstStream(r)) if r.stream_id == stream => {
                answer.cut_short = Some(format!("RST_STREAM({})", r.error_code));
                return Ok(answer);
            }
            Arrival::Frame(_) => continue,
            Arrival::Closed(why) => {
                answer.cut_short = Some(format!("the connection closed ({why})"));
                return Ok(answer);
            }
            Arrival::Broken(why) => {
                answer.cut_short = Some(why);
                return Ok(answer);
            }
            Arrival::Timeout => {
                answer.cut_short = Some("timeout".to_owned());
                return Ok(answer);
            }
        };
        block.extend_from_slice(&fragment);
        if !end_headers {
            continue;
        }
        let fields = decoder
            .decode_to_vec(&Bytes::from(std::mem::take(&mut block)))
            .map_err(|e| format!("the response headers do not decode: {e}"))?;
        for field in fields {
            let value = String::from_utf8_lossy(&field.value).into_owned();
            match &field.name[..] {
                b":status" => answer.status = Some(value),
                b"grpc-status" => answer.grpc_status = Some(value),
                _ => {}
            }
        }
        if ends_with_block {
            return Ok(answer);
        }
    }
}
