//! Golden fixtures of every dialect's wire shapes: one test per dialect
//! drives each action it serves through the real router over a real
//! socket (127.0.0.1 only), signed as the cloud's SDK signs, and compares
//! each response body, normalised (`golden/redact.rs`), with a snapshot
//! in `tests/snapshots/` — so any change of a wire shape shows up in
//! review. Each snapshot's description is the request that produced it.
//!
//! Update after an intended change with
//! `INSTA_UPDATE=always cargo test -p weir-dialects --test golden` (or
//! `cargo insta review`), then read the diff of every `.snap`.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/redact.rs"]
mod redact;

use serde_json::{json, Value};

use harness::{Reply, Server};
use redact::Redactor;

/// Starts a server and a redactor that already knows the inventory.
fn setup() -> (Server, Redactor) {
    let server = harness::start();
    let inv = &server.inventory;
    let mut r = Redactor::new();
    r.literal(&server.host, "[server]");
    r.literal(&inv.access_key_id, "[access-key-id]");
    r.literal(&inv.secret, "[secret]");
    r.label(&inv.project, "project");
    r.label(&inv.vpc, "vpc");
    r.label(&inv.subnet, "subnet");
    for (i, vm) in inv.vms.iter().enumerate() {
        r.label(&vm.id, &format!("vm-{i}"));
    }
    r.label(&inv.bm.id, "bm-0");
    if let Some((subnet, db)) = &inv.private {
        r.label(subnet, "private-subnet");
        r.label(&db.id, "private-db");
    }
    (server, r)
}

/// Asserts the status and that the body is JSON, then compares the
/// normalised body with the snapshot `name`; returns the raw body.
#[track_caller]
fn golden(r: &mut Redactor, name: &str, reply: &Reply, status: u16) -> Value {
    assert_eq!(
        reply.status, status,
        "{name}: {}\n-> {}",
        reply.request, reply.text
    );
    assert!(
        reply.content_type.starts_with("application/json"),
        "{name}: content type {:?}",
        reply.content_type
    );
    let body = reply.json();
    let description = r.text(&reply.request);
    let normalised = r.json(&body);
    insta::with_settings!({description => description, omit_expression => true}, {
        insta::assert_json_snapshot!(name, normalised);
    });
    body
}

/// A string field of a reply's JSON body, by JSON pointer.
#[track_caller]
fn field(reply: &Reply, pointer: &str) -> String {
    reply
        .json()
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no {pointer} in {}", reply.request, reply.text))
        .to_owned()
}

/// A Zenlayer success: HTTP 200 and the request id inside `response` too.
#[track_caller]
fn zc_ok(r: &mut Redactor, name: &str, reply: &Reply) -> Value {
    let body = golden(r, name, reply, 200);
    assert_eq!(body["requestId"], body["response"]["requestId"], "{name}");
    body
}

