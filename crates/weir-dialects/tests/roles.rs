//! Roles (issue 19, RBAC), in every dialect over a real socket: a
//! project's `reader` credential reads its project and is refused every
//! write with the dialect's own "forbidden"; a global `observer` reads
//! other projects and writes nothing; an `admin` credential acts as the
//! operator; a revoked credential stops at once, its access key, bearer
//! token and Keystone tokens alike. Nothing a refused write named is
//! changed.

#[path = "golden/harness.rs"]
mod harness;
#[path = "isolation/probe.rs"]
#[allow(dead_code, reason = "only `Ids` is used here")]
mod probe;
#[path = "isolation/world.rs"]
#[allow(dead_code, reason = "only `build`, `field` and `native` are used here")]
mod world;

use serde_json::{json, Value};

use harness::{Reply, Server};
use world::{field, native};

#[track_caller]
fn expect(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}\n-> {}", reply.request, reply.text);
    reply.json()
}

/// A Keystone token for the handle's access key, or the refusal.
fn keystone(c: &Server) -> Reply {
    let body = json!({"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": c.inventory.access_key_id, "secret": c.inventory.secret},
    }}})
    .to_string();
    c.send(
        "POST",
        "/v3/auth/tokens",
        &[("Content-Type", "application/json".to_owned())],
        body.as_bytes(),
        "POST /v3/auth/tokens".to_owned(),
    )
}

fn subject_token(c: &Server) -> (Value, String) {
    let (reply, token) = c.keystone_token();
    (expect(&reply, 201), token)
}

/// Every dialect's members of the world `world::build` made, as the
/// reader sees them and as it is refused to change them.
#[test]
fn a_reader_reads_every_dialect_and_writes_in_none() {
    let member = harness::start();
    let (_, member_token) = subject_token(&member);
    let ids = world::build(&member, &member_token);
    let reader = member.with_role("reader");
    let (token_body, reader_token) = subject_token(&reader);
    let roles: Vec<&str> = token_body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(roles.contains(&"reader") && roles.contains(&"load-balancer_observer"));
    assert!(!roles.contains(&"member"), "{roles:?}");
    let before = world::revision(&member);

    // Native: reads its project, refused a write.
    let lbs = expect(&native(&reader, "GET", "/v1/loadbalancers", None), 200);
    assert_eq!(lbs["loadbalancers"].as_array().map(Vec::len), Some(7));
    let refused = native(
        &reader,
        "POST",
        &format!("/v1/listeners/{}/backends", ids.get("native.listener")),
        Some(&json!({"backends": [{"instance_id": member.inventory.vms[2].id, "port": 8080}]})),
    );
    let body = expect(&refused, 403);
    assert_eq!(body["error"]["code"], "Forbidden", "{body}");
    assert!(refused.text.contains("reader"), "{}", refused.text);

    // Zenlayer ZLB and BMC.
    let read = reader.zenlayer(
        "zlb",
        "2025-04-01",
        "DescribeBackends",
        &json!({"loadBalancerId": ids.get("zlb.lb"), "listenerId": ids.get("zlb.listener")}),
    );
    expect(&read, 200);
    for (service, version, body) in [
        (
            "zlb",
            "2025-04-01",
            json!({"loadBalancerId": ids.get("zlb.lb"), "listenerId": ids.get("zlb.listener"),
                   "backendServers": [{"instanceId": member.inventory.vms[2].id, "port": 8080}]}),
        ),
        (
            "bmc",
            "2026-02-01",
            json!({"listenerId": ids.get("bmc.listener"), "backendName": "vm", "instanceId": member.inventory.vms[2].id,
                   "instanceType": "VM", "portList": [8081], "clientToken": "reader-try"}),
        ),
    ] {
        let refused = reader.zenlayer(service, version, "RegisterBackend", &body);
        let body = expect(&refused, 403);
        assert_eq!(body["code"], "OPERATION_DENIED", "{service}: {body}");
    }

    // UCloud: RetCode 172, no permission.
    let read = reader.ucloud(&[("Action", "DescribeULB"), ("ULBId", ids.get("ucloud.ulb"))]);
    assert_eq!(expect(&read, 200)["RetCode"], 0, "{}", read.text);
    let refused = reader.ucloud(&[
        ("Action", "AllocateBackend"),
        ("ULBId", ids.get("ucloud.ulb")),
        ("VServerId", ids.get("ucloud.vserver")),
        ("ResourceType", "UHost"),
        ("ResourceId", &member.inventory.vms[2].id),
        ("Port", "8080"),
    ]);
    assert_eq!(expect(&refused, 200)["RetCode"], 172, "{}", refused.text);

    // Aliyun SLB: Forbidden.RAM.
    let read = reader.aliyun(
        "DescribeLoadBalancerAttribute",
        &[("LoadBalancerId", ids.get("aliyun.lb"))],
        false,
    );
    expect(&read, 200);
    let servers = json!([{"ServerId": member.inventory.vms[2].id, "Weight": "100"}]).to_string();
    let refused = reader.aliyun(
        "AddBackendServers",
        &[
            ("LoadBalancerId", ids.get("aliyun.lb")),
            ("BackendServers", &servers),
        ],
        false,
    );
    assert_eq!(expect(&refused, 403)["Code"], "Forbidden.RAM");

    // Octavia: Octavia's policy words, 403.
    let read = reader.octavia(
        &reader_token,
        "GET",
        &format!("/pools/{}/members", ids.get("os.pool")),
        None,
    );
    assert_eq!(
        expect(&read, 200)["members"].as_array().map(Vec::len),
        Some(1)
    );
    let refused = reader.octavia(
        &reader_token,
        "POST",
        &format!("/pools/{}/members", ids.get("os.pool")),
        Some(&json!({"member": {"address": member.inventory.vms[2].ip, "protocol_port": 8080}})),
    );
    let body = expect(&refused, 403);
    assert!(
        body["faultstring"]
            .as_str()
            .is_some_and(|f| f.starts_with("Policy does not allow this request to be performed.")),
        "{body}"
    );

    // Huawei ELB v2 (AK/SK): the same resources, refused alike.
    let read = reader.huawei(
        "GET",
        &format!("/pools/{}/members", ids.get("hw.pool")),
        None,
    );
    expect(&read, 200);
    let refused = reader.huawei(
        "DELETE",
        &format!(
            "/pools/{}/members/{}",
            ids.get("hw.pool"),
            ids.get("hw.member")
        ),
        None,
    );
    expect(&refused, 403);

    assert_eq!(
        world::revision(&member),
        before,
        "a refused write changed the store"
    );
}

