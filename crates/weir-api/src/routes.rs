//! Handlers: each one reads its wire struct, calls one control method and
//! renders a view. No rule lives here.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::json;
use weir_control::{Control, Page, RegisterRequest, RegisterTarget};
use weir_core::backend::BackendUpdate;
use weir_core::ids::*;
use weir_core::inventory::{InstanceUpdate, NewInstance, NewSubnet, NewVpc};
use weir_core::loadbalancer::{LbAction, NewListener, NewLoadBalancer};
use weir_core::model::{Backend, ForwardedHeaders, Listener};
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, RegisterPolicy};

use crate::edge::{request_id, Auth, JsonBody, BODY_LIMIT};
use crate::error::{status_and_code, ApiError};
use crate::views::*;

type ApiResult = Result<Response, ApiError>;

/// Default and largest page of a backend listing.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The whole native API, with its edge layers.
pub fn router(control: Control) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/projects", post(create_project).get(list_projects))
        .route("/v1/vpcs", post(create_vpc).get(list_vpcs))
        .route("/v1/subnets", post(create_subnet).get(list_subnets))
        .route("/v1/instances", post(create_instance).get(list_instances))
        .route(
            "/v1/instances/{id}",
            get(get_instance).patch(update_instance),
        )
        .route("/v1/loadbalancers", post(create_lb).get(list_lbs))
        .route("/v1/loadbalancers/{id}", get(get_lb).delete(delete_lb))
        .route("/v1/loadbalancers/{id}/stop", post(stop_lb))
        .route("/v1/loadbalancers/{id}/start", post(start_lb))
        .route(
            "/v1/loadbalancers/{id}/listeners",
            post(create_listener).get(list_listeners),
        )
        .route("/v1/loadbalancers/{id}/backends", post(register_on_lb))
        .route("/v1/listeners/{id}", get(get_listener))
        .route(
            "/v1/listeners/{id}/backends",
            post(register_on_listener).get(list_listener_backends),
        )
        .route("/v1/pools/{id}", get(get_pool).patch(update_pool))
        .route(
            "/v1/pools/{id}/backends",
            post(register_on_pool).get(list_pool_backends),
        )
        .route(
            "/v1/backends/{id}",
            get(get_backend)
                .patch(update_backend)
                .delete(delete_backend),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(request_id))
        .with_state(control)
}

/// A backend with the data plane's live state, when one runs.
fn backend_view(c: &Control, b: &Backend) -> BackendView {
    BackendView::from(b).with_status(c.backend_live(&b.id))
}

/// A listener with the data plane's live state, when one runs.
fn listener_view(c: &Control, l: &Listener) -> ListenerView {
    ListenerView::from(l).with_status(c.listener_live(l))
}

/// Load balancers with the status the data plane gives them.
async fn lb_views(
    c: &Control,
    lbs: &[weir_core::model::LoadBalancer],
) -> Result<Vec<LoadBalancerView>, ApiError> {
    let live = c.load_balancers_live(lbs).await?;
    Ok(lbs
        .iter()
        .zip(live)
        .map(|(lb, (status, listeners))| LoadBalancerView::from(lb).with_status(status, listeners))
        .collect())
}

async fn lb_view(
    c: &Control,
    lb: weir_core::model::LoadBalancer,
) -> Result<LoadBalancerView, ApiError> {
    let mut views = lb_views(c, std::slice::from_ref(&lb)).await?;
    Ok(views.remove(0))
}

fn created<T: serde::Serialize>(body: T) -> ApiResult {
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn ok<T: serde::Serialize>(body: T) -> ApiResult {
    Ok(Json(body).into_response())
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "RouteNotFound",
        message: "no such route; see /v1/openapi.json".to_owned(),
        field: None,
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "MethodNotAllowed",
        message: "this route does not accept that method".to_owned(),
        field: None,
    }
}

async fn healthz(State(control): State<Control>) -> Json<serde_json::Value> {
    let revision = *control.revision().borrow();
    Json(json!({"status": "ok", "revision": revision}))
}

