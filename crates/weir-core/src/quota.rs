//! Per-project quotas (Octavia's quotas API): how many load balancers,
//! listeners, pools, health monitors, members, L7 policies and L7 rules
//! one project may hold. The deployment's defaults come from
//! [`Limits`] (`limits.load_balancers_per_project` and the `quotas.*`
//! settings); the operator may override any of them per project, and
//! every dialect's creates are held to the result in the creating
//! transaction (`weir-control`), so a quota set through Octavia binds the
//! same project's Zenlayer, UCloud, Aliyun, Huawei and native calls.
//!
//! A value is a count, or -1 for "unlimited" (Octavia's convention); an
//! unset value is the default.

use crate::error::QuotaKind;
use crate::settings::Limits;
use crate::Error;

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaResource {
    LoadBalancer,
    Listener,
    /// Server groups (Octavia's pools); a listener's own structural pool
    /// is part of the listener.
    Pool,
    /// Pools with an active health check.
    HealthMonitor,
    /// Backends.
    Member,
    L7Policy,
    L7Rule,
}

impl QuotaResource {
    pub const ALL: [Self; 7] = [
        Self::LoadBalancer,
        Self::Listener,
        Self::Pool,
        Self::HealthMonitor,
        Self::Member,
        Self::L7Policy,
        Self::L7Rule,
    ];

    /// The field name (Octavia's, and the native API's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoadBalancer => "load_balancer",
            Self::Listener => "listener",
            Self::Pool => "pool",
            Self::HealthMonitor => "health_monitor",
            Self::Member => "member",
            Self::L7Policy => "l7policy",
            Self::L7Rule => "l7rule",
        }
    }

    /// Octavia's name of the resource in "Quota has been met for
    /// resources: …".
    pub fn class_name(self) -> &'static str {
        match self {
            Self::LoadBalancer => "LoadBalancer",
            Self::Listener => "Listener",
            Self::Pool => "Pool",
            Self::HealthMonitor => "HealthMonitor",
            Self::Member => "Member",
            Self::L7Policy => "L7Policy",
            Self::L7Rule => "L7Rule",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for QuotaResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// "Unlimited".
pub const UNLIMITED: i64 = -1;

/// The largest quota one may set (Octavia's bound).
pub const MAX_QUOTA: i64 = 2_000_000_000;

/// One value per [`QuotaResource`]: `None` is "the default".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quotas([Option<i64>; 7]);

impl Quotas {
    pub fn get(&self, r: QuotaResource) -> Option<i64> {
        self.0[r.index()]
    }

    pub fn set(&mut self, r: QuotaResource, value: Option<i64>) {
        self.0[r.index()] = value;
    }

    /// Whether every value is the default (nothing to keep).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// Each value set here, else `defaults`'.
    pub fn or(&self, defaults: &Quotas) -> Quotas {
        let mut out = *defaults;
        for r in QuotaResource::ALL {
            if let Some(v) = self.get(r) {
                out.set(r, Some(v));
            }
        }
        out
    }

    /// How many of `r` these quotas allow (`None`: unlimited). An unset
    /// value is unlimited: call it on [`Quotas::or`] with the defaults.
    pub fn limit(&self, r: QuotaResource) -> Option<usize> {
        self.get(r)
            .filter(|v| *v >= 0)
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
    }
}

/// The deployment's defaults, every value set: load balancers from
/// `limits.load_balancers_per_project`, the rest from the `quotas.*`
/// settings (unlimited unless the operator sets one: each is already
/// bounded per load balancer or per pool by the other limits).
pub fn defaults(limits: &Limits) -> Quotas {
    let mut out = limits.project_quotas;
    if out.get(QuotaResource::LoadBalancer).is_none() {
        let lbs = i64::try_from(limits.load_balancers_per_project).unwrap_or(MAX_QUOTA);
        out.set(QuotaResource::LoadBalancer, Some(lbs));
    }
    for r in QuotaResource::ALL {
        if out.get(r).is_none() {
            out.set(r, Some(UNLIMITED));
        }
    }
    out
}

/// Checks one value from the wire: -1 (unlimited) to [`MAX_QUOTA`].
pub fn check_value(r: QuotaResource, value: i64) -> Result<i64, Error> {
    if (UNLIMITED..=MAX_QUOTA).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            r.as_str(),
            format!("{value} is not -1 (unlimited) or a count in 0-{MAX_QUOTA}"),
        ))
    }
}

