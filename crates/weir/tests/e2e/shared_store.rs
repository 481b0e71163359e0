//! Several nodes, one PostgreSQL registry: a backend registered through one
//! node's API carries traffic through another node's data plane (woken by
//! the commit's notification: the poll is set to a minute, so only that
//! can make it in time), and the nodes allocate from one pool of VIPs; the
//! node without a data plane shows the serving node's live state, read
//! over `/v1/cluster/live` with the token both derive from the shared
//! secrets key. Runs when `WEIR_TEST_POSTGRES_URL`
//! names a database the test may create a schema in (`.ci/run` sets one up).

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// A schema of this test's own in the configured database, as a store URL;
/// `None` without one (unless `WEIR_REQUIRE_POSTGRES` demands it, as CI
/// does, so a broken setup fails instead of skipping).
pub(crate) fn postgres_schema_url() -> Option<String> {
    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none(),
            "WEIR_REQUIRE_POSTGRES is set but WEIR_TEST_POSTGRES_URL is not"
        );
        eprintln!("shared-store test skipped: WEIR_TEST_POSTGRES_URL is not set");
        return None;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Some(
        runtime
            .block_on(weir_store::postgres::fresh_schema(&url, "e2e"))
            .expect("a schema of its own in WEIR_TEST_POSTGRES_URL"),
    )
}

fn node_config(dir: &Path, store_url: &str, octet: u32, dataplane: bool) -> std::path::PathBuf {
    let path = dir.join("weir.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"{store_url}\"\npoll_ms = 60000\n\n\
             [network]\nbackend_ranges = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\nexternal_backend_ranges = [\"127.0.0.0/8\"]\nvip_ranges = [\"127.{octet}.9.0/24\"]\n\n\
             [dataplane]\nenabled = {dataplane}\negress_allow = [\"127.0.0.0/8\"]\nworkers = 1\n"
        ),
    )
    .unwrap();
    path
}

/// Polls (bounded) until `probe` holds; how long it took.
fn within(limit: Duration, mut probe: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if probe() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn a_backend_registered_on_one_node_is_served_by_another() {
    let Some(store_url) = postgres_schema_url() else {
        return;
    };
    let octet = 20 + std::process::id() % 200;
    let admin = "shared-admin";
    let data_node = tempfile::tempdir().unwrap();
    let api_node = tempfile::tempdir().unwrap();
    // Nodes of one registry share the secrets key, and from it the
    // cluster token.
    let shared_key = "5e".repeat(32);
    let key = ("WEIR_SECRETS_KEY", std::ffi::OsStr::new(&shared_key));
    let serving = serve_with_env(
        data_node.path(),
        Some(admin),
        Some(&node_config(data_node.path(), &store_url, octet, true)),
        key,
    );
    let api_only = serve_with_env(
        api_node.path(),
        Some(admin),
        Some(&node_config(api_node.path(), &store_url, octet, false)),
        key,
    );
    let on = |node: &Served, method: &str, path: &str, token: &str, body: Option<Value>| {
        request(method, &format!("{}{path}", node.url), token, body)
    };

    // Everything is created through the node without a data plane.
    let (token, subnet_id) = tenant(&api_only.url, admin);
    let (status, lb) = on(
        &api_only,
        "POST",
        "/v1/loadbalancers",
        &token,
        Some(json!({"subnet_id": subnet_id})),
    );
    assert_eq!(status, 201, "{lb}");
    let vip: IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = TcpListener::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lb_id = lb["id"].as_str().unwrap();
    let (status, listener) = on(
        &api_only,
        "POST",
        &format!("/v1/loadbalancers/{lb_id}/listeners"),
        &token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let listener_id = listener["id"].as_str().unwrap();

    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in backend.incoming().map_while(Result::ok) {
            let _ = stream.write_all(b"a\n");
        }
    });
    let (status, registered) = on(
        &api_only,
        "POST",
        &format!("/v1/listeners/{listener_id}/backends"),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend_addr.port()}]})),
    );
    assert_eq!(status, 201, "{registered}");
    let backend_id = registered["backends"][0]["id"].as_str().unwrap().to_owned();

    // The other node picks it up from the shared change log and serves it.
    let front = SocketAddr::new(vip, port);
    let took = within(Duration::from_secs(10), || {
        tag_of(front).as_deref() == Some("a")
    });
    let took = took
        .expect("the serving node never carried traffic to a backend registered on the other node");
    eprintln!("registration on one node -> traffic through the other: {took:?}");

    // Both nodes read the same registry; the serving one reports live state.
    let (_, listed) = on(
        &serving,
        "GET",
        &format!("/v1/listeners/{listener_id}/backends"),
        &token,
        None,
    );
    assert_eq!(listed["backends"][0]["id"], backend_id.as_str(), "{listed}");
    assert_eq!(
        listed["backends"][0]["status"]["state"], "healthy",
        "{listed}"
    );
    // The node without a data plane shows it too, read from the serving
    // node (within a few of its rounds, a sixth of the node timeout).
    let mut last = Value::Null;
    let shown = within(Duration::from_secs(15), || {
        let (_, listed) = on(
            &api_only,
            "GET",
            &format!("/v1/listeners/{listener_id}/backends"),
            &token,
            None,
        );
        last = listed;
        last["backends"][0]["status"]["state"] == "healthy"
    });
    let shown = shown.unwrap_or_else(|| panic!("no live state on the API node: {last}"));
    eprintln!("live state on the node without a data plane after {shown:?}");
    let (_, lb_view) = on(
        &api_only,
        "GET",
        &format!("/v1/loadbalancers/{lb_id}"),
        &token,
        None,
    );
    assert_eq!(lb_view["operating_status"]["state"], "active", "{lb_view}");
    // The route it reads is the nodes' (and the operator's), no one else's.
    let live_url = |node: &Served| format!("{}/v1/cluster/live", node.url);
    for who in ["", "nope", token.as_str()] {
        let (status, body) = request("GET", &live_url(&serving), who, None);
        assert_eq!(status, 401, "{who:?}: {body}");
    }
    let (status, live) = request("GET", &live_url(&serving), admin, None);
    assert_eq!(status, 200, "{live}");
    assert!(
        live["backends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == backend_id.as_str() && b["state"] == "healthy"),
        "{live}"
    );
    // A node without a data plane passes nothing on.
    let (status, body) = request("GET", &live_url(&api_only), admin, None);
    assert_eq!(status, 404, "{body}");

    // A load balancer created on the serving node gets another VIP: one
    // allocation for the whole registry.
    let (status, second) = on(
        &serving,
        "POST",
        "/v1/loadbalancers",
        &token,
        Some(json!({"subnet_id": subnet_id})),
    );
    assert_eq!(status, 201, "{second}");
    assert_ne!(second["vip"], lb["vip"], "{second}");

    // Deregistered through the serving node: no new connections reach it.
    let (status, _) = on(
        &serving,
        "DELETE",
        &format!("/v1/backends/{backend_id}"),
        &token,
        None,
    );
    assert_eq!(status, 204);
    assert!(
        within(Duration::from_secs(10), || tag_of(front).is_none()).is_some(),
        "a deregistered backend still takes new connections"
    );
    drop(api_only);
    drop(serving);
}

