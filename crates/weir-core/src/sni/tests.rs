//! Domain extension rules, one test per rule.

use super::*;
use crate::ids::SequentialIds;
use crate::loadbalancer::{plan_listener, NewListener};
use crate::model::{LbStatus, LoadBalancer};

fn lb() -> LoadBalancer {
    LoadBalancer {
        id: "lb".into(),
        project_id: "p".into(),
        name: "lb".into(),
        subnet_id: "s".into(),
        vpc_id: "v".into(),
        vip: "10.0.0.5".parse().unwrap(),
        status: LbStatus::Running,
        default_pool_id: "lb-wide".into(),
        description: String::new(),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        tags: Vec::new(),
        flavor_id: None,
        vip_mode: None,
    }
}

fn listener(protocol: &str) -> Listener {
    let req = NewListener {
        name: protocol.into(),
        protocol: protocol.into(),
        port: Some(443),
        certificate_ids: if protocol == "https" {
            vec!["c0".into()]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    plan_listener(
        &lb(),
        &[],
        &req,
        &mut SequentialIds::default(),
        Timestamp(1),
    )
    .unwrap()
    .listener
}

fn cert(id: &str, project: &str, names: &[&str]) -> Certificate {
    Certificate {
        id: id.into(),
        project_id: project.into(),
        name: id.into(),
        kind: crate::model::CertificateKind::Server,
        subject: String::new(),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        fingerprint_sha256: String::new(),
        not_before: Timestamp(0),
        not_after: Timestamp(10),
        key_type: "ECDSA-P256".into(),
        chain_length: 1,
        created_at: Timestamp(0),
    }
}

fn add(domain: &str, cert_id: &str) -> DomainExtensionChange {
    DomainExtensionChange::Add {
        domain: domain.into(),
        certificate_id: cert_id.into(),
    }
}

fn plan(
    l: &Listener,
    change: &DomainExtensionChange,
    c: Option<&Certificate>,
) -> Result<Listener, Error> {
    plan_domain_extension(l, change, c, extension_id(&l.id, "x"), Timestamp(2))
}

#[test]
fn an_extension_maps_a_covered_domain_to_the_projects_certificate() {
    let l = listener("https");
    let b = cert("b", "p", &["*.example.com"]);
    let next = plan(&l, &add("WWW.Example.com.", "b"), Some(&b)).unwrap();
    assert_eq!(next.domain_extensions.len(), 1);
    assert_eq!(next.domain_extensions[0].domain, "www.example.com");
    assert_eq!(next.domain_extensions[0].certificate_id.as_str(), "b");
    assert_eq!(
        listener_of_extension(&next.domain_extensions[0].id),
        Some(l.id.clone())
    );
    assert_eq!(next.updated_at, Timestamp(2));
}

#[test]
fn only_https_listeners_have_extensions() {
    let b = cert("b", "p", &["a.example.com"]);
    let err = plan(&listener("http"), &add("a.example.com", "b"), Some(&b)).unwrap_err();
    assert!(matches!(err, Error::InvalidField { .. }), "{err:?}");
}

#[test]
fn another_projects_or_an_unknown_certificate_is_not_found() {
    let l = listener("https");
    let theirs = cert("b", "q", &["a.example.com"]);
    for found in [Some(&theirs), None] {
        let err = plan(&l, &add("a.example.com", "b"), found).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    kind: ResourceKind::Certificate,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn a_domain_is_a_dns_name_or_one_wildcard_label_before_one() {
    for bad in [
        "",
        "com",
        "a..example.com",
        "-a.example.com",
        "a b.example.com",
        "a.example.com\r\nX: y",
        "*",
        "*.com",
        "a.*.example.com",
        "**.example.com",
        "*example.com",
        "é.example.com",
        &format!("{}.com", "a".repeat(64)),
        &format!("{}com", "a.".repeat(130)),
    ] {
        assert!(check_domain("domain", bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(
        check_domain("domain", "*.Example.com").unwrap(),
        "*.example.com"
    );
    assert_eq!(
        check_domain("domain", "x-1.example.com").unwrap(),
        "x-1.example.com"
    );
}

#[test]
fn the_certificate_must_cover_the_domain() {
    let l = listener("https");
    let exact = cert("b", "p", &["a.example.com"]);
    let wild = cert("w", "p", &["*.example.com"]);
    assert!(plan(&l, &add("b.example.com", "b"), Some(&exact)).is_err());
    // A wildcard covers one label, not two, and not the parent.
    assert!(plan(&l, &add("x.y.example.com", "w"), Some(&wild)).is_err());
    assert!(plan(&l, &add("example.com", "w"), Some(&wild)).is_err());
    // A wildcard domain needs that wildcard in the certificate.
    assert!(plan(&l, &add("*.example.com", "b"), Some(&exact)).is_err());
    assert!(plan(&l, &add("*.example.com", "w"), Some(&wild)).is_ok());
}

#[test]
fn one_extension_per_domain_and_at_most_fifty() {
    let wild = cert("w", "p", &["*.example.com"]);
    let mut l = listener("https");
    l = plan(&l, &add("a.example.com", "w"), Some(&wild)).unwrap();
    let again = plan(&l, &add("A.example.com", "w"), Some(&wild)).unwrap_err();
    assert!(matches!(again, Error::Conflict { .. }), "{again:?}");
    for i in 1..MAX_DOMAIN_EXTENSIONS_PER_LISTENER {
        let id = extension_id(&l.id, &i.to_string());
        l = plan_domain_extension(
            &l,
            &add(&format!("h{i}.example.com"), "w"),
            Some(&wild),
            id,
            Timestamp(3),
        )
        .unwrap();
    }
    assert!(plan(&l, &add("last.example.com", "w"), Some(&wild)).is_err());
}

#[test]
fn set_changes_the_certificate_under_the_same_rules_and_delete_removes() {
    let wild = cert("w", "p", &["*.example.com"]);
    let other = cert("o", "p", &["other.test"]);
    let l = plan(&listener("https"), &add("a.example.com", "w"), Some(&wild)).unwrap();
    let id = l.domain_extensions[0].id.clone();
    let set = |c: &Certificate| DomainExtensionChange::Set {
        id: id.clone(),
        certificate_id: c.id.to_string(),
    };
    assert!(plan(&l, &set(&other), Some(&other)).is_err());
    let exact = cert("e", "p", &["a.example.com"]);
    let next = plan(&l, &set(&exact), Some(&exact)).unwrap();
    assert_eq!(next.domain_extensions[0].certificate_id.as_str(), "e");
    let gone = plan(
        &next,
        &DomainExtensionChange::Delete { id: id.clone() },
        None,
    )
    .unwrap();
    assert!(gone.domain_extensions.is_empty());
    let missing = plan(&gone, &DomainExtensionChange::Delete { id }, None).unwrap_err();
    assert!(matches!(
        missing,
        Error::NotFound {
            kind: ResourceKind::DomainExtension,
            ..
        }
    ));
}

#[test]
fn an_extension_id_names_its_listener_or_nothing() {
    assert_eq!(
        listener_of_extension("l1.de-abc"),
        Some(ListenerId::new("l1"))
    );
    assert_eq!(
        listener_of_extension("a.de-b.de-c"),
        Some(ListenerId::new("a.de-b"))
    );
    for bad in ["", "l1", ".de-abc", "l1.de-", "de-abc"] {
        assert_eq!(listener_of_extension(bad), None, "{bad:?}");
    }
}

#[test]
fn a_listener_verifying_clients_with_a_ca_certificate_uses_it() {
    use crate::client_auth::{ClientAuth, ClientAuthMode};
    use crate::keymgr::{KeyRef, TlsRef};
    let with_ca = |ca: Option<&str>| {
        let mut l = listener("https");
        l.client_auth = ClientAuth {
            mode: ClientAuthMode::Mandatory,
            ca: ca.map(|id| TlsRef {
                href: id.into(),
                target: KeyRef::Certificate(id.into()),
            }),
            crl: None,
        };
        l
    };
    let ca: crate::ids::CertificateId = "ca".into();
    // A CA in use is not deleted: the listener would verify no client.
    assert!(crate::certificate::serves(&with_ca(Some("ca")), &ca));
    assert!(!crate::certificate::serves(&with_ca(Some("other")), &ca));
    assert!(!crate::certificate::serves(&with_ca(None), &ca));
}
