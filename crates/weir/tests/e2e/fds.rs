//! Descriptors running out must never stop the API (issue 14, hole 7):
//! under a small open-file limit, connections through a listener pile up
//! until the data plane's reserve stops it accepting, and `/healthz`
//! still answers; once connections close, the waiting ones are served.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// A TCP backend that writes `held\n` and keeps each connection open
/// until the client's side ends.
fn holding_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let _ = stream.write_all(b"held\n");
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
            });
        }
    });
    addr
}

/// Reads the tag line within `limit`.
fn tag_within(stream: &TcpStream, limit: Duration) -> Option<String> {
    stream.set_read_timeout(Some(limit)).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    (!line.trim().is_empty()).then(|| line.trim().to_owned())
}

fn metric(url: &str, name: &str) -> Option<u64> {
    let text = ureq::get(&format!("{url}/metrics"))
        .set("Authorization", "Bearer fds-admin")
        .timeout(Duration::from_secs(5))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

fn healthz(url: &str) -> bool {
    ureq::get(&format!("{url}/healthz"))
        .timeout(Duration::from_secs(5))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

#[test]
fn the_api_answers_while_the_data_plane_is_out_of_descriptors() {
    const NOFILE: u64 = 256;
    let dir = tempfile::tempdir().unwrap();
    let octet = 20 + std::process::id() % 200;
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        format!(
            "[network]\nbackend_ranges = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\nexternal_backend_ranges = [\"127.0.0.0/8\"]\nvip_ranges = [\"127.{octet}.9.0/24\"]\n\n[dataplane]\negress_allow = [\"127.0.0.0/8\"]\nworkers = 1\n"
        ),
    )
    .unwrap();
    let admin = "fds-admin";
    let server = serve_with_nofile(dir.path(), admin, &config, NOFILE);
    let url = &server.url;
    let call = |method: &str, path: &str, token: &str, body: Option<serde_json::Value>| {
        request(method, &format!("{url}{path}"), token, body)
    };
    let (token, subnet_id) = tenant(url, admin);
    let (_, lb) = call(
        "POST",
        "/v1/loadbalancers",
        &token,
        Some(json!({"subnet_id": subnet_id})),
    );
    let vip: std::net::IpAddr = lb["vip"].as_str().unwrap().parse().unwrap();
    let port = TcpListener::bind((vip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, listener) = call(
        "POST",
        &format!("/v1/loadbalancers/{}/listeners", lb["id"].as_str().unwrap()),
        &token,
        Some(json!({"protocol": "tcp", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let backend = holding_backend();
    let (status, _) = call(
        "POST",
        &format!(
            "/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &token,
        Some(json!({"backends": [{"address": "127.0.0.1", "port": backend.port()}]})),
    );
    assert_eq!(status, 201);
    let front = SocketAddr::new(vip, port);
    assert_eq!(metric(url, "weir_process_max_fds"), Some(NOFILE));

    // The registration reaches the data plane within moments.
    let mut served = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while served.is_empty() && std::time::Instant::now() < deadline {
        let stream = TcpStream::connect_timeout(&front, Duration::from_secs(2)).unwrap();
        if tag_within(&stream, Duration::from_secs(2)).is_some() {
            served.push(stream);
        }
    }
    assert_eq!(served.len(), 1, "the backend never answered");
    // Open connections until one is not served: bounded by the limit itself.
    let mut waiting = None;
    for _ in 0..NOFILE {
        let stream = TcpStream::connect_timeout(&front, Duration::from_secs(2)).unwrap();
        match tag_within(&stream, Duration::from_millis(1500)) {
            Some(tag) => {
                assert_eq!(tag, "held");
                served.push(stream);
            }
            None => {
                waiting = Some(stream);
                break;
            }
        }
    }
    let waiting = waiting.expect("the data plane stopped accepting before the limit");
    let open = metric(url, "weir_process_open_fds").unwrap();
    eprintln!(
        "open-file limit {NOFILE}: {} connections served, then the reserve held; {open} fds open",
        served.len()
    );
    assert!(served.len() >= 10, "only {} served", served.len());
    assert!(
        healthz(url),
        "the API answers with the data plane saturated"
    );
    assert!(metric(url, "weir_dataplane_fd_refusals_total").unwrap() >= 1);
    assert!(open < NOFILE, "{open} fds open");
    // Connections that end free descriptors; the waiting one is served.
    served.truncate(served.len() / 2);
    assert_eq!(
        tag_within(&waiting, Duration::from_secs(10)).as_deref(),
        Some("held"),
        "served once descriptors are free again"
    );
    assert!(healthz(url));
}
