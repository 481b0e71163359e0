//! Access control lists (issue 16): named sets of client networks a
//! project keeps apart from its listeners (Aliyun's
//! `CreateAccessControlList`), and the rule a listener that names one
//! applies at accept: allow (only these networks) or deny (all but these).
//!
//! An ACL is of one IP version and holds at most
//! `limits.acl_entries_per_acl` entries; a project holds at most
//! `limits.acls_per_project`. Entries are networks written without host
//! bits (`10.0.0.5/24` is refused, naming `10.0.0.0/24`, because a tenant
//! who wrote it may have meant the one host as easily as the network) or
//! single addresses; one network is never in a list twice. A listener's
//! ACL is its project's and of its VIP's family ([`check_attach`]), and an
//! ACL a listener names is not deleted ([`check_delete`]).
//!
//! The data plane runs [`AclRule`]: the entries merged into sorted,
//! disjoint address intervals, so an accept costs one binary search
//! whatever the list's length. A listener's own `allowed_cidrs` still
//! apply: a client must pass both ([`client_admitted`]).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::QuotaKind;
use crate::ids::{AclId, ListenerId, ProjectId};
use crate::model::{Listener, Owned};
use crate::settings::Limits;
use crate::{Error, ResourceKind, Timestamp};

/// Longest ACL name (Aliyun allows 80; room for other dialects' names).
pub const MAX_NAME_LEN: usize = 255;
/// Longest entry comment (Aliyun's bound).
pub const MAX_COMMENT_LEN: usize = 100;

/// The family of an ACL's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V4 => "ipv4",
            Self::V6 => "ipv6",
        }
    }

    /// `ipv4` / `ipv6`, any case.
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        match text.to_ascii_lowercase().as_str() {
            "ipv4" => Ok(Self::V4),
            "ipv6" => Ok(Self::V6),
            _ => Err(Error::invalid(
                field,
                format!("{text:?} is not ipv4 or ipv6"),
            )),
        }
    }

    fn of(addr: IpAddr) -> Self {
        if addr.is_ipv4() {
            Self::V4
        } else {
            Self::V6
        }
    }
}

/// How a listener applies its ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclMode {
    /// Only clients inside an entry connect (a whitelist).
    Allow,
    /// Clients inside an entry are refused (a blacklist).
    Deny,
}

impl AclMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        match text {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(Error::invalid(
                field,
                format!("{text:?} is not allow or deny"),
            )),
        }
    }
}

/// One network of an ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub cidr: IpNet,
    pub comment: String,
}

/// An access control list of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub id: AclId,
    pub project_id: ProjectId,
    pub name: String,
    pub ip_version: IpVersion,
    /// In the order they were added.
    pub entries: Vec<AclEntry>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Owned for Acl {
    fn owner(&self) -> &ProjectId {
        &self.project_id
    }
}

/// The ACL a listener names and how it applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerAcl {
    pub acl_id: AclId,
    pub mode: AclMode,
    /// Off: named but not applied (Huawei's `enable_whitelist: false`,
    /// which keeps the list for later); every other dialect names an ACL
    /// to apply it.
    pub enabled: bool,
}

impl ListenerAcl {
    /// An ACL named to be applied.
    pub fn applied(acl_id: AclId, mode: AclMode) -> Self {
        Self {
            acl_id,
            mode,
            enabled: true,
        }
    }
}

fn check_text(field: &str, text: &str, max: usize) -> Result<(), Error> {
    if text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(field, "control characters are not allowed"));
    }
    Ok(())
}

/// Checks an ACL name: at most [`MAX_NAME_LEN`] characters, no control
/// characters.
pub fn check_name(name: &str) -> Result<(), Error> {
    check_text("name", name, MAX_NAME_LEN)
}

/// A new ACL of `project`, which holds `existing` already.
pub fn plan_acl(
    project: &ProjectId,
    name: &str,
    ip_version: IpVersion,
    existing: usize,
    limits: &Limits,
    id: AclId,
    now: Timestamp,
) -> Result<Acl, Error> {
    check_name(name)?;
    Limits::room_for_one(QuotaKind::AclsPerProject, existing, limits.acls_per_project)?;
    Ok(Acl {
        id,
        project_id: project.clone(),
        name: name.to_owned(),
        ip_version,
        entries: Vec::new(),
        created_at: now,
        updated_at: now,
    })
}

