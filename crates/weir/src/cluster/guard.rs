//! The VIP guard of a `failover` or `anycast` node: a child process
//! (`weir` run again with the hidden first argument [`ARG`]) that takes
//! the node's VIP addresses off its interface when the node's process
//! dies without doing so itself (`kill -9`, a crash). One guard serves
//! both regimes of a node (they share the interface, and a VIP passing
//! from one regime's loop to the other's stays on).
//!
//! Why a process: a killed process runs no code, and the kernel keeps an
//! address until its valid lifetime runs out, whole seconds at least; the
//! node taking the VIP over must wait until nobody answers ARP for it, so
//! a dead owner's address used to set the failover gap (1.2 s at
//! `node_timeout_ms = 600`); an `anycast` node's address is what BIRD's
//! `direct` route lives by, so a dead node kept its share of the routers'
//! new connections, refused, until the lifetime ran out. The guard is told over a pipe, its standard
//! input, which VIPs the node is about to put on (`+vip`) and has taken
//! off (`-vip`); the node holds the pipe's only write end, so the kernel
//! closes it when the node dies, however it dies, and the guard reads
//! end-of-file, removes what it was told is on, and exits. A normal stop
//! has already taken everything off (the guard then removes nothing); a
//! hand-over to a successor (`=`) leaves the addresses to it. The guard
//! runs in a process group of its own, so a terminal's Ctrl-C or a signal
//! to the node's group reaches the node only; a node whose guard died
//! falls back on the kernel lifetime (each address keeps one).
//!
//! It never removes a successor's address: another node's VIPs are on
//! another host's interface, and the same node started again clears its
//! interface first and puts a VIP on only after a round with the store,
//! while the guard acts within milliseconds of the death.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, ExitCode, Stdio};
use std::sync::Mutex;

/// The first argument that makes `weir` a guard (not a subcommand users
/// see: it is for the node's own use).
pub const ARG: &str = "__vip-guard";

/// What the node tells its guard, one line each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    /// About to put the VIP on the interface.
    On(IpAddr),
    /// Took it off.
    Off(IpAddr),
    /// A successor serves on with these addresses: leave them.
    HandOver,
}

impl Told {
    fn line(self) -> String {
        match self {
            Told::On(vip) => format!("+{vip}\n"),
            Told::Off(vip) => format!("-{vip}\n"),
            Told::HandOver => "=\n".to_owned(),
        }
    }

    fn parse(line: &str) -> Option<Self> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line == "=" {
            return Some(Told::HandOver);
        }
        let (sign, vip) = (line.get(..1)?, line.get(1..)?);
        let vip: IpAddr = vip.parse().ok()?;
        match sign {
            "+" => Some(Told::On(vip)),
            "-" => Some(Told::Off(vip)),
            _ => None,
        }
    }
}

/// The node's end: the pipe to its guard.
pub struct Guard {
    inner: Mutex<Inner>,
}

struct Inner {
    /// `None` once the guard is gone (a write failed).
    pipe: Option<ChildStdin>,
    /// What the guard was told is on, so a renewal tells it nothing new.
    on: BTreeSet<IpAddr>,
    /// Handed over to a successor: what this process puts on from now on
    /// (a loop's last round) is the successor's too, never the guard's.
    handed_over: bool,
}

impl Guard {
    /// Starts the guard for `interface`, running this very binary
    /// (`/proc/self/exe` is the file this process runs, even if an upgrade
    /// replaced the path since).
    pub fn start(interface: &str) -> Result<Self, String> {
        let child = std::process::Command::new("/proc/self/exe")
            .arg(ARG)
            .arg(interface)
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the VIP guard: {e}"))?;
        tracing::info!(pid = child.id(), %interface, "VIP guard started");
        Ok(Self {
            inner: Mutex::new(Inner {
                pipe: child.stdin,
                on: BTreeSet::new(),
                handed_over: false,
            }),
        })
    }

    /// Before `vip` goes on the interface.
    pub fn on(&self, vip: IpAddr) {
        let mut inner = self.lock();
        if !inner.handed_over && inner.on.insert(vip) {
            inner.tell(Told::On(vip));
        }
    }

    /// After `vip` came off the interface.
    pub fn off(&self, vip: IpAddr) {
        let mut inner = self.lock();
        if inner.on.remove(&vip) {
            inner.tell(Told::Off(vip));
        }
    }

