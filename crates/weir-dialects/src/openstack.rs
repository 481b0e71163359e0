//! OpenStack: a Keystone v3 identity endpoint (version discovery, tokens by
//! application credential or password, a catalog pointing back at Weir)
//! and Octavia's LBaaS v2 API under `/v2.0/lbaas` and `/v2/lbaas`, the
//! routes openstacksdk, python-octaviaclient and neutron-lbaas clients use.
//!
//! A project's access key is its application credential (id and secret)
//! and its user (name and password). Tokens are stateless: the project,
//! the expiry and an HMAC under a per-process key, checked on every call;
//! they stop working at expiry and when the server restarts (keystoneauth
//! then authenticates again).

use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{Control, Principal};
use weir_core::ids::ProjectId;
use weir_core::Timestamp;

use crate::common::{constant_time_eq, hex, hmac_sha256, parse_json, unix_now, BODY_LIMIT};
use crate::lbaas::{self, Ctx, Flavor, LbaasError};
use crate::Dialects;

/// How long a token lives unless configured otherwise (Keystone's default).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

const TOKEN_PREFIX: &str = "wks1";

/// Issues and checks stateless tokens.
pub struct Tokens {
    key: [u8; 32],
    ttl: Duration,
}

impl Tokens {
    pub fn new(key: [u8; 32], ttl: Duration) -> Self {
        Self { key, ttl }
    }

    fn mac(&self, project: &str, expires: i64) -> String {
        hex(&hmac_sha256(
            &self.key,
            format!("{project}|{expires}").as_bytes(),
        ))
    }

    /// A token for `project` valid until `now + ttl`; with its expiry.
    pub fn issue(&self, project: &ProjectId, now: i64) -> (String, i64) {
        let expires = now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let token = format!(
            "{TOKEN_PREFIX}.{project}.{expires}.{}",
            self.mac(project.as_str(), expires)
        );
        (token, expires)
    }

    /// The project a token stands for, if it is genuine and unexpired.
    pub fn verify(&self, token: &str, now: i64) -> Option<ProjectId> {
        let mut parts = token.split('.');
        let (Some(TOKEN_PREFIX), Some(project), Some(expires), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        let genuine = constant_time_eq(self.mac(project, expires).as_bytes(), mac.as_bytes());
        (genuine && now < expires).then(|| ProjectId::new(project))
    }
}

/// Where the catalog points the `load-balancer` service: Octavia's own
/// deployments serve it under this prefix, and its root must be Octavia's
/// version document (the Aliyun dialect owns an unsigned `GET /`).
pub const LOAD_BALANCER_PREFIX: &str = "/load-balancer";

pub(crate) fn routes(state: Dialects) -> Router<Dialects> {
    let lbaas = Router::new()
        .nest("/load-balancer/v2.0/lbaas", lbaas::routes())
        .nest("/load-balancer/v2/lbaas", lbaas::routes())
        // The prefix-less paths of earlier catalogs stay for clients that
        // kept an endpoint.
        .nest("/v2.0/lbaas", lbaas::routes())
        .nest("/v2/lbaas", lbaas::routes())
        // The read side of Neutron that clients use to resolve names and
        // ids (python-octaviaclient looks `--vip-subnet-id` up there).
        .route("/v2.0/subnets", get(list_subnets))
        .route("/v2.0/subnets/{id}", get(show_subnet))
        .route("/v2.0/networks", get(list_networks))
        .route("/v2.0/networks/{id}", get(show_network))
        .route("/v2.0/ports", get(list_ports))
        .route("/v2.0/ports/{id}", get(show_port))
        .layer(middleware::from_fn_with_state(state, token_layer));
    Router::new()
        .route(LOAD_BALANCER_PREFIX, get(octavia_versions))
        .route("/load-balancer/", get(octavia_versions))
        .route("/v3", get(version))
        .route("/v3/", get(version))
        .route("/v3/auth/tokens", post(issue_token).get(validate_token))
        .merge(lbaas)
}

fn keystone_error(status: StatusCode, message: impl Into<String>) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body =
        json!({"error": {"code": status.as_u16(), "title": title, "message": message.into()}});
    (status, Json(body)).into_response()
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn version(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({"version": {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }}))
}

