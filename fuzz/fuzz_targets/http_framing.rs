//! The HTTP/1.1 framing rules as properties, on raw client bytes through
//! `weir_dataplane::http::fuzzing`: a request head Weir accepts is
//! rewritten into one canonical head (parsed again it means the same, and
//! a second rewrite changes nothing), with one framing field at most and
//! nothing the client's `Connection` named; a body is relayed to exactly
//! its end, however the reads split it, and a chunked one re-encodes to
//! chunks an independent decoder reads back to the same payload.
//!
//! Input: two settings bytes, then what the client sends. Byte 0: bit 0
//! `X-Forwarded-For` append, bits 1-3 the read size, bits 4-5 the field
//! cap, bit 6 what follows the first request and its body (a backend's
//! response to it, or more pipelined requests). Byte 1: the head cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_dataplane::http::fuzzing::{self, Framing, Relay, Request};
use weir_dataplane::http::{ForwardedFor, HttpSettings};

const CLIENT: &str = "192.0.2.7";
const READ_SIZES: [usize; 8] = [1, 2, 3, 5, 16, 100, 1024, 1 << 20];
const MAX_HEADERS: [usize; 4] = [100, 3, 16, 1024];
const MAX_HEAD_BYTES: [usize; 4] = [16 * 1024, 64, 300, 4096];
/// Fields Weir writes itself, whatever the client's `Connection` named.
const WEIRS_OWN: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-request-id",
];
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "proxy-authorization",
];

fuzz_target!(|data: &[u8]| {
    let [flags, caps, wire @ ..] = data else {
        return;
    };
    let settings = HttpSettings {
        forwarded_for: if flags & 1 == 1 {
            ForwardedFor::Append
        } else {
            ForwardedFor::Replace
        },
        max_headers: MAX_HEADERS[usize::from(flags >> 4) & 3],
        max_head_bytes: MAX_HEAD_BYTES[usize::from(*caps) & 3],
        ..HttpSettings::default()
    };
    let read_size = READ_SIZES[usize::from(flags >> 1) & 7];
    let response_follows = flags & 0x40 != 0;
    let mut rest = wire.to_vec();
    for _ in 0..4 {
        let request = match fuzzing::parse_request(&rest, &settings, CLIENT) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(status) => {
                assert!(status == 400 || status == 431, "refused with {status}");
                return;
            }
        };
        check_request(&rest, &request, &settings);
        let body = rest[request.used..].to_vec();
        let Some(left) = check_body(&body, request.framing(), false, &settings, read_size) else {
            return;
        };
        rest = left;
        if response_follows {
            check_response(&rest, &request, read_size);
            return;
        }
    }
});

/// One head, as the raw bytes say it independently of Weir's parser.
struct Reading {
    method: String,
    http10: bool,
    fields: Vec<(String, Vec<u8>)>,
}

fn read_independently(buf: &[u8], used: usize) -> Reading {
    let mut fields = [httparse::EMPTY_HEADER; 1024];
    let mut req = httparse::Request::new(&mut fields);
    let status = req
        .parse(buf)
        .expect("httparse agrees the head is well formed");
    assert_eq!(
        status,
        httparse::Status::Complete(used),
        "the head ends where httparse says"
    );
    Reading {
        method: req.method.unwrap_or_default().to_owned(),
        http10: req.version == Some(0),
        fields: req
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect(),
    }
}

fn named(fields: &[(String, Vec<u8>)], name: &str) -> Vec<Vec<u8>> {
    fields
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect()
}

