//! A pool's backend TLS through the native API (`backend_tls` of
//! `PATCH /v1/pools/{id}`): the same `weir_core::upstream_tls::UpstreamTls`
//! Octavia's pool fields set, with the native names. Refs are the key
//! manager's (`secrets/<id>`, `containers/<id>` of the caller's project),
//! resolved by the control plane in the command's transaction; the CA may
//! instead be a CA certificate of the project (`ca_certificate_id`, as a
//! listener's `client_ca_certificate_id`). An object
//! replaces the pool's TLS whole (a field left out is off or default);
//! `null` dials members in the clear.

use serde::Deserialize;
use weir_core::tls::{self as tlsopt, TlsOptions};
use weir_core::upstream_tls::{self, UpstreamTls};
use weir_core::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackendTlsBody {
    /// The CA bundle members' chains are verified against.
    ca_ref: Option<String>,
    /// Or a CA certificate of the project (`type: "ca"`).
    ca_certificate_id: Option<String>,
    /// Whether members are verified; must agree with `ca_ref` (default:
    /// verified exactly when a CA is named).
    verify: Option<bool>,
    /// Revocation lists for members' certificates (needs `ca_ref`).
    crl_ref: Option<String>,
    /// The client certificate and key presented to members.
    client_certificate_ref: Option<String>,
    /// The name members are dialled by (SNI) and, when verified, checked
    /// against; absent: their address, no SNI.
    server_name: Option<String>,
    tls_versions: Option<Vec<String>>,
    tls_ciphers: Option<String>,
    alpn_protocols: Option<Vec<String>>,
}

impl BackendTlsBody {
    /// The pool's TLS as the body says (the core holds it to the pool's
    /// protocol when the update is planned).
    pub(super) fn into_upstream(self) -> Result<UpstreamTls, Error> {
        let one = |field: &str, r: Option<String>| {
            r.map(|text| upstream_tls::native_ref(field, &text))
                .transpose()
        };
        let versions = match &self.tls_versions {
            Some(v) if !v.is_empty() => tlsopt::parse_versions("backend_tls.tls_versions", v)?,
            _ => Vec::new(),
        };
        let alpn = match &self.alpn_protocols {
            Some(a) if !a.is_empty() => tlsopt::parse_alpn("backend_tls.alpn_protocols", a)?,
            _ => Vec::new(),
        };
        let ciphers = self.tls_ciphers.filter(|c| !c.is_empty());
        if let Some(c) = &ciphers {
            tlsopt::parse_ciphers("backend_tls.tls_ciphers", c)?;
        }
        let ca = match (self.ca_ref, self.ca_certificate_id) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "backend_tls.ca_certificate_id",
                    "name the CA once: ca_ref or ca_certificate_id",
                ))
            }
            (Some(r), None) => one("backend_tls.ca_ref", Some(r))?,
            (None, Some(id)) => Some(super::client_auth::certificate_ref(id)?),
            (None, None) => None,
        };
        let upstream = UpstreamTls {
            ca,
            crl: one("backend_tls.crl_ref", self.crl_ref)?,
            client_cert: one(
                "backend_tls.client_certificate_ref",
                self.client_certificate_ref,
            )?,
            server_name: self.server_name,
            options: TlsOptions {
                versions,
                ciphers,
                alpn,
            },
        };
        upstream_tls::check_verify(self.verify, &upstream)?;
        Ok(upstream)
    }
}

/// The control plane and the core name a pool's TLS fields as Octavia
/// does; a native caller reads them under `backend_tls`
/// (`ca_by_certificate`: the body named the CA as `ca_certificate_id`).
pub(super) fn native_field(
    e: weir_control::ControlError,
    ca_by_certificate: bool,
) -> weir_control::ControlError {
    use weir_control::ControlError;
    match e {
        ControlError::Domain(Error::InvalidField { field, reason }) => {
            let native = match field.as_str() {
                "ca_tls_container_ref" if ca_by_certificate => "backend_tls.ca_certificate_id",
                "ca_tls_container_ref" => "backend_tls.ca_ref",
                "crl_container_ref" => "backend_tls.crl_ref",
                "tls_container_ref" => "backend_tls.client_certificate_ref",
                "server_name" => "backend_tls.server_name",
                "tls_enabled" => "backend_tls",
                "alpn_protocols" => "backend_tls.alpn_protocols",
                "tls_ciphers" => "backend_tls.tls_ciphers",
                _ => return ControlError::Domain(Error::InvalidField { field, reason }),
            };
            ControlError::Domain(Error::InvalidField {
                field: native.into(),
                reason,
            })
        }
        ControlError::Domain(Error::Unsupported { field, reason }) if field == "tls_enabled" => {
            ControlError::Domain(Error::Unsupported {
                field: "backend_tls".into(),
                reason,
            })
        }
        other => other,
    }
}
