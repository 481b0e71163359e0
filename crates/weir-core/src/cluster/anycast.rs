//! `anycast` mode's rule: which VIPs a node announces to the network.
//!
//! Every node serves every VIP; the router spreads new connections over
//! the nodes announcing one (ECMP). A node should therefore announce a VIP
//! only while a connection routed to it would be served: some listener of
//! the VIP is bound here and either answers by itself (a redirect to
//! HTTPS) or has a backend this node's health checks find healthy. A node
//! that is leaving (shutting down) announces nothing, so the router moves
//! new connections away before its listeners close. Pure: the caller
//! reads the listeners and the data plane's live state.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// One listener as this node's data plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerReadiness {
    pub vip: IpAddr,
    /// Bound and accepting on this node.
    pub bound: bool,
    /// Answers every request itself (an HTTP listener redirecting to
    /// HTTPS), so it needs no backend.
    pub answers_itself: bool,
    /// Backends of the pools it forwards to that this node's checks find
    /// healthy (a backend still being checked is not).
    pub healthy_backends: usize,
}

impl ListenerReadiness {
    /// Whether a new connection to it on this node would be served.
    pub fn serves(&self) -> bool {
        self.bound && (self.answers_itself || self.healthy_backends > 0)
    }
}

/// The VIPs this node announces: those with at least one listener that
/// [`serves`](ListenerReadiness::serves), none while `leaving`.
///
/// A VIP is announced or withdrawn whole (a route is per address, not per
/// port): a VIP one of whose listeners serves stays announced, and its
/// other listeners' connections reach this node as they would any other.
pub fn announcements(leaving: bool, listeners: &[ListenerReadiness]) -> BTreeSet<IpAddr> {
    if leaving {
        return BTreeSet::new();
    }
    listeners
        .iter()
        .filter(|l| l.serves())
        .map(|l| l.vip)
        .collect()
}

/// What changed between two announced sets: (announced now, withdrawn).
pub fn changes(before: &BTreeSet<IpAddr>, after: &BTreeSet<IpAddr>) -> (Vec<IpAddr>, Vec<IpAddr>) {
    (
        after.difference(before).copied().collect(),
        before.difference(after).copied().collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    fn vip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, 1, n))
    }

    fn listener(n: u8, bound: bool, healthy: usize) -> ListenerReadiness {
        ListenerReadiness {
            vip: vip(n),
            bound,
            answers_itself: false,
            healthy_backends: healthy,
        }
    }

    #[test]
    fn a_vip_with_a_healthy_bound_listener_is_announced() {
        let set = announcements(false, &[listener(1, true, 2)]);
        assert_eq!(set, BTreeSet::from([vip(1)]));
    }

    #[test]
    fn a_vip_whose_listeners_have_no_healthy_backend_is_withdrawn() {
        let set = announcements(false, &[listener(1, true, 0), listener(1, true, 0)]);
        assert!(set.is_empty(), "{set:?}");
    }

    #[test]
    fn an_unbound_listener_does_not_count() {
        let set = announcements(false, &[listener(1, false, 3)]);
        assert!(set.is_empty(), "{set:?}");
    }

    #[test]
    fn one_serving_listener_keeps_the_whole_vip() {
        let set = announcements(false, &[listener(1, true, 0), listener(1, true, 1)]);
        assert_eq!(set, BTreeSet::from([vip(1)]));
    }

    #[test]
    fn a_redirecting_listener_needs_no_backend() {
        let mut redirect = listener(2, true, 0);
        redirect.answers_itself = true;
        assert_eq!(
            announcements(false, &[redirect.clone()]),
            BTreeSet::from([vip(2)])
        );
        redirect.bound = false;
        assert!(announcements(false, &[redirect]).is_empty());
    }

    #[test]
    fn a_leaving_node_announces_nothing() {
        assert!(announcements(true, &[listener(1, true, 5)]).is_empty());
    }

    #[test]
    fn vips_are_independent_and_of_both_families() {
        let v6 = ListenerReadiness {
            vip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
            bound: true,
            answers_itself: false,
            healthy_backends: 1,
        };
        let set = announcements(
            false,
            &[listener(1, true, 0), listener(3, true, 1), v6.clone()],
        );
        assert_eq!(set, BTreeSet::from([vip(3), v6.vip]));
    }

    #[test]
    fn changes_name_what_came_and_what_went() {
        let before = BTreeSet::from([vip(1), vip(2)]);
        let after = BTreeSet::from([vip(2), vip(3)]);
        assert_eq!(changes(&before, &after), (vec![vip(3)], vec![vip(1)]));
        assert_eq!(changes(&after, &after), (vec![], vec![]));
    }

    proptest! {
        /// Whatever the listeners, a VIP is announced exactly when one of
        /// its listeners serves, and only VIPs of listeners are.
        #[test]
        fn announced_iff_some_listener_serves(
            specs in proptest::collection::vec((0u8..6, any::<bool>(), any::<bool>(), 0usize..3), 0..24),
            leaving in any::<bool>(),
        ) {
            let listeners: Vec<_> = specs
                .iter()
                .map(|&(n, bound, itself, healthy)| ListenerReadiness {
                    vip: vip(n),
                    bound,
                    answers_itself: itself,
                    healthy_backends: healthy,
                })
                .collect();
            let set = announcements(leaving, &listeners);
            for n in 0u8..6 {
                let serves = listeners.iter().any(|l| l.vip == vip(n) && l.serves());
                prop_assert_eq!(set.contains(&vip(n)), serves && !leaving);
            }
            prop_assert!(set.iter().all(|v| listeners.iter().any(|l| l.vip == *v)));
        }
    }
}