#[test]
fn zenlayer_zlb() {
    let (s, mut r) = setup();
    let inv = s.inventory.clone();
    let zlb = |action: &str, body: Value| s.zenlayer("zlb", "2025-04-01", action, &body);

    let reply = zlb(
        "CreateLoadBalancer",
        json!({"regionId": "local", "vpcId": inv.vpc, "subnetId": inv.subnet, "loadBalancerName": "web"}),
    );
    let lb = field(&reply, "/response/loadBalancerIds/0");
    r.label(&lb, "lb");
    zc_ok(&mut r, "zlb_01_create_load_balancer", &reply);

    let reply = zlb(
        "DescribeLoadBalancers",
        json!({"regionId": "local", "loadBalancerIds": [lb]}),
    );
    zc_ok(&mut r, "zlb_02_describe_load_balancers", &reply);

    let reply = zlb(
        "CreateListener",
        json!({
            "loadBalancerId": lb, "listenerName": "tcp-80", "protocol": "TCP", "port": "80",
            "scheduler": "wrr", "kind": "FNAT",
            "healthCheck": {"enabled": true, "checkType": "TCP", "checkPort": 8080,
                            "checkDelayLoop": 5, "checkConnTimeout": 3, "checkRetry": 2},
        }),
    );
    let listener = field(&reply, "/response/listenerId");
    r.label(&listener, "listener");
    zc_ok(&mut r, "zlb_03_create_listener", &reply);

    let reply = zlb("DescribeListeners", json!({"loadBalancerId": lb}));
    zc_ok(&mut r, "zlb_04_describe_listeners", &reply);

    let reply = zlb(
        "RegisterBackend",
        json!({"loadBalancerId": lb, "listenerId": listener, "backendServers": [
            {"instanceId": inv.vms[0].id, "port": 8080, "weight": 10},
            {"privateIpAddress": inv.vms[1].ip, "port": 8080, "weight": 20},
        ]}),
    );
    zc_ok(&mut r, "zlb_05_register_backend", &reply);

    let reply = zlb(
        "DescribeBackends",
        json!({"loadBalancerId": lb, "listenerId": listener}),
    );
    zc_ok(&mut r, "zlb_06_describe_backends", &reply);

    let reply = zlb(
        "ModifyBackend",
        json!({"loadBalancerId": lb, "listenerId": listener, "backendServers": [
            {"instanceId": inv.vms[0].id, "weight": 50},
        ]}),
    );
    zc_ok(&mut r, "zlb_07_modify_backend", &reply);

    let reply = zlb("DescribeBackendHealth", json!({"loadBalancerId": lb}));
    zc_ok(&mut r, "zlb_08_describe_backend_health", &reply);

    let reply = zlb(
        "RegisterBackend",
        json!({"loadBalancerId": lb, "listenerId": listener, "backendServers": [
            {"instanceId": inv.vms[0].id, "port": 8080, "weight": 10},
        ]}),
    );
    golden(&mut r, "zlb_09_register_backend_duplicate", &reply, 409);

    let reply = zlb(
        "DeregisterBackend",
        json!({"loadBalancerId": lb, "listenerId": listener, "backendServers": [
            {"privateIpAddress": inv.vms[1].ip, "port": 8080},
        ]}),
    );
    zc_ok(&mut r, "zlb_10_deregister_backend", &reply);

    let reply = zlb(
        "DeleteListener",
        json!({"loadBalancerId": lb, "listenerId": listener}),
    );
    zc_ok(&mut r, "zlb_11_delete_listener", &reply);
}

#[test]
fn zenlayer_bmc() {
    let (s, mut r) = setup();
    let inv = s.inventory.clone();
    let bmc = |action: &str, body: Value| s.zenlayer("bmc", "2026-02-01", action, &body);

    let reply = bmc(
        "CreateLoadBalancer",
        json!({"zoneId": "local", "subnetId": inv.subnet, "loadBalancerName": "metal",
               "clientToken": "golden-lb-1"}),
    );
    let lb = field(&reply, "/response/loadBalancerId");
    r.label(&lb, "lb");
    zc_ok(&mut r, "bmc_01_create_load_balancer", &reply);

    let reply = bmc(
        "DescribeLoadBalancers",
        json!({"zoneId": "local", "loadBalancerIds": [lb]}),
    );
    zc_ok(&mut r, "bmc_02_describe_load_balancers", &reply);

    let reply = bmc(
        "CreateListener",
        json!({
            "loadBalancerId": lb, "listenerName": "http-80", "portList": [80], "protocol": "TCP",
            "scheduler": "wrr", "kind": "FNAT",
            "healthCheck": {"checkEnabled": true, "checkType": "HTTP", "checkPort": 8080,
                            "checkIntervalTime": 5, "checkConnectTimeout": 3, "checkRetry": 2,
                            "httpCheckPath": "/healthz", "httpCode": "200"},
        }),
    );
    let listener = field(&reply, "/response/listenerId");
    r.label(&listener, "listener");
    zc_ok(&mut r, "bmc_03_create_listener", &reply);

    let reply = bmc("DescribeListeners", json!({"loadBalancerIds": [lb]}));
    zc_ok(&mut r, "bmc_04_describe_listeners", &reply);

    let reply = bmc(
        "RegisterBackend",
        json!({"listenerId": listener, "backendName": "metal-0", "instanceId": inv.bm.id,
               "instanceType": "BM", "clientToken": "golden-backend-1", "portList": [8080],
               "weight": 10}),
    );
    let backend = field(&reply, "/response/backendId");
    r.label(&backend, "backend");
    zc_ok(&mut r, "bmc_05_register_backend", &reply);

    let reply = bmc("DescribeBackends", json!({"listenerId": listener}));
    zc_ok(&mut r, "bmc_06_describe_backends", &reply);

    let reply = bmc(
        "ModifyBackendWeight",
        json!({"backendId": backend, "weight": 60}),
    );
    zc_ok(&mut r, "bmc_07_modify_backend_weight", &reply);

    let reply = bmc(
        "RegisterBackend",
        json!({"listenerId": listener, "backendName": "metal-0-again", "instanceId": inv.bm.id,
               "instanceType": "BM", "clientToken": "golden-backend-2", "portList": [8080]}),
    );
    golden(&mut r, "bmc_08_register_backend_duplicate", &reply, 409);

    let reply = bmc("DeregisterBackend", json!({"backendId": backend}));
    zc_ok(&mut r, "bmc_09_deregister_backend", &reply);

    let reply = bmc("DeleteListener", json!({"listenerId": listener}));
    zc_ok(&mut r, "bmc_10_delete_listener", &reply);
}

