//! Backend registration: the union of the five pages' rules, planned whole
//! before anything is written.
//!
//! The caller loads a [`RegisterSnapshot`] (what [`snapshot_keys`] says the
//! request touches), and [`plan_register`] either rejects the whole request
//! or returns every backend to insert. Where the clouds disagree, the
//! dialect picks a [`RegisterPolicy`]; each policy is implemented once here.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub use crate::address::METADATA_ADDRESS;
use crate::address::{canonical, in_ranges, spelling};
use crate::error::QuotaKind;
use crate::ids::*;
use crate::inventory::{parse_ip, validate_name};
use crate::loadbalancer::parse_port;
use crate::model::*;
use crate::settings::Settings;
use crate::{Error, ResourceKind, Timestamp};

/// Most ports one backend may list (Zenlayer BMC `portList`).
pub const MAX_PORTS_PER_BACKEND: usize = 64;

/// What happens when one request names the same backend twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicatePolicy {
    /// The whole request is refused (Zenlayer ZLB, native default).
    Reject,
    /// The first occurrence is registered, later ones are ignored and
    /// reported (Aliyun AddBackendServers).
    FirstWins,
}

/// How backend names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Optional, at most 255 characters, no control characters.
    Free,
    /// Zenlayer BMC `backendName`: required, 1-64 of letters, digits, `-`, `.`.
    LettersDigitsDashDot,
}

/// The per-dialect choices where the five pages disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterPolicy {
    pub duplicates: DuplicatePolicy,
    /// Inclusive weight range; the core's widest is 0-65535.
    pub weight_range: (u16, u16),
    pub default_weight: u16,
    /// A dialect's own per-request cap (Aliyun: 20); the operator's
    /// `limits.backends_per_request` applies as well.
    pub max_per_request: Option<usize>,
    /// One instance at most once per listener (Zenlayer).
    pub unique_instance_per_listener: bool,
    /// A backend given by address must be some instance's private IP
    /// (Zenlayer ZLB INVALID_BACKEND_IP_ADDRESS).
    pub address_requires_instance: bool,
    /// Bare metal may be named only by its private IP (Zenlayer ZLB).
    pub bare_metal_by_address_only: bool,
    /// A bare-metal backend needs a border gateway on the VPC (Zenlayer ZLB).
    pub bare_metal_needs_border_gateway: bool,
    pub name_rule: NameRule,
    /// A backend's address must lie inside the subnet it names (Huawei,
    /// UCloud); Octavia only asks that the subnet can route to it.
    pub address_within_subnet: bool,
    /// Backends must be registered enabled (Huawei: `admin_state_up`
    /// must be true).
    pub enabled_only: bool,
}

impl RegisterPolicy {
    /// The native API's policy: the widest ranges, duplicates rejected.
    pub fn native() -> Self {
        Self {
            duplicates: DuplicatePolicy::Reject,
            weight_range: (0, u16::MAX),
            default_weight: 100,
            max_per_request: None,
            unique_instance_per_listener: true,
            address_requires_instance: false,
            bare_metal_by_address_only: false,
            bare_metal_needs_border_gateway: true,
            name_rule: NameRule::Free,
            address_within_subnet: true,
            enabled_only: false,
        }
    }
}

/// One backend as a caller asked for it. Numbers stay wide here so that an
/// out-of-range value gets a range error naming its field, not a type error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BackendSpec {
    pub instance_id: Option<String>,
    pub address: Option<String>,
    pub subnet_id: Option<String>,
    pub port: Option<i64>,
    pub ports: Option<Vec<i64>>,
    pub weight: Option<i64>,
    pub enabled: Option<bool>,
    pub backup: Option<bool>,
    pub name: Option<String>,
    /// The named instance must be of this type (Zenlayer BMC
    /// `instanceType`, UCloud `ResourceType` UHost/UPM).
    pub instance_type: Option<InstanceType>,
    /// The VPC the caller places the address in (UCloud `VPCId`); it must
    /// be the load balancer's.
    pub vpc_id: Option<String>,
    /// This kind of backend can only be reached through a full proxy, not
    /// by packet forwarding (UCloud UHybrid, CUBE and IP backends).
    pub proxy_only: bool,
    /// Where health checks go instead of the backend (Octavia member
    /// `monitor_address`, `monitor_port`); see [`check_monitor_address`].
    pub monitor_address: Option<String>,
    pub monitor_port: Option<i64>,
    /// Checked by [`crate::tags::validate`]; `None` has none (and, in a
    /// declarative batch, leaves an existing backend's as they are).
    pub tags: Option<Vec<String>>,
}

