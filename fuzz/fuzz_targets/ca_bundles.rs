//! A re-encrypting pool's CA bundle (`weir_tls::client::ca_certificates`,
//! the payload a tenant stores in the key manager): arbitrary bytes never
//! panic, an accepted bundle holds 1 to `MAX_CA_CERTIFICATES`
//! certificates, and a client configuration builds from it (what the
//! command accepted is what the data plane then dials with).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_core::upstream_tls::{UpstreamMaterial, UpstreamTls};
use weir_tls::client::{ca_certificates, client_config, MAX_CA_CERTIFICATES};

fuzz_target!(|data: &[u8]| {
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
