//! The OpenStack LBaaS v2 resource model — load balancers, listeners,
//! pools, members, health monitors, L7 policies and rules — as Octavia's `/v2.0/lbaas` and Huawei
//! ELB's `/v2/{project_id}/elb` both speak it. The two dialects differ in
//! how they authenticate (their own routers insert a [`Ctx`]) and in a few
//! member rules ([`Flavor`]); the JSON shapes and the error body are one.
//!
//! Errors carry Octavia's `faultcode`/`faultstring` and Huawei's
//! `error_code`/`error_msg` together, which both SDKs read
//! (research: sdk-wire-formats §6.2).

mod catalog;
pub mod certificates;
mod flavors;
mod l7;
mod listeners;
pub mod listing;
mod loadbalancers;
mod members;
mod monitors;
mod pool_tls;
mod pools;
mod quotas;
mod tags;
mod tls;
mod views;
pub mod whitelists;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{Control, ControlError, Principal, RegisterRequest, RegisterTarget};
use weir_core::backend::{BackendSelector, BackendUpdate, WhenMissing};
use weir_core::error::QuotaKind;
use weir_core::ids::*;
use weir_core::loadbalancer::{
    LbAction, ListenerUpdate, LoadBalancerUpdate, NewListener, NewLoadBalancer,
};
use weir_core::model::*;
use weir_core::pool::{format_codes, HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, NameRule, RegisterPolicy};
use weir_core::status::{BackendState, ListenerLive};
use weir_core::{Error, ResourceKind};

use crate::common::{parse_json, JsonProblem, Lenient, BODY_LIMIT};
use crate::Dialects;
use catalog::*;
use l7::*;
use listeners::*;
use loadbalancers::*;
use members::*;
use monitors::*;
use pools::*;
use tags::*;
use tls::*;
use views::*;

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
    /// An option the provider does not support (Octavia's 501).
    pub const NOT_IMPLEMENTED: &str = "ELB.1005";
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

    /// An option Weir's provider does not have: Octavia's 501 (its
    /// ProviderUnsupportedOptionError), which Octavia clients and the
    /// tempest plugin read as "this provider cannot do that".
    pub fn unsupported(option: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            codes::NOT_IMPLEMENTED,
            format!("Provider 'weir' does not support a requested option: {option}"),
        )
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
            // Octavia's own words for a policy refusal, which its clients
            // show as they are.
            ControlError::ReadOnly(role) => {
                return Self::new(
                    S::FORBIDDEN,
                    codes::FORBIDDEN,
                    format!(
                        "Policy does not allow this request to be performed. \
                         (role {role} may only read)"
                    ),
                )
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
                QuotaKind::Project(r) => (
                    S::FORBIDDEN,
                    codes::FORBIDDEN,
                    format!("Quota has been met for resources: {} ({domain})", r.class_name()),
                ),
                QuotaKind::LoadBalancersPerProject
                | QuotaKind::ListenersPerLoadBalancer
                | QuotaKind::ServerGroupsPerLoadBalancer
                | QuotaKind::CertificatesPerProject
                | QuotaKind::L7PoliciesPerListener
                | QuotaKind::L7RulesPerPolicy
                | QuotaKind::L7RulesPerListener
                | QuotaKind::SecretsPerProject
                | QuotaKind::ContainersPerProject
                | QuotaKind::AclsPerProject
                | QuotaKind::AclEntriesPerAcl
                | QuotaKind::NetworksPerProject
                | QuotaKind::SubnetsPerProject => {
                    let resource = match kind {
                        QuotaKind::LoadBalancersPerProject => "LoadBalancer",
                        QuotaKind::ListenersPerLoadBalancer => "Listener",
                        QuotaKind::CertificatesPerProject => "Certificate",
                        QuotaKind::L7PoliciesPerListener => "L7Policy",
                        QuotaKind::L7RulesPerPolicy | QuotaKind::L7RulesPerListener => "L7Rule",
                        QuotaKind::SecretsPerProject => "Secret",
                        QuotaKind::ContainersPerProject => "Container",
                        QuotaKind::AclsPerProject | QuotaKind::AclEntriesPerAcl => "Whitelist",
                        QuotaKind::NetworksPerProject => "Network",
                        QuotaKind::SubnetsPerProject => "Subnet",
                        _ => "Pool",
                    };
                    (
                        S::FORBIDDEN,
                        codes::FORBIDDEN,
                        format!("Quota has been met for resources: {resource} ({domain})"),
                    )
                }
            },
            Error::LoadBalancerNotRunning { .. } => (S::CONFLICT, codes::IMMUTABLE, domain.to_string()),
            Error::Unsupported { reason, .. } => (
                S::NOT_IMPLEMENTED,
                codes::NOT_IMPLEMENTED,
                format!("Provider 'weir' does not support a requested option: {reason}"),
            ),
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
        ResourceKind::Credential => "Credential",
        ResourceKind::Certificate => "Certificate",
        ResourceKind::FlavorProfile => "Flavor profile",
        ResourceKind::Flavor => "Flavor",
        ResourceKind::L7Policy => "L7 Policy",
        ResourceKind::L7Rule => "L7 Rule",
        ResourceKind::Secret => "Secret",
        ResourceKind::Container => "Container",
        // Aliyun's; LBaaS never names one.
        ResourceKind::DomainExtension => "Domain extension",
        ResourceKind::Acl => "Whitelist",
    }
}

