//! Neutron's network and subnet create and delete, for the clients that
//! make their own networks (octavia-tempest-plugin, Kubernetes' cloud
//! provider, Terraform): a network without a CIDR, subnets of either IP
//! version in it, deleted while nothing uses them. Errors are Neutron's
//! (`{"NeutronError": {type, message, detail}}`). Every body field Neutron
//! takes is either honoured or refused by name: Weir's networks have no
//! DHCP, gateway, allocation pools, DNS or routes.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::ControlError;
use weir_core::ids::{ProjectId, SubnetId, VpcId};
use weir_core::inventory::NewSubnet;
use weir_core::{Error, ResourceKind};

use super::{network_view, subnet_view};
use crate::lbaas::Ctx;
use crate::Dialects;

/// Largest body taken (a network or subnet body is a few hundred bytes).
const BODY_LIMIT: usize = 64 * 1024;

/// Neutron's error: its status, exception name and message.
#[derive(Debug)]
pub(crate) struct NeutronError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl NeutronError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }

    pub(crate) fn network_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NetworkNotFound",
            format!("Network {id} could not be found."),
        )
    }

    pub(crate) fn subnet_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SubnetNotFound",
            format!("Subnet {id} could not be found."),
        )
    }

    /// A refusal of the control layer in Neutron's terms. `what` is the
    /// resource the call names, for its not-found; a delete's only
    /// conflict is a subnet in use, a create's an overlapping subnet.
    fn from_control(e: ControlError, what: ResourceKind, id: &str, deleting: bool) -> Self {
        use StatusCode as S;
        let domain = match e {
            ControlError::Domain(d) => d,
            ControlError::AdminOnly => {
                return Self::new(
                    S::FORBIDDEN,
                    "PolicyNotAuthorized",
                    "The operator's networks and subnets are changed only by the operator.",
                )
            }
            ControlError::ReadOnly(role) => {
                return Self::new(
                    S::FORBIDDEN,
                    "PolicyNotAuthorized",
                    format!("Policy does not allow this request to be performed (role {role} may only read)."),
                )
            }
            ControlError::Store(_) => {
                tracing::error!(error = %e, "neutron: control failure");
                return Self::new(S::INTERNAL_SERVER_ERROR, "HTTPInternalServerError", e.client_message());
            }
            ControlError::Unavailable
            | ControlError::StoreUnavailable(_)
            | ControlError::CommitOutcomeUnknown(_) => {
                return Self::new(S::SERVICE_UNAVAILABLE, "ServiceUnavailable", e.client_message())
            }
        };
        match &domain {
            Error::NotFound { kind, id: missing } => match (kind, what) {
                (ResourceKind::Vpc, _) => Self::network_not_found(missing),
                (ResourceKind::Subnet, _) => Self::subnet_not_found(missing),
                (ResourceKind::Project, _) => Self::new(
                    S::NOT_FOUND,
                    "ProjectNotFound",
                    format!("Project {missing} could not be found."),
                ),
                (_, ResourceKind::Vpc) => Self::network_not_found(id),
                _ => Self::subnet_not_found(id),
            },
            Error::InvalidField { field, reason } => {
                Self::bad(format!("Invalid input for {field}. Reason: {reason}."))
            }
            Error::QuotaExceeded { .. } => Self::new(
                S::CONFLICT,
                "OverQuota",
                format!("Quota exceeded for resources: {domain}."),
            ),
            // A subnet still named by a load balancer, instance or member.
            Error::Conflict { reason } if deleting => Self::new(
                S::CONFLICT,
                if what == ResourceKind::Vpc {
                    "NetworkInUse"
                } else {
                    "SubnetInUse"
                },
                format!(
                    "Unable to complete operation on {} {id}: {reason}.",
                    if what == ResourceKind::Vpc {
                        "network"
                    } else {
                        "subnet"
                    }
                ),
            ),
            // Overlapping subnets are Neutron's 400 InvalidInput.
            Error::Conflict { reason } => Self::new(
                S::BAD_REQUEST,
                "InvalidInput",
                format!("Invalid input for operation: {reason}."),
            ),
            other => Self::bad(format!("Invalid input for operation: {other}.")),
        }
    }
}

impl IntoResponse for NeutronError {
    fn into_response(self) -> Response {
        let body =
            json!({"NeutronError": {"type": self.kind, "message": self.message, "detail": ""}});
        (self.status, Json(body)).into_response()
    }
}

/// The request body, bounded.
pub(crate) struct NeutronBody(Vec<u8>);

impl<S: Send + Sync> FromRequest<S> for NeutronBody {
    type Rejection = NeutronError;

