//! The golden tests' harness: an in-process server (SQLite in a tempdir,
//! `Control` without a data plane, `weir_dialects::router` on
//! 127.0.0.1:0) with an inventory bootstrapped as the admin, and one
//! signed client per dialect built on the crate's own signing functions.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use weir_control::{Control, Principal};
use weir_core::inventory::{NewInstance, NewSubnet, NewVpc};
use weir_core::settings::Settings;
use weir_core::Timestamp;
use weir_dialects::common::{pct, unix_now};
use weir_dialects::{aliyun, huawei, ucloud, zenlayer};
use weir_store::sqlite::Durability;

/// One instance of the inventory.
#[derive(Debug, Clone)]
pub struct Machine {
    pub id: String,
    pub ip: String,
}

/// What the admin created before the dialects are driven.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub project: String,
    pub access_key_id: String,
    pub secret: String,
    pub vpc: String,
    /// 10.0.1.0/24 in `vpc`.
    pub subnet: String,
    /// Running VMs at 10.0.1.11, .12, .13.
    pub vms: Vec<Machine>,
    /// A running bare-metal server at 10.0.1.21.
    pub bm: Machine,
    /// Projects after the first also own a VPC nobody else shares
    /// (10.9.0.0/16): its subnet 10.9.1.0/24 and a VM at 10.9.1.5.
    pub private: Option<(String, Machine)>,
}

/// A running server; it lives as long as the test process.
pub struct Server {
    /// `127.0.0.1:<port>`, also the Host header every request carries.
    pub host: String,
    pub inventory: Inventory,
    agent: ureq::Agent,
    nonce: AtomicU64,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

/// One answer: status, content type, raw body, and a one-line description
/// of the request (business parameters only, no credentials).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub request: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.request, self.text))
    }
}

async fn bootstrap(control: &Control, name: &str, private: bool) -> Inventory {
    let admin = Principal::Admin;
    let created = control.create_project(&admin, name.into()).await.unwrap();
    let project = created.project.id.clone();
    let vpc = control
        .create_vpc(
            &admin,
            project.clone(),
            NewVpc {
                name: "vpc".into(),
                cidr: "10.0.0.0/16".into(),
                has_border_gateway: false,
            },
        )
        .await
        .unwrap();
    let subnet = control
        .create_subnet(
            &admin,
            vpc.id.clone(),
            NewSubnet {
                name: "subnet".into(),
                cidr: "10.0.1.0/24".into(),
            },
        )
        .await
        .unwrap();
    let mut machines = Vec::new();
    for (name, kind, ip) in [
        ("vm0", "vm", "10.0.1.11"),
        ("vm1", "vm", "10.0.1.12"),
        ("vm2", "vm", "10.0.1.13"),
        ("bm0", "bm", "10.0.1.21"),
    ] {
        let instance = control
            .create_instance(
                &admin,
                project.clone(),
                subnet.id.clone(),
                NewInstance {
                    name: name.into(),
                    instance_type: kind.into(),
                    private_ip: ip.into(),
                    state: None,
                },
            )
            .await
            .unwrap();
        machines.push(Machine {
            id: instance.id.as_str().to_owned(),
            ip: ip.to_owned(),
        });
    }
    let bm = machines.pop().expect("four machines");
    let private = if private {
        let vpc = control
            .create_vpc(
                &admin,
                project.clone(),
                NewVpc {
                    name: "private".into(),
                    cidr: "10.9.0.0/16".into(),
                    has_border_gateway: false,
                },
            )
            .await
            .unwrap();
        let subnet = control
            .create_subnet(
                &admin,
                vpc.id.clone(),
                NewSubnet {
                    name: "private".into(),
                    cidr: "10.9.1.0/24".into(),
                },
            )
            .await
            .unwrap();
        let db = control
            .create_instance(
                &admin,
                project.clone(),
                subnet.id.clone(),
                NewInstance {
                    name: "db".into(),
                    instance_type: "vm".into(),
                    private_ip: "10.9.1.5".into(),
                    state: None,
                },
            )
            .await
            .unwrap();
        Some((
            subnet.id.as_str().to_owned(),
            Machine {
                id: db.id.as_str().to_owned(),
                ip: "10.9.1.5".to_owned(),
            },
        ))
    } else {
        None
    };
    Inventory {
        private,
        project: project.as_str().to_owned(),
        access_key_id: created.project.access_key_id,
        secret: created.access_key_secret,
        vpc: vpc.id.as_str().to_owned(),
        subnet: subnet.id.as_str().to_owned(),
        vms: machines,
        bm,
    }
}

