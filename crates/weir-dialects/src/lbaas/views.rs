//! The LBaaS JSON views of Weir's resources and their derived
//! provisioning and operating statuses.

use super::*;

pub(super) fn worse(a: &'static str, b: &'static str) -> &'static str {
    let rank = |s: &str| match s {
        "ERROR" => 2,
        "PENDING_CREATE" => 1,
        _ => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// (provisioning_status, operating_status) of a listener: ACTIVE once the
/// data plane has applied it.
pub(super) fn listener_status(
    c: &Control,
    l: &Listener,
    lb_running: bool,
) -> (&'static str, &'static str) {
    if !lb_running || !l.enabled {
        // A stopped load balancer's (or a stopped listener's) listeners are
        // applied as "not bound".
        return ("ACTIVE", "OFFLINE");
    }
    match c.listener_live(l) {
        Some(ListenerLive::Pending) => ("PENDING_CREATE", "OFFLINE"),
        Some(ListenerLive::Active) => ("ACTIVE", "ONLINE"),
        Some(ListenerLive::Error(_)) => ("ERROR", "ERROR"),
        Some(ListenerLive::Unsupported(_)) => ("ACTIVE", "OFFLINE"),
        None if c.has_live_view() => ("PENDING_CREATE", "OFFLINE"),
        None => ("ACTIVE", "ONLINE"),
    }
}

/// Whether a pool's members are health checked: a monitor that exists and
/// runs.
pub(super) fn monitored(pool: &Pool) -> bool {
    pool.health_check.is_some() && pool.monitor_enabled
}

pub(super) fn member_status(
    c: &Control,
    b: &Backend,
    monitored: bool,
) -> (&'static str, &'static str) {
    let live = c.backend_live(&b.id);
    let provisioning = if live.is_none() && c.has_live_view() {
        "PENDING_CREATE"
    } else {
        "ACTIVE"
    };
    let operating = if !b.enabled {
        "OFFLINE"
    } else {
        match live.map(|l| l.state) {
            // Octavia: without a monitor the health is unknown, whatever
            // passive ejection may think.
            Some(BackendState::Draining) => "DRAINING",
            _ if !monitored => "NO_MONITOR",
            Some(BackendState::Healthy) => "ONLINE",
            Some(BackendState::Unhealthy) => "ERROR",
            Some(BackendState::Checking | BackendState::Drained | BackendState::Disabled)
            | None => "OFFLINE",
        }
    };
    (provisioning, operating)
}

pub(super) fn lb_view(
    c: &Control,
    lb: &LoadBalancer,
    listeners: &[Listener],
    pools: &[Pool],
) -> Value {
    let mut provisioning = "ACTIVE";
    let mut operating = if lb.status == LbStatus::Running {
        "ONLINE"
    } else {
        "OFFLINE"
    };
    for l in listeners {
        let (p, o) = listener_status(c, l, lb.status == LbStatus::Running);
        provisioning = worse(provisioning, p);
        if o == "ERROR" {
            operating = "ERROR";
        }
    }
    json!({
        "id": lb.id.as_str(),
        "name": lb.name,
        "description": lb.description,
        "vip_address": lb.vip.to_string(),
        "vip_subnet_id": lb.subnet_id.as_str(),
        "vip_network_id": lb.vpc_id.as_str(),
        // The VIP's Neutron port (`/v2.0/ports/{id}`) has the load
        // balancer's id.
        "vip_port_id": lb.id.as_str(),
        "vip_qos_policy_id": null,
        "project_id": lb.project_id.as_str(),
        "tenant_id": lb.project_id.as_str(),
        "provisioning_status": provisioning,
        "operating_status": operating,
        "admin_state_up": lb.status == LbStatus::Running,
        "listeners": listeners.iter().map(|l| json!({"id": l.id.as_str()})).collect::<Vec<_>>(),
        "pools": pools.iter().map(|p| json!({"id": p.id.as_str()})).collect::<Vec<_>>(),
        "provider": "weir",
        "flavor_id": lb.flavor_id.as_ref().map(FlavorId::as_str),
        "availability_zone": null,
        "created_at": lb.created_at.to_string(),
        "updated_at": lb.updated_at.to_string(),
        "tags": lb.tags,
    })
}

/// A listener; `l7` is its policies' `[{"id"}]` by position
/// ([`l7_refs`]).
pub(super) fn listener_view(c: &Control, l: &Listener, lb_running: bool, l7: Vec<Value>) -> Value {
    let (provisioning, operating) = listener_status(c, l, lb_running);
    let mut view = json!({
        "id": l.id.as_str(),
        "name": l.name,
        "description": l.description,
        "protocol": octavia_protocol(l.protocol),
        "protocol_port": l.single_port(),
        "loadbalancers": [{"id": l.lb_id.as_str()}],
        "loadbalancer_id": l.lb_id.as_str(),
        "default_pool_id": l.group_pool_id.as_ref().map(PoolId::as_str),
        "connection_limit": l.max_connections.map_or(-1, i64::from),
        "admin_state_up": l.enabled,
        "provisioning_status": provisioning,
        "operating_status": operating,
        "project_id": l.project_id.as_str(),
        "tenant_id": l.project_id.as_str(),
        "insert_headers": insert_headers_view(l),
        // Unset timeouts are the data plane's defaults, which the API does
        // not know (they are the operator's settings): null, not a guess.
        "timeout_client_data": l.idle_timeout_ms,
        "timeout_member_connect": l.connect_timeout_ms,
        "timeout_member_data": l.backend_timeout_ms,
        "timeout_tcp_inspect": l.inspect_timeout_ms.unwrap_or(0),
        "allowed_cidrs": (!l.allowed_cidrs.is_empty())
            .then(|| l.allowed_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>()),
        "client_ca_tls_container_ref": null,
        "client_authentication": "NONE",
        "client_crl_container_ref": null,
        // TLS settings of TERMINATED_HTTPS listeners (API 2.15, 2.17,
        // 2.20); Octavia shows them null on every other listener.
        "tls_ciphers": null,
        "tls_versions": null,
        "alpn_protocols": null,
        "l7policies": l7,
        "created_at": l.created_at.to_string(),
        "updated_at": l.updated_at.to_string(),
        "tags": l.tags,
    });
    if let Value::Object(map) = &mut view {
        tls_view(l, map);
    }
    view
}

pub(super) fn algorithm_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Wrr => "ROUND_ROBIN",
        Scheduler::Lc => "LEAST_CONNECTIONS",
        Scheduler::Sh => "SOURCE_IP",
        Scheduler::ShPort => "SOURCE_IP_PORT",
    }
}

