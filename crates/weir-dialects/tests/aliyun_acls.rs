//! Alibaba Cloud access control lists over a real socket, signed as the
//! SDKs sign: the ACL actions, a listener's `AclStatus`/`AclType`/`AclId`,
//! and what a hostile tenant sends (an `AclEntrys` that is not JSON,
//! 10,000 entries, malformed networks, IPv6 entries on an IPv4 list,
//! another project's ACL, deleting one in use) answered with SLB's own
//! errors, nothing stored. Traffic through an ACL is the SDK suite's
//! (`tests/sdk/test_aliyun_acls.py`) and the data plane's
//! (`weir-dataplane/tests/dataplane/acl.rs`).

#[path = "golden/harness.rs"]
mod harness;

use serde_json::{json, Value};

use harness::{Reply, Server};

#[track_caller]
fn answer(reply: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(reply.status, status, "{}\n-> {}", reply.request, reply.text);
    let body = reply.json();
    if !code.is_empty() {
        assert_eq!(body["Code"], code, "{}\n-> {}", reply.request, reply.text);
    }
    body
}

fn create(s: &Server, name: &str, version: &str) -> String {
    let made = s.aliyun(
        "CreateAccessControlList",
        &[("AclName", name), ("AddressIPVersion", version)],
        false,
    );
    answer(&made, 200, "")["AclId"].as_str().unwrap().to_owned()
}

fn add(s: &Server, acl: &str, entries: &str) -> Reply {
    s.aliyun(
        "AddAccessControlListEntry",
        &[("AclId", acl), ("AclEntrys", entries)],
        false,
    )
}

fn attribute(s: &Server, acl: &str) -> Value {
    answer(
        &s.aliyun(
            "DescribeAccessControlListAttribute",
            &[("AclId", acl)],
            false,
        ),
        200,
        "",
    )
}

