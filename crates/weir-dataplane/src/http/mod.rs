//! HTTP/1.1 listeners: keep-alive on both sides, a pool of idle
//! connections per backend, `X-Forwarded-For` / `X-Forwarded-Proto` /
//! `X-Request-Id`, and clear 4xx/5xx answers when a request cannot be
//! served.
//!
//! One task serves one client connection and everything it asks for: it
//! parses a request head ([`head`]), picks a backend per request, reuses an
//! idle connection to it or opens one ([`upstream`]), relays the body by its
//! framing ([`body`]), then relays the response the same way. No channels or
//! task hops sit between the two sockets, which is what lets a single
//! worker keep up with HAProxy.
//!
//! A listener's L7 policies are evaluated on each parsed head
//! ([`head`], with the table the core compiled once per change): the
//! request goes to the policy's pool, or is answered here with a redirect
//! or 403 (`answer_l7`).
//!
//! Framing is strict (RFC 9112, request smuggling): every head is parsed
//! and written again for the next hop, so what a backend sees is one
//! canonical reading of what the client sent; anything with two readings is
//! refused. The rules are listed in `ARCHITECTURE.md` (data-plane
//! invariants) and in [`head`].
//!
//! Every wait on a client is bounded ([`HttpSettings`]): the head must
//! arrive within `head_timeout` (slowloris), an idle keep-alive connection
//! is closed after `keepalive_timeout`, a request body may stall at most
//! `body_timeout` between reads, and a head is at most `max_head_bytes` with
//! `max_headers` fields (431 beyond).

mod body;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod h2;
mod h2c;
mod head;
mod ssl_headers;
mod sticky;
mod upgrade;
mod upstream;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use weir_core::topology::ListenerSpec;

use crate::listener::ListenerRuntime;
use crate::Shared;

use head::{HeadError, Refusal, RequestContext, RequestHead, Routed};

/// Read buffer growth step and body copy size.
const CHUNK: usize = 16 * 1024;
/// What a connection waiting for its next request holds to read it into:
/// most request heads fit, and an idle connection (10,000 of them are
/// common behind a browser-facing listener) keeps 4 KiB rather than two
/// `CHUNK`s; a longer head grows the buffer as it arrives.
const IDLE_READ: usize = 4 * 1024;
/// How long a keep-alive connection may stay silent before it gives its
/// buffers back: longer than a busy client's gap between requests, so
/// those allocate nothing per request.
const IDLE_GRACE: Duration = Duration::from_secs(1);

/// Limits and policies of the HTTP listeners (`dataplane.http_*` in the
/// configuration file); [`HttpSettings::for_listener`] applies a
/// listener's own timeouts.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// From a connection's accept (or a keep-alive request's first byte) to
    /// the end of its request head; past it the client gets 408 and the
    /// connection is closed (slowloris). HAProxy's `timeout http-request`.
    pub head_timeout: Duration,
    /// How long a client connection may sit idle between requests before
    /// it is closed. HAProxy's `timeout http-keep-alive`.
    pub keepalive_timeout: Duration,
    /// Longest pause between two reads of a request body (408 if nothing
    /// has been answered yet; the connection is closed either way).
    pub body_timeout: Duration,
    /// Largest request head (request line and fields) accepted; larger is
    /// answered with 431. Chunked trailers share the cap.
    pub max_head_bytes: usize,
    /// Most header fields in one request head (431 beyond); at most 1024.
    pub max_headers: usize,
    /// What happens to a client-sent `X-Forwarded-For`.
    pub forwarded_for: ForwardedFor,
    /// How long one attempt waits for a backend's response head once the
    /// request is sent. Past it the attempt failed (504, or the next
    /// backend for a request that may be sent again). HAProxy's
    /// `timeout server` for the head; nginx's `proxy_read_timeout`.
    pub response_timeout: Duration,
    /// Backends an idempotent request without a body may be tried on when
    /// they fail to answer (reset, closed, not HTTP, too slow), each at
    /// most once: with the default every backend of a pool of up to 16 is
    /// tried before the client sees a failure, as nginx's
    /// `proxy_next_upstream` does. Other requests may have been acted on,
    /// so they only move on when the connect fails.
    pub idempotent_attempts: usize,
    /// How long a backend may take to accept a connection; `None`:
    /// `dataplane.connect_timeout_ms`. Only a listener sets it.
    pub connect_timeout: Option<Duration>,
}

