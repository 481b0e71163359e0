//! The canonical error: every rule violation the core can report, with no
//! notion of HTTP. Each dialect maps it to its own (status, code, message)
//! in one exhaustive match, so adding a variant fails to compile until every
//! dialect has decided what it means on its wire.

use std::net::IpAddr;

use thiserror::Error;

/// What a "not found" refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Project,
    Vpc,
    Subnet,
    Instance,
    LoadBalancer,
    Listener,
    Pool,
    Backend,
    Credential,
    Certificate,
    FlavorProfile,
    Flavor,
    L7Policy,
    L7Rule,
    Secret,
    Container,
    /// An HTTPS listener's domain extension ([`crate::sni`]).
    DomainExtension,
    /// An access control list ([`crate::acl`]).
    Acl,
}

impl ResourceKind {
    /// Lowercase name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Vpc => "vpc",
            Self::Subnet => "subnet",
            Self::Instance => "instance",
            Self::LoadBalancer => "load balancer",
            Self::Listener => "listener",
            Self::Pool => "pool",
            Self::Backend => "backend",
            Self::Credential => "credential",
            Self::Certificate => "certificate",
            Self::FlavorProfile => "flavor profile",
            Self::Flavor => "flavor",
            Self::L7Policy => "L7 policy",
            Self::L7Rule => "L7 rule",
            Self::Secret => "secret",
            Self::Container => "container",
            Self::DomainExtension => "domain extension",
            Self::Acl => "access control list",
        }
    }
}

/// Which limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// Backends in one pool (Zenlayer: per listener).
    BackendsPerPool,
    /// Backends named in one request (Aliyun: 20).
    BackendsPerRequest,
    /// Load balancers of one project.
    LoadBalancersPerProject,
    /// Listeners of one load balancer.
    ListenersPerLoadBalancer,
    /// Server groups (Octavia pools) of one load balancer.
    ServerGroupsPerLoadBalancer,
    /// TLS certificates of one project.
    CertificatesPerProject,
    /// L7 policies of one listener ([`crate::l7`]).
    L7PoliciesPerListener,
    /// Rules of one L7 policy, and of all the policies of one listener.
    L7RulesPerPolicy,
    L7RulesPerListener,
    /// Key-manager secrets of one project ([`crate::keymgr`]).
    SecretsPerProject,
    /// Key-manager containers of one project.
    ContainersPerProject,
    /// Access control lists of one project ([`crate::acl`]).
    AclsPerProject,
    /// Entries of one access control list.
    AclEntriesPerAcl,
    /// Networks (VPCs) a project made itself ([`crate::inventory`]).
    NetworksPerProject,
    /// Subnets a project made itself.
    SubnetsPerProject,
    /// A project's quota of one resource ([`crate::quota`]; load
    /// balancers are [`QuotaKind::LoadBalancersPerProject`]).
    Project(crate::quota::QuotaResource),
}

