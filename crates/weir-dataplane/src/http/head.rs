//! Request and response heads: read without re-parsing, checked against
//! RFC 9112's framing rules, and written again for the next hop.
//!
//! A head is refused (400 from a client, 502 from a backend) when its
//! framing has more than one reading:
//! - `Transfer-Encoding` other than exactly one `chunked` (Weir implements
//!   no other transfer coding), or in an HTTP/1.0 message;
//! - `Transfer-Encoding` together with `Content-Length` (RFC 9112 §6.3
//!   lets a recipient drop the length instead; refusing is the reading no
//!   peer can disagree with);
//! - a `Content-Length` that is not plain digits (`+5`, `-1`, `5, 6`,
//!   `0x5`, overflow) or appears twice, even with the same value;
//! - a request without exactly one `Host` (HTTP/1.1) or with two (an
//!   HTTP/1.0 request without one goes on as HTTP/1.1 with the
//!   listener's address and port as its `Host`, the authority RFC 9112
//!   §3.3 reconstructs for it);
//! - a response status below 100 (httparse takes any three digits);
//! - what `httparse` refuses: obs-fold (a field line starting with space or
//!   tab), a bare CR, a field name with a byte outside `token`, a space
//!   before the colon.
//!
//! A bare LF ends a head line (RFC 9112 §2.2 allows it): every line is
//! written again with CRLF, so no next hop sees the difference. Chunk lines
//! are stricter (`body`).
//!
//! The framing headers the next hop sees are Weir's own (`Content-Length:
//! n` or `Transfer-Encoding: chunked`), hop-by-hop fields and every field
//! the `Connection` header names are removed (except `Host`; the framing
//! fields are rewritten anyway). `Upgrade` is hop-by-hop too, except for
//! a WebSocket handshake ([`super::upgrade`] has the rules): that request
//! goes on with `Connection: upgrade` and `Upgrade: websocket` alone, and
//! only a `101` naming `websocket` in answer to it is taken (any other 101
//! is a 502).

use std::io;
use std::mem::MaybeUninit;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{ForwardedFor, HttpSettings, CHUNK};
use crate::Shared;
use weir_core::l7::matcher::{self, L7Table, Route};
use weir_core::topology::L7Target;

/// Largest response head accepted from a backend (backends are the
/// operator's; big `Set-Cookie` lists are theirs to send).
pub(super) const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Most header fields any head may have, whatever the settings say.
pub(super) const MAX_HEADERS_LIMIT: usize = 1024;

/// How a message body is delimited. Public only for [`super::fuzzing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the sender closes (responses only).
    Close,
}

impl Framing {
    /// Whether bytes follow the head.
    pub(super) fn has_body(self) -> bool {
        !matches!(self, Framing::None | Framing::Length(0))
    }
}

/// Why a head is refused: the status the proxy answers and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: u16,
    pub message: &'static str,
}

impl Refusal {
    const fn bad(message: &'static str) -> Self {
        Self {
            status: 400,
            message,
        }
    }

    const fn too_large(message: &'static str) -> Self {
        Self {
            status: 431,
            message,
        }
    }

    pub(super) fn reason(&self) -> &'static str {
        match self.status {
            400 => "Bad Request",
            408 => "Request Timeout",
            431 => "Request Header Fields Too Large",
            502 => "Bad Gateway",
            _ => "Error",
        }
    }
}

/// How reading a head ended without one.
#[derive(Debug)]
pub(super) enum HeadError {
    /// The peer closed before sending a byte of it.
    Closed,
    Refused(Refusal),
    Io(io::Error),
}

