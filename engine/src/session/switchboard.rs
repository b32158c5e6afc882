//! What every adapter that hands calls to other threads or tasks needs beside
//! its socket, written once: each call's inbox and cancellation token, the
//! sends parked while the connection's send buffer is full, and the commands
//! call handles send to the connection's owner. Sans-IO: the adapter chooses
//! the channels (an [`Inbox`] and a [`Reply`]), takes the engine's events
//! through [`poll_event`](Switchboard::poll_event) (which routes those of
//! attached calls and returns the rest) and calls
//! [`apply`](Switchboard::apply) for each command. The call handles at the
//! other end are in the service crate (`grpc-sansio-service`).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::CancelToken;
use crate::grpc::compression::Encoding;
use crate::grpc::metadata::Metadata;
use crate::grpc::status::{Code, Status};
use crate::grpc::{CallError, CallId, CallOptions, Connection, Event};
use crate::hash::FxHashMap;

/// Where a call's events go: the sending half of the handle's channel.
pub trait Inbox {
    /// Hands over one event; a handle that is gone drops it.
    fn deliver(&self, event: Event);
}

/// How a parked send tells its handle that the engine took the message, or
/// why not.
pub trait Reply {
    /// Reports the outcome of one send.
    fn reply(self, result: Result<(), Status>);
}

/// What a call handle asks of its connection. Starting a call is the
/// adapter's (it makes the channels): [`Connection::start_call`], then
/// [`Switchboard::attach`].
#[derive(Debug)]
pub enum Command<R> {
    /// Server: response headers with this initial metadata.
    Headers(CallId, Metadata),
    /// Server: compress the responses (the handle checked it is allowed).
    Encoding(CallId, Encoding),
    /// A message, whether to compress it, and whom to tell once taken.
    Send(CallId, Bytes, bool, R),
    /// Client: half-close, after any parked message.
    CloseSend(CallId),
    /// Server: the status and trailers.
    Finish(CallId, Status, Metadata),
    /// Server: the last message (and whether to compress it), then the
    /// status and trailers, in one command: the handle does not wait for the
    /// message to be taken, as nothing follows it. If the engine refuses the
    /// message (too large, say), the call ends with the refusal instead.
    SendAndFinish(CallId, Bytes, bool, Status, Metadata),
    /// Reset the call (RST_STREAM CANCEL).
    Cancel(CallId),
    /// The handle took one message: its flow-control credit may go back.
    Consumed(CallId),
}

impl<R> Command<R> {
    /// The same command with its send's reply wrapped by `wrap`: for an
    /// adapter whose connections take replies of several kinds (a worker's
    /// channel, an inline task's waker).
    pub fn map_reply<S>(self, wrap: impl FnOnce(R) -> S) -> Command<S> {
        match self {
            Command::Headers(call, metadata) => Command::Headers(call, metadata),
            Command::Encoding(call, encoding) => Command::Encoding(call, encoding),
            Command::Send(call, message, compress, reply) => {
                Command::Send(call, message, compress, wrap(reply))
            }
            Command::CloseSend(call) => Command::CloseSend(call),
            Command::Finish(call, status, trailers) => Command::Finish(call, status, trailers),
            Command::SendAndFinish(call, message, compress, status, trailers) => {
                Command::SendAndFinish(call, message, compress, status, trailers)
            }
            Command::Cancel(call) => Command::Cancel(call),
            Command::Consumed(call) => Command::Consumed(call),
        }
    }
}

/// What a send parked behind a call's end reads.
fn call_ended() -> Status {
    Status::new(Code::Cancelled, "the call ended")
}

/// What waits for send capacity, in order.
enum Parked<R> {
    Message(Bytes, bool, R),
    /// A half-close issued behind parked messages.
    CloseSend,
    /// The last message and the end behind it ([`Command::SendAndFinish`]).
    Last(Bytes, bool, Status, Metadata),
}

