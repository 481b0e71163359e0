//! SLB server certificates: `UploadServerCertificate`,
//! `DescribeServerCertificates`, `DeleteServerCertificate`, over Weir's
//! certificates (`/v1/certificates`: checked by `weir-tls`, the key
//! sealed at rest). Certificates from Alibaba's certificate service
//! (`AliCloudCertificateId`) and resource groups are not Weir's: refused.
//! CA certificates (`UploadCACertificate`, `DescribeCACertificates`,
//! `DeleteCACertificate`): Weir's of kind CA, named by an HTTPS listener's
//! `CACertificateId` (two-way authentication). Each family sees only its
//! own kind: a server certificate is not found as a CA certificate, and
//! the other way round.

use serde_json::{json, Value};
use weir_control::{UploadedCa, UploadedCertificate};
use weir_core::ids::CertificateId;
use weir_core::model::{Certificate, CertificateKind};

use super::{AliError, Call};

type ActionResult = Result<Value, AliError>;

fn view(c: &Certificate, region: &str) -> Value {
    let common_name = c
        .subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .unwrap_or_default();
    json!({
        "ServerCertificateId": c.id.as_str(),
        "ServerCertificateName": c.name,
        // SLB shows an MD5-looking colon list; Weir's is SHA-256, in hex.
        "Fingerprint": c.fingerprint_sha256,
        "CommonName": common_name,
        "SubjectAlternativeNames": {"SubjectAlternativeName": c.names},
        "ExpireTime": c.not_after.to_string(),
        "ExpireTimeStamp": c.not_after.millis(),
        "CreateTime": c.created_at.to_string(),
        "CreateTimeStamp": c.created_at.millis(),
        "RegionId": region,
        "IsAliCloudCertificate": 0,
        "AliCloudCertificateId": "",
        "AliCloudCertificateName": "",
        "ResourceGroupId": "",
    })
}

fn refuse_foreign(call: &Call) -> Result<(), AliError> {
    for name in [
        "AliCloudCertificateId",
        "AliCloudCertificateName",
        "AliCloudCertificateRegionId",
    ] {
        if call.params.opt(name).is_some() {
            return Err(AliError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "UnsupportedOperation",
                format!("{name}: certificates of Alibaba Cloud's certificate service are not served; upload the PEM (ServerCertificate, PrivateKey)"),
            ));
        }
    }
    if call.params.any_prefixed("Tag.") {
        return Err(AliError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "UnsupportedOperation",
            "Tag: tags on server certificates are not kept",
        ));
    }
    if call.params.opt("ResourceGroupId").is_some() {
        return Err(AliError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "UnsupportedOperation",
            "ResourceGroupId: resource groups are not kept",
        ));
    }
    Ok(())
}

pub(super) async fn upload(call: &Call) -> ActionResult {
    refuse_foreign(call)?;
    let upload = UploadedCertificate {
        project_id: None,
        name: call
            .params
            .opt("ServerCertificateName")
            .unwrap_or_default()
            .to_owned(),
        certificate: call.params.req("ServerCertificate")?.to_owned(),
        private_key: call.params.req("PrivateKey")?.to_owned(),
        required_names: Vec::new(),
    };
    let made = call
        .dialects
        .control
        .create_certificate(&call.principal, upload)
        .await
        .map_err(AliError::from_control)?;
    Ok(view(&made, &call.region()))
}

pub(super) async fn describe(call: &Call) -> ActionResult {
    refuse_foreign(call)?;
    let region = call.region();
    let control = &call.dialects.control;
    let wanted: Option<Vec<&str>> = call
        .params
        .opt("ServerCertificateId")
        .map(|ids| ids.split(',').map(str::trim).collect());
    let listed: Vec<Value> = control
        .list_certificates(&call.principal)
        .await
        .map_err(AliError::from_control)?
        .iter()
        .filter(|c| c.kind == CertificateKind::Server)
        .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(&c.id.as_str())))
        .map(|c| view(c, &region))
        .collect();
    Ok(json!({"ServerCertificates": {"ServerCertificate": listed}}))
}

/// Deletes a certificate of `kind` (another kind is not found under that
/// action's parameter, `code`).
async fn delete_kind(
    call: &Call,
    param: &str,
    kind: CertificateKind,
    code: &'static str,
) -> ActionResult {
    let id = CertificateId::new(call.params.req(param)?);
    let control = &call.dialects.control;
    let found = control
        .get_certificate(&call.principal, &id)
        .await
        .map_err(AliError::from_control)?;
    if found.kind != kind {
        return Err(AliError::new(
            axum::http::StatusCode::NOT_FOUND,
            code,
            format!("The specified {param} {id} does not exist."),
        ));
    }
    control
        .delete_certificate(&call.principal, id)
        .await
        .map_err(AliError::from_control)?;
    Ok(json!({}))
}

pub(super) async fn delete(call: &Call) -> ActionResult {
    delete_kind(
        call,
        "ServerCertificateId",
        CertificateKind::Server,
        "ServerCertificateId.NotFound",
    )
    .await
}

fn ca_view(c: &Certificate, region: &str) -> Value {
    let common_name = c
        .subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .unwrap_or_default();
    json!({
        "CACertificateId": c.id.as_str(),
        "CACertificateName": c.name,
        "Fingerprint": c.fingerprint_sha256,
        "CommonName": common_name,
        "ExpireTime": c.not_after.to_string(),
        "ExpireTimeStamp": c.not_after.millis(),
        "CreateTime": c.created_at.to_string(),
        "CreateTimeStamp": c.created_at.millis(),
        "RegionId": region,
        "ResourceGroupId": "",
    })
}

/// `CACertificateId.NotFound` for the CA actions (the control names any
/// certificate as a server certificate).
fn ca_error(e: weir_control::ControlError) -> AliError {
    let mut err = AliError::from_control(e);
    if err.code == "ServerCertificateId.NotFound" {
        err.code = "CACertificateId.NotFound";
    }
    err
}

pub(super) async fn upload_ca(call: &Call) -> ActionResult {
    refuse_foreign(call)?;
    let upload = UploadedCa {
        project_id: None,
        name: call
            .params
            .opt("CACertificateName")
            .unwrap_or_default()
            .to_owned(),
        certificate: call.params.req("CACertificate")?.to_owned(),
    };
    let made = call
        .dialects
        .control
        .create_ca_certificate(&call.principal, upload)
        .await
        .map_err(ca_error)?;
    Ok(ca_view(&made, &call.region()))
}

pub(super) async fn describe_ca(call: &Call) -> ActionResult {
    refuse_foreign(call)?;
    let region = call.region();
    let wanted: Option<Vec<&str>> = call
        .params
        .opt("CACertificateId")
        .map(|ids| ids.split(',').map(str::trim).collect());
    let listed: Vec<Value> = call
        .dialects
        .control
        .list_certificates(&call.principal)
        .await
        .map_err(ca_error)?
        .iter()
        .filter(|c| c.kind == CertificateKind::Ca)
        .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(&c.id.as_str())))
        .map(|c| ca_view(c, &region))
        .collect();
    Ok(json!({"CACertificates": {"CACertificate": listed}}))
}

pub(super) async fn delete_ca(call: &Call) -> ActionResult {
    delete_kind(
        call,
        "CACertificateId",
        CertificateKind::Ca,
        "CACertificateId.NotFound",
    )
    .await
    .map_err(|mut e| {
        if e.code == "ServerCertificateId.NotFound" {
            e.code = "CACertificateId.NotFound";
        }
        e
    })
}
