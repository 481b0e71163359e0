//! Dialling members over TLS (a pool's re-encryption,
//! `weir_core::upstream_tls`): the rustls client configuration of a pool,
//! built once per pool configuration, and its CA bundle.
//!
//! A pool with a CA bundle verifies each member's chain against it
//! ([`ChainOnly`]: the chain, validity and usage, never the name, since
//! members are dialled by address without SNI, as Octavia's amphora
//! does; a pool that names its members' `server_name` has that name
//! checked too); a pool without one completes a real handshake,
//! signatures checked, without verifying who the member is
//! ([`UnverifiedMember`], the only place verification is off, and only
//! when the tenant did not ask for it). Health checks reuse
//! [`UnverifiedMember`]. A pool's CRLs are read for the member's own
//! certificate, and one the CRLs cannot speak for is refused (webpki's
//! default, as for clients of a listener); a pool's client certificate
//! is presented to members that ask for one.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use weir_core::tls::TlsVersion;
use weir_core::upstream_tls::{UpstreamMaterial, UpstreamTls};

/// Most certificates one CA bundle holds.
pub const MAX_CA_CERTIFICATES: usize = 100;

/// The certificates of a PEM CA bundle: at least one, at most
/// [`MAX_CA_CERTIFICATES`], each one X.509 that rustls accepts as a trust
/// anchor. Errors are fit for the tenant.
pub fn ca_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the CA bundle is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the CA bundle holds no PEM certificate".into());
    }
    if certs.len() > MAX_CA_CERTIFICATES {
        return Err(format!(
            "the CA bundle holds more than {MAX_CA_CERTIFICATES} certificates"
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots
            .add(cert.clone())
            .map_err(|e| format!("CA certificate {}: {e}", i + 1))?;
    }
    Ok(certs)
}

/// A pool's client configuration: versions, suites and ALPN ids as the
/// pool says, verifying against the material's CA bundle (and CRLs) when
/// given, presenting its client certificate when given.
pub fn client_config(
    upstream: &UpstreamTls,
    material: &UpstreamMaterial,
) -> Result<Arc<ClientConfig>, String> {
    let mut provider = crate::crypto::provider();
    provider.cipher_suites = crate::server::cipher_suites(&upstream.options)?;
    let provider = Arc::new(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = upstream
        .options
        .versions()
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?;
    let verifier: Arc<dyn ServerCertVerifier> = match &material.ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in ca_certificates(pem.as_bytes())? {
                roots.add(cert).map_err(|e| e.to_string())?;
            }
            let crls = match &material.crl_pem {
                Some(crl) => crate::client_auth::crls(pem.as_bytes(), crl.as_bytes())?,
                None => Vec::new(),
            };
            let has_crls = !crls.is_empty();
            let mut builder =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .with_crls(crls);
            if has_crls {
                builder = builder.only_check_end_entity_revocation();
            }
            let inner = builder.build().map_err(|e| e.to_string())?;
            if upstream.server_name.is_some() {
                inner
            } else {
                Arc::new(ChainOnly(inner))
            }
        }
        None if material.crl_pem.is_some() => {
            return Err("a CRL needs the CA bundle that signed it".into())
        }
        None => Arc::new(UnverifiedMember::new(provider)),
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &material.client {
        Some(client) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(client.chain_pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("the client certificate is not PEM: {e}"))?;
            if chain.is_empty() {
                return Err("the client certificate holds no certificate".into());
            }
            let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes())
                .map_err(|e| format!("the client certificate's key is not PEM: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = upstream
        .alpn()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    Ok(Arc::new(config))
}

/// The name a member is dialled by: the pool's `server_name` (sent as
/// SNI), else its address, so no SNI is sent.
pub fn dial_name(upstream: Option<&UpstreamTls>, addr: std::net::IpAddr) -> ServerName<'static> {
    upstream
        .and_then(|u| u.server_name.as_deref())
        .and_then(|name| ServerName::try_from(name.trim_end_matches('.').to_owned()).ok())
        .unwrap_or_else(|| member_name(addr))
}

/// The name a member is dialled by: its address, so no SNI is sent.
pub fn member_name(addr: std::net::IpAddr) -> ServerName<'static> {
    ServerName::IpAddress(addr.into())
}

/// Verifies a member's chain against the pool's CA bundle and ignores
/// only the name (members are addresses, and a pool names no host):
/// webpki checks the chain before the name, so a name mismatch is
/// reported only for a chain that verified.
#[derive(Debug)]
pub struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Accepts any member certificate; signatures are still checked, so the
/// handshake is a real one. Used by health checks (they ask whether a
/// member serves, not who it is) and by pools that asked for no CA.
#[derive(Debug)]
pub struct UnverifiedMember(Arc<CryptoProvider>);

impl UnverifiedMember {
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self(provider)
    }
}

impl ServerCertVerifier for UnverifiedMember {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> String {
        rcgen::generate_simple_self_signed(vec!["member.test".into()])
            .unwrap()
            .cert
            .pem()
    }

    #[test]
    fn a_client_certificate_is_presented_and_garbage_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["weir.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let good = UpstreamMaterial {
            client: Some(weir_core::upstream_tls::ClientCertificate {
                chain_pem: cert.pem().into(),
                key_pem: key.serialize_pem().into(),
            }),
            ..UpstreamMaterial::default()
        };
        let config = client_config(&UpstreamTls::default(), &good).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
        let mut bad = good.clone();
        bad.client.as_mut().unwrap().key_pem = "not a key".into();
        assert!(client_config(&UpstreamTls::default(), &bad).is_err());
        // SNI: the pool's server name when it names one, else none.
        let named = UpstreamTls {
            server_name: Some("member.test".into()),
            ..UpstreamTls::default()
        };
        let addr = std::net::IpAddr::from([127, 0, 0, 1]);
        assert_eq!(
            dial_name(Some(&named), addr),
            ServerName::try_from("member.test").unwrap()
        );
        assert_eq!(dial_name(None, addr), member_name(addr));
    }

    #[test]
    fn ca_bundles_are_pem_certificates() {
        let one = self_signed();
        assert_eq!(ca_certificates(one.as_bytes()).unwrap().len(), 1);
        let two = format!("{one}{}", self_signed());
        assert_eq!(ca_certificates(two.as_bytes()).unwrap().len(), 2);
        for bad in [
            &b""[..],
            b"not a certificate",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            assert!(ca_certificates(bad).is_err(), "{bad:?}");
        }
        let many = one.repeat(MAX_CA_CERTIFICATES + 1);
        assert!(ca_certificates(many.as_bytes()).is_err());
    }

    #[test]
    fn configs_follow_the_pool() {
        let ca = self_signed();
        let with_ca = |pem: &str| UpstreamMaterial {
            ca_pem: Some(pem.into()),
            ..UpstreamMaterial::default()
        };
        let verifying = client_config(&UpstreamTls::default(), &with_ca(&ca)).unwrap();
        assert_eq!(
            verifying.alpn_protocols,
            [b"http/1.1".to_vec(), b"http/1.0".to_vec()]
        );
        assert!(!verifying.client_auth_cert_resolver.has_certs());
        assert!(client_config(&UpstreamTls::default(), &UpstreamMaterial::default()).is_ok());
        assert!(client_config(&UpstreamTls::default(), &with_ca("junk")).is_err());
        // A CRL without the CA that signed it is never silently unused.
        let crl_alone = UpstreamMaterial {
            crl_pem: Some("junk".into()),
            ..UpstreamMaterial::default()
        };
        assert!(client_config(&UpstreamTls::default(), &crl_alone).is_err());
    }
}
