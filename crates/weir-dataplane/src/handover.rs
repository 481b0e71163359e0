//! Handing listening sockets from one process to its successor (`weir
//! serve --takeover`), as HAProxy's `expose-fd listeners` and Envoy's hot
//! restart do: the sockets themselves move, not their addresses, so the
//! kernel's accept queues are never closed and no connection waiting in
//! one is lost.
//!
//! Old side: [`DataPlane::hold`] freezes the running state (no topology is
//! applied and no failed bind retried, so the set of sockets handed over
//! stays the set in use), [`DataPlane::listening_sockets`] duplicates every
//! bound socket for the binary to pass, and [`DataPlane::drain`] stops
//! accepting and reading, marks the process draining (an HTTP/1.1
//! connection's next response says `Connection: close` and the
//! connection ends after it; an HTTP/2 connection gets GOAWAY; TCP
//! tunnels and UDP flows run on), and waits until every connection is gone
//! or the deadline passes.
//!
//! New side: [`DataPlane::inherit`] takes the passed descriptors before the
//! first topology is applied; a listener whose address and transport match
//! one adopts it instead of binding ([`bind_tcp`], [`bind_udp`]), and
//! [`DataPlane::release_unclaimed`] closes what no listener wanted. UDP
//! sockets are not read until [`DataPlane::open_udp`] (after the old
//! process stopped reading), so one flow's datagrams never alternate
//! between the two processes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::listener::ListenerRuntime;
use crate::pool::lock;
use crate::DataPlane;

/// A socket's transport, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// How often a drain looks at the open connections.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// The handover state every connection task can see.
pub(crate) struct Handover {
    /// Sockets inherited from the predecessor and not yet claimed.
    inherited: Mutex<HashMap<(Transport, IpAddr, u16), OwnedFd>>,
    /// Set once this process drains for its successor.
    draining: watch::Sender<bool>,
    /// Whether UDP sockets may be read: not while the predecessor still
    /// reads the ones inherited from it.
    udp_turn: watch::Sender<bool>,
    /// While set, the follower applies nothing and binds nothing.
    held: watch::Sender<bool>,
}

impl Default for Handover {
    fn default() -> Self {
        Self {
            inherited: Mutex::default(),
            draining: watch::channel(false).0,
            udp_turn: watch::channel(true).0,
            held: watch::channel(false).0,
        }
    }
}

impl Handover {
    /// Whether this process is draining for its successor.
    pub(crate) fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    pub(crate) fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    pub(crate) fn is_held(&self) -> bool {
        *self.held.borrow()
    }

    /// Returns once the follower may apply again.
    pub(crate) async fn unheld(&self) {
        let mut held = self.held.subscribe();
        let _ = held.wait_for(|h| !*h).await;
    }

    /// Returns once UDP sockets may be read.
    pub(crate) async fn udp_turn(&self) {
        let mut turn = self.udp_turn.subscribe();
        let _ = turn.wait_for(|t| *t).await;
    }

    fn take(&self, transport: Transport, addr: SocketAddr) -> Option<OwnedFd> {
        lock(&self.inherited).remove(&(transport, addr.ip(), addr.port()))
    }
}

/// What the kernel says a descriptor is: a listening TCP socket or a UDP
/// socket, and its address; anything else is `None`.
pub fn identify(fd: &OwnedFd) -> Option<(Transport, SocketAddr)> {
    use nix::sys::socket::{getsockname, getsockopt, sockopt, SockType, SockaddrStorage};
    let transport = match getsockopt(fd, sockopt::SockType).ok()? {
        SockType::Stream if getsockopt(fd, sockopt::AcceptConn).ok()? => Transport::Tcp,
        SockType::Datagram => Transport::Udp,
        _ => return None,
    };
    let addr: SockaddrStorage = getsockname(fd.as_raw_fd()).ok()?;
    let addr = if let Some(v4) = addr.as_sockaddr_in() {
        SocketAddr::from(std::net::SocketAddrV4::from(*v4))
    } else {
        SocketAddr::from(std::net::SocketAddrV6::from(*addr.as_sockaddr_in6()?))
    };
    Some((transport, addr))
}

/// A listening TCP socket on `addr`: the inherited one if there is one,
/// else a new bind; a duplicate is kept in `runtime` for a later handover.
pub(crate) fn bind_tcp(
    runtime: &ListenerRuntime,
    shared: &crate::Shared,
    addr: SocketAddr,
) -> std::io::Result<tokio::net::TcpListener> {
    let listener = match shared.handover.take(Transport::Tcp, addr) {
        Some(fd) => {
            tracing::debug!(%addr, "adopted an inherited TCP listener");
            let std = std::net::TcpListener::from(fd);
            std.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(std)?
        }
        None => crate::listener::bind_tcp(addr)?,
    };
    lock(&runtime.sockets).push(listener.as_fd().try_clone_to_owned()?);
    Ok(listener)
}

