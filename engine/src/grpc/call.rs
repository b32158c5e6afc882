//! A gRPC call's life as one explicit transition table.
//!
//! The table speaks of the request (client to server) and the response
//! (server to client), not of "us" and "the peer", so one table serves both
//! roles: the client sends the request inputs and the server the response
//! inputs ([`Input::sender`]). A pair not in [`State::next`]'s table is an
//! [`IllegalTransition`]; the connection reports it as API misuse when the
//! sender is its own role, and as a broken call when it is the peer.
//!
//! A call is born with its request headers ([`State::Open`]): the connection
//! holds no call before them. Messages change no state; they are inputs so
//! that the table says where they may not flow (a request message after the
//! half-close, a response message before the response headers).

use std::fmt;

use crate::h2::Role;

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum State {
    /// The request headers passed; the response has not begun.
    Open,
    /// The client half-closed; the response has not begun.
    HalfClosed,
    /// The response headers passed; the client may still send.
    Responding,
    /// The response headers passed and the client half-closed.
    RespondingHalfClosed,
    /// Trailers ended the call, or it was reset, cancelled or cut.
    Closed,
}

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Input {
    /// One request message.
    RequestMessage,
    /// END_STREAM on the request: no more request messages.
    HalfClose,
    /// The response headers with initial metadata.
    ResponseHeaders,
    /// One response message.
    ResponseMessage,
    /// Status and trailing metadata end the call (Trailers-Only before the
    /// response headers).
    Trailers,
    /// The call ends without trailers: RST_STREAM either way, a cancel, a
    /// deadline, a broken rule, the connection gone.
    Reset,
}

/// A (state, input) pair the table does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IllegalTransition {
    pub(super) state: State,
    pub(super) input: Input,
}

impl State {
    /// The table.
    pub(super) fn next(self, input: Input) -> Result<State, IllegalTransition> {
        use Input::*;
        use State::*;
        match (self, input) {
            (Open | Responding, RequestMessage) => Ok(self),
            (Open, HalfClose) => Ok(HalfClosed),
            (Responding, HalfClose) => Ok(RespondingHalfClosed),

            (Open, ResponseHeaders) => Ok(Responding),
            (HalfClosed, ResponseHeaders) => Ok(RespondingHalfClosed),
            (Responding | RespondingHalfClosed, ResponseMessage) => Ok(self),

            (Open | HalfClosed | Responding | RespondingHalfClosed, Trailers | Reset) => {
                Ok(Closed)
            }

            // Nothing follows the half-close on the request side.
            (HalfClosed | RespondingHalfClosed, RequestMessage | HalfClose)
            // One set of response headers, before any response message.
            | (Responding | RespondingHalfClosed, ResponseHeaders)
            | (Open | HalfClosed, ResponseMessage)
            // Nothing happens to a call after its end.
            | (
                Closed,
                RequestMessage | HalfClose | ResponseHeaders | ResponseMessage | Trailers | Reset,
            ) => Err(IllegalTransition { state: self, input }),
        }
    }

    /// Whether the response headers passed (a server can no longer answer
    /// Trailers-Only; a client has its initial metadata).
    pub(super) fn response_started(self) -> bool {
        matches!(self, State::Responding | State::RespondingHalfClosed)
    }

    /// Whether the client half-closed.
    pub(super) fn half_closed(self) -> bool {
        matches!(self, State::HalfClosed | State::RespondingHalfClosed)
    }

    fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::HalfClosed => "half-closed",
            State::Responding => "responding",
            State::RespondingHalfClosed => "responding, half-closed",
            State::Closed => "closed",
        }
    }

    /// Every state, for exhaustive tests.
    #[cfg(test)]
    const ALL: [State; 5] = [
        State::Open,
        State::HalfClosed,
        State::Responding,
        State::RespondingHalfClosed,
        State::Closed,
    ];
}

impl Input {
    /// Who sends this input: requests are the client's, responses the
    /// server's; a reset may come from either (`None`).
    pub(super) fn sender(self) -> Option<Role> {
        match self {
            Input::RequestMessage | Input::HalfClose => Some(Role::Client),
            Input::ResponseHeaders | Input::ResponseMessage | Input::Trailers => Some(Role::Server),
            Input::Reset => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Input::RequestMessage => "a request message",
            Input::HalfClose => "the half-close",
            Input::ResponseHeaders => "response headers",
            Input::ResponseMessage => "a response message",
            Input::Trailers => "trailers",
            Input::Reset => "a reset",
        }
    }

