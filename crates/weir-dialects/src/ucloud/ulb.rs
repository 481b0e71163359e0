//! ULB actions: ULBs, VServers (their HTTP(S) options, `BindSSL` and
//! `UnbindSSL` are [`super::https`]'s) and seed 002's AllocateBackend (by
//! resource id or by IP with its VPC and subnet), translated to control
//! calls.

use serde_json::{json, Value};
use weir_control::{RegisterRequest, RegisterTarget};
use weir_core::backend::BackendUpdate;
use weir_core::ids::*;
use weir_core::loadbalancer::{NewListener, NewLoadBalancer};
use weir_core::model::*;
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};
use weir_core::status::BackendState;

use super::{codes, Call, UcError};

/// Seed 002's rules: weight 1-100 defaulting to 1, duplicates refused;
/// bare metal (UPM) is reached through the VPC's border gateway, as
/// everywhere in Weir.
pub fn policy() -> RegisterPolicy {
    RegisterPolicy {
        duplicates: DuplicatePolicy::Reject,
        weight_range: (1, 100),
        default_weight: 1,
        max_per_request: None,
        unique_instance_per_listener: true,
        address_requires_instance: false,
        bare_metal_by_address_only: false,
        name_rule: NameRule::Free,
        ..RegisterPolicy::native()
    }
}

type ActionResult = Result<Value, UcError>;

/// Every action the ULB dispatcher serves, in its order; the tenant
/// isolation sweep (`tests/isolation.rs`) checks that it probes each one
/// and that this list is the dispatcher's.
pub const ACTIONS: &[&str] = &[
    "CreateULB",
    "DescribeULB",
    "DescribeULBSimple",
    "DeleteULB",
    "CreateVServer",
    "DescribeVServer",
    "UpdateVServerAttribute",
    "DeleteVServer",
    "AllocateBackend",
    "AllocateBackendBatch",
    "UpdateBackendAttribute",
    "ReleaseBackend",
    "CreateSSL",
    "DescribeSSL",
    "DeleteSSL",
    "BindSSL",
    "UnbindSSL",
];

pub(super) async fn dispatch(call: &Call, action: &str) -> ActionResult {
    match action {
        "CreateULB" => create_ulb(call).await,
        "DescribeULB" | "DescribeULBSimple" => describe_ulb(call).await,
        "DeleteULB" => delete_ulb(call).await,
        "CreateVServer" => create_vserver(call).await,
        "DescribeVServer" => describe_vserver(call).await,
        "UpdateVServerAttribute" => {
            let method = call.params.opt("Method").map(method).transpose()?;
            super::https::update(call, method).await
        }
        "DeleteVServer" => delete_vserver(call).await,
        "AllocateBackend" => allocate_backend(call).await,
        "AllocateBackendBatch" => allocate_backend_batch(call).await,
        "UpdateBackendAttribute" => update_backend_attribute(call).await,
        "ReleaseBackend" => release_backend(call).await,
        "CreateSSL" => super::ssl::create(call).await,
        "DescribeSSL" => super::ssl::describe(call).await,
        "DeleteSSL" => super::ssl::delete(call).await,
        "BindSSL" => super::https::bind(call).await,
        "UnbindSSL" => super::https::unbind(call).await,
        "" => Err(UcError::missing("Action")),
        other => Err(UcError::new(
            codes::ACTION_UNKNOWN,
            format!("Action [{other}] is not supported"),
        )),
    }
}

fn fail(e: weir_control::ControlError) -> UcError {
    UcError::from_control(e)
}

fn secs(t: weir_core::Timestamp) -> i64 {
    t.millis() / 1000
}

async fn create_ulb(call: &Call) -> ActionResult {
    let p = &call.params;
    let subnet = p.req("SubnetId")?;
    let v6 = super::known::subnet_is_v6(call, subnet).await?;
    super::known::check_create_ulb(call, v6)?;
    let lb = call
        .dialects
        .control
        .create_load_balancer(
            &call.principal,
            SubnetId::new(subnet),
            NewLoadBalancer {
                name: p.opt("ULBName").unwrap_or_default().to_owned(),
                vip: p.opt("PrivateIp").map(str::to_owned),
                vpc_id: p.opt("VPCId").map(str::to_owned),
                description: p.opt("Remark").map(str::to_owned),
                stopped: false,
                ..Default::default()
            },
        )
        .await
        .map_err(fail)?;
    Ok(json!({"ULBId": lb.id.as_str()}))
}

