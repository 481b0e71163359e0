//! External-Keystone mode (issue 19) over real sockets: Weir B trusts the
//! Keystone of Weir A (a second server on loopback, standing in for an
//! operator's Keystone: it issues tokens and answers `GET
//! /v3/auth/tokens` as Keystone does). A's project becomes B's on first
//! use, with the same id; the token's roles decide what it may do on B; a
//! revocation at A stops the token on B once B's cache lapses; a token A
//! does not know is 401, and an unreachable Keystone is 503.

#[path = "golden/harness.rs"]
mod harness;

use std::time::Duration;

use serde_json::{json, Value};
use weir_dialects::openstack::ExternalKeystone;

use harness::{Reply, Server};

#[track_caller]
fn expect(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}\n-> {}", reply.request, reply.text);
    if reply.text.is_empty() {
        Value::Null
    } else {
        reply.json()
    }
}

/// Weir B, validating with the Keystone at `keystone_url` as `service`.
fn weir_trusting(keystone_url: String, service: &Server, cache: Duration) -> Server {
    harness::start_with(harness::Options {
        config: weir_dialects::Config {
            external_keystone: Some(ExternalKeystone {
                url: keystone_url,
                username: service.inventory.access_key_id.clone(),
                password: service.inventory.secret.clone(),
                user_domain: "Default".into(),
                project_name: "golden".into(),
                project_domain: "Default".into(),
                cache,
            }),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn admin_call(server: &Server, method: &str, path: &str, body: Option<Value>) -> Reply {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    server.send(
        method,
        path,
        &[
            ("Authorization", "Bearer golden-admin".to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ],
        bytes.as_bytes(),
        format!("{method} {path} {bytes}"),
    )
}

#[test]
fn tokens_of_the_operators_keystone_act_on_weir_with_their_roles() {
    let keystone = harness::start();
    let service = keystone.with_role("observer");
    let weir = weir_trusting(
        format!("http://{}/v3", keystone.host),
        &service,
        Duration::from_secs(1),
    );
    let project = keystone.inventory.project.clone();

    // Weir's own Keystone is not served in this mode.
    let own = weir.send(
        "POST",
        "/v3/auth/tokens",
        &[],
        b"{}",
        "POST /v3/auth/tokens".into(),
    );
    assert_eq!(own.status, 404, "{}", own.text);

    // A member's token: the project appears on Weir under the same id.
    let (_, member_token) = keystone.keystone_token();
    let listed = weir.octavia(&member_token, "GET", "/loadbalancers", None);
    assert_eq!(expect(&listed, 200)["loadbalancers"], json!([]));
    let projects = expect(&admin_call(&weir, "GET", "/v1/projects", None), 200);
    let mapped: Vec<&Value> = projects["projects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == project.as_str())
        .collect();
    assert_eq!(mapped.len(), 1, "{projects}");
    assert_eq!(mapped[0]["name"], "golden");

    // The operator gives it a network on Weir; the member builds on it.
    let vpc = expect(
        &admin_call(
            &weir,
            "POST",
            "/v1/vpcs",
            Some(json!({"project_id": project, "cidr": "10.40.0.0/16"})),
        ),
        201,
    );
    let subnet = expect(
        &admin_call(
            &weir,
            "POST",
            "/v1/subnets",
            Some(json!({"vpc_id": vpc["id"], "cidr": "10.40.1.0/24"})),
        ),
        201,
    );
    let lb = weir.octavia(
        &member_token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": subnet["id"], "name": "from keystone"}})),
    );
    let lb = expect(&lb, 201)["loadbalancer"].clone();
    assert_eq!(lb["project_id"], project.as_str());
    let lb_id = lb["id"].as_str().unwrap().to_owned();

    // A reader's token reads and cannot write.
    let reader = keystone.with_role("reader");
    let (_, reader_token) = reader.keystone_token();
    let shown = weir.octavia(
        &reader_token,
        "GET",
        &format!("/loadbalancers/{lb_id}"),
        None,
    );
    expect(&shown, 200);
    let refused = weir.octavia(
        &reader_token,
        "DELETE",
        &format!("/loadbalancers/{lb_id}"),
        None,
    );
    expect(&refused, 403);

    // Revoked at the Keystone: refused on Weir once its cache (1 s) lapses.
    let revoke = format!(
        "/v1/projects/{project}/credentials/{}",
        reader.inventory.access_key_id
    );
    expect(&admin_call(&keystone, "DELETE", &revoke, None), 204);
    std::thread::sleep(Duration::from_millis(1200));
    let after = weir.octavia(
        &reader_token,
        "GET",
        &format!("/loadbalancers/{lb_id}"),
        None,
    );
    expect(&after, 401);

    // Tokens the Keystone never issued, or none at all.
    for token in ["", "not-a-token", &"x".repeat(9000)] {
        let reply = weir.octavia(token, "GET", "/loadbalancers", None);
        expect(&reply, 401);
    }
    // The member's token still works: one revocation is not everyone's.
    expect(
        &weir.octavia(&member_token, "GET", "/loadbalancers", None),
        200,
    );
}

#[test]
fn an_unreachable_keystone_is_a_retryable_503_and_bad_service_credentials_too() {
    let keystone = harness::start();
    let service = keystone.with_role("observer");
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let weir = weir_trusting(
        format!("http://{closed}/v3"),
        &service,
        Duration::from_secs(60),
    );
    let (_, token) = keystone.keystone_token();
    let reply = weir.octavia(&token, "GET", "/loadbalancers", None);
    expect(&reply, 503);

    // Service credentials the Keystone refuses: 503 as well, never a 2xx.
    let mut wrong = service.clone();
    wrong.inventory.secret = "not the secret".into();
    let weir = weir_trusting(
        format!("http://{}/v3", keystone.host),
        &wrong,
        Duration::from_secs(60),
    );
    let reply = weir.octavia(&token, "GET", "/loadbalancers", None);
    expect(&reply, 503);
}
