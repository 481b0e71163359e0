//! Inventory rules: VPCs, subnets and instances. The inventory is what
//! registration by instance id resolves against.
//!
//! The operator builds it (a VPC with its CIDR); a project may also make
//! its own networks and subnets, as Neutron clients do (a network without
//! a CIDR of its own, holding subnets of either IP version), bounded by
//! `limits.networks_per_project` and `limits.subnets_per_project`, and
//! delete them while nothing uses them.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::ids::*;
use crate::model::{Instance, InstanceState, InstanceType, Subnet, Vpc};
use crate::{Error, Timestamp};

/// Longest accepted name of any resource.
pub const MAX_NAME_LEN: usize = 255;

/// Checks a free-form resource name: at most [`MAX_NAME_LEN`] characters, no
/// control characters.
pub fn validate_name(field: &str, name: &str) -> Result<(), Error> {
    if name.chars().count() > MAX_NAME_LEN {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Longest description (Octavia's limit).
pub const MAX_DESCRIPTION_LEN: usize = 255;

/// Checks a free-text description: bounded, and no control characters
/// (they would reach logs and terminals as given).
pub fn validate_description(field: &str, text: &str) -> Result<(), Error> {
    if text.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Parses a CIDR and insists on its network form (`10.0.0.0/16`, not
/// `10.0.0.1/16`), so stored CIDRs compare and display canonically.
pub fn parse_cidr(field: &str, text: &str) -> Result<IpNet, Error> {
    let net: IpNet = text
        .parse()
        .map(crate::address::canonical_net)
        .map_err(|_| {
            Error::invalid(field, format!("{text:?} is not a CIDR such as 10.0.0.0/16"))
        })?;
    if net.trunc() != net {
        return Err(Error::invalid(
            field,
            format!("{text} has host bits set; did you mean {}?", net.trunc()),
        ));
    }
    Ok(net)
}

/// Parses an IPv4 or IPv6 address in canonical form (IPv4-mapped IPv6 is
/// stored and compared as the IPv4 address it reaches).
pub fn parse_ip(field: &str, text: &str) -> Result<IpAddr, Error> {
    text.parse()
        .map(crate::address::canonical)
        .map_err(|_| Error::invalid(field, format!("{text:?} is not an IP address")))
}

/// A VPC as requested.
#[derive(Debug, Clone)]
pub struct NewVpc {
    pub name: String,
    pub cidr: String,
    pub has_border_gateway: bool,
    /// See [`Vpc::shared`].
    pub shared: bool,
}

/// Validates a new VPC.
pub fn plan_vpc(
    project_id: &ProjectId,
    req: &NewVpc,
    id: String,
    now: Timestamp,
) -> Result<Vpc, Error> {
    validate_name("name", &req.name)?;
    let cidr = parse_cidr("cidr", &req.cidr)?;
    Ok(Vpc {
        id: VpcId::new(id),
        project_id: project_id.clone(),
        name: req.name.clone(),
        cidr: Some(cidr),
        has_border_gateway: req.has_border_gateway,
        shared: req.shared,
        created_at: now,
    })
}

/// Plans a network a project makes itself (Neutron's network create): no
/// CIDR of its own, so its subnets may be of either IP version, and never
/// shared (sharing makes it usable by every project: the operator's
/// decision). `existing` counts the networks the project made already.
pub fn plan_network(
    project_id: &ProjectId,
    name: &str,
    existing: usize,
    limits: &crate::settings::Limits,
    id: String,
    now: Timestamp,
) -> Result<Vpc, Error> {
    validate_name("name", name)?;
    crate::settings::Limits::room_for_one(
        crate::error::QuotaKind::NetworksPerProject,
        existing,
        limits.networks_per_project,
    )?;
    Ok(Vpc {
        id: VpcId::new(id),
        project_id: project_id.clone(),
        name: name.to_owned(),
        cidr: None,
        has_border_gateway: false,
        shared: false,
        created_at: now,
    })
}

/// What still uses a subnet or network: a subnet in use is not deleted,
/// so no load balancer, instance or member is left naming one that is
/// gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubnetUsers {
    pub load_balancers: usize,
    pub instances: usize,
    pub backends: usize,
}

/// Refuses to delete subnet `id` (or, with `network`, a network holding
/// it) while anything uses it.
pub fn check_subnet_delete(id: &SubnetId, users: SubnetUsers) -> Result<(), Error> {
    let what = [
        (users.load_balancers, "load balancer"),
        (users.instances, "instance"),
        (users.backends, "member"),
    ];
    match what.iter().find(|(n, _)| *n > 0) {
        None => Ok(()),
        Some((n, kind)) => Err(Error::conflict(format!(
            "subnet {id} is in use by {n} {kind}{}",
            if *n == 1 { "" } else { "s" }
        ))),
    }
}

/// A subnet as requested.
#[derive(Debug, Clone)]
pub struct NewSubnet {
    pub name: String,
    pub cidr: String,
}

/// Validates a new subnet against its VPC and the VPC's other subnets: it
/// must lie inside the VPC's CIDR, if it has one, and overlap none of
/// them (subnets of the other IP version never overlap).
pub fn plan_subnet(
    vpc: &Vpc,
    siblings: &[Subnet],
    req: &NewSubnet,
    id: String,
    now: Timestamp,
) -> Result<Subnet, Error> {
    validate_name("name", &req.name)?;
    let cidr = parse_cidr("cidr", &req.cidr)?;
    if let Some(space) = vpc.cidr.filter(|space| !space.contains(&cidr)) {
        return Err(Error::invalid(
            "cidr",
            format!("{cidr} is not inside the VPC's {space}"),
        ));
    }
    if let Some(other) = siblings
        .iter()
        .find(|s| s.cidr.contains(&cidr.network()) || cidr.contains(&s.cidr.network()))
    {
        return Err(Error::conflict(format!(
            "{cidr} overlaps subnet {} ({})",
            other.id, other.cidr
        )));
    }
    Ok(Subnet {
        id: SubnetId::new(id),
        project_id: vpc.project_id.clone(),
        vpc_id: vpc.id.clone(),
        name: req.name.clone(),
        cidr,
        shared: vpc.shared,
        granted: vpc.cidr.is_some(),
        created_at: now,
    })
}

/// An instance as requested.
#[derive(Debug, Clone)]
pub struct NewInstance {
    pub name: String,
    pub instance_type: String,
    pub private_ip: String,
    pub state: Option<String>,
}

/// Parses an instance type name.
pub fn parse_instance_type(field: &str, text: &str) -> Result<InstanceType, Error> {
    text.parse().map_err(|()| {
        Error::invalid(
            field,
            format!("{text:?} is not one of {}", InstanceType::NAMES.join(", ")),
        )
    })
}

/// Parses an instance state name.
pub fn parse_instance_state(field: &str, text: &str) -> Result<InstanceState, Error> {
    text.parse().map_err(|()| {
        Error::invalid(
            field,
            format!("{text:?} is not one of {}", InstanceState::NAMES.join(", ")),
        )
    })
}

/// Validates a new instance: its IP lies in its subnet and is not taken by
/// another instance of the same VPC (`ip_holder`, loaded by the caller).
pub fn plan_instance(
    subnet: &Subnet,
    ip_holder: Option<&Instance>,
    req: &NewInstance,
    id: String,
    now: Timestamp,
) -> Result<Instance, Error> {
    validate_name("name", &req.name)?;
    let instance_type = parse_instance_type("type", &req.instance_type)?;
    let state = match &req.state {
        Some(s) => parse_instance_state("state", s)?,
        None => InstanceState::Running,
    };
    let private_ip = parse_ip("private_ip", &req.private_ip)?;
    if !subnet.cidr.contains(&private_ip) {
        return Err(Error::invalid(
            "private_ip",
            format!(
                "{private_ip} is not inside subnet {} ({})",
                subnet.id, subnet.cidr
            ),
        ));
    }
    if let Some(holder) = ip_holder {
        return Err(Error::conflict(format!(
            "{private_ip} is already the private IP of instance {}",
            holder.id
        )));
    }
    Ok(Instance {
        id: InstanceId::new(id),
        project_id: subnet.project_id.clone(),
        subnet_id: subnet.id.clone(),
        vpc_id: subnet.vpc_id.clone(),
        name: req.name.clone(),
        instance_type,
        state,
        private_ip,
        created_at: now,
    })
}

/// A change to an instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceUpdate {
    pub name: Option<String>,
    pub state: Option<String>,
}

/// Applies an update to an instance.
pub fn plan_instance_update(
    current: &Instance,
    update: &InstanceUpdate,
) -> Result<Instance, Error> {
    let mut next = current.clone();
    if let Some(name) = &update.name {
        validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(state) = &update.state {
        next.state = parse_instance_state("state", state)?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_network_holds_subnets_of_both_versions_within_its_limit() {
        let limits = crate::settings::Limits {
            networks_per_project: 2,
            ..Default::default()
        };
        let p = ProjectId::from("p");
        let net = plan_network(&p, "dual", 1, &limits, "n".into(), Timestamp(0)).unwrap();
        assert_eq!(net.cidr, None);
        assert!(!net.shared);
        let v4 = subnet(&net, "10.1.1.0/24", &[]).unwrap();
        let v6 = subnet(&net, "fd00:1::/64", std::slice::from_ref(&v4)).unwrap();
        // A claimed subnet grants no addresses; an operator VPC's does.
        assert!(!v4.granted && !v6.granted);
        assert!(subnet(&vpc(), "10.0.1.0/24", &[]).unwrap().granted);
        // Overlap within the network is refused, across versions never.
        assert!(matches!(
            subnet(&net, "10.1.0.0/16", &[v4.clone(), v6.clone()]),
            Err(Error::Conflict { .. })
        ));
        // The limit counts what the project holds.
        assert!(matches!(
            plan_network(&p, "third", 2, &limits, "n3".into(), Timestamp(0)),
            Err(Error::QuotaExceeded {
                kind: crate::error::QuotaKind::NetworksPerProject,
                ..
            })
        ));
    }

    #[test]
    fn a_subnet_in_use_is_not_deleted() {
        let id = SubnetId::from("s");
        assert!(check_subnet_delete(&id, SubnetUsers::default()).is_ok());
        for users in [
            SubnetUsers {
                load_balancers: 1,
                ..Default::default()
            },
            SubnetUsers {
                instances: 2,
                ..Default::default()
            },
            SubnetUsers {
                backends: 1,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                check_subnet_delete(&id, users),
                Err(Error::Conflict { .. })
            ));
        }
    }

    fn vpc() -> Vpc {
        plan_vpc(
            &ProjectId::from("p"),
            &NewVpc {
                name: "v".into(),
                cidr: "10.0.0.0/16".into(),
                has_border_gateway: false,
                shared: false,
            },
            "vpc-1".into(),
            Timestamp(0),
        )
        .unwrap()
    }

    fn subnet(vpc: &Vpc, cidr: &str, siblings: &[Subnet]) -> Result<Subnet, Error> {
        plan_subnet(
            vpc,
            siblings,
            &NewSubnet {
                name: "s".into(),
                cidr: cidr.into(),
            },
            "sn".into(),
            Timestamp(0),
        )
    }

    #[test]
    fn cidr_must_be_canonical() {
        assert!(matches!(
            parse_cidr("cidr", "10.0.0.1/16"),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            parse_cidr("cidr", "banana"),
            Err(Error::InvalidField { .. })
        ));
        assert_eq!(
            parse_cidr("cidr", "10.0.0.0/16").unwrap().to_string(),
            "10.0.0.0/16"
        );
    }

    #[test]
    fn subnet_inside_vpc_and_not_overlapping() {
        let vpc = vpc();
        let first = subnet(&vpc, "10.0.1.0/24", &[]).unwrap();
        assert!(matches!(
            subnet(&vpc, "10.1.0.0/24", &[]),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            subnet(&vpc, "10.0.0.0/20", std::slice::from_ref(&first)),
            Err(Error::Conflict { .. })
        ));
        assert!(subnet(&vpc, "10.0.2.0/24", &[first]).is_ok());
    }

    #[test]
    fn instance_ip_inside_subnet_and_unique() {
        let vpc = vpc();
        let sn = subnet(&vpc, "10.0.1.0/24", &[]).unwrap();
        let req = |ip: &str| NewInstance {
            name: "i".into(),
            instance_type: "vm".into(),
            private_ip: ip.into(),
            state: None,
        };
        let first = plan_instance(&sn, None, &req("10.0.1.5"), "i1".into(), Timestamp(0)).unwrap();
        assert_eq!(first.state, InstanceState::Running);
        assert!(matches!(
            plan_instance(&sn, None, &req("10.0.2.5"), "i2".into(), Timestamp(0)),
            Err(Error::InvalidField { .. })
        ));
        assert!(matches!(
            plan_instance(
                &sn,
                Some(&first),
                &req("10.0.1.5"),
                "i2".into(),
                Timestamp(0)
            ),
            Err(Error::Conflict { .. })
        ));
        let bad_type = NewInstance {
            instance_type: "vax".into(),
            ..req("10.0.1.6")
        };
        assert!(matches!(
            plan_instance(&sn, None, &bad_type, "i3".into(), Timestamp(0)),
            Err(Error::InvalidField { field, .. }) if field == "type"
        ));
    }
}
