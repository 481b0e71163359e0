//! `weir serve`: opens the store, starts the control plane and serves the
//! API until SIGINT or SIGTERM, or until a successor takes its place
//! ([`crate::takeover`]).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use weir_control::{Control, LiveView};
use weir_core::ids::{BackendId, ListenerId};
use weir_core::status::{BackendLive, ListenerLive};
use weir_dataplane::DataPlane;
use weir_store::postgres::PgStore;
use weir_store::sqlite::SqliteStore;
use weir_store::Store;

use crate::cli::ServeArgs;
use crate::config::{self, ServeConfig, StoreConfig};

pub fn main(args: ServeArgs) -> ExitCode {
    // Before anything can replace the binary: SIGUSR2 starts this path.
    let exe = crate::takeover::Exe::current();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match config::load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The API and the data plane run on separate runtimes, so the data
    // plane's worker count is its own and API load never starves traffic.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weir-api")
        .build()
        .expect("tokio runtime");
    let dataplane_runtime = config
        .dataplane
        .as_ref()
        .map(|dp| DataPlaneRuntime::start(dp.workers));
    let dataplane = dataplane_runtime.as_ref().map(DataPlaneRuntime::handle);
    match runtime.block_on(run(config, dataplane, args.takeover, exe)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    mut config: ServeConfig,
    dataplane: Option<tokio::runtime::Handle>,
    takeover: bool,
    exe: crate::takeover::Exe,
) -> Result<(), String> {
    // Before the data plane reads the limit it budgets under.
    match weir_dataplane::fd::raise_nofile_limit() {
        Ok((soft, hard)) => tracing::info!(soft, hard, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    // Before the store opens: a predecessor stops writing before it hands
    // its sockets over.
    let mut inherited = if takeover {
        let dir = config.data_dir.clone();
        let inherited = tokio::task::spawn_blocking(move || crate::takeover::take_over(&dir))
            .await
            .map_err(|e| e.to_string())??;
        tracing::info!(
            sockets = inherited.data.len(),
            "received the predecessor's sockets"
        );
        Some(inherited)
    } else {
        crate::takeover::refuse_if_running(&config.data_dir)?;
        None
    };
    let admin_token = admin_token(&config.data_dir)?;
    let secrets_key = secrets_key(&config.data_dir)?;
    // Whether PING checks can run is found out here, once, by opening the
    // sockets they would use; the core learns it as a capability (and
    // refuses PING without it, in every dialect), the data plane as the
    // sockets to use. A node without a data plane runs no checks and
    // claims no ICMP.
    if let Some(dp) = config.dataplane.as_mut() {
        let icmp = weir_dataplane::icmp::IcmpSupport::detect();
        tracing::info!(ipv4 = ?icmp.v4, ipv6 = ?icmp.v6, "ICMP echo sockets for PING checks");
        dp.engine.icmp = icmp;
        config.settings.capabilities.icmp_echo = icmp.any();
    }
    let store: Arc<dyn Store> = match &config.store {
        StoreConfig::Sqlite { durability } => {
            let db = config.data_dir.join("weir.db");
            let store = SqliteStore::open(&db, *durability)
                .await
                .map_err(|e| format!("cannot open {}: {e}", db.display()))?;
            Arc::new(store)
        }
        StoreConfig::Postgres {
            url,
            poll,
            timeouts,
        } => {
            let store = PgStore::connect_with(url, *timeouts)
                .await
                .map_err(|e| format!("cannot open the PostgreSQL store: {e}"))?;
            Arc::new(store.with_poll(*poll))
        }
    };
    let cluster_settings = config.settings.cluster;
    let control = Control::start_keyed(
        store.clone(),
        config.settings,
        admin_token,
        config.retention,
        Some(secrets_key),
    )
    .await
    .map_err(|e| e.to_string())?
    .with_metrics_token(config.metrics_token)
    .with_watch_settings(config.watch)
    .with_cluster_token(weir_control::cluster_token(&secrets_key));
    let gate = crate::cluster::gate(
        &cluster_settings,
        &config.cluster,
        takeover,
        control.topology(),
    );
    let mut applied = None;
    let mut served_dp = None;
    if let (Some(handle), Some(dp_config)) = (dataplane, config.dataplane) {
        let sockets = inherited
            .as_mut()
            .map(|i| std::mem::take(&mut i.data))
            .unwrap_or_default();
        let dp = handle.block_on_spawn(dp_config.engine, gate.topology.clone(), sockets);
        applied = Some(dp.applied());
        control.set_live_view(Arc::new(LiveDataPlane(dp.clone())));
        served_dp = Some(dp);
    }
    let listener = crate::takeover::api_listener(
        &config.listen,
        inherited.as_mut().and_then(|i| i.api.take()),
    )
    .await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Printed on stdout so scripts and tests can find a port-0 address.
    println!("weir listening on http://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "serving");
    let cluster_metrics = Arc::new(crate::cluster::metrics::ClusterMetrics::default());
    control.set_cluster_metrics(Arc::new(crate::cluster::metrics::Rendered {
        metrics: cluster_metrics.clone(),
        topology: control.topology(),
    }));
    let cluster = crate::cluster::Context {
        dataplane: served_dp.clone(),
        metrics: cluster_metrics,
        store: store.clone(),
        settings: cluster_settings,
        config: config.cluster,
        data_dir: config.data_dir.clone(),
        api_address: addr.to_string(),
        applied,
        topology: control.topology(),
        takeover,
    };
    let leave = crate::cluster::spawn(cluster, gate).await?;
    // Show the live state of the nodes with a data plane: on a node
    // without one, all of it; on one with its own, what it does not
    // serve (docs/HA.md).
    let asker = match &served_dp {
        None => crate::cluster::remote::Asker::ApiNode,
        Some(dp) => crate::cluster::remote::Asker::DataNode {
            id: crate::cluster::node_id(&config.data_dir)?,
            dataplane: dp.clone(),
        },
    };
    crate::cluster::remote::spawn(
        control.clone(),
        store.clone(),
        weir_control::cluster_token(&secrets_key),
        cluster_settings.node_timeout_ms,
        asker,
    );
    // The API is bound, the data plane follows the topology and the node
    // is registered: a service manager may count on it now.
    crate::notify::ready();
    let app = weir_api::router(control.clone())
        .merge(weir_dialects::router(control.clone(), config.dialects))
        .layer(axum::middleware::from_fn(weir_api::ui::harden));
    let served = crate::takeover::run(crate::takeover::Running {
        control,
        dataplane: served_dp,
        api: listener,
        app,
        data_dir: config.data_dir,
        settings: config.takeover,
        exe,
        inherited,
        successor_ready: leave.successor_ready(),
    })
    .await;
    crate::notify::stopping();
    match served {
        Ok(crate::takeover::Ended::HandedOver) => {
            leave.leave(crate::cluster::Departure::HandOver).await;
            Ok(())
        }
        Ok(crate::takeover::Ended::Stopped) => {
            leave.leave(crate::cluster::Departure::Stop).await;
            Ok(())
        }
        Err(e) => {
            leave.leave(crate::cluster::Departure::Stop).await;
            Err(e)
        }
    }
}

/// `WEIR_ADMIN_TOKEN` when set; otherwise the token saved in the data
/// directory, generated (and printed once) on first start.
fn admin_token(data_dir: &Path) -> Result<String, String> {
    if let Ok(token) = std::env::var("WEIR_ADMIN_TOKEN") {
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let path = data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        return Ok(token.trim().to_owned());
    }
    let token = weir_control::random_token("wa_");
    write_private(&path, &token).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("admin token (saved to {}): {token}", path.display());
    Ok(token)
}

/// The key that seals private keys at rest: `WEIR_SECRETS_KEY` (64 hex
/// digits; every node sharing a PostgreSQL registry needs the same one)
/// when set; otherwise the key in `<data_dir>/secrets-key`, made on first
/// start (mode 0600). It is never in the database: a copy of the database
/// alone opens no private key.
fn secrets_key(data_dir: &Path) -> Result<[u8; 32], String> {
    use weir_control::secrets::{key_hex, new_key, parse_key};
    if let Ok(text) = std::env::var("WEIR_SECRETS_KEY") {
        if !text.is_empty() {
            return parse_key(&text)
                .ok_or_else(|| "WEIR_SECRETS_KEY: expected 64 hex digits".into());
        }
    }
    let path = data_dir.join("secrets-key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return parse_key(&text)
            .ok_or_else(|| format!("{}: expected 64 hex digits", path.display()));
    }
    let key = new_key();
    write_private(&path, &format!("{}\n", key_hex(&key)))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// The data plane's own runtime. One worker gets a current-thread runtime
/// on a thread of its own: every connection task then runs in arrival
/// order on one thread, with none of the work-stealing bookkeeping that a
/// single-worker multi-thread runtime pays for nothing (measured: see
/// docs/BENCHMARKS.md). More workers share a multi-thread runtime.
enum DataPlaneRuntime {
    Multi(tokio::runtime::Runtime),
    /// The thread drives the runtime until the process ends.
    Single(tokio::runtime::Handle),
}

impl DataPlaneRuntime {
    fn start(workers: usize) -> Self {
        if workers > 1 {
            return Self::Multi(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .thread_name("weir-dataplane")
                    .build()
                    .expect("tokio runtime"),
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("weir-dataplane".to_owned())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("data-plane thread");
        Self::Single(handle)
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match self {
            Self::Multi(runtime) => runtime.handle().clone(),
            Self::Single(handle) => handle.clone(),
        }
    }
}

/// Starts the data plane on its runtime, following the topology.
trait SpawnDataPlane {
    fn block_on_spawn(
        &self,
        config: weir_dataplane::Config,
        topology: tokio::sync::watch::Receiver<Arc<weir_core::topology::Topology>>,
        inherited: Vec<std::os::fd::OwnedFd>,
    ) -> DataPlane;
}

impl SpawnDataPlane for tokio::runtime::Handle {
    fn block_on_spawn(
        &self,
        config: weir_dataplane::Config,
        topology: tokio::sync::watch::Receiver<Arc<weir_core::topology::Topology>>,
        inherited: Vec<std::os::fd::OwnedFd>,
    ) -> DataPlane {
        // Created inside its runtime: every task it starts runs there.
        let _entered = self.enter();
        let dp = DataPlane::new(config);
        // Before the first topology: its listeners adopt these.
        if !inherited.is_empty() {
            dp.inherit(inherited);
        }
        self.spawn(dp.clone().follow(topology));
        dp
    }
}

/// The data plane seen through the control layer's `LiveView`.
struct LiveDataPlane(DataPlane);

impl LiveView for LiveDataPlane {
    fn backend(&self, id: &BackendId) -> Option<BackendLive> {
        self.0.backend_live(id)
    }

    fn listener(&self, id: &ListenerId) -> Option<ListenerLive> {
        self.0.listener_live(id)
    }

    fn applied(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.applied()
    }

    fn listener_stats(&self, id: &ListenerId) -> Option<weir_core::status::ListenerStats> {
        self.0.listener_stats(id)
    }

    fn retry_binds(&self) {
        self.0.retry_binds_soon();
    }

    fn render_metrics(&self, out: &mut String) {
        self.0.render_metrics(out);
    }

    fn transitions(&self) -> Option<tokio::sync::broadcast::Receiver<weir_core::watch::LiveEvent>> {
        Some(self.0.live_events())
    }
}
