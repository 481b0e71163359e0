//! `SDK-HMAC-SHA256`, Huawei Cloud's AK/SK request signature, as a pure
//! verifier: the caller passes the request's parts and "now".
//!
//! Canonical request: method, the path with each segment re-encoded and
//! a trailing `/`, the sorted query, the signed headers (`name:value`),
//! their names, and the SHA-256 of the body received. The SDK may send
//! that hash as `X-Sdk-Content-Sha256` (or `UNSIGNED-PAYLOAD` for bodies
//! that are not JSON); the verifier never takes the header's word for it:
//! a header that is not the body's hash is a mismatch, so a captured
//! request cannot be replayed with another body.

use crate::common::{
    auth_field, auth_fields, canonical_headers, canonical_query, constant_time_eq, header_value,
    hex, hmac_sha256, pct, sha256_hex, unix_from_civil, CLOCK_SKEW_SECS,
};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// A parsed `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// The parts of a request the signature covers.
#[derive(Debug, Clone)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The query pairs, decoded.
    pub query: &'a [(String, String)],
    /// Every header, names lower-case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    Malformed(String),
    Expired {
        skew_secs: i64,
    },
    Mismatch,
    /// `X-Sdk-Content-Sha256` is not the SHA-256 of the body received
    /// (`UNSIGNED-PAYLOAD` included): the signature does not cover it.
    PayloadMismatch,
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed signature: {why}"),
            Self::Expired { skew_secs } => write!(
                f,
                "X-Sdk-Date is {skew_secs} s away from the server clock (at most {CLOCK_SKEW_SECS} s allowed)"
            ),
            Self::Mismatch => f.write_str("the request signature does not match"),
            Self::PayloadMismatch => f.write_str(
                "the request signature does not match: X-Sdk-Content-Sha256 is not the SHA-256 of the body received (UNSIGNED-PAYLOAD is refused for a request with a body)",
            ),
        }
    }
}

pub fn parse_authorization(header: &str) -> Result<Authorization, SignError> {
    let fields = auth_fields(header, ALGORITHM).map_err(SignError::Malformed)?;
    Ok(Authorization {
        access_key_id: auth_field(&fields, "Access")
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

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn pct_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header<'a>(parts: &'a SignedParts<'_>, name: &str) -> Option<&'a str> {
    header_value(parts.headers, name)
}

/// The canonical request the signature is over.
pub fn canonical_request(parts: &SignedParts<'_>, signed: &[String]) -> String {
    let mut uri = pct_decode(parts.path)
        .split('/')
        .map(pct)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let query = canonical_query(parts.query.iter().map(|(k, v)| (pct(k), pct(v))).collect());
    let headers = canonical_headers(parts.headers, signed);
    // Always the body received: the SDK hashes an empty body whatever the
    // header says, and signs a body's header as it is written, which is
    // only taken when it spells this very hash (in either case; `verify`
    // refuses any other).
    let payload = sha256_hex(parts.body);
    let payload = match header(parts, "x-sdk-content-sha256").map(str::trim) {
        Some(claimed) if !parts.body.is_empty() && claimed.eq_ignore_ascii_case(&payload) => {
            claimed.to_owned()
        }
        _ => payload,
    };
    format!(
        "{}\n{uri}\n{query}\n{headers}\n{}\n{payload}",
        parts.method,
        signed.join(";")
    )
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds.
pub fn parse_sdk_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(unix_from_civil(y, m, d, hh, mm, ss))
}

/// The signature a client with `secret` sends for `parts`.
pub fn sign(parts: &SignedParts<'_>, signed: &[String], secret: &str) -> String {
    let date = header(parts, "x-sdk-date").unwrap_or_default();
    let sts = format!(
        "{ALGORITHM}\n{date}\n{}",
        sha256_hex(canonical_request(parts, signed).as_bytes())
    );
    hex(&hmac_sha256(secret.as_bytes(), sts.as_bytes()))
}

/// Verifies `auth` over `parts` with `secret` at `now_unix`.
pub fn verify(
    parts: &SignedParts<'_>,
    auth: &Authorization,
    secret: &str,
    now_unix: i64,
) -> Result<(), SignError> {
    for required in ["host", "x-sdk-date"] {
        if !auth.signed_headers.iter().any(|h| h == required) {
            return Err(SignError::Malformed(format!(
                "SignedHeaders must include {required}"
            )));
        }
    }
    let date = header(parts, "x-sdk-date")
        .ok_or_else(|| SignError::Malformed("X-Sdk-Date is missing".to_owned()))?;
    let ts = parse_sdk_date(date)
        .ok_or_else(|| SignError::Malformed("X-Sdk-Date must be YYYYMMDDTHHMMSSZ".to_owned()))?;
    let skew = ts - now_unix;
    if skew.abs() > CLOCK_SKEW_SECS {
        return Err(SignError::Expired { skew_secs: skew });
    }
    if !parts.body.is_empty() {
        if let Some(claimed) = header(parts, "x-sdk-content-sha256") {
            if !claimed.trim().eq_ignore_ascii_case(&sha256_hex(parts.body)) {
                return Err(SignError::PayloadMismatch);
            }
        }
    }
    let expected = sign(parts, &auth.signed_headers, secret);
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SignError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_dates_parse_to_unix_seconds() {
        assert_eq!(parse_sdk_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_sdk_date("20261122T140556Z"), Some(1_795_356_356));
        assert_eq!(parse_sdk_date("2026-11-22T14:05:56Z"), None);
        assert_eq!(parse_sdk_date("20261322T140556Z"), None);
    }

    #[test]
    fn path_segments_are_reencoded() {
        assert_eq!(pct_decode("a%20b"), "a b");
        assert_eq!(pct_decode("100%"), "100%");
    }
}
