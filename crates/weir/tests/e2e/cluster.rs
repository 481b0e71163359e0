//! Node membership (issue 17): every `weir serve` registers itself and
//! heartbeats; `GET /v1/nodes` and `weir node list` show the nodes with
//! their state. On SQLite one node; on PostgreSQL two processes see each
//! other, and one killed with SIGKILL turns `down` once its heartbeats
//! are older than `cluster.node_timeout_ms` (polled with a bounded
//! deadline). Settings that cannot work are refused at start.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn nodes(url: &str, admin: &str) -> Vec<Value> {
    let (status, body) = request("GET", &format!("{url}/v1/nodes"), admin, None);
    assert_eq!(status, 200, "{body}");
    body["nodes"].as_array().cloned().unwrap_or_default()
}

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

#[test]
fn a_sqlite_node_lists_itself_and_keeps_its_id_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "nodes-admin";
    let first_id = {
        let served = serve(dir.path(), Some(admin));
        let listed = nodes(&served.url, admin);
        assert_eq!(listed.len(), 1, "{listed:?}");
        let me = &listed[0];
        assert_eq!(me["state"], "up");
        assert_eq!(me["holds_vips"], true);
        assert_eq!(
            me["api_address"].as_str().unwrap(),
            served.url.trim_start_matches("http://")
        );
        // A project's token gets the native API's admin refusal.
        let (token, _) = tenant(&served.url, admin);
        let (status, body) = request("GET", &format!("{}/v1/nodes", served.url), &token, None);
        assert_eq!(status, 403, "{body}");
        let (status, _) = request("GET", &format!("{}/v1/nodes", served.url), "nope", None);
        assert_eq!(status, 401);
        // The CLI: a table and the API's JSON.
        let (ok, table, err) = weir(&served.url, admin, &["node", "list"]);
        assert!(ok, "{err}");
        assert!(table.starts_with("ID"), "{table}");
        assert!(table.contains(me["id"].as_str().unwrap()), "{table}");
        let json = weir_json(&served.url, admin, &["node", "list"]);
        assert_eq!(json["nodes"][0]["id"], me["id"]);
        me["id"].as_str().unwrap().to_owned()
    };
    let served = serve(dir.path(), Some(admin));
    let listed = nodes(&served.url, admin);
    assert_eq!(listed.len(), 1, "a restart is the same node: {listed:?}");
    assert_eq!(listed[0]["id"], first_id.as_str());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("weir-data/node-id"))
            .unwrap()
            .trim(),
        first_id
    );
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("weir.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn refused(config: &str, expect: &str) {
    refused_with(config, &[], expect);
}

fn refused_with(config: &str, flags: &[&str], expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), config);
    let out = std::process::Command::new(BIN)
        .arg("serve")
        .args(flags)
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .env("WEIR_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{config} started");
    assert!(err.contains(expect), "{config}: {err}");
}

