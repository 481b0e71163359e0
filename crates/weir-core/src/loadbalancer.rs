//! Load balancer and listener rules: VIP allocation, listener port specs,
//! port overlap between listeners, and lifecycle transitions.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::address;
use crate::certificate;
use crate::ids::*;
use crate::inventory::{validate_description, validate_name};
use crate::keymgr;
use crate::limits;
use crate::model::*;
use crate::settings::NetworkSettings;
use crate::tags;
use crate::{Error, ResourceKind, Timestamp};

/// A load balancer as requested.
#[derive(Debug, Clone, Default)]
pub struct NewLoadBalancer {
    pub name: String,
    pub vip: Option<String>,
    /// The VPC the caller expects the subnet to be in (Zenlayer `vpcId`,
    /// UCloud `VPCId`); refused when the subnet is elsewhere.
    pub vpc_id: Option<String>,
    /// Created stopped: nothing is served until it is started (Octavia
    /// `admin_state_up: false` on create).
    pub stopped: bool,
    pub description: Option<String>,
    /// Checked by [`crate::tags::validate`].
    pub tags: Vec<String>,
    /// An enabled flavor ([`crate::flavor::check_usable`], checked by the
    /// caller against the stored flavor in the same transaction).
    pub flavor_id: Option<FlavorId>,
    /// Its own VIP mode ([`crate::cluster::ClusterSettings::check_lb_vip_mode`],
    /// checked by the caller, which holds the settings); `None`: the
    /// deployment's.
    pub vip_mode: Option<crate::cluster::VipMode>,
}

/// A change to a load balancer's name, description or lifecycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadBalancerUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Start or stop, as [`plan_lb_action`].
    pub action: Option<LbAction>,
    /// Replaces the tags (empty clears them); `None` leaves them.
    pub tags: Option<Vec<String>>,
    /// `Some(None)`: back to the deployment's mode; `None` leaves it.
    /// Checked by the caller as on create.
    pub vip_mode: Option<Option<crate::cluster::VipMode>>,
}

