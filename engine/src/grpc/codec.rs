//! Length-prefixed gRPC messages.
//!
//! On the wire every message is a 1-octet compressed flag (0 or 1), a 4-octet
//! big-endian length and then that many octets. DATA frame boundaries have no
//! relation to message boundaries, so [`MessageDecoder`] is fed whatever chunks
//! arrive and hands back whole messages.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Octets in a message prefix: the compressed flag and the 4-octet length.
pub const PREFIX_LEN: usize = 5;

/// The receive limit gRPC implementations use unless configured otherwise.
pub const DEFAULT_MAX_RECV_MESSAGE_SIZE: usize = 4 << 20;

/// Once a partial body is spread over more chunks than this, it is moved into
/// one exact-size buffer: per-chunk bookkeeping (about 32 octets per `Bytes`)
/// must stay bounded even if the peer sends one-octet DATA frames.
const MAX_HELD_CHUNKS: usize = 32;

/// The largest length a prefix can carry, as a `usize`.
fn u32_max() -> usize {
    usize::try_from(u32::MAX).unwrap_or(usize::MAX)
}

/// Errors of the message framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The compressed flag was neither 0 nor 1 (the call fails with INTERNAL).
    #[error("invalid compressed flag {0:#04x}, expected 0 or 1")]
    InvalidFlag(u8),
    /// A message is longer than allowed: on receive the call fails with
    /// RESOURCE_EXHAUSTED; on send `max` is the limit that was exceeded
    /// (`u32::MAX` when the length cannot be encoded at all).
    #[error("message of {len} octets exceeds the limit of {max} octets")]
    MessageTooLarge {
        /// Length of the message body.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The stream ended inside a message.
    #[error("stream ended inside a message after {received} of its octets")]
    Truncated {
        /// Octets of the unfinished message received, prefix included.
        received: usize,
        /// Its total size on the wire (prefix included), when the prefix was
        /// complete.
        expected: Option<usize>,
    },
}

/// One received message, still compressed if `compressed` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The compressed flag of the prefix: `data` is encoded with the call's
    /// `grpc-encoding`.
    pub compressed: bool,
    /// The message body, without the prefix.
    pub data: Bytes,
}

impl RawMessage {
    /// Octets this message occupied on the wire (prefix and body), i.e. the
    /// flow-control credit its delivery releases.
    pub fn wire_len(&self) -> usize {
        PREFIX_LEN.saturating_add(self.data.len())
    }
}

/// Where the decoder is inside the message stream.
#[derive(Debug)]
enum State {
    /// Waiting for (the rest of) a prefix; nothing of it consumed yet.
    Prefix,
    /// The prefix was consumed; waiting for `len` body octets.
    Body {
        compressed: bool,
        len: usize,
        /// Body octets already moved out of the chunk queue (see
        /// [`MAX_HELD_CHUNKS`]); allocated with exactly `len` capacity.
        partial: Option<BytesMut>,
    },
    /// A framing error happened; it is returned from now on.
    Failed(CodecError),
}

/// Splits a stream of DATA payloads into gRPC messages.
///
/// Chunks are stored as given; a message lying entirely inside one chunk is
/// returned as a slice of it without copying. A message spanning chunks is
/// copied once into a buffer of exactly its length, which is only allocated
/// after its length was checked against the limit.
#[derive(Debug)]
pub struct MessageDecoder {
    max: usize,
    /// Received octets not yet consumed, in order; never holds empty chunks.
    chunks: VecDeque<Bytes>,
    /// Total octets in `chunks`.
    queued: usize,
    state: State,
}

impl Default for MessageDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECV_MESSAGE_SIZE)
    }
}

impl MessageDecoder {
    /// A decoder that rejects messages whose body is longer than
    /// `max_message_size` octets.
    pub fn new(max_message_size: usize) -> Self {
        Self::with_storage(max_message_size, VecDeque::new())
    }

    /// [`new`](Self::new), queueing chunks in `storage` (emptied first), the
    /// storage of a decoder done with, from [`take_storage`](Self::take_storage).
    pub fn with_storage(max_message_size: usize, mut storage: VecDeque<Bytes>) -> Self {
        storage.clear();
        Self {
            max: max_message_size,
            chunks: storage,
            queued: 0,
            state: State::Prefix,
        }
    }

    /// Hands out the chunk queue's storage, emptied, for a later decoder: for
    /// a decoder whose call is over. Everything buffered is dropped and the
    /// decoder is left as a new one.
    pub fn take_storage(&mut self) -> VecDeque<Bytes> {
        let mut storage = std::mem::take(&mut self.chunks);
        storage.clear();
        self.queued = 0;
        self.state = State::Prefix;
        storage
    }

