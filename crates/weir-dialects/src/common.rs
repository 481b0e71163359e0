//! Transport plumbing shared by the dialects: request ids, digests and
//! HMACs, constant-time comparison, a per-project replay guard, JSON parsing that names
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

/// How much a [`ReplayGuard`] may remember: a table per project, so one
/// tenant's flood fills only its own table and never pushes out another
/// tenant's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayLimits {
    /// Live entries one project may hold; past it (after dropping the
    /// expired ones) that project's new signatures are refused with a
    /// retryable error until its oldest entries expire.
    pub per_project: usize,
    /// Projects with a table at once; a table whose entries have all
    /// expired is dropped to make room, and while every table is live a
    /// project without one is refused (retryable) rather than any live
    /// entry being forgotten.
    pub projects: usize,
}

impl Default for ReplayLimits {
    /// 32,768 live entries per project (a sustained 18 signed requests a
    /// second over Alibaba's 30-minute nonce lifetime, 36 over Zenlayer's
    /// 15 minutes) for each of 1,024 projects. A full table takes about
    /// 1.1 MiB (16-byte entries, hash-table slack included), so the worst
    /// case, every project flooding at once, is about 1.1 GiB per guard; a
    /// quiet project costs nothing.
    fn default() -> Self {
        Self {
            per_project: 32_768,
            projects: 1_024,
        }
    }
}

/// What a [`ReplayGuard`] says of an offered key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Not seen within its lifetime: accepted, and now remembered.
    First,
    /// Seen and not yet expired: refuse as a replay.
    Replayed,
    /// The project's table (or the table of projects) is full of live
    /// entries: refuse, retryably, rather than forget one.
    Full,
}

/// Remembers keys (signatures, nonces) per project until each expires, so
/// a signed request can be used once. Memory is bounded by
/// [`ReplayLimits`], and nothing unexpired is ever evicted: when a table
/// is full the guard answers [`Use::Full`] instead.
pub struct ReplayGuard {
    window: Duration,
    limits: ReplayLimits,
    origin: Instant,
    state: Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    tables: HashMap<String, Table>,
    /// No table can be wholly expired before this (s since `origin`).
    earliest_table_end: u32,
}

/// One project's entries, by 64 bits of the key's SHA-256. A collision
/// can only make a fresh request look used (refused, retryably; about one
/// in 2^48 with a full table), never let a used one through.
struct Table {
    seen: HashMap<[u8; 8], Entry>,
    /// No entry expires before this, so a full table of live entries is
    /// refused without a scan.
    next_expiry: u32,
    /// Every entry has expired at this point.
    last_expiry: u32,
}

impl ReplayGuard {
    /// Entries live `window`; a zero window turns the guard off.
    pub fn new(window: Duration) -> Self {
        Self::with_limits(window, ReplayLimits::default())
    }

    pub fn with_limits(window: Duration, limits: ReplayLimits) -> Self {
        Self {
            window,
            limits,
            origin: Instant::now(),
            state: Mutex::new(GuardState::default()),
        }
    }

    /// Whether the guard is on at all.
    pub fn enabled(&self) -> bool {
        !self.window.is_zero()
    }

    /// Offers `key` of `project`, to be remembered for the guard's window.
    pub fn offer(&self, project: &str, key: &[u8], now: Instant) -> Use {
        self.offer_for(project, key, now, self.window)
    }

    /// Offers `key` of `project`, to be remembered for `lifetime` (at most
    /// the guard's window): a signature need not outlive its timestamp.
    pub fn offer_for(&self, project: &str, key: &[u8], now: Instant, lifetime: Duration) -> Use {
        self.offer_repeatable(project, key, now, lifetime, None)
    }

