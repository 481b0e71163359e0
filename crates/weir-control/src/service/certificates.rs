//! TLS certificates of a project (issue 15): uploaded as PEM, read and
//! held to the rules by `weir-tls`, the private key sealed before it is
//! stored; shown without it, ever. CA certificates (a bundle without a
//! key, for client-certificate verification) are stored beside them.

use weir_core::certificate::{self, NewCertificate};
use weir_core::model::CertificateKind;

use super::*;

/// A certificate as a tenant uploads it.
#[derive(Debug, Clone)]
pub struct UploadedCertificate {
    /// Whose it is: the caller's project (a project principal may omit it
    /// or name its own); the operator must name one.
    pub project_id: Option<ProjectId>,
    pub name: String,
    /// PEM, the leaf first, then its issuers.
    pub certificate: String,
    /// PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub private_key: String,
    /// Names the certificate must carry (Huawei's `domain`); none: any.
    pub required_names: Vec<String>,
}

/// A CA certificate as a tenant uploads it: PEM CA certificates, no key.
#[derive(Debug, Clone)]
pub struct UploadedCa {
    /// As [`UploadedCertificate::project_id`].
    pub project_id: Option<ProjectId>,
    pub name: String,
    /// PEM, 1 to 100 CA certificates.
    pub certificate: String,
}

/// The project an upload goes to: the caller's (named or not), or the
/// one the operator names.
fn upload_project(principal: &Principal, named: Option<ProjectId>) -> ControlResult<ProjectId> {
    principal.may_write()?;
    match (principal.scope(), named) {
        (Some(own), None) => Ok(own.clone()),
        (Some(own), Some(named)) if &named == own => Ok(named),
        (Some(_), Some(named)) => Err(Error::not_found(ResourceKind::Project, named).into()),
        (None, Some(named)) => Ok(named),
        (None, None) => Err(Error::invalid("project_id", "the operator names the project").into()),
    }
}

impl Control {
    /// Stores a certificate and its sealed key.
    pub async fn create_certificate(
        &self,
        principal: &Principal,
        upload: UploadedCertificate,
    ) -> ControlResult<Certificate> {
        let project = upload_project(principal, upload.project_id)?;
        let now = now();
        let seen = weir_tls::inspect(&upload.certificate, &upload.private_key, now)?;
        let new = NewCertificate {
            name: upload.name,
            kind: CertificateKind::Server,
            subject: seen.subject,
            names: seen.names,
            fingerprint_sha256: seen.fingerprint_sha256,
            not_before: seen.not_before,
            not_after: seen.not_after,
            key_type: seen.key_type,
            chain_length: u32::try_from(seen.chain_length).unwrap_or(u32::MAX),
            required_names: upload.required_names,
        };
        let id = UuidIds.next_id();
        let sealed = self.secrets.get().seal(upload.private_key.as_bytes(), &id);
        let chain = upload.certificate;
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.project(&project).await?;
            Principal::Admin.check(found, ResourceKind::Project, project.as_str())?;
            let existing = tx.certificates(Some(&project)).await?.len();
            let made = certificate::plan_certificate(&project, new, existing, &settings, id, now)?;
            tx.insert_certificate(&made, &chain, &sealed).await?;
            Ok(made)
        })
    }

    /// Stores a CA certificate (a bundle client certificates are
    /// verified against); it has no key, so nothing is sealed.
    pub async fn create_ca_certificate(
        &self,
        principal: &Principal,
        upload: UploadedCa,
    ) -> ControlResult<Certificate> {
        let project = upload_project(principal, upload.project_id)?;
        let now = now();
        let seen = weir_tls::ca::inspect_ca(&upload.certificate, "certificate", now)?;
        let new = NewCertificate {
            name: upload.name,
            kind: CertificateKind::Ca,
            subject: seen.subject,
            names: seen.names,
            fingerprint_sha256: seen.fingerprint_sha256,
            not_before: seen.not_before,
            not_after: seen.not_after,
            key_type: seen.key_type,
            chain_length: u32::try_from(seen.chain_length).unwrap_or(u32::MAX),
            required_names: Vec::new(),
        };
        let id = UuidIds.next_id();
        let chain = upload.certificate;
        let settings = self.settings.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.project(&project).await?;
            Principal::Admin.check(found, ResourceKind::Project, project.as_str())?;
            let existing = tx.certificates(Some(&project)).await?.len();
            let made = certificate::plan_certificate(&project, new, existing, &settings, id, now)?;
            tx.insert_certificate(&made, &chain, "").await?;
            Ok(made)
        })
    }

    pub async fn get_certificate(
        &self,
        principal: &Principal,
        id: &CertificateId,
    ) -> ControlResult<Certificate> {
        let found = self.reader().await?.certificate(id).await?;
        Ok(principal.check(found, ResourceKind::Certificate, id.as_str())?)
    }

    /// The caller's certificates (every project's for the operator and
    /// observers), oldest first.
    pub async fn list_certificates(
        &self,
        principal: &Principal,
    ) -> ControlResult<Vec<Certificate>> {
        Ok(self.reader().await?.certificates(principal.scope()).await?)
    }

    /// Deletes a certificate; one a listener serves is refused (409,
    /// naming the listener) until the listener lets go of it.
    pub async fn delete_certificate(
        &self,
        principal: &Principal,
        id: CertificateId,
    ) -> ControlResult<()> {
        let principal = principal.clone();
        command!(self.writer, principal, |tx| {
            let found = tx.certificate(&id).await?;
            let current = principal.check(found, ResourceKind::Certificate, id.as_str())?;
            let users = tx.listeners_using_certificate(&current).await?;
            certificate::check_delete(&current, &users)?;
            // A CA certificate a re-encrypting pool verifies its members
            // with is kept like a listener's.
            let pools = super::keymgr::project_pools(tx, &current.project_id).await?;
            weir_core::keymgr::check_pool_delete(
                &weir_core::keymgr::KeyRef::Certificate(id.clone()),
                &pools,
                &[],
            )?;
            tx.delete_certificate(&current).await?;
            Ok(())
        })
    }

    /// A certificate's chain and private key (PEM), opened, for the data
    /// plane to serve. `None` when it is gone or its key does not open
    /// with this deployment's secrets key (logged: the operator changed
    /// the key).
    pub async fn certificate_material(
        &self,
        id: &CertificateId,
    ) -> ControlResult<Option<(String, String)>> {
        let Some((chain, sealed)) = self.reader().await?.certificate_material(id).await? else {
            return Ok(None);
        };
        match self.secrets.get().open(&sealed, id.as_str()) {
            Some(key) => Ok(String::from_utf8(key).ok().map(|key| (chain, key))),
            None => {
                tracing::error!(certificate = %id, "a sealed private key does not open with this secrets key");
                Ok(None)
            }
        }
    }
}
