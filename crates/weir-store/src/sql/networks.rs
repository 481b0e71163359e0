//! Networks and subnets a project deletes (Neutron's delete calls): what
//! still uses a subnet, counted in the deleting transaction, and the
//! deletes themselves. Inserts and reads of VPCs and subnets are with the
//! rest of the inventory (`writes`, `reads`).

use weir_core::inventory::SubnetUsers;

use super::writes::Scope;
use super::*;

/// What names `subnet`: load balancers, instances and members.
pub(super) async fn subnet_users<D: Driver>(
    conn: &mut D,
    subnet: &SubnetId,
) -> StoreResult<SubnetUsers> {
    let id = subnet.as_str();
    Ok(SubnetUsers {
        load_balancers: count_where(conn, "load_balancers", "subnet_id", id).await?,
        instances: count_where(conn, "instances", "subnet_id", id).await?,
        backends: count_where(conn, "backends", "subnet_id", id).await?,
    })
}

/// How many VPCs and subnets `project` holds.
pub(super) async fn count_networks<D: Driver>(
    conn: &mut D,
    project: &ProjectId,
) -> StoreResult<(usize, usize)> {
    let p = project.as_str();
    Ok((
        count_where(conn, "vpcs", "project_id", p).await?,
        count_where(conn, "subnets", "project_id", p).await?,
    ))
}

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn subnet_delete(&mut self, s: &Subnet) -> StoreResult<()> {
        self.exec("DELETE FROM subnets WHERE id = $1", args![s.id.as_str()])
            .await?;
        self.log(
            &s.project_id,
            "subnet",
            &[s.id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn vpc_delete(&mut self, v: &Vpc) -> StoreResult<()> {
        self.exec("DELETE FROM vpcs WHERE id = $1", args![v.id.as_str()])
            .await?;
        self.log(
            &v.project_id,
            "vpc",
            &[v.id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }
}
