//! Zenlayer Cloud API 2.0: ZLB (`POST /api/v2/zlb`) and BMC load balancing
//! (`POST /api/v2/bmc`) share one transport: JSON bodies, the action in
//! `x-zc-action`, `ZC2-HMAC-SHA256` signatures or bearer tokens, success as
//! exactly HTTP 200 `{"requestId","response":{…}}` and errors as a 4xx/5xx
//! with all of `requestId`, `code` and `message` (the SDK raises `KeyError`
//! without any of them).
//!
//! - [`sign`]: the pure signature verifier.
//! - [`zlb`], [`bmc`]: the actions of each service.
//! - [`ZcError::from_control`]: the one canonical-error table of both.

pub mod bmc;
pub mod sign;
pub mod zlb;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use weir_control::{Control, ControlError, Principal};
use weir_core::error::QuotaKind;
use weir_core::pool::HealthCheckSpec;
use weir_core::{Error, ResourceKind};

use crate::common::{self, parse_json, JsonProblem, BODY_LIMIT};
use crate::Dialects;

/// Which Zenlayer service a request is for; they differ in a few codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Zlb,
    Bmc,
}

/// A Zenlayer error: HTTP status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZcError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ZcError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn auth(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AUTH_FAILED", message)
    }

    /// A bad parameter value the adapter itself found while translating.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
    }

    fn from_json(problem: JsonProblem) -> Self {
        match problem {
            JsonProblem::Missing(field) => Self::new(
                StatusCode::BAD_REQUEST,
                "MISSING_PARAMETER",
                format!("the required parameter {field} is missing"),
            ),
            JsonProblem::Invalid(text) => Self::invalid(text),
        }
    }

    /// The canonical error on Zenlayer's wire: one exhaustive table for
    /// both services. The twelve codes of the RegisterBackend page are used
    /// where they fit; the rest are ours, in Zenlayer's style
    /// (docs/dialects/zenlayer.md).
    pub fn from_control(e: ControlError, service: Service) -> Self {
        use StatusCode as S;
        let domain = match e {
            ControlError::Domain(d) => d,
            ControlError::AdminOnly | ControlError::ReadOnly(_) => {
                return Self::new(S::FORBIDDEN, "OPERATION_DENIED", e.to_string())
            }
            ControlError::Store(_) => {
                tracing::error!(error = %e, "zenlayer: store failure");
                return Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    e.client_message(),
                );
            }
            ControlError::Unavailable
            | ControlError::StoreUnavailable(_)
            | ControlError::CommitOutcomeUnknown(_) => {
                tracing::warn!(error = %e, "zenlayer: unavailable");
                return Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    e.client_message(),
                );
            }
        };
        let message = zenlayer_names(&domain.to_string());
        let (status, code) = match &domain {
            Error::NotFound { kind, .. } => match kind {
                ResourceKind::Instance => (S::NOT_FOUND, "INVALID_INSTANCE_NOT_FOUND"),
                ResourceKind::Listener | ResourceKind::Pool => {
                    (S::NOT_FOUND, "INVALID_LB_LISTENER_NOT_FOUND")
                }
                ResourceKind::LoadBalancer => (S::NOT_FOUND, "INVALID_LB_NOT_FOUND"),
                // Octavia's flavors; Zenlayer never names one.
                ResourceKind::FlavorProfile | ResourceKind::Flavor => {
                    (S::NOT_FOUND, "INVALID_PARAMETER")
                }
                ResourceKind::Backend => match service {
                    // ZLB names backends by server, and "Backend server does
                    // not exist" is its page's INVALID_INSTANCE_NOT_FOUND.
                    Service::Zlb => (S::NOT_FOUND, "INVALID_INSTANCE_NOT_FOUND"),
                    Service::Bmc => (S::NOT_FOUND, "INVALID_BACKEND_NOT_FOUND"),
                },
                ResourceKind::Subnet => (S::NOT_FOUND, "INVALID_SUBNET_NOT_FOUND"),
                ResourceKind::Vpc => (S::NOT_FOUND, "INVALID_VPC_NOT_FOUND"),
                ResourceKind::Project | ResourceKind::Credential => {
                    (S::NOT_FOUND, "INVALID_PROJECT_NOT_FOUND")
                }
                ResourceKind::Certificate => (S::NOT_FOUND, "INVALID_CERTIFICATE_NOT_FOUND"),
                // Zenlayer has no L7 policies; they are not named there.
                ResourceKind::L7Policy
                | ResourceKind::L7Rule
                | ResourceKind::Secret
                | ResourceKind::Container
                | ResourceKind::DomainExtension
                | ResourceKind::Acl => (S::NOT_FOUND, "INVALID_PARAMETER"),
            },
            Error::InvalidField { .. } => (S::BAD_REQUEST, "INVALID_PARAMETER"),
            Error::LoadBalancerNotRunning { .. } => (S::BAD_REQUEST, "INVALID_LB_STATUS"),
            Error::InstanceNotRunning { .. } => (S::BAD_REQUEST, "INVALID_INSTANCE_STATUS"),
            Error::InstanceTypeMismatch { .. } => (S::BAD_REQUEST, "INVALID_INSTANCE_TYPE"),
            Error::InstanceNotInVpc { .. } => (S::BAD_REQUEST, "INVALID_INSTANCE_VPC_MISMATCH"),
            Error::InstanceAddressMismatch { .. } | Error::BareMetalByAddressOnly { .. } => {
                (S::BAD_REQUEST, "INVALID_INSTANCE_IP_ADDRESS")
            }
            Error::BorderGatewayRequired { .. } => (S::CONFLICT, "INVALID_BACKEND_IP_ZBG_REQUIRED"),
            Error::AddressNotPrivate { .. }
            | Error::AddressReserved { .. }
            | Error::AddressNotInNetwork { .. } => {
                (S::BAD_REQUEST, "INVALID_BACKEND_SERVER_IP_INVALID")
            }
            // Zenlayer callers never choose a VIP; mapped for completeness.
            Error::VipNotAllowed { .. } => (S::BAD_REQUEST, "INVALID_PARAMETER"),
            Error::AddressNotInstance { .. } => (S::BAD_REQUEST, "INVALID_BACKEND_IP_ADDRESS"),
            Error::AddressNotInSubnet { .. } => (S::BAD_REQUEST, "INVALID_PARAMETER"),
            Error::SubnetNotInVpc { .. } => (S::BAD_REQUEST, "INVALID_SUBNET_VPC_MISMATCH"),
            Error::PortNotAllowed { .. } => (S::BAD_REQUEST, "INVALID_BACKEND_SERVER_PORT"),
            Error::BackendExists { .. } | Error::InstanceAlreadyRegistered { .. } => {
                (S::CONFLICT, "INVALID_BACKEND_INSTANCE_LISTENER_EXIST")
            }
            Error::DuplicateInstanceInRequest { .. } => {
                (S::CONFLICT, "INVALID_BACKEND_INSTANCE_MULTIPLE")
            }
            Error::DuplicateAddressInRequest { .. } => {
                (S::CONFLICT, "INVALID_BACKEND_SERVER_IP_REPEAT")
            }
            Error::QuotaExceeded { kind, .. } => match kind {
                QuotaKind::BackendsPerPool => {
                    (S::BAD_REQUEST, "INVALID_RS_QUOTA_EXCEED_PER_LISTENER")
                }
                QuotaKind::BackendsPerRequest => (S::BAD_REQUEST, "INVALID_PARAMETER"),
                QuotaKind::LoadBalancersPerProject
                | QuotaKind::Project(weir_core::quota::QuotaResource::LoadBalancer) => (
                    S::BAD_REQUEST,
                    "OPERATION_DENIED_LOAD_BALANCER_QUOTA_EXCEED",
                ),
                QuotaKind::ListenersPerLoadBalancer
                | QuotaKind::Project(weir_core::quota::QuotaResource::Listener) => {
                    (S::BAD_REQUEST, "OPERATION_DENIED_LISTENER_QUOTA_EXCEED")
                }
                QuotaKind::ServerGroupsPerLoadBalancer
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
                | QuotaKind::Project(_) => (S::BAD_REQUEST, "OPERATION_DENIED_QUOTA_EXCEED"),
            },
            Error::IdempotencyMismatch { .. } => (S::CONFLICT, "INVALID_CLIENT_TOKEN_CONFLICT"),
            Error::ListenerPortInUse { .. } => (S::CONFLICT, "INVALID_LISTENER_PORT_CONFLICT"),
            Error::Conflict { .. } => (S::CONFLICT, "RESOURCE_CONFLICT"),
            // Zenlayer's own checks are TCP and HTTP; mapped for completeness.
            Error::Unsupported { .. } => (S::BAD_REQUEST, "UNSUPPORTED_OPERATION"),
        };
        let message = match &domain {
            // The core's wording names the pool and the existing id; a
            // Zenlayer caller knows servers on listeners.
            Error::BackendExists { address, port, .. } => format!(
                "Backend server already exists: {} is already on this listener.",
                common::endpoint(*address, *port)
            ),
            _ => message,
        };
        Self::new(status, code, message)
    }
}

