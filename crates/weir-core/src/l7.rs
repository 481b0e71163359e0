//! L7 policies and rules of HTTP listeners (Octavia's `/l7policies`):
//! the model, every validation rule, the position arithmetic, and the
//! compiled [`matcher`] the HTTP engine evaluates per request.
//!
//! A policy belongs to one HTTP listener and says what to do with a request
//! its rules all match (AND): forward to a server group of the same load
//! balancer, redirect (to a URL, or to a prefix with the request's path and
//! query appended), or reject with 403. Rules compare one part of the
//! request (host without port, path without query, the path's file
//! extension, a header, a cookie) by regex, prefix, suffix, substring or
//! equality, optionally inverted.
//!
//! Octavia's semantics, kept on purpose:
//! - positions are 1-based and dense: inserting at a position shifts the
//!   policies from there on down, a position past the end appends, moving
//!   or deleting one closes the gap ([`place`]);
//! - a policy without enabled rules never matches, a disabled policy or
//!   rule is kept but not evaluated;
//! - REJECT policies are evaluated first, then redirects, then
//!   REDIRECT_TO_POOL, each class by position (HAProxy, which Octavia
//!   renders into, runs `http-request` rules before `use_backend`); first
//!   match wins; no match is the listener's default pool.
//!
//! Limits (Weir's; Octavia leaves them to quotas): [`MAX_POLICIES`] per
//! listener, [`MAX_RULES_PER_POLICY`] per policy and [`MAX_RULES`] per
//! listener in all (the matcher keeps one bit per rule on the stack), values
//! and keys at most 255 bytes (Octavia's columns), every regex compiled
//! here with [`REGEX_SIZE_LIMIT`] and a nesting limit, and the patterns of
//! one subject of a listener within [`matcher::SET_BUDGET`] together
//! ([`matcher::check_budget`]), so a tenant cannot make the data plane
//! build a huge automaton or run a long NFA pass per request. The `regex` crate matches in
//! linear time (no backtracking), so no pattern is catastrophic at run
//! time.

pub mod matcher;
mod rules;
#[cfg(test)]
mod tests;

use rules::build_rule;
pub use rules::{check_key, compile_regex, plain_value};

use std::fmt;
use std::str::FromStr;

use crate::group::is_server_group;
use crate::ids::*;
use crate::inventory::{validate_description, validate_name};
use crate::model::{Listener, LoadBalancer, Owned, Pool, PoolProtocol, Protocol};
use crate::{Error, Timestamp};

/// Most policies on one listener.
pub const MAX_POLICIES: usize = 100;
/// Most rules in one policy.
pub const MAX_RULES_PER_POLICY: usize = 100;
/// Most rules on one listener, over all its policies (the bench's top
/// figure; the matcher's per-request bit set is sized for it).
pub const MAX_RULES: usize = 1000;
/// Longest rule value, header or cookie name, redirect URL or prefix.
pub const MAX_VALUE_LEN: usize = 255;
/// Compiled size bound of one rule's regex (the `regex` crate's
/// `size_limit`, bytes of its NFA). Generous for real routing patterns
/// (`^/api/v[0-9]+/` takes a few KiB; a Unicode class such as `\w` takes
/// more), small enough that a listener's thousand rules stay bounded.
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// Deepest nesting of groups and repetitions in a rule's regex.
pub const REGEX_NEST_LIMIT: u32 = 32;

/// Macro-free small enums with a wire name each (the model's style).
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            /// Every accepted wire name.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)* _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// What a policy does with a request it matches, by kind.
    ActionKind {
        RedirectToPool = "redirect-to-pool",
        RedirectToUrl = "redirect-to-url",
        RedirectPrefix = "redirect-prefix",
        Reject = "reject"
    }
);
named_enum!(
    /// What part of a request a rule reads.
    RuleType {
        HostName = "host-name",
        Path = "path",
        FileType = "file-type",
        Header = "header",
        Cookie = "cookie"
    }
);
named_enum!(
    /// How a rule compares.
    CompareType {
        Regex = "regex",
        StartsWith = "starts-with",
        EndsWith = "ends-with",
        Contains = "contains",
        EqualTo = "equal-to"
    }
);

