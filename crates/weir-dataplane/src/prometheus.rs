//! `prometheus` listeners (Octavia's PROMETHEUS protocol, API 2.25): on
//! the load balancer's VIP and port, `GET /metrics` answers the text
//! exposition of that load balancer's own listeners and backends
//! ([`crate::metrics`]); nothing is forwarded anywhere.
//!
//! The listener's allow list is checked by the shared accept loop before
//! a byte is read (the metrics name the load balancer's topology), its
//! connection cap holds as for any listener, and the head must arrive
//! within the listener's HTTP head deadline (its client timeout caps
//! it). One request per connection: the answer closes it, so a client
//! cannot hold a slot past one scrape, and no request body is ever read
//! (a request announcing one is refused).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::listener::ListenerRuntime;
use crate::Shared;

/// The path Octavia's amphora serves the exposition on.
const PATH: &str = "/metrics";

/// The exposition format's content type (text format 0.0.4).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn accept_loop(
    listener: TcpListener,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    crate::listener::accept_each(listener, &runtime, &shared, |stream, _peer| {
        runtime.connections.fetch_add(1, Ordering::Relaxed);
        serve(stream, runtime.clone(), shared.clone())
    })
    .await;
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    /// The exposition; `false`: HEAD (the head only).
    Metrics {
        body: bool,
    },
    Answer(u16, &'static str),
}

/// Reads one request head and answers it.
async fn serve(mut client: TcpStream, runtime: Arc<ListenerRuntime>, shared: Arc<Shared>) {
    let spec = runtime.spec();
    let settings = shared.config.http.for_listener(&spec);
    let max = settings.max_head_bytes;
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            if let Some(ask) = parse(&buf, settings.max_headers) {
                return Some(ask);
            }
            if buf.len() >= max {
                return Some(Ask::Answer(431, "Request Header Fields Too Large"));
            }
            let mut chunk = vec![0; (max - buf.len()).min(4096)];
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let ask = match tokio::time::timeout(settings.head_timeout, read).await {
        Ok(Some(ask)) => ask,
        Ok(None) => return,
        Err(_) => Ask::Answer(408, "Request Timeout"),
    };
    let (status, reason, body, send_body) = match ask {
        Ask::Metrics { body } => (200, "OK", shared.scraper.render(&spec.lb_id), body),
        Ask::Answer(status, reason) => {
            runtime.failures.fetch_add(1, Ordering::Relaxed);
            (status, reason, format!("weir: {reason}\n"), true)
        }
    };
    let content_type = if status == 200 {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if send_body {
        out.extend_from_slice(body.as_bytes());
    }
    let _ = client.write_all(&out).await;
    let _ = client.shutdown().await;
}

/// The answer to a complete head, or `None` while it is incomplete.
fn parse(buf: &[u8], max_headers: usize) -> Option<Ask> {
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers.clamp(1, 1024)];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => {
            Some(Ask::Answer(431, "Request Header Fields Too Large"))
        }
        Err(_) => Some(Ask::Answer(400, "Bad Request")),
        Ok(httparse::Status::Complete(_)) => Some(answer(&req)),
    }
}

fn answer(req: &httparse::Request<'_, '_>) -> Ask {
    // A body is never read: one announced would be left unread on a
    // connection that is closed anyway, but refusing it keeps the rule
    // of the HTTP engine (one reading of every request).
    let announces_body = req.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
    });
    if announces_body {
        return Ask::Answer(400, "Bad Request");
    }
    let path = req.path.unwrap_or_default();
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let body = match req.method.unwrap_or_default() {
        "GET" => true,
        "HEAD" => false,
        _ => return Ask::Answer(405, "Method Not Allowed"),
    };
    if path != PATH {
        return Ask::Answer(404, "Not Found");
    }
    Ask::Metrics { body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_or_head_of_metrics_is_the_exposition() {
        let ask = |head: &str| parse(head.as_bytes(), 100);
        assert_eq!(ask("GET /metrics HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Ask::Metrics { body: true })
        );
        assert_eq!(
            ask("GET /metrics?name=x HTTP/1.0\r\n\r\n"),
            Some(Ask::Metrics { body: true })
        );
        assert_eq!(
            ask("HEAD /metrics HTTP/1.1\r\n\r\n"),
            Some(Ask::Metrics { body: false })
        );
        assert_eq!(
            ask("GET / HTTP/1.1\r\n\r\n"),
            Some(Ask::Answer(404, "Not Found"))
        );
        assert_eq!(
            ask("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            Some(Ask::Answer(405, "Method Not Allowed"))
        );
        for with_body in [
            "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(ask(with_body), Some(Ask::Answer(400, "Bad Request")));
        }
        assert_eq!(
            ask("\x16\x03\x01\r\n\r\n"),
            Some(Ask::Answer(400, "Bad Request"))
        );
    }
}
