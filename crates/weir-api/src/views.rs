//! Response bodies of the native API, converted by hand from core types
//! (the core stays free of serde).

use serde::Serialize;
use weir_core::keymgr::KeyRef;
use weir_core::model::*;
use weir_core::status::{BackendLive, ListenerLive};

#[derive(Serialize)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub access_key_id: String,
    pub created_at: String,
}

impl From<&Project> for ProjectView {
    fn from(p: &Project) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            access_key_id: p.access_key_id.clone(),
            created_at: p.created_at.to_string(),
        }
    }
}

/// A listener's client-certificate mode in the native API's words; none
/// when verification is off.
fn client_auth_mode(auth: &weir_core::client_auth::ClientAuth) -> Option<&'static str> {
    use weir_core::client_auth::ClientAuthMode;
    if auth.is_off() {
        return None;
    }
    Some(match auth.mode {
        ClientAuthMode::None => "none",
        ClientAuthMode::Optional => "optional",
        ClientAuthMode::Mandatory => "mandatory",
    })
}

/// A key-manager ref as the native API writes one (`secrets/<id>`,
/// `containers/<id>`); a certificate is no key-manager ref.
fn native_key_ref(target: &KeyRef) -> Option<String> {
    match target {
        KeyRef::Secret(id) => Some(format!("secrets/{id}")),
        KeyRef::Container(id) => Some(format!("containers/{id}")),
        KeyRef::Certificate(_) => None,
    }
}

/// A certificate as anyone may see it: never its private key.
#[derive(Serialize)]
pub struct CertificateView {
    pub id: String,
    pub project_id: String,
    pub name: String,
    /// `server` (a chain and its key, served) or `ca` (CA certificates
    /// without a key, verifying client certificates).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub subject: String,
    pub names: Vec<String>,
    pub fingerprint_sha256: String,
    pub not_before: String,
    pub not_after: String,
    pub key_type: String,
    pub chain_length: u32,
    pub created_at: String,
}

impl From<&Certificate> for CertificateView {
    fn from(c: &Certificate) -> Self {
        Self {
            id: c.id.to_string(),
            project_id: c.project_id.to_string(),
            name: c.name.clone(),
            kind: c.kind.as_str(),
            subject: c.subject.clone(),
            names: c.names.clone(),
            fingerprint_sha256: c.fingerprint_sha256.clone(),
            not_before: c.not_before.to_string(),
            not_after: c.not_after.to_string(),
            key_type: c.key_type.clone(),
            chain_length: c.chain_length,
            created_at: c.created_at.to_string(),
        }
    }
}

/// A credential without its secrets (they are shown once, at creation).
#[derive(Serialize)]
pub struct CredentialView {
    pub access_key_id: String,
    pub project_id: String,
    pub role: &'static str,
    pub name: String,
    pub created_at: String,
}

