//! Access control list entries (`weir_core::acl`): arbitrary text through
//! `parse_entry` (what Aliyun's `AclEntrys` and the other front ends
//! hand it) never panics and yields only networks without host bits; and
//! arbitrary entry lists compiled into an `AclRule` admit exactly the
//! clients a plain scan of the entries does, in both modes, for IPv4 and
//! IPv6 clients and IPv4-mapped ones.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use weir_core::acl::{parse_entry, Acl, AclEntry, AclMode, AclRule, IpVersion};

#[derive(Arbitrary, Debug)]
struct Case {
    texts: Vec<String>,
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
    probes: Vec<u128>,
}

fuzz_target!(|case: Case| {
    for text in &case.texts {
        if let Ok(net) = parse_entry("entry", text) {
            assert_eq!(net.trunc(), net, "{text:?} parsed with host bits");
        }
    }
    let mut entries: Vec<IpNet> = case
        .v4
        .iter()
        .filter_map(|&(a, len)| ipnet::Ipv4Net::new(Ipv4Addr::from(a), len % 33).ok())
        .map(|n| IpNet::V4(n.trunc()))
        .collect();
    entries.extend(
        case.v6
            .iter()
            .filter_map(|&(a, len)| ipnet::Ipv6Net::new(Ipv6Addr::from(a), len % 129).ok())
            .map(|n| IpNet::V6(n.trunc())),
    );
    let acl = Acl {
        id: "a".into(),
        project_id: "p".into(),
        name: String::new(),
        ip_version: IpVersion::V4,
        entries: entries
            .iter()
            .map(|&cidr| AclEntry {
                cidr,
                comment: String::new(),
            })
            .collect(),
        created_at: weir_core::Timestamp(0),
        updated_at: weir_core::Timestamp(0),
    };
    let allow = AclRule::compile(&acl, AclMode::Allow);
    let deny = AclRule::compile(&acl, AclMode::Deny);
    for &p in &case.probes {
        let candidates = [
            IpAddr::V6(Ipv6Addr::from(p)),
            IpAddr::V4(Ipv4Addr::from(p as u32)),
            IpAddr::V6(Ipv4Addr::from(p as u32).to_ipv6_mapped()),
        ];
        for client in candidates {
            let canonical = client.to_canonical();
            let scan = entries.iter().any(|n| n.contains(&canonical));
            assert_eq!(allow.admits(client), scan, "allow {client}");
            assert_eq!(deny.admits(client), !scan, "deny {client}");
        }
    }
});
