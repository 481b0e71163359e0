//! Load balancers: create, describe (list and attribute), status, delete.

use super::*;

pub(super) async fn create_load_balancer(call: &Call) -> ActionResult {
    let p = &call.params;
    p.req("RegionId")?;
    let subnet = p.req("VSwitchId")?;
    create_refusals(call)?;
    check_ip_version(call, subnet).await?;
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

/// `CreateLoadBalancer`'s billing and protection parameters: accepted
/// when they say what Weir does (an intranet, pay-as-you-go instance
/// without deletion or modification protection), refused otherwise; the
/// parameters with no such value (bandwidth, specs, zones, prepaid terms,
/// resource groups, tags) are fenced by `known`.
fn create_refusals(call: &Call) -> Result<(), AliError> {
    const SAYS_WHAT_WEIR_DOES: &[(&str, &str, &str)] = &[
        (
            "AddressType",
            "intranet",
            "Weir's addresses are the VSwitch's own (intranet); there are no public addresses",
        ),
        (
            "PayType",
            "PayOnDemand",
            "there is no billing; only PayOnDemand is accepted",
        ),
        (
            "InstanceChargeType",
            "PayByCLCU",
            "there are no instance specifications; only PayByCLCU is accepted",
        ),
        (
            "InternetChargeType",
            "paybytraffic",
            "there is no internet bandwidth billing; only paybytraffic is accepted",
        ),
        (
            "DeleteProtection",
            "off",
            "deletion protection is not enforced; send off",
        ),
        (
            "ModificationProtectionStatus",
            "NonProtection",
            "modification protection is not enforced; send NonProtection",
        ),
    ];
    for (name, served, why) in SAYS_WHAT_WEIR_DOES {
        if call
            .params
            .opt(name)
            .is_some_and(|v| !v.eq_ignore_ascii_case(served))
        {
            return Err(super::https::unsupported(name, why));
        }
    }
    Ok(())
}

/// `AddressIPVersion` is honoured as a check: the VIP comes from the
/// VSwitch (or `Address`), so the version asked must be the VSwitch's.
async fn check_ip_version(call: &Call, subnet: &str) -> Result<(), AliError> {
    let Some(asked) = call.params.opt("AddressIPVersion") else {
        return Ok(());
    };
    let v6 = match asked {
        "ipv4" => false,
        "ipv6" => true,
        other => {
            return Err(AliError::invalid(format!(
                "The parameter AddressIPVersion is invalid: {other:?} is not ipv4 or ipv6."
            )))
        }
    };
    let subnets = call
        .dialects
        .control
        .list_subnets(&call.principal)
        .await
        .map_err(fail)?;
    // An unknown VSwitch is the create's own not-found answer.
    if let Some(s) = subnets.iter().find(|s| s.id.as_str() == subnet) {
        if s.cidr.addr().is_ipv6() != v6 {
            return Err(AliError::invalid(format!(
                "The parameter AddressIPVersion is invalid: VSwitch {subnet} is {}, not {asked}.",
                if v6 { "ipv4" } else { "ipv6" }
            )));
        }
    }
    Ok(())
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
        .filter(|lb| p.opt("Address").is_none_or(|a| lb.vip.to_string() == a))
        .filter(|lb| {
            p.opt("AddressIPVersion")
                .is_none_or(|v| v == if lb.vip.is_ipv4() { "ipv4" } else { "ipv6" })
        })
        // Every Weir load balancer is an intranet one in a VPC.
        .filter(|_| p.opt("AddressType").is_none_or(|t| t == "intranet"))
        .filter(|_| p.opt("NetworkType").is_none_or(|t| t == "vpc"))
        .filter(|lb| {
            p.opt("LoadBalancerStatus")
                .is_none_or(|s| s == status_name(lb.status))
        })
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
