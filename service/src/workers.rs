//! What an adapter that runs blocking handlers on a pool of worker threads
//! needs beside its threads, written once: how big the pool and its queue are
//! ([`Workers`]), when a call has work for a worker ([`Gate`]), and the queue
//! the workers take calls from ([`Pool`]), fair between connections.
//!
//! A worker is a scarce thing a peer must not be able to hold by doing
//! nothing. So a call goes to a worker only once it has work (the
//! [`Gate`] holds its first events until then), one connection holds at most
//! [`Workers::per_connection`] workers at a time (its other calls wait behind
//! other connections' calls), and past [`Workers::queue`] waiting calls a new
//! call is refused at once, for the adapter to answer RESOURCE_EXHAUSTED.
//!
//! The engine owns no threads: the adapter spawns the workers, each running
//! [`Pool::work`], and hands calls in with [`Pool::submit`].

use std::collections::{BTreeMap, VecDeque};
use std::hash::Hash;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::MethodKind;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, Event, Request};
use grpc_sansio::hash::FxHashMap;

/// The sizes of a worker pool.
///
/// ```
/// use grpc_sansio_service::Workers;
///
/// let workers = Workers::new(8).queue(64);
/// assert_eq!(workers.count(), 8);
/// assert_eq!(workers.per_connection_cap(), 4, "half the pool by default");
/// assert_eq!(workers.queue_bound(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    count: usize,
    queue: usize,
    per_connection: Option<usize>,
}

impl Workers {
    /// The queue bound unless set: calls that may wait for a worker.
    pub const DEFAULT_QUEUE: usize = 1024;

    /// `count` worker threads (at least one), a queue of
    /// [`DEFAULT_QUEUE`](Self::DEFAULT_QUEUE) calls, and at most half the
    /// workers (at least one) for the calls of one connection.
    pub fn new(count: usize) -> Workers {
        Workers {
            count: count.max(1),
            queue: Self::DEFAULT_QUEUE,
            per_connection: None,
        }
    }

    /// At most `calls` calls wait for a worker beyond those the idle workers
    /// are about to take; past it a new call is refused (RESOURCE_EXHAUSTED).
    /// Zero: a call is refused whenever no worker is idle.
    #[must_use]
    pub fn queue(mut self, calls: usize) -> Workers {
        self.queue = calls;
        self
    }

    /// At most `workers` workers (at least one, at most the pool) serve the
    /// calls of one connection at a time; its other calls wait in the queue
    /// behind other connections' calls. Default: half the pool, so that one
    /// peer whose calls block (a client that stops reading, a stream it
    /// leaves open) never holds the whole pool.
    #[must_use]
    pub fn per_connection(mut self, workers: usize) -> Workers {
        self.per_connection = Some(workers);
        self
    }

    /// The number of worker threads.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The number of calls that may wait beyond the idle workers.
    pub fn queue_bound(&self) -> usize {
        self.queue
    }

    /// The number of workers one connection's calls may hold at once.
    pub fn per_connection_cap(&self) -> usize {
        let cap = self.per_connection.unwrap_or(self.count / 2);
        cap.clamp(1, self.count)
    }
}

/// Four workers per core (as `std::thread::available_parallelism` counts
/// them; one core if unknown): enough for handlers that block a while, not a
/// thread per call.
impl Default for Workers {
    fn default() -> Workers {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Workers::new(4 * cores)
    }
}

impl From<usize> for Workers {
    /// [`Workers::new`].
    fn from(count: usize) -> Workers {
        Workers::new(count)
    }
}

/// The status of a call refused because the queue is full.
pub fn pool_exhausted() -> Status {
    Status::new(
        Code::ResourceExhausted,
        "the server is busy: every worker is taken and the queue is full",
    )
}

