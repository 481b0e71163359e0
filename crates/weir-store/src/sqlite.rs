//! The embedded SQLite store: one writer connection (writes are serialised
//! by the control layer's group-commit task anyway) and a pool of readers,
//! in WAL mode with `synchronous = FULL` so an acknowledged commit survives
//! a crash of the process or the machine.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use weir_core::ids::*;
use weir_core::model::*;
use weir_core::Timestamp;

use crate::{
    ChangeRecord, IdempotencyRecord, Page, ProjectCredentials, Reads, Store, StoreError,
    StoreResult, StoreTx,
};

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
];

/// Rows per multi-row INSERT, well under SQLite's bind-variable limit.
const INSERT_CHUNK: usize = 500;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Unique(db.message().to_owned())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

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
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        // Readers open after migrating: the schema and the WAL index exist.
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { writer, readers })
    }
}

async fn migrate(writer: &SqlitePool) -> StoreResult<()> {
    let mut conn = writer.acquire().await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        .execute(&mut *conn)
        .await?;
    for (version, sql) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *conn)
                .await?;
        if applied.is_none() {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "applied schema migration");
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self) -> StoreResult<Box<dyn Reads>> {
        Ok(Box::new(SqliteReader {
            conn: self.readers.acquire().await?,
        }))
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        Ok(Box::new(SqliteTx {
            tx: self.writer.begin().await?,
            savepoint: Savepoint::None,
        }))
    }
}

/// Something that can lend a connection for reads.
trait Conn: Send {
    fn conn(&mut self) -> &mut SqliteConnection;
}

struct SqliteReader {
    conn: PoolConnection<Sqlite>,
}

impl Conn for SqliteReader {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    savepoint: Savepoint,
}

/// The current command's savepoint. It is opened lazily, right before the
/// command's first write: a command that only reads (or fails while
/// planning) costs no savepoint round trips.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    /// No command is running, or it has not asked for one.
    None,
    /// Asked for; opened at the first write.
    Pending,
    /// Opened.
    Open,
}

impl Conn for SqliteTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

// === row decoding ===

fn col<'r, T>(row: &'r SqliteRow, name: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn parsed<T: FromStr>(row: &SqliteRow, name: &str) -> StoreResult<T> {
    let text: String = col(row, name)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{name}: cannot parse {text:?}")))
}

fn ts(row: &SqliteRow, name: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp(col(row, name)?))
}

fn project_from(row: &SqliteRow) -> StoreResult<Project> {
    Ok(Project {
        id: ProjectId::new(col::<String>(row, "id")?),
        name: col(row, "name")?,
        access_key_id: col(row, "access_key_id")?,
        created_at: ts(row, "created_at")?,
    })
}

fn vpc_from(row: &SqliteRow) -> StoreResult<Vpc> {
    Ok(Vpc {
        id: VpcId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        name: col(row, "name")?,
        cidr: parsed(row, "cidr")?,
        has_border_gateway: col(row, "has_border_gateway")?,
        created_at: ts(row, "created_at")?,
    })
}

fn subnet_from(row: &SqliteRow) -> StoreResult<Subnet> {
    Ok(Subnet {
        id: SubnetId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        vpc_id: VpcId::new(col::<String>(row, "vpc_id")?),
        name: col(row, "name")?,
        cidr: parsed(row, "cidr")?,
        created_at: ts(row, "created_at")?,
    })
}

fn enum_col<T: FromStr<Err = ()>>(row: &SqliteRow, name: &str) -> StoreResult<T> {
    parsed(row, name)
}

fn instance_from(row: &SqliteRow) -> StoreResult<Instance> {
    Ok(Instance {
        id: InstanceId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        subnet_id: SubnetId::new(col::<String>(row, "subnet_id")?),
        vpc_id: VpcId::new(col::<String>(row, "vpc_id")?),
        name: col(row, "name")?,
        instance_type: enum_col(row, "instance_type")?,
        state: enum_col(row, "state")?,
        private_ip: parsed(row, "private_ip")?,
        created_at: ts(row, "created_at")?,
    })
}

fn lb_from(row: &SqliteRow) -> StoreResult<LoadBalancer> {
    Ok(LoadBalancer {
        id: LoadBalancerId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        name: col(row, "name")?,
        subnet_id: SubnetId::new(col::<String>(row, "subnet_id")?),
        vpc_id: VpcId::new(col::<String>(row, "vpc_id")?),
        vip: parsed(row, "vip")?,
        status: enum_col(row, "status")?,
        default_pool_id: PoolId::new(col::<String>(row, "default_pool_id")?),
        created_at: ts(row, "created_at")?,
    })
}

