//! WebSocket over HTTP/1.1 (RFC 6455 §4, RFC 9110 §7.8): which requests
//! may switch protocols, which `101` is believed, and the byte tunnel the
//! connection becomes after it.
//!
//! Only `websocket` passes. A request upgrades when it is an HTTP/1.1
//! `GET` whose `Connection` names `upgrade` and whose `Upgrade` names
//! `websocket`; it goes on with exactly `Connection: upgrade` and
//! `Upgrade: websocket` (other tokens are dropped: `h2c` in particular
//! must never reach a member, which could then speak HTTP/2 on a
//! connection Weir parses as HTTP/1.1). Anything else that names
//! `Upgrade` is served as a plain request with the field removed, as
//! before: HTTP/1.0 (RFC 9110 §7.8 says to ignore it there), other
//! methods, other protocols. An upgrade request with a body is refused
//! (400): after a 101 nobody could say where the body ends and the new
//! protocol begins, the classic upgrade smuggling.
//!
//! A member's `101` is believed only for a request that upgraded and only
//! when its own `Upgrade` names `websocket`; any other 101 is a 502 and
//! the member's connection is closed, never a tunnel (a member must not
//! turn a plain request into an open pipe past the parser). Bytes the
//! client sent after its handshake wait in the read buffer: after a 101
//! they are the tunnel's first bytes, after any other answer they are the
//! next request.
//!
//! The tunnel is the TCP relay's rules on an HTTP connection: bytes both
//! ways with half-closes passed on, closed when silent both ways for the
//! listener's idle timeout (the shorter of its client and member
//! timeouts) or at the member's drain deadline, counted in
//! `weir_listener_upgrades_total`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::upstream_tls::MemberStream;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::head::Framing;
use crate::pool::ConnGuard;
use crate::tcp::Activity;

/// The fields an upgrading request goes on with (after its framing).
pub(super) const REQUEST_FIELDS: &[u8] = b"Connection: upgrade\r\nUpgrade: websocket\r\n";
/// The fields a believed `101` goes to the client with.
pub(super) const RESPONSE_FIELDS: &[u8] = b"Connection: upgrade\r\nUpgrade: websocket\r\n";

/// Tunnel copy buffer per direction.
const TUNNEL_BUF: usize = 16 * 1024;

/// Whether an `Upgrade` field's protocols include `websocket` (a
/// protocol's version, `websocket/13`, is not RFC 6455's spelling and does
/// not count).
pub(super) fn names_websocket(value: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(b"websocket"))
}

fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// Whether a request is a WebSocket handshake to forward as one; an
/// error when it asks to upgrade with a body.
pub(super) fn request_upgrades(
    method: &str,
    http10: bool,
    connection_upgrade: bool,
    websocket: bool,
    framing: Framing,
) -> Result<bool, &'static str> {
    let asks = connection_upgrade && websocket && !http10;
    if asks && framing.has_body() {
        return Err("an upgrade request must not carry a body");
    }
    Ok(asks && method == "GET")
}

/// Whether a `101` may be believed: only for a request that upgraded, and
/// only to the protocol it asked for.
pub(super) fn check_switch(requested: bool, websocket: bool) -> Result<(), &'static str> {
    if !requested {
        return Err("101 Switching Protocols for a request that did not ask to upgrade");
    }
    if !websocket {
        return Err("101 Switching Protocols to a protocol other than websocket");
    }
    Ok(())
}

/// What a tunnel is held to.
pub(super) struct TunnelLimits {
    /// Closed when no byte has moved either way for this long.
    pub idle: Duration,
}

/// Relays bytes between the client and the member after a `101` until
/// both have finished, the tunnel idles out, or the member's drain
/// deadline passes. `early` holds what the client sent after its
/// handshake, `late` what the member sent after its `101`. Returns the
/// bytes moved (to the member, to the client).
pub(super) async fn tunnel<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    early: &mut BytesMut,
    mut upstream: MemberStream,
    late: &mut BytesMut,
    guard: &ConnGuard,
    limits: TunnelLimits,
) -> (u64, u64) {
    let activity = Activity::new();
    let mut closer = guard.backend().closer();
    let (to_member, to_client) = (early.len() as u64, late.len() as u64);
    if upstream.write_all(early).await.is_err() || client.write_all(late).await.is_err() {
        return (0, 0);
    }
    early.clear();
    late.clear();
    let (client_read, client_write) = tokio::io::split(client);
    let (member_read, member_write) = tokio::io::split(upstream);
    let finished = AtomicBool::new(false);
    let both = async {
        tokio::join!(
            pump(client_read, member_write, &finished, &activity),
            pump(member_read, client_write, &finished, &activity)
        )
    };
    tokio::select! {
        (up, down) = both => (to_member + up.unwrap_or(0), to_client + down.unwrap_or(0)),
        () = crate::tcp::closed(&mut closer) => {
            tracing::debug!(backend = %guard.backend().id, "drain deadline closed a tunnel");
            (to_member, to_client)
        }
        () = activity.idle_for(limits.idle) => {
            tracing::debug!(backend = %guard.backend().id, "idle timeout closed a tunnel");
            (to_member, to_client)
        }
    }
}

/// Copies one direction; the first side to finish passes its half-close
/// on (the other's end closes both).
async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    mut from: R,
    mut to: W,
    finished: &AtomicBool,
    activity: &Activity,
) -> io::Result<u64> {
    let mut buf = vec![0u8; TUNNEL_BUF];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await?;
        activity.touch();
        if n == 0 {
            if !finished.swap(true, Ordering::Relaxed) {
                to.shutdown().await?;
            }
            return Ok(total);
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        activity.touch();
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_websocket_upgrades_and_never_with_a_body() {
        let get = |conn, ws, http10, framing| request_upgrades("GET", http10, conn, ws, framing);
        assert_eq!(get(true, true, false, Framing::None), Ok(true));
        assert_eq!(get(true, true, false, Framing::Length(0)), Ok(true));
        assert!(get(true, true, false, Framing::Length(5)).is_err());
        assert!(get(true, true, false, Framing::Chunked).is_err());
        // HTTP/1.0 ignores Upgrade (RFC 9110 §7.8), whatever it carries.
        assert_eq!(get(true, true, true, Framing::Length(5)), Ok(false));
        assert_eq!(get(false, true, false, Framing::None), Ok(false));
        assert_eq!(get(true, false, false, Framing::None), Ok(false));
        assert_eq!(
            request_upgrades("POST", false, true, true, Framing::None),
            Ok(false)
        );
    }

    #[test]
    fn websocket_is_one_token_of_the_list() {
        assert!(names_websocket(b"websocket"));
        assert!(names_websocket(b"h2c, WebSocket"));
        assert!(!names_websocket(b"h2c"));
        assert!(!names_websocket(b"websocket/13"));
        assert!(!names_websocket(b"websockets"));
        assert!(!names_websocket(b""));
    }

    #[test]
    fn a_101_is_believed_only_for_what_was_asked() {
        assert!(check_switch(true, true).is_ok());
        assert!(check_switch(false, true).is_err());
        assert!(check_switch(true, false).is_err());
    }
}
