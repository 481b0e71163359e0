//! HTTP/1.1 listeners: keep-alive on both sides, a pool of idle
//! connections per backend, `X-Forwarded-For` / `X-Forwarded-Proto` /
//! `X-Request-Id`, and clear 502/503/504 answers when no backend can serve.
//!
//! One task serves one client connection and everything it asks for: it
//! parses a request head (`httparse`), picks a backend per request, reuses
//! an idle connection to it or opens one, relays the body by its framing
//! (length, chunked), then relays the response the same way. No channels or
//! task hops sit between the two sockets, which is what lets a single
//! worker keep up with HAProxy.
//!
//! Retries: an idle pooled connection found closed is replaced before use;
//! a request without a body is sent again on a fresh connection (or another
//! backend) when the connection fails before an answer starts.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::listener::ListenerRuntime;
use crate::pool::{BackendRuntime, ConnGuard, PoolRuntime};
use crate::tcp::pick;
use crate::Shared;

/// Largest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most headers in one head.
const MAX_HEADERS: usize = 128;
/// How long a backend may take to start its answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Read buffer growth step and body copy size.
const CHUNK: usize = 16 * 1024;

/// Headers that describe one hop and are not forwarded.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
];

/// Accepts on one bound port until the task is aborted.
pub async fn accept_loop(
    listener: TcpListener,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    crate::listener::accept_each(listener, &runtime, &shared, |stream, peer| {
        runtime.connections.fetch_add(1, Ordering::Relaxed);
        serve_client(stream, peer, port, runtime.clone(), shared.clone())
    })
    .await;
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the sender closes (responses only).
    Close,
}

/// A parsed request, already rewritten for the backend.
struct RequestHead {
    /// The head to send upstream.
    bytes: Vec<u8>,
    framing: Framing,
    keep_alive: bool,
    is_head: bool,
    /// The client waits for `100 Continue` before sending its body; the
    /// proxy answers that itself, as nginx does, rather than relaying it.
    expect_continue: bool,
    request_id: String,
}

/// A parsed response, already rewritten for the client.
struct ResponseHead {
    status: u16,
    framing: Framing,
    /// The backend keeps the connection open after this response.
    reusable: bool,
    /// The head without its final blank line, so `Connection: close` can
    /// still be added.
    bytes: Vec<u8>,
}

fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

fn has_token(value: &[u8], token: &str) -> bool {
    String::from_utf8_lossy(value)
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn framing_of(headers: &[httparse::Header<'_>]) -> Result<Framing, &'static str> {
    let mut framing = Framing::None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !has_token(h.value, "chunked") {
                return Err("unsupported transfer-encoding");
            }
            framing = Framing::Chunked;
        } else if h.name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let text = std::str::from_utf8(h.value).map_err(|_| "bad content-length")?;
            let n = text.trim().parse().map_err(|_| "bad content-length")?;
            if matches!(framing, Framing::Length(m) if m != n) {
                return Err("conflicting content-length");
            }
            framing = Framing::Length(n);
        }
    }
    Ok(framing)
}

/// Appends `n` in decimal: the status line of every response, without the
/// formatting machinery.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Parses a request head from `buf`; `Ok(None)` when more bytes are needed.
fn parse_request(
    buf: &[u8],
    client: &str,
    shared: &Shared,
) -> Result<Option<(usize, RequestHead)>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf).map_err(|_| "malformed request")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let method = req.method.unwrap_or("GET");
    let path = req.path.unwrap_or("/");
    let version = req.version.unwrap_or(1);
    let framing = framing_of(req.headers)?;
    let mut keep_alive = version == 1;
    let mut forwarded_for: Option<&[u8]> = None;
    let mut expect_continue = false;
    let mut request_id: Option<String> = None;
    let mut out = Vec::with_capacity(used + 128);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            if has_token(h.value, "close") {
                keep_alive = false;
            } else if has_token(h.value, "keep-alive") {
                keep_alive = true;
            }
        }
        // With chunked framing a Content-Length is dropped rather than
        // passed on next to it (request smuggling, RFC 9112 §6.3).
        let stale_length =
            framing == Framing::Chunked && h.name.eq_ignore_ascii_case("content-length");
        if stale_length || is_hop_by_hop(h.name) || h.name.eq_ignore_ascii_case("x-forwarded-proto")
        {
            continue;
        }
        if h.name.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded_for = Some(h.value);
            continue;
        }
        if h.name.eq_ignore_ascii_case("expect") && has_token(h.value, "100-continue") {
            expect_continue = true;
            continue;
        }
        if h.name.eq_ignore_ascii_case("x-request-id") {
            if h.value.len() <= 128 && h.value.iter().all(u8::is_ascii_graphic) {
                request_id = Some(String::from_utf8_lossy(h.value).into_owned());
            }
            continue;
        }
        push_header(&mut out, h.name, h.value);
    }
    match forwarded_for {
        Some(chain) => {
            let mut value = chain.to_vec();
            value.extend_from_slice(b", ");
            value.extend_from_slice(client.as_bytes());
            push_header(&mut out, "X-Forwarded-For", &value);
        }
        None => push_header(&mut out, "X-Forwarded-For", client.as_bytes()),
    }
    push_header(&mut out, "X-Forwarded-Proto", b"http");
    let request_id = request_id.unwrap_or_else(|| shared.next_request_id());
    push_header(&mut out, "X-Request-Id", request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(Some((
        used,
        RequestHead {
            bytes: out,
            framing,
            keep_alive,
            is_head: method.eq_ignore_ascii_case("HEAD"),
            expect_continue,
            request_id,
        },
    )))
}

