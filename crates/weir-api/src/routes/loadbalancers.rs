//! Load balancers, their listeners and pools.

use super::*;

// === load balancers ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateLb {
    #[serde(default)]
    name: String,
    subnet_id: String,
    vip: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// `none`, `failover` or `anycast` (the operator's, among
    /// `cluster.vip_modes`); absent: the deployment's `cluster.vip_mode`.
    vip_mode: Option<String>,
}

/// A VIP mode as the API spells it.
fn vip_mode(text: &str) -> Result<weir_core::cluster::VipMode, ApiError> {
    weir_core::cluster::VipMode::parse(text).ok_or_else(|| {
        weir_core::Error::invalid(
            "vip_mode",
            format!("{text:?} is not \"none\", \"failover\" or \"anycast\""),
        )
        .into()
    })
}

pub(super) async fn create_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateLb>,
) -> ApiResult {
    let new = NewLoadBalancer {
        name: req.name,
        vip: req.vip,
        vpc_id: None,
        stopped: false,
        description: req.description,
        tags: req.tags,
        flavor_id: None,
        vip_mode: req.vip_mode.as_deref().map(vip_mode).transpose()?,
    };
    let lb = c
        .create_load_balancer(&p, SubnetId::new(req.subnet_id), new)
        .await?;
    created(lb_view(&c, lb).await?)
}

pub(super) async fn list_lbs(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let lbs = c.list_load_balancers(&p).await?;
    ok(json!({"loadbalancers": lb_views(&c, &lbs).await?}))
}

pub(super) async fn get_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let lb = c.get_load_balancer(&p, &LoadBalancerId::new(id)).await?;
    ok(lb_view(&c, lb).await?)
}

/// A load balancer's change: what it names changes, the rest stays
/// (stopping and starting are their own routes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchLb {
    name: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    /// A VIP mode; `null`: back to the deployment's.
    #[serde(default, deserialize_with = "present")]
    vip_mode: Option<Option<String>>,
}

pub(super) async fn update_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchLb>,
) -> ApiResult {
    let update = LoadBalancerUpdate {
        name: req.name,
        description: req.description,
        action: None,
        tags: req.tags,
        vip_mode: match req.vip_mode {
            None => None,
            Some(text) => Some(text.as_deref().map(vip_mode).transpose()?),
        },
    };
    let lb = c
        .update_load_balancer(&p, LoadBalancerId::new(id), update)
        .await?;
    ok(lb_view(&c, lb).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteLbQuery {
    #[serde(default)]
    cascade: bool,
}

pub(super) async fn delete_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    query: Result<Query<DeleteLbQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::invalid_request(e.body_text(), None))?;
    c.delete_load_balancer(&p, LoadBalancerId::new(id), q.cascade)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn stop_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let lb = c
        .load_balancer_action(&p, LoadBalancerId::new(id), LbAction::Stop)
        .await?;
    ok(lb_view(&c, lb).await?)
}

pub(super) async fn start_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let lb = c
        .load_balancer_action(&p, LoadBalancerId::new(id), LbAction::Start)
        .await?;
    ok(lb_view(&c, lb).await?)
}

