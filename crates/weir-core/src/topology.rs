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
use crate::l7::matcher::L7Table;
use crate::l7::L7Policy;
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
    /// `None`: the data plane's default (see [`crate::limits`]).
    pub max_connections: Option<u32>,
    pub idle_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub backend_timeout_ms: Option<u64>,
    /// Client networks that may connect; empty: any.
    pub allowed_cidrs: Vec<ipnet::IpNet>,
    /// The listener's ACL, compiled (the follower reads it with the
    /// listener); `None`: none named. A client must pass both.
    pub acl: Option<Arc<crate::acl::AclRule>>,
    pub forwarded_headers: ForwardedHeaders,
    /// The cookie persistence of the pool served, for the HTTP engine
    /// (HTTP listeners only; source-IP persistence is the scheduler).
    pub persistence: Option<Persistence>,
    /// The listener's L7 policies, compiled ([`crate::l7::matcher`]);
    /// `None`: none can match (HTTP listeners only).
    pub l7: Option<Arc<L7Table>>,
    /// The pools its REDIRECT_TO_POOL policies forward to, indexed by
    /// [`Route::Pool`](crate::l7::matcher::Route::Pool).
    pub l7_targets: Vec<L7Target>,
    /// HTTPS listeners: what the control plane opened of their
    /// certificates (it alone holds the secrets key; the data plane never
    /// reads the store). `None` on other listeners, and on an HTTPS one
    /// until the follower has filled it in, which the data plane refuses
    /// to serve.
    pub tls: Option<Arc<ListenerTls>>,
    /// HTTPS listeners: the versions, suites and ALPN offered.
    pub tls_options: crate::tls::TlsOptions,
    /// HTTPS listeners that verify client certificates: the opened CA
    /// bundle and CRL ([`crate::client_auth`]); `None`: clients are not
    /// asked for one. A ref that no longer resolves makes `tls`
    /// [`ListenerTls::Unavailable`], never a listener that stops verifying.
    pub client_verify: Option<Arc<crate::client_auth::ClientVerify>>,
    /// HTTP listeners: answer every request with a redirect to HTTPS on
    /// this port instead of forwarding it.
    pub redirect_https_port: Option<u16>,
    /// Its load balancer's own VIP mode (`None`: the deployment's), which
    /// says which cluster loop serves the VIP; the data plane ignores it.
    pub vip_mode: Option<crate::cluster::VipMode>,
}

/// A pool an L7 policy forwards to, with what the engine needs of it:
/// its own algorithm and cookie persistence, as for a listener's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L7Target {
    pub pool_id: PoolId,
    /// false: the pool serves nothing (disabled), requests get 503.
    pub enabled: bool,
    pub scheduler: Scheduler,
    pub persistence: Option<Persistence>,
}

/// The certificates an HTTPS listener serves, or why it cannot serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerTls {
    /// In the listener's order: the first is the default.
    Serve(Vec<CertificateMaterial>),
    /// A certificate is gone or its key does not open with this node's
    /// secrets key: the listener reports this and serves nothing, rather
    /// than serving without TLS or with fewer names.
    Unavailable(String),
}

/// One certificate's chain and opened private key (PEM), as uploaded and
/// checked by `weir-tls`.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateMaterial {
    pub id: CertificateId,
    pub chain_pem: Arc<str>,
    pub key_pem: Arc<str>,
    /// Names (a DNS name or `*.` and one) a client's SNI picks this
    /// certificate by before any certificate's own names: a domain
    /// extension's domain ([`crate::sni`]); empty for the listener's own
    /// certificates.
    pub domains: Vec<String>,
}

impl std::fmt::Debug for CertificateMaterial {
    /// Never the key: specs are logged and compared in test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateMaterial")
            .field("id", &self.id)
            .field("chain_pem_bytes", &self.chain_pem.len())
            .field("domains", &self.domains)
            .finish_non_exhaustive()
    }
}

