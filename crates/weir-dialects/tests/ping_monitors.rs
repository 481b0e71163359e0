//! PING health monitors over the wire: Octavia's `type: PING` and UCloud's
//! `MonitorType=Ping` become the core's ICMP echo check where the data
//! plane can send ICMP (`Capabilities::icmp_echo`, found out by `weir
//! serve` at startup and set here by hand), and are refused in each
//! dialect's words where it cannot: Octavia's 501, UCloud's RetCode 230.
//! Octavia's 400s for the HTTP-only fields on a PING monitor hold either
//! way. The checks themselves run in the data plane's tests
//! (`weir-dataplane/tests/dataplane/ping.rs`), through real sockets.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::{json, Value};
use weir_core::settings::Settings;

use octavia::{status, text, Octavia};

fn octavia(icmp_echo: bool) -> Octavia {
    let mut settings = Settings::default();
    settings.capabilities.icmp_echo = icmp_echo;
    let server = harness::start_many(settings, 1).remove(0);
    let (_, token) = server.keystone_token();
    Octavia { server, token }
}

/// A load balancer with one TCP pool; the pool's id.
fn tcp_pool(o: &Octavia) -> String {
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
    text(
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
    )
}

fn create(o: &Octavia, pool: &str, extra: Value) -> harness::Reply {
    let mut body = json!({"pool_id": pool, "type": "PING", "delay": 3, "timeout": 2,
                          "max_retries": 2, "name": "icmp"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    o.call(
        "POST",
        "/healthmonitors",
        Some(json!({ "healthmonitor": body })),
    )
}

#[test]
fn an_octavia_ping_monitor_is_created_shown_and_updated() {
    let o = octavia(true);
    let pool = tcp_pool(&o);
    let made = status(&create(&o, &pool, json!({"max_retries_down": 4})), 201);
    let path = format!("/healthmonitors/{pool}");
    let shown = status(&o.call("GET", &path, None), 200);
    for m in [&made["healthmonitor"], &shown["healthmonitor"]] {
        assert_eq!(m["type"], "PING", "{m}");
        assert_eq!(
            (
                &m["delay"],
                &m["timeout"],
                &m["max_retries"],
                &m["max_retries_down"]
            ),
            (&json!(3), &json!(2), &json!(2), &json!(4)),
            "{m}"
        );
        assert_eq!(m["name"], "icmp");
        // An echo request has no path, codes or HTTP request.
        for field in [
            "url_path",
            "expected_codes",
            "http_method",
            "http_version",
            "domain_name",
        ] {
            assert_eq!(m[field], Value::Null, "{field}: {m}");
        }
        assert_eq!(m["pools"], json!([{"id": pool}]));
    }
    let listed = status(&o.call("GET", "/healthmonitors?type=PING", None), 200);
    assert_eq!(listed["healthmonitors"].as_array().unwrap().len(), 1);
    // Its timing changes; its type stays.
    let updated = status(
        &o.call(
            "PUT",
            &path,
            Some(json!({"healthmonitor": {"delay": 10, "max_retries": 5}})),
        ),
        200,
    );
    assert_eq!(updated["healthmonitor"]["type"], "PING");
    assert_eq!(updated["healthmonitor"]["delay"], 10);
    assert_eq!(updated["healthmonitor"]["max_retries"], 5);
    // HTTP-only fields on an update are Octavia's 400 too.
    let refused = status(
        &o.call(
            "PUT",
            &path,
            Some(json!({"healthmonitor": {"url_path": "/health"}})),
        ),
        400,
    );
    assert_eq!(
        refused["faultstring"],
        "url_path is not a valid option for health monitors of type PING"
    );
    status(&o.call("DELETE", &path, None), 204);
    status(&o.call("GET", &path, None), 404);
}

#[test]
fn octavia_refuses_http_fields_on_a_ping_monitor_with_400() {
    let o = octavia(true);
    let pool = tcp_pool(&o);
    for (extra, field) in [
        (json!({"url_path": "/"}), "url_path"),
        (json!({"expected_codes": "200"}), "expected_codes"),
        (json!({"http_method": "HEAD"}), "http_method"),
    ] {
        let body = status(&create(&o, &pool, extra.clone()), 400);
        assert_eq!(
            body["faultstring"],
            format!("{field} is not a valid option for health monitors of type PING"),
            "{extra}"
        );
        assert_eq!(body["error_code"], "ELB.1001");
    }
    // Nothing of a refused monitor was written.
    status(
        &o.call("GET", &format!("/healthmonitors/{pool}"), None),
        404,
    );
    // Every monitor view shows GET, and clients send it back: it means
    // nothing to an echo request, as to TCP.
    status(&create(&o, &pool, json!({"http_method": "GET"})), 201);
}

#[test]
fn without_icmp_octavia_answers_501_and_writes_nothing() {
    // Default settings claim no ICMP.
    let o = Octavia::start();
    let pool = tcp_pool(&o);
    let body = status(&create(&o, &pool, json!({})), 501);
    let fault = body["faultstring"].as_str().unwrap();
    assert!(
        fault.starts_with(
            "Provider 'weir' does not support a requested option: PING checks need ICMP"
        ),
        "{fault}"
    );
    assert_eq!(body["error_code"], "ELB.1005");
    status(
        &o.call("GET", &format!("/healthmonitors/{pool}"), None),
        404,
    );
    // The other kinds do not depend on it.
    let tcp = o.call(
        "POST",
        "/healthmonitors",
        Some(
            json!({"healthmonitor": {"pool_id": pool, "type": "TCP", "delay": 3,
                                      "timeout": 2, "max_retries": 2}}),
        ),
    );
    status(&tcp, 201);
}

/// UCloud's `MonitorType=Ping` is the ICMP check, shown back as `Ping`;
/// refused with RetCode 230 (nothing created) where ICMP cannot be sent.
#[test]
fn ucloud_ping_is_a_real_echo_check_or_refused() {
    for icmp_echo in [true, false] {
        let mut settings = Settings::default();
        settings.capabilities.icmp_echo = icmp_echo;
        let s = harness::start_many(settings, 1).remove(0);
        let inv = s.inventory.clone();
        let ulb = s.ucloud(&[
            ("Action", "CreateULB"),
            ("VPCId", &inv.vpc),
            ("SubnetId", &inv.subnet),
        ]);
        let ulb = ulb.json()["ULBId"].as_str().unwrap().to_owned();
        let made = s
            .ucloud(&[
                ("Action", "CreateVServer"),
                ("ULBId", &ulb),
                ("Protocol", "TCP"),
                ("FrontendPort", "80"),
                ("MonitorType", "Ping"),
            ])
            .json();
        let listed = s
            .ucloud(&[("Action", "DescribeVServer"), ("ULBId", &ulb)])
            .json();
        if icmp_echo {
            assert_eq!(made["RetCode"], 0, "{made}");
            assert_eq!(listed["DataSet"][0]["MonitorType"], "Ping", "{listed}");
        } else {
            assert_eq!(made["RetCode"], 230, "{made}");
            let message = made["Message"].as_str().unwrap();
            assert!(
                message.starts_with("Params [MonitorType] not valid: Ping: PING checks need ICMP"),
                "{message}"
            );
            assert_eq!(listed["TotalCount"], 0, "nothing was created: {listed}");
        }
    }
}
