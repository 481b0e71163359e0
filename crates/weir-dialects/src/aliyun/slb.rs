//! SLB actions: load balancers, TCP/UDP/HTTP listeners and the default
//! server group (`AddBackendServers` of seed 003, `RemoveBackendServers`,
//! `SetBackendServers`), translated to control calls. The default server
//! group is the load balancer's LB-wide pool; each listener dials its
//! servers on `BackendServerPort`.

use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{RegisterRequest, RegisterTarget};
use weir_core::backend::{BackendSelector, BackendUpdate, WhenMissing};
use weir_core::group::{is_server_group, NewServerGroup, WhenInUse};
use weir_core::ids::*;
use weir_core::loadbalancer::{LbAction, NewListener, NewLoadBalancer};
use weir_core::model::*;
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};
use weir_core::status::BackendState;
use weir_core::Timestamp;

use super::{AliError, Call};
use crate::common::Lenient;

/// Most servers one call may name (seed 003).
const PER_CALL: usize = 20;

/// Remove, Set and Modify name at most [`PER_CALL`] servers, as Add does.
fn at_most_per_call(len: usize, param: &str) -> Result<(), AliError> {
    if len > PER_CALL {
        return Err(AliError::invalid(format!(
            "The parameter {param} names more than {PER_CALL} servers."
        )));
    }
    Ok(())
}

/// Seed 003's rules: at most 20 servers per call, duplicates in one call
/// first-wins, weight 0-100 defaulting to 100; the ECS must be running
/// (a rule of every dialect).
pub fn policy() -> RegisterPolicy {
    RegisterPolicy {
        duplicates: DuplicatePolicy::FirstWins,
        weight_range: (0, 100),
        default_weight: 100,
        max_per_request: Some(PER_CALL),
        unique_instance_per_listener: true,
        address_requires_instance: false,
        bare_metal_by_address_only: false,
        name_rule: NameRule::Free,
        ..RegisterPolicy::native()
    }
}

/// VServer groups give each server its port, so one ECS may serve on
/// several ports of a group.
pub fn group_policy() -> RegisterPolicy {
    RegisterPolicy {
        unique_instance_per_listener: false,
        ..policy()
    }
}

type ActionResult = Result<Value, AliError>;

/// Every action the SLB dispatcher serves, in its order; the tenant
/// isolation sweep (`tests/isolation.rs`) checks that it probes each one
/// and that this list is the dispatcher's.
pub const ACTIONS: &[&str] = &[
    "CreateLoadBalancer",
    "DescribeLoadBalancers",
    "DescribeLoadBalancerAttribute",
    "SetLoadBalancerStatus",
    "DeleteLoadBalancer",
    "CreateLoadBalancerTCPListener",
    "CreateLoadBalancerUDPListener",
    "CreateLoadBalancerHTTPListener",
    "StartLoadBalancerListener",
    "StopLoadBalancerListener",
    "DeleteLoadBalancerListener",
    "AddBackendServers",
    "RemoveBackendServers",
    "SetBackendServers",
    "DescribeHealthStatus",
    "CreateVServerGroup",
    "DescribeVServerGroups",
    "DescribeVServerGroupAttribute",
    "AddVServerGroupBackendServers",
    "RemoveVServerGroupBackendServers",
    "SetVServerGroupAttribute",
    "ModifyVServerGroupBackendServers",
    "DeleteVServerGroup",
    "UploadServerCertificate",
    "DescribeServerCertificates",
    "DeleteServerCertificate",
];

