//! Table of registration rules, one test per rule of the five pages, plus
//! properties of the planner.

use super::*;
use crate::ids::SequentialIds;
use crate::settings::Settings;
use proptest::prelude::*;

const P: &str = "proj";

pub(super) fn ts() -> Timestamp {
    Timestamp(1_000)
}

fn instance(id: &str, ip: &str, vpc: &str, ty: InstanceType, state: InstanceState) -> Instance {
    Instance {
        id: id.into(),
        project_id: P.into(),
        subnet_id: "sn-1".into(),
        vpc_id: vpc.into(),
        name: id.into(),
        instance_type: ty,
        state,
        private_ip: ip.parse().unwrap(),
        created_at: ts(),
    }
}

fn listener(ports: ListenerPorts, mode: ForwardingMode) -> Listener {
    Listener {
        id: "ls-1".into(),
        project_id: P.into(),
        lb_id: "lb-1".into(),
        name: "l".into(),
        protocol: Protocol::Tcp,
        ports,
        forwarding_mode: mode,
        scheduler: Scheduler::Wrr,
        proxy_protocol: ProxyProtocol::None,
        backend_port: None,
        group_pool_id: None,
        enabled: true,
        max_connections: None,
        idle_timeout_ms: None,
        connect_timeout_ms: None,
        backend_timeout_ms: None,
        inspect_timeout_ms: None,
        allowed_cidrs: Vec::new(),
        acl: None,
        forwarded_headers: ForwardedHeaders::default(),
        certificate_ids: Vec::new(),
        tls_refs: Vec::new(),
        tls_options: Default::default(),
        client_auth: Default::default(),
        domain_extensions: Vec::new(),
        redirect_https_port: None,
        default_pool_id: "pool-1".into(),
        description: String::new(),
        created_at: ts(),
        updated_at: ts(),
        tags: Vec::new(),
    }
}

pub(super) fn snapshot() -> RegisterSnapshot {
    RegisterSnapshot {
        load_balancer: LoadBalancer {
            id: "lb-1".into(),
            project_id: P.into(),
            name: "lb".into(),
            subnet_id: "sn-1".into(),
            vpc_id: "vpc-1".into(),
            vip: "10.0.0.100".parse().unwrap(),
            status: LbStatus::Running,
            default_pool_id: "pool-lb".into(),
            description: String::new(),
            created_at: ts(),
            updated_at: ts(),
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        },
        vpc: Vpc {
            id: "vpc-1".into(),
            project_id: P.into(),
            name: "v".into(),
            cidr: Some("10.0.0.0/16".parse().unwrap()),
            has_border_gateway: false,
            shared: false,
            created_at: ts(),
        },
        listener: Some(listener(ListenerPorts::Single(80), ForwardingMode::Proxy)),
        pool: Pool::new(
            "pool-1".into(),
            (&P.into(), &"lb-1".into()),
            Some("ls-1".into()),
            "p".into(),
            ts(),
        ),
        pool_backend_count: 0,
        overlapping: vec![],
        instances: vec![
            instance(
                "vm-1",
                "10.0.0.11",
                "vpc-1",
                InstanceType::Vm,
                InstanceState::Running,
            ),
            instance(
                "vm-2",
                "10.0.0.12",
                "vpc-1",
                InstanceType::Vm,
                InstanceState::Running,
            ),
            instance(
                "vm-stopped",
                "10.0.0.13",
                "vpc-1",
                InstanceType::Vm,
                InstanceState::Stopped,
            ),
            instance(
                "vm-far",
                "10.9.0.1",
                "vpc-9",
                InstanceType::Vm,
                InstanceState::Running,
            ),
            instance(
                "bm-1",
                "192.168.5.5",
                "vpc-bm",
                InstanceType::Bm,
                InstanceState::Running,
            ),
            Instance {
                project_id: "someone-else".into(),
                ..instance(
                    "vm-foreign",
                    "10.0.0.14",
                    "vpc-1",
                    InstanceType::Vm,
                    InstanceState::Running,
                )
            },
        ],
        subnets: vec![
            Subnet {
                id: "sn-1".into(),
                project_id: P.into(),
                vpc_id: "vpc-1".into(),
                name: "s".into(),
                cidr: "10.0.0.0/24".parse().unwrap(),
                shared: false,
                granted: true,
                created_at: ts(),
            },
            Subnet {
                id: "sn-9".into(),
                project_id: P.into(),
                vpc_id: "vpc-9".into(),
                name: "s9".into(),
                cidr: "10.9.0.0/24".parse().unwrap(),
                shared: false,
                granted: true,
                created_at: ts(),
            },
        ],
        vips: HashSet::new(),
    }
}