/// One page: `Offset` from 0, `Limit` default 20, at most 1000.
fn page<T>(call: &Call, items: Vec<T>) -> Result<(usize, Vec<T>), UcError> {
    let offset = call.params.int("Offset")?.unwrap_or(0);
    let limit = call.params.int("Limit")?.unwrap_or(20);
    if offset < 0 || !(1..=1000).contains(&limit) {
        return Err(UcError::invalid(
            "Params [Offset/Limit] not valid: Offset >= 0, Limit 1-1000",
        ));
    }
    let total = items.len();
    let items = items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(20))
        .collect();
    Ok((total, items))
}

async fn describe_ulb(call: &Call) -> ActionResult {
    let p = &call.params;
    let control = &call.dialects.control;
    let lbs: Vec<LoadBalancer> = control
        .list_load_balancers(&call.principal)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|lb| p.opt("ULBId").is_none_or(|id| id == lb.id.as_str()))
        .filter(|lb| p.opt("VPCId").is_none_or(|id| id == lb.vpc_id.as_str()))
        .filter(|lb| {
            p.opt("SubnetId")
                .is_none_or(|id| id == lb.subnet_id.as_str())
        })
        .collect();
    if let (Some(id), true) = (p.opt("ULBId"), lbs.is_empty()) {
        return Err(UcError::new(
            codes::ULB_NOT_FOUND,
            format!("ULB {id} not found"),
        ));
    }
    let (total, lbs) = page(call, lbs)?;
    let mut data = Vec::with_capacity(lbs.len());
    for lb in &lbs {
        let listeners = control
            .list_listeners(&call.principal, &lb.id)
            .await
            .map_err(fail)?;
        let mut vservers = Vec::with_capacity(listeners.len());
        for l in &listeners {
            vservers.push(vserver_view(call, lb, l).await?);
        }
        data.push(json!({
            "ULBId": lb.id.as_str(),
            "Name": lb.name,
            "ULBName": lb.name,
            "VPCId": lb.vpc_id.as_str(),
            "SubnetId": lb.subnet_id.as_str(),
            "PrivateIP": lb.vip.to_string(),
            "IPVersion": if lb.vip.is_ipv4() { "IPv4" } else { "IPv6" },
            "ULBType": "InnerMode",
            "Remark": lb.description,
            "IPSet": [],
            "CreateTime": secs(lb.created_at),
            "VServerSet": vservers,
        }));
    }
    Ok(json!({"TotalCount": total, "DataSet": data}))
}

async fn ulb(call: &Call) -> Result<LoadBalancer, UcError> {
    let id = call.params.req("ULBId")?;
    call.dialects
        .control
        .get_load_balancer(&call.principal, &LoadBalancerId::new(id))
        .await
        .map_err(fail)
}

async fn delete_ulb(call: &Call) -> ActionResult {
    let lb = ulb(call).await?;
    call.dialects
        .control
        .delete_load_balancer(&call.principal, lb.id, true)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

fn listen_type(mode: ForwardingMode) -> &'static str {
    match mode {
        ForwardingMode::Proxy => "RequestProxy",
        ForwardingMode::Nat | ForwardingMode::Dr => "PacketsTransmit",
    }
}

fn method_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Wrr => "WeightRoundrobin",
        Scheduler::Lc => "Leastconn",
        Scheduler::Sh => "ConsistentHash",
        Scheduler::ShPort => "ConsistentHashPort",
    }
}

