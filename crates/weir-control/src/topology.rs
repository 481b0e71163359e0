//! Follows the change log and keeps the data plane's [`Topology`] current.
//!
//! Startup loads every running load balancer once; after that each wake-up
//! reads the change-log rows since the last applied revision and reloads
//! only what they name: a load balancer's listeners when it or one of its
//! listeners changed, a pool's settings when the pool changed, and single
//! backends by id. Bursts coalesce: one wake-up applies every row that
//! arrived meanwhile. Unchanged listeners and pools keep their `Arc`s, so
//! the data plane can skip them by pointer.
//!
//! HTTPS listeners get their certificates' chains and opened keys in
//! their specs ([`ListenerTls`]): the follower reads them with the
//! listener and opens each key with the deployment's [`SecretCell`], so
//! the data plane never reads the store nor holds the secrets key. A
//! certificate that is gone or whose key does not open makes the spec
//! say so, and the data plane serves nothing on that listener. Listeners
//! serving from the key manager (Octavia's TERMINATED_HTTPS) get their
//! secrets opened and read into a chain and key the same way
//! ([`crate::keymaterial`]).
//!
//! The change log is compacted (`StoreTx::compact`): a follower that finds
//! its revision below the compacted horizon may have missed rows, so it
//! loads everything again, as at startup. The horizon is read after the
//! rows, so a compaction that commits in between is noticed too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use weir_core::acl::{Acl, AclRule};
use weir_core::ids::*;
use weir_core::l7::matcher::L7Table;
use weir_core::l7::L7Policy;
use weir_core::model::{LbStatus, Listener, Pool, Protocol};
use weir_core::topology::{
    listener_spec, served_pool_id, with_l7, BackendSet, BackendTarget, CertificateMaterial,
    ListenerTls, PoolSpec, PoolTls, Topology,
};
use weir_store::{Page, Reads, Store, StoreResult};

use crate::secrets::{SecretBox, SecretCell};

/// Rows read per change-log query.
const CHANGES_PER_READ: usize = 10_000;
/// A safety net: poll the log this often even without a revision signal.
const POLL: Duration = Duration::from_secs(1);

/// The follower's working state: pools with their backends by id.
struct Follower {
    topology: Topology,
    /// Shared copy-on-write with the published topology: a change copies
    /// one shard of its pool, not the pool.
    backends: HashMap<PoolId, BackendSet>,
    pools: HashMap<PoolId, Pool>,
    /// Re-encrypting pools' TLS, resolved when the pool is (re)loaded.
    pool_tls: HashMap<PoolId, Arc<PoolTls>>,
    /// Opens HTTPS listeners' private keys.
    secrets: Arc<SecretCell>,
}

/// What an HTTPS listener serves: every certificate it names, opened, or
/// why not (the first failure).
async fn listener_tls(
    reads: &mut dyn Reads,
    secrets: &SecretBox,
    listener: &Listener,
) -> StoreResult<ListenerTls> {
    let mut served = Vec::with_capacity(
        listener.certificate_ids.len() + listener.tls_refs.len() + listener.domain_extensions.len(),
    );
    let now = weir_core::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    );
    for r in &listener.tls_refs {
        let pem = match crate::keymaterial::tls_ref_material(
            reads,
            secrets,
            &listener.project_id,
            r,
            now,
        )
        .await?
        {
            Ok(pem) => pem,
            Err(why) => {
                return Ok(ListenerTls::Unavailable(format!(
                    "{} cannot be served: {why}",
                    r.href
                )))
            }
        };
        let id = r.target.id();
        served.push(CertificateMaterial {
            id: CertificateId::new(id),
            chain_pem: pem.chain.into(),
            key_pem: pem.key.into(),
            domains: Vec::new(),
        });
    }
    // The listener's own certificates, then each domain extension's, with
    // the domain its SNI entry takes first.
    let wanted = listener.certificate_ids.iter().map(|id| (id, None)).chain(
        listener
            .domain_extensions
            .iter()
            .map(|d| (&d.certificate_id, Some(d.domain.clone()))),
    );
    for (id, domain) in wanted {
        let Some((chain, sealed)) = reads.certificate_material(id).await? else {
            return Ok(ListenerTls::Unavailable(format!(
                "certificate {id} is gone"
            )));
        };
        let Some(key) = secrets
            .open(&sealed, id.as_str())
            .and_then(|k| String::from_utf8(k).ok())
        else {
            tracing::error!(listener = %listener.id, certificate = %id,
                "a sealed private key does not open with this node's secrets key");
            return Ok(ListenerTls::Unavailable(format!(
                "the private key of certificate {id} does not open with this node's secrets key"
            )));
        };
        served.push(CertificateMaterial {
            id: id.clone(),
            chain_pem: chain.into(),
            key_pem: key.into(),
            domains: domain.into_iter().collect(),
        });
    }
    Ok(ListenerTls::Serve(served))
}