// === listeners ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PortRangeBody {
    start: u32,
    end: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateListener {
    #[serde(default)]
    name: String,
    protocol: String,
    port: Option<u32>,
    port_ranges: Option<Vec<PortRangeBody>>,
    #[serde(default)]
    all_ports: bool,
    forwarding_mode: Option<String>,
    scheduler: Option<String>,
    proxy_protocol: Option<String>,
    /// Absent: the data plane's `dataplane.max_connections`.
    max_connections: Option<u64>,
    /// Absent: the data plane's idle timeout for the protocol.
    idle_timeout_ms: Option<u64>,
    /// Absent: `dataplane.connect_timeout_ms`.
    connect_timeout_ms: Option<u64>,
    /// How long a backend may stay silent; absent: the data plane's default.
    backend_timeout_ms: Option<u64>,
    /// The most a connection's first bytes may be held for inspection.
    inspect_timeout_ms: Option<u64>,
    /// Client networks that may connect; absent or empty: any.
    #[serde(default)]
    allowed_cidrs: Vec<String>,
    /// An access control list of the project, applied as `acl_mode`
    /// (`allow`: only its networks; `deny`: all but them).
    acl_id: Option<String>,
    acl_mode: Option<String>,
    description: Option<String>,
    /// HTTP listeners: which `X-Forwarded-*` headers to add; absent: For
    /// and Proto.
    forwarded_headers: Option<ForwardedHeadersBody>,
    #[serde(default)]
    tags: Vec<String>,
    /// HTTPS listeners: the certificates served, the default first, the
    /// others chosen by SNI.
    #[serde(default)]
    certificate_ids: Vec<String>,
    /// HTTP listeners: answer every request with a 301 to the HTTPS
    /// listener of the same load balancer on this port.
    redirect_https_port: Option<u32>,
    /// HTTPS listeners: client certificates (mTLS), `none`, `optional`
    /// or `mandatory` (default with a CA), verified against a CA
    /// certificate of the project, with revocation lists (`secrets/<id>`).
    client_authentication: Option<String>,
    client_ca_certificate_id: Option<String>,
    /// Or a CA bundle in the key manager (`secrets/<id>`,
    /// `containers/<id>`).
    client_ca_ref: Option<String>,
    client_crl_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForwardedHeadersBody {
    x_forwarded_for: bool,
    x_forwarded_proto: bool,
    x_forwarded_port: bool,
}

pub(super) async fn create_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<CreateListener>,
) -> ApiResult {
    let ca_by_ref = req.client_ca_ref.is_some();
    let client_auth = super::client_auth::ClientAuthBody {
        client_authentication: req.client_authentication,
        client_ca_certificate_id: req.client_ca_certificate_id.map(Some),
        client_ca_ref: req.client_ca_ref.map(Some),
        client_crl_ref: req.client_crl_ref.map(Some),
    }
    .merge(&Default::default())?
    .unwrap_or_default();
    let new = NewListener {
        name: req.name,
        protocol: req.protocol,
        port: req.port,
        port_ranges: req
            .port_ranges
            .map(|r| r.into_iter().map(|r| (r.start, r.end)).collect()),
        all_ports: req.all_ports,
        forwarding_mode: req.forwarding_mode,
        scheduler: req.scheduler,
        proxy_protocol: req.proxy_protocol,
        backend_port: None,
        group_pool_id: None,
        max_connections: req.max_connections,
        idle_timeout_ms: req.idle_timeout_ms,
        connect_timeout_ms: req.connect_timeout_ms,
        backend_timeout_ms: req.backend_timeout_ms,
        inspect_timeout_ms: req.inspect_timeout_ms,
        allowed_cidrs: weir_core::limits::parse_cidrs("allowed_cidrs", &req.allowed_cidrs)?,
        acl: listener_acl(req.acl_id, req.acl_mode)?,
        description: req.description,
        disabled: false,
        forwarded_headers: req.forwarded_headers.map(|h| ForwardedHeaders {
            forwarded_for: h.x_forwarded_for,
            forwarded_proto: h.x_forwarded_proto,
            forwarded_port: h.x_forwarded_port,
            client_cert: Default::default(),
        }),
        tags: req.tags,
        certificate_ids: req.certificate_ids,
        tls_refs: Vec::new(),
        tls_options: Default::default(),
        client_auth,
        certificates_later: false,
        redirect_https_port: req.redirect_https_port,
    };
    let listener = c
        .create_listener(&p, LoadBalancerId::new(id), new)
        .await
        .map_err(|e| super::client_auth::native_field(e, ca_by_ref))?;
    created(listener_view(&c, &listener))
}

pub(super) async fn list_listeners(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let listeners = c.list_listeners(&p, &LoadBalancerId::new(id)).await?;
    let views: Vec<ListenerView> = listeners.iter().map(|l| listener_view(&c, l)).collect();
    ok(json!({ "listeners": views }))
}

