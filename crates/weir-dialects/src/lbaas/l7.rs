//! `/l7policies` and `/l7policies/{id}/rules`: Octavia's L7 policies
//! (API 2.0, `redirect_prefix` 2.2, `redirect_http_code` 2.9, tags 2.5)
//! on HTTP listeners, translated into [`weir_core::l7`] and back.
//!
//! Every body field is honoured or refused: an unknown field is a 400 by
//! name, a field of another action than the policy's is a 400, and the
//! rule types that need TLS termination (`SSL_CONN_HAS_CERT`,
//! `SSL_VERIFY_RESULT`, `SSL_DN_FIELD`) are the provider's 501, which
//! Octavia clients and the tempest plugin read as such. Statuses:
//! `ACTIVE` once written (the command waits for the data plane), operating
//! `ONLINE`, or `OFFLINE` when `admin_state_up` is false.

use weir_core::l7::{
    ActionKind, CompareType, L7Policy, L7PolicyUpdate, L7Rule, L7RuleUpdate, NewL7Policy,
    NewL7Rule, RuleType,
};

use super::*;

/// Octavia's largest position (a 32-bit column); larger is a 400.
const MAX_POSITION: u64 = 2_147_483_647;

/// The rule types Octavia has that need TLS termination.
const TLS_RULE_TYPES: &[&str] = &["SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD"];

/// Octavia's spelling of a core wire name: `redirect-to-pool` →
/// `REDIRECT_TO_POOL`.
fn octavia_name(core: &str) -> String {
    core.replace('-', "_").to_ascii_uppercase()
}

/// A core wire name from Octavia's spelling, if it is one of `names`.
fn core_name(field: &str, given: &str, names: &[&str]) -> Result<String, LbaasError> {
    names
        .iter()
        .find(|n| octavia_name(n) == given)
        .map(|n| (*n).to_owned())
        .ok_or_else(|| {
            let allowed: Vec<String> = names.iter().map(|n| octavia_name(n)).collect();
            LbaasError::bad_request(format!(
                "Invalid input for field/attribute {field}. Value: '{given}'. \
                 Value should be one of: {}",
                allowed.join(", ")
            ))
        })
}

/// The listener's policies as `[{"id"}]`, by position (the listener's
/// `l7policies` field).
pub(super) async fn l7_refs(
    c: &Control,
    p: &Principal,
    listener: &ListenerId,
) -> Result<Vec<Value>, LbaasError> {
    Ok(c.list_l7_policies(p, listener)
        .await
        .map_err(fail)?
        .iter()
        .map(|p| json!({"id": p.id.as_str()}))
        .collect())
}

fn operating(enabled: bool) -> &'static str {
    if enabled {
        "ONLINE"
    } else {
        "OFFLINE"
    }
}

pub(super) fn policy_view(p: &L7Policy) -> Value {
    json!({
        "id": p.id.as_str(),
        "name": p.name,
        "description": p.description,
        "listener_id": p.listener_id.as_str(),
        "action": octavia_name(p.action.kind().as_str()),
        "position": p.position,
        "redirect_pool_id": p.action.pool_id().map(PoolId::as_str),
        "redirect_url": p.action.redirect_url(),
        "redirect_prefix": p.action.redirect_prefix(),
        "redirect_http_code": p.action.redirect_code(),
        "admin_state_up": p.enabled,
        "provisioning_status": "ACTIVE",
        "operating_status": operating(p.enabled),
        "project_id": p.project_id.as_str(),
        "tenant_id": p.project_id.as_str(),
        "rules": p.rules.iter().map(|r| json!({"id": r.id.as_str()})).collect::<Vec<_>>(),
        "created_at": p.created_at.to_string(),
        "updated_at": p.updated_at.to_string(),
        "tags": p.tags,
    })
}

pub(super) fn rule_view(r: &L7Rule) -> Value {
    json!({
        "id": r.id.as_str(),
        "type": octavia_name(r.rule_type.as_str()),
        "compare_type": octavia_name(r.compare_type.as_str()),
        "key": r.key,
        "value": r.value,
        "invert": r.invert,
        "admin_state_up": r.enabled,
        "provisioning_status": "ACTIVE",
        "operating_status": operating(r.enabled),
        "project_id": r.project_id.as_str(),
        "tenant_id": r.project_id.as_str(),
        "created_at": r.created_at.to_string(),
        "updated_at": r.updated_at.to_string(),
        "tags": r.tags,
    })
}

