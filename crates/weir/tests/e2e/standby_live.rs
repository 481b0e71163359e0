//! A `failover` standby shows the holder's live state (issue 17): two
//! nodes with data planes on one PostgreSQL registry, in `failover` mode
//! on `lo` (the VIP is a /32 inside 127/8, there anyway); only the VIP's
//! holder binds the listener, and the other node's views read the
//! holder's `/v1/cluster/live` for it: the listener active (Octavia's
//! ONLINE), the load balancer running, the holder's counters. Its own `/v1/cluster/live`
//! still answers only what it serves itself. Runs when
//! `WEIR_TEST_POSTGRES_URL` names a database (`.ci/run` sets one up).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;
use crate::traffic::{tagging_backend, until_tag};

/// Polls `probe` every 50 ms until it holds or `limit` passes.
fn eventually(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn config(dir: &Path, store_url: &str, octet: u32, name: &str) -> std::path::PathBuf {
    let path = dir.join("weir.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"{store_url}\"\n\n\
             [network]\nbackend_ranges = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\nexternal_backend_ranges = [\"127.0.0.0/8\"]\nvip_ranges = [\"127.{octet}.47.0/24\"]\n\n\
             [dataplane]\negress_allow = [\"127.0.0.0/8\"]\nworkers = 1\n\n\
             [cluster]\nnode_name = \"{name}\"\nnode_timeout_ms = 600\nvip_mode = \"failover\"\nvip_interface = \"lo\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_failover_standby_shows_the_holders_listener_state_and_counters() {
    let Some(store_url) = crate::shared_store::postgres_schema_url() else {
        return;
    };
    let octet = 20 + (std::process::id() + 93) % 200;
    let admin = "standby-live-admin";
    let shared_key = "7a".repeat(32);
    let key = ("WEIR_SECRETS_KEY", std::ffi::OsStr::new(&shared_key));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve_with_env(
        dir_a.path(),
        Some(admin),
        Some(&config(dir_a.path(), &store_url, octet, "alpha")),
        key,
    );
    let b = serve_with_env(
        dir_b.path(),
        Some(admin),
        Some(&config(dir_b.path(), &store_url, octet, "beta")),
        key,
    );
    let (status, project) = request(
        "POST",
        &format!("{}/v1/projects", a.url),
        admin,
        Some(json!({"name": "standby"})),
    );
    assert_eq!(status, 201, "{project}");
    let token = project["token"].as_str().unwrap().to_owned();
    let (_, vpc) = request(
        "POST",
        &format!("{}/v1/vpcs", a.url),
        admin,
        Some(json!({"project_id": project["id"], "cidr": "10.0.0.0/16"})),
    );
    let (status, subnet) = request(
        "POST",
        &format!("{}/v1/subnets", a.url),
        admin,
        Some(json!({"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})),
    );
    assert_eq!(status, 201, "{subnet}");
    let subnet = subnet["id"].clone();
    let (status, lb) = request(
        "POST",
        &format!("{}/v1/loadbalancers", a.url),
        &token,
        Some(json!({"subnet_id": subnet})),
    );
    assert_eq!(status, 201, "{lb}");
    let vip: std::net::IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = std::net::TcpListener::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lb_id = lb["id"].as_str().unwrap();
    let (status, listener) = request(
        "POST",
        &format!("{}/v1/loadbalancers/{lb_id}/listeners", a.url),
        &token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let listener_id = listener["id"].as_str().unwrap().to_owned();
    let backend = tagging_backend("held");
    let (status, body) = request(
        "POST",
        &format!("{}/v1/listeners/{listener_id}/backends", a.url),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = std::net::SocketAddr::new(vip, port);
    until_tag(front, "held");

    // Which node holds the VIP: the other is the standby.
    let mut holder_name = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (_, nodes) = request("GET", &format!("{}/v1/nodes", a.url), admin, None);
            let held = nodes["nodes"].as_array().into_iter().flatten().find(|n| {
                n["vips"]
                    .as_array()
                    .is_some_and(|v| v.contains(&json!(vip.to_string())))
            });
            holder_name = held.map_or(String::new(), |n| n["name"].as_str().unwrap().to_owned());
            !holder_name.is_empty()
        }),
        "no node lists the VIP"
    );
    let (holder, standby) = if holder_name == "alpha" {
        (&a, &b)
    } else {
        (&b, &a)
    };
    // A few more connections, all through the holder.
    for _ in 0..10 {
        assert_eq!(tag_of(front).as_deref(), Some("held"));
    }
    let stats = |node: &Served| {
        let (status, body) = request(
            "GET",
            &format!("{}/v1/listeners/{listener_id}/stats", node.url),
            &token,
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["total_connections"].as_u64().unwrap()
    };
    let served = stats(holder);
    assert!(served >= 11, "the holder counted {served} connections");

    // The standby's views: the listener active with the holder's
    // counters, the load balancer running (within a few of its rounds).
    let mut last = Value::Null;
    let shown = eventually(Duration::from_secs(15), || {
        let (_, view) = request(
            "GET",
            &format!("{}/v1/listeners/{listener_id}", standby.url),
            &token,
            None,
        );
        last = view;
        last["operating_status"]["state"] == "active" && stats(standby) == served
    });
    assert!(
        shown,
        "the standby never showed the holder's state: {last}, {} of {served} connections",
        stats(standby)
    );
    let (_, lb_view) = request(
        "GET",
        &format!("{}/v1/loadbalancers/{lb_id}", standby.url),
        &token,
        None,
    );
    assert_eq!(lb_view["operating_status"]["state"], "active", "{lb_view}");
    assert_eq!(lb_view["status"], "RUNNING", "{lb_view}");

    // Octavia on the standby says the same: the listener ONLINE.
    let keystone = ureq::post(&format!("{}/v3/auth/tokens", standby.url))
        .send_json(json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {
                "id": project["access_key_id"],
                "secret": project["access_key_secret"],
            },
        }}}))
        .expect("a Keystone token");
    let os_token = keystone.header("x-subject-token").unwrap().to_owned();
    let octavia: Value = ureq::get(&format!(
        "{}/v2.0/lbaas/listeners/{listener_id}",
        standby.url
    ))
    .set("X-Auth-Token", &os_token)
    .call()
    .expect("Octavia's listener")
    .into_json()
    .unwrap();
    assert_eq!(
        (
            &octavia["listener"]["operating_status"],
            &octavia["listener"]["provisioning_status"]
        ),
        (&json!("ONLINE"), &json!("ACTIVE")),
        "{octavia}"
    );

    // What the standby answers other nodes is its own data plane's only:
    // the holder's listener is not passed on.
    let live = |node: &Served| {
        let (status, body) = request("GET", &format!("{}/v1/cluster/live", node.url), admin, None);
        assert_eq!(status, 200, "{body}");
        body["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == listener_id.as_str())
    };
    assert!(live(holder), "the holder does not report its listener");
    assert!(!live(standby), "the standby passed the holder's state on");
}
