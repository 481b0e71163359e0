//! The health verdict as a sans-io state machine: results go in,
//! transitions come out. No clock, no sockets; `probe` does the IO.

/// The verdict on a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No verdict yet (a new backend in a pool with checks).
    Unknown,
    Up,
    Down,
}

/// HAProxy-style hysteresis: `rise` consecutive passes make a backend up,
/// `fall` consecutive failures make it down. A new backend goes up on its
/// first pass, so that it takes traffic as soon as a check confirms it.
#[derive(Debug, Clone)]
pub struct Tracker {
    rise: u32,
    fall: u32,
    passes: u32,
    failures: u32,
    verdict: Verdict,
}

impl Tracker {
    pub fn new(rise: u32, fall: u32) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            passes: 0,
            failures: 0,
            verdict: Verdict::Unknown,
        }
    }

    /// A tracker that starts from an earlier verdict, for a backend whose
    /// checks changed: one that was serving keeps serving until the new
    /// checks say otherwise.
    pub fn resume(rise: u32, fall: u32, verdict: Verdict) -> Self {
        Self {
            verdict,
            ..Self::new(rise, fall)
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Records one check result; returns the new verdict if it changed.
    pub fn record(&mut self, passed: bool) -> Option<Verdict> {
        let before = self.verdict;
        if passed {
            self.passes += 1;
            self.failures = 0;
            if self.verdict == Verdict::Unknown || self.passes >= self.rise {
                self.verdict = Verdict::Up;
            }
        } else {
            self.failures += 1;
            self.passes = 0;
            if self.verdict == Verdict::Unknown || self.failures >= self.fall {
                self.verdict = Verdict::Down;
            }
        }
        (self.verdict != before).then_some(self.verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_result_decides_then_hysteresis() {
        let mut t = Tracker::new(2, 3);
        assert_eq!(t.verdict(), Verdict::Unknown);
        assert_eq!(
            t.record(true),
            Some(Verdict::Up),
            "first pass admits at once"
        );
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a pass resets the failure count");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(Verdict::Down), "fall = 3");
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(Verdict::Up), "rise = 2");
    }

    #[test]
    fn a_resumed_verdict_needs_the_full_fall_to_change() {
        let mut t = Tracker::resume(2, 2, Verdict::Up);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(Verdict::Down));
    }

    #[test]
    fn a_new_backend_that_fails_is_down_at_once() {
        let mut t = Tracker::new(2, 3);
        assert_eq!(t.record(false), Some(Verdict::Down));
    }
}
