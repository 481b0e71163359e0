//! Flavor profiles and flavors (Octavia API 2.6): what an operator offers
//! and tenants pick when they create a load balancer.
//!
//! A profile holds provider settings (`flavor_data`, a JSON object the
//! adapter parses into entries; the core never sees JSON), a flavor names a
//! profile. Weir's provider has one honest capability,
//! `loadbalancer_topology`, whose only value is `SINGLE`: one data plane
//! per node and no standby. Anything else is refused as Octavia refuses
//! what a provider cannot do ([`Error::Unsupported`]). A profile a flavor
//! uses cannot be deleted or have its provider or data changed, and a
//! flavor a load balancer uses cannot be deleted ([`Error::Conflict`]).

use crate::ids::{FlavorId, FlavorProfileId, IdSource};
use crate::inventory::{validate_description, validate_name};
use crate::{Error, ResourceKind, Timestamp};

/// The provider every profile must name: Weir's own.
pub const PROVIDER: &str = "weir";

/// The one capability key.
pub const TOPOLOGY: &str = "loadbalancer_topology";

/// The capabilities Weir's provider offers (Octavia's
/// `flavor_capabilities`): name and description.
pub const CAPABILITIES: &[(&str, &str)] = &[(
    TOPOLOGY,
    // No comma: tempest's `expected_flavor_capability` (an oslo DictOpt)
    // splits on commas.
    "The load balancer topology. One of: SINGLE - One data plane per node and no standby.",
)];

/// Values of `loadbalancer_topology` Weir can run.
pub const TOPOLOGIES: &[&str] = &["SINGLE"];

/// One value of `flavor_data` as the adapter read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityValue {
    Text(String),
    /// Not a string (a number, a list, ...): shown as written.
    Other(String),
}

/// A flavor profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorProfile {
    pub id: FlavorProfileId,
    pub name: String,
    pub provider: String,
    /// `flavor_data` exactly as given (Octavia shows it back verbatim).
    pub data: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    pub id: FlavorId,
    pub name: String,
    pub description: String,
    pub profile_id: FlavorProfileId,
    /// A disabled flavor stays, but no new load balancer may use it.
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `flavor_data` as the adapter parsed it: its text and its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlavorData {
    pub text: String,
    pub entries: Vec<(String, CapabilityValue)>,
}

/// A new profile, or a change to one (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSpec {
    pub name: Option<String>,
    pub provider: Option<String>,
    pub data: Option<FlavorData>,
}

/// A new flavor, or a change to one (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlavorSpec {
    pub name: Option<String>,
    pub description: Option<String>,
    pub profile_id: Option<FlavorProfileId>,
    pub enabled: Option<bool>,
}

/// Holds `flavor_data` to the capabilities Weir has: known keys only,
/// each with a value Weir can run.
pub fn check_data(data: &FlavorData) -> Result<(), Error> {
    for (key, value) in &data.entries {
        let unsupported = |reason: String| Error::Unsupported {
            field: format!("flavor_data.{key}"),
            reason,
        };
        if !CAPABILITIES.iter().any(|(name, _)| name == key) {
            return Err(unsupported(format!(
                "Additional properties are not allowed ('{key}' was unexpected)"
            )));
        }
        let shown = match value {
            CapabilityValue::Text(t) if TOPOLOGIES.contains(&t.as_str()) => continue,
            CapabilityValue::Text(t) => format!("'{t}'"),
            CapabilityValue::Other(o) => o.clone(),
        };
        return Err(unsupported(format!(
            "{key} {shown} is not one of {TOPOLOGIES:?} (Weir runs one data plane per node, \
             no standby)"
        )));
    }
    Ok(())
}

fn check_provider(provider: &str) -> Result<(), Error> {
    if provider == PROVIDER {
        Ok(())
    } else {
        Err(Error::invalid(
            "provider_name",
            format!("Provider '{provider}' is not enabled. Enabled providers: {PROVIDER}"),
        ))
    }
}