/// A re-encrypting pool's TLS: its settings and what its refs hold, or
/// why they cannot be had (the pool then dials nothing).
async fn pool_tls(reads: &mut dyn Reads, secrets: &SecretBox, pool: &Pool) -> StoreResult<PoolTls> {
    let Some(settings) = pool.upstream_tls.clone() else {
        return Ok(PoolTls::Unavailable("the pool does not re-encrypt".into()));
    };
    match crate::keymaterial::pool_tls_material(reads, secrets, &pool.project_id, &settings, now())
        .await?
    {
        Ok(material) => Ok(PoolTls::Dial { settings, material }),
        Err((field, why)) => Ok(PoolTls::Unavailable(format!(
            "{field} cannot be used: {why}"
        ))),
    }
}

/// Now, for expiry checks of key-manager secrets.
fn now() -> weir_core::Timestamp {
    weir_core::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    )
}

impl Follower {
    fn new(secrets: Arc<SecretCell>) -> Self {
        Self {
            topology: Topology::default(),
            backends: HashMap::new(),
            pools: HashMap::new(),
            pool_tls: HashMap::new(),
            secrets,
        }
    }

    /// (Re)loads a load balancer: its listeners, and for new pools their
    /// backends. A load balancer that is gone or not RUNNING disappears from
    /// the topology.
    async fn load_lb(&mut self, reads: &mut dyn Reads, lb_id: &LoadBalancerId) -> StoreResult<()> {
        let lb = reads
            .load_balancer(lb_id)
            .await?
            .filter(|lb| lb.status == LbStatus::Running);
        // Compiled L7 tables are kept for listeners whose policies did
        // not change (`with_l7`).
        let previous: HashMap<ListenerId, Arc<L7Table>> = self
            .topology
            .listeners
            .iter()
            .filter(|(_, l)| &l.lb_id == lb_id)
            .filter_map(|(id, l)| Some((id.clone(), l.l7.clone()?)))
            .collect();
        self.topology.listeners.retain(|_, l| &l.lb_id != lb_id);
        let Some(lb) = lb else {
            self.topology.pools.retain(|_, p| &p.lb_id != lb_id);
            self.pools.retain(|_, p| &p.lb_id != lb_id);
            self.backends.retain(|id, _| self.pools.contains_key(id));
            return Ok(());
        };
        let pools = reads.pools_of(lb_id).await?;
        let policies = reads.l7_policies_of_lb(lb_id).await?;
        // A stopped listener stays configured but is not served.
        for listener in reads
            .listeners_of(lb_id)
            .await?
            .into_iter()
            .filter(|l| l.enabled)
        {
            let served = pools.iter().find(|p| &p.id == served_pool_id(&listener));
            let own: Vec<L7Policy> = policies
                .iter()
                .filter(|p| p.listener_id == listener.id)
                .cloned()
                .collect();
            let mut spec = listener_spec(&lb, &listener, served);
            // A list named but switched off admits everyone.
            if let Some(named) = listener.acl.as_ref().filter(|a| a.enabled) {
                // Gone (never while named: deleting one in use is
                // refused): an allow list of nothing, a deny list of
                // nothing, as the mode says.
                let acl = reads.acl(&named.acl_id).await?.unwrap_or_else(|| Acl {
                    id: named.acl_id.clone(),
                    project_id: listener.project_id.clone(),
                    name: String::new(),
                    ip_version: weir_core::acl::IpVersion::V4,
                    entries: Vec::new(),
                    created_at: listener.created_at,
                    updated_at: listener.created_at,
                });
                spec.acl = Some(Arc::new(AclRule::compile(&acl, named.mode)));
            }
            if listener.protocol == Protocol::Https {
                let secrets = self.secrets.get();
                let mut tls = listener_tls(reads, &secrets, &listener).await?;
                // A CA or CRL that no longer resolves serves nothing,
                // never a listener that stops verifying its clients.
                match crate::keymaterial::client_verify_material(reads, &secrets, &listener, now())
                    .await?
                {
                    Ok(verify) => spec.client_verify = verify.map(Arc::new),
                    Err((field, why)) => {
                        tls = ListenerTls::Unavailable(format!("{field}: {why}"));
                    }
                }
                spec.tls = Some(Arc::new(tls));
            }
            let kept = previous.get(&listener.id);
            let spec = Arc::new(with_l7(spec, &listener, &own, &pools, kept));
            self.topology.listeners.insert(listener.id.clone(), spec);
        }
        // Pools that went with a listener or a server group go here too,
        // or their checks would run on.
        let present: BTreeSet<PoolId> = pools.iter().map(|p| p.id.clone()).collect();
        self.pools
            .retain(|id, p| &p.lb_id != lb_id || present.contains(id));
        let known = &self.pools;
        self.backends.retain(|id, _| known.contains_key(id));
        for pool in pools {
            if !self.pools.contains_key(&pool.id) {
                let all = Page {
                    marker: None,
                    limit: usize::MAX,
                };
                let backends = reads.backends(&pool.id, &all).await?;
                self.backends.insert(
                    pool.id.clone(),
                    backends.iter().map(BackendTarget::from).collect(),
                );
            }
            self.set_pool(reads, pool).await?;
        }
        Ok(())
    }