async fn create_vserver(call: &Call) -> ActionResult {
    let p = &call.params;
    let lb = ulb(call).await?;
    let mode = match p.opt("ListenType").unwrap_or("RequestProxy") {
        "RequestProxy" => "proxy",
        "PacketsTransmit" => "dr",
        other => {
            return Err(UcError::invalid(format!(
                "Params [ListenType] not valid: {other:?} is not RequestProxy or PacketsTransmit"
            )))
        }
    };
    let scheduler = method(p.opt("Method").unwrap_or("Roundrobin"))?;
    let protocol = p.opt("Protocol").unwrap_or("HTTP").to_ascii_lowercase();
    let options = super::https::options(call, &protocol)?;
    let health = match p.opt("MonitorType") {
        None => None,
        // A UDP VServer with check messages sends them and waits for the
        // answer (weir_core::udp_check).
        Some("Port") if options.check_send.is_some() || options.check_expect.is_some() => {
            Some(HealthCheckSpec {
                send: options.check_send.clone(),
                expect: options.check_expect.clone(),
                ..check("udp-connect", None)
            })
        }
        Some("Port") => Some(check("tcp", None)),
        // A real ICMP echo check; refused (Params [MonitorType] not
        // valid) where the data plane cannot send ICMP.
        Some("Ping") => Some(check("ping", None)),
        Some("Path") => Some(HealthCheckSpec {
            host: options.check_host.clone(),
            ..check("http", Some(p.opt("Path").unwrap_or("/").to_owned()))
        }),
        Some(other) => {
            return Err(UcError::invalid(format!(
                "Params [MonitorType] not valid: {other:?} is not Port, Path or Ping"
            )))
        }
    };
    let port = p.int("FrontendPort")?.unwrap_or(80);
    let default_alpn = options.alpn.clone().unwrap_or_else(|| {
        if protocol == "https" {
            vec!["http/1.1".to_owned()]
        } else {
            Vec::new()
        }
    });
    let listener = call
        .dialects
        .control
        .create_listener_with_pool(
            &call.principal,
            lb.id,
            NewListener {
                name: p.opt("VServerName").unwrap_or_default().to_owned(),
                // An HTTPS VServer gets its certificate with BindSSL.
                certificates_later: protocol == "https",
                protocol,
                port: Some(u32::try_from(port).unwrap_or(0)),
                port_ranges: None,
                all_ports: false,
                forwarding_mode: Some(mode.to_owned()),
                scheduler: Some(scheduler.to_owned()),
                proxy_protocol: None,
                backend_port: None,
                group_pool_id: None,
                max_connections: None,
                connect_timeout_ms: None,
                backend_timeout_ms: None,
                inspect_timeout_ms: None,
                allowed_cidrs: Vec::new(),
                idle_timeout_ms: options.idle_timeout_ms,
                redirect_https_port: options.redirect_https_port.flatten(),
                // HTTPS VServers speak HTTP/1.1 unless EnableHTTP2=1.
                tls_options: weir_core::tls::TlsOptions {
                    alpn: default_alpn,
                    ..Default::default()
                },
                ..Default::default()
            },
            PoolUpdate {
                health_check: health.map(Some),
                persistence: options.persistence,
                drain_timeout_ms: None,
                slow_start_ms: None,
                name: None,
                ..Default::default()
            },
            None,
        )
        .await
        .map_err(fail)?;
    Ok(json!({"VServerId": listener.id.as_str()}))
}

/// UCloud's `Method` as the core's scheduler.
fn method(name: &str) -> Result<&'static str, UcError> {
    match name {
        "Roundrobin" | "WeightRoundrobin" | "Backup" => Ok("wrr"),
        "Leastconn" => Ok("lc"),
        "Source" | "ConsistentHash" => Ok("sh"),
        // UCloud's hash of the client address and port.
        "SourcePort" | "ConsistentHashPort" => Ok("sh-port"),
        other => Err(UcError::invalid(format!(
            "Params [Method] not valid: {other:?}"
        ))),
    }
}

fn check(kind: &str, path: Option<String>) -> HealthCheckSpec {
    HealthCheckSpec {
        kind: kind.to_owned(),
        interval_ms: None,
        timeout_ms: None,
        rise: None,
        fall: None,
        port: None,
        path,
        expected_codes: None,
        ..HealthCheckSpec::default()
    }
}

/// The VServer named by `VServerId`, provided it is on the named ULB.
async fn vserver(call: &Call, lb: &LoadBalancer) -> Result<Listener, UcError> {
    let id = call.params.req("VServerId")?;
    let l = call
        .dialects
        .control
        .get_listener(&call.principal, &ListenerId::new(id))
        .await
        .map_err(fail)?;
    if l.lb_id != lb.id {
        return Err(UcError::new(
            codes::VSERVER_NOT_FOUND,
            format!("VServer {id} is not on ULB {}", lb.id),
        ));
    }
    Ok(l)
}

