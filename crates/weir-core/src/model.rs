//! The domain model shared by every dialect: one registry, five faces.
//!
//! Plain data with validated field types; the rules that relate entities to
//! each other live in the planner modules.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::ids::*;
use crate::Timestamp;

/// Parses the lowercase wire names of the small enums below.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            /// Every accepted wire name, for error messages and docs.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            /// The canonical wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)* _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// What kind of machine an instance is; bare metal has extra rules on
    /// Zenlayer ZLB (registered by address, behind a border gateway).
    InstanceType { Vm = "vm", Bm = "bm" }
);
wire_enum!(
    /// Power state of an instance; Aliyun only adds running servers.
    InstanceState { Running = "running", Stopped = "stopped" }
);
wire_enum!(
    /// Load balancer lifecycle, Zenlayer's names.
    LbStatus { Creating = "CREATING", Running = "RUNNING", Stopped = "STOPPED", Error = "ERROR" }
);
wire_enum!(
    /// Listener protocol.
    Protocol {
        Tcp = "tcp",
        Udp = "udp",
        Http = "http",
        /// TLS passed through untouched to backends that terminate it
        /// (Octavia's `HTTPS`): served as TCP, kept as said so that pools
        /// and views know what the bytes are. Terminating TLS is another
        /// protocol, [`Protocol::Https`].
        TlsPassthrough = "tls-passthrough",
        /// TLS terminated by Weir with the listener's certificates, then
        /// HTTP/1.1 served by the same engine as `http`.
        Https = "https",
        /// Serves the Prometheus text exposition of its own load
        /// balancer's listeners, pools and members on `GET /metrics`
        /// (Octavia API 2.25); it forwards nothing, so it has no pools,
        /// L7 policies or added headers ([`Protocol::forwards`]).
        Prometheus = "prometheus"
    }
);

impl Protocol {
    /// Whether the listener takes TCP connections (its ports collide with
    /// every other TCP-borne listener's on the same VIP).
    pub fn is_tcp(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// Whether Weir relays the listener's bytes untouched (TCP and TLS
    /// passthrough), so a PROXY header may go first.
    pub fn is_stream_relay(self) -> bool {
        matches!(self, Self::Tcp | Self::TlsPassthrough)
    }

    /// Whether Weir reads the requests (HTTP, and HTTPS once TLS is
    /// terminated): forwarded headers, cookie persistence and HTTP pools
    /// apply.
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }

    /// Whether the listener forwards to backends at all: a `prometheus`
    /// listener answers itself, so pools, members and L7 policies are
    /// refused on it.
    pub fn forwards(self) -> bool {
        !matches!(self, Self::Prometheus)
    }
}
wire_enum!(
    /// How packets reach backends. DR and NAT keep the client's port layout,
    /// so backends get no port of their own on DR listeners.
    ForwardingMode { Proxy = "proxy", Nat = "nat", Dr = "dr" }
);
wire_enum!(
    /// Whether TCP backends get a PROXY protocol header first, so they see
    /// the client's address.
    ProxyProtocol { None = "none", V1 = "v1", V2 = "v2" }
);
wire_enum!(
    /// What a server group's backends speak, when the group says (Octavia's
    /// pool `protocol`): it decides which listeners may forward to the
    /// group and whether they send a PROXY header first.
    PoolProtocol {
        Tcp = "tcp",
        Udp = "udp",
        Http = "http",
        /// TLS the backends terminate; passed through as TCP.
        Https = "https",
        /// TCP after a PROXY protocol v1 header.
        Proxy = "proxy",
        /// TCP after a PROXY protocol v2 header.
        ProxyV2 = "proxyv2"
    }
);

impl PoolProtocol {
    /// Whether a listener of `listener` protocol can forward to a group
    /// of this protocol (Octavia's listener/pool compatibility table, less
    /// what Weir cannot do: an HTTP listener sends no PROXY header).
    pub fn serves(self, listener: Protocol) -> bool {
        match listener {
            Protocol::Tcp => !matches!(self, Self::Udp),
            Protocol::TlsPassthrough => {
                matches!(self, Self::Https | Self::Tcp | Self::Proxy | Self::ProxyV2)
            }
            Protocol::Udp => self == Self::Udp,
            Protocol::Http | Protocol::Https => self == Self::Http,
            Protocol::Prometheus => false,
        }
    }

    /// The PROXY header a listener sends the group's backends first.
    pub fn proxy_header(self) -> ProxyProtocol {
        match self {
            Self::Proxy => ProxyProtocol::V1,
            Self::ProxyV2 => ProxyProtocol::V2,
            _ => ProxyProtocol::None,
        }
    }
}

