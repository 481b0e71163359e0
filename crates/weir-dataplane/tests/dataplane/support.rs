//! Loopback backends, topology builders and bounded waiting.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use weir_core::model::*;
use weir_core::topology::*;
use weir_dataplane::pool::Ejection;
use weir_dataplane::{Config, DataPlane};

/// A data plane allowed to dial loopback only, with short timers.
pub fn dataplane() -> DataPlane {
    dataplane_with(|_| {})
}

/// [`dataplane`] with `change` applied to its settings.
pub fn dataplane_with(change: impl FnOnce(&mut Config)) -> DataPlane {
    let mut config = Config {
        egress_allow: vec!["127.0.0.0/8".parse().unwrap()],
        connect_timeout: Duration::from_secs(2),
        connect_attempts: 3,
        ejection: Ejection {
            after_failures: 1,
            period: Duration::from_millis(300),
        },
        udp_idle_timeout: Duration::from_millis(500),
        max_ports_per_listener: 64,
        bind_retry: Duration::from_millis(50),
        ..Config::default()
    };
    change(&mut config);
    DataPlane::new(config)
}

static NEXT_VIP: AtomicU32 = AtomicU32::new(1);

/// A fresh loopback VIP and a port free on it.
pub fn vip() -> SocketAddr {
    let n = NEXT_VIP.fetch_add(1, Ordering::Relaxed) + std::process::id() % 200 * 256;
    let ip: IpAddr = format!(
        "127.{}.{}.{}",
        10 + (n >> 16) % 200,
        (n >> 8) & 255,
        n & 255 | 1
    )
    .parse()
    .unwrap();
    let probe = std::net::TcpListener::bind((ip, 0)).unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    SocketAddr::new(ip, port)
}

/// A TCP backend: sends `tag\n`, then echoes.
pub async fn tcp_backend(tag: &str) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tag = tag.to_owned();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let tag = tag.clone();
            tokio::spawn(async move {
                if stream
                    .write_all(format!("{tag}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, task)
}

/// A UDP backend: answers each datagram with `tag:payload`.
pub async fn udp_backend(tag: &str) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let tag = tag.to_owned();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let mut reply = format!("{tag}:").into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, from).await;
        }
    });
    (addr, task)
}

/// Connects to `addr` and reads the backend's tag line; `None` when the
/// connection is refused or closed without one.
pub async fn tag_of(addr: SocketAddr) -> Option<String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut line = String::new();
    let mut reader = BufReader::new(stream);
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .ok()?
        .ok()?;
    let tag = line.trim().to_owned();
    (!tag.is_empty()).then_some(tag)
}

/// An open client connection with its backend's tag read.
pub async fn open(addr: SocketAddr) -> (String, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    (line.trim().to_owned(), reader)
}

/// Echo round trip on an open connection.
pub async fn echo(conn: &mut BufReader<TcpStream>, text: &str) -> Option<String> {
    conn.get_mut()
        .write_all(format!("{text}\n").as_bytes())
        .await
        .ok()?;
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read_line(&mut line))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| line.trim().to_owned())
}

/// Whether the peer has closed `conn` (reads EOF within the timeout).
pub async fn closed_within(conn: &mut BufReader<TcpStream>, timeout: Duration) -> bool {
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(timeout, conn.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// One backend of a test topology.
pub fn backend(id: &str, addr: SocketAddr, weight: u16) -> BackendTarget {
    BackendTarget {
        id: id.into(),
        address: addr.ip(),
        ports: BackendPorts::One(addr.port()),
        weight,
        enabled: true,
        backup: false,
        monitor_address: None,
        monitor_port: None,
    }
}

/// A topology with one listener on `vip` and one pool.
pub fn topology(
    revision: u64,
    vip: SocketAddr,
    protocol: Protocol,
    scheduler: Scheduler,
    backends: Vec<BackendTarget>,
    check: Option<HealthCheck>,
    drain_timeout_ms: u64,
) -> Arc<Topology> {
    let pool = PoolSpec {
        id: "pool".into(),
        lb_id: "lb".into(),
        health_check: check,
        drain_timeout_ms,
        slow_start_ms: 0,
        fail_open: false,
        tls: None,
        backends: backends.into_iter().collect(),
    };
    let listener = ListenerSpec {
        id: "listener".into(),
        lb_id: "lb".into(),
        vip: vip.ip(),
        protocol,
        ports: ListenerPorts::Single(vip.port()),
        forwarding_mode: ForwardingMode::Proxy,
        scheduler,
        proxy_protocol: ProxyProtocol::None,
        backend_port: None,
        pools: vec!["pool".into()],
        max_connections: None,
        idle_timeout_ms: None,
        connect_timeout_ms: None,
        backend_timeout_ms: None,
        allowed_cidrs: Vec::new(),
        acl: None,
        forwarded_headers: Default::default(),
        persistence: None,
        l7: None,
        l7_targets: Vec::new(),
        tls: None,
        tls_options: Default::default(),
        client_verify: None,
        redirect_https_port: None,
        vip_mode: None,
    };
    Arc::new(Topology {
        revision,
        listeners: BTreeMap::from([(listener.id.clone(), Arc::new(listener))]),
        pools: BTreeMap::from([(pool.id.clone(), Arc::new(pool))]),
    })
}

/// `topology` with its listeners changed by `change`.
pub fn with_listener(topology: Arc<Topology>, change: impl Fn(&mut ListenerSpec)) -> Arc<Topology> {
    let mut t = (*topology).clone();
    for listener in t.listeners.values_mut() {
        let mut spec = (**listener).clone();
        change(&mut spec);
        *listener = Arc::new(spec);
    }
    Arc::new(t)
}

/// A listener-wide value from the data plane's metrics.
pub fn listener_metric(dp: &DataPlane, family: &str) -> Option<u64> {
    let mut text = String::new();
    dp.render_metrics(&mut text);
    let prefix = format!("{family}{{listener=\"listener\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
}

/// `topology` with the pool's slow start set to `ms`.
pub fn with_slow_start(topology: Arc<Topology>, ms: u64) -> Arc<Topology> {
    let mut t = (*topology).clone();
    for pool in t.pools.values_mut() {
        let mut spec = (**pool).clone();
        spec.slow_start_ms = ms;
        *pool = Arc::new(spec);
    }
    Arc::new(t)
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Counts tags over `n` fresh connections.
pub async fn spread(addr: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let tag = tag_of(addr).await.unwrap_or_else(|| "<failed>".to_owned());
        *counts.entry(tag).or_insert(0) += 1;
    }
    counts
}

/// A per-backend value from the data plane's metrics.
pub fn metric(dp: &DataPlane, family: &str, backend: &str) -> Option<u64> {
    let mut text = String::new();
    dp.render_metrics(&mut text);
    let prefix = format!("{family}{{backend=\"{backend}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.parse().ok())
}