/// Applies `update` under the rules of creation.
pub fn plan_lb_update(
    current: &LoadBalancer,
    update: &LoadBalancerUpdate,
    now: Timestamp,
) -> Result<LoadBalancer, Error> {
    let mut next = current.clone();
    if let Some(name) = &update.name {
        validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(text) = &update.description {
        validate_description("description", text)?;
        next.description = text.clone();
    }
    if let Some(action) = update.action {
        next.status = plan_lb_action(current, action)?;
    }
    tags::apply("tags", &mut next.tags, update.tags.as_deref())?;
    if let Some(mode) = update.vip_mode {
        next.vip_mode = mode;
    }
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

/// A new load balancer together with its LB-wide default pool.
#[derive(Debug, Clone)]
pub struct LoadBalancerPlan {
    pub load_balancer: LoadBalancer,
    pub default_pool: Pool,
}

/// Plans a load balancer of project `owner` in `subnet`, which must be
/// `owner`'s or shared ([`Subnet::usable_by`]; else it is not found).
/// `used_vips` are the VIPs of every existing load balancer; a requested VIP must pass
/// [`address::check_vip`] and be free, and without one the first free host
/// address of `network.vip_ranges` is taken.
pub fn plan_load_balancer(
    owner: &ProjectId,
    subnet: &Subnet,
    used_vips: &HashSet<IpAddr>,
    req: &NewLoadBalancer,
    network: &NetworkSettings,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<LoadBalancerPlan, Error> {
    if !subnet.usable_by(owner) {
        return Err(Error::not_found(ResourceKind::Subnet, subnet.id.as_str()));
    }
    validate_name("name", &req.name)?;
    let description = req.description.clone().unwrap_or_default();
    validate_description("description", &description)?;
    let tags = tags::validate("tags", &req.tags)?;
    if let Some(vpc_id) = &req.vpc_id {
        if vpc_id != subnet.vpc_id.as_str() {
            return Err(Error::SubnetNotInVpc {
                subnet_id: subnet.id.to_string(),
            });
        }
    }
    let vip = match &req.vip {
        Some(text) => {
            let vip = address::check_vip(text, network)?;
            if vip.is_ipv4() != subnet.cidr.addr().is_ipv4() {
                return Err(Error::VipNotAllowed {
                    vip: text.clone(),
                    reason: format!(
                        "subnet {} is {}, the VIP must be of its IP version",
                        subnet.id, subnet.cidr
                    ),
                });
            }
            if used_vips.contains(&vip) {
                return Err(Error::conflict(format!(
                    "VIP {vip} is already used by another load balancer"
                )));
            }
            vip
        }
        None => allocate_vip(used_vips, subnet, network)?,
    };
    let id = LoadBalancerId::new(ids.next_id());
    let pool = Pool::new(
        PoolId::new(ids.next_id()),
        (owner, &id),
        None,
        "default".to_owned(),
        now,
    );
    Ok(LoadBalancerPlan {
        load_balancer: LoadBalancer {
            id,
            project_id: owner.clone(),
            name: req.name.clone(),
            subnet_id: subnet.id.clone(),
            vpc_id: subnet.vpc_id.clone(),
            vip,
            // Until a data plane confirms its listeners, RUNNING is the truth
            // the control plane can offer.
            status: if req.stopped {
                LbStatus::Stopped
            } else {
                LbStatus::Running
            },
            default_pool_id: pool.id.clone(),
            description,
            created_at: now,
            updated_at: now,
            tags,
            flavor_id: req.flavor_id.clone(),
            vip_mode: req.vip_mode,
        },
        default_pool: pool,
    })
}

/// The first free host address of the VIP ranges of the subnet's IP
/// version, in the operator's order (a VIP of the other version would
/// not be reachable from that subnet's clients).
fn allocate_vip(
    used: &HashSet<IpAddr>,
    subnet: &Subnet,
    network: &NetworkSettings,
) -> Result<IpAddr, Error> {
    let v4 = subnet.cidr.addr().is_ipv4();
    network
        .vip_ranges
        .iter()
        .map(|r| address::canonical_net(*r))
        .filter(|r| r.addr().is_ipv4() == v4)
        // An IPv6 subnet's first address is its routers' anycast address
        // (RFC 4291), which Neutron never hands out either.
        .flat_map(|r| {
            r.hosts()
                .filter(move |ip| !(ip.is_ipv6() && *ip == r.network() && r.prefix_len() < 127))
        })
        .find(|ip| !used.contains(ip) && address::vip_refusal(*ip, network).is_none())
        .ok_or_else(|| {
            Error::conflict(format!(
                "no free IPv{} VIP left in network.vip_ranges",
                if v4 { 4 } else { 6 }
            ))
        })
}

/// Checks a port number from the wire.
pub fn parse_port(field: &str, port: u32) -> Result<u16, Error> {
    match u16::try_from(port) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(Error::invalid(
            field,
            format!("{port} is not a port in 1-65535"),
        )),
    }
}

/// Parses a wire enum, naming every accepted name when it is none of them.
pub(crate) fn parse_enum<T: std::str::FromStr<Err = ()>>(
    field: &str,
    text: &str,
    names: &[&str],
) -> Result<T, Error> {
    text.parse().map_err(|()| {
        Error::invalid(
            field,
            format!("{text:?} is not one of {}", names.join(", ")),
        )
    })
}

/// Lifecycle actions on a load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbAction {
    Start,
    Stop,
}

/// The status a load balancer moves to, or why it cannot. Starting a
/// running balancer (or stopping a stopped one) is a no-op, so retries are
/// safe.
pub fn plan_lb_action(lb: &LoadBalancer, action: LbAction) -> Result<LbStatus, Error> {
    match (lb.status, action) {
        (LbStatus::Creating, _) => Err(Error::conflict(format!(
            "load balancer {} is still being created",
            lb.id
        ))),
        (_, LbAction::Start) => Ok(LbStatus::Running),
        (_, LbAction::Stop) => Ok(LbStatus::Stopped),
    }
}

/// Whether a load balancer may be deleted: with listeners it needs an
/// explicit cascade, so one mistyped id cannot take down live traffic.
pub fn plan_lb_delete(
    lb: &LoadBalancer,
    listener_count: usize,
    cascade: bool,
) -> Result<(), Error> {
    if listener_count > 0 && !cascade {
        return Err(Error::conflict(format!(
            "load balancer {} still has {listener_count} listener(s); delete them first or pass cascade=true",
            lb.id
        )));
    }
    Ok(())
}

mod listener;
pub use listener::*;

#[cfg(test)]
mod tests;
