//! `/healthmonitors`: one per pool; a monitor's id is its pool's.

use super::*;

/// Every field of Octavia's (and Huawei's) health monitor body; what Weir
/// cannot honour is refused, unknown fields by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorBody {
    pool_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    delay: Option<Lenient>,
    timeout: Option<Lenient>,
    max_retries: Option<Lenient>,
    max_retries_down: Option<Lenient>,
    url_path: Option<String>,
    expected_codes: Option<String>,
    /// Huawei ELB's port to check instead of the member's.
    monitor_port: Option<Lenient>,
    name: Option<String>,
    admin_state_up: Option<bool>,
    http_method: Option<String>,
    /// `null` (`Some(None)`) goes back to the default on update.
    #[serde(default, deserialize_with = "present")]
    http_version: Option<Option<Value>>,
    #[serde(default, deserialize_with = "present")]
    domain_name: Option<Option<Value>>,
    /// Absent leaves them, `null` clears them.
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
    project_id: Option<String>,
    tenant_id: Option<String>,
}

impl MonitorBody {
    /// Refuses what Weir cannot do: CONNECT checks; and a body naming
    /// another project.
    fn refuse_unhonoured(&self, owner: &ProjectId) -> Result<(), LbaasError> {
        if self.http_method.as_deref() == Some("CONNECT") {
            // CONNECT names a host and port, not url_path, and a member
            // that answers it 2xx opens a tunnel: a check of nothing.
            return Err(LbaasError::unsupported(
                "http_method CONNECT (its target is a host and port, not url_path; \
                 use GET, HEAD or OPTIONS)",
            ));
        }
        check_owner([&self.project_id, &self.tenant_id], owner)
    }
}

/// Octavia's `http_method` (CONNECT was refused as 501 before).
fn http_method(method: &str) -> Result<String, LbaasError> {
    if HttpMethod::NAMES.contains(&method) {
        Ok(method.to_owned())
    } else {
        Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute http_method. Value: '{method}'. \
             Value should be one of CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE"
        )))
    }
}

/// Octavia's `http_version`: 1.0 or 1.1, a number as Octavia shows it or
/// its text; `null` is unset.
fn http_version(v: &Value) -> Result<Option<String>, LbaasError> {
    for version in HttpVersion::NAMES {
        if v.as_str() == Some(version) || v.as_f64() == version.parse().ok() {
            return Ok(Some((*version).to_owned()));
        }
    }
    if v.is_null() {
        return Ok(None);
    }
    Err(LbaasError::bad_request(format!(
        "Invalid input for field/attribute http_version. Value: '{v}'. Value should be one of 1.0, 1.1"
    )))
}

/// Octavia's `domain_name`, the checks' Host: a DNS name, held to the
/// core's rule here to answer in Octavia's words; `null` is unset.
fn domain_name(v: &Value) -> Result<Option<String>, LbaasError> {
    let bad = || {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute domain_name. Value: '{v}'. \
             Value should match the pattern of a domain name (letters, digits, '-' and '.')"
        ))
    };
    match v {
        Value::Null => Ok(None),
        Value::String(name) => {
            weir_core::pool::check_host("domain_name", name).map_err(|_| bad())?;
            Ok(Some(name.clone()))
        }
        _ => Err(bad()),
    }
}

/// Octavia's monitor type as Weir's check kind. PING is an ICMP echo
/// check where the data plane can send ICMP; elsewhere the core refuses
/// it (`pool::check_supported`), which reads as Octavia's 501.
pub(super) fn check_kind(kind: &str) -> Result<&'static str, LbaasError> {
    match kind {
        "TCP" => Ok("tcp"),
        "HTTP" => Ok("http"),
        // Huawei ELB spells it with an underscore.
        "UDP-CONNECT" | "UDP_CONNECT" => Ok("udp-connect"),
        "PING" => Ok("ping"),
        "HTTPS" => Ok("https"),
        "TLS-HELLO" => Ok("tls-hello"),
        // An SCTP INIT check needs the SCTP sockets the data plane lacks.
        "SCTP" => Err(sctp()),
        other => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute type. Value: '{other}'. \
             Value should be one of HTTP, HTTPS, PING, SCTP, TCP, TLS-HELLO, UDP-CONNECT"
        ))),
    }
}

