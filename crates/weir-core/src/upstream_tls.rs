//! Re-encryption: a pool whose members are dialled over TLS (Octavia's
//! pool `tls_enabled`, `ca_tls_container_ref`, `tls_versions`,
//! `tls_ciphers`, `alpn_protocols`).
//!
//! Verification follows Octavia's (HAProxy's `verify`): a pool that names
//! a CA bundle has each member's chain verified against it, and a pool
//! that names none does not verify the member's certificate at all (the
//! handshake is still a real one: signatures are checked). The member's
//! name is never checked, since members are dialled by address and no
//! SNI is sent, as Octavia's amphora does not send one either. So
//! verification is off only when the tenant did not ask for it.
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
    /// Versions and suites offered; ALPN ids offered (empty:
    /// [`DEFAULT_POOL_ALPN`]).
    pub options: TlsOptions,
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
    Ok(())
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
}
