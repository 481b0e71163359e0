//! Listeners: TCP, UDP, HTTP and HTTPS listeners with their health
//! checks (the HTTP(S) options are [`super::https`]'s); start, stop,
//! delete.

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

/// An HTTP check's parameters as SLB's attribute reads show them: the
/// URI, the Host (`$_ip`: the server's address), the method and the
/// codes as `http_Nxx` classes (a range inside one class reads as it).
pub(super) fn http_check_view(
    out: &mut Value,
    path: &str,
    expected: &[(u16, u16)],
    request: &CheckRequest,
) {
    out["HealthCheckURI"] = json!(path);
    out["HealthCheckDomain"] = json!(request.host.as_deref().unwrap_or("$_ip"));
    out["HealthCheckMethod"] = json!(request.method.as_str().to_ascii_lowercase());
    let mut classes: Vec<String> = Vec::new();
    for (lo, hi) in expected {
        for class in (lo / 100)..=(hi / 100) {
            let name = format!("http_{class}xx");
            if !classes.contains(&name) {
                classes.push(name);
            }
        }
    }
    out["HealthCheckHttpCode"] = json!(classes.join(","));
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
        "HealthCheckMethod",
        "HealthCheckDomain",
        "HealthCheckReq",
        "HealthCheckExp",
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
    let payload = udp_check_payload(call, protocol)?;
    if !wanted {
        return Ok(None);
    }
    let kind = match (protocol, p.opt("HealthCheckType")) {
        // A UDP listener's check with a request string is a UDP one
        // (weir_core::udp_check).
        ("udp", _) if payload.0.is_some() || payload.1.is_some() => "udp-connect",
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
        method: match p.opt("HealthCheckMethod") {
            None => None,
            Some(m) if m.eq_ignore_ascii_case("head") || m.eq_ignore_ascii_case("get") => {
                Some(m.to_ascii_uppercase())
            }
            Some(other) => {
                return Err(AliError::invalid(format!(
                    "The parameter HealthCheckMethod is invalid: {other:?} is not head or get."
                )))
            }
        },
        // `$_ip` is Aliyun's "the server's own address": no Host of ours.
        host: p
            .opt("HealthCheckDomain")
            .filter(|d| *d != "$_ip")
            .map(str::to_owned),
        send: payload.0,
        expect: payload.1,
        ..HealthCheckSpec::default()
    }))
}

/// A UDP listener's `HealthCheckReq` and `HealthCheckExp`: letters and
/// digits, at most 64 (SLB's own bounds, inside the core's); on any
/// other listener they are refused rather than dropped.
fn udp_check_payload(
    call: &Call,
    protocol: &str,
) -> Result<(Option<String>, Option<String>), AliError> {
    let mut out = [None, None];
    for (slot, name) in out.iter_mut().zip(["HealthCheckReq", "HealthCheckExp"]) {
        let Some(text) = call.params.opt(name) else {
            continue;
        };
        if protocol != "udp" {
            return Err(AliError::invalid(format!(
                "The parameter {name} is only for UDP listeners."
            )));
        }
        if text.is_empty() || text.len() > 64 || !text.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AliError::invalid(format!(
                "The parameter {name} is invalid: 1-64 letters and digits."
            )));
        }
        *slot = Some(text.to_owned());
    }
    let [send, expect] = out;
    Ok((send, expect))
}

pub(super) async fn create_listener(call: &Call, protocol: &str) -> ActionResult {
    let p = &call.params;
    let lb = lb(call).await?;
    let port = p
        .int("ListenerPort")?
        .ok_or_else(|| AliError::missing("ListenerPort"))?;
    let backend_port = p.int("BackendServerPort")?;
    let check_protocol = if protocol == "https" {
        "http"
    } else {
        protocol
    };
    let mut health = health_spec(call, check_protocol)?;
    let acl = super::acls::listener_acl(call, None)?.flatten();
    let is_http = protocol == "http" || protocol == "https";
    let options = if is_http {
        super::https::http_options(call, protocol == "https", true)?
    } else {
        super::https::HttpOptions::default()
    };
    // TCP and UDP listeners' own parameters, honoured or refused as on
    // their Set actions.
    let stream = match protocol {
        "tcp" => super::stream::stream_options(call, Protocol::Tcp)?,
        "udp" => super::stream::stream_options(call, Protocol::Udp)?,
        _ => super::stream::StreamOptions::default(),
    };
    let certificate_ids = if protocol == "https" {
        vec![p.req("ServerCertificateId")?.to_owned()]
    } else {
        Vec::new()
    };
    if options.persistence.is_some() && p.opt("VServerGroupId").is_some() {
        return Err(super::https::unsupported(
            "StickySession",
            "a listener forwarding to a VServer group takes the group's session persistence; create the listener without VServerGroupId, or without StickySession",
        ));
    }
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
                proxy_protocol: stream.proxy_protocol.map(str::to_owned),
                backend_port: backend_port.map(wide),
                group_pool_id: p.opt("VServerGroupId").map(str::to_owned),
                max_connections: None,
                idle_timeout_ms: options.idle_timeout_ms.or(stream.idle_timeout_ms),
                connect_timeout_ms: None,
                backend_timeout_ms: options.backend_timeout_ms,
                inspect_timeout_ms: None,
                allowed_cidrs: Vec::new(),
                acl,
                forwarded_headers: options.forwarded_headers,
                certificate_ids,
                redirect_https_port: options.redirect_https_port.flatten(),
                tls_options: weir_core::tls::TlsOptions {
                    alpn: options.alpn.clone().unwrap_or_default(),
                    ..Default::default()
                },
                client_auth: options.client_auth.clone().unwrap_or_default(),
                ..Default::default()
            },
            PoolUpdate {
                health_check: health.clone().map(Some),
                persistence: options.persistence.clone(),
                drain_timeout_ms: stream.drain_ms,
                ..PoolUpdate::default()
            },
            // The listener's check and draining are the pool it serves.
            (health.is_some() || stream.drain_ms.is_some()).then(|| PoolUpdate {
                health_check: health.map(Some),
                drain_timeout_ms: stream.drain_ms,
                ..PoolUpdate::default()
            }),
        )
        .await
        .map_err(|e| super::https::ca_not_found(call, fail(e)))?;
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
