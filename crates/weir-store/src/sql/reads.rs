//! [`Reads`] for anything that lends a [`Driver`]: a pooled reader or a
//! write transaction.

use weir_core::l7::L7Policy;

use super::*;

#[async_trait]
impl<L: Lend> Reads for L {
    async fn project(&mut self, id: &ProjectId) -> StoreResult<Option<Project>> {
        select_one(
            self.driver().await?,
            "projects",
            "id",
            id.as_str(),
            project_from,
        )
        .await
    }

    async fn project_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Project>> {
        select_one(
            self.driver().await?,
            "projects",
            "token_hash",
            token_hash,
            project_from,
        )
        .await
    }

    async fn project_by_access_key(
        &mut self,
        access_key_id: &str,
    ) -> StoreResult<Option<ProjectCredentials>> {
        if !well_formed(access_key_id) {
            return Ok(None);
        }
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT * FROM projects WHERE access_key_id = $1",
                args![access_key_id],
            )
            .await?;
        if row.is_some() {
            return one(row, |r| {
                Ok(ProjectCredentials {
                    project: project_from(r)?,
                    access_key_secret: r.text("access_key_secret")?,
                    role: Role::Member,
                })
            });
        }
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT p.id, p.name, p.access_key_id, p.created_at, \
                 c.access_key_secret, c.role \
                 FROM credentials c JOIN projects p ON p.id = c.project_id \
                 WHERE c.access_key_id = $1",
                args![access_key_id],
            )
            .await?;
        one(row, |r| {
            Ok(ProjectCredentials {
                project: project_from(r)?,
                access_key_secret: r.text("access_key_secret")?,
                role: enum_col(r, "role")?,
            })
        })
    }

    async fn credential_by_token_hash(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<Credential>> {
        select_one(
            self.driver().await?,
            "credentials",
            "token_hash",
            token_hash,
            credential_from,
        )
        .await
    }

    async fn certificate(&mut self, id: &CertificateId) -> StoreResult<Option<Certificate>> {
        select_one(
            self.driver().await?,
            "certificates",
            "id",
            id.as_str(),
            certificate_from,
        )
        .await
    }

    async fn certificates(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Certificate>> {
        select_scoped(
            self.driver().await?,
            "certificates",
            project,
            certificate_from,
        )
        .await
    }

    async fn listeners_using_certificate(
        &mut self,
        certificate: &Certificate,
    ) -> StoreResult<Vec<Listener>> {
        // Only the certificate's project can name it (the core checks
        // ownership), so its listeners are the ones to look through; the
        // ids are a JSON list, compared exactly here rather than with a
        // LIKE pattern that one id's text could match inside another's.
        let listeners = select_where(
            self.driver().await?,
            "listeners",
            "project_id",
            certificate.project_id.as_str(),
            listener_from,
        )
        .await?;
        Ok(listeners
            .into_iter()
            .filter(|l| weir_core::certificate::serves(l, &certificate.id))
            .collect())
    }

    async fn secret(&mut self, id: &SecretId) -> StoreResult<Option<weir_core::keymgr::Secret>> {
        select_one(
            self.driver().await?,
            "secrets",
            "id",
            id.as_str(),
            keymgr::secret_from,
        )
        .await
    }

    async fn secrets(
        &mut self,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<weir_core::keymgr::Secret>> {
        select_scoped(
            self.driver().await?,
            "secrets",
            project,
            keymgr::secret_from,
        )
        .await
    }

    async fn secret_with_payload(
        &mut self,
        id: &SecretId,
    ) -> StoreResult<Option<(weir_core::keymgr::Secret, Option<String>)>> {
        keymgr::secret_with_payload(self.driver().await?, id).await
    }

    async fn container(
        &mut self,
        id: &ContainerId,
    ) -> StoreResult<Option<weir_core::keymgr::Container>> {
        select_one(
            self.driver().await?,
            "containers",
            "id",
            id.as_str(),
            keymgr::container_from,
        )
        .await
    }

    async fn containers(
        &mut self,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<weir_core::keymgr::Container>> {
        select_scoped(
            self.driver().await?,
            "containers",
            project,
            keymgr::container_from,
        )
        .await
    }

    async fn acl(&mut self, id: &AclId) -> StoreResult<Option<weir_core::acl::Acl>> {
        select_one(
            self.driver().await?,
            "acls",
            "id",
            id.as_str(),
            acls::acl_from,
        )
        .await
    }

    async fn acls(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<weir_core::acl::Acl>> {
        select_scoped(self.driver().await?, "acls", project, acls::acl_from).await
    }

    async fn listeners_using_acl(&mut self, id: &AclId) -> StoreResult<Vec<Listener>> {
        acls::listeners_using(self.driver().await?, id).await
    }

    async fn listeners_of_project(&mut self, project: &ProjectId) -> StoreResult<Vec<Listener>> {
        select_where(
            self.driver().await?,
            "listeners",
            "project_id",
            project.as_str(),
            listener_from,
        )
        .await
    }

    async fn certificate_material(
        &mut self,
        id: &CertificateId,
    ) -> StoreResult<Option<(String, String)>> {
        if !well_formed(id.as_str()) {
            return Ok(None);
        }
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT chain_pem, sealed_key FROM certificates WHERE id = $1",
                args![id.as_str()],
            )
            .await?;
        one(row, |r| Ok((r.text("chain_pem")?, r.text("sealed_key")?)))
    }

    async fn credentials(&mut self, project: &ProjectId) -> StoreResult<Vec<Credential>> {
        let rows = self
            .driver()
            .await?
            .fetch_all(
                "SELECT * FROM credentials WHERE project_id = $1 ORDER BY created_at, access_key_id",
                args![project.as_str()],
            )
            .await?;
        rows.iter().map(credential_from).collect()
    }

    async fn projects(&mut self) -> StoreResult<Vec<Project>> {
        select_scoped(self.driver().await?, "projects", None, project_from).await
    }

    async fn vpc(&mut self, id: &VpcId) -> StoreResult<Option<Vpc>> {
        select_one(self.driver().await?, "vpcs", "id", id.as_str(), vpc_from).await
    }

    async fn vpcs(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Vpc>> {
        select_scoped_or_shared(self.driver().await?, "vpcs", project, vpc_from).await
    }

    async fn subnet(&mut self, id: &SubnetId) -> StoreResult<Option<Subnet>> {
        select_one(
            self.driver().await?,
            "subnets",
            "id",
            id.as_str(),
            subnet_from,
        )
        .await
    }

    async fn subnets(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Subnet>> {
        select_scoped_or_shared(self.driver().await?, "subnets", project, subnet_from).await
    }

    async fn subnets_of_vpc(&mut self, vpc: &VpcId) -> StoreResult<Vec<Subnet>> {
        select_where(
            self.driver().await?,
            "subnets",
            "vpc_id",
            vpc.as_str(),
            subnet_from,
        )
        .await
    }

    async fn subnet_users(
        &mut self,
        id: &SubnetId,
    ) -> StoreResult<weir_core::inventory::SubnetUsers> {
        networks::subnet_users(self.driver().await?, id).await
    }

    async fn count_networks(&mut self, project: &ProjectId) -> StoreResult<(usize, usize)> {
        networks::count_networks(self.driver().await?, project).await
    }

    async fn subnets_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Subnet>> {
        select_in(
            self.driver().await?,
            "subnets",
            unscoped(),
            "id",
            ids,
            subnet_from,
        )
        .await
    }

    async fn instance(&mut self, id: &InstanceId) -> StoreResult<Option<Instance>> {
        select_one(
            self.driver().await?,
            "instances",
            "id",
            id.as_str(),
            instance_from,
        )
        .await
    }

    async fn instances(&mut self, project: Option<&ProjectId>) -> StoreResult<Vec<Instance>> {
        select_scoped(self.driver().await?, "instances", project, instance_from).await
    }

    async fn instance_by_ip(&mut self, vpc: &VpcId, ip: IpAddr) -> StoreResult<Option<Instance>> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT * FROM instances WHERE vpc_id = $1 AND private_ip = $2",
                args![vpc.as_str(), ip.to_string()],
            )
            .await?;
        one(row, instance_from)
    }

    async fn instances_by_ids_or_ips(
        &mut self,
        ids: &[String],
        ips: &[IpAddr],
    ) -> StoreResult<Vec<Instance>> {
        let conn = self.driver().await?;
        let mut found = select_in(conn, "instances", unscoped(), "id", ids, instance_from).await?;
        let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
        let by_ip = select_in(
            conn,
            "instances",
            unscoped(),
            "private_ip",
            &ips,
            instance_from,
        )
        .await?;
        for inst in by_ip {
            if !found.iter().any(|i| i.id == inst.id) {
                found.push(inst);
            }
        }
        Ok(found)
    }

    async fn load_balancer(&mut self, id: &LoadBalancerId) -> StoreResult<Option<LoadBalancer>> {
        select_one(
            self.driver().await?,
            "load_balancers",
            "id",
            id.as_str(),
            lb_from,
        )
        .await
    }

    async fn load_balancers(
        &mut self,
        project: Option<&ProjectId>,
    ) -> StoreResult<Vec<LoadBalancer>> {
        select_scoped(self.driver().await?, "load_balancers", project, lb_from).await
    }

    async fn used_vips(&mut self) -> StoreResult<HashSet<IpAddr>> {
        let rows = self
            .driver()
            .await?
            .fetch_all("SELECT vip FROM load_balancers", Vec::new())
            .await?;
        rows.iter().map(|r| parsed(r, "vip")).collect()
    }

    async fn backend_address_in_use(&mut self, address: IpAddr) -> StoreResult<bool> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT id FROM backends WHERE address = $1 LIMIT 1",
                args![address.to_string()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn vips_among(&mut self, addresses: &[IpAddr]) -> StoreResult<HashSet<IpAddr>> {
        let addresses: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
        let vip = |r: &_| parsed(r, "vip");
        let found = select_in(
            self.driver().await?,
            "load_balancers",
            unscoped(),
            "vip",
            &addresses,
            vip,
        )
        .await?;
        Ok(found.into_iter().collect())
    }

    async fn listener(&mut self, id: &ListenerId) -> StoreResult<Option<Listener>> {
        select_one(
            self.driver().await?,
            "listeners",
            "id",
            id.as_str(),
            listener_from,
        )
        .await
    }

    async fn listeners_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Listener>> {
        select_where(
            self.driver().await?,
            "listeners",
            "lb_id",
            lb.as_str(),
            listener_from,
        )
        .await
    }

    async fn pool(&mut self, id: &PoolId) -> StoreResult<Option<Pool>> {
        select_one(self.driver().await?, "pools", "id", id.as_str(), pool_from).await
    }

    async fn backend(&mut self, id: &BackendId) -> StoreResult<Option<Backend>> {
        select_one(
            self.driver().await?,
            "backends",
            "id",
            id.as_str(),
            backend_from,
        )
        .await
    }

    async fn backends(&mut self, pool: &PoolId, page: &Page) -> StoreResult<Vec<Backend>> {
        if !well_formed(pool.as_str()) {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let rows = self
            .driver()
            .await?
            .fetch_all(
                "SELECT * FROM backends WHERE pool_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                args![pool.as_str(), page.marker.as_deref().unwrap_or(""), limit],
            )
            .await?;
        all(rows, backend_from)
    }

    async fn backends_by_ids(&mut self, ids: &[String]) -> StoreResult<Vec<Backend>> {
        // The follower's read after every commit: planned each time, or a
        // plan cached while `backends` was nearly empty scans it whole.
        select_in_planned(self.driver().await?, "backends", "id", ids, backend_from).await
    }

    async fn flavor_profile(&mut self, id: &FlavorProfileId) -> StoreResult<Option<FlavorProfile>> {
        select_one(
            self.driver().await?,
            "flavor_profiles",
            "id",
            id.as_str(),
            flavor_profile_from,
        )
        .await
    }

    async fn flavor_profiles(&mut self) -> StoreResult<Vec<FlavorProfile>> {
        select_scoped(
            self.driver().await?,
            "flavor_profiles",
            None,
            flavor_profile_from,
        )
        .await
    }

    async fn flavor(&mut self, id: &FlavorId) -> StoreResult<Option<Flavor>> {
        select_one(
            self.driver().await?,
            "flavors",
            "id",
            id.as_str(),
            flavor_from,
        )
        .await
    }

    async fn flavors(&mut self) -> StoreResult<Vec<Flavor>> {
        select_scoped(self.driver().await?, "flavors", None, flavor_from).await
    }

    async fn project_quotas(
        &mut self,
        project: &ProjectId,
    ) -> StoreResult<Option<weir_core::quota::Quotas>> {
        quotas::quotas_of(self.driver().await?, project).await
    }

    async fn all_project_quotas(
        &mut self,
    ) -> StoreResult<Vec<(ProjectId, weir_core::quota::Quotas)>> {
        quotas::all_quotas(self.driver().await?).await
    }

    async fn count_in_project(
        &mut self,
        project: &ProjectId,
        resource: weir_core::quota::QuotaResource,
    ) -> StoreResult<usize> {
        quotas::count(self.driver().await?, project, resource).await
    }

    async fn count_flavors_of_profile(&mut self, profile: &FlavorProfileId) -> StoreResult<usize> {
        count_where(
            self.driver().await?,
            "flavors",
            "profile_id",
            profile.as_str(),
        )
        .await
    }

    async fn count_load_balancers_of_flavor(&mut self, flavor: &FlavorId) -> StoreResult<usize> {
        count_where(
            self.driver().await?,
            "load_balancers",
            "flavor_id",
            flavor.as_str(),
        )
        .await
    }

    async fn count_backends(&mut self, pool: &PoolId) -> StoreResult<usize> {
        if !well_formed(pool.as_str()) {
            return Ok(0);
        }
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT backend_count FROM pools WHERE id = $1",
                args![pool.as_str()],
            )
            .await?;
        let n = row.map(|r| r.int("backend_count")).transpose()?;
        Ok(n.and_then(|n| usize::try_from(n).ok()).unwrap_or(0))
    }

    async fn overlapping_backends(
        &mut self,
        pool: &PoolId,
        addresses: &[IpAddr],
        instance_ids: &[String],
    ) -> StoreResult<Vec<Backend>> {
        // Two index lookups rather than one OR, which SQLite would answer
        // by scanning the whole pool.
        let addresses: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
        let conn = self.driver().await?;
        let mut found = Vec::new();
        for (column, values) in [("address", &addresses[..]), ("instance_id", instance_ids)] {
            let prefix = ("pool_id = $1 AND ", args![pool.as_str()]);
            for b in select_in(conn, "backends", prefix, column, values, backend_from).await? {
                if !found.iter().any(|f: &Backend| f.id == b.id) {
                    found.push(b);
                }
            }
        }
        Ok(found)
    }

    async fn idempotency_record(
        &mut self,
        project: &ProjectId,
        operation: &str,
        token: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT fingerprint, response FROM idempotency_records \
                 WHERE project_id = $1 AND operation = $2 AND token = $3",
                args![project.as_str(), operation, token],
            )
            .await?;
        one(row, |r| {
            Ok(IdempotencyRecord {
                fingerprint: r.text("fingerprint")?,
                response: r.text("response")?,
            })
        })
    }

    async fn l7_policy(&mut self, id: &L7PolicyId) -> StoreResult<Option<L7Policy>> {
        Ok(l7::policies_where(self.driver().await?, "id", id.as_str())
            .await?
            .pop())
    }

    async fn l7_policies_of(&mut self, listener: &ListenerId) -> StoreResult<Vec<L7Policy>> {
        l7::policies_where(self.driver().await?, "listener_id", listener.as_str()).await
    }

    async fn l7_policies_of_lb(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<L7Policy>> {
        l7::policies_where(self.driver().await?, "lb_id", lb.as_str()).await
    }

    async fn pools_of(&mut self, lb: &LoadBalancerId) -> StoreResult<Vec<Pool>> {
        select_where(
            self.driver().await?,
            "pools",
            "lb_id",
            lb.as_str(),
            pool_from,
        )
        .await
    }

    async fn changes_since(
        &mut self,
        revision: u64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeRecord>> {
        let rows = self
            .driver()
            .await?
            .fetch_all(
                "SELECT * FROM change_log WHERE revision > $1 ORDER BY revision LIMIT $2",
                args![
                    i64::try_from(revision).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
            )
            .await?;
        all(rows, change_from)
    }

    async fn project_changes_since(
        &mut self,
        project: &ProjectId,
        after: u64,
        through: u64,
        limit: usize,
    ) -> StoreResult<Vec<ChangeRecord>> {
        let rows = self
            .driver()
            .await?
            .fetch_all(
                "SELECT * FROM change_log WHERE project_id = $1 AND project_revision > $2 \
                 AND revision <= $3 ORDER BY project_revision LIMIT $4",
                args![
                    project.as_str(),
                    i64::try_from(after).unwrap_or(i64::MAX),
                    i64::try_from(through).unwrap_or(i64::MAX),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
            )
            .await?;
        all(rows, change_from)
    }

    async fn project_log_position(
        &mut self,
        project: &ProjectId,
    ) -> StoreResult<(u64, Option<u64>)> {
        let driver = self.driver().await?;
        let head = driver
            .fetch_optional(
                "SELECT revision FROM project_log_heads WHERE project_id = $1",
                args![project.as_str()],
            )
            .await?
            .map(|r| u64_col(&r, "revision"))
            .transpose()?
            .unwrap_or(0);
        let oldest = driver
            .fetch_optional(
                "SELECT project_revision FROM change_log WHERE project_id = $1 \
                 ORDER BY project_revision LIMIT 1",
                args![project.as_str()],
            )
            .await?
            .map(|r| u64_col(&r, "project_revision"))
            .transpose()?;
        Ok((head, oldest))
    }

    async fn revision(&mut self) -> StoreResult<u64> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT revision FROM change_log ORDER BY revision DESC LIMIT 1",
                Vec::new(),
            )
            .await?;
        Ok(row
            .map(|r| u64_col(&r, "revision"))
            .transpose()?
            .unwrap_or(0))
    }

    async fn compacted_through(&mut self) -> StoreResult<u64> {
        let row = self
            .driver()
            .await?
            .fetch_optional(
                "SELECT revision FROM change_log_horizon WHERE id = 1",
                Vec::new(),
            )
            .await?;
        Ok(row
            .map(|r| u64_col(&r, "revision"))
            .transpose()?
            .unwrap_or(0))
    }
}
