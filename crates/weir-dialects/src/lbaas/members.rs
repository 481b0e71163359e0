//! `/pools/{id}/members`: one by one and Octavia's declarative batch
//! (with Huawei's `action`).

use super::*;

/// Every field of an Octavia/Huawei member; any other is refused by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberBody {
    address: Option<String>,
    protocol_port: Option<Lenient>,
    subnet_id: Option<String>,
    weight: Option<Lenient>,
    admin_state_up: Option<bool>,
    backup: Option<bool>,
    name: Option<String>,
    /// The member's own health-check target.
    monitor_address: Option<String>,
    monitor_port: Option<Lenient>,
    /// Absent leaves them (in a batch), `null` clears them.
    #[serde(default, deserialize_with = "present")]
    tags: Option<Option<Value>>,
    /// Ignored, as Octavia does: a member is its pool's project's
    /// (neutron-lbaas tempest `test_create_with_project_id_is_ignored`).
    #[serde(rename = "project_id")]
    _project_id: Option<Value>,
    #[serde(rename = "tenant_id")]
    _tenant_id: Option<Value>,
}

/// Refuses an Octavia field Weir accepts only as null (or empty: `""`,
/// `[]`, what clients send for "none").
pub(super) fn refuse_unhonoured(
    field: &str,
    name: &str,
    value: Option<&Value>,
) -> Result<(), LbaasError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.is_empty() => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(v) => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}{name}. Value: '{v}'. Weir does not support {name} yet"
        ))),
    }
}

pub(super) fn member_spec(
    m: MemberBody,
    flavor: Flavor,
    field: &str,
) -> Result<BackendSpec, LbaasError> {
    let missing = |f: &str| {
        LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}{f}. Value: None. Mandatory field missing."
        ))
    };
    let tags = tags_field(field, &m.tags)?;
    let address = m.address.ok_or_else(|| missing("address"))?;
    let port = m.protocol_port.ok_or_else(|| missing("protocol_port"))?.0;
    if !(1..=65535).contains(&port) {
        return Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}protocol_port. Value: '{port}'. Value should be between 1 and 65535."
        )));
    }
    if flavor == Flavor::Huawei && m.subnet_id.is_none() {
        return Err(missing("subnet_id"));
    }
    Ok(BackendSpec {
        address: Some(address),
        port: Some(port),
        subnet_id: m.subnet_id,
        weight: m.weight.map(|w| w.0),
        enabled: m.admin_state_up,
        backup: m.backup,
        name: m.name,
        monitor_address: m.monitor_address.filter(|a| !a.is_empty()),
        monitor_port: m.monitor_port.map(|p| p.0),
        tags,
        ..BackendSpec::default()
    })
}

pub(super) async fn list_members(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let c = &d.control;
    let (pool, _, members) =
        pool_full(c, &ctx.principal, &PoolId::new(param(&p, "pool_id"))).await?;
    let monitored = monitored(&pool);
    let items = members
        .iter()
        .map(|b| member_view(c, b, monitored))
        .collect();
    ok(listing::list(items, &q, "members", &here)?)
}

pub(super) async fn create_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: MemberBody = body(&raw, "member")?;
    let spec = member_spec(req, ctx.flavor, "")?;
    let c = &d.control;
    let pool_id = PoolId::new(param(&p, "pool_id"));
    let outcome = c
        .register_backends(
            &ctx.principal,
            RegisterRequest {
                target: RegisterTarget::Pool(pool_id.clone()),
                backends: vec![spec],
                policy: ctx.flavor.policy(),
                client_token: None,
            },
        )
        .await
        .map_err(|e| {
            // One member per call: name its fields as the body does.
            let mut e = fail(e);
            e.message = e.message.replace("members[0].", "member.");
            e
        })?;
    c.settled().await;
    let pool = c.get_pool(&ctx.principal, &pool_id).await.map_err(fail)?;
    let b = outcome.backends.first().ok_or_else(|| {
        LbaasError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "no member registered",
        )
    })?;
    created(json!({"member": member_view(c, b, monitored(&pool))}))
}

/// The member, provided it is in the named pool (Octavia answers 404
/// for a member of another pool).
pub(super) async fn member_in_pool(
    c: &Control,
    ctx: &Ctx,
    p: &HashMap<String, String>,
) -> Result<(Backend, bool), LbaasError> {
    let pool_id = param(p, "pool_id");
    let member_id = param(p, "member_id");
    let pool = c
        .get_pool(&ctx.principal, &PoolId::new(pool_id))
        .await
        .map_err(fail)?;
    let b = c
        .get_backend(&ctx.principal, &BackendId::new(member_id))
        .await
        .map_err(fail)?;
    if b.pool_id.as_str() != pool_id {
        return Err(fail(
            Error::not_found(ResourceKind::Backend, member_id).into(),
        ));
    }
    Ok((b, monitored(&pool)))
}

pub(super) async fn show_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let (b, monitored) = member_in_pool(c, &ctx, &p).await?;
    ok(json!({"member": member_view(c, &b, monitored)}))
}