/// Holds the events of a connection's new calls until each has work for a
/// worker, so that a peer that opens calls and sends nothing holds no worker.
///
/// A call has work:
/// - unary and server-streaming methods: once the whole request has arrived
///   (its half-close; or a second message, which the handler refuses);
/// - client-streaming and bidi methods, and paths whose kind is unknown (a raw
///   handler, a method the router does not serve): at the first message or
///   the half-close. Such a call may still wait on its client afterwards;
///   [`Workers::per_connection`] bounds how many workers those hold.
///
/// A held call that ends (the client cancels, its deadline passes, the
/// connection fails) is dropped: the engine has answered it. It holds at most
/// two messages; how many calls are held is bounded by the connection's
/// `max_concurrent_streams`.
#[derive(Debug, Default)]
pub struct Gate {
    held: FxHashMap<CallId, Held>,
}

#[derive(Debug)]
struct Held {
    request: Request,
    events: Vec<Event>,
    messages: usize,
    /// Unary or server-streaming: waits for the whole request.
    whole: bool,
}

/// What the [`Gate`] did with an event.
#[derive(Debug)]
pub enum Gated {
    /// The call has work: hand it to a worker with `events` in its inbox, in
    /// this order, before any later event of the call.
    Ready {
        /// The call.
        call: CallId,
        /// Its request head.
        request: Request,
        /// Its events so far (messages, the half-close).
        events: Vec<Event>,
    },
    /// The gate took the event: it holds it, or it ended a held call.
    Taken,
    /// Not a held call's event (GOAWAY, a call the adapter runs itself).
    Other(Event),
}

impl Gate {
    /// A gate holding nothing.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Takes one event of the connection (from `poll_event`). A new call is
    /// held; `kind` says what its path is, if known (a router's
    /// `method_kind`).
    pub fn on_event(
        &mut self,
        event: Event,
        kind: impl FnOnce(&Request) -> Option<MethodKind>,
    ) -> Gated {
        if let Event::CallStarted { call, request } = event {
            let whole = kind(&request).is_some_and(|k| !k.client_streaming());
            let held = Held {
                request,
                events: Vec::new(),
                messages: 0,
                whole,
            };
            self.held.insert(call, held);
            return Gated::Taken;
        }
        let call = match &event {
            Event::CallStarted { .. } => unreachable!("taken above"),
            Event::Message { call, .. }
            | Event::HalfClosed { call }
            | Event::Cancelled { call, .. }
            | Event::Finished { call, .. }
            | Event::Headers { call, .. }
            | Event::Writable { call } => *call,
            Event::GoAway { .. } => return Gated::Other(event),
        };
        let Some(held) = self.held.get_mut(&call) else {
            return Gated::Other(event);
        };
        let ready = match &event {
            Event::Cancelled { .. } | Event::Finished { .. } => {
                self.held.remove(&call);
                return Gated::Taken;
            }
            Event::Message { .. } => {
                held.messages += 1;
                !held.whole || held.messages > 1
            }
            Event::HalfClosed { .. } => true,
            _ => false,
        };
        held.events.push(event);
        if !ready {
            return Gated::Taken;
        }
        let held = self.held.remove(&call).expect("held");
        Gated::Ready {
            call,
            request: held.request,
            events: held.events,
        }
    }

    /// How many calls are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no call is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// The waiting calls of a pool, by connection: the earliest call of a
/// connection under its cap goes first. Sans-IO; [`Pool`] wraps it.
#[derive(Debug)]
pub(crate) struct Queue<C, T> {
    workers: usize,
    bound: usize,
    cap: usize,
    /// Calls waiting, over all connections.
    waiting: usize,
    /// Calls being served, over all connections.
    busy: usize,
    /// The arrival number of the next call.
    next: u64,
    lines: FxHashMap<C, Line<T>>,
    /// The first call of every connection under its cap with calls waiting,
    /// by arrival number.
    eligible: BTreeMap<u64, C>,
}

#[derive(Debug)]
struct Line<T> {
    busy: usize,
    waiting: VecDeque<(u64, T)>,
}

impl<C: Eq + Hash + Clone, T> Queue<C, T> {
    pub(crate) fn new(sizes: &Workers) -> Self {
        Queue {
            workers: sizes.count(),
            bound: sizes.queue_bound(),
            cap: sizes.per_connection_cap(),
            waiting: 0,
            busy: 0,
            next: 0,
            lines: FxHashMap::default(),
            eligible: BTreeMap::new(),
        }
    }

