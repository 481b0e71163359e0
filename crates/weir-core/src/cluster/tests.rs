//! The cluster rules: node states at their boundaries, lease timings, and
//! the lease plan by example and as properties over arbitrary views.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;

fn vip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 1, n))
}

fn member(id: &str, state: NodeState) -> Member {
    Member {
        id: id.to_owned(),
        state,
        holds_vips: true,
    }
}

fn lease(n: u8, owner: &str, epoch: u64, expires_ms: i64) -> Lease {
    Lease {
        vip: vip(n),
        owner: owner.to_owned(),
        epoch,
        expires_ms,
    }
}

#[test]
fn node_states_at_their_boundaries() {
    assert_eq!(node_state(0, 3000), NodeState::Up);
    assert_eq!(node_state(-50, 3000), NodeState::Up);
    assert_eq!(node_state(1500, 3000), NodeState::Up);
    assert_eq!(node_state(1501, 3000), NodeState::Suspect);
    assert_eq!(node_state(3000, 3000), NodeState::Suspect);
    assert_eq!(node_state(3001, 3000), NodeState::Down);
    assert_eq!(node_state(i64::MAX, u64::MAX), NodeState::Suspect);
}

#[test]
fn the_owner_lets_go_well_before_the_lease_expires() {
    for timeout in [1, 300, 600, 3000, 3_600_000] {
        let t = LeaseTimings::from_timeout(timeout);
        assert!(t.ttl_ms >= MIN_NODE_TIMEOUT_MS);
        // Several renewals fit in the hold, and a margin of at least one
        // renewal period is left between letting go and the expiry.
        assert!(t.renew_every_ms * 3 < t.hold_ms, "{t:?}");
        assert!(t.hold_ms + t.renew_every_ms < t.ttl_ms, "{t:?}");
    }
}

#[test]
fn a_node_renews_its_live_leases_and_releases_unwanted_ones() {
    let members = [member("a", NodeState::Up), member("b", NodeState::Up)];
    let leases = [lease(1, "a", 4, 2000), lease(2, "a", 7, 2000)];
    let vips = BTreeSet::from([vip(1)]);
    let plan = plan_leases("a", &vips, &members, &leases, 1000);
    assert_eq!(
        plan,
        vec![
            LeaseAction::Renew {
                vip: vip(1),
                epoch: 4
            },
            LeaseAction::Release {
                vip: vip(2),
                epoch: 7
            },
        ]
    );
    assert!(plan_leases("b", &vips, &members, &leases, 1000).is_empty());
}

#[test]
fn an_expired_lease_goes_to_the_least_loaded_up_node_with_its_epoch() {
    let members = [
        member("a", NodeState::Down),
        member("b", NodeState::Up),
        member("c", NodeState::Up),
    ];
    // a held 1 and 2 and is gone; c holds 3.
    let leases = [
        lease(1, "a", 5, 900),
        lease(2, "a", 6, 900),
        lease(3, "c", 1, 5000),
    ];
    let vips = BTreeSet::from([vip(1), vip(2), vip(3)]);
    let b = plan_leases("b", &vips, &members, &leases, 1000);
    let c = plan_leases("c", &vips, &members, &leases, 1000);
    // b (no lease) takes 1; then b and c hold one each, and b wins the tie.
    assert_eq!(
        b,
        vec![
            LeaseAction::Acquire {
                vip: vip(1),
                seen_epoch: 5
            },
            LeaseAction::Acquire {
                vip: vip(2),
                seen_epoch: 6
            },
        ]
    );
    assert_eq!(
        c,
        vec![LeaseAction::Renew {
            vip: vip(3),
            epoch: 1
        }]
    );
}

#[test]
fn a_node_that_comes_back_takes_nothing_held() {
    let members = [member("a", NodeState::Up), member("b", NodeState::Up)];
    let leases = [lease(1, "b", 2, 5000), lease(2, "b", 3, 5000)];
    let vips = BTreeSet::from([vip(1), vip(2)]);
    assert!(plan_leases("a", &vips, &members, &leases, 1000).is_empty());
    // A new VIP goes to the node holding none.
    let vips = BTreeSet::from([vip(1), vip(2), vip(3)]);
    assert_eq!(
        plan_leases("a", &vips, &members, &leases, 1000),
        vec![LeaseAction::Acquire {
            vip: vip(3),
            seen_epoch: 0
        }]
    );
}

