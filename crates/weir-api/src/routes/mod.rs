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
use weir_core::loadbalancer::{
    LbAction, ListenerUpdate, LoadBalancerUpdate, NewListener, NewLoadBalancer,
};
use weir_core::model::{Backend, ForwardedHeaders, Listener, Role};
use weir_core::pool::{HealthCheckSpec, PoolUpdate};
use weir_core::register::{BackendSpec, DuplicatePolicy, RegisterPolicy};

use crate::edge::{request_id, Auth, JsonBody, BODY_LIMIT};
use crate::error::{status_and_code, ApiError};
use crate::views::*;

mod acls;
mod backends;
mod certificates;
mod client_auth;
mod domains;
mod flavors;
mod l7;
mod loadbalancers;
mod nodes;
mod pool_tls;
mod pools;
mod tenants;
mod watch;

use acls::*;
use backends::*;
use certificates::*;
use domains::*;
use flavors::*;
use l7::*;
use loadbalancers::*;
use nodes::*;
use pools::*;
use tenants::*;
use watch::*;

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
        .route("/v1/watch", get(watch_events))
        .route("/v1/projects", post(create_project).get(list_projects))
        .route(
            "/v1/projects/{id}/credentials",
            post(create_credential).get(list_credentials),
        )
        .route("/v1/quotas", get(list_quotas))
        .route(
            "/v1/projects/{id}/quotas",
            get(get_quotas).put(set_quotas).delete(reset_quotas),
        )
        .route(
            "/v1/projects/{id}/credentials/{access_key_id}",
            axum::routing::delete(delete_credential),
        )
        .route("/v1/nodes", get(list_nodes))
        .route("/v1/cluster/live", get(cluster_live))
        .route("/v1/flavors", post(create_flavor).get(list_flavors))
        .route(
            "/v1/flavors/{id}",
            get(get_flavor).patch(update_flavor).delete(delete_flavor),
        )
        .route(
            "/v1/flavorprofiles",
            post(create_flavor_profile).get(list_flavor_profiles),
        )
        .route(
            "/v1/flavorprofiles/{id}",
            get(get_flavor_profile)
                .patch(update_flavor_profile)
                .delete(delete_flavor_profile),
        )
        .route("/v1/acls", post(create_acl).get(list_acls))
        .route(
            "/v1/acls/{id}",
            get(get_acl).patch(update_acl).delete(delete_acl),
        )
        .route("/v1/acls/{id}/entries", post(add_acl_entries))
        .route("/v1/acls/{id}/entries/remove", post(remove_acl_entries))
        .route(
            "/v1/certificates",
            post(create_certificate).get(list_certificates),
        )
        .route(
            "/v1/certificates/{id}",
            get(get_certificate).delete(delete_certificate),
        )
        .route("/v1/vpcs", post(create_vpc).get(list_vpcs))
        .route("/v1/subnets", post(create_subnet).get(list_subnets))
        .route("/v1/instances", post(create_instance).get(list_instances))
        .route(
            "/v1/instances/{id}",
            get(get_instance).patch(update_instance),
        )
        .route("/v1/loadbalancers", post(create_lb).get(list_lbs))
        .route(
            "/v1/loadbalancers/{id}",
            get(get_lb).patch(update_lb).delete(delete_lb),
        )
        .route("/v1/loadbalancers/{id}/stop", post(stop_lb))
        .route("/v1/loadbalancers/{id}/start", post(start_lb))
        .route(
            "/v1/loadbalancers/{id}/listeners",
            post(create_listener).get(list_listeners),
        )
        .route(
            "/v1/loadbalancers/{id}/pools",
            get(list_pools).post(create_pool),
        )
        .route("/v1/loadbalancers/{id}/stats", get(lb_stats))
        .route("/v1/listeners/{id}/stats", get(listener_stats))
        .route("/v1/loadbalancers/{id}/backends", post(register_on_lb))
        .route(
            "/v1/listeners/{id}",
            get(get_listener)
                .patch(update_listener)
                .delete(delete_listener),
        )
        .route(
            "/v1/listeners/{id}/backends",
            post(register_on_listener).get(list_listener_backends),
        )
        .route("/v1/listeners/{id}/domains", post(add_domain))
        .route(
            "/v1/listeners/{id}/domains/{domain_id}",
            axum::routing::patch(set_domain).delete(delete_domain),
        )
        .route(
            "/v1/listeners/{id}/l7policies",
            post(create_l7policy).get(list_l7policies),
        )
        .route(
            "/v1/l7policies/{id}",
            get(get_l7policy)
                .patch(update_l7policy)
                .delete(delete_l7policy),
        )
        .route("/v1/l7policies/{id}/rules", post(create_l7rule))
        .route(
            "/v1/l7policies/{id}/rules/{rule_id}",
            axum::routing::delete(delete_l7rule).patch(update_l7rule),
        )
        .route(
            "/v1/pools/{id}",
            get(get_pool).patch(update_pool).delete(delete_pool),
        )
        .route(
            "/v1/pools/{id}/backends",
            post(register_on_pool)
                .get(list_pool_backends)
                .put(replace_pool_backends),
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
