//! Backends: registration, updates, batches, deregistration.

use super::*;

impl Control {
    /// Every backend of the pool `target` names, oldest first, with that
    /// pool (and its listener, when it is a listener's default pool).
    pub async fn backends_of(
        &self,
        principal: &Principal,
        target: &RegisterTarget,
    ) -> ControlResult<(Pool, Option<Listener>, Vec<Backend>)> {
        let mut reads = self.reader().await?;
        let (pool, listener) = resolve_target(&mut *reads, principal, target).await?;
        let backends = all_backends(
            &mut *reads,
            &pool.id,
            self.settings.limits.backends_per_pool,
        )
        .await?;
        Ok((pool, listener, backends))
    }

    /// Deregisters the backends `selectors` name in one pool, all or none.
    pub async fn deregister_selected(
        &self,
        principal: &Principal,
        target: RegisterTarget,
        selectors: Vec<BackendSelector>,
        missing: WhenMissing,
        field: &'static str,
    ) -> ControlResult<Vec<Backend>> {
        let principal = principal.clone();
        let limit = self.settings.limits.backends_per_pool;
        command!(self.writer, principal, |tx| {
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let all = all_backends(tx, &pool.id, limit).await?;
            let chosen: Vec<Backend> = select_backends(&all, &selectors, missing, field)?
                .into_iter()
                .cloned()
                .collect();
            for b in &chosen {
                tx.delete_backend(b).await?;
            }
            Ok(chosen)
        })
    }

