//! Weir's own Keystone v3: version discovery, tokens issued for a
//! project's access key (application credential or password), their
//! validation, and the catalog that points clients back at Weir.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use weir_control::{AccessKey, Control, Principal};
use weir_core::Timestamp;

use super::{base_url, keystone_error, LOAD_BALANCER_PREFIX};
use crate::common::{constant_time_eq, hex, hmac_sha256, parse_json, unix_now, BODY_LIMIT};
use crate::Dialects;

/// How long a token lives unless configured otherwise (Keystone's default).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Tokens name the access key they were issued for (not its project and
/// role), so revoking the key ends its tokens too, and a role change could
/// never be outlived by a token.
const TOKEN_PREFIX: &str = "wks2";

/// Issues and checks stateless tokens.
pub struct Tokens {
    key: [u8; 32],
    ttl: Duration,
}

impl Tokens {
    pub fn new(key: [u8; 32], ttl: Duration) -> Self {
        Self { key, ttl }
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }

    fn mac(&self, access_key_id: &str, expires: i64) -> String {
        hex(&hmac_sha256(
            &self.key,
            format!("{access_key_id}|{expires}").as_bytes(),
        ))
    }

    /// A token for the access key `access_key_id` valid until
    /// `now + ttl`; with its expiry.
    pub fn issue(&self, access_key_id: &str, now: i64) -> (String, i64) {
        let expires = now.saturating_add(self.ttl_secs());
        let token = format!(
            "{TOKEN_PREFIX}.{access_key_id}.{expires}.{}",
            self.mac(access_key_id, expires)
        );
        (token, expires)
    }

    /// A token for `access_key_id` that ends when `expires` (unix
    /// seconds) does: Keystone's `token` method rescopes a token without
    /// extending it, so a chain of them never outlives the first.
    fn issue_until(&self, access_key_id: &str, expires: i64) -> String {
        format!(
            "{TOKEN_PREFIX}.{access_key_id}.{expires}.{}",
            self.mac(access_key_id, expires)
        )
    }

    /// The access key a token was issued for, if it is genuine and
    /// unexpired (whether the key still exists is the caller's lookup).
    pub fn verify<'t>(&self, token: &'t str, now: i64) -> Option<&'t str> {
        let mut parts = token.split('.');
        let (Some(TOKEN_PREFIX), Some(key_id), Some(expires), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        let genuine = constant_time_eq(self.mac(key_id, expires).as_bytes(), mac.as_bytes());
        (genuine && now < expires).then_some(key_id)
    }

    /// The principal a token acts as: its access key's project and role,
    /// looked up now, so a revoked key's tokens stop with it.
    pub async fn principal(&self, control: &Control, token: &str) -> Option<Principal> {
        let key_id = self.verify(token, unix_now())?;
        let key = control.access_key(key_id).await.ok()??;
        Some(key.principal())
    }
}

pub(super) async fn version(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({"version": {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }}))
}

#[derive(Deserialize)]
struct AuthRequest {
    auth: Auth,
}

#[derive(Deserialize)]
struct Auth {
    identity: Identity,
    scope: Option<Scope>,
}

#[derive(Deserialize)]
struct Identity {
    methods: Vec<String>,
    application_credential: Option<AppCredential>,
    password: Option<Password>,
    token: Option<TokenMethod>,
}

/// Keystone's `token` method: a token of Weir's Keystone for a new one
/// of the same key, project and expiry (keystoneauth's `v3.Token`, which
/// octavia-tempest-plugin's Barbican client uses).
#[derive(Deserialize)]
struct TokenMethod {
    id: String,
}

#[derive(Deserialize)]
struct AppCredential {
    id: Option<String>,
    secret: String,
}

#[derive(Deserialize)]
struct Password {
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: Option<String>,
    name: Option<String>,
    password: String,
}

#[derive(Deserialize)]
struct Scope {
    project: Option<ScopeProject>,
}

