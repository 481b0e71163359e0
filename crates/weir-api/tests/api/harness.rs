//! Test harness: a server per test and a small JSON client.

use serde_json::{json, Value};
use weir_control::Control;
use weir_core::settings::Settings;
use weir_store::sqlite::Durability;

pub const ADMIN: &str = "test-admin-token";

/// A running server; it lives as long as the test process.
pub struct Server {
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Starts a server with default settings.
pub fn start() -> Server {
    start_with(Settings::default())
}

/// Starts a server with `settings` on its own runtime thread.
pub fn start_with(settings: Settings) -> Server {
    start_full(settings, None)
}

/// Starts a server with `settings` and a metrics token.
pub fn start_full(settings: Settings, metrics_token: Option<&str>) -> Server {
    let metrics_token = metrics_token.map(str::to_owned);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("weir.db");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let control = Control::start(
                weir_store::testing::store(&db, Durability::Full).await,
                settings,
                ADMIN.to_owned(),
            )
            .await
            .unwrap()
            .with_metrics_token(metrics_token);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, weir_api::router(control))
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    Server {
        url: format!("http://{addr}"),
        _dir: dir,
    }
}

/// Starts a server whose control plane `adjust` configures, handing back
/// that control plane and its runtime for what a test cannot do over HTTP
/// (a compaction sweep).
pub fn start_adjusted(
    settings: Settings,
    adjust: impl FnOnce(Control) -> Control + Send + 'static,
) -> (Server, Control, tokio::runtime::Handle) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("weir.db");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let control = adjust(
                Control::start(
                    weir_store::testing::store(&db, Durability::Full).await,
                    settings,
                    ADMIN.to_owned(),
                )
                .await
                .unwrap(),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), control.clone(), handle))
                .unwrap();
            axum::serve(listener, weir_api::router(control))
                .await
                .unwrap();
        });
    });
    let (addr, control, handle) = rx.recv().unwrap();
    (
        Server {
            url: format!("http://{addr}"),
            _dir: dir,
        },
        control,
        handle,
    )
}

/// One response: status, JSON body (Null when empty), request id header.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub request_id: String,
    pub replayed: bool,
}

impl Server {
    /// Sends a request with a raw body.
    pub fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Option<&[u8]>) -> Reply {
        let mut req = ureq::request(method, &format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_bytes(b),
            None => req.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let request_id = response
            .header("x-request-id")
            .unwrap_or_default()
            .to_owned();
        let replayed = response.header("x-idempotent-replay").is_some();
        let text = response.into_string().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Reply {
            status,
            body,
            request_id,
            replayed,
        }
    }

    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        self.raw(method, path, Some(token), bytes.as_deref())
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, token, Some(body))
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, token, None)
    }

    /// POSTs and insists on 201, returning the body.
    pub fn create(&self, path: &str, token: &str, body: Value) -> Value {
        let reply = self.post(path, token, body);
        assert_eq!(reply.status, 201, "POST {path}: {}", reply.body);
        reply.body
    }

    /// The store revision reported by /healthz.
    pub fn revision(&self) -> u64 {
        self.raw("GET", "/healthz", None, None).body["revision"]
            .as_u64()
            .unwrap()
    }
}

/// A project with an inventory, a running load balancer and a TCP:80
/// listener.
pub struct Fixture {
    pub project: String,
    pub token: String,
    pub vpc: String,
    pub subnet: String,
    /// Running VMs at 10.0.1.11.., in order.
    pub instances: Vec<String>,
    pub lb: String,
    pub listener: String,
    pub pool: String,
}

pub fn fixture(server: &Server) -> Fixture {
    fixture_named(server, "tenant")
}

pub fn fixture_named(server: &Server, name: &str) -> Fixture {
    let project = server.create("/v1/projects", ADMIN, json!({"name": name}));
    let project_id = project["id"].as_str().unwrap().to_owned();
    let token = project["token"].as_str().unwrap().to_owned();
    let vpc = server.create(
        "/v1/vpcs",
        ADMIN,
        json!({"project_id": project_id, "name": "vpc", "cidr": "10.0.0.0/16"}),
    );
    let vpc = vpc["id"].as_str().unwrap().to_owned();
    let subnet = server.create(
        "/v1/subnets",
        ADMIN,
        json!({"vpc_id": vpc, "cidr": "10.0.1.0/24"}),
    );
    let subnet = subnet["id"].as_str().unwrap().to_owned();
    let instances = (0..3)
        .map(|i| {
            let inst = server.create(
                "/v1/instances",
                ADMIN,
                json!({"project_id": project_id, "subnet_id": subnet, "private_ip": format!("10.0.1.{}", 11 + i), "name": format!("vm{i}")}),
            );
            inst["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let lb = server.create(
        "/v1/loadbalancers",
        &token,
        json!({"name": "lb", "subnet_id": subnet}),
    );
    let lb = lb["id"].as_str().unwrap().to_owned();
    let listener = server.create(
        &format!("/v1/loadbalancers/{lb}/listeners"),
        &token,
        json!({"name": "web", "protocol": "tcp", "port": 80}),
    );
    Fixture {
        project: project_id,
        token,
        vpc,
        subnet,
        instances,
        lb,
        pool: listener["default_pool_id"].as_str().unwrap().to_owned(),
        listener: listener["id"].as_str().unwrap().to_owned(),
    }
}

/// Asserts an error reply's status, code and envelope.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    assert!(reply.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(
        reply.body["request_id"],
        reply.request_id.as_str(),
        "request id echoed in the body"
    );
}
