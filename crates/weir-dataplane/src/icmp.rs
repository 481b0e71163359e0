//! ICMP echo for PING checks (Octavia's PING monitor, UCloud's `Ping`).
//!
//! Two kinds of socket can send an echo request, found out once at
//! startup ([`IcmpSupport::detect`]) by opening them, which is exactly the
//! kernel's own test:
//!
//! - the unprivileged ICMP datagram socket (`socket(AF_INET, SOCK_DGRAM,
//!   IPPROTO_ICMP)`, ICMPv6 likewise), admitted when the process's group
//!   is inside `net.ipv4.ping_group_range`. The kernel fills in the
//!   identifier (the socket's "port") and hands the socket only the
//!   replies carrying it, without the IP header;
//! - a raw socket (CAP_NET_RAW), which sees every ICMP packet the host
//!   receives, so a reply is taken only when its source address,
//!   identifier, sequence and payload are all ours. IPv4 raw sockets
//!   receive the IP header too.
//!
//! Each check opens its own socket through [`crate::egress::Egress::icmp`]
//! (the egress guard holds echo requests to `dataplane.egress_allow` like
//! every other dial) and closes it when the answer or the timeout comes.
//! The packet builder and the reply parser are pure functions; the parser
//! takes arbitrary bytes (`tests::the_parser_never_panics`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU16, Ordering};

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
use tokio::net::UdpSocket;

/// ICMP types of the echo exchange.
const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// The ICMP header: type, code, checksum, identifier, sequence.
const HEADER: usize = 8;
/// What follows the random token in every request's payload.
const MARK: &[u8; 8] = b"weir-chk";

/// How this process can send ICMP echo requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// `SOCK_DGRAM` + `IPPROTO_ICMP(V6)`: unprivileged, kernel-filtered.
    Datagram,
    /// `SOCK_RAW`: needs CAP_NET_RAW, filtered here.
    Raw,
}

/// What [`IcmpSupport::detect`] found, per address family. The default
/// is none: the data plane then refuses PING checks (and the core, told
/// by the composition root, refuses to plan them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpSupport {
    pub v4: Option<SocketKind>,
    pub v6: Option<SocketKind>,
}

impl IcmpSupport {
    /// Opens (and closes) a socket of each kind and family, preferring
    /// the unprivileged one. Done once, at startup.
    pub fn detect() -> Self {
        let find = |v6: bool| {
            [SocketKind::Datagram, SocketKind::Raw]
                .into_iter()
                .find(|kind| open(*kind, v6).is_ok())
        };
        Self {
            v4: find(false),
            v6: find(true),
        }
    }

    /// Whether any echo request can be sent.
    pub fn any(&self) -> bool {
        self.v4.is_some() || self.v6.is_some()
    }

    /// The socket for `ip`'s family, if there is one.
    pub fn kind_for(&self, ip: IpAddr) -> Option<SocketKind> {
        if ip.is_ipv4() {
            self.v4
        } else {
            self.v6
        }
    }
}

/// A non-blocking ICMP socket of `kind` for IPv4 or IPv6.
fn open(kind: SocketKind, v6: bool) -> io::Result<OwnedFd> {
    let (family, protocol) = if v6 {
        (AddressFamily::Inet6, SockProtocol::IcmpV6)
    } else {
        (AddressFamily::Inet, SockProtocol::Icmp)
    };
    let ty = match kind {
        SocketKind::Datagram => SockType::Datagram,
        SocketKind::Raw => SockType::Raw,
    };
    Ok(socket(
        family,
        ty,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        protocol,
    )?)
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request. IPv4's checksum is ours to compute; ICMPv6's covers
/// a pseudo-header with addresses the kernel picks, so the kernel fills
/// it in (RFC 3542 §3.1, for raw and datagram sockets alike).
pub fn echo_request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER + payload.len());
    packet.push(if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 });
    packet.push(0);
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// An echo reply as read off a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply<'a> {
    pub id: u16,
    pub seq: u16,
    pub payload: &'a [u8],
}

/// Reads an echo reply out of what a socket returned: with the IPv4
/// header first when `ip_header` (IPv4 raw sockets), else the ICMP
/// message alone. Anything else (another ICMP type, a truncated or
/// malformed packet, a bad IPv4 checksum) is `None`.
pub fn parse_reply(v6: bool, ip_header: bool, bytes: &[u8]) -> Option<EchoReply<'_>> {
    let icmp = if ip_header {
        let first = *bytes.first()?;
        let header_len = usize::from(first & 0x0f) * 4;
        // Version 4, a header of at least 20 bytes, carrying ICMP.
        if first >> 4 != 4 || header_len < 20 || *bytes.get(9)? != 1 {
            return None;
        }
        bytes.get(header_len..)?
    } else {
        bytes
    };
    if icmp.len() < HEADER {
        return None;
    }
    let reply = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    if icmp[0] != reply || icmp[1] != 0 {
        return None;
    }
    // ICMPv6's checksum was checked by the kernel against the
    // pseudo-header; a raw IPv4 socket is handed packets before ICMP
    // checks them, so IPv4's is checked here.
    if !v6 && checksum(icmp) != 0 {
        return None;
    }
    Some(EchoReply {
        id: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: &icmp[HEADER..],
    })
}