/// The dialect's name of a check kind.
pub(super) fn kind_name(kind: &CheckKind, flavor: Flavor) -> &'static str {
    match (kind, flavor) {
        (CheckKind::Tcp, _) => "TCP",
        (CheckKind::Http { .. }, _) => "HTTP",
        (CheckKind::Https { .. }, _) => "HTTPS",
        (CheckKind::TlsHello, _) => "TLS-HELLO",
        (CheckKind::Ping, _) => "PING",
        // A payload check (Aliyun's, UCloud's) is a UDP-CONNECT with a
        // datagram of the tenant's choosing.
        (CheckKind::UdpConnect | CheckKind::UdpPayload { .. }, Flavor::Huawei) => "UDP_CONNECT",
        (CheckKind::UdpConnect | CheckKind::UdpPayload { .. }, _) => "UDP-CONNECT",
    }
}

pub(super) fn monitor_spec(
    m: &MonitorBody,
    current: Option<&HealthCheck>,
) -> Result<HealthCheckSpec, LbaasError> {
    let kind = match (m.kind.as_deref(), current) {
        (Some(kind), _) => check_kind(kind)?,
        (None, Some(c)) => match c.kind {
            CheckKind::Tcp => "tcp",
            CheckKind::Http { .. } => "http",
            CheckKind::Https { .. } => "https",
            CheckKind::TlsHello => "tls-hello",
            CheckKind::UdpConnect | CheckKind::UdpPayload { .. } => "udp-connect",
            CheckKind::Ping => "ping",
        },
        (None, None) => {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute type. Value: None. Mandatory field missing.",
            ))
        }
    };
    let secs = |v: Option<Lenient>| v.map(|v| u64::try_from(v.0).unwrap_or(0).saturating_mul(1000));
    let count = |v: Option<Lenient>| v.map(|v| u32::try_from(v.0).unwrap_or(0));
    let is_http = kind == "http" || kind == "https";
    // GET is every monitor's method in Octavia's and Huawei's views, and
    // clients send it back with TCP monitors too: there it means nothing.
    // Anything else HTTP-only on another type is Octavia's 400, in its
    // order and words.
    if !is_http {
        let named = [
            (
                "http_method",
                m.http_method.as_deref().is_some_and(|x| x != "GET"),
            ),
            ("url_path", m.url_path.is_some()),
            ("expected_codes", m.expected_codes.is_some()),
        ];
        if let Some((field, _)) = named.iter().find(|(_, given)| *given) {
            return Err(LbaasError::bad_request(format!(
                "{field} is not a valid option for health monitors of type {}",
                kind.to_ascii_uppercase()
            )));
        }
    }
    let method = m
        .http_method
        .as_deref()
        .filter(|method| is_http || *method != "GET")
        .map(http_method)
        .transpose()?;
    let version = match &m.http_version {
        Some(Some(v)) => http_version(v)?,
        _ => None,
    };
    let host = match &m.domain_name {
        Some(Some(v)) => domain_name(v)?,
        _ => None,
    };
    // An update that leaves the type alone keeps what it does not name;
    // a null version or domain name goes back to the default.
    let (path, codes, method, version, host) = match current.map(|c| &c.kind) {
        Some(
            CheckKind::Http {
                path,
                expected,
                request,
            }
            | CheckKind::Https {
                path,
                expected,
                request,
            },
        ) if is_http => (
            m.url_path.clone().or(Some(path.clone())),
            m.expected_codes.clone().or(Some(format_codes(expected))),
            method.or(Some(request.method.as_str().to_owned())),
            match m.http_version {
                None => Some(request.version.as_str().to_owned()),
                Some(_) => version,
            },
            match m.domain_name {
                None => request.host.clone(),
                Some(_) => host,
            },
        ),
        _ => (
            m.url_path.clone(),
            m.expected_codes.clone(),
            method,
            version,
            host,
        ),
    };
    Ok(HealthCheckSpec {
        kind: kind.to_owned(),
        interval_ms: secs(m.delay).or(current.map(|c| c.interval_ms)),
        timeout_ms: secs(m.timeout).or(current.map(|c| c.timeout_ms)),
        rise: count(m.max_retries).or(current.map(|c| c.rise)),
        fall: count(m.max_retries_down).or(current.map(|c| c.fall)),
        port: m
            .monitor_port
            .map(|p| u32::try_from(p.0).unwrap_or(0))
            .or(current.and_then(|c| c.port).map(u32::from)),
        path,
        expected_codes: codes,
        method,
        http_version: version,
        host,
        // A UDP payload check made elsewhere keeps its payload while it
        // stays a UDP check (Octavia has no field for it).
        send: match current.map(|c| &c.kind) {
            Some(CheckKind::UdpPayload { send, .. }) if kind == "udp-connect" => Some(send.clone()),
            _ => None,
        },
        expect: match current.map(|c| &c.kind) {
            Some(CheckKind::UdpPayload { expect, .. }) if kind == "udp-connect" => expect.clone(),
            _ => None,
        },
    })
}

