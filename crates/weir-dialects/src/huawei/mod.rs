//! Huawei Cloud ELB v2 (shared load balancers) as `huaweicloudsdkelb`
//! sends it: `/v2/{project_id}/elb/…` with the OpenStack LBaaS v2 bodies,
//! signed with `SDK-HMAC-SHA256` (AK/SK) and carrying `X-Project-Id`.
//! Member rules are seed 004's ([`crate::lbaas::Flavor::Huawei`]).
//!
//! - [`sign`]: the pure verifier.
//! - this module: the authentication layer; the resources are
//!   [`crate::lbaas`]'s.

pub mod sign;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use crate::common::{unix_now, BODY_LIMIT};
use crate::lbaas::{self, Ctx, Flavor, LbaasError};
use crate::Dialects;

pub(crate) fn routes(state: Dialects) -> Router<Dialects> {
    // Huawei's own resources (certificates, whitelists) beside the
    // shared LBaaS ones.
    let elb = lbaas::routes()
        .merge(lbaas::certificates::routes())
        .merge(lbaas::whitelists::routes());
    Router::new()
        .nest("/v2/{project_id}/elb", elb)
        .layer(middleware::from_fn_with_state(state, aksk_layer))
}

async fn aksk_layer(State(d): State<Dialects>, req: Request, next: Next) -> Response {
    match authenticate(&d, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => lbaas::reject(e),
    }
}

/// Verifies the signature over the whole request (so the body is read
/// here and put back), and that the path's project is the key's.
async fn authenticate(d: &Dialects, req: Request) -> Result<Request, LbaasError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        LbaasError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            lbaas::codes::TOO_LARGE,
            format!("the request body is larger than {BODY_LIMIT} bytes"),
        )
    })?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| LbaasError::unauthorized("the Authorization header is missing"))?;
    let auth = sign::parse_authorization(authorization)
        .map_err(|e| LbaasError::unauthorized(e.to_string()))?;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map_err(|e| LbaasError::bad_request(format!("the query cannot be parsed: {e}")))?;
    let signed = sign::SignedParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: &query,
        headers: &headers,
        body: &bytes,
    };
    let key = d
        .control
        .access_key(&auth.access_key_id)
        .await
        .map_err(LbaasError::from_control)?
        .ok_or_else(|| LbaasError::unauthorized("the access key is not known"))?;
    sign::verify(&signed, &auth, &key.secret, unix_now())
        .map_err(|e| LbaasError::unauthorized(e.to_string()))?;
    // /v2/{project_id}/elb/...: the project in the path (and in
    // X-Project-Id) must be the key's own.
    let path_project = parts.uri.path().split('/').nth(2).unwrap_or_default();
    let header_project = parts
        .headers
        .get("x-project-id")
        .and_then(|v| v.to_str().ok());
    if path_project != key.project_id.as_str()
        || header_project.is_some_and(|h| h != key.project_id.as_str())
    {
        return Err(LbaasError::new(
            axum::http::StatusCode::FORBIDDEN,
            lbaas::codes::FORBIDDEN,
            format!("project {path_project} is not the project of this access key"),
        ));
    }
    let mut req = lbaas::with_body(parts, bytes.to_vec());
    req.extensions_mut().insert(Ctx {
        principal: key.principal(),
        flavor: Flavor::Huawei,
    });
    Ok(req)
}
