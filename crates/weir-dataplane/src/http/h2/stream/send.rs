//! A stream's response body as an `AsyncWrite`, so the engine's body
//! relay (lengths, chunk decoding) feeds HTTP/2 DATA frames directly.
//!
//! A write waits for flow-control capacity (the client's window, at most
//! the connection's send buffer per stream), so a client that does not
//! read holds back the engine, and through it the member, instead of
//! filling memory.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use h2::SendStream;
use tokio::io::AsyncWrite;

/// Largest DATA payload asked for at once (h2 splits it into frames).
const MAX_WRITE: usize = 64 * 1024;

pub(super) struct SendBody {
    stream: SendStream<Bytes>,
    ended: bool,
}

impl SendBody {
    pub(super) fn new(stream: SendStream<Bytes>) -> Self {
        Self {
            stream,
            ended: false,
        }
    }

    /// Ends the stream with an error: the body was cut short, and the
    /// client must not take what it got for the whole.
    pub(super) fn reset(&mut self) {
        self.stream.send_reset(h2::Reason::INTERNAL_ERROR);
    }
}

fn broken(e: h2::Error) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e)
}

impl AsyncWrite for SendBody {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let want = buf.len().min(MAX_WRITE);
        if self.stream.capacity() < want {
            self.stream.reserve_capacity(want);
        }
        loop {
            match ready!(self.stream.poll_capacity(cx)) {
                Some(Ok(0)) => {}
                Some(Ok(n)) => {
                    let n = n.min(want);
                    let data = Bytes::copy_from_slice(&buf[..n]);
                    self.stream.send_data(data, false).map_err(broken)?;
                    return Poll::Ready(Ok(n));
                }
                Some(Err(e)) => return Poll::Ready(Err(broken(e))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ended {
            self.ended = true;
            self.stream.send_data(Bytes::new(), true).map_err(broken)?;
        }
        Poll::Ready(Ok(()))
    }
}
