//! A CA certificate as a tenant uploads it (Huawei's `client`
//! certificate, the native `type: "ca"`): a PEM bundle of 1 to 100 CA
//! certificates and nothing else, which a listener verifies client
//! certificates against. Held to the rules of a key-manager CA bundle
//! ([`crate::client::ca_certificates`]: PEM, 1 to 100, each one rustls
//! takes as a trust anchor) and more, since a stored certificate is shown:
//! every block is a `CERTIFICATE` (a private key in the bundle is
//! refused, not dropped: it was never meant to be uploaded), each parses
//! as X.509 and none has expired.
//!
//! Pure and synchronous: the caller passes `now`.

use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use weir_core::{Error, Timestamp};
use x509_parser::prelude::*;

use crate::Inspected;

/// Largest CA bundle accepted: 100 certificates of a few KiB each.
pub const MAX_CA_PEM_BYTES: usize = 512 * 1024;

/// Reads a CA bundle; errors name `field` (the caller's name for the
/// PEM text). The description is the first certificate's (subject,
/// names, fingerprint, key type), the validity the span all of them
/// cover (the latest start, the earliest end), `chain_length` their count.
pub fn inspect_ca(pem: &str, field: &str, now: Timestamp) -> Result<Inspected, Error> {
    let bad = |why: String| Error::invalid(field, why);
    if pem.len() > MAX_CA_PEM_BYTES {
        return Err(bad(format!("longer than {MAX_CA_PEM_BYTES} bytes")));
    }
    for line in pem.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if label != "CERTIFICATE" {
                return Err(bad(format!(
                    "holds a {label} block; a CA certificate is PEM CERTIFICATE blocks only \
                     (no private key)"
                )));
            }
        }
    }
    let certs = crate::client::ca_certificates(pem.as_bytes()).map_err(bad)?;
    let parsed: Vec<X509Certificate<'_>> = certs
        .iter()
        .enumerate()
        .map(|(i, der)| match X509Certificate::from_der(der) {
            Ok((&[], cert)) => Ok(cert),
            _ => Err(bad(format!(
                "certificate {} of the bundle is not valid X.509",
                i + 1
            ))),
        })
        .collect::<Result<_, _>>()?;
    let millis = |t: ASN1Time| Timestamp(t.timestamp().saturating_mul(1000));
    let mut not_before = Timestamp(i64::MIN);
    let mut not_after = Timestamp(i64::MAX);
    for (i, cert) in parsed.iter().enumerate() {
        let end = millis(cert.validity().not_after);
        if end <= now {
            return Err(bad(format!(
                "certificate {} of the bundle expired at {end}",
                i + 1
            )));
        }
        not_before = not_before.max(millis(cert.validity().not_before));
        not_after = not_after.min(end);
    }
    let first = &parsed[0];
    Ok(Inspected {
        subject: first.subject().to_string(),
        names: crate::names(first),
        fingerprint_sha256: fingerprint(&certs[0]),
        not_before,
        not_after,
        // A CA's key is never served with, so any type webpki verifies
        // with is kept; the name says which.
        key_type: crate::public_key_type(first).unwrap_or_else(|_| "other".into()),
        chain_length: certs.len(),
    })
}

fn fingerprint(der: &CertificateDer<'_>) -> String {
    Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256,
    };

    use super::*;

    /// 2026-12-07.
    const NOW: Timestamp = Timestamp(1_796_601_600_000);

    fn ca(name: &str, expired: bool) -> (String, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        (params.self_signed(&key).unwrap().pem(), key)
    }

    fn reason(e: Error) -> String {
        match e {
            Error::InvalidField { field, reason } => {
                assert_eq!(field, "certificate");
                reason
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bundle_is_described_by_its_first_certificate() {
        let (a, _) = ca("Client CA A", false);
        let (b, _) = ca("Client CA B", false);
        let seen = inspect_ca(&format!("{a}{b}"), "certificate", NOW).unwrap();
        assert_eq!(seen.subject, "CN=Client CA A");
        assert_eq!(seen.chain_length, 2);
        assert_eq!(seen.key_type, "ECDSA-P256");
        assert_eq!(seen.fingerprint_sha256.len(), 64);
        assert!(seen.not_after > NOW);
    }

    #[test]
    fn a_private_key_in_the_bundle_is_refused() {
        let (a, key) = ca("Client CA", false);
        let why = reason(
            inspect_ca(&format!("{a}{}", key.serialize_pem()), "certificate", NOW).unwrap_err(),
        );
        assert!(why.contains("PRIVATE KEY"), "{why}");
    }

    #[test]
    fn garbage_empty_expired_and_oversized_bundles_are_refused() {
        for bad in [
            "",
            "not pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            reason(inspect_ca(bad, "certificate", NOW).unwrap_err());
        }
        let (old, _) = ca("Old CA", true);
        assert!(reason(inspect_ca(&old, "certificate", NOW).unwrap_err()).contains("expired"));
        let (one, _) = ca("CA", false);
        let many = one.repeat(101);
        assert!(reason(inspect_ca(&many, "certificate", NOW).unwrap_err()).contains("100"));
        let huge = "x".repeat(MAX_CA_PEM_BYTES + 1);
        reason(inspect_ca(&huge, "certificate", NOW).unwrap_err());
    }
}
