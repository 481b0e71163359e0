//! Load balancers, listeners, server groups and pool settings.

use weir_core::error::QuotaKind;
use weir_core::settings::Limits;
use weir_core::sni::{self, DomainExtensionChange};

use super::*;

impl Control {
    /// Creates a load balancer in a subnet of the caller's project.
    pub async fn create_load_balancer(
        &self,
        principal: &Principal,
        subnet_id: SubnetId,
        req: NewLoadBalancer,
    ) -> ControlResult<LoadBalancer> {
        self.create_load_balancer_once(principal, subnet_id, req, None)
            .await
    }

    /// Creates a load balancer; with a client token, a replay of the same
    /// request returns the load balancer the first one created (Zenlayer
    /// BMC `clientToken`), and the same token with another request is
    /// refused.
    pub async fn create_load_balancer_once(
        &self,
        principal: &Principal,
        subnet_id: SubnetId,
        req: NewLoadBalancer,
        client_token: Option<String>,
    ) -> ControlResult<LoadBalancer> {
        if let Some(token) = &client_token {
            idempotency::validate_token("client_token", token)?;
        }
        self.check_vip_mode(principal, req.vip_mode)?;
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let not_found = || Error::not_found(ResourceKind::Subnet, subnet_id.as_str());
            let subnet = tx.subnet(&subnet_id).await?.ok_or_else(not_found)?;
            // A shared subnet serves every project; the load balancer is
            // the caller's (the operator's lands in the subnet's project).
            let owner = match principal.scope() {
                Some(p) => p.clone(),
                None => subnet.project_id.clone(),
            };
            if !subnet.usable_by(&owner) {
                return Err(not_found().into());
            }
            let fingerprint = hex(&Sha256::digest(format!("{subnet_id:?}|{req:?}").as_bytes()));
            if let Some(token) = &client_token {
                let stored = tx
                    .idempotency_record(&owner, OP_CREATE_LB, token)
                    .await?
                    .map(|r| (r.fingerprint, r.response));
                if let Replay::Respond(id) = idempotency::decide(token, stored, &fingerprint)? {
                    let id = LoadBalancerId::new(id);
                    let found = tx.load_balancer(&id).await?;
                    return Ok(principal.check(found, ResourceKind::LoadBalancer, id.as_str())?);
                }
            }
            // The flavor is read in the same transaction that writes the
            // load balancer, so a flavor deleted or disabled meanwhile is
            // not taken.
            if let Some(flavor_id) = &req.flavor_id {
                let found = tx.flavor(flavor_id).await?;
                weir_core::flavor::check_usable(flavor_id, found.as_ref())?;
            }
            // After the replay check: a replay is not one more.
            quota_room(tx, &settings.limits, &owner, QuotaResource::LoadBalancer, 1).await?;
            let mut used = tx.used_vips().await?;
            let at = now();
            // A VIP that is some backend's address would take that
            // backend's traffic (the data plane binds it on this host):
            // a named one is refused, an allocated one is skipped.
            let plan = loop {
                let plan = loadbalancer::plan_load_balancer(
                    &owner,
                    &subnet,
                    &used,
                    &req,
                    &settings.network,
                    &mut UuidIds,
                    at,
                )?;
                let vip = plan.load_balancer.vip;
                if !tx.backend_address_in_use(vip).await? {
                    break plan;
                }
                if req.vip.is_some() {
                    return Err(Error::VipNotAllowed {
                        vip: vip.to_string(),
                        reason: "it is the address of a registered backend".to_owned(),
                    }
                    .into());
                }
                used.insert(vip);
            };
            tx.insert_load_balancer(&plan.load_balancer, &plan.default_pool)
                .await?;
            if let Some(token) = &client_token {
                let record = IdempotencyRecord {
                    fingerprint,
                    response: plan.load_balancer.id.to_string(),
                };
                tx.put_idempotency_record(&owner, OP_CREATE_LB, token, &record, at)
                    .await?;
            }
            Ok(plan.load_balancer)
        })
    }

    /// A load balancer's own VIP mode is the operator's (it decides how
    /// the operator's network reaches the VIP: leases on an L2 segment or
    /// BGP announcements) and must be a mode the deployment runs, else it
    /// would be stored and not honoured.
    fn check_vip_mode(
        &self,
        principal: &Principal,
        mode: Option<weir_core::cluster::VipMode>,
    ) -> ControlResult<()> {
        if mode.is_some() {
            Self::admin_only(principal)?;
        }
        Ok(self.settings.cluster.check_lb_vip_mode(mode)?)
    }

    /// Shows one load balancer.
    pub async fn get_load_balancer(
        &self,
        principal: &Principal,
        id: &LoadBalancerId,
    ) -> ControlResult<LoadBalancer> {
        let found = self.reader().await?.load_balancer(id).await?;
        Ok(principal.check(found, ResourceKind::LoadBalancer, id.as_str())?)
    }

    /// Lists the load balancers the caller sees.
    pub async fn list_load_balancers(
        &self,
        principal: &Principal,
    ) -> ControlResult<Vec<LoadBalancer>> {
        Ok(self
            .reader()
            .await?
            .load_balancers(principal.scope())
            .await?)
    }

    /// Starts or stops a load balancer.
    pub async fn load_balancer_action(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
        action: LbAction,
    ) -> ControlResult<LoadBalancer> {
        let principal = principal.clone();
        let lb = command!(self.writer, principal, |tx| {
            let lb = tx.load_balancer(&id).await?;
            let mut lb = principal.check(lb, ResourceKind::LoadBalancer, id.as_str())?;
            let status = loadbalancer::plan_lb_action(&lb, action)?;
            if status != lb.status {
                tx.set_load_balancer_status(&lb, status).await?;
                lb.status = status;
            }
            Ok(lb)
        })?;
        self.settle().await;
        Ok(lb)
    }

    /// Changes a load balancer's name, description or lifecycle in one
    /// write.
    pub async fn update_load_balancer(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
        update: LoadBalancerUpdate,
    ) -> ControlResult<LoadBalancer> {
        if let Some(mode) = update.vip_mode {
            // Clearing the operator's choice is the operator's too.
            Self::admin_only(principal)?;
            self.check_vip_mode(principal, mode)?;
        }
        let principal = principal.clone();
        let lb = command!(self.writer, principal, |tx| {
            let lb = tx.load_balancer(&id).await?;
            let current = principal.check(lb, ResourceKind::LoadBalancer, id.as_str())?;
            let next = loadbalancer::plan_lb_update(&current, &update, now())?;
            if next != current {
                tx.update_load_balancer(&next).await?;
            }
            Ok(next)
        })?;
        self.settle().await;
        Ok(lb)
    }

    /// Re-applies a load balancer (Octavia's failover, with no amphora to
    /// replace): every node's follower reloads it from the store, and the
    /// data plane binds again at once any of its listeners whose bind
    /// failed, instead of at the next retry. Admin only, as in Octavia.
    pub async fn failover_load_balancer(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
    ) -> ControlResult<LoadBalancer> {
        // Octavia's policy: failover is the operator's (it moves a load
        // balancer between amphorae, which tenants do not see).
        Self::admin_only(principal)?;
        let principal = principal.clone();
        let lb = command!(self.writer, principal, |tx| {
            let found = tx.load_balancer(&id).await?;
            let current = principal.check(found, ResourceKind::LoadBalancer, id.as_str())?;
            let touched = LoadBalancer {
                updated_at: now(),
                ..current
            };
            tx.update_load_balancer(&touched).await?;
            Ok(touched)
        })?;
        self.settle().await;
        if let Some(live) = self.live.get() {
            live.retry_binds();
        }
        Ok(lb)
    }

    /// Deletes a load balancer; with listeners only when `cascade`.
    pub async fn delete_load_balancer(
        &self,
        principal: &Principal,
        id: LoadBalancerId,
        cascade: bool,
    ) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let lb = tx.load_balancer(&id).await?;
            let lb = principal.check(lb, ResourceKind::LoadBalancer, id.as_str())?;
            let listeners = tx.listeners_of(&id).await?;
            loadbalancer::plan_lb_delete(&lb, listeners.len(), cascade)?;
            tx.delete_load_balancer(&lb).await?;
            Ok(())
        })
    }

    /// Creates a listener (and its default pool) on a load balancer.
    pub async fn create_listener(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewListener,
    ) -> ControlResult<Listener> {
        self.create_listener_with_pool(principal, lb_id, req, PoolUpdate::default(), None)
            .await
    }

    /// Creates a listener whose default pool starts with `pool` applied
    /// (health check, drain timeout), and, when given, applies `lb_pool`
    /// to the pool it serves beyond its own — its server group, or the
    /// load balancer's LB-wide pool (Aliyun configures a server group's
    /// checks on its listeners) — in one atomic write.
    pub async fn create_listener_with_pool(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewListener,
        pool: PoolUpdate,
        lb_pool: Option<PoolUpdate>,
    ) -> ControlResult<Listener> {
        self.create_listener_with_pool_once(principal, lb_id, req, pool, lb_pool, None)
            .await
    }

    /// [`Self::create_listener_with_pool`], idempotent under a client
    /// token (Zenlayer BMC's `clientToken`): a replay of the same request
    /// answers the listener it made, the same token with another request
    /// is a conflict.
    pub async fn create_listener_with_pool_once(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewListener,
        pool: PoolUpdate,
        lb_pool: Option<PoolUpdate>,
        client_token: Option<String>,
    ) -> ControlResult<Listener> {
        if let Some(token) = &client_token {
            idempotency::validate_token("client_token", token)?;
        }
        let principal = principal.clone();
        let limits = self.settings.limits;
        let limit = limits.listeners_per_load_balancer;
        let capabilities = self.settings.capabilities;
        let secrets = self.secrets.get();
        let listener = command!(self.writer, principal, |tx| {
            let lb = tx.load_balancer(&lb_id).await?;
            let lb = principal.check(lb, ResourceKind::LoadBalancer, lb_id.as_str())?;
            let fingerprint = hex(&Sha256::digest(
                format!("{lb_id:?}|{req:?}|{pool:?}|{lb_pool:?}").as_bytes(),
            ));
            if let Some(token) = &client_token {
                let stored = tx
                    .idempotency_record(&lb.project_id, OP_CREATE_LISTENER, token)
                    .await?
                    .map(|r| (r.fingerprint, r.response));
                if let Replay::Respond(id) = idempotency::decide(token, stored, &fingerprint)? {
                    let id = ListenerId::new(id);
                    let found = tx.listener(&id).await?;
                    return Ok(principal.check(found, ResourceKind::Listener, id.as_str())?);
                }
            }
            let siblings = tx.listeners_of(&lb_id).await?;
            Limits::room_for_one(QuotaKind::ListenersPerLoadBalancer, siblings.len(), limit)?;
            quota_room(tx, &limits, &lb.project_id, QuotaResource::Listener, 1).await?;
            let mut plan = loadbalancer::plan_listener(&lb, &siblings, &req, &mut UuidIds, now())?;
            check_certificates(tx, &plan.listener).await?;
            super::acls::check_listener_acl(tx, &lb, plan.listener.acl.as_ref()).await?;
            super::keymgr::check_tls_refs(tx, &secrets, &plan.listener).await?;
            super::keymgr::check_client_auth(tx, &secrets, &plan.listener).await?;
            plan.default_pool = plan_pool_update(&plan.default_pool, &pool, capabilities, now())?;
            if let Some(group) = &plan.listener.group_pool_id {
                let found = tx.pool(group).await?;
                let group = principal.check(found, ResourceKind::Pool, group.as_str())?;
                group::check_attach(&lb, &plan.listener, &group)?;
            }
            let lb_pool_next = match &lb_pool {
                Some(update) => {
                    // The pool the listener serves from: its server group,
                    // or the LB-wide pool.
                    let served = plan
                        .listener
                        .group_pool_id
                        .clone()
                        .unwrap_or_else(|| lb.default_pool_id.clone());
                    let found = tx.pool(&served).await?;
                    let current = principal.check(found, ResourceKind::Pool, served.as_str())?;
                    let next = plan_pool_update(&current, update, capabilities, now())?;
                    (next != current).then_some(next)
                }
                None => None,
            };
            // Checks the listener's own pool and the pool it serves
            // gain count against the health monitor quota.
            let checks = usize::from(plan.default_pool.health_check.is_some())
                + lb_pool_next
                    .as_ref()
                    .map_or(0, |p| usize::from(p.health_check.is_some()));
            let had = match (&lb_pool, &lb_pool_next) {
                (Some(_), Some(next)) => usize::from(
                    tx.pool(&next.id)
                        .await?
                        .is_some_and(|p| p.health_check.is_some()),
                ),
                _ => 0,
            };
            quota_room(
                tx,
                &limits,
                &lb.project_id,
                QuotaResource::HealthMonitor,
                checks.saturating_sub(had),
            )
            .await?;
            tx.insert_listener(&plan.listener, &plan.default_pool)
                .await?;
            if let Some(next) = lb_pool_next {
                tx.update_pool(&next).await?;
            }
            if let Some(token) = &client_token {
                let record = IdempotencyRecord {
                    fingerprint,
                    response: plan.listener.id.to_string(),
                };
                let at = plan.listener.created_at;
                tx.put_idempotency_record(&lb.project_id, OP_CREATE_LISTENER, token, &record, at)
                    .await?;
            }
            Ok(plan.listener)
        })?;
        self.settle().await;
        Ok(listener)
    }

    /// Shows one listener.
    pub async fn get_listener(
        &self,
        principal: &Principal,
        id: &ListenerId,
    ) -> ControlResult<Listener> {
        let found = self.reader().await?.listener(id).await?;
        Ok(principal.check(found, ResourceKind::Listener, id.as_str())?)
    }

    /// Lists the listeners of a load balancer.
    pub async fn list_listeners(
        &self,
        principal: &Principal,
        lb_id: &LoadBalancerId,
    ) -> ControlResult<Vec<Listener>> {
        let mut reads = self.reader().await?;
        let lb = reads.load_balancer(lb_id).await?;
        principal.check(lb, ResourceKind::LoadBalancer, lb_id.as_str())?;
        Ok(reads.listeners_of(lb_id).await?)
    }

    /// Creates a server group on a load balancer with its first backends
    /// (Aliyun CreateVServerGroup), in one atomic write; with `attach_to`,
    /// that listener (which must forward to no group yet) forwards to it
    /// (Octavia's pool created with a `listener_id`).
    pub async fn create_server_group(
        &self,
        principal: &Principal,
        lb_id: LoadBalancerId,
        req: NewServerGroup,
        attach_to: Option<ListenerId>,
        backends: Vec<BackendSpec>,
        policy: RegisterPolicy,
    ) -> ControlResult<(Pool, Vec<Backend>)> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        let secrets = self.secrets.get();
        let attaching = attach_to.is_some();
        let created = command!(self.writer, principal, |tx| {
            let found = tx.load_balancer(&lb_id).await?;
            let lb = principal.check(found, ResourceKind::LoadBalancer, lb_id.as_str())?;
            let at = now();
            let groups = tx
                .pools_of(&lb.id)
                .await?
                .iter()
                .filter(|p| group::is_server_group(&lb, p))
                .count();
            Limits::room_for_one(
                QuotaKind::ServerGroupsPerLoadBalancer,
                groups,
                settings.limits.server_groups_per_load_balancer,
            )?;
            quota_room(tx, &settings.limits, &lb.project_id, QuotaResource::Pool, 1).await?;
            let pool = group::plan_server_group(&lb, &req, &mut UuidIds, at)?;
            super::keymgr::check_pool_tls(tx, &secrets, &pool).await?;
            quota_room(
                tx,
                &settings.limits,
                &lb.project_id,
                QuotaResource::HealthMonitor,
                usize::from(pool.health_check.is_some()),
            )
            .await?;
            let attached = match &attach_to {
                Some(id) => {
                    let found = tx.listener(id).await?;
                    let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
                    group::check_listener_free(&listener)?;
                    group::check_attach(&lb, &listener, &pool)?;
                    Some(Listener {
                        group_pool_id: Some(pool.id.clone()),
                        updated_at: at,
                        ..listener
                    })
                }
                None => None,
            };
            tx.insert_server_group(&pool).await?;
            if let Some(listener) = &attached {
                tx.update_listener(listener).await?;
            }
            let backends = if backends.is_empty() {
                Vec::new()
            } else {
                let req = RegisterRequest {
                    target: RegisterTarget::Pool(pool.id.clone()),
                    backends,
                    policy,
                    client_token: None,
                };
                register_in(tx, &principal, &req, &settings).await?.backends
            };
            Ok((pool, backends))
        })?;
        if attaching {
            self.settle().await;
        }
        Ok(created)
    }

    /// Deletes a server group with its backends; one a listener forwards
    /// to is refused or detached from it, as `when_in_use` says.
    pub async fn delete_server_group(
        &self,
        principal: &Principal,
        id: PoolId,
        when_in_use: WhenInUse,
    ) -> ControlResult<Pool> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.pool(&id).await?;
            let pool = principal.check(found, ResourceKind::Pool, id.as_str())?;
            let lb = tx
                .load_balancer(&pool.lb_id)
                .await?
                .ok_or_else(|| Error::not_found(ResourceKind::LoadBalancer, &pool.lb_id))?;
            let listeners = tx.listeners_of(&lb.id).await?;
            // A pool an L7 policy forwards to stays (Octavia: 409).
            let policies = tx.l7_policies_of_lb(&lb.id).await?;
            weir_core::l7::check_pool_unused(&pool.id, &policies)?;
            let detached =
                group::plan_server_group_delete(&lb, &pool, &listeners, when_in_use, now())?;
            for listener in &detached {
                tx.update_listener(listener).await?;
            }
            tx.delete_server_group(&pool).await?;
            Ok(pool)
        })
    }

    /// Replaces the backends `old` names with `new` ones in one pool, all
    /// or none (Aliyun ModifyVServerGroupBackendServers).
    pub async fn replace_backends(
        &self,
        principal: &Principal,
        target: RegisterTarget,
        old: Vec<BackendSelector>,
        new: Vec<BackendSpec>,
        policy: RegisterPolicy,
        field: &'static str,
    ) -> ControlResult<Vec<Backend>> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let all = all_backends(tx, &pool.id, settings.limits.backends_per_pool).await?;
            let gone: Vec<Backend> = select_backends(&all, &old, WhenMissing::Fail, field)?
                .into_iter()
                .cloned()
                .collect();
            for b in &gone {
                tx.delete_backend(b).await?;
            }
            let req = RegisterRequest {
                target,
                backends: new,
                policy,
                client_token: None,
            };
            Ok(register_in(tx, &principal, &req, &settings).await?.backends)
        })
    }

    /// Changes a listener's name, scheduler or PROXY protocol.
    pub async fn update_listener(
        &self,
        principal: &Principal,
        id: ListenerId,
        update: ListenerUpdate,
    ) -> ControlResult<Listener> {
        let merged = self
            .update_listener_with(principal, id, move |_| {
                Ok::<_, std::convert::Infallible>(update)
            })
            .await?;
        Ok(merged.unwrap_or_else(|never| match never {}))
    }

    /// A dialect's read-merge-write of a listener: `merge` makes the
    /// update from the listener as the writer's transaction reads it, so
    /// a field it merges (a certificate list, client authentication)
    /// never overwrites a concurrent update with what it read before.
    /// `merge`'s own error (the caller's dialect's) writes nothing.
    pub async fn update_listener_with<E: Send + 'static>(
        &self,
        principal: &Principal,
        id: ListenerId,
        merge: impl FnOnce(&Listener) -> Result<ListenerUpdate, E> + Send + 'static,
    ) -> ControlResult<Result<Listener, E>> {
        let principal = principal.clone();
        let secrets = self.secrets.get();
        let listener = command!(self.writer, principal, |tx| {
            let found = tx.listener(&id).await?;
            let current = principal.check(found, ResourceKind::Listener, id.as_str())?;
            let update = match merge(&current) {
                Ok(update) => update,
                Err(e) => return Ok(Err(e)),
            };
            let lb = tx.load_balancer(&current.lb_id).await?;
            let lb = principal.check(lb, ResourceKind::LoadBalancer, current.lb_id.as_str())?;
            let next = loadbalancer::plan_listener_update(&lb, &current, &update, now())?;
            check_new_group(tx, &principal, &current, &next).await?;
            if next.certificate_ids != current.certificate_ids {
                check_certificates(tx, &next).await?;
            }
            if next.acl.is_some() && next.acl != current.acl {
                super::acls::check_listener_acl(tx, &lb, next.acl.as_ref()).await?;
            }
            if next.tls_refs != current.tls_refs {
                super::keymgr::check_tls_refs(tx, &secrets, &next).await?;
            }
            if next.client_auth != current.client_auth {
                super::keymgr::check_client_auth(tx, &secrets, &next).await?;
            }
            if next.redirect_https_port.is_some()
                && next.redirect_https_port != current.redirect_https_port
            {
                let siblings = tx.listeners_of(&lb.id).await?;
                loadbalancer::check_redirect(&next, &siblings)?;
            }
            if next != current {
                tx.update_listener(&next).await?;
            }
            Ok(Ok(next))
        })?;
        if listener.is_ok() {
            self.settle().await;
        }
        Ok(listener)
    }

    /// Lists every pool of a load balancer: its LB-wide pool, each
    /// listener's own pool and its server groups.
    pub async fn list_pools(
        &self,
        principal: &Principal,
        lb_id: &LoadBalancerId,
    ) -> ControlResult<Vec<Pool>> {
        let mut reads = self.reader().await?;
        let lb = reads.load_balancer(lb_id).await?;
        principal.check(lb, ResourceKind::LoadBalancer, lb_id.as_str())?;
        Ok(reads.pools_of(lb_id).await?)
    }

    /// Deletes a listener with its default pool and that pool's backends
    /// (which drain in the data plane).
    pub async fn delete_listener(
        &self,
        principal: &Principal,
        id: ListenerId,
    ) -> ControlResult<Listener> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.listener(&id).await?;
            let listener = principal.check(found, ResourceKind::Listener, id.as_str())?;
            let siblings = tx.listeners_of(&listener.lb_id).await?;
            loadbalancer::check_listener_delete(&listener, &siblings)?;
            tx.delete_listener(&listener).await?;
            Ok(listener)
        })
    }

    /// Adds, changes or deletes one of an HTTPS listener's domain
    /// extensions ([`weir_core::sni`]), the certificate read in the same
    /// transaction; answers the listener as it now is.
    pub async fn change_domain_extension(
        &self,
        principal: &Principal,
        id: ListenerId,
        change: DomainExtensionChange,
    ) -> ControlResult<Listener> {
        let principal = principal.clone();
        let listener = command!(self.writer, principal, |tx| {
            let found = tx.listener(&id).await?;
            let current = principal.check(found, ResourceKind::Listener, id.as_str())?;
            let certificate = match change.certificate_id() {
                Some(cert) => tx.certificate(&cert).await?,
                None => None,
            };
            let new_id = sni::extension_id(&current.id, &UuidIds.next_id());
            let next =
                sni::plan_domain_extension(&current, &change, certificate.as_ref(), new_id, now())?;
            if next != current {
                tx.update_listener(&next).await?;
            }
            Ok(next)
        })?;
        self.settle().await;
        Ok(listener)
    }
}

/// Holds an HTTPS listener's certificates to its project, read in the
/// writing transaction (so one deleted meanwhile is not named).
async fn check_certificates(tx: &mut dyn StoreTx, listener: &Listener) -> ControlResult<()> {
    let mut found = Vec::with_capacity(listener.certificate_ids.len());
    for id in &listener.certificate_ids {
        found.extend(tx.certificate(id).await?);
    }
    weir_core::certificate::check_owned(&listener.project_id, &listener.certificate_ids, &found)?;
    Ok(())
}
