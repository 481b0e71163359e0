//! A listener's own access control list: a list made for one listener
//! and applied as its allow list, switched on and off without losing its
//! entries (Huawei ELB v2's whitelists: one per listener,
//! `enable_whitelist`, `whitelist`).
//!
//! It is an ordinary [`Acl`] of the listener's project, so every dialect
//! sees it (Aliyun's `DescribeAccessControlLists`, `/v1/acls`), named by
//! the listener in [`AclMode::Allow`] with [`ListenerAcl::enabled`]. A
//! listener that already names a list (allow or deny) gets no second one:
//! a listener applies one ACL. Entries are replaced whole, held to the
//! same rules as [`plan_add_entries`].

use std::net::IpAddr;

use ipnet::IpNet;

use super::{plan_acl, plan_add_entries, Acl, AclEntry, AclMode, IpVersion, ListenerAcl};
use crate::ids::AclId;
use crate::model::Listener;
use crate::settings::Limits;
use crate::{Error, Timestamp};

/// The name of the list made for `listener` (shown by the dialects that
/// list ACLs).
pub fn listener_list_name(listener: &Listener) -> String {
    format!("listener {}", listener.id)
}

/// The allow list a listener applies, or keeps switched off: what Huawei
/// calls its whitelist. A deny list is not one.
pub fn allow_list(listener: &Listener) -> Option<&ListenerAcl> {
    listener.acl.as_ref().filter(|a| a.mode == AclMode::Allow)
}

/// `entries` as a fresh set of entries of `current` (comments of the
/// networks it keeps are kept); the rules of [`plan_add_entries`].
pub fn plan_replace_entries(
    current: &Acl,
    entries: &[IpNet],
    limits: &Limits,
    now: Timestamp,
) -> Result<Acl, Error> {
    let mut empty = current.clone();
    empty.entries.clear();
    empty.updated_at = now;
    if entries.is_empty() {
        return Ok(empty);
    }
    let wanted: Vec<AclEntry> = entries
        .iter()
        .map(|cidr| AclEntry {
            cidr: *cidr,
            comment: current
                .entries
                .iter()
                .find(|e| e.cidr == *cidr)
                .map(|e| e.comment.clone())
                .unwrap_or_default(),
        })
        .collect();
    plan_add_entries(&empty, &wanted, limits, now)
}

/// A list made for `listener` (of a load balancer on `vip`) with
/// `entries`, and the listener naming it; the project holds
/// `existing_acls` lists already. A listener naming an ACL already is a
/// conflict.
#[allow(clippy::too_many_arguments)]
pub fn plan_listener_list(
    listener: &Listener,
    vip: IpAddr,
    entries: &[IpNet],
    enabled: bool,
    existing_acls: usize,
    limits: &Limits,
    id: AclId,
    now: Timestamp,
) -> Result<(Acl, Listener), Error> {
    if let Some(named) = &listener.acl {
        return Err(Error::conflict(format!(
            "listener {} already applies access control list {}: a listener has one",
            listener.id, named.acl_id
        )));
    }
    let version = if vip.to_canonical().is_ipv4() {
        IpVersion::V4
    } else {
        IpVersion::V6
    };
    let made = plan_acl(
        &listener.project_id,
        &listener_list_name(listener),
        version,
        existing_acls,
        limits,
        id,
        now,
    )?;
    let made = plan_replace_entries(&made, entries, limits, now)?;
    let mut next = listener.clone();
    next.acl = Some(ListenerAcl {
        acl_id: made.id.clone(),
        mode: AclMode::Allow,
        enabled,
    });
    next.updated_at = now;
    Ok((made, next))
}

/// `listener` applying its list or not; unchanged when it already does
/// what is asked.
pub fn plan_list_enabled(listener: &Listener, enabled: bool, now: Timestamp) -> Listener {
    let mut next = listener.clone();
    if let Some(named) = next.acl.as_mut() {
        if named.enabled != enabled {
            named.enabled = enabled;
            next.updated_at = now;
        }
    }
    next
}

/// `listener` without its list; the list itself goes too when no other
/// listener (of `others`, which may hold `listener`) names it, so a
/// whitelist removed leaves nothing behind.
pub fn plan_list_removal(
    listener: &Listener,
    others: &[Listener],
    now: Timestamp,
) -> (Listener, Option<AclId>) {
    let mut next = listener.clone();
    let dropped = next.acl.take().map(|a| a.acl_id);
    next.updated_at = now;
    let orphan = dropped.filter(|id| {
        !others
            .iter()
            .any(|o| o.id != listener.id && o.acl.as_ref().is_some_and(|a| &a.acl_id == id))
    });
    (next, orphan)
}
