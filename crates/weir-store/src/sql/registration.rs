//! [`StoreTx::registration_reads`]: a registration's reads as one batch.
//! The target's rows are found through subqueries on the one id the
//! caller named (a listener's default pool, that pool's load balancer,
//! its VPC, its project's quotas), so no statement waits for another's
//! answer; the same queries the single reads make, otherwise.

use weir_core::ids::well_formed;

use super::quotas::quotas_from;
use super::*;
use crate::{RegistrationQuery, RegistrationReads, RegistrationTarget};

/// The target's id and the SQL expressions, each binding it as `$1`,
/// naming its pool, listener and load balancer.
struct Target<'a> {
    id: &'a str,
    pool: String,
    listener: String,
    lb: String,
}

impl<'a> Target<'a> {
    fn of(target: RegistrationTarget<'a>) -> Self {
        let (id, pool, listener, lb) = match target {
            RegistrationTarget::Pool(id) => (id.as_str(), "$1".to_owned(), None, None),
            RegistrationTarget::Listener(id) => (
                id.as_str(),
                "(SELECT default_pool_id FROM listeners WHERE id = $1)".to_owned(),
                Some("$1".to_owned()),
                None,
            ),
            RegistrationTarget::LoadBalancer(id) => (
                id.as_str(),
                "(SELECT default_pool_id FROM load_balancers WHERE id = $1)".to_owned(),
                None,
                Some("$1".to_owned()),
            ),
        };
        let listener = listener
            .unwrap_or_else(|| format!("(SELECT listener_id FROM pools WHERE id = {pool})"));
        let lb = lb.unwrap_or_else(|| format!("(SELECT lb_id FROM pools WHERE id = {pool})"));
        Self {
            id,
            pool,
            listener,
            lb,
        }
    }
}

/// `values` that can be ids (the others match nothing), as arguments.
fn listed(values: &[String]) -> Vec<&String> {
    values.iter().filter(|v| well_formed(v)).collect()
}

/// `SELECT {what} FROM {table} WHERE {prefix}{column} IN (…)` binding
/// `bound` then `values`, or nothing for an empty list.
fn select_in_statement<'a>(
    what: &str,
    table: &str,
    prefix: &str,
    bound: Vec<Arg<'a>>,
    column: &str,
    values: &[&'a String],
) -> Option<Statement<'a>> {
    if values.is_empty() {
        return None;
    }
    let list = placeholders(bound.len() + 1, values.len());
    let sql = format!("SELECT {what} FROM {table} WHERE {prefix}{column} IN ({list})");
    let mut args = bound;
    args.extend(values.iter().map(|v| Arg::from(*v)));
    Some(Statement::new(sql, args))
}

/// Which statement of the batch answers what.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Listener,
    Pool,
    Lb,
    Vpc,
    Instances,
    Vips,
    Overlapping,
    Count,
    Subnets,
    Quotas,
    Idempotency,
}

/// One query's statements, and which part of the answer each is.
struct Planned {
    parts: Vec<Part>,
    statements: Vec<Statement<'static>>,
}

