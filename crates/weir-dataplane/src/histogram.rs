//! Latency histograms of the data plane (Prometheus `histogram`
//! families): fixed buckets from 250 µs to 10 s, one atomic counter per
//! bucket and an atomic sum, so recording on the connection path takes
//! no lock and allocates nothing. Buckets hold what landed in them
//! alone; the cumulative `le` counts and `_count` are summed when a
//! scrape renders them, which keeps a recording to two atomic adds.

use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets in microseconds, and as the `le` label
/// spells them (seconds). From loopback round trips (well under 1 ms) to
/// the timeouts operators set (seconds): the steps a load balancer's
/// latency moves in.
const BOUNDS: [(u64, &str); 15] = [
    (250, "0.00025"),
    (500, "0.0005"),
    (1_000, "0.001"),
    (2_500, "0.0025"),
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
    (5_000_000, "5"),
    (10_000_000, "10"),
];

/// The longest duration counted as itself (a day), in microseconds.
const MAX_US: u64 = 86_400_000_000;

/// One latency histogram: a listener's request durations or a backend's
/// connect times.
#[derive(Debug, Default)]
pub struct Histogram {
    /// One per bound, then the overflow (`+Inf` alone).
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    /// Counts one duration.
    pub fn observe(&self, took: Duration) {
        // Capped at a day, so no run of absurd values wraps the sum.
        let us = u64::try_from(took.as_micros()).map_or(MAX_US, |us| us.min(MAX_US));
        // Prometheus' buckets are `<= le`.
        let slot = BOUNDS.partition_point(|&(bound, _)| bound < us);
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The series of one histogram: `{name}_bucket` per bound and
    /// `+Inf`, `{name}_sum` (seconds) and `{name}_count`, labelled
    /// `{label}="{id}"`.
    pub(crate) fn render(&self, out: &mut String, name: &str, label: &str, id: impl Display) {
        let mut seen = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            let le = BOUNDS.get(i).map_or("+Inf", |&(_, le)| le);
            let _ = writeln!(out, "{name}_bucket{{{label}=\"{id}\",le=\"{le}\"}} {seen}");
        }
        let sum = self.sum_us.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_sum{{{label}=\"{id}\"}} {}.{:06}",
            sum / 1_000_000,
            sum % 1_000_000
        );
        let _ = writeln!(out, "{name}_count{{{label}=\"{id}\"}} {seen}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(h: &Histogram) -> Vec<String> {
        let mut out = String::new();
        h.render(&mut out, "t", "listener", "l1");
        out.lines().map(str::to_owned).collect()
    }

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let h = Histogram::default();
        // On a bound (inclusive), just past one, the largest, past all.
        h.observe(Duration::from_micros(250));
        h.observe(Duration::from_micros(251));
        h.observe(Duration::from_secs(10));
        h.observe(Duration::from_secs(11));
        let lines = rendered(&h);
        assert_eq!(lines.len(), BOUNDS.len() + 3);
        assert_eq!(lines[0], "t_bucket{listener=\"l1\",le=\"0.00025\"} 1");
        assert_eq!(lines[1], "t_bucket{listener=\"l1\",le=\"0.0005\"} 2");
        assert_eq!(lines[13], "t_bucket{listener=\"l1\",le=\"5\"} 2");
        assert_eq!(lines[14], "t_bucket{listener=\"l1\",le=\"10\"} 3");
        assert_eq!(lines[15], "t_bucket{listener=\"l1\",le=\"+Inf\"} 4");
        assert_eq!(lines[16], "t_sum{listener=\"l1\"} 21.000501");
        assert_eq!(lines[17], "t_count{listener=\"l1\"} 4");
    }

    #[test]
    fn an_empty_histogram_renders_zeros_and_bounds_ascend() {
        let lines = rendered(&Histogram::default());
        assert!(lines[..16].iter().all(|l| l.ends_with(" 0")));
        assert_eq!(lines[16], "t_sum{listener=\"l1\"} 0.000000");
        assert!(BOUNDS.windows(2).all(|w| w[0].0 < w[1].0));
        for (us, le) in BOUNDS {
            let secs: f64 = le.parse().unwrap();
            assert_eq!((secs * 1e6).round() as u64, us);
        }
    }

    #[test]
    fn a_huge_duration_saturates_into_the_overflow_bucket() {
        let h = Histogram::default();
        h.observe(Duration::MAX);
        let lines = rendered(&h);
        assert_eq!(lines[14], "t_bucket{listener=\"l1\",le=\"10\"} 0");
        assert_eq!(lines[15], "t_bucket{listener=\"l1\",le=\"+Inf\"} 1");
        assert_eq!(lines[16], "t_sum{listener=\"l1\"} 86400.000000");
    }
}
