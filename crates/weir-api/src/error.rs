//! Error responses: `{"error":{"code","message"[,"field"]},"request_id"}`.
//! The table from the canonical error to HTTP status and code is
//! [`status_and_code`]; it has no catch-all arm on purpose.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use weir_control::ControlError;
use weir_core::error::QuotaKind;
use weir_core::Error;

use crate::edge::current_request_id;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// A 400 for a body that could not be read as the expected JSON.
    pub fn invalid_request(message: String, field: Option<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidRequest",
            message,
            field,
        }
    }

    /// A 401: no or an unknown token.
    pub fn unauthenticated(message: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "Unauthenticated",
            message: message.to_owned(),
            field: None,
        }
    }
}

/// The native status and code of every domain error.
pub fn status_and_code(e: &Error) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match e {
        Error::NotFound { .. } => (S::NOT_FOUND, "NotFound"),
        Error::InvalidField { .. } => (S::BAD_REQUEST, "InvalidField"),
        Error::LoadBalancerNotRunning { .. } => (S::CONFLICT, "LoadBalancerNotRunning"),
        Error::InstanceNotRunning { .. } => (S::CONFLICT, "InstanceNotRunning"),
        Error::InstanceNotInVpc { .. } => (S::BAD_REQUEST, "InstanceNotInVpc"),
        Error::InstanceTypeMismatch { .. } => (S::BAD_REQUEST, "InstanceTypeMismatch"),
        Error::InstanceAddressMismatch { .. } => (S::BAD_REQUEST, "InstanceAddressMismatch"),
        Error::BareMetalByAddressOnly { .. } => (S::BAD_REQUEST, "BareMetalByAddressOnly"),
        Error::BorderGatewayRequired { .. } => (S::CONFLICT, "BorderGatewayRequired"),
        Error::AddressNotPrivate { .. } => (S::BAD_REQUEST, "AddressNotPrivate"),
        Error::AddressReserved { .. } => (S::BAD_REQUEST, "AddressReserved"),
        Error::AddressNotInNetwork { .. } => (S::BAD_REQUEST, "AddressNotInNetwork"),
        Error::VipNotAllowed { .. } => (S::BAD_REQUEST, "VipNotAllowed"),
        Error::AddressNotInstance { .. } => (S::BAD_REQUEST, "AddressNotInstance"),
        Error::AddressNotInSubnet { .. } => (S::BAD_REQUEST, "AddressNotInSubnet"),
        Error::SubnetNotInVpc { .. } => (S::BAD_REQUEST, "SubnetNotInVpc"),
        Error::PortNotAllowed { .. } => (S::BAD_REQUEST, "PortNotAllowed"),
        Error::BackendExists { .. } => (S::CONFLICT, "BackendExists"),
        Error::InstanceAlreadyRegistered { .. } => (S::CONFLICT, "InstanceAlreadyRegistered"),
        Error::DuplicateInstanceInRequest { .. } => (S::CONFLICT, "DuplicateInstanceInRequest"),
        Error::DuplicateAddressInRequest { .. } => (S::CONFLICT, "DuplicateAddressInRequest"),
        Error::QuotaExceeded {
            kind: QuotaKind::BackendsPerPool,
            ..
        } => (S::FORBIDDEN, "QuotaExceeded"),
        Error::QuotaExceeded {
            kind: QuotaKind::BackendsPerRequest,
            ..
        } => (S::BAD_REQUEST, "TooManyBackendsInRequest"),
        Error::QuotaExceeded {
            kind:
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
                | QuotaKind::Project(_),
            ..
        } => (S::FORBIDDEN, "QuotaExceeded"),
        Error::IdempotencyMismatch { .. } => (S::CONFLICT, "ClientTokenReused"),
        Error::ListenerPortInUse { .. } => (S::CONFLICT, "Conflict"),
        Error::Conflict { .. } => (S::CONFLICT, "Conflict"),
        Error::Unsupported { .. } => (S::NOT_IMPLEMENTED, "Unsupported"),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = status_and_code(&e);
        let field = match &e {
            Error::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        Self {
            status,
            code,
            message: e.to_string(),
            field,
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let (status, code, message) = match e {
            ControlError::Domain(e) => return e.into(),
            ControlError::AdminOnly | ControlError::ReadOnly(_) => {
                (StatusCode::FORBIDDEN, "Forbidden", e.to_string())
            }
            ControlError::Store(ref detail) => {
                // Logged here, where it is handled; the client gets no internals.
                tracing::error!(%detail, "store failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal",
                    e.client_message(),
                )
            }
            ControlError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                e.to_string(),
            ),
            ControlError::StoreUnavailable(ref detail) => {
                tracing::error!(%detail, "store unreachable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    e.client_message(),
                )
            }
            ControlError::CommitOutcomeUnknown(ref detail) => {
                tracing::error!(%detail, "commit outcome unknown");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "CommitOutcomeUnknown",
                    e.client_message(),
                )
            }
        };
        Self {
            status,
            code,
            message,
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        let body = json!({"error": error, "request_id": current_request_id()});
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_commit_outcome_is_a_retryable_503_that_says_so() {
        let e = ApiError::from(ControlError::CommitOutcomeUnknown(
            "connection reset (internal detail)".into(),
        ));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "CommitOutcomeUnknown");
        assert!(e.message.contains("may have happened"), "{}", e.message);
        assert!(e.message.contains("same client token"), "{}", e.message);
        assert!(!e.message.contains("internal detail"), "{}", e.message);
    }
}