    /// Whether one more call may wait: fewer than the bound beyond what the
    /// idle workers are about to take.
    pub(crate) fn has_room(&self) -> bool {
        let idle = self.workers.saturating_sub(self.busy);
        self.waiting < self.bound + idle
    }

    /// Queues `item` of connection `conn`; gives it back when there is no room.
    pub(crate) fn push(&mut self, conn: C, item: T) -> Result<(), T> {
        if !self.has_room() {
            return Err(item);
        }
        let number = self.next;
        self.next += 1;
        let line = self.lines.entry(conn.clone()).or_insert_with(|| Line {
            busy: 0,
            waiting: VecDeque::new(),
        });
        if line.waiting.is_empty() && line.busy < self.cap {
            self.eligible.insert(number, conn);
        }
        line.waiting.push_back((number, item));
        self.waiting += 1;
        Ok(())
    }

    /// The earliest call of a connection under its cap, counted as served
    /// until [`done`](Self::done).
    pub(crate) fn pop(&mut self) -> Option<(C, T)> {
        let (_, conn) = self.eligible.pop_first()?;
        let line = self.lines.get_mut(&conn).expect("an eligible line");
        let (_, item) = line.waiting.pop_front().expect("an eligible call");
        line.busy += 1;
        self.busy += 1;
        self.waiting -= 1;
        if line.busy < self.cap {
            if let Some((number, _)) = line.waiting.front() {
                self.eligible.insert(*number, conn.clone());
            }
        }
        Some((conn, item))
    }

    /// A call of `conn` that [`pop`](Self::pop) gave is over.
    pub(crate) fn done(&mut self, conn: &C) {
        let Some(line) = self.lines.get_mut(conn) else {
            return;
        };
        line.busy -= 1;
        self.busy -= 1;
        if line.busy + 1 == self.cap {
            // It was at its cap: its first waiting call may go now.
            if let Some((number, _)) = line.waiting.front() {
                self.eligible.insert(*number, conn.clone());
            }
        }
        if line.busy == 0 && line.waiting.is_empty() {
            self.lines.remove(conn);
        }
    }

    /// Drops the waiting calls `keep` says no to, returning them.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&mut T) -> bool) -> Vec<T> {
        let mut dropped = Vec::new();
        for (conn, line) in &mut self.lines {
            let before = line.waiting.front().map(|(number, _)| *number);
            let mut kept = VecDeque::with_capacity(line.waiting.len());
            for (number, mut item) in line.waiting.drain(..) {
                match keep(&mut item) {
                    true => kept.push_back((number, item)),
                    false => dropped.push(item),
                }
            }
            line.waiting = kept;
            let after = line.waiting.front().map(|(number, _)| *number);
            if before != after {
                if let Some(number) = before {
                    self.eligible.remove(&number);
                }
                if let Some(number) = after.filter(|_| line.busy < self.cap) {
                    self.eligible.insert(number, conn.clone());
                }
            }
        }
        self.waiting -= dropped.len();
        self.lines
            .retain(|_, line| line.busy > 0 || !line.waiting.is_empty());
        dropped
    }

    /// Takes every waiting call out.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.retain(|_| false)
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    /// Whether [`pop`](Self::pop) would give a call.
    pub(crate) fn has_eligible(&self) -> bool {
        !self.eligible.is_empty()
    }

    pub(crate) fn busy(&self, conn: &C) -> usize {
        self.lines.get(conn).map_or(0, |line| line.busy)
    }
}

/// One connection's way into a [`Pool`], as its driving thread uses it: a
/// [`Gate`] that holds each new call until it has work, the connection's
/// key, and whether this turn queued a call. Workers are woken once the
/// turn is done ([`turn_done`](Self::turn_done)), not per call: on a shared
/// core a worker woken mid-turn would take it from the driving thread, once
/// per call.
pub struct Feed<T> {
    pool: Arc<Pool<T>>,
    gate: Gate,
    key: ConnectionKey,
    /// A call was queued this turn: wake a worker when it ends.
    queued: bool,
}

