//! Operator settings that domain rules depend on. Parsed and defaulted by
//! the binary; the core only reads them.

use ipnet::IpNet;

/// Network rules: which addresses may be backends and where VIPs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Backend addresses must lie in one of these. Default: RFC 1918,
    /// 100.64.0.0/10 (CGNAT, used by clouds for VPCs) and fc00::/7 (ULA).
    /// Loopback is allowed only when an operator adds it. This is the outer
    /// bound; a bare address must also be in the caller's own network.
    pub backend_ranges: Vec<IpNet>,
    /// Where a bare backend address may lie outside the load balancer's
    /// VPC: networks the operator reaches on every tenant's behalf (bare
    /// metal behind a border gateway, a loopback test host). Empty by
    /// default: a bare address must then be inside the caller's VPC.
    pub external_backend_ranges: Vec<IpNet>,
    /// Where VIPs are allocated when a load balancer names none. The default
    /// 127.0.1.0/24 binds on any Linux host without setup.
    pub vip_ranges: Vec<IpNet>,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        let parse = |s: &str| s.parse::<IpNet>().expect("literal CIDR");
        Self {
            backend_ranges: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "fc00::/7",
            ]
            .into_iter()
            .map(parse)
            .collect(),
            external_backend_ranges: Vec::new(),
            vip_ranges: vec![parse("127.0.1.0/24")],
        }
    }
}

/// Size limits of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Backends in one pool.
    pub backends_per_pool: usize,
    /// Backends in one registration request (a dialect may narrow it).
    pub backends_per_request: usize,
    /// Load balancers one project may hold (each takes a VIP).
    pub load_balancers_per_project: usize,
    /// Listeners on one load balancer (each binds sockets).
    pub listeners_per_load_balancer: usize,
    /// Server groups (Octavia pools) on one load balancer (each may run
    /// health checks).
    pub server_groups_per_load_balancer: usize,
    /// TLS certificates one project may hold (each holds a private key).
    pub certificates_per_project: usize,
    /// Key-manager secrets one project may hold.
    pub secrets_per_project: usize,
    /// Key-manager containers one project may hold.
    pub containers_per_project: usize,
    /// Largest secret payload, in bytes (Barbican's default
    /// `max_allowed_secret_in_bytes`, 10,000).
    pub secret_max_bytes: usize,
    /// Access control lists one project may hold (Aliyun's default, 50).
    pub acls_per_project: usize,
    /// Entries of one access control list (Aliyun's, 300); the data
    /// plane's match costs a binary search whatever the count.
    pub acl_entries_per_acl: usize,
    /// Networks (VPCs) and subnets one project may hold when it makes
    /// one itself (Neutron's default quotas, 100 each); the operator's
    /// own creates are not held to them.
    pub networks_per_project: usize,
    pub subnets_per_project: usize,
    /// The default per-project quotas (`quotas.*`); unset: load balancers
    /// as [`Self::load_balancers_per_project`], the rest unlimited
    /// ([`crate::quota::defaults`]).
    pub project_quotas: crate::quota::Quotas,
}

impl Default for Limits {
    /// A tenant gets room to work, not to exhaust the VIP ranges, the
    /// sockets or the checker (AWS allows 50 load balancers and 50
    /// listeners each; Weir a little more of the first).
    fn default() -> Self {
        Self {
            backends_per_pool: 1000,
            backends_per_request: 5000,
            load_balancers_per_project: 100,
            listeners_per_load_balancer: 50,
            server_groups_per_load_balancer: 100,
            certificates_per_project: 100,
            secrets_per_project: 500,
            containers_per_project: 500,
            secret_max_bytes: 10_000,
            acls_per_project: 50,
            acl_entries_per_acl: 300,
            networks_per_project: 100,
            subnets_per_project: 100,
            project_quotas: crate::quota::Quotas::default(),
        }
    }
}

impl Limits {
    /// Refuses one more of `kind` when `existing` already reach `limit`.
    pub fn room_for_one(
        kind: crate::error::QuotaKind,
        existing: usize,
        limit: usize,
    ) -> Result<(), crate::Error> {
        if existing >= limit {
            return Err(crate::Error::QuotaExceeded {
                kind,
                limit,
                requested: existing + 1,
            });
        }
        Ok(())
    }
}

/// The region every deployment answers to unless configured otherwise.
pub const DEFAULT_REGION: &str = "local";

/// What this deployment's data plane can do, found out once at startup
/// by the composition root (never by an adapter) and read by the rules
/// that depend on it. The default claims nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The data plane can send ICMP echo requests (an unprivileged ping
    /// socket admitted by `net.ipv4.ping_group_range`, or a raw socket
    /// with CAP_NET_RAW): PING checks need it
    /// ([`crate::pool::plan_health_check`]).
    pub icmp_echo: bool,
}

/// Everything the rules need from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub network: NetworkSettings,
    pub limits: Limits,
    /// Region names the dialects answer to; a request naming another gets
    /// that dialect's invalid-region error. The first is the default.
    pub regions: Vec<String>,
    /// What the data plane was found able to do.
    pub capabilities: Capabilities,
    /// Node membership and VIP ownership (`[cluster]`).
    pub cluster: crate::cluster::ClusterSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            network: NetworkSettings::default(),
            limits: Limits::default(),
            regions: vec![DEFAULT_REGION.to_owned()],
            capabilities: Capabilities::default(),
            cluster: crate::cluster::ClusterSettings::default(),
        }
    }
}

impl Settings {
    /// Whether `region` is one this deployment answers to.
    pub fn knows_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }

    /// The default region (the first configured).
    pub fn default_region(&self) -> &str {
        self.regions.first().map_or(DEFAULT_REGION, String::as_str)
    }
}
