//! `prometheus` listeners end to end: a scrape over a real socket of the
//! VIP answers the exposition of that load balancer's own listeners and
//! backends, never another tenant's or the process's; the allow list
//! refuses clients outside it; nothing can be registered behind it.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// One request on a fresh connection: the whole answer, or `None` if the
/// connection was refused, reset or closed without one.
fn fetch(front: SocketAddr, head: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&front, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    (!text.is_empty()).then_some(text)
}

fn scrape(front: SocketAddr) -> Option<String> {
    fetch(
        front,
        "GET /metrics HTTP/1.1\r\nHost: scrape\r\nConnection: close\r\n\r\n",
    )
}

/// A free port on `vip`.
fn free_port(vip: IpAddr) -> u16 {
    TcpListener::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Tenant {
    token: String,
    lb: Value,
    vip: IpAddr,
}

fn tenant_with_lb(url: &str, admin: &str) -> Tenant {
    let (token, subnet) = tenant(url, admin);
    let (status, lb) = request(
        "POST",
        &format!("{url}/v1/loadbalancers"),
        &token,
        Some(json!({"subnet_id": subnet})),
    );
    assert_eq!(status, 201, "{lb}");
    let vip = lb["vip"].as_str().unwrap().parse().unwrap();
    Tenant { token, lb, vip }
}

fn listener(url: &str, t: &Tenant, body: Value) -> Value {
    let lb_id = t.lb["id"].as_str().unwrap();
    let (status, made) = request(
        "POST",
        &format!("{url}/v1/loadbalancers/{lb_id}/listeners"),
        &t.token,
        Some(body),
    );
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["operating_status"]["state"], "active", "{made}");
    made
}

fn backend(url: &str, t: &Tenant, listener_id: &str, port: u16) -> (u16, Value) {
    request(
        "POST",
        &format!("{url}/v1/listeners/{listener_id}/backends"),
        &t.token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": port}]})),
    )
}

#[test]
fn a_prometheus_listener_serves_only_its_load_balancers_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 157, 11);
    let admin = "prom-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let mine = tenant_with_lb(url, admin);
    let theirs = tenant_with_lb(url, admin);

    // Each tenant: a TCP listener with a backend (a port nothing serves:
    // only its series matter here).
    let idle = TcpListener::bind("127.0.0.1:0").unwrap();
    let idle_port = idle.local_addr().unwrap().port();
    let mut tcp_ids = Vec::new();
    let mut backend_ids = Vec::new();
    for t in [&mine, &theirs] {
        let tcp = listener(url, t, json!({"protocol": "tcp", "port": free_port(t.vip)}));
        let id = tcp["id"].as_str().unwrap().to_owned();
        let (status, made) = backend(url, t, &id, idle_port);
        assert_eq!(status, 201, "{made}");
        backend_ids.push(made["backends"][0]["id"].as_str().unwrap().to_owned());
        tcp_ids.push(id);
    }

    let port = free_port(mine.vip);
    let prom = listener(
        url,
        &mine,
        json!({"protocol": "prometheus", "port": port, "allowed_cidrs": ["127.0.0.1/32"],
               "max_connections": 5}),
    );
    assert_eq!(prom["protocol"], "prometheus", "{prom}");
    let prom_id = prom["id"].as_str().unwrap();
    let front = SocketAddr::new(mine.vip, port);

    let text = scrape(front).expect("the scrape is answered");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    // Its own listeners (the scrape counts itself) and backend…
    for id in [tcp_ids[0].as_str(), prom_id] {
        assert!(
            body.contains(&format!("weir_listener_up{{listener=\"{id}\"}} 1")),
            "{id} missing:\n{body}"
        );
    }
    assert!(
        body.contains(&format!(
            "weir_backend_connections_total{{backend=\"{}\"}} 0",
            backend_ids[0]
        )),
        "{body}"
    );
    // The latency histograms are its own too (nothing was dialled yet).
    assert!(
        body.contains(&format!(
            "weir_listener_request_duration_seconds_bucket{{listener=\"{}\",le=\"+Inf\"}} 0",
            tcp_ids[0]
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "weir_backend_connect_duration_seconds_count{{backend=\"{}\"}} 0",
            backend_ids[0]
        )),
        "{body}"
    );
    // …and nothing of the other tenant's, nor of the process.
    for foreign in [&tcp_ids[1], &backend_ids[1]] {
        assert!(
            !body.contains(foreign.as_str()),
            "{foreign} leaked:\n{body}"
        );
    }
    for process_wide in ["weir_process_", "weir_dataplane_"] {
        assert!(!body.contains(process_wide), "{process_wide} leaked");
    }
    // Every sample line belongs to a family this listener may show.
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            line.starts_with("weir_listener_") || line.starts_with("weir_backend_"),
            "{line}"
        );
    }

    // Another path is 404, another method 405; HEAD is the head alone.
    let other = fetch(front, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(other.starts_with("HTTP/1.1 404 "), "{other}");
    let post = fetch(
        front,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    let head_only = fetch(front, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(head_only.ends_with("\r\n\r\n"), "{head_only}");

    // Nothing is registered behind it.
    let (status, refused) = backend(url, &mine, prom_id, idle_port);
    assert_eq!(status, 400, "{refused}");

    // The allow list is enforced: a network without this client refuses it.
    let (status, updated) = request(
        "PATCH",
        &format!("{url}/v1/listeners/{prom_id}"),
        &mine.token,
        Some(json!({"allowed_cidrs": ["127.0.0.2/32"]})),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        scrape(front),
        None,
        "a client outside allowed_cidrs was answered"
    );

    // The other tenant cannot read or change it.
    let (status, _) = request(
        "GET",
        &format!("{url}/v1/listeners/{prom_id}"),
        &theirs.token,
        None,
    );
    assert_eq!(status, 404);
}