#[test]
fn ucloud_ulb() {
    let (s, mut r) = setup();
    let inv = s.inventory.clone();
    let ok = |r: &mut Redactor, name: &str, reply: &Reply| {
        let body = golden(r, name, reply, 200);
        assert_eq!(body["RetCode"], 0, "{name}");
        body
    };

    let reply = s.ucloud(&[
        ("Action", "CreateULB"),
        ("ULBName", "web"),
        ("VPCId", &inv.vpc),
        ("SubnetId", &inv.subnet),
    ]);
    let ulb = field(&reply, "/ULBId");
    r.label(&ulb, "ulb");
    ok(&mut r, "ucloud_01_create_ulb", &reply);

    let reply = s.ucloud(&[
        ("Action", "CreateVServer"),
        ("ULBId", &ulb),
        ("VServerName", "tcp-80"),
        ("Protocol", "TCP"),
        ("FrontendPort", "80"),
        ("ListenType", "RequestProxy"),
        ("Method", "Roundrobin"),
        ("MonitorType", "Port"),
    ]);
    let vserver = field(&reply, "/VServerId");
    r.label(&vserver, "vserver");
    ok(&mut r, "ucloud_02_create_vserver", &reply);

    let reply = s.ucloud(&[
        ("Action", "AllocateBackend"),
        ("ULBId", &ulb),
        ("VServerId", &vserver),
        ("ResourceType", "UHost"),
        ("ResourceId", &inv.vms[0].id),
        ("Port", "8080"),
        ("Weight", "10"),
        ("Enabled", "1"),
        ("IsBackup", "0"),
    ]);
    let backend = field(&reply, "/BackendId");
    r.label(&backend, "backend-0");
    ok(&mut r, "ucloud_03_allocate_backend", &reply);

    let batch0 = format!("{}|UHost|8080|20|1|0", inv.vms[1].id);
    let batch1 = format!("{}|UHost|8080|30|1|1", inv.vms[2].id);
    let reply = s.ucloud(&[
        ("Action", "AllocateBackendBatch"),
        ("ULBId", &ulb),
        ("VServerId", &vserver),
        ("Backends.0", &batch0),
        ("Backends.1", &batch1),
    ]);
    ok(&mut r, "ucloud_04_allocate_backend_batch", &reply);

    let reply = s.ucloud(&[("Action", "DescribeULB"), ("ULBId", &ulb)]);
    ok(&mut r, "ucloud_05_describe_ulb", &reply);

    let reply = s.ucloud(&[
        ("Action", "UpdateBackendAttribute"),
        ("ULBId", &ulb),
        ("BackendId", &backend),
        ("Weight", "50"),
        ("Enabled", "0"),
    ]);
    ok(&mut r, "ucloud_06_update_backend_attribute", &reply);

    let reply = s.ucloud(&[
        ("Action", "DescribeVServer"),
        ("ULBId", &ulb),
        ("VServerId", &vserver),
    ]);
    ok(&mut r, "ucloud_07_describe_vserver", &reply);

    // Errors are HTTP 200 too; the RetCode tells.
    let reply = s.ucloud(&[
        ("Action", "AllocateBackend"),
        ("ULBId", &ulb),
        ("VServerId", &vserver),
        ("ResourceType", "UHost"),
        ("ResourceId", &inv.vms[0].id),
        ("Port", "8080"),
    ]);
    let body = golden(&mut r, "ucloud_08_allocate_backend_duplicate", &reply, 200);
    assert_ne!(body["RetCode"], 0);

    let reply = s.ucloud(&[
        ("Action", "ReleaseBackend"),
        ("ULBId", &ulb),
        ("BackendId", &backend),
    ]);
    ok(&mut r, "ucloud_09_release_backend", &reply);

    let reply = s.ucloud(&[
        ("Action", "DeleteVServer"),
        ("ULBId", &ulb),
        ("VServerId", &vserver),
    ]);
    ok(&mut r, "ucloud_10_delete_vserver", &reply);

    let reply = s.ucloud(&[("Action", "DeleteULB"), ("ULBId", &ulb)]);
    ok(&mut r, "ucloud_11_delete_ulb", &reply);
}

