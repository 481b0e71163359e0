//! L7 policies and their rules: row mapping, the reads (a policy always
//! comes with its rules, oldest first) and the writes, each logged as an
//! `l7policy` / `l7rule` change scoped to the load balancer, whose
//! listener specs the follower then rebuilds.

use weir_core::l7::{L7Action, L7Policy, L7Rule};

use super::writes::Scope;
use super::*;

fn policy_from(row: &impl Columns) -> StoreResult<L7Policy> {
    let action: weir_core::l7::ActionKind = enum_col(row, "action")?;
    let code = || -> StoreResult<u16> {
        let code = row.opt_int("redirect_code")?.unwrap_or(302);
        u16::try_from(code).map_err(|_| StoreError::Corrupt(format!("redirect_code: {code}")))
    };
    let target = || -> StoreResult<String> {
        row.opt_text("redirect_target")?
            .ok_or_else(|| StoreError::Corrupt("redirect_target: missing".into()))
    };
    let action = match action {
        weir_core::l7::ActionKind::RedirectToPool => L7Action::RedirectToPool {
            pool_id: PoolId::new(
                row.opt_text("redirect_pool_id")?
                    .ok_or_else(|| StoreError::Corrupt("redirect_pool_id: missing".into()))?,
            ),
        },
        weir_core::l7::ActionKind::RedirectToUrl => L7Action::RedirectToUrl {
            url: target()?,
            code: code()?,
        },
        weir_core::l7::ActionKind::RedirectPrefix => L7Action::RedirectPrefix {
            prefix: target()?,
            code: code()?,
        },
        weir_core::l7::ActionKind::Reject => L7Action::Reject,
    };
    let position = row.int("policy_position")?;
    Ok(L7Policy {
        id: L7PolicyId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        lb_id: LoadBalancerId::new(row.text("lb_id")?),
        listener_id: ListenerId::new(row.text("listener_id")?),
        name: row.text("name")?,
        description: row.text("description")?,
        position: u32::try_from(position)
            .map_err(|_| StoreError::Corrupt(format!("policy_position: {position}")))?,
        action,
        enabled: row.flag("enabled")?,
        tags: tags_col(row, "tags")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        rules: Vec::new(),
    })
}