impl ListenerSpec {
    /// How long a relayed connection (UDP: flow) may stay silent both
    /// ways: the shorter of the client's idle timeout (`default` when the
    /// listener names none) and the backend's, if named.
    pub fn relay_idle_ms(&self, default_ms: u64) -> u64 {
        let client = self.idle_timeout_ms.unwrap_or(default_ms);
        self.backend_timeout_ms
            .map_or(client, |backend| client.min(backend))
    }
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
    /// Every backend in service serves when none passes its checks
    /// ([`crate::fail_open`]).
    pub fail_open: bool,
    pub backends: BackendSet,
    /// Members dialled over TLS; `None`: in the clear.
    pub tls: Option<Arc<PoolTls>>,
}

/// A re-encrypting pool's TLS as the follower resolved it: the settings
/// and what its refs hold (CA bundle, CRLs, client certificate) read from
/// the key manager, or why they cannot be had. An unavailable pool dials
/// nothing (never in the clear, unverified or without its certificate
/// instead).
#[derive(Debug, Clone, PartialEq, Eq)]
// One per re-encrypting pool, always behind an `Arc` (`PoolSpec::tls`):
// boxing the large variant would only add an indirection.
#[allow(clippy::large_enum_variant)]
pub enum PoolTls {
    Dial {
        settings: crate::upstream_tls::UpstreamTls,
        material: crate::upstream_tls::UpstreamMaterial,
    },
    Unavailable(String),
}

/// Shards of a [`BackendSet`]: a change to one backend copies one shard in
/// the follower and diffs one shard in the data plane, about n / 64 entries
/// instead of the whole pool.
const SHARDS: usize = 64;

/// A pool's backends by id, sharded and shared copy-on-write: cloning a set
/// is 64 pointer copies, and two sets that came from one another compare and
/// diff by shard pointer first, so only the shards a change touched are read.
#[derive(Clone, Default)]
pub struct BackendSet {
    /// Empty, or `SHARDS` maps; untouched shards are shared between versions.
    shards: Vec<Arc<BTreeMap<BackendId, Arc<BackendTarget>>>>,
    len: usize,
}

/// One difference between two versions of a [`BackendSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChange<'a> {
    Added(&'a Arc<BackendTarget>),
    Changed(&'a Arc<BackendTarget>),
    Removed(&'a Arc<BackendTarget>),
}

/// The shard of an id: FNV-1a, stable across runs and platforms.
fn shard_of(id: &BackendId) -> usize {
    let hash = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % SHARDS as u64) as usize
}

impl BackendSet {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, id: &BackendId) -> Option<&Arc<BackendTarget>> {
        self.shards.get(shard_of(id))?.get(id)
    }

    /// Adds or replaces a backend; copies its shard if another version
    /// shares it.
    pub fn insert(&mut self, target: BackendTarget) {
        if self.shards.is_empty() {
            // One empty map behind every slot until a shard is written.
            self.shards = vec![Arc::default(); SHARDS];
        }
        let shard = Arc::make_mut(&mut self.shards[shard_of(&target.id)]);
        if shard.insert(target.id.clone(), Arc::new(target)).is_none() {
            self.len += 1;
        }
    }

    pub fn remove(&mut self, id: &BackendId) -> Option<Arc<BackendTarget>> {
        let slot = self.shards.get_mut(shard_of(id))?;
        if !slot.contains_key(id) {
            return None;
        }
        let removed = Arc::make_mut(slot).remove(id);
        self.len -= 1;
        removed
    }

    /// Every backend, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<BackendTarget>> {
        self.shards.iter().flat_map(|s| s.values())
    }

    /// What changed from `self` to `newer`, reading only the shards that
    /// are not shared between the two.
    pub fn diff<'a>(&'a self, newer: &'a BackendSet) -> Vec<BackendChange<'a>> {
        static EMPTY: BTreeMap<BackendId, Arc<BackendTarget>> = BTreeMap::new();
        let mut changes = Vec::new();
        for i in 0..SHARDS {
            let old = self.shards.get(i).map_or(&EMPTY, |s| &**s);
            let new = newer.shards.get(i).map_or(&EMPTY, |s| &**s);
            if std::ptr::eq(old, new) || (old.is_empty() && new.is_empty()) {
                continue;
            }
            diff_sorted(old, new, &mut changes);
        }
        changes
    }
}