/// The status codes a redirect may answer with (Octavia API 2.9).
pub const REDIRECT_CODES: [u16; 5] = [301, 302, 303, 307, 308];
/// A redirect's code when none is given.
pub const DEFAULT_REDIRECT_CODE: u16 = 302;

/// What a policy does with a request it matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum L7Action {
    /// Forward to a server group of the listener's load balancer.
    RedirectToPool { pool_id: PoolId },
    /// Answer `code` with `Location: url`.
    RedirectToUrl { url: String, code: u16 },
    /// Answer `code` with `Location:` the prefix, then the request's path
    /// and query.
    RedirectPrefix { prefix: String, code: u16 },
    /// Answer 403.
    Reject,
}

impl L7Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::RedirectToPool { .. } => ActionKind::RedirectToPool,
            Self::RedirectToUrl { .. } => ActionKind::RedirectToUrl,
            Self::RedirectPrefix { .. } => ActionKind::RedirectPrefix,
            Self::Reject => ActionKind::Reject,
        }
    }

    pub fn pool_id(&self) -> Option<&PoolId> {
        match self {
            Self::RedirectToPool { pool_id } => Some(pool_id),
            _ => None,
        }
    }

    pub fn redirect_url(&self) -> Option<&str> {
        match self {
            Self::RedirectToUrl { url, .. } => Some(url),
            _ => None,
        }
    }

    pub fn redirect_prefix(&self) -> Option<&str> {
        match self {
            Self::RedirectPrefix { prefix, .. } => Some(prefix),
            _ => None,
        }
    }

    /// The status code of a redirect; `None` for the other actions.
    pub fn redirect_code(&self) -> Option<u16> {
        match self {
            Self::RedirectToUrl { code, .. } | Self::RedirectPrefix { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// An L7 policy of a listener, with its rules (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L7Policy {
    pub id: L7PolicyId,
    pub project_id: ProjectId,
    pub lb_id: LoadBalancerId,
    pub listener_id: ListenerId,
    pub name: String,
    pub description: String,
    /// 1-based and dense among the listener's policies.
    pub position: u32,
    pub action: L7Action,
    /// false: kept, not evaluated (Octavia `admin_state_up`).
    pub enabled: bool,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub rules: Vec<L7Rule>,
}

/// A rule of an L7 policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct L7Rule {
    pub id: L7RuleId,
    pub project_id: ProjectId,
    pub policy_id: L7PolicyId,
    pub rule_type: RuleType,
    pub compare_type: CompareType,
    /// The header or cookie name (HEADER and COOKIE only).
    pub key: Option<String>,
    pub value: String,
    /// Matches when the comparison fails (a missing header included).
    pub invert: bool,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Owned for L7Policy {
    fn owner(&self) -> &ProjectId {
        &self.project_id
    }
}

impl Owned for L7Rule {
    fn owner(&self) -> &ProjectId {
        &self.project_id
    }
}

/// The action fields of a create or update request, as sent: `None` is
/// absent, `Some(None)` an explicit null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionSpec {
    pub action: Option<String>,
    pub redirect_pool_id: Option<Option<String>>,
    pub redirect_url: Option<Option<String>>,
    pub redirect_prefix: Option<Option<String>>,
    pub redirect_http_code: Option<Option<u16>>,
}

/// A policy to create, with its first rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewL7Policy {
    pub name: String,
    pub description: String,
    pub action: ActionSpec,
    /// `None` appends.
    pub position: Option<u64>,
    pub disabled: bool,
    pub tags: Vec<String>,
    pub rules: Vec<NewL7Rule>,
}

