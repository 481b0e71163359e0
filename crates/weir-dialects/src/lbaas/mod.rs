//! The OpenStack LBaaS v2 resource model — load balancers, listeners,
//! pools, members, health monitors — as Octavia's `/v2.0/lbaas` and Huawei
//! ELB's `/v2/{project_id}/elb` both speak it. The two dialects differ in
//! how they authenticate (their own routers insert a [`Ctx`]) and in a few
//! member rules ([`Flavor`]); the JSON shapes and the error body are one.
//!
//! Errors carry Octavia's `faultcode`/`faultstring` and Huawei's
//! `error_code`/`error_msg` together, which both SDKs read
//! (research: sdk-wire-formats §6.2).

pub mod listing;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{Control, ControlError, Principal, RegisterRequest, RegisterTarget};
use weir_core::backend::{BackendSelector, BackendUpdate, WhenMissing};
use weir_core::error::QuotaKind;
use weir_core::ids::*;
use weir_core::loadbalancer::{LbAction, ListenerUpdate, NewListener, NewLoadBalancer};
use weir_core::model::*;
use weir_core::pool::{format_codes, HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};
use weir_core::status::{BackendState, ListenerLive};
use weir_core::{Error, ResourceKind};

use crate::common::{parse_json, JsonProblem, Lenient, BODY_LIMIT};
use crate::Dialects;

/// Which cloud's rules apply to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Octavia,
    Huawei,
}

impl Flavor {
    /// Octavia: weight 0-256, the address need only be routable from its
    /// subnet. Huawei (seed 004): weight 0-100, the subnet is required and
    /// must hold the address, members are added enabled.
    pub fn policy(self) -> RegisterPolicy {
        let base = RegisterPolicy {
            duplicates: DuplicatePolicy::Reject,
            default_weight: 1,
            unique_instance_per_listener: false,
            address_requires_instance: false,
            bare_metal_by_address_only: false,
            bare_metal_needs_border_gateway: false,
            name_rule: NameRule::Free,
            ..RegisterPolicy::native()
        };
        match self {
            Self::Octavia => RegisterPolicy {
                weight_range: (0, 256),
                address_within_subnet: false,
                ..base
            },
            Self::Huawei => RegisterPolicy {
                weight_range: (0, 100),
                address_within_subnet: true,
                enabled_only: true,
                ..base
            },
        }
    }
}

/// Who is calling, through which dialect; inserted by the dialect's
/// authentication layer.
#[derive(Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub flavor: Flavor,
}

/// An LBaaS error: status, Huawei-style code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbaasError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// Huawei-style codes; docs/dialects/openstack.md and huawei.md list them.
pub mod codes {
    pub const UNAUTHORIZED: &str = "ELB.1000";
    pub const INVALID: &str = "ELB.1001";
    pub const NOT_FOUND: &str = "ELB.1002";
    pub const FORBIDDEN: &str = "ELB.1003";
    pub const IMMUTABLE: &str = "ELB.1004";
    pub const TOO_LARGE: &str = "ELB.1006";
    pub const DUPLICATE: &str = "ELB.8902";
    pub const CONFLICT: &str = "ELB.8903";
    pub const INTERNAL: &str = "ELB.5000";
}

impl LbaasError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::INVALID, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }

    /// The canonical error on the LBaaS wire: one exhaustive table.
    pub fn from_control(e: ControlError) -> Self {
        use StatusCode as S;
        let domain = match e {
            ControlError::Domain(d) => d,
            ControlError::AdminOnly => {
                return Self::new(S::FORBIDDEN, codes::FORBIDDEN, e.to_string())
            }
            ControlError::Store(_) => {
                tracing::error!(error = %e, "lbaas: control failure");
                return Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL,
                    e.client_message(),
                );
            }
            ControlError::Unavailable
            | ControlError::StoreUnavailable(_)
            | ControlError::CommitOutcomeUnknown(_) => {
                tracing::warn!(error = %e, "lbaas: unavailable");
                return Self::new(S::SERVICE_UNAVAILABLE, codes::INTERNAL, e.client_message());
            }
        };
        let (status, code, message) = match &domain {
            // A body naming a missing network object is a bad request
            // (Octavia validates `subnet_id` with 400 "Subnet … not found").
            Error::NotFound {
                kind: kind @ (ResourceKind::Subnet | ResourceKind::Vpc | ResourceKind::Instance),
                id,
            } => (
                S::BAD_REQUEST,
                codes::INVALID,
                format!("{} {id} not found.", lbaas_kind(*kind)),
            ),
            Error::NotFound { kind, id } => (
                S::NOT_FOUND,
                codes::NOT_FOUND,
                format!("{} {id} could not be found.", lbaas_kind(*kind)),
            ),
            Error::BackendExists { address, port, .. } => (
                S::CONFLICT,
                codes::DUPLICATE,
                format!(
                    "Another member on this pool is already using ip address {address} on protocol_port {port}."
                ),
            ),
            Error::DuplicateAddressInRequest { address, port } => (
                S::CONFLICT,
                codes::DUPLICATE,
                format!("ip address {address} on protocol_port {port} is named twice in the request."),
            ),
            Error::InstanceAlreadyRegistered { .. } | Error::DuplicateInstanceInRequest { .. } => {
                (S::CONFLICT, codes::DUPLICATE, domain.to_string())
            }
            Error::AddressReserved { address, .. } | Error::AddressNotInNetwork { address } => (
                S::BAD_REQUEST,
                codes::INVALID,
                format!("{address} is not a valid option for member address: {domain}"),
            ),
            Error::VipNotAllowed { vip, reason } => (
                S::BAD_REQUEST,
                codes::INVALID,
                format!("Invalid input for field/attribute vip_address. Value: {vip}. {reason}"),
            ),
            Error::QuotaExceeded { kind, .. } => match kind {
                QuotaKind::BackendsPerPool => (
                    S::FORBIDDEN,
                    codes::FORBIDDEN,
                    format!("Quota has been met for resources: Member ({domain})"),
                ),
                QuotaKind::BackendsPerRequest => (S::BAD_REQUEST, codes::INVALID, domain.to_string()),
            },
            Error::LoadBalancerNotRunning { .. } => (S::CONFLICT, codes::IMMUTABLE, domain.to_string()),
            Error::InstanceNotRunning { .. }
            | Error::Conflict { .. }
            | Error::ListenerPortInUse { .. }
            | Error::IdempotencyMismatch { .. } => {
                (S::CONFLICT, codes::CONFLICT, domain.to_string())
            }
            Error::InvalidField { .. }
            | Error::InstanceTypeMismatch { .. }
            | Error::InstanceNotInVpc { .. }
            | Error::InstanceAddressMismatch { .. }
            | Error::BareMetalByAddressOnly { .. }
            | Error::BorderGatewayRequired { .. }
            | Error::AddressNotPrivate { .. }
            | Error::AddressNotInstance { .. }
            | Error::AddressNotInSubnet { .. }
            | Error::SubnetNotInVpc { .. }
            | Error::PortNotAllowed { .. } => (S::BAD_REQUEST, codes::INVALID, lbaas_names(&domain.to_string())),
        };
        Self::new(status, code, message)
    }
}

