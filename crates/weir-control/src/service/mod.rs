//! The commands and queries of the control plane, one module per command
//! family ([`tenants`]: projects and inventory, [`loadbalancers`], [`backends`],
//! [`l7`]: L7 policies and rules); this module holds
//! [`Control`] itself, its start, authentication and the shared helpers.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::sync::watch;
use weir_core::backend::{
    plan_backend_update, plan_batch, plan_port_change, select_backends, BackendSelector,
    BackendUpdate, WhenMissing,
};
use weir_core::group::{self, NewServerGroup, WhenInUse};
use weir_core::idempotency::{self, Replay};
use weir_core::ids::*;
use weir_core::inventory::{self, InstanceUpdate, NewInstance, NewSubnet, NewVpc};
use weir_core::loadbalancer::{
    self, LbAction, ListenerUpdate, LoadBalancerUpdate, NewListener, NewLoadBalancer,
};
use weir_core::model::*;
use weir_core::pool::{plan_pool_update, PoolUpdate};
use weir_core::quota::QuotaResource;
use weir_core::register::{self, BackendSpec, IgnoredBackend, RegisterPolicy, RegisterSnapshot};
use weir_core::settings::Settings;
use weir_core::status::ListenerLive;
use weir_core::topology::Topology;
use weir_core::{Error, ResourceKind, Timestamp};
use weir_store::{
    IdempotencyRecord, OwnedRegistrationQuery, OwnedRegistrationTarget, Page, Reads,
    RegistrationQuery, RegistrationReads, RegistrationTarget, Store, StoreTx,
};

use crate::auth::{constant_time_eq, hash_token, hex, random_string, random_token, Principal};
use crate::writer::Writer;
use crate::{ControlError, ControlResult};
use crate::{LiveView, Retention};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Runs `$body` as one command of the next group commit, with `$tx`
/// bound to the transaction; the command's result is returned once the
/// group has committed (see [`Writer::write`]).
///
/// A principal whose role only reads is refused before anything is
/// queued: every command names its principal here, so none can forget.
macro_rules! command {
    ($writer:expr, $principal:expr, |$tx:ident| $body:block) => {
        command!($writer, $principal, ahead = None, |$tx| $body)
    };
    // `ahead`: the registration query the writer may read ahead
    // (`Writer::write_reading_ahead`).
    ($writer:expr, $principal:expr, ahead = $ahead:expr, |$tx:ident| $body:block) => {{
        $principal.may_write()?;
        $writer
            .write_reading_ahead($ahead, move |mut tx| async move {
                let result = async {
                    let $tx: &mut dyn StoreTx = &mut *tx;
                    $body
                }
                .await;
                (tx, result)
            })
            .await
    }};
}

mod acls;
mod backends;
mod certificates;
mod cluster_live;
mod flavors;
mod keymgr;
mod l7;
mod live;
mod loadbalancers;
mod networks;
mod nodes;
mod quotas;
mod tenants;

pub use certificates::{UploadedCa, UploadedCertificate};
pub use cluster_live::LiveSnapshot;
pub use nodes::NodeStatus;
use quotas::quota_room;
pub use quotas::ProjectQuotas;

/// Longest a listener or load-balancer command waits for the data plane to
/// apply it before answering (it takes well under a millisecond normally).
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Idempotency scope of backend registration.
const OP_REGISTER: &str = "register_backends";
/// Idempotency scope of load balancer creation.
const OP_CREATE_LB: &str = "create_load_balancer";
/// Idempotency scope of listener creation (Zenlayer BMC `clientToken`).
const OP_CREATE_LISTENER: &str = "create_listener";

/// Fresh ids: UUIDv7, so id order is creation order and keyset paging by
/// id lists backends oldest first.
struct UuidIds;

impl IdSource for UuidIds {
    fn next_id(&mut self) -> String {
        uuid::Uuid::now_v7().to_string()
    }
}

fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// A project just created, with the only copy of its secrets.
#[derive(Debug, Clone)]
pub struct ProjectCreated {
    pub project: Project,
    pub token: String,
    pub access_key_secret: String,
}

/// Where a registration goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegisterTarget {
    Pool(PoolId),
    /// The listener's default pool.
    Listener(ListenerId),
    /// The listener's default pool, provided the listener is on this load
    /// balancer (the clouds that name both): otherwise the listener is
    /// "not found".
    ListenerOn(LoadBalancerId, ListenerId),
    /// The load balancer's LB-wide pool (Aliyun's default server group).
    LoadBalancer(LoadBalancerId),
}

/// A registration request as a dialect translated it.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub target: RegisterTarget,
    pub backends: Vec<BackendSpec>,
    pub policy: RegisterPolicy,
    pub client_token: Option<String>,
}

/// What a registration did.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    pub backends: Vec<Backend>,
    /// Request items skipped as duplicates (first-wins policy).
    pub ignored: Vec<IgnoredBackend>,
    /// The client token had been seen with this request: nothing was
    /// registered, the original backends are returned.
    pub replayed: bool,
}

/// What a declarative batch did.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    pub created: Vec<Backend>,
    pub updated: Vec<Backend>,
    pub deleted: Vec<Backend>,
}

/// A credential just created, with the only copy of its secrets.
#[derive(Debug, Clone)]
pub struct CredentialCreated {
    pub credential: Credential,
    pub token: String,
    pub access_key_secret: String,
}

/// A project's access key, for verifying a dialect's request signature.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// The access key id (a Keystone user name or application credential).
    pub id: String,
    pub project_id: ProjectId,
    pub secret: String,
    /// What requests signed with it may do.
    pub role: Role,
}

impl AccessKey {
    /// The principal a request signed with this key acts as.
    pub fn principal(&self) -> Principal {
        Principal::with_role(self.project_id.clone(), self.role)
    }
}

/// How long a node trusts what it looked up about a token or access key.
/// A credential revoked here stops at once (the node evicts it); on the
/// other nodes sharing the store, within this long.
const CREDENTIAL_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Token hashes and access key ids already looked up, each with when.
struct CredentialCache<T> {
    entries: RwLock<HashMap<String, (T, std::time::Instant)>>,
}

impl<T: Clone> CredentialCache<T> {
    fn get(&self, key: &str) -> Option<T> {
        let entries = self.entries.read().expect("credential cache lock");
        let (value, at) = entries.get(key)?;
        (at.elapsed() < CREDENTIAL_CACHE_TTL).then(|| value.clone())
    }

    fn put(&self, key: String, value: T) {
        let mut entries = self.entries.write().expect("credential cache lock");
        // Stale entries go when the map grows, so the cache stays bounded by
        // the credentials used within one TTL.
        if entries.len() >= 4096 {
            entries.retain(|_, (_, at)| at.elapsed() < CREDENTIAL_CACHE_TTL);
        }
        entries.insert(key, (value, std::time::Instant::now()));
    }

    fn clear(&self) {
        self.entries.write().expect("credential cache lock").clear();
    }

    fn evict(&self, key: &str) {
        self.entries
            .write()
            .expect("credential cache lock")
            .remove(key);
    }
}

impl<T> Default for CredentialCache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
        }
    }
}

