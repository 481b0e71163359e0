//! The pure verifiers against real SDK requests captured byte for byte
//! (`tests/vectors/*.raw`, secret `SECRETTEST`), with "now" injected.

use weir_dialects::ucloud::sign as ucloud_sign;
use weir_dialects::zenlayer::sign::{self as zc, SignError, SignedParts};

const SECRET: &str = "SECRETTEST";

/// Byte-string replacement for the captured bodies.
trait ReplaceAscii {
    fn replace_ascii(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceAscii for Vec<u8> {
    fn replace_ascii(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(self.clone())
            .expect("a UTF-8 body")
            .replace(from, to)
            .into_bytes()
    }
}

/// A captured HTTP/1.1 request split into its head lines and body.
struct Raw {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn load(name: &str) -> Self {
        let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head and a body");
        let head = String::from_utf8(bytes[..split].to_vec()).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let request_line = lines.next().expect("request line").to_owned();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').expect("header");
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        Self {
            request_line,
            headers,
            body: bytes[split + 4..].to_vec(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn zenlayer_parts(&self) -> SignedParts<'_> {
        SignedParts {
            method: self.request_line.split(' ').next().unwrap(),
            content_type: self.header("content-type"),
            host: self.header("host"),
            timestamp: self.header("x-zc-timestamp"),
            body: &self.body,
        }
    }
}

fn check_zenlayer_vector(name: &str, path: &str) {
    let raw = Raw::load(name);
    assert!(raw.request_line.starts_with(&format!("POST {path} ")));
    let parts = raw.zenlayer_parts();
    let auth = zc::parse_authorization(raw.header("authorization")).expect("parses");
    assert_eq!(auth.access_key_id, "AKIDTEST");
    let ts: i64 = parts.timestamp.parse().unwrap();

    assert_eq!(zc::verify(&parts, &auth, SECRET, ts), Ok(ts));
    assert_eq!(zc::verify(&parts, &auth, SECRET, ts + 15 * 60), Ok(ts));
    assert_eq!(zc::verify(&parts, &auth, SECRET, ts - 15 * 60), Ok(ts));
    assert_eq!(
        zc::verify(&parts, &auth, SECRET, ts + 15 * 60 + 1),
        Err(SignError::Expired { skew_secs: -901 })
    );
    assert_eq!(
        zc::verify(&parts, &auth, "WRONGSECRET", ts),
        Err(SignError::Mismatch)
    );
    let mut tampered = raw.body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    let parts_tampered = SignedParts {
        body: &tampered,
        ..parts
    };
    assert_eq!(
        zc::verify(&parts_tampered, &auth, SECRET, ts),
        Err(SignError::Mismatch)
    );
    let other_host = SignedParts {
        host: "127.0.0.1:1",
        ..parts
    };
    assert_eq!(
        zc::verify(&other_host, &auth, SECRET, ts),
        Err(SignError::Mismatch)
    );
}

#[test]
fn zenlayer_zlb_vector_verifies_and_tampering_does_not() {
    check_zenlayer_vector("zenlayer-zlb-request.raw", "/api/v2/zlb");
}

#[test]
fn zenlayer_bmc_vector_verifies_and_tampering_does_not() {
    check_zenlayer_vector("zenlayer-bmc-request.raw", "/api/v2/bmc");
}

#[test]
fn zenlayer_authorization_must_be_complete() {
    assert!(zc::parse_authorization("Bearer x").is_err());
    assert!(zc::parse_authorization("ZC2-HMAC-SHA256 Credential=AK, Signature=ab").is_err());
    let auth = zc::parse_authorization(
        "ZC2-HMAC-SHA256 Credential=AK, SignedHeaders=content-type;host, Signature=ab",
    )
    .unwrap();
    assert_eq!(auth.signed_headers, "content-type;host");
}

#[test]
fn ucloud_vector_verifies_and_tampering_does_not() {
    let raw = Raw::load("ucloud-request.raw");
    assert_eq!(
        raw.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw.body).unwrap();
    assert!(ucloud_sign::verify(&params, SECRET));
    assert!(!ucloud_sign::verify(&params, "WRONGSECRET"));
    let sent = &params.iter().find(|(k, _)| k == "Signature").unwrap().1;
    assert_eq!(&ucloud_sign::sign(&params, SECRET), sent);

    let mut tampered = params.clone();
    for (k, v) in tampered.iter_mut() {
        if k == "Weight" {
            *v = "100".to_owned();
        }
    }
    assert!(!ucloud_sign::verify(&tampered, SECRET));
    let unsigned: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .cloned()
        .collect();
    assert!(!ucloud_sign::verify(&unsigned, SECRET));
}

#[test]
fn huawei_vector_verifies_and_tampering_does_not() {
    use weir_dialects::huawei::sign as hw;
    let raw = Raw::load("huawei-request.raw");
    let mut line = raw.request_line.split(' ');
    let method = line.next().unwrap();
    let target = line.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let auth = hw::parse_authorization(raw.header("authorization")).unwrap();
    assert_eq!(auth.access_key_id, "AKIDTEST");
    let parts = hw::SignedParts {
        method,
        path,
        query: &query,
        headers: &raw.headers,
        body: &raw.body,
    };
    let now = hw::parse_sdk_date(raw.header("x-sdk-date")).unwrap();
    assert_eq!(hw::verify(&parts, &auth, SECRET, now), Ok(()));
    assert_eq!(hw::verify(&parts, &auth, SECRET, now - 900), Ok(()));
    assert!(matches!(
        hw::verify(&parts, &auth, SECRET, now + 901),
        Err(hw::SignError::Expired { .. })
    ));
    assert_eq!(
        hw::verify(&parts, &auth, "WRONGSECRET", now),
        Err(hw::SignError::Mismatch)
    );
    // The captured request with X-Sdk-Content-Sha256 added: the true hash
    // still verifies, any other claim (UNSIGNED-PAYLOAD included) is a
    // mismatch, and a body swapped under a claimed hash never verifies.
    let with_header = |value: &str| {
        let mut headers = raw.headers.clone();
        headers.push(("x-sdk-content-sha256".to_owned(), value.to_owned()));
        headers
    };
    let true_hash = with_header(&weir_dialects::common::sha256_hex(&raw.body));
    let claimed = hw::SignedParts {
        headers: &true_hash,
        ..parts.clone()
    };
    assert_eq!(hw::verify(&claimed, &auth, SECRET, now), Ok(()));
    for value in ["UNSIGNED-PAYLOAD", &"0".repeat(64)] {
        let headers = with_header(value);
        let claimed = hw::SignedParts {
            headers: &headers,
            ..parts.clone()
        };
        assert_eq!(
            hw::verify(&claimed, &auth, SECRET, now),
            Err(hw::SignError::PayloadMismatch),
            "{value}"
        );
    }
    let swapped = raw.body.replace_ascii("10.0.0.21", "10.0.0.99");
    let replayed = hw::SignedParts {
        body: &swapped,
        ..parts.clone()
    };
    assert_eq!(
        hw::verify(&replayed, &auth, SECRET, now),
        Err(hw::SignError::Mismatch)
    );
    let other_path = path.replace("pool-hw-1", "pool-hw-2");
    let moved = hw::SignedParts {
        path: &other_path,
        ..parts.clone()
    };
    assert_eq!(
        hw::verify(&moved, &auth, SECRET, now),
        Err(hw::SignError::Mismatch)
    );
}

#[test]
fn aliyun_v1_vector_verifies_and_tampering_does_not() {
    use weir_dialects::aliyun::sign as ali;
    use weir_dialects::common::parse_iso8601;
    let raw = Raw::load("aliyun-request.raw");
    let target = raw.request_line.split(' ').nth(1).unwrap();
    let query = target.split_once('?').unwrap().1;
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    let stamp = &params.iter().find(|(k, _)| k == "Timestamp").unwrap().1;
    let now = parse_iso8601(stamp).unwrap();
    assert_eq!(ali::v1_verify("POST", &params, SECRET, now), Ok(()));
    assert!(matches!(
        ali::v1_verify("POST", &params, SECRET, now + 901),
        Err(ali::SignError::Expired { .. })
    ));
    assert!(matches!(
        ali::v1_verify("POST", &params, "WRONGSECRET", now),
        Err(ali::SignError::Mismatch { .. })
    ));
    let mut tampered = params.clone();
    for (k, v) in tampered.iter_mut() {
        if k == "LoadBalancerId" {
            *v = "lb-other".to_owned();
        }
    }
    assert!(matches!(
        ali::v1_verify("POST", &tampered, SECRET, now),
        Err(ali::SignError::Mismatch { .. })
    ));
}

#[test]
fn aliyun_acs3_vector_verifies_and_tampering_does_not() {
    use weir_dialects::aliyun::sign as ali;
    use weir_dialects::common::parse_iso8601;
    let raw = Raw::load("aliyun-acs3-request.raw");
    let target = raw.request_line.split(' ').nth(1).unwrap();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(target.split_once('?').unwrap().1).unwrap();
    let auth = ali::parse_acs3(raw.header("authorization")).unwrap();
    assert_eq!(auth.access_key_id, "AKIDTEST");
    let parts = ali::Acs3Parts {
        method: "POST",
        query: &query,
        headers: &raw.headers,
        body: &raw.body,
    };
    let now = parse_iso8601(raw.header("x-acs-date")).unwrap();
    assert_eq!(ali::acs3_verify(&parts, &auth, SECRET, now), Ok(()));
    assert!(matches!(
        ali::acs3_verify(&parts, &auth, SECRET, now - 901),
        Err(ali::SignError::Expired { .. })
    ));
    assert!(matches!(
        ali::acs3_verify(&parts, &auth, "WRONGSECRET", now),
        Err(ali::SignError::Mismatch { .. })
    ));
    let with_body = ali::Acs3Parts {
        body: b"smuggled",
        ..parts.clone()
    };
    assert!(matches!(
        ali::acs3_verify(&with_body, &auth, SECRET, now),
        Err(ali::SignError::Malformed(_))
    ));
}
