//! The command line: `weir serve` and the client subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::cli_catalog::{DomainCmd, FlavorCmd, FlavorProfileCmd};
pub use crate::cli_pools::PoolCmd;

/// Weir: register backends with load-balancer listeners.
#[derive(Parser)]
#[command(name = "weir", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// How to print answers: table, wide (lists get more columns) or
    /// json (as --json).
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The output format, `--json` counting as `-o json`.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.output
        }
    }
}

/// How the client commands print an answer ([`crate::output`]).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Wide,
    Json,
}

/// Where the client commands send requests.
#[derive(Args, Clone)]
pub struct ClientArgs {
    /// Base URL of the Weir API.
    #[arg(
        long,
        env = "WEIR_URL",
        default_value = "http://127.0.0.1:8480",
        global = true
    )]
    pub url: String,
    /// Bearer token: the admin token or a project's token.
    #[arg(long, env = "WEIR_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the Weir service.
    Serve(ServeArgs),
    /// Projects (tenants).
    #[command(subcommand)]
    Project(ProjectCmd),
    /// VPCs of the inventory.
    #[command(subcommand)]
    Vpc(VpcCmd),
    /// Subnets of the inventory.
    #[command(subcommand)]
    Subnet(SubnetCmd),
    /// Instances (VMs and bare metal) of the inventory.
    #[command(subcommand)]
    Instance(InstanceCmd),
    /// Load balancers.
    #[command(subcommand)]
    Lb(LbCmd),
    /// Listeners.
    #[command(subcommand)]
    Listener(ListenerCmd),
    /// Backends registered in pools.
    #[command(subcommand)]
    Backend(BackendCmd),
    /// Pools (server groups): health check, drain, slow start.
    #[command(subcommand)]
    Pool(PoolCmd),
    /// TLS certificates (a chain and its private key, sealed at rest).
    #[command(subcommand)]
    Cert(CertCmd),
    /// Access control lists: networks a listener allows or denies.
    #[command(subcommand)]
    Acl(AclCmd),
    /// L7 policies of HTTP listeners and their rules.
    #[command(subcommand)]
    L7policy(L7PolicyCmd),
    /// The cluster's nodes (the operator's).
    #[command(subcommand)]
    Node(NodeCmd),
    /// Domain extensions of HTTPS listeners: a domain served with a
    /// chosen certificate.
    #[command(subcommand)]
    Domain(DomainCmd),
    /// Flavors: what a load balancer may be created as (the operator
    /// writes them, every project reads them).
    #[command(subcommand)]
    Flavor(FlavorCmd),
    /// Flavor profiles: the provider settings flavors name (the
    /// operator's).
    #[command(subcommand)]
    Flavorprofile(FlavorProfileCmd),
    /// Print changes and live-state transitions as they happen
    /// (`GET /v1/watch`), reconnecting from the last one seen.
    Watch(WatchArgs),
    /// Print a shell completion script: `weir completions bash >
    /// /etc/bash_completion.d/weir` (zsh: into a directory of `$fpath`
    /// as `_weir`; fish: `~/.config/fish/completions/weir.fish`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
pub enum NodeCmd {
    /// List nodes: state (up, suspect, down), applied revision, VIPs.
    List,
}

#[derive(Args)]
pub struct WatchArgs {
    /// Start after this position (a project's own, or the global revision
    /// for the admin); without it, from now.
    #[arg(long)]
    pub since: Option<u64>,
}

#[derive(Subcommand)]
pub enum CertCmd {
    /// Upload a certificate chain (PEM, leaf first) and its private key,
    /// or (--ca) CA certificates that listeners verify clients with.
    Create {
        /// The chain's PEM file.
        #[arg(long, required_unless_present = "ca", requires = "key")]
        cert: Option<PathBuf>,
        /// The private key's PEM file (never shown again).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// A PEM file of CA certificates (1 to 100, no key): a CA
        /// certificate for `weir listener ... --client-ca`.
        #[arg(long, conflicts_with_all = ["cert", "key"])]
        ca: Option<PathBuf>,
        #[arg(long, default_value = "")]
        name: String,
        /// The project (the operator must name one).
        #[arg(long)]
        project: Option<String>,
    },
    /// List certificates.
    List,
    /// Show a certificate (without its key).
    Show { id: String },
    /// Delete a certificate and its key.
    Delete { id: String },
}

