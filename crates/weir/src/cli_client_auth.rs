//! The client-certificate (mTLS) flags of `weir listener create|update`:
//! one clap group flattened into both, and the body fields they send
//! (`client_authentication`, `client_ca_certificate_id` or `client_ca_ref`,
//! `client_crl_ref` of the native API), kept apart so `cli.rs` and `client.rs` stay small.

use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Default)]
pub struct ClientAuthArgs {
    /// A CA certificate id (`weir cert create --ca FILE`): https
    /// listeners verify client certificates against it (mandatory unless
    /// --client-auth says otherwise).
    #[arg(long, conflicts_with = "no_client_ca")]
    pub client_ca: Option<String>,
    /// Or a CA bundle in the key manager: `secrets/<id>` or
    /// `containers/<id>`.
    #[arg(long, conflicts_with_all = ["no_client_ca", "client_ca"])]
    pub client_ca_ref: Option<String>,
    /// none, optional (a client without a certificate is served) or
    /// mandatory.
    #[arg(long)]
    pub client_auth: Option<String>,
    /// Revocation lists for client certificates: a key-manager secret
    /// holding PEM CRLs, `secrets/<id>`.
    #[arg(long)]
    pub client_crl: Option<String>,
    /// Stop verifying client certificates (takes the CA, mode and CRL off).
    #[arg(long)]
    pub no_client_ca: bool,
}

impl ClientAuthArgs {
    /// The body fields the flags ask for.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        if self.no_client_ca {
            out.push(("client_ca_certificate_id", Value::Null));
        }
        if let Some(ca) = &self.client_ca {
            out.push(("client_ca_certificate_id", json!(ca)));
        }
        if let Some(ca) = &self.client_ca_ref {
            out.push(("client_ca_ref", json!(ca)));
        }
        if let Some(mode) = &self.client_auth {
            out.push(("client_authentication", json!(mode)));
        }
        if let Some(crl) = &self.client_crl {
            out.push(("client_crl_ref", json!(crl)));
        }
        out
    }
}