#[derive(Deserialize)]
struct ScopeProject {
    id: Option<String>,
    name: Option<String>,
}

/// Checks an access key id and secret; the key, with its project and role.
async fn check_secret(control: &Control, key_id: &str, secret: &str) -> Option<AccessKey> {
    let key = control.access_key(key_id).await.ok()??;
    constant_time_eq(key.secret.as_bytes(), secret.as_bytes()).then_some(key)
}

pub(super) async fn issue_token(
    State(d): State<Dialects>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if body.len() > BODY_LIMIT {
        return keystone_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        );
    }
    let req: AuthRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => return keystone_error(StatusCode::BAD_REQUEST, format!("{e:?}")),
    };
    let identity = &req.auth.identity;
    let unauthorized = || {
        keystone_error(
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
    };
    let mut until = None;
    let (method, key, user_name) = if identity
        .methods
        .iter()
        .any(|m| m == "application_credential")
    {
        let Some(cred) = &identity.application_credential else {
            return keystone_error(StatusCode::BAD_REQUEST, "application_credential is missing");
        };
        let Some(id) = cred.id.as_deref() else {
            return keystone_error(
                StatusCode::BAD_REQUEST,
                "application_credential.id is required",
            );
        };
        match check_secret(&d.control, id, &cred.secret).await {
            Some(p) => ("application_credential", p, id.to_owned()),
            None => return unauthorized(),
        }
    } else if identity.methods.iter().any(|m| m == "password") {
        let Some(pw) = &identity.password else {
            return keystone_error(StatusCode::BAD_REQUEST, "password is missing");
        };
        let Some(user) = pw.user.name.as_deref().or(pw.user.id.as_deref()) else {
            return keystone_error(StatusCode::BAD_REQUEST, "password.user.name is required");
        };
        match check_secret(&d.control, user, &pw.user.password).await {
            Some(p) => ("password", p, user.to_owned()),
            None => return unauthorized(),
        }
    } else if identity.methods.iter().any(|m| m == "token") {
        let Some(given) = &identity.token else {
            return keystone_error(StatusCode::BAD_REQUEST, "token is missing");
        };
        let Some(key_id) = d.tokens.verify(&given.id, unix_now()) else {
            return unauthorized();
        };
        let Some(expires) = given
            .id
            .rsplit('.')
            .nth(1)
            .and_then(|e| e.parse::<i64>().ok())
        else {
            return unauthorized();
        };
        match d.control.access_key(key_id).await {
            Ok(Some(key)) => {
                until = Some(expires);
                ("token", key, key_id.to_owned())
            }
            _ => return unauthorized(),
        }
    } else {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "only the application_credential, password and token methods are supported",
        );
    };
    let Ok(Some(project)) = d.control.project_of_key(&key).await else {
        return unauthorized();
    };
    if let Some(scope) = req.auth.scope.as_ref().and_then(|s| s.project.as_ref()) {
        let id_ok = scope.id.as_ref().is_none_or(|i| i == project.id.as_str());
        let name_ok = scope.name.as_ref().is_none_or(|n| n == &project.name);
        if !(id_ok && name_ok) {
            return keystone_error(
                StatusCode::UNAUTHORIZED,
                "the credentials do not grant the requested project scope",
            );
        }
    }
    let now = unix_now();
    let (token, expires) = match until {
        Some(expires) => (d.tokens.issue_until(&user_name, expires), expires),
        None => d.tokens.issue(&user_name, now),
    };
    let body = token_body(&d, &headers, method, &project, &key, now, expires);
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&token) {
        resp.headers_mut().insert("x-subject-token", v);
    }
    resp
}

