//! The ACL rules, one test per rule, and the compiled matcher against a
//! plain scan of the entries.

use super::*;
use crate::ids::SequentialIds;

fn acl(version: IpVersion, entries: &[&str]) -> Acl {
    Acl {
        id: AclId::new("acl-1"),
        project_id: ProjectId::new("p1"),
        name: "office".into(),
        ip_version: version,
        entries: entries
            .iter()
            .map(|e| AclEntry {
                cidr: e.parse().unwrap(),
                comment: String::new(),
            })
            .collect(),
        created_at: Timestamp(1),
        updated_at: Timestamp(1),
    }
}

fn entry(text: &str) -> AclEntry {
    AclEntry {
        cidr: parse_entry("entry", text).unwrap(),
        comment: "c".into(),
    }
}

#[test]
fn a_project_holds_a_bounded_number_of_named_acls() {
    let limits = Limits::default();
    let made = plan_acl(
        &ProjectId::new("p1"),
        "office",
        IpVersion::V4,
        0,
        &limits,
        AclId::new(crate::ids::IdSource::next_id(&mut SequentialIds::default())),
        Timestamp(5),
    )
    .unwrap();
    assert_eq!(made.entries, Vec::new());
    assert_eq!(made.ip_version, IpVersion::V4);
    let full = plan_acl(
        &ProjectId::new("p1"),
        "x",
        IpVersion::V4,
        limits.acls_per_project,
        &limits,
        AclId::new("a"),
        Timestamp(5),
    );
    assert!(matches!(
        full,
        Err(Error::QuotaExceeded {
            kind: QuotaKind::AclsPerProject,
            ..
        })
    ));
    for bad in ["a\nb", &"n".repeat(MAX_NAME_LEN + 1)] {
        assert!(plan_acl(
            &ProjectId::new("p1"),
            bad,
            IpVersion::V4,
            0,
            &limits,
            AclId::new("a"),
            Timestamp(5)
        )
        .is_err());
    }
    assert!(IpVersion::parse("v", "IPv6").is_ok());
    assert!(IpVersion::parse("v", "ipv5").is_err());
}

#[test]
fn entries_are_networks_without_host_bits_or_addresses() {
    assert_eq!(
        parse_entry("e", "10.0.0.0/24").unwrap(),
        "10.0.0.0/24".parse::<IpNet>().unwrap()
    );
    assert_eq!(
        parse_entry("e", " 192.0.2.7 ").unwrap(),
        "192.0.2.7/32".parse::<IpNet>().unwrap()
    );
    assert_eq!(
        parse_entry("e", "2001:db8::/32").unwrap(),
        "2001:db8::/32".parse::<IpNet>().unwrap()
    );
    for bad in [
        "",
        "10.0.0.0/33",
        "10.0.0.5/24",
        "example.com",
        "10.0.0.0/8,10.1.0.0/16",
        "::1/200",
    ] {
        assert!(
            matches!(parse_entry("e", bad), Err(Error::InvalidField { ref field, .. }) if field == "e"),
            "{bad:?}"
        );
    }
    let Err(Error::InvalidField { reason, .. }) = parse_entry("e", "10.0.0.5/24") else {
        panic!()
    };
    assert!(reason.contains("10.0.0.0/24"), "{reason}");
}

