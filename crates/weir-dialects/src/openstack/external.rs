//! External-Keystone mode: Weir trusts the operator's own Keystone for
//! Octavia's `X-Auth-Token`s, the keystonemiddleware way. Weir signs in
//! to that Keystone as its service user, asks it about each token it has
//! not seen lately (`GET /v3/auth/tokens` with `X-Subject-Token`), maps the
//! token's project to a Weir project of the same id (made on first use)
//! and its roles to a Weir role (`Role::from_keystone`), and remembers the
//! answer until the token expires or `cache` passes, whichever is first,
//! so a token revoked in Keystone stops within `cache`.
//!
//! Plain `http://` endpoints only: an `https://` one is refused at start
//! (the client would otherwise have to skip verification).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use weir_control::{Control, Principal};
use weir_core::ids::ProjectId;
use weir_core::model::Role;
use weir_core::Timestamp;

use crate::common::unix_now;

/// Where the operator's Keystone is and who Weir is there.
#[derive(Debug, Clone)]
pub struct ExternalKeystone {
    /// The identity v3 endpoint, e.g. `http://keystone.internal:5000/v3`.
    pub url: String,
    /// Weir's service user, and the project its token is scoped to (as
    /// keystonemiddleware's `[keystone_authtoken]`).
    pub username: String,
    pub password: String,
    pub user_domain: String,
    pub project_name: String,
    pub project_domain: String,
    /// Longest a validated (or refused) token is remembered.
    pub cache: Duration,
}

impl ExternalKeystone {
    /// Refuses what Weir cannot honour: an endpoint that is not
    /// `http://` (the operator's start fails with this message).
    pub fn check(&self) -> Result<(), String> {
        let rest = self.url.strip_prefix("http://").ok_or_else(|| {
            format!(
                "keystone.url {:?}: only http:// endpoints are supported (use Keystone's internal \
                 endpoint, or a TLS-terminating proxy on loopback)",
                self.url
            )
        })?;
        if rest.is_empty() || self.username.is_empty() || self.project_name.is_empty() {
            return Err("keystone: url, username and project_name are required".into());
        }
        Ok(())
    }
}

/// Longest a Keystone exchange may take before the caller gets a 503.
const KEYSTONE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest Keystone answer read (a token without its catalog is a few KiB).
const KEYSTONE_BODY_LIMIT: usize = 1 << 20;
/// Longest token forwarded to Keystone (Fernet tokens are ~200 bytes; JWS
/// under 1 KiB): anything longer is refused without asking.
const MAX_TOKEN_LEN: usize = 8192;
/// Tokens remembered at most; past it, expired entries go, then all.
const CACHE_ENTRIES: usize = 10_000;

/// Why a token was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Keystone does not know it (or it expired): 401.
    Invalid,
    /// Keystone knows it, but its roles reach nothing of the
    /// load-balancer service: 403.
    NoRole,
    /// Keystone could not be asked: 503, nothing is remembered.
    Unavailable(String),
}

type Verdict = Result<Principal, Refusal>;

/// The validating client, with its caches.
pub struct KeystoneClient {
    config: ExternalKeystone,
    http: Client<HttpConnector, Full<Bytes>>,
    /// Weir's own service token and when to sign in again.
    service: tokio::sync::Mutex<Option<(String, Instant)>>,
    /// SHA-256 of a token → the verdict and until when it holds.
    seen: Mutex<HashMap<[u8; 32], (Verdict, Instant)>>,
}

