//! Domain extensions of HTTPS listeners: `CreateDomainExtension`,
//! `DescribeDomainExtensions`, `DescribeDomainExtensionAttribute`,
//! `SetDomainExtensionAttribute`, `DeleteDomainExtension`, over the
//! core's [`weir_core::sni`] (a domain served with a chosen certificate
//! before any certificate's own names). An extension's id names its
//! listener, so the actions that give only the id find it without a
//! search; another project's id is not found, as one that never was.

use super::*;
use weir_core::sni::{self, DomainExtensionChange};

pub(super) fn view(d: &DomainExtension) -> Value {
    json!({
        "DomainExtensionId": d.id,
        "Domain": d.domain,
        "ServerCertificateId": d.certificate_id.as_str(),
    })
}

fn not_found(id: &str) -> AliError {
    AliError::new(
        axum::http::StatusCode::NOT_FOUND,
        "DomainExtensionId.NotFound",
        format!("The specified domain extension {id} does not exist."),
    )
}

/// The listener holding extension `id` and the extension itself.
async fn find(call: &Call, id: &str) -> Result<(Listener, DomainExtension), AliError> {
    let listener_id = sni::listener_of_extension(id).ok_or_else(|| not_found(id))?;
    let listener = call
        .dialects
        .control
        .get_listener(&call.principal, &listener_id)
        .await
        .map_err(|e| match fail(e) {
            e if e.code == "InvalidListener.NotFound" => not_found(id),
            e => e,
        })?;
    let extension = listener
        .domain_extensions
        .iter()
        .find(|d| d.id == id)
        .cloned()
        .ok_or_else(|| not_found(id))?;
    Ok((listener, extension))
}

async fn change(
    call: &Call,
    listener: ListenerId,
    change: DomainExtensionChange,
) -> Result<Listener, AliError> {
    call.dialects
        .control
        .change_domain_extension(&call.principal, listener, change)
        .await
        .map_err(fail)
}

pub(super) async fn create(call: &Call) -> ActionResult {
    let p = &call.params;
    let domain = p.req("Domain")?.to_owned();
    let certificate_id = p.req("ServerCertificateId")?.to_owned();
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    let port = l.single_port();
    let next = change(
        call,
        l.id,
        DomainExtensionChange::Add {
            domain: domain.clone(),
            certificate_id,
        },
    )
    .await?;
    let wanted = sni::check_domain("Domain", &domain).map_err(|e| fail(e.into()))?;
    let made = next
        .domain_extensions
        .iter()
        .find(|d| d.domain == wanted)
        .ok_or_else(|| AliError::invalid("The domain extension was not kept."))?;
    Ok(json!({"ListenerPort": port, "DomainExtensionId": made.id}))
}

pub(super) async fn describe(call: &Call) -> ActionResult {
    let lb = lb(call).await?;
    let l = listener(call, &lb).await?;
    let wanted = call.params.opt("DomainExtensionId");
    let listed: Vec<Value> = l
        .domain_extensions
        .iter()
        .filter(|d| wanted.is_none_or(|w| w == d.id))
        .map(view)
        .collect();
    Ok(json!({"DomainExtensions": {"DomainExtension": listed}}))
}

pub(super) async fn describe_attribute(call: &Call) -> ActionResult {
    let id = call.params.req("DomainExtensionId")?;
    let (l, d) = find(call, id).await?;
    let mut out = view(&d);
    out["LoadBalancerId"] = json!(l.lb_id.as_str());
    out["ListenerPort"] = json!(l.single_port());
    Ok(out)
}

pub(super) async fn set_attribute(call: &Call) -> ActionResult {
    let id = call.params.req("DomainExtensionId")?.to_owned();
    let certificate_id = call.params.req("ServerCertificateId")?.to_owned();
    let (l, _) = find(call, &id).await?;
    change(
        call,
        l.id,
        DomainExtensionChange::Set { id, certificate_id },
    )
    .await?;
    Ok(json!({}))
}

pub(super) async fn delete(call: &Call) -> ActionResult {
    let id = call.params.req("DomainExtensionId")?.to_owned();
    let (l, _) = find(call, &id).await?;
    change(call, l.id, DomainExtensionChange::Delete { id }).await?;
    Ok(json!({}))
}
