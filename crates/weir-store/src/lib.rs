//! Weir's durable store.
//!
//! [`Store`] hands out readers and write transactions; [`StoreTx`] is one
//! atomic unit: everything written through it commits together or not at
//! all. Every write appends to the change log, whose monotonically growing
//! revision the data plane follows. [`sqlite::SqliteStore`] is the embedded
//! default; [`postgres::PgStore`] lets several nodes share one registry.
//! Both run the same SQL (the private `sql` module, written once against a
//! small driver seam) and the same test suite; no `Any` driver is used.
//!
//! Rows map to `weir_core` types by hand in `sql`; no row struct leaks.

pub mod postgres;
pub mod registration;
mod sql;
pub mod sqlite;
#[doc(hidden)]
pub mod testing;

use std::collections::HashSet;
use std::net::IpAddr;

use async_trait::async_trait;
use weir_core::flavor::{Flavor, FlavorProfile};
use weir_core::ids::*;
use weir_core::keymgr::{Container, Secret};
use weir_core::l7::{L7Policy, L7Rule};
use weir_core::model::*;

pub use registration::{
    OwnedRegistrationQuery, OwnedRegistrationTarget, RegistrationQuery, RegistrationReads,
    RegistrationTarget,
};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write: a concurrent writer won.
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// A row could not be mapped back to the domain.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database could not be reached (connection refused or lost, no
    /// free connection in time): nothing was written, and a retry may
    /// succeed.
    #[error("database unreachable: {0}")]
    Unavailable(String),
    /// The connection was lost while COMMIT was on its way: the
    /// transaction may or may not have committed, and only reading the
    /// store again (or retrying with the same client token) can tell.
    #[error("the commit's outcome is unknown: {0}")]
    CommitOutcomeUnknown(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

/// SQLSTATEs that say "nothing was done, try again": the connection is
/// gone or going (class 08, 57P01-57P03: an administrator or a restart
/// ended it), or a bound on waiting ran out (55P03 `lock_timeout`, 57014
/// `statement_timeout`). The transaction they hit is rolled back.
fn retryable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "55P03" | "57014")
}

/// Whether `e` means the connection itself failed (as opposed to the
/// server refusing one statement on a working connection).
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Unique(db.message().to_owned())
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| retryable_code(&c)) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Keyset paging: rows after `marker` (an id), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub marker: Option<String>,
    pub limit: usize,
}

/// A project with the secrets the edge verifies credentials against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectCredentials {
    pub project: Project,
    /// The access key secret, kept in clear because request signatures
    /// (HMAC) are verified with it.
    pub access_key_secret: String,
    /// What the key may do: `member` for the key a project was created
    /// with, the credential's role for the others.
    pub role: Role,
}

/// A stored idempotency record: the request fingerprint and the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: String,
    pub response: String,
}

/// One row of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub revision: u64,
    /// The project the change belongs to (the empty id for the operator's
    /// catalogue).
    pub project_id: ProjectId,
    /// The row's position among its project's rows: 1, 2, 3... with no
    /// gaps, whatever other projects wrote (what a project's watch stream
    /// numbers its events by).
    pub project_revision: u64,
    /// `project`, `vpc`, `subnet`, `instance`, `load_balancer`, `listener`,
    /// `pool`, `backend`, `credential`, `l7policy` or `l7rule`.
    pub entity: String,
    pub entity_id: String,
    /// `create`, `update` or `delete`.
    pub op: String,
    /// The load balancer the change belongs to, if any.
    pub lb_id: Option<LoadBalancerId>,
    /// The pool the change belongs to, if any.
    pub pool_id: Option<PoolId>,
}