fn rule_from(row: &impl Columns) -> StoreResult<L7Rule> {
    Ok(L7Rule {
        id: L7RuleId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        policy_id: L7PolicyId::new(row.text("policy_id")?),
        rule_type: enum_col(row, "rule_type")?,
        compare_type: enum_col(row, "compare_type")?,
        key: row.opt_text("rule_key")?,
        value: row.text("value")?,
        invert: row.flag("invert")?,
        enabled: row.flag("enabled")?,
        tags: tags_col(row, "tags")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// The policies (with their rules) whose `column` is `value`, by
/// position within a listener.
pub(super) async fn policies_where<D: Driver>(
    conn: &mut D,
    column: &str,
    value: &str,
) -> StoreResult<Vec<L7Policy>> {
    if !well_formed(value) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM l7_policies WHERE {column} = $1 ORDER BY listener_id, policy_position, id"
    );
    let mut policies = all(conn.fetch_all(&sql, args![value]).await?, policy_from)?;
    if policies.is_empty() {
        return Ok(policies);
    }
    let sql = format!(
        "SELECT r.* FROM l7_rules r JOIN l7_policies p ON p.id = r.policy_id \
         WHERE p.{column} = $1 ORDER BY r.id"
    );
    let rules = all(conn.fetch_all(&sql, args![value]).await?, rule_from)?;
    for rule in rules {
        if let Some(p) = policies.iter_mut().find(|p| p.id == rule.policy_id) {
            p.rules.push(rule);
        }
    }
    Ok(policies)
}

fn code_arg(action: &L7Action) -> Option<i64> {
    action.redirect_code().map(i64::from)
}

fn target_arg(action: &L7Action) -> Option<&str> {
    action.redirect_url().or(action.redirect_prefix())
}

impl<D: TxDriver> WriteTx<D> {
    async fn log_l7(
        &mut self,
        policy: &L7Policy,
        entity: &str,
        id: &str,
        op: &str,
    ) -> StoreResult<()> {
        self.log(
            &policy.project_id,
            entity,
            &[id],
            op,
            Scope::lb(&policy.lb_id),
        )
        .await
    }

    async fn insert_rule_row(&mut self, policy: &L7Policy, r: &L7Rule) -> StoreResult<()> {
        self.exec(
            "INSERT INTO l7_rules (id, project_id, policy_id, listener_id, lb_id, rule_type, compare_type, \
             rule_key, value, invert, enabled, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            args![
                r.id.as_str(),
                r.project_id.as_str(),
                policy.id.as_str(),
                policy.listener_id.as_str(),
                policy.lb_id.as_str(),
                r.rule_type.as_str(),
                r.compare_type.as_str(),
                r.key.as_deref(),
                &r.value,
                r.invert,
                r.enabled,
                tags_to_text(&r.tags),
                r.created_at.millis(),
                r.updated_at.millis(),
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn l7_insert_policy(&mut self, p: &L7Policy) -> StoreResult<()> {
        self.exec(
            "INSERT INTO l7_policies (id, project_id, lb_id, listener_id, name, description, policy_position, \
             action, redirect_pool_id, redirect_target, redirect_code, enabled, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            args![
                p.id.as_str(),
                p.project_id.as_str(),
                p.lb_id.as_str(),
                p.listener_id.as_str(),
                &p.name,
                &p.description,
                i64::from(p.position),
                p.action.kind().as_str(),
                p.action.pool_id().map(PoolId::as_str),
                target_arg(&p.action),
                code_arg(&p.action),
                p.enabled,
                tags_to_text(&p.tags),
                p.created_at.millis(),
                p.updated_at.millis(),
            ],
        )
        .await?;
        for r in &p.rules {
            self.insert_rule_row(p, r).await?;
        }
        self.log_l7(p, "l7policy", p.id.as_str(), "create").await
    }

    pub(super) async fn l7_update_policy(&mut self, p: &L7Policy) -> StoreResult<()> {
        self.exec(
            "UPDATE l7_policies SET name = $1, description = $2, policy_position = $3, action = $4, \
             redirect_pool_id = $5, redirect_target = $6, redirect_code = $7, enabled = $8, tags = $9, \
             updated_at = $10 WHERE id = $11",
            args![
                &p.name,
                &p.description,
                i64::from(p.position),
                p.action.kind().as_str(),
                p.action.pool_id().map(PoolId::as_str),
                target_arg(&p.action),
                code_arg(&p.action),
                p.enabled,
                tags_to_text(&p.tags),
                p.updated_at.millis(),
                p.id.as_str(),
            ],
        )
        .await?;
        self.log_l7(p, "l7policy", p.id.as_str(), "update").await
    }

    pub(super) async fn l7_delete_policy(&mut self, p: &L7Policy) -> StoreResult<()> {
        let id = p.id.as_str();
        self.exec("DELETE FROM l7_rules WHERE policy_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM l7_policies WHERE id = $1", args![id])
            .await?;
        self.log_l7(p, "l7policy", id, "delete").await
    }

    pub(super) async fn l7_insert_rule(&mut self, p: &L7Policy, r: &L7Rule) -> StoreResult<()> {
        self.insert_rule_row(p, r).await?;
        self.log_l7(p, "l7rule", r.id.as_str(), "create").await
    }

    pub(super) async fn l7_update_rule(&mut self, p: &L7Policy, r: &L7Rule) -> StoreResult<()> {
        self.exec(
            "UPDATE l7_rules SET rule_type = $1, compare_type = $2, rule_key = $3, value = $4, invert = $5, \
             enabled = $6, tags = $7, updated_at = $8 WHERE id = $9",
            args![
                r.rule_type.as_str(),
                r.compare_type.as_str(),
                r.key.as_deref(),
                &r.value,
                r.invert,
                r.enabled,
                tags_to_text(&r.tags),
                r.updated_at.millis(),
                r.id.as_str(),
            ],
        )
        .await?;
        self.log_l7(p, "l7rule", r.id.as_str(), "update").await
    }

    pub(super) async fn l7_delete_rule(&mut self, p: &L7Policy, r: &L7Rule) -> StoreResult<()> {
        self.exec("DELETE FROM l7_rules WHERE id = $1", args![r.id.as_str()])
            .await?;
        self.log_l7(p, "l7rule", r.id.as_str(), "delete").await
    }

    /// Deletes the policies and rules of every listener whose `column`
    /// (`listener_id` or `lb_id`) is `value` (the change log is the
    /// caller's: the listener or load balancer going logs it).
    pub(super) async fn l7_delete_where(&mut self, column: &str, value: &str) -> StoreResult<()> {
        let rules = format!("DELETE FROM l7_rules WHERE {column} = $1");
        self.exec(&rules, args![value]).await?;
        let policies = format!("DELETE FROM l7_policies WHERE {column} = $1");
        self.exec(&policies, args![value]).await?;
        Ok(())
    }
}