impl HttpSettings {
    /// These settings with a listener's own timeouts: its client idle
    /// timeout bounds the wait between requests and inside a request body
    /// (and shortens the head's deadline, never lengthens it: a long
    /// keep-alive must not open the door to slowloris); its backend
    /// timeout bounds the wait for a response head and between reads of a
    /// response body; its connect timeout bounds backend connects.
    pub fn for_listener(&self, spec: &ListenerSpec) -> Self {
        let mut out = self.clone();
        if let Some(client) = spec.idle_timeout_ms.map(Duration::from_millis) {
            out.keepalive_timeout = client;
            out.body_timeout = client;
            out.head_timeout = out.head_timeout.min(client);
        }
        if let Some(backend) = spec.backend_timeout_ms.map(Duration::from_millis) {
            out.response_timeout = backend;
        }
        if let Some(connect) = spec.connect_timeout_ms.map(Duration::from_millis) {
            out.connect_timeout = Some(connect);
        }
        out
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            forwarded_for: ForwardedFor::Replace,
            response_timeout: Duration::from_secs(60),
            idempotent_attempts: 16,
            connect_timeout: None,
        }
    }
}

/// Whether the client's own `X-Forwarded-For` chain is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedFor {
    /// Trust no client: any `X-Forwarded-For`, `X-Real-IP` and `Forwarded`
    /// it sends is dropped and `X-Forwarded-For` is the peer address alone.
    Replace,
    /// The clients are proxies the operator trusts: their chain is kept
    /// (every `X-Forwarded-For` field, in order) and the peer appended.
    Append,
}

impl ForwardedFor {
    /// Parses the configuration spelling (`"replace"` or `"append"`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "replace" => Some(Self::Replace),
            "append" => Some(Self::Append),
            _ => None,
        }
    }
}

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

