//! Re-encryption: members of a pool that asks for it
//! (`weir_core::upstream_tls`) are dialled over TLS by the HTTP engine
//! and the TCP relay alike.
//!
//! A pool's [`Dialer`] is built once per configuration of its TLS (the
//! rustls client configuration from `weir_tls::client`, verifying
//! against the pool's CA bundle or, only when the pool named none, not
//! verifying) and swapped whole on change; idle HTTP connections carry
//! the generation of the dialer that made them, so a connection made
//! under an old configuration is never reused after a change. A pool
//! whose CA bundle cannot be had dials nothing: it is never served in
//! the clear instead. The handshake is bounded by the connect timeout;
//! a failed one counts as a failed connect (nothing of the request was
//! sent) and in `weir_backend_tls_failures_total`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use weir_core::topology::PoolTls;

use crate::egress::Egress;
use crate::pool::BackendRuntime;

/// Distinguishes dialers, so pooled connections know which made them.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// How a pool dials its members.
pub struct Dialer {
    pub generation: u64,
    mode: Mode,
}

enum Mode {
    Plain,
    /// The connector and the name members are dialled by, if the pool
    /// names one (else their address: no SNI).
    Tls(TlsConnector, Option<rustls::pki_types::ServerName<'static>>),
    /// The pool re-encrypts but its TLS cannot be had: every dial fails
    /// with this reason.
    Unavailable(String),
}

impl Dialer {
    /// The dialer of a pool whose TLS is `tls`.
    pub fn new(tls: Option<&PoolTls>) -> Self {
        let mode = match tls {
            None => Mode::Plain,
            Some(PoolTls::Unavailable(why)) => Mode::Unavailable(why.clone()),
            Some(PoolTls::Dial { settings, material }) => {
                match weir_tls::client::client_config(settings, material) {
                    Ok(config) => Mode::Tls(
                        TlsConnector::from(config),
                        settings.server_name.as_ref().map(|_| {
                            weir_tls::client::dial_name(
                                Some(settings),
                                std::net::Ipv4Addr::UNSPECIFIED.into(),
                            )
                        }),
                    ),
                    Err(why) => {
                        tracing::warn!(%why, "a pool's TLS to its members cannot be built");
                        Mode::Unavailable(why)
                    }
                }
            }
        };
        Self {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            mode,
        }
    }

    /// A plain dialer, for pools that do not re-encrypt.
    pub fn plain() -> Self {
        Self::new(None)
    }

    /// Whether members are dialled over TLS (so splice cannot move the
    /// bytes: they are encrypted in user space).
    pub fn is_tls(&self) -> bool {
        !matches!(self.mode, Mode::Plain)
    }

    /// Dials `addr` through the egress guard and, for a re-encrypting
    /// pool, completes the handshake within the same timeout.
    pub async fn connect(
        &self,
        egress: &Egress,
        backend: &BackendRuntime,
        addr: SocketAddr,
        timeout: Option<Duration>,
    ) -> io::Result<MemberStream> {
        if let Mode::Unavailable(why) = &self.mode {
            backend.tls_failures.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::other(format!("TLS to members: {why}")));
        }
        let started = std::time::Instant::now();
        let stream = egress.connect(addr, timeout).await?;
        backend.connect_duration.observe(started.elapsed());
        let Mode::Tls(connector, _) = &self.mode else {
            return Ok(MemberStream::Plain(stream));
        };
        let timeout = timeout.unwrap_or_else(|| egress.connect_timeout());
        let name = self.name(addr.ip());
        match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
            Ok(Ok(tls)) => Ok(MemberStream::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                backend.tls_failures.fetch_add(1, Ordering::Relaxed);
                Err(io::Error::new(
                    e.kind(),
                    format!("TLS handshake with {addr}: {e}"),
                ))
            }
            Err(_) => {
                backend.tls_failures.fetch_add(1, Ordering::Relaxed);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("TLS handshake with {addr} timed out"),
                ))
            }
        }
    }

    /// The connector a re-encrypting pool's HTTP checks use: the pool's
    /// own, so a check verifies (and presents) what traffic does.
    pub fn connector(&self) -> Option<&TlsConnector> {
        match &self.mode {
            Mode::Tls(c, _) => Some(c),
            _ => None,
        }
    }

    /// The name a member at `ip` is dialled by: the pool's server name
    /// (SNI) if it names one, else the address (no SNI).
    pub fn name(&self, ip: std::net::IpAddr) -> rustls::pki_types::ServerName<'static> {
        match &self.mode {
            Mode::Tls(_, Some(name)) => name.clone(),
            _ => weir_tls::client::member_name(ip),
        }
    }

    /// Why the pool dials nothing, if so.
    pub fn unavailable(&self) -> Option<&str> {
        match &self.mode {
            Mode::Unavailable(why) => Some(why),
            _ => None,
        }
    }
}

/// A connection to a member, in the clear or over TLS.
pub enum MemberStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for MemberStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Plain(_) => "plain",
            Self::Tls(_) => "tls",
        };
        write!(f, "MemberStream({kind}, {:?})", self.tcp().peer_addr().ok())
    }
}

impl MemberStream {
    /// The socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for MemberStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MemberStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }
}