/// A renamed ACL.
pub fn plan_rename(current: &Acl, name: &str, now: Timestamp) -> Result<Acl, Error> {
    check_name(name)?;
    let mut next = current.clone();
    if next.name != name {
        next.name = name.to_owned();
        next.updated_at = now;
    }
    Ok(next)
}

/// Parses one entry from the wire: a network without host bits, or a
/// single address (one host).
pub fn parse_entry(field: &str, text: &str) -> Result<IpNet, Error> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    let net = text.parse::<IpNet>().map_err(|_| {
        Error::invalid(
            field,
            format!("{text:?} is not a network (address/prefix) or an address"),
        )
    })?;
    if net.trunc() != net {
        return Err(Error::invalid(
            field,
            format!(
                "{net} has host bits set: write the network {} or the address {}",
                net.trunc(),
                net.addr()
            ),
        ));
    }
    Ok(net)
}

/// Adds `entries` to an ACL: each of its IP version, none already in it
/// or named twice, comments bounded, the total within
/// `limits.acl_entries_per_acl`. All or nothing.
pub fn plan_add_entries(
    current: &Acl,
    entries: &[AclEntry],
    limits: &Limits,
    now: Timestamp,
) -> Result<Acl, Error> {
    let total = current.entries.len().saturating_add(entries.len());
    if total > limits.acl_entries_per_acl {
        return Err(Error::QuotaExceeded {
            kind: QuotaKind::AclEntriesPerAcl,
            limit: limits.acl_entries_per_acl,
            requested: total,
        });
    }
    if entries.is_empty() {
        return Err(Error::invalid("entries", "name at least one entry"));
    }
    let mut next = current.clone();
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("entries[{i}]");
        let net = entry.cidr;
        if net.trunc() != net {
            return Err(Error::invalid(
                &field,
                format!("{net} has host bits set: write the network {}", net.trunc()),
            ));
        }
        if IpVersion::of(net.addr()) != current.ip_version {
            return Err(Error::invalid(
                &field,
                format!(
                    "{net} is not an {} network {WRONG_VERSION}",
                    current.ip_version.as_str()
                ),
            ));
        }
        check_text(&format!("{field}.comment"), &entry.comment, MAX_COMMENT_LEN)?;
        if next.entries.iter().any(|e| e.cidr == net) {
            return Err(Error::conflict(format!(
                "{net} {DUPLICATE_ENTRY} {}",
                current.id
            )));
        }
        next.entries.push(entry.clone());
    }
    next.updated_at = now;
    Ok(next)
}

/// Removes entries by network; each must be in the ACL. All or nothing.
pub fn plan_remove_entries(current: &Acl, cidrs: &[IpNet], now: Timestamp) -> Result<Acl, Error> {
    if cidrs.is_empty() {
        return Err(Error::invalid("entries", "name at least one entry"));
    }
    let mut next = current.clone();
    for (i, net) in cidrs.iter().enumerate() {
        let before = next.entries.len();
        next.entries.retain(|e| e.cidr != *net);
        if next.entries.len() == before {
            return Err(Error::invalid(
                format!("entries[{i}]"),
                format!("{net} is not an entry of ACL {}", current.id),
            ));
        }
    }
    next.updated_at = now;
    Ok(next)
}

/// Whether a listener of `project` on `vip` may name `acl` (`found`: the
/// ACL as read, if any). Another project's ACL is not found.
pub fn check_attach<'a>(
    project: &ProjectId,
    vip: IpAddr,
    wanted: &ListenerAcl,
    found: Option<&'a Acl>,
) -> Result<&'a Acl, Error> {
    let acl = found
        .filter(|a| &a.project_id == project)
        .ok_or_else(|| Error::not_found(ResourceKind::Acl, &wanted.acl_id))?;
    if IpVersion::of(vip.to_canonical()) != acl.ip_version {
        return Err(Error::invalid(
            "acl_id",
            format!(
                "ACL {} is {}, the load balancer's VIP {vip} is not",
                acl.id,
                acl.ip_version.as_str()
            ),
        ));
    }
    Ok(acl)
}