impl<T> Feed<T> {
    /// A new connection's feed into `pool`.
    pub fn new(pool: Arc<Pool<T>>) -> Self {
        let key = pool.connection();
        Feed {
            pool,
            gate: Gate::new(),
            key,
            queued: false,
        }
    }

    /// Takes one event of the connection (see [`Gate::on_event`]); a call
    /// with work is queued for a worker as `make` builds it from the call,
    /// its request head and its events so far. Returns the call the pool had
    /// no room for: answer it with [`pool_exhausted`].
    pub fn on_event(
        &mut self,
        event: Event,
        kind: impl FnOnce(&Request) -> Option<MethodKind>,
        make: impl FnOnce(CallId, Request, Vec<Event>) -> T,
    ) -> Option<CallId> {
        let Gated::Ready {
            call,
            request,
            events,
        } = self.gate.on_event(event, kind)
        else {
            return None;
        };
        let queued = (self.pool).submit_later(self.key, || make(call, request, events));
        self.queued |= queued;
        (!queued).then_some(call)
    }

    /// The driving thread's turn is over (its answers written): wakes a
    /// worker if the turn queued a call.
    pub fn turn_done(&mut self) {
        if std::mem::take(&mut self.queued) {
            self.pool.wake();
        }
    }
}

/// A connection's key in a [`Pool`]: [`Pool::connection`] gives a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionKey(u64);

/// The queue of a worker pool, shared by the connections that hand it calls
/// and the worker threads that serve them (the adapter's: each runs
/// [`work`](Self::work)). Calls of one connection hold at most
/// [`Workers::per_connection`] workers; the others wait in arrival order
/// behind other connections' calls; at most [`Workers::queue`] wait beyond
/// the idle workers.
pub struct Pool<T> {
    sizes: Workers,
    state: Mutex<State<T>>,
    wake: Condvar,
    /// Whether a waiting call still needs serving (its call has not ended).
    alive: fn(&mut T) -> bool,
}

struct State<T> {
    queue: Queue<ConnectionKey, T>,
    closed: bool,
    connections: u64,
    /// Workers waiting for a call.
    idle: usize,
    /// Wakes given and not yet taken by a waiting worker.
    signalled: usize,
}

impl<T> State<T> {
    /// Whether to wake a worker for a call that is waiting: one is idle and
    /// none is already on its way. Counts the wake. A woken worker that finds
    /// more waiting wakes the next, so a burst of calls wakes workers one at
    /// a time, and calls a running worker takes first wake no one: each wake
    /// is a syscall and, on a busy core, a context switch.
    fn wake_one(&mut self) -> bool {
        let wake = self.queue.has_eligible() && self.signalled == 0 && self.idle > 0;
        self.signalled += usize::from(wake);
        wake
    }
}

impl<T> Pool<T> {
    /// A pool of these sizes; `alive` says whether a waiting call still needs
    /// a worker (a call that ended while it waited is dropped, never served).
    pub fn new(sizes: Workers, alive: fn(&mut T) -> bool) -> Self {
        let state = State {
            queue: Queue::new(&sizes),
            closed: false,
            connections: 0,
            idle: 0,
            signalled: 0,
        };
        Pool {
            sizes,
            state: Mutex::new(state),
            wake: Condvar::new(),
            alive,
        }
    }

    /// The sizes it was made with.
    pub fn sizes(&self) -> Workers {
        self.sizes
    }

