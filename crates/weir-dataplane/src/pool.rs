//! Pools at run time: backends with their live state, and the immutable
//! selection snapshot the connection path reads without locks.
//!
//! State that must survive configuration changes (connection counts, health,
//! the round-robin position) lives in [`BackendRuntime`] and [`PoolRuntime`],
//! keyed by backend id; a [`Snapshot`] is rebuilt from it on every change of
//! configuration or eligibility and swapped in with `arc-swap`. Locks are
//! taken only on those transitions, never when a connection picks a backend.
//! `backend`: one backend's run-time state and its connection slot;
//! `tier`: the selection tiers of a snapshot.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use weir_core::fail_open::Candidate;
use weir_core::ids::BackendId;
use weir_core::model::Scheduler;
use weir_core::status::BackendState;
use weir_core::topology::{BackendChange, BackendSet, PoolSpec};
use weir_core::watch::{LiveEvent, LiveState, LiveSubject};

mod backend;
mod tier;

use crate::egress::Egress;
use crate::events::LiveEvents;
use crate::health::{Tracker, Verdict};
use crate::upstream_tls::Dialer;
pub(crate) use backend::lock;
use backend::*;
pub use backend::{BackendRuntime, ConnGuard, Ejection, PassiveFailure, MAX_EJECTION_FACTOR};
pub use tier::Sticky;
use tier::Tier;

/// What the connection path reads: eligible primaries and backups.
#[derive(Default)]
pub struct Snapshot {
    primary: Tier,
    backup: Tier,
}

/// Backends of all pools by id (a backend belongs to one pool).
pub type Registry = Arc<Mutex<HashMap<BackendId, Arc<BackendRuntime>>>>;

/// A pool at run time.
pub struct PoolRuntime {
    spec: Mutex<Arc<PoolSpec>>,
    /// By id, so a rebuild walks them in a stable order without sorting.
    backends: Mutex<BTreeMap<BackendId, Arc<BackendRuntime>>>,
    checks: Mutex<HashMap<BackendId, JoinHandle<()>>>,
    snapshot: ArcSwap<Snapshot>,
    /// How members are dialled (in the clear or over TLS), built once per
    /// configuration of the pool's TLS.
    dialer: ArcSwap<Dialer>,
    /// Serialises rebuilds: two transitions rebuilding at once could
    /// otherwise store their snapshots out of order, the older one last.
    rebuilding: Mutex<()>,
    /// The round-robin position, kept across snapshots so a change does not
    /// restart the rotation.
    counter: AtomicUsize,
    /// Whether a listener using this pool hashes by source (builds Maglev).
    pub wants_hash: AtomicBool,
    /// The listener port that inheriting backends are checked on.
    pub default_port: AtomicU16,
    /// Whether a rebuild is already scheduled to move slow starts along.
    ramp_tick: AtomicBool,
    /// Whether the last rebuild failed open (every backend down, all
    /// serving): logged on each change, not on every rebuild.
    failing_open: AtomicBool,
    egress: Egress,
    ejection: Ejection,
    /// Every backend of every pool by id, for the API's live view.
    registry: Registry,
    /// Where backends' live transitions go.
    events: LiveEvents,
    /// Weak self, for the tasks this pool spawns.
    me: std::sync::Weak<PoolRuntime>,
}

impl PoolRuntime {
    pub fn new(
        spec: Arc<PoolSpec>,
        egress: Egress,
        ejection: Ejection,
        registry: Registry,
        events: LiveEvents,
    ) -> Arc<Self> {
        let pool = Arc::new_cyclic(|me| Self {
            spec: Mutex::new(Arc::new(PoolSpec {
                backends: BackendSet::default(),
                ..(*spec).clone()
            })),
            backends: Mutex::default(),
            checks: Mutex::default(),
            snapshot: ArcSwap::default(),
            dialer: ArcSwap::from_pointee(Dialer::new(spec.tls.as_deref())),
            rebuilding: Mutex::new(()),
            counter: AtomicUsize::new(0),
            wants_hash: AtomicBool::new(false),
            default_port: AtomicU16::new(0),
            ramp_tick: AtomicBool::new(false),
            failing_open: AtomicBool::new(false),
            egress,
            ejection,
            registry,
            events,
            me: me.clone(),
        });
        // Backends present when the pool starts do not slow-start.
        pool.apply_as(spec, true);
        pool
    }

