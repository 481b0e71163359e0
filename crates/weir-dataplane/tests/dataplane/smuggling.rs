//! The smuggling matrix: every ambiguous HTTP/1.1 framing sent through a
//! real HTTP listener to a raw-socket backend that records the bytes it
//! receives, asserting both the client's status and exactly what reached
//! the backend. Also the framing Weir accepts from backends.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{Protocol, Scheduler};

use crate::support::*;

/// What one backend connection received, and whether its peer closed it.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

pub type Recording = Arc<Mutex<Vec<Received>>>;

/// Index of the end of a head (after its empty line), if complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Length of a complete request at the front of `buf` (head and body as
/// Weir frames them: CRLF only, a `Content-Length` or canonical chunks).
fn complete_request(buf: &[u8]) -> Option<usize> {
    let end = head_end(buf)?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if let Some(line) = head.lines().find(|l| l.starts_with("content-length:")) {
        let n: usize = line["content-length:".len()..].trim().parse().ok()?;
        return (buf.len() >= end + n).then_some(end + n);
    }
    if head.contains("\r\ntransfer-encoding: chunked\r\n") {
        let mut at = end;
        loop {
            let line_end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[at..line_end]).ok()?, 16).ok()?;
            at = line_end + 2;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let line_end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
                    let empty = line_end == at;
                    at = line_end + 2;
                    if empty {
                        return Some(at);
                    }
                }
            }
            if buf.len() < at + size + 2 {
                return None;
            }
            at += size + 2;
        }
    }
    Some(end)
}

/// A backend on a raw socket: records every byte per connection and
/// answers each complete request with `200 ok`.
pub async fn recording_backend() -> (SocketAddr, Recording) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recording: Recording = Arc::default();
    let rec = recording.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let index = {
                let mut all = rec.lock().unwrap();
                all.push(Received::default());
                all.len() - 1
            };
            let rec = rec.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            rec.lock().unwrap()[index].closed = true;
                            return;
                        }
                        Ok(n) => n,
                    };
                    rec.lock().unwrap()[index]
                        .bytes
                        .extend_from_slice(&buf[..n]);
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(used) = complete_request(&pending) {
                        pending.drain(..used);
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, recording)
}

/// What the backend must have received.
enum Reaches {
    /// No byte at all.
    Nothing,
    /// Exactly this on one connection (the normalised request).
    Exactly(String),
    /// Exactly this (a head, at most a valid prefix of its body), and then
    /// its connection was closed; or nothing at all, when the bad framing
    /// is found before the head is on its way (it depends on how the
    /// reads fall: on a loaded machine the whole request is often in one).
    Truncated(String),
}

/// The head Weir sends for a request from the matrix: its own framing
/// field, then the forwarding fields (the client's id is kept).
fn normalised(line: &str, fields: &str, framing: &str, client: &str) -> String {
    format!(
        "{line}\r\n{fields}{framing}X-Forwarded-For: {client}\r\nX-Forwarded-Proto: http\r\nX-Request-Id: t\r\n\r\n"
    )
}

/// Sends `request`, half-closes, and reads everything until Weir closes.
async fn exchange(vip: SocketAddr, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(vip).await.unwrap();
    let client = stream.local_addr().unwrap().ip().to_string();
    stream.write_all(request).await.unwrap();
    let _ = stream.shutdown().await;
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut seen)).await;
    (String::from_utf8_lossy(&seen).into_owned(), client)
}