impl From<&Credential> for CredentialView {
    fn from(c: &Credential) -> Self {
        Self {
            access_key_id: c.access_key_id.clone(),
            project_id: c.project_id.to_string(),
            role: c.role.as_str(),
            name: c.name.clone(),
            created_at: c.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct VpcView {
    pub id: String,
    pub project_id: String,
    pub name: String,
    /// `null` for a network a project made through Neutron: its subnets
    /// are its address space.
    pub cidr: Option<String>,
    pub has_border_gateway: bool,
    pub shared: bool,
    pub created_at: String,
}

impl From<&Vpc> for VpcView {
    fn from(v: &Vpc) -> Self {
        Self {
            id: v.id.to_string(),
            project_id: v.project_id.to_string(),
            name: v.name.clone(),
            cidr: v.cidr.map(|c| c.to_string()),
            has_border_gateway: v.has_border_gateway,
            shared: v.shared,
            created_at: v.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct SubnetView {
    pub id: String,
    pub project_id: String,
    pub vpc_id: String,
    pub name: String,
    pub cidr: String,
    pub shared: bool,
    pub created_at: String,
}

impl From<&Subnet> for SubnetView {
    fn from(s: &Subnet) -> Self {
        Self {
            id: s.id.to_string(),
            project_id: s.project_id.to_string(),
            vpc_id: s.vpc_id.to_string(),
            name: s.name.clone(),
            cidr: s.cidr.to_string(),
            shared: s.shared,
            created_at: s.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct InstanceView {
    pub id: String,
    pub project_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub instance_type: &'static str,
    pub state: &'static str,
    pub private_ip: String,
    pub created_at: String,
}

impl From<&Instance> for InstanceView {
    fn from(i: &Instance) -> Self {
        Self {
            id: i.id.to_string(),
            project_id: i.project_id.to_string(),
            subnet_id: i.subnet_id.to_string(),
            vpc_id: i.vpc_id.to_string(),
            name: i.name.clone(),
            instance_type: i.instance_type.as_str(),
            state: i.state.as_str(),
            private_ip: i.private_ip.to_string(),
            created_at: i.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct LoadBalancerView {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub vip: String,
    pub status: &'static str,
    pub default_pool_id: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    /// Its own VIP mode (`none`, `failover`, `anycast`); `null`: the
    /// deployment's `cluster.vip_mode`.
    pub vip_mode: Option<&'static str>,
    /// Live state from the data plane (its listeners' worst); absent when
    /// none runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_status: Option<ListenerStatusView>,
}

impl LoadBalancerView {
    /// Adds the data plane's live view: `status` as users see it (RUNNING
    /// once every listener is bound) and the worst listener state.
    pub fn with_status(mut self, status: LbStatus, live: Option<ListenerLive>) -> Self {
        self.status = status.as_str();
        self.operating_status = live.as_ref().map(ListenerStatusView::from);
        self
    }
}

impl From<&LoadBalancer> for LoadBalancerView {
    fn from(l: &LoadBalancer) -> Self {
        Self {
            id: l.id.to_string(),
            project_id: l.project_id.to_string(),
            name: l.name.clone(),
            subnet_id: l.subnet_id.to_string(),
            vpc_id: l.vpc_id.to_string(),
            vip: l.vip.to_string(),
            status: l.status.as_str(),
            default_pool_id: l.default_pool_id.to_string(),
            description: l.description.clone(),
            created_at: l.created_at.to_string(),
            updated_at: l.updated_at.to_string(),
            tags: l.tags.clone(),
            vip_mode: l.vip_mode.map(|m| m.as_str()),
            operating_status: None,
        }
    }
}

#[derive(Serialize)]
pub struct PortRangeView {
    pub start: u16,
    pub end: u16,
}

#[derive(Serialize)]
pub struct ListenerView {
    pub id: String,
    pub project_id: String,
    pub load_balancer_id: String,
    pub name: String,
    pub protocol: &'static str,
    /// Set for a single-port listener.
    pub port: Option<u16>,
    /// Set for a listener on port ranges.
    pub port_ranges: Option<Vec<PortRangeView>>,
    pub all_ports: bool,
    pub forwarding_mode: &'static str,
    pub scheduler: &'static str,
    pub proxy_protocol: &'static str,
    pub default_pool_id: String,
    /// The port the LB-wide pool's backends are dialled on (Aliyun
    /// `BackendServerPort`); absent: the client's port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_port: Option<u16>,
    /// The server group the listener forwards to instead of its own pool
    /// and the LB-wide pool (Aliyun VServer groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_pool_id: Option<String>,
    /// false: configured but not served (a stopped listener).
    pub enabled: bool,
    /// Connections (UDP: flows) served at once; absent: the data plane's
    /// default (`dataplane.max_connections`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// A connection silent this long is closed; absent: the data plane's
    /// default for the protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// How long a backend may take to accept; absent: the data plane's
    /// `dataplane.connect_timeout_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// How long a backend may stay silent; absent: the data plane's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_timeout_ms: Option<u64>,
    /// The most a connection's first bytes may be held for inspection
    /// (Weir holds none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspect_timeout_ms: Option<u64>,
    /// Client networks that may connect; empty: any.
    pub allowed_cidrs: Vec<String>,
    /// The access control list applied, and how (`allow` / `deny`).
    pub acl_id: Option<String>,
    pub acl_mode: Option<&'static str>,
    /// False when the list is named but switched off (Huawei's
    /// `enable_whitelist: false`): every client connects.
    pub acl_enabled: Option<bool>,
    /// The headers an HTTP listener adds for its backends.
    pub forwarded_headers: ForwardedHeadersView,
    /// HTTPS listeners: the certificates served, the default first;
    /// empty for every other protocol.
    pub certificate_ids: Vec<String>,
    /// HTTPS listeners: domains served with a chosen certificate before
    /// any certificate's own names (Aliyun's domain extensions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_extensions: Vec<DomainExtensionView>,
    /// HTTP listeners that redirect every request to HTTPS on this port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_https_port: Option<u16>,
    /// HTTPS listeners verifying client certificates (mTLS): `none`,
    /// `optional` or `mandatory`; absent when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_authentication: Option<&'static str>,
    /// The CA certificate client chains are verified against (for a CA an
    /// Octavia caller named in the key manager, `client_ca_ref`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca_certificate_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca_ref: Option<String>,
    /// Revocation lists, a key-manager ref (`secrets/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_crl_ref: Option<String>,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    /// Live state from the data plane; absent when none runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_status: Option<ListenerStatusView>,
}

impl ListenerView {
    /// Adds the data plane's live view.
    pub fn with_status(mut self, live: Option<ListenerLive>) -> Self {
        self.operating_status = live.as_ref().map(ListenerStatusView::from);
        self
    }
}

impl From<&Listener> for ListenerView {
    fn from(l: &Listener) -> Self {
        let (port, port_ranges) = match &l.ports {
            ListenerPorts::Single(p) => (Some(*p), None),
            ListenerPorts::Ranges(r) => (
                None,
                Some(
                    r.iter()
                        .map(|r| PortRangeView {
                            start: r.start,
                            end: r.end,
                        })
                        .collect(),
                ),
            ),
            ListenerPorts::All => (None, None),
        };
        Self {
            id: l.id.to_string(),
            project_id: l.project_id.to_string(),
            load_balancer_id: l.lb_id.to_string(),
            name: l.name.clone(),
            protocol: l.protocol.as_str(),
            port,
            port_ranges,
            all_ports: l.ports == ListenerPorts::All,
            forwarding_mode: l.forwarding_mode.as_str(),
            scheduler: l.scheduler.as_str(),
            proxy_protocol: l.proxy_protocol.as_str(),
            default_pool_id: l.default_pool_id.to_string(),
            backend_port: l.backend_port,
            group_pool_id: l.group_pool_id.as_ref().map(|p| p.to_string()),
            enabled: l.enabled,
            max_connections: l.max_connections,
            idle_timeout_ms: l.idle_timeout_ms,
            connect_timeout_ms: l.connect_timeout_ms,
            backend_timeout_ms: l.backend_timeout_ms,
            inspect_timeout_ms: l.inspect_timeout_ms,
            allowed_cidrs: l.allowed_cidrs.iter().map(ToString::to_string).collect(),
            acl_id: l.acl.as_ref().map(|a| a.acl_id.to_string()),
            acl_mode: l.acl.as_ref().map(|a| a.mode.as_str()),
            acl_enabled: l.acl.as_ref().map(|a| a.enabled),
            forwarded_headers: ForwardedHeadersView {
                x_forwarded_for: l.forwarded_headers.forwarded_for,
                x_forwarded_proto: l.forwarded_headers.forwarded_proto,
                x_forwarded_port: l.forwarded_headers.forwarded_port,
            },
            certificate_ids: l.certificate_ids.iter().map(ToString::to_string).collect(),
            domain_extensions: l
                .domain_extensions
                .iter()
                .map(|d| DomainExtensionView {
                    id: d.id.clone(),
                    domain: d.domain.clone(),
                    certificate_id: d.certificate_id.to_string(),
                })
                .collect(),
            redirect_https_port: l.redirect_https_port,
            client_authentication: client_auth_mode(&l.client_auth),
            client_ca_certificate_id: match l.client_auth.ca.as_ref().map(|r| &r.target) {
                Some(KeyRef::Certificate(id)) => Some(id.to_string()),
                _ => None,
            },
            client_ca_ref: l
                .client_auth
                .ca
                .as_ref()
                .and_then(|r| native_key_ref(&r.target)),
            client_crl_ref: l
                .client_auth
                .crl
                .as_ref()
                .and_then(|r| native_key_ref(&r.target)),
            description: l.description.clone(),
            created_at: l.created_at.to_string(),
            updated_at: l.updated_at.to_string(),
            tags: l.tags.clone(),
            operating_status: None,
        }
    }
}

/// Which `X-Forwarded-*` headers a listener adds.
/// One domain extension of an HTTPS listener.
#[derive(Debug, Serialize)]
pub struct DomainExtensionView {
    pub id: String,
    pub domain: String,
    pub certificate_id: String,
}

#[derive(Serialize)]
pub struct ForwardedHeadersView {
    pub x_forwarded_for: bool,
    pub x_forwarded_proto: bool,
    pub x_forwarded_port: bool,
}

#[derive(Serialize)]
pub struct HealthCheckView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub rise: u32,
    pub fall: u32,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub expected_codes: Option<String>,
    /// HTTP(S) checks: the request's method, HTTP version and Host (null:
    /// the member's address on HTTP/1.1, none on 1.0).
    pub method: Option<&'static str>,
    pub http_version: Option<&'static str>,
    pub host: Option<String>,
    /// `udp-connect` checks with a payload: what is sent and expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

impl From<&HealthCheck> for HealthCheckView {
    fn from(c: &HealthCheck) -> Self {
        let (kind, path, expected_codes, request) = match &c.kind {
            CheckKind::Tcp => ("tcp", None, None, None),
            CheckKind::UdpConnect | CheckKind::UdpPayload { .. } => {
                ("udp-connect", None, None, None)
            }
            CheckKind::TlsHello => ("tls-hello", None, None, None),
            CheckKind::Ping => ("ping", None, None, None),
            CheckKind::Https {
                path,
                expected,
                request,
            } => (
                "https",
                Some(path.clone()),
                Some(weir_core::pool::format_codes(expected)),
                Some(request),
            ),
            CheckKind::Http {
                path,
                expected,
                request,
            } => (
                "http",
                Some(path.clone()),
                Some(weir_core::pool::format_codes(expected)),
                Some(request),
            ),
        };
        Self {
            kind,
            interval_ms: c.interval_ms,
            timeout_ms: c.timeout_ms,
            rise: c.rise,
            fall: c.fall,
            port: c.port,
            path,
            expected_codes,
            method: request.map(|r| r.method.as_str()),
            http_version: request.map(|r| r.version.as_str()),
            send: match &c.kind {
                CheckKind::UdpPayload { send, .. } => Some(send.clone()),
                _ => None,
            },
            expect: match &c.kind {
                CheckKind::UdpPayload { expect, .. } => expect.clone(),
                _ => None,
            },
            host: request.and_then(|r| r.host.clone()),
        }
    }
}

#[derive(Serialize)]
pub struct PoolView {
    pub id: String,
    pub project_id: String,
    pub load_balancer_id: String,
    pub listener_id: Option<String>,
    pub name: String,
    pub health_check: Option<HealthCheckView>,
    pub drain_timeout_ms: u64,
    pub slow_start_ms: u64,
    /// When every backend fails its checks, all of them serve rather
    /// than none.
    pub fail_open: bool,
    /// A server group's own algorithm (Octavia pools); absent: each
    /// listener's scheduler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<&'static str>,
    /// What a server group's backends speak (Octavia pools); absent:
    /// whatever the listener speaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    /// false: the pool serves nothing.
    pub enabled: bool,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    /// Members dialled over TLS (`backend_tls` of `PATCH
    /// /v1/pools/{id}`, or Octavia's pool `tls_enabled`); absent: in the
    /// clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_tls: Option<BackendTlsView>,
}

/// A re-encrypting pool's TLS towards its members.
#[derive(Serialize)]
pub struct BackendTlsView {
    /// Whether members' certificate chains are verified (against
    /// `ca_ref`); false: not verified, as the pool asked.
    pub verify: bool,
    /// The key-manager ref of the CA bundle, as given.
    pub ca_ref: Option<String>,
    /// The CA certificate (`POST /v1/certificates {type: "ca"}`) members
    /// are verified against, when the pool names one instead of a ref.
    pub ca_certificate_id: Option<String>,
    /// The key-manager ref of the CRLs members are checked against.
    pub crl_ref: Option<String>,
    /// The key-manager ref of the client certificate presented to them.
    pub client_certificate_ref: Option<String>,
    /// The name members are dialled by (SNI) and verified against.
    pub server_name: Option<String>,
    pub tls_versions: Vec<&'static str>,
    pub tls_ciphers: String,
    pub alpn_protocols: Vec<String>,
}

impl From<&weir_core::upstream_tls::UpstreamTls> for BackendTlsView {
    fn from(u: &weir_core::upstream_tls::UpstreamTls) -> Self {
        Self {
            verify: u.verifies(),
            ca_ref: u
                .ca
                .as_ref()
                .filter(|r| !matches!(r.target, KeyRef::Certificate(_)))
                .map(|r| r.href.clone()),
            ca_certificate_id: u.ca.as_ref().and_then(|r| match &r.target {
                KeyRef::Certificate(id) => Some(id.to_string()),
                _ => None,
            }),
            crl_ref: u.crl.as_ref().map(|r| r.href.clone()),
            client_certificate_ref: u.client_cert.as_ref().map(|r| r.href.clone()),
            server_name: u.server_name.clone(),
            tls_versions: u.options.versions().iter().map(|v| v.as_str()).collect(),
            tls_ciphers: u.options.ciphers(),
            alpn_protocols: u.alpn(),
        }
    }
}

impl From<&Pool> for PoolView {
    fn from(p: &Pool) -> Self {
        Self {
            id: p.id.to_string(),
            project_id: p.project_id.to_string(),
            load_balancer_id: p.lb_id.to_string(),
            listener_id: p.listener_id.as_ref().map(ToString::to_string),
            name: p.name.clone(),
            health_check: p.health_check.as_ref().map(HealthCheckView::from),
            drain_timeout_ms: p.drain_timeout_ms,
            slow_start_ms: p.slow_start_ms,
            fail_open: p.fail_open,
            scheduler: p.scheduler.map(Scheduler::as_str),
            protocol: p.protocol.map(PoolProtocol::as_str),
            enabled: p.enabled,
            description: p.description.clone(),
            created_at: p.created_at.to_string(),
            updated_at: p.updated_at.to_string(),
            backend_tls: p.upstream_tls.as_ref().map(BackendTlsView::from),
        }
    }
}

/// The data plane's view of a backend, shown as `status`.
#[derive(Serialize)]
pub struct BackendStatusView {
    pub state: &'static str,
    pub reason: Option<String>,
    pub active_connections: u64,
    /// While draining: when the connections still open are closed
    /// (RFC 3339).
    pub drain_deadline: Option<String>,
    /// Totals since the data plane started serving the backend: a client
    /// reads twice and divides for a rate (the console's charts).
    pub total_connections: u64,
    pub requests: u64,
    pub responses_5xx: u64,
    pub failures: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl From<&BackendLive> for BackendStatusView {
    fn from(l: &BackendLive) -> Self {
        Self {
            state: l.state.as_str(),
            reason: l.reason.clone(),
            active_connections: l.active_connections,
            drain_deadline: l.drain_deadline.map(|t| t.to_string()),
            total_connections: l.stats.total_connections,
            requests: l.stats.requests,
            responses_5xx: l.stats.responses_5xx,
            failures: l.stats.failures,
            bytes_in: l.stats.bytes_in,
            bytes_out: l.stats.bytes_out,
        }
    }
}

/// The data plane's view of a listener, shown as `operating_status`.
#[derive(Serialize)]
pub struct ListenerStatusView {
    pub state: &'static str,
    pub reason: Option<String>,
}

impl From<&ListenerLive> for ListenerStatusView {
    fn from(l: &ListenerLive) -> Self {
        let (state, reason) = match l {
            ListenerLive::Pending => (
                "pending",
                Some("not yet applied by the data plane".to_owned()),
            ),
            ListenerLive::Active => ("active", None),
            ListenerLive::Error(r) => ("error", Some(r.clone())),
            ListenerLive::Unsupported(r) => ("unsupported", Some(r.clone())),
        };
        Self { state, reason }
    }
}

#[derive(Serialize)]
pub struct BackendView {
    pub id: String,
    pub project_id: String,
    pub pool_id: String,
    pub load_balancer_id: String,
    pub listener_id: Option<String>,
    pub instance_id: Option<String>,
    pub address: String,
    /// The single port, when the backend has one.
    pub port: Option<u16>,
    /// The port list, when the backend has several.
    pub ports: Option<Vec<u16>>,
    pub weight: u16,
    pub enabled: bool,
    pub backup: bool,
    pub name: String,
    /// Health-checked here instead of `address` / the traffic port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitor_port: Option<u16>,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    /// Live state from the data plane; absent when none runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BackendStatusView>,
}

impl BackendView {
    /// Adds the data plane's live view.
    pub fn with_status(mut self, live: Option<BackendLive>) -> Self {
        self.status = live.as_ref().map(BackendStatusView::from);
        self
    }
}

impl From<&Backend> for BackendView {
    fn from(b: &Backend) -> Self {
        let (port, ports) = match &b.ports {
            BackendPorts::Inherit => (None, None),
            BackendPorts::One(p) => (Some(*p), None),
            BackendPorts::List(l) => (None, Some(l.clone())),
        };
        Self {
            id: b.id.to_string(),
            project_id: b.project_id.to_string(),
            pool_id: b.pool_id.to_string(),
            load_balancer_id: b.lb_id.to_string(),
            listener_id: b.listener_id.as_ref().map(ToString::to_string),
            instance_id: b.instance_id.as_ref().map(ToString::to_string),
            address: b.address.to_string(),
            port,
            ports,
            weight: b.weight,
            enabled: b.enabled,
            backup: b.backup,
            monitor_address: b.monitor_address.map(|a| a.to_string()),
            monitor_port: b.monitor_port,
            name: b.name.clone(),
            created_at: b.created_at.to_string(),
            updated_at: b.updated_at.to_string(),
            tags: b.tags.clone(),
            status: None,
        }
    }
}

/// Converts a slice of core values into views.
pub fn views<'a, T: 'a, V: From<&'a T>>(items: &'a [T]) -> Vec<V> {
    items.iter().map(V::from).collect()
}

/// An access control list with its entries.
#[derive(Serialize)]
pub struct AclView {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub ip_version: &'static str,
    pub entries: Vec<AclEntryView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize)]
pub struct AclEntryView {
    pub cidr: String,
    pub comment: String,
}

impl From<&weir_core::acl::Acl> for AclView {
    fn from(a: &weir_core::acl::Acl) -> Self {
        Self {
            id: a.id.to_string(),
            project_id: a.project_id.to_string(),
            name: a.name.clone(),
            ip_version: a.ip_version.as_str(),
            entries: a
                .entries
                .iter()
                .map(|e| AclEntryView {
                    cidr: e.cidr.to_string(),
                    comment: e.comment.clone(),
                })
                .collect(),
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        }
    }
}
