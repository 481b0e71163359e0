//! The key manager's secrets and containers: row mapping, reads and
//! writes, and a listener's key-manager refs and TLS options as their
//! columns. Changes are logged without a load balancer: a secret's
//! payload never changes once stored and one in use is not deleted, so
//! no listener needs reloading for them.

use weir_core::client_auth::{ClientAuth, ClientAuthMode};
use weir_core::keymgr::{Container, ContainerKind, KeyRef, Secret, TlsRef};
use weir_core::tls::{TlsOptions, TlsVersion};
use weir_core::upstream_tls::UpstreamTls;

use super::writes::Scope;
use super::*;

pub(super) fn secret_from(row: &impl Columns) -> StoreResult<Secret> {
    Ok(Secret {
        id: SecretId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        secret_type: row.text("secret_type")?,
        algorithm: row.opt_text("algorithm")?,
        bit_length: row
            .opt_int("bit_length")?
            .map(|n| u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("bit_length: {n}"))))
            .transpose()?,
        mode: row.opt_text("mode")?,
        expiration: row.opt_int("expiration")?.map(Timestamp),
        content_type: row.opt_text("content_type")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(super) fn container_from(row: &impl Columns) -> StoreResult<Container> {
    let kind = match row.text("kind")?.as_str() {
        "certificate" => ContainerKind::Certificate,
        "generic" => ContainerKind::Generic,
        other => return Err(StoreError::Corrupt(format!("container kind {other:?}"))),
    };
    let text = row.text("secret_refs")?;
    let refs: Vec<(String, String)> = serde_json::from_str(&text)
        .map_err(|_| StoreError::Corrupt(format!("secret_refs: {text:?}")))?;
    Ok(Container {
        id: ContainerId::new(row.text("id")?),
        project_id: ProjectId::new(row.text("project_id")?),
        name: row.text("name")?,
        kind,
        secret_refs: refs
            .into_iter()
            .map(|(n, id)| (n, SecretId::new(id)))
            .collect(),
        created_at: ts(row, "created_at")?,
    })
}

/// A listener's refs as their column.
pub(super) fn tls_refs_to_text(refs: &[TlsRef]) -> String {
    let list: Vec<serde_json::Value> = refs
        .iter()
        .map(|r| {
            let (kind, id) = match &r.target {
                KeyRef::Secret(id) => ("secret", id.as_str()),
                KeyRef::Container(id) => ("container", id.as_str()),
                KeyRef::Certificate(id) => ("certificate", id.as_str()),
            };
            serde_json::json!({"href": r.href, "kind": kind, "id": id})
        })
        .collect();
    serde_json::Value::from(list).to_string()
}

pub(super) fn tls_refs_col(row: &impl Columns) -> StoreResult<Vec<TlsRef>> {
    let text = row.text("tls_refs")?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text)
        .map_err(|_| StoreError::Corrupt(format!("tls_refs: {text:?}")))?;
    refs_from(&rows, "tls_refs", &text)
}

/// Refs stored as `{href, kind, id}` objects.
fn refs_from(rows: &[serde_json::Value], column: &str, text: &str) -> StoreResult<Vec<TlsRef>> {
    let corrupt = || StoreError::Corrupt(format!("{column}: {text:?}"));
    rows.iter()
        .map(|r| {
            let field = |name: &str| {
                r.get(name)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(corrupt)
            };
            let id = field("id")?;
            let target = match field("kind")?.as_str() {
                "secret" => KeyRef::Secret(SecretId::new(id)),
                "container" => KeyRef::Container(ContainerId::new(id)),
                "certificate" => KeyRef::Certificate(CertificateId::new(id)),
                _ => return Err(corrupt()),
            };
            Ok(TlsRef {
                href: field("href")?,
                target,
            })
        })
        .collect()
}

/// One ref as its stored object, or null.
fn ref_value(r: Option<&TlsRef>) -> serde_json::Value {
    r.and_then(|r| {
        serde_json::from_str::<serde_json::Value>(&tls_refs_to_text(std::slice::from_ref(r)))
            .ok()
            .and_then(|v| v.get(0).cloned())
    })
    .unwrap_or(serde_json::Value::Null)
}

