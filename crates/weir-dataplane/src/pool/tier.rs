//! One tier (primaries or backups) of a pool's selection snapshot: its
//! eligible backends and the tables each scheduler and sticky key pick
//! from.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use weir_core::ids::BackendId;
use weir_core::model::Scheduler;

use super::BackendRuntime;
use crate::balance;

/// Eligible backends of one tier with their selection tables.
#[derive(Default)]
pub(super) struct Tier {
    pub(super) members: Vec<Arc<BackendRuntime>>,
    weights: Vec<u32>,
    cycle: Vec<u32>,
    maglev: Vec<u32>,
}

impl Tier {
    /// `ramp[i]`: member `i`'s slow-start progress, if it is ramping.
    pub(super) fn build(
        members: Vec<Arc<BackendRuntime>>,
        ramp: &[Option<u32>],
        with_maglev: bool,
    ) -> Self {
        let configured: Vec<u32> = members
            .iter()
            .map(|m| u32::from(m.target.load().weight))
            .collect();
        let weights = balance::ramped_weights(&configured, ramp);
        let cycle = balance::swrr_cycle(&weights);
        let maglev = if with_maglev {
            let keys: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
            balance::maglev_table(&keys, &weights)
        } else {
            Vec::new()
        };
        Self {
            members,
            weights,
            cycle,
            maglev,
        }
    }

    pub(super) fn pick(
        &self,
        scheduler: Scheduler,
        client: SocketAddr,
        counter: &AtomicUsize,
        exclude: &[BackendId],
    ) -> Option<Arc<BackendRuntime>> {
        if self.members.is_empty() {
            return None;
        }
        let allowed = |i: usize| !exclude.contains(&self.members[i].id);
        match scheduler {
            Scheduler::Wrr => {
                let n = self.cycle.len();
                for _ in 0..n {
                    let i = self.cycle[counter.fetch_add(1, Ordering::Relaxed) % n] as usize;
                    if allowed(i) {
                        return Some(self.members[i].clone());
                    }
                }
                None
            }
            Scheduler::Lc => {
                let candidates: Vec<(u64, u32)> = self
                    .members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        (
                            m.active.load(Ordering::Relaxed),
                            if allowed(i) { self.weights[i] } else { 0 },
                        )
                    })
                    .collect();
                let start = counter.fetch_add(1, Ordering::Relaxed);
                balance::least_connections(&candidates, start % candidates.len())
                    .map(|i| self.members[i].clone())
            }
            Scheduler::Sh | Scheduler::ShPort => self.hashed(
                balance::source_key(client, scheduler == Scheduler::ShPort),
                exclude,
            ),
        }
    }

    /// The Maglev table's owner of `key`.
    fn hashed(&self, key: u64, exclude: &[BackendId]) -> Option<Arc<BackendRuntime>> {
        let n = self.maglev.len();
        if n == 0 {
            return None;
        }
        let start = (key % n as u64) as usize;
        // Excluded (failed) backends pass their keys on to the next
        // slot's owner; everyone else keeps theirs.
        (0..n)
            .map(|k| self.maglev[(start + k) % n] as usize)
            .find(|&i| !exclude.contains(&self.members[i].id))
            .map(|i| self.members[i].clone())
    }

    /// What a sticky key picks here, if anyone: only members of the tier
    /// are found, which are the eligible backends (healthy, enabled, not
    /// draining, not ejected), so a client naming any token or hash
    /// chooses at most among those.
    pub(super) fn sticky(&self, key: Sticky, exclude: &[BackendId]) -> Option<Arc<BackendRuntime>> {
        match key {
            Sticky::Backend(token) => self
                .members
                .iter()
                .find(|m| m.cookie_token == token && !exclude.contains(&m.id))
                .cloned(),
            Sticky::Hash(key) => self.hashed(key, exclude),
        }
    }
}

/// What an HTTP request carries to stay on one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sticky {
    /// HTTP_COOKIE: the [`BackendRuntime::cookie_token`] of the backend
    /// that answered before.
    Backend(u64),
    /// APP_COOKIE: the hash of the application cookie's value, looked up
    /// in the Maglev table.
    Hash(u64),
}