fn tokens(values: &[Vec<u8>]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(|b| *b == b','))
        .map(|t| {
            String::from_utf8_lossy(t)
                .trim_matches([' ', '\t'])
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn check_request(buf: &[u8], request: &Request, settings: &HttpSettings) {
    assert!(request.used > 0 && request.used <= buf.len());
    let original = read_independently(buf, request.used);
    // Framing read independently: one reading only, or refused.
    let te = named(&original.fields, "transfer-encoding");
    let cl = named(&original.fields, "content-length");
    let hosts = named(&original.fields, "host").len();
    assert!(
        te.len() + cl.len() <= 1,
        "accepted with {} framing fields",
        te.len() + cl.len()
    );
    assert!(
        hosts == 1 || (hosts == 0 && original.http10),
        "accepted with {hosts} Host fields"
    );
    let expected = if let Some(v) = te.first() {
        assert!(v.eq_ignore_ascii_case(b"chunked") && !original.http10);
        Framing::Chunked
    } else if let Some(v) = cl.first() {
        assert!(!v.is_empty() && v.iter().all(u8::is_ascii_digit));
        Framing::Length(std::str::from_utf8(v).unwrap().parse().unwrap())
    } else {
        Framing::None
    };
    assert_eq!(request.framing(), expected);
    let idempotent = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]
        .iter()
        .any(|m| original.method.eq_ignore_ascii_case(m));
    assert_eq!(request.idempotent(), idempotent);
    let connection = tokens(&named(&original.fields, "connection"));
    let close = connection.iter().any(|t| t == "close");
    let keep = connection.iter().any(|t| t == "keep-alive");
    assert_eq!(request.keep_alive(), !close && (!original.http10 || keep));
    // A WebSocket handshake (and only one) goes on as an upgrade: HTTP/1.1
    // GET, Connection naming upgrade, an Upgrade naming websocket, no body
    // (with a body it must have been refused).
    let websocket = tokens(&named(&original.fields, "upgrade"))
        .iter()
        .any(|t| t == "websocket");
    let asks = connection.iter().any(|t| t == "upgrade") && websocket && !original.http10;
    assert!(!(asks && expected != Framing::None && expected != Framing::Length(0)), "an upgrade with a body accepted");
    assert_eq!(request.upgrade(), asks && original.method == "GET");

    // The rewritten head: CRLF lines, nothing bare inside one.
    let out = request.bytes();
    assert!(
        out.ends_with(b"\r\n\r\n"),
        "rewritten head not ended by CRLF CRLF"
    );
    let lines: Vec<&[u8]> = out[..out.len() - 4].split(|b| *b == b'\n').collect();
    for line in &lines {
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            !body.contains(&b'\r'),
            "bare CR in {:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert!(
        out[..out.len() - 2]
            .windows(2)
            .filter(|w| w[1] == b'\n')
            .all(|w| w[0] == b'\r'),
        "bare LF"
    );
    let again = read_independently(out, out.len());
    let framing_fields = again
        .fields
        .iter()
        .filter(|(n, _)| n == "content-length" || n == "transfer-encoding")
        .count();
    assert!(
        framing_fields <= 1,
        "{framing_fields} framing fields written"
    );
    for (name, value) in &again.fields {
        if request.upgrade() && (name == "connection" || name == "upgrade") {
            // Weir's own two fields, exactly.
            assert!(value == b"upgrade" || value == b"websocket", "{name} forwarded as {value:?}");
            continue;
        }
        assert!(
            !HOP_BY_HOP.contains(&name.as_str()),
            "hop-by-hop {name} forwarded"
        );
        assert!(
            !connection.contains(name) || WEIRS_OWN.contains(&name.as_str()),
            "{name} forwarded though Connection named it"
        );
    }

    // Parsed again, with room for what Weir added: the same meaning.
    let roomy = HttpSettings {
        max_head_bytes: usize::MAX,
        max_headers: 1024,
        ..settings.clone()
    };
    let reparsed = match fuzzing::parse_request(out, &roomy, CLIENT) {
        Ok(Some(r)) => r,
        other => panic!(
            "rewritten head not accepted again ({:?}): {:?}",
            other.err(),
            String::from_utf8_lossy(out)
        ),
    };
    assert_eq!(reparsed.used, out.len());
    assert_eq!(reparsed.framing(), request.framing());
    assert_eq!(reparsed.idempotent(), request.idempotent());
    assert_eq!(reparsed.is_head(), request.is_head());
    assert_eq!(reparsed.request_id(), request.request_id());
    assert_eq!(reparsed.upgrade(), request.upgrade());
    // Connection is hop-by-hop: the backend hop is always kept open, the
    // client's own keep-alive is decided above.
    assert!(reparsed.keep_alive() && !reparsed.http10() && !reparsed.expect_continue());
    if settings.forwarded_for == ForwardedFor::Replace {
        assert_eq!(reparsed.bytes(), out, "a second rewrite changed the head");
    }
}

/// Relays the body at the front of `input`; `None` when it was refused,
/// else what follows it.
fn check_body(
    input: &[u8],
    framing: Framing,
    dechunk: bool,
    settings: &HttpSettings,
    read_size: usize,
) -> Option<Vec<u8>> {
    let how = Relay {
        framing,
        dechunk,
        max_trailer_bytes: settings.max_head_bytes,
        max_trailers: settings.max_headers,
        read_size,
    };
    let relayed = fuzzing::relay(input, how);
    // Where the reads split the input must not matter.
    let bytewise = fuzzing::relay(
        input,
        Relay {
            read_size: 1,
            ..how
        },
    );
    assert_eq!(
        relayed.result.is_ok(),
        bytewise.result.is_ok(),
        "{:?} {:?}",
        relayed.result,
        bytewise.result
    );
    if relayed.result.is_ok() {
        assert_eq!(relayed.output, bytewise.output);
        assert_eq!(relayed.left, bytewise.left);
    }
    assert!(input.ends_with(&relayed.left));
    let payload = match relayed.result {
        Ok(n) => n,
        Err(_) => {
            if let Framing::Length(n) = framing {
                assert!((input.len() as u64) < n, "a complete length body refused");
            }
            return None;
        }
    };
    let consumed = input.len() - relayed.left.len();
    match framing {
        Framing::None => assert!(payload == 0 && relayed.output.is_empty() && consumed == 0),
        Framing::Length(n) => {
            assert_eq!(payload, n);
            assert_eq!(relayed.output, &input[..consumed]);
            assert_eq!(consumed as u64, n);
        }
        Framing::Close => {
            assert_eq!(relayed.output, input);
            assert!(relayed.left.is_empty());
        }
        Framing::Chunked => {
            check_chunk_line(input);
            // The body ends exactly where the relay stopped.
            let exact = fuzzing::relay(&input[..consumed], how);
            assert_eq!(exact.result.as_ref().ok(), Some(&payload));
            assert_eq!(exact.output, relayed.output);
            assert!(exact.left.is_empty());
            assert!(
                fuzzing::relay(&input[..consumed - 1], how).result.is_err(),
                "ended early"
            );
            if dechunk {
                assert_eq!(relayed.output.len() as u64, payload);
            } else {
                let (decoded, trailers) = decode(&relayed.output);
                assert_eq!(decoded.len() as u64, payload, "re-encoded payload differs");
                for (name, _) in &trailers {
                    assert!(
                        !["content-length", "transfer-encoding", "host", "connection"]
                            .contains(&name.as_str()),
                        "trailer {name} forwarded"
                    );
                }
                let twice = fuzzing::relay(&relayed.output, how);
                assert_eq!(twice.result.as_ref().ok(), Some(&payload));
                assert_eq!(
                    twice.output, relayed.output,
                    "re-encoding is not idempotent"
                );
                assert!(twice.left.is_empty());
                let plain = fuzzing::relay(
                    input,
                    Relay {
                        dechunk: true,
                        ..how
                    },
                );
                assert_eq!(plain.result.as_ref().ok(), Some(&payload));
                assert_eq!(plain.output, decoded, "decoded payload differs");
                assert_eq!(plain.left, relayed.left);
            }
        }
    }
    Some(relayed.left)
}

/// Weir's chunked output read by a decoder that accepts only its
/// canonical form: lowercase hex without leading zeros or extensions,
/// then trailers as `name: value` lines.
fn decode(mut wire: &[u8]) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut payload = Vec::new();
    loop {
        let lf = wire.iter().position(|&b| b == b'\n').expect("chunk line");
        let line = &wire[..lf - 1];
        assert_eq!(wire[lf - 1], b'\r');
        assert!(
            line.iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)),
            "{line:?}"
        );
        assert!(line == b"0" || line[0] != b'0', "leading zero in {line:?}");
        let size = usize::from_str_radix(std::str::from_utf8(line).unwrap(), 16).unwrap();
        wire = &wire[lf + 1..];
        if size == 0 {
            break;
        }
        payload.extend_from_slice(&wire[..size]);
        assert_eq!(&wire[size..size + 2], b"\r\n");
        wire = &wire[size + 2..];
    }
    let mut trailers = Vec::new();
    loop {
        let at = wire
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("trailer line");
        let line = &wire[..at];
        wire = &wire[at + 2..];
        if line.is_empty() {
            assert!(wire.is_empty(), "bytes after the trailers");
            return (payload, trailers);
        }
        let colon = line.iter().position(|&b| b == b':').expect("trailer colon");
        assert!(!line.contains(&b'\r') && !line.contains(&b'\n'));
        trailers.push((
            String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase(),
            line[colon + 1..].to_vec(),
        ));
    }
}