#[test]
fn an_observer_reads_every_project_and_an_admin_credential_writes_in_any() {
    let server = harness::start_with(harness::Options {
        second_project: true,
        ..Default::default()
    });
    let (_, token) = subject_token(&server);
    let lb = field(
        &server.octavia(
            &token,
            "POST",
            "/loadbalancers",
            Some(&json!({"loadbalancer": {"vip_subnet_id": server.inventory.subnet}})),
        ),
        "/loadbalancer/id",
    );

    // The other project's observer sees it, and cannot delete it.
    let observer = server.as_other().with_role("observer");
    let (_, observer_token) = subject_token(&observer);
    let shown = observer.octavia(
        &observer_token,
        "GET",
        &format!("/loadbalancers/{lb}"),
        None,
    );
    assert_eq!(expect(&shown, 200)["loadbalancer"]["id"], lb.as_str());
    let refused = observer.octavia(
        &observer_token,
        "DELETE",
        &format!("/loadbalancers/{lb}"),
        None,
    );
    expect(&refused, 403);
    // Its own project's member could not see it at all.
    let (_, other_token) = subject_token(&server.as_other());
    let hidden = server.octavia(&other_token, "GET", &format!("/loadbalancers/{lb}"), None);
    expect(&hidden, 404);

    // An admin credential of the other project fails it over (Octavia
    // lets only admins) and renames it.
    let admin = server.as_other().with_role("admin");
    let (_, admin_token) = subject_token(&admin);
    let failover = admin.octavia(
        &admin_token,
        "PUT",
        &format!("/loadbalancers/{lb}/failover"),
        None,
    );
    assert_eq!(failover.status, 202, "{}", failover.text);
    let renamed = admin.octavia(
        &admin_token,
        "PUT",
        &format!("/loadbalancers/{lb}"),
        Some(&json!({"loadbalancer": {"name": "renamed by the admin"}})),
    );
    assert_eq!(
        expect(&renamed, 200)["loadbalancer"]["name"],
        "renamed by the admin"
    );
}

