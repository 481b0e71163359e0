//! The key manager's commands (Barbican's secrets and containers):
//! payloads sealed before the writer sees them, opened only for the
//! payload call and the listeners that serve them, and what a listener
//! names resolved in the same transaction that stores it.

use weir_core::keymgr::{self, Container, KeyRef, NewContainer, NewSecret, Payload, Secret};

use super::*;
use crate::keymaterial::tls_ref_material;

impl Control {
    /// The project a key-manager call acts for: the caller's own (the
    /// operator, who belongs to none, keeps no secrets here).
    fn keymgr_project(principal: &Principal) -> ControlResult<ProjectId> {
        principal.scope().cloned().ok_or_else(|| {
            Error::invalid(
                "project",
                "secrets belong to a project: use a project's credentials",
            )
            .into()
        })
    }

    /// Stores a secret, sealing its payload if it came with one.
    pub async fn create_secret(
        &self,
        principal: &Principal,
        new: NewSecret,
    ) -> ControlResult<Secret> {
        principal.may_write()?;
        let project = Self::keymgr_project(principal)?;
        let id = UuidIds.next_id();
        let sealed = new
            .payload
            .as_ref()
            .map(|p| self.secrets.get().seal(&p.bytes, &id));
        let settings = self.settings.clone();
        let now = now();
        command!(self.writer, principal, |tx| {
            let existing = tx.secrets(Some(&project)).await?.len();
            let made = keymgr::plan_secret(&project, &new, existing, &settings, id, now)?;
            tx.insert_secret(&made, sealed.as_deref()).await?;
            Ok(made)
        })
    }

    /// Gives a secret made without a payload its payload (once).
    pub async fn put_secret_payload(
        &self,
        principal: &Principal,
        id: SecretId,
        payload: Payload,
    ) -> ControlResult<Secret> {
        principal.may_write()?;
        let sealed = self.secrets.get().seal(&payload.bytes, id.as_str());
        let settings = self.settings.clone();
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.secret(&id).await?;
            let current = principal.check(found, ResourceKind::Secret, id.as_str())?;
            let next = keymgr::plan_payload(&current, &payload, &settings, now())?;
            tx.set_secret_payload(&next, &sealed).await?;
            Ok(next)
        })
    }

    pub async fn get_secret(&self, principal: &Principal, id: &SecretId) -> ControlResult<Secret> {
        let found = self.reader().await?.secret(id).await?;
        Ok(principal.check(found, ResourceKind::Secret, id.as_str())?)
    }

    /// The caller's secrets (every project's for the operator and
    /// observers), oldest first.
    pub async fn list_secrets(&self, principal: &Principal) -> ControlResult<Vec<Secret>> {
        Ok(self.reader().await?.secrets(principal.scope()).await?)
    }

    /// A secret with its payload, opened. A secret without a payload, or
    /// one that has expired, has none to give ("not found"). A principal
    /// that only reads (a project's reader, the global observer) sees the
    /// secret's metadata but never its payload: a private key is not
    /// something an auditor's credential should be able to take away
    /// (Barbican's `secret:decrypt` is not a reader's either).
    pub async fn secret_payload(
        &self,
        principal: &Principal,
        id: &SecretId,
    ) -> ControlResult<(Secret, Vec<u8>)> {
        let found = self.reader().await?.secret_with_payload(id).await?;
        let (secret, sealed) = match found {
            Some((s, sealed)) => (
                principal.check(Some(s), ResourceKind::Secret, id.as_str())?,
                sealed,
            ),
            None => return Err(Error::not_found(ResourceKind::Secret, id).into()),
        };
        principal.may_write()?;
        let sealed = sealed
            .filter(|_| !keymgr::expired(&secret, now()))
            .ok_or_else(|| Error::not_found(ResourceKind::Secret, id))?;
        match self.secrets.get().open(&sealed, id.as_str()) {
            Some(bytes) => Ok((secret, bytes)),
            None => {
                tracing::error!(secret = %id, "a sealed payload does not open with this secrets key");
                Err(ControlError::Unavailable)
            }
        }
    }

    /// Deletes a secret; one a listener serves from (directly or through
    /// a container) is refused (409) until the listener lets go of it.
    pub async fn delete_secret(&self, principal: &Principal, id: SecretId) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.secret(&id).await?;
            let current = principal.check(found, ResourceKind::Secret, id.as_str())?;
            let listeners = tx.listeners_of_project(&current.project_id).await?;
            let containers = tx.containers(Some(&current.project_id)).await?;
            keymgr::check_delete(&KeyRef::Secret(id.clone()), &listeners, &containers)?;
            let pools = project_pools(tx, &current.project_id).await?;
            keymgr::check_pool_delete(&KeyRef::Secret(id.clone()), &pools, &containers)?;
            tx.delete_secret(&current).await?;
            Ok(())
        })
    }

    pub async fn create_container(
        &self,
        principal: &Principal,
        new: NewContainer,
    ) -> ControlResult<Container> {
        principal.may_write()?;
        let project = Self::keymgr_project(principal)?;
        let id = UuidIds.next_id();
        let settings = self.settings.clone();
        let now = now();
        command!(self.writer, principal, |tx| {
            let mut found = Vec::with_capacity(new.secret_refs.len());
            for (_, secret) in &new.secret_refs {
                found.extend(tx.secret(secret).await?);
            }
            let existing = tx.containers(Some(&project)).await?.len();
            let made =
                keymgr::plan_container(&project, &new, &found, existing, &settings, id, now)?;
            tx.insert_container(&made).await?;
            Ok(made)
        })
    }

    pub async fn get_container(
        &self,
        principal: &Principal,
        id: &ContainerId,
    ) -> ControlResult<Container> {
        let found = self.reader().await?.container(id).await?;
        Ok(principal.check(found, ResourceKind::Container, id.as_str())?)
    }

    pub async fn list_containers(&self, principal: &Principal) -> ControlResult<Vec<Container>> {
        Ok(self.reader().await?.containers(principal.scope()).await?)
    }

    /// Deletes a container (not its secrets); one a listener serves from
    /// is refused (409).
    pub async fn delete_container(
        &self,
        principal: &Principal,
        id: ContainerId,
    ) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.container(&id).await?;
            let current = principal.check(found, ResourceKind::Container, id.as_str())?;
            let listeners = tx.listeners_of_project(&current.project_id).await?;
            keymgr::check_delete(&KeyRef::Container(id.clone()), &listeners, &[])?;
            let pools = project_pools(tx, &current.project_id).await?;
            keymgr::check_pool_delete(&KeyRef::Container(id.clone()), &pools, &[])?;
            tx.delete_container(&current).await?;
            Ok(())
        })
    }
}

