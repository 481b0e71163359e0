//! Signatures and replay guards through a real socket (issue 14, holes
//! 1-3): each test replays or forges a request the way an attacker who
//! captured one would, and checks both the answer and that nothing was
//! changed behind it.
//!
//! - Huawei: the body a signature covers is the body received.
//! - Zenlayer: a signature is single-use (it covers neither the action nor
//!   the path), and each action's body is parsed strictly.
//! - UCloud: the replay guard keys on what was verified, not on the bytes
//!   sent.
//! - Every guard keeps a bounded table per project, so one tenant's flood
//!   never lets another tenant's request replay.

#[path = "golden/harness.rs"]
mod harness;

use std::time::Duration;

use serde_json::{json, Value};

use harness::{Options, Reply, Server};
use weir_dialects::common::{sha256_hex, unix_now, ReplayLimits};

#[track_caller]
fn status(reply: &Reply, expected: u16) -> Value {
    assert_eq!(
        reply.status, expected,
        "{}\n-> {}",
        reply.request, reply.text
    );
    reply.json()
}

#[track_caller]
fn zc_code(reply: &Reply, status_code: u16, code: &str) -> Value {
    let body = status(reply, status_code);
    assert_eq!(body["code"], code, "{}\n-> {}", reply.request, reply.text);
    body
}

#[track_caller]
fn uc_code(reply: &Reply, code: i64) {
    let body = status(reply, 200);
    assert_eq!(
        body["RetCode"], code,
        "{}\n-> {}",
        reply.request, reply.text
    );
}

// ---------------------------------------------------------------- Huawei