/// Zenlayer's time format: RFC 3339 to the second.
pub fn zc_time(t: weir_core::Timestamp) -> String {
    let text = t.to_string();
    format!("{}Z", &text[..19])
}

/// Core messages name fields the native way; Zenlayer callers know them
/// by their wire names.
fn zenlayer_names(message: &str) -> String {
    message
        .replace("backends[", "backendServers[")
        .replace("].address", "].privateIpAddress")
        .replace("].instance_id", "].instanceId")
}

/// What an action handler gets: the control plane, who is calling, and
/// which API version the SDK speaks.
pub struct Call {
    pub control: Control,
    pub principal: Principal,
    pub version: String,
}

impl Call {
    /// Parses the body as the action's request type.
    pub fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, ZcError> {
        parse_json(body).map_err(ZcError::from_json)
    }

    /// Refuses a region this deployment does not serve.
    pub fn check_region(&self, field: &str, region: &str) -> Result<(), ZcError> {
        if self.control.settings().knows_region(region) {
            Ok(())
        } else {
            Err(ZcError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_REGION_NOT_FOUND",
                format!(
                    "{field} {region:?} is not a region of this service (regions: {})",
                    self.control.settings().regions.join(", ")
                ),
            ))
        }
    }
}

/// A health check as ZLB and BMC spell it (their field names differ, the
/// meaning does not).
pub struct CheckFields<'a> {
    pub enabled: Option<bool>,
    pub kind: Option<&'a str>,
    pub port: Option<u32>,
    pub interval_secs: Option<u64>,
    pub timeout_secs: Option<u64>,
    pub retry: Option<u32>,
    pub path: Option<&'a str>,
    /// An HTTP check's Host header (ZLB `checkHttpGetHost`).
    pub host: Option<&'a str>,
    /// Status codes as a string, a number or a list of either.
    pub codes: Option<&'a Value>,
    /// The codes field's wire name, for errors.
    pub codes_field: &'static str,
}

