//! The cluster's rules: whether a node is up, how long a VIP lease lasts
//! and who should hold which VIP. Pure: the caller reads nodes, leases and
//! the time from the shared store (the database's clock, so nodes' clocks
//! never have to agree) and acts on the plan; the store's compare-and-set
//! on each lease's epoch settles a race between two nodes whose views
//! differed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

pub mod anycast;
pub mod bird;

/// How VIPs are held across nodes (`cluster.vip_mode`, and a load
/// balancer's own `vip_mode`, which overrides it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VipMode {
    /// Every node binds every VIP it can, as a single node does; VIPs are
    /// announced outside Weir (the default, and SQLite's only mode).
    #[default]
    None,
    /// Each VIP has exactly one owner at a time, by lease; the owner adds
    /// the address to its interface and announces it (L2 failover).
    Failover,
    /// Every healthy node serves every VIP and announces it through the
    /// operator's routing daemon (BGP with ECMP): [`anycast`].
    Anycast,
}

impl VipMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "failover" => Some(Self::Failover),
            "anycast" => Some(Self::Anycast),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Failover => "failover",
            Self::Anycast => "anycast",
        }
    }

    const ALL: [Self; 3] = [Self::None, Self::Failover, Self::Anycast];

    fn bit(self) -> u8 {
        match self {
            Self::None => 1,
            Self::Failover => 2,
            Self::Anycast => 4,
        }
    }
}

/// The modes a deployment runs (`cluster.vip_modes`): the ones its load
/// balancers may choose, and so the loops every node runs. Always holds
/// `cluster.vip_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VipModes(u8);

impl VipModes {
    pub fn only(mode: VipMode) -> Self {
        Self(mode.bit())
    }

    pub fn with(self, mode: VipMode) -> Self {
        Self(self.0 | mode.bit())
    }

