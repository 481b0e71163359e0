//! The default server group (seed 003's `AddBackendServers`, remove,
//! set) and `DescribeHealthStatus`.

use super::*;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Server {
    pub(super) server_id: Option<String>,
    pub(super) port: Option<Lenient>,
    pub(super) weight: Option<Lenient>,
    #[serde(rename = "Type")]
    pub(super) kind: Option<String>,
    pub(super) server_ip: Option<String>,
    pub(super) description: Option<String>,
}

pub(super) fn servers(call: &Call) -> Result<Vec<Server>, AliError> {
    servers_in(call, "BackendServers")
}

pub(super) fn servers_in(call: &Call, param: &str) -> Result<Vec<Server>, AliError> {
    let raw = call.params.req(param)?;
    let value: Value = serde_json::from_str(raw).map_err(|e| {
        AliError::invalid(format!(
            "The parameter BackendServers is not a JSON list: {e}"
        ))
    })?;
    serde_path_to_error::deserialize::<_, Vec<Server>>(value).map_err(|e| {
        AliError::invalid(format!(
            "The parameter BackendServers is invalid at {}: {}",
            e.path(),
            e.inner()
        ))
    })
}

pub(super) fn check_type(i: usize, s: &Server) -> Result<(), AliError> {
    match s.kind.as_deref() {
        None | Some("ecs" | "eni" | "eci") => Ok(()),
        Some(other) => Err(AliError::invalid(format!(
            "The parameter BackendServers[{i}].Type is invalid: {other:?} is not ecs, eni or eci."
        ))),
    }
}

pub(super) async fn add_backend_servers(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let list = servers(call)?;
    let mut specs = Vec::with_capacity(list.len());
    let mut types = Vec::with_capacity(list.len());
    for (i, s) in list.into_iter().enumerate() {
        check_type(i, &s)?;
        types.push(s.kind.clone().unwrap_or_else(|| "ecs".to_owned()));
        let id = s
            .server_id
            .ok_or_else(|| AliError::missing(&format!("BackendServers[{i}].ServerId")))?;
        specs.push(BackendSpec {
            instance_id: Some(id),
            // ENI backends name their IP; the core checks it is the
            // instance's.
            address: s.server_ip,
            weight: s.weight.map(|w| w.0),
            name: s.description,
            ..BackendSpec::default()
        });
    }
    let outcome = call
        .dialects
        .control
        .register_backends(
            &call.principal,
            RegisterRequest {
                target: RegisterTarget::LoadBalancer(lb.id.clone()),
                backends: specs,
                policy: policy(),
                client_token: None,
            },
        )
        .await
        .map_err(fail)?;
    // Echo each added server with the Type it was sent with; first-wins
    // duplicates were skipped, so walk the request without them.
    let skipped: Vec<usize> = outcome.ignored.iter().map(|i| i.index).collect();
    let kinds = types
        .iter()
        .enumerate()
        .filter(|(i, _)| !skipped.contains(i))
        .map(|(_, t)| t);
    let added: Vec<Value> = outcome
        .backends
        .iter()
        .zip(kinds)
        .map(|(b, kind)| {
            let mut v = server_view(b);
            v["Type"] = json!(kind);
            v
        })
        .collect();
    Ok(json!({"LoadBalancerId": lb.id.as_str(), "BackendServers": {"BackendServer": added}}))
}

/// What SetBackendServers and SetVServerGroupAttribute change of a server.
pub(super) fn server_update(s: &Server) -> BackendUpdate {
    BackendUpdate {
        weight: s.weight.map(|w| w.0),
        name: s.description.clone(),
        ..BackendUpdate::default()
    }
}

pub(super) fn selector(s: &Server) -> BackendSelector {
    match &s.server_id {
        Some(id) if !id.is_empty() => BackendSelector {
            instance_id: Some(id.clone()),
            ..BackendSelector::default()
        },
        _ => BackendSelector {
            address: s.server_ip.clone(),
            ..BackendSelector::default()
        },
    }
}

pub(super) async fn remove_backend_servers(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let list = servers(call)?;
    at_most_per_call(list.len(), "BackendServers")?;
    let selectors = list.iter().map(selector).collect();
    call.dialects
        .control
        .deregister_selected(
            &call.principal,
            RegisterTarget::LoadBalancer(lb.id.clone()),
            selectors,
            WhenMissing::Skip,
            "BackendServers",
        )
        .await
        .map_err(fail)?;
    let left: Vec<Value> = default_group(call, &lb)
        .await?
        .iter()
        .map(server_view)
        .collect();
    Ok(json!({"LoadBalancerId": lb.id.as_str(), "BackendServers": {"BackendServer": left}}))
}

pub(super) async fn set_backend_servers(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let list = servers(call)?;
    at_most_per_call(list.len(), "BackendServers")?;
    let changes = list
        .iter()
        .map(|s| (selector(s), server_update(s)))
        .collect();
    call.dialects
        .control
        .update_selected(
            &call.principal,
            RegisterTarget::LoadBalancer(lb.id.clone()),
            changes,
            policy(),
            "BackendServers",
        )
        .await
        .map_err(fail)?;
    let all: Vec<Value> = default_group(call, &lb)
        .await?
        .iter()
        .map(server_view)
        .collect();
    Ok(json!({"LoadBalancerId": lb.id.as_str(), "BackendServers": {"BackendServer": all}}))
}

/// Alibaba's words: `unavailable` when the group is not checked (or has
/// no verdict yet).
pub(super) fn health_word(call: &Call, b: &Backend, checked: bool) -> &'static str {
    if !checked {
        return "unavailable";
    }
    match call.dialects.control.backend_live(&b.id).map(|l| l.state) {
        Some(BackendState::Healthy) => "normal",
        Some(BackendState::Unhealthy) => "abnormal",
        _ => "unavailable",
    }
}

pub(super) async fn describe_health_status(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let port = call.params.int("ListenerPort")?;
    let protocol = call.params.opt("ListenerProtocol");
    let listeners: Vec<Listener> = call
        .dialects
        .control
        .list_listeners(&call.principal, &lb.id)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|l| port.is_none_or(|p| l.single_port().map(i64::from) == Some(p)))
        .filter(|l| protocol.is_none_or(|p| p.eq_ignore_ascii_case(l.protocol.as_str())))
        .collect();
    let (pool, _, group) = call
        .dialects
        .control
        .backends_of(
            &call.principal,
            &RegisterTarget::LoadBalancer(lb.id.clone()),
        )
        .await
        .map_err(fail)?;
    let checked = pool.health_check.is_some();
    let mut rows = Vec::new();
    for l in &listeners {
        let listener_port = l.single_port();
        for b in &group {
            let port = match b.ports.key() {
                0 => l.backend_port.or(listener_port),
                p => Some(p),
            };
            rows.push(json!({
                "ServerId": b.instance_id.as_ref().map_or_else(|| b.address.to_string(), |i| i.to_string()),
                "ServerIp": b.address.to_string(),
                "Port": port,
                "ListenerPort": listener_port,
                "Protocol": l.protocol.as_str(),
                "ServerHealthStatus": health_word(call, b, checked),
            }));
        }
    }
    Ok(json!({"BackendServers": {"BackendServer": rows}}))
}