#[test]
fn suspect_down_and_vipless_nodes_are_not_handed_vips() {
    let mut members = vec![
        member("a", NodeState::Suspect),
        member("b", NodeState::Down),
        member("c", NodeState::Up),
    ];
    members[2].holds_vips = false;
    let vips = BTreeSet::from([vip(1)]);
    for id in ["a", "b", "c"] {
        assert!(plan_leases(id, &vips, &members, &[], 0).is_empty(), "{id}");
    }
    members.push(member("d", NodeState::Up));
    assert_eq!(
        plan_leases("d", &vips, &members, &[], 0),
        vec![LeaseAction::Acquire {
            vip: vip(1),
            seen_epoch: 0
        }]
    );
}

fn view() -> impl Strategy<Value = (Vec<Member>, Vec<Lease>, BTreeSet<IpAddr>, i64)> {
    let states = prop_oneof![
        Just(NodeState::Up),
        Just(NodeState::Suspect),
        Just(NodeState::Down)
    ];
    (
        prop::collection::vec((states, any::<bool>()), 1..6),
        prop::collection::vec((0u8..12, 0usize..6, 1u64..50, 0i64..2000), 0..12),
        prop::collection::btree_set(0u8..12, 0..12),
        0i64..2000,
    )
        .prop_map(|(nodes, raw_leases, vips, now)| {
            let members: Vec<Member> = nodes
                .into_iter()
                .enumerate()
                .map(|(i, (state, holds_vips))| Member {
                    id: format!("n{i}"),
                    state,
                    holds_vips,
                })
                .collect();
            let mut seen = BTreeSet::new();
            let leases = raw_leases
                .into_iter()
                .filter(|(v, ..)| seen.insert(*v))
                .map(|(v, owner, epoch, expires)| Lease {
                    vip: vip(v),
                    owner: format!("n{}", owner % members.len()),
                    epoch,
                    expires_ms: expires,
                })
                .collect();
            (members, leases, vips.into_iter().map(vip).collect(), now)
        })
}

proptest! {
    /// Every node planning from one view: an unheld VIP is taken by at
    /// most one node (exactly one when an up node with a data plane
    /// exists), a live lease is only ever renewed or released by its
    /// owner, and an acquisition names the epoch it saw.
    #[test]
    fn one_taker_per_vip_and_no_live_lease_moves((members, leases, vips, now) in view()) {
        let up: Vec<&Member> = members.iter().filter(|m| m.holds_vips && m.state == NodeState::Up).collect();
        let mut takers: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
        for m in members.iter().filter(|m| m.state == NodeState::Up) {
            for action in plan_leases(&m.id, &vips, &members, &leases, now) {
                match action {
                    LeaseAction::Acquire { vip, seen_epoch } => {
                        let held = leases.iter().find(|l| l.vip == vip);
                        prop_assert!(held.is_none_or(|l| !l.live_at(now)));
                        prop_assert_eq!(seen_epoch, held.map_or(0, |l| l.epoch));
                        prop_assert!(vips.contains(&vip));
                        takers.entry(vip).or_default().push(m.id.clone());
                    }
                    LeaseAction::Renew { vip, epoch } | LeaseAction::Release { vip, epoch } => {
                        let held = leases.iter().find(|l| l.vip == vip).expect("held");
                        prop_assert_eq!(&held.owner, &m.id);
                        prop_assert_eq!(held.epoch, epoch);
                        prop_assert!(held.live_at(now));
                    }
                }
            }
        }
        for vip in &vips {
            let unheld = !leases.iter().any(|l| l.vip == *vip && l.live_at(now));
            let n = takers.get(vip).map_or(0, Vec::len);
            if unheld && !up.is_empty() {
                prop_assert_eq!(n, 1, "{} taken by {:?}", vip, takers.get(vip));
            } else {
                prop_assert_eq!(n, 0);
            }
        }
    }

    /// From nothing held, VIPs spread evenly: no up node ends with two
    /// more than another.
    #[test]
    fn vips_spread_evenly_from_scratch(nodes in 1usize..6, count in 0u8..30) {
        let members: Vec<Member> = (0..nodes).map(|i| member(&format!("n{i}"), NodeState::Up)).collect();
        let vips: BTreeSet<IpAddr> = (0..count).map(vip).collect();
        let counts: Vec<usize> = members
            .iter()
            .map(|m| plan_leases(&m.id, &vips, &members, &[], 0).len())
            .collect();
        prop_assert_eq!(counts.iter().sum::<usize>(), vips.len());
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "{:?}", counts);
    }
}

fn mixed(default: VipMode) -> ClusterSettings {
    ClusterSettings {
        vip_mode: default,
        vip_modes: VipModes::only(default)
            .with(VipMode::Failover)
            .with(VipMode::Anycast),
        ..ClusterSettings::default()
    }
}

