//! HTTPS listeners through the native API: created with the project's
//! certificates, shown with them, rotated by PATCH, and a certificate in
//! use refused on delete (409) until the listener lets go of it.

use serde_json::json;

use crate::harness::*;

fn certificate(s: &Server, token: &str, name: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let made = s.create(
        "/v1/certificates",
        token,
        json!({"name": name, "certificate": cert.pem(), "private_key": key.serialize_pem()}),
    );
    made["id"].as_str().unwrap().to_owned()
}

#[test]
fn https_listeners_name_certificates_and_hold_them() {
    let s = start();
    let f = fixture(&s);
    let other = fixture_named(&s, "other");
    let one = certificate(&s, &f.token, "one.example.test");
    let two = certificate(&s, &f.token, "two.example.test");
    let theirs = certificate(&s, &other.token, "theirs.example.test");
    let path = format!("/v1/loadbalancers/{}/listeners", f.lb);

    let missing = s.post(&path, &f.token, json!({"protocol": "https", "port": 443}));
    assert_error(&missing, 400, "InvalidField");
    assert_eq!(missing.body["error"]["field"], "certificate_ids");
    let foreign = s.post(
        &path,
        &f.token,
        json!({"protocol": "https", "port": 443, "certificate_ids": [theirs]}),
    );
    assert_error(&foreign, 404, "NotFound");
    let on_http = s.post(
        &path,
        &f.token,
        json!({"protocol": "http", "port": 8080, "certificate_ids": [one]}),
    );
    assert_error(&on_http, 400, "InvalidField");

    let listener = s.create(
        &path,
        &f.token,
        json!({"name": "tls", "protocol": "https", "port": 443, "certificate_ids": [one, two]}),
    );
    assert_eq!(listener["protocol"], "https");
    assert_eq!(listener["certificate_ids"], json!([one, two]));
    let id = listener["id"].as_str().unwrap();
    let shown = s.get(&format!("/v1/listeners/{id}"), &f.token);
    assert_eq!(shown.body["certificate_ids"], json!([one, two]));
    // Other listeners show an empty list.
    let tcp = s.get(&format!("/v1/listeners/{}", f.listener), &f.token);
    assert_eq!(tcp.body["certificate_ids"], json!([]));

    let in_use = s.call("DELETE", &format!("/v1/certificates/{one}"), &f.token, None);
    assert_error(&in_use, 409, "Conflict");
    assert!(in_use.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(id));

    let twice = s.call(
        "PATCH",
        &format!("/v1/listeners/{id}"),
        &f.token,
        Some(json!({"certificate_ids": [two, two]})),
    );
    assert_error(&twice, 400, "InvalidField");
    let rotated = s.call(
        "PATCH",
        &format!("/v1/listeners/{id}"),
        &f.token,
        Some(json!({"certificate_ids": [two]})),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(rotated.body["certificate_ids"], json!([two]));
    let gone = s.call("DELETE", &format!("/v1/certificates/{one}"), &f.token, None);
    assert_eq!(gone.status, 204, "{}", gone.body);
}

/// Domain extensions natively: a domain served with a chosen
/// certificate, another certificate for it, then removed; another
/// project's certificate or listener is not found, and a malformed domain
/// changes nothing.
#[test]
fn domain_extensions_are_made_changed_and_deleted() {
    let s = start();
    let f = fixture(&s);
    let other = fixture_named(&s, "other");
    let one = certificate(&s, &f.token, "one.example.test");
    let two = certificate(&s, &f.token, "shop.example.test");
    let renewed = certificate(&s, &f.token, "shop.example.test");
    let theirs = certificate(&s, &other.token, "theirs.example.test");
    let listener = s.create(
        &format!("/v1/loadbalancers/{}/listeners", f.lb),
        &f.token,
        json!({"protocol": "https", "port": 443, "certificate_ids": [one]}),
    );
    let id = listener["id"].as_str().unwrap();
    let domains = format!("/v1/listeners/{id}/domains");

    let made = s.create(
        &domains,
        &f.token,
        json!({"domain": "shop.example.test", "certificate_id": two}),
    );
    let ext = &made["domain_extensions"][0];
    assert_eq!(ext["domain"], "shop.example.test", "{made}");
    assert_eq!(ext["certificate_id"], two.as_str());
    let ext_id = ext["id"].as_str().unwrap().to_owned();

    let foreign = s.post(
        &domains,
        &f.token,
        json!({"domain": "theirs.example.test", "certificate_id": theirs}),
    );
    assert_eq!(foreign.status, 404, "{:?}", foreign.body);
    let bad = s.post(
        &domains,
        &f.token,
        json!({"domain": "not a domain", "certificate_id": two}),
    );
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let theirs_listener = s.post(
        &domains,
        &other.token,
        json!({"domain": "theirs.example.test", "certificate_id": theirs}),
    );
    assert_eq!(theirs_listener.status, 404, "{:?}", theirs_listener.body);
    let shown = s.get(&format!("/v1/listeners/{id}"), &f.token);
    assert_eq!(shown.body["domain_extensions"].as_array().unwrap().len(), 1);

    let path = format!("{domains}/{ext_id}");
    let set = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"certificate_id": renewed})),
    );
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(
        set.body["domain_extensions"][0]["certificate_id"],
        renewed.as_str()
    );
    // A certificate that does not cover the domain is refused.
    let uncovered = s.call(
        "PATCH",
        &path,
        &f.token,
        Some(json!({"certificate_id": one})),
    );
    assert_eq!(uncovered.status, 400, "{:?}", uncovered.body);
    let not_theirs = s.call("DELETE", &path, &other.token, None);
    assert_eq!(not_theirs.status, 404, "{:?}", not_theirs.body);
    let gone = s.call("DELETE", &path, &f.token, None);
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    let again = s.call("DELETE", &path, &f.token, None);
    assert_eq!(again.status, 404, "{:?}", again.body);
    let shown = s.get(&format!("/v1/listeners/{id}"), &f.token);
    assert!(
        shown.body["domain_extensions"].is_null(),
        "{:?}",
        shown.body
    );
}
