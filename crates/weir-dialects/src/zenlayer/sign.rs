//! `ZC2-HMAC-SHA256`, Zenlayer Cloud API 2.0's request signature, as a pure
//! verifier: the caller passes the request's parts and "now".
//!
//! The SDK signs only the method, `content-type`, `host` and the body hash
//! (never the path or the action), with a timestamp but no nonce. The
//! transport therefore makes each verified signature single-use within
//! its window (`super::single_use`; only the very same `Describe…` may
//! repeat) and parses every action's body strictly, so a captured request
//! replays neither as another action nor on the other service, and a
//! write not even as itself.

use crate::common::{
    auth_field, auth_fields, constant_time_eq, hex, hmac_sha256, sha256_hex, CLOCK_SKEW_SECS,
};

pub const ALGORITHM: &str = "ZC2-HMAC-SHA256";

/// The parts of a request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    pub content_type: &'a str,
    /// The Host header exactly as received (the SDK signs it verbatim).
    pub host: &'a str,
    /// `x-zc-timestamp`: Unix seconds.
    pub timestamp: &'a str,
    pub body: &'a [u8],
}

/// A parsed `Authorization: ZC2-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub signed_headers: String,
    pub signature: String,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    Malformed(String),
    Expired { skew_secs: i64 },
    Mismatch,
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed signature: {why}"),
            Self::Expired { skew_secs } => write!(
                f,
                "x-zc-timestamp is {skew_secs} s away from the server clock (at most {CLOCK_SKEW_SECS} s allowed)"
            ),
            Self::Mismatch => f.write_str("the request signature does not match"),
        }
    }
}

/// Parses the Authorization header of a signed request.
pub fn parse_authorization(header: &str) -> Result<Authorization, SignError> {
    let fields = auth_fields(header, ALGORITHM).map_err(SignError::Malformed)?;
    Ok(Authorization {
        access_key_id: auth_field(&fields, "Credential")
            .map_err(SignError::Malformed)?
            .to_owned(),
        signed_headers: auth_field(&fields, "SignedHeaders")
            .map_err(SignError::Malformed)?
            .to_owned(),
        signature: auth_field(&fields, "Signature")
            .map_err(SignError::Malformed)?
            .to_owned(),
    })
}

/// The canonical request the signature is over.
pub fn canonical_request(parts: &SignedParts<'_>) -> String {
    format!(
        "{}\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        parts.method,
        parts.content_type,
        parts.host,
        sha256_hex(parts.body)
    )
}

/// The string the HMAC is taken of.
pub fn string_to_sign(parts: &SignedParts<'_>) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}",
        parts.timestamp,
        sha256_hex(canonical_request(parts).as_bytes())
    )
}

/// The signature a client with `secret` sends for `parts`.
pub fn sign(parts: &SignedParts<'_>, secret: &str) -> String {
    hex(&hmac_sha256(
        secret.as_bytes(),
        string_to_sign(parts).as_bytes(),
    ))
}

/// Verifies `auth` over `parts` with `secret` at `now_unix`; returns the
/// signed timestamp (Unix seconds), which bounds how long the caller must
/// remember the signature to make it single-use.
pub fn verify(
    parts: &SignedParts<'_>,
    auth: &Authorization,
    secret: &str,
    now_unix: i64,
) -> Result<i64, SignError> {
    if auth.signed_headers != "content-type;host" {
        return Err(SignError::Malformed(
            "SignedHeaders must be content-type;host".to_owned(),
        ));
    }
    let ts: i64 = parts
        .timestamp
        .parse()
        .map_err(|_| SignError::Malformed("x-zc-timestamp must be Unix seconds".to_owned()))?;
    let skew = ts.saturating_sub(now_unix);
    if skew.abs() > CLOCK_SKEW_SECS {
        return Err(SignError::Expired { skew_secs: skew });
    }
    let expected = sign(parts, secret);
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(ts)
    } else {
        Err(SignError::Mismatch)
    }
}
