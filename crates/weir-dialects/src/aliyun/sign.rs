//! Alibaba Cloud's two request signatures as pure verifiers ("now" is
//! passed in):
//!
//! - **v1** (aliyun-python-sdk-core): every parameter but `Signature`,
//!   sorted, RFC 3986-encoded and joined; `METHOD&%2F&pct(that)`;
//!   base64(HMAC-SHA1(secret + "&")). Carries `Timestamp` and
//!   `SignatureNonce` as parameters.
//! - **ACS3-HMAC-SHA256** (the Tea SDK): a canonical request of method,
//!   `/`, the sorted query, the signed headers and `x-acs-content-sha256`;
//!   hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(it)))).
//!   Carries `x-acs-date` and `x-acs-signature-nonce` as headers.
//!
//! Both are refused outside ±15 minutes; the caller makes each nonce
//! single-use within that window.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::common::{
    auth_field, auth_fields, base64, canonical_headers, canonical_query, constant_time_eq,
    header_value, hex, hmac_sha256, parse_iso8601, pct, sha256_hex, CLOCK_SKEW_SECS,
};

pub const ACS3: &str = "ACS3-HMAC-SHA256";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    Malformed(String),
    Expired {
        skew_secs: i64,
    },
    /// The signature differs; carries our string to sign, which Alibaba's
    /// classic SDK compares with its own to tell a wrong secret apart.
    Mismatch {
        string_to_sign: String,
    },
}

/// The v1 string to sign of `params` (query and form, any order).
pub fn v1_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let canon = canonical_query(
        params
            .iter()
            .filter(|(k, _)| k != "Signature")
            .map(|(k, v)| (pct(k), pct(v)))
            .collect(),
    );
    format!("{method}&{}&{}", pct("/"), pct(&canon))
}

/// The v1 signature a client with `secret` sends.
pub fn v1_sign(method: &str, params: &[(String, String)], secret: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes any key length");
    mac.update(v1_string_to_sign(method, params).as_bytes());
    base64(&mac.finalize().into_bytes())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn check_time(text: &str, field: &str, now_unix: i64) -> Result<(), SignError> {
    let ts = parse_iso8601(text)
        .ok_or_else(|| SignError::Malformed(format!("{field} must be YYYY-MM-DDThh:mm:ssZ")))?;
    let skew = ts - now_unix;
    if skew.abs() > CLOCK_SKEW_SECS {
        return Err(SignError::Expired { skew_secs: skew });
    }
    Ok(())
}

/// Verifies a v1-signed request.
pub fn v1_verify(
    method: &str,
    params: &[(String, String)],
    secret: &str,
    now_unix: i64,
) -> Result<(), SignError> {
    let given = param(params, "Signature")
        .ok_or_else(|| SignError::Malformed("Signature is missing".to_owned()))?;
    if param(params, "SignatureMethod") != Some("HMAC-SHA1") {
        return Err(SignError::Malformed(
            "SignatureMethod must be HMAC-SHA1".to_owned(),
        ));
    }
    let timestamp = param(params, "Timestamp")
        .ok_or_else(|| SignError::Malformed("Timestamp is missing".to_owned()))?;
    check_time(timestamp, "Timestamp", now_unix)?;
    if param(params, "SignatureNonce").is_none_or(str::is_empty) {
        return Err(SignError::Malformed("SignatureNonce is missing".to_owned()));
    }
    let expected = v1_sign(method, params, secret);
    if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(SignError::Mismatch {
            string_to_sign: v1_string_to_sign(method, params),
        })
    }
}

/// A parsed `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs3Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

pub fn parse_acs3(header: &str) -> Result<Acs3Authorization, SignError> {
    let fields = auth_fields(header, ACS3).map_err(SignError::Malformed)?;
    Ok(Acs3Authorization {
        access_key_id: auth_field(&fields, "Credential")
            .map_err(SignError::Malformed)?
            .to_owned(),
        signed_headers: auth_field(&fields, "SignedHeaders")
            .map_err(SignError::Malformed)?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: auth_field(&fields, "Signature")
            .map_err(SignError::Malformed)?
            .to_owned(),
    })
}

/// The parts of an ACS3 request the signature covers.
#[derive(Debug, Clone)]
pub struct Acs3Parts<'a> {
    pub method: &'a str,
    /// The query pairs, decoded.
    pub query: &'a [(String, String)],
    /// Every header, names lower-case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

fn header<'a>(parts: &'a Acs3Parts<'_>, name: &str) -> Option<&'a str> {
    header_value(parts.headers, name)
}

/// The ACS3 string to sign.
pub fn acs3_string_to_sign(parts: &Acs3Parts<'_>, signed: &[String]) -> String {
    let query = canonical_query(
        parts
            .query
            .iter()
            .map(|(k, v)| (k.clone(), pct(v)))
            .collect(),
    );
    let headers = canonical_headers(parts.headers, signed);
    let payload = header(parts, "x-acs-content-sha256").unwrap_or_default();
    let canonical = format!(
        "{}\n/\n{query}\n{headers}\n{}\n{payload}",
        parts.method,
        signed.join(";")
    );
    format!("{ACS3}\n{}", sha256_hex(canonical.as_bytes()))
}

/// The ACS3 signature a client with `secret` sends.
pub fn acs3_sign(parts: &Acs3Parts<'_>, signed: &[String], secret: &str) -> String {
    hex(&hmac_sha256(
        secret.as_bytes(),
        acs3_string_to_sign(parts, signed).as_bytes(),
    ))
}

/// Verifies an ACS3-signed request; the body must match its signed hash.
pub fn acs3_verify(
    parts: &Acs3Parts<'_>,
    auth: &Acs3Authorization,
    secret: &str,
    now_unix: i64,
) -> Result<(), SignError> {
    for required in [
        "host",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(SignError::Malformed(format!(
                "SignedHeaders must include {required}"
            )));
        }
    }
    let date = header(parts, "x-acs-date")
        .ok_or_else(|| SignError::Malformed("x-acs-date is missing".to_owned()))?;
    check_time(date, "x-acs-date", now_unix)?;
    let claimed = header(parts, "x-acs-content-sha256").unwrap_or_default();
    if !claimed.eq_ignore_ascii_case(&sha256_hex(parts.body)) {
        return Err(SignError::Malformed(
            "x-acs-content-sha256 does not match the body".to_owned(),
        ));
    }
    let expected = acs3_sign(parts, &auth.signed_headers, secret);
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SignError::Mismatch {
            string_to_sign: acs3_string_to_sign(parts, &auth.signed_headers),
        })
    }
}
