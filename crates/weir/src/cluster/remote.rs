//! The live state of other nodes (issue 17), read from their
//! `GET /v1/cluster/live` at their registered API addresses with the
//! cluster token, a bounded time and a bounded body (at most
//! [`MAX_NODES`] up nodes with a data plane, by id, never this node):
//!
//! - a node without a data plane shows nothing else: the merge is its
//!   whole `LiveView`, installed once a node has answered, so a node
//!   alone (or whose peers all fail) shows what it showed before: no live
//!   state. Its applied revision reads as caught up, so the view never
//!   holds a write back (the peers follow the registry by themselves);
//! - a node with a data plane shows its own state first, and the merge
//!   only for the listeners (and backends) its data plane does not serve
//!   (a `failover` standby's): it asks only while the topology has such a
//!   listener, and `Control::live_snapshot` never includes the merge, so
//!   no node passes another's state on and no two ask each other in a
//!   circle.
//!
//! Merging: a listener is `active` if it is on any node (in `failover`
//! mode only the VIP's holder serves it), else the first node's state;
//! its counters are summed over the nodes. A backend's state is the
//! first node's by id: each node checks every backend from itself
//! (standbys too), so the answers differ only where the network does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use weir_control::{Control, LiveView};
use weir_core::cluster::{node_state, NodeRecord, NodeState};
use weir_core::ids::{BackendId, ListenerId};
use weir_core::status::{BackendLive, BackendState, BackendStats, ListenerLive, ListenerStats};
use weir_store::Store;

/// The most peers asked per round.
pub const MAX_NODES: usize = 16;
/// How long one peer may take to answer.
const TIMEOUT: Duration = Duration::from_secs(1);
/// The most of one answer read (a peer's every listener and backend).
const MAX_BODY: u64 = 32 << 20;

/// The merged view the API reads.
pub struct RemoteLive {
    merged: Mutex<Merged>,
    /// Pinned at the top: see the module doc.
    applied: watch::Sender<u64>,
}

#[derive(Default)]
struct Merged {
    listeners: HashMap<ListenerId, (ListenerLive, Option<ListenerStats>)>,
    backends: HashMap<BackendId, BackendLive>,
}

fn lock(m: &Mutex<Merged>) -> std::sync::MutexGuard<'_, Merged> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveView for RemoteLive {
    fn backend(&self, id: &BackendId) -> Option<BackendLive> {
        lock(&self.merged).backends.get(id).cloned()
    }

    fn listener(&self, id: &ListenerId) -> Option<ListenerLive> {
        lock(&self.merged).listeners.get(id).map(|(l, _)| l.clone())
    }

    fn listener_stats(&self, id: &ListenerId) -> Option<ListenerStats> {
        lock(&self.merged).listeners.get(id).and_then(|(_, s)| *s)
    }

    fn retry_binds(&self) {}

    fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    fn render_metrics(&self, _out: &mut String) {}

    fn local(&self) -> bool {
        false
    }
}

/// One peer's answer, as `weir_api`'s `/v1/cluster/live` writes it.
#[derive(Deserialize)]
struct Snapshot {
    listeners: Vec<ListenerEntry>,
    backends: Vec<BackendEntry>,
}

#[derive(Deserialize)]
struct ListenerEntry {
    id: String,
    state: String,
    reason: Option<String>,
    stats: Option<ListenerStatsEntry>,
}

#[derive(Deserialize)]
struct ListenerStatsEntry {
    active_connections: u64,
    total_connections: u64,
    bytes_in: u64,
    bytes_out: u64,
    request_errors: u64,
}

#[derive(Deserialize)]
struct BackendEntry {
    id: String,
    state: String,
    reason: Option<String>,
    active_connections: u64,
    /// Absent from a peer of an older build.
    #[serde(default)]
    drain_deadline: Option<String>,
    stats: BackendStatsEntry,
}

#[derive(Deserialize)]
struct BackendStatsEntry {
    total_connections: u64,
    requests: u64,
    responses_5xx: u64,
    failures: u64,
    bytes_in: u64,
    bytes_out: u64,
}

fn listener_live(state: &str, reason: Option<String>) -> Option<ListenerLive> {
    Some(match state {
        "pending" => ListenerLive::Pending,
        "active" => ListenerLive::Active,
        "error" => ListenerLive::Error(reason.unwrap_or_default()),
        "unsupported" => ListenerLive::Unsupported(reason.unwrap_or_default()),
        _ => return None,
    })
}

fn backend_state(state: &str) -> Option<BackendState> {
    Some(match state {
        "checking" => BackendState::Checking,
        "healthy" => BackendState::Healthy,
        "unhealthy" => BackendState::Unhealthy,
        "draining" => BackendState::Draining,
        "drained" => BackendState::Drained,
        "disabled" => BackendState::Disabled,
        _ => return None,
    })
}

