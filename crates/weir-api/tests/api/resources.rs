//! Projects, inventory, load balancers and listeners.

use serde_json::json;

use crate::harness::*;

#[test]
fn inventory_is_admin_written_and_project_readable() {
    let s = start();
    let f = fixture(&s);
    let other = fixture_named(&s, "other");

    let vpcs = s.get("/v1/vpcs", &f.token);
    assert_eq!(vpcs.status, 200);
    let ids: Vec<_> = vpcs.body["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(f.vpc)], "a project sees only its own VPCs");
    assert_eq!(
        s.get("/v1/vpcs", ADMIN).body["vpcs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let instances = s.get("/v1/instances", &f.token).body;
    assert_eq!(instances["instances"].as_array().unwrap().len(), 3);
    assert_eq!(instances["instances"][0]["state"], "running");

    let denied = s.post(
        "/v1/vpcs",
        &f.token,
        json!({"project_id": f.project, "cidr": "10.1.0.0/16"}),
    );
    assert_error(&denied, 403, "Forbidden");

    // Another project's instance is invisible.
    let peek = s.get(&format!("/v1/instances/{}", other.instances[0]), &f.token);
    assert_error(&peek, 404, "NotFound");

    let stopped = s.call(
        "PATCH",
        &format!("/v1/instances/{}", f.instances[0]),
        ADMIN,
        Some(json!({"state": "stopped"})),
    );
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(stopped.body["state"], "stopped");
}

#[test]
fn inventory_rules_reach_the_client() {
    let s = start();
    let f = fixture(&s);
    let outside = s.post(
        "/v1/subnets",
        ADMIN,
        json!({"vpc_id": f.vpc, "cidr": "10.9.0.0/24"}),
    );
    assert_error(&outside, 400, "InvalidField");
    assert_eq!(outside.body["error"]["field"], "cidr");
    let overlap = s.post(
        "/v1/subnets",
        ADMIN,
        json!({"vpc_id": f.vpc, "cidr": "10.0.1.128/25"}),
    );
    assert_error(&overlap, 409, "Conflict");
    let bad_cidr = s.post(
        "/v1/vpcs",
        ADMIN,
        json!({"project_id": f.project, "cidr": "10.0.0.1/33"}),
    );
    assert_error(&bad_cidr, 400, "InvalidField");
    let taken_ip = s.post(
        "/v1/instances",
        ADMIN,
        json!({"project_id": f.project, "subnet_id": f.subnet, "private_ip": "10.0.1.11"}),
    );
    assert_error(&taken_ip, 409, "Conflict");
    let bad_ip = s.post(
        "/v1/instances",
        ADMIN,
        json!({"project_id": f.project, "subnet_id": f.subnet, "private_ip": "10.0.1.300"}),
    );
    assert_error(&bad_ip, 400, "InvalidField");
    assert_eq!(bad_ip.body["error"]["field"], "private_ip");
}

#[test]
fn load_balancer_lifecycle() {
    // VIPs come from the default loopback range; the operator also offers
    // the subnet's range, so a tenant may name one there.
    let mut settings = weir_core::settings::Settings::default();
    settings
        .network
        .vip_ranges
        .push("10.0.1.0/24".parse().unwrap());
    let s = start_with(settings);
    let f = fixture(&s);
    let lb = s.get(&format!("/v1/loadbalancers/{}", f.lb), &f.token).body;
    assert_eq!(lb["status"], "RUNNING");
    assert_eq!(lb["vip"], "127.0.1.1", "first VIP of the default range");

    let stopped = s.post(
        &format!("/v1/loadbalancers/{}/stop", f.lb),
        &f.token,
        json!(null),
    );
    assert_eq!(stopped.body["status"], "STOPPED");
    let refused = s.post(
        &format!("/v1/listeners/{}/backends", f.listener),
        &f.token,
        json!({"backends": [{"instance_id": f.instances[0]}]}),
    );
    assert_error(&refused, 409, "LoadBalancerNotRunning");
    let started = s.post(
        &format!("/v1/loadbalancers/{}/start", f.lb),
        &f.token,
        json!(null),
    );
    assert_eq!(started.body["status"], "RUNNING");

    let second = s.create(
        "/v1/loadbalancers",
        &f.token,
        json!({"subnet_id": f.subnet, "vip": "10.0.1.200"}),
    );
    assert_eq!(second["vip"], "10.0.1.200");
    let clash = s.post(
        "/v1/loadbalancers",
        &f.token,
        json!({"subnet_id": f.subnet, "vip": "10.0.1.200"}),
    );
    assert_error(&clash, 409, "Conflict");

    let listed = s.get("/v1/loadbalancers", &f.token).body;
    assert_eq!(listed["loadbalancers"].as_array().unwrap().len(), 2);

    let keep = s.call(
        "DELETE",
        &format!("/v1/loadbalancers/{}", f.lb),
        &f.token,
        None,
    );
    assert_error(&keep, 409, "Conflict");
    let gone = s.call(
        "DELETE",
        &format!("/v1/loadbalancers/{}?cascade=true", f.lb),
        &f.token,
        None,
    );
    assert_eq!(gone.status, 204);
    assert_error(
        &s.get(&format!("/v1/loadbalancers/{}", f.lb), &f.token),
        404,
        "NotFound",
    );
    assert_error(
        &s.get(&format!("/v1/listeners/{}", f.listener), &f.token),
        404,
        "NotFound",
    );
    assert_error(
        &s.get(&format!("/v1/pools/{}/backends", f.pool), &f.token),
        404,
        "NotFound",
    );
}

#[test]
fn listeners_have_ports_modes_and_a_default_pool() {
    let s = start();
    let f = fixture(&s);
    let path = format!("/v1/loadbalancers/{}/listeners", f.lb);
    let ranged = s.create(
        &path,
        &f.token,
        json!({"name": "dr", "protocol": "udp", "port_ranges": [{"start": 5000, "end": 5010}], "forwarding_mode": "dr", "scheduler": "sh"}),
    );
    assert_eq!(ranged["port_ranges"][0]["end"], 5010);
    assert_eq!(ranged["forwarding_mode"], "dr");
    let pool = s.get(
        &format!("/v1/pools/{}", ranged["default_pool_id"].as_str().unwrap()),
        &f.token,
    );
    assert_eq!(pool.body["listener_id"], ranged["id"]);

    let clash = s.post(
        &path,
        &f.token,
        json!({"protocol": "tcp", "port_ranges": [{"start": 70, "end": 90}]}),
    );
    assert_error(&clash, 409, "Conflict");
    let both = s.post(
        &path,
        &f.token,
        json!({"protocol": "tcp", "port": 81, "all_ports": true}),
    );
    assert_error(&both, 400, "InvalidField");
    let bad_proto = s.post(&path, &f.token, json!({"protocol": "sctp", "port": 81}));
    assert_error(&bad_proto, 400, "InvalidField");
    assert_eq!(bad_proto.body["error"]["field"], "protocol");

    let proxied = s.create(
        &path,
        &f.token,
        json!({"protocol": "tcp", "port": 9000, "proxy_protocol": "v2"}),
    );
    assert_eq!(proxied["proxy_protocol"], "v2");
    let udp_proxy = s.post(
        &path,
        &f.token,
        json!({"protocol": "udp", "port": 9001, "proxy_protocol": "v1"}),
    );
    assert_error(&udp_proxy, 400, "InvalidField");
    assert_eq!(udp_proxy.body["error"]["field"], "proxy_protocol");

    // An HTTP listener's forwarded headers and a description are kept;
    // headers on a TCP listener are refused.
    let http = s.create(
        &path,
        &f.token,
        json!({"protocol": "http", "port": 9300, "description": "web",
               "forwarded_headers": {"x_forwarded_for": false, "x_forwarded_proto": true, "x_forwarded_port": true}}),
    );
    assert_eq!(http["description"], "web");
    assert_eq!(
        http["forwarded_headers"],
        json!({"x_forwarded_for": false, "x_forwarded_proto": true, "x_forwarded_port": true})
    );
    let tcp_headers = s.post(
        &path,
        &f.token,
        json!({"protocol": "tcp", "port": 9301,
               "forwarded_headers": {"x_forwarded_for": false, "x_forwarded_proto": true, "x_forwarded_port": true}}),
    );
    assert_error(&tcp_headers, 400, "InvalidField");
    assert_eq!(tcp_headers.body["error"]["field"], "forwarded_headers");

    let all = s.get(&path, &f.token).body;
    assert_eq!(all["listeners"].as_array().unwrap().len(), 4);
    assert_eq!(all["listeners"][0]["proxy_protocol"], "none");
    assert!(
        all["listeners"][0].get("max_connections").is_none(),
        "unset: the data plane's default"
    );

    let capped = s.create(
        &path,
        &f.token,
        json!({"protocol": "tcp", "port": 9100, "max_connections": 100, "idle_timeout_ms": 60000}),
    );
    assert_eq!(capped["max_connections"], 100);
    assert_eq!(capped["idle_timeout_ms"], 60000);
    let id = capped["id"].as_str().unwrap();
    let read = s.get(&format!("/v1/listeners/{id}"), &f.token).body;
    assert_eq!(read["max_connections"], 100);
    assert_eq!(read["allowed_cidrs"], json!([]), "empty: any client");

    let guarded = s.create(
        &path,
        &f.token,
        json!({"protocol": "http", "port": 9102, "connect_timeout_ms": 1500,
               "backend_timeout_ms": 30000, "inspect_timeout_ms": 0,
               "allowed_cidrs": ["192.0.2.0/24", "198.51.100.7"]}),
    );
    assert_eq!(guarded["connect_timeout_ms"], 1500);
    assert_eq!(guarded["backend_timeout_ms"], 30000);
    assert_eq!(guarded["inspect_timeout_ms"], 0);
    assert_eq!(
        guarded["allowed_cidrs"],
        json!(["192.0.2.0/24", "198.51.100.7/32"])
    );
    for (body, field) in [
        (
            json!({"protocol": "tcp", "port": 9101, "connect_timeout_ms": 0}),
            "connect_timeout_ms",
        ),
        (
            json!({"protocol": "tcp", "port": 9101, "backend_timeout_ms": 999}),
            "backend_timeout_ms",
        ),
        (
            json!({"protocol": "tcp", "port": 9101, "allowed_cidrs": ["2001:db8::/32"]}),
            "allowed_cidrs",
        ),
        (
            json!({"protocol": "tcp", "port": 9101, "allowed_cidrs": ["10.0.0.0/8", "ten"]}),
            "allowed_cidrs[1]",
        ),
        (
            json!({"protocol": "tcp", "port": 9101, "max_connections": 0}),
            "max_connections",
        ),
        (
            json!({"protocol": "tcp", "port": 9101, "max_connections": 1_000_001}),
            "max_connections",
        ),
        (
            json!({"protocol": "tcp", "port": 9101, "idle_timeout_ms": 10}),
            "idle_timeout_ms",
        ),
    ] {
        let refused = s.post(&path, &f.token, body);
        assert_error(&refused, 400, "InvalidField");
        assert_eq!(refused.body["error"]["field"], field);
    }
    let negative = s.post(
        &path,
        &f.token,
        json!({"protocol": "tcp", "port": 9101, "max_connections": -1}),
    );
    assert_eq!(negative.status, 400);
    assert_eq!(
        s.get(&path, &f.token).body["listeners"]
            .as_array()
            .unwrap()
            .len(),
        6,
        "nothing refused was written"
    );
}

#[test]
fn projects_never_see_each_other() {
    let s = start();
    let a = fixture_named(&s, "a");
    let b = fixture_named(&s, "b");
    let reg = s.create(
        &format!("/v1/listeners/{}/backends", a.listener),
        &a.token,
        json!({"backends": [{"instance_id": a.instances[0]}]}),
    );
    let backend = reg["backends"][0]["id"].as_str().unwrap();
    for path in [
        format!("/v1/loadbalancers/{}", a.lb),
        format!("/v1/listeners/{}", a.listener),
        format!("/v1/pools/{}", a.pool),
        format!("/v1/pools/{}/backends", a.pool),
        format!("/v1/backends/{backend}"),
    ] {
        assert_error(&s.get(&path, &b.token), 404, "NotFound");
    }
    let write = s.post(
        &format!("/v1/listeners/{}/backends", a.listener),
        &b.token,
        json!({"backends": [{"address": "10.0.1.50"}]}),
    );
    assert_error(&write, 404, "NotFound");
    let delete = s.call("DELETE", &format!("/v1/backends/{backend}"), &b.token, None);
    assert_error(&delete, 404, "NotFound");
    // b naming a's instance from b's own listener: not found, not forbidden.
    let foreign = s.post(
        &format!("/v1/listeners/{}/backends", b.listener),
        &b.token,
        json!({"backends": [{"instance_id": a.instances[1]}]}),
    );
    assert_error(&foreign, 404, "NotFound");
    assert_eq!(
        s.get("/v1/projects", &b.token).body["projects"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn pools_take_health_checks_drain_timeouts_and_slow_start() {
    let s = start();
    let f = fixture(&s);
    let path = format!("/v1/pools/{}", f.pool);
    let set = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"health_check": {"type": "http", "path": "/up", "interval_ms": 500}, "drain_timeout_ms": 1500})),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["health_check"]["expected_codes"], "200-399");
    assert_eq!(set.body["health_check"]["rise"], 2);
    assert_eq!(set.body["drain_timeout_ms"], 1500);
    assert_eq!(s.get(&path, &f.token).body, set.body);

    let bad = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"health_check": {"type": "tcp", "rise": 50}})),
    );
    assert_error(&bad, 400, "InvalidField");
    assert_eq!(bad.body["error"]["field"], "health_check.rise");

    // What an HTTP check sends: method, version, Host; a Host that is not
    // a DNS name could carry header lines into the check, and is refused.
    let asked = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(
            json!({"health_check": {"type": "http", "path": "/up", "method": "HEAD",
                                      "http_version": "1.0", "host": "example.com"}}),
        ),
    );
    assert_eq!(asked.status, 200, "{}", asked.body);
    let hc = &asked.body["health_check"];
    assert_eq!(
        (&hc["method"], &hc["http_version"], &hc["host"]),
        (&json!("HEAD"), &json!("1.0"), &json!("example.com"))
    );
    assert_eq!(s.get(&path, &f.token).body, asked.body);
    let injected = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"health_check": {"type": "http", "host": "a.com\r\nX-Evil: 1"}})),
    );
    assert_error(&injected, 400, "InvalidField");
    assert_eq!(injected.body["error"]["field"], "health_check.host");
    let plain = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"health_check": {"type": "http", "path": "/up", "interval_ms": 500}})),
    );
    assert_eq!(
        (
            &plain.body["health_check"]["method"],
            &plain.body["health_check"]["host"]
        ),
        (&json!("GET"), &serde_json::Value::Null),
        "the defaults: GET, the member's address as Host"
    );

    let kept = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"drain_timeout_ms": 10})),
    );
    assert_eq!(
        kept.body["health_check"]["path"], "/up",
        "absent leaves the check"
    );
    let removed = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"health_check": null})),
    );
    assert_eq!(removed.body["health_check"], serde_json::Value::Null);

    assert_eq!(
        removed.body["slow_start_ms"], 0,
        "slow start is off by default"
    );
    let ramp = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"slow_start_ms": 30000})),
    );
    assert_eq!(ramp.status, 200, "{}", ramp.body);
    assert_eq!(ramp.body["slow_start_ms"], 30000);
    assert_eq!(ramp.body["drain_timeout_ms"], 10, "other settings stay");
    let too_long = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"slow_start_ms": 3_600_001})),
    );
    assert_error(&too_long, 400, "InvalidField");
    assert_eq!(too_long.body["error"]["field"], "slow_start_ms");
    assert_eq!(s.get(&path, &f.token).body["slow_start_ms"], 30000);

    // Fail-open: off by default, set and cleared on its own.
    assert_eq!(s.get(&path, &f.token).body["fail_open"], false);
    let open = s.call("PATCH", &path, &f.token, Some(json!({"fail_open": true})));
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!(open.body["fail_open"], true);
    assert_eq!(open.body["slow_start_ms"], 30000, "other settings stay");
    assert_eq!(s.get(&path, &f.token).body["fail_open"], true);
    let wrong = s.call("PATCH", &path, &f.token, Some(json!({"fail_open": "yes"})));
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(s.get(&path, &f.token).body["fail_open"], true);
    let closed = s.call("PATCH", &path, &f.token, Some(json!({"fail_open": false})));
    assert_eq!(closed.body["fail_open"], false);
}