fn lbaas_kind(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Backend => "Member",
        ResourceKind::Pool => "Pool",
        ResourceKind::Listener => "Listener",
        ResourceKind::LoadBalancer => "Load Balancer",
        ResourceKind::Subnet => "Subnet",
        ResourceKind::Vpc => "Network",
        ResourceKind::Instance => "Server",
        ResourceKind::Project => "Project",
    }
}

/// Core messages name fields the native way; LBaaS callers know theirs.
fn lbaas_names(message: &str) -> String {
    message
        .replace("backends[", "members[")
        .replace("].port", "].protocol_port")
        .replace("].enabled", "].admin_state_up")
}

impl IntoResponse for LbaasError {
    fn into_response(self) -> Response {
        let request_id = format!("req-{}", uuid::Uuid::now_v7());
        let body = json!({
            "faultcode": if self.status.is_server_error() { "Server" } else { "Client" },
            "faultstring": self.message,
            "debuginfo": null,
            "error_code": self.code,
            "error_msg": self.message,
            "request_id": request_id,
        });
        let mut resp = (self.status, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut()
                .insert("x-openstack-request-id", v.clone());
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }
}

type LbResult = Result<Response, LbaasError>;

fn fail(e: ControlError) -> LbaasError {
    LbaasError::from_control(e)
}

/// The absolute URL of the request without its query, for `*_links`
/// (nested routers strip their prefix from `Uri`; clients follow links
/// as given, so they must be absolute).
pub struct Here(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Here {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |o| o.0.path().to_owned());
        let host = parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        Ok(Here(format!("http://{host}{path}")))
    }
}

/// A request body read with the 1 MiB limit, refused in the LBaaS shape.
pub struct RawBody(pub Vec<u8>);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = LbaasError;

    async fn from_request(req: Request, _: &S) -> Result<Self, LbaasError> {
        axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map(|b| RawBody(b.to_vec()))
            .map_err(|_| {
                LbaasError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    codes::TOO_LARGE,
                    format!("the request body is larger than {BODY_LIMIT} bytes"),
                )
            })
    }
}

/// Parses `{"<wrapper>": {…}}` into `T`.
fn body<T: DeserializeOwned>(raw: &[u8], wrapper: &str) -> Result<T, LbaasError> {
    let value: Value = parse_json(raw).map_err(problem)?;
    let inner = value
        .get(wrapper)
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            LbaasError::bad_request(format!("the body must be {{\"{wrapper}\": {{…}}}}"))
        })?;
    serde_path_to_error::deserialize(inner.clone()).map_err(|e| {
        let path = e.path().to_string();
        let text = e.into_inner().to_string();
        match text.strip_prefix("missing field `") {
            Some(rest) => LbaasError::bad_request(format!(
                "Invalid input for field/attribute {}. Value: None. Mandatory field missing.",
                rest.split('`').next().unwrap_or_default()
            )),
            None => {
                LbaasError::bad_request(format!("Invalid input for field/attribute {path}: {text}"))
            }
        }
    })
}

fn problem(p: JsonProblem) -> LbaasError {
    match p {
        JsonProblem::Missing(f) => LbaasError::bad_request(format!("{f} is required")),
        JsonProblem::Invalid(t) => LbaasError::bad_request(t),
    }
}

fn created<T: serde::Serialize>(v: T) -> LbResult {
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

fn ok<T: serde::Serialize>(v: T) -> LbResult {
    Ok(Json(v).into_response())
}

fn no_content() -> LbResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> &'a str {
    p.get(name).map_or("", String::as_str)
}

