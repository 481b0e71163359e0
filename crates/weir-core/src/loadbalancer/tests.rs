//! The load-balancer and listener planners' rules, one test per rule.

use super::*;
use crate::ids::SequentialIds;

fn subnet() -> Subnet {
    Subnet {
        id: "sn".into(),
        project_id: "p".into(),
        vpc_id: "v".into(),
        name: "s".into(),
        cidr: "10.0.0.0/24".parse().unwrap(),
        shared: false,
        granted: true,
        created_at: Timestamp(0),
    }
}

fn lb() -> LoadBalancer {
    plan_load_balancer(
        &subnet().project_id,
        &subnet(),
        &HashSet::new(),
        &NewLoadBalancer {
            name: "lb".into(),
            vip: None,
            vpc_id: None,
            stopped: false,
            description: None,
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        },
        &NetworkSettings::default(),
        &mut SequentialIds::default(),
        Timestamp(0),
    )
    .unwrap()
    .load_balancer
}

/// A load balancer on `subnet` with `vip`, VIPs from both versions.
fn on_subnet(cidr: &str, vip: Option<&str>) -> Result<LoadBalancer, Error> {
    let network = NetworkSettings {
        vip_ranges: vec![
            "127.0.1.0/24".parse().unwrap(),
            "fd00:1::/64".parse().unwrap(),
        ],
        ..NetworkSettings::default()
    };
    let subnet = Subnet {
        cidr: cidr.parse().unwrap(),
        ..subnet()
    };
    plan_load_balancer(
        &subnet.project_id,
        &subnet,
        &HashSet::new(),
        &NewLoadBalancer {
            name: "lb".into(),
            vip: vip.map(str::to_owned),
            vpc_id: None,
            stopped: false,
            description: None,
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        },
        &network,
        &mut SequentialIds::default(),
        Timestamp(0),
    )
    .map(|plan| plan.load_balancer)
}

#[test]
fn a_vip_is_of_its_subnets_ip_version() {
    // Allocated: the first free host of the ranges of that version, never
    // an IPv6 range's anycast first address.
    assert_eq!(
        on_subnet("10.0.0.0/24", None).unwrap().vip.to_string(),
        "127.0.1.1"
    );
    assert_eq!(
        on_subnet("fd00:9::/64", None).unwrap().vip.to_string(),
        "fd00:1::1"
    );
    // Named: of the other version, refused.
    assert!(matches!(
        on_subnet("10.0.0.0/24", Some("fd00:1::5")),
        Err(Error::VipNotAllowed { .. })
    ));
    assert!(matches!(
        on_subnet("fd00:9::/64", Some("127.0.1.5")),
        Err(Error::VipNotAllowed { .. })
    ));
    assert_eq!(
        on_subnet("fd00:9::/64", Some("fd00:1::5"))
            .unwrap()
            .vip
            .to_string(),
        "fd00:1::5"
    );
}

#[test]
fn vips_are_allocated_first_free() {
    let mut used = HashSet::new();
    used.insert("127.0.1.1".parse().unwrap());
    let plan = plan_load_balancer(
        &subnet().project_id,
        &subnet(),
        &used,
        &NewLoadBalancer {
            name: "lb".into(),
            vip: None,
            vpc_id: None,
            stopped: false,
            description: None,
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        },
        &NetworkSettings::default(),
        &mut SequentialIds::default(),
        Timestamp(0),
    )
    .unwrap();
    assert_eq!(plan.load_balancer.vip.to_string(), "127.0.1.2");
    assert_eq!(plan.load_balancer.status, LbStatus::Running);
    assert_eq!(plan.default_pool.listener_id, None);
    let taken = plan_load_balancer(
        &subnet().project_id,
        &subnet(),
        &used,
        &NewLoadBalancer {
            name: "lb".into(),
            vip: Some("127.0.1.1".into()),
            vpc_id: None,
            stopped: false,
            description: None,
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        },
        &NetworkSettings::default(),
        &mut SequentialIds::default(),
        Timestamp(0),
    );
    assert!(matches!(taken, Err(Error::Conflict { .. })));
}

fn listener(req: NewListener, siblings: &[Listener]) -> Result<Listener, Error> {
    plan_listener(
        &lb(),
        siblings,
        &req,
        &mut SequentialIds::default(),
        Timestamp(0),
    )
    .map(|p| p.listener)
}

