//! Address rules every comparison shares: one canonical form for IPv4
//! written as IPv6, range membership on that form, and what a tenant may
//! choose as a VIP.
//!
//! `::ffff:10.0.0.5` is 10.0.0.5 on the wire (a dual-stack socket dials the
//! IPv4 host), but it is a different `IpAddr` and lies in no IPv4 range, so
//! before this module it slipped past every range and equality check (the
//! metadata address, a VIP, `network.backend_ranges`, the egress
//! allow-list). Everything that compares addresses goes through
//! [`canonical`] or [`in_ranges`].

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::settings::NetworkSettings;
use crate::Error;

/// The cloud metadata service: never a backend, whatever the ranges say.
pub const METADATA_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));

/// The address as the network sees it: IPv4-mapped IPv6 becomes IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The longest text an IP literal can have: eight full IPv6 groups with
/// the last two written as dotted IPv4
/// (`0000:0000:0000:0000:0000:0000:255.255.255.255`).
pub const MAX_LITERAL_LEN: usize = 45;

/// The caller's own spelling of `address`, worth keeping beside it:
/// Octavia stores a member address as the caller wrote it
/// (`2001:db8:0:0:0:0:0:1`) and shows that text back, where Weir's form
/// is `2001:db8::1`. Only a text that is itself an IP literal parsing to
/// exactly `address` is kept (so nothing unvalidated is ever echoed, and
/// the IPv4-mapped spelling of an IPv4 address, which [`canonical`] folds,
/// is not); `None` when it is the canonical text already.
pub fn spelling(text: &str, address: IpAddr) -> Option<String> {
    (text.len() <= MAX_LITERAL_LEN
        && text.parse::<IpAddr>() == Ok(address)
        && text != address.to_string())
    .then(|| text.to_owned())
}

/// A range in canonical form: `::ffff:10.0.0.0/104` becomes `10.0.0.0/8`,
/// so an operator who writes the mapped form gets the range they meant.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}

/// Whether `ip` lies in one of `ranges`, both sides canonical.
pub fn in_ranges(ranges: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    ranges.iter().any(|r| canonical_net(*r).contains(&ip))
}

/// Parses a VIP a tenant asked for and says why it cannot be one, or
/// returns it. A VIP is bound on this host, so it must be a unicast host
/// address of `network.vip_ranges` (not their network or broadcast
/// address) and must be written the one way the socket layer binds it:
/// the IPv4-mapped form would bind a second, IPv6 socket for the same
/// IPv4 address and dodge the "already used" check.
pub fn check_vip(text: &str, network: &NetworkSettings) -> Result<IpAddr, Error> {
    let refuse = |reason: String| Error::VipNotAllowed {
        vip: text.to_owned(),
        reason,
    };
    let ip: IpAddr = text
        .parse()
        .map_err(|_| refuse("it is not an IP address".to_owned()))?;
    if let Some(reason) = vip_refusal(ip, network) {
        return Err(refuse(reason));
    }
    Ok(ip)
}

