//! A load balancer's rows: its insert (with its LB-wide pool), status,
//! update and delete (everything under it goes with it). [`StoreTx`] in
//! `writes` delegates here.

use weir_core::cluster::VipMode;

use super::writes::Scope;
use super::*;

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn insert_load_balancer_row(
        &mut self,
        lb: &LoadBalancer,
        pool: &Pool,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO load_balancers (id, project_id, name, subnet_id, vpc_id, vip, status, default_pool_id, created_at, \
             description, updated_at, tags, flavor_id, vip_mode) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            args![
                lb.id.as_str(),
                lb.project_id.as_str(),
                &lb.name,
                lb.subnet_id.as_str(),
                lb.vpc_id.as_str(),
                lb.vip.to_string(),
                lb.status.as_str(),
                lb.default_pool_id.as_str(),
                lb.created_at.millis(),
                &lb.description,
                lb.updated_at.millis(),
                tags_to_text(&lb.tags),
                lb.flavor_id.as_ref().map(FlavorId::as_str),
                lb.vip_mode.map(VipMode::as_str),
            ],
        )
        .await?;
        self.insert_pool(pool).await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "create",
            Scope::lb(&lb.id),
        )
        .await
    }

    pub(super) async fn set_load_balancer_status_row(
        &mut self,
        lb: &LoadBalancer,
        status: LbStatus,
    ) -> StoreResult<()> {
        self.exec(
            "UPDATE load_balancers SET status = $1 WHERE id = $2",
            args![status.as_str(), lb.id.as_str()],
        )
        .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "update",
            Scope::lb(&lb.id),
        )
        .await
    }

    pub(super) async fn update_load_balancer_row(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        self.exec(
            "UPDATE load_balancers SET name = $1, description = $2, status = $3, updated_at = $4, tags = $5, \
             vip_mode = $6 WHERE id = $7",
            args![
                &lb.name,
                &lb.description,
                lb.status.as_str(),
                lb.updated_at.millis(),
                tags_to_text(&lb.tags),
                lb.vip_mode.map(VipMode::as_str),
                lb.id.as_str()
            ],
        )
        .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[lb.id.as_str()],
            "update",
            Scope::lb(&lb.id),
        )
        .await
    }

    pub(super) async fn delete_load_balancer_row(&mut self, lb: &LoadBalancer) -> StoreResult<()> {
        let id = lb.id.as_str();
        self.l7_delete_where("lb_id", id).await?;
        self.exec("DELETE FROM backends WHERE lb_id = $1", args![id])
            .await?;
        // Listeners may point at the server groups about to go.
        self.exec(
            "UPDATE listeners SET group_pool_id = NULL WHERE lb_id = $1",
            args![id],
        )
        .await?;
        self.exec("DELETE FROM pools WHERE lb_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM listeners WHERE lb_id = $1", args![id])
            .await?;
        self.exec("DELETE FROM load_balancers WHERE id = $1", args![id])
            .await?;
        self.log(
            &lb.project_id,
            "load_balancer",
            &[id],
            "delete",
            Scope::lb(&lb.id),
        )
        .await
    }
}