/// A UDP socket on `addr`, inherited or new, as [`bind_tcp`].
pub(crate) fn bind_udp(
    runtime: &ListenerRuntime,
    shared: &crate::Shared,
    addr: SocketAddr,
) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = match shared.handover.take(Transport::Udp, addr) {
        Some(fd) => {
            tracing::debug!(%addr, "adopted an inherited UDP socket");
            let std = std::net::UdpSocket::from(fd);
            std.set_nonblocking(true)?;
            tokio::net::UdpSocket::from_std(std)?
        }
        None => crate::listener::bind_udp(addr)?,
    };
    lock(&runtime.sockets).push(socket.as_fd().try_clone_to_owned()?);
    Ok(socket)
}

impl ListenerRuntime {
    /// Stops accepting (UDP: reading) without ending what is open: the
    /// drain of a handover, whose successor now owns the sockets.
    fn stop_accepting(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        lock(&self.sockets).clear();
    }
}

impl DataPlane {
    /// Takes the sockets a predecessor passed, before the first topology
    /// is applied: each is identified by the kernel (a listening TCP or a
    /// UDP socket and its address) and waits for the listener that binds
    /// that address; anything else is closed. UDP sockets are not read
    /// until [`Self::open_udp`]. Returns how many were kept.
    pub fn inherit(&self, fds: Vec<OwnedFd>) -> usize {
        let handover = &self.shared.handover;
        let mut inherited = lock(&handover.inherited);
        let mut udp = false;
        for fd in fds {
            match identify(&fd) {
                Some((transport, addr)) => {
                    udp |= transport == Transport::Udp;
                    inherited.insert((transport, addr.ip(), addr.port()), fd);
                }
                None => tracing::warn!("an inherited descriptor is no listening socket; closed"),
            }
        }
        if udp {
            handover.udp_turn.send_replace(false);
        }
        inherited.len()
    }

    /// Closes the inherited sockets no listener claimed (listeners gone
    /// since the predecessor bound them); returns how many.
    pub fn release_unclaimed(&self) -> usize {
        let unclaimed = std::mem::take(&mut *lock(&self.shared.handover.inherited));
        for (transport, ip, port) in unclaimed.keys() {
            tracing::info!(?transport, %ip, port, "inherited socket no listener needs; closed");
        }
        unclaimed.len()
    }

    /// Lets UDP listeners read: the predecessor has stopped.
    pub fn open_udp(&self) {
        self.shared.handover.udp_turn.send_replace(true);
    }

    /// Freezes (or thaws) the running state: while held, no topology is
    /// applied and no failed bind retried, so the sockets handed over are
    /// the ones in use. A thaw applies the latest topology.
    pub fn hold(&self, held: bool) {
        self.shared.handover.held.send_replace(held);
    }

    /// A duplicate of every bound socket of every listener, for a
    /// successor.
    pub fn listening_sockets(&self) -> std::io::Result<Vec<OwnedFd>> {
        let running = lock(&self.running);
        let mut out = Vec::new();
        for listener in running.listeners.values() {
            for fd in lock(&listener.sockets).iter() {
                out.push(fd.try_clone()?);
            }
        }
        Ok(out)
    }

    /// Connections (UDP: flows) open on every listener.
    pub fn open_connections(&self) -> usize {
        lock(&self.running)
            .listeners
            .values()
            .map(|l| l.slots.open())
            .sum()
    }

    /// Stops accepting and reading on every listener (the successor now
    /// does), marks the process draining, and waits until no connection is
    /// open or `deadline` passed; returns the connections still open.
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.hold(true);
        let listeners: Vec<Arc<ListenerRuntime>> =
            lock(&self.running).listeners.values().cloned().collect();
        for listener in &listeners {
            listener.stop_accepting();
        }
        self.shared.handover.draining.send_replace(true);
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let open: usize = listeners.iter().map(|l| l.slots.open()).sum();
            if open == 0 || tokio::time::Instant::now() >= until {
                return open;
            }
            tokio::time::sleep(DRAIN_POLL.min(until - tokio::time::Instant::now())).await;
        }
    }

    /// Whether this data plane is draining for a successor.
    pub fn draining(&self) -> bool {
        self.shared.handover.is_draining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_names_listening_tcp_and_udp_sockets_and_nothing_else() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_addr = tcp.local_addr().unwrap();
        assert_eq!(
            identify(&OwnedFd::from(tcp)),
            Some((Transport::Tcp, tcp_addr))
        );
        let udp = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let udp_addr = udp.local_addr().unwrap();
        assert_eq!(
            identify(&OwnedFd::from(udp)),
            Some((Transport::Udp, udp_addr))
        );
        // A connected stream is no listener; a file is no socket.
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
        assert_eq!(identify(&OwnedFd::from(stream)), None);
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(identify(&OwnedFd::from(file)), None);
    }
}
