//! Cookie session persistence (Octavia's HTTP_COOKIE and APP_COOKIE):
//! which cookie a listener reads, what key its value is, and the cookie
//! Weir inserts.
//!
//! HTTP_COOKIE: Weir's own cookie ([`STICKY_COOKIE`]) carries the
//! backend's opaque token (16 hex digits of a hash of pool and backend id,
//! never its address); a response from another backend than the one it
//! named (or to a request without it) sets it anew. APP_COOKIE: the
//! application's cookie value is hashed onto the pool's Maglev table, so
//! equal values meet on one backend while it is eligible. Either way a
//! client can only choose among the pool's eligible backends: the key is
//! looked up in the selection snapshot, which holds nothing else.
//!
//! The request's cookies go to the backend as sent, Weir's among them.

use weir_core::model::{Persistence, STICKY_COOKIE};

use crate::balance;
use crate::pool::Sticky;

/// The cookie a listener with `persistence` reads; `None` when it reads
/// none (source IP is the scheduler's business).
pub(super) fn cookie_name(persistence: &Persistence) -> Option<&str> {
    match persistence {
        Persistence::SourceIp => None,
        Persistence::HttpCookie => Some(STICKY_COOKIE),
        Persistence::AppCookie { cookie_name } => Some(cookie_name),
    }
}

/// The value of the first cookie called `name` in one `Cookie` field
/// (`a=1; b=2`, RFC 6265 §5.4; names compare exactly). Quotes around a
/// value are part of how it was sent, not of the value.
pub(super) fn find<'a>(field: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    field.split(|b| *b == b';').find_map(|pair| {
        let pair = trim(pair);
        let eq = pair.iter().position(|b| *b == b'=')?;
        (trim(&pair[..eq]) == name).then(|| {
            let value = trim(&pair[eq + 1..]);
            match value {
                [b'"', inner @ .., b'"'] => inner,
                _ => value,
            }
        })
    })
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The key the cookie's `value` is under `persistence`; `None` when it
/// names nothing (a forged or malformed token picks as if absent).
pub(super) fn key(persistence: &Persistence, value: &[u8]) -> Option<Sticky> {
    match persistence {
        Persistence::SourceIp => None,
        Persistence::HttpCookie => parse_token(value).map(Sticky::Backend),
        Persistence::AppCookie { .. } => Some(Sticky::Hash(balance::hash(value, 4))),
    }
}

fn parse_token(value: &[u8]) -> Option<u64> {
    // from_str_radix alone would take a sign ("+123…").
    if value.len() != 16 || !value.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    u64::from_str_radix(text, 16).ok()
}

/// The `Set-Cookie` field naming the backend with `token`.
pub(super) fn set_cookie(token: u64) -> Vec<u8> {
    format!("Set-Cookie: {STICKY_COOKIE}={token:016x}; Path=/; HttpOnly\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie_among_others() {
        let field = b"a=1; WEIRSRV=00ff; sid=\"x y\";b=2";
        assert_eq!(find(field, b"WEIRSRV"), Some(&b"00ff"[..]));
        assert_eq!(find(field, b"sid"), Some(&b"x y"[..]));
        assert_eq!(find(field, b"b"), Some(&b"2"[..]));
        // Names compare exactly; a value holding the name is no match.
        assert_eq!(find(field, b"weirsrv"), None);
        assert_eq!(find(b"x=sid=1", b"sid"), None);
        assert_eq!(find(b"sid", b"sid"), None);
        assert_eq!(find(b"sid=", b"sid"), Some(&b""[..]));
    }

    #[test]
    fn a_token_round_trips_and_forgeries_name_nothing() {
        let token = 0x0123_4567_89ab_cdef;
        let field = set_cookie(token);
        let value = &field[b"Set-Cookie: WEIRSRV=".len()..][..16];
        assert_eq!(
            key(&Persistence::HttpCookie, value),
            Some(Sticky::Backend(token))
        );
        for forged in [
            &b""[..],
            b"10.0.0.1:80",
            b"0123456789abcdeg",
            b"123",
            b"+123456789abcdef",
        ] {
            assert_eq!(key(&Persistence::HttpCookie, forged), None);
        }
        let app = Persistence::AppCookie {
            cookie_name: "sid".into(),
        };
        assert_eq!(key(&app, b"u1"), key(&app, b"u1"));
        assert_ne!(key(&app, b"u1"), key(&app, b"u2"));
    }

    proptest::proptest! {
        /// Whatever a client sends in a `Cookie` field, the finder returns
        /// a piece of that field or nothing, and a token parses only from
        /// 16 hex digits.
        #[test]
        fn any_cookie_field_yields_a_piece_of_itself(
            field in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
        ) {
            if let Some(value) = find(&field, &name) {
                let start = value.as_ptr() as usize - field.as_ptr() as usize;
                proptest::prop_assert!(start + value.len() <= field.len());
                proptest::prop_assert!(!value.contains(&b';'));
            }
            if let Some(Sticky::Backend(_)) = key(&Persistence::HttpCookie, &field) {
                proptest::prop_assert!(field.len() == 16 && field.iter().all(u8::is_ascii_hexdigit));
            }
        }
    }
}
