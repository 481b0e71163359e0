//! Weir's application services: one method per command.
//!
//! Every write follows the same path: load what the command touches inside a
//! store transaction, ask a pure `weir_core` planner, save the plan, commit,
//! publish the new revision. Writes go through one task ([`writer`]) that
//! commits whatever commands are queued together in a single transaction
//! (group commit), each command inside its own savepoint, so that
//! - throughput is many commands per fsync,
//! - two commands that create the same backend are serialised and exactly
//!   one wins, while commands on different backends of one load balancer
//!   never wait for a lock,
//! - an answer is sent only after its transaction is durable.
//!
//! Reads go straight to the store's reader pool.

mod auth;
mod keymaterial;
mod maintenance;
pub mod secrets;
mod service;
mod topology;
pub mod watch;
pub mod writer;

pub use auth::{cluster_token, hash_token, random_token, Principal};
pub use maintenance::Retention;
pub use service::*;
pub use weir_store::Page;

use weir_core::ids::{BackendId, ListenerId};
use weir_core::status::{BackendLive, ListenerLive};

/// What the data plane knows right now, for the API to show beside the
/// stored configuration. Implemented by the composition root over the data
/// plane, so that neither the control layer nor the API depends on it.
pub trait LiveView: Send + Sync {
    fn backend(&self, id: &BackendId) -> Option<BackendLive>;
    fn listener(&self, id: &ListenerId) -> Option<ListenerLive>;
    /// A served listener's traffic counters.
    fn listener_stats(&self, id: &ListenerId) -> Option<weir_core::status::ListenerStats>;
    /// Binds again, now, every listener whose bind failed.
    fn retry_binds(&self);
    /// The store revision the data plane has applied, as it moves.
    fn applied(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Appends Prometheus text exposition of live traffic.
    fn render_metrics(&self, out: &mut String);
    /// Live-state transitions from now on, for the watch stream (`None`:
    /// this view reports none).
    fn transitions(&self) -> Option<tokio::sync::broadcast::Receiver<weir_core::watch::LiveEvent>> {
        None
    }
    /// Whether this is this node's own data plane (a view read from
    /// other nodes is not served on to others).
    fn local(&self) -> bool {
        true
    }
}

/// The cluster's part of the operator's `/metrics` (node states, VIP
/// ownership), kept by the composition root's cluster loop.
pub trait ClusterMetrics: Send + Sync {
    /// Appends Prometheus text exposition.
    fn render_metrics(&self, out: &mut String);
}

/// What a client is told when its commit's outcome is unknown.
pub const COMMIT_OUTCOME_UNKNOWN: &str =
    "the store connection was lost during commit: the write may have happened; \
     retry with the same client token, or read the resource before writing again";

/// Why a command failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    /// A domain rule refused it.
    #[error(transparent)]
    Domain(#[from] weir_core::Error),
    /// Only the operator (admin token) may do this.
    #[error("this operation needs the admin token")]
    AdminOnly,
    /// The caller's role only reads (a `reader` or an `observer`).
    #[error(
        "this credential's role ({0}) may only read; writing needs a member or admin credential"
    )]
    ReadOnly(weir_core::model::Role),
    /// The store failed; nothing of the command was written.
    #[error("the store failed: {0}")]
    Store(String),
    /// The store cannot be reached; nothing was written, and the same
    /// request may succeed later.
    #[error("the store is unreachable; nothing was written, try again: {0}")]
    StoreUnavailable(String),
    /// The connection to the store was lost while the commit was on its
    /// way: the write may or may not have happened. Retrying with the same
    /// client token is safe (it answers the first outcome if there was
    /// one); without one, read before writing again.
    #[error("the store connection was lost during commit; the write may have happened: {0}")]
    CommitOutcomeUnknown(String),
    /// The service is shutting down.
    #[error("the service is shutting down")]
    Unavailable,
}

impl ControlError {
    /// What a client may be told: store failures without their internals
    /// (those are for the log), everything else as it reads.
    pub fn client_message(&self) -> String {
        match self {
            ControlError::Store(_) => "the store failed; nothing was written".to_owned(),
            ControlError::StoreUnavailable(_) => {
                "the store is unreachable; nothing was written, try again".to_owned()
            }
            ControlError::CommitOutcomeUnknown(_) => COMMIT_OUTCOME_UNKNOWN.to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<weir_store::StoreError> for ControlError {
    fn from(e: weir_store::StoreError) -> Self {
        match e {
            // With one writer the planner sees every row, so this only fires
            // when another node won a race on a shared database.
            weir_store::StoreError::Unique(what) => {
                ControlError::Domain(weir_core::Error::conflict(format!(
                    "a concurrent request created the same resource ({what})"
                )))
            }
            weir_store::StoreError::Unavailable(why) => ControlError::StoreUnavailable(why),
            weir_store::StoreError::CommitOutcomeUnknown(why) => {
                ControlError::CommitOutcomeUnknown(why)
            }
            other => ControlError::Store(other.to_string()),
        }
    }
}

/// Result of a control operation.
pub type ControlResult<T> = Result<T, ControlError>;