/// A listener's client-certificate verification as its `client_auth`
/// column (NULL: off).
pub(super) fn client_auth_to_text(a: &ClientAuth) -> Option<String> {
    if a.is_off() {
        return None;
    }
    Some(
        serde_json::json!({
            "mode": a.mode.as_str(),
            "ca": ref_value(a.ca.as_ref()),
            "crl": ref_value(a.crl.as_ref()),
        })
        .to_string(),
    )
}

pub(super) fn client_auth_col(row: &impl Columns) -> StoreResult<ClientAuth> {
    let Some(text) = row.opt_text("client_auth")? else {
        return Ok(ClientAuth::default());
    };
    let corrupt = || StoreError::Corrupt(format!("client_auth: {text:?}"));
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| corrupt())?;
    let mode = v
        .get("mode")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(corrupt)?;
    let mode = ClientAuthMode::parse("client_auth", mode).map_err(|_| corrupt())?;
    let one = |name: &str| -> StoreResult<Option<TlsRef>> {
        match v.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(r) => Ok(refs_from(std::slice::from_ref(r), "client_auth", &text)?
                .into_iter()
                .next()),
        }
    };
    Ok(ClientAuth {
        mode,
        ca: one("ca")?,
        crl: one("crl")?,
    })
}

/// A pool's re-encryption as its `upstream_tls` column (NULL: none).
pub(super) fn upstream_tls_to_text(u: Option<&UpstreamTls>) -> Option<String> {
    let u = u?;
    let one = |r: &Option<TlsRef>| -> serde_json::Value {
        match r {
            Some(r) => serde_json::from_str(&tls_refs_to_text(std::slice::from_ref(r)))
                .ok()
                .and_then(|v: serde_json::Value| v.get(0).cloned())
                .unwrap_or_default(),
            None => serde_json::Value::Null,
        }
    };
    let versions: Vec<&str> = u.options.versions.iter().map(|v| v.as_str()).collect();
    // `crl`, `cert` and `server_name` came after 0022: a row without them
    // reads as none (no migration needed for a JSON column).
    Some(
        serde_json::json!({
            "ca": one(&u.ca),
            "crl": one(&u.crl),
            "cert": one(&u.client_cert),
            "server_name": u.server_name,
            "versions": versions,
            "ciphers": u.options.ciphers,
            "alpn": u.options.alpn,
        })
        .to_string(),
    )
}

pub(super) fn upstream_tls_col(row: &impl Columns) -> StoreResult<Option<UpstreamTls>> {
    let Some(text) = row.opt_text("upstream_tls")? else {
        return Ok(None);
    };
    let corrupt = || StoreError::Corrupt(format!("upstream_tls: {text:?}"));
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| corrupt())?;
    let one = |name: &str| -> StoreResult<Option<TlsRef>> {
        match v.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(r) => Ok(refs_from(std::slice::from_ref(r), "upstream_tls", &text)?
                .into_iter()
                .next()),
        }
    };
    let server_name = match v.get("server_name") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(corrupt()),
    };
    let strings = |name: &str| -> StoreResult<Vec<String>> {
        v.get(name)
            .and_then(serde_json::Value::as_array)
            .ok_or_else(corrupt)?
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or_else(corrupt))
            .collect()
    };
    let versions = strings("versions")?
        .into_iter()
        .map(|v| match v.as_str() {
            "TLSv1.2" => Ok(TlsVersion::Tls12),
            "TLSv1.3" => Ok(TlsVersion::Tls13),
            _ => Err(corrupt()),
        })
        .collect::<StoreResult<_>>()?;
    let ciphers = match v.get("ciphers") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(corrupt()),
    };
    Ok(Some(UpstreamTls {
        ca: one("ca")?,
        crl: one("crl")?,
        client_cert: one("cert")?,
        server_name,
        options: TlsOptions {
            versions,
            ciphers,
            alpn: strings("alpn")?,
        },
    }))
}

