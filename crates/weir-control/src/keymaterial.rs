//! What a listener's key-manager ref serves: the secret (or a
//! certificate container's secrets) read, opened with the deployment's
//! secrets key, and turned into a chain and key by `weir-tls`. One
//! function for both callers, so what a command accepted is exactly what
//! the topology follower later serves: the listener commands (which
//! refuse a ref that does not resolve) and the follower (which reports
//! the listener unavailable instead).

use weir_core::ids::{ProjectId, SecretId};
use weir_core::keymgr::{self, ContainerKind, KeyRef, TlsRef};
use weir_core::Timestamp;
use weir_store::{Reads, StoreResult};

use crate::secrets::SecretBox;

/// A ref's chain and key (PEM), or why it cannot be served. `Err` is a
/// store failure; the inner `Err` a reason fit for the tenant (it names
/// nothing of another project: another project's secret is "not found").
pub async fn tls_ref_material<R: Reads + ?Sized>(
    reads: &mut R,
    secrets: &SecretBox,
    project: &ProjectId,
    r: &TlsRef,
    now: Timestamp,
) -> StoreResult<Result<weir_tls::bundle::Pem, String>> {
    let pem = match &r.target {
        KeyRef::Secret(id) => match payload(reads, secrets, project, id, now).await? {
            Ok(bytes) => weir_tls::bundle::from_secret(&bytes),
            Err(why) => Err(why),
        },
        KeyRef::Container(id) => {
            let container = reads
                .container(id)
                .await?
                .filter(|c| &c.project_id == project);
            let Some(container) = container else {
                return Ok(Err(format!("container {id} not found")));
            };
            if container.kind != ContainerKind::Certificate {
                return Ok(Err(format!(
                    "container {id} is a {} container, not a certificate container",
                    container.kind.as_str()
                )));
            }
            let mut parts: [Option<Vec<u8>>; 4] = Default::default();
            for (slot, name) in parts.iter_mut().zip([
                "certificate",
                "private_key",
                "intermediates",
                "private_key_passphrase",
            ]) {
                if let Some(secret) = container.secret(name) {
                    match payload(reads, secrets, project, secret, now).await? {
                        Ok(bytes) => *slot = Some(bytes),
                        Err(why) => return Ok(Err(format!("{name}: {why}"))),
                    }
                }
            }
            let [cert, key, intermediates, passphrase] = parts;
            match cert {
                None => Err("the container has no certificate".into()),
                Some(cert) => weir_tls::bundle::from_parts(
                    &cert,
                    key.as_deref(),
                    intermediates.as_deref(),
                    passphrase.as_deref(),
                ),
            }
        }
        KeyRef::Certificate(id) => Err(format!(
            "certificate {id} is a CA certificate, which verifies clients and is never served"
        )),
    };
    Ok(
        pem.and_then(|pem| match weir_tls::inspect(&pem.chain, &pem.key, now) {
            Ok(_) => Ok(pem),
            Err(e) => Err(match e {
                weir_core::Error::InvalidField { field, reason } => format!("{field}: {reason}"),
                other => other.to_string(),
            }),
        }),
    )
}

/// A secret's payload, opened: the project's, stored, not expired.
async fn payload<R: Reads + ?Sized>(
    reads: &mut R,
    secrets: &SecretBox,
    project: &ProjectId,
    id: &SecretId,
    now: Timestamp,
) -> StoreResult<Result<Vec<u8>, String>> {
    let found = reads
        .secret_with_payload(id)
        .await?
        .filter(|(s, _)| &s.project_id == project);
    let Some((secret, sealed)) = found else {
        return Ok(Err(format!("secret {id} not found")));
    };
    if keymgr::expired(&secret, now) {
        return Ok(Err(format!("secret {id} has expired")));
    }
    let Some(sealed) = sealed else {
        return Ok(Err(format!("secret {id} has no payload")));
    };
    Ok(secrets.open(&sealed, id.as_str()).ok_or_else(|| {
        tracing::error!(secret = %id, "a sealed payload does not open with this node's secrets key");
        format!("the payload of secret {id} does not open with this node's secrets key")
    }))
}

