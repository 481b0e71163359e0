//! Restarts and upgrades that drop nothing: `weir serve --takeover`, or
//! SIGUSR2 to a running server (which starts its own binary, as found on
//! disk now, with `--takeover`).
//!
//! The running process listens on `takeover.sock` in its data directory
//! ([`socket`]: 0600, the peer's user checked). A successor connects and
//! says HELLO; the old process then freezes its data plane (no topology
//! applied, no bind retried), stops accepting API connections and lets
//! the API requests in flight finish (at most [`API_DRAIN`]), pauses its
//! store writer (no commit under way, none will start: the successor may
//! open and migrate the database), and passes a duplicate of every
//! listening socket (the API's and every data-plane listener's, TCP and
//! UDP) with `SCM_RIGHTS`. The successor opens the store, adopts the
//! sockets whose address and transport its listeners bind, closes the
//! rest, serves, and says READY; the old process answers DRAINING, stops
//! accepting and reading, drains its open connections for at most
//! `takeover.drain_timeout_ms`, and exits. The successor then reads its
//! UDP sockets and puts its own takeover socket in place.
//!
//! Nothing is dropped in between: the sockets are the same kernel
//! objects, so connections queued while neither process accepts wait in
//! the backlog. If the successor fails, closes the connection, or is not
//! READY within `takeover.timeout_ms`, the old process takes everything
//! back: writes resume, the API accepts again, the data plane follows the
//! store again.

mod old;
mod reexec;
pub mod socket;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use weir_core::takeover::{Message, Role, Tally};

pub use old::{run, Ended, Running};
pub use reexec::Exe;

/// How long the old process lets its API requests in flight finish before
/// it pauses writes anyway (a request still running then is answered
/// "unavailable, try again" if it writes).
pub const API_DRAIN: Duration = Duration::from_secs(5);
/// How long a connection to the takeover socket may take to say HELLO.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a successor waits for its predecessor's sockets (it lets its
/// API requests finish first) and for its DRAINING.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// `[takeover]` settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long the old process serves its open connections after its
    /// successor took over, before it exits and cuts what is left.
    pub drain: Duration,
    /// How long the old process waits for its successor's READY after it
    /// passed the sockets, before it takes them back.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            drain: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Refuses to start a second server on a data directory whose server
/// still answers on its takeover socket (a stale socket, from a process
/// that died, does not answer).
pub fn refuse_if_running(data_dir: &Path) -> Result<(), String> {
    let path = socket::path(data_dir);
    match socket::connect(&path) {
        Ok(_) => Err(format!(
            "another weir serve runs on {} (its takeover socket {} answers): stop it, or start \
             this one with --takeover to take its place",
            data_dir.display(),
            path.display()
        )),
        Err(_) => Ok(()),
    }
}

/// What a successor received from its predecessor.
pub struct Inherited {
    conn: OwnedFd,
    /// The API's listening socket.
    pub api: Option<OwnedFd>,
    /// Every data-plane listener's socket.
    pub data: Vec<OwnedFd>,
}

/// Asks the server running on `data_dir` for its sockets (blocking). On
/// return, that server has stopped writing to the store and accepting API
/// connections.
pub fn take_over(data_dir: &Path) -> Result<Inherited, String> {
    let path = socket::path(data_dir);
    let conn = socket::connect(&path).map_err(|e| {
        format!(
            "--takeover: no running weir serve answers at {}: {e}",
            path.display()
        )
    })?;
    let uid = socket::peer_uid(&conn).map_err(|e| e.to_string())?;
    if uid != socket::own_uid() {
        return Err(format!(
            "--takeover: the process at {} runs as user {uid}, not as this one",
            path.display()
        ));
    }
    let io = |e: std::io::Error| format!("--takeover: {e}");
    socket::set_timeout(&conn, ANSWER_TIMEOUT).map_err(io)?;
    socket::send(
        &conn,
        &Message::Hello {
            pid: std::process::id(),
        },
        &[],
    )
    .map_err(io)?;
    let mut tally = Tally::default();
    let mut inherited = Inherited {
        conn,
        api: None,
        data: Vec::new(),
    };
    loop {
        let (bytes, fds) = match socket::recv(&inherited.conn).map_err(io)? {
            socket::Received::Closed => {
                return Err("--takeover: the running server closed the connection".into())
            }
            socket::Received::Record(bytes, fds) => (bytes, fds),
        };
        match Message::decode(&bytes) {
            Ok(Message::Sockets { last, roles }) => {
                tally
                    .record(last, &roles, fds.len())
                    .map_err(|e| format!("--takeover: {e}"))?;
                for (role, fd) in roles.into_iter().zip(fds) {
                    match role {
                        Role::Api => inherited.api = Some(fd),
                        Role::Data => inherited.data.push(fd),
                    }
                }
                if last {
                    return Ok(inherited);
                }
            }
            Ok(Message::Refused { reason }) => {
                return Err(format!("--takeover: the running server refused: {reason}"))
            }
            Ok(other) => return Err(format!("--takeover: unexpected {other:?}")),
            Err(e) => return Err(format!("--takeover: {e}")),
        }
    }
}

impl Inherited {
    /// Tells the predecessor this process serves (blocking); returns how
    /// long it may still drain, if it said.
    pub fn ready(self) -> Option<Duration> {
        let answer =
            socket::send(&self.conn, &Message::Ready, &[]).and_then(|()| socket::recv(&self.conn));
        match answer {
            Ok(socket::Received::Record(bytes, _)) => match Message::decode(&bytes) {
                Ok(Message::Draining { deadline_ms }) => Some(Duration::from_millis(deadline_ms)),
                other => {
                    tracing::warn!(answer = ?other, "the predecessor did not say DRAINING");
                    None
                }
            },
            Ok(socket::Received::Closed) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the predecessor did not answer READY");
                None
            }
        }
    }
}

/// The API's listening socket: the inherited one when it listens where
/// `listen` says (a port-0 `listen` takes the inherited port, which
/// clients already know), else a new bind.
pub async fn api_listener(
    listen: &str,
    inherited: Option<OwnedFd>,
) -> Result<std::net::TcpListener, String> {
    if let Some(fd) = inherited {
        if let Some((weir_dataplane::handover::Transport::Tcp, have)) =
            weir_dataplane::handover::identify(&fd)
        {
            let wanted: Vec<std::net::SocketAddr> = tokio::net::lookup_host(listen)
                .await
                .map(Iterator::collect)
                .unwrap_or_default();
            if wanted
                .iter()
                .any(|w| w.ip() == have.ip() && (w.port() == have.port() || w.port() == 0))
            {
                tracing::info!(addr = %have, "adopted the API listener");
                return Ok(std::net::TcpListener::from(fd));
            }
            tracing::info!(addr = %have, %listen, "the inherited API listener is not where the API listens now; closed");
        }
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    listener.into_std().map_err(|e| e.to_string())
}
