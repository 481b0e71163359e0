//! The rules of a project's certificates that are not about the bytes
//! (those are `weir-tls`'s): a name, room in the project, and how HTTPS
//! listeners name them (how many, whose, and that one in use stays).
//! Server certificates are served; CA certificates
//! ([`CertificateKind::Ca`], a bundle without a key) only verify client
//! certificates ([`crate::client_auth`]), and neither stands in for the
//! other.

use std::collections::HashSet;

use crate::error::QuotaKind;
use crate::ids::{CertificateId, ProjectId};
use crate::keymgr::KeyRef;
use crate::model::{Certificate, CertificateKind, Listener, Protocol};
use crate::settings::{Limits, Settings};
use crate::{inventory, Error, ResourceKind, Timestamp};

/// Most certificates one HTTPS listener serves (the default and those
/// chosen by SNI). Each is parsed into the listener's TLS configuration,
/// so the bound keeps that, and the SNI table, small.
pub const MAX_CERTIFICATES_PER_LISTENER: usize = 50;

/// The certificates a listener of `protocol` names, checked for shape:
/// an HTTPS listener names 1 to [`MAX_CERTIFICATES_PER_LISTENER`], no
/// id twice (the first is the default); any other listener names none
/// (a certificate it would never serve is refused, not ignored). An
/// HTTPS listener serving from the key manager (`has_refs`) names none.
pub fn listener_certificate_ids(
    protocol: Protocol,
    ids: &[String],
    has_refs: bool,
) -> Result<Vec<CertificateId>, Error> {
    const FIELD: &str = "certificate_ids";
    if protocol != Protocol::Https {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        return Err(Error::invalid(
            FIELD,
            format!("only an https listener serves certificates, not {protocol}"),
        ));
    }
    if has_refs {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        return Err(Error::invalid(
            FIELD,
            "an https listener serves either certificates or key-manager refs, not both",
        ));
    }
    if ids.is_empty() {
        return Err(Error::invalid(
            FIELD,
            "an https listener needs at least one certificate (the first is the default)",
        ));
    }
    if ids.len() > MAX_CERTIFICATES_PER_LISTENER {
        return Err(Error::invalid(
            FIELD,
            format!("at most {MAX_CERTIFICATES_PER_LISTENER} certificates per listener"),
        ));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(id.as_str()) {
            return Err(Error::invalid(
                format!("{FIELD}[{i}]"),
                format!("certificate {id} is named twice"),
            ));
        }
    }
    Ok(ids
        .iter()
        .map(|id| CertificateId::new(id.clone()))
        .collect())
}

/// As [`listener_certificate_ids`], but an HTTPS listener may name none
/// yet (one made before its certificate, as UCloud's VServers are): it
/// then serves nothing until one is named.
pub fn listener_certificate_ids_later(
    protocol: Protocol,
    ids: &[String],
) -> Result<Vec<CertificateId>, Error> {
    if protocol == Protocol::Https && ids.is_empty() {
        return Ok(Vec::new());
    }
    listener_certificate_ids(protocol, ids, false)
}

/// Whether `listener` uses `certificate`: serves it as one of its own or
/// for a domain extension ([`crate::sni`]), or verifies clients with it
/// (its client CA, [`crate::client_auth`]).
pub fn serves(listener: &Listener, certificate: &CertificateId) -> bool {
    listener.certificate_ids.contains(certificate)
        || listener
            .domain_extensions
            .iter()
            .any(|d| &d.certificate_id == certificate)
        || listener
            .client_auth
            .ca
            .as_ref()
            .is_some_and(|r| matches!(&r.target, KeyRef::Certificate(id) if id == certificate))
}

/// A listener's client CA named as a certificate of Weir's: `found` is
/// what the store holds under that id. One missing or of another project
/// is "not found"; a server certificate is not a CA (`field`, the
/// caller's name for the CA).
pub fn check_client_ca(
    project: &ProjectId,
    id: &CertificateId,
    found: Option<&Certificate>,
    field: &str,
) -> Result<(), Error> {
    match found {
        Some(c) if &c.project_id == project => match c.kind {
            CertificateKind::Ca => Ok(()),
            CertificateKind::Server => Err(Error::invalid(
                field,
                format!(
                    "certificate {id} is a server certificate; peers' certificates \
                     are verified with a CA certificate"
                ),
            )),
        },
        _ => Err(Error::not_found(ResourceKind::Certificate, id)),
    }
}

