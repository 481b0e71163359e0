//! ZLB (`x-zc-version: 2025-04-01`): load balancers, listeners and the
//! batch `backendServers` registration of seed 000, translated to control
//! calls. Backends are named by instance or private IP, never by id.

use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{Control, RegisterRequest, RegisterTarget};
use weir_core::backend::{BackendSelector, BackendUpdate, WhenMissing};
use weir_core::ids::*;
use weir_core::loadbalancer::{NewListener, NewLoadBalancer};
use weir_core::model::*;
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};
use weir_core::status::BackendState;
use weir_core::{Error, ResourceKind};

use super::{unknown_action, ActionResult, Call, Service, ZcError};

/// Seed 000's rules: weight 0-100, duplicates refused, an address must be
/// some instance's, bare metal by address only and behind a border gateway.
pub fn policy() -> RegisterPolicy {
    RegisterPolicy {
        duplicates: DuplicatePolicy::Reject,
        weight_range: (0, 100),
        default_weight: 100,
        max_per_request: None,
        unique_instance_per_listener: true,
        address_requires_instance: true,
        bare_metal_by_address_only: true,
        bare_metal_needs_border_gateway: true,
        name_rule: NameRule::Free,
        ..RegisterPolicy::native()
    }
}

/// Every action the ZLB dispatcher serves, in its order; the tenant
/// isolation sweep (`tests/isolation.rs`) checks that it probes each one
/// and that this list is the dispatcher's.
pub const ACTIONS: &[&str] = &[
    "CreateLoadBalancer",
    "DescribeLoadBalancers",
    "DescribeLoadBalancerRegions",
    "CreateListener",
    "DescribeListeners",
    "DeleteListener",
    "RegisterBackend",
    "DescribeBackends",
    "DescribeBackendHealth",
    "ModifyBackend",
    "DeregisterBackend",
];

pub(super) async fn dispatch(call: &Call, action: &str, body: &[u8]) -> ActionResult {
    match action {
        "CreateLoadBalancer" => create_load_balancer(call, call.parse(body)?).await,
        "DescribeLoadBalancers" => describe_load_balancers(call, call.parse(body)?).await,
        "DescribeLoadBalancerRegions" => {
            let NoParameters {} = call.parse(body)?;
            Ok(json!({
                "regions": call.control.settings().regions.iter()
                    .map(|r| json!({"regionId": r})).collect::<Vec<_>>()
            }))
        }
        "CreateListener" => create_listener(call, call.parse(body)?).await,
        "DescribeListeners" => describe_listeners(call, call.parse(body)?).await,
        "DeleteListener" => delete_listener(call, call.parse(body)?).await,
        "RegisterBackend" => register_backend(call, call.parse(body)?).await,
        "DescribeBackends" => describe_backends(call, call.parse(body)?, false).await,
        "DescribeBackendHealth" => describe_backends(call, call.parse(body)?, true).await,
        "ModifyBackend" => modify_backend(call, call.parse(body)?).await,
        "DeregisterBackend" => deregister_backend(call, call.parse(body)?).await,
        other => Err(unknown_action(other)),
    }
}

fn fail(e: weir_control::ControlError) -> ZcError {
    ZcError::from_control(e, Service::Zlb)
}

/// An action without parameters: any field is refused, so no other
/// action's signed body passes as this one's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateLoadBalancer {
    region_id: String,
    vpc_id: String,
    subnet_id: String,
    load_balancer_name: Option<String>,
}

