//! One request's trip to a backend: pick one, reuse an idle connection or
//! open one, send the head and body, relay the answer, and decide what may
//! be tried again.
//!
//! Retries: a connect that fails sent nothing, so any request may go to
//! another backend (`connect_attempts` in all). A backend that takes the
//! request and then fails it before the client has seen a byte (resets,
//! closes, answers something that is not HTTP, or stays silent past
//! `response_timeout`) counts against it for passive ejection just as a
//! failed connect does, and only an idempotent request without a body goes
//! on to the next backend (each at most once, `idempotent_attempts` in
//! all): anything else may have been acted on and gets 502 or 504. A reused
//! idle connection that closes before answering is the backend's keep-alive
//! timer, not a fault: the same idempotent request is sent once more on a
//! fresh connection, other requests get 502, and their idle connection is
//! probed for a close before use to make that rare.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::body::{self, BodyRules};
use super::head::{self, Framing, HeadError, RequestContext, RequestHead};
use super::sticky;
use super::upgrade;
use super::{answer, refuse, Refusal, CHUNK};
use crate::histogram::Histogram;
use crate::listener::ListenerRuntime;
use crate::pool::{BackendRuntime, ConnGuard, PassiveFailure, PoolRuntime, Sticky};
use crate::tcp::pick;
use crate::upstream_tls::{Dialer, MemberStream};
use weir_core::ids::BackendId;
use weir_core::model::{Persistence, Scheduler};
use weir_core::topology::L7Target;

/// An open connection to a backend, and the generation of the pool's
/// dialer that made it.
struct Upstream {
    stream: MemberStream,
    pooled: bool,
    generation: u64,
}

/// A client connection's read buffers, kept across its requests.
pub(super) struct Buffers<'a> {
    pub client: &'a mut BytesMut,
    pub upstream: &'a mut BytesMut,
}

/// How a connection to the backend is chosen.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reuse {
    /// An idle one as it is: a request that may be sent again if it was
    /// closed meanwhile.
    Idle,
    /// An idle one checked for a close first (one extra system call).
    Probed,
    /// A new one: the resend after a reused connection failed.
    Fresh,
}

/// An idle pooled connection to `backend` made by the pool's current
/// dialer, or a new one (over TLS when the pool re-encrypts).
async fn checkout(
    backend: &BackendRuntime,
    dialer: &Dialer,
    addr: SocketAddr,
    cx: &RequestContext<'_>,
    reuse: Reuse,
) -> io::Result<Upstream> {
    let generation = dialer.generation;
    while let Some(stream) = (reuse != Reuse::Fresh)
        .then(|| backend.take_idle(generation))
        .flatten()
    {
        if reuse == Reuse::Idle {
            return Ok(Upstream {
                stream,
                pooled: true,
                generation,
            });
        }
        // An idle connection the backend has closed reads EOF (or an
        // error) at once; anything else means it is still usable. (A
        // byte read here, TLS or not, discards the connection.)
        let mut byte = [0u8; 1];
        if matches!(stream.tcp().try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        {
            return Ok(Upstream {
                stream,
                pooled: true,
                generation,
            });
        }
    }
    let stream = dialer
        .connect(
            &cx.shared.egress,
            backend,
            addr,
            cx.settings.connect_timeout,
        )
        .await?;
    Ok(Upstream {
        stream,
        pooled: false,
        generation,
    })
}

/// How one attempt at a request ended.
enum Attempt {
    /// The answer was relayed; whether the client connection stays open.
    Done(bool),
    /// A reused idle connection closed before answering: the backend may
    /// have timed it out meanwhile, which is no fault of its own.
    Stale(io::Error),
    /// The backend failed and nothing reached the client: it is counted
    /// against the backend (passive health), and the request may go to
    /// another one if that is safe ([`Failure::kind`] says).
    Failed(Failure),
    /// The exchange broke after the client saw part of it, or cannot be
    /// repeated: close the client connection.
    Broken,
    /// The member switched to WebSocket and the client has its `101`:
    /// what is left is the tunnel ([`super::upgrade`]).
    Upgraded(MemberStream, ConnGuard),
}

/// A backend's failure to serve one attempt.
struct Failure {
    /// A failed connect sent nothing, so any request may move on; a
    /// failed answer may have been acted on, so only a repeatable one may.
    kind: PassiveFailure,
    /// What the client gets if no other backend serves the request.
    status: u16,
    message: String,
}

impl Failure {
    fn connect(addr: SocketAddr, error: &io::Error) -> Self {
        Self {
            kind: PassiveFailure::Connect,
            status: 502,
            message: format!("backend {addr}: {error}"),
        }
    }

    fn response(status: u16, message: String) -> Self {
        Self {
            kind: PassiveFailure::Response,
            status,
            message,
        }
    }

    fn reason(&self) -> &'static str {
        if self.status == 504 {
            "Gateway Timeout"
        } else {
            "Bad Gateway"
        }
    }
}