impl Merged {
    /// Adds one peer's answer (peers in id order); entries it cannot
    /// read are left out.
    fn add(&mut self, snapshot: Snapshot) {
        for l in snapshot.listeners {
            let Some(live) = listener_live(&l.state, l.reason) else {
                continue;
            };
            let stats = l.stats.map(|s| ListenerStats {
                active_connections: s.active_connections,
                total_connections: s.total_connections,
                bytes_in: s.bytes_in,
                bytes_out: s.bytes_out,
                request_errors: s.request_errors,
            });
            let entry = self
                .listeners
                .entry(ListenerId::new(l.id))
                .or_insert_with(|| (live.clone(), None));
            if live == ListenerLive::Active {
                entry.0 = live;
            }
            entry.1 = match (entry.1, stats) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        for b in snapshot.backends {
            let Some(state) = backend_state(&b.state) else {
                continue;
            };
            self.backends
                .entry(BackendId::new(b.id))
                .or_insert(BackendLive {
                    state,
                    reason: b.reason,
                    active_connections: b.active_connections,
                    drain_deadline: b
                        .drain_deadline
                        .as_deref()
                        .and_then(weir_core::time::Timestamp::parse_rfc3339),
                    stats: BackendStats {
                        total_connections: b.stats.total_connections,
                        requests: b.stats.requests,
                        responses_5xx: b.stats.responses_5xx,
                        failures: b.stats.failures,
                        bytes_in: b.stats.bytes_in,
                        bytes_out: b.stats.bytes_out,
                    },
                });
        }
    }
}

/// Where a peer's API is dialled: its registered address, or with an
/// unspecified IP (it listens on every address) its first data address.
fn peer_address(node: &NodeRecord) -> Option<SocketAddr> {
    let mut addr: SocketAddr = node.api_address.parse().ok()?;
    if addr.ip().is_unspecified() {
        let ip: IpAddr = node.data_addresses.first()?.parse().ok()?;
        addr.set_ip(ip);
    }
    Some(addr)
}

fn fetch(addr: SocketAddr, token: &str) -> Result<Snapshot, String> {
    let response = ureq::get(&format!("http://{addr}/v1/cluster/live"))
        .timeout(TIMEOUT)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| e.to_string())?;
    let reader = std::io::Read::take(response.into_reader(), MAX_BODY);
    serde_json::from_reader(reader).map_err(|e| e.to_string())
}

/// Who asks, and what it does with the answers.
pub enum Asker {
    /// A node without a data plane: the merge is its whole live view.
    ApiNode,
    /// A node with one (`id`): the merge fills in what its data plane
    /// does not serve.
    DataNode {
        id: String,
        dataplane: weir_dataplane::DataPlane,
    },
}

impl Asker {
    /// Whether this round needs the peers: always for an API node; for a
    /// data node only while a listener of the topology (the running load
    /// balancers') is not on its own data plane.
    fn needs_peers(&self, control: &Control) -> bool {
        match self {
            Asker::ApiNode => true,
            Asker::DataNode { dataplane, .. } => control
                .topology()
                .borrow()
                .listeners
                .keys()
                .any(|id| dataplane.listener_live(id).is_none()),
        }
    }

    /// This node's id when it has a data plane (and so a row that
    /// `peers` must leave out).
    fn own_id(&self) -> Option<&str> {
        match self {
            Asker::ApiNode => None,
            Asker::DataNode { id, .. } => Some(id),
        }
    }
}

/// The up nodes with a data plane other than `own`, by id, at most
/// [`MAX_NODES`].
fn peers(
    cluster: weir_store::ClusterView,
    own: Option<&str>,
    node_timeout_ms: u64,
) -> Vec<NodeRecord> {
    let mut up: Vec<NodeRecord> = cluster
        .nodes
        .into_iter()
        .filter(|n| {
            n.holds_vips
                && own != Some(n.id.as_str())
                && node_state(
                    cluster.now_ms.saturating_sub(n.heartbeat_ms),
                    node_timeout_ms,
                ) == NodeState::Up
        })
        .collect();
    up.sort_by(|a, b| a.id.cmp(&b.id));
    up.truncate(MAX_NODES);
    up
}

