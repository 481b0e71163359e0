//! `weir flavor …` and `weir flavorprofile …`: the operator's flavor
//! catalogue (`/v1/flavors`, `/v1/flavorprofiles`), each one request as
//! [`crate::client`]'s commands build.

use serde_json::{json, Map, Value};

use crate::cli::{Command, FlavorCmd, FlavorProfileCmd};
use crate::client::{call, Call};
use crate::output::Show;

const FLAVOR_COLUMNS: &[&str] = &["id", "name", "profile_id", "enabled", "description"];
const PROFILE_COLUMNS: &[&str] = &["id", "name", "provider", "data"];

/// The request of one of these commands; `None` for any other command.
pub fn build(command: &Command) -> Option<Result<Call, String>> {
    Some(match command {
        Command::Flavor(cmd) => flavor(cmd),
        Command::Flavorprofile(cmd) => profile(cmd),
        _ => return None,
    })
}

fn flavor(cmd: &FlavorCmd) -> Result<Call, String> {
    Ok(match cmd {
        FlavorCmd::Create {
            name,
            profile,
            description,
            disabled,
        } => call(
            "POST",
            "/v1/flavors",
            Some(
                json!({"name": name, "profile_id": profile, "description": description,
                        "enabled": !disabled}),
            ),
            Show::Object,
        ),
        FlavorCmd::List => call(
            "GET",
            "/v1/flavors",
            None,
            Show::Table("flavors", FLAVOR_COLUMNS),
        ),
        FlavorCmd::Show { id } => call("GET", format!("/v1/flavors/{id}"), None, Show::Object),
        FlavorCmd::Update {
            id,
            name,
            description,
            enable,
            disable,
        } => {
            let mut body = Map::new();
            for (field, value) in [
                ("name", name.clone().map(Value::from)),
                ("description", description.clone().map(Value::from)),
                (
                    "enabled",
                    (*enable || *disable).then_some(Value::from(*enable)),
                ),
            ] {
                if let Some(v) = value {
                    body.insert(field.into(), v);
                }
            }
            if body.is_empty() {
                return Err(
                    "name at least one change (--name, --description, --enable, --disable)".into(),
                );
            }
            call(
                "PATCH",
                format!("/v1/flavors/{id}"),
                Some(Value::Object(body)),
                Show::Object,
            )
        }
        FlavorCmd::Delete { id } => call(
            "DELETE",
            format!("/v1/flavors/{id}"),
            None,
            Show::Done(format!("deleted flavor {id}")),
        ),
    })
}

/// `--data`: a JSON object, checked here so a typo is the caller's error
/// before anything is sent.
fn data(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(format!("--data {text:?}: expected a JSON object")),
    }
}

fn profile(cmd: &FlavorProfileCmd) -> Result<Call, String> {
    Ok(match cmd {
        FlavorProfileCmd::Create { name, data: given } => {
            let mut body = json!({ "name": name });
            if let Some(text) = given {
                body["data"] = data(text)?;
            }
            call("POST", "/v1/flavorprofiles", Some(body), Show::Object)
        }
        FlavorProfileCmd::List => call(
            "GET",
            "/v1/flavorprofiles",
            None,
            Show::Table("flavorprofiles", PROFILE_COLUMNS),
        ),
        FlavorProfileCmd::Show { id } => call(
            "GET",
            format!("/v1/flavorprofiles/{id}"),
            None,
            Show::Object,
        ),
        FlavorProfileCmd::Update {
            id,
            name,
            data: given,
        } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if let Some(text) = given {
                body.insert("data".into(), data(text)?);
            }
            if body.is_empty() {
                return Err("name at least one change (--name, --data)".into());
            }
            call(
                "PATCH",
                format!("/v1/flavorprofiles/{id}"),
                Some(Value::Object(body)),
                Show::Object,
            )
        }
        FlavorProfileCmd::Delete { id } => call(
            "DELETE",
            format!("/v1/flavorprofiles/{id}"),
            None,
            Show::Done(format!("deleted flavor profile {id}")),
        ),
    })
}
