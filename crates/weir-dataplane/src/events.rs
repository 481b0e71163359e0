//! Live-state transitions, published as they happen: a backend turning
//! healthy, unhealthy, draining or drained, a listener bound or failed.
//!
//! One bounded `tokio::sync::broadcast` channel: publishing never waits
//! and never grows memory (a receiver that falls behind by more than the
//! capacity loses the oldest and is told how many), so a slow consumer
//! costs the data plane nothing. Transitions are found where they are
//! decided (a pool's snapshot rebuild, which every health, ejection and
//! drain change goes through; a drain's end; a listener's start), by
//! comparing with the state last published.

use tokio::sync::broadcast;
use weir_core::watch::LiveEvent;

/// Transitions kept for receivers that have not read them yet.
pub const CAPACITY: usize = 4096;

/// Where transitions go. Cheap to clone; the default publishes nowhere
/// (a pool built outside a data plane, as in tests).
#[derive(Clone, Default)]
pub struct LiveEvents(Option<broadcast::Sender<LiveEvent>>);

impl LiveEvents {
    /// A channel of [`CAPACITY`].
    pub fn channel() -> Self {
        Self(Some(broadcast::channel(CAPACITY).0))
    }

    /// Publishes one transition; nobody listening is fine.
    pub fn publish(&self, event: LiveEvent) {
        if let Some(sender) = &self.0 {
            let _ = sender.send(event);
        }
    }

    /// Whether anyone listens (so a publisher may skip building events).
    pub fn wanted(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.receiver_count() > 0)
    }

    /// A receiver of every transition from now on.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<LiveEvent>> {
        self.0.as_ref().map(broadcast::Sender::subscribe)
    }
}
