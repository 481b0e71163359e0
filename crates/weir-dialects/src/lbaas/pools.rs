//! `/pools`: create, list, show, update, delete.
//!
//! An LBaaS pool is a server group of its load balancer
//! ([`weir_core::group`]): any number per load balancer, each with its own
//! algorithm, protocol, members and monitor, the default pool of the
//! listeners that forward to it. The structural pools the other dialects
//! register into (a listener's own pool, the LB-wide pool) are not listed
//! as LBaaS pools; named by id they can be shown and their members and
//! monitor managed (one registry, several faces), but not changed or
//! deleted here (409).

use axum::http::HeaderMap;
use weir_core::group::{is_server_group, NewServerGroup, WhenInUse};
use weir_core::pool::PersistenceSpec;
use weir_core::upstream_tls::UpstreamTls;

use super::pool_tls::PoolTlsBody;

use super::*;

/// A pool, the listeners it serves (those whose default pool it is, or
/// a structural pool's own listener), and its members.
pub(super) async fn pool_full(
    c: &Control,
    p: &Principal,
    pool_id: &PoolId,
) -> Result<(Pool, Vec<Listener>, Vec<Backend>), LbaasError> {
    let (_, pool, listeners, members) = pool_on_lb(c, p, pool_id).await?;
    Ok((pool, listeners, members))
}

/// [`pool_full`] of a server group: the structural pools of the other
/// dialects cannot be changed or deleted through LBaaS.
pub(super) async fn group_full(
    c: &Control,
    p: &Principal,
    pool_id: &PoolId,
) -> Result<(Pool, Vec<Listener>, Vec<Backend>), LbaasError> {
    let (lb, pool, listeners, members) = pool_on_lb(c, p, pool_id).await?;
    if is_server_group(&lb, &pool) {
        Ok((pool, listeners, members))
    } else {
        Err(LbaasError::new(
            StatusCode::CONFLICT,
            codes::CONFLICT,
            format!(
                "Pool {pool_id} is the own pool of a listener or load balancer made through another API; \
                 it cannot be changed or deleted here."
            ),
        ))
    }
}

/// [`pool_full`] with the pool's load balancer.
async fn pool_on_lb(
    c: &Control,
    p: &Principal,
    pool_id: &PoolId,
) -> Result<(LoadBalancer, Pool, Vec<Listener>, Vec<Backend>), LbaasError> {
    let (pool, own, members) = any_pool(c, p, pool_id).await?;
    let lb = c.get_load_balancer(p, &pool.lb_id).await.map_err(fail)?;
    let listeners = if is_server_group(&lb, &pool) {
        c.list_listeners(p, &lb.id)
            .await
            .map_err(fail)?
            .into_iter()
            .filter(|l| l.group_pool_id.as_ref() == Some(&pool.id))
            .collect()
    } else {
        own.into_iter().collect()
    };
    Ok((lb, pool, listeners, members))
}

/// Any pool of the caller with its own listener and members; 404 as
/// Octavia words it.
async fn any_pool(
    c: &Control,
    p: &Principal,
    pool_id: &PoolId,
) -> Result<(Pool, Option<Listener>, Vec<Backend>), LbaasError> {
    let gone = || LbaasError::not_found(format!("Pool {pool_id} could not be found."));
    c.backends_of(p, &RegisterTarget::Pool(pool_id.clone()))
        .await
        .map_err(|e| match e {
            ControlError::Domain(Error::NotFound { .. }) => gone(),
            e => fail(e),
        })
}

/// The server groups of `lb`.
pub(super) async fn groups_of(
    c: &Control,
    p: &Principal,
    lb: &LoadBalancer,
) -> Result<Vec<Pool>, LbaasError> {
    Ok(c.list_pools(p, &lb.id)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|pool| is_server_group(lb, pool))
        .collect())
}

