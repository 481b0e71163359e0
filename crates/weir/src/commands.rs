//! The client commands that complete the native API's parity with the
//! dialects (`docs/parity.md`): pools, load balancer update, listener
//! delete, an HTTPS listener's domain extensions, and the show,
//! update and rule commands of instances, access control lists and L7
//! policies. Each
//! builds one request as [`crate::client`]'s do.

use serde_json::{json, Map, Value};

use crate::cli::*;
use crate::client::{call, call_clearing, Call};
use crate::output::Show;

const POOL_COLUMNS: &[&str] = &[
    "id",
    "name",
    "listener_id",
    "protocol",
    "scheduler",
    "health_check.type",
    "drain_timeout_ms",
    "slow_start_ms",
];

/// The request of one of these commands; `None` for any other command.
pub fn build(command: &Command) -> Option<Result<Call, String>> {
    if let Some(built) = crate::groups::build(command) {
        return Some(built);
    }
    if let Some(built) = crate::flavors::build(command) {
        return Some(built);
    }
    Some(Ok(match command {
        Command::Pool(PoolCmd::List { lb }) => call(
            "GET",
            format!("/v1/loadbalancers/{lb}/pools"),
            None,
            Show::Table("pools", POOL_COLUMNS),
        ),
        Command::Lb(LbCmd::Update {
            id,
            name,
            description,
            vip_mode,
        }) => {
            if name.is_none() && description.is_none() && vip_mode.is_none() {
                return Some(Err(
                    "name at least one change (--name, --description, --vip-mode)".into(),
                ));
            }
            // Built member by member: a null vip_mode is sent, and means
            // "back to the deployment's mode".
            let mut body = Map::new();
            for (field, value) in [("name", name), ("description", description)] {
                if let Some(v) = value {
                    body.insert(field.into(), json!(v));
                }
            }
            match vip_mode.as_deref() {
                None => {}
                Some("inherit") => {
                    body.insert("vip_mode".into(), Value::Null);
                }
                Some(mode) => {
                    body.insert("vip_mode".into(), json!(mode));
                }
            }
            call_clearing(
                "PATCH",
                format!("/v1/loadbalancers/{id}"),
                Value::Object(body),
                Show::Object,
            )
        }
        Command::Lb(LbCmd::Stats { id }) => call(
            "GET",
            format!("/v1/loadbalancers/{id}/stats"),
            None,
            Show::Object,
        ),
        Command::Listener(ListenerCmd::Stats { id }) => call(
            "GET",
            format!("/v1/listeners/{id}/stats"),
            None,
            Show::Object,
        ),
        Command::Listener(ListenerCmd::Delete { id }) => call(
            "DELETE",
            format!("/v1/listeners/{id}"),
            None,
            Show::Done(format!("deleted listener {id}")),
        ),
        Command::Pool(PoolCmd::Show { id }) => {
            call("GET", format!("/v1/pools/{id}"), None, Show::Object)
        }
        Command::Pool(update @ PoolCmd::Update { .. }) => return Some(pool_update(update)),
        Command::Instance(InstanceCmd::Show { id }) => {
            call("GET", format!("/v1/instances/{id}"), None, Show::Object)
        }
        Command::Acl(AclCmd::Update { id, name }) => call(
            "PATCH",
            format!("/v1/acls/{id}"),
            Some(json!({ "name": name })),
            Show::Object,
        ),
        Command::L7policy(L7PolicyCmd::Update {
            id,
            name,
            action,
            pool,
            redirect_url,
            prefix,
            code,
            position,
            enable,
            disable,
        }) => {
            let mut body = Map::new();
            for (field, value) in [
                ("name", name.clone().map(Value::from)),
                ("action", action.clone().map(Value::from)),
                ("redirect_pool_id", pool.clone().map(Value::from)),
                ("redirect_url", redirect_url.clone().map(Value::from)),
                ("redirect_prefix", prefix.clone().map(Value::from)),
                ("redirect_http_code", code.map(Value::from)),
                ("position", position.map(Value::from)),
                (
                    "enabled",
                    (*enable || *disable).then_some(Value::from(*enable)),
                ),
            ] {
                if let Some(v) = value {
                    body.insert(field.to_owned(), v);
                }
            }
            if body.is_empty() {
                return Some(Err("name at least one change (--name, --action, …)".into()));
            }
            call(
                "PATCH",
                format!("/v1/l7policies/{id}"),
                Some(Value::Object(body)),
                Show::Object,
            )
        }
        Command::L7policy(L7PolicyCmd::RuleAdd { id, rule }) => match rule_body(rule) {
            Ok(body) => call(
                "POST",
                format!("/v1/l7policies/{id}/rules"),
                Some(body),
                Show::Object,
            ),
            Err(e) => return Some(Err(e)),
        },
        Command::L7policy(L7PolicyCmd::RuleRemove { id, rule_id }) => call(
            "DELETE",
            format!("/v1/l7policies/{id}/rules/{rule_id}"),
            None,
            Show::Done(format!("removed rule {rule_id}")),
        ),
        Command::Domain(DomainCmd::Add {
            listener,
            domain,
            cert,
        }) => call(
            "POST",
            format!("/v1/listeners/{listener}/domains"),
            Some(json!({ "domain": domain, "certificate_id": cert })),
            Show::Object,
        ),
        Command::Domain(DomainCmd::Set { id, listener, cert }) => call(
            "PATCH",
            format!("/v1/listeners/{listener}/domains/{id}"),
            Some(json!({ "certificate_id": cert })),
            Show::Object,
        ),
        Command::Domain(DomainCmd::Remove { id, listener }) => call(
            "DELETE",
            format!("/v1/listeners/{listener}/domains/{id}"),
            None,
            Show::Done(format!("removed domain extension {id}")),
        ),
        Command::Project(ProjectCmd::Quota(QuotaCmd::List)) => call(
            "GET",
            "/v1/quotas",
            None,
            Show::Table(
                "quotas",
                &[
                    "project_id",
                    "quotas.load_balancer",
                    "quotas.listener",
                    "quotas.pool",
                    "quotas.member",
                ],
            ),
        ),
        Command::L7policy(L7PolicyCmd::RuleUpdate {
            id,
            rule_id,
            rule,
            enable,
            disable,
        }) => {
            let mut body = match rule.as_deref().map(rule_body).transpose() {
                // The whole match is replaced: a rule given without a key
                // drops the old one.
                Ok(Some(mut body)) => {
                    if body.get("key").is_none() {
                        body["key"] = Value::Null;
                    }
                    body
                }
                Ok(None) => json!({}),
                Err(e) => return Some(Err(e)),
            };
            if *enable || *disable {
                body["enabled"] = json!(*enable);
            }
            if body.as_object().is_some_and(Map::is_empty) {
                return Some(Err(
                    "name at least one change (--rule, --enable, --disable)".into(),
                ));
            }
            call_clearing(
                "PATCH",
                format!("/v1/l7policies/{id}/rules/{rule_id}"),
                body,
                Show::Object,
            )
        }
        _ => return None,
    }))
}

