//! The topology: what the data plane must run, compiled from the model.
//!
//! Listeners and pools are behind `Arc`s so that a new topology shares every
//! unchanged part with the previous one; the data plane diffs two
//! topologies by pointer first and by value second, and applies only what
//! changed. Startup is the first diff, from [`Topology::default`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::ids::*;
use crate::model::*;

/// What the data plane runs at one store revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    /// The change-log revision this topology reflects.
    pub revision: u64,
    pub listeners: BTreeMap<ListenerId, Arc<ListenerSpec>>,
    pub pools: BTreeMap<PoolId, Arc<PoolSpec>>,
}

/// A listener to bind: only listeners of RUNNING load balancers appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    pub id: ListenerId,
    pub lb_id: LoadBalancerId,
    pub vip: IpAddr,
    pub protocol: Protocol,
    pub ports: ListenerPorts,
    pub forwarding_mode: ForwardingMode,
    pub scheduler: Scheduler,
    pub proxy_protocol: ProxyProtocol,
    /// The port LB-wide pool backends are dialled on (Aliyun
    /// `BackendServerPort`); `None`: the client's port.
    pub backend_port: Option<u16>,
    /// The pools whose backends serve this listener: its default pool, then
    /// the load balancer's LB-wide pool (Aliyun's default server group,
    /// whose backends take the listener's port).
    pub pools: Vec<PoolId>,
}

/// A pool's backends and checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub id: PoolId,
    pub lb_id: LoadBalancerId,
    pub health_check: Option<HealthCheck>,
    /// How long a removed or disabled backend's open connections may live.
    pub drain_timeout_ms: u64,
    /// How long a joining or recovering backend ramps up; 0 is off.
    pub slow_start_ms: u64,
    pub backends: Vec<BackendTarget>,
}

/// One backend as the data plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendTarget {
    pub id: BackendId,
    pub address: IpAddr,
    pub ports: BackendPorts,
    pub weight: u16,
    pub enabled: bool,
    pub backup: bool,
}

impl From<&Backend> for BackendTarget {
    fn from(b: &Backend) -> Self {
        Self {
            id: b.id.clone(),
            address: b.address,
            ports: b.ports.clone(),
            weight: b.weight,
            enabled: b.enabled,
            backup: b.backup,
        }
    }
}

impl BackendTarget {
    /// The port to dial for a client that connected to `listener_port`: the
    /// backend's own port, the first of its list, or the listener's port
    /// when the backend inherits it (DR, NAT, ranges, LB-wide pool).
    pub fn port_for(&self, listener_port: u16) -> u16 {
        match &self.ports {
            BackendPorts::Inherit => listener_port,
            BackendPorts::One(p) => *p,
            BackendPorts::List(l) => l.first().copied().unwrap_or(listener_port),
        }
    }
}

impl ListenerSpec {
    /// The port a backend without one of its own is dialled on when a
    /// client came in on `client_port`.
    pub fn inherited_port(&self, client_port: u16) -> u16 {
        self.backend_port.unwrap_or(client_port)
    }
}

/// Builds the spec of one listener of `lb`.
pub fn listener_spec(lb: &LoadBalancer, listener: &Listener) -> ListenerSpec {
    ListenerSpec {
        id: listener.id.clone(),
        lb_id: lb.id.clone(),
        vip: lb.vip,
        protocol: listener.protocol,
        ports: listener.ports.clone(),
        forwarding_mode: listener.forwarding_mode,
        scheduler: listener.scheduler,
        proxy_protocol: listener.proxy_protocol,
        backend_port: listener.backend_port,
        pools: match &listener.group_pool_id {
            Some(group) => vec![group.clone()],
            None => vec![listener.default_pool_id.clone(), lb.default_pool_id.clone()],
        },
    }
}

/// Builds the spec of one pool from its stored form and backends.
pub fn pool_spec(pool: &Pool, backends: &[Backend]) -> PoolSpec {
    PoolSpec {
        id: pool.id.clone(),
        lb_id: pool.lb_id.clone(),
        health_check: pool.health_check.clone(),
        drain_timeout_ms: pool.drain_timeout_ms,
        slow_start_ms: pool.slow_start_ms,
        backends: backends.iter().map(BackendTarget::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherited_ports_follow_the_listener() {
        let target = |ports| BackendTarget {
            id: "b".into(),
            address: "10.0.0.1".parse().unwrap(),
            ports,
            weight: 1,
            enabled: true,
            backup: false,
        };
        assert_eq!(target(BackendPorts::Inherit).port_for(8080), 8080);
        assert_eq!(target(BackendPorts::One(81)).port_for(8080), 81);
        assert_eq!(target(BackendPorts::List(vec![90, 91])).port_for(8080), 90);
    }
}
