//! What Weir's one provider offers, as Octavia's provider and
//! availability-zone APIs describe it: the provider `weir`, its flavor
//! capabilities (`super::flavors`), and no availability zones (one data
//! plane serves every load balancer alike). Zone lists are empty rather
//! than missing, ids are unknown, and creating a zone is the provider's
//! "unsupported" (501). No amphorae either: the operator's amphora API
//! lists none and knows no id.

use super::*;

/// The provider's description (`GET /providers`).
pub const PROVIDER_DESCRIPTION: &str = "Weir's own data plane";

pub(super) async fn list_providers(
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let items = vec![json!({"name": "weir", "description": PROVIDER_DESCRIPTION})];
    ok(listing::list(items, &q, "providers", &here)?)
}

/// `GET /providers/{provider}/flavor_capabilities` (the one capability,
/// `loadbalancer_topology`) and `…/availability_zone_capabilities`
/// (none), for the one provider.
pub(super) async fn provider_capabilities(
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
    uri: axum::http::Uri,
) -> LbResult {
    let provider = param(&p, "provider");
    if provider != "weir" {
        return Err(LbaasError::not_found(format!(
            "Provider {provider} could not be found."
        )));
    }
    let (plural, items) = if uri.path().ends_with("availability_zone_capabilities") {
        ("availability_zone_capabilities", Vec::new())
    } else {
        ("flavor_capabilities", super::flavors::capabilities())
    };
    ok(listing::list(items, &q, plural, &here)?)
}

/// `GET /availabilityzones`, `/availabilityzoneprofiles`: none exist.
pub(super) async fn list_none(
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
    uri: axum::http::Uri,
) -> LbResult {
    let plural = uri
        .path()
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("availabilityzones")
        .to_owned();
    ok(listing::list(Vec::new(), &q, &plural, &here)?)
}

pub(super) async fn create_none(RawBody(_): RawBody) -> LbaasError {
    LbaasError::unsupported("availability zones (one data plane serves every load balancer alike)")
}

pub(super) async fn missing_one(
    Path(p): Path<HashMap<String, String>>,
    RawBody(_): RawBody,
) -> LbaasError {
    LbaasError::not_found(format!("{} could not be found.", param(&p, "id")))
}

/// `GET /octavia/amphorae`: none, to the operator; anyone else is refused
/// by policy, as Octavia refuses them.
pub(super) async fn list_amphorae(
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    Control::admin_only(&ctx.principal).map_err(fail)?;
    ok(listing::list(Vec::new(), &q, "amphorae", &here)?)
}

/// Any action on one amphora: the operator learns it is unknown.
pub(super) async fn no_amphora(
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(_): RawBody,
) -> LbaasError {
    if let Err(e) = Control::admin_only(&ctx.principal) {
        return fail(e);
    }
    LbaasError::not_found(format!("Amphora {} could not be found.", param(&p, "id")))
}