fn token_body(
    d: &Dialects,
    headers: &HeaderMap,
    method: &str,
    project: &weir_core::model::Project,
    key: &AccessKey,
    now: i64,
    expires: i64,
) -> Value {
    let base = base_url(headers);
    let endpoints = |url: &str| -> Vec<Value> {
        d.control
            .settings()
            .regions
            .iter()
            .flat_map(|region| {
                ["public", "internal", "admin"].map(|interface| {
                    json!({"id": format!("{region}-{interface}"), "interface": interface,
                           "region": region, "region_id": region, "url": url})
                })
            })
            .collect()
    };
    let iso = |secs: i64| Timestamp(secs * 1000).to_string();
    let user = key.id.as_str();
    let roles: Vec<Value> = key
        .role
        .keystone_names()
        .iter()
        .map(|name| json!({"id": name, "name": name}))
        .collect();
    json!({"token": {
        "methods": [method],
        "issued_at": iso(now),
        "expires_at": iso(expires),
        "user": {"id": user, "name": user, "domain": {"id": "default", "name": "Default"}, "password_expires_at": null},
        "project": {"id": project.id.as_str(), "name": project.name, "domain": {"id": "default", "name": "Default"}},
        "is_domain": false,
        "audit_ids": [crate::common::request_id()],
        "roles": roles,
        "catalog": [
            {"type": "load-balancer", "name": "octavia", "id": "load-balancer", "endpoints": endpoints(&format!("{base}{LOAD_BALANCER_PREFIX}"))},
            {"type": "network", "name": "neutron", "id": "network", "endpoints": endpoints(&base)},
            {"type": "key-manager", "name": "barbican", "id": "key-manager", "endpoints": endpoints(&format!("{base}{}", super::KEY_MANAGER_PREFIX))},
            {"type": "identity", "name": "keystone", "id": "identity", "endpoints": endpoints(&format!("{base}/v3"))},
        ],
    }})
}

/// `GET /v3/auth/tokens`: what a service (keystonemiddleware, or another
/// Weir in external-Keystone mode) asks about a user's token: the same
/// body its issue answered, read from the key as it is now (a revoked
/// key's tokens are "not found").
pub(super) async fn validate_token(State(d): State<Dialects>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(caller), Some(subject)) = (header("x-auth-token"), header("x-subject-token")) else {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "X-Auth-Token and X-Subject-Token are required",
        );
    };
    if d.tokens.principal(&d.control, caller).await.is_none() {
        return keystone_error(
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        );
    }
    let now = unix_now();
    let found = async {
        let key_id = d.tokens.verify(subject, now)?;
        let expires: i64 = subject.split('.').nth(2)?.parse().ok()?;
        let key = d.control.access_key(key_id).await.ok()??;
        let project = d.control.project_of_key(&key).await.ok()??;
        // The issue time is not kept in the token: it is the expiry less
        // the lifetime.
        let issued = expires - d.tokens.ttl_secs();
        Some(token_body(
            &d, &headers, "password", &project, &key, issued, expires,
        ))
    }
    .await;
    match found {
        Some(body) => {
            let mut resp = Json(body).into_response();
            if let Ok(v) = HeaderValue::from_str(subject) {
                resp.headers_mut().insert("x-subject-token", v);
            }
            resp
        }
        None => keystone_error(StatusCode::NOT_FOUND, "Could not find token."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_resist_forgery() {
        let tokens = Tokens::new([7; 32], Duration::from_secs(60));
        let (token, expires) = tokens.issue("WKAAA1", 1000);
        assert_eq!(expires, 1060);
        assert_eq!(tokens.verify(&token, 1059), Some("WKAAA1"));
        assert_eq!(tokens.verify(&token, 1060), None);
        let forged = token.replace("WKAAA1", "WKAAA2");
        assert_eq!(tokens.verify(&forged, 1000), None);
        let extended = token.replace(".1060.", ".9999.");
        assert_eq!(tokens.verify(&extended, 1000), None);
        let other_key = Tokens::new([8; 32], Duration::from_secs(60));
        assert_eq!(other_key.verify(&token, 1000), None);
        assert_eq!(tokens.verify("garbage", 1000), None);
        assert_eq!(tokens.verify("wks2.a.b.c.d", 1000), None);
    }
}
