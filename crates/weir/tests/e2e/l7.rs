//! L7 policies end to end: `weir l7policy create` on an HTTP listener,
//! then a real request answered by the policy (a redirect needs no
//! backend), `list` showing it, and `delete` taking it away.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::*;

/// One `GET target` on a fresh connection: the response head.
fn head_of(front: SocketAddr, target: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&front, Duration::from_secs(2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: e2e\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[test]
fn an_l7_policy_from_the_cli_redirects_until_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 131, 9);
    let admin = "l7-admin";
    let server = serve_with(dir.path(), Some(admin), Some(&config));
    let url = &server.url;
    let (token, lb, vip, port) = tenant_lb_and_port(url, admin);
    let listener = weir_json(
        url,
        &token,
        &[
            "listener",
            "create",
            "--lb",
            lb["id"].as_str().unwrap(),
            "--protocol",
            "http",
            "--port",
            &port.to_string(),
        ],
    );
    let listener_id = listener["id"].as_str().unwrap();
    let policy = weir_json(
        url,
        &token,
        &[
            "l7policy",
            "create",
            "--listener",
            listener_id,
            "--action",
            "redirect-prefix",
            "--prefix",
            "https://new.example",
            "--code",
            "301",
            "--rule",
            "path:starts-with=/old",
            "--rule",
            "!header:equal-to:X-Stay=1",
        ],
    );
    assert_eq!(policy["position"], 1);
    assert_eq!(policy["rules"].as_array().unwrap().len(), 2);
    let front = SocketAddr::new(vip, port);
    // The create answered once the data plane applied it.
    let head = head_of(front, "/old/page?x=1");
    assert!(head.starts_with("HTTP/1.1 301"), "{head}");
    assert!(
        head.contains("\r\nLocation: https://new.example/old/page?x=1\r\n"),
        "{head}"
    );
    // No policy matches: the listener's own (empty) pool.
    assert!(head_of(front, "/new").starts_with("HTTP/1.1 503"));
    let (ok, out, err) = weir(
        url,
        &token,
        &["l7policy", "list", "--listener", listener_id],
    );
    assert!(ok, "{err}");
    assert!(out.contains("redirect-prefix"), "{out}");
    // A bad rule is refused by the CLI's exit status.
    let (ok, _, err) = weir(
        url,
        &token,
        &[
            "l7policy",
            "create",
            "--listener",
            listener_id,
            "--action",
            "reject",
            "--rule",
            "path:regex=(",
        ],
    );
    assert!(!ok, "an invalid regex: {err}");
    let (ok, _, err) = weir(
        url,
        &token,
        &["l7policy", "delete", policy["id"].as_str().unwrap()],
    );
    assert!(ok, "{err}");
    let start = Instant::now();
    while !head_of(front, "/old/page").starts_with("HTTP/1.1 503") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still redirected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