#[test]
fn a_revoked_credential_stops_everywhere_at_once() {
    let server = harness::start();
    let reader = server.with_role("reader");
    let (_, keystone_token) = subject_token(&reader);
    expect(
        &reader.octavia(&keystone_token, "GET", "/loadbalancers", None),
        200,
    );
    expect(&native(&reader, "GET", "/v1/loadbalancers", None), 200);
    expect(&reader.aliyun("DescribeLoadBalancers", &[], false), 200);

    // The operator lists it, without secrets, and revokes it.
    let path = format!("/v1/projects/{}/credentials", server.inventory.project);
    let admin = [("Authorization", "Bearer golden-admin".to_owned())];
    let listed = expect(
        &server.send("GET", &path, &admin, b"", format!("GET {path}")),
        200,
    );
    let listed = listed["credentials"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["role"], "reader");
    assert_eq!(
        listed[0]["access_key_id"],
        reader.inventory.access_key_id.as_str()
    );
    assert!(listed[0].get("access_key_secret").is_none() && listed[0].get("token").is_none());
    let revoke = format!("{path}/{}", reader.inventory.access_key_id);
    let gone = server.send("DELETE", &revoke, &admin, b"", format!("DELETE {revoke}"));
    assert_eq!(gone.status, 204, "{}", gone.text);
    let again = server.send("DELETE", &revoke, &admin, b"", format!("DELETE {revoke}"));
    expect(&again, 404);

    // The Keystone token issued before, the bearer token and the access key
    // are all refused now; the project's own credentials still work.
    expect(
        &reader.octavia(&keystone_token, "GET", "/loadbalancers", None),
        401,
    );
    expect(&native(&reader, "GET", "/v1/loadbalancers", None), 401);
    let signed = reader.aliyun("DescribeLoadBalancers", &[], false);
    assert!(
        signed.status == 400 || signed.status == 404,
        "{}",
        signed.text
    );
    assert_eq!(keystone(&reader).status, 401);
    expect(&native(&server, "GET", "/v1/loadbalancers", None), 200);

    // Only the operator manages credentials, and roles are a closed set.
    let by_member = native(&server, "POST", &path, Some(&json!({"role": "admin"})));
    expect(&by_member, 403);
    let bad_role = server.send(
        "POST",
        &path,
        &[
            admin[0].clone(),
            ("Content-Type", "application/json".to_owned()),
        ],
        br#"{"role": "superuser"}"#,
        format!("POST {path}"),
    );
    let body = expect(&bad_role, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reader, member, observer, admin"),
        "{body}"
    );
}

/// A key-manager secret is a private key more often than not: the
/// project's reader and the global observer see that it exists, and
/// never its payload; the member who stored it reads it back.
#[test]
fn only_a_writing_credential_of_the_project_reads_a_secret_payload() {
    let server = harness::start_with(harness::Options {
        second_project: true,
        ..Default::default()
    });
    const KM: &str = "/key-manager/v1";
    let (_, token) = subject_token(&server);
    let stored = server.octavia_at(
        KM,
        &token,
        "POST",
        "/secrets",
        Some(&json!({"name": "key", "payload": "not for auditors",
                     "payload_content_type": "text/plain"})),
    );
    assert_eq!(stored.status, 201, "{}", stored.text);
    let href = field(&stored, "/secret_ref");
    let id = href.rsplit('/').next().unwrap().to_owned();
    let payload = |c: &Server, token: &str| {
        c.octavia_at(KM, token, "GET", &format!("/secrets/{id}/payload"), None)
    };
    let mine = payload(&server, &token);
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.text, "not for auditors");

    let reader = server.with_role("reader");
    let (_, reader_token) = subject_token(&reader);
    let observer = server.as_other().with_role("observer");
    let (_, observer_token) = subject_token(&observer);
    for (who, c, t) in [
        ("reader", &reader, &reader_token),
        ("observer", &observer, &observer_token),
    ] {
        let meta = c.octavia_at(KM, t, "GET", &format!("/secrets/{id}"), None);
        assert_eq!(expect(&meta, 200)["name"], "key", "{who}");
        let refused = payload(c, t);
        assert_eq!(refused.status, 403, "{who}: {}", refused.text);
        assert!(!refused.text.contains("not for auditors"), "{who}");
    }
}
