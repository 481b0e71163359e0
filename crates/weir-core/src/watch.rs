//! The watch stream's rules: what an event is called, what a caller may
//! resume from, and the live-state transitions the data plane reports.
//!
//! A watcher names a position and gets every change after it. Positions
//! are numbered per scope: a project's watcher counts its own project's
//! change-log rows (1, 2, 3... with no gaps, whatever other projects
//! write), so its positions never tell it how busy the others are; the
//! operator's watcher (the admin or an observer) counts the global
//! revision. Live-state transitions (a backend turning healthy, a listener
//! failing to bind) are not in the change log: they are delivered as they
//! happen and never replayed.

use crate::ids::{BackendId, ListenerId, LoadBalancerId, PoolId};
use crate::status::BackendState;

/// Why a position a watcher asked for cannot be resumed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PositionError {
    /// Not a non-negative decimal integer.
    Malformed(String),
    /// Past the newest position of the caller's scope.
    BeyondHead { asked: u64, head: u64 },
    /// Rows after it were compacted away: resuming would miss changes.
    Compacted { asked: u64, oldest: u64 },
}

impl std::fmt::Display for PositionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(what) => write!(
                f,
                "a watch position is a non-negative decimal integer, not {what:?}"
            ),
            Self::BeyondHead { asked, head } => write!(
                f,
                "position {asked} is beyond the newest change ({head}); resume from {head} or less"
            ),
            Self::Compacted { asked, oldest } => write!(
                f,
                "changes after position {asked} were compacted away (the oldest kept is {oldest}); \
                 read the resources again and watch from the current position"
            ),
        }
    }
}

/// Longest position text read: `u64::MAX` has 20 digits.
const MAX_POSITION_DIGITS: usize = 20;

/// Parses a position (`since=` or `Last-Event-ID`): ASCII digits only, no
/// sign, no spaces, at most 20 of them, within `u64`.
pub fn parse_position(text: &str) -> Result<u64, PositionError> {
    let shown = || text.chars().take(32).collect::<String>();
    if text.is_empty()
        || text.len() > MAX_POSITION_DIGITS
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PositionError::Malformed(shown()));
    }
    text.parse::<u64>()
        .map_err(|_| PositionError::Malformed(shown()))
}

/// Checks that `asked` can be resumed from without missing anything, in a
/// scope whose newest position is `head` and whose rows through
/// `compacted_through` are gone. Position 0 is "from the start".
pub fn check_resume(asked: u64, head: u64, compacted_through: u64) -> Result<(), PositionError> {
    if asked > head {
        return Err(PositionError::BeyondHead { asked, head });
    }
    if asked < compacted_through {
        return Err(PositionError::Compacted {
            asked,
            oldest: compacted_through + 1,
        });
    }
    Ok(())
}

/// Through which position a project's rows were compacted, from its head
/// and the oldest position still kept: every position below the oldest
/// kept one, or all of them when none is kept.
pub fn project_compacted_through(head: u64, oldest_kept: Option<u64>) -> u64 {
    match oldest_kept {
        Some(oldest) => oldest.saturating_sub(1),
        None => head,
    }
}

/// What a change did, from the change log's `op`.
pub fn action_name(op: &str) -> &'static str {
    match op {
        "create" => "created",
        "delete" => "deleted",
        _ => "updated",
    }
}

/// The event name of a change: `backend.created`, `listener.deleted`...
pub fn change_kind(entity: &str, op: &str) -> String {
    format!("{entity}.{}", action_name(op))
}

/// What a live transition reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveState {
    /// A backend's state (healthy, unhealthy, draining, drained, ...).
    Backend(BackendState),
    /// A listener bound its ports and serves.
    ListenerBound,
    /// A listener could not be served (a bind failure, certificates that
    /// do not open): the reason says why.
    ListenerFailed,
}

/// A live-state transition as the data plane saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub lb_id: LoadBalancerId,
    pub subject: LiveSubject,
    pub state: LiveState,
    /// Why, in the words the views use (never a raw error).
    pub reason: Option<String>,
}

/// What changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveSubject {
    Backend { id: BackendId, pool_id: PoolId },
    Listener { id: ListenerId },
}

impl LiveEvent {
    /// The event name: `backend.healthy`, `listener.bound`...
    pub fn kind(&self) -> String {
        match &self.state {
            LiveState::Backend(s) => format!("backend.{}", s.as_str()),
            LiveState::ListenerBound => "listener.bound".to_owned(),
            LiveState::ListenerFailed => "listener.failed".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_plain_decimal_integers() {
        assert_eq!(parse_position("0"), Ok(0));
        assert_eq!(parse_position("42"), Ok(42));
        assert_eq!(parse_position("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "0x10",
            "abc",
            "18446744073709551616",
            "000000000000000000001",
            "١",
        ] {
            assert!(
                matches!(parse_position(bad), Err(PositionError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn resuming_needs_a_position_within_the_kept_log() {
        assert_eq!(check_resume(0, 0, 0), Ok(()));
        assert_eq!(check_resume(5, 9, 0), Ok(()));
        assert_eq!(check_resume(9, 9, 0), Ok(()));
        assert_eq!(
            check_resume(10, 9, 0),
            Err(PositionError::BeyondHead { asked: 10, head: 9 })
        );
        // Rows through 4 are gone: resuming from 4 needs 5 onwards, kept.
        assert_eq!(check_resume(4, 9, 4), Ok(()));
        assert_eq!(
            check_resume(3, 9, 4),
            Err(PositionError::Compacted {
                asked: 3,
                oldest: 5
            })
        );
    }

    #[test]
    fn a_project_compacted_through_below_its_oldest_row_or_wholly() {
        assert_eq!(project_compacted_through(0, None), 0);
        assert_eq!(project_compacted_through(7, Some(1)), 0);
        assert_eq!(project_compacted_through(7, Some(5)), 4);
        assert_eq!(project_compacted_through(7, None), 7);
    }

    #[test]
    fn events_are_named_by_resource_and_what_happened() {
        assert_eq!(change_kind("backend", "create"), "backend.created");
        assert_eq!(change_kind("listener", "update"), "listener.updated");
        assert_eq!(
            change_kind("load_balancer", "delete"),
            "load_balancer.deleted"
        );
        let live = LiveEvent {
            lb_id: "lb".into(),
            subject: LiveSubject::Backend {
                id: "b".into(),
                pool_id: "p".into(),
            },
            state: LiveState::Backend(BackendState::Healthy),
            reason: None,
        };
        assert_eq!(live.kind(), "backend.healthy");
        let bound = LiveEvent {
            subject: LiveSubject::Listener { id: "l".into() },
            state: LiveState::ListenerBound,
            ..live
        };
        assert_eq!(bound.kind(), "listener.bound");
    }
}
