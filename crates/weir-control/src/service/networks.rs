//! Networks and subnets a project makes and deletes itself (Neutron's
//! network and subnet calls): a network without a CIDR of its own, its
//! subnets of either IP version, and their deletion while nothing uses
//! them. The operator's VPCs stay the operator's: a project adds no subnet
//! to one and deletes none (`tenants` holds the operator's commands).

use weir_core::settings::Limits;

use super::*;

impl Control {
    /// Creates a network (a VPC without a CIDR) of the caller's project,
    /// or of `project` when the operator asks.
    pub async fn create_network(
        &self,
        principal: &Principal,
        project: Option<ProjectId>,
        name: String,
    ) -> ControlResult<Vpc> {
        let owner = match (principal, project) {
            (Principal::Admin, Some(p)) => p,
            (Principal::Admin, None) => {
                return Err(weir_core::Error::invalid(
                    "project_id",
                    "the operator names the project the network is for",
                )
                .into())
            }
            (p, Some(named)) if p.scope() != Some(&named) => {
                return Err(
                    weir_core::Error::not_found(ResourceKind::Project, named.as_str()).into(),
                )
            }
            (p, _) => p.scope().cloned().ok_or(ControlError::ReadOnly(p.role()))?,
        };
        let limits = self.settings.limits;
        command!(self.writer, principal, |tx| {
            let project = tx.project(&owner).await?;
            Principal::Admin.check(project, ResourceKind::Project, owner.as_str())?;
            let (networks, _) = tx.count_networks(&owner).await?;
            let vpc = inventory::plan_network(
                &owner,
                &name,
                networks,
                &limits,
                UuidIds.next_id(),
                now(),
            )?;
            tx.insert_vpc(&vpc).await?;
            Ok(vpc)
        })
    }

    /// Creates a subnet: the operator's in any VPC, a project's in a
    /// network it made ([`Vpc::cidr`] `None`), within
    /// `limits.subnets_per_project`.
    pub async fn create_subnet(
        &self,
        principal: &Principal,
        vpc_id: VpcId,
        req: NewSubnet,
    ) -> ControlResult<Subnet> {
        let limits = self.settings.limits;
        let operator = matches!(principal, Principal::Admin);
        let caller = principal.clone();
        command!(self.writer, principal, |tx| {
            let vpc = tx.vpc(&vpc_id).await?;
            let vpc = caller.check(vpc, ResourceKind::Vpc, vpc_id.as_str())?;
            if !operator {
                if vpc.cidr.is_some() {
                    return Err(ControlError::AdminOnly);
                }
                let (_, subnets) = tx.count_networks(&vpc.project_id).await?;
                Limits::room_for_one(
                    weir_core::error::QuotaKind::SubnetsPerProject,
                    subnets,
                    limits.subnets_per_project,
                )?;
            }
            let siblings = tx.subnets_of_vpc(&vpc_id).await?;
            let subnet = inventory::plan_subnet(&vpc, &siblings, &req, UuidIds.next_id(), now())?;
            tx.insert_subnet(&subnet).await?;
            Ok(subnet)
        })
    }

    /// Deletes a subnet nothing uses. A project deletes only the subnets
    /// of networks it made.
    pub async fn delete_subnet(&self, principal: &Principal, id: SubnetId) -> ControlResult<()> {
        let operator = matches!(principal, Principal::Admin);
        let caller = principal.clone();
        command!(self.writer, principal, |tx| {
            let subnet = tx.subnet(&id).await?;
            let subnet = caller.check(subnet, ResourceKind::Subnet, id.as_str())?;
            if !operator && subnet.granted {
                return Err(ControlError::AdminOnly);
            }
            let users = tx.subnet_users(&id).await?;
            inventory::check_subnet_delete(&id, users)?;
            tx.delete_subnet(&subnet).await?;
            Ok(())
        })
    }

    /// Deletes a network and its subnets, all or nothing: refused while
    /// any of its subnets is in use. A project deletes only networks it
    /// made.
    pub async fn delete_network(&self, principal: &Principal, id: VpcId) -> ControlResult<()> {
        let operator = matches!(principal, Principal::Admin);
        let caller = principal.clone();
        command!(self.writer, principal, |tx| {
            let vpc = tx.vpc(&id).await?;
            let vpc = caller.check(vpc, ResourceKind::Vpc, id.as_str())?;
            if !operator && vpc.cidr.is_some() {
                return Err(ControlError::AdminOnly);
            }
            let subnets = tx.subnets_of_vpc(&id).await?;
            for s in &subnets {
                let users = tx.subnet_users(&s.id).await?;
                inventory::check_subnet_delete(&s.id, users)?;
            }
            for s in &subnets {
                tx.delete_subnet(s).await?;
            }
            tx.delete_vpc(&vpc).await?;
            Ok(())
        })
    }
}