pub(super) async fn all_pools(c: &Control, p: &Principal) -> Result<Vec<PoolId>, LbaasError> {
    let mut out = Vec::new();
    for lb in c.list_load_balancers(p).await.map_err(fail)? {
        out.extend(groups_of(c, p, &lb).await?.into_iter().map(|p| p.id));
    }
    Ok(out)
}

pub(super) async fn list_pools(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let p = &ctx.principal;
    let mut items = Vec::new();
    // One listener read per load balancer, one member read per pool: a
    // tenant at its limits lists in O(pools) reads, not O(pools × listeners).
    for lb in c.list_load_balancers(p).await.map_err(fail)? {
        let listeners = c.list_listeners(p, &lb.id).await.map_err(fail)?;
        for pool in groups_of(c, p, &lb).await? {
            let (_, _, members) = any_pool(c, p, &pool.id).await?;
            let users: Vec<Listener> = listeners
                .iter()
                .filter(|l| l.group_pool_id.as_ref() == Some(&pool.id))
                .cloned()
                .collect();
            items.push(pool_view(c, &pool, &users, &members));
        }
    }
    ok(listing::list(items, &q, "pools", &here)?)
}

/// Every field of Octavia's pool body; those Weir cannot honour yet are
/// refused unless they say "none" ([`super::pool_tls`]), and any other
/// field is refused by name, as Octavia's own API does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PoolBody {
    listener_id: Option<String>,
    loadbalancer_id: Option<String>,
    protocol: Option<String>,
    lb_algorithm: Option<String>,
    name: Option<String>,
    description: Option<String>,
    admin_state_up: Option<bool>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    /// `null` (`Some(None)`) clears it on update; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    session_persistence: Option<Option<Value>>,
    /// Likewise.
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
    /// Re-encryption to members ([`super::pool_tls`]).
    tls_enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    tls_container_ref: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    ca_tls_container_ref: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    crl_container_ref: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    tls_versions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    tls_ciphers: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    alpn_protocols: Option<Option<Vec<String>>>,
}

impl PoolBody {
    /// The pool belongs to its load balancer's project (`owner`).
    fn check_owner(&self, owner: &ProjectId) -> Result<(), LbaasError> {
        check_owner([&self.project_id, &self.tenant_id], owner)
    }

    /// What the body says about TLS to members, read against the pool's
    /// `current` re-encryption ([`PoolTlsBody::apply`]).
    fn upstream_tls(
        &self,
        flavor: Flavor,
        headers: &HeaderMap,
        current: Option<&UpstreamTls>,
    ) -> Result<Option<Option<UpstreamTls>>, LbaasError> {
        self.tls_body().apply(flavor, headers, current)
    }

    /// The body's TLS fields on their own, to merge later.
    fn tls_body(&self) -> PoolTlsBody {
        PoolTlsBody {
            tls_enabled: self.tls_enabled,
            tls_container_ref: self.tls_container_ref.clone(),
            ca_tls_container_ref: self.ca_tls_container_ref.clone(),
            crl_container_ref: self.crl_container_ref.clone(),
            tls_versions: self.tls_versions.clone(),
            tls_ciphers: self.tls_ciphers.clone(),
            alpn_protocols: self.alpn_protocols.clone(),
        }
    }
}

