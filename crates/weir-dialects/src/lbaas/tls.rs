//! A listener's TLS fields: Octavia's TERMINATED_HTTPS refs (key-manager
//! URLs, which must name this Weir's own key manager), Huawei's (its
//! certificate ids), the TLS options of Octavia API 2.15/2.17/2.20, and
//! the client-certificate fields (API 2.8: `client_authentication`,
//! `client_ca_tls_container_ref`, `client_crl_container_ref`, key-manager
//! URLs as the certificate refs). Huawei names only
//! `client_ca_tls_container_ref`, the id of one of its `client` (CA)
//! certificates: a CA set is two-way authentication, so the listener
//! then verifies clients as Octavia's MANDATORY does; null takes it off.

use axum::http::HeaderMap;
use weir_core::client_auth::{ClientAuth, ClientAuthMode};
use weir_core::keymgr::{KeyRef, TlsRef};
use weir_core::tls::{self as tlsopt, TlsOptions, TlsVersion};

use super::*;

/// The TLS fields of a listener body; `Some(None)` is an explicit null.
#[derive(Deserialize, Default)]
pub(super) struct TlsBody {
    #[serde(default, deserialize_with = "present")]
    default_tls_container_ref: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    sni_container_refs: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    tls_versions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    tls_ciphers: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    alpn_protocols: Option<Option<Vec<String>>>,
    client_ca_tls_container_ref: Option<Value>,
    client_authentication: Option<Value>,
    client_crl_container_ref: Option<Value>,
    /// Huawei: its security policy, and HTTP/2 towards clients.
    tls_ciphers_policy: Option<Value>,
    http2_enable: Option<Value>,
}

/// What a create body says about TLS, as Weir's.
#[derive(Default)]
pub(super) struct TlsCreate {
    pub refs: Vec<TlsRef>,
    pub certificate_ids: Vec<String>,
    pub options: TlsOptions,
    pub client_auth: ClientAuth,
}

/// What an update body changes.
#[derive(Default)]
pub(super) struct TlsChange {
    pub refs: Option<Vec<TlsRef>>,
    pub certificate_ids: Option<Vec<String>>,
    pub versions: Option<Vec<TlsVersion>>,
    pub ciphers: Option<Option<String>>,
    pub alpn: Option<Vec<String>>,
    pub client_auth: Option<ClientAuth>,
}

fn could_not_retrieve(href: &str) -> LbaasError {
    LbaasError::bad_request(format!("Could not retrieve certificate: ['{href}']"))
}

/// A key-manager URL as what it names: it must be this Weir's own key
/// manager (the host the request came to, the `/key-manager/v1/` path)
/// naming a secret or a container; anything else is Octavia's 400.
pub(super) fn key_ref(headers: &HeaderMap, href: &str) -> Result<TlsRef, LbaasError> {
    let base = format!(
        "{}{}/v1/",
        crate::openstack::base_url(headers),
        crate::openstack::KEY_MANAGER_PREFIX
    );
    let rest = href
        .strip_prefix(&base)
        .ok_or_else(|| could_not_retrieve(href))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let target = match rest.split_once('/') {
        Some(("secrets", id)) if weir_core::ids::well_formed(id) && !id.contains('/') => {
            KeyRef::Secret(SecretId::new(id))
        }
        Some(("containers", id)) if weir_core::ids::well_formed(id) && !id.contains('/') => {
            KeyRef::Container(ContainerId::new(id))
        }
        _ => return Err(could_not_retrieve(href)),
    };
    Ok(TlsRef {
        href: href.to_owned(),
        target,
    })
}

