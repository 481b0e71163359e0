//! Alibaba Cloud SLB (API 2014-05-15) as both SDK generations send it:
//! `POST /?…` with every parameter in the query (aliyun-python-sdk-core,
//! signature v1, `Action` and `Signature` parameters) or with only the
//! business parameters in the query and the action in `x-acs-action`
//! (alibabacloud-slb20140515, ACS3-HMAC-SHA256 header). Success is a 200
//! with JSON, or XML when `Format=XML`; errors are 4xx/5xx
//! `{"RequestId","HostId","Code","Message","Recommend"}`.
//!
//! - [`sign`]: the pure verifiers of both signatures.
//! - [`slb`]: the actions.
//! - [`AliError::from_control`]: the one canonical-error table.

mod certificates;
pub mod sign;
pub mod slb;

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};
use weir_control::{ControlError, Principal};
use weir_core::error::QuotaKind;
use weir_core::quota::QuotaResource;
use weir_core::{Error, ResourceKind};

use crate::common::{self, unix_now, Use, BODY_LIMIT};
use crate::Dialects;

/// An Alibaba Cloud error: status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl AliError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    pub fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("The input parameter \"{name}\" that is mandatory for processing this request is not supplied."),
        )
    }

    /// The canonical error on Alibaba's wire: one exhaustive table.
    pub fn from_control(e: ControlError) -> Self {
        use StatusCode as S;
        let domain = match e {
            ControlError::Domain(d) => d,
            ControlError::AdminOnly | ControlError::ReadOnly(_) => {
                return Self::new(S::FORBIDDEN, "Forbidden.RAM", e.to_string())
            }
            ControlError::Store(_) => {
                tracing::error!(error = %e, "aliyun: store failure");
                return Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    e.client_message(),
                );
            }
            ControlError::Unavailable
            | ControlError::StoreUnavailable(_)
            | ControlError::CommitOutcomeUnknown(_) => {
                tracing::warn!(error = %e, "aliyun: unavailable");
                return Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    e.client_message(),
                );
            }
        };
        let message = aliyun_names(&domain.to_string());
        let (status, code) = match &domain {
            Error::NotFound { kind, .. } => match kind {
                ResourceKind::LoadBalancer => (S::NOT_FOUND, "InvalidLoadBalancerId.NotFound"),
                ResourceKind::Listener => (S::NOT_FOUND, "InvalidListener.NotFound"),
                ResourceKind::Pool => (S::NOT_FOUND, "InvalidVServerGroupId.NotFound"),
                ResourceKind::Instance => (S::NOT_FOUND, "InvalidServerId.NotFound"),
                ResourceKind::Backend => (S::NOT_FOUND, "BackendServer.NotExist"),
                ResourceKind::Subnet => (S::NOT_FOUND, "InvalidVSwitchId.NotFound"),
                ResourceKind::Vpc => (S::NOT_FOUND, "InvalidVpcId.NotFound"),
                ResourceKind::Project | ResourceKind::Credential => (S::FORBIDDEN, "Forbidden.RAM"),
                ResourceKind::Certificate => (S::NOT_FOUND, "ServerCertificateId.NotFound"),
                // Octavia's flavors; SLB never names one.
                ResourceKind::FlavorProfile | ResourceKind::Flavor => {
                    (S::NOT_FOUND, "InvalidParameter.NotFound")
                }
                // The key manager is OpenStack's; SLB never names its ids.
                ResourceKind::Secret | ResourceKind::Container => {
                    (S::NOT_FOUND, "InvalidParameter.NotFound")
                }
                ResourceKind::L7Policy | ResourceKind::L7Rule => {
                    (S::NOT_FOUND, "InvalidRuleId.NotFound")
                }
                ResourceKind::DomainExtension => (S::NOT_FOUND, "DomainExtensionId.NotFound"),
                ResourceKind::Acl => (S::NOT_FOUND, "AclNotExist"),
            },
            Error::InvalidField { .. }
            | Error::InstanceTypeMismatch { .. }
            | Error::InstanceAddressMismatch { .. }
            | Error::BareMetalByAddressOnly { .. }
            | Error::AddressNotPrivate { .. }
            | Error::AddressReserved { .. }
            | Error::AddressNotInNetwork { .. }
            | Error::VipNotAllowed { .. }
            | Error::AddressNotInstance { .. }
            | Error::AddressNotInSubnet { .. }
            | Error::PortNotAllowed { .. } => (S::BAD_REQUEST, "InvalidParameter"),
            Error::SubnetNotInVpc { .. } => (S::BAD_REQUEST, "InvalidVSwitchId.Mismatch"),
            Error::InstanceNotInVpc { .. } => (S::BAD_REQUEST, "InvalidServerId.VpcMismatch"),
            Error::BorderGatewayRequired { .. } => {
                (S::BAD_REQUEST, "InvalidServerId.BorderGatewayRequired")
            }
            Error::LoadBalancerNotRunning { .. } => (S::BAD_REQUEST, "IncorrectLoadBalancerStatus"),
            Error::InstanceNotRunning { .. } => (S::BAD_REQUEST, "IncorrectBackendServerStatus"),
            Error::BackendExists { .. }
            | Error::InstanceAlreadyRegistered { .. }
            | Error::DuplicateInstanceInRequest { .. }
            | Error::DuplicateAddressInRequest { .. } => {
                (S::BAD_REQUEST, "BackendServer.AlreadyExists")
            }
            Error::QuotaExceeded { kind, .. } => match kind {
                QuotaKind::BackendsPerPool => (S::BAD_REQUEST, "QuotaExceeded.BackendServer"),
                QuotaKind::BackendsPerRequest => {
                    (S::BAD_REQUEST, "InvalidParameter.BackendServersTooMany")
                }
                QuotaKind::LoadBalancersPerProject => {
                    (S::BAD_REQUEST, "QuotaExceeded.LoadBalancersPerUser")
                }
                QuotaKind::ListenersPerLoadBalancer => {
                    (S::BAD_REQUEST, "QuotaExceeded.ListenersPerLoadBalancer")
                }
                QuotaKind::ServerGroupsPerLoadBalancer => {
                    (S::BAD_REQUEST, "QuotaExceeded.VServerGroupsPerLoadBalancer")
                }
                QuotaKind::CertificatesPerProject => {
                    (S::BAD_REQUEST, "QuotaExceeded.ServerCertificatesPerUser")
                }
                QuotaKind::L7PoliciesPerListener
                | QuotaKind::L7RulesPerPolicy
                | QuotaKind::L7RulesPerListener => {
                    (S::BAD_REQUEST, "QuotaExceeded.RulesPerListener")
                }
                QuotaKind::AclsPerProject => (S::BAD_REQUEST, "QuotaExceeded.AclsPerUser"),
                QuotaKind::AclEntriesPerAcl => (S::BAD_REQUEST, "QuotaExceeded.AclEntry"),
                // Networks are made through Neutron, never through SLB.
                QuotaKind::NetworksPerProject | QuotaKind::SubnetsPerProject => {
                    (S::BAD_REQUEST, "QuotaExceeded")
                }
                QuotaKind::SecretsPerProject | QuotaKind::ContainersPerProject => {
                    (S::BAD_REQUEST, "QuotaExceeded.ServerCertificatesPerUser")
                }
                // A project quota the operator set (Octavia's quotas API)
                // binds SLB calls too, in SLB's words for that resource.
                QuotaKind::Project(r) => (
                    S::BAD_REQUEST,
                    match r {
                        QuotaResource::Member => "QuotaExceeded.BackendServer",
                        QuotaResource::Listener => "QuotaExceeded.ListenersPerLoadBalancer",
                        QuotaResource::Pool => "QuotaExceeded.VServerGroupsPerLoadBalancer",
                        QuotaResource::L7Policy | QuotaResource::L7Rule => {
                            "QuotaExceeded.RulesPerListener"
                        }
                        QuotaResource::LoadBalancer => "QuotaExceeded.LoadBalancersPerUser",
                        QuotaResource::HealthMonitor => "QuotaExceeded",
                    },
                ),
            },
            Error::IdempotencyMismatch { .. } => (S::BAD_REQUEST, "IdempotentParameterMismatch"),
            Error::ListenerPortInUse { .. } => (S::BAD_REQUEST, "ListenerAlreadyExists"),
            Error::Conflict { .. } => (S::BAD_REQUEST, "OperationFailed.Conflict"),
            // SLB's own checks are TCP, HTTP and UDP; mapped for completeness.
            Error::Unsupported { .. } => (S::BAD_REQUEST, "UnsupportedOperation"),
        };
        let message = match &domain {
            Error::BackendExists { address, port, .. } => format!(
                "The backend server {} already exists in the server group.",
                crate::common::endpoint(*address, *port)
            ),
            _ => message,
        };
        Self::new(status, code, message)
    }
}

