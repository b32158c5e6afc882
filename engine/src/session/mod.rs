//! A connection as an adapter drives it: the engine's [`Connection`], the
//! [`Switchboard`] of its calls, and the output taken from it but not yet
//! written. What is left to the adapter is the socket and the waiting: hand
//! [`receive`](Session::receive) what it reads, write what
//! [`poll_transmit`](Session::poll_transmit) gives and report it with
//! [`advance`](Session::advance), [`apply`](Session::apply) its handles'
//! commands, and wake at [`poll_timeout`](Session::poll_timeout).
//!
//! The pieces, each sans-IO: [`Switchboard`] routes a connection's events to
//! its calls' [`Inbox`]es and applies their [`Command`]s; [`CallState`] is one
//! call's end as its handle sees it; [`CancelToken`] tells a handler its call
//! ended. Threads, channels and waiting belong to the layer above
//! (`grpc-sansio-service`) or to the adapter.

mod call_state;
mod cancel;
mod switchboard;

pub use call_state::CallState;
pub use cancel::{CancelReason, CancelToken, Cancelled};
pub use switchboard::{Command, Inbox, Reply, Switchboard};

use std::time::Instant;

use crate::grpc::status::Status;
use crate::grpc::{CallId, CallOptions, Config, Connection, Event};

/// One connection, its calls' switchboard and its unwritten output. Sans-IO:
/// it reads no clock and touches no socket.
pub struct Session<I, R> {
    conn: Connection,
    board: Switchboard<I, R>,
    /// Output taken from the connection; `out[written..]` is not written yet.
    out: Vec<u8>,
    written: usize,
    /// `Config::write_buffer_size`.
    limit: usize,
    /// The transport failed or was cut: output is dropped.
    gone: bool,
    /// A bounded shutdown's deadline, when the transport is cut.
    cut_at: Option<Instant>,
}

impl<I: Inbox, R: Reply> Session<I, R> {
    /// A client connection. A message's flow-control credit goes back when
    /// its handle takes it ([`Command::Consumed`]), not when it is routed, so
    /// `config.release_on_poll` is turned off.
    pub fn client(config: Config, now: Instant) -> Self {
        Self::new(config, now, Connection::client)
    }

    /// A server connection; see [`client`](Self::client) on flow control.
    pub fn server(config: Config, now: Instant) -> Self {
        Self::new(config, now, Connection::server)
    }

    fn new(mut config: Config, now: Instant, role: fn(Config, Instant) -> Connection) -> Self {
        config.release_on_poll = false;
        let limit = config.write_buffer_size;
        Session {
            conn: role(config, now),
            board: Switchboard::new(),
            out: Vec::new(),
            written: 0,
            limit,
            gone: false,
            cut_at: None,
        }
    }

