//! The takeover protocol's messages: what a running `weir serve` and its
//! successor (`weir serve --takeover`) say to each other over the Unix
//! socket in the data directory, and the rules a batch of passed sockets
//! must follow. Pure: the binary moves the bytes and the descriptors.
//!
//! Each message is one record of a `SOCK_SEQPACKET` socket: one line of
//! printable ASCII, at most [`MAX_MESSAGE`] bytes, starting with the
//! protocol name and version, so a record is read whole or refused, and
//! nothing in it is ever an unbounded length or count:
//!
//! ```text
//! WEIR-TAKEOVER 1 HELLO <pid>             successor: hand me your sockets
//! WEIR-TAKEOVER 1 SOCKETS <more|end> <r>  old process, descriptors attached:
//!                                         one role letter per descriptor
//!                                         (`a` the API, `d` a data-plane
//!                                         listener), `-` for none
//! WEIR-TAKEOVER 1 READY                   successor: I serve; stop accepting
//! WEIR-TAKEOVER 1 DRAINING <ms>           old process: draining, exiting
//!                                         within <ms>
//! WEIR-TAKEOVER 1 REFUSED <reason>        old process: no takeover now
//! ```

use std::fmt;

/// The protocol's name, first on every record.
pub const MAGIC: &str = "WEIR-TAKEOVER";
/// The version this build speaks; a record of another is refused.
pub const VERSION: u32 = 1;
/// The largest record either side reads; a longer one is truncated by the
/// kernel and refused.
pub const MAX_MESSAGE: usize = 1024;
/// Descriptors passed with one record (the kernel's own cap is 253).
pub const MAX_FDS_PER_MESSAGE: usize = 200;
/// Descriptors one takeover may pass in all: well past any deployment's
/// listening sockets, and far below the successor's descriptor limit.
pub const MAX_SOCKETS: usize = 65_536;
/// The longest reason a refusal carries.
const MAX_REASON: usize = 200;

/// What a passed socket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The API's listening socket.
    Api,
    /// A data-plane listener's socket (TCP listening or UDP), matched by
    /// the successor on its own address and type.
    Data,
}

impl Role {
    fn letter(self) -> char {
        match self {
            Role::Api => 'a',
            Role::Data => 'd',
        }
    }
}

/// One record of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Hello { pid: u32 },
    Sockets { last: bool, roles: Vec<Role> },
    Ready,
    Draining { deadline_ms: u64 },
    Refused { reason: String },
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    TooLong,
    NotText,
    NotWeir,
    Version(String),
    Unknown(String),
    Malformed(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::TooLong => write!(f, "message longer than {MAX_MESSAGE} bytes"),
            WireError::NotText => f.write_str("message is not one line of printable ASCII"),
            WireError::NotWeir => f.write_str("not a Weir takeover message"),
            WireError::Version(v) => write!(f, "takeover protocol version {v:?} is not {VERSION}"),
            WireError::Unknown(kind) => write!(f, "unknown message {kind:?}"),
            WireError::Malformed(what) => write!(f, "malformed message: {what}"),
        }
    }
}

impl std::error::Error for WireError {}

impl Message {
    /// The record's bytes (no newline: a record is a whole message).
    pub fn encode(&self) -> Vec<u8> {
        let body = match self {
            Message::Hello { pid } => format!("HELLO {pid}"),
            Message::Sockets { last, roles } => {
                let roles: String = if roles.is_empty() {
                    "-".to_owned()
                } else {
                    roles.iter().map(|r| r.letter()).collect()
                };
                format!("SOCKETS {} {roles}", if *last { "end" } else { "more" })
            }
            Message::Ready => "READY".to_owned(),
            Message::Draining { deadline_ms } => format!("DRAINING {deadline_ms}"),
            Message::Refused { reason } => format!("REFUSED {}", clean_reason(reason)),
        };
        format!("{MAGIC} {VERSION} {body}").into_bytes()
    }

