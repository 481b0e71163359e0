//! Projects and the inventory: VPCs, subnets, instances.

use super::*;

impl Control {
    /// Creates a project with a bearer token and an access key pair.
    pub async fn create_project(
        &self,
        principal: &Principal,
        name: String,
    ) -> ControlResult<ProjectCreated> {
        Self::admin_only(principal)?;
        inventory::validate_name("name", &name)?;
        let token = random_token("wt_");
        let secret = random_token("");
        let project = Project {
            id: ProjectId::new(UuidIds.next_id()),
            name,
            access_key_id: format!("WK{}", random_string(UPPER_ALNUM, 20)),
            created_at: now(),
        };
        let created = ProjectCreated {
            project: project.clone(),
            token: token.clone(),
            access_key_secret: secret.clone(),
        };
        self.writer
            .write(move |mut tx| async move {
                let result = tx
                    .insert_project(&project, &hash_token(&token), &secret)
                    .await;
                (tx, result.map_err(ControlError::from))
            })
            .await?;
        Ok(created)
    }

    /// The project with `id`, created under `name` on first use (admin):
    /// how projects of an operator's own Keystone become Weir projects.
    /// Its own token and access key are random and never shown: the
    /// Keystone's tokens are its credentials. A name Weir would refuse is
    /// replaced by the id.
    pub async fn ensure_project(
        &self,
        principal: &Principal,
        id: ProjectId,
        name: String,
    ) -> ControlResult<Project> {
        Self::admin_only(principal)?;
        if let Some(found) = self.reader().await?.project(&id).await? {
            return Ok(found);
        }
        let name = if inventory::validate_name("name", &name).is_ok() && !name.is_empty() {
            name
        } else {
            id.to_string()
        };
        let project = Project {
            id,
            name,
            access_key_id: format!("WK{}", random_string(UPPER_ALNUM, 20)),
            created_at: now(),
        };
        let (token, secret) = (random_token("wt_"), random_token(""));
        command!(self.writer, principal, |tx| {
            // Two first requests of one project race here; the writer runs
            // them one after the other, and the second finds the first's.
            if let Some(found) = tx.project(&project.id).await? {
                return Ok(found);
            }
            tx.insert_project(&project, &hash_token(&token), &secret)
                .await?;
            Ok(project)
        })
    }

    /// Gives a project another credential (admin): a bearer token and an
    /// access key that act with `role`. The secrets are returned once.
    pub async fn create_credential(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        role: Role,
        name: String,
    ) -> ControlResult<CredentialCreated> {
        Self::admin_only(principal)?;
        if !name.is_empty() {
            inventory::validate_name("name", &name)?;
        }
        let token = random_token("wt_");
        let secret = random_token("");
        let credential = Credential {
            access_key_id: format!("WK{}", random_string(UPPER_ALNUM, 20)),
            project_id,
            role,
            name,
            created_at: now(),
        };
        let created = CredentialCreated {
            credential: credential.clone(),
            token: token.clone(),
            access_key_secret: secret.clone(),
        };
        command!(self.writer, principal, |tx| {
            let project = tx.project(&credential.project_id).await?;
            let id = credential.project_id.as_str();
            Principal::Admin.check(project, ResourceKind::Project, id)?;
            tx.insert_credential(&credential, &hash_token(&token), &secret)
                .await?;
            Ok(())
        })?;
        Ok(created)
    }

    /// A project's extra credentials, without their secrets (admin).
    pub async fn list_credentials(
        &self,
        principal: &Principal,
        project_id: &ProjectId,
    ) -> ControlResult<Vec<Credential>> {
        Self::admin_only(principal)?;
        let mut reads = self.reader().await?;
        let project = reads.project(project_id).await?;
        Principal::Admin.check(project, ResourceKind::Project, project_id.as_str())?;
        Ok(reads.credentials(project_id).await?)
    }

