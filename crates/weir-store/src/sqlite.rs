//! The embedded SQLite store: one writer connection (writes are serialised
//! by the control layer's group-commit task anyway) and a pool of readers,
//! in WAL mode with `synchronous = FULL` so an acknowledged commit survives
//! a crash of the process or the machine.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::sql::{Reader, TxDriver, WriteTx};
use crate::{Reads, Store, StoreResult, StoreTx};

/// Schema migrations in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_backend_subnet.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_listener_backend_port.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_listener_group_pool.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_listener_enabled.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_pool_slow_start.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_listener_max_connections.sql"),
    ),
    (8, include_str!("../migrations/sqlite/0008_compaction.sql")),
    (9, include_str!("../migrations/sqlite/0009_shared_vpc.sql")),
    (
        10,
        include_str!("../migrations/sqlite/0010_octavia_pools.sql"),
    ),
    (
        11,
        include_str!("../migrations/sqlite/0011_monitor_http.sql"),
    ),
    (12, include_str!("../migrations/sqlite/0012_tags.sql")),
    (
        13,
        include_str!("../migrations/sqlite/0013_listener_timeouts_acl.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_credentials.sql"),
    ),
    (15, include_str!("../migrations/sqlite/0015_flavors.sql")),
    (
        16,
        include_str!("../migrations/sqlite/0016_certificates.sql"),
    ),
    (
        17,
        include_str!("../migrations/sqlite/0017_l7_policies.sql"),
    ),
    (
        18,
        include_str!("../migrations/sqlite/0018_listener_certificates.sql"),
    ),
    (
        19,
        include_str!("../migrations/sqlite/0019_key_manager.sql"),
    ),
    (
        20,
        include_str!("../migrations/sqlite/0020_listener_https_options.sql"),
    ),
    (
        21,
        include_str!("../migrations/sqlite/0021_project_quotas.sql"),
    ),
    (
        22,
        include_str!("../migrations/sqlite/0022_pool_upstream_tls.sql"),
    ),
    (23, include_str!("../migrations/sqlite/0023_acls.sql")),
    (24, include_str!("../migrations/sqlite/0024_cluster.sql")),
    (
        25,
        include_str!("../migrations/sqlite/0025_listener_policy.sql"),
    ),
    (26, include_str!("../migrations/sqlite/0026_watch.sql")),
    (
        27,
        include_str!("../migrations/sqlite/0027_project_networks.sql"),
    ),
    (
        28,
        include_str!("../migrations/sqlite/0028_member_address_spelling.sql"),
    ),
    (
        29,
        include_str!("../migrations/sqlite/0029_listener_client_auth.sql"),
    ),
    (
        30,
        include_str!("../migrations/sqlite/0030_pool_fail_open.sql"),
    ),
    (
        31,
        include_str!("../migrations/sqlite/0031_certificate_kind.sql"),
    ),
    (
        32,
        include_str!("../migrations/sqlite/0032_lb_vip_mode.sql"),
    ),
];

/// How hard commits are pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: survives power loss (the default).
    Full,
    /// fsync at checkpoints only: survives a process crash, not power loss.
    Normal,
}

/// SQLite behind the [`Store`] traits.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            // Each command's savepoint keeps the pages it changes in a
            // statement journal, a temporary file by default: one write
            // system call per page. In memory it costs a copy; the WAL,
            // not this journal, is what makes a commit durable.
            .pragma("temp_store", "memory")
            .busy_timeout(Duration::from_secs(10));
        // A file has no peer to hang up: the pool's test of an idle
        // connection would only cost a hand-off to its worker per use.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        // Readers open after migrating: the schema and the WAL index exist.
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, readers })
    }
}

async fn migrate(writer: &SqlitePool) -> StoreResult<()> {
    let mut conn = writer.acquire().await?;
    crate::sql::apply_migrations!(&mut *conn, MIGRATIONS)
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self) -> StoreResult<Box<dyn Reads>> {
        Ok(Box::new(Reader(SqliteReader(
            self.readers.acquire().await?,
        ))))
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        Ok(Box::new(WriteTx::new(SqliteTx(self.writer.begin().await?))))
    }

    fn cluster(&self) -> std::sync::Arc<dyn crate::Cluster> {
        std::sync::Arc::new(self.clone())
    }
}

/// The writer connection outside a transaction, for the cluster's
/// autocommit statements (one node: its heartbeat waits for a commit in
/// flight at most).
async fn cluster_conn(store: &SqliteStore) -> StoreResult<SqliteReader> {
    Ok(SqliteReader(store.writer.acquire().await?))
}

/// Milliseconds since the Unix epoch (the Julian day of 1970-01-01 is
/// 2440587.5).
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

crate::cluster_impl!(SqliteStore, cluster_conn, NOW_MS, false);

/// A pooled connection: read-only from the readers' pool, or the writer
/// outside a transaction (the cluster's statements).
struct SqliteReader(PoolConnection<Sqlite>);

/// The writer connection inside a transaction.
struct SqliteTx(Transaction<'static, Sqlite>);

crate::sql::sqlx_driver!(
    Sqlite,
    SqliteRow,
    crate::sql::positional,
    keep_planned: true,
    SqliteReader => reader_batch,
    SqliteTx => tx_batch
);

async fn reader_batch(
    conn: &mut SqliteReader,
    statements: Vec<crate::sql::Statement<'_>>,
    done: &mut usize,
) -> StoreResult<Vec<Vec<SqliteRow>>> {
    batch(&mut conn.0, statements, done).await
}

async fn tx_batch(
    conn: &mut SqliteTx,
    statements: Vec<crate::sql::Statement<'_>>,
    done: &mut usize,
) -> StoreResult<Vec<Vec<SqliteRow>>> {
    batch(&mut conn.0, statements, done).await
}

/// [`crate::sql::Driver::batch`]: the statements joined into one text,
/// their arguments in one list, run as one query. sqlx hands every query
/// to the connection's worker thread and its rows back over channels,
/// each hand-off a thread wake-up either way; one query per batch makes
/// it one. SQLite prepares a multi-statement text one statement at a
/// time and sqlx binds each its share of the anonymous (`?`) arguments
/// in order, so a statement means what it means alone; the prepared
/// statements are cached under the whole text like any other.
async fn batch(
    conn: &mut sqlx::SqliteConnection,
    statements: Vec<crate::sql::Statement<'_>>,
    done: &mut usize,
) -> StoreResult<Vec<Vec<SqliteRow>>> {
    use futures_util::TryStreamExt;
    use sqlx::{Either, Executor};

    let count = statements.len();
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut text = String::new();
    let mut args = Vec::new();
    for s in statements {
        text.push_str(&crate::sql::positional(&s.sql));
        text.push_str(";\n");
        args.extend(s.args);
    }
    let mut out: Vec<Vec<SqliteRow>> = Vec::with_capacity(count);
    let mut rows = Vec::new();
    {
        let query = crate::sql::bound_query::<Sqlite>(&text, args);
        let mut results = conn.fetch_many(query);
        // Each statement's rows come before its completion.
        while let Some(item) = results.try_next().await? {
            match item {
                Either::Left(_) => {
                    out.push(std::mem::take(&mut rows));
                    *done += 1;
                }
                Either::Right(row) => rows.push(row),
            }
        }
    }
    if out.len() != count {
        return Err(crate::StoreError::Database(format!(
            "a batch of {count} statements answered {}",
            out.len()
        )));
    }
    Ok(out)
}

#[async_trait]
impl TxDriver for SqliteTx {
    async fn commit(self) -> StoreResult<()> {
        Ok(self.0.commit().await?)
    }
}
