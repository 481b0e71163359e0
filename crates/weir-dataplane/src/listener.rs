//! Listeners at run time: the bound sockets and their accept tasks, the
//! pools they serve from, their operating state, and the connection cap.
//!
//! The cap works as HAProxy's `maxconn`: at the limit a listener stops
//! accepting, so new connections wait in the kernel's backlog (and are
//! served as soon as one ends) instead of being accepted and reset; past
//! the backlog the kernel drops SYNs and clients retry. The same holds
//! when the process nears its descriptor limit ([`crate::fd`]), and an
//! accept that fails with EMFILE/ENFILE backs off instead of spinning.
//!
//! A stopped listener frees its TCP ports before `stop` returns (see
//! [`ListenerRuntime::stop`]), so a listener started next on the same
//! address binds at once instead of failing with EADDRINUSE.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use weir_core::ids::PoolId;
use weir_core::model::{ListenerPorts, Protocol};
use weir_core::status::ListenerLive;
use weir_core::topology::ListenerSpec;

use crate::histogram::Histogram;
use crate::pool::{lock, PoolRuntime};
use crate::Shared;

/// How long an accept loop waits before trying again when descriptors ran
/// out: long enough not to spin, short enough to resume promptly.
const FD_BACKOFF: Duration = Duration::from_millis(50);

/// The connections (UDP: flows) a listener may hold at once.
#[derive(Debug, Default)]
pub struct Slots {
    limit: AtomicUsize,
    open: AtomicUsize,
    freed: tokio::sync::Notify,
    /// Times a new connection had to wait (TCP) or was turned away (UDP)
    /// at the cap.
    pub saturated: AtomicU64,
    /// Slots accept loops hold while they wait for the next connection
    /// (taken before the accept, as HAProxy's maxconn): open but serving
    /// no one.
    accepting: AtomicUsize,
}

/// An accept loop's slot while it waits for a connection.
struct Accepting<'a>(&'a Slots);

impl Drop for Accepting<'_> {
    fn drop(&mut self) {
        self.0.accepting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One held slot, given back when dropped.
#[derive(Debug)]
pub struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        let before = self.0.open.fetch_sub(1, Ordering::AcqRel);
        // Only a release from a full listener can have a waiter.
        if before >= self.0.limit.load(Ordering::Relaxed) {
            self.0.freed.notify_waiters();
        }
    }
}

impl Slots {
    fn with_limit(limit: usize) -> Arc<Self> {
        let slots = Arc::new(Self::default());
        slots.set_limit(limit);
        slots
    }

    /// A new cap; connections above a lowered one run on, and no new one
    /// is accepted until they are below it.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit.max(1), Ordering::Relaxed);
        self.freed.notify_waiters();
    }

    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Connections (UDP: flows) open now, not counting the slots accept
    /// loops hold while they wait.
    pub fn open(&self) -> usize {
        self.open
            .load(Ordering::Relaxed)
            .saturating_sub(self.accepting.load(Ordering::Relaxed))
    }

    fn accepting(&self) -> Accepting<'_> {
        self.accepting.fetch_add(1, Ordering::Relaxed);
        Accepting(self)
    }

    /// A slot if one is free.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        let limit = self.limit.load(Ordering::Relaxed);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }

    /// Waits for a free slot.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        let mut counted = false;
        loop {
            // Registered before the check, so a release in between wakes us.
            let freed = self.freed.notified();
            if let Some(slot) = self.try_acquire() {
                return slot;
            }
            if !counted {
                counted = true;
                self.saturated.fetch_add(1, Ordering::Relaxed);
            }
            freed.await;
        }
    }
}

/// The pools a listener's L7 policies forward to, by id (a connection
/// evaluates the spec it read, so its route names a pool, never an index
/// into a list that may have changed since), each as a one-pool list.
pub type L7Pools = HashMap<PoolId, Arc<Vec<Arc<PoolRuntime>>>>;

