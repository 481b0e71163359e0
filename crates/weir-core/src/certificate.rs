//! The rules of a project's certificates that are not about the bytes
//! (those are `weir-tls`'s): a name, and room in the project.

use crate::error::QuotaKind;
use crate::ids::{CertificateId, ProjectId};
use crate::model::Certificate;
use crate::settings::{Limits, Settings};
use crate::{inventory, Error, Timestamp};

/// What an upload says about its certificate once `weir-tls` has read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub name: String,
    pub subject: String,
    pub names: Vec<String>,
    pub fingerprint_sha256: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub key_type: String,
    pub chain_length: u32,
    /// Names the uploader says the certificate serves (Huawei's `domain`):
    /// each must be one of its own, or the upload is refused.
    pub required_names: Vec<String>,
}

/// The certificate to store for `project`, which holds `existing` already.
pub fn plan_certificate(
    project: &ProjectId,
    new: NewCertificate,
    existing: usize,
    settings: &Settings,
    id: String,
    now: Timestamp,
) -> Result<Certificate, Error> {
    inventory::validate_name("name", &new.name)?;
    let unknown: Vec<&str> = new
        .required_names
        .iter()
        .map(String::as_str)
        .filter(|wanted| !new.names.iter().any(|own| own.eq_ignore_ascii_case(wanted)))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::invalid(
            "domain",
            format!(
                "{} not among the certificate's names ({})",
                unknown.join(","),
                new.names.join(",")
            ),
        ));
    }
    Limits::room_for_one(
        QuotaKind::CertificatesPerProject,
        existing,
        settings.limits.certificates_per_project,
    )?;
    Ok(Certificate {
        id: CertificateId::new(id),
        project_id: project.clone(),
        name: new.name,
        subject: new.subject,
        names: new.names,
        fingerprint_sha256: new.fingerprint_sha256,
        not_before: new.not_before,
        not_after: new.not_after,
        key_type: new.key_type,
        chain_length: new.chain_length,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewCertificate {
        NewCertificate {
            name: name.into(),
            subject: "CN=a".into(),
            names: vec!["a.example.test".into()],
            fingerprint_sha256: "00".repeat(32),
            not_before: Timestamp(0),
            not_after: Timestamp(1),
            key_type: "ECDSA-P256".into(),
            chain_length: 1,
            required_names: Vec::new(),
        }
    }

    #[test]
    fn a_project_holds_at_most_its_quota() {
        let settings = Settings::default();
        let limit = settings.limits.certificates_per_project;
        let p = ProjectId::new("p");
        assert!(plan_certificate(
            &p,
            new("web"),
            limit - 1,
            &settings,
            "c".into(),
            Timestamp(5)
        )
        .is_ok());
        assert!(matches!(
            plan_certificate(&p, new("web"), limit, &settings, "c".into(), Timestamp(5)),
            Err(Error::QuotaExceeded {
                kind: QuotaKind::CertificatesPerProject,
                ..
            })
        ));
    }

    #[test]
    fn names_follow_the_name_rules() {
        let settings = Settings::default();
        let p = ProjectId::new("p");
        assert!(plan_certificate(&p, new("a\nb"), 0, &settings, "c".into(), Timestamp(5)).is_err());
    }

    #[test]
    fn named_domains_must_be_the_certificates_own() {
        let settings = Settings::default();
        let p = ProjectId::new("p");
        let mut ok = new("web");
        ok.required_names = vec!["A.example.test".into()];
        assert!(plan_certificate(&p, ok, 0, &settings, "c".into(), Timestamp(5)).is_ok());
        let mut bad = new("web");
        bad.required_names = vec!["b.example.test".into()];
        let err = plan_certificate(&p, bad, 0, &settings, "c".into(), Timestamp(5)).unwrap_err();
        assert!(matches!(err, Error::InvalidField { ref field, .. } if field == "domain"));
    }
}
