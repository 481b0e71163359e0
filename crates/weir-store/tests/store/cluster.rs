//! Node rows and VIP leases: the store's side of issue 17. The lease
//! statements are compare-and-set on the epoch, so of two nodes racing
//! for one VIP exactly one wins, and a holder whose lease moved on can
//! neither renew nor release it.

use std::sync::Arc;

use weir_core::cluster::NodeRecord;
use weir_store::Store;

fn node(id: &str, revision: u64) -> NodeRecord {
    NodeRecord {
        id: id.to_owned(),
        name: format!("name-{id}"),
        api_address: "127.0.0.1:8480".to_owned(),
        data_addresses: vec!["198.18.0.2".to_owned(), "2001:db8::2".to_owned()],
        holds_vips: true,
        applied_revision: revision,
        started_ms: 0,
        heartbeat_ms: 0,
    }
}

/// A heartbeat writes the row, a second one updates it in place with a
/// later stamp; the database's time is read with the rows.
pub(crate) async fn nodes_heartbeat_in_place(store: Arc<dyn Store>) {
    let cluster = store.cluster();
    cluster.heartbeat(&node("n1", 3)).await.unwrap();
    cluster.started("n1").await.unwrap();
    let first = cluster.view().await.unwrap();
    assert_eq!(first.nodes.len(), 1);
    let row = &first.nodes[0];
    assert_eq!(
        (row.id.as_str(), row.name.as_str(), row.applied_revision),
        ("n1", "name-n1", 3)
    );
    assert_eq!(row.data_addresses, ["198.18.0.2", "2001:db8::2"]);
    assert!(row.holds_vips);
    assert!(row.heartbeat_ms <= first.now_ms && row.started_ms <= first.now_ms);
    let mut later = node("n1", 9);
    later.data_addresses.clear();
    cluster.heartbeat(&later).await.unwrap();
    cluster.heartbeat(&node("n0", 1)).await.unwrap();
    let second = cluster.view().await.unwrap();
    assert_eq!(second.nodes.len(), 2);
    let n1 = second.nodes.iter().find(|n| n.id == "n1").unwrap();
    assert_eq!(n1.applied_revision, 9);
    assert!(n1.data_addresses.is_empty());
    assert!(n1.heartbeat_ms >= row.heartbeat_ms);
    assert_eq!(n1.started_ms, row.started_ms, "a heartbeat is not a start");
}

/// Leases change hands only at the epoch seen and after expiry.
pub(crate) async fn leases_are_compare_and_set_on_the_epoch(store: Arc<dyn Store>) {
    let cluster = store.cluster();
    let vip = "198.18.1.10".parse().unwrap();
    let long = 3_600_000;
    // No row: the first of two takers wins epoch 1, the second loses.
    assert_eq!(
        cluster.acquire_lease(vip, "a", 0, long).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        cluster.acquire_lease(vip, "b", 0, long).await.unwrap(),
        None
    );
    // A live lease is not taken even at its epoch.
    assert_eq!(
        cluster.acquire_lease(vip, "b", 1, long).await.unwrap(),
        None
    );
    assert!(cluster.renew_lease(vip, "a", 1, long).await.unwrap());
    assert!(!cluster.renew_lease(vip, "b", 1, long).await.unwrap());
    assert!(!cluster.renew_lease(vip, "a", 2, long).await.unwrap());
    // Released (expired): taken at the epoch seen, once, and the old
    // holder can no longer renew or release.
    assert!(cluster.release_lease(vip, "a", 1).await.unwrap());
    assert!(!cluster.renew_lease(vip, "a", 1, long).await.unwrap());
    assert_eq!(
        cluster.acquire_lease(vip, "b", 0, long).await.unwrap(),
        None
    );
    assert_eq!(
        cluster.acquire_lease(vip, "b", 1, long).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        cluster.acquire_lease(vip, "c", 1, long).await.unwrap(),
        None
    );
    assert!(!cluster.release_lease(vip, "a", 1).await.unwrap());
    let view = cluster.view().await.unwrap();
    assert_eq!(view.leases.len(), 1);
    let held = &view.leases[0];
    assert_eq!((held.vip, held.owner.as_str(), held.epoch), (vip, "b", 2));
    assert!(held.live_at(view.now_ms));
    // A lease of 1 ms expires by itself; then it is taken at its epoch.
    let other = "2001:db8::7".parse().unwrap();
    assert_eq!(
        cluster.acquire_lease(other, "a", 0, 1).await.unwrap(),
        Some(1)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let view = cluster.view().await.unwrap();
        let lease = view.leases.iter().find(|l| l.vip == other).unwrap();
        if !lease.live_at(view.now_ms) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 ms lease never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!cluster.renew_lease(other, "a", 1, long).await.unwrap());
    assert_eq!(
        cluster.acquire_lease(other, "b", 1, long).await.unwrap(),
        Some(2)
    );
}

/// A load balancer's own VIP mode is stored on create, changed and
/// cleared by an update (back to the deployment's), and each change is
/// logged with the load balancer's scope, so every node's follower
/// reloads it and moves the VIP between regimes.
pub(crate) async fn lb_vip_mode_round_trips_and_is_logged(store: Arc<dyn Store>) {
    use weir_core::cluster::VipMode;
    use weir_core::model::LoadBalancer;
    let (lb, _) = super::seed(&*store).await;
    assert_eq!(lb.vip_mode, None, "seeded inheriting");
    let mut r = store.read().await.unwrap();
    assert_eq!(r.load_balancer(&lb.id).await.unwrap(), Some(lb.clone()));
    drop(r);
    for mode in [
        Some(VipMode::Anycast),
        Some(VipMode::Failover),
        Some(VipMode::None),
        None,
    ] {
        let before = store.read().await.unwrap().revision().await.unwrap();
        let next = LoadBalancer {
            vip_mode: mode,
            ..lb.clone()
        };
        let mut tx = store.begin().await.unwrap();
        tx.update_load_balancer(&next).await.unwrap();
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        assert_eq!(r.load_balancer(&lb.id).await.unwrap(), Some(next));
        let changes = r.changes_since(before, 10).await.unwrap();
        assert_eq!(changes.len(), 1, "{mode:?}");
        assert_eq!(changes[0].lb_id.as_ref(), Some(&lb.id));
    }
    // A second load balancer created with a mode keeps it from the start.
    let mut second = LoadBalancer {
        vip_mode: Some(VipMode::Anycast),
        ..lb.clone()
    };
    second.id = "lb-any".into();
    second.vip = "10.0.1.77".parse().unwrap();
    second.default_pool_id = "lb-any-pool".into();
    let pool = weir_core::model::Pool::new(
        second.default_pool_id.clone(),
        (&second.project_id, &second.id),
        None,
        "default".to_owned(),
        second.created_at,
    );
    let mut tx = store.begin().await.unwrap();
    tx.insert_load_balancer(&second, &pool).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.load_balancer(&second.id).await.unwrap(), Some(second));
}
