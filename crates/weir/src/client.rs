//! The client subcommands: each builds one API request, then prints the
//! answer ([`crate::output`]: a table, `-o wide`, or the raw JSON with
//! `--json`). Errors print as one line with the API's code and exit
//! non-zero.

use std::process::ExitCode;

use serde_json::{json, Value};

use crate::cli::*;
use crate::commands;
use crate::output::{self, Show};

mod pools;

/// One API call and how to show its answer.
pub struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
    show: Show,
    /// The body's `null` members are sent (they clear a field); else
    /// they stand for flags left out and are dropped.
    explicit_nulls: bool,
}

const LB_COLUMNS: &[&str] = &["id", "name", "vip", "status", "subnet_id"];
const L7_COLUMNS: &[&str] = &[
    "id",
    "position",
    "action",
    "redirect_pool_id",
    "redirect_url",
    "redirect_prefix",
    "enabled",
    "name",
];
const LISTENER_COLUMNS: &[&str] = &[
    "id",
    "name",
    "protocol",
    "port",
    "forwarding_mode",
    "scheduler",
    "default_pool_id",
];
const BACKEND_COLUMNS: &[&str] = &[
    "id",
    "address",
    "port",
    "weight",
    "enabled",
    "backup",
    "status.state",
    "status.reason",
    "instance_id",
    "name",
];

pub fn call(
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    show: Show,
) -> Call {
    Call {
        method,
        path: path.into(),
        body,
        show,
        explicit_nulls: false,
    }
}

/// A call whose body was built member by member: a `null` in it clears
/// the field (`--no-acl`, `--no-redirect`, `--no-health-check`).
pub fn call_clearing(
    method: &'static str,
    path: impl Into<String>,
    body: Value,
    show: Show,
) -> Call {
    Call {
        explicit_nulls: true,
        ..call(method, path, Some(body), show)
    }
}

fn pool_path(t: &PoolTarget) -> String {
    match (&t.listener, &t.pool, &t.lb) {
        (Some(l), _, _) => format!("/v1/listeners/{l}/backends"),
        (_, Some(p), _) => format!("/v1/pools/{p}/backends"),
        (_, _, Some(lb)) => format!("/v1/loadbalancers/{lb}/backends"),
        _ => unreachable!("clap requires one target"),
    }
}

/// `ADDRESS`, `ADDRESS:PORT` or `[V6]:PORT` → (address, port).
fn split_address(text: &str) -> Result<(String, Option<i64>), String> {
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Ok((text.to_owned(), None));
    }
    let addr: std::net::SocketAddr = text
        .parse()
        .map_err(|_| format!("--address {text:?}: expected IP, IP:PORT or [IPv6]:PORT"))?;
    Ok((addr.ip().to_string(), Some(i64::from(addr.port()))))
}

