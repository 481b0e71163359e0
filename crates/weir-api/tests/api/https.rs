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