    pub fn default_port(&self) -> u16 {
        self.default_port.load(Ordering::Relaxed)
    }

    /// How members are dialled now.
    pub fn dialer(&self) -> Arc<Dialer> {
        self.dialer.load_full()
    }

    /// Picks a backend for a new connection: primaries first, backups only
    /// when no primary is eligible; `exclude` holds backends that already
    /// failed for this connection.
    pub fn pick(
        &self,
        scheduler: Scheduler,
        client: SocketAddr,
        exclude: &[BackendId],
    ) -> Option<Arc<BackendRuntime>> {
        let snap = self.snapshot.load();
        snap.primary
            .pick(scheduler, client, &self.counter, exclude)
            .or_else(|| snap.backup.pick(scheduler, client, &self.counter, exclude))
    }

    /// [`Self::pick`], but the backend `sticky` names (or hashes to) first
    /// when it is eligible and not excluded. Primaries come first as
    /// ever: a key naming a backup is honoured only while no primary is.
    pub fn pick_sticky(
        &self,
        scheduler: Scheduler,
        client: SocketAddr,
        sticky: Sticky,
        exclude: &[BackendId],
    ) -> Option<Arc<BackendRuntime>> {
        let snap = self.snapshot.load();
        let tier = |t: &Tier| {
            t.sticky(sticky, exclude)
                .or_else(|| t.pick(scheduler, client, &self.counter, exclude))
        };
        tier(&snap.primary).or_else(|| tier(&snap.backup))
    }

    /// Takes a new configuration: new backends join (checked first when the
    /// pool has checks), changed ones update in place keeping their state,
    /// removed ones drain.
    pub fn apply(&self, spec: Arc<PoolSpec>) {
        self.apply_as(spec, false);
    }

    /// [`Self::apply`]; `starting`: the pool's first configuration.
    ///
    /// Only the backends the spec's diff names are touched (a registration
    /// into a pool of 50,000 visits one shard); a change of pool-wide
    /// settings visits every backend.
    fn apply_as(&self, spec: Arc<PoolSpec>, starting: bool) {
        let previous = std::mem::replace(&mut *lock(&self.spec), spec.clone());
        let checks_changed = previous.health_check != spec.health_check;
        if previous.tls != spec.tls {
            self.dialer
                .store(Arc::new(Dialer::new(spec.tls.as_deref())));
        }
        let slow_start = Duration::from_millis(spec.slow_start_ms);
        let drain = Duration::from_millis(spec.drain_timeout_ms);
        let mut to_drain = Vec::new();
        let mut joined = Vec::new();
        let mut left = Vec::new();
        {
            let mut backends = lock(&self.backends);
            for change in previous.backends.diff(&spec.backends) {
                match change {
                    BackendChange::Removed(target) => {
                        let Some(runtime) = backends.get(&target.id) else {
                            continue;
                        };
                        let mut status = lock(&runtime.status);
                        if !status.removed {
                            status.removed = true;
                            drop(status);
                            to_drain.push(runtime.clone());
                            left.push(target.id.clone());
                        }
                    }
                    BackendChange::Added(target) | BackendChange::Changed(target) => {
                        match backends.get(&target.id) {
                            Some(runtime) => {
                                let was_enabled = runtime.target.load().enabled;
                                runtime.target.store(target.clone());
                                if was_enabled && !target.enabled {
                                    to_drain.push(runtime.clone());
                                } else if !was_enabled && target.enabled {
                                    // Calls the drain off: its timer sees a
                                    // newer round and leaves the backend be.
                                    let mut s = lock(&runtime.status);
                                    s.drain_deadline = None;
                                    s.drain_round += 1;
                                    s.drained = false;
                                    runtime.close.send_replace(false);
                                }
                            }
                            None => {
                                let runtime = Arc::new(BackendRuntime::new(
                                    &spec.id,
                                    target.clone(),
                                    spec.health_check.as_ref(),
                                    &self.egress,
                                ));
                                *lock(&runtime.slow_start) = slow_start;
                                lock(&runtime.status).skip_first_ramp = starting;
                                lock(&self.registry).insert(target.id.clone(), runtime.clone());
                                backends.insert(target.id.clone(), runtime.clone());
                                joined.push(runtime);
                            }
                        }
                    }
                }
            }
            if checks_changed || previous.slow_start_ms != spec.slow_start_ms {
                for runtime in backends.values() {
                    *lock(&runtime.slow_start) = slow_start;
                    if checks_changed {
                        // A backend that was serving keeps serving while
                        // the new checks form their verdict: adding a
                        // check to a live pool must not blink it out.
                        let mut status = lock(&runtime.status);
                        let before = status
                            .tracker
                            .as_ref()
                            .map_or(Verdict::Up, Tracker::verdict);
                        status.tracker = spec
                            .health_check
                            .as_ref()
                            .map(|c| Tracker::resume(c.rise, c.fall, before));
                    }
                }
            }
        }
        for runtime in to_drain {
            self.drain(runtime, drain);
        }
        self.sync_checks(&spec, checks_changed, &joined, &left);
        self.rebuild();
    }

