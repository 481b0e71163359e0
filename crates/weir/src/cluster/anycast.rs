//! `anycast` mode: every node serves every VIP and announces, through the
//! operator's BIRD, those its data plane can serve
//! (`weir_core::cluster::anycast::announcements`).
//!
//! Every round (`renew_every`) the node heartbeats, puts every VIP of the
//! topology on `cluster.vip_interface` (refreshing each address's kernel
//! lifetime, so the listeners can bind and so a killed node's addresses,
//! and with them BIRD's direct routes, run out by themselves), reads its
//! data plane's live state and publishes the VIPs that serve. On a
//! shutdown it withdraws everything, waits a round (0.5 to 1 s) for the
//! routers to move new connections away, and takes the addresses off; on a handover
//! to a successor (`--takeover`, at the successor's READY) it stops and
//! leaves both to the successor. Killed, it leaves the addresses to the
//! guard (`super::guard`), which takes them off at once, so BIRD's direct
//! routes go with them.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use weir_core::cluster::anycast::{announcements, changes, ListenerReadiness};
use weir_core::cluster::{LeaseTimings, NodeRecord, VipMode};
use weir_core::status::{BackendState, ListenerLive};
use weir_core::topology::Topology;
use weir_dataplane::DataPlane;

use super::bird::Bird;
use super::metrics::ClusterMetrics;
use super::vip::Addresses;
use super::{Context, Departure};

/// What the loop acts with.
pub struct Announcer {
    pub addresses: Addresses,
    pub bird: Bird,
    pub dataplane: DataPlane,
    /// Whether this loop heartbeats (not when the lease loop runs too).
    pub beats: bool,
    /// The lease loop's held VIPs when it runs: a VIP whose load balancer
    /// moved to `failover` and whose lease this node took keeps its
    /// address.
    pub held: Option<super::leases::Held>,
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    ctx: Context,
    mut record: NodeRecord,
    timings: LeaseTimings,
    mut announcer: Announcer,
    metrics: Arc<ClusterMetrics>,
    mut leave: watch::Receiver<Option<Departure>>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let every = Duration::from_millis(timings.renew_every_ms);
    let cluster = ctx.store.cluster();
    let mut on_interface: BTreeSet<IpAddr> = BTreeSet::new();
    let mut announced: Option<BTreeSet<IpAddr>> = None;
    let mut failing = false;
    let mut bird_failing = false;
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = leave.changed() => {
                    let departure = *leave.borrow();
                    if departure == Some(Departure::Stop) {
                        withdraw_all(&mut announcer, &on_interface, announced.as_ref(), &metrics, every).await;
                    } else {
                        // The successor refreshes and announces the same
                        // VIPs: the guard must leave them when this
                        // process ends.
                        announcer.addresses.hand_over();
                        tracing::info!(vips = on_interface.len(), "handed the anycast VIPs over to the successor");
                    }
                    let _ = done.send(());
                    return;
                }
            }
        }
        first = false;
        if announcer.beats {
            record.applied_revision = ctx.applied.as_ref().map_or(0, |a| *a.borrow());
            let beat = tokio::time::timeout(every, async {
                cluster.heartbeat(&record).await?;
                cluster.view().await
            })
            .await;
            match beat {
                Ok(Ok(view)) => {
                    metrics.saw(&view, ctx.settings.node_timeout_ms);
                    super::report_unmanaged(&ctx, record.holds_vips);
                    failing = super::report(Ok(Ok(())), failing);
                }
                Ok(Err(e)) => failing = super::report(Ok(Err(e)), failing),
                Err(elapsed) => failing = super::report(Err(elapsed), failing),
            }
        }
        // Serving does not hang on the registry: a node that cannot reach
        // it serves the topology it has, as in `none` mode.
        let topology = ctx.topology.borrow().clone();
        let vips = super::vips_in(&ctx.settings, &topology, VipMode::Anycast);
        let mut added = false;
        for vip in &vips {
            match announcer.addresses.add(*vip).await {
                Ok(()) => added |= on_interface.insert(*vip),
                Err(e) => tracing::error!(%vip, error = %e, "cannot put the VIP on the interface"),
            }
        }
        let gone: Vec<IpAddr> = on_interface.difference(&vips).copied().collect();
        for vip in gone {
            // Its load balancer moved to `failover` and this node holds
            // the lease: the address is the lease loop's now.
            if announcer.held.as_ref().is_some_and(|h| h.holds(vip)) {
                on_interface.remove(&vip);
                continue;
            }
            if let Err(e) = announcer.addresses.remove(vip).await {
                tracing::warn!(%vip, error = %e, "cannot remove a VIP no load balancer has");
            }
            on_interface.remove(&vip);
        }
        if added {
            // Listeners whose VIP was not local yet bind now, not at the
            // data plane's next retry.
            announcer.dataplane.retry_binds_soon();
        }
        let ready = readiness(&topology, &vips, &announcer.dataplane);
        let wanted: BTreeSet<IpAddr> = announcements(false, &ready)
            .intersection(&on_interface)
            .copied()
            .collect();
        match announcer.bird.publish(&wanted).await {
            Ok(sent) => {
                if bird_failing {
                    tracing::info!("BIRD takes the announcements again");
                    bird_failing = false;
                }
                if sent {
                    let before = announced.clone().unwrap_or_default();
                    let (up, down) = changes(&before, &wanted);
                    if !down.is_empty() {
                        metrics.withdrew(down.len());
                    }
                    tracing::info!(announced = ?up, withdrawn = ?down, "anycast announcements changed");
                }
                announced = Some(wanted.clone());
            }
            Err(e) => {
                if !bird_failing {
                    tracing::error!(error = %e, "cannot publish the announcements to BIRD");
                    bird_failing = true;
                }
            }
        }
        metrics.serving(
            VipMode::Anycast,
            &vips,
            announced.as_ref().unwrap_or(&BTreeSet::new()),
        );
    }
}

