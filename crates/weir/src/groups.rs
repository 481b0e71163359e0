//! `weir pool create`, `delete` and `rename`: server groups made,
//! removed and renamed natively (`docs/parity.md`), each one request as
//! [`crate::client`]'s commands build.

use serde_json::{json, Map, Value};

use crate::cli::{Command, PoolCmd};
use crate::client::{call, Call};
use crate::output::Show;

/// The request of one of these commands; `None` for any other command.
pub fn build(command: &Command) -> Option<Result<Call, String>> {
    let Command::Pool(pool) = command else {
        return None;
    };
    Some(Ok(match pool {
        PoolCmd::Create {
            lb,
            name,
            scheduler,
            protocol,
            listener,
            description,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            for (field, value) in [
                ("scheduler", scheduler),
                ("protocol", protocol),
                ("listener_id", listener),
                ("description", description),
            ] {
                if let Some(v) = value {
                    body.insert(field.into(), json!(v));
                }
            }
            call(
                "POST",
                format!("/v1/loadbalancers/{lb}/pools"),
                Some(Value::Object(body)),
                Show::Object,
            )
        }
        PoolCmd::Delete { id, detach } => call(
            "DELETE",
            if *detach {
                format!("/v1/pools/{id}?detach=true")
            } else {
                format!("/v1/pools/{id}")
            },
            None,
            Show::Done(format!("deleted pool {id}")),
        ),
        PoolCmd::Rename { id, name } => call(
            "PATCH",
            format!("/v1/pools/{id}"),
            Some(json!({ "name": name })),
            Show::Object,
        ),
        PoolCmd::ReplaceBackends {
            id,
            address,
            port,
            additive_only,
        } => {
            let backends: Result<Vec<Value>, String> =
                address.iter().map(|text| desired(text, *port)).collect();
            let backends = match backends {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            call(
                "PUT",
                format!("/v1/pools/{id}/backends"),
                Some(json!({"backends": backends, "additive_only": additive_only})),
                Show::Object,
            )
        }
        _ => return None,
    }))
}

/// `ADDRESS:PORT`, `[V6]:PORT`, or `ADDRESS` with `--port`.
fn desired(text: &str, port: Option<u16>) -> Result<Value, String> {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(json!({"address": addr.ip().to_string(), "port": addr.port()}));
    }
    match (text.parse::<std::net::IpAddr>(), port) {
        (Ok(ip), Some(port)) => Ok(json!({"address": ip.to_string(), "port": port})),
        (Ok(_), None) => Err(format!(
            "--address {text:?}: give a port (ADDRESS:PORT or --port)"
        )),
        (Err(_), _) => Err(format!(
            "--address {text:?}: expected IP, IP:PORT or [IPv6]:PORT"
        )),
    }
}
