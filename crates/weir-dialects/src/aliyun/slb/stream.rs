//! TCP and UDP listeners' attributes:
//! `DescribeLoadBalancerTCPListenerAttribute`,
//! `DescribeLoadBalancerUDPListenerAttribute` and their `Set` pairs.
//! Every parameter of the Set actions is honoured (description,
//! scheduler, access control list, server group, health check, a UDP
//! listener's payload check, TCP's `EstablishedTimeout`, the PROXY v2
//! header, connection draining) or refused with `UnsupportedOperation`
//! (bandwidth caps, SYN proxy, a persistence timeout, master-slave
//! groups, tags); all of it is read and checked before the first write.

use super::*;
use weir_core::loadbalancer::ListenerUpdate;

fn not_this_protocol(lb: &LoadBalancer, l: &Listener, protocol: Protocol) -> AliError {
    AliError::new(
        axum::http::StatusCode::NOT_FOUND,
        "InvalidListener.NotFound",
        format!(
            "There is no {protocol} listener on port {} of load balancer {}.",
            l.single_port().unwrap_or(0),
            lb.id
        ),
    )
}

fn on_off(call: &Call, name: &str) -> Result<Option<bool>, AliError> {
    match call.params.opt(name) {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(other) => Err(AliError::invalid(format!(
            "The parameter {name} is invalid: {other:?} is not on or off."
        ))),
    }
}

fn scheduler_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Wrr => "wrr",
        Scheduler::Lc => "wlc",
        Scheduler::Sh | Scheduler::ShPort => "sch",
    }
}

