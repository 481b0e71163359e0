//! The two projects' worlds: each gets, through every dialect, a load
//! balancer with a listener, pool, backends inside its own subnet, a
//! health monitor and (Aliyun) a server group; and a snapshot of all of
//! it read back with the project's own credentials.

use serde_json::{json, Value};

use crate::harness::{Client, Reply};
use crate::probe::Ids;

/// A string field of a successful reply, by JSON pointer.
#[track_caller]
pub fn field(reply: &Reply, pointer: &str) -> String {
    reply
        .json()
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no {pointer} in {}", reply.request, reply.text))
        .to_owned()
}

#[track_caller]
fn ok(reply: Reply, status: u16) -> Reply {
    assert_eq!(reply.status, status, "{}\n-> {}", reply.request, reply.text);
    let body = reply.json();
    assert!(
        body.get("RetCode").is_none_or(|c| c == 0),
        "{}\n-> {}",
        reply.request,
        reply.text
    );
    reply
}

/// A native API call with the project's bearer token.
pub fn native(c: &Client, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![("Authorization", format!("Bearer {}", c.inventory.token))];
    if body.is_some() {
        headers.push(("Content-Type", "application/json".to_owned()));
    }
    c.send(
        method,
        path,
        &headers,
        bytes.as_bytes(),
        format!("{method} {path}\n{bytes}"),
    )
}