/// Every pool of `project`'s load balancers (for the delete checks).
pub(super) async fn project_pools(
    tx: &mut dyn StoreTx,
    project: &weir_core::ids::ProjectId,
) -> ControlResult<Vec<weir_core::model::Pool>> {
    let mut pools = Vec::new();
    for lb in tx.load_balancers(Some(project)).await? {
        pools.extend(tx.pools_of(&lb.id).await?);
    }
    Ok(pools)
}

/// A re-encrypting pool's refs (CA bundle, CRL, client certificate),
/// resolved in the transaction that stores the pool: one that would not
/// verify or present anything is refused, as a listener's certificate ref
/// is ("Could not retrieve certificate").
pub(super) async fn check_pool_tls(
    tx: &mut dyn StoreTx,
    secrets: &crate::secrets::SecretBox,
    pool: &weir_core::model::Pool,
) -> ControlResult<()> {
    let Some(upstream) = pool.upstream_tls.as_ref() else {
        return Ok(());
    };
    // A CA named as one of Weir's certificates (native
    // `backend_tls.ca_certificate_id`): not found when it is not the
    // project's, refused when it is a server certificate.
    if let Some(KeyRef::Certificate(id)) = upstream.ca.as_ref().map(|r| &r.target) {
        let found = tx.certificate(id).await?;
        weir_core::certificate::check_client_ca(
            &pool.project_id,
            id,
            found.as_ref(),
            "ca_tls_container_ref",
        )?;
    }
    if let Err((field, why)) =
        crate::keymaterial::pool_tls_material(tx, secrets, &pool.project_id, upstream, now())
            .await?
    {
        return Err(Error::invalid(field, format!("Could not retrieve certificate: {why}")).into());
    }
    Ok(())
}

/// A listener's client CA bundle and CRL, resolved in the transaction
/// that stores the listener: one that does not resolve in its project,
/// or whose bytes `weir-tls` refuses, is Octavia's 400.
pub(super) async fn check_client_auth(
    tx: &mut dyn StoreTx,
    secrets: &crate::secrets::SecretBox,
    listener: &Listener,
) -> ControlResult<()> {
    // A CA named as one of Weir's certificates: not found when it is not
    // the project's, refused when it is a server certificate.
    if let Some(KeyRef::Certificate(id)) = listener.client_auth.ca.as_ref().map(|r| &r.target) {
        let found = tx.certificate(id).await?;
        weir_core::certificate::check_client_ca(
            &listener.project_id,
            id,
            found.as_ref(),
            "client_ca_tls_container_ref",
        )?;
    }
    if let Err((field, why)) =
        crate::keymaterial::client_verify_material(tx, secrets, listener, now()).await?
    {
        return Err(Error::invalid(field, format!("Could not retrieve certificate: {why}")).into());
    }
    Ok(())
}

/// Holds a listener's key-manager refs to what they must name: its
/// project's secrets or certificate containers holding a certificate and
/// key that pass the upload rules. Read in the writing transaction, so a
/// secret deleted meanwhile is not named. A ref that does not resolve is
/// refused in Octavia's words ("Could not retrieve certificate").
pub(super) async fn check_tls_refs(
    tx: &mut dyn StoreTx,
    secrets: &crate::secrets::SecretBox,
    listener: &Listener,
) -> ControlResult<()> {
    let now = now();
    for (i, r) in listener.tls_refs.iter().enumerate() {
        if let Err(why) = tls_ref_material(tx, secrets, &listener.project_id, r, now).await? {
            let field = if i == 0 {
                "default_tls_container_ref".to_owned()
            } else {
                format!("sni_container_refs[{}]", i - 1)
            };
            return Err(Error::invalid(
                field,
                format!("Could not retrieve certificate: {} ({why})", r.href),
            )
            .into());
        }
    }
    Ok(())
}
