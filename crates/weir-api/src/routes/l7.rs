//! L7 policies of HTTP listeners and their rules: a policy is created on
//! its listener with its first rules nested in the body, read with every
//! rule whole, changed by PATCH; rules are added and deleted under their
//! policy. The wire names are the core's (`redirect-to-pool`,
//! `starts-with`, ...).

use weir_core::l7::{
    ActionSpec, L7Policy, L7PolicyUpdate, L7Rule, L7RuleUpdate, NewL7Policy, NewL7Rule,
};

use super::loadbalancers::present;
use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleBody {
    #[serde(rename = "type")]
    rule_type: String,
    compare_type: String,
    key: Option<String>,
    value: String,
    #[serde(default)]
    invert: bool,
    enabled: Option<bool>,
    #[serde(default)]
    tags: Vec<String>,
}

impl From<RuleBody> for NewL7Rule {
    fn from(r: RuleBody) -> Self {
        NewL7Rule {
            rule_type: r.rule_type,
            compare_type: r.compare_type,
            key: r.key,
            value: r.value,
            invert: r.invert,
            disabled: r.enabled == Some(false),
            tags: r.tags,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    action: String,
    redirect_pool_id: Option<String>,
    redirect_url: Option<String>,
    redirect_prefix: Option<String>,
    redirect_http_code: Option<u16>,
    position: Option<u64>,
    enabled: Option<bool>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchPolicy {
    name: Option<String>,
    description: Option<String>,
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
    enabled: Option<bool>,
    tags: Option<Vec<String>>,
}

fn rule_view(r: &L7Rule) -> serde_json::Value {
    json!({
        "id": r.id.as_str(),
        "type": r.rule_type.as_str(),
        "compare_type": r.compare_type.as_str(),
        "key": r.key,
        "value": r.value,
        "invert": r.invert,
        "enabled": r.enabled,
        "tags": r.tags,
        "created_at": r.created_at.to_string(),
        "updated_at": r.updated_at.to_string(),
    })
}

fn policy_view(p: &L7Policy) -> serde_json::Value {
    json!({
        "id": p.id.as_str(),
        "project_id": p.project_id.as_str(),
        "load_balancer_id": p.lb_id.as_str(),
        "listener_id": p.listener_id.as_str(),
        "name": p.name,
        "description": p.description,
        "position": p.position,
        "action": p.action.kind().as_str(),
        "redirect_pool_id": p.action.pool_id().map(PoolId::as_str),
        "redirect_url": p.action.redirect_url(),
        "redirect_prefix": p.action.redirect_prefix(),
        "redirect_http_code": p.action.redirect_code(),
        "enabled": p.enabled,
        "tags": p.tags,
        "rules": p.rules.iter().map(rule_view).collect::<Vec<_>>(),
        "created_at": p.created_at.to_string(),
        "updated_at": p.updated_at.to_string(),
    })
}

pub(super) async fn create_l7policy(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PolicyBody>,
) -> ApiResult {
    let new = NewL7Policy {
        name: req.name,
        description: req.description,
        action: ActionSpec {
            action: Some(req.action),
            redirect_pool_id: req.redirect_pool_id.map(Some),
            redirect_url: req.redirect_url.map(Some),
            redirect_prefix: req.redirect_prefix.map(Some),
            redirect_http_code: req.redirect_http_code.map(Some),
        },
        position: req.position,
        disabled: req.enabled == Some(false),
        tags: req.tags,
        rules: req.rules.into_iter().map(NewL7Rule::from).collect(),
    };
    let policy = c.create_l7_policy(&p, ListenerId::new(id), new).await?;
    created(policy_view(&policy))
}

pub(super) async fn list_l7policies(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let policies = c.list_l7_policies(&p, &ListenerId::new(id)).await?;
    let views: Vec<_> = policies.iter().map(policy_view).collect();
    ok(json!({ "l7policies": views }))
}

pub(super) async fn get_l7policy(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(policy_view(
        &c.get_l7_policy(&p, &L7PolicyId::new(id)).await?,
    ))
}

pub(super) async fn update_l7policy(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<PatchPolicy>,
) -> ApiResult {
    let update = L7PolicyUpdate {
        name: req.name,
        description: req.description,
        action: ActionSpec {
            action: req.action,
            redirect_pool_id: req.redirect_pool_id,
            redirect_url: req.redirect_url,
            redirect_prefix: req.redirect_prefix,
            redirect_http_code: req.redirect_http_code,
        },
        position: req.position,
        enabled: req.enabled,
        tags: req.tags,
    };
    let policy = c.update_l7_policy(&p, L7PolicyId::new(id), update).await?;
    ok(policy_view(&policy))
}

pub(super) async fn delete_l7policy(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_l7_policy(&p, L7PolicyId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn create_l7rule(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<RuleBody>,
) -> ApiResult {
    let (_, rule) = c
        .create_l7_rule(&p, L7PolicyId::new(id), req.into())
        .await?;
    created(rule_view(&rule))
}

pub(super) async fn delete_l7rule(
    State(c): State<Control>,
    Auth(p): Auth,
    Path((id, rule_id)): Path<(String, String)>,
) -> ApiResult {
    c.delete_l7_rule(&p, L7PolicyId::new(id), L7RuleId::new(rule_id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A rule change: what it names changes, `key: null` drops the key (a
/// header or cookie rule needs one), the rest stays.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchRule {
    #[serde(rename = "type")]
    rule_type: Option<String>,
    compare_type: Option<String>,
    #[serde(default, deserialize_with = "present")]
    key: Option<Option<String>>,
    value: Option<String>,
    invert: Option<bool>,
    enabled: Option<bool>,
    tags: Option<Vec<String>>,
}

pub(super) async fn update_l7rule(
    State(c): State<Control>,
    Auth(p): Auth,
    Path((id, rule_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<PatchRule>,
) -> ApiResult {
    let update = L7RuleUpdate {
        rule_type: req.rule_type,
        compare_type: req.compare_type,
        key: req.key,
        value: req.value,
        invert: req.invert,
        enabled: req.enabled,
        tags: req.tags,
    };
    let rule = c
        .update_l7_rule(&p, L7PolicyId::new(id), L7RuleId::new(rule_id), update)
        .await?;
    ok(rule_view(&rule))
}
