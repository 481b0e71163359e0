//! The live state the views show beside the stored configuration: this
//! node's data plane (`LiveView`), on a node with one the other nodes'
//! for what it does not serve (a `failover` standby's listeners), and
//! the cluster loop's metrics.

use weir_core::status::{BackendLive, ListenerLive};

use super::*;

impl Control {
    /// Connects the data plane's live view (once, at startup).
    pub fn set_live_view(&self, view: Arc<dyn LiveView>) {
        if let Some(events) = view.transitions() {
            crate::watch::follow_live(&self.watch_hub, self.store.clone(), events);
        }
        let _ = self.live.set(view);
    }

    /// Connects the live state of the other nodes (once, at startup, on
    /// a node with a data plane of its own): a listener or backend its
    /// own data plane does not report is shown as they report it. It
    /// never reaches [`Self::live_snapshot`], so no node passes another's
    /// state on.
    pub fn set_peer_live_view(&self, view: Arc<dyn LiveView>) {
        let _ = self.peer_live.set(view);
    }

    /// Connects the cluster loop's metrics (once, at startup).
    pub fn set_cluster_metrics(&self, metrics: Arc<dyn crate::ClusterMetrics>) {
        let _ = self.cluster_metrics.set(metrics);
    }

    /// Whether a data plane reports its live state (so "not in the live
    /// view" means "not applied yet").
    pub fn has_live_view(&self) -> bool {
        self.live.get().is_some()
    }

    /// The data plane's view of a backend, when a data plane runs: this
    /// node's own verdict, else (a backend it does not check) the other
    /// nodes'.
    pub fn backend_live(&self, id: &BackendId) -> Option<BackendLive> {
        self.live
            .get()
            .and_then(|v| v.backend(id))
            .or_else(|| self.peer_live.get().and_then(|v| v.backend(id)))
    }

    /// The data plane's view of a listener, when a data plane runs:
    /// `Pending` while an enabled listener is missing from it and it has
    /// not yet applied the store's latest revision. Once it has caught up,
    /// a missing listener is one it does not serve (its load balancer is
    /// stopped, or another node holds its `failover` VIP): the other
    /// nodes' state, else none.
    pub fn listener_live(&self, listener: &Listener) -> Option<ListenerLive> {
        let live = self.live.get()?;
        live.listener(&listener.id)
            .or_else(|| self.peer_live.get().and_then(|p| p.listener(&listener.id)))
            .or_else(|| {
                let behind = *live.applied().borrow() < *self.writer.revision().borrow();
                (listener.enabled && behind).then_some(ListenerLive::Pending)
            })
    }

    /// A listener's traffic counters; those of the nodes serving it when
    /// this node's data plane does not (a `failover` standby); zero when
    /// no data plane serves it (stopped, or not applied yet: nothing has
    /// flowed).
    pub fn listener_stats(&self, listener: &Listener) -> weir_core::status::ListenerStats {
        let Some(live) = self.live.get() else {
            return Default::default();
        };
        if live.listener(&listener.id).is_none() {
            // Served elsewhere (a `failover` standby): the serving nodes'.
            if let Some(peers) = self.peer_live.get() {
                return peers.listener_stats(&listener.id).unwrap_or_default();
            }
        }
        live.listener_stats(&listener.id).unwrap_or_default()
    }
}
