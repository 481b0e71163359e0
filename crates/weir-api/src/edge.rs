//! What every request passes through: a request id, the bearer-token
//! principal, and a JSON body reader that reports the exact field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use weir_control::{Control, Principal};

use crate::error::ApiError;

/// Bodies larger than this are refused (413).
pub const BODY_LIMIT: usize = 1 << 20;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Middleware: takes the caller's `x-request-id` when it is sane, otherwise
/// mints one, and echoes it on the response. Error bodies read it from the
/// task-local, so no handler has to carry it.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(req))
        .instrument(span.clone())
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status();
    if status.is_server_error() {
        tracing::warn!(parent: &span, %status, "request failed");
    } else {
        tracing::debug!(parent: &span, %status, "request served");
    }
    response
}

/// The authenticated caller of a request.
pub struct Auth(pub Principal);

impl FromRequestParts<Control> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, control: &Control) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must be 'Bearer <token>'")
            })?;
        match control.authenticate(token).await? {
            Some(principal) => Ok(Auth(principal)),
            None => Err(ApiError::unauthenticated("unknown token")),
        }
    }
}

/// A JSON body deserialized with the path of any offending field, e.g.
/// `backends[2].weight: invalid type: string "x", expected i64`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "PayloadTooLarge",
                    message: format!("the body exceeds the limit of {BODY_LIMIT} bytes"),
                    field: None,
                }
            } else {
                ApiError::invalid_request(format!("could not read the body: {rejection}"), None)
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid_request(
            "the body must be a JSON object".to_owned(),
            None,
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != "." && path != "?").then_some(path);
        let inner = e.into_inner();
        let message = match &field {
            Some(f) => format!("{f}: {inner}"),
            None => format!("malformed JSON: {inner}"),
        };
        ApiError::invalid_request(message, field)
    })?;
    de.end()
        .map_err(|e| ApiError::invalid_request(format!("malformed JSON: {e}"), None))?;
    Ok(value)
}
