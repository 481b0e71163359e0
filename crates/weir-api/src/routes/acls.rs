//! Access control lists ([`weir_core::acl`]): a project's lists of client
//! networks and their entries; a listener names one with `acl_id` and
//! `acl_mode` (`allow` or `deny`).

use weir_core::acl::{AclEntry, AclMode, IpVersion, ListenerAcl};

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateAcl {
    /// The operator names the project; a project may name its own.
    project_id: Option<String>,
    name: String,
    /// `ipv4` (default) or `ipv6`.
    ip_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchAcl {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EntryBody {
    cidr: String,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddEntries {
    entries: Vec<EntryBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RemoveEntries {
    cidrs: Vec<String>,
}

pub(super) async fn create_acl(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateAcl>,
) -> ApiResult {
    let version = match req.ip_version.as_deref() {
        None => IpVersion::V4,
        Some(v) => IpVersion::parse("ip_version", v)?,
    };
    let made = c
        .create_acl(&p, req.project_id.map(ProjectId::new), req.name, version)
        .await?;
    created(AclView::from(&made))
}

pub(super) async fn list_acls(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let list = c.list_acls(&p).await?;
    ok(json!({"acls": views::<_, AclView>(&list)}))
}

pub(super) async fn get_acl(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(AclView::from(&c.get_acl(&p, &AclId::new(id)).await?))
}

pub(super) async fn update_acl(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchAcl>,
) -> ApiResult {
    ok(AclView::from(
        &c.rename_acl(&p, AclId::new(id), req.name).await?,
    ))
}

pub(super) async fn delete_acl(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_acl(&p, AclId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn add_acl_entries(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<AddEntries>,
) -> ApiResult {
    let entries = req
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(AclEntry {
                cidr: weir_core::acl::parse_entry(&format!("entries[{i}].cidr"), &e.cidr)?,
                comment: e.comment,
            })
        })
        .collect::<Result<Vec<_>, weir_core::Error>>()?;
    ok(AclView::from(
        &c.add_acl_entries(&p, AclId::new(id), entries).await?,
    ))
}

pub(super) async fn remove_acl_entries(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RemoveEntries>,
) -> ApiResult {
    let cidrs = req
        .cidrs
        .iter()
        .enumerate()
        .map(|(i, text)| weir_core::acl::parse_entry(&format!("cidrs[{i}]"), text))
        .collect::<Result<Vec<_>, _>>()?;
    ok(AclView::from(
        &c.remove_acl_entries(&p, AclId::new(id), cidrs).await?,
    ))
}

/// A listener's `acl_id` and `acl_mode`: both or neither.
pub(super) fn listener_acl(
    acl_id: Option<String>,
    acl_mode: Option<String>,
) -> Result<Option<ListenerAcl>, weir_core::Error> {
    match (acl_id, acl_mode) {
        (None, None) => Ok(None),
        (Some(id), Some(mode)) => Ok(Some(ListenerAcl::applied(
            AclId::new(id),
            AclMode::parse("acl_mode", &mode)?,
        ))),
        (Some(_), None) => Err(weir_core::Error::invalid(
            "acl_mode",
            "name allow or deny with acl_id",
        )),
        (None, Some(_)) => Err(weir_core::Error::invalid(
            "acl_id",
            "acl_mode needs the acl_id it applies",
        )),
    }
}
