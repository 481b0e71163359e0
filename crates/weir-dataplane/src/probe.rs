//! Active health checks (TCP, HTTP(S), TLS-HELLO, UDP-CONNECT, UDP
//! payload checks, and PING
//! through [`crate::icmp`]): the IO half of [`crate::health`]. One task per
//! backend of a pool with checks; the first check runs at once, so a new
//! backend takes traffic as soon as it passes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use weir_core::model::{CheckKind, CheckRequest, HealthCheck, HttpVersion};
use weir_core::status::FailureReason;

use crate::egress::Egress;
use crate::pool::{BackendRuntime, PoolRuntime};

/// A failed check: the coarse reason tenants see and the detail only the
/// operator's log gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailed {
    pub reason: FailureReason,
    pub detail: String,
}

impl CheckFailed {
    fn new(reason: FailureReason, detail: String) -> Self {
        Self { reason, detail }
    }
}

/// Runs one check against `addr`; `Err` says why it failed.
pub async fn check_once(
    egress: &Egress,
    check: &HealthCheck,
    addr: SocketAddr,
) -> Result<(), CheckFailed> {
    check_member(egress, check, addr, None).await
}

/// [`check_once`] for a member of a re-encrypting pool, `member_tls`
/// being the pool's dialer: its HTTP checks run over the pool's TLS
/// (HAProxy's `check-ssl` on an `ssl` server, as Octavia configures it),
/// verifying and presenting what traffic does, so a member whose
/// certificate the pool's CA does not sign, or its CRL revokes, is down. TCP, TLS-HELLO and HTTPS checks are
/// as in any pool.
pub async fn check_member(
    egress: &Egress,
    check: &HealthCheck,
    addr: SocketAddr,
    member_tls: Option<&crate::upstream_tls::Dialer>,
) -> Result<(), CheckFailed> {
    use FailureReason::{ConnectionFailed, NotAllowed};
    let timeout = Duration::from_millis(check.timeout_ms);
    let io_failure = |stage: &str, e: std::io::Error| {
        let reason =
            if e.kind() == std::io::ErrorKind::PermissionDenied && !egress.allows(addr.ip()) {
                NotAllowed
            } else {
                ConnectionFailed
            };
        CheckFailed::new(reason, format!("{stage} {addr}: {e}"))
    };
    let attempt = async {
        if check.kind == CheckKind::UdpConnect {
            return udp_connect(egress, addr, timeout)
                .await
                .map_err(|e| io_failure("datagram to", e));
        }
        if let CheckKind::UdpPayload { send, expect } = &check.kind {
            return udp_payload(egress, addr, timeout, send, expect.as_deref(), &io_failure).await;
        }
        if check.kind == CheckKind::Ping {
            // An echo request goes to the address; the port means nothing.
            let socket = egress
                .icmp(addr.ip())
                .map_err(|e| io_failure("echo request to", e))?;
            return socket
                .echo()
                .await
                .map_err(|e| io_failure("echo request to", e));
        }
        let stream = egress
            .connect_within(addr, timeout)
            .await
            .map_err(|e| io_failure("connect to", e))?;
        match &check.kind {
            CheckKind::Tcp
            | CheckKind::UdpConnect
            | CheckKind::UdpPayload { .. }
            | CheckKind::Ping => Ok(()),
            CheckKind::Http {
                path,
                expected,
                request,
            } => {
                let head = request_head(request, path, addr);
                match member_tls.and_then(|d| d.connector().map(|c| (c, d.name(addr.ip())))) {
                    Some(pool_tls) => {
                        let tls = tls_handshake(stream, addr, Some(pool_tls)).await?;
                        http_exchange(tls, addr, &head, expected, &io_failure).await
                    }
                    None => http_exchange(stream, addr, &head, expected, &io_failure).await,
                }
            }
            CheckKind::TlsHello => tls_handshake(stream, addr, None).await.map(drop),
            CheckKind::Https {
                path,
                expected,
                request,
            } => {
                let head = request_head(request, path, addr);
                let tls = tls_handshake(stream, addr, None).await?;
                http_exchange(tls, addr, &head, expected, &io_failure).await
            }
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(CheckFailed::new(
                ConnectionFailed,
                format!("check of {addr} timed out after {} ms", check.timeout_ms),
            ))
        })
}

/// The head of a check's request: its method and version, the Host it
/// names (else the member's address on HTTP/1.1, which requires one, and
/// none on HTTP/1.0), and an empty body announced where the method
/// usually has one. The path and host were held to their shapes by the
/// core, so nothing here can add a header line.
pub fn request_head(request: &CheckRequest, path: &str, addr: SocketAddr) -> String {
    let method = request.method.as_str();
    let version = request.version.as_str();
    let mut head = format!("{method} {path} HTTP/{version}\r\n");
    match (&request.host, request.version) {
        (Some(host), _) => head.push_str(&format!("Host: {host}\r\n")),
        (None, HttpVersion::Http11) => head.push_str(&format!("Host: {addr}\r\n")),
        (None, HttpVersion::Http10) => {}
    }
    head.push_str("User-Agent: weir-health-check\r\n");
    if request.method.expects_body() {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Sends `head` on an open stream (plain or TLS); passes on a status in
/// `expected`.
async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    head: &str,
    expected: &[(u16, u16)],
    io_failure: &(dyn Fn(&str, std::io::Error) -> CheckFailed + Sync),
) -> Result<(), CheckFailed> {
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| io_failure("send to", e))?;
    let mut answer = [0u8; 64];
    let mut read = 0;
    // The status line fits in the first bytes; read until the code is in
    // or the peer closes.
    while read < 12 {
        let n = stream
            .read(&mut answer[read..])
            .await
            .map_err(|e| io_failure("read from", e))?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&answer[..read]);
    let code: u16 = line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            CheckFailed::new(
                FailureReason::UnexpectedResponse,
                format!("{addr} did not answer HTTP"),
            )
        })?;
    if expected.iter().any(|(a, b)| (*a..=*b).contains(&code)) {
        Ok(())
    } else {
        Err(CheckFailed::new(
            FailureReason::UnexpectedResponse,
            format!(
                "{} answered {code}",
                head.lines().next().unwrap_or_default()
            ),
        ))
    }
}

