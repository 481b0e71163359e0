//! Domain extensions of HTTPS listeners (Aliyun's `CreateDomainExtension`
//! family): a domain served with a chosen certificate. They are the
//! listener's own explicit SNI entries, consulted before the names of its
//! certificates (`weir_tls::server::SniTable`), so a tenant who says
//! "`www.example.com` gets certificate B" gets exactly that even when the
//! default certificate names `www.example.com` too.
//!
//! The rules: only on an HTTPS listener; the domain is a DNS name, or
//! `*.` and a DNS name (one whole label, as certificates' wildcards); the
//! certificate is the listener's project's and covers the domain (one of
//! its names, or under one of its `*.` names; a wildcard domain needs the
//! same wildcard), since serving a certificate for a name it does not
//! carry only makes clients fail; one extension per domain; at most
//! [`MAX_DOMAIN_EXTENSIONS_PER_LISTENER`]. A certificate an extension
//! names is in use like a listener's own (`certificate::check_delete`).

use crate::certificate::check_owned;
use crate::ids::{CertificateId, ListenerId};
use crate::model::{Certificate, DomainExtension, Listener, Protocol};
use crate::{Error, ResourceKind, Timestamp};

/// Most domain extensions on one listener (each is an SNI table entry and
/// a certificate the listener's TLS configuration parses).
pub const MAX_DOMAIN_EXTENSIONS_PER_LISTENER: usize = 50;

/// What separates the listener id from the rest of an extension's id.
const SEPARATOR: &str = ".de-";

/// A change to a listener's domain extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainExtensionChange {
    Add {
        domain: String,
        certificate_id: String,
    },
    /// Another certificate for the extension's domain.
    Set {
        id: String,
        certificate_id: String,
    },
    Delete {
        id: String,
    },
}

impl DomainExtensionChange {
    /// The certificate the change names, which the caller loads.
    pub fn certificate_id(&self) -> Option<CertificateId> {
        match self {
            Self::Add { certificate_id, .. } | Self::Set { certificate_id, .. } => {
                Some(CertificateId::new(certificate_id.clone()))
            }
            Self::Delete { .. } => None,
        }
    }
}

/// An extension's id for `listener`, from a fresh unique `suffix`.
pub fn extension_id(listener: &ListenerId, suffix: &str) -> String {
    format!("{listener}{SEPARATOR}{suffix}")
}

/// The listener an extension id names, if it has the shape of one (the
/// caller still checks that the listener is the caller's and holds it).
pub fn listener_of_extension(id: &str) -> Option<ListenerId> {
    let (listener, suffix) = id.rsplit_once(SEPARATOR)?;
    (!listener.is_empty() && !suffix.is_empty()).then(|| ListenerId::new(listener))
}

/// A domain as an extension may name it, lower-cased: labels of letters,
/// digits and inner hyphens, 1-63 bytes each, at least two, at most 253
/// bytes in all; optionally `*.` before it.
pub fn check_domain(field: &str, domain: &str) -> Result<String, Error> {
    let lowered = domain.trim_end_matches('.').to_ascii_lowercase();
    let bare = lowered.strip_prefix("*.").unwrap_or(&lowered);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = !bare.is_empty()
        && lowered.len() <= 253
        && bare.split('.').count() >= 2
        && bare.split('.').all(label_ok);
    if !ok {
        return Err(Error::invalid(
            field,
            format!("{domain:?} is not a domain name (letters, digits and hyphens in dot-separated labels, optionally after \"*.\")"),
        ));
    }
    Ok(lowered)
}

/// Whether `certificate` carries `domain` (already [`check_domain`]ed):
/// one of its names, or, for a plain domain, under one of its wildcards.
pub fn covers(certificate: &Certificate, domain: &str) -> bool {
    certificate.names.iter().any(|name| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if name == domain {
            return true;
        }
        match (name.strip_prefix("*."), domain.split_once('.')) {
            (Some(parent), Some((label, rest))) => {
                !domain.starts_with("*.") && label != "*" && rest == parent
            }
            _ => false,
        }
    })
}

fn check_certificate(
    listener: &Listener,
    certificate: Option<&Certificate>,
    id: &CertificateId,
    domain: &str,
) -> Result<(), Error> {
    let found: Vec<Certificate> = certificate.cloned().into_iter().collect();
    check_owned(&listener.project_id, std::slice::from_ref(id), &found)?;
    let Some(certificate) = certificate else {
        return Err(Error::not_found(ResourceKind::Certificate, id));
    };
    if !covers(certificate, domain) {
        return Err(Error::invalid(
            "certificate_id",
            format!(
                "certificate {id} does not cover {domain} (its names: {})",
                certificate.names.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The listener after `change`. `certificate` is what the store holds for
/// the change's certificate id (`None`: nothing); `new_id` names an added
/// extension ([`extension_id`]).
pub fn plan_domain_extension(
    listener: &Listener,
    change: &DomainExtensionChange,
    certificate: Option<&Certificate>,
    new_id: String,
    now: Timestamp,
) -> Result<Listener, Error> {
    if listener.protocol != Protocol::Https {
        return Err(Error::invalid(
            "listener",
            format!(
                "only an https listener has domain extensions, not {}",
                listener.protocol
            ),
        ));
    }
    let mut next = listener.clone();
    let position = |id: &str| {
        next.domain_extensions
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| Error::not_found(ResourceKind::DomainExtension, id))
    };
    match change {
        DomainExtensionChange::Add {
            domain,
            certificate_id,
        } => {
            let domain = check_domain("domain", domain)?;
            let id = CertificateId::new(certificate_id.clone());
            check_certificate(listener, certificate, &id, &domain)?;
            if let Some(taken) = next.domain_extensions.iter().find(|d| d.domain == domain) {
                return Err(Error::conflict(format!(
                    "domain {domain} already has extension {} on listener {}",
                    taken.id, listener.id
                )));
            }
            if next.domain_extensions.len() >= MAX_DOMAIN_EXTENSIONS_PER_LISTENER {
                return Err(Error::invalid(
                    "domain",
                    format!("at most {MAX_DOMAIN_EXTENSIONS_PER_LISTENER} domain extensions per listener"),
                ));
            }
            next.domain_extensions.push(DomainExtension {
                id: new_id,
                domain,
                certificate_id: id,
            });
        }
        DomainExtensionChange::Set { id, certificate_id } => {
            let at = position(id)?;
            let cert = CertificateId::new(certificate_id.clone());
            let domain = next.domain_extensions[at].domain.clone();
            check_certificate(listener, certificate, &cert, &domain)?;
            next.domain_extensions[at].certificate_id = cert;
        }
        DomainExtensionChange::Delete { id } => {
            let at = position(id)?;
            next.domain_extensions.remove(at);
        }
    }
    if next != *listener {
        next.updated_at = now;
    }
    Ok(next)
}

#[cfg(test)]
mod tests;