/// A core refusal in Octavia's words: rule problems are its
/// `Invalid L7 Rule: …`, policy ones `Invalid input for field/attribute`.
fn l7_fail(e: ControlError) -> LbaasError {
    match e {
        ControlError::Domain(Error::InvalidField { field, reason }) => {
            let rule_field = field.starts_with("rules[")
                || ["type", "compare_type", "key", "value"].contains(&field.as_str());
            if rule_field {
                LbaasError::bad_request(format!("Invalid L7 Rule: {field}: {reason}"))
            } else {
                LbaasError::bad_request(format!(
                    "Invalid input for field/attribute {field}. {reason}"
                ))
            }
        }
        e => fail(e),
    }
}

/// Every field of Octavia's l7policy body (create and update).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyBody {
    listener_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    admin_state_up: Option<bool>,
    action: Option<String>,
    #[serde(default, deserialize_with = "present")]
    redirect_pool_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    redirect_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    redirect_prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    redirect_http_code: Option<Option<u16>>,
    position: Option<u64>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
    rules: Option<Vec<RuleBody>>,
}

/// Every field of Octavia's l7rule body (create and update).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleBody {
    #[serde(rename = "type")]
    rule_type: Option<String>,
    compare_type: Option<String>,
    #[serde(default, deserialize_with = "present")]
    key: Option<Option<String>>,
    value: Option<String>,
    invert: Option<bool>,
    admin_state_up: Option<bool>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
}

fn missing(field: &str) -> LbaasError {
    LbaasError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: None. Mandatory field missing."
    ))
}

fn rule_type(given: &str) -> Result<String, LbaasError> {
    if TLS_RULE_TYPES.contains(&given) {
        return Err(LbaasError::unsupported(format!(
            "L7 rule type {given} (Weir does not terminate TLS)"
        )));
    }
    core_name("type", given, RuleType::NAMES)
}

impl RuleBody {
    fn create(&self, owner: &ProjectId) -> Result<NewL7Rule, LbaasError> {
        check_owner([&self.project_id, &self.tenant_id], owner)?;
        Ok(NewL7Rule {
            rule_type: rule_type(self.rule_type.as_deref().ok_or_else(|| missing("type"))?)?,
            compare_type: core_name(
                "compare_type",
                self.compare_type
                    .as_deref()
                    .ok_or_else(|| missing("compare_type"))?,
                CompareType::NAMES,
            )?,
            key: self.key.clone().flatten(),
            value: self.value.clone().ok_or_else(|| missing("value"))?,
            invert: self.invert.unwrap_or(false),
            disabled: self.admin_state_up == Some(false),
            tags: tags_field("", &self.tags)?.unwrap_or_default(),
        })
    }

    fn update(&self, owner: &ProjectId) -> Result<L7RuleUpdate, LbaasError> {
        check_owner([&self.project_id, &self.tenant_id], owner)?;
        Ok(L7RuleUpdate {
            rule_type: self.rule_type.as_deref().map(rule_type).transpose()?,
            compare_type: self
                .compare_type
                .as_deref()
                .map(|c| core_name("compare_type", c, CompareType::NAMES))
                .transpose()?,
            key: self.key.clone(),
            value: self.value.clone(),
            invert: self.invert,
            enabled: self.admin_state_up,
            tags: tags_field("", &self.tags)?,
        })
    }
}

impl PolicyBody {
    fn action(&self) -> Result<weir_core::l7::ActionSpec, LbaasError> {
        if let Some(position) = self.position {
            if position == 0 || position > MAX_POSITION {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute position. Value: '{position}'. \
                     Value must be between 1 and {MAX_POSITION}."
                )));
            }
        }
        Ok(weir_core::l7::ActionSpec {
            action: self
                .action
                .as_deref()
                .map(|a| core_name("action", a, ActionKind::NAMES))
                .transpose()?,
            redirect_pool_id: self.redirect_pool_id.clone(),
            redirect_url: self.redirect_url.clone(),
            redirect_prefix: self.redirect_prefix.clone(),
            redirect_http_code: self.redirect_http_code,
        })
    }
}

/// The caller's policy, 404 in Octavia's words.
async fn policy_of(c: &Control, p: &Principal, id: &str) -> Result<L7Policy, LbaasError> {
    c.get_l7_policy(p, &L7PolicyId::new(id))
        .await
        .map_err(|e| match e {
            ControlError::Domain(Error::NotFound { .. }) => {
                LbaasError::not_found(format!("L7 Policy {id} could not be found."))
            }
            e => fail(e),
        })
}

fn rule_gone(id: &str) -> LbaasError {
    LbaasError::not_found(format!("L7 Rule {id} could not be found."))
}

pub(super) async fn list_l7policies(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let mut items = Vec::new();
    for lb in c.list_load_balancers(&ctx.principal).await.map_err(fail)? {
        let policies = c
            .l7_policies_of_lb(&ctx.principal, &lb.id)
            .await
            .map_err(fail)?;
        items.extend(policies.iter().map(policy_view));
    }
    ok(listing::list(items, &q, "l7policies", &here)?)
}

