//! The operator's flavor catalogue: flavor profiles (the provider's
//! settings, the operator's alone) and flavors (written by the operator,
//! read by every project, since a tenant names one when it creates a
//! load balancer). The control's rules are the ones Octavia's flavor API
//! reaches; a profile's `data` is a JSON object here, not Octavia's
//! string holding one.

use serde_json::{Map, Value};
use weir_core::flavor::{
    CapabilityValue, Flavor, FlavorData, FlavorProfile, FlavorSpec, ProfileSpec,
};

use super::*;

/// A new profile, or a change to one (absent fields stay).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileBody {
    name: Option<String>,
    /// Only `weir`; absent on create: `weir`.
    provider: Option<String>,
    /// Capabilities: `{"loadbalancer_topology": "SINGLE"}` or `{}`.
    data: Option<Map<String, Value>>,
}

impl ProfileBody {
    fn spec(self, creating: bool) -> ProfileSpec {
        let provider = match (self.provider, creating) {
            (None, true) => Some(weir_core::flavor::PROVIDER.to_owned()),
            (given, _) => given,
        };
        let data = match (self.data, creating) {
            (None, true) => Some(Map::new()),
            (given, _) => given,
        };
        ProfileSpec {
            name: self.name,
            provider,
            data: data.map(|map| FlavorData {
                text: Value::Object(map.clone()).to_string(),
                entries: map
                    .into_iter()
                    .map(|(key, value)| {
                        let value = match value {
                            Value::String(s) => CapabilityValue::Text(s),
                            other => CapabilityValue::Other(other.to_string()),
                        };
                        (key, value)
                    })
                    .collect(),
            }),
        }
    }
}

/// A new flavor, or a change to one (absent fields stay; the profile is
/// fixed once made).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlavorBody {
    name: Option<String>,
    description: Option<String>,
    profile_id: Option<String>,
    enabled: Option<bool>,
}

impl From<FlavorBody> for FlavorSpec {
    fn from(b: FlavorBody) -> Self {
        FlavorSpec {
            name: b.name,
            description: b.description,
            profile_id: b.profile_id.map(FlavorProfileId::new),
            enabled: b.enabled,
        }
    }
}

fn profile_view(p: &FlavorProfile) -> Value {
    let data: Value = serde_json::from_str(&p.data).unwrap_or(Value::String(p.data.clone()));
    json!({
        "id": p.id.as_str(),
        "name": p.name,
        "provider": p.provider,
        "data": data,
        "created_at": p.created_at.to_string(),
        "updated_at": p.updated_at.to_string(),
    })
}

fn flavor_view(f: &Flavor) -> Value {
    json!({
        "id": f.id.as_str(),
        "name": f.name,
        "description": f.description,
        "profile_id": f.profile_id.as_str(),
        "enabled": f.enabled,
        "created_at": f.created_at.to_string(),
        "updated_at": f.updated_at.to_string(),
    })
}

pub(super) async fn create_flavor_profile(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<ProfileBody>,
) -> ApiResult {
    created(profile_view(
        &c.create_flavor_profile(&p, req.spec(true)).await?,
    ))
}

pub(super) async fn list_flavor_profiles(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let all = c.list_flavor_profiles(&p).await?;
    ok(json!({"flavorprofiles": all.iter().map(profile_view).collect::<Vec<_>>()}))
}

pub(super) async fn get_flavor_profile(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(profile_view(
        &c.get_flavor_profile(&p, &FlavorProfileId::new(id)).await?,
    ))
}

pub(super) async fn update_flavor_profile(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ProfileBody>,
) -> ApiResult {
    ok(profile_view(
        &c.update_flavor_profile(&p, FlavorProfileId::new(id), req.spec(false))
            .await?,
    ))
}

pub(super) async fn delete_flavor_profile(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_flavor_profile(&p, FlavorProfileId::new(id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn create_flavor(
    State(c): State<Control>,
    Auth(p): Auth,
    JsonBody(req): JsonBody<FlavorBody>,
) -> ApiResult {
    created(flavor_view(&c.create_flavor(&p, req.into()).await?))
}

pub(super) async fn list_flavors(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let all = c.list_flavors(&p).await?;
    ok(json!({"flavors": all.iter().map(flavor_view).collect::<Vec<_>>()}))
}

pub(super) async fn get_flavor(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    ok(flavor_view(&c.get_flavor(&p, &FlavorId::new(id)).await?))
}

pub(super) async fn update_flavor(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<FlavorBody>,
) -> ApiResult {
    ok(flavor_view(
        &c.update_flavor(&p, FlavorId::new(id), req.into()).await?,
    ))
}

pub(super) async fn delete_flavor(
    State(c): State<Control>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    c.delete_flavor(&p, FlavorId::new(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
