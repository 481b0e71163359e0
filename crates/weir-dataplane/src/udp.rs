//! UDP listeners: one flow per client address, pinned to one backend for
//! its lifetime, ended after an idle timeout. Replies leave from the
//! listener's own socket, so the client sees them come from the VIP.
//!
//! Bounded by construction: a listener holds at most its cap of flows
//! (`max_connections`, shared by all its ports) and one client address at
//! most `dataplane.udp_max_flows_per_source` per port; a datagram from a
//! new client past either cap is dropped and counted. Nothing is queued in
//! user space: datagrams are read into one buffer per port (requests) or
//! per worker thread (replies) and sent without waiting; a full socket
//! buffer drops the datagram, as the kernel would.

#[doc(hidden)]
pub mod flows;

use std::cell::RefCell;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::listener::{ListenerRuntime, Slot};
use crate::pool::{lock, BackendRuntime, ConnGuard, PassiveFailure, PoolRuntime};
use crate::tcp::{closed, pick};
use crate::Shared;

/// Largest datagram relayed.
const DATAGRAM: usize = 65_535;

thread_local! {
    /// Replies of every flow on this worker pass through here, so a flow
    /// costs no buffer of its own while it waits.
    static REPLY: RefCell<Vec<u8>> = RefCell::new(vec![0; DATAGRAM]);
}

struct Flow {
    upstream: Arc<UdpSocket>,
    backend: Arc<BackendRuntime>,
    /// Milliseconds since `epoch` of the client's last datagram.
    last_seen: Arc<AtomicU64>,
}

/// The flows of one bound port.
type Flows = Arc<Mutex<flows::FlowTable<Flow>>>;

