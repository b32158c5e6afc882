//! Bandwidth-delay-product estimation, as grpc-go's `bdp_estimator.go`: a
//! PING goes out when DATA arrives and none is outstanding; its round trip
//! and the octets received meanwhile estimate the link's bandwidth-delay
//! product, and the receive windows grow toward it so one stream can fill a
//! long fat link. Time is an argument; the arithmetic is grpc-go's, in `f64`.

use std::time::Instant;

/// The payload of our BDP PINGs (grpc-go's, so captures read the same).
pub(crate) const BDP_PING: [u8; 8] = [2, 4, 16, 16, 9, 14, 7, 7];

/// Weight of a new RTT sample once the first ten are averaged. grpc-go: `alpha`.
const ALPHA: f64 = 0.9;
/// A sample at least this share of the estimate may raise it. grpc-go: `beta`.
const BETA: f64 = 0.66;
/// The estimate becomes this multiple of the sample. grpc-go: `gamma`.
const GAMMA: f64 = 2.0;
/// A sample of octets received in one round trip is at most 1.5 times the
/// real BDP on a saturated link. grpc-go: the `1.5` in `calculate`.
const SAMPLE_OVERSHOOT: f64 = 1.5;

/// One connection's estimator.
#[derive(Debug)]
pub(crate) struct BdpEstimator {
    /// The windows never grow past this. grpc-go: `bdpLimit` (16 MiB).
    limit: u32,
    /// The current estimate: the window size last asked for.
    bdp: u32,
    /// Octets received since the outstanding PING was sent.
    sample: u32,
    /// When the outstanding PING was sent; `None` when none is.
    sent_at: Option<Instant>,
    samples: u64,
    /// Smoothed round-trip time, seconds.
    rtt: f64,
    /// The largest bandwidth seen, octets per second.
    bw_max: f64,
}

impl BdpEstimator {
    /// An estimator starting from the current stream window `initial`.
    pub(crate) fn new(initial: u32, limit: u32) -> Self {
        BdpEstimator {
            limit,
            bdp: initial.min(limit),
            sample: 0,
            sent_at: None,
            samples: 0,
            rtt: 0.0,
            bw_max: 0.0,
        }
    }

    /// The current estimate: the window size last asked for.
    pub(crate) fn window(&self) -> u32 {
        self.bdp
    }

    /// `n` flow-controlled octets arrived at `now`. True when a BDP PING must
    /// be sent now (the first DATA since the last PING returned). grpc-go: `add`.
    pub(crate) fn add(&mut self, now: Instant, n: u32) -> bool {
        if self.bdp >= self.limit {
            return false;
        }
        if self.sent_at.is_none() {
            self.sent_at = Some(now);
            self.sample = n;
            self.samples += 1;
            return true;
        }
        self.sample = self.sample.saturating_add(n);
        false
    }

    /// Our BDP PING came back at `now`. Returns the new window size when the
    /// estimate grew. grpc-go: `calculate`.
    pub(crate) fn ping_acked(&mut self, now: Instant) -> Option<u32> {
        // An ACK we did not ask for (a peer echoing our payload twice).
        let sent_at = self.sent_at.take()?;
        let rtt_sample = now.saturating_duration_since(sent_at).as_secs_f64();
        if self.samples < 10 {
            // The first ten samples make a plain average.
            self.rtt += (rtt_sample - self.rtt) / self.samples as f64;
        } else {
            self.rtt += (rtt_sample - self.rtt) * ALPHA;
        }
        let sample = f64::from(self.sample);
        // With a zero RTT (a virtual clock) this is +inf, as in Go: the
        // estimate then follows the samples alone.
        let bw_current = sample / (self.rtt * SAMPLE_OVERSHOOT);
        if bw_current > self.bw_max {
            self.bw_max = bw_current;
        }
        if sample >= BETA * f64::from(self.bdp) && bw_current == self.bw_max {
            let grown = (GAMMA * sample).min(f64::from(self.limit)) as u32;
            if grown > self.bdp {
                self.bdp = grown;
                return Some(grown);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A link of `bandwidth` octets/s and `rtt`, saturated: each round trip
    /// delivers rtt × bandwidth octets (capped by the window the receiver
    /// advertises, which follows the estimate).
    fn converge(bandwidth: f64, rtt: Duration, rounds: usize) -> u32 {
        let mut est = BdpEstimator::new(65_535, 16 << 20);
        let mut now = Instant::now();
        let mut window = 65_535u32;
        for _ in 0..rounds {
            let per_rtt = (bandwidth * rtt.as_secs_f64()).min(f64::from(window)) as u32;
            if !est.add(now, 1) {
                // At the limit: no more probes.
                assert_eq!(window, 16 << 20);
                break;
            }
            assert!(!est.add(now, per_rtt - 1));
            now += rtt;
            if let Some(w) = est.ping_acked(now) {
                window = w;
            }
        }
        window
    }

    #[test]
    fn the_window_grows_past_the_real_bdp_and_stops_at_the_limit() {
        // 12.5 MB/s × 20 ms = 250 kB.
        let w = converge(12.5e6, Duration::from_millis(20), 50);
        assert!((250_000..=1_000_000).contains(&w), "{w}");
        // 1 GB/s × 100 ms is far past the 16 MiB limit.
        assert_eq!(converge(1e9, Duration::from_millis(100), 50), 16 << 20);
    }

    #[test]
    fn a_small_sample_does_not_shrink_or_grow_the_estimate() {
        let mut est = BdpEstimator::new(65_535, 16 << 20);
        let t = Instant::now();
        assert!(est.add(t, 100));
        assert_eq!(est.ping_acked(t + Duration::from_millis(10)), None);
    }

    #[test]
    fn no_ping_while_one_is_outstanding_and_none_at_the_limit() {
        let mut est = BdpEstimator::new(65_535, 65_535);
        assert!(!est.add(Instant::now(), 10));
        let mut est = BdpEstimator::new(65_535, 1 << 20);
        let t = Instant::now();
        assert!(est.add(t, 60_000));
        assert!(!est.add(t, 60_000));
        assert_eq!(est.ping_acked(t + Duration::from_millis(1)), Some(240_000));
        // An ACK nobody asked for changes nothing.
        assert!(est.add(t, 500_000));
        assert!(est.ping_acked(t + Duration::from_millis(2)).is_some());
        assert_eq!(est.ping_acked(t + Duration::from_millis(3)), None);
    }
}