pub(super) fn algorithm(name: &str) -> Result<&'static str, LbaasError> {
    match name {
        "ROUND_ROBIN" => Ok("wrr"),
        "LEAST_CONNECTIONS" => Ok("lc"),
        "SOURCE_IP" => Ok("sh"),
        "SOURCE_IP_PORT" => Ok("sh-port"),
        other => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute lb_algorithm. Value: '{other}'. Value should be one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP, SOURCE_IP_PORT"
        ))),
    }
}

/// Octavia's name of a pool's protocol: its own, else what its first
/// listener speaks (groups made by other dialects name none).
pub(super) fn pool_protocol(pool: &Pool, listener: Option<&Listener>) -> &'static str {
    match (pool.protocol, listener) {
        (Some(PoolProtocol::Tcp), _) => "TCP",
        (Some(PoolProtocol::Udp), _) => "UDP",
        (Some(PoolProtocol::Http), _) => "HTTP",
        (Some(PoolProtocol::Https), _) => "HTTPS",
        (Some(PoolProtocol::Proxy), _) => "PROXY",
        (Some(PoolProtocol::ProxyV2), _) => "PROXYV2",
        (None, None) => "TCP",
        (None, Some(l)) => match (l.protocol, l.proxy_protocol) {
            (Protocol::Tcp, ProxyProtocol::V1) => "PROXY",
            (Protocol::Tcp, ProxyProtocol::V2) => "PROXYV2",
            (Protocol::Tcp, ProxyProtocol::None) => "TCP",
            (Protocol::TlsPassthrough, _) => "HTTPS",
            (Protocol::Udp, _) => "UDP",
            (Protocol::Http | Protocol::Https, _) => "HTTP",
            (Protocol::Prometheus, _) => "PROMETHEUS",
        },
    }
}

/// Octavia's name of a listener protocol.
pub(super) fn octavia_protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Http => "HTTP",
        Protocol::TlsPassthrough => "HTTPS",
        // Terminated by Weir; Octavia cannot create one yet (no key
        // manager), but one made natively shows as what it is.
        Protocol::Https => "TERMINATED_HTTPS",
        Protocol::Prometheus => "PROMETHEUS",
    }
}

