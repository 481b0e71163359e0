//! A registration is real only when traffic flows: the whole binary, API
//! to data plane, with loopback backends that tag their replies.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// A TCP backend on 127.0.0.1 that writes `tag\n` to every connection.
pub(crate) fn tagging_backend(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let _ = stream.write_all(format!("{tag}\n").as_bytes());
        }
    });
    addr
}

/// Polls until `addr` answers with `want` (or, with `None`, never with
/// `avoid`); returns how long it took.
pub(crate) fn until_tag(addr: SocketAddr, want: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if tag_of(addr).as_deref() == Some(want) {
            return start.elapsed();
        }
    }
    panic!("{addr} never answered {want}");
}

/// The revision the data plane has applied, from /metrics.
fn applied_revision(url: &str, admin: &str) -> u64 {
    let metrics = ureq::get(&format!("{url}/metrics"))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("weir_dataplane_applied_revision "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn registered_backends_carry_traffic_within_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    // A VIP range of this test's own, so parallel tests never collide.
    let octet = 20 + std::process::id() % 200;
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        format!(
            "[network]\nbackend_ranges = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\nexternal_backend_ranges = [\"127.0.0.0/8\"]\nvip_ranges = [\"127.{octet}.7.0/24\"]\n\n[dataplane]\negress_allow = [\"127.0.0.0/8\"]\nworkers = 1\n"
        ),
    )
    .unwrap();
    let admin = "traffic-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        request(method, &format!("{url}{path}"), token, body)
    };

    let (token, subnet_id) = tenant(url, admin);
    let (status, lb) = call(
        "POST",
        "/v1/loadbalancers",
        &token,
        Some(json!({"subnet_id": subnet_id})),
    );
    assert_eq!(status, 201);
    let vip: std::net::IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = {
        let probe = TcpListener::bind((vip, 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let lb_id = lb["id"].as_str().unwrap();
    let (status, listener) = call(
        "POST",
        &format!("/v1/loadbalancers/{lb_id}/listeners"),
        &token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    // The answer waits for the data plane: the listener is already bound.
    assert_eq!(
        listener["operating_status"]["state"], "active",
        "{listener}"
    );
    let listener_id = listener["id"].as_str().unwrap();
    let front = SocketAddr::new(vip, port);
    let (_, shown) = call("GET", &format!("/v1/loadbalancers/{lb_id}"), &token, None);
    assert_eq!(shown["status"], "RUNNING", "every listener bound: {shown}");

    let a = tagging_backend("a");
    let b = tagging_backend("b");
    let register = |addr: SocketAddr| {
        let (status, body) = call(
            "POST",
            &format!("/v1/listeners/{listener_id}/backends"),
            &token,
            Some(json!({"backends": [{"address": addr.ip().to_string(), "port": addr.port()}]})),
        );
        assert_eq!(status, 201, "{body}");
        body["backends"][0]["id"].as_str().unwrap().to_owned()
    };
    let a_id = register(a);
    let first = until_tag(front, "a");
    assert!(
        first < Duration::from_secs(2),
        "registration to traffic took {first:?}"
    );
    register(b);
    until_tag(front, "b");

    let (_, shown) = call("GET", &format!("/v1/listeners/{listener_id}"), &token, None);
    assert_eq!(shown["operating_status"]["state"], "active");
    let (_, shown) = call("GET", &format!("/v1/loadbalancers/{lb_id}"), &token, None);
    assert_eq!(shown["operating_status"]["state"], "active");
    assert_eq!(shown["status"], "RUNNING");

    // A second listener on a port someone else holds: its bind fails, and
    // the listener and its load balancer say why.
    let squatter = TcpListener::bind((vip, 0)).unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let (status, clash) = call(
        "POST",
        &format!("/v1/loadbalancers/{lb_id}/listeners"),
        &token,
        Some(json!({"protocol": "tcp", "port": taken})),
    );
    assert_eq!(status, 201, "{clash}");
    // Answered once the data plane has tried: the reason is in the answer.
    assert_eq!(clash["operating_status"]["state"], "error", "{clash}");
    assert!(
        clash["operating_status"]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot bind"),
        "{clash}"
    );
    let clash_id = clash["id"].as_str().unwrap();
    let (_, shown) = call("GET", &format!("/v1/listeners/{clash_id}"), &token, None);
    assert_eq!(shown["operating_status"], clash["operating_status"]);
    let (_, shown) = call("GET", &format!("/v1/loadbalancers/{lb_id}"), &token, None);
    assert_eq!(shown["operating_status"]["state"], "error", "{shown}");
    assert_eq!(
        shown["status"], "ERROR",
        "a listener could not be bound: {shown}"
    );
    let (_, listed) = call("GET", "/v1/loadbalancers", &token, None);
    assert_eq!(listed["loadbalancers"][0]["status"], "ERROR", "{listed}");
    // Stopping it is still possible, and a stopped load balancer binds
    // nothing; started again once the port is free, it binds everything.
    drop(squatter);
    let (status, stopped) = call(
        "POST",
        &format!("/v1/loadbalancers/{lb_id}/stop"),
        &token,
        None,
    );
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "STOPPED", "{stopped}");
    assert!(
        tag_of(front).is_none(),
        "a stopped load balancer's port is closed"
    );
    let (status, started) = call(
        "POST",
        &format!("/v1/loadbalancers/{lb_id}/start"),
        &token,
        None,
    );
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["status"], "RUNNING", "{started}");
    assert_eq!(started["operating_status"]["state"], "active", "{started}");
    until_tag(front, "a");
    let (_, listed) = call(
        "GET",
        &format!("/v1/listeners/{listener_id}/backends"),
        &token,
        None,
    );
    for backend in listed["backends"].as_array().unwrap() {
        assert_eq!(backend["status"]["state"], "healthy", "{backend}");
    }

    let (status, _) = call("DELETE", &format!("/v1/backends/{a_id}"), &token, None);
    assert_eq!(status, 204);
    // Once the data plane has applied the store's revision, a never
    // answers again.
    let (_, health) = call("GET", "/healthz", &token, None);
    let revision = health["revision"].as_u64().unwrap();
    let start = Instant::now();
    while applied_revision(url, admin) < revision {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the data plane never applied {revision}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..20 {
        assert_eq!(tag_of(front).as_deref(), Some("b"));
    }
    let metrics = ureq::get(&format!("{url}/metrics"))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains("weir_backend_connections_total{backend="),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("weir_listener_up{{listener=\"{listener_id}\"}} 1")));
}