fn status_of(answer: &str) -> Option<u16> {
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

const POST: &str = "POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: t\r\n";

/// One row: a name, the request after `POST`'s first three lines (or the
/// whole request when it starts with a method), the status, what reaches
/// the backend (built with the client's address).
type Case = (
    &'static str,
    String,
    u16,
    Box<dyn Fn(&str) -> Reaches + Send + Sync>,
);

fn post(rest: &str) -> String {
    format!("{POST}{rest}")
}

fn nothing() -> Box<dyn Fn(&str) -> Reaches + Send + Sync> {
    Box::new(|_| Reaches::Nothing)
}

fn chunked_head(client: &str) -> String {
    normalised(
        "POST / HTTP/1.1",
        "Host: x\r\n",
        "Transfer-Encoding: chunked\r\n",
        client,
    )
}

fn cases() -> Vec<Case> {
    let smuggled = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut big_trailer = String::from("0\r\n");
    for i in 0..400 {
        big_trailer.push_str(&format!("X-Trailer-{i}: {}\r\n", "t".repeat(40)));
    }
    big_trailer.push_str("\r\n");
    vec![
        (
            "content-length baseline",
            post("Content-Length: 5\r\n\r\nhello"),
            200,
            Box::new(|c| {
                Reaches::Exactly(
                    normalised("POST / HTTP/1.1", "Host: x\r\n", "Content-Length: 5\r\n", c)
                        + "hello",
                )
            }),
        ),
        (
            "chunked baseline",
            post("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            200,
            Box::new(|c| Reaches::Exactly(chunked_head(c) + "5\r\nhello\r\n0\r\n\r\n")),
        ),
        (
            "TE gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "TE chunked, gzip (chunked not final)",
            post(&format!(
                "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n{smuggled}"
            )),
            400,
            nothing(),
        ),
        (
            "TE identity",
            post("Transfer-Encoding: identity\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "TE chunked, chunked",
            post("Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "two TE fields",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "TE then CL (TE.CL)",
            post(&format!(
                "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n{smuggled}"
            )),
            400,
            nothing(),
        ),
        (
            "CL then TE (CL.TE)",
            post(&format!(
                "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            )),
            400,
            nothing(),
        ),
        (
            "TE with an invalid CL",
            post("Transfer-Encoding: chunked\r\nContent-Length: abc\r\n\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "space before the colon",
            post("Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "HTTP/1.0 with TE",
            "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(),
            400,
            nothing(),
        ),
        (
            "CL +5",
            post("Content-Length: +5\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL -1",
            post("Content-Length: -1\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL 5, 6",
            post("Content-Length: 5, 6\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL 5, 5",
            post("Content-Length: 5, 5\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL 5 5",
            post("Content-Length: 5 5\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL 0x5",
            post("Content-Length: 0x5\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL empty",
            post("Content-Length: \r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "CL overflow",
            post("Content-Length: 18446744073709551616\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "two equal CL fields",
            post("Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
            400,
            nothing(),
        ),
        (
            "two different CL fields",
            post("Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
            400,
            nothing(),
        ),
        (
            "CL with surrounding whitespace is OWS",
            post("Content-Length:  5 \r\n\r\nhello"),
            200,
            Box::new(|c| {
                Reaches::Exactly(
                    normalised("POST / HTTP/1.1", "Host: x\r\n", "Content-Length: 5\r\n", c)
                        + "hello",
                )
            }),
        ),
        (
            "obs-fold",
            post("X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "obs-fold hiding TE",
            post("X-A: a\r\n\tTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "bare CR in a value",
            post("X-A: a\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "invalid field name",
            post("X A: b\r\nContent-Length: 0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "control byte in a field name",
            post("X\x01A: b\r\nContent-Length: 0\r\n\r\n"),
            400,
            nothing(),
        ),
        (
            "bare LF ends head lines (rewritten with CRLF)",
            "GET / HTTP/1.1\nHost: x\nX-Request-Id: t\n\n".into(),
            200,
            Box::new(|c| Reaches::Exactly(normalised("GET / HTTP/1.1", "Host: x\r\n", "", c))),
        ),
        (
            "no Host",
            "GET / HTTP/1.1\r\nX-Request-Id: t\r\n\r\n".into(),
            400,
            nothing(),
        ),
        (
            "two Host fields",
            "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\nX-Request-Id: t\r\n\r\n".into(),
            400,
            nothing(),
        ),
        (
            "chunk size +5",
            post("Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk size with leading space",
            post("Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk size with trailing space",
            post("Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk size 0x5",
            post("Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk size overflow",
            post("Transfer-Encoding: chunked\r\n\r\n10000000000000001\r\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk line ended by a bare LF",
            post("Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk data not followed by CRLF",
            post(&format!(
                "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n{smuggled}"
            )),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "control byte in a chunk extension",
            post("Transfer-Encoding: chunked\r\n\r\n5;a\x01b\r\nhello\r\n0\r\n\r\n"),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk line too long",
            post(&format!(
                "Transfer-Encoding: chunked\r\n\r\n5;{}\r\nhello\r\n0\r\n\r\n",
                "a".repeat(5000)
            )),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "chunk extensions and leading zeros are dropped",
            post("Transfer-Encoding: chunked\r\n\r\n0005;name=\"v\"\r\nhello\r\n0;last\r\n\r\n"),
            200,
            Box::new(|c| Reaches::Exactly(chunked_head(c) + "5\r\nhello\r\n0\r\n\r\n")),
        ),
        (
            "trailers are kept, framing fields in them dropped",
            post("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\nContent-Length: 9\r\n\r\n"),
            200,
            Box::new(|c| {
                Reaches::Exactly(chunked_head(c) + "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n")
            }),
        ),
        (
            "obs-fold in a trailer",
            post("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n 2\r\n\r\n"),
            400,
            // Small chunks wait in Weir's write buffer, so the head alone went out.
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "trailer section past the head cap",
            post(&format!("Transfer-Encoding: chunked\r\n\r\n{big_trailer}")),
            400,
            Box::new(|c| Reaches::Truncated(chunked_head(c))),
        ),
        (
            "fields named by Connection are removed",
            post("Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nX-Kept: k\r\nContent-Length: 0\r\n\r\n"),
            200,
            Box::new(|c| {
                Reaches::Exactly(normalised(
                    "POST / HTTP/1.1",
                    "Host: x\r\nX-Kept: k\r\n",
                    "Content-Length: 0\r\n",
                    c,
                ))
            }),
        ),
        (
            "Connection cannot remove Host or the framing",
            post("Connection: Host, Content-Length\r\nContent-Length: 5\r\n\r\nhello"),
            200,
            Box::new(|c| {
                Reaches::Exactly(
                    normalised("POST / HTTP/1.1", "Host: x\r\n", "Content-Length: 5\r\n", c)
                        + "hello",
                )
            }),
        ),
        (
            "hop-by-hop fields are removed",
            post("Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nTE: trailers\r\nProxy-Connection: x\r\nContent-Length: 0\r\n\r\n"),
            200,
            Box::new(|c| {
                Reaches::Exactly(normalised(
                    "POST / HTTP/1.1",
                    "Host: x\r\n",
                    "Content-Length: 0\r\n",
                    c,
                ))
            }),
        ),
        (
            "client forwarding claims are replaced",
            post("X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\nContent-Length: 0\r\n\r\n"),
            200,
            Box::new(|c| {
                Reaches::Exactly(normalised(
                    "POST / HTTP/1.1",
                    "Host: x\r\n",
                    "Content-Length: 0\r\n",
                    c,
                ))
            }),
        ),
    ]
}

async fn verdict(recording: &Recording, reaches: &Reaches) -> Result<(), String> {
    let snapshot = || recording.lock().unwrap().clone();
    match reaches {
        Reaches::Nothing => {
            let got = snapshot();
            if got.iter().any(|r| !r.bytes.is_empty()) {
                return Err(format!("backend received {got:?}"));
            }
        }
        Reaches::Exactly(want) => {
            let got: Vec<String> = snapshot()
                .iter()
                .filter(|r| !r.bytes.is_empty())
                .map(|r| String::from_utf8_lossy(&r.bytes).into_owned())
                .collect();
            if got != [want.clone()] {
                return Err(format!("backend received {got:?}, want [{want:?}]"));
            }
        }
        Reaches::Truncated(want) => {
            let closed = eventually(Duration::from_secs(5), async || {
                snapshot().iter().all(|r| r.closed)
            })
            .await;
            let got: Vec<(String, bool)> = snapshot()
                .iter()
                .filter(|r| !r.bytes.is_empty())
                .map(|r| (String::from_utf8_lossy(&r.bytes).into_owned(), r.closed))
                .collect();
            if !closed || !(got.is_empty() || got == [(want.clone(), true)]) {
                return Err(format!(
                    "backend received {got:?}, want [({want:?}, closed)]"
                ));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_matrix() {
    let mut failures = Vec::new();
    let cases = cases();
    for (name, request, status, reaches) in &cases {
        let dp = dataplane();
        let (addr, recording) = recording_backend().await;
        let v = vip();
        dp.apply(topology(
            1,
            v,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("raw", addr, 1)],
            None,
            1000,
        ));
        let (answer, client) = exchange(v, request.as_bytes()).await;
        let got = status_of(&answer);
        if got != Some(*status) {
            failures.push(format!(
                "{name}: client got {got:?}, want {status}: {answer:?}"
            ));
            continue;
        }
        if let Err(e) = verdict(&recording, &reaches(&client)).await {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A backend that answers every request with `reply` and records whether
/// its connection was then closed by Weir.
async fn replying_backend(reply: &'static [u8]) -> (SocketAddr, Recording) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recording: Recording = Arc::default();
    let rec = recording.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let index = {
                let mut all = rec.lock().unwrap();
                all.push(Received::default());
                all.len() - 1
            };
            let rec = rec.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            rec.lock().unwrap()[index].closed = true;
                            return;
                        }
                        Ok(n) => n,
                    };
                    let complete = {
                        let mut all = rec.lock().unwrap();
                        all[index].bytes.extend_from_slice(&buf[..n]);
                        head_end(&all[index].bytes).is_some()
                    };
                    if complete && stream.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, recording)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_responses_are_a_502_and_their_connection_is_closed() {
    let cases: [(&str, &'static [u8]); 6] = [
        (
            "CL and TE",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        ),
        ("CL +2", b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok"),
        (
            "two CL",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        ),
        ("CL 2, 3", b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok"),
        (
            "TE gzip",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
        ),
        (
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nok\r\n0\r\n\r\n",
        ),
    ];
    let mut failures = Vec::new();
    for (name, reply) in cases {
        let dp = dataplane();
        let (addr, recording) = replying_backend(reply).await;
        let v = vip();
        dp.apply(topology(
            1,
            v,
            Protocol::Http,
            Scheduler::Wrr,
            vec![backend("raw", addr, 1)],
            None,
            1000,
        ));
        let (answer, _) = exchange(v, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        // A bad chunk is found after the head went out: the client sees a
        // 200 cut short, never a complete body.
        let want = if name == "bad chunk size" { 200 } else { 502 };
        if status_of(&answer) != Some(want) {
            failures.push(format!("{name}: client got {answer:?}"));
            continue;
        }
        if want == 200 && answer.contains("\r\n0\r\n\r\n") {
            failures.push(format!(
                "{name}: the client got a complete body: {answer:?}"
            ));
        }
        let closed = eventually(Duration::from_secs(5), async || {
            recording.lock().unwrap().iter().all(|r| r.closed)
        })
        .await;
        if !closed {
            failures.push(format!("{name}: the backend connection was kept"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