pub(super) fn tls_versions_to_text(options: &TlsOptions) -> String {
    let names: Vec<&str> = options.versions.iter().map(|v| v.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

pub(super) fn tls_options_col(row: &impl Columns) -> StoreResult<TlsOptions> {
    let versions = tags_col(row, "tls_versions")?
        .into_iter()
        .map(|v| match v.as_str() {
            "TLSv1.2" => Ok(TlsVersion::Tls12),
            "TLSv1.3" => Ok(TlsVersion::Tls13),
            other => Err(StoreError::Corrupt(format!("tls_versions: {other:?}"))),
        })
        .collect::<StoreResult<_>>()?;
    Ok(TlsOptions {
        versions,
        ciphers: row.opt_text("tls_ciphers")?,
        alpn: tags_col(row, "alpn_protocols")?,
    })
}

/// A secret with its sealed payload (`None`: none stored yet).
pub(super) async fn secret_with_payload<D: Driver>(
    conn: &mut D,
    id: &SecretId,
) -> StoreResult<Option<(Secret, Option<String>)>> {
    if !well_formed(id.as_str()) {
        return Ok(None);
    }
    let row = conn
        .fetch_optional("SELECT * FROM secrets WHERE id = $1", args![id.as_str()])
        .await?;
    one(row, |r| {
        Ok((secret_from(r)?, r.opt_text("sealed_payload")?))
    })
}

impl<D: TxDriver> WriteTx<D> {
    pub(super) async fn km_insert_secret(
        &mut self,
        s: &Secret,
        sealed_payload: Option<&str>,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO secrets (id, project_id, name, secret_type, algorithm, bit_length, mode, \
             expiration, content_type, sealed_payload, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            args![
                s.id.as_str(),
                s.project_id.as_str(),
                &s.name,
                &s.secret_type,
                s.algorithm.as_deref(),
                s.bit_length.map(i64::from),
                s.mode.as_deref(),
                s.expiration.map(|t| t.millis()),
                s.content_type.as_deref(),
                sealed_payload,
                s.created_at.millis(),
                s.updated_at.millis(),
            ],
        )
        .await?;
        self.log(
            &s.project_id,
            "secret",
            &[s.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    /// Stores the payload of a secret made without one; a secret that has
    /// one already is left as it is (the planner refused that first).
    pub(super) async fn km_set_payload(&mut self, s: &Secret, sealed: &str) -> StoreResult<()> {
        self.exec(
            "UPDATE secrets SET content_type = $1, sealed_payload = $2, updated_at = $3 \
             WHERE id = $4 AND sealed_payload IS NULL",
            args![
                s.content_type.as_deref(),
                sealed,
                s.updated_at.millis(),
                s.id.as_str()
            ],
        )
        .await?;
        self.log(
            &s.project_id,
            "secret",
            &[s.id.as_str()],
            "update",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn km_delete_secret(&mut self, s: &Secret) -> StoreResult<()> {
        self.exec("DELETE FROM secrets WHERE id = $1", args![s.id.as_str()])
            .await?;
        self.log(
            &s.project_id,
            "secret",
            &[s.id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn km_insert_container(&mut self, c: &Container) -> StoreResult<()> {
        let refs: Vec<(&str, &str)> = c
            .secret_refs
            .iter()
            .map(|(n, id)| (n.as_str(), id.as_str()))
            .collect();
        let refs = serde_json::to_string(&refs)
            .map_err(|e| StoreError::Corrupt(format!("secret_refs: {e}")))?;
        self.exec(
            "INSERT INTO containers (id, project_id, name, kind, secret_refs, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![
                c.id.as_str(),
                c.project_id.as_str(),
                &c.name,
                c.kind.as_str(),
                refs.as_str(),
                c.created_at.millis(),
            ],
        )
        .await?;
        self.log(
            &c.project_id,
            "container",
            &[c.id.as_str()],
            "create",
            Scope::NONE,
        )
        .await
    }

    pub(super) async fn km_delete_container(&mut self, c: &Container) -> StoreResult<()> {
        self.exec("DELETE FROM containers WHERE id = $1", args![c.id.as_str()])
            .await?;
        self.log(
            &c.project_id,
            "container",
            &[c.id.as_str()],
            "delete",
            Scope::NONE,
        )
        .await
    }
}
