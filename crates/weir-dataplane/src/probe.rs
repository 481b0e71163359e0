//! Active health checks: the IO half of [`crate::health`]. One task per
//! backend of a pool with checks; the first check runs at once, so a new
//! backend takes traffic as soon as it passes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_core::model::{CheckKind, HealthCheck};
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
    use FailureReason::{ConnectionFailed, NotAllowed, UnexpectedResponse};
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
        let mut stream = egress
            .connect_within(addr, timeout)
            .await
            .map_err(|e| io_failure("connect to", e))?;
        match &check.kind {
            CheckKind::Tcp | CheckKind::UdpConnect => Ok(()),
            CheckKind::Http { path, expected } => {
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: weir-health-check\r\nConnection: close\r\n\r\n"
                );
                stream
                    .write_all(request.as_bytes())
                    .await
                    .map_err(|e| io_failure("send to", e))?;
                let mut head = [0u8; 64];
                let mut read = 0;
                // The status line fits in the first bytes; read until the
                // code is in or the peer closes.
                while read < 12 {
                    let n = stream
                        .read(&mut head[read..])
                        .await
                        .map_err(|e| io_failure("read from", e))?;
                    if n == 0 {
                        break;
                    }
                    read += n;
                }
                let line = String::from_utf8_lossy(&head[..read]);
                let code: u16 = line
                    .strip_prefix("HTTP/1.")
                    .and_then(|rest| rest.get(2..5))
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| {
                        CheckFailed::new(UnexpectedResponse, format!("{addr} did not answer HTTP"))
                    })?;
                if expected.iter().any(|(a, b)| (*a..=*b).contains(&code)) {
                    Ok(())
                } else {
                    Err(CheckFailed::new(
                        UnexpectedResponse,
                        format!("GET {path} answered {code}"),
                    ))
                }
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
        let result = check_once(&egress, &check, addr).await;
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
