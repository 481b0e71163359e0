//! Authentication, request ids, malformed input, the OpenAPI document.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use weir_core::settings::Settings;

use crate::harness::*;

#[test]
fn tokens_are_required_and_checked() {
    let s = start();
    let none = s.raw("GET", "/v1/loadbalancers", None, None);
    assert_error(&none, 401, "Unauthenticated");
    let wrong = s.get("/v1/loadbalancers", "not-a-token");
    assert_error(&wrong, 401, "Unauthenticated");
    let made = s.create("/v1/projects", ADMIN, json!({"name": "p"}));
    assert!(made["token"].as_str().unwrap().starts_with("wt_"));
    assert_eq!(made["access_key_secret"].as_str().unwrap().len(), 40);
    let token = made["token"].as_str().unwrap();
    assert_eq!(s.get("/v1/loadbalancers", token).status, 200);
    assert_error(
        &s.post("/v1/projects", token, json!({"name": "x"})),
        403,
        "Forbidden",
    );
    let listed = s.get("/v1/projects", ADMIN).body;
    assert!(
        listed["projects"][0].get("access_key_secret").is_none(),
        "secrets are shown once"
    );
}

#[test]
fn every_response_has_a_request_id() {
    let s = start();
    let ok = s.raw("GET", "/healthz", None, None);
    assert_eq!(ok.status, 200);
    assert!(!ok.request_id.is_empty());
    let missing = s.raw("GET", "/v1/nothing-here", None, None);
    assert_error(&missing, 404, "RouteNotFound");
    let method = s.raw("PUT", "/v1/loadbalancers", Some(ADMIN), Some(b"{}"));
    assert_error(&method, 405, "MethodNotAllowed");
}

#[test]
fn bad_bodies_get_a_precise_400_and_write_nothing() {
    let s = start();
    let f = fixture(&s);
    let path = format!("/v1/listeners/{}/backends", f.listener);
    let before = s.revision();
    let cases: [(&[u8], Option<&str>); 7] = [
        (b"{not json", None),
        (b"", None),
        (br#"{"backends": [{"address": "10.0.1.5"}]} trailing"#, None),
        (
            br#"{"backends": [{"address": "10.0.1.5", "weight": "heavy"}]}"#,
            Some("backends[0].weight"),
        ),
        (
            br#"{"backends": [{"address": "10.0.1.5", "colour": "red"}]}"#,
            Some("backends[0].colour"),
        ),
        (
            br#"{"backends": [{"address": 10}]}"#,
            Some("backends[0].address"),
        ),
        (br#"{"backends": {}}"#, Some("backends")),
    ];
    for (body, field) in cases {
        let reply = s.raw("POST", &path, Some(&f.token), Some(body));
        assert_error(&reply, 400, "InvalidRequest");
        assert_eq!(
            reply.body["error"].get("field").and_then(Value::as_str),
            field,
            "{}",
            reply.body
        );
    }
    let huge = vec![b' '; (1 << 20) + 1];
    let reply = s.raw("POST", &path, Some(&f.token), Some(&huge));
    assert_error(&reply, 413, "PayloadTooLarge");
    assert_eq!(s.revision(), before);
}

/// Every `(path, method)` the router serves, read from its source: each
/// `.route("PATH", get(..).post(..))` call of `routes::router`.
fn routed() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/routes/mod.rs");
    let body = &source[source.find("pub fn router(").unwrap()..];
    let body = &body[..body.find(".fallback(").unwrap()];
    let mut out = BTreeSet::new();
    for call in body.split(".route(").skip(1) {
        let path = call.split('"').nth(1).unwrap().to_owned();
        // The handlers: `get(`, `.post(`, `axum::routing::delete(`, ...
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && call.as_bytes()[i - 1] != b'_'
            });
            if called {
                out.insert((path.clone(), method.to_owned()));
            }
        }
    }
    out
}

#[test]
fn openapi_documents_every_route_and_only_routes_served() {
    let s = start();
    let doc = s.raw("GET", "/v1/openapi.json", None, None);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let routed = routed();
    assert!(
        routed.len() > 30,
        "the router's routes were not read: {routed:?}"
    );
    let served = routed;
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.json: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "in openapi.json but not served: {unserved:?}"
    );
    // And the router really answers each documented route (not 404).
    for (path, method) in &documented {
        let concrete = path
            .replace("{id}", "x")
            .replace("{access_key_id}", "x")
            .replace("{rule_id}", "x");
        let reply = s.raw(&method.to_ascii_uppercase(), &concrete, None, None);
        assert_ne!(
            (reply.status, reply.body["error"]["code"].as_str()),
            (404, Some("RouteNotFound")),
            "{method} {path}"
        );
    }
}

/// Ids that cannot be ids (a NUL byte, control characters, over-long) in
/// paths, bodies and query strings are "not found" (a marker: invalid),
/// never a store failure: on PostgreSQL they once reached the database,
/// which refused the statement and failed the request with 500.
#[test]
fn malformed_ids_are_not_found() {
    let s = start();
    let f = fixture(&s);
    let long = "x".repeat(200);
    for bad in ["%00", "lb%00x", "a%01b", long.as_str()] {
        assert_error(
            &s.get(&format!("/v1/loadbalancers/{bad}"), &f.token),
            404,
            "NotFound",
        );
        assert_error(
            &s.get(&format!("/v1/backends/{bad}"), &f.token),
            404,
            "NotFound",
        );
        assert_error(
            &s.call("DELETE", &format!("/v1/backends/{bad}"), &f.token, None),
            404,
            "NotFound",
        );
        assert_error(
            &s.post(
                &format!("/v1/listeners/{bad}/backends"),
                &f.token,
                json!({"backends": [{"address": "10.0.1.11"}]}),
            ),
            404,
            "NotFound",
        );
    }
    let by_instance = s.post(
        &format!("/v1/listeners/{}/backends", f.listener),
        &f.token,
        json!({"backends": [{"instance_id": "i\u{0}x"}]}),
    );
    assert_error(&by_instance, 404, "NotFound");
    assert_error(
        &s.get(
            &format!("/v1/pools/{}/backends?marker=%00", f.pool),
            &f.token,
        ),
        400,
        "InvalidField",
    );
    // The registry still works for everyone.
    let ok = s.post(
        &format!("/v1/listeners/{}/backends", f.listener),
        &f.token,
        json!({"backends": [{"address": "10.0.1.11"}]}),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
}

/// `/metrics` names every tenant's load balancers, listeners and backends:
/// only the admin token or the metrics token reads it (it was open to
/// anyone).
#[test]
fn metrics_need_the_admin_or_metrics_token() {
    let s = start_full(Settings::default(), Some("scrape-token"));
    let f = fixture(&s);
    assert_error(
        &s.raw("GET", "/metrics", None, None),
        401,
        "Unauthenticated",
    );
    assert_error(
        &s.raw("GET", "/metrics", Some(&f.token), None),
        401,
        "Unauthenticated",
    );
    assert_error(
        &s.raw("GET", "/metrics", Some("scrape-tokenX"), None),
        401,
        "Unauthenticated",
    );
    for token in [ADMIN, "scrape-token"] {
        let ok = ureq::get(&format!("{}/metrics", s.url))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        assert_eq!(ok.status(), 200, "{token}");
        assert!(ok.content_type().starts_with("text/plain"), "{token}");
    }
    // The metrics token is for metrics only.
    assert_error(
        &s.raw("GET", "/v1/loadbalancers", Some("scrape-token"), None),
        401,
        "Unauthenticated",
    );
}