fn by_instance(id: &str) -> BackendSpec {
    BackendSpec {
        instance_id: Some(id.into()),
        ..Default::default()
    }
}

pub(super) fn by_address(ip: &str) -> BackendSpec {
    BackendSpec {
        address: Some(ip.into()),
        ..Default::default()
    }
}

fn zlb() -> RegisterPolicy {
    RegisterPolicy {
        address_requires_instance: true,
        bare_metal_by_address_only: true,
        ..RegisterPolicy::native()
    }
}

fn plan_with(
    snap: &RegisterSnapshot,
    specs: &[BackendSpec],
    policy: &RegisterPolicy,
) -> Result<RegisterPlan, Error> {
    plan_register(
        snap,
        specs,
        policy,
        &Settings::default(),
        &mut SequentialIds::default(),
        ts(),
    )
}

fn plan(specs: &[BackendSpec]) -> Result<RegisterPlan, Error> {
    plan_with(&snapshot(), specs, &RegisterPolicy::native())
}

pub(super) fn existing(address: &str, port: u16, instance: Option<&str>) -> Backend {
    Backend {
        id: "be-old".into(),
        project_id: P.into(),
        pool_id: "pool-1".into(),
        lb_id: "lb-1".into(),
        listener_id: Some("ls-1".into()),
        instance_id: instance.map(InstanceId::from),
        subnet_id: None,
        address: address.parse().unwrap(),
        address_text: None,
        ports: BackendPorts::One(port),
        weight: 1,
        enabled: true,
        backup: false,
        name: String::new(),
        created_at: ts(),
        updated_at: ts(),
        tags: Vec::new(),
        monitor_address: None,
        monitor_address_text: None,
        monitor_port: None,
    }
}

#[test]
fn registers_by_instance_taking_address_from_inventory() {
    let plan = plan(&[by_instance("vm-1")]).unwrap();
    let b = &plan.backends[0];
    assert_eq!(b.address.to_string(), "10.0.0.11");
    assert_eq!(b.instance_id, Some("vm-1".into()));
    assert_eq!(
        b.ports,
        BackendPorts::One(80),
        "port defaults to the listener's"
    );
    assert_eq!((b.weight, b.enabled, b.backup), (100, true, false));
    assert_eq!(b.listener_id, Some("ls-1".into()));
}

#[test]
fn registering_by_address_records_the_instance_behind_it() {
    let plan = plan(&[by_address("10.0.0.12")]).unwrap();
    assert_eq!(plan.backends[0].instance_id, Some("vm-2".into()));
    let plan = super::plan_register(
        &snapshot(),
        &[by_address("10.0.0.200")],
        &RegisterPolicy::native(),
        &Settings::default(),
        &mut SequentialIds::default(),
        ts(),
    )
    .unwrap();
    assert_eq!(plan.backends[0].instance_id, None);
}

#[test]
fn load_balancer_must_be_running() {
    let mut snap = snapshot();
    snap.load_balancer.status = LbStatus::Stopped;
    let err = plan_with(&snap, &[by_instance("vm-1")], &RegisterPolicy::native()).unwrap_err();
    assert!(matches!(err, Error::LoadBalancerNotRunning { status, .. } if status == "STOPPED"));
}

