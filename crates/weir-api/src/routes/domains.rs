//! Domain extensions of HTTPS listeners: a domain served with a chosen
//! certificate before any certificate's own names (Aliyun's
//! Create/Set/DeleteDomainExtension reach the same control method).
//! Each change answers the listener as it now is.

use weir_core::sni::DomainExtensionChange;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDomainBody {
    domain: String,
    certificate_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetDomainBody {
    certificate_id: String,
}

async fn change(
    c: &Control,
    p: &weir_control::Principal,
    id: String,
    change: DomainExtensionChange,
) -> ApiResult {
    let listener = c
        .change_domain_extension(p, ListenerId::new(id), change)
        .await?;
    ok(listener_view(c, &listener))
}

pub(super) async fn add_domain(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NewDomainBody>,
) -> ApiResult {
    let add = DomainExtensionChange::Add {
        domain: req.domain,
        certificate_id: req.certificate_id,
    };
    let mut response = change(&c, &p, id, add).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub(super) async fn set_domain(
    State(c): State<Control>,
    Auth(p): Auth,
    Path((id, domain_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<SetDomainBody>,
) -> ApiResult {
    let set = DomainExtensionChange::Set {
        id: domain_id,
        certificate_id: req.certificate_id,
    };
    change(&c, &p, id, set).await
}

pub(super) async fn delete_domain(
    State(c): State<Control>,
    Auth(p): Auth,
    Path((id, domain_id)): Path<(String, String)>,
) -> ApiResult {
    change(&c, &p, id, DomainExtensionChange::Delete { id: domain_id }).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
