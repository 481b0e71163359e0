//! Client-certificate verification (mTLS) through the native API and the
//! CLI: a CA certificate (`weir cert create --ca`), an https listener
//! naming it (`--client-ca`, `--client-auth`), real handshakes with
//! rustls presenting a client certificate or not, and what a hostile
//! tenant sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

pub(crate) struct Ca {
    pub cert: rcgen::Certificate,
    pub key: rcgen::KeyPair,
}

pub(crate) fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A certificate `by` signs: a server one for `name`, or a client one.
pub(crate) fn issue(by: &Ca, name: &str, server: bool) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = if server {
        rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap()
    } else {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        p
    };
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    (params.signed_by(&key, &by.cert, &by.key).unwrap(), key)
}

/// An HTTP backend on 127.0.0.1 answering every request `ok`.
fn ok_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    addr
}

/// One GET over TLS verifying the listener against `server_ca`,
/// presenting `client` if given: the answer, or why there is none (TLS
/// 1.3 refuses a client after the client's side of the handshake, so a
/// refusal shows at the read).
fn get(
    front: SocketAddr,
    server_ca: &Ca,
    client: Option<&(rcgen::Certificate, rcgen::KeyPair)>,
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca.cert.der().clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap(),
    };
    let name = rustls::pki_types::ServerName::try_from("app.example.test").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect_timeout(&front, Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET / HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    if text.starts_with("HTTP/1.1 200") {
        Ok(text)
    } else {
        Err(format!("no 200: {text}"))
    }
}

