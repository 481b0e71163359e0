//! UDP listeners: one flow per client address, pinned to one backend for
//! its lifetime, ended after an idle timeout. Replies leave from the
//! listener's own socket, so the client sees them come from the VIP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::listener::ListenerRuntime;
use crate::pool::{lock, ConnGuard, PoolRuntime};
use crate::tcp::{closed, pick};
use crate::Shared;

/// Largest datagram relayed.
const DATAGRAM: usize = 65_535;

struct Flow {
    upstream: Arc<UdpSocket>,
    backend: Arc<crate::pool::BackendRuntime>,
    /// Milliseconds since `epoch` of the client's last datagram.
    last_seen: Arc<AtomicU64>,
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Flow>>>;

/// Serves one bound UDP port until the task is aborted.
pub async fn serve(
    socket: UdpSocket,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    let socket = Arc::new(socket);
    let flows: Flows = Arc::default();
    let epoch = Instant::now();
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let (n, client) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive failed");
                continue;
            }
        };
        let now_ms = epoch.elapsed().as_millis() as u64;
        let existing = lock(&flows)
            .get(&client)
            .map(|f| (f.upstream.clone(), f.backend.clone(), f.last_seen.clone()));
        let (upstream, backend) = match existing {
            Some((upstream, backend, last_seen)) => {
                last_seen.store(now_ms, Ordering::Relaxed);
                (upstream, backend)
            }
            None => match open_flow(
                &socket, client, port, &runtime, &shared, &flows, epoch, now_ms,
            )
            .await
            {
                Some(opened) => opened,
                None => {
                    runtime.failures.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            },
        };
        if upstream.send(&buf[..n]).await.is_ok() {
            backend.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn open_flow(
    socket: &Arc<UdpSocket>,
    client: SocketAddr,
    port: u16,
    runtime: &Arc<ListenerRuntime>,
    shared: &Arc<Shared>,
    flows: &Flows,
    epoch: Instant,
    now_ms: u64,
) -> Option<(Arc<UdpSocket>, Arc<crate::pool::BackendRuntime>)> {
    let spec = runtime.spec();
    let scheduler = spec.scheduler;
    // Backends without a port of their own: one port for every attempt.
    let dial_port = spec.inherited_port(port);
    let pools = runtime.pools();
    let mut tried = Vec::new();
    for _ in 0..shared.config.connect_attempts {
        let (pool, backend) = pick(&pools, scheduler, client.ip(), &tried)?;
        match shared
            .egress
            .udp(PoolRuntime::address(&backend, dial_port))
            .await
        {
            Ok(upstream) => {
                runtime.connections.fetch_add(1, Ordering::Relaxed);
                let upstream = Arc::new(upstream);
                let last_seen = Arc::new(AtomicU64::new(now_ms));
                lock(flows).insert(
                    client,
                    Flow {
                        upstream: upstream.clone(),
                        backend: backend.clone(),
                        last_seen: last_seen.clone(),
                    },
                );
                let task = relay_replies(
                    socket.clone(),
                    upstream.clone(),
                    client,
                    ConnGuard::new(backend.clone()),
                    last_seen,
                    shared.clone(),
                    epoch,
                );
                let flows = flows.clone();
                tokio::spawn(async move {
                    task.await;
                    lock(&flows).remove(&client);
                });
                return Some((upstream, backend));
            }
            Err(e) => {
                pool.record_connect_failure(&backend, &e);
                tried.push(backend.id.clone());
            }
        }
    }
    None
}

/// Relays the backend's datagrams to the client until the flow idles out
/// or the backend's drain deadline passes.
async fn relay_replies(
    socket: Arc<UdpSocket>,
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    guard: ConnGuard,
    last_seen: Arc<AtomicU64>,
    shared: Arc<Shared>,
    epoch: Instant,
) {
    let idle = shared.config.udp_idle_timeout;
    let mut closer = guard.backend().closer();
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        tokio::select! {
            received = tokio::time::timeout(idle, upstream.recv(&mut buf)) => match received {
                Ok(Ok(n)) => {
                    guard.backend().bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                    let _ = socket.send_to(&buf[..n], client).await;
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    // Quiet from the backend; the flow lives while the
                    // client keeps sending.
                    let since = (epoch.elapsed().as_millis() as u64).saturating_sub(last_seen.load(Ordering::Relaxed));
                    if since >= idle.as_millis() as u64 {
                        return;
                    }
                }
            },
            () = closed(&mut closer) => return,
        }
    }
}
