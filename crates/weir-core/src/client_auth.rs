//! Client-certificate verification (mTLS) on a TLS-terminating listener:
//! Octavia's `client_authentication` (`NONE`, `OPTIONAL`, `MANDATORY`),
//! `client_ca_tls_container_ref` (a key-manager ref holding a PEM CA
//! bundle) and `client_crl_container_ref` (a key-manager ref holding a
//! PEM CRL).
//!
//! The rules, Octavia's: only a `TERMINATED_HTTPS` listener verifies
//! clients; `OPTIONAL` and `MANDATORY` need a CA bundle; a CRL needs a
//! CA bundle. A CA bundle named with mode `NONE` is stored and shown, as
//! Octavia does, and verifies nothing. The bytes (1 to 100 CA
//! certificates, a CRL signed by one of them) are `weir-tls`'s, checked
//! when the ref is set and again when the listener's configuration is
//! built.
//!
//! The CA may also be one of Weir's own CA certificates
//! ([`KeyRef::Certificate`](crate::keymgr::KeyRef), Huawei's `client`
//! certificates and the native `client_ca_certificate_id`): the same
//! bundle reaches the data plane as [`ClientVerify`] either way, and
//! [`crate::certificate::check_client_ca`] keeps a server certificate
//! out.

use crate::keymgr::TlsRef;
use crate::model::Protocol;
use crate::Error;

/// Whether a client must present a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ClientAuthMode {
    /// Not asked for.
    #[default]
    None,
    /// Asked for; a client without one is served, one with a certificate
    /// the CA did not sign (or a revoked one) is refused.
    Optional,
    /// A client without a verified certificate is refused.
    Mandatory,
}

impl ClientAuthMode {
    /// Octavia's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Optional => "OPTIONAL",
            Self::Mandatory => "MANDATORY",
        }
    }

    /// Octavia's name, read.
    pub fn parse(field: &str, s: &str) -> Result<Self, Error> {
        match s {
            "NONE" => Ok(Self::None),
            "OPTIONAL" => Ok(Self::Optional),
            "MANDATORY" => Ok(Self::Mandatory),
            other => Err(Error::invalid(
                field,
                format!("{other:?} is not one of NONE, OPTIONAL, MANDATORY"),
            )),
        }
    }
}

/// A listener's client-certificate verification as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAuth {
    pub mode: ClientAuthMode,
    /// The CA bundle client chains are verified against: a key-manager
    /// ref, or a CA certificate of Weir's.
    pub ca: Option<TlsRef>,
    /// Revoked certificates, checked for the client's certificate.
    pub crl: Option<TlsRef>,
}

impl ClientAuth {
    /// Nothing asked for and nothing named.
    pub fn is_off(&self) -> bool {
        self.mode == ClientAuthMode::None && self.ca.is_none() && self.crl.is_none()
    }

    /// Whether handshakes verify client certificates.
    pub fn verifies(&self) -> bool {
        self.mode != ClientAuthMode::None && self.ca.is_some()
    }
}

/// Octavia's rules for a listener of `protocol`.
pub fn check(protocol: Protocol, auth: &ClientAuth) -> Result<(), Error> {
    if auth.is_off() {
        return Ok(());
    }
    if protocol != Protocol::Https {
        let field = if auth.ca.is_some() {
            "client_ca_tls_container_ref"
        } else if auth.crl.is_some() {
            "client_crl_container_ref"
        } else {
            "client_authentication"
        };
        return Err(Error::invalid(
            field,
            "only a TERMINATED_HTTPS listener verifies client certificates",
        ));
    }
    if auth.mode != ClientAuthMode::None && auth.ca.is_none() {
        return Err(Error::invalid(
            "client_authentication",
            format!("{} needs a client_ca_tls_container_ref", auth.mode.as_str()),
        ));
    }
    if auth.crl.is_some() && auth.ca.is_none() {
        return Err(Error::invalid(
            "client_crl_container_ref",
            "a CRL needs a client_ca_tls_container_ref",
        ));
    }
    Ok(())
}

/// What the data plane needs to verify clients: the opened CA bundle and
/// CRL (PEM), resolved by the control plane's follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientVerify {
    /// `false`: OPTIONAL, a client without a certificate is served.
    pub mandatory: bool,
    pub ca_pem: std::sync::Arc<str>,
    pub crl_pem: Option<std::sync::Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymgr::KeyRef;

    fn r(href: &str) -> TlsRef {
        TlsRef {
            href: href.into(),
            target: KeyRef::Secret(href.into()),
        }
    }

    #[test]
    fn octavias_rules() {
        let off = ClientAuth::default();
        assert!(check(Protocol::Http, &off).is_ok());
        let mandatory = ClientAuth {
            mode: ClientAuthMode::Mandatory,
            ca: Some(r("ca")),
            crl: Some(r("crl")),
        };
        assert!(check(Protocol::Https, &mandatory).is_ok());
        assert!(mandatory.verifies());
        assert!(matches!(
            check(Protocol::Http, &mandatory),
            Err(Error::InvalidField { field, .. }) if field == "client_ca_tls_container_ref"
        ));
        for mode in [ClientAuthMode::Optional, ClientAuthMode::Mandatory] {
            let no_ca = ClientAuth {
                mode,
                ca: None,
                crl: None,
            };
            assert!(matches!(
                check(Protocol::Https, &no_ca),
                Err(Error::InvalidField { field, .. }) if field == "client_authentication"
            ));
        }
        let crl_alone = ClientAuth {
            mode: ClientAuthMode::None,
            ca: None,
            crl: Some(r("crl")),
        };
        assert!(matches!(
            check(Protocol::Https, &crl_alone),
            Err(Error::InvalidField { field, .. }) if field == "client_crl_container_ref"
        ));
        let ca_only = ClientAuth {
            mode: ClientAuthMode::None,
            ca: Some(r("ca")),
            crl: None,
        };
        assert!(check(Protocol::Https, &ca_only).is_ok());
        assert!(!ca_only.verifies());
    }

    #[test]
    fn modes_parse() {
        for m in [
            ClientAuthMode::None,
            ClientAuthMode::Optional,
            ClientAuthMode::Mandatory,
        ] {
            assert_eq!(ClientAuthMode::parse("f", m.as_str()).unwrap(), m);
        }
        assert!(ClientAuthMode::parse("f", "mandatory").is_err());
    }
}
