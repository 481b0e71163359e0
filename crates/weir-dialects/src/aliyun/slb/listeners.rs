//! Listeners: TCP, UDP and HTTP listeners with their health checks;
//! start, stop, delete.

use super::*;

pub(super) fn scheduler(name: &str) -> Result<&'static str, AliError> {
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
pub(super) fn http_codes(text: &str) -> Result<String, AliError> {
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

pub(super) fn health_spec(
    call: &Call,
    protocol: &str,
) -> Result<Option<HealthCheckSpec>, AliError> {
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

pub(super) async fn create_listener(call: &Call, protocol: &str) -> ActionResult {
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
pub(super) async fn listener(call: &Call, lb: &LoadBalancer) -> Result<Listener, AliError> {
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
pub(super) async fn set_listener_enabled(call: &Call, enabled: bool) -> ActionResult {
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

pub(super) async fn delete_listener(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    call.dialects
        .control
        .delete_listener(&call.principal, l.id)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}
