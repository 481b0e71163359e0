//! `/loadbalancers`: create, list, show, update, delete (with cascade).

use super::*;

pub(super) async fn lb_full(
    c: &Control,
    p: &Principal,
    lb: &LoadBalancer,
) -> Result<Value, LbaasError> {
    let listeners = c.list_listeners(p, &lb.id).await.map_err(fail)?;
    let pools = groups_of(c, p, lb).await?;
    Ok(lb_view(c, lb, &listeners, &pools))
}

pub(super) async fn list_lbs(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let mut items = Vec::new();
    for lb in c.list_load_balancers(&ctx.principal).await.map_err(fail)? {
        items.push(lb_full(c, &ctx.principal, &lb).await?);
    }
    ok(listing::list(items, &q, "loadbalancers", &here)?)
}

#[derive(Deserialize)]
pub(super) struct CreateLb {
    vip_subnet_id: Option<String>,
    vip_network_id: Option<String>,
    description: Option<String>,
    /// Not kept yet: refused unless null or empty.
    tags: Option<Value>,
    name: Option<String>,
    vip_address: Option<String>,
    admin_state_up: Option<bool>,
}

pub(super) async fn create_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateLb = body(&raw, "loadbalancer")?;
    refuse_unhonoured("", "tags", req.tags.as_ref())?;
    let c = &d.control;
    let subnet = match (req.vip_subnet_id, &req.vip_network_id) {
        (Some(subnet), _) => subnet,
        // As Octavia: a network alone means its first subnet.
        (None, Some(network)) => c
            .list_subnets(&ctx.principal)
            .await
            .map_err(fail)?
            .into_iter()
            .find(|s| s.vpc_id.as_str() == network)
            .map(|s| s.id.to_string())
            .ok_or_else(|| {
                LbaasError::bad_request(format!(
                    "Network {network} could not be found or has no subnet."
                ))
            })?,
        (None, None) => {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute vip_subnet_id. Value: None. Mandatory field missing.",
            ))
        }
    };
    let lb = c
        .create_load_balancer(
            &ctx.principal,
            SubnetId::new(subnet),
            NewLoadBalancer {
                name: req.name.unwrap_or_default(),
                vip: req.vip_address,
                // Both named: the subnet must be in the network.
                vpc_id: req.vip_network_id,
                stopped: req.admin_state_up == Some(false),
                description: req.description,
            },
        )
        .await
        .map_err(fail)?;
    created(json!({"loadbalancer": lb_full(c, &ctx.principal, &lb).await?}))
}

pub(super) async fn show_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let lb = c
        .get_load_balancer(&ctx.principal, &LoadBalancerId::new(param(&p, "lb_id")))
        .await
        .map_err(fail)?;
    ok(json!({"loadbalancer": lb_full(c, &ctx.principal, &lb).await?}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateLb {
    admin_state_up: Option<bool>,
    name: Option<String>,
    description: Option<String>,
    /// Refused unless empty: tags are not kept yet.
    tags: Option<Value>,
}

pub(super) async fn update_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: UpdateLb = body(&raw, "loadbalancer")?;
    refuse_unhonoured("", "tags", req.tags.as_ref())?;
    let c = &d.control;
    let lb = c
        .update_load_balancer(
            &ctx.principal,
            LoadBalancerId::new(param(&p, "lb_id")),
            LoadBalancerUpdate {
                name: req.name,
                description: req.description,
                action: req
                    .admin_state_up
                    .map(|up| if up { LbAction::Start } else { LbAction::Stop }),
            },
        )
        .await
        .map_err(fail)?;
    ok(json!({"loadbalancer": lb_full(c, &ctx.principal, &lb).await?}))
}

/// A boolean query flag as OpenStack clients spell it (`true`, `True`,
/// `1`; openstacksdk sends Python's `True`).
pub(super) fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, LbaasError> {
    match q.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(LbaasError::bad_request(format!(
            "{name}={v} is not a boolean"
        ))),
    }
}

pub(super) async fn delete_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> LbResult {
    d.control
        .delete_load_balancer(
            &ctx.principal,
            LoadBalancerId::new(param(&p, "lb_id")),
            flag(&q, "cascade")?,
        )
        .await
        .map_err(fail)?;
    no_content()
}