fn listener_from(row: &SqliteRow) -> StoreResult<Listener> {
    let spec: String = col(row, "ports")?;
    Ok(Listener {
        id: ListenerId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        lb_id: LoadBalancerId::new(col::<String>(row, "lb_id")?),
        name: col(row, "name")?,
        protocol: enum_col(row, "protocol")?,
        ports: ListenerPorts::from_spec(&spec)
            .ok_or_else(|| StoreError::Corrupt(format!("listener ports {spec:?}")))?,
        forwarding_mode: enum_col(row, "forwarding_mode")?,
        scheduler: enum_col(row, "scheduler")?,
        proxy_protocol: enum_col(row, "proxy_protocol")?,
        backend_port: col::<Option<i64>>(row, "backend_port")?
            .map(|p| u16::try_from(p).map_err(|_| StoreError::Corrupt(format!("backend port {p}"))))
            .transpose()?,
        group_pool_id: col::<Option<String>>(row, "group_pool_id")?.map(PoolId::new),
        enabled: col(row, "enabled")?,
        default_pool_id: PoolId::new(col::<String>(row, "default_pool_id")?),
        created_at: ts(row, "created_at")?,
    })
}

fn pool_from(row: &SqliteRow) -> StoreResult<Pool> {
    let health_check = match col::<Option<String>>(row, "hc_type")?.as_deref() {
        None => None,
        Some(kind) => {
            let kind = match kind {
                "tcp" => CheckKind::Tcp,
                "http" => {
                    let codes: String = col(row, "hc_codes")?;
                    CheckKind::Http {
                        path: col(row, "hc_path")?,
                        expected: weir_core::pool::parse_codes("hc_codes", &codes)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    }
                }
                other => return Err(StoreError::Corrupt(format!("hc_type {other:?}"))),
            };
            let port: Option<i64> = col(row, "hc_port")?;
            Some(HealthCheck {
                kind,
                interval_ms: u64_col(row, "hc_interval_ms")?,
                timeout_ms: u64_col(row, "hc_timeout_ms")?,
                rise: u32::try_from(col::<i64>(row, "hc_rise")?)
                    .map_err(|_| StoreError::Corrupt("hc_rise".into()))?,
                fall: u32::try_from(col::<i64>(row, "hc_fall")?)
                    .map_err(|_| StoreError::Corrupt("hc_fall".into()))?,
                port: port
                    .map(|p| u16::try_from(p).map_err(|_| StoreError::Corrupt("hc_port".into())))
                    .transpose()?,
            })
        }
    };
    Ok(Pool {
        id: PoolId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        lb_id: LoadBalancerId::new(col::<String>(row, "lb_id")?),
        listener_id: col::<Option<String>>(row, "listener_id")?.map(ListenerId::new),
        name: col(row, "name")?,
        health_check,
        drain_timeout_ms: u64_col(row, "drain_timeout_ms")?,
        slow_start_ms: u64_col(row, "slow_start_ms")?,
        created_at: ts(row, "created_at")?,
    })
}

fn u64_col(row: &SqliteRow, name: &str) -> StoreResult<u64> {
    let v: i64 = col(row, name)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: {v}")))
}

/// The health-check columns of a pool, in `POOL_HC_COLUMNS` order.
struct HcColumns {
    kind: Option<&'static str>,
    interval_ms: Option<i64>,
    timeout_ms: Option<i64>,
    rise: Option<i64>,
    fall: Option<i64>,
    port: Option<i64>,
    path: Option<String>,
    codes: Option<String>,
}

fn hc_columns(check: Option<&HealthCheck>) -> HcColumns {
    let Some(c) = check else {
        return HcColumns {
            kind: None,
            interval_ms: None,
            timeout_ms: None,
            rise: None,
            fall: None,
            port: None,
            path: None,
            codes: None,
        };
    };
    let (kind, path, codes) = match &c.kind {
        CheckKind::Tcp => ("tcp", None, None),
        CheckKind::Http { path, expected } => (
            "http",
            Some(path.clone()),
            Some(weir_core::pool::format_codes(expected)),
        ),
    };
    HcColumns {
        kind: Some(kind),
        interval_ms: i64::try_from(c.interval_ms).ok(),
        timeout_ms: i64::try_from(c.timeout_ms).ok(),
        rise: Some(i64::from(c.rise)),
        fall: Some(i64::from(c.fall)),
        port: c.port.map(i64::from),
        path,
        codes,
    }
}

/// Backend ports as stored: NULL inherits, `80` is one port, `[80,443]` a
/// list (kept distinct from one port so a one-element list round-trips).
fn ports_to_text(ports: &BackendPorts) -> Option<String> {
    match ports {
        BackendPorts::Inherit => None,
        BackendPorts::One(p) => Some(p.to_string()),
        BackendPorts::List(list) => Some(format!(
            "[{}]",
            list.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )),
    }
}

