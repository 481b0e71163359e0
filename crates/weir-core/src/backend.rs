//! Changing a registered backend: weight, enabled, backup, name.

use crate::model::Backend;
use crate::register::{check_name, RegisterPolicy};
use crate::{Error, Timestamp};

/// A partial update; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendUpdate {
    pub weight: Option<i64>,
    pub enabled: Option<bool>,
    pub backup: Option<bool>,
    pub name: Option<String>,
}

/// Applies `update` under the dialect's weight and name rules.
pub fn plan_backend_update(
    current: &Backend,
    update: &BackendUpdate,
    policy: &RegisterPolicy,
    now: Timestamp,
) -> Result<Backend, Error> {
    let mut next = current.clone();
    if let Some(w) = update.weight {
        let (min, max) = policy.weight_range;
        next.weight = u16::try_from(w)
            .ok()
            .filter(|w| (min..=max).contains(w))
            .ok_or_else(|| Error::invalid("weight", format!("{w} is not in {min}-{max}")))?;
    }
    if let Some(enabled) = update.enabled {
        next.enabled = enabled;
    }
    if let Some(backup) = update.backup {
        next.backup = backup;
    }
    if update.name.is_some() {
        next.name = check_name("name", update.name.as_deref(), policy.name_rule)?;
    }
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}
