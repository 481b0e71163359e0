//! Live state as the data plane reports it: what the API shows next to the
//! stored configuration.

use std::fmt;

use crate::model::LbStatus;

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

/// Why a backend is unhealthy, in the only words a tenant reads. A raw
/// probe error ("Connection refused (os error 111)", "timed out after
/// 2000 ms", the latency of a refused probe) tells closed from filtered
/// from open ports, which would make Weir a port scanner for whatever
/// a tenant can name; the data plane logs the detail for operators and
/// shows this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// Connecting, sending or reading failed or timed out, whatever the
    /// errno.
    ConnectionFailed,
    /// The backend answered, but not as the check expects (HTTP status,
    /// a UDP payload check's answer).
    UnexpectedResponse,
    /// Traffic reached the backend but got no usable answer (passive
    /// health: closed, reset, not HTTP, or too slow).
    NoResponse,
    /// The data plane may not dial the address (`dataplane.egress_allow`).
    NotAllowed,
}

impl FailureReason {
    /// The tenant-facing text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionFailed => "connection failed",
            Self::UnexpectedResponse => "health check failed: unexpected response",
            Self::NoResponse => "requests failed: no usable response",
            Self::NotAllowed => {
                "the data plane may not reach this address (dataplane.egress_allow)"
            }
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backend's live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendLive {
    pub state: BackendState,
    /// Why, in words: a [`FailureReason`], draining, the slow-start ramp;
    /// never a raw probe error.
    pub reason: Option<String>,
    pub active_connections: u64,
    /// While draining: when the connections still open are closed (the
    /// pool's drain timeout after the drain began), on the wall clock.
    pub drain_deadline: Option<crate::time::Timestamp>,
    /// Traffic counters, for rates a client computes between two reads.
    pub stats: BackendStats,
}

/// A backend's traffic since the data plane started serving it (totals
/// that only grow while it stays in its pool).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// Connections opened to the backend (HTTP: reused ones count once).
    pub total_connections: u64,
    /// HTTP responses relayed from it, of any status (0 on TCP and UDP).
    pub requests: u64,
    /// Of those, 5xx answers.
    pub responses_5xx: u64,
    /// Attempts that got no usable answer: failed connects, failed TLS
    /// handshakes with the member, closes or resets before a response.
    pub failures: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A listener's traffic since the data plane started serving it
/// (Octavia's listener `stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerStats {
    pub active_connections: u64,
    pub total_connections: u64,
    /// Bytes clients sent (as relayed to backends of the pools it serves;
    /// a pool two listeners share counts for each).
    pub bytes_in: u64,
    /// Bytes backends answered with, counted the same way.
    pub bytes_out: u64,
    /// Connections or requests that failed (no backend, refused, reset).
    pub request_errors: u64,
}

impl std::ops::Add for ListenerStats {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            active_connections: self.active_connections + o.active_connections,
            total_connections: self.total_connections + o.total_connections,
            bytes_in: self.bytes_in + o.bytes_in,
            bytes_out: self.bytes_out + o.bytes_out,
            request_errors: self.request_errors + o.request_errors,
        }
    }
}

/// Where a listener stands in the data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerLive {
    /// Configured and to be served, but the data plane has not applied it
    /// yet (it is behind the store's revision).
    Pending,
    /// Bound and serving.
    Active,
    /// Could not be served; the reason says why (a bind failure, ...).
    Error(String),
    /// This data plane does not serve this kind of listener.
    Unsupported(String),
}

/// A load balancer's status as users see it: the stored one (RUNNING or
/// STOPPED, what the operator asked for) until the data plane has a say.
/// A running load balancer is CREATING while any of its served listeners
/// is still pending and ERROR when one could not be bound, so it reads
/// RUNNING only once the data plane has bound every listener.
/// `listeners` holds the live state of the listeners it serves.
pub fn load_balancer_status(stored: LbStatus, listeners: &[ListenerLive]) -> LbStatus {
    if stored != LbStatus::Running {
        return stored;
    }
    if listeners
        .iter()
        .any(|l| matches!(l, ListenerLive::Error(_)))
    {
        LbStatus::Error
    } else if listeners.contains(&ListenerLive::Pending) {
        LbStatus::Creating
    } else {
        LbStatus::Running
    }
}

/// The listener state that speaks for a whole load balancer: an error
/// first, then pending, then unsupported, else active.
pub fn worst_listener(listeners: &[ListenerLive]) -> ListenerLive {
    let find = |want: fn(&ListenerLive) -> bool| listeners.iter().find(|l| want(l)).cloned();
    find(|l| matches!(l, ListenerLive::Error(_)))
        .or_else(|| find(|l| *l == ListenerLive::Pending))
        .or_else(|| find(|l| matches!(l, ListenerLive::Unsupported(_))))
        .unwrap_or(ListenerLive::Active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_balancer_runs_once_every_listener_is_bound() {
        use ListenerLive::*;
        let bind_error = Error("address in use".into());
        let unsupported = Unsupported("all ports".into());
        for (stored, listeners, shown) in [
            (LbStatus::Running, vec![], LbStatus::Running),
            (LbStatus::Running, vec![Active, Pending], LbStatus::Creating),
            (
                LbStatus::Running,
                vec![Active, unsupported.clone()],
                LbStatus::Running,
            ),
            (
                LbStatus::Running,
                vec![Pending, bind_error.clone()],
                LbStatus::Error,
            ),
            (
                LbStatus::Stopped,
                vec![bind_error.clone()],
                LbStatus::Stopped,
            ),
        ] {
            assert_eq!(
                load_balancer_status(stored, &listeners),
                shown,
                "{listeners:?}"
            );
        }
        assert_eq!(worst_listener(&[]), Active);
        assert_eq!(worst_listener(&[unsupported.clone(), Pending]), Pending);
        assert_eq!(worst_listener(&[Pending, bind_error.clone()]), bind_error);
        assert_eq!(worst_listener(&[Active, unsupported.clone()]), unsupported);
    }
}
