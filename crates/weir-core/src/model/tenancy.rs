//! Who owns what: projects and their roles, credentials and certificates,
//! the network inventory (VPCs, subnets, instances) and load balancers.

use super::*;

/// A project (tenant). Credentials are handled by the control layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub access_key_id: String,
    pub created_at: Timestamp,
}

wire_enum!(
    /// What a credential may do. Octavia's default roles, folded into four:
    /// a project's `reader` (Octavia's `load-balancer_observer`, Keystone's
    /// `reader`) reads its project, a `member` (the default; Octavia's
    /// `load-balancer_member`) reads and writes it, an `observer`
    /// (`load-balancer_global_observer`) reads every project and writes
    /// nothing, an `admin` (`admin`, `load-balancer_admin`) is the operator.
    Role { Reader = "reader", Member = "member", Observer = "observer", Admin = "admin" }
);

impl Role {
    /// The role a set of Keystone role names grants: the strongest one
    /// named, by Octavia's default policy (its own `load-balancer_*` roles
    /// and Keystone's default `reader`/`member`/`admin`). `None`: no role
    /// that reaches the load-balancer service.
    pub fn from_keystone<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Role> {
        names
            .into_iter()
            .filter_map(|name| match name {
                "admin" | "load-balancer_admin" => Some(Role::Admin),
                "load-balancer_global_observer" => Some(Role::Observer),
                "member" | "load-balancer_member" => Some(Role::Member),
                "reader" | "load-balancer_observer" => Some(Role::Reader),
                _ => None,
            })
            .max_by_key(|role| role.rank())
    }

    /// The Keystone role names a token of this role carries, so that
    /// clients reading the token see what Octavia's policy would.
    pub fn keystone_names(self) -> &'static [&'static str] {
        match self {
            Role::Reader => &["reader", "load-balancer_observer"],
            Role::Member => &["member", "reader", "load-balancer_member"],
            Role::Observer => &["reader", "load-balancer_global_observer"],
            Role::Admin => &["admin", "member", "reader", "load-balancer_admin"],
        }
    }

    /// Whether the role writes (creates, changes, deletes) anything.
    pub fn writes(self) -> bool {
        matches!(self, Role::Member | Role::Admin)
    }

    /// Order of strength, for a token naming several roles: writing beats
    /// reading, every project beats one.
    fn rank(self) -> u8 {
        match self {
            Role::Reader => 0,
            Role::Observer => 1,
            Role::Member => 2,
            Role::Admin => 3,
        }
    }
}

/// What a certificate is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CertificateKind {
    /// A chain and its private key, served by HTTPS listeners.
    #[default]
    Server,
    /// A bundle of CA certificates without a key (Huawei's `client`
    /// certificate): what a listener verifies client certificates with.
    Ca,
}

impl CertificateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Ca => "ca",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "server" => Some(Self::Server),
            "ca" => Some(Self::Ca),
            _ => None,
        }
    }
}

/// A TLS certificate chain of a project with its private key (or, of
/// kind [`CertificateKind::Ca`], a CA bundle without one), as the views
/// show it: the chain itself and the sealed key live in the store beside
/// it, never in the model (nothing can leak what it does not hold). A CA
/// bundle's subject, names, fingerprint and key type are its first
/// certificate's, its validity the span every certificate of it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub id: CertificateId,
    pub project_id: ProjectId,
    pub name: String,
    pub kind: CertificateKind,
    /// The leaf's subject (RFC 4514).
    pub subject: String,
    /// The leaf's DNS and IP subject alternative names.
    pub names: Vec<String>,
    /// SHA-256 of the leaf, lowercase hex.
    pub fingerprint_sha256: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// `RSA-2048`, `ECDSA-P256`, …
    pub key_type: String,
    /// Certificates in the chain, the leaf included (a CA bundle's count).
    pub chain_length: u32,
    pub created_at: Timestamp,
}

/// An extra credential of a project (besides the token and access key it
/// was created with, which are `member`): a bearer token and an access
/// key that act with `role`. Its secrets are shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id; also the credential's id.
    pub access_key_id: String,
    pub project_id: ProjectId,
    pub role: Role,
    pub name: String,
    pub created_at: Timestamp,
}

/// A VPC of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: VpcId,
    pub project_id: ProjectId,
    pub name: String,
    /// Its address space, or `None` for a network a project made through
    /// Neutron, which names none: its subnets, of either IP version, are
    /// then its address space.
    pub cidr: Option<IpNet>,
    pub has_border_gateway: bool,
    /// Every project may put load balancers on it and register addresses
    /// in it (OpenStack's `shared` network, an operator's provider
    /// network); it still belongs to `project_id`, and what others build
    /// on it belongs to them. Set by the operator when it is created.
    pub shared: bool,
    pub created_at: Timestamp,
}

impl Vpc {
    /// Whether `project` may use the VPC: its own, or a shared one.
    pub fn usable_by(&self, project: &ProjectId) -> bool {
        self.shared || &self.project_id == project
    }
}

/// A subnet of one IP version; its CIDR lies inside its VPC's, when the
/// VPC has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: SubnetId,
    pub project_id: ProjectId,
    pub vpc_id: VpcId,
    pub name: String,
    pub cidr: IpNet,
    /// Its VPC's [`Vpc::shared`] (fixed when the VPC is created).
    pub shared: bool,
    /// Its addresses are the project's by the operator's grant: it lies
    /// inside a VPC CIDR the operator gave. A subnet of a network the
    /// project made itself is only what the project claims, so a member
    /// address in it must still be granted otherwise
    /// (`network.external_backend_ranges`): a claimed subnet is never a
    /// way to reach another project's addresses.
    pub granted: bool,
    pub created_at: Timestamp,
}

impl Subnet {
    /// Whether `project` may use the subnet: its own, or a shared one.
    pub fn usable_by(&self, project: &ProjectId) -> bool {
        self.shared || &self.project_id == project
    }
}

/// A VM or bare-metal server of the inventory, with its private address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub project_id: ProjectId,
    pub subnet_id: SubnetId,
    /// Denormalised from the subnet so VPC membership needs no join.
    pub vpc_id: VpcId,
    pub name: String,
    pub instance_type: InstanceType,
    pub state: InstanceState,
    pub private_ip: IpAddr,
    pub created_at: Timestamp,
}

/// A load balancer: a VIP in a subnet, with listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub id: LoadBalancerId,
    pub project_id: ProjectId,
    pub name: String,
    pub subnet_id: SubnetId,
    pub vpc_id: VpcId,
    pub vip: IpAddr,
    pub status: LbStatus,
    /// The LB-wide pool of Aliyun's model (its "default server group").
    pub default_pool_id: PoolId,
    /// Free text for people (Octavia `description`), at most 255 characters.
    pub description: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Labels for people and their tools ([`crate::tags`]).
    pub tags: Vec<String>,
    /// The flavor it was created with (Octavia's `flavor_id`), kept and
    /// shown; it holds the flavor against deletion.
    pub flavor_id: Option<FlavorId>,
    /// How its VIP is held across nodes (native `vip_mode`, the
    /// operator's); `None`: `cluster.vip_mode`. No dialect sets it.
    pub vip_mode: Option<crate::cluster::VipMode>,
}