/// The statements that read everything `q` asks for, or `None` when its
/// target cannot be an id (then nothing is found, without asking).
fn registration_statements(q: &RegistrationQuery<'_>) -> Option<Planned> {
    let t = Target::of(q.target);
    if !well_formed(t.id) {
        return None;
    }
    let id = || args![t.id];
    let addresses: Vec<String> = q.addresses.iter().map(IpAddr::to_string).collect();
    let addresses = listed(&addresses);
    let instance_ids = listed(q.instance_ids);
    let subnet_ids = listed(q.subnet_ids);
    let mut wanted: Vec<(Part, Option<Statement<'_>>)> = Vec::with_capacity(13);
    let mut push = |part, s| wanted.push((part, s));
    let one = |sql: String, args| Some(Statement::new(sql, args));
    push(
        Part::Listener,
        one(
            format!("SELECT * FROM listeners WHERE id = {}", t.listener),
            id(),
        ),
    );
    push(
        Part::Pool,
        one(format!("SELECT * FROM pools WHERE id = {}", t.pool), id()),
    );
    push(
        Part::Lb,
        one(
            format!("SELECT * FROM load_balancers WHERE id = {}", t.lb),
            id(),
        ),
    );
    push(
        Part::Vpc,
        one(
            format!(
                "SELECT * FROM vpcs WHERE id = (SELECT vpc_id FROM load_balancers WHERE id = {})",
                t.lb
            ),
            id(),
        ),
    );
    push(
        Part::Instances,
        select_in_statement("*", "instances", "", Vec::new(), "id", &instance_ids),
    );
    push(
        Part::Instances,
        select_in_statement("*", "instances", "", Vec::new(), "private_ip", &addresses),
    );
    push(
        Part::Vips,
        select_in_statement("vip", "load_balancers", "", Vec::new(), "vip", &addresses),
    );
    // Two index lookups rather than one OR, as `overlapping_backends`.
    let in_pool = format!("pool_id = {} AND ", t.pool);
    push(
        Part::Overlapping,
        select_in_statement("*", "backends", &in_pool, id(), "address", &addresses),
    );
    push(
        Part::Overlapping,
        select_in_statement(
            "*",
            "backends",
            &in_pool,
            id(),
            "instance_id",
            &instance_ids,
        ),
    );
    push(
        Part::Count,
        one(
            format!("SELECT backend_count FROM pools WHERE id = {}", t.pool),
            id(),
        ),
    );
    push(
        Part::Subnets,
        select_in_statement("*", "subnets", "", Vec::new(), "id", &subnet_ids),
    );
    let project = format!("(SELECT project_id FROM pools WHERE id = {})", t.pool);
    push(
        Part::Quotas,
        one(
            format!("SELECT * FROM project_quotas WHERE project_id = {project}"),
            id(),
        ),
    );
    if let Some((operation, token)) = q.idempotency {
        push(
            Part::Idempotency,
            one(
                format!(
                    "SELECT fingerprint, response FROM idempotency_records \
                     WHERE project_id = {project} AND operation = $2 AND token = $3"
                ),
                args![t.id, operation, token],
            ),
        );
    }
    let (parts, statements): (Vec<Part>, Vec<Statement<'_>>) = wanted
        .into_iter()
        .filter_map(|(part, s)| Some((part, s?)))
        .unzip();
    Some(Planned {
        parts,
        statements: statements.into_iter().map(Statement::into_owned).collect(),
    })
}

/// A query's answers, in the order of its [`Planned`] statements.
fn registration_answers<R: Columns>(
    planned_parts: &[Part],
    answers: impl IntoIterator<Item = Vec<R>>,
) -> StoreResult<RegistrationReads> {
    let mut out = RegistrationReads::default();
    for (part, rows) in planned_parts.iter().copied().zip(answers) {
        let first = rows.first();
        match part {
            Part::Listener => out.listener = first.map(listener_from).transpose()?,
            Part::Pool => out.pool = first.map(pool_from).transpose()?,
            Part::Lb => out.load_balancer = first.map(lb_from).transpose()?,
            Part::Vpc => out.vpc = first.map(vpc_from).transpose()?,
            Part::Instances => {
                for i in all(rows, instance_from)? {
                    if !out.instances.iter().any(|f| f.id == i.id) {
                        out.instances.push(i);
                    }
                }
            }
            Part::Vips => {
                for row in &rows {
                    out.vips.insert(parsed(row, "vip")?);
                }
            }
            Part::Overlapping => {
                for b in all(rows, backend_from)? {
                    if !out.overlapping.iter().any(|f| f.id == b.id) {
                        out.overlapping.push(b);
                    }
                }
            }
            Part::Count => {
                let n = first.map(|r| r.int("backend_count")).transpose()?;
                out.backend_count = n.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
            }
            Part::Subnets => out.subnets = all(rows, subnet_from)?,
            Part::Quotas => out.quotas = first.map(quotas_from).transpose()?,
            Part::Idempotency => {
                out.idempotency = first
                    .map(|r| {
                        Ok::<_, StoreError>(IdempotencyRecord {
                            fingerprint: r.text("fingerprint")?,
                            response: r.text("response")?,
                        })
                    })
                    .transpose()?;
            }
        }
    }
    Ok(out)
}

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn registration_batch(
        &mut self,
        q: &RegistrationQuery<'_>,
    ) -> StoreResult<RegistrationReads> {
        let Some(planned) = registration_statements(q) else {
            return Ok(RegistrationReads::default());
        };
        let answers = self.send(planned.statements).await?;
        let mut out = registration_answers(&planned.parts, answers)?;
        self.instances_keys(q, &mut out).await?;
        Ok(out)
    }

    /// [`crate::StoreTx::prefetch_registrations`]: every query's
    /// statements in one batch. Kept for its command: the answers that
    /// need nothing more (no instances found, whose keys would be read
    /// next); queries with an idempotency token are not read ahead.
    pub(super) async fn prefetch(&mut self, queries: &[RegistrationQuery<'_>]) -> StoreResult<()> {
        let mut plans = Vec::with_capacity(queries.len());
        let mut statements = Vec::new();
        for q in queries.iter().filter(|q| q.idempotency.is_none()) {
            if let Some(planned) = registration_statements(q) {
                plans.push((format!("{q:?}"), planned.parts, planned.statements.len()));
                statements.extend(planned.statements);
            }
        }
        if statements.is_empty() {
            return Ok(());
        }
        let mut answers = self.send(statements).await?.into_iter();
        for (key, parts, count) in plans {
            let out = registration_answers(&parts, answers.by_ref().take(count))?;
            if out.instances.is_empty() {
                self.read_ahead.insert(key, out);
            }
        }
        Ok(())
    }

    /// Uniqueness also sees the addresses behind instance ids and the
    /// instances behind addresses: the keys the found instances add are
    /// read now (rarely: only requests naming instances have any).
    async fn instances_keys(
        &mut self,
        q: &RegistrationQuery<'_>,
        out: &mut RegistrationReads,
    ) -> StoreResult<()> {
        let Some(pool) = out.pool.as_ref().map(|p| p.id.clone()) else {
            return Ok(());
        };
        let extra_addresses: Vec<IpAddr> = out
            .instances
            .iter()
            .map(|i| i.private_ip)
            .filter(|a| !q.addresses.contains(a))
            .collect();
        let extra_ids: Vec<String> = out
            .instances
            .iter()
            .map(|i| i.id.to_string())
            .filter(|id| !q.instance_ids.contains(id))
            .collect();
        if extra_addresses.is_empty() && extra_ids.is_empty() {
            return Ok(());
        }
        out.vips.extend(self.vips_among(&extra_addresses).await?);
        for b in self
            .overlapping_backends(&pool, &extra_addresses, &extra_ids)
            .await?
        {
            if !out.overlapping.iter().any(|f| f.id == b.id) {
                out.overlapping.push(b);
            }
        }
        Ok(())
    }
}