/// Parses a response head from `buf`; `Ok(None)` when more bytes are needed.
fn parse_response(
    buf: &[u8],
    request: &RequestHead,
) -> Result<Option<(usize, ResponseHead)>, &'static str> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let used = match res.parse(buf).map_err(|_| "malformed response")? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = res.code.unwrap_or(502);
    let version = res.version.unwrap_or(1);
    let mut reusable = version == 1;
    let mut out = Vec::with_capacity(used + 64);
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(&mut out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(res.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in res.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            if has_token(h.value, "close") {
                reusable = false;
            } else if has_token(h.value, "keep-alive") {
                reusable = true;
            }
        }
        let stale_length = h.name.eq_ignore_ascii_case("content-length")
            && res
                .headers
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case("transfer-encoding"));
        if stale_length || is_hop_by_hop(h.name) || h.name.eq_ignore_ascii_case("x-request-id") {
            continue;
        }
        push_header(&mut out, h.name, h.value);
    }
    push_header(&mut out, "X-Request-Id", request.request_id.as_bytes());
    let no_body = request.is_head || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = match framing_of(res.headers)? {
        _ if no_body => Framing::None,
        Framing::None => Framing::Close,
        other => other,
    };
    if framing == Framing::Close {
        reusable = false;
    }
    Ok(Some((
        used,
        ResponseHead {
            status,
            framing,
            reusable,
            bytes: out,
        },
    )))
}

/// Reads until `parse` finds a complete head in `buf`. `Ok(None)` on a clean
/// EOF before any byte.
async fn read_head<T>(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    mut parse: impl FnMut(&[u8]) -> Result<Option<(usize, T)>, &'static str>,
) -> io::Result<Option<T>> {
    loop {
        if !buf.is_empty() {
            match parse(buf) {
                Ok(Some((used, head))) => {
                    buf.advance(used);
                    return Ok(Some(head));
                }
                Ok(None) if buf.len() >= MAX_HEAD => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"))
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
        buf.reserve(CHUNK);
        if stream.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed mid-head",
                ))
            };
        }
    }
}

/// Relays a body from `src` (with `buf` holding bytes already read) to
/// `dst`. Bytes past the body stay in `buf`.
async fn relay_body(
    src: &mut TcpStream,
    buf: &mut BytesMut,
    dst: &mut TcpStream,
    framing: Framing,
) -> io::Result<u64> {
    match framing {
        Framing::None => Ok(0),
        Framing::Length(n) => relay_exact(src, buf, dst, n).await.map(|()| n),
        Framing::Chunked => relay_chunked(src, buf, dst).await,
        Framing::Close => {
            let mut total = buf.len() as u64;
            dst.write_all(buf).await?;
            buf.clear();
            total += tokio::io::copy(src, dst).await?;
            Ok(total)
        }
    }
}

async fn relay_exact(
    src: &mut TcpStream,
    buf: &mut BytesMut,
    dst: &mut TcpStream,
    mut left: u64,
) -> io::Result<()> {
    while left > 0 {
        if buf.is_empty() {
            buf.reserve(CHUNK);
            if src.read_buf(buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed mid-body",
                ));
            }
        }
        let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        dst.write_all(&buf[..take]).await?;
        buf.advance(take);
        left -= take as u64;
    }
    Ok(())
}

/// Reads one CRLF-terminated line into `buf`'s front; returns its length
/// including the CRLF.
async fn fill_line(src: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            return Ok(i + 2);
        }
        if buf.len() > 4096 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk line too long",
            ));
        }
        buf.reserve(CHUNK);
        if src.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed mid-chunk",
            ));
        }
    }
}

