//! Re-encryption: a pool whose members are dialled over TLS (Octavia's
//! pool `tls_enabled`, `ca_tls_container_ref`, `crl_container_ref`,
//! `tls_container_ref`, `tls_versions`, `tls_ciphers`, `alpn_protocols`;
//! the native API's `backend_tls`, which may also name the member).
//!
//! Verification follows Octavia's (HAProxy's `verify`): a pool that names
//! a CA bundle has each member's chain verified against it, and a pool
//! that names none does not verify the member's certificate at all (the
//! handshake is still a real one: signatures are checked). The member's
//! name is never checked, since members are dialled by address and no
//! SNI is sent, as Octavia's amphora does not send one either; a pool
//! that names a `server_name` (the native API) sends it as SNI and, when
//! it verifies, checks the member's certificate against that name too.
//! So verification is off only when the tenant did not ask for it. A CRL
//! (HAProxy's `crl-file`) needs the CA bundle its CRLs are signed by; a
//! client certificate (HAProxy's `crt`) is presented to members that ask
//! for one, with or without verification of theirs.
//!
//! Only pools whose bytes Weir carries over TCP re-encrypt: HTTP pools
//! (the HTTP engine's member connections) and TCP pools (the relay). A
//! UDP pool cannot (400); HTTPS pools are members that terminate TLS
//! themselves behind a passthrough listener, and PROXY pools would need
//! the header before the handshake, which Weir does not send yet (501).

use crate::keymgr::TlsRef;
use crate::model::PoolProtocol;
use crate::tls::{self, TlsOptions};
use crate::Error;

/// ALPN ids a re-encrypting pool offers by default (Octavia's
/// `default_pool_alpn_protocols`): Weir speaks HTTP/1.1 to members.
pub const DEFAULT_POOL_ALPN: &[&str] = &["http/1.1", "http/1.0"];

/// How a pool's members are dialled over TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    /// The CA bundle members' chains are verified against: a key-manager
    /// secret (PEM certificates) or a certificate container (its
    /// certificate and intermediates). `None`: not verified.
    pub ca: Option<TlsRef>,
    /// Revocation lists for members' certificates: a key-manager secret
    /// holding PEM CRLs, each signed by a certificate of `ca`.
    pub crl: Option<TlsRef>,
    /// The certificate and key presented to members that ask for one: a
    /// key-manager secret (PEM or PKCS#12 bundle) or certificate
    /// container, as a listener's certificate refs.
    pub client_cert: Option<TlsRef>,
    /// The name members are dialled by (SNI) and, with `ca`, verified
    /// against; `None`: their address, no SNI, the name never checked.
    pub server_name: Option<String>,
    /// Versions and suites offered; ALPN ids offered (empty:
    /// [`DEFAULT_POOL_ALPN`]).
    pub options: TlsOptions,
}

/// What a re-encrypting pool's refs hold, opened (PEM text). The key is
/// never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UpstreamMaterial {
    /// The CA bundle members are verified against; `None`: not verified.
    pub ca_pem: Option<std::sync::Arc<str>>,
    /// The CRLs members' certificates are checked against.
    pub crl_pem: Option<std::sync::Arc<str>>,
    /// The client certificate chain and its key, presented to members.
    pub client: Option<ClientCertificate>,
}

/// A client certificate chain and key (PEM).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub chain_pem: std::sync::Arc<str>,
    pub key_pem: std::sync::Arc<str>,
}

impl std::fmt::Debug for UpstreamMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamMaterial")
            .field("ca", &self.ca_pem.is_some())
            .field("crl", &self.crl_pem.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCertificate(..)")
    }
}

impl UpstreamTls {
    /// The ALPN ids offered to members.
    pub fn alpn(&self) -> Vec<String> {
        if self.options.alpn.is_empty() {
            DEFAULT_POOL_ALPN.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.options.alpn.clone()
        }
    }

    /// Whether members' certificates are verified.
    pub fn verifies(&self) -> bool {
        self.ca.is_some()
    }

    /// The key-manager refs the pool names, each with what it is to the
    /// pool (for the key manager's delete check).
    pub fn refs(&self) -> impl Iterator<Item = (&'static str, &TlsRef)> {
        [
            ("CA bundle", self.ca.as_ref()),
            ("CRL", self.crl.as_ref()),
            ("client certificate", self.client_cert.as_ref()),
        ]
        .into_iter()
        .filter_map(|(role, r)| r.map(|r| (role, r)))
    }
}