/// Core messages name fields the native way; Alibaba callers know theirs.
fn aliyun_names(message: &str) -> String {
    message
        .replace("backends[", "BackendServers[")
        .replace("].instance_id", "].ServerId")
        .replace("].address", "].ServerIp")
        .replace("].weight", "].Weight")
}

/// A request's parameters (query, then form body) and how it signed.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// A parameter by name; the first letter's case is not significant,
    /// as the SDKs spell some (`healthCheckInterval`) both ways.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every parameter's name, in the order sent.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    /// Whether any parameter's name starts with `prefix` (`Tag.` for the
    /// `Tag.N.Key` lists), case-insensitively as [`Params::opt`].
    pub fn any_prefixed(&self, prefix: &str) -> bool {
        self.pairs
            .iter()
            .any(|(k, _)| k.len() >= prefix.len() && k[..prefix.len()].eq_ignore_ascii_case(prefix))
    }

    pub fn req(&self, name: &str) -> Result<&str, AliError> {
        self.opt(name).ok_or_else(|| AliError::missing(name))
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, AliError> {
        self.opt(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    AliError::invalid(format!(
                        "The parameter {name} is invalid: {v:?} is not an integer."
                    ))
                })
            })
            .transpose()
    }
}

/// Who is calling and with what.
pub struct Call {
    pub dialects: Dialects,
    pub principal: Principal,
    pub params: Params,
}

