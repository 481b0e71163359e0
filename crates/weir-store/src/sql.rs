//! The store traits implemented once in SQL, for every database.
//!
//! Everything here talks to a [`Driver`]: run a statement with positional
//! arguments, read named columns of a row. Each database module
//! ([`crate::sqlite`], [`crate::postgres`]) implements only that seam, its
//! schema and its connection setup, so the two cannot drift apart in what
//! they store or how a write is logged. Statements are written with `$N`
//! placeholders in ascending order, each used once: PostgreSQL takes them
//! as they are, and SQLite gets them as plain `?` ([`positional`]), because
//! it looks numbered and named parameters up by a linear scan, which made a
//! 500-row INSERT (8,000 parameters) quadratic. Column types map the same
//! way in both (`TEXT`, `BIGINT`, `BOOLEAN`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;
use std::str::FromStr;

use async_trait::async_trait;
use weir_core::ids::*;
use weir_core::model::*;
use weir_core::Timestamp;

use crate::{
    ChangeRecord, Compacted, IdempotencyRecord, Page, ProjectCredentials, Reads, StoreError,
    StoreResult, StoreTx,
};

/// Rows per multi-row INSERT: 16 columns × 500 stays well under both
/// databases' bind-parameter limits (SQLite 32,766, PostgreSQL 65,535).
const INSERT_CHUNK: usize = 500;

/// One positional argument of a statement.
pub(crate) enum Arg<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Bool(bool),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(Some(Cow::Owned(v)))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v.map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Arg<'_> {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v.map(Cow::Owned))
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// The arguments of a statement, in placeholder order.
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$(crate::sql::Arg::from($v)),*] };
}

/// Named columns of a result row, in the types the schema uses.
pub(crate) trait Columns {
    fn text(&self, name: &str) -> StoreResult<String>;
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>>;
    fn int(&self, name: &str) -> StoreResult<i64>;
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, name: &str) -> StoreResult<bool>;
}

/// What a database module provides: statements on one connection.
#[async_trait]
pub(crate) trait Driver: Send {
    type Row: Columns + Send + Sync;
    async fn execute(&mut self, sql: &str, args: Vec<Arg<'_>>) -> StoreResult<u64>;
    async fn fetch_all(&mut self, sql: &str, args: Vec<Arg<'_>>) -> StoreResult<Vec<Self::Row>>;
    async fn fetch_optional(
        &mut self,
        sql: &str,
        args: Vec<Arg<'_>>,
    ) -> StoreResult<Option<Self::Row>>;
}

/// A driver holding an open transaction.
#[async_trait]
pub(crate) trait TxDriver: Driver {
    async fn commit(self) -> StoreResult<()>;
}

/// `$1 ... $n` rewritten as `?`: the same statement for a database that
/// binds anonymous parameters by position. The numbers must run 1, 2, 3,
/// ... in the text, as every statement of this module does (checked in
/// debug builds, so the store suite on SQLite catches a statement that
/// breaks the rule).
pub(crate) fn positional(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1u32;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        debug_assert!(
            rest[at + 1..at + 1 + digits].parse() == Ok(expected),
            "placeholder ${} where ${expected} was due in {sql}",
            &rest[at + 1..at + 1 + digits]
        );
        expected += 1;
        out.push('?');
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The statement text as a database wants it; see [`positional`].
pub(crate) fn as_written(sql: &str) -> Cow<'_, str> {
    Cow::Borrowed(sql)
}

/// A sqlx query with `args` bound in order, for any database that encodes
/// the three argument types.
pub(crate) fn bound_query<'q, DB>(
    sql: &'q str,
    args: Vec<Arg<'q>>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    Option<Cow<'q, str>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    args.into_iter().fold(sqlx::query(sql), |q, arg| match arg {
        Arg::Text(v) => q.bind(v),
        Arg::Int(v) => q.bind(v),
        Arg::Bool(v) => q.bind(v),
    })
}

/// [`Columns`] for a sqlx row type, and [`Driver`] for newtypes whose `.0`
/// derefs to that database's connection: the whole of a database module's
/// part of the seam, the same for every sqlx database.
macro_rules! sqlx_driver {
    ($db:ty, $row:ty, $spell:path, $($conn:ty),+) => {
        impl crate::sql::Columns for $row {
            fn text(&self, name: &str) -> StoreResult<String> {
                crate::sql::column::<$db, _, _>(self, name)
            }
            fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
                crate::sql::column::<$db, _, _>(self, name)
            }
            fn int(&self, name: &str) -> StoreResult<i64> {
                crate::sql::column::<$db, _, _>(self, name)
            }
            fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
                crate::sql::column::<$db, _, _>(self, name)
            }
            fn flag(&self, name: &str) -> StoreResult<bool> {
                crate::sql::column::<$db, _, _>(self, name)
            }
        }
        $(
            #[async_trait::async_trait]
            impl crate::sql::Driver for $conn {
                type Row = $row;

                async fn execute(
                    &mut self,
                    sql: &str,
                    args: Vec<crate::sql::Arg<'_>>,
                ) -> StoreResult<u64> {
                    let sql = $spell(sql);
                    Ok(crate::sql::bound_query::<$db>(&sql, args)
                        .execute(&mut *self.0)
                        .await?
                        .rows_affected())
                }

                async fn fetch_all(
                    &mut self,
                    sql: &str,
                    args: Vec<crate::sql::Arg<'_>>,
                ) -> StoreResult<Vec<$row>> {
                    let sql = $spell(sql);
                    Ok(crate::sql::bound_query::<$db>(&sql, args)
                        .fetch_all(&mut *self.0)
                        .await?)
                }

                async fn fetch_optional(
                    &mut self,
                    sql: &str,
                    args: Vec<crate::sql::Arg<'_>>,
                ) -> StoreResult<Option<$row>> {
                    let sql = $spell(sql);
                    Ok(crate::sql::bound_query::<$db>(&sql, args)
                        .fetch_optional(&mut *self.0)
                        .await?)
                }
            }
        )+
    };
}
pub(crate) use sqlx_driver;

