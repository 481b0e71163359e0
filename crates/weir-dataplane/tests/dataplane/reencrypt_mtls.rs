//! Re-encryption with a client certificate, CRLs and a server name,
//! through real sockets: members are loopback TLS servers that require a
//! client certificate signed by their own client CA (as a backend behind
//! Octavia's `tls_container_ref` does), record the SNI they were sent,
//! and answer `200 over-tls`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{Protocol, Scheduler};
use weir_core::status::BackendState;
use weir_core::topology::{PoolTls, Topology};
use weir_core::upstream_tls::{ClientCertificate, UpstreamMaterial, UpstreamTls};

use crate::reencrypt::{ca, http_check, request, Ca};
use crate::support::*;

/// A member: its address, its handshake count, and the SNI of the last
/// handshake (`None`: none sent).
struct Member {
    addr: SocketAddr,
    handshakes: Arc<AtomicU32>,
    sni: Arc<Mutex<Option<String>>>,
}

/// A member whose certificate (`member.test`, serial `serial`) `issuer`
/// signed and which requires a client certificate `clients` signed.
async fn member(issuer: &Ca, serial: u64, clients: &Ca) -> Member {
    let mut params = rcgen::CertificateParams::new(vec!["member.test".to_owned()]).unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    let der_key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = weir_tls::crypto::shared_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(clients.cert.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert.der().clone()], der_key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicU32::new(0));
    let sni = Arc::new(Mutex::new(None));
    let (counted, seen_sni) = (handshakes.clone(), sni.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, counted, seen_sni) =
                (acceptor.clone(), counted.clone(), seen_sni.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::Relaxed);
                *seen_sni.lock().unwrap() = tls.get_ref().1.server_name().map(str::to_owned);
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
    Member {
        addr,
        handshakes,
        sni,
    }
}

/// A client certificate `issuer` signed, as the pool presents it.
fn client_certificate(issuer: &Ca) -> ClientCertificate {
    let mut params = rcgen::CertificateParams::new(vec!["weir-pool.test".to_owned()]).unwrap();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    ClientCertificate {
        chain_pem: cert.pem().into(),
        key_pem: key.serialize_pem().into(),
    }
}

/// A CRL of `issuer` revoking `serials`.
fn crl(issuer: &Ca, serials: &[u64]) -> String {
    rcgen::CertificateRevocationListParams {
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
    }
    .signed_by(&issuer.cert, &issuer.key)
    .unwrap()
    .pem()
    .unwrap()
}

/// `topology` with its pool dialling over TLS as `settings` and
/// `material` say.
fn dialling(
    topology: Arc<Topology>,
    settings: UpstreamTls,
    material: UpstreamMaterial,
) -> Arc<Topology> {
    let mut t = (*topology).clone();
    for pool in t.pools.values_mut() {
        let mut spec = (**pool).clone();
        spec.tls = Some(Arc::new(PoolTls::Dial {
            settings: settings.clone(),
            material: material.clone(),
        }));
        *pool = Arc::new(spec);
    }
    Arc::new(t)
}

fn http_pool(revision: u64, vip: SocketAddr, member: SocketAddr, checked: bool) -> Arc<Topology> {
    topology(
        revision,
        vip,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("m", member, 1)],
        checked.then(http_check),
        1000,
    )
}

/// A fresh data plane serving an HTTP pool of `member` dialled as
/// `settings` and `material` say, with an HTTP check if `checked` (each
/// phase of a test gets its own, so one phase's passive failures never
/// colour the next one's health).
fn serving(
    member: SocketAddr,
    checked: bool,
    settings: UpstreamTls,
    material: UpstreamMaterial,
) -> (weir_dataplane::DataPlane, SocketAddr) {
    let dp = dataplane();
    let vip = vip();
    dp.apply(dialling(
        http_pool(1, vip, member, checked),
        settings,
        material,
    ));
    (dp, vip)
}