/// The resource routes, relative to a dialect's prefix.
pub fn routes() -> Router<Dialects> {
    Router::new()
        .route("/loadbalancers", get(list_lbs).post(create_lb))
        .route(
            "/loadbalancers/{lb_id}",
            get(show_lb).put(update_lb).delete(delete_lb),
        )
        .route("/listeners", get(list_listeners).post(create_listener))
        .route(
            "/listeners/{listener_id}",
            get(show_listener)
                .put(update_listener)
                .delete(delete_listener),
        )
        .route("/pools", get(list_pools).post(create_pool))
        .route(
            "/pools/{pool_id}",
            get(show_pool).put(update_pool).delete(delete_pool),
        )
        .route(
            "/pools/{pool_id}/members",
            get(list_members).post(create_member).put(batch_members),
        )
        .route(
            "/pools/{pool_id}/members/{member_id}",
            get(show_member).put(update_member).delete(delete_member),
        )
        .route("/healthmonitors", get(list_monitors).post(create_monitor))
        .route(
            "/healthmonitors/{monitor_id}",
            get(show_monitor).put(update_monitor).delete(delete_monitor),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

// === status ===

fn worse(a: &'static str, b: &'static str) -> &'static str {
    let rank = |s: &str| match s {
        "ERROR" => 2,
        "PENDING_CREATE" => 1,
        _ => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// (provisioning_status, operating_status) of a listener: ACTIVE once the
/// data plane has applied it.
fn listener_status(c: &Control, l: &Listener, lb_running: bool) -> (&'static str, &'static str) {
    if !lb_running || !l.enabled {
        // A stopped load balancer's (or a stopped listener's) listeners are
        // applied as "not bound".
        return ("ACTIVE", "OFFLINE");
    }
    match c.listener_live(l) {
        Some(ListenerLive::Pending) => ("PENDING_CREATE", "OFFLINE"),
        Some(ListenerLive::Active) => ("ACTIVE", "ONLINE"),
        Some(ListenerLive::Error(_)) => ("ERROR", "ERROR"),
        Some(ListenerLive::Unsupported(_)) => ("ACTIVE", "OFFLINE"),
        None if c.has_live_view() => ("PENDING_CREATE", "OFFLINE"),
        None => ("ACTIVE", "ONLINE"),
    }
}

fn member_status(c: &Control, b: &Backend, monitored: bool) -> (&'static str, &'static str) {
    let live = c.backend_live(&b.id);
    let provisioning = if live.is_none() && c.has_live_view() {
        "PENDING_CREATE"
    } else {
        "ACTIVE"
    };
    let operating = if !b.enabled {
        "OFFLINE"
    } else {
        match live.map(|l| l.state) {
            // Octavia: without a monitor the health is unknown, whatever
            // passive ejection may think.
            Some(BackendState::Draining) => "DRAINING",
            _ if !monitored => "NO_MONITOR",
            Some(BackendState::Healthy) => "ONLINE",
            Some(BackendState::Unhealthy) => "ERROR",
            Some(BackendState::Checking | BackendState::Drained | BackendState::Disabled)
            | None => "OFFLINE",
        }
    };
    (provisioning, operating)
}

// === views ===

fn lb_view(c: &Control, lb: &LoadBalancer, listeners: &[Listener], pools: &[Pool]) -> Value {
    let mut provisioning = "ACTIVE";
    let mut operating = if lb.status == LbStatus::Running {
        "ONLINE"
    } else {
        "OFFLINE"
    };
    for l in listeners {
        let (p, o) = listener_status(c, l, lb.status == LbStatus::Running);
        provisioning = worse(provisioning, p);
        if o == "ERROR" {
            operating = "ERROR";
        }
    }
    json!({
        "id": lb.id.as_str(),
        "name": lb.name,
        "description": "",
        "vip_address": lb.vip.to_string(),
        "vip_subnet_id": lb.subnet_id.as_str(),
        "vip_network_id": lb.vpc_id.as_str(),
        "vip_port_id": null,
        "project_id": lb.project_id.as_str(),
        "tenant_id": lb.project_id.as_str(),
        "provisioning_status": provisioning,
        "operating_status": operating,
        "admin_state_up": lb.status == LbStatus::Running,
        "listeners": listeners.iter().map(|l| json!({"id": l.id.as_str()})).collect::<Vec<_>>(),
        "pools": pools.iter().map(|p| json!({"id": p.id.as_str()})).collect::<Vec<_>>(),
        "provider": "weir",
        "flavor_id": null,
        "availability_zone": null,
        "created_at": lb.created_at.to_string(),
        "updated_at": null,
        "tags": [],
    })
}

fn listener_view(c: &Control, l: &Listener, lb_running: bool) -> Value {
    let (provisioning, operating) = listener_status(c, l, lb_running);
    json!({
        "id": l.id.as_str(),
        "name": l.name,
        "description": "",
        "protocol": l.protocol.as_str().to_ascii_uppercase(),
        "protocol_port": l.single_port(),
        "loadbalancers": [{"id": l.lb_id.as_str()}],
        "loadbalancer_id": l.lb_id.as_str(),
        "default_pool_id": l.default_pool_id.as_str(),
        "connection_limit": l.max_connections.map_or(-1, i64::from),
        "admin_state_up": l.enabled,
        "provisioning_status": provisioning,
        "operating_status": operating,
        "project_id": l.project_id.as_str(),
        "tenant_id": l.project_id.as_str(),
        "insert_headers": {},
        "created_at": l.created_at.to_string(),
        "updated_at": null,
        "tags": [],
    })
}

fn algorithm_name(s: Scheduler) -> &'static str {
    match s {
        Scheduler::Wrr => "ROUND_ROBIN",
        Scheduler::Lc => "LEAST_CONNECTIONS",
        Scheduler::Sh => "SOURCE_IP",
    }
}

fn algorithm(name: &str) -> Result<&'static str, LbaasError> {
    match name {
        "ROUND_ROBIN" => Ok("wrr"),
        "LEAST_CONNECTIONS" => Ok("lc"),
        "SOURCE_IP" | "SOURCE_IP_PORT" => Ok("sh"),
        other => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute lb_algorithm. Value: '{other}'. Value should be one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP, SOURCE_IP_PORT"
        ))),
    }
}

