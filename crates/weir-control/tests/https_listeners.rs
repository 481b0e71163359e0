//! HTTPS listeners through the control layer (issue 15): they name their
//! project's certificates (another project's is not found), the topology
//! carries the opened keys to the data plane (or says why it cannot),
//! rotation replaces the list, and a certificate in use is not deleted.

use std::sync::Arc;
use std::time::Duration;

use weir_control::{Control, ControlError, Principal, UploadedCertificate};
use weir_core::ids::{ListenerId, ProjectId};
use weir_core::inventory::{NewSubnet, NewVpc};
use weir_core::loadbalancer::{ListenerUpdate, NewListener, NewLoadBalancer};
use weir_core::model::{Certificate, LoadBalancer, Protocol};
use weir_core::settings::Settings;
use weir_core::topology::ListenerTls;
use weir_core::{Error, ResourceKind};
use weir_store::sqlite::Durability;
use weir_store::Store;

fn upload(name: &str) -> (UploadedCertificate, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let up = UploadedCertificate {
        project_id: None,
        name: name.into(),
        certificate: cert.pem(),
        private_key: key.serialize_pem(),
        required_names: Vec::new(),
    };
    (up, key.serialize_pem())
}

async fn start(store: Arc<dyn Store>, key: [u8; 32]) -> Control {
    Control::start_keyed(
        store,
        Settings::default(),
        "admin".into(),
        weir_control::Retention::default(),
        Some(key),
    )
    .await
    .unwrap()
}

async fn project_with_lb(control: &Control, name: &str) -> (ProjectId, LoadBalancer) {
    let admin = Principal::Admin;
    let project = control
        .create_project(&admin, name.into())
        .await
        .unwrap()
        .project;
    let vpc = control
        .create_vpc(
            &admin,
            project.id.clone(),
            NewVpc {
                name: "v".into(),
                cidr: "10.0.0.0/16".into(),
                has_border_gateway: false,
                shared: false,
            },
        )
        .await
        .unwrap();
    let subnet = control
        .create_subnet(
            &admin,
            vpc.id.clone(),
            NewSubnet {
                name: "s".into(),
                cidr: "10.0.1.0/24".into(),
            },
        )
        .await
        .unwrap();
    let lb = control
        .create_load_balancer(
            &Principal::Project(project.id.clone()),
            subnet.id.clone(),
            NewLoadBalancer {
                name: "lb".into(),
                vip: None,
                vpc_id: None,
                stopped: false,
                description: None,
                tags: Vec::new(),
                flavor_id: None,
                vip_mode: None,
            },
        )
        .await
        .unwrap();
    (project.id, lb)
}

fn https(port: u32, certs: &[&Certificate]) -> NewListener {
    NewListener {
        name: "web".into(),
        protocol: "https".into(),
        port: Some(port),
        certificate_ids: certs.iter().map(|c| c.id.to_string()).collect(),
        ..NewListener::default()
    }
}

/// The TLS part of a listener's spec once the follower has it.
async fn tls_of(
    control: &Control,
    id: &ListenerId,
    want: impl Fn(&ListenerTls) -> bool,
) -> ListenerTls {
    let mut topology = control.topology();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let found = topology
            .borrow_and_update()
            .listeners
            .get(id)
            .and_then(|l| l.tls.clone());
        match found {
            Some(tls) if want(&tls) => return (*tls).clone(),
            other if tokio::time::Instant::now() > deadline => panic!("{other:?}"),
            _ => {
                let _ = tokio::time::timeout(Duration::from_millis(100), topology.changed()).await;
            }
        }
    }
}

fn ids(tls: &ListenerTls) -> Vec<String> {
    match tls {
        ListenerTls::Serve(certs) => certs.iter().map(|c| c.id.to_string()).collect(),
        ListenerTls::Unavailable(_) => Vec::new(),
    }
}