    /// The receive limit this decoder enforces.
    pub fn max_message_size(&self) -> usize {
        self.max
    }

    /// Queues received octets. Nothing is copied here; call
    /// [`next_message`](Self::next_message) to take out messages. After an
    /// error the chunk is dropped, since the call is failing anyway.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() || matches!(self.state, State::Failed(_)) {
            return;
        }
        self.queued = self.queued.saturating_add(chunk.len());
        self.chunks.push_back(chunk);
    }

    /// The next complete message, `Ok(None)` if more octets are needed.
    ///
    /// Errors are sticky: once one is returned, every later call returns it
    /// again and buffered octets are released.
    pub fn next_message(&mut self) -> Result<Option<RawMessage>, CodecError> {
        if let State::Failed(err) = &self.state {
            return Err(err.clone());
        }
        if matches!(self.state, State::Prefix) {
            let Some(prefix) = self.peek_prefix() else {
                return Ok(None);
            };
            let compressed = match prefix[0] {
                0 => false,
                1 => true,
                flag => return Err(self.fail(CodecError::InvalidFlag(flag))),
            };
            let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            // Checked before a single body octet is buffered or allocated.
            if len > self.max {
                return Err(self.fail(CodecError::MessageTooLarge { len, max: self.max }));
            }
            self.skip(PREFIX_LEN);
            self.state = State::Body {
                compressed,
                len,
                partial: None,
            };
        }
        let State::Body {
            compressed,
            len,
            partial,
        } = &mut self.state
        else {
            return Ok(None);
        };
        let (compressed, len) = (*compressed, *len);
        let data = match partial {
            None => {
                if let Some(data) = take_body(&mut self.chunks, &mut self.queued, len) {
                    data
                } else {
                    if self.chunks.len() > MAX_HELD_CHUNKS {
                        // Everything queued belongs to this body (it is not
                        // complete yet), so move it all.
                        let mut buf = BytesMut::with_capacity(len);
                        let queued = self.queued;
                        copy_out(&mut self.chunks, &mut self.queued, &mut buf, queued);
                        *partial = Some(buf);
                    }
                    return Ok(None);
                }
            }
            Some(buf) => {
                let want = (len - buf.len()).min(self.queued);
                copy_out(&mut self.chunks, &mut self.queued, buf, want);
                if buf.len() < len {
                    return Ok(None);
                }
                std::mem::take(buf).freeze()
            }
        };
        self.state = State::Prefix;
        Ok(Some(RawMessage { compressed, data }))
    }

    /// Octets pushed but not yet returned inside a message (including the
    /// prefix of a partly received one). Zero after an error.
    pub fn buffered(&self) -> usize {
        let in_progress = match &self.state {
            State::Body { partial, .. } => {
                PREFIX_LEN.saturating_add(partial.as_ref().map_or(0, |b| b.len()))
            }
            State::Prefix | State::Failed(_) => 0,
        };
        self.queued.saturating_add(in_progress)
    }

    /// True when no octets are held, i.e. the stream may end here.
    pub fn is_idle(&self) -> bool {
        self.buffered() == 0 && !matches!(self.state, State::Failed(_))
    }

    /// Checks the end of the stream (END_STREAM): an error if it ends inside a
    /// message, or the sticky error if one happened. Call it after
    /// [`next_message`](Self::next_message) returned `Ok(None)`, since octets
    /// of complete but unread messages also count as unfinished.
    pub fn finish(&self) -> Result<(), CodecError> {
        let expected = match &self.state {
            State::Failed(err) => return Err(err.clone()),
            State::Prefix => None,
            State::Body { len, .. } => Some(PREFIX_LEN.saturating_add(*len)),
        };
        let received = self.buffered();
        if received == 0 {
            Ok(())
        } else {
            Err(CodecError::Truncated { received, expected })
        }
    }

    /// Enters the failed state, releasing the queued octets.
    fn fail(&mut self, err: CodecError) -> CodecError {
        self.chunks = VecDeque::new();
        self.queued = 0;
        self.state = State::Failed(err.clone());
        err
    }

    /// The first [`PREFIX_LEN`] queued octets, possibly spread over chunks.
    fn peek_prefix(&self) -> Option<[u8; PREFIX_LEN]> {
        if self.queued < PREFIX_LEN {
            return None;
        }
        let mut prefix = [0u8; PREFIX_LEN];
        let mut filled = 0;
        for chunk in &self.chunks {
            let n = (PREFIX_LEN - filled).min(chunk.len());
            prefix[filled..filled + n].copy_from_slice(&chunk[..n]);
            filled += n;
            if filled == PREFIX_LEN {
                return Some(prefix);
            }
        }
        None
    }

    /// Drops `n` queued octets.
    fn skip(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if front.len() <= n {
                n -= front.len();
                self.queued -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                self.queued -= n;
                n = 0;
            }
        }
    }
}