fn pool_protocol(listener: Option<&Listener>) -> &'static str {
    match listener {
        None => "TCP",
        Some(l) => match (l.protocol, l.proxy_protocol) {
            (Protocol::Tcp, ProxyProtocol::V1) => "PROXY",
            (Protocol::Tcp, ProxyProtocol::V2) => "PROXYV2",
            (Protocol::Tcp, ProxyProtocol::None) => "TCP",
            (Protocol::Udp, _) => "UDP",
            (Protocol::Http, _) => "HTTP",
        },
    }
}

fn pool_view(c: &Control, pool: &Pool, listener: Option<&Listener>, members: &[Backend]) -> Value {
    let monitored = pool.health_check.is_some();
    let ops: Vec<&str> = members
        .iter()
        .map(|b| member_status(c, b, monitored).1)
        .collect();
    let operating = if !ops.is_empty() && ops.iter().all(|o| *o == "ERROR") {
        "ERROR"
    } else if ops.contains(&"ERROR") {
        "DEGRADED"
    } else {
        "ONLINE"
    };
    json!({
        "id": pool.id.as_str(),
        "name": pool.name,
        "description": "",
        "protocol": pool_protocol(listener),
        "lb_algorithm": listener.map_or("ROUND_ROBIN", |l| algorithm_name(l.scheduler)),
        "listeners": listener.map_or_else(Vec::new, |l| vec![json!({"id": l.id.as_str()})]),
        "listener_id": listener.map(|l| l.id.as_str()),
        "loadbalancers": [{"id": pool.lb_id.as_str()}],
        "loadbalancer_id": pool.lb_id.as_str(),
        "members": members.iter().map(|b| json!({"id": b.id.as_str()})).collect::<Vec<_>>(),
        "healthmonitor_id": pool.health_check.as_ref().map(|_| pool.id.as_str()),
        "session_persistence": null,
        "admin_state_up": true,
        "provisioning_status": "ACTIVE",
        "operating_status": operating,
        "project_id": pool.project_id.as_str(),
        "tenant_id": pool.project_id.as_str(),
        "created_at": pool.created_at.to_string(),
        "updated_at": null,
        "tags": [],
    })
}

fn member_view(c: &Control, b: &Backend, monitored: bool) -> Value {
    let (provisioning, operating) = member_status(c, b, monitored);
    json!({
        "id": b.id.as_str(),
        "name": b.name,
        "address": b.address.to_string(),
        "protocol_port": b.ports.key(),
        "weight": b.weight,
        "admin_state_up": b.enabled,
        "backup": b.backup,
        "subnet_id": b.subnet_id.as_ref().map(|s| s.as_str()),
        "project_id": b.project_id.as_str(),
        "tenant_id": b.project_id.as_str(),
        "pool_id": b.pool_id.as_str(),
        "provisioning_status": provisioning,
        "operating_status": operating,
        "monitor_address": null,
        "monitor_port": null,
        "created_at": b.created_at.to_string(),
        "updated_at": b.updated_at.to_string(),
        "tags": [],
    })
}

fn monitor_view(pool: &Pool) -> Option<Value> {
    let hc = pool.health_check.as_ref()?;
    let (kind, path, codes) = match &hc.kind {
        CheckKind::Tcp => ("TCP", None, None),
        CheckKind::Http { path, expected } => {
            ("HTTP", Some(path.clone()), Some(format_codes(expected)))
        }
    };
    Some(json!({
        "id": pool.id.as_str(),
        "name": "",
        "type": kind,
        "delay": hc.interval_ms.div_ceil(1000),
        "timeout": hc.timeout_ms.div_ceil(1000),
        "max_retries": hc.rise,
        "max_retries_down": hc.fall,
        "url_path": path,
        "expected_codes": codes,
        "http_method": if kind == "HTTP" { Some("GET") } else { None },
        "monitor_port": hc.port,
        "pools": [{"id": pool.id.as_str()}],
        "pool_id": pool.id.as_str(),
        "admin_state_up": true,
        "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE",
        "project_id": pool.project_id.as_str(),
        "tenant_id": pool.project_id.as_str(),
        "created_at": pool.created_at.to_string(),
        "updated_at": null,
        "tags": [],
    }))
}

// === load balancers ===

async fn lb_full(c: &Control, p: &Principal, lb: &LoadBalancer) -> Result<Value, LbaasError> {
    let listeners = c.list_listeners(p, &lb.id).await.map_err(fail)?;
    let pools = c.list_pools(p, &lb.id).await.map_err(fail)?;
    Ok(lb_view(c, lb, &listeners, &pools))
}

