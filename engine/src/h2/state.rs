//! Stream states (RFC 9113 §5.1) as one explicit transition table.
//!
//! Reserved states are absent: we never enable server push, so no stream is ever
//! reserved. Every (state, input) pair not in [`State::next`]'s table is an error
//! with the scope and code the RFC gives it.

use super::{Error, ErrorCode, Reason, StreamId};

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not yet used.
    Idle,
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Done, by END_STREAM both ways or by RST_STREAM.
    Closed,
}

/// What happens to a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// We send a HEADERS frame (with END_STREAM or not).
    SendHeaders {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// We send DATA.
    SendData {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// We send RST_STREAM.
    SendReset,
    /// The peer's HEADERS (with its CONTINUATIONs) arrived.
    RecvHeaders {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// The peer's DATA arrived.
    RecvData {
        /// END_STREAM flag.
        end_stream: bool,
    },
    /// The peer's RST_STREAM arrived.
    RecvReset,
}

impl State {
    /// The table. `Err(None)` marks a local API misuse (sending in a state that
    /// forbids it); `Err(Some(e))` is the peer's protocol error.
    pub fn next(self, id: StreamId, input: Input) -> Result<State, Option<Error>> {
        use Input::*;
        use State::*;
        match (self, input) {
            (Idle, SendHeaders { end_stream: false }) => Ok(Open),
            (Idle, SendHeaders { end_stream: true }) => Ok(HalfClosedLocal),
            (Idle, RecvHeaders { end_stream: false }) => Ok(Open),
            (Idle, RecvHeaders { end_stream: true }) => Ok(HalfClosedRemote),
            // §5.1 idle: anything but HEADERS or PRIORITY is a connection error.
            (Idle, RecvData { .. } | RecvReset) => Err(Some(Error::connection(
                ErrorCode::PROTOCOL_ERROR,
                Reason::UnexpectedFrame {
                    frame: input.frame_name(),
                    state: self.name(),
                },
            ))),
            (Idle, SendData { .. } | SendReset) => Err(None),

            (Open, SendHeaders { end_stream: true } | SendData { end_stream: true }) => {
                Ok(HalfClosedLocal)
            }
            (Open, SendHeaders { end_stream: false } | SendData { end_stream: false }) => Ok(Open),
            (Open, RecvHeaders { end_stream: true } | RecvData { end_stream: true }) => {
                Ok(HalfClosedRemote)
            }
            (Open, RecvHeaders { end_stream: false } | RecvData { end_stream: false }) => Ok(Open),

            (HalfClosedLocal, RecvHeaders { end_stream: true } | RecvData { end_stream: true }) => {
                Ok(Closed)
            }
            (
                HalfClosedLocal,
                RecvHeaders { end_stream: false } | RecvData { end_stream: false },
            ) => Ok(HalfClosedLocal),
            (HalfClosedLocal, SendHeaders { .. } | SendData { .. }) => Err(None),

            (
                HalfClosedRemote,
                SendHeaders { end_stream: true } | SendData { end_stream: true },
            ) => Ok(Closed),
            (
                HalfClosedRemote,
                SendHeaders { end_stream: false } | SendData { end_stream: false },
            ) => Ok(HalfClosedRemote),
            // §5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY
            // and RST_STREAM are a stream error STREAM_CLOSED.
            (HalfClosedRemote, RecvHeaders { .. } | RecvData { .. }) => Err(Some(Error::stream(
                id,
                ErrorCode::STREAM_CLOSED,
                Reason::StreamClosed {
                    frame: input.frame_name(),
                    id,
                },
            ))),

            (Open | HalfClosedLocal | HalfClosedRemote, SendReset | RecvReset) => Ok(Closed),

            // A closed stream the peer keeps using (§5.1 closed). Streams we reset
            // ourselves never get here: the connection ignores their late frames.
            (Closed, RecvData { .. }) => Err(Some(Error::stream(
                id,
                ErrorCode::STREAM_CLOSED,
                Reason::StreamClosed {
                    frame: input.frame_name(),
                    id,
                },
            ))),
            (Closed, RecvHeaders { .. }) => Err(Some(Error::connection(
                ErrorCode::STREAM_CLOSED,
                Reason::StreamClosed {
                    frame: input.frame_name(),
                    id,
                },
            ))),
            (Closed, RecvReset) => Ok(Closed),
            (Closed, SendHeaders { .. } | SendData { .. } | SendReset) => Err(None),
        }
    }

    /// Whether the peer may still send HEADERS or DATA.
    pub fn can_recv(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal)
    }

    /// Whether we may still send HEADERS or DATA.
    pub fn can_send(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }

    /// The RFC's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Open => "open",
            State::HalfClosedLocal => "half-closed (local)",
            State::HalfClosedRemote => "half-closed (remote)",
            State::Closed => "closed",
        }
    }
}