/// The client side of TLS checks, built once.
fn tls_checks() -> tokio_rustls::TlsConnector {
    static CONNECTOR: std::sync::OnceLock<tokio_rustls::TlsConnector> = std::sync::OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let provider = weir_tls::crypto::shared_provider();
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("the provider supports TLS 1.2 and 1.3")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(
                    weir_tls::client::UnverifiedMember::new(provider),
                ))
                .with_no_client_auth();
            tokio_rustls::TlsConnector::from(Arc::new(config))
        })
        .clone()
}

/// A TLS handshake with the member, with a re-encrypting pool's own
/// connector and the name it dials by, or the checks' own (no SNI: the
/// member is named by address).
async fn tls_handshake(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    pool_tls: Option<(
        &tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, CheckFailed> {
    let (connector, name) = match pool_tls {
        Some((c, name)) => (c.clone(), name),
        None => (tls_checks(), weir_tls::client::member_name(addr.ip())),
    };
    connector.connect(name, stream).await.map_err(|e| {
        CheckFailed::new(
            FailureReason::UnexpectedResponse,
            format!("TLS handshake with {addr}: {e}"),
        )
    })
}

/// Octavia's UDP-CONNECT: a datagram to a closed UDP port draws an ICMP
/// port-unreachable, which a connected socket reports as a refused
/// receive; an answer, or silence for most of the timeout, means the port
/// is open (or filtered, which a UDP probe cannot tell apart).
async fn udp_connect(egress: &Egress, addr: SocketAddr, timeout: Duration) -> std::io::Result<()> {
    let socket = egress.udp(addr).await?;
    socket.send(b"weir-health-check\n").await?;
    let mut answer = [0u8; 64];
    match tokio::time::timeout(timeout * 3 / 4, socket.recv(&mut answer)).await {
        Ok(Err(e)) => Err(e),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// A UDP payload check ([`weir_core::udp_check`]): `send` goes out; with
/// `expect`, the first answer must match it (silence runs into the
/// caller's timeout, an ICMP unreachable is a failed receive); without,
/// UDP-CONNECT's rule with the tenant's datagram.
async fn udp_payload(
    egress: &Egress,
    addr: SocketAddr,
    timeout: Duration,
    send: &str,
    expect: Option<&str>,
    io_failure: &impl Fn(&str, std::io::Error) -> CheckFailed,
) -> Result<(), CheckFailed> {
    let socket = egress
        .udp(addr)
        .await
        .map_err(|e| io_failure("datagram to", e))?;
    socket
        .send(send.as_bytes())
        .await
        .map_err(|e| io_failure("datagram to", e))?;
    // Room for the longest answer that can match, and a byte more to tell
    // a longer one apart.
    let mut answer = [0u8; weir_core::udp_check::MAX_PAYLOAD_BYTES + 3];
    let Some(expect) = expect else {
        return match tokio::time::timeout(timeout * 3 / 4, socket.recv(&mut answer)).await {
            Ok(Err(e)) => Err(io_failure("datagram to", e)),
            Ok(Ok(_)) | Err(_) => Ok(()),
        };
    };
    let n = socket
        .recv(&mut answer)
        .await
        .map_err(|e| io_failure("answer from", e))?;
    if weir_core::udp_check::answer_matches(expect, &answer[..n]) {
        Ok(())
    } else {
        Err(CheckFailed::new(
            FailureReason::UnexpectedResponse,
            format!("{addr} answered {n} bytes that are not the expected answer"),
        ))
    }
}

/// Checks `backend` every interval until the task is aborted.
pub async fn run(
    pool: Arc<PoolRuntime>,
    backend: Arc<BackendRuntime>,
    check: HealthCheck,
    egress: Egress,
) {
    let interval = Duration::from_millis(check.interval_ms);
    loop {
        let target = backend.target();
        // A backend's own check target (Octavia's member monitor_address
        // and monitor_port) comes before the pool's check port.
        let port = target
            .monitor_port
            .or(check.port)
            .unwrap_or_else(|| target.port_for(pool.default_port()));
        let addr = SocketAddr::new(target.monitor_address.unwrap_or(target.address), port);
        let started = std::time::Instant::now();
        let dialer = pool.dialer();
        let result = match dialer.unavailable() {
            // A pool that cannot have its TLS dials nothing, checks
            // included.
            Some(why) => Err(CheckFailed::new(
                FailureReason::ConnectionFailed,
                format!("TLS to members: {why}"),
            )),
            None => check_member(&egress, &check, addr, Some(&dialer)).await,
        };
        backend
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Only a passing check has a latency worth showing: the time a
        // refused or filtered probe took is what a port scan measures.
        if result.is_ok() {
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            backend
                .check_latency_us
                .store(took, std::sync::atomic::Ordering::Relaxed);
        }
        let result = result.map_err(|failed| {
            tracing::debug!(backend = %backend.id, detail = %failed.detail, "health check failed");
            failed.reason.as_str().to_owned()
        });
        pool.record_check(&backend, result);
        tokio::time::sleep(interval).await;
    }
}