/// Octavia's version document, unauthenticated as Octavia's is: clients
/// (tempest's Octavia client, keystoneauth's discovery) read the `CURRENT`
/// version from it. Like Octavia's it lists every version up to the
/// current one; Weir claims the version whose fields it honours or
/// refuses with Octavia's 501 (see `docs/dialects/openstack.md`).
async fn octavia_versions(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    let href = format!("{base}{LOAD_BALANCER_PREFIX}/v2");
    let versions: Vec<Value> = OCTAVIA_API_VERSIONS
        .iter()
        .enumerate()
        .map(|(i, (id, updated))| {
            let current = i + 1 == OCTAVIA_API_VERSIONS.len();
            json!({
                "id": id,
                "status": if current { "CURRENT" } else { "SUPPORTED" },
                "updated": updated,
                "links": [{"rel": "self", "href": href}],
            })
        })
        .collect();
    Json(json!({ "versions": versions }))
}

/// The Octavia API versions Weir implements, the last one current, with
/// Octavia's own dates. Up to 2.13: listener timeouts (2.1), tags (2.5),
/// flavors (2.6: none, and creating one is 501), TLS client
/// authentication (2.8: 501 until Weir terminates TLS), L7 redirect codes
/// (2.9: L7 policies are 501), monitor Host header and HTTP version
/// (2.10), additive member batches (2.11), `allowed_cidrs` (2.12) and
/// SOURCE_IP_PORT (2.13). 2.14 (availability zones) would need zones.
const OCTAVIA_API_VERSIONS: &[(&str, &str)] = &[
    ("v2.0", "2016-12-11T00:00:00Z"),
    ("v2.1", "2018-04-20T00:00:00Z"),
    ("v2.2", "2018-07-31T00:00:00Z"),
    ("v2.3", "2018-12-18T00:00:00Z"),
    ("v2.4", "2018-12-19T00:00:00Z"),
    ("v2.5", "2019-01-21T00:00:00Z"),
    ("v2.6", "2019-01-25T00:00:00Z"),
    ("v2.7", "2018-01-25T12:00:00Z"),
    ("v2.8", "2019-02-12T00:00:00Z"),
    ("v2.9", "2019-03-04T00:00:00Z"),
    ("v2.10", "2019-03-05T00:00:00Z"),
    ("v2.11", "2019-06-24T00:00:00Z"),
    ("v2.12", "2019-09-11T00:00:00Z"),
    ("v2.13", "2019-09-13T00:00:00Z"),
];

#[derive(Deserialize)]
struct AuthRequest {
    auth: Auth,
}

#[derive(Deserialize)]
struct Auth {
    identity: Identity,
    scope: Option<Scope>,
}

#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    application_credential: Option<AppCredential>,
    password: Option<Password>,
}

#[derive(Deserialize)]
struct AppCredential {
    id: Option<String>,
    secret: String,
}

#[derive(Deserialize)]
struct Password {
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: Option<String>,
    name: Option<String>,
    password: String,
}

#[derive(Deserialize)]
struct Scope {
    project: Option<ScopeProject>,
}

#[derive(Deserialize)]
struct ScopeProject {
    id: Option<String>,
    name: Option<String>,
}

/// Checks an access key id and secret; the project they belong to.
async fn check_secret(control: &Control, key_id: &str, secret: &str) -> Option<ProjectId> {
    let key = control.access_key(key_id).await.ok()??;
    constant_time_eq(key.secret.as_bytes(), secret.as_bytes()).then_some(key.project_id)
}

async fn issue_token(
    State(d): State<Dialects>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if body.len() > BODY_LIMIT {
        return keystone_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        );
    }
    let req: AuthRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => return keystone_error(StatusCode::BAD_REQUEST, format!("{e:?}")),
    };
    let identity = &req.auth.identity;
    let unauthorized = || {
        keystone_error(
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
    };
    let (method, project_id, user_name) = if identity
        .methods
        .iter()
        .any(|m| m == "application_credential")
    {
        let Some(cred) = &identity.application_credential else {
            return keystone_error(StatusCode::BAD_REQUEST, "application_credential is missing");
        };
        let Some(id) = cred.id.as_deref() else {
            return keystone_error(
                StatusCode::BAD_REQUEST,
                "application_credential.id is required",
            );
        };
        match check_secret(&d.control, id, &cred.secret).await {
            Some(p) => ("application_credential", p, id.to_owned()),
            None => return unauthorized(),
        }
    } else if identity.methods.iter().any(|m| m == "password") {
        let Some(pw) = &identity.password else {
            return keystone_error(StatusCode::BAD_REQUEST, "password is missing");
        };
        let Some(user) = pw.user.name.as_deref().or(pw.user.id.as_deref()) else {
            return keystone_error(StatusCode::BAD_REQUEST, "password.user.name is required");
        };
        match check_secret(&d.control, user, &pw.user.password).await {
            Some(p) => ("password", p, user.to_owned()),
            None => return unauthorized(),
        }
    } else {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "only the application_credential and password methods are supported",
        );
    };
    let principal = Principal::Project(project_id.clone());
    let project = match d.control.list_projects(&principal).await {
        Ok(list) => list.into_iter().find(|p| p.id == project_id),
        Err(_) => None,
    };
    let Some(project) = project else {
        return unauthorized();
    };
    if let Some(scope) = req.auth.scope.as_ref().and_then(|s| s.project.as_ref()) {
        let id_ok = scope.id.as_ref().is_none_or(|i| i == project.id.as_str());
        let name_ok = scope.name.as_ref().is_none_or(|n| n == &project.name);
        if !(id_ok && name_ok) {
            return keystone_error(
                StatusCode::UNAUTHORIZED,
                "the credentials do not grant the requested project scope",
            );
        }
    }
    let now = unix_now();
    let (token, expires) = d.tokens.issue(&project.id, now);
    let body = token_body(&d, &headers, method, &project, &user_name, now, expires);
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&token) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp
}

