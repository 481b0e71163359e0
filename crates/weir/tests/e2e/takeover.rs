//! Restarts that drop nothing: `weir serve --takeover` replaces a running
//! server while clients keep sending requests, on kept-alive connections
//! and new ones, and none fails; a hostile peer on the takeover socket
//! changes nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// An HTTP/1.1 backend on 127.0.0.1 that answers every request `200 ok`
/// and keeps connections alive; one thread per connection.
fn http_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    // A request head; these requests carry no body.
                    let mut line = String::new();
                    let mut ended = false;
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        if line.ends_with("\r\n\r\n") || line == "\r\n" {
                            ended = true;
                            break;
                        }
                        if line.ends_with("\r\n") {
                            line.clear();
                        }
                    }
                    if !ended {
                        return;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if writer.write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// A client connection: requests on it until the proxy says
/// `Connection: close`.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    fn connect(front: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&front, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            stream: BufReader::new(stream),
        })
    }

    /// One request; `Ok(keep)`: whether the connection may be reused.
    fn get(&mut self) -> std::io::Result<bool> {
        self.stream
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: takeover\r\n\r\n")?;
        let mut status = String::new();
        self.stream.read_line(&mut status)?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(std::io::Error::other(format!("status line {status:?}")));
        }
        let (mut length, mut close) = (0usize, false);
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("closed mid-head"));
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().map_err(std::io::Error::other)?;
            }
            close |= lower.trim() == "connection: close";
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        if body != b"ok" {
            return Err(std::io::Error::other("wrong body"));
        }
        Ok(!close)
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// Sends requests until `stop` (or a bound on count and time): every
/// `reuse`-th request opens a new connection, the others reuse the
/// kept-alive one, and a `Connection: close` answer is honoured.
fn load(front: SocketAddr, reuse: u64, stop: &AtomicBool, tally: &Tally) {
    let started = Instant::now();
    let mut client: Option<Client> = None;
    for n in 0..200_000u64 {
        if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(90) {
            return;
        }
        if n % reuse == 0 {
            client = None;
        }
        let result = match client.take() {
            Some(c) => Ok(c),
            None => Client::connect(front),
        }
        .and_then(|mut c| c.get().map(|keep| (c, keep)));
        match result {
            Ok((c, keep)) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
                client = keep.then_some(c);
            }
            Err(e) => {
                eprintln!("request failed: {e}");
                tally.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Waits (bounded) until `tally` counted `more` successes past `from`.
fn until_ok(tally: &Tally, from: u64, more: u64) {
    let start = Instant::now();
    while tally.ok.load(Ordering::Relaxed) < from + more {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "requests stalled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (bounded) for a child to exit; its status.
fn exited(child: &mut std::process::Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the old process did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A load balancer with an HTTP listener forwarding to one backend:
/// (project token, listener's address).
fn http_service(url: &str, admin: &str) -> (String, SocketAddr) {
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let lb_id = lb["id"].as_str().unwrap();
    let (status, listener) = request(
        "POST",
        &format!("{url}/v1/loadbalancers/{lb_id}/listeners"),
        &token,
        Some(json!({"protocol": "http", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let backend = http_backend();
    let (status, body) = request(
        "POST",
        &format!(
            "{url}/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    let start = Instant::now();
    while Client::connect(front).and_then(|mut c| c.get()).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    (token, front)
}

fn takeover_config(dir: &Path, seed: u32) -> std::path::PathBuf {
    let config = loopback_config(dir, seed, 17);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[takeover]\ndrain_timeout_ms = 10000\n");
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn a_takeover_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = takeover_config(dir.path(), 171);
    let admin = "takeover-admin";
    let mut old = serve_with(dir.path(), Some(admin), Some(&config));
    let url = old.url.clone();
    let (token, front) = http_service(&url, admin);

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    // One client mostly on kept-alive connections, one on new ones.
    let clients: Vec<_> = [20u64, 1]
        .into_iter()
        .map(|reuse| {
            let (stop, tally) = (stop.clone(), tally.clone());
            std::thread::spawn(move || load(front, reuse, &stop, &tally))
        })
        .collect();
    until_ok(&tally, 0, 200);
    // A kept-alive connection, quiet while the successor starts.
    let mut quiet = Client::connect(front).unwrap();
    assert!(quiet.get().unwrap(), "kept alive before the takeover");

    let before = tally.ok.load(Ordering::Relaxed);
    let new = serve_takeover(dir.path(), Some(admin), Some(&config));
    // The API socket itself moved: same address, port 0 notwithstanding.
    assert_eq!(new.url, url);
    // The old process keeps serving it while it drains, and its next
    // answer once draining says `Connection: close` (answers before that
    // keep it alive); the old process waits for it.
    let start = Instant::now();
    while quiet.get().expect("the quiet connection is served") {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never told to close"
        );
        assert!(
            old.child.try_wait().unwrap().is_none(),
            "exited with a connection open"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(quiet);
    let status = exited(&mut old.child);
    assert!(status.success(), "the old process exited cleanly: {status}");
    let during = tally.ok.load(Ordering::Relaxed) - before;
    until_ok(&tally, tally.ok.load(Ordering::Relaxed), 200);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let (ok, failed) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    eprintln!("{ok} requests, {during} while the process was replaced, {failed} failed");
    assert_eq!(failed, 0, "no request failed across the takeover");
    assert!(during > 0, "requests were served during the takeover");

    // The successor owns the store: it reads what the old one wrote and
    // writes.
    let (status, listed) = request("GET", &format!("{url}/v1/loadbalancers"), &token, None);
    assert_eq!(status, 200, "{listed}");
    let (status, project) = request(
        "POST",
        &format!("{url}/v1/projects"),
        admin,
        Some(json!({"name": "after-takeover"})),
    );
    assert_eq!(status, 201, "{project}");
    drop(new);
}

/// A raw session on the takeover socket, as a hostile local user of the
/// same account would open one.
fn session(dir: &Path) -> OwnedFd {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let path = dir.join("weir-data").join("takeover.sock");
    rustix::net::connect(&fd, &SocketAddrUnix::new(&path).unwrap()).unwrap();
    rustix::net::sockopt::set_socket_timeout(
        &fd,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_secs(20)),
    )
    .unwrap();
    fd
}

fn send(fd: &OwnedFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    }
    rustix::net::sendmsg(
        fd,
        &[std::io::IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .unwrap();
}

/// The next record (empty: the server closed the session) and how many
/// descriptors came with it (closed here).
fn recv(fd: &OwnedFd) -> (Vec<u8>, usize) {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut buf = vec![0u8; 2048];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(253))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = rustix::net::recvmsg(
        fd,
        &mut [std::io::IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .unwrap();
    let mut count = 0;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(passed) = message {
            count += passed.count();
        }
    }
    buf.truncate(msg.bytes);
    (buf, count)
}

/// The server still serves and writes: a project is created.
fn still_writes(url: &str, admin: &str, name: &str) {
    let start = Instant::now();
    loop {
        let (status, body) = request(
            "POST",
            &format!("{url}/v1/projects"),
            admin,
            Some(json!({"name": name})),
        );
        if status == 201 {
            return;
        }
        // A takeover being taken back may answer 503 once; never for long.
        assert_eq!(status, 503, "{body}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writes never resumed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_hostile_takeover_socket_peer_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = takeover_config(dir.path(), 173);
    let admin = "hostile-admin";
    let mut old = serve_with(dir.path(), Some(admin), Some(&config));
    let url = old.url.clone();
    let (_token, front) = http_service(&url, admin);
    let sock = dir.path().join("weir-data").join("takeover.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its user reaches the socket");

    // A second server on the same data directory is refused.
    let second = std::process::Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env("WEIR_LISTEN", "127.0.0.1:0")
        .env("WEIR_ADMIN_TOKEN", admin)
        .env_remove("WEIR_DATA_DIR")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("--takeover"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    let hostile: Vec<(&str, Vec<u8>, bool)> = vec![
        ("garbage", b"\x00\xffGET / HTTP/1.1\r\n".to_vec(), false),
        ("oversized", vec![b'A'; 64 * 1024], false),
        ("wrong version", b"WEIR-TAKEOVER 9 HELLO 1".to_vec(), false),
        ("READY first", b"WEIR-TAKEOVER 1 READY".to_vec(), false),
        (
            "descriptors sent in",
            b"WEIR-TAKEOVER 1 HELLO 1".to_vec(),
            true,
        ),
    ];
    for (what, bytes, with_fd) in hostile {
        let fd = session(dir.path());
        let null = std::fs::File::open("/dev/null").unwrap();
        let fds = if with_fd {
            vec![null.as_fd(); 3]
        } else {
            vec![]
        };
        send(&fd, &bytes, &fds);
        let (answer, passed) = recv(&fd);
        assert_eq!(passed, 0, "{what}: no socket handed out");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("WEIR-TAKEOVER 1 REFUSED"),
            "{what}: {text}"
        );
        assert!(
            old.child.try_wait().unwrap().is_none(),
            "{what}: still running"
        );
        Client::connect(front).and_then(|mut c| c.get()).unwrap();
    }

    // A peer that takes the sockets and then says something else, or goes
    // away: the server takes everything back and writes again.
    for goodbye in [Some(&b"WEIR-TAKEOVER 1 DRAINING 1"[..]), None] {
        let fd = session(dir.path());
        send(&fd, b"WEIR-TAKEOVER 1 HELLO 1", &[]);
        let mut passed = 0;
        loop {
            let (answer, n) = recv(&fd);
            passed += n;
            let text = String::from_utf8_lossy(&answer).into_owned();
            assert!(text.starts_with("WEIR-TAKEOVER 1 SOCKETS"), "{text}");
            if text.contains(" end ") {
                break;
            }
        }
        assert!(passed >= 2, "the API's and the listener's sockets");
        if let Some(bytes) = goodbye {
            send(&fd, bytes, &[]);
        }
        drop(fd);
        still_writes(&url, admin, "still-mine");
        Client::connect(front).and_then(|mut c| c.get()).unwrap();
        assert!(old.child.try_wait().unwrap().is_none());
    }

    // After all that, a real successor still takes over.
    let new = serve_takeover(dir.path(), Some(admin), Some(&config));
    assert_eq!(new.url, url);
    assert!(exited(&mut old.child).success());
    Client::connect(front).and_then(|mut c| c.get()).unwrap();
    still_writes(&url, admin, "successor");
}

/// A UDP backend on 127.0.0.1 that sends every datagram back.
fn udp_echo() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    addr
}

/// One datagram through `front` and back, from a new client socket
/// (retried a few times: UDP may drop).
fn udp_round_trip(front: SocketAddr, payload: &[u8]) -> bool {
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 2048];
    (0..10).any(|_| {
        client.send_to(payload, front).unwrap();
        matches!(client.recv_from(&mut buf), Ok((n, _)) if &buf[..n] == payload)
    })
}

/// The process that listens on the data directory's takeover socket
/// (its peer credentials name it).
fn takeover_socket_owner(dir: &Path) -> i32 {
    let path = dir.join("weir-data").join("takeover.sock");
    let start = Instant::now();
    loop {
        let fd = rustix::net::socket_with(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        let addr = rustix::net::SocketAddrUnix::new(&path).unwrap();
        if rustix::net::connect(&fd, &addr).is_ok() {
            return rustix::net::sockopt::socket_peercred(&fd)
                .unwrap()
                .pid
                .as_raw_nonzero()
                .get();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no takeover socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ends a process this test did not start (a successor started by
/// SIGUSR2), when dropped.
struct Reaped(i32);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.0.to_string())
            .status();
    }
}

#[test]
fn sigusr2_starts_a_successor_that_takes_udp_and_the_api_over() {
    let dir = tempfile::tempdir().unwrap();
    let config = takeover_config(dir.path(), 177);
    // Flows idle out quickly, so the old process's drain ends with them.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("workers = 1\n", "workers = 1\nudp_idle_timeout_ms = 500\n");
    std::fs::write(&config, text).unwrap();
    let admin = "usr2-admin";
    let mut old = serve_with(dir.path(), Some(admin), Some(&config));
    let url = old.url.clone();
    let (token, lb, vip, _) = tenant_lb_and_port(&url, admin);
    let port = std::net::UdpSocket::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, listener) = request(
        "POST",
        &format!(
            "{url}/v1/loadbalancers/{}/listeners",
            lb["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"protocol": "udp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let echo = udp_echo();
    let (status, body) = request(
        "POST",
        &format!(
            "{url}/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": echo.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    assert!(udp_round_trip(front, b"before"), "served before");
    let old_pid = i32::try_from(old.child.id()).unwrap();
    assert_eq!(takeover_socket_owner(dir.path()), old_pid);

    let sent = std::process::Command::new("kill")
        .arg("-USR2")
        .arg(old_pid.to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let status = exited(&mut old.child);
    assert!(status.success(), "the old process exited cleanly: {status}");
    let successor = takeover_socket_owner(dir.path());
    assert_ne!(successor, old_pid);
    let _reaped = Reaped(successor);

    // The successor serves the same UDP socket and the same API socket,
    // and owns the store.
    assert!(udp_round_trip(front, b"after"), "served after");
    let (status, project) = request(
        "POST",
        &format!("{url}/v1/projects"),
        admin,
        Some(json!({"name": "after-usr2"})),
    );
    assert_eq!(status, 201, "{project}");
}