/// The state a registration is planned against, loaded by the caller.
#[derive(Debug, Clone)]
pub struct RegisterSnapshot {
    pub load_balancer: LoadBalancer,
    pub vpc: Vpc,
    /// The listener whose default pool is the target; `None` for the
    /// LB-wide pool.
    pub listener: Option<Listener>,
    pub pool: Pool,
    pub pool_backend_count: usize,
    /// Existing backends of the pool that share an address or an instance
    /// with the request (enough for every uniqueness rule: a listener has
    /// exactly one pool).
    pub overlapping: Vec<Backend>,
    /// Instances of any project named by id or address in the request; the
    /// planner enforces ownership.
    pub instances: Vec<Instance>,
    /// Subnets named by the request.
    pub subnets: Vec<Subnet>,
    /// The VIPs, of any load balancer of any project, among the addresses
    /// the request names or resolves to: a VIP is never a backend (a load
    /// balancer pointing at another, or at itself, is a loop).
    pub vips: HashSet<IpAddr>,
}

/// What a caller must load for a request: the instances and subnets it
/// names and the addresses it mentions. Unparseable addresses are skipped
/// here; the planner reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotKeys {
    pub instance_ids: Vec<String>,
    pub addresses: Vec<IpAddr>,
    pub subnet_ids: Vec<String>,
}

/// Lists what [`plan_register`] will look up for `specs`.
pub fn snapshot_keys(specs: &[BackendSpec]) -> SnapshotKeys {
    let mut keys = SnapshotKeys::default();
    for spec in specs {
        keys.instance_ids.extend(spec.instance_id.iter().cloned());
        // A monitor address is checked against the VIPs as well.
        for text in [&spec.address, &spec.monitor_address].into_iter().flatten() {
            keys.addresses
                .extend(text.parse::<IpAddr>().ok().map(canonical));
        }
        keys.subnet_ids.extend(spec.subnet_id.iter().cloned());
    }
    for list in [&mut keys.instance_ids, &mut keys.subnet_ids] {
        list.sort();
        list.dedup();
    }
    keys.addresses.sort();
    keys.addresses.dedup();
    keys
}

/// A request item skipped under [`DuplicatePolicy::FirstWins`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredBackend {
    /// Position in the request.
    pub index: usize,
    /// Why it was skipped (a duplicate-in-request error).
    pub reason: Error,
}

/// The outcome of planning: backends to insert, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterPlan {
    pub backends: Vec<Backend>,
    pub ignored: Vec<IgnoredBackend>,
}