#[test]
fn aliyun_slb() {
    let (s, mut r) = setup();
    let inv = s.inventory.clone();
    let slb = |action: &str, params: &[(&str, &str)]| s.aliyun(action, params, false);

    let reply = slb(
        "CreateLoadBalancer",
        &[
            ("VSwitchId", &inv.subnet),
            ("VpcId", &inv.vpc),
            ("LoadBalancerName", "web"),
            ("AddressType", "intranet"),
        ],
    );
    let lb = field(&reply, "/LoadBalancerId");
    r.label(&lb, "lb");
    golden(&mut r, "aliyun_01_create_load_balancer", &reply, 200);

    let reply = slb("DescribeLoadBalancers", &[("LoadBalancerId", &lb)]);
    golden(&mut r, "aliyun_02_describe_load_balancers", &reply, 200);

    let reply = slb(
        "CreateLoadBalancerTCPListener",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "80"),
            ("BackendServerPort", "8080"),
            ("Bandwidth", "-1"),
            ("Scheduler", "wrr"),
            ("HealthCheckType", "tcp"),
            ("HealthCheckConnectPort", "8080"),
            ("HealthCheckInterval", "5"),
            ("HealthCheckConnectTimeout", "3"),
            ("HealthyThreshold", "2"),
            ("UnhealthyThreshold", "3"),
            ("Description", "tcp-80"),
        ],
    );
    golden(&mut r, "aliyun_03_create_tcp_listener", &reply, 200);

    let servers = json!([
        {"ServerId": inv.vms[0].id, "Weight": "100", "Type": "ecs", "Description": "vm0"},
        {"ServerId": inv.vms[1].id, "Weight": "50", "Type": "ecs"},
    ])
    .to_string();
    let reply = slb(
        "AddBackendServers",
        &[("LoadBalancerId", &lb), ("BackendServers", &servers)],
    );
    golden(&mut r, "aliyun_04_add_backend_servers", &reply, 200);

    let reply = slb("DescribeLoadBalancerAttribute", &[("LoadBalancerId", &lb)]);
    golden(
        &mut r,
        "aliyun_05_describe_load_balancer_attribute",
        &reply,
        200,
    );

    let servers = json!([{"ServerId": inv.vms[1].id, "Weight": "80"}]).to_string();
    let reply = slb(
        "SetBackendServers",
        &[("LoadBalancerId", &lb), ("BackendServers", &servers)],
    );
    golden(&mut r, "aliyun_06_set_backend_servers", &reply, 200);

    let reply = slb(
        "DescribeHealthStatus",
        &[("LoadBalancerId", &lb), ("ListenerPort", "80")],
    );
    golden(&mut r, "aliyun_07_describe_health_status", &reply, 200);

    let servers = json!([{"ServerId": inv.vms[0].id, "Weight": "100"}]).to_string();
    let reply = slb(
        "AddBackendServers",
        &[("LoadBalancerId", &lb), ("BackendServers", &servers)],
    );
    golden(
        &mut r,
        "aliyun_08_add_backend_servers_duplicate",
        &reply,
        400,
    );

    // The classic SDK's do_action asks for XML: the same shapes as
    // elements, arrays repeating their key.
    let reply = s.aliyun(
        "DescribeLoadBalancerAttribute",
        &[("LoadBalancerId", &lb)],
        true,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.content_type.starts_with("text/xml"),
        "{}",
        reply.content_type
    );
    let description = r.text(&reply.request);
    let xml = r.xml(&reply.text);
    insta::with_settings!({description => description, omit_expression => true}, {
        insta::assert_snapshot!("aliyun_09_describe_load_balancer_attribute_xml", xml);
    });

    let servers = json!([{"ServerId": inv.vms[1].id}]).to_string();
    let reply = slb(
        "RemoveBackendServers",
        &[("LoadBalancerId", &lb), ("BackendServers", &servers)],
    );
    golden(&mut r, "aliyun_10_remove_backend_servers", &reply, 200);

    let reply = slb(
        "DeleteLoadBalancerListener",
        &[("LoadBalancerId", &lb), ("ListenerPort", "80")],
    );
    golden(&mut r, "aliyun_11_delete_listener", &reply, 200);

    let reply = slb("DeleteLoadBalancer", &[("LoadBalancerId", &lb)]);
    golden(&mut r, "aliyun_12_delete_load_balancer", &reply, 200);
}

