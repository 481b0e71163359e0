//! Message bodies, relayed by their framing: a length, chunks, or the
//! sender's close.
//!
//! Chunked bodies are parsed strictly and written again, never passed
//! through as sent: a chunk-size line is `1*HEXDIG [ BWS ";" extension ]`
//! ended by CRLF (no sign, no leading space, no bare LF or CR, at most 16
//! significant digits), at most [`MAX_CHUNK_LINE`] bytes; extensions are
//! checked for control bytes and dropped (RFC 9112 §7.1.1 lets a proxy
//! ignore them); the CRLF after each chunk's data must be there; trailers
//! are bounded like a head, parsed, and written again without framing or
//! hop-by-hop fields. What the next hop reads is `<hex>\r\n<data>\r\n`.
//! For an HTTP/1.0 client the chunks are decoded and the body ends with
//! the connection.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::head::{self, Framing};
use super::CHUNK;

/// Longest chunk-size line, extensions included.
pub(super) const MAX_CHUNK_LINE: usize = 4096;

/// How one body is read and written.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyRules {
    /// Longest wait for the next bytes; `None` waits as long as the sender.
    pub idle: Option<Duration>,
    /// Largest trailer section.
    pub max_trailer_bytes: usize,
    /// Most trailer fields.
    pub max_trailers: usize,
    /// Decode chunks (for an HTTP/1.0 recipient) instead of re-encoding.
    pub dechunk: bool,
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads more of the body; the sender closing mid-body is an error.
async fn fill<S: AsyncRead + Unpin>(
    src: &mut S,
    buf: &mut BytesMut,
    idle: Option<Duration>,
) -> io::Result<()> {
    buf.reserve(CHUNK);
    let mut read = std::pin::pin!(src.read_buf(buf));
    // Bytes already waiting need no timer: a timer is armed only when the
    // sender is actually silent (one registration per stall, not one per
    // read of a body that streams in).
    let ready = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(read.as_mut(), cx))
    })
    .await;
    let n = match (ready, idle) {
        (std::task::Poll::Ready(n), _) => n?,
        (std::task::Poll::Pending, Some(limit)) => tokio::time::timeout(limit, read)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "body stalled"))??,
        (std::task::Poll::Pending, None) => read.await?,
    };
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed mid-body",
        ));
    }
    Ok(())
}

/// Relays a body from `src` (with `buf` holding bytes already read) to
/// `dst`. Bytes past the body stay in `buf`. Returns the payload length.
/// `InvalidData` is a framing error, `TimedOut` a stalled sender.
/// Generic so the fuzz targets can run it on memory; every proxied body
/// is TCP to TCP, so only that copy is built for the data plane.
pub(super) async fn relay<S, D>(
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    framing: Framing,
    rules: BodyRules,
) -> io::Result<u64>
where
    S: AsyncRead + Unpin,
    D: AsyncWrite + Unpin,
{
    match framing {
        Framing::None => Ok(0),
        Framing::Length(n) => relay_exact(src, buf, dst, n, rules.idle).await.map(|()| n),
        Framing::Chunked => relay_chunked(src, buf, dst, rules).await,
        Framing::Close => {
            let mut total = buf.len() as u64;
            dst.write_all(buf).await?;
            buf.clear();
            total += tokio::io::copy(src, dst).await?;
            Ok(total)
        }
    }
}

async fn relay_exact<S, D>(
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    mut left: u64,
    idle: Option<Duration>,
) -> io::Result<()>
where
    S: AsyncRead + Unpin,
    D: AsyncWrite + Unpin,
{
    while left > 0 {
        if buf.is_empty() {
            fill(src, buf, idle).await?;
        }
        let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        dst.write_all(&buf[..take]).await?;
        buf.advance(take);
        left -= take as u64;
    }
    Ok(())
}

/// Parses the chunk-size line at the front of `buf`: `Ok(None)` when it
/// has not fully arrived, else its length with the CRLF and the size.
pub(super) fn chunk_line(buf: &[u8]) -> io::Result<Option<(usize, u64)>> {
    let window = &buf[..buf.len().min(MAX_CHUNK_LINE)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_CHUNK_LINE {
            Err(invalid("chunk-size line too long"))
        } else {
            Ok(None)
        };
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(invalid("chunk-size line not ended by CRLF"));
    }
    let line = &buf[..lf - 1];
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(invalid("chunk size is not hexadecimal"));
    }
    let mut size: u64 = 0;
    for &d in &line[..digits] {
        let value = char::from(d).to_digit(16).map_or(0, u64::from);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(value))
            .ok_or_else(|| invalid("chunk size overflows"))?;
    }
    let rest = &line[digits..];
    let mut extension = rest;
    while let [b' ' | b'\t', tail @ ..] = extension {
        extension = tail;
    }
    if !rest.is_empty() && extension.first() != Some(&b';') {
        return Err(invalid("bytes after the chunk size"));
    }
    if extension
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(invalid("control byte in a chunk extension"));
    }
    Ok(Some((lf + 1, size)))
}

/// Appends `n` in lowercase hex: a chunk-size line.
fn push_hex(out: &mut Vec<u8>, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let nibbles = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for k in (0..nibbles).rev() {
        out.push(DIGITS[((n >> (k * 4)) & 15) as usize]);
    }
}