/// A change to a project's quotas: `Some(None)` returns one to the
/// default; absent values are left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaUpdate(pub Vec<(QuotaResource, Option<i64>)>);

/// Applies `update` to `current`, each value checked.
pub fn plan_update(current: &Quotas, update: &QuotaUpdate) -> Result<Quotas, Error> {
    let mut next = *current;
    for (r, value) in &update.0 {
        next.set(*r, value.map(|v| check_value(*r, v)).transpose()?);
    }
    Ok(next)
}

/// Refuses `adding` more of `r` to a project holding `in_use` under
/// `quotas` (the project's over the defaults). Load balancers keep their
/// own kind, which every dialect already answers with its own error.
pub fn check_room(
    quotas: &Quotas,
    r: QuotaResource,
    in_use: usize,
    adding: usize,
) -> Result<(), Error> {
    let Some(limit) = quotas.limit(r) else {
        return Ok(());
    };
    let requested = in_use.saturating_add(adding);
    if adding > 0 && requested > limit {
        let kind = match r {
            QuotaResource::LoadBalancer => QuotaKind::LoadBalancersPerProject,
            other => QuotaKind::Project(other),
        };
        return Err(Error::QuotaExceeded {
            kind,
            limit,
            requested,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_the_operator_left_unset() {
        let limits = Limits::default();
        let d = defaults(&limits);
        assert_eq!(d.get(QuotaResource::LoadBalancer), Some(100));
        assert_eq!(d.get(QuotaResource::Member), Some(UNLIMITED));
        let mut limits = Limits::default();
        limits.project_quotas.set(QuotaResource::Member, Some(10));
        assert_eq!(defaults(&limits).limit(QuotaResource::Member), Some(10));
    }

    #[test]
    fn a_project_override_wins_and_reset_returns_to_the_default() {
        let d = defaults(&Limits::default());
        let set = plan_update(
            &Quotas::default(),
            &QuotaUpdate(vec![
                (QuotaResource::Listener, Some(2)),
                (QuotaResource::LoadBalancer, Some(UNLIMITED)),
            ]),
        )
        .unwrap();
        let eff = set.or(&d);
        assert_eq!(eff.limit(QuotaResource::Listener), Some(2));
        assert_eq!(eff.limit(QuotaResource::LoadBalancer), None);
        let reset = plan_update(&set, &QuotaUpdate(vec![(QuotaResource::Listener, None)])).unwrap();
        assert_eq!(reset.or(&d).limit(QuotaResource::Listener), None);
        assert_eq!(
            reset.get(QuotaResource::LoadBalancer),
            Some(UNLIMITED),
            "other values are left"
        );
    }

    #[test]
    fn values_outside_minus_one_to_the_maximum_are_refused() {
        for bad in [-2, i64::MIN, MAX_QUOTA + 1] {
            let update = QuotaUpdate(vec![(QuotaResource::Pool, Some(bad))]);
            assert!(matches!(
                plan_update(&Quotas::default(), &update),
                Err(Error::InvalidField { field, .. }) if field == "pool"
            ));
        }
        for good in [-1, 0, MAX_QUOTA] {
            assert!(check_value(QuotaResource::Pool, good).is_ok());
        }
    }

    #[test]
    fn room_is_refused_past_the_limit_and_zero_allows_none() {
        let mut q = Quotas::default();
        q.set(QuotaResource::Member, Some(3));
        q.set(QuotaResource::Pool, Some(0));
        q.set(QuotaResource::LoadBalancer, Some(1));
        assert!(check_room(&q, QuotaResource::Member, 1, 2).is_ok());
        assert!(matches!(
            check_room(&q, QuotaResource::Member, 1, 3),
            Err(Error::QuotaExceeded {
                kind: QuotaKind::Project(QuotaResource::Member),
                limit: 3,
                requested: 4
            })
        ));
        assert!(check_room(&q, QuotaResource::Pool, 0, 1).is_err());
        assert!(matches!(
            check_room(&q, QuotaResource::LoadBalancer, 1, 1),
            Err(Error::QuotaExceeded {
                kind: QuotaKind::LoadBalancersPerProject,
                ..
            })
        ));
        // Unset is unlimited here (the caller merges the defaults first);
        // nothing added is never over, even above a lowered quota.
        assert!(check_room(&q, QuotaResource::Listener, 10_000, 1).is_ok());
        assert!(check_room(&q, QuotaResource::Member, 9, 0).is_ok());
    }
}