impl Input {
    fn frame_name(self) -> &'static str {
        match self {
            Input::SendHeaders { .. } | Input::RecvHeaders { .. } => "HEADERS",
            Input::SendData { .. } | Input::RecvData { .. } => "DATA",
            Input::SendReset | Input::RecvReset => "RST_STREAM",
        }
    }

    /// Every input, for exhaustive tests.
    pub const ALL: [Input; 10] = [
        Input::SendHeaders { end_stream: false },
        Input::SendHeaders { end_stream: true },
        Input::SendData { end_stream: false },
        Input::SendData { end_stream: true },
        Input::SendReset,
        Input::RecvHeaders { end_stream: false },
        Input::RecvHeaders { end_stream: true },
        Input::RecvData { end_stream: false },
        Input::RecvData { end_stream: true },
        Input::RecvReset,
    ];
}

impl State {
    /// Every state, for exhaustive tests.
    pub const ALL: [State; 5] = [
        State::Idle,
        State::Open,
        State::HalfClosedLocal,
        State::HalfClosedRemote,
        State::Closed,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: StreamId = StreamId::new(1);

    #[test]
    fn request_response_walks_to_closed() {
        let s = State::Idle
            .next(ID, Input::RecvHeaders { end_stream: false })
            .unwrap();
        assert_eq!(s, State::Open);
        let s = s.next(ID, Input::RecvData { end_stream: true }).unwrap();
        assert_eq!(s, State::HalfClosedRemote);
        let s = s
            .next(ID, Input::SendHeaders { end_stream: false })
            .unwrap();
        let s = s.next(ID, Input::SendData { end_stream: true }).unwrap();
        assert_eq!(s, State::Closed);
    }

    #[test]
    fn idle_rejects_data_and_reset_as_connection_errors() {
        for input in [Input::RecvData { end_stream: false }, Input::RecvReset] {
            let err = State::Idle.next(ID, input).unwrap_err().unwrap();
            assert!(err.is_connection_error());
            assert_eq!(err.code(), ErrorCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn half_closed_remote_rejects_peer_frames_with_stream_closed() {
        let err = State::HalfClosedRemote
            .next(ID, Input::RecvData { end_stream: false })
            .unwrap_err()
            .unwrap();
        assert!(!err.is_connection_error());
        assert_eq!(err.code(), ErrorCode::STREAM_CLOSED);
    }

    /// Walks every (state, input) pair: each lands in a state, a local misuse, or
    /// an error whose code is one §5.1 names for that state.
    #[test]
    fn every_pair_is_in_the_table() {
        for state in State::ALL {
            for input in Input::ALL {
                match state.next(ID, input) {
                    Ok(next) => {
                        if matches!(input, Input::SendReset | Input::RecvReset) {
                            assert_eq!(next, State::Closed);
                        }
                    }
                    Err(None) => assert!(matches!(
                        input,
                        Input::SendHeaders { .. } | Input::SendData { .. } | Input::SendReset
                    )),
                    Err(Some(e)) => {
                        let allowed = match state {
                            State::Idle => [ErrorCode::PROTOCOL_ERROR],
                            _ => [ErrorCode::STREAM_CLOSED],
                        };
                        assert!(allowed.contains(&e.code()), "{state:?} {input:?} {e}");
                    }
                }
            }
        }
    }
}
