//! Weir's data plane: binds every listener of the topology on its VIP,
//! balances new connections over eligible backends, checks their health,
//! drains what is removed or disabled, and never dials outside the egress
//! allow-list.
//!
//! - [`balance`]: pure selection tables (smooth WRR, Maglev, least conns).
//! - [`health`]: the sans-io rise/fall verdict; [`probe`] runs the checks.
//! - [`pool`]: pools and backends at run time, the lock-free snapshot.
//! - [`listener`], [`tcp`], [`udp`], [`http`]: sockets and proxying (the
//!   HTTP/1.1 engine is our own, on `httparse`: one task per client
//!   connection, no hops between the two sockets); [`tls`]: HTTPS
//!   listeners, a rustls handshake in front of the same engine.
//! - [`egress`]: the only code that opens outbound sockets; [`icmp`]: the
//!   echo exchange of PING checks, through sockets egress opens.
//! - [`fd`]: the descriptor limit and the reserve left to the API.
//! - [`proxy_protocol`]: PROXY protocol v1/v2 headers towards TCP backends.
//! - [`handover`]: listening sockets passed to a successor process, and
//!   the drain of the process that passed them.
//!
//! [`DataPlane::apply`] is the one path for startup and change: it diffs the
//! new topology against what runs (by pointer, then by value) and touches
//! only what differs. Startup is the first diff, from an empty topology.

pub mod balance;
pub mod egress;
pub mod events;
pub mod fd;
pub mod handover;
pub mod health;
pub mod histogram;
pub mod http;
pub mod icmp;
pub mod listener;
mod metrics;
pub mod pool;
pub mod probe;
pub mod prometheus;
pub mod proxy_protocol;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod upstream_tls;

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::watch;
use weir_core::ids::{BackendId, ListenerId, PoolId};
use weir_core::model::{ListenerPorts, Persistence};
use weir_core::status::{BackendLive, ListenerLive};
use weir_core::topology::{ListenerSpec, Topology};

use crate::egress::Egress;
use crate::events::LiveEvents;
use crate::listener::ListenerRuntime;
use crate::pool::{lock, Ejection, PoolRuntime, Registry};

/// Data-plane settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Backends outside these networks are never dialled or checked.
    pub egress_allow: Vec<IpNet>,
    pub connect_timeout: Duration,
    /// Backends tried for one client connection (HTTP: one request) whose
    /// connects fail, before giving up.
    pub connect_attempts: usize,
    pub ejection: Ejection,
    pub udp_idle_timeout: Duration,
    /// Ports one range listener may bind.
    pub max_ports_per_listener: usize,
    /// How often a listener whose bind failed tries again.
    pub bind_retry: Duration,
    /// HTTP listeners' timeouts, head limits and forwarding policy.
    pub http: http::HttpSettings,
    /// Connections (UDP: flows) per listener that names no cap.
    pub max_connections: u32,
    /// A TCP connection silent both ways this long is closed, on listeners
    /// that name no idle timeout.
    pub tcp_idle_timeout: Duration,
    /// UDP flows one client address may hold on one listener.
    pub udp_max_flows_per_source: usize,
    /// Descriptors the data plane leaves to the rest of the process (at
    /// most a quarter of the limit).
    pub fd_reserve: u64,
    /// The ICMP sockets PING checks may use; the composition root sets it
    /// from [`icmp::IcmpSupport::detect`]. None by default.
    pub icmp: icmp::IcmpSupport,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            egress_allow: weir_core::settings::NetworkSettings::default().backend_ranges,
            connect_timeout: Duration::from_secs(3),
            connect_attempts: 3,
            ejection: Ejection {
                after_failures: 3,
                period: Duration::from_secs(10),
            },
            udp_idle_timeout: Duration::from_secs(30),
            max_ports_per_listener: 1024,
            bind_retry: Duration::from_secs(2),
            http: http::HttpSettings::default(),
            // HAProxy's and Octavia's default maxconn.
            max_connections: 50_000,
            tcp_idle_timeout: Duration::from_secs(15 * 60),
            udp_max_flows_per_source: 256,
            fd_reserve: 1024,
            icmp: icmp::IcmpSupport::default(),
        }
    }
}