/// The calls of one connection whose handles live elsewhere.
pub struct Switchboard<I, R> {
    inboxes: FxHashMap<CallId, (I, CancelToken)>,
    parked: FxHashMap<CallId, VecDeque<Parked<R>>>,
    /// Events taken from the engine before a command, for the adapter.
    unrouted: VecDeque<Event>,
}

impl<I, R> Default for Switchboard<I, R> {
    fn default() -> Self {
        Switchboard {
            inboxes: FxHashMap::default(),
            parked: FxHashMap::default(),
            unrouted: VecDeque::new(),
        }
    }
}

impl<I: Inbox, R: Reply> Switchboard<I, R> {
    /// An empty switchboard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `call`'s events to `inbox` from now on; the token fires when the
    /// call ends with a non-OK status, so a handler that is not reading sees it.
    pub fn attach(&mut self, call: CallId, inbox: I) -> CancelToken {
        let token = CancelToken::new();
        self.inboxes.insert(call, (inbox, token.clone()));
        token
    }

    /// Starts a client call whose events go to `inbox`.
    pub fn start_call(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        options: CallOptions,
        inbox: I,
    ) -> Result<CallId, Status> {
        let call = conn.start_call(now, options).map_err(|e| e.to_status())?;
        self.attach(call, inbox);
        Ok(call)
    }

    /// The adapter's loop calls this until `None`: it routes the engine's
    /// events to their calls and returns the others (new calls, GOAWAY,
    /// events of calls the adapter runs itself), in order.
    pub fn poll_event(&mut self, conn: &mut Connection) -> Option<Event> {
        // Held events are routed again: their call may be attached by now.
        while let Some(event) = self.unrouted.pop_front().or_else(|| conn.poll_event()) {
            if let Some(event) = self.route(conn, event) {
                return Some(event);
            }
        }
        None
    }

    /// Delivers an event of an attached call (unparking sends on
    /// [`Event::Writable`], firing the token and forgetting the call on its
    /// end); gives back every other event (new calls, GOAWAY, calls the
    /// adapter runs itself).
    pub fn route(&mut self, conn: &mut Connection, event: Event) -> Option<Event> {
        let call = match &event {
            Event::Headers { call, .. }
            | Event::Message { call, .. }
            | Event::HalfClosed { call }
            | Event::Finished { call, .. }
            | Event::Cancelled { call, .. }
            | Event::Writable { call } => *call,
            Event::CallStarted { .. } | Event::GoAway { .. } => return Some(event),
        };
        if !self.inboxes.contains_key(&call) {
            return Some(event);
        }
        match &event {
            Event::Writable { .. } => self.unpark(conn, call),
            Event::Finished { status, .. } | Event::Cancelled { status, .. } => {
                let (inbox, token) = self.forget(call, || status.clone()).expect("attached");
                if !status.is_ok() {
                    token.cancel_for(status);
                }
                inbox.deliver(event);
            }
            // A handle that is gone has its finish or cancel on the way: the
            // event is dropped and the call's credit returns when it ends.
            _ => self.inboxes[&call].0.deliver(event),
        }
        None
    }

    /// Carries out a handle's command.
    pub fn apply(&mut self, conn: &mut Connection, command: Command<R>) {
        // What the engine has to say goes first: a send refused because its
        // call just ended must find that end in the call's inbox.
        self.route_held(conn);
        match command {
            Command::Headers(call, metadata) => drop(conn.send_headers(call, &metadata)),
            Command::Encoding(call, encoding) => drop(conn.set_send_encoding(call, encoding)),
            Command::Send(call, message, compress, reply) => match self.parked.get_mut(&call) {
                // Keep order: behind the parked messages.
                Some(queue) => queue.push_back(Parked::Message(message, compress, reply)),
                // Nothing parked: straight in, parked only if refused for room.
                None => match conn.send_or_keep(call, message, compress) {
                    Err((CallError::Full(_), Some(message))) => {
                        let parked = Parked::Message(message, compress, reply);
                        self.parked.insert(call, VecDeque::from([parked]));
                    }
                    result => reply.reply(result.map_err(|(e, _)| e.to_status())),
                },
            },
            Command::CloseSend(call) => match self.parked.get_mut(&call) {
                // Keep order: half-close after the parked messages.
                Some(queue) => queue.push_back(Parked::CloseSend),
                None => drop(conn.close_send(call)),
            },
            Command::Finish(call, status, trailers) => {
                self.forget(call, call_ended);
                let _ = conn.finish(call, &status, &trailers);
            }
            Command::SendAndFinish(call, message, compress, status, trailers) => {
                let last = Parked::Last(message, compress, status, trailers);
                match self.parked.get_mut(&call) {
                    // Keep order: behind the parked messages.
                    Some(queue) => queue.push_back(last),
                    None => {
                        if let Some(last) = self.send_last(conn, call, last) {
                            self.parked.insert(call, VecDeque::from([last]));
                        }
                    }
                }
            }
            Command::Cancel(call) => {
                self.forget(call, call_ended);
                let _ = conn.cancel(call);
            }
            Command::Consumed(call) => conn.message_consumed(call),
        }
    }