#[derive(Subcommand)]
pub enum AclCmd {
    /// Create an access control list.
    Create {
        #[arg(long)]
        name: String,
        /// ipv4 (default) or ipv6.
        #[arg(long)]
        ip_version: Option<String>,
        /// The project (the operator must name one).
        #[arg(long)]
        project: Option<String>,
    },
    /// List access control lists.
    List,
    /// Show a list with its entries and the listeners naming it.
    Show { id: String },
    /// Delete a list no listener names.
    Delete { id: String },
    /// Rename a list.
    Update {
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Add a network (or an address) to a list; listeners naming it apply
    /// it to their next connection.
    AddEntry {
        id: String,
        cidr: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Remove a network from a list.
    RemoveEntry { id: String, cidr: String },
}

#[derive(Subcommand)]
pub enum L7PolicyCmd {
    /// Create an L7 policy on an HTTP listener.
    Create {
        #[arg(long)]
        listener: String,
        /// reject, redirect-to-pool, redirect-to-url or redirect-prefix.
        #[arg(long)]
        action: String,
        /// The pool of redirect-to-pool (a server group of the same load
        /// balancer).
        #[arg(long)]
        pool: Option<String>,
        /// The URL of redirect-to-url (not `--url`: that names the API).
        #[arg(long)]
        redirect_url: Option<String>,
        /// The prefix of redirect-prefix (the request's path and query
        /// are appended).
        #[arg(long)]
        prefix: Option<String>,
        /// 301, 302 (default), 303, 307 or 308, for redirects.
        #[arg(long)]
        code: Option<u16>,
        /// 1-based; inserting shifts the others. Default: last.
        #[arg(long)]
        position: Option<u64>,
        #[arg(long, default_value = "")]
        name: String,
        /// A rule `TYPE:COMPARE[:KEY]=VALUE` (`path:starts-with=/api`,
        /// `header:equal-to:X-Env=prod`), `!` first to invert; repeat
        /// for several (all must match).
        #[arg(long = "rule")]
        rules: Vec<String>,
    },
    /// List a listener's L7 policies by position.
    List {
        #[arg(long)]
        listener: String,
    },
    /// Show an L7 policy with its rules.
    Show { id: String },
    /// Delete an L7 policy with its rules.
    Delete { id: String },
    /// Change an L7 policy; what is not given stays.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// reject, redirect-to-pool, redirect-to-url or redirect-prefix.
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        pool: Option<String>,
        #[arg(long)]
        redirect_url: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        code: Option<u16>,
        /// 1-based; moving shifts the others.
        #[arg(long)]
        position: Option<u64>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    /// Add a rule to a policy: `[!]TYPE:COMPARE[:KEY]=VALUE`, as `--rule`
    /// of create.
    RuleAdd { id: String, rule: String },
    /// Remove a rule from a policy.
    RuleRemove { id: String, rule_id: String },
    /// Change a rule in place: a new match `[!]TYPE:COMPARE[:KEY]=VALUE`
    /// (replacing the whole match, as `rule-add` writes it), or switch it
    /// on or off.
    RuleUpdate {
        id: String,
        rule_id: String,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// Directory for the database and the admin token.
    #[arg(long, env = "WEIR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the API.
    #[arg(long, env = "WEIR_LISTEN")]
    pub listen: Option<String>,
    /// TOML settings file (see docs/config.md).
    #[arg(long, env = "WEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// A PostgreSQL registry shared with other nodes
    /// (`postgres://user:password@host/database`) instead of SQLite in the
    /// data directory.
    #[arg(long, env = "WEIR_STORE_URL")]
    pub store_url: Option<String>,
    /// Take the place of the `weir serve` running on this data directory
    /// without dropping a connection: its listening sockets are passed
    /// over `takeover.sock`, then it drains and exits (README, "Upgrade
    /// without downtime"). SIGUSR2 to a running server does the same with
    /// its own binary.
    #[arg(long)]
    pub takeover: bool,
}

#[derive(Subcommand)]
pub enum ProjectCmd {
    /// Create a project; prints its token and access key (shown only once).
    Create { name: String },
    /// List projects.
    List,
    /// Credentials of a project beyond its first (admin): each a bearer
    /// token and an access key acting with a role.
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// A project's quotas (setting them is the operator's): what it may
    /// hold in every dialect.
    #[command(subcommand)]
    Quota(QuotaCmd),
}

#[derive(Subcommand)]
pub enum QuotaCmd {
    /// Every project with quotas set (the operator); a project: its own.
    List,
    /// The quotas in force and what was set.
    Show { project: String },
    /// Sets quotas: each a count, -1 for unlimited or `default`; the
    /// others are left.
    Set {
        project: String,
        #[arg(long)]
        load_balancer: Option<String>,
        #[arg(long)]
        listener: Option<String>,
        #[arg(long)]
        pool: Option<String>,
        #[arg(long)]
        health_monitor: Option<String>,
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        l7policy: Option<String>,
        #[arg(long)]
        l7rule: Option<String>,
    },
    /// Returns every quota to the default.
    Reset { project: String },
}

#[derive(Subcommand)]
pub enum CredentialCmd {
    /// Create a credential; prints its token and access key (shown only once).
    Create {
        /// The project it belongs to.
        #[arg(long)]
        project: String,
        /// reader (reads its project), member (reads and writes it),
        /// observer (reads every project) or admin (the operator).
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List a project's credentials (no secrets).
    List {
        #[arg(long)]
        project: String,
    },
    /// Revoke a credential: its token, access key and Keystone tokens stop.
    Revoke {
        #[arg(long)]
        project: String,
        /// The credential's access key id.
        access_key_id: String,
    },
}

#[derive(Subcommand)]
pub enum VpcCmd {
    /// Create a VPC for a project (admin).
    Create {
        #[arg(long)]
        project: String,
        #[arg(long)]
        cidr: String,
        #[arg(long, default_value = "")]
        name: String,
        /// The VPC has a border gateway (needed for bare-metal backends).
        #[arg(long)]
        border_gateway: bool,
        /// Every project may use it (an OpenStack shared network).
        #[arg(long)]
        shared: bool,
    },
    /// List VPCs.
    List,
}

#[derive(Subcommand)]
pub enum SubnetCmd {
    /// Create a subnet in a VPC (admin).
    Create {
        #[arg(long)]
        vpc: String,
        #[arg(long)]
        cidr: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List subnets.
    List,
}

#[derive(Subcommand)]
pub enum InstanceCmd {
    /// Create an instance (admin).
    Create {
        #[arg(long)]
        project: String,
        #[arg(long)]
        subnet: String,
        /// Private IP inside the subnet.
        #[arg(long)]
        ip: String,
        /// vm or bm.
        #[arg(long = "type", default_value = "vm")]
        instance_type: String,
        /// running or stopped.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List instances.
    List,
    /// Show an instance.
    Show { id: String },
    /// Change an instance's state or name (admin).
    Update {
        id: String,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum LbCmd {
    /// Create a load balancer in a subnet.
    Create {
        #[arg(long)]
        subnet: String,
        #[arg(long, default_value = "")]
        name: String,
        /// VIP; allocated from network.vip_ranges when absent.
        #[arg(long)]
        vip: Option<String>,
        /// How its VIP is held across nodes: none, failover or anycast
        /// (the operator's, among cluster.vip_modes); absent: the
        /// deployment's cluster.vip_mode.
        #[arg(long)]
        vip_mode: Option<String>,
    },
    /// List load balancers.
    List,
    /// Show a load balancer.
    Show { id: String },
    /// Traffic totals of a load balancer (the sum over its listeners).
    Stats { id: String },
    /// Rename a load balancer, change its description or its VIP mode.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// none, failover, anycast, or inherit (back to cluster.vip_mode).
        #[arg(long)]
        vip_mode: Option<String>,
    },
    /// Stop a load balancer.
    Stop { id: String },
    /// Start a load balancer.
    Start { id: String },
    /// Delete a load balancer.
    Delete {
        id: String,
        /// Also delete its listeners, pools and backends.
        #[arg(long)]
        cascade: bool,
    },
}

#[derive(Subcommand)]
pub enum ListenerCmd {
    /// Create a listener on a load balancer.
    Create {
        #[arg(long)]
        lb: String,
        /// tcp, udp, http, https (TLS terminated by Weir; give --cert),
        /// tls-passthrough, or prometheus (serves this load balancer's
        /// metrics on GET /metrics; forwards nothing).
        #[arg(long)]
        protocol: String,
        /// A single port.
        #[arg(long, conflicts_with_all = ["port_range", "all_ports"])]
        port: Option<u32>,
        /// A port range START-END; repeat for several.
        #[arg(long)]
        port_range: Vec<String>,
        /// Listen on every port.
        #[arg(long)]
        all_ports: bool,
        /// proxy, nat or dr.
        #[arg(long)]
        mode: Option<String>,
        /// wrr, lc, sh (source address hash) or sh-port (address and port).
        #[arg(long)]
        scheduler: Option<String>,
        /// none, v1 or v2: a PROXY protocol header towards the backends
        /// (tcp listeners).
        #[arg(long)]
        proxy_protocol: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
        /// A client network (or address) that may connect; repeat for
        /// several. Without any, every client may.
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// An access control list to apply (with --acl-mode).
        #[arg(long, requires = "acl_mode")]
        acl: Option<String>,
        /// allow (only the list's networks) or deny (all but them).
        #[arg(long, requires = "acl")]
        acl_mode: Option<String>,
        /// A certificate id an https listener serves; repeat for several
        /// (the first is the default, the others are chosen by SNI).
        #[arg(long = "cert")]
        cert: Vec<String>,
        /// An http listener that answers every request with a 301 to the
        /// https listener of the same load balancer on this port.
        #[arg(long)]
        redirect_https_port: Option<u32>,
        #[command(flatten)]
        client_auth: crate::cli_client_auth::ClientAuthArgs,
    },
    /// Change a listener; what is not given stays.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Forward to this server group of the load balancer (see `weir
        /// pool create`) instead of the listener's own pool.
        #[arg(long, conflicts_with = "own_pool")]
        group_pool: Option<String>,
        /// Forward to the listener's own pool again.
        #[arg(long)]
        own_pool: bool,
        /// Replace the allow list with these networks; repeat for several.
        #[arg(long = "allow", conflicts_with = "allow_any")]
        allow: Vec<String>,
        /// Let every client connect (clears the allow list).
        #[arg(long)]
        allow_any: bool,
        /// Apply this access control list (with --acl-mode).
        #[arg(long, requires = "acl_mode", conflicts_with = "no_acl")]
        acl: Option<String>,
        /// allow (only the list's networks) or deny (all but them).
        #[arg(long, requires = "acl")]
        acl_mode: Option<String>,
        /// Remove the listener's access control list.
        #[arg(long)]
        no_acl: bool,
        /// How long a client may stay silent, in ms.
        #[arg(long)]
        idle_timeout_ms: Option<u64>,
        /// How long a backend may take to accept, in ms.
        #[arg(long)]
        connect_timeout_ms: Option<u64>,
        /// How long a backend may stay silent, in ms.
        #[arg(long)]
        backend_timeout_ms: Option<u64>,
        /// Connections served at once.
        #[arg(long)]
        max_connections: Option<u64>,
        /// Stop serving the listener.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Serve it again.
        #[arg(long)]
        enable: bool,
        /// Replace an https listener's certificates (rotation: new
        /// handshakes get them); repeat for several, the default first.
        #[arg(long = "cert")]
        cert: Vec<String>,
        /// Redirect every request to the https listener on this port.
        #[arg(long, conflicts_with = "no_redirect")]
        redirect_https_port: Option<u32>,
        /// Forward again instead of redirecting.
        #[arg(long)]
        no_redirect: bool,
        #[command(flatten)]
        client_auth: crate::cli_client_auth::ClientAuthArgs,
    },
    /// Show a listener.
    Show { id: String },
    /// List the listeners of a load balancer.
    List {
        #[arg(long)]
        lb: String,
    },
    /// Delete a listener with its own pool and that pool's backends
    /// (their connections drain).
    Delete { id: String },
    /// Traffic totals of a listener.
    Stats { id: String },
}

/// Which pool a backend command addresses.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct PoolTarget {
    /// A listener (its default pool).
    #[arg(long)]
    pub listener: Option<String>,
    /// A pool.
    #[arg(long)]
    pub pool: Option<String>,
    /// A load balancer's LB-wide pool.
    #[arg(long)]
    pub lb: Option<String>,
}

#[derive(Subcommand)]
pub enum BackendCmd {
    /// Register backends: repeat --instance and --address for several, or
    /// pass a JSON file with a "backends" array for thousands.
    Register {
        #[command(flatten)]
        target: PoolTarget,
        /// An instance id; repeatable.
        #[arg(long)]
        instance: Vec<String>,
        /// An address, optionally ADDRESS:PORT (IPv6: [ADDR]:PORT); repeatable.
        #[arg(long)]
        address: Vec<String>,
        /// JSON file: {"backends": [...]} as in the API.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        port: Option<i64>,
        #[arg(long)]
        weight: Option<i64>,
        /// Register as backup servers.
        #[arg(long)]
        backup: bool,
        /// Register disabled.
        #[arg(long)]
        disabled: bool,
        #[arg(long)]
        name: Option<String>,
        /// Makes retries safe: the same token and request register once.
        #[arg(long)]
        client_token: Option<String>,
        /// Skip duplicates inside the request instead of refusing it.
        #[arg(long)]
        first_wins: bool,
    },
    /// List the backends of a pool or listener.
    List {
        #[command(flatten)]
        target: PoolTarget,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        marker: Option<String>,
    },
    /// Show a backend.
    Show { id: String },
    /// Change a backend.
    Update {
        id: String,
        #[arg(long)]
        weight: Option<i64>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        #[arg(long)]
        backup: Option<bool>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Deregister a backend.
    Deregister { id: String },
}

// Parsed once per process: the size of its largest variant costs nothing.
