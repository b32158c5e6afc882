//! The executor and its link between two real sessions in memory: a client
//! driven by hand, a server whose calls are tasks polled by the test's turn.

use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use super::*;
use crate::handle::SendDone;
use crate::{AsyncServerCall, Origin, Session};
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::{CallOptions, Config};

type Call = AsyncServerCall<LocalLink<u8>>;
type Handler = Box<dyn Fn(Call) -> BoxFuture<'static, ()>>;

/// A client session, a server session serving each call as a task, and the
/// executor, turned by hand.
struct Rig {
    now: Instant,
    client: Session<crate::channel::Sender<Event>, SendDone>,
    server: Session<LocalInbox, LocalDone>,
    tasks: LocalExecutor<u8>,
    handler: Handler,
    /// Whether the client reads what the server writes.
    reading: bool,
    /// Polls done by the turns so far.
    polls: usize,
    /// Octets the client wrote so far.
    uploaded: usize,
}

impl Rig {
    fn new(server: Config, handler: impl Fn(Call) -> BoxFuture<'static, ()> + 'static) -> Rig {
        let now = Instant::now();
        let mut rig = Rig {
            now,
            client: Session::client(Config::client(), now),
            server: Session::server(server, now),
            // The test never waits: nothing to notify.
            tasks: LocalExecutor::new(|| {}),
            handler: Box::new(handler),
            reading: true,
            polls: 0,
            uploaded: 0,
        };
        rig.turn();
        rig
    }

    fn start(&mut self, path: &str) -> (CallId, crate::channel::Receiver<Event>) {
        let (tx, inbox) = crate::channel::channel();
        let mut options = CallOptions::new(path);
        options.timeout = Some(Duration::from_secs(1));
        let call = self.client.start_call(self.now, options, tx).unwrap();
        (call, inbox)
    }

    fn send(&mut self, call: CallId, message: &'static [u8], last: bool) {
        let (done, _) = crate::channel::channel();
        let message = Bytes::from_static(message);
        self.client.apply(Command::Send(call, message, false, done));
        if last {
            self.client.apply(Command::CloseSend(call));
        }
    }

    /// Octets both ways, events routed, tasks polled and their commands
    /// applied, until nothing moves.
    fn turn(&mut self) {
        loop {
            let uploaded = deliver(&mut self.client, &mut self.server, self.now);
            self.uploaded += uploaded;
            let mut moved = uploaded > 0;
            if self.reading {
                moved |= deliver(&mut self.server, &mut self.client, self.now) > 0;
            }
            while let Some(event) = self.server.poll_event() {
                if let Event::CallStarted { call, request } = event {
                    let (link, inbox) = self.tasks.link(7);
                    let cancel = self.server.attach(call, inbox);
                    let origin = Arc::new(Origin {
                        peer_addr: "unix".into(),
                        local_addr: "/tmp/s.sock".into(),
                        clock: Arc::new(Instant::now),
                    });
                    let call = AsyncServerCall::new(call, request, link, origin, cancel);
                    self.tasks.spawn((self.handler)(call));
                    moved = true;
                }
            }
            let polled = self.tasks.poll_ready();
            self.polls += polled;
            moved |= polled > 0;
            for (key, command) in self.tasks.take_commands() {
                assert_eq!(key, 7, "the link's connection");
                self.server.apply(command);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// What reached the client's call, its messages taken (their credit
    /// returned).
    fn received(
        &mut self,
        call: CallId,
        inbox: &crate::channel::Receiver<Event>,
    ) -> (Vec<Bytes>, Option<Code>) {
        let (mut messages, mut end) = (Vec::new(), None);
        while let Some(event) = inbox.try_recv() {
            match event {
                Event::Message { message, .. } => {
                    self.client.apply(Command::Consumed(call));
                    messages.push(message);
                }
                Event::Finished { status, .. } => end = Some(status.code()),
                _ => {}
            }
        }
        (messages, end)
    }
}

/// Moves `from`'s output to `to`; returns how many octets.
fn deliver<I: Inbox, R: Reply, J: Inbox, S: Reply>(
    from: &mut Session<I, R>,
    to: &mut Session<J, S>,
    now: Instant,
) -> usize {
    let out = from.poll_transmit();
    let n = out.len();
    if n > 0 {
        to.receive(now, out);
        from.advance(n);
    }
    n
}

fn echo(mut call: Call) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let request = call.recv().await.ok().flatten().unwrap_or_default();
        if call.send(request).await.is_ok() {
            call.finish(Status::ok(), Metadata::new());
        }
    })
}

