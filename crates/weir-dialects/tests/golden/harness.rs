//! The golden and isolation tests' harness: an in-process server (SQLite
//! in a tempdir, or PostgreSQL with `WEIR_TEST_STORE=postgres`; `Control`
//! without a data plane; the native API and `weir_dialects::router` on
//! 127.0.0.1:0, merged as `weir serve` merges them) with one inventory per
//! project bootstrapped as the admin, and a client per project that signs
//! every dialect's requests with the crate's own signing functions.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of the harness"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use weir_control::{Control, Principal};
use weir_core::inventory::{NewInstance, NewSubnet, NewVpc};
use weir_core::settings::Settings;
use weir_core::Timestamp;
use weir_dialects::common::{hex, hmac_sha256, pct, sha256_hex, unix_now, ReplayLimits};
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
    /// The project's bearer token for the native API.
    pub token: String,
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

/// One project's signed client of a running server (cheap to clone: the
/// server's directory and nonce counter are shared); it keeps the server's
/// directory alive.
#[derive(Clone)]
pub struct Server {
    /// `127.0.0.1:<port>`, also the Host header every request carries.
    pub host: String,
    /// The project whose access key signs this handle's requests.
    pub inventory: Inventory,
    /// Another project of the same server, when started with one.
    pub other: Option<Inventory>,
    agent: ureq::Agent,
    /// Shared by every client of the server, so no two requests of the
    /// process carry the same nonce or Zenlayer timestamp offset.
    nonce: Arc<AtomicU64>,
    _dir: Arc<tempfile::TempDir>,
}

/// The isolation sweep's name for a per-project handle.
pub type Client = Server;

/// How [`start_with`] sets a server up.
#[derive(Default)]
pub struct Options {
    pub config: weir_dialects::Config,
    /// The replay guards' bounds (default: the production ones).
    pub replay_limits: Option<ReplayLimits>,
    /// Bootstrap a second project with its own inventory (`Server::other`).
    pub second_project: bool,
}

/// One Zenlayer request as signed, to send (or replay) as it is.
#[derive(Debug, Clone)]
pub struct ZcSigned {
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl ZcSigned {
    /// The same signed bytes with another `x-zc-action` or path.
    pub fn with(&self, path: &str, action: &str) -> Self {
        let mut copy = self.clone();
        copy.path = path.to_owned();
        for (k, v) in copy.headers.iter_mut() {
            if *k == "x-zc-action" {
                *v = action.to_owned();
            }
        }
        copy
    }
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
                shared: false,
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
                    shared: false,
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
        token: created.token,
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
    start_with(Options::default())
}

/// Starts a server as [`start`] does, set up by `options`.
pub fn start_with(options: Options) -> Server {
    let mut names = vec!["golden"];
    if options.second_project {
        names.push("golden-other");
    }
    let mut clients = start_inner(
        &names,
        Settings::default(),
        options.config,
        options.replay_limits,
    );
    let mut first = clients.remove(0);
    first.other = clients.pop().map(|c| c.inventory);
    first
}

/// Starts one server with `settings` and `projects` projects, each with
/// the same inventory (their VPCs overlap, as clouds allow); returns one
/// client per project, signing with that project's key.
pub fn start_many(settings: Settings, projects: usize) -> Vec<Server> {
    let names: Vec<String> = (0..projects)
        .map(|i| {
            if i == 0 {
                "golden".to_owned()
            } else {
                format!("golden{i}")
            }
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    start_inner(&names, settings, weir_dialects::Config::default(), None)
}

/// Starts a server as [`start`] does, with one project per name, each
/// with the same inventory layout (address spaces of projects overlap, as
/// in every cloud); one client per project, in order. The directory holds
/// the database file and must outlive the clients.
pub fn start_projects(names: &[&str]) -> (Vec<Client>, Arc<tempfile::TempDir>) {
    let clients = start_inner(
        names,
        Settings::default(),
        weir_dialects::Config::default(),
        None,
    );
    let dir = Arc::clone(&clients[0]._dir);
    (clients, dir)
}

fn start_inner(
    names: &[&str],
    settings: Settings,
    config: weir_dialects::Config,
    replay_limits: Option<ReplayLimits>,
) -> Vec<Client> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("weir.db");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
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
            let mut inventories = Vec::new();
            for (i, name) in names.iter().enumerate() {
                inventories.push(bootstrap(&control, name, i > 0).await);
            }
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), inventories))
                .unwrap();
            let state = weir_dialects::Dialects::with_replay_limits(
                control.clone(),
                config,
                replay_limits.unwrap_or_default(),
            );
            // Merged as `weir serve` merges them.
            let app = weir_api::router(control).merge(weir_dialects::router_with_state(state));
            axum::serve(listener, app).await.unwrap();
        });
    });
    let (addr, inventories) = rx.recv().expect("the server started");
    assert!(addr.ip().is_loopback());
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let nonce = Arc::new(AtomicU64::new(0));
    let dir = Arc::new(dir);
    inventories
        .into_iter()
        .map(|inventory| Client {
            host: addr.to_string(),
            inventory,
            other: None,
            agent: agent.clone(),
            nonce: Arc::clone(&nonce),
            _dir: Arc::clone(&dir),
        })
        .collect()
}