wire_enum!(
    /// The kinds of [`Persistence`], by wire name.
    PersistenceKind {
        SourceIp = "source-ip",
        HttpCookie = "http-cookie",
        AppCookie = "app-cookie"
    }
);

/// The cookie an HTTP listener inserts for [`Persistence::HttpCookie`]:
/// its value is an opaque token of the backend (a hash of the pool and
/// backend ids), never its address.
pub const STICKY_COOKIE: &str = "WEIRSRV";

/// Longest application cookie name (Octavia's column is 255 wide).
pub const MAX_COOKIE_NAME: usize = 255;

/// How a server group keeps a client on one backend (Octavia's
/// `session_persistence`). Source-IP persistence is consistent hashing
/// of the client address (the `sh` scheduler, Maglev), whatever the
/// group's algorithm; the cookie kinds are HTTP only (the pool's protocol
/// is HTTP, see [`crate::pool::check_persistence`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Persistence {
    SourceIp,
    /// Weir inserts [`STICKY_COOKIE`] naming the backend that answered;
    /// a request carrying it goes back there while that backend is
    /// eligible.
    HttpCookie,
    /// Requests carrying the application's cookie of this name are
    /// consistently hashed (Maglev) on its value.
    AppCookie {
        cookie_name: String,
    },
}

impl Persistence {
    pub fn kind(&self) -> PersistenceKind {
        match self {
            Self::SourceIp => PersistenceKind::SourceIp,
            Self::HttpCookie => PersistenceKind::HttpCookie,
            Self::AppCookie { .. } => PersistenceKind::AppCookie,
        }
    }

    /// Whether the HTTP engine honours it (by cookie).
    pub fn cookie_kind(&self) -> bool {
        !matches!(self, Self::SourceIp)
    }

    /// The application cookie's name, for [`Self::AppCookie`] only.
    pub fn cookie_name(&self) -> Option<&str> {
        match self {
            Self::AppCookie { cookie_name } => Some(cookie_name),
            _ => None,
        }
    }

    /// The stored form (one TEXT column): the kind's wire name, and for
    /// an application cookie `app-cookie:NAME` (a cookie name is a token,
    /// which never holds a colon).
    pub fn to_stored(&self) -> String {
        match self {
            Self::AppCookie { cookie_name } => format!("app-cookie:{cookie_name}"),
            other => other.kind().as_str().to_owned(),
        }
    }

    /// Reads [`Self::to_stored`]'s form back; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text.split_once(':') {
            Some(("app-cookie", name)) if !name.is_empty() => Some(Self::AppCookie {
                cookie_name: name.to_owned(),
            }),
            Some(_) => None,
            None => match text.parse().ok()? {
                PersistenceKind::SourceIp => Some(Self::SourceIp),
                PersistenceKind::HttpCookie => Some(Self::HttpCookie),
                PersistenceKind::AppCookie => None,
            },
        }
    }
}

wire_enum!(
    /// Backend selection algorithm: weighted round robin, least connections,
    /// source hashing.
    Scheduler {
        Wrr = "wrr",
        Lc = "lc",
        /// Consistent hashing (Maglev) of the client address: every
        /// connection of one client goes to one backend.
        Sh = "sh",
        /// Consistent hashing of the client address and port (Octavia's
        /// SOURCE_IP_PORT): one connection or UDP flow stays on one
        /// backend, a client's connections spread.
        ShPort = "sh-port"
    }
);

impl Scheduler {
    /// Whether it picks by hashing the client (the pool needs a Maglev
    /// table).
    pub fn hashes(self) -> bool {
        matches!(self, Self::Sh | Self::ShPort)
    }
}

/// A project (tenant). Credentials are handled by the control layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub access_key_id: String,
    pub created_at: Timestamp,
}

wire_enum!(
    /// What a credential may do. Octavia's default roles, folded into four:
    /// a project's `reader` (Octavia's `load-balancer_observer`, Keystone's
    /// `reader`) reads its project, a `member` (the default; Octavia's
    /// `load-balancer_member`) reads and writes it, an `observer`
    /// (`load-balancer_global_observer`) reads every project and writes
    /// nothing, an `admin` (`admin`, `load-balancer_admin`) is the operator.
    Role { Reader = "reader", Member = "member", Observer = "observer", Admin = "admin" }
);