/// Identifiers and sequences for raw sockets: distinct per check in this
/// process, and starting from an unpredictable point.
fn next_id_and_seq() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = (std::process::id() as u16) ^ n.rotate_left(8);
    (id, n)
}

/// Eight bytes no other sender can predict: a reply must echo them.
fn token() -> [u8; 8] {
    RandomState::new().build_hasher().finish().to_ne_bytes()
}

/// One echo socket, opened by the egress guard for one target.
///
/// It is driven as a tokio `UdpSocket`: tokio's `AsyncFd` registration is
/// `unsafe` (the workspace forbids unsafe code), while a `UdpSocket` made
/// from an owned descriptor is safe and drives any datagram-like
/// descriptor's readiness; its `send_to` and `recv_from` are plain
/// sendto(2) and recvfrom(2), which ICMP sockets of both kinds take.
#[derive(Debug)]
pub struct IcmpSocket {
    socket: UdpSocket,
    kind: SocketKind,
    target: IpAddr,
}

impl IcmpSocket {
    /// Only [`crate::egress::Egress::icmp`] opens one, after the
    /// allow-list check. `target` is canonical (never IPv4-mapped).
    pub(crate) fn open(kind: SocketKind, target: IpAddr) -> io::Result<Self> {
        let fd = open(kind, target.is_ipv6())?;
        Ok(Self {
            socket: UdpSocket::from_std(std::net::UdpSocket::from(fd))?,
            kind,
            target,
        })
    }

    /// Sends one echo request and waits for its reply (the caller bounds
    /// the wait). Replies from another address, or with another
    /// identifier, sequence or payload, are read and ignored.
    pub async fn echo(&self) -> io::Result<()> {
        let v6 = self.target.is_ipv6();
        let (id, seq) = next_id_and_seq();
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&token());
        payload[8..].copy_from_slice(MARK);
        let packet = echo_request(v6, id, seq, &payload);
        self.socket
            .send_to(&packet, SocketAddr::new(self.target, 0))
            .await?;
        let ip_header = self.kind == SocketKind::Raw && !v6;
        let mut buf = [0u8; 1500];
        loop {
            let (len, from) = self.socket.recv_from(&mut buf).await?;
            if from.ip() != self.target {
                continue;
            }
            let Some(reply) = parse_reply(v6, ip_header, &buf[..len]) else {
                continue;
            };
            // A datagram socket's identifier is the kernel's, which also
            // delivers it only that socket's replies; a raw socket's is ours.
            let id_matches = self.kind == SocketKind::Datagram || reply.id == id;
            if id_matches && reply.seq == seq && reply.payload == payload {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn checksums_follow_rfc_1071() {
        // RFC 1071 §3's example words sum to 0xddf2.
        let words = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&words), !0xddf2);
        // A packet carrying its checksum sums to zero; an odd length pads.
        let packet = echo_request(false, 0x1234, 7, b"abc");
        assert_eq!(checksum(&packet), 0);
    }

    #[test]
    fn a_reply_is_read_back_in_every_framing() {
        let payload = b"0123456789abcdef";
        // The reply to our request: the same message with the reply type.
        let mut reply = echo_request(false, 0xbeef, 42, payload);
        reply[0] = ECHO_REPLY_V4;
        reply[2..4].copy_from_slice(&[0, 0]);
        let sum = checksum(&reply);
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        let want = EchoReply {
            id: 0xbeef,
            seq: 42,
            payload,
        };
        assert_eq!(parse_reply(false, false, &reply), Some(want));
        // Behind a 24-byte IPv4 header (with options), as a raw socket reads it.
        let mut ip = vec![0x46, 0, 0, 0, 0, 0, 0, 0, 64, 1];
        ip.resize(24, 0);
        ip.extend_from_slice(&reply);
        assert_eq!(parse_reply(false, true, &ip), Some(want));
        // Not ICMP, a bad checksum, a request, truncated: not a reply.
        let mut udp = ip.clone();
        udp[9] = 17;
        assert_eq!(parse_reply(false, true, &udp), None);
        let mut corrupt = reply.clone();
        corrupt[9] ^= 1;
        assert_eq!(parse_reply(false, false, &corrupt), None);
        let request = echo_request(false, 0xbeef, 42, payload);
        assert_eq!(parse_reply(false, false, &request), None);
        assert_eq!(parse_reply(false, false, &reply[..7]), None);
        // ICMPv6: type 129, checksum left to the kernel.
        let mut v6 = echo_request(true, 1, 2, b"x");
        assert_eq!(v6[0], ECHO_REQUEST_V6);
        v6[0] = ECHO_REPLY_V6;
        assert_eq!(
            parse_reply(true, false, &v6),
            Some(EchoReply {
                id: 1,
                seq: 2,
                payload: b"x"
            })
        );
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            v6: bool,
            ip_header: bool,
        ) {
            if let Some(reply) = parse_reply(v6, ip_header, &bytes) {
                // What it reads lies inside what it was given.
                prop_assert!(reply.payload.len() + HEADER <= bytes.len());
            }
        }
    }
}
