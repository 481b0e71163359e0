//! Octavia's pool `tls_container_ref` (the client certificate presented
//! to members) and `crl_container_ref` (revocation lists for members'
//! certificates) over a real socket: stored and shown, cleared with
//! `null`, what a hostile or mistaken tenant sends (another project's
//! secret, a CA without a key, a CRL without its CA or signed by another,
//! a container as CRL), and the key manager refusing to delete what a
//! pool dials with (409). Traffic: `weir-dataplane`'s `reencrypt_mtls`
//! tests and `tests/sdk/test_pool_tls.py`.

#[path = "golden/harness.rs"]
mod harness;
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
        Some(&json!({"name": "s", "payload": payload, "payload_content_type": "text/plain"})),
    );
    text(&status(&made, 201), "/secret_ref")
}

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A client certificate and its key, one PEM bundle (as `openstack
/// secret store` of a PEM file holds it).
fn client_bundle(issuer: &Ca) -> String {
    let params = rcgen::CertificateParams::new(vec!["weir-pool.test".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    format!("{}{}", cert.pem(), key.serialize_pem())
}

fn crl(issuer: &Ca) -> String {
    rcgen::CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2024, 1, 1),
        next_update: rcgen::date_time_ymd(2099, 1, 1),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&issuer.cert, &issuer.key)
    .unwrap()
    .pem()
    .unwrap()
}

#[test]
fn pools_present_a_client_certificate_and_check_crls() {
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
    let (members_ca, clients_ca) = (ca("members"), ca("clients"));
    let ca_ref = secret(&server, &t, &members_ca.cert.pem());
    let crl_ref = secret(&server, &t, &crl(&members_ca));
    let cert_ref = secret(&server, &t, &client_bundle(&clients_ca));

    // All three: stored and shown as given.
    let made = status(
        &pool(json!({"tls_enabled": true, "ca_tls_container_ref": ca_ref,
                     "crl_container_ref": crl_ref, "tls_container_ref": cert_ref})),
        201,
    );
    let id = text(&made, "/pool/id");
    assert_eq!(made["pool"]["tls_container_ref"], json!(cert_ref));
    assert_eq!(made["pool"]["crl_container_ref"], json!(crl_ref));
    let shown = status(
        &server.octavia(&t, "GET", &format!("/pools/{id}"), None),
        200,
    );
    assert_eq!(shown["pool"]["tls_container_ref"], json!(cert_ref));
    assert_eq!(shown["pool"]["crl_container_ref"], json!(crl_ref));

    // The key manager keeps what the pool dials with (409 naming it).
    for r in [&cert_ref, &crl_ref] {
        let sid = r.rsplit('/').next().unwrap();
        let refused = server.octavia_at(KM, &t, "DELETE", &format!("/secrets/{sid}"), None);
        assert_eq!(refused.status, 409, "{}", refused.text);
        assert!(refused.text.contains(&id), "{}", refused.text);
    }

    // A client certificate alone (members not verified) is fine too.
    let alone = status(
        &pool(json!({"tls_enabled": true, "tls_container_ref": cert_ref})),
        201,
    );
    assert_eq!(alone["pool"]["ca_tls_container_ref"], Value::Null);

    // Dropping the CA while the CRL stays: 400, nothing changed.
    let orphan = server.octavia(
        &t,
        "PUT",
        &format!("/pools/{id}"),
        Some(&json!({"pool": {"ca_tls_container_ref": null}})),
    );
    assert!(
        status(&orphan, 400)
            .to_string()
            .contains("crl_container_ref"),
        "{}",
        orphan.text
    );
    // `null` clears each ref.
    let cleared = status(
        &server.octavia(
            &t,
            "PUT",
            &format!("/pools/{id}"),
            Some(&json!({"pool": {"crl_container_ref": null, "tls_container_ref": null}})),
        ),
        200,
    );
    assert_eq!(cleared["pool"]["tls_container_ref"], Value::Null);
    assert_eq!(cleared["pool"]["crl_container_ref"], Value::Null);
    assert_eq!(cleared["pool"]["ca_tls_container_ref"], json!(ca_ref));
    // No longer named by that pool; the other pool still names the cert.
    let crl_id = crl_ref.rsplit('/').next().unwrap();
    let freed = server.octavia_at(KM, &t, "DELETE", &format!("/secrets/{crl_id}"), None);
    assert_eq!(freed.status, 204, "{}", freed.text);

    // Hostile or mistaken input: 400 naming the field, nothing stored.
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
    let theirs = secret(&other, &token(&other), &client_bundle(&clients_ca));
    let no_key = secret(&server, &t, &clients_ca.cert.pem());
    let crl_ref = secret(&server, &t, &crl(&members_ca));
    let foreign_crl = secret(&server, &t, &crl(&ca("someone else")));
    let container = text(
        &status(
            &server.octavia_at(
                KM,
                &t,
                "POST",
                "/containers",
                Some(&json!({"name": "c", "type": "generic", "secret_refs": []})),
            ),
            201,
        ),
        "/container_ref",
    );
    for (extra, wants) in [
        (
            json!({"tls_enabled": true, "tls_container_ref": theirs}),
            "tls_container_ref",
        ),
        (
            json!({"tls_enabled": true, "tls_container_ref": no_key}),
            "tls_container_ref",
        ),
        (
            json!({"tls_enabled": true, "crl_container_ref": crl_ref}),
            "crl_container_ref",
        ),
        (
            json!({"tls_enabled": true, "ca_tls_container_ref": ca_ref,
                   "crl_container_ref": foreign_crl}),
            "crl_container_ref",
        ),
        (
            json!({"tls_enabled": true, "ca_tls_container_ref": ca_ref,
                   "crl_container_ref": container}),
            "crl_container_ref",
        ),
        (json!({"tls_container_ref": cert_ref}), "tls_enabled"),
        (
            json!({"tls_enabled": true, "tls_container_ref": 7}),
            "tls_container_ref",
        ),
    ] {
        let body = status(&pool(extra.clone()), 400);
        assert!(body.to_string().contains(wants), "{extra}: {body}");
        assert!(
            !body.to_string().contains(other.inventory.project.as_str()),
            "{body}"
        );
    }
    assert_eq!(listed(&server), before, "nothing refused was stored");
}