/// What a command says about a pool's re-encryption, checked against the
/// pool's protocol. `field` names the switch in the caller's dialect.
pub fn check(
    field: &str,
    protocol: Option<PoolProtocol>,
    upstream: &UpstreamTls,
) -> Result<(), Error> {
    match protocol {
        Some(PoolProtocol::Http | PoolProtocol::Tcp) => {}
        Some(PoolProtocol::Udp) => {
            return Err(Error::invalid(
                field,
                "a UDP pool cannot dial its members over TLS",
            ))
        }
        Some(p @ (PoolProtocol::Https | PoolProtocol::Proxy | PoolProtocol::ProxyV2)) => {
            return Err(Error::Unsupported {
                field: field.into(),
                reason: format!(
                    "re-encryption on a {p} pool (Weir re-encrypts to HTTP and TCP pools)"
                ),
            })
        }
        None => {
            return Err(Error::invalid(
                field,
                "only a pool that names its protocol (http or tcp) dials its members over TLS",
            ))
        }
    }
    // Weir's HTTP engine speaks HTTP/1.x to members: offering h2 would
    // let a member pick a protocol the engine then cannot speak.
    if protocol == Some(PoolProtocol::Http) {
        if let Some(id) = upstream
            .options
            .alpn
            .iter()
            .find(|id| !id.starts_with("http/1."))
        {
            return Err(Error::Unsupported {
                field: "alpn_protocols".into(),
                reason: format!("ALPN {id} towards members (Weir speaks HTTP/1.1 to them)"),
            });
        }
    }
    if let Some(c) = &upstream.options.ciphers {
        tls::parse_ciphers("tls_ciphers", c)?;
    }
    // A CRL is read against the chain verified up to the CA; without a
    // CA nothing is verified, so a CRL alone would be a check never made.
    if upstream.crl.is_some() && upstream.ca.is_none() {
        return Err(Error::invalid(
            "crl_container_ref",
            "a CRL needs the CA bundle that signed it (ca_tls_container_ref)",
        ));
    }
    if let Some(name) = &upstream.server_name {
        crate::pool::check_host("server_name", name)?;
    }
    Ok(())
}

/// What a listener's own pool (one that names no protocol) has its
/// members speak: HTTP behind http and https listeners, TCP behind tcp
/// ones (PROXY v1/v2 when the listener sends that header first), the
/// backends' own TLS behind tls-passthrough; nothing for prometheus.
pub fn listener_speaks(listener: &crate::model::Listener) -> Option<PoolProtocol> {
    use crate::model::{Protocol, ProxyProtocol};
    Some(match listener.protocol {
        Protocol::Http | Protocol::Https => PoolProtocol::Http,
        Protocol::Tcp => match listener.proxy_protocol {
            ProxyProtocol::None => PoolProtocol::Tcp,
            ProxyProtocol::V1 => PoolProtocol::Proxy,
            ProxyProtocol::V2 => PoolProtocol::ProxyV2,
        },
        Protocol::TlsPassthrough => PoolProtocol::Https,
        Protocol::Udp => PoolProtocol::Udp,
        Protocol::Prometheus => return None,
    })
}

/// A key-manager ref as the native API names one: `secrets/<id>` or
/// `containers/<id>` of the caller's project (the key manager's own
/// paths, without its host); anything else is 400 naming `field`.
pub fn native_ref(field: &str, text: &str) -> Result<TlsRef, Error> {
    use crate::ids::{ContainerId, SecretId};
    use crate::keymgr::KeyRef;
    let bad = || {
        Error::invalid(
            field,
            format!("{text:?} is not a key-manager ref: secrets/<id> or containers/<id>"),
        )
    };
    let (kind, id) = text.split_once('/').ok_or_else(bad)?;
    if !crate::ids::well_formed(id) || id.contains('/') {
        return Err(bad());
    }
    let target = match kind {
        "secrets" => KeyRef::Secret(SecretId::new(id)),
        "containers" => KeyRef::Container(ContainerId::new(id)),
        _ => return Err(bad()),
    };
    Ok(TlsRef {
        href: text.to_owned(),
        target,
    })
}