async fn backend_view(call: &Call, lb: &LoadBalancer, b: &Backend) -> Value {
    let instance = match &b.instance_id {
        Some(id) => call
            .dialects
            .control
            .get_instance(&call.principal, id)
            .await
            .ok(),
        None => None,
    };
    let resource_type = match instance.as_ref().map(|i| i.instance_type) {
        Some(InstanceType::Vm) => "UHost",
        Some(InstanceType::Bm) => "UPM",
        None => "IP",
    };
    let live = call.dialects.control.backend_live(&b.id);
    let failing = matches!(
        live.map(|l| l.state),
        Some(BackendState::Unhealthy | BackendState::Checking)
    );
    json!({
        "BackendId": b.id.as_str(),
        "ResourceType": resource_type,
        "ResourceId": b.instance_id.as_ref().map_or("", |i| i.as_str()),
        "ResourceName": instance.as_ref().map_or(b.name.clone(), |i| i.name.clone()),
        "PrivateIP": b.address.to_string(),
        "Port": b.ports.key(),
        "Enabled": i32::from(b.enabled),
        "Weight": b.weight,
        "IsBackup": i32::from(b.backup),
        "Status": i32::from(failing),
        "VPCId": lb.vpc_id.as_str(),
        "SubnetId": b.subnet_id.as_ref().map_or_else(
            || instance.as_ref().map_or(lb.subnet_id.as_str(), |i| i.subnet_id.as_str()),
            |s| s.as_str(),
        ),
    })
}

async fn vserver_view(call: &Call, lb: &LoadBalancer, l: &Listener) -> Result<Value, UcError> {
    let (pool, _, backends) = call
        .dialects
        .control
        .backends_of(&call.principal, &RegisterTarget::Listener(l.id.clone()))
        .await
        .map_err(fail)?;
    let mut set = Vec::with_capacity(backends.len());
    for b in &backends {
        set.push(backend_view(call, lb, b).await);
    }
    let (monitor, path) = match pool.health_check.as_ref().map(|h| &h.kind) {
        None => ("Port", None),
        Some(
            CheckKind::Tcp
            | CheckKind::UdpConnect
            | CheckKind::UdpPayload { .. }
            | CheckKind::TlsHello,
        ) => ("Port", None),
        Some(CheckKind::Ping) => ("Ping", None),
        Some(CheckKind::Https { path, .. }) => ("Path", Some(path.clone())),
        Some(CheckKind::Http { path, .. }) => ("Path", Some(path.clone())),
    };
    Ok(json!({
        "VServerId": l.id.as_str(),
        "VServerName": l.name,
        "ULBId": lb.id.as_str(),
        // A TLS passthrough listener (made through Octavia) is TCP here.
        "Protocol": if l.protocol.is_stream_relay() { "TCP".to_owned() } else { l.protocol.as_str().to_ascii_uppercase() },
        "FrontendPort": l.single_port(),
        "ListenType": listen_type(l.forwarding_mode),
        "Method": method_name(l.scheduler),
        "MonitorType": monitor,
        "Path": path,
        "RequestMsg": match pool.health_check.as_ref().map(|h| &h.kind) {
            Some(CheckKind::UdpPayload { send, .. }) => send.as_str(),
            _ => "",
        },
        "ResponseMsg": match pool.health_check.as_ref().map(|h| &h.kind) {
            Some(CheckKind::UdpPayload { expect: Some(e), .. }) => e.as_str(),
            _ => "",
        },
        // An HTTPS VServer without a certificate serves nothing: abnormal.
        "Status": i32::from(l.protocol == Protocol::Https && l.certificate_ids.is_empty()),
        "SSLSet": super::https::ssl_set(call, l).await?,
        "ForwardPort": l.redirect_https_port.unwrap_or(0),
        "EnableHTTP2": i32::from(
            l.protocol == Protocol::Https && l.tls_options.alpn().iter().any(|p| p == "h2"),
        ),
        "ClientTimeout": l.idle_timeout_ms.map(|ms| ms / 1000),
        "PersistenceType": match &pool.persistence {
            Some(Persistence::HttpCookie) => "ServerInsert",
            Some(Persistence::AppCookie { .. }) => "UserDefined",
            _ => "None",
        },
        "PersistenceInfo": match &pool.persistence {
            Some(Persistence::AppCookie { cookie_name }) => cookie_name.as_str(),
            _ => "",
        },
        "BackendSet": set,
    }))
}

async fn describe_vserver(call: &Call) -> ActionResult {
    let lb = ulb(call).await?;
    let listeners = match call.params.opt("VServerId") {
        Some(_) => vec![vserver(call, &lb).await?],
        None => call
            .dialects
            .control
            .list_listeners(&call.principal, &lb.id)
            .await
            .map_err(fail)?,
    };
    let (total, listeners) = page(call, listeners)?;
    let mut data = Vec::with_capacity(listeners.len());
    for l in &listeners {
        data.push(vserver_view(call, &lb, l).await?);
    }
    Ok(json!({"TotalCount": total, "DataSet": data}))
}