fn token_body(
    d: &Dialects,
    headers: &HeaderMap,
    method: &str,
    project: &weir_core::model::Project,
    user: &str,
    now: i64,
    expires: i64,
) -> Value {
    let base = base_url(headers);
    let endpoints = |url: &str| -> Vec<Value> {
        d.control
            .settings()
            .regions
            .iter()
            .flat_map(|region| {
                ["public", "internal", "admin"].map(|interface| {
                    json!({"id": format!("{region}-{interface}"), "interface": interface,
                           "region": region, "region_id": region, "url": url})
                })
            })
            .collect()
    };
    let iso = |secs: i64| Timestamp(secs * 1000).to_string();
    json!({"token": {
        "methods": [method],
        "issued_at": iso(now),
        "expires_at": iso(expires),
        "user": {"id": user, "name": user, "domain": {"id": "default", "name": "Default"}, "password_expires_at": null},
        "project": {"id": project.id.as_str(), "name": project.name, "domain": {"id": "default", "name": "Default"}},
        "is_domain": false,
        "audit_ids": [crate::common::request_id()],
        "roles": [{"id": "member", "name": "member"}, {"id": "load-balancer_member", "name": "load-balancer_member"}],
        "catalog": [
            {"type": "load-balancer", "name": "octavia", "id": "load-balancer", "endpoints": endpoints(&format!("{base}{LOAD_BALANCER_PREFIX}"))},
            {"type": "network", "name": "neutron", "id": "network", "endpoints": endpoints(&base)},
            {"type": "identity", "name": "keystone", "id": "identity", "endpoints": endpoints(&format!("{base}/v3"))},
        ],
    }})
}

async fn validate_token(State(d): State<Dialects>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(caller), Some(subject)) = (header("x-auth-token"), header("x-subject-token")) else {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "X-Auth-Token and X-Subject-Token are required",
        );
    };
    let now = unix_now();
    if d.tokens.verify(caller, now).is_none() {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        );
    }
    match d.tokens.verify(subject, now) {
        Some(project) => {
            Json(json!({"token": {"project": {"id": project.as_str()}}})).into_response()
        }
        None => keystone_error(StatusCode::NOT_FOUND, "Could not find token."),
    }
}

fn subnet_view(s: &weir_core::model::Subnet) -> Value {
    json!({
        "id": s.id.as_str(),
        "name": s.name,
        "network_id": s.vpc_id.as_str(),
        "cidr": s.cidr.to_string(),
        "ip_version": if s.cidr.addr().is_ipv4() { 4 } else { 6 },
        "project_id": s.project_id.as_str(),
        "tenant_id": s.project_id.as_str(),
        "enable_dhcp": false,
        "shared": s.shared,
        "created_at": s.created_at.to_string(),
        "tags": [],
    })
}

fn network_view(v: &weir_core::model::Vpc, subnets: &[weir_core::model::Subnet]) -> Value {
    json!({
        "id": v.id.as_str(),
        "name": v.name,
        "status": "ACTIVE",
        "admin_state_up": true,
        "subnets": subnets.iter().filter(|s| s.vpc_id == v.id).map(|s| s.id.as_str()).collect::<Vec<_>>(),
        "project_id": v.project_id.as_str(),
        "tenant_id": v.project_id.as_str(),
        "shared": v.shared,
        "created_at": v.created_at.to_string(),
        "tags": [],
    })
}

/// A load balancer's VIP as the Neutron port Octavia would have made for
/// it; its id is the load balancer's (`vip_port_id`).
fn port_view(lb: &weir_core::model::LoadBalancer) -> Value {
    json!({
        "id": lb.id.as_str(),
        "name": format!("octavia-lb-{}", lb.id),
        "network_id": lb.vpc_id.as_str(),
        "fixed_ips": [{"subnet_id": lb.subnet_id.as_str(), "ip_address": lb.vip.to_string()}],
        "device_id": format!("lb-{}", lb.id),
        "device_owner": "Octavia",
        "admin_state_up": true,
        "status": "ACTIVE",
        "project_id": lb.project_id.as_str(),
        "tenant_id": lb.project_id.as_str(),
        "created_at": lb.created_at.to_string(),
        "tags": [],
    })
}