/// Takes a whole body of `len` octets from the queue if it is all there: a
/// slice of the front chunk when it holds the body, else one exact copy.
fn take_body(chunks: &mut VecDeque<Bytes>, queued: &mut usize, len: usize) -> Option<Bytes> {
    if len == 0 {
        return Some(Bytes::new());
    }
    if *queued < len {
        return None;
    }
    let front = chunks.front_mut()?;
    if front.len() >= len {
        let data = front.split_to(len);
        if front.is_empty() {
            chunks.pop_front();
        }
        *queued -= len;
        return Some(data);
    }
    let mut buf = BytesMut::with_capacity(len);
    copy_out(chunks, queued, &mut buf, len);
    Some(buf.freeze())
}

/// Moves `n` queued octets (at most all of them) to the end of `dst`.
fn copy_out(chunks: &mut VecDeque<Bytes>, queued: &mut usize, dst: &mut BytesMut, mut n: usize) {
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        let take = n.min(front.len());
        dst.extend_from_slice(&front[..take]);
        n -= take;
        *queued -= take;
        if take == front.len() {
            chunks.pop_front();
        } else {
            front.advance(take);
        }
    }
}

/// The prefix of a message with a body of `len` octets.
pub fn encode_prefix(compressed: bool, len: usize) -> Result<[u8; PREFIX_LEN], CodecError> {
    let wire_len = u32::try_from(len).map_err(|_| CodecError::MessageTooLarge {
        len,
        max: u32_max(),
    })?;
    let [a, b, c, d] = wire_len.to_be_bytes();
    Ok([u8::from(compressed), a, b, c, d])
}

