//! The upload rules, one test each: ECDSA chains made here with rcgen,
//! RSA bundles made once with `openssl req -x509` (rcgen on ring cannot
//! make RSA keys) and kept beside this file. Their keys are test keys
//! and protect nothing.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384,
};

use super::*;

const RSA2048_CRT: &str = include_str!("rsa2048.crt");
const RSA2048_KEY: &str = include_str!("rsa2048.key");
const RSA2048_PKCS1_KEY: &str = include_str!("rsa2048.pkcs1.key");
const RSA1024_CRT: &str = include_str!("rsa1024.crt");
const RSA1024_KEY: &str = include_str!("rsa1024.key");

/// 2026-12-07, the day these tests were written.
const NOW: Timestamp = Timestamp(1_796_601_600_000);

struct Bundle {
    chain: String,
    key: String,
    ca: String,
}

/// A leaf for `names` signed by a fresh CA; `expired` dates it in 2020.
fn bundle(names: &[&str], leaf_alg: &'static rcgen::SignatureAlgorithm, expired: bool) -> Bundle {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Weir test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate_for(leaf_alg).unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let leaf = params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    Bundle {
        chain: format!("{}{}", leaf.pem(), ca.pem()),
        key: leaf_key.serialize_pem(),
        ca: ca.pem(),
    }
}

fn field_of(e: Error) -> (String, String) {
    match e {
        Error::InvalidField { field, reason } => (field, reason),
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn an_ecdsa_chain_and_its_key_are_described() {
    let b = bundle(
        &["www.example.test", "*.example.test"],
        &PKCS_ECDSA_P384_SHA384,
        false,
    );
    let seen = inspect(&b.chain, &b.key, NOW).unwrap();
    assert_eq!(seen.names, ["www.example.test", "*.example.test"]);
    assert_eq!(seen.key_type, "ECDSA-P384");
    assert_eq!(seen.chain_length, 2);
    assert!(
        seen.subject.contains("CN=www.example.test"),
        "{}",
        seen.subject
    );
    assert_eq!(seen.fingerprint_sha256.len(), 64);
    assert!(seen.not_before < NOW && NOW < seen.not_after);
}

#[test]
fn rsa_keys_in_pkcs8_and_pkcs1_are_served() {
    for key in [RSA2048_KEY, RSA2048_PKCS1_KEY] {
        let seen = inspect(RSA2048_CRT, key, NOW).unwrap();
        assert_eq!(seen.key_type, "RSA-2048");
        assert_eq!(seen.names, ["rsa.example.test", "192.0.2.10"]);
        assert_eq!(seen.chain_length, 1);
    }
}

#[test]
fn weak_rsa_is_refused() {
    let (field, reason) = field_of(inspect(RSA1024_CRT, RSA1024_KEY, NOW).unwrap_err());
    assert_eq!(field, "certificate");
    assert!(reason.contains("1024 bits"), "{reason}");
}

#[test]
fn an_expired_certificate_is_refused() {
    let b = bundle(&["old.example.test"], &PKCS_ECDSA_P256_SHA256, true);
    let (field, reason) = field_of(inspect(&b.chain, &b.key, NOW).unwrap_err());
    assert_eq!(field, "certificate");
    assert!(reason.contains("expired at 2021-01-01"), "{reason}");
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let a = bundle(&["a.example.test"], &PKCS_ECDSA_P256_SHA256, false);
    let b = bundle(&["b.example.test"], &PKCS_ECDSA_P256_SHA256, false);
    let (field, reason) = field_of(inspect(&a.chain, &b.key, NOW).unwrap_err());
    assert_eq!(field, "private_key");
    assert!(reason.contains("does not belong"), "{reason}");
    // An RSA key with an ECDSA certificate, too.
    let (field, _) = field_of(inspect(&a.chain, RSA2048_KEY, NOW).unwrap_err());
    assert_eq!(field, "private_key");
}

#[test]
fn a_chain_out_of_order_or_with_a_stranger_is_refused() {
    let b = bundle(&["www.example.test"], &PKCS_ECDSA_P256_SHA256, false);
    let leaf = b.chain.strip_suffix(b.ca.as_str()).unwrap();
    let reversed = format!("{}{}", b.ca, leaf);
    let (field, _) = field_of(inspect(&reversed, &b.key, NOW).unwrap_err());
    assert_eq!(field, "certificate");
    let stranger = bundle(&["x.example.test"], &PKCS_ECDSA_P256_SHA256, false);
    let wrong_issuer = format!("{leaf}{}", stranger.ca);
    let (field, reason) = field_of(inspect(&wrong_issuer, &b.key, NOW).unwrap_err());
    assert_eq!(field, "certificate");
    assert!(reason.contains("not signed by certificate 2"), "{reason}");
}

#[test]
fn what_is_not_pem_is_refused_by_field() {
    let b = bundle(&["www.example.test"], &PKCS_ECDSA_P256_SHA256, false);
    for (chain, key, want) in [
        ("", b.key.as_str(), "certificate"),
        ("hello", b.key.as_str(), "certificate"),
        (b.chain.as_str(), "", "private_key"),
        (b.chain.as_str(), b.chain.as_str(), "private_key"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b.key.as_str(),
            "certificate",
        ),
    ] {
        let (field, _) = field_of(inspect(chain, key, NOW).unwrap_err());
        assert_eq!(field, want, "{chain:?}");
    }
    let huge = "A".repeat(MAX_PEM_BYTES + 1);
    assert_eq!(
        field_of(inspect(&huge, &b.key, NOW).unwrap_err()).0,
        "certificate"
    );
}

proptest::proptest! {
    /// Whatever bytes a tenant sends, the answer is a field error, never a
    /// panic.
    #[test]
    fn arbitrary_input_never_panics(chain in "\\PC{0,600}", key in "\\PC{0,300}") {
        proptest::prop_assert!(inspect(&chain, &key, NOW).is_err());
    }
}