/// Starts a server with default settings and dialect config on its own
/// runtime thread, with a fresh inventory.
pub fn start() -> Server {
    start_many(Settings::default(), 1)
        .pop()
        .expect("one project")
}

/// Starts one server with `settings` and `projects` projects, each with
/// the same inventory (their VPCs overlap, as clouds allow); returns one
/// client per project, signing with that project's key.
pub fn start_many(settings: Settings, projects: usize) -> Vec<Server> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("weir.db");
    let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, Vec<Inventory>)>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let store = weir_store::testing::store(&db, Durability::Normal).await;
            let control = Control::start(store, settings, "golden-admin".into())
                .await
                .unwrap();
            let mut inventory = Vec::new();
            for i in 0..projects {
                let name = if i == 0 {
                    "golden".to_owned()
                } else {
                    format!("golden{i}")
                };
                inventory.push(bootstrap(&control, &name, i > 0).await);
            }
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), inventory))
                .unwrap();
            let app = weir_dialects::router(control, weir_dialects::Config::default());
            axum::serve(listener, app).await.unwrap();
        });
    });
    let (addr, inventories) = rx.recv().expect("the server started");
    assert!(addr.ip().is_loopback());
    let dir = std::sync::Arc::new(dir);
    inventories
        .into_iter()
        .map(|inventory| Server {
            host: addr.to_string(),
            inventory,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
            nonce: AtomicU64::new(0),
            _dir: dir.clone(),
        })
        .collect()
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ`.
fn iso_seconds(unix: i64) -> String {
    let text = Timestamp(unix * 1000).to_string();
    format!("{}Z", &text[..19])
}

/// Parameters as `k=v&…` without encoding, for reading in a snapshot.
fn plain(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Server {
    /// Sends one request to this server; HTTP errors are answers too.
    fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: &[u8],
        request: String,
    ) -> Reply {
        let mut req = self
            .agent
            .request(method, &format!("http://{}{path_and_query}", self.host))
            .set("Host", &self.host);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = if body.is_empty() && method == "GET" {
            req.call()
        } else {
            req.send_bytes(body)
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{request}: {e}"),
        };
        Reply {
            status: response.status(),
            content_type: response.content_type().to_owned(),
            request,
            text: response.into_string().unwrap(),
        }
    }

    fn next_nonce(&self) -> String {
        // Per project, so two projects' clients never share a nonce.
        format!(
            "golden-{}-{}",
            self.inventory.project,
            self.nonce.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Zenlayer Cloud API 2.0 (`service` zlb or bmc), signed with
    /// ZC2-HMAC-SHA256 as the Python SDK signs it.
    pub fn zenlayer(&self, service: &str, version: &str, action: &str, body: &Value) -> Reply {
        let body = serde_json::to_vec(body).unwrap();
        let timestamp = unix_now().to_string();
        let content_type = "application/json";
        let parts = zenlayer::sign::SignedParts {
            method: "POST",
            content_type,
            host: &self.host,
            timestamp: &timestamp,
            body: &body,
        };
        let signature = zenlayer::sign::sign(&parts, &self.inventory.secret);
        let authorization = format!(
            "{} Credential={}, SignedHeaders=content-type;host, Signature={signature}",
            zenlayer::sign::ALGORITHM,
            self.inventory.access_key_id
        );
        let path = format!("/api/v2/{service}");
        self.send(
            "POST",
            &path,
            &[
                ("Content-Type", content_type.to_owned()),
                ("x-zc-version", version.to_owned()),
                ("x-zc-service", service.to_owned()),
                ("x-zc-action", action.to_owned()),
                ("x-zc-timestamp", timestamp.clone()),
                (
                    "x-zc-signature-method",
                    zenlayer::sign::ALGORITHM.to_owned(),
                ),
                ("Authorization", authorization),
            ],
            &body,
            format!(
                "POST {path} x-zc-action: {action}\n{}",
                String::from_utf8_lossy(&body)
            ),
        )
    }

    /// UCloud: a form-encoded POST with `Region` and `ProjectId` added as
    /// the SDK adds them, and the SHA-1 `Signature`.
    pub fn ucloud(&self, params: &[(&str, &str)]) -> Reply {
        let mut pairs: Vec<(String, String)> = vec![
            ("Region".into(), "local".into()),
            ("ProjectId".into(), self.inventory.project.clone()),
        ];
        pairs.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let request = format!("POST /ucloud {}", plain(&pairs));
        pairs.push(("PublicKey".into(), self.inventory.access_key_id.clone()));
        let signature = ucloud::sign::sign(&pairs, &self.inventory.secret);
        pairs.push(("Signature".into(), signature));
        self.send(
            "POST",
            "/ucloud",
            &[(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            form(&pairs).as_bytes(),
            request,
        )
    }

    /// Alibaba Cloud SLB with signature v1 (aliyun-python-sdk-core): every
    /// parameter in the query of an empty POST; `Format=XML` when `xml`.
    pub fn aliyun(&self, action: &str, params: &[(&str, &str)], xml: bool) -> Reply {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        pairs.push(("RegionId".into(), "local".into()));
        pairs.push(("Action".into(), action.into()));
        pairs.push(("Format".into(), if xml { "XML" } else { "JSON" }.into()));
        let request = format!("POST /?{}", plain(&pairs));
        pairs.extend([
            ("Version".to_owned(), "2014-05-15".to_owned()),
            ("Timestamp".to_owned(), iso_seconds(unix_now())),
            ("SignatureMethod".to_owned(), "HMAC-SHA1".to_owned()),
            ("SignatureType".to_owned(), String::new()),
            ("SignatureVersion".to_owned(), "1.0".to_owned()),
            ("SignatureNonce".to_owned(), self.next_nonce()),
            (
                "AccessKeyId".to_owned(),
                self.inventory.access_key_id.clone(),
            ),
        ]);
        let signature = aliyun::sign::v1_sign("POST", &pairs, &self.inventory.secret);
        pairs.push(("Signature".into(), signature));
        self.send(
            "POST",
            &format!("/?{}", form(&pairs)),
            &[("x-acs-action", action.to_owned())],
            b"",
            request,
        )
    }

    /// Huawei ELB v2: `/v2/{project_id}/elb{rest}`, signed with
    /// SDK-HMAC-SHA256 over content-type, host, x-project-id, x-sdk-date.
    pub fn huawei(&self, method: &str, rest: &str, body: Option<&Value>) -> Reply {
        let project = &self.inventory.project;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = format!("/v2/{project}/elb{path}");
        let query_pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let date = iso_seconds(unix_now()).replace(['-', ':'], "");
        let headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            ("host".into(), self.host.clone()),
            ("x-project-id".into(), project.clone()),
            ("x-sdk-date".into(), date),
        ];
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let parts = huawei::sign::SignedParts {
            method,
            path: &path,
            query: &query_pairs,
            headers: &headers,
            body: &body,
        };
        let signature = huawei::sign::sign(&parts, &signed, &self.inventory.secret);
        let authorization = format!(
            "{} Access={}, SignedHeaders={}, Signature={signature}",
            huawei::sign::ALGORITHM,
            self.inventory.access_key_id,
            signed.join(";")
        );
        let mut send_headers: Vec<(&str, String)> = headers
            .iter()
            .filter(|(k, _)| k != "host")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        send_headers.push(("Authorization", authorization));
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        self.send(
            method,
            &target,
            &send_headers,
            &body,
            format!("{method} {target}\n{}", String::from_utf8_lossy(&body)),
        )
    }

    /// Keystone v3: a token by application credential (the project's
    /// access key). Returns the reply and the `X-Subject-Token`.
    pub fn keystone_token(&self) -> (Reply, String) {
        let body = serde_json::json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {
                "id": self.inventory.access_key_id,
                "secret": self.inventory.secret,
            },
        }}});
        let bytes = serde_json::to_vec(&body).unwrap();
        let response = self
            .agent
            .post(&format!("http://{}/v3/auth/tokens", self.host))
            .set("Host", &self.host)
            .set("Content-Type", "application/json")
            .send_bytes(&bytes)
            .expect("a token");
        let token = response
            .header("x-subject-token")
            .expect("X-Subject-Token")
            .to_owned();
        let reply = Reply {
            status: response.status(),
            content_type: response.content_type().to_owned(),
            request: "POST /v3/auth/tokens {\"auth\": {\"identity\": {\"methods\": [\"application_credential\"], …}}}".to_owned(),
            text: response.into_string().unwrap(),
        };
        (reply, token)
    }

    /// Octavia under `/v2.0/lbaas` with `X-Auth-Token`.
    pub fn octavia(&self, token: &str, method: &str, rest: &str, body: Option<&Value>) -> Reply {
        let path = format!("/v2.0/lbaas{rest}");
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let mut headers = vec![("X-Auth-Token", token.to_owned())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        self.send(
            method,
            &path,
            &headers,
            &body,
            format!("{method} {path}\n{}", String::from_utf8_lossy(&body)),
        )
    }
}
