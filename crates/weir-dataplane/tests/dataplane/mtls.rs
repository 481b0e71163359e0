//! Client-certificate verification (mTLS) on HTTPS listeners through real
//! sockets: a client whose certificate the listener's CA signed reaches
//! the backend; one without a certificate is refused under MANDATORY and
//! served under OPTIONAL; one signed by another CA, or revoked by the
//! CRL, is refused; a new CA applies to new handshakes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use weir_core::client_auth::ClientVerify;

use crate::http::http_backend;
use crate::https::{bound, https_topology, Ca};
use crate::support::*;

/// A client CA: signs client certificates and CRLs.
struct ClientCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A client's certificate and key.
struct ClientCert {
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl ClientCa {
    fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    fn pem(&self) -> Arc<str> {
        self.cert.pem().into()
    }

    fn client(&self, serial: u64) -> ClientCert {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("client {serial}"));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        ClientCert {
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A CRL revoking `serials`.
    fn crl(&self, serials: &[u64]) -> Arc<str> {
        let params = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(*s),
                    revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.cert, &self.key)
            .unwrap()
            .pem()
            .unwrap()
            .into()
    }
}

/// A client trusting the listener's server CA, presenting `cert` if any.
fn client(server_ca: &Ca, cert: Option<&ClientCert>) -> Arc<rustls::ClientConfig> {
    let builder =
        rustls::ClientConfig::builder_with_provider(Arc::new(weir_tls::crypto::provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(server_ca.roots());
    Arc::new(match cert {
        Some(c) => builder
            .with_client_auth_cert(
                vec![c.der.clone()],
                PrivateKeyDer::try_from(c.key_der.clone()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    })
}

/// One GET over a new connection: the backend's body, or why none came
/// (the handshake failed, or, in TLS 1.3, the server's alert after it).
async fn request(vip: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<String, String> {
    let attempt = async {
        let tcp = TcpStream::connect(vip).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from("app.test").unwrap();
        let mut tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tls.write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        match tls.read_to_end(&mut buf).await {
            Ok(_) => {}
            // The response may have come whole before an unclean close.
            Err(e) if buf.is_empty() => return Err(format!("read: {e}")),
            Err(_) => {}
        }
        let text = String::from_utf8_lossy(&buf).to_string();
        match text.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_owned()),
            _ => Err(format!("no response: {text:?}")),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

fn verifying(
    vip: SocketAddr,
    backend: SocketAddr,
    site: &crate::https::Leaf,
    verify: ClientVerify,
    revision: u64,
) -> Arc<weir_core::topology::Topology> {
    let verify = Arc::new(verify);
    with_listener(https_topology(revision, vip, backend, &[site]), move |l| {
        l.client_verify = Some(verify.clone());
    })
}

#[tokio::test]
async fn mandatory_serves_only_clients_the_ca_signed() {
    let server_ca = Ca::new();
    let site = server_ca.leaf("c1", &["app.test"]);
    let clients = ClientCa::new("tenant client CA");
    let stranger = ClientCa::new("another CA");
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("mtls-backend").await;
    let verify = ClientVerify {
        mandatory: true,
        ca_pem: clients.pem(),
        crl_pem: None,
    };
    dp.apply(verifying(vip, b, &site, verify, 1));
    bound(&dp).await;

    let good = clients.client(10);
    assert_eq!(
        request(vip, client(&server_ca, Some(&good))).await,
        Ok("mtls-backend".to_owned())
    );
    let none = request(vip, client(&server_ca, None)).await;
    assert!(none.is_err(), "no certificate was served: {none:?}");
    let foreign = request(vip, client(&server_ca, Some(&stranger.client(10)))).await;
    assert!(
        foreign.is_err(),
        "another CA's client was served: {foreign:?}"
    );

    // Rotation: the stranger's CA replaces the tenant's; new handshakes
    // follow it.
    let verify = ClientVerify {
        mandatory: true,
        ca_pem: stranger.pem(),
        crl_pem: None,
    };
    dp.apply(verifying(vip, b, &site, verify, 2));
    let mut served = None;
    for _ in 0..50 {
        if request(vip, client(&server_ca, Some(&stranger.client(11))))
            .await
            .is_ok()
        {
            served = Some(());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served.is_some(), "the new CA never applied");
    let old = request(vip, client(&server_ca, Some(&good))).await;
    assert!(old.is_err(), "the old CA's client still served: {old:?}");
}

#[tokio::test]
async fn optional_serves_clients_without_a_certificate_but_not_foreign_ones() {
    let server_ca = Ca::new();
    let site = server_ca.leaf("c1", &["app.test"]);
    let clients = ClientCa::new("tenant client CA");
    let stranger = ClientCa::new("another CA");
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("optional").await;
    let verify = ClientVerify {
        mandatory: false,
        ca_pem: clients.pem(),
        crl_pem: None,
    };
    dp.apply(verifying(vip, b, &site, verify, 1));
    bound(&dp).await;

    assert_eq!(
        request(vip, client(&server_ca, None)).await,
        Ok("optional".to_owned())
    );
    assert_eq!(
        request(vip, client(&server_ca, Some(&clients.client(1)))).await,
        Ok("optional".to_owned())
    );
    let foreign = request(vip, client(&server_ca, Some(&stranger.client(1)))).await;
    assert!(
        foreign.is_err(),
        "another CA's client was served: {foreign:?}"
    );
}

#[tokio::test]
async fn a_revoked_client_is_refused() {
    let server_ca = Ca::new();
    let site = server_ca.leaf("c1", &["app.test"]);
    let clients = ClientCa::new("tenant client CA");
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("crl").await;
    let verify = ClientVerify {
        mandatory: true,
        ca_pem: clients.pem(),
        crl_pem: Some(clients.crl(&[66])),
    };
    dp.apply(verifying(vip, b, &site, verify, 1));
    bound(&dp).await;

    assert_eq!(
        request(vip, client(&server_ca, Some(&clients.client(65)))).await,
        Ok("crl".to_owned())
    );
    let revoked = request(vip, client(&server_ca, Some(&clients.client(66)))).await;
    assert!(revoked.is_err(), "a revoked client was served: {revoked:?}");
}

#[tokio::test]
async fn a_crl_another_ca_signed_leaves_the_listener_unserved() {
    let server_ca = Ca::new();
    let site = server_ca.leaf("c1", &["app.test"]);
    let clients = ClientCa::new("tenant client CA");
    let stranger = ClientCa::new("another CA");
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("crl").await;
    let verify = ClientVerify {
        mandatory: true,
        ca_pem: clients.pem(),
        crl_pem: Some(stranger.crl(&[])),
    };
    dp.apply(verifying(vip, b, &site, verify, 1));
    assert!(
        eventually(Duration::from_secs(3), async || {
            matches!(
                dp.listener_live(&"listener".into()),
                Some(weir_core::status::ListenerLive::Error(_))
            )
        })
        .await,
        "{:?}",
        dp.listener_live(&"listener".into())
    );
    let refused = request(vip, client(&server_ca, Some(&clients.client(1)))).await;
    assert!(refused.is_err(), "{refused:?}");
}

/// A backend that answers each request with its head as received (the
/// body), so a test reads exactly the fields Weir sent.
async fn head_echo_backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = seen.drain(..end + 4).collect();
                        let mut answer =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", head.len())
                                .into_bytes();
                        answer.extend_from_slice(&head);
                        if stream.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// One GET with `extra` header lines over a new connection: the head the
/// backend received, its field names lower-cased.
async fn forwarded_head(
    vip: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    extra: &str,
) -> Vec<(String, String)> {
    let tcp = TcpStream::connect(vip).await.unwrap();
    let name = ServerName::try_from("app.test").unwrap();
    let mut tls = TlsConnector::from(config).connect(name, tcp).await.unwrap();
    let req = format!("GET / HTTP/1.1\r\nHost: app.test\r\n{extra}Connection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    body.lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect()
}

fn field<'a>(head: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let mut found = head.iter().filter(|(n, _)| *n == name);
    let first = found.next().map(|(_, v)| v.as_str());
    assert!(found.next().is_none(), "{name} twice: {head:?}");
    first
}

const FORGED: &str = "X-SSL-Client-Verify: 0\r\nX-SSL-Client-DN: /CN=admin\r\n\
                      x-ssl-client-has-cert: true\r\nX-SSL-Whatever: 1\r\n";

#[tokio::test]
async fn client_certificate_headers_are_weirs_and_never_the_clients() {
    use weir_core::model::ClientCertHeaders;
    let server_ca = Ca::new();
    let site = server_ca.leaf("c1", &["app.test"]);
    let clients = ClientCa::new("tenant client CA");
    let dp = dataplane();
    let vip = vip();
    let backend = head_echo_backend().await;
    let verify = ClientVerify {
        mandatory: false,
        ca_pem: clients.pem(),
        crl_pem: None,
    };
    let all = (0..8).fold(ClientCertHeaders::NONE, |h, i| h.with(i, true));
    let with_headers = |h: ClientCertHeaders, revision| {
        with_listener(
            verifying(vip, backend, &site, verify.clone(), revision),
            move |l| {
                l.forwarded_headers.client_cert = h;
            },
        )
    };
    dp.apply(with_headers(all, 1));
    bound(&dp).await;

    // A client with a certificate the CA signed: every header, Octavia's
    // formats, and none of the client's own X-SSL-* fields.
    let cert = clients.client(5);
    let head = forwarded_head(vip, client(&server_ca, Some(&cert)), FORGED).await;
    assert_eq!(field(&head, "X-SSL-Client-Verify"), Some("0"));
    assert_eq!(field(&head, "X-SSL-Client-Has-Cert"), Some("true"));
    assert_eq!(field(&head, "X-SSL-Client-DN"), Some("\"/CN=client 5\""));
    assert_eq!(field(&head, "X-SSL-Client-CN"), Some("\"client 5\""));
    assert_eq!(
        field(&head, "X-SSL-Issuer"),
        Some("\"/CN=tenant client CA\"")
    );
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der);
    let hex: String = sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        field(&head, "X-SSL-Client-SHA1"),
        Some(format!("\"{hex}\"").as_str())
    );
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert.der).unwrap();
    // UTCTime's two-digit years before 2050, GeneralizedTime's four
    // after (rcgen's default end is 4096).
    let stamp = |t: x509_parser::time::ASN1Time| {
        let d = t.to_datetime();
        let year = if d.year() < 2050 {
            format!("{:02}", d.year() % 100)
        } else {
            d.year().to_string()
        };
        format!(
            "\"{year}{:02}{:02}{:02}{:02}{:02}Z\"",
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )
    };
    assert_eq!(
        field(&head, "X-SSL-Client-Not-Before"),
        Some(stamp(parsed.validity().not_before).as_str())
    );
    assert_eq!(
        field(&head, "X-SSL-Client-Not-After"),
        Some(stamp(parsed.validity().not_after).as_str())
    );
    assert!(field(&head, "X-SSL-Whatever").is_none(), "{head:?}");

    // Without a certificate (OPTIONAL): no certificate facts, and still
    // none of the forged ones.
    let head = forwarded_head(vip, client(&server_ca, None), FORGED).await;
    assert_eq!(field(&head, "X-SSL-Client-Verify"), Some("0"));
    assert_eq!(field(&head, "X-SSL-Client-Has-Cert"), Some("false"));
    for name in ["X-SSL-Client-DN", "X-SSL-Client-CN", "X-SSL-Whatever"] {
        assert!(field(&head, name).is_none(), "{name}: {head:?}");
    }

    // Headers off: the client's claims are dropped all the same.
    dp.apply(with_headers(ClientCertHeaders::NONE, 2));
    let head = forwarded_head(vip, client(&server_ca, Some(&cert)), FORGED).await;
    assert!(
        head.iter().all(|(n, _)| !n.starts_with("x-ssl-")),
        "{head:?}"
    );
    // Only the ones asked for.
    let two = ClientCertHeaders::NONE.with(1, true).with(3, true);
    dp.apply(with_headers(two, 3));
    let head = forwarded_head(vip, client(&server_ca, Some(&cert)), FORGED).await;
    let ssl: Vec<&str> = head
        .iter()
        .filter(|(n, _)| n.starts_with("x-ssl-"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(ssl, ["x-ssl-client-has-cert", "x-ssl-client-cn"]);
}
