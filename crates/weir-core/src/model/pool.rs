//! Pools (server groups) and their active health checks.

use super::*;

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