/// The control plane: commands, queries, authentication.
#[derive(Clone)]
pub struct Control {
    store: Arc<dyn Store>,
    /// Token hash → principal, filled on first use, trusted for
    /// [`CREDENTIAL_CACHE_TTL`]; a revoked credential is evicted.
    token_cache: Arc<CredentialCache<Principal>>,
    /// Access key id → key, likewise.
    key_cache: Arc<CredentialCache<AccessKey>>,
    topology: watch::Receiver<Arc<Topology>>,
    live: Arc<OnceLock<Arc<dyn LiveView>>>,
    /// On a node with a data plane, the live state read from the other
    /// nodes: shown for what its own data plane does not serve (a
    /// `failover` standby's listeners).
    peer_live: Arc<OnceLock<Arc<dyn LiveView>>>,
    /// The cluster loop's metrics, once it runs.
    cluster_metrics: Arc<OnceLock<Arc<dyn crate::ClusterMetrics>>>,
    writer: Writer,
    settings: Arc<Settings>,
    admin_token: Arc<str>,
    /// A token that reads `/metrics` and nothing else (operators' scrapers).
    metrics_token: Option<Arc<str>>,
    /// The token other nodes read this node's live state with
    /// ([`crate::auth::cluster_token`]).
    cluster_token: Option<Arc<str>>,
    /// Seals private keys before they reach the store; the topology
    /// follower opens them with the same cell.
    secrets: Arc<crate::secrets::SecretCell>,
    /// Hands committed changes and live transitions to watchers.
    pub(crate) watch_hub: Arc<crate::watch::Hub>,
}

