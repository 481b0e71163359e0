//! Per-listener resource limits: how many connections (UDP: flows) a
//! listener serves at once, how long a silent client or backend may hold
//! one, how long a backend may take to accept, and which client networks
//! may connect at all. Unset means the data plane's defaults
//! (`dataplane.max_connections`, `dataplane.tcp_idle_timeout_ms` /
//! `udp_idle_timeout_ms`, `dataplane.connect_timeout_ms`, the HTTP
//! timeouts), so a listener created with none follows the operator's
//! settings.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::Error;

/// A client network of an allow list.
pub type Cidr = IpNet;

/// The most connections one listener may be given: twenty times the
/// default, past which one listener's fds crowd out everyone else's.
pub const MAX_CONNECTIONS_LIMIT: u64 = 1_000_000;

/// Idle timeouts a listener may ask for: from a second (anything shorter
/// cuts interactive sessions between keystrokes) to a week.
pub const IDLE_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 1_000..=604_800_000;

/// Backend connect timeouts a listener may ask for: Octavia's bound (a
/// day) at the top; any positive value below (a connect that must succeed
/// within a millisecond is the tenant's choice to make).
pub const CONNECT_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400_000;

/// How long a listener may be told to hold a connection's first bytes for
/// inspection (Octavia `timeout_tcp_inspect`): 0 (never) to a day.
pub const INSPECT_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 0..=86_400_000;

/// Client networks one listener may allow: each accept scans the list, so
/// it is bounded; a thousand is past any hand-written allow list.
pub const MAX_ALLOWED_CIDRS: usize = 1000;

/// Checks a requested connection cap.
pub fn max_connections(requested: Option<u64>) -> Result<Option<u32>, Error> {
    match requested {
        None => Ok(None),
        Some(n) if (1..=MAX_CONNECTIONS_LIMIT).contains(&n) => Ok(u32::try_from(n).ok()),
        Some(n) => Err(Error::invalid(
            "max_connections",
            format!("{n} is not in 1-{MAX_CONNECTIONS_LIMIT}"),
        )),
    }
}

/// Checks a requested idle timeout.
pub fn idle_timeout_ms(requested: Option<u64>) -> Result<Option<u64>, Error> {
    match requested {
        None => Ok(None),
        Some(ms) if IDLE_TIMEOUT_MS_RANGE.contains(&ms) => Ok(Some(ms)),
        Some(ms) => Err(Error::invalid(
            "idle_timeout_ms",
            format!(
                "{ms} ms is not in {}-{} ms",
                IDLE_TIMEOUT_MS_RANGE.start(),
                IDLE_TIMEOUT_MS_RANGE.end()
            ),
        )),
    }
}

/// Checks a millisecond setting against its range.
fn in_range(
    field: &str,
    requested: Option<u64>,
    range: &std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, Error> {
    match requested {
        Some(ms) if !range.contains(&ms) => Err(Error::invalid(
            field,
            format!("{ms} ms is not in {}-{} ms", range.start(), range.end()),
        )),
        other => Ok(other),
    }
}

/// Checks a requested backend connect timeout.
pub fn connect_timeout_ms(requested: Option<u64>) -> Result<Option<u64>, Error> {
    in_range("connect_timeout_ms", requested, &CONNECT_TIMEOUT_MS_RANGE)
}

/// Checks a requested backend idle timeout (the range of the client's).
pub fn backend_timeout_ms(requested: Option<u64>) -> Result<Option<u64>, Error> {
    in_range("backend_timeout_ms", requested, &IDLE_TIMEOUT_MS_RANGE)
}

/// Checks a requested inspection bound.
pub fn inspect_timeout_ms(requested: Option<u64>) -> Result<Option<u64>, Error> {
    in_range("inspect_timeout_ms", requested, &INSPECT_TIMEOUT_MS_RANGE)
}

/// Checks a listener's client allow list against its VIP: every network
/// of the VIP's family (a v6 network on a v4 VIP could never match, and a
/// tenant who wrote one meant something else), at most
/// [`MAX_ALLOWED_CIDRS`]. Returns them in order, duplicates dropped.
pub fn allowed_cidrs(vip: IpAddr, requested: &[IpNet]) -> Result<Vec<IpNet>, Error> {
    if requested.len() > MAX_ALLOWED_CIDRS {
        return Err(Error::invalid(
            "allowed_cidrs",
            format!(
                "{} networks are more than the {MAX_ALLOWED_CIDRS} a listener may allow",
                requested.len()
            ),
        ));
    }
    let mut out: Vec<IpNet> = Vec::with_capacity(requested.len());
    for net in requested {
        if net.addr().is_ipv4() != vip.is_ipv4() {
            return Err(Error::invalid(
                "allowed_cidrs",
                format!(
                    "{net} is not of the IP version of the VIP {vip} (a listener allows clients of its VIP's family)"
                ),
            ));
        }
        if !out.contains(net) {
            out.push(*net);
        }
    }
    Ok(out)
}

/// Parses allow-list entries from the wire: networks (`192.0.2.0/24`,
/// `2001:db8::/32`) or single addresses (one host).
pub fn parse_cidrs(field: &str, entries: &[String]) -> Result<Vec<IpNet>, Error> {
    entries
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    Error::invalid(
                        format!("{field}[{i}]"),
                        format!("{text:?} is not a network (address/prefix) or an address"),
                    )
                })
        })
        .collect()
}

