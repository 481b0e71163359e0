//! A listener that takes the address and port of one just removed binds
//! at once (Octavia deletes a listener and the next test creates another
//! on the same VIP and port), and a connection the removed one accepted
//! carries on.
//!
//! The runtime is current-thread on purpose: an aborted accept task cannot
//! run (and drop its socket) while `apply` holds the thread, so the port is
//! free for the new listener only because `stop` released it.

use std::sync::Arc;

use weir_core::model::*;
use weir_core::status::ListenerLive;
use weir_core::topology::Topology;

use crate::support::*;

/// `topology` with its one listener renamed and serving a pool of its
/// own (`pool-<listener>`, holding `backends`); the earlier pools stay, so
/// connections to their backends are not drained.
fn renamed(
    topology: &Topology,
    revision: u64,
    listener: &str,
    backends: Vec<weir_core::topology::BackendTarget>,
) -> Arc<Topology> {
    let mut t = topology.clone();
    t.revision = revision;
    let pool_id: weir_core::ids::PoolId = format!("pool-{listener}").as_str().into();
    let (_, spec) = t.listeners.pop_first().unwrap();
    let mut spec = (*spec).clone();
    let template = t.pools[&spec.pools[0]].clone();
    spec.id = listener.into();
    spec.pools = vec![pool_id.clone()];
    t.listeners.insert(spec.id.clone(), Arc::new(spec));
    let mut pool = (*template).clone();
    pool.id = pool_id.clone();
    pool.backends = backends.into_iter().collect();
    t.pools.insert(pool_id, Arc::new(pool));
    Arc::new(t)
}

#[tokio::test]
async fn a_listener_replacing_a_removed_one_on_its_port_binds_at_once() {
    let (old, _old_task) = tcp_backend("old").await;
    let (new, _new_task) = tcp_backend("new").await;
    let (newer, _newer_task) = tcp_backend("newer").await;
    let vip = vip();
    let dp = dataplane();
    let first = topology(
        1,
        vip,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("b-old", old, 1)],
        None,
        0,
    );
    dp.apply(first.clone());
    assert_eq!(
        dp.listener_live(&"listener".into()),
        Some(ListenerLive::Active)
    );
    let (tag, mut kept) = open(vip).await;
    assert_eq!(tag, "old");

    // Removed and replaced in one topology: stopped, then bound again.
    let second = renamed(&first, 2, "second", vec![backend("b-new", new, 1)]);
    dp.apply(second.clone());
    assert_eq!(dp.listener_live(&"listener".into()), None);
    assert_eq!(
        dp.listener_live(&"second".into()),
        Some(ListenerLive::Active)
    );
    assert_eq!(open(vip).await.0, "new");
    assert_eq!(
        echo(&mut kept, "still here").await.as_deref(),
        Some("still here"),
        "a connection of the removed listener carries on"
    );

    // Removed in one topology, replaced in the next, with nothing run in
    // between.
    let empty = Arc::new(Topology {
        revision: 3,
        listeners: Default::default(),
        pools: second.pools.clone(),
    });
    dp.apply(empty);
    dp.apply(renamed(
        &second,
        4,
        "third",
        vec![backend("b-newer", newer, 1)],
    ));
    assert_eq!(
        dp.listener_live(&"third".into()),
        Some(ListenerLive::Active)
    );
    assert_eq!(open(vip).await.0, "newer");
}