/// Octavia's `session_persistence` as Weir's [`PersistenceSpec`]: every
/// type is honoured (SOURCE_IP: consistent hashing of the client address;
/// HTTP_COOKIE: a `WEIRSRV` cookie Weir inserts; APP_COOKIE: consistent
/// hashing of the named application cookie's value). `cookie_name` is
/// checked by the core (required for APP_COOKIE, refused otherwise, a
/// token), and so is the pool's protocol (cookies need HTTP); timeouts and
/// granularity are options Weir does not have (501).
pub(super) fn persistence(sp: Option<&Value>) -> Result<Option<PersistenceSpec>, LbaasError> {
    let Some(sp) = sp.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let field = |name: &str| sp.get(name).filter(|v| !v.is_null());
    let kind = match field("type").and_then(Value::as_str) {
        Some("SOURCE_IP") => "source-ip",
        Some("HTTP_COOKIE") => "http-cookie",
        Some("APP_COOKIE") => "app-cookie",
        _ => {
            return Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute session_persistence. Value: '{sp}'. \
                 type should be one of SOURCE_IP, HTTP_COOKIE, APP_COOKIE"
            )))
        }
    };
    if let Some(unknown) = sp.as_object().and_then(|o| {
        o.keys().find(|k| {
            ![
                "type",
                "cookie_name",
                "persistence_timeout",
                "persistence_granularity",
            ]
            .contains(&k.as_str())
        })
    }) {
        return Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute session_persistence: unknown attribute {unknown}"
        )));
    }
    for name in ["persistence_timeout", "persistence_granularity"] {
        if let Some(v) = field(name) {
            return Err(LbaasError::unsupported(format!(
                "session_persistence {name} {v} (Weir keeps persistence for as long as the member serves)"
            )));
        }
    }
    let cookie_name = match field("cookie_name") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => {
            return Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute session_persistence. Value: '{sp}'. \
                 cookie_name {other} is not a string"
            )))
        }
    };
    Ok(Some(PersistenceSpec {
        kind: kind.to_owned(),
        cookie_name,
    }))
}

/// Octavia's pool protocol as Weir's [`PoolProtocol`] wire name.
pub(super) fn group_protocol(p: &str) -> Result<&'static str, LbaasError> {
    match p {
        "TCP" => Ok("tcp"),
        "UDP" => Ok("udp"),
        "HTTP" => Ok("http"),
        "HTTPS" => Ok("https"),
        "PROXY" => Ok("proxy"),
        "PROXYV2" => Ok("proxyv2"),
        "SCTP" => Err(sctp()),
        other => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute protocol. Value: '{other}'. \
             Value should be one of HTTP, HTTPS, PROXY, PROXYV2, SCTP, TCP, UDP"
        ))),
    }
}

/// A protocol/listener mismatch in Octavia's words.
fn protocol_mismatch(e: ControlError, protocol: &str, listener: Option<&Listener>) -> LbaasError {
    match (&e, listener) {
        (ControlError::Domain(Error::InvalidField { field, .. }), Some(l))
            if field == "group_pool_id" =>
        {
            LbaasError::bad_request(format!(
                "The pool protocol '{protocol}' is invalid while the listener protocol is '{}'.",
                octavia_protocol(l.protocol)
            ))
        }
        _ => fail(e),
    }
}

pub(super) async fn create_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: PoolBody = body(&raw, "pool")?;
    let missing = |f: &str| {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {f}. Value: None. Mandatory field missing."
        ))
    };
    let protocol = req.protocol.as_deref().ok_or_else(|| missing("protocol"))?;
    let algorithm = algorithm(
        req.lb_algorithm
            .as_deref()
            .ok_or_else(|| missing("lb_algorithm"))?,
    )?;
    let c = &d.control;
    let listener = match &req.listener_id {
        Some(id) => Some(
            c.get_listener(&ctx.principal, &ListenerId::new(id.as_str()))
                .await
                .map_err(fail)?,
        ),
        None => None,
    };
    let lb_id = match (&listener, &req.loadbalancer_id) {
        (Some(l), Some(lb)) if l.lb_id.as_str() != lb => {
            return Err(LbaasError::bad_request(format!(
                "Listener {} is not on load balancer {lb}.",
                l.id
            )))
        }
        (Some(l), _) => l.lb_id.clone(),
        (None, Some(lb)) => LoadBalancerId::new(lb.as_str()),
        (None, None) => return Err(missing("listener_id or loadbalancer_id")),
    };
    let lb = c
        .get_load_balancer(&ctx.principal, &lb_id)
        .await
        .map_err(fail)?;
    req.check_owner(&lb.project_id)?;
    let upstream_tls = req.upstream_tls(ctx.flavor, &headers, None)?.flatten();
    let (pool, _) = c
        .create_server_group(
            &ctx.principal,
            lb_id,
            NewServerGroup {
                name: req.name.clone().unwrap_or_default(),
                description: req.description.clone(),
                scheduler: Some(algorithm.to_owned()),
                protocol: Some(group_protocol(protocol)?.to_owned()),
                persistence: persistence(
                    req.session_persistence.as_ref().and_then(Option::as_ref),
                )?,
                disabled: req.admin_state_up == Some(false),
                tags: tags_field("", &req.tags)?.unwrap_or_default(),
                upstream_tls,
            },
            listener.as_ref().map(|l| l.id.clone()),
            Vec::new(),
            ctx.flavor.policy(),
        )
        .await
        .map_err(|e| match e {
            ControlError::Domain(Error::Conflict { .. }) if listener.is_some() => LbaasError::new(
                StatusCode::CONFLICT,
                codes::CONFLICT,
                format!(
                    "Listener {} already has a default pool.",
                    req.listener_id.as_deref().unwrap_or_default()
                ),
            ),
            e => protocol_mismatch(e, protocol, listener.as_ref()),
        })?;
    let (pool, listeners, members) = pool_full(c, &ctx.principal, &pool.id).await?;
    created(json!({"pool": pool_view(c, &pool, &listeners, &members)}))
}

