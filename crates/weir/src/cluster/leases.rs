//! `failover` mode: the VIP leases this node holds, and the fence.
//!
//! Every `renew_every` the node heartbeats, reads nodes and leases, asks
//! `weir_core::cluster::plan_leases` what to do and does it (the store's
//! compare-and-set on the epoch settles races). A VIP it holds is on its
//! interface and in the topology its data plane follows ([`Held::gate`]
//! cuts every other VIP's listeners out); any other is on neither.
//!
//! The fence: before each round the node stamps `sent` on its monotonic
//! clock; a renewal that succeeds lets it serve until `sent + hold`. Once
//! that passes without another success (the database unreachable, the
//! round stuck) it stops serving and removes the address. Another node
//! can take the lease only after its expiry, `ttl` after the renewal's
//! statement ran on the database, itself after `sent`; `hold` plus one
//! round (the most the check can be late) is below `ttl`, so the old
//! owner is gone first (`LeaseTimings`).
//!
//! A `--takeover` successor is the same node: it starts with the VIPs on
//! its interface served (its gate opens them, so its data plane adopts
//! their sockets), keeps those its first round renews and lets the rest
//! go; its predecessor hands over at the successor's READY and leaves the
//! addresses in place.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use weir_core::cluster::{
    node_state, plan_leases, ClusterSettings, LeaseAction, LeaseTimings, Member, NodeRecord,
    VipMode,
};
use weir_core::topology::Topology;

use super::vip::Addresses;
use super::{Context, Departure};

/// How long a node taking a VIP listens for another host answering its
/// ARP probe or neighbour solicitation for it: on one segment a reply
/// takes well under a millisecond.
const PROBE_WAIT: Duration = Duration::from_millis(30);

/// The VIPs this node serves, as the gate task sees them.
#[derive(Clone)]
pub struct Held(watch::Sender<BTreeSet<IpAddr>>);

impl Held {
    /// The topology cut to the held VIPs' listeners (pools all stay, so a
    /// standby's health checks are warm when a VIP comes to it), updated
    /// when either changes.
    pub fn gate(
        settings: ClusterSettings,
        mut topology: watch::Receiver<Arc<Topology>>,
        adopted: BTreeSet<IpAddr>,
    ) -> (Held, watch::Receiver<Arc<Topology>>) {
        let (held_tx, mut held) = watch::channel(adopted);
        let first = cut(
            &settings,
            &topology.borrow_and_update(),
            &held.borrow_and_update(),
        );
        let (out, rx) = watch::channel(Arc::new(first));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = topology.changed() => if changed.is_err() { return },
                    changed = held.changed() => if changed.is_err() { return },
                }
                let next = cut(
                    &settings,
                    &topology.borrow_and_update(),
                    &held.borrow_and_update(),
                );
                if out.send(Arc::new(next)).is_err() {
                    return;
                }
            }
        });
        (Held(held_tx), rx)
    }

    /// Whether this node holds `vip`'s lease and serves it now.
    pub fn holds(&self, vip: IpAddr) -> bool {
        self.0.borrow().contains(&vip)
    }

    fn set(&self, vip: IpAddr, on: bool) {
        self.0.send_modify(|set| {
            if on {
                set.insert(vip);
            } else {
                set.remove(&vip);
            }
        });
    }
}

/// Listeners of load balancers in another mode pass: they are not
/// leased.
fn cut(settings: &ClusterSettings, topology: &Topology, held: &BTreeSet<IpAddr>) -> Topology {
    Topology {
        revision: topology.revision,
        listeners: topology
            .listeners
            .iter()
            .filter(|(_, l)| {
                held.contains(&l.vip) || settings.mode_of(l.vip_mode) != VipMode::Failover
            })
            .map(|(id, l)| (id.clone(), l.clone()))
            .collect(),
        pools: topology.pools.clone(),
    }
}

/// A lease this node holds.
struct Mine {
    epoch: u64,
    /// When to stop serving unless renewed again.
    until: Instant,
}

/// What one round found for a VIP.
enum Outcome {
    Hold(u64),
    LetGo,
}

