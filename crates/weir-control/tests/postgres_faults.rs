//! The control layer on PostgreSQL when another node stalls while holding
//! the writer lock: this node's writes fail with a retryable
//! `StoreUnavailable` (503 in every dialect) within `lock_timeout`, and
//! succeed again once the lock is free. Skipped without
//! `WEIR_TEST_POSTGRES_URL` (unless `WEIR_REQUIRE_POSTGRES` is set).

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