/// Where a request goes: the client, the port it came in on, the listener
/// and the persistence its connection started with.
pub(super) struct Destination<'a> {
    pub peer: SocketAddr,
    pub port: u16,
    pub runtime: &'a ListenerRuntime,
    pub persistence: Option<&'a Persistence>,
    /// The pool an L7 policy chose, instead of the listener's own.
    pub l7_target: Option<&'a L7Target>,
}

/// The first pool (own, then LB-wide) with an eligible backend decides,
/// as in [`pick`]; a sticky key first picks what it names there.
fn pick_for(
    pools: &[Arc<PoolRuntime>],
    scheduler: Scheduler,
    client: SocketAddr,
    sticky: Option<Sticky>,
    exclude: &[BackendId],
) -> Option<(Arc<PoolRuntime>, Arc<BackendRuntime>)> {
    let Some(sticky) = sticky else {
        return pick(pools, scheduler, client, exclude);
    };
    pools.iter().find_map(|p| {
        p.pick_sticky(scheduler, client, sticky, exclude)
            .map(|b| (p.clone(), b))
    })
}

/// Sends one request to a backend and relays the answer. `Some(keep)` when
/// the client connection is still in a clean state.
pub(super) async fn forward<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    buffers: Buffers<'_>,
    head: &RequestHead,
    to: Destination<'_>,
    cx: &RequestContext<'_>,
) -> Option<bool> {
    let Destination {
        peer,
        port,
        runtime,
        persistence,
        l7_target,
    } = to;
    let shared = cx.shared;
    // The head was just read: the request's latency counts from here.
    let started = Instant::now();
    let spec = runtime.spec();
    // An L7 target serves with its own algorithm and persistence, as the
    // listener's own pool does with its.
    let (pools, scheduler, persistence) = match l7_target {
        Some(t) => (
            runtime
                .l7_pools()
                .get(&t.pool_id)
                .cloned()
                .unwrap_or_default(),
            t.scheduler,
            t.persistence.as_ref(),
        ),
        None => (runtime.pools(), spec.scheduler, persistence),
    };
    // A sticky backend that fails is in `tried` like any other, so a
    // retry moves on to the normal pick (and an HTTP_COOKIE client gets
    // the new backend's cookie).
    let sticky = persistence
        .zip(head.sticky.as_deref())
        .and_then(|(p, value)| sticky::key(p, value));
    let inserts_cookie = matches!(persistence, Some(Persistence::HttpCookie));
    // Backends without a port of their own: one port for every attempt.
    let dial_port = spec.inherited_port(port);
    let Buffers {
        client: cbuf,
        upstream: ubuf,
    } = buffers;
    let repeatable = head.idempotent && !head.framing.has_body();
    let first_reuse = if repeatable {
        Reuse::Idle
    } else {
        Reuse::Probed
    };
    let mut reuse = first_reuse;
    // Each backend is tried at most once (`pick` skips the ones tried), so
    // a request never waits on more failures than there are backends.
    let max_backends = if repeatable {
        let config = &shared.config;
        config.connect_attempts.max(config.http.idempotent_attempts)
    } else {
        shared.config.connect_attempts
    };
    let mut tried = Vec::new();
    let mut last_failure: Option<(Arc<BackendRuntime>, Failure)> = None;
    while tried.len() < max_backends {
        let Some((pool, backend)) = pick_for(&pools, scheduler, peer, sticky, &tried) else {
            break;
        };
        let addr = PoolRuntime::address(&backend, dial_port);
        let set_cookie = if inserts_cookie && sticky != Some(Sticky::Backend(backend.cookie_token))
        {
            sticky::set_cookie(backend.cookie_token)
        } else {
            Vec::new()
        };
        let dialer = pool.dialer();
        let to = Target {
            backend: &backend,
            dialer: &dialer,
            addr,
            set_cookie: &set_cookie,
            latency: (&runtime.request_duration, started),
        };
        ubuf.clear();
        match attempt(client, cbuf, ubuf, head, to, cx, reuse).await {
            Attempt::Done(keep) => {
                pool.record_success(&backend);
                return Some(keep);
            }
            Attempt::Stale(e) if repeatable && reuse != Reuse::Fresh => {
                tracing::debug!(request_id = %head.request_id, backend = %addr, error = %e, "resending request on a fresh connection");
                reuse = Reuse::Fresh;
            }
            Attempt::Stale(e) => {
                let failure = Failure::response(502, format!("backend {addr}: {e}"));
                last_failure = Some((backend, failure));
                break;
            }
            Attempt::Failed(failure) => {
                pool.record_failure(&backend, failure.kind, &failure.message);
                tried.push(backend.id.clone());
                reuse = first_reuse;
                let may_move_on = repeatable || failure.kind == PassiveFailure::Connect;
                if may_move_on {
                    tracing::debug!(request_id = %head.request_id, backend = %addr, error = %failure.message, "trying another backend");
                }
                last_failure = Some((backend, failure));
                if !may_move_on {
                    break;
                }
            }
            Attempt::Broken => return None,
            Attempt::Upgraded(stream, guard) => {
                pool.record_success(&backend);
                runtime.upgrades.fetch_add(1, Ordering::Relaxed);
                let idle = Duration::from_millis(
                    spec.relay_idle_ms(shared.config.tcp_idle_timeout.as_millis() as u64),
                );
                let limits = upgrade::TunnelLimits { idle };
                let (out, back) = upgrade::tunnel(client, cbuf, stream, ubuf, &guard, limits).await;
                backend.bytes_out.fetch_add(out, Ordering::Relaxed);
                backend.bytes_in.fetch_add(back, Ordering::Relaxed);
                // The connection spoke another protocol: it ends with it.
                return Some(false);
            }
        }
    }
    runtime.failures.fetch_add(1, Ordering::Relaxed);
    // Only a body-less request leaves the client connection clean: a body
    // may be half read.
    let keep = !head.framing.has_body() && head.keep_alive;
    let sent = match last_failure {
        Some((backend, failure)) => {
            backend.count_status(failure.status);
            let (status, reason) = (failure.status, failure.reason());
            answer(
                client,
                status,
                reason,
                &failure.message,
                &head.request_id,
                keep,
            )
            .await
        }
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
    // Weir's own answer is the response head this request waited for.
    runtime.request_duration.observe(started.elapsed());
    sent.ok().map(|()| keep)
}

/// The backend one attempt goes to, and what its response head gains.
struct Target<'a> {
    backend: &'a Arc<BackendRuntime>,
    dialer: &'a Dialer,
    addr: SocketAddr,
    /// A `Set-Cookie` line (HTTP_COOKIE) or nothing.
    set_cookie: &'a [u8],
    /// The listener's request histogram and when the request's head was
    /// read: the final response head's write is observed there.
    latency: (&'a Histogram, Instant),
}

async fn attempt<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    cbuf: &mut BytesMut,
    ubuf: &mut BytesMut,
    head: &RequestHead,
    to: Target<'_>,
    cx: &RequestContext<'_>,
    reuse: Reuse,
) -> Attempt {
    let Target {
        backend,
        dialer,
        addr,
        set_cookie,
        latency,
    } = to;
    let settings = cx.settings;
    let mut up = match checkout(backend, dialer, addr, cx, reuse).await {
        Ok(up) => up,
        Err(e) => return Attempt::Failed(Failure::connect(addr, &e)),
    };
    let guard = ConnGuard::new(backend.clone());
    if let Err(e) = up.stream.write_all(&head.bytes).await {
        // Refused before the head was taken in: as good as a failed
        // connect.
        return if up.pooled {
            Attempt::Stale(e)
        } else {
            Attempt::Failed(Failure::connect(addr, &e))
        };
    }
    // What crosses the wire with the member, heads included, as the TCP
    // relay and the dialects' byte statistics count it.
    backend
        .bytes_out
        .fetch_add(head.bytes.len() as u64, Ordering::Relaxed);
    if head.framing.has_body() {
        if head.expect_continue
            && cbuf.is_empty()
            && client
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return Attempt::Broken;
        }
        let rules = BodyRules {
            idle: Some(settings.body_timeout),
            max_trailer_bytes: settings.max_head_bytes,
            max_trailers: settings.max_headers,
            dechunk: false,
        };
        let relayed = body::relay(client, cbuf, &mut up.stream, head.framing, rules).await;
        if let Ok(n) = relayed {
            backend.bytes_out.fetch_add(n, Ordering::Relaxed);
        }
        if let Err(e) = relayed {
            tracing::debug!(request_id = %head.request_id, error = %e, "request body relay failed");
            // The backend connection is dropped with a partial body: it
            // can never read what follows as a request of its own.
            let refusal = match e.kind() {
                io::ErrorKind::InvalidData => Some(Refusal {
                    status: 400,
                    message: "invalid chunked request body",
                }),
                io::ErrorKind::TimedOut => Some(Refusal {
                    status: 408,
                    message: "request body stalled",
                }),
                _ => None,
            };
            if let Some(refusal) = refusal {
                refuse(client, refusal, &head.request_id).await;
            }
            return Attempt::Broken;
        }
    }
    let mut sent_any = false;
    loop {
        let parsed = tokio::time::timeout(
            settings.response_timeout,
            head::read_head(&mut up.stream, ubuf, head::MAX_RESPONSE_HEAD, |b| {
                head::parse_response(b, head)
            }),
        )
        .await;
        // Until the client has seen a byte, a failure is the backend's
        // alone and the request may still go elsewhere.
        let response = match parsed {
            Ok(Ok(response)) => response,
            _ if sent_any => return Attempt::Broken,
            // Closed before a byte of an answer: the idle connection was
            // stale (or the backend dropped the request).
            Ok(Err(HeadError::Closed | HeadError::Io(_))) if up.pooled => {
                return Attempt::Stale(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "pooled connection closed",
                ));
            }
            Ok(Err(HeadError::Closed | HeadError::Io(_))) => {
                let message = format!("backend {addr} closed without answering");
                return Attempt::Failed(Failure::response(502, message));
            }
            Ok(Err(HeadError::Refused(refusal))) => {
                tracing::debug!(request_id = %head.request_id, backend = %addr, reason = refusal.message, "refused a response");
                let message = format!("backend {addr}: {}", refusal.message);
                return Attempt::Failed(Failure::response(502, message));
            }
            Err(_) => {
                let message = format!(
                    "backend {addr} did not answer within {} ms",
                    settings.response_timeout.as_millis()
                );
                return Attempt::Failed(Failure::response(504, message));
            }
        };
        backend
            .bytes_in
            .fetch_add(response.bytes.len() as u64, Ordering::Relaxed);
        let interim = (100..200).contains(&response.status);
        if interim && head.http10 {
            // An HTTP/1.0 client knows no interim answers (RFC 9110 §15.2).
            continue;
        }
        let to_client_closes = response.framing == Framing::Close || response.dechunk;
        let keep_client = head.keep_alive && !to_client_closes;
        let mut out = response.bytes;
        if !interim || response.switching {
            // A WebSocket handshake is routed like any request, so it
            // gets its persistence cookie too.
            out.extend_from_slice(set_cookie);
        }
        if !interim {
            if !keep_client {
                out.extend_from_slice(b"Connection: close\r\n");
            } else if head.http10 {
                out.extend_from_slice(b"Connection: keep-alive\r\n");
            }
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
        if !interim || response.switching {
            latency.0.observe(latency.1.elapsed());
        }
        sent_any = true;
        if response.switching {
            backend.count_status(response.status);
            return Attempt::Upgraded(up.stream, guard);
        }
        if interim {
            continue;
        }
        backend.count_status(response.status);
        // A backend silent mid-body is given up on like one silent before
        // its head (HAProxy's `timeout server`, nginx's
        // `proxy_read_timeout`): otherwise it holds the client for ever.
        let rules = BodyRules {
            idle: Some(settings.response_timeout),
            max_trailer_bytes: head::MAX_RESPONSE_HEAD,
            max_trailers: head::MAX_HEADERS_LIMIT,
            dechunk: response.dechunk,
        };
        match body::relay(&mut up.stream, ubuf, client, framing, rules).await {
            Ok(n) => {
                backend.bytes_in.fetch_add(n, Ordering::Relaxed);
            }
            Err(_) => return Attempt::Broken,
        }
        drop(guard);
        if response.reusable && ubuf.is_empty() {
            backend.put_idle(up.stream, up.generation);
        }
        return Attempt::Done(keep_client);
    }
}