#[test]
fn a_future_ready_at_once_is_polled_once() {
    let mut rig = Rig::new(Config::server(), |call: Call| {
        Box::pin(async move {
            call.finish(Status::new(Code::NotFound, "no one"), Metadata::new());
        })
    });
    let (call, inbox) = rig.start("/pkg.Svc/Get");
    rig.turn();
    assert_eq!(rig.polls, 1, "completed on its first poll");
    assert!(rig.tasks.is_empty());
    assert_eq!(rig.received(call, &inbox).1, Some(Code::NotFound));
}

#[test]
fn a_task_waiting_for_a_message_sleeps_until_it_arrives() {
    let mut rig = Rig::new(Config::server(), echo);
    let (call, inbox) = rig.start("/pkg.Svc/Echo");
    rig.turn();
    assert_eq!(rig.tasks.len(), 1, "waits in recv");
    let polls = rig.polls;
    rig.turn();
    assert_eq!(rig.polls, polls, "not polled while nothing arrives");
    assert!(!rig.tasks.has_work());

    rig.send(call, b"ping", true);
    rig.turn();
    assert!(rig.tasks.is_empty());
    let (messages, end) = rig.received(call, &inbox);
    assert_eq!(messages, ["ping"]);
    assert_eq!(end, Some(Code::Ok));
}

#[test]
fn a_send_refused_for_a_full_buffer_parks_and_resumes() {
    let mut config = Config::server();
    config.h2.max_send_buffer_per_stream = 16 << 10;
    let mut rig = Rig::new(config, |mut call: Call| {
        Box::pin(async move {
            for _ in 0..8 {
                let message = Bytes::from(vec![7u8; 64 << 10]);
                if call.send(message).await.is_err() {
                    return;
                }
            }
            call.finish(Status::ok(), Metadata::new());
        })
    });
    let (call, inbox) = rig.start("/pkg.Svc/Flood");
    rig.send(call, b"go", true);
    rig.reading = false;
    rig.turn();
    assert_eq!(rig.tasks.len(), 1, "the task waits for its send");
    let polls = rig.polls;
    rig.turn();
    assert_eq!(rig.polls, polls, "a parked send is not polled again");

    rig.reading = true;
    let mut received = Vec::new();
    let mut end = None;
    for _ in 0..100 {
        rig.turn();
        let (messages, status) = rig.received(call, &inbox);
        received.extend(messages);
        end = end.or(status);
        if end.is_some() {
            break;
        }
    }
    assert_eq!(end, Some(Code::Ok));
    assert_eq!(received.len(), 8);
    assert!(received.iter().all(|m| m.len() == 64 << 10));
    assert!(rig.tasks.is_empty());
}

#[test]
fn a_message_counts_as_consumed_only_when_the_task_takes_it() {
    let mut config = Config::server();
    config.h2 = config.h2.fixed_windows(65_535, 65_535);
    let set = Arc::new(AtomicBool::new(false));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let gate = (set.clone(), waker.clone());
    let mut rig = Rig::new(config, move |mut call: Call| {
        let gate = Flag {
            set: gate.0.clone(),
            waker: gate.1.clone(),
        };
        Box::pin(async move {
            gate.await;
            let mut count = 0;
            while let Ok(Some(_)) = call.recv().await {
                count += 1;
            }
            if call.send(Bytes::from(format!("{count}"))).await.is_ok() {
                call.finish(Status::ok(), Metadata::new());
            }
        })
    });
    let (call, inbox) = rig.start("/pkg.Svc/Count");
    let message = Bytes::from(vec![1u8; 32 << 10]);
    for _ in 0..6 {
        let (done, _) = crate::channel::channel();
        rig.client
            .apply(Command::Send(call, message.clone(), false, done));
    }
    rig.client.apply(Command::CloseSend(call));
    let before = rig.uploaded;
    rig.turn();
    // The task has taken nothing: the server's windows (64 KiB, and room for
    // the message in progress to complete) stay closed on the rest.
    let uploaded = rig.uploaded - before;
    assert!((64 << 10..128 << 10).contains(&uploaded), "{uploaded}");
    assert_eq!(rig.tasks.len(), 1);

    set.store(true, Ordering::SeqCst);
    lock(&waker)
        .take()
        .expect("the task waits at the gate")
        .wake();
    rig.turn();
    assert!(
        rig.uploaded - before >= 6 * (32 << 10),
        "every message went"
    );
    let (messages, end) = rig.received(call, &inbox);
    assert_eq!((messages, end), (vec![Bytes::from("6")], Some(Code::Ok)));
}

/// A handler that waits for its call's end and records why.
fn watcher(seen: Arc<Mutex<Vec<Code>>>) -> impl Fn(Call) -> BoxFuture<'static, ()> {
    move |mut call: Call| {
        let seen = seen.clone();
        Box::pin(async move {
            let status = call.cancelled().await;
            lock(&seen).push(status.code());
        })
    }
}