/// Every way a command can be refused by the domain rules.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The resource does not exist or belongs to another project (the two
    /// are indistinguishable on purpose).
    #[error("{} {id} not found", kind.as_str())]
    NotFound { kind: ResourceKind, id: String },

    /// A field is malformed or out of range; `field` is a path such as
    /// `backends[3].weight`.
    #[error("{field}: {reason}")]
    InvalidField { field: String, reason: String },

    /// The load balancer is not in a state that accepts this change.
    #[error("load balancer {id} is {status}, it must be RUNNING")]
    LoadBalancerNotRunning { id: String, status: String },

    /// An instance named as a backend is not running.
    #[error("instance {instance_id} is not running")]
    InstanceNotRunning { instance_id: String },

    /// The instance is not of the type the request says it is.
    #[error("instance {instance_id} is of type {actual}, not {expected}")]
    InstanceTypeMismatch {
        instance_id: String,
        expected: String,
        actual: String,
    },

    /// A VM named as a backend is outside the load balancer's VPC.
    #[error("instance {instance_id} is not in the load balancer's VPC")]
    InstanceNotInVpc { instance_id: String },

    /// Both an instance and an address were given and they disagree.
    #[error("instance {instance_id} has private IP {actual}, not {given}")]
    InstanceAddressMismatch {
        instance_id: String,
        given: IpAddr,
        actual: IpAddr,
    },

    /// Bare metal is registered by private IP only (Zenlayer ZLB).
    #[error("instance {instance_id} is bare metal: register it by its private IP, without an instance id")]
    BareMetalByAddressOnly { instance_id: String },

    /// A bare-metal backend needs a border gateway on the load balancer's VPC.
    #[error("a border gateway is required on the VPC for bare-metal backend {address}")]
    BorderGatewayRequired { address: IpAddr },

    /// The address is outside the operator's backend ranges.
    #[error("{address} is not a private IP (allowed backend ranges: {allowed})")]
    AddressNotPrivate { address: IpAddr, allowed: String },

    /// The address can never be a backend (metadata service, any VIP).
    #[error("{address} cannot be a backend: {reason}")]
    AddressReserved { address: IpAddr, reason: String },

    /// A bare address outside the caller's own networks: the load
    /// balancer's VPC, the subnet it names, `network.external_backend_ranges`.
    #[error("{address} is not in the load balancer's VPC, the named subnet or network.external_backend_ranges")]
    AddressNotInNetwork { address: IpAddr },

    /// A VIP a tenant asked for that cannot be one (unspecified, multicast,
    /// IPv4-mapped, outside `network.vip_ranges`, ...).
    #[error("{vip} cannot be a VIP: {reason}")]
    VipNotAllowed { vip: String, reason: String },

    /// The dialect requires an instance behind the address and none exists.
    #[error("no instance with private IP {address} in the load balancer's VPC")]
    AddressNotInstance { address: IpAddr },

    /// The address lies outside the named subnet.
    #[error("{address} is not inside subnet {subnet_id}")]
    AddressNotInSubnet { address: IpAddr, subnet_id: String },

    /// The named subnet is not in the load balancer's VPC.
    #[error("subnet {subnet_id} is not in the load balancer's VPC")]
    SubnetNotInVpc { subnet_id: String },

    /// A port was given where the listener forbids one.
    #[error("a backend port cannot be specified: {reason}")]
    PortNotAllowed { reason: String },

    /// A backend with this address and port is already in the pool.
    #[error("backend {address}{} already exists in the pool (id {existing_id})", port_suffix(*port))]
    BackendExists {
        address: IpAddr,
        port: u16,
        existing_id: String,
    },

    /// The instance is already a backend of this listener.
    #[error("instance {instance_id} is already a backend of this listener")]
    InstanceAlreadyRegistered { instance_id: String },

    /// The same instance is named twice in one request.
    #[error("instance {instance_id} is named more than once in the request")]
    DuplicateInstanceInRequest { instance_id: String },

    /// The same address and port are named twice in one request.
    #[error("backend {address}{} is named more than once in the request", port_suffix(*port))]
    DuplicateAddressInRequest { address: IpAddr, port: u16 },

    /// A quota would be exceeded.
    #[error("{}: limit is {limit}, the request would make {requested}", match kind {
        QuotaKind::Project(r) => project_quota(*r),
        QuotaKind::BackendsPerPool => "too many backends in the pool",
        QuotaKind::BackendsPerRequest => "too many backends in one request",
        QuotaKind::LoadBalancersPerProject => "too many load balancers in the project",
        QuotaKind::ListenersPerLoadBalancer => "too many listeners on the load balancer",
        QuotaKind::ServerGroupsPerLoadBalancer => "too many pools on the load balancer",
        QuotaKind::CertificatesPerProject => "too many certificates in the project",
        QuotaKind::L7PoliciesPerListener => "too many L7 policies on the listener",
        QuotaKind::L7RulesPerPolicy => "too many rules in the L7 policy",
        QuotaKind::L7RulesPerListener => "too many L7 rules on the listener",
        QuotaKind::SecretsPerProject => "too many secrets in the project",
        QuotaKind::ContainersPerProject => "too many containers in the project",
        QuotaKind::AclsPerProject => "too many access control lists in the project",
        QuotaKind::AclEntriesPerAcl => "too many entries in the access control list",
        QuotaKind::NetworksPerProject => "too many networks in the project",
        QuotaKind::SubnetsPerProject => "too many subnets in the project",
    })]
    QuotaExceeded {
        kind: QuotaKind,
        limit: usize,
        requested: usize,
    },

    /// A client token was reused with a different request.
    #[error("client token {token} was already used with a different request")]
    IdempotencyMismatch { token: String },

    /// A listener's ports overlap another listener of the same protocol on
    /// the load balancer.
    #[error("{reason}")]
    ListenerPortInUse { reason: String },

    /// The change conflicts with existing state (overlapping CIDRs, a
    /// resource still in use).
    #[error("{reason}")]
    Conflict { reason: String },

    /// A valid request this deployment cannot honour (a PING check where
    /// the data plane cannot send ICMP): refused, never half-done.
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
}

fn port_suffix(port: u16) -> String {
    if port == 0 {
        String::new()
    } else {
        format!(":{port}")
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidField`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(kind: ResourceKind, id: impl ToString) -> Self {
        Self::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(reason: impl Into<String>) -> Self {
        Self::Conflict {
            reason: reason.into(),
        }
    }
}

/// The message of a project quota.
fn project_quota(r: crate::quota::QuotaResource) -> &'static str {
    use crate::quota::QuotaResource as R;
    match r {
        R::LoadBalancer => "the project's load balancer quota is met",
        R::Listener => "the project's listener quota is met",
        R::Pool => "the project's pool quota is met",
        R::HealthMonitor => "the project's health monitor quota is met",
        R::Member => "the project's member quota is met",
        R::L7Policy => "the project's L7 policy quota is met",
        R::L7Rule => "the project's L7 rule quota is met",
    }
}