async fn list_lbs(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let mut items = Vec::new();
    for lb in c.list_load_balancers(&ctx.principal).await.map_err(fail)? {
        items.push(lb_full(c, &ctx.principal, &lb).await?);
    }
    ok(listing::list(items, &q, "loadbalancers", &here)?)
}

#[derive(Deserialize)]
struct CreateLb {
    vip_subnet_id: Option<String>,
    vip_network_id: Option<String>,
    /// Not kept yet: refused unless null or empty.
    description: Option<Value>,
    tags: Option<Value>,
    name: Option<String>,
    vip_address: Option<String>,
    admin_state_up: Option<bool>,
}

async fn create_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateLb = body(&raw, "loadbalancer")?;
    refuse_unhonoured("", "description", req.description.as_ref())?;
    refuse_unhonoured("", "tags", req.tags.as_ref())?;
    let c = &d.control;
    let subnet = match (req.vip_subnet_id, &req.vip_network_id) {
        (Some(subnet), _) => subnet,
        // As Octavia: a network alone means its first subnet.
        (None, Some(network)) => c
            .list_subnets(&ctx.principal)
            .await
            .map_err(fail)?
            .into_iter()
            .find(|s| s.vpc_id.as_str() == network)
            .map(|s| s.id.to_string())
            .ok_or_else(|| {
                LbaasError::bad_request(format!(
                    "Network {network} could not be found or has no subnet."
                ))
            })?,
        (None, None) => {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute vip_subnet_id. Value: None. Mandatory field missing.",
            ))
        }
    };
    let lb = c
        .create_load_balancer(
            &ctx.principal,
            SubnetId::new(subnet),
            NewLoadBalancer {
                name: req.name.unwrap_or_default(),
                vip: req.vip_address,
                // Both named: the subnet must be in the network.
                vpc_id: req.vip_network_id,
                stopped: req.admin_state_up == Some(false),
            },
        )
        .await
        .map_err(fail)?;
    created(json!({"loadbalancer": lb_full(c, &ctx.principal, &lb).await?}))
}

async fn show_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let lb = c
        .get_load_balancer(&ctx.principal, &LoadBalancerId::new(param(&p, "lb_id")))
        .await
        .map_err(fail)?;
    ok(json!({"loadbalancer": lb_full(c, &ctx.principal, &lb).await?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateLb {
    admin_state_up: Option<bool>,
    description: Option<String>,
}

async fn update_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: UpdateLb = body(&raw, "loadbalancer")?;
    let _ = req.description;
    let c = &d.control;
    let id = LoadBalancerId::new(param(&p, "lb_id"));
    let lb = match req.admin_state_up {
        Some(up) => {
            let action = if up { LbAction::Start } else { LbAction::Stop };
            c.load_balancer_action(&ctx.principal, id, action)
                .await
                .map_err(fail)?
        }
        None => c
            .get_load_balancer(&ctx.principal, &id)
            .await
            .map_err(fail)?,
    };
    ok(json!({"loadbalancer": lb_full(c, &ctx.principal, &lb).await?}))
}

/// A boolean query flag as OpenStack clients spell it (`true`, `True`,
/// `1`; openstacksdk sends Python's `True`).
fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, LbaasError> {
    match q.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(LbaasError::bad_request(format!(
            "{name}={v} is not a boolean"
        ))),
    }
}

async fn delete_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> LbResult {
    d.control
        .delete_load_balancer(
            &ctx.principal,
            LoadBalancerId::new(param(&p, "lb_id")),
            flag(&q, "cascade")?,
        )
        .await
        .map_err(fail)?;
    no_content()
}

// === listeners ===

/// Every listener the caller sees, across their load balancers, with
/// whether its load balancer runs.
async fn all_listeners(c: &Control, p: &Principal) -> Result<Vec<(Listener, bool)>, LbaasError> {
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
async fn lb_running(c: &Control, p: &Principal, l: &Listener) -> Result<bool, LbaasError> {
    Ok(c.get_load_balancer(p, &l.lb_id).await.map_err(fail)?.status == LbStatus::Running)
}

async fn list_listeners(
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
struct CreateListener {
    loadbalancer_id: Option<String>,
    protocol: Option<String>,
    protocol_port: Option<Lenient>,
    name: Option<String>,
    connection_limit: Option<Lenient>,
}

/// Octavia's `connection_limit`: -1 (its default) means "the provider's
/// default", here `dataplane.max_connections` (Octavia's amphora driver
/// likewise maps it to HAProxy's default of 50,000); a positive value is
/// the listener's cap (bounded by the core). 0 and other negatives are
/// refused: a listener that accepts nothing is a mistake, not a setting.
fn connection_limit(limit: Lenient) -> Result<Option<u64>, LbaasError> {
    match limit.0 {
        -1 => Ok(None),
        n if n > 0 => Ok(Some(n.unsigned_abs())),
        n => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute connection_limit. Value: '{n}'. \
             Value must be -1 (the default) or a positive number of connections."
        ))),
    }
}

fn listener_protocol(p: &str) -> Result<&'static str, LbaasError> {
    match p {
        "TCP" => Ok("tcp"),
        "UDP" => Ok("udp"),
        "HTTP" => Ok("http"),
        other => Err(LbaasError::bad_request(format!(
            "protocol {other} is not supported by this service (TCP, UDP, HTTP)"
        ))),
    }
}

