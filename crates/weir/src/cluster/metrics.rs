//! The cluster's families in the operator's `/metrics`: every node's
//! state and how far its data plane lags, the VIP leases (`failover`) and
//! what this node serves or announces. The cluster loop refreshes a
//! snapshot at each round; a scrape renders the last one and never
//! touches the store.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use weir_core::cluster::{node_state, NodeState, VipMode};
use weir_store::ClusterView;

/// What the last round saw.
#[derive(Default)]
struct Snapshot {
    /// id, name, up, applied revision.
    nodes: Vec<(String, String, bool, u64)>,
    /// vip, owner id, epoch (live leases only).
    leases: Vec<(IpAddr, String, u64)>,
    /// Every VIP of the topology, and whether this node serves it
    /// (`failover`: holds the lease; `anycast`: announces it; `none`:
    /// every one), by mode: each regime's loop reports its own.
    vips: std::collections::BTreeMap<VipMode, Vec<(IpAddr, bool)>>,
}

#[derive(Default)]
pub struct ClusterMetrics {
    snapshot: Mutex<Snapshot>,
    /// VIPs this node took over from another owner (a lease acquired over
    /// an earlier epoch).
    failovers: AtomicU64,
    /// VIPs this node stopped announcing while it ran (`anycast`).
    withdrawals: AtomicU64,
}

fn lock(m: &Mutex<Snapshot>) -> std::sync::MutexGuard<'_, Snapshot> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ClusterMetrics {
    /// Records the registry's view read this round.
    pub fn saw(&self, view: &ClusterView, timeout_ms: u64) {
        let nodes = view
            .nodes
            .iter()
            .map(|n| {
                let state = node_state(view.now_ms.saturating_sub(n.heartbeat_ms), timeout_ms);
                (
                    n.id.clone(),
                    n.name.clone(),
                    state == NodeState::Up,
                    n.applied_revision,
                )
            })
            .collect();
        let leases = view
            .leases
            .iter()
            .filter(|l| l.live_at(view.now_ms))
            .map(|l| (l.vip, l.owner.clone(), l.epoch))
            .collect();
        let mut snapshot = lock(&self.snapshot);
        snapshot.nodes = nodes;
        snapshot.leases = leases;
    }

    /// Records which of `all`, the VIPs in `mode`, this node serves.
    pub fn serving(&self, mode: VipMode, all: &BTreeSet<IpAddr>, served: &BTreeSet<IpAddr>) {
        lock(&self.snapshot)
            .vips
            .insert(mode, all.iter().map(|v| (*v, served.contains(v))).collect());
    }

    pub fn failed_over(&self) {
        self.failovers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn withdrew(&self, count: usize) {
        self.withdrawals
            .fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Prometheus text; `head` is this node's store revision, against
    /// which every node's lag is read.
    pub fn render(&self, head: u64, out: &mut String) {
        let snapshot = lock(&self.snapshot);
        out.push_str("# TYPE weir_node_up gauge\n");
        for (id, name, up, _) in &snapshot.nodes {
            let _ = writeln!(
                out,
                "weir_node_up{{node=\"{id}\",name=\"{}\"}} {}",
                escape(name),
                u8::from(*up)
            );
        }
        out.push_str("# TYPE weir_node_applied_revision_lag gauge\n");
        for (id, _, _, applied) in &snapshot.nodes {
            let _ = writeln!(
                out,
                "weir_node_applied_revision_lag{{node=\"{id}\"}} {}",
                head.saturating_sub(*applied)
            );
        }
        out.push_str("# TYPE weir_vip_lease_epoch gauge\n");
        for (vip, owner, epoch) in &snapshot.leases {
            let _ = writeln!(
                out,
                "weir_vip_lease_epoch{{vip=\"{vip}\",owner=\"{owner}\"}} {epoch}"
            );
        }
        out.push_str("# TYPE weir_vip_served gauge\n");
        let mut vips: Vec<&(IpAddr, bool)> = snapshot.vips.values().flatten().collect();
        vips.sort();
        for (vip, served) in vips {
            let _ = writeln!(
                out,
                "weir_vip_served{{vip=\"{vip}\"}} {}",
                u8::from(*served)
            );
        }
        out.push_str("# TYPE weir_cluster_failovers_total counter\n");
        let _ = writeln!(
            out,
            "weir_cluster_failovers_total {}",
            self.failovers.load(Ordering::Relaxed)
        );
        out.push_str("# TYPE weir_anycast_withdrawals_total counter\n");
        let _ = writeln!(
            out,
            "weir_anycast_withdrawals_total {}",
            self.withdrawals.load(Ordering::Relaxed)
        );
    }
}

/// A label value as the exposition format wants it (a node name is the
/// operator's free text).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics as `Control` renders them: with this node's revision.
pub struct Rendered {
    pub metrics: std::sync::Arc<ClusterMetrics>,
    pub topology: tokio::sync::watch::Receiver<std::sync::Arc<weir_core::topology::Topology>>,
}

impl weir_control::ClusterMetrics for Rendered {
    fn render_metrics(&self, out: &mut String) {
        let head = self.topology.borrow().revision;
        self.metrics.render(head, out);
    }
}

#[cfg(test)]
mod tests {
    use weir_core::cluster::{Lease, NodeRecord};

    use super::*;

    fn node(id: &str, name: &str, heartbeat_ms: i64, applied: u64) -> NodeRecord {
        NodeRecord {
            id: id.to_owned(),
            name: name.to_owned(),
            api_address: String::new(),
            data_addresses: Vec::new(),
            holds_vips: true,
            applied_revision: applied,
            started_ms: 0,
            heartbeat_ms,
        }
    }

    #[test]
    fn renders_states_lags_leases_and_counters() {
        let m = ClusterMetrics::default();
        let vip: IpAddr = "198.18.0.100".parse().unwrap();
        let view = ClusterView {
            nodes: vec![
                node("node-a", "lb \"a\"", 10_000, 40),
                node("node-b", "b", 1_000, 50),
            ],
            leases: vec![
                Lease {
                    vip,
                    owner: "node-a".into(),
                    epoch: 7,
                    expires_ms: 11_000,
                },
                Lease {
                    vip: "198.18.0.101".parse().unwrap(),
                    owner: "node-b".into(),
                    epoch: 2,
                    expires_ms: 9_000,
                },
            ],
            now_ms: 10_100,
        };
        m.saw(&view, 3000);
        m.serving(
            VipMode::Failover,
            &BTreeSet::from([vip]),
            &BTreeSet::from([vip]),
        );
        m.failed_over();
        m.withdrew(2);
        let mut out = String::new();
        m.render(50, &mut out);
        assert!(
            out.contains("weir_node_up{node=\"node-a\",name=\"lb \\\"a\\\"\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("weir_node_up{node=\"node-b\",name=\"b\"} 0\n"),
            "{out}"
        );
        assert!(
            out.contains("weir_node_applied_revision_lag{node=\"node-a\"} 10\n"),
            "{out}"
        );
        assert!(
            out.contains("weir_node_applied_revision_lag{node=\"node-b\"} 0\n"),
            "{out}"
        );
        // Only the live lease.
        assert!(
            out.contains("weir_vip_lease_epoch{vip=\"198.18.0.100\",owner=\"node-a\"} 7\n"),
            "{out}"
        );
        assert!(!out.contains("198.18.0.101"), "{out}");
        assert!(
            out.contains("weir_vip_served{vip=\"198.18.0.100\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("weir_cluster_failovers_total 1\n"), "{out}");
        assert!(out.contains("weir_anycast_withdrawals_total 2\n"), "{out}");
    }
}