pub(super) async fn update_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let fields: serde_json::Map<String, Value> = body(&raw, "member")?;
    let c = &d.control;
    let (b, monitored) = member_in_pool(c, &ctx, &p).await?;
    // Octavia: a field set to null goes back to its default.
    let mut update = BackendUpdate::default();
    for (key, value) in &fields {
        match (key.as_str(), value) {
            ("weight", Value::Null) => update.weight = Some(1),
            ("weight", v) => {
                update.weight = Some(
                    serde_json::from_value::<Lenient>(v.clone())
                        .map_err(|e| {
                            LbaasError::bad_request(format!(
                                "Invalid input for field/attribute weight: {e}"
                            ))
                        })?
                        .0,
                )
            }
            ("name", Value::Null) => update.name = Some(String::new()),
            ("name", Value::String(s)) => update.name = Some(s.clone()),
            ("backup", Value::Null) => update.backup = Some(false),
            ("backup", Value::Bool(v)) => update.backup = Some(*v),
            ("admin_state_up", Value::Bool(v)) => update.enabled = Some(*v),
            ("monitor_address", Value::Null) => update.monitor_address = Some(None),
            ("monitor_address", Value::String(s)) => update.monitor_address = Some(Some(s.clone())),
            ("monitor_port", Value::Null) => update.monitor_port = Some(None),
            ("monitor_port", v) => {
                update.monitor_port = Some(Some(
                    serde_json::from_value::<Lenient>(v.clone())
                        .map_err(|e| {
                            LbaasError::bad_request(format!(
                                "Invalid input for field/attribute monitor_port: {e}"
                            ))
                        })?
                        .0,
                ))
            }
            ("tags", v) => {
                update.tags = tags_field("", &Some(Some(v.clone()).filter(|v| !v.is_null())))?
            }
            (
                "address" | "protocol_port" | "subnet_id" | "monitor_address" | "admin_state_up"
                | "name" | "backup",
                _,
            ) => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute {key}: it cannot be set to {value} on update"
                )))
            }
            (other, _) => {
                return Err(LbaasError::bad_request(format!(
                    "Invalid input for field/attribute {other}: unknown attribute"
                )))
            }
        }
    }
    let next = c
        .update_backend(&ctx.principal, b.id, update, ctx.flavor.policy())
        .await
        .map_err(fail)?;
    ok(json!({"member": member_view(c, &next, monitored)}))
}

pub(super) async fn delete_member(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
) -> LbResult {
    let c = &d.control;
    let (b, _) = member_in_pool(c, &ctx, &p).await?;
    c.delete_backend(&ctx.principal, b.id).await.map_err(fail)?;
    no_content()
}

#[derive(Deserialize)]
pub(super) struct BatchBody {
    members: Vec<MemberBody>,
}

/// Most members one Huawei batch may name.
pub(super) const HUAWEI_BATCH_LIMIT: usize = 200;

/// `PUT …/pools/{id}/members`: Octavia's declarative batch (the body is
/// the desired set; `additive_only` keeps the unnamed), with Huawei's
/// `action`: `replace` (the default, the same), `add` (additive) or
/// `delete` (remove exactly the members named, all or none).
pub(super) async fn batch_members(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    let req: BatchBody = parse_json(&raw).map_err(problem)?;
    if ctx.flavor == Flavor::Huawei && req.members.len() > HUAWEI_BATCH_LIMIT {
        return Err(LbaasError::bad_request(format!(
            "a batch names at most {HUAWEI_BATCH_LIMIT} members, this one {}",
            req.members.len()
        )));
    }
    let pool = PoolId::new(param(&p, "pool_id"));
    let action = q.get("action").map_or("replace", String::as_str);
    let additive = match action {
        "replace" => flag(&q, "additive_only")?,
        "add" => true,
        "delete" => {
            let selectors = req
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let missing = |f: &str| {
                        LbaasError::bad_request(format!(
                            "Invalid input for field/attribute members[{i}].{f}. Value: None. Mandatory field missing."
                        ))
                    };
                    Ok(BackendSelector {
                        instance_id: None,
                        address: Some(m.address.clone().ok_or_else(|| missing("address"))?),
                        port: Some(m.protocol_port.ok_or_else(|| missing("protocol_port"))?.0),
                    })
                })
                .collect::<Result<Vec<_>, LbaasError>>()?;
            d.control
                .deregister_selected(
                    &ctx.principal,
                    RegisterTarget::Pool(pool),
                    selectors,
                    WhenMissing::Fail,
                    "members",
                )
                .await
                .map_err(fail)?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        other => {
            return Err(LbaasError::bad_request(format!(
                "action={other} is not add, delete or replace"
            )))
        }
    };
    let specs = req
        .members
        .into_iter()
        .enumerate()
        .map(|(i, m)| member_spec(m, ctx.flavor, &format!("members[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    d.control
        .batch_backends(&ctx.principal, pool, specs, additive, ctx.flavor.policy())
        .await
        .map_err(fail)?;
    d.control.settled().await;
    Ok(StatusCode::ACCEPTED.into_response())
}