pub(super) async fn dispatch(call: &Call, action: &str) -> ActionResult {
    match action {
        "CreateLoadBalancer" => create_load_balancer(call).await,
        "DescribeLoadBalancers" => describe_load_balancers(call).await,
        "DescribeLoadBalancerAttribute" => describe_load_balancer_attribute(call).await,
        "SetLoadBalancerStatus" => set_load_balancer_status(call).await,
        "DeleteLoadBalancer" => delete_load_balancer(call).await,
        "CreateLoadBalancerTCPListener" => create_listener(call, "tcp").await,
        "CreateLoadBalancerUDPListener" => create_listener(call, "udp").await,
        "CreateLoadBalancerHTTPListener" => create_listener(call, "http").await,
        "StartLoadBalancerListener" => set_listener_enabled(call, true).await,
        "StopLoadBalancerListener" => set_listener_enabled(call, false).await,
        "DeleteLoadBalancerListener" => delete_listener(call).await,
        "AddBackendServers" => add_backend_servers(call).await,
        "RemoveBackendServers" => remove_backend_servers(call).await,
        "SetBackendServers" => set_backend_servers(call).await,
        "DescribeHealthStatus" => describe_health_status(call).await,
        "CreateVServerGroup" => create_vserver_group(call).await,
        "DescribeVServerGroups" => describe_vserver_groups(call).await,
        "DescribeVServerGroupAttribute" => describe_vserver_group(call).await,
        "AddVServerGroupBackendServers" => add_vserver_group_servers(call).await,
        "RemoveVServerGroupBackendServers" => remove_vserver_group_servers(call).await,
        "SetVServerGroupAttribute" => set_vserver_group_attribute(call).await,
        "ModifyVServerGroupBackendServers" => modify_vserver_group_servers(call).await,
        "DeleteVServerGroup" => delete_vserver_group(call).await,
        "UploadServerCertificate" => super::certificates::upload(call).await,
        "DescribeServerCertificates" => super::certificates::describe(call).await,
        "DeleteServerCertificate" => super::certificates::delete(call).await,
        other => Err(AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            format!("Specified api {other} is not found, please check your url and method."),
        )),
    }
}

fn fail(e: weir_control::ControlError) -> AliError {
    AliError::from_control(e)
}

fn region(call: &Call) -> String {
    call.params
        .opt("RegionId")
        .unwrap_or_else(|| call.dialects.control.settings().default_region())
        .to_owned()
}

fn status_name(s: LbStatus) -> &'static str {
    match s {
        LbStatus::Running => "active",
        LbStatus::Stopped => "inactive",
        LbStatus::Creating => "inactive",
        LbStatus::Error => "locked",
    }
}

fn time_fields(t: Timestamp) -> (String, i64) {
    let text = t.to_string();
    // Alibaba prints minutes: 2026-11-24T18:05Z.
    (format!("{}Z", &text[..16]), t.millis())
}

async fn lb(call: &Call) -> Result<LoadBalancer, AliError> {
    let id = call.params.req("LoadBalancerId")?;
    call.dialects
        .control
        .get_load_balancer(&call.principal, &LoadBalancerId::new(id))
        .await
        .map_err(fail)
}

async fn create_load_balancer(call: &Call) -> ActionResult {
    let p = &call.params;
    p.req("RegionId")?;
    let subnet = p.req("VSwitchId")?;
    let lb = call
        .dialects
        .control
        .create_load_balancer_once(
            &call.principal,
            SubnetId::new(subnet),
            NewLoadBalancer {
                name: p.opt("LoadBalancerName").unwrap_or_default().to_owned(),
                vip: p.opt("Address").map(str::to_owned),
                vpc_id: p.opt("VpcId").map(str::to_owned),
                stopped: false,
                ..Default::default()
            },
            p.opt("ClientToken").map(str::to_owned),
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "LoadBalancerId": lb.id.as_str(),
        "Address": lb.vip.to_string(),
        "LoadBalancerName": lb.name,
        "VpcId": lb.vpc_id.as_str(),
        "VSwitchId": lb.subnet_id.as_str(),
        "NetworkType": "vpc",
        "AddressIPVersion": if lb.vip.is_ipv4() { "ipv4" } else { "ipv6" },
    }))
}

