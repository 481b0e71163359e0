//! `weir pool create`, `delete` and `rename`: server groups made,
//! removed and renamed natively (`docs/parity.md`), each one request as
//! [`crate::client`]'s commands build.

use serde_json::{json, Map, Value};

use crate::cli::{Command, PoolCmd};
use crate::client::{call, Call};
use crate::output::Show;

/// The request of one of these commands; `None` for any other command.
pub fn build(command: &Command) -> Option<Call> {
    let Command::Pool(pool) = command else {
        return None;
    };
    Some(match pool {
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
        _ => return None,
    })
}