/// Reads, available both outside and inside a write transaction (inside,
/// they see the transaction's own earlier writes).
#[async_trait]
pub trait Reads: Send {
    async fn project(&mut self, id: &ProjectId) -> StoreResult<Option<Project>>;
    async fn project_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Project>>;
    async fn project_by_access_key(
        &mut self,
        access_key_id: &str,
    ) -> StoreResult<Option<ProjectCredentials>>;
    async fn projects(&mut self) -> StoreResult<Vec<Project>>;
    /// An extra credential by the hash of its bearer token.
    async fn credential_by_token_hash(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<Credential>>;
    /// A project's extra credentials, oldest first.
    async fn credentials(&mut self, project: &ProjectId) -> StoreResult<Vec<Credential>>;

    async fn certificate(&mut self, id: &CertificateId) -> StoreResult<Option<Certificate>>;
    /// Certificates of `project` (all with `None`), oldest first.
    async fn certificates(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Certificate>>;
    /// The listeners that name `certificate` (its project's: no other can),
    /// oldest first; a certificate in use is not deleted.
    async fn listeners_using_certificate(
        &mut self,
        certificate: &Certificate,
    ) -> StoreResult<Vec<Listener>>;
    /// A certificate's chain (PEM) and sealed private key, for the data
    /// plane to serve; never for a view.
    async fn certificate_material(
        &mut self,
        id: &CertificateId,
    ) -> StoreResult<Option<(String, String)>>;

    async fn secret(&mut self, id: &SecretId) -> StoreResult<Option<Secret>>;
    /// Secrets of `project` (all with `None`), oldest first.
    async fn secrets(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Secret>>;
    /// A secret with its sealed payload (`None` until one is stored), for
    /// the payload call and the listeners that serve it; never a view.
    async fn secret_with_payload(
        &mut self,
        id: &SecretId,
    ) -> StoreResult<Option<(Secret, Option<String>)>>;
    async fn container(&mut self, id: &ContainerId) -> StoreResult<Option<Container>>;
    /// Containers of `project` (all with `None`), oldest first.
    async fn containers(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Container>>;
    async fn acl(&mut self, id: &AclId) -> StoreResult<Option<weir_core::acl::Acl>>;
    /// Access control lists of `project` (all with `None`), oldest first.
    async fn acls(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<weir_core::acl::Acl>>;
    /// The listeners naming an ACL (an ACL in use is not deleted).
    async fn listeners_using_acl(&mut self, id: &AclId) -> StoreResult<Vec<Listener>>;
    /// Every listener of `project`, oldest first (what may use its
    /// secrets).
    async fn listeners_of_project(&mut self, project: &ProjectId) -> StoreResult<Vec<Listener>>;

    async fn vpc(&mut self, id: &VpcId) -> StoreResult<Option<Vpc>>;
    async fn vpcs(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Vpc>>;
    async fn subnet(&mut self, id: &SubnetId) -> StoreResult<Option<Subnet>>;
    async fn subnets(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Subnet>>;
    async fn subnets_of_vpc(&mut self, vpc: &VpcId) -> StoreResult<Vec<Subnet>>;
    async fn subnets_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Subnet>>;
    /// What names a subnet (one in use is not deleted).
    async fn subnet_users(
        &mut self,
        id: &SubnetId,
    ) -> StoreResult<weir_core::inventory::SubnetUsers>;
    /// How many VPCs and subnets a project holds.
    async fn count_networks(&mut self, project: &ProjectId) -> StoreResult<(usize, usize)>;
    async fn instance(&mut self, id: &InstanceId) -> StoreResult<Option<Instance>>;
    async fn instances(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Instance>>;
    async fn instance_by_ip(&mut self, vpc: &VpcId, ip: IpAddr) -> StoreResult<Option<Instance>>;
    /// Instances whose id is in `ids` or whose private IP is in `ips`.
    async fn instances_by_ids_or_ips(
        &mut self,
        ids: &[String],
        ips: &[IpAddr],
    ) -> StoreResult<Vec<Instance>>;

    async fn load_balancer(&mut self, id: &LoadBalancerId) -> StoreResult<Option<LoadBalancer>>;
    async fn load_balancers(
        &mut self,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<LoadBalancer>>;
    async fn used_vips(&mut self) -> StoreResult<HashSet<IpAddr>>;
    /// Which of `addresses` are the VIP of some load balancer (any
    /// project): an index lookup, for the "no VIP is a backend" rule.
    async fn vips_among(&mut self, addresses: &[IpAddr]) -> StoreResult<HashSet<IpAddr>>;
    /// Whether any backend, of any pool and project, has `address`: a new
    /// VIP must not be one (the data plane would serve that backend's
    /// traffic on it). A scan, but load balancers are created rarely.
    async fn backend_address_in_use(&mut self, address: IpAddr) -> StoreResult<bool>;
    async fn listener(&mut self, id: &ListenerId) -> StoreResult<Option<Listener>>;
    async fn listeners_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Listener>>;
    async fn pool(&mut self, id: &PoolId) -> StoreResult<Option<Pool>>;

    async fn backend(&mut self, id: &BackendId) -> StoreResult<Option<Backend>>;
    async fn backends(&mut self, pool: &PoolId, page: &Page) -> StoreResult<Vec<Backend>>;
    async fn backends_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Backend>>;
    async fn count_backends(&mut self, pool: &PoolId) -> StoreResult<usize>;
    /// Backends of `pool` with one of `addresses` or one of `instance_ids`.
    async fn overlapping_backends(
        &mut self,
        pool: &PoolId,
        addresses: &[IpAddr],
        instance_ids: &[String],
    ) -> StoreResult<Vec<Backend>>;

    async fn idempotency_record(
        &mut self,
        project: &ProjectId,
        operation: &str,
        token: &str,
    ) -> StoreResult<Option<IdempotencyRecord>>;

    async fn pools_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Pool>>;

    /// The operator's flavor catalogue (no project: every one may read it).
    async fn flavor_profile(&mut self, id: &FlavorProfileId) -> StoreResult<Option<FlavorProfile>>;
    async fn flavor_profiles(&mut self) -> StoreResult<Vec<FlavorProfile>>;
    async fn flavor(&mut self, id: &FlavorId) -> StoreResult<Option<Flavor>>;
    async fn flavors(&mut self) -> StoreResult<Vec<Flavor>>;
    /// Flavors naming `profile` (an index lookup).
    async fn count_flavors_of_profile(&mut self, profile: &FlavorProfileId) -> StoreResult<usize>;
    /// Load balancers, of any project, created with `flavor`.
    async fn count_load_balancers_of_flavor(&mut self, flavor: &FlavorId) -> StoreResult<usize>;
    /// The quotas the operator set for `project` (`None`: none, every
    /// value the default).
    async fn project_quotas(
        &mut self,
        project: &ProjectId,
    ) -> StoreResult<Option<weir_core::quota::Quotas>>;
    /// Every project with quotas set, by project id.
    async fn all_project_quotas(
        &mut self,
    ) -> StoreResult<Vec<(ProjectId, weir_core::quota::Quotas)>>;
    /// How many of `resource` the project holds.
    async fn count_in_project(
        &mut self,
        project: &ProjectId,
        resource: weir_core::quota::QuotaResource,
    ) -> StoreResult<usize>;
    /// An L7 policy with its rules (oldest first).
    async fn l7_policy(&mut self, id: &L7PolicyId) -> StoreResult<Option<L7Policy>>;
    /// A listener's L7 policies with their rules, by position.
    async fn l7_policies_of(&mut self, listener: &ListenerId) -> StoreResult<Vec<L7Policy>>;
    /// Every L7 policy of a load balancer's listeners, by listener and
    /// position.
    async fn l7_policies_of_lb(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<L7Policy>>;

    /// Change-log rows after `revision`, oldest first, at most `limit`.
    async fn changes_since(
        &mut self,
        revision: u64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeRecord>>;

    /// `project`'s change-log rows after its own position `after`
    /// (`ChangeRecord::project_revision`) and at most global revision
    /// `through`, oldest first, at most `limit`.
    async fn project_changes_since(
        &mut self,
        project: &ProjectId,
        after: u64,
        through: u64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeRecord>>;

    /// Where `project`'s own numbering stands: its latest position (0:
    /// none yet) and the oldest position still in the log (`None`: every
    /// row was compacted away, or there never was one).
    async fn project_log_position(
        &mut self,
        project: &ProjectId,
    ) -> StoreResult<(u64, Option<u64>)>;

    /// The latest committed revision of the change log (0 when empty).
    async fn revision(&mut self) -> StoreResult<u64>;

    /// The revision through which change-log rows have been deleted by
    /// [`StoreTx::compact`] (0: none). A follower whose revision is below
    /// it may have missed changes and must reload everything.
    async fn compacted_through(&mut self) -> StoreResult<u64>;
}

/// What [`StoreTx::compact`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    pub change_log_rows: u64,
    pub idempotency_records: u64,
}

/// One atomic write. Dropping it without [`StoreTx::commit`] rolls back.
#[async_trait]
pub trait StoreTx: Reads {
    async fn insert_project(
        &mut self,
        project: &Project,
        token_hash: &str,
        access_key_secret: &str,
    ) -> StoreResult<()>;
    async fn insert_credential(
        &mut self,
        credential: &Credential,
        token_hash: &str,
        access_key_secret: &str,
    ) -> StoreResult<()>;
    async fn insert_certificate(
        &mut self,
        certificate: &Certificate,
        chain_pem: &str,
        sealed_key: &str,
    ) -> StoreResult<()>;
    async fn delete_certificate(&mut self, certificate: &Certificate) -> StoreResult<()>;
    /// A secret with its sealed payload, if it came with one.
    async fn insert_secret(
        &mut self,
        secret: &Secret,
        sealed_payload: Option<&str>,
    ) -> StoreResult<()>;
    /// The payload of a secret made without one (`secret` as planned).
    async fn set_secret_payload(
        &mut self,
        secret: &Secret,
        sealed_payload: &str,
    ) -> StoreResult<()>;
    async fn delete_secret(&mut self, secret: &Secret) -> StoreResult<()>;
    async fn insert_container(&mut self, container: &Container) -> StoreResult<()>;
    async fn insert_acl(&mut self, acl: &weir_core::acl::Acl) -> StoreResult<()>;
    /// Its name and entries; logged as an update of every listener
    /// naming it, so their data planes apply the new entries.
    async fn update_acl(&mut self, acl: &weir_core::acl::Acl) -> StoreResult<()>;
    async fn delete_acl(&mut self, acl: &weir_core::acl::Acl) -> StoreResult<()>;
    async fn delete_container(&mut self, container: &Container) -> StoreResult<()>;
    /// Deletes an extra credential: its token and key stop working.
    async fn delete_credential(&mut self, credential: &Credential) -> StoreResult<()>;
    async fn insert_vpc(&mut self, vpc: &Vpc) -> StoreResult<()>;
    async fn insert_subnet(&mut self, subnet: &Subnet) -> StoreResult<()>;
    async fn delete_subnet(&mut self, subnet: &Subnet) -> StoreResult<()>;
    /// Deletes a VPC whose subnets are deleted.
    async fn delete_vpc(&mut self, vpc: &Vpc) -> StoreResult<()>;
    async fn insert_instance(&mut self, instance: &Instance) -> StoreResult<()>;
    async fn update_instance(&mut self, instance: &Instance) -> StoreResult<()>;
    async fn insert_load_balancer(
        &mut self,
        lb: &LoadBalancer,
        default_pool: &Pool,
    ) -> StoreResult<()>;
    /// Writes a load balancer's name, description, status and update
    /// time.
    async fn update_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()>;
    async fn set_load_balancer_status(
        &mut self,
        lb: &LoadBalancer,
        status: LbStatus,
    ) -> StoreResult<()>;
    /// Deletes the load balancer with its listeners, pools and backends.
    async fn delete_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()>;
    async fn insert_listener(
        &mut self,
        listener: &Listener,
        default_pool: &Pool,
    ) -> StoreResult<()>;
    /// Adds a server group (a pool of a load balancer outside its
    /// listeners).
    async fn insert_server_group(&mut self, pool: &Pool) -> StoreResult<()>;
    /// Deletes a server group with its backends.
    async fn delete_server_group(&mut self, pool: &Pool) -> StoreResult<()>;
    /// Changes a listener's name, scheduler and PROXY protocol.
    async fn update_listener(&mut self, listener: &Listener) -> StoreResult<()>;
    /// Deletes the listener with its default pool and that pool's backends.
    async fn delete_listener(&mut self, listener: &Listener) -> StoreResult<()>;
    async fn update_pool(&mut self, pool: &Pool) -> StoreResult<()>;
    async fn insert_backends(&mut self, backends: &[Backend]) -> StoreResult<()>;
    async fn update_backend(&mut self, backend: &Backend) -> StoreResult<()>;
    async fn delete_backend(&mut self, backend: &Backend) -> StoreResult<()>;
    async fn insert_flavor_profile(&mut self, profile: &FlavorProfile) -> StoreResult<()>;
    /// Writes a profile's name, provider, data and update time.
    async fn update_flavor_profile(&mut self, profile: &FlavorProfile) -> StoreResult<()>;
    async fn delete_flavor_profile(&mut self, profile: &FlavorProfile) -> StoreResult<()>;
    async fn insert_flavor(&mut self, flavor: &Flavor) -> StoreResult<()>;
    /// Writes a flavor's name, description, enabled flag and update time.
    async fn update_flavor(&mut self, flavor: &Flavor) -> StoreResult<()>;
    async fn delete_flavor(&mut self, flavor: &Flavor) -> StoreResult<()>;
    /// Replaces a project's quotas (all defaults: none kept).
    async fn put_project_quotas(
        &mut self,
        project: &ProjectId,
        quotas: &weir_core::quota::Quotas,
    ) -> StoreResult<()>;
    /// Adds an L7 policy with its rules.
    async fn insert_l7_policy(&mut self, policy: &L7Policy) -> StoreResult<()>;
    /// Writes a policy's own fields (its rules are written one by one).
    async fn update_l7_policy(&mut self, policy: &L7Policy) -> StoreResult<()>;
    /// Deletes a policy with its rules.
    async fn delete_l7_policy(&mut self, policy: &L7Policy) -> StoreResult<()>;
    async fn insert_l7_rule(&mut self, policy: &L7Policy, rule: &L7Rule) -> StoreResult<()>;
    async fn update_l7_rule(&mut self, policy: &L7Policy, rule: &L7Rule) -> StoreResult<()>;
    async fn delete_l7_rule(&mut self, policy: &L7Policy, rule: &L7Rule) -> StoreResult<()>;
    /// Everything a backend registration reads, in one round trip where
    /// the database has them ([`registration`]).
    async fn registration_reads(
        &mut self,
        query: &RegistrationQuery<'_>,
    ) -> StoreResult<RegistrationReads>;
    /// Reads ahead, in one round trip, what the group's queued
    /// registrations will ask [`StoreTx::registration_reads`] for; each
    /// answer is handed to its command only while nothing the group wrote
    /// since could have changed it (see `sql::writes`). A failure fails
    /// the group: the transaction is not usable after it on PostgreSQL.
    /// The queries hold only well-formed ids and addresses, so nothing a
    /// tenant sends can make the reads fail for everyone in the group.
    async fn prefetch_registrations(
        &mut self,
        _queries: &[RegistrationQuery<'_>],
    ) -> StoreResult<()> {
        Ok(())
    }
    /// The revision the transaction will commit as, read together with
    /// any writes still held back for it (one round trip before COMMIT).
    async fn revision_to_commit(&mut self) -> StoreResult<u64> {
        self.revision().await
    }
    async fn put_idempotency_record(
        &mut self,
        project: &ProjectId,
        operation: &str,
        token: &str,
        record: &IdempotencyRecord,
        created_at: weir_core::Timestamp,
    ) -> StoreResult<()>;

    /// Deletes idempotency records created before `records_before`, and
    /// change-log rows older than the newest `keep_revisions` revisions
    /// (the newest row always stays, so [`Reads::revision`] never moves
    /// back), recording the horizon for [`Reads::compacted_through`].
    async fn compact(
        &mut self,
        records_before: weir_core::Timestamp,
        keep_revisions: u64,
    ) -> StoreResult<Compacted>;

    /// Marks a point the transaction can return to, so one command of a
    /// group commit can fail without undoing its neighbours.
    async fn savepoint(&mut self) -> StoreResult<()>;
    async fn release_savepoint(&mut self) -> StoreResult<()>;
    async fn rollback_to_savepoint(&mut self) -> StoreResult<()>;

    /// Makes every write durable; on error nothing of it is.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A store: readers share a pool, writers get a transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn read(&self) -> StoreResult<Box<dyn Reads>>;
    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>>;

    /// Node membership and VIP leases, outside the change log.
    fn cluster(&self) -> std::sync::Arc<dyn Cluster>;

    /// Commits that did not pass through this process (other nodes
    /// sharing the database): a signal that fires when one may have
    /// happened, and how often to read the change log anyway in case a
    /// signal was lost. `None`: this process is the only writer, and its
    /// own commits wake the follower directly.
    fn foreign_commits(&self) -> Option<ForeignCommits> {
        None
    }
}

/// What the registry holds about the cluster, read at one moment of the
/// database's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// The database's time of the reading, milliseconds since the epoch.
    pub now_ms: i64,
    pub nodes: Vec<weir_core::cluster::NodeRecord>,
    pub leases: Vec<weir_core::cluster::Lease>,
}

/// Node membership and VIP leases: single autocommit statements, never
/// inside a registry write (a heartbeat must not queue behind the writer
/// lock, nor log a change). Times are the database's.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Whether several nodes can share this store, and so hold leases
    /// against each other (PostgreSQL).
    fn shared(&self) -> bool;
    /// Writes the node's row, its heartbeat stamped now.
    async fn heartbeat(&self, node: &weir_core::cluster::NodeRecord) -> StoreResult<()>;
    /// Stamps the node's start (after its first heartbeat).
    async fn started(&self, id: &str) -> StoreResult<()>;
    async fn view(&self) -> StoreResult<ClusterView>;
    /// Compare-and-set: takes `vip` if its lease is at `seen_epoch` (0: no
    /// lease yet) and expired. The new epoch, or `None`: another node
    /// moved first.
    async fn acquire_lease(
        &self,
        vip: IpAddr,
        node: &str,
        seen_epoch: u64,
        ttl_ms: u64,
    ) -> StoreResult<Option<u64>>;
    /// Extends a live lease held at `epoch`; false: it expired or moved.
    async fn renew_lease(
        &self,
        vip: IpAddr,
        node: &str,
        epoch: u64,
        ttl_ms: u64,
    ) -> StoreResult<bool>;
    /// Expires a lease held at `epoch` (its row and epoch stay).
    async fn release_lease(&self, vip: IpAddr, node: &str, epoch: u64) -> StoreResult<bool>;
}

/// [`Cluster`] over any driver, given how to open a connection that may
/// write and how the database spells "now, in milliseconds".
macro_rules! cluster_impl {
    ($store:ty, $conn:expr, $now:expr, $shared:expr) => {
        #[async_trait::async_trait]
        impl crate::Cluster for $store {
            fn shared(&self) -> bool {
                $shared
            }

            async fn heartbeat(
                &self,
                node: &weir_core::cluster::NodeRecord,
            ) -> crate::StoreResult<()> {
                let mut conn = $conn(self).await?;
                crate::sql::cluster::heartbeat(&mut conn, $now, node).await
            }

            async fn started(&self, id: &str) -> crate::StoreResult<()> {
                let mut conn = $conn(self).await?;
                crate::sql::cluster::started(&mut conn, $now, id).await
            }

            async fn view(&self) -> crate::StoreResult<crate::ClusterView> {
                let mut conn = $conn(self).await?;
                let nodes = crate::sql::cluster::nodes(&mut conn).await?;
                let leases = crate::sql::cluster::leases(&mut conn).await?;
                // Read last: no row read above is from after it.
                let now_ms = crate::sql::cluster::now_ms(&mut conn, $now).await?;
                Ok(crate::ClusterView {
                    now_ms,
                    nodes,
                    leases,
                })
            }

            async fn acquire_lease(
                &self,
                vip: std::net::IpAddr,
                node: &str,
                seen_epoch: u64,
                ttl_ms: u64,
            ) -> crate::StoreResult<Option<u64>> {
                let mut conn = $conn(self).await?;
                crate::sql::cluster::acquire(&mut conn, $now, vip, node, seen_epoch, ttl_ms).await
            }

            async fn renew_lease(
                &self,
                vip: std::net::IpAddr,
                node: &str,
                epoch: u64,
                ttl_ms: u64,
            ) -> crate::StoreResult<bool> {
                let mut conn = $conn(self).await?;
                crate::sql::cluster::renew(&mut conn, $now, vip, node, epoch, ttl_ms).await
            }

            async fn release_lease(
                &self,
                vip: std::net::IpAddr,
                node: &str,
                epoch: u64,
            ) -> crate::StoreResult<bool> {
                let mut conn = $conn(self).await?;
                crate::sql::cluster::release(&mut conn, vip, node, epoch).await
            }
        }
    };
}
pub(crate) use cluster_impl;

/// How a follower learns of other writers' commits.
#[derive(Clone)]
pub struct ForeignCommits {
    /// Notified (one stored permit) when another writer may have committed.
    pub signal: std::sync::Arc<tokio::sync::Notify>,
    /// Read the change log at least this often.
    pub poll: std::time::Duration,
}
