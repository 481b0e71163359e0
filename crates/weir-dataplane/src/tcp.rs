//! TCP listeners: a full proxy per client connection, with retry on
//! another backend when a connect fails, correct half-close, the drain
//! deadline closing what outlives a removal, and the idle timeout closing
//! a connection that moved no byte either way for that long (HAProxy's
//! `timeout client` / `timeout server` for TCP, one value for both).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::listener::ListenerRuntime;
use crate::pool::{BackendRuntime, ConnGuard, PassiveFailure, PoolRuntime};
use crate::upstream_tls::MemberStream;
use crate::Shared;

/// Per-direction copy buffer: it starts small, so a short connection costs
/// little, and doubles whenever a read fills it. A direction that has moved
/// `SPLICE_AFTER` bytes is a bulk transfer and continues by splice(2),
/// which spares the copy through user space (a pipe per direction costs too
/// much to set up for every short connection).
const COPY_START: usize = 4 * 1024;
const COPY_MAX: usize = 64 * 1024;
const SPLICE_AFTER: u64 = 1024 * 1024;

/// Accepts on one bound port until the task is aborted.
pub async fn accept_loop(
    listener: TcpListener,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    crate::listener::accept_each(listener, &runtime, &shared, |client, peer| {
        serve(client, peer, port, runtime.clone(), shared.clone())
    })
    .await;
}

/// Connects to a backend of the listener's pools, trying others when a
/// connect fails (passive health), within `shared.config.connect_attempts`.
async fn connect_upstream(
    runtime: &ListenerRuntime,
    shared: &Shared,
    client: SocketAddr,
    port: u16,
) -> Option<(MemberStream, Arc<BackendRuntime>)> {
    let spec = runtime.spec();
    let scheduler = spec.scheduler;
    // Backends without a port of their own: one port for every attempt.
    let dial_port = spec.inherited_port(port);
    let connect_timeout = spec.connect_timeout_ms.map(Duration::from_millis);
    let pools = runtime.pools();
    let mut tried = Vec::new();
    for _ in 0..shared.config.connect_attempts {
        let (pool, backend) = pick(&pools, scheduler, client, &tried)?;
        let addr = PoolRuntime::address(&backend, dial_port);
        let dialer = pool.dialer();
        match dialer
            .connect(&shared.egress, &backend, addr, connect_timeout)
            .await
        {
            Ok(stream) => {
                pool.record_success(&backend);
                return Some((stream, backend));
            }
            Err(e) => {
                pool.record_failure(&backend, PassiveFailure::Connect, &e);
                tried.push(backend.id.clone());
            }
        }
    }
    None
}

/// The first pool (own, then LB-wide) with an eligible backend decides;
/// `client` is the whole source address, for the schedulers that hash it.
pub fn pick(
    pools: &[Arc<PoolRuntime>],
    scheduler: weir_core::model::Scheduler,
    client: SocketAddr,
    exclude: &[weir_core::ids::BackendId],
) -> Option<(Arc<PoolRuntime>, Arc<BackendRuntime>)> {
    pools
        .iter()
        .find_map(|p| p.pick(scheduler, client, exclude).map(|b| (p.clone(), b)))
}

async fn serve(
    mut client: TcpStream,
    peer: SocketAddr,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    runtime.connections.fetch_add(1, Ordering::Relaxed);
    let Some((mut upstream, backend)) = connect_upstream(&runtime, &shared, peer, port).await
    else {
        runtime.failures.fetch_add(1, Ordering::Relaxed);
        // No backend could take it: close at once so the client sees it.
        let _ = client.shutdown().await;
        return;
    };
    let version = runtime.spec().proxy_protocol;
    if version != weir_core::model::ProxyProtocol::None {
        let listener = client.local_addr().unwrap_or(peer);
        let header = crate::proxy_protocol::header(version, peer, listener);
        if upstream.write_all(&header).await.is_err() {
            return;
        }
    }
    let guard = ConnGuard::new(backend);
    let mut closer = guard.backend().closer();
    let idle_timeout = Duration::from_millis(
        runtime
            .spec()
            .relay_idle_ms(shared.config.tcp_idle_timeout.as_millis() as u64),
    );
    let activity = Activity::new();
    let copy = async {
        match &mut upstream {
            MemberStream::Plain(upstream) => relay(&mut client, upstream, &activity).await,
            MemberStream::Tls(upstream) => relay_tls(&mut client, upstream, &activity).await,
        }
    };
    tokio::select! {
        copied = copy => {
            if let Ok((to_backend, to_client)) = copied {
                guard.backend().bytes_out.fetch_add(to_backend, Ordering::Relaxed);
                guard.backend().bytes_in.fetch_add(to_client, Ordering::Relaxed);
            }
        }
        () = closed(&mut closer) => {
            tracing::debug!(backend = %guard.backend().id, "drain deadline closed a connection");
        }
        () = activity.idle_for(idle_timeout) => {
            tracing::debug!(backend = %guard.backend().id, "idle timeout closed a connection");
        }
    }
}

/// When a connection last moved bytes, in milliseconds since it began
/// (also an HTTP connection's tunnel after an upgrade).
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Bytes moved just now.
    pub(crate) fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// Resolves once no bytes have moved for `timeout`.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = self.start.elapsed().saturating_sub(last);
            if quiet >= timeout {
                return;
            }
            tokio::time::sleep(timeout - quiet).await;
        }
    }
}

