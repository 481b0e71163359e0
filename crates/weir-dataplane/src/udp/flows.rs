//! The bookkeeping of a UDP port's flows, apart from its sockets: which
//! client address has a flow, how many one source holds, whether a new
//! one is admitted, and when an idle one ends. `udp` runs it; it is public
//! (and hidden from the docs) only so `fuzz/fuzz_targets/udp_flows.rs` can
//! check it against a model. Not an API.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::listener::{Slot, Slots};

/// The flows of one bound port, by client address, with a count per
/// source address kept in step so the per-source cap costs one lookup.
#[derive(Debug)]
pub struct FlowTable<F> {
    by_client: HashMap<SocketAddr, F>,
    per_source: HashMap<IpAddr, usize>,
}

impl<F> Default for FlowTable<F> {
    fn default() -> Self {
        Self {
            by_client: HashMap::new(),
            per_source: HashMap::new(),
        }
    }
}

impl<F> FlowTable<F> {
    pub fn get(&self, client: &SocketAddr) -> Option<&F> {
        self.by_client.get(client)
    }

    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// Flows `source` holds on this port.
    pub fn from_source(&self, source: IpAddr) -> usize {
        self.per_source.get(&source).copied().unwrap_or(0)
    }

    /// Records a new flow. A client that already has one keeps its count:
    /// the flow is replaced, not added.
    pub fn insert(&mut self, client: SocketAddr, flow: F) {
        if self.by_client.insert(client, flow).is_none() {
            *self.per_source.entry(client.ip()).or_insert(0) += 1;
        }
    }

    /// Forgets a flow; a source with none left is forgotten too, so the
    /// table never holds more than its flows.
    pub fn remove(&mut self, client: SocketAddr) -> Option<F> {
        let flow = self.by_client.remove(&client)?;
        if let Some(n) = self.per_source.get_mut(&client.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&client.ip());
            }
        }
        Some(flow)
    }

    /// Sources with at least one flow.
    pub fn sources(&self) -> usize {
        self.per_source.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SocketAddr, &F)> {
        self.by_client.iter()
    }
}

/// The admission of a new flow from a source that holds `from_source`
/// flows on this port: under the per-source cap, then a slot of the
/// listener's cap, then `budget` (the descriptor budget) last, since it
/// may count descriptors for real.
pub fn admit(
    from_source: usize,
    per_source_cap: usize,
    slots: &Arc<Slots>,
    budget: impl FnOnce() -> bool,
) -> Option<Slot> {
    if from_source >= per_source_cap {
        return None;
    }
    let slot = slots.try_acquire()?;
    budget().then_some(slot)
}

/// How much longer a flow quiet since `last_ms` lives at `now_ms`, or
/// `None` once it has been quiet for `idle`.
pub fn idle_left(now_ms: u64, last_ms: u64, idle: Duration) -> Option<Duration> {
    let quiet = Duration::from_millis(now_ms.saturating_sub(last_ms));
    (quiet < idle).then(|| idle - quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, ip], port))
    }

    #[test]
    fn sources_are_counted_with_their_flows() {
        let mut table = FlowTable::default();
        table.insert(client(1, 1000), 'a');
        table.insert(client(1, 1001), 'b');
        table.insert(client(1, 1001), 'c');
        table.insert(client(2, 1000), 'd');
        assert_eq!(table.from_source(client(1, 0).ip()), 2);
        assert_eq!(table.get(&client(1, 1001)), Some(&'c'));
        assert_eq!(table.remove(client(1, 1000)), Some('a'));
        assert_eq!(table.remove(client(1, 1000)), None);
        assert_eq!(table.remove(client(1, 1001)), Some('c'));
        assert_eq!(table.from_source(client(1, 0).ip()), 0);
        assert_eq!((table.len(), table.sources()), (1, 1));
    }

    #[test]
    fn admission_checks_the_source_then_the_listener_then_the_budget() {
        let slots = Arc::new(Slots::default());
        slots.set_limit(1);
        assert!(admit(2, 2, &slots, || true).is_none());
        assert!(admit(0, 2, &slots, || false).is_none());
        assert_eq!(slots.open(), 0, "a refused budget gives the slot back");
        let held = admit(1, 2, &slots, || true).expect("a free slot");
        assert!(admit(0, 2, &slots, || panic!("the listener is full")).is_none());
        drop(held);
        assert!(admit(0, 2, &slots, || true).is_some());
    }

    #[test]
    fn a_flow_ends_once_quiet_for_its_idle_timeout() {
        let idle = Duration::from_millis(100);
        assert_eq!(idle_left(1_000, 1_000, idle), Some(idle));
        assert_eq!(
            idle_left(1_099, 1_000, idle),
            Some(Duration::from_millis(1))
        );
        assert_eq!(idle_left(1_100, 1_000, idle), None);
        // A datagram stamped after `now` was read: the flow is fresh.
        assert_eq!(idle_left(900, 1_000, idle), Some(idle));
    }
}