/// Polls (at most 10 s) until `get` says `want`.
pub(crate) fn until(what: &str, mut get: impl FnMut() -> Result<String, String>, want: bool) {
    let start = Instant::now();
    loop {
        let got = get();
        if got.is_ok() == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: still {got:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_https_listener_verifies_clients_against_a_ca_certificate_made_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 157, 13);
    let admin = "mtls-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let (other, _) = tenant(url, admin);
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };

    let (site_ca, clients, stranger) = (ca("site"), ca("clients"), ca("stranger"));
    let (site, site_key) = issue(&site_ca, "app.example.test", true);
    let (crt, key) = (
        write("site.crt", site.pem()),
        write("site.key", site_key.serialize_pem()),
    );
    let served = weir_json(
        url,
        &token,
        &["cert", "create", "--cert", &crt, "--key", &key],
    );
    let served_id = served["id"].as_str().unwrap().to_owned();
    assert_eq!(served["type"], "server");
    let bundle = write("clients.pem", clients.cert.pem());
    let made = weir_json(
        url,
        &token,
        &["cert", "create", "--ca", &bundle, "--name", "clients"],
    );
    assert_eq!(
        (&made["type"], &made["subject"], &made["chain_length"]),
        (&json!("ca"), &json!("CN=clients"), &json!(1)),
        "{made}"
    );
    let ca_id = made["id"].as_str().unwrap().to_owned();
    let theirs = request(
        "POST",
        &format!("{url}/v1/certificates"),
        &other,
        Some(json!({"type": "ca", "certificate": stranger.cert.pem()})),
    )
    .1["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // What a hostile tenant sends: each refused, nothing stored.
    let listeners = format!(
        "{url}/v1/loadbalancers/{}/listeners",
        lb["id"].as_str().unwrap()
    );
    let https = |extra: serde_json::Value| {
        let mut body = json!({"protocol": "https", "port": port, "certificate_ids": [served_id]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        request("POST", &listeners, &token, Some(body))
    };
    for (what, extra, status, field) in [
        (
            "a server certificate as the CA",
            json!({"client_ca_certificate_id": served_id}),
            400,
            Some("client_ca_certificate_id"),
        ),
        (
            "another project's CA",
            json!({"client_ca_certificate_id": theirs}),
            404,
            None,
        ),
        (
            "an unknown CA",
            json!({"client_ca_certificate_id": "no-such-ca"}),
            404,
            None,
        ),
        (
            "a mode without a CA",
            json!({"client_authentication": "mandatory"}),
            400,
            Some("client_authentication"),
        ),
        (
            "an unknown mode",
            json!({"client_ca_certificate_id": ca_id, "client_authentication": "MAYBE"}),
            400,
            Some("client_authentication"),
        ),
        (
            "a CRL that is no ref",
            json!({"client_ca_certificate_id": ca_id, "client_crl_ref": "../x"}),
            400,
            Some("client_crl_ref"),
        ),
        (
            "a CA served",
            json!({"certificate_ids": [ca_id]}),
            400,
            Some("certificate_ids"),
        ),
        (
            "a key-manager CA that is not there",
            json!({"client_ca_ref": "secrets/no-such-secret"}),
            400,
            Some("client_ca_ref"),
        ),
        (
            "a CA ref outside the key manager",
            json!({"client_ca_ref": "http://evil.example/secrets/x"}),
            400,
            Some("client_ca_ref"),
        ),
        (
            "the CA named twice",
            json!({"client_ca_certificate_id": ca_id, "client_ca_ref": "secrets/abc"}),
            400,
            Some("client_ca_ref"),
        ),
    ] {
        let (got, body) = https(extra);
        assert_eq!(got, status, "{what}: {body}");
        if let Some(field) = field {
            assert_eq!(body["error"]["field"], field, "{what}: {body}");
        }
    }
    let (status, body) = request(
        "POST",
        &listeners,
        &token,
        Some(json!({"protocol": "http", "port": port, "client_ca_certificate_id": ca_id})),
    );
    assert_eq!(status, 400, "a CA on an http listener: {body}");
    for (what, body) in [
        (
            "a CA with a key",
            json!({"type": "ca", "certificate": clients.cert.pem(), "private_key": clients.key.serialize_pem()}),
        ),
        (
            "a key in the bundle",
            json!({"type": "ca", "certificate": format!("{}{}", clients.cert.pem(), clients.key.serialize_pem())}),
        ),
        (
            "garbage",
            json!({"type": "ca", "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}),
        ),
        (
            "a server certificate without its key",
            json!({"certificate": site.pem()}),
        ),
        (
            "an unknown type",
            json!({"type": "client", "certificate": clients.cert.pem()}),
        ),
    ] {
        let (status, answer) = request(
            "POST",
            &format!("{url}/v1/certificates"),
            &token,
            Some(body),
        );
        assert_eq!(status, 400, "{what}: {answer}");
    }
    let (_, listed) = request("GET", &format!("{url}/v1/certificates"), &token, None);
    assert_eq!(
        listed["certificates"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    let (_, none) = request("GET", &listeners, &token, None);
    assert_eq!(
        none["listeners"],
        json!([]),
        "a refused listener was stored"
    );

    // The listener, made with the CLI: mandatory by default with a CA.
    let listener = weir_json(
        url,
        &token,
        &[
            "listener",
            "create",
            "--lb",
            lb["id"].as_str().unwrap(),
            "--protocol",
            "https",
            "--port",
            &port.to_string(),
            "--cert",
            &served_id,
            "--client-ca",
            &ca_id,
        ],
    );
    assert_eq!(
        (
            &listener["client_authentication"],
            &listener["client_ca_certificate_id"]
        ),
        (&json!("mandatory"), &json!(ca_id)),
        "{listener}"
    );
    let listener_id = listener["id"].as_str().unwrap().to_owned();
    let backend = ok_backend();
    let (status, body) = request(
        "POST",
        &format!("{url}/v1/listeners/{listener_id}/backends"),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    let alice = issue(&clients, "alice", false);
    let mallory = issue(&stranger, "mallory", false);
    until(
        "a verified client is served",
        || get(front, &site_ca, Some(&alice)),
        true,
    );
    assert!(
        get(front, &site_ca, None).is_err(),
        "served without a certificate"
    );
    assert!(
        get(front, &site_ca, Some(&mallory)).is_err(),
        "served a stranger's certificate"
    );

    // In use: the CA is not deleted, and another project cannot see it.
    let (ok, _, err) = weir(url, &token, &["cert", "delete", &ca_id]);
    assert!(!ok && err.contains(&listener_id), "{err}");
    let (status, _) = request(
        "GET",
        &format!("{url}/v1/certificates/{ca_id}"),
        &other,
        None,
    );
    assert_eq!(status, 404);

    // Optional: a client without a certificate is served, a stranger's is not.
    let updated = weir_json(
        url,
        &token,
        &[
            "listener",
            "update",
            &listener_id,
            "--client-auth",
            "optional",
        ],
    );
    assert_eq!(updated["client_authentication"], "optional", "{updated}");
    until(
        "optional serves a client without a certificate",
        || get(front, &site_ca, None),
        true,
    );
    assert!(get(front, &site_ca, Some(&alice)).is_ok());
    assert!(
        get(front, &site_ca, Some(&mallory)).is_err(),
        "served a stranger's certificate"
    );

    // A PATCH naming another project's CA changes nothing.
    let (status, body) = request(
        "PATCH",
        &format!("{url}/v1/listeners/{listener_id}"),
        &token,
        Some(json!({"client_ca_certificate_id": theirs})),
    );
    assert_eq!(status, 404, "{body}");
    let (_, shown) = request(
        "GET",
        &format!("{url}/v1/listeners/{listener_id}"),
        &token,
        None,
    );
    assert_eq!(shown["client_ca_certificate_id"], json!(ca_id));

    // Off: the CA lets go and can be deleted.
    let off = weir_json(
        url,
        &token,
        &["listener", "update", &listener_id, "--no-client-ca"],
    );
    assert!(off.get("client_authentication").is_none(), "{off}");
    assert!(get(front, &site_ca, None).is_ok());
    let (ok, _, err) = weir(url, &token, &["cert", "delete", &ca_id]);
    assert!(ok, "{err}");
}
