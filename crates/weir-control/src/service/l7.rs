//! L7 policies and rules: load the listener's policies and the load
//! balancer's pools, plan with [`weir_core::l7`], write the policy and
//! the neighbours whose position it shifted, in one command. Each command
//! waits for the data plane to apply it (`settle`), as listener commands
//! do, so a policy answered is a policy enforced.

use weir_core::l7::{self, L7Policy, L7PolicyUpdate, L7Rule, L7RuleUpdate, NewL7Policy, NewL7Rule};

use super::*;

/// A policy of the caller with its listener and load balancer.
async fn policy_in(
    tx: &mut dyn StoreTx,
    principal: &Principal,
    id: &L7PolicyId,
) -> ControlResult<(LoadBalancer, L7Policy)> {
    let found = tx.l7_policy(id).await?;
    let policy = principal.check(found, ResourceKind::L7Policy, id.as_str())?;
    let lb = tx
        .load_balancer(&policy.lb_id)
        .await?
        .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &policy.lb_id))?;
    Ok((lb, policy))
}

impl Control {
    /// Creates an L7 policy (with its first rules) on an HTTP listener.
    pub async fn create_l7_policy(
        &self,
        principal: &Principal,
        listener_id: ListenerId,
        req: NewL7Policy,
    ) -> ControlResult<L7Policy> {
        let principal = principal.clone();
        let limits = self.settings.limits;
        let policy = command!(self.writer, principal, |tx| {
            let found = tx.listener(&listener_id).await?;
            let listener = principal.check(found, ResourceKind::Listener, listener_id.as_str())?;
            let lb = tx
                .load_balancer(&listener.lb_id)
                .await?
                .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &listener.lb_id))?;
            let existing = tx.l7_policies_of(&listener.id).await?;
            let pools = tx.pools_of(&lb.id).await?;
            let plan =
                l7::plan_policy(&lb, &listener, &existing, &pools, &req, &mut UuidIds, now())?;
            let mut all = existing.clone();
            all.push(plan.policy.clone());
            let touched: Vec<&L7Rule> = plan.policy.rules.iter().collect();
            l7::matcher::check_budget(&all, &touched)?;
            let project = &listener.project_id;
            quota_room(tx, &limits, project, QuotaResource::L7Policy, 1).await?;
            let rules = plan.policy.rules.len();
            quota_room(tx, &limits, project, QuotaResource::L7Rule, rules).await?;
            for moved in &plan.moved {
                tx.update_l7_policy(moved).await?;
            }
            tx.insert_l7_policy(&plan.policy).await?;
            Ok(plan.policy)
        })?;
        self.settle().await;
        Ok(policy)
    }

    /// Shows one L7 policy with its rules.
    pub async fn get_l7_policy(
        &self,
        principal: &Principal,
        id: &L7PolicyId,
    ) -> ControlResult<L7Policy> {
        let found = self.reader().await?.l7_policy(id).await?;
        Ok(principal.check(found, ResourceKind::L7Policy, id.as_str())?)
    }

    /// A listener's L7 policies, by position.
    pub async fn list_l7_policies(
        &self,
        principal: &Principal,
        listener_id: &ListenerId,
    ) -> ControlResult<Vec<L7Policy>> {
        let mut reads = self.reader().await?;
        let found = reads.listener(listener_id).await?;
        principal.check(found, ResourceKind::Listener, listener_id.as_str())?;
        Ok(reads.l7_policies_of(listener_id).await?)
    }

    /// Every L7 policy of a load balancer's listeners.
    pub async fn l7_policies_of_lb(
        &self,
        principal: &Principal,
        lb_id: &LoadBalancerId,
    ) -> ControlResult<Vec<L7Policy>> {
        let mut reads = self.reader().await?;
        let found = reads.load_balancer(lb_id).await?;
        principal.check(found, ResourceKind::LoadBalancer, lb_id.as_str())?;
        Ok(reads.l7_policies_of_lb(lb_id).await?)
    }

    /// Changes a policy (its position moves its neighbours).
    pub async fn update_l7_policy(
        &self,
        principal: &Principal,
        id: L7PolicyId,
        update: L7PolicyUpdate,
    ) -> ControlResult<L7Policy> {
        let principal = principal.clone();
        let policy = command!(self.writer, principal, |tx| {
            let (lb, current) = policy_in(tx, &principal, &id).await?;
            let existing = tx.l7_policies_of(&current.listener_id).await?;
            let pools = tx.pools_of(&lb.id).await?;
            let plan = l7::plan_policy_update(&lb, &existing, &pools, &current, &update, now())?;
            for moved in &plan.moved {
                tx.update_l7_policy(moved).await?;
            }
            if plan.policy != current {
                tx.update_l7_policy(&plan.policy).await?;
            }
            Ok(plan.policy)
        })?;
        self.settle().await;
        Ok(policy)
    }

    /// Deletes a policy with its rules; the ones after it move up.
    pub async fn delete_l7_policy(
        &self,
        principal: &Principal,
        id: L7PolicyId,
    ) -> ControlResult<L7Policy> {
        let principal = principal.clone();
        let gone = command!(self.writer, principal, |tx| {
            let (_, policy) = policy_in(tx, &principal, &id).await?;
            let existing = tx.l7_policies_of(&policy.listener_id).await?;
            tx.delete_l7_policy(&policy).await?;
            for moved in l7::plan_policy_delete(&existing, &policy.id) {
                tx.update_l7_policy(&moved).await?;
            }
            Ok(policy)
        })?;
        self.settle().await;
        Ok(gone)
    }

    /// Adds a rule to a policy.
    pub async fn create_l7_rule(
        &self,
        principal: &Principal,
        policy_id: L7PolicyId,
        req: NewL7Rule,
    ) -> ControlResult<(L7Policy, L7Rule)> {
        let principal = principal.clone();
        let limits = self.settings.limits;
        let created = command!(self.writer, principal, |tx| {
            let (_, mut policy) = policy_in(tx, &principal, &policy_id).await?;
            quota_room(tx, &limits, &policy.project_id, QuotaResource::L7Rule, 1).await?;
            let mut all = tx.l7_policies_of(&policy.listener_id).await?;
            let on_listener: usize = all.iter().map(|p| p.rules.len()).sum();
            let rule = l7::plan_rule(&policy, on_listener, &req, &mut UuidIds, now())?;
            if let Some(p) = all.iter_mut().find(|p| p.id == policy.id) {
                p.rules.push(rule.clone());
            }
            l7::matcher::check_budget(&all, &[&rule])?;
            tx.insert_l7_rule(&policy, &rule).await?;
            policy.rules.push(rule.clone());
            Ok((policy, rule))
        })?;
        self.settle().await;
        Ok(created)
    }

    /// Changes a rule of a policy.
    pub async fn update_l7_rule(
        &self,
        principal: &Principal,
        policy_id: L7PolicyId,
        rule_id: L7RuleId,
        update: L7RuleUpdate,
    ) -> ControlResult<L7Rule> {
        let principal = principal.clone();
        let rule = command!(self.writer, principal, |tx| {
            let (_, policy) = policy_in(tx, &principal, &policy_id).await?;
            let current = rule_of(&policy, &rule_id)?;
            let next = l7::plan_rule_update(current, &update, now())?;
            let mut all = tx.l7_policies_of(&policy.listener_id).await?;
            for r in all.iter_mut().flat_map(|p| p.rules.iter_mut()) {
                if r.id == next.id {
                    *r = next.clone();
                }
            }
            l7::matcher::check_budget(&all, &[&next])?;
            if &next != current {
                tx.update_l7_rule(&policy, &next).await?;
            }
            Ok(next)
        })?;
        self.settle().await;
        Ok(rule)
    }

    /// Deletes a rule of a policy.
    pub async fn delete_l7_rule(
        &self,
        principal: &Principal,
        policy_id: L7PolicyId,
        rule_id: L7RuleId,
    ) -> ControlResult<L7Rule> {
        let principal = principal.clone();
        let gone = command!(self.writer, principal, |tx| {
            let (_, policy) = policy_in(tx, &principal, &policy_id).await?;
            let rule = rule_of(&policy, &rule_id)?.clone();
            tx.delete_l7_rule(&policy, &rule).await?;
            Ok(rule)
        })?;
        self.settle().await;
        Ok(gone)
    }
}

/// A rule of `policy`; another policy's rule is not found here.
fn rule_of<'a>(policy: &'a L7Policy, id: &L7RuleId) -> Result<&'a L7Rule, Error> {
    policy
        .rules
        .iter()
        .find(|r| &r.id == id)
        .ok_or_else(|| Error::not_found(ResourceKind::L7Rule, id))
}