/// Passes a chunked body through unchanged, following its framing to find
/// where it ends.
async fn relay_chunked(
    src: &mut TcpStream,
    buf: &mut BytesMut,
    dst: &mut TcpStream,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let line_len = fill_line(src, buf).await?;
        let line = std::str::from_utf8(&buf[..line_len - 2])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        dst.write_all(&buf[..line_len]).await?;
        buf.advance(line_len);
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let n = fill_line(src, buf).await?;
                dst.write_all(&buf[..n]).await?;
                buf.advance(n);
                if n == 2 {
                    return Ok(total);
                }
            }
        }
        relay_exact(src, buf, dst, size + 2).await?;
        total += size;
    }
}

/// A minimal response of the proxy itself.
async fn answer(
    client: &mut TcpStream,
    status: u16,
    reason: &str,
    message: &str,
    request_id: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let body = format!("weir: {message}\n");
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nX-Request-Id: {request_id}\r\nConnection: {connection}\r\n\r\n{body}",
        body.len()
    );
    client.write_all(head.as_bytes()).await
}

/// An open connection to a backend.
struct Upstream {
    stream: TcpStream,
    pooled: bool,
}

/// A client connection's read buffers, kept across its requests.
struct Buffers<'a> {
    client: &'a mut BytesMut,
    upstream: &'a mut BytesMut,
}

/// An idle pooled connection to `backend`, or a new one. With `probe`, an
/// idle connection is first checked for a close by the backend (one extra
/// syscall); requests without a body skip it, since they are simply sent
/// again when a pooled connection turns out closed.
async fn checkout(
    backend: &BackendRuntime,
    addr: SocketAddr,
    shared: &Shared,
    probe: bool,
) -> io::Result<Upstream> {
    while let Some(stream) = backend.take_idle() {
        if !probe {
            return Ok(Upstream {
                stream,
                pooled: true,
            });
        }
        // An idle connection the backend has closed reads EOF (or an
        // error) at once; anything else means it is still usable.
        let mut byte = [0u8; 1];
        match stream.try_read(&mut byte) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Ok(Upstream {
                    stream,
                    pooled: true,
                })
            }
            _ => continue,
        }
    }
    let stream = shared.egress.connect(addr).await?;
    Ok(Upstream {
        stream,
        pooled: false,
    })
}

/// How one attempt at a request ended.
enum Attempt {
    /// The answer was relayed; whether the client connection stays open.
    Done(bool),
    /// Nothing reached the client; the request may be sent again.
    Retry(io::Error),
    /// The connect failed (passive health); the request may go elsewhere.
    ConnectFailed(io::Error),
    /// The exchange broke after the client saw part of it, or cannot be
    /// repeated: close the client connection.
    Broken,
}

async fn serve_client(
    mut client: TcpStream,
    peer: SocketAddr,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    let mut cbuf = BytesMut::with_capacity(CHUNK);
    // Reused by every request of this connection: a backend connection goes
    // back to its pool only with nothing left in it.
    let mut ubuf = BytesMut::with_capacity(CHUNK);
    let client_ip = peer.ip().to_string();
    loop {
        let head = match read_head(&mut client, &mut cbuf, |b| {
            parse_request(b, &client_ip, &shared)
        })
        .await
        {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let id = shared.next_request_id();
                    let _ =
                        answer(&mut client, 400, "Bad Request", &e.to_string(), &id, false).await;
                }
                return;
            }
        };
        let buffers = Buffers {
            client: &mut cbuf,
            upstream: &mut ubuf,
        };
        match forward(&mut client, buffers, &head, peer, port, &runtime, &shared).await {
            Some(true) if head.keep_alive => continue,
            _ => return,
        }
    }
}

/// Sends one request to a backend and relays the answer. `Some(keep)` when
/// the client connection is still in a clean state.
async fn forward(
    client: &mut TcpStream,
    buffers: Buffers<'_>,
    head: &RequestHead,
    peer: SocketAddr,
    port: u16,
    runtime: &ListenerRuntime,
    shared: &Shared,
) -> Option<bool> {
    let spec = runtime.spec();
    let scheduler = spec.scheduler;
    // Backends without a port of their own: one port for every attempt.
    let dial_port = spec.inherited_port(port);
    let pools = runtime.pools();
    let Buffers {
        client: cbuf,
        upstream: ubuf,
    } = buffers;
    let repeatable = head.framing == Framing::None;
    let mut tried = Vec::new();
    let mut last_error: Option<String> = None;
    // A stale pooled connection costs a retry but not an attempt.
    let mut budget = shared.config.connect_attempts + 2;
    while budget > 0 {
        budget -= 1;
        let Some((pool, backend)) = pick(&pools, scheduler, peer.ip(), &tried) else {
            break;
        };
        let addr = PoolRuntime::address(&backend, dial_port);
        ubuf.clear();
        match attempt(client, cbuf, ubuf, head, &backend, addr, shared).await {
            Attempt::Done(keep) => {
                pool.record_connect_success(&backend);
                return Some(keep);
            }
            Attempt::ConnectFailed(e) => {
                pool.record_connect_failure(&backend, &e);
                tried.push(backend.id.clone());
                last_error = Some(format!("backend {addr}: {e}"));
                if !repeatable {
                    break;
                }
            }
            Attempt::Retry(e) if repeatable => {
                tracing::debug!(request_id = %head.request_id, backend = %addr, error = %e, "retrying request");
                last_error = Some(format!("backend {addr}: {e}"));
            }
            Attempt::Retry(e) => {
                last_error = Some(format!("backend {addr}: {e}"));
                break;
            }
            Attempt::Broken => return None,
        }
    }
    runtime.failures.fetch_add(1, Ordering::Relaxed);
    // The body (if any) was not consumed: only a body-less request leaves
    // the client connection clean.
    let keep = repeatable && head.keep_alive;
    let sent = match last_error {
        Some(error) => answer(client, 502, "Bad Gateway", &error, &head.request_id, keep).await,
        None => {
            answer(
                client,
                503,
                "Service Unavailable",
                "no healthy backend is available for this listener",
                &head.request_id,
                keep,
            )
            .await
        }
    };
    sent.ok().map(|()| keep)
}