/// Writes what is pending in `out`.
async fn flush<D: AsyncWrite + Unpin>(dst: &mut D, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        dst.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// Relays a chunked body, re-encoded (or decoded), following its framing to
/// find where it ends. Small chunks are gathered into one write.
async fn relay_chunked<S, D>(
    src: &mut S,
    buf: &mut BytesMut,
    dst: &mut D,
    rules: BodyRules,
) -> io::Result<u64>
where
    S: AsyncRead + Unpin,
    D: AsyncWrite + Unpin,
{
    let mut out = Vec::with_capacity(CHUNK.min(buf.len() + 64));
    let mut total = 0u64;
    loop {
        let (line_len, size) = loop {
            if let Some(line) = chunk_line(buf)? {
                break line;
            }
            flush(dst, &mut out).await?;
            fill(src, buf, rules.idle).await?;
        };
        buf.advance(line_len);
        if size == 0 {
            break;
        }
        if !rules.dechunk {
            push_hex(&mut out, size);
            out.extend_from_slice(b"\r\n");
        }
        let mut left = size;
        while left > 0 {
            if buf.is_empty() {
                flush(dst, &mut out).await?;
                fill(src, buf, rules.idle).await?;
            }
            let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if out.len() + take <= CHUNK {
                out.extend_from_slice(&buf[..take]);
            } else {
                flush(dst, &mut out).await?;
                dst.write_all(&buf[..take]).await?;
            }
            buf.advance(take);
            left -= take as u64;
        }
        total += size;
        while buf.len() < 2 {
            flush(dst, &mut out).await?;
            fill(src, buf, rules.idle).await?;
        }
        if &buf[..2] != b"\r\n" {
            return Err(invalid("chunk data not followed by CRLF"));
        }
        buf.advance(2);
        if !rules.dechunk {
            out.extend_from_slice(b"\r\n");
        }
    }
    let trailers = read_trailers(src, buf, &mut out, dst, rules).await?;
    if !rules.dechunk {
        out.extend_from_slice(b"0\r\n");
        out.extend_from_slice(&trailers);
        out.extend_from_slice(b"\r\n");
    }
    flush(dst, &mut out).await?;
    Ok(total)
}

/// Reads the trailer section after the last chunk (up to its empty line),
/// checks it like a head, and returns its fields written again, CRLF
/// ended, without the empty line. Nearly every body has none.
async fn read_trailers<S, D>(
    src: &mut S,
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
    dst: &mut D,
    rules: BodyRules,
) -> io::Result<Vec<u8>>
where
    S: AsyncRead + Unpin,
    D: AsyncWrite + Unpin,
{
    let mut scanned = 0;
    loop {
        if buf.starts_with(b"\r\n") {
            buf.advance(2);
            return Ok(Vec::new());
        }
        if buf.first() == Some(&b'\n') {
            return Err(invalid("trailer section not ended by CRLF"));
        }
        if head::may_end(buf, scanned) {
            break;
        }
        scanned = buf.len();
        if buf.len() > rules.max_trailer_bytes {
            return Err(invalid("trailer section too large"));
        }
        flush(dst, out).await?;
        fill(src, buf, rules.idle).await?;
    }
    let mut fields = vec![httparse::EMPTY_HEADER; rules.max_trailers.max(1)];
    let (used, fields) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(parsed)) => parsed,
        _ => return Err(invalid("malformed trailer section")),
    };
    if used > rules.max_trailer_bytes {
        return Err(invalid("trailer section too large"));
    }
    let mut kept = Vec::new();
    for field in fields {
        let framing_or_hop = ["content-length", "transfer-encoding", "host", "connection"]
            .iter()
            .any(|n| field.name.eq_ignore_ascii_case(n));
        if !framing_or_hop {
            head::push_header(&mut kept, field.name, field.value);
        }
    }
    buf.advance(used);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lines_are_strict() {
        assert_eq!(chunk_line(b"5\r\nhello").unwrap(), Some((3, 5)));
        assert_eq!(chunk_line(b"00A\r\n").unwrap(), Some((5, 10)));
        assert_eq!(chunk_line(b"4;ext=1\r\n").unwrap(), Some((9, 4)));
        assert_eq!(chunk_line(b"4 ;ext\r\n").unwrap(), Some((8, 4)));
        assert_eq!(
            chunk_line(b"ffffffffffffffff\r\n").unwrap(),
            Some((18, u64::MAX))
        );
        assert_eq!(chunk_line(b"5\r").unwrap(), None);
        for bad in [
            &b"+5\r\n"[..],
            b" 5\r\n",
            b"5 \r\n",
            b"0x5\r\n",
            b"5\n",
            b"5;a\rb\r\n",
            b"10000000000000000\r\n",
            b"\r\n",
            b"-1\r\n",
        ] {
            assert!(
                chunk_line(bad).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b'0'; MAX_CHUNK_LINE];
        assert!(chunk_line(&long).is_err());
    }

    #[test]
    fn hex_is_written_like_format() {
        for n in [0u64, 1, 15, 16, 255, 0xdead_beef, u64::MAX] {
            let mut out = Vec::new();
            push_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}").into_bytes());
        }
    }
}