impl Role {
    /// The role a set of Keystone role names grants: the strongest one
    /// named, by Octavia's default policy (its own `load-balancer_*` roles
    /// and Keystone's default `reader`/`member`/`admin`). `None`: no role
    /// that reaches the load-balancer service.
    pub fn from_keystone<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        names
            .into_iter()
            .filter_map(|name| match name {
                "admin" | "load-balancer_admin" => Some(Role::Admin),
                "load-balancer_global_observer" => Some(Role::Observer),
                "member" | "load-balancer_member" => Some(Role::Member),
                "reader" | "load-balancer_observer" => Some(Role::Reader),
                _ => None,
            })
            .max_by_key(|role| role.rank())
    }

    /// The Keystone role names a token of this role carries, so that
    /// clients reading the token see what Octavia's policy would.
    pub fn keystone_names(self) -> &'static [&'static str] {
        match self {
            Role::Reader => &["reader", "load-balancer_observer"],
            Role::Member => &["member", "reader", "load-balancer_member"],
            Role::Observer => &["reader", "load-balancer_global_observer"],
            Role::Admin => &["admin", "member", "reader", "load-balancer_admin"],
        }
    }

    /// Whether the role writes (creates, changes, deletes) anything.
    pub fn writes(self) -> bool {
        matches!(self, Role::Member | Role::Admin)
    }

    /// Order of strength, for a token naming several roles: writing beats
    /// reading, every project beats one.
    fn rank(self) -> u8 {
        match self {
            Role::Reader => 0,
            Role::Observer => 1,
            Role::Member => 2,
            Role::Admin => 3,
        }
    }
}

/// A TLS certificate chain of a project with its private key, as the
/// views show it: the chain itself and the sealed key live in the store
/// beside it, never in the model (nothing can leak what it does not hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: CertificateId,
    pub project_id: ProjectId,
    pub name: String,
    /// The leaf's subject (RFC 4514).
    pub subject: String,
    /// The leaf's DNS and IP subject alternative names.
    pub names: Vec<String>,
    /// SHA-256 of the leaf, lowercase hex.
    pub fingerprint_sha256: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// `RSA-2048`, `ECDSA-P256`, …
    pub key_type: String,
    /// Certificates in the chain, the leaf included.
    pub chain_length: u32,
    pub created_at: Timestamp,
}

/// An extra credential of a project (besides the token and access key it
/// was created with, which are `member`): a bearer token and an access
/// key that act with `role`. Its secrets are shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id; also the credential's id.
    pub access_key_id: String,
    pub project_id: ProjectId,
    pub role: Role,
    pub name: String,
    pub created_at: Timestamp,
}

/// A VPC of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: VpcId,
    pub project_id: ProjectId,
    pub name: String,
    /// Its address space, or `None` for a network a project made through
    /// Neutron, which names none: its subnets, of either IP version, are
    /// then its address space.
    pub cidr: Option<IpNet>,
    pub has_border_gateway: bool,
    /// Every project may put load balancers on it and register addresses
    /// in it (OpenStack's `shared` network, an operator's provider
    /// network); it still belongs to `project_id`, and what others build
    /// on it belongs to them. Set by the operator when it is created.
    pub shared: bool,
    pub created_at: Timestamp,
}

impl Vpc {
    /// Whether `project` may use the VPC: its own, or a shared one.
    pub fn usable_by(&self, project: &ProjectId) -> bool {
        self.shared || &self.project_id == project
    }
}

/// A subnet of one IP version; its CIDR lies inside its VPC's, when the
/// VPC has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: SubnetId,
    pub project_id: ProjectId,
    pub vpc_id: VpcId,
    pub name: String,
    pub cidr: IpNet,
    /// Its VPC's [`Vpc::shared`] (fixed when the VPC is created).
    pub shared: bool,
    /// Its addresses are the project's by the operator's grant: it lies
    /// inside a VPC CIDR the operator gave. A subnet of a network the
    /// project made itself is only what the project claims, so a member
    /// address in it must still be granted otherwise
    /// (`network.external_backend_ranges`): a claimed subnet is never a
    /// way to reach another project's addresses.
    pub granted: bool,
    pub created_at: Timestamp,
}

impl Subnet {
    /// Whether `project` may use the subnet: its own, or a shared one.
    pub fn usable_by(&self, project: &ProjectId) -> bool {
        self.shared || &self.project_id == project
    }
}

/// A VM or bare-metal server of the inventory, with its private address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub project_id: ProjectId,
    pub subnet_id: SubnetId,
    /// Denormalised from the subnet so VPC membership needs no join.
    pub vpc_id: VpcId,
    pub name: String,
    pub instance_type: InstanceType,
    pub state: InstanceState,
    pub private_ip: IpAddr,
    pub created_at: Timestamp,
}

