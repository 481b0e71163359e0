//! A command's batch of statements on PostgreSQL: by default each sent
//! bound and prepared, one round trip each; with `WEIR_PG_BATCH=literal`
//! all in one round trip, as below (measured slower: [`literal_batches`]).
//!
//! sqlx sends each bound statement on its own and waits for its answer, so
//! a command of ten statements costs ten round trips, each a wake-up of
//! the server process and of this one; under the writer lock those add up
//! to most of a registration's time. PostgreSQL's simple-query protocol
//! takes any number of statements in one message and answers them in
//! order, but it carries no parameters: the arguments are written into
//! the text as typed literals (`E'…'::text`, `'…'::int8`, `TRUE`, typed
//! `NULL`), the same types sqlx binds them with, so a statement means
//! exactly what it means bound.
//!
//! A literal must never end early: every `'` is doubled and every `\`
//! doubled inside an `E'…'` string, which reads both the same whatever
//! `standard_conforming_strings` says. A text containing NUL cannot be
//! written as a literal at all (the message itself is NUL-terminated), so
//! a batch holding one runs its statements bound, one by one, and
//! PostgreSQL refuses the NUL as it always does.

use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Either, Executor, PgConnection, Postgres};

use crate::sql::{bound_query, Arg, Statement};
use crate::{StoreError, StoreResult};

/// Runs `statements` in one round trip (see the module doc).
pub(crate) async fn batch(
    conn: &mut PgConnection,
    statements: Vec<Statement<'_>>,
) -> StoreResult<Vec<Vec<PgRow>>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    if !literal_batches() {
        return one_by_one(conn, statements).await;
    }
    let Some(text) = render(&statements) else {
        return one_by_one(conn, statements).await;
    };
    let mut out: Vec<Vec<PgRow>> = vec![Vec::new()];
    {
        let mut results = (&mut *conn).fetch_many(sqlx::raw_sql(&text));
        // Each statement's rows come before its completion; a completion
        // starts the next statement's list.
        while let Some(item) = results.try_next().await? {
            match item {
                Either::Left(_) => out.push(Vec::new()),
                Either::Right(row) => {
                    if let Some(rows) = out.last_mut() {
                        rows.push(row);
                    }
                }
            }
        }
    }
    out.pop();
    if out.len() != statements.len() {
        return Err(StoreError::Database(format!(
            "a batch of {} statements answered {}",
            statements.len(),
            out.len()
        )));
    }
    Ok(out)
}

/// Whether batches go as one message (`WEIR_PG_BATCH=literal`, read
/// once). Off by default: measured on a quiet host (docs/BENCHMARKS.md,
/// "Registry writes"), the one-message batch cut Weir's CPU per
/// registration to 0.66x but PostgreSQL parses and plans every literal
/// statement afresh, and the registration rate fell to 0.84x of bound,
/// prepared statements. Kept for the next step (prepared statements
/// executed in one message) and for measuring.
fn literal_batches() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("WEIR_PG_BATCH").is_ok_and(|v| v == "literal"))
}

/// Each statement bound (a prepared statement sqlx caches per
/// connection) and sent on its own: the default.
async fn one_by_one(
    conn: &mut PgConnection,
    statements: Vec<Statement<'_>>,
) -> StoreResult<Vec<Vec<PgRow>>> {
    let mut out = Vec::with_capacity(statements.len());
    for s in statements {
        let rows = bound_query::<Postgres>(&s.sql, s.args)
            .fetch_all(&mut *conn)
            .await?;
        out.push(rows);
    }
    Ok(out)
}

/// The statements as one text with their arguments written in, or `None`
/// when an argument cannot be written as a literal.
fn render(statements: &[Statement<'_>]) -> Option<String> {
    let mut text = String::new();
    for s in statements {
        inline(&mut text, &s.sql, &s.args)?;
        text.push_str(";\n");
    }
    Some(text)
}

/// Appends `sql` with each `$N` replaced by argument N as a literal.
/// Statements of this crate use `$` only for placeholders.
fn inline(out: &mut String, sql: &str, args: &[Arg<'_>]) -> Option<()> {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let n: usize = rest[at + 1..at + 1 + digits].parse().ok()?;
        literal(out, args.get(n.checked_sub(1)?)?)?;
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Some(())
}

/// One argument as a literal of the type sqlx binds it as.
fn literal(out: &mut String, arg: &Arg<'_>) -> Option<()> {
    match arg {
        Arg::Text(None) => out.push_str("NULL::text"),
        Arg::Int(None) => out.push_str("NULL::int8"),
        Arg::Bool(true) => out.push_str("TRUE"),
        Arg::Bool(false) => out.push_str("FALSE"),
        Arg::Int(Some(n)) => {
            out.push('\'');
            out.push_str(&n.to_string());
            out.push_str("'::int8");
        }
        Arg::Text(Some(t)) => {
            if t.contains('\0') {
                return None;
            }
            out.push_str("E'");
            for c in t.chars() {
                match c {
                    '\'' => out.push_str("''"),
                    '\\' => out.push_str("\\\\"),
                    c => out.push(c),
                }
            }
            out.push_str("'::text");
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(sql: &str, args: Vec<Arg<'_>>) -> Option<String> {
        render(&[Statement::new(sql, args)])
    }

    #[test]
    fn arguments_become_typed_literals() {
        assert_eq!(
            rendered(
                "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 AND d = $4",
                vec![Arg::from("x"), Arg::from(7i64), Arg::from(true), Arg::from(Option::<i64>::None)],
            )
            .unwrap(),
            "SELECT * FROM t WHERE a = E'x'::text AND b = '7'::int8 AND c = TRUE AND d = NULL::int8;\n"
        );
        assert_eq!(
            rendered("SELECT $1", vec![Arg::from(i64::MIN)]).unwrap(),
            "SELECT '-9223372036854775808'::int8;\n"
        );
    }

    #[test]
    fn quotes_and_backslashes_cannot_end_a_literal() {
        let hostile = "a'); DROP TABLE backends; --\\'\\\\";
        let text = rendered("SELECT $1", vec![Arg::from(hostile)]).unwrap();
        assert_eq!(
            text,
            "SELECT E'a''); DROP TABLE backends; --\\\\''\\\\\\\\'::text;\n"
        );
    }

    #[test]
    fn a_nul_or_a_missing_argument_is_not_rendered() {
        assert!(rendered("SELECT $1", vec![Arg::from("a\0b")]).is_none());
        assert!(rendered("SELECT $2", vec![Arg::from("a")]).is_none());
        assert!(rendered("SELECT $0", vec![Arg::from("a")]).is_none());
    }
}