    /// As [`ReplayGuard::offer_for`], except that a key first offered with
    /// `repeatable: Some(what)` may be offered again with that very `what`
    /// (a read that is safe to run twice, such as the same Describe on the
    /// same service) within its lifetime; offered with anything else, or
    /// first offered without, it is a replay.
    pub fn offer_repeatable(
        &self,
        project: &str,
        key: &[u8],
        now: Instant,
        lifetime: Duration,
        repeatable: Option<&[u8]>,
    ) -> Use {
        if !self.enabled() {
            return Use::First;
        }
        let digest: [u8; 32] = Sha256::digest(key).into();
        let mut short = [0u8; 8];
        short.copy_from_slice(&digest[..8]);
        let now_ms = self.millis(now);
        let expiry_ms = now_ms.saturating_add(millis(lifetime.min(self.window)).max(1));
        let expiry = u32::try_from(expiry_ms.div_ceil(1000)).unwrap_or(u32::MAX);
        // 0 marks a single-use entry; a repeatable one carries 32 bits of
        // what it may repeat as, never 0.
        let repeat = repeatable.map_or(0, |what| {
            let d = Sha256::digest(what);
            u32::from_le_bytes([d[0], d[1], d[2], d[3]]) | 1
        });
        let mut state = self.state.lock().expect("replay guard lock");
        if !state.tables.contains_key(project) {
            if state.tables.len() >= self.limits.projects {
                state.drop_expired_tables(now_ms);
                if state.tables.len() >= self.limits.projects {
                    return Use::Full;
                }
            }
            state.tables.insert(
                project.to_owned(),
                Table {
                    seen: HashMap::new(),
                    next_expiry: u32::MAX,
                    last_expiry: 0,
                },
            );
        }
        let table = state
            .tables
            .get_mut(project)
            .expect("the project's table exists");
        match table.seen.get(&short) {
            Some(entry) if now_ms < u64::from(entry.expiry) * 1000 => {
                return if entry.repeat != 0 && entry.repeat == repeat {
                    Use::First
                } else {
                    Use::Replayed
                };
            }
            Some(_) => {}
            None => {
                if table.seen.len() >= self.limits.per_project {
                    table.drop_expired(now_ms);
                    if table.seen.len() >= self.limits.per_project {
                        return Use::Full;
                    }
                }
            }
        }
        table.seen.insert(short, Entry { expiry, repeat });
        table.next_expiry = table.next_expiry.min(expiry);
        table.last_expiry = table.last_expiry.max(expiry);
        state.earliest_table_end = state.earliest_table_end.min(expiry);
        Use::First
    }

    fn millis(&self, at: Instant) -> u64 {
        millis(at.saturating_duration_since(self.origin))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Clone, Copy)]
struct Entry {
    /// Whole seconds since `origin`, rounded up.
    expiry: u32,
    /// What the entry may be repeated as (0: never).
    repeat: u32,
}

impl GuardState {
    /// Drops the tables whose entries have all expired (only scans when
    /// one can have).
    fn drop_expired_tables(&mut self, now_ms: u64) {
        if now_ms < u64::from(self.earliest_table_end) * 1000 {
            return;
        }
        self.tables
            .retain(|_, t| u64::from(t.last_expiry) * 1000 > now_ms);
        self.earliest_table_end = self
            .tables
            .values()
            .map(|t| t.last_expiry)
            .min()
            .unwrap_or(u32::MAX);
    }
}

impl Table {
    /// Drops expired entries (only scans when one can have expired).
    fn drop_expired(&mut self, now_ms: u64) {
        if now_ms < u64::from(self.next_expiry) * 1000 {
            return;
        }
        self.seen.retain(|_, e| u64::from(e.expiry) * 1000 > now_ms);
        self.next_expiry = self
            .seen
            .values()
            .map(|e| e.expiry)
            .min()
            .unwrap_or(u32::MAX);
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
        assert_eq!(guard.offer("p", b"req", t0), Use::First);
        assert_eq!(
            guard.offer("p", b"req", t0 + Duration::from_secs(59)),
            Use::Replayed
        );
        assert_eq!(
            guard.offer("p", b"req", t0 + Duration::from_secs(61)),
            Use::First
        );
        assert_eq!(guard.offer("p", b"other", t0), Use::First);
        // The same key of another project is that project's own.
        assert_eq!(guard.offer("q", b"req", t0), Use::First);
    }