#[test]
fn adding_entries_is_all_or_nothing_and_bounded() {
    let limits = Limits::default();
    let current = acl(IpVersion::V4, &["10.0.0.0/8"]);
    let next = plan_add_entries(
        &current,
        &[entry("192.0.2.0/24"), entry("127.0.0.2")],
        &limits,
        Timestamp(9),
    )
    .unwrap();
    assert_eq!(next.entries.len(), 3);
    assert_eq!(next.updated_at, Timestamp(9));
    // Already there, or twice in one call: a conflict, nothing added.
    assert!(matches!(
        plan_add_entries(&current, &[entry("10.0.0.0/8")], &limits, Timestamp(9)),
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        plan_add_entries(
            &current,
            &[entry("192.0.2.0/24"), entry("192.0.2.0/24")],
            &limits,
            Timestamp(9)
        ),
        Err(Error::Conflict { .. })
    ));
    // An IPv6 network on an IPv4 ACL.
    assert!(matches!(
        plan_add_entries(&current, &[entry("2001:db8::/32")], &limits, Timestamp(9)),
        Err(Error::InvalidField { ref field, .. }) if field == "entries[0]"
    ));
    let long = AclEntry {
        cidr: "192.0.2.0/24".parse().unwrap(),
        comment: "x".repeat(MAX_COMMENT_LEN + 1),
    };
    assert!(plan_add_entries(&current, &[long], &limits, Timestamp(9)).is_err());
    assert!(plan_add_entries(&current, &[], &limits, Timestamp(9)).is_err());
    // 10,000 entries: refused by count before anything else.
    let many: Vec<AclEntry> = (0..10_000u32)
        .map(|i| AclEntry {
            cidr: IpNet::from(IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + i))),
            comment: String::new(),
        })
        .collect();
    assert!(matches!(
        plan_add_entries(&current, &many, &limits, Timestamp(9)),
        Err(Error::QuotaExceeded {
            kind: QuotaKind::AclEntriesPerAcl,
            limit: 300,
            requested: 10_001
        })
    ));
    assert!(plan_add_entries(&current, &many[..299], &limits, Timestamp(9)).is_ok());
    assert!(plan_add_entries(&current, &many[..300], &limits, Timestamp(9)).is_err());
}

#[test]
fn removing_entries_names_ones_that_are_there() {
    let current = acl(IpVersion::V4, &["10.0.0.0/8", "192.0.2.0/24"]);
    let next =
        plan_remove_entries(&current, &["10.0.0.0/8".parse().unwrap()], Timestamp(3)).unwrap();
    assert_eq!(next.entries.len(), 1);
    assert!(
        plan_remove_entries(&current, &["10.0.0.0/16".parse().unwrap()], Timestamp(3)).is_err()
    );
    assert!(plan_remove_entries(&current, &[], Timestamp(3)).is_err());
}

#[test]
fn a_listener_names_an_acl_of_its_project_and_vip_family() {
    let v4 = acl(IpVersion::V4, &[]);
    let wanted = ListenerAcl {
        acl_id: v4.id.clone(),
        mode: AclMode::Deny,
        enabled: true,
    };
    let p1 = ProjectId::new("p1");
    assert!(check_attach(&p1, "127.0.1.1".parse().unwrap(), &wanted, Some(&v4)).is_ok());
    assert!(check_attach(&p1, "::ffff:127.0.1.1".parse().unwrap(), &wanted, Some(&v4)).is_ok());
    assert!(matches!(
        check_attach(
            &ProjectId::new("p2"),
            "127.0.1.1".parse().unwrap(),
            &wanted,
            Some(&v4)
        ),
        Err(Error::NotFound {
            kind: ResourceKind::Acl,
            ..
        })
    ));
    assert!(matches!(
        check_attach(&p1, "127.0.1.1".parse().unwrap(), &wanted, None),
        Err(Error::NotFound {
            kind: ResourceKind::Acl,
            ..
        })
    ));
    assert!(matches!(
        check_attach(&p1, "2001:db8::1".parse().unwrap(), &wanted, Some(&v4)),
        Err(Error::InvalidField { .. })
    ));
}

#[test]
fn allow_admits_only_the_listed_and_deny_all_but_them() {
    let list = acl(IpVersion::V4, &["127.0.0.2/32", "10.0.0.0/8"]);
    let allow = AclRule::compile(&list, AclMode::Allow);
    let deny = AclRule::compile(&list, AclMode::Deny);
    for (client, listed) in [
        ("127.0.0.2", true),
        ("127.0.0.3", false),
        ("10.255.255.255", true),
        ("11.0.0.0", false),
        ("::ffff:127.0.0.2", true),
        ("::1", false),
    ] {
        let ip: IpAddr = client.parse().unwrap();
        assert_eq!(allow.admits(ip), listed, "allow {client}");
        assert_eq!(deny.admits(ip), !listed, "deny {client}");
    }
    // The listener's own allow list still applies.
    let own: Vec<IpNet> = vec!["127.0.0.0/30".parse().unwrap()];
    assert!(client_admitted(
        &own,
        Some(&deny),
        "127.0.0.3".parse().unwrap()
    ));
    assert!(!client_admitted(
        &own,
        Some(&deny),
        "127.0.0.2".parse().unwrap()
    ));
    assert!(!client_admitted(
        &own,
        Some(&deny),
        "127.0.0.9".parse().unwrap()
    ));
    assert!(client_admitted(&[], None, "127.0.0.9".parse().unwrap()));
    // An empty ACL: allow admits no one, deny everyone.
    let empty = acl(IpVersion::V4, &[]);
    assert!(!AclRule::compile(&empty, AclMode::Allow).admits("127.0.0.1".parse().unwrap()));
    assert!(AclRule::compile(&empty, AclMode::Deny).admits("127.0.0.1".parse().unwrap()));
}

