//! An HTTPS listener's client-certificate verification (mTLS) through the
//! native API: `client_authentication` (`none`, `optional`, `mandatory`),
//! `client_ca_certificate_id` (a CA certificate of the project,
//! `POST /v1/certificates {type: "ca"}`) or `client_ca_ref` (a CA bundle
//! in the key manager, `secrets/<id>` or `containers/<id>`, as Octavia's
//! `client_ca_tls_container_ref`) and `client_crl_ref` (a
//! key-manager secret holding PEM CRLs, `secrets/<id>`). The same
//! `weir_core::client_auth::ClientAuth` Octavia's and Huawei's fields
//! set; the core and the control name its fields as Octavia does, and
//! [`native_field`] gives a native caller back its own names.

use weir_core::client_auth::{ClientAuth, ClientAuthMode};
use weir_core::ids::CertificateId;
use weir_core::keymgr::{KeyRef, TlsRef};
use weir_core::Error;

/// The three fields of a create or PATCH body; `Some(None)` is an
/// explicit null.
#[derive(Default)]
pub(super) struct ClientAuthBody {
    pub client_authentication: Option<String>,
    pub client_ca_certificate_id: Option<Option<String>>,
    pub client_ca_ref: Option<Option<String>>,
    pub client_crl_ref: Option<Option<String>>,
}

fn mode(text: &str) -> Result<ClientAuthMode, Error> {
    match text {
        "none" => Ok(ClientAuthMode::None),
        "optional" => Ok(ClientAuthMode::Optional),
        "mandatory" => Ok(ClientAuthMode::Mandatory),
        other => Err(Error::invalid(
            "client_authentication",
            format!("{other:?} is not one of none, optional, mandatory"),
        )),
    }
}

/// A CA named by a certificate id of the project (a listener's client CA,
/// a pool's member CA); a malformed id names nothing: not found, as any
/// other.
pub(super) fn certificate_ref(id: String) -> Result<TlsRef, Error> {
    if !weir_core::ids::well_formed(&id) {
        return Err(Error::not_found(weir_core::ResourceKind::Certificate, &id));
    }
    Ok(TlsRef {
        href: id.clone(),
        target: KeyRef::Certificate(CertificateId::new(id)),
    })
}

impl ClientAuthBody {
    /// Whether the body names none of the fields.
    pub(super) fn is_empty(&self) -> bool {
        self.client_authentication.is_none()
            && self.client_ca_certificate_id.is_none()
            && self.client_ca_ref.is_none()
            && self.client_crl_ref.is_none()
    }

    /// The fields merged over `current` (the listener's, or off for a
    /// create); `None` when the body names none of them. Naming a CA
    /// without a mode asks for `mandatory` (what a CA is for; Huawei's
    /// meaning too); a CA taken off (`null`) takes the mode and the CRL
    /// with it unless the body says otherwise, so none is left asking
    /// for a CA it no longer has.
    pub(super) fn merge(self, current: &ClientAuth) -> Result<Option<ClientAuth>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut out = current.clone();
        // The CA is named one way or the other; both in one body would
        // leave one of them ignored.
        let ca = match (self.client_ca_certificate_id, self.client_ca_ref) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "client_ca_ref",
                    "name the CA once: client_ca_certificate_id or client_ca_ref",
                ))
            }
            (Some(None), None) | (None, Some(None)) => Some(None),
            (Some(Some(id)), None) => Some(Some(certificate_ref(id)?)),
            (None, Some(Some(text))) => Some(Some(weir_core::upstream_tls::native_ref(
                "client_ca_ref",
                &text,
            )?)),
            (None, None) => None,
        };
        match ca {
            None => {}
            Some(None) => {
                out = ClientAuth::default();
            }
            Some(Some(r)) => {
                out.ca = Some(r);
                if self.client_authentication.is_none() && out.mode == ClientAuthMode::None {
                    out.mode = ClientAuthMode::Mandatory;
                }
            }
        }
        if let Some(text) = &self.client_authentication {
            out.mode = mode(text)?;
        }
        match self.client_crl_ref {
            None => {}
            Some(None) => out.crl = None,
            Some(Some(text)) => {
                out.crl = Some(weir_core::upstream_tls::native_ref(
                    "client_crl_ref",
                    &text,
                )?)
            }
        }
        Ok(Some(out))
    }
}

/// The core and the control name the client-certificate fields as
/// Octavia does; a native caller reads its own names (`ca_by_ref`: the
/// body named the CA as `client_ca_ref`).
pub(super) fn native_field(
    e: weir_control::ControlError,
    ca_by_ref: bool,
) -> weir_control::ControlError {
    use weir_control::ControlError;
    match e {
        ControlError::Domain(Error::InvalidField { field, reason }) => {
            let field = match field.as_str() {
                "client_ca_tls_container_ref" if ca_by_ref => "client_ca_ref".into(),
                "client_ca_tls_container_ref" => "client_ca_certificate_id".into(),
                "client_crl_container_ref" => "client_crl_ref".into(),
                "client_authentication" => "client_authentication".into(),
                _ => field,
            };
            // Octavia's own words in the reasons, in the native names.
            let ca = if ca_by_ref {
                "client_ca_ref"
            } else {
                "client_ca_certificate_id"
            };
            let reason = reason
                .replace("client_ca_tls_container_ref", ca)
                .replace("TERMINATED_HTTPS", "https")
                .replace("OPTIONAL", "optional")
                .replace("MANDATORY", "mandatory");
            ControlError::Domain(Error::InvalidField { field, reason })
        }
        other => other,
    }
}