    /// The connection, for calls the adapter answers itself (no handle).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection, for calls the adapter answers itself. A message such a
    /// call is given must be reported with `message_consumed`.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Processes octets read from the transport. A connection error needs no
    /// answer here: the GOAWAY saying why is in the next `poll_transmit`, and
    /// the session closes after it.
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        let _ = self.conn.receive(now, data);
    }

    /// The transport closed or failed: unwritten output is dropped and every
    /// call ends (UNAVAILABLE for a client's, CANCELLED for a server's).
    pub fn transport_closed(&mut self) {
        self.gone = true;
        self.cut_at = None;
        self.out = Vec::new();
        self.written = 0;
        self.conn.transport_closed();
        // The calls' ends reach their handles now, not on the next poll.
        self.board.route_held(&mut self.conn);
    }

    /// The next event that is not an attached call's (those go to their
    /// inboxes): new calls, GOAWAY, events of calls the adapter answers itself.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.board.poll_event(&mut self.conn)
    }

    /// Routes `call`'s events to `inbox` from now on; see
    /// [`Switchboard::attach`].
    pub fn attach(&mut self, call: CallId, inbox: I) -> CancelToken {
        self.board.attach(call, inbox)
    }

    /// Starts a client call whose events go to `inbox`.
    pub fn start_call(
        &mut self,
        now: Instant,
        options: CallOptions,
        inbox: I,
    ) -> Result<CallId, Status> {
        self.board.start_call(&mut self.conn, now, options, inbox)
    }

    /// Carries out a handle's command.
    pub fn apply(&mut self, command: Command<R>) {
        self.board.apply(&mut self.conn, command);
    }

    /// Graceful shutdown: no new calls, running ones finish (GOAWAY, then
    /// close). With `cut_at`, the transport is given up at that instant if the
    /// connection is still open (a call that never ends, a peer that stops
    /// reading): unwritten output is dropped and the calls end as in
    /// [`transport_closed`](Self::transport_closed). The cut comes from
    /// [`handle_timeout`](Self::handle_timeout): an adapter whose thread can
    /// block in a write must close the socket from elsewhere as well.
    pub fn shutdown(&mut self, cut_at: Option<Instant>) {
        self.conn.shutdown();
        if let Some(at) = cut_at {
            self.cut_at = Some(self.cut_at.map_or(at, |due| due.min(at)));
        }
    }

    /// The octets to write next; empty when there are none. Attached calls'
    /// events are routed first (transmission makes room, and parked sends
    /// go in), and no more is taken from the connection once
    /// `write_buffer_size` octets are waiting (one turn of the connection's
    /// own output, its 256 KiB budget and the frame that crosses it, may go
    /// past it).
    pub fn poll_transmit(&mut self) -> &[u8] {
        loop {
            self.board.route_held(&mut self.conn);
            if self.gone || self.out.len() - self.written >= self.limit {
                break;
            }
            // Only before taking more does the written prefix go: a slow
            // reader's partial writes at the limit move no octets around.
            self.out.drain(..self.written);
            self.written = 0;
            if self.conn.poll_transmit(&mut self.out) == 0 {
                break;
            }
        }
        &self.out[self.written..]
    }

    /// Says that the transport took the first `written` octets of the last
    /// `poll_transmit`.
    pub fn advance(&mut self, written: usize) {
        self.written = (self.written + written).min(self.out.len());
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due: the
    /// connection's timers and a bounded shutdown's cut.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.conn.poll_timeout();
        match (timer, self.cut_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.cut_at.is_some_and(|at| at <= now) {
            return self.transport_closed();
        }
        self.conn.handle_timeout(now);
    }

    /// Whether the connection is over and its output written (or dropped):
    /// the transport can be closed.
    pub fn is_closed(&mut self) -> bool {
        self.conn.is_closed() && self.poll_transmit().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::grpc::metadata::Metadata;
    use crate::grpc::status::Code;

    /// A test's channel: both ends share one queue.
    struct Mailbox<T>(Rc<RefCell<VecDeque<T>>>);

    impl<T> Clone for Mailbox<T> {
        fn clone(&self) -> Self {
            Mailbox(Rc::clone(&self.0))
        }
    }

    impl<T> Mailbox<T> {
        fn try_recv(&self) -> Result<T, ()> {
            self.0.borrow_mut().pop_front().ok_or(())
        }
    }

    impl Inbox for Mailbox<Event> {
        fn deliver(&self, event: Event) {
            self.0.borrow_mut().push_back(event);
        }
    }

    impl Reply for Mailbox<Result<(), Status>> {
        fn reply(self, result: Result<(), Status>) {
            self.0.borrow_mut().push_back(result);
        }
    }

    fn channel<T>() -> (Mailbox<T>, Mailbox<T>) {
        let mailbox = Mailbox(Rc::default());
        (mailbox.clone(), mailbox)
    }

    type Done = Mailbox<Result<(), Status>>;
    type Side = Session<Mailbox<Event>, Done>;

    fn pair(now: Instant) -> (Side, Side) {
        (
            Session::client(Config::client(), now),
            Session::server(Config::server(), now),
        )
    }

    /// Moves output from `from` to `to`, at most `chunk` octets per write.
    fn deliver(from: &mut Side, to: &mut Side, now: Instant, chunk: usize) -> bool {
        let mut moved = false;
        loop {
            let out = from.poll_transmit();
            if out.is_empty() {
                return moved;
            }
            let n = out.len().min(chunk);
            to.receive(now, &out[..n]);
            from.advance(n);
            moved = true;
        }
    }

    fn drive(client: &mut Side, server: &mut Side, now: Instant, chunk: usize) {
        while deliver(client, server, now, chunk) | deliver(server, client, now, chunk) {}
    }

    /// The call a client started, attached to a handle's inbox, as an
    /// adapter does it: every event polled, held ones routed once attached.
    fn accept(server: &mut Side) -> (CallId, Mailbox<Event>) {
        let mut attached = None;
        while let Some(event) = server.poll_event() {
            if let Event::CallStarted { call, .. } = event {
                let (tx, rx) = channel();
                server.attach(call, tx);
                attached = Some((call, rx));
            }
        }
        attached.expect("a call started")
    }

    fn events(inbox: &Mailbox<Event>) -> Vec<Event> {
        inbox.0.borrow_mut().drain(..).collect()
    }

    fn status_of(events: &[Event]) -> Option<Code> {
        events.iter().find_map(|e| match e {
            Event::Finished { status, .. } | Event::Cancelled { status, .. } => Some(status.code()),
            _ => None,
        })
    }

    #[test]
    fn a_call_survives_writes_of_seven_octets() {
        let now = Instant::now();
        let (mut client, mut server) = pair(now);
        let (tx, client_inbox) = channel();
        let call = client
            .start_call(now, CallOptions::new("/pkg.Svc/Echo"), tx)
            .expect("started");
        let (done, sent) = channel();
        client.apply(Command::Send(
            call,
            Bytes::from_static(b"ping"),
            false,
            done,
        ));
        client.apply(Command::CloseSend(call));
        drive(&mut client, &mut server, now, 7);
        assert_eq!(sent.try_recv(), Ok(Ok(())));

        let (server_call, server_inbox) = accept(&mut server);
        let got = events(&server_inbox);
        assert!(got
            .iter()
            .any(|e| matches!(e, Event::Message { message, .. } if message == "ping")));
        assert!(got.iter().any(|e| matches!(e, Event::HalfClosed { .. })));
        server.apply(Command::Consumed(server_call));
        let (done, _) = channel();
        server.apply(Command::Send(
            server_call,
            Bytes::from_static(b"pong"),
            false,
            done,
        ));
        server.apply(Command::Finish(server_call, Status::ok(), Metadata::new()));
        drive(&mut client, &mut server, now, 7);

        let got = events(&client_inbox);
        assert!(got
            .iter()
            .any(|e| matches!(e, Event::Message { message, .. } if message == "pong")));
        assert_eq!(status_of(&got), Some(Code::Ok));
    }

    #[test]
    fn output_stops_at_the_write_buffer_size_while_the_peer_does_not_read() {
        let now = Instant::now();
        let mut wide = Config::client();
        // Flow control must not be what stops the server here.
        wide.h2.initial_stream_window = 8 << 20;
        wide.h2.connection_window = 8 << 20;
        let narrow = Config {
            write_buffer_size: 4 << 10,
            ..Config::server()
        };
        let mut client: Side = Session::client(wide, now);
        let mut server: Side = Session::server(narrow, now);
        let (tx, client_inbox) = channel();
        client
            .start_call(now, CallOptions::new("/pkg.Svc/Flood"), tx)
            .expect("started");
        drive(&mut client, &mut server, now, usize::MAX);
        let (call, _server_inbox) = accept(&mut server);
        let mut replies = Vec::new();
        for _ in 0..64 {
            let (done, taken) = channel();
            server.apply(Command::Send(
                call,
                Bytes::from(vec![7u8; 16 << 10]),
                false,
                done,
            ));
            replies.push(taken);
        }
        // The client reads nothing: one turn of the connection's output (its
        // own budget is 256 KiB) is taken, then no more.
        let waiting = server.poll_transmit().len();
        assert!((4 << 10..300 << 10).contains(&waiting), "{waiting}");
        assert_eq!(
            server.poll_transmit().len(),
            waiting,
            "nothing more is taken"
        );
        // The client reads again: every message goes out and arrives.
        drive(&mut client, &mut server, now, usize::MAX);
        assert!(replies.iter().all(|r| r.try_recv() == Ok(Ok(()))));
        let messages = events(&client_inbox)
            .into_iter()
            .filter(|e| matches!(e, Event::Message { .. }))
            .count();
        assert_eq!(messages, 64);
    }

    #[test]
    fn a_bounded_shutdown_cuts_a_call_that_never_ends() {
        let now = Instant::now();
        let (mut client, mut server) = pair(now);
        let (tx, client_inbox) = channel();
        client
            .start_call(now, CallOptions::new("/pkg.Svc/Hang"), tx)
            .expect("started");
        drive(&mut client, &mut server, now, usize::MAX);
        let (_call, server_inbox) = accept(&mut server);
        let cut_at = now + Duration::from_secs(1);
        server.shutdown(Some(cut_at));
        drive(&mut client, &mut server, now, usize::MAX);
        assert!(!server.is_closed(), "the call still runs");
        assert!(server.poll_timeout().is_some_and(|t| t <= cut_at));

        server.handle_timeout(cut_at);
        assert_eq!(status_of(&events(&server_inbox)), Some(Code::Cancelled));
        assert!(server.is_closed());
        assert!(
            server.poll_transmit().is_empty(),
            "a cut transport writes nothing"
        );
        // The client learns of it from the closed socket.
        client.transport_closed();
        assert_eq!(status_of(&events(&client_inbox)), Some(Code::Unavailable));
    }

    #[test]
    fn unwritten_output_keeps_the_session_open() {
        let now = Instant::now();
        let (mut client, mut server) = pair(now);
        drive(&mut client, &mut server, now, usize::MAX);
        server.shutdown(None);
        // GOAWAY and PING wait unwritten: not closed yet.
        assert!(!server.poll_transmit().is_empty());
        assert!(!server.is_closed());
        drive(&mut client, &mut server, now, usize::MAX);
        assert!(server.is_closed(), "final GOAWAY written, no calls");
    }
}
