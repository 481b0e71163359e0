//! The control layer on PostgreSQL under faults: another node stalled
//! while holding the writer lock (this node's writes fail with a
//! retryable `StoreUnavailable`, 503 in every dialect, within
//! `lock_timeout`, and succeed once the lock is free), and one command of
//! a group commit failing on a read (its neighbours still commit).
//! Skipped without `WEIR_TEST_POSTGRES_URL` (unless
//! `WEIR_REQUIRE_POSTGRES` is set).

use std::sync::Arc;
use std::time::Duration;

use weir_control::{Control, ControlError, Principal};
use weir_core::settings::Settings;
use weir_store::postgres::{fresh_schema, PgStore};
use weir_store::Store;

/// Bounds the test, not the speed: a hang fails here instead of forever.
const BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_stalled_node_holding_the_writer_lock_does_not_hang_writes() {
    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none(),
            "WEIR_REQUIRE_POSTGRES is set but WEIR_TEST_POSTGRES_URL is not"
        );
        eprintln!("PostgreSQL case skipped: WEIR_TEST_POSTGRES_URL is not set");
        return;
    };
    let url = fresh_schema(&url, "control_faults").await.unwrap();
    // The other node: its write transaction holds the lock and goes quiet.
    let stalled = PgStore::connect(&url).await.unwrap();
    let held = stalled.begin().await.unwrap();

    // This node, with the default timeouts.
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.unwrap());
    let control = Control::start(store, Settings::default(), "admin".into())
        .await
        .unwrap();
    let refused =
        tokio::time::timeout(BOUND, control.create_project(&Principal::Admin, "p".into()))
            .await
            .expect("the write gives up within lock_timeout");
    assert!(
        matches!(refused, Err(ControlError::StoreUnavailable(_))),
        "{refused:?}"
    );

    drop(held);
    let created =
        tokio::time::timeout(BOUND, control.create_project(&Principal::Admin, "p".into()))
            .await
            .unwrap()
            .expect("writes work again once the lock is free");
    let listed = control.list_projects(&Principal::Admin).await.unwrap();
    assert_eq!(listed, vec![created.project]);
}

/// One group commit on PostgreSQL: of three commands queued together, the
/// middle one fails on a read the server refuses (a NUL byte, reaching the
/// store directly here, below the id checks); the other two still commit.
#[tokio::test]
async fn a_command_failing_on_a_read_does_not_fail_its_group() {
    use weir_control::writer::Writer;
    use weir_core::model::Project;
    use weir_store::Page;

    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none());
        eprintln!("PostgreSQL case skipped: WEIR_TEST_POSTGRES_URL is not set");
        return;
    };
    let url = fresh_schema(&url, "control_group").await.unwrap();
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(&url).await.unwrap());
    let writer = Writer::spawn(store.clone(), 0);
    let project = |id: &str| Project {
        id: id.into(),
        name: id.into(),
        access_key_id: format!("AK{id}"),
        created_at: weir_core::Timestamp(1),
    };
    let insert = |p: Project| {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |mut tx| async move {
                    let done = tx.insert_project(&p, &format!("h{}", p.id), "s").await;
                    (tx, done.map_err(ControlError::from))
                })
                .await
        })
    };

    // A first group holds the writer until the three below are queued, so
    // they share the next transaction (this test runs on one thread: the
    // spawned tasks queue their commands when the test task yields).
    let (started, has_started) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let gate = {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |tx| async move {
                    let _ = started.send(());
                    let _ = released.await;
                    (tx, Ok(()))
                })
                .await
        })
    };
    has_started.await.unwrap();
    let first = insert(project("a"));
    let failing = {
        let writer = writer.clone();
        tokio::spawn(async move {
            writer
                .write(move |mut tx| async move {
                    let page = Page {
                        marker: Some("b\0".into()),
                        limit: 10,
                    };
                    let read = tx.backends(&"pool".into(), &page).await;
                    (tx, read.map(drop).map_err(ControlError::from))
                })
                .await
        })
    };
    let last = insert(project("c"));
    tokio::task::yield_now().await;
    release.send(()).unwrap();

    tokio::time::timeout(BOUND, gate)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let failed = tokio::time::timeout(BOUND, failing).await.unwrap().unwrap();
    assert!(failed.is_err(), "the server refuses the NUL byte");
    for (name, task) in [("a", first), ("c", last)] {
        tokio::time::timeout(BOUND, task)
            .await
            .unwrap()
            .unwrap()
            .unwrap_or_else(|e| panic!("command {name} failed with its neighbour: {e}"));
    }
    let mut reads = store.read().await.unwrap();
    assert!(reads.project(&"a".into()).await.unwrap().is_some());
    assert!(reads.project(&"c".into()).await.unwrap().is_some());
}
