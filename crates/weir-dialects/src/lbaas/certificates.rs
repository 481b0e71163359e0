//! Huawei ELB v2's `/certificates` (shared load balancers): a project's
//! server certificates and `client` (CA) certificates, the bundle a
//! listener's `client_ca_tls_container_ref` verifies client certificates
//! with (no private key: Huawei ignores one sent with a `client`
//! certificate, Weir refuses it, since a key uploaded where none belongs
//! is a mistake to report, not a secret to drop silently), as
//! `huaweicloudsdkelb`'s `create_certificate`,
//! `list_certificates`, `show_certificate` and `delete_certificate` send
//! them. Bodies are flat (no wrapper object). They are Weir's certificates
//! (`/v1/certificates`): checked by `weir-tls`, the key sealed at rest.
//! Huawei's answers carry `private_key`; Weir's never do (the field reads
//! null), so no API returns a key once uploaded.

use weir_control::{UploadedCa, UploadedCertificate};
use weir_core::model::CertificateKind;

use super::*;

/// Huawei's time format: `2026-12-07 05:00:00`.
fn huawei_time(t: weir_core::Timestamp) -> String {
    let text = t.to_string();
    format!("{} {}", &text[..10], &text[11..19])
}

fn certificate_view(c: &Certificate) -> Value {
    json!({
        "id": c.id.as_str(),
        "tenant_id": c.project_id.as_str(),
        "project_id": c.project_id.as_str(),
        "admin_state_up": true,
        "name": c.name,
        "description": "",
        "type": match c.kind {
            CertificateKind::Server => "server",
            CertificateKind::Ca => "client",
        },
        "domain": if c.names.is_empty() { Value::Null } else { Value::from(c.names.join(",")) },
        "private_key": null,
        "certificate": null,
        "expire_time": huawei_time(c.not_after),
        "create_time": huawei_time(c.created_at),
        "update_time": huawei_time(c.created_at),
        "subject": c.subject,
        "fingerprint_sha256": c.fingerprint_sha256,
    })
}

/// The create body; every field Huawei documents is read, and honoured
/// or refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    certificate: Option<String>,
    private_key: Option<String>,
    name: Option<String>,
    description: Option<String>,
    /// The names the certificate serves, comma-separated: each must be one
    /// of the certificate's own (Weir serves a certificate for the names
    /// it carries, nothing else).
    domain: Option<String>,
    admin_state_up: Option<bool>,
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    enterprise_project_id: Option<String>,
    source: Option<String>,
    protection_status: Option<String>,
    protection_reason: Option<String>,
}

fn flat_body<T: DeserializeOwned>(raw: &[u8]) -> Result<T, LbaasError> {
    let value: Value = parse_json(raw).map_err(problem)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {path}: {}",
            e.into_inner()
        ))
    })
}

pub(super) async fn create_certificate(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateBody = flat_body(&raw)?;
    let unsupported = |what: &str| Err(LbaasError::unsupported(what.to_owned()));
    let client = match req.kind.as_deref() {
        None | Some("server") => false,
        Some("client") => true,
        Some(other) => {
            return Err(LbaasError::bad_request(format!(
                "Invalid input for field/attribute type. Value: '{other}'. Value should be \
                 one of server, client"
            )))
        }
    };
    if req.admin_state_up == Some(false) {
        return unsupported("a disabled certificate");
    }
    if req.description.as_deref().is_some_and(|d| !d.is_empty()) {
        return unsupported("certificate descriptions");
    }
    if req.source.as_deref().is_some_and(|s| !s.is_empty())
        || req
            .protection_status
            .as_deref()
            .is_some_and(|s| s != "nonProtection")
        || req
            .protection_reason
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    {
        return unsupported("certificate source and protection settings");
    }
    if req
        .enterprise_project_id
        .as_deref()
        .is_some_and(|e| e != "0")
    {
        return unsupported("enterprise projects");
    }
    if req
        .project_id
        .as_deref()
        .is_some_and(|p| Some(p) != ctx.principal.scope().map(ProjectId::as_str))
    {
        return Err(LbaasError::new(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            "project_id is not the project of this access key",
        ));
    }
    if client {
        if req.private_key.as_deref().is_some_and(|k| !k.is_empty()) {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute private_key. A client (CA) certificate \
                 has no private key: upload the CA certificates only.",
            ));
        }
        if req.domain.as_deref().is_some_and(|d| !d.trim().is_empty()) {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute domain. Only a server certificate names \
                 domains.",
            ));
        }
        let Some(certificate) = req.certificate else {
            return Err(LbaasError::bad_request(
                "Invalid input for field/attribute certificate. Mandatory field missing.",
            ));
        };
        let upload = UploadedCa {
            project_id: None,
            name: req.name.unwrap_or_default(),
            certificate,
        };
        let made = d
            .control
            .create_ca_certificate(&ctx.principal, upload)
            .await
            .map_err(fail)?;
        return ok(certificate_view(&made));
    }
    let (Some(certificate), Some(private_key)) = (req.certificate, req.private_key) else {
        return Err(LbaasError::bad_request(
            "Invalid input for field/attribute certificate, private_key. Mandatory field missing.",
        ));
    };
    let required_names = req
        .domain
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let upload = UploadedCertificate {
        project_id: None,
        name: req.name.unwrap_or_default(),
        certificate,
        private_key,
        required_names,
    };
    let made = d
        .control
        .create_certificate(&ctx.principal, upload)
        .await
        .map_err(fail)?;
    ok(certificate_view(&made))
}

pub(super) async fn list_certificates(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let all = d
        .control
        .list_certificates(&ctx.principal)
        .await
        .map_err(fail)?;
    let items = all.iter().map(certificate_view).collect();
    let mut listed = listing::list(items, &q, "certificates", &here)?;
    let count = listed["certificates"].as_array().map_or(0, Vec::len);
    listed["instance_num"] = count.into();
    ok(listed)
}

pub(super) async fn show_certificate(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let id = CertificateId::new(param(&p, "certificate_id"));
    let found = d
        .control
        .get_certificate(&ctx.principal, &id)
        .await
        .map_err(fail)?;
    ok(certificate_view(&found))
}

pub(super) async fn update_certificate(
    Extension(_ctx): Extension<Ctx>,
    Path(_p): Path<HashMap<String, String>>,
) -> LbResult {
    Err(LbaasError::unsupported(
        "changing a certificate: upload the new one and point the listener at it".to_owned(),
    ))
}

pub(super) async fn delete_certificate(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let id = CertificateId::new(param(&p, "certificate_id"));
    d.control
        .delete_certificate(&ctx.principal, id)
        .await
        .map_err(fail)?;
    no_content()
}

/// The routes, for the Huawei dialect only (Octavia keeps certificates in
/// Barbican).
pub fn routes() -> Router<Dialects> {
    Router::new()
        .route(
            "/certificates",
            get(list_certificates).post(create_certificate),
        )
        .route(
            "/certificates/{certificate_id}",
            get(show_certificate)
                .put(update_certificate)
                .delete(delete_certificate),
        )
}
