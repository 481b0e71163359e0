//! Certificates through the control layer (issue 15): uploaded by a
//! project, shown without their key, the key sealed in the store and
//! opened only with the deployment's secrets key, and held to roles,
//! tenancy and the quota.

use std::sync::Arc;

use weir_control::{Control, ControlError, Principal, UploadedCertificate};
use weir_core::ids::CertificateId;
use weir_core::model::Role;
use weir_core::settings::Settings;
use weir_core::Error;
use weir_store::sqlite::Durability;
use weir_store::Store;

fn bundle(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn upload(name: &str, project: Option<&weir_core::ids::ProjectId>) -> UploadedCertificate {
    let (certificate, private_key) = bundle(name);
    UploadedCertificate {
        project_id: project.cloned(),
        name: name.into(),
        certificate,
        private_key,
        required_names: Vec::new(),
    }
}

async fn start(store: Arc<dyn Store>, settings: Settings, key: [u8; 32]) -> Control {
    Control::start(store, settings, "admin".into())
        .await
        .unwrap()
        .with_secrets_key(key)
}

#[tokio::test]
async fn a_key_is_sealed_in_the_store_and_opens_only_with_its_secrets_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = weir_store::testing::store(&dir.path().join("c.db"), Durability::Normal).await;
    let control = start(store.clone(), Settings::default(), [1; 32]).await;
    let project = control
        .create_project(&Principal::Admin, "shop".into())
        .await
        .unwrap()
        .project;
    let member = Principal::Project(project.id.clone());
    let sent = upload("www.example.test", None);
    let made = control
        .create_certificate(&member, sent.clone())
        .await
        .unwrap();
    assert_eq!(made.project_id, project.id);
    assert_eq!(made.names, ["www.example.test"]);
    assert_eq!(made.key_type, "ECDSA-P256");

    // What the store holds is sealed: no PEM, no base64 body of the key.
    let (chain, sealed) = store
        .read()
        .await
        .unwrap()
        .certificate_material(&made.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chain, sent.certificate);
    let body_line = sent.private_key.lines().nth(1).unwrap();
    assert!(!sealed.contains("PRIVATE KEY") && !sealed.contains(body_line));

    // This deployment's key opens it; another deployment's does not.
    let (_, key) = control
        .certificate_material(&made.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key, sent.private_key);
    let other = start(store, Settings::default(), [2; 32]).await;
    assert_eq!(other.certificate_material(&made.id).await.unwrap(), None);
}

#[tokio::test]
async fn certificates_keep_to_their_project_roles_and_quota() {
    let dir = tempfile::tempdir().unwrap();
    let store = weir_store::testing::store(&dir.path().join("c.db"), Durability::Normal).await;
    let mut settings = Settings::default();
    settings.limits.certificates_per_project = 2;
    let control = start(store, settings, [1; 32]).await;
    let admin = Principal::Admin;
    let a = control
        .create_project(&admin, "a".into())
        .await
        .unwrap()
        .project;
    let b = control
        .create_project(&admin, "b".into())
        .await
        .unwrap()
        .project;
    let (pa, pb) = (
        Principal::Project(a.id.clone()),
        Principal::Project(b.id.clone()),
    );

    let mine = control
        .create_certificate(&pa, upload("a.example.test", None))
        .await
        .unwrap();
    // Another project neither sees it nor deletes it, nor uploads into A.
    let hidden = control.get_certificate(&pb, &mine.id).await.unwrap_err();
    assert!(matches!(
        hidden,
        ControlError::Domain(Error::NotFound { .. })
    ));
    assert!(control
        .delete_certificate(&pb, mine.id.clone())
        .await
        .is_err());
    let into_a = control
        .create_certificate(&pb, upload("x.example.test", Some(&a.id)))
        .await
        .unwrap_err();
    assert!(matches!(
        into_a,
        ControlError::Domain(Error::NotFound { .. })
    ));
    assert!(control.list_certificates(&pb).await.unwrap().is_empty());

    // A reader of A sees it and cannot upload or delete.
    let reader = Principal::with_role(a.id.clone(), Role::Reader);
    assert_eq!(control.list_certificates(&reader).await.unwrap().len(), 1);
    assert!(matches!(
        control
            .create_certificate(&reader, upload("r.example.test", None))
            .await,
        Err(ControlError::ReadOnly(Role::Reader))
    ));
    assert!(matches!(
        control.delete_certificate(&reader, mine.id.clone()).await,
        Err(ControlError::ReadOnly(Role::Reader))
    ));

    // The operator names the project, or is told to.
    let no_project = control
        .create_certificate(&admin, upload("o.example.test", None))
        .await
        .unwrap_err();
    assert!(
        matches!(no_project, ControlError::Domain(Error::InvalidField { ref field, .. }) if field == "project_id")
    );
    control
        .create_certificate(&admin, upload("o.example.test", Some(&a.id)))
        .await
        .unwrap();
    // Two is A's quota here.
    let over = control
        .create_certificate(&pa, upload("c.example.test", None))
        .await
        .unwrap_err();
    assert!(matches!(
        over,
        ControlError::Domain(Error::QuotaExceeded { .. })
    ));

    control
        .delete_certificate(&pa, mine.id.clone())
        .await
        .unwrap();
    assert!(control.get_certificate(&pa, &mine.id).await.is_err());
    assert_eq!(control.certificate_material(&mine.id).await.unwrap(), None);
    assert_eq!(
        control
            .certificate_material(&CertificateId::new("\0"))
            .await
            .unwrap(),
        None
    );
}