/// Serves one bound UDP port until the task is aborted.
pub async fn serve(
    socket: UdpSocket,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    // An inherited socket is read only once the predecessor stopped.
    shared.handover.udp_turn().await;
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
            None => {
                // Only a new flow is checked: one admitted before an
                // allow-list change lives on, as a TCP connection does.
                if !runtime.admits(client.ip()) {
                    continue;
                }
                let Some(slot) = admit(&runtime, &shared, &flows, client) else {
                    runtime.slots.saturated.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let opened = open_flow(FlowStart {
                    socket: &socket,
                    client,
                    port,
                    runtime: &runtime,
                    shared: &shared,
                    flows: &flows,
                    epoch,
                    now_ms,
                    slot,
                })
                .await;
                match opened {
                    Some(opened) => opened,
                    None => {
                        runtime.failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
        };
        // A full send buffer drops the datagram rather than stalling every
        // other flow of the port behind this one.
        if send_now(&upstream, &buf[..n], None).is_ok() {
            backend.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Sends one datagram without waiting (`MSG_DONTWAIT`): a full socket
/// buffer fails the send. Straight to the socket, since tokio's `try_send`
/// refuses until the reactor has first seen the socket writable, which
/// would drop a new flow's first datagram.
fn send_now(socket: &UdpSocket, datagram: &[u8], to: Option<SocketAddr>) -> std::io::Result<usize> {
    use nix::sys::socket::{send, sendto, MsgFlags, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let sent = match to {
        None => send(fd, datagram, MsgFlags::MSG_DONTWAIT),
        Some(addr) => sendto(
            fd,
            datagram,
            &match addr {
                SocketAddr::V4(v4) => SockaddrStorage::from(v4),
                SocketAddr::V6(v6) => SockaddrStorage::from(v6),
            },
            MsgFlags::MSG_DONTWAIT,
        ),
    };
    Ok(sent?)
}

/// A slot for a new flow from `client`, if the listener's cap, the
/// per-source cap and the descriptor budget all allow one.
fn admit(
    runtime: &Arc<ListenerRuntime>,
    shared: &Shared,
    flows: &Flows,
    client: SocketAddr,
) -> Option<Slot> {
    let from_source = lock(flows).from_source(client.ip());
    flows::admit(
        from_source,
        shared.config.udp_max_flows_per_source,
        &runtime.slots,
        || shared.fds.admit(),
    )
}

/// What opening a flow needs.
struct FlowStart<'a> {
    socket: &'a Arc<UdpSocket>,
    client: SocketAddr,
    port: u16,
    runtime: &'a Arc<ListenerRuntime>,
    shared: &'a Arc<Shared>,
    flows: &'a Flows,
    epoch: Instant,
    now_ms: u64,
    slot: Slot,
}

async fn open_flow(start: FlowStart<'_>) -> Option<(Arc<UdpSocket>, Arc<BackendRuntime>)> {
    let FlowStart {
        socket,
        client,
        port,
        runtime,
        shared,
        flows,
        epoch,
        now_ms,
        slot,
    } = start;
    let spec = runtime.spec();
    let scheduler = spec.scheduler;
    // Backends without a port of their own: one port for every attempt.
    let dial_port = spec.inherited_port(port);
    let idle = Duration::from_millis(
        spec.relay_idle_ms(shared.config.udp_idle_timeout.as_millis() as u64),
    );
    let pools = runtime.pools();
    let mut tried = Vec::new();
    for _ in 0..shared.config.connect_attempts {
        let (pool, backend) = pick(&pools, scheduler, client, &tried)?;
        match shared
            .egress
            .udp(PoolRuntime::address(&backend, dial_port))
            .await
        {
            Ok(upstream) => {
                runtime.connections.fetch_add(1, Ordering::Relaxed);
                let upstream = Arc::new(upstream);
                let last_seen = Arc::new(AtomicU64::new(now_ms));
                {
                    lock(flows).insert(
                        client,
                        Flow {
                            upstream: upstream.clone(),
                            backend: backend.clone(),
                            last_seen: last_seen.clone(),
                        },
                    );
                }
                let task = relay_replies(Replies {
                    socket: socket.clone(),
                    upstream: upstream.clone(),
                    client,
                    guard: ConnGuard::new(backend.clone()),
                    last_seen,
                    idle,
                    epoch,
                });
                let flows = flows.clone();
                tokio::spawn(async move {
                    task.await;
                    let _ = lock(&flows).remove(client);
                    drop(slot);
                });
                return Some((upstream, backend));
            }
            Err(e) => {
                pool.record_failure(&backend, PassiveFailure::Connect, &e);
                tried.push(backend.id.clone());
            }
        }
    }
    None
}

/// One flow's reply path.
struct Replies {
    socket: Arc<UdpSocket>,
    upstream: Arc<UdpSocket>,
    client: SocketAddr,
    guard: ConnGuard,
    last_seen: Arc<AtomicU64>,
    idle: Duration,
    epoch: Instant,
}

/// Relays the backend's datagrams to the client until the flow idles out
/// (no datagram either way for `idle`) or the backend's drain deadline
/// passes.
async fn relay_replies(r: Replies) {
    let mut closer = r.guard.backend().closer();
    let mut last_reply_ms = r.epoch.elapsed().as_millis() as u64;
    loop {
        let now = r.epoch.elapsed().as_millis() as u64;
        let last = last_reply_ms.max(r.last_seen.load(Ordering::Relaxed));
        let Some(left) = flows::idle_left(now, last, r.idle) else {
            return;
        };
        tokio::select! {
            ready = tokio::time::timeout(left, r.upstream.readable()) => match ready {
                Ok(Ok(())) => {
                    let relayed = REPLY.with(|buf| {
                        let mut buf = buf.borrow_mut();
                        let n = r.upstream.try_recv(&mut buf)?;
                        // Dropped, not queued, when the client's side is full.
                        let _ = send_now(&r.socket, &buf[..n], Some(r.client));
                        Ok::<usize, std::io::Error>(n)
                    });
                    match relayed {
                        Ok(n) => {
                            last_reply_ms = r.epoch.elapsed().as_millis() as u64;
                            r.guard.backend().bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        // An ICMP error from the backend: the flow lives on.
                        Err(_) => {}
                    }
                }
                Ok(Err(_)) => return,
                Err(_) => {}
            },
            () = closed(&mut closer) => return,
        }
    }
}