#[test]
fn listener_ports_are_exclusive_and_non_overlapping() {
    let tcp80 = NewListener {
        name: "a".into(),
        protocol: "tcp".into(),
        port: Some(80),
        ..Default::default()
    };
    let first = listener(tcp80.clone(), &[]).unwrap();
    assert_eq!(first.scheduler, Scheduler::Wrr);
    assert!(matches!(
        listener(tcp80.clone(), std::slice::from_ref(&first)),
        Err(Error::ListenerPortInUse { .. })
    ));
    let udp80 = NewListener {
        protocol: "udp".into(),
        ..tcp80.clone()
    };
    assert!(listener(udp80, std::slice::from_ref(&first)).is_ok());
    let range = NewListener {
        port: None,
        port_ranges: Some(vec![(70, 90)]),
        ..tcp80.clone()
    };
    assert!(matches!(
        listener(range, std::slice::from_ref(&first)),
        Err(Error::ListenerPortInUse { .. })
    ));
    let both = NewListener {
        all_ports: true,
        ..tcp80.clone()
    };
    assert!(matches!(
        listener(both, &[]),
        Err(Error::InvalidField { .. })
    ));
    let to_8080 = NewListener {
        backend_port: Some(8080),
        ..tcp80.clone()
    };
    assert_eq!(listener(to_8080, &[]).unwrap().backend_port, Some(8080));
    let range_to_8080 = NewListener {
        port: None,
        port_ranges: Some(vec![(70, 90)]),
        backend_port: Some(8080),
        ..tcp80.clone()
    };
    assert!(matches!(
        listener(range_to_8080, &[]),
        Err(Error::InvalidField { field, .. }) if field == "backend_port"
    ));
    let zero = NewListener {
        port: Some(0),
        ..tcp80.clone()
    };
    assert!(
        matches!(listener(zero, &[]), Err(Error::InvalidField { field, .. }) if field == "port")
    );
    let dr_http = NewListener {
        protocol: "http".into(),
        forwarding_mode: Some("dr".into()),
        ..tcp80
    };
    assert!(matches!(
        listener(dr_http, &[]),
        Err(Error::InvalidField { .. })
    ));
}

#[test]
fn https_listeners_are_http_behind_tls_and_take_tcp_ports() {
    let https = NewListener {
        name: "tls".into(),
        protocol: "https".into(),
        port: Some(443),
        certificate_ids: vec!["c1".into(), "c2".into()],
        forwarded_headers: Some(ForwardedHeaders {
            forwarded_for: true,
            forwarded_proto: true,
            forwarded_port: true,
            client_cert: Default::default(),
        }),
        ..Default::default()
    };
    let made = listener(https.clone(), &[]).unwrap();
    assert_eq!(made.protocol, Protocol::Https);
    assert_eq!(made.certificate_ids.len(), 2);
    assert!(made.forwarded_headers.forwarded_port);
    // HTTP rules: proxy mode only, no PROXY header.
    for bad in [
        NewListener {
            forwarding_mode: Some("nat".into()),
            ..https.clone()
        },
        NewListener {
            proxy_protocol: Some("v1".into()),
            ..https.clone()
        },
    ] {
        assert!(matches!(
            listener(bad, &[]),
            Err(Error::InvalidField { .. })
        ));
    }
    // Its port is a TCP port: a tcp listener on it collides.
    let tcp443 = NewListener {
        protocol: "tcp".into(),
        certificate_ids: Vec::new(),
        forwarded_headers: None,
        ..https.clone()
    };
    assert!(matches!(
        listener(tcp443, std::slice::from_ref(&made)),
        Err(Error::ListenerPortInUse { .. })
    ));
    // Rotation replaces the list under the same rules; other
    // protocols cannot take one.
    let rotate = |ids: &[&str]| ListenerUpdate {
        certificate_ids: Some(ids.iter().map(|s| (*s).to_owned()).collect()),
        ..ListenerUpdate::default()
    };
    let next = plan_listener_update(&lb(), &made, &rotate(&["c3"]), Timestamp(9)).unwrap();
    assert_eq!(next.certificate_ids, [CertificateId::new("c3")]);
    assert_eq!(next.updated_at, Timestamp(9));
    assert!(plan_listener_update(&lb(), &made, &rotate(&[]), Timestamp(9)).is_err());
    let tcp = listener(
        NewListener {
            protocol: "tcp".into(),
            port: Some(80),
            ..Default::default()
        },
        &[],
    )
    .unwrap();
    assert!(plan_listener_update(&lb(), &tcp, &rotate(&["c3"]), Timestamp(9)).is_err());
    // Its pools are HTTP pools.
    assert!(PoolProtocol::Http.serves(Protocol::Https));
    assert!(!PoolProtocol::Https.serves(Protocol::Https));
    assert!(!PoolProtocol::Tcp.serves(Protocol::Https));
}

