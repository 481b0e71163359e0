//! One HTTP/2 stream served by the HTTP/1.1 engine through an in-memory
//! pipe: its request is written as an HTTP/1.1 head (and body, chunked
//! when no length was given), the engine serves it exactly as a request
//! from a client socket, and its answer is read back and sent as the
//! stream's response.
//!
//! The rewrite keeps nothing the engine would not refuse or rewrite
//! anyway: `:authority` becomes `Host` (a `host` field beside it is
//! dropped, so there is one), split `cookie` fields are joined with `; `
//! (RFC 9113 §8.2.3, so a sticky cookie is found in any of them),
//! `expect` is dropped (flow control already gates the body), and the
//! head ends with `Connection: close`, which makes the engine answer this
//! one request and end the pipe. h2 has already refused connection-
//! specific fields (`connection`, `upgrade`, `transfer-encoding`, `te`
//! other than `trailers`) and any name or value with a byte HTTP/1.1
//! could split on (CR, LF, NUL). Request and response trailers are not
//! forwarded.
//!
//! The pipe costs one extra parse of each head: the price of one reading
//! of every rule for both HTTP versions.

use std::io;
use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::super::body::{self, BodyRules};
use super::super::head::{self, Framing, HeadError, Refusal};
use super::super::{serve_connection, Origin, Start};

mod send;

/// Bytes the pipe between a stream and the engine buffers each way.
const PIPE: usize = 64 * 1024;

/// A stream h2 accepted.
pub(super) struct Accepted {
    pub request: Request<RecvStream>,
    pub respond: SendResponse<Bytes>,
}

/// How the request body goes to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    /// The client declared its length (h2 holds the DATA frames to it).
    Length,
    Chunked,
}

/// Serves one stream to its end, or until the client resets it: `true`
/// when the client did (the connection keeps count).
pub(super) async fn serve(accepted: Accepted, origin: Origin) -> bool {
    let Accepted {
        request,
        mut respond,
    } = accepted;
    let (parts, recv) = request.into_parts();
    if parts.method == Method::CONNECT {
        reply(&mut respond, StatusCode::NOT_IMPLEMENTED);
        return false;
    }
    let (head, mode) = match request_head(&parts, recv.is_end_stream()) {
        Ok(head) => head,
        Err(_) => {
            reply(&mut respond, StatusCode::BAD_REQUEST);
            return false;
        }
    };
    let is_head = parts.method == Method::HEAD;
    let (engine_side, our_side) = tokio::io::duplex(PIPE);
    let (from_engine, to_engine) = tokio::io::split(our_side);
    let start = Start {
        // The head is handed over as if already read from the pipe: only
        // the body crosses it.
        buf: BytesMut::from(&head[..]),
        deadline: None,
        stream: true,
    };
    // Boxed: the engine's state is the biggest part of a stream's, and a
    // task's future is moved whole when it is spawned and when it ends.
    let mut engine = Box::pin(serve_connection(engine_side, origin, start));
    let answer = answer(from_engine, &mut respond, is_head);
    tokio::pin!(answer);
    // The answer decides: once it is sent (or the client reset the
    // stream) nothing else of this stream matters. The engine has ended
    // by then: it wrote the last byte and returned in the same poll.
    tokio::select! {
        reset = &mut answer => reset,
        _ = async { tokio::join!(&mut engine, feed(to_engine, recv, mode)) } => answer.await,
    }
}

/// A response of Weir's own with no body.
fn reply(respond: &mut SendResponse<Bytes>, status: StatusCode) {
    let mut response = Response::new(());
    *response.status_mut() = status;
    let _ = respond.send_response(response, true);
}

/// The HTTP/1.1 head for a stream's request, and how its body follows.
fn request_head(
    parts: &http::request::Parts,
    ended: bool,
) -> Result<(Vec<u8>, Body), &'static str> {
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    // Belt and braces: `http` already refuses these bytes in a URI.
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err("invalid :path");
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
    if let Some(authority) = authority {
        head::push_header(&mut out, "Host", authority);
    }
    let mut cookies: Vec<&[u8]> = Vec::new();
    let mut length = false;
    for (name, value) in &parts.headers {
        let value = value.as_bytes();
        if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err("invalid field value");
        }
        match name.as_str() {
            "host" if authority.is_some() => continue,
            "expect" => continue,
            "cookie" => {
                cookies.push(value);
                continue;
            }
            // A stream that ended with its head has no body, whatever it
            // declared (h2 refuses a non-zero length there).
            "content-length" if ended => continue,
            "content-length" => length = true,
            _ => {}
        }
        head::push_header(&mut out, name.as_str(), value);
    }
    if !cookies.is_empty() {
        out.extend_from_slice(b"Cookie: ");
        out.extend_from_slice(&cookies.join(&b"; "[..]));
        out.extend_from_slice(b"\r\n");
    }
    let mode = match (ended, length) {
        (true, _) => Body::None,
        (false, true) => Body::Length,
        (false, false) => Body::Chunked,
    };
    if mode == Body::Chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok((out, mode))
}

/// Writes the request body to the engine as it arrives, releasing flow control only once the engine took each piece
/// (a slow member slows the client, never fills memory).
async fn feed<W: AsyncWrite + Unpin>(
    mut to: W,
    mut recv: RecvStream,
    mode: Body,
) -> io::Result<()> {
    if mode == Body::None {
        return Ok(());
    }
    let mut line = Vec::with_capacity(24);
    while let Some(data) = recv.data().await {
        let data = data.map_err(io::Error::other)?;
        if data.is_empty() {
            continue;
        }
        if mode == Body::Chunked {
            line.clear();
            line.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            to.write_all(&line).await?;
            to.write_all(&data).await?;
            to.write_all(b"\r\n").await?;
        } else {
            to.write_all(&data).await?;
        }
        let _ = recv.flow_control().release_capacity(data.len());
    }
    if mode == Body::Chunked {
        to.write_all(b"0\r\n\r\n").await?;
    }
    Ok(())
}

