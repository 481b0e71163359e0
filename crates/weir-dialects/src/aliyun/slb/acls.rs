//! Access control lists (issue 16): `CreateAccessControlList`,
//! `AddAccessControlListEntry`, `RemoveAccessControlListEntry`,
//! `DescribeAccessControlLists`, `DescribeAccessControlListAttribute`,
//! `SetAccessControlListAttribute` (rename), `DeleteAccessControlList`,
//! over [`weir_core::acl`]; and a listener's `AclStatus` / `AclType` /
//! `AclId` ([`listener_acl`]), read by every listener create and by
//! `SetLoadBalancerHTTPSListenerAttribute`. Another project's ACL is not
//! found, as one that never was.

use super::*;
use weir_core::acl::{Acl, AclEntry, AclMode, IpVersion, ListenerAcl};

/// Entries one Add or Remove may name (SLB's bound per call).
const ENTRIES_PER_CALL: usize = 50;

fn not_found(id: &str) -> AliError {
    AliError::new(
        axum::http::StatusCode::NOT_FOUND,
        "AclNotExist",
        format!("The specified acl {id} does not exist."),
    )
}

/// SLB's words for what the core refuses of an ACL.
fn acl_error(id: &str, e: weir_control::ControlError) -> AliError {
    use weir_core::Error as E;
    if let weir_control::ControlError::Domain(domain) = &e {
        let bad = axum::http::StatusCode::BAD_REQUEST;
        match domain {
            E::NotFound {
                kind: weir_core::ResourceKind::Acl,
                ..
            } => return not_found(id),
            _ => {
                use weir_core::acl::Refusal as R;
                let code = match weir_core::acl::refusal(domain) {
                    Some(R::DuplicateEntry) => "InvalidParam.AclEntryExists",
                    Some(R::InUse) => "OperationFailed.AclBindedWithVip",
                    Some(R::WrongVersion) => "IllegalEntry",
                    None => return fail(e),
                };
                let message = match domain {
                    E::InvalidField { field, reason } => format!("{field}: {reason}"),
                    E::Conflict { reason } => reason.clone(),
                    other => other.to_string(),
                };
                return AliError::new(bad, code, message);
            }
        }
    }
    fail(e)
}

fn acl_id(call: &Call) -> Result<AclId, AliError> {
    Ok(AclId::new(call.params.req("AclId")?))
}

async fn get(call: &Call, id: &AclId) -> Result<Acl, AliError> {
    call.dialects
        .control
        .get_acl(&call.principal, id)
        .await
        .map_err(|e| acl_error(id.as_str(), e))
}

/// `ResourceGroupId` and tags are not kept: refused rather than dropped.
fn refuse_unkept(call: &Call) -> Result<(), AliError> {
    if call.params.opt("ResourceGroupId").is_some() {
        return Err(super::https::unsupported(
            "ResourceGroupId",
            "resource groups are not kept",
        ));
    }
    if call.params.any_prefixed("Tag.") {
        return Err(super::https::unsupported(
            "Tag",
            "tags on access control lists are not kept",
        ));
    }
    Ok(())
}

pub(super) async fn create(call: &Call) -> ActionResult {
    refuse_unkept(call)?;
    let p = &call.params;
    let name = p.req("AclName")?;
    if name.is_empty() {
        return Err(AliError::missing("AclName"));
    }
    let version = match p.opt("AddressIPVersion").unwrap_or("ipv4") {
        "ipv4" => IpVersion::V4,
        "ipv6" => IpVersion::V6,
        other => {
            return Err(AliError::invalid(format!(
                "The parameter AddressIPVersion is invalid: {other:?} is not ipv4 or ipv6."
            )))
        }
    };
    let made = call
        .dialects
        .control
        .create_acl(&call.principal, None, name.to_owned(), version)
        .await
        .map_err(fail)?;
    Ok(json!({"AclId": made.id.as_str()}))
}

/// One entry of `AclEntrys`: SLB's JSON list of `{entry, comment}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEntry {
    entry: String,
    #[serde(default)]
    comment: Option<String>,
}

/// `AclEntrys` as entries: a JSON list of at most [`ENTRIES_PER_CALL`].
fn entries(call: &Call) -> Result<Vec<AclEntry>, AliError> {
    let text = call.params.req("AclEntrys")?;
    let wire: Vec<WireEntry> = serde_json::from_str(text).map_err(|e| {
        AliError::invalid(format!(
            "The parameter AclEntrys is invalid: not a JSON list of {{\"entry\", \"comment\"}} ({e})."
        ))
    })?;
    if wire.is_empty() {
        return Err(AliError::invalid("The parameter AclEntrys names no entry."));
    }
    if wire.len() > ENTRIES_PER_CALL {
        return Err(AliError::invalid(format!(
            "The parameter AclEntrys names {} entries, more than the {ENTRIES_PER_CALL} one call may.",
            wire.len()
        )));
    }
    wire.into_iter()
        .enumerate()
        .map(|(i, w)| {
            let cidr = weir_core::acl::parse_entry(&format!("AclEntrys[{i}].entry"), &w.entry)
                .map_err(|e| AliError::invalid(format!("The parameter {e}.")))?;
            Ok(AclEntry {
                cidr,
                comment: w.comment.unwrap_or_default(),
            })
        })
        .collect()
}