fn ports_from_text(text: Option<String>) -> StoreResult<BackendPorts> {
    let corrupt = |t: &str| StoreError::Corrupt(format!("backend ports {t:?}"));
    match text {
        None => Ok(BackendPorts::Inherit),
        Some(t) => match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(list) => list
                .split(',')
                .map(|p| p.parse::<u16>().map_err(|_| corrupt(&t)))
                .collect::<StoreResult<Vec<_>>>()
                .map(BackendPorts::List),
            None => t.parse().map(BackendPorts::One).map_err(|_| corrupt(&t)),
        },
    }
}

fn backend_from(row: &SqliteRow) -> StoreResult<Backend> {
    let weight: i64 = col(row, "weight")?;
    Ok(Backend {
        id: BackendId::new(col::<String>(row, "id")?),
        project_id: ProjectId::new(col::<String>(row, "project_id")?),
        pool_id: PoolId::new(col::<String>(row, "pool_id")?),
        lb_id: LoadBalancerId::new(col::<String>(row, "lb_id")?),
        listener_id: col::<Option<String>>(row, "listener_id")?.map(ListenerId::new),
        instance_id: col::<Option<String>>(row, "instance_id")?.map(InstanceId::new),
        subnet_id: col::<Option<String>>(row, "subnet_id")?.map(SubnetId::new),
        address: parsed(row, "address")?,
        ports: ports_from_text(col(row, "ports")?)?,
        weight: u16::try_from(weight)
            .map_err(|_| StoreError::Corrupt(format!("weight {weight}")))?,
        enabled: col(row, "enabled")?,
        backup: col(row, "backup")?,
        name: col(row, "name")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn all<T>(rows: Vec<SqliteRow>, f: fn(&SqliteRow) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

fn one<T>(row: Option<SqliteRow>, f: fn(&SqliteRow) -> StoreResult<T>) -> StoreResult<Option<T>> {
    row.as_ref().map(f).transpose()
}

/// `SELECT * FROM table WHERE column = value`: at most one row (the
/// column is a key). Table and column names are literals of this module.
async fn select_one<T>(
    conn: &mut SqliteConnection,
    table: &str,
    column: &str,
    value: &str,
    f: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let sql = format!("SELECT * FROM {table} WHERE {column} = ?");
    let row = sqlx::query(&sql).bind(value).fetch_optional(conn).await?;
    one(row, f)
}

/// `SELECT * FROM table WHERE column = value ORDER BY id`.
async fn select_where<T>(
    conn: &mut SqliteConnection,
    table: &str,
    column: &str,
    value: &str,
    f: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let sql = format!("SELECT * FROM {table} WHERE {column} = ? ORDER BY id");
    all(sqlx::query(&sql).bind(value).fetch_all(conn).await?, f)
}

/// Every row of `table`, or only `project`'s, by id.
async fn select_scoped<T>(
    conn: &mut SqliteConnection,
    table: &str,
    project: Option<&ProjectId>,
    f: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let sql = format!("SELECT * FROM {table} WHERE (? IS NULL OR project_id = ?) ORDER BY id");
    let p = project.map(ProjectId::as_str);
    all(sqlx::query(&sql).bind(p).bind(p).fetch_all(conn).await?, f)
}

/// `SELECT * FROM table WHERE column IN (values...)`, or nothing for an
/// empty list (SQL has no empty IN).
async fn select_in<T>(
    conn: &mut SqliteConnection,
    table: &str,
    column: &str,
    values: &[String],
    f: fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT * FROM {table} WHERE {column} IN ("));
    let mut list = qb.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    list.push_unseparated(")");
    all(qb.build().fetch_all(conn).await?, f)
}

#[async_trait]
impl<C: Conn> Reads for C {
    async fn project(&mut self, id: &ProjectId) -> StoreResult<Option<Project>> {
        select_one(self.conn(), "projects", "id", id.as_str(), project_from).await
    }

    async fn project_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Project>> {
        select_one(
            self.conn(),
            "projects",
            "token_hash",
            token_hash,
            project_from,
        )
        .await
    }

    async fn project_by_access_key(
        &mut self,
        access_key_id: &str,
    ) -> StoreResult<Option<ProjectCredentials>> {
        let row = sqlx::query("SELECT * FROM projects WHERE access_key_id = ?")
            .bind(access_key_id)
            .fetch_optional(self.conn())
            .await?;
        one(row, |r| {
            Ok(ProjectCredentials {
                project: project_from(r)?,
                access_key_secret: col(r, "access_key_secret")?,
            })
        })
    }

    async fn projects(&mut self) -> StoreResult<Vec<Project>> {
        let rows = sqlx::query("SELECT * FROM projects ORDER BY id")
            .fetch_all(self.conn())
            .await?;
        all(rows, project_from)
    }

    async fn vpc(&mut self, id: &VpcId) -> StoreResult<Option<Vpc>> {
        select_one(self.conn(), "vpcs", "id", id.as_str(), vpc_from).await
    }

    async fn vpcs(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Vpc>> {
        select_scoped(self.conn(), "vpcs", project, vpc_from).await
    }

    async fn subnet(&mut self, id: &SubnetId) -> StoreResult<Option<Subnet>> {
        select_one(self.conn(), "subnets", "id", id.as_str(), subnet_from).await
    }

    async fn subnets(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Subnet>> {
        select_scoped(self.conn(), "subnets", project, subnet_from).await
    }

    async fn subnets_of_vpc(&mut self, vpc: &VpcId) -> StoreResult<Vec<Subnet>> {
        select_where(self.conn(), "subnets", "vpc_id", vpc.as_str(), subnet_from).await
    }

    async fn subnets_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Subnet>> {
        select_in(self.conn(), "subnets", "id", ids, subnet_from).await
    }

    async fn instance(&mut self, id: &InstanceId) -> StoreResult<Option<Instance>> {
        select_one(self.conn(), "instances", "id", id.as_str(), instance_from).await
    }

    async fn instances(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Instance>> {
        select_scoped(self.conn(), "instances", project, instance_from).await
    }

    async fn instance_by_ip(&mut self, vpc: &VpcId, ip: IpAddr) -> StoreResult<Option<Instance>> {
        let row = sqlx::query("SELECT * FROM instances WHERE vpc_id = ? AND private_ip = ?")
            .bind(vpc.as_str())
            .bind(ip.to_string())
            .fetch_optional(self.conn())
            .await?;
        one(row, instance_from)
    }

    async fn instances_by_ids_or_ips(
        &mut self,
        ids: &[String],
        ips: &[IpAddr],
    ) -> StoreResult<Vec<Instance>> {
        let mut found = select_in(self.conn(), "instances", "id", ids, instance_from).await?;
        let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
        for inst in select_in(self.conn(), "instances", "private_ip", &ips, instance_from).await? {
            if !found.iter().any(|i| i.id == inst.id) {
                found.push(inst);
            }
        }
        Ok(found)
    }

    async fn load_balancer(&mut self, id: &LoadBalancerId) -> StoreResult<Option<LoadBalancer>> {
        select_one(self.conn(), "load_balancers", "id", id.as_str(), lb_from).await
    }

    async fn load_balancers(
        &mut self,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<LoadBalancer>> {
        select_scoped(self.conn(), "load_balancers", project, lb_from).await
    }

    async fn used_vips(&mut self) -> StoreResult<HashSet<IpAddr>> {
        let vips: Vec<String> = sqlx::query_scalar("SELECT vip FROM load_balancers")
            .fetch_all(self.conn())
            .await?;
        vips.iter()
            .map(|v| {
                v.parse()
                    .map_err(|_| StoreError::Corrupt(format!("vip {v:?}")))
            })
            .collect()
    }

    async fn listener(&mut self, id: &ListenerId) -> StoreResult<Option<Listener>> {
        select_one(self.conn(), "listeners", "id", id.as_str(), listener_from).await
    }

    async fn listeners_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Listener>> {
        select_where(
            self.conn(),
            "listeners",
            "lb_id",
            lb.as_str(),
            listener_from,
        )
        .await
    }

    async fn pool(&mut self, id: &PoolId) -> StoreResult<Option<Pool>> {
        select_one(self.conn(), "pools", "id", id.as_str(), pool_from).await
    }

    async fn backend(&mut self, id: &BackendId) -> StoreResult<Option<Backend>> {
        select_one(self.conn(), "backends", "id", id.as_str(), backend_from).await
    }

    async fn backends(&mut self, pool: &PoolId, page: &Page) -> StoreResult<Vec<Backend>> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let rows =
            sqlx::query("SELECT * FROM backends WHERE pool_id = ? AND id > ? ORDER BY id LIMIT ?")
                .bind(pool.as_str())
                .bind(page.marker.as_deref().unwrap_or(""))
                .bind(limit)
                .fetch_all(self.conn())
                .await?;
        all(rows, backend_from)
    }

    async fn backends_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Backend>> {
        select_in(self.conn(), "backends", "id", ids, backend_from).await
    }

    async fn count_backends(&mut self, pool: &PoolId) -> StoreResult<usize> {
        let n: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(backend_count), 0) FROM pools WHERE id = ?")
                .bind(pool.as_str())
                .fetch_one(self.conn())
                .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn overlapping_backends(
        &mut self,
        pool: &PoolId,
        addresses: &[IpAddr],
        instance_ids: &[String],
    ) -> StoreResult<Vec<Backend>> {
        // Two index lookups rather than one OR, which SQLite would answer
        // by scanning the whole pool.
        let addresses: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
        let mut found = Vec::new();
        for (column, values) in [("address", &addresses[..]), ("instance_id", instance_ids)] {
            if values.is_empty() {
                continue;
            }
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM backends WHERE pool_id = ");
            qb.push_bind(pool.as_str())
                .push(format!(" AND {column} IN ("));
            let mut list = qb.separated(", ");
            for v in values {
                list.push_bind(v.as_str());
            }
            list.push_unseparated(")");
            for b in all(qb.build().fetch_all(self.conn()).await?, backend_from)? {
                if !found.iter().any(|f: &Backend| f.id == b.id) {
                    found.push(b);
                }
            }
        }
        Ok(found)
    }

    async fn idempotency_record(
        &mut self,
        project: &ProjectId,
        operation: &str,
        token: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT fingerprint, response FROM idempotency_records WHERE project_id = ? AND operation = ? AND token = ?",
        )
        .bind(project.as_str())
        .bind(operation)
        .bind(token)
        .fetch_optional(self.conn())
        .await?;
        one(row, |r| {
            Ok(IdempotencyRecord {
                fingerprint: col(r, "fingerprint")?,
                response: col(r, "response")?,
            })
        })
    }

    async fn pools_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Pool>> {
        select_where(self.conn(), "pools", "lb_id", lb.as_str(), pool_from).await
    }

    async fn changes_since(
        &mut self,
        revision: u64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeRecord>> {
        let rows =
            sqlx::query("SELECT * FROM change_log WHERE revision > ? ORDER BY revision LIMIT ?")
                .bind(i64::try_from(revision).unwrap_or(i64::MAX))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(self.conn())
                .await?;
        all(rows, |r| {
            Ok(ChangeRecord {
                revision: u64_col(r, "revision")?,
                entity: col(r, "entity")?,
                entity_id: col(r, "entity_id")?,
                op: col(r, "op")?,
                lb_id: col::<Option<String>>(r, "lb_id")?.map(LoadBalancerId::new),
                pool_id: col::<Option<String>>(r, "pool_id")?.map(PoolId::new),
            })
        })
    }

    async fn revision(&mut self) -> StoreResult<u64> {
        let rev: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(revision), 0) FROM change_log")
            .fetch_one(self.conn())
            .await?;
        Ok(u64::try_from(rev).unwrap_or(0))
    }
}

/// The load balancer and pool a change-log row belongs to.
#[derive(Clone, Copy)]
struct Scope<'a> {
    lb: Option<&'a str>,
    pool: Option<&'a str>,
}

impl<'a> Scope<'a> {
    const NONE: Scope<'static> = Scope {
        lb: None,
        pool: None,
    };

    fn lb(id: &'a LoadBalancerId) -> Self {
        Scope {
            lb: Some(id.as_str()),
            pool: None,
        }
    }

    fn backend(b: &'a Backend) -> Self {
        Scope {
            lb: Some(b.lb_id.as_str()),
            pool: Some(b.pool_id.as_str()),
        }
    }

    fn pool(p: &'a Pool) -> Self {
        Scope {
            lb: Some(p.lb_id.as_str()),
            pool: Some(p.id.as_str()),
        }
    }
}

impl SqliteTx {
    /// Appends one change-log row per entity touched. `scope` names the
    /// load balancer and pool the change belongs to, so a follower can tell
    /// what to reload without reading the (possibly deleted) entity.
    async fn log(
        &mut self,
        project: &ProjectId,
        entity: &str,
        ids: &[&str],
        op: &str,
        scope: Scope<'_>,
    ) -> StoreResult<()> {
        for chunk in ids.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO change_log (project_id, entity, entity_id, op, lb_id, pool_id) ",
            );
            qb.push_values(chunk, |mut row, id| {
                row.push_bind(project.as_str())
                    .push_bind(entity)
                    .push_bind(*id)
                    .push_bind(op)
                    .push_bind(scope.lb)
                    .push_bind(scope.pool);
            });
            qb.build().execute(self.w().await?).await?;
        }
        Ok(())
    }

    /// The connection for a write: opens the command's savepoint first if
    /// one is pending.
    async fn w(&mut self) -> StoreResult<&mut SqliteConnection> {
        if self.savepoint == Savepoint::Pending {
            sqlx::query("SAVEPOINT command")
                .execute(&mut *self.tx)
                .await?;
            self.savepoint = Savepoint::Open;
        }
        Ok(&mut self.tx)
    }

    /// Deletes a pool with its backends (the change log is the caller's).
    async fn delete_pool_rows(&mut self, pool: &str) -> StoreResult<()> {
        self.exec("DELETE FROM backends WHERE pool_id = ?", &[pool])
            .await?;
        self.exec("DELETE FROM pools WHERE id = ?", &[pool]).await?;
        Ok(())
    }

    async fn exec(&mut self, sql: &str, binds: &[&str]) -> StoreResult<u64> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        Ok(q.execute(self.w().await?).await?.rows_affected())
    }
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn insert_project(
        &mut self,
        project: &Project,
        token_hash: &str,
        access_key_secret: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO projects (id, name, token_hash, access_key_id, access_key_secret, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(project.id.as_str())
        .bind(&project.name)
        .bind(token_hash)
        .bind(&project.access_key_id)
        .bind(access_key_secret)
        .bind(project.created_at.millis())
        .execute(self.w().await?)
        .await?;
        self.log(
            &project.id,
            "project",
            &[project.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn insert_vpc(&mut self, vpc: &Vpc) -> StoreResult<()> {
        sqlx::query("INSERT INTO vpcs (id, project_id, name, cidr, has_border_gateway, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(vpc.id.as_str())
            .bind(vpc.project_id.as_str())
            .bind(&vpc.name)
            .bind(vpc.cidr.to_string())
            .bind(vpc.has_border_gateway)
            .bind(vpc.created_at.millis())
            .execute(self.w().await?)
            .await?;
        self.log(
            &vpc.project_id,
            "vpc",
            &[vpc.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn insert_subnet(&mut self, subnet: &Subnet) -> StoreResult<()> {
        sqlx::query("INSERT INTO subnets (id, project_id, vpc_id, name, cidr, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(subnet.id.as_str())
            .bind(subnet.project_id.as_str())
            .bind(subnet.vpc_id.as_str())
            .bind(&subnet.name)
            .bind(subnet.cidr.to_string())
            .bind(subnet.created_at.millis())
            .execute(self.w().await?)
            .await?;
        self.log(
            &subnet.project_id,
            "subnet",
            &[subnet.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn insert_instance(&mut self, i: &Instance) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO instances (id, project_id, subnet_id, vpc_id, name, instance_type, state, private_ip, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(i.id.as_str())
        .bind(i.project_id.as_str())
        .bind(i.subnet_id.as_str())
        .bind(i.vpc_id.as_str())
        .bind(&i.name)
        .bind(i.instance_type.as_str())
        .bind(i.state.as_str())
        .bind(i.private_ip.to_string())
        .bind(i.created_at.millis())
        .execute(self.w().await?)
        .await?;
        self.log(
            &i.project_id,
            "instance",
            &[i.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    async fn update_instance(&mut self, i: &Instance) -> StoreResult<()> {
        self.exec(
            "UPDATE instances SET name = ?, state = ? WHERE id = ?",
            &[&i.name, i.state.as_str(), i.id.as_str()],
        )
        .await?;
        self.log(
            &i.project_id,
            "instance",
            &[i.id.as_str()],
            "update",
            Scope::NONE,
        )
        .await
    }

    async fn insert_load_balancer(&mut self, lb: &LoadBalancer, pool: &Pool) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO load_balancers (id, project_id, name, subnet_id, vpc_id, vip, status, default_pool_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(lb.id.as_str())
        .bind(lb.project_id.as_str())
        .bind(&lb.name)
        .bind(lb.subnet_id.as_str())
        .bind(lb.vpc_id.as_str())
        .bind(lb.vip.to_string())
        .bind(lb.status.as_str())
        .bind(lb.default_pool_id.as_str())
        .bind(lb.created_at.millis())
        .execute(self.w().await?)
        .await?;
        self.insert_pool(pool).await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "create",
            Scope::lb(&lb.id),
        )
        .await
    }

    async fn set_load_balancer_status(
        &mut self,
        lb: &LoadBalancer,
        status: LbStatus,
    ) -> StoreResult<()> {
        self.exec(
            "UPDATE load_balancers SET status = ? WHERE id = ?",
            &[status.as_str(), lb.id.as_str()],
        )
        .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "update",
            Scope::lb(&lb.id),
        )
        .await
    }

    async fn delete_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        let id = lb.id.as_str();
        self.exec("DELETE FROM backends WHERE lb_id = ?", &[id])
            .await?;
        // Listeners may point at the server groups about to go.
        self.exec(
            "UPDATE listeners SET group_pool_id = NULL WHERE lb_id = ?",
            &[id],
        )
        .await?;
        self.exec("DELETE FROM pools WHERE lb_id = ?", &[id])
            .await?;
        self.exec("DELETE FROM listeners WHERE lb_id = ?", &[id])
            .await?;
        self.exec("DELETE FROM load_balancers WHERE id = ?", &[id])
            .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[id],
            "delete",
            Scope::lb(&lb.id),
        )
        .await
    }

    async fn insert_server_group(&mut self, pool: &Pool) -> StoreResult<()> {
        self.insert_pool(pool).await?;
        self.log(
            &pool.project_id,
            "pool",
            &[pool.id.as_str()],
            "create",
            Scope::pool(pool),
        )
        .await
    }

    async fn delete_server_group(&mut self, pool: &Pool) -> StoreResult<()> {
        let id = pool.id.as_str();
        self.delete_pool_rows(id).await?;
        self.log(&pool.project_id, "pool", &[id], "delete", Scope::pool(pool))
            .await
    }

    async fn update_listener(&mut self, l: &Listener) -> StoreResult<()> {
        sqlx::query(
            "UPDATE listeners SET name = ?, scheduler = ?, proxy_protocol = ?, enabled = ? WHERE id = ?",
        )
        .bind(&l.name)
        .bind(l.scheduler.as_str())
        .bind(l.proxy_protocol.as_str())
        .bind(l.enabled)
        .bind(l.id.as_str())
        .execute(self.w().await?)
        .await?;
        self.log(
            &l.project_id,
            "listener",
            &[l.id.as_str()],
            "update",
            Scope::lb(&l.lb_id),
        )
        .await
    }

    async fn delete_listener(&mut self, l: &Listener) -> StoreResult<()> {
        self.delete_pool_rows(l.default_pool_id.as_str()).await?;
        self.exec("DELETE FROM listeners WHERE id = ?", &[l.id.as_str()])
            .await?;
        self.log(
            &l.project_id,
            "listener",
            &[l.id.as_str()],
            "delete",
            Scope::lb(&l.lb_id),
        )
        .await
    }

    async fn insert_listener(&mut self, l: &Listener, pool: &Pool) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO listeners (id, project_id, lb_id, name, protocol, ports, forwarding_mode, scheduler, proxy_protocol, default_pool_id, created_at, backend_port, group_pool_id, enabled) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(l.id.as_str())
        .bind(l.project_id.as_str())
        .bind(l.lb_id.as_str())
        .bind(&l.name)
        .bind(l.protocol.as_str())
        .bind(l.ports.to_spec())
        .bind(l.forwarding_mode.as_str())
        .bind(l.scheduler.as_str())
        .bind(l.proxy_protocol.as_str())
        .bind(l.default_pool_id.as_str())
        .bind(l.created_at.millis())
        .bind(l.backend_port.map(i64::from))
        .bind(l.group_pool_id.as_ref().map(PoolId::as_str))
        .bind(l.enabled)
        .execute(self.w().await?)
        .await?;
        self.insert_pool(pool).await?;
        self.log(
            &l.project_id,
            "listener",
            &[l.id.as_str()],
            "create",
            Scope::lb(&l.lb_id),
        )
        .await
    }

    async fn insert_backends(&mut self, backends: &[Backend]) -> StoreResult<()> {
        let Some(first) = backends.first() else {
            return Ok(());
        };
        for chunk in backends.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO backends (id, project_id, pool_id, lb_id, listener_id, instance_id, subnet_id, address, ports, \
                 port_key, weight, enabled, backup, name, created_at, updated_at) ",
            );
            qb.push_values(chunk, |mut row, b| {
                row.push_bind(b.id.as_str())
                    .push_bind(b.project_id.as_str())
                    .push_bind(b.pool_id.as_str())
                    .push_bind(b.lb_id.as_str())
                    .push_bind(b.listener_id.as_ref().map(ListenerId::as_str))
                    .push_bind(b.instance_id.as_ref().map(InstanceId::as_str))
                    .push_bind(b.subnet_id.as_ref().map(SubnetId::as_str))
                    .push_bind(b.address.to_string())
                    .push_bind(ports_to_text(&b.ports))
                    .push_bind(i64::from(b.ports.key()))
                    .push_bind(i64::from(b.weight))
                    .push_bind(b.enabled)
                    .push_bind(b.backup)
                    .push_bind(b.name.as_str())
                    .push_bind(b.created_at.millis())
                    .push_bind(b.updated_at.millis());
            });
            qb.build().execute(self.w().await?).await?;
        }
        let ids: Vec<&str> = backends.iter().map(|b| b.id.as_str()).collect();
        self.log(
            &first.project_id,
            "backend",
            &ids,
            "create",
            Scope::backend(first),
        )
        .await
    }

    async fn update_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        sqlx::query(
            "UPDATE pools SET hc_type = ?, hc_interval_ms = ?, hc_timeout_ms = ?, hc_rise = ?, hc_fall = ?, \
             hc_port = ?, hc_path = ?, hc_codes = ?, drain_timeout_ms = ?, slow_start_ms = ?, name = ? \
             WHERE id = ?",
        )
        .bind(hc.kind)
        .bind(hc.interval_ms)
        .bind(hc.timeout_ms)
        .bind(hc.rise)
        .bind(hc.fall)
        .bind(hc.port)
        .bind(hc.path)
        .bind(hc.codes)
        .bind(i64::try_from(p.drain_timeout_ms).unwrap_or(i64::MAX))
        .bind(i64::try_from(p.slow_start_ms).unwrap_or(i64::MAX))
        .bind(&p.name)
        .bind(p.id.as_str())
        .execute(self.w().await?)
        .await?;
        self.log(
            &p.project_id,
            "pool",
            &[p.id.as_str()],
            "update",
            Scope::pool(p),
        )
        .await
    }

    async fn update_backend(&mut self, b: &Backend) -> StoreResult<()> {
        sqlx::query(
            "UPDATE backends SET weight = ?, enabled = ?, backup = ?, name = ?, updated_at = ?, \
             ports = ?, port_key = ? WHERE id = ?",
        )
        .bind(i64::from(b.weight))
        .bind(b.enabled)
        .bind(b.backup)
        .bind(&b.name)
        .bind(b.updated_at.millis())
        .bind(ports_to_text(&b.ports))
        .bind(i64::from(b.ports.key()))
        .bind(b.id.as_str())
        .execute(self.w().await?)
        .await?;
        self.log(
            &b.project_id,
            "backend",
            &[b.id.as_str()],
            "update",
            Scope::backend(b),
        )
        .await
    }

    async fn delete_backend(&mut self, b: &Backend) -> StoreResult<()> {
        self.exec("DELETE FROM backends WHERE id = ?", &[b.id.as_str()])
            .await?;
        self.log(
            &b.project_id,
            "backend",
            &[b.id.as_str()],
            "delete",
            Scope::backend(b),
        )
        .await
    }

    async fn put_idempotency_record(
        &mut self,
        project: &ProjectId,
        operation: &str,
        token: &str,
        record: &IdempotencyRecord,
        created_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO idempotency_records (project_id, operation, token, fingerprint, response, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(project.as_str())
        .bind(operation)
        .bind(token)
        .bind(&record.fingerprint)
        .bind(&record.response)
        .bind(created_at.millis())
        .execute(self.w().await?)
        .await?;
        Ok(())
    }

    async fn savepoint(&mut self) -> StoreResult<()> {
        self.savepoint = Savepoint::Pending;
        Ok(())
    }

    async fn release_savepoint(&mut self) -> StoreResult<()> {
        // Kept on the stack rather than released: COMMIT releases them all,
        // and a later ROLLBACK TO finds the newest one of this name, which
        // is always the current command's. One round trip saved per write.
        self.savepoint = Savepoint::None;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
        if self.savepoint == Savepoint::Open {
            sqlx::query("ROLLBACK TO SAVEPOINT command")
                .execute(&mut *self.tx)
                .await?;
        }
        self.savepoint = Savepoint::None;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl SqliteTx {
    async fn insert_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        sqlx::query(
            "INSERT INTO pools (id, project_id, lb_id, listener_id, name, hc_type, hc_interval_ms, hc_timeout_ms, \
             hc_rise, hc_fall, hc_port, hc_path, hc_codes, drain_timeout_ms, slow_start_ms, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(p.id.as_str())
        .bind(p.project_id.as_str())
        .bind(p.lb_id.as_str())
        .bind(p.listener_id.as_ref().map(ListenerId::as_str))
        .bind(&p.name)
        .bind(hc.kind)
        .bind(hc.interval_ms)
        .bind(hc.timeout_ms)
        .bind(hc.rise)
        .bind(hc.fall)
        .bind(hc.port)
        .bind(hc.path)
        .bind(hc.codes)
        .bind(i64::try_from(p.drain_timeout_ms).unwrap_or(i64::MAX))
        .bind(i64::try_from(p.slow_start_ms).unwrap_or(i64::MAX))
        .bind(p.created_at.millis())
        .execute(self.w().await?)
        .await?;
        Ok(())
    }
}