async fn attempt(
    client: &mut TcpStream,
    cbuf: &mut BytesMut,
    ubuf: &mut BytesMut,
    head: &RequestHead,
    backend: &Arc<BackendRuntime>,
    addr: SocketAddr,
    shared: &Shared,
) -> Attempt {
    let mut up = match checkout(backend, addr, shared, head.framing != Framing::None).await {
        Ok(up) => up,
        Err(e) => return Attempt::ConnectFailed(e),
    };
    let guard = ConnGuard::new(backend.clone());
    if let Err(e) = up.stream.write_all(&head.bytes).await {
        // Nothing of the body was read yet: the request can go again.
        return Attempt::Retry(e);
    }
    if head.framing != Framing::None {
        if head.expect_continue
            && cbuf.is_empty()
            && client
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return Attempt::Broken;
        }
        if let Err(e) = relay_body(client, cbuf, &mut up.stream, head.framing).await {
            tracing::debug!(request_id = %head.request_id, error = %e, "request body relay failed");
            return Attempt::Broken;
        }
    }
    let mut sent_any = false;
    loop {
        let parsed = tokio::time::timeout(
            RESPONSE_TIMEOUT,
            read_head(&mut up.stream, ubuf, |b| parse_response(b, head)),
        )
        .await;
        let response = match parsed {
            Ok(Ok(Some(response))) => response,
            Ok(Ok(None)) | Ok(Err(_)) if !sent_any && up.pooled => {
                return Attempt::Retry(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "pooled connection closed",
                ));
            }
            Ok(Ok(None)) | Ok(Err(_)) if !sent_any => {
                backend.count_status(502);
                let _ = answer(
                    client,
                    502,
                    "Bad Gateway",
                    &format!("backend {addr} closed without answering"),
                    &head.request_id,
                    false,
                )
                .await;
                return Attempt::Broken;
            }
            Err(_) if !sent_any => {
                backend.count_status(504);
                let message = format!(
                    "backend {addr} did not answer within {} s",
                    RESPONSE_TIMEOUT.as_secs()
                );
                let _ = answer(
                    client,
                    504,
                    "Gateway Timeout",
                    &message,
                    &head.request_id,
                    false,
                )
                .await;
                return Attempt::Broken;
            }
            _ => return Attempt::Broken,
        };
        let interim = (100..200).contains(&response.status);
        let keep_client = head.keep_alive && response.framing != Framing::Close;
        let mut out = response.bytes;
        if !interim && !keep_client {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        // A small body already read goes out with the head: one write.
        let mut framing = response.framing;
        if let Framing::Length(n) = framing {
            if (ubuf.len() as u64) >= n && n <= CHUNK as u64 {
                out.extend_from_slice(&ubuf[..n as usize]);
                ubuf.advance(n as usize);
                backend.bytes_in.fetch_add(n, Ordering::Relaxed);
                framing = Framing::None;
            }
        }
        if client.write_all(&out).await.is_err() {
            return Attempt::Broken;
        }
        sent_any = true;
        if interim {
            continue;
        }
        backend.count_status(response.status);
        match relay_body(&mut up.stream, ubuf, client, framing).await {
            Ok(n) => {
                backend.bytes_in.fetch_add(n, Ordering::Relaxed);
            }
            Err(_) => return Attempt::Broken,
        }
        drop(guard);
        if response.reusable && ubuf.is_empty() {
            backend.put_idle(up.stream);
        }
        return Attempt::Done(keep_client);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_written_like_format() {
        for n in [0u64, 7, 10, 200, 404, 599, 65_535, u64::MAX] {
            let mut out = Vec::new();
            super::push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