/// A rule to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewL7Rule {
    pub rule_type: String,
    pub compare_type: String,
    pub key: Option<String>,
    pub value: String,
    pub invert: bool,
    pub disabled: bool,
    pub tags: Vec<String>,
}

/// A change to a policy; `None` leaves a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L7PolicyUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub action: ActionSpec,
    pub position: Option<u64>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// A change to a rule; `None` leaves a field, `key: Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L7RuleUpdate {
    pub rule_type: Option<String>,
    pub compare_type: Option<String>,
    pub key: Option<Option<String>>,
    pub value: Option<String>,
    pub invert: Option<bool>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// What a policy command writes: the policy, and the listener's other
/// policies whose position it shifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L7PolicyPlan {
    pub policy: L7Policy,
    pub moved: Vec<L7Policy>,
}

/// Refuses L7 policies on a listener that cannot evaluate them: only HTTP
/// and HTTPS (terminated) listeners parse requests (TCP, UDP and TLS
/// passthrough relay bytes).
pub fn check_listener(listener: &Listener) -> Result<(), Error> {
    if !listener.protocol.is_http() {
        return Err(Error::invalid(
            "listener_id",
            format!(
                "L7 policies need an HTTP listener; listener {} is {}",
                listener.id, listener.protocol
            ),
        ));
    }
    Ok(())
}

