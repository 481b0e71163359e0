//! Settings: built-in defaults, then the optional TOML file, then flags and
//! environment variables. Unknown keys in the file are errors, so a typo
//! never silently falls back to a default.

use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use weir_core::settings::{Limits, NetworkSettings, Settings};
use weir_store::sqlite::Durability;

use crate::cli::ServeArgs;

/// Where the API listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";
/// Where data lives by default, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "weir-data";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    network: NetworkSection,
    #[serde(default)]
    limits: LimitsSection,
    /// `[quotas]`: the default per-project quotas (-1 unlimited).
    #[serde(default)]
    quotas: QuotasSection,
    #[serde(default)]
    dataplane: DataplaneSection,
    /// Region names the cloud dialects answer to (default `["local"]`).
    regions: Option<Vec<String>>,
    #[serde(default)]
    dialects: DialectsSection,
    #[serde(default)]
    api: ApiSection,
    /// The operator's own Keystone (external-Keystone mode).
    keystone: Option<KeystoneSection>,
    #[serde(default)]
    cluster: crate::cluster::ClusterSection,
    #[serde(default)]
    takeover: TakeoverSection,
}

/// `[takeover]`: restarts that drop nothing (`weir serve --takeover`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TakeoverSection {
    /// How long a replaced process serves its open connections before it
    /// exits (default 30000).
    drain_timeout_ms: Option<u64>,
    /// How long a process that passed its sockets waits for its
    /// successor to serve before it takes them back (default 60000).
    timeout_ms: Option<u64>,
}

impl TakeoverSection {
    fn settings(&self) -> Result<crate::takeover::Settings, String> {
        let defaults = crate::takeover::Settings::default();
        let ms = |key: &str, value: Option<u64>, default| match value {
            None => Ok(default),
            Some(0) => Err(format!("takeover.{key} must be at least 1")),
            Some(ms) if ms > 24 * 3600 * 1000 => {
                Err(format!("takeover.{key} must be at most 86400000 (a day)"))
            }
            Some(ms) => Ok(std::time::Duration::from_millis(ms)),
        };
        Ok(crate::takeover::Settings {
            drain: ms("drain_timeout_ms", self.drain_timeout_ms, defaults.drain)?,
            timeout: ms("timeout_ms", self.timeout_ms, defaults.timeout)?,
        })
    }
}

/// `[keystone]`: Octavia's tokens are validated by the operator's
/// Keystone, as keystonemiddleware's `[keystone_authtoken]` does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeystoneSection {
    /// The identity v3 endpoint, e.g. `http://keystone.internal:5000/v3`.
    url: String,
    /// Weir's service user and its project.
    username: String,
    /// The password; `WEIR_KEYSTONE_PASSWORD` overrides it, so it need not
    /// be in the file.
    password: Option<String>,
    #[serde(default = "default_domain")]
    user_domain_name: String,
    project_name: String,
    #[serde(default = "default_domain")]
    project_domain_name: String,
    /// Longest a validated token is trusted before Keystone is asked
    /// again (a revocation takes effect within it; default 60).
    cache_secs: Option<u64>,
}

