//! This node's part in a cluster: its row in the registry (id kept in the
//! data directory, heartbeat every sixth of `cluster.node_timeout_ms`);
//! in `failover` mode the VIP leases it holds (`leases`) and the
//! addresses it puts on its interface (`vip`); in `anycast` mode the VIPs
//! it announces through BIRD (`anycast`, `bird`); the cluster's metrics
//! (`metrics`); the guard process that takes a node's VIPs off should it
//! die (`guard`). `serve` calls [`gate`] before the data
//! plane starts and [`spawn`] once the API is bound.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use weir_core::cluster::{
    ClusterSettings, LeaseTimings, NodeRecord, VipMode, VipModes, MAX_NODE_TIMEOUT_MS,
    MIN_NODE_TIMEOUT_MS,
};
use weir_core::topology::Topology;
use weir_store::Store;

mod anycast;
mod bird;
pub mod guard;
mod leases;
pub mod metrics;
pub mod remote;
mod vip;

/// `[cluster]` as written in the settings file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Shown in `weir node list` (default: the host name).
    node_name: Option<String>,
    /// A node silent this long is down; a VIP lease lasts this long past
    /// its last renewal (default 3000).
    node_timeout_ms: Option<u64>,
    /// "none" (default), "failover" or "anycast".
    vip_mode: Option<String>,
    /// Further modes load balancers may choose (their `vip_mode`); this
    /// node runs the loop of each, and needs what each needs.
    vip_modes: Option<Vec<String>>,
    /// The interface a `failover` node adds the VIPs it holds to, or an
    /// `anycast` node every VIP (BIRD's direct routes come from it).
    vip_interface: Option<String>,
    /// `anycast`: BIRD's control socket (default /run/bird/bird.ctl).
    bird_socket: Option<String>,
    /// `anycast`: the file Weir writes and BIRD's configuration includes.
    bird_include: Option<String>,
    /// Addresses this node's data plane is reached at, for the node list.
    data_addresses: Option<Vec<String>>,
}

/// What `serve` needs of the cluster settings besides the core's.
#[derive(Debug, Clone, Default)]
pub struct ClusterConfig {
    pub node_name: Option<String>,
    /// Set exactly when the mode is `failover` or `anycast` and a data
    /// plane runs.
    pub vip_interface: Option<String>,
    pub data_addresses: Vec<IpAddr>,
    /// Set exactly when the mode is `anycast` and a data plane runs.
    pub bird: Option<BirdConfig>,
}

/// Where an `anycast` node's announcements go.
#[derive(Debug, Clone)]
pub struct BirdConfig {
    pub socket: std::path::PathBuf,
    pub include: std::path::PathBuf,
}

/// Debian's and BIRD's own default control socket.
const DEFAULT_BIRD_SOCKET: &str = "/run/bird/bird.ctl";