    /// Reads one record, refusing anything but exactly what
    /// [`Message::encode`] writes.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(WireError::TooLong);
        }
        if !bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
            return Err(WireError::NotText);
        }
        // Printable ASCII is UTF-8.
        let text = std::str::from_utf8(bytes).map_err(|_| WireError::NotText)?;
        let mut words = text.split(' ');
        if words.next() != Some(MAGIC) {
            return Err(WireError::NotWeir);
        }
        match words.next() {
            Some(v) if v == VERSION.to_string() => {}
            other => return Err(WireError::Version(other.unwrap_or("").to_owned())),
        }
        let kind = words.next().unwrap_or("");
        let message = match kind {
            "HELLO" => Message::Hello {
                pid: number(words.next(), "HELLO needs a process id")?,
            },
            "SOCKETS" => {
                let last = match words.next() {
                    Some("end") => true,
                    Some("more") => false,
                    _ => return Err(WireError::Malformed("SOCKETS needs more or end")),
                };
                let roles = match words.next() {
                    Some("-") => Vec::new(),
                    Some(letters) if letters.len() <= MAX_FDS_PER_MESSAGE => letters
                        .chars()
                        .map(|c| match c {
                            'a' => Ok(Role::Api),
                            'd' => Ok(Role::Data),
                            _ => Err(WireError::Malformed("a role is a or d")),
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err(WireError::Malformed("too many sockets in one message")),
                    None => return Err(WireError::Malformed("SOCKETS needs roles")),
                };
                Message::Sockets { last, roles }
            }
            "READY" => Message::Ready,
            "DRAINING" => Message::Draining {
                deadline_ms: number(words.next(), "DRAINING needs milliseconds")?,
            },
            "REFUSED" => {
                let reason = text
                    .split_once(" REFUSED ")
                    .map(|(_, r)| r.to_owned())
                    .ok_or(WireError::Malformed("REFUSED needs a reason"))?;
                if reason.is_empty() || reason.len() > MAX_REASON {
                    return Err(WireError::Malformed("a reason is 1 to 200 characters"));
                }
                return Ok(Message::Refused { reason });
            }
            other => return Err(WireError::Unknown(other.chars().take(32).collect())),
        };
        if words.next().is_some() {
            return Err(WireError::Malformed("trailing words"));
        }
        Ok(message)
    }
}

/// A reason as it goes on the wire: printable, one line, bounded.
fn clean_reason(reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .take(MAX_REASON)
        .collect();
    if cleaned.is_empty() {
        "refused".to_owned()
    } else {
        cleaned
    }
}

/// A decimal number of 1 to 19 digits, no sign.
fn number<T: std::str::FromStr>(word: Option<&str>, what: &'static str) -> Result<T, WireError> {
    match word {
        Some(w) if !w.is_empty() && w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()) => {
            w.parse().map_err(|_| WireError::Malformed(what))
        }
        _ => Err(WireError::Malformed(what)),
    }
}

/// The successor's tally of `SOCKETS` records: each record's roles must
/// match the descriptors that came with it, at most one API socket, at
/// most [`MAX_SOCKETS`] in all.
#[derive(Debug, Default)]
pub struct Tally {
    sockets: usize,
    api: bool,
    done: bool,
}

impl Tally {
    /// Counts one record that carried `received` descriptors; `Ok(true)`
    /// once the last record came.
    pub fn record(&mut self, last: bool, roles: &[Role], received: usize) -> Result<bool, String> {
        if self.done {
            return Err("sockets after the last batch".to_owned());
        }
        if roles.len() != received {
            return Err(format!(
                "{} roles named but {received} descriptors received",
                roles.len()
            ));
        }
        for role in roles {
            if *role == Role::Api && std::mem::replace(&mut self.api, true) {
                return Err("two API sockets".to_owned());
            }
        }
        self.sockets += received;
        if self.sockets > MAX_SOCKETS {
            return Err(format!("more than {MAX_SOCKETS} sockets"));
        }
        self.done = last;
        Ok(last)
    }
}

