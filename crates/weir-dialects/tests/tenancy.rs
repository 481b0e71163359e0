//! Tenancy of addresses (issue 14, holes 4 and 5) through every dialect
//! that lets a tenant choose an address, over a real socket and signed as
//! each SDK signs: a bad VIP is refused with the dialect's own error; a
//! member address that lies only in another project's VPC, or that is
//! some load balancer's VIP, is refused; two projects whose VPCs overlap
//! (both 10.0.0.0/16) each register their own 10.0.1.50.

// The golden suite's harness, shared whole: this suite drives only the
// dialects that let a tenant choose an address, so parts stay unused here.
#[path = "golden/harness.rs"]
mod harness;

use serde_json::{json, Value};
use weir_core::settings::Settings;

use harness::{Reply, Server};

/// Every form of VIP a tenant must not get, each with why.
const BAD_VIPS: &[&str] = &[
    "0.0.0.0",
    "::",
    "::ffff:127.0.1.5",
    "224.0.0.1",
    "255.255.255.255",
    "127.0.0.1",
    "10.0.2.200",
];

/// VIPs from the upper half of the subnet every project has
/// (10.0.1.0/24): a VIP is then inside each caller's own network, so only
/// the VIP rule keeps one load balancer from forwarding to another.
fn vips_in_the_subnet() -> Settings {
    let mut settings = Settings::default();
    settings.network.vip_ranges = vec!["10.0.1.128/25".parse().unwrap()];
    settings
}

#[track_caller]
fn status(reply: &Reply, want: u16) -> Value {
    assert_eq!(reply.status, want, "{}\n-> {}", reply.request, reply.text);
    reply.json()
}

#[track_caller]
fn text(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {body}"))
        .to_owned()
}

