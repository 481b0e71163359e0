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

/// Every field of Octavia's load balancer body; what Weir has no room for
/// is refused unless it says "none", any other field by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateLb {
    vip_subnet_id: Option<String>,
    vip_network_id: Option<String>,
    description: Option<String>,
    name: Option<String>,
    vip_address: Option<String>,
    admin_state_up: Option<bool>,
    /// Only Weir's own provider exists.
    provider: Option<String>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
    vip_port_id: Option<Value>,
    vip_qos_policy_id: Option<Value>,
    flavor_id: Option<Value>,
    availability_zone: Option<Value>,
    additional_vips: Option<Value>,
    listeners: Option<Value>,
    pools: Option<Value>,
}

pub(super) async fn create_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateLb = body(&raw, "loadbalancer")?;
    let tags = tags_field("", &req.tags)?.unwrap_or_default();
    for (name, value) in [
        ("vip_port_id", &req.vip_port_id),
        ("vip_qos_policy_id", &req.vip_qos_policy_id),
        ("availability_zone", &req.availability_zone),
        ("additional_vips", &req.additional_vips),
        ("listeners", &req.listeners),
        ("pools", &req.pools),
    ] {
        refuse_unhonoured("", name, value.as_ref())?;
    }
    if let Some(provider) = req.provider.as_deref().filter(|p| *p != "weir") {
        return Err(LbaasError::bad_request(format!(
            "Provider '{provider}' is not enabled. Enabled providers: weir"
        )));
    }
    match ctx.principal.scope() {
        Some(owner) => check_owner([&req.project_id, &req.tenant_id], owner)?,
        // The operator's load balancer lands in its subnet's project; one
        // for another project is made with that project's credentials.
        None if req.project_id.is_some() || req.tenant_id.is_some() => {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute project_id: create the load balancer with that project's credentials",
            ))
        }
        None => {}
    }
    let flavor_id = flavors::flavor_id(req.flavor_id.as_ref())?;
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
                tags,
                flavor_id,
                // The deployment's mode: no dialect names one.
                vip_mode: None,
            },
        )
        .await
        .map_err(flavors::lb_create_fail)?;
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
    /// Absent leaves them, `null` clears them.
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
}

pub(super) async fn update_lb(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: UpdateLb = body(&raw, "loadbalancer")?;
    let tags = tags_field("", &req.tags)?;
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
                tags,
                // No dialect names a VIP mode: its load balancers keep
                // whatever the operator set natively.
                vip_mode: None,
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

/// Octavia's stats body from Weir's counters.
pub(super) fn stats_view(s: weir_core::status::ListenerStats) -> Value {
    json!({"stats": {
        "active_connections": s.active_connections,
        "bytes_in": s.bytes_in,
        "bytes_out": s.bytes_out,
        "request_errors": s.request_errors,
        "total_connections": s.total_connections,
    }})
}

/// `GET /loadbalancers/{id}/stats`: the sum of its listeners'.
pub(super) async fn lb_stats(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let id = LoadBalancerId::new(param(&p, "lb_id"));
    let total = c
        .list_listeners(&ctx.principal, &id)
        .await
        .map_err(fail)?
        .iter()
        .map(|l| c.listener_stats(l))
        .fold(Default::default(), |a, b| a + b);
    ok(stats_view(total))
}

/// `GET /loadbalancers/{id}/status`: the status tree Octavia answers,
/// load balancer → listeners → pools → monitor and members.
pub(super) async fn lb_status(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let lb = c
        .get_load_balancer(&ctx.principal, &LoadBalancerId::new(param(&p, "lb_id")))
        .await
        .map_err(fail)?;
    let shown = lb_full(c, &ctx.principal, &lb).await?;
    let running = lb.status == LbStatus::Running;
    let mut listeners = Vec::new();
    for l in c
        .list_listeners(&ctx.principal, &lb.id)
        .await
        .map_err(fail)?
    {
        let (provisioning, operating) = listener_status(c, &l, running);
        let mut pools = Vec::new();
        if let Some(group) = &l.group_pool_id {
            let (pool, users, members) = pool_full(c, &ctx.principal, group).await?;
            let view = pool_view(c, &pool, &users, &members);
            let monitored = monitored(&pool);
            let members: Vec<Value> = members
                .iter()
                .map(|b| {
                    let (provisioning, operating) = member_status(c, b, monitored);
                    json!({"id": b.id.as_str(), "name": b.name, "address": b.address_as_written(),
                           "protocol_port": b.ports.key(), "provisioning_status": provisioning,
                           "operating_status": operating})
                })
                .collect();
            let mut entry = json!({"id": pool.id.as_str(), "name": pool.name,
                                   "provisioning_status": view["provisioning_status"],
                                   "operating_status": view["operating_status"],
                                   "members": members});
            if let Some(hm) = monitor_view(&pool, ctx.flavor) {
                entry["health_monitor"] = json!({"id": hm["id"], "name": hm["name"], "type": hm["type"],
                                                 "provisioning_status": hm["provisioning_status"],
                                                 "operating_status": hm["operating_status"]});
            }
            pools.push(entry);
        }
        listeners.push(json!({"id": l.id.as_str(), "name": l.name,
                              "provisioning_status": provisioning, "operating_status": operating,
                              "pools": pools}));
    }
    ok(json!({"statuses": {"loadbalancer": {
        "id": lb.id.as_str(),
        "name": lb.name,
        "provisioning_status": shown["provisioning_status"],
        "operating_status": shown["operating_status"],
        "listeners": listeners,
    }}}))
}

/// `PUT /loadbalancers/{id}/failover`: 202, as Octavia; see
/// [`Control::failover_load_balancer`] for what it does without amphorae.
pub(super) async fn lb_failover(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(_): RawBody,
) -> LbResult {
    d.control
        .failover_load_balancer(&ctx.principal, LoadBalancerId::new(param(&p, "lb_id")))
        .await
        .map_err(fail)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