    async fn from_request(req: Request, _: &S) -> Result<Self, NeutronError> {
        axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map(|b| NeutronBody(b.to_vec()))
            .map_err(|_| {
                NeutronError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "HTTPRequestEntityTooLarge",
                    format!("Request body is larger than {BODY_LIMIT} bytes."),
                )
            })
    }
}

/// `{"<wrapper>": {...}}` into `T`, with unknown attributes refused as
/// Neutron does ("Unrecognized attribute(s)").
fn parse<T: DeserializeOwned>(raw: &[u8], wrapper: &str) -> Result<T, NeutronError> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|_| NeutronError::bad("Malformed request body"))?;
    let inner = value
        .get(wrapper)
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            NeutronError::bad(format!(
                "Resource body required: {{\"{wrapper}\": {{...}}}}"
            ))
        })?;
    serde_path_to_error::deserialize(inner).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        match inner.strip_prefix("unknown field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or(rest);
                NeutronError::bad(format!("Unrecognized attribute(s) '{name}'"))
            }
            None => NeutronError::bad(format!("Invalid input for {path}. Reason: {inner}.")),
        }
    })
}

/// A field Neutron takes and Weir has nothing behind: absent, `null`,
/// empty or its neutral value only.
fn refuse_unhonoured(
    name: &str,
    value: Option<&Value>,
    neutral: &[Value],
) -> Result<(), NeutronError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.is_empty() => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(v) if neutral.contains(v) => Ok(()),
        Some(v) => Err(NeutronError::bad(format!(
            "Invalid input for {name}. Reason: Weir's networks do not support it (given {v})."
        ))),
    }
}

