//! A load balancer's own VIP mode (issue 17) through the binary: the
//! operator's field of the native API and the CLI, refused unless the
//! deployment runs the mode (`cluster.vip_modes`), and on an anycast-able
//! node the VIP moving between regimes when the mode changes: announced
//! to a real BIRD in `anycast`, withdrawn (and still served, by every
//! node as in `none`) once the load balancer says `none`.

use std::net::SocketAddr;
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

fn patch_lb(url: &str, token: &str, id: &str, body: Value) -> (u16, Value) {
    request(
        "PATCH",
        &format!("{url}/v1/loadbalancers/{id}"),
        token,
        Some(body),
    )
}

#[test]
fn a_vip_mode_is_the_operators_and_one_the_deployment_runs() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "vip-mode-admin";
    // SQLite, no [cluster]: the deployment runs `none` alone.
    let served = serve(dir.path(), Some(admin));
    let url = &served.url;
    let (token, subnet) = tenant(url, admin);
    let create = |who: &str, body: Value| {
        request("POST", &format!("{url}/v1/loadbalancers"), who, Some(body))
    };
    // A mode the deployment cannot honour is refused, never stored.
    for (mode, says) in [
        ("failover", "PostgreSQL"),
        ("anycast", "BIRD"),
        ("active", "is not \"none\", \"failover\" or \"anycast\""),
        ("", "is not"),
    ] {
        let (status, body) = create(admin, json!({"subnet_id": subnet, "vip_mode": mode}));
        assert_eq!(status, 400, "{mode}: {body}");
        assert_eq!(body["error"]["field"], "vip_mode", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{mode}: {body}");
    }
    let (status, body) = create(admin, json!({"subnet_id": subnet, "vip_mode": 7}));
    assert_eq!(status, 400, "{body}");
    let (_, listed) = request("GET", &format!("{url}/v1/loadbalancers"), admin, None);
    assert_eq!(listed["loadbalancers"], json!([]), "nothing half-made");

    // A project's token may not choose it (the operator's network), not
    // even the mode the deployment runs; without it, it inherits.
    let (status, body) = create(&token, json!({"subnet_id": subnet, "vip_mode": "none"}));
    assert_eq!(status, 403, "{body}");
    let (status, lb) = create(&token, json!({"subnet_id": subnet}));
    assert_eq!(status, 201, "{lb}");
    assert_eq!(lb["vip_mode"], Value::Null, "inherits: {lb}");
    let id = lb["id"].as_str().unwrap();
    let (status, body) = patch_lb(url, &token, id, json!({"vip_mode": "none"}));
    assert_eq!(status, 403, "{body}");
    let (status, body) = patch_lb(url, &token, id, json!({"vip_mode": null}));
    assert_eq!(status, 403, "clearing it is the operator's too: {body}");
    // Another project never learns the load balancer is there.
    let (other, _) = tenant(url, admin);
    let (status, body) = patch_lb(url, &other, id, json!({"name": "mine"}));
    assert_eq!(status, 404, "{body}");

    // The operator sets it, PATCH without it leaves it, null clears it.
    let (status, body) = patch_lb(url, admin, id, json!({"vip_mode": "none"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vip_mode"], "none");
    let (status, body) = patch_lb(url, admin, id, json!({"vip_mode": "failover"}));
    assert_eq!(status, 400, "{body}");
    let (_, shown) = request("GET", &format!("{url}/v1/loadbalancers/{id}"), &token, None);
    assert_eq!(
        shown["vip_mode"], "none",
        "a refused change keeps it: {shown}"
    );
    let (status, body) = patch_lb(url, admin, id, json!({"name": "front"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vip_mode"], "none", "{body}");
    let (status, body) = patch_lb(url, admin, id, json!({"vip_mode": null}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["vip_mode"], Value::Null, "{body}");

    // The CLI says the same.
    let shown = weir_json(url, admin, &["lb", "update", id, "--vip-mode", "none"]);
    assert_eq!(shown["vip_mode"], "none");
    let shown = weir_json(url, admin, &["lb", "update", id, "--vip-mode", "inherit"]);
    assert_eq!(shown["vip_mode"], Value::Null);
    let (ok, _, err) = weir(url, admin, &["lb", "update", id, "--vip-mode", "anycast"]);
    assert!(!ok && err.contains("vip_mode"), "{err}");
    let subnet_id = subnet.as_str().unwrap();
    let made = weir_json(
        url,
        admin,
        &["lb", "create", "--subnet", subnet_id, "--vip-mode", "none"],
    );
    assert_eq!(made["vip_mode"], "none", "{made}");
}

/// BIRD on a private control socket, whose configuration includes the
/// file Weir writes; `None` without a bird binary.
fn bird(dir: &Path, include: &Path, socket: &Path) -> Option<std::process::Child> {
    let binary = ["/usr/sbin/bird", "/usr/local/sbin/bird", "/usr/bin/bird"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    std::fs::write(include, "").unwrap();
    let conf = dir.join("bird.conf");
    std::fs::write(
        &conf,
        format!(
            "router id 198.18.0.1;\nprotocol device {{ }}\ninclude \"{}\";\n",
            include.display()
        ),
    )
    .unwrap();
    Some(
        std::process::Command::new(binary)
            .arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(socket)
            .arg("-P")
            .arg(dir.join("bird.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Kills BIRD when the test ends, passed or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_mode_change_moves_the_vip_between_anycast_and_none() {
    let dir = tempfile::tempdir().unwrap();
    let include = dir.path().join("weir-anycast.conf");
    let socket = dir.path().join("bird.ctl");
    let Some(daemon) = bird(dir.path(), &include, &socket) else {
        eprintln!("vip_mode anycast e2e skipped: no bird binary (apt-get install bird2)");
        return;
    };
    let _daemon = Reaped(daemon);
    // VIPs on loopback (127.x.44.0/24): the anycast loop adds each to
    // `lo` as a /32, inside 127/8 which is there anyway.
    let config = loopback_config(dir.path(), 171, 44);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[cluster]\nnode_timeout_ms = 600\nvip_mode = \"none\"\nvip_modes = [\"anycast\"]\n\
         vip_interface = \"lo\"\nbird_socket = \"{}\"\nbird_include = \"{}\"\n",
        socket.display(),
        include.display()
    ));
    std::fs::write(&config, text).unwrap();
    let admin = "vip-mode-anycast-admin";
    let served = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &served.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let id = lb["id"].as_str().unwrap();
    let (status, listener) = request(
        "POST",
        &format!("{url}/v1/loadbalancers/{id}/listeners"),
        &token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let backend = tagging_backend("any");
    let (status, body) = request(
        "POST",
        &format!(
            "{url}/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    until_tag(front, "any");
    let names_vip =
        || std::fs::read_to_string(&include).is_ok_and(|t| t.contains(&format!("{vip}/32")));
    let served_metric = |value: u8| {
        let text = ureq::get(&format!("{url}/metrics"))
            .set("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        text.contains(&format!("weir_vip_served{{vip=\"{vip}\"}} {value}"))
    };
    // In `none` (the default here) nothing is announced: BIRD's file
    // stays without it while the VIP serves.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!names_vip(), "{:?}", std::fs::read_to_string(&include));

    let (status, body) = patch_lb(url, admin, id, json!({"vip_mode": "anycast"}));
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(Duration::from_secs(15), names_vip),
        "never announced: {:?}",
        std::fs::read_to_string(&include)
    );
    assert!(eventually(Duration::from_secs(5), || served_metric(1)));
    until_tag(front, "any");

    // Back to `none`: withdrawn from BIRD, still served here.
    let (status, body) = patch_lb(url, admin, id, json!({"vip_mode": "none"}));
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(Duration::from_secs(15), || !names_vip()),
        "never withdrawn: {:?}",
        std::fs::read_to_string(&include)
    );
    until_tag(front, "any");
    assert!(eventually(Duration::from_secs(5), || served_metric(1)));
}

/// `weir serve` with `config` must refuse to start, saying `expect`.
fn refused(config: &str, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.toml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("serve")
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
fn further_vip_modes_need_what_their_mode_needs() {
    refused(
        "[cluster]\nvip_modes = [\"failover\"]\n",
        "cluster.vip_modes naming \"failover\" needs a PostgreSQL store",
    );
    refused("[cluster]\nvip_modes = [\"active\"]\n", "cluster.vip_modes");
    refused(
        "[cluster]\nvip_modes = [\"anycast\"]\n",
        "cluster.vip_modes naming \"anycast\" needs cluster.vip_interface",
    );
    refused(
        "[cluster]\nvip_modes = [\"anycast\"]\nvip_interface = \"lo\"\n",
        "cluster.vip_modes naming \"anycast\" needs cluster.bird_include",
    );
    let pg = "[store]\nurl = \"postgres://127.0.0.1:1/none\"\n";
    refused(
        &format!("{pg}[cluster]\nvip_modes = [\"failover\"]\n"),
        "cluster.vip_modes naming \"failover\" needs cluster.vip_interface",
    );
}

/// A listener with one tagging backend on load balancer `lb` at `vip`:
/// the front address.
fn listener_with_backend(url: &str, token: &str, lb: &Value, tag: &'static str) -> SocketAddr {
    let vip: std::net::IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = std::net::TcpListener::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, listener) = request(
        "POST",
        &format!(
            "{url}/v1/loadbalancers/{}/listeners",
            lb["id"].as_str().unwrap()
        ),
        token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let backend = tagging_backend(tag);
    let (status, body) = request(
        "POST",
        &format!(
            "{url}/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    SocketAddr::new(vip, port)
}

/// On PostgreSQL, a deployment of `none` that may lease: only the load
/// balancer in `failover` gets a lease, both are served (the gate passes
/// the unleased one), and a mode change releases or takes the lease.
/// The held VIP goes on `lo` as a /32 inside 127/8, which is there
/// anyway; it runs out by its kernel lifetime once the node is gone.
#[test]
fn only_failover_load_balancers_are_leased_and_a_mode_change_moves_the_lease() {
    let Some(store_url) = crate::shared_store::postgres_schema_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 181, 45);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[store]\nurl = \"{store_url}\"\n\n[cluster]\nnode_timeout_ms = 600\n\
         vip_mode = \"none\"\nvip_modes = [\"failover\"]\nvip_interface = \"lo\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    let admin = "vip-mode-lease-admin";
    let served = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &served.url;
    let (token, subnet) = tenant(url, admin);
    let create = |body: Value| {
        let (status, lb) = request(
            "POST",
            &format!("{url}/v1/loadbalancers"),
            admin,
            Some(body),
        );
        assert_eq!(status, 201, "{lb}");
        lb
    };
    let plain = create(json!({"subnet_id": subnet}));
    let leased = create(json!({"subnet_id": subnet, "vip_mode": "failover"}));
    assert_eq!(leased["vip_mode"], "failover");
    let plain_front = listener_with_backend(url, &token, &plain, "plain");
    let leased_front = listener_with_backend(url, &token, &leased, "leased");
    let lease_of = |vip: std::net::IpAddr| {
        let text = ureq::get(&format!("{url}/metrics"))
            .set("Authorization", &format!("Bearer {admin}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        text.contains(&format!("weir_vip_lease_epoch{{vip=\"{vip}\""))
    };
    assert!(
        eventually(Duration::from_secs(15), || lease_of(leased_front.ip())),
        "the failover load balancer's VIP was never leased"
    );
    until_tag(leased_front, "leased");
    until_tag(plain_front, "plain");
    assert!(!lease_of(plain_front.ip()), "a none VIP is never leased");
    let (_, nodes) = request("GET", &format!("{url}/v1/nodes"), admin, None);
    let vips = nodes["nodes"][0]["vips"].clone();
    for front in [plain_front, leased_front] {
        assert!(
            vips.as_array()
                .unwrap()
                .contains(&json!(front.ip().to_string())),
            "{nodes}"
        );
    }

    // Swap the two: the lease goes with the mode, both stay served.
    let (status, body) = patch_lb(
        url,
        admin,
        leased["id"].as_str().unwrap(),
        json!({"vip_mode": "none"}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch_lb(
        url,
        admin,
        plain["id"].as_str().unwrap(),
        json!({"vip_mode": "failover"}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(Duration::from_secs(15), || !lease_of(leased_front.ip())
            && lease_of(plain_front.ip())),
        "the lease did not follow the mode"
    );
    until_tag(leased_front, "leased");
    until_tag(plain_front, "plain");
}
