//! The gRPC connection's deadlines in one table: call deadlines, keepalive,
//! `max_connection_idle`, `max_connection_age` and the cut that ends a grace
//! period or a bounded shutdown. Each rule is written once, in
//! [`Timers::deadline`]: `poll_timeout` asks it for the earliest, and
//! `handle_timeout` asks it which fired.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::Config;
use crate::h2::{Role, StreamId};

/// One of the connection's own timers (call deadlines aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Our keepalive PING went unanswered for `keepalive_timeout`.
    KeepaliveAck,
    /// Nothing read for `keepalive_time`: send a keepalive PING.
    KeepalivePing,
    /// No call for `max_connection_idle`.
    Idle,
    /// The connection reached `max_connection_age`.
    Age,
    /// Calls still running are cut and the connection closes.
    Cut,
}

impl Timer {
    const ALL: [Timer; 5] = [
        Timer::KeepaliveAck,
        Timer::KeepalivePing,
        Timer::Idle,
        Timer::Age,
        Timer::Cut,
    ];
}

/// Whether calls run, and since when none has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    Busy,
    IdleSince(Instant),
    /// The last call ended in `finish` or `cancel`, which take no `now`: the
    /// idle period starts at the next instant we are given
    /// ([`Timers::clock`]), and [`Timers::deadline`] asks for one at once.
    IdleFromNextClock,
}

#[derive(Debug)]
pub(super) struct Timers {
    /// Max age counts from here; no `now` we are given precedes it, so it
    /// also stands for "due at once".
    created: Instant,
    last_read: Instant,
    /// When our keepalive PING must be answered by.
    keepalive_ack: Option<Instant>,
    activity: Activity,
    /// After GOAWAY the idle and age rules have done their work.
    going_away: bool,
    /// When calls still running are cut, and why.
    cut: Option<(Instant, &'static str)>,
    /// Ordered so the earliest is first; the id keeps equal deadlines apart.
    call_deadlines: BTreeSet<(Instant, StreamId)>,
    keepalive_time: Option<Duration>,
    keepalive_timeout: Duration,
    /// A client not permitted to ping without calls goes dormant then, as
    /// grpc-go's client does; a server pings idle connections too.
    ping_only_with_calls: bool,
    max_idle: Option<Duration>,
    max_age: Option<Duration>,
}

impl Timers {
    pub(super) fn new(role: Role, config: &Config, now: Instant) -> Self {
        Timers {
            created: now,
            last_read: now,
            keepalive_ack: None,
            activity: Activity::IdleSince(now),
            going_away: false,
            cut: None,
            call_deadlines: BTreeSet::new(),
            keepalive_time: config.keepalive_time,
            keepalive_timeout: config.keepalive_timeout,
            ping_only_with_calls: role == Role::Client && !config.keepalive_permit_without_calls,
            max_idle: config.max_connection_idle,
            max_age: config.max_connection_age,
        }
    }

    // ----- the rules -----

    /// When `timer` fires, if it is armed.
    pub(super) fn deadline(&self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::KeepaliveAck => self.keepalive_ack,
            Timer::KeepalivePing => {
                let dormant = self.ping_only_with_calls && self.activity != Activity::Busy;
                if self.keepalive_ack.is_some() || dormant {
                    return None;
                }
                Some(self.last_read + self.keepalive_time?)
            }
            Timer::Idle if self.going_away => None,
            Timer::Idle => match self.activity {
                Activity::Busy => None,
                Activity::IdleSince(since) => Some(since + self.max_idle?),
                Activity::IdleFromNextClock => self.max_idle.map(|_| self.created),
            },
            Timer::Age if self.going_away => None,
            Timer::Age => Some(self.created + self.max_age?),
            Timer::Cut => self.cut.map(|(at, _)| at),
        }
    }

    /// The earliest deadline of all.
    pub(super) fn next(&self) -> Option<Instant> {
        let calls = self.call_deadlines.first().map(|(at, _)| *at);
        Timer::ALL
            .into_iter()
            .filter_map(|timer| self.deadline(timer))
            .chain(calls)
            .min()
    }

    /// Whether `timer` fired by `now`. Give the table `now` first
    /// ([`clock`](Self::clock)), or an idle period waiting for its start
    /// counts as fired.
    pub(super) fn due(&self, timer: Timer, now: Instant) -> bool {
        self.deadline(timer).is_some_and(|at| now >= at)
    }

    /// Calls whose deadline passed by `now`, in stream order.
    pub(super) fn expired_calls(&self, now: Instant) -> Vec<StreamId> {
        let mut expired: Vec<StreamId> = self
            .call_deadlines
            .iter()
            .take_while(|(at, _)| now >= *at)
            .map(|(_, id)| *id)
            .collect();
        expired.sort_unstable();
        expired
    }