/// A parsed request, already rewritten for the backend.
pub(super) struct RequestHead {
    /// The head to send upstream.
    pub bytes: Vec<u8>,
    pub framing: Framing,
    pub keep_alive: bool,
    pub is_head: bool,
    /// An HTTP/1.0 client: it never gets a chunked response.
    pub http10: bool,
    /// RFC 9110 §9.2.2: the method may be sent twice with the effect of
    /// once.
    pub idempotent: bool,
    /// The client waits for `100 Continue` before sending its body; the
    /// proxy answers that itself, as nginx does, rather than relaying it.
    pub expect_continue: bool,
    pub request_id: String,
    /// The value of the persistence cookie the listener reads
    /// ([`RequestContext::sticky_cookie`]), if the request carries it (or,
    /// for a request an L7 policy sends to a pool, that pool's cookie).
    pub sticky: Option<Vec<u8>>,
    /// What the listener's L7 policies decided; `None`: the default pool.
    pub route: Option<Routed>,
    /// A WebSocket handshake: it went on with `Upgrade: websocket`, and a
    /// `101` naming it turns the connection into a tunnel.
    pub upgrade: bool,
}

/// An L7 policy's decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Routed {
    /// Forward to the listener's `l7_targets[i]`.
    Pool(usize),
    /// Answer here: a redirect (with its `Location`) or 403.
    Answer {
        status: u16,
        location: Option<Vec<u8>>,
    },
}

/// A parsed response, already rewritten for the client.
pub(super) struct ResponseHead {
    pub status: u16,
    /// How the backend delimits the body.
    pub framing: Framing,
    /// The body arrives chunked but goes to an HTTP/1.0 client as plain
    /// bytes, delimited by the close.
    pub dechunk: bool,
    /// The backend keeps the connection open after this response.
    pub reusable: bool,
    /// The head without its final blank line, so `Connection` can still be
    /// added.
    pub bytes: Vec<u8>,
    /// A `101` to a WebSocket handshake: what follows is the tunnel.
    pub switching: bool,
}

/// What the request parser needs from its connection.
pub(super) struct RequestContext<'a> {
    /// The peer's address, formatted once per connection.
    pub client_ip: &'a str,
    pub settings: &'a HttpSettings,
    pub shared: &'a Shared,
    /// What the listener adds for its backends.
    pub forwarded: weir_core::model::ForwardedHeaders,
    /// The listener port the client connected to (`X-Forwarded-Port`).
    pub port: u16,
    /// The listener's address: with `port`, the authority of a request
    /// that names none (an HTTP/1.0 request without `Host`).
    pub local_ip: std::net::IpAddr,
    /// The cookie the listener's persistence reads; `None` (the common
    /// case) looks at no `Cookie` field.
    pub sticky_cookie: Option<&'a [u8]>,
    /// The listener's compiled L7 policies (read per request, so a change
    /// applies to the next request); `None` (the common case) costs
    /// nothing.
    pub l7: Option<&'a L7Table>,
    pub l7_targets: &'a [L7Target],
    /// The client came over TLS Weir terminated (`X-Forwarded-Proto:
    /// https`); every `X-SSL-*` field a client sends is then dropped.
    pub tls: bool,
    /// The client's verified certificate, for the listener's `X-SSL-*`
    /// headers.
    pub client_cert: Option<&'a weir_tls::client_facts::CertFacts>,
    /// The listener redirects every request to HTTPS on this port
    /// instead of forwarding it (read per request, as the L7 table).
    pub redirect_https_port: Option<u16>,
}

/// The fields Weir reads or rewrites, told apart once per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Other,
    Host,
    Connection,
    HopByHop,
    ContentLength,
    TransferEncoding,
    ForwardedFor,
    /// `X-Real-IP` and `Forwarded`: client claims about its address.
    AddressClaim,
    ForwardedProto,
    ForwardedPort,
    RequestId,
    Expect,
    Upgrade,
}

