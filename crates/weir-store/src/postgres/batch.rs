//! A command's batch of statements on PostgreSQL, in one round trip, with
//! the plans PostgreSQL keeps for prepared statements.
//!
//! sqlx sends each bound statement on its own and waits for its answer, so
//! a command of ten statements would cost ten round trips, each a wake-up
//! of the server process and of this one; under the writer lock those add
//! up to most of a registration's time. PostgreSQL's simple-query protocol
//! takes any number of statements in one message and answers them in
//! order, but it carries no parameters, and a statement sent as text is
//! parsed and planned afresh each time (measured: 0.84x the registration
//! rate of bound statements, docs/BENCHMARKS.md). So the writer's
//! connection prepares each statement once (`PREPARE weir_N(text, int8,
//! …) AS …`, riding in the first message that needs it) and every batch
//! after that sends `EXECUTE weir_N(…)`: one message, plans kept.
//! [`Prepared`] remembers what the connection holds, and forgets it when
//! the pool opens a new connection.
//!
//! The arguments of an `EXECUTE` are written in as typed literals
//! (`E'…'::text`, `'…'::int8`, `TRUE`, typed `NULL`), the types the
//! statement was prepared with and sqlx binds with, so a statement means
//! exactly what it means bound. A literal must never end early: every `'`
//! is doubled and every `\` doubled inside an `E'…'` string, which reads
//! both the same whatever `standard_conforming_strings` says. A text
//! containing NUL cannot be written as a literal at all (the message
//! itself is NUL-terminated), so a batch holding one runs its statements
//! bound, one by one, and PostgreSQL refuses the NUL as it always does.
//!
//! `WEIR_PG_BATCH=bound` sends every statement bound, one round trip each;
//! `WEIR_PG_BATCH=literal` sends the statements themselves with literal
//! arguments, never prepared: the two earlier ways, kept for measuring.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::{Either, Executor, PgConnection, Postgres};

use crate::sql::{bound_query, Arg, Statement};
use crate::{StoreError, StoreResult};

/// Statements with more arguments than this are sent as text, never
/// prepared: they are the many-row inserts of large registrations, each
/// count of rows a statement of its own, rarely seen twice.
const MAX_PREPARED_ARGS: usize = 32;

/// The most statements one connection keeps prepared; later ones are sent
/// as text. A registration uses about a dozen.
const MAX_PREPARED: usize = 256;

/// How batches are sent (`WEIR_PG_BATCH`, read once).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One message of `EXECUTE`s of prepared statements (the default).
    Prepared,
    /// One bound statement per round trip.
    Bound,
    /// One message of the statements with literal arguments.
    Literal,
}

fn mode() -> Mode {
    static MODE: std::sync::OnceLock<Mode> = std::sync::OnceLock::new();
    *MODE.get_or_init(|| match std::env::var("WEIR_PG_BATCH").as_deref() {
        Ok("bound") => Mode::Bound,
        Ok("literal") => Mode::Literal,
        _ => Mode::Prepared,
    })
}

/// The statements the writer's connection has prepared. The writer's pool
/// holds one connection at a time and counts the connections it opens
/// ([`Prepared::connected`], from its `after_connect`): when the count
/// moves, the server-side statements went with the old connection.
#[derive(Default)]
pub(crate) struct Prepared {
    connections: AtomicU64,
    state: Mutex<PreparedState>,
}

#[derive(Default)]
struct PreparedState {
    /// The connection (by count) the names below belong to.
    connection: u64,
    /// Statement key (argument types and text) to its number.
    names: HashMap<String, u64>,
    /// The next number: never reused, so a name is never prepared twice on
    /// any connection, whatever was lost along the way.
    next: u64,
}