    /// Why the connection is cut at `now`, once.
    pub(super) fn take_cut(&mut self, now: Instant) -> Option<&'static str> {
        let why = self.cut.filter(|(at, _)| now >= *at)?.1;
        self.cut = None;
        Some(why)
    }

    // ----- what moves them -----

    /// The time we were given: an idle period that began without a clock
    /// starts here.
    pub(super) fn clock(&mut self, now: Instant) {
        if self.activity == Activity::IdleFromNextClock {
            self.activity = Activity::IdleSince(now);
        }
    }

    /// Octets arrived: the peer is alive, whatever PING we await.
    pub(super) fn read(&mut self, now: Instant) {
        self.last_read = now;
        self.keepalive_ack = None;
    }

    /// Our keepalive PING went out at `now`.
    pub(super) fn ping_sent(&mut self, now: Instant) {
        self.keepalive_ack = Some(now + self.keepalive_timeout);
    }

    /// Our keepalive PING came back.
    pub(super) fn ping_acked(&mut self) {
        self.keepalive_ack = None;
    }

    pub(super) fn call_started(&mut self, id: StreamId, deadline: Option<Instant>) {
        self.activity = Activity::Busy;
        if let Some(at) = deadline {
            self.call_deadlines.insert((at, id));
        }
    }

    /// A call ended; `last` if no call runs now. Ending calls need no clock
    /// (`finish` and `cancel` have none), so the idle period starts at the
    /// next [`clock`](Self::clock).
    pub(super) fn call_ended(&mut self, id: StreamId, deadline: Option<Instant>, last: bool) {
        if let Some(at) = deadline {
            self.call_deadlines.remove(&(at, id));
        }
        if last && self.activity == Activity::Busy {
            self.activity = Activity::IdleFromNextClock;
        }
    }

    /// GOAWAY sent or received: no idle or age shutdown follows.
    pub(super) fn going_away(&mut self) {
        self.going_away = true;
    }

    /// Cuts the connection at `at` (or earlier, if already due then).
    pub(super) fn cut_at(&mut self, at: Instant, why: &'static str) {
        if self.cut.is_none_or(|(due, _)| at < due) {
            self.cut = Some((at, why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn server(config: impl FnOnce(&mut Config)) -> (Timers, Instant) {
        let mut c = Config::server();
        // Off unless a test turns it on (a server pings every two hours).
        c.keepalive_time = None;
        config(&mut c);
        let now = Instant::now();
        (Timers::new(Role::Server, &c, now), now)
    }

    #[test]
    fn nothing_configured_means_no_timer() {
        let (timers, _) = server(|_| {});
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn idle_counts_from_the_first_clock_after_the_last_call() {
        let (mut timers, t0) = server(|c| c.max_connection_idle = Some(secs(30)));
        assert_eq!(timers.next(), Some(t0 + secs(30)));
        let id = StreamId::new(1);
        timers.call_started(id, None);
        assert_eq!(timers.deadline(Timer::Idle), None);
        timers.call_ended(id, None, true);
        // Due at once, so that a clock comes and stamps the start.
        assert_eq!(timers.next(), Some(t0));
        timers.clock(t0 + secs(60));
        assert!(!timers.due(Timer::Idle, t0 + secs(60)));
        assert_eq!(timers.next(), Some(t0 + secs(90)));
        assert!(!timers.due(Timer::Idle, t0 + secs(89)));
        assert!(timers.due(Timer::Idle, t0 + secs(90)));
        timers.going_away();
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn call_deadlines_come_out_earliest_first_and_expire_in_stream_order() {
        let (mut timers, t0) = server(|_| {});
        let (a, b, c) = (StreamId::new(1), StreamId::new(3), StreamId::new(5));
        timers.call_started(c, Some(t0 + secs(1)));
        timers.call_started(a, Some(t0 + secs(2)));
        timers.call_started(b, Some(t0 + secs(9)));
        assert_eq!(timers.next(), Some(t0 + secs(1)));
        assert_eq!(timers.expired_calls(t0 + secs(2)), vec![a, c]);
        timers.call_ended(c, Some(t0 + secs(1)), false);
        assert_eq!(timers.next(), Some(t0 + secs(2)));
    }

    #[test]
    fn keepalive_pings_after_silence_and_waits_for_the_ack() {
        let (mut timers, t0) = server(|c| {
            c.keepalive_time = Some(secs(10));
            c.keepalive_timeout = secs(5);
        });
        assert_eq!(timers.deadline(Timer::KeepalivePing), Some(t0 + secs(10)));
        timers.ping_sent(t0 + secs(10));
        assert_eq!(timers.deadline(Timer::KeepalivePing), None);
        assert!(timers.due(Timer::KeepaliveAck, t0 + secs(15)));
        timers.read(t0 + secs(12));
        assert_eq!(timers.deadline(Timer::KeepaliveAck), None);
        assert_eq!(timers.deadline(Timer::KeepalivePing), Some(t0 + secs(22)));
    }

    #[test]
    fn a_client_without_permission_pings_only_with_calls() {
        let mut config = Config::client();
        config.keepalive_time = Some(secs(10));
        let t0 = Instant::now();
        let mut timers = Timers::new(Role::Client, &config, t0);
        assert_eq!(timers.deadline(Timer::KeepalivePing), None);
        timers.call_started(StreamId::new(1), None);
        assert_eq!(timers.deadline(Timer::KeepalivePing), Some(t0 + secs(10)));
    }

    #[test]
    fn the_earlier_cut_wins_and_fires_once() {
        let (mut timers, t0) = server(|c| c.max_connection_age = Some(secs(60)));
        timers.cut_at(t0 + secs(20), "later");
        timers.cut_at(t0 + secs(10), "earlier");
        timers.cut_at(t0 + secs(30), "latest");
        assert_eq!(timers.next(), Some(t0 + secs(10)));
        assert_eq!(timers.take_cut(t0 + secs(9)), None);
        assert_eq!(timers.take_cut(t0 + secs(10)), Some("earlier"));
        assert_eq!(timers.take_cut(t0 + secs(10)), None);
        assert_eq!(timers.next(), Some(t0 + secs(60)));
    }
}