impl Call {
    /// The `RegionId` asked for, or the deployment's default.
    pub fn region(&self) -> String {
        self.params
            .opt("RegionId")
            .unwrap_or_else(|| self.dialects.control.settings().default_region())
            .to_owned()
    }
}

pub(crate) fn routes() -> Router<Dialects> {
    Router::new().route("/", any(endpoint))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn endpoint(State(d): State<Dialects>, req: Request) -> Response {
    let request_id = common::request_id();
    let (parts, body) = req.into_parts();
    let host = header_str(&parts.headers, "host")
        .unwrap_or("slb.aliyuncs.com")
        .to_owned();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()).unwrap_or_default();
    let xml = query
        .iter()
        .any(|(k, v)| k == "Format" && v.eq_ignore_ascii_case("XML"));
    let action = query
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .or_else(|| header_str(&parts.headers, "x-acs-action").map(str::to_owned))
        .unwrap_or_default();
    let outcome = async {
        let body = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
            AliError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("The request body is larger than {BODY_LIMIT} bytes."),
            )
        })?;
        let mut pairs = query.clone();
        let form = header_str(&parts.headers, "content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if form && !body.is_empty() {
            let more: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AliError::invalid(format!("The form body cannot be parsed: {e}")))?;
            pairs.extend(more);
        }
        let principal =
            authenticate(&d, &parts.method, &parts.headers, &query, &pairs, &body).await?;
        let params = Params { pairs };
        if let Some(region) = params.opt("RegionId") {
            if !d.control.settings().knows_region(region) {
                return Err(AliError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidRegionId",
                    format!(
                        "The specified RegionId {region:?} does not exist (regions: {}).",
                        d.control.settings().regions.join(", ")
                    ),
                ));
            }
        }
        if action.is_empty() {
            return Err(AliError::missing("Action"));
        }
        let call = Call {
            dialects: d.clone(),
            principal,
            params,
        };
        slb::dispatch(&call, &action).await
    }
    .await;
    match outcome {
        Ok(mut body) => {
            if let Value::Object(map) = &mut body {
                map.insert("RequestId".to_owned(), json!(request_id));
            }
            render(StatusCode::OK, &format!("{action}Response"), &body, xml)
        }
        Err(e) => {
            let body = json!({
                "RequestId": request_id,
                "HostId": host,
                "Code": e.code,
                "Message": e.message,
                "Recommend": "",
            });
            render(e.status, "Error", &body, xml)
        }
    }
}