    /// Revokes a credential (admin): its token and access key stop working
    /// on this node at once, on the others within the credential cache's
    /// lifetime (5 s).
    pub async fn delete_credential(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        access_key_id: String,
    ) -> ControlResult<()> {
        Self::admin_only(principal)?;
        let id = access_key_id.clone();
        command!(self.writer, principal, |tx| {
            let credential = tx
                .credentials(&project_id)
                .await?
                .into_iter()
                .find(|c| c.access_key_id == id)
                .ok_or_else(|| Error::not_found(ResourceKind::Credential, &id))?;
            tx.delete_credential(&credential).await?;
            Ok(())
        })?;
        self.key_cache.evict(&access_key_id);
        // Tokens are cached by hash, which a revocation cannot name: every
        // cached token is looked up again.
        self.token_cache.clear();
        Ok(())
    }

    /// Lists projects (admin) or the caller's own.
    pub async fn list_projects(&self, principal: &Principal) -> ControlResult<Vec<Project>> {
        let all = self.reader().await?.projects().await?;
        Ok(all.into_iter().filter(|p| principal.sees(&p.id)).collect())
    }

    // === inventory ===

    /// Creates a VPC for a project (admin).
    pub async fn create_vpc(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        req: NewVpc,
    ) -> ControlResult<Vpc> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let project = tx.project(&project_id).await?;
            Principal::Admin.check(project, ResourceKind::Project, project_id.as_str())?;
            let vpc = inventory::plan_vpc(&project_id, &req, UuidIds.next_id(), now())?;
            tx.insert_vpc(&vpc).await?;
            Ok(vpc)
        })
    }

    /// Lists VPCs the caller sees.
    pub async fn list_vpcs(&self, principal: &Principal) -> ControlResult<Vec<Vpc>> {
        Ok(self.reader().await?.vpcs(principal.scope()).await?)
    }

    /// Lists subnets the caller sees.
    pub async fn list_subnets(&self, principal: &Principal) -> ControlResult<Vec<Subnet>> {
        Ok(self.reader().await?.subnets(principal.scope()).await?)
    }

    /// Creates an instance in a subnet (admin); `project_id` must own the
    /// subnet.
    pub async fn create_instance(
        &self,
        principal: &Principal,
        project_id: ProjectId,
        subnet_id: SubnetId,
        req: NewInstance,
    ) -> ControlResult<Instance> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let owner = Principal::Project(project_id);
            let subnet = tx.subnet(&subnet_id).await?;
            let subnet = owner.check(subnet, ResourceKind::Subnet, subnet_id.as_str())?;
            let ip = inventory::parse_ip("private_ip", &req.private_ip)?;
            let holder = tx.instance_by_ip(&subnet.vpc_id, ip).await?;
            let instance =
                inventory::plan_instance(&subnet, holder.as_ref(), &req, UuidIds.next_id(), now())?;
            tx.insert_instance(&instance).await?;
            Ok(instance)
        })
    }

    /// Changes an instance's name or state (admin).
    pub async fn update_instance(
        &self,
        principal: &Principal,
        id: InstanceId,
        update: InstanceUpdate,
    ) -> ControlResult<Instance> {
        Self::admin_only(principal)?;
        command!(self.writer, principal, |tx| {
            let current = tx.instance(&id).await?;
            let current = Principal::Admin.check(current, ResourceKind::Instance, id.as_str())?;
            let next = inventory::plan_instance_update(&current, &update)?;
            tx.update_instance(&next).await?;
            Ok(next)
        })
    }

    /// Lists instances the caller sees.
    pub async fn list_instances(&self, principal: &Principal) -> ControlResult<Vec<Instance>> {
        Ok(self.reader().await?.instances(principal.scope()).await?)
    }

    /// Shows one instance.
    pub async fn get_instance(
        &self,
        principal: &Principal,
        id: &InstanceId,
    ) -> ControlResult<Instance> {
        let found = self.reader().await?.instance(id).await?;
        Ok(principal.check(found, ResourceKind::Instance, id.as_str())?)
    }
}
