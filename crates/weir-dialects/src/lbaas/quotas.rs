//! Octavia's quotas API (`/quotas`): the operator sets, shows and resets a
//! project's quotas; a project reads its own (another project's is "not
//! found"). Fields are Octavia's, with the deprecated `loadbalancer` and
//! `healthmonitor` spellings read and shown too; -1 is unlimited. The
//! rules and the enforcement are `weir_core::quota` and `weir-control`'s:
//! a quota set here binds every dialect's creates.

use weir_control::ProjectQuotas;
use weir_core::quota::{QuotaResource, QuotaUpdate, Quotas};

use super::*;

/// The fields of a quota body: each resource's name, and the deprecated
/// aliases of two.
const ALIASES: [(&str, QuotaResource); 2] = [
    ("loadbalancer", QuotaResource::LoadBalancer),
    ("healthmonitor", QuotaResource::HealthMonitor),
];

/// Octavia's JSON of a set of quotas (every value present).
fn quota_json(q: &Quotas, project: Option<&ProjectId>) -> Value {
    let mut out = serde_json::Map::new();
    for r in QuotaResource::ALL {
        out.insert(r.as_str().to_owned(), json!(q.get(r)));
    }
    for (alias, r) in ALIASES {
        out.insert(alias.to_owned(), json!(q.get(r)));
    }
    if let Some(p) = project {
        out.insert("project_id".to_owned(), json!(p.as_str()));
        out.insert("tenant_id".to_owned(), json!(p.as_str()));
    }
    Value::Object(out)
}

fn view(q: &ProjectQuotas) -> Value {
    quota_json(&q.effective, Some(&q.project_id))
}

/// A `{"quota": {…}}` body as the change it asks for: a number sets a
/// value (-1 unlimited), `null` returns it to the default, a field left
/// out is left. Unknown fields and a value given twice under both names
/// are refused.
fn quota_update(raw: &[u8], project: &ProjectId) -> Result<QuotaUpdate, LbaasError> {
    let fields: serde_json::Map<String, Value> = body(raw, "quota")?;
    let mut out: Vec<(QuotaResource, Option<i64>)> = Vec::new();
    for (name, value) in &fields {
        // Clients may echo the project; only the path's is taken.
        if matches!(name.as_str(), "project_id" | "tenant_id") {
            check_owner([&value.as_str().map(str::to_owned), &None], project)?;
            continue;
        }
        let r = QuotaResource::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .or_else(|| ALIASES.iter().find(|(a, _)| a == name).map(|(_, r)| *r))
            .ok_or_else(|| {
                LbaasError::bad_request(format!(
                    "Invalid input for field/attribute quota: unknown attribute {name}"
                ))
            })?;
        let parsed = match value {
            Value::Null => None,
            v => Some(
                serde_json::from_value::<Lenient>(v.clone())
                    .map_err(|e| {
                        LbaasError::bad_request(format!(
                            "Invalid input for field/attribute {name}. Value: '{v}'. {e}"
                        ))
                    })?
                    .0,
            ),
        };
        match out.iter().find(|(seen, _)| *seen == r) {
            Some((_, earlier)) if *earlier != parsed => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute {name}: {} is given twice with different values",
                    r.as_str()
                )))
            }
            Some(_) => {}
            None => out.push((r, parsed)),
        }
    }
    Ok(QuotaUpdate(out))
}

/// `GET /quotas`: the operator's list of projects with quotas set; a
/// project's own.
pub(super) async fn list_quotas(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let all = d
        .control
        .list_project_quotas(&ctx.principal)
        .await
        .map_err(fail)?;
    ok(listing::list(
        all.iter().map(view).collect(),
        &q,
        "quotas",
        &here,
    )?)
}

/// `GET /quotas/defaults`: the deployment's defaults.
pub(super) async fn quota_defaults(State(d): State<Dialects>) -> LbResult {
    ok(json!({"quota": quota_json(&d.control.quota_defaults(), None)}))
}

/// `GET /quotas/{project_id}/default`: the defaults, for a project the
/// caller may see.
pub(super) async fn project_defaults(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let project = ProjectId::new(param(&p, "project_id"));
    d.control
        .project_quotas(&ctx.principal, &project)
        .await
        .map_err(fail)?;
    ok(json!({"quota": quota_json(&d.control.quota_defaults(), None)}))
}

/// `GET /quotas/{project_id}`: the quotas in force.
pub(super) async fn show_quota(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let project = ProjectId::new(param(&p, "project_id"));
    let q = d
        .control
        .project_quotas(&ctx.principal, &project)
        .await
        .map_err(fail)?;
    ok(json!({"quota": view(&q)}))
}

/// `PUT /quotas/{project_id}` (the operator's): 202 with the quotas now
/// in force, as Octavia answers. Policy comes before the body, as in
/// Octavia.
pub(super) async fn update_quota(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    Control::admin_only(&ctx.principal).map_err(fail)?;
    let project = ProjectId::new(param(&p, "project_id"));
    let update = quota_update(&raw, &project)?;
    let q = d
        .control
        .set_project_quotas(&ctx.principal, project, update)
        .await
        .map_err(fail)?;
    Ok((StatusCode::ACCEPTED, Json(json!({"quota": view(&q)}))).into_response())
}

/// `DELETE /quotas/{project_id}` (the operator's): back to the defaults.
pub(super) async fn reset_quota(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let project = ProjectId::new(param(&p, "project_id"));
    d.control
        .reset_project_quotas(&ctx.principal, project)
        .await
        .map_err(fail)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
