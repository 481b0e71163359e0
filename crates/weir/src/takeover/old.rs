//! A serving process's lifecycle: the API server, the signals, and the
//! takeover socket's session thread; for a successor, the end of its own
//! takeover first.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use weir_control::Control;
use weir_core::takeover::{batches, Message, Role};
use weir_dataplane::DataPlane;

use super::socket::{self, Listening, Received};
use super::{Exe, Inherited, Settings, API_DRAIN, HELLO_TIMEOUT};

/// What the session thread asks of the serving loop.
enum Request {
    /// A successor said HELLO: stop the API, pause writes, hand over the
    /// sockets (or say why not).
    Begin {
        pid: u32,
        reply: oneshot::Sender<Result<Vec<(Role, OwnedFd)>, String>>,
    },
    /// The successor serves: drain and exit, after answering how long.
    Ready { reply: oneshot::Sender<Duration> },
    /// The successor went away before READY: take everything back.
    Abort,
}

/// Everything a serving process runs.
pub struct Running {
    pub control: Control,
    pub dataplane: Option<DataPlane>,
    pub api: std::net::TcpListener,
    pub app: axum::Router,
    pub data_dir: PathBuf,
    pub settings: Settings,
    pub exe: Exe,
    /// Set when this process took over from a predecessor.
    pub inherited: Option<Inherited>,
    /// Called once a successor said READY (it serves on as this node),
    /// before the drain: what this node holds for the node passes to it.
    pub successor_ready: Box<dyn Fn() + Send>,
}

