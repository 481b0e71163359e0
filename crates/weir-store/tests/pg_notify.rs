//! Commit notifications on PostgreSQL: a node's follower is woken by the
//! other nodes' commits, not by its own (its writer announces those).
//! Skipped without `WEIR_TEST_POSTGRES_URL` (unless `WEIR_REQUIRE_POSTGRES`
//! says it must run, as in CI).

use std::time::Duration;

use weir_core::model::Project;
use weir_core::Timestamp;
use weir_store::postgres::{fresh_schema, PgStore};
use weir_store::Store;

fn project(id: &str) -> Project {
    Project {
        id: id.into(),
        name: id.into(),
        access_key_id: format!("AK{id}"),
        created_at: Timestamp(1),
    }
}

async fn commit(store: &PgStore, id: &str) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_project(&project(id), id, "s").await.unwrap();
    tx.commit().await.unwrap();
}

/// Bounds the waits that must end, not the speed.
const BOUND: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_node_is_woken_by_the_other_nodes_commits_not_its_own() {
    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none(),
            "WEIR_REQUIRE_POSTGRES is set but WEIR_TEST_POSTGRES_URL is not"
        );
        eprintln!("PostgreSQL case skipped: WEIR_TEST_POSTGRES_URL is not set");
        return;
    };
    let url = fresh_schema(&url, "notify_test").await.unwrap();
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    let a_woken = a
        .foreign_commits()
        .expect("PostgreSQL signals commits")
        .signal;
    let b_woken = b
        .foreign_commits()
        .expect("PostgreSQL signals commits")
        .signal;

    commit(&b, "p1").await;
    tokio::time::timeout(BOUND, a_woken.notified())
        .await
        .expect("b's commit wakes a");
    commit(&a, "p2").await;
    tokio::time::timeout(BOUND, b_woken.notified())
        .await
        .expect("a's commit wakes b");
    // b heard a's commit, and a listens on the same channel: a heard it
    // too, by now or in a moment, and must not have taken it as foreign.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), a_woken.notified())
            .await
            .is_err(),
        "a's own commit does not wake a"
    );
    // a is still listening.
    commit(&b, "p3").await;
    tokio::time::timeout(BOUND, a_woken.notified())
        .await
        .expect("b's next commit wakes a");
}