async fn create_load_balancer(call: &Call, req: CreateLoadBalancer) -> ActionResult {
    call.check_region("regionId", &req.region_id)?;
    let lb = call
        .control
        .create_load_balancer(
            &call.principal,
            SubnetId::new(req.subnet_id),
            NewLoadBalancer {
                name: req.load_balancer_name.unwrap_or_default(),
                vip: None,
                vpc_id: Some(req.vpc_id),
                stopped: false,
                ..Default::default()
            },
        )
        .await
        .map_err(fail)?;
    Ok(json!({"loadBalancerIds": [lb.id.as_str()], "orderNumber": lb.id.as_str()}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeLoadBalancers {
    region_id: Option<String>,
    vpc_id: Option<String>,
    load_balancer_ids: Option<Vec<String>>,
    load_balancer_name: Option<String>,
    page_size: Option<u32>,
    page_num: Option<u32>,
}

/// One page of a filtered list: `pageNum` from 1, `pageSize` 1-1000.
pub fn page<T>(
    items: Vec<T>,
    page_num: Option<u32>,
    page_size: Option<u32>,
) -> Result<(usize, Vec<T>), ZcError> {
    let size = page_size.unwrap_or(20);
    let num = page_num.unwrap_or(1);
    if !(1..=1000).contains(&size) {
        return Err(ZcError::invalid("pageSize must be in 1-1000"));
    }
    if num == 0 {
        return Err(ZcError::invalid("pageNum starts at 1"));
    }
    let total = items.len();
    let skip = (num as usize - 1).saturating_mul(size as usize);
    Ok((
        total,
        items.into_iter().skip(skip).take(size as usize).collect(),
    ))
}

async fn describe_load_balancers(call: &Call, req: DescribeLoadBalancers) -> ActionResult {
    if let Some(region) = &req.region_id {
        call.check_region("regionId", region)?;
    }
    let all = call
        .control
        .list_load_balancers(&call.principal)
        .await
        .map_err(fail)?;
    let chosen: Vec<LoadBalancer> = all
        .into_iter()
        .filter(|lb| req.vpc_id.as_ref().is_none_or(|v| v == lb.vpc_id.as_str()))
        .filter(|lb| {
            req.load_balancer_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == lb.id.as_str()))
        })
        .filter(|lb| {
            req.load_balancer_name
                .as_ref()
                .is_none_or(|n| lb.name.contains(n.as_str()))
        })
        .collect();
    let (total, chosen) = page(chosen, req.page_num, req.page_size)?;
    let mut data = Vec::with_capacity(chosen.len());
    for lb in &chosen {
        let listeners = call
            .control
            .list_listeners(&call.principal, &lb.id)
            .await
            .map_err(fail)?;
        let mut backend_count = 0;
        for l in &listeners {
            let target = RegisterTarget::Listener(l.id.clone());
            backend_count += call
                .control
                .backends_of(&call.principal, &target)
                .await
                .map_err(fail)?
                .2
                .len();
        }
        data.push(json!({
            "regionId": call.control.settings().default_region(),
            "loadBalancerId": lb.id.as_str(),
            "loadBalancerName": lb.name,
            "vpcId": lb.vpc_id.as_str(),
            "subnetId": lb.subnet_id.as_str(),
            "ipStackType": if lb.vip.is_ipv4() { "IPv4" } else { "IPv6" },
            "status": lb.status.as_str(),
            "privateIpAddress": [lb.vip.to_string()],
            "publicIpAddress": [],
            "listenerCount": listeners.len(),
            "backendServerCount": backend_count,
            "createTime": super::zc_time(lb.created_at),
        }));
    }
    Ok(json!({"totalCount": total, "dataSet": data}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HealthCheck {
    enabled: Option<bool>,
    check_type: Option<String>,
    check_port: Option<u32>,
    check_delay_loop: Option<u64>,
    check_conn_timeout: Option<u64>,
    check_retry: Option<u32>,
    check_http_get_url: Option<String>,
    check_http_get_host: Option<String>,
    check_http_status_code: Option<Value>,
    /// When every backend fails the check, all of them take traffic
    /// (`weir_core::fail_open`); the listener's pool's setting.
    fail_open: Option<bool>,
}

fn health_spec(hc: &HealthCheck) -> Result<Option<HealthCheckSpec>, ZcError> {
    super::health_spec(super::CheckFields {
        enabled: hc.enabled,
        kind: hc.check_type.as_deref(),
        port: hc.check_port,
        interval_secs: hc.check_delay_loop,
        timeout_secs: hc.check_conn_timeout,
        retry: hc.check_retry,
        path: hc.check_http_get_url.as_deref(),
        host: hc.check_http_get_host.as_deref(),
        codes: hc.check_http_status_code.as_ref(),
        codes_field: "checkHttpStatusCode",
    })
}

fn health_view(pool: &Pool) -> Value {
    match &pool.health_check {
        None => json!({"enabled": false, "failOpen": pool.fail_open}),
        Some(hc) => {
            let (kind, path, codes, host) = match &hc.kind {
                CheckKind::Tcp => ("TCP", None, None, None),
                CheckKind::UdpConnect | CheckKind::UdpPayload { .. } => ("UDP", None, None, None),
                CheckKind::TlsHello => ("TCP", None, None, None),
                // Made through another dialect (Octavia, UCloud).
                CheckKind::Ping => ("PING", None, None, None),
                CheckKind::Https {
                    path,
                    expected,
                    request,
                } => (
                    "HTTPS",
                    Some(path.clone()),
                    Some(weir_core::pool::format_codes(expected)),
                    request.host.clone(),
                ),
                CheckKind::Http {
                    path,
                    expected,
                    request,
                } => (
                    "HTTP",
                    Some(path.clone()),
                    Some(weir_core::pool::format_codes(expected)),
                    request.host.clone(),
                ),
            };
            json!({
                "enabled": true,
                "checkType": kind,
                "checkPort": hc.port,
                "checkDelayLoop": hc.interval_ms / 1000,
                "checkConnTimeout": hc.timeout_ms / 1000,
                "checkRetry": hc.fall,
                "checkHttpGetUrl": path,
                "checkHttpGetHost": host,
                "checkHttpStatusCode": codes,
                "failOpen": pool.fail_open,
            })
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateListener {
    load_balancer_id: String,
    listener_name: Option<String>,
    protocol: String,
    port: String,
    scheduler: Option<String>,
    kind: Option<String>,
    health_check: Option<HealthCheck>,
    proxy_protocol: Option<bool>,
}

/// A listener's ports as the core's `NewListener` takes them.
pub struct PortSpec {
    pub port: Option<u32>,
    pub ranges: Option<Vec<(u32, u32)>>,
    pub all: bool,
}

/// Zenlayer's port string: `80`, `8000-8010`, `80,443`, `ALL`.
pub fn listener_ports(text: &str) -> Result<PortSpec, ZcError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(PortSpec {
            port: None,
            ranges: None,
            all: true,
        });
    }
    if let Ok(p) = text.parse::<u32>() {
        return Ok(PortSpec {
            port: Some(p),
            ranges: None,
            all: false,
        });
    }
    let bad = || {
        ZcError::invalid(format!(
            "port {text:?} is not a port, a range a-b, a list or ALL"
        ))
    };
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        ranges.push((
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        ));
    }
    Ok(PortSpec {
        port: None,
        ranges: Some(ranges),
        all: false,
    })
}

/// Zenlayer schedulers onto the core's three algorithms.
pub fn scheduler(name: &str) -> Result<&'static str, ZcError> {
    match name.to_ascii_lowercase().as_str() {
        "rr" | "wrr" => Ok("wrr"),
        "lc" | "wlc" => Ok("lc"),
        "mh" | "sh" | "dh" | "ch" => Ok("sh"),
        other => Err(ZcError::invalid(format!(
            "scheduler {other:?} is not one of rr, wrr, lc, wlc, mh, sh"
        ))),
    }
}

/// Zenlayer forwarding kinds onto the core's modes.
pub fn kind(name: &str) -> Result<&'static str, ZcError> {
    match name.to_ascii_uppercase().as_str() {
        "FNAT" | "PROXY" => Ok("proxy"),
        "DNAT" | "NAT" => Ok("nat"),
        "DR" => Ok("dr"),
        other => Err(ZcError::invalid(format!(
            "kind {other:?} is not one of FNAT, DNAT, DR"
        ))),
    }
}

pub fn kind_name(mode: ForwardingMode) -> &'static str {
    match mode {
        ForwardingMode::Proxy => "FNAT",
        ForwardingMode::Nat => "DNAT",
        ForwardingMode::Dr => "DR",
    }
}

pub fn scheduler_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Wrr => "wrr",
        Scheduler::Lc => "wlc",
        // Zenlayer documents no port-hashing scheduler; a pool given
        // SOURCE_IP_PORT through Octavia reads as its nearest, Maglev.
        Scheduler::Sh | Scheduler::ShPort => "mh",
    }
}

