//! Fail-open (Envoy's panic mode, AWS target groups' fail-open): when no
//! backend of a pool may serve because every one failed its health check
//! (or was ejected for passive failures), a pool that opted in spreads
//! traffic over all of them rather than refusing every client, on the
//! reasoning that a check that fails everywhere at once is more likely
//! wrong than every backend. Off by default: with it off, a pool whose
//! backends are all down refuses connections, as it always has.
//!
//! Only health is overridden. A backend the operator or tenant took out
//! (disabled, weight 0, draining, removed) or that the egress guard
//! refuses never serves, fail-open or not.

/// What the data plane knows of one backend at a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Enabled, weight above 0, not draining nor removed, dialable.
    pub in_service: bool,
    /// In service and passing its checks (or unchecked) and not ejected.
    pub eligible: bool,
}

/// Which backends serve: the eligible ones; or, when none is and the
/// pool fails open, every one in service (then `true` in the second
/// place, so the caller can say the pool is failing open).
pub fn serving(candidates: &[Candidate], fail_open: bool) -> (Vec<bool>, bool) {
    let any_eligible = candidates.iter().any(|c| c.eligible);
    if any_eligible || !fail_open {
        return (candidates.iter().map(|c| c.eligible).collect(), false);
    }
    let chosen: Vec<bool> = candidates.iter().map(|c| c.in_service).collect();
    let open = chosen.iter().any(|&c| c);
    (chosen, open)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Candidate = Candidate {
        in_service: true,
        eligible: true,
    };
    const DOWN: Candidate = Candidate {
        in_service: true,
        eligible: false,
    };
    const OUT: Candidate = Candidate {
        in_service: false,
        eligible: false,
    };

    #[test]
    fn off_serves_only_the_eligible_even_when_none_is() {
        assert_eq!(serving(&[DOWN, DOWN], false), (vec![false, false], false));
        assert_eq!(serving(&[UP, DOWN], false), (vec![true, false], false));
    }

    #[test]
    fn on_changes_nothing_while_one_backend_is_eligible() {
        assert_eq!(
            serving(&[UP, DOWN, OUT], true),
            (vec![true, false, false], false)
        );
    }

    #[test]
    fn on_with_every_backend_down_serves_all_in_service_but_never_those_taken_out() {
        assert_eq!(
            serving(&[DOWN, OUT, DOWN], true),
            (vec![true, false, true], true)
        );
        assert_eq!(serving(&[OUT, OUT], true), (vec![false, false], false));
        assert_eq!(serving(&[], true), (vec![], false));
    }
}