fn lb_summary(call: &Call, lb: &LoadBalancer) -> Value {
    let (create_time, stamp) = time_fields(lb.created_at);
    json!({
        "LoadBalancerId": lb.id.as_str(),
        "LoadBalancerName": lb.name,
        "LoadBalancerStatus": status_name(lb.status),
        "Address": lb.vip.to_string(),
        "AddressType": "intranet",
        "AddressIPVersion": if lb.vip.is_ipv4() { "ipv4" } else { "ipv6" },
        "VpcId": lb.vpc_id.as_str(),
        "VSwitchId": lb.subnet_id.as_str(),
        "NetworkType": "vpc",
        "RegionId": region(call),
        "CreateTime": create_time,
        "CreateTimeStamp": stamp,
    })
}

async fn describe_load_balancers(call: &Call) -> ActionResult {
    let p = &call.params;
    let ids: Option<Vec<&str>> = p
        .opt("LoadBalancerId")
        .map(|v| v.split(',').map(str::trim).collect());
    let all = call
        .dialects
        .control
        .list_load_balancers(&call.principal)
        .await
        .map_err(fail)?;
    let chosen: Vec<&LoadBalancer> = all
        .iter()
        .filter(|lb| ids.as_ref().is_none_or(|ids| ids.contains(&lb.id.as_str())))
        .filter(|lb| p.opt("VpcId").is_none_or(|v| v == lb.vpc_id.as_str()))
        .filter(|lb| {
            p.opt("VSwitchId")
                .is_none_or(|v| v == lb.subnet_id.as_str())
        })
        .filter(|lb| p.opt("LoadBalancerName").is_none_or(|n| lb.name == n))
        .collect();
    let number = p.int("PageNumber")?.unwrap_or(1);
    let size = p.int("PageSize")?.unwrap_or(50);
    if number < 1 || !(1..=100).contains(&size) {
        return Err(AliError::invalid(
            "PageNumber starts at 1 and PageSize is 1-100.",
        ));
    }
    let skip = usize::try_from((number - 1) * size).unwrap_or(usize::MAX);
    let page: Vec<Value> = chosen
        .iter()
        .skip(skip)
        .take(usize::try_from(size).unwrap_or(50))
        .map(|lb| lb_summary(call, lb))
        .collect();
    Ok(json!({
        "TotalCount": chosen.len(),
        "PageNumber": number,
        "PageSize": size,
        "LoadBalancers": {"LoadBalancer": page},
    }))
}

fn server_type(b: &Backend) -> &'static str {
    if b.instance_id.is_some() {
        "ecs"
    } else {
        "ip"
    }
}

fn server_view(b: &Backend) -> Value {
    json!({
        "ServerId": b.instance_id.as_ref().map_or_else(|| b.address.to_string(), |i| i.to_string()),
        "Weight": b.weight,
        "Type": server_type(b),
        "ServerIp": b.address.to_string(),
        "Description": b.name,
    })
}

async fn default_group(call: &Call, lb: &LoadBalancer) -> Result<Vec<Backend>, AliError> {
    Ok(call
        .dialects
        .control
        .backends_of(
            &call.principal,
            &RegisterTarget::LoadBalancer(lb.id.clone()),
        )
        .await
        .map_err(fail)?
        .2)
}

async fn describe_load_balancer_attribute(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let listeners = call
        .dialects
        .control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?;
    let servers: Vec<Value> = default_group(call, &lb)
        .await?
        .iter()
        .map(|b| {
            let mut v = server_view(b);
            v["VpcId"] = json!(lb.vpc_id.as_str());
            v
        })
        .collect();
    let mut out = lb_summary(call, &lb);
    out["ListenerPorts"] = json!({"ListenerPort": listeners.iter().filter_map(Listener::single_port).collect::<Vec<_>>()});
    out["ListenerPortsAndProtocol"] = json!({"ListenerPortAndProtocol": listeners.iter().map(|l| json!({
        "ListenerPort": l.single_port(),
        "ListenerProtocol": l.protocol.as_str(),
        "Description": l.name,
        "ListenerStatus": if l.enabled { "running" } else { "stopped" },
    })).collect::<Vec<_>>()});
    out["BackendServers"] = json!({"BackendServer": servers});
    Ok(out)
}