/// What a re-encrypting pool's CA ref holds: a secret's PEM certificates,
/// or a certificate container's `certificate` and `intermediates`,
/// checked by `weir_tls::client::ca_certificates`. Like
/// [`tls_ref_material`], one function for the pool commands (which refuse
/// a ref that does not resolve) and the follower (which makes the pool
/// dial nothing). The inner `Err` is fit for the tenant.
pub async fn ca_ref_material<R: Reads + ?Sized>(
    reads: &mut R,
    secrets: &SecretBox,
    project: &ProjectId,
    r: &TlsRef,
    now: Timestamp,
) -> StoreResult<Result<String, String>> {
    let bytes = match &r.target {
        KeyRef::Secret(id) => match payload(reads, secrets, project, id, now).await? {
            Ok(bytes) => bytes,
            Err(why) => return Ok(Err(why)),
        },
        KeyRef::Container(id) => {
            let container = reads
                .container(id)
                .await?
                .filter(|c| &c.project_id == project);
            let Some(container) = container else {
                return Ok(Err(format!("container {id} not found")));
            };
            if container.kind != ContainerKind::Certificate {
                return Ok(Err(format!(
                    "container {id} is a {} container, not a certificate container",
                    container.kind.as_str()
                )));
            }
            let mut bundle = Vec::new();
            for name in ["certificate", "intermediates"] {
                if let Some(secret) = container.secret(name) {
                    match payload(reads, secrets, project, secret, now).await? {
                        Ok(bytes) => {
                            bundle.extend_from_slice(&bytes);
                            bundle.push(b'\n');
                        }
                        Err(why) => return Ok(Err(format!("{name}: {why}"))),
                    }
                }
            }
            bundle
        }
        KeyRef::Certificate(id) => {
            // Weir's own CA certificate: the project's and of kind CA
            // (the listener commands hold it to that with the core's
            // `check_client_ca` first, for the dialect's 404 and 400).
            let found = reads.certificate(id).await?;
            if let Err(e) =
                weir_core::certificate::check_client_ca(project, id, found.as_ref(), "ca")
            {
                return Ok(Err(match e {
                    weir_core::Error::InvalidField { reason, .. } => reason,
                    other => other.to_string(),
                }));
            }
            match reads.certificate_material(id).await? {
                Some((chain, _)) => chain.into_bytes(),
                None => return Ok(Err(format!("certificate {id} not found"))),
            }
        }
    };
    Ok(weir_tls::client::ca_certificates(&bytes).and_then(|_| {
        String::from_utf8(bytes).map_err(|_| "the CA bundle is not PEM text".to_owned())
    }))
}

/// What a listener's client-certificate verification
/// (`weir_core::client_auth`) verifies with: its CA bundle and CRL
/// resolved in the listener's project and held to `weir-tls`'s rules
/// (the CRL a secret holding PEM CRLs signed by the bundle). `Ok(None)`:
/// clients are not verified. The inner `Err` names the field and is fit
/// for the tenant; one function for the listener commands, which refuse
/// it, and the follower, which then serves nothing.
pub async fn client_verify_material<R: Reads + ?Sized>(
    reads: &mut R,
    secrets: &SecretBox,
    listener: &weir_core::model::Listener,
    now: Timestamp,
) -> StoreResult<Result<Option<weir_core::client_auth::ClientVerify>, (&'static str, String)>> {
    use weir_core::client_auth::{ClientAuthMode, ClientVerify};
    let auth = &listener.client_auth;
    let Some(ca) = &auth.ca else {
        return Ok(Ok(None));
    };
    const CA: &str = "client_ca_tls_container_ref";
    const CRL: &str = "client_crl_container_ref";
    let project = &listener.project_id;
    let ca_pem = match ca_ref_material(reads, secrets, project, ca, now).await? {
        Ok(pem) => pem,
        Err(why) => return Ok(Err((CA, format!("{} ({why})", ca.href)))),
    };
    let crl_pem = match &auth.crl {
        None => None,
        Some(r) => {
            let KeyRef::Secret(id) = &r.target else {
                return Ok(Err((
                    CRL,
                    format!(
                        "{} (a CRL is a secret holding PEM, not a container)",
                        r.href
                    ),
                )));
            };
            let bytes = match payload(reads, secrets, project, id, now).await? {
                Ok(bytes) => bytes,
                Err(why) => return Ok(Err((CRL, format!("{} ({why})", r.href)))),
            };
            if let Err(why) = weir_tls::client_auth::crls(ca_pem.as_bytes(), &bytes) {
                return Ok(Err((CRL, format!("{} ({why})", r.href))));
            }
            match String::from_utf8(bytes) {
                Ok(text) => Some(text.into()),
                Err(_) => return Ok(Err((CRL, format!("{} (not PEM text)", r.href)))),
            }
        }
    };
    let verify = ClientVerify {
        mandatory: auth.mode == ClientAuthMode::Mandatory,
        ca_pem: ca_pem.into(),
        crl_pem,
    };
    if let Err(why) = weir_tls::client_auth::verifier(&verify) {
        return Ok(Err((CA, format!("{} ({why})", ca.href))));
    }
    // NONE with a CA: stored and shown, as Octavia does; nothing verified.
    Ok(Ok((auth.mode != ClientAuthMode::None).then_some(verify)))
}