/// A load balancer: a VIP in a subnet, with listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub id: LoadBalancerId,
    pub project_id: ProjectId,
    pub name: String,
    pub subnet_id: SubnetId,
    pub vpc_id: VpcId,
    pub vip: IpAddr,
    pub status: LbStatus,
    /// The LB-wide pool of Aliyun's model (its "default server group").
    pub default_pool_id: PoolId,
    /// Free text for people (Octavia `description`), at most 255 characters.
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Labels for people and their tools ([`crate::tags`]).
    pub tags: Vec<String>,
    /// The flavor it was created with (Octavia's `flavor_id`), kept and
    /// shown; it holds the flavor against deletion.
    pub flavor_id: Option<FlavorId>,
}

/// An inclusive range of ports, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    /// Whether two ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// Number of ports in the range.
    pub fn len(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// Ranges are never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The ports a listener accepts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenerPorts {
    /// One port; backends may carry their own port.
    Single(u16),
    /// Sorted, non-overlapping ranges; backends get the client's port.
    Ranges(Vec<PortRange>),
    /// Every port; backends get the client's port.
    All,
}

impl ListenerPorts {
    /// The ranges this spec covers, for overlap checks between listeners.
    pub fn ranges(&self) -> Vec<PortRange> {
        match self {
            Self::Single(p) => vec![PortRange { start: *p, end: *p }],
            Self::Ranges(r) => r.clone(),
            Self::All => vec![PortRange {
                start: 1,
                end: u16::MAX,
            }],
        }
    }

    /// Whether a backend port is meaningful: only on a single-port listener
    /// (ranges and all-ports forward to the port the client used).
    pub fn is_single(&self) -> bool {
        match self {
            Self::Single(_) => true,
            Self::Ranges(r) => r.len() == 1 && r[0].start == r[0].end,
            Self::All => false,
        }
    }

