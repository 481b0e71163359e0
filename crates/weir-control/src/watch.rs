//! The watch stream: every change to a caller's resources, then each new
//! one as it commits, and the data plane's live-state transitions.
//!
//! One hub per node reads the change log once per commit (whatever the
//! number of watchers) and hands what it read to the watchers whose scope
//! it is in, through a bounded queue per watcher: one entry per read (up
//! to 1,000 rows, shared by every watcher of a scope, so a registration
//! of 500 backends costs a watcher one entry, not 500) or per live
//! transition. A watcher whose queue is full is cut: it gets what was queued, then an end naming the position
//! to resume from, so a slow client never grows memory and never misses
//! anything it is told it has. Registering with the hub first and then
//! replaying the log up to the hub's position at registration leaves no
//! gap between replay and live rows; rows at or before the last position
//! delivered are skipped, so there are no duplicates either.
//!
//! Positions are the caller's scope's ([`weir_core::watch`]): a project's
//! own numbering of its rows, or the global revision for the operator.
//! Watchers are limited per node and per project, so one tenant cannot
//! take every slot. A watcher's credential is checked again whenever its
//! project's credentials change and every `recheck`, so a revoked token's
//! stream ends.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use weir_core::ids::{LoadBalancerId, PoolId, ProjectId};
use weir_core::topology::Topology;
use weir_core::watch::{check_resume, project_compacted_through, LiveEvent, PositionError};
use weir_store::{ChangeRecord, Store};

use crate::{Control, ControlError, Principal};

/// Rows read per change-log query, by the hub and by a replay.
const ROWS_PER_READ: usize = 1000;
/// The hub reads the log at least this often, in case a wake-up was lost
/// (another node's commit on a shared database).
const POLL: Duration = Duration::from_secs(1);

/// The limits of the watch stream (`[api]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSettings {
    /// Watchers on this node at once.
    pub max_watchers: usize,
    /// Watchers of one project at once (the operator's are not counted
    /// against any project).
    pub max_per_project: usize,
    /// Entries (reads of the log, live transitions) queued for one
    /// watcher before it is cut as too slow.
    pub buffer: usize,
    /// How often an idle stream sends a keep-alive comment.
    pub keepalive: Duration,
    /// How often a watcher's credential is checked again (besides at
    /// every change of its project's credentials).
    pub recheck: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            max_watchers: 1024,
            max_per_project: 32,
            buffer: 256,
            keepalive: Duration::from_secs(15),
            recheck: Duration::from_secs(30),
        }
    }
}

/// Why a watch was not started.
#[derive(Debug, Clone)]
pub enum WatchRefusal {
    /// The position cannot be resumed from.
    Position(PositionError),
    /// The caller's project has `limit` watchers already.
    ProjectFull {
        limit: usize,
    },
    /// This node has `limit` watchers already.
    NodeFull {
        limit: usize,
    },
    Control(ControlError),
}

impl From<ControlError> for WatchRefusal {
    fn from(e: ControlError) -> Self {
        Self::Control(e)
    }
}

impl From<weir_store::StoreError> for WatchRefusal {
    fn from(e: weir_store::StoreError) -> Self {
        Self::Control(e.into())
    }
}

/// A change as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedChange {
    /// The position in the watcher's scope (the event id).
    pub position: u64,
    /// `backend`, `listener`... as the change log names it.
    pub resource: String,
    pub id: String,
    /// `created`, `updated` or `deleted`.
    pub action: &'static str,
    pub lb_id: Option<LoadBalancerId>,
    pub pool_id: Option<PoolId>,
    /// The owning project, for the operator's watchers only (a project's
    /// watcher knows its own).
    pub project_id: Option<ProjectId>,
}

/// Why a stream ended while the server still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// Its queue filled: the client did not read fast enough.
    SlowClient,
    /// Its credential no longer authenticates as it did.
    Revoked,
    /// Rows it had not read yet were compacted away while it replayed, or
    /// the store failed during the replay.
    ReplayFailed,
}

impl WatchEnd {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SlowClient => "slow_client",
            Self::Revoked => "credential_revoked",
            Self::ReplayFailed => "replay_failed",
        }
    }
}

