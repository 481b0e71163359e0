//! PostgreSQL under faults: a node stalled while holding the writer lock,
//! a connection that dies before COMMIT is answered, and a writer
//! connection replaced between writes (its prepared statements gone). Skipped without
//! `WEIR_TEST_POSTGRES_URL` (unless `WEIR_REQUIRE_POSTGRES` says it must
//! run, as in CI).

use std::time::Duration;

use sqlx::Connection;
use weir_core::model::Project;
use weir_core::Timestamp;
use weir_store::postgres::{fresh_schema, PgStore, Timeouts};
use weir_store::{Store, StoreError};

/// A URL of a fresh schema, or `None` when no PostgreSQL is configured.
async fn schema() -> Option<String> {
    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none(),
            "WEIR_REQUIRE_POSTGRES is set but WEIR_TEST_POSTGRES_URL is not"
        );
        eprintln!("PostgreSQL case skipped: WEIR_TEST_POSTGRES_URL is not set");
        return None;
    };
    Some(fresh_schema(&url, "store_faults").await.unwrap())
}

fn project(id: &str) -> Project {
    Project {
        id: id.into(),
        name: id.into(),
        access_key_id: format!("AK{id}"),
        created_at: Timestamp(1),
    }
}

/// Bounds the test, not the speed: a hang fails here instead of forever.
const BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_write_waiting_on_a_stalled_writer_lock_fails_and_recovers() {
    let Some(url) = schema().await else { return };
    let stalled = PgStore::connect(&url).await.unwrap();
    let held = stalled.begin().await.unwrap();
    let quick = Timeouts {
        lock: Duration::from_millis(200),
        ..Timeouts::default()
    };
    let waiting = PgStore::connect_with(&url, quick).await.unwrap();
    let refused = tokio::time::timeout(BOUND, waiting.begin())
        .await
        .expect("lock_timeout ends the wait");
    match refused {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("lock"), "{why}"),
        Err(other) => panic!("expected a retryable Unavailable, got {other:?}"),
        Ok(_) => panic!("the writer lock is held elsewhere"),
    }
    drop(held);
    let mut tx = tokio::time::timeout(BOUND, waiting.begin())
        .await
        .unwrap()
        .expect("the lock is free again");
    tx.insert_project(&project("p1"), "h1", "s").await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_connection_lost_before_commit_is_answered_reports_an_unknown_outcome() {
    let Some(url) = schema().await else { return };
    let store = PgStore::connect(&url).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_project(&project("p1"), "h1", "s").await.unwrap();

    // The writer's server process is the one holding this schema's writer
    // lock (a bigint advisory key: its low 32 bits are `objid`).
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let pid: i32 = sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
         AND objid::text::bigint = (hashtext('weir writer ' || current_schema())::bigint & 4294967295)",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 10000)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended, "the writer's connection was ended");

    let outcome = tokio::time::timeout(BOUND, tx.commit())
        .await
        .expect("the commit returns");
    assert!(
        matches!(outcome, Err(StoreError::CommitOutcomeUnknown(_))),
        "a lost COMMIT is not 'nothing was written': {outcome:?}"
    );
    // Here the server never saw COMMIT, which the client cannot know: the
    // store must not claim either outcome. Reading again tells.
    let mut reads = store.read().await.unwrap();
    assert_eq!(reads.project(&"p1".into()).await.unwrap(), None);
}

/// The server process of this schema's writer, while it holds the lock.
async fn writer_pid(admin: &mut sqlx::PgConnection) -> i32 {
    sqlx::query_scalar(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
         AND objid::text::bigint = (hashtext('weir writer ' || current_schema())::bigint & 4294967295)",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_new_writer_connection_prepares_its_statements_again() {
    let Some(url) = schema().await else { return };
    let store = PgStore::connect(&url).await.unwrap();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    // The first write prepares its change-log statements on the writer's
    // connection, the second executes them there.
    let mut tx = store.begin().await.unwrap();
    tx.insert_project(&project("p1"), "h1", "s").await.unwrap();
    let first = writer_pid(&mut admin).await;
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_project(&project("p2"), "h2", "s").await.unwrap();
    assert_eq!(writer_pid(&mut admin).await, first, "one writer connection");
    tx.commit().await.unwrap();

    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 10000)")
        .bind(first)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended, "the writer's connection was ended");
    // The pool replaces the dead connection, which holds no prepared
    // statement: the next write prepares them again, and works the first
    // time (an EXECUTE of a name the server does not know would fail it).
    for id in ["p3", "p4"] {
        let mut tx = tokio::time::timeout(BOUND, store.begin())
            .await
            .unwrap()
            .expect("a new writer connection");
        tx.insert_project(&project(id), id, "s").await.unwrap();
        assert_ne!(writer_pid(&mut admin).await, first, "a new connection");
        tx.commit().await.unwrap();
    }
    let mut reads = store.read().await.unwrap();
    for id in ["p1", "p2", "p3", "p4"] {
        assert!(reads.project(&id.into()).await.unwrap().is_some(), "{id}");
    }
    let changes = reads.changes_since(0, 100).await.unwrap();
    assert_eq!(
        changes.len(),
        4,
        "one change-log row per write: {changes:?}"
    );
}
