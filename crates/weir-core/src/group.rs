//! Server groups: pools of a load balancer that listeners forward to,
//! apart from each listener's own pool and the LB-wide pool. They are
//! Aliyun's VServer groups and Octavia's (and Huawei's) pools: any number
//! per load balancer, each with its own members and health check, and,
//! when it says so, its own algorithm and backend protocol, which every
//! listener forwarding to it then uses.

use crate::ids::*;
use crate::inventory::{validate_description, validate_name};
use crate::loadbalancer::parse_enum;
use crate::model::*;
use crate::{Error, Timestamp};

/// A server group as requested; `None` fields follow the listeners that
/// forward to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewServerGroup {
    pub name: String,
    pub description: Option<String>,
    /// A [`Scheduler`] wire name.
    pub scheduler: Option<String>,
    /// A [`PoolProtocol`] wire name.
    pub protocol: Option<String>,
    /// Session persistence ([`crate::pool::plan_persistence`]).
    pub persistence: Option<crate::pool::PersistenceSpec>,
    /// Created serving nothing (Octavia `admin_state_up: false`).
    pub disabled: bool,
    /// Checked by [`crate::tags::validate`].
    pub tags: Vec<String>,
    /// Members dialled over TLS ([`crate::upstream_tls::check`]).
    pub upstream_tls: Option<crate::upstream_tls::UpstreamTls>,
}

/// Plans a server group of `lb`.
pub fn plan_server_group(
    lb: &LoadBalancer,
    req: &NewServerGroup,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<Pool, Error> {
    validate_name("name", &req.name)?;
    let mut pool = Pool::new(
        PoolId::new(ids.next_id()),
        (&lb.project_id, &lb.id),
        None,
        req.name.clone(),
        now,
    );
    if let Some(text) = &req.description {
        validate_description("description", text)?;
        pool.description = text.clone();
    }
    pool.scheduler = req
        .scheduler
        .as_deref()
        .map(|s| parse_enum("scheduler", s, Scheduler::NAMES))
        .transpose()?;
    pool.protocol = req
        .protocol
        .as_deref()
        .map(|p| parse_enum("protocol", p, PoolProtocol::NAMES))
        .transpose()?;
    pool.persistence = req
        .persistence
        .as_ref()
        .map(|p| crate::pool::plan_persistence(p, pool.protocol))
        .transpose()?;
    pool.enabled = !req.disabled;
    pool.tags = crate::tags::validate("tags", &req.tags)?;
    if let Some(upstream) = &req.upstream_tls {
        crate::upstream_tls::check("tls_enabled", pool.protocol, upstream)?;
        pool.upstream_tls = Some(upstream.clone());
    }
    Ok(pool)
}

/// Whether `pool` is a server group (not a listener's pool, not the
/// LB-wide pool).
pub fn is_server_group(lb: &LoadBalancer, pool: &Pool) -> bool {
    pool.lb_id == lb.id && pool.listener_id.is_none() && pool.id != lb.default_pool_id
}

/// Whether `listener` may forward to `group`: a server group of its own
/// load balancer whose protocol (if it names one) the listener can serve.
pub fn check_attach(lb: &LoadBalancer, listener: &Listener, group: &Pool) -> Result<(), Error> {
    if !is_server_group(lb, group) || listener.lb_id != lb.id {
        return Err(Error::invalid(
            "group_pool_id",
            format!(
                "pool {} is not a server group of load balancer {}",
                group.id, lb.id
            ),
        ));
    }
    if !listener.protocol.forwards() {
        return Err(Error::invalid(
            "group_pool_id",
            format!(
                "a {} listener answers itself and has no pool",
                listener.protocol
            ),
        ));
    }
    match group.protocol {
        Some(p) if !p.serves(listener.protocol) => Err(Error::invalid(
            "group_pool_id",
            format!(
                "a {} listener cannot forward to a {p} pool",
                listener.protocol
            ),
        )),
        _ => Ok(()),
    }
}

/// A listener takes a new server group only when it has none (Octavia:
/// one default pool per listener).
pub fn check_listener_free(listener: &Listener) -> Result<(), Error> {
    match &listener.group_pool_id {
        Some(group) => Err(Error::conflict(format!(
            "listener {} already forwards to pool {group}",
            listener.id
        ))),
        None => Ok(()),
    }
}

/// What deleting a server group a listener forwards to does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenInUse {
    /// Refuse (Aliyun: the group is in use).
    Refuse,
    /// Detach it from those listeners, which go back to their own pools
    /// (Octavia: a deleted default pool leaves the listener without one).
    Detach,
}