#[test]
fn listeners_change_their_timeouts_allow_list_and_tags_in_place() {
    let s = start();
    let f = fixture(&s);
    let made = s.create(
        &format!("/v1/loadbalancers/{}/listeners", f.lb),
        &f.token,
        json!({"protocol": "http", "port": 9200, "allowed_cidrs": ["192.0.2.0/24"]}),
    );
    let path = format!("/v1/listeners/{}", made["id"].as_str().unwrap());
    let changed = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"allowed_cidrs": ["198.51.100.0/24", "203.0.113.9"],
                    "idle_timeout_ms": 5000, "connect_timeout_ms": 250,
                    "backend_timeout_ms": 9000, "max_connections": 10,
                    "tags": ["blue"], "name": "renamed"})),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    let l = &changed.body;
    assert_eq!(
        l["allowed_cidrs"],
        json!(["198.51.100.0/24", "203.0.113.9/32"])
    );
    assert_eq!(
        (&l["idle_timeout_ms"], &l["connect_timeout_ms"]),
        (&json!(5000), &json!(250))
    );
    assert_eq!(
        (&l["backend_timeout_ms"], &l["max_connections"]),
        (&json!(9000), &json!(10))
    );
    assert_eq!(
        (&l["tags"], &l["name"]),
        (&json!(["blue"]), &json!("renamed"))
    );
    assert_eq!(s.get(&path, &f.token).body, changed.body);
    // Refused whole: nothing of a bad change is kept.
    for (body, field) in [
        (
            json!({"allowed_cidrs": ["2001:db8::/32"], "name": "x"}),
            "allowed_cidrs",
        ),
        (json!({"allowed_cidrs": ["nope"]}), "allowed_cidrs[0]"),
        (json!({"backend_timeout_ms": 1}), "backend_timeout_ms"),
    ] {
        let refused = s.call("PATCH", &path, &f.token, Some(body));
        assert_error(&refused, 400, "InvalidField");
        assert_eq!(refused.body["error"]["field"], field);
    }
    let unknown = s.call("PATCH", &path, &f.token, Some(json!({"protocol": "tcp"})));
    assert_eq!(unknown.status, 400);
    assert_eq!(s.get(&path, &f.token).body, changed.body);
    // null returns to the data plane's defaults; [] allows any client.
    let reset = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(
            json!({"allowed_cidrs": [], "idle_timeout_ms": null, "connect_timeout_ms": null,
                    "backend_timeout_ms": null, "max_connections": null}),
        ),
    );
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(reset.body["allowed_cidrs"], json!([]));
    for unset in [
        "idle_timeout_ms",
        "connect_timeout_ms",
        "backend_timeout_ms",
        "max_connections",
    ] {
        assert!(reset.body.get(unset).is_none(), "{unset}: {}", reset.body);
    }
    // Another project's listener is not found, and stays as it was.
    let other = fixture_named(&s, "other");
    let theirs = s.call(
        "PATCH",
        &path,
        &other.token,
        Some(json!({"allowed_cidrs": []})),
    );
    assert_eq!(theirs.status, 404);
}