/// What every connection task shares.
pub struct Shared {
    pub config: Config,
    pub egress: Egress,
    pub fds: fd::FdBudget,
    request_ids: AtomicU64,
    boot: u64,
    /// What `prometheus` listeners render (empty outside a data plane).
    scraper: metrics::Scraper,
    /// Sockets inherited from a predecessor, and this process's drain.
    pub(crate) handover: handover::Handover,
}

impl Shared {
    /// What [`DataPlane::new`] starts from; also the one honest way to
    /// give the parsers a context outside a running data plane.
    pub(crate) fn new(config: Config) -> Self {
        let egress =
            Egress::new(config.egress_allow.clone(), config.connect_timeout).with_icmp(config.icmp);
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            egress,
            fds: fd::FdBudget::new(config.fd_reserve),
            config,
            request_ids: AtomicU64::new(0),
            boot,
            scraper: metrics::Scraper::default(),
            handover: handover::Handover::default(),
        }
    }

    /// A request id unique across restarts: boot time and a counter, in
    /// hex (written by hand: this runs for every proxied request).
    pub fn next_request_id(&self) -> String {
        let mut id = String::with_capacity(24);
        push_hex(&mut id, self.boot);
        id.push('-');
        push_hex(&mut id, self.request_ids.fetch_add(1, Ordering::Relaxed));
        id
    }
}

/// Appends `n` in lowercase hex without leading zeros.
fn push_hex(out: &mut String, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let nibbles = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for k in (0..nibbles).rev() {
        out.push(char::from(DIGITS[((n >> (k * 4)) & 15) as usize]));
    }
}

#[derive(Default)]
pub(crate) struct Running {
    topology: Arc<Topology>,
    listeners: HashMap<ListenerId, Arc<ListenerRuntime>>,
    pools: HashMap<PoolId, Arc<PoolRuntime>>,
    /// Each listener's state last published as a live transition: bound
    /// (`true`) or failed.
    published: HashMap<ListenerId, bool>,
}

/// The data plane. Cheap to clone.
#[derive(Clone)]
pub struct DataPlane {
    shared: Arc<Shared>,
    running: Arc<Mutex<Running>>,
    registry: Registry,
    applied: watch::Sender<u64>,
    /// Asks [`Self::follow`] for a bind retry now, from any thread (a
    /// failover), instead of at the next `bind_retry` tick.
    retry_now: Arc<tokio::sync::Notify>,
    /// Live-state transitions of backends and listeners.
    events: LiveEvents,
}

impl DataPlane {
    /// A data plane running nothing yet. Call from within a tokio runtime:
    /// every task it starts runs there.
    pub fn new(config: Config) -> Self {
        let running: Arc<Mutex<Running>> = Arc::default();
        let registry: Registry = Arc::default();
        let mut shared = Shared::new(config);
        shared.scraper = metrics::Scraper {
            running: Arc::downgrade(&running),
            registry: Arc::downgrade(&registry),
        };
        Self {
            shared: Arc::new(shared),
            running,
            registry,
            applied: watch::channel(0).0,
            retry_now: Arc::default(),
            events: LiveEvents::channel(),
        }
    }

    /// Every live-state transition from now on (bounded: a receiver that
    /// falls behind loses the oldest and is told how many).
    pub fn live_events(&self) -> tokio::sync::broadcast::Receiver<weir_core::watch::LiveEvent> {
        self.events
            .subscribe()
            .expect("a data plane always has its channel")
    }

    /// Publishes the listeners whose state moved to bound or failed since
    /// last published, and forgets those that are gone.
    fn publish_listeners(&self, running: &mut Running) {
        let Running {
            listeners,
            published,
            ..
        } = running;
        published.retain(|id, _| listeners.contains_key(id));
        for (id, runtime) in listeners.iter() {
            let (bound, reason) = match runtime.status() {
                ListenerLive::Active => (true, None),
                ListenerLive::Error(reason) => (false, Some(reason)),
                ListenerLive::Pending | ListenerLive::Unsupported(_) => continue,
            };
            if published.insert(id.clone(), bound) == Some(bound) {
                continue;
            }
            self.events.publish(weir_core::watch::LiveEvent {
                lb_id: runtime.spec().lb_id.clone(),
                subject: weir_core::watch::LiveSubject::Listener { id: id.clone() },
                state: if bound {
                    weir_core::watch::LiveState::ListenerBound
                } else {
                    weir_core::watch::LiveState::ListenerFailed
                },
                reason,
            });
        }
    }