pub async fn run(
    ctx: Context,
    mut record: NodeRecord,
    timings: LeaseTimings,
    held: Held,
    addresses: Option<Addresses>,
    mut leave: watch::Receiver<Option<Departure>>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let every = Duration::from_millis(timings.renew_every_ms);
    let hold = Duration::from_millis(timings.hold_ms);
    let mut mine: BTreeMap<IpAddr, Mine> = BTreeMap::new();
    // A node that crashed holding VIPs may have left them on its
    // interface: it holds nothing now. A successor (`--takeover`) finds
    // its predecessor's addresses on instead, which still serve: it keeps
    // them while it renews their leases (the same node id, so the same
    // owner and epoch) and clears only what its first round finds it
    // does not hold.
    // Until when an adopted VIP may wait for the round that confirms it:
    // the predecessor's own fence covers it meanwhile (it renews until it
    // hands over), and the kernel lifetime it last refreshed, at most the
    // hold, covers the rest.
    let mut adopting = ctx.takeover.then(|| Instant::now() + hold);
    if adopting.is_none() {
        clear(&ctx, &held, addresses.as_ref(), &mine).await;
    }
    let mut failing = false;
    loop {
        let deadline = mine.values().map(|m| m.until).min();
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = sleep_until(deadline) => {}
            _ = leave.changed() => {
                if *leave.borrow() == Some(Departure::HandOver) {
                    // The successor renews the same leases and serves on
                    // with the addresses as they are: leave them, and
                    // tell the guard so (it would take them off when this
                    // process ends).
                    if let Some(addresses) = &addresses {
                        addresses.hand_over();
                    }
                    tracing::info!(vips = mine.len(), "handed the VIPs over to the successor");
                    let _ = done.send(());
                    // The gate stays as it is while the data plane drains
                    // (it would see a closed topology otherwise).
                    let _keep = held;
                    std::future::pending::<()>().await;
                    return;
                }
                // Shutting down: let go of every VIP now and expire the
                // leases, so another node takes them at its next round
                // instead of after the lease time.
                let cluster = ctx.store.cluster();
                for (vip, m) in std::mem::take(&mut mine) {
                    let_go(&ctx, vip, &held, addresses.as_ref()).await;
                    let released = tokio::time::timeout(every, cluster.release_lease(vip, &record.id, m.epoch)).await;
                    tracing::info!(%vip, epoch = m.epoch, released = matches!(released, Ok(Ok(true))), "left the VIP");
                }
                let _ = done.send(());
                return;
            }
        }
        let now = Instant::now();
        let expired: Vec<IpAddr> = mine
            .iter()
            .filter(|(_, m)| m.until <= now)
            .map(|(vip, _)| *vip)
            .collect();
        for vip in expired {
            let epoch = mine.remove(&vip).map_or(0, |m| m.epoch);
            tracing::warn!(%vip, epoch, "lease not renewed in time: letting the VIP go");
            let_go(&ctx, vip, &held, addresses.as_ref()).await;
        }
        if adopting.is_some_and(|until| until <= now) {
            tracing::warn!("no round confirmed the predecessor's VIPs in time: letting them go");
            clear(&ctx, &held, addresses.as_ref(), &mine).await;
            adopting = None;
        }
        let sent = Instant::now();
        record.applied_revision = ctx.applied.as_ref().map_or(0, |a| *a.borrow());
        let outcomes = match tokio::time::timeout(every, round(&ctx, &record, &timings)).await {
            Ok(Ok(outcomes)) => {
                if failing {
                    tracing::info!("the registry answers again");
                    failing = false;
                }
                outcomes
            }
            Ok(Err(e)) => {
                if !failing {
                    tracing::warn!(error = %e, "cluster round failed");
                    failing = true;
                }
                continue;
            }
            Err(_) => {
                if !failing {
                    tracing::warn!("cluster round timed out");
                    failing = true;
                }
                continue;
            }
        };
        // A lease the round did not confirm is no longer this node's.
        let confirmed: BTreeSet<IpAddr> = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Hold(_)))
            .map(|(vip, _)| *vip)
            .collect();
        let lost: Vec<IpAddr> = mine
            .keys()
            .filter(|vip| !confirmed.contains(vip))
            .copied()
            .collect();
        for vip in lost {
            let epoch = mine.remove(&vip).map_or(0, |m| m.epoch);
            tracing::info!(%vip, epoch, "lease gone: letting the VIP go");
            let_go(&ctx, vip, &held, addresses.as_ref()).await;
        }
        for (vip, outcome) in outcomes {
            let Outcome::Hold(epoch) = outcome else {
                continue;
            };
            let until = sent + hold;
            if until <= Instant::now() {
                // The round itself outlasted the hold: serving now would
                // not be covered by the lease.
                continue;
            }
            let new = !mine.contains_key(&vip);
            if let (true, Some(addresses)) = (new, &addresses) {
                // A killed owner's address may still answer: take the VIP
                // up only once nobody does (the lease stays this node's
                // meanwhile, renewed every round).
                if addresses.answered_elsewhere(vip, PROBE_WAIT).await {
                    tracing::info!(%vip, epoch, "the VIP still answers elsewhere; waiting");
                    continue;
                }
            }
            // Refreshes the address's kernel lifetime, or adds it.
            if let Some(addresses) = &addresses {
                if let Err(e) = addresses.add(vip).await {
                    tracing::error!(%vip, error = %e, "cannot put the VIP on the interface");
                    continue;
                }
            }
            mine.insert(vip, Mine { epoch, until });
            if new {
                tracing::info!(%vip, epoch, "holding the VIP");
                held.set(vip, true);
                if let Some(addresses) = &addresses {
                    addresses.announce(vip);
                }
            }
        }
        if adopting.take().is_some() {
            clear(&ctx, &held, addresses.as_ref(), &mine).await;
        }
        ctx.metrics.serving(
            VipMode::Failover,
            &vips(&ctx),
            &mine.keys().copied().collect(),
        );
        super::report_unmanaged(&ctx, record.holds_vips);
    }
}

