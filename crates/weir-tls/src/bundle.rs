//! Key-manager payloads as a listener's chain and key: a PKCS#12 bundle
//! (what Octavia's users store in Barbican, made by `cryptography`'s
//! `serialize_key_and_certificates(b'', key, cert, None,
//! NoEncryption())` or `openssl pkcs12 -export -passout pass:`), a PEM
//! bundle (certificates and one key), or a certificate container's parts.
//! The result is PEM, to be held to the upload rules by
//! [`crate::inspect`] like any uploaded certificate.
//!
//! Only bundles without a password (or with the empty one) are read:
//! Octavia hands Barbican's payload to HAProxy without a passphrase, so a
//! protected bundle is refused, with that reason, never guessed at.

use base64::Engine;
use p12_keystore::Pkcs12Archive;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::*;

use crate::MAX_CHAIN;

/// A chain (leaf first) and its private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem {
    pub chain: String,
    pub key: String,
}

impl std::fmt::Debug for Pem {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem")
            .field("chain_bytes", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// A secret holding a whole bundle: PEM text (certificates and one
/// private key) or PKCS#12.
pub fn from_secret(bytes: &[u8]) -> Result<Pem, String> {
    if looks_like_pem(bytes) {
        let chain = pem_certificates(bytes)?;
        let key = pem_key(bytes)?;
        return Ok(Pem {
            chain: to_pem_chain(&chain),
            key: to_pem_key(&key),
        });
    }
    from_pkcs12(bytes)
}

/// A certificate container's secrets: the certificate (PEM or DER), its
/// private key (PEM or PKCS#8 DER), intermediates (PEM) and a
/// passphrase, which must be absent or empty.
pub fn from_parts(
    certificate: &[u8],
    private_key: Option<&[u8]>,
    intermediates: Option<&[u8]>,
    passphrase: Option<&[u8]>,
) -> Result<Pem, String> {
    if passphrase.is_some_and(|p| !p.is_empty()) {
        return Err(
            "the container's private key is protected by a passphrase; Weir serves unencrypted keys"
                .into(),
        );
    }
    let mut chain = if looks_like_pem(certificate) {
        pem_certificates(certificate)?
    } else {
        vec![CertificateDer::from(certificate.to_vec())]
    };
    if let Some(more) = intermediates {
        chain.extend(pem_certificates(more)?);
    }
    let Some(key) = private_key else {
        return Err("the container has no private_key secret".into());
    };
    let key = if looks_like_pem(key) {
        pem_key(key)?
    } else {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()))
    };
    if chain.len() > MAX_CHAIN {
        return Err(format!("more than {MAX_CHAIN} certificates in the chain"));
    }
    Ok(Pem {
        chain: to_pem_chain(&chain),
        key: to_pem_key(&key),
    })
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn pem_certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if chain.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    if chain.len() > MAX_CHAIN {
        return Err(format!("more than {MAX_CHAIN} certificates in the chain"));
    }
    Ok(chain)
}

fn pem_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|_| {
        "no unencrypted PEM private key found (PKCS#8, PKCS#1 RSA or SEC1 EC)".to_string()
    })
}

/// A PKCS#12 bundle without a password: exactly one private key, its
/// certificate, and the issuers of that certificate among the others
/// (in chain order; certificates on no path from the leaf are left out).
fn from_pkcs12(bytes: &[u8]) -> Result<Pem, String> {
    let archive = Pkcs12Archive::from_pkcs12(bytes, "").map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) => {
            "a PKCS#12 bundle protected by a password; Weir reads bundles without one".to_string()
        }
        p12_keystore::error::Error::DerError(_) | p12_keystore::error::Error::InvalidVersion => {
            "neither a PKCS#12 bundle nor PEM".to_string()
        }
        other => format!("a PKCS#12 bundle Weir cannot read: {other}"),
    })?;
    let [key_bag] = archive.keys.as_slice() else {
        return Err(format!(
            "a PKCS#12 bundle must hold exactly one private key, this one holds {}",
            archive.keys.len()
        ));
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_bag.key.as_der().to_vec()));
    let signer = crate::crypto::signing_key(&key)
        .map_err(|_| "the PKCS#12 private key is of a type Weir's TLS cannot sign with")?;
    let spki = signer
        .public_key()
        .ok_or("the PKCS#12 private key has no public key")?;
    let certs: Vec<&[u8]> = archive.certs.iter().map(|c| c.cert.as_der()).collect();
    let parsed: Vec<X509Certificate<'_>> = certs
        .iter()
        .map(|der| {
            X509Certificate::from_der(der)
                .map(|(_, c)| c)
                .map_err(|_| "a PKCS#12 certificate is not valid X.509".to_string())
        })
        .collect::<Result<_, _>>()?;
    let Some(leaf) = parsed
        .iter()
        .position(|c| c.public_key().raw == spki.as_ref())
    else {
        return Err("the PKCS#12 bundle holds no certificate of its private key".into());
    };
    let mut order = vec![leaf];
    while order.len() < MAX_CHAIN {
        let last = &parsed[order[order.len() - 1]];
        if last.issuer().as_raw() == last.subject().as_raw() {
            break;
        }
        let next = parsed.iter().enumerate().position(|(i, c)| {
            !order.contains(&i) && c.subject().as_raw() == last.issuer().as_raw()
        });
        match next {
            Some(i) => order.push(i),
            None => break,
        }
    }
    let chain: Vec<CertificateDer<'static>> = order
        .iter()
        .map(|&i| CertificateDer::from(certs[i].to_vec()))
        .collect();
    Ok(Pem {
        chain: to_pem_chain(&chain),
        key: to_pem_key(&key),
    })
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn to_pem_chain(chain: &[CertificateDer<'_>]) -> String {
    chain.iter().map(|c| pem_block("CERTIFICATE", c)).collect()
}

fn to_pem_key(key: &PrivateKeyDer<'_>) -> String {
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    pem_block(label, key.secret_der())
}