    /// The compact text form used by the store and the CLI:
    /// `80`, `1000-2000,3000`, `all`.
    pub fn to_spec(&self) -> String {
        match self {
            Self::Single(p) => p.to_string(),
            Self::All => "all".to_owned(),
            Self::Ranges(r) => r
                .iter()
                .map(|r| {
                    if r.start == r.end {
                        r.start.to_string()
                    } else {
                        format!("{}-{}", r.start, r.end)
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Parses [`Self::to_spec`]'s form back.
    pub fn from_spec(spec: &str) -> Option<Self> {
        if spec == "all" {
            return Some(Self::All);
        }
        if let Ok(p) = spec.parse::<u16>() {
            return (p != 0).then_some(Self::Single(p));
        }
        let mut ranges = Vec::new();
        for part in spec.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (start, end) = (a.parse().ok()?, b.parse().ok()?);
            if start == 0 || start > end {
                return None;
            }
            ranges.push(PortRange { start, end });
        }
        Some(Self::Ranges(ranges))
    }
}

/// The headers an HTTP listener adds for its backends (Octavia's
/// `insert_headers`, AWS's `X-Forwarded-*`). Whatever is on or off, what
/// a client sends under these names is dropped: a backend never reads a
/// client's claim as Weir's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardedHeaders {
    /// `X-Forwarded-For`: the client's address.
    pub forwarded_for: bool,
    /// `X-Forwarded-Proto`: the scheme the client used.
    pub forwarded_proto: bool,
    /// `X-Forwarded-Port`: the listener port the client connected to.
    pub forwarded_port: bool,
    /// The client-certificate headers (Octavia's `X-SSL-*`) an HTTPS
    /// listener adds.
    pub client_cert: ClientCertHeaders,
}

impl Default for ForwardedHeaders {
    /// What Weir has always sent: the client's address and scheme.
    fn default() -> Self {
        Self {
            forwarded_for: true,
            forwarded_proto: true,
            forwarded_port: false,
            client_cert: ClientCertHeaders::NONE,
        }
    }
}

/// The client-certificate headers an HTTPS listener adds for its members
/// (Octavia's `X-SSL-*` insert_headers), one bit per
/// [`ClientCertHeaders::NAMES`] entry. Whatever is on, an HTTPS
/// listener drops every `X-SSL-*` field a client sends, so a member never
/// reads a client's claim about its own certificate as Weir's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClientCertHeaders(u8);

impl ClientCertHeaders {
    pub const NONE: Self = Self(0);
    /// Octavia's names, in the order of the bits.
    pub const NAMES: [&'static str; 8] = [
        "X-SSL-Client-Verify",
        "X-SSL-Client-Has-Cert",
        "X-SSL-Client-DN",
        "X-SSL-Client-CN",
        "X-SSL-Issuer",
        "X-SSL-Client-SHA1",
        "X-SSL-Client-Not-Before",
        "X-SSL-Client-Not-After",
    ];

    /// The index of a header name (exact, as Octavia's list has it).
    pub fn index(name: &str) -> Option<usize> {
        Self::NAMES.iter().position(|n| *n == name)
    }

    pub fn has(self, i: usize) -> bool {
        i < 8 && self.0 & (1 << i) != 0
    }

    #[must_use]
    pub fn with(self, i: usize, on: bool) -> Self {
        if i >= 8 {
            return self;
        }
        if on {
            Self(self.0 | (1 << i))
        } else {
            Self(self.0 & !(1 << i))
        }
    }

    pub fn any(self) -> bool {
        self.0 != 0
    }

    /// The names that are on, in order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.has(*i))
            .map(|(_, n)| *n)
    }
}

impl ForwardedHeaders {
    /// The stored form: the names that are on, `for,proto,port` order.
    pub fn to_spec(self) -> String {
        let lower: Vec<String> = self
            .client_cert
            .names()
            .map(str::to_ascii_lowercase)
            .collect();
        [
            (self.forwarded_for, "for"),
            (self.forwarded_proto, "proto"),
            (self.forwarded_port, "port"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .chain(lower.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(",")
    }

    /// Parses [`Self::to_spec`]'s form back.
    pub fn from_spec(spec: &str) -> Option<Self> {
        let mut out = Self {
            forwarded_for: false,
            forwarded_proto: false,
            forwarded_port: false,
            client_cert: ClientCertHeaders::NONE,
        };
        for name in spec.split(',').filter(|n| !n.is_empty()) {
            match name {
                "for" => out.forwarded_for = true,
                "proto" => out.forwarded_proto = true,
                "port" => out.forwarded_port = true,
                other => {
                    let i = ClientCertHeaders::NAMES
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(other))?;
                    out.client_cert = out.client_cert.with(i, true);
                }
            }
        }
        Some(out)
    }
}

/// A domain an HTTPS listener serves with a chosen certificate (Aliyun's
/// domain extension): a client whose SNI names `domain` (exactly, or
/// under a `*.` domain) gets `certificate_id`, whatever names the
/// listener's other certificates claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainExtension {
    /// `<listener id>.de-<uuid>`: the listener is found from the id alone
    /// ([`crate::sni::listener_of_extension`]).
    pub id: String,
    /// Lower case, a DNS name or `*.` and one.
    pub domain: String,
    pub certificate_id: CertificateId,
}

/// A listener: protocol and ports on its load balancer's VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub id: ListenerId,
    pub project_id: ProjectId,
    pub lb_id: LoadBalancerId,
    pub name: String,
    pub protocol: Protocol,
    pub ports: ListenerPorts,
    pub forwarding_mode: ForwardingMode,
    pub scheduler: Scheduler,
    pub proxy_protocol: ProxyProtocol,
    /// The port backends of the load balancer's LB-wide pool are dialled
    /// on for this listener (Aliyun `BackendServerPort`); `None`: the port
    /// the client used.
    pub backend_port: Option<u16>,
    /// The server group this listener forwards to instead of its default
    /// pool and the LB-wide pool (Aliyun `VServerGroupId`).
    pub group_pool_id: Option<PoolId>,
    /// false: configured but not served (a stopped listener).
    pub enabled: bool,
    /// Connections (UDP: flows) served at once; `None`: the data plane's
    /// `dataplane.max_connections`.
    pub max_connections: Option<u32>,
    /// A connection (UDP: flow) silent both ways this long is closed;
    /// `None`: the data plane's default for the protocol. On HTTP, how
    /// long the client may stay silent: between requests and inside a
    /// request body (Octavia `timeout_client_data`).
    pub idle_timeout_ms: Option<u64>,
    /// How long a backend may take to accept a connection; `None`:
    /// `dataplane.connect_timeout_ms` (Octavia `timeout_member_connect`).
    pub connect_timeout_ms: Option<u64>,
    /// How long a backend may stay silent (Octavia `timeout_member_data`):
    /// on HTTP, the wait for a response head and between reads of its
    /// body; a TCP connection (UDP: flow) moves bytes both ways through
    /// both sockets, so it is closed once silent for the shorter of this
    /// and `idle_timeout_ms`, as HAProxy's client and server timeouts do
    /// in TCP mode. `None`: the data plane's default.
    pub backend_timeout_ms: Option<u64>,
    /// The most a new connection's first bytes may be held to inspect
    /// them (Octavia `timeout_tcp_inspect`). Weir picks a backend without
    /// waiting for content, so no connection is ever held; the bound is
    /// kept so that it reads back. `None`: 0.
    pub inspect_timeout_ms: Option<u64>,
    /// Client networks that may connect (Octavia `allowed_cidrs`); empty:
    /// any. Others are refused at accept (UDP: their datagrams dropped)
    /// before a backend is chosen.
    pub allowed_cidrs: Vec<IpNet>,
    /// The project's access control list this listener applies, and how
    /// ([`crate::acl`]); on top of `allowed_cidrs`.
    pub acl: Option<crate::acl::ListenerAcl>,
    /// HTTP and HTTPS listeners only; others keep the default.
    pub forwarded_headers: ForwardedHeaders,
    /// HTTPS listeners only (and at least one there): the certificates
    /// served, the first by default, the others when a client's SNI names
    /// one of theirs. Certificates of the listener's project.
    pub certificate_ids: Vec<CertificateId>,
    /// HTTPS listeners that serve from the key manager instead (Octavia's
    /// TERMINATED_HTTPS): its secrets or containers, the first the
    /// default; an HTTPS listener names these or `certificate_ids`,
    /// never both.
    pub tls_refs: Vec<crate::keymgr::TlsRef>,
    /// HTTPS listeners only: versions, suites and ALPN offered.
    pub tls_options: crate::tls::TlsOptions,
    /// HTTPS listeners only: client-certificate verification
    /// ([`crate::client_auth`]); off by default.
    pub client_auth: crate::client_auth::ClientAuth,
    /// HTTPS listeners only: certificates chosen for a client's SNI by
    /// the domain named here before any certificate's own names (Aliyun's
    /// domain extensions; [`crate::sni`]).
    pub domain_extensions: Vec<DomainExtension>,
    /// HTTP listeners only: every request is answered with a redirect to
    /// `https://<host>:<port><path?query>`, where `port` is an HTTPS
    /// listener of the same load balancer, instead of being forwarded
    /// (Aliyun `ListenerForward` + `ForwardPort`).
    pub redirect_https_port: Option<u16>,
    pub default_pool_id: PoolId,
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Labels for people and their tools ([`crate::tags`]).
    pub tags: Vec<String>,
}

impl Listener {
    /// Why a backend of this listener may not carry a port, if it may not
    /// (Zenlayer INVALID_BACKEND_SERVER_PORT).
    pub fn port_forbidden_reason(&self) -> Option<&'static str> {
        if self.forwarding_mode == ForwardingMode::Dr {
            Some("the listener forwards in DR mode")
        } else if self.ports == ListenerPorts::All {
            Some("the listener listens on all ports")
        } else if !self.ports.is_single() {
            Some("the listener listens on several ports")
        } else {
            None
        }
    }

    /// The port a backend defaults to when it names none.
    pub fn single_port(&self) -> Option<u16> {
        match &self.ports {
            ListenerPorts::Single(p) => Some(*p),
            ListenerPorts::Ranges(r) if self.ports.is_single() => Some(r[0].start),
            _ => None,
        }
    }
}

/// How long a removed or disabled backend keeps its open connections by
/// default (AWS's deregistration delay).
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 300_000;

/// A pool of backends: a listener's default pool or an LB-wide pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: PoolId,
    pub project_id: ProjectId,
    pub lb_id: LoadBalancerId,
    /// The listener this pool is the default pool of; `None` for the
    /// LB-wide pool.
    pub listener_id: Option<ListenerId>,
    pub name: String,
    /// Active checks; without them a backend takes traffic at once.
    pub health_check: Option<HealthCheck>,
    /// How long a drained backend's open connections may live.
    pub drain_timeout_ms: u64,
    /// Slow start: a backend that joins or recovers ramps from a small
    /// share to its full weight over this long; 0 is off.
    pub slow_start_ms: u64,
    /// A server group's own algorithm (Octavia's pool `lb_algorithm`),
    /// used by every listener that forwards to it; `None`: each listener's
    /// scheduler (Aliyun's VServer groups, every structural pool).
    pub scheduler: Option<Scheduler>,
    /// What a server group's backends speak (Octavia's pool `protocol`);
    /// `None`: whatever the listener speaks.
    pub protocol: Option<PoolProtocol>,
    /// Keeps a client on one backend (Octavia `session_persistence`).
    pub persistence: Option<Persistence>,
    /// false: the group serves nothing (Octavia pool `admin_state_up`).
    pub enabled: bool,
    pub description: String,
    /// The name of the pool's health check (Octavia's health monitor).
    pub monitor_name: String,
    /// false: the health check is kept but not run (Octavia's monitor
    /// `admin_state_up: false`); backends then take traffic unchecked.
    pub monitor_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Labels for people and their tools ([`crate::tags`]).
    pub tags: Vec<String>,
    /// The health check's own tags (Octavia's health monitor `tags`).
    pub monitor_tags: Vec<String>,
    /// Members are dialled over TLS ([`crate::upstream_tls`]); `None`:
    /// in the clear.
    pub upstream_tls: Option<crate::upstream_tls::UpstreamTls>,
    /// When every backend fails its checks, serve them all rather than
    /// none ([`crate::fail_open`]); off by default.
    pub fail_open: bool,
}

