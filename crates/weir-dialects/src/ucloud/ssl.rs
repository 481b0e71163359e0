//! ULB SSL certificates: `CreateSSL`, `DescribeSSL`, `DeleteSSL` over
//! Weir's certificates (`/v1/certificates`: checked by `weir-tls`, the key
//! sealed at rest). `SSLContent` carries the whole PEM (certificate, key
//! and CA together), or `UserCert`, `PrivateKey` and `CaCert` come apart;
//! either way the chain is the user certificate followed by its CA.
//! Certificates of UCloud's certificate service (`USSLId`) are not Weir's.

use serde_json::{json, Value};
use weir_control::UploadedCertificate;
use weir_core::ids::CertificateId;
use weir_core::model::Certificate;

use super::{Call, UcError};

type ActionResult = Result<Value, UcError>;

fn view(c: &Certificate) -> Value {
    json!({
        "SSLId": c.id.as_str(),
        "SSLName": c.name,
        "SSLType": "Pem",
        "SSLSource": 0,
        "Domains": c.names.join(","),
        "HashValue": c.fingerprint_sha256,
        "NotBefore": c.not_before.millis() / 1000,
        "NotAfter": c.not_after.millis() / 1000,
        "CreateTime": c.created_at.millis() / 1000,
        // UCloud echoes the PEM; Weir never returns a key once uploaded.
        "SSLContent": "",
        "BindedTargetSet": [],
    })
}

pub(super) async fn create(call: &Call) -> ActionResult {
    let p = &call.params;
    if p.opt("USSLId").is_some() {
        return Err(UcError::invalid(
            "Params [USSLId] not valid: certificates of UCloud's certificate service are not served; send the PEM",
        ));
    }
    if p.opt("SSLType").is_some_and(|t| t != "Pem") {
        return Err(UcError::invalid("Params [SSLType] not valid: only Pem"));
    }
    let (certificate, private_key) = match p.opt("SSLContent") {
        // One PEM text: its CERTIFICATE blocks are the chain, its key the
        // key (weir-tls reads each kind from it).
        Some(content) => (content.to_owned(), content.to_owned()),
        None => {
            let mut chain = p.req("UserCert")?.trim_end().to_owned();
            if let Some(ca) = p.opt("CaCert") {
                chain.push('\n');
                chain.push_str(ca);
            }
            (chain, p.req("PrivateKey")?.to_owned())
        }
    };
    let upload = UploadedCertificate {
        project_id: None,
        name: p.req("SSLName")?.to_owned(),
        certificate,
        private_key,
        required_names: Vec::new(),
    };
    let made = call
        .dialects
        .control
        .create_certificate(&call.principal, upload)
        .await
        .map_err(UcError::from_control)?;
    Ok(json!({"SSLId": made.id.as_str()}))
}

pub(super) async fn describe(call: &Call) -> ActionResult {
    let p = &call.params;
    let wanted = p.opt("SSLId");
    let all: Vec<Value> = call
        .dialects
        .control
        .list_certificates(&call.principal)
        .await
        .map_err(UcError::from_control)?
        .iter()
        // CA certificates (other dialects' mTLS) are no SSL certificates here.
        .filter(|c| c.kind == weir_core::model::CertificateKind::Server)
        .filter(|c| wanted.is_none_or(|w| w == c.id.as_str()))
        .map(view)
        .collect();
    let total = all.len();
    let offset = usize::try_from(p.int("Offset")?.unwrap_or(0).max(0)).unwrap_or(0);
    let limit = usize::try_from(p.int("Limit")?.unwrap_or(20).clamp(1, 1000)).unwrap_or(20);
    let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    Ok(json!({"DataSet": page, "TotalCount": total}))
}

pub(super) async fn delete(call: &Call) -> ActionResult {
    let id = CertificateId::new(call.params.req("SSLId")?);
    let control = &call.dialects.control;
    let found = control
        .get_certificate(&call.principal, &id)
        .await
        .map_err(UcError::from_control)?;
    if found.kind != weir_core::model::CertificateKind::Server {
        // A CA certificate is not one of UCloud's: not found, as another
        // project's.
        return Err(UcError::from_control(
            weir_core::Error::not_found(weir_core::ResourceKind::Certificate, &id).into(),
        ));
    }
    control
        .delete_certificate(&call.principal, id)
        .await
        .map_err(UcError::from_control)?;
    Ok(json!({}))
}