impl Control {
    /// Starts the control plane on `store`, with the default retention.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: Settings,
        admin_token: String,
    ) -> ControlResult<Self> {
        Self::start_with(store, settings, admin_token, Retention::default()).await
    }

    /// Starts the control plane on `store`, compacting it as `retention`
    /// says.
    pub async fn start_with(
        store: Arc<dyn Store>,
        settings: Settings,
        admin_token: String,
        retention: Retention,
    ) -> ControlResult<Self> {
        Self::start_keyed(store, settings, admin_token, retention, None).await
    }

    /// Starts the control plane on `store` with the deployment's secrets
    /// key (`None`: one drawn now, see [`Self::with_secrets_key`]), so the
    /// first topology already holds every HTTPS listener's opened keys.
    pub async fn start_keyed(
        store: Arc<dyn Store>,
        settings: Settings,
        admin_token: String,
        retention: Retention,
        secrets_key: Option<[u8; 32]>,
    ) -> ControlResult<Self> {
        let secrets = Arc::new(crate::secrets::SecretCell::new(match secrets_key {
            Some(key) => crate::secrets::SecretBox::new(key),
            None => crate::secrets::SecretBox::ephemeral(),
        }));
        let revision = store.read().await?.revision().await?;
        let writer = Writer::spawn(store.clone(), revision);
        crate::maintenance::spawn(writer.downgrade(), retention, now);
        let topology =
            crate::topology::spawn(store.clone(), writer.revision(), secrets.clone()).await?;
        let watch_hub =
            crate::watch::Hub::spawn(store.clone(), revision, writer.revision(), topology.clone());
        Ok(Self {
            watch_hub,
            writer,
            store,
            token_cache: Arc::default(),
            key_cache: Arc::default(),
            topology,
            live: Arc::default(),
            peer_live: Arc::default(),
            cluster_metrics: Arc::default(),
            settings: Arc::new(settings),
            admin_token: admin_token.into(),
            metrics_token: None,
            cluster_token: None,
            secrets,
        })
    }

    /// Runs one compaction sweep now (the periodic task runs the same),
    /// as of `now`: for operators' tooling and tests.
    pub async fn compact_now(
        &self,
        retention: Retention,
        now: Timestamp,
    ) -> ControlResult<weir_store::Compacted> {
        crate::maintenance::sweep(&self.writer, retention, now).await
    }

    /// Seals private keys with `key` (the deployment's secrets key, kept
    /// outside the database). Without it, a key drawn at start is used and
    /// what it sealed cannot be opened after a restart: `weir serve`
    /// always sets one (through [`Self::start_keyed`]). The topology
    /// follower reopens every HTTPS listener's keys with the new one.
    pub fn with_secrets_key(self, key: [u8; 32]) -> Self {
        self.secrets.set(crate::secrets::SecretBox::new(key));
        self
    }

    /// Lets `token` read the metrics, besides the admin token (an empty
    /// token is ignored).
    pub fn with_metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token.filter(|t| !t.is_empty()).map(Into::into);
        self
    }

    /// Whether a bearer token may read the metrics, which name every
    /// tenant's load balancers, listeners and backends: the admin token or
    /// the metrics token, compared in constant time.
    pub fn may_read_metrics(&self, token: &str) -> bool {
        let admin = constant_time_eq(token.as_bytes(), self.admin_token.as_bytes());
        let scraper = self
            .metrics_token
            .as_ref()
            .is_some_and(|m| constant_time_eq(token.as_bytes(), m.as_bytes()));
        admin | scraper
    }

    /// The settings the rules run with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The data plane's topology, kept current from the change log.
    pub fn topology(&self) -> watch::Receiver<Arc<Topology>> {
        self.topology.clone()
    }

    /// Prometheus text: control-plane gauges, then the data plane's.
    pub fn render_metrics(&self) -> String {
        let mut out = String::new();
        let revision = *self.writer.revision().borrow();
        let applied = self.topology.borrow().revision;
        out.push_str("# TYPE weir_store_revision gauge\n");
        out.push_str(&format!("weir_store_revision {revision}\n"));
        out.push_str("# TYPE weir_topology_revision gauge\n");
        out.push_str(&format!("weir_topology_revision {applied}\n"));
        let (watchers, cut) = self.watch_hub.counts();
        out.push_str("# TYPE weir_watch_watchers gauge\n");
        out.push_str(&format!("weir_watch_watchers {watchers}\n"));
        out.push_str("# TYPE weir_watch_cut_total counter\n");
        out.push_str(&format!("weir_watch_cut_total {cut}\n"));
        if let Some(live) = self.live.get() {
            live.render_metrics(&mut out);
        }
        if let Some(cluster) = self.cluster_metrics.get() {
            cluster.render_metrics(&mut out);
        }
        out
    }

    /// Load balancers as users see them, with the data plane's say: the
    /// status (RUNNING only once every listener is bound, CREATING before,
    /// ERROR when a bind failed) and the worst state of the listeners it
    /// serves (error, pending, unsupported, active). Without a data plane:
    /// the stored status and no live state.
    pub async fn load_balancers_live(
        &self,
        lbs: &[LoadBalancer],
    ) -> ControlResult<Vec<(LbStatus, Option<ListenerLive>)>> {
        if self.live.get().is_none() {
            return Ok(lbs.iter().map(|lb| (lb.status, None)).collect());
        }
        let mut reads = self.reader().await?;
        let mut out = Vec::with_capacity(lbs.len());
        for lb in lbs {
            let states: Vec<ListenerLive> = reads
                .listeners_of(&lb.id)
                .await?
                .iter()
                .filter_map(|l| self.listener_live(l))
                .collect();
            out.push((
                weir_core::status::load_balancer_status(lb.status, &states),
                Some(weir_core::status::worst_listener(&states)),
            ));
        }
        Ok(out)
    }

    /// Waits, at most [`SETTLE_TIMEOUT`], until the data plane has applied
    /// every committed change, so that an answer about listeners tells
    /// whether they are bound rather than "pending". Without a data plane
    /// it returns at once.
    /// [`Self::settle`] for a dialect whose answers show what the data
    /// plane has applied (Octavia's member `provisioning_status`): after
    /// it, a member just registered reads ACTIVE, not PENDING_CREATE
    /// behind a load balancer that already reads ACTIVE.
    pub async fn settled(&self) {
        self.settle().await;
    }

    async fn settle(&self) {
        let Some(live) = self.live.get() else { return };
        let target = *self.writer.revision().borrow();
        let mut applied = live.applied();
        let reached = applied.wait_for(|rev| *rev >= target);
        // A data plane that is slow (or gone) must not hold the answer: the
        // listener then reads as pending.
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, reached).await;
    }

    /// Stops writing to the store (a takeover: the successor must not
    /// write before this process has stopped): returns once no commit is
    /// under way; until [`Self::resume_writes`], commands are answered
    /// "unavailable, nothing written, try again".
    pub async fn pause_writes(&self) {
        self.writer.pause().await;
    }

    /// Writes again after [`Self::pause_writes`] (the takeover failed).
    pub fn resume_writes(&self) {
        self.writer.resume();
    }

    /// Follows committed revisions of the change log.
    pub fn revision(&self) -> watch::Receiver<u64> {
        self.writer.revision()
    }

    pub(crate) async fn reader(&self) -> ControlResult<Box<dyn Reads>> {
        Ok(self.store.read().await?)
    }

    /// Looks up an access key by id, for a dialect to verify a signature
    /// with its secret.
    pub async fn access_key(&self, access_key_id: &str) -> ControlResult<Option<AccessKey>> {
        if let Some(key) = self.key_cache.get(access_key_id) {
            return Ok(Some(key));
        }
        let found = self
            .reader()
            .await?
            .project_by_access_key(access_key_id)
            .await?;
        Ok(found.map(|c| {
            let key = AccessKey {
                id: access_key_id.to_owned(),
                project_id: c.project.id,
                secret: c.access_key_secret,
                role: c.role,
            };
            self.key_cache.put(access_key_id.to_owned(), key.clone());
            key
        }))
    }

    /// The project an access key belongs to.
    pub async fn project_of_key(&self, key: &AccessKey) -> ControlResult<Option<Project>> {
        Ok(self.reader().await?.project(&key.project_id).await?)
    }

    /// Resolves a bearer token to its principal: the admin token, a
    /// project's own token (member) or one of its credentials (their role).
    pub async fn authenticate(&self, token: &str) -> ControlResult<Option<Principal>> {
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Ok(Some(Principal::Admin));
        }
        // The lookup is by hash, so timing reveals nothing about the token.
        let hash = hash_token(token);
        if let Some(principal) = self.token_cache.get(&hash) {
            return Ok(Some(principal));
        }
        let mut reads = self.reader().await?;
        let principal = match reads.project_by_token_hash(&hash).await? {
            Some(p) => Some(Principal::Project(p.id)),
            None => reads
                .credential_by_token_hash(&hash)
                .await?
                .map(|c| Principal::with_role(c.project_id, c.role)),
        };
        if let Some(principal) = &principal {
            self.token_cache.put(hash, principal.clone());
        }
        Ok(principal)
    }

    /// Refuses anyone but the operator. Public so that a front end can
    /// answer 403 before it reads a body, as Octavia checks policy before
    /// validating (the commands check it again themselves).
    pub fn admin_only(principal: &Principal) -> ControlResult<()> {
        match principal {
            Principal::Admin => Ok(()),
            _ => Err(ControlError::AdminOnly),
        }
    }
}