    /// The addresses stay for a successor: the guard must not remove them
    /// when this process ends.
    pub fn hand_over(&self) {
        let mut inner = self.lock();
        inner.on.clear();
        if !inner.handed_over {
            inner.handed_over = true;
            inner.tell(Told::HandOver);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    /// One short line to a pipe the guard drains at once: a write of less
    /// than `PIPE_BUF` bytes is whole and does not wait.
    fn tell(&mut self, told: Told) {
        let Some(pipe) = &mut self.pipe else {
            return;
        };
        if let Err(e) = pipe.write_all(told.line().as_bytes()) {
            tracing::error!(error = %e, "the VIP guard is gone: a crash now leaves the VIPs \
                on the interface until their kernel lifetime ends");
            self.pipe = None;
        }
    }
}

/// The guard's process: reads what the node tells it until end-of-file,
/// then removes what is still on.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let Some(interface) = std::env::args().nth(2) else {
        eprintln!("error: {ARG} needs an interface");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: VIP guard: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Opened before anything is on, so the guard is ready when it is
    // needed; the lifetime is unused (the guard only removes).
    let addresses = match runtime.block_on(super::vip::Addresses::open(&interface, 1)) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "VIP guard: cannot watch the interface");
            return ExitCode::FAILURE;
        }
    };
    let on = read_until_closed(std::io::stdin().lock());
    for vip in on {
        match runtime.block_on(addresses.remove(vip)) {
            Ok(()) => tracing::warn!(%vip, "the node died holding the VIP: took it off"),
            Err(e) => tracing::error!(%vip, error = %e, "VIP guard: cannot take the VIP off"),
        }
    }
    ExitCode::SUCCESS
}

/// What is on when the node's end closes. Lines are the node's own (at
/// most ~45 bytes); a line that does not read is skipped.
fn read_until_closed(input: impl BufRead) -> BTreeSet<IpAddr> {
    let mut on = BTreeSet::new();
    for line in input.split(b'\n') {
        let Ok(line) = line else {
            break;
        };
        let Some(told) = std::str::from_utf8(&line).ok().and_then(Told::parse) else {
            continue;
        };
        match told {
            Told::On(vip) => {
                on.insert(vip);
            }
            Told::Off(vip) => {
                on.remove(&vip);
            }
            Told::HandOver => on.clear(),
        }
    }
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_node_says_reads_back() {
        for told in [
            Told::On("198.18.0.100".parse().unwrap()),
            Told::Off("2001:db8::64".parse().unwrap()),
            Told::HandOver,
        ] {
            assert_eq!(Told::parse(&told.line()), Some(told));
        }
        for bad in ["", "+", "*198.18.0.1", "+not-an-ip", "==", "+198.18.0.1 x"] {
            assert_eq!(Told::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn after_a_hand_over_nothing_is_the_guards_again() {
        // No child: what the node would tell is what it keeps.
        let guard = Guard {
            inner: Mutex::new(Inner {
                pipe: None,
                on: BTreeSet::new(),
                handed_over: false,
            }),
        };
        let (a, b) = (
            "198.18.1.100".parse().unwrap(),
            "198.18.1.101".parse().unwrap(),
        );
        guard.on(a);
        assert!(guard.lock().on.contains(&a));
        guard.hand_over();
        // A loop's last round (the other regime's, say) puts an address
        // on again: the successor's, never the guard's to remove.
        guard.on(b);
        guard.on(a);
        assert!(guard.lock().on.is_empty());
        assert!(guard.lock().handed_over);
    }

    #[test]
    fn the_guard_removes_what_is_on_when_the_pipe_closes() {
        let input = "+198.18.0.100\n+198.18.0.101\n-198.18.0.100\ngarbage\n+2001:db8::64\n";
        let on = read_until_closed(input.as_bytes());
        let want: BTreeSet<IpAddr> = ["198.18.0.101", "2001:db8::64"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(on, want);
        // A hand-over leaves everything to the successor, and what comes
        // after it counts again.
        let on = read_until_closed("+198.18.0.100\n=\n+198.18.0.102\n".as_bytes());
        assert_eq!(on, BTreeSet::from(["198.18.0.102".parse().unwrap()]));
    }
}