/// Plans a new policy on `listener` (whose current policies are
/// `existing`, any order) with its rules. `pools` are the load balancer's
/// pools, where a REDIRECT_TO_POOL target must be.
#[allow(clippy::too_many_arguments)]
pub fn plan_policy(
    lb: &LoadBalancer,
    listener: &Listener,
    existing: &[L7Policy],
    pools: &[Pool],
    req: &NewL7Policy,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<L7PolicyPlan, Error> {
    check_listener(listener)?;
    if existing.len() >= MAX_POLICIES {
        return Err(Error::QuotaExceeded {
            kind: crate::error::QuotaKind::L7PoliciesPerListener,
            limit: MAX_POLICIES,
            requested: existing.len() + 1,
        });
    }
    validate_name("name", &req.name)?;
    validate_description("description", &req.description)?;
    let tags = crate::tags::validate("tags", &req.tags)?;
    let action = plan_action(lb, pools, None, &req.action)?;
    let id = L7PolicyId::new(ids.next_id());
    if req.rules.len() > MAX_RULES_PER_POLICY {
        return Err(too_many_rules_in_policy(req.rules.len()));
    }
    let on_listener: usize = existing.iter().map(|p| p.rules.len()).sum();
    check_listener_rules(on_listener + req.rules.len())?;
    let mut rules = Vec::with_capacity(req.rules.len());
    for (i, rule) in req.rules.iter().enumerate() {
        let at = format!("rules[{i}].");
        rules.push(build_rule(&at, rule, &id, &lb.project_id, ids, now)?);
    }
    let policy = L7Policy {
        id,
        project_id: lb.project_id.clone(),
        lb_id: lb.id.clone(),
        listener_id: listener.id.clone(),
        name: req.name.clone(),
        description: req.description.clone(),
        position: 0,
        action,
        enabled: !req.disabled,
        tags,
        created_at: now,
        updated_at: now,
        rules,
    };
    let position = check_position(req.position)?;
    Ok(place(existing, policy, position))
}

/// Plans a change to `current`, one of `existing` (the listener's
/// policies).
pub fn plan_policy_update(
    lb: &LoadBalancer,
    existing: &[L7Policy],
    pools: &[Pool],
    current: &L7Policy,
    update: &L7PolicyUpdate,
    now: Timestamp,
) -> Result<L7PolicyPlan, Error> {
    let mut next = current.clone();
    if let Some(name) = &update.name {
        validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(description) = &update.description {
        validate_description("description", description)?;
        next.description = description.clone();
    }
    crate::tags::apply("tags", &mut next.tags, update.tags.as_deref())?;
    if let Some(enabled) = update.enabled {
        next.enabled = enabled;
    }
    if update.action != ActionSpec::default() {
        next.action = plan_action(lb, pools, Some(&current.action), &update.action)?;
    }
    let position = check_position(update.position)?;
    let others: Vec<L7Policy> = existing
        .iter()
        .filter(|p| p.id != current.id)
        .cloned()
        .collect();
    let position = position.or(Some(u64::from(current.position)));
    let mut plan = place(&others, next, position);
    if plan.policy != *current {
        plan.policy.updated_at = now;
    }
    Ok(plan)
}

/// The policies left on the listener after `gone` is deleted, renumbered:
/// those whose position changed.
pub fn plan_policy_delete(existing: &[L7Policy], gone: &L7PolicyId) -> Vec<L7Policy> {
    let mut rest: Vec<L7Policy> = existing.iter().filter(|p| &p.id != gone).cloned().collect();
    rest.sort_by_key(|p| p.position);
    renumber(rest)
}

/// Plans a new rule in `policy`; `on_listener` is the number of rules of
/// every policy of its listener.
pub fn plan_rule(
    policy: &L7Policy,
    on_listener: usize,
    req: &NewL7Rule,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<L7Rule, Error> {
    if policy.rules.len() >= MAX_RULES_PER_POLICY {
        return Err(too_many_rules_in_policy(policy.rules.len() + 1));
    }
    check_listener_rules(on_listener + 1)?;
    build_rule("", req, &policy.id, &policy.project_id, ids, now)
}

/// Plans a change to a rule: the merged rule is checked whole, as a new
/// one would be (a type change must bring a key that suits it).
pub fn plan_rule_update(
    current: &L7Rule,
    update: &L7RuleUpdate,
    now: Timestamp,
) -> Result<L7Rule, Error> {
    let mut tags = current.tags.clone();
    crate::tags::apply("tags", &mut tags, update.tags.as_deref())?;
    let merged = NewL7Rule {
        rule_type: update
            .rule_type
            .clone()
            .unwrap_or_else(|| current.rule_type.as_str().to_owned()),
        compare_type: update
            .compare_type
            .clone()
            .unwrap_or_else(|| current.compare_type.as_str().to_owned()),
        key: match &update.key {
            Some(key) => key.clone(),
            None => current.key.clone(),
        },
        value: update
            .value
            .clone()
            .unwrap_or_else(|| current.value.clone()),
        invert: update.invert.unwrap_or(current.invert),
        disabled: !update.enabled.unwrap_or(current.enabled),
        tags,
    };
    let mut ids = KeepId(Some(current.id.as_str().to_owned()));
    let mut next = build_rule(
        "",
        &merged,
        &current.policy_id,
        &current.project_id,
        &mut ids,
        current.created_at,
    )?;
    next.updated_at = current.updated_at;
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

/// Hands out one existing id (an update rebuilds the rule under its id).
struct KeepId(Option<String>);

impl IdSource for KeepId {
    fn next_id(&mut self) -> String {
        self.0.take().unwrap_or_default()
    }
}

fn too_many_rules_in_policy(requested: usize) -> Error {
    Error::QuotaExceeded {
        kind: crate::error::QuotaKind::L7RulesPerPolicy,
        limit: MAX_RULES_PER_POLICY,
        requested,
    }
}

fn check_listener_rules(total: usize) -> Result<(), Error> {
    if total > MAX_RULES {
        return Err(Error::QuotaExceeded {
            kind: crate::error::QuotaKind::L7RulesPerListener,
            limit: MAX_RULES,
            requested: total,
        });
    }
    Ok(())
}

/// A position as sent: at least 1 (Octavia's minimum); anything past the
/// end appends, so a huge one is fine.
fn check_position(position: Option<u64>) -> Result<Option<u64>, Error> {
    match position {
        Some(0) => Err(Error::invalid("position", "must be at least 1")),
        other => Ok(other),
    }
}

/// Puts `policy` at `position` (1-based; `None` or past the end: last)
/// among `others`, renumbering them densely in their current order.
pub fn place(others: &[L7Policy], policy: L7Policy, position: Option<u64>) -> L7PolicyPlan {
    let mut list: Vec<L7Policy> = others.to_vec();
    list.sort_by_key(|p| p.position);
    let index = position
        .map(|p| usize::try_from(p - 1).unwrap_or(usize::MAX))
        .unwrap_or(usize::MAX)
        .min(list.len());
    let id = policy.id.clone();
    list.insert(index, policy);
    let before: Vec<u32> = list.iter().map(|p| p.position).collect();
    let mut moved = Vec::new();
    let mut placed = None;
    for (i, (mut p, old)) in list.into_iter().zip(before).enumerate() {
        p.position = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if p.id == id {
            placed = Some(p);
        } else if p.position != old {
            moved.push(p);
        }
    }
    L7PolicyPlan {
        policy: placed.expect("the placed policy is in the list"),
        moved,
    }
}

/// Renumbers an ordered list 1..n; answers those whose position changed.
fn renumber(list: Vec<L7Policy>) -> Vec<L7Policy> {
    list.into_iter()
        .enumerate()
        .filter_map(|(i, mut p)| {
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            (p.position != position).then(|| {
                p.position = position;
                p
            })
        })
        .collect()
}

/// The action a request asks for, merged with `current` on update: a
/// field of the action in force that is not sent is kept; fields of
/// another action are refused rather than kept unused (nothing accepted
/// is ignored), except explicit nulls.
fn plan_action(
    lb: &LoadBalancer,
    pools: &[Pool],
    current: Option<&L7Action>,
    spec: &ActionSpec,
) -> Result<L7Action, Error> {
    let kind = match (&spec.action, current) {
        (Some(name), _) => name.parse::<ActionKind>().map_err(|()| {
            Error::invalid(
                "action",
                format!("{name:?} is not one of {}", ActionKind::NAMES.join(", ")),
            )
        })?,
        (None, Some(current)) => current.kind(),
        (None, None) => return Err(Error::invalid("action", "required")),
    };
    let kept = current.filter(|c| c.kind() == kind);
    let given = |field: &Option<Option<String>>| field.clone().flatten();
    let pool = given(&spec.redirect_pool_id);
    let url = given(&spec.redirect_url);
    let prefix = given(&spec.redirect_prefix);
    let code = spec.redirect_http_code.flatten();
    for (field, sent, wanted) in [
        (
            "redirect_pool_id",
            pool.is_some(),
            ActionKind::RedirectToPool,
        ),
        ("redirect_url", url.is_some(), ActionKind::RedirectToUrl),
        (
            "redirect_prefix",
            prefix.is_some(),
            ActionKind::RedirectPrefix,
        ),
    ] {
        if sent && kind != wanted {
            return Err(Error::invalid(
                field,
                format!("only an action of {wanted} takes it, not {kind}"),
            ));
        }
    }
    let redirects = matches!(kind, ActionKind::RedirectToUrl | ActionKind::RedirectPrefix);
    if code.is_some() && !redirects {
        return Err(Error::invalid(
            "redirect_http_code",
            format!("only a redirect takes it, not {kind}"),
        ));
    }
    let code = match code {
        Some(code) if REDIRECT_CODES.contains(&code) => code,
        Some(code) => {
            return Err(Error::invalid(
                "redirect_http_code",
                format!("{code} is not one of 301, 302, 303, 307, 308"),
            ))
        }
        None => kept
            .and_then(L7Action::redirect_code)
            .unwrap_or(DEFAULT_REDIRECT_CODE),
    };
    match kind {
        ActionKind::RedirectToPool => {
            let pool_id = match (pool, kept.and_then(L7Action::pool_id)) {
                (Some(id), _) => PoolId::new(id),
                (None, Some(id)) => id.clone(),
                (None, None) => return Err(Error::invalid("redirect_pool_id", "must not be None")),
            };
            let pool = pools
                .iter()
                .find(|p| p.id == pool_id)
                .ok_or_else(|| Error::not_found(crate::ResourceKind::Pool, &pool_id))?;
            check_target_pool(lb, pool)?;
            Ok(L7Action::RedirectToPool { pool_id })
        }
        ActionKind::RedirectToUrl => {
            let url = url
                .or_else(|| kept.and_then(L7Action::redirect_url).map(str::to_owned))
                .ok_or_else(|| Error::invalid("redirect_url", "must not be None"))?;
            check_url("redirect_url", &url)?;
            Ok(L7Action::RedirectToUrl { url, code })
        }
        ActionKind::RedirectPrefix => {
            let prefix = prefix
                .or_else(|| kept.and_then(L7Action::redirect_prefix).map(str::to_owned))
                .ok_or_else(|| Error::invalid("redirect_prefix", "must not be None"))?;
            check_url("redirect_prefix", &prefix)?;
            Ok(L7Action::RedirectPrefix { prefix, code })
        }
        ActionKind::Reject => Ok(L7Action::Reject),
    }
}

/// A REDIRECT_TO_POOL target: a server group of the listener's load
/// balancer whose backends speak HTTP (or say nothing of it).
pub fn check_target_pool(lb: &LoadBalancer, pool: &Pool) -> Result<(), Error> {
    if !is_server_group(lb, pool) {
        return Err(Error::invalid(
            "redirect_pool_id",
            format!("pool {} is not a pool of load balancer {}", pool.id, lb.id),
        ));
    }
    if let Some(protocol) = pool.protocol {
        if !protocol.serves(Protocol::Http) {
            return Err(Error::invalid(
                "redirect_pool_id",
                format!(
                    "pool {} speaks {}, an HTTP listener forwards to HTTP pools only",
                    pool.id,
                    protocol_name(protocol)
                ),
            ));
        }
    }
    Ok(())
}

fn protocol_name(p: PoolProtocol) -> &'static str {
    p.as_str()
}

/// An absolute `http`/`https` URL with a host, at most [`MAX_VALUE_LEN`]
/// bytes of visible ASCII: it is written into a `Location` field as is,
/// so no space, control character (CR/LF: header injection) or non-ASCII
/// byte may be in it. Octavia answers "Not a valid URL" for the same.
pub fn check_url(field: &str, url: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::invalid(field, format!("Not a valid URL: {url:?} ({why})"));
    if url.len() > MAX_VALUE_LEN {
        return Err(bad("longer than 255 bytes"));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("only visible ASCII characters, no spaces"));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .or_else(|| {
            // Schemes are case-insensitive (RFC 3986 §3.1).
            let lower = url.get(..8).map(str::to_ascii_lowercase)?;
            if lower.starts_with("http://") {
                url.get(7..)
            } else if lower == "https://" {
                url.get(8..)
            } else {
                None
            }
        })
        .ok_or_else(|| bad("the scheme must be http or https"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("no host"));
    }
    if url.contains('#') {
        return Err(bad("a redirect carries no fragment"));
    }
    Ok(())
}

/// The pools a deleted server group must not be: those a policy forwards
/// to (Octavia answers 409 for a pool in use by an L7 policy).
pub fn check_pool_unused(pool: &PoolId, policies: &[L7Policy]) -> Result<(), Error> {
    if let Some(p) = policies.iter().find(|p| p.action.pool_id() == Some(pool)) {
        return Err(Error::conflict(format!(
            "Pool {pool} is in use by L7 policy {}",
            p.id
        )));
    }
    Ok(())
}
