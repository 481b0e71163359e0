//! Neutron: networks (VPCs) and subnets, read by clients resolving names
//! and ids, and made and deleted by projects ([`writes`]), and the VIP
//! ports Octavia would have made.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::lbaas::{self, Ctx, LbaasError};
use crate::Dialects;

mod writes;

use writes::NeutronError;
pub(super) use writes::{create_network, create_subnet, delete_network, delete_subnet};

/// Weir's subnets have no gateway, DHCP, pools, DNS or routes (a subnet
/// body naming them is refused): shown empty, as Neutron shows unset ones.
fn subnet_view(s: &weir_core::model::Subnet) -> Value {
    json!({
        "id": s.id.as_str(),
        "name": s.name,
        "network_id": s.vpc_id.as_str(),
        "cidr": s.cidr.to_string(),
        "ip_version": if s.cidr.addr().is_ipv4() { 4 } else { 6 },
        "project_id": s.project_id.as_str(),
        "tenant_id": s.project_id.as_str(),
        "enable_dhcp": false,
        "gateway_ip": null,
        "allocation_pools": [],
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_address_mode": null,
        "ipv6_ra_mode": null,
        "subnetpool_id": null,
        "description": "",
        "shared": s.shared,
        "created_at": s.created_at.to_string(),
        "tags": [],
    })
}

fn network_view(v: &weir_core::model::Vpc, subnets: &[weir_core::model::Subnet]) -> Value {
    json!({
        "id": v.id.as_str(),
        "name": v.name,
        "status": "ACTIVE",
        "admin_state_up": true,
        "description": "",
        "subnets": subnets.iter().filter(|s| s.vpc_id == v.id).map(|s| s.id.as_str()).collect::<Vec<_>>(),
        "project_id": v.project_id.as_str(),
        "tenant_id": v.project_id.as_str(),
        "shared": v.shared,
        "created_at": v.created_at.to_string(),
        "tags": [],
    })
}

/// A load balancer's VIP as the Neutron port Octavia would have made for
/// it; its id is the load balancer's (`vip_port_id`).
fn port_view(lb: &weir_core::model::LoadBalancer) -> Value {
    json!({
        "id": lb.id.as_str(),
        "name": format!("octavia-lb-{}", lb.id),
        "network_id": lb.vpc_id.as_str(),
        "fixed_ips": [{"subnet_id": lb.subnet_id.as_str(), "ip_address": lb.vip.to_string()}],
        "device_id": format!("lb-{}", lb.id),
        "device_owner": "Octavia",
        "admin_state_up": true,
        "status": "ACTIVE",
        "project_id": lb.project_id.as_str(),
        "tenant_id": lb.project_id.as_str(),
        "created_at": lb.created_at.to_string(),
        "tags": [],
    })
}

pub(super) async fn list_ports(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    lbaas::Here(here): lbaas::Here,
) -> Result<Json<Value>, LbaasError> {
    let items = d
        .control
        .list_load_balancers(&ctx.principal)
        .await
        .map_err(LbaasError::from_control)?
        .iter()
        .map(port_view)
        .collect();
    Ok(Json(lbaas::listing::list(items, &q, "ports", &here)?))
}

pub(super) async fn show_port(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, LbaasError> {
    let gone = || LbaasError::not_found(format!("Port {id} could not be found."));
    let lb = d
        .control
        .get_load_balancer(
            &ctx.principal,
            &weir_core::ids::LoadBalancerId::new(id.as_str()),
        )
        .await
        .map_err(|_| gone())?;
    Ok(Json(json!({"port": port_view(&lb)})))
}

async fn neutron_subnets(
    d: &Dialects,
    ctx: &Ctx,
) -> Result<Vec<weir_core::model::Subnet>, LbaasError> {
    d.control
        .list_subnets(&ctx.principal)
        .await
        .map_err(LbaasError::from_control)
}

/// The caller's VPCs (Neutron networks) with every subnet.
async fn neutron_networks(
    d: &Dialects,
    ctx: &Ctx,
) -> Result<(Vec<weir_core::model::Vpc>, Vec<weir_core::model::Subnet>), LbaasError> {
    let vpcs = d
        .control
        .list_vpcs(&ctx.principal)
        .await
        .map_err(LbaasError::from_control)?;
    Ok((vpcs, neutron_subnets(d, ctx).await?))
}

pub(super) async fn list_subnets(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    lbaas::Here(here): lbaas::Here,
) -> Result<Json<Value>, LbaasError> {
    let items = neutron_subnets(&d, &ctx)
        .await?
        .iter()
        .map(subnet_view)
        .collect();
    Ok(Json(lbaas::listing::list(items, &q, "subnets", &here)?))
}

pub(super) async fn show_subnet(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Response> {
    neutron_subnets(&d, &ctx)
        .await
        .map_err(IntoResponse::into_response)?
        .iter()
        .find(|s| s.id.as_str() == id)
        .map(|s| Json(json!({"subnet": subnet_view(s)})))
        .ok_or_else(|| NeutronError::subnet_not_found(&id).into_response())
}

pub(super) async fn list_networks(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    lbaas::Here(here): lbaas::Here,
) -> Result<Json<Value>, LbaasError> {
    let (vpcs, subnets) = neutron_networks(&d, &ctx).await?;
    let items = vpcs.iter().map(|v| network_view(v, &subnets)).collect();
    Ok(Json(lbaas::listing::list(items, &q, "networks", &here)?))
}

pub(super) async fn show_network(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Response> {
    let (vpcs, subnets) = neutron_networks(&d, &ctx)
        .await
        .map_err(IntoResponse::into_response)?;
    vpcs.iter()
        .find(|v| v.id.as_str() == id)
        .map(|v| Json(json!({"network": network_view(v, &subnets)})))
        .ok_or_else(|| NeutronError::network_not_found(&id).into_response())
}
