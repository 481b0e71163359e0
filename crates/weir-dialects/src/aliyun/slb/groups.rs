//! VServer groups: server groups with a port per server.

use super::*;

// === VServer groups: server groups with a port per server ===

/// The group named by `VServerGroupId`, with its load balancer.
pub(super) async fn vserver_group(call: &Call) -> Result<(LoadBalancer, Pool), AliError> {
    let id = call.params.req("VServerGroupId")?;
    let not_found = || {
        AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            "InvalidVServerGroupId.NotFound",
            format!("The specified VServerGroupId {id} does not exist."),
        )
    };
    let control = &call.dialects.control;
    let pool = control
        .get_pool(&call.principal, &PoolId::new(id))
        .await
        .map_err(|_| not_found())?;
    let lb = control
        .get_load_balancer(&call.principal, &pool.lb_id)
        .await
        .map_err(fail)?;
    if !is_server_group(&lb, &pool) {
        return Err(not_found());
    }
    Ok((lb, pool))
}

/// Group servers: `ServerId` and `Port` required, as Alibaba's API has it.
pub(super) fn group_specs(list: Vec<Server>, param: &str) -> Result<Vec<BackendSpec>, AliError> {
    if list.len() > PER_CALL {
        return Err(AliError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "InvalidParameter.BackendServersTooMany",
            format!("The parameter {param} names more than {PER_CALL} servers."),
        ));
    }
    let mut specs = Vec::with_capacity(list.len());
    for (i, s) in list.into_iter().enumerate() {
        check_type(i, &s)?;
        let id = s
            .server_id
            .ok_or_else(|| AliError::missing(&format!("{param}[{i}].ServerId")))?;
        let port = s
            .port
            .ok_or_else(|| AliError::missing(&format!("{param}[{i}].Port")))?;
        specs.push(BackendSpec {
            instance_id: Some(id),
            address: s.server_ip,
            port: Some(port.0),
            weight: s.weight.map(|w| w.0),
            name: s.description,
            ..BackendSpec::default()
        });
    }
    Ok(specs)
}

pub(super) fn group_server_view(b: &Backend) -> Value {
    let mut v = server_view(b);
    v["Port"] = json!(b.ports.key());
    v
}

pub(super) fn group_selector(s: &Server) -> BackendSelector {
    BackendSelector {
        port: s.port.map(|p| p.0),
        ..selector(s)
    }
}

pub(super) async fn group_servers(call: &Call, pool: &Pool) -> Result<Vec<Value>, AliError> {
    Ok(call
        .dialects
        .control
        .backends_of(&call.principal, &RegisterTarget::Pool(pool.id.clone()))
        .await
        .map_err(fail)?
        .2
        .iter()
        .map(group_server_view)
        .collect())
}

pub(super) async fn create_vserver_group(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let name = call.params.req("VServerGroupName")?.to_owned();
    let specs = match call.params.opt("BackendServers") {
        Some(_) => group_specs(servers(call)?, "BackendServers")?,
        None => Vec::new(),
    };
    let (pool, added) = call
        .dialects
        .control
        .create_server_group(
            &call.principal,
            lb.id,
            NewServerGroup {
                name,
                ..NewServerGroup::default()
            },
            None,
            specs,
            group_policy(),
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": added.iter().map(group_server_view).collect::<Vec<_>>()},
    }))
}

pub(super) async fn describe_vserver_groups(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let control = &call.dialects.control;
    let listeners = control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?;
    let groups: Vec<Value> = control
        .list_pools(&call.principal, &lb.id)
        .await
        .map_err(fail)?
        .iter()
        .filter(|p| is_server_group(&lb, p))
        // `Description` is SLB's filter on the group's name.
        .filter(|p| call.params.opt("Description").is_none_or(|d| p.name == d))
        .map(|p| {
            let users: Vec<Value> = listeners
                .iter()
                .filter(|l| l.group_pool_id.as_ref() == Some(&p.id))
                .map(|l| json!({"Port": l.single_port(), "Protocol": l.protocol.as_str()}))
                .collect();
            json!({
                "VServerGroupId": p.id.as_str(),
                "VServerGroupName": p.name,
                "AssociatedObjects": {"Listeners": {"Listener": users}},
            })
        })
        .collect();
    Ok(json!({"VServerGroups": {"VServerGroup": groups}}))
}

pub(super) async fn describe_vserver_group(call: &Call) -> ActionResult {
    let (lb, pool) = vserver_group(call).await?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "VServerGroupName": pool.name,
        "LoadBalancerId": lb.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

pub(super) async fn add_vserver_group_servers(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let specs = group_specs(servers(call)?, "BackendServers")?;
    call.dialects
        .control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target: RegisterTarget::Pool(pool.id.clone()),
                backends: specs,
                policy: group_policy(),
                client_token: None,
            },
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

pub(super) async fn remove_vserver_group_servers(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let list = servers(call)?;
    at_most_per_call(list.len(), "BackendServers")?;
    call.dialects
        .control
        .deregister_selected(
            &call.principal,
            RegisterTarget::Pool(pool.id.clone()),
            list.iter().map(group_selector).collect(),
            WhenMissing::Skip,
            "BackendServers",
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

pub(super) async fn set_vserver_group_attribute(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let control = &call.dialects.control;
    if call.params.opt("BackendServers").is_some() {
        let list = servers(call)?;
        let changes = list
            .iter()
            .map(|s| (group_selector(s), server_update(s)))
            .collect();
        control
            .update_selected(
                &call.principal,
                RegisterTarget::Pool(pool.id.clone()),
                changes,
                group_policy(),
                "BackendServers",
            )
            .await
            .map_err(fail)?;
    }
    let pool = match call.params.opt("VServerGroupName") {
        Some(name) => control
            .update_pool(
                &call.principal,
                pool.id,
                PoolUpdate {
                    name: Some(name.to_owned()),
                    ..PoolUpdate::default()
                },
            )
            .await
            .map_err(fail)?,
        None => pool,
    };
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "VServerGroupName": pool.name,
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

pub(super) async fn modify_vserver_group_servers(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    let old = servers_in(call, "OldBackendServers")?;
    let new = servers_in(call, "NewBackendServers")?;
    if old.len() != new.len() {
        return Err(AliError::invalid(
            "OldBackendServers and NewBackendServers must name as many servers.",
        ));
    }
    let old: Vec<BackendSelector> = old.iter().map(group_selector).collect();
    let new = group_specs(new, "NewBackendServers")?;
    at_most_per_call(old.len(), "OldBackendServers")?;
    call.dialects
        .control
        .replace_backends(
            &call.principal,
            RegisterTarget::Pool(pool.id.clone()),
            old,
            new,
            group_policy(),
            "OldBackendServers",
        )
        .await
        .map_err(fail)?;
    Ok(json!({
        "VServerGroupId": pool.id.as_str(),
        "BackendServers": {"BackendServer": group_servers(call, &pool).await?},
    }))
}

pub(super) async fn delete_vserver_group(call: &Call) -> ActionResult {
    let (_, pool) = vserver_group(call).await?;
    call.dialects
        .control
        .delete_server_group(&call.principal, pool.id, WhenInUse::Refuse)
        .await
        .map_err(fail)?;
    Ok(json!({}))
}