impl Pool {
    /// A pool with the defaults of every field but its identity.
    pub fn new(
        id: PoolId,
        lb: (&ProjectId, &LoadBalancerId),
        listener_id: Option<ListenerId>,
        name: String,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            project_id: lb.0.clone(),
            lb_id: lb.1.clone(),
            listener_id,
            name,
            health_check: None,
            drain_timeout_ms: DEFAULT_DRAIN_TIMEOUT_MS,
            slow_start_ms: 0,
            scheduler: None,
            protocol: None,
            persistence: None,
            enabled: true,
            description: String::new(),
            monitor_name: String::new(),
            monitor_enabled: true,
            created_at: now,
            updated_at: now,
            tags: Vec::new(),
            monitor_tags: Vec::new(),
            upstream_tls: None,
            fail_open: false,
        }
    }
}

wire_enum!(
    /// The method of an HTTP check (Octavia's `http_method`, less CONNECT,
    /// whose target is a host and port, not a path, and whose success
    /// turns the connection into a tunnel: no check of a path).
    HttpMethod {
        Get = "GET",
        Head = "HEAD",
        Options = "OPTIONS",
        Post = "POST",
        Put = "PUT",
        Patch = "PATCH",
        Delete = "DELETE",
        Trace = "TRACE"
    }
);

