//! A backend at run time ([`BackendRuntime`]): its live state (health,
//! drain, passive ejection, slow start), its connection counts and
//! traffic counters, and its idle upstream connections; [`ConnGuard`]
//! holds one connection's slot. Pools ([`super::PoolRuntime`]) keep these
//! by backend id across configuration changes.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::{watch, Notify};
use weir_core::ids::{BackendId, PoolId};
use weir_core::model::HealthCheck;
use weir_core::status::{BackendLive, BackendState, BackendStats};
use weir_core::topology::BackendTarget;

use crate::balance;
use crate::egress::Egress;
use crate::health::{Tracker, Verdict};
use crate::histogram::Histogram;
use crate::upstream_tls::MemberStream;

/// Idle HTTP connections kept per backend.
pub(super) const MAX_IDLE_PER_BACKEND: usize = 256;

/// Passive health: consecutive failures seen by traffic that eject a
/// backend, and for how long. A backend ejected again soon after coming
/// back stays out longer each time (`period` times the ejections in a row,
/// at most [`MAX_EJECTION_FACTOR`] times), so one that keeps failing costs
/// traffic less and less (Envoy's outlier detection does the same).
#[derive(Debug, Clone, Copy)]
pub struct Ejection {
    pub after_failures: u32,
    pub period: Duration,
}

/// The longest ejection, in ejection periods.
pub const MAX_EJECTION_FACTOR: u32 = 10;

/// What traffic saw go wrong with a backend (passive health).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassiveFailure {
    /// The connect failed or timed out.
    Connect,
    /// Connected, but no usable answer: closed or reset before a response,
    /// a response that is not HTTP, or none within the response timeout.
    /// What a backend that passes its health check but fails its traffic
    /// (a gray failure) looks like.
    Response,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these small locks leaves plain data;
    // carrying on is better than taking the data plane down.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Transition-time state of a backend.
#[derive(Debug)]
pub(super) struct Status {
    /// `None` when the pool has no checks.
    pub(super) tracker: Option<Tracker>,
    pub(super) reason: Option<String>,
    pub(super) ejected_until: Option<Instant>,
    /// Failing as often as ejects, but kept serving as the pool's last
    /// backend: unhealthy in the live view until it serves well again.
    pub(super) failing_unejected: bool,
    /// Set while draining; the deadline closes what is left.
    pub(super) drain_deadline: Option<Instant>,
    /// Counts drains begun and called off: a drain timer acts only while
    /// the round it was started in is still current, so a drain that was
    /// called off (re-enabled) or restarted (disabled again) never fires.
    pub(super) drain_round: u64,
    pub(super) drained: bool,
    pub(super) removed: bool,
    pub(super) egress_denied: bool,
    /// When the backend last became eligible, while it is; `None` while it
    /// is not. Slow start ramps from here.
    pub(super) serving_since: Option<Instant>,
    /// Present when the pool first started: its first turn to serve is not
    /// a join, so it does not ramp (HAProxy: no slow start at startup,
    /// or a cold start would take the whole ramp).
    pub(super) skip_first_ramp: bool,
    /// This turn of serving does not ramp (it began at startup).
    pub(super) ramp_exempt: bool,
    /// The state last published as a live transition (`None`: none yet).
    pub(super) published: Option<BackendState>,
}

/// A backend's state as the live view names it, from its configuration
/// and status (the one reading, for the view and for transitions).
pub(super) fn state_of(t: &BackendTarget, s: &Status, now: Instant) -> BackendState {
    if s.drain_deadline.is_some() || (s.removed && !s.drained) {
        BackendState::Draining
    } else if s.removed {
        // Drained and about to leave its pool: never healthy again.
        BackendState::Drained
    } else if !t.enabled {
        if s.drained {
            BackendState::Drained
        } else {
            BackendState::Disabled
        }
    } else if s.egress_denied || s.failing_unejected || s.ejected_until.is_some_and(|u| u > now) {
        BackendState::Unhealthy
    } else {
        match s.tracker.as_ref().map(Tracker::verdict) {
            Some(Verdict::Unknown) => BackendState::Checking,
            Some(Verdict::Down) => BackendState::Unhealthy,
            Some(Verdict::Up) | None => BackendState::Healthy,
        }
    }
}