#[test]
fn openstack_octavia() {
    let (s, mut r) = setup();
    let inv = s.inventory.clone();

    let (reply, token) = s.keystone_token();
    assert!(token.starts_with("wks2."), "{token}");
    golden(&mut r, "octavia_01_keystone_token", &reply, 201);
    let api = |method: &str, rest: &str, body: Option<Value>| {
        s.octavia(&token, method, rest, body.as_ref())
    };

    let reply = api(
        "POST",
        "/loadbalancers",
        Some(json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "name": "web"}})),
    );
    let lb = field(&reply, "/loadbalancer/id");
    r.label(&lb, "lb");
    golden(&mut r, "octavia_02_create_load_balancer", &reply, 201);

    let reply = api(
        "POST",
        "/listeners",
        Some(
            json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP",
                                  "protocol_port": 80, "name": "tcp-80"}}),
        ),
    );
    let listener = field(&reply, "/listener/id");
    r.label(&listener, "listener");
    golden(&mut r, "octavia_03_create_listener", &reply, 201);

    let reply = api(
        "POST",
        "/pools",
        Some(json!({"pool": {"listener_id": listener, "protocol": "TCP",
                              "lb_algorithm": "LEAST_CONNECTIONS", "name": "web-pool",
                              "description": "the web tier"}})),
    );
    let pool = field(&reply, "/pool/id");
    r.label(&pool, "pool");
    golden(&mut r, "octavia_04_create_pool", &reply, 201);
    let shown = api("GET", &format!("/listeners/{listener}"), None);
    assert_eq!(field(&shown, "/listener/default_pool_id"), pool);
    // One default pool per listener.
    let second = api(
        "POST",
        "/pools",
        Some(json!({"pool": {"listener_id": listener, "protocol": "TCP",
                              "lb_algorithm": "ROUND_ROBIN"}})),
    );
    assert_eq!(second.status, 409, "{}", second.text);

    let reply = api(
        "POST",
        &format!("/pools/{pool}/members"),
        Some(
            json!({"member": {"address": inv.vms[0].ip, "protocol_port": 8080,
                                "subnet_id": inv.subnet, "weight": 10, "name": "vm0"}}),
        ),
    );
    let member = field(&reply, "/member/id");
    r.label(&member, "member-0");
    golden(&mut r, "octavia_05_create_member", &reply, 201);
    // A health-check target of its own is held to the member address
    // rules: the metadata service, a VIP, an address outside the caller's
    // networks are refused; one of its own VMs is kept.
    for hostile in ["169.254.169.254", "127.0.1.1", "192.168.77.7"] {
        let refused = api(
            "POST",
            &format!("/pools/{pool}/members"),
            Some(
                json!({"member": {"address": inv.vms[1].ip, "protocol_port": 8080,
                                   "monitor_address": hostile, "monitor_port": 9000}}),
            ),
        );
        assert_eq!(refused.status, 400, "{hostile}: {}", refused.text);
        assert!(refused.text.contains(hostile), "{}", refused.text);
    }
    let monitored = api(
        "POST",
        &format!("/pools/{pool}/members"),
        Some(
            json!({"member": {"address": inv.vms[1].ip, "protocol_port": 8080,
                               "monitor_address": inv.vms[2].ip, "monitor_port": 9000}}),
        ),
    );
    assert_eq!(monitored.status, 201, "{}", monitored.text);
    assert_eq!(field(&monitored, "/member/monitor_address"), inv.vms[2].ip);
    assert_eq!(monitored.json()["member"]["monitor_port"], 9000);
    let monitored_id = field(&monitored, "/member/id");
    let moved = api(
        "PUT",
        &format!("/pools/{pool}/members/{monitored_id}"),
        Some(json!({"member": {"monitor_address": "169.254.169.254"}})),
    );
    assert_eq!(
        moved.status, 400,
        "an update is held to the rules: {}",
        moved.text
    );
    let cleared = api(
        "PUT",
        &format!("/pools/{pool}/members/{monitored_id}"),
        Some(json!({"member": {"monitor_address": null, "monitor_port": null}})),
    );
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.json()["member"]["monitor_address"], Value::Null);
    let gone = api(
        "DELETE",
        &format!("/pools/{pool}/members/{monitored_id}"),
        None,
    );
    assert_eq!(gone.status, 204, "{}", gone.text);

    let reply = api(
        "POST",
        &format!("/pools/{pool}/members"),
        Some(json!({"member": {"address": inv.vms[1].ip, "protocol_port": 8080}})),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    r.label(&field(&reply, "/member/id"), "member-1");

    let reply = api("GET", &format!("/pools/{pool}/members?limit=1"), None);
    golden(&mut r, "octavia_06_list_members_limit_1", &reply, 200);

    let reply = api(
        "POST",
        "/healthmonitors",
        Some(
            json!({"healthmonitor": {"pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3,
                                       "max_retries": 2, "max_retries_down": 3,
                                       "url_path": "/healthz", "expected_codes": "200"}}),
        ),
    );
    golden(&mut r, "octavia_07_create_health_monitor", &reply, 201);

    let reply = api("GET", &format!("/loadbalancers/{lb}"), None);
    golden(&mut r, "octavia_08_show_load_balancer", &reply, 200);

    let reply = api(
        "POST",
        &format!("/pools/{pool}/members"),
        Some(json!({"member": {"address": inv.vms[0].ip, "protocol_port": 8080}})),
    );
    golden(&mut r, "octavia_09_create_member_duplicate", &reply, 409);
}