fn load_balancer(s: &Server) -> String {
    let inv = &s.inventory;
    let reply = s.aliyun(
        "CreateLoadBalancer",
        &[("VSwitchId", &inv.subnet), ("VpcId", &inv.vpc)],
        false,
    );
    answer(&reply, 200, "")["LoadBalancerId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn acls_keep_their_entries_and_refuse_what_is_not_one() {
    let s = harness::start();
    let acl = create(&s, "office", "ipv4");
    answer(
        &add(
            &s,
            &acl,
            r#"[{"entry": "192.0.2.0/24", "comment": "office"}, {"entry": "198.51.100.7"}]"#,
        ),
        200,
        "",
    );
    let got = attribute(&s, &acl);
    assert_eq!(got["AclName"], "office");
    assert_eq!(got["AddressIPVersion"], "ipv4");
    assert_eq!(
        got["AclEntrys"]["AclEntry"],
        json!([
            {"AclEntryIP": "192.0.2.0/24", "AclEntryComment": "office"},
            {"AclEntryIP": "198.51.100.7/32", "AclEntryComment": ""}
        ])
    );
    // Hostile or careless entries: each refused, nothing added.
    let entries_json = |n: usize| {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"entry": format!("10.{}.{}.0/24", i / 256, i % 256)}))
            .collect();
        Value::from(list).to_string()
    };
    let many = entries_json(51);
    // 10,000 entries: past the request line's bound (414) before any
    // parsing, so nothing of them is read, let alone stored.
    let flood = add(&s, &acl, &entries_json(10_000));
    assert!(
        flood.status >= 400,
        "10,000 entries answered {}",
        flood.status
    );
    for (entries, code) in [
        ("not json", "InvalidParameter"),
        ("{\"entry\": \"10.0.0.0/8\"}", "InvalidParameter"),
        ("[]", "InvalidParameter"),
        (r#"[{"entry": "10.0.0.0/33"}]"#, "InvalidParameter"),
        (r#"[{"entry": "10.0.0.5/8"}]"#, "InvalidParameter"),
        (r#"[{"entry": "example.com"}]"#, "InvalidParameter"),
        (
            r#"[{"entry": "10.0.0.0/8,10.1.0.0/16"}]"#,
            "InvalidParameter",
        ),
        (
            r#"[{"entry": "10.0.0.0/8", "weight": 1}]"#,
            "InvalidParameter",
        ),
        (r#"[{"entry": "2001:db8::/32"}]"#, "IllegalEntry"),
        (
            r#"[{"entry": "192.0.2.0/24"}]"#,
            "InvalidParam.AclEntryExists",
        ),
        (
            r#"[{"entry": "203.0.113.0/24"}, {"entry": "203.0.113.0/24"}]"#,
            "InvalidParam.AclEntryExists",
        ),
        (many.as_str(), "InvalidParameter"),
    ] {
        answer(&add(&s, &acl, entries), 400, code);
    }
    assert_eq!(attribute(&s, &acl)["TotalAclEntry"], 2);
    // 300 is the most one list holds (50 a call).
    for chunk in 0..6 {
        let batch: Vec<Value> = (0..50)
            .map(|i| json!({"entry": format!("10.{chunk}.{i}.0/24")}))
            .collect();
        let reply = add(&s, &acl, &Value::from(batch).to_string());
        if chunk < 5 {
            answer(&reply, 200, "");
        } else {
            answer(&reply, 400, "QuotaExceeded.AclEntry");
        }
    }
    assert_eq!(attribute(&s, &acl)["TotalAclEntry"], 252);
    // Remove, rename, list.
    let removed = s.aliyun(
        "RemoveAccessControlListEntry",
        &[
            ("AclId", &acl),
            ("AclEntrys", r#"[{"entry": "198.51.100.7/32"}]"#),
        ],
        false,
    );
    answer(&removed, 200, "");
    let again = s.aliyun(
        "RemoveAccessControlListEntry",
        &[
            ("AclId", &acl),
            ("AclEntrys", r#"[{"entry": "198.51.100.7/32"}]"#),
        ],
        false,
    );
    answer(&again, 400, "InvalidParameter");
    answer(
        &s.aliyun(
            "SetAccessControlListAttribute",
            &[("AclId", &acl), ("AclName", "renamed")],
            false,
        ),
        200,
        "",
    );
    let v6 = create(&s, "v6", "ipv6");
    answer(&add(&s, &v6, r#"[{"entry": "2001:db8::/32"}]"#), 200, "");
    let listed = answer(
        &s.aliyun(
            "DescribeAccessControlLists",
            &[("AddressIPVersion", "ipv4")],
            false,
        ),
        200,
        "",
    );
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    assert_eq!(listed["Acls"]["Acl"][0]["AclName"], "renamed");
    answer(
        &s.aliyun(
            "CreateAccessControlList",
            &[("AclName", "x"), ("AddressIPVersion", "ipv5")],
            false,
        ),
        400,
        "InvalidParameter",
    );
    answer(
        &s.aliyun(
            "CreateAccessControlList",
            &[("AclName", "x"), ("ResourceGroupId", "rg-1")],
            false,
        ),
        400,
        "UnsupportedOperation",
    );
    answer(
        &s.aliyun(
            "DescribeAccessControlListAttribute",
            &[("AclId", &acl), ("Page", "99999999999999999")],
            false,
        ),
        200,
        "",
    );
}

#[test]
fn listeners_name_an_acl_of_their_project_and_family_which_stays_while_named() {
    let s = harness::start_with(harness::Options {
        second_project: true,
        ..Default::default()
    });
    let lb = load_balancer(&s);
    let acl = create(&s, "office", "ipv4");
    let v6 = create(&s, "v6", "ipv6");
    let theirs = {
        let other = s.as_other();
        create(&other, "theirs", "ipv4")
    };
    let tcp = |port: &str, extra: &[(&str, &str)]| {
        let mut params = vec![
            ("LoadBalancerId", lb.as_str()),
            ("ListenerPort", port),
            ("BackendServerPort", "8080"),
        ];
        params.extend_from_slice(extra);
        s.aliyun("CreateLoadBalancerTCPListener", &params, false)
    };
    for (extra, status, code) in [
        (
            &[
                ("AclStatus", "on"),
                ("AclType", "black"),
                ("AclId", theirs.as_str()),
            ][..],
            404,
            "AclNotExist",
        ),
        (
            &[
                ("AclStatus", "on"),
                ("AclType", "black"),
                ("AclId", "acl-nowhere"),
            ],
            404,
            "AclNotExist",
        ),
        (
            &[
                ("AclStatus", "on"),
                ("AclType", "white"),
                ("AclId", v6.as_str()),
            ],
            400,
            "InvalidParameter",
        ),
        (
            &[
                ("AclStatus", "on"),
                ("AclType", "grey"),
                ("AclId", acl.as_str()),
            ],
            400,
            "InvalidParameter",
        ),
        (&[("AclStatus", "maybe")], 400, "InvalidParameter"),
        (
            &[("AclType", "black"), ("AclId", acl.as_str())],
            400,
            "InvalidParameter",
        ),
        (
            &[("AclStatus", "on"), ("AclId", acl.as_str())],
            400,
            "MissingParameter",
        ),
    ] {
        answer(&tcp("80", extra), status, code);
    }
    answer(
        &tcp(
            "80",
            &[
                ("AclStatus", "on"),
                ("AclType", "black"),
                ("AclId", acl.as_str()),
            ],
        ),
        200,
        "",
    );
    let related = attribute(&s, &acl)["RelatedListeners"]["RelatedListener"].clone();
    assert_eq!(
        related,
        json!([{"LoadBalancerId": lb, "ListenerPort": 80, "Protocol": "tcp", "AclType": "black",
                 "AclStatus": "on"}])
    );
    // In use: not deleted; the other project cannot see it at all.
    answer(
        &s.aliyun("DeleteAccessControlList", &[("AclId", &acl)], false),
        400,
        "OperationFailed.AclBindedWithVip",
    );
    answer(
        &s.as_other()
            .aliyun("DeleteAccessControlList", &[("AclId", &acl)], false),
        404,
        "AclNotExist",
    );
    // An HTTP listener shows its ACL; Set on HTTPS turns one off.
    answer(
        &s.aliyun(
            "CreateLoadBalancerHTTPListener",
            &[
                ("LoadBalancerId", &lb),
                ("ListenerPort", "8000"),
                ("BackendServerPort", "8080"),
                ("AclStatus", "on"),
                ("AclType", "white"),
                ("AclId", &acl),
            ],
            false,
        ),
        200,
        "",
    );
    let got = answer(
        &s.aliyun(
            "DescribeLoadBalancerHTTPListenerAttribute",
            &[("LoadBalancerId", &lb), ("ListenerPort", "8000")],
            false,
        ),
        200,
        "",
    );
    assert_eq!(
        (&got["AclStatus"], &got["AclType"], &got["AclId"]),
        (&json!("on"), &json!("white"), &json!(acl))
    );
    answer(
        &s.aliyun(
            "DeleteLoadBalancerListener",
            &[("LoadBalancerId", &lb), ("ListenerPort", "8000")],
            false,
        ),
        200,
        "",
    );
    answer(
        &s.aliyun(
            "DeleteLoadBalancerListener",
            &[("LoadBalancerId", &lb), ("ListenerPort", "80")],
            false,
        ),
        200,
        "",
    );
    answer(
        &s.aliyun("DeleteAccessControlList", &[("AclId", &acl)], false),
        200,
        "",
    );
    answer(
        &s.aliyun(
            "DescribeAccessControlListAttribute",
            &[("AclId", &acl)],
            false,
        ),
        404,
        "AclNotExist",
    );
}
