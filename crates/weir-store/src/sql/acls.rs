//! Access control lists ([`weir_core::acl`]): row mapping, reads and
//! writes, and a listener's ACL as its two columns. A change of an ACL's
//! entries is logged as an update of every listener naming it, scoped to
//! its load balancer, so the topology follower reloads exactly those
//! listeners and the data plane applies the new list to the next accept.

use weir_core::acl::{Acl, AclEntry, AclMode, IpVersion, ListenerAcl};

use super::writes::Scope;
use super::*;

pub(super) fn acl_from(row: &impl Columns) -> StoreResult<Acl> {
    let version = row.text("ip_version")?;
    let ip_version = IpVersion::parse("ip_version", &version)
        .map_err(|_| StoreError::Corrupt(format!("acl ip_version {version:?}")))?;
    let text = row.text("entries")?;
    let corrupt = || StoreError::Corrupt(format!("acl entries: {text:?}"));
    let pairs: Vec<(String, String)> = serde_json::from_str(&text).map_err(|_| corrupt())?;
    let entries = pairs
        .into_iter()
        .map(|(cidr, comment)| {
            Ok(AclEntry {
                cidr: cidr.parse().map_err(|_| corrupt())?,
                comment,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(Acl {
        id: AclId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        ip_version,
        entries,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn entries_to_text(acl: &Acl) -> StoreResult<String> {
    let pairs: Vec<(String, &str)> = acl
        .entries
        .iter()
        .map(|e| (e.cidr.to_string(), e.comment.as_str()))
        .collect();
    serde_json::to_string(&pairs).map_err(|e| StoreError::Corrupt(format!("acl entries: {e}")))
}

/// A listener's `acl_id`, `acl_mode` and `acl_enabled` columns.
pub(super) fn listener_acl_col(row: &impl Columns) -> StoreResult<Option<ListenerAcl>> {
    match (row.opt_text("acl_id")?, row.opt_text("acl_mode")?) {
        (None, _) => Ok(None),
        (Some(id), Some(mode)) => Ok(Some(ListenerAcl {
            acl_id: AclId::new(id),
            mode: AclMode::parse("acl_mode", &mode)
                .map_err(|_| StoreError::Corrupt(format!("acl_mode {mode:?}")))?,
            enabled: row.flag("acl_enabled")?,
        })),
        (Some(id), None) => Err(StoreError::Corrupt(format!("acl {id} without a mode"))),
    }
}

pub(super) fn listener_acl_args(l: &Listener) -> (Option<&str>, Option<&'static str>) {
    match &l.acl {
        Some(a) => (Some(a.acl_id.as_str()), Some(a.mode.as_str())),
        None => (None, None),
    }
}

/// `acl_enabled`: true without an ACL (the column's default).
pub(super) fn listener_acl_enabled(l: &Listener) -> bool {
    l.acl.as_ref().is_none_or(|a| a.enabled)
}

/// The listeners naming `acl`, by id.
pub(super) async fn listeners_using<D: Driver>(
    conn: &mut D,
    acl: &AclId,
) -> StoreResult<Vec<Listener>> {
    select_where(
        conn,
        "listeners",
        "acl_id",
        acl.as_str(),
        super::rows::listener_from,
    )
    .await
}

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn acl_insert(&mut self, a: &Acl) -> StoreResult<()> {
        let entries = entries_to_text(a)?;
        self.exec(
            "INSERT INTO acls (id, project_id, name, ip_version, entries, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                a.id.as_str(),
                a.project_id.as_str(),
                &a.name,
                a.ip_version.as_str(),
                entries.as_str(),
                a.created_at.millis(),
                a.updated_at.millis(),
            ],
        )
        .await?;
        self.log(
            &a.project_id,
            "acl",
            &[a.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn acl_update(&mut self, a: &Acl) -> StoreResult<()> {
        let entries = entries_to_text(a)?;
        self.exec(
            "UPDATE acls SET name = $1, entries = $2, updated_at = $3 WHERE id = $4",
            args![
                &a.name,
                entries.as_str(),
                a.updated_at.millis(),
                a.id.as_str()
            ],
        )
        .await?;
        self.log(
            &a.project_id,
            "acl",
            &[a.id.as_str()],
            "update",
            Scope::NONE,
        )
        .await?;
        // Each listener naming it recompiles its rule.
        let users = listeners_using(self.w().await?, &a.id).await?;
        for l in &users {
            self.log(
                &l.project_id,
                "listener",
                &[l.id.as_str()],
                "update",
                Scope::lb(&l.lb_id),
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn acl_delete(&mut self, a: &Acl) -> StoreResult<()> {
        self.exec("DELETE FROM acls WHERE id = $1", args![a.id.as_str()])
            .await?;
        self.log(
            &a.project_id,
            "acl",
            &[a.id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }
}
