//! The fuzz harness shared by the targets: one in-process Weir (SQLite in
//! a temporary directory, every front end merged as `weir serve` merges
//! them, no data plane) bootstrapped over its own native API, and a
//! rewriter that turns a raw HTTP/1.1 request (a captured SDK request, a
//! golden fixture, or a mutation of one) into a request this server will
//! authenticate: placeholders become real ids, and a request that carried
//! credentials is signed again with the harness project's key, so the
//! fuzzer reaches the parsers behind each signature check instead of
//! stopping at a mismatch.
//!
//! Placeholders: `{PROJECT}`, `{AK}`, `{SECRET}`, `{VPC}`, `{SUBNET}`,
//! `{VM}`, `{VMIP}`, `{BM}`, `{LB}`, `{LISTENER}`, `{POOL}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use weir_dialects::common::{pct, sha256_hex, unix_now};
use weir_dialects::{aliyun, huawei, ucloud, zenlayer};

const ADMIN: &str = "fuzz-admin";
const HOST: &str = "127.0.0.1:8480";

/// The running server and what bootstrap created.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    vars: Vec<(&'static str, String)>,
    tenant_token: String,
    keystone_token: String,
    nonce: AtomicU64,
    _dir: tempfile::TempDir,
}

/// A request after rewriting: what goes to the router.
pub struct Outgoing {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn var<'a>(vars: &'a [(&'static str, String)], name: &str) -> &'a str {
    vars.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

impl Harness {
    /// The one harness of this process (libFuzzer runs inputs in a loop).
    pub fn get() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(Harness::start)
    }

    fn start() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let db = dir.path().join("weir.db");
        let router = runtime.block_on(async {
            let store = weir_store::testing::store(&db, weir_store::sqlite::Durability::Normal).await;
            let control = weir_control::Control::start(
                store,
                weir_core::settings::Settings::default(),
                ADMIN.into(),
            )
            .await
            .expect("control");
            weir_api::router(control.clone())
                .merge(weir_dialects::router(control, weir_dialects::Config::default()))
        });
        let mut harness = Harness {
            runtime,
            router,
            vars: Vec::new(),
            tenant_token: String::new(),
            keystone_token: String::new(),
            nonce: AtomicU64::new(0),
            _dir: dir,
        };
        harness.bootstrap();
        harness
    }

    fn call_json(&self, token: &str, method: &str, path: &str, body: Value) -> Value {
        let request = Outgoing {
            method: method.into(),
            target: path.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: serde_json::to_vec(&body).expect("json"),
        };
        let (status, text) = self.send(request);
        assert!(status.is_success(), "bootstrap {method} {path}: {status} {text:?}");
        serde_json::from_slice(&text).expect("bootstrap answer is JSON")
    }

    fn bootstrap(&mut self) {
        let project = self.call_json(ADMIN, "POST", "/v1/projects", json!({"name": "fuzz"}));
        let id = |v: &Value| v["id"].as_str().expect("an id").to_owned();
        let project_id = id(&project);
        self.tenant_token = project["token"].as_str().expect("token").to_owned();
        let vpc = self.call_json(
            ADMIN,
            "POST",
            "/v1/vpcs",
            json!({"project_id": project_id, "cidr": "10.0.0.0/16", "name": "vpc"}),
        );
        let subnet = self.call_json(
            ADMIN,
            "POST",
            "/v1/subnets",
            json!({"vpc_id": id(&vpc), "cidr": "10.0.1.0/24"}),
        );
        let vm = self.call_json(
            ADMIN,
            "POST",
            "/v1/instances",
            json!({"project_id": project_id, "subnet_id": id(&subnet), "private_ip": "10.0.1.11", "name": "vm", "type": "vm"}),
        );
        let bm = self.call_json(
            ADMIN,
            "POST",
            "/v1/instances",
            json!({"project_id": project_id, "subnet_id": id(&subnet), "private_ip": "10.0.1.21",
                   "name": "bm", "type": "bm"}),
        );
        let tenant = self.tenant_token.clone();
        let lb = self.call_json(
            &tenant,
            "POST",
            "/v1/loadbalancers",
            json!({"name": "fuzz", "subnet_id": id(&subnet)}),
        );
        let listener = self.call_json(
            &tenant,
            "POST",
            &format!("/v1/loadbalancers/{}/listeners", id(&lb)),
            json!({"protocol": "http", "port": 8000}),
        );
        self.vars = vec![
            ("{PROJECT}", project_id),
            ("{AK}", project["access_key_id"].as_str().expect("ak").to_owned()),
            ("{SECRET}", project["access_key_secret"].as_str().expect("secret").to_owned()),
            ("{VPC}", id(&vpc)),
            ("{SUBNET}", id(&subnet)),
            ("{VM}", id(&vm)),
            ("{VMIP}", "10.0.1.11".into()),
            ("{BM}", id(&bm)),
            ("{LB}", id(&lb)),
            ("{LISTENER}", id(&listener)),
            ("{POOL}", listener["default_pool_id"].as_str().unwrap_or_default().to_owned()),
        ];
        self.keystone_token = self.keystone();
    }

    fn keystone(&self) -> String {
        let body = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": var(&self.vars, "{AK}"), "secret": var(&self.vars, "{SECRET}")}}}});
        let request = Request::builder()
            .method("POST")
            .uri("/v3/auth/tokens")
            .header("host", HOST)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).expect("json")))
            .expect("request");
        let response = self
            .runtime
            .block_on(self.router.clone().oneshot(request))
            .expect("infallible");
        response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("a Keystone token")
            .to_owned()
    }

    /// Sends one request through the whole router: status and body.
    pub fn send(&self, out: Outgoing) -> (StatusCode, Vec<u8>) {
        let mut builder = Request::builder().method(out.method.as_str()).uri(out.target.as_str());
        for (k, v) in &out.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let Ok(request) = builder.body(Body::from(out.body)) else {
            // Not a request hyper would hand to the router at all.
            return (StatusCode::BAD_REQUEST, Vec::new());
        };
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            (status, body)
        })
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (k, v) in &self.vars {
            if out.contains(k) {
                out = out.replace(k, v);
            }
        }
        out
    }

    /// Parses `raw` as an HTTP/1.1 request and rewrites it for this server;
    /// `None` when the head does not parse (hyper would refuse it first).
    pub fn rewrite(&self, raw: &[u8]) -> Option<Outgoing> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(len) = request.parse(raw).ok()? else {
            return None;
        };
        let method = request.method?.to_owned();
        let target = self.substitute(request.path?);
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter_map(|h| {
                let value = std::str::from_utf8(h.value).ok()?;
                Some((h.name.to_ascii_lowercase(), self.substitute(value)))
            })
            .filter(|(k, _)| k != "content-length" && k != "transfer-encoding")
            .collect();
        headers.retain(|(k, _)| k != "host");
        headers.push(("host".into(), HOST.into()));
        let body = match std::str::from_utf8(&raw[len..]) {
            Ok(text) => self.substitute(text).into_bytes(),
            Err(_) => raw[len..].to_vec(),
        };
        let mut out = Outgoing {
            method,
            target,
            headers,
            body,
        };
        self.authenticate(&mut out);
        Some(out)
    }

    fn header<'a>(out: &'a Outgoing, name: &str) -> Option<&'a str> {
        out.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set_header(out: &mut Outgoing, name: &str, value: String) {
        out.headers.retain(|(k, _)| k != name);
        out.headers.push((name.into(), value));
    }

    /// Signs again, with the harness key, a request that arrived signed.
    fn authenticate(&self, out: &mut Outgoing) {
        let path = out.target.split('?').next().unwrap_or_default().to_owned();
        let auth = Self::header(out, "authorization").unwrap_or_default().to_owned();
        let secret = var(&self.vars, "{SECRET}").to_owned();
        let ak = var(&self.vars, "{AK}").to_owned();
        if path.starts_with("/api/v2/") && auth.starts_with(zenlayer::sign::ALGORITHM) {
            let timestamp = unix_now().to_string();
            Self::set_header(out, "x-zc-timestamp", timestamp.clone());
            let content_type = Self::header(out, "content-type").unwrap_or_default().to_owned();
            let parts = zenlayer::sign::SignedParts {
                method: &out.method,
                content_type: &content_type,
                host: HOST,
                timestamp: &timestamp,
                body: &out.body,
            };
            let signature = zenlayer::sign::sign(&parts, &secret);
            let value = format!(
                "{} Credential={ak}, SignedHeaders=content-type;host, Signature={signature}",
                zenlayer::sign::ALGORITHM
            );
            Self::set_header(out, "authorization", value);
        } else if path == "/ucloud" {
            let Ok(mut pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&out.body) else {
                return;
            };
            if !pairs.iter().any(|(k, _)| k == "Signature") {
                return;
            }
            pairs.retain(|(k, _)| k != "Signature" && k != "PublicKey");
            pairs.push(("PublicKey".into(), ak));
            let signature = ucloud::sign::sign(&pairs, &secret);
            pairs.push(("Signature".into(), signature));
            out.body = form(&pairs).into_bytes();
        } else if path.starts_with("/v2/") && path.contains("/elb") && auth.starts_with(huawei::sign::ALGORITHM) {
            let date = iso_compact(unix_now());
            Self::set_header(out, "x-sdk-date", date);
            if Self::header(out, "x-sdk-content-sha256").is_some() {
                Self::set_header(out, "x-sdk-content-sha256", sha256_hex(&out.body));
            }
            let Ok(parsed) = huawei::sign::parse_authorization(&auth) else {
                return;
            };
            let query = query_pairs(&out.target);
            let parts = huawei::sign::SignedParts {
                method: &out.method,
                path: &path,
                query: &query,
                headers: &out.headers,
                body: &out.body,
            };
            let signature = huawei::sign::sign(&parts, &parsed.signed_headers, &secret);
            let value = format!(
                "{} Access={ak}, SignedHeaders={}, Signature={signature}",
                huawei::sign::ALGORITHM,
                parsed.signed_headers.join(";")
            );
            Self::set_header(out, "authorization", value);
        } else if path == "/" && auth.starts_with(aliyun::sign::ACS3) {
            Self::set_header(out, "x-acs-date", iso_seconds(unix_now()));
            Self::set_header(out, "x-acs-signature-nonce", self.next_nonce());
            Self::set_header(out, "x-acs-content-sha256", sha256_hex(&out.body));
            let Ok(parsed) = aliyun::sign::parse_acs3(&auth) else {
                return;
            };
            let query = query_pairs(&out.target);
            let parts = aliyun::sign::Acs3Parts {
                method: &out.method,
                query: &query,
                headers: &out.headers,
                body: &out.body,
            };
            let signature = aliyun::sign::acs3_sign(&parts, &parsed.signed_headers, &secret);
            let value = format!(
                "{} Credential={ak},SignedHeaders={},Signature={signature}",
                aliyun::sign::ACS3,
                parsed.signed_headers.join(";")
            );
            Self::set_header(out, "authorization", value);
        } else if path == "/" && out.target.contains("Signature=") {
            let mut pairs = query_pairs(&out.target);
            pairs.retain(|(k, _)| {
                !matches!(k.as_str(), "Signature" | "AccessKeyId" | "Timestamp" | "SignatureNonce")
            });
            pairs.push(("AccessKeyId".into(), ak));
            pairs.push(("Timestamp".into(), iso_seconds(unix_now())));
            pairs.push(("SignatureNonce".into(), self.next_nonce()));
            let signature = aliyun::sign::v1_sign(&out.method, &pairs, &secret);
            pairs.push(("Signature".into(), signature));
            out.target = format!("/?{}", form(&pairs));
        } else if Self::header(out, "x-auth-token").is_some() {
            Self::set_header(out, "x-auth-token", self.keystone_token.clone());
        } else if auth.starts_with("Bearer ") {
            let token = if auth == "Bearer admin" {
                ADMIN.to_owned()
            } else {
                self.tenant_token.clone()
            };
            Self::set_header(out, "authorization", format!("Bearer {token}"));
        }
    }

    fn next_nonce(&self) -> String {
        format!("fuzz-{}", self.nonce.fetch_add(1, Ordering::Relaxed))
    }
}

fn query_pairs(target: &str) -> Vec<(String, String)> {
    target
        .split_once('?')
        .and_then(|(_, q)| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

fn form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ`.
fn iso_seconds(unix: i64) -> String {
    let text = weir_core::Timestamp(unix * 1000).to_string();
    format!("{}Z", &text[..19])
}

/// Unix seconds as `YYYYMMDDThhmmssZ` (Huawei's `X-Sdk-Date`).
fn iso_compact(unix: i64) -> String {
    iso_seconds(unix).replace(['-', ':'], "")
}
