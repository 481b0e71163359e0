//! BMC load balancing (`x-zc-version: 2026-02-01`, and the deprecated
//! `2022-11-20` client): one named backend per call with `clientToken`
//! idempotency (seed 001), backends addressed by `backendId`.

use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{RegisterRequest, RegisterTarget};
use weir_core::backend::BackendUpdate;
use weir_core::ids::*;
use weir_core::loadbalancer::{NewListener, NewLoadBalancer};
use weir_core::model::*;
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};

use super::zlb::{health_status, kind, kind_name, page, scheduler, scheduler_name};
use super::{unknown_action, ActionResult, Call, Service, ZcError};

/// The API version whose RegisterBackend carries `instanceType`.
const VERSION_WITH_INSTANCE_TYPE: &str = "2026-02-01";

/// Seed 001's rules: a required name of letters, digits, `-` and `.`,
/// weight 1-100, bare metal registered by instance id.
pub fn policy() -> RegisterPolicy {
    RegisterPolicy {
        duplicates: DuplicatePolicy::Reject,
        weight_range: (1, 100),
        default_weight: 100,
        max_per_request: None,
        unique_instance_per_listener: true,
        address_requires_instance: false,
        bare_metal_by_address_only: false,
        bare_metal_needs_border_gateway: false,
        name_rule: NameRule::LettersDigitsDashDot,
        ..RegisterPolicy::native()
    }
}

/// Every action the BMC dispatcher serves, in its order; the tenant
/// isolation sweep (`tests/isolation.rs`) checks that it probes each one
/// and that this list is the dispatcher's.
pub const ACTIONS: &[&str] = &[
    "CreateLoadBalancer",
    "DescribeLoadBalancers",
    "DescribeLoadBalancerZones",
    "CreateListener",
    "DescribeListeners",
    "DeleteListener",
    "RegisterBackend",
    "DescribeBackends",
    "DeregisterBackend",
    "ModifyBackendWeight",
];

pub(super) async fn dispatch(call: &Call, action: &str, body: &[u8]) -> ActionResult {
    match action {
        "CreateLoadBalancer" => create_load_balancer(call, call.parse(body)?).await,
        "DescribeLoadBalancers" => describe_load_balancers(call, call.parse(body)?).await,
        "DescribeLoadBalancerZones" => {
            let _: DescribeZones = call.parse(body)?;
            Ok(json!({
                "zoneIdSet": call.control.settings().regions.clone()
            }))
        }
        "CreateListener" => create_listener(call, call.parse(body)?).await,
        "DescribeListeners" => describe_listeners(call, call.parse(body)?).await,
        "DeleteListener" => delete_listener(call, call.parse(body)?).await,
        "RegisterBackend" => register_backend(call, call.parse(body)?).await,
        "DescribeBackends" => describe_backends(call, call.parse(body)?).await,
        "DeregisterBackend" => deregister_backend(call, call.parse(body)?).await,
        "ModifyBackendWeight" => modify_backend_weight(call, call.parse(body)?).await,
        other => Err(unknown_action(other)),
    }
}

fn fail(e: weir_control::ControlError) -> ZcError {
    ZcError::from_control(e, Service::Bmc)
}

/// DescribeLoadBalancerZones: every zone serves every charge type, so the
/// `chargeType` filter leaves the list whole.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeZones {
    #[allow(dead_code, reason = "a string is required, and every zone matches it")]
    charge_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateLoadBalancer {
    zone_id: String,
    load_balancer_name: Option<String>,
    subnet_id: String,
    client_token: Option<String>,
}

