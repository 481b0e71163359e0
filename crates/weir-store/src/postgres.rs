//! The PostgreSQL store, for operators who run several Weir nodes against
//! one registry. It runs the same SQL as SQLite (`crate::sql`); what is its
//! own is the connection setup, the schema and one rule for writers:
//!
//! Every write transaction takes one transaction-level advisory lock
//! before anything else. Change-log revisions come from an identity
//! column, and without the lock two nodes could commit revisions 11 and 10
//! in that order: a follower that had read up to 11 would never see 10.
//! With it, revisions commit in the order they are assigned, which is what
//! [`crate::Reads::changes_since`] promises. Each node already funnels its
//! own writes through one group-commit task, so the lock is contended only
//! between nodes.
//!
//! Every write transaction also sends `NOTIFY weir_changes` with its schema
//! as payload (delivered at commit, not at all on rollback); each node
//! listens and wakes its topology follower for the other nodes' commits
//! (a notification carries the PID of the server process that sent it,
//! and a node knows its writer connection's: its own commits wake its
//! follower through its writer already), so a registration through one
//! node reaches every node's data plane in milliseconds. A notification
//! lost while the listening connection reconnects is covered by polling
//! the log every `poll`.
//!
//! No wait is unbounded ([`Timeouts`]): a node that stalls while holding
//! the writer lock (a paused VM, a hung process) would otherwise hang every
//! other node's writes. Waiting for a lock ends after `lock_timeout`, any
//! statement after `statement_timeout`, and the server ends a session idle
//! inside a transaction after `idle_in_transaction_timeout`, releasing the
//! lock a stalled node holds. All three fail the write as
//! [`StoreError::Unavailable`]: rolled back, try again. A connection lost
//! while COMMIT was on its way is [`StoreError::CommitOutcomeUnknown`]
//! instead: the server may have committed before the connection died.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::Notify;

use crate::sql::{Reader, Statement, TxDriver, WriteTx};

mod batch;
use crate::{ForeignCommits, Reads, Store, StoreError, StoreResult, StoreTx};

/// Schema migrations in order; each runs once, in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_listener_max_connections.sql"),
    ),
    (
        3,
        include_str!("../migrations/postgres/0003_compaction.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_shared_vpc.sql"),
    ),
    (
        5,
        include_str!("../migrations/postgres/0005_octavia_pools.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_monitor_http.sql"),
    ),
    (7, include_str!("../migrations/postgres/0007_tags.sql")),
    (
        8,
        include_str!("../migrations/postgres/0008_listener_timeouts_acl.sql"),
    ),
    (
        9,
        include_str!("../migrations/postgres/0009_credentials.sql"),
    ),
    (10, include_str!("../migrations/postgres/0010_flavors.sql")),
    (
        11,
        include_str!("../migrations/postgres/0011_certificates.sql"),
    ),
    (
        12,
        include_str!("../migrations/postgres/0012_l7_policies.sql"),
    ),
    (
        13,
        include_str!("../migrations/postgres/0013_listener_certificates.sql"),
    ),
    (
        14,
        include_str!("../migrations/postgres/0014_key_manager.sql"),
    ),
    (
        15,
        include_str!("../migrations/postgres/0015_listener_https_options.sql"),
    ),
    (
        16,
        include_str!("../migrations/postgres/0016_project_quotas.sql"),
    ),
    (
        17,
        include_str!("../migrations/postgres/0017_pool_upstream_tls.sql"),
    ),
    (18, include_str!("../migrations/postgres/0018_acls.sql")),
    (19, include_str!("../migrations/postgres/0019_cluster.sql")),
    (
        20,
        include_str!("../migrations/postgres/0020_listener_policy.sql"),
    ),
    (21, include_str!("../migrations/postgres/0021_watch.sql")),
    (
        22,
        include_str!("../migrations/postgres/0022_project_networks.sql"),
    ),
    (
        23,
        include_str!("../migrations/postgres/0023_member_address_spelling.sql"),
    ),
    (
        24,
        include_str!("../migrations/postgres/0024_listener_client_auth.sql"),
    ),
    (
        25,
        include_str!("../migrations/postgres/0025_pool_fail_open.sql"),
    ),
    (
        26,
        include_str!("../migrations/postgres/0026_certificate_kind.sql"),
    ),
    (
        27,
        include_str!("../migrations/postgres/0027_lb_vip_mode.sql"),
    ),
];