fn render(status: StatusCode, root: &str, body: &Value, xml: bool) -> Response {
    if xml {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        to_xml(root, body, &mut out);
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml;charset=utf-8"),
            )],
            out,
        )
            .into_response()
    } else {
        (status, axum::Json(body.clone())).into_response()
    }
}

/// JSON as Alibaba's XML: objects are elements, arrays repeat their key.
fn to_xml(name: &str, value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                to_xml(name, item, out);
            }
        }
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                to_xml(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn authenticate(
    d: &Dialects,
    method: &axum::http::Method,
    headers: &HeaderMap,
    query: &[(String, String)],
    pairs: &[(String, String)],
    body: &[u8],
) -> Result<Principal, AliError> {
    let bad =
        |code: &'static str, message: String| AliError::new(StatusCode::BAD_REQUEST, code, message);
    let now = unix_now();
    let (key, nonce) = if pairs.iter().any(|(k, _)| k == "Signature") {
        let key_id = pairs
            .iter()
            .find(|(k, _)| k == "AccessKeyId")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| AliError::missing("AccessKeyId"))?;
        let key = lookup(d, &key_id).await?;
        sign::v1_verify(method.as_str(), pairs, &key.secret, now).map_err(sign_error)?;
        let nonce = pairs
            .iter()
            .find(|(k, _)| k == "SignatureNonce")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        (key, nonce)
    } else {
        let authorization = header_str(headers, "authorization").ok_or_else(|| {
            bad("IncompleteSignature", "The request carries neither a Signature parameter nor an ACS3 Authorization header.".to_owned())
        })?;
        let auth = sign::parse_acs3(authorization).map_err(sign_error)?;
        let key = lookup(d, &auth.access_key_id).await?;
        let lowered: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let parts = sign::Acs3Parts {
            method: method.as_str(),
            query,
            headers: &lowered,
            body,
        };
        sign::acs3_verify(&parts, &auth, &key.secret, now).map_err(sign_error)?;
        let nonce = header_str(headers, "x-acs-signature-nonce")
            .unwrap_or_default()
            .to_owned();
        (key, nonce)
    };
    match d
        .aliyun_nonces
        .offer(key.project_id.as_str(), nonce.as_bytes(), Instant::now())
    {
        Use::First => Ok(key.principal()),
        Use::Replayed => Err(bad(
            "SignatureNonceUsed",
            "The request signature nonce has been used.".to_owned(),
        )),
        // aliyunsdkcore retries `Throttling` with a fresh nonce.
        Use::Full => Err(bad(
            "Throttling",
            format!(
                "Request was denied due to request throttling: this project has {} signature nonces still inside their 30-minute window; retry later.",
                d.replay_limits().per_project
            ),
        )),
    }
}

async fn lookup(d: &Dialects, key_id: &str) -> Result<weir_control::AccessKey, AliError> {
    d.control
        .access_key(key_id)
        .await
        .map_err(AliError::from_control)?
        .ok_or_else(|| {
            AliError::new(
                StatusCode::NOT_FOUND,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
}

fn sign_error(e: sign::SignError) -> AliError {
    match e {
        sign::SignError::Malformed(why) => AliError::new(StatusCode::BAD_REQUEST, "IncompleteSignature", why),
        sign::SignError::Expired { skew_secs } => AliError::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            format!("Specified time stamp or date value is expired ({skew_secs} s from the server clock, at most 900 s)."),
        ),
        // The classic SDK splits this message at ':' and compares the
        // second piece with its own string to sign.
        sign::SignError::Mismatch { string_to_sign } => AliError::new(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"),
        ),
    }
}
