//! systemd's readiness protocol (`Type=notify`): once `weir serve`
//! serves, it sends `READY=1` and `MAINPID=<pid>` as one datagram to the
//! Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for an
//! abstract socket), and `STOPPING=1` when it begins to stop. Written by
//! hand: the protocol is one datagram of `KEY=value` lines. A successor
//! started by `--takeover` or SIGUSR2 inherits the variable and says
//! `MAINPID` with its own pid, so systemd follows the handover (the unit
//! needs `NotifyAccess=all` for that).

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Where to notify, read from the environment; `None` when not run by a
/// service manager (or when the variable names no socket, said once).
pub fn socket() -> Option<SocketAddr> {
    let value = std::env::var_os("NOTIFY_SOCKET")?;
    match address(value.as_encoded_bytes()) {
        Ok(addr) => Some(addr),
        Err(e) => {
            tracing::warn!(error = %e, "NOTIFY_SOCKET ignored");
            None
        }
    }
}

/// `NOTIFY_SOCKET`'s value as a socket address: an absolute path, or
/// `@` and an abstract name (Linux).
fn address(value: &[u8]) -> Result<SocketAddr, String> {
    match value.split_first() {
        Some((b'/', _)) => {
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(value));
            SocketAddr::from_pathname(path).map_err(|e| format!("{}: {e}", path.display()))
        }
        Some((b'@', name)) if !name.is_empty() => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name).map_err(|e| e.to_string())
        }
        _ => Err("neither an absolute path nor @name".to_owned()),
    }
}

/// Sends `state` (newline-separated `KEY=value`) to `addr`.
pub fn send(addr: &SocketAddr, state: &str) -> std::io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), addr)?;
    Ok(())
}

/// Tells the service manager this process serves, and is the main one.
pub fn ready() {
    if let Some(addr) = socket() {
        let state = format!("READY=1\nMAINPID={}\n", std::process::id());
        match send(&addr, &state) {
            Ok(()) => tracing::info!("told the service manager we are ready"),
            Err(e) => tracing::warn!(error = %e, "cannot notify the service manager"),
        }
    }
}

/// Tells the service manager this process is stopping.
pub fn stopping() {
    if let Some(addr) = socket() {
        let _ = send(&addr, "STOPPING=1\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let addr = address(path.as_os_str().as_encoded_bytes()).unwrap();
        send(&addr, "READY=1\nMAINPID=42\n").unwrap();
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nMAINPID=42\n");
    }

    #[test]
    fn a_datagram_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("weir-notify-test-{}", std::process::id());
        let server =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let addr = address(format!("@{name}").as_bytes()).unwrap();
        send(&addr, "STOPPING=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1\n");
    }

    #[test]
    fn values_that_name_no_socket_are_refused() {
        for bad in [&b""[..], b"relative/path", b"@", b"notify.sock"] {
            assert!(address(bad).is_err(), "{bad:?}");
        }
        let long = format!("/{}", "x".repeat(200));
        assert!(address(long.as_bytes()).is_err());
    }
}