/// A Huawei pool to add members to.
fn huawei_pool(s: &Server) -> String {
    let inv = &s.inventory;
    let reply = s.huawei(
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "name": "web"}})),
    );
    let lb = status(&reply, 201)["loadbalancer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = s.huawei(
        "POST",
        "/listeners",
        Some(
            &json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP",
                                  "protocol_port": 80, "name": "tcp-80"}}),
        ),
    );
    let listener = status(&reply, 201)["listener"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = s.huawei(
        "POST",
        "/pools",
        Some(&json!({"pool": {"listener_id": listener, "protocol": "TCP",
                               "lb_algorithm": "ROUND_ROBIN"}})),
    );
    status(&reply, 201)["pool"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn member_body(s: &Server, vm: usize, port: u16) -> Vec<u8> {
    serde_json::to_vec(&json!({"member": {
        "address": s.inventory.vms[vm].ip, "protocol_port": port,
        "subnet_id": s.inventory.subnet, "weight": 10,
    }}))
    .unwrap()
}

fn member_addresses(s: &Server, pool: &str) -> Vec<String> {
    let reply = s.huawei("GET", &format!("/pools/{pool}/members"), None);
    status(&reply, 200)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{}:{}", m["address"], m["protocol_port"]))
        .collect()
}

/// Hole 1: `X-Sdk-Content-Sha256` used to stand in for the body, so a
/// captured request carrying it replayed with any body.
#[test]
fn huawei_signature_covers_the_body_received() {
    let s = harness::start();
    let pool = huawei_pool(&s);
    let path = format!("/pools/{pool}/members");
    let signed = member_body(&s, 0, 8080);
    let swapped = member_body(&s, 1, 9090);

    let reply = s.huawei_with("POST", &path, &swapped, &signed, Some(&sha256_hex(&signed)));
    let body = status(&reply, 401);
    assert!(body.to_string().contains("X-Sdk-Content-Sha256"), "{body}");
    let reply = s.huawei_with("POST", &path, &swapped, &swapped, Some("UNSIGNED-PAYLOAD"));
    status(&reply, 401);
    assert_eq!(member_addresses(&s, &pool), Vec::<String>::new());

    // The header stays welcome when it is the truth, in either case.
    let hash = sha256_hex(&signed).to_ascii_uppercase();
    let reply = s.huawei_with("POST", &path, &signed, &signed, Some(&hash));
    status(&reply, 201);
    // An empty body is hashed as empty whatever the header says, as the
    // SDK does for the UNSIGNED-PAYLOAD it sets on non-JSON requests.
    let reply = s.huawei_with("GET", &path, b"", b"", Some("UNSIGNED-PAYLOAD"));
    status(&reply, 200);
    assert_eq!(
        member_addresses(&s, &pool),
        vec![format!("\"{}\":8080", s.inventory.vms[0].ip)]
    );
}

// -------------------------------------------------------------- Zenlayer

const ZLB: &str = "2025-04-01";
const BMC: &str = "2026-02-01";

fn zlb(s: &Server, action: &str, body: Value) -> Value {
    status(&s.zenlayer("zlb", ZLB, action, &body), 200)["response"].clone()
}

fn bmc(s: &Server, action: &str, body: Value) -> Value {
    status(&s.zenlayer("bmc", BMC, action, &body), 200)["response"].clone()
}

/// A ZLB load balancer with one listener.
fn zlb_listener(s: &Server) -> (String, String) {
    let inv = &s.inventory;
    let lb = zlb(
        s,
        "CreateLoadBalancer",
        json!({"regionId": "local", "vpcId": inv.vpc, "subnetId": inv.subnet}),
    )["loadBalancerIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let listener = zlb(
        s,
        "CreateListener",
        json!({"loadBalancerId": lb, "protocol": "TCP", "port": "80"}),
    )["listenerId"]
        .as_str()
        .unwrap()
        .to_owned();
    (lb, listener)
}

fn zlb_listener_count(s: &Server, lb: &str) -> usize {
    zlb(s, "DescribeListeners", json!({"loadBalancerId": lb}))["listeners"]
        .as_array()
        .unwrap()
        .len()
}

/// Hole 2, the sequence of the issue: a DescribeBackends the caller sent
/// is captured and replayed, within its window, as DeleteListener (the
/// action is the unsigned `x-zc-action`; both take the same body).
#[test]
fn a_zenlayer_signature_never_replays_as_another_action() {
    let s = harness::start();
    let (lb, listener) = zlb_listener(&s);
    let body = serde_json::to_vec(&json!({"loadBalancerId": lb, "listenerId": listener})).unwrap();
    let describe = s.zenlayer_signed("zlb", ZLB, "DescribeBackends", &body, unix_now());
    status(&s.send_zenlayer(&describe), 200);

    let delete = describe.with("/api/v2/zlb", "DeleteListener");
    let refused = zc_code(&s.send_zenlayer(&delete), 429, "REQUEST_LIMIT_EXCEEDED");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{refused}"
    );
    // Nor as another read; only the very same read may repeat.
    let health = describe.with("/api/v2/zlb", "DescribeBackendHealth");
    zc_code(&s.send_zenlayer(&health), 429, "REQUEST_LIMIT_EXCEEDED");
    status(&s.send_zenlayer(&describe), 200);
    assert_eq!(zlb_listener_count(&s, &lb), 1, "the listener survived");
    // A write's signature is used once, even as itself. (Signed a second
    // later: within the same second it would be the very signature the
    // DescribeBackends above already used, and refused.)
    let delete = s.zenlayer_signed("zlb", ZLB, "DeleteListener", &body, unix_now() + 1);
    status(&s.send_zenlayer(&delete), 200);
    zc_code(&s.send_zenlayer(&delete), 429, "REQUEST_LIMIT_EXCEEDED");
}

/// Hole 2: the path is not signed either, so a ZLB request replayed on
/// `/api/v2/bmc` used to pass.
#[test]
fn a_zenlayer_signature_never_crosses_services() {
    let s = harness::start();
    let inv = s.inventory.clone();
    let lb = bmc(
        &s,
        "CreateLoadBalancer",
        json!({"zoneId": "local", "subnetId": inv.subnet, "clientToken": "t-lb"}),
    )["loadBalancerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let listener = bmc(
        &s,
        "CreateListener",
        json!({"loadBalancerId": lb, "portList": [80], "protocol": "TCP"}),
    )["listenerId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A body both services accept as DescribeLoadBalancers.
    let body = serde_json::to_vec(&json!({"loadBalancerIds": [lb]})).unwrap();
    let on_zlb = s.zenlayer_signed("zlb", ZLB, "DescribeLoadBalancers", &body, unix_now());
    status(&s.send_zenlayer(&on_zlb), 200);
    let on_bmc = on_zlb.with("/api/v2/bmc", "DescribeLoadBalancers");
    zc_code(&s.send_zenlayer(&on_bmc), 429, "REQUEST_LIMIT_EXCEEDED");

    // And a BMC DescribeBackends replayed as the BMC DeleteListener
    // (both are `{"listenerId"}`).
    let body = serde_json::to_vec(&json!({"listenerId": listener})).unwrap();
    let describe = s.zenlayer_signed("bmc", BMC, "DescribeBackends", &body, unix_now());
    status(&s.send_zenlayer(&describe), 200);
    let delete = describe.with("/api/v2/bmc", "DeleteListener");
    zc_code(&s.send_zenlayer(&delete), 429, "REQUEST_LIMIT_EXCEEDED");
    let listeners = bmc(&s, "DescribeListeners", json!({"loadBalancerIds": [lb]}));
    assert_eq!(listeners["totalCount"], 1, "{listeners}");
}

/// Hole 2, second layer: a body signed for one action is not accepted by
/// another, even when the replay arrives first (an attacker in the path).
#[test]
fn zenlayer_bodies_are_parsed_strictly() {
    let s = harness::start();
    let (lb, listener) = zlb_listener(&s);
    // A DescribeListeners-style body (`protocol` is its filter) sent as
    // DeleteListener: unknown to DeleteListener, so refused.
    let reply = s.zenlayer(
        "zlb",
        ZLB,
        "DeleteListener",
        &json!({"loadBalancerId": lb, "listenerId": listener, "protocol": "TCP"}),
    );
    let body = zc_code(&reply, 400, "INVALID_PARAMETER");
    assert!(
        body["message"].as_str().unwrap().contains("protocol"),
        "{body}"
    );
    // Nested objects too.
    let reply = s.zenlayer(
        "zlb",
        ZLB,
        "RegisterBackend",
        &json!({"loadBalancerId": lb, "listenerId": listener,
                "backendServers": [{"privateIpAddress": s.inventory.vms[0].ip, "port": 80,
                                    "backendName": "x"}]}),
    );
    zc_code(&reply, 400, "INVALID_PARAMETER");
    let reply = s.zenlayer(
        "zlb",
        ZLB,
        "DescribeLoadBalancerRegions",
        &json!({"listenerId": listener}),
    );
    zc_code(&reply, 400, "INVALID_PARAMETER");
    // Missing fields stay refused.
    let reply = s.zenlayer(
        "zlb",
        ZLB,
        "DeleteListener",
        &json!({"listenerId": listener}),
    );
    zc_code(&reply, 400, "MISSING_PARAMETER");
    assert_eq!(zlb_listener_count(&s, &lb), 1);

    // BMC: a DescribeBackends body with its paging, as DeleteListener.
    let inv = s.inventory.clone();
    let bmc_lb = bmc(
        &s,
        "CreateLoadBalancer",
        json!({"zoneId": "local", "subnetId": inv.subnet, "clientToken": "t-strict"}),
    )["loadBalancerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let bmc_listener = bmc(
        &s,
        "CreateListener",
        json!({"loadBalancerId": bmc_lb, "portList": [81], "protocol": "TCP"}),
    )["listenerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = s.zenlayer(
        "bmc",
        BMC,
        "DeleteListener",
        &json!({"listenerId": bmc_listener, "pageSize": 10}),
    );
    zc_code(&reply, 400, "INVALID_PARAMETER");
    let listeners = bmc(
        &s,
        "DescribeListeners",
        json!({"loadBalancerIds": [bmc_lb]}),
    );
    assert_eq!(listeners["totalCount"], 1, "{listeners}");
    // Fields the SDK models carry are accepted as null (unset).
    bmc(
        &s,
        "DescribeListeners",
        json!({"loadBalancerIds": [bmc_lb], "listenerName": null, "pageNum": null}),
    );
}

/// Two identical calls within one second share one signature: a read is
/// served twice; a write's second call is answered like a rate limit,
/// which the SDK retries signed afresh.
#[test]
fn identical_zenlayer_calls_in_the_same_second() {
    let s = harness::start();
    let (lb, listener) = zlb_listener(&s);
    let now = unix_now();
    let poll = s.zenlayer_signed("zlb", ZLB, "DescribeLoadBalancers", b"{}", now);
    let again = s.zenlayer_signed("zlb", ZLB, "DescribeLoadBalancers", b"{}", now);
    status(&s.send_zenlayer(&poll), 200);
    status(&s.send_zenlayer(&again), 200);

    let body = serde_json::to_vec(&json!({"loadBalancerId": lb, "listenerId": listener})).unwrap();
    let delete = s.zenlayer_signed("zlb", ZLB, "DeleteListener", &body, now);
    let twice = s.zenlayer_signed("zlb", ZLB, "DeleteListener", &body, now);
    status(&s.send_zenlayer(&delete), 200);
    zc_code(&s.send_zenlayer(&twice), 429, "REQUEST_LIMIT_EXCEEDED");
    let retry = s.zenlayer_signed("zlb", ZLB, "DeleteListener", &body, now + 1);
    zc_code(
        &s.send_zenlayer(&retry),
        404,
        "INVALID_LB_LISTENER_NOT_FOUND",
    );
}

fn small_limits() -> ReplayLimits {
    ReplayLimits {
        per_project: 4,
        projects: 8,
    }
}

/// A flood from project A fills only A's table: A is then refused
/// retryably, B is still served, and B's captured request still does not
/// replay.
#[test]
fn one_projects_zenlayer_flood_never_lets_anothers_replay_through() {
    let s = harness::start_with(Options {
        replay_limits: Some(small_limits()),
        second_project: true,
        ..Options::default()
    });
    let b = s.as_other();
    let now = unix_now();
    // A write (it fails on its own: nothing to delete), so a repeat is a
    // replay.
    let body = br#"{"loadBalancerId": "lb-none", "listenerId": "lsn-none"}"#;
    let captured = b.zenlayer_signed("zlb", ZLB, "DeleteListener", body, now);
    zc_code(
        &b.send_zenlayer(&captured),
        404,
        "INVALID_LB_LISTENER_NOT_FOUND",
    );

    let mut full = 0;
    for i in 0..12 {
        let body = format!("{{\"loadBalancerName\": \"flood-{i}\"}}");
        let reply = s.send_zenlayer(&s.zenlayer_signed(
            "zlb",
            ZLB,
            "DescribeLoadBalancers",
            body.as_bytes(),
            now,
        ));
        if reply.status == 429 {
            let body = zc_code(&reply, 429, "REQUEST_LIMIT_EXCEEDED");
            assert!(
                body["message"].as_str().unwrap().contains("retry later"),
                "{body}"
            );
            full += 1;
        } else {
            status(&reply, 200);
        }
    }
    assert_eq!(
        full,
        12 - small_limits().per_project,
        "A is held to its own table"
    );

    let replayed = zc_code(&b.send_zenlayer(&captured), 429, "REQUEST_LIMIT_EXCEEDED");
    assert!(
        replayed["message"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{replayed}"
    );
    let fresh = b.zenlayer_signed("zlb", ZLB, "DescribeLoadBalancers", b"{}", now + 1);
    status(&b.send_zenlayer(&fresh), 200);
}

// ---------------------------------------------------------------- UCloud

fn ucloud_guarded(limits: Option<ReplayLimits>) -> Server {
    harness::start_with(Options {
        config: weir_dialects::Config {
            ucloud_replay_window: Some(Duration::from_secs(600)),
            ..weir_dialects::Config::default()
        },
        replay_limits: limits,
        second_project: limits.is_some(),
    })
}

/// Hole 3: the guard keyed on the pairs as sent, while verification
/// lower-cases the signature and ignores extra `Signature` pairs.
#[test]
fn a_ucloud_replay_with_a_restyled_signature_is_still_a_replay() {
    let s = ucloud_guarded(None);
    // A write that fails on its own (no such ULB) still passes the guard
    // first, so replays are observable without changing anything.
    let pairs = s.ucloud_signed(&[("Action", "DeleteULB"), ("ULBId", "ulb-none")]);
    uc_code(&s.send_ucloud(&pairs), 4086);
    uc_code(&s.send_ucloud(&pairs), 177);

    let mut upper = pairs.clone();
    let last = upper.len() - 1;
    upper[last].1 = upper[last].1.to_ascii_uppercase();
    uc_code(&s.send_ucloud(&upper), 177);

    let mut doubled = pairs.clone();
    doubled.push(("Signature".into(), "0".repeat(40)));
    uc_code(&s.send_ucloud(&doubled), 177);
    let mut twice = pairs.clone();
    twice.push(pairs[last].clone());
    uc_code(&s.send_ucloud(&twice), 177);

    // A different write is not a replay.
    let other = s.ucloud_signed(&[("Action", "DeleteULB"), ("ULBId", "ulb-other")]);
    uc_code(&s.send_ucloud(&other), 4086);
}

#[test]
fn one_projects_ucloud_flood_never_lets_anothers_replay_through() {
    let s = ucloud_guarded(Some(small_limits()));
    let b = s.as_other();
    let captured = b.ucloud_signed(&[("Action", "DeleteULB"), ("ULBId", "ulb-b")]);
    uc_code(&b.send_ucloud(&captured), 4086);
    let mut busy = 0;
    for i in 0..12 {
        let id = format!("ulb-flood-{i}");
        let reply = s.send_ucloud(&s.ucloud_signed(&[("Action", "DeleteULB"), ("ULBId", &id)]));
        if status(&reply, 200)["RetCode"] == 5001 {
            busy += 1;
        } else {
            uc_code(&reply, 4086);
        }
    }
    assert_eq!(busy, 12 - small_limits().per_project);
    uc_code(&b.send_ucloud(&captured), 177);
}

// ---------------------------------------------------------------- Aliyun

#[test]
fn one_projects_aliyun_flood_never_lets_anothers_nonce_replay() {
    let s = harness::start_with(Options {
        replay_limits: Some(small_limits()),
        second_project: true,
        ..Options::default()
    });
    let b = s.as_other();
    let (captured, what) = b.aliyun_signed("DescribeLoadBalancers", &[], false, "nonce-b");
    status(
        &b.send_aliyun("DescribeLoadBalancers", &captured, what.clone()),
        200,
    );
    let mut throttled = 0;
    for i in 0..12 {
        let (pairs, what) =
            s.aliyun_signed("DescribeLoadBalancers", &[], false, &format!("flood-{i}"));
        let reply = s.send_aliyun("DescribeLoadBalancers", &pairs, what);
        if reply.status == 400 {
            assert_eq!(reply.json()["Code"], "Throttling", "{}", reply.text);
            throttled += 1;
        } else {
            status(&reply, 200);
        }
    }
    assert_eq!(throttled, 12 - small_limits().per_project);
    let reply = b.send_aliyun("DescribeLoadBalancers", &captured, what);
    assert_eq!(status(&reply, 400)["Code"], "SignatureNonceUsed");
}