/// A loopback TCP forwarder to the database that the test can cut: while
/// cut, open connections are closed and new ones dropped at once.
struct Forwarder {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    live: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Forwarder {
    fn start(target: SocketAddr) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (accepting, tracked) = (open.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connect fails
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let mut list = tracked.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self { port, open, live }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for stream in self.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_store_outage_is_a_retryable_error_and_writes_resume_after_it() {
    let Some(store_url) = postgres_schema_url() else {
        return;
    };
    // postgres://user:password@HOST:PORT/db?options=... through the forwarder.
    let rest = store_url.split_once('@').unwrap();
    let (authority, path) = rest.1.split_once('/').unwrap();
    let target: SocketAddr = authority.parse().expect("a host:port address in the URL");
    assert!(target.ip().is_loopback());
    let forwarder = Forwarder::start(target);
    let via = format!("{}@127.0.0.1:{}/{path}", rest.0, forwarder.port);
    let dir = tempfile::tempdir().unwrap();
    let admin = "outage-admin";
    let node = serve_with(
        dir.path(),
        Some(admin),
        Some(&node_config(dir.path(), &via, 90, false)),
    );
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        request(method, &format!("{}{path}", node.url), token, body)
    };
    let (token, subnet_id) = tenant(&node.url, admin);
    let (_, lb) = call(
        "POST",
        "/v1/loadbalancers",
        &token,
        Some(json!({"subnet_id": subnet_id})),
    );
    let (status, listener) = call(
        "POST",
        &format!("/v1/loadbalancers/{}/listeners", lb["id"].as_str().unwrap()),
        &token,
        Some(json!({"protocol": "tcp", "port": 8000})),
    );
    assert_eq!(status, 201, "{listener}");
    let backends = format!(
        "/v1/listeners/{}/backends",
        listener["id"].as_str().unwrap()
    );
    let register = |address: &str| {
        call(
            "POST",
            &backends,
            &token,
            Some(json!({"backends": [{"address": address, "port": 80}]})),
        )
    };
    assert_eq!(register("10.0.1.5").0, 201);

    forwarder.cut();
    let (status, refused) = register("10.0.1.6");
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "Unavailable", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{refused}"
    );

    forwarder.restore();
    let resumed = within(Duration::from_secs(20), || register("10.0.1.7").0 == 201);
    assert!(resumed.is_some(), "writes never resumed after the outage");
    let (_, listed) = call("GET", &backends, &token, None);
    let addresses: Vec<&str> = listed["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        ["10.0.1.5", "10.0.1.7"],
        "the refused write left nothing behind"
    );
}
