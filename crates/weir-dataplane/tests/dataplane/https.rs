//! HTTPS listeners through real sockets: a rustls client that trusts a
//! test CA (made by rcgen) handshakes with the listener, which picks its
//! certificate by SNI and serves the HTTP engine behind TLS; rotation,
//! resumption, refusals of what is not TLS, and the handshake timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use weir_core::model::{Protocol, Scheduler};
use weir_core::status::ListenerLive;
use weir_core::topology::{CertificateMaterial, ListenerTls};

use crate::http::http_backend;
use crate::support::*;

/// A test CA and the certificates it signs.
pub(crate) struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A leaf: its DER (to compare with what a client is shown) and material.
pub(crate) struct Leaf {
    der: CertificateDer<'static>,
    material: CertificateMaterial,
}

impl Ca {
    pub(crate) fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "weir test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    pub(crate) fn leaf(&self, id: &str, names: &[&str]) -> Leaf {
        let params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            der: cert.der().clone(),
            material: CertificateMaterial {
                id: id.into(),
                chain_pem: cert.pem().into(),
                key_pem: key.serialize_pem().into(),
                domains: Vec::new(),
            },
        }
    }

    /// Roots holding this CA.
    pub(crate) fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }

    /// A client that verifies against this CA, offering `alpn`.
    pub(crate) fn client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(weir_tls::crypto::provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A client that speaks only `version`.
    fn client_version(
        &self,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(weir_tls::crypto::provider()))
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

/// A client that accepts any certificate (after checking nothing): to see
/// which one a name that no certificate holds is given.
fn trusting_client() -> Arc<rustls::ClientConfig> {
    #[derive(Debug)]
    struct Anything(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for Anything {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = weir_tls::crypto::shared_provider();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Anything(provider)))
            .with_no_client_auth(),
    )
}

/// An HTTPS listener on `vip` serving `certs` in front of one backend.
pub(crate) fn https_topology(
    revision: u64,
    vip: SocketAddr,
    backend_addr: SocketAddr,
    certs: &[&Leaf],
) -> Arc<weir_core::topology::Topology> {
    let t = topology(
        revision,
        vip,
        Protocol::Https,
        Scheduler::Wrr,
        vec![backend("b", backend_addr, 1)],
        None,
        1000,
    );
    let material: Vec<CertificateMaterial> = certs.iter().map(|l| l.material.clone()).collect();
    with_listener(t, move |l| {
        l.tls = Some(Arc::new(ListenerTls::Serve(material.clone())));
    })
}

pub(crate) async fn connect(
    vip: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    sni: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(vip).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// The leaf the server presented.
fn presented(tls: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// Sends a GET and reads one response (Content-Length framed): the head
/// and the body.
async fn get<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut S) -> (String, String) {
    get_with(conn, "").await
}

/// [`get`] with more header lines (each ending in CRLF).
async fn get_with<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut S,
    extra: &str,
) -> (String, String) {
    let request = format!("GET / HTTP/1.1\r\nHost: app.test\r\n{extra}\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                    return (head, body);
                }
            }
            let n = conn.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before a whole response");
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("a response in time")
}

pub(crate) async fn bound(dp: &weir_dataplane::DataPlane) {
    assert!(
        eventually(Duration::from_secs(3), async || {
            dp.listener_live(&"listener".into()) == Some(ListenerLive::Active)
        })
        .await,
        "listener not active: {:?}",
        dp.listener_live(&"listener".into())
    );
}

#[tokio::test]
async fn a_request_over_tls_reaches_the_backend_as_https() {
    let ca = Ca::new();
    let site = ca.leaf("c1", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("tls-backend").await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;

    // A client offering only http/1.1 gets it (h2 is `h2.rs`'s).
    let mut tls = connect(vip, ca.client(&[b"http/1.1"]), "app.test")
        .await
        .unwrap();
    assert_eq!(presented(&tls), site.der);
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    for _ in 0..3 {
        let (head, body) = get(&mut tls).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "tls-backend");
        assert!(
            head.to_ascii_lowercase()
                .contains("x-seen-forwarded-proto: https"),
            "{head}"
        );
    }

    // Both protocol versions are served.
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut tls = connect(vip, ca.client_version(version), "app.test")
            .await
            .unwrap();
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(version.version),
            "{version:?}"
        );
        let (head, _) = get(&mut tls).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    assert_eq!(
        listener_metric(&dp, "weir_listener_tls_handshake_failures_total"),
        Some(0)
    );
}

