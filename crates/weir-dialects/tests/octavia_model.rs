//! Octavia's resource model over a real socket (issue 19): any number of
//! pools per load balancer, each with its own algorithm and protocol, the
//! default pool of the listeners that name it, deleted for real; HTTPS
//! listeners passing TLS through; L7 policies Weir does not have; and the
//! pool and listener fields Weir cannot honour refused by name.

// The golden suite's harness, shared whole; this suite drives Octavia only.
#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::{json, Value};

use harness::Reply;
use octavia::{status, text, Octavia};

impl Octavia {
    fn pool(&self, body: Value) -> Reply {
        self.call("POST", "/pools", Some(json!({ "pool": body })))
    }

    fn listener(&self, lb: &str, protocol: &str, port: u16, extra: Value) -> Value {
        let mut body = json!({"loadbalancer_id": lb, "protocol": protocol, "protocol_port": port});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        status(
            &self.call("POST", "/listeners", Some(json!({ "listener": body }))),
            201,
        )
    }
}

#[test]
fn pools_are_many_per_load_balancer_each_with_its_own_algorithm() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet, "name": "pools"}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );

    // Two pools on the load balancer alone: no collision, each keeps its
    // algorithm, protocol and description; OFFLINE until a listener uses it.
    let a = status(
        &o.pool(
            json!({"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "SOURCE_IP",
                        "name": "a", "description": "by source"}),
        ),
        201,
    );
    let b = status(
        &o.pool(json!({"loadbalancer_id": lb, "protocol": "PROXY",
                        "lb_algorithm": "LEAST_CONNECTIONS", "name": "b"})),
        201,
    );
    let (a_id, b_id) = (text(&a, "/pool/id"), text(&b, "/pool/id"));
    assert_ne!(a_id, b_id);
    assert_eq!(text(&a, "/pool/lb_algorithm"), "SOURCE_IP");
    assert_eq!(text(&a, "/pool/description"), "by source");
    assert_eq!(text(&a, "/pool/operating_status"), "OFFLINE");
    assert_eq!(a["pool"]["listeners"], json!([]));
    assert_eq!(text(&b, "/pool/protocol"), "PROXY");
    assert_eq!(text(&b, "/pool/lb_algorithm"), "LEAST_CONNECTIONS");
    let listed = status(
        &o.call("GET", &format!("/pools?loadbalancer_id={lb}"), None),
        200,
    );
    let ids: Vec<String> = listed["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        vec![a_id.clone(), b_id.clone()],
        "only the pools made as pools"
    );
    let shown = status(&o.call("GET", &format!("/loadbalancers/{lb}"), None), 200);
    assert_eq!(
        shown["loadbalancer"]["pools"],
        json!([{"id": a_id}, {"id": b_id}])
    );

    // A listener created with a default pool forwards to it; the pool
    // lists the listener and reads ONLINE.
    let tcp = o.listener(&lb, "TCP", 80, json!({"default_pool_id": a_id}));
    let tcp_id = text(&tcp, "/listener/id");
    assert_eq!(text(&tcp, "/listener/default_pool_id"), a_id);
    let a = status(&o.call("GET", &format!("/pools/{a_id}"), None), 200);
    assert_eq!(a["pool"]["listeners"], json!([{"id": tcp_id}]));
    assert_eq!(text(&a, "/pool/operating_status"), "ONLINE");

    // A PROXY pool cannot serve an HTTP listener (Weir sends no PROXY
    // header over HTTP): refused, on create and on update.
    let http = o.listener(&lb, "HTTP", 8080, json!({}));
    let http_id = text(&http, "/listener/id");
    let refused = o.call(
        "PUT",
        &format!("/listeners/{http_id}"),
        Some(json!({"listener": {"default_pool_id": b_id}})),
    );
    status(&refused, 400);
    let refused = o.pool(json!({"listener_id": http_id, "protocol": "PROXY",
                                "lb_algorithm": "ROUND_ROBIN"}));
    assert!(status(&refused, 400)["faultstring"]
        .as_str()
        .unwrap()
        .contains("listener protocol is 'HTTP'"));

    // Switching the TCP listener to the other pool, and detaching it.
    let moved = o.call(
        "PUT",
        &format!("/listeners/{tcp_id}"),
        Some(json!({"listener": {"default_pool_id": b_id, "description": "to b"}})),
    );
    let moved = status(&moved, 200);
    assert_eq!(text(&moved, "/listener/default_pool_id"), b_id);
    assert_eq!(text(&moved, "/listener/description"), "to b");
    let detached = o.call(
        "PUT",
        &format!("/listeners/{tcp_id}"),
        Some(json!({"listener": {"default_pool_id": null}})),
    );
    assert_eq!(
        status(&detached, 200)["listener"]["default_pool_id"],
        Value::Null
    );

    // An update changes the algorithm and admin state, not the protocol.
    let updated = o.call(
        "PUT",
        &format!("/pools/{b_id}"),
        Some(
            json!({"pool": {"lb_algorithm": "ROUND_ROBIN", "admin_state_up": false,
                              "name": "b2"}}),
        ),
    );
    let updated = status(&updated, 200);
    assert_eq!(text(&updated, "/pool/lb_algorithm"), "ROUND_ROBIN");
    assert_eq!(updated["pool"]["admin_state_up"], false);
    assert_eq!(text(&updated, "/pool/name"), "b2");
    let immutable = o.call(
        "PUT",
        &format!("/pools/{b_id}"),
        Some(json!({"pool": {"protocol": "TCP"}})),
    );
    status(&immutable, 400);

    // Deleting a pool a listener forwards to: gone, and the listener is
    // left without a default pool.
    o.call(
        "PUT",
        &format!("/listeners/{tcp_id}"),
        Some(json!({"listener": {"default_pool_id": b_id}})),
    );
    status(&o.call("DELETE", &format!("/pools/{b_id}"), None), 204);
    status(&o.call("GET", &format!("/pools/{b_id}"), None), 404);
    status(&o.call("DELETE", &format!("/pools/{b_id}"), None), 404);
    let after = status(&o.call("GET", &format!("/listeners/{tcp_id}"), None), 200);
    assert_eq!(after["listener"]["default_pool_id"], Value::Null);
    let listed = status(
        &o.call("GET", &format!("/pools?loadbalancer_id={lb}"), None),
        200,
    );
    assert_eq!(listed["pools"].as_array().unwrap().len(), 1);
}