/// The allow list end to end: a client outside it reaches no backend, and
/// `weir listener update --allow` lets it in on its next connection.
#[test]
fn an_allow_list_change_from_the_cli_applies_to_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 97, 9);
    let admin = "acl-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    // Only 127.0.0.2 may connect: this test's client is 127.0.0.1.
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
            &port.to_string(),
            "--allow",
            "127.0.0.2/32",
        ],
    );
    assert_eq!(listener["allowed_cidrs"], json!(["127.0.0.2/32"]));
    let listener_id = listener["id"].as_str().unwrap();
    let a = tagging_backend("a");
    let (status, body) = request(
        "POST",
        &format!("{url}/v1/listeners/{listener_id}/backends"),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": a.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    // The backend is registered and applied, and still never reached.
    let (_, health) = request("GET", &format!("{url}/healthz"), &token, None);
    let revision = health["revision"].as_u64().unwrap();
    let start = Instant::now();
    while applied_revision(url, admin) < revision && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(tag_of(front), None, "a client outside the allow list");
    let updated = weir_json(
        url,
        &token,
        &["listener", "update", listener_id, "--allow", "127.0.0.0/8"],
    );
    assert_eq!(updated["allowed_cidrs"], json!(["127.0.0.0/8"]));
    until_tag(front, "a");
    // A bad network is refused whole, by the CLI's exit status.
    let (ok, _, err) = weir(
        url,
        &token,
        &[
            "listener",
            "update",
            listener_id,
            "--allow",
            "2001:db8::/32",
        ],
    );
    assert!(!ok, "an IPv6 network on an IPv4 VIP: {err}");
    assert_eq!(tag_of(front).as_deref(), Some("a"));
    weir_json(
        url,
        &token,
        &["listener", "update", listener_id, "--allow", "127.0.0.2"],
    );
    let start = Instant::now();
    while tag_of(front).is_some() {
        assert!(start.elapsed() < Duration::from_secs(10), "still admitted");
    }
}

