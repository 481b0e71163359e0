//! The cluster as the operator reads it (`GET /v1/nodes`): every node's
//! row with the state the core derives from its heartbeat's age, and the
//! VIPs it serves. Nodes write their own rows (the binary's cluster
//! loop); nothing here writes.

use std::collections::BTreeSet;
use std::net::IpAddr;

use weir_core::cluster::{node_state, NodeRecord, NodeState, VipMode};

use super::*;

/// One node with what the registry says of it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub node: NodeRecord,
    pub state: NodeState,
    /// Milliseconds since its last heartbeat, on the database's clock.
    pub heartbeat_age_ms: i64,
    /// The `failover` VIPs it holds a live lease on, and every VIP of the
    /// running listeners in `none` and `anycast` modes (each load
    /// balancer's own, else the deployment's), if it runs a data plane and
    /// is not down (each such node binds them all; an `anycast` node
    /// announces those its health checks can serve).
    pub vips: Vec<IpAddr>,
}

impl Control {
    /// Every node of the registry (the operator's: addresses of the
    /// deployment's own machines are no tenant's business).
    pub async fn nodes(&self, principal: &Principal) -> ControlResult<Vec<NodeStatus>> {
        Self::admin_only(principal)?;
        let view = self.store.cluster().view().await?;
        let timeout = self.settings.cluster.node_timeout_ms;
        // VIPs every node with a data plane binds: those not leased.
        let cluster = self.settings.cluster;
        let unleased: BTreeSet<IpAddr> = self
            .topology
            .borrow()
            .listeners
            .values()
            .filter(|l| cluster.mode_of(l.vip_mode) != VipMode::Failover)
            .map(|l| l.vip)
            .collect();
        Ok(view
            .nodes
            .into_iter()
            .map(|node| {
                let age = view.now_ms.saturating_sub(node.heartbeat_ms);
                let state = node_state(age, timeout);
                let mut vips: BTreeSet<IpAddr> = view
                    .leases
                    .iter()
                    .filter(|l| l.owner == node.id && l.live_at(view.now_ms))
                    .map(|l| l.vip)
                    .collect();
                if node.holds_vips && state != NodeState::Down {
                    vips.extend(&unleased);
                }
                let vips = vips.into_iter().collect();
                NodeStatus {
                    node,
                    state,
                    heartbeat_age_ms: age,
                    vips,
                }
            })
            .collect())
    }
}