#[test]
fn pool_fields_weir_cannot_honour_are_refused_by_name() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let base = json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (field, value) in [
        ("session_persistence", json!({"type": "NO_SUCH_TYPE"})),
        ("tags", json!("not a list")),
        ("ca_tls_container_ref", json!("http://barbican/secret")),
        // Without tls_enabled a member certificate or CRL would act on
        // nothing: refused, not kept unused.
        ("tls_container_ref", json!("http://barbican/containers/c")),
        ("crl_container_ref", json!("http://barbican/secrets/s")),
        ("no_such_field", json!(1)),
    ] {
        let reply = o.pool(with(field, value));
        let body = status(&reply, 400);
        assert!(
            body.to_string().contains(field),
            "{field}: the error names the field: {body}"
        );
    }
    // Persistence timeouts are an option Weir's provider does not have:
    // Octavia's 501, which clients treat as "unsupported". (Cookie
    // persistence: `octavia_persistence.rs`; re-encryption:
    // `octavia_pool_tls.rs`, `octavia_pool_mtls.rs`.)
    let reply = o.pool(with(
        "session_persistence",
        json!({"type": "SOURCE_IP", "persistence_timeout": 60}),
    ));
    assert!(status(&reply, 501)["faultstring"]
        .as_str()
        .unwrap()
        .starts_with("Provider 'weir' does not support a requested option"));
    // Source-IP persistence is honoured: kept, shown, cleared by null.
    let sticky = status(
        &o.pool(with("session_persistence", json!({"type": "SOURCE_IP"}))),
        201,
    );
    assert_eq!(sticky["pool"]["session_persistence"]["type"], "SOURCE_IP");
    assert_eq!(sticky["pool"]["lb_algorithm"], "ROUND_ROBIN");
    let sticky_id = text(&sticky, "/pool/id");
    let cleared = o.call(
        "PUT",
        &format!("/pools/{sticky_id}"),
        Some(json!({"pool": {"session_persistence": null}})),
    );
    assert_eq!(
        status(&cleared, 200)["pool"]["session_persistence"],
        Value::Null
    );
    // What says "none" is accepted.
    let reply = o.pool(with("session_persistence", Value::Null));
    status(&reply, 201);
    let reply = o.pool(with("tls_enabled", json!(false)));
    status(&reply, 201);
    // The pool is the load balancer's project's, whatever the body says.
    let reply = o.pool(with("project_id", json!("someone-else")));
    status(&reply, 400);
    // Nothing refused was half-written.
    let listed = status(
        &o.call("GET", &format!("/pools?loadbalancer_id={lb}"), None),
        200,
    );
    assert_eq!(listed["pools"].as_array().unwrap().len(), 3);
}