    /// Routes every event the engine holds, keeping the others, in order,
    /// for [`poll_event`](Self::poll_event).
    pub(crate) fn route_held(&mut self, conn: &mut Connection) {
        while let Some(event) = conn.poll_event() {
            if let Some(event) = self.route(conn, event) {
                self.unrouted.push_back(event);
            }
        }
    }

    /// Drops the call, failing its parked sends with `status()` (made only
    /// for them: most calls end with none parked).
    fn forget(&mut self, call: CallId, status: impl Fn() -> Status) -> Option<(I, CancelToken)> {
        for parked in self.parked.remove(&call).into_iter().flatten() {
            if let Parked::Message(_, _, reply) = parked {
                reply.reply(Err(status()));
            }
        }
        self.inboxes.remove(&call)
    }

    /// Hands parked messages to the engine until it is full again.
    fn unpark(&mut self, conn: &mut Connection, call: CallId) {
        let Some(queue) = self.parked.get_mut(&call) else {
            return;
        };
        while let Some(parked) = queue.pop_front() {
            match parked {
                Parked::Message(message, compress, reply) => {
                    match conn.send_or_keep(call, message, compress) {
                        Err((CallError::Full(_), Some(message))) => {
                            return queue.push_front(Parked::Message(message, compress, reply));
                        }
                        result => reply.reply(result.map_err(|(e, _)| e.to_status())),
                    }
                }
                Parked::CloseSend => drop(conn.close_send(call)),
                // Nothing is queued behind the end.
                last @ Parked::Last(..) => {
                    self.parked.remove(&call);
                    if let Some(last) = self.send_last(conn, call, last) {
                        self.parked.insert(call, VecDeque::from([last]));
                    }
                    return;
                }
            }
        }
        self.parked.remove(&call);
    }

    /// Sends the last message of a [`Command::SendAndFinish`] and ends the
    /// call, or gives it back when the engine is full (nothing else is parked
    /// for the call then).
    fn send_last(
        &mut self,
        conn: &mut Connection,
        call: CallId,
        last: Parked<R>,
    ) -> Option<Parked<R>> {
        let Parked::Last(message, compress, status, trailers) = last else {
            return Some(last);
        };
        let status = match conn.send_or_keep(call, message, compress) {
            Err((CallError::Full(_), Some(message))) => {
                return Some(Parked::Last(message, compress, status, trailers));
            }
            Err((refused, _)) => refused.to_status(),
            Ok(()) => status,
        };
        self.forget(call, call_ended);
        let _ = conn.finish(call, &status, &trailers);
        None
    }
}

/// A connection that ends with calls still attached (its owner stopped
/// driving it) cancels their tokens: a handler that is not reading learns of
/// it without waiting for an event that will never come.
impl<I, R> Drop for Switchboard<I, R> {
    fn drop(&mut self) {
        let gone = Status::new(Code::Cancelled, "the connection is gone");
        for (_, token) in self.inboxes.values() {
            token.cancel_for(&gone);
        }
    }
}
