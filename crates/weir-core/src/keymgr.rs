//! The key manager's rules (Barbican's secrets and containers, served by
//! Weir for TLS-terminating Octavia listeners): what a secret and a
//! container may hold, how many a project keeps, what a listener may
//! name, and what stays while a listener uses it. The bytes are
//! `weir-tls`'s to read and `weir-control`'s to seal; none of them are in
//! this model, so no view can show a payload.

use std::collections::HashSet;

use crate::error::QuotaKind;
use crate::ids::{ContainerId, ProjectId, SecretId};
use crate::model::{Listener, Protocol};
use crate::settings::{Limits, Settings};
use crate::{inventory, Error, ResourceKind, Timestamp};

/// Barbican's secret types.
pub const SECRET_TYPES: &[&str] = &[
    "symmetric",
    "public",
    "private",
    "passphrase",
    "certificate",
    "opaque",
];

/// The payload content types Barbican stores (its `text/plain` is
/// UTF-8 text; the others are bytes).
pub const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "application/octet-stream",
    "application/pkcs8",
    "application/pkix-cert",
];

/// The names a certificate container's secrets may have, Barbican's.
pub const CERTIFICATE_REF_NAMES: &[&str] = &[
    "certificate",
    "private_key",
    "private_key_passphrase",
    "intermediates",
];

/// Most secrets one generic container names.
pub const MAX_CONTAINER_REFS: usize = 32;

/// A secret's metadata; the payload is sealed beside it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub id: SecretId,
    pub project_id: ProjectId,
    pub name: String,
    /// One of [`SECRET_TYPES`].
    pub secret_type: String,
    pub algorithm: Option<String>,
    pub bit_length: Option<u32>,
    pub mode: Option<String>,
    pub expiration: Option<Timestamp>,
    /// The payload's content type (one of [`CONTENT_TYPES`]); `None`
    /// until a payload is stored (Barbican's two-step create).
    pub content_type: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A secret's payload, decoded from its wire encoding.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    /// One of [`CONTENT_TYPES`] (checked by [`content_type`]).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Payload {
    /// Never the bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A secret as a tenant asks for it.
#[derive(Debug, Clone, Default)]
pub struct NewSecret {
    pub name: Option<String>,
    pub secret_type: Option<String>,
    pub algorithm: Option<String>,
    pub bit_length: Option<u32>,
    pub mode: Option<String>,
    pub expiration: Option<Timestamp>,
    /// `None`: metadata only, the payload comes by a later PUT.
    pub payload: Option<Payload>,
}

/// The content type Barbican means by `given` (parameters such as
/// `charset=utf-8` on text are allowed and dropped), or a refusal.
pub fn content_type(field: &str, given: &str) -> Result<String, Error> {
    let mut parts = given.split(';').map(str::trim);
    let base = parts.next().unwrap_or_default().to_ascii_lowercase();
    if !CONTENT_TYPES.contains(&base.as_str()) {
        return Err(Error::invalid(
            field,
            format!(
                "content type {given:?} is not supported (one of {})",
                CONTENT_TYPES.join(", ")
            ),
        ));
    }
    for param in parts {
        let ok = base == "text/plain"
            && param.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "charset" && v.trim().eq_ignore_ascii_case("utf-8")
            });
        if !ok {
            return Err(Error::invalid(
                field,
                format!("content type parameter {param:?} is not supported"),
            ));
        }
    }
    Ok(base)
}

/// Holds a payload to the deployment's size bound and its content type's
/// shape (text is UTF-8).
pub fn check_payload(payload: &Payload, settings: &Settings) -> Result<(), Error> {
    let max = settings.limits.secret_max_bytes;
    if payload.bytes.is_empty() {
        return Err(Error::invalid("payload", "the payload is empty"));
    }
    if payload.bytes.len() > max {
        return Err(Error::invalid(
            "payload",
            format!(
                "the payload is {} bytes, more than the {max} bytes a secret may hold",
                payload.bytes.len()
            ),
        ));
    }
    if payload.content_type == "text/plain" && std::str::from_utf8(&payload.bytes).is_err() {
        return Err(Error::invalid(
            "payload",
            "a text/plain payload must be UTF-8 text",
        ));
    }
    Ok(())
}