/// The metrics name every tenant's resources: only the operator (admin
/// token) or its scraper (`api.metrics_token`) may read them.
async fn metrics(State(control): State<Control>, headers: axum::http::HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !token.is_some_and(|t| control.may_read_metrics(t)) {
        return crate::error::ApiError::unauthenticated(
            "/metrics needs Authorization: Bearer <admin or metrics token>",
        )
        .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        control.render_metrics(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

// === projects ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProject {
    name: String,
}

async fn create_project(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateProject>,
) -> ApiResult {
    let made = c.create_project(&p, req.name).await?;
    let view = ProjectView::from(&made.project);
    created(json!({
        "id": view.id,
        "name": view.name,
        "access_key_id": view.access_key_id,
        "created_at": view.created_at,
        "token": made.token,
        "access_key_secret": made.access_key_secret,
    }))
}

async fn list_projects(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let projects = c.list_projects(&p).await?;
    ok(json!({"projects": views::<_, ProjectView>(&projects)}))
}

// === inventory ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateVpc {
    project_id: String,
    #[serde(default)]
    name: String,
    cidr: String,
    #[serde(default)]
    has_border_gateway: bool,
    /// Every project may use it (see `Vpc::shared`).
    #[serde(default)]
    shared: bool,
}

async fn create_vpc(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateVpc>,
) -> ApiResult {
    let new = NewVpc {
        name: req.name,
        cidr: req.cidr,
        has_border_gateway: req.has_border_gateway,
        shared: req.shared,
    };
    let vpc = c
        .create_vpc(&p, ProjectId::new(req.project_id), new)
        .await?;
    created(VpcView::from(&vpc))
}

async fn list_vpcs(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    ok(json!({"vpcs": views::<_, VpcView>(&c.list_vpcs(&p).await?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSubnet {
    vpc_id: String,
    #[serde(default)]
    name: String,
    cidr: String,
}

async fn create_subnet(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateSubnet>,
) -> ApiResult {
    let new = NewSubnet {
        name: req.name,
        cidr: req.cidr,
    };
    let subnet = c.create_subnet(&p, VpcId::new(req.vpc_id), new).await?;
    created(SubnetView::from(&subnet))
}

async fn list_subnets(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    ok(json!({"subnets": views::<_, SubnetView>(&c.list_subnets(&p).await?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateInstance {
    project_id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "type", default = "default_instance_type")]
    instance_type: String,
    subnet_id: String,
    private_ip: String,
    state: Option<String>,
}

fn default_instance_type() -> String {
    "vm".to_owned()
}

async fn create_instance(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateInstance>,
) -> ApiResult {
    let new = NewInstance {
        name: req.name,
        instance_type: req.instance_type,
        private_ip: req.private_ip,
        state: req.state,
    };
    let instance = c
        .create_instance(
            &p,
            ProjectId::new(req.project_id),
            SubnetId::new(req.subnet_id),
            new,
        )
        .await?;
    created(InstanceView::from(&instance))
}

async fn list_instances(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    ok(json!({"instances": views::<_, InstanceView>(&c.list_instances(&p).await?)}))
}

async fn get_instance(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(InstanceView::from(
        &c.get_instance(&p, &InstanceId::new(id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchInstance {
    name: Option<String>,
    state: Option<String>,
}

async fn update_instance(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchInstance>,
) -> ApiResult {
    let update = InstanceUpdate {
        name: req.name,
        state: req.state,
    };
    ok(InstanceView::from(
        &c.update_instance(&p, InstanceId::new(id), update).await?,
    ))
}

// === load balancers ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateLb {
    #[serde(default)]
    name: String,
    subnet_id: String,
    vip: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

async fn create_lb(
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
    };
    let lb = c
        .create_load_balancer(&p, SubnetId::new(req.subnet_id), new)
        .await?;
    created(lb_view(&c, lb).await?)
}

async fn list_lbs(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let lbs = c.list_load_balancers(&p).await?;
    ok(json!({"loadbalancers": lb_views(&c, &lbs).await?}))
}

async fn get_lb(State(c): State<Control>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult {
    let lb = c.get_load_balancer(&p, &LoadBalancerId::new(id)).await?;
    ok(lb_view(&c, lb).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteLbQuery {
    #[serde(default)]
    cascade: bool,
}

async fn delete_lb(
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

async fn stop_lb(State(c): State<Control>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult {
    let lb = c
        .load_balancer_action(&p, LoadBalancerId::new(id), LbAction::Stop)
        .await?;
    ok(lb_view(&c, lb).await?)
}

async fn start_lb(State(c): State<Control>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult {
    let lb = c
        .load_balancer_action(&p, LoadBalancerId::new(id), LbAction::Start)
        .await?;
    ok(lb_view(&c, lb).await?)
}

// === listeners ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortRangeBody {
    start: u32,
    end: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateListener {
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
    description: Option<String>,
    /// HTTP listeners: which `X-Forwarded-*` headers to add; absent: For
    /// and Proto.
    forwarded_headers: Option<ForwardedHeadersBody>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForwardedHeadersBody {
    x_forwarded_for: bool,
    x_forwarded_proto: bool,
    x_forwarded_port: bool,
}

async fn create_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<CreateListener>,
) -> ApiResult {
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
        description: req.description,
        disabled: false,
        forwarded_headers: req.forwarded_headers.map(|h| ForwardedHeaders {
            forwarded_for: h.x_forwarded_for,
            forwarded_proto: h.x_forwarded_proto,
            forwarded_port: h.x_forwarded_port,
        }),
        tags: req.tags,
    };
    let listener = c.create_listener(&p, LoadBalancerId::new(id), new).await?;
    created(listener_view(&c, &listener))
}

async fn list_listeners(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let listeners = c.list_listeners(&p, &LoadBalancerId::new(id)).await?;
    let views: Vec<ListenerView> = listeners.iter().map(|l| listener_view(&c, l)).collect();
    ok(json!({ "listeners": views }))
}

async fn get_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(listener_view(
        &c,
        &c.get_listener(&p, &ListenerId::new(id)).await?,
    ))
}

async fn get_pool(State(c): State<Control>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult {
    ok(PoolView::from(&c.get_pool(&p, &PoolId::new(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthCheckBody {
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchPool {
    /// `null` removes the check; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    health_check: Option<Option<HealthCheckBody>>,
    drain_timeout_ms: Option<u64>,
    /// 0 turns slow start off.
    slow_start_ms: Option<u64>,
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

async fn update_pool(
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
            })
        }),
        drain_timeout_ms: req.drain_timeout_ms,
        slow_start_ms: req.slow_start_ms,
        name: None,
        ..Default::default()
    };
    ok(PoolView::from(
        &c.update_pool(&p, PoolId::new(id), update).await?,
    ))
}

// === backends ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendBody {
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
enum OnDuplicate {
    #[default]
    Reject,
    FirstWins,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    backends: Vec<BackendBody>,
    client_token: Option<String>,
    #[serde(default)]
    on_duplicate: OnDuplicate,
}

async fn register(
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

async fn register_on_pool(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult {
    register(c, p, RegisterTarget::Pool(PoolId::new(id)), body).await
}

async fn register_on_listener(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> ApiResult {
    register(c, p, RegisterTarget::Listener(ListenerId::new(id)), body).await
}

async fn register_on_lb(
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
struct ListQuery {
    limit: Option<usize>,
    marker: Option<String>,
}

type ListQueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

async fn list_backends(
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

async fn list_pool_backends(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    list_backends(&c, &p, PoolId::new(id), q).await
}

async fn list_listener_backends(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    q: ListQueryResult,
) -> ApiResult {
    let listener = c.get_listener(&p, &ListenerId::new(id)).await?;
    list_backends(&c, &p, listener.default_pool_id, q).await
}

async fn get_backend(State(c): State<Control>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult {
    ok(backend_view(
        &c,
        &c.get_backend(&p, &BackendId::new(id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBackend {
    weight: Option<i64>,
    enabled: Option<bool>,
    backup: Option<bool>,
    name: Option<String>,
    /// Replaces the tags (`[]` clears them).
    tags: Option<Vec<String>>,
}

async fn update_backend(
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

async fn delete_backend(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_backend(&p, BackendId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
