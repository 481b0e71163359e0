//! What an HTTP(S) check sends (Octavia's `http_method`, `http_version`
//! and `domain_name`): a loopback member records each request head it
//! gets, plain or over TLS, and the probe must have sent the method,
//! version and Host asked for, with no body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use weir_core::model::{CheckKind, CheckRequest, HealthCheck, HttpMethod, HttpVersion};
use weir_dataplane::egress::Egress;
use weir_dataplane::probe::check_once;

/// Reads one request head, sends it to `heads`, answers 200 and closes.
async fn record<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    heads: mpsc::UnboundedSender<String>,
) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let _ = heads.send(String::from_utf8_lossy(&seen).into_owned());
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await;
    let _ = stream.shutdown().await;
}

/// A member on loopback, over TLS or not, that records request heads.
async fn recording_member(tls: bool) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let acceptor = tls.then(|| {
        let cert = rcgen::generate_simple_self_signed(vec!["member.test".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(weir_tls::crypto::provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key)
                .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    Some(a) => {
                        if let Ok(tls) = a.accept(stream).await {
                            record(tls, tx).await;
                        }
                    }
                    None => record(stream, tx).await,
                }
            });
        }
    });
    (addr, rx)
}

/// Runs one check of `request` against a recording member and returns
/// the head the member got (the check must have passed).
async fn head_sent(tls: bool, request: CheckRequest) -> String {
    let (addr, mut heads) = recording_member(tls).await;
    let (path, expected) = ("/health".to_owned(), vec![(200, 299)]);
    let kind = if tls {
        CheckKind::Https {
            path,
            expected,
            request,
        }
    } else {
        CheckKind::Http {
            path,
            expected,
            request,
        }
    };
    let check = HealthCheck {
        kind,
        interval_ms: 1000,
        timeout_ms: 3000,
        rise: 1,
        fall: 1,
        port: None,
    };
    let egress = Egress::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(2));
    check_once(&egress, &check, addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), heads.recv())
        .await
        .unwrap()
        .unwrap()
}

fn request(method: HttpMethod, version: HttpVersion, host: Option<&str>) -> CheckRequest {
    CheckRequest {
        method,
        version,
        host: host.map(str::to_owned),
    }
}

/// The value of header `name` in `head`, if sent.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn a_check_sends_the_method_version_and_host_asked_for() {
    for tls in [false, true] {
        let head = head_sent(
            tls,
            request(HttpMethod::Head, HttpVersion::Http10, Some("example.com")),
        )
        .await;
        assert!(head.starts_with("HEAD /health HTTP/1.0\r\n"), "{head}");
        assert_eq!(header(&head, "host"), Some("example.com"), "{head}");
        assert_eq!(header(&head, "content-length"), None, "{head}");

        // HTTP/1.1 needs a Host: the member's address when none is named.
        let head = head_sent(tls, request(HttpMethod::Post, HttpVersion::Http11, None)).await;
        assert!(head.starts_with("POST /health HTTP/1.1\r\n"), "{head}");
        assert!(
            header(&head, "host").is_some_and(|h| h.starts_with("127.0.0.1:")),
            "{head}"
        );
        // A method that normally carries a body says it has none.
        assert_eq!(header(&head, "content-length"), Some("0"), "{head}");

        // HTTP/1.0 without a domain sends no Host at all.
        let head = head_sent(tls, request(HttpMethod::Get, HttpVersion::Http10, None)).await;
        assert!(head.starts_with("GET /health HTTP/1.0\r\n"), "{head}");
        assert_eq!(header(&head, "host"), None, "{head}");
    }
    // Every method Weir accepts goes out as asked.
    for name in HttpMethod::NAMES {
        let method: HttpMethod = name.parse().unwrap();
        let head = head_sent(
            false,
            request(method, HttpVersion::Http11, Some("health.example")),
        )
        .await;
        assert!(
            head.starts_with(&format!("{name} /health HTTP/1.1\r\n")),
            "{head}"
        );
        assert_eq!(header(&head, "host"), Some("health.example"), "{head}");
        assert_eq!(
            header(&head, "content-length").is_some(),
            method.expects_body(),
            "{head}"
        );
    }
}
