//! UCloud / SCloud ULB: every parameter (`Action`, `PublicKey`,
//! `Signature` included) in a form-encoded POST body (or the query of a
//! GET), flattened keys (`Backends.0`), and every answer an HTTP 200 whose
//! `RetCode` says what happened: the SDK drops the body of any HTTP error.
//!
//! - [`sign`]: the pure signature check.
//! - [`ulb`]: the actions.
//! - [`known`]: the parameters each action reads; any other is 230.
//! - [`UcError::from_control`]: the one canonical-error table.

mod https;
mod known;
pub mod sign;
mod ssl;
pub mod ulb;

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};
use weir_control::{ControlError, Principal};
use weir_core::error::QuotaKind;
use weir_core::{Error, ResourceKind};

use crate::common::{Use, BODY_LIMIT};
use crate::Dialects;

/// UCloud RetCodes Weir answers with; docs/dialects/ucloud.md lists them.
pub mod codes {
    pub const OK: i64 = 0;
    pub const REGION_INVALID: i64 = 107;
    pub const MISSING_PARAMETER: i64 = 160;
    pub const ACTION_UNKNOWN: i64 = 161;
    pub const SIGNATURE_INVALID: i64 = 171;
    pub const NO_PERMISSION: i64 = 172;
    pub const REPLAYED: i64 = 177;
    pub const BODY_TOO_LARGE: i64 = 180;
    pub const PARAMETER_INVALID: i64 = 230;
    pub const RESOURCE_NOT_FOUND: i64 = 4018;
    pub const NETWORK_NOT_FOUND: i64 = 4019;
    pub const ULB_NOT_RUNNING: i64 = 4025;
    pub const BACKEND_NOT_FOUND: i64 = 4027;
    pub const INSTANCE_NOT_RUNNING: i64 = 4032;
    pub const INSTANCE_NOT_IN_VPC: i64 = 4033;
    pub const GATEWAY_REQUIRED: i64 = 4034;
    pub const BACKEND_QUOTA: i64 = 4035;
    /// Weir's code for the project's and load balancer's other limits
    /// (load balancers, VServers, server groups), next to 4035.
    pub const RESOURCE_QUOTA: i64 = 4038;
    pub const CONFLICT: i64 = 4036;
    pub const PORT_IN_USE: i64 = 4037;
    pub const BACKEND_EXISTS: i64 = 4078;
    pub const ULB_NOT_FOUND: i64 = 4086;
    pub const VSERVER_NOT_FOUND: i64 = 4103;
    pub const INTERNAL: i64 = 5000;
    /// Retryable (the SDK retries RetCodes above 2000): the project's
    /// replay table is full of live entries.
    pub const BUSY: i64 = 5001;
}

/// A UCloud error: RetCode and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UcError {
    pub code: i64,
    pub message: String,
}