    /// Keeps one check task per backend that is not removed: all restart on
    /// a new check; otherwise `joined` gain one and `left` lose theirs.
    fn sync_checks(
        &self,
        spec: &PoolSpec,
        restart: bool,
        joined: &[Arc<BackendRuntime>],
        left: &[BackendId],
    ) {
        let mut checks = lock(&self.checks);
        if restart || spec.health_check.is_none() {
            for (_, task) in checks.drain() {
                task.abort();
            }
        }
        for id in left {
            if let Some(task) = checks.remove(id) {
                task.abort();
            }
        }
        let Some(check) = &spec.health_check else {
            return;
        };
        let Some(me) = self.me.upgrade() else { return };
        let spawn = |runtime: &Arc<BackendRuntime>| {
            tokio::spawn(crate::probe::run(
                me.clone(),
                runtime.clone(),
                check.clone(),
                self.egress.clone(),
            ))
        };
        if restart {
            let backends = lock(&self.backends);
            for (id, runtime) in backends.iter() {
                if !lock(&runtime.status).removed {
                    checks.insert(id.clone(), spawn(runtime));
                }
            }
        } else {
            for runtime in joined {
                checks
                    .entry(runtime.id.clone())
                    .or_insert_with(|| spawn(runtime));
            }
        }
    }

    /// Rebuilds the selection snapshot from current eligibility.
    pub fn rebuild(&self) {
        // Held from reading eligibility to storing the snapshot, so the last
        // rebuild to finish has seen every transition before it.
        let serial = lock(&self.rebuilding);
        self.rebuild_serialised(&serial);
    }

