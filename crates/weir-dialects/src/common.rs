//! Transport plumbing shared by the dialects: request ids, digests and
//! HMACs, constant-time comparison, a replay guard, JSON parsing that names
//! the offending field. No domain rule lives here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest request body any dialect accepts (the native API's limit).
pub const BODY_LIMIT: usize = 1 << 20;

/// How far a signed timestamp may be from our clock (Alibaba and Huawei
/// use the same 15 minutes).
pub const CLOCK_SKEW_SECS: i64 = 15 * 60;

/// A fresh request id in the upper-case UUID form the clouds print.
pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string().to_uppercase()
}

/// Seconds since the Unix epoch, for verifiers that take an injected now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding: unreserved characters kept, the rest `%XX`.
pub fn pct(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (Aliyun's signature v1).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Unix seconds of a UTC civil date and time (Howard Hinnant's
/// days-from-civil), so date headers need no date crate.
pub fn unix_from_civil(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

/// `YYYY-MM-DDTHH:MM:SSZ` (Aliyun `Timestamp`, `x-acs-date`) as Unix
/// seconds.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(unix_from_civil(y, m, d, hh, mm, ss))
}

/// The `key=value` fields of an `Authorization: SCHEME k=v, k=v` header
/// (the Zenlayer, Huawei and Alibaba signatures all use this form), or
/// why it is not one.
pub fn auth_fields<'a>(header: &'a str, scheme: &str) -> Result<Vec<(&'a str, &'a str)>, String> {
    let rest = header
        .strip_prefix(scheme)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| format!("the scheme must be {scheme}"))?;
    Ok(rest
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .collect())
}

/// The value of a required `name` among `fields`.
pub fn auth_field<'a>(fields: &[(&'a str, &'a str)], name: &str) -> Result<&'a str, String> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("Authorization lacks {name}"))
}

/// `address:port`, or the address alone for a backend without a port.
pub fn endpoint(address: std::net::IpAddr, port: u16) -> String {
    if port == 0 {
        address.to_string()
    } else {
        std::net::SocketAddr::new(address, port).to_string()
    }
}

/// A header's value among lower-case `(name, value)` pairs.
pub fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Sorted `k=v` pairs joined with `&`: the canonical query of the
/// Huawei and Alibaba ACS3 signatures (each encodes the pairs its way
/// first).
pub fn canonical_query(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `name:value\n` for each signed header, values trimmed.
pub fn canonical_headers(headers: &[(String, String)], signed: &[String]) -> String {
    signed
        .iter()
        .map(|name| {
            format!(
                "{name}:{}\n",
                header_value(headers, name).unwrap_or_default().trim()
            )
        })
        .collect()
}

/// Compares in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Remembers what it has seen for `window`, so a signed request (or a
/// nonce) can be used once. Memory is bounded: past `capacity` entries the
/// expired ones are dropped, and if all are live the oldest go first.
pub struct ReplayGuard {
    window: Duration,
    capacity: usize,
    seen: Mutex<HashMap<[u8; 32], Instant>>,
}

impl ReplayGuard {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            capacity: 100_000,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the guard is on at all.
    pub fn enabled(&self) -> bool {
        !self.window.is_zero()
    }

    /// True the first time `key` is offered within the window.
    pub fn first_use(&self, key: &[u8], now: Instant) -> bool {
        if !self.enabled() {
            return true;
        }
        let digest: [u8; 32] = Sha256::digest(key).into();
        let mut seen = self.seen.lock().expect("replay guard lock");
        if let Some(at) = seen.get(&digest) {
            if now.duration_since(*at) < self.window {
                return false;
            }
        }
        if seen.len() >= self.capacity {
            let window = self.window;
            seen.retain(|_, at| now.duration_since(*at) < window);
            if seen.len() >= self.capacity {
                let mut ages: Vec<Instant> = seen.values().copied().collect();
                ages.sort_unstable();
                let cutoff = ages[ages.len() / 2];
                seen.retain(|_, at| *at > cutoff);
            }
        }
        seen.insert(digest, now);
        true
    }
}

/// A port or weight that may arrive as a number or a numeric string (the
/// Huawei page sends `"protocol_port": "88"`, Aliyun's SDK passes
/// `BackendServers` weights through as the caller wrote them).
#[derive(Debug, Clone, Copy)]
pub struct Lenient(pub i64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_i64()
                .map(Lenient)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer"))),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Lenient)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer"))),
            other => Err(serde::de::Error::custom(format!(
                "{other} is not an integer"
            ))),
        }
    }
}

/// Why a JSON body could not be read, with the path of the bad field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonProblem {
    /// A required field is absent.
    Missing(String),
    /// The body is not JSON, or a field has the wrong type or value.
    Invalid(String),
}

/// Parses a JSON body; errors name the field (`backendServers[2].weight`).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonProblem> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        if let Some(rest) = text.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or_default();
            let full = if path == "." || path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            JsonProblem::Missing(full)
        } else if path == "." || path.is_empty() {
            JsonProblem::Invalid(format!("the body is not a valid request: {text}"))
        } else {
            JsonProblem::Invalid(format!("{path}: {text}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_guard_refuses_a_second_use_within_the_window_only() {
        let guard = ReplayGuard::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(guard.first_use(b"req", t0));
        assert!(!guard.first_use(b"req", t0 + Duration::from_secs(59)));
        assert!(guard.first_use(b"req", t0 + Duration::from_secs(61)));
        assert!(guard.first_use(b"other", t0));
    }

    #[test]
    fn a_zero_window_turns_the_guard_off() {
        let guard = ReplayGuard::new(Duration::ZERO);
        let t0 = Instant::now();
        assert!(guard.first_use(b"req", t0));
        assert!(guard.first_use(b"req", t0));
    }

    #[test]
    fn json_problems_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Item {
            weight: i64,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Req {
            items: Vec<Item>,
        }
        let missing = parse_json::<Req>(br#"{"items":[{}]}"#).unwrap_err();
        assert_eq!(missing, JsonProblem::Missing("items[0].weight".into()));
        let JsonProblem::Invalid(text) =
            parse_json::<Req>(br#"{"items":[{"weight":"x"}]}"#).unwrap_err()
        else {
            panic!("expected an invalid-field problem");
        };
        assert!(text.starts_with("items[0].weight:"), "{text}");
        assert!(matches!(
            parse_json::<Req>(b"{not json"),
            Err(JsonProblem::Invalid(_))
        ));
    }

    #[test]
    fn encodings_and_dates() {
        assert_eq!(pct("a b/c~"), "a%20b%2Fc~");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2026-11-22T14:05:56Z"), Some(1_795_356_356));
        assert_eq!(parse_iso8601("2026-11-22 14:05:56"), None);
    }

    #[test]
    fn hex_and_constant_time_eq() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
