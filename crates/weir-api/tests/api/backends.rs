//! Registering, listing, updating and deregistering backends.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::harness::*;

fn register(s: &Server, f: &Fixture, body: Value) -> Reply {
    s.post(
        &format!("/v1/listeners/{}/backends", f.listener),
        &f.token,
        body,
    )
}

fn pool_size(s: &Server, f: &Fixture) -> usize {
    let listed = s.get(
        &format!("/v1/pools/{}/backends?limit=1000", f.pool),
        &f.token,
    );
    listed.body["backends"].as_array().unwrap().len()
}

#[test]
fn register_list_update_deregister() {
    let s = start();
    let f = fixture(&s);
    let reply = register(
        &s,
        &f,
        json!({"backends": [
            {"instance_id": f.instances[0], "weight": 10, "name": "web-0"},
            {"address": "10.0.1.50", "port": 8080, "backup": true, "enabled": false},
        ]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let made = reply.body["backends"].as_array().unwrap().clone();
    assert_eq!(
        made[0]["address"], "10.0.1.11",
        "address from the inventory"
    );
    assert_eq!(made[0]["port"], 80, "port defaults to the listener's");
    assert_eq!(made[0]["instance_id"], f.instances[0].as_str());
    assert_eq!(made[1]["port"], 8080);
    assert_eq!(
        (made[1]["backup"].clone(), made[1]["enabled"].clone()),
        (json!(true), json!(false))
    );

    let listed = s
        .get(&format!("/v1/pools/{}/backends", f.pool), &f.token)
        .body;
    assert_eq!(
        listed["backends"],
        json!(made),
        "listing returns what registration returned"
    );
    let via_listener = s
        .get(&format!("/v1/listeners/{}/backends", f.listener), &f.token)
        .body;
    assert_eq!(via_listener["backends"], json!(made));

    let id = made[0]["id"].as_str().unwrap();
    let patched = s.call(
        "PATCH",
        &format!("/v1/backends/{id}"),
        &f.token,
        Some(json!({"weight": 0, "enabled": false, "backup": true, "name": "drain-me"})),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["weight"], 0);
    assert_eq!(patched.body["name"], "drain-me");
    assert_eq!(
        s.get(&format!("/v1/backends/{id}"), &f.token).body,
        patched.body
    );
    let bad = s.call(
        "PATCH",
        &format!("/v1/backends/{id}"),
        &f.token,
        Some(json!({"weight": 70000})),
    );
    assert_error(&bad, 400, "InvalidField");

    let deleted = s.call("DELETE", &format!("/v1/backends/{id}"), &f.token, None);
    assert_eq!(deleted.status, 204);
    assert_error(
        &s.get(&format!("/v1/backends/{id}"), &f.token),
        404,
        "NotFound",
    );
    assert_eq!(pool_size(&s, &f), 1);
}

#[test]
fn a_thousand_in_one_call_and_paged_back() {
    let s = start();
    let f = fixture(&s);
    let backends: Vec<Value> = (0..1000)
        .map(|i| json!({"address": format!("10.0.{}.{}", 2 + i / 250, 1 + i % 250), "weight": 1 + i % 7}))
        .collect();
    let reply = register(&s, &f, json!({"backends": backends}));
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["backends"].as_array().unwrap().len(), 1000);

    let mut seen = HashSet::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &marker {
            Some(m) => format!("/v1/pools/{}/backends?limit=300&marker={m}", f.pool),
            None => format!("/v1/pools/{}/backends?limit=300", f.pool),
        };
        let page = s.get(&path, &f.token).body;
        pages += 1;
        for b in page["backends"].as_array().unwrap() {
            assert!(seen.insert(b["address"].as_str().unwrap().to_owned()));
        }
        match page["next_marker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging must end");
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(pages, 4);

    let over = register(&s, &f, json!({"backends": [{"address": "10.0.9.9"}]}));
    assert_error(&over, 403, "QuotaExceeded");
    let bad_limit = s.get(&format!("/v1/pools/{}/backends?limit=0", f.pool), &f.token);
    assert_error(&bad_limit, 400, "InvalidField");
}

#[test]
fn a_rejected_batch_writes_nothing() {
    let s = start();
    let f = fixture(&s);
    let before = s.revision();
    let cases = [
        (
            json!([{"address": "10.0.1.50"}, {"address": "8.8.8.8"}]),
            400,
            "AddressNotPrivate",
        ),
        (
            json!([{"address": "10.0.1.50"}, {"address": "169.254.169.254"}]),
            400,
            "AddressReserved",
        ),
        (
            json!([{"address": "10.0.1.50"}, {"address": "127.0.1.1"}]),
            400,
            "AddressReserved",
        ),
        (
            json!([{"address": "10.0.1.50"}, {"address": "10.0.1.50"}]),
            409,
            "DuplicateAddressInRequest",
        ),
        (
            json!([{"instance_id": f.instances[0]}, {"instance_id": f.instances[0], "port": 81}]),
            409,
            "DuplicateInstanceInRequest",
        ),
        (
            json!([{"address": "10.0.1.50"}, {"instance_id": "no-such-instance"}]),
            404,
            "NotFound",
        ),
        (
            json!([{"address": "10.0.1.50"}, {"address": "10.0.1.51", "weight": 65536}]),
            400,
            "InvalidField",
        ),
        (
            json!([{"address": "10.0.1.50"}, {"address": "10.0.1.51", "port": 0}]),
            400,
            "InvalidField",
        ),
        (
            json!([{"instance_id": f.instances[0], "address": "10.0.1.99"}]),
            400,
            "InstanceAddressMismatch",
        ),
        (
            json!([{"address": "10.0.1.50", "subnet_id": f.subnet}, {"address": "10.0.2.50", "subnet_id": f.subnet}]),
            400,
            "AddressNotInSubnet",
        ),
        (json!([]), 400, "InvalidField"),
    ];
    for (backends, status, code) in cases {
        let reply = register(&s, &f, json!({"backends": backends}));
        assert_error(&reply, status, code);
    }
    assert_eq!(pool_size(&s, &f), 0);
    assert_eq!(s.revision(), before, "nothing reached the change log");
}

#[test]
fn existing_backends_and_instances_conflict() {
    let s = start();
    let f = fixture(&s);
    assert_eq!(
        register(
            &s,
            &f,
            json!({"backends": [{"instance_id": f.instances[0]}]})
        )
        .status,
        201
    );
    let same_addr = register(&s, &f, json!({"backends": [{"address": "10.0.1.11"}]}));
    assert_error(&same_addr, 409, "BackendExists");
    let same_instance = register(
        &s,
        &f,
        json!({"backends": [{"instance_id": f.instances[0], "port": 81}]}),
    );
    assert_error(&same_instance, 409, "InstanceAlreadyRegistered");
    let stopped = s.call(
        "PATCH",
        &format!("/v1/instances/{}", f.instances[1]),
        ADMIN,
        Some(json!({"state": "stopped"})),
    );
    assert_eq!(stopped.status, 200);
    let not_running = register(
        &s,
        &f,
        json!({"backends": [{"instance_id": f.instances[1]}]}),
    );
    assert_error(&not_running, 409, "InstanceNotRunning");
}

#[test]
fn first_wins_reports_what_it_ignored() {
    let s = start();
    let f = fixture(&s);
    let reply = register(
        &s,
        &f,
        json!({"on_duplicate": "first_wins", "backends": [
            {"instance_id": f.instances[0], "weight": 5},
            {"instance_id": f.instances[0], "weight": 9},
            {"address": "10.0.1.60"},
        ]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["backends"].as_array().unwrap().len(), 2);
    assert_eq!(reply.body["backends"][0]["weight"], 5);
    assert_eq!(reply.body["ignored"][0]["index"], 1);
    assert_eq!(
        reply.body["ignored"][0]["code"],
        "DuplicateInstanceInRequest"
    );
}

#[test]
fn ports_on_dr_and_multi_port_listeners_are_refused() {
    let s = start();
    let f = fixture(&s);
    let dr = s.create(
        &format!("/v1/loadbalancers/{}/listeners", f.lb),
        &f.token,
        json!({"protocol": "tcp", "port": 443, "forwarding_mode": "dr"}),
    );
    let path = format!("/v1/listeners/{}/backends", dr["id"].as_str().unwrap());
    let refused = s.post(
        &path,
        &f.token,
        json!({"backends": [{"address": "10.0.1.70", "port": 8443}]}),
    );
    assert_error(&refused, 400, "PortNotAllowed");
    let ok = s.post(
        &path,
        &f.token,
        json!({"backends": [{"address": "10.0.1.70"}]}),
    );
    assert_eq!(ok.status, 201);
    assert_eq!(
        ok.body["backends"][0]["port"],
        Value::Null,
        "DR backends take the client's port"
    );
}

#[test]
fn the_lb_wide_pool_takes_backends_too() {
    let s = start();
    let f = fixture(&s);
    let reply = s.post(
        &format!("/v1/loadbalancers/{}/backends", f.lb),
        &f.token,
        json!({"backends": [{"instance_id": f.instances[2], "ports": [80, 443]}]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["backends"][0]["ports"], json!([80, 443]));
    assert_eq!(reply.body["backends"][0]["listener_id"], Value::Null);
}

#[test]
fn client_tokens_make_retries_safe() {
    let s = start();
    let f = fixture(&s);
    let body = json!({"client_token": "retry-1", "backends": [{"address": "10.0.1.80"}, {"address": "10.0.1.81"}]});
    let first = register(&s, &f, body.clone());
    assert_eq!(first.status, 201);
    assert!(!first.replayed);
    let again = register(&s, &f, body);
    assert_eq!(again.status, 201);
    assert!(again.replayed, "the replay is marked");
    assert_eq!(
        again.body["backends"], first.body["backends"],
        "same backends, same ids"
    );
    assert_eq!(pool_size(&s, &f), 2, "registered once");

    let changed = register(
        &s,
        &f,
        json!({"client_token": "retry-1", "backends": [{"address": "10.0.1.82"}]}),
    );
    assert_error(&changed, 409, "ClientTokenReused");
    let bad_token = register(
        &s,
        &f,
        json!({"client_token": "has space", "backends": [{"address": "10.0.1.83"}]}),
    );
    assert_error(&bad_token, 400, "InvalidField");
    assert_eq!(pool_size(&s, &f), 2);
}

#[test]
fn concurrent_duplicates_have_exactly_one_winner() {
    let s = start();
    let f = fixture(&s);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    register(&s, &f, json!({"backends": [{"address": "10.0.1.90"}]})).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(pool_size(&s, &f), 1);
}

#[test]
fn concurrent_writes_to_one_lb_all_succeed() {
    let s = start();
    let f = fixture(&s);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let (s, f) = (&s, &f);
                scope.spawn(move || {
                    register(
                        s,
                        f,
                        json!({"backends": [{"address": format!("10.0.3.{}", i + 1)}]}),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|s| *s == 201),
        "no lock, no busy errors: {statuses:?}"
    );
    assert_eq!(pool_size(&s, &f), 32);
}

#[test]
fn load_balancers_listeners_and_backends_keep_tags() {
    let s = start();
    let f = fixture(&s);
    // Made without tags: an empty list, never absent.
    let plain = s.get(&format!("/v1/loadbalancers/{}", f.lb), &f.token);
    assert_eq!(plain.body["tags"], json!([]));

    let lb = s.create(
        "/v1/loadbalancers",
        &f.token,
        json!({"subnet_id": f.subnet, "tags": ["web", "prod", "web"]}),
    );
    assert_eq!(lb["tags"], json!(["web", "prod"]), "duplicates collapse");
    let lb_id = lb["id"].as_str().unwrap();
    let listener = s.create(
        &format!("/v1/loadbalancers/{lb_id}/listeners"),
        &f.token,
        json!({"protocol": "tcp", "port": 80, "tags": ["edge"]}),
    );
    assert_eq!(listener["tags"], json!(["edge"]));
    let shown = s.get(
        &format!("/v1/listeners/{}", listener["id"].as_str().unwrap()),
        &f.token,
    );
    assert_eq!(shown.body["tags"], json!(["edge"]));

    let reply = register(
        &s,
        &f,
        json!({"backends": [{"address": "10.0.1.60", "port": 8080, "tags": ["b"]}]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let backend = &reply.body["backends"][0];
    assert_eq!(backend["tags"], json!(["b"]));
    let path = format!("/v1/backends/{}", backend["id"].as_str().unwrap());
    let renamed = s.call("PATCH", &path, &f.token, Some(json!({"name": "n"})));
    assert_eq!(renamed.body["tags"], json!(["b"]), "absent keeps them");
    let replaced = s.call("PATCH", &path, &f.token, Some(json!({"tags": ["c", "d"]})));
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["tags"], json!(["c", "d"]));
    let cleared = s.call("PATCH", &path, &f.token, Some(json!({"tags": []})));
    assert_eq!(cleared.body["tags"], json!([]));

    // The core's rules, as every other invalid field.
    let too_long = s.post(
        "/v1/loadbalancers",
        &f.token,
        json!({"subnet_id": f.subnet, "tags": ["x".repeat(256)]}),
    );
    assert_error(&too_long, 400, "InvalidField");
    assert_eq!(too_long.body["error"]["field"], "tags[0]");
    let too_many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let refused = s.call("PATCH", &path, &f.token, Some(json!({"tags": too_many})));
    assert_error(&refused, 400, "InvalidField");
    assert_eq!(refused.body["error"]["field"], "tags");
}