/// Every listener of the anycast `vips` as this node's data plane serves
/// it now.
fn readiness(
    topology: &Topology,
    vips: &BTreeSet<IpAddr>,
    dp: &DataPlane,
) -> Vec<ListenerReadiness> {
    topology
        .listeners
        .values()
        .filter(|l| vips.contains(&l.vip))
        .map(|l| {
            let pools = l.pools.iter().chain(
                l.l7_targets
                    .iter()
                    .filter(|t| t.enabled)
                    .map(|t| &t.pool_id),
            );
            let healthy_backends = pools
                .filter_map(|p| topology.pools.get(p))
                .flat_map(|p| p.backends.iter())
                .filter(|b| {
                    dp.backend_live(&b.id)
                        .is_some_and(|live| live.state == BackendState::Healthy)
                })
                .count();
            ListenerReadiness {
                vip: l.vip,
                bound: matches!(dp.listener_live(&l.id), Some(ListenerLive::Active)),
                answers_itself: l.redirect_https_port.is_some(),
                healthy_backends,
            }
        })
        .collect()
}

/// A planned stop: nothing announced, a round for the routers to hear
/// it, then the addresses off the interface.
async fn withdraw_all(
    announcer: &mut Announcer,
    on_interface: &BTreeSet<IpAddr>,
    announced: Option<&BTreeSet<IpAddr>>,
    metrics: &ClusterMetrics,
    every: Duration,
) {
    match announcer.bird.publish(&BTreeSet::new()).await {
        Ok(_) => {
            let count = announced.map_or(0, BTreeSet::len);
            metrics.withdrew(count);
            tracing::info!(withdrawn = count, "withdrew every VIP before stopping");
            // The withdrawal travels BIRD (which reconfigures in the
            // background) → its peers → their kernels: milliseconds when
            // idle, more on a loaded machine; connections routed here
            // meanwhile are still served. A round, within half a second
            // and a second.
            tokio::time::sleep(every.clamp(Duration::from_millis(500), Duration::from_secs(1)))
                .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot withdraw the VIPs from BIRD; their addresses go instead")
        }
    }
    for vip in on_interface {
        if let Err(e) = announcer.addresses.remove(*vip).await {
            tracing::warn!(%vip, error = %e, "cannot remove the VIP from the interface");
        }
    }
}