/// Fingerprint of a registration for idempotency: a hash of the parsed
/// request, so key order and whitespace on the wire do not matter.
fn fingerprint(req: &RegisterRequest) -> String {
    hex(&Sha256::digest(
        format!("{:?}|{:?}", req.target, req.backends).as_bytes(),
    ))
}

async fn register_in(
    tx: &mut dyn StoreTx,
    principal: &Principal,
    req: &RegisterRequest,
    settings: &Settings,
) -> ControlResult<RegisterOutcome> {
    // Only a request with a client token needs its fingerprint.
    let fingerprint = req.client_token.as_ref().map(|_| fingerprint(req));
    let keys = register::snapshot_keys(&req.backends);
    // Everything the command reads, asked for at once: one round trip to
    // PostgreSQL. Rows are held to the principal before anything is used.
    let target = match &req.target {
        RegisterTarget::Pool(id) => RegistrationTarget::Pool(id),
        RegisterTarget::Listener(id) | RegisterTarget::ListenerOn(_, id) => {
            RegistrationTarget::Listener(id)
        }
        RegisterTarget::LoadBalancer(id) => RegistrationTarget::LoadBalancer(id),
    };
    let reads = tx
        .registration_reads(&RegistrationQuery {
            target,
            instance_ids: &keys.instance_ids,
            addresses: &keys.addresses,
            subnet_ids: &keys.subnet_ids,
            idempotency: req.client_token.as_deref().map(|t| (OP_REGISTER, t)),
        })
        .await?;
    let (pool, listener) = registration_target(principal, &req.target, &reads)?;
    let project = pool.project_id.clone();

    if let (Some(token), Some(fingerprint)) = (&req.client_token, &fingerprint) {
        let stored = reads
            .idempotency
            .clone()
            .map(|r| (r.fingerprint, r.response));
        if let Replay::Respond(ids) = idempotency::decide(token, stored, fingerprint)? {
            let ids: Vec<String> = ids
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let mut backends = tx.backends_by_ids(&ids).await?;
            backends.sort_by_key(|b| ids.iter().position(|i| i == b.id.as_str()));
            return Ok(RegisterOutcome {
                backends,
                ignored: Vec::new(),
                replayed: true,
            });
        }
    }

    let lb = reads
        .load_balancer
        .filter(|lb| lb.id == pool.lb_id)
        .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &pool.lb_id))?;
    let vpc = reads
        .vpc
        .filter(|vpc| vpc.id == lb.vpc_id)
        .ok_or_else(|| Error::not_found(ResourceKind::Vpc, &lb.vpc_id))?;
    let snapshot = RegisterSnapshot {
        overlapping: reads.overlapping,
        vips: reads.vips,
        pool_backend_count: reads.backend_count,
        subnets: reads.subnets,
        instances: reads.instances,
        load_balancer: lb,
        vpc,
        listener,
        pool,
    };
    let at = now();
    let plan = register::plan_register(
        &snapshot,
        &req.backends,
        &req.policy,
        settings,
        &mut UuidIds,
        at,
    )?;
    quotas::quota_room_with(
        tx,
        &settings.limits,
        &project,
        QuotaResource::Member,
        plan.backends.len(),
        reads.quotas,
    )
    .await?;
    tx.insert_backends(&plan.backends).await?;
    if let (Some(token), Some(fingerprint)) = (&req.client_token, fingerprint) {
        let ids: Vec<&str> = plan.backends.iter().map(|b| b.id.as_str()).collect();
        let record = IdempotencyRecord {
            fingerprint,
            response: ids.join(","),
        };
        tx.put_idempotency_record(&project, OP_REGISTER, token, &record, at)
            .await?;
    }
    Ok(RegisterOutcome {
        backends: plan.backends,
        ignored: plan.ignored,
        replayed: false,
    })
}