fn classify(name: &str) -> Field {
    let is = |other: &str| name.eq_ignore_ascii_case(other);
    // By length first: most fields are compared against nothing.
    match name.len() {
        2 if is("te") => Field::HopByHop,
        4 if is("host") => Field::Host,
        6 if is("expect") => Field::Expect,
        7 if is("trailer") => Field::HopByHop,
        7 if is("upgrade") => Field::Upgrade,
        9 if is("x-real-ip") || is("forwarded") => Field::AddressClaim,
        10 if is("connection") => Field::Connection,
        10 if is("keep-alive") => Field::HopByHop,
        12 if is("x-request-id") => Field::RequestId,
        14 if is("content-length") => Field::ContentLength,
        // h2c's upgrade settings: never forwarded (`Upgrade: h2c` is not).
        14 if is("http2-settings") => Field::HopByHop,
        15 if is("x-forwarded-for") => Field::ForwardedFor,
        16 if is("proxy-connection") => Field::HopByHop,
        16 if is("x-forwarded-port") => Field::ForwardedPort,
        17 if is("transfer-encoding") => Field::TransferEncoding,
        17 if is("x-forwarded-proto") => Field::ForwardedProto,
        19 if is("proxy-authorization") => Field::HopByHop,
        _ => Field::Other,
    }
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// The comma-separated tokens of a list field.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

/// What a message's `Connection` fields say.
#[derive(Default)]
struct ConnectionTokens {
    close: bool,
    keep_alive: bool,
    /// `upgrade`: the message asks to switch protocols (the `Upgrade`
    /// field it names is Weir's to write, see [`super::upgrade`]).
    upgrade: bool,
    /// Some token names a field to remove.
    names_fields: bool,
}

/// What one pass over a head's fields finds: its framing, its `Host`
/// count and its `Connection` tokens.
struct Survey {
    framing: Framing,
    hosts: usize,
    connection: ConnectionTokens,
    /// Some `Upgrade` field names `websocket`.
    websocket: bool,
}

/// Reads the fields Weir decides on, or says why the framing is
/// ambiguous.
fn survey(headers: &[httparse::Header<'_>], http10: bool) -> Result<Survey, &'static str> {
    let mut length = None;
    let mut chunked = false;
    let mut hosts = 0;
    let mut connection = ConnectionTokens::default();
    let mut websocket = false;
    for h in headers {
        match classify(h.name) {
            Field::Upgrade => websocket |= super::upgrade::names_websocket(h.value),
            Field::TransferEncoding => {
                if chunked {
                    return Err("more than one Transfer-Encoding field");
                }
                // httparse has trimmed the surrounding whitespace already.
                if !h.value.eq_ignore_ascii_case(b"chunked") {
                    return Err("Transfer-Encoding other than chunked");
                }
                chunked = true;
            }
            Field::ContentLength => {
                if length.is_some() {
                    return Err("more than one Content-Length field");
                }
                length = Some(parse_length(h.value).ok_or("invalid Content-Length")?);
            }
            Field::Host => hosts += 1,
            Field::Connection => {
                for t in tokens(h.value) {
                    if t.eq_ignore_ascii_case(b"close") {
                        connection.close = true;
                    } else if t.eq_ignore_ascii_case(b"keep-alive") {
                        connection.keep_alive = true;
                    } else if t.eq_ignore_ascii_case(b"upgrade") {
                        connection.upgrade = true;
                    } else {
                        connection.names_fields = true;
                    }
                }
            }
            _ => {}
        }
    }
    let framing = match (chunked, length) {
        (true, Some(_)) => return Err("both Transfer-Encoding and Content-Length"),
        (true, None) if http10 => return Err("Transfer-Encoding in an HTTP/1.0 message"),
        (true, None) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::None,
    };
    Ok(Survey {
        framing,
        hosts,
        connection,
        websocket,
    })
}

/// Whether a `Connection` field names `name` (it is then for this hop only,
/// RFC 9110 §7.6.1).
fn named_by_connection(headers: &[httparse::Header<'_>], name: &str) -> bool {
    headers
        .iter()
        .filter(|h| classify(h.name) == Field::Connection)
        .any(|h| tokens(h.value).any(|t| t.eq_ignore_ascii_case(name.as_bytes())))
}

/// `Content-Length = 1*DIGIT`, nothing else: no sign, no list, no inner
/// space, no overflow.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Appends `n` in decimal: the status line of every response, without the
/// formatting machinery.
pub(super) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
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

pub(super) fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The framing field Weir writes for a body it relays as `framing`.
fn push_framing(out: &mut Vec<u8>, framing: Framing) {
    match framing {
        Framing::Length(n) => {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::None | Framing::Close => {}
    }
}

fn refusal_of(e: httparse::Error) -> Refusal {
    match e {
        httparse::Error::TooManyHeaders => Refusal::too_large("too many header fields"),
        httparse::Error::HeaderName => Refusal::bad("invalid header field name (or obs-fold)"),
        httparse::Error::HeaderValue => Refusal::bad("invalid header field value"),
        httparse::Error::NewLine => Refusal::bad("bare CR in the head"),
        httparse::Error::Version => Refusal::bad("unsupported HTTP version"),
        _ => Refusal::bad("malformed request line"),
    }
}

/// Methods RFC 9110 §9.2.2 calls idempotent.
fn is_idempotent(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
}

/// Parses a request head from `buf`; `Ok(None)` when more bytes are needed.
pub(super) fn parse_request(
    buf: &[u8],
    cx: &RequestContext<'_>,
) -> Result<Option<(usize, RequestHead)>, Refusal> {
    let limit = cx.settings.max_headers.clamp(1, MAX_HEADERS_LIMIT);
    let mut storage = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS_LIMIT];
    let mut req = httparse::Request::new(&mut []);
    let used = match req
        .parse_with_uninit_headers(buf, &mut storage[..limit])
        .map_err(refusal_of)?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    if used > cx.settings.max_head_bytes {
        return Err(Refusal::too_large("request head too large"));
    }
    let method = req.method.unwrap_or("GET");
    let path = req.path.unwrap_or("/");
    let http10 = req.version.unwrap_or(1) == 0;
    let headers: &[httparse::Header<'_>] = req.headers;
    let Survey {
        framing,
        hosts,
        connection,
        websocket,
    } = survey(headers, http10).map_err(Refusal::bad)?;
    if hosts > 1 || (hosts == 0 && !http10) {
        return Err(Refusal::bad("a request needs exactly one Host field"));
    }
    let upgrade =
        super::upgrade::request_upgrades(method, http10, connection.upgrade, websocket, framing)
            .map_err(Refusal::bad)?;
    let keep_alive = !connection.close && (!http10 || connection.keep_alive);
    let append_chain = cx.settings.forwarded_for == ForwardedFor::Append;
    let dropped =
        |h: &httparse::Header<'_>| connection.names_fields && named_by_connection(headers, h.name);
    let mut expect_continue = false;
    let mut request_id: Option<String> = None;
    let mut sticky: Option<Vec<u8>> = None;
    let mut host: Option<&[u8]> = None;
    let mut out = Vec::with_capacity(used + 128);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    // The head goes on as HTTP/1.1, which must carry a Host (RFC 9112
    // §3.2). An HTTP/1.0 client that sent none asked for the connection's
    // own authority (RFC 9112 §3.3: the local address and port), which is
    // what the backend gets: an empty Host is a 400 at nginx and most
    // servers, and a connection they close, where HAProxy and nginx in
    // front of them answer 200.
    if hosts == 0 {
        let authority = match cx.local_ip {
            std::net::IpAddr::V4(ip) => format!("{ip}:{}", cx.port),
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", cx.port),
        };
        push_header(&mut out, "Host", authority.as_bytes());
    }
    for h in headers {
        match classify(h.name) {
            // Written below, from what was checked.
            Field::Connection
            | Field::HopByHop
            | Field::ContentLength
            | Field::TransferEncoding
            | Field::ForwardedFor
            | Field::ForwardedProto
            | Field::ForwardedPort
            | Field::Upgrade => continue,
            Field::AddressClaim if !append_chain => continue,
            // On a TLS listener `X-SSL-*` is Weir's to say (the client
            // certificate's headers), on or off: a client's own is a
            // forgery of its certificate.
            Field::Other if cx.tls && super::ssl_headers::is_claim(h.name) => continue,
            Field::Host => host = Some(h.value),
            _ if dropped(h) => continue,
            Field::Expect if has_token(h.value, b"100-continue") => {
                expect_continue = true;
                continue;
            }
            Field::RequestId => {
                if h.value.len() <= 128 && h.value.iter().all(u8::is_ascii_graphic) {
                    request_id = Some(String::from_utf8_lossy(h.value).into_owned());
                }
                continue;
            }
            _ => {}
        }
        if let Some(name) = cx.sticky_cookie {
            if sticky.is_none() && h.name.eq_ignore_ascii_case("cookie") {
                sticky = super::sticky::find(h.value, name).map(<[u8]>::to_vec);
            }
        }
        push_header(&mut out, h.name, h.value);
    }
    push_framing(&mut out, framing);
    if upgrade {
        out.extend_from_slice(super::upgrade::REQUEST_FIELDS);
    }
    // A client's own X-Forwarded-* fields were dropped above whatever the
    // listener adds: turning a header off must not let a client's claim
    // through in its place.
    if cx.forwarded.forwarded_for {
        out.extend_from_slice(b"X-Forwarded-For: ");
        if append_chain {
            for h in headers {
                if classify(h.name) == Field::ForwardedFor && !dropped(h) && !h.value.is_empty() {
                    out.extend_from_slice(h.value);
                    out.extend_from_slice(b", ");
                }
            }
        }
        out.extend_from_slice(cx.client_ip.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if cx.forwarded.forwarded_proto {
        let proto: &[u8] = if cx.tls { b"https" } else { b"http" };
        push_header(&mut out, "X-Forwarded-Proto", proto);
    }
    if cx.forwarded.forwarded_port {
        push_header(&mut out, "X-Forwarded-Port", cx.port.to_string().as_bytes());
    }
    if cx.tls && cx.forwarded.client_cert.any() {
        super::ssl_headers::push(&mut out, cx.forwarded.client_cert, cx.client_cert);
    }
    let request_id = request_id.unwrap_or_else(|| cx.shared.next_request_id());
    push_header(&mut out, "X-Request-Id", request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    let route = match cx.redirect_https_port {
        Some(port) => {
            let location = https_location(host, path, port).ok_or(Refusal::bad(
                "a redirect to https needs a Host that is a name or an address",
            ))?;
            Some(Routed::Answer {
                status: 301,
                location: Some(location),
            })
        }
        None => cx.l7.and_then(|table| route(table, host, path, headers)),
    };
    if let Some(Routed::Pool(i)) = &route {
        // The target pool's own cookie, if it reads another than the
        // listener's default pool does.
        let wanted = cx
            .l7_targets
            .get(*i)
            .and_then(|t| t.persistence.as_ref())
            .and_then(super::sticky::cookie_name)
            .map(str::as_bytes);
        if wanted != cx.sticky_cookie {
            sticky = wanted.and_then(|name| {
                headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("cookie"))
                    .find_map(|h| super::sticky::find(h.value, name))
                    .map(<[u8]>::to_vec)
            });
        }
    }
    Ok(Some((
        used,
        RequestHead {
            bytes: out,
            framing,
            keep_alive,
            is_head: method.eq_ignore_ascii_case("HEAD"),
            http10,
            idempotent: is_idempotent(method),
            expect_continue,
            request_id,
            sticky,
            route,
            upgrade,
        },
    )))
}

/// Evaluates the listener's L7 policies on a parsed head.
fn route(
    table: &L7Table,
    host: Option<&[u8]>,
    target: &str,
    headers: &[httparse::Header<'_>],
) -> Option<Routed> {
    let fields = headers.iter().map(|h| (h.name, h.value));
    Some(match table.evaluate(host, target.as_bytes(), fields)? {
        Route::Pool(i) => Routed::Pool(*i),
        Route::Reject => Routed::Answer {
            status: 403,
            location: None,
        },
        Route::RedirectUrl { url, code } => Routed::Answer {
            status: *code,
            location: Some(url.as_bytes().to_vec()),
        },
        Route::RedirectPrefix { prefix, code } => {
            let mut location = Vec::with_capacity(prefix.len() + target.len());
            location.extend_from_slice(prefix.as_bytes());
            matcher::push_path_and_query(&mut location, target.as_bytes());
            Routed::Answer {
                status: *code,
                location: Some(location),
            }
        }
    })
}

/// Where an HTTP listener's redirect sends a request:
/// `https://<host>[:<port>]<path?query>`, the host being the request's
/// `Host` without its port (`:443` is left out, as browsers write it).
/// `None` when that `Host` is not a DNS-like name, an IPv4 address or a
/// bracketed IPv6 literal with an optional numeric port: nothing a client
/// sends may end the `Location` field or smuggle another authority into
/// it (`@`, `/`, `\`, spaces, control bytes).
pub(super) fn https_location(host: Option<&[u8]>, target: &str, port: u16) -> Option<Vec<u8>> {
    let host = host?;
    let port_ok = |p: &[u8]| p.len() <= 5 && p.iter().all(u8::is_ascii_digit);
    let name: &[u8] = if host.first() == Some(&b'[') {
        let end = host.iter().position(|&b| b == b']')?;
        let literal = &host[1..end];
        let rest = &host[end + 1..];
        let literal_ok = literal.len() >= 2
            && literal
                .iter()
                .all(|b| b.is_ascii_hexdigit() || *b == b':' || *b == b'.');
        let rest_ok = rest.is_empty() || (rest[0] == b':' && port_ok(&rest[1..]));
        if !literal_ok || !rest_ok {
            return None;
        }
        &host[..=end]
    } else {
        let name = match host.iter().position(|&b| b == b':') {
            Some(colon) if port_ok(&host[colon + 1..]) => &host[..colon],
            Some(_) => return None,
            None => host,
        };
        let name_ok = !name.is_empty()
            && name.len() <= 253
            && name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.');
        if !name_ok {
            return None;
        }
        name
    };
    let mut out = Vec::with_capacity(16 + name.len() + target.len());
    out.extend_from_slice(b"https://");
    out.extend_from_slice(name);
    if port != 443 {
        out.push(b':');
        push_decimal(&mut out, u64::from(port));
    }
    matcher::push_path_and_query(&mut out, target.as_bytes());
    Some(out)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether a head (or trailer section) may end in `buf` at a line feed at
/// or after `from`: an empty line, ended by CRLF or a bare LF.
pub(super) fn may_end(buf: &[u8], from: usize) -> bool {
    let start = from.saturating_sub(2);
    buf[start..].iter().enumerate().any(|(k, &b)| {
        let i = start + k;
        b == b'\n'
            && ((i >= 1 && buf[i - 1] == b'\n')
                || (i >= 2 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n'))
    })
}

/// Reads until `parse` finds a complete head in `buf`, at most `max`
/// bytes. The head is parsed only once an empty line may have arrived, so
/// a head sent a byte at a time costs one pass, not one per read.
pub(super) async fn read_head<S: AsyncRead + Unpin, T>(
    stream: &mut S,
    buf: &mut BytesMut,
    max: usize,
    mut parse: impl FnMut(&[u8]) -> Result<Option<(usize, T)>, Refusal>,
) -> Result<T, HeadError> {
    let mut scanned = 0;
    loop {
        if may_end(buf, scanned) {
            match parse(buf) {
                Ok(Some((used, head))) => {
                    buf.advance(used);
                    return Ok(head);
                }
                Ok(None) => {}
                Err(refusal) => return Err(HeadError::Refused(refusal)),
            }
        }
        scanned = buf.len();
        if buf.len() >= max {
            return Err(HeadError::Refused(Refusal::too_large("head too large")));
        }
        buf.reserve(CHUNK);
        match stream.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Err(HeadError::Closed),
            Ok(0) => {
                return Err(HeadError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed mid-head",
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(HeadError::Io(e)),
        }
    }
}

mod response;
pub(super) use response::parse_response;

#[cfg(test)]
mod tests;