/// The one project a body names (`project_id` and `tenant_id` agree);
/// the control layer holds it to the caller's own.
fn named_project(ids: [&Option<String>; 2]) -> Result<Option<ProjectId>, NeutronError> {
    let mut named: Option<&String> = None;
    for id in ids.into_iter().flatten() {
        if named.is_some_and(|n| n != id) {
            return Err(NeutronError::bad(
                "Invalid input: project_id and tenant_id differ.",
            ));
        }
        named = Some(id);
    }
    Ok(named.map(|n| ProjectId::new(n.as_str())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateNetwork {
    name: Option<String>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    admin_state_up: Option<Value>,
    shared: Option<bool>,
    description: Option<Value>,
    port_security_enabled: Option<Value>,
    mtu: Option<Value>,
    dns_domain: Option<Value>,
    qos_policy_id: Option<Value>,
    availability_zone_hints: Option<Value>,
    #[serde(rename = "router:external")]
    router_external: Option<Value>,
    #[serde(rename = "provider:network_type")]
    provider_network_type: Option<Value>,
    #[serde(rename = "provider:physical_network")]
    provider_physical_network: Option<Value>,
    #[serde(rename = "provider:segmentation_id")]
    provider_segmentation_id: Option<Value>,
    segments: Option<Value>,
    is_default: Option<Value>,
    tags: Option<Value>,
}

pub(crate) async fn create_network(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    NeutronBody(raw): NeutronBody,
) -> Result<Response, NeutronError> {
    let req: CreateNetwork = parse(&raw, "network")?;
    if req.shared == Some(true) {
        // Neutron's default policy: sharing is the operator's.
        return Err(NeutronError::new(
            StatusCode::FORBIDDEN,
            "PolicyNotAuthorized",
            "(rule:create_network:shared) is disallowed by policy: shared networks are made by the operator (weir's native API).",
        ));
    }
    refuse_unhonoured(
        "admin_state_up",
        req.admin_state_up.as_ref(),
        &[Value::Bool(true)],
    )?;
    for (name, value) in [
        ("description", &req.description),
        ("port_security_enabled", &req.port_security_enabled),
        ("mtu", &req.mtu),
        ("dns_domain", &req.dns_domain),
        ("qos_policy_id", &req.qos_policy_id),
        ("availability_zone_hints", &req.availability_zone_hints),
        ("provider:network_type", &req.provider_network_type),
        ("provider:physical_network", &req.provider_physical_network),
        ("provider:segmentation_id", &req.provider_segmentation_id),
        ("segments", &req.segments),
        ("tags", &req.tags),
    ] {
        refuse_unhonoured(name, value.as_ref(), &[])?;
    }
    refuse_unhonoured(
        "router:external",
        req.router_external.as_ref(),
        &[Value::Bool(false)],
    )?;
    refuse_unhonoured("is_default", req.is_default.as_ref(), &[Value::Bool(false)])?;
    let project = named_project([&req.project_id, &req.tenant_id])?;
    let vpc = d
        .control
        .create_network(&ctx.principal, project, req.name.unwrap_or_default())
        .await
        .map_err(|e| NeutronError::from_control(e, ResourceKind::Vpc, "", false))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"network": network_view(&vpc, &[])})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSubnet {
    network_id: String,
    ip_version: Value,
    cidr: Option<String>,
    name: Option<String>,
    project_id: Option<String>,
    tenant_id: Option<String>,
    enable_dhcp: Option<Value>,
    gateway_ip: Option<Value>,
    allocation_pools: Option<Value>,
    dns_nameservers: Option<Value>,
    host_routes: Option<Value>,
    ipv6_address_mode: Option<Value>,
    ipv6_ra_mode: Option<Value>,
    subnetpool_id: Option<Value>,
    use_default_subnetpool: Option<Value>,
    prefixlen: Option<Value>,
    segment_id: Option<Value>,
    service_types: Option<Value>,
    dns_publish_fixed_ip: Option<Value>,
    description: Option<Value>,
    tags: Option<Value>,
}

pub(crate) async fn create_subnet(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    NeutronBody(raw): NeutronBody,
) -> Result<Response, NeutronError> {
    let req: CreateSubnet = parse(&raw, "subnet")?;
    let version = match &req.ip_version {
        Value::Number(n) if n.as_u64() == Some(4) => 4,
        Value::Number(n) if n.as_u64() == Some(6) => 6,
        Value::String(s) if s == "4" => 4,
        Value::String(s) if s == "6" => 6,
        other => {
            return Err(NeutronError::bad(format!(
                "Invalid input for ip_version. Reason: {other} is not in [4, 6]."
            )))
        }
    };
    // Weir has no DHCP: a subnet's addresses are what its users say.
    refuse_unhonoured(
        "enable_dhcp",
        req.enable_dhcp.as_ref(),
        &[Value::Bool(false)],
    )?;
    refuse_unhonoured(
        "use_default_subnetpool",
        req.use_default_subnetpool.as_ref(),
        &[Value::Bool(false)],
    )?;
    for (name, value) in [
        ("gateway_ip", &req.gateway_ip),
        ("allocation_pools", &req.allocation_pools),
        ("dns_nameservers", &req.dns_nameservers),
        ("host_routes", &req.host_routes),
        ("ipv6_address_mode", &req.ipv6_address_mode),
        ("ipv6_ra_mode", &req.ipv6_ra_mode),
        ("subnetpool_id", &req.subnetpool_id),
        ("prefixlen", &req.prefixlen),
        ("segment_id", &req.segment_id),
        ("service_types", &req.service_types),
        ("dns_publish_fixed_ip", &req.dns_publish_fixed_ip),
        ("description", &req.description),
        ("tags", &req.tags),
    ] {
        refuse_unhonoured(name, value.as_ref(), &[])?;
    }
    let Some(cidr) = req.cidr else {
        return Err(NeutronError::bad(
            "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
        ));
    };
    // The CIDR's own version must be the one stated (Neutron's check).
    let parsed = weir_core::inventory::parse_cidr("cidr", &cidr)
        .map_err(|e| NeutronError::from_control(e.into(), ResourceKind::Subnet, "", false))?;
    if parsed.addr().is_ipv4() != (version == 4) {
        return Err(NeutronError::bad(format!(
            "Invalid input for operation: cidr {cidr} is not IPv{version}, as ip_version says."
        )));
    }
    // The subnet is the network's project's; a body naming another is
    // refused (the operator's subnet follows its network).
    if let Some(named) = named_project([&req.project_id, &req.tenant_id])? {
        if ctx.principal.scope().is_some_and(|own| *own != named) {
            return Err(NeutronError::network_not_found(&req.network_id));
        }
    }
    let subnet = d
        .control
        .create_subnet(
            &ctx.principal,
            VpcId::new(req.network_id.as_str()),
            NewSubnet {
                name: req.name.unwrap_or_default(),
                cidr,
            },
        )
        .await
        .map_err(|e| NeutronError::from_control(e, ResourceKind::Vpc, &req.network_id, false))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"subnet": subnet_view(&subnet)})),
    )
        .into_response())
}

pub(crate) async fn delete_subnet(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, NeutronError> {
    d.control
        .delete_subnet(&ctx.principal, SubnetId::new(id.as_str()))
        .await
        .map_err(|e| NeutronError::from_control(e, ResourceKind::Subnet, &id, true))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn delete_network(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, NeutronError> {
    d.control
        .delete_network(&ctx.principal, VpcId::new(id.as_str()))
        .await
        .map_err(|e| NeutronError::from_control(e, ResourceKind::Vpc, &id, true))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
