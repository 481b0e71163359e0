//! TLS health checks (Octavia's TLS-HELLO and HTTPS monitors) against a
//! real TLS member on loopback with a self-signed certificate: the check
//! completes a handshake (and, for HTTPS, a GET) without verifying who the
//! member is; a member that does not speak TLS fails it.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weir_core::model::{CheckKind, HealthCheck, Protocol, Scheduler};
use weir_core::status::BackendState;

use crate::support::*;

/// A member that terminates TLS and answers every request with `status`.
async fn tls_backend(status: u16) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let cert = rcgen::generate_simple_self_signed(vec!["member.test".to_owned()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(weir_tls::crypto::provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = tls.read(&mut buf).await;
                let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, task)
}

fn check(kind: CheckKind) -> HealthCheck {
    HealthCheck {
        kind,
        interval_ms: 50,
        timeout_ms: 2000,
        rise: 1,
        fall: 1,
        port: None,
    }
}

async fn state_of(
    kind: CheckKind,
    members: Vec<(&str, std::net::SocketAddr)>,
) -> Vec<BackendState> {
    let dp = dataplane();
    let backends = members
        .iter()
        .map(|(id, addr)| backend(id, *addr, 1))
        .collect();
    dp.apply(topology(
        1,
        vip(),
        Protocol::Tcp,
        Scheduler::Wrr,
        backends,
        Some(check(kind)),
        1000,
    ));
    let settled = |dp: &weir_dataplane::DataPlane| {
        members
            .iter()
            .map(|(id, _)| dp.backend_live(&(*id).into()).map(|l| l.state))
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(5), async || {
        settled(&dp)
            .iter()
            .all(|s| matches!(s, Some(BackendState::Healthy | BackendState::Unhealthy)))
    })
    .await;
    settled(&dp).into_iter().map(|s| s.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_hello_check_passes_a_tls_member_and_fails_a_plain_one() {
    let (tls, _t) = tls_backend(200).await;
    let (plain, _p) = tcp_backend("plain").await;
    assert_eq!(
        state_of(CheckKind::TlsHello, vec![("tls", tls), ("plain", plain)]).await,
        vec![BackendState::Healthy, BackendState::Unhealthy]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_check_reads_the_status_over_tls() {
    let (ok, _a) = tls_backend(200).await;
    let (failing, _b) = tls_backend(503).await;
    let https = CheckKind::Https {
        path: "/health".into(),
        expected: vec![(200, 299)],
        request: Default::default(),
    };
    assert_eq!(
        state_of(https, vec![("ok", ok), ("failing", failing)]).await,
        vec![BackendState::Healthy, BackendState::Unhealthy]
    );
}