impl ClusterSection {
    /// Checks the section against the store and the data plane: every
    /// setting given is one this node will act on, or an error.
    pub fn check(
        &self,
        postgres: bool,
        dataplane: bool,
    ) -> Result<(ClusterSettings, ClusterConfig), String> {
        let node_timeout_ms = self
            .node_timeout_ms
            .unwrap_or(weir_core::cluster::DEFAULT_NODE_TIMEOUT_MS);
        if !(MIN_NODE_TIMEOUT_MS..=MAX_NODE_TIMEOUT_MS).contains(&node_timeout_ms) {
            return Err(format!(
                "cluster.node_timeout_ms must be between {MIN_NODE_TIMEOUT_MS} and {MAX_NODE_TIMEOUT_MS}"
            ));
        }
        let vip_mode = match self.vip_mode.as_deref() {
            None => VipMode::None,
            Some(text) => VipMode::parse(text).ok_or_else(|| {
                format!("cluster.vip_mode: {text:?} is not \"none\", \"failover\" or \"anycast\"")
            })?,
        };
        let mut vip_modes = VipModes::only(vip_mode);
        for text in self.vip_modes.iter().flatten() {
            vip_modes = vip_modes.with(VipMode::parse(text).ok_or_else(|| {
                format!("cluster.vip_modes: {text:?} is not \"none\", \"failover\" or \"anycast\"")
            })?);
        }
        // How the settings name a mode in an error: the default, or one of
        // the further modes.
        let named = |mode: VipMode| {
            if mode == vip_mode {
                format!("cluster.vip_mode = {:?}", mode.as_str())
            } else {
                format!("cluster.vip_modes naming {:?}", mode.as_str())
            }
        };
        let failover = vip_modes.contains(VipMode::Failover);
        let anycast = vip_modes.contains(VipMode::Anycast);
        if failover && !postgres {
            return Err(format!(
                "{} needs a PostgreSQL store (store.url): \
                 VIP leases are held against other nodes, and a SQLite store has one node",
                named(VipMode::Failover)
            ));
        }
        let vip_interface = match (&self.vip_interface, failover || anycast, dataplane) {
            (None, true, true) => {
                return Err(if failover {
                    format!(
                        "{} needs cluster.vip_interface, \
                         the interface the VIPs this node holds are added to",
                        named(VipMode::Failover)
                    )
                } else {
                    format!(
                        "{} needs cluster.vip_interface, \
                         the interface every VIP is added to and BIRD announces from (lo will do)",
                        named(VipMode::Anycast)
                    )
                })
            }
            (Some(_), false, _) => {
                return Err(
                    "cluster.vip_interface applies to cluster.vip_mode = \"failover\" or \"anycast\" only \
                     (or cluster.vip_modes naming one)"
                        .to_owned(),
                )
            }
            (Some(_), true, false) => {
                return Err("cluster.vip_interface: this node runs no data plane \
                     (dataplane.enabled = false), so it holds no VIP"
                    .to_owned())
            }
            (Some(name), true, true) => {
                let name = interface_name(name)?;
                if anycast {
                    weir_core::cluster::bird::check_interface(&name)
                        .map_err(|e| format!("cluster.vip_interface: {e}"))?;
                }
                Some(name)
            }
            (None, _, _) => None,
        };
        let bird = self.bird(anycast, &named(VipMode::Anycast), dataplane)?;
        let data_addresses = self
            .data_addresses
            .iter()
            .flatten()
            .map(|a| {
                a.parse::<IpAddr>()
                    .map_err(|_| format!("cluster.data_addresses: {a:?} is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if data_addresses.len() > 16 {
            return Err("cluster.data_addresses: at most 16".to_owned());
        }
        let node_name = match &self.node_name {
            Some(name)
                if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) =>
            {
                return Err("cluster.node_name: 1 to 64 printable characters".to_owned())
            }
            other => other.clone(),
        };
        Ok((
            ClusterSettings {
                node_timeout_ms,
                vip_mode,
                vip_modes,
            },
            ClusterConfig {
                node_name,
                vip_interface,
                data_addresses,
                bird,
            },
        ))
    }

    /// `cluster.bird_*`: required (the include file) in `anycast` mode
    /// on a node with a data plane, refused anywhere else.
    fn bird(
        &self,
        anycast: bool,
        named: &str,
        dataplane: bool,
    ) -> Result<Option<BirdConfig>, String> {
        let given = self.bird_socket.is_some() || self.bird_include.is_some();
        if !anycast {
            return if given {
                Err("cluster.bird_socket and cluster.bird_include apply to \
                     cluster.vip_mode = \"anycast\" only (or cluster.vip_modes naming it)"
                    .to_owned())
            } else {
                Ok(None)
            };
        }
        if !dataplane {
            return if given {
                Err("cluster.bird_include: this node runs no data plane \
                     (dataplane.enabled = false), so it announces no VIP"
                    .to_owned())
            } else {
                Ok(None)
            };
        }
        let path = |key: &str, text: &str| {
            if text.is_empty() || text.contains('\0') {
                Err(format!("cluster.{key}: {text:?} is not a path"))
            } else {
                Ok(std::path::PathBuf::from(text))
            }
        };
        let include = match &self.bird_include {
            Some(text) => path("bird_include", text)?,
            None => {
                return Err(format!(
                    "{named} needs cluster.bird_include, \
                     the file Weir writes the announced VIPs to and BIRD's configuration \
                     includes"
                ))
            }
        };
        if include.file_name().is_none() {
            return Err(format!(
                "cluster.bird_include: {} is not a file path",
                include.display()
            ));
        }
        let socket = path(
            "bird_socket",
            self.bird_socket.as_deref().unwrap_or(DEFAULT_BIRD_SOCKET),
        )?;
        Ok(Some(BirdConfig { socket, include }))
    }
}

/// A Linux interface name: 1 to 15 bytes, none of them a slash, a colon,
/// white space or a control character.
fn interface_name(name: &str) -> Result<String, String> {
    let ok = (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if ok && name != "." && name != ".." {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "cluster.vip_interface: {name:?} is not an interface name"
        ))
    }
}

/// This node's id: `<data_dir>/node-id`, made on first start, so a
/// restarted node is the same row (and finds the leases it still holds).
pub fn node_id(data_dir: &Path) -> Result<String, String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(text) if weir_core::ids::well_formed(text.trim()) => return Ok(text.trim().to_owned()),
        Ok(_) => return Err(format!("{}: not a node id", path.display())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot read {}: {e}", path.display()))
        }
        Err(_) => {}
    }
    let id = format!("node-{}", uuid::Uuid::now_v7());
    std::fs::write(&path, format!("{id}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(id)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "weir".to_owned())
}

/// Where the data plane's listeners come from: the topology itself, or
/// in `failover` mode the topology cut to the VIPs this node holds.
pub struct Gate {
    pub topology: watch::Receiver<Arc<Topology>>,
    held: Option<leases::Held>,
}

/// Sets up the data plane's view of the topology before it starts: cut
/// to the held VIPs' listeners when any load balancer may be in
/// `failover` mode (the others' pass: an anycast node serves every
/// anycast VIP, what it announces is BIRD's). A `failover` successor
/// (`takeover`) starts with the VIPs its predecessor has on the
/// interface open, so its data plane adopts their listening sockets
/// instead of closing them; its first round with the store keeps those
/// it holds and lets the others go.
pub fn gate(
    settings: &ClusterSettings,
    config: &ClusterConfig,
    takeover: bool,
    topology: watch::Receiver<Arc<Topology>>,
) -> Gate {
    if settings.vip_modes.contains(VipMode::Failover) {
        let adopted = match (&config.vip_interface, takeover) {
            (Some(interface), true) => vip::on_interface(interface),
            _ => Default::default(),
        };
        let (held, topology) = leases::Held::gate(*settings, topology, adopted);
        Gate {
            topology,
            held: Some(held),
        }
    } else {
        Gate {
            topology,
            held: None,
        }
    }
}

/// The VIPs of the topology's listeners whose load balancers are in
/// `mode` (their own, else the deployment's).
fn vips_in(
    settings: &ClusterSettings,
    topology: &Topology,
    mode: VipMode,
) -> std::collections::BTreeSet<IpAddr> {
    settings.vips_in(
        mode,
        topology.listeners.values().map(|l| (l.vip, l.vip_mode)),
    )
}

/// Everything the heartbeat loop reports and acts with.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub settings: ClusterSettings,
    pub config: ClusterConfig,
    pub data_dir: std::path::PathBuf,
    pub api_address: String,
    /// The data plane's applied revision (`None`: no data plane).
    pub applied: Option<watch::Receiver<u64>>,
    /// The whole topology (the VIPs there are to hold).
    pub topology: watch::Receiver<Arc<Topology>>,
    /// The data plane (`None`: none runs), whose live state an `anycast`
    /// node announces by.
    pub dataplane: Option<weir_dataplane::DataPlane>,
    pub metrics: Arc<metrics::ClusterMetrics>,
    /// Started with `--takeover`: a predecessor with this node's id is
    /// handing its sockets (and in `failover` mode its VIPs) over.
    pub takeover: bool,
}