#[test]
fn deleting_an_acl_in_use_is_a_conflict() {
    let a = acl(IpVersion::V4, &[]);
    assert!(check_delete(&a, &[]).is_ok());
}

mod matching {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The interval search agrees with testing every entry.
        #[test]
        fn the_compiled_rule_matches_a_scan(
            nets in proptest::collection::vec((any::<u32>(), 0u8..=32), 0..300),
            probes in proptest::collection::vec(any::<u32>(), 1..50),
        ) {
            let entries: Vec<AclEntry> = nets
                .iter()
                .map(|&(a, len)| AclEntry {
                    cidr: IpNet::V4(ipnet::Ipv4Net::new(a.into(), len).unwrap().trunc()),
                    comment: String::new(),
                })
                .collect();
            let mut list = acl(IpVersion::V4, &[]);
            list.entries = entries;
            let rule = AclRule::compile(&list, AclMode::Allow);
            let mut all = probes.clone();
            all.extend(nets.iter().map(|&(a, _)| a));
            for p in all {
                let ip = IpAddr::V4(p.into());
                let scan = list.entries.iter().any(|e| e.cidr.contains(&ip));
                prop_assert_eq!(rule.listed(ip), scan, "{}", ip);
            }
        }
    }
}

fn tcp_listener(project: &str) -> Listener {
    use crate::loadbalancer::{plan_listener, NewListener};
    let lb = crate::model::LoadBalancer {
        id: "lb".into(),
        project_id: project.into(),
        name: "lb".into(),
        subnet_id: "s".into(),
        vpc_id: "v".into(),
        vip: "10.0.0.5".parse().unwrap(),
        status: crate::model::LbStatus::Running,
        default_pool_id: "lb-wide".into(),
        description: String::new(),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        tags: Vec::new(),
        flavor_id: None,
        vip_mode: None,
    };
    let req = NewListener {
        name: "tcp".into(),
        protocol: "tcp".into(),
        port: Some(80),
        ..Default::default()
    };
    plan_listener(&lb, &[], &req, &mut SequentialIds::default(), Timestamp(1))
        .unwrap()
        .listener
}

fn nets(texts: &[&str]) -> Vec<IpNet> {
    texts.iter().map(|t| parse_entry("e", t).unwrap()).collect()
}

#[test]
fn a_listener_list_is_an_allow_list_of_the_vip_family_named_by_the_listener() {
    let l = tcp_listener("p1");
    let limits = Limits::default();
    let vip = "10.0.0.5".parse().unwrap();
    let (made, next) = plan_listener_list(
        &l,
        vip,
        &nets(&["10.1.0.0/16", "192.0.2.7"]),
        false,
        0,
        &limits,
        AclId::new("acl-9"),
        Timestamp(5),
    )
    .unwrap();
    assert_eq!(made.project_id, l.project_id);
    assert_eq!(made.ip_version, IpVersion::V4);
    assert_eq!(made.entries.len(), 2);
    assert_eq!(
        next.acl,
        Some(ListenerAcl {
            acl_id: made.id.clone(),
            mode: AclMode::Allow,
            enabled: false,
        })
    );
    assert_eq!(allow_list(&next).map(|a| a.enabled), Some(false));
    // An IPv6 entry on an IPv4 VIP, and one network twice, are refused.
    let wrong = plan_listener_list(
        &l,
        vip,
        &nets(&["2001:db8::/32"]),
        true,
        0,
        &limits,
        AclId::new("a"),
        Timestamp(5),
    );
    assert_eq!(refusal(&wrong.unwrap_err()), Some(Refusal::WrongVersion));
    let twice = plan_listener_list(
        &l,
        vip,
        &nets(&["10.0.0.0/8", "10.0.0.0/8"]),
        true,
        0,
        &limits,
        AclId::new("a"),
        Timestamp(5),
    );
    assert_eq!(refusal(&twice.unwrap_err()), Some(Refusal::DuplicateEntry));
    // An empty list made on (Huawei: no address may connect) is allowed.
    let (empty, _) = plan_listener_list(
        &l,
        vip,
        &[],
        true,
        0,
        &limits,
        AclId::new("a"),
        Timestamp(5),
    )
    .unwrap();
    assert!(!AclRule::compile(&empty, AclMode::Allow).admits("10.0.0.1".parse().unwrap()));
}