/// Appends a framed message (prefix and `data`) to `dst`. Fails only if
/// `data` is longer than a prefix can describe; the send limit is the
/// caller's to enforce.
pub fn encode(data: &[u8], compressed: bool, dst: &mut Vec<u8>) -> Result<(), CodecError> {
    let prefix = encode_prefix(compressed, data.len())?;
    dst.reserve(PREFIX_LEN.saturating_add(data.len()));
    dst.extend_from_slice(&prefix);
    dst.extend_from_slice(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(messages: &[(bool, Vec<u8>)]) -> Vec<u8> {
        let mut wire = Vec::new();
        for (compressed, data) in messages {
            encode(data, *compressed, &mut wire).unwrap();
        }
        wire
    }

    #[test]
    fn storage_moves_between_decoders_emptied() {
        let mut first = MessageDecoder::new(1024);
        let wire = frame(&[(false, b"whole".to_vec()), (false, b"cut".to_vec())]);
        first.push(Bytes::from(wire[..wire.len() - 1].to_vec()));
        assert_eq!(&first.next_message().unwrap().unwrap().data[..], b"whole");
        assert!(first.next_message().unwrap().is_none());
        let storage = first.take_storage();
        assert!(storage.is_empty() && storage.capacity() > 0);
        assert!(first.is_idle());
        let mut second = MessageDecoder::with_storage(1024, storage);
        second.push(Bytes::from(frame(&[(true, b"next".to_vec())])));
        let message = second.next_message().unwrap().unwrap();
        assert!(message.compressed);
        assert_eq!(&message.data[..], b"next");
    }

    /// Pushes `wire` cut at `cuts` (sorted offsets), draining after each push.
    fn decode_chunked(wire: &[u8], cuts: &[usize], max: usize) -> Vec<RawMessage> {
        let mut dec = MessageDecoder::new(max);
        let mut out = Vec::new();
        let mut start = 0;
        for &end in cuts.iter().chain(std::iter::once(&wire.len())) {
            let end = end.clamp(start, wire.len());
            dec.push(Bytes::copy_from_slice(&wire[start..end]));
            start = end;
            while let Some(m) = dec.next_message().unwrap() {
                out.push(m);
            }
        }
        assert!(dec.is_idle());
        assert_eq!(dec.buffered(), 0);
        dec.finish().unwrap();
        out
    }

    fn as_pairs(msgs: &[RawMessage]) -> Vec<(bool, Vec<u8>)> {
        msgs.iter()
            .map(|m| (m.compressed, m.data.to_vec()))
            .collect()
    }

    #[test]
    fn prefix_encoding() {
        assert_eq!(encode_prefix(false, 0).unwrap(), [0, 0, 0, 0, 0]);
        assert_eq!(encode_prefix(true, 0x0102_0304).unwrap(), [1, 1, 2, 3, 4]);
        assert_eq!(
            encode_prefix(false, u32_max()).unwrap(),
            [0, 0xff, 0xff, 0xff, 0xff]
        );
        #[cfg(target_pointer_width = "64")]
        assert_eq!(
            encode_prefix(false, u32_max() + 1),
            Err(CodecError::MessageTooLarge {
                len: u32_max() + 1,
                max: u32_max()
            })
        );
        let mut wire = vec![9];
        encode(b"abc", true, &mut wire).unwrap();
        assert_eq!(wire, [9, 1, 0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn one_message_in_one_chunk_is_zero_copy() {
        let chunk = Bytes::from(frame(&[(false, b"hello world".to_vec())]));
        let range = chunk.as_ptr() as usize..chunk.as_ptr() as usize + chunk.len();
        let mut dec = MessageDecoder::default();
        dec.push(chunk.clone());
        assert_eq!(dec.buffered(), 16);
        let msg = dec.next_message().unwrap().unwrap();
        assert_eq!(&msg.data[..], b"hello world");
        assert!(!msg.compressed);
        assert_eq!(msg.wire_len(), 16);
        assert!(range.contains(&(msg.data.as_ptr() as usize)));
        assert!(range.contains(&(msg.data.as_ptr() as usize + msg.data.len() - 1)));
        assert_eq!(dec.next_message().unwrap(), None);
        assert!(dec.is_idle());
        dec.finish().unwrap();
    }

    #[test]
    fn body_in_one_chunk_after_split_prefix_is_zero_copy() {
        let wire = frame(&[(true, b"payload".to_vec())]);
        let mut dec = MessageDecoder::default();
        dec.push(Bytes::copy_from_slice(&wire[..3]));
        assert_eq!(dec.next_message().unwrap(), None);
        let body = Bytes::copy_from_slice(&wire[3..]);
        let start = body.as_ptr() as usize;
        dec.push(body.clone());
        let msg = dec.next_message().unwrap().unwrap();
        assert!(msg.compressed);
        assert_eq!(msg.data.as_ptr() as usize, start + 2);
    }

    #[test]
    fn many_messages_in_one_chunk() {
        let msgs: Vec<(bool, Vec<u8>)> = (0..50u8)
            .map(|i| (i % 3 == 0, vec![i; usize::from(i)]))
            .collect();
        let chunk = Bytes::from(frame(&msgs));
        let range = chunk.as_ptr() as usize..=chunk.as_ptr() as usize + chunk.len();
        let mut dec = MessageDecoder::default();
        dec.push(chunk);
        let mut got = Vec::new();
        while let Some(m) = dec.next_message().unwrap() {
            if !m.data.is_empty() {
                assert!(range.contains(&(m.data.as_ptr() as usize)));
            }
            got.push(m);
        }
        assert_eq!(as_pairs(&got), msgs);
        assert!(dec.is_idle());
    }

    #[test]
    fn empty_message() {
        let mut dec = MessageDecoder::new(0);
        dec.push(Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0]));
        for compressed in [false, true] {
            let m = dec.next_message().unwrap().unwrap();
            assert_eq!(
                (m.compressed, m.data.len(), m.wire_len()),
                (compressed, 0, 5)
            );
        }
        assert_eq!(dec.next_message().unwrap(), None);
        dec.finish().unwrap();
    }

    #[test]
    fn every_split_point() {
        let msgs = vec![
            (false, b"first message".to_vec()),
            (true, Vec::new()),
            (false, b"xyz".to_vec()),
        ];
        let wire = frame(&msgs);
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                assert_eq!(as_pairs(&decode_chunked(&wire, &[i, j], 1024)), msgs);
            }
        }
    }

    #[test]
    fn one_octet_chunks_drained_each_time() {
        // Exercises the move into an exact-size buffer past MAX_HELD_CHUNKS.
        let msgs = vec![
            (false, (0..=255u8).cycle().take(1000).collect::<Vec<u8>>()),
            (true, b"z".to_vec()),
        ];
        let wire = frame(&msgs);
        let cuts: Vec<usize> = (1..wire.len()).collect();
        let mut dec = MessageDecoder::default();
        let mut got = Vec::new();
        let mut start = 0;
        for &end in cuts.iter().chain(std::iter::once(&wire.len())) {
            dec.push(Bytes::copy_from_slice(&wire[start..end]));
            start = end;
            assert!(dec.chunks.len() <= MAX_HELD_CHUNKS + 1);
            let before = dec.buffered();
            match dec.next_message().unwrap() {
                Some(m) => {
                    assert_eq!(before - dec.buffered(), m.wire_len());
                    got.push(m);
                }
                None => assert_eq!(before, dec.buffered()),
            }
        }
        assert_eq!(as_pairs(&got), msgs);
        dec.finish().unwrap();
    }

    #[test]
    fn one_octet_chunks_pushed_all_at_once() {
        let msgs = vec![(false, vec![7u8; 300]), (false, vec![8u8; 2])];
        let wire = frame(&msgs);
        let mut dec = MessageDecoder::default();
        for b in &wire {
            dec.push(Bytes::copy_from_slice(&[*b]));
        }
        assert_eq!(dec.buffered(), wire.len());
        let a = dec.next_message().unwrap().unwrap();
        let b = dec.next_message().unwrap().unwrap();
        assert_eq!(as_pairs(&[a, b]), msgs);
        assert_eq!(dec.next_message().unwrap(), None);
    }

    #[test]
    fn too_large_fails_on_the_prefix_alone() {
        let mut dec = MessageDecoder::new(100);
        dec.push(Bytes::from_static(&[0, 0, 0, 0, 100]));
        assert_eq!(dec.next_message().unwrap(), None);
        assert!(!dec.is_idle());
        dec.push(Bytes::from(vec![0u8; 100]));
        assert_eq!(dec.next_message().unwrap().unwrap().data.len(), 100);

        dec.push(Bytes::from_static(&[1, 0, 0, 0]));
        assert_eq!(dec.next_message().unwrap(), None);
        dec.push(Bytes::from_static(&[101]));
        let err = CodecError::MessageTooLarge { len: 101, max: 100 };
        assert_eq!(dec.next_message(), Err(err.clone()));
        // Sticky, releases memory, ignores further input.
        dec.push(Bytes::from_static(&[0, 0, 0, 0, 0]));
        assert_eq!(dec.buffered(), 0);
        assert_eq!(dec.next_message(), Err(err.clone()));
        assert_eq!(dec.finish(), Err(err));
        assert!(!dec.is_idle());

        let mut dec = MessageDecoder::new(usize::MAX);
        dec.push(Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff]));
        assert_eq!(dec.next_message(), Ok(None));
    }

    #[test]
    fn invalid_flag() {
        for flag in [2u8, 0x80, 0xff] {
            let mut dec = MessageDecoder::default();
            dec.push(Bytes::from(vec![flag, 0, 0, 0, 0]));
            assert_eq!(dec.next_message(), Err(CodecError::InvalidFlag(flag)));
            assert_eq!(dec.next_message(), Err(CodecError::InvalidFlag(flag)));
        }
        // Not judged before the prefix is complete.
        let mut dec = MessageDecoder::default();
        dec.push(Bytes::from_static(&[7, 0]));
        assert_eq!(dec.next_message(), Ok(None));
    }

    #[test]
    fn truncated_at_finish() {
        let mut dec = MessageDecoder::default();
        dec.finish().unwrap();
        dec.push(Bytes::from_static(&[0, 0, 0]));
        assert_eq!(dec.next_message(), Ok(None));
        assert!(!dec.is_idle());
        assert_eq!(
            dec.finish(),
            Err(CodecError::Truncated {
                received: 3,
                expected: None
            })
        );
        dec.push(Bytes::from_static(&[0, 4, b'a', b'b']));
        assert_eq!(dec.next_message(), Ok(None));
        assert_eq!(dec.buffered(), 7);
        assert_eq!(
            dec.finish(),
            Err(CodecError::Truncated {
                received: 7,
                expected: Some(9)
            })
        );
        dec.push(Bytes::from_static(b"cd"));
        assert_eq!(&dec.next_message().unwrap().unwrap().data[..], b"abcd");
        dec.finish().unwrap();
    }

    proptest! {
        #[test]
        fn random_chunking_gives_the_same_messages(
            msgs in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..8),
            mut cuts in proptest::collection::vec(0usize..2000, 0..60),
        ) {
            let wire = frame(&msgs);
            cuts.sort_unstable();
            let got = decode_chunked(&wire, &cuts, 200);
            prop_assert_eq!(as_pairs(&got), msgs);
            let total: usize = got.iter().map(RawMessage::wire_len).sum();
            prop_assert_eq!(total, wire.len());
        }

        #[test]
        fn arbitrary_input_never_panics(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20),
        ) {
            let mut dec = MessageDecoder::new(64);
            for c in chunks {
                dec.push(Bytes::from(c));
                while let Ok(Some(m)) = dec.next_message() {
                    prop_assert!(m.data.len() <= 64);
                }
            }
            let _ = dec.finish();
        }
    }
}