/// Applies the migrations of `$migrations` (`&[(version, sql)]`) that the
/// `schema_migrations` table does not list yet, each in its own
/// transaction, on `$conn` (a `&mut` sqlx connection of either database):
/// the one migration runner, written once like the driver above.
macro_rules! apply_migrations {
    ($conn:expr, $migrations:expr) => {{
        let conn = $conn;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&mut *conn)
            .await?;
        for (version, sql) in $migrations {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *conn)
                    .await?;
            if applied.is_none() {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(version, "applied schema migration");
            }
        }
        StoreResult::Ok(())
    }};
}
pub(crate) use apply_migrations;

/// One named column of a sqlx row, with a corrupt-data error that names it.
pub(crate) fn column<'r, DB, R, T>(row: &'r R, name: &str) -> StoreResult<T>
where
    DB: sqlx::Database,
    R: sqlx::Row<Database = DB>,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    T: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

/// `$first, $first+1, ...`: `count` placeholders for a list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, ..., $w), ($w+1, ...)`: `rows` tuples of `width` placeholders.
fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

// === row decoding ===

fn parsed<T: FromStr>(row: &impl Columns, name: &str) -> StoreResult<T> {
    let text = row.text(name)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{name}: cannot parse {text:?}")))
}

fn ts(row: &impl Columns, name: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp(row.int(name)?))
}

fn u64_col(row: &impl Columns, name: &str) -> StoreResult<u64> {
    let v = row.int(name)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: {v}")))
}

fn port_col(row: &impl Columns, name: &str) -> StoreResult<Option<u16>> {
    row.opt_int(name)?
        .map(|p| u16::try_from(p).map_err(|_| StoreError::Corrupt(format!("{name}: {p}"))))
        .transpose()
}

fn project_from(row: &impl Columns) -> StoreResult<Project> {
    Ok(Project {
        id: ProjectId::new(row.text("id")?),
        name: row.text("name")?,
        access_key_id: row.text("access_key_id")?,
        created_at: ts(row, "created_at")?,
    })
}

fn vpc_from(row: &impl Columns) -> StoreResult<Vpc> {
    Ok(Vpc {
        id: VpcId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        cidr: parsed(row, "cidr")?,
        has_border_gateway: row.flag("has_border_gateway")?,
        shared: row.flag("shared")?,
        created_at: ts(row, "created_at")?,
    })
}

fn subnet_from(row: &impl Columns) -> StoreResult<Subnet> {
    Ok(Subnet {
        id: SubnetId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        vpc_id: VpcId::new(row.text("vpc_id")?),
        name: row.text("name")?,
        cidr: parsed(row, "cidr")?,
        shared: row.flag("shared")?,
        created_at: ts(row, "created_at")?,
    })
}

fn enum_col<T: FromStr<Err = ()>>(row: &impl Columns, name: &str) -> StoreResult<T> {
    parsed(row, name)
}

fn instance_from(row: &impl Columns) -> StoreResult<Instance> {
    Ok(Instance {
        id: InstanceId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        subnet_id: SubnetId::new(row.text("subnet_id")?),
        vpc_id: VpcId::new(row.text("vpc_id")?),
        name: row.text("name")?,
        instance_type: enum_col(row, "instance_type")?,
        state: enum_col(row, "state")?,
        private_ip: parsed(row, "private_ip")?,
        created_at: ts(row, "created_at")?,
    })
}

