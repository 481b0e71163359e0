//! Backends: registration by pool, listener or load balancer, reads,
//! updates and deregistration.

use super::*;

// === backends ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackendBody {
    instance_id: Option<String>,
    address: Option<String>,
    subnet_id: Option<String>,
    port: Option<i64>,
    ports: Option<Vec<i64>>,
    weight: Option<i64>,
    enabled: Option<bool>,
    backup: Option<bool>,
    name: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum OnDuplicate {
    #[default]
    Reject,
    FirstWins,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterBody {
    backends: Vec<BackendBody>,
    client_token: Option<String>,
    #[serde(default)]
    on_duplicate: OnDuplicate,
}

pub(super) async fn register(
    c: Control,
    p: weir_control::Principal,
    target: RegisterTarget,
    body: RegisterBody,
) -> ApiResult {
    let policy = RegisterPolicy {
        duplicates: match body.on_duplicate {
            OnDuplicate::Reject => DuplicatePolicy::Reject,
            OnDuplicate::FirstWins => DuplicatePolicy::FirstWins,
        },
        ..RegisterPolicy::native()
    };
    let backends = body
        .backends
        .into_iter()
        .map(|b| BackendSpec {
            instance_id: b.instance_id,
            address: b.address,
            subnet_id: b.subnet_id,
            port: b.port,
            ports: b.ports,
            weight: b.weight,
            enabled: b.enabled,
            backup: b.backup,
            name: b.name,
            tags: b.tags,
            ..BackendSpec::default()
        })
        .collect();
    let outcome = c
        .register_backends(
            &p,
            RegisterRequest {
                target,
                backends,
                policy,
                client_token: body.client_token,
            },
        )
        .await?;
    let ignored: Vec<_> = outcome
        .ignored
        .iter()
        .map(|i| json!({"index": i.index, "code": status_and_code(&i.reason).1, "message": i.reason.to_string()}))
        .collect();
    let body = json!({"backends": views::<_, BackendView>(&outcome.backends), "ignored": ignored});
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if outcome.replayed {
        response.headers_mut().insert(
            "x-idempotent-replay",
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

pub(super) async fn register_on_pool(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult {
    register(c, p, RegisterTarget::Pool(PoolId::new(id)), body).await
}

pub(super) async fn register_on_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult {
    register(c, p, RegisterTarget::Listener(ListenerId::new(id)), body).await
}

pub(super) async fn register_on_lb(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult {
    register(
        c,
        p,
        RegisterTarget::LoadBalancer(LoadBalancerId::new(id)),
        body,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    limit: Option<usize>,
    marker: Option<String>,
}

type ListQueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

pub(super) async fn list_backends(
    c: &Control,
    p: &weir_control::Principal,
    pool: PoolId,
    query: ListQueryResult,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::invalid_request(e.body_text(), None))?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(weir_core::Error::invalid("limit", format!("must be in 1-{MAX_PAGE}")).into());
    }
    let page = Page {
        marker: q.marker,
        limit,
    };
    let backends = c.list_backends(p, &pool, &page).await?;
    let next_marker = (backends.len() == limit).then(|| backends.last().map(|b| b.id.to_string()));
    ok(
        json!({"backends": backends.iter().map(|b| backend_view(c, b)).collect::<Vec<_>>(), "next_marker": next_marker.flatten()}),
    )
}

pub(super) async fn list_pool_backends(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    list_backends(&c, &p, PoolId::new(id), q).await
}

pub(super) async fn list_listener_backends(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    let listener = c.get_listener(&p, &ListenerId::new(id)).await?;
    list_backends(&c, &p, listener.default_pool_id, q).await
}

pub(super) async fn get_backend(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(backend_view(
        &c,
        &c.get_backend(&p, &BackendId::new(id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchBackend {
    weight: Option<i64>,
    enabled: Option<bool>,
    backup: Option<bool>,
    name: Option<String>,
    /// Replaces the tags (`[]` clears them).
    tags: Option<Vec<String>>,
}

pub(super) async fn update_backend(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchBackend>,
) -> ApiResult {
    let update = BackendUpdate {
        weight: req.weight,
        enabled: req.enabled,
        backup: req.backup,
        name: req.name,
        tags: req.tags,
        ..BackendUpdate::default()
    };
    let backend = c
        .update_backend(&p, BackendId::new(id), update, RegisterPolicy::native())
        .await?;
    ok(backend_view(&c, &backend))
}

pub(super) async fn delete_backend(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_backend(&p, BackendId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
