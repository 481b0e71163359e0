//! `weir pool tls`: the TLS a pool's backends are dialled with
//! (`backend_tls` of `PATCH /v1/pools/{id}`).

use serde_json::{json, Value};

use super::{call_clearing, Call};
use crate::cli::PoolCmd;
use crate::output::Show;

pub(super) fn build(cmd: PoolCmd) -> Call {
    match cmd {
        PoolCmd::List { .. }
        | PoolCmd::Show { .. }
        | PoolCmd::Update { .. }
        | PoolCmd::Create { .. }
        | PoolCmd::Delete { .. }
        | PoolCmd::Rename { .. }
        | PoolCmd::ReplaceBackends { .. } => {
            unreachable!("built with the other commands (commands.rs, groups.rs)")
        }
        PoolCmd::Tls {
            id,
            off,
            ca_ref,
            ca_cert,
            no_verify,
            crl_ref,
            client_cert_ref,
            server_name,
            tls_versions,
        } => {
            let tls = if off {
                Value::Null
            } else {
                let mut body = serde_json::Map::new();
                for (name, value) in [
                    ("ca_ref", ca_ref),
                    ("ca_certificate_id", ca_cert),
                    ("crl_ref", crl_ref),
                    ("client_certificate_ref", client_cert_ref),
                    ("server_name", server_name),
                ] {
                    if let Some(v) = value {
                        body.insert(name.to_owned(), json!(v));
                    }
                }
                // Sent only when said: the server refuses it beside a CA
                // rather than ignoring one of the two.
                if no_verify {
                    body.insert("verify".to_owned(), json!(false));
                }
                if !tls_versions.is_empty() {
                    body.insert("tls_versions".to_owned(), json!(tls_versions));
                }
                Value::Object(body)
            };
            // `--off` is a null that clears: sent as built.
            call_clearing(
                "PATCH",
                format!("/v1/pools/{id}"),
                json!({ "backend_tls": tls }),
                Show::Object,
            )
        }
    }
}