/// Core messages name fields the native way; LBaaS callers know theirs.
fn lbaas_names(message: &str) -> String {
    let renamed = message
        .replace("backends[", "members[")
        .replace("].port", "].protocol_port")
        .replace("].enabled", "].admin_state_up");
    // A listener setting is named as the caller sent it.
    for (weir, octavia) in [
        ("idle_timeout_ms: ", "timeout_client_data: "),
        ("connect_timeout_ms: ", "timeout_member_connect: "),
        ("backend_timeout_ms: ", "timeout_member_data: "),
        ("inspect_timeout_ms: ", "timeout_tcp_inspect: "),
        ("group_pool_id: ", "default_pool_id: "),
        ("forwarded_headers: ", "insert_headers: "),
    ] {
        if let Some(rest) = renamed.strip_prefix(weir) {
            return format!("Invalid input for field/attribute {octavia}{rest}");
        }
    }
    renamed
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
        .route("/loadbalancers/{lb_id}/stats", get(lb_stats))
        .route("/loadbalancers/{lb_id}/status", get(lb_status))
        .route("/loadbalancers/{lb_id}/failover", put(lb_failover))
        .route("/listeners", get(list_listeners).post(create_listener))
        .route("/listeners/{listener_id}/stats", get(listener_stats))
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
        .route("/providers", get(list_providers))
        .route(
            "/providers/{provider}/flavor_capabilities",
            get(provider_capabilities),
        )
        .route(
            "/providers/{provider}/availability_zone_capabilities",
            get(provider_capabilities),
        )
        .route(
            "/flavors",
            get(flavors::list_flavors).post(flavors::create_flavor),
        )
        .route(
            "/flavors/{id}",
            get(flavors::show_flavor)
                .put(flavors::update_flavor)
                .delete(flavors::delete_flavor),
        )
        .route(
            "/flavorprofiles",
            get(flavors::list_profiles).post(flavors::create_profile),
        )
        .route(
            "/flavorprofiles/{id}",
            get(flavors::show_profile)
                .put(flavors::update_profile)
                .delete(flavors::delete_profile),
        )
        .route("/availabilityzones", get(list_none).post(create_none))
        .route(
            "/availabilityzones/{id}",
            get(missing_one).put(missing_one).delete(missing_one),
        )
        .route(
            "/availabilityzoneprofiles",
            get(list_none).post(create_none),
        )
        .route(
            "/availabilityzoneprofiles/{id}",
            get(missing_one).put(missing_one).delete(missing_one),
        )
        .route("/l7policies", get(list_l7policies).post(create_l7policy))
        .route(
            "/l7policies/{l7policy_id}",
            get(show_l7policy)
                .put(update_l7policy)
                .delete(delete_l7policy),
        )
        .route(
            "/l7policies/{l7policy_id}/rules",
            get(list_l7rules).post(create_l7rule),
        )
        .route(
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            get(show_l7rule).put(update_l7rule).delete(delete_l7rule),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Octavia's resource routes: the shared ones and what only Octavia has
/// (the quotas API; Huawei ELB's quotas are another API).
pub fn octavia_routes() -> Router<Dialects> {
    routes()
        .route("/quotas", get(quotas::list_quotas))
        .route("/quotas/defaults", get(quotas::quota_defaults))
        .route(
            "/quotas/{project_id}",
            get(quotas::show_quota)
                .put(quotas::update_quota)
                .delete(quotas::reset_quota),
        )
        .route(
            "/quotas/{project_id}/default",
            get(quotas::project_defaults),
        )
}

/// Octavia's amphora API (`/v2/octavia/amphorae`), for the operator
/// alone as in Octavia: Weir's data plane is no amphora, so the list is
/// empty and every id, on every action, is an unknown amphora.
pub fn amphora_routes() -> Router<Dialects> {
    Router::new()
        .route("/amphorae", get(list_amphorae))
        .route("/amphorae/{id}", get(no_amphora).delete(no_amphora))
        .route("/amphorae/{id}/stats", get(no_amphora))
        .route("/amphorae/{id}/failover", put(no_amphora))
        .route("/amphorae/{id}/config", put(no_amphora))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Refuses a body naming another project than the one the resource is
/// created in (its load balancer's, or the caller's).
fn check_owner(named: [&Option<String>; 2], owner: &ProjectId) -> Result<(), LbaasError> {
    for named in named.into_iter().flatten() {
        if named != owner.as_str() {
            return Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute project_id. Value: '{named}'. \
                 It must be the project the resource is created in"
            )));
        }
    }
    Ok(())
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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
