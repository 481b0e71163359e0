//! h2c by prior knowledge (RFC 9113 §3.3) on plain HTTP listeners: a
//! connection whose first bytes are the HTTP/2 client preface is served
//! as HTTP/2, any other as HTTP/1.1.
//!
//! Always on, no listener option: the preface (`PRI * HTTP/2.0`) is not a
//! request HTTP/1.1 serves (its version is refused with 400), so no
//! HTTP/1.1 client can be read differently because of it, and an h2c
//! connection is held to the same HTTP/2 limits as one over TLS. The
//! upgrade route (`Upgrade: h2c`) is not offered: it is never forwarded
//! either ([`super::upgrade`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection's first bytes say it speaks.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sniffed {
    Http1,
    Http2,
}

/// Reads until the first bytes tell HTTP/2's preface from anything else
/// (at most the preface's 24 bytes; an HTTP/1.1 request differs at its
/// first byte unless it starts with `PRI`). What was read stays in `buf`.
pub(super) async fn sniff<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> io::Result<Sniffed> {
    loop {
        if let Some(sniffed) = classify(buf) {
            return Ok(sniffed);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// `None` while `buf` is still a strict prefix of the preface.
fn classify(buf: &[u8]) -> Option<Sniffed> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        Some(Sniffed::Http1)
    } else if n == PREFACE.len() {
        Some(Sniffed::Http2)
    } else {
        None
    }
}

/// A stream whose first reads return bytes already read from it.
pub(crate) struct Rewind<S> {
    prefix: BytesMut,
    inner: S,
}

impl<S> Rewind<S> {
    pub(super) fn new(prefix: BytesMut, inner: S) -> Self {
        Self { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(out.remaining());
            out.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_told_apart_from_http1_at_the_first_difference() {
        assert_eq!(classify(b"G"), Some(Sniffed::Http1));
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Sniffed::Http1));
        assert_eq!(classify(b"PRI * HTTP/1.1\r\n"), Some(Sniffed::Http1));
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"PRI * HTTP/2.0\r\n"), None);
        assert_eq!(classify(PREFACE), Some(Sniffed::Http2));
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(b"\x00\x00\x00\x04");
        assert_eq!(classify(&more), Some(Sniffed::Http2));
    }

    #[tokio::test]
    async fn a_rewound_stream_reads_its_prefix_first() {
        let (mut a, b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, b"world")
            .await
            .unwrap();
        drop(a);
        let mut r = Rewind::new(BytesMut::from(&b"hello "[..]), b);
        let mut all = String::new();
        r.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }
}
