//! A node without a data plane shows the live state of the nodes that
//! have one (issue 17): every round it asks each up node with a data
//! plane (at most [`MAX_NODES`], by id) for `GET /v1/cluster/live` at its
//! registered API address, with the cluster token, a bounded time and a
//! bounded body, and merges the answers into the `LiveView` its API
//! reads. Installed only once a node has answered, so a node alone (or
//! whose peers all fail) shows what it showed before: no live state.
//!
//! Merging: a listener is `active` if it is on any node (in `failover`
//! mode only the VIP's holder serves it), else the first node's state;
//! its counters are summed over the nodes. A backend's state is the
//! first node's by id: each node checks every backend from itself
//! (standbys too), so the answers differ only where the network does.
//! The view never holds a write back: its applied revision reads as
//! caught up, since the peers' own follow the registry by themselves.

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

/// Starts asking the peers, every sixth of the node timeout but at most
/// once a second (each answer names every listener and backend, so a
/// large registry's is not small); installs the view in `control` once
/// one has answered.
pub fn spawn(control: Control, store: Arc<dyn Store>, token: String, node_timeout_ms: u64) {
    let every = Duration::from_millis((node_timeout_ms / 6).max(1000));
    let view = Arc::new(RemoteLive {
        merged: Mutex::default(),
        applied: watch::Sender::new(u64::MAX),
    });
    tokio::spawn(async move {
        let mut installed = false;
        let mut failing = false;
        loop {
            let peers = match store.cluster().view().await {
                Ok(cluster) => {
                    let mut up: Vec<NodeRecord> = cluster
                        .nodes
                        .into_iter()
                        .filter(|n| {
                            n.holds_vips
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