#[test]
fn prometheus_listeners_answer_themselves_and_forward_nothing() {
    let prom = NewListener {
        name: "metrics".into(),
        protocol: "prometheus".into(),
        port: Some(9100),
        allowed_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
        max_connections: Some(10),
        idle_timeout_ms: Some(5_000),
        ..Default::default()
    };
    let made = listener(prom.clone(), &[]).unwrap();
    assert_eq!(made.protocol, Protocol::Prometheus);
    assert_eq!(made.allowed_cidrs.len(), 1);
    assert_eq!(made.max_connections, Some(10));
    // What it would ignore is refused, each by name.
    for (field, bad) in [
        (
            "group_pool_id",
            NewListener {
                group_pool_id: Some("g".into()),
                ..prom.clone()
            },
        ),
        (
            "forwarding_mode",
            NewListener {
                forwarding_mode: Some("nat".into()),
                ..prom.clone()
            },
        ),
        (
            "backend_port",
            NewListener {
                backend_port: Some(80),
                ..prom.clone()
            },
        ),
        (
            "scheduler",
            NewListener {
                scheduler: Some("wlc".into()),
                ..prom.clone()
            },
        ),
        (
            "port",
            NewListener {
                port: None,
                port_ranges: Some(vec![(9100, 9101)]),
                ..prom.clone()
            },
        ),
        (
            "proxy_protocol",
            NewListener {
                proxy_protocol: Some("v2".into()),
                ..prom.clone()
            },
        ),
        (
            "forwarded_headers",
            NewListener {
                forwarded_headers: Some(ForwardedHeaders {
                    forwarded_for: true,
                    forwarded_proto: false,
                    forwarded_port: false,
                    client_cert: Default::default(),
                }),
                ..prom.clone()
            },
        ),
    ] {
        assert!(
            matches!(listener(bad, &[]), Err(Error::InvalidField { field: f, .. }) if f == field),
            "{field}"
        );
    }
    // It takes a TCP port like any TCP-borne listener.
    let tcp = NewListener {
        protocol: "tcp".into(),
        allowed_cidrs: Vec::new(),
        ..prom.clone()
    };
    assert!(matches!(
        listener(tcp, std::slice::from_ref(&made)),
        Err(Error::ListenerPortInUse { .. })
    ));
    // No pool can be attached later either, and no pool serves it.
    let attach = ListenerUpdate {
        group_pool_id: Some(Some("g".into())),
        ..ListenerUpdate::default()
    };
    assert!(plan_listener_update(&lb(), &made, &attach, Timestamp(1)).is_err());
    for p in PoolProtocol::NAMES {
        let p: PoolProtocol = p.parse().unwrap();
        assert!(!p.serves(Protocol::Prometheus));
    }
    let detach = ListenerUpdate {
        group_pool_id: Some(None),
        ..ListenerUpdate::default()
    };
    assert!(plan_listener_update(&lb(), &made, &detach, Timestamp(1)).is_ok());
}

#[test]
fn tags_are_replaced_cleared_or_left_and_move_the_update_time() {
    let lb = lb();
    let tagged = |tags: Option<&[&str]>, at: i64| {
        let update = LoadBalancerUpdate {
            tags: tags.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
            ..LoadBalancerUpdate::default()
        };
        plan_lb_update(&lb, &update, Timestamp(at))
    };
    let next = tagged(Some(&["a", "b", "a"]), 5).unwrap();
    assert_eq!(next.tags, ["a", "b"]);
    assert_eq!(next.updated_at, Timestamp(5));
    let same = plan_lb_update(&next, &LoadBalancerUpdate::default(), Timestamp(9)).unwrap();
    assert_eq!(same, next, "absent leaves them and the time");
    let cleared = plan_lb_update(
        &next,
        &LoadBalancerUpdate {
            tags: Some(Vec::new()),
            ..LoadBalancerUpdate::default()
        },
        Timestamp(9),
    )
    .unwrap();
    assert!(cleared.tags.is_empty());
    assert_eq!(cleared.updated_at, Timestamp(9));
    assert!(matches!(
        tagged(Some(&["\u{0}"]), 5),
        Err(Error::InvalidField { field, .. }) if field == "tags[0]"
    ));

    let listener = plan_listener(
        &lb,
        &[],
        &NewListener {
            protocol: "tcp".into(),
            port: Some(80),
            tags: vec!["x".repeat(256)],
            ..NewListener::default()
        },
        &mut SequentialIds::default(),
        Timestamp(1),
    );
    assert!(matches!(listener, Err(Error::InvalidField { field, .. }) if field == "tags[0]"));
}

