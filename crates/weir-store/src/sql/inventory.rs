//! Inventory rows written inside a transaction: VPCs, subnets and
//! instances. [`StoreTx`] in `writes` delegates here.

use super::writes::Scope;
use super::*;

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn insert_vpc_row(&mut self, vpc: &Vpc) -> StoreResult<()> {
        self.exec(
            "INSERT INTO vpcs (id, project_id, name, cidr, has_border_gateway, shared, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![
                vpc.id.as_str(),
                vpc.project_id.as_str(),
                &vpc.name,
                vpc.cidr.map(|c| c.to_string()).unwrap_or_default(),
                vpc.has_border_gateway,
                vpc.shared,
                vpc.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &vpc.project_id,
            "vpc",
            &[vpc.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn insert_subnet_row(&mut self, subnet: &Subnet) -> StoreResult<()> {
        self.exec(
            "INSERT INTO subnets (id, project_id, vpc_id, name, cidr, shared, granted, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![
                subnet.id.as_str(),
                subnet.project_id.as_str(),
                subnet.vpc_id.as_str(),
                &subnet.name,
                subnet.cidr.to_string(),
                subnet.shared,
                subnet.granted,
                subnet.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &subnet.project_id,
            "subnet",
            &[subnet.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn insert_instance_row(&mut self, i: &Instance) -> StoreResult<()> {
        self.exec(
            "INSERT INTO instances (id, project_id, subnet_id, vpc_id, name, instance_type, state, private_ip, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![
                i.id.as_str(),
                i.project_id.as_str(),
                i.subnet_id.as_str(),
                i.vpc_id.as_str(),
                &i.name,
                i.instance_type.as_str(),
                i.state.as_str(),
                i.private_ip.to_string(),
                i.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &i.project_id,
            "instance",
            &[i.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn update_instance_row(&mut self, i: &Instance) -> StoreResult<()> {
        self.exec(
            "UPDATE instances SET name = $1, state = $2 WHERE id = $3",
            args![&i.name, i.state.as_str(), i.id.as_str()],
        )
        .await?;
        self.log(
            &i.project_id,
            "instance",
            &[i.id.as_str()],
            "update",
            Scope::NONE,
        )
        .await
    }
}