/// The reason shown beside a draining backend.
pub(super) const DRAINING_REASON: &str = "no new connections; open ones are finishing";

/// One backend's live state, shared by every snapshot that contains it.
#[derive(Debug)]
pub struct BackendRuntime {
    pub id: BackendId,
    /// What an HTTP_COOKIE listener's cookie names this backend by
    /// ([`balance::cookie_token`]).
    pub cookie_token: u64,
    pub(super) target: ArcSwap<BackendTarget>,
    pub active: AtomicU64,
    pub total: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub connect_failures: AtomicU64,
    /// TLS handshakes with the member that failed (re-encrypting pools).
    pub tls_failures: AtomicU64,
    /// Connected attempts that got no usable answer ([`PassiveFailure::Response`]).
    pub response_failures: AtomicU64,
    /// Failures of either kind since the last success; outside the status lock so
    /// that a successful connect (the common case) takes no lock.
    pub(super) consecutive_failures: AtomicU32,
    /// Ejections since the backend last served well: each one is longer.
    pub(super) ejections: AtomicU32,
    /// HTTP responses by class: 1xx .. 5xx.
    pub responses: [AtomicU64; 5],
    /// How long the last passing active check took, in microseconds (a
    /// failed probe's time is what a port scan measures, so none is kept).
    pub check_latency_us: AtomicU64,
    /// Active checks run, passed or failed.
    pub checks: AtomicU64,
    /// How long traffic's TCP connects to the member took (successful
    /// ones; a TLS handshake after it is not included).
    pub connect_duration: Histogram,
    pub(super) status: Mutex<Status>,
    /// Idle HTTP connections to this backend, most recent last, with the
    /// generation of the pool's dialer that made each.
    pub(super) idle_connections: Mutex<Vec<(u64, MemberStream)>>,
    pub(super) idle: Notify,
    pub(super) close: watch::Sender<bool>,
    /// The pool's slow-start window, for the live view.
    pub(super) slow_start: Mutex<Duration>,
}

/// How far into its ramp a backend serving since `since` is, in
/// thousandths; `None` when it is not ramping.
pub(super) fn ramp_progress(since: Option<Instant>, window: Duration, now: Instant) -> Option<u32> {
    let elapsed = now.saturating_duration_since(since?);
    if window.is_zero() || elapsed >= window {
        return None;
    }
    let progress = elapsed.as_micros() * u128::from(balance::RAMP_DONE) / window.as_micros();
    Some(u32::try_from(progress).unwrap_or(balance::RAMP_DONE))
}

impl BackendRuntime {
    pub(super) fn new(
        pool: &PoolId,
        target: Arc<BackendTarget>,
        checked: Option<&HealthCheck>,
        egress: &Egress,
    ) -> Self {
        let egress_denied = !egress.allows(target.address);
        Self {
            id: target.id.clone(),
            cookie_token: balance::cookie_token(pool.as_str(), target.id.as_str()),
            status: Mutex::new(Status {
                tracker: checked.map(|c| Tracker::new(c.rise, c.fall)),
                reason: egress_denied.then(|| egress.refusal(target.address)),
                ejected_until: None,
                failing_unejected: false,
                drain_deadline: None,
                drain_round: 0,
                drained: false,
                removed: false,
                egress_denied,
                serving_since: None,
                skip_first_ramp: false,
                ramp_exempt: false,
                published: None,
            }),
            target: ArcSwap::new(target),
            active: AtomicU64::new(0),
            total: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            response_failures: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejections: AtomicU32::new(0),
            responses: Default::default(),
            check_latency_us: AtomicU64::new(0),
            checks: AtomicU64::new(0),
            connect_duration: Histogram::default(),
            idle_connections: Mutex::default(),
            idle: Notify::new(),
            close: watch::channel(false).0,
            slow_start: Mutex::new(Duration::ZERO),
        }
    }

    /// The backend's current configuration.
    pub fn target(&self) -> Arc<BackendTarget> {
        self.target.load_full()
    }

    /// An idle HTTP connection made by dialer `generation` to reuse, if
    /// any (most recent first: it is the least likely to have been closed
    /// by the backend); those of another generation are closed.
    pub fn take_idle(&self, generation: u64) -> Option<MemberStream> {
        let mut idle = lock(&self.idle_connections);
        while let Some((made_by, stream)) = idle.pop() {
            if made_by == generation {
                return Some(stream);
            }
        }
        None
    }

