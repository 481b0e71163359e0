//! TLS certificates: uploaded as PEM with their private key, shown
//! without it; CA certificates (`type: "ca"`, no key), which listeners
//! verify client certificates with.

use weir_control::{UploadedCa, UploadedCertificate};

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
    /// PEM private key of the leaf; never with `type: "ca"`.
    private_key: Option<String>,
    /// `server` (default) or `ca`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(super) async fn create_certificate(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<CreateCertificate>,
) -> ApiResult {
    let ca = match req.kind.as_deref() {
        None | Some("server") => false,
        Some("ca") => true,
        Some(other) => {
            return Err(weir_core::Error::invalid(
                "type",
                format!("{other:?} is not one of server, ca"),
            )
            .into())
        }
    };
    if ca {
        if req.private_key.is_some() {
            return Err(weir_core::Error::invalid(
                "private_key",
                "a CA certificate has no private key: upload the CA certificates only",
            )
            .into());
        }
        let upload = UploadedCa {
            project_id: req.project_id.map(ProjectId::new),
            name: req.name,
            certificate: req.certificate,
        };
        return created(CertificateView::from(
            &c.create_ca_certificate(&p, upload).await?,
        ));
    }
    let Some(private_key) = req.private_key else {
        return Err(weir_core::Error::invalid(
            "private_key",
            "a server certificate needs its private key (PEM)",
        )
        .into());
    };
    let upload = UploadedCertificate {
        project_id: req.project_id.map(ProjectId::new),
        name: req.name,
        certificate: req.certificate,
        private_key,
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
