//! Active health checks: the IO half of [`crate::health`]. One task per
//! backend of a pool with checks; the first check runs at once, so a new
//! backend takes traffic as soon as it passes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_core::model::{CheckKind, HealthCheck};

use crate::egress::Egress;
use crate::pool::{BackendRuntime, PoolRuntime};

/// Runs one check against `addr`; `Err` says why it failed.
pub async fn check_once(
    egress: &Egress,
    check: &HealthCheck,
    addr: SocketAddr,
) -> Result<(), String> {
    let timeout = Duration::from_millis(check.timeout_ms);
    let attempt = async {
        let mut stream = egress
            .connect_within(addr, timeout)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        match &check.kind {
            CheckKind::Tcp => Ok(()),
            CheckKind::Http { path, expected } => {
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: weir-health-check\r\nConnection: close\r\n\r\n"
                );
                stream
                    .write_all(request.as_bytes())
                    .await
                    .map_err(|e| format!("send to {addr}: {e}"))?;
                let mut head = [0u8; 64];
                let mut read = 0;
                // The status line fits in the first bytes; read until the
                // code is in or the peer closes.
                while read < 12 {
                    let n = stream
                        .read(&mut head[read..])
                        .await
                        .map_err(|e| format!("read from {addr}: {e}"))?;
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
                    .ok_or_else(|| format!("{addr} did not answer HTTP"))?;
                if expected.iter().any(|(a, b)| (*a..=*b).contains(&code)) {
                    Ok(())
                } else {
                    Err(format!("GET {path} answered {code}"))
                }
            }
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "check of {addr} timed out after {} ms",
                check.timeout_ms
            ))
        })
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
        let port = check
            .port
            .unwrap_or_else(|| target.port_for(pool.default_port()));
        let addr = SocketAddr::new(target.address, port);
        let started = std::time::Instant::now();
        let result = check_once(&egress, &check, addr).await;
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        backend
            .check_latency_us
            .store(took, std::sync::atomic::Ordering::Relaxed);
        pool.record_check(&backend, result);
        tokio::time::sleep(interval).await;
    }
}
