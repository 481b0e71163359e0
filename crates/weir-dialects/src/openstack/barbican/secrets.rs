//! `/secrets`: create (one step with the payload, or metadata first and
//! the payload by PUT), list, show (metadata, or the payload when the
//! Accept header asks for its content type), the payload, delete; the
//! read side of ACLs and consumers, which are the default here (the
//! project reads its secrets; Weir's listeners read them without a
//! consumer registration).

use axum::extract::{Path, Query, State};
use axum::Extension;
use base64::Engine;
use serde::Deserialize;
use weir_core::ids::SecretId;
use weir_core::keymgr::{self, NewSecret, Payload, Secret};
use weir_core::{Error, Timestamp};

use super::*;
use crate::lbaas::Ctx;

/// Barbican's secret body. Unknown fields are refused: an option Weir
/// does not keep is never taken silently.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateSecret {
    name: Option<String>,
    expiration: Option<String>,
    algorithm: Option<String>,
    bit_length: Option<u32>,
    mode: Option<String>,
    payload: Option<String>,
    payload_content_type: Option<String>,
    payload_content_encoding: Option<String>,
    secret_type: Option<String>,
}

fn invalid(e: Error) -> KmError {
    KmError::from_control(e.into())
}

/// Barbican's expiration: ISO 8601, UTC when no offset is given.
fn expiration(text: &str) -> Result<Timestamp, KmError> {
    let with_zone = if text.ends_with('Z')
        || text.ends_with('z')
        || text.get(text.len().saturating_sub(6)..).is_some_and(|t| {
            (t.starts_with('+') || t.starts_with('-')) && t.as_bytes().get(3) == Some(&b':')
        }) {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    Timestamp::parse_rfc3339(&with_zone)
        .ok_or_else(|| KmError::bad_request(format!("Invalid date for 'expiration': {text:?}")))
}

/// A payload as given: its content type, and base64 for the binary
/// types (Barbican's rule: `text/plain` takes no encoding, the others
/// need `base64`).
fn decode_payload(
    payload: &[u8],
    content_type: &str,
    encoding: Option<&str>,
) -> Result<Payload, KmError> {
    let content_type =
        keymgr::content_type("payload_content_type", content_type).map_err(invalid)?;
    let bytes = match (content_type.as_str(), encoding) {
        ("text/plain", None) => payload.to_vec(),
        ("text/plain", Some(e)) => {
            return Err(KmError::bad_request(format!(
            "payload_content_encoding {e:?} is not valid for text/plain (send the text as it is)"
        )))
        }
        (_, Some(e)) if e.eq_ignore_ascii_case("base64") => {
            let text: Vec<u8> = payload
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| KmError::bad_request("the payload is not valid base64"))?
        }
        (_, Some(e)) => {
            return Err(KmError::bad_request(format!(
                "payload_content_encoding {e:?} is not supported (base64)"
            )))
        }
        (_, None) => {
            return Err(KmError::bad_request(format!(
                "payload_content_encoding is required for {content_type} (base64)"
            )))
        }
    };
    Ok(Payload {
        content_type,
        bytes,
    })
}

fn secret_view(headers: &HeaderMap, s: &Secret) -> Value {
    json!({
        "secret_ref": secret_href(headers, s.id.as_str()),
        "name": if s.name.is_empty() { Value::Null } else { json!(s.name) },
        "secret_type": s.secret_type,
        "algorithm": s.algorithm,
        "bit_length": s.bit_length,
        "mode": s.mode,
        "expiration": s.expiration.map(|t| t.to_string()),
        "status": "ACTIVE",
        "content_types": s.content_type.as_ref().map(|ct| json!({"default": ct})),
        "created": s.created_at.to_string(),
        "updated": s.updated_at.to_string(),
        "creator_id": s.project_id.as_str(),
        "consumers": [],
    })
}

