//! The takeover socket: a Unix `SOCK_SEQPACKET` socket in the data
//! directory (records keep their boundaries, so one message is read whole
//! or refused), descriptors passed with `SCM_RIGHTS`, the peer's user
//! checked with `SO_PEERCRED`. Blocking calls with receive timeouts: the
//! protocol is a handful of records, run on a thread of its own.
//!
//! rustix makes the system calls: its receive hands descriptors over as
//! `OwnedFd`s (no `unsafe` in Weir, and none can leak), and std's
//! ancillary-data support is not stable.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::net::{
    self, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};
use weir_core::takeover::{Message, MAX_MESSAGE};

/// The kernel's cap on descriptors in one message (`SCM_MAX_FD`): the
/// receive buffer has room for that many, so a peer cannot make the
/// control data truncate.
const SCM_MAX_FD: usize = 253;

/// The socket's name in the data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("takeover.sock")
}

/// A bound, listening takeover socket and the inode it has on disk.
pub struct Listening {
    fd: OwnedFd,
    path: PathBuf,
    inode: (u64, u64),
}

impl Listening {
    /// Binds at a private temporary name, makes it 0600, then renames it
    /// over `path`: the socket at `path` is never reachable by another
    /// user, and a successor's socket replaces its predecessor's in one
    /// step.
    pub fn bind(path: &Path) -> std::io::Result<Self> {
        let fd = seqpacket()?;
        let temp = path.with_extension(format!("sock.{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        net::bind(&fd, &SocketAddrUnix::new(&temp)?)?;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))?;
        net::listen(&fd, 4)?;
        std::fs::rename(&temp, path)?;
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            fd,
            path: path.to_owned(),
            inode: (meta.dev(), meta.ino()),
        })
    }

    /// Removes the socket's name, unless a successor's socket has
    /// replaced it.
    pub fn unlink_if_ours(&self) {
        if let Ok(meta) = std::fs::metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.inode {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }

    /// The next connection.
    pub fn accept(&self) -> std::io::Result<OwnedFd> {
        Ok(net::accept_with(&self.fd, SocketFlags::CLOEXEC)?)
    }
}

fn seqpacket() -> std::io::Result<OwnedFd> {
    Ok(net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// A connection to the takeover socket at `path`.
pub fn connect(path: &Path) -> std::io::Result<OwnedFd> {
    let fd = seqpacket()?;
    net::connect(&fd, &SocketAddrUnix::new(path)?)?;
    Ok(fd)
}

/// The user id of the process at the other end.
pub fn peer_uid(fd: &OwnedFd) -> std::io::Result<u32> {
    Ok(net::sockopt::socket_peercred(fd)?.uid.as_raw())
}

/// This process's effective user id.
pub fn own_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Bounds every later receive on `fd`.
pub fn set_timeout(fd: &OwnedFd, timeout: Duration) -> std::io::Result<()> {
    Ok(net::sockopt::set_socket_timeout(
        fd,
        net::sockopt::Timeout::Recv,
        Some(timeout),
    )?)
}

/// Sends one record, with `fds` attached.
pub fn send(fd: &OwnedFd, message: &Message, fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    let bytes = message.encode();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other(
            "too many descriptors for one message",
        ));
    }
    net::sendmsg(
        fd,
        &[IoSlice::new(&bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// What one receive brought.
pub enum Received {
    /// The peer closed the connection.
    Closed,
    /// A record (an over-long one arrives cut, one byte past
    /// [`MAX_MESSAGE`], so [`Message::decode`] refuses it) and the
    /// descriptors that came with it.
    Record(Vec<u8>, Vec<OwnedFd>),
}

/// Receives one record. Every descriptor that came with it is owned
/// (closed when dropped), whatever the record says.
pub fn recv(fd: &OwnedFd) -> std::io::Result<Received> {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(SCM_MAX_FD))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = net::recvmsg(
        fd,
        &mut [IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(passed) = message {
            fds.extend(passed);
        }
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(Received::Closed);
    }
    if msg.flags.contains(ReturnFlags::TRUNC) {
        // Longer than any record: refused by its length.
        return Ok(Received::Record(vec![0; MAX_MESSAGE + 1], fds));
    }
    buf.truncate(msg.bytes.min(MAX_MESSAGE + 1));
    Ok(Received::Record(buf, fds))
}