    #[test]
    fn a_shorter_lifetime_expires_first() {
        let guard = ReplayGuard::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let ten = Duration::from_secs(10);
        assert_eq!(guard.offer_for("p", b"sig", t0, ten), Use::First);
        assert_eq!(
            guard.offer_for("p", b"sig", t0 + ten / 2, ten),
            Use::Replayed
        );
        // Expiries are whole seconds, rounded up.
        let past = t0 + ten + Duration::from_secs(1);
        assert_eq!(guard.offer_for("p", b"sig", past, ten), Use::First);
    }

    #[test]
    fn a_repeatable_key_repeats_only_as_what_it_was() {
        let guard = ReplayGuard::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let life = Duration::from_secs(60);
        let read = Some(b"zlb/DescribeBackends".as_slice());
        let other = Some(b"zlb/DescribeListeners".as_slice());
        assert_eq!(
            guard.offer_repeatable("p", b"s1", t0, life, read),
            Use::First
        );
        assert_eq!(
            guard.offer_repeatable("p", b"s1", t0, life, read),
            Use::First
        );
        assert_eq!(
            guard.offer_repeatable("p", b"s1", t0, life, other),
            Use::Replayed
        );
        assert_eq!(
            guard.offer_repeatable("p", b"s1", t0, life, None),
            Use::Replayed
        );
        assert_eq!(
            guard.offer_repeatable("p", b"s2", t0, life, None),
            Use::First
        );
        assert_eq!(
            guard.offer_repeatable("p", b"s2", t0, life, read),
            Use::Replayed
        );
    }

    #[test]
    fn a_zero_window_turns_the_guard_off() {
        let guard = ReplayGuard::new(Duration::ZERO);
        let t0 = Instant::now();
        assert_eq!(guard.offer("p", b"req", t0), Use::First);
        assert_eq!(guard.offer("p", b"req", t0), Use::First);
    }

    /// The regression of issue 14: one global table whose oldest half was
    /// evicted when full let a flood from project A push out project B's
    /// entry, after which B's request replayed. Flooded at the real
    /// default limits.
    #[test]
    fn one_projects_flood_never_evicts_anothers_entries() {
        let guard = ReplayGuard::new(Duration::from_secs(1800));
        let limits = ReplayLimits::default();
        let t0 = Instant::now();
        assert_eq!(guard.offer("project-b", b"nonce-b", t0), Use::First);
        let mut refused = 0;
        for i in 0..limits.per_project * 7 {
            let t = t0 + Duration::from_millis(i as u64 / 64);
            match guard.offer("project-a", format!("nonce-{i}").as_bytes(), t) {
                Use::First => {}
                Use::Full => refused += 1,
                Use::Replayed => panic!("nonce-{i} was never offered before"),
            }
        }
        assert_eq!(
            refused,
            limits.per_project * 6,
            "A is held to its own table"
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(guard.offer("project-b", b"nonce-b", later), Use::Replayed);
        // B still has room of its own while A is full.
        assert_eq!(guard.offer("project-b", b"nonce-b2", later), Use::First);
        // Once A's entries expire, A is served again.
        let expired = t0 + Duration::from_secs(1900);
        assert_eq!(guard.offer("project-a", b"fresh", expired), Use::First);
    }

    #[test]
    fn the_table_of_projects_is_bounded_without_forgetting_live_entries() {
        let limits = ReplayLimits {
            per_project: 4,
            projects: 2,
        };
        let guard = ReplayGuard::with_limits(Duration::from_secs(60), limits);
        let t0 = Instant::now();
        assert_eq!(guard.offer("a", b"k", t0), Use::First);
        assert_eq!(guard.offer("b", b"k", t0), Use::First);
        assert_eq!(guard.offer("c", b"k", t0), Use::Full);
        assert_eq!(guard.offer("a", b"k", t0), Use::Replayed);
        assert_eq!(guard.offer("b", b"k", t0), Use::Replayed);
        // Once a and b have nothing live left, their tables make room.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(guard.offer("c", b"k", later), Use::First);
        assert_eq!(guard.offer("c", b"k", later), Use::Replayed);
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
