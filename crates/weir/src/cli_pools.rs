//! The clap tree of `weir pool`: a load balancer's pools (server groups),
//! their settings, health checks, backend TLS and backends in one write,
//! kept apart so `cli.rs` stays readable.

use clap::Subcommand;

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum PoolCmd {
    /// Create a server group on a load balancer: a pool with its own
    /// algorithm and protocol (register its backends with
    /// `weir backend register --pool`).
    Create {
        #[arg(long)]
        lb: String,
        #[arg(long)]
        name: String,
        /// The group's own scheduler; absent: each listener's.
        #[arg(long)]
        scheduler: Option<String>,
        /// What the members speak: tcp, udp, http, https, proxy or
        /// proxyv2; absent: whatever the listener speaks.
        #[arg(long)]
        protocol: Option<String>,
        /// A listener (forwarding to no server group yet) that forwards
        /// to this group.
        #[arg(long)]
        listener: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a server group with its backends.
    Delete {
        id: String,
        /// Send the listeners forwarding to it back to their own pools
        /// (without it, a group in use is refused).
        #[arg(long)]
        detach: bool,
    },
    /// Rename a pool.
    Rename {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Make a pool's backends these, in one write: the ones already
    /// there (same address and port) stay, new ones are registered, the
    /// others deregistered (kept with --additive-only).
    ReplaceBackends {
        id: String,
        /// ADDRESS:PORT (IPv6: [ADDR]:PORT), or ADDRESS with --port;
        /// repeatable. None at all empties the pool.
        #[arg(long)]
        address: Vec<String>,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long)]
        additive_only: bool,
    },
    /// List a load balancer's pools: each listener's own and its server
    /// groups.
    List {
        #[arg(long)]
        lb: String,
    },
    /// Show a pool: its health check, drain timeout and slow start.
    Show { id: String },
    /// Change a pool; what is not given stays. A health check given
    /// replaces the pool's whole check.
    Update {
        id: String,
        /// tcp, http, https, tls-hello, udp-connect or ping.
        #[arg(long, conflicts_with = "no_health_check")]
        health_check: Option<String>,
        #[arg(long, requires = "health_check")]
        interval_ms: Option<u64>,
        #[arg(long, requires = "health_check")]
        timeout_ms: Option<u64>,
        /// Passes in a row that make a backend healthy.
        #[arg(long, requires = "health_check")]
        rise: Option<u32>,
        /// Failures in a row that make it unhealthy.
        #[arg(long, requires = "health_check")]
        fall: Option<u32>,
        /// Check this port instead of the traffic port.
        #[arg(long, requires = "health_check")]
        check_port: Option<u16>,
        /// http/https checks: the path asked for.
        #[arg(long, requires = "health_check")]
        path: Option<String>,
        /// http/https checks: codes that pass, e.g. 200,204-206.
        #[arg(long, requires = "health_check")]
        expected_codes: Option<String>,
        /// http/https checks: the method (GET by default).
        #[arg(long, requires = "health_check")]
        method: Option<String>,
        /// http/https checks: the Host header.
        #[arg(long, requires = "health_check")]
        host: Option<String>,
        /// Stop checking: every enabled backend serves.
        #[arg(long)]
        no_health_check: bool,
        /// How long a removed or disabled backend's connections may finish.
        #[arg(long)]
        drain_timeout_ms: Option<u64>,
        /// A joining backend ramps to its full weight over this long; 0 off.
        #[arg(long)]
        slow_start_ms: Option<u64>,
        /// on: when every backend fails its health check, all backends
        /// in service take traffic rather than none (off by default).
        #[arg(long, value_parser = ["on", "off"])]
        fail_open: Option<String>,
    },
    /// Dial the pool's backends over TLS (replaces its TLS settings
    /// whole), or in the clear again with --off.
    Tls {
        id: String,
        /// Back to the clear.
        #[arg(long, conflicts_with_all = ["ca_ref", "ca_cert", "crl_ref", "client_cert_ref", "server_name", "tls_versions", "no_verify"])]
        off: bool,
        /// The CA bundle backends are verified against: a key-manager
        /// ref, secrets/<id> or containers/<id>.
        #[arg(long)]
        ca_ref: Option<String>,
        /// Or a CA certificate of the project (`weir cert create --ca`)
        /// backends are verified against.
        #[arg(long, conflicts_with = "ca_ref")]
        ca_cert: Option<String>,
        /// Do not verify backends (the default without --ca-ref; refused
        /// with it).
        #[arg(long)]
        no_verify: bool,
        /// CRLs backends' certificates are checked against (secrets/<id>;
        /// needs --ca-ref).
        #[arg(long)]
        crl_ref: Option<String>,
        /// The client certificate presented to backends (secrets/<id> or
        /// containers/<id>).
        #[arg(long)]
        client_cert_ref: Option<String>,
        /// The name backends are dialled by (SNI), checked with --ca-ref.
        #[arg(long)]
        server_name: Option<String>,
        /// TLS versions offered, comma-separated (TLSv1.2,TLSv1.3).
        #[arg(long, value_delimiter = ',')]
        tls_versions: Vec<String>,
    },
}