impl KeystoneClient {
    /// A client for `config` (which [`ExternalKeystone::check`] passed).
    pub fn new(config: ExternalKeystone) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(KEYSTONE_TIMEOUT));
        Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            config,
            service: tokio::sync::Mutex::new(None),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The principal a user's token acts as, asking Keystone unless a
    /// recent answer is remembered.
    pub async fn principal(&self, control: &Control, token: &str) -> Verdict {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(Refusal::Invalid);
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(verdict) = self.remembered(&key) {
            return verdict;
        }
        let outcome = match self.validate(token).await {
            Ok(Some(found)) => self.admit(control, found).await,
            Ok(None) => Err(Refusal::Invalid),
            Err(reason) => Err(Refusal::Unavailable(reason)),
        };
        let (verdict, until) = match outcome {
            Ok((principal, until)) => (Ok(principal), until),
            // Not remembered: the next request asks again.
            Err(unavailable @ Refusal::Unavailable(_)) => return Err(unavailable),
            // Remembered too, so a flood of one bad token asks once.
            Err(refusal) => (Err(refusal), Instant::now() + self.config.cache),
        };
        self.remember(key, &verdict, until);
        verdict
    }

    fn remembered(&self, key: &[u8; 32]) -> Option<Verdict> {
        let seen = self.seen.lock().expect("token cache lock");
        let (verdict, until) = seen.get(key)?;
        (Instant::now() < *until).then(|| verdict.clone())
    }

    fn remember(&self, key: [u8; 32], verdict: &Verdict, until: Instant) {
        let mut seen = self.seen.lock().expect("token cache lock");
        if seen.len() >= CACHE_ENTRIES {
            let now = Instant::now();
            seen.retain(|_, (_, until)| *until > now);
            if seen.len() >= CACHE_ENTRIES {
                seen.clear();
            }
        }
        seen.insert(key, (verdict.clone(), until));
    }

    /// Maps a valid token to its Weir principal: the project (made on
    /// first use) and the strongest role it names.
    async fn admit(
        &self,
        control: &Control,
        found: ValidToken,
    ) -> Result<(Principal, Instant), Refusal> {
        let role =
            Role::from_keystone(found.roles.iter().map(String::as_str)).ok_or(Refusal::NoRole)?;
        let project = control
            .ensure_project(
                &Principal::Admin,
                ProjectId::new(found.project_id),
                found.project_name,
            )
            .await
            .map_err(|e| Refusal::Unavailable(e.client_message()))?;
        let now_ms = unix_now() * 1000;
        let left = u64::try_from(found.expires.millis() - now_ms).unwrap_or(0);
        let hold = self.config.cache.min(Duration::from_millis(left));
        Ok((
            Principal::with_role(project.id, role),
            Instant::now() + hold,
        ))
    }

    /// Asks Keystone about `token`: `None` when it does not stand (404 or
    /// 401 for the subject, or expired).
    async fn validate(&self, token: &str) -> Result<Option<ValidToken>, String> {
        for attempt in 0..2 {
            let service = self.service_token(attempt > 0).await?;
            let req = hyper::Request::get(format!("{}/auth/tokens?nocatalog", self.base()))
                .header("x-auth-token", &service)
                .header("x-subject-token", token)
                .body(Full::new(Bytes::new()))
                .map_err(|e| format!("the token cannot be sent to Keystone: {e}"))?;
            let (status, body, _) = self.exchange(req).await?;
            match status {
                200 => return Ok(parse_token(&body)),
                404 => return Ok(None),
                // Our own token was refused (expired, revoked): once more,
                // signed in again.
                401 if attempt == 0 => continue,
                other => return Err(format!("Keystone answered {other} to a token validation")),
            }
        }
        Err("Keystone refused Weir's service credentials".into())
    }

    /// Weir's token at Keystone, signed in again when `renew` or when it
    /// is about to expire.
    async fn service_token(&self, renew: bool) -> Result<String, String> {
        let mut held = self.service.lock().await;
        if let Some((token, until)) = held.as_ref() {
            if !renew && Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let c = &self.config;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "password": c.password, "domain": {"name": c.user_domain}}}},
            "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain}}},
        }});
        let req = hyper::Request::post(format!("{}/auth/tokens?nocatalog", self.base()))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("the sign-in cannot be sent to Keystone: {e}"))?;
        let (status, body, subject) = self.exchange(req).await?;
        let (200 | 201) = status else {
            return Err(format!(
                "Keystone refused Weir's service credentials ({status})"
            ));
        };
        let token = subject.ok_or("Keystone's sign-in answer has no X-Subject-Token")?;
        let expires = parse_token(&body).map(|t| t.expires);
        // Renewed a minute before it expires (or in ten minutes when the
        // answer does not say), so a validation never carries a dead one.
        let left_ms = expires.map_or(600_000, |e| e.millis() - unix_now() * 1000 - 60_000);
        let until = Instant::now() + Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
        *held = Some((token.clone(), until));
        Ok(token)
    }

    fn base(&self) -> &str {
        self.config.url.trim_end_matches('/')
    }

    /// One request with the timeout and body limit: status, body and the
    /// `X-Subject-Token` header.
    async fn exchange(
        &self,
        req: hyper::Request<Full<Bytes>>,
    ) -> Result<(u16, Value, Option<String>), String> {
        let unreachable = |e: &dyn std::fmt::Display| format!("Keystone is unreachable: {e}");
        let exchange = async {
            let resp = self.http.request(req).await.map_err(|e| unreachable(&e))?;
            let status = resp.status().as_u16();
            let subject = resp
                .headers()
                .get("x-subject-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(resp.into_body(), KEYSTONE_BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| unreachable(&e))?
                .to_bytes();
            Ok((
                status,
                serde_json::from_slice(&body).unwrap_or(Value::Null),
                subject,
            ))
        };
        tokio::time::timeout(KEYSTONE_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err("Keystone did not answer in time".into()))
    }
}