async fn set_load_balancer_status(call: &Call) -> ActionResult {
    let action = match call.params.req("LoadBalancerStatus")? {
        "active" => LbAction::Start,
        "inactive" => LbAction::Stop,
        other => {
            return Err(AliError::invalid(format!(
                "The parameter LoadBalancerStatus is invalid: {other:?} is not active or inactive."
            )))
        }
    };
    let lb = lb(call).await?;
    call.dialects
        .control
        .load_balancer_action(&call.principal, lb.id, action)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

async fn delete_load_balancer(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    call.dialects
        .control
        .delete_load_balancer(&call.principal, lb.id, true)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

fn scheduler(name: &str) -> Result<&'static str, AliError> {
    match name {
        "wrr" | "rr" => Ok("wrr"),
        "wlc" => Ok("lc"),
        "sch" | "tch" | "qch" => Ok("sh"),
        other => Err(AliError::invalid(format!(
            "The parameter Scheduler is invalid: {other:?} is not wrr, rr, wlc, sch, tch or qch."
        ))),
    }
}

/// `http_2xx,http_3xx` as the core's code ranges.
fn http_codes(text: &str) -> Result<String, AliError> {
    text.split(',')
        .map(|c| match c.trim() {
            "http_2xx" => Ok("200-299"),
            "http_3xx" => Ok("300-399"),
            "http_4xx" => Ok("400-499"),
            "http_5xx" => Ok("500-599"),
            other => Err(AliError::invalid(format!(
                "The parameter HealthCheckHttpCode is invalid: {other:?}."
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|v| v.join(","))
}

fn health_spec(call: &Call, protocol: &str) -> Result<Option<HealthCheckSpec>, AliError> {
    let p = &call.params;
    // `HealthCheck` (HTTP listeners) or `HealthCheckSwitch` (TCP/UDP)
    // turns the check on or off; without either, naming any check
    // parameter asks for one.
    const CHECK_PARAMS: &[&str] = &[
        "HealthCheckType",
        "HealthCheckInterval",
        "HealthCheckConnectPort",
        "HealthyThreshold",
        "UnhealthyThreshold",
        "HealthCheckConnectTimeout",
        "HealthCheckTimeout",
        "HealthCheckURI",
        "HealthCheckHttpCode",
    ];
    let switch = p.opt("HealthCheck").or_else(|| p.opt("HealthCheckSwitch"));
    let wanted = match switch {
        Some("on") => true,
        Some("off") => false,
        Some(other) => {
            return Err(AliError::invalid(format!(
                "The parameter HealthCheck is invalid: {other:?} is not on or off."
            )))
        }
        None => CHECK_PARAMS.iter().any(|name| p.opt(name).is_some()),
    };
    if !wanted {
        return Ok(None);
    }
    let kind = match (protocol, p.opt("HealthCheckType")) {
        ("http", _) | (_, Some("http")) => "http",
        (_, None | Some("tcp")) => "tcp",
        (_, Some(other)) => {
            return Err(AliError::invalid(format!(
                "The parameter HealthCheckType is invalid: {other:?} is not tcp or http."
            )))
        }
    };
    let secs = |name: &str| -> Result<Option<u64>, AliError> {
        Ok(p.int(name)?
            .map(|s| u64::try_from(s).unwrap_or(0).saturating_mul(1000)))
    };
    let count = |name: &str| -> Result<Option<u32>, AliError> {
        Ok(p.int(name)?.map(|c| u32::try_from(c).unwrap_or(0)))
    };
    Ok(Some(HealthCheckSpec {
        kind: kind.to_owned(),
        interval_ms: secs("HealthCheckInterval")?,
        timeout_ms: match secs("HealthCheckConnectTimeout")? {
            Some(t) => Some(t),
            None => secs("HealthCheckTimeout")?,
        },
        rise: count("HealthyThreshold")?,
        fall: count("UnhealthyThreshold")?,
        port: count("HealthCheckConnectPort")?,
        path: p.opt("HealthCheckURI").map(str::to_owned),
        expected_codes: p.opt("HealthCheckHttpCode").map(http_codes).transpose()?,
        ..HealthCheckSpec::default()
    }))
}

async fn create_listener(call: &Call, protocol: &str) -> ActionResult {
    let p = &call.params;
    let lb = lb(call).await?;
    let port = p
        .int("ListenerPort")?
        .ok_or_else(|| AliError::missing("ListenerPort"))?;
    let backend_port = p.int("BackendServerPort")?;
    let mut health = health_spec(call, protocol)?;
    // The default server group is checked on the port it serves.
    if let (Some(check), Some(port)) = (health.as_mut(), backend_port) {
        check.port = check.port.or(u32::try_from(port).ok());
    }
    let wide = |v: i64| u32::try_from(v).unwrap_or(0);
    call.dialects
        .control
        .create_listener_with_pool(
            &call.principal,
            lb.id,
            NewListener {
                name: p.opt("Description").unwrap_or_default().to_owned(),
                protocol: protocol.to_owned(),
                port: Some(wide(port)),
                port_ranges: None,
                all_ports: false,
                forwarding_mode: None,
                scheduler: Some(scheduler(p.opt("Scheduler").unwrap_or("wrr"))?.to_owned()),
                proxy_protocol: None,
                backend_port: backend_port.map(wide),
                group_pool_id: p.opt("VServerGroupId").map(str::to_owned),
                max_connections: None,
                idle_timeout_ms: None,
                connect_timeout_ms: None,
                backend_timeout_ms: None,
                inspect_timeout_ms: None,
                allowed_cidrs: Vec::new(),
                ..Default::default()
            },
            PoolUpdate {
                health_check: health.clone().map(Some),
                ..PoolUpdate::default()
            },
            // The listener's check watches the default server group.
            health.map(|check| PoolUpdate {
                health_check: Some(Some(check)),
                ..PoolUpdate::default()
            }),
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

/// The listener on `ListenerPort` (and `ListenerProtocol`, when given).
async fn listener(call: &Call, lb: &LoadBalancer) -> Result<Listener, AliError> {
    let p = &call.params;
    let port = p
        .int("ListenerPort")?
        .ok_or_else(|| AliError::missing("ListenerPort"))?;
    let protocol = p.opt("ListenerProtocol").map(str::to_ascii_lowercase);
    call.dialects
        .control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?
        .into_iter()
        .find(|l| {
            l.single_port().map(i64::from) == Some(port)
                && protocol
                    .as_deref()
                    .is_none_or(|pr| pr == l.protocol.as_str())
        })
        .ok_or_else(|| {
            AliError::new(
                axum::http::StatusCode::NOT_FOUND,
                "InvalidListener.NotFound",
                format!(
                    "There is no listener on port {port} of load balancer {}.",
                    lb.id
                ),
            )
        })
}

/// Start and Stop: the listener stays configured; stopped, it is not
/// served (its VIP port closes, open connections drain).
async fn set_listener_enabled(call: &Call, enabled: bool) -> ActionResult {
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    call.dialects
        .control
        .update_listener(
            &call.principal,
            l.id,
            weir_core::loadbalancer::ListenerUpdate {
                enabled: Some(enabled),
                ..Default::default()
            },
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

async fn delete_listener(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    call.dialects
        .control
        .delete_listener(&call.principal, l.id)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Server {
    server_id: Option<String>,
    port: Option<Lenient>,
    weight: Option<Lenient>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    server_ip: Option<String>,
    description: Option<String>,
}

fn servers(call: &Call) -> Result<Vec<Server>, AliError> {
    servers_in(call, "BackendServers")
}

fn servers_in(call: &Call, param: &str) -> Result<Vec<Server>, AliError> {
    let raw = call.params.req(param)?;
    let value: Value = serde_json::from_str(raw).map_err(|e| {
        AliError::invalid(format!(
            "The parameter BackendServers is not a JSON list: {e}"
        ))
    })?;
    serde_path_to_error::deserialize::<_, Vec<Server>>(value).map_err(|e| {
        AliError::invalid(format!(
            "The parameter BackendServers is invalid at {}: {}",
            e.path(),
            e.inner()
        ))
    })
}

fn check_type(i: usize, s: &Server) -> Result<(), AliError> {
    match s.kind.as_deref() {
        None | Some("ecs" | "eni" | "eci") => Ok(()),
        Some(other) => Err(AliError::invalid(format!(
            "The parameter BackendServers[{i}].Type is invalid: {other:?} is not ecs, eni or eci."
        ))),
    }
}

async fn add_backend_servers(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let list = servers(call)?;
    let mut specs = Vec::with_capacity(list.len());
    let mut types = Vec::with_capacity(list.len());
    for (i, s) in list.into_iter().enumerate() {
        check_type(i, &s)?;
        types.push(s.kind.clone().unwrap_or_else(|| "ecs".to_owned()));
        let id = s
            .server_id
            .ok_or_else(|| AliError::missing(&format!("BackendServers[{i}].ServerId")))?;
        specs.push(BackendSpec {
            instance_id: Some(id),
            // ENI backends name their IP; the core checks it is the
            // instance's.
            address: s.server_ip,
            weight: s.weight.map(|w| w.0),
            name: s.description,
            ..BackendSpec::default()
        });
    }
    let outcome = call
        .dialects
        .control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target: RegisterTarget::LoadBalancer(lb.id.clone()),
                backends: specs,
                policy: policy(),
                client_token: None,
            },
        )
        .await
        .map_err(fail)?;
    // Echo each added server with the Type it was sent with; first-wins
    // duplicates were skipped, so walk the request without them.
    let skipped: Vec<usize> = outcome.ignored.iter().map(|i| i.index).collect();
    let kinds = types
        .iter()
        .enumerate()
        .filter(|(i, _)| !skipped.contains(i))
        .map(|(_, t)| t);
    let added: Vec<Value> = outcome
        .backends
        .iter()
        .zip(kinds)
        .map(|(b, kind)| {
            let mut v = server_view(b);
            v["Type"] = json!(kind);
            v
        })
        .collect();
    Ok(json!({"LoadBalancerId": lb.id.as_str(), "BackendServers": {"BackendServer": added}}))
}

/// What SetBackendServers and SetVServerGroupAttribute change of a server.
fn server_update(s: &Server) -> BackendUpdate {
    BackendUpdate {
        weight: s.weight.map(|w| w.0),
        name: s.description.clone(),
        ..BackendUpdate::default()
    }
}

fn selector(s: &Server) -> BackendSelector {
    match &s.server_id {
        Some(id) if !id.is_empty() => BackendSelector {
            instance_id: Some(id.clone()),
            ..BackendSelector::default()
        },
        _ => BackendSelector {
            address: s.server_ip.clone(),
            ..BackendSelector::default()
        },
    }
}

async fn remove_backend_servers(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let list = servers(call)?;
    at_most_per_call(list.len(), "BackendServers")?;
    let selectors = list.iter().map(selector).collect();
    call.dialects
        .control
        .deregister_selected(
            &call.principal,
            RegisterTarget::LoadBalancer(lb.id.clone()),
            selectors,
            WhenMissing::Skip,
            "BackendServers",
        )
        .await
        .map_err(fail)?;
    let left: Vec<Value> = default_group(call, &lb)
        .await?
        .iter()
        .map(server_view)
        .collect();
    Ok(json!({"LoadBalancerId": lb.id.as_str(), "BackendServers": {"BackendServer": left}}))
}

async fn set_backend_servers(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let list = servers(call)?;
    at_most_per_call(list.len(), "BackendServers")?;
    let changes = list
        .iter()
        .map(|s| (selector(s), server_update(s)))
        .collect();
    call.dialects
        .control
        .update_selected(
            &call.principal,
            RegisterTarget::LoadBalancer(lb.id.clone()),
            changes,
            policy(),
            "BackendServers",
        )
        .await
        .map_err(fail)?;
    let all: Vec<Value> = default_group(call, &lb)
        .await?
        .iter()
        .map(server_view)
        .collect();
    Ok(json!({"LoadBalancerId": lb.id.as_str(), "BackendServers": {"BackendServer": all}}))
}

/// Alibaba's words: `unavailable` when the group is not checked (or has
/// no verdict yet).
fn health_word(call: &Call, b: &Backend, checked: bool) -> &'static str {
    if !checked {
        return "unavailable";
    }
    match call.dialects.control.backend_live(&b.id).map(|l| l.state) {
        Some(BackendState::Healthy) => "normal",
        Some(BackendState::Unhealthy) => "abnormal",
        _ => "unavailable",
    }
}

async fn describe_health_status(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let port = call.params.int("ListenerPort")?;
    let listeners: Vec<Listener> = call
        .dialects
        .control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|l| port.is_none_or(|p| l.single_port().map(i64::from) == Some(p)))
        .collect();
    let (pool, _, group) = call
        .dialects
        .control
        .backends_of(
            &call.principal,
            &RegisterTarget::LoadBalancer(lb.id.clone()),
        )
        .await
        .map_err(fail)?;
    let checked = pool.health_check.is_some();
    let mut rows = Vec::new();
    for l in &listeners {
        let listener_port = l.single_port();
        for b in &group {
            let port = match b.ports.key() {
                0 => l.backend_port.or(listener_port),
                p => Some(p),
            };
            rows.push(json!({
                "ServerId": b.instance_id.as_ref().map_or_else(|| b.address.to_string(), |i| i.to_string()),
                "ServerIp": b.address.to_string(),
                "Port": port,
                "ListenerPort": listener_port,
                "Protocol": l.protocol.as_str(),
                "ServerHealthStatus": health_word(call, b, checked),
            }));
        }
    }
    Ok(json!({"BackendServers": {"BackendServer": rows}}))
}

// === VServer groups: server groups with a port per server ===

/// The group named by `VServerGroupId`, with its load balancer.
async fn vserver_group(call: &Call) -> Result<(LoadBalancer, Pool), AliError> {
    let id = call.params.req("VServerGroupId")?;
    let not_found = || {
        AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            "InvalidVServerGroupId.NotFound",
            format!("The specified VServerGroupId {id} does not exist."),
        )
    };
    let control = &call.dialects.control;
    let pool = control
        .get_pool(&call.principal, &PoolId::new(id))
        .await
        .map_err(|_| not_found())?;
    let lb = control
        .get_load_balancer(&call.principal, &pool.lb_id)
        .await
        .map_err(fail)?;
    if !is_server_group(&lb, &pool) {
        return Err(not_found());
    }
    Ok((lb, pool))
}

/// Group servers: `ServerId` and `Port` required, as Alibaba's API has it.
fn group_specs(list: Vec<Server>, param: &str) -> Result<Vec<BackendSpec>, AliError> {
    if list.len() > PER_CALL {
        return Err(AliError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "InvalidParameter.BackendServersTooMany",
            format!("The parameter {param} names more than {PER_CALL} servers."),
        ));
    }
    let mut specs = Vec::with_capacity(list.len());
    for (i, s) in list.into_iter().enumerate() {
        check_type(i, &s)?;
        let id = s
            .server_id
            .ok_or_else(|| AliError::missing(&format!("{param}[{i}].ServerId")))?;
        let port = s
            .port
            .ok_or_else(|| AliError::missing(&format!("{param}[{i}].Port")))?;
        specs.push(BackendSpec {
            instance_id: Some(id),
            address: s.server_ip,
            port: Some(port.0),
            weight: s.weight.map(|w| w.0),
            name: s.description,
            ..BackendSpec::default()
        });
    }
    Ok(specs)
}

fn group_server_view(b: &Backend) -> Value {
    let mut v = server_view(b);
    v["Port"] = json!(b.ports.key());
    v
}

fn group_selector(s: &Server) -> BackendSelector {
    BackendSelector {
        port: s.port.map(|p| p.0),
        ..selector(s)
    }
}

async fn group_servers(call: &Call, pool: &Pool) -> Result<Vec<Value>, AliError> {
    Ok(call
        .dialects
        .control
        .backends_of(&call.principal, &RegisterTarget::Pool(pool.id.clone()))
        .await
        .map_err(fail)?
        .2
        .iter()
        .map(group_server_view)
        .collect())
}

async fn create_vserver_group(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let name = call.params.req("VServerGroupName")?.to_owned();
    let specs = match call.params.opt("BackendServers") {
        Some(_) => group_specs(servers(call)?, "BackendServers")?,
        None => Vec::new(),
    };
    let (pool, added) = call
        .dialects
        .control
        .create_server_group(
            &call.principal,
            lb.id,
            NewServerGroup {
                name,
                ..NewServerGroup::default()
            },
            None,
            specs,
            group_policy(),
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": added.iter().map(group_server_view).collect::<Vec<_>>()},
    }))
}

async fn describe_vserver_groups(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let control = &call.dialects.control;
    let listeners = control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?;
    let groups: Vec<Value> = control
        .list_pools(&call.principal, &lb.id)
        .await
        .map_err(fail)?
        .iter()
        .filter(|p| is_server_group(&lb, p))
        .map(|p| {
            let users: Vec<Value> = listeners
                .iter()
                .filter(|l| l.group_pool_id.as_ref() == Some(&p.id))
                .map(|l| json!({"Port": l.single_port(), "Protocol": l.protocol.as_str()}))
                .collect();
            json!({
                "VServerGroupId": p.id.as_str(),
                "VServerGroupName": p.name,
                "AssociatedObjects": {"Listeners": {"Listener": users}},
            })
        })
        .collect();
    Ok(json!({"VServerGroups": {"VServerGroup": groups}}))
}

async fn describe_vserver_group(call: &Call) -> ActionResult {
    let (lb, pool) = vserver_group(call).await?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "VServerGroupName": pool.name,
        "LoadBalancerId": lb.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

async fn add_vserver_group_servers(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let specs = group_specs(servers(call)?, "BackendServers")?;
    call.dialects
        .control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target: RegisterTarget::Pool(pool.id.clone()),
                backends: specs,
                policy: group_policy(),
                client_token: None,
            },
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

async fn remove_vserver_group_servers(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let list = servers(call)?;
    at_most_per_call(list.len(), "BackendServers")?;
    call.dialects
        .control
        .deregister_selected(
            &call.principal,
            RegisterTarget::Pool(pool.id.clone()),
            list.iter().map(group_selector).collect(),
            WhenMissing::Skip,
            "BackendServers",
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

async fn set_vserver_group_attribute(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let control = &call.dialects.control;
    if call.params.opt("BackendServers").is_some() {
        let list = servers(call)?;
        let changes = list
            .iter()
            .map(|s| (group_selector(s), server_update(s)))
            .collect();
        control
            .update_selected(
                &call.principal,
                RegisterTarget::Pool(pool.id.clone()),
                changes,
                group_policy(),
                "BackendServers",
            )
            .await
            .map_err(fail)?;
    }
    let pool = match call.params.opt("VServerGroupName") {
        Some(name) => control
            .update_pool(
                &call.principal,
                pool.id,
                PoolUpdate {
                    name: Some(name.to_owned()),
                    ..PoolUpdate::default()
                },
            )
            .await
            .map_err(fail)?,
        None => pool,
    };
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "VServerGroupName": pool.name,
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

async fn modify_vserver_group_servers(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let old = servers_in(call, "OldBackendServers")?;
    let new = servers_in(call, "NewBackendServers")?;
    if old.len() != new.len() {
        return Err(AliError::invalid(
            "OldBackendServers and NewBackendServers must name as many servers.",
        ));
    }
    let old: Vec<BackendSelector> = old.iter().map(group_selector).collect();
    let new = group_specs(new, "NewBackendServers")?;
    at_most_per_call(old.len(), "OldBackendServers")?;
    call.dialects
        .control
        .replace_backends(
            &call.principal,
            RegisterTarget::Pool(pool.id.clone()),
            old,
            new,
            group_policy(),
            "OldBackendServers",
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

async fn delete_vserver_group(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    call.dialects
        .control
        .delete_server_group(&call.principal, pool.id, WhenInUse::Refuse)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}