async fn list_ports(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    lbaas::Here(here): lbaas::Here,
) -> Result<Json<Value>, LbaasError> {
    let items = d
        .control
        .list_load_balancers(&ctx.principal)
        .await
        .map_err(LbaasError::from_control)?
        .iter()
        .map(port_view)
        .collect();
    Ok(Json(lbaas::listing::list(items, &q, "ports", &here)?))
}

async fn show_port(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, LbaasError> {
    let gone = || LbaasError::not_found(format!("Port {id} could not be found."));
    let lb = d
        .control
        .get_load_balancer(
            &ctx.principal,
            &weir_core::ids::LoadBalancerId::new(id.as_str()),
        )
        .await
        .map_err(|_| gone())?;
    Ok(Json(json!({"port": port_view(&lb)})))
}

async fn neutron_subnets(
    d: &Dialects,
    ctx: &Ctx,
) -> Result<Vec<weir_core::model::Subnet>, LbaasError> {
    d.control
        .list_subnets(&ctx.principal)
        .await
        .map_err(LbaasError::from_control)
}

/// The caller's VPCs (Neutron networks) with every subnet.
async fn neutron_networks(
    d: &Dialects,
    ctx: &Ctx,
) -> Result<(Vec<weir_core::model::Vpc>, Vec<weir_core::model::Subnet>), LbaasError> {
    let vpcs = d
        .control
        .list_vpcs(&ctx.principal)
        .await
        .map_err(LbaasError::from_control)?;
    Ok((vpcs, neutron_subnets(d, ctx).await?))
}

async fn list_subnets(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    lbaas::Here(here): lbaas::Here,
) -> Result<Json<Value>, LbaasError> {
    let items = neutron_subnets(&d, &ctx)
        .await?
        .iter()
        .map(subnet_view)
        .collect();
    Ok(Json(lbaas::listing::list(items, &q, "subnets", &here)?))
}

async fn show_subnet(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, LbaasError> {
    neutron_subnets(&d, &ctx)
        .await?
        .iter()
        .find(|s| s.id.as_str() == id)
        .map(|s| Json(json!({"subnet": subnet_view(s)})))
        .ok_or_else(|| LbaasError::not_found(format!("Subnet {id} could not be found.")))
}

async fn list_networks(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    lbaas::Here(here): lbaas::Here,
) -> Result<Json<Value>, LbaasError> {
    let (vpcs, subnets) = neutron_networks(&d, &ctx).await?;
    let items = vpcs.iter().map(|v| network_view(v, &subnets)).collect();
    Ok(Json(lbaas::listing::list(items, &q, "networks", &here)?))
}

async fn show_network(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, LbaasError> {
    let (vpcs, subnets) = neutron_networks(&d, &ctx).await?;
    vpcs.iter()
        .find(|v| v.id.as_str() == id)
        .map(|v| Json(json!({"network": network_view(v, &subnets)})))
        .ok_or_else(|| LbaasError::not_found(format!("Network {id} could not be found.")))
}

async fn token_layer(State(d): State<Dialects>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match d.tokens.verify(token, unix_now()) {
        Some(project) => {
            req.extensions_mut().insert(Ctx {
                principal: Principal::Project(project),
                flavor: Flavor::Octavia,
            });
            next.run(req).await
        }
        None => lbaas::reject(LbaasError::unauthorized(
            "Authentication required: a valid, unexpired X-Auth-Token from /v3/auth/tokens",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_resist_forgery() {
        let tokens = Tokens::new([7; 32], Duration::from_secs(60));
        let project = ProjectId::new("p-1");
        let (token, expires) = tokens.issue(&project, 1000);
        assert_eq!(expires, 1060);
        assert_eq!(tokens.verify(&token, 1059), Some(project.clone()));
        assert_eq!(tokens.verify(&token, 1060), None);
        let forged = token.replace("p-1", "p-2");
        assert_eq!(tokens.verify(&forged, 1000), None);
        let extended = token.replace(".1060.", ".9999.");
        assert_eq!(tokens.verify(&extended, 1000), None);
        let other_key = Tokens::new([8; 32], Duration::from_secs(60));
        assert_eq!(other_key.verify(&token, 1000), None);
        assert_eq!(tokens.verify("garbage", 1000), None);
    }
}
