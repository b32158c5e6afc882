//! A log-linear latency histogram: constant memory whatever the call count,
//! under 1 % relative error (128 buckets per power of two, in nanoseconds).

use std::time::Duration;

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
const HALF: u64 = SUB / 2;
const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * HALF) as usize;

/// Counts of latencies, by bucket.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum_ns: u128,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum_ns: 0,
        }
    }
}

fn index(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let high = 63 - ns.leading_zeros();
    let shift = high - (SUB_BITS - 1);
    (SUB + u64::from(shift - 1) * HALF + ((ns >> shift) - HALF)) as usize
}

/// The smallest value of bucket `i`.
fn lowest(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / HALF + 1;
    ((i - SUB) % HALF + HALF) << shift
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[index(ns)] += 1;
        self.total += 1;
        self.sum_ns += u128::from(ns);
    }

    /// Adds `other`'s counts to ours.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum_ns += other.sum_ns;
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The mean, zero when empty.
    pub fn mean(&self) -> Duration {
        match self.total {
            0 => Duration::ZERO,
            n => {
                Duration::from_nanos(u64::try_from(self.sum_ns / u128::from(n)).unwrap_or(u64::MAX))
            }
        }
    }

    /// The latency below which a fraction `q` (0..=1) of the calls fall: the
    /// lower bound of its bucket, zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(lowest(i));
            }
        }
        Duration::from_nanos(lowest(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        for i in 0..BUCKETS - 1 {
            assert_eq!(index(lowest(i)), i, "bucket {i}");
            assert_eq!(index(lowest(i + 1) - 1), i, "end of bucket {i}");
        }
        for ns in [0, 1, 127, 128, 1000, 123_456, 10_000_000_000, u64::MAX] {
            let low = lowest(index(ns));
            assert!(low <= ns && (ns - low) as f64 <= ns as f64 / 64.0, "{ns}");
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for us in 1..=100 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 100);
        let p50 = h.quantile(0.5).as_nanos() as f64;
        assert!((p50 - 50_000.0).abs() <= 50_000.0 / 64.0, "{p50}");
        let p99 = h.quantile(0.99).as_nanos() as f64;
        assert!((p99 - 99_000.0).abs() <= 99_000.0 / 64.0, "{p99}");
        assert_eq!(h.mean(), Duration::from_nanos(50_500));
    }
}
