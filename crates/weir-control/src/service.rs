//! The commands and queries of the control plane.

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
use weir_core::register::{self, BackendSpec, IgnoredBackend, RegisterPolicy, RegisterSnapshot};
use weir_core::settings::Settings;
use weir_core::status::{BackendLive, ListenerLive};
use weir_core::topology::Topology;
use weir_core::{Error, ResourceKind, Timestamp};
use weir_store::{IdempotencyRecord, Page, Reads, Store, StoreTx};

use crate::auth::{constant_time_eq, hash_token, hex, random_string, random_token, Principal};
use crate::writer::Writer;
use crate::{ControlError, ControlResult};
use crate::{LiveView, Retention};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Runs `$body` as one command of the next group commit, with `$tx`
/// bound to the transaction; the command's result is returned once the
/// group has committed (see [`Writer::write`]).
macro_rules! command {
    ($writer:expr, |$tx:ident| $body:block) => {
        $writer
            .write(move |mut tx| async move {
                let result = async {
                    let $tx: &mut dyn StoreTx = &mut *tx;
                    $body
                }
                .await;
                (tx, result)
            })
            .await
    };
}

/// Longest a listener or load-balancer command waits for the data plane to
/// apply it before answering (it takes well under a millisecond normally).
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Idempotency scope of backend registration.
const OP_REGISTER: &str = "register_backends";
/// Idempotency scope of load balancer creation.
const OP_CREATE_LB: &str = "create_load_balancer";

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

/// A project's access key, for verifying a dialect's request signature.
#[derive(Debug, Clone)]
pub struct AccessKey {
    pub project_id: ProjectId,
    pub secret: String,
}

impl AccessKey {
    /// The principal a request signed with this key acts as.
    pub fn principal(&self) -> Principal {
        Principal::Project(self.project_id.clone())
    }
}