pub(super) async fn add_entries(call: &Call) -> ActionResult {
    let id = acl_id(call)?;
    let list = entries(call)?;
    call.dialects
        .control
        .add_acl_entries(&call.principal, id.clone(), list)
        .await
        .map_err(|e| acl_error(id.as_str(), e))?;
    Ok(json!({}))
}

pub(super) async fn remove_entries(call: &Call) -> ActionResult {
    let id = acl_id(call)?;
    let cidrs = entries(call)?.into_iter().map(|e| e.cidr).collect();
    call.dialects
        .control
        .remove_acl_entries(&call.principal, id.clone(), cidrs)
        .await
        .map_err(|e| acl_error(id.as_str(), e))?;
    Ok(json!({}))
}

pub(super) async fn set_attribute(call: &Call) -> ActionResult {
    let id = acl_id(call)?;
    let name = call.params.req("AclName")?;
    if name.is_empty() {
        return Err(AliError::missing("AclName"));
    }
    call.dialects
        .control
        .rename_acl(&call.principal, id.clone(), name.to_owned())
        .await
        .map_err(|e| acl_error(id.as_str(), e))?;
    Ok(json!({}))
}

pub(super) async fn delete(call: &Call) -> ActionResult {
    let id = acl_id(call)?;
    call.dialects
        .control
        .delete_acl(&call.principal, id.clone())
        .await
        .map_err(|e| acl_error(id.as_str(), e))?;
    Ok(json!({}))
}

/// Page `number` of `size` (`PageNumber`/`Page` from 1, sizes 1-`max`).
fn page(
    call: &Call,
    number: &str,
    default: i64,
    max: i64,
) -> Result<(usize, usize, i64, i64), AliError> {
    let n = call.params.int(number)?.unwrap_or(1);
    let size = call.params.int("PageSize")?.unwrap_or(default);
    if n < 1 || !(1..=max).contains(&size) {
        return Err(AliError::invalid(format!(
            "{number} starts at 1 and PageSize is 1-{max}."
        )));
    }
    let skip = usize::try_from((n - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    Ok((skip, usize::try_from(size).unwrap_or(0), n, size))
}

pub(super) async fn describe(call: &Call) -> ActionResult {
    refuse_unkept(call)?;
    let p = &call.params;
    let (skip, take, number, size) = page(call, "PageNumber", 50, 100)?;
    let chosen: Vec<Acl> = call
        .dialects
        .control
        .list_acls(&call.principal)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|a| p.opt("AclName").is_none_or(|n| a.name == n))
        .filter(|a| {
            p.opt("AddressIPVersion")
                .is_none_or(|v| v == a.ip_version.as_str())
        })
        .collect();
    let acls: Vec<Value> = chosen
        .iter()
        .skip(skip)
        .take(take)
        .map(|a| {
            json!({
                "AclId": a.id.as_str(),
                "AclName": a.name,
                "AddressIPVersion": a.ip_version.as_str(),
                "CreateTime": time_fields(a.created_at).0,
            })
        })
        .collect();
    Ok(json!({
        "TotalCount": chosen.len(),
        "Count": acls.len(),
        "PageNumber": number,
        "PageSize": size,
        "Acls": {"Acl": acls},
    }))
}

pub(super) async fn describe_attribute(call: &Call) -> ActionResult {
    let id = acl_id(call)?;
    let (skip, take, _, _) = page(call, "Page", 300, 300)?;
    let acl = get(call, &id).await?;
    let users = call
        .dialects
        .control
        .acl_listeners(&call.principal, &id)
        .await
        .map_err(|e| acl_error(id.as_str(), e))?;
    let comment = call.params.opt("AclEntryComment");
    let chosen: Vec<&AclEntry> = acl
        .entries
        .iter()
        .filter(|e| comment.is_none_or(|c| e.comment == c))
        .collect();
    let entries: Vec<Value> = chosen
        .iter()
        .skip(skip)
        .take(take)
        .map(|e| json!({"AclEntryIP": e.cidr.to_string(), "AclEntryComment": e.comment}))
        .collect();
    let related: Vec<Value> = users
        .iter()
        .map(|l| {
            json!({
                "LoadBalancerId": l.lb_id.as_str(),
                "ListenerPort": l.single_port(),
                "Protocol": l.protocol.as_str(),
                "AclType": l.acl.as_ref().map(|a| acl_type_name(a.mode)),
                // Weir's addition: a listener naming the list with it
                // switched off (a Huawei whitelist) admits everyone.
                "AclStatus": if l.acl.as_ref().is_some_and(|a| a.enabled) { "on" } else { "off" },
            })
        })
        .collect();
    Ok(json!({
        "AclId": acl.id.as_str(),
        "AclName": acl.name,
        "AddressIPVersion": acl.ip_version.as_str(),
        "CreateTime": time_fields(acl.created_at).0,
        "TotalAclEntry": chosen.len(),
        "AclEntrys": {"AclEntry": entries},
        "RelatedListeners": {"RelatedListener": related},
    }))
}

fn acl_type_name(mode: AclMode) -> &'static str {
    match mode {
        AclMode::Allow => "white",
        AclMode::Deny => "black",
    }
}