impl HttpMethod {
    /// Whether requests of this method normally carry a body: a check
    /// sends none, and says so with `Content-Length: 0`, since without a
    /// length a server may wait for one.
    pub fn expects_body(self) -> bool {
        matches!(self, Self::Post | Self::Put | Self::Patch)
    }
}

wire_enum!(
    /// The HTTP version of a check's request line (Octavia's
    /// `http_version`).
    HttpVersion { Http10 = "1.0", Http11 = "1.1" }
);

/// What an HTTP(S) check sends besides its path. The default is what
/// checks always sent: `GET` over HTTP/1.1 with the member's address as
/// Host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckRequest {
    pub method: HttpMethod,
    pub version: HttpVersion,
    /// The Host header (Octavia's `domain_name`), a DNS name checked by
    /// [`crate::pool::plan_health_check`]. Without one, HTTP/1.1 sends the
    /// member's address and HTTP/1.0 no Host.
    pub host: Option<String>,
}

impl Default for CheckRequest {
    fn default() -> Self {
        Self {
            method: HttpMethod::Get,
            version: HttpVersion::Http11,
            host: None,
        }
    }
}

/// What an active check does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// A TCP connect succeeds.
    Tcp,
    /// An HTTP request for `path` answers with a status in `expected`.
    Http {
        path: String,
        expected: Vec<(u16, u16)>,
        request: CheckRequest,
    },
    /// The HTTP check over TLS (Octavia's HTTPS monitor). The member's
    /// certificate is not verified, as Octavia's amphora does not: the
    /// check asks whether the member serves, not who it is.
    Https {
        path: String,
        expected: Vec<(u16, u16)>,
        request: CheckRequest,
    },
    /// A TLS handshake completes (Octavia's TLS-HELLO), certificate
    /// unverified.
    TlsHello,
    /// A UDP datagram draws no ICMP port-unreachable within the timeout
    /// (Octavia's UDP-CONNECT): a closed port fails, an open or silent
    /// one passes.
    UdpConnect,
    /// UDP-CONNECT with the tenant's datagram, and, when `expect` is set,
    /// up only on that answer ([`crate::udp_check`]: Aliyun's
    /// `HealthCheckReq`/`HealthCheckExp`, UCloud's `RequestMsg`/`ResponseMsg`).
    UdpPayload {
        send: String,
        expect: Option<String>,
    },
    /// An ICMP (ICMPv6) echo request draws the matching echo reply within
    /// the timeout (Octavia's PING, UCloud's `Ping`). Planned only where
    /// the data plane can send ICMP ([`crate::settings::Capabilities`]).
    Ping,
}