impl UcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(codes::PARAMETER_INVALID, message)
    }

    pub fn missing(name: &str) -> Self {
        Self::new(codes::MISSING_PARAMETER, format!("Missing params: {name}"))
    }

    /// The canonical error as a RetCode: one exhaustive table.
    pub fn from_control(e: ControlError) -> Self {
        use codes::*;
        let domain = match e {
            ControlError::Domain(d) => d,
            ControlError::AdminOnly | ControlError::ReadOnly(_) => {
                return Self::new(NO_PERMISSION, e.to_string())
            }
            ControlError::Store(_)
            | ControlError::Unavailable
            | ControlError::StoreUnavailable(_)
            | ControlError::CommitOutcomeUnknown(_) => {
                tracing::error!(error = %e, "ucloud: control failure");
                return Self::new(INTERNAL, e.client_message());
            }
        };
        let message = ucloud_names(&domain.to_string());
        let code = match &domain {
            Error::NotFound { kind, .. } => match kind {
                ResourceKind::LoadBalancer => ULB_NOT_FOUND,
                ResourceKind::Listener | ResourceKind::Pool => VSERVER_NOT_FOUND,
                ResourceKind::Backend => BACKEND_NOT_FOUND,
                ResourceKind::Instance => RESOURCE_NOT_FOUND,
                ResourceKind::Subnet | ResourceKind::Vpc => NETWORK_NOT_FOUND,
                ResourceKind::Project | ResourceKind::Credential => NO_PERMISSION,
                ResourceKind::Certificate => RESOURCE_NOT_FOUND,
                // Octavia's flavors; UCloud never names one.
                ResourceKind::FlavorProfile | ResourceKind::Flavor => RESOURCE_NOT_FOUND,
                ResourceKind::L7Policy | ResourceKind::L7Rule => RESOURCE_NOT_FOUND,
                ResourceKind::Secret | ResourceKind::Container => RESOURCE_NOT_FOUND,
                // Aliyun's domain extensions; UCloud never names one.
                ResourceKind::DomainExtension | ResourceKind::Acl => RESOURCE_NOT_FOUND,
            },
            Error::InvalidField { .. }
            | Error::InstanceTypeMismatch { .. }
            | Error::InstanceAddressMismatch { .. }
            | Error::BareMetalByAddressOnly { .. }
            | Error::AddressNotPrivate { .. }
            | Error::AddressReserved { .. }
            | Error::AddressNotInNetwork { .. }
            | Error::VipNotAllowed { .. }
            | Error::AddressNotInSubnet { .. }
            | Error::SubnetNotInVpc { .. }
            | Error::PortNotAllowed { .. }
            | Error::IdempotencyMismatch { .. } => PARAMETER_INVALID,
            Error::LoadBalancerNotRunning { .. } => ULB_NOT_RUNNING,
            Error::InstanceNotRunning { .. } => INSTANCE_NOT_RUNNING,
            Error::InstanceNotInVpc { .. } => INSTANCE_NOT_IN_VPC,
            Error::BorderGatewayRequired { .. } => GATEWAY_REQUIRED,
            Error::AddressNotInstance { .. } => RESOURCE_NOT_FOUND,
            Error::BackendExists { .. }
            | Error::InstanceAlreadyRegistered { .. }
            | Error::DuplicateInstanceInRequest { .. }
            | Error::DuplicateAddressInRequest { .. } => BACKEND_EXISTS,
            Error::QuotaExceeded { kind, .. } => match kind {
                QuotaKind::BackendsPerPool
                | QuotaKind::Project(weir_core::quota::QuotaResource::Member) => BACKEND_QUOTA,
                QuotaKind::BackendsPerRequest => PARAMETER_INVALID,
                QuotaKind::LoadBalancersPerProject
                | QuotaKind::ListenersPerLoadBalancer
                | QuotaKind::ServerGroupsPerLoadBalancer
                | QuotaKind::CertificatesPerProject
                | QuotaKind::L7PoliciesPerListener
                | QuotaKind::L7RulesPerPolicy
                | QuotaKind::L7RulesPerListener
                | QuotaKind::SecretsPerProject
                | QuotaKind::ContainersPerProject
                | QuotaKind::AclsPerProject
                | QuotaKind::AclEntriesPerAcl
                | QuotaKind::NetworksPerProject
                | QuotaKind::SubnetsPerProject
                | QuotaKind::Project(_) => RESOURCE_QUOTA,
            },
            Error::ListenerPortInUse { .. } => PORT_IN_USE,
            Error::Conflict { .. } => CONFLICT,
            // UCloud answers an option it cannot take as a bad parameter.
            Error::Unsupported { .. } => PARAMETER_INVALID,
        };
        let message = match &domain {
            Error::BackendExists { address, port, .. } => format!(
                "backend {} already exists on this VServer",
                crate::common::endpoint(*address, *port)
            ),
            // The only unsupported option UCloud can ask for is a Ping
            // monitor.
            Error::Unsupported { reason, .. } => {
                format!("Params [MonitorType] not valid: Ping: {reason}")
            }
            _ => message,
        };
        Self::new(code, message)
    }
}

/// Core messages name fields the native way; UCloud callers know theirs.
fn ucloud_names(message: &str) -> String {
    message
        .replace("].address", "].ResourceIP")
        .replace("].instance_id", "].ResourceId")
        .replace("].weight", "].Weight")
        .replace("].port", "].Port")
}

/// A request's parameters with typed accessors that answer in RetCodes.
pub struct Params {
    map: HashMap<String, String>,
}

impl Params {
    pub fn new(pairs: &[(String, String)]) -> Self {
        Self {
            map: pairs.iter().cloned().collect(),
        }
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every parameter's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    pub fn req(&self, name: &str) -> Result<&str, UcError> {
        self.opt(name).ok_or_else(|| UcError::missing(name))
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, UcError> {
        self.opt(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    UcError::invalid(format!(
                        "Params [{name}] not valid: {v:?} is not an integer"
                    ))
                })
            })
            .transpose()
    }

    /// A 0/1 switch (`Enabled`, `IsBackup`).
    pub fn flag(&self, name: &str) -> Result<Option<bool>, UcError> {
        match self.int(name)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(other) => Err(UcError::invalid(format!(
                "Params [{name}] not valid: {other} is not 0 or 1"
            ))),
        }
    }

    /// A flattened list `Name.0`, `Name.1`, … in index order.
    pub fn list(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{name}.");
        let mut items: Vec<(usize, &str)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(&prefix)?.parse::<usize>().ok()?;
                Some((index, v.as_str()))
            })
            .collect();
        items.sort_unstable();
        items.into_iter().map(|(_, v)| v).collect()
    }
}

