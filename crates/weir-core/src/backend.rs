//! Changing a registered backend (weight, enabled, backup, name) and
//! finding backends the way the clouds name them: by instance, or by
//! address and port.

use std::net::IpAddr;

use crate::address::canonical;
use crate::model::Backend;
use crate::register::{check_name, RegisterPolicy};
use crate::{Error, ResourceKind, Timestamp};

/// How a caller names a registered backend when it has no backend id
/// (Zenlayer ZLB `backendServers`, Aliyun `ServerId`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendSelector {
    pub instance_id: Option<String>,
    pub address: Option<String>,
    /// Narrows the match to this port when given.
    pub port: Option<i64>,
}

impl BackendSelector {
    fn describe(&self) -> String {
        let who = match (&self.instance_id, &self.address) {
            (Some(id), _) => id.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => "(unnamed)".to_owned(),
        };
        match self.port {
            Some(p) => format!("{who}:{p}"),
            None => who,
        }
    }

    fn matches(&self, b: &Backend, address: Option<IpAddr>) -> bool {
        let port_ok = self.port.is_none_or(|p| i64::from(b.ports.key()) == p);
        let who_ok = match (&self.instance_id, address) {
            (Some(id), _) => b.instance_id.as_ref().is_some_and(|i| i.as_str() == id),
            (None, Some(a)) => b.address == a,
            (None, None) => false,
        };
        who_ok && port_ok
    }
}

/// What to do when a selector matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenMissing {
    /// The request is refused with `NotFound` (Zenlayer).
    Fail,
    /// The selector is skipped (Aliyun RemoveBackendServers).
    Skip,
}

/// The backends of `pool` named by `selectors`, each once, in selector
/// order. `field` names the list in errors (`backendServers`).
pub fn select_backends<'a>(
    pool: &'a [Backend],
    selectors: &[BackendSelector],
    missing: WhenMissing,
    field: &str,
) -> Result<Vec<&'a Backend>, Error> {
    let mut chosen: Vec<&Backend> = Vec::new();
    for (i, sel) in selectors.iter().enumerate() {
        if sel.instance_id.is_none() && sel.address.is_none() {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                "give an instance id or an address",
            ));
        }
        let address = match (&sel.instance_id, &sel.address) {
            (None, Some(a)) => Some(a.parse::<IpAddr>().map(canonical).map_err(|_| {
                Error::invalid(
                    format!("{field}[{i}].address"),
                    format!("{a:?} is not an IP address"),
                )
            })?),
            _ => None,
        };
        let mut matched = false;
        for b in pool.iter().filter(|b| sel.matches(b, address)) {
            matched = true;
            if !chosen.iter().any(|c| c.id == b.id) {
                chosen.push(b);
            }
        }
        if !matched && missing == WhenMissing::Fail {
            return Err(Error::not_found(ResourceKind::Backend, sel.describe()));
        }
    }
    Ok(chosen)
}

/// A partial update; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendUpdate {
    pub weight: Option<i64>,
    pub enabled: Option<bool>,
    pub backup: Option<bool>,
    pub name: Option<String>,
    /// A new traffic port (UCloud `UpdateBackendAttribute Port`); planned
    /// by [`plan_port_change`], which needs the pool's other backends.
    pub port: Option<i64>,
    /// A new health-check address (`Some(None)`: the backend's own); the
    /// caller checks it with [`crate::register::check_monitor_address`]
    /// and applies it.
    pub monitor_address: Option<Option<String>>,
    /// A new health-check port (`Some(None)`: the traffic port).
    pub monitor_port: Option<Option<i64>>,
    /// Replaces the tags (empty clears them); `None` leaves them.
    pub tags: Option<Vec<String>>,
}

/// Moves a backend to another port: allowed only where a backend may
/// carry a port, and only to an address and port free in its pool.
pub fn plan_port_change(
    current: &Backend,
    port: i64,
    listener: Option<&crate::model::Listener>,
    same_address: &[Backend],
) -> Result<crate::model::BackendPorts, Error> {
    if let Some(reason) = listener.and_then(crate::model::Listener::port_forbidden_reason) {
        return Err(Error::PortNotAllowed {
            reason: reason.to_owned(),
        });
    }
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::invalid("port", format!("{port} is not a port in 1-65535")))?;
    if let Some(other) = same_address
        .iter()
        .find(|b| b.id != current.id && b.address == current.address && b.ports.key() == port)
    {
        return Err(Error::BackendExists {
            address: current.address,
            port,
            existing_id: other.id.to_string(),
        });
    }
    Ok(crate::model::BackendPorts::One(port))
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
    if let Some(port) = update.monitor_port {
        next.monitor_port = port
            .map(|p| crate::register::parse_monitor_port("monitor_port", p))
            .transpose()?;
    }
    crate::tags::apply("tags", &mut next.tags, update.tags.as_deref())?;
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