pub(super) async fn get_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(listener_view(
        &c,
        &c.get_listener(&p, &ListenerId::new(id)).await?,
    ))
}

/// A listener change: what it names changes, `null` returns a limit or
/// timeout to the data plane's default, and the rest stays.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchListener {
    name: Option<String>,
    /// Forward to this server group of the load balancer instead of the
    /// listener's own pool; `null` returns to the own pool.
    #[serde(default, deserialize_with = "present")]
    group_pool_id: Option<Option<String>>,
    description: Option<String>,
    /// false stops serving the listener, true serves it again.
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    max_connections: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    idle_timeout_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    connect_timeout_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    backend_timeout_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    inspect_timeout_ms: Option<Option<u64>>,
    /// Replaces the allow list; `null` or `[]`: any client.
    #[serde(default, deserialize_with = "present")]
    allowed_cidrs: Option<Option<Vec<String>>>,
    /// Names an ACL with `acl_mode`; `null` removes the listener's.
    #[serde(default, deserialize_with = "present")]
    acl_id: Option<Option<String>>,
    acl_mode: Option<String>,
    forwarded_headers: Option<ForwardedHeadersBody>,
    tags: Option<Vec<String>>,
    /// Replaces an HTTPS listener's certificates (rotation: new
    /// handshakes get them, open connections carry on).
    certificate_ids: Option<Vec<String>>,
    /// A port redirects to HTTPS there; `null` forwards again.
    #[serde(default, deserialize_with = "present")]
    redirect_https_port: Option<Option<u32>>,
    /// Client certificates (mTLS); a CA `null` turns verification off.
    client_authentication: Option<String>,
    #[serde(default, deserialize_with = "present")]
    client_ca_certificate_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    client_ca_ref: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    client_crl_ref: Option<Option<String>>,
}

pub(super) async fn update_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchListener>,
) -> ApiResult {
    let allowed_cidrs = match req.allowed_cidrs {
        None => None,
        Some(list) => Some(weir_core::limits::parse_cidrs(
            "allowed_cidrs",
            &list.unwrap_or_default(),
        )?),
    };
    let acl = match req.acl_id {
        None => listener_acl(None, req.acl_mode)?.map(Some),
        Some(None) if req.acl_mode.is_some() => {
            return Err(weir_core::Error::invalid("acl_mode", "acl_id null removes the ACL").into())
        }
        Some(None) => Some(None),
        Some(Some(id)) => Some(listener_acl(Some(id), req.acl_mode)?),
    };
    let ca_by_ref = req.client_ca_ref.is_some();
    let client_auth = super::client_auth::ClientAuthBody {
        client_authentication: req.client_authentication,
        client_ca_certificate_id: req.client_ca_certificate_id,
        client_ca_ref: req.client_ca_ref,
        client_crl_ref: req.client_crl_ref,
    };
    let update = ListenerUpdate {
        acl,
        name: req.name,
        group_pool_id: req.group_pool_id,
        description: req.description,
        enabled: req.enabled,
        max_connections: req.max_connections,
        idle_timeout_ms: req.idle_timeout_ms,
        connect_timeout_ms: req.connect_timeout_ms,
        backend_timeout_ms: req.backend_timeout_ms,
        inspect_timeout_ms: req.inspect_timeout_ms,
        allowed_cidrs,
        forwarded_headers: req.forwarded_headers.map(|h| ForwardedHeaders {
            forwarded_for: h.x_forwarded_for,
            forwarded_proto: h.x_forwarded_proto,
            forwarded_port: h.x_forwarded_port,
            client_cert: Default::default(),
        }),
        tags: req.tags,
        certificate_ids: req.certificate_ids,
        redirect_https_port: req.redirect_https_port,
        ..ListenerUpdate::default()
    };
    // The client-authentication fields merge over the listener's inside
    // the writer's transaction, so a concurrent change of the others is
    // not lost.
    let listener = c
        .update_listener_with(&p, ListenerId::new(id), move |current| {
            Ok::<_, weir_core::Error>(ListenerUpdate {
                client_auth: client_auth.merge(&current.client_auth)?,
                ..update
            })
        })
        .await
        .map_err(|e| super::client_auth::native_field(e, ca_by_ref))?
        .map_err(|e| super::client_auth::native_field(e.into(), ca_by_ref))?;
    ok(listener_view(&c, &listener))
}