    /// Makes a pool's backends the desired set (Octavia's batch member
    /// update): matched by address and port, updated, created, and —
    /// unless `additive_only` — the rest deleted, in one atomic write.
    pub async fn batch_backends(
        &self,
        principal: &Principal,
        pool_id: PoolId,
        desired: Vec<BackendSpec>,
        additive_only: bool,
        policy: RegisterPolicy,
    ) -> ControlResult<BatchOutcome> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let target = RegisterTarget::Pool(pool_id);
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let existing = all_backends(tx, &pool.id, settings.limits.backends_per_pool).await?;
            let plan = plan_batch(&existing, &desired, additive_only, &policy, now())?;
            for b in &plan.updated {
                let before = existing.iter().find(|e| e.id == b.id);
                if let Some(address) = b.monitor_address {
                    if before.and_then(|e| e.monitor_address) != Some(address) {
                        check_monitor(tx, b, &address.to_string(), &settings).await?;
                    }
                }
            }
            for b in &plan.deleted {
                tx.delete_backend(b).await?;
            }
            for b in &plan.updated {
                tx.update_backend(b).await?;
            }
            let created = if plan.created.is_empty() {
                Vec::new()
            } else {
                let req = RegisterRequest {
                    target,
                    backends: plan.created,
                    policy,
                    client_token: None,
                };
                register_in(tx, &principal, &req, &settings).await?.backends
            };
            Ok(BatchOutcome {
                created,
                updated: plan.updated,
                deleted: plan.deleted,
            })
        })
    }

    /// Applies each update to the backends its selector names in one
    /// pool, all or none.
    pub async fn update_selected(
        &self,
        principal: &Principal,
        target: RegisterTarget,
        changes: Vec<(BackendSelector, BackendUpdate)>,
        policy: RegisterPolicy,
        field: &'static str,
    ) -> ControlResult<Vec<Backend>> {
        let principal = principal.clone();
        let limit = self.settings.limits.backends_per_pool;
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let (pool, _) = resolve_target(tx, &principal, &target).await?;
            let before = all_backends(tx, &pool.id, limit).await?;
            let mut all = before.clone();
            let at = now();
            let mut changed_ids: Vec<BackendId> = Vec::new();
            for (selector, update) in &changes {
                let ids: Vec<BackendId> = select_backends(
                    &all,
                    std::slice::from_ref(selector),
                    WhenMissing::Fail,
                    field,
                )?
                .into_iter()
                .map(|b| b.id.clone())
                .collect();
                for id in ids {
                    let slot = all.iter_mut().find(|b| b.id == id).expect("selected");
                    let mut next = plan_backend_update(slot, update, &policy, at)?;
                    apply_monitor_address(tx, &mut next, &update.monitor_address, &settings, at)
                        .await?;
                    *slot = next;
                    if !changed_ids.contains(&id) {
                        changed_ids.push(id);
                    }
                }
            }
            let mut out = Vec::with_capacity(changed_ids.len());
            for id in changed_ids {
                let b = all.iter().find(|b| b.id == id).expect("changed").clone();
                if !before.contains(&b) {
                    tx.update_backend(&b).await?;
                }
                out.push(b);
            }
            Ok(out)
        })
    }

    /// Registers backends: planned whole, written in one transaction,
    /// idempotent under a client token.
    pub async fn register_backends(
        &self,
        principal: &Principal,
        req: RegisterRequest,
    ) -> ControlResult<RegisterOutcome> {
        if let Some(token) = &req.client_token {
            idempotency::validate_token("client_token", token)?;
        }
        let principal = principal.clone();
        let settings = self.settings.clone();
        let ahead = registration_ahead(&req);
        command!(self.writer, principal, ahead = ahead, |tx| {
            register_in(tx, &principal, &req, &settings).await
        })
    }

    /// Lists a pool's backends, oldest first, `page.limit` at a time.
    pub async fn list_backends(
        &self,
        principal: &Principal,
        pool_id: &PoolId,
        page: &Page,
    ) -> ControlResult<Vec<Backend>> {
        // Every other id from the wire is a lookup, which finds nothing when
        // it cannot be an id; a marker is compared, so it is refused.
        if let Some(marker) = &page.marker {
            if !weir_core::ids::well_formed(marker) {
                return Err(Error::invalid("marker", "not a backend id").into());
            }
        }
        let mut reads = self.reader().await?;
        let pool = reads.pool(pool_id).await?;
        principal.check(pool, ResourceKind::Pool, pool_id.as_str())?;
        Ok(reads.backends(pool_id, page).await?)
    }

    /// Shows one pool.
    pub async fn get_pool(&self, principal: &Principal, id: &PoolId) -> ControlResult<Pool> {
        let found = self.reader().await?.pool(id).await?;
        Ok(principal.check(found, ResourceKind::Pool, id.as_str())?)
    }

    /// Changes a pool's health check or drain timeout.
    pub async fn update_pool(
        &self,
        principal: &Principal,
        id: PoolId,
        update: PoolUpdate,
    ) -> ControlResult<Pool> {
        let merged = self
            .update_pool_with(principal, id, move |_| {
                Ok::<_, std::convert::Infallible>(update)
            })
            .await?;
        Ok(merged.unwrap_or_else(|never| match never {}))
    }

    /// A dialect's read-merge-write of a pool (a health monitor's fields
    /// merged into the check it has): `merge` makes the update from the
    /// pool as the writer's transaction reads it, so a concurrent update
    /// is never overwritten with what was read before. `merge`'s own
    /// error (the caller's dialect's) writes nothing.
    pub async fn update_pool_with<E: Send + 'static>(
        &self,
        principal: &Principal,
        id: PoolId,
        merge: impl FnOnce(&Pool) -> Result<PoolUpdate, E> + Send + 'static,
    ) -> ControlResult<Result<Pool, E>> {
        let principal = principal.clone();
        let capabilities = self.settings.capabilities;
        let limits = self.settings.limits;
        let secrets = self.secrets.get();
        command!(self.writer, principal, |tx| {
            let current = tx.pool(&id).await?;
            let current = principal.check(current, ResourceKind::Pool, id.as_str())?;
            let mut update = match merge(&current) {
                Ok(update) => update,
                Err(e) => return Ok(Err(e)),
            };
            if update.upstream_tls.is_some() && current.protocol.is_none() {
                // A listener's own pool speaks what its listener does.
                if let Some(listener) = &current.listener_id {
                    update.listener_speaks = tx
                        .listener(listener)
                        .await?
                        .as_ref()
                        .and_then(weir_core::upstream_tls::listener_speaks);
                }
            }
            let next = plan_pool_update(&current, &update, capabilities, now())?;
            if next.upstream_tls != current.upstream_tls {
                super::keymgr::check_pool_tls(tx, &secrets, &next).await?;
            }
            let added = current.health_check.is_none() && next.health_check.is_some();
            quota_room(
                tx,
                &limits,
                &current.project_id,
                QuotaResource::HealthMonitor,
                usize::from(added),
            )
            .await?;
            if next != current {
                tx.update_pool(&next).await?;
            }
            Ok(Ok(next))
        })
    }

    /// Shows one backend.
    pub async fn get_backend(
        &self,
        principal: &Principal,
        id: &BackendId,
    ) -> ControlResult<Backend> {
        let found = self.reader().await?.backend(id).await?;
        Ok(principal.check(found, ResourceKind::Backend, id.as_str())?)
    }

    /// Changes a backend's weight, state, backup flag or name.
    pub async fn update_backend(
        &self,
        principal: &Principal,
        id: BackendId,
        update: BackendUpdate,
        policy: RegisterPolicy,
    ) -> ControlResult<Backend> {
        let principal = principal.clone();
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let current = tx.backend(&id).await?;
            let current = principal.check(current, ResourceKind::Backend, id.as_str())?;
            let mut next = plan_backend_update(&current, &update, &policy, now())?;
            apply_monitor_address(tx, &mut next, &update.monitor_address, &settings, now()).await?;
            if let Some(port) = update.port {
                let listener = match &current.listener_id {
                    Some(l) => tx.listener(l).await?,
                    None => None,
                };
                let same_address = tx
                    .overlapping_backends(&current.pool_id, &[current.address], &[])
                    .await?;
                let ports = plan_port_change(&current, port, listener.as_ref(), &same_address)?;
                if ports != next.ports {
                    next.ports = ports;
                    next.updated_at = now();
                }
            }
            if next != current {
                tx.update_backend(&next).await?;
            }
            Ok(next)
        })
    }

    /// Deregisters a backend.
    pub async fn delete_backend(
        &self,
        principal: &Principal,
        id: BackendId,
    ) -> ControlResult<Backend> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let current = tx.backend(&id).await?;
            let current = principal.check(current, ResourceKind::Backend, id.as_str())?;
            tx.delete_backend(&current).await?;
            Ok(current)
        })
    }
}

