//! File descriptors: the process's limit, and the reserve the data plane
//! leaves to everyone else (the API, the store, health checks), so that a
//! flood of client connections can never leave the API unable to accept.
//!
//! [`raise_nofile_limit`] lifts the soft `RLIMIT_NOFILE` to the hard one at
//! start. [`FdBudget`] gates the accept loops: a listener accepts only
//! while the descriptors in use stay below the limit minus the reserve.
//! Counting them is one `stat(2)` of `/proc/self/fd` (Linux 6.2 reports the
//! count as its size); between counts each accepted connection is charged
//! [`FDS_PER_CONNECTION`], and a fresh count is taken every
//! [`RECOUNT_EVERY`] accepts or whenever the estimate nears the limit, so
//! the common case costs an atomic add.

use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// A proxied connection holds the client's socket and the backend's.
pub const FDS_PER_CONNECTION: u64 = 2;

/// Accepts between two counts while far from the limit.
pub const RECOUNT_EVERY: u64 = 256;

/// Raises the soft limit on open files to the hard one; returns the
/// (soft, hard) pair now in force.
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64)> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok((soft, hard))
}

/// Descriptors open in this process; `None` where `/proc` cannot tell.
pub fn open_fds() -> Option<u64> {
    let size = std::fs::metadata("/proc/self/fd").ok()?.len();
    if size > 0 {
        return Some(size);
    }
    // Kernels before 6.2 report no size: count the entries (the
    // directory's own descriptor among them, hence the minus one).
    let entries = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(entries.saturating_sub(1))
}

/// The data plane's share of the process's descriptors.
#[derive(Debug)]
pub struct FdBudget {
    /// The soft limit, read when the data plane started.
    limit: u64,
    /// Left to the rest of the process.
    reserve: u64,
    /// The last count.
    counted: AtomicU64,
    /// Accepts since the last count.
    since: AtomicU64,
    /// Accepts turned away for want of descriptors, for `/metrics`.
    pub refusals: AtomicU64,
}

impl FdBudget {
    /// A budget under the current soft limit, keeping `reserve` back (at
    /// most a quarter of the limit, so a small limit still serves).
    pub fn new(reserve: u64) -> Self {
        let limit = getrlimit(Resource::RLIMIT_NOFILE).map_or(u64::MAX, |(soft, _)| soft);
        Self::with_limit(limit, reserve)
    }

    /// A budget under an explicit limit.
    pub fn with_limit(limit: u64, reserve: u64) -> Self {
        Self {
            limit,
            reserve: reserve.min(limit / 4),
            counted: AtomicU64::new(open_fds().unwrap_or(0)),
            since: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Descriptors the data plane may hold before it stops accepting.
    fn ceiling(&self) -> u64 {
        self.limit.saturating_sub(self.reserve)
    }

    /// Whether one more connection fits; charges it when it does.
    pub fn admit(&self) -> bool {
        let since = self.since.fetch_add(1, Ordering::Relaxed);
        let estimate = self.counted.load(Ordering::Relaxed) + (since + 1) * FDS_PER_CONNECTION;
        if estimate < self.ceiling() && since < RECOUNT_EVERY {
            return true;
        }
        // Near the ceiling or due: count for real.
        let Some(open) = open_fds() else {
            return true;
        };
        self.counted.store(open, Ordering::Relaxed);
        self.since.store(1, Ordering::Relaxed);
        if open + FDS_PER_CONNECTION <= self.ceiling() {
            true
        } else {
            self.since.store(0, Ordering::Relaxed);
            self.refusals.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Whether an accept failed for want of descriptors (the process's or the
/// system's), which only time and closed connections cure.
pub fn is_exhaustion(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::ENOBUFS | nix::libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_open_and_stops_short_of_the_reserve() {
        let before = open_fds().expect("/proc/self/fd");
        let files: Vec<std::fs::File> = (0..8)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        // Other tests' threads open and close files too: ours are counted.
        assert!(open_fds().unwrap() + 2 >= before + 8);
        drop(files);
        // The reserve never exceeds a quarter of the limit.
        assert_eq!(FdBudget::with_limit(400, 10_000).reserve(), 100);
        // A budget already at its ceiling refuses, and counts the refusal.
        let open = open_fds().unwrap();
        let full = FdBudget::with_limit(open, 0);
        assert!(!full.admit(), "nothing fits at the limit");
        assert_eq!(full.refusals.load(Ordering::Relaxed), 1);
        // Far below it, admits.
        assert!(FdBudget::with_limit(open + 10_000, 0).admit());
    }
}
