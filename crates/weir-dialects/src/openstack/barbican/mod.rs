//! Barbican's key-manager API v1, served by Weir for TLS-terminating
//! Octavia listeners: secrets ([`secrets`]) and containers
//! ([`containers`]), the calls python-barbicanclient and openstacksdk
//! make, under [`KEY_MANAGER_PREFIX`] (the catalog's `key-manager`
//! endpoint). Tokens are Weir's Keystone's (or the operator's), checked
//! by the same layer as Octavia's; every secret is its project's, and
//! another project's is 404, as a missing one.
//!
//! Refs are absolute URLs as Barbican returns them, built from the
//! request's host, so a ref a client was handed names this Weir. Errors
//! carry Barbican's body (`code`, `title`, `description`), which
//! barbicanclient shows as "title: description".

mod containers;
mod secrets;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use weir_control::ControlError;
use weir_core::ids::well_formed;

use super::{base_url, KEY_MANAGER_PREFIX};
use crate::common::BODY_LIMIT;
use crate::lbaas::LbaasError;
use crate::Dialects;

/// The routes that need a token (the caller nests them under
/// `{KEY_MANAGER_PREFIX}/v1` behind its token layer).
pub(super) fn routes() -> Router<Dialects> {
    Router::new()
        .route(
            "/secrets",
            get(secrets::list_secrets).post(secrets::create_secret),
        )
        .route(
            "/secrets/",
            get(secrets::list_secrets).post(secrets::create_secret),
        )
        .route(
            "/secrets/{id}",
            get(secrets::show_secret)
                .put(secrets::put_payload)
                .delete(secrets::delete_secret),
        )
        .route("/secrets/{id}/payload", get(secrets::show_payload))
        .route("/secrets/{id}/payload/", get(secrets::show_payload))
        .route(
            "/secrets/{id}/acl",
            get(secrets::show_acl)
                .put(secrets::refuse_acl)
                .patch(secrets::refuse_acl)
                .delete(secrets::refuse_acl),
        )
        .route("/secrets/{id}/consumers", get(secrets::list_consumers))
        .route("/secrets/{id}/consumers/", get(secrets::list_consumers))
        .route(
            "/containers",
            get(containers::list_containers).post(containers::create_container),
        )
        .route(
            "/containers/",
            get(containers::list_containers).post(containers::create_container),
        )
        .route(
            "/containers/{id}",
            get(containers::show_container).delete(containers::delete_container),
        )
        .route(
            "/containers/{id}/consumers",
            get(containers::list_consumers),
        )
        .route(
            "/containers/{id}/consumers/",
            get(containers::list_consumers),
        )
}

/// Barbican's version documents, unauthenticated as Barbican's are:
/// keystoneauth's discovery (python-barbicanclient, openstacksdk) reads
/// the v1 link and the microversion range from them.
pub(super) fn version_routes() -> Router<Dialects> {
    Router::new()
        .route(KEY_MANAGER_PREFIX, get(versions))
        .route("/key-manager/", get(versions))
        .route("/key-manager/v1", get(version_v1))
        .route("/key-manager/v1/", get(version_v1))
}

fn version_entry(headers: &HeaderMap) -> Value {
    json!({
        "id": "v1",
        "status": "CURRENT",
        "min_version": "1.0",
        "max_version": "1.1",
        "links": [{"rel": "self", "href": format!("{}/", api_base(headers))}],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.key-manager-v1+json"
        }],
    })
}

async fn versions(headers: HeaderMap) -> Json<Value> {
    Json(json!({"versions": {"values": [version_entry(&headers)]}}))
}

async fn version_v1(headers: HeaderMap) -> Json<Value> {
    Json(json!({"version": version_entry(&headers)}))
}

/// `http://host/key-manager/v1`.
fn api_base(headers: &HeaderMap) -> String {
    format!("{}{KEY_MANAGER_PREFIX}/v1", base_url(headers))
}

fn secret_href(headers: &HeaderMap, id: &str) -> String {
    format!("{}/secrets/{id}", api_base(headers))
}

