//! HTTPS listeners: TLS terminated in front of the HTTP engine.
//!
//! Each accepted connection first completes a rustls handshake with the
//! listener's current configuration (read at accept from
//! [`ListenerRuntime::tls_config`], so a certificate change applies to the
//! next handshake while open connections keep the session they have), then
//! the decrypted stream is served by [`crate::http`] exactly as a plain
//! HTTP connection, with `X-Forwarded-Proto: https`: HTTP/2 when ALPN
//! chose `h2` ([`crate::http::h2`]), else HTTP/1.1.
//!
//! A handshake is bounded by the listener's head timeout (a client that
//! connects and never finishes, or sends something that is not TLS, is
//! closed and counted in `tls_handshake_failures`) and holds one of the
//! listener's connection slots meanwhile, so a handshake flood is bounded
//! like any other: by `max_connections` and the accept backlog.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use weir_core::topology::{ListenerSpec, ListenerTls};

use crate::listener::ListenerRuntime;
use crate::Shared;

/// How long the `close_notify` at the end of a session may take to leave:
/// a client that stopped reading must not hold the task.
const CLOSE_NOTIFY: Duration = Duration::from_secs(1);

/// The server configuration a spec asks for, or why it cannot be served
/// (no certificates reached the data plane, a key that did not open, PEM
/// that does not parse): the listener then serves nothing rather than
/// serving without TLS.
pub fn server_config(spec: &ListenerSpec) -> Result<Arc<rustls::ServerConfig>, String> {
    match spec.tls.as_deref() {
        None => Err("no certificates for this https listener".into()),
        Some(ListenerTls::Unavailable(why)) => Err(why.clone()),
        Some(ListenerTls::Serve(certificates)) => {
            let material: Vec<weir_tls::server::Material<'_>> = certificates
                .iter()
                .map(|c| weir_tls::server::Material {
                    id: c.id.as_str(),
                    chain_pem: &c.chain_pem,
                    key_pem: &c.key_pem,
                    domains: &c.domains,
                })
                .collect();
            weir_tls::server::server_config_verifying(
                &material,
                &spec.tls_options,
                spec.client_verify.as_deref(),
            )
        }
    }
}

/// Accepts on one bound port until the task is aborted.
pub async fn accept_loop(
    listener: TcpListener,
    port: u16,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    crate::listener::accept_each(listener, &runtime, &shared, |stream, peer| {
        runtime.connections.fetch_add(1, Ordering::Relaxed);
        // Read at accept: a rotation applies from the next handshake.
        let config = runtime.tls_config();
        serve(stream, peer, port, config, runtime.clone(), shared.clone())
    })
    .await;
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    port: u16,
    config: Option<Arc<rustls::ServerConfig>>,
    runtime: Arc<ListenerRuntime>,
    shared: Arc<Shared>,
) {
    let Some(config) = config else { return };
    let limit = shared
        .config
        .http
        .for_listener(&runtime.spec())
        .head_timeout;
    let handshake = TlsAcceptor::from(config).accept(stream);
    let mut tls = match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            runtime
                .tls_handshake_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(client = %peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            runtime
                .tls_handshake_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(client = %peer, "TLS handshake not finished in time");
            return;
        }
    };
    // Described once per connection, and only for a listener that adds
    // an X-SSL-* header: the certificate is the session's.
    let client_cert = if runtime.spec().forwarded_headers.client_cert.any() {
        tls.get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| weir_tls::client_facts::facts(leaf))
            .map(Arc::new)
    } else {
        None
    };
    let origin = crate::http::Origin {
        peer,
        port,
        runtime,
        shared,
        tls: true,
        client_cert,
    };
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        crate::http::h2::serve(&mut tls, origin).await;
    } else {
        crate::http::serve_connection(&mut tls, origin, crate::http::Start::fresh()).await;
    }
    // A clean end of the session (close_notify), so a client reading a
    // body delimited by the close can tell it from a truncation.
    let _ = tokio::time::timeout(CLOSE_NOTIFY, tls.shutdown()).await;
}