async fn settles(dp: &weir_dataplane::DataPlane, state: BackendState) -> bool {
    eventually(Duration::from_secs(5), async || {
        dp.backend_live(&"m".into()).map(|l| l.state) == Some(state)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_requires_a_client_certificate_gets_the_pools() {
    let (issuer, clients) = (ca(), ca());
    let m = member(&issuer, 7, &clients).await;
    // Without a certificate the member refuses the handshake: the HTTP
    // check (over the pool's TLS) marks it down, and traffic gets 502.
    let none = || (UpstreamTls::default(), UpstreamMaterial::default());
    let (dp, _) = serving(m.addr, true, none().0, none().1);
    assert!(settles(&dp, BackendState::Unhealthy).await);
    let (_dp, vip) = serving(m.addr, false, none().0, none().1);
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await.0, 502);
    assert_eq!(m.handshakes.load(Ordering::Relaxed), 0);
    // A certificate another CA signed is refused the same way.
    let stranger = UpstreamMaterial {
        client: Some(client_certificate(&ca())),
        ..UpstreamMaterial::default()
    };
    let (_dp, vip) = serving(m.addr, false, UpstreamTls::default(), stranger);
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await.0, 502);
    assert_eq!(m.handshakes.load(Ordering::Relaxed), 0);
    // The pool's certificate, with the member verified against its CA:
    // requests and the check pass.
    let mine = UpstreamMaterial {
        ca_pem: Some(issuer.pem.as_str().into()),
        client: Some(client_certificate(&clients)),
        ..UpstreamMaterial::default()
    };
    let (dp, vip) = serving(m.addr, true, UpstreamTls::default(), mine);
    assert!(settles(&dp, BackendState::Healthy).await);
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    assert!(
        m.handshakes.load(Ordering::Relaxed) >= 2,
        "check and traffic"
    );
    // Members are named by address: no SNI.
    assert_eq!(*m.sni.lock().unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_pool_presents_its_certificate_too() {
    let (issuer, clients) = (ca(), ca());
    let m = member(&issuer, 8, &clients).await;
    let dp = dataplane();
    let vip = vip();
    dp.apply(dialling(
        topology(
            1,
            vip,
            Protocol::Tcp,
            Scheduler::Wrr,
            vec![backend("m", m.addr, 1)],
            None,
            1000,
        ),
        UpstreamTls::default(),
        UpstreamMaterial {
            client: Some(client_certificate(&clients)),
            ..UpstreamMaterial::default()
        },
    ));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    assert_eq!(m.handshakes.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_the_crl_revokes_fails_requests_and_checks() {
    let (issuer, clients) = (ca(), ca());
    let revoked = member(&issuer, 41, &clients).await;
    let fine = member(&issuer, 42, &clients).await;
    let material = UpstreamMaterial {
        ca_pem: Some(issuer.pem.as_str().into()),
        crl_pem: Some(crl(&issuer, &[41]).into()),
        client: Some(client_certificate(&clients)),
    };
    // The revoked member: its HTTP check fails over the pool's TLS.
    let (dp, _) = serving(revoked.addr, true, UpstreamTls::default(), material.clone());
    assert!(settles(&dp, BackendState::Unhealthy).await);
    // And traffic meets the refusal: 502, counted as a TLS failure.
    let (dp, vip) = serving(
        revoked.addr,
        false,
        UpstreamTls::default(),
        material.clone(),
    );
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await.0, 502);
    assert!(metric(&dp, "weir_backend_tls_failures_total", "m").unwrap() >= 1);
    assert_eq!(revoked.handshakes.load(Ordering::Relaxed), 0);
    // The same CRL lets a member it does not revoke through.
    let (dp, vip) = serving(fine.addr, true, UpstreamTls::default(), material);
    assert!(settles(&dp, BackendState::Healthy).await);
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_name_is_sent_and_checked() {
    let (issuer, clients) = (ca(), ca());
    let m = member(&issuer, 9, &clients).await;
    let dp = dataplane();
    let vip = vip();
    let named = |name: &str| UpstreamTls {
        server_name: Some(name.into()),
        ..UpstreamTls::default()
    };
    let material = UpstreamMaterial {
        ca_pem: Some(issuer.pem.as_str().into()),
        client: Some(client_certificate(&clients)),
        ..UpstreamMaterial::default()
    };
    dp.apply(dialling(
        http_pool(1, vip, m.addr, false),
        named("member.test"),
        material.clone(),
    ));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await, (200, "over-tls".to_owned()));
    assert_eq!(m.sni.lock().unwrap().as_deref(), Some("member.test"));
    // A name the member's certificate does not carry: refused, though
    // the CA signed it.
    dp.apply(dialling(
        http_pool(2, vip, m.addr, false),
        named("other.test"),
        material,
    ));
    let mut conn = TcpStream::connect(vip).await.unwrap();
    assert_eq!(request(&mut conn).await.0, 502);
    assert_eq!(m.handshakes.load(Ordering::Relaxed), 1);
}
