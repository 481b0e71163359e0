//! Normalises what changes between runs so a response body can be compared
//! with a checked-in snapshot: UUIDs become placeholders numbered by first
//! appearance (`[id-3]`, or a label such as `[vm-0]` given in advance), so
//! the relations between ids stay visible; upper-case UUIDs and
//! `req-<uuid>` are request ids; RFC 3339 times are `[timestamp]`; Unix
//! times under known keys are `[unix-seconds]` / `[unix-millis]`; known
//! literals (the server's `host:port`, the access key) get fixed names.
//!
//! Only values matching those patterns are replaced: a value whose format
//! changes (a request id that is no longer a UUID, say) shows up in the
//! snapshot and fails the comparison.

use serde_json::{Map, Value};

/// Keys whose numeric values are Unix times.
const UNIX_TIME_KEYS: &[&str] = &["CreateTime", "CreateTimeStamp"];

/// One run's placeholders; share it across a scripted sequence so an id
/// keeps its name from one snapshot to the next.
#[derive(Default)]
pub struct Redactor {
    /// Literal text and its placeholder, replaced before any pattern.
    literals: Vec<(String, String)>,
    /// Lower-case UUID and its placeholder.
    ids: Vec<(String, String)>,
    numbered: usize,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces every occurrence of `value` with `placeholder`.
    pub fn literal(&mut self, value: &str, placeholder: &str) {
        assert!(!value.is_empty());
        self.literals
            .push((value.to_owned(), placeholder.to_owned()));
        // Longest first, so a literal inside another one cannot win.
        self.literals
            .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    }

    /// Names the UUID `id` `[name]` instead of a number; it must not have
    /// appeared yet.
    pub fn label(&mut self, id: &str, name: &str) {
        let id = id.to_ascii_lowercase();
        assert!(is_uuid(id.as_bytes()), "{id} is not a UUID");
        assert!(
            self.ids.iter().all(|(known, _)| *known != id),
            "{id} already has a placeholder"
        );
        self.ids.push((id, format!("[{name}]")));
    }

    fn id(&mut self, uuid: &str) -> String {
        if let Some((_, name)) = self.ids.iter().find(|(k, _)| k == uuid) {
            return name.clone();
        }
        self.numbered += 1;
        let name = format!("[id-{}]", self.numbered);
        self.ids.push((uuid.to_owned(), name.clone()));
        name
    }

    /// The text with every changing part replaced.
    pub fn text(&mut self, text: &str) -> String {
        let mut text = text.to_owned();
        for (value, placeholder) in &self.literals {
            text = text.replace(value.as_str(), placeholder);
        }
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            let whole = !hex_at(bytes, i.wrapping_sub(1)) && !hex_at(bytes, i + 36);
            if rest.len() >= 36 && is_uuid(&rest[..36]) && whole {
                let uuid = &text[i..i + 36];
                if uuid.bytes().any(|b| b.is_ascii_uppercase()) || out.ends_with("req-") {
                    out.push_str("[request-id]");
                } else {
                    let name = self.id(uuid);
                    out.push_str(&name);
                }
                i += 36;
            } else if let Some(len) = timestamp_len(rest) {
                out.push_str("[timestamp]");
                i += len;
            } else {
                let c = text[i..].chars().next().expect("inside the text");
                out.push(c);
                i += c.len_utf8();
            }
        }
        out
    }

    /// XML text with every changing part replaced, Unix times included
    /// (`<CreateTimeStamp>…</CreateTimeStamp>`).
    pub fn xml(&mut self, text: &str) -> String {
        let mut text = self.text(text);
        for key in UNIX_TIME_KEYS {
            let open = format!("<{key}>");
            let mut from = 0;
            while let Some(at) = text[from..].find(&open) {
                let start = from + at + open.len();
                let end = start + text[start..].find('<').expect("a closing tag");
                if let Ok(n) = text[start..end].parse::<i64>() {
                    text.replace_range(start..end, unix_time(key, n));
                }
                from = start;
            }
        }
        text
    }

    /// The JSON value with every changing part replaced.
    pub fn json(&mut self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let v = match v {
                        Value::Number(n) if UNIX_TIME_KEYS.contains(&k.as_str()) => {
                            let n = n.as_i64().expect("a Unix time is an integer");
                            Value::String(unix_time(k, n).to_owned())
                        }
                        other => self.json(other),
                    };
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// The placeholder of a Unix time, naming its unit.
fn unix_time(key: &str, n: i64) -> &'static str {
    assert!(n > 1_000_000_000, "{key}: {n} is not a Unix time");
    if n > 100_000_000_000 {
        "[unix-millis]"
    } else {
        "[unix-seconds]"
    }
}

fn hex_at(bytes: &[u8], i: usize) -> bool {
    bytes.get(i).is_some_and(u8::is_ascii_hexdigit)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in one case.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && (b.iter().all(|c| !c.is_ascii_lowercase()) || b.iter().all(|c| !c.is_ascii_uppercase()))
}

/// The length of an RFC 3339 UTC time at the start of `b`:
/// `YYYY-MM-DDThh:mm[:ss[.fff]]Z` (Alibaba prints minutes only).
fn timestamp_len(b: &[u8]) -> Option<usize> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let head = (0..4).all(digit)
        && at(4, b'-')
        && digit(5)
        && digit(6)
        && at(7, b'-')
        && digit(8)
        && digit(9)
        && at(10, b'T')
        && digit(11)
        && digit(12)
        && at(13, b':')
        && digit(14)
        && digit(15);
    if !head {
        return None;
    }
    let mut i = 16;
    if at(i, b':') && digit(i + 1) && digit(i + 2) {
        i += 3;
        if at(i, b'.') && digit(i + 1) {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
    }
    at(i, b'Z').then_some(i + 1)
}

#[test]
fn redactor_numbers_ids_by_first_appearance_and_keeps_the_rest() {
    let mut r = Redactor::new();
    r.literal("127.0.0.1:4242", "[server]");
    r.label("0190a1b2-0000-7000-8000-000000000001", "subnet");
    let text = r.text(
        "http://127.0.0.1:4242/x/0190a1b2-0000-7000-8000-00000000000a?m=0190a1b2-0000-7000-8000-000000000001 \
         0190A1B2-0000-7000-8000-00000000000B req-0190a1b2-0000-7000-8000-00000000000c \
         2026-11-24T15:04:05.123Z 2026-11-24T15:04Z 2026-11-24 0190a1b2-0000-7000-8000-00000000000a",
    );
    assert_eq!(
        text,
        "http://[server]/x/[id-1]?m=[subnet] [request-id] req-[request-id] \
         [timestamp] [timestamp] 2026-11-24 [id-1]"
    );
    let v = r.json(&serde_json::json!({"CreateTime": 1_795_356_355, "CreateTimeStamp": 1_795_356_355_000_i64, "n": 7}));
    assert_eq!(
        v,
        serde_json::json!({"CreateTime": "[unix-seconds]", "CreateTimeStamp": "[unix-millis]", "n": 7})
    );
    assert_eq!(
        r.xml("<a><CreateTimeStamp>1795356355000</CreateTimeStamp><n>7</n></a>"),
        "<a><CreateTimeStamp>[unix-millis]</CreateTimeStamp><n>7</n></a>"
    );
}