/// The SDK-HMAC-SHA256 signature as huaweicloudsdkcore computes it: over
/// the body's hash, or over `X-Sdk-Content-Sha256` as given when the body
/// is not empty (what the SDK does, and what a forger would try).
fn huawei_signature(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
    signed: &[String],
    secret: &str,
) -> String {
    let parts = huawei::sign::SignedParts {
        method,
        path,
        query,
        headers,
        body,
    };
    let canonical = huawei::sign::canonical_request(&parts, signed);
    let claimed = headers
        .iter()
        .find(|(k, _)| k == "x-sdk-content-sha256")
        .map(|(_, v)| v.as_str());
    let canonical = match claimed {
        Some(hash) if !body.is_empty() => {
            let (head, _) = canonical.rsplit_once('\n').expect("a payload line");
            format!("{head}\n{hash}")
        }
        _ => canonical,
    };
    let date = headers
        .iter()
        .find(|(k, _)| k == "x-sdk-date")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let sts = format!(
        "{}\n{date}\n{}",
        huawei::sign::ALGORITHM,
        sha256_hex(canonical.as_bytes())
    );
    hex(&hmac_sha256(secret.as_bytes(), sts.as_bytes()))
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
    /// A handle on the same server that acts with a new credential of
    /// this handle's project with `role` (`reader`, `member`, `observer`,
    /// `admin`), made by the operator: its bearer token and access key
    /// replace the project's own.
    pub fn with_role(&self, role: &str) -> Server {
        let body = serde_json::json!({"role": role, "name": format!("{role} key")}).to_string();
        let path = format!("/v1/projects/{}/credentials", self.inventory.project);
        let reply = self.send(
            "POST",
            &path,
            &[
                ("Authorization", "Bearer golden-admin".to_owned()),
                ("Content-Type", "application/json".to_owned()),
            ],
            body.as_bytes(),
            format!("POST {path} {body}"),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
        let made = reply.json();
        let text = |k: &str| made[k].as_str().expect(k).to_owned();
        let mut copy = self.clone();
        copy.inventory.access_key_id = text("access_key_id");
        copy.inventory.secret = text("access_key_secret");
        copy.inventory.token = text("token");
        copy
    }

    /// A handle on the same server that signs as the second project.
    pub fn as_other(&self) -> Server {
        Server {
            host: self.host.clone(),
            inventory: self.other.clone().expect("started with a second project"),
            other: Some(self.inventory.clone()),
            agent: self.agent.clone(),
            nonce: Arc::clone(&self.nonce),
            _dir: Arc::clone(&self._dir),
        }
    }

    /// Sends one request to this server; HTTP errors are answers too.
    pub fn send(
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
    /// ZC2-HMAC-SHA256 as the Python SDK signs it. Like the SDK, a 429
    /// `REQUEST_LIMIT_EXCEEDED` (an identical request already sent within
    /// the same second shares its signature, which is single-use) is
    /// retried once the clock has moved on, signed again.
    pub fn zenlayer(&self, service: &str, version: &str, action: &str, body: &Value) -> Reply {
        let body = serde_json::to_vec(body).unwrap();
        for _ in 0..3 {
            // Zenlayer signs only the second and the body, and every
            // accepted write signature is single-use: a distinct second
            // (within the ±15 min window) for each request keeps identical
            // bodies distinct; the 429 retry covers any collision left.
            let offset = self.nonce.fetch_add(1, Ordering::Relaxed) % 600;
            let timestamp = unix_now() - offset as i64;
            let signed = self.zenlayer_signed(service, version, action, &body, timestamp);
            let reply = self.send_zenlayer(&signed);
            let limited = reply.status == 429
                && serde_json::from_str::<Value>(&reply.text)
                    .is_ok_and(|v| v["code"] == "REQUEST_LIMIT_EXCEEDED");
            if !limited {
                return reply;
            }
            std::thread::sleep(Duration::from_millis(1100));
        }
        panic!("POST /api/v2/{service} {action}: still limited after three signatures")
    }

    /// A Zenlayer request signed at `timestamp`, not yet sent.
    pub fn zenlayer_signed(
        &self,
        service: &str,
        version: &str,
        action: &str,
        body: &[u8],
        timestamp: i64,
    ) -> ZcSigned {
        let timestamp = timestamp.to_string();
        let content_type = "application/json";
        let parts = zenlayer::sign::SignedParts {
            method: "POST",
            content_type,
            host: &self.host,
            timestamp: &timestamp,
            body,
        };
        let signature = zenlayer::sign::sign(&parts, &self.inventory.secret);
        let authorization = format!(
            "{} Credential={}, SignedHeaders=content-type;host, Signature={signature}",
            zenlayer::sign::ALGORITHM,
            self.inventory.access_key_id
        );
        ZcSigned {
            path: format!("/api/v2/{service}"),
            headers: vec![
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
            body: body.to_vec(),
        }
    }

    /// Sends a signed Zenlayer request as it is.
    pub fn send_zenlayer(&self, signed: &ZcSigned) -> Reply {
        let action = signed
            .headers
            .iter()
            .find(|(k, _)| *k == "x-zc-action")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        self.send(
            "POST",
            &signed.path,
            &signed.headers,
            &signed.body,
            format!(
                "POST {} x-zc-action: {action}\n{}",
                signed.path,
                String::from_utf8_lossy(&signed.body)
            ),
        )
    }

    /// UCloud: a form-encoded POST with `Region` and `ProjectId` added as
    /// the SDK adds them, and the SHA-1 `Signature`.
    pub fn ucloud(&self, params: &[(&str, &str)]) -> Reply {
        self.ucloud_in(&self.inventory.project, params)
    }

    /// UCloud as [`Self::ucloud`], naming `project` as the `ProjectId`.
    pub fn ucloud_in(&self, project: &str, params: &[(&str, &str)]) -> Reply {
        let pairs = self.ucloud_signed_in(project, params);
        self.send_ucloud(&pairs)
    }

    /// The parameters of a UCloud request, signed (`Signature` last).
    pub fn ucloud_signed(&self, params: &[(&str, &str)]) -> Vec<(String, String)> {
        self.ucloud_signed_in(&self.inventory.project, params)
    }

    /// UCloud parameters naming `project`, signed with this client's key.
    pub fn ucloud_signed_in(
        &self,
        project: &str,
        params: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = vec![
            ("Region".into(), "local".into()),
            ("ProjectId".into(), project.to_owned()),
        ];
        pairs.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        pairs.push(("PublicKey".into(), self.inventory.access_key_id.clone()));
        let signature = ucloud::sign::sign(&pairs, &self.inventory.secret);
        pairs.push(("Signature".into(), signature));
        pairs
    }

    /// Sends UCloud parameters as they are, form-encoded.
    pub fn send_ucloud(&self, pairs: &[(String, String)]) -> Reply {
        let shown: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "PublicKey" && k != "Signature")
            .cloned()
            .collect();
        let request = format!("POST /ucloud {}", plain(&shown));
        self.send(
            "POST",
            "/ucloud",
            &[(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            form(pairs).as_bytes(),
            request,
        )
    }

    /// Alibaba Cloud SLB with signature v1 (aliyun-python-sdk-core): every
    /// parameter in the query of an empty POST; `Format=XML` when `xml`.
    pub fn aliyun(&self, action: &str, params: &[(&str, &str)], xml: bool) -> Reply {
        let (pairs, request) = self.aliyun_signed(action, params, xml, &self.next_nonce());
        self.send_aliyun(action, &pairs, request)
    }

    /// An Alibaba v1 request with the given `SignatureNonce`, signed, and
    /// its description.
    pub fn aliyun_signed(
        &self,
        action: &str,
        params: &[(&str, &str)],
        xml: bool,
        nonce: &str,
    ) -> (Vec<(String, String)>, String) {
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
            ("SignatureNonce".to_owned(), nonce.to_owned()),
            (
                "AccessKeyId".to_owned(),
                self.inventory.access_key_id.clone(),
            ),
        ]);
        let signature = aliyun::sign::v1_sign("POST", &pairs, &self.inventory.secret);
        pairs.push(("Signature".into(), signature));
        (pairs, request)
    }

    /// Sends signed Alibaba v1 parameters in the query of an empty POST.
    pub fn send_aliyun(&self, action: &str, pairs: &[(String, String)], request: String) -> Reply {
        self.send(
            "POST",
            &format!("/?{}", form(pairs)),
            &[("x-acs-action", action.to_owned())],
            b"",
            request,
        )
    }

    /// Huawei ELB v2: `/v2/{project_id}/elb{rest}`, signed with
    /// SDK-HMAC-SHA256 over content-type, host, x-project-id, x-sdk-date.
    pub fn huawei(&self, method: &str, rest: &str, body: Option<&Value>) -> Reply {
        self.huawei_in(&self.inventory.project, method, rest, body)
    }

    /// Huawei as [`Self::huawei`], with `project` in the path and in
    /// `X-Project-Id`, signed with this client's key.
    pub fn huawei_in(
        &self,
        project: &str,
        method: &str,
        rest: &str,
        body: Option<&Value>,
    ) -> Reply {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        self.huawei_signed_in(project, method, rest, &body, &body, None)
    }

    /// Huawei ELB v2 as [`Server::huawei`], signed over `signed_body` (and
    /// `X-Sdk-Content-Sha256: content_sha256` when given) but sending
    /// `body`: a captured request replayed with another body.
    pub fn huawei_with(
        &self,
        method: &str,
        rest: &str,
        body: &[u8],
        signed_body: &[u8],
        content_sha256: Option<&str>,
    ) -> Reply {
        let project = self.inventory.project.clone();
        self.huawei_signed_in(&project, method, rest, body, signed_body, content_sha256)
    }

    fn huawei_signed_in(
        &self,
        project: &str,
        method: &str,
        rest: &str,
        body: &[u8],
        signed_body: &[u8],
        content_sha256: Option<&str>,
    ) -> Reply {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = format!("/v2/{project}/elb{path}");
        let query_pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let date = iso_seconds(unix_now()).replace(['-', ':'], "");
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            ("host".into(), self.host.clone()),
            ("x-project-id".into(), project.to_owned()),
            ("x-sdk-date".into(), date),
        ];
        if let Some(hash) = content_sha256 {
            headers.push(("x-sdk-content-sha256".into(), hash.to_owned()));
        }
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let signature = huawei_signature(
            method,
            &path,
            &query_pairs,
            &headers,
            signed_body,
            &signed,
            &self.inventory.secret,
        );
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
            body,
            format!("{method} {target}\n{}", String::from_utf8_lossy(body)),
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
        self.octavia_at("/v2.0/lbaas", token, method, rest, body)
    }

    /// Octavia or Neutron under `prefix` (`/v2.0/lbaas`, `/v2/lbaas`,
    /// `/v2.0`) with `X-Auth-Token`.
    pub fn octavia_at(
        &self,
        prefix: &str,
        token: &str,
        method: &str,
        rest: &str,
        body: Option<&Value>,
    ) -> Reply {
        let path = format!("{prefix}{rest}");
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