/// Plans a registration. Either every named backend is valid and the plan
/// lists them all, or the first violation is returned and nothing is to be
/// written.
pub fn plan_register(
    snap: &RegisterSnapshot,
    specs: &[BackendSpec],
    policy: &RegisterPolicy,
    settings: &Settings,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<RegisterPlan, Error> {
    let lb = &snap.load_balancer;
    if lb.status != LbStatus::Running {
        return Err(Error::LoadBalancerNotRunning {
            id: lb.id.to_string(),
            status: lb.status.to_string(),
        });
    }
    if let Some(l) = snap.listener.as_ref().filter(|l| !l.protocol.forwards()) {
        return Err(Error::invalid(
            "backends",
            format!(
                "listener {} is a {} listener and has no backends",
                l.id, l.protocol
            ),
        ));
    }
    if specs.is_empty() {
        return Err(Error::invalid("backends", "must name at least one backend"));
    }
    let per_request = policy
        .max_per_request
        .map_or(settings.limits.backends_per_request, |cap| {
            cap.min(settings.limits.backends_per_request)
        });
    if specs.len() > per_request {
        return Err(Error::QuotaExceeded {
            kind: QuotaKind::BackendsPerRequest,
            limit: per_request,
            requested: specs.len(),
        });
    }

    let existing_by_key: HashMap<(IpAddr, u16), &Backend> = snap
        .overlapping
        .iter()
        .filter(|b| b.pool_id == snap.pool.id)
        .map(|b| ((b.address, b.ports.key()), b))
        .collect();
    let existing_instances: HashSet<&InstanceId> = snap
        .overlapping
        .iter()
        .filter(|b| b.pool_id == snap.pool.id)
        .filter_map(|b| b.instance_id.as_ref())
        .collect();

    let mut seen_keys: HashSet<(IpAddr, u16)> = HashSet::new();
    let mut seen_instances: HashSet<InstanceId> = HashSet::new();
    let mut plan = RegisterPlan {
        backends: Vec::with_capacity(specs.len()),
        ignored: Vec::new(),
    };

    for (index, spec) in specs.iter().enumerate() {
        let field = |name: &str| format!("backends[{index}].{name}");
        let (address, instance) = resolve_target(snap, spec, policy, settings, index)?;
        check_kind(snap, spec, instance, index)?;

        // Duplicates inside the request are decided on identity alone, so a
        // first-wins duplicate is ignored before its other fields are judged.
        // Named by id twice is a duplicate instance; named by address twice
        // is a duplicate address (Zenlayer tells the two apart).
        let named_by_id = spec.instance_id.is_some();
        if let Some(inst) = instance.filter(|_| policy.unique_instance_per_listener && named_by_id)
        {
            if !seen_instances.insert(inst.id.clone()) {
                let reason = Error::DuplicateInstanceInRequest {
                    instance_id: inst.id.to_string(),
                };
                match policy.duplicates {
                    DuplicatePolicy::Reject => return Err(reason),
                    DuplicatePolicy::FirstWins => {
                        plan.ignored.push(IgnoredBackend { index, reason });
                        continue;
                    }
                }
            }
        }
        let ports = resolve_ports(snap.listener.as_ref(), spec, index)?;
        let key = (address, ports.key());
        if !seen_keys.insert(key) {
            let reason = Error::DuplicateAddressInRequest {
                address,
                port: key.1,
            };
            match policy.duplicates {
                DuplicatePolicy::Reject => return Err(reason),
                DuplicatePolicy::FirstWins => {
                    plan.ignored.push(IgnoredBackend { index, reason });
                    continue;
                }
            }
        }

        check_address(snap, spec, address, instance, policy, settings)?;
        if let Some(existing) = existing_by_key.get(&key) {
            return Err(Error::BackendExists {
                address,
                port: key.1,
                existing_id: existing.id.to_string(),
            });
        }
        if let Some(inst) = instance {
            if policy.unique_instance_per_listener && existing_instances.contains(&inst.id) {
                return Err(Error::InstanceAlreadyRegistered {
                    instance_id: inst.id.to_string(),
                });
            }
        }

        let (min, max) = policy.weight_range;
        let weight = match spec.weight {
            None => policy.default_weight,
            Some(w) => u16::try_from(w)
                .ok()
                .filter(|w| (min..=max).contains(w))
                .ok_or_else(|| {
                    Error::invalid(field("weight"), format!("{w} is not in {min}-{max}"))
                })?,
        };
        let name = check_name(&field("name"), spec.name.as_deref(), policy.name_rule)?;
        if policy.enabled_only && spec.enabled == Some(false) {
            return Err(Error::invalid(
                field("enabled"),
                "a backend must be registered enabled",
            ));
        }

        let monitor_address = spec
            .monitor_address
            .as_deref()
            .map(|text| {
                check_monitor_address(
                    snap,
                    spec.subnet_id.as_deref(),
                    &field("monitor_address"),
                    text,
                    settings,
                )
            })
            .transpose()?;
        let monitor_port = spec
            .monitor_port
            .map(|p| parse_monitor_port(&field("monitor_port"), p))
            .transpose()?;
        // The caller's spellings, kept only where they are literals of the
        // very addresses the rules above were applied to.
        let address_text = spec.address.as_deref().and_then(|t| spelling(t, address));
        let monitor_address_text = spec
            .monitor_address
            .as_deref()
            .zip(monitor_address)
            .and_then(|(t, a)| spelling(t, a));
        let tags = crate::tags::validate(&field("tags"), spec.tags.as_deref().unwrap_or_default())?;
        plan.backends.push(Backend {
            id: BackendId::new(ids.next_id()),
            project_id: lb.project_id.clone(),
            pool_id: snap.pool.id.clone(),
            lb_id: lb.id.clone(),
            listener_id: snap.listener.as_ref().map(|l| l.id.clone()),
            instance_id: instance.map(|i| i.id.clone()),
            subnet_id: spec.subnet_id.as_deref().map(SubnetId::new),
            address,
            address_text,
            ports,
            weight,
            enabled: spec.enabled.unwrap_or(true),
            backup: spec.backup.unwrap_or(false),
            name,
            monitor_address,
            monitor_address_text,
            monitor_port,
            created_at: now,
            updated_at: now,
            tags,
        });
    }

    let total = snap.pool_backend_count + plan.backends.len();
    if total > settings.limits.backends_per_pool {
        return Err(Error::QuotaExceeded {
            kind: QuotaKind::BackendsPerPool,
            limit: settings.limits.backends_per_pool,
            requested: total,
        });
    }
    Ok(plan)
}

/// Works out the backend's address and, when there is one, its instance.
fn resolve_target<'a>(
    snap: &'a RegisterSnapshot,
    spec: &BackendSpec,
    policy: &RegisterPolicy,
    settings: &Settings,
    index: usize,
) -> Result<(IpAddr, Option<&'a Instance>), Error> {
    let lb = &snap.load_balancer;
    let field = |name: &str| format!("backends[{index}].{name}");
    let given = spec
        .address
        .as_deref()
        .map(|a| parse_ip(&field("address"), a))
        .transpose()?;
    match (&spec.instance_id, given) {
        (Some(instance_id), given) => {
            // Another project's instance is "not found", never "forbidden":
            // ids must not leak across tenants.
            let inst = snap
                .instances
                .iter()
                .find(|i| i.id.as_str() == instance_id && i.project_id == lb.project_id)
                .ok_or_else(|| Error::not_found(ResourceKind::Instance, instance_id))?;
            if inst.instance_type == InstanceType::Bm && policy.bare_metal_by_address_only {
                return Err(Error::BareMetalByAddressOnly {
                    instance_id: instance_id.clone(),
                });
            }
            if inst.state != InstanceState::Running {
                return Err(Error::InstanceNotRunning {
                    instance_id: instance_id.clone(),
                });
            }
            if inst.instance_type == InstanceType::Vm && inst.vpc_id != lb.vpc_id {
                return Err(Error::InstanceNotInVpc {
                    instance_id: instance_id.clone(),
                });
            }
            if let Some(given) = given.filter(|g| *g != inst.private_ip) {
                return Err(Error::InstanceAddressMismatch {
                    instance_id: instance_id.clone(),
                    given,
                    actual: inst.private_ip,
                });
            }
            Ok((inst.private_ip, Some(inst)))
        }
        (None, Some(address)) => {
            // A VM must be in the LB's VPC; bare metal reaches it through
            // the border gateway, so it may live elsewhere in the project.
            let inst = snap.instances.iter().find(|i| {
                i.private_ip == address
                    && i.project_id == lb.project_id
                    && (i.vpc_id == lb.vpc_id || i.instance_type == InstanceType::Bm)
            });
            if inst.is_none() && policy.address_requires_instance {
                // An address that could never be a backend says so, rather
                // than "no instance has it".
                check_address_range(snap, address, settings)?;
                return Err(Error::AddressNotInstance { address });
            }
            Ok((address, inst))
        }
        (None, None) => Err(Error::invalid(
            format!("backends[{index}]"),
            "give an instance_id or an address",
        )),
    }
}