#[test]
fn cluster_settings_that_cannot_work_are_refused_at_start() {
    refused(
        "[cluster]\nvip_mode = \"failover\"\nvip_interface = \"lo\"\n",
        "needs a PostgreSQL store",
    );
    refused("[cluster]\nvip_mode = \"active\"\n", "cluster.vip_mode");
    refused(
        "[cluster]\nvip_interface = \"eth0\"\n",
        "applies to cluster.vip_mode = \"failover\" or \"anycast\" only",
    );
    // Anycast (SQLite will do): an interface, one BIRD can read, and the
    // include file; the BIRD settings in no other mode.
    refused(
        "[cluster]\nvip_mode = \"anycast\"\nbird_include = \"/tmp/x.conf\"\n",
        "needs cluster.vip_interface",
    );
    refused(
        "[cluster]\nvip_mode = \"anycast\"\nvip_interface = \"lo\"\n",
        "needs cluster.bird_include",
    );
    refused(
        "[cluster]\nvip_mode = \"anycast\"\nvip_interface = \"vip*\"\nbird_include = \"/tmp/x.conf\"\n",
        "cannot be named in BIRD's configuration",
    );
    refused(
        "[cluster]\nvip_mode = \"anycast\"\nvip_interface = \"lo\"\nbird_include = \"\"\n",
        "cluster.bird_include",
    );
    refused(
        "[cluster]\nbird_socket = \"/run/bird/bird.ctl\"\n",
        "apply to cluster.vip_mode = \"anycast\" only",
    );
    refused(
        "[dataplane]\nenabled = false\n[cluster]\nvip_mode = \"anycast\"\nbird_include = \"/tmp/x.conf\"\n",
        "runs no data plane",
    );
    refused(
        "[cluster]\nnode_timeout_ms = 10\n",
        "cluster.node_timeout_ms",
    );
    refused(
        "[cluster]\nnode_timeout_ms = 0\n",
        "cluster.node_timeout_ms",
    );
    refused(
        "[cluster]\ndata_addresses = [\"not-an-ip\"]\n",
        "cluster.data_addresses",
    );
    refused("[cluster]\nnode_name = \"\"\n", "cluster.node_name");
    refused("[cluster]\nheartbeat_ms = 5\n", "heartbeat_ms");
    // With PostgreSQL: failover needs an interface, and one that is a name.
    let pg = "[store]\nurl = \"postgres://127.0.0.1:1/none\"\n";
    refused(
        &format!("{pg}[cluster]\nvip_mode = \"failover\"\n"),
        "needs cluster.vip_interface",
    );
    refused(
        &format!("{pg}[cluster]\nvip_mode = \"failover\"\nvip_interface = \"../etc\"\n"),
        "is not an interface name",
    );
    refused(
        &format!(
            "{pg}[dataplane]\nenabled = false\n[cluster]\nvip_mode = \"failover\"\nvip_interface = \"lo\"\n"
        ),
        "runs no data plane",
    );
}

#[test]
fn a_failover_takeover_needs_a_predecessor_before_anything_opens() {
    // `failover` nodes hand their VIPs over (bench/failover.py runs one
    // under load in namespaces); with no running node to take over from,
    // the successor stops before it dials the store (never dialled here)
    // or touches an interface.
    let pg = "[store]\nurl = \"postgres://127.0.0.1:1/none\"\n";
    refused_with(
        &format!("{pg}[cluster]\nvip_mode = \"failover\"\nvip_interface = \"lo\"\n"),
        &["--takeover"],
        "--takeover: no running weir serve answers",
    );
}