    /// [`Self::rebuild`] for a caller that holds the rebuild lock.
    fn rebuild_serialised(&self, _serial: &MutexGuard<'_, ()>) {
        let now = Instant::now();
        let (window, fail_open) = {
            let spec = lock(&self.spec);
            (Duration::from_millis(spec.slow_start_ms), spec.fail_open)
        };
        // (backend, ramp, backup): each backend's target and status are
        // read once per rebuild, under one lock (a rebuild follows every
        // registration into the pool, so this loop is the apply's cost).
        let mut members: Vec<(Arc<BackendRuntime>, Option<u32>, bool)> = Vec::new();
        // In service but failing their checks (or ejected): what a pool
        // that fails open serves when no backend is eligible.
        let mut down: Vec<(Arc<BackendRuntime>, Option<u32>, bool)> = Vec::new();
        let mut transitions = Vec::new();
        for backend in lock(&self.backends).values() {
            let target = backend.target.load();
            let mut s = lock(&backend.status);
            let eligible = BackendRuntime::eligible_in(&target, &s, now);
            if !eligible && BackendRuntime::serves(&target, &s) {
                down.push((backend.clone(), None, target.backup));
            }
            // Every health, ejection and drain change rebuilds, so this is
            // where a backend's live state is seen to move.
            let state = state_of(&target, &s, now);
            if s.published != Some(state) {
                s.published = Some(state);
                transitions.push((backend.id.clone(), state, transition_reason(state, &s)));
            }
            if !eligible {
                s.serving_since = None;
                // Awaiting its first verdict keeps a start-up backend
                // exempt; anything else out of service makes its return a join.
                let awaiting_first_check = s
                    .tracker
                    .as_ref()
                    .is_some_and(|t| t.verdict() == Verdict::Unknown);
                if !awaiting_first_check {
                    s.skip_first_ramp = false;
                }
                continue;
            }
            if s.serving_since.is_none() {
                s.serving_since = Some(now);
                s.ramp_exempt = std::mem::take(&mut s.skip_first_ramp);
            }
            let ramp = if s.ramp_exempt {
                None
            } else {
                ramp_progress(s.serving_since, window, now)
            };
            drop(s);
            members.push((backend.clone(), ramp, target.backup));
        }
        let candidates: Vec<Candidate> = members
            .iter()
            .map(|_| Candidate {
                in_service: true,
                eligible: true,
            })
            .chain(down.iter().map(|_| Candidate {
                in_service: true,
                eligible: false,
            }))
            .collect();
        let (chosen, open) = weir_core::fail_open::serving(&candidates, fail_open);
        if open {
            members = down
                .into_iter()
                .zip(&chosen[members.len()..])
                .filter_map(|(m, &c)| c.then_some(m))
                .collect();
        }
        if self.failing_open.swap(open, Ordering::Relaxed) != open {
            let pool = lock(&self.spec).id.clone();
            if open {
                tracing::warn!(%pool, backends = members.len(), "every backend is down: the pool fails open and serves them all");
            } else {
                tracing::info!(%pool, "the pool no longer fails open");
            }
        }
        // Members come in id order (the map's), a stable order that keeps
        // the rotation and the hash table stable across rebuilds.
        let ramping = members.iter().any(|(_, r, _)| r.is_some());
        let (backup, primary): (Vec<_>, Vec<_>) = members.into_iter().partition(|b| b.2);
        let with_maglev = self.wants_hash.load(Ordering::Relaxed);
        let tier = |m: Vec<(Arc<BackendRuntime>, Option<u32>, bool)>| {
            let (members, ramp): (Vec<_>, Vec<_>) = m.into_iter().map(|(b, r, _)| (b, r)).unzip();
            Tier::build(members, &ramp, with_maglev)
        };
        self.snapshot.store(Arc::new(Snapshot {
            primary: tier(primary),
            backup: tier(backup),
        }));
        for (id, state, reason) in transitions {
            self.publish(id, state, reason);
        }
        if ramping {
            self.schedule_ramp_step(window);
        }
    }

    /// Publishes a backend's transition to `state`.
    fn publish(&self, id: BackendId, state: BackendState, reason: Option<String>) {
        if !self.events.wanted() {
            return;
        }
        let spec = lock(&self.spec);
        let event = LiveEvent {
            lb_id: spec.lb_id.clone(),
            subject: LiveSubject::Backend {
                id,
                pool_id: spec.id.clone(),
            },
            state: LiveState::Backend(state),
            reason,
        };
        drop(spec);
        self.events.publish(event);
    }