#[test]
fn lifecycle() {
    let mut lb = lb();
    assert_eq!(
        plan_lb_action(&lb, LbAction::Stop).unwrap(),
        LbStatus::Stopped
    );
    lb.status = LbStatus::Stopped;
    assert_eq!(
        plan_lb_action(&lb, LbAction::Start).unwrap(),
        LbStatus::Running
    );
    lb.status = LbStatus::Creating;
    assert!(plan_lb_action(&lb, LbAction::Start).is_err());
    assert!(plan_lb_delete(&lb, 1, false).is_err());
    assert!(plan_lb_delete(&lb, 1, true).is_ok());
}

#[test]
fn an_http_listener_redirects_only_to_an_https_listener_of_its_load_balancer() {
    let https = listener(
        NewListener {
            name: "s".into(),
            protocol: "https".into(),
            port: Some(443),
            certificate_ids: vec!["c".into()],
            ..Default::default()
        },
        &[],
    )
    .unwrap();
    let tcp = listener(
        NewListener {
            name: "t".into(),
            protocol: "tcp".into(),
            port: Some(8443),
            ..Default::default()
        },
        &[],
    )
    .unwrap();
    let siblings = [https.clone(), tcp];
    let redirect = |protocol: &str, port: u32| NewListener {
        name: "r".into(),
        protocol: protocol.into(),
        port: Some(80),
        redirect_https_port: Some(port),
        ..Default::default()
    };
    let mut made = listener(redirect("http", 443), &siblings).unwrap();
    made.id = "redirecting".into();
    assert_eq!(made.redirect_https_port, Some(443));
    // A TCP listener's port, a port with nothing, another load balancer's
    // listener (not among the siblings): refused.
    for (req, others) in [
        (redirect("http", 8443), &siblings[..]),
        (redirect("http", 444), &siblings[..]),
        (redirect("http", 443), &[][..]),
        (redirect("http", 0), &siblings[..]),
        (redirect("tcp", 443), &siblings[..]),
    ] {
        match listener(req, others) {
            Err(Error::InvalidField { field, .. }) => assert_eq!(field, "redirect_https_port"),
            other => panic!("{other:?}"),
        }
    }
    // The target stays while a redirect names it.
    assert!(matches!(
        check_listener_delete(&https, &[made.clone()]),
        Err(Error::Conflict { .. })
    ));
    assert!(check_listener_delete(&https, &[]).is_ok());
    // An update is checked against the others, itself excluded.
    let off = plan_listener_update(
        &lb(),
        &made,
        &ListenerUpdate {
            redirect_https_port: Some(None),
            ..Default::default()
        },
        Timestamp(3),
    )
    .unwrap();
    assert_eq!(off.redirect_https_port, None);
    let mut wrong = made.clone();
    wrong.redirect_https_port = Some(8443);
    assert!(check_redirect(&wrong, &siblings).is_err());
    assert!(check_redirect(&made, &siblings).is_ok());
}

#[test]
fn an_https_listener_may_wait_for_its_certificate_only_when_asked() {
    let req = |later| NewListener {
        name: "s".into(),
        protocol: "https".into(),
        port: Some(443),
        certificates_later: later,
        ..Default::default()
    };
    assert!(listener(req(false), &[]).is_err());
    assert!(listener(req(true), &[]).unwrap().certificate_ids.is_empty());
}

#[test]
fn a_vip_mode_is_set_left_or_cleared_and_moves_the_update_time() {
    use crate::cluster::VipMode;
    let lb = lb();
    let with = |mode: Option<Option<VipMode>>, from: &LoadBalancer, at: i64| {
        let update = LoadBalancerUpdate {
            vip_mode: mode,
            ..LoadBalancerUpdate::default()
        };
        plan_lb_update(from, &update, Timestamp(at)).unwrap()
    };
    let anycast = with(Some(Some(VipMode::Anycast)), &lb, 5);
    assert_eq!(anycast.vip_mode, Some(VipMode::Anycast));
    assert_eq!(anycast.updated_at, Timestamp(5));
    let left = with(None, &anycast, 9);
    assert_eq!(left, anycast, "absent leaves it and the time");
    let cleared = with(Some(None), &anycast, 9);
    assert_eq!(cleared.vip_mode, None);
    assert_eq!(cleared.updated_at, Timestamp(9));
}