/// An `anycast` node on SQLite with a real BIRD on a private control
/// socket: it writes the include file (nothing announced: no load
/// balancer) and BIRD takes it; `/metrics` has the cluster's families;
/// systemd's readiness datagram arrives. No load balancer is made, so
/// no address is added to the host's `lo`.
#[test]
fn an_anycast_node_publishes_to_bird_and_says_ready() {
    let Some(bird) = ["/usr/sbin/bird", "/usr/local/sbin/bird", "/usr/bin/bird"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("anycast e2e skipped: no bird binary (apt-get install bird2)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let include = dir.path().join("weir-anycast.conf");
    let socket = dir.path().join("bird.ctl");
    std::fs::write(&include, "").unwrap();
    let bird_conf = dir.path().join("bird.conf");
    std::fs::write(
        &bird_conf,
        format!(
            "router id 198.18.0.1;\nprotocol device {{ }}\ninclude \"{}\";\n",
            include.display()
        ),
    )
    .unwrap();
    let mut daemon = std::process::Command::new(bird)
        .arg("-f")
        .arg("-c")
        .arg(&bird_conf)
        .arg("-s")
        .arg(&socket)
        .arg("-P")
        .arg(dir.path().join("bird.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let config = write(
        dir.path(),
        &format!(
            "[dataplane]\nworkers = 1\n[cluster]\nnode_timeout_ms = 600\nvip_mode = \"anycast\"\n\
             vip_interface = \"lo\"\nbird_socket = \"{}\"\nbird_include = \"{}\"\n",
            socket.display(),
            include.display()
        ),
    );
    let admin = "anycast-admin";
    let served = serve_with_env(
        dir.path(),
        Some(admin),
        Some(&config),
        ("NOTIFY_SOCKET", notify_path.as_os_str()),
    );
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("a readiness datagram");
    let said = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(said.contains("READY=1\n"), "{said}");
    assert!(
        said.contains(&format!("MAINPID={}\n", served.child.id())),
        "{said}"
    );
    let published = eventually(Duration::from_secs(20), || {
        std::fs::read_to_string(&include).is_ok_and(|t| {
            t.contains("protocol direct weir_anycast") && t.contains("interface \"lo\"")
        })
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(
        published,
        "{:?}",
        std::fs::read_to_string(&include).unwrap_or_default()
    );
    let text = ureq::get(&format!("{}/metrics", served.url))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(text.contains("weir_node_up{node=\"node-"), "{text}");
    assert!(text.contains("weir_anycast_withdrawals_total 0"), "{text}");
}

#[test]
fn two_nodes_on_postgres_see_each_other_and_a_killed_one_goes_down() {
    let Some(store_url) = crate::shared_store::postgres_schema_url() else {
        return;
    };
    let admin = "cluster-admin";
    let config = |dir: &Path, name: &str| {
        write(
            dir,
            &format!(
                "[store]\nurl = \"{store_url}\"\n\n[dataplane]\nworkers = 1\n\n\
                 [cluster]\nnode_name = \"{name}\"\nnode_timeout_ms = 600\ndata_addresses = [\"127.0.0.1\"]\n"
            ),
        )
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve_with(
        dir_a.path(),
        Some(admin),
        Some(&config(dir_a.path(), "alpha")),
    );
    let mut b = serve_with(
        dir_b.path(),
        Some(admin),
        Some(&config(dir_b.path(), "beta")),
    );
    let by_name = |list: &[Value], name: &str| list.iter().find(|n| n["name"] == name).cloned();
    let both_up = eventually(Duration::from_secs(10), || {
        let list = nodes(&a.url, admin);
        ["alpha", "beta"]
            .iter()
            .all(|n| by_name(&list, n).is_some_and(|n| n["state"] == "up"))
    });
    assert!(both_up, "{:?}", nodes(&a.url, admin));
    let seen_by_b = nodes(&b.url, admin);
    assert_eq!(seen_by_b.len(), 2, "{seen_by_b:?}");
    let alpha = by_name(&seen_by_b, "alpha").unwrap();
    assert_eq!(alpha["data_addresses"][0], "127.0.0.1");
    assert_eq!(
        alpha["api_address"].as_str().unwrap(),
        a.url.trim_start_matches("http://")
    );
    // The applied revision follows the registry: a write through b
    // reaches a's data plane, and a reports it.
    let (_, _) = tenant(&b.url, admin);
    let (_, health) = request("GET", &format!("{}/healthz", b.url), admin, None);
    let revision = health["revision"].as_u64().unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        by_name(&nodes(&b.url, admin), "alpha")
            .and_then(|n| n["applied_revision"].as_u64())
            .is_some_and(|r| r >= revision)
    }));

    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let mut states = Vec::new();
    let down = eventually(Duration::from_secs(15), || {
        let state = by_name(&nodes(&a.url, admin), "beta").unwrap()["state"].clone();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        state == "down"
    });
    assert!(down, "beta never turned down: {states:?}");
    // It went through suspect on the way, unless a poll missed it; never
    // back to up.
    assert!(
        states.iter().skip_while(|s| *s == "up").all(|s| s != "up"),
        "{states:?}"
    );
    let beta = by_name(&nodes(&a.url, admin), "beta").unwrap();
    assert!(beta["heartbeat_age_ms"].as_i64().unwrap() > 600, "{beta}");
}