/// Advisory-lock keys, one pair per schema: registries in different
/// schemas of one database neither share nor block each other's locks.
/// Every write transaction's start, in one round trip: BEGIN, the writer
/// lock, and the notification (queued now, delivered at commit, never on
/// rollback: COMMIT is then the transaction's only statement whose
/// outcome can be in doubt).
const BEGIN_LOCKED: &str = "BEGIN; \
    SELECT pg_advisory_xact_lock(hashtext('weir writer ' || coalesce(current_schema(), ''))); \
    SELECT pg_notify('weir_changes', coalesce(current_schema(), ''))";
/// The same after a start that failed (a lock that timed out): its
/// transaction is still open on the connection, aborted, and would refuse
/// every statement but ROLLBACK.
const BEGIN_LOCKED_AFTER_FAILURE: &str = "ROLLBACK; BEGIN; \
    SELECT pg_advisory_xact_lock(hashtext('weir writer ' || coalesce(current_schema(), ''))); \
    SELECT pg_notify('weir_changes', coalesce(current_schema(), ''))";
const MIGRATION_LOCK: &str =
    "SELECT pg_advisory_lock(hashtext('weir migration ' || coalesce(current_schema(), '')))";
const MIGRATION_UNLOCK: &str =
    "SELECT pg_advisory_unlock(hashtext('weir migration ' || coalesce(current_schema(), '')))";

/// Connections per node besides the writer's: the commit listener (one,
/// held for good), the follower and API readers.
const MAX_CONNECTIONS: u32 = 7;

/// How long a connection may take: a node whose database does not answer
/// fails at start with the reason (its supervisor restarts it) rather than
/// hanging, and a query waits no longer than this for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a node reads the change log even without a notification,
/// unless told otherwise.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The notification channel; the payload names the schema.
const CHANNEL: &str = "weir_changes";

/// Bounds on how long a node's statements may wait on PostgreSQL, set on
/// every connection it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for any lock, the writer lock included (`lock_timeout`).
    pub lock: Duration,
    /// Any one statement (`statement_timeout`).
    pub statement: Duration,
    /// A session idle inside an open transaction is ended by the server
    /// (`idle_in_transaction_session_timeout`).
    pub idle_in_transaction: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            lock: Duration::from_secs(5),
            statement: Duration::from_secs(30),
            idle_in_transaction: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// The settings as `-c` options of a connection (0 would mean "no
    /// limit" to PostgreSQL, so a zero is raised to 1 ms).
    fn as_options(&self) -> [(&'static str, String); 3] {
        let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
        [
            ("lock_timeout", ms(self.lock)),
            ("statement_timeout", ms(self.statement)),
            (
                "idle_in_transaction_session_timeout",
                ms(self.idle_in_transaction),
            ),
        ]
    }
}

/// PostgreSQL behind the [`Store`] traits.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The writer's own pool of one connection, so the statements it has
    /// prepared ([`batch::Prepared`]) are known to be on the connection
    /// the next transaction gets.
    writer: PgPool,
    prepared: Arc<batch::Prepared>,
    /// The last transaction start failed, leaving its transaction open.
    begin_failed: Arc<std::sync::atomic::AtomicBool>,
    poll: Duration,
    commits: Arc<Notify>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host/database`, with
    /// any libpq-style parameters sqlx accepts, e.g. `options=-c
    /// search_path=weir`) and applies migrations. Nodes starting at once
    /// migrate one at a time.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, Timeouts::default()).await
    }

    /// [`PgStore::connect`] with bounds of its own on waits.
    pub async fn connect_with(url: &str, timeouts: Timeouts) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("store URL: {e}")))?
            .options(timeouts.as_options());
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        migrate(&pool).await?;
        let prepared = Arc::new(batch::Prepared::default());
        let counted = prepared.clone();
        // The server process of the writer's connection (0 before it has
        // one): notifications it sent are this node's own commits.
        let writer_pid = Arc::new(AtomicU32::new(0));
        let pid = writer_pid.clone();
        let writer = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before each transaction (a round trip per group under
            // nobody's lock but still in every write's time): a connection
            // found dead by BEGIN is replaced then (`Store::begin`).
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                counted.connected();
                let pid = pid.clone();
                Box::pin(async move {
                    let own: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                        .fetch_one(conn)
                        .await?;
                    pid.store(u32::try_from(own).unwrap_or(0), Ordering::SeqCst);
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let commits = Arc::new(Notify::new());
        listen_for_commits(&pool, commits.clone(), writer_pid.clone()).await?;
        Ok(Self {
            pool,
            writer,
            prepared,
            begin_failed: Arc::default(),
            poll: DEFAULT_POLL,
            commits,
        })
    }

    /// Sets how often this node reads the change log for other nodes'
    /// commits: the most they wait to reach this node's data plane.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }
}

/// Creates a new, empty schema named `{prefix}_{pid}_{counter}_{nanos}` in the
/// database at `url` and returns a URL whose connections use it: one
/// registry per test (or per benchmark run) in a shared database.
pub async fn fresh_schema(url: &str, prefix: &str) -> StoreResult<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let schema = format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(url).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await?;
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}options=-csearch_path%3D{schema}"))
}