fn build(command: Command) -> Result<Call, String> {
    if let Some(built) = commands::build(&command) {
        return built;
    }
    Ok(match command {
        Command::Serve(_) | Command::Watch(_) | Command::Completions { .. } => {
            unreachable!("handled by main")
        }
        Command::Pool(cmd @ PoolCmd::Tls { .. }) => pools::build(cmd),
        Command::Project(ProjectCmd::Create { name }) => call(
            "POST",
            "/v1/projects",
            Some(json!({"name": name})),
            Show::Object,
        ),
        Command::Project(ProjectCmd::List) => call(
            "GET",
            "/v1/projects",
            None,
            Show::Table("projects", &["id", "name", "access_key_id", "created_at"]),
        ),
        Command::Project(ProjectCmd::Credential(CredentialCmd::Create {
            project,
            role,
            name,
        })) => call(
            "POST",
            format!("/v1/projects/{project}/credentials"),
            Some(json!({"role": role, "name": name})),
            Show::Object,
        ),
        Command::Project(ProjectCmd::Credential(CredentialCmd::List { project })) => call(
            "GET",
            format!("/v1/projects/{project}/credentials"),
            None,
            Show::Table(
                "credentials",
                &["access_key_id", "role", "name", "created_at"],
            ),
        ),
        Command::Project(ProjectCmd::Credential(CredentialCmd::Revoke {
            project,
            access_key_id,
        })) => call(
            "DELETE",
            format!("/v1/projects/{project}/credentials/{access_key_id}"),
            None,
            Show::Done(format!("revoked credential {access_key_id}")),
        ),
        Command::Project(ProjectCmd::Quota(QuotaCmd::Show { project })) => call(
            "GET",
            format!("/v1/projects/{project}/quotas"),
            None,
            Show::Object,
        ),
        Command::Project(ProjectCmd::Quota(QuotaCmd::Set {
            project,
            load_balancer,
            listener,
            pool,
            health_monitor,
            member,
            l7policy,
            l7rule,
        })) => {
            let mut body = serde_json::Map::new();
            for (name, value) in [
                ("load_balancer", load_balancer),
                ("listener", listener),
                ("pool", pool),
                ("health_monitor", health_monitor),
                ("member", member),
                ("l7policy", l7policy),
                ("l7rule", l7rule),
            ] {
                let Some(text) = value else { continue };
                let value = match text.as_str() {
                    "default" => Value::Null,
                    n => json!(n.parse::<i64>().map_err(|_| format!(
                        "--{}: {n:?} is not a count, -1 or default",
                        name.replace('_', "-")
                    ))?),
                };
                body.insert(name.to_owned(), value);
            }
            if body.is_empty() {
                return Err("name at least one quota to set (--member 100, --pool -1, …)".into());
            }
            call(
                "PUT",
                format!("/v1/projects/{project}/quotas"),
                Some(Value::Object(body)),
                Show::Object,
            )
        }
        Command::Project(ProjectCmd::Quota(QuotaCmd::Reset { project })) => call(
            "DELETE",
            format!("/v1/projects/{project}/quotas"),
            None,
            Show::Object,
        ),
        Command::Cert(CertCmd::Create {
            cert,
            key,
            ca,
            name,
            project,
        }) => {
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            };
            let mut body = match (ca, cert, key) {
                (Some(ca), _, _) => json!({"name": name, "type": "ca", "certificate": read(&ca)?}),
                (None, Some(cert), Some(key)) => {
                    json!({"name": name, "certificate": read(&cert)?, "private_key": read(&key)?})
                }
                _ => return Err("give --cert and --key, or --ca".into()),
            };
            if let Some(project) = project {
                body["project_id"] = project.into();
            }
            call("POST", "/v1/certificates", Some(body), Show::Object)
        }
        Command::Cert(CertCmd::List) => call(
            "GET",
            "/v1/certificates",
            None,
            Show::Table(
                "certificates",
                &["id", "name", "type", "subject", "key_type", "not_after"],
            ),
        ),
        Command::Cert(CertCmd::Show { id }) => {
            call("GET", format!("/v1/certificates/{id}"), None, Show::Object)
        }
        Command::Cert(CertCmd::Delete { id }) => call(
            "DELETE",
            format!("/v1/certificates/{id}"),
            None,
            Show::Done(format!("deleted certificate {id}")),
        ),
        Command::Acl(AclCmd::Create {
            name,
            ip_version,
            project,
        }) => {
            let mut body = json!({"name": name});
            if let Some(v) = ip_version {
                body["ip_version"] = v.into();
            }
            if let Some(project) = project {
                body["project_id"] = project.into();
            }
            call("POST", "/v1/acls", Some(body), Show::Object)
        }
        Command::Node(NodeCmd::List) => call(
            "GET",
            "/v1/nodes",
            None,
            Show::Table(
                "nodes",
                &[
                    "id",
                    "name",
                    "state",
                    "api_address",
                    "applied_revision",
                    "heartbeat_age_ms",
                    "vips",
                ],
            ),
        ),
        Command::Acl(AclCmd::List) => call(
            "GET",
            "/v1/acls",
            None,
            Show::Table("acls", &["id", "name", "ip_version", "created_at"]),
        ),
        Command::Acl(AclCmd::Show { id }) => {
            call("GET", format!("/v1/acls/{id}"), None, Show::Object)
        }
        Command::Acl(AclCmd::Delete { id }) => call(
            "DELETE",
            format!("/v1/acls/{id}"),
            None,
            Show::Done(format!("deleted access control list {id}")),
        ),
        Command::Acl(AclCmd::AddEntry { id, cidr, comment }) => call(
            "POST",
            format!("/v1/acls/{id}/entries"),
            Some(json!({"entries": [{"cidr": cidr, "comment": comment}]})),
            Show::Object,
        ),
        Command::Acl(AclCmd::RemoveEntry { id, cidr }) => call(
            "POST",
            format!("/v1/acls/{id}/entries/remove"),
            Some(json!({"cidrs": [cidr]})),
            Show::Object,
        ),
        Command::Vpc(VpcCmd::Create {
            project,
            cidr,
            name,
            border_gateway,
            shared,
        }) => call(
            "POST",
            "/v1/vpcs",
            Some(
                json!({"project_id": project, "cidr": cidr, "name": name, "has_border_gateway": border_gateway, "shared": shared}),
            ),
            Show::Object,
        ),
        Command::Vpc(VpcCmd::List) => call(
            "GET",
            "/v1/vpcs",
            None,
            Show::Table(
                "vpcs",
                &[
                    "id",
                    "project_id",
                    "name",
                    "cidr",
                    "has_border_gateway",
                    "shared",
                ],
            ),
        ),
        Command::Subnet(SubnetCmd::Create { vpc, cidr, name }) => call(
            "POST",
            "/v1/subnets",
            Some(json!({"vpc_id": vpc, "cidr": cidr, "name": name})),
            Show::Object,
        ),
        Command::Subnet(SubnetCmd::List) => call(
            "GET",
            "/v1/subnets",
            None,
            Show::Table("subnets", &["id", "vpc_id", "name", "cidr"]),
        ),
        Command::Instance(InstanceCmd::Create {
            project,
            subnet,
            ip,
            instance_type,
            state,
            name,
        }) => call(
            "POST",
            "/v1/instances",
            Some(
                json!({"project_id": project, "subnet_id": subnet, "private_ip": ip, "type": instance_type, "state": state, "name": name}),
            ),
            Show::Object,
        ),
        Command::Instance(InstanceCmd::List) => call(
            "GET",
            "/v1/instances",
            None,
            Show::Table(
                "instances",
                &["id", "name", "type", "state", "private_ip", "subnet_id"],
            ),
        ),
        Command::Instance(InstanceCmd::Update { id, state, name }) => call(
            "PATCH",
            format!("/v1/instances/{id}"),
            Some(json!({"state": state, "name": name})),
            Show::Object,
        ),
        Command::Lb(LbCmd::Create {
            subnet,
            name,
            vip,
            vip_mode,
        }) => {
            let mut body = json!({"subnet_id": subnet, "name": name, "vip": vip});
            if let Some(mode) = vip_mode {
                body["vip_mode"] = json!(mode);
            }
            call("POST", "/v1/loadbalancers", Some(body), Show::Object)
        }
        Command::Lb(LbCmd::List) => call(
            "GET",
            "/v1/loadbalancers",
            None,
            Show::Table("loadbalancers", LB_COLUMNS),
        ),
        Command::Lb(LbCmd::Show { id }) => {
            call("GET", format!("/v1/loadbalancers/{id}"), None, Show::Object)
        }
        Command::Lb(LbCmd::Stop { id }) => call(
            "POST",
            format!("/v1/loadbalancers/{id}/stop"),
            None,
            Show::Object,
        ),
        Command::Lb(LbCmd::Start { id }) => call(
            "POST",
            format!("/v1/loadbalancers/{id}/start"),
            None,
            Show::Object,
        ),
        Command::Lb(LbCmd::Delete { id, cascade }) => call(
            "DELETE",
            format!("/v1/loadbalancers/{id}?cascade={cascade}"),
            None,
            Show::Done(format!("deleted load balancer {id}")),
        ),
        Command::Listener(ListenerCmd::Create {
            lb,
            protocol,
            port,
            port_range,
            all_ports,
            mode,
            scheduler,
            proxy_protocol,
            name,
            allow,
            acl,
            acl_mode,
            cert,
            redirect_https_port,
            client_auth,
        }) => {
            let ranges = port_range
                .iter()
                .map(|r| {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    match (a.parse::<u32>(), b.parse::<u32>()) {
                        (Ok(start), Ok(end)) => Ok(json!({"start": start, "end": end})),
                        _ => Err(format!("--port-range {r:?}: expected START-END")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut body = json!({
                "name": name,
                "protocol": protocol,
                "forwarding_mode": mode,
                "scheduler": scheduler,
                "proxy_protocol": proxy_protocol,
            });
            if let Some(port) = port {
                body["port"] = json!(port);
            }
            if !ranges.is_empty() {
                body["port_ranges"] = json!(ranges);
            }
            if all_ports {
                body["all_ports"] = json!(true);
            }
            if !allow.is_empty() {
                body["allowed_cidrs"] = json!(allow);
            }
            if let (Some(acl), Some(mode)) = (acl, acl_mode) {
                body["acl_id"] = json!(acl);
                body["acl_mode"] = json!(mode);
            }
            if !cert.is_empty() {
                body["certificate_ids"] = json!(cert);
            }
            if let Some(port) = redirect_https_port {
                body["redirect_https_port"] = json!(port);
            }
            for (field, value) in client_auth.fields() {
                body[field] = value;
            }
            call(
                "POST",
                format!("/v1/loadbalancers/{lb}/listeners"),
                Some(body),
                Show::Object,
            )
        }
        Command::Listener(ListenerCmd::Update {
            id,
            name,
            group_pool,
            own_pool,
            allow,
            allow_any,
            acl,
            acl_mode,
            no_acl,
            idle_timeout_ms,
            connect_timeout_ms,
            backend_timeout_ms,
            max_connections,
            disable,
            enable,
            cert,
            redirect_https_port,
            no_redirect,
            client_auth,
        }) => {
            let mut body: serde_json::Map<_, _> = client_auth
                .fields()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            if let Some(port) = redirect_https_port {
                body.insert("redirect_https_port".into(), json!(port));
            }
            if no_redirect {
                body.insert("redirect_https_port".into(), serde_json::Value::Null);
            }
            if !cert.is_empty() {
                body.insert("certificate_ids".into(), json!(cert));
            }
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if let Some(group) = group_pool {
                body.insert("group_pool_id".into(), json!(group));
            }
            if own_pool {
                body.insert("group_pool_id".into(), serde_json::Value::Null);
            }
            if allow_any || !allow.is_empty() {
                body.insert("allowed_cidrs".into(), json!(allow));
            }
            if let (Some(acl), Some(mode)) = (acl, acl_mode) {
                body.insert("acl_id".into(), json!(acl));
                body.insert("acl_mode".into(), json!(mode));
            }
            if no_acl {
                body.insert("acl_id".into(), serde_json::Value::Null);
            }
            for (field, value) in [
                ("idle_timeout_ms", idle_timeout_ms),
                ("connect_timeout_ms", connect_timeout_ms),
                ("backend_timeout_ms", backend_timeout_ms),
                ("max_connections", max_connections),
            ] {
                if let Some(v) = value {
                    body.insert(field.into(), json!(v));
                }
            }
            if disable || enable {
                body.insert("enabled".into(), json!(enable));
            }
            call_clearing(
                "PATCH",
                format!("/v1/listeners/{id}"),
                Value::Object(body),
                Show::Object,
            )
        }
        Command::L7policy(L7PolicyCmd::Create {
            listener,
            action,
            pool,
            redirect_url,
            prefix,
            code,
            position,
            name,
            rules,
        }) => {
            let rules = rules
                .iter()
                .map(|r| commands::rule_body(r))
                .collect::<Result<Vec<_>, _>>()?;
            let mut body = json!({"name": name, "action": action, "rules": rules});
            for (field, value) in [
                ("redirect_pool_id", pool.map(Value::from)),
                ("redirect_url", redirect_url.map(Value::from)),
                ("redirect_prefix", prefix.map(Value::from)),
                ("redirect_http_code", code.map(Value::from)),
                ("position", position.map(Value::from)),
            ] {
                if let Some(v) = value {
                    body[field] = v;
                }
            }
            call(
                "POST",
                format!("/v1/listeners/{listener}/l7policies"),
                Some(body),
                Show::Object,
            )
        }
        Command::L7policy(L7PolicyCmd::List { listener }) => call(
            "GET",
            format!("/v1/listeners/{listener}/l7policies"),
            None,
            Show::Table("l7policies", L7_COLUMNS),
        ),
        Command::L7policy(L7PolicyCmd::Show { id }) => {
            call("GET", format!("/v1/l7policies/{id}"), None, Show::Object)
        }
        Command::L7policy(L7PolicyCmd::Delete { id }) => call(
            "DELETE",
            format!("/v1/l7policies/{id}"),
            None,
            Show::Done(format!("deleted L7 policy {id}")),
        ),
        Command::Listener(ListenerCmd::Show { id }) => {
            call("GET", format!("/v1/listeners/{id}"), None, Show::Object)
        }
        Command::Listener(ListenerCmd::List { lb }) => call(
            "GET",
            format!("/v1/loadbalancers/{lb}/listeners"),
            None,
            Show::Table("listeners", LISTENER_COLUMNS),
        ),
        Command::Backend(BackendCmd::Register {
            target,
            instance,
            address,
            file,
            port,
            weight,
            backup,
            disabled,
            name,
            client_token,
            first_wins,
        }) => {
            let mut backends: Vec<Value> = match &file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let doc: Value = serde_json::from_str(&text)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    doc.get("backends")
                        .and_then(Value::as_array)
                        .cloned()
                        .ok_or_else(|| {
                            format!("{}: expected {{\"backends\": [...]}}", path.display())
                        })?
                }
                None => Vec::new(),
            };
            let common = |mut b: Value| {
                for (key, value) in [("weight", json!(weight)), ("name", json!(name))] {
                    if !value.is_null() {
                        b[key] = value;
                    }
                }
                if backup {
                    b["backup"] = json!(true);
                }
                if disabled {
                    b["enabled"] = json!(false);
                }
                b
            };
            for id in &instance {
                let mut b = json!({"instance_id": id});
                if let Some(p) = port {
                    b["port"] = json!(p);
                }
                backends.push(common(b));
            }
            for text in &address {
                let (ip, own_port) = split_address(text)?;
                let mut b = json!({"address": ip});
                if let Some(p) = own_port.or(port) {
                    b["port"] = json!(p);
                }
                backends.push(common(b));
            }
            if backends.is_empty() {
                return Err("name at least one backend: --instance, --address or --file".to_owned());
            }
            let mut body = json!({"backends": backends, "on_duplicate": if first_wins { "first_wins" } else { "reject" }});
            if let Some(token) = client_token {
                body["client_token"] = json!(token);
            }
            call(
                "POST",
                pool_path(&target),
                Some(body),
                Show::Table("backends", BACKEND_COLUMNS),
            )
        }
        Command::Backend(BackendCmd::List {
            target,
            limit,
            marker,
        }) => {
            let mut path = pool_path(&target);
            let mut query = Vec::new();
            if let Some(l) = limit {
                query.push(format!("limit={l}"));
            }
            if let Some(m) = marker {
                query.push(format!("marker={m}"));
            }
            if !query.is_empty() {
                path = format!("{path}?{}", query.join("&"));
            }
            call("GET", path, None, Show::Table("backends", BACKEND_COLUMNS))
        }
        Command::Backend(BackendCmd::Show { id }) => {
            call("GET", format!("/v1/backends/{id}"), None, Show::Object)
        }
        Command::Backend(BackendCmd::Update {
            id,
            weight,
            enable,
            disable,
            backup,
            name,
        }) => {
            let enabled = if enable {
                Some(true)
            } else if disable {
                Some(false)
            } else {
                None
            };
            call(
                "PATCH",
                format!("/v1/backends/{id}"),
                Some(json!({"weight": weight, "enabled": enabled, "backup": backup, "name": name})),
                Show::Object,
            )
        }
        Command::Backend(BackendCmd::Deregister { id }) => call(
            "DELETE",
            format!("/v1/backends/{id}"),
            None,
            Show::Done(format!("deregistered backend {id}")),
        ),
        Command::Pool(_)
        | Command::Flavor(_)
        | Command::Flavorprofile(_)
        | Command::Domain(_)
        | Command::Project(ProjectCmd::Quota(QuotaCmd::List))
        | Command::Lb(LbCmd::Update { .. } | LbCmd::Stats { .. })
        | Command::Listener(ListenerCmd::Delete { .. } | ListenerCmd::Stats { .. })
        | Command::Instance(InstanceCmd::Show { .. })
        | Command::Acl(AclCmd::Update { .. })
        | Command::L7policy(
            L7PolicyCmd::Update { .. }
            | L7PolicyCmd::RuleAdd { .. }
            | L7PolicyCmd::RuleRemove { .. }
            | L7PolicyCmd::RuleUpdate { .. },
        ) => unreachable!("built by commands::build"),
    })
}

/// Drops `null` members so optional flags left out are not sent.
fn without_nulls(body: Value) -> Value {
    match body {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

pub fn main(args: &ClientArgs, command: Command, format: Format) -> ExitCode {
    let call = match build(command) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let url = format!("{}{}", args.url.trim_end_matches('/'), call.path);
    let mut request = ureq::request(call.method, &url);
    if let Some(token) = &args.token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let result = match call.body {
        Some(body) if call.explicit_nulls => request.send_json(body),
        Some(body) => request.send_json(without_nulls(body)),
        None => request.call(),
    };
    match result {
        Ok(response) => {
            let text = response.into_string().unwrap_or_default();
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            output::print(&call.show, &value, format);
            ExitCode::SUCCESS
        }
        Err(ureq::Error::Status(status, response)) => {
            let request_id = response.header("x-request-id").unwrap_or("").to_owned();
            let text = response.into_string().unwrap_or_default();
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if v["error"]["code"].is_string() => eprintln!(
                    "error: {} ({status}): {} [request {request_id}]",
                    v["error"]["code"].as_str().unwrap_or(""),
                    v["error"]["message"].as_str().unwrap_or("")
                ),
                _ => eprintln!("error: HTTP {status}: {text}"),
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: cannot reach {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