/// A new profile: a name, the provider `weir` and data it can run.
pub fn plan_profile(
    spec: &ProfileSpec,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<FlavorProfile, Error> {
    let name = spec
        .name
        .clone()
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    let provider = spec
        .provider
        .clone()
        .ok_or_else(|| Error::invalid("provider_name", "is required"))?;
    let data = spec
        .data
        .clone()
        .ok_or_else(|| Error::invalid("flavor_data", "is required"))?;
    validate_name("name", &name)?;
    check_provider(&provider)?;
    check_data(&data)?;
    Ok(FlavorProfile {
        id: FlavorProfileId::new(ids.next_id()),
        name,
        provider,
        data: data.text,
        created_at: now,
        updated_at: now,
    })
}

/// A change to a profile; its provider and data are fixed while
/// `flavors_using` flavors use it (Octavia's rule).
pub fn plan_profile_update(
    current: &FlavorProfile,
    spec: &ProfileSpec,
    flavors_using: usize,
    now: Timestamp,
) -> Result<FlavorProfile, Error> {
    if (spec.provider.is_some() || spec.data.is_some()) && flavors_using > 0 {
        return Err(in_use("Flavor profile", current.id.as_str()));
    }
    let mut next = current.clone();
    if let Some(name) = &spec.name {
        validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(provider) = &spec.provider {
        check_provider(provider)?;
        next.provider = provider.clone();
    }
    if let Some(data) = &spec.data {
        check_data(data)?;
        next.data = data.text.clone();
    }
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

fn in_use(what: &str, id: &str) -> Error {
    Error::conflict(format!("{what} {id} is in use and cannot be modified."))
}

/// A profile is deleted only when no flavor uses it.
pub fn check_profile_deletable(profile: &FlavorProfile, flavors_using: usize) -> Result<(), Error> {
    if flavors_using > 0 {
        return Err(in_use("Flavor profile", profile.id.as_str()));
    }
    Ok(())
}

/// A new flavor of an existing profile (`profile` is what the store holds
/// under the id named; `None` is the caller's error, not a missing page).
pub fn plan_flavor(
    spec: &FlavorSpec,
    profile: Option<&FlavorProfile>,
    ids: &mut dyn IdSource,
    now: Timestamp,
) -> Result<Flavor, Error> {
    let name = spec
        .name
        .clone()
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    validate_name("name", &name)?;
    let description = spec.description.clone().unwrap_or_default();
    validate_description("description", &description)?;
    let named = spec
        .profile_id
        .as_ref()
        .ok_or_else(|| Error::invalid("flavor_profile_id", "is required"))?;
    let profile = profile.filter(|p| &p.id == named).ok_or_else(|| {
        Error::invalid(
            "flavor_profile_id",
            format!("{named} is not a valid option for flavor_profile_id"),
        )
    })?;
    Ok(Flavor {
        id: FlavorId::new(ids.next_id()),
        name,
        description,
        profile_id: profile.id.clone(),
        enabled: spec.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    })
}

/// A change to a flavor: its name, description and whether it may be
/// picked; its profile is fixed (Octavia's flavor PUT has no
/// `flavor_profile_id`).
pub fn plan_flavor_update(
    current: &Flavor,
    spec: &FlavorSpec,
    now: Timestamp,
) -> Result<Flavor, Error> {
    if spec.profile_id.is_some() {
        return Err(Error::invalid(
            "flavor_profile_id",
            "cannot be changed on a flavor",
        ));
    }
    let mut next = current.clone();
    if let Some(name) = &spec.name {
        validate_name("name", name)?;
        next.name = name.clone();
    }
    if let Some(text) = &spec.description {
        validate_description("description", text)?;
        next.description = text.clone();
    }
    if let Some(enabled) = spec.enabled {
        next.enabled = enabled;
    }
    if next != *current {
        next.updated_at = now;
    }
    Ok(next)
}

/// A flavor is deleted only when no load balancer uses it.
pub fn check_flavor_deletable(flavor: &Flavor, lbs_using: usize) -> Result<(), Error> {
    if lbs_using > 0 {
        return Err(in_use("Flavor", flavor.id.as_str()));
    }
    Ok(())
}

/// The flavor a new load balancer names must exist and be enabled
/// (Octavia: 400 either way). Flavors are the operator's, visible to
/// every project, so there is no tenancy to hide.
pub fn check_usable(id: &FlavorId, found: Option<&Flavor>) -> Result<(), Error> {
    match found {
        Some(f) if f.enabled => Ok(()),
        Some(_) => Err(Error::invalid(
            "flavor_id",
            format!("The selected flavor is not allowed in this deployment: {id}"),
        )),
        None => Err(Error::invalid(
            "flavor_id",
            format!("{id} is not a valid option for flavor"),
        )),
    }
}

/// Shorthand for a flavor that is not there.
pub fn flavor_not_found(id: &str) -> Error {
    Error::not_found(ResourceKind::Flavor, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SequentialIds;

    fn data(entries: &[(&str, CapabilityValue)]) -> FlavorData {
        FlavorData {
            text: "{...}".into(),
            entries: entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    fn text(s: &str) -> CapabilityValue {
        CapabilityValue::Text(s.into())
    }

    fn profile_spec(d: FlavorData) -> ProfileSpec {
        ProfileSpec {
            name: Some("single".into()),
            provider: Some("weir".into()),
            data: Some(d),
        }
    }

    #[test]
    fn flavor_data_holds_only_what_weir_can_run() {
        assert!(check_data(&data(&[])).is_ok());
        assert!(check_data(&data(&[(TOPOLOGY, text("SINGLE"))])).is_ok());
        for bad in [
            data(&[(TOPOLOGY, text("ACTIVE_STANDBY"))]),
            data(&[(TOPOLOGY, CapabilityValue::Other("1".into()))]),
            data(&[("compute_flavor", text("m1.small"))]),
        ] {
            let err = check_data(&bad).unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{bad:?}: {err:?}");
        }
        let err = check_data(&data(&[("x", text("y"))])).unwrap_err();
        assert!(err.to_string().contains("('x' was unexpected)"), "{err}");
    }

    #[test]
    fn a_profile_names_weir_and_is_fixed_while_used() {
        let mut ids = SequentialIds::default();
        let ok = profile_spec(data(&[(TOPOLOGY, text("SINGLE"))]));
        let p = plan_profile(&ok, &mut ids, Timestamp(1)).unwrap();
        assert_eq!((p.provider.as_str(), p.data.as_str()), ("weir", "{...}"));
        let other = ProfileSpec {
            provider: Some("amphora".into()),
            ..ok.clone()
        };
        assert!(matches!(
            plan_profile(&other, &mut ids, Timestamp(1)),
            Err(Error::InvalidField { .. })
        ));
        for missing in [
            ProfileSpec {
                name: None,
                ..ok.clone()
            },
            ProfileSpec {
                data: None,
                ..ok.clone()
            },
        ] {
            assert!(plan_profile(&missing, &mut ids, Timestamp(1)).is_err());
        }
        // Renaming is fine while used; the data and provider are not.
        let rename = ProfileSpec {
            name: Some("renamed".into()),
            ..ProfileSpec::default()
        };
        let renamed = plan_profile_update(&p, &rename, 1, Timestamp(2)).unwrap();
        assert_eq!(
            (renamed.name.as_str(), renamed.updated_at),
            ("renamed", Timestamp(2))
        );
        let redata = ProfileSpec {
            data: Some(data(&[])),
            ..ProfileSpec::default()
        };
        assert!(matches!(
            plan_profile_update(&p, &redata, 1, Timestamp(2)),
            Err(Error::Conflict { .. })
        ));
        assert!(plan_profile_update(&p, &redata, 0, Timestamp(2)).is_ok());
        assert!(check_profile_deletable(&p, 1).is_err());
        assert!(check_profile_deletable(&p, 0).is_ok());
    }

    #[test]
    fn a_flavor_needs_its_profile_and_is_held_by_its_load_balancers() {
        let mut ids = SequentialIds::default();
        let p = plan_profile(
            &profile_spec(data(&[(TOPOLOGY, text("SINGLE"))])),
            &mut ids,
            Timestamp(1),
        )
        .unwrap();
        let spec = FlavorSpec {
            name: Some("small".into()),
            profile_id: Some(p.id.clone()),
            ..FlavorSpec::default()
        };
        assert!(matches!(
            plan_flavor(&spec, None, &mut ids, Timestamp(1)),
            Err(Error::InvalidField { field, .. }) if field == "flavor_profile_id"
        ));
        let f = plan_flavor(&spec, Some(&p), &mut ids, Timestamp(1)).unwrap();
        assert!(f.enabled);
        assert!(check_usable(&f.id, Some(&f)).is_ok());
        assert!(check_usable(&f.id, None).is_err());
        let off = plan_flavor_update(
            &f,
            &FlavorSpec {
                enabled: Some(false),
                ..FlavorSpec::default()
            },
            Timestamp(2),
        )
        .unwrap();
        let refused = check_usable(&off.id, Some(&off)).unwrap_err();
        assert!(refused.to_string().contains("not allowed"), "{refused}");
        assert!(
            plan_flavor_update(&f, &spec, Timestamp(2)).is_err(),
            "profile is fixed"
        );
        assert!(matches!(
            check_flavor_deletable(&f, 1),
            Err(Error::Conflict { .. })
        ));
        assert!(check_flavor_deletable(&f, 0).is_ok());
    }
}