async fn create_load_balancer(call: &Call, req: CreateLoadBalancer) -> ActionResult {
    call.check_region("zoneId", &req.zone_id)?;
    let lb = call
        .control
        .create_load_balancer_once(
            &call.principal,
            SubnetId::new(req.subnet_id),
            NewLoadBalancer {
                name: req.load_balancer_name.unwrap_or_default(),
                vip: None,
                vpc_id: None,
                stopped: false,
                ..Default::default()
            },
            req.client_token,
        )
        .await
        .map_err(fail)?;
    Ok(json!({"loadBalancerId": lb.id.as_str(), "orderNumber": lb.id.as_str()}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeLoadBalancers {
    load_balancer_ids: Option<Vec<String>>,
    zone_id: Option<String>,
    load_balancer_name: Option<String>,
    page_num: Option<u32>,
    page_size: Option<u32>,
}

async fn describe_load_balancers(call: &Call, req: DescribeLoadBalancers) -> ActionResult {
    if let Some(zone) = &req.zone_id {
        call.check_region("zoneId", zone)?;
    }
    let all = call
        .control
        .list_load_balancers(&call.principal)
        .await
        .map_err(fail)?;
    let chosen: Vec<LoadBalancer> = all
        .into_iter()
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
    let data: Vec<Value> = chosen
        .iter()
        .map(|lb| {
            json!({
                "loadBalancerId": lb.id.as_str(),
                "zoneId": call.control.settings().default_region(),
                "loadBalancerName": lb.name,
                "vipList": [{"ipAddress": lb.vip.to_string(), "type": "PRIVATE", "status": "ACTIVE"}],
                "status": lb.status.as_str(),
                "isWorking": lb.status == LbStatus::Running,
                "createTime": super::zc_time(lb.created_at),
            })
        })
        .collect();
    Ok(json!({"totalCount": total, "dataSet": data}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HealthCheck {
    check_enabled: Option<bool>,
    check_type: Option<String>,
    check_connect_timeout: Option<u64>,
    check_retry: Option<u32>,
    check_interval_time: Option<u64>,
    check_port: Option<u32>,
    http_check_path: Option<String>,
    http_code: Option<Value>,
}

fn health_spec(hc: &HealthCheck) -> Result<Option<HealthCheckSpec>, ZcError> {
    super::health_spec(super::CheckFields {
        enabled: hc.check_enabled,
        kind: hc.check_type.as_deref(),
        port: hc.check_port,
        interval_secs: hc.check_interval_time,
        timeout_secs: hc.check_connect_timeout,
        retry: hc.check_retry,
        path: hc.http_check_path.as_deref(),
        host: None,
        codes: hc.http_code.as_ref(),
        codes_field: "httpCode",
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateListener {
    load_balancer_id: String,
    listener_name: Option<String>,
    port_list: Vec<u32>,
    protocol: String,
    scheduler: Option<String>,
    kind: Option<String>,
    health_check: Option<HealthCheck>,
    /// A replay of the same create answers the listener it made.
    client_token: Option<String>,
}

async fn create_listener(call: &Call, req: CreateListener) -> ActionResult {
    let (port, port_ranges) = match req.port_list.as_slice() {
        [] => return Err(ZcError::invalid("portList must name at least one port")),
        [one] => (Some(*one), None),
        many => (None, Some(many.iter().map(|p| (*p, *p)).collect())),
    };
    let health = match &req.health_check {
        Some(hc) => Some(health_spec(hc)?),
        None => None,
    };
    let listener = call
        .control
        .create_listener_with_pool_once(
            &call.principal,
            LoadBalancerId::new(req.load_balancer_id),
            NewListener {
                name: req.listener_name.unwrap_or_default(),
                protocol: req.protocol.to_ascii_lowercase(),
                port,
                port_ranges,
                all_ports: false,
                forwarding_mode: Some(kind(req.kind.as_deref().unwrap_or("FNAT"))?.to_owned()),
                scheduler: Some(scheduler(req.scheduler.as_deref().unwrap_or("wrr"))?.to_owned()),
                proxy_protocol: None,
                backend_port: None,
                group_pool_id: None,
                max_connections: None,
                idle_timeout_ms: None,
                connect_timeout_ms: None,
                backend_timeout_ms: None,
                inspect_timeout_ms: None,
                allowed_cidrs: Vec::new(),
                ..Default::default()
            },
            PoolUpdate {
                health_check: health,
                drain_timeout_ms: None,
                slow_start_ms: None,
                name: None,
                ..Default::default()
            },
            None,
            req.client_token,
        )
        .await
        .map_err(fail)?;
    Ok(json!({"listenerId": listener.id.as_str()}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeListeners {
    listener_ids: Option<Vec<String>>,
    load_balancer_ids: Option<Vec<String>>,
    listener_name: Option<String>,
    page_num: Option<u32>,
    page_size: Option<u32>,
}

fn port_list(ports: &ListenerPorts) -> Vec<u32> {
    match ports {
        ListenerPorts::All => Vec::new(),
        other => other
            .ranges()
            .iter()
            .flat_map(|r| u32::from(r.start)..=u32::from(r.end))
            .take(1024)
            .collect(),
    }
}

/// Every listener the caller sees on the named (or all) load balancers.
async fn listeners(call: &Call, lb_ids: Option<&Vec<String>>) -> Result<Vec<Listener>, ZcError> {
    let ids: Vec<LoadBalancerId> = match lb_ids {
        Some(ids) => ids
            .iter()
            .map(|i| LoadBalancerId::new(i.as_str()))
            .collect(),
        None => call
            .control
            .list_load_balancers(&call.principal)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|lb| lb.id)
            .collect(),
    };
    let mut out = Vec::new();
    for id in &ids {
        out.extend(
            call.control
                .list_listeners(&call.principal, id)
                .await
                .map_err(fail)?,
        );
    }
    Ok(out)
}

async fn describe_listeners(call: &Call, req: DescribeListeners) -> ActionResult {
    let chosen: Vec<Listener> = listeners(call, req.load_balancer_ids.as_ref())
        .await?
        .into_iter()
        .filter(|l| {
            req.listener_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == l.id.as_str()))
        })
        .filter(|l| {
            req.listener_name
                .as_ref()
                .is_none_or(|n| l.name.contains(n.as_str()))
        })
        .collect();
    let (total, chosen) = page(chosen, req.page_num, req.page_size)?;
    let data: Vec<Value> = chosen
        .iter()
        .map(|l| {
            json!({
                "loadBalancerId": l.lb_id.as_str(),
                "listenerId": l.id.as_str(),
                "listenerName": l.name,
                "status": "RUNNING",
                "port": port_list(&l.ports),
                "protocol": bmc_protocol(l.protocol),
                "backendProtocol": bmc_protocol(l.protocol),
                "scheduler": scheduler_name(l.scheduler),
                "kind": kind_name(l.forwarding_mode),
                "createTime": super::zc_time(l.created_at),
            })
        })
        .collect();
    Ok(json!({"totalCount": total, "dataSet": data}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListenerRef {
    listener_id: String,
}

async fn delete_listener(call: &Call, req: ListenerRef) -> ActionResult {
    call.control
        .delete_listener(&call.principal, ListenerId::new(req.listener_id))
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterBackend {
    listener_id: String,
    backend_name: String,
    instance_id: String,
    instance_type: Option<String>,
    client_token: String,
    port_list: Option<Vec<i64>>,
    weight: Option<i64>,
}

fn instance_type(text: &str) -> Result<InstanceType, ZcError> {
    match text.to_ascii_uppercase().as_str() {
        "BM" | "BMC" => Ok(InstanceType::Bm),
        "VM" => Ok(InstanceType::Vm),
        other => Err(ZcError::invalid(format!(
            "instanceType {other:?} is not BM or VM"
        ))),
    }
}

fn instance_type_name(t: InstanceType) -> &'static str {
    match t {
        InstanceType::Bm => "BM",
        InstanceType::Vm => "VM",
    }
}

async fn register_backend(call: &Call, req: RegisterBackend) -> ActionResult {
    // The type is part of the 2026-02-01 API only, where it defaults to BM;
    // the deprecated client cannot send it, so nothing is assumed there.
    let expected = if call.version == VERSION_WITH_INSTANCE_TYPE {
        Some(instance_type(req.instance_type.as_deref().unwrap_or("BM"))?)
    } else {
        req.instance_type
            .as_deref()
            .map(instance_type)
            .transpose()?
    };
    let (port, ports) = match req.port_list {
        Some(list) if list.len() == 1 => (Some(list[0]), None),
        Some(list) => (None, Some(list)),
        None => (None, None),
    };
    let outcome = call
        .control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target: RegisterTarget::Listener(ListenerId::new(req.listener_id)),
                backends: vec![BackendSpec {
                    instance_id: Some(req.instance_id),
                    port,
                    ports,
                    weight: req.weight,
                    name: Some(req.backend_name),
                    instance_type: expected,
                    ..BackendSpec::default()
                }],
                policy: policy(),
                client_token: Some(req.client_token),
            },
        )
        .await
        .map_err(fail)?;
    let id = outcome
        .backends
        .first()
        .map(|b| b.id.to_string())
        .unwrap_or_default();
    Ok(json!({"backendId": id}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DescribeBackends {
    listener_id: Option<String>,
    backend_ids: Option<Vec<String>>,
    backend_name: Option<String>,
    instance_type: Option<String>,
    page_num: Option<u32>,
    page_size: Option<u32>,
}

async fn describe_backends(call: &Call, req: DescribeBackends) -> ActionResult {
    let wanted_type = req
        .instance_type
        .as_deref()
        .map(instance_type)
        .transpose()?;
    let listener_list = match &req.listener_id {
        Some(id) => vec![call
            .control
            .get_listener(&call.principal, &ListenerId::new(id.as_str()))
            .await
            .map_err(fail)?],
        None => listeners(call, None).await?,
    };
    let mut rows: Vec<(Backend, Option<Instance>)> = Vec::new();
    for l in &listener_list {
        let (_, _, backends) = call
            .control
            .backends_of(&call.principal, &RegisterTarget::Listener(l.id.clone()))
            .await
            .map_err(fail)?;
        for b in backends {
            if req
                .backend_ids
                .as_ref()
                .is_some_and(|ids| !ids.iter().any(|i| i == b.id.as_str()))
            {
                continue;
            }
            if req
                .backend_name
                .as_ref()
                .is_some_and(|n| !b.name.contains(n.as_str()))
            {
                continue;
            }
            let instance = match &b.instance_id {
                Some(id) => call.control.get_instance(&call.principal, id).await.ok(),
                None => None,
            };
            if wanted_type.is_some_and(|t| instance.as_ref().map(|i| i.instance_type) != Some(t)) {
                continue;
            }
            rows.push((b, instance));
        }
    }
    let (total, rows) = page(rows, req.page_num, req.page_size)?;
    let data: Vec<Value> = rows
        .iter()
        .map(|(b, inst)| {
            let ports: Vec<u16> = match &b.ports {
                BackendPorts::Inherit => Vec::new(),
                BackendPorts::One(p) => vec![*p],
                BackendPorts::List(l) => l.clone(),
            };
            json!({
                "listenerId": b.listener_id.as_ref().map(|l| l.as_str()),
                "backendId": b.id.as_str(),
                "backendName": b.name,
                "status": health_status(call.control.backend_live(&b.id).as_ref()),
                "port": ports,
                "weight": b.weight,
                "instanceId": b.instance_id.as_ref().map(|i| i.as_str()),
                "instanceType": inst.as_ref().map(|i| instance_type_name(i.instance_type)),
                "instanceName": inst.as_ref().map(|i| i.name.clone()),
                "createTime": super::zc_time(b.created_at),
            })
        })
        .collect();
    Ok(json!({"totalCount": total, "dataSet": data}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BackendRef {
    backend_id: String,
}

async fn deregister_backend(call: &Call, req: BackendRef) -> ActionResult {
    call.control
        .delete_backend(&call.principal, BackendId::new(req.backend_id))
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ModifyBackendWeight {
    backend_id: String,
    weight: i64,
}

async fn modify_backend_weight(call: &Call, req: ModifyBackendWeight) -> ActionResult {
    call.control
        .update_backend(
            &call.principal,
            BackendId::new(req.backend_id),
            BackendUpdate {
                weight: Some(req.weight),
                ..BackendUpdate::default()
            },
            policy(),
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

/// BMC's name of a listener protocol; a TLS passthrough listener (made
/// through Octavia) is TCP here.
fn bmc_protocol(p: Protocol) -> String {
    if p.is_stream_relay() {
        "TCP".to_owned()
    } else {
        p.as_str().to_ascii_uppercase()
    }
}
