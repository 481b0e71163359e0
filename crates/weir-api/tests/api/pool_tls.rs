//! A pool's backend TLS through the native API (`backend_tls` of
//! `PATCH /v1/pools/{id}`): on without verification, shown, a server name
//! kept, back to the clear with `null`, and what a hostile or mistaken
//! caller sends refused with the field named and nothing stored. Refs
//! that resolve (key-manager secrets, made through Barbican's API) and
//! traffic: `tests/sdk/test_pool_tls.py`.

use serde_json::json;

use crate::harness::*;

#[test]
fn backend_tls_is_set_shown_and_cleared_and_bad_input_is_refused() {
    let s = start();
    let f = fixture(&s);
    let path = format!("/v1/pools/{}", f.pool);

    // The fixture's pool is its tcp listener's own: it speaks TCP, so it
    // may re-encrypt.
    let on = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"backend_tls": {"server_name": "member.example.test",
                                     "tls_versions": ["TLSv1.3"]}})),
    );
    assert_eq!(on.status, 200, "{}", on.body);
    let tls = &on.body["backend_tls"];
    assert_eq!(tls["verify"], false);
    assert_eq!(tls["server_name"], "member.example.test");
    assert_eq!(tls["tls_versions"], json!(["TLSv1.3"]));
    assert_eq!(tls["client_certificate_ref"], serde_json::Value::Null);
    assert_eq!(s.get(&path, &f.token).body, on.body);

    for (body, field) in [
        // Verifying needs a CA, and a CA is only for verifying.
        (json!({"verify": true}), "backend_tls.verify"),
        (
            json!({"verify": false, "ca_ref": "secrets/abc"}),
            "backend_tls.verify",
        ),
        // A CRL is checked only against a verified chain.
        (json!({"crl_ref": "secrets/abc"}), "backend_tls.crl_ref"),
        // Refs are the key manager's paths, nothing else.
        (
            json!({"ca_ref": "http://evil.example/secrets/abc"}),
            "backend_tls.ca_ref",
        ),
        (
            json!({"client_certificate_ref": "keys/abc"}),
            "backend_tls.client_certificate_ref",
        ),
        // A ref that resolves to nothing of the project.
        (
            json!({"client_certificate_ref": "secrets/no-such-secret"}),
            "backend_tls.client_certificate_ref",
        ),
        (
            json!({"server_name": "a.test\r\nX-Evil: 1"}),
            "backend_tls.server_name",
        ),
        (
            json!({"tls_versions": ["TLSv1.0"]}),
            "backend_tls.tls_versions",
        ),
    ] {
        let refused = s.call(
            "PATCH",
            &path,
            &f.token,
            Some(json!({ "backend_tls": body.clone() })),
        );
        assert!(
            refused.status == 400 || refused.status == 501,
            "{body}: {}",
            refused.body
        );
        assert_eq!(
            refused.body["error"]["field"], field,
            "{body}: {}",
            refused.body
        );
        assert_eq!(
            s.get(&path, &f.token).body,
            on.body,
            "{body}: nothing stored"
        );
    }
    let unknown = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"backend_tls": {"no_such_field": 1}})),
    );
    assert_error(&unknown, 400, "InvalidRequest");
    assert_eq!(unknown.body["error"]["field"], "backend_tls.no_such_field");

    // Another project's pool is not there.
    let other = fixture_named(&s, "other");
    let foreign = s.call(
        "PATCH",
        &format!("/v1/pools/{}", other.pool),
        &f.token,
        Some(json!({"backend_tls": {}})),
    );
    assert_error(&foreign, 404, "NotFound");

    let off = s.call("PATCH", &path, &f.token, Some(json!({"backend_tls": null})));
    assert_eq!(off.status, 200, "{}", off.body);
    assert!(off.body.get("backend_tls").is_none(), "{}", off.body);
}