/// A minimal response of the proxy itself.
async fn answer<C: AsyncWrite + Unpin>(
    client: &mut C,
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

/// Answers a refused request and leaves the connection to be closed: after
/// a framing error nothing that follows on it can be trusted.
async fn refuse<C: AsyncWrite + Unpin>(client: &mut C, refusal: Refusal, request_id: &str) {
    let _ = answer(
        client,
        refusal.status,
        refusal.reason(),
        refusal.message,
        request_id,
        false,
    )
    .await;
}

/// Answers a request an L7 policy redirects or rejects. A request with a
/// body closes the connection after the answer (its body is not read, so
/// nothing after it can be parsed); `Some(keep)` as for a forward.
async fn answer_l7<C: AsyncWrite + Unpin>(
    client: &mut C,
    status: u16,
    location: Option<&[u8]>,
    head: &RequestHead,
) -> Option<bool> {
    let keep = head.keep_alive && !head.framing.has_body() && !head.expect_continue;
    let Some(location) = location else {
        let sent = answer(
            client,
            status,
            "Forbidden",
            "request refused by an L7 policy",
            &head.request_id,
            keep,
        )
        .await;
        return sent.ok().map(|()| keep);
    };
    let reason = match status {
        301 => "Moved Permanently",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => "Found",
    };
    let mut out = Vec::with_capacity(160 + location.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    head::push_decimal(&mut out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    // The location is a validated URL, or a validated prefix and the
    // request's path percent-encoded outside visible ASCII: no CR or LF.
    head::push_header(&mut out, "Location", location);
    out.extend_from_slice(b"Content-Length: 0\r\n");
    head::push_header(&mut out, "X-Request-Id", head.request_id.as_bytes());
    let connection: &[u8] = if keep { b"keep-alive" } else { b"close" };
    head::push_header(&mut out, "Connection", connection);
    out.extend_from_slice(b"\r\n");
    client.write_all(&out).await.ok().map(|()| keep)
}

/// Where a client connection came from: what every request on it is
/// served with.
#[derive(Clone)]
pub(crate) struct Origin {
    pub peer: SocketAddr,
    /// The listener port it connected to.
    pub port: u16,
    pub runtime: Arc<ListenerRuntime>,
    pub shared: Arc<Shared>,
    /// Over TLS Weir terminated (`X-Forwarded-Proto: https`).
    pub tls: bool,
    /// The client's verified certificate, described for the listener's
    /// `X-SSL-*` headers (made only when one is on); `None`: none
    /// presented, or no such header asked for.
    pub client_cert: Option<Arc<weir_tls::client_facts::CertFacts>>,
}

/// How an HTTP/1.1 connection starts.
pub(crate) struct Start {
    /// Bytes already read from the client.
    pub buf: BytesMut,
    /// When the first head is due; `None`: `head_timeout` from now.
    pub deadline: Option<Instant>,
    /// One HTTP/2 stream's request written as HTTP/1.1 ([`h2`]): served
    /// even after the listener stopped, since the connection's GOAWAY
    /// lets the streams it took finish.
    pub stream: bool,
}

impl Start {
    pub(crate) fn fresh() -> Self {
        Self {
            // Allocated when the client is waited for (`IDLE_READ`).
            buf: BytesMut::new(),
            deadline: None,
            stream: false,
        }
    }
}

/// Serves one plain-TCP client connection: HTTP/2 when it opens with the
/// HTTP/2 preface (h2c by prior knowledge, [`h2c::sniff`]), else HTTP/1.1.
async fn serve_client(
    mut client: TcpStream,
    peer: SocketAddr,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    let head_timeout = shared
        .config
        .http
        .for_listener(&runtime.spec())
        .head_timeout;
    let mut buf = BytesMut::with_capacity(CHUNK);
    let deadline = Instant::now() + head_timeout;
    let sniffed = tokio::time::timeout_at(deadline, h2c::sniff(&mut client, &mut buf)).await;
    let origin = Origin {
        peer,
        port,
        runtime,
        shared,
        tls: false,
        client_cert: None,
    };
    match sniffed {
        Ok(Ok(h2c::Sniffed::Http2)) => h2::serve(h2c::Rewind::new(buf, client), origin).await,
        Ok(Ok(h2c::Sniffed::Http1)) => {
            let start = Start {
                buf,
                deadline: Some(deadline),
                stream: false,
            };
            serve_connection(client, origin, start).await;
        }
        // Closed, or silent past the head deadline, before a request.
        _ => {}
    }
}

/// Serves one HTTP/1.1 client connection: plain TCP, the stream of a TLS
/// session Weir terminated ([`crate::tls`]), or one HTTP/2 stream
/// ([`Start::stream`]).
pub(crate) async fn serve_connection<C: AsyncRead + AsyncWrite + Unpin>(
    mut client: C,
    origin: Origin,
    start: Start,
) {
    let Origin {
        peer,
        port,
        runtime,
        shared,
        tls,
        client_cert,
    } = origin;
    let Start {
        buf: mut cbuf,
        deadline,
        stream,
    } = start;
    // Read once per connection: a listener's new timeouts apply to new
    // connections.
    let settings = &shared.config.http.for_listener(&runtime.spec());
    // Reused by every request of this connection: a backend connection goes
    // back to its pool only with nothing left in it. Allocated by the
    // first response read, released while the client idles.
    let mut ubuf = BytesMut::new();
    let client_ip = peer.ip().to_string();
    // Read once per connection: a header or persistence change applies to
    // new ones.
    let spec = runtime.spec();
    let persistence = spec.persistence.as_ref();
    let sticky_cookie = persistence.and_then(sticky::cookie_name).map(str::as_bytes);
    // The first request's head is due `head_timeout` after the accept,
    // whether or not its first byte has come (a silent connection is a
    // slowloris too); later ones may idle `keepalive_timeout` first.
    let mut head_deadline =
        Some(deadline.unwrap_or_else(|| Instant::now() + settings.head_timeout));
    let mut stopped = runtime.stopped();
    loop {
        // A stopped listener's pools are gone: serving on would answer
        // 503 for ever to a client that keeps its connection. Closing an
        // idle keep-alive connection is what clients expect and retry.
        if *stopped.borrow_and_update() && !stream {
            return;
        }
        if cbuf.is_empty() {
            let now = Instant::now();
            let deadline = head_deadline.unwrap_or_else(|| now + settings.keepalive_timeout);
            // A busy connection keeps its buffers from one request to the
            // next; one that stays silent past `IDLE_GRACE` gives the
            // response buffer back and keeps a small read buffer, so
            // thousands of idle keep-alive connections hold little. One
            // timer either way: the wait ends at the grace first.
            let mut grace = Some(now + IDLE_GRACE).filter(|g| *g < deadline);
            cbuf.reserve(IDLE_READ);
            loop {
                let until = grace.unwrap_or(deadline);
                tokio::select! {
                    read = tokio::time::timeout_at(until, client.read_buf(&mut cbuf)) => match read {
                        Ok(Ok(n)) if n > 0 => break,
                        // A read that timed out moved no byte (the future
                        // is dropped while pending), so waiting on is safe.
                        Err(_) if grace.take().is_some() => {
                            ubuf = BytesMut::new();
                            if cbuf.capacity() > IDLE_READ {
                                cbuf = BytesMut::with_capacity(IDLE_READ);
                            }
                        }
                        // Nothing asked yet: close quietly, as HAProxy
                        // does for an idle keep-alive connection.
                        _ => return,
                    },
                    _ = stopped.changed(), if !stream => return,
                }
            }
        }
        let deadline = head_deadline
            .take()
            .unwrap_or_else(|| Instant::now() + settings.head_timeout);
        // L7 policies are read per request: a change applies to the next
        // request, also on connections kept alive.
        let current = runtime.spec();
        let cx = RequestContext {
            client_ip: &client_ip,
            settings,
            shared: &shared,
            forwarded: spec.forwarded_headers,
            port,
            local_ip: spec.vip,
            sticky_cookie,
            l7: current.l7.as_deref(),
            l7_targets: &current.l7_targets,
            tls,
            client_cert: client_cert.as_deref(),
            redirect_https_port: current.redirect_https_port,
        };
        let read = head::read_head(&mut client, &mut cbuf, settings.max_head_bytes, |b| {
            head::parse_request(b, &cx)
        });
        let mut head = match tokio::time::timeout_at(deadline, read).await {
            Ok(Ok(head)) => head,
            Ok(Err(HeadError::Refused(refusal))) => {
                refuse(&mut client, refusal, &shared.next_request_id()).await;
                return;
            }
            Ok(Err(HeadError::Closed)) => return,
            Ok(Err(HeadError::Io(e))) => {
                tracing::debug!(client = %peer, error = %e, "client left mid-head");
                return;
            }
            Err(_) => {
                let refusal = Refusal {
                    status: 408,
                    message: "request head not received in time",
                };
                refuse(&mut client, refusal, &shared.next_request_id()).await;
                return;
            }
        };
        // Draining for a successor: this answer says `Connection: close`
        // and the connection ends after it, so the client's next request
        // opens a connection the successor accepts.
        if shared.handover.is_draining() {
            head.keep_alive = false;
        }
        let buffers = upstream::Buffers {
            client: &mut cbuf,
            upstream: &mut ubuf,
        };
        let l7_target = match &head.route {
            Some(Routed::Answer { status, location }) => {
                match answer_l7(&mut client, *status, location.as_deref(), &head).await {
                    Some(true) => continue,
                    _ => return,
                }
            }
            Some(Routed::Pool(i)) => current.l7_targets.get(*i),
            None => None,
        };
        let to = upstream::Destination {
            peer,
            port,
            runtime: &runtime,
            persistence,
            l7_target,
        };
        match upstream::forward(&mut client, buffers, &head, to, &cx).await {
            Some(true) if head.keep_alive => continue,
            _ => return,
        }
    }
}