/// Merges two id-sorted maps into the changes between them.
fn diff_sorted<'a>(
    old: &'a BTreeMap<BackendId, Arc<BackendTarget>>,
    new: &'a BTreeMap<BackendId, Arc<BackendTarget>>,
    changes: &mut Vec<BackendChange<'a>>,
) {
    let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => return,
            (Some((_, o)), None) => {
                changes.push(BackendChange::Removed(o));
                old.next();
            }
            (None, Some((_, n))) => {
                changes.push(BackendChange::Added(n));
                new.next();
            }
            (Some((oid, o)), Some((nid, n))) => match oid.cmp(nid) {
                std::cmp::Ordering::Less => {
                    changes.push(BackendChange::Removed(o));
                    old.next();
                }
                std::cmp::Ordering::Greater => {
                    changes.push(BackendChange::Added(n));
                    new.next();
                }
                std::cmp::Ordering::Equal => {
                    if !Arc::ptr_eq(o, n) && o != n {
                        changes.push(BackendChange::Changed(n));
                    }
                    old.next();
                    new.next();
                }
            },
        }
    }
}

impl PartialEq for BackendSet {
    /// Shard by shard, pointer first; stops at the first difference.
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len {
            return false;
        }
        if self.len == 0 {
            return true;
        }
        // Both non-empty, so both hold all `SHARDS` maps.
        self.shards
            .iter()
            .zip(&other.shards)
            .all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
    }
}

impl Eq for BackendSet {}