pub(super) async fn list_monitors(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let mut items = Vec::new();
    for id in all_pools(c, &ctx.principal).await? {
        let pool = c.get_pool(&ctx.principal, &id).await.map_err(fail)?;
        items.extend(monitor_view(&pool, ctx.flavor));
    }
    ok(listing::list(items, &q, "healthmonitors", &here)?)
}

pub(super) async fn create_monitor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: MonitorBody = body(&raw, "healthmonitor")?;
    let pool_id = req.pool_id.clone().ok_or_else(|| {
        LbaasError::bad_request(
            "Invalid input for field/attribute pool_id. Value: None. Mandatory field missing.",
        )
    })?;
    let c = &d.control;
    let (pool, _, _) = pool_full(c, &ctx.principal, &PoolId::new(pool_id.as_str())).await?;
    req.refuse_unhonoured(&pool.project_id)?;
    if pool.health_check.is_some() {
        return Err(already_monitored(&pool_id));
    }
    let spec = monitor_spec(&req, None)?;
    let update = PoolUpdate {
        health_check: Some(Some(spec)),
        monitor_name: Some(req.name.unwrap_or_default()),
        monitor_enabled: Some(req.admin_state_up.unwrap_or(true)),
        monitor_tags: Some(tags_field("", &req.tags)?.unwrap_or_default()),
        ..PoolUpdate::default()
    };
    // Checked again inside the writer's transaction: of two creates at
    // once, one is a conflict rather than overwriting the other.
    let pool = c
        .update_pool_with(&ctx.principal, pool.id, move |current| {
            if current.health_check.is_some() {
                return Err(already_monitored(&pool_id));
            }
            Ok(update)
        })
        .await
        .map_err(fail)??;
    created(json!({"healthmonitor": monitor_view(&pool, ctx.flavor)}))
}

fn already_monitored(pool_id: &str) -> LbaasError {
    LbaasError::new(
        StatusCode::CONFLICT,
        codes::CONFLICT,
        format!("Pool {pool_id} already has a health monitor"),
    )
}

pub(super) async fn monitored_pool(
    c: &Control,
    ctx: &Ctx,
    p: &HashMap<String, String>,
) -> Result<Pool, LbaasError> {
    let id = param(p, "monitor_id");
    let (pool, _, _) = pool_full(c, &ctx.principal, &PoolId::new(id))
        .await
        .map_err(|_| LbaasError::not_found(format!("Health Monitor {id} could not be found.")))?;
    if pool.health_check.is_none() {
        return Err(LbaasError::not_found(format!(
            "Health Monitor {id} could not be found."
        )));
    }
    Ok(pool)
}

pub(super) async fn show_monitor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let pool = monitored_pool(&d.control, &ctx, &p).await?;
    ok(json!({"healthmonitor": monitor_view(&pool, ctx.flavor)}))
}

pub(super) async fn update_monitor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: MonitorBody = body(&raw, "healthmonitor")?;
    let c = &d.control;
    let pool = monitored_pool(c, &ctx, &p).await?;
    req.refuse_unhonoured(&pool.project_id)?;
    if req.pool_id.is_some() || req.kind.is_some() {
        return Err(LbaasError::bad_request(
            "Invalid input for field/attribute pool_id or type: they cannot be changed on a health monitor.",
        ));
    }
    // Checked against the check the pool has now, so a bad value is
    // refused before the write as ever...
    monitor_spec(&req, pool.health_check.as_ref())?;
    let tags = tags_field("", &req.tags)?;
    let id = param(&p, "monitor_id").to_owned();
    // ...and merged into it inside the writer's transaction, so two
    // updates of different fields at once both stay, and a monitor
    // deleted meanwhile is not brought back.
    let pool = c
        .update_pool_with(&ctx.principal, pool.id, move |current| {
            let Some(check) = current.health_check.as_ref() else {
                return Err(LbaasError::not_found(format!(
                    "Health Monitor {id} could not be found."
                )));
            };
            Ok(PoolUpdate {
                health_check: Some(Some(monitor_spec(&req, Some(check))?)),
                monitor_name: req.name,
                monitor_enabled: req.admin_state_up,
                monitor_tags: tags,
                ..PoolUpdate::default()
            })
        })
        .await
        .map_err(fail)??;
    ok(json!({"healthmonitor": monitor_view(&pool, ctx.flavor)}))
}

pub(super) async fn delete_monitor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let pool = monitored_pool(c, &ctx, &p).await?;
    c.update_pool(
        &ctx.principal,
        pool.id,
        PoolUpdate {
            health_check: Some(None),
            ..PoolUpdate::default()
        },
    )
    .await
    .map_err(fail)?;
    no_content()
}
