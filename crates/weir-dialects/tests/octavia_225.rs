//! Octavia API 2.14–2.25 over a real socket: PROMETHEUS listeners (2.25)
//! created, shown and held to what they cannot have; the TLS fields of
//! 2.15–2.24 refused on listeners and pools; SCTP (2.23) the provider's
//! 501 with its reason; HTTP and TCP monitors of UDP pools (2.16)
//! honoured; the amphora API (2.21) the operator's alone and empty;
//! Huawei ELB refusing PROMETHEUS as any protocol it lacks.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::{json, Value};

use harness::Reply;
use octavia::{status, text, Octavia};

impl Octavia {
    fn lb(&self) -> String {
        let subnet = self.server.inventory.subnet.clone();
        text(
            &status(
                &self.call(
                    "POST",
                    "/loadbalancers",
                    Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
                ),
                201,
            ),
            "/loadbalancer/id",
        )
    }

    fn new_listener(&self, lb: &str, protocol: &str, port: u16, extra: Value) -> Reply {
        let mut body = json!({"loadbalancer_id": lb, "protocol": protocol, "protocol_port": port});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.call("POST", "/listeners", Some(json!({ "listener": body })))
    }
}

/// The refusal's message, after insisting on `want`.
#[track_caller]
fn refused(reply: &Reply, want: u16, mentions: &str) {
    let body = status(reply, want);
    let message = body["faultstring"].as_str().unwrap_or_default();
    assert!(message.contains(mentions), "{mentions:?} not in {message}");
}

#[test]
fn prometheus_listeners_are_created_and_refuse_what_they_cannot_have() {
    let o = Octavia::start();
    let lb = o.lb();
    // Tempest's body: timeouts, a connection limit, allowed_cidrs, tags.
    let made = status(
        &o.new_listener(
            &lb,
            "PROMETHEUS",
            8090,
            json!({"name": "metrics", "connection_limit": 200, "admin_state_up": true,
                   "timeout_client_data": 1000, "timeout_member_connect": 1000,
                   "timeout_member_data": 1000, "timeout_tcp_inspect": 50,
                   "allowed_cidrs": ["192.0.1.0/24", "127.0.0.0/8"], "tags": ["a"]}),
        ),
        201,
    );
    let l = &made["listener"];
    assert_eq!(l["protocol"], "PROMETHEUS");
    assert_eq!(l["protocol_port"], 8090);
    assert_eq!(l["connection_limit"], 200);
    assert_eq!(l["allowed_cidrs"], json!(["192.0.1.0/24", "127.0.0.0/8"]));
    assert_eq!(l["default_pool_id"], Value::Null);
    assert_eq!(l["insert_headers"], json!({}));
    for tls in ["tls_ciphers", "tls_versions", "alpn_protocols"] {
        assert_eq!(l[tls], Value::Null, "{tls}");
    }
    let id = text(&made, "/listener/id");

    // A pool, added headers, mixed-family networks: refused by name.
    let pool = text(
        &status(
            &o.call(
                "POST",
                "/pools",
                Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "TCP",
                                     "lb_algorithm": "ROUND_ROBIN"}})),
            ),
            201,
        ),
        "/pool/id",
    );
    refused(
        &o.new_listener(&lb, "PROMETHEUS", 8091, json!({"default_pool_id": pool})),
        400,
        "default_pool_id",
    );
    refused(
        &o.new_listener(
            &lb,
            "PROMETHEUS",
            8091,
            json!({"insert_headers": {"X-Forwarded-For": "true"}}),
        ),
        400,
        "insert_headers",
    );
    refused(
        &o.new_listener(
            &lb,
            "PROMETHEUS",
            8091,
            json!({"allowed_cidrs": ["192.0.1.0/24", "2001:db8::/64"]}),
        ),
        400,
        "allowed_cidrs",
    );
    refused(
        &o.call(
            "PUT",
            &format!("/listeners/{id}"),
            Some(json!({"listener": {"default_pool_id": pool}})),
        ),
        400,
        "",
    );
    // A pool made for it, and an L7 policy on it.
    status(
        &o.call(
            "POST",
            "/pools",
            Some(json!({"pool": {"listener_id": id, "protocol": "HTTP",
                                 "lb_algorithm": "ROUND_ROBIN"}})),
        ),
        400,
    );
    status(
        &o.call(
            "POST",
            "/l7policies",
            Some(json!({"l7policy": {"listener_id": id, "action": "REJECT"}})),
        ),
        400,
    );
    // Its port is a TCP port of the VIP.
    status(&o.new_listener(&lb, "TCP", 8090, json!({})), 409);
    // An update of what it may have is kept.
    let updated = status(
        &o.call(
            "PUT",
            &format!("/listeners/{id}"),
            Some(json!({"listener": {"allowed_cidrs": null, "connection_limit": 10}})),
        ),
        200,
    );
    assert_eq!(updated["listener"]["allowed_cidrs"], Value::Null);
    assert_eq!(updated["listener"]["connection_limit"], 10);
    let listed = status(&o.call("GET", "/listeners?protocol=PROMETHEUS", None), 200);
    assert_eq!(listed["listeners"].as_array().unwrap().len(), 1, "{listed}");

    // Another project sees nothing of it.
    let other = harness::start_with(harness::Options {
        second_project: true,
        ..Default::default()
    });
    let them = other.as_other();
    let (_, their_token) = them.keystone_token();
    let (_, my_token) = other.keystone_token();
    let mine = other.octavia(
        &my_token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": other.inventory.subnet}})),
    );
    let mine_lb = text(&status(&mine, 201), "/loadbalancer/id");
    let prom = other.octavia(
        &my_token,
        "POST",
        "/listeners",
        Some(
            &json!({"listener": {"loadbalancer_id": mine_lb, "protocol": "PROMETHEUS",
                                  "protocol_port": 9100}}),
        ),
    );
    let prom_id = text(&status(&prom, 201), "/listener/id");
    status(
        &them.octavia(&their_token, "GET", &format!("/listeners/{prom_id}"), None),
        404,
    );
}