/// Words of the refusals below that a dialect with its own code for each
/// case tells apart by [`refusal`]; kept here, beside the messages.
const DUPLICATE_ENTRY: &str = "is already an entry of ACL";
const IN_USE: &str = "is in use by listener";
const WRONG_VERSION: &str = "(the ACL's IP version)";

/// The ACL refusals a dialect may name apart from the generic ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An entry the ACL already has.
    DuplicateEntry,
    /// Deleting an ACL a listener names.
    InUse,
    /// An entry of the other IP version.
    WrongVersion,
}

/// Which of [`Refusal`] `e` is, if any (an error of this module's rules).
pub fn refusal(e: &Error) -> Option<Refusal> {
    match e {
        Error::Conflict { reason } if reason.contains(DUPLICATE_ENTRY) => {
            Some(Refusal::DuplicateEntry)
        }
        Error::Conflict { reason } if reason.contains(IN_USE) => Some(Refusal::InUse),
        Error::InvalidField { field, reason }
            if field.starts_with("entries[") && reason.contains(WRONG_VERSION) =>
        {
            Some(Refusal::WrongVersion)
        }
        _ => None,
    }
}

/// An ACL some listener names is not deleted (409).
pub fn check_delete(acl: &Acl, users: &[Listener]) -> Result<(), Error> {
    match users.first() {
        None => Ok(()),
        Some(l) => Err(Error::conflict(format!(
            "ACL {} {IN_USE} {}{}",
            acl.id,
            l.id,
            if users.len() > 1 {
                format!(" and {} more", users.len() - 1)
            } else {
                String::new()
            }
        ))),
    }
}

/// The listeners of `listeners` that name `acl`.
pub fn users<'a>(acl: &AclId, listeners: &'a [Listener]) -> Vec<&'a Listener> {
    listeners
        .iter()
        .filter(|l| l.acl.as_ref().is_some_and(|a| &a.acl_id == acl))
        .collect()
}

/// The ids of listeners naming `acl`, for the change log.
pub fn user_ids(acl: &AclId, listeners: &[Listener]) -> Vec<ListenerId> {
    users(acl, listeners)
        .into_iter()
        .map(|l| l.id.clone())
        .collect()
}

/// A listener's ACL as the data plane runs it: the entries as sorted,
/// disjoint, inclusive address intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    pub mode: AclMode,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn merged<T: Ord + Copy>(mut spans: Vec<(T, T)>, next: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    spans.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(spans.len());
    for (lo, hi) in spans {
        match out.last_mut() {
            // Overlapping or adjacent: one interval.
            Some(last) if next(last.1).is_none_or(|n| lo <= n) => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn inside<T: Ord + Copy>(spans: &[(T, T)], x: T) -> bool {
    let i = spans.partition_point(|&(lo, _)| lo <= x);
    i > 0 && spans[i - 1].1 >= x
}

impl AclRule {
    /// Compiles an ACL's entries.
    pub fn compile(acl: &Acl, mode: AclMode) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for e in &acl.entries {
            match e.cidr {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Self {
            mode,
            v4: merged(v4, |x| x.checked_add(1)),
            v6: merged(v6, |x| x.checked_add(1)),
        }
    }

    /// Whether an entry holds `client` (an IPv4-mapped address as IPv4).
    pub fn listed(&self, client: IpAddr) -> bool {
        match client.to_canonical() {
            IpAddr::V4(a) => inside(&self.v4, u32::from(a)),
            IpAddr::V6(a) => inside(&self.v6, u128::from(a)),
        }
    }

    /// Whether the rule lets `client` connect.
    pub fn admits(&self, client: IpAddr) -> bool {
        self.listed(client) == (self.mode == AclMode::Allow)
    }
}

/// The check at accept: the listener's own allow list (empty: any) and
/// its ACL's rule, when it names one.
pub fn client_admitted(allowed: &[IpNet], acl: Option<&AclRule>, client: IpAddr) -> bool {
    crate::limits::client_allowed(allowed, client) && acl.is_none_or(|r| r.admits(client))
}

mod listener;
pub use listener::*;

#[cfg(test)]
mod tests;