/// Copies both ways until both sides have finished; each side's EOF is
/// passed on as a half-close, except the last one: both sockets close right
/// after it, and the close sends that FIN itself (one system call less per
/// connection, and nothing is left unread to turn the close into a reset,
/// since each direction stopped only at its EOF).
async fn relay(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    activity: &Activity,
) -> std::io::Result<(u64, u64)> {
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = upstream.split();
    let finished = AtomicBool::new(false);
    tokio::try_join!(
        pump(client_read, upstream_write, &finished, activity),
        pump(upstream_read, client_write, &finished, activity)
    )
}

/// [`relay`] to a member dialled over TLS: the bytes are encrypted in
/// user space, so they are always copied (never spliced).
async fn relay_tls<U: AsyncRead + AsyncWrite + Unpin>(
    client: &mut TcpStream,
    upstream: &mut U,
    activity: &Activity,
) -> std::io::Result<(u64, u64)> {
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = tokio::io::split(upstream);
    let finished = AtomicBool::new(false);
    tokio::try_join!(
        copy_pump(client_read, upstream_write, &finished, activity),
        copy_pump(upstream_read, client_write, &finished, activity)
    )
}

/// Copies one direction between any two streams, passing the first EOF
/// on as a half-close (a TLS close_notify towards a member).
async fn copy_pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut from: R,
    mut to: W,
    finished: &AtomicBool,
    activity: &Activity,
) -> std::io::Result<u64> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; COPY_MAX];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await?;
        activity.touch();
        if n == 0 {
            if first_to_finish(finished) {
                to.shutdown().await?;
            }
            return Ok(total);
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        activity.touch();
        total += n as u64;
    }
}

/// Called by a direction at its EOF: true when it is the first, and so must
/// pass the half-close on.
fn first_to_finish(finished: &AtomicBool) -> bool {
    !finished.swap(true, Ordering::Relaxed)
}

/// Bytes moved per splice(2) call, and the pipe's capacity (Linux's
/// default pipe holds 64 KiB, which caps every splice at that and costs
/// four times the system calls; 1 MiB is the unprivileged maximum).
const SPLICE_CHUNK: usize = 1024 * 1024;

/// A pipe for [`splice_pump`]: (read end, write end).
type Pipe = (std::os::fd::OwnedFd, std::os::fd::OwnedFd);

fn splice_pipe() -> std::io::Result<Pipe> {
    use nix::fcntl::OFlag;
    let (pipe_out, pipe_in) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
    // Best effort: a lower pipe-max-size leaves the default, which works.
    let _ = nix::fcntl::fcntl(
        &pipe_in,
        nix::fcntl::FcntlArg::F_SETPIPE_SZ(SPLICE_CHUNK as nix::libc::c_int),
    );
    Ok((pipe_out, pipe_in))
}

/// Moves bytes kernel-side, socket to pipe to socket, without copying them
/// through user space.
async fn splice_pump(
    from: &TcpStream,
    to: &TcpStream,
    finished: &AtomicBool,
    activity: &Activity,
    (pipe_out, pipe_in): Pipe,
) -> std::io::Result<u64> {
    use std::io::{Error, ErrorKind};
    use std::os::fd::AsRawFd;

    use nix::fcntl::{splice, SpliceFFlags};
    use tokio::io::Interest;

    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    let mut total = 0u64;
    loop {
        from.readable().await?;
        let n = match from.try_io(Interest::READABLE, || {
            splice(from, None, &pipe_in, None, SPLICE_CHUNK, flags).map_err(Error::from)
        }) {
            Ok(0) => {
                if first_to_finish(finished) {
                    let _ = nix::sys::socket::shutdown(
                        to.as_raw_fd(),
                        nix::sys::socket::Shutdown::Write,
                    );
                }
                return Ok(total);
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        activity.touch();
        let mut left = n;
        while left > 0 {
            to.writable().await?;
            match to.try_io(Interest::WRITABLE, || {
                splice(&pipe_out, None, to, None, left, flags).map_err(Error::from)
            }) {
                Ok(m) => {
                    left -= m;
                    activity.touch();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        total += n as u64;
    }
}

/// Copies one direction. Reads go into the buffer's spare capacity, so a
/// short connection never pays for zeroing buffers it barely uses.
async fn pump(
    mut from: tokio::net::tcp::ReadHalf<'_>,
    mut to: tokio::net::tcp::WriteHalf<'_>,
    finished: &AtomicBool,
    activity: &Activity,
) -> std::io::Result<u64> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::with_capacity(COPY_START);
    let mut total = 0u64;
    let mut may_splice = true;
    loop {
        buf.clear();
        let n = from.read_buf(&mut buf).await?;
        activity.touch();
        if n == 0 {
            if first_to_finish(finished) {
                to.shutdown().await?;
            }
            return Ok(total);
        }
        to.write_all(&buf).await?;
        activity.touch();
        total += n as u64;
        if may_splice && total >= SPLICE_AFTER {
            // A bulk transfer: from here the kernel moves the bytes. With
            // no descriptors left for a pipe, copying carries on instead.
            match splice_pipe() {
                Ok(pipe) => {
                    let (from, to) = (from.as_ref(), to.as_ref());
                    return Ok(total + splice_pump(from, to, finished, activity, pipe).await?);
                }
                Err(_) => may_splice = false,
            }
        }
        if n == buf.capacity() && buf.capacity() < COPY_MAX {
            // Nothing in it is still needed: a fresh one spares the copy.
            buf = Vec::with_capacity(buf.capacity() * 2);
        }
    }
}

/// Resolves when the backend's drain deadline passes.
pub async fn closed(closer: &mut watch::Receiver<bool>) {
    loop {
        if *closer.borrow_and_update() {
            return;
        }
        if closer.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
