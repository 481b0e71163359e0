//! What a backend registration reads, asked for at once
//! ([`crate::StoreTx::registration_reads`]): the target's listener, pool,
//! load balancer and VPC, and everything the core's `plan_register` and
//! the quota check need about the request's addresses and ids. On
//! PostgreSQL the whole of it is one round trip under the writer lock
//! instead of a dozen.

use std::collections::HashSet;
use std::net::IpAddr;

use weir_core::ids::*;
use weir_core::model::*;
use weir_core::quota::Quotas;

use crate::IdempotencyRecord;

/// Where a registration goes, by the id its caller named.
#[derive(Debug, Clone, Copy)]
pub enum RegistrationTarget<'a> {
    Pool(&'a PoolId),
    /// The listener's default pool.
    Listener(&'a ListenerId),
    /// The load balancer's LB-wide pool.
    LoadBalancer(&'a LoadBalancerId),
}

/// What to read for one registration.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationQuery<'a> {
    pub target: RegistrationTarget<'a>,
    /// Instance ids and addresses the request names (the core's
    /// `snapshot_keys`).
    pub instance_ids: &'a [String],
    pub addresses: &'a [IpAddr],
    pub subnet_ids: &'a [String],
    /// `(operation, client token)`: the idempotency record to look up in
    /// the pool's project, if the request carries a token.
    pub idempotency: Option<(&'a str, &'a str)>,
}

/// What a registration read. Nothing is checked here: the caller holds
/// each row to its principal (another project's is "not found") and the
/// listener to the load balancer it was named on.
#[derive(Debug, Clone, Default)]
pub struct RegistrationReads {
    /// The target listener, or the target pool's listener.
    pub listener: Option<Listener>,
    /// The pool the target names.
    pub pool: Option<Pool>,
    /// The load balancer named as the target (its LB-wide pool), else the
    /// pool's.
    pub load_balancer: Option<LoadBalancer>,
    /// The load balancer's VPC.
    pub vpc: Option<Vpc>,
    /// Instances named by id or by private address.
    pub instances: Vec<Instance>,
    /// VIPs among the addresses, the found instances' included.
    pub vips: HashSet<IpAddr>,
    /// The pool's backends on those addresses or instances.
    pub overlapping: Vec<Backend>,
    /// How many backends the pool holds.
    pub backend_count: usize,
    /// The subnets named by id.
    pub subnets: Vec<Subnet>,
    /// The pool's project's quotas, if the operator set any.
    pub quotas: Option<Quotas>,
    /// The idempotency record of the query's token, if stored.
    pub idempotency: Option<IdempotencyRecord>,
}

/// [`RegistrationTarget`] holding its id, for a query asked for before
/// its command runs ([`OwnedRegistrationQuery`]).
#[derive(Debug, Clone)]
pub enum OwnedRegistrationTarget {
    Pool(PoolId),
    Listener(ListenerId),
    LoadBalancer(LoadBalancerId),
}

/// A [`RegistrationQuery`] that owns what it names: the group-commit
/// writer collects one per queued registration and reads them all at the
/// start of the group ([`crate::StoreTx::prefetch_registrations`]).
#[derive(Debug, Clone)]
pub struct OwnedRegistrationQuery {
    pub target: OwnedRegistrationTarget,
    pub instance_ids: Vec<String>,
    pub addresses: Vec<IpAddr>,
    pub subnet_ids: Vec<String>,
}

impl OwnedRegistrationQuery {
    /// The query, borrowing from `self` (no idempotency record: a
    /// registration with a client token is never read ahead, see
    /// [`crate::StoreTx::prefetch_registrations`]).
    pub fn query(&self) -> RegistrationQuery<'_> {
        RegistrationQuery {
            target: match &self.target {
                OwnedRegistrationTarget::Pool(id) => RegistrationTarget::Pool(id),
                OwnedRegistrationTarget::Listener(id) => RegistrationTarget::Listener(id),
                OwnedRegistrationTarget::LoadBalancer(id) => RegistrationTarget::LoadBalancer(id),
            },
            instance_ids: &self.instance_ids,
            addresses: &self.addresses,
            subnet_ids: &self.subnet_ids,
            idempotency: None,
        }
    }
}
