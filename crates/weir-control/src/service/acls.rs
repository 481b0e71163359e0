//! Access control lists (issue 16): a project's lists of client
//! networks, their entries, and the in-use rule; the rules are
//! [`weir_core::acl`]'s. A change of entries answers once the data plane
//! applies it to every listener naming the ACL (`settle`).

use weir_core::acl::{self, Acl, AclEntry, IpVersion, ListenerAcl};
use weir_core::limits::Cidr as IpNet;

use super::*;

/// The project a create names: the caller's own (a project principal
/// may omit it or name its own; another is not found); the operator
/// must name one.
fn owning_project(principal: &Principal, named: Option<ProjectId>) -> ControlResult<ProjectId> {
    match (principal.scope(), named) {
        (Some(own), None) => Ok(own.clone()),
        (Some(own), Some(named)) if &named == own => Ok(named),
        (Some(_), Some(named)) => Err(Error::not_found(ResourceKind::Project, named).into()),
        (None, Some(named)) => Ok(named),
        (None, None) => Err(Error::invalid("project_id", "the operator names the project").into()),
    }
}

impl Control {
    pub async fn create_acl(
        &self,
        principal: &Principal,
        project_id: Option<ProjectId>,
        name: String,
        ip_version: IpVersion,
    ) -> ControlResult<Acl> {
        let project = owning_project(principal, project_id)?;
        let limits = self.settings.limits;
        let id = AclId::new(UuidIds.next_id());
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.project(&project).await?;
            Principal::Admin.check(found, ResourceKind::Project, project.as_str())?;
            let existing = tx.acls(Some(&project)).await?.len();
            let made = acl::plan_acl(&project, &name, ip_version, existing, &limits, id, now())?;
            tx.insert_acl(&made).await?;
            Ok(made)
        })
    }

    pub async fn get_acl(&self, principal: &Principal, id: &AclId) -> ControlResult<Acl> {
        let found = self.reader().await?.acl(id).await?;
        Ok(principal.check(found, ResourceKind::Acl, id.as_str())?)
    }

    /// The caller's ACLs (every project's for the operator), oldest first.
    pub async fn list_acls(&self, principal: &Principal) -> ControlResult<Vec<Acl>> {
        Ok(self.reader().await?.acls(principal.scope()).await?)
    }

    /// The listeners naming an ACL (the caller's own ACL).
    pub async fn acl_listeners(
        &self,
        principal: &Principal,
        id: &AclId,
    ) -> ControlResult<Vec<Listener>> {
        let mut reads = self.reader().await?;
        let found = reads.acl(id).await?;
        principal.check(found, ResourceKind::Acl, id.as_str())?;
        Ok(reads.listeners_using_acl(id).await?)
    }

    pub async fn rename_acl(
        &self,
        principal: &Principal,
        id: AclId,
        name: String,
    ) -> ControlResult<Acl> {
        self.change_acl(principal, id, move |current| {
            acl::plan_rename(current, &name, now())
        })
        .await
    }

    /// Adds entries, all or none; listeners naming the ACL apply them to
    /// their next connection.
    pub async fn add_acl_entries(
        &self,
        principal: &Principal,
        id: AclId,
        entries: Vec<AclEntry>,
    ) -> ControlResult<Acl> {
        let limits = self.settings.limits;
        self.change_acl(principal, id, move |current| {
            acl::plan_add_entries(current, &entries, &limits, now())
        })
        .await
    }

    /// Removes entries by network, all or none.
    pub async fn remove_acl_entries(
        &self,
        principal: &Principal,
        id: AclId,
        cidrs: Vec<IpNet>,
    ) -> ControlResult<Acl> {
        self.change_acl(principal, id, move |current| {
            acl::plan_remove_entries(current, &cidrs, now())
        })
        .await
    }

    async fn change_acl(
        &self,
        principal: &Principal,
        id: AclId,
        plan: impl FnOnce(&Acl) -> Result<Acl, Error> + Send + 'static,
    ) -> ControlResult<Acl> {
        let principal = principal.clone();
        let next = command!(self.writer, principal, |tx| {
            let found = tx.acl(&id).await?;
            let current = principal.check(found, ResourceKind::Acl, id.as_str())?;
            let next = plan(&current)?;
            if next != current {
                tx.update_acl(&next).await?;
            }
            Ok(next)
        })?;
        self.settle().await;
        Ok(next)
    }

    /// Deletes an ACL no listener names (409 otherwise, naming one).
    pub async fn delete_acl(&self, principal: &Principal, id: AclId) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.acl(&id).await?;
            let current = principal.check(found, ResourceKind::Acl, id.as_str())?;
            let users = tx.listeners_using_acl(&id).await?;
            acl::check_delete(&current, &users)?;
            tx.delete_acl(&current).await?;
            Ok(())
        })
    }
}

