//! Each project's own numbering of the change log (the watch stream's
//! positions): dense per project whatever other projects write, rolled
//! back with its command, and never moved back by compaction.

use std::sync::Arc;

use weir_core::ids::ProjectId;
use weir_core::model::*;
use weir_store::Store;

use super::{backend, seed, t};

/// A second project with one VPC, so its writes interleave with p1's.
async fn second_project(store: &dyn Store) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_project(
        &Project {
            id: "p2".into(),
            name: "other".into(),
            access_key_id: "AK2".into(),
            created_at: t(1),
        },
        "hash2",
        "secret2",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn vpc_of_p2(store: &dyn Store, n: u32) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_vpc(&Vpc {
        id: format!("p2-v{n}").as_str().into(),
        project_id: "p2".into(),
        name: "v".into(),
        cidr: Some("10.9.0.0/16".parse().unwrap()),
        has_border_gateway: false,
        shared: false,
        created_at: t(2),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

pub(super) async fn projects_number_their_own_changes(store: Arc<dyn Store>) {
    seed(&*store).await;
    second_project(&*store).await;
    let p1: ProjectId = "p1".into();
    let p2: ProjectId = "p2".into();
    let (p1_head, _) = store
        .read()
        .await
        .unwrap()
        .project_log_position(&p1)
        .await
        .unwrap();
    assert!(p1_head >= 5, "the seed logged p1's rows: {p1_head}");

    // Interleaved: p2 writes between each of p1's registrations, and one
    // of p1's commands is rolled back.
    for i in 1..=3u32 {
        vpc_of_p2(&*store, i).await;
        let mut tx = store.begin().await.unwrap();
        tx.savepoint().await.unwrap();
        tx.insert_backends(&[backend(
            &format!("b{i}"),
            &format!("10.0.1.{i}"),
            BackendPorts::Inherit,
        )])
        .await
        .unwrap();
        if i == 2 {
            tx.rollback_to_savepoint().await.unwrap();
        } else {
            tx.release_savepoint().await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let mut r = store.read().await.unwrap();
    let head = r.revision().await.unwrap();
    let mine = r.project_changes_since(&p1, 0, head, 1000).await.unwrap();
    assert!(mine.iter().all(|c| c.project_id == p1));
    let positions: Vec<u64> = mine.iter().map(|c| c.project_revision).collect();
    let dense: Vec<u64> = (1..=positions.len() as u64).collect();
    assert_eq!(positions, dense, "p1's positions have no gaps");
    assert!(
        mine.windows(2).all(|w| w[0].revision < w[1].revision),
        "in commit order"
    );
    let backends: Vec<&str> = mine
        .iter()
        .filter(|c| c.entity == "backend")
        .map(|c| c.entity_id.as_str())
        .collect();
    assert_eq!(backends, ["b1", "b3"], "the rolled-back one is not there");
    let (p1_head, oldest) = r.project_log_position(&p1).await.unwrap();
    assert_eq!(p1_head, positions.len() as u64);
    assert_eq!(oldest, Some(1));
    let theirs = r.project_changes_since(&p2, 0, head, 1000).await.unwrap();
    let p2_positions: Vec<u64> = theirs.iter().map(|c| c.project_revision).collect();
    assert_eq!(p2_positions, [1, 2, 3, 4], "the project and three VPCs");

    // After a position, and never past `through`.
    let after = r
        .project_changes_since(&p1, p1_head - 1, head, 1000)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].entity_id, "b3");
    let through = mine.last().unwrap().revision - 1;
    let bounded = r
        .project_changes_since(&p1, p1_head - 1, through, 1000)
        .await
        .unwrap();
    assert!(bounded.is_empty(), "{bounded:?}");
    let global = r.changes_since(0, 1000).await.unwrap();
    assert!(global.iter().any(|c| c.project_id == p2));
    drop(r);

    // Compaction deletes rows but never moves a project's head back.
    let mut tx = store.begin().await.unwrap();
    tx.compact(t(1_000_000), 1).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let (head_after, oldest_after) = r.project_log_position(&p1).await.unwrap();
    assert_eq!(head_after, p1_head);
    assert_eq!(
        oldest_after,
        Some(p1_head),
        "only the newest row is kept, and it is p1's"
    );
    let (p2_head, p2_oldest) = r.project_log_position(&p2).await.unwrap();
    assert_eq!((p2_head, p2_oldest), (4, None));
    drop(r);

    // The next change of p1 continues its numbering.
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[backend("b9", "10.0.1.9", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let head = r.revision().await.unwrap();
    let next = r
        .project_changes_since(&p1, p1_head, head, 10)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].project_revision, p1_head + 1);
    let (unknown_head, unknown_oldest) = r.project_log_position(&"nobody".into()).await.unwrap();
    assert_eq!((unknown_head, unknown_oldest), (0, None));
}