/// Everything a project owns, created through each dialect in turn. The
/// client tokens are the same in every project, each with a different
/// request: were idempotency records not per project, the second
/// project's build would be refused or handed the first's resources.
pub fn build(c: &Client, token: &str) -> Ids {
    let inv = &c.inventory;
    let mut ids = Ids::default();
    ids.set("project", inv.project.clone());
    ids.set("access_key", inv.access_key_id.clone());
    ids.set("vpc", inv.vpc.clone());
    ids.set("subnet", inv.subnet.clone());
    for (i, vm) in inv.vms.iter().enumerate() {
        ids.set(&format!("vm{i}"), vm.id.clone());
    }
    ids.set("bm", inv.bm.id.clone());

    // Native /v1.
    let lb = ok(
        native(
            c,
            "POST",
            "/v1/loadbalancers",
            Some(&json!({"name": "native", "subnet_id": inv.subnet})),
        ),
        201,
    );
    let lb = field(&lb, "/id");
    let listener = ok(
        native(
            c,
            "POST",
            &format!("/v1/loadbalancers/{lb}/listeners"),
            Some(&json!({"protocol": "tcp", "port": 80})),
        ),
        201,
    );
    let pool = field(&listener, "/default_pool_id");
    let listener = field(&listener, "/id");
    let backend = ok(
        native(
            c,
            "POST",
            &format!("/v1/listeners/{listener}/backends"),
            Some(
                &json!({"backends": [{"instance_id": inv.vms[0].id, "port": 8080}],
                         "client_token": "iso-native"}),
            ),
        ),
        201,
    );
    ids.set("native.backend", field(&backend, "/backends/0/id"));
    ok(
        native(
            c,
            "PATCH",
            &format!("/v1/pools/{pool}"),
            Some(&json!({"health_check": {"type": "tcp"}})),
        ),
        200,
    );
    ids.set("native.lb", lb);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["www.example.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let uploaded = ok(
        native(
            c,
            "POST",
            "/v1/certificates",
            Some(
                &json!({"name": "web", "certificate": cert.pem(), "private_key": key.serialize_pem()}),
            ),
        ),
        201,
    );
    ids.set("certificate", field(&uploaded, "/id"));
    ids.set("native.listener", listener);
    ids.set("native.pool", pool);

    // Zenlayer ZLB.
    let zlb = |action: &str, body: Value| ok(c.zenlayer("zlb", "2025-04-01", action, &body), 200);
    let lb = field(
        &zlb(
            "CreateLoadBalancer",
            json!({"regionId": "local", "vpcId": inv.vpc, "subnetId": inv.subnet, "loadBalancerName": "zlb"}),
        ),
        "/response/loadBalancerIds/0",
    );
    let listener = field(
        &zlb(
            "CreateListener",
            json!({"loadBalancerId": lb, "listenerName": "tcp-80", "protocol": "TCP", "port": "80",
                   "healthCheck": {"enabled": true, "checkType": "TCP", "checkPort": 8080}}),
        ),
        "/response/listenerId",
    );
    zlb(
        "RegisterBackend",
        json!({"loadBalancerId": lb, "listenerId": listener, "backendServers": [
            {"instanceId": inv.vms[0].id, "port": 8080},
            {"privateIpAddress": inv.vms[1].ip, "port": 8080},
        ]}),
    );
    ids.set("zlb.lb", lb);
    ids.set("zlb.listener", listener);

    // Zenlayer BMC.
    let bmc = |action: &str, body: Value| ok(c.zenlayer("bmc", "2026-02-01", action, &body), 200);
    let lb = field(
        &bmc(
            "CreateLoadBalancer",
            json!({"zoneId": "local", "subnetId": inv.subnet, "loadBalancerName": "bmc", "clientToken": "iso-lb"}),
        ),
        "/response/loadBalancerId",
    );
    let listener = field(
        &bmc(
            "CreateListener",
            json!({"loadBalancerId": lb, "listenerName": "tcp-80", "portList": [80], "protocol": "TCP",
                   "healthCheck": {"checkEnabled": true, "checkType": "TCP", "checkPort": 8080}}),
        ),
        "/response/listenerId",
    );
    let backend = field(
        &bmc(
            "RegisterBackend",
            json!({"listenerId": listener, "backendName": "metal", "instanceId": inv.bm.id,
                   "instanceType": "BM", "portList": [8080], "clientToken": "iso-bm"}),
        ),
        "/response/backendId",
    );
    ids.set("bmc.lb", lb);
    ids.set("bmc.listener", listener);
    ids.set("bmc.backend", backend);

    // UCloud.
    let ulb = field(
        &ok(
            c.ucloud(&[
                ("Action", "CreateULB"),
                ("ULBName", "ucloud"),
                ("VPCId", &inv.vpc),
                ("SubnetId", &inv.subnet),
            ]),
            200,
        ),
        "/ULBId",
    );
    let vserver = field(
        &ok(
            c.ucloud(&[
                ("Action", "CreateVServer"),
                ("ULBId", &ulb),
                ("Protocol", "TCP"),
                ("FrontendPort", "80"),
                ("MonitorType", "Port"),
            ]),
            200,
        ),
        "/VServerId",
    );
    let backend = field(
        &ok(
            c.ucloud(&[
                ("Action", "AllocateBackend"),
                ("ULBId", &ulb),
                ("VServerId", &vserver),
                ("ResourceType", "UHost"),
                ("ResourceId", &inv.vms[0].id),
                ("Port", "8080"),
            ]),
            200,
        ),
        "/BackendId",
    );
    let https = field(
        &ok(
            c.ucloud(&[
                ("Action", "CreateVServer"),
                ("ULBId", &ulb),
                ("Protocol", "HTTPS"),
                ("FrontendPort", "443"),
            ]),
            200,
        ),
        "/VServerId",
    );
    let certificate = ids.get("certificate").to_owned();
    ok(
        c.ucloud(&[
            ("Action", "BindSSL"),
            ("ULBId", &ulb),
            ("VServerId", &https),
            ("SSLId", &certificate),
        ]),
        200,
    );
    ids.set("ucloud.https", https);
    ids.set("ucloud.ulb", ulb);
    ids.set("ucloud.vserver", vserver);
    ids.set("ucloud.backend", backend);

    // Aliyun SLB, with a VServer group.
    let slb = |action: &str, params: &[(&str, &str)]| ok(c.aliyun(action, params, false), 200);
    let lb = field(
        &slb(
            "CreateLoadBalancer",
            &[
                ("VSwitchId", &inv.subnet),
                ("VpcId", &inv.vpc),
                ("LoadBalancerName", "slb"),
                ("ClientToken", "iso-slb"),
            ],
        ),
        "/LoadBalancerId",
    );
    slb(
        "CreateLoadBalancerTCPListener",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "80"),
            ("BackendServerPort", "8080"),
            ("Bandwidth", "-1"),
        ],
    );
    let servers = json!([{"ServerId": inv.vms[0].id, "Weight": "100"}]).to_string();
    slb(
        "AddBackendServers",
        &[("LoadBalancerId", &lb), ("BackendServers", &servers)],
    );
    let group_servers =
        json!([{"ServerId": inv.vms[1].id, "Port": "9090", "Weight": "10"}]).to_string();
    let group = field(
        &slb(
            "CreateVServerGroup",
            &[
                ("LoadBalancerId", &lb),
                ("VServerGroupName", "group"),
                ("BackendServers", &group_servers),
            ],
        ),
        "/VServerGroupId",
    );
    let certificate = ids.get("certificate").to_owned();
    slb(
        "CreateLoadBalancerHTTPSListener",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "443"),
            ("BackendServerPort", "8443"),
            ("ServerCertificateId", &certificate),
        ],
    );
    let extension = field(
        &slb(
            "CreateDomainExtension",
            &[
                ("LoadBalancerId", &lb),
                ("ListenerPort", "443"),
                ("Domain", "www.example.test"),
                ("ServerCertificateId", &certificate),
            ],
        ),
        "/DomainExtensionId",
    );
    // An access control list, in use by a listener of its own.
    let acl = field(
        &slb(
            "CreateAccessControlList",
            &[("AclName", "office"), ("AddressIPVersion", "ipv4")],
        ),
        "/AclId",
    );
    slb(
        "AddAccessControlListEntry",
        &[
            ("AclId", &acl),
            (
                "AclEntrys",
                r#"[{"entry": "192.0.2.0/24", "comment": "office"}]"#,
            ),
        ],
    );
    slb(
        "CreateLoadBalancerUDPListener",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "53"),
            ("BackendServerPort", "53"),
            ("AclStatus", "on"),
            ("AclType", "black"),
            ("AclId", &acl),
        ],
    );
    ids.set("aliyun.acl", acl);
    ids.set("aliyun.lb", lb);
    ids.set("aliyun.group", group);
    ids.set("aliyun.extension", extension);

    // OpenStack Octavia.
    let os = |method: &str, rest: &str, body: Value, status: u16| {
        ok(c.octavia(token, method, rest, Some(&body)), status)
    };
    let lb = field(
        &os(
            "POST",
            "/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "name": "octavia"}}),
            201,
        ),
        "/loadbalancer/id",
    );
    let listener = os(
        "POST",
        "/listeners",
        json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 80}}),
        201,
    );
    let pool = field(
        &os(
            "POST",
            "/pools",
            json!({"pool": {"listener_id": field(&listener, "/listener/id"),
                             "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
            201,
        ),
        "/pool/id",
    );
    let member = field(
        &os(
            "POST",
            &format!("/pools/{pool}/members"),
            json!({"member": {"address": inv.vms[0].ip, "protocol_port": 8080, "subnet_id": inv.subnet}}),
            201,
        ),
        "/member/id",
    );
    let monitor = field(
        &os(
            "POST",
            "/healthmonitors",
            json!({"healthmonitor": {"pool_id": pool, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2}}),
            201,
        ),
        "/healthmonitor/id",
    );
    l7_world(&mut ids, "os", &lb, |method, rest, body| {
        os(method, rest, body, 201)
    });
    ids.set("os.lb", lb);
    ids.set("os.listener", field(&listener, "/listener/id"));
    ids.set("os.pool", pool);
    ids.set("os.member", member);
    ids.set("os.monitor", monitor);

    // Huawei ELB.
    let hw = |method: &str, rest: &str, body: Value| ok(c.huawei(method, rest, Some(&body)), 201);
    let lb = field(
        &hw(
            "POST",
            "/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": inv.subnet, "name": "huawei"}}),
        ),
        "/loadbalancer/id",
    );
    let listener = hw(
        "POST",
        "/listeners",
        json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 80}}),
    );
    let pool = field(
        &hw(
            "POST",
            "/pools",
            json!({"pool": {"listener_id": field(&listener, "/listener/id"),
                             "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
        ),
        "/pool/id",
    );
    let member = field(
        &hw(
            "POST",
            &format!("/pools/{pool}/members"),
            json!({"member": {"address": inv.vms[1].ip, "protocol_port": 8080, "subnet_id": inv.subnet}}),
        ),
        "/member/id",
    );
    // A whitelist of the listener (Huawei's; its id is the listener's).
    hw(
        "POST",
        "/whitelists",
        json!({"whitelist": {"listener_id": field(&listener, "/listener/id"),
                             "whitelist": "192.0.2.0/24"}}),
    );
    l7_world(&mut ids, "hw", &lb, hw);
    ids.set("hw.lb", lb);
    ids.set("hw.listener", field(&listener, "/listener/id"));
    ids.set("hw.pool", pool);
    ids.set("hw.member", member);
    ids
}

/// An HTTP listener on `lb` with an HTTP pool, an L7 policy forwarding
/// to it and one rule (`{family}.http_listener`, `.http_pool`,
/// `.l7policy`, `.l7rule`).
fn l7_world(ids: &mut Ids, family: &str, lb: &str, create: impl Fn(&str, &str, Value) -> Reply) {
    let listener = field(
        &create(
            "POST",
            "/listeners",
            json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 81}}),
        ),
        "/listener/id",
    );
    let pool = field(
        &create(
            "POST",
            "/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}),
        ),
        "/pool/id",
    );
    let policy = field(
        &create(
            "POST",
            "/l7policies",
            json!({"l7policy": {"listener_id": listener, "action": "REDIRECT_TO_POOL",
                                "redirect_pool_id": pool, "position": 1}}),
        ),
        "/l7policy/id",
    );
    let rule = field(
        &create(
            "POST",
            &format!("/l7policies/{policy}/rules"),
            json!({"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}}),
        ),
        "/rule/id",
    );
    ids.set(&format!("{family}.http_listener"), listener);
    ids.set(&format!("{family}.http_pool"), pool);
    ids.set(&format!("{family}.l7policy"), policy);
    ids.set(&format!("{family}.l7rule"), rule);
}

/// An instance of the project at `ip` that the other project has no
/// twin of (their address spaces overlap), created by the operator; its
/// address is the role `lone_ip`.
pub fn lone_instance(c: &Client, ids: &mut Ids, ip: &str) {
    let body = json!({"project_id": c.inventory.project, "subnet_id": c.inventory.subnet, "private_ip": ip});
    let reply = c.send(
        "POST",
        "/v1/instances",
        &[
            ("Authorization", "Bearer golden-admin".to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ],
        body.to_string().as_bytes(),
        format!("POST /v1/instances {body}"),
    );
    let reply = ok(reply, 201);
    ids.set("lone_vm", field(&reply, "/id"));
    ids.set("lone_ip", ip.to_owned());
}

/// Puts some of the project's resources in the states other checks look
/// at — its `vm2` stopped, its native and Aliyun load balancers stopped —
/// so that a check made before the owner's ("instance not running",
/// "load balancer not running") would show in the sweep.
pub fn stop_some(c: &Client, ids: &Ids) {
    let body = json!({"state": "stopped"});
    let path = format!("/v1/instances/{}", ids.get("vm2"));
    let reply = c.send(
        "PATCH",
        &path,
        &[
            ("Authorization", "Bearer golden-admin".to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ],
        body.to_string().as_bytes(),
        format!("PATCH {path} {body}"),
    );
    ok(reply, 200);
    let path = format!("/v1/loadbalancers/{}/stop", ids.get("native.lb"));
    ok(native(c, "POST", &path, None), 200);
    ok(
        c.aliyun(
            "SetLoadBalancerStatus",
            &[
                ("LoadBalancerId", ids.get("aliyun.lb")),
                ("LoadBalancerStatus", "inactive"),
            ],
            false,
        ),
        200,
    );
}

/// Everything of the project, read with its own credentials through the
/// native API, Octavia and Aliyun (server groups), without request ids.
pub fn snapshot(c: &Client, token: &str, ids: &Ids) -> Value {
    let get = |path: &str| ok(native(c, "GET", path, None), 200).json();
    let mut out = json!({
        "loadbalancers": get("/v1/loadbalancers"),
        "instances": get("/v1/instances"),
        "vpcs": get("/v1/vpcs"),
        "subnets": get("/v1/subnets"),
        "certificates": get("/v1/certificates"),
    });
    let lbs: Vec<String> = out["loadbalancers"]["loadbalancers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lb| lb["id"].as_str().unwrap().to_owned())
        .collect();
    for lb in &lbs {
        let listeners = get(&format!("/v1/loadbalancers/{lb}/listeners"));
        for l in listeners["listeners"].as_array().unwrap() {
            let (id, pool) = (
                l["id"].as_str().unwrap(),
                l["default_pool_id"].as_str().unwrap(),
            );
            out[format!("backends:{id}")] = get(&format!("/v1/listeners/{id}/backends?limit=1000"));
            out[format!("pool:{pool}")] = get(&format!("/v1/pools/{pool}"));
        }
        out[format!("listeners:{lb}")] = listeners;
    }
    for rest in [
        "/loadbalancers",
        "/listeners",
        "/pools",
        "/healthmonitors",
        "/l7policies",
    ] {
        out[format!("octavia:{rest}")] = ok(c.octavia(token, "GET", rest, None), 200).json();
    }
    let pools: Vec<String> = out["octavia:/pools"]["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    for pool in pools {
        let rest = format!("/pools/{pool}/members");
        out[format!("octavia:{rest}")] = ok(c.octavia(token, "GET", &rest, None), 200).json();
    }
    let policies: Vec<String> = out["octavia:/l7policies"]["l7policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    for policy in policies {
        let rest = format!("/l7policies/{policy}/rules");
        out[format!("octavia:{rest}")] = ok(c.octavia(token, "GET", &rest, None), 200).json();
    }
    let lb = ids.get("aliyun.lb");
    out["aliyun:groups"] = ok(
        c.aliyun("DescribeVServerGroups", &[("LoadBalancerId", lb)], false),
        200,
    )
    .json();
    out["aliyun:group"] = ok(
        c.aliyun(
            "DescribeVServerGroupAttribute",
            &[("VServerGroupId", ids.get("aliyun.group"))],
            false,
        ),
        200,
    )
    .json();
    out["aliyun:lb"] = ok(
        c.aliyun(
            "DescribeLoadBalancerAttribute",
            &[("LoadBalancerId", lb)],
            false,
        ),
        200,
    )
    .json();
    drop_request_ids(&mut out);
    out
}

fn drop_request_ids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !matches!(k.as_str(), "RequestId" | "requestId" | "request_id"));
            map.values_mut().for_each(drop_request_ids);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_request_ids),
        _ => {}
    }
}

/// The change-log revision, as `/healthz` reports it.
pub fn revision(c: &Client) -> i64 {
    let reply = c.send("GET", "/healthz", &[], b"", "GET /healthz".into());
    reply.json()["revision"]
        .as_i64()
        .unwrap_or_else(|| panic!("no revision in {}", reply.text))
}
