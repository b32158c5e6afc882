//! One call as its handle sees it, away from the connection: what has arrived
//! and not been taken, the headers, the end. Sans-IO, like the rest of the
//! engine: a handle feeds it the events of its inbox ([`CallState::note`]) and
//! asks it for an answer ([`CallState::poll_recv`], …) before waiting for
//! more, blocking or async as its adapter does.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::grpc::metadata::Metadata;
use crate::grpc::status::{Code, Status};
use crate::grpc::Event;

/// Which side of the call the handle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// A call handle's view of its call. Messages stay here until handed out,
/// holding their flow-control credit: the handle reports each one it hands
/// out as consumed.
#[derive(Debug)]
pub struct CallState {
    side: Side,
    messages: Messages,
    headers: Option<Metadata>,
    half_closed: bool,
    end: Option<(Status, Metadata)>,
    /// Ended by this side (finish, cancel): nothing more is handed out.
    ended_here: bool,
    recv_compressed: bool,
}

impl CallState {
    /// A client call's handle.
    pub fn client() -> Self {
        Self::new(Side::Client)
    }

    /// A server call's handle.
    pub fn server() -> Self {
        Self::new(Side::Server)
    }

    fn new(side: Side) -> Self {
        CallState {
            side,
            messages: Messages::default(),
            headers: None,
            half_closed: false,
            end: None,
            ended_here: false,
            recv_compressed: false,
        }
    }

    /// Takes in one item of the inbox; `None` when the inbox is closed (the
    /// connection is gone).
    pub fn note(&mut self, event: Option<Event>) {
        if self.end.is_some() {
            return;
        }
        match event {
            Some(Event::Headers { metadata, .. }) => self.headers = Some(metadata),
            Some(Event::Message {
                message,
                compressed,
                ..
            }) => self.messages.push((message, compressed)),
            Some(Event::HalfClosed { .. }) => self.half_closed = true,
            Some(Event::Finished {
                status, trailers, ..
            }) => self.end = Some((status, trailers)),
            Some(Event::Cancelled { status, .. }) => self.end = Some((status, Metadata::new())),
            Some(Event::CallStarted { .. } | Event::Writable { .. } | Event::GoAway { .. }) => {}
            None => {
                let code = match self.side {
                    Side::Client => Code::Unavailable,
                    Side::Server => Code::Cancelled,
                };
                let status = Status::new(code, "the connection is gone");
                self.end = Some((status, Metadata::new()));
            }
        }
    }

    /// The answer to `recv` if there is one without waiting: a message (which
    /// the caller reports consumed), `Ok(None)` at the end of the stream (the
    /// client's half-close, or the server's OK), or the status the call ended
    /// with. `None`: wait for the next event.
    pub fn poll_recv(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        if !self.ended_here {
            if let Some((message, compressed)) = self.messages.pop() {
                self.recv_compressed = compressed;
                return Some(Ok(Some(message)));
            }
        }
        match (&self.end, self.side) {
            (Some((status, _)), Side::Client) if status.is_ok() => Some(Ok(None)),
            (Some(_), Side::Server) if self.ended_here => {
                Some(Err(Status::new(Code::Internal, "the call is finished")))
            }
            (Some((status, _)), _) => Some(Err(status.clone())),
            (None, Side::Server) if self.half_closed => Some(Ok(None)),
            (None, _) => None,
        }
    }

    /// Whether the message `poll_recv` last handed out arrived compressed.
    pub fn recv_compressed(&self) -> bool {
        self.recv_compressed
    }

    /// Client: the server's initial metadata if known without waiting (empty
    /// once the call ended without any: a Trailers-Only response).
    pub fn poll_headers(&mut self) -> Option<&Metadata> {
        if self.headers.is_none() && self.end.is_some() {
            self.headers = Some(Metadata::new());
        }
        self.headers.as_ref()
    }

    /// The end of the call, once known.
    pub fn end(&self) -> Option<&(Status, Metadata)> {
        self.end.as_ref()
    }

    /// Whether the call is over, from either side.
    pub fn is_over(&self) -> bool {
        self.end.is_some()
    }

    /// Ends the call from this side (finish, cancel) unless it has ended;
    /// says whether it did, so the command goes to the connection once.
    pub fn end_here(&mut self, status: Status) -> bool {
        if self.end.is_some() {
            return false;
        }
        self.end = Some((status, Metadata::new()));
        self.ended_here = true;
        true
    }