fn container_href(headers: &HeaderMap, id: &str) -> String {
    format!("{}/containers/{id}", api_base(headers))
}

/// The secret id a secret ref names, if it is one of this key manager's.
fn secret_id_of(headers: &HeaderMap, href: &str) -> Option<String> {
    let prefix = format!("{}/secrets/", api_base(headers));
    let id = href.strip_prefix(&prefix)?;
    let id = id.strip_suffix('/').unwrap_or(id);
    (well_formed(id) && !id.contains('/')).then(|| id.to_owned())
}

/// An error in Barbican's shape.
#[derive(Debug)]
pub(super) struct KmError {
    status: StatusCode,
    description: String,
}

impl KmError {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
        }
    }

    fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    fn not_implemented(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, description)
    }

    /// The canonical error with the status and words the LBaaS table
    /// gives it (one table for OpenStack's services), in Barbican's body.
    fn from_control(e: ControlError) -> Self {
        let LbaasError {
            status, message, ..
        } = LbaasError::from_control(e);
        Self::new(status, message)
    }
}

impl IntoResponse for KmError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = json!({
            "code": self.status.as_u16(),
            "title": title,
            "description": self.description,
        });
        let mut resp = (self.status, Json(body)).into_response();
        let request_id = format!("req-{}", uuid::Uuid::now_v7());
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut()
                .insert("x-openstack-request-id", v.clone());
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }
}

type KmResult = Result<Response, KmError>;

fn fail(e: ControlError) -> KmError {
    KmError::from_control(e)
}

/// Reads a body with the 1 MiB limit.
async fn read_body(body: Body) -> Result<Vec<u8>, KmError> {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            KmError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {BODY_LIMIT} bytes"),
            )
        })
}

/// A JSON object body; unknown fields are refused by the caller's type.
fn json_body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, KmError> {
    crate::common::parse_json(raw).map_err(|p| match p {
        crate::common::JsonProblem::Missing(field) => {
            KmError::bad_request(format!("{field} is required"))
        }
        crate::common::JsonProblem::Invalid(why) => KmError::bad_request(why),
    })
}

fn created(location: String, body: Value) -> Response {
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert("location", v);
    }
    resp
}

/// Barbican's paging: `limit` (default 10, at most 100) and `offset`,
/// with `next`/`previous` links and the `total` before paging.
struct Paging {
    limit: usize,
    offset: usize,
}

impl Paging {
    fn from_query(q: &[(String, String)]) -> Result<Self, KmError> {
        let mut out = Paging {
            limit: 10,
            offset: 0,
        };
        for (k, v) in q {
            let n = || {
                v.parse::<usize>().map_err(|_| {
                    KmError::bad_request(format!("{k} must be a non-negative integer, not {v:?}"))
                })
            };
            match k.as_str() {
                "limit" => out.limit = n()?.min(100),
                "offset" => out.offset = n()?,
                _ => {}
            }
        }
        Ok(out)
    }

    /// One page of `items` under `key`, with Barbican's links.
    fn page(&self, items: Vec<Value>, key: &str, base: &str) -> Value {
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let mut out = json!({ key: page, "total": total });
        if self.offset + self.limit < total {
            out["next"] = json!(format!(
                "{base}?limit={}&offset={}",
                self.limit,
                self.offset + self.limit
            ));
        }
        if self.offset > 0 {
            out["previous"] = json!(format!(
                "{base}?limit={}&offset={}",
                self.limit,
                self.offset.saturating_sub(self.limit)
            ));
        }
        out
    }
}

/// Refuses a list filter Weir does not apply (`known` are applied by the
/// caller, `limit` and `offset` by [`Paging`]).
fn check_filters(q: &[(String, String)], known: &[&str]) -> Result<(), KmError> {
    match q
        .iter()
        .find(|(k, _)| k != "limit" && k != "offset" && !known.contains(&k.as_str()))
    {
        Some((k, _)) => Err(KmError::bad_request(format!(
            "the list filter {k} is not supported (supported: limit, offset, {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}
