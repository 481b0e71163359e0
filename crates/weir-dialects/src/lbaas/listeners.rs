//! `/listeners`: create, list, show, update, delete.

use super::*;

/// Every listener the caller sees, across their load balancers, with
/// whether its load balancer runs.
pub(super) async fn all_listeners(
    c: &Control,
    p: &Principal,
) -> Result<Vec<(Listener, bool)>, LbaasError> {
    let mut out = Vec::new();
    for lb in c.list_load_balancers(p).await.map_err(fail)? {
        let running = lb.status == LbStatus::Running;
        out.extend(
            c.list_listeners(p, &lb.id)
                .await
                .map_err(fail)?
                .into_iter()
                .map(|l| (l, running)),
        );
    }
    Ok(out)
}

/// Whether the listener's load balancer runs.
pub(super) async fn lb_running(
    c: &Control,
    p: &Principal,
    l: &Listener,
) -> Result<bool, LbaasError> {
    Ok(c.get_load_balancer(p, &l.lb_id).await.map_err(fail)?.status == LbStatus::Running)
}

pub(super) async fn list_listeners(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let items = all_listeners(c, &ctx.principal)
        .await?
        .iter()
        .map(|(l, running)| listener_view(c, l, *running))
        .collect();
    ok(listing::list(items, &q, "listeners", &here)?)
}

#[derive(Deserialize)]
pub(super) struct CreateListener {
    loadbalancer_id: Option<String>,
    protocol: Option<String>,
    protocol_port: Option<Lenient>,
    name: Option<String>,
    description: Option<String>,
    admin_state_up: Option<bool>,
    connection_limit: Option<Lenient>,
    default_pool_id: Option<String>,
}

/// Octavia's `connection_limit`: -1 (its default) means "the provider's
/// default", here `dataplane.max_connections` (Octavia's amphora driver
/// likewise maps it to HAProxy's default of 50,000); a positive value is
/// the listener's cap (bounded by the core). 0 and other negatives are
/// refused: a listener that accepts nothing is a mistake, not a setting.
pub(super) fn connection_limit(limit: Lenient) -> Result<Option<u64>, LbaasError> {
    match limit.0 {
        -1 => Ok(None),
        n if n > 0 => Ok(Some(n.unsigned_abs())),
        n => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute connection_limit. Value: '{n}'. \
             Value must be -1 (the default) or a positive number of connections."
        ))),
    }
}

pub(super) fn listener_protocol(p: &str) -> Result<&'static str, LbaasError> {
    match p {
        "TCP" => Ok("tcp"),
        "UDP" => Ok("udp"),
        "HTTP" => Ok("http"),
        // Octavia's HTTPS passes TLS through to members that terminate it.
        "HTTPS" => Ok("tls-passthrough"),
        "TERMINATED_HTTPS" => Err(LbaasError::unsupported(
            "protocol TERMINATED_HTTPS (Weir does not terminate TLS yet; HTTPS passes it through)",
        )),
        "SCTP" => Err(LbaasError::unsupported("protocol SCTP")),
        "PROMETHEUS" => Err(LbaasError::unsupported("protocol PROMETHEUS")),
        other => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute protocol. Value: '{other}'. \
             Value should be one of HTTP, HTTPS, PROMETHEUS, SCTP, TCP, TERMINATED_HTTPS, UDP"
        ))),
    }
}

pub(super) async fn create_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateListener = body(&raw, "listener")?;
    let missing = |f: &str| {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {f}. Value: None. Mandatory field missing."
        ))
    };
    let lb = req
        .loadbalancer_id
        .ok_or_else(|| missing("loadbalancer_id"))?;
    let protocol = listener_protocol(&req.protocol.ok_or_else(|| missing("protocol"))?)?;
    let port = req.protocol_port.ok_or_else(|| missing("protocol_port"))?.0;
    let c = &d.control;
    let listener = c
        .create_listener(
            &ctx.principal,
            LoadBalancerId::new(lb),
            NewListener {
                name: req.name.unwrap_or_default(),
                protocol: protocol.to_owned(),
                port: Some(u32::try_from(port).unwrap_or(0)),
                port_ranges: None,
                all_ports: false,
                forwarding_mode: None,
                scheduler: None,
                proxy_protocol: None,
                backend_port: None,
                group_pool_id: req.default_pool_id,
                description: req.description,
                disabled: req.admin_state_up == Some(false),
                max_connections: req
                    .connection_limit
                    .map(connection_limit)
                    .transpose()?
                    .flatten(),
                idle_timeout_ms: None,
            },
        )
        .await
        .map_err(fail)?;
    let running = lb_running(c, &ctx.principal, &listener).await?;
    created(json!({"listener": listener_view(c, &listener, running)}))
}

pub(super) async fn show_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let l = c
        .get_listener(&ctx.principal, &ListenerId::new(param(&p, "listener_id")))
        .await
        .map_err(fail)?;
    let running = lb_running(c, &ctx.principal, &l).await?;
    ok(json!({"listener": listener_view(c, &l, running)}))
}

#[derive(Deserialize)]
pub(super) struct UpdateListener {
    name: Option<String>,
    description: Option<String>,
    admin_state_up: Option<bool>,
    connection_limit: Option<Lenient>,
    /// `null` detaches the default pool; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    default_pool_id: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub(super) async fn update_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: UpdateListener = body(&raw, "listener")?;
    let c = &d.control;
    let l = c
        .update_listener(
            &ctx.principal,
            ListenerId::new(param(&p, "listener_id")),
            ListenerUpdate {
                name: req.name,
                description: req.description,
                enabled: req.admin_state_up,
                max_connections: req.connection_limit.map(connection_limit).transpose()?,
                group_pool_id: req.default_pool_id,
                ..ListenerUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    let running = lb_running(c, &ctx.principal, &l).await?;
    ok(json!({"listener": listener_view(c, &l, running)}))
}

pub(super) async fn delete_listener(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    d.control
        .delete_listener(&ctx.principal, ListenerId::new(param(&p, "listener_id")))
        .await
        .map_err(fail)?;
    no_content()
}
