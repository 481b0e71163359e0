//! The pool settings' rules: health checks, persistence, updates.

use super::*;

/// A data plane that can send ICMP.
const CAN: Capabilities = Capabilities { icmp_echo: true };

#[test]
fn checks_get_defaults_and_limits() {
    let tcp = plan_health_check(
        &HealthCheckSpec {
            kind: "tcp".into(),
            ..Default::default()
        },
        CAN,
    )
    .unwrap();
    assert_eq!(
        (tcp.interval_ms, tcp.timeout_ms, tcp.rise, tcp.fall),
        (2000, 1000, 2, 3)
    );
    let http = plan_health_check(
        &HealthCheckSpec {
            kind: "http".into(),
            path: Some("/health".into()),
            expected_codes: Some("200,204-206".into()),
            interval_ms: Some(100),
            ..Default::default()
        },
        CAN,
    )
    .unwrap();
    assert_eq!(http.timeout_ms, 100);
    // A timeout past the interval only spaces the checks out.
    let slow = plan_health_check(
        &HealthCheckSpec {
            kind: "udp-connect".into(),
            interval_ms: Some(2_000),
            timeout_ms: Some(3_000),
            ..Default::default()
        },
        CAN,
    )
    .unwrap();
    assert_eq!((slow.kind, slow.timeout_ms), (CheckKind::UdpConnect, 3_000));
    assert_eq!(
        http.kind,
        CheckKind::Http {
            path: "/health".into(),
            expected: vec![(200, 200), (204, 206)],
            request: CheckRequest::default(),
        }
    );
    for bad in [
        HealthCheckSpec {
            kind: "icmp".into(),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "tcp".into(),
            interval_ms: Some(10),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "tcp".into(),
            timeout_ms: Some(0),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "udp-connect".into(),
            path: Some("/".into()),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "tls-hello".into(),
            interval_ms: Some(999),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "tcp".into(),
            rise: Some(0),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "tcp".into(),
            path: Some("/".into()),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "http".into(),
            path: Some("x".into()),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "http".into(),
            expected_codes: Some("99".into()),
            ..Default::default()
        },
        HealthCheckSpec {
            kind: "tcp".into(),
            port: Some(0),
            ..Default::default()
        },
    ] {
        assert!(
            matches!(
                plan_health_check(&bad, CAN),
                Err(Error::InvalidField { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn http_checks_take_a_method_a_version_and_a_host() {
    let spec = |method: &str, version: &str, host: &str| HealthCheckSpec {
        kind: "https".into(),
        method: Some(method.into()),
        http_version: Some(version.into()),
        host: Some(host.into()),
        ..Default::default()
    };
    let check = plan_health_check(&spec("HEAD", "1.0", "example.com"), CAN).unwrap();
    let CheckKind::Https { request, .. } = check.kind else {
        panic!("{:?}", check.kind);
    };
    assert_eq!(
        request,
        CheckRequest {
            method: HttpMethod::Head,
            version: HttpVersion::Http10,
            host: Some("example.com".into()),
        }
    );
    assert!(HttpMethod::Post.expects_body() && !HttpMethod::Delete.expects_body());
    for host in [
        "a",
        "health.example.com.",
        "xn--bcher-kva.example",
        "a1-b2.c3",
    ] {
        assert!(check_host("h", host).is_ok(), "{host}");
    }
    let long_label = "a".repeat(64);
    let long_name = ["abcdefghi"; 26].join(".");
    for host in [
        "",
        ".",
        "example.com\r\nX-Injected: 1",
        "example.com\nX: 1",
        "example .com",
        "example.com:80",
        "user@example.com",
        "a..b",
        "-a.com",
        "a-.com",
        "exa_mple.com",
        "ex/ample",
        long_label.as_str(),
        long_name.as_str(),
    ] {
        assert!(
            matches!(
                plan_health_check(&spec("GET", "1.1", host), CAN),
                Err(Error::InvalidField { field, .. }) if field == "health_check.host"
            ),
            "{host:?}"
        );
    }
    for (method, version) in [
        ("CONNECT", "1.1"),
        ("get", "1.1"),
        ("GET", "2"),
        ("GET", "1"),
    ] {
        assert!(
            plan_health_check(&spec(method, version, "example.com"), CAN).is_err(),
            "{method} {version}"
        );
    }
    // They mean nothing to a check that sends no HTTP.
    for kind in ["tcp", "tls-hello", "udp-connect"] {
        let spec = HealthCheckSpec {
            kind: kind.into(),
            method: Some("GET".into()),
            ..Default::default()
        };
        assert!(plan_health_check(&spec, CAN).is_err(), "{kind}");
    }
}

#[test]
fn ping_needs_icmp_and_takes_no_port_or_http_fields() {
    let ping = HealthCheckSpec {
        kind: "ping".into(),
        ..Default::default()
    };
    let planned = plan_health_check(&ping, CAN).unwrap();
    assert_eq!(
        (planned.kind, planned.interval_ms, planned.timeout_ms),
        (CheckKind::Ping, 2_000, 1_000)
    );
    // The rule every dialect shares: no ICMP, no PING.
    let refused = plan_health_check(&ping, Capabilities::default()).unwrap_err();
    assert!(
        matches!(&refused, Error::Unsupported { field, .. } if field == "health_check.type"),
        "{refused:?}"
    );
    // Other kinds do not depend on ICMP.
    let tcp = HealthCheckSpec {
        kind: "tcp".into(),
        ..Default::default()
    };
    assert!(plan_health_check(&tcp, Capabilities::default()).is_ok());
    for bad in [
        HealthCheckSpec {
            port: Some(80),
            ..ping.clone()
        },
        HealthCheckSpec {
            path: Some("/".into()),
            ..ping.clone()
        },
        HealthCheckSpec {
            expected_codes: Some("200".into()),
            ..ping.clone()
        },
        HealthCheckSpec {
            method: Some("GET".into()),
            ..ping.clone()
        },
    ] {
        assert!(
            matches!(
                plan_health_check(&bad, CAN),
                Err(Error::InvalidField { .. })
            ),
            "{bad:?}"
        );
    }
    // A pool update plans the check against the same capabilities.
    let pool = Pool::new(
        "p".into(),
        (&"proj".into(), &"lb".into()),
        None,
        "p".into(),
        Timestamp(0),
    );
    let update = PoolUpdate {
        health_check: Some(Some(ping)),
        ..Default::default()
    };
    assert!(matches!(
        plan_pool_update(&pool, &update, Capabilities::default(), Timestamp(1)),
        Err(Error::Unsupported { .. })
    ));
    let next = plan_pool_update(&pool, &update, CAN, Timestamp(1)).unwrap();
    assert_eq!(next.health_check.map(|c| c.kind), Some(CheckKind::Ping));
}

fn spec(kind: &str, cookie_name: Option<&str>) -> PersistenceSpec {
    PersistenceSpec {
        kind: kind.into(),
        cookie_name: cookie_name.map(Into::into),
    }
}

fn invalid_field(r: Result<Persistence, Error>) -> String {
    match r {
        Err(Error::InvalidField { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn persistence_kinds_and_their_cookie_names() {
    let http = Some(PoolProtocol::Http);
    assert_eq!(
        plan_persistence(&spec("app-cookie", Some("JSESSIONID")), http).unwrap(),
        Persistence::AppCookie {
            cookie_name: "JSESSIONID".into()
        }
    );
    assert_eq!(
        plan_persistence(&spec("http-cookie", None), http).unwrap(),
        Persistence::HttpCookie
    );
    // Source IP needs no HTTP.
    assert_eq!(
        plan_persistence(&spec("source-ip", None), Some(PoolProtocol::Udp)).unwrap(),
        Persistence::SourceIp
    );
    // Octavia: the name is required for APP_COOKIE, refused otherwise.
    assert_eq!(
        invalid_field(plan_persistence(&spec("app-cookie", None), http)),
        "cookie_name"
    );
    for kind in ["http-cookie", "source-ip"] {
        assert_eq!(
            invalid_field(plan_persistence(&spec(kind, Some("c")), http)),
            "cookie_name",
            "{kind}"
        );
    }
    assert_eq!(
        invalid_field(plan_persistence(&spec("sticky", None), http)),
        "persistence"
    );
}

#[test]
fn cookie_persistence_needs_an_http_pool() {
    for protocol in [
        None,
        Some(PoolProtocol::Tcp),
        Some(PoolProtocol::Udp),
        Some(PoolProtocol::Https),
        Some(PoolProtocol::Proxy),
    ] {
        for p in [spec("http-cookie", None), spec("app-cookie", Some("sid"))] {
            assert_eq!(
                invalid_field(plan_persistence(&p, protocol)),
                "persistence",
                "{p:?} on {protocol:?}"
            );
        }
    }
}

#[test]
fn cookie_names_are_tokens() {
    for good in [
        "sid",
        "JSESSIONID",
        "a.b-c_d!#$%&'*+^`|~9",
        &"x".repeat(255),
    ] {
        assert!(check_cookie_name("cookie_name", good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "a b",
        "a=b",
        "a;b",
        "a,b",
        "a\tb",
        "a\r\nSet-Cookie",
        "a\u{7f}",
        "a:b",
        "\"q\"",
        "caf\u{e9}",
        &"x".repeat(256),
    ] {
        assert!(check_cookie_name("cookie_name", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn persistence_is_stored_in_one_text_column() {
    for p in [
        Persistence::SourceIp,
        Persistence::HttpCookie,
        Persistence::AppCookie {
            cookie_name: "sid".into(),
        },
    ] {
        assert_eq!(Persistence::from_stored(&p.to_stored()), Some(p));
    }
    for bad in ["app-cookie", "app-cookie:", "source-ip:x", "cookie"] {
        assert_eq!(Persistence::from_stored(bad), None, "{bad}");
    }
}

#[test]
fn an_update_plans_persistence_against_the_pools_protocol() {
    let mut pool = Pool::new(
        "p".into(),
        (&"proj".into(), &"lb".into()),
        None,
        "p".into(),
        Timestamp(0),
    );
    pool.protocol = Some(PoolProtocol::Tcp);
    let update = PoolUpdate {
        persistence: Some(Some(spec("http-cookie", None))),
        ..Default::default()
    };
    assert!(plan_pool_update(&pool, &update, CAN, Timestamp(1)).is_err());
    pool.protocol = Some(PoolProtocol::Http);
    let next = plan_pool_update(&pool, &update, CAN, Timestamp(1)).unwrap();
    assert_eq!(next.persistence, Some(Persistence::HttpCookie));
}