async fn create_listener(
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
                group_pool_id: None,
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

async fn show_listener(
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
struct UpdateListener {
    name: Option<String>,
    admin_state_up: Option<bool>,
    connection_limit: Option<Lenient>,
}

async fn update_listener(
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
                enabled: req.admin_state_up,
                max_connections: req.connection_limit.map(connection_limit).transpose()?,
                ..ListenerUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    let running = lb_running(c, &ctx.principal, &l).await?;
    ok(json!({"listener": listener_view(c, &l, running)}))
}

async fn delete_listener(
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

// === pools ===

/// A pool with its listener (when it is a listener's default pool) and
/// its members.
async fn pool_full(
    c: &Control,
    p: &Principal,
    pool_id: &PoolId,
) -> Result<(Pool, Option<Listener>, Vec<Backend>), LbaasError> {
    c.backends_of(p, &RegisterTarget::Pool(pool_id.clone()))
        .await
        .map_err(fail)
}

async fn all_pools(c: &Control, p: &Principal) -> Result<Vec<PoolId>, LbaasError> {
    let mut out = Vec::new();
    for lb in c.list_load_balancers(p).await.map_err(fail)? {
        out.extend(
            c.list_pools(p, &lb.id)
                .await
                .map_err(fail)?
                .into_iter()
                .map(|p| p.id),
        );
    }
    Ok(out)
}

async fn list_pools(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let mut items = Vec::new();
    for id in all_pools(c, &ctx.principal).await? {
        let (pool, listener, members) = pool_full(c, &ctx.principal, &id).await?;
        items.push(pool_view(c, &pool, listener.as_ref(), &members));
    }
    ok(listing::list(items, &q, "pools", &here)?)
}

#[derive(Deserialize)]
struct PoolBody {
    listener_id: Option<String>,
    loadbalancer_id: Option<String>,
    protocol: Option<String>,
    lb_algorithm: Option<String>,
    name: Option<String>,
}

/// The listener changes an Octavia pool body asks for: the scheduler
/// from `lb_algorithm`, the PROXY protocol from `protocol`.
fn listener_change(req: &PoolBody, listener: &Listener) -> Result<ListenerUpdate, LbaasError> {
    let proxy = match req.protocol.as_deref() {
        None => None,
        Some(p) => {
            let wanted = match p {
                "PROXY" => (Protocol::Tcp, "v1"),
                "PROXYV2" => (Protocol::Tcp, "v2"),
                "TCP" => (Protocol::Tcp, "none"),
                "UDP" => (Protocol::Udp, "none"),
                "HTTP" => (Protocol::Http, "none"),
                other => {
                    return Err(LbaasError::bad_request(format!(
                        "pool protocol {other} is not supported (TCP, PROXY, PROXYV2, UDP, HTTP)"
                    )))
                }
            };
            if wanted.0 != listener.protocol {
                return Err(LbaasError::bad_request(format!(
                    "The pool protocol '{p}' is invalid while the listener protocol is '{}'.",
                    listener.protocol.as_str().to_ascii_uppercase()
                )));
            }
            Some(wanted.1.to_owned())
        }
    };
    Ok(ListenerUpdate {
        name: None,
        enabled: None,
        scheduler: req
            .lb_algorithm
            .as_deref()
            .map(algorithm)
            .transpose()?
            .map(str::to_owned),
        proxy_protocol: proxy,
        ..ListenerUpdate::default()
    })
}

/// A pool is a listener's default pool or its load balancer's LB-wide
/// pool: "creating" one adopts it and applies the body.
async fn apply_pool(
    c: &Control,
    ctx: &Ctx,
    pool_id: &PoolId,
    req: &PoolBody,
) -> Result<Value, LbaasError> {
    let (pool, listener, _) = pool_full(c, &ctx.principal, pool_id).await?;
    let pool_update = PoolUpdate {
        name: req.name.clone(),
        ..PoolUpdate::default()
    };
    match &listener {
        Some(l) => {
            let change = listener_change(req, l)?;
            c.update_listener_and_pool(&ctx.principal, l.id.clone(), change, pool_update)
                .await
                .map_err(fail)?;
        }
        None => {
            if req
                .lb_algorithm
                .as_deref()
                .is_some_and(|a| a != "ROUND_ROBIN")
            {
                return Err(LbaasError::bad_request(
                    "a pool without a listener balances ROUND_ROBIN; attach it to a listener to choose",
                ));
            }
            c.update_pool(&ctx.principal, pool.id.clone(), pool_update)
                .await
                .map_err(fail)?;
        }
    }
    let (pool, listener, members) = pool_full(c, &ctx.principal, pool_id).await?;
    Ok(pool_view(c, &pool, listener.as_ref(), &members))
}

async fn create_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: PoolBody = body(&raw, "pool")?;
    let c = &d.control;
    let pool_id = match (&req.listener_id, &req.loadbalancer_id) {
        (Some(l), _) => {
            c.get_listener(&ctx.principal, &ListenerId::new(l.as_str()))
                .await
                .map_err(fail)?
                .default_pool_id
        }
        (None, Some(lb)) => {
            c.get_load_balancer(&ctx.principal, &LoadBalancerId::new(lb.as_str()))
                .await
                .map_err(fail)?
                .default_pool_id
        }
        (None, None) => return Err(LbaasError::bad_request(
            "Invalid input for field/attribute listener_id or loadbalancer_id: one is required.",
        )),
    };
    if req.lb_algorithm.is_none() {
        return Err(LbaasError::bad_request(
            "Invalid input for field/attribute lb_algorithm. Value: None. Mandatory field missing.",
        ));
    }
    created(json!({"pool": apply_pool(c, &ctx, &pool_id, &req).await?}))
}

async fn show_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let (pool, listener, members) =
        pool_full(c, &ctx.principal, &PoolId::new(param(&p, "pool_id"))).await?;
    ok(json!({"pool": pool_view(c, &pool, listener.as_ref(), &members)}))
}

async fn update_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: PoolBody = body(&raw, "pool")?;
    let c = &d.control;
    ok(json!({"pool": apply_pool(c, &ctx, &PoolId::new(param(&p, "pool_id")), &req).await?}))
}