    /// Keeps `pool` with its TLS resolved ([`pool_tls`]).
    async fn set_pool(&mut self, reads: &mut dyn Reads, pool: Pool) -> StoreResult<()> {
        match &pool.upstream_tls {
            Some(_) => {
                let secrets = self.secrets.get();
                let tls = pool_tls(reads, &secrets, &pool).await?;
                self.pool_tls.insert(pool.id.clone(), Arc::new(tls));
            }
            None => {
                self.pool_tls.remove(&pool.id);
            }
        }
        self.pools.insert(pool.id.clone(), pool);
        Ok(())
    }

    /// Rebuilds the published spec of one pool.
    fn publish_pool(&mut self, pool_id: &PoolId) {
        match (self.pools.get(pool_id), self.backends.get(pool_id)) {
            (Some(pool), Some(backends)) => {
                let spec = PoolSpec {
                    id: pool.id.clone(),
                    lb_id: pool.lb_id.clone(),
                    // A kept but disabled check does not run.
                    health_check: pool.health_check.clone().filter(|_| pool.monitor_enabled),
                    drain_timeout_ms: pool.drain_timeout_ms,
                    slow_start_ms: pool.slow_start_ms,
                    fail_open: pool.fail_open,
                    backends: backends.clone(),
                    tls: self.pool_tls.get(pool_id).cloned(),
                };
                self.topology.pools.insert(pool_id.clone(), Arc::new(spec));
            }
            _ => {
                self.topology.pools.remove(pool_id);
            }
        }
    }

    /// Everything, as of the store's latest revision.
    async fn load_all(reads: &mut dyn Reads, secrets: Arc<SecretCell>) -> StoreResult<Self> {
        let mut follower = Follower::new(secrets);
        // Read first: a change committed during the load is applied again
        // by the next catch-up, which is harmless.
        let revision = reads.revision().await?;
        for lb in reads.load_balancers(None).await? {
            follower.load_lb(reads, &lb.id).await?;
        }
        let ids: Vec<PoolId> = follower.pools.keys().cloned().collect();
        for id in &ids {
            follower.publish_pool(id);
        }
        follower.topology.revision = revision;
        Ok(follower)
    }

    /// Applies every change after the current revision; reloads
    /// everything when the rows it needs were compacted away. Compaction
    /// past the follower shows as a gap in the revisions it reads (the
    /// log keeps its latest rows), so only a gap costs the read of the
    /// horizon; gaps also come from rolled-back writes, which burn
    /// revisions.
    async fn catch_up(&mut self, reads: &mut dyn Reads) -> StoreResult<bool> {
        let before = self.topology.revision;
        let (applied, gap) = self.apply_changes(reads).await?;
        if gap && reads.compacted_through().await? > before {
            tracing::info!(
                revision = before,
                "the change log was compacted past this follower; reloading everything"
            );
            *self = Self::load_all(reads, self.secrets.clone()).await?;
            return Ok(true);
        }
        Ok(applied)
    }