    /// Has the follower bind again, at once, every listener whose bind
    /// failed (Octavia's failover of a load balancer). Safe from any
    /// runtime: the retry runs on the data plane's own.
    pub fn retry_binds_soon(&self) {
        self.retry_now.notify_one();
    }

    /// Applies every topology `topologies` publishes, starting with the
    /// current one, until the sender goes away.
    /// Listeners whose bind failed try again every `bind_retry` meanwhile.
    pub async fn follow(self, mut topologies: watch::Receiver<Arc<Topology>>) {
        let mut retry = tokio::time::interval(self.shared.config.bind_retry);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Frozen while a successor takes the sockets over.
            self.shared.handover.unheld().await;
            let topology = topologies.borrow_and_update().clone();
            self.apply(topology);
            loop {
                tokio::select! {
                    changed = topologies.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        break;
                    }
                    _ = retry.tick() => self.retry_failed_binds(),
                    _ = self.retry_now.notified() => self.retry_failed_binds(),
                }
            }
        }
    }

    /// Binds again every listener whose bind failed (the port may have been
    /// freed since); one that now binds starts serving with its pools.
    pub fn retry_failed_binds(&self) {
        if self.shared.handover.is_held() {
            return;
        }
        let mut running = lock(&self.running);
        let failed: Vec<(ListenerId, Arc<ListenerRuntime>)> = running
            .listeners
            .iter()
            .filter(|(_, l)| matches!(l.status(), ListenerLive::Error(_)))
            .map(|(id, l)| (id.clone(), l.clone()))
            .collect();
        for (id, old) in failed {
            let fresh = ListenerRuntime::start(
                old.spec(),
                old.pools().to_vec(),
                (*old.l7_pools()).clone(),
                &self.shared,
            );
            if fresh.status() == ListenerLive::Active {
                tracing::info!(listener = %id, "listener bound after an earlier failure");
            }
            running.listeners.insert(id, fresh);
        }
        self.publish_listeners(&mut running);
    }

    /// The revision of the last applied topology.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Makes the running state match `topology`.
    pub fn apply(&self, topology: Arc<Topology>) {
        let mut running = lock(&self.running);
        let previous = std::mem::replace(&mut running.topology, topology.clone());

        // Pools first, so listeners find them.
        for (id, spec) in &topology.pools {
            match running.pools.get(id) {
                Some(runtime) => {
                    let unchanged = previous
                        .pools
                        .get(id)
                        .is_some_and(|old| Arc::ptr_eq(old, spec) || old == spec);
                    if !unchanged {
                        runtime.apply(spec.clone());
                    }
                }
                None => {
                    let runtime = PoolRuntime::new(
                        spec.clone(),
                        self.shared.egress.clone(),
                        self.shared.config.ejection,
                        self.registry.clone(),
                        self.events.clone(),
                    );
                    running.pools.insert(id.clone(), runtime);
                }
            }
        }
        let gone: Vec<PoolId> = running
            .pools
            .keys()
            .filter(|id| !topology.pools.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(pool) = running.pools.remove(&id) {
                pool.retire();
            }
        }

        // Listeners: rebind only when the sockets differ.
        let gone: Vec<ListenerId> = running
            .listeners
            .keys()
            .filter(|id| !topology.listeners.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(listener) = running.listeners.remove(&id) {
                listener.stop();
            }
        }
        for (id, spec) in &topology.listeners {
            let pools: Vec<Arc<PoolRuntime>> = spec
                .pools
                .iter()
                .filter_map(|p| running.pools.get(p).cloned())
                .collect();
            // A disabled target serves nothing: its list stays empty.
            let l7: listener::L7Pools = spec
                .l7_targets
                .iter()
                .map(|t| {
                    let pool = running.pools.get(&t.pool_id).filter(|_| t.enabled);
                    (
                        t.pool_id.clone(),
                        Arc::new(pool.cloned().into_iter().collect()),
                    )
                })
                .collect();
            match running.listeners.get(id) {
                // One that failed (a bind, certificates it could not
                // serve) is started again with the new spec at once.
                Some(current)
                    if same_sockets(&current.spec(), spec)
                        && !matches!(current.status(), ListenerLive::Error(_)) =>
                {
                    if !Arc::ptr_eq(&current.spec(), spec) {
                        current.update(spec.clone(), pools, l7);
                    }
                }
                Some(current) => {
                    current.stop();
                    let fresh = ListenerRuntime::start(spec.clone(), pools, l7, &self.shared);
                    running.listeners.insert(id.clone(), fresh);
                }
                None => {
                    let fresh = ListenerRuntime::start(spec.clone(), pools, l7, &self.shared);
                    running.listeners.insert(id.clone(), fresh);
                }
            }
        }

        // What each pool must offer: Maglev for source hashing, and the port
        // inheriting backends are checked on.
        let mut hints: HashMap<&PoolId, (bool, u16)> = HashMap::new();
        for spec in topology.listeners.values() {
            let port = match &spec.ports {
                ListenerPorts::Single(p) => *p,
                ListenerPorts::Ranges(r) => r.first().map_or(0, |r| r.start),
                ListenerPorts::All => 0,
            };
            for pool in &spec.pools {
                let hint = hints.entry(pool).or_insert((false, port));
                hint.0 |= spec.scheduler.hashes()
                    || matches!(spec.persistence, Some(Persistence::AppCookie { .. }));
            }
            for target in &spec.l7_targets {
                let hint = hints.entry(&target.pool_id).or_insert((false, port));
                hint.0 |= target.scheduler.hashes()
                    || matches!(target.persistence, Some(Persistence::AppCookie { .. }));
            }
        }
        for (id, pool) in &running.pools {
            let (hash, port) = hints.get(id).copied().unwrap_or((false, 0));
            pool.default_port.store(port, Ordering::Relaxed);
            if pool.wants_hash.swap(hash, Ordering::Relaxed) != hash {
                pool.rebuild();
            }
        }
        self.publish_listeners(&mut running);
        self.applied.send_replace(topology.revision);
    }

    /// The live view of a backend.
    pub fn backend_live(&self, id: &BackendId) -> Option<BackendLive> {
        lock(&self.registry).get(id).map(|b| b.live())
    }

    /// The live view of a listener.
    pub fn listener_live(&self, id: &ListenerId) -> Option<ListenerLive> {
        lock(&self.running).listeners.get(id).map(|l| l.status())
    }

    /// A served listener's counters; bytes are those of the backends of the
    /// pools it serves.
    pub fn listener_stats(&self, id: &ListenerId) -> Option<weir_core::status::ListenerStats> {
        let running = lock(&self.running);
        let l = running.listeners.get(id)?;
        let mut stats = weir_core::status::ListenerStats {
            active_connections: l.slots.open() as u64,
            total_connections: l.connections.load(Ordering::Relaxed),
            request_errors: l.failures.load(Ordering::Relaxed),
            ..Default::default()
        };
        let registry = lock(&self.registry);
        for pool in &l.spec().pools {
            let Some(spec) = running.topology.pools.get(pool) else {
                continue;
            };
            for b in spec.backends.iter().filter_map(|b| registry.get(&b.id)) {
                stats.bytes_in += b.bytes_out.load(Ordering::Relaxed);
                stats.bytes_out += b.bytes_in.load(Ordering::Relaxed);
            }
        }
        Some(stats)
    }

    /// Prometheus text exposition of per-listener and per-backend traffic,
    /// with the process-wide gauges (the operator's `/metrics`).
    pub fn render_metrics(&self, out: &mut String) {
        let _ = writeln!(out, "# TYPE weir_dataplane_applied_revision gauge");
        let _ = writeln!(
            out,
            "weir_dataplane_applied_revision {}",
            *self.applied.borrow()
        );
        metrics::render_listeners(out, &lock(&self.running), None);
        metrics::render_process(out, &self.shared.fds);
        let running = lock(&self.running);
        metrics::render_backends(out, &running, &lock(&self.registry), None);
    }
}

/// Whether two specs bind the same sockets (so a change needs no rebind).
fn same_sockets(a: &ListenerSpec, b: &ListenerSpec) -> bool {
    a.vip == b.vip && a.protocol == b.protocol && a.ports == b.ports
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_hex_like_format() {
        for n in [0u64, 1, 15, 16, 255, 0xdead_beef, u64::MAX] {
            let mut out = String::new();
            super::push_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}"));
        }
    }
}