pub(super) fn pool_view(
    c: &Control,
    pool: &Pool,
    listeners: &[Listener],
    members: &[Backend],
) -> Value {
    let monitored = monitored(pool);
    let ops: Vec<&str> = members
        .iter()
        .map(|b| member_status(c, b, monitored).1)
        .collect();
    // Octavia: a pool no listener serves (or an admin-down one) is
    // OFFLINE; a served one reads from its members.
    let operating = if listeners.is_empty() || !pool.enabled {
        "OFFLINE"
    } else if !ops.is_empty() && ops.iter().all(|o| *o == "ERROR") {
        "ERROR"
    } else if ops.contains(&"ERROR") {
        "DEGRADED"
    } else {
        "ONLINE"
    };
    let first = listeners.first();
    let scheduler = pool
        .scheduler
        .or(first.map(|l| l.scheduler))
        .unwrap_or(Scheduler::Wrr);
    let mut view = json!({
        "id": pool.id.as_str(),
        "name": pool.name,
        "description": pool.description,
        "protocol": pool_protocol(pool, first),
        "lb_algorithm": algorithm_name(scheduler),
        "listeners": listeners.iter().map(|l| json!({"id": l.id.as_str()})).collect::<Vec<_>>(),
        "listener_id": first.map(|l| l.id.as_str()),
        "loadbalancers": [{"id": pool.lb_id.as_str()}],
        "loadbalancer_id": pool.lb_id.as_str(),
        "members": members.iter().map(|b| json!({"id": b.id.as_str()})).collect::<Vec<_>>(),
        "healthmonitor_id": pool.health_check.as_ref().map(|_| pool.id.as_str()),
        "session_persistence": pool.persistence.as_ref().map(|p| json!({
            "type": match p {
                Persistence::SourceIp => "SOURCE_IP",
                Persistence::HttpCookie => "HTTP_COOKIE",
                Persistence::AppCookie { .. } => "APP_COOKIE",
            },
            "cookie_name": p.cookie_name(),
            "persistence_timeout": null,
            "persistence_granularity": null,
        })),
        "admin_state_up": pool.enabled,
        "provisioning_status": "ACTIVE",
        "operating_status": operating,
        "project_id": pool.project_id.as_str(),
        "tenant_id": pool.project_id.as_str(),
        "created_at": pool.created_at.to_string(),
        "updated_at": pool.updated_at.to_string(),
        "tags": pool.tags,
    });
    if let Some(fields) = view.as_object_mut() {
        for (name, value) in super::pool_tls::view_fields(pool) {
            fields.insert(name.to_owned(), value);
        }
    }
    view
}

pub(super) fn member_view(c: &Control, b: &Backend, monitored: bool) -> Value {
    let (provisioning, operating) = member_status(c, b, monitored);
    json!({
        "id": b.id.as_str(),
        "name": b.name,
        // Octavia and Neutron LBaaS keep a member's address as its caller
        // wrote it; so does Weir, once it is a literal of the same address.
        "address": b.address_as_written(),
        "protocol_port": b.ports.key(),
        "weight": b.weight,
        "admin_state_up": b.enabled,
        "backup": b.backup,
        "subnet_id": b.subnet_id.as_ref().map(|s| s.as_str()),
        "project_id": b.project_id.as_str(),
        "tenant_id": b.project_id.as_str(),
        "pool_id": b.pool_id.as_str(),
        "provisioning_status": provisioning,
        "operating_status": operating,
        "monitor_address": b.monitor_address_as_written(),
        "monitor_port": b.monitor_port,
        "created_at": b.created_at.to_string(),
        "updated_at": b.updated_at.to_string(),
        "tags": b.tags,
    })
}

pub(super) fn monitor_view(pool: &Pool, flavor: Flavor) -> Option<Value> {
    let hc = pool.health_check.as_ref()?;
    let kind = kind_name(&hc.kind, flavor);
    let (path, codes, request) = match &hc.kind {
        CheckKind::Http {
            path,
            expected,
            request,
        }
        | CheckKind::Https {
            path,
            expected,
            request,
        } => (
            Some(path.clone()),
            Some(format_codes(expected)),
            Some(request),
        ),
        CheckKind::Tcp
        | CheckKind::UdpConnect
        | CheckKind::UdpPayload { .. }
        | CheckKind::TlsHello
        | CheckKind::Ping => (None, None, None),
    };
    // Octavia shows the version as a number (1.0, 1.1).
    let version = request.map(|r| match r.version {
        HttpVersion::Http10 => json!(1.0),
        HttpVersion::Http11 => json!(1.1),
    });
    Some(json!({
        "id": pool.id.as_str(),
        "name": pool.monitor_name,
        "type": kind,
        "delay": hc.interval_ms.div_ceil(1000),
        "timeout": hc.timeout_ms.div_ceil(1000),
        "max_retries": hc.rise,
        "max_retries_down": hc.fall,
        "url_path": path,
        "expected_codes": codes,
        "http_method": request.map(|r| r.method.as_str()),
        "http_version": version,
        "domain_name": request.and_then(|r| r.host.as_deref()),
        "monitor_port": hc.port,
        "pools": [{"id": pool.id.as_str()}],
        "pool_id": pool.id.as_str(),
        "admin_state_up": pool.monitor_enabled,
        "provisioning_status": "ACTIVE",
        "operating_status": if pool.monitor_enabled { "ONLINE" } else { "OFFLINE" },
        "project_id": pool.project_id.as_str(),
        "tenant_id": pool.project_id.as_str(),
        "created_at": pool.created_at.to_string(),
        "updated_at": pool.updated_at.to_string(),
        "tags": pool.monitor_tags,
    }))
}
