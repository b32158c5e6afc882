//! What a server sends, as a client sees it: its byte stream split into
//! frames, one-line descriptions of them for verdicts, and the settings it
//! advertised. Shared by the in-memory [`TestServer`](crate::server::TestServer)
//! and the TCP driver.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;
use grpc_sansio::h2::frame::{Frame, Head, Settings, HEAD_LEN};
use grpc_sansio::h2::Error;

/// Splits a server's byte stream into frames, keeping a partial frame
/// buffered until the rest arrives.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

/// A frame the engine's decoder rejects: the server broke the framing layer.
#[derive(Debug, Clone)]
pub struct UndecodableFrame {
    /// Its head.
    pub head: Head,
    /// The decoder's complaint.
    pub error: Error,
}

impl fmt::Display for UndecodableFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server sent an undecodable frame {:?}: {}",
            self.head, self.error
        )
    }
}

impl FrameReader {
    /// Appends `bytes` and moves every complete frame to `out`. Stops at the
    /// first frame that does not decode; the bytes after it are dropped, since
    /// framing cannot be trusted past it.
    pub fn push(
        &mut self,
        bytes: &[u8],
        out: &mut VecDeque<Frame>,
    ) -> Result<(), UndecodableFrame> {
        self.buf.extend_from_slice(bytes);
        loop {
            let Some(head) = self.buf.first_chunk::<HEAD_LEN>() else {
                return Ok(());
            };
            let head = Head::parse(head);
            let total = HEAD_LEN + head.length as usize;
            if self.buf.len() < total {
                return Ok(());
            }
            let payload = Bytes::copy_from_slice(&self.buf[HEAD_LEN..total]);
            self.buf.drain(..total);
            match Frame::decode(head, payload) {
                Ok(frame) => out.push_back(frame),
                Err(error) => {
                    self.buf.clear();
                    return Err(UndecodableFrame { head, error });
                }
            }
        }
    }
}

/// Folds a SETTINGS frame into the settings seen so far: a value the frame
/// carries replaces the earlier one.
pub fn merge_settings(into: &mut Settings, s: &Settings) {
    macro_rules! merge {
        ($($field:ident),*) => {$(
            if s.$field.is_some() {
                into.$field = s.$field;
            }
        )*};
    }
    merge!(
        header_table_size,
        enable_push,
        max_concurrent_streams,
        initial_window_size,
        max_frame_size,
        max_header_list_size
    );
}

/// A one-line summary of a frame the server sent.
pub fn describe(frame: &Frame) -> String {
    let flag = |on: bool, name: &str| {
        if on {
            format!(", {name}")
        } else {
            String::new()
        }
    };
    match frame {
        Frame::Data(d) => format!(
            "DATA(stream {}, len {}{})",
            d.stream_id,
            d.flow_len(),
            flag(d.end_stream, "END_STREAM")
        ),
        Frame::Headers(h) => format!(
            "HEADERS(stream {}{}{})",
            h.stream_id,
            flag(h.end_stream, "END_STREAM"),
            flag(h.end_headers, "END_HEADERS")
        ),
        Frame::Priority(p) => format!("PRIORITY(stream {})", p.stream_id),
        Frame::RstStream(r) => format!("RST_STREAM(stream {}, {})", r.stream_id, r.error_code),
        Frame::Settings(s) if s.ack => "SETTINGS(ACK)".to_owned(),
        Frame::Settings(s) => format!("SETTINGS({s:?})"),
        Frame::PushPromise(p) => format!(
            "PUSH_PROMISE(stream {}, promised {})",
            p.stream_id, p.promised_id
        ),
        Frame::Ping(p) => format!("PING({}{:?})", if p.ack { "ACK, " } else { "" }, p.payload),
        Frame::GoAway(g) => format!(
            "GOAWAY(last {}, {}, {:?})",
            g.last_stream_id,
            g.error_code,
            String::from_utf8_lossy(&g.debug_data)
        ),
        Frame::WindowUpdate(w) => {
            format!("WINDOW_UPDATE(stream {}, +{})", w.stream_id, w.increment)
        }
        Frame::Continuation(c) => format!(
            "CONTINUATION(stream {}{})",
            c.stream_id,
            flag(c.end_headers, "END_HEADERS")
        ),
        Frame::Unknown(u) => format!("UNKNOWN(type {:#x}, stream {})", u.kind, u.stream_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::{kind, FrameFactory};

    #[test]
    fn frames_split_across_pushes_are_reassembled() {
        let ping = FrameFactory::ping(*b"12345678", true);
        let mut reader = FrameReader::default();
        let mut out = VecDeque::new();
        reader.push(&ping[..5], &mut out).unwrap();
        assert!(out.is_empty());
        let mut rest = ping[5..].to_vec();
        rest.extend_from_slice(&FrameFactory::settings_ack());
        reader.push(&rest, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            describe(&out[0]),
            "PING(ACK, [49, 50, 51, 52, 53, 54, 55, 56])"
        );
        assert_eq!(describe(&out[1]), "SETTINGS(ACK)");
    }

    #[test]
    fn an_undecodable_frame_is_reported() {
        let mut reader = FrameReader::default();
        let mut out = VecDeque::new();
        let bad = FrameFactory::raw(kind::PING, 0, 0, &[0; 6]);
        let err = reader.push(&bad, &mut out).unwrap_err();
        assert!(err.to_string().contains("undecodable"), "{err}");
    }
}
