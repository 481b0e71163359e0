//! Listeners: their ports, the headers they add for backends, and the
//! domains an HTTPS listener serves with a chosen certificate.

use super::*;

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