    /// Rebuilds again a step later while a backend ramps: sixteen steps
    /// per window, between 50 ms and 1 s apart.
    fn schedule_ramp_step(&self, window: Duration) {
        if self.ramp_tick.swap(true, Ordering::AcqRel) {
            return;
        }
        let step = (window / 16).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let me = self.me.clone();
        tokio::spawn(async move {
            tokio::time::sleep(step).await;
            if let Some(pool) = me.upgrade() {
                pool.ramp_tick.store(false, Ordering::Release);
                pool.rebuild();
            }
        });
    }

    /// Records a health-check result.
    pub fn record_check(&self, backend: &BackendRuntime, result: Result<(), String>) {
        let changed = {
            let mut s = lock(&backend.status);
            let passed = result.is_ok();
            if let Err(reason) = result {
                s.reason = Some(reason);
            }
            // The last backend serving, failing traffic, is kept but reads
            // unhealthy until something shows it serves again: a passing
            // check does, as a served request does, or with no traffic it
            // would read unhealthy for ever.
            if passed && s.failing_unejected {
                s.failing_unejected = false;
                backend.consecutive_failures.store(0, Ordering::Relaxed);
                if s.tracker.as_ref().map(Tracker::verdict) == Some(Verdict::Up) {
                    s.reason = None;
                }
            }
            let changed = s.tracker.as_mut().and_then(|t| t.record(passed));
            if changed == Some(Verdict::Up) {
                s.reason = None;
            }
            changed
        };
        if let Some(verdict) = changed {
            tracing::info!(backend = %backend.id, ?verdict, "health changed");
            self.rebuild();
        }
    }