/// What the caller said about the kind of backend: its instance type, its
/// VPC, whether packet forwarding can reach it.
fn check_kind(
    snap: &RegisterSnapshot,
    spec: &BackendSpec,
    instance: Option<&Instance>,
    index: usize,
) -> Result<(), Error> {
    if let (Some(expected), Some(inst)) = (spec.instance_type, instance) {
        if inst.instance_type != expected {
            return Err(Error::InstanceTypeMismatch {
                instance_id: inst.id.to_string(),
                expected: expected.to_string(),
                actual: inst.instance_type.to_string(),
            });
        }
    }
    if let Some(vpc_id) = &spec.vpc_id {
        if vpc_id != snap.load_balancer.vpc_id.as_str() {
            return Err(Error::invalid(
                format!("backends[{index}].vpc_id"),
                format!("{vpc_id} is not the load balancer's VPC"),
            ));
        }
    }
    let mode = snap.listener.as_ref().map(|l| l.forwarding_mode);
    if spec.proxy_only && mode.is_some_and(|m| m != ForwardingMode::Proxy) {
        return Err(Error::invalid(
            format!("backends[{index}]"),
            "this kind of backend cannot be reached by packet forwarding (DR/NAT listener)",
        ));
    }
    Ok(())
}

/// A backend's own health-check address: held to the rules of a backend
/// address without an instance behind it (not reserved, in the backend
/// ranges, inside the caller's own networks), or a tenant could point
/// Weir's checks at anyone's host and read the answers off its status.
/// `subnet_id` is the backend's, which widens "own networks" as for the
/// backend itself. `snap.vips` must hold the VIPs among the address.
pub fn check_monitor_address(
    snap: &RegisterSnapshot,
    subnet_id: Option<&str>,
    field: &str,
    text: &str,
    settings: &Settings,
) -> Result<IpAddr, Error> {
    let address = text
        .parse::<IpAddr>()
        .map(canonical)
        .map_err(|_| Error::invalid(field, format!("{text:?} is not an IP address")))?;
    check_address_range(snap, address, settings)?;
    let spec = BackendSpec {
        subnet_id: subnet_id.map(str::to_owned),
        ..BackendSpec::default()
    };
    check_own_network(snap, &spec, address, settings)?;
    Ok(address)
}