/// What Weir reads of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValidToken {
    project_id: String,
    project_name: String,
    roles: Vec<String>,
    expires: Timestamp,
}

/// A Keystone token body: project-scoped, unexpired, with its roles. A
/// token without a project (unscoped, domain- or system-scoped) or past
/// its expiry does not stand here.
fn parse_token(body: &Value) -> Option<ValidToken> {
    let token = body.get("token")?;
    let expires = Timestamp::parse_rfc3339(token.get("expires_at")?.as_str()?)?;
    if expires.millis() <= unix_now() * 1000 {
        return None;
    }
    let project = token.get("project")?;
    let project_id = project.get("id")?.as_str()?;
    // Project ids become Weir ids: Keystone's are 32 hex digits; allow
    // what ids elsewhere allow, nothing that could be a path or a list.
    let id_ok = !project_id.is_empty()
        && project_id.len() <= 64
        && project_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return None;
    }
    let roles = token
        .get("roles")?
        .as_array()?
        .iter()
        .filter_map(|r| r.get("name")?.as_str().map(str::to_owned))
        .collect();
    Some(ValidToken {
        project_id: project_id.to_owned(),
        project_name: project
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        roles,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> String {
        Timestamp((unix_now() + 3600) * 1000).to_string()
    }

    #[test]
    fn a_project_scoped_unexpired_token_stands() {
        let body = json!({"token": {"expires_at": later(),
            "project": {"id": "0123456789abcdef0123456789abcdef", "name": "web"},
            "roles": [{"id": "r1", "name": "reader"}, {"id": "r2", "name": "load-balancer_member"}]}});
        let token = parse_token(&body).unwrap();
        assert_eq!(token.project_id, "0123456789abcdef0123456789abcdef");
        assert_eq!(token.roles, ["reader", "load-balancer_member"]);
        assert_eq!(
            Role::from_keystone(token.roles.iter().map(String::as_str)),
            Some(Role::Member)
        );
    }

    #[test]
    fn unscoped_expired_or_odd_tokens_do_not() {
        let past = Timestamp((unix_now() - 1) * 1000).to_string();
        for body in [
            json!({"token": {"expires_at": later(), "roles": []}}),
            json!({"token": {"expires_at": past, "project": {"id": "p"}, "roles": []}}),
            json!({"token": {"expires_at": "soon", "project": {"id": "p"}, "roles": []}}),
            json!({"token": {"expires_at": later(), "project": {"id": "../p"}, "roles": []}}),
            json!({"token": {"expires_at": later(), "project": {"id": ""}, "roles": []}}),
            json!({"error": {"code": 404}}),
            Value::Null,
        ] {
            assert_eq!(parse_token(&body), None, "{body}");
        }
    }

    #[test]
    fn https_endpoints_are_refused_at_start() {
        let config = ExternalKeystone {
            url: "https://keystone:5000/v3".into(),
            username: "weir".into(),
            password: "x".into(),
            user_domain: "Default".into(),
            project_name: "service".into(),
            project_domain: "Default".into(),
            cache: Duration::from_secs(60),
        };
        assert!(config.check().is_err());
        let config = ExternalKeystone {
            url: "http://127.0.0.1:5000/v3".into(),
            ..config
        };
        assert!(config.check().is_ok());
    }
}
