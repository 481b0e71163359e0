//! Project quotas over a real socket: the operator sets them through
//! Octavia's `/quotas` (or the native `/v1/projects/{id}/quotas`), and
//! every dialect's creates are held to them — Octavia's 403 "Quota has
//! been met", the native API's `QuotaExceeded`, Huawei's ELB.1003 — while
//! another project's quota is not found and a member cannot write one.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
#[allow(dead_code, reason = "only the status helpers are used here")]
mod octavia;

use serde_json::{json, Value};

use harness::{Reply, Server};
use octavia::{status, text};

/// A native API call with the handle's bearer token (or `token`).
fn native(s: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![("Authorization", format!("Bearer {token}"))];
    if !bytes.is_empty() {
        headers.push(("Content-Type", "application/json".to_owned()));
    }
    s.send(
        method,
        path,
        &headers,
        bytes.as_bytes(),
        format!("{method} {path} {bytes}"),
    )
}

#[track_caller]
fn met(reply: &Reply, resource: &str) {
    let body = status(reply, 403);
    let message = body["faultstring"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("Quota has been met for resources: {resource}")),
        "{message}"
    );
}

#[test]
fn quotas_set_through_octavia_bind_every_dialect() {
    let s = harness::start_with(harness::Options {
        second_project: true,
        ..Default::default()
    });
    let project = s.inventory.project.clone();
    let (_, token) = s.keystone_token();
    let os = |method: &str, rest: &str, body: Option<Value>| {
        s.octavia(&token, method, rest, body.as_ref())
    };
    let admin = s.with_role("admin");
    let (_, admin_token) = admin.keystone_token();
    let as_admin = |method: &str, rest: &str, body: Option<Value>| {
        admin.octavia(&admin_token, method, rest, body.as_ref())
    };

    // Defaults: load balancers from limits, the rest unlimited; the
    // deprecated spellings shown too.
    let defaults = status(&os("GET", "/quotas/defaults", None), 200);
    assert_eq!(defaults["quota"]["load_balancer"], 100);
    assert_eq!(defaults["quota"]["loadbalancer"], 100);
    assert_eq!(defaults["quota"]["member"], -1);

    // A member of the project cannot set its own quota.
    let refused = os(
        "PUT",
        &format!("/quotas/{project}"),
        Some(json!({"quota": {"load_balancer": 50}})),
    );
    status(&refused, 403);

    // The operator sets them (the deprecated `loadbalancer` spelling too).
    let set = as_admin(
        "PUT",
        &format!("/quotas/{project}"),
        Some(
            json!({"quota": {"loadbalancer": 1, "listener": 1, "pool": 1, "member": 2,
                              "health_monitor": 1, "l7policy": 0, "l7rule": -1}}),
        ),
    );
    let set = status(&set, 202);
    assert_eq!(set["quota"]["load_balancer"], 1);
    assert_eq!(set["quota"]["l7rule"], -1);
    assert_eq!(set["quota"]["project_id"], project.as_str());
    let shown = status(&os("GET", &format!("/quotas/{project}"), None), 200);
    assert_eq!(shown["quota"]["member"], 2);

    // Load balancers: one through Octavia, the next refused natively and
    // through Huawei ELB, each in its own words.
    let lb = os(
        "POST",
        "/loadbalancers",
        Some(json!({"loadbalancer": {"vip_subnet_id": s.inventory.subnet}})),
    );
    let lb = text(&status(&lb, 201), "/loadbalancer/id");
    let again = native(
        &s,
        &s.inventory.token,
        "POST",
        "/v1/loadbalancers",
        Some(json!({"subnet_id": s.inventory.subnet})),
    );
    assert_eq!(status(&again, 403)["error"]["code"], "QuotaExceeded");
    let huawei = s.huawei(
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": s.inventory.subnet}})),
    );
    assert_eq!(status(&huawei, 403)["error_code"], "ELB.1003");
    met(
        &os(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": s.inventory.subnet}})),
        ),
        "LoadBalancer",
    );

    // Listeners: one natively, then Octavia's 403.
    let listener = native(
        &s,
        &s.inventory.token,
        "POST",
        &format!("/v1/loadbalancers/{lb}/listeners"),
        Some(json!({"protocol": "http", "port": 80})),
    );
    let listener = status(&listener, 201);
    let own_pool = text(&listener, "/default_pool_id");
    let listener = text(&listener, "/id");
    met(
        &os(
            "POST",
            "/listeners",
            Some(
                json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP",
                                     "protocol_port": 81}}),
            ),
        ),
        "Listener",
    );

    // Pools and monitors.
    let pool = os(
        "POST",
        "/pools",
        Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "HTTP",
                             "lb_algorithm": "ROUND_ROBIN"}})),
    );
    let pool = text(&status(&pool, 201), "/pool/id");
    met(
        &os(
            "POST",
            "/pools",
            Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "TCP",
                                 "lb_algorithm": "ROUND_ROBIN"}})),
        ),
        "Pool",
    );
    let monitor = json!({"healthmonitor": {"pool_id": pool, "type": "TCP", "delay": 5,
                                          "timeout": 3, "max_retries": 2}});
    status(&os("POST", "/healthmonitors", Some(monitor)), 201);
    // The listener's own pool is a second: its check is refused natively.
    let check = native(
        &s,
        &s.inventory.token,
        "PATCH",
        &format!("/v1/pools/{own_pool}"),
        Some(json!({"health_check": {"type": "tcp"}})),
    );
    assert_eq!(
        status(&check, 403)["error"]["code"],
        "QuotaExceeded",
        "{}",
        check.text
    );

    // Members: two through Octavia (one batch), the third refused in both.
    let member = |n: u8| json!({"member": {"address": format!("10.0.1.{n}"), "protocol_port": 80}});
    status(
        &os("POST", &format!("/pools/{pool}/members"), Some(member(41))),
        201,
    );
    status(
        &os("POST", &format!("/pools/{pool}/members"), Some(member(42))),
        201,
    );
    met(
        &os("POST", &format!("/pools/{pool}/members"), Some(member(43))),
        "Member",
    );
    let native_member = native(
        &s,
        &s.inventory.token,
        "POST",
        &format!("/v1/listeners/{listener}/backends"),
        Some(json!({"backends": [{"address": "10.0.1.44", "port": 80}]})),
    );
    assert_eq!(
        status(&native_member, 403)["error"]["code"],
        "QuotaExceeded"
    );

    // A quota of 0 allows none: no L7 policy at all.
    met(
        &os(
            "POST",
            "/l7policies",
            Some(json!({"l7policy": {"listener_id": listener, "action": "REJECT"}})),
        ),
        "L7Policy",
    );

    // Raising one lets the next through; a reset returns to the defaults.
    status(
        &as_admin(
            "PUT",
            &format!("/quotas/{project}"),
            Some(json!({"quota": {"member": 3}})),
        ),
        202,
    );
    status(
        &os("POST", &format!("/pools/{pool}/members"), Some(member(43))),
        201,
    );
    status(
        &as_admin("DELETE", &format!("/quotas/{project}"), None),
        202,
    );
    let reset = status(&os("GET", &format!("/quotas/{project}"), None), 200);
    assert_eq!(reset["quota"]["load_balancer"], 100);
    assert_eq!(reset["quota"]["member"], -1);
    let listed = status(&as_admin("GET", "/quotas", None), 200);
    assert_eq!(listed["quotas"], json!([]), "a reset leaves no quota set");
}

