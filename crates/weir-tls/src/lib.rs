//! TLS material as a tenant uploads it: a PEM certificate chain and its
//! private key, parsed and held to the rules before anything is stored
//! (issue 15). What a listener will serve must be servable: the key is one
//! rustls can sign with and it belongs to the leaf, the chain runs leaf
//! first with each certificate signed by the next, and the leaf has not
//! expired. The answer describes the leaf for the views (subject, names,
//! fingerprint, validity, key type) so no one has to parse it again.
//!
//! Pure and synchronous: the caller passes `now`.
//!
//! [`server`] turns what was stored back into what a listener serves: the
//! rustls configuration and the SNI resolver. [`bundle`] reads the
//! key manager's payloads (PKCS#12, PEM bundles, certificate containers)
//! into the PEM that [`inspect`] holds to the same rules.

pub mod bundle;
pub mod ca;
pub mod client;
pub mod client_auth;
pub mod client_facts;
pub mod crypto;
pub mod server;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use weir_core::{Error, Timestamp};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

/// Largest PEM text accepted for a chain or a key (a chain of a few
/// certificates is under 10 KiB).
pub const MAX_PEM_BYTES: usize = 64 * 1024;
/// Most certificates in one chain (leaf and intermediates).
pub const MAX_CHAIN: usize = 8;

/// What Weir keeps to show about a certificate bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The leaf's subject, as an RFC 4514 string.
    pub subject: String,
    /// The leaf's DNS and IP subject alternative names, in order.
    pub names: Vec<String>,
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub fingerprint_sha256: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// `RSA-2048`, `RSA-4096`, `ECDSA-P256`, `ECDSA-P384`, …
    pub key_type: String,
    /// Certificates in the chain, leaf included.
    pub chain_length: usize,
}

/// Parses and checks a chain (`certificate`, PEM, leaf first) and its
/// private key (`private_key`, PEM: PKCS#8, PKCS#1 or SEC1). Errors name
/// the field (`certificate` or `private_key`) and say what is wrong.
pub fn inspect(certificate: &str, private_key: &str, now: Timestamp) -> Result<Inspected, Error> {
    let bad_cert = |why: String| Error::invalid("certificate", why);
    let bad_key = |why: String| Error::invalid("private_key", why);
    if certificate.len() > MAX_PEM_BYTES {
        return Err(bad_cert(format!("longer than {MAX_PEM_BYTES} bytes")));
    }
    if private_key.len() > MAX_PEM_BYTES {
        return Err(bad_key(format!("longer than {MAX_PEM_BYTES} bytes")));
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(certificate.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad_cert(format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(bad_cert("no CERTIFICATE block found".into()));
    }
    if chain.len() > MAX_CHAIN {
        return Err(bad_cert(format!(
            "more than {MAX_CHAIN} certificates in the chain"
        )));
    }
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| match X509Certificate::from_der(der) {
            Ok((&[], cert)) => Ok(cert),
            _ => Err(bad_cert(format!(
                "certificate {} of the chain is not valid X.509",
                i + 1
            ))),
        })
        .collect::<Result<_, _>>()?;
    let leaf = &parsed[0];
    let key_type = public_key_type(leaf).map_err(bad_cert)?;

    let not_before = Timestamp(leaf.validity().not_before.timestamp().saturating_mul(1000));
    let not_after = Timestamp(leaf.validity().not_after.timestamp().saturating_mul(1000));
    if not_after <= now {
        return Err(bad_cert(format!("the certificate expired at {not_after}")));
    }
    for (i, pair) in parsed.windows(2).enumerate() {
        let (child, issuer) = (&pair[0], &pair[1]);
        if child.issuer().as_raw() != issuer.subject().as_raw()
            || child.verify_signature(Some(issuer.public_key())).is_err()
        {
            return Err(bad_cert(format!(
                "certificate {} is not signed by certificate {}: give the chain leaf first, \
                 each certificate followed by its issuer",
                i + 1,
                i + 2
            )));
        }
    }

    let key = PrivateKeyDer::from_pem_slice(private_key.as_bytes())
        .map_err(|_| bad_key("not a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)".into()))?;
    let signer = crate::crypto::signing_key(&key)
        .map_err(|_| bad_key("a key algorithm Weir's TLS cannot sign with".into()))?;
    let matches = signer
        .public_key()
        .is_some_and(|spki| spki.as_ref() == leaf.public_key().raw);
    if !matches {
        return Err(bad_key(
            "does not belong to the certificate (the first of the chain)".into(),
        ));
    }

    Ok(Inspected {
        subject: leaf.subject().to_string(),
        names: names(leaf),
        fingerprint_sha256: Sha256::digest(chain[0].as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        not_before,
        not_after,
        key_type,
        chain_length: chain.len(),
    })
}

/// The leaf's key type, refusing what Weir will not serve: RSA under 2048
/// or over 4096 bits, elliptic curves other than P-256 and P-384.
fn public_key_type(leaf: &X509Certificate<'_>) -> Result<String, String> {
    match leaf.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => match rsa.key_size() {
            bits @ 2048..=4096 => Ok(format!("RSA-{bits}")),
            bits => Err(format!(
                "an RSA key of {bits} bits (2048 to 4096 are served)"
            )),
        },
        Ok(PublicKey::EC(ec)) => match ec.key_size() {
            256 => Ok("ECDSA-P256".into()),
            384 => Ok("ECDSA-P384".into()),
            bits => Err(format!(
                "an elliptic-curve key of {bits} bits (P-256 and P-384 are served)"
            )),
        },
        _ => Err("a key type other than RSA or ECDSA (P-256, P-384)".into()),
    }
}

fn names(leaf: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = leaf.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => <[u8; 4]>::try_from(*ip)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                16 => <[u8; 16]>::try_from(*ip)
                    .ok()
                    .map(|a| std::net::IpAddr::from(a).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
