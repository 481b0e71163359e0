//! `/flavorprofiles` and `/flavors` (Octavia API 2.6) and the provider's
//! `flavor_capabilities`: translation only. The rules (the one capability,
//! `loadbalancer_topology` = SINGLE; in-use refusals) are
//! `weir_core::flavor`'s, the commands `Control`'s; what is left here is
//! Octavia's wire: `flavor_data` is a JSON object inside a string, parsed
//! here into entries, and shown back as it was given.

use weir_core::flavor::{
    self as core_flavor, CapabilityValue, FlavorData, FlavorProfile, FlavorSpec, ProfileSpec,
};

use super::*;

fn profile_view(p: &FlavorProfile) -> Value {
    json!({
        "id": p.id.as_str(),
        "name": p.name,
        "provider_name": p.provider,
        "flavor_data": p.data,
    })
}

fn flavor_view(f: &core_flavor::Flavor) -> Value {
    json!({
        "id": f.id.as_str(),
        "name": f.name,
        "description": f.description,
        "enabled": f.enabled,
        "flavor_profile_id": f.profile_id.as_str(),
    })
}

/// A flavor command's refusal in Octavia's words: a field's own reason
/// (Octavia's messages carry no field prefix), the rest as every LBaaS
/// error.
fn flavor_fail(e: ControlError) -> LbaasError {
    match e {
        ControlError::Domain(Error::InvalidField { reason, .. }) => LbaasError::bad_request(reason),
        other => fail(other),
    }
}

/// Octavia's `flavor_data`: a string holding a JSON object. Text that is
/// not JSON is 400 (Octavia's "… is not a valid option for
/// flavor_data"); JSON that is not an object is what the provider cannot
/// do (501, as the provider's schema check answers).
fn flavor_data(text: &str) -> Result<FlavorData, LbaasError> {
    let parsed: Value = serde_json::from_str(text).map_err(|_| {
        LbaasError::bad_request(format!("{text} is not a valid option for flavor_data"))
    })?;
    let Value::Object(map) = parsed else {
        return Err(LbaasError::unsupported(format!(
            "{parsed} is not of type 'object'"
        )));
    };
    let entries = map
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => CapabilityValue::Text(s),
                other => CapabilityValue::Other(other.to_string()),
            };
            (key, value)
        })
        .collect();
    Ok(FlavorData {
        text: text.to_owned(),
        entries,
    })
}

/// Octavia's flavor profile body; unknown fields refused by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileBody {
    name: Option<String>,
    provider_name: Option<String>,
    flavor_data: Option<String>,
}

impl ProfileBody {
    fn spec(self) -> Result<ProfileSpec, LbaasError> {
        Ok(ProfileSpec {
            name: self.name,
            provider: self.provider_name,
            data: self.flavor_data.as_deref().map(flavor_data).transpose()?,
        })
    }
}

/// Octavia's flavor body; unknown fields refused by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlavorBody {
    name: Option<String>,
    description: Option<String>,
    flavor_profile_id: Option<String>,
    enabled: Option<bool>,
}

impl FlavorBody {
    fn spec(self) -> FlavorSpec {
        FlavorSpec {
            name: self.name,
            description: self.description,
            profile_id: self.flavor_profile_id.map(FlavorProfileId::new),
            enabled: self.enabled,
        }
    }
}

/// Octavia's mandatory fields, missing: its 400.
fn require(present: bool, field: &str) -> Result<(), LbaasError> {
    if present {
        Ok(())
    } else {
        Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: None. Mandatory field missing."
        )))
    }
}

/// `GET /providers/weir/flavor_capabilities`: the one capability.
pub(super) fn capabilities() -> Vec<Value> {
    core_flavor::CAPABILITIES
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect()
}

pub(super) async fn list_profiles(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let profiles = d
        .control
        .list_flavor_profiles(&ctx.principal)
        .await
        .map_err(flavor_fail)?;
    let items = profiles.iter().map(profile_view).collect();
    ok(listing::list(items, &q, "flavorprofiles", &here)?)
}

pub(super) async fn create_profile(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    // Octavia checks policy before it reads the body.
    Control::admin_only(&ctx.principal).map_err(fail)?;
    let req: ProfileBody = body(&raw, "flavorprofile")?;
    require(req.name.is_some(), "name")?;
    require(req.provider_name.is_some(), "provider_name")?;
    require(req.flavor_data.is_some(), "flavor_data")?;
    let profile = d
        .control
        .create_flavor_profile(&ctx.principal, req.spec()?)
        .await
        .map_err(flavor_fail)?;
    created(json!({"flavorprofile": profile_view(&profile)}))
}

pub(super) async fn show_profile(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    // Read (and ignored), so a client that sends one gets its answer.
    RawBody(_): RawBody,
) -> LbResult {
    let id = FlavorProfileId::new(param(&p, "id"));
    let profile = d
        .control
        .get_flavor_profile(&ctx.principal, &id)
        .await
        .map_err(flavor_fail)?;
    ok(json!({"flavorprofile": profile_view(&profile)}))
}

