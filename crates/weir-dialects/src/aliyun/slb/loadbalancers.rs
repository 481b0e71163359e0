//! Load balancers: create, describe (list and attribute), status, delete.

use super::*;

pub(super) async fn create_load_balancer(call: &Call) -> ActionResult {
    let p = &call.params;
    p.req("RegionId")?;
    let subnet = p.req("VSwitchId")?;
    let lb = call
        .dialects
        .control
        .create_load_balancer_once(
            &call.principal,
            SubnetId::new(subnet),
            NewLoadBalancer {
                name: p.opt("LoadBalancerName").unwrap_or_default().to_owned(),
                vip: p.opt("Address").map(str::to_owned),
                vpc_id: p.opt("VpcId").map(str::to_owned),
                stopped: false,
                ..Default::default()
            },
            p.opt("ClientToken").map(str::to_owned),
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "LoadBalancerId": lb.id.as_str(),
        "Address": lb.vip.to_string(),
        "LoadBalancerName": lb.name,
        "VpcId": lb.vpc_id.as_str(),
        "VSwitchId": lb.subnet_id.as_str(),
        "NetworkType": "vpc",
        "AddressIPVersion": if lb.vip.is_ipv4() { "ipv4" } else { "ipv6" },
    }))
}

pub(super) fn lb_summary(call: &Call, lb: &LoadBalancer) -> Value {
    let (create_time, stamp) = time_fields(lb.created_at);
    json!({
        "LoadBalancerId": lb.id.as_str(),
        "LoadBalancerName": lb.name,
        "LoadBalancerStatus": status_name(lb.status),
        "Address": lb.vip.to_string(),
        "AddressType": "intranet",
        "AddressIPVersion": if lb.vip.is_ipv4() { "ipv4" } else { "ipv6" },
        "VpcId": lb.vpc_id.as_str(),
        "VSwitchId": lb.subnet_id.as_str(),
        "NetworkType": "vpc",
        "RegionId": call.region(),
        "CreateTime": create_time,
        "CreateTimeStamp": stamp,
    })
}

pub(super) async fn describe_load_balancers(call: &Call) -> ActionResult {
    let p = &call.params;
    let ids: Option<Vec<&str>> = p
        .opt("LoadBalancerId")
        .map(|v| v.split(',').map(str::trim).collect());
    let all = call
        .dialects
        .control
        .list_load_balancers(&call.principal)
        .await
        .map_err(fail)?;
    let chosen: Vec<&LoadBalancer> = all
        .iter()
        .filter(|lb| ids.as_ref().is_none_or(|ids| ids.contains(&lb.id.as_str())))
        .filter(|lb| p.opt("VpcId").is_none_or(|v| v == lb.vpc_id.as_str()))
        .filter(|lb| {
            p.opt("VSwitchId")
                .is_none_or(|v| v == lb.subnet_id.as_str())
        })
        .filter(|lb| p.opt("LoadBalancerName").is_none_or(|n| lb.name == n))
        .collect();
    let number = p.int("PageNumber")?.unwrap_or(1);
    let size = p.int("PageSize")?.unwrap_or(50);
    if number < 1 || !(1..=100).contains(&size) {
        return Err(AliError::invalid(
            "PageNumber starts at 1 and PageSize is 1-100.",
        ));
    }
    let skip = usize::try_from((number - 1) * size).unwrap_or(usize::MAX);
    let page: Vec<Value> = chosen
        .iter()
        .skip(skip)
        .take(usize::try_from(size).unwrap_or(50))
        .map(|lb| lb_summary(call, lb))
        .collect();
    Ok(json!({
        "TotalCount": chosen.len(),
        "PageNumber": number,
        "PageSize": size,
        "LoadBalancers": {"LoadBalancer": page},
    }))
}

pub(super) fn server_type(b: &Backend) -> &'static str {
    if b.instance_id.is_some() {
        "ecs"
    } else {
        "ip"
    }
}

pub(super) fn server_view(b: &Backend) -> Value {
    json!({
        "ServerId": b.instance_id.as_ref().map_or_else(|| b.address.to_string(), |i| i.to_string()),
        "Weight": b.weight,
        "Type": server_type(b),
        "ServerIp": b.address.to_string(),
        "Description": b.name,
    })
}

pub(super) async fn default_group(
    call: &Call,
    lb: &LoadBalancer,
) -> Result<Vec<Backend>, AliError> {
    Ok(call
        .dialects
        .control
        .backends_of(
            &call.principal,
            &RegisterTarget::LoadBalancer(lb.id.clone()),
        )
        .await
        .map_err(fail)?
        .2)
}

pub(super) async fn describe_load_balancer_attribute(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let listeners = call
        .dialects
        .control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?;
    let servers: Vec<Value> = default_group(call, &lb)
        .await?
        .iter()
        .map(|b| {
            let mut v = server_view(b);
            v["VpcId"] = json!(lb.vpc_id.as_str());
            v
        })
        .collect();
    let mut out = lb_summary(call, &lb);
    out["ListenerPorts"] = json!({"ListenerPort": listeners.iter().filter_map(Listener::single_port).collect::<Vec<_>>()});
    out["ListenerPortsAndProtocol"] = json!({"ListenerPortAndProtocol": listeners.iter().map(|l| json!({
        "ListenerPort": l.single_port(),
        "ListenerProtocol": l.protocol.as_str(),
        "Description": l.name,
        "ListenerStatus": if l.enabled { "running" } else { "stopped" },
    })).collect::<Vec<_>>()});
    out["BackendServers"] = json!({"BackendServer": servers});
    Ok(out)
}

pub(super) async fn set_load_balancer_status(call: &Call) -> ActionResult {
    let action = match call.params.req("LoadBalancerStatus")? {
        "active" => LbAction::Start,
        "inactive" => LbAction::Stop,
        other => {
            return Err(AliError::invalid(format!(
                "The parameter LoadBalancerStatus is invalid: {other:?} is not active or inactive."
            )))
        }
    };
    let lb = lb(call).await?;
    call.dialects
        .control
        .load_balancer_action(&call.principal, lb.id, action)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}

pub(super) async fn delete_load_balancer(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    call.dialects
        .control
        .delete_load_balancer(&call.principal, lb.id, true)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}
