//! Per-project quotas: the operator sets, shows and resets them (Octavia's
//! quotas API, the native `/v1/projects/{id}/quotas`); a project reads its
//! own, and another project's is "not found". Every create checks them in
//! its own transaction ([`quota_room`]), whichever dialect it came from.

use weir_core::quota::{self, QuotaResource, QuotaUpdate, Quotas};
use weir_core::settings::Limits;

use super::*;

/// A project's quotas as set (`None`: the default) and in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectQuotas {
    pub project_id: ProjectId,
    pub set: Quotas,
    pub effective: Quotas,
}

/// Refuses `adding` more of `r` to `project` past its quota (its own over
/// the deployment's defaults). Counts only when a limit applies, so an
/// unlimited resource costs no query.
pub(super) async fn quota_room(
    tx: &mut dyn StoreTx,
    limits: &Limits,
    project: &ProjectId,
    r: QuotaResource,
    adding: usize,
) -> ControlResult<()> {
    if adding == 0 {
        return Ok(());
    }
    let set = tx.project_quotas(project).await?;
    quota_room_with(tx, limits, project, r, adding, set).await
}

/// [`quota_room`] with the project's quotas already read in the same
/// transaction (a registration reads them with everything else).
pub(super) async fn quota_room_with(
    tx: &mut dyn StoreTx,
    limits: &Limits,
    project: &ProjectId,
    r: QuotaResource,
    adding: usize,
    set: Option<Quotas>,
) -> ControlResult<()> {
    if adding == 0 {
        return Ok(());
    }
    let quotas = set.unwrap_or_default().or(&quota::defaults(limits));
    if quotas.limit(r).is_none() {
        return Ok(());
    }
    let in_use = tx.count_in_project(project, r).await?;
    Ok(quota::check_room(&quotas, r, in_use, adding)?)
}

impl Control {
    /// The deployment's default quotas.
    pub fn quota_defaults(&self) -> Quotas {
        quota::defaults(&self.settings.limits)
    }

    /// A project's quotas: the operator's for any project, a project's
    /// for itself; any other is "not found".
    pub async fn project_quotas(
        &self,
        principal: &Principal,
        project: &ProjectId,
    ) -> ControlResult<ProjectQuotas> {
        let mut reads = self.reader().await?;
        let found = reads.project(project).await?;
        principal.check(found, ResourceKind::Project, project.as_str())?;
        let set = reads.project_quotas(project).await?.unwrap_or_default();
        Ok(self.with_defaults(project.clone(), set))
    }

    /// The operator: every project with quotas set; a project: its own.
    pub async fn list_project_quotas(
        &self,
        principal: &Principal,
    ) -> ControlResult<Vec<ProjectQuotas>> {
        if let Some(own) = principal.scope() {
            return Ok(vec![self.project_quotas(principal, own).await?]);
        }
        let all = self.reader().await?.all_project_quotas().await?;
        Ok(all
            .into_iter()
            .map(|(project, set)| self.with_defaults(project, set))
            .collect())
    }

    /// Changes a project's quotas (the operator's): each value given is
    /// set, or back to the default when `None`.
    pub async fn set_project_quotas(
        &self,
        principal: &Principal,
        project: ProjectId,
        update: QuotaUpdate,
    ) -> ControlResult<ProjectQuotas> {
        Self::admin_only(principal)?;
        let id = project.clone();
        let set = command!(self.writer, principal, |tx| {
            if tx.project(&project).await?.is_none() {
                return Err(Error::not_found(ResourceKind::Project, &project).into());
            }
            let current = tx.project_quotas(&project).await?.unwrap_or_default();
            let next = quota::plan_update(&current, &update)?;
            tx.put_project_quotas(&project, &next).await?;
            Ok(next)
        })?;
        Ok(self.with_defaults(id, set))
    }

    /// Returns every quota of a project to the default (the operator's).
    pub async fn reset_project_quotas(
        &self,
        principal: &Principal,
        project: ProjectId,
    ) -> ControlResult<ProjectQuotas> {
        let all = QuotaUpdate(QuotaResource::ALL.map(|r| (r, None)).to_vec());
        self.set_project_quotas(principal, project, all).await
    }

    fn with_defaults(&self, project_id: ProjectId, set: Quotas) -> ProjectQuotas {
        ProjectQuotas {
            effective: set.or(&self.quota_defaults()),
            project_id,
            set,
        }
    }
}
