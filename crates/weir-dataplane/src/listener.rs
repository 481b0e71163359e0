//! Listeners at run time: the bound sockets and their accept tasks, the
//! pools they serve from, and their operating state.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use weir_core::model::{ListenerPorts, Protocol};
use weir_core::status::ListenerLive;
use weir_core::topology::ListenerSpec;

use crate::pool::{lock, PoolRuntime};
use crate::Shared;

/// A listener at run time.
pub struct ListenerRuntime {
    spec: ArcSwap<ListenerSpec>,
    pools: ArcSwap<Vec<Arc<PoolRuntime>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    status: Mutex<ListenerLive>,
    pub connections: AtomicU64,
    pub failures: AtomicU64,
}

impl ListenerRuntime {
    pub fn spec(&self) -> Arc<ListenerSpec> {
        self.spec.load_full()
    }

    pub fn pools(&self) -> Arc<Vec<Arc<PoolRuntime>>> {
        self.pools.load_full()
    }

    pub fn status(&self) -> ListenerLive {
        lock(&self.status).clone()
    }

    /// Takes a new spec that binds the same sockets (pools, scheduler).
    pub fn update(&self, spec: Arc<ListenerSpec>, pools: Vec<Arc<PoolRuntime>>) {
        self.spec.store(spec);
        self.pools.store(Arc::new(pools));
    }

    /// Stops accepting. Open connections carry on.
    pub fn stop(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }

    /// Binds every port of `spec` and starts serving. A listener this data
    /// plane cannot serve, or whose bind fails, reports why and binds
    /// nothing.
    pub fn start(
        spec: Arc<ListenerSpec>,
        pools: Vec<Arc<PoolRuntime>>,
        shared: &Arc<Shared>,
    ) -> Arc<Self> {
        let runtime = Arc::new(Self {
            spec: ArcSwap::new(spec.clone()),
            pools: ArcSwap::from_pointee(pools),
            tasks: Mutex::default(),
            status: Mutex::new(ListenerLive::Active),
            connections: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        let status = match bind_all(&spec, &runtime, shared) {
            Ok(tasks) => {
                *lock(&runtime.tasks) = tasks;
                ListenerLive::Active
            }
            Err(status) => status,
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
            Protocol::Tcp | Protocol::Http => bind_tcp(addr).map(|l| match spec.protocol {
                Protocol::Http => tokio::spawn(crate::http::accept_loop(
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
            }),
            Protocol::Udp => bind_udp(addr)
                .map(|s| tokio::spawn(crate::udp::serve(s, port, runtime.clone(), shared.clone()))),
        };
        match bound {
            Ok(task) => tasks.push(task),
            Err(e) => {
                for t in tasks {
                    t.abort();
                }
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
/// `TCP_NODELAY` set) to `serve` in a task of its own.
pub async fn accept_each<F, Fut>(listener: tokio::net::TcpListener, mut serve: F)
where
    F: FnMut(tokio::net::TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, peer));
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Pending-connection queue of a listening socket, as HAProxy and nginx
/// use by default (std's 128 drops bursts of new connections).
const BACKLOG: u32 = 1024;

fn bind_tcp(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket)
}