impl std::fmt::Debug for BackendSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<BackendTarget> for BackendSet {
    fn from_iter<I: IntoIterator<Item = BackendTarget>>(targets: I) -> Self {
        let mut set = BackendSet::default();
        for target in targets {
            set.insert(target);
        }
        set
    }
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
    /// Checked here instead of `address` / the traffic port when set.
    pub monitor_address: Option<IpAddr>,
    pub monitor_port: Option<u16>,
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
            monitor_address: b.monitor_address,
            monitor_port: b.monitor_port,
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

/// Builds the spec of one listener of `lb`. `served` is the pool whose
/// own algorithm and protocol, when it has them, the listener uses: its
/// server group when it forwards to one, else its own pool.
pub fn listener_spec(
    lb: &LoadBalancer,
    listener: &Listener,
    served: Option<&Pool>,
) -> ListenerSpec {
    let scheduler = match served {
        Some(p) if p.persistence == Some(Persistence::SourceIp) => Scheduler::Sh,
        _ => served
            .and_then(|p| p.scheduler)
            .unwrap_or(listener.scheduler),
    };
    let proxy_protocol = served
        .and_then(|p| p.protocol)
        .map_or(listener.proxy_protocol, PoolProtocol::proxy_header);
    let pools = match &listener.group_pool_id {
        // A disabled group serves nothing, as Octavia's admin-down pool.
        Some(_) if served.is_some_and(|p| !p.enabled) => Vec::new(),
        Some(group) => vec![group.clone()],
        None => vec![listener.default_pool_id.clone(), lb.default_pool_id.clone()],
    };
    ListenerSpec {
        id: listener.id.clone(),
        lb_id: lb.id.clone(),
        vip: lb.vip,
        protocol: listener.protocol,
        ports: listener.ports.clone(),
        forwarding_mode: listener.forwarding_mode,
        scheduler,
        proxy_protocol,
        backend_port: listener.backend_port,
        max_connections: listener.max_connections,
        idle_timeout_ms: listener.idle_timeout_ms,
        connect_timeout_ms: listener.connect_timeout_ms,
        backend_timeout_ms: listener.backend_timeout_ms,
        allowed_cidrs: listener.allowed_cidrs.clone(),
        acl: None,
        forwarded_headers: listener.forwarded_headers,
        persistence: served
            .and_then(|p| p.persistence.clone())
            .filter(|p| p.cookie_kind() && listener.protocol.is_http()),
        pools,
        l7: None,
        l7_targets: Vec::new(),
        tls: None,
        tls_options: listener.tls_options.clone(),
        client_verify: None,
        redirect_https_port: listener.redirect_https_port,
        vip_mode: lb.vip_mode,
    }
}

/// Adds a listener's L7 policies to its spec (compiled here, once per
/// topology change); `pools` are its load balancer's pools. `previous` is
/// the table the listener had: kept as it is when its policies did not
/// change, so a change elsewhere on the load balancer (a pool, a
/// listener, a neighbour's policy) recompiles no regex.
pub fn with_l7(
    mut spec: ListenerSpec,
    listener: &Listener,
    policies: &[L7Policy],
    pools: &[Pool],
    previous: Option<&Arc<L7Table>>,
) -> ListenerSpec {
    if !listener.protocol.is_http() || policies.is_empty() {
        return spec;
    }
    let mut targets: Vec<L7Target> = Vec::new();
    let table = compile_or_keep(policies, previous, |pool_id| {
        if let Some(i) = targets.iter().position(|t| &t.pool_id == pool_id) {
            return i;
        }
        let pool = pools.iter().find(|p| &p.id == pool_id);
        let scheduler = match pool {
            Some(p) if p.persistence == Some(Persistence::SourceIp) => Scheduler::Sh,
            _ => pool.and_then(|p| p.scheduler).unwrap_or(listener.scheduler),
        };
        targets.push(L7Target {
            pool_id: pool_id.clone(),
            // A pool gone meanwhile serves nothing, like a disabled one.
            enabled: pool.is_some_and(|p| p.enabled),
            scheduler,
            persistence: pool
                .and_then(|p| p.persistence.clone())
                .filter(Persistence::cookie_kind),
        });
        targets.len() - 1
    });
    spec.l7 = table;
    spec.l7_targets = targets;
    spec
}

/// [`with_l7`]'s compile, skipped when `previous` was compiled from the
/// same policies; the targets are still named through `target`, in the
/// same order as a compile names them (policies by evaluation order), so
/// their indices match the kept table's.
fn compile_or_keep(
    policies: &[L7Policy],
    previous: Option<&Arc<L7Table>>,
    mut target: impl FnMut(&PoolId) -> usize,
) -> Option<Arc<L7Table>> {
    match previous {
        Some(table) if table.source() == policies => {
            for pool in table.target_order() {
                target(pool);
            }
            Some(table.clone())
        }
        _ => L7Table::compile(policies, target).map(Arc::new),
    }
}

/// The pool [`listener_spec`] takes a listener's algorithm and protocol
/// from.
pub fn served_pool_id(listener: &Listener) -> &PoolId {
    listener
        .group_pool_id
        .as_ref()
        .unwrap_or(&listener.default_pool_id)
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
            monitor_address: None,
            monitor_port: None,
        };
        assert_eq!(target(BackendPorts::Inherit).port_for(8080), 8080);
        assert_eq!(target(BackendPorts::One(81)).port_for(8080), 81);
        assert_eq!(target(BackendPorts::List(vec![90, 91])).port_for(8080), 90);
    }

    fn backend(id: &str, weight: u16) -> BackendTarget {
        BackendTarget {
            id: id.into(),
            address: "10.0.0.1".parse().unwrap(),
            ports: BackendPorts::One(80),
            weight,
            enabled: true,
            backup: false,
            monitor_address: None,
            monitor_port: None,
        }
    }

    #[test]
    fn the_served_pool_decides_algorithm_protocol_and_state() {
        let lb = LoadBalancer {
            id: "lb".into(),
            project_id: "p".into(),
            name: "lb".into(),
            subnet_id: "s".into(),
            vpc_id: "v".into(),
            vip: "10.0.0.5".parse().unwrap(),
            status: LbStatus::Running,
            default_pool_id: "lb-wide".into(),
            description: String::new(),
            created_at: crate::Timestamp(0),
            updated_at: crate::Timestamp(0),
            tags: Vec::new(),
            flavor_id: None,
            vip_mode: None,
        };
        let listener = Listener {
            id: "l".into(),
            project_id: "p".into(),
            lb_id: "lb".into(),
            name: "l".into(),
            protocol: Protocol::Tcp,
            ports: ListenerPorts::Single(80),
            forwarding_mode: ForwardingMode::Proxy,
            scheduler: Scheduler::Wrr,
            proxy_protocol: ProxyProtocol::None,
            backend_port: None,
            group_pool_id: Some("g".into()),
            enabled: true,
            max_connections: None,
            idle_timeout_ms: None,
            connect_timeout_ms: None,
            backend_timeout_ms: None,
            inspect_timeout_ms: None,
            allowed_cidrs: Vec::new(),
            acl: None,
            forwarded_headers: ForwardedHeaders::default(),
            certificate_ids: Vec::new(),
            tls_refs: Vec::new(),
            tls_options: Default::default(),
            client_auth: Default::default(),
            domain_extensions: Vec::new(),
            redirect_https_port: None,
            default_pool_id: "own".into(),
            description: String::new(),
            created_at: crate::Timestamp(0),
            updated_at: crate::Timestamp(0),
            tags: Vec::new(),
        };
        let mut group = Pool::new(
            "g".into(),
            (&lb.project_id, &lb.id),
            None,
            "g".into(),
            crate::Timestamp(0),
        );
        let spec = listener_spec(&lb, &listener, Some(&group));
        assert_eq!(
            (spec.scheduler, spec.proxy_protocol),
            (Scheduler::Wrr, ProxyProtocol::None)
        );
        assert_eq!(spec.pools, vec![PoolId::from("g")]);
        group.scheduler = Some(Scheduler::Lc);
        group.protocol = Some(PoolProtocol::ProxyV2);
        let spec = listener_spec(&lb, &listener, Some(&group));
        assert_eq!(
            (spec.scheduler, spec.proxy_protocol),
            (Scheduler::Lc, ProxyProtocol::V2)
        );
        // Source-IP persistence hashes, whatever the algorithm.
        group.persistence = Some(Persistence::SourceIp);
        assert_eq!(
            listener_spec(&lb, &listener, Some(&group)).scheduler,
            Scheduler::Sh
        );
        assert_eq!(
            listener_spec(&lb, &listener, Some(&group)).persistence,
            None
        );
        // Cookie persistence reaches an HTTP listener's engine, and only
        // an HTTP listener's.
        group.persistence = Some(Persistence::HttpCookie);
        assert_eq!(
            listener_spec(&lb, &listener, Some(&group)).persistence,
            None
        );
        let http = Listener {
            protocol: Protocol::Http,
            ..listener.clone()
        };
        assert_eq!(
            listener_spec(&lb, &http, Some(&group)).persistence,
            Some(Persistence::HttpCookie)
        );
        group.enabled = false;
        assert!(listener_spec(&lb, &listener, Some(&group)).pools.is_empty());
        // Without a group: its own pool, then the LB-wide pool.
        let own = Listener {
            group_pool_id: None,
            ..listener
        };
        assert_eq!(
            listener_spec(&lb, &own, None).pools,
            vec![PoolId::from("own"), PoolId::from("lb-wide")]
        );
    }

    #[test]
    fn a_change_copies_and_diffs_only_its_shard() {
        let before: BackendSet = (0..1000).map(|i| backend(&format!("b{i}"), 1)).collect();
        let mut after = before.clone();
        after.insert(backend("b7", 5));
        after.remove(&"b8".into());
        after.insert(backend("new", 1));
        let shared = (0..SHARDS)
            .filter(|&i| Arc::ptr_eq(&before.shards[i], &after.shards[i]))
            .count();
        assert!(
            shared >= SHARDS - 3,
            "only touched shards are copied: {shared} shared"
        );
        let mut changes: Vec<(String, &str)> = before
            .diff(&after)
            .into_iter()
            .map(|c| match c {
                BackendChange::Added(t) => (t.id.to_string(), "added"),
                BackendChange::Changed(t) => (t.id.to_string(), "changed"),
                BackendChange::Removed(t) => (t.id.to_string(), "removed"),
            })
            .collect();
        changes.sort();
        assert_eq!(
            changes,
            [
                ("b7".into(), "changed"),
                ("b8".into(), "removed"),
                ("new".into(), "added")
            ]
        );
        assert_eq!((before.len(), after.len()), (1000, 1000));
        assert_ne!(before, after);
        assert_eq!(after.get(&"b7".into()).map(|t| t.weight), Some(5));
    }

    #[test]
    fn equal_contents_compare_equal_whatever_their_history() {
        let a: BackendSet = [backend("x", 1), backend("y", 2)].into_iter().collect();
        let mut b: BackendSet = [backend("y", 2)].into_iter().collect();
        b.insert(backend("z", 1));
        assert_ne!(a, b);
        b.remove(&"z".into());
        b.insert(backend("x", 1));
        assert_eq!(a, b);
        assert!(a.diff(&b).is_empty());
        assert!(BackendSet::default()
            .diff(&BackendSet::default())
            .is_empty());
        assert_eq!(
            BackendSet::default().diff(&a).len(),
            2,
            "startup diffs from empty"
        );
        assert!(b.remove(&"absent".into()).is_none());
        assert_eq!(b.len(), 2);
    }

    proptest::proptest! {
        /// Against a plain map: applying the diff between two versions to
        /// the older one's contents gives the newer one's, and equality
        /// agrees with the contents.
        #[test]
        fn diffs_replay_to_the_newer_version(
            ops in proptest::collection::vec((0u8..40, 0u16..3, proptest::bool::ANY), 0..120),
            split in 0usize..120,
        ) {
            let mut set = BackendSet::default();
            let mut model = BTreeMap::new();
            let mut older = (BackendSet::default(), BTreeMap::new());
            for (i, (id, weight, insert)) in ops.iter().enumerate() {
                if i == split {
                    older = (set.clone(), model.clone());
                }
                let id = format!("b{id}");
                if *insert {
                    set.insert(backend(&id, *weight));
                    model.insert(id, *weight);
                } else {
                    proptest::prop_assert_eq!(set.remove(&id.as_str().into()).is_some(), model.remove(&id).is_some());
                }
            }
            let (old_set, mut replayed) = older;
            for change in old_set.diff(&set) {
                match change {
                    BackendChange::Added(t) | BackendChange::Changed(t) => {
                        replayed.insert(t.id.to_string(), t.weight);
                    }
                    BackendChange::Removed(t) => {
                        replayed.remove(t.id.as_str());
                    }
                }
            }
            proptest::prop_assert_eq!(&replayed, &model);
            proptest::prop_assert_eq!(set.len(), model.len());
            let contents: BTreeMap<String, u16> = set.iter().map(|t| (t.id.to_string(), t.weight)).collect();
            proptest::prop_assert_eq!(&contents, &model);
            let rebuilt: BackendSet = model.iter().map(|(id, w)| backend(id, *w)).collect();
            proptest::prop_assert_eq!(&rebuilt, &set);
        }
    }
}