/// Splits `roles` into the records that carry them, at most
/// [`MAX_FDS_PER_MESSAGE`] each, the last marked; at least one record.
pub fn batches(roles: &[Role]) -> Vec<(Message, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + MAX_FDS_PER_MESSAGE).min(roles.len());
        let last = end == roles.len();
        out.push((
            Message::Sockets {
                last,
                roles: roles[start..end].to_vec(),
            },
            start..end,
        ));
        if last {
            return out;
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_as_written() {
        let all = [
            Message::Hello { pid: 4242 },
            Message::Sockets {
                last: false,
                roles: vec![Role::Api, Role::Data, Role::Data],
            },
            Message::Sockets {
                last: true,
                roles: vec![],
            },
            Message::Ready,
            Message::Draining {
                deadline_ms: 30_000,
            },
            Message::Refused {
                reason: "a takeover is already under way".to_owned(),
            },
        ];
        for message in all {
            assert_eq!(Message::decode(&message.encode()), Ok(message));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let cases: &[(&[u8], WireError)] = &[
            (b"", WireError::NotWeir),
            (b"GET / HTTP/1.1", WireError::NotWeir),
            (b"WEIR-TAKEOVER 1 HELLO 1\n", WireError::NotText),
            (b"WEIR-TAKEOVER 1 HELLO \x001", WireError::NotText),
            (b"WEIR-TAKEOVER 2 READY", WireError::Version("2".into())),
            (b"WEIR-TAKEOVER", WireError::Version(String::new())),
            (b"WEIR-TAKEOVER 1 NUKE", WireError::Unknown("NUKE".into())),
            (
                b"WEIR-TAKEOVER 1 HELLO -1",
                WireError::Malformed("HELLO needs a process id"),
            ),
            (
                b"WEIR-TAKEOVER 1 HELLO 99999999999",
                WireError::Malformed("HELLO needs a process id"),
            ),
            (
                b"WEIR-TAKEOVER 1 READY now",
                WireError::Malformed("trailing words"),
            ),
            (
                b"WEIR-TAKEOVER 1 SOCKETS end adx",
                WireError::Malformed("a role is a or d"),
            ),
            (
                b"WEIR-TAKEOVER 1 SOCKETS soon d",
                WireError::Malformed("SOCKETS needs more or end"),
            ),
            (
                b"WEIR-TAKEOVER 1 DRAINING 99999999999999999999",
                WireError::Malformed("DRAINING needs milliseconds"),
            ),
            (b"WEIR-TAKEOVER 1  READY", WireError::Unknown(String::new())),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                Message::decode(bytes).as_ref(),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let long = format!("WEIR-TAKEOVER 1 SOCKETS end {}", "d".repeat(201));
        assert_eq!(
            Message::decode(long.as_bytes()),
            Err(WireError::Malformed("too many sockets in one message"))
        );
        assert_eq!(
            Message::decode(&vec![b'd'; MAX_MESSAGE + 1]),
            Err(WireError::TooLong)
        );
    }

    #[test]
    fn a_reason_is_made_printable_and_bounded() {
        let message = Message::Refused {
            reason: format!("line\nbreak{}", "x".repeat(500)),
        };
        let Ok(Message::Refused { reason }) = Message::decode(&message.encode()) else {
            panic!("a refusal reads back");
        };
        assert!(reason.starts_with("line?break"));
        assert_eq!(reason.len(), MAX_REASON);
    }

    #[test]
    fn batches_carry_every_role_once_and_end_once() {
        for n in [0usize, 1, 199, 200, 201, 450] {
            let roles: Vec<Role> = (0..n)
                .map(|i| if i == 0 { Role::Api } else { Role::Data })
                .collect();
            let mut tally = Tally::default();
            let mut seen = Vec::new();
            let records = batches(&roles);
            for (i, (message, range)) in records.iter().enumerate() {
                let Message::Sockets { last, roles: part } = message else {
                    panic!("batches are SOCKETS records");
                };
                assert!(part.len() <= MAX_FDS_PER_MESSAGE);
                assert_eq!(&roles[range.clone()], part.as_slice());
                assert_eq!(*last, i + 1 == records.len());
                assert_eq!(tally.record(*last, part, part.len()), Ok(*last));
                assert_eq!(Message::decode(&message.encode()).as_ref(), Ok(message));
                seen.extend_from_slice(part);
            }
            assert_eq!(seen, roles);
        }
    }

    #[test]
    fn a_tally_refuses_what_does_not_add_up() {
        let mut tally = Tally::default();
        assert!(tally.record(false, &[Role::Data], 2).is_err());
        let mut tally = Tally::default();
        assert!(tally.record(false, &[Role::Api, Role::Api], 2).is_err());
        let mut tally = Tally::default();
        assert_eq!(tally.record(true, &[], 0), Ok(true));
        assert!(tally.record(true, &[], 0).is_err());
        let mut tally = Tally::default();
        let full = vec![Role::Data; MAX_FDS_PER_MESSAGE];
        let mut refused = false;
        for _ in 0..=MAX_SOCKETS / MAX_FDS_PER_MESSAGE {
            if tally.record(false, &full, full.len()).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "more than MAX_SOCKETS is refused");
    }
}