/// What a registration without a client token will read, for the writer
/// to read ahead with the rest of its group; `None` with a token (its
/// idempotency record is read with the command).
fn registration_ahead(req: &RegisterRequest) -> Option<OwnedRegistrationQuery> {
    if req.client_token.is_some() {
        return None;
    }
    let keys = register::snapshot_keys(&req.backends);
    let target = match &req.target {
        RegisterTarget::Pool(id) => OwnedRegistrationTarget::Pool(id.clone()),
        RegisterTarget::Listener(id) | RegisterTarget::ListenerOn(_, id) => {
            OwnedRegistrationTarget::Listener(id.clone())
        }
        RegisterTarget::LoadBalancer(id) => OwnedRegistrationTarget::LoadBalancer(id.clone()),
    };
    Some(OwnedRegistrationQuery {
        target,
        instance_ids: keys.instance_ids,
        addresses: keys.addresses,
        subnet_ids: keys.subnet_ids,
    })
}

/// [`resolve_target`] over rows already read: the same checks in the same
/// order, so a caller learns the same "not found".
fn registration_target(
    principal: &Principal,
    target: &RegisterTarget,
    reads: &RegistrationReads,
) -> ControlResult<(Pool, Option<Listener>)> {
    let (pool_id, listener) = match target {
        RegisterTarget::Pool(id) => (id.clone(), None),
        RegisterTarget::Listener(id) => {
            let found = reads.listener.clone().filter(|l| &l.id == id);
            let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
            (listener.default_pool_id.clone(), Some(listener))
        }
        RegisterTarget::ListenerOn(lb, id) => {
            let found = reads
                .listener
                .clone()
                .filter(|l| &l.id == id && &l.lb_id == lb);
            let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
            (listener.default_pool_id.clone(), Some(listener))
        }
        RegisterTarget::LoadBalancer(id) => {
            let found = reads.load_balancer.clone().filter(|lb| &lb.id == id);
            let lb = principal.check(found, ResourceKind::LoadBalancer, id.as_str())?;
            (lb.default_pool_id, None)
        }
    };
    let found = reads.pool.clone().filter(|p| p.id == pool_id);
    let pool = principal.check(found, ResourceKind::Pool, pool_id.as_str())?;
    let listener = match (listener, &pool.listener_id) {
        (Some(known), _) => Some(known),
        (None, Some(id)) => reads.listener.clone().filter(|l| &l.id == id),
        (None, None) => None,
    };
    Ok((pool, listener))
}