/// Checks that `pool` may be deleted and returns the listeners to update
/// (detached from it) in the same write.
pub fn plan_server_group_delete(
    lb: &LoadBalancer,
    pool: &Pool,
    listeners: &[Listener],
    when_in_use: WhenInUse,
    now: Timestamp,
) -> Result<Vec<Listener>, Error> {
    if !is_server_group(lb, pool) {
        return Err(Error::invalid(
            "pool",
            format!("pool {} is not a server group", pool.id),
        ));
    }
    let users = listeners
        .iter()
        .filter(|l| l.group_pool_id.as_ref() == Some(&pool.id));
    match when_in_use {
        WhenInUse::Refuse => match users.clone().next() {
            Some(l) => Err(Error::conflict(format!(
                "server group {} is in use by listener {}",
                pool.id, l.id
            ))),
            None => Ok(Vec::new()),
        },
        WhenInUse::Detach => Ok(users
            .map(|l| Listener {
                group_pool_id: None,
                updated_at: now,
                ..l.clone()
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SequentialIds;
    use crate::loadbalancer::{plan_listener, NewListener};

    fn lb() -> LoadBalancer {
        LoadBalancer {
            id: "lb".into(),
            project_id: "p".into(),
            name: "lb".into(),
            subnet_id: "s".into(),
            vpc_id: "v".into(),
            vip: "10.0.0.5".parse().unwrap(),
            status: LbStatus::Running,
            default_pool_id: "lb-wide".into(),
            description: String::new(),
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        }
    }

    fn listener(lb: &LoadBalancer, protocol: &str, group: Option<&PoolId>) -> Listener {
        let req = NewListener {
            name: protocol.into(),
            protocol: protocol.into(),
            port: Some(80),
            group_pool_id: group.map(|g| g.to_string()),
            ..Default::default()
        };
        plan_listener(lb, &[], &req, &mut SequentialIds::default(), Timestamp(1))
            .unwrap()
            .listener
    }

    fn group(lb: &LoadBalancer, protocol: Option<&str>) -> Pool {
        let req = NewServerGroup {
            name: "g".into(),
            protocol: protocol.map(str::to_owned),
            scheduler: Some("lc".into()),
            ..Default::default()
        };
        plan_server_group(lb, &req, &mut SequentialIds::default(), Timestamp(1)).unwrap()
    }

    #[test]
    fn a_group_keeps_its_own_algorithm_and_protocol() {
        let lb = lb();
        let g = group(&lb, Some("proxyv2"));
        assert!(is_server_group(&lb, &g));
        assert_eq!(g.scheduler, Some(Scheduler::Lc));
        assert_eq!(
            g.protocol.map(PoolProtocol::proxy_header),
            Some(ProxyProtocol::V2)
        );
        let bad = NewServerGroup {
            scheduler: Some("random".into()),
            ..Default::default()
        };
        assert!(plan_server_group(&lb, &bad, &mut SequentialIds::default(), Timestamp(1)).is_err());
    }

    #[test]
    fn listeners_attach_only_to_groups_whose_protocol_they_serve() {
        let lb = lb();
        let tcp = listener(&lb, "tcp", None);
        let http = listener(&lb, "http", None);
        let udp = listener(&lb, "udp", None);
        let proxy = group(&lb, Some("proxy"));
        assert!(check_attach(&lb, &tcp, &proxy).is_ok());
        assert!(
            check_attach(&lb, &http, &proxy).is_err(),
            "no PROXY header on HTTP"
        );
        assert!(check_attach(&lb, &udp, &proxy).is_err());
        assert!(check_attach(&lb, &http, &group(&lb, Some("http"))).is_ok());
        assert!(check_attach(&lb, &tcp, &group(&lb, Some("https"))).is_ok());
        assert!(check_attach(&lb, &udp, &group(&lb, Some("udp"))).is_ok());
        assert!(check_attach(&lb, &udp, &group(&lb, None)).is_ok());
        let lb_wide = Pool {
            id: lb.default_pool_id.clone(),
            ..proxy.clone()
        };
        assert!(check_attach(&lb, &tcp, &lb_wide).is_err());
    }

    #[test]
    fn deleting_a_group_in_use_is_refused_or_detaches() {
        let lb = lb();
        let g = group(&lb, None);
        let bound = listener(&lb, "tcp", Some(&g.id));
        assert!(matches!(
            check_listener_free(&bound),
            Err(Error::Conflict { .. })
        ));
        let users = std::slice::from_ref(&bound);
        assert!(matches!(
            plan_server_group_delete(&lb, &g, users, WhenInUse::Refuse, Timestamp(2)),
            Err(Error::Conflict { .. })
        ));
        let detached =
            plan_server_group_delete(&lb, &g, users, WhenInUse::Detach, Timestamp(2)).unwrap();
        assert_eq!(detached.len(), 1);
        assert_eq!(detached[0].group_pool_id, None);
        assert_eq!(detached[0].updated_at, Timestamp(2));
        assert!(plan_server_group_delete(&lb, &g, &[], WhenInUse::Refuse, Timestamp(2)).is_ok());
        let lb_wide = Pool {
            id: lb.default_pool_id.clone(),
            ..g
        };
        assert!(
            plan_server_group_delete(&lb, &lb_wide, &[], WhenInUse::Detach, Timestamp(2)).is_err()
        );
    }
}