/// What a declarative batch (Octavia `PUT …/members`) changes: the
/// request is the desired set, matched to existing backends by address
/// and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// Existing backends with their new settings (only those that change);
    /// a changed `monitor_address` is parsed, not yet checked against the
    /// address rules ([`crate::register::check_monitor_address`]), which
    /// need the caller's networks.
    pub updated: Vec<Backend>,
    /// Request items with no existing match, to register.
    pub created: Vec<crate::register::BackendSpec>,
    /// Existing backends the request no longer names (none when additive).
    pub deleted: Vec<Backend>,
}

/// Plans a declarative batch over `existing`. Each item must give an
/// address and a port; an existing backend may be named once.
pub fn plan_batch(
    existing: &[Backend],
    desired: &[crate::register::BackendSpec],
    additive_only: bool,
    policy: &RegisterPolicy,
    now: Timestamp,
) -> Result<BatchPlan, Error> {
    let mut matched: Vec<bool> = vec![false; existing.len()];
    let mut plan = BatchPlan {
        updated: Vec::new(),
        created: Vec::new(),
        deleted: Vec::new(),
    };
    for (i, spec) in desired.iter().enumerate() {
        let field = |name: &str| format!("members[{i}].{name}");
        let address = spec
            .address
            .as_deref()
            .ok_or_else(|| Error::invalid(field("address"), "is required"))?
            .parse::<IpAddr>()
            .map(canonical)
            .map_err(|_| Error::invalid(field("address"), "is not an IP address"))?;
        let port = spec
            .port
            .ok_or_else(|| Error::invalid(field("protocol_port"), "is required"))?;
        let found = existing
            .iter()
            .position(|b| b.address == address && i64::from(b.ports.key()) == port);
        match found {
            Some(at) if matched[at] => {
                return Err(Error::invalid(
                    format!("members[{i}]"),
                    "a member may be named only once in the same request",
                ))
            }
            Some(at) => {
                matched[at] = true;
                let update = BackendUpdate {
                    weight: spec.weight,
                    enabled: spec.enabled,
                    backup: spec.backup,
                    name: spec.name.clone(),
                    monitor_port: spec.monitor_port.map(Some),
                    ..BackendUpdate::default()
                };
                let mut next = plan_backend_update(&existing[at], &update, policy, now)?;
                // Named by position, as every other field of the batch.
                crate::tags::apply(&field("tags"), &mut next.tags, spec.tags.as_deref())?;
                if next.tags != existing[at].tags {
                    next.updated_at = now;
                }
                // The caller holds a changed monitor address to the
                // address rules ([`BatchPlan::updated`]).
                if let Some(text) = &spec.monitor_address {
                    let address = text.parse::<IpAddr>().map(canonical).map_err(|_| {
                        Error::invalid(field("monitor_address"), "is not an IP address")
                    })?;
                    next.monitor_address = Some(address);
                    next.monitor_address_text = crate::address::spelling(text, address);
                    if next != existing[at] {
                        next.updated_at = now;
                    }
                }
                if next != existing[at] {
                    plan.updated.push(next);
                }
            }
            None => plan.created.push(spec.clone()),
        }
    }
    if !additive_only {
        plan.deleted = existing
            .iter()
            .zip(&matched)
            .filter(|(_, m)| !**m)
            .map(|(b, _)| b.clone())
            .collect();
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::*;
    use crate::model::BackendPorts;

    fn backend(id: &str, ip: &str, port: u16, instance: Option<&str>) -> Backend {
        Backend {
            id: id.into(),
            project_id: "p".into(),
            pool_id: "pool".into(),
            lb_id: "lb".into(),
            listener_id: None,
            instance_id: instance.map(InstanceId::from),
            subnet_id: None,
            address: ip.parse().unwrap(),
            address_text: None,
            ports: BackendPorts::One(port),
            weight: 1,
            enabled: true,
            backup: false,
            name: String::new(),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            tags: Vec::new(),
            monitor_address: None,
            monitor_address_text: None,
            monitor_port: None,
        }
    }

    fn pool() -> Vec<Backend> {
        vec![
            backend("b1", "10.0.0.1", 80, Some("i-1")),
            backend("b2", "10.0.0.1", 81, Some("i-1")),
            backend("b3", "10.0.0.2", 80, None),
        ]
    }

    fn ids(found: &[&Backend]) -> Vec<String> {
        found.iter().map(|b| b.id.to_string()).collect()
    }

    #[test]
    fn selects_by_instance_or_by_address_and_port() {
        let pool = pool();
        let by_instance = BackendSelector {
            instance_id: Some("i-1".into()),
            ..Default::default()
        };
        let found = select_backends(&pool, &[by_instance], WhenMissing::Fail, "s").unwrap();
        assert_eq!(ids(&found), ["b1", "b2"]);
        let by_address_port = BackendSelector {
            address: Some("10.0.0.1".into()),
            port: Some(81),
            ..Default::default()
        };
        let found = select_backends(&pool, &[by_address_port], WhenMissing::Fail, "s").unwrap();
        assert_eq!(ids(&found), ["b2"]);
    }

    #[test]
    fn a_selector_matching_nothing_fails_or_is_skipped() {
        let pool = pool();
        let absent = BackendSelector {
            address: Some("10.0.0.9".into()),
            ..Default::default()
        };
        let present = BackendSelector {
            address: Some("10.0.0.2".into()),
            ..Default::default()
        };
        let both = [present, absent];
        assert!(matches!(
            select_backends(&pool, &both, WhenMissing::Fail, "s"),
            Err(Error::NotFound {
                kind: ResourceKind::Backend,
                ..
            })
        ));
        let found = select_backends(&pool, &both, WhenMissing::Skip, "s").unwrap();
        assert_eq!(ids(&found), ["b3"]);
    }

    #[test]
    fn a_batch_updates_matches_creates_the_rest_and_deletes_the_unnamed() {
        use crate::register::{BackendSpec, RegisterPolicy};
        let pool = pool();
        let item = |ip: &str, port: i64, weight: Option<i64>| BackendSpec {
            address: Some(ip.into()),
            port: Some(port),
            weight,
            ..BackendSpec::default()
        };
        let desired = [item("10.0.0.1", 80, Some(7)), item("10.0.0.9", 80, None)];
        let policy = RegisterPolicy::native();
        let plan = plan_batch(&pool, &desired, false, &policy, Timestamp(5)).unwrap();
        assert_eq!(plan.updated.len(), 1);
        assert_eq!(
            (plan.updated[0].id.as_str(), plan.updated[0].weight),
            ("b1", 7)
        );
        assert_eq!(plan.created, vec![desired[1].clone()]);
        let deleted: Vec<&str> = plan.deleted.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(deleted, ["b2", "b3"]);

        let additive = plan_batch(&pool, &desired, true, &policy, Timestamp(5)).unwrap();
        assert!(additive.deleted.is_empty());

        let unchanged = [item("10.0.0.1", 80, Some(1))];
        let plan = plan_batch(&pool, &unchanged, true, &policy, Timestamp(5)).unwrap();
        assert!(plan.updated.is_empty() && plan.created.is_empty());

        let twice = [item("10.0.0.2", 80, None), item("10.0.0.2", 80, Some(3))];
        assert!(matches!(
            plan_batch(&pool, &twice, false, &policy, Timestamp(5)),
            Err(Error::InvalidField { field, .. }) if field == "members[1]"
        ));
    }

    #[test]
    fn a_port_change_needs_a_free_port_where_ports_are_allowed() {
        let pool = pool();
        let moved = plan_port_change(&pool[0], 8080, None, &pool).unwrap();
        assert_eq!(moved, BackendPorts::One(8080));
        assert!(matches!(
            plan_port_change(&pool[0], 81, None, &pool),
            Err(Error::BackendExists { port: 81, .. })
        ));
        assert!(plan_port_change(&pool[0], 0, None, &pool).is_err());
        assert_eq!(
            plan_port_change(&pool[0], 80, None, &pool).unwrap(),
            BackendPorts::One(80)
        );
    }

    #[test]
    fn a_selector_names_something_valid() {
        let pool = pool();
        assert!(matches!(
            select_backends(&pool, &[BackendSelector::default()], WhenMissing::Skip, "servers"),
            Err(Error::InvalidField { field, .. }) if field == "servers[0]"
        ));
        let bad_ip = BackendSelector {
            address: Some("nope".into()),
            ..Default::default()
        };
        assert!(matches!(
            select_backends(&pool, &[bad_ip], WhenMissing::Skip, "servers"),
            Err(Error::InvalidField { field, .. }) if field == "servers[0].address"
        ));
    }
}