/// `DescribeLoadBalancerTCPListenerAttribute` / `…UDP…`.
pub(super) async fn describe_attribute(call: &Call, protocol: Protocol) -> ActionResult {
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    // A TLS passthrough listener (made through Octavia) is a TCP one here.
    let same = match protocol {
        Protocol::Tcp => l.protocol.is_stream_relay(),
        _ => l.protocol == protocol,
    };
    if !same {
        return Err(not_this_protocol(&lb, &l, protocol));
    }
    let (own, _, _) = call
        .dialects
        .control
        .backends_of(&call.principal, &RegisterTarget::Listener(l.id.clone()))
        .await
        .map_err(fail)?;
    let mut out = json!({
        "ListenerPort": l.single_port(),
        "BackendServerPort": l.backend_port,
        "Bandwidth": -1,
        "Status": if l.enabled { "running" } else { "stopped" },
        "Description": l.name,
        "Scheduler": scheduler_name(l.scheduler),
        "VServerGroupId": l.group_pool_id.as_ref().map(PoolId::as_str),
        "PersistenceTimeout": 0,
        "ProxyProtocolV2Enabled": l.proxy_protocol == ProxyProtocol::V2,
        "ConnectionDrain": if own.drain_timeout_ms > 0 { "on" } else { "off" },
        "ConnectionDrainTimeout": own.drain_timeout_ms / 1000,
    });
    if protocol == Protocol::Tcp {
        out["SynProxy"] = json!("disable");
        out["EstablishedTimeout"] = json!(l.idle_timeout_ms.map(|ms| ms / 1000));
    }
    super::acls::listener_view(&l, &mut out);
    match &own.health_check {
        None => out["HealthCheck"] = json!("off"),
        Some(check) => {
            out["HealthCheck"] = json!("on");
            out["HealthCheckInterval"] = json!(check.interval_ms / 1000);
            out["HealthCheckConnectTimeout"] = json!(check.timeout_ms / 1000);
            out["HealthyThreshold"] = json!(check.rise);
            out["UnhealthyThreshold"] = json!(check.fall);
            out["HealthCheckConnectPort"] = json!(check.port);
            match &check.kind {
                CheckKind::Http {
                    path,
                    expected,
                    request,
                }
                | CheckKind::Https {
                    path,
                    expected,
                    request,
                } => {
                    out["HealthCheckType"] = json!("http");
                    super::listeners::http_check_view(&mut out, path, expected, request);
                }
                CheckKind::UdpPayload { send, expect } => {
                    out["HealthCheckReq"] = json!(send);
                    out["HealthCheckExp"] = json!(expect);
                }
                _ if protocol == Protocol::Tcp => out["HealthCheckType"] = json!("tcp"),
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Refuses what a TCP or UDP listener's Set may ask and Weir does not do.
fn refusals(call: &Call, protocol: Protocol) -> Result<(), AliError> {
    let p = &call.params;
    if p.int("Bandwidth")?.is_some_and(|b| b != -1) {
        return Err(super::https::unsupported(
            "Bandwidth",
            "bandwidth caps are not enforced; only -1 (unlimited) is served",
        ));
    }
    if p.int("PersistenceTimeout")?.is_some_and(|t| t != 0) {
        return Err(super::https::unsupported(
            "PersistenceTimeout",
            "source persistence is the sch scheduler (source hashing), which has no timeout; send 0",
        ));
    }
    if p.opt("SynProxy").is_some_and(|s| s != "disable") {
        return Err(super::https::unsupported(
            "SynProxy",
            "no SYN proxy; send disable",
        ));
    }
    for name in ["MasterSlaveServerGroup", "MasterSlaveServerGroupId"] {
        if p.opt(name).is_some_and(|v| v != "off") {
            return Err(super::https::unsupported(
                name,
                "master-slave server groups are not served",
            ));
        }
    }
    if p.any_prefixed("Tag.") || p.opt("Tags").is_some() {
        return Err(super::https::unsupported(
            "Tag",
            "tags on SLB listeners are not kept",
        ));
    }
    if protocol == Protocol::Udp && p.opt("EstablishedTimeout").is_some() {
        return Err(AliError::invalid(
            "The parameter EstablishedTimeout is only for TCP listeners.",
        ));
    }
    Ok(())
}

/// What a TCP or UDP listener's own parameters ask of the core, on
/// create and Set (absent: unchanged, or the default on create).
#[derive(Default)]
pub(super) struct StreamOptions {
    /// TCP's `EstablishedTimeout`, as the idle timeout.
    pub idle_timeout_ms: Option<u64>,
    /// `ProxyProtocolV2Enabled`: `v2` or `none`.
    pub proxy_protocol: Option<&'static str>,
    /// `ConnectionDrain`: the served pool's drain (0: none).
    pub drain_ms: Option<u64>,
}

/// Reads a TCP or UDP listener's own parameters, refusing what Weir does
/// not do ([`refusals`]).
pub(super) fn stream_options(call: &Call, protocol: Protocol) -> Result<StreamOptions, AliError> {
    let p = &call.params;
    refusals(call, protocol)?;
    let established = match p.int("EstablishedTimeout")? {
        None => None,
        Some(s) if (10..=900).contains(&s) => Some(s.unsigned_abs() * 1000),
        Some(s) => {
            return Err(AliError::invalid(format!(
                "The parameter EstablishedTimeout is invalid: {s} is not 10-900 seconds."
            )))
        }
    };
    let proxy = match p.opt("ProxyProtocolV2Enabled") {
        None => None,
        Some("true") if protocol == Protocol::Udp => {
            return Err(super::https::unsupported(
                "ProxyProtocolV2Enabled",
                "the PROXY v2 header is sent before a TCP stream only; UDP datagrams carry none; send false",
            ))
        }
        Some("true") => Some("v2"),
        Some("false") => Some("none"),
        Some(other) => {
            return Err(AliError::invalid(format!(
                "The parameter ProxyProtocolV2Enabled is invalid: {other:?} is not true or false."
            )))
        }
    };
    let drain_ms = match (
        on_off(call, "ConnectionDrain")?,
        p.int("ConnectionDrainTimeout")?,
    ) {
        (Some(false), None) => Some(0),
        (Some(false), Some(_)) => {
            return Err(AliError::invalid(
                "The parameter ConnectionDrainTimeout needs ConnectionDrain=on.",
            ))
        }
        (Some(true), None) => return Err(AliError::missing("ConnectionDrainTimeout")),
        (_, Some(s)) if (10..=900).contains(&s) => Some(s.unsigned_abs() * 1000),
        (_, Some(s)) => {
            return Err(AliError::invalid(format!(
                "The parameter ConnectionDrainTimeout is invalid: {s} is not 10-900 seconds."
            )))
        }
        (None, None) => None,
    };
    Ok(StreamOptions {
        idle_timeout_ms: established,
        proxy_protocol: proxy,
        drain_ms,
    })
}

/// `SetLoadBalancerTCPListenerAttribute` / `…UDP…`: the listener is
/// changed in one command, then its pools' check and draining.
pub(super) async fn set_attribute(call: &Call, protocol: Protocol) -> ActionResult {
    let p = &call.params;
    let StreamOptions {
        idle_timeout_ms: established,
        proxy_protocol: proxy,
        drain_ms,
    } = stream_options(call, protocol)?;
    let mut health = health_spec(call, protocol.as_str())?;
    let scheduler = p.opt("Scheduler").map(scheduler).transpose()?;
    let group = match (on_off(call, "VServerGroup")?, p.opt("VServerGroupId")) {
        (Some(false), _) => Some(None),
        (_, Some(id)) => Some(Some(id.to_owned())),
        (Some(true), None) => return Err(AliError::missing("VServerGroupId")),
        (None, None) => None,
    };
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    let same = match protocol {
        Protocol::Tcp => l.protocol.is_stream_relay(),
        _ => l.protocol == protocol,
    };
    if !same {
        return Err(not_this_protocol(&lb, &l, protocol));
    }
    let acl = super::acls::AclParams::read(call)?;
    // Refused before the write as ever; merged again below.
    acl.clone().merge(l.acl.as_ref())?;
    let update = ListenerUpdate {
        name: p.opt("Description").map(str::to_owned),
        scheduler: scheduler.map(str::to_owned),
        proxy_protocol: proxy.map(str::to_owned),
        idle_timeout_ms: established.map(Some),
        group_pool_id: group,
        ..ListenerUpdate::default()
    };
    let control = &call.dialects.control;
    // The ACL's parameters merge into the listener's ACL inside the
    // writer's transaction: a concurrent Set's part is not lost.
    let l = control
        .update_listener_with(&call.principal, l.id, move |current| {
            Ok::<_, AliError>(ListenerUpdate {
                acl: acl.merge(current.acl.as_ref())?,
                ..update
            })
        })
        .await
        .map_err(fail)??;
    if let (Some(check), Some(port)) = (health.as_mut(), l.backend_port) {
        check.port = check.port.or(Some(u32::from(port)));
    }
    let switch_given = p
        .opt("HealthCheckSwitch")
        .or(p.opt("HealthCheck"))
        .is_some();
    let health_check = (health.is_some() || switch_given).then_some(health);
    // The check and draining are the pool served: the listener's server
    // group, or the default server group; the listener's own pool keeps
    // the check too, as on create.
    let served = l
        .group_pool_id
        .clone()
        .unwrap_or(lb.default_pool_id.clone());
    if health_check.is_some() || drain_ms.is_some() {
        let update = PoolUpdate {
            health_check: health_check.clone(),
            drain_timeout_ms: drain_ms,
            ..PoolUpdate::default()
        };
        control
            .update_pool(&call.principal, l.default_pool_id.clone(), update)
            .await
            .map_err(fail)?;
    }
    if health_check.is_some() || drain_ms.is_some() {
        let update = PoolUpdate {
            health_check,
            drain_timeout_ms: drain_ms,
            ..PoolUpdate::default()
        };
        control
            .update_pool(&call.principal, served, update)
            .await
            .map_err(fail)?;
    }
    Ok(json!({}))
}