    /// Every input, for exhaustive tests.
    #[cfg(test)]
    const ALL: [Input; 6] = [
        Input::RequestMessage,
        Input::HalfClose,
        Input::ResponseHeaders,
        Input::ResponseMessage,
        Input::Trailers,
        Input::Reset,
    ];
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} when the call is {}",
            self.input.name(),
            self.state.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Input::*;
    use super::State::*;
    use super::*;

    fn walk(inputs: &[Input]) -> Result<State, IllegalTransition> {
        inputs
            .iter()
            .try_fold(Open, |state, &input| state.next(input))
    }

    /// Every legal (state, input) pair, with where it leads.
    const LEGAL: [(State, Input, State); 16] = [
        (Open, RequestMessage, Open),
        (Open, HalfClose, HalfClosed),
        (Open, ResponseHeaders, Responding),
        (Open, Trailers, Closed),
        (Open, Reset, Closed),
        (HalfClosed, ResponseHeaders, RespondingHalfClosed),
        (HalfClosed, Trailers, Closed),
        (HalfClosed, Reset, Closed),
        (Responding, RequestMessage, Responding),
        (Responding, HalfClose, RespondingHalfClosed),
        (Responding, ResponseMessage, Responding),
        (Responding, Trailers, Closed),
        (Responding, Reset, Closed),
        (RespondingHalfClosed, ResponseMessage, RespondingHalfClosed),
        (RespondingHalfClosed, Trailers, Closed),
        (RespondingHalfClosed, Reset, Closed),
    ];

    /// Walks every (state, input) pair: the legal ones land where [`LEGAL`]
    /// says, every other one is refused and names its pair.
    #[test]
    fn every_pair_is_in_the_table() {
        for state in State::ALL {
            for input in Input::ALL {
                let legal = LEGAL
                    .iter()
                    .find(|(s, i, _)| *s == state && *i == input)
                    .map(|(_, _, next)| *next);
                match (state.next(input), legal) {
                    (Ok(next), Some(expected)) => assert_eq!(next, expected, "{state:?} {input:?}"),
                    (Err(e), None) => assert_eq!(e, IllegalTransition { state, input }),
                    (got, want) => panic!("{state:?} {input:?}: {got:?}, table says {want:?}"),
                }
            }
        }
    }

    #[test]
    fn unary_call() {
        let path = [
            RequestMessage,
            HalfClose,
            ResponseHeaders,
            ResponseMessage,
            Trailers,
        ];
        assert_eq!(walk(&path), Ok(Closed));
    }

    #[test]
    fn trailers_only_before_and_after_the_half_close() {
        assert_eq!(walk(&[Trailers]), Ok(Closed));
        assert_eq!(walk(&[HalfClose, Trailers]), Ok(Closed));
    }

    #[test]
    fn bidi_streaming_interleaves_and_half_closes_after_the_response_began() {
        let path = [
            ResponseHeaders,
            RequestMessage,
            ResponseMessage,
            RequestMessage,
            ResponseMessage,
            HalfClose,
            ResponseMessage,
            Trailers,
        ];
        assert_eq!(walk(&path), Ok(Closed));
    }

    #[test]
    fn a_reset_ends_every_live_state() {
        for prefix in [
            &[][..],
            &[HalfClose],
            &[ResponseHeaders],
            &[ResponseHeaders, HalfClose],
        ] {
            let state = walk(prefix).unwrap();
            assert_eq!(state.next(Reset), Ok(Closed), "{prefix:?}");
        }
    }

    #[test]
    fn nothing_follows_the_half_close_on_the_request_side() {
        for input in [RequestMessage, HalfClose] {
            let err = walk(&[HalfClose, input]).unwrap_err();
            assert_eq!((err.state, err.input), (HalfClosed, input));
            assert_eq!(err.input.sender(), Some(Role::Client));
        }
    }

    #[test]
    fn response_headers_go_once_and_before_any_response_message() {
        let err = walk(&[ResponseHeaders, ResponseHeaders]).unwrap_err();
        assert_eq!(err.state, Responding);
        let err = walk(&[ResponseMessage]).unwrap_err();
        assert_eq!(err.state, Open);
        assert_eq!(err.input.sender(), Some(Role::Server));
        assert_eq!(err.to_string(), "a response message when the call is open");
    }

    #[test]
    fn nothing_happens_after_the_end() {
        for input in Input::ALL {
            assert!(Closed.next(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn queries_follow_the_states() {
        for state in State::ALL {
            assert_eq!(
                state.response_started(),
                matches!(state, Responding | RespondingHalfClosed)
            );
            assert_eq!(
                state.half_closed(),
                matches!(state, HalfClosed | RespondingHalfClosed)
            );
        }
    }
}