/// What a watch yields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// First: where the stream starts (the position it resumes after).
    Ready {
        position: u64,
    },
    Change(WatchedChange),
    /// A live-state transition of one of the caller's resources.
    Live(Arc<LiveEvent>),
    /// Live transitions were dropped (the hub fell behind the data plane);
    /// the resources' views say the current state.
    LiveLost,
    /// Last: the stream ends; `resume_from` is the last position delivered.
    End {
        reason: WatchEnd,
        resume_from: u64,
    },
}

enum Delivery {
    /// Rows of one read of the log, in order, those of the watcher's scope.
    Changes(Arc<[Arc<ChangeRecord>]>),
    Live(Arc<LiveEvent>),
    LiveLost,
}

struct Entry {
    scope: Option<ProjectId>,
    queue: mpsc::Sender<Delivery>,
    cut: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    /// The global revision through which rows were handed out.
    position: u64,
    watchers: HashMap<u64, Entry>,
    per_project: HashMap<ProjectId, usize>,
    /// Which project each load balancer is, for live transitions (learnt
    /// from the log's rows, read from the store on a miss).
    lb_projects: HashMap<LoadBalancerId, ProjectId>,
}

impl Registry {
    fn remove(&mut self, id: u64) {
        let Some(Entry {
            scope: Some(project),
            ..
        }) = self.watchers.remove(&id)
        else {
            return;
        };
        if let Some(n) = self.per_project.get_mut(&project) {
            *n -= 1;
            if *n == 0 {
                self.per_project.remove(&project);
            }
        }
    }

    /// Queues a delivery for every watcher `wants` names; a full queue
    /// cuts its watcher, a closed one is forgotten. Returns how many were
    /// cut.
    fn deliver(
        &mut self,
        wants: impl Fn(&Option<ProjectId>) -> bool,
        make: impl Fn(&Option<ProjectId>) -> Delivery,
    ) -> u64 {
        let mut cut = 0;
        let mut gone = Vec::new();
        for (id, entry) in &self.watchers {
            if !wants(&entry.scope) {
                continue;
            }
            match entry.queue.try_send(make(&entry.scope)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    entry.cut.store(true, Ordering::Release);
                    gone.push(*id);
                    cut += 1;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(*id),
            }
        }
        for id in gone {
            self.remove(id);
        }
        cut
    }
}

/// The node's watch hub.
pub(crate) struct Hub {
    registry: Mutex<Registry>,
    settings: RwLock<WatchSettings>,
    next_id: AtomicU64,
    cut_total: AtomicU64,
}