    /// A key for a new connection's calls.
    pub fn connection(&self) -> ConnectionKey {
        let mut state = self.lock();
        state.connections += 1;
        ConnectionKey(state.connections)
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A worker that panicked did so outside the lock: the state is whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a call of `conn`, made by `make` only if there is room (calls
    /// that ended while waiting make room first). False: no room (or the pool
    /// is closed); the adapter answers the call with [`pool_exhausted`].
    pub fn submit(&self, conn: ConnectionKey, make: impl FnOnce() -> T) -> bool {
        let queued = self.submit_later(conn, make);
        self.wake();
        queued
    }

    /// [`submit`](Self::submit) without waking a worker: for a thread that
    /// queues a burst of calls (all a read brought) and then calls
    /// [`wake`](Self::wake) once, so that no worker takes the core from it
    /// mid-burst.
    pub fn submit_later(&self, conn: ConnectionKey, make: impl FnOnce() -> T) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        let mut ended = Vec::new();
        if !state.queue.has_room() {
            ended = state.queue.retain(self.alive);
            if !state.queue.has_room() {
                return false;
            }
        }
        if state.queue.push(conn, make()).is_err() {
            unreachable!("there was room");
        }
        drop(state);
        drop(ended);
        true
    }

    /// Wakes an idle worker if calls wait and none is on its way.
    pub fn wake(&self) {
        let wake = self.lock().wake_one();
        if wake {
            self.wake.notify_one();
        }
    }

    /// The next call to serve, once the call of `finished` (this worker's
    /// last) is counted done; `None` once the pool is closed.
    fn next(&self, finished: Option<ConnectionKey>) -> Option<(ConnectionKey, T)> {
        let mut state = self.lock();
        if let Some(conn) = finished {
            state.queue.done(&conn);
        }
        loop {
            if state.closed {
                return None;
            }
            let Some((conn, mut item)) = state.queue.pop() else {
                state.idle += 1;
                loop {
                    state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                    if state.closed || state.signalled > 0 {
                        break;
                    }
                }
                state.idle -= 1;
                state.signalled = state.signalled.saturating_sub(1);
                continue;
            };
            if (self.alive)(&mut item) {
                // More waiting (this worker's done made a call eligible, or
                // calls came faster than one worker takes them): one more
                // worker, which wakes the next in turn if need be.
                let wake = state.wake_one();
                drop(state);
                if wake {
                    self.wake.notify_one();
                }
                return Some((conn, item));
            }
            // It ended while it waited: no worker for it.
            state.queue.done(&conn);
            drop(item);
        }
    }

    /// A worker thread's loop: serves calls with `serve` until the pool is
    /// closed. A panic in `serve` ends that call only (its handle's drop
    /// answers it), not the worker.
    pub fn work(&self, mut serve: impl FnMut(T)) {
        let mut finished = None;
        while let Some((conn, item)) = self.next(finished.take()) {
            let _ = catch_unwind(AssertUnwindSafe(|| serve(item)));
            finished = Some(conn);
        }
    }

    /// Closes the pool: waiting calls are dropped (their handles' drops end
    /// them), new ones refused, and each worker returns from
    /// [`work`](Self::work) once its call is over.
    pub fn close(&self) {
        let dropped = {
            let mut state = self.lock();
            state.closed = true;
            state.queue.drain()
        };
        self.wake.notify_all();
        drop(dropped);
    }

    /// Calls waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.lock().queue.waiting()
    }

    /// Workers serving calls of `conn` now.
    pub fn busy(&self, conn: ConnectionKey) -> usize {
        self.lock().queue.busy(&conn)
    }
}