/// The secret to store for `project`, which holds `existing` already.
pub fn plan_secret(
    project: &ProjectId,
    new: &NewSecret,
    existing: usize,
    settings: &Settings,
    id: String,
    now: Timestamp,
) -> Result<Secret, Error> {
    let name = new.name.clone().unwrap_or_default();
    if !name.is_empty() {
        inventory::validate_name("name", &name)?;
    }
    let secret_type = new.secret_type.clone().unwrap_or_else(|| "opaque".into());
    if !SECRET_TYPES.contains(&secret_type.as_str()) {
        return Err(Error::invalid(
            "secret_type",
            format!("{secret_type:?} is not one of {}", SECRET_TYPES.join(", ")),
        ));
    }
    for (field, value) in [("algorithm", &new.algorithm), ("mode", &new.mode)] {
        if value.as_ref().is_some_and(|v| v.len() > 255) {
            return Err(Error::invalid(field, "longer than 255 characters"));
        }
    }
    if let Some(expiration) = new.expiration {
        if expiration <= now {
            return Err(Error::invalid(
                "expiration",
                "the expiration is in the past",
            ));
        }
    }
    if let Some(payload) = &new.payload {
        check_payload(payload, settings)?;
    }
    Limits::room_for_one(
        QuotaKind::SecretsPerProject,
        existing,
        settings.limits.secrets_per_project,
    )?;
    Ok(Secret {
        id: SecretId::new(id),
        project_id: project.clone(),
        name,
        secret_type,
        algorithm: new.algorithm.clone(),
        bit_length: new.bit_length,
        mode: new.mode.clone(),
        expiration: new.expiration,
        content_type: new.payload.as_ref().map(|p| p.content_type.clone()),
        created_at: now,
        updated_at: now,
    })
}

/// A secret created without a payload gets one, once (Barbican's
/// two-step create); a secret keeps its first payload for life, which is
/// also why a listener never needs reloading for one.
pub fn plan_payload(
    current: &Secret,
    payload: &Payload,
    settings: &Settings,
    now: Timestamp,
) -> Result<Secret, Error> {
    if current.content_type.is_some() {
        return Err(Error::conflict(format!(
            "secret {} already has a payload; a secret's payload cannot be changed",
            current.id
        )));
    }
    check_payload(payload, settings)?;
    Ok(Secret {
        content_type: Some(payload.content_type.clone()),
        updated_at: now,
        ..current.clone()
    })
}

/// Whether a secret has expired (its payload is then not served).
pub fn expired(secret: &Secret, now: Timestamp) -> bool {
    secret.expiration.is_some_and(|e| e <= now)
}

/// A container's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// Named secrets of a TLS certificate ([`CERTIFICATE_REF_NAMES`]).
    Certificate,
    /// Any named secrets.
    Generic,
}

impl ContainerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "certificate" => Ok(Self::Certificate),
            "generic" => Ok(Self::Generic),
            "rsa" => Err(Error::Unsupported {
                field: "type".into(),
                reason: "rsa containers are not kept (certificate and generic are)".into(),
            }),
            other => Err(Error::invalid(
                "type",
                format!("{other:?} is not one of certificate, generic, rsa"),
            )),
        }
    }
}

/// A named group of a project's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: ContainerId,
    pub project_id: ProjectId,
    pub name: String,
    pub kind: ContainerKind,
    /// (name, secret), in the order given.
    pub secret_refs: Vec<(String, SecretId)>,
    pub created_at: Timestamp,
}

impl Container {
    /// The secret under `name`, if any.
    pub fn secret(&self, name: &str) -> Option<&SecretId> {
        self.secret_refs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id)
    }
}

/// A container as a tenant asks for it.
#[derive(Debug, Clone)]
pub struct NewContainer {
    pub name: Option<String>,
    pub kind: ContainerKind,
    pub secret_refs: Vec<(String, SecretId)>,
}

/// The container to store for `project`, which holds `existing`
/// containers; `found` are the secrets the refs name as the store has
/// them (another project's or a missing one is "not found").
pub fn plan_container(
    project: &ProjectId,
    new: &NewContainer,
    found: &[Secret],
    existing: usize,
    settings: &Settings,
    id: String,
    now: Timestamp,
) -> Result<Container, Error> {
    let name = new.name.clone().unwrap_or_default();
    if !name.is_empty() {
        inventory::validate_name("name", &name)?;
    }
    if new.secret_refs.len() > MAX_CONTAINER_REFS {
        return Err(Error::invalid(
            "secret_refs",
            format!("at most {MAX_CONTAINER_REFS} secrets in a container"),
        ));
    }
    let mut names = HashSet::new();
    for (i, (ref_name, secret)) in new.secret_refs.iter().enumerate() {
        let field = format!("secret_refs[{i}]");
        if ref_name.len() > 255 {
            return Err(Error::invalid(field, "a name longer than 255 characters"));
        }
        if new.kind == ContainerKind::Certificate {
            if !CERTIFICATE_REF_NAMES.contains(&ref_name.as_str()) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "a certificate container names its secrets {}, not {ref_name:?}",
                        CERTIFICATE_REF_NAMES.join(", ")
                    ),
                ));
            }
            if !names.insert(ref_name.as_str()) {
                return Err(Error::invalid(field, format!("{ref_name} is named twice")));
            }
        }
        if !found
            .iter()
            .any(|s| &s.id == secret && &s.project_id == project)
        {
            return Err(Error::not_found(ResourceKind::Secret, secret));
        }
    }
    if new.kind == ContainerKind::Certificate && !names.contains("certificate") {
        return Err(Error::invalid(
            "secret_refs",
            "a certificate container needs a secret named certificate",
        ));
    }
    Limits::room_for_one(
        QuotaKind::ContainersPerProject,
        existing,
        settings.limits.containers_per_project,
    )?;
    Ok(Container {
        id: ContainerId::new(id),
        project_id: project.clone(),
        name,
        kind: new.kind,
        secret_refs: new.secret_refs.clone(),
        created_at: now,
    })
}