/// Listens on [`CHANNEL`] for this schema's commits by other nodes (or
/// other stores of this process) until the process ends: a notification
/// from `own_writer`'s server process is this store's own commit, which
/// its writer announced to its follower already. sqlx's listener
/// reconnects by itself after a lost connection.
async fn listen_for_commits(
    pool: &PgPool,
    commits: Arc<Notify>,
    own_writer: Arc<AtomicU32>,
) -> StoreResult<()> {
    let schema: String = sqlx::query_scalar("SELECT coalesce(current_schema(), '')")
        .fetch_one(pool)
        .await?;
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(async move {
        loop {
            match listener.recv().await {
                Ok(note)
                    if note.payload() == schema
                        && note.process_id() != own_writer.load(Ordering::SeqCst) =>
                {
                    commits.notify_one()
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "lost the commit notifications; polling until they are back");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(())
}

async fn migrate(pool: &PgPool) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query(MIGRATION_LOCK).execute(&mut *conn).await?;
    let applied = async { crate::sql::apply_migrations!(&mut *conn, MIGRATIONS) }.await;
    let unlocked = sqlx::query(MIGRATION_UNLOCK).execute(&mut *conn).await;
    applied?;
    unlocked?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn read(&self) -> StoreResult<Box<dyn Reads>> {
        Ok(Box::new(Reader(PgReader(self.pool.acquire().await?))))
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let start = if self.begin_failed.swap(false, Ordering::SeqCst) {
            BEGIN_LOCKED_AFTER_FAILURE
        } else {
            BEGIN_LOCKED
        };
        // A lock that times out fails here, its transaction left open
        // (sqlx rolls back only a transaction it saw begin): the next
        // start rolls it back first.
        let mut begun = self.writer.begin_with(start).await;
        if let Err(e) = &begun {
            if crate::connection_lost(e) {
                // The connection died while idle (a restarted server, an
                // ended session); nothing was sent that could have been
                // written, so a new connection begins again.
                tracing::info!(error = %e, "the writer's connection was lost; reconnecting");
                begun = self.writer.begin_with(start).await;
            }
        }
        let tx = begun.inspect_err(|e| {
            if matches!(e, sqlx::Error::Database(_)) && !crate::connection_lost(e) {
                self.begin_failed.store(true, Ordering::SeqCst);
            }
        })?;
        Ok(Box::new(WriteTx::new(PgTx(tx, self.prepared.clone()))))
    }

    fn cluster(&self) -> Arc<dyn crate::Cluster> {
        Arc::new(self.clone())
    }

    fn foreign_commits(&self) -> Option<ForeignCommits> {
        Some(ForeignCommits {
            signal: self.commits.clone(),
            poll: self.poll,
        })
    }
}

/// A pooled connection outside any transaction.
struct PgReader(PoolConnection<Postgres>);

async fn cluster_conn(store: &PgStore) -> StoreResult<PgReader> {
    Ok(PgReader(store.pool.acquire().await?))
}

/// Milliseconds since the Unix epoch at the statement's execution
/// (`clock_timestamp`, not the transaction's start).
const NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

crate::cluster_impl!(PgStore, cluster_conn, NOW_MS, true);

/// A connection inside a write transaction (holding the writer lock),
/// and the statements it has prepared.
struct PgTx(Transaction<'static, Postgres>, Arc<batch::Prepared>);

crate::sql::sqlx_driver!(
    Postgres,
    PgRow,
    crate::sql::as_written,
    keep_planned: false,
    PgReader => reader_batch,
    PgTx => tx_batch
);

async fn reader_batch(
    conn: &mut PgReader,
    statements: Vec<Statement<'_>>,
    done: &mut usize,
) -> StoreResult<Vec<Vec<PgRow>>> {
    batch::batch(&mut conn.0, statements, done, None).await
}

async fn tx_batch(
    conn: &mut PgTx,
    statements: Vec<Statement<'_>>,
    done: &mut usize,
) -> StoreResult<Vec<Vec<PgRow>>> {
    batch::batch(&mut conn.0, statements, done, Some(&conn.1)).await
}

#[async_trait]
impl TxDriver for PgTx {
    async fn commit(self) -> StoreResult<()> {
        self.0.commit().await.map_err(|e| {
            if crate::connection_lost(&e) {
                StoreError::CommitOutcomeUnknown(e.to_string())
            } else {
                // The server answered: it refused the commit, and rolled
                // the transaction back.
                e.into()
            }
        })
    }
}