/// How `serve` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// For good: let go of every VIP.
    Stop,
    /// A successor (`--takeover`) serves on with this node's id: its VIPs
    /// stay where they are.
    HandOver,
}

/// Lets go of this node's VIPs when `serve` stops: of each regime it
/// runs.
pub struct Leave(Vec<Leaving>);

enum Leaving {
    Failover(
        watch::Sender<Option<Departure>>,
        tokio::sync::oneshot::Receiver<()>,
    ),
    Anycast(
        watch::Sender<Option<Departure>>,
        tokio::sync::oneshot::Receiver<()>,
    ),
}

impl Leave {
    /// What to do once a `--takeover` successor serves: the node hands
    /// its VIPs over then (a `failover` successor renews their leases and
    /// keeps the addresses, an `anycast` one refreshes and announces
    /// them), not at the end of its drain, so nothing of this process
    /// (its loops, its guard) touches them again.
    pub fn successor_ready(&self) -> Box<dyn Fn() + Send> {
        // Both regimes: the guard they share must hear of the hand-over
        // before this process can die in its drain, and an `anycast`
        // loop stops refreshing what the successor's now refreshes.
        let tells: Vec<_> = self
            .0
            .iter()
            .map(|l| match l {
                Leaving::Failover(tell, _) | Leaving::Anycast(tell, _) => tell.clone(),
            })
            .collect();
        Box::new(move || {
            for tell in &tells {
                let _ = tell.send(Some(Departure::HandOver));
            }
        })
    }

