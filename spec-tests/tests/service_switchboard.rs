//! The engine's `Switchboard` and `CallState`, the per-call books every
//! adapter keeps, driven here on an in-memory pair exactly as an adapter
//! drives them: events routed to a handle's inbox, commands applied, sends
//! parked while the send buffer is full.

use std::sync::mpsc::Receiver;

use spec_tests::mailbox::{channel, Tx};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, CallOptions, Config, Event};
use grpc_sansio::session::{CallState, Command, Switchboard};
use grpc_sansio::testing::{GrpcPair, Side};
use grpc_sansio_service::CancelToken;

type Board = Switchboard<Tx<Event>, Tx<Result<(), Status>>>;

/// The server side as an adapter runs it: a pair whose server events stay in
/// the connection until routed through the switchboard.
struct Harness {
    pair: GrpcPair,
    board: Board,
    inbox: Option<(CallId, Receiver<Event>, CancelToken)>,
}

impl Harness {
    fn new(server: Config) -> Harness {
        let mut pair = GrpcPair::with_configs(Config::client(), server);
        pair.set_collect(Side::Server, false);
        Harness {
            pair,
            board: Switchboard::new(),
            inbox: None,
        }
    }

    /// Moves bytes both ways and routes the server's events until quiet (an
    /// unparked send has more to move).
    fn drive(&mut self) {
        loop {
            self.pair.drive();
            let mut routed = false;
            while let Some(event) = self.pair.server().poll_event() {
                routed = true;
                let server = self.pair.server();
                if let Some(Event::CallStarted { call, .. }) = self.board.route(server, event) {
                    let (tx, rx) = channel();
                    let token = self.board.attach(call, tx);
                    self.inbox = Some((call, rx, token));
                }
            }
            if !routed {
                return;
            }
        }
    }

    fn call(&self) -> CallId {
        self.inbox.as_ref().expect("a call started").0
    }

    /// A half-closed streaming call on a server whose per-stream send buffer
    /// is 64 KiB: a few 48 KiB sends fill it.
    fn narrow_stream() -> (Harness, CallId) {
        let mut server = Config::server();
        server.h2.max_send_buffer_per_stream = 64 << 10;
        Harness::half_closed(server, "/pkg.Svc/Stream")
    }

    /// A harness whose client started a call to `path` and half-closed,
    /// and that call on the server.
    fn half_closed(server: Config, path: &str) -> (Harness, CallId) {
        let mut h = Harness::new(server);
        let client_call = h.pair.start_call(CallOptions::new(path));
        h.pair.client().close_send(client_call).unwrap();
        h.drive();
        let call = h.call();
        (h, call)
    }

    fn apply(&mut self, command: Command<Tx<Result<(), Status>>>) {
        self.board.apply(self.pair.server(), command);
    }

    /// What the handle's state makes of its inbox so far.
    fn take_into(&self, state: &mut CallState) {
        let (_, rx, _) = self.inbox.as_ref().expect("a call started");
        while let Ok(event) = rx.try_recv() {
            state.note(Some(event));
        }
    }
}

#[test]
fn messages_and_half_close_reach_the_handle_and_it_answers() {
    let mut h = Harness::new(Config::server());
    let client_call = h.pair.start_call(CallOptions::new("/pkg.Svc/Echo"));
    h.pair
        .client()
        .send_message(client_call, Bytes::from_static(b"ping"))
        .unwrap();
    h.pair.client().close_send(client_call).unwrap();
    h.drive();

    let mut state = CallState::server();
    h.take_into(&mut state);
    assert_eq!(
        state.poll_recv(),
        Some(Ok(Some(Bytes::from_static(b"ping"))))
    );
    assert_eq!(state.poll_recv(), Some(Ok(None)), "half-closed");

    let call = h.call();
    h.apply(Command::Consumed(call));
    let (done, replies) = channel();
    h.apply(Command::Send(call, Bytes::from_static(b"pong"), true, done));
    assert_eq!(replies.try_recv(), Ok(Ok(())), "taken at once");
    h.apply(Command::Finish(call, Status::ok(), Default::default()));
    h.drive();

    let events = h.pair.client_events();
    assert!(events.iter().any(|e| matches!(e,
        Event::Message { message, .. } if message == &Bytes::from_static(b"pong"))));
    assert!(events.iter().any(|e| matches!(e,
        Event::Finished { status, .. } if status.is_ok())));
}

#[test]
fn a_client_cancel_fires_the_token_and_ends_the_handle() {
    let mut h = Harness::new(Config::server());
    let client_call = h.pair.start_call(CallOptions::new("/pkg.Svc/Slow"));
    h.drive();
    let token = h.inbox.as_ref().unwrap().2.clone();
    assert!(!token.is_cancelled());

    h.pair.client().cancel(client_call).unwrap();
    h.drive();
    assert!(token.is_cancelled());
    let mut state = CallState::server();
    h.take_into(&mut state);
    assert_eq!(
        state.poll_recv().unwrap().unwrap_err().code(),
        Code::Cancelled
    );
}

/// Sends beyond the send buffer wait in the switchboard and are taken, in
/// order, as the client reads; the call's end fails the ones still waiting.
#[test]
fn sends_park_while_full_and_fail_when_the_call_ends() {
    let (mut h, call) = Harness::narrow_stream();

    let (done, replies) = channel();
    let chunk = Bytes::from(vec![7u8; 48 << 10]);
    for _ in 0..4 {
        h.apply(Command::Send(call, chunk.clone(), false, done.clone()));
    }
    let taken_at_once = replies.try_iter().count();
    assert!(
        taken_at_once < 4,
        "some sends must wait, {taken_at_once} taken"
    );

    // The client reads: window and buffer free up, Writable unparks the rest.
    h.drive();
    let taken_later = replies.try_iter().count();
    assert_eq!(
        taken_at_once + taken_later,
        4,
        "every send taken in the end"
    );

    for _ in 0..4 {
        h.apply(Command::Send(call, chunk.clone(), false, done.clone()));
    }
    let before = replies.try_iter().filter(|r| r.is_ok()).count();
    assert!(before < 4);
    h.apply(Command::Cancel(call));
    let after: Vec<_> = replies.try_iter().collect();
    assert_eq!(before + after.len(), 4, "every parked send answered");
    assert!(after.iter().all(|r| r.is_err()), "{after:?}");
}

