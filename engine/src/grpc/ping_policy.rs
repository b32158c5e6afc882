//! The server's policy on the client's PINGs, rule for rule grpc-go's
//! (`internal/transport/http2_server.go`, `handlePing`, with
//! `keepalive.EnforcementPolicy`). A client that pings while data flows is
//! never punished: grpc-go's own client sends a bandwidth-delay-product probe
//! PING whenever DATA arrives, several within a millisecond on a fast link.

use std::time::{Duration, Instant};

/// Faster PINGs than the policy allows that are forgiven; one more closes the
/// connection. grpc-go: `maxPingStrikes = 2`.
const MAX_PING_STRIKES: u32 = 2;

/// With no active call and pings not permitted then, a ping sooner than this
/// after the previous one is a strike, whatever `min_time` says. grpc-go:
/// `defaultPingTimeout` (2 hours), used in place of `MinTime` there.
const IDLE_MIN_TIME: Duration = Duration::from_secs(2 * 60 * 60);

/// What the server does about one PING from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the policy, or forgiven.
    Allowed,
    /// One strike too many: GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and
    /// close.
    TooManyPings,
}

/// The strike count and what it depends on.
#[derive(Debug)]
pub(crate) struct PingPolicy {
    /// grpc-go: `EnforcementPolicy.MinTime` (default 5 minutes).
    min_time: Duration,
    /// grpc-go: `EnforcementPolicy.PermitWithoutStream` (default false).
    permit_without_calls: bool,
    /// grpc-go: `pingStrikes`.
    strikes: u32,
    /// grpc-go: `lastPingAt`; `None` stands for Go's zero time, which no ping
    /// is ever too close to.
    last_ping: Option<Instant>,
    /// A HEADERS or DATA frame was written since the last ping. grpc-go:
    /// `resetPingStrikes`, set by `onWrite`/`onEachWrite` of every header and
    /// data frame the loopy writer puts on the wire.
    wrote_since_ping: bool,
}

impl PingPolicy {
    pub(crate) fn new(min_time: Duration, permit_without_calls: bool) -> Self {
        PingPolicy {
            min_time,
            permit_without_calls,
            strikes: 0,
            last_ping: None,
            wrote_since_ping: false,
        }
    }

    /// We wrote a HEADERS or DATA frame: the next ping is forgiven. grpc-go:
    /// `setResetPingStrikes`, called per frame written, not per message queued.
    pub(crate) fn wrote_headers_or_data(&mut self) {
        self.wrote_since_ping = true;
    }

    /// The client sent a PING (not an ACK: grpc-go's `handlePing` returns
    /// before the policy for ACKs, and the ACK of this ping is queued before
    /// any GOAWAY, as there).
    pub(crate) fn ping_received(&mut self, now: Instant, calls_active: bool) -> Verdict {
        let last = self.last_ping.replace(now);
        // grpc-go: a reset flag skips the policy check and zeroes the count.
        if std::mem::take(&mut self.wrote_since_ping) {
            self.strikes = 0;
            return Verdict::Allowed;
        }
        // grpc-go: with no active stream and PermitWithoutStream false, the
        // interval is defaultPingTimeout; otherwise MinTime.
        let min_interval = if !calls_active && !self.permit_without_calls {
            IDLE_MIN_TIME
        } else {
            self.min_time
        };
        // grpc-go: `lastPingAt.Add(interval).After(now)`, strictly sooner.
        if last.is_some_and(|last| now < last + min_interval) {
            self.strikes += 1;
        }
        // grpc-go: `pingStrikes > maxPingStrikes`.
        if self.strikes > MAX_PING_STRIKES {
            Verdict::TooManyPings
        } else {
            Verdict::Allowed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> (PingPolicy, Instant) {
        (
            PingPolicy::new(Duration::from_secs(300), false),
            Instant::now(),
        )
    }

    #[test]
    fn the_third_strike_is_too_many() {
        let (mut p, t) = policy();
        assert_eq!(p.ping_received(t, true), Verdict::Allowed);
        assert_eq!(p.ping_received(t, true), Verdict::Allowed);
        assert_eq!(p.ping_received(t, true), Verdict::Allowed);
        assert_eq!(p.ping_received(t, true), Verdict::TooManyPings);
    }

    #[test]
    fn a_write_forgives_the_next_ping_only() {
        let (mut p, t) = policy();
        p.ping_received(t, true);
        p.ping_received(t, true);
        p.ping_received(t, true);
        p.wrote_headers_or_data();
        // Forgiven, and the count starts over.
        assert_eq!(p.ping_received(t, true), Verdict::Allowed);
        assert_eq!(p.ping_received(t, true), Verdict::Allowed);
        assert_eq!(p.ping_received(t, true), Verdict::Allowed);
        assert_eq!(p.ping_received(t, true), Verdict::TooManyPings);
    }

    #[test]
    fn pings_min_time_apart_never_strike() {
        let (mut p, t) = policy();
        for i in 0..10 {
            let at = t + Duration::from_secs(300 * i);
            assert_eq!(p.ping_received(at, true), Verdict::Allowed);
        }
        assert_eq!(p.strikes, 0);
    }

    #[test]
    fn without_calls_the_interval_is_two_hours_unless_permitted() {
        let (mut p, t) = policy();
        for i in 0..3 {
            let at = t + Duration::from_secs(3600 * i);
            assert_eq!(p.ping_received(at, false), Verdict::Allowed);
        }
        assert_eq!(p.strikes, 2, "hourly pings strike when idle");
        let mut p = PingPolicy::new(Duration::from_secs(300), true);
        for i in 0..10 {
            let at = t + Duration::from_secs(300 * i);
            assert_eq!(p.ping_received(at, false), Verdict::Allowed);
        }
        assert_eq!(p.strikes, 0);
    }
}