pub fn port_text(ports: &ListenerPorts) -> String {
    match ports {
        ListenerPorts::All => "ALL".to_owned(),
        other => other.to_spec(),
    }
}

async fn create_listener(call: &Call, req: CreateListener) -> ActionResult {
    let ports = listener_ports(&req.port)?;
    let health = match &req.health_check {
        Some(hc) => Some(health_spec(hc)?),
        None => None,
    };
    let new = NewListener {
        name: req.listener_name.unwrap_or_default(),
        protocol: req.protocol.to_ascii_lowercase(),
        port: ports.port,
        port_ranges: ports.ranges,
        all_ports: ports.all,
        forwarding_mode: Some(kind(req.kind.as_deref().unwrap_or("FNAT"))?.to_owned()),
        scheduler: Some(scheduler(req.scheduler.as_deref().unwrap_or("wrr"))?.to_owned()),
        proxy_protocol: req.proxy_protocol.filter(|p| *p).map(|_| "v2".to_owned()),
        backend_port: None,
        group_pool_id: None,
        max_connections: None,
        idle_timeout_ms: None,
        connect_timeout_ms: None,
        backend_timeout_ms: None,
        inspect_timeout_ms: None,
        allowed_cidrs: Vec::new(),
        ..Default::default()
    };
    let listener = call
        .control
        .create_listener_with_pool(
            &call.principal,
            LoadBalancerId::new(req.load_balancer_id),
            new,
            PoolUpdate {
                health_check: health,
                fail_open: req.health_check.as_ref().and_then(|hc| hc.fail_open),
                drain_timeout_ms: None,
                slow_start_ms: None,
                name: None,
                ..Default::default()
            },
            None,
        )
        .await
        .map_err(fail)?;
    Ok(json!({"listenerId": listener.id.as_str()}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeListeners {
    load_balancer_id: String,
    listener_ids: Option<Vec<String>>,
    protocol: Option<String>,
}

async fn listener_view(control: &Control, call: &Call, l: &Listener) -> Result<Value, ZcError> {
    let pool = control
        .get_pool(&call.principal, &l.default_pool_id)
        .await
        .map_err(fail)?;
    Ok(json!({
        "listenerId": l.id.as_str(),
        "listenerName": l.name,
        "ipStackType": "IPv4",
        "protocol": l.protocol.as_str().to_ascii_uppercase(),
        "port": port_text(&l.ports),
        "scheduler": scheduler_name(l.scheduler),
        "kind": kind_name(l.forwarding_mode),
        "healthCheck": health_view(&pool),
        "createTime": super::zc_time(l.created_at),
    }))
}

async fn describe_listeners(call: &Call, req: DescribeListeners) -> ActionResult {
    let listeners = call
        .control
        .list_listeners(&call.principal, &LoadBalancerId::new(req.load_balancer_id))
        .await
        .map_err(fail)?;
    let mut out = Vec::new();
    for l in listeners
        .iter()
        .filter(|l| {
            req.listener_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == l.id.as_str()))
        })
        .filter(|l| {
            req.protocol
                .as_ref()
                .is_none_or(|p| p.eq_ignore_ascii_case(l.protocol.as_str()))
        })
    {
        out.push(listener_view(&call.control, call, l).await?);
    }
    Ok(json!({"listeners": out}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListenerRef {
    load_balancer_id: String,
    listener_id: String,
}

/// The listener, provided it belongs to the named load balancer.
async fn listener_of(call: &Call, lb_id: &str, listener_id: &str) -> Result<Listener, ZcError> {
    let listener = call
        .control
        .get_listener(&call.principal, &ListenerId::new(listener_id))
        .await
        .map_err(fail)?;
    if listener.lb_id.as_str() != lb_id {
        return Err(fail(
            Error::not_found(ResourceKind::Listener, listener_id).into(),
        ));
    }
    Ok(listener)
}

async fn delete_listener(call: &Call, req: ListenerRef) -> ActionResult {
    let listener = listener_of(call, &req.load_balancer_id, &req.listener_id).await?;
    call.control
        .delete_listener(&call.principal, listener.id)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BackendServer {
    instance_id: Option<String>,
    private_ip_address: Option<String>,
    weight: Option<i64>,
    port: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BackendServers {
    load_balancer_id: String,
    listener_id: String,
    backend_servers: Vec<BackendServer>,
}

/// The listener's pool, checked to be on the named load balancer inside
/// the command itself (no separate read).
fn target(req: &BackendServers) -> RegisterTarget {
    RegisterTarget::ListenerOn(
        LoadBalancerId::new(req.load_balancer_id.as_str()),
        ListenerId::new(req.listener_id.as_str()),
    )
}

async fn register_backend(call: &Call, req: BackendServers) -> ActionResult {
    let target = target(&req);
    let backends = req
        .backend_servers
        .into_iter()
        .map(|s| BackendSpec {
            instance_id: s.instance_id,
            address: s.private_ip_address,
            port: s.port,
            weight: s.weight,
            ..BackendSpec::default()
        })
        .collect();
    call.control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target,
                backends,
                policy: policy(),
                client_token: None,
            },
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

fn selector(s: &BackendServer) -> BackendSelector {
    BackendSelector {
        instance_id: s.instance_id.clone(),
        address: if s.instance_id.is_some() {
            None
        } else {
            s.private_ip_address.clone()
        },
        port: s.port,
    }
}

async fn modify_backend(call: &Call, req: BackendServers) -> ActionResult {
    let changes = req
        .backend_servers
        .iter()
        .map(|s| {
            (
                selector(s),
                BackendUpdate {
                    weight: s.weight,
                    ..BackendUpdate::default()
                },
            )
        })
        .collect();
    call.control
        .update_selected(
            &call.principal,
            target(&req),
            changes,
            policy(),
            "backendServers",
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

async fn deregister_backend(call: &Call, req: BackendServers) -> ActionResult {
    let selectors = req.backend_servers.iter().map(selector).collect();
    call.control
        .deregister_selected(
            &call.principal,
            target(&req),
            selectors,
            WhenMissing::Fail,
            "backendServers",
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeBackends {
    load_balancer_id: String,
    listener_id: Option<String>,
}

/// Zenlayer's health words for the data plane's view.
pub fn health_status(live: Option<&weir_core::status::BackendLive>) -> &'static str {
    match live.map(|l| l.state) {
        None | Some(BackendState::Checking) => "UNKNOWN",
        Some(BackendState::Healthy) => "HEALTHY",
        Some(BackendState::Unhealthy) => "UNHEALTHY",
        Some(BackendState::Draining) => "DRAINING",
        Some(BackendState::Drained | BackendState::Disabled) => "DISABLED",
    }
}

async fn describe_backends(call: &Call, req: DescribeBackends, health: bool) -> ActionResult {
    let listeners = match &req.listener_id {
        Some(id) => vec![listener_of(call, &req.load_balancer_id, id).await?],
        None => call
            .control
            .list_listeners(&call.principal, &LoadBalancerId::new(req.load_balancer_id))
            .await
            .map_err(fail)?,
    };
    let mut out = Vec::new();
    for l in &listeners {
        let (_, _, backends) = call
            .control
            .backends_of(&call.principal, &RegisterTarget::Listener(l.id.clone()))
            .await
            .map_err(fail)?;
        for b in &backends {
            let mut view = json!({
                "instanceId": b.instance_id.as_ref().map(|i| i.as_str()),
                "privateIpAddress": b.address.to_string(),
                "weight": b.weight,
                "backendPort": match b.ports.key() { 0 => None, p => Some(p) },
                "listenerId": l.id.as_str(),
                "listenerName": l.name,
                "protocol": l.protocol.as_str().to_ascii_uppercase(),
                "listenerPort": l.single_port(),
            });
            if health {
                let status = health_status(call.control.backend_live(&b.id).as_ref());
                view["healthStatus"] = json!(status);
                // One entry per port; a Weir backend has one traffic port.
                view["healthStatusDetail"] =
                    json!([{"port": view["backendPort"].clone(), "healthStatus": status}]);
            }
            out.push(view);
        }
    }
    Ok(json!({"backends": out}))
}