/// A Zenlayer health check as the core's spec; `None` when disabled.
pub fn health_spec(f: CheckFields<'_>) -> Result<Option<HealthCheckSpec>, ZcError> {
    if f.enabled == Some(false) {
        return Ok(None);
    }
    let kind = match f.kind.map(str::to_ascii_uppercase).as_deref() {
        None | Some("TCP") => "tcp",
        Some("HTTP") => "http",
        Some(other) => {
            return Err(ZcError::invalid(format!(
                "healthCheck.checkType {other:?} is not TCP or HTTP"
            )))
        }
    };
    let codes = match f.codes {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
        ),
        Some(other) => {
            return Err(ZcError::invalid(format!(
                "healthCheck.{} {other} is not a status code list",
                f.codes_field
            )))
        }
    };
    Ok(Some(HealthCheckSpec {
        kind: kind.to_owned(),
        interval_ms: f.interval_secs.map(|s| s.saturating_mul(1000)),
        timeout_ms: f.timeout_secs.map(|s| s.saturating_mul(1000)),
        rise: None,
        fall: f.retry,
        port: f.port,
        path: f.path.map(str::to_owned),
        host: f.host.map(str::to_owned),
        expected_codes: codes,
        ..HealthCheckSpec::default()
    }))
}

/// The result of an action: the inner `response` object.
pub type ActionResult = Result<Value, ZcError>;

pub(crate) fn routes() -> Router<Dialects> {
    Router::new()
        .route("/api/v2/zlb", post(zlb_endpoint))
        .route("/api/v2/bmc", post(bmc_endpoint))
}

async fn zlb_endpoint(State(d): State<Dialects>, req: Request) -> Response {
    serve(d, req, Service::Zlb).await
}

async fn bmc_endpoint(State(d): State<Dialects>, req: Request) -> Response {
    serve(d, req, Service::Bmc).await
}

async fn serve(d: Dialects, req: Request, service: Service) -> Response {
    let request_id = common::request_id();
    let (parts, body) = req.into_parts();
    let outcome = async {
        let body = read_body(body).await?;
        let principal = authenticate(&d, &parts.headers, &body, service).await?;
        let action = header(&parts.headers, "x-zc-action")
            .ok_or_else(|| {
                ZcError::new(
                    StatusCode::BAD_REQUEST,
                    "MISSING_PARAMETER",
                    "the x-zc-action header is missing",
                )
            })?
            .to_owned();
        let call = Call {
            control: d.control.clone(),
            principal,
            version: header(&parts.headers, "x-zc-version")
                .unwrap_or_default()
                .to_owned(),
        };
        match service {
            Service::Zlb => zlb::dispatch(&call, &action, &body).await,
            Service::Bmc => bmc::dispatch(&call, &action, &body).await,
        }
    }
    .await;
    match outcome {
        Ok(mut inner) => {
            if let Value::Object(map) = &mut inner {
                map.insert("requestId".to_owned(), Value::String(request_id.clone()));
            }
            let body = json!({"requestId": request_id, "response": inner});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(e) => {
            let body = json!({"requestId": request_id, "code": e.code, "message": e.message});
            (e.status, axum::Json(body)).into_response()
        }
    }
}

/// An unknown action, in the service's words.
pub fn unknown_action(action: &str) -> ZcError {
    ZcError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_ACTION",
        format!("the action {action:?} is not supported by this service"),
    )
}