fn default_domain() -> String {
    "Default".to_owned()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DialectsSection {
    /// Seconds during which an identical signed UCloud write is refused as
    /// a replay (UCloud signs no timestamp); 0 or absent: off.
    ucloud_replay_window_secs: Option<u64>,
    /// Lifetime of Keystone tokens in seconds (default 3600).
    keystone_token_ttl_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DataplaneSection {
    /// false runs the control plane alone.
    enabled: Option<bool>,
    /// Worker threads of the data plane (default: the CPU count).
    workers: Option<usize>,
    /// Networks the data plane may dial (default: network.backend_ranges).
    egress_allow: Option<Vec<String>>,
    connect_timeout_ms: Option<u64>,
    connect_attempts: Option<usize>,
    eject_after_failures: Option<u32>,
    eject_ms: Option<u64>,
    udp_idle_timeout_ms: Option<u64>,
    max_ports_per_listener: Option<usize>,
    bind_retry_ms: Option<u64>,
    http_head_timeout_ms: Option<u64>,
    http_keepalive_timeout_ms: Option<u64>,
    http_body_timeout_ms: Option<u64>,
    http_max_head_bytes: Option<usize>,
    http_max_headers: Option<usize>,
    /// "replace" (default: trust no client's chain) or "append".
    http_forwarded_for: Option<String>,
    http_response_timeout_ms: Option<u64>,
    /// Backends one idempotent, body-less request may be tried on.
    http_idempotent_attempts: Option<usize>,
    /// Connections (UDP: flows) per listener that names no cap.
    max_connections: Option<u32>,
    tcp_idle_timeout_ms: Option<u64>,
    udp_max_flows_per_source: Option<usize>,
    /// Descriptors kept back from the data plane for the API.
    fd_reserve: Option<u64>,
}

/// How the data plane runs.
pub struct DataplaneConfig {
    pub workers: usize,
    pub engine: weir_dataplane::Config,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ApiSection {
    /// A bearer token that reads `/metrics` (besides the admin token).
    metrics_token: Option<String>,
    /// `GET /v1/watch` streams open at once on this node.
    watch_max_watchers: Option<usize>,
    /// ... and per project.
    watch_max_per_project: Option<usize>,
    /// Events queued for one watcher before it is cut as too slow.
    watch_buffer: Option<usize>,
    /// Seconds between keep-alive comments on an idle stream.
    watch_keepalive_secs: Option<u64>,
}

/// The watch stream's limits: each given one at least 1.
fn watch_settings(api: &ApiSection) -> Result<weir_control::watch::WatchSettings, String> {
    let mut settings = weir_control::watch::WatchSettings::default();
    let positive = |key: &str, v: Option<usize>, into: &mut usize| match v {
        Some(0) => Err(format!("api.{key} must be at least 1")),
        Some(n) => {
            *into = n;
            Ok(())
        }
        None => Ok(()),
    };
    positive(
        "watch_max_watchers",
        api.watch_max_watchers,
        &mut settings.max_watchers,
    )?;
    positive(
        "watch_max_per_project",
        api.watch_max_per_project,
        &mut settings.max_per_project,
    )?;
    positive("watch_buffer", api.watch_buffer, &mut settings.buffer)?;
    match api.watch_keepalive_secs {
        Some(0) => return Err("api.watch_keepalive_secs must be at least 1".to_owned()),
        Some(secs) => settings.keepalive = std::time::Duration::from_secs(secs),
        None => {}
    }
    Ok(settings)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    /// "full" (default) or "normal" (SQLite only).
    durability: Option<String>,
    /// `postgres://...`: a PostgreSQL registry shared by several nodes,
    /// instead of SQLite in the data directory.
    url: Option<String>,
    /// With PostgreSQL: how often this node reads the change log for other
    /// nodes' commits.
    poll_ms: Option<u64>,
    /// With PostgreSQL: bounds on waits (see `weir_store::postgres::Timeouts`).
    lock_timeout_ms: Option<u64>,
    statement_timeout_ms: Option<u64>,
    idle_in_transaction_timeout_ms: Option<u64>,
    /// Compaction (both stores): see `weir_control::Retention`.
    idempotency_ttl_secs: Option<u64>,
    change_log_keep: Option<u64>,
    compact_interval_secs: Option<u64>,
}

/// Where the registry lives.
pub enum StoreConfig {
    /// `<data_dir>/weir.db`.
    Sqlite { durability: Durability },
    /// A database several nodes share.
    Postgres {
        url: String,
        poll: std::time::Duration,
        timeouts: weir_store::postgres::Timeouts,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    backend_ranges: Option<Vec<String>>,
    external_backend_ranges: Option<Vec<String>>,
    vip_ranges: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    backends_per_pool: Option<usize>,
    backends_per_request: Option<usize>,
    load_balancers_per_project: Option<usize>,
    listeners_per_load_balancer: Option<usize>,
    server_groups_per_load_balancer: Option<usize>,
    certificates_per_project: Option<usize>,
    secrets_per_project: Option<usize>,
    containers_per_project: Option<usize>,
    secret_max_bytes: Option<usize>,
    acls_per_project: Option<usize>,
    acl_entries_per_acl: Option<usize>,
    networks_per_project: Option<usize>,
    subnets_per_project: Option<usize>,
}

/// The default quota of each resource per project; a project's own
/// (Octavia's quotas API, `weir project quota set`) overrides it. Load
/// balancers default to `limits.load_balancers_per_project`; the rest to
/// unlimited (-1).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuotasSection {
    load_balancer: Option<i64>,
    listener: Option<i64>,
    pool: Option<i64>,
    health_monitor: Option<i64>,
    member: Option<i64>,
    l7policy: Option<i64>,
    l7rule: Option<i64>,
}

impl QuotasSection {
    fn quotas(&self) -> Result<weir_core::quota::Quotas, String> {
        use weir_core::quota::{check_value, QuotaResource as R, Quotas};
        let mut out = Quotas::default();
        for (r, value) in [
            (R::LoadBalancer, self.load_balancer),
            (R::Listener, self.listener),
            (R::Pool, self.pool),
            (R::HealthMonitor, self.health_monitor),
            (R::Member, self.member),
            (R::L7Policy, self.l7policy),
            (R::L7Rule, self.l7rule),
        ] {
            let value = value
                .map(|v| check_value(r, v))
                .transpose()
                .map_err(|e| format!("quotas.{e}"))?;
            out.set(r, value);
        }
        Ok(out)
    }
}

/// Everything `weir serve` runs with.
pub struct ServeConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub store: StoreConfig,
    pub settings: Settings,
    /// `None` when the data plane is disabled.
    pub dataplane: Option<DataplaneConfig>,
    pub dialects: weir_dialects::Config,
    /// What the store keeps only for a while.
    pub retention: weir_control::Retention,
    /// Reads `/metrics` besides the admin token (`api.metrics_token`,
    /// `WEIR_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// This node's part in a cluster (`[cluster]`).
    pub cluster: crate::cluster::ClusterConfig,
    /// `[takeover]`: the drain and handover bounds.
    pub takeover: crate::takeover::Settings,
    /// The watch stream's limits (`api.watch_*`).
    pub watch: weir_control::watch::WatchSettings,
}

fn cidrs(key: &str, list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|c| {
            c.parse()
                .map(weir_core::address::canonical_net)
                .map_err(|_| format!("{key}: {c:?} is not a CIDR"))
        })
        .collect()
}

/// The HTTP listeners' settings: zero timeouts and limits are refused
/// rather than read as "off", since every one of them bounds a client.
fn http_settings(dp: &DataplaneSection) -> Result<weir_dataplane::http::HttpSettings, String> {
    let defaults = weir_dataplane::http::HttpSettings::default();
    let positive = |key: &str, value: Option<u64>, default: std::time::Duration| match value {
        None => Ok(default),
        Some(0) => Err(format!("dataplane.{key} must be at least 1")),
        Some(ms) => Ok(std::time::Duration::from_millis(ms)),
    };
    let max_headers = dp.http_max_headers.unwrap_or(defaults.max_headers);
    if !(1..=1024).contains(&max_headers) {
        return Err("dataplane.http_max_headers must be between 1 and 1024".to_owned());
    }
    let max_head_bytes = dp.http_max_head_bytes.unwrap_or(defaults.max_head_bytes);
    if !(1024..=1024 * 1024).contains(&max_head_bytes) {
        return Err("dataplane.http_max_head_bytes must be between 1024 and 1048576".to_owned());
    }
    let idempotent_attempts = dp
        .http_idempotent_attempts
        .unwrap_or(defaults.idempotent_attempts);
    if !(1..=64).contains(&idempotent_attempts) {
        return Err("dataplane.http_idempotent_attempts must be between 1 and 64".to_owned());
    }
    let forwarded_for = match dp.http_forwarded_for.as_deref() {
        None => defaults.forwarded_for,
        Some(text) => weir_dataplane::http::ForwardedFor::parse(text).ok_or_else(|| {
            format!("dataplane.http_forwarded_for: {text:?} is not \"replace\" or \"append\"")
        })?,
    };
    Ok(weir_dataplane::http::HttpSettings {
        head_timeout: positive(
            "http_head_timeout_ms",
            dp.http_head_timeout_ms,
            defaults.head_timeout,
        )?,
        keepalive_timeout: positive(
            "http_keepalive_timeout_ms",
            dp.http_keepalive_timeout_ms,
            defaults.keepalive_timeout,
        )?,
        body_timeout: positive(
            "http_body_timeout_ms",
            dp.http_body_timeout_ms,
            defaults.body_timeout,
        )?,
        max_head_bytes,
        max_headers,
        forwarded_for,
        response_timeout: positive(
            "http_response_timeout_ms",
            dp.http_response_timeout_ms,
            defaults.response_timeout,
        )?,
        idempotent_attempts,
        // Per listener only: the data plane's own is `connect_timeout_ms`.
        connect_timeout: None,
    })
}

/// Compaction settings: each given (and non-zero) or its default.
fn retention(store: &StoreSection) -> weir_control::Retention {
    let defaults = weir_control::Retention::default();
    let secs = |s: Option<u64>, default| {
        s.filter(|s| *s > 0)
            .map_or(default, std::time::Duration::from_secs)
    };
    weir_control::Retention {
        idempotency_ttl: secs(store.idempotency_ttl_secs, defaults.idempotency_ttl),
        change_log_keep: store
            .change_log_keep
            .filter(|n| *n > 0)
            .unwrap_or(defaults.change_log_keep),
        every: secs(store.compact_interval_secs, defaults.every),
    }
}

/// The PostgreSQL wait bounds: each setting given (and non-zero) or its
/// default.
fn pg_timeouts(store: &StoreSection) -> weir_store::postgres::Timeouts {
    let defaults = weir_store::postgres::Timeouts::default();
    let or = |ms: Option<u64>, default| {
        ms.filter(|ms| *ms > 0)
            .map_or(default, std::time::Duration::from_millis)
    };
    weir_store::postgres::Timeouts {
        lock: or(store.lock_timeout_ms, defaults.lock),
        statement: or(store.statement_timeout_ms, defaults.statement),
        idle_in_transaction: or(
            store.idle_in_transaction_timeout_ms,
            defaults.idle_in_transaction,
        ),
    }
}

/// Reads the file named by `--config` (if any) and applies the flags.
pub fn load(args: &ServeArgs) -> Result<ServeConfig, String> {
    let file = match &args.config {
        Some(path) => read(path)?,
        None => FileConfig::default(),
    };
    let mut network = NetworkSettings::default();
    if let Some(list) = &file.network.backend_ranges {
        network.backend_ranges = cidrs("network.backend_ranges", list)?;
    }
    if let Some(list) = &file.network.external_backend_ranges {
        network.external_backend_ranges = cidrs("network.external_backend_ranges", list)?;
    }
    if let Some(list) = &file.network.vip_ranges {
        network.vip_ranges = cidrs("network.vip_ranges", list)?;
    }
    let defaults = Limits::default();
    let limits = Limits {
        backends_per_pool: file
            .limits
            .backends_per_pool
            .unwrap_or(defaults.backends_per_pool),
        backends_per_request: file
            .limits
            .backends_per_request
            .unwrap_or(defaults.backends_per_request),
        load_balancers_per_project: file
            .limits
            .load_balancers_per_project
            .unwrap_or(defaults.load_balancers_per_project),
        listeners_per_load_balancer: file
            .limits
            .listeners_per_load_balancer
            .unwrap_or(defaults.listeners_per_load_balancer),
        server_groups_per_load_balancer: file
            .limits
            .server_groups_per_load_balancer
            .unwrap_or(defaults.server_groups_per_load_balancer),
        certificates_per_project: file
            .limits
            .certificates_per_project
            .unwrap_or(defaults.certificates_per_project),
        secrets_per_project: file
            .limits
            .secrets_per_project
            .unwrap_or(defaults.secrets_per_project),
        containers_per_project: file
            .limits
            .containers_per_project
            .unwrap_or(defaults.containers_per_project),
        secret_max_bytes: file
            .limits
            .secret_max_bytes
            .unwrap_or(defaults.secret_max_bytes),
        acls_per_project: file
            .limits
            .acls_per_project
            .unwrap_or(defaults.acls_per_project),
        acl_entries_per_acl: file
            .limits
            .acl_entries_per_acl
            .unwrap_or(defaults.acl_entries_per_acl),
        networks_per_project: file
            .limits
            .networks_per_project
            .unwrap_or(defaults.networks_per_project),
        subnets_per_project: file
            .limits
            .subnets_per_project
            .unwrap_or(defaults.subnets_per_project),
        project_quotas: file.quotas.quotas()?,
    };
    let durability = match file.store.durability.as_deref() {
        None | Some("full") => Durability::Full,
        Some("normal") => Durability::Normal,
        Some(other) => {
            return Err(format!(
                "store.durability: {other:?} is not \"full\" or \"normal\""
            ))
        }
    };
    let store = match args.store_url.clone().or(file.store.url.clone()) {
        None => StoreConfig::Sqlite { durability },
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            if file.store.durability.is_some() {
                return Err(
                    "store.durability applies to SQLite; PostgreSQL commits as the server is configured"
                        .to_owned(),
                );
            }
            StoreConfig::Postgres {
                url,
                poll: file.store.poll_ms.filter(|ms| *ms > 0).map_or(
                    weir_store::postgres::DEFAULT_POLL,
                    std::time::Duration::from_millis,
                ),
                timeouts: pg_timeouts(&file.store),
            }
        }
        Some(_) => {
            return Err(
                "store.url: only postgres:// URLs are supported (leave it unset for SQLite)"
                    .to_owned(),
            )
        }
    };
    let dp = &file.dataplane;
    let dataplane = if dp.enabled.unwrap_or(true) {
        let defaults = weir_dataplane::Config::default();
        // The environment wins, so a test harness can pin the data plane to
        // loopback whatever the file says.
        let from_env: Option<Vec<String>> = std::env::var("WEIR_EGRESS_ALLOW").ok().map(|v| {
            v.split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect()
        });
        let egress_allow = match from_env.as_ref().or(dp.egress_allow.as_ref()) {
            Some(list) => cidrs("dataplane.egress_allow", list)?,
            None => network.backend_ranges.clone(),
        };
        let workers = dp
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if workers == 0 {
            return Err("dataplane.workers must be at least 1".to_owned());
        }
        let ms = std::time::Duration::from_millis;
        let http = http_settings(dp)?;
        Some(DataplaneConfig {
            workers,
            engine: weir_dataplane::Config {
                egress_allow,
                // Found out by `serve`, once, before the data plane starts.
                icmp: defaults.icmp,
                connect_timeout: dp.connect_timeout_ms.map_or(defaults.connect_timeout, ms),
                connect_attempts: dp
                    .connect_attempts
                    .unwrap_or(defaults.connect_attempts)
                    .max(1),
                ejection: weir_dataplane::pool::Ejection {
                    after_failures: dp
                        .eject_after_failures
                        .unwrap_or(defaults.ejection.after_failures)
                        .max(1),
                    period: dp.eject_ms.map_or(defaults.ejection.period, ms),
                },
                udp_idle_timeout: dp.udp_idle_timeout_ms.map_or(defaults.udp_idle_timeout, ms),
                max_ports_per_listener: dp
                    .max_ports_per_listener
                    .unwrap_or(defaults.max_ports_per_listener),
                bind_retry: dp
                    .bind_retry_ms
                    .filter(|ms| *ms > 0)
                    .map_or(defaults.bind_retry, ms),
                http,
                max_connections: dp
                    .max_connections
                    .unwrap_or(defaults.max_connections)
                    .max(1),
                tcp_idle_timeout: dp
                    .tcp_idle_timeout_ms
                    .filter(|ms| *ms > 0)
                    .map_or(defaults.tcp_idle_timeout, ms),
                udp_max_flows_per_source: dp
                    .udp_max_flows_per_source
                    .unwrap_or(defaults.udp_max_flows_per_source)
                    .max(1),
                fd_reserve: dp.fd_reserve.unwrap_or(defaults.fd_reserve),
            },
        })
    } else {
        None
    };
    let (cluster_settings, cluster) = file.cluster.check(
        matches!(store, StoreConfig::Postgres { .. }),
        dataplane.is_some(),
    )?;
    let regions = file.regions.unwrap_or_else(|| Settings::default().regions);
    if regions.is_empty() || regions.iter().any(|r| r.trim().is_empty()) {
        return Err("regions: list at least one non-empty region name".to_owned());
    }
    let external_keystone = match file.keystone {
        None => None,
        Some(k) => {
            let password = std::env::var("WEIR_KEYSTONE_PASSWORD")
                .ok()
                .or(k.password)
                .ok_or("keystone.password (or WEIR_KEYSTONE_PASSWORD) is required")?;
            let keystone = weir_dialects::openstack::ExternalKeystone {
                url: k.url,
                username: k.username,
                password,
                user_domain: k.user_domain_name,
                project_name: k.project_name,
                project_domain: k.project_domain_name,
                cache: std::time::Duration::from_secs(k.cache_secs.unwrap_or(60)),
            };
            keystone.check()?;
            Some(keystone)
        }
    };
    let dialects = weir_dialects::Config {
        external_keystone,
        ucloud_replay_window: file
            .dialects
            .ucloud_replay_window_secs
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs),
        keystone_token_ttl: file
            .dialects
            .keystone_token_ttl_secs
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs),
    };
    Ok(ServeConfig {
        takeover: file.takeover.settings()?,
        dataplane,
        dialects,
        retention: retention(&file.store),
        watch: watch_settings(&file.api)?,
        metrics_token: std::env::var("WEIR_METRICS_TOKEN")
            .ok()
            .or(file.api.metrics_token.clone())
            .filter(|t| !t.is_empty()),
        listen: args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        data_dir: args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        store,
        settings: Settings {
            network,
            limits,
            regions,
            // Found out by `serve` once the data plane is known to run.
            capabilities: Default::default(),
            cluster: cluster_settings,
        },
        cluster,
    })
}