    /// Records a failure seen by traffic (passive health): enough in a row
    /// eject the backend for the ejection period, longer when it was
    /// ejected before without serving well since.
    pub fn record_failure(
        &self,
        backend: &Arc<BackendRuntime>,
        kind: PassiveFailure,
        error: &dyn std::fmt::Display,
    ) {
        use weir_core::status::FailureReason;
        let (counter, reason) = match kind {
            PassiveFailure::Connect => (&backend.connect_failures, FailureReason::ConnectionFailed),
            PassiveFailure::Response => (&backend.response_failures, FailureReason::NoResponse),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let failures = backend.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        // The errno is for the operator's log, not the tenant's view.
        lock(&backend.status).reason = Some(reason.to_string());
        if failures < self.ejection.after_failures {
            return;
        }
        // Decided and applied under the rebuild lock, so two backends
        // failing at once cannot both see the other still serving.
        let serial = lock(&self.rebuilding);
        let snapshot = self.snapshot.load();
        let others_serve = [&snapshot.primary, &snapshot.backup]
            .iter()
            .flat_map(|tier| tier.members.iter())
            .any(|member| member.id != backend.id);
        let period = {
            let mut s = lock(&backend.status);
            // The last backend serving is never ejected: without it every
            // request would fail, with it some may still succeed.
            s.failing_unejected = !others_serve;
            if others_serve && s.ejected_until.is_none() {
                let ejections = backend.ejections.fetch_add(1, Ordering::Relaxed) + 1;
                let period = self.ejection.period * ejections.min(MAX_EJECTION_FACTOR);
                s.ejected_until = Some(Instant::now() + period);
                Some(period)
            } else {
                None
            }
        };
        if period.is_some() {
            self.rebuild_serialised(&serial);
        }
        drop(serial);
        if let Some(period) = period {
            tracing::warn!(backend = %backend.id, ?kind, %error, ?period, "ejected after failures");
            let (me, backend) = (self.me.clone(), backend.clone());
            tokio::spawn(async move {
                tokio::time::sleep(period).await;
                if let Some(pool) = me.upgrade() {
                    let mut s = lock(&backend.status);
                    s.ejected_until = None;
                    drop(s);
                    backend.consecutive_failures.store(0, Ordering::Relaxed);
                    pool.rebuild();
                }
            });
        }
    }

    /// Records a request served (HTTP) or a connect made (TCP, UDP).
    pub fn record_success(&self, backend: &BackendRuntime) {
        // Loads first: the common case writes nothing shared.
        if backend.consecutive_failures.load(Ordering::Relaxed) > 0 {
            backend.consecutive_failures.store(0, Ordering::Relaxed);
            lock(&backend.status).failing_unejected = false;
        }
        if backend.ejections.load(Ordering::Relaxed) > 0 {
            backend.ejections.store(0, Ordering::Relaxed);
        }
    }

    /// No new connections from now; open ones may run until `timeout`,
    /// then they are closed.
    fn drain(&self, backend: Arc<BackendRuntime>, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (round, began) = {
            let mut s = lock(&backend.status);
            s.drain_deadline = Some(deadline);
            s.drain_round += 1;
            // Published here, before the drain's task can end it, so a
            // drain with nothing open still reads draining, then drained.
            let began = s.published != Some(BackendState::Draining);
            s.published = Some(BackendState::Draining);
            (s.drain_round, began)
        };
        if began {
            self.publish(
                backend.id.clone(),
                BackendState::Draining,
                Some(DRAINING_REASON.to_owned()),
            );
        }
        let me = self.me.clone();
        tokio::spawn(async move {
            let idle = async {
                loop {
                    let notified = backend.idle.notified();
                    if backend.active.load(Ordering::Acquire) == 0 {
                        return;
                    }
                    notified.await;
                }
            };
            let timed_out = tokio::time::timeout_at(deadline.into(), idle)
                .await
                .is_err();
            let removed = {
                let mut s = lock(&backend.status);
                // Called off (re-enabled) or started again (disabled
                // anew, with its own deadline) meanwhile: not ours to end.
                // Checked before closing anything, and under the lock a
                // re-enable takes, so a called-off drain cannot latch
                // `close` and kill the connections it was meant to spare.
                if s.drain_round != round {
                    return;
                }
                if timed_out {
                    backend.close.send_replace(true);
                }
                s.drain_deadline = None;
                s.drained = true;
                let state = state_of(&backend.target.load(), &s, Instant::now());
                let moved = (s.published != Some(state)).then(|| {
                    s.published = Some(state);
                    transition_reason(state, &s)
                });
                (s.removed, moved.map(|reason| (state, reason)))
            };
            let (removed, moved) = removed;
            if let (Some((state, reason)), Some(pool)) = (moved, me.upgrade()) {
                pool.publish(backend.id.clone(), state, reason);
            }
            tracing::info!(backend = %backend.id, timed_out, "drained");
            if let (true, Some(pool)) = (removed, me.upgrade()) {
                lock(&pool.backends).remove(&backend.id);
                let mut registry = lock(&pool.registry);
                if registry
                    .get(&backend.id)
                    .is_some_and(|b| Arc::ptr_eq(b, &backend))
                {
                    registry.remove(&backend.id);
                }
                drop(registry);
                if let Some(task) = lock(&pool.checks).remove(&backend.id) {
                    task.abort();
                }
            }
        });
    }

    /// Stops every task of the pool (it left the topology); its backends
    /// drain as if removed.
    pub fn retire(&self) {
        let spec = lock(&self.spec).clone();
        self.apply(Arc::new(PoolSpec {
            backends: BackendSet::default(),
            health_check: None,
            ..(*spec).clone()
        }));
    }

    /// The address to dial for `backend` when a client came in on
    /// `listener_port`.
    pub fn address(backend: &BackendRuntime, listener_port: u16) -> SocketAddr {
        let t = backend.target.load();
        SocketAddr::new(t.address, t.port_for(listener_port))
    }
}

impl Drop for PoolRuntime {
    fn drop(&mut self) {
        for (_, task) in lock(&self.checks).drain() {
            task.abort();
        }
    }
}

/// What a transition event says beside the state: why a backend is
/// unhealthy (the view's tenant-facing reason), that a draining one's
/// connections are finishing.
fn transition_reason(state: BackendState, s: &backend::Status) -> Option<String> {
    match state {
        BackendState::Unhealthy => s.reason.clone(),
        BackendState::Draining => Some(DRAINING_REASON.to_owned()),
        _ => None,
    }
}