/// Pools are structural here (every listener has one), so deleting one
/// removes its members and health monitor and leaves it empty.
async fn delete_pool(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    d.control
        .clear_pool(
            &ctx.principal,
            PoolId::new(param(&p, "pool_id")),
            PoolUpdate {
                health_check: Some(None),
                ..PoolUpdate::default()
            },
        )
        .await
        .map_err(fail)?;
    no_content()
}

// === members ===

#[derive(Deserialize)]
struct MemberBody {
    address: Option<String>,
    protocol_port: Option<Lenient>,
    subnet_id: Option<String>,
    weight: Option<Lenient>,
    admin_state_up: Option<bool>,
    backup: Option<bool>,
    name: Option<String>,
    /// Octavia fields Weir does not honour yet: refused unless null, so a
    /// 2xx never hides an ignored health-check target or tag.
    monitor_address: Option<Value>,
    monitor_port: Option<Value>,
    tags: Option<Value>,
}

/// Refuses an Octavia field Weir accepts only as null (or empty: `""`,
/// `[]`, what clients send for "none").
fn refuse_unhonoured(field: &str, name: &str, value: Option<&Value>) -> Result<(), LbaasError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.is_empty() => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(v) => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}{name}. Value: '{v}'. Weir does not support {name} yet"
        ))),
    }
}

fn member_spec(m: MemberBody, flavor: Flavor, field: &str) -> Result<BackendSpec, LbaasError> {
    let missing = |f: &str| {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}{f}. Value: None. Mandatory field missing."
        ))
    };
    refuse_unhonoured(field, "monitor_address", m.monitor_address.as_ref())?;
    refuse_unhonoured(field, "monitor_port", m.monitor_port.as_ref())?;
    refuse_unhonoured(field, "tags", m.tags.as_ref())?;
    let address = m.address.ok_or_else(|| missing("address"))?;
    let port = m.protocol_port.ok_or_else(|| missing("protocol_port"))?.0;
    if !(1..=65535).contains(&port) {
        return Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}protocol_port. Value: '{port}'. Value should be between 1 and 65535."
        )));
    }
    if flavor == Flavor::Huawei && m.subnet_id.is_none() {
        return Err(missing("subnet_id"));
    }
    Ok(BackendSpec {
        address: Some(address),
        port: Some(port),
        subnet_id: m.subnet_id,
        weight: m.weight.map(|w| w.0),
        enabled: m.admin_state_up,
        backup: m.backup,
        name: m.name,
        ..BackendSpec::default()
    })
}

async fn list_members(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let (pool, _, members) =
        pool_full(c, &ctx.principal, &PoolId::new(param(&p, "pool_id"))).await?;
    let monitored = pool.health_check.is_some();
    let items = members
        .iter()
        .map(|b| member_view(c, b, monitored))
        .collect();
    ok(listing::list(items, &q, "members", &here)?)
}

async fn create_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: MemberBody = body(&raw, "member")?;
    let spec = member_spec(req, ctx.flavor, "")?;
    let c = &d.control;
    let pool_id = PoolId::new(param(&p, "pool_id"));
    let outcome = c
        .register_backends(
            &ctx.principal,
            RegisterRequest {
                target: RegisterTarget::Pool(pool_id.clone()),
                backends: vec![spec],
                policy: ctx.flavor.policy(),
                client_token: None,
            },
        )
        .await
        .map_err(|e| {
            // One member per call: name its fields as the body does.
            let mut e = fail(e);
            e.message = e.message.replace("members[0].", "member.");
            e
        })?;
    let pool = c.get_pool(&ctx.principal, &pool_id).await.map_err(fail)?;
    let b = outcome.backends.first().ok_or_else(|| {
        LbaasError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "no member registered",
        )
    })?;
    created(json!({"member": member_view(c, b, pool.health_check.is_some())}))
}

/// The member, provided it is in the named pool (Octavia answers 404
/// for a member of another pool).
async fn member_in_pool(
    c: &Control,
    ctx: &Ctx,
    p: &HashMap<String, String>,
) -> Result<(Backend, bool), LbaasError> {
    let pool_id = param(p, "pool_id");
    let member_id = param(p, "member_id");
    let pool = c
        .get_pool(&ctx.principal, &PoolId::new(pool_id))
        .await
        .map_err(fail)?;
    let b = c
        .get_backend(&ctx.principal, &BackendId::new(member_id))
        .await
        .map_err(fail)?;
    if b.pool_id.as_str() != pool_id {
        return Err(fail(
            Error::not_found(ResourceKind::Backend, member_id).into(),
        ));
    }
    Ok((b, pool.health_check.is_some()))
}

async fn show_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let (b, monitored) = member_in_pool(c, &ctx, &p).await?;
    ok(json!({"member": member_view(c, &b, monitored)}))
}

