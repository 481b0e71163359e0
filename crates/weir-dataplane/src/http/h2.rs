//! HTTP/2 to clients (ALPN `h2` on HTTPS listeners, h2c by prior
//! knowledge on HTTP ones), on the `h2` crate: framing, HPACK, flow
//! control and the stream state machine are its, the limits are set here.
//!
//! Each stream is one request served by the HTTP/1.1 engine
//! ([`stream`]): its head is written as HTTP/1.1 and parsed by the same
//! parser as any client's, so L7 policies, the allow list, balancing,
//! sticky cookies, retries, `X-Forwarded-*` (Proto `https` over TLS),
//! timeouts and metrics are one code path for both versions, and members
//! keep seeing pooled HTTP/1.1 connections.
//!
//! Limits (defaults; the HTTP/1.1 ones apply per stream on top):
//! - at most [`MAX_STREAMS`] concurrent streams (SETTINGS), and at most
//!   twice that many stream tasks alive (streams the client reset but
//!   whose work is still winding down): past it the connection is
//!   closed with `ENHANCE_YOUR_CALM`;
//! - header list: `http_max_head_bytes` plus 32 bytes per field
//!   (`SETTINGS_MAX_HEADER_LIST_SIZE`, enforced while decoding, so
//!   CONTINUATION floods and HPACK bombs stop there; the decoded head is
//!   then held to `http_max_head_bytes` / `http_max_headers` like any
//!   HTTP/1.1 head); HPACK table 4 KiB;
//! - flow control: [`STREAM_WINDOW`] per stream, [`CONNECTION_WINDOW`]
//!   per connection, released only as the member takes the body, and at
//!   most [`SEND_BUFFER`] of response data queued per stream;
//! - rapid reset (CVE-2023-44487): streams reset before they were
//!   accepted are capped by h2 (`max_pending_accept_reset_streams`, 20),
//!   a stream reset after it was accepted stops its work at once (the
//!   member connection is dropped), a connection whose client reset
//!   more than [`RESET_BUDGET`] streams and more than half of all it
//!   opened gets GOAWAY `ENHANCE_YOUR_CALM` (each reset stream may have
//!   cost a member request: the attack's amplification), and streams a
//!   client keeps provoking errors on are capped by
//!   `max_local_error_reset_streams` (1024);
//! - SETTINGS and PING floods: h2 answers one at a time and stops reading
//!   while an answer waits to be written, so a peer that does not read
//!   only fills its own window;
//! - the handshake (preface and SETTINGS) within `http_head_timeout_ms`;
//!   a connection with no open stream for `http_keepalive_timeout_ms`
//!   (the listener's client idle timeout) is sent GOAWAY and closed,
//!   whatever PINGs keep arriving;
//! - extended CONNECT (WebSocket over HTTP/2, RFC 8441) is not offered
//!   (`SETTINGS_ENABLE_CONNECT_PROTOCOL` stays off, so h2 refuses a
//!   `:protocol`), and plain CONNECT is answered 501.
//!
//! Drain: when the listener stops, GOAWAY is sent at once; streams in
//! flight finish, each under its own timeouts, and the connection is
//! closed when they have or `http_keepalive_timeout_ms` after the
//! GOAWAY, whichever comes first.

mod stream;

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Origin;

/// Concurrent streams a client may open on one connection.
pub const MAX_STREAMS: u32 = 100;
/// Initial flow-control window of each stream (request bodies).
pub const STREAM_WINDOW: u32 = 256 * 1024;
/// Flow-control window of a whole connection.
pub const CONNECTION_WINDOW: u32 = 1024 * 1024;
/// Response data one stream may have queued for the client.
pub const SEND_BUFFER: usize = 256 * 1024;
/// Streams a client may reset before Weir accepted them (h2's default,
/// named here so it is a decision, not an accident).
const PENDING_RESETS: usize = 20;
/// Stream errors a client may provoke on one connection.
const LOCAL_ERROR_RESETS: usize = 1024;
/// Streams a client may reset after Weir took them before its
/// connection is judged a rapid-reset attack (when they are also more
/// than half of its streams: browsers cancel some, never most).
pub const RESET_BUDGET: u64 = 100;
/// HPACK's per-field overhead in the header list size (RFC 9113 §6.5.2).
const FIELD_OVERHEAD: usize = 32;

/// What the connection loop woke up for.
enum Event {
    Stream(Box<stream::Accepted>),
    Closed,
    Finished(bool),
    Idle,
    Stop,
    Deadline,
}

/// Streams a connection opened, and how many its client reset after
/// they were taken.
#[derive(Default)]
struct Resets {
    opened: u64,
    reset: u64,
}

impl Resets {
    /// Counts a stream that ended; true once the client is judged to be
    /// resetting streams as an attack.
    fn finished(&mut self, reset: bool) -> bool {
        self.reset += u64::from(reset);
        self.reset > RESET_BUDGET && self.reset * 2 > self.opened
    }
}