#[test]
fn tls_fields_of_2_15_to_2_24_are_refused_and_sctp_is_the_providers_501() {
    let o = Octavia::start();
    let lb = o.lb();
    for (field, value) in [
        ("tls_ciphers", json!("ECDHE-ECDSA-AES256-GCM-SHA384")),
        ("tls_versions", json!(["TLSv1.2"])),
        ("alpn_protocols", json!(["http/1.1"])),
    ] {
        refused(
            &o.new_listener(&lb, "HTTP", 80, json!({ field: value.clone() })),
            400,
            field,
        );
        refused(
            &o.call(
                "POST",
                "/pools",
                Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "HTTP",
                                     "lb_algorithm": "ROUND_ROBIN", field: value}})),
            ),
            400,
            field,
        );
    }
    // "None" is what a listener without TLS shows, so it is accepted.
    status(
        &o.new_listener(
            &lb,
            "HTTP",
            81,
            json!({"tls_versions": null, "alpn_protocols": []}),
        ),
        201,
    );
    refused(&o.new_listener(&lb, "SCTP", 82, json!({})), 501, "SCTP");
    refused(
        &o.call(
            "POST",
            "/pools",
            Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "SCTP",
                                 "lb_algorithm": "ROUND_ROBIN"}})),
        ),
        501,
        "SCTP",
    );
    // 2.16: an HTTP or TCP monitor checks a UDP pool's members.
    for kind in ["HTTP", "TCP"] {
        let udp = text(
            &status(
                &o.call(
                    "POST",
                    "/pools",
                    Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "UDP",
                                         "lb_algorithm": "ROUND_ROBIN"}})),
                ),
                201,
            ),
            "/pool/id",
        );
        refused(
            &o.call(
                "POST",
                "/healthmonitors",
                Some(
                    json!({"healthmonitor": {"pool_id": udp, "type": "SCTP", "delay": 5,
                                              "timeout": 3, "max_retries": 2}}),
                ),
            ),
            501,
            "SCTP",
        );
        let monitor = status(
            &o.call(
                "POST",
                "/healthmonitors",
                Some(
                    json!({"healthmonitor": {"pool_id": udp, "type": kind, "delay": 5,
                                              "timeout": 3, "max_retries": 2}}),
                ),
            ),
            201,
        );
        assert_eq!(monitor["healthmonitor"]["type"], kind);
    }
}

#[test]
fn the_amphora_api_is_the_operators_and_knows_no_amphora() {
    let o = Octavia::start();
    let member = |method: &str, rest: &str| {
        o.server
            .octavia_at("/v2/octavia", &o.token, method, rest, None)
    };
    status(&member("GET", "/amphorae"), 403);
    status(&member("DELETE", "/amphorae/any"), 403);
    let admin = o.server.with_role("admin");
    let (_, token) = admin.keystone_token();
    for prefix in ["/v2/octavia", "/load-balancer/v2/octavia"] {
        let call = |method: &str, rest: &str| admin.octavia_at(prefix, &token, method, rest, None);
        assert_eq!(
            status(&call("GET", "/amphorae"), 200)["amphorae"],
            json!([])
        );
        for (method, rest) in [
            ("GET", "/amphorae/a1"),
            ("DELETE", "/amphorae/a1"),
            ("GET", "/amphorae/a1/stats"),
            ("PUT", "/amphorae/a1/failover"),
            ("PUT", "/amphorae/a1/config"),
        ] {
            refused(&call(method, rest), 404, "Amphora a1 could not be found");
        }
    }
}

#[test]
fn huawei_refuses_prometheus_as_a_protocol_it_lacks() {
    let s = harness::start();
    let lb = s.huawei(
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": s.inventory.subnet}})),
    );
    let lb = text(&status(&lb, 201), "/loadbalancer/id");
    let reply = s.huawei(
        "POST",
        "/listeners",
        Some(
            &json!({"listener": {"loadbalancer_id": lb, "protocol": "PROMETHEUS",
                                  "protocol_port": 9100}}),
        ),
    );
    let body = status(&reply, 400);
    assert_eq!(body["error_code"], "ELB.1001", "{body}");
    assert!(
        body["error_msg"]
            .as_str()
            .unwrap()
            .ends_with("Value should be one of HTTP, HTTPS, TCP, TERMINATED_HTTPS, UDP"),
        "{body}"
    );
}
