//! `/containers`: certificate and generic containers of a project's
//! secrets: create, list, show, delete, and the (empty) consumer list.

use axum::extract::{Path, Query, State};
use axum::Extension;
use serde::Deserialize;
use weir_core::ids::{ContainerId, SecretId};
use weir_core::keymgr::{Container, ContainerKind, NewContainer};

use super::*;
use crate::lbaas::Ctx;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRefBody {
    name: Option<String>,
    secret_ref: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateContainer {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    secret_refs: Vec<SecretRefBody>,
}

fn container_view(headers: &HeaderMap, c: &Container) -> Value {
    json!({
        "container_ref": container_href(headers, c.id.as_str()),
        "name": if c.name.is_empty() { Value::Null } else { json!(c.name) },
        "type": c.kind.as_str(),
        "status": "ACTIVE",
        "secret_refs": c.secret_refs.iter().map(|(name, id)| json!({
            "name": name,
            "secret_ref": secret_href(headers, id.as_str()),
        })).collect::<Vec<_>>(),
        "consumers": [],
        "created": c.created_at.to_string(),
        "updated": c.created_at.to_string(),
        "creator_id": c.project_id.as_str(),
    })
}

pub(super) async fn create_container(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Body,
) -> KmResult {
    let raw = read_body(body).await?;
    let req: CreateContainer = json_body(&raw)?;
    let kind = ContainerKind::parse(req.kind.as_deref().unwrap_or("generic"))
        .map_err(|e| KmError::from_control(e.into()))?;
    let mut refs = Vec::with_capacity(req.secret_refs.len());
    for (i, r) in req.secret_refs.iter().enumerate() {
        let id = secret_id_of(&headers, &r.secret_ref).ok_or_else(|| {
            KmError::bad_request(format!(
                "secret_refs[{i}]: {} is not a secret of this key manager",
                r.secret_ref
            ))
        })?;
        refs.push((r.name.clone().unwrap_or_default(), SecretId::new(id)));
    }
    let made = d
        .control
        .create_container(
            &ctx.principal,
            NewContainer {
                name: req.name,
                kind,
                secret_refs: refs,
            },
        )
        .await
        .map_err(fail)?;
    let href = container_href(&headers, made.id.as_str());
    Ok(created(href.clone(), json!({"container_ref": href})))
}

pub(super) async fn list_containers(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> KmResult {
    check_filters(&q, &["name", "type"])?;
    let paging = Paging::from_query(&q)?;
    let wanted = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let items: Vec<Value> = d
        .control
        .list_containers(&ctx.principal)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|c| wanted("name").is_none_or(|n| c.name == n))
        .filter(|c| wanted("type").is_none_or(|t| c.kind.as_str() == t))
        .map(|c| container_view(&headers, &c))
        .collect();
    let base = format!("{}/containers", api_base(&headers));
    Ok(Json(paging.page(items, "containers", &base)).into_response())
}

pub(super) async fn show_container(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> KmResult {
    let c = d
        .control
        .get_container(&ctx.principal, &ContainerId::new(id))
        .await
        .map_err(fail)?;
    Ok(Json(container_view(&headers, &c)).into_response())
}

pub(super) async fn delete_container(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> KmResult {
    d.control
        .delete_container(&ctx.principal, ContainerId::new(id))
        .await
        .map_err(fail)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_consumers(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> KmResult {
    d.control
        .get_container(&ctx.principal, &ContainerId::new(id))
        .await
        .map_err(fail)?;
    Ok(Json(json!({"consumers": [], "total": 0})).into_response())
}