#[test]
fn a_cancel_wakes_a_waiting_task() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::new(Config::server(), watcher(seen.clone()));
    let (call, _inbox) = rig.start("/pkg.Svc/Watch");
    rig.send(call, b"x", false);
    rig.turn();
    assert_eq!(rig.tasks.len(), 1);
    assert!(lock(&seen).is_empty());

    rig.client.apply(Command::Cancel(call));
    rig.turn();
    assert_eq!(*lock(&seen), [Code::Cancelled]);
    assert!(rig.tasks.is_empty());
}

#[test]
fn a_deadline_wakes_a_waiting_task() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::new(Config::server(), watcher(seen.clone()));
    let (_call, _inbox) = rig.start("/pkg.Svc/Watch");
    rig.turn();
    let due = rig.server.poll_timeout().expect("the deadline is armed");
    rig.server.handle_timeout(due + Duration::from_millis(1));
    rig.turn();
    assert_eq!(*lock(&seen), [Code::DeadlineExceeded]);
    assert!(rig.tasks.is_empty());
}

#[test]
fn a_connection_gone_ends_a_waiting_task() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut rig = Rig::new(Config::server(), watcher(seen.clone()));
    let (_call, _inbox) = rig.start("/pkg.Svc/Watch");
    rig.turn();
    // The driving thread lets the connection go with its call still attached.
    rig.server = Session::server(Config::server(), rig.now);
    assert_eq!(rig.tasks.poll_ready(), 1, "the dropped inbox woke the task");
    assert_eq!(
        *lock(&seen),
        [Code::Cancelled],
        "a server call whose connection is gone"
    );
    assert!(rig.tasks.is_empty());
}

#[test]
fn a_panicking_task_ends_its_call_with_unknown_and_others_go_on() {
    let mut rig = Rig::new(Config::server(), |mut call: Call| {
        Box::pin(async move {
            let request = call.recv().await.ok().flatten().unwrap_or_default();
            assert!(request != "boom", "the handler panics");
            if call.send(request).await.is_ok() {
                call.finish(Status::ok(), Metadata::new());
            }
        })
    });
    let (bad, bad_inbox) = rig.start("/pkg.Svc/Echo");
    let (good, good_inbox) = rig.start("/pkg.Svc/Echo");
    rig.send(bad, b"boom", true);
    rig.send(good, b"fine", true);
    rig.turn();
    assert!(rig.tasks.is_empty());
    assert_eq!(rig.received(bad, &bad_inbox).1, Some(Code::Unknown));
    let (messages, end) = rig.received(good, &good_inbox);
    assert_eq!((messages, end), (vec![Bytes::from("fine")], Some(Code::Ok)));
}

/// Ready once `flag` is set; keeps the waker it was last polled with.
struct Flag {
    set: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Flag {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *lock(&self.waker) = Some(cx.waker().clone());
        if self.set.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_wake_from_another_thread_notifies_the_idle_driver_only() {
    let notified = Arc::new(AtomicUsize::new(0));
    let count = notified.clone();
    let mut tasks = LocalExecutor::<u8>::new(move || {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let (set, waker) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let flag = Flag {
        set: set.clone(),
        waker: Arc::clone(&waker),
    };
    tasks.spawn(flag);
    assert!(!tasks.idle(), "a spawned task is ready");
    assert_eq!(tasks.poll_ready(), 1);

    // Woken while the driver is busy: no notification is needed.
    lock(&waker).clone().unwrap().wake();
    assert_eq!(notified.load(Ordering::SeqCst), 0);
    assert_eq!(tasks.poll_ready(), 1);

    assert!(tasks.idle(), "nothing to do: the driver may wait");
    let remote = lock(&waker).clone().unwrap();
    std::thread::spawn(move || {
        set.store(true, Ordering::SeqCst);
        remote.wake_by_ref();
        remote.wake();
    })
    .join()
    .unwrap();
    assert_eq!(notified.load(Ordering::SeqCst), 1, "once per wait");
    assert!(!tasks.idle());
    tasks.busy();
    assert_eq!(tasks.poll_ready(), 1, "queued once though woken twice");
    assert!(tasks.is_empty());
}

#[test]
fn a_dropped_executor_answers_sends_with_gone() {
    let (link, _inbox) = LocalExecutor::<u8>::new(|| {}).link(1);
    let sent = link.send(
        CallId::from_stream_id(grpc_sansio::h2::StreamId::new(1)),
        Bytes::new(),
        false,
    );
    assert_eq!(crate::testing::block_on(sent), None);
    assert!(!link.command(Command::Cancel(CallId::from_stream_id(
        grpc_sansio::h2::StreamId::new(1)
    ))));
}
