//! An `anycast` node's announcements through the operator's BIRD 2: the
//! include file (rendered by `weir_core::cluster::bird`) replaced
//! atomically, then BIRD asked to reconfigure over its control socket,
//! spoken here directly (never by running `birdc`).

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use weir_core::cluster::bird::{parse_reply, render, Reply};

/// The longest a command may take, connection and reply included: a
/// `configure` answers once BIRD has parsed its files.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the announcements go.
pub struct Bird {
    socket: PathBuf,
    include: PathBuf,
    interface: String,
    /// The file as last written and taken by BIRD; `None` until then (or
    /// after a failure), so the next publish writes and reconfigures.
    published: Option<String>,
}

impl Bird {
    pub fn new(socket: PathBuf, include: PathBuf, interface: String) -> Self {
        Self {
            socket,
            include,
            interface,
            published: None,
        }
    }

    /// Announces exactly `vips`: rewrites the include file and has BIRD
    /// read it, unless BIRD already took this very file. Whether anything
    /// was sent.
    pub async fn publish(&mut self, vips: &BTreeSet<IpAddr>) -> Result<bool, String> {
        let text = render(&self.interface, vips);
        if self.published.as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        self.published = None;
        let path = self.include.clone();
        let body = text.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &body))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot write {}: {e}", self.include.display()))?;
        let reply = command(&self.socket, "configure").await?;
        if !reply.configured() {
            return Err(format!(
                "BIRD refused the configuration ({}): {}",
                reply.code,
                reply.text()
            ));
        }
        self.published = Some(text);
        Ok(true)
    }
}

/// Replaces `path` whole: a sibling temporary file, flushed to disk, then
/// renamed over it, so BIRD never reads half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?;
    let tmp = path.with_file_name(format!(".{}.weir-tmp", name.to_string_lossy()));
    // A leftover (or a link someone planted in a shared directory) is
    // removed, never followed; creating exclusively then fails rather
    // than write through a link made in between.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        // BIRD may run as its own user: it must read the file.
        .mode(0o644)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Sends one command on BIRD's control socket and reads its reply.
pub async fn command(socket: &Path, line: &str) -> Result<Reply, String> {
    let exchange = async {
        let mut stream = UnixStream::connect(socket)
            .await
            .map_err(|e| format!("cannot reach BIRD at {}: {e}", socket.display()))?;
        let mut buf = Vec::new();
        // BIRD greets first ("0001 BIRD 2.x ready.").
        let hello = read_reply(&mut stream, &mut buf).await?;
        if hello.code != 1 {
            return Err(format!(
                "{} does not greet as BIRD: {}",
                socket.display(),
                hello.text()
            ));
        }
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| format!("cannot write to BIRD: {e}"))?;
        read_reply(&mut stream, &mut buf).await
    };
    tokio::time::timeout(COMMAND_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("BIRD at {} did not answer in time", socket.display()))?
}

async fn read_reply(stream: &mut UnixStream, buf: &mut Vec<u8>) -> Result<Reply, String> {
    loop {
        if let Some((reply, used)) = parse_reply(buf).map_err(|e| e.to_string())? {
            buf.drain(..used);
            return Ok(reply);
        }
        let mut chunk = [0u8; 4096];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read BIRD's reply: {e}"))?;
        if n == 0 {
            return Err("BIRD closed the control socket mid-reply".to_owned());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    //! Against a real `bird` on a private control socket (skipped with a
    //! notice where BIRD is not installed). Its configuration has no
    //! kernel protocol, so it never touches the host's routes.

    use std::net::Ipv4Addr;
    use std::process::{Child, Command, Stdio};

    use super::*;

    struct Daemon(Child);

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn bird_binary() -> Option<PathBuf> {
        ["/usr/sbin/bird", "/usr/local/sbin/bird", "/usr/bin/bird"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    async fn start(dir: &Path) -> Option<(Daemon, PathBuf, PathBuf)> {
        let Some(binary) = bird_binary() else {
            eprintln!("BIRD test skipped: no bird binary (apt-get install bird2)");
            return None;
        };
        let include = dir.join("weir-anycast.conf");
        let socket = dir.join("bird.ctl");
        std::fs::write(&include, "").unwrap();
        let conf = dir.join("bird.conf");
        std::fs::write(
            &conf,
            format!(
                "router id 198.18.0.1;\nprotocol device {{ }}\ninclude \"{}\";\n",
                include.display()
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(dir.join("bird.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bird");
        let daemon = Daemon(child);
        for _ in 0..100 {
            if command(&socket, "show status").await.is_ok() {
                return Some((daemon, socket, include));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("bird never answered on {}", socket.display());
    }

    fn vip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, 1, n))
    }

    #[tokio::test]
    async fn bird_takes_the_file_and_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let Some((_daemon, socket, include)) = start(dir.path()).await else {
            return;
        };
        let mut bird = Bird::new(socket.clone(), include.clone(), "lo".to_owned());
        // Announce two, then withdraw one: BIRD reads each file.
        assert!(bird
            .publish(&BTreeSet::from([vip(1), vip(2)]))
            .await
            .unwrap());
        let written = std::fs::read_to_string(&include).unwrap();
        assert!(
            written.contains("198.18.1.1/32, 198.18.1.2/32"),
            "{written}"
        );
        let shown = command(&socket, "show protocols weir_anycast")
            .await
            .unwrap();
        assert!(!shown.is_error(), "{shown:?}");
        assert!(
            shown
                .lines
                .iter()
                .any(|l| l.starts_with("weir_anycast") && l.contains(" up ")),
            "{shown:?}"
        );
        // The same set again sends nothing.
        assert!(!bird
            .publish(&BTreeSet::from([vip(1), vip(2)]))
            .await
            .unwrap());
        assert!(bird.publish(&BTreeSet::from([vip(2)])).await.unwrap());
        assert!(!std::fs::read_to_string(&include)
            .unwrap()
            .contains("198.18.1.1/"));
        // Nothing announced is a valid file too.
        assert!(bird.publish(&BTreeSet::new()).await.unwrap());
        let shown = command(&socket, "show protocols weir_anycast")
            .await
            .unwrap();
        assert!(
            shown.lines.iter().any(|l| l.starts_with("weir_anycast")),
            "{shown:?}"
        );
        // An interface name BIRD cannot read is refused, in BIRD's words,
        // and not remembered as published: the next good file goes out.
        let mut broken = Bird::new(socket.clone(), include.clone(), "lo\"; }".to_owned());
        let err = broken.publish(&BTreeSet::from([vip(3)])).await.unwrap_err();
        assert!(
            err.contains("BIRD refused the configuration (8002)"),
            "{err}"
        );
        assert!(bird.publish(&BTreeSet::from([vip(3)])).await.unwrap());
        // A link planted where the temporary file goes is removed, not
        // written through.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".weir-anycast.conf.weir-tmp"))
            .unwrap();
        assert!(bird.publish(&BTreeSet::from([vip(4)])).await.unwrap());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::read_to_string(&include)
            .unwrap()
            .contains("198.18.1.4/32"));
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("weir-tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[tokio::test]
    async fn a_socket_that_is_not_bird_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.ctl");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let err = command(&path, "configure").await.unwrap_err();
        assert!(err.contains("not a BIRD control-socket reply"), "{err}");
        let err = command(&dir.path().join("absent.ctl"), "configure")
            .await
            .unwrap_err();
        assert!(err.contains("cannot reach BIRD"), "{err}");
    }
}
