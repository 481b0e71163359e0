//! The one crypto provider every rustls configuration in Weir is built
//! with: aws-lc-rs (AWS-LC's assembly for X25519, P-256, RSA, AES-GCM
//! and SHA-2), chosen over ring because it measured cheaper per full
//! handshake (docs/BENCHMARKS.md, "TLS handshakes"), where X25519 and the
//! key schedule are most of an HTTPS listener's CPU.
//!
//! Servers, clients, client-certificate verifiers, the signing keys of
//! uploaded certificates and the ticket keys all come from here, so no
//! configuration depends on rustls' process-wide default (none is
//! installed) and a change of provider is a change of this file.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::PrivateKeyDer;
use rustls::server::ProducesTickets;
use rustls::sign::SigningKey;

/// A fresh provider (callers narrow its suites per listener or pool).
pub fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// [`provider`], shared.
pub fn shared_provider() -> Arc<CryptoProvider> {
    Arc::new(provider())
}

/// Every cipher suite the provider has, TLS 1.3 first, in its order of
/// preference.
pub fn all_cipher_suites() -> &'static [rustls::SupportedCipherSuite] {
    rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
}

/// A signing key for a private key of any type the provider signs with
/// (RSA, ECDSA, Ed25519; `inspect` narrows what an upload may be).
pub fn signing_key(key: &PrivateKeyDer<'_>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
    rustls::crypto::aws_lc_rs::sign::any_supported_type(key)
}

/// Session-ticket keys for one server configuration, rotated by rustls
/// every 6 hours.
pub fn ticketer() -> Result<Arc<dyn ProducesTickets>, rustls::Error> {
    rustls::crypto::aws_lc_rs::Ticketer::new()
}