/// An active health check of a pool (HAProxy's rise/fall hysteresis).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheck {
    pub kind: CheckKind,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive passes that make a backend healthy.
    pub rise: u32,
    /// Consecutive failures that make it unhealthy.
    pub fall: u32,
    /// Checked instead of the traffic port when set.
    pub port: Option<u16>,
}

/// The port(s) a backend receives traffic on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BackendPorts {
    /// No port of its own: the client's port (DR, ranges, all-ports) or the
    /// listener's port (LB-wide pool).
    Inherit,
    /// One port.
    One(u16),
    /// Several ports (Zenlayer BMC `portList`), sorted and distinct.
    List(Vec<u16>),
}

impl BackendPorts {
    /// The port part of a backend's identity inside its pool: the port, the
    /// first of a list, or 0 when it inherits. Backed by a unique index.
    pub fn key(&self) -> u16 {
        match self {
            Self::Inherit => 0,
            Self::One(p) => *p,
            Self::List(l) => l.first().copied().unwrap_or(0),
        }
    }
}

/// A backend registered in a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub id: BackendId,
    pub project_id: ProjectId,
    pub pool_id: PoolId,
    pub lb_id: LoadBalancerId,
    pub listener_id: Option<ListenerId>,
    /// Set when registered by instance id (or resolved to one by address).
    pub instance_id: Option<InstanceId>,
    /// The subnet the caller registered it with, if any.
    pub subnet_id: Option<SubnetId>,
    pub address: IpAddr,
    /// The caller's spelling of `address` when it is not the canonical
    /// text ([`crate::address::spelling`]); identity and every rule use
    /// `address`.
    pub address_text: Option<String>,
    pub ports: BackendPorts,
    /// 0 means "no new connections".
    pub weight: u16,
    pub enabled: bool,
    /// Used only when no primary backend of the pool is eligible.
    pub backup: bool,
    pub name: String,
    /// Health-checked at this address instead of its own (Octavia's
    /// member `monitor_address`); held to the same address rules.
    pub monitor_address: Option<IpAddr>,
    /// The caller's spelling of `monitor_address`, as for `address_text`.
    pub monitor_address_text: Option<String>,
    /// Health-checked on this port instead of its traffic port (Octavia's
    /// member `monitor_port`).
    pub monitor_port: Option<u16>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Labels for people and their tools ([`crate::tags`]).
    pub tags: Vec<String>,
}

impl Backend {
    /// The address as its caller wrote it (Octavia shows members so).
    pub fn address_as_written(&self) -> String {
        self.address_text
            .clone()
            .unwrap_or_else(|| self.address.to_string())
    }

    /// The health-check address as its caller wrote it.
    pub fn monitor_address_as_written(&self) -> Option<String> {
        self.monitor_address.map(|a| {
            self.monitor_address_text
                .clone()
                .unwrap_or_else(|| a.to_string())
        })
    }
}

/// A resource that belongs to one project (every resource but a project
/// itself, which owns itself).
pub trait Owned {
    fn owner(&self) -> &ProjectId;
}

macro_rules! owned_by_project_id {
    ($($t:ty),*) => {$(
        impl Owned for $t {
            fn owner(&self) -> &ProjectId {
                &self.project_id
            }
        }
    )*};
}

owned_by_project_id!(
    crate::keymgr::Secret,
    crate::keymgr::Container,
    Vpc,
    Subnet,
    Instance,
    LoadBalancer,
    Listener,
    Pool,
    Backend,
    Credential,
    Certificate
);

impl Owned for Project {
    fn owner(&self) -> &ProjectId {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_port_specs_round_trip() {
        for spec in ["80", "all", "1000-2000,3000"] {
            let parsed = ListenerPorts::from_spec(spec).unwrap();
            assert_eq!(parsed.to_spec(), spec);
        }
        assert_eq!(
            ListenerPorts::from_spec("8080-8080").unwrap().to_spec(),
            "8080"
        );
        assert_eq!(ListenerPorts::from_spec("0"), None);
        assert_eq!(ListenerPorts::from_spec("20-10"), None);
        assert_eq!(ListenerPorts::from_spec("x"), None);
    }

    #[test]
    fn single_port_range_counts_as_single() {
        let ports = ListenerPorts::Ranges(vec![PortRange { start: 9, end: 9 }]);
        assert!(ports.is_single());
        assert!(!ListenerPorts::All.is_single());
    }
}
