//! Huawei ELB v2's `/whitelists` (shared load balancers): one allow list
//! per listener, switched on and off by `enable_whitelist`, its
//! networks the comma-separated `whitelist`. Each is the listener's own
//! access control list ([`weir_core::acl::listener`]), applied at accept
//! like any ACL, and named by its listener: a whitelist's id is its
//! listener's id, since a listener has at most one. Bodies are wrapped
//! (`{"whitelist": {…}}`), so the field that holds the networks shares
//! the wrapper's name.

use weir_core::acl::{self, Acl, Refusal};
use weir_core::limits::Cidr as IpNet;

use super::*;

/// How an address or network reads in `whitelist`: a host without its
/// prefix, as Huawei writes it.
fn entry_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

fn whitelist_view(l: &Listener, list: &Acl) -> Value {
    json!({
        "id": l.id.as_str(),
        "tenant_id": l.project_id.as_str(),
        "project_id": l.project_id.as_str(),
        "listener_id": l.id.as_str(),
        "enable_whitelist": l.acl.as_ref().is_some_and(|a| a.enabled),
        "whitelist": list.entries.iter().map(|e| entry_text(&e.cidr)).collect::<Vec<_>>().join(","),
    })
}

/// `whitelist` as networks: comma-separated addresses or networks
/// without host bits; empty is none (with the list on, no client
/// connects).
fn parse_whitelist(text: &str) -> Result<Vec<IpNet>, LbaasError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| acl::parse_entry("whitelist", t).map_err(|e| whitelist_error(e.into())))
        .collect()
}

/// The canonical error in Huawei's shape, naming `whitelist` where the
/// core names entries; an entry named twice is the request's fault (400),
/// not a conflict with what is stored.
fn whitelist_error(e: ControlError) -> LbaasError {
    if let ControlError::Domain(domain) = &e {
        if acl::refusal(domain) == Some(Refusal::DuplicateEntry) {
            return LbaasError::bad_request(format!(
                "Invalid input for field/attribute whitelist: {domain}"
            ));
        }
    }
    let mut out = LbaasError::from_control(e);
    out.message = out.message.replace("entries[", "whitelist[");
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    listener_id: String,
    tenant_id: Option<String>,
    project_id: Option<String>,
    enable_whitelist: Option<bool>,
    whitelist: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    enable_whitelist: Option<bool>,
    whitelist: Option<String>,
}

pub(super) async fn create_whitelist(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: CreateBody = body(&raw, "whitelist")?;
    if let Some(own) = ctx.principal.scope() {
        check_owner([&req.tenant_id, &req.project_id], own)?;
    }
    let entries = parse_whitelist(req.whitelist.as_deref().unwrap_or_default())?;
    let (l, list) = d
        .control
        .create_listener_list(
            &ctx.principal,
            ListenerId::new(req.listener_id),
            entries,
            // Huawei's default: the whitelist applies.
            req.enable_whitelist.unwrap_or(true),
        )
        .await
        .map_err(whitelist_error)?;
    created(json!({ "whitelist": whitelist_view(&l, &list) }))
}

pub(super) async fn list_whitelists(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let all = d
        .control
        .listener_lists(&ctx.principal)
        .await
        .map_err(whitelist_error)?;
    let items = all.iter().map(|(l, a)| whitelist_view(l, a)).collect();
    ok(listing::list(items, &q, "whitelists", &here)?)
}

pub(super) async fn show_whitelist(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let id = ListenerId::new(param(&p, "whitelist_id"));
    let (l, list) = d
        .control
        .listener_list(&ctx.principal, &id)
        .await
        .map_err(whitelist_error)?;
    ok(json!({ "whitelist": whitelist_view(&l, &list) }))
}

pub(super) async fn update_whitelist(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let id = ListenerId::new(param(&p, "whitelist_id"));
    let req: UpdateBody = body(&raw, "whitelist")?;
    let entries = req.whitelist.as_deref().map(parse_whitelist).transpose()?;
    let (l, list) = d
        .control
        .change_listener_list(&ctx.principal, id, entries, req.enable_whitelist)
        .await
        .map_err(whitelist_error)?;
    ok(json!({ "whitelist": whitelist_view(&l, &list) }))
}

pub(super) async fn delete_whitelist(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let id = ListenerId::new(param(&p, "whitelist_id"));
    d.control
        .remove_listener_list(&ctx.principal, id)
        .await
        .map_err(whitelist_error)?;
    no_content()
}

/// The routes, for the Huawei dialect only (Octavia's is the listener's
/// `allowed_cidrs`).
pub fn routes() -> Router<Dialects> {
    Router::new()
        .route("/whitelists", get(list_whitelists).post(create_whitelist))
        .route(
            "/whitelists/{whitelist_id}",
            get(show_whitelist)
                .put(update_whitelist)
                .delete(delete_whitelist),
        )
}
