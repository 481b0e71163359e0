//! A re-encrypting pool verifying its members against a CA certificate of
//! the project (`weir pool tls --ca-cert`, native
//! `backend_tls.ca_certificate_id`) rather than a key-manager ref: traffic
//! through a real TLS member, a member signed by another CA refused, the
//! CA kept while a pool names it, and what a hostile tenant sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use serde_json::json;

use crate::mtls::{ca, issue, until, Ca};
use crate::support::*;

/// A TLS member on 127.0.0.1 presenting a certificate `by` signs for
/// `name`, answering every request `ok` and closing.
fn tls_member(by: &Ca, name: &str) -> SocketAddr {
    let (cert, key) = issue(by, name, true);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming().map_while(Result::ok) {
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 2048];
                if matches!(tls.read(&mut buf), Ok(n) if n > 0) {
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            });
        }
    });
    addr
}

/// One plain GET through the listener: the answer's status line and body.
fn get(front: SocketAddr) -> Result<String, String> {
    let mut tcp = std::net::TcpStream::connect_timeout(&front, std::time::Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    tcp.read_to_string(&mut out).map_err(|e| e.to_string())?;
    if out.starts_with("HTTP/1.1 200") && out.ends_with("ok") {
        Ok(out)
    } else {
        Err(out)
    }
}

#[test]
fn a_pool_verifies_its_members_against_a_ca_certificate_of_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 163, 17);
    let admin = "pool-ca-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let (other, _) = tenant(url, admin);
    let files = tempfile::tempdir().unwrap();

    let (members_ca, stranger_ca) = (ca("members"), ca("stranger"));
    let bundle = files.path().join("members.pem");
    std::fs::write(&bundle, members_ca.cert.pem()).unwrap();
    let made = weir_json(
        url,
        &token,
        &["cert", "create", "--ca", bundle.to_str().unwrap()],
    );
    let ca_id = made["id"].as_str().unwrap().to_owned();
    let (_, stranger) = request(
        "POST",
        &format!("{url}/v1/certificates"),
        &token,
        Some(json!({"type": "ca", "certificate": stranger_ca.cert.pem()})),
    );
    let stranger_id = stranger["id"].as_str().unwrap().to_owned();
    let (_, theirs) = request(
        "POST",
        &format!("{url}/v1/certificates"),
        &other,
        Some(json!({"type": "ca", "certificate": members_ca.cert.pem()})),
    );
    let theirs_id = theirs["id"].as_str().unwrap().to_owned();
    // A server certificate (with its key) of the project.
    let (leaf, leaf_key) = issue(&members_ca, "site.example.test", true);
    let (status, served) = request(
        "POST",
        &format!("{url}/v1/certificates"),
        &token,
        Some(json!({"certificate": leaf.pem(), "private_key": leaf_key.serialize_pem()})),
    );
    assert_eq!(status, 201, "{served}");
    let served_id = served["id"].as_str().unwrap().to_owned();

    let (status, listener) = request(
        "POST",
        &format!(
            "{url}/v1/loadbalancers/{}/listeners",
            lb["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"protocol": "http", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let pool = listener["default_pool_id"].as_str().unwrap().to_owned();
    let member = tls_member(&members_ca, "member.example.test");
    let (status, body) = request(
        "POST",
        &format!(
            "{url}/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": member.port()}]})),
    );
    assert_eq!(status, 201, "{body}");

    // What a hostile or mistaken tenant sends: refused, nothing stored.
    let pool_path = format!("{url}/v1/pools/{pool}");
    for (what, tls, status, field) in [
        (
            "another project's CA",
            json!({"ca_certificate_id": theirs_id}),
            404,
            None,
        ),
        (
            "an unknown CA",
            json!({"ca_certificate_id": "no-such-ca"}),
            404,
            None,
        ),
        (
            "a malformed id",
            json!({"ca_certificate_id": "../x"}),
            404,
            None,
        ),
        (
            "a server certificate as the CA",
            json!({"ca_certificate_id": served_id}),
            400,
            Some("backend_tls.ca_certificate_id"),
        ),
        (
            "the CA named twice",
            json!({"ca_certificate_id": ca_id, "ca_ref": "secrets/abc"}),
            400,
            Some("backend_tls.ca_certificate_id"),
        ),
        (
            "a CA and no verification",
            json!({"ca_certificate_id": ca_id, "verify": false}),
            400,
            Some("backend_tls.verify"),
        ),
    ] {
        let (got, body) = request(
            "PATCH",
            &pool_path,
            &token,
            Some(json!({ "backend_tls": tls })),
        );
        assert_eq!(got, status, "{what}: {body}");
        if let Some(field) = field {
            assert_eq!(body["error"]["field"], field, "{what}: {body}");
        }
        let (_, shown) = request("GET", &pool_path, &token, None);
        assert!(shown.get("backend_tls").is_none(), "{what}: {shown}");
    }

    // Verified against the project's CA certificate, made with the CLI.
    let front = SocketAddr::new(vip, port);
    let set = weir_json(
        url,
        &token,
        &[
            "pool",
            "tls",
            &pool,
            "--ca-cert",
            &ca_id,
            "--server-name",
            "member.example.test",
        ],
    );
    assert_eq!(
        (
            &set["backend_tls"]["verify"],
            &set["backend_tls"]["ca_certificate_id"],
            &set["backend_tls"]["ca_ref"]
        ),
        (&json!(true), &json!(ca_id), &json!(null)),
        "{set}"
    );
    until("the member is reached over TLS", || get(front), true);

    // In use: the CA is not deleted, and the refusal names the pool.
    let (ok, _, err) = weir(url, &token, &["cert", "delete", &ca_id]);
    assert!(!ok && err.contains(&pool), "{err}");

    // Another CA of the project: the member's chain no longer verifies.
    let (status, body) = request(
        "PATCH",
        &pool_path,
        &token,
        Some(json!({"backend_tls": {"ca_certificate_id": stranger_id,
                                     "server_name": "member.example.test"}})),
    );
    assert_eq!(status, 200, "{body}");
    until(
        "a member signed by another CA is refused",
        || get(front),
        false,
    );
    // And the first CA, no longer named, goes.
    let (ok, _, err) = weir(url, &token, &["cert", "delete", &ca_id]);
    assert!(ok, "{err}");
}