pub(super) async fn delete_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_listener(&p, ListenerId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Traffic totals from this node's data plane.
fn stats_json(s: &weir_core::status::ListenerStats) -> serde_json::Value {
    json!({
        "active_connections": s.active_connections,
        "total_connections": s.total_connections,
        "bytes_in": s.bytes_in,
        "bytes_out": s.bytes_out,
        "request_errors": s.request_errors,
    })
}

pub(super) async fn listener_stats(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let listener = c.get_listener(&p, &ListenerId::new(id)).await?;
    ok(stats_json(&c.listener_stats(&listener)))
}

/// The sum over the load balancer's listeners.
pub(super) async fn lb_stats(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let total = c
        .list_listeners(&p, &LoadBalancerId::new(id))
        .await?
        .iter()
        .map(|l| c.listener_stats(l))
        .fold(Default::default(), |a, b| a + b);
    ok(stats_json(&total))
}

pub(super) async fn list_pools(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let pools = c.list_pools(&p, &LoadBalancerId::new(id)).await?;
    let views: Vec<PoolView> = pools.iter().map(PoolView::from).collect();
    ok(json!({ "pools": views }))
}

pub(super) async fn get_pool(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(PoolView::from(&c.get_pool(&p, &PoolId::new(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HealthCheckBody {
    #[serde(rename = "type")]
    kind: String,
    interval_ms: Option<u64>,
    timeout_ms: Option<u64>,
    rise: Option<u32>,
    fall: Option<u32>,
    port: Option<u32>,
    path: Option<String>,
    expected_codes: Option<String>,
    method: Option<String>,
    http_version: Option<String>,
    host: Option<String>,
    send: Option<String>,
    expect: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchPool {
    /// Renames the pool (Aliyun SetVServerGroupAttribute).
    name: Option<String>,
    /// `null` removes the check; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    health_check: Option<Option<HealthCheckBody>>,
    drain_timeout_ms: Option<u64>,
    /// 0 turns slow start off.
    slow_start_ms: Option<u64>,
    /// Serve every backend when all fail their checks; false: none.
    fail_open: Option<bool>,
    /// Members dialled over TLS ([`super::pool_tls`]); `null`: in the
    /// clear; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    backend_tls: Option<Option<super::pool_tls::BackendTlsBody>>,
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
pub(super) fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

pub(super) async fn update_pool(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchPool>,
) -> ApiResult {
    let update = PoolUpdate {
        health_check: req.health_check.map(|check| {
            check.map(|h| HealthCheckSpec {
                kind: h.kind,
                interval_ms: h.interval_ms,
                timeout_ms: h.timeout_ms,
                rise: h.rise,
                fall: h.fall,
                port: h.port,
                path: h.path,
                expected_codes: h.expected_codes,
                method: h.method,
                http_version: h.http_version,
                host: h.host,
                send: h.send,
                expect: h.expect,
            })
        }),
        drain_timeout_ms: req.drain_timeout_ms,
        slow_start_ms: req.slow_start_ms,
        fail_open: req.fail_open,
        name: req.name,
        upstream_tls: req
            .backend_tls
            .map(|b| b.map(|b| b.into_upstream()).transpose())
            .transpose()?,
        ..Default::default()
    };
    let ca_by_certificate = update
        .upstream_tls
        .as_ref()
        .and_then(|u| u.as_ref())
        .and_then(|u| u.ca.as_ref())
        .is_some_and(|r| matches!(r.target, weir_core::keymgr::KeyRef::Certificate(_)));
    ok(PoolView::from(
        &c.update_pool(&p, PoolId::new(id), update)
            .await
            .map_err(|e| super::pool_tls::native_field(e, ca_by_certificate))?,
    ))
}