/// Stops serving every VIP of the topology this node does not hold and
/// takes it off the interface.
async fn clear(
    ctx: &Context,
    held: &Held,
    addresses: Option<&Addresses>,
    mine: &BTreeMap<IpAddr, Mine>,
) {
    for vip in vips(ctx) {
        if !mine.contains_key(&vip) {
            let_go(ctx, vip, held, addresses).await;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Stops serving `vip` and takes it off the interface, unless its load
/// balancer moved to `anycast`, whose loop keeps the address.
async fn let_go(ctx: &Context, vip: IpAddr, held: &Held, addresses: Option<&Addresses>) {
    held.set(vip, false);
    let anycast = super::vips_in(&ctx.settings, &ctx.topology.borrow(), VipMode::Anycast);
    if let (false, Some(addresses)) = (anycast.contains(&vip), addresses) {
        if let Err(e) = addresses.remove(vip).await {
            tracing::error!(%vip, error = %e, "cannot remove the VIP from the interface");
        }
    }
}

/// The VIPs to lease: those of load balancers in `failover` mode.
fn vips(ctx: &Context) -> BTreeSet<IpAddr> {
    super::vips_in(&ctx.settings, &ctx.topology.borrow(), VipMode::Failover)
}

/// One heartbeat and lease round against the store.
async fn round(
    ctx: &Context,
    record: &NodeRecord,
    timings: &LeaseTimings,
) -> weir_store::StoreResult<Vec<(IpAddr, Outcome)>> {
    let cluster = ctx.store.cluster();
    cluster.heartbeat(record).await?;
    let view = cluster.view().await?;
    ctx.metrics.saw(&view, ctx.settings.node_timeout_ms);
    let members: Vec<Member> = view
        .nodes
        .iter()
        .map(|n| Member {
            id: n.id.clone(),
            state: node_state(
                view.now_ms.saturating_sub(n.heartbeat_ms),
                ctx.settings.node_timeout_ms,
            ),
            holds_vips: n.holds_vips,
        })
        .collect();
    let me = record.id.as_str();
    let plan = plan_leases(me, &vips(ctx), &members, &view.leases, view.now_ms);
    let mut outcomes = Vec::with_capacity(plan.len());
    for action in plan {
        match action {
            LeaseAction::Renew { vip, epoch } => {
                let kept = cluster.renew_lease(vip, me, epoch, timings.ttl_ms).await?;
                outcomes.push((
                    vip,
                    if kept {
                        Outcome::Hold(epoch)
                    } else {
                        Outcome::LetGo
                    },
                ));
            }
            LeaseAction::Acquire { vip, seen_epoch } => {
                if let Some(epoch) = cluster
                    .acquire_lease(vip, me, seen_epoch, timings.ttl_ms)
                    .await?
                {
                    if seen_epoch > 0 {
                        // Someone held it before: a failover (or a VIP
                        // moving after a release).
                        ctx.metrics.failed_over();
                    }
                    outcomes.push((vip, Outcome::Hold(epoch)));
                }
            }
            LeaseAction::Release { vip, epoch } => {
                cluster.release_lease(vip, me, epoch).await?;
                outcomes.push((vip, Outcome::LetGo));
            }
        }
    }
    Ok(outcomes)
}
