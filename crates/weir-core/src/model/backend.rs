//! Backends (members) registered in pools, and the ports they receive
//! traffic on.

use super::*;

/// The port(s) a backend receives traffic on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BackendPorts {
    /// No port of its own: the client's port (DR, ranges, all-ports) or the
    /// listener's port (LB-wide pool).
    Inherit,
    /// One port.
    One(u16),
    /// Several ports (Zenlayer BMC `portList`), sorted and distinct.
    List(Vec<u16>),
}

impl BackendPorts {
    /// The port part of a backend's identity inside its pool: the port, the
    /// first of a list, or 0 when it inherits. Backed by a unique index.
    pub fn key(&self) -> u16 {
        match self {
            Self::Inherit => 0,
            Self::One(p) => *p,
            Self::List(l) => l.first().copied().unwrap_or(0),
        }
    }
}

/// A backend registered in a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub id: BackendId,
    pub project_id: ProjectId,
    pub pool_id: PoolId,
    pub lb_id: LoadBalancerId,
    pub listener_id: Option<ListenerId>,
    /// Set when registered by instance id (or resolved to one by address).
    pub instance_id: Option<InstanceId>,
    /// The subnet the caller registered it with, if any.
    pub subnet_id: Option<SubnetId>,
    pub address: IpAddr,
    /// The caller's spelling of `address` when it is not the canonical
    /// text ([`crate::address::spelling`]); identity and every rule use
    /// `address`.
    pub address_text: Option<String>,
    pub ports: BackendPorts,
    /// 0 means "no new connections".
    pub weight: u16,
    pub enabled: bool,
    /// Used only when no primary backend of the pool is eligible.
    pub backup: bool,
    pub name: String,
    /// Health-checked at this address instead of its own (Octavia's
    /// member `monitor_address`); held to the same address rules.
    pub monitor_address: Option<IpAddr>,
    /// The caller's spelling of `monitor_address`, as for `address_text`.
    pub monitor_address_text: Option<String>,
    /// Health-checked on this port instead of its traffic port (Octavia's
    /// member `monitor_port`).
    pub monitor_port: Option<u16>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Labels for people and their tools ([`crate::tags`]).
    pub tags: Vec<String>,
}

impl Backend {
    /// The address as its caller wrote it (Octavia shows members so).
    pub fn address_as_written(&self) -> String {
        self.address_text
            .clone()
            .unwrap_or_else(|| self.address.to_string())
    }

    /// The health-check address as its caller wrote it.
    pub fn monitor_address_as_written(&self) -> Option<String> {
        self.monitor_address.map(|a| {
            self.monitor_address_text
                .clone()
                .unwrap_or_else(|| a.to_string())
        })
    }
}
