//! Verifying clients' certificates (mTLS, `weir_core::client_auth`): the
//! rustls verifier of an HTTPS listener that names a CA bundle, and the
//! checks of the CA bundle and CRL a tenant names.
//!
//! The verifier is webpki's ([`WebPkiClientVerifier`]): the client's
//! chain up to one of the bundle's certificates, validity, and the
//! client-auth usage. `OPTIONAL` lets a client without a certificate
//! through; a client that presents one is verified all the same. A CRL is
//! read for the client's own certificate (HAProxy's `crl-file`); a client
//! certificate the CRL does not speak for (the CRL names another issuer)
//! is refused, never let through unchecked.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateRevocationListDer;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use weir_core::client_auth::ClientVerify;
use x509_parser::prelude::*;

/// Most CRLs one ref holds.
pub const MAX_CRLS: usize = 100;

/// The CRLs of a PEM payload: at least one, each signed by one of the CA
/// bundle's certificates (`ca_pem`, already held to
/// [`crate::client::ca_certificates`]). Errors are fit for the tenant.
pub fn crls(
    ca_pem: &[u8],
    crl_pem: &[u8],
) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let ders: Vec<CertificateRevocationListDer<'static>> =
        CertificateRevocationListDer::pem_slice_iter(crl_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the CRL is not PEM: {e}"))?;
    if ders.is_empty() {
        return Err("the CRL ref holds no PEM X509 CRL".into());
    }
    if ders.len() > MAX_CRLS {
        return Err(format!("the CRL ref holds more than {MAX_CRLS} CRLs"));
    }
    let cas = crate::client::ca_certificates(ca_pem)?;
    let cas: Vec<X509Certificate<'_>> = cas
        .iter()
        .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    for (i, der) in ders.iter().enumerate() {
        let (_, crl) =
            CertificateRevocationList::from_der(der).map_err(|e| format!("CRL {}: {e}", i + 1))?;
        let signed = cas.iter().any(|ca| {
            ca.subject() == crl.issuer() && crl.verify_signature(ca.public_key()).is_ok()
        });
        if !signed {
            return Err(format!(
                "CRL {} is not signed by a certificate of the CA bundle",
                i + 1
            ));
        }
    }
    Ok(ders)
}

/// The verifier a listener's handshakes use.
pub fn verifier(verify: &ClientVerify) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in crate::client::ca_certificates(verify.ca_pem.as_bytes())? {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let crls = match &verify.crl_pem {
        Some(pem) => crls(verify.ca_pem.as_bytes(), pem.as_bytes())?,
        None => Vec::new(),
    };
    let has_crls = !crls.is_empty();
    let mut builder = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        crate::crypto::shared_provider(),
    )
    .with_crls(crls);
    if has_crls {
        builder = builder.only_check_end_entity_revocation();
    }
    if !verify.mandatory {
        builder = builder.allow_unauthenticated();
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap(), key)
    }

    fn crl(issuer: &(rcgen::Certificate, rcgen::KeyPair)) -> String {
        rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&issuer.0, &issuer.1)
        .unwrap()
        .pem()
        .unwrap()
    }

    #[test]
    fn a_crl_is_pem_signed_by_the_bundle() {
        let mine = ca("mine");
        let theirs = ca("theirs");
        let bundle = mine.0.pem();
        assert_eq!(
            crls(bundle.as_bytes(), crl(&mine).as_bytes())
                .unwrap()
                .len(),
            1
        );
        let foreign = crls(bundle.as_bytes(), crl(&theirs).as_bytes()).unwrap_err();
        assert!(foreign.contains("not signed"), "{foreign}");
        assert!(crls(bundle.as_bytes(), b"garbage").is_err());
        assert!(crls(b"garbage", crl(&mine).as_bytes()).is_err());
        // The issuer's name alone is not enough: a CRL by another key
        // under the same name is refused.
        let impostor = ca("mine");
        assert!(crls(bundle.as_bytes(), crl(&impostor).as_bytes()).is_err());
    }

    #[test]
    fn verifiers_build_for_both_modes_and_refuse_garbage() {
        let mine = ca("mine");
        for mandatory in [true, false] {
            let v = ClientVerify {
                mandatory,
                ca_pem: mine.0.pem().into(),
                crl_pem: Some(crl(&mine).into()),
            };
            let built = verifier(&v).unwrap();
            assert_eq!(built.client_auth_mandatory(), mandatory);
        }
        let bad = ClientVerify {
            mandatory: true,
            ca_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            crl_pem: None,
        };
        assert!(verifier(&bad).is_err());
    }
}