/// The control plane: commands, queries, authentication.
#[derive(Clone)]
pub struct Control {
    store: Arc<dyn Store>,
    /// Token hash → project, filled on first use. Valid for as long as
    /// tokens are neither rotated nor projects deleted (neither exists yet;
    /// whoever adds them must evict here).
    token_cache: Arc<RwLock<HashMap<String, ProjectId>>>,
    /// Access key id → key, filled on first use (same lifetime caveat).
    key_cache: Arc<RwLock<HashMap<String, AccessKey>>>,
    topology: watch::Receiver<Arc<Topology>>,
    live: Arc<OnceLock<Arc<dyn LiveView>>>,
    writer: Writer,
    settings: Arc<Settings>,
    admin_token: Arc<str>,
    /// A token that reads `/metrics` and nothing else (operators' scrapers).
    metrics_token: Option<Arc<str>>,
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
        let revision = store.read().await?.revision().await?;
        let writer = Writer::spawn(store.clone(), revision);
        crate::maintenance::spawn(writer.downgrade(), retention, now);
        let topology = crate::topology::spawn(store.clone(), writer.revision()).await?;
        Ok(Self {
            writer,
            store,
            token_cache: Arc::default(),
            key_cache: Arc::default(),
            topology,
            live: Arc::default(),
            settings: Arc::new(settings),
            admin_token: admin_token.into(),
            metrics_token: None,
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

    /// Connects the data plane's live view (once, at startup).
    pub fn set_live_view(&self, view: Arc<dyn LiveView>) {
        let _ = self.live.set(view);
    }

    /// Whether a data plane reports its live state (so "not in the live
    /// view" means "not applied yet").
    pub fn has_live_view(&self) -> bool {
        self.live.get().is_some()
    }

    /// The data plane's view of a backend, when a data plane runs.
    pub fn backend_live(&self, id: &BackendId) -> Option<BackendLive> {
        self.live.get().and_then(|v| v.backend(id))
    }

    /// The data plane's view of a listener, when a data plane runs:
    /// `Pending` while an enabled listener is missing from it and it has
    /// not yet applied the store's latest revision. Once it has caught up,
    /// a missing listener is one it does not serve (its load balancer is
    /// stopped): no live state.
    pub fn listener_live(&self, listener: &Listener) -> Option<ListenerLive> {
        let live = self.live.get()?;
        live.listener(&listener.id).or_else(|| {
            let behind = *live.applied().borrow() < *self.writer.revision().borrow();
            (listener.enabled && behind).then_some(ListenerLive::Pending)
        })
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
        if let Some(live) = self.live.get() {
            live.render_metrics(&mut out);
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
    async fn settle(&self) {
        let Some(live) = self.live.get() else { return };
        let target = *self.writer.revision().borrow();
        let mut applied = live.applied();
        let reached = applied.wait_for(|rev| *rev >= target);
        // A data plane that is slow (or gone) must not hold the answer: the
        // listener then reads as pending.
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, reached).await;
    }

    /// Follows committed revisions of the change log.
    pub fn revision(&self) -> watch::Receiver<u64> {
        self.writer.revision()
    }

    async fn reader(&self) -> ControlResult<Box<dyn Reads>> {
        Ok(self.store.read().await?)
    }

    /// Looks up an access key by id, for a dialect to verify a signature
    /// with its secret.
    pub async fn access_key(&self, access_key_id: &str) -> ControlResult<Option<AccessKey>> {
        let cached = self
            .key_cache
            .read()
            .expect("key cache lock")
            .get(access_key_id)
            .cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let found = self
            .reader()
            .await?
            .project_by_access_key(access_key_id)
            .await?;
        Ok(found.map(|c| {
            let key = AccessKey {
                project_id: c.project.id,
                secret: c.access_key_secret,
            };
            let mut cache = self.key_cache.write().expect("key cache lock");
            cache.insert(access_key_id.to_owned(), key.clone());
            key
        }))
    }

    /// Resolves a bearer token to its principal.
    pub async fn authenticate(&self, token: &str) -> ControlResult<Option<Principal>> {
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Ok(Some(Principal::Admin));
        }
        // The lookup is by hash, so timing reveals nothing about the token.
        let hash = hash_token(token);
        let cached = self
            .token_cache
            .read()
            .expect("token cache lock")
            .get(&hash)
            .cloned();
        if let Some(id) = cached {
            return Ok(Some(Principal::Project(id)));
        }
        let project = self.reader().await?.project_by_token_hash(&hash).await?;
        Ok(project.map(|p| {
            let mut cache = self.token_cache.write().expect("token cache lock");
            cache.insert(hash, p.id.clone());
            Principal::Project(p.id)
        }))
    }

    fn admin_only(principal: &Principal) -> ControlResult<()> {
        match principal {
            Principal::Admin => Ok(()),
            Principal::Project(_) => Err(ControlError::AdminOnly),
        }
    }

    // === projects ===

    /// Creates a project with a bearer token and an access key pair.
    pub async fn create_project(
        &self,
        principal: &Principal,
        name: String,
    ) -> ControlResult<ProjectCreated> {
        Self::admin_only(principal)?;
        inventory::validate_name("name", &name)?;
        let token = random_token("wt_");
        let secret = random_token("");
        let project = Project {
            id: ProjectId::new(UuidIds.next_id()),
            name,
            access_key_id: format!("WK{}", random_string(UPPER_ALNUM, 20)),
            created_at: now(),
        };
        let created = ProjectCreated {
            project: project.clone(),
            token: token.clone(),
            access_key_secret: secret.clone(),
        };
        self.writer
            .write(move |mut tx| async move {
                let result = tx
                    .insert_project(&project, &hash_token(&token), &secret)
                    .await;
                (tx, result.map_err(ControlError::from))
            })
            .await?;
        Ok(created)
    }

    /// Lists projects (admin) or the caller's own.
    pub async fn list_projects(&self, principal: &Principal) -> ControlResult<Vec<Project>> {
        let all = self.reader().await?.projects().await?;
        Ok(all.into_iter().filter(|p| principal.sees(&p.id)).collect())
    }

    // === inventory ===

    /// Creates a VPC for a project (admin).
    pub async fn create_vpc(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        req: NewVpc,
    ) -> ControlResult<Vpc> {
        Self::admin_only(principal)?;
        command!(self.writer, |tx| {
            let project = tx.project(&project_id).await?;
            Principal::Admin.check(project, ResourceKind::Project, project_id.as_str())?;
            let vpc = inventory::plan_vpc(&project_id, &req, UuidIds.next_id(), now())?;
            tx.insert_vpc(&vpc).await?;
            Ok(vpc)
        })
    }

    /// Lists VPCs the caller sees.
    pub async fn list_vpcs(&self, principal: &Principal) -> ControlResult<Vec<Vpc>> {
        Ok(self.reader().await?.vpcs(principal.scope()).await?)
    }

    /// Creates a subnet in a VPC (admin).
    pub async fn create_subnet(
        &self,
        principal: &Principal,
        vpc_id: VpcId,
        req: NewSubnet,
    ) -> ControlResult<Subnet> {
        Self::admin_only(principal)?;
        command!(self.writer, |tx| {
            let vpc = tx.vpc(&vpc_id).await?;
            let vpc = Principal::Admin.check(vpc, ResourceKind::Vpc, vpc_id.as_str())?;
            let siblings = tx.subnets_of_vpc(&vpc_id).await?;
            let subnet = inventory::plan_subnet(&vpc, &siblings, &req, UuidIds.next_id(), now())?;
            tx.insert_subnet(&subnet).await?;
            Ok(subnet)
        })
    }

    /// Lists subnets the caller sees.
    pub async fn list_subnets(&self, principal: &Principal) -> ControlResult<Vec<Subnet>> {
        Ok(self.reader().await?.subnets(principal.scope()).await?)
    }

    /// Creates an instance in a subnet (admin); `project_id` must own the
    /// subnet.
    pub async fn create_instance(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        subnet_id: SubnetId,
        req: NewInstance,
    ) -> ControlResult<Instance> {
        Self::admin_only(principal)?;
        command!(self.writer, |tx| {
            let owner = Principal::Project(project_id);
            let subnet = tx.subnet(&subnet_id).await?;
            let subnet = owner.check(subnet, ResourceKind::Subnet, subnet_id.as_str())?;
            let ip = inventory::parse_ip("private_ip", &req.private_ip)?;
            let holder = tx.instance_by_ip(&subnet.vpc_id, ip).await?;
            let instance =
                inventory::plan_instance(&subnet, holder.as_ref(), &req, UuidIds.next_id(), now())?;
            tx.insert_instance(&instance).await?;
            Ok(instance)
        })
    }

    /// Changes an instance's name or state (admin).
    pub async fn update_instance(
        &self,
        principal: &Principal,
        id: InstanceId,
        update: InstanceUpdate,
    ) -> ControlResult<Instance> {
        Self::admin_only(principal)?;
        command!(self.writer, |tx| {
            let current = tx.instance(&id).await?;
            let current = Principal::Admin.check(current, ResourceKind::Instance, id.as_str())?;
            let next = inventory::plan_instance_update(&current, &update)?;
            tx.update_instance(&next).await?;
            Ok(next)
        })
    }

    /// Lists instances the caller sees.
    pub async fn list_instances(&self, principal: &Principal) -> ControlResult<Vec<Instance>> {
        Ok(self.reader().await?.instances(principal.scope()).await?)
    }

    /// Shows one instance.
    pub async fn get_instance(
        &self,
        principal: &Principal,
        id: &InstanceId,
    ) -> ControlResult<Instance> {
        let found = self.reader().await?.instance(id).await?;
        Ok(principal.check(found, ResourceKind::Instance, id.as_str())?)
    }

    // === load balancers and listeners ===

    /// Creates a load balancer in a subnet of the caller's project.
    pub async fn create_load_balancer(
        &self,
        principal: &Principal,
        subnet_id: SubnetId,
        req: NewLoadBalancer,
    ) -> ControlResult<LoadBalancer> {
        self.create_load_balancer_once(principal, subnet_id, req, None)
            .await
    }

    /// Creates a load balancer; with a client token, a replay of the same
    /// request returns the load balancer the first one created (Zenlayer
    /// BMC `clientToken`), and the same token with another request is
    /// refused.
    pub async fn create_load_balancer_once(
        &self,
        principal: &Principal,
        subnet_id: SubnetId,
        req: NewLoadBalancer,
        client_token: Option<String>,
    ) -> ControlResult<LoadBalancer> {
        if let Some(token) = &client_token {
            idempotency::validate_token("client_token", token)?;
        }
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, |tx| {
            let not_found = || Error::not_found(ResourceKind::Subnet, subnet_id.as_str());
            let subnet = tx.subnet(&subnet_id).await?.ok_or_else(not_found)?;
            // A shared subnet serves every project; the load balancer is
            // the caller's (the operator's lands in the subnet's project).
            let owner = match &principal {
                Principal::Project(p) => p.clone(),
                Principal::Admin => subnet.project_id.clone(),
            };
            if !subnet.usable_by(&owner) {
                return Err(not_found().into());
            }
            let fingerprint = hex(&Sha256::digest(format!("{subnet_id:?}|{req:?}").as_bytes()));
            if let Some(token) = &client_token {
                let stored = tx
                    .idempotency_record(&owner, OP_CREATE_LB, token)
                    .await?
                    .map(|r| (r.fingerprint, r.response));
                if let Replay::Respond(id) = idempotency::decide(token, stored, &fingerprint)? {
                    let id = LoadBalancerId::new(id);
                    let found = tx.load_balancer(&id).await?;
                    return Ok(principal.check(found, ResourceKind::LoadBalancer, id.as_str())?);
                }
            }
            let mut used = tx.used_vips().await?;
            let at = now();
            // A VIP that is some backend's address would take that
            // backend's traffic (the data plane binds it on this host):
            // a named one is refused, an allocated one is skipped.
            let plan = loop {
                let plan = loadbalancer::plan_load_balancer(
                    &owner,
                    &subnet,
                    &used,
                    &req,
                    &settings.network,
                    &mut UuidIds,
                    at,
                )?;
                let vip = plan.load_balancer.vip;
                if !tx.backend_address_in_use(vip).await? {
                    break plan;
                }
                if req.vip.is_some() {
                    return Err(Error::VipNotAllowed {
                        vip: vip.to_string(),
                        reason: "it is the address of a registered backend".to_owned(),
                    }
                    .into());
                }
                used.insert(vip);
            };
            tx.insert_load_balancer(&plan.load_balancer, &plan.default_pool)
                .await?;
            if let Some(token) = &client_token {
                let record = IdempotencyRecord {
                    fingerprint,
                    response: plan.load_balancer.id.to_string(),
                };
                tx.put_idempotency_record(&owner, OP_CREATE_LB, token, &record, at)
                    .await?;
            }
            Ok(plan.load_balancer)
        })
    }

    /// Shows one load balancer.
    pub async fn get_load_balancer(
        &self,
        principal: &Principal,
        id: &LoadBalancerId,
    ) -> ControlResult<LoadBalancer> {
        let found = self.reader().await?.load_balancer(id).await?;
        Ok(principal.check(found, ResourceKind::LoadBalancer, id.as_str())?)
    }

    /// Lists the load balancers the caller sees.
    pub async fn list_load_balancers(
        &self,
        principal: &Principal,
    ) -> ControlResult<Vec<LoadBalancer>> {
        Ok(self
            .reader()
            .await?
            .load_balancers(principal.scope())
            .await?)
    }

    /// Starts or stops a load balancer.
    pub async fn load_balancer_action(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
        action: LbAction,
    ) -> ControlResult<LoadBalancer> {
        let principal = principal.clone();
        let lb = command!(self.writer, |tx| {
            let lb = tx.load_balancer(&id).await?;
            let mut lb = principal.check(lb, ResourceKind::LoadBalancer, id.as_str())?;
            let status = loadbalancer::plan_lb_action(&lb, action)?;
            if status != lb.status {
                tx.set_load_balancer_status(&lb, status).await?;
                lb.status = status;
            }
            Ok(lb)
        })?;
        self.settle().await;
        Ok(lb)
    }

    /// Changes a load balancer's name, description or lifecycle in one
    /// write.
    pub async fn update_load_balancer(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
        update: LoadBalancerUpdate,
    ) -> ControlResult<LoadBalancer> {
        let principal = principal.clone();
        let lb = command!(self.writer, |tx| {
            let lb = tx.load_balancer(&id).await?;
            let current = principal.check(lb, ResourceKind::LoadBalancer, id.as_str())?;
            let next = loadbalancer::plan_lb_update(&current, &update, now())?;
            if next != current {
                tx.update_load_balancer(&next).await?;
            }
            Ok(next)
        })?;
        self.settle().await;
        Ok(lb)
    }

    /// Deletes a load balancer; with listeners only when `cascade`.
    pub async fn delete_load_balancer(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
        cascade: bool,
    ) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, |tx| {
            let lb = tx.load_balancer(&id).await?;
            let lb = principal.check(lb, ResourceKind::LoadBalancer, id.as_str())?;
            let listeners = tx.listeners_of(&id).await?;
            loadbalancer::plan_lb_delete(&lb, listeners.len(), cascade)?;
            tx.delete_load_balancer(&lb).await?;
            Ok(())
        })
    }

    /// Creates a listener (and its default pool) on a load balancer.
    pub async fn create_listener(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewListener,
    ) -> ControlResult<Listener> {
        self.create_listener_with_pool(principal, lb_id, req, PoolUpdate::default(), None)
            .await
    }

    /// Creates a listener whose default pool starts with `pool` applied
    /// (health check, drain timeout), and, when given, applies `lb_pool`
    /// to the pool it serves beyond its own — its server group, or the
    /// load balancer's LB-wide pool (Aliyun configures a server group's
    /// checks on its listeners) — in one atomic write.
    pub async fn create_listener_with_pool(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewListener,
        pool: PoolUpdate,
        lb_pool: Option<PoolUpdate>,
    ) -> ControlResult<Listener> {
        let principal = principal.clone();
        let listener = command!(self.writer, |tx| {
            let lb = tx.load_balancer(&lb_id).await?;
            let lb = principal.check(lb, ResourceKind::LoadBalancer, lb_id.as_str())?;
            let siblings = tx.listeners_of(&lb_id).await?;
            let mut plan = loadbalancer::plan_listener(&lb, &siblings, &req, &mut UuidIds, now())?;
            plan.default_pool = plan_pool_update(&plan.default_pool, &pool, now())?;
            if let Some(group) = &plan.listener.group_pool_id {
                let found = tx.pool(group).await?;
                let group = principal.check(found, ResourceKind::Pool, group.as_str())?;
                group::check_attach(&lb, &plan.listener, &group)?;
            }
            let lb_pool_next = match &lb_pool {
                Some(update) => {
                    // The pool the listener serves from: its server group,
                    // or the LB-wide pool.
                    let served = plan
                        .listener
                        .group_pool_id
                        .clone()
                        .unwrap_or_else(|| lb.default_pool_id.clone());
                    let found = tx.pool(&served).await?;
                    let current = principal.check(found, ResourceKind::Pool, served.as_str())?;
                    let next = plan_pool_update(&current, update, now())?;
                    (next != current).then_some(next)
                }
                None => None,
            };
            tx.insert_listener(&plan.listener, &plan.default_pool)
                .await?;
            if let Some(next) = lb_pool_next {
                tx.update_pool(&next).await?;
            }
            Ok(plan.listener)
        })?;
        self.settle().await;
        Ok(listener)
    }

    /// Shows one listener.
    pub async fn get_listener(
        &self,
        principal: &Principal,
        id: &ListenerId,
    ) -> ControlResult<Listener> {
        let found = self.reader().await?.listener(id).await?;
        Ok(principal.check(found, ResourceKind::Listener, id.as_str())?)
    }

    /// Lists the listeners of a load balancer.
    pub async fn list_listeners(
        &self,
        principal: &Principal,
        lb_id: &LoadBalancerId,
    ) -> ControlResult<Vec<Listener>> {
        let mut reads = self.reader().await?;
        let lb = reads.load_balancer(lb_id).await?;
        principal.check(lb, ResourceKind::LoadBalancer, lb_id.as_str())?;
        Ok(reads.listeners_of(lb_id).await?)
    }

    /// Creates a server group on a load balancer with its first backends
    /// (Aliyun CreateVServerGroup), in one atomic write; with `attach_to`,
    /// that listener (which must forward to no group yet) forwards to it
    /// (Octavia's pool created with a `listener_id`).
    pub async fn create_server_group(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewServerGroup,
        attach_to: Option<ListenerId>,
        backends: Vec<BackendSpec>,
        policy: RegisterPolicy,
    ) -> ControlResult<(Pool, Vec<Backend>)> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        let attaching = attach_to.is_some();
        let created = command!(self.writer, |tx| {
            let found = tx.load_balancer(&lb_id).await?;
            let lb = principal.check(found, ResourceKind::LoadBalancer, lb_id.as_str())?;
            let at = now();
            let pool = group::plan_server_group(&lb, &req, &mut UuidIds, at)?;
            let attached = match &attach_to {
                Some(id) => {
                    let found = tx.listener(id).await?;
                    let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
                    group::check_listener_free(&listener)?;
                    group::check_attach(&lb, &listener, &pool)?;
                    Some(Listener {
                        group_pool_id: Some(pool.id.clone()),
                        updated_at: at,
                        ..listener
                    })
                }
                None => None,
            };
            tx.insert_server_group(&pool).await?;
            if let Some(listener) = &attached {
                tx.update_listener(listener).await?;
            }
            let backends = if backends.is_empty() {
                Vec::new()
            } else {
                let req = RegisterRequest {
                    target: RegisterTarget::Pool(pool.id.clone()),
                    backends,
                    policy,
                    client_token: None,
                };
                register_in(tx, &principal, &req, &settings).await?.backends
            };
            Ok((pool, backends))
        })?;
        if attaching {
            self.settle().await;
        }
        Ok(created)
    }

    /// Deletes a server group with its backends; one a listener forwards
    /// to is refused or detached from it, as `when_in_use` says.
    pub async fn delete_server_group(
        &self,
        principal: &Principal,
        id: PoolId,
        when_in_use: WhenInUse,
    ) -> ControlResult<Pool> {
        let principal = principal.clone();
        command!(self.writer, |tx| {
            let found = tx.pool(&id).await?;
            let pool = principal.check(found, ResourceKind::Pool, id.as_str())?;
            let lb = tx
                .load_balancer(&pool.lb_id)
                .await?
                .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &pool.lb_id))?;
            let listeners = tx.listeners_of(&lb.id).await?;
            let detached =
                group::plan_server_group_delete(&lb, &pool, &listeners, when_in_use, now())?;
            for listener in &detached {
                tx.update_listener(listener).await?;
            }
            tx.delete_server_group(&pool).await?;
            Ok(pool)
        })
    }

    /// Replaces the backends `old` names with `new` ones in one pool, all
    /// or none (Aliyun ModifyVServerGroupBackendServers).
    pub async fn replace_backends(
        &self,
        principal: &Principal,
        target: RegisterTarget,
        old: Vec<BackendSelector>,
        new: Vec<BackendSpec>,
        policy: RegisterPolicy,
        field: &'static str,
    ) -> ControlResult<Vec<Backend>> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, |tx| {
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let all = all_backends(tx, &pool.id, settings.limits.backends_per_pool).await?;
            let gone: Vec<Backend> = select_backends(&all, &old, WhenMissing::Fail, field)?
                .into_iter()
                .cloned()
                .collect();
            for b in &gone {
                tx.delete_backend(b).await?;
            }
            let req = RegisterRequest {
                target,
                backends: new,
                policy,
                client_token: None,
            };
            Ok(register_in(tx, &principal, &req, &settings).await?.backends)
        })
    }

    /// Changes a listener's name, scheduler or PROXY protocol.
    pub async fn update_listener(
        &self,
        principal: &Principal,
        id: ListenerId,
        update: ListenerUpdate,
    ) -> ControlResult<Listener> {
        let principal = principal.clone();
        let listener = command!(self.writer, |tx| {
            let found = tx.listener(&id).await?;
            let current = principal.check(found, ResourceKind::Listener, id.as_str())?;
            let next = loadbalancer::plan_listener_update(&current, &update, now())?;
            check_new_group(tx, &principal, &current, &next).await?;
            if next != current {
                tx.update_listener(&next).await?;
            }
            Ok(next)
        })?;
        self.settle().await;
        Ok(listener)
    }

    /// Changes a listener and its default pool together (Octavia sets the
    /// scheduler and PROXY protocol through the pool), in one write.
    pub async fn update_listener_and_pool(
        &self,
        principal: &Principal,
        id: ListenerId,
        listener_update: ListenerUpdate,
        pool_update: PoolUpdate,
    ) -> ControlResult<(Listener, Pool)> {
        let principal = principal.clone();
        let updated = command!(self.writer, |tx| {
            let found = tx.listener(&id).await?;
            let current = principal.check(found, ResourceKind::Listener, id.as_str())?;
            let next = loadbalancer::plan_listener_update(&current, &listener_update, now())?;
            check_new_group(tx, &principal, &current, &next).await?;
            let found = tx.pool(&current.default_pool_id).await?;
            let pool =
                principal.check(found, ResourceKind::Pool, current.default_pool_id.as_str())?;
            let next_pool = plan_pool_update(&pool, &pool_update, now())?;
            if next != current {
                tx.update_listener(&next).await?;
            }
            if next_pool != pool {
                tx.update_pool(&next_pool).await?;
            }
            Ok((next, next_pool))
        })?;
        self.settle().await;
        Ok(updated)
    }

    /// Lists the pools of a load balancer: its LB-wide pool, then each
    /// listener's default pool.
    pub async fn list_pools(
        &self,
        principal: &Principal,
        lb_id: &LoadBalancerId,
    ) -> ControlResult<Vec<Pool>> {
        let mut reads = self.reader().await?;
        let lb = reads.load_balancer(lb_id).await?;
        principal.check(lb, ResourceKind::LoadBalancer, lb_id.as_str())?;
        Ok(reads.pools_of(lb_id).await?)
    }

    /// Deletes a listener with its default pool and that pool's backends
    /// (which drain in the data plane).
    pub async fn delete_listener(
        &self,
        principal: &Principal,
        id: ListenerId,
    ) -> ControlResult<Listener> {
        let principal = principal.clone();
        command!(self.writer, |tx| {
            let found = tx.listener(&id).await?;
            let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
            tx.delete_listener(&listener).await?;
            Ok(listener)
        })
    }

    // === backends ===

    /// Every backend of the pool `target` names, oldest first, with that
    /// pool (and its listener, when it is a listener's default pool).
    pub async fn backends_of(
        &self,
        principal: &Principal,
        target: &RegisterTarget,
    ) -> ControlResult<(Pool, Option<Listener>, Vec<Backend>)> {
        let mut reads = self.reader().await?;
        let (pool, listener) = resolve_target(&mut *reads, principal, target).await?;
        let backends = all_backends(
            &mut *reads,
            &pool.id,
            self.settings.limits.backends_per_pool,
        )
        .await?;
        Ok((pool, listener, backends))
    }

    /// Deregisters the backends `selectors` name in one pool, all or none.
    pub async fn deregister_selected(
        &self,
        principal: &Principal,
        target: RegisterTarget,
        selectors: Vec<BackendSelector>,
        missing: WhenMissing,
        field: &'static str,
    ) -> ControlResult<Vec<Backend>> {
        let principal = principal.clone();
        let limit = self.settings.limits.backends_per_pool;
        command!(self.writer, |tx| {
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let all = all_backends(tx, &pool.id, limit).await?;
            let chosen: Vec<Backend> = select_backends(&all, &selectors, missing, field)?
                .into_iter()
                .cloned()
                .collect();
            for b in &chosen {
                tx.delete_backend(b).await?;
            }
            Ok(chosen)
        })
    }

    /// Makes a pool's backends the desired set (Octavia's batch member
    /// update): matched by address and port, updated, created, and —
    /// unless `additive_only` — the rest deleted, in one atomic write.
    pub async fn batch_backends(
        &self,
        principal: &Principal,
        pool_id: PoolId,
        desired: Vec<BackendSpec>,
        additive_only: bool,
        policy: RegisterPolicy,
    ) -> ControlResult<BatchOutcome> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, |tx| {
            let target = RegisterTarget::Pool(pool_id);
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let existing = all_backends(tx, &pool.id, settings.limits.backends_per_pool).await?;
            let plan = plan_batch(&existing, &desired, additive_only, &policy, now())?;
            for b in &plan.deleted {
                tx.delete_backend(b).await?;
            }
            for b in &plan.updated {
                tx.update_backend(b).await?;
            }
            let created = if plan.created.is_empty() {
                Vec::new()
            } else {
                let req = RegisterRequest {
                    target,
                    backends: plan.created,
                    policy,
                    client_token: None,
                };
                register_in(tx, &principal, &req, &settings).await?.backends
            };
            Ok(BatchOutcome {
                created,
                updated: plan.updated,
                deleted: plan.deleted,
            })
        })
    }

    /// Empties a pool — every backend deregistered, settings applied (an
    /// Octavia pool delete: the pool itself is structural) — in one write.
    pub async fn clear_pool(
        &self,
        principal: &Principal,
        id: PoolId,
        update: PoolUpdate,
    ) -> ControlResult<Pool> {
        let principal = principal.clone();
        let limit = self.settings.limits.backends_per_pool;
        command!(self.writer, |tx| {
            let found = tx.pool(&id).await?;
            let current = principal.check(found, ResourceKind::Pool, id.as_str())?;
            let next = plan_pool_update(&current, &update, now())?;
            for b in all_backends(tx, &id, limit).await? {
                tx.delete_backend(&b).await?;
            }
            if next != current {
                tx.update_pool(&next).await?;
            }
            Ok(next)
        })
    }

    /// Applies each update to the backends its selector names in one
    /// pool, all or none.
    pub async fn update_selected(
        &self,
        principal: &Principal,
        target: RegisterTarget,
        changes: Vec<(BackendSelector, BackendUpdate)>,
        policy: RegisterPolicy,
        field: &'static str,
    ) -> ControlResult<Vec<Backend>> {
        let principal = principal.clone();
        let limit = self.settings.limits.backends_per_pool;
        command!(self.writer, |tx| {
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let before = all_backends(tx, &pool.id, limit).await?;
            let mut all = before.clone();
            let at = now();
            let mut changed_ids: Vec<BackendId> = Vec::new();
            for (selector, update) in &changes {
                let ids: Vec<BackendId> = select_backends(
                    &all,
                    std::slice::from_ref(selector),
                    WhenMissing::Fail,
                    field,
                )?
                .into_iter()
                .map(|b| b.id.clone())
                .collect();
                for id in ids {
                    let slot = all.iter_mut().find(|b| b.id == id).expect("selected");
                    *slot = plan_backend_update(slot, update, &policy, at)?;
                    if !changed_ids.contains(&id) {
                        changed_ids.push(id);
                    }
                }
            }
            let mut out = Vec::with_capacity(changed_ids.len());
            for id in changed_ids {
                let b = all.iter().find(|b| b.id == id).expect("changed").clone();
                if !before.contains(&b) {
                    tx.update_backend(&b).await?;
                }
                out.push(b);
            }
            Ok(out)
        })
    }

    /// Registers backends: planned whole, written in one transaction,
    /// idempotent under a client token.
    pub async fn register_backends(
        &self,
        principal: &Principal,
        req: RegisterRequest,
    ) -> ControlResult<RegisterOutcome> {
        if let Some(token) = &req.client_token {
            idempotency::validate_token("client_token", token)?;
        }
        let principal = principal.clone();
        let settings = self.settings.clone();
        self.writer
            .write(move |mut tx| async move {
                let result = register_in(&mut *tx, &principal, &req, &settings).await;
                (tx, result)
            })
            .await
    }

    /// Lists a pool's backends, oldest first, `page.limit` at a time.
    pub async fn list_backends(
        &self,
        principal: &Principal,
        pool_id: &PoolId,
        page: &Page,
    ) -> ControlResult<Vec<Backend>> {
        // Every other id from the wire is a lookup, which finds nothing when
        // it cannot be an id; a marker is compared, so it is refused.
        if let Some(marker) = &page.marker {
            if !weir_core::ids::well_formed(marker) {
                return Err(Error::invalid("marker", "not a backend id").into());
            }
        }
        let mut reads = self.reader().await?;
        let pool = reads.pool(pool_id).await?;
        principal.check(pool, ResourceKind::Pool, pool_id.as_str())?;
        Ok(reads.backends(pool_id, page).await?)
    }

    /// Shows one pool.
    pub async fn get_pool(&self, principal: &Principal, id: &PoolId) -> ControlResult<Pool> {
        let found = self.reader().await?.pool(id).await?;
        Ok(principal.check(found, ResourceKind::Pool, id.as_str())?)
    }

    /// Changes a pool's health check or drain timeout.
    pub async fn update_pool(
        &self,
        principal: &Principal,
        id: PoolId,
        update: PoolUpdate,
    ) -> ControlResult<Pool> {
        let principal = principal.clone();
        command!(self.writer, |tx| {
            let current = tx.pool(&id).await?;
            let current = principal.check(current, ResourceKind::Pool, id.as_str())?;
            let next = plan_pool_update(&current, &update, now())?;
            if next != current {
                tx.update_pool(&next).await?;
            }
            Ok(next)
        })
    }

    /// Shows one backend.
    pub async fn get_backend(
        &self,
        principal: &Principal,
        id: &BackendId,
    ) -> ControlResult<Backend> {
        let found = self.reader().await?.backend(id).await?;
        Ok(principal.check(found, ResourceKind::Backend, id.as_str())?)
    }

    /// Changes a backend's weight, state, backup flag or name.
    pub async fn update_backend(
        &self,
        principal: &Principal,
        id: BackendId,
        update: BackendUpdate,
        policy: RegisterPolicy,
    ) -> ControlResult<Backend> {
        let principal = principal.clone();
        command!(self.writer, |tx| {
            let current = tx.backend(&id).await?;
            let current = principal.check(current, ResourceKind::Backend, id.as_str())?;
            let mut next = plan_backend_update(&current, &update, &policy, now())?;
            if let Some(port) = update.port {
                let listener = match &current.listener_id {
                    Some(l) => tx.listener(l).await?,
                    None => None,
                };
                let same_address = tx
                    .overlapping_backends(&current.pool_id, &[current.address], &[])
                    .await?;
                let ports = plan_port_change(&current, port, listener.as_ref(), &same_address)?;
                if ports != next.ports {
                    next.ports = ports;
                    next.updated_at = now();
                }
            }
            if next != current {
                tx.update_backend(&next).await?;
            }
            Ok(next)
        })
    }

    /// Deregisters a backend.
    pub async fn delete_backend(
        &self,
        principal: &Principal,
        id: BackendId,
    ) -> ControlResult<Backend> {
        let principal = principal.clone();
        command!(self.writer, |tx| {
            let current = tx.backend(&id).await?;
            let current = principal.check(current, ResourceKind::Backend, id.as_str())?;
            tx.delete_backend(&current).await?;
            Ok(current)
        })
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
    let (pool, listener) = resolve_target(tx, principal, &req.target).await?;
    let project = pool.project_id.clone();

    // Only a request with a client token needs its fingerprint.
    let fingerprint = req.client_token.as_ref().map(|_| fingerprint(req));
    if let (Some(token), Some(fingerprint)) = (&req.client_token, &fingerprint) {
        let stored = tx
            .idempotency_record(&project, OP_REGISTER, token)
            .await?
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

    let lb = tx
        .load_balancer(&pool.lb_id)
        .await?
        .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &pool.lb_id))?;
    let vpc = tx
        .vpc(&lb.vpc_id)
        .await?
        .ok_or_else(|| Error::not_found(ResourceKind::Vpc, &lb.vpc_id))?;
    let keys = register::snapshot_keys(&req.backends);
    let instances = tx
        .instances_by_ids_or_ips(&keys.instance_ids, &keys.addresses)
        .await?;
    // Uniqueness must also see the addresses behind instance ids and the
    // instances behind addresses.
    let mut addresses = keys.addresses.clone();
    addresses.extend(instances.iter().map(|i| i.private_ip));
    let mut instance_ids = keys.instance_ids.clone();
    instance_ids.extend(instances.iter().map(|i| i.id.to_string()));
    let vips = tx.vips_among(&addresses).await?;
    let snapshot = RegisterSnapshot {
        overlapping: tx
            .overlapping_backends(&pool.id, &addresses, &instance_ids)
            .await?,
        vips,
        pool_backend_count: tx.count_backends(&pool.id).await?,
        subnets: tx.subnets_by_ids(&keys.subnet_ids).await?,
        instances,
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