/// Who is calling and with what.
pub struct Call {
    pub dialects: Dialects,
    pub principal: Principal,
    pub params: Params,
}

pub(crate) fn routes() -> Router<Dialects> {
    Router::new().route("/ucloud", any(endpoint))
}

async fn endpoint(State(d): State<Dialects>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return reply(
                "",
                Err(UcError::new(
                    codes::BODY_TOO_LARGE,
                    format!("the request body is larger than {BODY_LIMIT} bytes"),
                )),
            )
        }
    };
    let raw: &[u8] = if parts.method == Method::GET {
        parts.uri.query().unwrap_or_default().as_bytes()
    } else {
        &body
    };
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_bytes(raw) {
        Ok(p) => p,
        Err(e) => {
            return reply(
                "",
                Err(UcError::invalid(format!(
                    "the form body cannot be parsed: {e}"
                ))),
            )
        }
    };
    let params = Params::new(&pairs);
    let action = params.opt("Action").unwrap_or_default().to_owned();
    let outcome = async {
        let principal = authenticate(&d, &pairs, &params, &action).await?;
        let region = params.req("Region")?;
        if !d.control.settings().knows_region(region) {
            return Err(UcError::new(
                codes::REGION_INVALID,
                format!(
                    "Region {region:?} is not served here (regions: {})",
                    d.control.settings().regions.join(", ")
                ),
            ));
        }
        let call = Call {
            dialects: d.clone(),
            principal,
            params,
        };
        known::check(&action, &call.params)?;
        ulb::dispatch(&call, &action).await
    }
    .await;
    reply(&action, outcome)
}

fn reply(action: &str, outcome: Result<Value, UcError>) -> Response {
    let name = format!("{action}Response");
    let body = match outcome {
        Ok(mut v) => {
            if let Value::Object(map) = &mut v {
                map.insert("Action".to_owned(), json!(name));
                map.insert("RetCode".to_owned(), json!(codes::OK));
            }
            v
        }
        Err(e) => json!({"Action": name, "RetCode": e.code, "Message": e.message}),
    };
    Json(body).into_response()
}

async fn authenticate(
    d: &Dialects,
    pairs: &[(String, String)],
    params: &Params,
    action: &str,
) -> Result<Principal, UcError> {
    let public_key = params
        .opt("PublicKey")
        .ok_or_else(|| UcError::new(codes::SIGNATURE_INVALID, "Missing params: PublicKey"))?;
    if params.opt("Signature").is_none() {
        return Err(UcError::new(
            codes::SIGNATURE_INVALID,
            "Missing params: Signature",
        ));
    }
    let key = d
        .control
        .access_key(public_key)
        .await
        .map_err(UcError::from_control)?
        .ok_or_else(|| UcError::new(codes::SIGNATURE_INVALID, "PublicKey is not known"))?;
    if !sign::verify(pairs, &key.secret) {
        return Err(UcError::new(
            codes::SIGNATURE_INVALID,
            "Signature VerifyAC Error: the signature does not match",
        ));
    }
    if let Some(project) = params.opt("ProjectId") {
        if project != key.project_id.as_str() {
            return Err(UcError::new(
                codes::NO_PERMISSION,
                format!("ProjectId {project:?} is not the project of this key"),
            ));
        }
    }
    // Reads are safe to repeat; a replayed write is refused when the
    // operator turned the window on. The key is what the signature covers
    // (every pair but `Signature`, as signed) and the verified signature
    // in lower case: upper-casing the signature or adding a second
    // `Signature` pair changes neither, so neither escapes the guard.
    let is_read = action.starts_with("Describe") || action.starts_with("Get");
    if !is_read {
        let signature = sign::sign(pairs, &key.secret);
        let replay_key = format!("{signature}\n{}", sign::string_to_sign(pairs));
        match d
            .ucloud_replays
            .offer(key.project_id.as_str(), replay_key.as_bytes(), Instant::now())
        {
            Use::First => {}
            Use::Replayed => return Err(UcError::new(
                codes::REPLAYED,
                "an identical signed request was already received; UCloud signs no timestamp, so this server refuses replays within its window",
            )),
            Use::Full => return Err(UcError::new(
                codes::BUSY,
                format!(
                    "this project sent more than {} signed writes within the replay window; retry later",
                    d.replay_limits().per_project
                ),
            )),
        }
    }
    Ok(key.principal())
}
