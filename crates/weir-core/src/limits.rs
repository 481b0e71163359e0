//! Per-listener resource limits: how many connections (UDP: flows) a
//! listener serves at once and how long a silent one may live. Unset
//! means the data plane's defaults (`dataplane.max_connections`,
//! `dataplane.tcp_idle_timeout_ms` / `udp_idle_timeout_ms`), so a listener
//! created with neither follows the operator's settings.

use crate::Error;

/// The most connections one listener may be given: twenty times the
/// default, past which one listener's fds crowd out everyone else's.
pub const MAX_CONNECTIONS_LIMIT: u64 = 1_000_000;

/// Idle timeouts a listener may ask for: from a second (anything shorter
/// cuts interactive sessions between keystrokes) to a week.
pub const IDLE_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 1_000..=604_800_000;

/// Checks a requested connection cap.
pub fn max_connections(requested: Option<u64>) -> Result<Option<u32>, Error> {
    match requested {
        None => Ok(None),
        Some(n) if (1..=MAX_CONNECTIONS_LIMIT).contains(&n) => Ok(u32::try_from(n).ok()),
        Some(n) => Err(Error::invalid(
            "max_connections",
            format!("{n} is not in 1-{MAX_CONNECTIONS_LIMIT}"),
        )),
    }
}

/// Checks a requested idle timeout.
pub fn idle_timeout_ms(requested: Option<u64>) -> Result<Option<u64>, Error> {
    match requested {
        None => Ok(None),
        Some(ms) if IDLE_TIMEOUT_MS_RANGE.contains(&ms) => Ok(Some(ms)),
        Some(ms) => Err(Error::invalid(
            "idle_timeout_ms",
            format!(
                "{ms} ms is not in {}-{} ms",
                IDLE_TIMEOUT_MS_RANGE.start(),
                IDLE_TIMEOUT_MS_RANGE.end()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_timeouts_are_bounded() {
        assert_eq!(max_connections(None).unwrap(), None);
        assert_eq!(max_connections(Some(1)).unwrap(), Some(1));
        assert_eq!(
            max_connections(Some(MAX_CONNECTIONS_LIMIT)).unwrap(),
            Some(1_000_000)
        );
        for bad in [0, MAX_CONNECTIONS_LIMIT + 1, u64::MAX] {
            assert!(
                matches!(max_connections(Some(bad)), Err(Error::InvalidField { ref field, .. }) if field == "max_connections"),
                "{bad}"
            );
        }
        assert_eq!(idle_timeout_ms(Some(1_000)).unwrap(), Some(1_000));
        for bad in [0, 999, 604_800_001] {
            assert!(idle_timeout_ms(Some(bad)).is_err(), "{bad}");
        }
    }
}