/// An idle connection holds a small read buffer (`IDLE_READ`, 4 KiB): a
/// head several times longer still arrives whole, in one write or split
/// across the buffer's edge, on a fresh connection and after an idle
/// pause on a kept-alive one.
#[tokio::test]
async fn heads_longer_than_the_idle_buffer_are_read_whole() {
    let ca = Ca::new();
    let site = ca.leaf("c1", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("tls-backend").await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;

    let pad = format!("X-Pad: {}\r\n", "p".repeat(12 * 1024));
    let mut tls = connect(vip, ca.client(&[b"http/1.1"]), "app.test")
        .await
        .unwrap();
    for round in 0..3 {
        // Before round 1 the client stays silent past the idle grace
        // (1 s): the long head then arrives into the released buffers.
        if round == 1 {
            tokio::time::sleep(Duration::from_millis(1_200)).await;
        }
        let (head, body) = get_with(&mut tls, &pad).await;
        assert!(head.starts_with("HTTP/1.1 200"), "round {round}: {head}");
        assert_eq!(body, "tls-backend");
        // A short pause: the listener waits with its buffers kept.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (head, _) = get(&mut tls).await;
        assert!(head.starts_with("HTTP/1.1 200"), "round {round}: {head}");
    }
    // The same head written in small pieces, crossing 4 KiB on a
    // boundary the server cannot predict.
    let request = format!("GET / HTTP/1.1\r\nHost: app.test\r\n{pad}\r\n");
    for piece in request.as_bytes().chunks(1000) {
        tls.write_all(piece).await.unwrap();
        tls.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !reply.windows(11).any(|w| w == b"tls-backend") {
        let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before a whole response");
        reply.extend_from_slice(&chunk[..n]);
    }
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[tokio::test]
async fn the_listener_picks_aes_128_gcm_over_a_client_asking_aes_256_first() {
    let ca = Ca::new();
    let site = ca.leaf("c1", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("b").await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).unwrap();
    let mut provider = weir_tls::crypto::provider();
    // OpenSSL's own client order: AES-256 first.
    provider.cipher_suites = vec![
        rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_256_GCM_SHA384,
        rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ];
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tls = connect(vip, Arc::new(client), "app.test").await.unwrap();
    let suite = tls.get_ref().1.negotiated_cipher_suite().unwrap().suite();
    assert_eq!(suite, rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    let (head, _) = get(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn sni_picks_the_exact_name_then_the_wildcard_then_the_first() {
    let ca = Ca::new();
    let default = ca.leaf("default", &["default.test"]);
    let wild = ca.leaf("wild", &["*.shop.test"]);
    let exact = ca.leaf("exact", &["checkout.shop.test", "api.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("b").await;
    dp.apply(https_topology(1, vip, b, &[&default, &wild, &exact]));
    bound(&dp).await;

    let verified = ca.client(&[]);
    for (sni, want) in [
        ("default.test", &default),
        ("checkout.shop.test", &exact),
        ("api.test", &exact),
        ("API.Test", &exact),
        ("cart.shop.test", &wild),
    ] {
        let mut tls = connect(vip, verified.clone(), sni).await.unwrap();
        assert_eq!(presented(&tls), want.der, "{sni}");
        let (head, _) = get(&mut tls).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{sni}: {head}");
    }
    // Names no certificate holds, or more than one label under a
    // wildcard, get the first certificate (which the client then
    // rejects, unless it trusts anything).
    for sni in ["other.test", "a.b.shop.test", "shop.test"] {
        let tls = connect(vip, trusting_client(), sni).await.unwrap();
        assert_eq!(presented(&tls), default.der, "{sni}");
        assert!(
            connect(vip, verified.clone(), sni).await.is_err(),
            "{sni} must not verify"
        );
    }
}

#[tokio::test]
async fn rotation_serves_new_handshakes_and_keeps_open_connections() {
    let ca = Ca::new();
    let old = ca.leaf("old", &["app.test"]);
    let new = ca.leaf("new", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("b").await;
    dp.apply(https_topology(1, vip, b, &[&old]));
    bound(&dp).await;

    let client = ca.client(&[]);
    let mut open = connect(vip, client.clone(), "app.test").await.unwrap();
    assert_eq!(presented(&open), old.der);
    assert!(get(&mut open).await.0.starts_with("HTTP/1.1 200"));

    dp.apply(https_topology(2, vip, b, &[&new]));
    // A fresh client (no session to resume) sees the new certificate.
    let fresh = connect(vip, ca.client(&[]), "app.test").await.unwrap();
    assert_eq!(presented(&fresh), new.der);
    // The connection opened before the rotation carries on.
    for _ in 0..3 {
        let (head, body) = get(&mut open).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "b");
    }
    assert_eq!(
        dp.listener_live(&"listener".into()),
        Some(ListenerLive::Active)
    );
}

#[tokio::test]
async fn sessions_resume() {
    let ca = Ca::new();
    let site = ca.leaf("c", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("b").await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        // One client config keeps its session cache across connections.
        let client = ca.client_version(version);
        let mut first = connect(vip, client.clone(), "app.test").await.unwrap();
        // TLS 1.3 tickets arrive after the handshake: a request reads them.
        assert!(get(&mut first).await.0.starts_with("HTTP/1.1 200"));
        assert_eq!(
            first.get_ref().1.handshake_kind(),
            Some(rustls::HandshakeKind::Full)
        );
        let mut second = connect(vip, client, "app.test").await.unwrap();
        assert_eq!(
            second.get_ref().1.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed),
            "{version:?}"
        );
        assert!(get(&mut second).await.0.starts_with("HTTP/1.1 200"));
    }
}

#[tokio::test]
async fn plain_http_and_garbage_are_closed_and_counted() {
    let ca = Ca::new();
    let site = ca.leaf("c", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("b").await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;
    for bytes in [
        &b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"[..],
        &b"\x16\x03\x01\xff\xff garbage that claims a huge record"[..],
        &[0u8; 64][..],
    ] {
        let mut conn = TcpStream::connect(vip).await.unwrap();
        conn.write_all(bytes).await.unwrap();
        let mut buf = [0u8; 1024];
        // Whatever comes back (a TLS alert at most) is not HTTP, and
        // then the connection ends.
        let closed = tokio::time::timeout(Duration::from_secs(12), async {
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(n) => assert!(!buf[..n].starts_with(b"HTTP/"), "answered in clear"),
                }
            }
        })
        .await;
        assert_eq!(closed, Ok(true));
    }
    assert!(
        eventually(Duration::from_secs(2), async || {
            listener_metric(&dp, "weir_listener_tls_handshake_failures_total") == Some(3)
        })
        .await,
        "{:?}",
        listener_metric(&dp, "weir_listener_tls_handshake_failures_total")
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_closed() {
    let ca = Ca::new();
    let site = ca.leaf("c", &["app.test"]);
    let dp = dataplane_with(|c| c.http.head_timeout = Duration::from_millis(300));
    let vip = vip();
    let b = http_backend("b").await;
    dp.apply(https_topology(1, vip, b, &[&site]));
    bound(&dp).await;
    let mut silent = TcpStream::connect(vip).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 16];
    let end = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(matches!(end, Ok(Ok(0)) | Ok(Err(_))), "{end:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        listener_metric(&dp, "weir_listener_tls_handshake_failures_total"),
        Some(1)
    );
}

#[tokio::test]
async fn a_listener_without_servable_certificates_serves_nothing() {
    let ca = Ca::new();
    let site = ca.leaf("c", &["app.test"]);
    let dp = dataplane();
    let vip = vip();
    let b = http_backend("b").await;
    let unavailable = |t| {
        with_listener(t, |l| {
            l.tls = Some(Arc::new(ListenerTls::Unavailable(
                "the private key of certificate c does not open".into(),
            )))
        })
    };
    dp.apply(unavailable(https_topology(1, vip, b, &[&site])));
    assert!(matches!(
        dp.listener_live(&"listener".into()),
        Some(ListenerLive::Error(reason)) if reason.contains("does not open")
    ));
    assert!(TcpStream::connect(vip).await.is_err(), "nothing bound");

    // Once servable it binds (the bind retry); then a key that stops
    // opening takes it down again rather than serving without TLS.
    dp.apply(https_topology(2, vip, b, &[&site]));
    bound(&dp).await;
    assert!(connect(vip, ca.client(&[]), "app.test").await.is_ok());
    dp.apply(unavailable(https_topology(3, vip, b, &[&site])));
    assert!(matches!(
        dp.listener_live(&"listener".into()),
        Some(ListenerLive::Error(_))
    ));
    assert!(
        eventually(Duration::from_secs(2), async || TcpStream::connect(vip)
            .await
            .is_err())
        .await
    );
    // Garbage in place of a key is refused the same way.
    let mut broken = site.material.clone();
    broken.key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
    let t = with_listener(https_topology(4, vip, b, &[&site]), move |l| {
        l.tls = Some(Arc::new(ListenerTls::Serve(vec![broken.clone()])))
    });
    dp.apply(t);
    assert!(matches!(
        dp.listener_live(&"listener".into()),
        Some(ListenerLive::Error(_))
    ));
}