async fn update_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let fields: serde_json::Map<String, Value> = body(&raw, "member")?;
    let c = &d.control;
    let (b, monitored) = member_in_pool(c, &ctx, &p).await?;
    // Octavia: a field set to null goes back to its default.
    let mut update = BackendUpdate::default();
    for (key, value) in &fields {
        match (key.as_str(), value) {
            ("weight", Value::Null) => update.weight = Some(1),
            ("weight", v) => {
                update.weight = Some(
                    serde_json::from_value::<Lenient>(v.clone())
                        .map_err(|e| {
                            LbaasError::bad_request(format!(
                                "Invalid input for field/attribute weight: {e}"
                            ))
                        })?
                        .0,
                )
            }
            ("name", Value::Null) => update.name = Some(String::new()),
            ("name", Value::String(s)) => update.name = Some(s.clone()),
            ("backup", Value::Null) => update.backup = Some(false),
            ("backup", Value::Bool(v)) => update.backup = Some(*v),
            ("admin_state_up", Value::Bool(v)) => update.enabled = Some(*v),
            ("monitor_address" | "monitor_port" | "tags", Value::Null) => {}
            (
                "address" | "protocol_port" | "subnet_id" | "monitor_address" | "monitor_port"
                | "tags" | "admin_state_up" | "name" | "backup",
                _,
            ) => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute {key}: it cannot be set to {value} on update"
                )))
            }
            (other, _) => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute {other}: unknown attribute"
                )))
            }
        }
    }
    let next = c
        .update_backend(&ctx.principal, b.id, update, ctx.flavor.policy())
        .await
        .map_err(fail)?;
    ok(json!({"member": member_view(c, &next, monitored)}))
}

async fn delete_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let (b, _) = member_in_pool(c, &ctx, &p).await?;
    c.delete_backend(&ctx.principal, b.id).await.map_err(fail)?;
    no_content()
}

#[derive(Deserialize)]
struct BatchBody {
    members: Vec<MemberBody>,
}

/// Most members one Huawei batch may name.
const HUAWEI_BATCH_LIMIT: usize = 200;

/// `PUT …/pools/{id}/members`: Octavia's declarative batch (the body is
/// the desired set; `additive_only` keeps the unnamed), with Huawei's
/// `action`: `replace` (the default, the same), `add` (additive) or
/// `delete` (remove exactly the members named, all or none).
async fn batch_members(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: BatchBody = parse_json(&raw).map_err(problem)?;
    if ctx.flavor == Flavor::Huawei && req.members.len() > HUAWEI_BATCH_LIMIT {
        return Err(LbaasError::bad_request(format!(
            "a batch names at most {HUAWEI_BATCH_LIMIT} members, this one {}",
            req.members.len()
        )));
    }
    let pool = PoolId::new(param(&p, "pool_id"));
    let action = q.get("action").map_or("replace", String::as_str);
    let additive = match action {
        "replace" => flag(&q, "additive_only")?,
        "add" => true,
        "delete" => {
            let selectors = req
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let missing = |f: &str| {
                        LbaasError::bad_request(format!(
                            "Invalid input for field/attribute members[{i}].{f}. Value: None. Mandatory field missing."
                        ))
                    };
                    Ok(BackendSelector {
                        instance_id: None,
                        address: Some(m.address.clone().ok_or_else(|| missing("address"))?),
                        port: Some(m.protocol_port.ok_or_else(|| missing("protocol_port"))?.0),
                    })
                })
                .collect::<Result<Vec<_>, LbaasError>>()?;
            d.control
                .deregister_selected(
                    &ctx.principal,
                    RegisterTarget::Pool(pool),
                    selectors,
                    WhenMissing::Fail,
                    "members",
                )
                .await
                .map_err(fail)?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        other => {
            return Err(LbaasError::bad_request(format!(
                "action={other} is not add, delete or replace"
            )))
        }
    };
    let specs = req
        .members
        .into_iter()
        .enumerate()
        .map(|(i, m)| member_spec(m, ctx.flavor, &format!("members[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    d.control
        .batch_backends(&ctx.principal, pool, specs, additive, ctx.flavor.policy())
        .await
        .map_err(fail)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

// === health monitors (one per pool; its id is the pool's) ===

#[derive(Deserialize)]
struct MonitorBody {
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

fn monitor_spec(
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

async fn list_monitors(
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

async fn create_monitor(
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

async fn monitored_pool(
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

async fn show_monitor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let pool = monitored_pool(&d.control, &ctx, &p).await?;
    ok(json!({"healthmonitor": monitor_view(&pool)}))
}

async fn update_monitor(
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

async fn delete_monitor(
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

/// Answers a request for an unknown LBaaS path in the LBaaS shape.
pub async fn not_found() -> LbaasError {
    LbaasError::not_found("The resource could not be found.")
}

/// Answers a method a route does not take, in the LBaaS shape.
pub async fn method_not_allowed() -> LbaasError {
    LbaasError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::INVALID,
        "The method is not allowed for the requested URL.",
    )
}

/// A body-less error response, for authentication layers.
pub fn reject(e: LbaasError) -> Response {
    e.into_response()
}

/// Rebuilds a request after its body was read (for signature checks).
pub fn with_body(parts: axum::http::request::Parts, bytes: Vec<u8>) -> Request {
    Request::from_parts(parts, Body::from(bytes))
}