#[test]
fn a_load_balancer_may_choose_only_a_mode_the_deployment_runs() {
    // A single-node SQLite deployment runs `none` alone: `failover` is
    // refused with what it needs, not stored and ignored.
    let single = ClusterSettings::default();
    assert!(single.check_lb_vip_mode(None).is_ok());
    assert!(single.check_lb_vip_mode(Some(VipMode::None)).is_ok());
    let err = single
        .check_lb_vip_mode(Some(VipMode::Failover))
        .unwrap_err()
        .to_string();
    assert!(err.contains("PostgreSQL"), "{err}");
    assert!(err.contains("cluster.vip_modes: \"none\""), "{err}");
    assert!(single.check_lb_vip_mode(Some(VipMode::Anycast)).is_err());
    // A deployment running failover and anycast takes either, not `none`.
    let both = mixed(VipMode::Failover);
    assert!(both.check_lb_vip_mode(Some(VipMode::Anycast)).is_ok());
    assert!(both.check_lb_vip_mode(Some(VipMode::Failover)).is_ok());
    assert!(both.check_lb_vip_mode(None).is_ok());
    assert!(both.check_lb_vip_mode(Some(VipMode::None)).is_err());
    assert_eq!(both.vip_modes.describe(), "\"failover\", \"anycast\"");
}

#[test]
fn with_mixed_modes_only_failover_vips_are_leased() {
    let settings = mixed(VipMode::Failover);
    // vip 1 inherits failover, 2 is anycast, 3 names failover, 4 anycast
    // by its own choice in an anycast-default deployment below.
    let listeners = [
        (vip(1), None),
        (vip(2), Some(VipMode::Anycast)),
        (vip(3), Some(VipMode::Failover)),
        (vip(3), Some(VipMode::Failover)),
    ];
    let failover = settings.vips_in(VipMode::Failover, listeners);
    assert_eq!(failover, BTreeSet::from([vip(1), vip(3)]));
    assert_eq!(
        settings.vips_in(VipMode::Anycast, listeners),
        BTreeSet::from([vip(2)])
    );
    assert!(settings.vips_in(VipMode::None, listeners).is_empty());
    let anycast_default = mixed(VipMode::Anycast);
    assert_eq!(
        anycast_default.vips_in(VipMode::Anycast, listeners),
        BTreeSet::from([vip(1), vip(2)])
    );

    // Node a held vip 2 before its load balancer moved to anycast: the
    // plan over the failover VIPs releases it; the others are spread.
    let members = [member("a", NodeState::Up), member("b", NodeState::Up)];
    let leases = [lease(2, "a", 5, 2000)];
    let plan_a = plan_leases("a", &failover, &members, &leases, 1000);
    let plan_b = plan_leases("b", &failover, &members, &leases, 1000);
    assert!(plan_a.contains(&LeaseAction::Release {
        vip: vip(2),
        epoch: 5
    }));
    let acquired = |plan: &[LeaseAction]| -> BTreeSet<IpAddr> {
        plan.iter()
            .filter_map(|a| match a {
                LeaseAction::Acquire { vip, .. } => Some(*vip),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (acquired(&plan_a), acquired(&plan_b));
    assert!(a.is_disjoint(&b), "{a:?} {b:?}");
    assert_eq!(&a | &b, failover, "every failover VIP has one taker");
    assert!(!a.contains(&vip(2)) && !b.contains(&vip(2)));
}

proptest! {
    /// Whatever the load balancers' own modes, each VIP is in exactly one
    /// regime, the one its load balancer's mode (or the default) names.
    #[test]
    fn every_vip_is_in_exactly_one_regime(
        specs in proptest::collection::vec((0u8..8, 0u8..4), 0..16),
        default in 0u8..3,
    ) {
        let mode = |n: u8| [VipMode::None, VipMode::Failover, VipMode::Anycast].get(usize::from(n)).copied();
        let settings = mixed(mode(default).unwrap());
        // One mode per VIP, as one VIP is one load balancer's.
        let mut own = std::collections::BTreeMap::new();
        for (n, m) in &specs {
            own.entry(*n).or_insert(mode(*m));
        }
        let listeners: Vec<_> = own.iter().map(|(n, m)| (vip(*n), *m)).collect();
        let sets = [VipMode::None, VipMode::Failover, VipMode::Anycast]
            .map(|m| settings.vips_in(m, listeners.iter().copied()));
        for (v, m) in &listeners {
            let expected = settings.mode_of(*m);
            for (i, set) in sets.iter().enumerate() {
                prop_assert_eq!(set.contains(v), mode(u8::try_from(i).unwrap()) == Some(expected));
            }
        }
    }
}