#[test]
fn a_listener_gets_no_second_list_and_the_project_quota_holds() {
    let l = tcp_listener("p1");
    let limits = Limits::default();
    let vip = "10.0.0.5".parse().unwrap();
    let (_, named) = plan_listener_list(
        &l,
        vip,
        &[],
        true,
        0,
        &limits,
        AclId::new("a"),
        Timestamp(5),
    )
    .unwrap();
    let again = plan_listener_list(
        &named,
        vip,
        &[],
        true,
        0,
        &limits,
        AclId::new("b"),
        Timestamp(6),
    );
    assert!(matches!(again, Err(Error::Conflict { .. })));
    let full = plan_listener_list(
        &l,
        vip,
        &[],
        true,
        limits.acls_per_project,
        &limits,
        AclId::new("b"),
        Timestamp(6),
    );
    assert!(matches!(full, Err(Error::QuotaExceeded { .. })));
    // A deny list is not an allow list.
    let mut denying = l.clone();
    denying.acl = Some(ListenerAcl::applied(AclId::new("d"), AclMode::Deny));
    assert!(allow_list(&denying).is_none());
}

#[test]
fn entries_are_replaced_whole_keeping_comments_and_the_entry_limit() {
    let current = acl(IpVersion::V4, &["10.0.0.0/8", "192.0.2.0/24"]);
    let mut commented = current.clone();
    commented.entries[1].comment = "office".into();
    let limits = Limits::default();
    let next = plan_replace_entries(
        &commented,
        &nets(&["192.0.2.0/24", "198.51.100.1"]),
        &limits,
        Timestamp(9),
    )
    .unwrap();
    assert_eq!(
        next.entries
            .iter()
            .map(|e| (e.cidr.to_string(), e.comment.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("192.0.2.0/24".to_owned(), "office"),
            ("198.51.100.1/32".to_owned(), "")
        ]
    );
    assert!(plan_replace_entries(&current, &[], &limits, Timestamp(9))
        .unwrap()
        .entries
        .is_empty());
    let many: Vec<IpNet> = (0..=limits.acl_entries_per_acl)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap())
        .collect();
    assert!(matches!(
        plan_replace_entries(&current, &many, &limits, Timestamp(9)),
        Err(Error::QuotaExceeded { .. })
    ));
}

#[test]
fn switching_and_removing_a_listener_list() {
    let l = tcp_listener("p1");
    let limits = Limits::default();
    let (made, on) = plan_listener_list(
        &l,
        "10.0.0.5".parse().unwrap(),
        &[],
        true,
        0,
        &limits,
        AclId::new("a"),
        Timestamp(5),
    )
    .unwrap();
    let off = plan_list_enabled(&on, false, Timestamp(6));
    assert_eq!(off.acl.as_ref().map(|a| a.enabled), Some(false));
    assert_eq!(plan_list_enabled(&off, false, Timestamp(7)), off);
    // Removed, the list goes with it unless another listener names it.
    let (bare, orphan) = plan_list_removal(&off, std::slice::from_ref(&off), Timestamp(8));
    assert_eq!(bare.acl, None);
    assert_eq!(orphan, Some(made.id.clone()));
    let mut other = tcp_listener("p1");
    other.id = "other".into();
    other.acl = Some(ListenerAcl::applied(made.id.clone(), AclMode::Allow));
    let (_, kept) = plan_list_removal(&off, &[off.clone(), other], Timestamp(8));
    assert_eq!(kept, None);
}
