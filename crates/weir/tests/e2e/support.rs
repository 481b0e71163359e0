//! Helpers: the real `weir` binary as a child process, and JSON calls.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_weir");

/// A `weir serve` child process; killed when dropped.
pub struct Served {
    pub child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `weir serve` in `cwd` on a free loopback port, with no config
/// file and no data-dir flag: the embedded defaults. The data plane may
/// dial loopback only (`WEIR_EGRESS_ALLOW`), as every test here must.
pub fn serve(cwd: &Path, admin_token: Option<&str>) -> Served {
    serve_with(cwd, admin_token, None)
}

/// Like [`serve`], with a settings file.
pub fn serve_with(cwd: &Path, admin_token: Option<&str>, config: Option<&Path>) -> Served {
    spawn(Command::new(BIN), cwd, admin_token, config)
}

/// Like [`serve_with`], with one more environment variable.
pub fn serve_with_env(
    cwd: &Path,
    admin_token: Option<&str>,
    config: Option<&Path>,
    (key, value): (&str, &std::ffi::OsStr),
) -> Served {
    let mut cmd = Command::new(BIN);
    cmd.env(key, value);
    spawn(cmd, cwd, admin_token, config)
}

/// `weir serve --takeover` in `cwd`: the successor of the server running
/// there, with the same settings.
pub fn serve_takeover(cwd: &Path, admin_token: Option<&str>, config: Option<&Path>) -> Served {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").arg("--takeover");
    spawn_args(cmd, cwd, admin_token, config)
}

/// Like [`serve_with`], under an open-file limit of `nofile` (soft and
/// hard, through util-linux's `prlimit`).
pub fn serve_with_nofile(cwd: &Path, admin: &str, config: &Path, nofile: u64) -> Served {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={nofile}:{nofile}"))
        .arg("--")
        .arg(BIN);
    spawn(cmd, cwd, Some(admin), Some(config))
}

fn spawn(mut cmd: Command, cwd: &Path, admin_token: Option<&str>, config: Option<&Path>) -> Served {
    cmd.arg("serve");
    spawn_args(cmd, cwd, admin_token, config)
}

fn spawn_args(
    mut cmd: Command,
    cwd: &Path,
    admin_token: Option<&str>,
    config: Option<&Path>,
) -> Served {
    // A key the caller set (`serve_with_env`) stays; the runner's never
    // leaks in.
    if cmd.get_envs().all(|(k, _)| k != "WEIR_SECRETS_KEY") {
        cmd.env_remove("WEIR_SECRETS_KEY");
    }
    cmd.current_dir(cwd)
        .env("WEIR_LISTEN", "127.0.0.1:0")
        .env("WEIR_EGRESS_ALLOW", "127.0.0.0/8")
        .env_remove("WEIR_DATA_DIR")
        .env_remove("WEIR_CONFIG")
        .env("WEIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    match admin_token {
        Some(t) => cmd.env("WEIR_ADMIN_TOKEN", t),
        None => cmd.env_remove("WEIR_ADMIN_TOKEN"),
    };
    if let Some(path) = config {
        cmd.arg("--config").arg(path);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("weir listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server announced its address");
    Served { child, url }
}

pub fn request(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let req = ureq::request(method, url).set("Authorization", &format!("Bearer {token}"));
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A project with a VPC (10.0.0.0/16) and a subnet (10.0.1.0/24), made
/// through the native API at `url`: (project token, subnet id).
pub fn tenant(url: &str, admin: &str) -> (String, Value) {
    let (status, project) = request(
        "POST",
        &format!("{url}/v1/projects"),
        admin,
        Some(serde_json::json!({"name": "e2e"})),
    );
    assert_eq!(status, 201, "{project}");
    let (_, vpc) = request(
        "POST",
        &format!("{url}/v1/vpcs"),
        admin,
        Some(serde_json::json!({"project_id": project["id"], "cidr": "10.0.0.0/16"})),
    );
    let (status, subnet) = request(
        "POST",
        &format!("{url}/v1/subnets"),
        admin,
        Some(serde_json::json!({"vpc_id": vpc["id"], "cidr": "10.0.1.0/24"})),
    );
    assert_eq!(status, 201, "{subnet}");
    (
        project["token"].as_str().unwrap().to_owned(),
        subnet["id"].clone(),
    )
}

/// The first line a TCP listener at `addr` sends a new connection (the
/// tagging backends write their tag), or `None` if it sends nothing.
pub fn tag_of(addr: std::net::SocketAddr) -> Option<String> {
    let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let tag = line.trim().to_owned();
    (!tag.is_empty()).then_some(tag)
}

pub fn weir(url: &str, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("WEIR_URL", url)
        .env("WEIR_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn weir_json(url: &str, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, out, err) = weir(url, token, &all);
    assert!(ok, "weir {args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

/// Builds project, VPC, subnet, LB and TCP:80 listener with the CLI;
/// returns (project token, listener id).
pub fn cli_setup(url: &str, admin: &str) -> (String, String) {
    let project = weir_json(url, admin, &["project", "create", "demo"]);
    let project_id = project["id"].as_str().unwrap();
    let token = project["token"].as_str().unwrap().to_owned();
    let vpc = weir_json(
        url,
        admin,
        &[
            "vpc",
            "create",
            "--project",
            project_id,
            "--cidr",
            "10.0.0.0/16",
        ],
    );
    let subnet = weir_json(
        url,
        admin,
        &[
            "subnet",
            "create",
            "--vpc",
            vpc["id"].as_str().unwrap(),
            "--cidr",
            "10.0.1.0/24",
        ],
    );
    let subnet_id = subnet["id"].as_str().unwrap();
    let lb = weir_json(
        url,
        &token,
        &["lb", "create", "--subnet", subnet_id, "--name", "web"],
    );
    let listener = weir_json(
        url,
        &token,
        &[
            "listener",
            "create",
            "--lb",
            lb["id"].as_str().unwrap(),
            "--protocol",
            "tcp",
            "--port",
            "80",
        ],
    );
    (token, listener["id"].as_str().unwrap().to_owned())
}

/// A settings file for a server whose VIPs are loopback addresses of its
/// own, `127.<a>.<net>.0/24` (`a` from the process id and `seed`, so
/// tests running side by side, in one process or several, draw apart
/// when their seeds differ), with members on loopback and one data-plane
/// worker.
pub fn loopback_config(dir: &Path, seed: u32, net: u8) -> std::path::PathBuf {
    let octet = 20 + (std::process::id() + seed) % 200;
    let config = dir.join("weir.toml");
    std::fs::write(
        &config,
        format!(
            "[network]\nbackend_ranges = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\nexternal_backend_ranges = [\"127.0.0.0/8\"]\nvip_ranges = [\"127.{octet}.{net}.0/24\"]\n\n[dataplane]\negress_allow = [\"127.0.0.0/8\"]\nworkers = 1\n"
        ),
    )
    .unwrap();
    config
}

/// A new tenant with a load balancer on `url`: its token, the load
/// balancer, its VIP and a port free on that VIP right now.
pub fn tenant_lb_and_port(url: &str, admin: &str) -> (String, Value, std::net::IpAddr, u16) {
    let (token, subnet_id) = tenant(url, admin);
    let (status, lb) = request(
        "POST",
        &format!("{url}/v1/loadbalancers"),
        &token,
        Some(serde_json::json!({"subnet_id": subnet_id})),
    );
    assert_eq!(status, 201, "{lb}");
    let vip: std::net::IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = std::net::TcpListener::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (token, lb, vip, port)
}