/// A listener's `AclStatus`, `AclType`, `AclId`: `None` when none came
/// (unchanged); `Some(None)`: off. `current` is the listener's ACL on
/// Set (an `AclType` or `AclId` alone changes that part of it), `None`
/// on create. On needs an ACL and a type; either without on (and no ACL
/// already on) is refused rather than dropped.
pub(super) fn listener_acl(
    call: &Call,
    current: Option<&ListenerAcl>,
) -> Result<Option<Option<ListenerAcl>>, AliError> {
    AclParams::read(call)?.merge(current)
}

/// The ACL parameters of a call, read before the listener is: a Set
/// merges them into the listener's ACL inside the writer's transaction
/// ([`AclParams::merge`]), so a concurrent Set's part is not lost.
#[derive(Clone)]
pub(super) struct AclParams {
    status: Option<bool>,
    mode: Option<AclMode>,
    id: Option<AclId>,
}

impl AclParams {
    pub(super) fn read(call: &Call) -> Result<Self, AliError> {
        let p = &call.params;
        let status = match p.opt("AclStatus") {
            None => None,
            Some("on") => Some(true),
            Some("off") => Some(false),
            Some(other) => {
                return Err(AliError::invalid(format!(
                    "The parameter AclStatus is invalid: {other:?} is not on or off."
                )))
            }
        };
        let mode = match p.opt("AclType") {
            None => None,
            Some("white") => Some(AclMode::Allow),
            Some("black") => Some(AclMode::Deny),
            Some(other) => {
                return Err(AliError::invalid(format!(
                    "The parameter AclType is invalid: {other:?} is not white or black."
                )))
            }
        };
        let id = p.opt("AclId").map(AclId::new);
        Ok(Self { status, mode, id })
    }

    /// See [`listener_acl`].
    pub(super) fn merge(
        self,
        current: Option<&ListenerAcl>,
    ) -> Result<Option<Option<ListenerAcl>>, AliError> {
        let Self { status, mode, id } = self;
        match (status, current) {
            (Some(false), _) => Ok(Some(None)),
            (Some(true), _) | (None, Some(_))
                if id.is_some() || mode.is_some() || status.is_some() =>
            {
                let acl_id = id
                    .or_else(|| current.map(|c| c.acl_id.clone()))
                    .ok_or_else(|| AliError::missing("AclId"))?;
                let mode = mode
                    .or_else(|| current.map(|c| c.mode))
                    .ok_or_else(|| AliError::missing("AclType"))?;
                // On applies the list; an `AclType` or `AclId` alone keeps
                // a list switched off (another dialect's) off.
                let enabled = status.unwrap_or_else(|| current.is_none_or(|c| c.enabled));
                Ok(Some(Some(ListenerAcl {
                    acl_id,
                    mode,
                    enabled,
                })))
            }
            (None, _) if id.is_some() || mode.is_some() => Err(AliError::invalid(
                "The parameters AclId and AclType need AclStatus=on.",
            )),
            _ => Ok(None),
        }
    }
}

/// What `Describe*ListenerAttribute` shows of a listener's ACL.
pub(super) fn listener_view(l: &Listener, out: &mut Value) {
    match &l.acl {
        None => out["AclStatus"] = json!("off"),
        // A list named but switched off (a Huawei whitelist) reads off,
        // since it admits everyone, and keeps its type and id, as SLB
        // shows a list switched off.
        Some(a) => {
            out["AclStatus"] = json!(if a.enabled { "on" } else { "off" });
            out["AclType"] = json!(acl_type_name(a.mode));
            out["AclId"] = json!(a.acl_id.as_str());
        }
    }
}