/// Checks that every certificate `ids` names is one of `project`'s:
/// `found` holds what the store returned for those ids. One missing or
/// of another project is "not found", as for any other resource.
pub fn check_owned(
    project: &ProjectId,
    ids: &[CertificateId],
    found: &[Certificate],
) -> Result<(), Error> {
    for id in ids {
        let owned = found
            .iter()
            .find(|c| &c.id == id && &c.project_id == project);
        match owned {
            None => return Err(Error::not_found(ResourceKind::Certificate, id)),
            Some(c) if c.kind == CertificateKind::Ca => {
                return Err(Error::invalid(
                    "certificate_ids",
                    format!(
                        "certificate {id} is a CA certificate, which verifies clients; a \
                         listener serves a server certificate (a chain and its key)"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A certificate that a listener serves is not deleted: that would leave
/// the listener nothing (or less) to serve. `users` are the listeners
/// naming it; the refusal names the first.
pub fn check_delete(certificate: &Certificate, users: &[Listener]) -> Result<(), Error> {
    match users.first() {
        None => Ok(()),
        Some(listener) => Err(Error::conflict(format!(
            "certificate {} is in use by listener {}{}; take it off the listener first",
            certificate.id,
            listener.id,
            match users.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            }
        ))),
    }
}

/// What an upload says about its certificate once `weir-tls` has read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub name: String,
    pub kind: CertificateKind,
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
        kind: new.kind,
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
            kind: CertificateKind::Server,
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
    fn only_https_listeners_name_certificates_one_to_fifty_without_repeats() {
        let ids = |n: usize| (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>();
        let field = |r: Result<Vec<CertificateId>, Error>| match r {
            Err(Error::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            listener_certificate_ids(Protocol::Https, &ids(2), false).unwrap(),
            [CertificateId::new("c0"), CertificateId::new("c1")]
        );
        assert_eq!(
            listener_certificate_ids(Protocol::Https, &ids(MAX_CERTIFICATES_PER_LISTENER), false)
                .unwrap()
                .len(),
            MAX_CERTIFICATES_PER_LISTENER
        );
        assert_eq!(
            field(listener_certificate_ids(Protocol::Https, &[], false)),
            "certificate_ids"
        );
        assert_eq!(
            field(listener_certificate_ids(
                Protocol::Https,
                &ids(MAX_CERTIFICATES_PER_LISTENER + 1),
                false
            )),
            "certificate_ids"
        );
        let twice = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()];
        assert_eq!(
            field(listener_certificate_ids(Protocol::Https, &twice, false)),
            "certificate_ids[2]"
        );
        for other in [
            Protocol::Http,
            Protocol::Tcp,
            Protocol::TlsPassthrough,
            Protocol::Udp,
        ] {
            assert!(listener_certificate_ids(other, &[], false)
                .unwrap()
                .is_empty());
            assert_eq!(
                field(listener_certificate_ids(other, &ids(1), false)),
                "certificate_ids"
            );
        }
        // An https listener serving key-manager refs names no certificate.
        assert!(listener_certificate_ids(Protocol::Https, &[], true)
            .unwrap()
            .is_empty());
        assert_eq!(
            field(listener_certificate_ids(Protocol::Https, &ids(1), true)),
            "certificate_ids"
        );
    }

    #[test]
    fn another_projects_certificate_is_not_found() {
        let mine = plan_certificate(
            &ProjectId::new("p"),
            new("a"),
            0,
            &Settings::default(),
            "c1".into(),
            Timestamp(0),
        )
        .unwrap();
        let theirs = Certificate {
            id: CertificateId::new("c2"),
            project_id: ProjectId::new("q"),
            ..mine.clone()
        };
        let found = [mine, theirs];
        let p = ProjectId::new("p");
        assert!(check_owned(&p, &[CertificateId::new("c1")], &found).is_ok());
        for missing in ["c2", "c3"] {
            assert!(matches!(
                check_owned(&p, &[CertificateId::new("c1"), CertificateId::new(missing)], &found),
                Err(Error::NotFound { kind: ResourceKind::Certificate, id }) if id == missing
            ));
        }
    }

    fn made(id: &str, project: &str, kind: CertificateKind) -> Certificate {
        let mut new = new(id);
        new.kind = kind;
        let mut c = plan_certificate(
            &ProjectId::new(project),
            new,
            0,
            &Settings::default(),
            id.into(),
            Timestamp(0),
        )
        .unwrap();
        c.project_id = ProjectId::new(project);
        c
    }

    #[test]
    fn a_client_ca_is_a_ca_certificate_of_the_listeners_project() {
        let p = ProjectId::new("p");
        let ca = made("ca", "p", CertificateKind::Ca);
        let server = made("srv", "p", CertificateKind::Server);
        let theirs = made("theirs", "q", CertificateKind::Ca);
        let id = |c: &Certificate| c.id.clone();
        assert!(check_client_ca(&p, &id(&ca), Some(&ca), "f").is_ok());
        assert!(matches!(
            check_client_ca(&p, &id(&server), Some(&server), "f"),
            Err(Error::InvalidField { field, reason }) if field == "f" && reason.contains("server")
        ));
        for (cid, found) in [
            (id(&theirs), Some(&theirs)),
            (CertificateId::new("gone"), None),
        ] {
            assert!(matches!(
                check_client_ca(&p, &cid, found, "f"),
                Err(Error::NotFound {
                    kind: ResourceKind::Certificate,
                    ..
                })
            ));
        }
        // And the other way: a CA certificate is never served.
        assert!(matches!(
            check_owned(&p, &[id(&ca)], std::slice::from_ref(&ca)),
            Err(Error::InvalidField { field, .. }) if field == "certificate_ids"
        ));
        assert!(check_owned(&p, &[id(&server)], std::slice::from_ref(&server)).is_ok());
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