impl Prepared {
    /// Called for each connection the writer's pool opens.
    pub(crate) fn connected(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PreparedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `statements` in one round trip (see the module doc); `prepared`
/// is the writer connection's, `None` on a connection shared with others
/// (readers), which sends them bound.
pub(crate) async fn batch(
    conn: &mut PgConnection,
    statements: Vec<Statement<'_>>,
    done: &mut usize,
    prepared: Option<&Arc<Prepared>>,
) -> StoreResult<Vec<Vec<PgRow>>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let message = match (mode(), prepared) {
        (Mode::Prepared, Some(prepared)) => render_prepared(&statements, prepared),
        (Mode::Literal, _) => render(&statements).map(|text| Message {
            text,
            parts: vec![Part::Statement; statements.len()],
        }),
        _ => None,
    };
    let Some(message) = message else {
        return one_by_one(conn, statements, done).await;
    };
    let count = statements.len();
    let mut out: Vec<Vec<PgRow>> = Vec::with_capacity(count);
    let mut made: Vec<(String, u64)> = Vec::new();
    let mut parts = message.parts.into_iter();
    let run = async {
        let mut rows = Vec::new();
        let mut results = (&mut *conn).fetch_many(sqlx::raw_sql(&message.text));
        // Each statement's rows come before its completion.
        while let Some(item) = results.try_next().await? {
            match item {
                Either::Left(_) => match parts.next() {
                    Some(Part::Prepare(key, n)) => made.push((key, n)),
                    Some(Part::Statement) => {
                        out.push(std::mem::take(&mut rows));
                        *done += 1;
                    }
                    None => {}
                },
                Either::Right(row) => rows.push(row),
            }
        }
        Ok::<_, sqlx::Error>(())
    };
    let result = run.await;
    if let Some(prepared) = prepared {
        let mut state = prepared.state();
        if let Err(sqlx::Error::Database(e)) = &result {
            // A name the server does not know (something deallocated it),
            // or a plan whose columns changed under it (another node
            // migrated the schema): prepare everything afresh.
            if matches!(e.code().as_deref(), Some("26000" | "0A000")) {
                state.names.clear();
            }
        }
        // Prepared for good once its PREPARE completed, whatever failed
        // after it: PREPARE is not undone by a rollback.
        state.names.extend(made);
    }
    result?;
    if out.len() != count {
        return Err(StoreError::Database(format!(
            "a batch of {count} statements answered {}",
            out.len()
        )));
    }
    Ok(out)
}

/// One simple-query message and what each of its completions answers.
struct Message {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone)]
enum Part {
    /// A `PREPARE` of the statement with this key as `weir_N`.
    Prepare(String, u64),
    /// One of the caller's statements.
    Statement,
}

