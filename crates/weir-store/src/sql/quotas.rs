//! Per-project quotas: the `project_quotas` rows (one per project the
//! operator set a quota for, a column per resource, NULL the default)
//! and what a project holds of each resource, counted in the caller's
//! transaction so a create is checked against what is there.

use weir_core::quota::{QuotaResource, Quotas};

use super::writes::Scope;
use super::*;

pub(super) fn quotas_from(row: &impl Columns) -> StoreResult<Quotas> {
    let mut q = Quotas::default();
    for r in QuotaResource::ALL {
        q.set(r, row.opt_int(r.as_str())?);
    }
    Ok(q)
}

pub(super) async fn quotas_of<D: Driver>(
    conn: &mut D,
    project: &ProjectId,
) -> StoreResult<Option<Quotas>> {
    select_one(
        conn,
        "project_quotas",
        "project_id",
        project.as_str(),
        quotas_from,
    )
    .await
}

pub(super) async fn all_quotas<D: Driver>(conn: &mut D) -> StoreResult<Vec<(ProjectId, Quotas)>> {
    let rows = conn
        .fetch_all(
            "SELECT * FROM project_quotas ORDER BY project_id",
            Vec::new(),
        )
        .await?;
    rows.iter()
        .map(|row| Ok((ProjectId::new(row.text("project_id")?), quotas_from(row)?)))
        .collect()
}

/// How many of `r` the project holds. Pools are server groups: neither a
/// listener's own pool nor a load balancer's LB-wide one (both are parts
/// of what made them); health monitors are pools with a check.
pub(super) async fn count<D: Driver>(
    conn: &mut D,
    project: &ProjectId,
    r: QuotaResource,
) -> StoreResult<usize> {
    if !well_formed(project.as_str()) {
        return Ok(0);
    }
    let p = project.as_str();
    let (sql, bound) = match r {
        QuotaResource::LoadBalancer => (
            "SELECT COUNT(*) AS n FROM load_balancers WHERE project_id = $1",
            args![p],
        ),
        QuotaResource::Listener => (
            "SELECT COUNT(*) AS n FROM listeners WHERE project_id = $1",
            args![p],
        ),
        QuotaResource::Pool => (
            "SELECT COUNT(*) AS n FROM pools WHERE project_id = $1 AND listener_id IS NULL \
             AND id NOT IN (SELECT default_pool_id FROM load_balancers WHERE project_id = $2)",
            args![p, p],
        ),
        QuotaResource::HealthMonitor => (
            "SELECT COUNT(*) AS n FROM pools WHERE project_id = $1 AND hc_type IS NOT NULL",
            args![p],
        ),
        QuotaResource::Member => (
            "SELECT COUNT(*) AS n FROM backends WHERE project_id = $1",
            args![p],
        ),
        QuotaResource::L7Policy => (
            "SELECT COUNT(*) AS n FROM l7_policies WHERE project_id = $1",
            args![p],
        ),
        QuotaResource::L7Rule => (
            "SELECT COUNT(*) AS n FROM l7_rules WHERE project_id = $1",
            args![p],
        ),
    };
    let row = conn.fetch_optional(sql, bound).await?;
    let n = row.map(|r| r.int("n")).transpose()?;
    Ok(n.and_then(|n| usize::try_from(n).ok()).unwrap_or(0))
}

impl<D: TxDriver> WriteTx<D> {
    /// Replaces a project's quotas; all defaults leave no row.
    pub(super) async fn quotas_put(&mut self, project: &ProjectId, q: &Quotas) -> StoreResult<()> {
        self.exec(
            "DELETE FROM project_quotas WHERE project_id = $1",
            args![project.as_str()],
        )
        .await?;
        if !q.is_empty() {
            let [lb, listener, pool, hm, member, policy, rule] =
                QuotaResource::ALL.map(|r| q.get(r));
            self.exec(
                "INSERT INTO project_quotas (project_id, load_balancer, listener, pool, \
                 health_monitor, member, l7policy, l7rule) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                args![
                    project.as_str(),
                    lb,
                    listener,
                    pool,
                    hm,
                    member,
                    policy,
                    rule
                ],
            )
            .await?;
        }
        // Nothing the data plane serves changes: no load balancer scope.
        self.log(project, "quota", &[project.as_str()], "update", Scope::NONE)
            .await
    }
}
