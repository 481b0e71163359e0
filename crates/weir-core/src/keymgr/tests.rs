//! The key manager's rules, one test per rule.

use super::*;
use crate::model::{ForwardedHeaders, ForwardingMode, ListenerPorts, ProxyProtocol, Scheduler};

fn project() -> ProjectId {
    ProjectId::new("p")
}

fn payload(n: usize) -> Payload {
    Payload {
        content_type: "application/octet-stream".into(),
        bytes: vec![7; n],
    }
}

fn secret(id: &str, project: &str) -> Secret {
    Secret {
        id: SecretId::new(id),
        project_id: ProjectId::new(project),
        name: String::new(),
        secret_type: "opaque".into(),
        algorithm: None,
        bit_length: None,
        mode: None,
        expiration: None,
        content_type: Some("application/octet-stream".into()),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

fn plan(new: &NewSecret, existing: usize) -> Result<Secret, Error> {
    plan_secret(
        &project(),
        new,
        existing,
        &Settings::default(),
        "s".into(),
        Timestamp(10),
    )
}

#[test]
fn a_payload_is_bounded_by_the_setting_and_never_empty() {
    let max = Settings::default().limits.secret_max_bytes;
    let with = |n| NewSecret {
        payload: Some(payload(n)),
        ..NewSecret::default()
    };
    assert!(plan(&with(max), 0).is_ok());
    assert!(matches!(
        plan(&with(max + 1), 0),
        Err(Error::InvalidField { .. })
    ));
    assert!(matches!(plan(&with(0), 0), Err(Error::InvalidField { .. })));
}

#[test]
fn text_payloads_are_utf8_and_content_types_are_barbicans() {
    let text = NewSecret {
        payload: Some(Payload {
            content_type: "text/plain".into(),
            bytes: vec![0xff, 0xfe],
        }),
        ..NewSecret::default()
    };
    assert!(plan(&text, 0).is_err());
    assert_eq!(
        content_type("f", "text/plain; charset=utf-8").unwrap(),
        "text/plain"
    );
    assert!(content_type("f", "text/plain; charset=latin1").is_err());
    assert!(content_type("f", "image/png").is_err());
    assert_eq!(
        content_type("f", "Application/Octet-Stream").unwrap(),
        "application/octet-stream"
    );
}

#[test]
fn a_project_holds_at_most_its_quota_of_secrets() {
    let limit = Settings::default().limits.secrets_per_project;
    assert!(plan(&NewSecret::default(), limit - 1).is_ok());
    assert!(matches!(
        plan(&NewSecret::default(), limit),
        Err(Error::QuotaExceeded {
            kind: QuotaKind::SecretsPerProject,
            ..
        })
    ));
}

#[test]
fn types_and_expirations_are_checked() {
    let bad_type = NewSecret {
        secret_type: Some("magic".into()),
        ..NewSecret::default()
    };
    assert!(plan(&bad_type, 0).is_err());
    let past = NewSecret {
        expiration: Some(Timestamp(5)),
        ..NewSecret::default()
    };
    assert!(plan(&past, 0).is_err());
    let made = plan(&NewSecret::default(), 0).unwrap();
    assert_eq!(
        (made.secret_type.as_str(), made.content_type),
        ("opaque", None)
    );
}

#[test]
fn a_payload_is_stored_once() {
    let settings = Settings::default();
    let mut empty = secret("s", "p");
    empty.content_type = None;
    let next = plan_payload(&empty, &payload(3), &settings, Timestamp(9)).unwrap();
    assert_eq!(
        next.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert!(matches!(
        plan_payload(&next, &payload(3), &settings, Timestamp(9)),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn certificate_containers_use_barbicans_names_and_own_secrets() {
    let settings = Settings::default();
    let found = [secret("c", "p"), secret("k", "p"), secret("theirs", "q")];
    let new = |refs: &[(&str, &str)]| NewContainer {
        name: None,
        kind: ContainerKind::Certificate,
        secret_refs: refs
            .iter()
            .map(|(n, id)| ((*n).to_owned(), SecretId::new(*id)))
            .collect(),
    };
    let plan = |c: &NewContainer| {
        plan_container(
            &project(),
            c,
            &found,
            0,
            &settings,
            "k1".into(),
            Timestamp(1),
        )
    };
    assert!(plan(&new(&[("certificate", "c"), ("private_key", "k")])).is_ok());
    assert!(
        plan(&new(&[("private_key", "k")])).is_err(),
        "no certificate"
    );
    assert!(
        plan(&new(&[("certificate", "c"), ("cert", "k")])).is_err(),
        "a wrong name"
    );
    assert!(
        plan(&new(&[("certificate", "c"), ("certificate", "k")])).is_err(),
        "twice"
    );
    assert!(matches!(
        plan(&new(&[("certificate", "theirs")])),
        Err(Error::NotFound {
            kind: ResourceKind::Secret,
            ..
        })
    ));
    assert!(matches!(
        plan(&new(&[("certificate", "missing")])),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn what_a_listener_serves_from_is_not_deleted() {
    let container = Container {
        id: ContainerId::new("box"),
        project_id: project(),
        name: String::new(),
        kind: ContainerKind::Certificate,
        secret_refs: vec![("certificate".into(), SecretId::new("in-box"))],
        created_at: Timestamp(0),
    };
    let listener = Listener {
        id: "ls-1".into(),
        project_id: project(),
        lb_id: "lb-1".into(),
        name: "l".into(),
        protocol: Protocol::Https,
        ports: ListenerPorts::Single(443),
        forwarding_mode: ForwardingMode::Proxy,
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
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        tags: Vec::new(),
    };
    let mut listener = listener;
    listener.tls_refs = vec![
        TlsRef {
            href: "h/s".into(),
            target: KeyRef::Secret(SecretId::new("direct")),
        },
        TlsRef {
            href: "h/c".into(),
            target: KeyRef::Container(ContainerId::new("box")),
        },
    ];
    let users = [listener];
    let containers = [container];
    for target in [
        KeyRef::Secret(SecretId::new("direct")),
        KeyRef::Secret(SecretId::new("in-box")),
        KeyRef::Container(ContainerId::new("box")),
    ] {
        assert!(matches!(
            check_delete(&target, &users, &containers),
            Err(Error::Conflict { .. })
        ));
    }
    assert!(check_delete(&KeyRef::Secret(SecretId::new("free")), &users, &containers).is_ok());
    // A client CA and a CRL (mTLS) are in use as much.
    let mut verifying = users[0].clone();
    verifying.tls_refs.clear();
    verifying.client_auth.ca = Some(TlsRef {
        href: "h/ca".into(),
        target: KeyRef::Secret(SecretId::new("client-ca")),
    });
    verifying.client_auth.crl = Some(TlsRef {
        href: "h/crl".into(),
        target: KeyRef::Secret(SecretId::new("client-crl")),
    });
    let users = [verifying];
    for id in ["client-ca", "client-crl"] {
        assert!(matches!(
            check_delete(&KeyRef::Secret(SecretId::new(id)), &users, &containers),
            Err(Error::Conflict { .. })
        ));
    }
    assert!(check_delete(
        &KeyRef::Secret(SecretId::new("direct")),
        &users,
        &containers
    )
    .is_ok());
}

#[test]
fn only_https_listeners_name_refs_and_none_twice() {
    let r = |id: &str| TlsRef {
        href: format!("h/{id}"),
        target: KeyRef::Secret(SecretId::new(id)),
    };
    assert_eq!(
        listener_tls_refs(Protocol::Https, &[r("a"), r("b")])
            .unwrap()
            .len(),
        2
    );
    assert!(listener_tls_refs(Protocol::Http, &[r("a")]).is_err());
    assert!(listener_tls_refs(Protocol::Https, &[r("a"), r("a")]).is_err());
    let many: Vec<TlsRef> = (0..51).map(|i| r(&i.to_string())).collect();
    assert!(listener_tls_refs(Protocol::Https, &many).is_err());
}

#[test]
fn what_a_pool_dials_with_is_not_deleted() {
    let r = |id: &str| TlsRef {
        href: format!("h/{id}"),
        target: KeyRef::Secret(SecretId::new(id)),
    };
    let mut pool = crate::model::Pool::new(
        crate::ids::PoolId::new("pool-1"),
        (&project(), &crate::ids::LoadBalancerId::new("lb-1")),
        None,
        String::new(),
        Timestamp(0),
    );
    pool.upstream_tls = Some(crate::upstream_tls::UpstreamTls {
        ca: Some(r("ca")),
        crl: Some(r("crl")),
        client_cert: Some(TlsRef {
            href: "h/c".into(),
            target: KeyRef::Container(ContainerId::new("box")),
        }),
        ..Default::default()
    });
    let container = Container {
        id: ContainerId::new("box"),
        project_id: project(),
        name: String::new(),
        kind: ContainerKind::Certificate,
        secret_refs: vec![("certificate".into(), SecretId::new("in-box"))],
        created_at: Timestamp(0),
    };
    let pools = [pool];
    let containers = [container];
    for (target, role) in [
        (KeyRef::Secret(SecretId::new("ca")), "CA bundle"),
        (KeyRef::Secret(SecretId::new("crl")), "CRL"),
        (
            KeyRef::Secret(SecretId::new("in-box")),
            "client certificate",
        ),
        (
            KeyRef::Container(ContainerId::new("box")),
            "client certificate",
        ),
    ] {
        let err = check_pool_delete(&target, &pools, &containers).unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { .. }) && err.to_string().contains(role),
            "{target:?}: {err}"
        );
    }
    assert!(check_pool_delete(&KeyRef::Secret(SecretId::new("free")), &pools, &containers).is_ok());
}