pub(super) async fn update_profile(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    Control::admin_only(&ctx.principal).map_err(fail)?;
    let req: ProfileBody = body(&raw, "flavorprofile")?;
    let id = FlavorProfileId::new(param(&p, "id"));
    let profile = d
        .control
        .update_flavor_profile(&ctx.principal, id, req.spec()?)
        .await
        .map_err(flavor_fail)?;
    ok(json!({"flavorprofile": profile_view(&profile)}))
}

pub(super) async fn delete_profile(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    // Read (and ignored), so a client that sends one gets its answer.
    RawBody(_): RawBody,
) -> LbResult {
    let id = FlavorProfileId::new(param(&p, "id"));
    d.control
        .delete_flavor_profile(&ctx.principal, id)
        .await
        .map_err(flavor_fail)?;
    no_content()
}

pub(super) async fn list_flavors(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<Vec<(String, String)>>,
    Here(here): Here,
) -> LbResult {
    let flavors = d
        .control
        .list_flavors(&ctx.principal)
        .await
        .map_err(flavor_fail)?;
    let items = flavors.iter().map(flavor_view).collect();
    ok(listing::list(items, &q, "flavors", &here)?)
}

pub(super) async fn create_flavor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    RawBody(raw): RawBody,
) -> LbResult {
    Control::admin_only(&ctx.principal).map_err(fail)?;
    let req: FlavorBody = body(&raw, "flavor")?;
    require(req.name.is_some(), "name")?;
    require(req.flavor_profile_id.is_some(), "flavor_profile_id")?;
    let made = d
        .control
        .create_flavor(&ctx.principal, req.spec())
        .await
        .map_err(flavor_fail)?;
    created(json!({"flavor": flavor_view(&made)}))
}

pub(super) async fn show_flavor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    // Read (and ignored), so a client that sends one gets its answer.
    RawBody(_): RawBody,
) -> LbResult {
    let id = FlavorId::new(param(&p, "id"));
    let found = d
        .control
        .get_flavor(&ctx.principal, &id)
        .await
        .map_err(flavor_fail)?;
    ok(json!({"flavor": flavor_view(&found)}))
}

pub(super) async fn update_flavor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    RawBody(raw): RawBody,
) -> LbResult {
    Control::admin_only(&ctx.principal).map_err(fail)?;
    let req: FlavorBody = body(&raw, "flavor")?;
    let id = FlavorId::new(param(&p, "id"));
    let next = d
        .control
        .update_flavor(&ctx.principal, id, req.spec())
        .await
        .map_err(flavor_fail)?;
    ok(json!({"flavor": flavor_view(&next)}))
}

pub(super) async fn delete_flavor(
    State(d): State<Dialects>,
    Extension(ctx): Extension<Ctx>,
    Path(p): Path<HashMap<String, String>>,
    // Read (and ignored), so a client that sends one gets its answer.
    RawBody(_): RawBody,
) -> LbResult {
    let id = FlavorId::new(param(&p, "id"));
    d.control
        .delete_flavor(&ctx.principal, id)
        .await
        .map_err(flavor_fail)?;
    no_content()
}

/// A load balancer's `flavor_id` on create: an id, or null / "" for none.
pub(super) fn flavor_id(value: Option<&Value>) -> Result<Option<FlavorId>, LbaasError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(FlavorId::new(s.as_str()))),
        Some(other) => Err(LbaasError::bad_request(format!(
            "Invalid input for field/attribute flavor_id. Value: '{other}'. Value should be a UUID"
        ))),
    }
}

/// A load balancer create's refusal: a flavor that cannot be used is
/// Octavia's 400 in its words.
pub(super) fn lb_create_fail(e: ControlError) -> LbaasError {
    match e {
        ControlError::Domain(Error::InvalidField { field, reason }) if field == "flavor_id" => {
            LbaasError::bad_request(reason)
        }
        other => fail(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_data_is_a_json_object_in_a_string() {
        let data = flavor_data(r#"{"loadbalancer_topology": "SINGLE", "n": 1}"#).unwrap();
        assert_eq!(
            data.entries,
            vec![
                (
                    "loadbalancer_topology".to_owned(),
                    CapabilityValue::Text("SINGLE".into())
                ),
                ("n".to_owned(), CapabilityValue::Other("1".into())),
            ]
        );
        // Shown back exactly as given.
        assert_eq!(data.text, r#"{"loadbalancer_topology": "SINGLE", "n": 1}"#);
        let not_json = flavor_data("{nope").unwrap_err();
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
        assert!(not_json
            .message
            .ends_with("is not a valid option for flavor_data"));
        let not_object = flavor_data("[1]").unwrap_err();
        assert_eq!(not_object.status, StatusCode::NOT_IMPLEMENTED);
        assert!(not_object.message.contains("[1] is not of type 'object'"));
    }
}
