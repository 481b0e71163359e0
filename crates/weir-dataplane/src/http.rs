//! HTTP/1.1 listeners: keep-alive on both sides, a pooled connection set
//! per backend, `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Request-Id`,
//! and clear 502/503/504 answers when no backend can serve.
//!
//! Each request picks a backend. A request without a body whose connect
//! fails is tried on another backend; a pooled connection found closed
//! before the request was written is retried on a fresh one by the client
//! pool itself.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};

use crate::egress::Egress;
use crate::listener::ListenerRuntime;
use crate::pool::{ConnGuard, PoolRuntime};
use crate::tcp::pick;
use crate::Shared;

pub type Body = BoxBody<Bytes, hyper::Error>;

/// How long a backend may take to send response headers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle pooled backend connections are closed after this.
const POOL_IDLE: Duration = Duration::from_secs(30);

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
];

/// Dials backends through the egress guard, for the client pool.
#[derive(Clone)]
pub struct Connector {
    egress: Egress,
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let egress = self.egress.clone();
        Box::pin(async move {
            let authority = uri.authority().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "no authority")
            })?;
            let addr: SocketAddr = authority.as_str().parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "backend is not an address",
                )
            })?;
            egress.connect(addr).await.map(TokioIo::new)
        })
    }
}

/// The shared backend connection pool.
pub type Pool = Client<Connector, Body>;

/// Builds the client pool that every HTTP listener shares.
pub fn client(egress: Egress) -> Pool {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(256)
        .retry_canceled_requests(true)
        .set_host(false)
        .build(Connector { egress })
}

/// Accepts on one bound port until the task is aborted.
pub async fn accept_loop(
    listener: TcpListener,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        runtime.connections.fetch_add(1, Ordering::Relaxed);
        let (runtime, shared) = (runtime.clone(), shared.clone());
        tokio::spawn(async move {
            let service =
                service_fn(move |req| handle(req, peer, port, runtime.clone(), shared.clone()));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn plain(status: StatusCode, message: &str, request_id: &HeaderValue) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(format!("weir: {message}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("x-request-id", request_id.clone());
    response
}

fn has_body(req: &Request<Incoming>) -> bool {
    let headers = req.headers();
    headers.contains_key("transfer-encoding")
        || headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

async fn handle(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .filter(|v| v.len() <= 128)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&shared.next_request_id()).expect("ascii id"));
    prepare_headers(&mut req, peer, &request_id);
    let retryable = !has_body(&req);
    let (parts, body) = req.into_parts();
    let mut body = Some(body.boxed());
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();

    let scheduler = runtime.spec().scheduler;
    let pools = runtime.pools();
    let mut tried = Vec::new();
    let mut last_error = None;
    for _ in 0..shared.config.connect_attempts {
        let Some((pool, backend)) = pick(&pools, scheduler, peer.ip(), &tried) else {
            break;
        };
        let addr = PoolRuntime::address(&backend, port);
        let uri: Uri = match format!("http://{addr}{path_and_query}").parse() {
            Ok(uri) => uri,
            Err(_) => {
                return Ok(plain(
                    StatusCode::BAD_REQUEST,
                    "malformed request target",
                    &request_id,
                ))
            }
        };
        let mut upstream = Request::from_parts(
            parts.clone(),
            body.take()
                .unwrap_or_else(|| Empty::new().map_err(|never| match never {}).boxed()),
        );
        *upstream.uri_mut() = uri;
        let guard = ConnGuard::new(backend.clone());
        match tokio::time::timeout(RESPONSE_TIMEOUT, shared.http.request(upstream)).await {
            Ok(Ok(response)) => {
                pool.record_connect_success(&backend);
                backend.count_status(response.status().as_u16());
                let (mut parts, body) = response.into_parts();
                for name in HOP_BY_HOP {
                    parts.headers.remove(name);
                }
                parts.headers.insert("x-request-id", request_id.clone());
                // The guard rides with the body: the request counts as
                // active until its response has been streamed.
                let body = body.map_frame(move |frame| {
                    let _ = &guard;
                    frame
                });
                return Ok(Response::from_parts(parts, body.boxed()));
            }
            Ok(Err(e)) if e.is_connect() => {
                let io = std::io::Error::other(e.to_string());
                pool.record_connect_failure(&backend, &io);
                tried.push(backend.id.clone());
                last_error = Some(format!("backend {addr} refused the connection"));
                if !retryable {
                    break;
                }
            }
            Ok(Err(e)) if retryable => {
                // The connection broke before an answer (a pooled one the
                // backend had just closed, say): a request without a body
                // is safe to send again.
                tracing::debug!(request_id = ?request_id, backend = %addr, error = %e, "retrying request");
                last_error = Some(format!("backend {addr} failed: {e}"));
            }
            Ok(Err(e)) => {
                backend.count_status(502);
                tracing::warn!(request_id = ?request_id, backend = %addr, error = %e, "backend request failed");
                return Ok(plain(
                    StatusCode::BAD_GATEWAY,
                    &format!("backend {addr} failed: {e}"),
                    &request_id,
                ));
            }
            Err(_) => {
                backend.count_status(504);
                return Ok(plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!(
                        "backend {addr} did not answer within {} s",
                        RESPONSE_TIMEOUT.as_secs()
                    ),
                    &request_id,
                ));
            }
        }
    }
    runtime.failures.fetch_add(1, Ordering::Relaxed);
    Ok(match last_error {
        Some(error) => plain(StatusCode::BAD_GATEWAY, &error, &request_id),
        None => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "no healthy backend is available for this listener",
            &request_id,
        ),
    })
}

/// Drops hop-by-hop headers and adds the forwarding ones.
fn prepare_headers(req: &mut Request<Incoming>, peer: SocketAddr, request_id: &HeaderValue) {
    let headers = req.headers_mut();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    let client = peer.ip().to_string();
    let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(chain) => format!("{chain}, {client}"),
        None => client,
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    headers.insert(HeaderName::from_static("x-request-id"), request_id.clone());
    if !headers.contains_key(HOST) {
        if let Some(authority) = req.uri().authority().cloned() {
            if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
                req.headers_mut().insert(HOST, value);
            }
        }
    }
}