/// A backend's own health-check port.
pub fn parse_monitor_port(field: &str, port: i64) -> Result<u16, Error> {
    u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::invalid(field, format!("{port} is not a port in 1-65535")))
}

/// The address is neither reserved (the metadata service, any VIP) nor
/// outside the backend ranges. Addresses reach here canonical.
fn check_address_range(
    snap: &RegisterSnapshot,
    address: IpAddr,
    settings: &Settings,
) -> Result<(), Error> {
    let lb = &snap.load_balancer;
    if address == METADATA_ADDRESS {
        return Err(Error::AddressReserved {
            address,
            reason: "it is the metadata service address".to_owned(),
        });
    }
    if address == canonical(lb.vip) {
        return Err(Error::AddressReserved {
            address,
            reason: "it is the load balancer's own VIP".to_owned(),
        });
    }
    if snap.vips.iter().any(|v| canonical(*v) == address) {
        return Err(Error::AddressReserved {
            address,
            reason: "it is a load balancer's VIP (a load balancer cannot forward to one)"
                .to_owned(),
        });
    }
    let ranges = &settings.network.backend_ranges;
    if !in_ranges(ranges, address) {
        return Err(Error::AddressNotPrivate {
            address,
            allowed: ranges
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

/// Address rules that hold however the address was found.
fn check_address(
    snap: &RegisterSnapshot,
    spec: &BackendSpec,
    address: IpAddr,
    instance: Option<&Instance>,
    policy: &RegisterPolicy,
    settings: &Settings,
) -> Result<(), Error> {
    check_address_range(snap, address, settings)?;
    let lb = &snap.load_balancer;
    if let Some(inst) = instance {
        if inst.instance_type == InstanceType::Bm
            && policy.bare_metal_needs_border_gateway
            && !snap.vpc.has_border_gateway
        {
            return Err(Error::BorderGatewayRequired { address });
        }
    }
    if let Some(subnet_id) = &spec.subnet_id {
        let subnet = snap
            .subnets
            .iter()
            .find(|s| s.id.as_str() == subnet_id && s.usable_by(&lb.project_id))
            .ok_or_else(|| Error::not_found(ResourceKind::Subnet, subnet_id))?;
        if subnet.vpc_id != lb.vpc_id {
            return Err(Error::SubnetNotInVpc {
                subnet_id: subnet_id.clone(),
            });
        }
        if policy.address_within_subnet && !subnet.cidr.contains(&address) {
            return Err(Error::AddressNotInSubnet {
                address,
                subnet_id: subnet_id.clone(),
            });
        }
    }
    if instance.is_none() {
        check_own_network(snap, spec, address, settings)?;
    }
    Ok(())
}

/// A bare address (no instance of the caller behind it) must lie in the
/// caller's own network: the load balancer's VPC, the subnet the request
/// names (already checked to be the caller's, and granted: see
/// [`Subnet::granted`]), or a range the operator
/// grants outside VPCs. Address spaces of projects overlap, so this asks
/// "is it inside my networks", never "is it someone else's instance":
/// otherwise project A could publish project B's private service on A's
/// VIP.
fn check_own_network(
    snap: &RegisterSnapshot,
    spec: &BackendSpec,
    address: IpAddr,
    settings: &Settings,
) -> Result<(), Error> {
    let lb = &snap.load_balancer;
    let in_vpc = in_ranges(snap.vpc.cidr.as_slice(), address);
    let in_named_subnet = spec.subnet_id.as_ref().is_some_and(|id| {
        snap.subnets.iter().any(|s| {
            s.id.as_str() == id
                && s.usable_by(&lb.project_id)
                && s.granted
                && in_ranges(std::slice::from_ref(&s.cidr), address)
        })
    });
    let granted = in_ranges(&settings.network.external_backend_ranges, address);
    if in_vpc || in_named_subnet || granted {
        Ok(())
    } else {
        Err(Error::AddressNotInNetwork { address })
    }
}

/// The port(s) of a backend: forbidden on DR, all-ports and multi-port
/// listeners; otherwise the given port or list, defaulting to the
/// listener's port.
fn resolve_ports(
    listener: Option<&Listener>,
    spec: &BackendSpec,
    index: usize,
) -> Result<BackendPorts, Error> {
    let field = |name: &str| format!("backends[{index}].{name}");
    let wide_port = |name: String, p: i64| {
        u32::try_from(p)
            .map_err(|_| Error::invalid(name.clone(), format!("{p} is not a port in 1-65535")))
            .and_then(|p| parse_port(&name, p))
    };
    if spec.port.is_some() && spec.ports.is_some() {
        return Err(Error::invalid(
            field("port"),
            "give port or ports, not both",
        ));
    }
    if spec.port.is_some() || spec.ports.is_some() {
        if let Some(reason) = listener.and_then(Listener::port_forbidden_reason) {
            return Err(Error::PortNotAllowed {
                reason: reason.to_owned(),
            });
        }
    }
    if let Some(p) = spec.port {
        return Ok(BackendPorts::One(wide_port(field("port"), p)?));
    }
    if let Some(list) = &spec.ports {
        if list.is_empty() || list.len() > MAX_PORTS_PER_BACKEND {
            return Err(Error::invalid(
                field("ports"),
                format!("must list 1 to {MAX_PORTS_PER_BACKEND} ports"),
            ));
        }
        let mut ports = list
            .iter()
            .enumerate()
            .map(|(i, p)| wide_port(format!("backends[{index}].ports[{i}]"), *p))
            .collect::<Result<Vec<u16>, Error>>()?;
        ports.sort_unstable();
        if ports.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::invalid(field("ports"), "lists a port twice"));
        }
        return Ok(BackendPorts::List(ports));
    }
    let forbidden = listener.is_some_and(|l| l.port_forbidden_reason().is_some());
    Ok(match listener.and_then(Listener::single_port) {
        Some(p) if !forbidden => BackendPorts::One(p),
        _ => BackendPorts::Inherit,
    })
}

/// Checks a backend name under `rule`; an absent name is empty.
pub fn check_name(field: &str, name: Option<&str>, rule: NameRule) -> Result<String, Error> {
    match rule {
        NameRule::Free => {
            let name = name.unwrap_or_default();
            validate_name(field, name)?;
            Ok(name.to_owned())
        }
        NameRule::LettersDigitsDashDot => {
            let name = name.ok_or_else(|| Error::invalid(field, "is required"))?;
            let ok_chars = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if name.is_empty() || name.len() > 64 || !ok_chars {
                return Err(Error::invalid(
                    field,
                    "must be 1-64 characters of letters, digits, '-' and '.'",
                ));
            }
            Ok(name.to_owned())
        }
    }
}

#[cfg(test)]
mod spelling_tests;
#[cfg(test)]
mod tests;