/// What a re-encrypting pool's refs hold (`weir_core::upstream_tls`): the
/// CA bundle as [`ca_ref_material`] reads it, the CRLs (a secret holding
/// PEM CRLs, each signed by a certificate of that bundle) and the client
/// certificate as [`tls_ref_material`] reads a listener's (a chain and
/// key held to the upload rules). The inner `Err` names the field (in
/// Octavia's words) and is fit for the tenant; one function for the pool
/// commands, which refuse it, and the follower, which then dials nothing.
pub async fn pool_tls_material<R: Reads + ?Sized>(
    reads: &mut R,
    secrets: &SecretBox,
    project: &ProjectId,
    upstream: &weir_core::upstream_tls::UpstreamTls,
    now: Timestamp,
) -> StoreResult<Result<weir_core::upstream_tls::UpstreamMaterial, (&'static str, String)>> {
    use weir_core::upstream_tls::{ClientCertificate, UpstreamMaterial};
    const CA: &str = "ca_tls_container_ref";
    const CRL: &str = "crl_container_ref";
    const CERT: &str = "tls_container_ref";
    let mut material = UpstreamMaterial::default();
    if let Some(r) = &upstream.ca {
        match ca_ref_material(reads, secrets, project, r, now).await? {
            Ok(pem) => material.ca_pem = Some(pem.into()),
            Err(why) => return Ok(Err((CA, format!("{} ({why})", r.href)))),
        }
    }
    if let Some(r) = &upstream.crl {
        let KeyRef::Secret(id) = &r.target else {
            return Ok(Err((
                CRL,
                format!(
                    "{} (a CRL is a secret holding PEM, not a container)",
                    r.href
                ),
            )));
        };
        let Some(ca_pem) = &material.ca_pem else {
            return Ok(Err((
                CRL,
                format!("{} (a CRL needs the CA bundle)", r.href),
            )));
        };
        let bytes = match payload(reads, secrets, project, id, now).await? {
            Ok(bytes) => bytes,
            Err(why) => return Ok(Err((CRL, format!("{} ({why})", r.href)))),
        };
        if let Err(why) = weir_tls::client_auth::crls(ca_pem.as_bytes(), &bytes) {
            return Ok(Err((CRL, format!("{} ({why})", r.href))));
        }
        match String::from_utf8(bytes) {
            Ok(text) => material.crl_pem = Some(text.into()),
            Err(_) => return Ok(Err((CRL, format!("{} (not PEM text)", r.href)))),
        }
    }
    if let Some(r) = &upstream.client_cert {
        match tls_ref_material(reads, secrets, project, r, now).await? {
            Ok(pem) => {
                material.client = Some(ClientCertificate {
                    chain_pem: pem.chain.into(),
                    key_pem: pem.key.into(),
                })
            }
            Err(why) => return Ok(Err((CERT, format!("{} ({why})", r.href)))),
        }
    }
    // What the data plane will build, built once here, so a command never
    // stores what the follower then could not dial with. A CRL webpki
    // cannot read (one without a CRL number, say) is named as the CRL.
    if let (Some(r), Some(_)) = (&upstream.crl, &material.crl_pem) {
        let verifying = UpstreamMaterial {
            client: None,
            ..material.clone()
        };
        if let Err(why) = weir_tls::client::client_config(upstream, &verifying) {
            return Ok(Err((CRL, format!("{} ({why})", r.href))));
        }
    }
    if let Err(why) = weir_tls::client::client_config(upstream, &material) {
        return Ok(Err(("tls_enabled", why)));
    }
    Ok(Ok(material))
}
