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
    http_version: Option<Value>,
    domain_name: Option<Value>,
    /// Absent leaves them, `null` clears them.
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
    project_id: Option<String>,
    tenant_id: Option<String>,
}

impl MonitorBody {
    /// Refuses what Weir cannot do: other HTTP methods and versions than
    /// the GET over HTTP/1.1 its checks send, a Host of the caller's
    /// choosing; and a body naming another project.
    fn refuse_unhonoured(&self, owner: &ProjectId) -> Result<(), LbaasError> {
        if let Some(method) = self.http_method.as_deref().filter(|m| *m != "GET") {
            return Err(LbaasError::unsupported(format!(
                "http_method {method} (Weir's checks send GET)"
            )));
        }
        match &self.http_version {
            None | Some(Value::Null) => {}
            Some(v) if v.as_f64() == Some(1.1) || v.as_str() == Some("1.1") => {}
            Some(v) => {
                return Err(LbaasError::unsupported(format!(
                    "http_version {v} (Weir's checks speak HTTP/1.1)"
                )))
            }
        }
        refuse_unhonoured("", "domain_name", self.domain_name.as_ref())?;
        check_owner([&self.project_id, &self.tenant_id], owner)
    }
}

/// Octavia's monitor type as Weir's check kind; the TLS ones and ICMP are
/// options Weir's provider does not have (501, which Octavia clients read
/// as "unsupported").
pub(super) fn check_kind(kind: &str) -> Result<&'static str, LbaasError> {
    match kind {
        "TCP" => Ok("tcp"),
        "HTTP" => Ok("http"),
        // Huawei ELB spells it with an underscore.
        "UDP-CONNECT" | "UDP_CONNECT" => Ok("udp-connect"),
        "PING" => Err(LbaasError::unsupported(
            "health monitor type PING (Weir sends no ICMP; use TCP or UDP-CONNECT)",
        )),
        "HTTPS" => Ok("https"),
        "TLS-HELLO" => Ok("tls-hello"),
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
        (CheckKind::UdpConnect, Flavor::Huawei) => "UDP_CONNECT",
        (CheckKind::UdpConnect, _) => "UDP-CONNECT",
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
            CheckKind::UdpConnect => "udp-connect",
        },
        (None, None) => {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute type. Value: None. Mandatory field missing.",
            ))
        }
    };
    let secs = |v: Option<Lenient>| v.map(|v| u64::try_from(v.0).unwrap_or(0).saturating_mul(1000));
    let count = |v: Option<Lenient>| v.map(|v| u32::try_from(v.0).unwrap_or(0));
    // An update that leaves the type alone keeps the path and codes.
    let (path, codes) = match current.map(|c| &c.kind) {
        Some(CheckKind::Http { path, expected } | CheckKind::Https { path, expected })
            if kind == "http" || kind == "https" =>
        {
            (
                m.url_path.clone().or(Some(path.clone())),
                m.expected_codes.clone().or(Some(format_codes(expected))),
            )
        }
        _ => (m.url_path.clone(), m.expected_codes.clone()),
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
        return Err(LbaasError::new(
            StatusCode::CONFLICT,
            codes::CONFLICT,
            format!("Pool {pool_id} already has a health monitor"),
        ));
    }
    let spec = monitor_spec(&req, None)?;
    let pool = c
        .update_pool(
            &ctx.principal,
            pool.id,
            PoolUpdate {
                health_check: Some(Some(spec)),
                monitor_name: Some(req.name.unwrap_or_default()),
                monitor_enabled: Some(req.admin_state_up.unwrap_or(true)),
                monitor_tags: Some(tags_field("", &req.tags)?.unwrap_or_default()),
                ..PoolUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    created(json!({"healthmonitor": monitor_view(&pool, ctx.flavor)}))
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
    let spec = monitor_spec(&req, pool.health_check.as_ref())?;
    let pool = c
        .update_pool(
            &ctx.principal,
            pool.id,
            PoolUpdate {
                health_check: Some(Some(spec)),
                monitor_name: req.name,
                monitor_enabled: req.admin_state_up,
                monitor_tags: tags_field("", &req.tags)?,
                ..PoolUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
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
