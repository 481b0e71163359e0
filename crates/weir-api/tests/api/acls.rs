//! Access control lists on the native API: made, filled, renamed, named
//! by listeners with a mode, held while named; hostile bodies (host bits,
//! the other IP version, duplicates, unknown fields, another project's
//! list) refused with nothing written. Traffic through a list is the data
//! plane's (`weir-dataplane/tests/dataplane/acl.rs`) and the SDK suite's.

use serde_json::json;

use crate::harness::*;

#[test]
fn acls_are_filled_named_by_listeners_and_held_while_named() {
    let s = start();
    let f = fixture(&s);
    let other = fixture_named(&s, "other");
    let acl = s.create("/v1/acls", &f.token, json!({"name": "office"}));
    assert_eq!(acl["ip_version"], "ipv4");
    let id = acl["id"].as_str().unwrap().to_owned();
    let entries = format!("/v1/acls/{id}/entries");
    let filled = s.post(
        &entries,
        &f.token,
        json!({"entries": [{"cidr": "192.0.2.0/24", "comment": "office"}, {"cidr": "127.0.0.2"}]}),
    );
    assert_eq!(filled.status, 200, "{}", filled.body);
    assert_eq!(
        filled.body["entries"],
        json!([{"cidr": "192.0.2.0/24", "comment": "office"}, {"cidr": "127.0.0.2/32", "comment": ""}])
    );
    let before = s.revision();
    for (body, status, code) in [
        (
            json!({"entries": [{"cidr": "10.0.0.5/8"}]}),
            400,
            "InvalidField",
        ),
        (
            json!({"entries": [{"cidr": "2001:db8::/32"}]}),
            400,
            "InvalidField",
        ),
        (
            json!({"entries": [{"cidr": "192.0.2.0/24"}]}),
            409,
            "Conflict",
        ),
        (
            json!({"entries": [{"cidr": "10.0.0.0/8", "weight": 1}]}),
            400,
            "InvalidRequest",
        ),
        (json!({"entries": []}), 400, "InvalidField"),
    ] {
        assert_error(&s.post(&entries, &f.token, body), status, code);
    }
    assert_error(
        &s.post(
            "/v1/acls",
            &f.token,
            json!({"name": "x", "ip_version": "ipv5"}),
        ),
        400,
        "InvalidField",
    );
    // Another project's list: not found, whatever the call.
    assert_error(
        &s.get(&format!("/v1/acls/{id}"), &other.token),
        404,
        "NotFound",
    );
    assert_error(
        &s.post(
            &entries,
            &other.token,
            json!({"entries": [{"cidr": "10.0.0.0/8"}]}),
        ),
        404,
        "NotFound",
    );
    let path = format!("/v1/loadbalancers/{}/listeners", other.lb);
    assert_error(
        &s.post(
            &path,
            &other.token,
            json!({"protocol": "tcp", "port": 81, "acl_id": id, "acl_mode": "deny"}),
        ),
        404,
        "NotFound",
    );
    assert_eq!(s.revision(), before, "a refused call was written");

    // A listener names it; the view shows it; in use, it stays.
    let listener = format!("/v1/listeners/{}", f.listener);
    let named = s.call(
        "PATCH",
        &listener,
        &f.token,
        Some(json!({"acl_id": id, "acl_mode": "deny"})),
    );
    assert_eq!(named.status, 200, "{}", named.body);
    assert_eq!(
        (&named.body["acl_id"], &named.body["acl_mode"]),
        (&json!(id), &json!("deny"))
    );
    for body in [
        json!({"acl_mode": "deny"}),
        json!({"acl_id": id}),
        json!({"acl_id": id, "acl_mode": "grey"}),
    ] {
        assert_error(
            &s.call("PATCH", &listener, &f.token, Some(body)),
            400,
            "InvalidField",
        );
    }
    let v6 = s.create(
        "/v1/acls",
        &f.token,
        json!({"name": "v6", "ip_version": "ipv6"}),
    );
    assert_error(
        &s.call(
            "PATCH",
            &listener,
            &f.token,
            Some(json!({"acl_id": v6["id"], "acl_mode": "allow"})),
        ),
        400,
        "InvalidField",
    );
    assert_error(
        &s.call("DELETE", &format!("/v1/acls/{id}"), &f.token, None),
        409,
        "Conflict",
    );
    let renamed = s.call(
        "PATCH",
        &format!("/v1/acls/{id}"),
        &f.token,
        Some(json!({"name": "hq"})),
    );
    assert_eq!(renamed.body["name"], "hq");
    let removed = s.post(
        &format!("/v1/acls/{id}/entries/remove"),
        &f.token,
        json!({"cidrs": ["127.0.0.2"]}),
    );
    assert_eq!(
        removed.body["entries"].as_array().map(Vec::len),
        Some(1),
        "{}",
        removed.body
    );
    // Let go, then deleted.
    let freed = s.call("PATCH", &listener, &f.token, Some(json!({"acl_id": null})));
    assert_eq!(freed.body["acl_id"], json!(null));
    let gone = s.call("DELETE", &format!("/v1/acls/{id}"), &f.token, None);
    assert_eq!(gone.status, 204, "{}", gone.body);
    let listed = s.get("/v1/acls", &f.token);
    assert_eq!(listed.body["acls"].as_array().map(Vec::len), Some(1));
}
