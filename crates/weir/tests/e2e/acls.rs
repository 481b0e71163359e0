//! Access control lists end to end, from the CLI: a listener denying a
//! list that holds this test's client (127.0.0.1) reaches no backend, and
//! `weir acl remove-entry` lets the client in on its next connection.

use std::net::SocketAddr;

use serde_json::json;

use crate::support::*;
use crate::traffic::{tagging_backend, until_tag};

#[test]
fn a_deny_list_from_the_cli_applies_to_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 173, 9);
    let admin = "acl-cli-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let acl = weir_json(url, &token, &["acl", "create", "--name", "blocked"]);
    let acl_id = acl["id"].as_str().unwrap();
    let filled = weir_json(
        url,
        &token,
        &[
            "acl",
            "add-entry",
            acl_id,
            "127.0.0.1",
            "--comment",
            "this test",
        ],
    );
    assert_eq!(filled["entries"][0]["cidr"], "127.0.0.1/32");
    // A malformed network is refused by the CLI's exit status.
    let (ok, _, err) = weir(url, &token, &["acl", "add-entry", acl_id, "127.0.0.1/33"]);
    assert!(!ok, "a malformed network: {err}");
    let listener = weir_json(
        url,
        &token,
        &[
            "listener",
            "create",
            "--lb",
            lb["id"].as_str().unwrap(),
            "--protocol",
            "tcp",
            "--port",
            &port.to_string(),
            "--acl",
            acl_id,
            "--acl-mode",
            "deny",
        ],
    );
    assert_eq!(
        (&listener["acl_id"], &listener["acl_mode"]),
        (&json!(acl_id), &json!("deny"))
    );
    let listener_id = listener["id"].as_str().unwrap();
    let a = tagging_backend("a");
    let (status, body) = request(
        "POST",
        &format!("{url}/v1/listeners/{listener_id}/backends"),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": a.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    // The registration answers once applied; the listed client is still refused.
    // Refused by the list, not by a port that is not bound yet: the
    // listener counts the refusal.
    assert_eq!(tag_of(front), None, "a client in the deny list");
    let metrics = ureq::get(&format!("{url}/metrics"))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "weir_listener_denied_total{{listener=\"{listener_id}\"}} 1"
        )),
        "{metrics}"
    );
    let (ok, _, err) = weir(url, &token, &["acl", "delete", acl_id]);
    assert!(!ok, "deleting a list in use: {err}");
    weir_json(url, &token, &["acl", "remove-entry", acl_id, "127.0.0.1"]);
    until_tag(front, "a");
}