/// The statements as `EXECUTE`s of prepared statements, each prepared in
/// the same message when the connection does not hold it yet, or `None`
/// when an argument cannot be written as a literal.
fn render_prepared(statements: &[Statement<'_>], prepared: &Prepared) -> Option<Message> {
    let mut state = prepared.state();
    let connection = prepared.connections.load(Ordering::SeqCst);
    if state.connection != connection {
        state.connection = connection;
        state.names.clear();
    }
    let mut text = String::new();
    let mut parts = Vec::with_capacity(statements.len() + 1);
    let mut fresh: HashMap<String, u64> = HashMap::new();
    for s in statements {
        if s.args.is_empty() {
            text.push_str(&s.sql);
            text.push_str(";\n");
            parts.push(Part::Statement);
            continue;
        }
        let n = if s.args.len() <= MAX_PREPARED_ARGS {
            let key = key(s);
            match state.names.get(&key).or_else(|| fresh.get(&key)) {
                Some(n) => Some(*n),
                None if state.names.len() + fresh.len() < MAX_PREPARED => {
                    let n = state.next;
                    state.next += 1;
                    let _ = write!(text, "PREPARE weir_{n}({}) AS ", types(&s.args));
                    text.push_str(&s.sql);
                    text.push_str(";\n");
                    parts.push(Part::Prepare(key.clone(), n));
                    fresh.insert(key, n);
                    Some(n)
                }
                None => None,
            }
        } else {
            None
        };
        match n {
            Some(n) => {
                let _ = write!(text, "EXECUTE weir_{n}(");
                for (i, arg) in s.args.iter().enumerate() {
                    if i > 0 {
                        text.push_str(", ");
                    }
                    literal(&mut text, arg)?;
                }
                text.push_str(");\n");
            }
            None => {
                inline(&mut text, &s.sql, &s.args)?;
                text.push_str(";\n");
            }
        }
        parts.push(Part::Statement);
    }
    Some(Message { text, parts })
}

/// What names a prepared statement: its argument types and its text.
fn key(s: &Statement<'_>) -> String {
    let mut key = types(&s.args);
    key.push('|');
    key.push_str(&s.sql);
    key
}

/// The types sqlx binds the arguments as, for `PREPARE`.
fn types(args: &[Arg<'_>]) -> String {
    let names: Vec<&str> = args
        .iter()
        .map(|a| match a {
            Arg::Text(_) => "text",
            Arg::Int(_) => "int8",
            Arg::Bool(_) => "bool",
        })
        .collect();
    names.join(",")
}

/// Each statement bound (a prepared statement sqlx caches per
/// connection) and sent on its own.
async fn one_by_one(
    conn: &mut PgConnection,
    statements: Vec<Statement<'_>>,
    done: &mut usize,
) -> StoreResult<Vec<Vec<PgRow>>> {
    let mut out = Vec::with_capacity(statements.len());
    for s in statements {
        let rows = bound_query::<Postgres>(&s.sql, s.args)
            .fetch_all(&mut *conn)
            .await?;
        out.push(rows);
        *done += 1;
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

    fn prepared_text(statements: &[Statement<'_>], prepared: &Prepared) -> Option<String> {
        render_prepared(statements, prepared).map(|m| m.text)
    }

    #[test]
    fn a_statement_is_prepared_once_and_then_executed() {
        let prepared = Prepared::default();
        let batch = || {
            vec![
                Statement::new("SAVEPOINT command", Vec::new()),
                Statement::new(
                    "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3",
                    vec![Arg::from("x"), Arg::from(7i64), Arg::from(true)],
                ),
            ]
        };
        let message = render_prepared(&batch(), &prepared).unwrap();
        assert_eq!(
            message.text,
            "SAVEPOINT command;\n\
             PREPARE weir_0(text,int8,bool) AS SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3;\n\
             EXECUTE weir_0(E'x'::text, '7'::int8, TRUE);\n"
        );
        // Not yet known to be prepared: the PREPARE has not completed.
        assert!(prepared_text(&batch(), &prepared)
            .unwrap()
            .contains("PREPARE weir_1"));
        prepared.state().names.insert(key(&batch()[1]), 0);
        assert_eq!(
            prepared_text(&batch(), &prepared).unwrap(),
            "SAVEPOINT command;\nEXECUTE weir_0(E'x'::text, '7'::int8, TRUE);\n"
        );
        // Another connection holds none of them.
        prepared.connected();
        assert!(prepared_text(&batch(), &prepared)
            .unwrap()
            .contains("PREPARE weir_2"));
    }

    #[test]
    fn one_text_with_other_argument_types_is_another_statement() {
        let prepared = Prepared::default();
        let text = prepared_text(
            &[
                Statement::new("SELECT $1", vec![Arg::from("1")]),
                Statement::new("SELECT $1", vec![Arg::from(1i64)]),
                Statement::new("SELECT $1", vec![Arg::from("2")]),
            ],
            &prepared,
        )
        .unwrap();
        assert_eq!(
            text,
            "PREPARE weir_0(text) AS SELECT $1;\nEXECUTE weir_0(E'1'::text);\n\
             PREPARE weir_1(int8) AS SELECT $1;\nEXECUTE weir_1('1'::int8);\n\
             EXECUTE weir_0(E'2'::text);\n"
        );
    }

    #[test]
    fn hostile_arguments_of_an_execute_stay_literals() {
        let long = "x'\\".repeat(100_000);
        for hostile in [
            "a'); DROP TABLE backends; --",
            "\\'; SELECT 1; --",
            "$1 $$ $tag$ ) ; EXECUTE weir_0('",
            "é ü 中文 🦀 \u{202e}",
            long.as_str(),
        ] {
            let text = prepared_text(
                &[Statement::new("SELECT $1", vec![Arg::from(hostile)])],
                &Prepared::default(),
            )
            .unwrap();
            let execute = text.lines().last().unwrap();
            let inside = execute
                .strip_prefix("EXECUTE weir_0(E'")
                .and_then(|t| t.strip_suffix("'::text);"))
                .unwrap();
            // Every quote doubled, every backslash doubled: nothing ends
            // the literal early.
            assert_eq!(inside.replace("''", "").matches('\'').count(), 0);
            assert_eq!(inside.replace("\\\\", "").matches('\\').count(), 0);
            assert_eq!(inside.replace("''", "'").replace("\\\\", "\\"), hostile);
        }
        // A NUL cannot be a literal: the batch is sent bound instead.
        assert!(prepared_text(
            &[Statement::new("SELECT $1", vec![Arg::from("a\0b")])],
            &Prepared::default()
        )
        .is_none());
    }

    #[test]
    fn long_statements_and_a_full_cache_are_sent_as_text() {
        let prepared = Prepared::default();
        let wide: Vec<Arg<'_>> = (0..=MAX_PREPARED_ARGS as i64).map(Arg::from).collect();
        let placeholders: Vec<String> = (1..=wide.len()).map(|n| format!("${n}")).collect();
        let sql = format!("SELECT {}", placeholders.join(", "));
        let text = prepared_text(&[Statement::new(sql, wide)], &prepared).unwrap();
        assert!(text.starts_with("SELECT '0'::int8, '1'::int8"));
        for n in 0..MAX_PREPARED {
            prepared.state().names.insert(format!("k{n}"), n as u64);
        }
        let text = prepared_text(
            &[Statement::new("SELECT $1", vec![Arg::from(1i64)])],
            &prepared,
        );
        assert_eq!(text.unwrap(), "SELECT '1'::int8;\n");
    }

    #[test]
    fn a_nul_or_a_missing_argument_is_not_rendered() {
        assert!(rendered("SELECT $1", vec![Arg::from("a\0b")]).is_none());
        assert!(rendered("SELECT $2", vec![Arg::from("a")]).is_none());
        assert!(rendered("SELECT $0", vec![Arg::from("a")]).is_none());
    }
}
