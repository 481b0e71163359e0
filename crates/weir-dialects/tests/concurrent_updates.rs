//! Two updates of one resource at once, each changing a different part
//! of a field a dialect merges (an Octavia health monitor's `delay` and
//! `max_retries`, both parts of the pool's check; an Aliyun listener's
//! `AclType` and `AclId`, both parts of its ACL; two UCloud certificates
//! bound to one VServer; an Octavia pool's CA ref and TLS versions, both
//! parts of its re-encryption settings): the dialect merges
//! inside the writer's transaction (`Control::update_pool_with`,
//! `update_listener_with`), so neither is lost between a read and a write.
//! Real sockets, two client threads released together, a bounded number
//! of rounds; every round, both parts must be there.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

use octavia::{status, text, Octavia};

const ROUNDS: u32 = 30;

/// Runs `a` and `b` on two threads released at once; their answers.
fn at_once<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send + 'static,
    B: FnOnce() -> RB + Send + 'static,
    RA: Send + 'static,
    RB: Send + 'static,
{
    let gate = Arc::new(Barrier::new(2));
    let other = gate.clone();
    let first = std::thread::spawn(move || {
        other.wait();
        a()
    });
    gate.wait();
    let second = b();
    (first.join().unwrap(), second)
}

#[test]
fn two_monitor_updates_at_once_both_stay() {
    let o = Arc::new(Octavia::start());
    let create = |rest: &str, singular: &str, body: Value| {
        status(&o.call("POST", rest, Some(json!({ singular: body }))), 201)[singular].clone()
    };
    let lb = create(
        "/loadbalancers",
        "loadbalancer",
        json!({"vip_subnet_id": o.server.inventory.subnet}),
    );
    let pool = create(
        "/pools",
        "pool",
        json!({"loadbalancer_id": text(&lb, "/id"), "protocol": "TCP",
               "lb_algorithm": "ROUND_ROBIN"}),
    );
    let monitor = create(
        "/healthmonitors",
        "healthmonitor",
        json!({"pool_id": text(&pool, "/id"), "type": "TCP", "delay": 5, "timeout": 1,
               "max_retries": 1}),
    );
    let path = format!("/healthmonitors/{}", text(&monitor, "/id"));
    for round in 1..=ROUNDS {
        // Values no earlier round had, so a lost update shows.
        let delay = 5 + round;
        let retries = 1 + round % 10;
        let (a, b) = at_once(
            {
                let (o, path) = (o.clone(), path.clone());
                move || {
                    o.call(
                        "PUT",
                        &path,
                        Some(json!({"healthmonitor": {"delay": delay}})),
                    )
                }
            },
            {
                let (o, path) = (o.clone(), path.clone());
                move || {
                    o.call(
                        "PUT",
                        &path,
                        Some(json!({"healthmonitor": {"max_retries": retries}})),
                    )
                }
            },
        );
        status(&a, 200);
        status(&b, 200);
        let shown = status(&o.call("GET", &path, None), 200)["healthmonitor"].clone();
        assert_eq!(
            (shown["delay"].clone(), shown["max_retries"].clone()),
            (json!(delay), json!(retries)),
            "round {round}: an update was lost: {shown}"
        );
    }
}

/// A monitor created twice at once: one is made, the other is Octavia's
/// 409, never an overwrite of the first.
#[test]
fn two_monitor_creates_at_once_make_one() {
    let o = Arc::new(Octavia::start());
    let lb = status(
        &o.call(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": o.server.inventory.subnet}})),
        ),
        201,
    );
    let lb_id = text(&lb, "/loadbalancer/id");
    for round in 0..ROUNDS.min(10) {
        let pool = status(
            &o.call(
                "POST",
                "/pools",
                Some(json!({"pool": {"loadbalancer_id": lb_id, "protocol": "TCP",
                                     "lb_algorithm": "ROUND_ROBIN"}})),
            ),
            201,
        );
        let pool_id = text(&pool, "/pool/id");
        let make = |delay: u32| {
            let (o, pool_id) = (o.clone(), pool_id.clone());
            move || {
                o.call(
                    "POST",
                    "/healthmonitors",
                    Some(json!({"healthmonitor": {"pool_id": pool_id, "type": "TCP",
                                                  "delay": delay, "timeout": 1, "max_retries": 1}})),
                )
            }
        };
        let (a, b) = at_once(make(7), make(9));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {} / {}",
            a.text,
            b.text
        );
        let made = if a.status == 201 { 7 } else { 9 };
        let shown = status(&o.call("GET", &format!("/pools/{pool_id}"), None), 200);
        let monitor = text(&shown, "/pool/healthmonitor_id");
        let shown = status(
            &o.call("GET", &format!("/healthmonitors/{monitor}"), None),
            200,
        );
        assert_eq!(
            shown["healthmonitor"]["delay"], made,
            "round {round}: {shown}"
        );
    }
}

