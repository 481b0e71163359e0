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
use weir_core::flavor::{Flavor, FlavorProfile};
use weir_core::ids::*;
use weir_core::model::*;
use weir_core::Timestamp;

use crate::{
    ChangeRecord, Compacted, IdempotencyRecord, Page, ProjectCredentials, Reads, StoreError,
    StoreResult, StoreTx,
};

/// Rows per multi-row INSERT: 19 columns × 500 stays well under both
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

/// One statement of a [`Driver::batch`]: text with `$N` placeholders and
/// its arguments.
pub(crate) struct Statement<'a> {
    pub sql: Cow<'a, str>,
    pub args: Vec<Arg<'a>>,
}

impl<'a> Statement<'a> {
    pub fn new(sql: impl Into<Cow<'a, str>>, args: Vec<Arg<'a>>) -> Self {
        Self {
            sql: sql.into(),
            args,
        }
    }

    /// Whether the statement can wait to go out with a later batch: no
    /// argument is a text the database may refuse for what it holds (a NUL
    /// byte, which PostgreSQL's text type cannot store).
    pub fn holdable(&self) -> bool {
        self.args.iter().all(|a| match a {
            Arg::Text(Some(t)) => !t.contains('\0'),
            _ => true,
        })
    }

    /// The statement holding copies of what it borrowed, to be sent later.
    pub fn into_owned(self) -> Statement<'static> {
        Statement {
            sql: Cow::Owned(self.sql.into_owned()),
            args: self.args.into_iter().map(Arg::into_owned).collect(),
        }
    }
}

impl Arg<'_> {
    fn into_owned(self) -> Arg<'static> {
        match self {
            Arg::Text(t) => Arg::Text(t.map(|t| Cow::Owned(t.into_owned()))),
            Arg::Int(n) => Arg::Int(n),
            Arg::Bool(b) => Arg::Bool(b),
        }
    }
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
    /// [`Driver::fetch_all`] planned for these arguments every time. A
    /// PostgreSQL statement sqlx keeps prepared gets a generic plan after
    /// a few runs, made with the table's size then: planned while a fresh
    /// registry's table was nearly empty, an id lookup became a
    /// sequential scan and stayed one as the table grew. SQLite plans
    /// when it prepares and keeps its statements.
    async fn fetch_all_planned(
        &mut self,
        sql: &str,
        args: Vec<Arg<'_>>,
    ) -> StoreResult<Vec<Self::Row>>;
    /// Runs `statements` in order and returns each one's rows: in one
    /// round trip on PostgreSQL ([`crate::postgres`]), in one hand-off to
    /// SQLite's worker thread ([`crate::sqlite`]). A failing statement
    /// fails the batch; the ones after it do not run. `done` counts the
    /// statements that completed, failed batch or not, so a caller knows
    /// whether a leading `SAVEPOINT` opened.
    async fn batch(
        &mut self,
        statements: Vec<Statement<'_>>,
        done: &mut usize,
    ) -> StoreResult<Vec<Vec<Self::Row>>>;
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
/// part of the seam, the same for every sqlx database but each newtype's
/// `$batch`, how it runs several statements ([`Driver::batch`]), given
/// the newtype itself.
macro_rules! sqlx_driver {
    ($db:ty, $row:ty, $spell:path, keep_planned: $keep:expr, $($conn:ty => $batch:path),+) => {
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

                async fn fetch_all_planned(
                    &mut self,
                    sql: &str,
                    args: Vec<crate::sql::Arg<'_>>,
                ) -> StoreResult<Vec<$row>> {
                    let sql = $spell(sql);
                    Ok(crate::sql::bound_query::<$db>(&sql, args)
                        .persistent($keep)
                        .fetch_all(&mut *self.0)
                        .await?)
                }

                async fn batch(
                    &mut self,
                    statements: Vec<crate::sql::Statement<'_>>,
                    done: &mut usize,
                ) -> StoreResult<Vec<Vec<$row>>> {
                    $batch(self, statements, done).await
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

mod acls;
mod change_log;
pub(crate) mod cluster;
mod flavors;
mod inventory;
mod keymgr;
mod l7;
mod listeners;
mod loadbalancers;
mod networks;
mod quotas;
mod reads;
mod registration;
mod rows;
mod writes;

use rows::*;
pub(crate) use writes::WriteTx;

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

/// `SELECT COUNT(*) FROM table WHERE column = value` (an indexed column).
async fn count_where<D: Driver>(
    conn: &mut D,
    table: &str,
    column: &str,
    value: &str,
) -> StoreResult<usize> {
    if !well_formed(value) {
        return Ok(0);
    }
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1");
    let row = conn.fetch_optional(&sql, args![value]).await?;
    let n = row.map(|r| r.int("n")).transpose()?;
    Ok(n.and_then(|n| usize::try_from(n).ok()).unwrap_or(0))
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
    match select_in_statement(table, prefix, column, values) {
        Some((sql, bound)) => all(conn.fetch_all(&sql, bound).await?, f),
        None => Ok(Vec::new()),
    }
}

/// [`select_in`] planned for its values each time
/// ([`Driver::fetch_all_planned`]).
async fn select_in_planned<'a, D: Driver, T>(
    conn: &mut D,
    table: &str,
    column: &str,
    values: &'a [String],
    f: fn(&D::Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    match select_in_statement(table, unscoped(), column, values) {
        Some((sql, bound)) => all(conn.fetch_all_planned(&sql, bound).await?, f),
        None => Ok(Vec::new()),
    }
}

/// The text and arguments of a [`select_in`], or `None` when no value can
/// be an id.
fn select_in_statement<'a>(
    table: &str,
    prefix: (&str, Vec<Arg<'a>>),
    column: &str,
    values: &'a [String],
) -> Option<(String, Vec<Arg<'a>>)> {
    let values: Vec<&'a String> = values.iter().filter(|v| well_formed(v)).collect();
    if values.is_empty() {
        return None;
    }
    let (condition, mut bound) = prefix;
    let list = placeholders(bound.len() + 1, values.len());
    let sql = format!("SELECT * FROM {table} WHERE {condition}{column} IN ({list})");
    bound.extend(values.into_iter().map(Arg::from));
    Some((sql, bound))
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
