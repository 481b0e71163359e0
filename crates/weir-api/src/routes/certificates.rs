//! TLS certificates: uploaded as PEM with their private key, shown
//! without it.

use weir_control::UploadedCertificate;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateCertificate {
    /// The operator names the project; a project may name its own.
    project_id: Option<String>,
    #[serde(default)]
    name: String,
    /// PEM chain, leaf first.
    certificate: String,
    /// PEM private key of the leaf.
    private_key: String,
}

pub(super) async fn create_certificate(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateCertificate>,
) -> ApiResult {
    let upload = UploadedCertificate {
        project_id: req.project_id.map(ProjectId::new),
        name: req.name,
        certificate: req.certificate,
        private_key: req.private_key,
        required_names: Vec::new(),
    };
    created(CertificateView::from(
        &c.create_certificate(&p, upload).await?,
    ))
}

pub(super) async fn list_certificates(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let list = c.list_certificates(&p).await?;
    ok(json!({"certificates": views::<_, CertificateView>(&list)}))
}

pub(super) async fn get_certificate(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    let found = c.get_certificate(&p, &CertificateId::new(id)).await?;
    ok(CertificateView::from(&found))
}

pub(super) async fn delete_certificate(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_certificate(&p, CertificateId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