/// A listener at run time.
pub struct ListenerRuntime {
    spec: ArcSwap<ListenerSpec>,
    pools: ArcSwap<Vec<Arc<PoolRuntime>>>,
    l7_pools: ArcSwap<L7Pools>,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// A duplicate of each bound socket: for a successor process
    /// ([`crate::handover`]), and to shut a stopped listener's sockets
    /// down at once ([`Self::release_sockets`]).
    pub(crate) sockets: Mutex<Vec<std::os::fd::OwnedFd>>,
    status: Mutex<ListenerLive>,
    pub connections: AtomicU64,
    pub failures: AtomicU64,
    /// Connections (UDP: datagrams) from clients outside the listener's
    /// allowed networks, refused before any backend was chosen.
    pub denied: AtomicU64,
    /// The connection (UDP: flow) cap and what holds it.
    pub slots: Arc<Slots>,
    /// `dataplane.max_connections`, for specs that name no cap.
    default_cap: u32,
    /// Set once the listener stops (removed, or its load balancer
    /// stopped): an HTTP keep-alive connection then closes instead of
    /// serving its next request from pools that are gone. A restarted
    /// listener is a new runtime, so clients reconnect to it.
    stopped: watch::Sender<bool>,
    /// HTTPS listeners: the TLS configuration new handshakes use, replaced
    /// when the certificates change (open sessions keep theirs).
    tls: ArcSwapOption<rustls::ServerConfig>,
    /// Handshakes that failed or did not finish in time (HTTPS).
    pub tls_handshake_failures: AtomicU64,
    /// HTTP connections that became a WebSocket tunnel after a `101`.
    pub upgrades: AtomicU64,
    /// HTTP/2 connections (ALPN `h2`, or h2c by prior knowledge).
    pub h2_connections: AtomicU64,
    /// HTTP/2 streams (requests) served.
    pub h2_streams: AtomicU64,
    /// HTTP requests forwarded to a pool: from the complete request head
    /// to the response head written to the client.
    pub request_duration: Histogram,
}

impl ListenerRuntime {
    pub fn spec(&self) -> Arc<ListenerSpec> {
        self.spec.load_full()
    }