#[tokio::test]
async fn https_listeners_serve_their_projects_certificates_and_hold_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = weir_store::testing::store(&dir.path().join("h.db"), Durability::Normal).await;
    let control = start(store.clone(), [7; 32]).await;
    let (a, lb) = project_with_lb(&control, "a").await;
    let (b, _) = project_with_lb(&control, "b").await;
    let (pa, pb) = (Principal::Project(a.clone()), Principal::Project(b.clone()));
    let (up1, key1) = upload("one.example.test");
    let one = control.create_certificate(&pa, up1).await.unwrap();
    let two = control
        .create_certificate(&pa, upload("two.example.test").0)
        .await
        .unwrap();
    let theirs = control
        .create_certificate(&pb, upload("b.example.test").0)
        .await
        .unwrap();

    // Another project's certificate is not found, as one that does not
    // exist; nothing is written.
    for bad in [&theirs.id.to_string(), "no-such-certificate"] {
        let mut req = https(443, &[&one]);
        req.certificate_ids.push(bad.to_string());
        let err = control
            .create_listener(&pa, lb.id.clone(), req)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ControlError::Domain(Error::NotFound { kind: ResourceKind::Certificate, id }) if id == bad),
            "{err:?}"
        );
    }
    assert!(control
        .list_listeners(&pa, &lb.id)
        .await
        .unwrap()
        .is_empty());
    // Shape: at least one, only on https, no repeats.
    for req in [
        https(443, &[]),
        https(443, &[&one, &one]),
        NewListener {
            protocol: "http".into(),
            ..https(80, &[&one])
        },
    ] {
        assert!(matches!(
            control.create_listener(&pa, lb.id.clone(), req).await,
            Err(ControlError::Domain(Error::InvalidField { .. }))
        ));
    }

    let listener = control
        .create_listener(&pa, lb.id.clone(), https(443, &[&one, &two]))
        .await
        .unwrap();
    assert_eq!(listener.protocol, Protocol::Https);
    assert_eq!(listener.certificate_ids, [one.id.clone(), two.id.clone()]);
    // The follower hands the data plane the opened keys, in order.
    let tls = tls_of(&control, &listener.id, |t| ids(t).len() == 2).await;
    let ListenerTls::Serve(served) = &tls else {
        panic!("{tls:?}")
    };
    assert_eq!(&*served[0].key_pem, key1);
    assert!(served[0].chain_pem.contains("BEGIN CERTIFICATE"));
    assert!(
        !format!("{tls:?}").contains("PRIVATE KEY"),
        "Debug hides keys"
    );

    // In use: not deleted, and the refusal names the listener.
    let err = control
        .delete_certificate(&pa, one.id.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ControlError::Domain(Error::Conflict { reason }) if reason.contains(listener.id.as_str())),
        "{err:?}"
    );
    // Rotation: the list is replaced, the same rules hold.
    let rotate = |ids: Vec<String>| ListenerUpdate {
        certificate_ids: Some(ids),
        ..ListenerUpdate::default()
    };
    assert!(matches!(
        control
            .update_listener(
                &pa,
                listener.id.clone(),
                rotate(vec![theirs.id.to_string()])
            )
            .await,
        Err(ControlError::Domain(Error::NotFound { .. }))
    ));
    assert!(matches!(
        control
            .update_listener(&pa, listener.id.clone(), rotate(Vec::new()))
            .await,
        Err(ControlError::Domain(Error::InvalidField { .. }))
    ));
    let rotated = control
        .update_listener(&pa, listener.id.clone(), rotate(vec![two.id.to_string()]))
        .await
        .unwrap();
    assert_eq!(rotated.certificate_ids, std::slice::from_ref(&two.id));
    let tls = tls_of(&control, &listener.id, |t| ids(t) == [two.id.to_string()]).await;
    assert_eq!(ids(&tls), [two.id.to_string()]);
    control
        .delete_certificate(&pa, one.id.clone())
        .await
        .unwrap();
    // Project B cannot see A's listener's certificate either way.
    assert!(control
        .delete_certificate(&pb, two.id.clone())
        .await
        .is_err());

    // A node whose secrets key differs cannot open the key: the spec says
    // so, and the data plane will serve nothing there.
    let other = start(store, [8; 32]).await;
    let tls = tls_of(&other, &listener.id, |_| true).await;
    assert!(
        matches!(&tls, ListenerTls::Unavailable(why) if why.contains(two.id.as_str())),
        "{tls:?}"
    );
}
