//! `/healthmonitors`: one per pool; a monitor's id is its pool's.

use super::*;

#[derive(Deserialize)]
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
    monitor_port: Option<Lenient>,
}

pub(super) fn monitor_spec(
    m: &MonitorBody,
    current: Option<&HealthCheck>,
) -> Result<HealthCheckSpec, LbaasError> {
    let kind =
        match m.kind.as_deref() {
            Some("TCP" | "PING" | "UDP-CONNECT") => "tcp",
            Some("HTTP") => "http",
            Some(other) => {
                return Err(LbaasError::bad_request(format!(
                    "health monitor type {other} is not supported (TCP, PING, UDP-CONNECT, HTTP)"
                )))
            }
            None => match current.map(|c| &c.kind) {
                Some(CheckKind::Http { .. }) => "http",
                Some(CheckKind::Tcp) => "tcp",
                None => return Err(LbaasError::bad_request(
                    "Invalid input for field/attribute type. Value: None. Mandatory field missing.",
                )),
            },
        };
    let secs = |v: Option<Lenient>| v.map(|v| u64::try_from(v.0).unwrap_or(0).saturating_mul(1000));
    let count = |v: Option<Lenient>| v.map(|v| u32::try_from(v.0).unwrap_or(0));
    Ok(HealthCheckSpec {
        kind: kind.to_owned(),
        interval_ms: secs(m.delay).or(current.map(|c| c.interval_ms)),
        timeout_ms: secs(m.timeout).or(current.map(|c| c.timeout_ms)),
        rise: count(m.max_retries).or(current.map(|c| c.rise)),
        fall: count(m.max_retries_down).or(current.map(|c| c.fall)),
        port: m.monitor_port.map(|p| u32::try_from(p.0).unwrap_or(0)),
        path: m.url_path.clone(),
        expected_codes: m.expected_codes.clone(),
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
        items.extend(monitor_view(&pool));
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
    let pool = c
        .get_pool(&ctx.principal, &PoolId::new(pool_id.as_str()))
        .await
        .map_err(fail)?;
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
                ..PoolUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    created(json!({"healthmonitor": monitor_view(&pool)}))
}

pub(super) async fn monitored_pool(
    c: &Control,
    ctx: &Ctx,
    p: &HashMap<String, String>,
) -> Result<Pool, LbaasError> {
    let id = param(p, "monitor_id");
    let pool = c
        .get_pool(&ctx.principal, &PoolId::new(id))
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
    ok(json!({"healthmonitor": monitor_view(&pool)}))
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
    let spec = monitor_spec(&req, pool.health_check.as_ref())?;
    let pool = c
        .update_pool(
            &ctx.principal,
            pool.id,
            PoolUpdate {
                health_check: Some(Some(spec)),
                ..PoolUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    ok(json!({"healthmonitor": monitor_view(&pool)}))
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