/// The native API's explicit `verify` against the CA it names: members
/// are verified exactly when a CA bundle is named, so `verify: true`
/// without one (nothing to verify against) and `verify: false` with one
/// (a CA that would verify nothing) are both refused rather than one of
/// them silently ignored.
pub fn check_verify(verify: Option<bool>, upstream: &UpstreamTls) -> Result<(), Error> {
    match (verify, upstream.ca.is_some()) {
        (Some(true), false) => Err(Error::invalid(
            "backend_tls.verify",
            "verifying members needs the CA bundle they are verified against (ca_ref)",
        )),
        (Some(false), true) => Err(Error::invalid(
            "backend_tls.verify",
            "a CA bundle is only used to verify members: drop ca_ref to not verify",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_tcp_pools_re_encrypt() {
        let on = UpstreamTls::default();
        assert!(check("tls_enabled", Some(PoolProtocol::Http), &on).is_ok());
        assert!(check("tls_enabled", Some(PoolProtocol::Tcp), &on).is_ok());
        assert!(matches!(
            check("tls_enabled", Some(PoolProtocol::Udp), &on),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            check("tls_enabled", None, &on),
            Err(Error::InvalidField { .. })
        ));
        for p in [
            PoolProtocol::Https,
            PoolProtocol::Proxy,
            PoolProtocol::ProxyV2,
        ] {
            assert!(matches!(
                check("tls_enabled", Some(p), &on),
                Err(Error::Unsupported { .. })
            ));
        }
    }

    #[test]
    fn http_pools_offer_only_http1() {
        let h2 = UpstreamTls {
            options: TlsOptions {
                alpn: vec!["h2".into(), "http/1.1".into()],
                ..TlsOptions::default()
            },
            ..UpstreamTls::default()
        };
        assert!(matches!(
            check("tls_enabled", Some(PoolProtocol::Http), &h2),
            Err(Error::Unsupported { .. })
        ));
        // A TCP pool's bytes are the client's: any id may be offered.
        assert!(check("tls_enabled", Some(PoolProtocol::Tcp), &h2).is_ok());
        assert_eq!(UpstreamTls::default().alpn(), ["http/1.1", "http/1.0"]);
        assert!(!UpstreamTls::default().verifies());
    }

    fn secret(id: &str) -> TlsRef {
        TlsRef {
            href: id.into(),
            target: crate::keymgr::KeyRef::Secret(crate::ids::SecretId::new(id)),
        }
    }

    #[test]
    fn a_crl_needs_the_ca_and_a_client_certificate_needs_nothing() {
        let crl_alone = UpstreamTls {
            crl: Some(secret("secret-1")),
            ..UpstreamTls::default()
        };
        let err = check("tls_enabled", Some(PoolProtocol::Http), &crl_alone).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "crl_container_ref"),
            "{err:?}"
        );
        let with_ca = UpstreamTls {
            ca: Some(secret("secret-2")),
            ..crl_alone
        };
        assert!(check("tls_enabled", Some(PoolProtocol::Http), &with_ca).is_ok());
        let client_only = UpstreamTls {
            client_cert: Some(secret("secret-3")),
            ..UpstreamTls::default()
        };
        assert!(check("tls_enabled", Some(PoolProtocol::Tcp), &client_only).is_ok());
    }

    #[test]
    fn a_server_name_is_a_dns_name() {
        for good in ["member.test", "a-b.example.com."] {
            let u = UpstreamTls {
                server_name: Some(good.into()),
                ..UpstreamTls::default()
            };
            assert!(check("tls_enabled", Some(PoolProtocol::Http), &u).is_ok());
        }
        for bad in [
            "",
            "a b",
            "host:443",
            "x\r\nHost: y",
            "10.0.0.1:1",
            "-a.test",
        ] {
            let u = UpstreamTls {
                server_name: Some(bad.into()),
                ..UpstreamTls::default()
            };
            assert!(
                matches!(
                    check("tls_enabled", Some(PoolProtocol::Http), &u),
                    Err(Error::InvalidField { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn native_refs_and_verify() {
        assert!(native_ref("ca_ref", "secrets/abc-1").is_ok());
        assert!(native_ref("ca_ref", "containers/abc-1").is_ok());
        for bad in [
            "",
            "abc",
            "secrets/",
            "keys/abc",
            "secrets/a/b",
            "http://x/secrets/a",
        ] {
            assert!(native_ref("ca_ref", bad).is_err(), "{bad:?}");
        }
        let with_ca = UpstreamTls {
            ca: Some(secret("s")),
            ..UpstreamTls::default()
        };
        assert!(check_verify(Some(true), &with_ca).is_ok());
        assert!(check_verify(Some(false), &with_ca).is_err());
        assert!(check_verify(Some(true), &UpstreamTls::default()).is_err());
        assert!(check_verify(None, &UpstreamTls::default()).is_ok());
    }

    #[test]
    fn material_never_prints_the_key() {
        let m = UpstreamMaterial {
            client: Some(ClientCertificate {
                chain_pem: "CHAIN".into(),
                key_pem: "SECRET KEY".into(),
            }),
            ..UpstreamMaterial::default()
        };
        let printed = format!("{m:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
    }
}