/// The API server on a duplicate of the kept listening socket, so it can
/// be stopped and started again on the same socket.
struct ApiServer {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    fn start(api: &std::net::TcpListener, app: &axum::Router) -> Result<Self, String> {
        let listener = api
            .try_clone()
            .and_then(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            })
            .map_err(|e| format!("API listener: {e}"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = app.clone();
        let task = tokio::spawn(async move {
            // `into_make_service`: serving a bare `Router` rebuilds its
            // route table (`with_state(())`) for every connection, ~145 KB
            // per connection in a debug build's heap profile, held for as
            // long as a watch stream stays open; this clones an `Arc`.
            let served = axum::serve(listener, app.into_make_service())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "API server failed");
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops accepting, lets requests in flight finish (at most `bound`).
    async fn stop(self, bound: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(bound, self.task).await.is_err() {
            tracing::warn!("API requests still running after the API stopped accepting");
        }
    }
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// SIGINT or SIGTERM: this node stops.
    Stopped,
    /// A successor holds the sockets and serves on as this node.
    HandedOver,
}

/// Serves until SIGINT or SIGTERM, or until a successor took over and the
/// drain ended.
pub async fn run(running: Running) -> Result<Ended, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let Running {
        control,
        dataplane,
        api,
        app,
        data_dir,
        settings,
        exe,
        inherited,
        successor_ready,
    } = running;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut usr2 = signal(SignalKind::user_defined2()).map_err(|e| e.to_string())?;
    let mut server = ApiServer::start(&api, &app)?;
    if let Some(inherited) = inherited {
        finish_takeover(inherited, &control, dataplane.as_ref()).await;
    }
    let path = socket::path(&data_dir);
    let listening = Arc::new(
        Listening::bind(&path).map_err(|e| format!("cannot bind {}: {e}", path.display()))?,
    );
    let (requests, mut incoming) = mpsc::channel(1);
    {
        let listening = listening.clone();
        std::thread::Builder::new()
            .name("weir-takeover".into())
            .spawn(move || sessions(&listening, &requests, settings))
            .map_err(|e| e.to_string())?;
    }
    let mut sessions_alive = true;
    loop {
        let request = tokio::select! {
            _ = term.recv() => None,
            _ = interrupt.recv() => None,
            _ = usr2.recv() => {
                exe.spawn_successor();
                continue;
            }
            request = incoming.recv(), if sessions_alive => match request {
                Some(request) => Some(request),
                None => {
                    // The session thread is gone: serve on, without takeovers.
                    tracing::error!("the takeover socket stopped answering");
                    sessions_alive = false;
                    continue;
                }
            },
        };
        let Some(request) = request else {
            tracing::info!("shutting down");
            server.stop(API_DRAIN).await;
            listening.unlink_if_ours();
            return Ok(Ended::Stopped);
        };
        // A stray Ready or Abort belongs to no handover.
        let Request::Begin { pid, reply } = request else {
            continue;
        };
        tracing::info!(successor = pid, "a successor takes over");
        if let Some(dp) = &dataplane {
            dp.hold(true);
        }
        server.stop(API_DRAIN).await;
        control.pause_writes().await;
        let sockets = handed_sockets(&api, dataplane.as_ref());
        let handed = sockets.is_ok();
        let _ = reply.send(sockets);
        let verdict = if handed {
            tokio::select! {
                // The successor holds the sockets: it serves on.
                _ = term.recv() => return Ok(Ended::HandedOver),
                _ = interrupt.recv() => return Ok(Ended::HandedOver),
                verdict = incoming.recv() => verdict,
            }
        } else {
            None
        };
        match verdict {
            Some(Request::Ready { reply }) => {
                successor_ready();
                let _ = reply.send(settings.drain);
                tracing::info!(successor = pid, drain = ?settings.drain, "draining for the successor");
                let left = match &dataplane {
                    Some(dp) => dp.drain(settings.drain).await,
                    None => 0,
                };
                tracing::info!(cut = left, "drained; exiting");
                return Ok(Ended::HandedOver);
            }
            _ => {
                tracing::warn!(
                    successor = pid,
                    "the takeover did not complete; serving again"
                );
                control.resume_writes();
                if let Some(dp) = &dataplane {
                    dp.hold(false);
                }
                server = ApiServer::start(&api, &app)?;
            }
        }
    }
}

/// The successor's end: once its data plane applied the store's revision
/// (so every listener that will adopt a socket has), the sockets nobody
/// claimed are closed, READY is said, and after DRAINING the UDP sockets
/// are read.
async fn finish_takeover(inherited: Inherited, control: &Control, dataplane: Option<&DataPlane>) {
    if let Some(dp) = dataplane {
        let target = *control.revision().borrow();
        let mut applied = dp.applied();
        let reached = applied.wait_for(|rev| *rev >= target);
        if tokio::time::timeout(Duration::from_secs(30), reached)
            .await
            .is_err()
        {
            tracing::warn!("the data plane is slow to apply the topology; taking over anyway");
        }
        let closed = dp.release_unclaimed();
        if closed > 0 {
            tracing::info!(closed, "closed inherited sockets no listener binds");
        }
    }
    let drain = tokio::task::spawn_blocking(move || inherited.ready())
        .await
        .ok()
        .flatten();
    if let Some(dp) = dataplane {
        dp.open_udp();
    }
    tracing::info!(predecessor_drain = ?drain, "took over");
}

/// The API's socket first, then every data-plane listener's.
fn handed_sockets(
    api: &std::net::TcpListener,
    dataplane: Option<&DataPlane>,
) -> Result<Vec<(Role, OwnedFd)>, String> {
    let mut out = vec![(
        Role::Api,
        api.as_fd()
            .try_clone_to_owned()
            .map_err(|e| e.to_string())?,
    )];
    if let Some(dp) = dataplane {
        let data = dp.listening_sockets().map_err(|e| e.to_string())?;
        out.extend(data.into_iter().map(|fd| (Role::Data, fd)));
    }
    Ok(out)
}

/// The takeover socket's sessions, one at a time, until one hands over.
fn sessions(listening: &Listening, requests: &mpsc::Sender<Request>, settings: Settings) {
    loop {
        let conn = match listening.accept() {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "takeover socket accept failed");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        match session(&conn, requests, settings) {
            Ok(()) => return,
            Err(why) => tracing::warn!(%why, "takeover session refused"),
        }
    }
}

/// One session; `Ok` once the successor took over.
fn session(
    conn: &OwnedFd,
    requests: &mpsc::Sender<Request>,
    settings: Settings,
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let uid = socket::peer_uid(conn).map_err(io)?;
    if uid != socket::own_uid() {
        return Err(format!("a process of user {uid} connected"));
    }
    socket::set_timeout(conn, HELLO_TIMEOUT).map_err(io)?;
    let pid = match read(conn)? {
        Message::Hello { pid } => pid,
        other => return refuse(conn, &format!("expected HELLO, got {other:?}")),
    };
    let (reply, answer) = oneshot::channel();
    requests
        .blocking_send(Request::Begin { pid, reply })
        .map_err(|_| "the server is shutting down".to_owned())?;
    let sockets = match answer.blocking_recv() {
        Ok(Ok(sockets)) => sockets,
        Ok(Err(why)) => return refuse(conn, &why),
        Err(_) => return refuse(conn, "the server is shutting down"),
    };
    // From here on the server waits for a verdict: anything but READY
    // gives it everything back.
    let verdict = hand_over(conn, &sockets, settings);
    drop(sockets);
    let ready = match verdict {
        Ok(()) => {
            let (reply, answer) = oneshot::channel();
            if requests.blocking_send(Request::Ready { reply }).is_err() {
                return Ok(());
            }
            answer.blocking_recv().ok()
        }
        Err(why) => {
            let _ = requests.blocking_send(Request::Abort);
            return Err(why);
        }
    };
    if let Some(drain) = ready {
        let deadline_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX);
        let _ = socket::send(conn, &Message::Draining { deadline_ms }, &[]);
    }
    Ok(())
}

/// Passes the sockets and waits for READY.
fn hand_over(
    conn: &OwnedFd,
    sockets: &[(Role, OwnedFd)],
    settings: Settings,
) -> Result<(), String> {
    let roles: Vec<Role> = sockets.iter().map(|(r, _)| *r).collect();
    for (message, range) in batches(&roles) {
        let fds: Vec<_> = sockets[range].iter().map(|(_, fd)| fd.as_fd()).collect();
        socket::send(conn, &message, &fds).map_err(|e| e.to_string())?;
    }
    socket::set_timeout(conn, settings.timeout).map_err(|e| e.to_string())?;
    match read(conn)? {
        Message::Ready => Ok(()),
        other => Err(format!("expected READY, got {other:?}")),
    }
}

/// One record from the peer; descriptors it sent are closed.
fn read(conn: &OwnedFd) -> Result<Message, String> {
    match socket::recv(conn).map_err(|e| e.to_string())? {
        Received::Closed => Err("the peer closed the connection".into()),
        Received::Record(bytes, fds) => {
            if !fds.is_empty() {
                return Err(format!("the peer sent {} descriptors", fds.len()));
            }
            Message::decode(&bytes).map_err(|e| e.to_string())
        }
    }
}

fn refuse(conn: &OwnedFd, why: &str) -> Result<(), String> {
    let _ = socket::send(
        conn,
        &Message::Refused {
            reason: why.to_owned(),
        },
        &[],
    );
    Err(why.to_owned())
}