/// An HTTP backend on 127.0.0.1 that answers each request with the
/// `X-Forwarded-Proto` it was given, then closes.
fn proto_echo_backend() -> SocketAddr {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let proto = text
                .lines()
                .find_map(|l| l.strip_prefix("x-forwarded-proto:"))
                .unwrap_or("")
                .trim()
                .to_owned();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{proto}",
                proto.len()
            );
        }
    });
    addr
}

/// One GET over TLS to `front` naming `sni`, verified against `ca`:
/// the leaf the listener showed and the response.
fn https_get(front: SocketAddr, ca: &rcgen::Certificate, sni: &str) -> (Vec<u8>, String) {
    use std::io::Read;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect_timeout(&front, Duration::from_secs(2)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let leaf = tls.conn.peer_certificates().unwrap()[0].to_vec();
    (leaf, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn an_https_listener_made_with_the_cli_terminates_tls_and_picks_by_sni() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 151, 11);
    let admin = "tls-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, subnet_id) = tenant(url, admin);

    // A CA and two sites it signs, uploaded with the CLI.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let files = tempfile::tempdir().unwrap();
    let upload = |name: &str| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let (c, k) = (
            files.path().join(format!("{name}.crt")),
            files.path().join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        let made = weir_json(
            url,
            &token,
            &[
                "cert",
                "create",
                "--cert",
                c.to_str().unwrap(),
                "--key",
                k.to_str().unwrap(),
                "--name",
                name,
            ],
        );
        (made["id"].as_str().unwrap().to_owned(), cert.der().to_vec())
    };
    let (shop, shop_der) = upload("shop.example.test");
    let (api, api_der) = upload("api.example.test");

    let (status, lb) = request(
        "POST",
        &format!("{url}/v1/loadbalancers"),
        &token,
        Some(json!({"subnet_id": subnet_id})),
    );
    assert_eq!(status, 201, "{lb}");
    let vip: std::net::IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = {
        let probe = TcpListener::bind((vip, 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let listener = weir_json(
        url,
        &token,
        &[
            "listener",
            "create",
            "--lb",
            lb["id"].as_str().unwrap(),
            "--protocol",
            "https",
            "--port",
            &port.to_string(),
            "--cert",
            &shop,
            "--cert",
            &api,
        ],
    );
    assert_eq!(listener["certificate_ids"], json!([shop, api]));
    let listener_id = listener["id"].as_str().unwrap().to_owned();
    let backend = proto_echo_backend();
    let (status, body) = request(
        "POST",
        &format!("{url}/v1/listeners/{listener_id}/backends"),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let (_, health) = request("GET", &format!("{url}/healthz"), &token, None);
    let revision = health["revision"].as_u64().unwrap();
    let start = Instant::now();
    while applied_revision(url, admin) < revision && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }

    let front = SocketAddr::new(vip, port);
    let (leaf, answer) = https_get(front, &ca, "api.example.test");
    assert_eq!(leaf, api_der);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhttps"), "{answer}");
    let (leaf, _) = https_get(front, &ca, "shop.example.test");
    assert_eq!(leaf, shop_der);

    // In use: the CLI's delete is refused, naming the listener.
    let (ok, _, err) = weir(url, &token, &["cert", "delete", &shop]);
    assert!(
        !ok && err.contains("Conflict") && err.contains(&listener_id),
        "{err}"
    );
    // Rotation from the CLI, then the certificate can go.
    let updated = weir_json(
        url,
        &token,
        &["listener", "update", &listener_id, "--cert", &api],
    );
    assert_eq!(updated["certificate_ids"], json!([api]));
    let (leaf, answer) = https_get(front, &ca, "api.example.test");
    assert_eq!(leaf, api_der);
    assert!(answer.ends_with("https"), "{answer}");
    let (ok, _, err) = weir(url, &token, &["cert", "delete", &shop]);
    assert!(ok, "{err}");
}