    /// `failover` on a stop: takes the VIPs off the interface and
    /// releases their leases, waiting at most two seconds for the store;
    /// on a hand-over: stops renewing and leaves the addresses to the
    /// successor, which renews the same leases. `anycast` on a
    /// stop: withdraws every VIP from BIRD, waits 0.5 to 1 s for the routers
    /// and takes the addresses off (at most five seconds in all).
    pub async fn leave(self, departure: Departure) {
        // Every loop is told first, so both regimes let go side by side.
        let mut waits = Vec::new();
        for leaving in self.0 {
            let (limit, tell, done) = match leaving {
                Leaving::Failover(tell, done) => (Duration::from_secs(2), tell, done),
                Leaving::Anycast(tell, done) => (Duration::from_secs(5), tell, done),
            };
            let _ = tell.send(Some(departure));
            // Kept open until the loop is done: a dropped sender would
            // read as a change.
            waits.push((limit, done, tell));
        }
        for (limit, done, _tell) in waits {
            let _ = tokio::time::timeout(limit, done).await;
        }
    }
}

/// Registers this node and keeps its heartbeat (and, in `failover` mode,
/// its leases) going until the process ends.
pub async fn spawn(ctx: Context, gate: Gate) -> Result<Leave, String> {
    let id = node_id(&ctx.data_dir)?;
    let record = NodeRecord {
        id: id.clone(),
        name: ctx.config.node_name.clone().unwrap_or_else(host_name),
        api_address: ctx.api_address.clone(),
        data_addresses: ctx
            .config
            .data_addresses
            .iter()
            .map(ToString::to_string)
            .collect(),
        holds_vips: ctx.applied.is_some(),
        applied_revision: ctx.applied.as_ref().map_or(0, |a| *a.borrow()),
        started_ms: 0,
        heartbeat_ms: 0,
    };
    let cluster = ctx.store.cluster();
    // The first heartbeat is not optional: a node that cannot write its
    // row at start says so and stops, as for any store it cannot open.
    cluster
        .heartbeat(&record)
        .await
        .map_err(|e| format!("cannot register this node: {e}"))?;
    cluster
        .started(&id)
        .await
        .map_err(|e| format!("cannot register this node: {e}"))?;
    tracing::info!(node = %id, name = %record.name, mode = ctx.settings.vip_mode.as_str(), "registered in the cluster");
    let timings = LeaseTimings::from_timeout(ctx.settings.node_timeout_ms);
    // Whole seconds (the kernel's unit), at most the hold, so a crashed
    // node's address goes about when its lease (or announcement) should.
    let lifetime_secs = u32::try_from(timings.hold_ms / 1000).unwrap_or(1);
    let mut leaving = Vec::new();
    // One loop heartbeats: the lease loop when it runs (its round is a
    // heartbeat), else the anycast loop, else a bare heartbeat loop.
    let lease_loop = gate.held.is_some();
    // One guard for the interface, whichever regimes put VIPs on it: a
    // killed node's addresses (and with them an `anycast` node's BIRD
    // routes) go at once, not when their kernel lifetime runs out.
    let guard = match &ctx.config.vip_interface {
        Some(name) => Some(Arc::new(guard::Guard::start(name)?)),
        None => None,
    };
    if let (true, Some(bird), Some(interface), Some(dataplane)) = (
        ctx.settings.vip_modes.contains(VipMode::Anycast),
        ctx.config.bird.clone(),
        ctx.config.vip_interface.clone(),
        ctx.dataplane.clone(),
    ) {
        let mut addresses = vip::Addresses::open(&interface, lifetime_secs).await?;
        if let Some(guard) = &guard {
            addresses = addresses.guarded(guard.clone());
        }
        let announcer = anycast::Announcer {
            addresses,
            bird: bird::Bird::new(bird.socket, bird.include, interface),
            dataplane,
            beats: !lease_loop,
            held: gate.held.clone(),
        };
        let (tell, leave) = watch::channel(None);
        let (done, finished) = tokio::sync::oneshot::channel();
        let metrics = ctx.metrics.clone();
        tokio::spawn(anycast::run(
            ctx.clone(),
            record.clone(),
            timings,
            announcer,
            metrics,
            leave,
            done,
        ));
        leaving.push(Leaving::Anycast(tell, finished));
    }
    match gate.held {
        None if leaving.is_empty() => {
            tokio::spawn(heartbeats(ctx, record, timings));
        }
        None => {}
        Some(held) => {
            let interface = ctx.config.vip_interface.clone();
            let addresses = match (interface, &guard) {
                // Whole seconds (the kernel's unit), at most the hold, so
                // a crashed node's address goes about when its lease does.
                (Some(name), Some(guard)) => Some(
                    vip::Addresses::open(&name, lifetime_secs)
                        .await?
                        .guarded(guard.clone()),
                ),
                _ => None,
            };
            let (tell, leave) = watch::channel(None);
            let (done, finished) = tokio::sync::oneshot::channel();
            tokio::spawn(leases::run(
                ctx, record, timings, held, addresses, leave, done,
            ));
            leaving.push(Leaving::Failover(tell, finished));
        }
    }
    Ok(Leave(leaving))
}

