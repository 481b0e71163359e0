//! Periodic compaction of what the store would otherwise keep forever:
//! idempotency records past their TTL and change-log rows no follower
//! needs. It runs as an ordinary command of the group-commit writer, so it
//! is atomic and never races a write.

use std::time::Duration;

use weir_core::Timestamp;

use crate::writer::WeakWriter;
use crate::ControlError;

/// How long the store keeps what it only needs for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A client token is remembered this long; a retry after it executes
    /// again.
    pub idempotency_ttl: Duration,
    /// Change-log revisions kept behind the newest. A follower further
    /// behind (a node down for a long time) reloads everything.
    pub change_log_keep: u64,
    /// How often the sweep runs (the first one an interval after start).
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            change_log_keep: 100_000,
            every: Duration::from_secs(600),
        }
    }
}

/// Runs one sweep through the writer: records created before
/// `now - ttl` and change-log rows past `keep` go.
pub(crate) async fn sweep(
    writer: &crate::writer::Writer,
    retention: Retention,
    now: Timestamp,
) -> Result<weir_store::Compacted, ControlError> {
    let ttl = i64::try_from(retention.idempotency_ttl.as_millis()).unwrap_or(i64::MAX);
    let before = Timestamp(now.millis().saturating_sub(ttl));
    let keep = retention.change_log_keep;
    writer
        .write(move |mut tx| async move {
            let done = tx.compact(before, keep).await.map_err(ControlError::from);
            (tx, done)
        })
        .await
}

/// Sweeps every `retention.every` for as long as the writer runs.
pub(crate) fn spawn(writer: WeakWriter, retention: Retention, now: fn() -> Timestamp) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(retention.every).await;
            let Some(writer) = writer.upgrade() else {
                return;
            };
            match sweep(&writer, retention, now()).await {
                Ok(done) => tracing::debug!(
                    change_log_rows = done.change_log_rows,
                    idempotency_records = done.idempotency_records,
                    "compacted the store"
                ),
                Err(e) => tracing::warn!(error = %e, "store compaction failed; next round retries"),
            }
        }
    });
}
