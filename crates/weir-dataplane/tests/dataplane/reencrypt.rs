//! Re-encryption: pools that dial their members over TLS, through real
//! sockets. Members are loopback TLS servers with a certificate issued by
//! a test CA for `member.test` (not their address: Weir, like Octavia,
//! checks the chain and never the name); they speak HTTP/1.1 with
//! keep-alive and count their handshakes, so reuse is observable.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{CheckKind, HealthCheck, Protocol, Scheduler};
use weir_core::status::BackendState;
use weir_core::topology::{PoolTls, Topology};
use weir_core::upstream_tls::{UpstreamMaterial, UpstreamTls};

use crate::support::*;

/// A CA: its certificate (PEM) and what signs with it.
pub(crate) struct Ca {
    pub(crate) pem: String,
    pub(crate) cert: rcgen::Certificate,
    pub(crate) key: rcgen::KeyPair,
}

pub(crate) fn ca() -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        cert,
        key,
    }
}

/// A TLS member whose certificate `issuer` signed; it answers every
/// request `200 over-tls` on a kept-alive connection. Returns its
/// address and the count of handshakes it completed.
async fn tls_member(issuer: &Ca) -> (SocketAddr, Arc<AtomicU32>) {
    let params = rcgen::CertificateParams::new(vec!["member.test".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(weir_tls::crypto::provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der_key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicU32::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = tls.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nover-tls";
                        if tls.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, handshakes)
}

/// `topology` with its pool dialling members over TLS, verifying against
/// `ca_pem` when given.
fn reencrypting(topology: Arc<Topology>, ca_pem: Option<&str>) -> Arc<Topology> {
    let mut t = (*topology).clone();
    for pool in t.pools.values_mut() {
        let mut spec = (**pool).clone();
        spec.tls = Some(Arc::new(PoolTls::Dial {
            settings: UpstreamTls::default(),
            material: UpstreamMaterial {
                ca_pem: ca_pem.map(Arc::from),
                ..UpstreamMaterial::default()
            },
        }));
        *pool = Arc::new(spec);
    }
    Arc::new(t)
}

/// One request on an open client connection: the status and body.
pub(crate) async fn request(conn: &mut TcpStream) -> (u16, String) {
    conn.write_all(b"GET /x HTTP/1.1\r\nHost: lb.test\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if body.len() >= length {
            let status = head[9..12].parse().unwrap();
            return (status, body[..length].to_owned());
        }
    }
}

pub(crate) fn http_check() -> HealthCheck {
    HealthCheck {
        kind: CheckKind::Http {
            path: "/health".into(),
            expected: vec![(200, 299)],
            request: Default::default(),
        },
        interval_ms: 50,
        timeout_ms: 2000,
        rise: 1,
        fall: 1,
        port: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_pool_reaches_its_member_over_tls_and_reuses_the_session() {
    let issuer = ca();
    let (member, handshakes) = tls_member(&issuer).await;
    let dp = dataplane();
    let vip = vip();
    let plain = topology(
        1,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("m", member, 1)],
        None,
        1000,
    );
    dp.apply(reencrypting(plain, None));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    for _ in 0..3 {
        assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    }
    // Three requests, one handshake: the idle TLS connection is reused.
    assert_eq!(handshakes.load(Ordering::Relaxed), 1);
    assert_eq!(metric(&dp, "weir_backend_tls_failures_total", "m"), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_pool_does_not_speak_tls_to_a_tls_member() {
    // The control: without re-encryption the same member cannot be
    // reached, so the test above proves the TLS leg.
    let issuer = ca();
    let (member, handshakes) = tls_member(&issuer).await;
    let dp = dataplane();
    let vip = vip();
    dp.apply(topology(
        1,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("m", member, 1)],
        None,
        1000,
    ));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    let (status, _) = request(&mut conn).await;
    assert_eq!(status, 502);
    assert_eq!(handshakes.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_did_not_sign_the_member_fails_requests_and_checks() {
    let (issuer, stranger) = (ca(), ca());
    let (member, handshakes) = tls_member(&issuer).await;
    let dp = dataplane();
    let vip = vip();
    let top = |check| {
        topology(
            1,
            vip,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("m", member, 1)],
            check,
            1000,
        )
    };
    // Without a check, traffic meets the refusal: 502, counted.
    dp.apply(reencrypting(top(None), Some(&stranger.pem)));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await.0, 502);
    assert!(metric(&dp, "weir_backend_tls_failures_total", "m").unwrap() >= 1);
    assert_eq!(handshakes.load(Ordering::Relaxed), 0);
    // With an HTTP check, the check runs over the pool's TLS and fails.
    dp.apply(reencrypting(top(Some(http_check())), Some(&stranger.pem)));
    assert!(
        eventually(Duration::from_secs(5), async || {
            dp.backend_live(&"m".into()).map(|l| l.state) == Some(BackendState::Unhealthy)
        })
        .await
    );
    assert_eq!(handshakes.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_ca_passes_requests_and_checks() {
    let issuer = ca();
    let (member, handshakes) = tls_member(&issuer).await;
    let dp = dataplane();
    let vip = vip();
    dp.apply(reencrypting(
        topology(
            1,
            vip,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("m", member, 1)],
            Some(http_check()),
            1000,
        ),
        Some(&issuer.pem),
    ));
    assert!(
        eventually(Duration::from_secs(5), async || {
            dp.backend_live(&"m".into()).map(|l| l.state) == Some(BackendState::Healthy)
        })
        .await
    );
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    assert!(
        handshakes.load(Ordering::Relaxed) >= 2,
        "checks and traffic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_pool_relays_over_tls() {
    let issuer = ca();
    let (member, handshakes) = tls_member(&issuer).await;
    let dp = dataplane();
    let vip = vip();
    dp.apply(reencrypting(
        topology(
            1,
            vip,
            Protocol::Tcp,
            Scheduler::Wrr,
            vec![backend("m", member, 1)],
            None,
            1000,
        ),
        Some(&issuer.pem),
    ));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    assert_eq!(handshakes.load(Ordering::Relaxed), 1);
    // A stranger CA: the relay closes the client instead of sending its
    // bytes in the clear or to an unverified member.
    let stranger = ca();
    dp.apply(reencrypting(
        topology(
            2,
            vip,
            Protocol::Tcp,
            Scheduler::Wrr,
            vec![backend("m", member, 1)],
            None,
            1000,
        ),
        Some(&stranger.pem),
    ));
    let mut refused = TcpStream::connect(vip).await.unwrap();
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut byte))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert_eq!(handshakes.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_ca_never_reuses_a_connection_made_under_the_old_one() {
    let issuer = ca();
    let (member, handshakes) = tls_member(&issuer).await;
    let dp = dataplane();
    let vip = vip();
    let top = |revision| {
        topology(
            revision,
            vip,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("m", member, 1)],
            None,
            1000,
        )
    };
    dp.apply(reencrypting(top(1), None));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await.0, 200);
    assert_eq!(handshakes.load(Ordering::Relaxed), 1);
    // Verifying now: the idle connection made without verification is
    // dropped, and the next request verifies on a new handshake.
    dp.apply(reencrypting(top(2), Some(&issuer.pem)));
    assert_eq!(request(&mut conn).await.0, 200);
    assert_eq!(handshakes.load(Ordering::Relaxed), 2);
    // And a stranger CA refuses the member even with a connection idle.
    let stranger = ca();
    dp.apply(reencrypting(top(3), Some(&stranger.pem)));
    assert_eq!(request(&mut conn).await.0, 502);
    assert_eq!(handshakes.load(Ordering::Relaxed), 2);
}