/// A response head the engine wrote, as h2 sends it, and its framing.
struct Answer {
    response: Response<()>,
    framing: Framing,
}

/// Reads the engine's response and sends it on the stream; stops at
/// once if the client resets the stream (`true` then).
async fn answer<R: AsyncRead + Unpin>(
    mut from: R,
    respond: &mut SendResponse<Bytes>,
    is_head: bool,
) -> bool {
    let mut buf = BytesMut::with_capacity(4096);
    let answer = loop {
        let read = head::read_head(&mut from, &mut buf, head::MAX_RESPONSE_HEAD, |b| {
            parse_answer(b, is_head)
        });
        let reset = std::future::poll_fn(|cx| respond.poll_reset(cx));
        let parsed = tokio::select! {
            parsed = read => parsed,
            _ = reset => return true,
        };
        match parsed {
            // An interim answer (a member's 103): HTTP/2 would take it,
            // but nothing needs it; the final answer follows.
            Ok(answer) if answer.response.status().is_informational() => continue,
            Ok(answer) => break answer,
            Err(HeadError::Refused(_) | HeadError::Closed | HeadError::Io(_)) => {
                reply(respond, StatusCode::BAD_GATEWAY);
                return false;
            }
        }
    };
    let ends = answer.framing == Framing::None;
    let Ok(stream) = respond.send_response(answer.response, ends) else {
        return false;
    };
    if ends {
        return false;
    }
    let mut sink = send::SendBody::new(stream);
    let rules = BodyRules {
        // The engine bounds the member's pauses; this side only relays.
        idle: None,
        max_trailer_bytes: head::MAX_RESPONSE_HEAD,
        max_trailers: head::MAX_HEADERS_LIMIT,
        dechunk: true,
    };
    if body::relay(&mut from, &mut buf, &mut sink, answer.framing, rules)
        .await
        .is_ok()
    {
        let _ = sink.shutdown().await;
    } else {
        sink.reset();
    }
    false
}

/// Fields of an HTTP/1.1 response that mean nothing in HTTP/2 (and that
/// h2 refuses to send).
fn connection_specific(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "te",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// Parses the engine's response head (always its own canonical writing).
fn parse_answer(buf: &[u8], is_head: bool) -> Result<Option<(usize, Answer)>, Refusal> {
    let bad = Refusal {
        status: 502,
        message: "unreadable answer from the engine",
    };
    // Uninitialised, as the engine's own parser does: zeroing 1024 slots
    // per stream showed in profiles.
    let mut fields = [MaybeUninit::<httparse::Header<'_>>::uninit(); head::MAX_HEADERS_LIMIT];
    let mut res = httparse::Response::new(&mut []);
    let used = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, &mut fields)
        .map_err(|_| bad)?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = res
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(bad)?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    let mut framing = Framing::Close;
    for h in res.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or(bad)?;
            framing = Framing::Length(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            framing = Framing::Chunked;
        }
        if connection_specific(h.name) {
            continue;
        }
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| bad)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| bad)?;
        response.headers_mut().append(name, value);
    }
    let bodiless = is_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || framing == Framing::Length(0);
    if bodiless {
        framing = Framing::None;
    }
    Ok(Some((used, Answer { response, framing })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(request: Request<()>, ended: bool) -> (String, Body) {
        let (parts, ()) = request.into_parts();
        let (head, body) = request_head(&parts, ended).unwrap();
        (String::from_utf8(head).unwrap(), body)
    }

    #[test]
    fn a_stream_becomes_one_http11_head() {
        let request = Request::builder()
            .method("GET")
            .uri("https://app.test/a?b=c")
            .header("host", "other.test")
            .header("cookie", "a=1")
            .header("cookie", "WEIRSRV=x")
            .header("expect", "100-continue")
            .header("x-trace", "t")
            .body(())
            .unwrap();
        let (head, body) = head_of(request, true);
        assert_eq!(body, Body::None);
        assert_eq!(
            head,
            "GET /a?b=c HTTP/1.1\r\nHost: app.test\r\nx-trace: t\r\nCookie: a=1; WEIRSRV=x\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn a_body_without_a_length_goes_chunked() {
        let post = |length: Option<&str>| {
            let mut b = Request::builder().method("POST").uri("http://app.test/");
            if let Some(n) = length {
                b = b.header("content-length", n);
            }
            head_of(b.body(()).unwrap(), false)
        };
        let (head, body) = post(None);
        assert_eq!(body, Body::Chunked);
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        let (head, body) = post(Some("5"));
        assert_eq!(body, Body::Length);
        assert!(head.contains("content-length: 5\r\n"), "{head}");
        assert!(!head.contains("Transfer-Encoding"), "{head}");
    }

    #[test]
    fn the_engines_answer_loses_its_connection_fields() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-Request-Id: r\r\n\r\nok";
        let (used, answer) = parse_answer(raw, false).unwrap().unwrap();
        assert_eq!(&raw[used..], b"ok");
        assert_eq!(answer.framing, Framing::Length(2));
        assert!(answer.response.headers().get("connection").is_none());
        assert_eq!(answer.response.headers()["x-request-id"], "r");
        let (_, head) = parse_answer(raw, true).unwrap().unwrap();
        assert_eq!(head.framing, Framing::None);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (_, answer) = parse_answer(chunked, false).unwrap().unwrap();
        assert_eq!(answer.framing, Framing::Chunked);
        assert!(answer.response.headers().get("transfer-encoding").is_none());
    }
}