/// What a listener's TLS reference names in the key manager, or (a
/// client CA only, [`crate::client_auth`]) one of Weir's own CA
/// certificates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyRef {
    Secret(SecretId),
    Container(ContainerId),
    /// A certificate of kind CA (`/v1/certificates`, Huawei's `client`
    /// certificates): never a served certificate, never a secret.
    Certificate(crate::ids::CertificateId),
}

impl KeyRef {
    /// How a conflict names it.
    pub fn describe(&self) -> String {
        match self {
            KeyRef::Secret(id) => format!("secret {id}"),
            KeyRef::Container(id) => format!("container {id}"),
            KeyRef::Certificate(id) => format!("certificate {id}"),
        }
    }

    /// The id, whatever it names.
    pub fn id(&self) -> &str {
        match self {
            KeyRef::Secret(id) => id.as_str(),
            KeyRef::Container(id) => id.as_str(),
            KeyRef::Certificate(id) => id.as_str(),
        }
    }
}

/// A key-manager reference a TLS-terminating listener serves: the URL the
/// tenant gave (shown back as given) and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRef {
    pub href: String,
    pub target: KeyRef,
}

/// The refs a listener of `protocol` names, checked for shape: only an
/// https listener names any, at most
/// [`crate::certificate::MAX_CERTIFICATES_PER_LISTENER`], none twice (the
/// first is the default).
pub fn listener_tls_refs(protocol: Protocol, refs: &[TlsRef]) -> Result<Vec<TlsRef>, Error> {
    const FIELD: &str = "sni_container_refs";
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    if protocol != Protocol::Https {
        return Err(Error::invalid(
            "default_tls_container_ref",
            format!("only a TLS-terminating listener serves certificates, not {protocol}"),
        ));
    }
    let max = crate::certificate::MAX_CERTIFICATES_PER_LISTENER;
    if refs.len() > max {
        return Err(Error::invalid(
            FIELD,
            format!("at most {max} certificates per listener"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, r) in refs.iter().enumerate() {
        if !seen.insert(&r.target) {
            return Err(Error::invalid(
                format!("{FIELD}[{i}]"),
                format!("{} is named twice", r.href),
            ));
        }
    }
    Ok(refs.to_vec())
}

/// Whether `listener` serves from `target`, directly or (for a secret)
/// through one of `containers`.
fn uses(listener: &Listener, target: &KeyRef, containers: &[Container]) -> bool {
    // The client CA and CRL (mTLS) count as much as the served
    // certificate: without them the listener verifies no client.
    let client_auth = &listener.client_auth;
    let mut refs = listener
        .tls_refs
        .iter()
        .chain(client_auth.ca.iter())
        .chain(client_auth.crl.iter());
    refs.any(|r| {
        &r.target == target
            || match (&r.target, target) {
                (KeyRef::Container(c), KeyRef::Secret(s)) => containers
                    .iter()
                    .any(|k| &k.id == c && k.secret_refs.iter().any(|(_, id)| id == s)),
                _ => false,
            }
    })
}

/// A secret or container a listener serves from, or verifies clients
/// with (its client CA or CRL), is not deleted (409, naming the
/// listener), as a certificate in use is not: the listener would be left
/// without its certificate or its client check. `listeners` and `containers`
/// are the project's.
pub fn check_delete(
    target: &KeyRef,
    listeners: &[Listener],
    containers: &[Container],
) -> Result<(), Error> {
    let users: Vec<&Listener> = listeners
        .iter()
        .filter(|l| uses(l, target, containers))
        .collect();
    let Some(first) = users.first() else {
        return Ok(());
    };
    let what = target.describe();
    Err(Error::conflict(format!(
        "{what} is in use by listener {}{}; take it off the listener first",
        first.id,
        match users.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        }
    )))
}

/// A secret or container a re-encrypting pool names (its CA bundle, CRL
/// or client certificate, directly or through a container) is not
/// deleted either (409, naming the pool and the role): the pool would be
/// left dialling nothing. `pools` and `containers` are the project's.
pub fn check_pool_delete(
    target: &KeyRef,
    pools: &[crate::model::Pool],
    containers: &[Container],
) -> Result<(), Error> {
    let names = |r: &TlsRef| {
        &r.target == target
            || match (&r.target, target) {
                (KeyRef::Container(c), KeyRef::Secret(s)) => containers
                    .iter()
                    .any(|k| &k.id == c && k.secret_refs.iter().any(|(_, id)| id == s)),
                _ => false,
            }
    };
    let found = pools.iter().find_map(|p| {
        p.upstream_tls
            .as_ref()
            .and_then(|u| u.refs().find(|(_, r)| names(r)))
            .map(|(role, _)| (p, role))
    });
    let Some((pool, role)) = found else {
        return Ok(());
    };
    let what = target.describe();
    Err(Error::conflict(format!(
        "{what} is in use by pool {} as its {role}; take it off the pool first",
        pool.id
    )))
}

#[cfg(test)]
mod tests;