/// An LBaaS load balancer, listener and its pool through `call`.
fn lbaas_pool(call: &dyn Fn(&str, &str, Option<Value>) -> Reply, subnet: &str) -> (String, String) {
    let lb = status(
        &call(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": subnet, "name": "web"}})),
        ),
        201,
    );
    let lb_id = text(&lb, "/loadbalancer/id");
    let listener = status(
        &call(
            "POST",
            "/listeners",
            Some(
                json!({"listener": {"loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": 80}}),
            ),
        ),
        201,
    );
    let pool = status(
        &call(
            "POST",
            "/pools",
            Some(
                json!({"pool": {"listener_id": text(&listener, "/listener/id"),
                                  "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
            ),
        ),
        201,
    );
    (
        text(&lb, "/loadbalancer/vip_address"),
        text(&pool, "/pool/id"),
    )
}

fn member(address: &str, subnet: Option<&str>) -> Value {
    let mut m = json!({"address": address, "protocol_port": 8080});
    if let Some(s) = subnet {
        m["subnet_id"] = json!(s);
    }
    json!({ "member": m })
}

/// The member and VIP rules, the same for Octavia and Huawei (one LBaaS
/// model), each through its own authentication.
/// `subnet_required`: Huawei members name their subnet (and must lie in
/// it), Octavia's may not.
fn lbaas_rules(
    a: &dyn Fn(&str, &str, Option<Value>) -> Reply,
    b: &dyn Fn(&str, &str, Option<Value>) -> Reply,
    sa: &Server,
    sb: &Server,
    subnet_required: bool,
) {
    let own_a = subnet_required.then_some(sa.inventory.subnet.as_str());
    let own_b = subnet_required.then_some(sb.inventory.subnet.as_str());
    let (vip_a, pool_a) = lbaas_pool(a, &sa.inventory.subnet);
    let (vip_b, pool_b) = lbaas_pool(b, &sb.inventory.subnet);
    let (private_subnet, db) = sb.inventory.private.clone().expect("B's private VPC");
    let members_a = format!("/pools/{pool_a}/members");

    for address in [db.ip.clone(), format!("::ffff:{}", db.ip)] {
        let body = status(&a("POST", &members_a, Some(member(&address, own_a))), 400);
        // Huawei already refuses it as outside the named subnet.
        assert!(
            subnet_required || text(&body, "/faultstring").contains("external_backend_ranges"),
            "{address}: {body}"
        );
    }
    // Naming B's subnet does not make it A's: another project's subnet
    // is not found.
    status(
        &a(
            "POST",
            &members_a,
            Some(member(&db.ip, Some(&private_subnet))),
        ),
        400,
    );
    assert!(
        vip_b.starts_with("10.0.1."),
        "B's VIP lies in A's subnet too: {vip_b}"
    );
    for address in [vip_a.clone(), vip_b.clone(), format!("::ffff:{vip_b}")] {
        let body = status(&a("POST", &members_a, Some(member(&address, own_a))), 400);
        assert!(
            text(&body, "/faultstring").contains("VIP"),
            "{address}: {body}"
        );
    }
    // Overlapping address spaces: each project's own 10.0.1.50.
    for (call, pool, own) in [(a, &pool_a, own_a), (b, &pool_b, own_b)] {
        let body = status(
            &call(
                "POST",
                &format!("/pools/{pool}/members"),
                Some(member("10.0.1.50", own)),
            ),
            201,
        );
        assert_eq!(body["member"]["address"], "10.0.1.50");
    }
    for vip in BAD_VIPS {
        let body = status(
            &a(
                "POST",
                "/loadbalancers",
                Some(
                    json!({"loadbalancer": {"vip_subnet_id": sa.inventory.subnet, "vip_address": vip}}),
                ),
            ),
            400,
        );
        assert!(
            text(&body, "/faultstring").contains("vip_address"),
            "{vip}: {body}"
        );
    }
}

#[test]
fn octavia_members_stay_in_the_callers_network_and_vips_are_checked() {
    let servers = harness::start_many(vips_in_the_subnet(), 2);
    let (sa, sb) = (&servers[0], &servers[1]);
    let (_, token_a) = sa.keystone_token();
    let (_, token_b) = sb.keystone_token();
    let a = |m: &str, rest: &str, body: Option<Value>| sa.octavia(&token_a, m, rest, body.as_ref());
    let b = |m: &str, rest: &str, body: Option<Value>| sb.octavia(&token_b, m, rest, body.as_ref());
    lbaas_rules(&a, &b, sa, sb, false);
}

#[test]
fn huawei_members_stay_in_the_callers_network_and_vips_are_checked() {
    let servers = harness::start_many(vips_in_the_subnet(), 2);
    let (sa, sb) = (&servers[0], &servers[1]);
    let a = |m: &str, rest: &str, body: Option<Value>| sa.huawei(m, rest, body.as_ref());
    let b = |m: &str, rest: &str, body: Option<Value>| sb.huawei(m, rest, body.as_ref());
    lbaas_rules(&a, &b, sa, sb, true);
}

#[test]
fn aliyun_address_must_be_a_usable_vip() {
    let s = harness::start();
    let inv = s.inventory.clone();
    for vip in BAD_VIPS {
        let reply = s.aliyun(
            "CreateLoadBalancer",
            &[
                ("VSwitchId", &inv.subnet),
                ("VpcId", &inv.vpc),
                ("AddressType", "intranet"),
                ("Address", vip),
            ],
            false,
        );
        let body = status(&reply, 400);
        assert_eq!(body["Code"], "InvalidParameter", "{vip}: {body}");
        assert!(text(&body, "/Message").contains("VIP"), "{vip}: {body}");
    }
    let reply = s.aliyun(
        "CreateLoadBalancer",
        &[
            ("VSwitchId", &inv.subnet),
            ("VpcId", &inv.vpc),
            ("AddressType", "intranet"),
            ("Address", "127.0.1.77"),
        ],
        false,
    );
    assert_eq!(status(&reply, 200)["Address"], "127.0.1.77");
}

#[test]
fn ucloud_private_ip_must_be_a_usable_vip() {
    let s = harness::start();
    let inv = s.inventory.clone();
    for vip in BAD_VIPS {
        let reply = s.ucloud(&[
            ("Action", "CreateULB"),
            ("VPCId", &inv.vpc),
            ("SubnetId", &inv.subnet),
            ("PrivateIp", vip),
        ]);
        let body = status(&reply, 200);
        assert_eq!(body["RetCode"], 230, "{vip}: {body}");
        assert!(text(&body, "/Message").contains("VIP"), "{vip}: {body}");
    }
    let reply = s.ucloud(&[
        ("Action", "CreateULB"),
        ("VPCId", &inv.vpc),
        ("SubnetId", &inv.subnet),
        ("PrivateIp", "127.0.1.77"),
    ]);
    assert_eq!(status(&reply, 200)["RetCode"], 0, "{}", reply.text);
}
