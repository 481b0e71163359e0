//! For test suites of the crates above the store: the store a test server
//! should run on. Durable SQLite in the given file by default; with
//! `WEIR_TEST_STORE=postgres`, a fresh schema in `WEIR_TEST_POSTGRES_URL`,
//! so the same suites run once more on PostgreSQL (scripts/test does).

use std::path::Path;
use std::sync::Arc;

use crate::postgres::{fresh_schema, PgStore};
use crate::sqlite::{Durability, SqliteStore};
use crate::Store;

/// Opens the store selected by the environment; panics on failure, as a
/// test setup should.
pub async fn store(sqlite_file: &Path, durability: Durability) -> Arc<dyn Store> {
    if std::env::var("WEIR_TEST_STORE").as_deref() == Ok("postgres") {
        let url = std::env::var("WEIR_TEST_POSTGRES_URL")
            .expect("WEIR_TEST_STORE=postgres needs WEIR_TEST_POSTGRES_URL");
        let scoped = fresh_schema(&url, "suite")
            .await
            .expect("a schema of its own in WEIR_TEST_POSTGRES_URL");
        return Arc::new(PgStore::connect(&scoped).await.expect("PostgreSQL store"));
    }
    Arc::new(
        SqliteStore::open(sqlite_file, durability)
            .await
            .expect("SQLite store"),
    )
}