impl TlsBody {
    /// Huawei's two-way authentication: `client_ca_tls_container_ref`,
    /// a CA certificate's id (resolved in the listener's project by the
    /// control plane: another project's is not found, a server
    /// certificate refused). Octavia's `client_authentication` and CRL
    /// are not Huawei's fields: anything but their empty values is 501.
    fn huawei_client_auth(
        mode: Option<&Value>,
        ca: Option<&Value>,
        crl: Option<&Value>,
    ) -> Result<Option<ClientAuth>, LbaasError> {
        let asks = mode.is_some_and(|m| !m.is_null() && m.as_str() != Some("NONE"));
        if asks || crl.is_some_and(|v| !v.is_null()) {
            return Err(LbaasError::unsupported(
                "client_authentication and client_crl_container_ref on Huawei listeners \
                 (client_ca_tls_container_ref turns two-way authentication on)",
            ));
        }
        match ca {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(ClientAuth::default())),
            Some(Value::String(id)) if id.is_empty() => Ok(Some(ClientAuth::default())),
            Some(Value::String(id)) => {
                if id.len() > 128 {
                    return Err(LbaasError::bad_request(
                        "Invalid input for field/attribute client_ca_tls_container_ref. \
                         Value: longer than 128 characters.",
                    ));
                }
                Ok(Some(ClientAuth {
                    mode: ClientAuthMode::Mandatory,
                    ca: Some(TlsRef {
                        href: id.clone(),
                        target: KeyRef::Certificate(weir_core::ids::CertificateId::new(id.clone())),
                    }),
                    crl: None,
                }))
            }
            Some(other) => Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute client_ca_tls_container_ref. Value: \
                 '{other}'. Value should be a string"
            ))),
        }
    }

    /// The client-certificate fields merged over `current`: `None` when
    /// the body names none of them. Octavia's refs are key-manager URLs
    /// of this Weir (resolved in the listener's project by the control
    /// plane); Huawei's are [`Self::huawei_client_auth`].
    fn client_auth(
        &self,
        flavor: Flavor,
        headers: &HeaderMap,
        current: &ClientAuth,
    ) -> Result<Option<ClientAuth>, LbaasError> {
        let mode = self.client_authentication.as_ref();
        let ca = self.client_ca_tls_container_ref.as_ref();
        let crl = self.client_crl_container_ref.as_ref();
        if mode.is_none() && ca.is_none() && crl.is_none() {
            return Ok(None);
        }
        if flavor == Flavor::Huawei {
            return Self::huawei_client_auth(mode, ca, crl);
        }
        let mut out = current.clone();
        match mode {
            None => {}
            Some(Value::Null) => out.mode = ClientAuthMode::None,
            Some(Value::String(s)) => {
                out.mode = ClientAuthMode::parse("client_authentication", s).map_err(|_| {
                    LbaasError::bad_request(format!(
                        "Invalid input for field/attribute client_authentication. Value: \
                         '{s}'. Value should be one of NONE, OPTIONAL, MANDATORY"
                    ))
                })?
            }
            Some(other) => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute client_authentication. Value: '{other}'. \
                     Value should be one of NONE, OPTIONAL, MANDATORY"
                )))
            }
        }
        for (name, value, slot) in [
            ("client_ca_tls_container_ref", ca, &mut out.ca),
            ("client_crl_container_ref", crl, &mut out.crl),
        ] {
            match value {
                None => {}
                Some(Value::Null) => *slot = None,
                Some(Value::String(href)) => *slot = Some(key_ref(headers, href)?),
                Some(other) => {
                    return Err(LbaasError::bad_request(format!(
                        "Invalid input for field/attribute {name}. Value: '{other}'. \
                         Value should be a string"
                    )))
                }
            }
        }
        Ok(Some(out))
    }

    /// Huawei's own fields Weir does not honour.
    fn refuse_unhonoured(&self) -> Result<(), LbaasError> {
        if self
            .tls_ciphers_policy
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return Err(LbaasError::unsupported(
                "tls_ciphers_policy (Weir serves TLS 1.2 and 1.3 with ECDHE AES-GCM and \
                 ChaCha20-Poly1305 suites, which no Huawei policy names exactly)",
            ));
        }
        self.http2().map(|_| ())
    }

    /// Huawei's `http2_enable`: whether the listener's ALPN offers `h2`.
    fn http2(&self) -> Result<Option<bool>, LbaasError> {
        match &self.http2_enable {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute http2_enable. Value: '{other}'. true or false"
            ))),
        }
    }

    /// The ALPN list Huawei's `http2_enable` asks for: HTTP/2 is off
    /// unless it is switched on, so a Huawei listener never offers `h2`
    /// to a client its owner did not ask it to.
    fn huawei_alpn(http2: bool) -> Vec<String> {
        let ids: &[&str] = if http2 {
            &["h2", "http/1.1"]
        } else {
            &["http/1.1"]
        };
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn http2_only_on_tls(https: bool, http2: Option<bool>) -> Result<(), LbaasError> {
        if http2 == Some(true) && !https {
            return Err(LbaasError::bad_request(
                "http2_enable is only allowed on TERMINATED_HTTPS listeners.",
            ));
        }
        Ok(())
    }

    /// The refs as Weir's: key-manager URLs for Octavia, certificate ids
    /// for Huawei (whose certificates are Weir's).
    fn refs(
        flavor: Flavor,
        headers: &HeaderMap,
        default: &str,
        sni: &[String],
    ) -> Result<(Vec<TlsRef>, Vec<String>), LbaasError> {
        let all = std::iter::once(default).chain(sni.iter().map(String::as_str));
        match flavor {
            Flavor::Octavia => Ok((
                all.map(|href| key_ref(headers, href))
                    .collect::<Result<_, _>>()?,
                Vec::new(),
            )),
            Flavor::Huawei => Ok((Vec::new(), all.map(str::to_owned).collect())),
        }
    }

    fn options(&self) -> Result<TlsOptions, LbaasError> {
        let mut out = TlsOptions::default();
        if let Some(Some(v)) = &self.tls_versions {
            out.versions = tlsopt::parse_versions("tls_versions", v).map_err(domain)?;
        }
        if let Some(Some(c)) = &self.tls_ciphers {
            tlsopt::parse_ciphers("tls_ciphers", c).map_err(domain)?;
            out.ciphers = Some(c.clone());
        }
        // An empty list names nothing: the default, as `null` (what a
        // listener without TLS shows, so tools send it back).
        if let Some(Some(a)) = self
            .alpn_protocols
            .as_ref()
            .filter(|a| a.as_ref().is_some_and(|a| !a.is_empty()))
        {
            out.alpn = tlsopt::parse_alpn("alpn_protocols", a).map_err(domain)?;
        }
        Ok(out)
    }

    /// A create body's TLS, for a listener of Octavia protocol `protocol`.
    pub(super) fn create(
        &self,
        flavor: Flavor,
        headers: &HeaderMap,
        protocol: &str,
    ) -> Result<TlsCreate, LbaasError> {
        self.refuse_unhonoured()?;
        let default = self.default_tls_container_ref.clone().flatten();
        let sni = self
            .sni_container_refs
            .clone()
            .flatten()
            .unwrap_or_default();
        let mut options = self.options()?;
        let client_auth = self
            .client_auth(flavor, headers, &ClientAuth::default())?
            .unwrap_or_default();
        if flavor == Flavor::Huawei {
            let http2 = self.http2()?;
            Self::http2_only_on_tls(protocol == "TERMINATED_HTTPS", http2)?;
            if protocol == "TERMINATED_HTTPS" && options.alpn.is_empty() {
                options.alpn = Self::huawei_alpn(http2 == Some(true));
            }
        }
        if protocol != "TERMINATED_HTTPS" {
            if default.is_some() || !sni.is_empty() {
                return Err(LbaasError::bad_request(
                    "Certificate container references are only allowed on TERMINATED_HTTPS \
                     protocol listeners.",
                ));
            }
            return Ok(TlsCreate {
                options,
                client_auth,
                ..TlsCreate::default()
            });
        }
        let Some(default) = default else {
            return Err(LbaasError::bad_request(
                "An SNI or default certificate container reference must be provided for \
                 TERMINATED_HTTPS listeners.",
            ));
        };
        let (refs, certificate_ids) = Self::refs(flavor, headers, &default, &sni)?;
        Ok(TlsCreate {
            refs,
            certificate_ids,
            options,
            client_auth,
        })
    }

    /// An update body's TLS changes for `current`.
    pub(super) fn change(
        &self,
        flavor: Flavor,
        headers: &HeaderMap,
        current: &Listener,
    ) -> Result<TlsChange, LbaasError> {
        self.refuse_unhonoured()?;
        let mut out = TlsChange {
            client_auth: self.client_auth(flavor, headers, &current.client_auth)?,
            ..TlsChange::default()
        };
        let touches_refs =
            self.default_tls_container_ref.is_some() || self.sni_container_refs.is_some();
        if touches_refs {
            if current.protocol != Protocol::Https {
                let given = matches!(self.default_tls_container_ref, Some(Some(_)))
                    || matches!(&self.sni_container_refs, Some(Some(l)) if !l.is_empty());
                if given {
                    return Err(LbaasError::bad_request(
                        "Certificate container references are only allowed on \
                         TERMINATED_HTTPS protocol listeners.",
                    ));
                }
            } else {
                let (current_default, current_sni) = current_refs(current);
                let default = match &self.default_tls_container_ref {
                    None => current_default,
                    Some(Some(d)) => Some(d.clone()),
                    Some(None) => None,
                };
                let Some(default) = default else {
                    return Err(LbaasError::bad_request(
                        "A TERMINATED_HTTPS listener keeps its default_tls_container_ref.",
                    ));
                };
                let sni = match &self.sni_container_refs {
                    None => current_sni,
                    Some(list) => list.clone().unwrap_or_default(),
                };
                let (refs, ids) = Self::refs(flavor, headers, &default, &sni)?;
                if flavor == Flavor::Octavia {
                    out.refs = Some(refs);
                } else {
                    out.certificate_ids = Some(ids);
                }
            }
        }
        let parsed = self.options()?;
        if let Some(v) = &self.tls_versions {
            out.versions = Some(if v.is_some() {
                parsed.versions
            } else {
                Vec::new()
            });
        }
        if let Some(c) = &self.tls_ciphers {
            out.ciphers = Some(
                c.as_ref()
                    .map(|_| parsed.ciphers.clone().unwrap_or_default()),
            );
        }
        if let Some(a) = &self.alpn_protocols {
            out.alpn = Some(if a.is_some() { parsed.alpn } else { Vec::new() });
        }
        if flavor == Flavor::Huawei {
            let http2 = self.http2()?;
            Self::http2_only_on_tls(current.protocol == Protocol::Https, http2)?;
            if let (Some(on), Protocol::Https) = (http2, current.protocol) {
                out.alpn = Some(Self::huawei_alpn(on));
            }
        }
        Ok(out)
    }
}