fn pool_update(command: &PoolCmd) -> Result<Call, String> {
    let PoolCmd::Update {
        id,
        health_check,
        interval_ms,
        timeout_ms,
        rise,
        fall,
        check_port,
        path,
        expected_codes,
        method,
        host,
        no_health_check,
        drain_timeout_ms,
        slow_start_ms,
        fail_open,
    } = command
    else {
        unreachable!("only update");
    };
    let mut body = Map::new();
    if let Some(kind) = health_check {
        let mut check = Map::new();
        check.insert("type".into(), json!(kind));
        for (field, value) in [
            ("interval_ms", interval_ms.map(Value::from)),
            ("timeout_ms", timeout_ms.map(Value::from)),
            ("rise", rise.map(Value::from)),
            ("fall", fall.map(Value::from)),
            ("port", check_port.map(Value::from)),
            ("path", path.clone().map(Value::from)),
            ("expected_codes", expected_codes.clone().map(Value::from)),
            ("method", method.clone().map(Value::from)),
            ("host", host.clone().map(Value::from)),
        ] {
            if let Some(v) = value {
                check.insert(field.into(), v);
            }
        }
        body.insert("health_check".into(), Value::Object(check));
    }
    if *no_health_check {
        body.insert("health_check".into(), Value::Null);
    }
    for (field, value) in [
        ("drain_timeout_ms", drain_timeout_ms),
        ("slow_start_ms", slow_start_ms),
    ] {
        if let Some(v) = value {
            body.insert(field.into(), json!(v));
        }
    }
    if let Some(on) = fail_open {
        body.insert("fail_open".into(), json!(on == "on"));
    }
    if body.is_empty() {
        return Err(
            "name at least one change (--health-check, --no-health-check, --drain-timeout-ms, --slow-start-ms, --fail-open)"
                .into(),
        );
    }
    Ok(call_clearing(
        "PATCH",
        format!("/v1/pools/{id}"),
        Value::Object(body),
        Show::Object,
    ))
}

/// A rule of `weir l7policy create --rule`: `[!]TYPE:COMPARE[:KEY]=VALUE`
/// (the value may hold `=` and `:`; the server checks every part).
pub fn rule_body(spec: &str) -> Result<Value, String> {
    let (invert, spec) = match spec.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let bad = || format!("--rule {spec:?}: expected TYPE:COMPARE[:KEY]=VALUE");
    let (lhs, value) = spec.split_once('=').ok_or_else(bad)?;
    let mut parts = lhs.splitn(3, ':');
    let (Some(rule_type), Some(compare)) = (parts.next(), parts.next()) else {
        return Err(bad());
    };
    let mut body = json!({"type": rule_type, "compare_type": compare, "value": value,
                          "invert": invert});
    if let Some(key) = parts.next() {
        body["key"] = json!(key);
    }
    Ok(body)
}