fn read(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(text: &str) -> Result<weir_dataplane::http::HttpSettings, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        http_settings(&file.dataplane)
    }

    #[test]
    fn http_settings_default_and_map() {
        let defaults = http("").unwrap();
        assert_eq!(defaults.head_timeout, std::time::Duration::from_secs(10));
        assert_eq!(defaults.max_head_bytes, 16 * 1024);
        assert_eq!(
            defaults.forwarded_for,
            weir_dataplane::http::ForwardedFor::Replace
        );
        let set = http(
            "[dataplane]\nhttp_head_timeout_ms = 500\nhttp_keepalive_timeout_ms = 5000\nhttp_body_timeout_ms = 700\nhttp_max_head_bytes = 8192\nhttp_max_headers = 50\nhttp_forwarded_for = \"append\"\nhttp_response_timeout_ms = 1500\nhttp_idempotent_attempts = 4\n",
        )
        .unwrap();
        assert_eq!(set.head_timeout, std::time::Duration::from_millis(500));
        assert_eq!(set.keepalive_timeout, std::time::Duration::from_secs(5));
        assert_eq!(set.body_timeout, std::time::Duration::from_millis(700));
        assert_eq!((set.max_head_bytes, set.max_headers), (8192, 50));
        assert_eq!(set.response_timeout, std::time::Duration::from_millis(1500));
        assert_eq!(set.idempotent_attempts, 4);
        assert_eq!(
            defaults.response_timeout,
            std::time::Duration::from_secs(60)
        );
        assert_eq!(defaults.idempotent_attempts, 16);
        assert_eq!(
            set.forwarded_for,
            weir_dataplane::http::ForwardedFor::Append
        );
    }

    #[test]
    fn http_settings_that_unbound_a_client_are_refused() {
        for text in [
            "[dataplane]\nhttp_head_timeout_ms = 0",
            "[dataplane]\nhttp_body_timeout_ms = 0",
            "[dataplane]\nhttp_max_headers = 0",
            "[dataplane]\nhttp_max_headers = 5000",
            "[dataplane]\nhttp_max_head_bytes = 10",
            "[dataplane]\nhttp_forwarded_for = \"trust\"",
            "[dataplane]\nhttp_response_timeout_ms = 0",
            "[dataplane]\nhttp_idempotent_attempts = 0",
            "[dataplane]\nhttp_idempotent_attempts = 1000",
        ] {
            assert!(http(text).is_err(), "{text} accepted");
        }
    }

    fn watch(text: &str) -> Result<weir_control::watch::WatchSettings, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        watch_settings(&file.api)
    }

    #[test]
    fn watch_limits_default_map_and_refuse_zero() {
        assert_eq!(
            watch("").unwrap(),
            weir_control::watch::WatchSettings::default()
        );
        let set = watch(
            "[api]\nwatch_max_watchers = 5\nwatch_max_per_project = 2\nwatch_buffer = 7\nwatch_keepalive_secs = 3\n",
        )
        .unwrap();
        assert_eq!(
            (set.max_watchers, set.max_per_project, set.buffer),
            (5, 2, 7)
        );
        assert_eq!(set.keepalive, std::time::Duration::from_secs(3));
        for text in [
            "[api]\nwatch_max_watchers = 0",
            "[api]\nwatch_max_per_project = 0",
            "[api]\nwatch_buffer = 0",
            "[api]\nwatch_keepalive_secs = 0",
            "[api]\nwatch_max_watcher = 5",
        ] {
            assert!(watch(text).is_err(), "{text} accepted");
        }
    }
}
