//! Transport plumbing shared by the dialects: request ids, digests and
//! HMACs, constant-time comparison, a replay guard, JSON parsing that names
//! the offending field. No domain rule lives here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
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
    fn hex_and_constant_time_eq() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