async fn delete_vserver(call: &Call) -> ActionResult {
    let lb = ulb(call).await?;
    let l = vserver(call, &lb).await?;
    call.dialects
        .control
        .delete_listener(&call.principal, l.id)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

/// One backend as AllocateBackend (or one `Backends.N` entry) names it.
struct Allocation<'a> {
    resource_type: &'a str,
    resource_id: Option<&'a str>,
    resource_ip: Option<&'a str>,
    vpc_id: Option<&'a str>,
    subnet_id: Option<&'a str>,
    port: Option<i64>,
    weight: Option<i64>,
    enabled: Option<bool>,
    backup: Option<bool>,
}

/// Translates `ResourceType` and its companions into a backend spec; the
/// rules behind them (instance type, VPC, packet forwarding) are the core's.
fn spec(a: &Allocation<'_>, listener: &Listener) -> Result<BackendSpec, UcError> {
    let (by_ip, instance_type, proxy_only) = match a.resource_type {
        "UHost" => (false, Some(InstanceType::Vm), false),
        "UPM" => (false, Some(InstanceType::Bm), false),
        "UNI" => (false, None, false),
        "CUBE" => (false, Some(InstanceType::Vm), true),
        "UHybrid" | "IP" => (true, None, true),
        other => {
            return Err(UcError::invalid(format!(
                "Params [ResourceType] not valid: {other:?} is not UHost, UPM, UNI, UHybrid, CUBE or IP"
            )))
        }
    };
    match (a.resource_id, a.resource_ip) {
        (Some(_), Some(_)) => {
            return Err(UcError::invalid(
                "Params [ResourceId/ResourceIP] not valid: give one of them, not both",
            ))
        }
        (None, None) => {
            return Err(UcError::invalid(
                "Params [ResourceId/ResourceIP] not valid: give one of them",
            ))
        }
        (None, Some(_)) if !by_ip => {
            return Err(UcError::invalid(format!(
                "Params [ResourceIP] not valid: a {} backend is named by ResourceId",
                a.resource_type
            )))
        }
        (Some(_), None) if by_ip => {
            return Err(UcError::invalid(format!(
                "Params [ResourceId] not valid: a {} backend is named by ResourceIP",
                a.resource_type
            )))
        }
        _ => {}
    }
    if by_ip {
        a.vpc_id.ok_or_else(|| UcError::missing("VPCId"))?;
        a.subnet_id.ok_or_else(|| UcError::missing("SubnetId"))?;
    }
    // Request-proxy VServers default the backend port to 80; packet
    // forwarding keeps the client's port, so none is set there.
    let port = match a.port {
        Some(p) => Some(p),
        None if listener.forwarding_mode == ForwardingMode::Proxy => Some(80),
        None => None,
    };
    Ok(BackendSpec {
        instance_id: a.resource_id.map(str::to_owned),
        address: a.resource_ip.map(str::to_owned),
        subnet_id: if by_ip {
            a.subnet_id.map(str::to_owned)
        } else {
            None
        },
        vpc_id: if by_ip {
            a.vpc_id.map(str::to_owned)
        } else {
            None
        },
        port,
        weight: a.weight,
        enabled: a.enabled,
        backup: a.backup,
        instance_type,
        proxy_only,
        ..BackendSpec::default()
    })
}

async fn register(
    call: &Call,
    listener: &Listener,
    specs: Vec<BackendSpec>,
) -> Result<Vec<Backend>, UcError> {
    let outcome = call
        .dialects
        .control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target: RegisterTarget::Listener(listener.id.clone()),
                backends: specs,
                policy: policy(),
                client_token: None,
            },
        )
        .await
        .map_err(fail)?;
    Ok(outcome.backends)
}

async fn allocate_backend(call: &Call) -> ActionResult {
    let p = &call.params;
    let lb = ulb(call).await?;
    let listener = vserver(call, &lb).await?;
    let a = Allocation {
        resource_type: p.opt("ResourceType").unwrap_or("UHost"),
        resource_id: p.opt("ResourceId"),
        resource_ip: p.opt("ResourceIP"),
        vpc_id: p.opt("VPCId"),
        subnet_id: p.opt("SubnetId"),
        port: p.int("Port")?,
        weight: p.int("Weight")?,
        enabled: p.flag("Enabled")?,
        backup: p.flag("IsBackup")?,
    };
    let backends = register(call, &listener, vec![spec(&a, &listener)?]).await?;
    let id = backends
        .first()
        .map(|b| b.id.to_string())
        .unwrap_or_default();
    Ok(json!({"BackendId": id}))
}