pub(super) async fn create_l7policy(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: PolicyBody = body(&raw, "l7policy")?;
    let c = &d.control;
    let listener_id = req
        .listener_id
        .as_deref()
        .ok_or_else(|| missing("listener_id"))?;
    let listener = c
        .get_listener(&ctx.principal, &ListenerId::new(listener_id))
        .await
        .map_err(fail)?;
    check_owner([&req.project_id, &req.tenant_id], &listener.project_id)?;
    if req.action.is_none() {
        return Err(missing("action"));
    }
    let rules = req
        .rules
        .iter()
        .flatten()
        .map(|r| r.create(&listener.project_id))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = c
        .create_l7_policy(
            &ctx.principal,
            listener.id.clone(),
            NewL7Policy {
                name: req.name.clone().unwrap_or_default(),
                description: req.description.clone().unwrap_or_default(),
                action: req.action()?,
                position: req.position,
                disabled: req.admin_state_up == Some(false),
                tags: tags_field("", &req.tags)?.unwrap_or_default(),
                rules,
            },
        )
        .await
        .map_err(l7_fail)?;
    created(json!({"l7policy": policy_view(&policy)}))
}

pub(super) async fn show_l7policy(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let policy = policy_of(&d.control, &ctx.principal, param(&p, "l7policy_id")).await?;
    ok(json!({"l7policy": policy_view(&policy)}))
}

pub(super) async fn update_l7policy(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: PolicyBody = body(&raw, "l7policy")?;
    let c = &d.control;
    let current = policy_of(c, &ctx.principal, param(&p, "l7policy_id")).await?;
    if req.listener_id.is_some() || req.rules.is_some() {
        let field = if req.listener_id.is_some() {
            "listener_id"
        } else {
            "rules"
        };
        return Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}: it cannot be changed on an L7 policy."
        )));
    }
    check_owner([&req.project_id, &req.tenant_id], &current.project_id)?;
    let policy = c
        .update_l7_policy(
            &ctx.principal,
            current.id.clone(),
            L7PolicyUpdate {
                name: req.name.clone(),
                description: req.description.clone(),
                action: req.action()?,
                position: req.position,
                enabled: req.admin_state_up,
                tags: tags_field("", &req.tags)?,
            },
        )
        .await
        .map_err(l7_fail)?;
    ok(json!({"l7policy": policy_view(&policy)}))
}

pub(super) async fn delete_l7policy(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let policy = policy_of(c, &ctx.principal, param(&p, "l7policy_id")).await?;
    c.delete_l7_policy(&ctx.principal, policy.id)
        .await
        .map_err(fail)?;
    no_content()
}

pub(super) async fn list_l7rules(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let policy = policy_of(&d.control, &ctx.principal, param(&p, "l7policy_id")).await?;
    let items = policy.rules.iter().map(rule_view).collect();
    ok(listing::list(items, &q, "rules", &here)?)
}

pub(super) async fn create_l7rule(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let c = &d.control;
    let policy = policy_of(c, &ctx.principal, param(&p, "l7policy_id")).await?;
    let req: RuleBody = body(&raw, "rule")?;
    let rule = req.create(&policy.project_id)?;
    let (_, rule) = c
        .create_l7_rule(&ctx.principal, policy.id, rule)
        .await
        .map_err(l7_fail)?;
    created(json!({"rule": rule_view(&rule)}))
}

pub(super) async fn show_l7rule(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let policy = policy_of(&d.control, &ctx.principal, param(&p, "l7policy_id")).await?;
    let id = param(&p, "rule_id");
    let rule = policy
        .rules
        .iter()
        .find(|r| r.id.as_str() == id)
        .ok_or_else(|| rule_gone(id))?;
    ok(json!({"rule": rule_view(rule)}))
}

pub(super) async fn update_l7rule(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let c = &d.control;
    let policy = policy_of(c, &ctx.principal, param(&p, "l7policy_id")).await?;
    let id = param(&p, "rule_id");
    if !policy.rules.iter().any(|r| r.id.as_str() == id) {
        return Err(rule_gone(id));
    }
    let req: RuleBody = body(&raw, "rule")?;
    let update = req.update(&policy.project_id)?;
    let rule = c
        .update_l7_rule(&ctx.principal, policy.id, L7RuleId::new(id), update)
        .await
        .map_err(l7_fail)?;
    ok(json!({"rule": rule_view(&rule)}))
}

pub(super) async fn delete_l7rule(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let policy = policy_of(c, &ctx.principal, param(&p, "l7policy_id")).await?;
    let id = param(&p, "rule_id");
    c.delete_l7_rule(&ctx.principal, policy.id, L7RuleId::new(id))
        .await
        .map_err(|e| match e {
            ControlError::Domain(Error::NotFound { .. }) => rule_gone(id),
            e => fail(e),
        })?;
    no_content()
}