    /// Applies the change-log rows after the current revision; whether
    /// any were, and whether their revisions had a gap.
    async fn apply_changes(&mut self, reads: &mut dyn Reads) -> StoreResult<(bool, bool)> {
        let mut lbs = BTreeSet::new();
        let mut pools = BTreeSet::new();
        let mut backends: BTreeMap<PoolId, BTreeSet<String>> = BTreeMap::new();
        let mut revision = self.topology.revision;
        let mut gap = false;
        loop {
            let changes = reads.changes_since(revision, CHANGES_PER_READ).await?;
            let (Some(first), Some(last)) = (changes.first(), changes.last()) else {
                break;
            };
            gap |= first.revision != revision + 1;
            let whole_page = changes.len() == CHANGES_PER_READ;
            revision = last.revision;
            for c in &changes {
                match (c.entity.as_str(), &c.lb_id, &c.pool_id) {
                    // An L7 change recompiles its listener's spec.
                    ("load_balancer" | "listener" | "l7policy" | "l7rule", Some(lb), _) => {
                        lbs.insert(lb.clone());
                    }
                    // A pool's algorithm, protocol and state shape the specs
                    // of the listeners it serves, and a server group
                    // appearing or going changes the set of pools: its load
                    // balancer is reloaded. (Pool changes are rare; backend
                    // changes, the frequent ones, touch only their pool.)
                    ("pool", lb, pool) => {
                        if let Some(lb) = lb {
                            lbs.insert(lb.clone());
                        }
                        if let (Some(pool), "update") = (pool, c.op.as_str()) {
                            pools.insert(pool.clone());
                        }
                    }
                    ("backend", _, Some(pool)) => {
                        backends
                            .entry(pool.clone())
                            .or_default()
                            .insert(c.entity_id.clone());
                    }
                    _ => {}
                }
            }
            // A short page was the end of the log: no read to learn so.
            if !whole_page {
                break;
            }
        }
        if revision == self.topology.revision {
            return Ok((false, gap));
        }
        for lb in &lbs {
            self.load_lb(reads, lb).await?;
        }
        for pool_id in &pools {
            if self.pools.contains_key(pool_id) {
                match reads.pool(pool_id).await? {
                    Some(pool) => {
                        self.set_pool(reads, pool).await?;
                    }
                    None => {
                        self.pools.remove(pool_id);
                    }
                }
            }
        }
        for (pool_id, ids) in &backends {
            let Some(current) = self.backends.get_mut(pool_id) else {
                continue;
            };
            let ids: Vec<String> = ids.iter().cloned().collect();
            let found = reads.backends_by_ids(&ids).await?;
            for id in &ids {
                current.remove(&BackendId::new(id.clone()));
            }
            for b in found.iter().filter(|b| &b.pool_id == pool_id) {
                current.insert(BackendTarget::from(b));
            }
        }
        let touched: BTreeSet<PoolId> = pools
            .into_iter()
            .chain(backends.into_keys())
            .chain(
                self.pools
                    .keys()
                    .filter(|id| !self.topology.pools.contains_key(*id))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
            .collect();
        for pool_id in &touched {
            self.publish_pool(pool_id);
        }
        let known = &self.pools;
        self.topology.pools.retain(|id, _| known.contains_key(id));
        self.pool_tls.retain(|id, _| known.contains_key(id));
        self.topology.revision = revision;
        Ok((true, gap))
    }
}

/// Starts the follower; the receiver always holds the latest topology.
pub(crate) async fn spawn(
    store: Arc<dyn Store>,
    mut revisions: watch::Receiver<u64>,
    secrets: Arc<SecretCell>,
) -> StoreResult<watch::Receiver<Arc<Topology>>> {
    let mut follower = Follower::load_all(&mut *store.read().await?, secrets.clone()).await?;
    let (tx, rx) = watch::channel(Arc::new(follower.topology.clone()));
    // This process's commits wake the follower through the writer; other
    // nodes' (a shared store) through the store's signal; the poll is the
    // safety net for both.
    let foreign = store.foreign_commits();
    let poll = foreign.as_ref().map_or(POLL, |f| f.poll);
    tokio::spawn(async move {
        let mut writer_alive = true;
        let mut reload = false;
        loop {
            let foreign_commit = async {
                match &foreign {
                    Some(f) => f.signal.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = revisions.changed(), if writer_alive => {
                    // The writer is gone: from now on only the poll and
                    // the signal wake the follower.
                    writer_alive = changed.is_ok();
                }
                () = foreign_commit => {}
                () = tokio::time::sleep(poll) => {}
                () = secrets.changed.notified() => {
                    // Keys opened with the old box are reopened: all of
                    // them, as at startup.
                    reload = true;
                }
            }
            let applied = match store.read().await {
                Ok(mut reads) if std::mem::take(&mut reload) => {
                    Follower::load_all(&mut *reads, secrets.clone())
                        .await
                        .map(|fresh| {
                            follower = fresh;
                            true
                        })
                }
                Ok(mut reads) => follower.catch_up(&mut *reads).await,
                Err(e) => Err(e),
            };
            match applied {
                Ok(true) => {
                    tx.send_replace(Arc::new(follower.topology.clone()));
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "topology follower could not read the change log")
                }
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use weir_core::inventory::{NewSubnet, NewVpc};
    use weir_core::loadbalancer::{NewListener, NewLoadBalancer};
    use weir_core::register::{BackendSpec, RegisterPolicy};
    use weir_core::settings::Settings;
    use weir_store::sqlite::{Durability, SqliteStore};

    use super::*;
    use crate::{Control, Principal, RegisterRequest, RegisterTarget, Retention};

    fn listener(name: &str, port: u32) -> NewListener {
        NewListener {
            name: name.into(),
            protocol: "tcp".into(),
            port: Some(port),
            ..Default::default()
        }
    }

    /// A follower that fell behind while the change log was compacted past
    /// its revision (a node down for long) must not apply only the rows
    /// that are left: it reloads everything and ends up where a fresh one
    /// would.
    #[tokio::test]
    async fn a_follower_behind_the_compacted_horizon_reloads_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
                .await
                .unwrap(),
        );
        let control = Control::start(store.clone(), Settings::default(), "admin".into())
            .await
            .unwrap();
        let admin = Principal::Admin;
        let project = control
            .create_project(&admin, "p".into())
            .await
            .unwrap()
            .project;
        let vpc = control
            .create_vpc(
                &admin,
                project.id.clone(),
                NewVpc {
                    name: "v".into(),
                    cidr: "10.0.0.0/16".into(),
                    has_border_gateway: false,
                    shared: false,
                },
            )
            .await
            .unwrap();
        let subnet = control
            .create_subnet(
                &admin,
                vpc.id.clone(),
                NewSubnet {
                    name: "s".into(),
                    cidr: "10.0.1.0/24".into(),
                },
            )
            .await
            .unwrap();
        let tenant = Principal::Project(project.id.clone());
        let lb = control
            .create_load_balancer(
                &tenant,
                subnet.id.clone(),
                NewLoadBalancer {
                    name: "lb".into(),
                    vip: None,
                    vpc_id: None,
                    stopped: false,
                    description: None,
                    tags: Vec::new(),
                    flavor_id: None,
                    vip_mode: None,
                },
            )
            .await
            .unwrap();
        let first = control
            .create_listener(&tenant, lb.id.clone(), listener("a", 80))
            .await
            .unwrap();

        // The stalled follower stops here.
        let secrets = Arc::new(SecretCell::new(SecretBox::ephemeral()));
        let mut behind = Follower::load_all(&mut *store.read().await.unwrap(), secrets.clone())
            .await
            .unwrap();
        assert!(behind.topology.listeners.contains_key(&first.id));

        let second = control
            .create_listener(&tenant, lb.id.clone(), listener("b", 81))
            .await
            .unwrap();
        control
            .register_backends(
                &tenant,
                RegisterRequest {
                    target: RegisterTarget::Listener(first.id.clone()),
                    backends: (1..=3)
                        .map(|i| BackendSpec {
                            address: Some(format!("10.0.1.{i}")),
                            ..Default::default()
                        })
                        .collect(),
                    policy: RegisterPolicy::native(),
                    client_token: None,
                },
            )
            .await
            .unwrap();
        let keep_one = Retention {
            change_log_keep: 1,
            ..Retention::default()
        };
        let done = control
            .compact_now(keep_one, weir_core::Timestamp(0))
            .await
            .unwrap();
        assert!(done.change_log_rows > 0);

        let mut reads = store.read().await.unwrap();
        assert!(behind.catch_up(&mut *reads).await.unwrap());
        let fresh = Follower::load_all(&mut *reads, secrets).await.unwrap();
        assert!(behind.topology.listeners.contains_key(&second.id));
        assert_eq!(
            behind.topology.pools[&first.default_pool_id].backends.len(),
            3
        );
        assert_eq!(behind.topology, fresh.topology);
    }
}
