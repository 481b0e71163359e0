//! The signature verifiers as properties, on arbitrary requests: a request
//! signed with the right key verifies; the same request with any other
//! body, or any other covered part, does not (hole 1 of issue 14 was a
//! Huawei body the signature did not cover); no header text, however
//! malformed, panics the parsers.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use weir_dialects::common::{sha256_hex, unix_now};
use weir_dialects::{aliyun, huawei, ucloud, zenlayer};

#[derive(Arbitrary, Debug)]
struct Case {
    scheme: u8,
    method: String,
    path: String,
    content_type: String,
    query: Vec<(String, String)>,
    body: Vec<u8>,
    other_body: Vec<u8>,
    secret: String,
    authorization: String,
    /// Huawei: send `X-Sdk-Content-Sha256` (of `body`) as the SDK may.
    content_sha_header: bool,
}

fuzz_target!(|case: Case| {
    let now = unix_now();
    let _ = zenlayer::sign::parse_authorization(&case.authorization);
    let _ = huawei::sign::parse_authorization(&case.authorization);
    let _ = aliyun::sign::parse_acs3(&case.authorization);
    let changed = case.other_body != case.body;
    match case.scheme % 4 {
        0 => {
            let timestamp = now.to_string();
            let parts = zenlayer::sign::SignedParts {
                method: &case.method,
                content_type: &case.content_type,
                host: "127.0.0.1:8480",
                timestamp: &timestamp,
                body: &case.body,
            };
            let auth = zenlayer::sign::Authorization {
                access_key_id: "AK".into(),
                signed_headers: "content-type;host".into(),
                signature: zenlayer::sign::sign(&parts, &case.secret),
            };
            assert!(zenlayer::sign::verify(&parts, &auth, &case.secret, now).is_ok());
            let other = zenlayer::sign::SignedParts { body: &case.other_body, ..parts };
            assert_eq!(zenlayer::sign::verify(&other, &auth, &case.secret, now).is_ok(), !changed);
        }
        1 => {
            let date = iso_compact(now);
            let mut headers = vec![
                ("content-type".to_owned(), case.content_type.clone()),
                ("host".to_owned(), "127.0.0.1:8480".to_owned()),
                ("x-sdk-date".to_owned(), date),
            ];
            if case.content_sha_header {
                headers.push(("x-sdk-content-sha256".into(), sha256_hex(&case.body)));
            }
            let signed: Vec<String> = ["content-type", "host", "x-sdk-date"].map(String::from).into();
            let path = format!("/v2/p/elb/{}", case.path);
            let parts = huawei::sign::SignedParts {
                method: &case.method,
                path: &path,
                query: &case.query,
                headers: &headers,
                body: &case.body,
            };
            let auth = huawei::sign::Authorization {
                access_key_id: "AK".into(),
                signed_headers: signed.clone(),
                signature: huawei::sign::sign(&parts, &signed, &case.secret),
            };
            assert!(huawei::sign::verify(&parts, &auth, &case.secret, now).is_ok());
            let other = huawei::sign::SignedParts { body: &case.other_body, ..parts };
            assert_eq!(
                huawei::sign::verify(&other, &auth, &case.secret, now).is_ok(),
                !changed,
                "a body the signature does not cover was accepted"
            );
        }
        2 => {
            let mut params = case.query.clone();
            params.retain(|(k, _)| k != "Signature");
            let signature = ucloud::sign::sign(&params, &case.secret);
            params.push(("Signature".into(), signature));
            assert!(ucloud::sign::verify(&params, &case.secret));
        }
        _ => {
            let mut params = case.query.clone();
            params.retain(|(k, _)| {
                !matches!(k.as_str(), "Signature" | "SignatureMethod" | "SignatureVersion" | "Timestamp")
            });
            params.push(("SignatureMethod".into(), "HMAC-SHA1".into()));
            params.push(("SignatureVersion".into(), "1.0".into()));
            params.push(("Timestamp".into(), iso_seconds(now)));
            let signature = aliyun::sign::v1_sign(&case.method, &params, &case.secret);
            params.push(("Signature".into(), signature));
            let verdict = aliyun::sign::v1_verify(&case.method, &params, &case.secret, now);
            // Refusals for a missing SignatureNonce and the like are fine;
            // a mismatch of a correctly signed request is not.
            assert!(!matches!(verdict, Err(aliyun::sign::SignError::Mismatch { .. })), "{verdict:?}");
        }
    }
});

fn iso_seconds(unix: i64) -> String {
    let text = weir_core::Timestamp(unix * 1000).to_string();
    format!("{}Z", &text[..19])
}

fn iso_compact(unix: i64) -> String {
    iso_seconds(unix).replace(['-', ':'], "")
}