/// A listener's own allow list, switched on or off (Huawei's whitelists,
/// [`weir_core::acl::listener`]): made, changed and removed with the
/// listener in one transaction, so neither is ever half-written.
impl Control {
    /// Makes `listener`'s allow list with `entries`; a listener applying a
    /// list already is a conflict.
    pub async fn create_listener_list(
        &self,
        principal: &Principal,
        listener: ListenerId,
        entries: Vec<IpNet>,
        enabled: bool,
    ) -> ControlResult<(Listener, Acl)> {
        let limits = self.settings.limits;
        let id = AclId::new(UuidIds.next_id());
        let principal = principal.clone();
        let made = command!(self.writer, principal, |tx| {
            let found = tx.listener(&listener).await?;
            let current = principal.check(found, ResourceKind::Listener, listener.as_str())?;
            let lb = tx.load_balancer(&current.lb_id).await?;
            let lb = principal.check(lb, ResourceKind::LoadBalancer, current.lb_id.as_str())?;
            let existing = tx.acls(Some(&current.project_id)).await?.len();
            let (made, next) = acl::plan_listener_list(
                &current,
                lb.vip,
                &entries,
                enabled,
                existing,
                &limits,
                id,
                now(),
            )?;
            tx.insert_acl(&made).await?;
            tx.update_listener(&next).await?;
            Ok((next, made))
        })?;
        self.settle().await;
        Ok(made)
    }

    /// The caller's listeners with an allow list (applied or not), each
    /// with its list, oldest list first.
    pub async fn listener_lists(
        &self,
        principal: &Principal,
    ) -> ControlResult<Vec<(Listener, Acl)>> {
        let mut reads = self.reader().await?;
        let mut out = Vec::new();
        for list in reads.acls(principal.scope()).await? {
            for l in reads.listeners_using_acl(&list.id).await? {
                if acl::allow_list(&l).is_some() {
                    out.push((l, list.clone()));
                }
            }
        }
        Ok(out)
    }

    /// `listener`'s allow list, with the listener; a listener without one
    /// (or with a deny list) has none to show: not found.
    pub async fn listener_list(
        &self,
        principal: &Principal,
        listener: &ListenerId,
    ) -> ControlResult<(Listener, Acl)> {
        let mut reads = self.reader().await?;
        let found = reads.listener(listener).await?;
        let current = principal.check(found, ResourceKind::Listener, listener.as_str())?;
        let named = acl::allow_list(&current)
            .ok_or_else(|| Error::not_found(ResourceKind::Acl, listener))?
            .acl_id
            .clone();
        let found = reads.acl(&named).await?;
        let list = principal.check(found, ResourceKind::Acl, listener.as_str())?;
        Ok((current, list))
    }

    /// Replaces the entries of `listener`'s allow list and/or switches
    /// it on or off, all or nothing.
    pub async fn change_listener_list(
        &self,
        principal: &Principal,
        listener: ListenerId,
        entries: Option<Vec<IpNet>>,
        enabled: Option<bool>,
    ) -> ControlResult<(Listener, Acl)> {
        let limits = self.settings.limits;
        let principal = principal.clone();
        let changed = command!(self.writer, principal, |tx| {
            let found = tx.listener(&listener).await?;
            let current = principal.check(found, ResourceKind::Listener, listener.as_str())?;
            let named = acl::allow_list(&current)
                .ok_or_else(|| Error::not_found(ResourceKind::Acl, &listener))?
                .acl_id
                .clone();
            let found = tx.acl(&named).await?;
            let list = principal.check(found, ResourceKind::Acl, listener.as_str())?;
            let next_list = match &entries {
                Some(entries) => acl::plan_replace_entries(&list, entries, &limits, now())?,
                None => list.clone(),
            };
            let next = match enabled {
                Some(on) => acl::plan_list_enabled(&current, on, now()),
                None => current.clone(),
            };
            if next_list.entries != list.entries {
                tx.update_acl(&next_list).await?;
            }
            if next != current {
                tx.update_listener(&next).await?;
            }
            Ok((next, next_list))
        })?;
        self.settle().await;
        Ok(changed)
    }

    /// Removes `listener`'s allow list; the list goes too unless another
    /// listener names it.
    pub async fn remove_listener_list(
        &self,
        principal: &Principal,
        listener: ListenerId,
    ) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.listener(&listener).await?;
            let current = principal.check(found, ResourceKind::Listener, listener.as_str())?;
            let named = acl::allow_list(&current)
                .ok_or_else(|| Error::not_found(ResourceKind::Acl, &listener))?
                .acl_id
                .clone();
            let users = tx.listeners_using_acl(&named).await?;
            let (next, orphan) = acl::plan_list_removal(&current, &users, now());
            tx.update_listener(&next).await?;
            if let Some(orphan) = orphan {
                if let Some(list) = tx.acl(&orphan).await? {
                    tx.delete_acl(&list).await?;
                }
            }
            Ok(())
        })?;
        self.settle().await;
        Ok(())
    }
}

/// Holds the ACL a listener names to its project and VIP family, read in
/// the writing transaction (so one deleted meanwhile is not named).
pub(super) async fn check_listener_acl(
    tx: &mut dyn StoreTx,
    lb: &LoadBalancer,
    wanted: Option<&ListenerAcl>,
) -> ControlResult<()> {
    if let Some(wanted) = wanted {
        let found = tx.acl(&wanted.acl_id).await?;
        acl::check_attach(&lb.project_id, lb.vip, wanted, found.as_ref())?;
    }
    Ok(())
}