/// Whether a client may connect to a listener that allows `allowed`
/// (empty: everyone). An IPv4 client seen through an IPv6 socket
/// (`::ffff:a.b.c.d`) is matched as the IPv4 address it is.
pub fn client_allowed(allowed: &[IpNet], client: IpAddr) -> bool {
    allowed.is_empty() || {
        let client = client.to_canonical();
        allowed.iter().any(|net| net.contains(&client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_timeouts_are_bounded() {
        assert_eq!(max_connections(None).unwrap(), None);
        assert_eq!(max_connections(Some(1)).unwrap(), Some(1));
        assert_eq!(
            max_connections(Some(MAX_CONNECTIONS_LIMIT)).unwrap(),
            Some(1_000_000)
        );
        for bad in [0, MAX_CONNECTIONS_LIMIT + 1, u64::MAX] {
            assert!(
                matches!(max_connections(Some(bad)), Err(Error::InvalidField { ref field, .. }) if field == "max_connections"),
                "{bad}"
            );
        }
        assert_eq!(idle_timeout_ms(Some(1_000)).unwrap(), Some(1_000));
        for bad in [0, 999, 604_800_001] {
            assert!(idle_timeout_ms(Some(bad)).is_err(), "{bad}");
            assert!(backend_timeout_ms(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(connect_timeout_ms(Some(1)).unwrap(), Some(1));
        assert!(connect_timeout_ms(Some(0)).is_err());
        assert!(connect_timeout_ms(Some(86_400_001)).is_err());
        assert_eq!(inspect_timeout_ms(Some(0)).unwrap(), Some(0));
        assert!(inspect_timeout_ms(Some(86_400_001)).is_err());
        assert_eq!(inspect_timeout_ms(None).unwrap(), None);
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn allow_lists_match_the_vip_family_and_are_bounded() {
        let v4: IpAddr = "198.51.100.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            allowed_cidrs(v4, &nets(&["192.0.1.0/24", "10.0.0.0/8", "192.0.1.0/24"])).unwrap(),
            nets(&["192.0.1.0/24", "10.0.0.0/8"])
        );
        // Octavia's own test: a v6 network on a v4 VIP is a 400.
        assert!(allowed_cidrs(v4, &nets(&["192.0.1.0/24", "2001:db8:a0b:12f0::/64"])).is_err());
        assert!(allowed_cidrs(v6, &nets(&["10.0.0.0/8"])).is_err());
        assert!(allowed_cidrs(v6, &nets(&["2001:db8::/32"])).is_ok());
        let many: Vec<IpNet> = (0..=MAX_ALLOWED_CIDRS as u32)
            .map(|i| IpNet::from(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)))))
            .collect();
        assert!(allowed_cidrs(v4, &many).is_err());
        assert!(allowed_cidrs(v4, &many[..MAX_ALLOWED_CIDRS]).is_ok());
    }

    #[test]
    fn wire_entries_parse_as_networks_or_hosts() {
        let parsed = parse_cidrs(
            "allowed_cidrs",
            &["192.0.2.0/24".into(), " 2001:db8::1 ".into()],
        )
        .unwrap();
        assert_eq!(parsed, nets(&["192.0.2.0/24", "2001:db8::1/128"]));
        for bad in ["", "192.0.2.0/33", "example.com", "10.0.0.0/8,10.1.0.0/16"] {
            let err = parse_cidrs("allowed_cidrs", &["10.0.0.0/8".into(), bad.into()]);
            assert!(
                matches!(err, Err(Error::InvalidField { ref field, .. }) if field == "allowed_cidrs[1]"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn clients_are_matched_by_their_canonical_address() {
        let allowed = nets(&["192.0.2.0/24"]);
        assert!(client_allowed(&[], "203.0.113.9".parse().unwrap()));
        assert!(client_allowed(&allowed, "192.0.2.77".parse().unwrap()));
        assert!(client_allowed(
            &allowed,
            "::ffff:192.0.2.77".parse().unwrap()
        ));
        assert!(!client_allowed(&allowed, "192.0.3.1".parse().unwrap()));
        assert!(!client_allowed(
            &allowed,
            "::ffff:192.0.3.1".parse().unwrap()
        ));
    }
}
