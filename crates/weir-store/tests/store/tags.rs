//! Tags on every resource: the store's side of Octavia's `tags`.

use std::sync::Arc;

use weir_core::model::*;
use weir_store::Store;

use super::{backend, seed, t};

/// Tags on every resource are written, read back, replaced and cleared.
pub(crate) async fn tags_round_trip_and_update(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let group = Pool {
        tags: vec!["blue".into()],
        monitor_tags: vec!["hm".into()],
        ..Pool::new(
            "g1".into(),
            (&lb.project_id, &lb.id),
            None,
            "g".into(),
            t(5),
        )
    };
    let member = Backend {
        pool_id: "g1".into(),
        ..backend("m1", "10.0.1.7", BackendPorts::One(80))
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_server_group(&group).await.unwrap();
    tx.insert_backends(std::slice::from_ref(&member))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(
        r.load_balancer(&lb.id).await.unwrap().unwrap().tags,
        ["edge", "prod"]
    );
    assert_eq!(
        r.listener(&listener.id).await.unwrap().unwrap().tags,
        listener.tags
    );
    assert_eq!(r.pool(&group.id).await.unwrap(), Some(group.clone()));
    assert_eq!(r.backend(&member.id).await.unwrap(), Some(member.clone()));
    // A pool made without tags reads back none.
    assert!(r
        .pool(&lb.default_pool_id)
        .await
        .unwrap()
        .unwrap()
        .tags
        .is_empty());
    drop(r);

    for tags in [vec!["one".to_owned(); 1], Vec::new()] {
        let lb2 = LoadBalancer {
            tags: tags.clone(),
            ..lb.clone()
        };
        let l2 = Listener {
            tags: tags.clone(),
            ..listener.clone()
        };
        let g2 = Pool {
            tags: tags.clone(),
            monitor_tags: tags.clone(),
            ..group.clone()
        };
        let m2 = Backend {
            tags: tags.clone(),
            ..member.clone()
        };
        let mut tx = store.begin().await.unwrap();
        tx.update_load_balancer(&lb2).await.unwrap();
        tx.update_listener(&l2).await.unwrap();
        tx.update_pool(&g2).await.unwrap();
        tx.update_backend(&m2).await.unwrap();
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        assert_eq!(r.load_balancer(&lb.id).await.unwrap(), Some(lb2));
        assert_eq!(r.listener(&listener.id).await.unwrap(), Some(l2));
        assert_eq!(r.pool(&group.id).await.unwrap(), Some(g2));
        assert_eq!(r.backend(&member.id).await.unwrap(), Some(m2));
    }
}
