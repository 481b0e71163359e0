//! BIRD 2, the routing daemon an `anycast` node announces its VIPs
//! through: the include file Weir writes for it and the replies of its
//! control socket. Pure: `weir`'s `cluster::bird` writes the file and
//! talks to the socket.
//!
//! The file defines one `direct` protocol, [`PROTOCOL`], on the VIP
//! interface, importing exactly the VIPs announced. A direct route lives
//! only while its address is on the interface, and Weir adds each VIP with
//! a kernel lifetime it refreshes: if Weir dies (`kill -9`) the address
//! runs out and BIRD withdraws the route by itself, so a dead data plane
//! is never announced for longer than the lifetime.
//!
//! The control protocol is line based: `DDDD-text` continues a reply,
//! `DDDD text` ends it, ` text` continues the previous code; codes 0xxx
//! are fine, 8xxx and 9xxx are errors (BIRD's `doc/reply_codes`).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::IpAddr;

/// The name of the protocol the include file defines; the operator's BGP
/// export filter names it (`export where proto = "weir_anycast";`).
pub const PROTOCOL: &str = "weir_anycast";

/// The longest reply read: `configure` answers in two lines; anything
/// this long is not BIRD.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Whether `name` can be written into the file as an interface: BIRD reads
/// it as a pattern inside a string, so quotes, backslashes and the
/// wildcards `*` and `?` are refused, as is anything not printable.
pub fn check_interface(name: &str) -> Result<(), String> {
    let ok = (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot be named in BIRD's configuration: letters, digits and . _ - @ + only"
        ))
    }
}

/// The include file announcing `vips` from `interface`. The same set
/// renders the same bytes (sorted), so an unchanged set is never
/// reconfigured.
pub fn render(interface: &str, vips: &BTreeSet<IpAddr>) -> String {
    let mut out = String::new();
    out.push_str("# Written by Weir (cluster.vip_mode = \"anycast\"): replaced whole at each change, do not edit.\n");
    let _ = writeln!(out, "protocol direct {PROTOCOL} {{");
    let _ = writeln!(out, "  interface \"{interface}\";");
    for (family, v4) in [("ipv4", true), ("ipv6", false)] {
        let nets: Vec<String> = vips
            .iter()
            .filter(|v| v.is_ipv4() == v4)
            .map(|v| format!("{v}/{}", if v4 { 32 } else { 128 }))
            .collect();
        if nets.is_empty() {
            let _ = writeln!(out, "  {family} {{ import none; export none; }};");
        } else {
            let _ = writeln!(
                out,
                "  {family} {{ import where net ~ [ {} ]; export none; }};",
                nets.join(", ")
            );
        }
    }
    out.push_str("}\n");
    out
}

/// A whole reply of the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The code of the last line.
    pub code: u16,
    /// The text of every line, in order.
    pub lines: Vec<String>,
}

impl Reply {
    pub fn is_error(&self) -> bool {
        self.code >= 8000
    }

    /// The text of the last line (BIRD's verdict).
    pub fn text(&self) -> &str {
        self.lines.last().map_or("", String::as_str)
    }

    /// Whether a `configure` was taken: reconfigured, in progress, queued
    /// behind another, or confirmed. Anything else (a configuration
    /// error, "ignored, shutting down") is not.
    pub fn configured(&self) -> bool {
        matches!(self.code, 3 | 4 | 5 | 18)
    }
}

/// Why bytes are not a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A line is not `DDDD-`, `DDDD ` or ` ` followed by text, or is not
    /// UTF-8, or a continuation opens the reply.
    Malformed,
    /// Longer than [`MAX_REPLY_BYTES`] without ending.
    TooLong,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "not a BIRD control-socket reply",
            Self::TooLong => "BIRD's reply is too long",
        })
    }
}

