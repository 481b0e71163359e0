//! Live state as the data plane reports it: what the API shows next to the
//! stored configuration.

use std::fmt;

/// Where a backend stands in the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendState {
    /// Registered in a pool with checks, no verdict yet: no traffic.
    Checking,
    /// Takes new connections.
    Healthy,
    /// Failed its checks, or was ejected after failed connections.
    Unhealthy,
    /// Disabled or removed: no new connections, open ones finishing.
    Draining,
    /// Disabled and no connection left.
    Drained,
    /// Disabled before it carried traffic.
    Disabled,
}

impl BackendState {
    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Checking => "checking",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Draining => "draining",
            Self::Drained => "drained",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for BackendState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend's live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendLive {
    pub state: BackendState,
    /// Why, in words: the last check's result, the egress guard, ...
    pub reason: Option<String>,
    pub active_connections: u64,
}

/// Where a listener stands in the data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerLive {
    /// Bound and serving.
    Active,
    /// Could not be served; the reason says why (a bind failure, ...).
    Error(String),
    /// This data plane does not serve this kind of listener.
    Unsupported(String),
}