fn lb_from(row: &impl Columns) -> StoreResult<LoadBalancer> {
    Ok(LoadBalancer {
        id: LoadBalancerId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        subnet_id: SubnetId::new(row.text("subnet_id")?),
        vpc_id: VpcId::new(row.text("vpc_id")?),
        vip: parsed(row, "vip")?,
        status: enum_col(row, "status")?,
        default_pool_id: PoolId::new(row.text("default_pool_id")?),
        description: row.text("description")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn listener_from(row: &impl Columns) -> StoreResult<Listener> {
    let spec = row.text("ports")?;
    Ok(Listener {
        id: ListenerId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        name: row.text("name")?,
        protocol: enum_col(row, "protocol")?,
        ports: ListenerPorts::from_spec(&spec)
            .ok_or_else(|| StoreError::Corrupt(format!("listener ports {spec:?}")))?,
        forwarding_mode: enum_col(row, "forwarding_mode")?,
        scheduler: enum_col(row, "scheduler")?,
        proxy_protocol: enum_col(row, "proxy_protocol")?,
        backend_port: port_col(row, "backend_port")?,
        group_pool_id: row.opt_text("group_pool_id")?.map(PoolId::new),
        enabled: row.flag("enabled")?,
        max_connections: row
            .opt_int("max_connections")?
            .map(|n| {
                u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("max_connections: {n}")))
            })
            .transpose()?,
        idle_timeout_ms: row
            .opt_int("idle_timeout_ms")?
            .map(|n| {
                u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("idle_timeout_ms: {n}")))
            })
            .transpose()?,
        forwarded_headers: {
            let spec = row.text("forwarded_headers")?;
            ForwardedHeaders::from_spec(&spec)
                .ok_or_else(|| StoreError::Corrupt(format!("forwarded_headers {spec:?}")))?
        },
        default_pool_id: PoolId::new(row.text("default_pool_id")?),
        description: row.text("description")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn pool_from(row: &impl Columns) -> StoreResult<Pool> {
    let health_check = match row.opt_text("hc_type")?.as_deref() {
        None => None,
        Some(kind) => {
            let kind = match kind {
                "tcp" => CheckKind::Tcp,
                "udp-connect" => CheckKind::UdpConnect,
                "tls-hello" => CheckKind::TlsHello,
                kind @ ("http" | "https") => {
                    let codes = row.text("hc_codes")?;
                    let path = row.text("hc_path")?;
                    let expected = weir_core::pool::parse_codes("hc_codes", &codes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if kind == "https" {
                        CheckKind::Https { path, expected }
                    } else {
                        CheckKind::Http { path, expected }
                    }
                }
                other => return Err(StoreError::Corrupt(format!("hc_type {other:?}"))),
            };
            let count = |name: &str| {
                let v = row.int(name)?;
                u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{name}: {v}")))
            };
            Some(HealthCheck {
                kind,
                interval_ms: u64_col(row, "hc_interval_ms")?,
                timeout_ms: u64_col(row, "hc_timeout_ms")?,
                rise: count("hc_rise")?,
                fall: count("hc_fall")?,
                port: port_col(row, "hc_port")?,
            })
        }
    };
    Ok(Pool {
        id: PoolId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        listener_id: row.opt_text("listener_id")?.map(ListenerId::new),
        name: row.text("name")?,
        health_check,
        drain_timeout_ms: u64_col(row, "drain_timeout_ms")?,
        slow_start_ms: u64_col(row, "slow_start_ms")?,
        scheduler: row
            .opt_text("scheduler")?
            .map(|s| {
                s.parse()
                    .map_err(|()| StoreError::Corrupt(format!("pool scheduler {s:?}")))
            })
            .transpose()?,
        protocol: row
            .opt_text("protocol")?
            .map(|s| {
                s.parse()
                    .map_err(|()| StoreError::Corrupt(format!("pool protocol {s:?}")))
            })
            .transpose()?,
        persistence: row
            .opt_text("persistence")?
            .map(|s| {
                s.parse()
                    .map_err(|()| StoreError::Corrupt(format!("pool persistence {s:?}")))
            })
            .transpose()?,
        enabled: row.flag("enabled")?,
        description: row.text("description")?,
        monitor_name: row.text("monitor_name")?,
        monitor_enabled: row.flag("monitor_enabled")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// The health-check columns of a pool, in statement order.
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
        CheckKind::UdpConnect => ("udp-connect", None, None),
        CheckKind::TlsHello => ("tls-hello", None, None),
        CheckKind::Http { path, expected } => (
            "http",
            Some(path.clone()),
            Some(weir_core::pool::format_codes(expected)),
        ),
        CheckKind::Https { path, expected } => (
            "https",
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

fn backend_from(row: &impl Columns) -> StoreResult<Backend> {
    let weight = row.int("weight")?;
    Ok(Backend {
        id: BackendId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        pool_id: PoolId::new(row.text("pool_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        listener_id: row.opt_text("listener_id")?.map(ListenerId::new),
        instance_id: row.opt_text("instance_id")?.map(InstanceId::new),
        subnet_id: row.opt_text("subnet_id")?.map(SubnetId::new),
        address: parsed(row, "address")?,
        ports: ports_from_text(row.opt_text("ports")?)?,
        weight: u16::try_from(weight)
            .map_err(|_| StoreError::Corrupt(format!("weight {weight}")))?,
        enabled: row.flag("enabled")?,
        backup: row.flag("backup")?,
        name: row.text("name")?,
        monitor_address: row
            .opt_text("monitor_address")?
            .map(|a| {
                a.parse()
                    .map_err(|_| StoreError::Corrupt(format!("monitor_address {a:?}")))
            })
            .transpose()?,
        monitor_port: port_col(row, "monitor_port")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn change_from(row: &impl Columns) -> StoreResult<ChangeRecord> {
    Ok(ChangeRecord {
        revision: u64_col(row, "revision")?,
        entity: row.text("entity")?,
        entity_id: row.text("entity_id")?,
        op: row.text("op")?,
        lb_id: row.opt_text("lb_id")?.map(LoadBalancerId::new),
        pool_id: row.opt_text("pool_id")?.map(PoolId::new),
    })
}

fn all<R: Columns, T>(rows: Vec<R>, f: fn(&R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

fn one<R: Columns, T>(row: Option<R>, f: fn(&R) -> StoreResult<T>) -> StoreResult<Option<T>> {
    row.as_ref().map(f).transpose()
}

/// `SELECT * FROM table WHERE column = value`: at most one row (the
/// column is a key). Table and column names are literals of this module.
async fn select_one<D: Driver, T>(
    conn: &mut D,
    table: &str,
    column: &str,
    value: &str,
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    if !well_formed(value) {
        return Ok(None);
    }
    let sql = format!("SELECT * FROM {table} WHERE {column} = $1");
    one(conn.fetch_optional(&sql, args![value]).await?, f)
}

/// `SELECT * FROM table WHERE column = value ORDER BY id`.
async fn select_where<D: Driver, T>(
    conn: &mut D,
    table: &str,
    column: &str,
    value: &str,
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    if !well_formed(value) {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT * FROM {table} WHERE {column} = $1 ORDER BY id");
    all(conn.fetch_all(&sql, args![value]).await?, f)
}

/// Every row of `table`, or only `project`'s, by id.
async fn select_scoped<D: Driver, T>(
    conn: &mut D,
    table: &str,
    project: Option<&ProjectId>,
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    select_visible(conn, table, project, "project_id = $1", f).await
}

/// [`select_scoped`] for a table with a `shared` column (VPCs, subnets):
/// a project also sees the rows every project may use.
async fn select_scoped_or_shared<D: Driver, T>(
    conn: &mut D,
    table: &str,
    project: Option<&ProjectId>,
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    select_visible(conn, table, project, "(project_id = $1 OR shared)", f).await
}

/// Every row of `table`, or those `visible` (binding `project` as `$1`)
/// keeps, by id.
async fn select_visible<D: Driver, T>(
    conn: &mut D,
    table: &str,
    project: Option<&ProjectId>,
    visible: &str,
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = match project {
        Some(p) => {
            let sql = format!("SELECT * FROM {table} WHERE {visible} ORDER BY id");
            conn.fetch_all(&sql, args![p.as_str()]).await?
        }
        None => {
            let sql = format!("SELECT * FROM {table} ORDER BY id");
            conn.fetch_all(&sql, Vec::new()).await?
        }
    };
    all(rows, f)
}

/// `SELECT * FROM table WHERE [prefix AND] column IN (values...)`, or
/// nothing for an empty list (SQL has no empty IN). `prefix` binds the
/// leading arguments. Values that cannot be ids are left out: they match
/// nothing.
async fn select_in<'a, D: Driver, T>(
    conn: &mut D,
    table: &str,
    prefix: (&str, Vec<Arg<'a>>),
    column: &str,
    values: &'a [String],
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let values: Vec<&'a String> = values.iter().filter(|v| well_formed(v)).collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let (condition, mut bound) = prefix;
    let list = placeholders(bound.len() + 1, values.len());
    let sql = format!("SELECT * FROM {table} WHERE {condition}{column} IN ({list})");
    bound.extend(values.into_iter().map(Arg::from));
    all(conn.fetch_all(&sql, bound).await?, f)
}

/// No extra condition before an IN list.
fn unscoped<'a>() -> (&'static str, Vec<Arg<'a>>) {
    ("", Vec::new())
}

/// Lends a connection for reads: a pooled reader or a write transaction.
#[async_trait]
pub(crate) trait Lend: Send {
    type D: Driver;
    /// The connection, ready for a statement: inside a write transaction
    /// that means inside the current command's savepoint.
    async fn driver(&mut self) -> StoreResult<&mut Self::D>;
}

/// A pooled connection outside any transaction.
pub(crate) struct Reader<D>(pub D);

#[async_trait]
impl<D: Driver> Lend for Reader<D> {
    type D = D;
    async fn driver(&mut self) -> StoreResult<&mut D> {
        Ok(&mut self.0)
    }
}

#[async_trait]
impl<L: Lend> Reads for L {
    async fn project(&mut self, id: &ProjectId) -> StoreResult<Option<Project>> {
        select_one(
            self.driver().await?,
            "projects",
            "id",
            id.as_str(),
            project_from,
        )
        .await
    }

    async fn project_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Project>> {
        select_one(
            self.driver().await?,
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
        if !well_formed(access_key_id) {
            return Ok(None);
        }
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT * FROM projects WHERE access_key_id = $1",
                args![access_key_id],
            )
            .await?;
        one(row, |r| {
            Ok(ProjectCredentials {
                project: project_from(r)?,
                access_key_secret: r.text("access_key_secret")?,
            })
        })
    }

    async fn projects(&mut self) -> StoreResult<Vec<Project>> {
        select_scoped(self.driver().await?, "projects", None, project_from).await
    }

    async fn vpc(&mut self, id: &VpcId) -> StoreResult<Option<Vpc>> {
        select_one(self.driver().await?, "vpcs", "id", id.as_str(), vpc_from).await
    }

    async fn vpcs(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Vpc>> {
        select_scoped_or_shared(self.driver().await?, "vpcs", project, vpc_from).await
    }

    async fn subnet(&mut self, id: &SubnetId) -> StoreResult<Option<Subnet>> {
        select_one(
            self.driver().await?,
            "subnets",
            "id",
            id.as_str(),
            subnet_from,
        )
        .await
    }

    async fn subnets(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Subnet>> {
        select_scoped_or_shared(self.driver().await?, "subnets", project, subnet_from).await
    }

    async fn subnets_of_vpc(&mut self, vpc: &VpcId) -> StoreResult<Vec<Subnet>> {
        select_where(
            self.driver().await?,
            "subnets",
            "vpc_id",
            vpc.as_str(),
            subnet_from,
        )
        .await
    }

    async fn subnets_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Subnet>> {
        select_in(
            self.driver().await?,
            "subnets",
            unscoped(),
            "id",
            ids,
            subnet_from,
        )
        .await
    }

    async fn instance(&mut self, id: &InstanceId) -> StoreResult<Option<Instance>> {
        select_one(
            self.driver().await?,
            "instances",
            "id",
            id.as_str(),
            instance_from,
        )
        .await
    }

    async fn instances(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Instance>> {
        select_scoped(self.driver().await?, "instances", project, instance_from).await
    }

    async fn instance_by_ip(&mut self, vpc: &VpcId, ip: IpAddr) -> StoreResult<Option<Instance>> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT * FROM instances WHERE vpc_id = $1 AND private_ip = $2",
                args![vpc.as_str(), ip.to_string()],
            )
            .await?;
        one(row, instance_from)
    }

    async fn instances_by_ids_or_ips(
        &mut self,
        ids: &[String],
        ips: &[IpAddr],
    ) -> StoreResult<Vec<Instance>> {
        let conn = self.driver().await?;
        let mut found = select_in(conn, "instances", unscoped(), "id", ids, instance_from).await?;
        let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
        let by_ip = select_in(
            conn,
            "instances",
            unscoped(),
            "private_ip",
            &ips,
            instance_from,
        )
        .await?;
        for inst in by_ip {
            if !found.iter().any(|i| i.id == inst.id) {
                found.push(inst);
            }
        }
        Ok(found)
    }

    async fn load_balancer(&mut self, id: &LoadBalancerId) -> StoreResult<Option<LoadBalancer>> {
        select_one(
            self.driver().await?,
            "load_balancers",
            "id",
            id.as_str(),
            lb_from,
        )
        .await
    }

    async fn load_balancers(
        &mut self,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<LoadBalancer>> {
        select_scoped(self.driver().await?, "load_balancers", project, lb_from).await
    }

    async fn used_vips(&mut self) -> StoreResult<HashSet<IpAddr>> {
        let rows = self
            .driver()
            .await?
            .fetch_all("SELECT vip FROM load_balancers", Vec::new())
            .await?;
        rows.iter().map(|r| parsed(r, "vip")).collect()
    }

    async fn backend_address_in_use(&mut self, address: IpAddr) -> StoreResult<bool> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT id FROM backends WHERE address = $1 LIMIT 1",
                args![address.to_string()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn vips_among(&mut self, addresses: &[IpAddr]) -> StoreResult<HashSet<IpAddr>> {
        let addresses: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
        let vip = |r: &_| parsed(r, "vip");
        let found = select_in(
            self.driver().await?,
            "load_balancers",
            unscoped(),
            "vip",
            &addresses,
            vip,
        )
        .await?;
        Ok(found.into_iter().collect())
    }

    async fn listener(&mut self, id: &ListenerId) -> StoreResult<Option<Listener>> {
        select_one(
            self.driver().await?,
            "listeners",
            "id",
            id.as_str(),
            listener_from,
        )
        .await
    }

    async fn listeners_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Listener>> {
        select_where(
            self.driver().await?,
            "listeners",
            "lb_id",
            lb.as_str(),
            listener_from,
        )
        .await
    }

    async fn pool(&mut self, id: &PoolId) -> StoreResult<Option<Pool>> {
        select_one(self.driver().await?, "pools", "id", id.as_str(), pool_from).await
    }

    async fn backend(&mut self, id: &BackendId) -> StoreResult<Option<Backend>> {
        select_one(
            self.driver().await?,
            "backends",
            "id",
            id.as_str(),
            backend_from,
        )
        .await
    }

    async fn backends(&mut self, pool: &PoolId, page: &Page) -> StoreResult<Vec<Backend>> {
        if !well_formed(pool.as_str()) {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let rows = self
            .driver()
            .await?
            .fetch_all(
                "SELECT * FROM backends WHERE pool_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                args![pool.as_str(), page.marker.as_deref().unwrap_or(""), limit],
            )
            .await?;
        all(rows, backend_from)
    }

    async fn backends_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Backend>> {
        select_in(
            self.driver().await?,
            "backends",
            unscoped(),
            "id",
            ids,
            backend_from,
        )
        .await
    }

    async fn count_backends(&mut self, pool: &PoolId) -> StoreResult<usize> {
        if !well_formed(pool.as_str()) {
            return Ok(0);
        }
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT backend_count FROM pools WHERE id = $1",
                args![pool.as_str()],
            )
            .await?;
        let n = row.map(|r| r.int("backend_count")).transpose()?;
        Ok(n.and_then(|n| usize::try_from(n).ok()).unwrap_or(0))
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
        let conn = self.driver().await?;
        let mut found = Vec::new();
        for (column, values) in [("address", &addresses[..]), ("instance_id", instance_ids)] {
            let prefix = ("pool_id = $1 AND ", args![pool.as_str()]);
            for b in select_in(conn, "backends", prefix, column, values, backend_from).await? {
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
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT fingerprint, response FROM idempotency_records \
                 WHERE project_id = $1 AND operation = $2 AND token = $3",
                args![project.as_str(), operation, token],
            )
            .await?;
        one(row, |r| {
            Ok(IdempotencyRecord {
                fingerprint: r.text("fingerprint")?,
                response: r.text("response")?,
            })
        })
    }

    async fn pools_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Pool>> {
        select_where(
            self.driver().await?,
            "pools",
            "lb_id",
            lb.as_str(),
            pool_from,
        )
        .await
    }

    async fn changes_since(
        &mut self,
        revision: u64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeRecord>> {
        let rows = self
            .driver()
            .await?
            .fetch_all(
                "SELECT * FROM change_log WHERE revision > $1 ORDER BY revision LIMIT $2",
                args![
                    i64::try_from(revision).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
            )
            .await?;
        all(rows, change_from)
    }

    async fn revision(&mut self) -> StoreResult<u64> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT revision FROM change_log ORDER BY revision DESC LIMIT 1",
                Vec::new(),
            )
            .await?;
        Ok(row
            .map(|r| u64_col(&r, "revision"))
            .transpose()?
            .unwrap_or(0))
    }

    async fn compacted_through(&mut self) -> StoreResult<u64> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT revision FROM change_log_horizon WHERE id = 1",
                Vec::new(),
            )
            .await?;
        Ok(row
            .map(|r| u64_col(&r, "revision"))
            .transpose()?
            .unwrap_or(0))
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

/// The current command's savepoint. It is opened lazily, right before the
/// command's first statement, reads included: on PostgreSQL any failing
/// statement (a read the server refuses, a lock or statement timeout)
/// aborts the whole transaction until it rolls back to a savepoint, so a
/// read outside one would fail every other command of the group. A
/// command that fails while planning, before any statement, costs none.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    /// No command is running, or it has not asked for one.
    None,
    /// Asked for; opened at the first statement.
    Pending,
    /// Opened.
    Open,
}

/// One write transaction on any database.
pub(crate) struct WriteTx<D> {
    conn: D,
    savepoint: Savepoint,
}

impl<D: TxDriver> WriteTx<D> {
    pub(crate) fn new(conn: D) -> Self {
        Self {
            conn,
            savepoint: Savepoint::None,
        }
    }

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
            let sql = format!(
                "INSERT INTO change_log (project_id, entity, entity_id, op, lb_id, pool_id) VALUES {}",
                value_rows(chunk.len(), 6)
            );
            let mut bound = Vec::with_capacity(chunk.len() * 6);
            for id in chunk {
                bound.extend(args![
                    project.as_str(),
                    entity,
                    *id,
                    op,
                    scope.lb,
                    scope.pool
                ]);
            }
            self.w().await?.execute(&sql, bound).await?;
        }
        Ok(())
    }

    /// The connection for any statement: opens the command's savepoint
    /// first if one is pending.
    async fn w(&mut self) -> StoreResult<&mut D> {
        if self.savepoint == Savepoint::Pending {
            self.conn.execute("SAVEPOINT command", Vec::new()).await?;
            self.savepoint = Savepoint::Open;
        }
        Ok(&mut self.conn)
    }

    /// Deletes a pool with its backends (the change log is the caller's).
    async fn delete_pool_rows(&mut self, pool: &str) -> StoreResult<()> {
        self.exec("DELETE FROM backends WHERE pool_id = $1", args![pool])
            .await?;
        self.exec("DELETE FROM pools WHERE id = $1", args![pool])
            .await?;
        Ok(())
    }

    async fn exec(&mut self, sql: &str, bound: Vec<Arg<'_>>) -> StoreResult<u64> {
        self.w().await?.execute(sql, bound).await
    }

    async fn insert_pool(&mut self, p: &Pool) -> StoreResult<()> {
        let hc = hc_columns(p.health_check.as_ref());
        self.exec(
            "INSERT INTO pools (id, project_id, lb_id, listener_id, name, hc_type, hc_interval_ms, hc_timeout_ms, \
             hc_rise, hc_fall, hc_port, hc_path, hc_codes, drain_timeout_ms, slow_start_ms, created_at, \
             scheduler, protocol, enabled, description, monitor_name, updated_at, monitor_enabled, persistence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24)",
            args![
                p.id.as_str(),
                p.project_id.as_str(),
                p.lb_id.as_str(),
                p.listener_id.as_ref().map(ListenerId::as_str),
                &p.name,
                hc.kind,
                hc.interval_ms,
                hc.timeout_ms,
                hc.rise,
                hc.fall,
                hc.port,
                hc.path,
                hc.codes,
                i64::try_from(p.drain_timeout_ms).unwrap_or(i64::MAX),
                i64::try_from(p.slow_start_ms).unwrap_or(i64::MAX),
                p.created_at.millis(),
                p.scheduler.map(Scheduler::as_str),
                p.protocol.map(PoolProtocol::as_str),
                p.enabled,
                &p.description,
                &p.monitor_name,
                p.updated_at.millis(),
                p.monitor_enabled,
                p.persistence.map(Persistence::as_str),
            ],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl<D: TxDriver> Lend for WriteTx<D> {
    type D = D;
    async fn driver(&mut self) -> StoreResult<&mut D> {
        self.w().await
    }
}

#[async_trait]
impl<D: TxDriver> StoreTx for WriteTx<D> {
    async fn insert_project(
        &mut self,
        project: &Project,
        token_hash: &str,
        access_key_secret: &str,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO projects (id, name, token_hash, access_key_id, access_key_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                project.id.as_str(),
                &project.name,
                token_hash,
                &project.access_key_id,
                access_key_secret,
                project.created_at.millis(),
            ],
        )
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
        self.exec(
            "INSERT INTO vpcs (id, project_id, name, cidr, has_border_gateway, shared, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                vpc.id.as_str(),
                vpc.project_id.as_str(),
                &vpc.name,
                vpc.cidr.to_string(),
                vpc.has_border_gateway,
                vpc.shared,
                vpc.created_at.millis(),
            ],
        )
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
        self.exec(
            "INSERT INTO subnets (id, project_id, vpc_id, name, cidr, shared, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                subnet.id.as_str(),
                subnet.project_id.as_str(),
                subnet.vpc_id.as_str(),
                &subnet.name,
                subnet.cidr.to_string(),
                subnet.shared,
                subnet.created_at.millis(),
            ],
        )
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
        self.exec(
            "INSERT INTO instances (id, project_id, subnet_id, vpc_id, name, instance_type, state, private_ip, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![
                i.id.as_str(),
                i.project_id.as_str(),
                i.subnet_id.as_str(),
                i.vpc_id.as_str(),
                &i.name,
                i.instance_type.as_str(),
                i.state.as_str(),
                i.private_ip.to_string(),
                i.created_at.millis(),
            ],
        )
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
            "UPDATE instances SET name = $1, state = $2 WHERE id = $3",
            args![&i.name, i.state.as_str(), i.id.as_str()],
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
        self.exec(
            "INSERT INTO load_balancers (id, project_id, name, subnet_id, vpc_id, vip, status, default_pool_id, created_at, \
             description, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            args![
                lb.id.as_str(),
                lb.project_id.as_str(),
                &lb.name,
                lb.subnet_id.as_str(),
                lb.vpc_id.as_str(),
                lb.vip.to_string(),
                lb.status.as_str(),
                lb.default_pool_id.as_str(),
                lb.created_at.millis(),
                &lb.description,
                lb.updated_at.millis(),
            ],
        )
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
            "UPDATE load_balancers SET status = $1 WHERE id = $2",
            args![status.as_str(), lb.id.as_str()],
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

    async fn update_load_balancer(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        self.exec(
            "UPDATE load_balancers SET name = $1, description = $2, status = $3, updated_at = $4 WHERE id = $5",
            args![
                &lb.name,
                &lb.description,
                lb.status.as_str(),
                lb.updated_at.millis(),
                lb.id.as_str()
            ],
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
        self.exec("DELETE FROM backends WHERE lb_id = $1", args![id])
            .await?;
        // Listeners may point at the server groups about to go.
        self.exec(
            "UPDATE listeners SET group_pool_id = NULL WHERE lb_id = $1",
            args![id],
        )
        .await?;
        self.exec("DELETE FROM pools WHERE lb_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM listeners WHERE lb_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM load_balancers WHERE id = $1", args![id])
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
        self.exec(
            "UPDATE listeners SET name = $1, scheduler = $2, proxy_protocol = $3, enabled = $4, \
             max_connections = $5, idle_timeout_ms = $6, description = $7, group_pool_id = $8, \
             updated_at = $9, forwarded_headers = $10 WHERE id = $11",
            args![
                &l.name,
                l.scheduler.as_str(),
                l.proxy_protocol.as_str(),
                l.enabled,
                l.max_connections.map(i64::from),
                l.idle_timeout_ms
                    .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                &l.description,
                l.group_pool_id.as_ref().map(PoolId::as_str),
                l.updated_at.millis(),
                l.forwarded_headers.to_spec(),
                l.id.as_str(),
            ],
        )
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
        self.exec("DELETE FROM listeners WHERE id = $1", args![l.id.as_str()])
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
        self.exec(
            "INSERT INTO listeners (id, project_id, lb_id, name, protocol, ports, forwarding_mode, scheduler, \
             proxy_protocol, default_pool_id, created_at, backend_port, group_pool_id, enabled, \
             max_connections, idle_timeout_ms, description, updated_at, forwarded_headers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            args![
                l.id.as_str(),
                l.project_id.as_str(),
                l.lb_id.as_str(),
                &l.name,
                l.protocol.as_str(),
                l.ports.to_spec(),
                l.forwarding_mode.as_str(),
                l.scheduler.as_str(),
                l.proxy_protocol.as_str(),
                l.default_pool_id.as_str(),
                l.created_at.millis(),
                l.backend_port.map(i64::from),
                l.group_pool_id.as_ref().map(PoolId::as_str),
                l.enabled,
                l.max_connections.map(i64::from),
                l.idle_timeout_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                &l.description,
                l.updated_at.millis(),
                l.forwarded_headers.to_spec(),
            ],
        )
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
        const WIDTH: usize = 18;
        for chunk in backends.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO backends (id, project_id, pool_id, lb_id, listener_id, instance_id, subnet_id, address, ports, \
                 port_key, weight, enabled, backup, name, created_at, updated_at, monitor_address, monitor_port) VALUES {}",
                value_rows(chunk.len(), WIDTH)
            );
            let mut bound = Vec::with_capacity(chunk.len() * WIDTH);
            for b in chunk {
                bound.extend(args![
                    b.id.as_str(),
                    b.project_id.as_str(),
                    b.pool_id.as_str(),
                    b.lb_id.as_str(),
                    b.listener_id.as_ref().map(ListenerId::as_str),
                    b.instance_id.as_ref().map(InstanceId::as_str),
                    b.subnet_id.as_ref().map(SubnetId::as_str),
                    b.address.to_string(),
                    ports_to_text(&b.ports),
                    i64::from(b.ports.key()),
                    i64::from(b.weight),
                    b.enabled,
                    b.backup,
                    b.name.as_str(),
                    b.created_at.millis(),
                    b.updated_at.millis(),
                    b.monitor_address.map(|a| a.to_string()),
                    b.monitor_port.map(i64::from),
                ]);
            }
            self.exec(&sql, bound).await?;
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
        self.exec(
            "UPDATE pools SET hc_type = $1, hc_interval_ms = $2, hc_timeout_ms = $3, hc_rise = $4, hc_fall = $5, \
             hc_port = $6, hc_path = $7, hc_codes = $8, drain_timeout_ms = $9, slow_start_ms = $10, name = $11, \
             scheduler = $12, enabled = $13, description = $14, monitor_name = $15, updated_at = $16, \
             monitor_enabled = $17, persistence = $18 WHERE id = $19",
            args![
                hc.kind,
                hc.interval_ms,
                hc.timeout_ms,
                hc.rise,
                hc.fall,
                hc.port,
                hc.path,
                hc.codes,
                i64::try_from(p.drain_timeout_ms).unwrap_or(i64::MAX),
                i64::try_from(p.slow_start_ms).unwrap_or(i64::MAX),
                &p.name,
                p.scheduler.map(Scheduler::as_str),
                p.enabled,
                &p.description,
                &p.monitor_name,
                p.updated_at.millis(),
                p.monitor_enabled,
                p.persistence.map(Persistence::as_str),
                p.id.as_str(),
            ],
        )
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
        self.exec(
            "UPDATE backends SET weight = $1, enabled = $2, backup = $3, name = $4, updated_at = $5, \
             ports = $6, port_key = $7, monitor_address = $8, monitor_port = $9 WHERE id = $10",
            args![
                i64::from(b.weight),
                b.enabled,
                b.backup,
                &b.name,
                b.updated_at.millis(),
                ports_to_text(&b.ports),
                i64::from(b.ports.key()),
                b.monitor_address.map(|a| a.to_string()),
                b.monitor_port.map(i64::from),
                b.id.as_str(),
            ],
        )
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
        self.exec("DELETE FROM backends WHERE id = $1", args![b.id.as_str()])
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
        self.exec(
            "INSERT INTO idempotency_records (project_id, operation, token, fingerprint, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                project.as_str(),
                operation,
                token,
                &record.fingerprint,
                &record.response,
                created_at.millis(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn compact(
        &mut self,
        records_before: Timestamp,
        keep_revisions: u64,
    ) -> StoreResult<Compacted> {
        let idempotency_records = self
            .exec(
                "DELETE FROM idempotency_records WHERE created_at < $1",
                args![records_before.millis()],
            )
            .await?;
        let latest = self.revision().await?;
        let through = latest.saturating_sub(keep_revisions.max(1));
        let mut change_log_rows = 0;
        if through > self.compacted_through().await? {
            let through = i64::try_from(through).unwrap_or(i64::MAX);
            change_log_rows = self
                .exec(
                    "DELETE FROM change_log WHERE revision <= $1",
                    args![through],
                )
                .await?;
            self.exec(
                "UPDATE change_log_horizon SET revision = $1 WHERE id = 1",
                args![through],
            )
            .await?;
        }
        Ok(Compacted {
            change_log_rows,
            idempotency_records,
        })
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
            self.conn
                .execute("ROLLBACK TO SAVEPOINT command", Vec::new())
                .await?;
        }
        self.savepoint = Savepoint::None;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.conn.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_turns_numbered_placeholders_into_anonymous_ones() {
        assert_eq!(
            positional("UPDATE t SET a = $1, b = $2 WHERE id = $3"),
            "UPDATE t SET a = ?, b = ? WHERE id = ?"
        );
        let insert = format!("INSERT INTO t (a, b) VALUES {}", value_rows(2, 2));
        assert_eq!(
            positional(&insert),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        assert!(matches!(positional("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    #[should_panic(expected = "where $2 was due")]
    #[cfg(debug_assertions)]
    fn positional_refuses_placeholders_out_of_order() {
        let _ = positional("SELECT $1, $3");
    }

    #[test]
    fn placeholders_number_rows_left_to_right() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }

    #[test]
    fn backend_ports_round_trip_through_their_text_form() {
        for ports in [
            BackendPorts::Inherit,
            BackendPorts::One(80),
            BackendPorts::List(vec![80]),
            BackendPorts::List(vec![80, 443]),
        ] {
            assert_eq!(ports_from_text(ports_to_text(&ports)).unwrap(), ports);
        }
        assert!(ports_from_text(Some("[80,x]".into())).is_err());
    }
}