/// What the heartbeating loop reports of the `none` regime: every node
/// with a data plane binds those VIPs.
fn report_unmanaged(ctx: &Context, holds_vips: bool) {
    let vips = vips_in(&ctx.settings, &ctx.topology.borrow(), VipMode::None);
    let served = if holds_vips {
        vips.clone()
    } else {
        std::collections::BTreeSet::new()
    };
    ctx.metrics.serving(VipMode::None, &vips, &served);
}

/// `none` mode (and a node without a data plane): the heartbeat, and
/// the registry's view for the metrics.
async fn heartbeats(ctx: Context, mut record: NodeRecord, timings: LeaseTimings) {
    let cluster = ctx.store.cluster();
    let every = Duration::from_millis(timings.renew_every_ms);
    let mut failing = false;
    loop {
        tokio::time::sleep(every).await;
        record.applied_revision = ctx.applied.as_ref().map_or(0, |a| *a.borrow());
        let beat = tokio::time::timeout(every, async {
            cluster.heartbeat(&record).await?;
            cluster.view().await
        })
        .await;
        if let Ok(Ok(view)) = &beat {
            ctx.metrics.saw(view, ctx.settings.node_timeout_ms);
            report_unmanaged(&ctx, record.holds_vips);
        }
        failing = report(beat.map(|r| r.map(|_| ())), failing);
    }
}

/// Logs a heartbeat's failure once, and its recovery; whether it failed.
fn report(
    beat: Result<weir_store::StoreResult<()>, tokio::time::error::Elapsed>,
    failing: bool,
) -> bool {
    match beat {
        Ok(Ok(())) => {
            if failing {
                tracing::info!("heartbeats reach the registry again");
            }
            false
        }
        Ok(Err(e)) => {
            if !failing {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            true
        }
        Err(_) => {
            if !failing {
                tracing::warn!("heartbeat timed out");
            }
            true
        }
    }
}