impl Hub {
    /// Starts following the log after `revision` (the store's at start).
    pub(crate) fn spawn(
        store: Arc<dyn Store>,
        revision: u64,
        commits: watch::Receiver<u64>,
        topology: watch::Receiver<Arc<Topology>>,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            registry: Mutex::new(Registry {
                position: revision,
                ..Registry::default()
            }),
            settings: RwLock::new(WatchSettings::default()),
            next_id: AtomicU64::new(0),
            cut_total: AtomicU64::new(0),
        });
        tokio::spawn(follow(Arc::downgrade(&hub), store, commits, topology));
        hub
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn settings(&self) -> WatchSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_settings(&self, settings: WatchSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Watchers connected now, and watchers cut as too slow so far.
    pub(crate) fn counts(&self) -> (usize, u64) {
        (
            self.lock().watchers.len(),
            self.cut_total.load(Ordering::Relaxed),
        )
    }

    fn hand_out(&self, rows: Vec<ChangeRecord>) {
        let mut registry = self.lock();
        let mut by_project: HashMap<ProjectId, Vec<Arc<ChangeRecord>>> = HashMap::new();
        let mut all = Vec::with_capacity(rows.len());
        for row in rows {
            registry.position = registry.position.max(row.revision);
            if let Some(lb) = &row.lb_id {
                if row.entity == "load_balancer" && row.op == "delete" {
                    registry.lb_projects.remove(lb);
                } else if !registry.lb_projects.contains_key(lb) {
                    registry
                        .lb_projects
                        .insert(lb.clone(), row.project_id.clone());
                }
            }
            let row = Arc::new(row);
            by_project
                .entry(row.project_id.clone())
                .or_default()
                .push(row.clone());
            all.push(row);
        }
        let all: Arc<[Arc<ChangeRecord>]> = all.into();
        let by_project: HashMap<ProjectId, Arc<[Arc<ChangeRecord>]>> = by_project
            .into_iter()
            .map(|(p, rows)| (p, rows.into()))
            .collect();
        let cut = registry.deliver(
            |scope| scope.as_ref().is_none_or(|p| by_project.contains_key(p)),
            |scope| {
                Delivery::Changes(match scope {
                    None => all.clone(),
                    Some(p) => by_project[p].clone(),
                })
            },
        );
        self.cut_total.fetch_add(cut, Ordering::Relaxed);
    }

    /// Hands a live transition to the watchers of its load balancer's
    /// project (and the operator's).
    async fn hand_out_live(&self, store: &Arc<dyn Store>, event: LiveEvent) {
        let known = self.lock().lb_projects.get(&event.lb_id).cloned();
        let project = match known {
            Some(p) => p,
            None => {
                let Ok(mut reads) = store.read().await else {
                    return;
                };
                let Ok(Some(lb)) = reads.load_balancer(&event.lb_id).await else {
                    return;
                };
                self.lock()
                    .lb_projects
                    .insert(lb.id.clone(), lb.project_id.clone());
                lb.project_id
            }
        };
        let event = Arc::new(event);
        let cut = self.lock().deliver(
            |scope| scope.as_ref().is_none_or(|p| *p == project),
            |_| Delivery::Live(event.clone()),
        );
        self.cut_total.fetch_add(cut, Ordering::Relaxed);
    }

    fn live_lost(&self) {
        let cut = self.lock().deliver(|_| true, |_| Delivery::LiveLost);
        self.cut_total.fetch_add(cut, Ordering::Relaxed);
    }

    /// Ends every watch (the hub fell behind a compaction): each gets an
    /// end with its position, and resumes or learns it cannot.
    fn cut_all(&self) {
        let mut registry = self.lock();
        for entry in registry.watchers.values() {
            entry.cut.store(true, Ordering::Release);
        }
        let ids: Vec<u64> = registry.watchers.keys().copied().collect();
        for id in ids {
            registry.remove(id);
        }
    }
}