#[test]
fn unknown_and_foreign_instances_are_not_found() {
    for id in ["nope", "vm-foreign"] {
        let err = plan(&[by_instance(id)]).unwrap_err();
        assert_eq!(err, Error::not_found(ResourceKind::Instance, id));
    }
}

#[test]
fn instance_must_be_running_and_in_the_vpc() {
    assert!(matches!(
        plan(&[by_instance("vm-stopped")]),
        Err(Error::InstanceNotRunning { .. })
    ));
    assert!(matches!(
        plan(&[by_instance("vm-far")]),
        Err(Error::InstanceNotInVpc { .. })
    ));
}

#[test]
fn given_address_must_match_the_instance() {
    let spec = BackendSpec {
        address: Some("10.0.0.99".into()),
        ..by_instance("vm-1")
    };
    assert!(matches!(
        plan(&[spec]),
        Err(Error::InstanceAddressMismatch { .. })
    ));
    let spec = BackendSpec {
        address: Some("10.0.0.11".into()),
        ..by_instance("vm-1")
    };
    assert!(plan(&[spec]).is_ok());
}

#[test]
fn bare_metal_on_zlb_is_by_address_behind_a_border_gateway() {
    let err = plan_with(&snapshot(), &[by_instance("bm-1")], &zlb()).unwrap_err();
    assert!(matches!(err, Error::BareMetalByAddressOnly { .. }));
    let err = plan_with(&snapshot(), &[by_address("192.168.5.5")], &zlb()).unwrap_err();
    assert!(matches!(err, Error::BorderGatewayRequired { .. }));
    let mut snap = snapshot();
    snap.vpc.has_border_gateway = true;
    let plan = plan_with(&snap, &[by_address("192.168.5.5")], &zlb()).unwrap();
    assert_eq!(plan.backends[0].instance_id, Some("bm-1".into()));
}

#[test]
fn addresses_must_be_private_and_never_reserved() {
    assert!(matches!(
        plan(&[by_address("8.8.8.8")]),
        Err(Error::AddressNotPrivate { .. })
    ));
    assert!(matches!(
        plan(&[by_address("127.0.0.1")]),
        Err(Error::AddressNotPrivate { .. })
    ));
    assert!(matches!(
        plan(&[by_address("10.0.0.100")]),
        Err(Error::AddressReserved { .. })
    ));
    assert!(matches!(
        plan(&[by_address("not-an-ip")]),
        Err(Error::InvalidField { field, .. }) if field == "backends[0].address"
    ));
    let mut settings = Settings::default();
    settings
        .network
        .backend_ranges
        .push("169.254.0.0/16".parse().unwrap());
    settings
        .network
        .backend_ranges
        .push("127.0.0.0/8".parse().unwrap());
    let policy = RegisterPolicy::native();
    let run = |ip: &str| {
        plan_register(
            &snapshot(),
            &[by_address(ip)],
            &policy,
            &settings,
            &mut SequentialIds::default(),
            ts(),
        )
    };
    assert!(matches!(
        run("169.254.169.254"),
        Err(Error::AddressReserved { .. })
    ));
    assert!(
        matches!(run("127.0.0.1"), Err(Error::AddressNotInNetwork { .. })),
        "allowed as a backend range, loopback is still outside the VPC"
    );
    settings
        .network
        .external_backend_ranges
        .push("127.0.0.0/8".parse().unwrap());
    let policy = RegisterPolicy::native();
    let run = |ip: &str| {
        plan_register(
            &snapshot(),
            &[by_address(ip)],
            &policy,
            &settings,
            &mut SequentialIds::default(),
            ts(),
        )
    };
    assert!(
        run("127.0.0.1").is_ok(),
        "loopback once the operator allows it and grants it outside VPCs"
    );
}