    pub fn contains(self, mode: VipMode) -> bool {
        self.0 & mode.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = VipMode> {
        VipMode::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// As the settings file spells it: `"none", "anycast"`.
    pub fn describe(self) -> String {
        self.iter()
            .map(|m| format!("{:?}", m.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The cluster settings the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterSettings {
    /// A node silent for longer than this is down (and a lease lasts this
    /// long past its last renewal).
    pub node_timeout_ms: u64,
    /// The mode of load balancers that name none.
    pub vip_mode: VipMode,
    /// Every mode a load balancer may be in (holds `vip_mode`).
    pub vip_modes: VipModes,
}

impl ClusterSettings {
    /// The mode a load balancer's VIP is held in: its own, else the
    /// deployment's.
    pub fn mode_of(&self, own: Option<VipMode>) -> VipMode {
        own.unwrap_or(self.vip_mode)
    }

    /// Whether a load balancer may ask for `mode` here: only a mode the
    /// deployment runs (every node runs its loop and has what it needs:
    /// `failover` a PostgreSQL store and an interface, `anycast` BIRD),
    /// else it would be stored and not honoured.
    pub fn check_lb_vip_mode(&self, own: Option<VipMode>) -> Result<(), crate::Error> {
        match own {
            Some(mode) if !self.vip_modes.contains(mode) => Err(crate::Error::invalid(
                "vip_mode",
                format!(
                    "{:?} is not a mode this deployment runs (cluster.vip_modes: {}){}",
                    mode.as_str(),
                    self.vip_modes.describe(),
                    match mode {
                        VipMode::Failover =>
                            "; failover needs a PostgreSQL store shared by the nodes",
                        VipMode::Anycast => "; anycast needs BIRD beside every node",
                        VipMode::None => "",
                    }
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The VIPs in `mode` among `listeners` (a VIP and its load
    /// balancer's own mode each): a VIP is one load balancer's, so it is
    /// in exactly one mode.
    pub fn vips_in(
        &self,
        mode: VipMode,
        listeners: impl IntoIterator<Item = (IpAddr, Option<VipMode>)>,
    ) -> BTreeSet<IpAddr> {
        listeners
            .into_iter()
            .filter(|(_, own)| self.mode_of(*own) == mode)
            .map(|(vip, _)| vip)
            .collect()
    }
}

/// Default of `cluster.node_timeout_ms`.
pub const DEFAULT_NODE_TIMEOUT_MS: u64 = 3000;
/// Below this a heartbeat every sixth of it would outrun a database round
/// trip on a loaded machine.
pub const MIN_NODE_TIMEOUT_MS: u64 = 300;
/// An hour: past it a dead owner keeps its VIPs dark for too long to be a
/// failover.
pub const MAX_NODE_TIMEOUT_MS: u64 = 3_600_000;

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            node_timeout_ms: DEFAULT_NODE_TIMEOUT_MS,
            vip_mode: VipMode::None,
            vip_modes: VipModes::only(VipMode::None),
        }
    }
}

/// A node's state as the others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeState {
    Up,
    /// Late by more than half the timeout: not yet given up on.
    Suspect,
    Down,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Suspect => "suspect",
            Self::Down => "down",
        }
    }
}

/// The state of a node whose last heartbeat is `age_ms` old (both ends
/// read on the database's clock; a negative age, a heartbeat stamped after
/// the reading, is fresh).
pub fn node_state(age_ms: i64, timeout_ms: u64) -> NodeState {
    let timeout = i64::try_from(timeout_ms).unwrap_or(i64::MAX);
    if age_ms > timeout {
        NodeState::Down
    } else if age_ms > timeout / 2 {
        NodeState::Suspect
    } else {
        NodeState::Up
    }
}

/// How a lease is kept, all derived from the node timeout.
///
/// The owner stamps `sent` (its monotonic clock) before each renewal; a
/// renewal that succeeds sets the lease's expiry to the database's time of
/// the statement plus `ttl_ms`, which is later than `sent` + `ttl_ms`.
/// The owner stops serving at `sent` + `hold_ms` unless a later renewal
/// succeeded; no other node may take the lease before the expiry. So the
/// owner is gone at least `ttl_ms - hold_ms` before another can arrive:
/// that margin pays for removing the address and for clock-rate drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimings {
    /// Lifetime of a lease past its last renewal.
    pub ttl_ms: u64,
    /// How often the owner renews (and every node heartbeats).
    pub renew_every_ms: u64,
    /// How long after sending a successful renewal the owner may serve.
    pub hold_ms: u64,
}

impl LeaseTimings {
    pub fn from_timeout(node_timeout_ms: u64) -> Self {
        let ttl = node_timeout_ms.max(MIN_NODE_TIMEOUT_MS);
        Self {
            ttl_ms: ttl,
            renew_every_ms: ttl / 6,
            // Two thirds: four renewals may fail before the owner lets go,
            // and a third of the lease is left for letting go.
            hold_ms: ttl * 2 / 3,
        }
    }
}

/// A node's row in the registry, as it wrote it at its last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Stable across restarts (kept in the node's data directory).
    pub id: String,
    pub name: String,
    /// Where its API listens.
    pub api_address: String,
    /// The addresses the operator says its data plane is reached at.
    pub data_addresses: Vec<String>,
    /// Whether it runs a data plane that can hold VIPs.
    pub holds_vips: bool,
    /// The store revision its data plane has applied.
    pub applied_revision: u64,
    /// On the database's clock, milliseconds since the Unix epoch.
    pub started_ms: i64,
    pub heartbeat_ms: i64,
}

/// One VIP lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub vip: IpAddr,
    pub owner: String,
    /// Raised by every change of owner: the fencing token.
    pub epoch: u64,
    /// On the database's clock, milliseconds since the Unix epoch.
    pub expires_ms: i64,
}

impl Lease {
    pub fn live_at(&self, now_ms: i64) -> bool {
        self.expires_ms > now_ms
    }
}

/// A node as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub state: NodeState,
    /// Whether it runs a data plane that can hold VIPs.
    pub holds_vips: bool,
}

/// What a node should do about one VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAction {
    /// Keep a lease this node holds.
    Renew { vip: IpAddr, epoch: u64 },
    /// Take a VIP nobody holds: `seen_epoch` is the epoch of the expired
    /// lease (0: no row), which the store's compare-and-set requires.
    Acquire { vip: IpAddr, seen_epoch: u64 },
    /// Give up a lease on a VIP that no load balancer has any more.
    Release { vip: IpAddr, epoch: u64 },
}

/// What node `me` should do, given the VIPs that must be served, every
/// node, every lease and the database's time.
///
/// Live leases are never moved (a node that comes back steals nothing);
/// each unheld VIP goes to the eligible node holding the fewest leases
/// (ties to the smaller id), counting the ones handed out in this same
/// pass, in VIP order, so every node computing from the same view agrees
/// on one taker per VIP. A node takes only while its own row reads up
/// (it heartbeats before it plans), so a node late with its heartbeats
/// takes nothing. Views that differ can name two takers: the store's
/// compare-and-set on the epoch lets only one through.
pub fn plan_leases(
    me: &str,
    vips: &BTreeSet<IpAddr>,
    members: &[Member],
    leases: &[Lease],
    now_ms: i64,
) -> Vec<LeaseAction> {
    let mut actions = Vec::new();
    let mut load: BTreeMap<&str, usize> = members
        .iter()
        .filter(|m| m.holds_vips && m.state == NodeState::Up)
        .map(|m| (m.id.as_str(), 0))
        .collect();
    let by_vip: BTreeMap<IpAddr, &Lease> = leases.iter().map(|l| (l.vip, l)).collect();
    for lease in leases.iter().filter(|l| l.live_at(now_ms)) {
        if let Some(n) = load.get_mut(lease.owner.as_str()) {
            *n += 1;
        }
        if lease.owner == me {
            actions.push(if vips.contains(&lease.vip) {
                LeaseAction::Renew {
                    vip: lease.vip,
                    epoch: lease.epoch,
                }
            } else {
                LeaseAction::Release {
                    vip: lease.vip,
                    epoch: lease.epoch,
                }
            });
        }
    }
    for vip in vips {
        let held = by_vip.get(vip);
        if held.is_some_and(|l| l.live_at(now_ms)) {
            continue;
        }
        let Some((&taker, _)) = load.iter().min_by_key(|(id, n)| (**n, **id)) else {
            break;
        };
        *load.get_mut(taker).expect("present") += 1;
        if taker == me {
            actions.push(LeaseAction::Acquire {
                vip: *vip,
                seen_epoch: held.map_or(0, |l| l.epoch),
            });
        }
    }
    actions
}

#[cfg(test)]
mod tests;