pub(super) async fn create_secret(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> KmResult {
    let raw = read_body(body).await?;
    let req: CreateSecret = json_body(&raw)?;
    let payload = match (&req.payload, &req.payload_content_type) {
        (Some(p), Some(ct)) => Some(decode_payload(
            p.as_bytes(),
            ct,
            req.payload_content_encoding.as_deref(),
        )?),
        (Some(_), None) => {
            return Err(KmError::bad_request(
                "payload_content_type is required when a payload is given",
            ))
        }
        (None, Some(_)) | (None, None) if req.payload_content_encoding.is_some() => {
            return Err(KmError::bad_request(
                "payload_content_encoding is only valid with a payload",
            ))
        }
        (None, Some(_)) => {
            return Err(KmError::bad_request(
                "payload_content_type is only valid with a payload",
            ))
        }
        (None, None) => None,
    };
    let new = NewSecret {
        name: req.name,
        secret_type: req.secret_type,
        algorithm: req.algorithm,
        bit_length: req.bit_length,
        mode: req.mode,
        expiration: req.expiration.as_deref().map(expiration).transpose()?,
        payload,
    };
    let made = d
        .control
        .create_secret(&ctx.principal, new)
        .await
        .map_err(fail)?;
    let href = secret_href(&headers, made.id.as_str());
    Ok(created(href.clone(), json!({"secret_ref": href})))
}

pub(super) async fn list_secrets(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> KmResult {
    check_filters(&q, &["name", "secret_type", "alg", "mode", "bits"])?;
    let paging = Paging::from_query(&q)?;
    let wanted = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let items: Vec<Value> = d
        .control
        .list_secrets(&ctx.principal)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|s| wanted("name").is_none_or(|n| s.name == n))
        .filter(|s| wanted("secret_type").is_none_or(|t| s.secret_type == t))
        .filter(|s| wanted("alg").is_none_or(|a| s.algorithm.as_deref() == Some(a)))
        .filter(|s| wanted("mode").is_none_or(|m| s.mode.as_deref() == Some(m)))
        .filter(|s| {
            wanted("bits").is_none_or(|b| s.bit_length.map(|n| n.to_string()).as_deref() == Some(b))
        })
        .map(|s| secret_view(&headers, &s))
        .collect();
    let base = format!("{}/secrets", api_base(&headers));
    Ok(Json(paging.page(items, "secrets", &base)).into_response())
}

/// Whether an Accept header asks for the payload rather than metadata.
fn wants_payload(headers: &HeaderMap) -> Option<String> {
    let accept = headers.get("accept")?.to_str().ok()?.trim().to_owned();
    let json = accept.is_empty()
        || accept.contains("application/json")
        || accept == "*/*"
        || accept.starts_with("*/*");
    (!json).then_some(accept)
}

pub(super) async fn show_secret(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> KmResult {
    if let Some(accept) = wants_payload(&headers) {
        return payload_response(&d, &ctx, &id, Some(&accept)).await;
    }
    let s = d
        .control
        .get_secret(&ctx.principal, &SecretId::new(id.as_str()))
        .await
        .map_err(fail)?;
    Ok(Json(secret_view(&headers, &s)).into_response())
}

pub(super) async fn show_payload(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> KmResult {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    payload_response(&d, &ctx, &id, accept.as_deref()).await
}

/// The payload as stored, with its content type; an Accept naming
/// another type is Barbican's 406.
async fn payload_response(d: &Dialects, ctx: &Ctx, id: &str, accept: Option<&str>) -> KmResult {
    let (secret, bytes) = d
        .control
        .secret_payload(&ctx.principal, &SecretId::new(id))
        .await
        .map_err(fail)?;
    let stored = secret.content_type.unwrap_or_default();
    if let Some(accept) = accept {
        let acceptable = accept.split(',').any(|part| {
            let base = part.split(';').next().unwrap_or_default().trim();
            base == "*/*" || base.is_empty() || base.eq_ignore_ascii_case(&stored)
        });
        if !acceptable {
            return Err(KmError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!("Wrong payload content-type: the payload is {stored}, not {accept}"),
            ));
        }
    }
    let content_type = if stored == "text/plain" {
        "text/plain; charset=utf-8".to_owned()
    } else {
        stored
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        resp.headers_mut().insert("content-type", v);
    }
    Ok(resp)
}

/// The second step of a two-step create: the payload as the body, its
/// type in `Content-Type`, `Content-Encoding: base64` for encoded binary.
pub(super) async fn put_payload(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> KmResult {
    let raw = read_body(body).await?;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| KmError::bad_request("Content-Type is required"))?;
    let encoding = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok());
    let base = keymgr::content_type("Content-Type", content_type).map_err(invalid)?;
    // Binary sent as it is (no encoding header) is taken as it is.
    let payload = if base != "text/plain" && encoding.is_none() {
        Payload {
            content_type: base,
            bytes: raw,
        }
    } else {
        decode_payload(&raw, content_type, encoding)?
    };
    d.control
        .put_secret_payload(&ctx.principal, SecretId::new(id.as_str()), payload)
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn delete_secret(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> KmResult {
    d.control
        .delete_secret(&ctx.principal, SecretId::new(id.as_str()))
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A secret's ACL: always the default (the project reads it, no user
/// list), which is what Weir enforces.
pub(super) async fn show_acl(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> KmResult {
    let s = d
        .control
        .get_secret(&ctx.principal, &SecretId::new(id.as_str()))
        .await
        .map_err(fail)?;
    Ok(Json(json!({"read": {
        "project-access": true,
        "users": [],
        "created": s.created_at.to_string(),
        "updated": s.updated_at.to_string(),
    }}))
    .into_response())
}

/// Per-user ACLs are not kept: a secret is its project's.
pub(super) async fn refuse_acl(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> KmResult {
    d.control
        .get_secret(&ctx.principal, &SecretId::new(id.as_str()))
        .await
        .map_err(fail)?;
    Err(KmError::not_implemented(
        "ACLs are not kept: a secret is read by its project (and by its listeners)",
    ))
}

/// Consumers are not registered (Weir's listeners hold on to what they
/// use: deleting it is refused), so the list is empty.
pub(super) async fn list_consumers(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> KmResult {
    d.control
        .get_secret(&ctx.principal, &SecretId::new(id.as_str()))
        .await
        .map_err(fail)?;
    Ok(Json(json!({"consumers": [], "total": 0})).into_response())
}