fn batch_field<'a>(parts: &[&'a str], i: usize) -> Option<&'a str> {
    parts.get(i).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn batch_int(parts: &[&str], i: usize, name: &str, n: usize) -> Result<Option<i64>, UcError> {
    batch_field(parts, i)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                UcError::invalid(format!(
                    "Params [Backends.{n}] not valid: {name} {v:?} is not an integer"
                ))
            })
        })
        .transpose()
}

fn batch_flag(parts: &[&str], i: usize, name: &str, n: usize) -> Result<Option<bool>, UcError> {
    match batch_int(parts, i, name, n)? {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(v) => Err(UcError::invalid(format!(
            "Params [Backends.{n}] not valid: {name} {v} is not 0 or 1"
        ))),
    }
}

/// `Backends.N` is `ResourceId|ResourceType|Port|Weight|Enabled|IsBackup`,
/// or with `ApiVersion=1` `ResourceIP|ResourceType|Port|Weight|Enabled|IsBackup|VPCId|SubnetId`.
async fn allocate_backend_batch(call: &Call) -> ActionResult {
    let p = &call.params;
    let lb = ulb(call).await?;
    let listener = vserver(call, &lb).await?;
    let by_ip = p.int("ApiVersion")?.unwrap_or(0) == 1;
    let entries = p.list("Backends");
    if entries.is_empty() {
        return Err(UcError::missing("Backends.0"));
    }
    let mut specs = Vec::with_capacity(entries.len());
    let mut resource_ids = Vec::with_capacity(entries.len());
    for (n, entry) in entries.iter().enumerate() {
        let parts: Vec<&str> = entry.split('|').collect();
        let first = batch_field(&parts, 0);
        let a = Allocation {
            resource_type: batch_field(&parts, 1).unwrap_or("UHost"),
            resource_id: if by_ip { None } else { first },
            resource_ip: if by_ip { first } else { None },
            vpc_id: batch_field(&parts, 6),
            subnet_id: batch_field(&parts, 7),
            port: batch_int(&parts, 2, "Port", n)?,
            weight: batch_int(&parts, 3, "Weight", n)?,
            enabled: batch_flag(&parts, 4, "Enabled", n)?,
            backup: batch_flag(&parts, 5, "IsBackup", n)?,
        };
        specs.push(spec(&a, &listener)?);
        resource_ids.push(first.unwrap_or_default().to_owned());
    }
    let backends = register(call, &listener, specs).await?;
    let set: Vec<Value> = backends
        .iter()
        .zip(&resource_ids)
        .map(|(b, r)| json!({"BackendId": b.id.as_str(), "ResourceId": r}))
        .collect();
    Ok(json!({"BackendSet": set}))
}

/// The backend named by `BackendId`, provided it is on the named ULB.
async fn backend(call: &Call, lb: &LoadBalancer) -> Result<Backend, UcError> {
    let id = call.params.req("BackendId")?;
    let b = call
        .dialects
        .control
        .get_backend(&call.principal, &BackendId::new(id))
        .await
        .map_err(fail)?;
    if b.lb_id != lb.id {
        return Err(UcError::new(
            codes::BACKEND_NOT_FOUND,
            format!("backend {id} is not on ULB {}", lb.id),
        ));
    }
    Ok(b)
}

async fn update_backend_attribute(call: &Call) -> ActionResult {
    let p = &call.params;
    let lb = ulb(call).await?;
    let current = backend(call, &lb).await?;
    call.dialects
        .control
        .update_backend(
            &call.principal,
            current.id,
            BackendUpdate {
                weight: p.int("Weight")?,
                enabled: p.flag("Enabled")?,
                backup: p.flag("IsBackup")?,
                name: None,
                port: p.int("Port")?,
                ..BackendUpdate::default()
            },
            policy(),
        )
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

async fn release_backend(call: &Call) -> ActionResult {
    let lb = ulb(call).await?;
    let current = backend(call, &lb).await?;
    call.dialects
        .control
        .delete_backend(&call.principal, current.id)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}