impl<T> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("sizes", &self.sizes).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::testing::request_head;
    use grpc_sansio::grpc::compression::EncodingSet;
    use grpc_sansio::h2::StreamId;

    fn sizes(workers: usize, queue: usize, cap: usize) -> Workers {
        Workers::new(workers).queue(queue).per_connection(cap)
    }

    #[test]
    fn sizes_default_to_half_the_pool_per_connection_and_clamp() {
        assert_eq!(Workers::new(0).count(), 1);
        assert_eq!(Workers::new(1).per_connection_cap(), 1);
        assert_eq!(Workers::new(16).per_connection_cap(), 8);
        assert_eq!(Workers::new(4).per_connection(0).per_connection_cap(), 1);
        assert_eq!(Workers::new(4).per_connection(9).per_connection_cap(), 4);
        assert_eq!(Workers::new(4).queue_bound(), Workers::DEFAULT_QUEUE);
        assert!(Workers::default().count() >= 4);
    }

    #[test]
    fn a_connection_at_its_cap_waits_behind_later_calls_of_others() {
        let mut queue = Queue::new(&sizes(4, 100, 2));
        for i in 0..4 {
            queue.push("a", format!("a{i}")).unwrap();
        }
        queue.push("b", "b0".to_owned()).unwrap();
        queue.push("a", "a4".to_owned()).unwrap();
        queue.push("b", "b1".to_owned()).unwrap();
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).map(|(_, s)| s).collect();
        // a0 and a1 take a's two workers; a2 must wait for one of them.
        assert_eq!(order, ["a0", "a1", "b0", "b1"]);
        assert_eq!(queue.busy(&"a"), 2);
        assert_eq!(queue.waiting(), 3);
        queue.done(&"a");
        assert_eq!(queue.pop(), Some(("a", "a2".to_owned())));
        assert_eq!(queue.pop(), None, "a is at its cap again");
        queue.done(&"b");
        queue.done(&"b");
        assert_eq!(queue.pop(), None, "b's calls do not free a's slots");
        queue.done(&"a");
        assert_eq!(queue.pop(), Some(("a", "a3".to_owned())));
    }

    #[test]
    fn the_bound_counts_calls_beyond_the_idle_workers() {
        let mut queue = Queue::new(&sizes(2, 3, 2));
        // Two idle workers and three places: five calls may wait.
        for i in 0..5 {
            queue.push(i % 3, i).unwrap();
        }
        assert_eq!(queue.push(9, 5), Err(5));
        // Both workers busy: three may wait, and three do.
        let (c0, _) = queue.pop().unwrap();
        let (c1, _) = queue.pop().unwrap();
        assert_eq!(queue.push(9, 5), Err(5));
        queue.done(&c0);
        queue.push(9, 5).unwrap();
        assert_eq!(queue.push(9, 6), Err(6));
        queue.done(&c1);
        assert_eq!(queue.waiting(), 4);
    }

    #[test]
    fn calls_dropped_while_waiting_free_their_places_and_keep_the_order() {
        let mut queue = Queue::new(&sizes(1, 10, 1));
        for i in 0..6 {
            queue.push(i % 2, i).unwrap();
        }
        let dropped = queue.retain(|i| *i != 0 && *i != 3);
        assert_eq!(dropped.len(), 2);
        assert_eq!(queue.waiting(), 4);
        let (conn, first) = queue.pop().unwrap();
        assert_eq!((conn, first), (1, 1));
        queue.done(&conn);
        let order: Vec<_> = std::iter::from_fn(|| {
            let (conn, i) = queue.pop()?;
            queue.done(&conn);
            Some(i)
        })
        .collect();
        assert_eq!(order, [2, 4, 5]);
        assert!(queue.lines.is_empty(), "nothing left behind");
    }

    fn id(n: u32) -> CallId {
        CallId::from_stream_id(StreamId::new(n))
    }

    fn started(n: u32) -> Event {
        Event::CallStarted {
            call: id(n),
            request: request_head(EncodingSet::all()),
        }
    }

    fn message(n: u32) -> Event {
        Event::Message {
            call: id(n),
            message: Bytes::from_static(b"m"),
            compressed: false,
        }
    }

    fn half_closed(n: u32) -> Event {
        Event::HalfClosed { call: id(n) }
    }

    fn ready(gated: Gated) -> Option<usize> {
        match gated {
            Gated::Ready { events, .. } => Some(events.len()),
            _ => None,
        }
    }

    #[test]
    fn unary_and_server_streaming_calls_wait_for_the_whole_request() {
        for kind in [MethodKind::Unary, MethodKind::ServerStreaming] {
            let mut gate = Gate::new();
            let kind = |_: &Request| Some(kind);
            assert!(matches!(gate.on_event(started(1), kind), Gated::Taken));
            assert_eq!(ready(gate.on_event(message(1), kind)), None);
            assert_eq!(ready(gate.on_event(half_closed(1), kind)), Some(2));
            assert!(gate.is_empty());
            // A second message is work too: the handler refuses it.
            let _ = gate.on_event(started(3), kind);
            assert_eq!(ready(gate.on_event(message(3), kind)), None);
            assert_eq!(ready(gate.on_event(message(3), kind)), Some(2));
        }
    }

    #[test]
    fn streaming_and_unknown_calls_go_at_their_first_event() {
        let kinds = [
            Some(MethodKind::ClientStreaming),
            Some(MethodKind::BidiStreaming),
            None,
        ];
        for kind in kinds {
            let kind = |_: &Request| kind;
            let mut gate = Gate::new();
            let _ = gate.on_event(started(1), kind);
            let _ = gate.on_event(started(3), kind);
            assert_eq!(gate.len(), 2);
            assert_eq!(ready(gate.on_event(message(1), kind)), Some(1));
            assert_eq!(ready(gate.on_event(half_closed(3), kind)), Some(1));
            // Later events are not the gate's: the call is attached by now.
            assert!(matches!(gate.on_event(message(1), kind), Gated::Other(_)));
        }
    }

    #[test]
    fn a_held_call_that_ends_is_dropped() {
        let mut gate = Gate::new();
        let unary = |_: &Request| Some(MethodKind::Unary);
        let _ = gate.on_event(started(1), unary);
        let _ = gate.on_event(message(1), unary);
        let status = Status::new(Code::DeadlineExceeded, "deadline");
        let cancelled = Event::Cancelled {
            call: id(1),
            status,
        };
        assert!(matches!(gate.on_event(cancelled, unary), Gated::Taken));
        assert!(gate.is_empty());
        assert!(matches!(
            gate.on_event(half_closed(1), unary),
            Gated::Other(_)
        ));
        let goaway = Event::GoAway {
            code: grpc_sansio::h2::ErrorCode::NO_ERROR,
        };
        assert!(matches!(gate.on_event(goaway, unary), Gated::Other(_)));
    }

    /// A call for the pool tests: its number, and whether it has ended.
    struct Job(usize, Arc<Mutex<bool>>);

    fn job_alive(job: &mut Job) -> bool {
        !*job.1.lock().unwrap()
    }

    #[test]
    fn the_pool_refuses_past_its_bound_and_never_serves_an_ended_call() {
        let pool = Arc::new(Pool::new(sizes(1, 2, 1), job_alive));
        let (a, b) = (pool.connection(), pool.connection());
        let ended = Arc::new(Mutex::new(false));
        // No worker yet: one idle-worker place and two queue places.
        let (started, running) = mpsc::channel();
        let (release, hold) = mpsc::channel::<()>();
        let hold = Mutex::new(hold);
        assert!(pool.submit(a, || Job(0, Arc::new(Mutex::new(false)))));
        assert!(pool.submit(b, || Job(1, ended.clone())));
        assert!(pool.submit(b, || Job(2, Arc::new(Mutex::new(false)))));
        assert!(!pool.submit(b, || unreachable!("made only with room")));
        *ended.lock().unwrap() = true;
        // The ended call makes room when the queue is full.
        assert!(pool.submit(a, || Job(3, Arc::new(Mutex::new(false)))));
        assert_eq!(pool.waiting(), 3);

        let worker = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.work(|job| {
                    started.send(job.0).unwrap();
                    hold.lock().unwrap().recv().unwrap();
                })
            })
        };
        let limit = Duration::from_secs(10);
        let mut served = Vec::new();
        for _ in 0..3 {
            served.push(running.recv_timeout(limit).unwrap());
            release.send(()).unwrap();
        }
        assert_eq!(served, [0, 2, 3], "call 1 ended while it waited");
        pool.close();
        worker.join().unwrap();
        assert!(!pool.submit(a, || unreachable!("closed")));
    }

    /// Workers are woken one at a time (each wake a syscall), yet every call
    /// that may run finds a worker: all four start, each waiting on the others.
    #[test]
    fn calls_queued_at_once_each_get_an_idle_worker() {
        let pool = Arc::new(Pool::new(sizes(4, 8, 4), job_alive));
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let (done, served) = mpsc::channel();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (pool, barrier, done) = (pool.clone(), barrier.clone(), done.clone());
                std::thread::spawn(move || {
                    pool.work(|job| {
                        barrier.wait();
                        done.send(job.0).unwrap();
                    })
                })
            })
            .collect();
        // Let the workers go idle first, so each call needs a wake.
        while pool.lock().idle < 4 {
            std::thread::yield_now();
        }
        let conn = pool.connection();
        for i in 0..4 {
            assert!(pool.submit(conn, || Job(i, Arc::new(Mutex::new(false)))));
        }
        let limit = Duration::from_secs(10);
        let mut got: Vec<usize> = (0..4)
            .map(|_| served.recv_timeout(limit).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
        pool.close();
        for worker in workers {
            worker.join().unwrap();
        }
    }

    /// A feed holds a unary call until its whole request is in, queues it
    /// without waking anyone, wakes a worker when the turn is done, and
    /// gives back a call the pool has no room for.
    #[test]
    fn a_feed_queues_whole_calls_and_wakes_a_worker_at_the_turn_end() {
        let pool = Arc::new(Pool::new(sizes(1, 1, 1), job_alive));
        let (done, served) = mpsc::channel();
        let worker = {
            let pool = pool.clone();
            std::thread::spawn(move || pool.work(|job| done.send(job.0).unwrap()))
        };
        while pool.lock().idle < 1 {
            std::thread::yield_now();
        }
        let mut feed = Feed::new(pool.clone());
        let unary = |_: &Request| Some(MethodKind::Unary);
        let job = |call: CallId, _: Request, events: Vec<Event>| {
            Job(
                call.stream_id().get() as usize * 10 + events.len(),
                Arc::default(),
            )
        };
        for event in [started(1), message(1)] {
            assert_eq!(feed.on_event(event, unary, job), None);
        }
        assert_eq!(pool.waiting(), 0, "held until the half-close");
        assert_eq!(feed.on_event(half_closed(1), unary, job), None);
        assert_eq!(pool.waiting(), 1, "queued");
        let quiet = Duration::from_millis(50);
        assert!(
            served.recv_timeout(quiet).is_err(),
            "no worker woke mid-turn"
        );
        feed.turn_done();
        assert_eq!(served.recv_timeout(Duration::from_secs(10)), Ok(12));

        while pool.lock().idle < 1 {
            std::thread::yield_now();
        }
        // No wake now: one idle worker's place and one queue place, the
        // third call is refused.
        for n in [3, 5] {
            for event in [started(n), half_closed(n)] {
                assert_eq!(feed.on_event(event, unary, job), None);
            }
        }
        let refused = [started(7), half_closed(7)]
            .into_iter()
            .filter_map(|event| feed.on_event(event, unary, job))
            .collect::<Vec<_>>();
        pool.close();
        worker.join().unwrap();
        assert_eq!(refused, [id(7)], "the pool had no room for call 7");
    }

    #[test]
    fn a_panicking_call_frees_its_worker() {
        let pool = Arc::new(Pool::new(sizes(1, 4, 1), job_alive));
        let conn = pool.connection();
        let (done, served) = mpsc::channel();
        for i in 0..2 {
            assert!(pool.submit(conn, || Job(i, Arc::new(Mutex::new(false)))));
        }
        let worker = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.work(|job| {
                    done.send(job.0).unwrap();
                    if job.0 == 0 {
                        panic!("the first call panics");
                    }
                })
            })
        };
        let limit = Duration::from_secs(10);
        assert_eq!(served.recv_timeout(limit), Ok(0));
        assert_eq!(served.recv_timeout(limit), Ok(1));
        pool.close();
        worker.join().unwrap();
    }
}
