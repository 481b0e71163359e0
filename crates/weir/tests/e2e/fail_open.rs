//! Fail-open through the whole binary (issue 16): a listener whose only
//! backend fails its health check refuses clients; `weir pool update
//! --fail-open on` makes the pool serve it anyway; off refuses again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;
use crate::traffic::{tagging_backend, until_tag};

/// Polls until `front` stops answering (bounded).
fn until_refused(front: SocketAddr) {
    let start = Instant::now();
    while tag_of(front).is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{front} still serves"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_pool_whose_backends_all_fail_serves_only_when_it_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 131, 13);
    let admin = "fail-open-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let (status, listener) = request(
        "POST",
        &format!(
            "{url}/v1/loadbalancers/{}/listeners",
            lb["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let listener_id = listener["id"].as_str().unwrap();
    let pool = listener["default_pool_id"].as_str().unwrap();
    let a = tagging_backend("a");
    let (status, body) = request(
        "POST",
        &format!("{url}/v1/listeners/{listener_id}/backends"),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": a.port()}]})),
    );
    assert_eq!(status, 201, "{body}");
    let front = SocketAddr::new(vip, port);
    until_tag(front, "a");

    // The check goes to a port nobody listens on: the backend is down
    // while its traffic port still answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, body) = request(
        "PATCH",
        &format!("{url}/v1/pools/{pool}"),
        &token,
        Some(
            json!({"health_check": {"type": "tcp", "interval_ms": 100, "timeout_ms": 500,
                                      "rise": 1, "fall": 1, "port": closed}}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fail_open"], false, "off by default");
    until_refused(front);

    let shown = weir_json(url, &token, &["pool", "update", pool, "--fail-open", "on"]);
    assert_eq!(shown["fail_open"], true);
    assert_eq!(shown["health_check"]["port"], closed, "the check stays");
    until_tag(front, "a");
    assert_eq!(
        weir_json(url, &token, &["pool", "show", pool])["fail_open"],
        true
    );

    weir_json(url, &token, &["pool", "update", pool, "--fail-open", "off"]);
    until_refused(front);
    // Another project's pool is not found, and not changed.
    let (other, _) = tenant(url, admin);
    let (ok, _, err) = weir(url, &other, &["pool", "update", pool, "--fail-open", "on"]);
    assert!(!ok && err.contains("404"), "{err}");
    assert_eq!(tag_of(front), None);
}
