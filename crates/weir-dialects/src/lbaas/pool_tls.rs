//! A pool's re-encryption fields (Octavia API 2.8 `tls_enabled`,
//! `ca_tls_container_ref`, `crl_container_ref`, `tls_container_ref`;
//! 2.18 `tls_versions`, `tls_ciphers`; 2.24 `alpn_protocols`) as Weir's
//! `weir_core::upstream_tls::UpstreamTls`. The refs are key-manager URLs
//! of this Weir, read like a listener's refs (`tls::key_ref`); what they
//! hold is checked by the control plane in the command's transaction.
//! Huawei's ELB v2 pools have none of these fields' meaning (no key
//! manager): there `tls_enabled: true` and every TLS field is refused as
//! before.

use axum::http::HeaderMap;
use weir_core::tls::{self as tlsopt, TlsOptions};
use weir_core::upstream_tls::UpstreamTls;

use super::*;

/// The TLS fields of a pool body; `Some(None)` is an explicit null.
#[derive(Default)]
pub(super) struct PoolTlsBody {
    pub tls_enabled: Option<bool>,
    pub tls_container_ref: Option<Option<String>>,
    pub ca_tls_container_ref: Option<Option<String>>,
    pub crl_container_ref: Option<Option<String>>,
    pub tls_versions: Option<Option<Vec<String>>>,
    pub tls_ciphers: Option<Option<String>>,
    pub alpn_protocols: Option<Option<Vec<String>>>,
}

impl PoolTlsBody {
    /// Whether the body names any TLS setting other than `tls_enabled`
    /// with a value (`""` and `[]` are what clients send for "none").
    fn names_options(&self) -> bool {
        matches!(&self.ca_tls_container_ref, Some(Some(r)) if !r.is_empty())
            || matches!(&self.crl_container_ref, Some(Some(r)) if !r.is_empty())
            || matches!(&self.tls_container_ref, Some(Some(r)) if !r.is_empty())
            || matches!(&self.tls_versions, Some(Some(v)) if !v.is_empty())
            || matches!(&self.tls_ciphers, Some(Some(c)) if !c.is_empty())
            || matches!(&self.alpn_protocols, Some(Some(a)) if !a.is_empty())
    }

    /// What the body makes of a pool whose re-encryption is `current`:
    /// `None` when it says nothing about TLS, else the new setting
    /// (`Some(None)`: in the clear).
    pub(super) fn apply(
        &self,
        flavor: Flavor,
        headers: &HeaderMap,
        current: Option<&UpstreamTls>,
    ) -> Result<Option<Option<UpstreamTls>>, LbaasError> {
        if flavor == Flavor::Huawei && (self.tls_enabled == Some(true) || self.names_options()) {
            return Err(LbaasError::unsupported(
                "pool TLS (ELB v2 pools do not re-encrypt to members)",
            ));
        }
        let touched = self.tls_enabled.is_some()
            || self.ca_tls_container_ref.is_some()
            || self.crl_container_ref.is_some()
            || self.tls_container_ref.is_some()
            || self.tls_versions.is_some()
            || self.tls_ciphers.is_some()
            || self.alpn_protocols.is_some();
        if !touched {
            return Ok(None);
        }
        let enabled = self.tls_enabled.unwrap_or(current.is_some());
        if !enabled {
            // Settings that would act only with TLS on are not kept
            // unused: a 2xx would claim them honoured.
            if self.names_options() {
                return Err(LbaasError::bad_request(
                    "ca_tls_container_ref, crl_container_ref, tls_container_ref, \
                     tls_versions, tls_ciphers and alpn_protocols take effect only \
                     with tls_enabled true; set it too.",
                ));
            }
            return Ok(Some(None));
        }
        let mut next = current.cloned().unwrap_or_default();
        let read = |r: &Option<String>| {
            r.as_deref()
                .filter(|href| !href.is_empty())
                .map(|href| super::tls::key_ref(headers, href))
                .transpose()
        };
        if let Some(r) = &self.ca_tls_container_ref {
            next.ca = read(r)?;
        }
        if let Some(r) = &self.crl_container_ref {
            next.crl = read(r)?;
        }
        if let Some(r) = &self.tls_container_ref {
            next.client_cert = read(r)?;
        }
        if let Some(v) = &self.tls_versions {
            next.options.versions = match v {
                Some(v) if !v.is_empty() => {
                    tlsopt::parse_versions("tls_versions", v).map_err(domain)?
                }
                _ => Vec::new(),
            };
        }
        if let Some(c) = &self.tls_ciphers {
            let c = c.as_ref().filter(|c| !c.is_empty());
            if let Some(c) = c {
                tlsopt::parse_ciphers("tls_ciphers", c).map_err(domain)?;
            }
            next.options.ciphers = c.cloned();
        }
        if let Some(a) = &self.alpn_protocols {
            next.options.alpn = match a {
                Some(a) if !a.is_empty() => {
                    tlsopt::parse_alpn("alpn_protocols", a).map_err(domain)?
                }
                _ => Vec::new(),
            };
        }
        Ok(Some(Some(next)))
    }
}

/// The view's TLS fields: the real settings of a re-encrypting pool,
/// Octavia's nulls otherwise.
pub(super) fn view_fields(pool: &Pool) -> [(&'static str, Value); 7] {
    let Some(u) = &pool.upstream_tls else {
        return [
            ("tls_enabled", json!(false)),
            ("tls_container_ref", Value::Null),
            ("ca_tls_container_ref", Value::Null),
            ("crl_container_ref", Value::Null),
            ("tls_versions", Value::Null),
            ("tls_ciphers", Value::Null),
            ("alpn_protocols", Value::Null),
        ];
    };
    let options: &TlsOptions = &u.options;
    [
        ("tls_enabled", json!(true)),
        (
            "tls_container_ref",
            json!(u.client_cert.as_ref().map(|r| &r.href)),
        ),
        (
            "ca_tls_container_ref",
            json!(u.ca.as_ref().map(|r| &r.href)),
        ),
        ("crl_container_ref", json!(u.crl.as_ref().map(|r| &r.href))),
        (
            "tls_versions",
            json!(options
                .versions()
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()),
        ),
        ("tls_ciphers", json!(options.ciphers())),
        ("alpn_protocols", json!(u.alpn())),
    ]
}
