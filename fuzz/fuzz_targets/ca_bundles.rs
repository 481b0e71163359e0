//! A re-encrypting pool's CA bundle (`weir_tls::client::ca_certificates`,
//! the payload a tenant stores in the key manager): arbitrary bytes never
//! panic, an accepted bundle holds 1 to `MAX_CA_CERTIFICATES`
//! certificates, and a client configuration builds from it (what the
//! command accepted is what the data plane then dials with). The same
//! bytes as an uploaded CA certificate (`weir_tls::ca::inspect_ca`, a
//! listener's client CA): never a panic, and a bundle it accepts is one
//! `ca_certificates` accepts too (what the upload stored, the listener
//! verifies with).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_core::upstream_tls::{UpstreamMaterial, UpstreamTls};
use weir_tls::client::{ca_certificates, client_config, MAX_CA_CERTIFICATES};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let now = weir_core::Timestamp(1_796_601_600_000);
        if let Ok(seen) = weir_tls::ca::inspect_ca(text, "certificate", now) {
            assert!((1..=MAX_CA_CERTIFICATES).contains(&seen.chain_length));
            assert!(ca_certificates(data).is_ok());
        }
    }
    if let Ok(certs) = ca_certificates(data) {
        assert!(!certs.is_empty() && certs.len() <= MAX_CA_CERTIFICATES);
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let material = UpstreamMaterial {
            ca_pem: Some(text.into()),
            ..UpstreamMaterial::default()
        };
        client_config(&UpstreamTls::default(), &material)
            .expect("an accepted CA bundle builds a client configuration");
    }
});