pub(super) fn domain(e: Error) -> LbaasError {
    LbaasError::from_control(e.into())
}

/// A listener's default ref and SNI refs as shown: the key-manager URLs
/// given, or (a listener made with Weir certificates, Huawei's way) the
/// certificate ids.
pub(super) fn current_refs(l: &Listener) -> (Option<String>, Vec<String>) {
    let all: Vec<String> = if l.tls_refs.is_empty() {
        l.certificate_ids
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect()
    } else {
        l.tls_refs.iter().map(|r| r.href.clone()).collect()
    };
    let mut it = all.into_iter();
    (it.next(), it.collect())
}

/// The TLS fields of a listener's view: Octavia's defaults on a
/// TERMINATED_HTTPS listener, null on the others.
pub(super) fn tls_view(l: &Listener, out: &mut serde_json::Map<String, Value>) {
    let (default, sni) = current_refs(l);
    out.insert("default_tls_container_ref".into(), json!(default));
    out.insert("sni_container_refs".into(), json!(sni));
    let https = l.protocol == Protocol::Https;
    let o = &l.tls_options;
    out.insert(
        "tls_versions".into(),
        if https {
            json!(o.versions().iter().map(|v| v.as_str()).collect::<Vec<_>>())
        } else {
            Value::Null
        },
    );
    out.insert(
        "tls_ciphers".into(),
        if https {
            json!(o.ciphers())
        } else {
            Value::Null
        },
    );
    out.insert(
        "alpn_protocols".into(),
        if https { json!(o.alpn()) } else { Value::Null },
    );
    let auth = &l.client_auth;
    out.insert("client_authentication".into(), json!(auth.mode.as_str()));
    out.insert(
        "client_ca_tls_container_ref".into(),
        json!(auth.ca.as_ref().map(|r| &r.href)),
    );
    out.insert(
        "client_crl_container_ref".into(),
        json!(auth.crl.as_ref().map(|r| &r.href)),
    );
    // Huawei's view of the same list.
    out.insert(
        "http2_enable".into(),
        json!(https && o.alpn().iter().any(|p| p == "h2")),
    );
}
