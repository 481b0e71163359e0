//! What this node's data plane knows, for the other nodes of the
//! registry (`GET /v1/cluster/live`): a node without a data plane shows
//! the live state it reads from nodes that have one. Read with the
//! cluster token (derived from the shared secrets key) or the admin
//! token, never a tenant's.

use weir_core::status::{BackendLive, ListenerLive, ListenerStats};

use super::*;

/// Everything this node's data plane reports now, for the listeners and
/// backends of the topology it follows.
#[derive(Debug, Clone)]
pub struct LiveSnapshot {
    pub applied: u64,
    pub listeners: Vec<(ListenerId, ListenerLive, Option<ListenerStats>)>,
    pub backends: Vec<(BackendId, BackendLive)>,
}

impl Control {
    /// Sets the token other nodes read this node's live state with.
    pub fn with_cluster_token(mut self, token: String) -> Self {
        self.cluster_token = Some(token.into());
        self
    }

    /// Whether a bearer token may read this node's live state: the
    /// cluster token or the admin token, compared in constant time.
    pub fn may_read_cluster_live(&self, token: &str) -> bool {
        let admin = constant_time_eq(token.as_bytes(), self.admin_token.as_bytes());
        let node = self
            .cluster_token
            .as_ref()
            .is_some_and(|t| constant_time_eq(token.as_bytes(), t.as_bytes()));
        admin | node
    }

    /// This node's own data plane's live state; `None` without one (a
    /// view read from other nodes is not passed on, so no two nodes ask
    /// each other in a circle).
    pub fn live_snapshot(&self) -> Option<LiveSnapshot> {
        let live = self.live.get().filter(|l| l.local())?;
        let applied = *live.applied().borrow();
        let topology = self.topology.borrow().clone();
        let listeners = topology
            .listeners
            .keys()
            .filter_map(|id| {
                live.listener(id)
                    .map(|l| (id.clone(), l, live.listener_stats(id)))
            })
            .collect();
        let backends = topology
            .pools
            .values()
            .flat_map(|p| p.backends.iter())
            .filter_map(|b| live.backend(&b.id).map(|l| (b.id.clone(), l)))
            .collect();
        Some(LiveSnapshot {
            applied,
            listeners,
            backends,
        })
    }
}