#[test]
fn huawei_elb() {
    let (s, mut r) = setup();
    let inv = s.inventory.clone();

    // The load balancer and listener are the shared LBaaS shapes already
    // pinned by the Octavia fixtures; here they are only the way in.
    let reply = s.huawei(
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "name": "web"}})),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let lb = field(&reply, "/loadbalancer/id");
    r.label(&lb, "lb");
    let reply = s.huawei(
        "POST",
        "/listeners",
        Some(
            &json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP",
                                   "protocol_port": 80, "name": "tcp-80"}}),
        ),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let listener = field(&reply, "/listener/id");
    r.label(&listener, "listener");
    let reply = s.huawei(
        "POST",
        "/pools",
        Some(&json!({"pool": {"listener_id": listener, "protocol": "TCP",
                               "lb_algorithm": "ROUND_ROBIN"}})),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    let pool = field(&reply, "/pool/id");
    r.label(&pool, "pool");

    // Seed 004's own example sends the port as a string.
    let reply = s.huawei(
        "POST",
        &format!("/pools/{pool}/members"),
        Some(
            &json!({"member": {"address": inv.vms[0].ip, "protocol_port": "8080",
                                 "subnet_id": inv.subnet, "weight": 10, "name": "vm0",
                                 "admin_state_up": true}}),
        ),
    );
    r.label(&field(&reply, "/member/id"), "member-0");
    golden(&mut r, "huawei_01_create_member", &reply, 201);

    let reply = s.huawei("GET", &format!("/pools/{pool}/members"), None);
    golden(&mut r, "huawei_02_list_members", &reply, 200);

    let reply = s.huawei(
        "POST",
        &format!("/pools/{pool}/members"),
        Some(
            &json!({"member": {"address": inv.vms[0].ip, "protocol_port": 8080,
                                 "subnet_id": inv.subnet}}),
        ),
    );
    golden(&mut r, "huawei_03_create_member_duplicate", &reply, 409);
}