/// Checks the server group an update points a listener at, when it
/// points it at a new one.
async fn check_new_group(
    tx: &mut dyn StoreTx,
    principal: &Principal,
    current: &Listener,
    next: &Listener,
) -> ControlResult<()> {
    let Some(id) = next.group_pool_id.as_ref() else {
        return Ok(());
    };
    if current.group_pool_id.as_ref() == Some(id) && current.protocol == next.protocol {
        return Ok(());
    }
    let found = tx.pool(id).await?;
    let pool = principal.check(found, ResourceKind::Pool, id.as_str())?;
    let lb = tx
        .load_balancer(&next.lb_id)
        .await?
        .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &next.lb_id))?;
    group::check_attach(&lb, next, &pool)?;
    Ok(())
}

/// Every backend of a pool (at most `limit`, the pool quota).
async fn all_backends<R: Reads + ?Sized>(
    reads: &mut R,
    pool: &PoolId,
    limit: usize,
) -> ControlResult<Vec<Backend>> {
    let page = Page {
        marker: None,
        limit: limit.max(reads.count_backends(pool).await?),
    };
    Ok(reads.backends(pool, &page).await?)
}

/// The pool a target names (checked against the principal), with its
/// listener when it is a listener's default pool; works on a reader or
/// inside a write transaction.
async fn resolve_target<R: Reads + ?Sized>(
    tx: &mut R,
    principal: &Principal,
    target: &RegisterTarget,
) -> ControlResult<(Pool, Option<Listener>)> {
    let (pool_id, listener) = match target {
        RegisterTarget::Pool(id) => (id.clone(), None),
        RegisterTarget::Listener(id) => {
            let found = tx.listener(id).await?;
            let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
            (listener.default_pool_id.clone(), Some(listener))
        }
        RegisterTarget::ListenerOn(lb, id) => {
            let found = tx.listener(id).await?.filter(|l| &l.lb_id == lb);
            let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
            (listener.default_pool_id.clone(), Some(listener))
        }
        RegisterTarget::LoadBalancer(id) => {
            let found = tx.load_balancer(id).await?;
            let lb = principal.check(found, ResourceKind::LoadBalancer, id.as_str())?;
            (lb.default_pool_id, None)
        }
    };
    let found = tx.pool(&pool_id).await?;
    let pool = principal.check(found, ResourceKind::Pool, pool_id.as_str())?;
    let listener = match (listener, &pool.listener_id) {
        (Some(known), _) => Some(known),
        (None, Some(id)) => tx.listener(id).await?,
        (None, None) => None,
    };
    Ok((pool, listener))
}