/// Applies a monitor-address change to `next`, holding a new address to
/// the address rules of its load balancer's networks.
async fn apply_monitor_address(
    tx: &mut dyn StoreTx,
    next: &mut Backend,
    change: &Option<Option<String>>,
    settings: &Settings,
    at: Timestamp,
) -> ControlResult<()> {
    let Some(change) = change else {
        return Ok(());
    };
    let (address, spelled) = match change {
        None => (None, None),
        Some(text) => {
            let address = check_monitor(tx, next, text, settings).await?;
            (Some(address), weir_core::address::spelling(text, address))
        }
    };
    if address != next.monitor_address || spelled != next.monitor_address_text {
        next.monitor_address = address;
        next.monitor_address_text = spelled;
        next.updated_at = at;
    }
    Ok(())
}

/// [`register::check_monitor_address`] for an existing backend: its load
/// balancer, VPC and subnet are the networks the address must be in.
async fn check_monitor(
    tx: &mut dyn StoreTx,
    backend: &Backend,
    text: &str,
    settings: &Settings,
) -> ControlResult<std::net::IpAddr> {
    let missing = |kind, id: &str| Error::not_found(kind, id);
    let pool = tx
        .pool(&backend.pool_id)
        .await?
        .ok_or_else(|| missing(ResourceKind::Pool, backend.pool_id.as_str()))?;
    let lb = tx
        .load_balancer(&backend.lb_id)
        .await?
        .ok_or_else(|| missing(ResourceKind::LoadBalancer, backend.lb_id.as_str()))?;
    let vpc = tx
        .vpc(&lb.vpc_id)
        .await?
        .ok_or_else(|| missing(ResourceKind::Vpc, lb.vpc_id.as_str()))?;
    let subnet_ids: Vec<String> = backend.subnet_id.iter().map(|s| s.to_string()).collect();
    let addresses: Vec<std::net::IpAddr> = text.parse().into_iter().collect();
    let snapshot = RegisterSnapshot {
        vips: tx.vips_among(&addresses).await?,
        subnets: tx.subnets_by_ids(&subnet_ids).await?,
        load_balancer: lb,
        vpc,
        listener: None,
        pool,
        pool_backend_count: 0,
        overlapping: Vec::new(),
        instances: Vec::new(),
    };
    Ok(register::check_monitor_address(
        &snapshot,
        backend.subnet_id.as_ref().map(SubnetId::as_str),
        "monitor_address",
        text,
        settings,
    )?)
}