/// The last message and the end in one command: behind parked sends, and
/// parked itself while the buffer is full, the message arrives before the
/// status, never dropped by the end that follows it.
#[test]
fn send_and_finish_waits_behind_parked_sends_and_ends_after_its_message() {
    let (mut h, call) = Harness::narrow_stream();

    let (done, replies) = channel();
    let chunk = Bytes::from(vec![7u8; 48 << 10]);
    for _ in 0..3 {
        h.apply(Command::Send(call, chunk.clone(), false, done.clone()));
    }
    assert!(replies.try_iter().count() < 3, "some sends must park");
    let last = Bytes::from(vec![9u8; 40 << 10]);
    let trailers = Metadata::new();
    h.apply(Command::SendAndFinish(
        call,
        last,
        false,
        Status::ok(),
        trailers,
    ));
    h.drive();

    let events = h.pair.client_events();
    let sizes: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message { message, .. } => Some(message.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [48 << 10, 48 << 10, 48 << 10, 40 << 10]);
    let end = events
        .iter()
        .position(|e| matches!(e, Event::Finished { .. }));
    let last_message = events
        .iter()
        .rposition(|e| matches!(e, Event::Message { .. }));
    assert!(end > last_message, "the status comes after every message");
    assert!(matches!(&events[end.unwrap()],
        Event::Finished { status, .. } if status.is_ok()));
}

/// A last message the engine refuses ends the call with the refusal, not with
/// the OK the handler gave: nothing is lost silently.
#[test]
fn send_and_finish_with_a_refused_message_ends_with_the_refusal() {
    let mut server = Config::server();
    server.max_send_message_size = 1024;
    let (mut h, call) = Harness::half_closed(server, "/pkg.Svc/Unary");

    let too_large = Bytes::from(vec![1u8; 4096]);
    let trailers = Metadata::new();
    h.apply(Command::SendAndFinish(
        call,
        too_large,
        false,
        Status::ok(),
        trailers,
    ));
    h.drive();

    let events = h.pair.client_events();
    assert!(!events.iter().any(|e| matches!(e, Event::Message { .. })));
    let status = events.iter().find_map(|e| match e {
        Event::Finished { status, .. } => Some(status.clone()),
        _ => None,
    });
    let status = status.expect("the call ended");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

/// A connection whose owner stops driving it (its thread ends, its task is
/// dropped) cancels the tokens of the calls still attached.
#[test]
fn dropping_the_switchboard_cancels_what_is_still_attached() {
    let mut h = Harness::new(Config::server());
    h.pair.start_call(CallOptions::new("/pkg.Svc/Slow"));
    h.drive();
    let token = h.inbox.as_ref().unwrap().2.clone();
    assert!(!token.is_cancelled());
    drop(h);
    assert!(token.is_cancelled());
}

/// A command applied while the engine holds events of a call not yet attached
/// (its `CallStarted` not yet seen by the adapter) keeps them: once attached,
/// the call gets them in order.
#[test]
fn events_held_across_a_command_reach_a_call_attached_later() {
    let mut h = Harness::new(Config::server());
    h.pair.start_call(CallOptions::new("/pkg.Svc/First"));
    h.drive();
    let first = h.call();
    let second = h.pair.start_call(CallOptions::new("/pkg.Svc/Second"));
    let client = h.pair.client();
    client
        .send_message(second, Bytes::from_static(b"one"))
        .unwrap();
    client.close_send(second).unwrap();
    h.pair.drive();
    // A command for the first call takes the engine's events first.
    h.apply(Command::Headers(first, Metadata::new()));
    let Some(Event::CallStarted { call, request }) = h.board.poll_event(h.pair.server()) else {
        panic!("the new call comes out first");
    };
    assert_eq!(request.path, "/pkg.Svc/Second");
    let (tx, rx) = channel();
    h.board.attach(call, tx);
    assert!(h.board.poll_event(h.pair.server()).is_none());
    let mut state = CallState::server();
    while let Ok(event) = rx.try_recv() {
        state.note(Some(event));
    }
    assert_eq!(
        state.poll_recv(),
        Some(Ok(Some(Bytes::from_static(b"one"))))
    );
    assert_eq!(state.poll_recv(), Some(Ok(None)), "then the half-close");
}

/// A send refused because the call just ended finds that end in the inbox:
/// the switchboard routes what the engine holds before applying a command.
#[test]
fn a_send_refused_after_the_peer_cancelled_reports_the_cancellation() {
    let mut h = Harness::new(Config::server());
    let client_call = h.pair.start_call(CallOptions::new("/pkg.Svc/Echo"));
    h.drive();
    let call = h.call();
    h.pair.client().cancel(client_call).unwrap();
    h.pair.drive(); // the RST_STREAM arrives; its event is not routed yet
    let (done, reply) = channel();
    h.apply(Command::Send(call, Bytes::from_static(b"late"), true, done));
    assert!(reply.try_recv().unwrap().is_err(), "the send is refused");
    let mut state = CallState::server();
    h.take_into(&mut state);
    let (status, _) = state.end().expect("the end is already in the inbox");
    assert_eq!(status.code(), Code::Cancelled);
}
