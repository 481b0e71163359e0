//! Server groups made and removed natively: a pool of a load balancer
//! with its own algorithm and protocol, which a listener forwards to
//! (given at creation) or an L7 policy redirects to. Octavia's and
//! Huawei's `POST/DELETE /pools` and Aliyun's Create/DeleteVServerGroup
//! reach the same control methods.

use super::*;
use weir_core::group::{NewServerGroup, WhenInUse};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPoolBody {
    name: String,
    description: Option<String>,
    /// A scheduler name; absent: each listener's.
    scheduler: Option<String>,
    /// What the members speak; absent: whatever the listener speaks.
    protocol: Option<String>,
    /// A listener of the same load balancer, forwarding to no server
    /// group yet, that forwards to this one.
    listener_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

pub(super) async fn create_pool(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(lb_id): Path<String>,
    JsonBody(req): JsonBody<NewPoolBody>,
) -> ApiResult {
    let group = NewServerGroup {
        name: req.name,
        description: req.description,
        scheduler: req.scheduler,
        protocol: req.protocol,
        tags: req.tags,
        ..NewServerGroup::default()
    };
    let (pool, _) = c
        .create_server_group(
            &p,
            LoadBalancerId::new(lb_id),
            group,
            req.listener_id.map(ListenerId::new),
            Vec::new(),
            RegisterPolicy::native(),
        )
        .await?;
    created(PoolView::from(&pool))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeletePoolQuery {
    /// true: the listeners forwarding to the group go back to their own
    /// pools (Octavia); absent or false: refused while one does (Aliyun).
    #[serde(default)]
    detach: bool,
}

pub(super) async fn delete_pool(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    query: Result<Query<DeletePoolQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::invalid_request(e.body_text(), None))?;
    let when_in_use = if q.detach {
        WhenInUse::Detach
    } else {
        WhenInUse::Refuse
    };
    c.delete_server_group(&p, PoolId::new(id), when_in_use)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One backend of the set a pool should have: matched to the pool's by
/// address and port.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DesiredBackend {
    address: String,
    port: i64,
    subnet_id: Option<String>,
    weight: Option<i64>,
    enabled: Option<bool>,
    backup: Option<bool>,
    name: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplaceBackendsBody {
    backends: Vec<DesiredBackend>,
    /// true: the pool's backends not named stay; false: they go.
    #[serde(default)]
    additive_only: bool,
}

/// Makes a pool's backends the set given, in one write (Octavia's batch
/// member update): those named are updated, the new ones registered, the
/// rest deregistered unless `additive_only`.
pub(super) async fn replace_pool_backends(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReplaceBackendsBody>,
) -> ApiResult {
    let desired = req
        .backends
        .into_iter()
        .map(|b| BackendSpec {
            address: Some(b.address),
            port: Some(b.port),
            subnet_id: b.subnet_id,
            weight: b.weight,
            enabled: b.enabled,
            backup: b.backup,
            name: b.name,
            tags: b.tags,
            ..BackendSpec::default()
        })
        .collect();
    let outcome = c
        .batch_backends(
            &p,
            PoolId::new(id),
            desired,
            req.additive_only,
            RegisterPolicy::native(),
        )
        .await?;
    ok(json!({
        "created": views::<_, BackendView>(&outcome.created),
        "updated": views::<_, BackendView>(&outcome.updated),
        "deleted": views::<_, BackendView>(&outcome.deleted),
    }))
}
