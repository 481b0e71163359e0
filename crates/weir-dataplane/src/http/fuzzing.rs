//! Owned, synchronous wrappers around the head and body parsers, for the
//! fuzz targets (`fuzz/fuzz_targets/http_framing.rs`) and tests only. Not
//! an API: nothing here is stable, and the data plane never calls it.
//!
//! The parsers themselves stay `pub(super)`; this module is the one seam
//! through which code outside the crate may drive them, on memory instead
//! of sockets.

use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, ReadBuf};

use super::body::{self, BodyRules};
pub use super::head::Framing;
use super::head::{self, RequestContext, RequestHead};
use super::HttpSettings;
use crate::{Config, Shared};

/// Request ids come from a real `Shared`, built once: the parser reads
/// nothing else from it.
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared::new(Config::default()))
}

/// A request head the parser accepted.
pub struct Request {
    /// Bytes of the input the head took.
    pub used: usize,
    head: RequestHead,
}

impl Request {
    /// The head as the backend would receive it.
    pub fn bytes(&self) -> &[u8] {
        &self.head.bytes
    }
    pub fn framing(&self) -> Framing {
        self.head.framing
    }
    /// The client connection stays open after this request.
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }
    pub fn is_head(&self) -> bool {
        self.head.is_head
    }
    pub fn http10(&self) -> bool {
        self.head.http10
    }
    pub fn idempotent(&self) -> bool {
        self.head.idempotent
    }
    pub fn expect_continue(&self) -> bool {
        self.head.expect_continue
    }
    pub fn request_id(&self) -> &str {
        &self.head.request_id
    }
    /// A WebSocket handshake forwarded with `Upgrade: websocket`.
    pub fn upgrade(&self) -> bool {
        self.head.upgrade
    }
}

/// Parses a request head from a client at `client_ip`: `Ok(None)` when
/// more bytes are needed, `Err(status)` when it is refused.
pub fn parse_request(
    buf: &[u8],
    settings: &HttpSettings,
    client_ip: &str,
) -> Result<Option<Request>, u16> {
    let cx = RequestContext {
        client_ip,
        settings,
        shared: shared(),
        forwarded: Default::default(),
        port: 80,
        local_ip: std::net::Ipv4Addr::new(198, 51, 100, 7).into(),
        sticky_cookie: None,
        l7: None,
        l7_targets: &[],
        tls: false,
        client_cert: None,
        redirect_https_port: None,
    };
    match head::parse_request(buf, &cx) {
        Ok(Some((used, head))) => Ok(Some(Request { used, head })),
        Ok(None) => Ok(None),
        Err(refusal) => Err(refusal.status),
    }
}

/// A response head the parser accepted, rewritten for the client.
pub struct Response {
    pub used: usize,
    pub status: u16,
    /// How the body is read from the backend.
    pub framing: Framing,
    pub dechunk: bool,
    pub reusable: bool,
    /// The head without its final empty line (the proxy adds
    /// `Connection` there).
    pub bytes: Vec<u8>,
}

/// Parses a backend's response head to `request`.
pub fn parse_response(buf: &[u8], request: &Request) -> Result<Option<Response>, u16> {
    match head::parse_response(buf, &request.head) {
        Ok(Some((used, r))) => Ok(Some(Response {
            used,
            status: r.status,
            framing: r.framing,
            dechunk: r.dechunk,
            reusable: r.reusable,
            bytes: r.bytes,
        })),
        Ok(None) => Ok(None),
        Err(refusal) => Err(refusal.status),
    }
}

/// A chunk-size line at the front of `buf`: its length with the CRLF and
/// the size, `Ok(None)` when incomplete.
pub fn chunk_line(buf: &[u8]) -> io::Result<Option<(usize, u64)>> {
    body::chunk_line(buf)
}

/// How a body is relayed.
#[derive(Debug, Clone, Copy)]
pub struct Relay {
    pub framing: Framing,
    pub dechunk: bool,
    pub max_trailer_bytes: usize,
    pub max_trailers: usize,
    /// Most bytes one read returns (at least 1): where reads split the
    /// input must never change what it means.
    pub read_size: usize,
}

/// What relaying a body from memory did.
#[derive(Debug)]
pub struct Relayed {
    /// The payload length, or why the body was refused.
    pub result: io::Result<u64>,
    /// What the next hop received.
    pub output: Vec<u8>,
    /// The input past what the relay consumed (read but unused bytes
    /// included): the next message on the connection.
    pub left: Vec<u8>,
}

/// Relays the body at the front of `input` to memory, as the data plane
/// relays one between two sockets (on a current-thread runtime).
pub fn relay(input: &[u8], how: Relay) -> Relayed {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime");
    }
    let mut src = Trickle {
        rest: input,
        step: how.read_size.max(1),
    };
    let mut buf = BytesMut::new();
    let mut output = Vec::new();
    let rules = BodyRules {
        idle: None,
        max_trailer_bytes: how.max_trailer_bytes,
        max_trailers: how.max_trailers,
        dechunk: how.dechunk,
    };
    let result = RUNTIME.with(|rt| {
        rt.block_on(body::relay(
            &mut src,
            &mut buf,
            &mut output,
            how.framing,
            rules,
        ))
    });
    let mut left = buf.to_vec();
    left.extend_from_slice(src.rest);
    Relayed {
        result,
        output,
        left,
    }
}

/// An in-memory sender whose reads return at most `step` bytes, as a
/// socket may.
struct Trickle<'a> {
    rest: &'a [u8],
    step: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.rest.len().min(self.step).min(out.remaining());
        let (now, later) = self.rest.split_at(n);
        out.put_slice(now);
        self.rest = later;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_body_is_relayed_from_memory_whatever_the_reads() {
        let input = b"5;x=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\n";
        for read_size in [1, 2, 7, 4096] {
            let how = Relay {
                framing: Framing::Chunked,
                dechunk: false,
                max_trailer_bytes: 1024,
                max_trailers: 8,
                read_size,
            };
            let relayed = relay(input, how);
            assert_eq!(relayed.result.unwrap(), 5);
            assert_eq!(relayed.output, b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n");
            assert_eq!(relayed.left, b"GET / HTTP/1.1\r\n");
            let plain = relay(
                input,
                Relay {
                    dechunk: true,
                    ..how
                },
            );
            assert_eq!(plain.output, b"hello");
        }
    }

    #[test]
    fn a_parsed_request_answers_for_its_response() {
        let settings = HttpSettings::default();
        let request = parse_request(
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
            &settings,
            "192.0.2.1",
        )
        .unwrap()
        .unwrap();
        assert!(request.is_head() && request.idempotent());
        assert_eq!(request.framing(), Framing::None);
        let response = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", &request)
            .unwrap()
            .unwrap();
        // A HEAD answer has no body, whatever its length says.
        assert_eq!(response.framing, Framing::None);
        assert!(String::from_utf8_lossy(&response.bytes).contains("Content-Length: 9\r\n"));
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n", &settings, "192.0.2.1").err(),
            Some(400)
        );
    }
}