#[track_caller]
fn aliyun_ok(reply: &harness::Reply) -> Value {
    assert_eq!(reply.status, 200, "{}\n-> {}", reply.request, reply.text);
    reply.json()
}

#[test]
fn two_aliyun_acl_changes_at_once_both_stay() {
    let s = Arc::new(harness::start());
    let inv = &s.inventory;
    let lb = aliyun_ok(&s.aliyun(
        "CreateLoadBalancer",
        &[("VSwitchId", &inv.subnet), ("VpcId", &inv.vpc)],
        false,
    ))["LoadBalancerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let acls: Vec<String> = (0..2)
        .map(|i| {
            aliyun_ok(&s.aliyun(
                "CreateAccessControlList",
                &[
                    ("AclName", &format!("list{i}")),
                    ("AddressIPVersion", "ipv4"),
                ],
                false,
            ))["AclId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    aliyun_ok(&s.aliyun(
        "CreateLoadBalancerTCPListener",
        &[
            ("LoadBalancerId", lb.as_str()),
            ("ListenerPort", "80"),
            ("BackendServerPort", "8080"),
            ("AclStatus", "on"),
            ("AclType", "white"),
            ("AclId", acls[0].as_str()),
        ],
        false,
    ));
    let set = |params: Vec<(&'static str, String)>| {
        let (s, lb) = (s.clone(), lb.clone());
        move || {
            let mut all = vec![
                ("LoadBalancerId", lb.clone()),
                ("ListenerPort", "80".to_owned()),
            ];
            all.extend(params);
            let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.aliyun("SetLoadBalancerTCPListenerAttribute", &pairs, false)
        }
    };
    for round in 0..ROUNDS {
        // Each round flips both: the type one way, the list the other.
        let kind = if round % 2 == 0 { "black" } else { "white" };
        let acl = &acls[(round as usize + 1) % 2];
        let (a, b) = at_once(
            set(vec![("AclType", kind.to_owned())]),
            set(vec![("AclId", acl.clone())]),
        );
        aliyun_ok(&a);
        aliyun_ok(&b);
        let shown = aliyun_ok(&s.aliyun(
            "DescribeLoadBalancerTCPListenerAttribute",
            &[("LoadBalancerId", lb.as_str()), ("ListenerPort", "80")],
            false,
        ));
        assert_eq!(
            (shown["AclType"].clone(), shown["AclId"].clone()),
            (json!(kind), json!(acl)),
            "round {round}: an update was lost: {shown}"
        );
    }
}

#[track_caller]
fn ucloud_ok(reply: &harness::Reply) -> Value {
    assert_eq!(reply.status, 200, "{}\n-> {}", reply.request, reply.text);
    let body = reply.json();
    assert_eq!(body["RetCode"], 0, "{}\n-> {}", reply.request, reply.text);
    body
}

/// Two BindSSL of different certificates at once both stay, and two
/// UnbindSSL at once leave none: the list changes as the write reads it.
#[test]
fn two_ucloud_certificate_binds_at_once_both_stay() {
    let s = Arc::new(harness::start());
    let inv = &s.inventory;
    let ulb = ucloud_ok(&s.ucloud(&[
        ("Action", "CreateULB"),
        ("ULBName", "web"),
        ("VPCId", &inv.vpc),
        ("SubnetId", &inv.subnet),
    ]))["ULBId"]
        .as_str()
        .unwrap()
        .to_owned();
    let vserver = ucloud_ok(&s.ucloud(&[
        ("Action", "CreateVServer"),
        ("ULBId", &ulb),
        ("VServerName", "https-443"),
        ("Protocol", "HTTPS"),
        ("FrontendPort", "443"),
        ("ListenType", "RequestProxy"),
    ]))["VServerId"]
        .as_str()
        .unwrap()
        .to_owned();
    let certificates: Vec<String> = ["a.example", "b.example"]
        .iter()
        .map(|name| {
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec![(*name).to_owned()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let pem = format!("{}{}", cert.pem(), key.serialize_pem());
            ucloud_ok(&s.ucloud(&[
                ("Action", "CreateSSL"),
                ("SSLName", name),
                ("SSLContent", &pem),
            ]))["SSLId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let act = |action: &'static str, ssl: &str| {
        let (s, ulb, vserver, ssl) = (s.clone(), ulb.clone(), vserver.clone(), ssl.to_owned());
        move || {
            s.ucloud(&[
                ("Action", action),
                ("ULBId", &ulb),
                ("VServerId", &vserver),
                ("SSLId", &ssl),
            ])
        }
    };
    let bound = || {
        let shown = ucloud_ok(&s.ucloud(&[
            ("Action", "DescribeVServer"),
            ("ULBId", &ulb),
            ("VServerId", &vserver),
        ]));
        let mut ids: Vec<String> = shown["DataSet"][0]["SSLSet"]
            .as_array()
            .unwrap_or_else(|| panic!("no SSLSet: {shown}"))
            .iter()
            .map(|c| c["SSLId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = certificates.clone();
    both.sort();
    for round in 0..ROUNDS.min(15) {
        let (a, b) = at_once(
            act("BindSSL", &certificates[0]),
            act("BindSSL", &certificates[1]),
        );
        ucloud_ok(&a);
        ucloud_ok(&b);
        assert_eq!(bound(), both, "round {round}: a bind was lost");
        let (a, b) = at_once(
            act("UnbindSSL", &certificates[0]),
            act("UnbindSSL", &certificates[1]),
        );
        ucloud_ok(&a);
        ucloud_ok(&b);
        assert_eq!(
            bound(),
            Vec::<String>::new(),
            "round {round}: an unbind was lost"
        );
    }
}

/// A secret of the project holding a fresh CA certificate; its URL.
fn ca_secret(o: &Octavia) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    let made = o.server.octavia_at(
        "/key-manager/v1",
        &o.token,
        "POST",
        "/secrets",
        Some(&json!({"name": "ca", "payload": pem, "payload_content_type": "text/plain"})),
    );
    text(&status(&made, 201), "/secret_ref")
}

/// An Octavia pool's CA ref and its TLS versions changed at once: both
/// are parts of the pool's one re-encryption setting, merged inside the
/// writer's transaction (`Control::update_pool_with`).
#[test]
fn a_pool_ca_and_tls_versions_changed_at_once_both_stay() {
    let o = Arc::new(Octavia::start());
    let cas = [ca_secret(&o), ca_secret(&o)];
    let lb = status(
        &o.call(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": o.server.inventory.subnet}})),
        ),
        201,
    );
    let pool = status(
        &o.call(
            "POST",
            "/pools",
            Some(
                json!({"pool": {"loadbalancer_id": text(&lb, "/loadbalancer/id"),
                                 "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                                 "tls_enabled": true}}),
            ),
        ),
        201,
    );
    let path = format!("/pools/{}", text(&pool, "/pool/id"));
    let versions = [json!(["TLSv1.3"]), json!(["TLSv1.2", "TLSv1.3"])];
    for round in 0..ROUNDS {
        // Each round changes both, so a lost update shows.
        let ca = cas[round as usize % 2].clone();
        let wanted = versions[round as usize % 2].clone();
        let (a, b) = at_once(
            {
                let (o, path, ca) = (o.clone(), path.clone(), ca.clone());
                move || {
                    o.call(
                        "PUT",
                        &path,
                        Some(json!({"pool": {"ca_tls_container_ref": ca}})),
                    )
                }
            },
            {
                let (o, path, wanted) = (o.clone(), path.clone(), wanted.clone());
                move || {
                    o.call(
                        "PUT",
                        &path,
                        Some(json!({"pool": {"tls_versions": wanted}})),
                    )
                }
            },
        );
        status(&a, 200);
        status(&b, 200);
        let shown = status(&o.call("GET", &path, None), 200);
        assert_eq!(
            shown["pool"]["ca_tls_container_ref"],
            json!(ca),
            "round {round}"
        );
        assert_eq!(shown["pool"]["tls_versions"], wanted, "round {round}");
        assert_eq!(shown["pool"]["tls_enabled"], true, "round {round}");
    }
}