/// Why `ip` cannot be a VIP, or `None` when it can (also used to skip
/// unusable addresses while allocating).
pub fn vip_refusal(ip: IpAddr, network: &NetworkSettings) -> Option<String> {
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return Some(format!(
                "it is an IPv4-mapped IPv6 address; give the IPv4 address {v4}"
            ));
        }
    }
    if ip.is_unspecified() {
        return Some("it is the unspecified address (it would bind every interface)".to_owned());
    }
    if ip.is_multicast() {
        return Some("it is a multicast address".to_owned());
    }
    if ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
        return Some("it is the broadcast address".to_owned());
    }
    let ranges = &network.vip_ranges;
    let Some(range) = ranges
        .iter()
        .map(|r| canonical_net(*r))
        .find(|r| r.contains(&ip))
    else {
        let allowed: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        return Some(format!(
            "it is outside network.vip_ranges ({})",
            allowed.join(", ")
        ));
    };
    if let IpNet::V4(v4) = range {
        // /31 and /32 have no network or broadcast address (RFC 3021).
        if v4.prefix_len() < 31 && (ip == v4.network() || ip == v4.broadcast()) {
            return Some(format!("it is the network or broadcast address of {range}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_a_literal_of_the_same_address_is_kept_as_its_spelling() {
        let v6 = ip("2001:db8::1");
        assert_eq!(
            spelling("2001:db8:0:0:0:0:0:1", v6).as_deref(),
            Some("2001:db8:0:0:0:0:0:1")
        );
        assert_eq!(
            spelling("2001:DB8:0000::0001", v6).as_deref(),
            Some("2001:DB8:0000::0001")
        );
        assert_eq!(spelling("2001:db8::1", v6), None, "already canonical");
        assert_eq!(spelling("10.0.0.1", ip("10.0.0.1")), None);
        // Texts the parser refuses, another address, and the mapped form
        // the canonical address folds away are never kept.
        for text in [
            "2001:db8::1%eth0",
            " 2001:db8::1",
            "2001:db8::1 ",
            "[2001:db8::1]",
            "2001:db8::2",
            "2001:db8:0:0:0:0:0:1/128",
            "02001:db8::1",
            "",
        ] {
            assert_eq!(spelling(text, v6), None, "{text:?}");
        }
        assert_eq!(spelling("::ffff:10.0.0.1", ip("10.0.0.1")), None);
        assert_eq!(spelling("010.0.0.1", ip("10.0.0.1")), None);
        // The longest literal there is fits; nothing longer can parse.
        let longest = "0000:0000:0000:0000:0000:0000:255.255.255.255";
        assert_eq!(longest.len(), MAX_LITERAL_LEN);
        assert_eq!(
            spelling(longest, ip("::ffff:ffff")).as_deref(),
            Some(longest)
        );
    }

    #[test]
    fn mapped_addresses_compare_as_ipv4() {
        assert_eq!(canonical(ip("::ffff:169.254.169.254")), METADATA_ADDRESS);
        assert_eq!(canonical(ip("::1")), ip("::1"), "loopback v6 stays v6");
        let ranges: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(in_ranges(&ranges, ip("::ffff:10.1.2.3")));
        assert!(!in_ranges(&ranges, ip("::ffff:11.1.2.3")));
        let mapped: Vec<IpNet> = vec!["::ffff:10.0.0.0/104".parse().unwrap()];
        assert!(in_ranges(&mapped, ip("10.1.2.3")));
        assert_eq!(
            canonical_net("::ffff:10.0.0.0/104".parse().unwrap()).to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            canonical_net("fc00::/7".parse().unwrap()).to_string(),
            "fc00::/7"
        );
    }

    #[test]
    fn vips_are_unicast_hosts_of_the_vip_ranges() {
        let wide = NetworkSettings {
            vip_ranges: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
            ..NetworkSettings::default()
        };
        for (vip, why) in [
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("::ffff:127.0.1.5", "IPv4-mapped"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("10.0.0.300", "not an IP"),
        ] {
            let err = check_vip(vip, &wide).unwrap_err();
            assert!(
                matches!(&err, Error::VipNotAllowed { reason, .. } if reason.contains(why)),
                "{vip}: {err}"
            );
        }
        let default = NetworkSettings::default();
        assert_eq!(check_vip("127.0.1.5", &default).unwrap(), ip("127.0.1.5"));
        for (vip, why) in [
            ("127.0.0.1", "outside network.vip_ranges"),
            ("10.0.1.200", "outside network.vip_ranges"),
            ("::1", "outside network.vip_ranges"),
            ("127.0.1.0", "network or broadcast"),
            ("127.0.1.255", "network or broadcast"),
        ] {
            let err = check_vip(vip, &default).unwrap_err();
            assert!(
                matches!(&err, Error::VipNotAllowed { reason, .. } if reason.contains(why)),
                "{vip}: {err}"
            );
        }
    }
}