#[test]
fn another_projects_quota_is_not_found_and_bad_values_are_refused() {
    let s = harness::start_with(harness::Options {
        second_project: true,
        ..Default::default()
    });
    let mine = s.inventory.project.clone();
    let theirs = s.other.as_ref().unwrap().project.clone();
    let admin = s.with_role("admin");
    let (_, admin_token) = admin.keystone_token();
    let as_admin = |method: &str, rest: &str, body: Option<Value>| {
        admin.octavia(&admin_token, method, rest, body.as_ref())
    };
    for project in [&mine, &theirs] {
        status(
            &as_admin(
                "PUT",
                &format!("/quotas/{project}"),
                Some(json!({"quota": {"member": 7}})),
            ),
            202,
        );
    }
    let all = status(&as_admin("GET", "/quotas", None), 200);
    assert_eq!(all["quotas"].as_array().unwrap().len(), 2);

    let (_, token) = s.keystone_token();
    let os = |method: &str, rest: &str| s.octavia(&token, method, rest, None);
    // Another project's quota reads as one that does not exist.
    let foreign = os("GET", &format!("/quotas/{theirs}"));
    let ghost = os("GET", "/quotas/no-such-project");
    assert_eq!((foreign.status, ghost.status), (404, 404));
    status(&os("GET", &format!("/quotas/{theirs}/default")), 404);
    // A project lists only its own.
    let listed = status(&os("GET", "/quotas"), 200);
    let ids: Vec<&str> = listed["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["project_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    // Nor may it write another's (or its own).
    for project in [&mine, &theirs] {
        status(&os("DELETE", &format!("/quotas/{project}")), 403);
    }
    let native_foreign = native(
        &s,
        &s.inventory.token,
        "GET",
        &format!("/v1/projects/{theirs}/quotas"),
        None,
    );
    status(&native_foreign, 404);

    // Bad values are refused by name and change nothing.
    for (body, field) in [
        (json!({"member": -2}), "member"),
        (json!({"pool": 2_000_000_001_i64}), "pool"),
        (json!({"listener": "many"}), "listener"),
        (json!({"load_balancers": 1}), "load_balancers"),
        (
            json!({"load_balancer": 1, "loadbalancer": 2}),
            "loadbalancer",
        ),
    ] {
        let reply = as_admin(
            "PUT",
            &format!("/quotas/{mine}"),
            Some(json!({ "quota": body })),
        );
        let message = status(&reply, 400)["faultstring"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(field), "{field}: {message}");
    }
    status(
        &as_admin(
            "PUT",
            "/quotas/no-such-project",
            Some(json!({"quota": {"member": 1}})),
        ),
        404,
    );
    let kept = status(&as_admin("GET", &format!("/quotas/{mine}"), None), 200);
    assert_eq!(kept["quota"]["member"], 7);

    // The native API says the same.
    let shown = native(
        &admin,
        &admin.inventory.token,
        "PUT",
        &format!("/v1/projects/{mine}/quotas"),
        Some(json!({"member": null, "pool": 3})),
    );
    let shown = status(&shown, 200);
    assert_eq!(shown["quotas"]["member"], -1);
    assert_eq!(shown["set"]["member"], Value::Null);
    assert_eq!(shown["quotas"]["pool"], 3);
    let member_write = native(
        &s,
        &s.inventory.token,
        "PUT",
        &format!("/v1/projects/{mine}/quotas"),
        Some(json!({"pool": 30})),
    );
    status(&member_write, 403);
}