async fn read_body(body: Body) -> Result<Vec<u8>, ZcError> {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            ZcError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "REQUEST_BODY_TOO_LARGE",
                format!("the request body is larger than {BODY_LIMIT} bytes"),
            )
        })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn authenticate(
    d: &Dialects,
    headers: &HeaderMap,
    body: &[u8],
    service: Service,
) -> Result<Principal, ZcError> {
    let control = &d.control;
    let authorization = header(headers, "authorization")
        .ok_or_else(|| ZcError::auth("the Authorization header is missing"))?;
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return control
            .authenticate(token.trim())
            .await
            .map_err(|e| ZcError::from_control(e, Service::Zlb))?
            .ok_or_else(|| ZcError::auth("the bearer token is not valid"));
    }
    let auth =
        sign::parse_authorization(authorization).map_err(|e| ZcError::auth(e.to_string()))?;
    let parts = sign::SignedParts {
        method: "POST",
        content_type: header(headers, "content-type").unwrap_or_default(),
        host: header(headers, "host").unwrap_or_default(),
        timestamp: header(headers, "x-zc-timestamp")
            .ok_or_else(|| ZcError::auth("the x-zc-timestamp header is missing"))?,
        body,
    };
    let key = control
        .access_key(&auth.access_key_id)
        .await
        .map_err(|e| ZcError::from_control(e, Service::Zlb))?
        .ok_or_else(|| ZcError::auth("the access key id is not known"))?;
    let now = common::unix_now();
    let signed_at =
        sign::verify(&parts, &auth, &key.secret, now).map_err(|e| ZcError::auth(e.to_string()))?;
    let used_as = UsedAs {
        service,
        action: header(headers, "x-zc-action").unwrap_or_default(),
    };
    single_use(
        d,
        key.project_id.as_str(),
        &auth.signature,
        used_as,
        signed_at,
        now,
    )?;
    Ok(key.principal())
}

/// What a signature was used for: the service (path) and the action, the
/// two things the SDK does not sign.
struct UsedAs<'a> {
    service: Service,
    action: &'a str,
}

/// Makes a verified signature single-use until its timestamp leaves the
/// window. The SDK signs neither the action (`x-zc-action`) nor the path,
/// so without this a captured `DescribeBackends` replays as
/// `DeleteListener`, or a ZLB request on `/api/v2/bmc`.
///
/// One exception (docs/dialects/zenlayer.md): a signature first used for a
/// `Describe…` read may be used again for that very read on that very
/// service, since two identical polls within one second carry one
/// signature and repeating a read changes nothing. It can never become
/// another action or cross to the other service, and a write's signature
/// is used once. A refused repeat is answered 429 `REQUEST_LIMIT_EXCEEDED`,
/// which the SDK retries after a second with a fresh timestamp (an
/// identical write in the same second costs a one-second wait), while an
/// attacker, who cannot sign again, gets nothing.
fn single_use(
    d: &Dialects,
    project: &str,
    signature: &str,
    used_as: UsedAs<'_>,
    signed_at: i64,
    now: i64,
) -> Result<(), ZcError> {
    // Accepted while |signed_at - now| <= skew in whole seconds, so up to
    // signed_at + skew + 1 on a finer clock; one second more for the
    // truncation of `now`.
    let remaining = signed_at
        .saturating_add(common::CLOCK_SKEW_SECS + 2)
        .saturating_sub(now)
        .max(1);
    let lifetime = std::time::Duration::from_secs(remaining.unsigned_abs());
    let key = signature.to_ascii_lowercase();
    let read = format!("{:?}/{}", used_as.service, used_as.action);
    let repeatable = used_as
        .action
        .starts_with("Describe")
        .then_some(read.as_bytes());
    match d.zenlayer_signatures.offer_repeatable(
        project,
        key.as_bytes(),
        std::time::Instant::now(),
        lifetime,
        repeatable,
    ) {
        common::Use::First => Ok(()),
        common::Use::Replayed => Err(ZcError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            "this signature was already used: a signed request is single-use (Zenlayer's signature covers neither the action nor the path; only the same Describe may repeat); sign the request again with a new x-zc-timestamp",
        )),
        common::Use::Full => Err(ZcError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            format!(
                "this project sent more than {} signed requests within the last 30 minutes; retry later",
                d.replay_limits().per_project
            ),
        )),
    }
}