pub(super) async fn show_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let (pool, listeners, members) =
        pool_full(c, &ctx.principal, &PoolId::new(param(&p, "pool_id"))).await?;
    ok(json!({"pool": pool_view(c, &pool, &listeners, &members)}))
}

pub(super) async fn update_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: PoolBody = body(&raw, "pool")?;
    // What a pool is attached to and speaks is fixed at creation.
    for (name, given) in [
        ("listener_id", req.listener_id.is_some()),
        ("loadbalancer_id", req.loadbalancer_id.is_some()),
        ("protocol", req.protocol.is_some()),
    ] {
        if given {
            return Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute {name}: it cannot be changed on a pool."
            )));
        }
    }
    let c = &d.control;
    let id = PoolId::new(param(&p, "pool_id"));
    let (current, _, _) = group_full(c, &ctx.principal, &id).await?;
    req.check_owner(&current.project_id)?;
    // Refused before the write as ever; merged into the pool's
    // re-encryption again inside the writer's transaction, so a
    // concurrent update's TLS fields are not lost.
    req.upstream_tls(ctx.flavor, &headers, current.upstream_tls.as_ref())?;
    let (tls, flavor) = (req.tls_body(), ctx.flavor);
    let base = PoolUpdate {
        name: req.name,
        description: req.description,
        enabled: req.admin_state_up,
        persistence: req
            .session_persistence
            .as_ref()
            .map(|sp| persistence(sp.as_ref()))
            .transpose()?,
        scheduler: req
            .lb_algorithm
            .as_deref()
            .map(algorithm)
            .transpose()?
            .map(|s| Some(s.to_owned())),
        tags: tags_field("", &req.tags)?,
        ..PoolUpdate::default()
    };
    c.update_pool_with(&ctx.principal, id.clone(), move |current| {
        Ok::<_, LbaasError>(PoolUpdate {
            upstream_tls: tls.apply(flavor, &headers, current.upstream_tls.as_ref())?,
            ..base
        })
    })
    .await
    .map_err(fail)??;
    let (pool, listeners, members) = pool_full(c, &ctx.principal, &id).await?;
    ok(json!({"pool": pool_view(c, &pool, &listeners, &members)}))
}

/// Deletes the pool with its members and monitor; a listener it was the
/// default pool of is left without one, as in Octavia.
pub(super) async fn delete_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let id = PoolId::new(param(&p, "pool_id"));
    group_full(c, &ctx.principal, &id).await?;
    c.delete_server_group(&ctx.principal, id, WhenInUse::Detach)
        .await
        .map_err(fail)?;
    no_content()
}