/// The hub's loop: read what committed, hand it out, wait for more.
async fn follow(
    hub: Weak<Hub>,
    store: Arc<dyn Store>,
    mut commits: watch::Receiver<u64>,
    mut topology: watch::Receiver<Arc<Topology>>,
) {
    loop {
        let Some(strong) = hub.upgrade() else { return };
        if let Err(e) = read_new(&strong, &store).await {
            tracing::warn!(error = %e, "the watch hub could not read the change log");
        }
        drop(strong);
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { return },
            changed = topology.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn read_new(hub: &Hub, store: &Arc<dyn Store>) -> weir_store::StoreResult<()> {
    let mut reads = store.read().await?;
    loop {
        let position = hub.lock().position;
        let rows = reads.changes_since(position, ROWS_PER_READ).await?;
        let more = rows.len() == ROWS_PER_READ;
        if rows.is_empty() {
            // Read after the rows: a compaction past what was handed out
            // means rows were missed; every watcher resumes and finds out.
            if reads.compacted_through().await? > position {
                hub.cut_all();
                hub.lock().position = reads.revision().await?;
            }
            return Ok(());
        }
        hub.hand_out(rows);
        if !more {
            return Ok(());
        }
    }
}

/// Forwards the data plane's transitions to the hub until either goes.
pub(crate) fn follow_live(
    hub: &Arc<Hub>,
    store: Arc<dyn Store>,
    mut events: broadcast::Receiver<LiveEvent>,
) {
    let hub = Arc::downgrade(hub);
    tokio::spawn(async move {
        loop {
            let received = events.recv().await;
            let Some(hub) = hub.upgrade() else { return };
            match received {
                Ok(event) => hub.hand_out_live(&store, event).await,
                Err(broadcast::error::RecvError::Lagged(_)) => hub.live_lost(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Leaves the hub when the watch is dropped (the client went away).
struct Registration {
    hub: Arc<Hub>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.lock().remove(self.id);
    }
}

/// One client's watch: [`Watch::next`] yields its items in order.
pub struct Watch {
    control: Control,
    token: String,
    principal: Principal,
    scope: Option<ProjectId>,
    /// The last position delivered (or started from).
    last: u64,
    /// Replay still to do: rows up to this global revision come from the
    /// store, later ones from the queue.
    replay_through: Option<u64>,
    /// Rows read (replayed, or handed out in one entry) not yet delivered.
    pending: VecDeque<Arc<ChangeRecord>>,
    queue: mpsc::Receiver<Delivery>,
    cut: Arc<AtomicBool>,
    started: bool,
    ended: bool,
    recheck_at: tokio::time::Instant,
    _registration: Registration,
}

impl Control {
    /// Sets the watch stream's limits.
    pub fn with_watch_settings(self, settings: WatchSettings) -> Self {
        self.watch_hub.set_settings(settings);
        self
    }

    /// The watch stream's limits.
    pub fn watch_settings(&self) -> WatchSettings {
        self.watch_hub.settings()
    }

    /// Starts a watch for `principal` (authenticated with `token`, which
    /// is checked again while the stream runs): after `since` in the
    /// caller's scope, or from now.
    pub async fn watch(
        &self,
        principal: Principal,
        token: &str,
        since: Option<u64>,
    ) -> Result<Watch, WatchRefusal> {
        let scope = principal.scope().cloned();
        let mut reads = self.reader().await?;
        let (head, compacted) = match &scope {
            Some(project) => {
                let (head, oldest) = reads.project_log_position(project).await?;
                (head, project_compacted_through(head, oldest))
            }
            None => (reads.revision().await?, reads.compacted_through().await?),
        };
        drop(reads);
        let start = match since {
            Some(asked) => {
                check_resume(asked, head, compacted).map_err(WatchRefusal::Position)?;
                asked
            }
            None => head,
        };
        let hub = self.watch_hub.clone();
        let settings = hub.settings();
        let (queue_in, queue) = mpsc::channel(settings.buffer.max(1));
        let cut = Arc::new(AtomicBool::new(false));
        let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
        let through = {
            let mut registry = hub.lock();
            if registry.watchers.len() >= settings.max_watchers {
                return Err(WatchRefusal::NodeFull {
                    limit: settings.max_watchers,
                });
            }
            if let Some(project) = &scope {
                let n = registry.per_project.entry(project.clone()).or_default();
                if *n >= settings.max_per_project {
                    return Err(WatchRefusal::ProjectFull {
                        limit: settings.max_per_project,
                    });
                }
                *n += 1;
            }
            registry.watchers.insert(
                id,
                Entry {
                    scope: scope.clone(),
                    queue: queue_in,
                    cut: cut.clone(),
                },
            );
            registry.position
        };
        Ok(Watch {
            control: self.clone(),
            token: token.to_owned(),
            principal,
            scope,
            last: start,
            // Rows between the start and the hub's position come from the
            // store; without `since` the start is the head, and a row the
            // hub hands out at or before it is skipped as delivered.
            replay_through: Some(through),
            pending: VecDeque::new(),
            queue,
            cut,
            started: false,
            ended: false,
            recheck_at: tokio::time::Instant::now() + settings.recheck,
            _registration: Registration { hub, id },
        })
    }
}

impl Watch {
    /// The position of the row in this watch's scope.
    fn position_of(&self, row: &ChangeRecord) -> u64 {
        if self.scope.is_some() {
            row.project_revision
        } else {
            row.revision
        }
    }

    fn watched(&self, row: &ChangeRecord) -> WatchedChange {
        WatchedChange {
            position: self.position_of(row),
            resource: row.entity.clone(),
            id: row.entity_id.clone(),
            action: weir_core::watch::action_name(&row.op),
            lb_id: row.lb_id.clone(),
            pool_id: row.pool_id.clone(),
            project_id: self.scope.is_none().then(|| row.project_id.clone()),
        }
    }

    fn end(&mut self, reason: WatchEnd) -> Option<WatchItem> {
        self.ended = true;
        Some(WatchItem::End {
            reason,
            resume_from: self.last,
        })
    }

    /// Whether the token still authenticates as it did.
    async fn still_valid(&self) -> bool {
        match self.control.authenticate(&self.token).await {
            Ok(found) => found.as_ref() == Some(&self.principal),
            // The store is unreachable: keep the stream; the next check
            // decides.
            Err(_) => true,
        }
    }

    /// A change to deliver; `None`: skip it (delivered already).
    async fn deliver(&mut self, row: &ChangeRecord) -> Option<WatchItem> {
        let position = self.position_of(row);
        if position <= self.last {
            return None;
        }
        if (row.entity == "credential" || row.entity == "project") && !self.still_valid().await {
            return self.end(WatchEnd::Revoked);
        }
        self.last = position;
        Some(WatchItem::Change(self.watched(row)))
    }

    /// The next item, waiting for one; `None` once the stream is over.
    pub async fn next(&mut self) -> Option<WatchItem> {
        if self.ended {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(WatchItem::Ready {
                position: self.last,
            });
        }
        loop {
            if let Some(row) = self.pending.pop_front() {
                if let Some(item) = self.deliver(&row).await {
                    return Some(item);
                }
                continue;
            }
            let Some(through) = self.replay_through else {
                break;
            };
            match self.read_replay(through).await {
                Ok(true) => {}
                Ok(false) => self.replay_through = None,
                Err(()) => return self.end(WatchEnd::ReplayFailed),
            }
        }
        loop {
            let recheck_at = self.recheck_at;
            let delivery = tokio::select! {
                d = self.queue.recv() => Some(d),
                _ = tokio::time::sleep_until(recheck_at) => None,
            };
            let Some(delivery) = delivery else {
                self.recheck_at =
                    tokio::time::Instant::now() + self.control.watch_hub.settings().recheck;
                if !self.still_valid().await {
                    return self.end(WatchEnd::Revoked);
                }
                continue;
            };
            match delivery {
                Some(Delivery::Changes(rows)) => {
                    self.pending.extend(rows.iter().cloned());
                    while let Some(row) = self.pending.pop_front() {
                        if let Some(item) = self.deliver(&row).await {
                            return Some(item);
                        }
                    }
                }
                Some(Delivery::Live(event)) => return Some(WatchItem::Live(event)),
                Some(Delivery::LiveLost) => return Some(WatchItem::LiveLost),
                None if self.cut.load(Ordering::Acquire) => return self.end(WatchEnd::SlowClient),
                None => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// Reads the next page of the replay; `false` when it is done. An
    /// error: the store failed, or rows after `last` were compacted while
    /// replaying.
    async fn read_replay(&mut self, through: u64) -> Result<bool, ()> {
        let mut reads = self.control.reader().await.map_err(|_| ())?;
        let rows = match &self.scope {
            Some(project) => reads
                .project_changes_since(project, self.last, through, ROWS_PER_READ)
                .await
                .map_err(|_| ())?,
            None => {
                let mut rows = reads
                    .changes_since(self.last, ROWS_PER_READ)
                    .await
                    .map_err(|_| ())?;
                rows.retain(|r| r.revision <= through);
                rows
            }
        };
        // Read after the rows, so a compaction in between is noticed: the
        // rows after this page are still needed, and lost if compacted.
        let compacted = match &self.scope {
            Some(project) => {
                let (head, oldest) = reads.project_log_position(project).await.map_err(|_| ())?;
                project_compacted_through(head, oldest)
            }
            None => reads.compacted_through().await.map_err(|_| ())?,
        };
        let needed_after = rows.last().map_or(self.last, |r| self.position_of(r));
        if compacted > needed_after {
            return Err(());
        }
        let more = !rows.is_empty();
        self.pending.extend(rows.into_iter().map(Arc::new));
        Ok(more)
    }
}