    /// Client: what a refused send reports: the call's own end when the
    /// server ended it (say, UNIMPLEMENTED), else the refusal.
    pub fn refusal(&self, refused: Status) -> Status {
        match &self.end {
            Some((status, _)) if !status.is_ok() && !self.ended_here => status.clone(),
            _ => refused,
        }
    }
}

/// The messages received and not yet handed out, in order: the first in
/// place, the rest in a queue, so that a call with one request (most calls)
/// allocates nothing for it.
#[derive(Debug, Default)]
struct Messages {
    first: Option<(Bytes, bool)>,
    rest: VecDeque<(Bytes, bool)>,
}

impl Messages {
    fn push(&mut self, message: (Bytes, bool)) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(message);
        } else {
            self.rest.push_back(message);
        }
    }

    fn pop(&mut self) -> Option<(Bytes, bool)> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::CallId;

    fn message(call: CallId, text: &'static str, compressed: bool) -> Event {
        Event::Message {
            call,
            message: Bytes::from_static(text.as_bytes()),
            compressed,
        }
    }

    fn call() -> CallId {
        CallId(crate::h2::StreamId::new(1))
    }

    #[test]
    fn messages_come_out_in_order_however_arrivals_and_takes_interleave() {
        let mut state = CallState::server();
        let take = |state: &mut CallState| match state.poll_recv() {
            Some(Ok(Some(bytes))) => bytes,
            other => panic!("a message, not {other:?}"),
        };
        state.note(Some(message(call(), "a", false)));
        state.note(Some(message(call(), "b", false)));
        assert_eq!(take(&mut state), "a");
        state.note(Some(message(call(), "c", false)));
        assert_eq!(take(&mut state), "b");
        assert_eq!(take(&mut state), "c");
        state.note(Some(message(call(), "d", false)));
        assert_eq!(take(&mut state), "d");
        assert_eq!(state.poll_recv(), None, "nothing more yet");
    }

    #[test]
    fn client_hands_out_messages_then_the_end() {
        let mut state = CallState::client();
        assert_eq!(state.poll_recv(), None);
        assert_eq!(state.poll_headers(), None);
        state.note(Some(Event::Headers {
            call: call(),
            metadata: Metadata::new(),
        }));
        state.note(Some(message(call(), "a", true)));
        state.note(Some(Event::Finished {
            call: call(),
            status: Status::ok(),
            trailers: Metadata::new(),
        }));
        assert_eq!(state.poll_recv(), Some(Ok(Some(Bytes::from_static(b"a")))));
        assert!(state.recv_compressed());
        assert_eq!(state.poll_recv(), Some(Ok(None)));
        assert!(state.poll_headers().is_some());
    }

    #[test]
    fn a_vanished_connection_ends_each_side_with_its_code() {
        let mut client = CallState::client();
        client.note(None);
        assert_eq!(
            client.poll_recv().unwrap().unwrap_err().code(),
            Code::Unavailable
        );
        assert_eq!(client.poll_headers(), Some(&Metadata::new()));
        let mut server = CallState::server();
        server.note(None);
        assert_eq!(
            server.poll_recv().unwrap().unwrap_err().code(),
            Code::Cancelled
        );
    }

    #[test]
    fn server_sees_half_close_and_its_own_finish() {
        let mut state = CallState::server();
        state.note(Some(message(call(), "x", false)));
        state.note(Some(Event::HalfClosed { call: call() }));
        assert_eq!(state.poll_recv(), Some(Ok(Some(Bytes::from_static(b"x")))));
        assert_eq!(state.poll_recv(), Some(Ok(None)));
        assert!(state.end_here(Status::ok()));
        assert!(!state.end_here(Status::ok()), "only once");
        assert_eq!(
            state.poll_recv().unwrap().unwrap_err().code(),
            Code::Internal
        );
    }

    #[test]
    fn a_refused_send_reports_the_servers_end_but_not_our_cancel() {
        let refused = Status::new(Code::Cancelled, "the call ended");
        let mut state = CallState::client();
        state.note(Some(Event::Finished {
            call: call(),
            status: Status::new(Code::Unimplemented, "no"),
            trailers: Metadata::new(),
        }));
        assert_eq!(state.refusal(refused.clone()).code(), Code::Unimplemented);
        let mut cancelled = CallState::client();
        cancelled.end_here(Status::new(Code::Cancelled, "cancelled"));
        assert_eq!(cancelled.refusal(refused).code(), Code::Cancelled);
        assert_eq!(
            cancelled.poll_recv().unwrap().unwrap_err().code(),
            Code::Cancelled
        );
    }
}