pub(super) fn with_settings(
    snap: &RegisterSnapshot,
    specs: &[BackendSpec],
    settings: &Settings,
) -> Result<RegisterPlan, Error> {
    plan_register(
        snap,
        specs,
        &RegisterPolicy::native(),
        settings,
        &mut SequentialIds::default(),
        ts(),
    )
}

#[test]
fn ipv4_mapped_addresses_are_the_ipv4_address() {
    let mapped = plan(&[by_address("::ffff:10.0.0.12")]).unwrap();
    assert_eq!(mapped.backends[0].address.to_string(), "10.0.0.12");
    assert_eq!(mapped.backends[0].instance_id, Some("vm-2".into()));
    assert!(
        matches!(
            plan(&[by_address("::ffff:10.0.0.100")]),
            Err(Error::AddressReserved { .. })
        ),
        "the own VIP, mapped"
    );
    assert!(matches!(
        plan(&[by_address("::ffff:8.8.8.8")]),
        Err(Error::AddressNotPrivate { .. })
    ));
    let mut settings = Settings::default();
    settings
        .network
        .backend_ranges
        .push("169.254.0.0/16".parse().unwrap());
    settings
        .network
        .external_backend_ranges
        .push("169.254.0.0/16".parse().unwrap());
    assert!(
        matches!(
            with_settings(
                &snapshot(),
                &[by_address("::ffff:169.254.169.254")],
                &settings
            ),
            Err(Error::AddressReserved { .. })
        ),
        "the metadata address, mapped"
    );
    assert_eq!(
        snapshot_keys(&[by_address("::ffff:10.0.0.5")]).addresses,
        vec!["10.0.0.5".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn a_bare_address_must_be_in_the_callers_own_network() {
    // 10.9.0.0/24 is another VPC; nothing of the caller lies there.
    assert_eq!(
        plan(&[by_address("10.9.0.77")]).unwrap_err(),
        Error::AddressNotInNetwork {
            address: "10.9.0.77".parse().unwrap()
        }
    );
    // Someone else's instance inside the caller's VPC range is still the
    // caller's address space (overlapping CIDRs): it is the caller's own.
    let plan_ok = plan(&[by_address("10.0.0.14")]).unwrap();
    assert_eq!(
        plan_ok.backends[0].instance_id, None,
        "not the foreign instance"
    );
    // A bare address in a granted range works from any VPC.
    let mut settings = Settings::default();
    settings
        .network
        .external_backend_ranges
        .push("10.9.0.0/24".parse().unwrap());
    assert!(with_settings(&snapshot(), &[by_address("10.9.0.77")], &settings).is_ok());
    // The caller's own bare metal elsewhere is reached by its instance.
    let mut snap = snapshot();
    snap.vpc.has_border_gateway = true;
    assert!(with_settings(&snap, &[by_address("192.168.5.5")], &Settings::default()).is_ok());
    // A VM of the caller in another VPC is not a way in either.
    assert!(matches!(
        plan(&[by_address("10.9.0.1")]),
        Err(Error::AddressNotInNetwork { .. })
    ));
}

#[test]
fn a_named_subnet_is_own_network_only_when_it_is_the_callers() {
    let octavia = RegisterPolicy {
        address_within_subnet: false,
        ..RegisterPolicy::native()
    };
    let spec = BackendSpec {
        subnet_id: Some("sn-1".into()),
        ..by_address("10.0.3.3")
    };
    assert!(
        plan_with(&snapshot(), &[spec], &octavia).is_ok(),
        "inside the VPC"
    );
    let mut snap = snapshot();
    snap.subnets.push(Subnet {
        id: "sn-b".into(),
        project_id: "someone-else".into(),
        vpc_id: "vpc-1".into(),
        name: "theirs".into(),
        cidr: "10.0.4.0/24".parse().unwrap(),
        shared: false,
        granted: true,
        created_at: ts(),
    });
    let spec = BackendSpec {
        subnet_id: Some("sn-b".into()),
        ..by_address("10.0.4.4")
    };
    assert_eq!(
        plan_with(&snap, &[spec], &octavia).unwrap_err(),
        Error::not_found(ResourceKind::Subnet, "sn-b")
    );
}

#[test]
fn no_load_balancers_vip_is_a_backend() {
    let mut snap = snapshot();
    snap.vips.insert("10.0.0.50".parse().unwrap());
    for ip in ["10.0.0.50", "::ffff:10.0.0.50"] {
        assert!(
            matches!(
                with_settings(&snap, &[by_address(ip)], &Settings::default()),
                Err(Error::AddressReserved { reason, .. }) if reason.contains("VIP")
            ),
            "{ip}"
        );
    }
    // Even behind an instance (an operator mistake): still a loop.
    snap.vips.insert("10.0.0.11".parse().unwrap());
    assert!(matches!(
        with_settings(&snap, &[by_instance("vm-1")], &Settings::default()),
        Err(Error::AddressReserved { .. })
    ));
}

#[test]
fn zlb_addresses_must_belong_to_an_instance() {
    let err = plan_with(&snapshot(), &[by_address("10.0.0.200")], &zlb()).unwrap_err();
    assert!(matches!(err, Error::AddressNotInstance { .. }));
}

#[test]
fn named_subnet_must_be_in_the_vpc_and_hold_the_address() {
    let with_subnet = |ip: &str, sn: &str| BackendSpec {
        subnet_id: Some(sn.into()),
        ..by_address(ip)
    };
    assert!(plan(&[with_subnet("10.0.0.50", "sn-1")]).is_ok());
    assert!(matches!(
        plan(&[with_subnet("10.0.1.50", "sn-1")]),
        Err(Error::AddressNotInSubnet { .. })
    ));
    assert!(matches!(
        plan(&[with_subnet("10.9.0.50", "sn-9")]),
        Err(Error::SubnetNotInVpc { .. })
    ));
    assert!(matches!(
        plan(&[with_subnet("10.0.0.50", "sn-x")]),
        Err(Error::NotFound {
            kind: ResourceKind::Subnet,
            ..
        })
    ));
}

#[test]
fn ports_are_forbidden_on_dr_all_port_and_multi_port_listeners() {
    let with_port = BackendSpec {
        port: Some(8080),
        ..by_instance("vm-1")
    };
    let with_list = BackendSpec {
        ports: Some(vec![8080, 8081]),
        ..by_instance("vm-1")
    };
    for listener in [
        listener(ListenerPorts::Single(80), ForwardingMode::Dr),
        listener(ListenerPorts::All, ForwardingMode::Proxy),
        listener(
            ListenerPorts::Ranges(vec![PortRange { start: 80, end: 90 }]),
            ForwardingMode::Proxy,
        ),
    ] {
        let mut snap = snapshot();
        snap.listener = Some(listener);
        for spec in [&with_port, &with_list] {
            let err = plan_with(&snap, std::slice::from_ref(spec), &RegisterPolicy::native())
                .unwrap_err();
            assert!(matches!(err, Error::PortNotAllowed { .. }), "{err}");
        }
        let plan = plan_with(&snap, &[by_instance("vm-1")], &RegisterPolicy::native()).unwrap();
        assert_eq!(plan.backends[0].ports, BackendPorts::Inherit);
    }
}

#[test]
fn ports_are_checked_and_lists_sorted() {
    let ok = plan(&[BackendSpec {
        ports: Some(vec![443, 80]),
        ..by_instance("vm-1")
    }])
    .unwrap();
    assert_eq!(ok.backends[0].ports, BackendPorts::List(vec![80, 443]));
    for (spec, field) in [
        (
            BackendSpec {
                port: Some(0),
                ..by_instance("vm-1")
            },
            "backends[0].port",
        ),
        (
            BackendSpec {
                port: Some(65_536),
                ..by_instance("vm-1")
            },
            "backends[0].port",
        ),
        (
            BackendSpec {
                port: Some(-1),
                ..by_instance("vm-1")
            },
            "backends[0].port",
        ),
        (
            BackendSpec {
                ports: Some(vec![80, 0]),
                ..by_instance("vm-1")
            },
            "backends[0].ports[1]",
        ),
        (
            BackendSpec {
                ports: Some(vec![80, 80]),
                ..by_instance("vm-1")
            },
            "backends[0].ports",
        ),
        (
            BackendSpec {
                ports: Some(vec![]),
                ..by_instance("vm-1")
            },
            "backends[0].ports",
        ),
    ] {
        let err = plan(&[spec]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field: f, .. } if f == field),
            "{err}"
        );
    }
}

#[test]
fn weight_range_is_the_dialects() {
    let w = |weight: i64| BackendSpec {
        weight: Some(weight),
        ..by_instance("vm-1")
    };
    assert_eq!(plan(&[w(0)]).unwrap().backends[0].weight, 0);
    assert_eq!(plan(&[w(65_535)]).unwrap().backends[0].weight, 65_535);
    assert!(plan(&[w(65_536)]).is_err());
    assert!(plan(&[w(-1)]).is_err());
    let bmc = RegisterPolicy {
        weight_range: (1, 100),
        ..RegisterPolicy::native()
    };
    let err = plan_with(&snapshot(), &[w(0)], &bmc).unwrap_err();
    assert!(matches!(err, Error::InvalidField { field, .. } if field == "backends[0].weight"));
    assert!(plan_with(&snapshot(), &[w(101)], &bmc).is_err());
}

#[test]
fn bmc_names_are_letters_digits_dash_dot() {
    let bmc = RegisterPolicy {
        name_rule: NameRule::LettersDigitsDashDot,
        ..RegisterPolicy::native()
    };
    let named = |n: Option<&str>| BackendSpec {
        name: n.map(str::to_owned),
        ..by_instance("vm-1")
    };
    assert!(plan_with(&snapshot(), &[named(Some("web-1.a"))], &bmc).is_ok());
    for bad in [
        None,
        Some(""),
        Some("web_1"),
        Some("wéb"),
        Some(&*"a".repeat(65)),
    ] {
        assert!(
            plan_with(&snapshot(), &[named(bad)], &bmc).is_err(),
            "{bad:?}"
        );
    }
    assert!(plan(&[named(Some("any name at all"))]).is_ok());
}

#[test]
fn existing_backends_conflict() {
    let mut snap = snapshot();
    snap.overlapping = vec![existing("10.0.0.11", 80, Some("vm-1"))];
    let err = plan_with(&snap, &[by_address("10.0.0.11")], &RegisterPolicy::native()).unwrap_err();
    assert!(matches!(err, Error::BackendExists { .. }));
    let other_port = BackendSpec {
        port: Some(81),
        ..by_instance("vm-1")
    };
    let err = plan_with(
        &snap,
        std::slice::from_ref(&other_port),
        &RegisterPolicy::native(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InstanceAlreadyRegistered { .. }));
    let ucloud = RegisterPolicy {
        unique_instance_per_listener: false,
        ..RegisterPolicy::native()
    };
    assert!(
        plan_with(&snap, &[other_port], &ucloud).is_ok(),
        "same instance on another port"
    );
}

#[test]
fn duplicates_in_one_request_reject_or_first_wins() {
    let dup_instance = [
        by_instance("vm-1"),
        BackendSpec {
            weight: Some(5),
            ..by_instance("vm-1")
        },
    ];
    assert!(matches!(
        plan(&dup_instance),
        Err(Error::DuplicateInstanceInRequest { .. })
    ));
    let dup_ip = [by_address("10.0.0.50"), by_address("10.0.0.50")];
    assert!(matches!(
        plan(&dup_ip),
        Err(Error::DuplicateAddressInRequest { .. })
    ));

    let first_wins = RegisterPolicy {
        duplicates: DuplicatePolicy::FirstWins,
        ..RegisterPolicy::native()
    };
    // The ignored duplicate is not judged: its out-of-range weight is moot.
    let specs = [
        by_instance("vm-1"),
        by_instance("vm-2"),
        BackendSpec {
            weight: Some(1_000_000),
            ..by_instance("vm-1")
        },
    ];
    let plan = plan_with(&snapshot(), &specs, &first_wins).unwrap();
    assert_eq!(plan.backends.len(), 2);
    assert_eq!(plan.backends[0].weight, 100, "the first occurrence wins");
    assert_eq!(plan.ignored.len(), 1);
    assert_eq!(plan.ignored[0].index, 2);
}

#[test]
fn quotas_per_pool_and_per_request() {
    let mut snap = snapshot();
    snap.pool_backend_count = 999;
    assert!(plan_with(&snap, &[by_instance("vm-1")], &RegisterPolicy::native()).is_ok());
    let err = plan_with(
        &snap,
        &[by_instance("vm-1"), by_instance("vm-2")],
        &RegisterPolicy::native(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::QuotaExceeded {
            kind: QuotaKind::BackendsPerPool,
            limit: 1000,
            requested: 1001
        }
    ));

    let aliyun = RegisterPolicy {
        max_per_request: Some(20),
        ..RegisterPolicy::native()
    };
    let many: Vec<_> = (0..21)
        .map(|i| by_address(&format!("10.0.0.{}", 150 + i)))
        .collect();
    let err = plan_with(&snapshot(), &many, &aliyun).unwrap_err();
    assert!(matches!(
        err,
        Error::QuotaExceeded {
            kind: QuotaKind::BackendsPerRequest,
            limit: 20,
            ..
        }
    ));
    assert!(plan_with(&snapshot(), &many[..20], &aliyun).is_ok());
    assert!(matches!(plan(&[]), Err(Error::InvalidField { .. })));
}

#[test]
fn lb_wide_pool_inherits_the_port() {
    let mut snap = snapshot();
    snap.listener = None;
    snap.pool.id = "pool-lb".into();
    snap.pool.listener_id = None;
    let plan = plan_with(&snap, &[by_instance("vm-1")], &RegisterPolicy::native()).unwrap();
    assert_eq!(plan.backends[0].ports, BackendPorts::Inherit);
    assert_eq!(plan.backends[0].listener_id, None);
}

#[test]
fn snapshot_keys_list_what_the_request_names() {
    let specs = [
        by_instance("vm-1"),
        by_address("10.0.0.5"),
        by_address("junk"),
        BackendSpec {
            subnet_id: Some("sn-1".into()),
            ..by_address("10.0.0.5")
        },
    ];
    let keys = snapshot_keys(&specs);
    assert_eq!(keys.instance_ids, vec!["vm-1".to_owned()]);
    assert_eq!(keys.addresses, vec!["10.0.0.5".parse::<IpAddr>().unwrap()]);
    assert_eq!(keys.subnet_ids, vec!["sn-1".to_owned()]);
}

fn arb_spec() -> impl Strategy<Value = BackendSpec> {
    (
        prop_oneof![
            Just(None),
            Just(Some("vm-1".to_owned())),
            Just(Some("vm-2".to_owned())),
            Just(Some("nope".to_owned()))
        ],
        prop::option::of((0u8..6).prop_map(|n| format!("10.0.0.{}", 10 + n))),
        prop::option::of(prop_oneof![Just(80i64), Just(81), Just(0)]),
        prop::option::of(-1i64..70_000),
    )
        .prop_map(|(instance_id, address, port, weight)| BackendSpec {
            instance_id,
            address,
            port,
            weight,
            ..Default::default()
        })
}

proptest! {
    /// Planning is a pure function, and an accepted plan never holds two
    /// backends with one identity nor exceeds what was asked.
    #[test]
    fn plans_are_deterministic_and_unique(
        specs in prop::collection::vec(arb_spec(), 0..8),
        first_wins in any::<bool>(),
    ) {
        let policy = RegisterPolicy {
            duplicates: if first_wins { DuplicatePolicy::FirstWins } else { DuplicatePolicy::Reject },
            ..RegisterPolicy::native()
        };
        let a = plan_with(&snapshot(), &specs, &policy);
        let b = plan_with(&snapshot(), &specs, &policy);
        prop_assert_eq!(&a, &b);
        if let Ok(plan) = a {
            prop_assert_eq!(plan.backends.len() + plan.ignored.len(), specs.len());
            let keys: HashSet<_> = plan.backends.iter().map(|b| (b.address, b.ports.key())).collect();
            prop_assert_eq!(keys.len(), plan.backends.len());
            if !first_wins {
                prop_assert!(plan.ignored.is_empty());
            }
        }
    }
}

#[test]
fn the_named_instance_type_must_match() {
    let vm_as_bm = BackendSpec {
        instance_type: Some(InstanceType::Bm),
        ..by_instance("vm-1")
    };
    assert!(matches!(
        plan(&[vm_as_bm]),
        Err(Error::InstanceTypeMismatch { instance_id, expected, actual })
            if instance_id == "vm-1" && expected == "bm" && actual == "vm"
    ));
    let vm_as_vm = BackendSpec {
        instance_type: Some(InstanceType::Vm),
        ..by_instance("vm-1")
    };
    assert_eq!(plan(&[vm_as_vm]).unwrap().backends.len(), 1);
}

#[test]
fn a_named_vpc_must_be_the_load_balancers() {
    let elsewhere = BackendSpec {
        vpc_id: Some("vpc-9".into()),
        ..by_address("10.0.0.50")
    };
    assert!(matches!(
        plan(&[elsewhere]),
        Err(Error::InvalidField { field, .. }) if field == "backends[0].vpc_id"
    ));
    let here = BackendSpec {
        vpc_id: Some("vpc-1".into()),
        ..by_address("10.0.0.50")
    };
    assert_eq!(plan(&[here]).unwrap().backends.len(), 1);
}

#[test]
fn proxy_only_backends_are_refused_by_packet_forwarding_listeners() {
    let ip_backend = BackendSpec {
        proxy_only: true,
        ..by_address("10.0.0.50")
    };
    assert_eq!(
        plan(std::slice::from_ref(&ip_backend))
            .unwrap()
            .backends
            .len(),
        1
    );
    for mode in [ForwardingMode::Dr, ForwardingMode::Nat] {
        let mut snap = snapshot();
        snap.listener = Some(listener(ListenerPorts::Single(80), mode));
        assert!(matches!(
            plan_with(&snap, std::slice::from_ref(&ip_backend), &RegisterPolicy::native()),
            Err(Error::InvalidField { field, .. }) if field == "backends[0]"
        ));
    }
}

#[test]
fn an_unusable_address_is_reported_before_a_missing_instance() {
    for (ip, public) in [("8.8.8.8", true), ("169.254.169.254", false)] {
        let err = plan_with(&snapshot(), &[by_address(ip)], &zlb()).unwrap_err();
        if public {
            assert!(
                matches!(err, Error::AddressNotPrivate { .. }),
                "{ip}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, Error::AddressReserved { .. }),
                "{ip}: {err:?}"
            );
        }
    }
    assert!(matches!(
        plan_with(&snapshot(), &[by_address("10.0.0.99")], &zlb()),
        Err(Error::AddressNotInstance { .. })
    ));
}

#[test]
fn an_instance_named_twice_by_address_is_a_repeated_address() {
    let twice = [by_address("10.0.0.11"), by_address("10.0.0.11")];
    assert!(matches!(
        plan_with(&snapshot(), &twice, &zlb()),
        Err(Error::DuplicateAddressInRequest { .. })
    ));
    let twice_by_id = [by_instance("vm-1"), by_instance("vm-1")];
    assert!(matches!(
        plan_with(&snapshot(), &twice_by_id, &zlb()),
        Err(Error::DuplicateInstanceInRequest { .. })
    ));
}