/// What octavia-tempest-plugin and keystoneauth do first: read the
/// version document at the catalog's `load-balancer` endpoint, unsigned
/// and unauthenticated, then use the `CURRENT` version's link; and what the
/// plugin does with a test network alone: create a load balancer on it.
#[test]
fn octavia_version_document_and_a_network_only_load_balancer() {
    let (s, _) = setup();
    let inv = s.inventory.clone();
    let (_, token) = s.keystone_token();
    for root in ["/load-balancer", "/load-balancer/"] {
        let reply = s.octavia_at(root, "", "GET", "", None);
        assert_eq!(reply.status, 200, "{root}: {}", reply.text);
        let versions = reply.json()["versions"].clone();
        let versions = versions.as_array().unwrap();
        // Every version up to the one claimed, as Octavia lists them; the
        // claim is 2.25 (PROMETHEUS listeners), the last whose fields
        // Weir honours or refuses with Octavia's 400 or 501.
        let current: Vec<_> = versions
            .iter()
            .filter(|v| v["status"] == "CURRENT")
            .collect();
        assert_eq!(current.len(), 1, "{versions:?}");
        assert_eq!(current[0]["id"], "v2.25");
        assert_eq!(versions[0]["id"], "v2.0");
        assert_eq!(versions.len(), 26);
        for v in versions {
            let href = v["links"][0]["href"].as_str().unwrap().to_owned();
            assert!(href.ends_with("/load-balancer/v2"), "{href}");
        }
    }
    // The versioned prefix serves Octavia with a token.
    let reply = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_network_id": inv.vpc, "name": "net-only"}})),
    );
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(field(&reply, "/loadbalancer/vip_subnet_id"), inv.subnet);
    assert_eq!(field(&reply, "/loadbalancer/vip_network_id"), inv.vpc);
    // Its VIP port is a Neutron port of the network, holding the VIP.
    let port_id = field(&reply, "/loadbalancer/vip_port_id");
    let port = s.octavia_at("/v2.0", &token, "GET", &format!("/ports/{port_id}"), None);
    assert_eq!(port.status, 200, "{}", port.text);
    assert_eq!(field(&port, "/port/network_id"), inv.vpc);
    assert_eq!(
        field(&port, "/port/fixed_ips/0/ip_address"),
        field(&reply, "/loadbalancer/vip_address")
    );
    // Created stopped, as Octavia's admin_state_up false on create.
    let stopped = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "admin_state_up": false}})),
    );
    assert_eq!(stopped.status, 201, "{}", stopped.text);
    assert_eq!(stopped.json()["loadbalancer"]["admin_state_up"], false);
    assert_eq!(
        stopped.json()["loadbalancer"]["operating_status"],
        "OFFLINE"
    );
    // A description is kept, an update's time is kept; a tag too long
    // for Octavia is refused, never silently cut.
    let described = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "description": "web tier"}})),
    );
    assert_eq!(described.status, 201, "{}", described.text);
    assert_eq!(field(&described, "/loadbalancer/description"), "web tier");
    let id = field(&described, "/loadbalancer/id");
    let created_at = field(&described, "/loadbalancer/updated_at");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let updated = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "PUT",
        &format!("/loadbalancers/{id}"),
        Some(&json!({"loadbalancer": {"name": "renamed", "description": "tier 2"}})),
    );
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(field(&updated, "/loadbalancer/name"), "renamed");
    assert_eq!(field(&updated, "/loadbalancer/description"), "tier 2");
    assert_ne!(field(&updated, "/loadbalancer/updated_at"), created_at);
    let tagged = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "tags": ["a".repeat(256)]}})),
    );
    assert_eq!(tagged.status, 400, "{}", tagged.text);
    assert!(tagged.text.contains("tags"), "{}", tagged.text);
    let too_long = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "PUT",
        &format!("/loadbalancers/{id}"),
        Some(&json!({"loadbalancer": {"description": "x".repeat(256)}})),
    );
    assert_eq!(too_long.status, 400, "{}", too_long.text);
    let unknown = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_network_id": "no-such-network"}})),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    let mismatch = s.octavia_at(
        "/load-balancer/v2/lbaas",
        &token,
        "POST",
        "/loadbalancers",
        Some(&json!({"loadbalancer": {"vip_network_id": "no-such-network", "vip_subnet_id": inv.subnet}})),
    );
    assert_eq!(
        mismatch.status, 400,
        "subnet outside the named network: {}",
        mismatch.text
    );
}
