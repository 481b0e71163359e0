//! OpenStack: a Keystone v3 identity endpoint ([`keystone`]: version
//! discovery, tokens by application credential or password, a catalog
//! pointing back at Weir), the read side of Neutron ([`neutron`]) and
//! Octavia's LBaaS v2 API under `/load-balancer/v2/lbaas` (and the older
//! prefix-less paths), the routes openstacksdk, python-octaviaclient and
//! neutron-lbaas clients use, and Barbican's key-manager API
//! ([`barbican`]) under `/key-manager/v1`, which TERMINATED_HTTPS
//! listeners take their certificates from.
//!
//! A project's access key is its application credential (id and secret)
//! and its user (name and password); a token carries the role of the key
//! it was issued for. Tokens are stateless: the project, the role, the
//! expiry and an HMAC under a per-process key, checked on every call;
//! they stop working at expiry and when the server restarts (keystoneauth
//! then authenticates again).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::lbaas::{self, Ctx, Flavor, LbaasError};
use crate::Dialects;

mod barbican;
mod external;
mod keystone;
mod neutron;

pub use external::{ExternalKeystone, KeystoneClient, Refusal};

use keystone::{issue_token, validate_token, version};
pub use keystone::{Tokens, DEFAULT_TOKEN_TTL};
use neutron::{
    create_network, create_subnet, delete_network, delete_subnet, list_networks, list_ports,
    list_subnets, show_network, show_port, show_subnet,
};

/// Where the catalog points the `load-balancer` service: Octavia's own
/// deployments serve it under this prefix, and its root must be Octavia's
/// version document (the Aliyun dialect owns an unsigned `GET /`).
pub const LOAD_BALANCER_PREFIX: &str = "/load-balancer";

/// Where the catalog points the `key-manager` service (Barbican's v1 API
/// under `{prefix}/v1`); a TERMINATED_HTTPS listener's refs must name it.
pub const KEY_MANAGER_PREFIX: &str = "/key-manager";

pub(crate) fn routes(state: Dialects) -> Router<Dialects> {
    let lbaas = Router::new()
        .nest("/load-balancer/v2.0/lbaas", lbaas::octavia_routes())
        .nest("/load-balancer/v2/lbaas", lbaas::octavia_routes())
        // The prefix-less paths of earlier catalogs stay for clients that
        // kept an endpoint.
        .nest("/v2.0/lbaas", lbaas::octavia_routes())
        .nest("/v2/lbaas", lbaas::octavia_routes())
        // Octavia's operator API of amphorae (2.21 adds delete): Weir
        // runs none.
        .nest("/load-balancer/v2/octavia", lbaas::amphora_routes())
        .nest("/load-balancer/v2.0/octavia", lbaas::amphora_routes())
        .nest("/v2/octavia", lbaas::amphora_routes())
        .nest("/v2.0/octavia", lbaas::amphora_routes())
        // Neutron's networks and subnets: read by clients resolving names
        // and ids (python-octaviaclient looks `--vip-subnet-id` up there),
        // made and deleted by projects that build their own networks.
        .route("/v2.0/subnets", get(list_subnets).post(create_subnet))
        .route("/v2.0/subnets/{id}", get(show_subnet).delete(delete_subnet))
        .route("/v2.0/networks", get(list_networks).post(create_network))
        .route(
            "/v2.0/networks/{id}",
            get(show_network).delete(delete_network),
        )
        .route("/v2.0/ports", get(list_ports))
        .route("/v2.0/ports/{id}", get(show_port))
        // Barbican's API (TERMINATED_HTTPS listeners' certificates).
        .nest("/key-manager/v1", barbican::routes())
        .layer(middleware::from_fn_with_state(state.clone(), token_layer));
    // With the operator's own Keystone, clients get their tokens there:
    // Weir's Keystone is not served, so no client is handed a token the
    // operator's Keystone never issued.
    let keystone = if state.external_keystone.is_some() {
        Router::new()
    } else {
        Router::new()
            .route("/v3", get(version))
            .route("/v3/", get(version))
            .route("/v3/auth/tokens", post(issue_token).get(validate_token))
    };
    Router::new()
        .route(LOAD_BALANCER_PREFIX, get(octavia_versions))
        .route("/load-balancer/", get(octavia_versions))
        .merge(keystone)
        .merge(barbican::version_routes())
        .merge(lbaas)
}

pub(super) fn keystone_error(status: StatusCode, message: impl Into<String>) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body =
        json!({"error": {"code": status.as_u16(), "title": title, "message": message.into()}});
    (status, Json(body)).into_response()
}

pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
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
/// SOURCE_IP_PORT (2.13). 2.14 to 2.25: availability zones (none exist,
/// creating one is 501), listener and pool TLS ciphers, versions and
/// ALPN (2.15, 2.17, 2.18, 2.20, 2.24: refused, Weir's Octavia listeners
/// do not terminate TLS and its pools do not re-encrypt), HTTP and TCP
/// monitors of UDP pools (2.16: honoured, the check dials the member's
/// port over TCP), L7 quotas (2.19), amphora delete (2.21: there are no
/// amphorae, every id is unknown), PROXYV2 pools (2.22), SCTP (2.23: 501,
/// no SCTP sockets) and PROMETHEUS listeners (2.25).
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
    ("v2.14", "2019-10-10T00:00:00Z"),
    ("v2.15", "2020-03-10T00:00:00Z"),
    ("v2.16", "2020-03-15T00:00:00Z"),
    ("v2.17", "2020-04-29T00:00:00Z"),
    ("v2.18", "2020-04-29T01:00:00Z"),
    ("v2.19", "2020-05-12T00:00:00Z"),
    ("v2.20", "2020-08-24T00:00:00Z"),
    ("v2.21", "2020-09-03T00:00:00Z"),
    ("v2.22", "2020-09-08T00:00:00Z"),
    ("v2.23", "2020-09-08T01:00:00Z"),
    ("v2.24", "2020-09-15T00:00:00Z"),
    ("v2.25", "2021-10-02T00:00:00Z"),
];

async fn token_layer(State(d): State<Dialects>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let unauthorized = || {
        lbaas::reject(LbaasError::unauthorized(
            "Authentication required: a valid, unexpired X-Auth-Token from /v3/auth/tokens",
        ))
    };
    let principal = match &d.external_keystone {
        None => d.tokens.principal(&d.control, token).await,
        Some(keystone) => match keystone.principal(&d.control, token).await {
            Ok(principal) => Some(principal),
            Err(Refusal::Invalid) => None,
            Err(Refusal::NoRole) => {
                return lbaas::reject(LbaasError::new(
                    StatusCode::FORBIDDEN,
                    lbaas::codes::FORBIDDEN,
                    "Policy does not allow this request to be performed. (the token's roles \
                     include none of reader, member, admin or load-balancer_*)",
                ))
            }
            Err(Refusal::Unavailable(reason)) => {
                tracing::warn!(%reason, "external Keystone");
                return lbaas::reject(LbaasError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    lbaas::codes::INTERNAL,
                    "the identity service cannot be reached to validate the token; retry later",
                ));
            }
        },
    };
    let Some(principal) = principal else {
        return unauthorized();
    };
    req.extensions_mut().insert(Ctx {
        principal,
        flavor: Flavor::Octavia,
    });
    next.run(req).await
}