/// Starts asking the peers, every sixth of the node timeout but at most
/// once a second (each answer names every listener and backend, so a
/// large registry's is not small). An API node's view is installed in
/// `control` once one has answered; a data node's at once, as the
/// fallback of its own.
pub fn spawn(
    control: Control,
    store: Arc<dyn Store>,
    token: String,
    node_timeout_ms: u64,
    asker: Asker,
) {
    let every = Duration::from_millis((node_timeout_ms / 6).max(1000));
    let view = Arc::new(RemoteLive {
        merged: Mutex::default(),
        applied: watch::Sender::new(u64::MAX),
    });
    let mut installed = false;
    if let Asker::DataNode { .. } = asker {
        control.set_peer_live_view(view.clone());
        installed = true;
    }
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            if !asker.needs_peers(&control) {
                // Everything is served here: nothing to ask, and nothing
                // of an earlier round to show.
                *lock(&view.merged) = Merged::default();
                tokio::time::sleep(every).await;
                continue;
            }
            let peers = match store.cluster().view().await {
                Ok(cluster) => peers(cluster, asker.own_id(), node_timeout_ms),
                Err(_) => Vec::new(),
            };
            let asks: Vec<_> = peers
                .iter()
                .filter_map(peer_address)
                .map(|addr| {
                    let token = token.clone();
                    tokio::task::spawn_blocking(move || fetch(addr, &token))
                })
                .collect();
            let mut merged = Merged::default();
            let mut answered = 0;
            let mut error = None;
            for ask in asks {
                match ask.await {
                    Ok(Ok(snapshot)) => {
                        merged.add(snapshot);
                        answered += 1;
                    }
                    Ok(Err(e)) => error = Some(e),
                    Err(e) => error = Some(e.to_string()),
                }
            }
            if answered > 0 || installed {
                // A round where every peer failed shows no live state
                // rather than a stale one.
                *lock(&view.merged) = merged;
            }
            if answered > 0 && !installed {
                control.set_live_view(view.clone());
                installed = true;
                tracing::info!(
                    peers = answered,
                    "showing live state read from the nodes with a data plane"
                );
            }
            match error {
                Some(e) if !failing => {
                    tracing::warn!(error = %e, "cannot read a node's live state");
                    failing = true;
                }
                None if failing => {
                    tracing::info!("nodes' live state reads again");
                    failing = false;
                }
                _ => {}
            }
            tokio::time::sleep(every).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(json: &str) -> Snapshot {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_listener_active_anywhere_is_active_and_its_counters_add_up() {
        let mut m = Merged::default();
        m.add(snapshot(
            r#"{"applied":3,"listeners":[{"id":"l1","state":"pending","reason":null,
               "stats":{"active_connections":1,"total_connections":2,"bytes_in":3,"bytes_out":4,"request_errors":0}}],
               "backends":[{"id":"b1","state":"healthy","reason":null,"active_connections":0,
               "stats":{"total_connections":1,"requests":0,"responses_5xx":0,"failures":0,"bytes_in":0,"bytes_out":0}}]}"#,
        ));
        m.add(snapshot(
            r#"{"applied":3,"listeners":[{"id":"l1","state":"active","reason":null,
               "stats":{"active_connections":2,"total_connections":5,"bytes_in":1,"bytes_out":1,"request_errors":1}},
               {"id":"l2","state":"bogus","reason":null,"stats":null}],
               "backends":[{"id":"b1","state":"unhealthy","reason":"timeout","active_connections":0,
               "stats":{"total_connections":0,"requests":0,"responses_5xx":0,"failures":0,"bytes_in":0,"bytes_out":0}}]}"#,
        ));
        let (live, stats) = m.listeners.get(&ListenerId::new("l1")).unwrap();
        assert_eq!(*live, ListenerLive::Active);
        let stats = stats.unwrap();
        assert_eq!((stats.active_connections, stats.total_connections), (3, 7));
        assert_eq!(stats.request_errors, 1);
        assert!(
            !m.listeners.contains_key(&ListenerId::new("l2")),
            "an unknown state is left out"
        );
        // The first node's (by id) verdict on a backend stands.
        assert_eq!(
            m.backends.get(&BackendId::new("b1")).unwrap().state,
            BackendState::Healthy
        );
    }

    fn node(id: &str, holds_vips: bool, heartbeat_ms: i64) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            name: id.into(),
            api_address: "127.0.0.1:9".into(),
            data_addresses: vec![],
            holds_vips,
            applied_revision: 0,
            started_ms: 0,
            heartbeat_ms,
        }
    }

    #[test]
    fn a_data_node_asks_the_other_up_data_nodes_never_itself() {
        let view = || weir_store::ClusterView {
            now_ms: 10_000,
            nodes: vec![
                node("c", true, 9_900),
                node("a", true, 9_900),
                node("self", true, 9_900),
                node("api", false, 9_900),
                node("gone", true, 1_000),
            ],
            leases: vec![],
        };
        let ids = |nodes: Vec<NodeRecord>| nodes.into_iter().map(|n| n.id).collect::<Vec<_>>();
        assert_eq!(ids(peers(view(), None, 3000)), ["a", "c", "self"]);
        // A data node's own data plane stands for itself.
        assert_eq!(ids(peers(view(), Some("self"), 3000)), ["a", "c"]);
    }

    #[test]
    fn a_peer_listening_everywhere_is_dialled_at_its_data_address() {
        let mut node = NodeRecord {
            id: "n".into(),
            name: "n".into(),
            api_address: "0.0.0.0:8480".into(),
            data_addresses: vec![],
            holds_vips: true,
            applied_revision: 0,
            started_ms: 0,
            heartbeat_ms: 0,
        };
        assert_eq!(peer_address(&node), None);
        node.data_addresses = vec!["198.18.0.5".into()];
        assert_eq!(
            peer_address(&node),
            Some("198.18.0.5:8480".parse().unwrap())
        );
        node.api_address = "127.0.0.1:9".into();
        assert_eq!(peer_address(&node), Some("127.0.0.1:9".parse().unwrap()));
        node.api_address = "not an address".into();
        assert_eq!(peer_address(&node), None);
    }
}
