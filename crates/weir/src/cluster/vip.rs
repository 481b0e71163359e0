//! The VIPs a `failover` node holds, on its interface: added and removed
//! over rtnetlink (never by running `ip`), and announced on the segment
//! with a gratuitous ARP request (IPv4) or an unsolicited neighbour
//! advertisement (IPv6), sent as whole Ethernet frames on a packet socket
//! so neighbours' caches move to this node at once.
//!
//! Each address is added with a valid lifetime of a few seconds and
//! re-added (refreshing it) at every renewal: if the process dies without
//! removing it (`kill -9`), its guard ([`super::guard`]) removes it at
//! once, and should the guard be gone too, the kernel drops it when the
//! lifetime runs out, so a crashed node does not answer for the VIP for
//! ever.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::stream::TryStreamExt;
use nix::sys::socket::{self, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType};
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, CacheInfo};
use rtnetlink::packet_route::link::LinkAttribute;

/// The addresses on `interface` now (none when it cannot be read).
pub fn on_interface(interface: &str) -> std::collections::BTreeSet<IpAddr> {
    let Ok(all) = nix::ifaddrs::getifaddrs() else {
        return Default::default();
    };
    all.filter(|i| i.interface_name == interface)
        .filter_map(|i| {
            let address = i.address?;
            if let Some(v4) = address.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// The interface the node's VIPs go on.
pub struct Addresses {
    handle: rtnetlink::Handle,
    name: String,
    index: u32,
    mac: [u8; 6],
    /// The interface as a packet-socket address (its index), for sending.
    link: LinkAddr,
    /// Seconds the kernel keeps an address not refreshed.
    lifetime_secs: u32,
    /// Told before an address goes on and after it comes off; one per
    /// node, shared by its `failover` and `anycast` loops.
    guard: Option<std::sync::Arc<super::guard::Guard>>,
}

impl Addresses {
    /// Finds the interface (its index and hardware address) and opens a
    /// netlink connection for it.
    pub async fn open(name: &str, lifetime_secs: u32) -> Result<Self, String> {
        let (connection, handle, _) = rtnetlink::new_connection()
            .map_err(|e| format!("cluster.vip_interface: cannot open netlink: {e}"))?;
        tokio::spawn(connection);
        let link = handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute()
            .try_next()
            .await
            .map_err(|e| format!("cluster.vip_interface: no interface {name:?}: {e}"))?
            .ok_or_else(|| format!("cluster.vip_interface: no interface {name:?}"))?;
        let mac = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
                _ => None,
            })
            .ok_or_else(|| {
                format!("cluster.vip_interface: {name:?} has no Ethernet address to announce from")
            })?;
        let packet_link = nix::ifaddrs::getifaddrs()
            .map_err(|e| format!("cannot list interfaces: {e}"))?
            .filter(|i| i.interface_name == name)
            .find_map(|i| i.address.and_then(|a| a.as_link_addr().copied()))
            .ok_or_else(|| format!("cluster.vip_interface: {name:?} has no link-layer address"))?;
        Ok(Self {
            handle,
            name: name.to_owned(),
            index: link.header.index,
            mac,
            link: packet_link,
            lifetime_secs: lifetime_secs.max(1),
            guard: None,
        })
    }

    /// From now on `guard` removes what is on should this process die.
    pub fn guarded(mut self, guard: std::sync::Arc<super::guard::Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// A successor serves on with the addresses that are on: the guard
    /// must leave them when this process ends.
    pub fn hand_over(&self) {
        if let Some(guard) = &self.guard {
            guard.hand_over();
        }
    }

    /// Adds `vip` as a host address (/32, /128 without duplicate address
    /// detection, which would keep it unusable for a second), or
    /// refreshes its lifetime when it is there.
    pub async fn add(&self, vip: IpAddr) -> Result<(), String> {
        // The guard hears of it first, so no moment has it on unguarded.
        if let Some(guard) = &self.guard {
            guard.on(vip);
        }
        let prefix = if vip.is_ipv4() { 32 } else { 128 };
        let mut request = self.handle.address().add(self.index, vip, prefix).replace();
        let message = request.message_mut();
        let mut lifetime = CacheInfo::default();
        lifetime.ifa_preferred = self.lifetime_secs;
        lifetime.ifa_valid = self.lifetime_secs;
        message
            .attributes
            .push(AddressAttribute::CacheInfo(lifetime));
        if vip.is_ipv6() {
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        request
            .execute()
            .await
            .map_err(|e| format!("cannot add {vip} to {}: {e}", self.name))
    }

    /// Removes `vip` from the interface (nothing to do when absent).
    pub async fn remove(&self, vip: IpAddr) -> Result<(), String> {
        let found: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .set_address_filter(vip)
            .execute()
            .try_collect()
            .await
            .map_err(|e| format!("cannot list {}'s addresses: {e}", self.name))?;
        for message in found {
            self.handle
                .address()
                .del(message)
                .execute()
                .await
                .map_err(|e| format!("cannot remove {vip} from {}: {e}", self.name))?;
        }
        if let Some(guard) = &self.guard {
            guard.off(vip);
        }
        Ok(())
    }

    /// Tells the segment that `vip` is at this interface's hardware
    /// address. A failure is logged, not fatal: neighbours then learn the
    /// new owner at their next resolution.
    pub fn announce(&self, vip: IpAddr) {
        let frame = match vip {
            IpAddr::V4(v4) => gratuitous_arp(self.mac, v4),
            IpAddr::V6(v6) => unsolicited_na(self.mac, v6),
        };
        let sent = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .and_then(|fd| {
            socket::sendto(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                &frame,
                &self.link,
                MsgFlags::MSG_DONTWAIT,
            )
        });
        if let Err(e) = sent {
            tracing::warn!(%vip, interface = %self.name, error = %e, "cannot announce the VIP");
        }
    }
}

impl Addresses {
    /// Whether another hardware address claims `vip` within `wait`: for
    /// IPv4 an ARP request from 0.0.0.0 (RFC 5227's probe) and a reply
    /// from another host; for IPv6 a neighbour solicitation from `::`
    /// (duplicate address detection, RFC 4862) and an advertisement of
    /// the VIP from another host. A node that takes a lease checks first:
    /// an address a dead node left (its guard gone too) answers until its
    /// lifetime ends; taking the VIP up only once nobody answers keeps two
    /// nodes from answering at once.
    pub async fn answered_elsewhere(&self, vip: IpAddr, wait: std::time::Duration) -> bool {
        let (mac, link) = (self.mac, self.link);
        let request = match vip {
            IpAddr::V4(v4) => arp_probe(mac, v4),
            IpAddr::V6(v6) => dad_probe(mac, v6),
        };
        let answer = move |frame: &[u8]| match vip {
            IpAddr::V4(v4) => answers(frame, mac, v4),
            IpAddr::V6(v6) => advertises(frame, mac, v6),
        };
        tokio::task::spawn_blocking(move || match probe(&link, &request, answer, wait) {
            Ok(answered) => answered,
            Err(e) => {
                tracing::warn!(%vip, error = %e, "cannot probe for the VIP; taking it");
                false
            }
        })
        .await
        .unwrap_or(false)
    }
}

/// Sends `request` on `link` and listens for `wait` for a frame `answer`
/// accepts.
fn probe(
    link: &LinkAddr,
    request: &[u8],
    answer: impl Fn(&[u8]) -> bool,
    wait: std::time::Duration,
) -> nix::Result<bool> {
    use std::os::fd::AsRawFd;
    let fd = socket::socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        socket::SockProtocol::EthAll,
    )?;
    socket::bind(fd.as_raw_fd(), link)?;
    socket::setsockopt(
        &fd,
        socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(0, 5_000),
    )?;
    socket::sendto(fd.as_raw_fd(), request, link, MsgFlags::empty())?;
    let end = std::time::Instant::now() + wait;
    let mut frame = [0u8; 128];
    while std::time::Instant::now() < end {
        let Ok(n) = socket::recv(fd.as_raw_fd(), &mut frame, MsgFlags::empty()) else {
            continue;
        };
        if answer(&frame[..n]) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// RFC 5227's ARP probe: a request for `vip` from 0.0.0.0, so no
/// neighbour learns anything from it.
fn arp_probe(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut request = gratuitous_arp(mac, vip);
    request[28..32].copy_from_slice(&[0; 4]);
    request
}

/// A neighbour solicitation for `vip` from `::` to its solicited-node
/// group (RFC 4862's duplicate address detection): a host holding `vip`
/// answers with an advertisement to all nodes; no neighbour learns
/// anything from it.
fn dad_probe(mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    let o = vip.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    let mut icmp = Vec::with_capacity(24);
    icmp.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
    icmp.extend_from_slice(&o);
    let sum = icmpv6_checksum(Ipv6Addr::UNSPECIFIED, group, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0xff, o[13], o[14], o[15]]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&0x86ddu16.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(icmp.len()).unwrap_or(0).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
    f.extend_from_slice(&group.octets());
    f.extend_from_slice(&icmp);
    f
}

/// Whether `frame` is a neighbour advertisement of `vip` from another
/// host (ICMPv6 right after the fixed header, as NDP sends it).
fn advertises(frame: &[u8], mac: [u8; 6], vip: Ipv6Addr) -> bool {
    frame.len() >= 78
        && frame[12..14] == [0x86, 0xdd]
        && frame[6..12] != mac
        && frame[20] == 58
        && frame[54] == 136
        && frame[62..78] == vip.octets()
}

/// Whether `frame` is an ARP reply from another host claiming `vip`.
fn answers(frame: &[u8], mac: [u8; 6], vip: Ipv4Addr) -> bool {
    frame.len() >= 42
        && frame[12..14] == [0x08, 0x06]
        && frame[20..22] == [0, 2]
        && frame[22..28] != mac
        && frame[28..32] == vip.octets()
}

/// An Ethernet broadcast carrying an ARP request for `vip` from `vip`
/// (RFC 5227's announcement): every neighbour updates its entry.
pub fn gratuitous_arp(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&vip.octets());
    f
}

/// An unsolicited neighbour advertisement (RFC 4861 §7.2.6) for `vip` to
/// all nodes, with the override flag and this hardware address.
pub fn unsolicited_na(mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[136, 0, 0, 0]);
    icmp.extend_from_slice(&0x2000_0000u32.to_be_bytes());
    icmp.extend_from_slice(&vip.octets());
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&mac);
    let sum = icmpv6_checksum(vip, all_nodes, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&0x86ddu16.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(icmp.len()).unwrap_or(0).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&all_nodes.octets());
    f.extend_from_slice(&icmp);
    f
}

/// The Internet checksum of an ICMPv6 message with its pseudo-header.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let len = u32::try_from(message.len()).unwrap_or(0);
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            sum += hi | pair.get(1).map_or(0, |lo| u32::from(*lo));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&len.to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // `sum` fits 16 bits after the fold.
    !(u16::try_from(sum).unwrap_or(0xffff))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0x5e, 0x10, 0x20, 0x30];

    #[test]
    fn a_gratuitous_arp_names_the_vip_as_sender_and_target() {
        let vip = Ipv4Addr::new(198, 18, 0, 100);
        let f = gratuitous_arp(MAC, vip);
        assert_eq!(f.len(), 42);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        // Request (opcode 1), sender = this MAC and the VIP, target = VIP.
        assert_eq!(&f[20..22], &[0, 1]);
        assert_eq!(&f[22..28], &MAC);
        assert_eq!(&f[28..32], &vip.octets());
        assert_eq!(&f[38..42], &vip.octets());
    }

    #[test]
    fn only_another_hosts_reply_for_the_vip_counts_as_an_answer() {
        let vip = Ipv4Addr::new(198, 18, 0, 100);
        let other = [0x02, 9, 9, 9, 9, 9];
        let mut reply = gratuitous_arp(other, vip);
        reply[20..22].copy_from_slice(&[0, 2]);
        assert!(answers(&reply, MAC, vip));
        assert!(!answers(&reply, other, vip), "our own reply");
        assert!(!answers(&reply, MAC, Ipv4Addr::new(198, 18, 0, 101)));
        assert!(!answers(&gratuitous_arp(other, vip), MAC, vip), "a request");
        assert!(!answers(&reply[..41], MAC, vip));
    }

    #[test]
    fn a_dad_probe_asks_the_solicited_node_group_from_nowhere() {
        let vip: Ipv6Addr = "2001:db8::1:2:3".parse().unwrap();
        let f = dad_probe(MAC, vip);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0xff, 0x02, 0x00, 0x03]);
        assert_eq!(f[20], 58);
        assert_eq!(f[21], 255);
        assert_eq!(&f[22..38], &[0; 16], "source ::");
        let group: Ipv6Addr = "ff02::1:ff02:3".parse().unwrap();
        assert_eq!(&f[38..54], &group.octets());
        let icmp = &f[54..];
        assert_eq!(icmp.len(), 24, "no link-layer option from ::");
        assert_eq!(icmp[0], 135);
        assert_eq!(&icmp[8..24], &vip.octets());
        assert_eq!(icmpv6_checksum(Ipv6Addr::UNSPECIFIED, group, icmp), 0);
    }

    #[test]
    fn only_another_hosts_advertisement_of_the_vip_counts() {
        let vip: Ipv6Addr = "2001:db8::64".parse().unwrap();
        let other = [0x02, 9, 9, 9, 9, 9];
        let na = unsolicited_na(other, vip);
        assert!(advertises(&na, MAC, vip));
        assert!(!advertises(&na, other, vip), "our own");
        assert!(!advertises(&na, MAC, "2001:db8::65".parse().unwrap()));
        assert!(
            !advertises(&dad_probe(other, vip), MAC, vip),
            "a solicitation"
        );
        assert!(!advertises(&na[..77], MAC, vip));
    }

    #[test]
    fn an_unsolicited_na_checks_out() {
        let vip: Ipv6Addr = "2001:db8::64".parse().unwrap();
        let f = unsolicited_na(MAC, vip);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[20], 58, "next header ICMPv6");
        assert_eq!(f[21], 255, "hop limit 255, or receivers drop it");
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4] & 0x20, 0x20, "override");
        assert_eq!(&icmp[8..24], &vip.octets());
        assert_eq!(&icmp[26..32], &MAC);
        // A receiver's check: the sum over pseudo-header and message,
        // checksum included, is all ones (complement zero).
        let dst: [u8; 16] = f[38..54].try_into().unwrap();
        assert_eq!(icmpv6_checksum(vip, Ipv6Addr::from(dst), icmp), 0);
    }
}