    /// Whether `client` may connect now (the allow list and ACL rule of
    /// the current spec, so a change applies to the next accept); counts
    /// refusals.
    pub fn admits(&self, client: std::net::IpAddr) -> bool {
        let spec = self.spec.load();
        let allowed =
            weir_core::acl::client_admitted(&spec.allowed_cidrs, spec.acl.as_deref(), client);
        if !allowed {
            self.denied.fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    /// The TLS configuration for a new handshake (HTTPS listeners).
    pub fn tls_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.load_full()
    }

    pub fn pools(&self) -> Arc<Vec<Arc<PoolRuntime>>> {
        self.pools.load_full()
    }

    /// The pools L7 policies forward to.
    pub fn l7_pools(&self) -> Arc<L7Pools> {
        self.l7_pools.load_full()
    }

    pub fn status(&self) -> ListenerLive {
        lock(&self.status).clone()
    }

    /// Takes a new spec that binds the same sockets (pools, scheduler,
    /// certificates). New certificates apply to the next handshake; ones
    /// that cannot be served stop the accept loops and report why (the
    /// bind retry tries again), and open sessions carry on.
    pub fn update(&self, spec: Arc<ListenerSpec>, pools: Vec<Arc<PoolRuntime>>, l7: L7Pools) {
        self.slots
            .set_limit(spec.max_connections.unwrap_or(self.default_cap) as usize);
        let tls_changed = spec.protocol == Protocol::Https && {
            let old = self.spec.load();
            old.tls != spec.tls
                || old.tls_options != spec.tls_options
                || old.client_verify != spec.client_verify
        };
        // Pools first: a connection that reads the new spec finds the
        // pools its routes name.
        self.l7_pools.store(Arc::new(l7));
        self.pools.store(Arc::new(pools));
        self.spec.store(spec.clone());
        if tls_changed {
            match crate::tls::server_config(&spec) {
                Ok(config) => self.tls.store(Some(config)),
                Err(reason) => {
                    tracing::warn!(listener = %spec.id, %reason, "listener not served");
                    for task in lock(&self.tasks).drain(..) {
                        task.abort();
                    }
                    self.release_sockets();
                    self.tls.store(None);
                    *lock(&self.status) = ListenerLive::Error(reason);
                }
            }
        }
    }

    /// Stops accepting. Open TCP connections and UDP flows carry on until
    /// their backends drain; an HTTP connection finishes the request it is
    /// serving and closes.
    pub fn stop(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        self.release_sockets();
        self.stopped.send_replace(true);
    }

    /// Frees the listener's TCP ports now. An aborted accept task drops
    /// its socket only when the runtime next polls it, so a listener bound
    /// right after on the same address (a new listener replacing a deleted
    /// one in the next topology, or a bind retry) could still find the
    /// port listening and fail with EADDRINUSE. Shutting the listening
    /// socket down (through a duplicate: shutdown acts on the socket, not
    /// the descriptor) takes it out of LISTEN at once on Linux, which is
    /// all SO_REUSEADDR needs to let the next bind through; the task's
    /// accept then fails until the abort lands and closes the descriptor.
    fn release_sockets(&self) {
        release(lock(&self.sockets).drain(..));
    }

    /// Whether [`Self::stop`] was called, and a receiver that sees it.
    pub fn stopped(&self) -> watch::Receiver<bool> {
        self.stopped.subscribe()
    }

    /// Binds every port of `spec` and starts serving. A listener this data
    /// plane cannot serve, or whose bind fails, reports why and binds
    /// nothing.
    pub fn start(
        spec: Arc<ListenerSpec>,
        pools: Vec<Arc<PoolRuntime>>,
        l7: L7Pools,
        shared: &Arc<Shared>,
    ) -> Arc<Self> {
        let default_cap = shared.config.max_connections;
        let runtime = Arc::new(Self {
            slots: Slots::with_limit(spec.max_connections.unwrap_or(default_cap) as usize),
            default_cap,
            spec: ArcSwap::new(spec.clone()),
            pools: ArcSwap::from_pointee(pools),
            l7_pools: ArcSwap::from_pointee(l7),
            tasks: Mutex::default(),
            sockets: Mutex::default(),
            status: Mutex::new(ListenerLive::Active),
            connections: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            stopped: watch::channel(false).0,
            tls: ArcSwapOption::empty(),
            tls_handshake_failures: AtomicU64::new(0),
            upgrades: AtomicU64::new(0),
            h2_connections: AtomicU64::new(0),
            h2_streams: AtomicU64::new(0),
            request_duration: Histogram::default(),
        });
        let tls = match spec.protocol {
            Protocol::Https => crate::tls::server_config(&spec).map(Some),
            _ => Ok(None),
        };
        let status = match tls {
            Err(reason) => ListenerLive::Error(reason),
            Ok(config) => {
                runtime.tls.store(config);
                match bind_all(&spec, &runtime, shared) {
                    Ok(tasks) => {
                        *lock(&runtime.tasks) = tasks;
                        ListenerLive::Active
                    }
                    Err(status) => status,
                }
            }
        };
        if let ListenerLive::Error(reason) | ListenerLive::Unsupported(reason) = &status {
            tracing::warn!(listener = %spec.id, %reason, "listener not served");
        }
        *lock(&runtime.status) = status;
        runtime
    }
}

fn ports(spec: &ListenerSpec, max: usize) -> Result<Vec<u16>, ListenerLive> {
    match &spec.ports {
        ListenerPorts::Single(p) => Ok(vec![*p]),
        ListenerPorts::All => Err(ListenerLive::Unsupported(
            "all-ports listeners are not supported by this data plane".to_owned(),
        )),
        ListenerPorts::Ranges(ranges) => {
            let count: u32 = ranges.iter().map(|r| r.len()).sum();
            if count as usize > max {
                return Err(ListenerLive::Unsupported(format!(
                    "{count} ports exceed dataplane.max_ports_per_listener ({max})"
                )));
            }
            Ok(ranges.iter().flat_map(|r| r.start..=r.end).collect())
        }
    }
}

/// Shuts listening sockets down (see [`ListenerRuntime::release_sockets`]).
fn release(sockets: impl Iterator<Item = OwnedFd>) {
    for socket in sockets {
        // A socket already shut down or closed has nothing to release.
        let _ = nix::sys::socket::shutdown(socket.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }
}

fn bind_all(
    spec: &ListenerSpec,
    runtime: &Arc<ListenerRuntime>,
    shared: &Arc<Shared>,
) -> Result<Vec<JoinHandle<()>>, ListenerLive> {
    let ports = ports(spec, shared.config.max_ports_per_listener)?;
    let mut tasks = Vec::with_capacity(ports.len());
    for port in ports {
        let addr = SocketAddr::new(spec.vip, port);
        let bound = match spec.protocol {
            Protocol::Prometheus => crate::handover::bind_tcp(runtime, shared, addr).map(|l| {
                tokio::spawn(crate::prometheus::accept_loop(
                    l,
                    runtime.clone(),
                    shared.clone(),
                ))
            }),
            Protocol::Tcp | Protocol::Http | Protocol::TlsPassthrough | Protocol::Https => {
                crate::handover::bind_tcp(runtime, shared, addr).map(|l| match spec.protocol {
                    Protocol::Http => tokio::spawn(crate::http::accept_loop(
                        l,
                        port,
                        runtime.clone(),
                        shared.clone(),
                    )),
                    Protocol::Https => tokio::spawn(crate::tls::accept_loop(
                        l,
                        port,
                        runtime.clone(),
                        shared.clone(),
                    )),
                    _ => tokio::spawn(crate::tcp::accept_loop(
                        l,
                        port,
                        runtime.clone(),
                        shared.clone(),
                    )),
                })
            }
            Protocol::Udp => crate::handover::bind_udp(runtime, shared, addr)
                .map(|s| tokio::spawn(crate::udp::serve(s, port, runtime.clone(), shared.clone()))),
        };
        match bound {
            Ok(task) => tasks.push(task),
            Err(e) => {
                for t in tasks {
                    t.abort();
                }
                // The ports bound so far are free for the bind retry.
                release(lock(&runtime.sockets).drain(..));
                return Err(ListenerLive::Error(format!(
                    "cannot bind {} {addr}: {e}",
                    spec.protocol
                )));
            }
        }
    }
    Ok(tasks)
}

/// Accepts connections until the task is aborted, handing each (with
/// `TCP_NODELAY` set) to `serve` in a task of its own, which holds one of
/// the listener's slots for as long as it runs. At the cap, or with too
/// few descriptors left for the rest of the process, it stops accepting
/// until that changes.
pub async fn accept_each<F, Fut>(
    listener: tokio::net::TcpListener,
    runtime: &ListenerRuntime,
    shared: &Shared,
    mut serve: F,
) where
    F: FnMut(tokio::net::TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut out_of_fds = false;
    loop {
        let slot = runtime.slots.acquire().await;
        let accepting = runtime.slots.accepting();
        while !shared.fds.admit() {
            tokio::time::sleep(FD_BACKOFF).await;
        }
        let accepted = listener.accept().await;
        drop(accepting);
        match accepted {
            Ok((stream, peer)) => {
                out_of_fds = false;
                if !runtime.admits(peer.ip()) {
                    // Refused before a byte is read or a backend dialled:
                    // a reset, so the client learns at once and nothing
                    // lingers in TIME_WAIT on the VIP.
                    let _ = stream.set_zero_linger();
                    tracing::debug!(%peer, "client outside the listener's allowed networks");
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let served = serve(stream, peer);
                tokio::spawn(async move {
                    let _slot = slot;
                    served.await;
                });
            }
            Err(e) if crate::fd::is_exhaustion(&e) => {
                // Once per episode, not once per retry.
                if !std::mem::replace(&mut out_of_fds, true) {
                    tracing::warn!(error = %e, "accept: out of descriptors; backing off");
                }
                shared.fds.refusals.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(FD_BACKOFF).await;
            }
            Err(e) => {
                // A connection reset before it was accepted, and the like.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// Pending-connection queue of a listening socket, as HAProxy and nginx
/// use by default (std's 128 drops bursts of new connections).
const BACKLOG: u32 = 1024;

pub(crate) fn bind_tcp(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

pub(crate) fn bind_udp(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}
