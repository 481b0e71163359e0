//! Octavia's pool re-encryption fields over a real socket: `tls_enabled`
//! with and without a CA ref, the 2.18/2.24 options, what a hostile
//! tenant sends (another project's CA ref, a payload that is not PEM, TLS
//! on a UDP pool).
//! Traffic to TLS members: `weir-dataplane`'s `reencrypt` tests and the
//! SDK suite (`tests/sdk/test_pool_tls.py`).

#[path = "golden/harness.rs"]
mod harness;
// Its `Octavia` handle is not used: this suite needs a second project.
#[path = "golden/octavia.rs"]
#[allow(dead_code)]
mod octavia;

use serde_json::{json, Value};

use harness::{Options, Server};
use octavia::{status, text};

const KM: &str = "/key-manager/v1";

fn token(server: &Server) -> String {
    server.keystone_token().1
}

/// A secret holding `payload` (text/plain); its URL.
fn secret(server: &Server, token: &str, payload: &str) -> String {
    let made = server.octavia_at(
        KM,
        token,
        "POST",
        "/secrets",
        Some(&json!({"name": "ca", "payload": payload, "payload_content_type": "text/plain"})),
    );
    text(&status(&made, 201), "/secret_ref")
}

fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn pools_re_encrypt_with_and_without_a_ca_and_refuse_what_they_cannot() {
    let server = harness::start_with(Options {
        second_project: true,
        ..Options::default()
    });
    let t = token(&server);
    let lb = text(
        &status(
            &server.octavia(
                &t,
                "POST",
                "/loadbalancers",
                Some(&json!({"loadbalancer": {"vip_subnet_id": server.inventory.subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let pool = |extra: Value| {
        let mut body =
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        server.octavia(&t, "POST", "/pools", Some(&json!({ "pool": body })))
    };

    // tls_enabled alone: members are dialled over TLS, not verified.
    let plain_tls = status(&pool(json!({"tls_enabled": true})), 201);
    assert_eq!(plain_tls["pool"]["tls_enabled"], true);
    assert_eq!(plain_tls["pool"]["ca_tls_container_ref"], Value::Null);
    assert_eq!(
        plain_tls["pool"]["tls_versions"],
        json!(["TLSv1.2", "TLSv1.3"])
    );
    assert_eq!(
        plain_tls["pool"]["alpn_protocols"],
        json!(["http/1.1", "http/1.0"])
    );

    // With a CA ref of the project and every option: shown as set.
    let ca = secret(&server, &t, &ca_pem());
    let verified = status(
        &pool(json!({"tls_enabled": true, "ca_tls_container_ref": ca,
                     "tls_versions": ["TLSv1.3"], "tls_ciphers": "TLS_AES_128_GCM_SHA256",
                     "alpn_protocols": ["http/1.1"]})),
        201,
    );
    let p = &verified["pool"];
    assert_eq!(p["ca_tls_container_ref"], json!(ca));
    assert_eq!(p["tls_versions"], json!(["TLSv1.3"]));
    assert_eq!(p["tls_ciphers"], "TLS_AES_128_GCM_SHA256");
    assert_eq!(p["alpn_protocols"], json!(["http/1.1"]));
    let id = text(&verified, "/pool/id");
    let shown = status(
        &server.octavia(&t, "GET", &format!("/pools/{id}"), None),
        200,
    );
    assert_eq!(shown["pool"]["ca_tls_container_ref"], json!(ca));

    // The CA secret is not deleted while the pool verifies with it.
    let ca_id = ca.rsplit('/').next().unwrap().to_owned();
    let in_use = server.octavia_at(KM, &t, "DELETE", &format!("/secrets/{ca_id}"), None);
    assert_eq!(in_use.status, 409, "{}", in_use.text);

    // Update: the CA cleared keeps TLS on, unverified; tls_enabled false
    // turns it all off.
    let cleared = status(
        &server.octavia(
            &t,
            "PUT",
            &format!("/pools/{id}"),
            Some(&json!({"pool": {"ca_tls_container_ref": null}})),
        ),
        200,
    );
    assert_eq!(cleared["pool"]["tls_enabled"], true);
    assert_eq!(cleared["pool"]["ca_tls_container_ref"], Value::Null);
    assert_eq!(cleared["pool"]["tls_versions"], json!(["TLSv1.3"]));
    let let_go = server.octavia_at(KM, &t, "DELETE", &format!("/secrets/{ca_id}"), None);
    assert_eq!(let_go.status, 204, "{}", let_go.text);
    let ca = secret(&server, &t, &ca_pem());
    let off = status(
        &server.octavia(
            &t,
            "PUT",
            &format!("/pools/{id}"),
            Some(&json!({"pool": {"tls_enabled": false}})),
        ),
        200,
    );
    assert_eq!(off["pool"]["tls_enabled"], false);
    assert_eq!(off["pool"]["tls_versions"], Value::Null);

    // What clients send for "none" with TLS off is accepted, as before.
    let none = status(
        &pool(
            json!({"tls_enabled": false, "ca_tls_container_ref": "", "tls_versions": [],
                     "tls_ciphers": "", "alpn_protocols": []}),
        ),
        201,
    );
    assert_eq!(none["pool"]["tls_enabled"], false);

    // Hostile or mistaken input, each a 400 that names the problem and
    // stores nothing.
    let listed = |server: &Server| {
        status(
            &server.octavia(&t, "GET", &format!("/pools?loadbalancer_id={lb}"), None),
            200,
        )["pools"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = listed(&server);
    let other = server.as_other();
    let theirs = secret(&other, &token(&other), &ca_pem());
    let not_pem = secret(&server, &t, "this is not a certificate");
    let elsewhere = "http://barbican.example/key-manager/v1/secrets/abc";
    for (extra, wants) in [
        // Another project's secret reads as not there, like a listener's.
        (
            json!({"tls_enabled": true, "ca_tls_container_ref": theirs}),
            "Could not retrieve certificate",
        ),
        (
            json!({"tls_enabled": true, "ca_tls_container_ref": not_pem}),
            "Could not retrieve certificate",
        ),
        (
            json!({"tls_enabled": true, "ca_tls_container_ref": elsewhere}),
            "Could not retrieve certificate",
        ),
        (json!({"ca_tls_container_ref": ca}), "tls_enabled"),
        (
            json!({"tls_enabled": true, "tls_versions": ["TLSv9"]}),
            "tls_versions",
        ),
    ] {
        let body = status(&pool(extra.clone()), 400);
        assert!(body.to_string().contains(wants), "{extra}: {body}");
        assert!(
            !body.to_string().contains(other.inventory.project.as_str()),
            "{body}"
        );
    }
    let udp = server.octavia(
        &t,
        "POST",
        "/pools",
        Some(&json!({"pool": {"loadbalancer_id": lb, "protocol": "UDP",
                               "lb_algorithm": "ROUND_ROBIN", "tls_enabled": true}})),
    );
    assert!(status(&udp, 400).to_string().contains("UDP"));
    // Not offered: h2 towards members of an HTTP pool, PROXY pools over
    // TLS (client certificates and CRLs: `octavia_pool_mtls.rs`).
    status(
        &pool(json!({"tls_enabled": true, "alpn_protocols": ["h2"]})),
        501,
    );
    let proxy = server.octavia(
        &t,
        "POST",
        "/pools",
        Some(&json!({"pool": {"loadbalancer_id": lb, "protocol": "PROXY",
                               "lb_algorithm": "ROUND_ROBIN", "tls_enabled": true}})),
    );
    status(&proxy, 501);
    assert_eq!(listed(&server), before, "nothing refused was stored");
}