/// The first chunk line, checked against its grammar read here.
fn check_chunk_line(input: &[u8]) {
    let Ok(Some((len, size))) = fuzzing::chunk_line(input) else {
        panic!("an accepted chunked body starts with no chunk line");
    };
    assert!(len <= 4096 && input[..len].ends_with(b"\r\n"));
    assert!(!input[..len - 1].contains(&b'\n') && !input[..len - 2].contains(&b'\r'));
    let digits: Vec<u8> = input
        .iter()
        .copied()
        .take_while(u8::is_ascii_hexdigit)
        .collect();
    let value = digits.iter().fold(0u128, |n, &d| {
        (n << 4) | u128::from(char::from(d).to_digit(16).unwrap())
    });
    assert_eq!(value, u128::from(size));
}

fn check_response(buf: &[u8], request: &Request, read_size: usize) {
    let response = match fuzzing::parse_response(buf, request) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(status) => {
            assert_eq!(status, 502);
            return;
        }
    };
    assert!(response.used <= buf.len());
    let mut head = response.bytes.clone();
    assert!(head.starts_with(b"HTTP/1.1 ") && head.ends_with(b"\r\n"));
    assert!(
        head.windows(2)
            .filter(|w| w[1] == b'\n')
            .all(|w| w[0] == b'\r'),
        "bare LF"
    );
    head.extend_from_slice(b"\r\n");
    let again = match fuzzing::parse_response(&head, request) {
        Ok(Some(r)) => r,
        other => panic!(
            "rewritten response not accepted again ({:?}): {:?}",
            other.err(),
            String::from_utf8_lossy(&head)
        ),
    };
    assert_eq!(again.used, head.len());
    assert_eq!(again.status, response.status);
    let expected = if response.dechunk {
        Framing::Close
    } else {
        response.framing
    };
    assert_eq!(again.framing, expected);
    assert_eq!(
        again.bytes, response.bytes,
        "a second rewrite changed the response head"
    );
    let settings = HttpSettings::default();
    check_body(
        &buf[response.used..],
        response.framing,
        response.dechunk,
        &settings,
        read_size,
    );
}