#[test]
fn listener_fields_weir_cannot_honour_are_refused_and_https_passes_through() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let create = |port: u16, extra: Value| {
        let mut body = json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": port});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        o.call("POST", "/listeners", Some(json!({ "listener": body })))
    };
    // Settings Weir has no room for yet: 400 naming the field.
    for (port, field, value) in [
        (81, "tls_versions", json!(["TLSv1.2"])),
        (82, "hsts_max_age", json!(1000)),
        (83, "default_tls_container_ref", json!("http://barbican/c")),
        (84, "no_such_field", json!(true)),
    ] {
        let body = status(&create(port, json!({ field: value })), 400);
        // Octavia's own words for a ref on a listener that is not
        // TERMINATED_HTTPS name the protocol, not the field.
        let named = if field == "default_tls_container_ref" {
            "TERMINATED_HTTPS"
        } else {
            field
        };
        assert!(body.to_string().contains(named), "{field}: {body}");
    }
    // What says "none", and what Weir always does, is accepted.
    status(
        &create(
            85,
            json!({"allowed_cidrs": [], "timeout_client_data": null,
                   "insert_headers": {"X-Forwarded-For": "true", "X-Forwarded-Proto": "true"}}),
        ),
        201,
    );
    // Exactly the headers set to true are added, and shown; a header Weir
    // cannot add is 501.
    let chosen = status(
        &create(
            86,
            json!({"insert_headers": {"X-Forwarded-For": "false", "X-Forwarded-Port": "true"}}),
        ),
        201,
    );
    assert_eq!(
        chosen["listener"]["insert_headers"],
        json!({"X-Forwarded-For": "false", "X-Forwarded-Proto": "false", "X-Forwarded-Port": "true"})
    );
    let updated = o.call(
        "PUT",
        &format!("/listeners/{}", text(&chosen, "/listener/id")),
        Some(json!({"listener": {"insert_headers": {"X-Forwarded-For": true}}})),
    );
    assert_eq!(
        status(&updated, 200)["listener"]["insert_headers"],
        json!({"X-Forwarded-For": "true", "X-Forwarded-Proto": "false", "X-Forwarded-Port": "false"})
    );
    status(
        &create(
            87,
            json!({"insert_headers": {"X-Forwarded-ELB-IP": "true"}}),
        ),
        501,
    );
    // The client-certificate headers are TERMINATED_HTTPS's (Octavia's
    // list for the protocol): 400 on HTTP, naming the header.
    let ssl_on_http = status(
        &create(87, json!({"insert_headers": {"X-SSL-Client-CN": "true"}})),
        400,
    );
    assert!(
        ssl_on_http.to_string().contains("X-SSL-Client-CN"),
        "{ssl_on_http}"
    );
    let tcp_headers = o.call(
        "POST",
        "/listeners",
        Some(
            json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 88,
                                  "insert_headers": {"X-Forwarded-Port": "true"}}}),
        ),
    );
    status(&tcp_headers, 400);
    // SCTP is an option Weir lacks; TERMINATED_HTTPS needs its
    // certificate refs; HTTPS passes TLS through and collides on its port
    // with any other TCP listener.
    for (protocol, code) in [("SCTP", 501), ("TERMINATED_HTTPS", 400)] {
        let reply = o.call(
            "POST",
            "/listeners",
            Some(json!({"listener": {"loadbalancer_id": lb, "protocol": protocol, "protocol_port": 443}})),
        );
        status(&reply, code);
    }
    let https = o.listener(&lb, "HTTPS", 443, json!({}));
    assert_eq!(text(&https, "/listener/protocol"), "HTTPS");
    let clash = o.call(
        "POST",
        "/listeners",
        Some(json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 443}})),
    );
    status(&clash, 409);
    o.listener(&lb, "UDP", 443, json!({}));
    let http_pool = o.pool(json!({"listener_id": text(&https, "/listener/id"),
                                  "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}));
    status(&http_pool, 400);
    let pool = o.pool(json!({"listener_id": text(&https, "/listener/id"),
                             "protocol": "HTTPS", "lb_algorithm": "ROUND_ROBIN"}));
    assert_eq!(text(&status(&pool, 201), "/pool/protocol"), "HTTPS");

    // L7 policies read HTTP requests: none on a passed-through HTTPS
    // listener (400), an empty list, 404 for an id that names none.
    let listed = status(&o.call("GET", "/l7policies", None), 200);
    assert_eq!(listed["l7policies"], json!([]));
    status(&o.call("GET", "/l7policies/nope", None), 404);
    let reply = o.call(
        "POST",
        "/l7policies",
        Some(
            json!({"l7policy": {"listener_id": text(&https, "/listener/id"), "action": "REJECT"}}),
        ),
    );
    status(&reply, 400);
}

#[test]
fn listener_timeouts_and_allowed_cidrs_are_kept_checked_and_reset() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let create = |port: u16, extra: Value| {
        let mut body = json!({"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": port});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        o.call("POST", "/listeners", Some(json!({ "listener": body })))
    };
    // What octavia-tempest-plugin sends at API 2.1 and 2.12.
    let made = status(
        &create(
            90,
            json!({"timeout_client_data": 1000, "timeout_member_connect": 1000,
                   "timeout_member_data": 1000, "timeout_tcp_inspect": 50,
                   "allowed_cidrs": ["192.0.1.0/24"]}),
        ),
        201,
    );
    let l = &made["listener"];
    assert_eq!(l["timeout_client_data"], 1000);
    assert_eq!(l["timeout_member_connect"], 1000);
    assert_eq!(l["timeout_member_data"], 1000);
    assert_eq!(l["timeout_tcp_inspect"], 50);
    assert_eq!(l["allowed_cidrs"], json!(["192.0.1.0/24"]));
    let id = text(&made, "/listener/id");
    // Networks of another IP version than the VIP's, and values out of
    // range, are 400 naming the field; nothing is created.
    for (port, field, value) in [
        (
            91,
            "allowed_cidrs",
            json!(["192.0.1.0/24", "2001:db8:a0b:12f0::/64"]),
        ),
        (92, "allowed_cidrs", json!(["192.0.1.0/33"])),
        (93, "allowed_cidrs", json!("192.0.1.0/24")),
        (94, "timeout_client_data", json!(999)),
        (95, "timeout_member_data", json!(-1)),
        (96, "timeout_member_connect", json!(0)),
        (97, "timeout_tcp_inspect", json!(86_400_001)),
        (98, "timeout_client_data", json!("soon")),
    ] {
        let body = status(&create(port, json!({ field: value })), 400);
        // Octavia's own words for a ref on a listener that is not
        // TERMINATED_HTTPS name the protocol, not the field.
        let named = if field == "default_tls_container_ref" {
            "TERMINATED_HTTPS"
        } else {
            field
        };
        assert!(body.to_string().contains(named), "{field}: {body}");
    }
    let listed = status(
        &o.call("GET", &format!("/listeners?loadbalancer_id={lb}"), None),
        200,
    );
    assert_eq!(listed["listeners"].as_array().unwrap().len(), 1);
    // An update changes what it names; null returns to the default.
    let updated = status(
        &o.call(
            "PUT",
            &format!("/listeners/{id}"),
            Some(
                json!({"listener": {"timeout_client_data": 2000, "timeout_member_connect": 2000,
                                     "timeout_member_data": 2000, "timeout_tcp_inspect": 100,
                                     "allowed_cidrs": ["10.0.0.0/8", "192.0.2.5"]}}),
            ),
        ),
        200,
    );
    let l = &updated["listener"];
    assert_eq!(
        (&l["timeout_client_data"], &l["timeout_member_connect"]),
        (&json!(2000), &json!(2000))
    );
    assert_eq!(
        (&l["timeout_member_data"], &l["timeout_tcp_inspect"]),
        (&json!(2000), &json!(100))
    );
    assert_eq!(l["allowed_cidrs"], json!(["10.0.0.0/8", "192.0.2.5/32"]));
    let bad = o.call(
        "PUT",
        &format!("/listeners/{id}"),
        Some(json!({"listener": {"allowed_cidrs": ["2001:db8::/32"]}})),
    );
    status(&bad, 400);
    let reset = status(
        &o.call(
            "PUT",
            &format!("/listeners/{id}"),
            Some(
                json!({"listener": {"timeout_client_data": null, "timeout_member_data": null,
                                     "timeout_member_connect": null, "timeout_tcp_inspect": null,
                                     "allowed_cidrs": null}}),
            ),
        ),
        200,
    );
    let shown = status(&o.call("GET", &format!("/listeners/{id}"), None), 200);
    assert_eq!(reset, shown);
    let l = &shown["listener"];
    assert_eq!(l["timeout_client_data"], Value::Null);
    assert_eq!(l["timeout_member_connect"], Value::Null);
    assert_eq!(l["timeout_member_data"], Value::Null);
    assert_eq!(l["timeout_tcp_inspect"], 0);
    assert_eq!(l["allowed_cidrs"], Value::Null);
}

#[test]
fn one_provider_no_zones() {
    let o = Octavia::start();
    let providers = status(&o.call("GET", "/providers", None), 200);
    assert_eq!(
        providers["providers"],
        json!([{"name": "weir", "description": "Weir's own data plane"}])
    );
    // Flavors: `octavia_flavors.rs`.
    for rest in [
        "/providers/weir/availability_zone_capabilities",
        "/flavors",
        "/availabilityzones",
        "/availabilityzoneprofiles",
    ] {
        let body = status(&o.call("GET", rest, None), 200);
        let plural = rest.rsplit('/').next().unwrap();
        assert_eq!(body[plural], json!([]), "{rest}: {body}");
    }
    status(
        &o.call("GET", "/providers/amphora/flavor_capabilities", None),
        404,
    );
    // With no amphora to replace, a failover re-applies the load balancer.
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": o.server.inventory.subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let before = status(&o.call("GET", &format!("/loadbalancers/{lb}"), None), 200);
    std::thread::sleep(std::time::Duration::from_millis(5));
    // Octavia lets only admins fail over: the owner is refused, an admin
    // credential is not.
    let failover = format!("/loadbalancers/{lb}/failover");
    status(&o.call("PUT", &failover, None), 403);
    let (_, admin) = o.server.with_role("admin").keystone_token();
    status(&o.server.octavia(&admin, "PUT", &failover, None), 202);
    let after = status(&o.call("GET", &format!("/loadbalancers/{lb}"), None), 200);
    assert_eq!(after["loadbalancer"]["provisioning_status"], "ACTIVE");
    assert_ne!(
        after["loadbalancer"]["updated_at"],
        before["loadbalancer"]["updated_at"]
    );
    status(
        &o.server
            .octavia(&admin, "PUT", "/loadbalancers/nope/failover", None),
        404,
    );
    status(&o.call("GET", "/flavors/some-id", None), 404);
    let made = o.call(
        "POST",
        "/flavors",
        Some(json!({"flavor": {"name": "gold", "flavor_profile_id": "x"}})),
    );
    // The operator's (Keystone credentials are projects).
    status(&made, 403);
    // A load balancer names no zone; an unknown flavor is refused.
    let subnet = o.server.inventory.subnet.clone();
    let refused = o.call(
        "POST",
        "/loadbalancers",
        Some(json!({"loadbalancer": {"vip_subnet_id": subnet, "flavor_id": "gold"}})),
    );
    status(&refused, 400);
}

/// Per-project and per-load-balancer limits (`[limits]`) hold through
/// Octavia: 403 "Quota has been met", nothing written, and room again once
/// something is deleted.
#[test]
fn limits_on_load_balancers_listeners_and_pools() {
    let mut settings = weir_core::settings::Settings::default();
    settings.limits.load_balancers_per_project = 2;
    settings.limits.listeners_per_load_balancer = 1;
    settings.limits.server_groups_per_load_balancer = 1;
    let server = harness::start_many(settings, 1).remove(0);
    let (_, token) = server.keystone_token();
    let o = Octavia { server, token };
    let subnet = o.server.inventory.subnet.clone();
    let new_lb = || {
        o.call(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
        )
    };
    let lb = text(&status(&new_lb(), 201), "/loadbalancer/id");
    status(&new_lb(), 201);
    let over = status(&new_lb(), 403);
    assert!(over["faultstring"]
        .as_str()
        .unwrap()
        .starts_with("Quota has been met for resources: LoadBalancer"));
    let listed = status(&o.call("GET", "/loadbalancers", None), 200);
    assert_eq!(listed["loadbalancers"].as_array().unwrap().len(), 2);

    o.listener(&lb, "TCP", 80, json!({}));
    let second = o.call(
        "POST",
        "/listeners",
        Some(json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 81}})),
    );
    status(&second, 403);

    let pool =
        || o.pool(json!({"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}));
    let first = text(&status(&pool(), 201), "/pool/id");
    status(&pool(), 403);
    status(&o.call("DELETE", &format!("/pools/{first}"), None), 204);
    status(&pool(), 201);
}

/// A health-check target sent through the declarative batch (`PUT
/// …/members`) is held to the member address rules too, for a new member
/// and for one already there; nothing of a refused batch is written.
#[test]
fn a_batch_cannot_aim_checks_outside_the_callers_networks() {
    let o = Octavia::start();
    let inv = o.server.inventory.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": inv.subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let pool = text(
        &status(
            &o.pool(
                json!({"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
            ),
            201,
        ),
        "/pool/id",
    );
    let batch = |monitor: &str| {
        o.call(
            "PUT",
            &format!("/pools/{pool}/members"),
            Some(
                json!({"members": [{"address": inv.vms[0].ip, "protocol_port": 80,
                                     "monitor_address": monitor}]}),
            ),
        )
    };
    status(&batch("169.254.169.254"), 400);
    let members = || status(&o.call("GET", &format!("/pools/{pool}/members"), None), 200);
    assert_eq!(members()["members"], json!([]));
    status(&batch(&inv.vms[1].ip), 202);
    assert_eq!(members()["members"][0]["monitor_address"], inv.vms[1].ip);
    for hostile in ["169.254.169.254", "192.168.77.7"] {
        status(&batch(hostile), 400);
        assert_eq!(
            members()["members"][0]["monitor_address"],
            inv.vms[1].ip,
            "{hostile}: the member keeps its target"
        );
    }
}

/// SOURCE_IP_PORT (API 2.13): hashing of the client address and port,
/// kept, shown, and changed to and from like any other algorithm.
#[test]
fn source_ip_port_is_an_algorithm_like_the_others() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    for protocol in ["TCP", "UDP", "HTTP"] {
        let created = status(
            &o.pool(json!({"loadbalancer_id": lb, "protocol": protocol,
                            "lb_algorithm": "SOURCE_IP_PORT"})),
            201,
        );
        assert_eq!(text(&created, "/pool/lb_algorithm"), "SOURCE_IP_PORT");
        let id = text(&created, "/pool/id");
        let shown = status(&o.call("GET", &format!("/pools/{id}"), None), 200);
        assert_eq!(text(&shown, "/pool/lb_algorithm"), "SOURCE_IP_PORT");
        for algorithm in ["ROUND_ROBIN", "SOURCE_IP", "SOURCE_IP_PORT"] {
            let updated = status(
                &o.call(
                    "PUT",
                    &format!("/pools/{id}"),
                    Some(json!({"pool": {"lb_algorithm": algorithm}})),
                ),
                200,
            );
            assert_eq!(text(&updated, "/pool/lb_algorithm"), algorithm);
            let shown = status(&o.call("GET", &format!("/pools/{id}"), None), 200);
            assert_eq!(text(&shown, "/pool/lb_algorithm"), algorithm);
        }
    }
    let listed = status(
        &o.call("GET", "/pools?lb_algorithm=SOURCE_IP_PORT", None),
        200,
    );
    assert_eq!(listed["pools"].as_array().unwrap().len(), 3);
    // A misspelt algorithm is still the 400 that names the field.
    let reply = o.pool(json!({"loadbalancer_id": lb, "protocol": "TCP",
                              "lb_algorithm": "SOURCE_PORT"}));
    assert!(status(&reply, 400).to_string().contains("lb_algorithm"));
}

/// A monitor's request (API 2.10): `http_method`, `http_version` and
/// `domain_name` are kept, shown and changed; a domain name that could
/// carry header lines into the check is 400, CONNECT is the provider's 501.
#[test]
fn monitors_send_the_method_version_and_domain_asked_for() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let pool = |protocol: &str| {
        text(
            &status(
                &o.pool(json!({"loadbalancer_id": lb, "protocol": protocol,
                               "lb_algorithm": "ROUND_ROBIN"})),
                201,
            ),
            "/pool/id",
        )
    };
    let http_pool = pool("HTTP");
    let monitor = |pool: &str, kind: &str, extra: Value| {
        let mut body = json!({"pool_id": pool, "type": kind, "delay": 5, "timeout": 3,
                              "max_retries": 2});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        o.call(
            "POST",
            "/healthmonitors",
            Some(json!({ "healthmonitor": body })),
        )
    };
    for (extra, want) in [
        (json!({"domain_name": "example.com\r\nX-Injected: 1"}), 400),
        (json!({"domain_name": "example .com"}), 400),
        (json!({"domain_name": "example.com:8080"}), 400),
        (json!({"domain_name": 7}), 400),
        (json!({"http_version": 2.0}), 400),
        (json!({"http_method": "FETCH"}), 400),
        (json!({"http_method": "CONNECT"}), 501),
    ] {
        let reply = monitor(&http_pool, "HTTP", extra.clone());
        let body = status(&reply, want);
        let field = extra.as_object().unwrap().keys().next().unwrap().clone();
        assert!(
            body["faultstring"].as_str().unwrap().contains(&field),
            "{extra}: {body}"
        );
    }
    let made = status(
        &monitor(
            &http_pool,
            "HTTP",
            json!({"http_method": "HEAD", "http_version": 1.0,
                   "domain_name": "example.com", "url_path": "/up"}),
        ),
        201,
    );
    let shown = status(
        &o.call("GET", &format!("/healthmonitors/{http_pool}"), None),
        200,
    );
    for m in [&made, &shown] {
        assert_eq!(m["healthmonitor"]["http_method"], "HEAD", "{m}");
        assert_eq!(m["healthmonitor"]["http_version"], json!(1.0), "{m}");
        assert_eq!(m["healthmonitor"]["domain_name"], "example.com", "{m}");
    }
    let update = |fields: Value| {
        status(
            &o.call(
                "PUT",
                &format!("/healthmonitors/{http_pool}"),
                Some(json!({ "healthmonitor": fields })),
            ),
            200,
        )["healthmonitor"]
            .clone()
    };
    // What an update does not name is kept.
    let m = update(json!({"http_method": "POST"}));
    assert_eq!(
        (&m["http_method"], &m["http_version"], &m["domain_name"]),
        (&json!("POST"), &json!(1.0), &json!("example.com"))
    );
    let m = update(json!({"http_version": "1.1", "domain_name": null}));
    assert_eq!(
        (&m["http_method"], &m["http_version"], &m["domain_name"]),
        (&json!("POST"), &json!(1.1), &Value::Null)
    );
    let refused = o.call(
        "PUT",
        &format!("/healthmonitors/{http_pool}"),
        Some(json!({"healthmonitor": {"domain_name": "a.com\nHost: b.com"}})),
    );
    status(&refused, 400);
    // A TCP monitor sends no HTTP: GET (every view's method) means
    // nothing there, anything else is refused.
    let tcp_pool = pool("TCP");
    status(
        &monitor(&tcp_pool, "TCP", json!({"http_method": "HEAD"})),
        400,
    );
    let tcp = status(
        &monitor(&tcp_pool, "TCP", json!({"http_method": "GET"})),
        201,
    );
    assert_eq!(tcp["healthmonitor"]["http_method"], Value::Null);
    assert_eq!(tcp["healthmonitor"]["http_version"], Value::Null);
}