/// Reads one reply from the front of `buf`: `Ok(None)` until its last
/// line has arrived, then the reply and how many bytes it took.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut lines = Vec::new();
    let mut code: Option<u16> = None;
    let mut at = 0;
    while let Some(end) = buf[at..].iter().position(|&b| b == b'\n') {
        let line = std::str::from_utf8(&buf[at..at + end]).map_err(|_| ReplyError::Malformed)?;
        at += end + 1;
        if at > MAX_REPLY_BYTES {
            return Err(ReplyError::TooLong);
        }
        if let Some(text) = line.strip_prefix(' ') {
            // A continuation of the previous line's code.
            if code.is_none() {
                return Err(ReplyError::Malformed);
            }
            lines.push(text.to_owned());
            continue;
        }
        let (digits, rest) = line.split_at_checked(4).ok_or(ReplyError::Malformed)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReplyError::Malformed);
        }
        let this: u16 = digits.parse().map_err(|_| ReplyError::Malformed)?;
        code = Some(this);
        match rest.as_bytes().first() {
            Some(b'-') => lines.push(rest[1..].to_owned()),
            Some(b' ') => {
                lines.push(rest[1..].to_owned());
                return Ok(Some((Reply { code: this, lines }, at)));
            }
            // `DDDD` alone ends a reply too (BIRD writes `0000 `, but a
            // bare code is as clear).
            None => {
                lines.push(String::new());
                return Ok(Some((Reply { code: this, lines }, at)));
            }
            Some(_) => return Err(ReplyError::Malformed),
        }
    }
    if buf.len() > MAX_REPLY_BYTES {
        return Err(ReplyError::TooLong);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_file_imports_exactly_the_announced_vips() {
        let vips = BTreeSet::from([
            IpAddr::V4(Ipv4Addr::new(198, 18, 1, 7)),
            IpAddr::V4(Ipv4Addr::new(198, 18, 1, 3)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ]);
        let text = render("lo", &vips);
        assert!(text.contains("protocol direct weir_anycast {"), "{text}");
        assert!(text.contains("interface \"lo\";"), "{text}");
        assert!(
            text.contains(
                "ipv4 { import where net ~ [ 198.18.1.3/32, 198.18.1.7/32 ]; export none; };"
            ),
            "{text}"
        );
        assert!(
            text.contains("ipv6 { import where net ~ [ 2001:db8::1/128 ]; export none; };"),
            "{text}"
        );
    }

    #[test]
    fn nothing_announced_imports_nothing() {
        let text = render("vip0", &BTreeSet::new());
        assert!(
            text.contains("ipv4 { import none; export none; };"),
            "{text}"
        );
        assert!(
            text.contains("ipv6 { import none; export none; };"),
            "{text}"
        );
        assert!(!text.contains('['), "{text}");
    }

    #[test]
    fn interface_names_that_would_escape_the_string_are_refused() {
        for bad in [
            "",
            "a\"b",
            "a\\b",
            "vip*",
            "v?",
            "a b",
            "sixteen-chars-xx",
            "x\n",
        ] {
            assert!(check_interface(bad).is_err(), "{bad:?}");
        }
        for good in ["lo", "vip0", "eth0.100", "br-lan", "wg_0"] {
            assert!(check_interface(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn replies_end_at_a_code_and_a_space() {
        let buf = b"0002-Reading configuration from /etc/bird.conf\n0003 Reconfigured\nrest";
        let (reply, used) = parse_reply(buf).unwrap().unwrap();
        assert_eq!(reply.code, 3);
        assert!(reply.configured() && !reply.is_error());
        assert_eq!(reply.text(), "Reconfigured");
        assert_eq!(&buf[used..], b"rest");
    }

    #[test]
    fn an_unfinished_reply_waits() {
        assert_eq!(parse_reply(b"0002-Reading configuration\n").unwrap(), None);
        assert_eq!(parse_reply(b"0003 Reconf").unwrap(), None);
        assert_eq!(parse_reply(b"").unwrap(), None);
    }

    #[test]
    fn errors_and_continuations() {
        let buf = b"0002-Reading configuration from b.conf\n8002 /etc/weir.conf:6:1 syntax error\n";
        let (reply, _) = parse_reply(buf).unwrap().unwrap();
        assert!(reply.is_error() && !reply.configured());
        assert_eq!(reply.text(), "/etc/weir.conf:6:1 syntax error");
        let buf = b"1002-weir_anycast Direct up\n more of it\n0000 \n";
        let (reply, _) = parse_reply(buf).unwrap().unwrap();
        assert_eq!(reply.code, 0);
        assert_eq!(reply.lines, ["weir_anycast Direct up", "more of it", ""]);
    }

    #[test]
    fn garbage_is_not_a_reply() {
        for bad in [
            &b"hello\n"[..],
            b" leading continuation\n",
            b"12x4 no\n",
            b"0003Xno\n",
            b"\xff\xfe\n",
        ] {
            assert_eq!(parse_reply(bad), Err(ReplyError::Malformed), "{bad:?}");
        }
        let long = vec![b'0'; MAX_REPLY_BYTES + 1];
        assert_eq!(parse_reply(&long), Err(ReplyError::TooLong));
        let mut lines = Vec::new();
        while lines.len() <= MAX_REPLY_BYTES {
            lines.extend_from_slice(b"1002-row\n");
        }
        assert_eq!(parse_reply(&lines), Err(ReplyError::TooLong));
    }

    proptest! {
        /// Arbitrary bytes never panic, and a reply never claims more
        /// bytes than were given.
        #[test]
        fn any_bytes_are_read_safely(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(Some((reply, used))) = parse_reply(&bytes) {
                prop_assert!(used <= bytes.len());
                prop_assert!(!reply.lines.is_empty());
            }
        }
    }
}