    /// Returns an HTTP connection for reuse; beyond the cap, or once the
    /// backend is leaving, it is closed instead.
    pub fn put_idle(&self, stream: MemberStream, generation: u64) {
        let leaving = {
            let s = lock(&self.status);
            s.removed || s.drain_deadline.is_some()
        };
        let mut idle = lock(&self.idle_connections);
        if !leaving && idle.len() < MAX_IDLE_PER_BACKEND {
            idle.push((generation, stream));
        }
    }

    /// Counts an HTTP response by status class.
    pub fn count_status(&self, status: u16) {
        if let Some(counter) = self
            .responses
            .get(usize::from(status / 100).wrapping_sub(1))
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Subscribes a connection to the drain deadline.
    pub fn closer(&self) -> watch::Receiver<bool> {
        self.close.subscribe()
    }

    /// Whether a backend with this target and status takes new traffic:
    /// in service ([`Self::serves`]), not ejected, and up by its checks
    /// (or unchecked). Given what the caller read, so a pool rebuild reads
    /// each backend once, under one lock.
    pub(super) fn eligible_in(t: &BackendTarget, s: &Status, now: Instant) -> bool {
        Self::serves(t, s)
            && s.ejected_until.is_none_or(|until| until <= now)
            && s.tracker
                .as_ref()
                .is_none_or(|tr| tr.verdict() == Verdict::Up)
    }

    /// In service whatever its health: enabled, weighted, not draining nor
    /// removed, dialable. What a pool that fails open serves when no
    /// backend is [`Self::eligible_in`] ([`weir_core::fail_open`]).
    pub(super) fn serves(t: &BackendTarget, s: &Status) -> bool {
        t.enabled && t.weight > 0 && !s.removed && !s.egress_denied && s.drain_deadline.is_none()
    }

    /// The live view for the API; `slow_start` is the pool's ramp.
    pub fn live(&self) -> BackendLive {
        let slow_start = *lock(&self.slow_start);
        let t = self.target.load();
        let s = lock(&self.status);
        let active = self.active.load(Ordering::Relaxed);
        let now = Instant::now();
        let state = state_of(&t, &s, now);
        let reason = match state {
            BackendState::Draining => Some(DRAINING_REASON.to_owned()),
            BackendState::Unhealthy => s.reason.clone(),
            BackendState::Healthy => ramp_progress(s.serving_since, slow_start, now)
                .filter(|_| !s.ramp_exempt)
                .map(|p| {
                    format!(
                        "slow start: {}% of its weight",
                        p * 100 / balance::RAMP_DONE
                    )
                }),
            BackendState::Checking | BackendState::Disabled | BackendState::Drained => None,
        };
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        // The deadline is on the monotonic clock; shown on the wall clock
        // it moves with a clock step, which a reader of a status can bear.
        let drain_deadline = match (state, s.drain_deadline) {
            (BackendState::Draining, Some(deadline)) => {
                let left = deadline.saturating_duration_since(now);
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Some(weir_core::Timestamp(
                    i64::try_from((wall + left).as_millis()).unwrap_or(i64::MAX),
                ))
            }
            _ => None,
        };
        BackendLive {
            state,
            reason,
            active_connections: active,
            drain_deadline,
            stats: BackendStats {
                total_connections: count(&self.total),
                requests: self.responses.iter().map(count).sum(),
                responses_5xx: count(&self.responses[4]),
                failures: count(&self.connect_failures)
                    + count(&self.tls_failures)
                    + count(&self.response_failures),
                bytes_in: count(&self.bytes_in),
                bytes_out: count(&self.bytes_out),
            },
        }
    }
}

/// Counts a connection to a backend for as long as it lives.
pub struct ConnGuard {
    pub(super) backend: Arc<BackendRuntime>,
}

impl ConnGuard {
    pub fn new(backend: Arc<BackendRuntime>) -> Self {
        backend.active.fetch_add(1, Ordering::Relaxed);
        backend.total.fetch_add(1, Ordering::Relaxed);
        Self { backend }
    }

    pub fn backend(&self) -> &Arc<BackendRuntime> {
        &self.backend
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.backend.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.backend.idle.notify_waiters();
        }
    }
}