/// Ends a connection whose client misbehaves: GOAWAY `ENHANCE_YOUR_CALM`
/// now, and the deadline by which it is closed (long enough for the
/// GOAWAY to leave).
fn calm_down<T: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut h2::server::Connection<T, bytes::Bytes>,
) -> Instant {
    conn.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
    Instant::now() + Duration::from_secs(1)
}

/// Serves one HTTP/2 connection until the client closes it, it idles out,
/// or the listener stops and its streams are done.
pub(crate) async fn serve<C: AsyncRead + AsyncWrite + Unpin>(io: C, origin: Origin) {
    let settings = origin
        .shared
        .config
        .http
        .for_listener(&origin.runtime.spec());
    let header_list = settings.max_head_bytes + FIELD_OVERHEAD * settings.max_headers;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(u32::try_from(header_list).unwrap_or(u32::MAX))
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(SEND_BUFFER)
        .max_pending_accept_reset_streams(PENDING_RESETS)
        .max_local_error_reset_streams(Some(LOCAL_ERROR_RESETS));
    let handshake = tokio::time::timeout(settings.head_timeout, builder.handshake(io)).await;
    let mut conn = match handshake {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(client = %origin.peer, error = %e, "HTTP/2 handshake failed");
            return;
        }
        Err(_) => return,
    };
    origin
        .runtime
        .h2_connections
        .fetch_add(1, Ordering::Relaxed);
    let mut streams = JoinSet::new();
    let mut stopped = origin.runtime.stopped();
    // Draining for a successor ends the connection as a stop does (GOAWAY).
    let mut draining = origin.shared.handover.draining();
    let mut idle_since = Instant::now();
    let mut closing: Option<Instant> = None;
    let mut resets = Resets::default();
    loop {
        // Reaped without waiting, so the task count is the live streams'.
        while let Some(done) = streams.try_join_next() {
            idle_since = Instant::now();
            if resets.finished(done.unwrap_or(false)) && closing.is_none() {
                tracing::debug!(client = %origin.peer, "HTTP/2 rapid reset");
                closing = Some(calm_down(&mut conn));
            }
        }
        let idle = streams.is_empty() && closing.is_none();
        let idle_at = idle_since + settings.keepalive_timeout;
        let close_at = closing.unwrap_or(idle_at);
        let event = if (*stopped.borrow_and_update() || *draining.borrow_and_update())
            && closing.is_none()
        {
            Event::Stop
        } else {
            tokio::select! {
                biased;
                _ = stopped.changed(), if closing.is_none() => Event::Stop,
                _ = draining.changed(), if closing.is_none() => Event::Stop,
                accepted = conn.accept() => match accepted {
                    Some(Ok((request, respond))) => {
                        Event::Stream(Box::new(stream::Accepted { request, respond }))
                    }
                    Some(Err(e)) => {
                        tracing::debug!(client = %origin.peer, error = %e, "HTTP/2 connection error");
                        Event::Closed
                    }
                    None => Event::Closed,
                },
                Some(done) = streams.join_next(), if !streams.is_empty() => {
                    Event::Finished(done.unwrap_or(false))
                }
                () = tokio::time::sleep_until(idle_at), if idle => Event::Idle,
                () = tokio::time::sleep_until(close_at), if closing.is_some() => Event::Deadline,
            }
        };
        match event {
            Event::Stream(accepted) => {
                origin.runtime.h2_streams.fetch_add(1, Ordering::Relaxed);
                resets.opened += 1;
                if streams.len() >= 2 * MAX_STREAMS as usize {
                    // Only streams the client reset and opened again can
                    // outnumber the concurrency limit.
                    tracing::debug!(client = %origin.peer, "HTTP/2 stream tasks over the limit");
                    closing = Some(calm_down(&mut conn));
                    continue;
                }
                streams.spawn(stream::serve(*accepted, origin.clone()));
            }
            Event::Finished(reset) => {
                idle_since = Instant::now();
                if resets.finished(reset) && closing.is_none() {
                    tracing::debug!(client = %origin.peer, "HTTP/2 rapid reset");
                    closing = Some(calm_down(&mut conn));
                }
            }
            Event::Idle | Event::Stop => {
                conn.graceful_shutdown();
                closing = Some(Instant::now() + settings.keepalive_timeout);
            }
            Event::Closed | Event::Deadline => break,
        }
    }
    // Whatever is still running served a connection that is gone.
    streams.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_are_an_attack_past_the_budget_and_half_the_streams() {
        // A browser cancelling some of many streams is not.
        let mut r = Resets {
            opened: 1000,
            ..Default::default()
        };
        assert!(!(0..200).any(|_| r.finished(true)));
        assert!(!(0..500).any(|_| r.finished(false)));
        let mut r = Resets {
            opened: RESET_BUDGET + 1,
            ..Default::default()
        };
        let judged: Vec<bool> = (0..=RESET_BUDGET).map(|_| r.finished(true)).collect();
        assert!(!judged[..RESET_BUDGET as usize].iter().any(|j| *j));
        assert!(judged[RESET_BUDGET as usize]);
    }
}
