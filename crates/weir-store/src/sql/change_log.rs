//! The change-log rows of a write, as statements for the same batch as
//! the write itself ([`super::Driver::batch`]).

use super::writes::Scope;
use super::*;

/// The change-log rows of one write, and the project's numbering moved on
/// by as many: appended to `out`, to go in the same batch as the write.
/// Each row's position is read from the project's head in the statement
/// itself (the writer lock, or SQLite's single writer, keeps the head
/// still meanwhile), so no answer is awaited between the two.
pub(super) fn log_statements<'a>(
    out: &mut Vec<Statement<'a>>,
    project: &'a ProjectId,
    entity: &'a str,
    ids: &[&'a str],
    op: &'a str,
    scope: Scope<'a>,
) {
    const WIDTH: usize = 8;
    for chunk in ids.chunks(INSERT_CHUNK) {
        let rows = (0..chunk.len())
            .map(|r| {
                let n = r * WIDTH;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, COALESCE((SELECT revision FROM project_log_heads \
                     WHERE project_id = ${}), 0) + ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7,
                    n + 8
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO change_log (project_id, entity, entity_id, op, lb_id, pool_id, \
             project_revision) VALUES {rows}"
        );
        let mut bound = Vec::with_capacity(chunk.len() * WIDTH);
        for (k, id) in chunk.iter().enumerate() {
            // The project's own numbering: a command rolled back takes its
            // numbers with it, so a project's positions have no gaps.
            let position = i64::try_from(k + 1).unwrap_or(i64::MAX);
            bound.extend(args![
                project.as_str(),
                entity,
                *id,
                op,
                scope.lb,
                scope.pool,
                project.as_str(),
                position
            ]);
        }
        out.push(Statement::new(sql, bound));
        let count = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        out.push(Statement::new(
            "INSERT INTO project_log_heads (project_id, revision) VALUES ($1, $2) \
             ON CONFLICT (project_id) DO UPDATE \
             SET revision = project_log_heads.revision + excluded.revision",
            args![project.as_str(), count],
        ));
    }
}
