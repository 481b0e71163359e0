//! The web console at `/ui` over real sockets: every file it loads is
//! served with its content type and the security headers, nothing else
//! under `/ui` is (unknown names, traversal, encoded or not, 404), the
//! files hold no inline script or markup sinks, and the per-backend
//! counters its charts read move with traffic through a listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// One raw HTTP/1.1 request, path sent exactly as given (an HTTP client
/// library would normalise `..` away before it left the test):
/// (status, lower-cased headers, body).
fn raw(base: &str, method: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let code: u16 = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut body = String::new();
    reader.read_to_string(&mut body).unwrap();
    (code, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The headers every `/ui` answer must carry.
fn assert_secure(path: &str, headers: &[(String, String)]) {
    let csp =
        header(headers, "content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{path}: CSP {csp} lacks {directive}"
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains('*'),
        "{path}: CSP {csp} is loose"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(header(headers, "x-frame-options"), Some("DENY"), "{path}");
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{path}"
    );
    assert!(
        header(headers, "cache-control").is_some_and(|c| c.contains("no-cache")),
        "{path}: {headers:?}"
    );
    assert!(
        header(headers, "set-cookie").is_none(),
        "{path} sets a cookie"
    );
}

/// Every `/ui/...` name an HTML `src`/`href` or a module `import` names.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['"'] {
        for part in text.split(quote).skip(1).step_by(2) {
            if let Some(name) = part.strip_prefix("/ui/") {
                out.push(name.to_owned());
            } else if let Some(name) = part.strip_prefix("./") {
                if name.ends_with(".js") {
                    out.push(name.to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn console_files_are_served_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), Some("ui-admin"));
    let url = &server.url;

    for path in ["/ui", "/ui/", "/ui/index.html"] {
        let (status, headers, body) = raw(url, "GET", path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_secure(path, &headers);
        assert!(body.contains("<script type=\"module\" src=\"/ui/app.js\">"));
    }

    // Walk what the page loads, module imports included: each is served,
    // with its type, and none holds inline script or an HTML sink.
    let (_, _, index) = raw(url, "GET", "/ui/");
    assert!(!index.contains(" style="), "inline style in index.html");
    assert!(!index.contains("<style"), "style element in index.html");
    let lower = index.to_ascii_lowercase();
    for sink in [" onload=", " onclick=", " onerror=", "javascript:"] {
        assert!(!lower.contains(sink), "index.html has {sink}");
    }
    let mut queue = references(&index);
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let path = format!("/ui/{name}");
        let (status, headers, body) = raw(url, "GET", &path);
        assert_eq!(status, 200, "{path} is referenced but not served");
        assert_secure(&path, &headers);
        let expected = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?}"),
        };
        assert_eq!(header(&headers, "content-type"), Some(expected), "{path}");
        if name.ends_with(".js") {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "localStorage",
            ] {
                assert!(!body.contains(sink), "{path} uses {sink}");
            }
            queue.extend(references(&body));
        }
    }
    for needed in [
        "app.js",
        "api.js",
        "dom.js",
        "watch.js",
        "chart.js",
        "console.css",
    ] {
        assert!(seen.contains(needed), "{needed} not reached from the page");
    }

    // HEAD answers like GET, without a body.
    let (status, headers, body) = raw(url, "HEAD", "/ui/app.js");
    assert_eq!(status, 200);
    assert_secure("HEAD /ui/app.js", &headers);
    assert!(body.is_empty());
}

#[test]
fn unknown_console_paths_and_traversal_are_404() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "top-secret-marker").unwrap();
    let server = serve(dir.path(), Some("ui-admin"));
    let url = &server.url;
    for path in [
        "/ui/nope.js",
        "/ui/INDEX.HTML",
        "/ui/index.html/",
        "/ui/index.html.bak",
        "/ui/./index.html",
        "/ui//index.html",
        "/ui/../secret.txt",
        "/ui/../../../../etc/passwd",
        "/ui/..%2f..%2f..%2fetc%2fpasswd",
        "/ui/%2e%2e/%2e%2e/etc/passwd",
        "/ui/%2E%2E%2Fsecret.txt",
        "/ui/..%5c..%5csecret.txt",
        "/ui/%252e%252e%252fsecret.txt",
        "/ui/app.js%00.html",
        "/ui/../v1/projects",
        "/ui/..;/secret.txt",
        "/uii",
        "/ui.js",
    ] {
        let (status, headers, body) = raw(url, "GET", path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("top-secret-marker"), "{path} leaked a file");
        assert!(!body.contains("root:"), "{path} leaked /etc/passwd");
        if path.starts_with("/ui/") {
            assert_secure(path, &headers);
        }
    }
    // The console is read-only: no method but GET and HEAD.
    for method in ["POST", "PUT", "DELETE"] {
        let (status, _, _) = raw(url, method, "/ui/app.js");
        assert_eq!(status, 405, "{method}");
    }
}

#[test]
fn api_answers_are_never_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), Some("ui-admin"));
    let url = &server.url;
    // The native API, an error, a dialect (Keystone's version document,
    // Aliyun's XML error): data, on the origin whose storage holds the
    // console's token, so none may run or load anything in a browser.
    for path in [
        "/healthz",
        "/v1/openapi.json",
        "/v1/loadbalancers",
        "/v1/nope",
        "/v3",
        "/?Action=DescribeLoadBalancers&Format=XML&x=%3Cscript%3Ealert(1)%3C/script%3E",
    ] {
        let (status, headers, _) = raw(url, "GET", path);
        assert!(status < 500, "{path}: {status}");
        assert_eq!(
            header(&headers, "content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            header(&headers, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
}

/// An HTTP backend on loopback answering `200 ok`, one request per
/// connection.
fn http_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    addr
}

fn get_through(front: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&front, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: ui\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

#[test]
fn backend_view_counts_its_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let config = loopback_config(dir.path(), 18, 7);
    let admin = "ui-admin";
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
        Some(json!({"protocol": "http", "port": port})),
    );
    assert_eq!(status, 201, "{listener}");
    let backend = http_backend();
    let (status, body) = request(
        "POST",
        &format!(
            "{url}/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &token,
        Some(
            json!({"backends": [{"address": "127.0.0.1", "port": backend.port(), "name": "counted"}]}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let id = body["backends"][0]["id"].as_str().unwrap().to_owned();
    let read = || {
        let (status, b) = request("GET", &format!("{url}/v1/backends/{id}"), &token, None);
        assert_eq!(status, 200, "{b}");
        b["status"].clone()
    };
    let front = SocketAddr::new(vip, port);
    let start = Instant::now();
    while !get_through(front) {
        assert!(start.elapsed() < Duration::from_secs(10), "never served");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Served, so the data plane has it: its live view carries the totals.
    let before = read();
    for key in [
        "total_connections",
        "requests",
        "responses_5xx",
        "failures",
        "bytes_in",
        "bytes_out",
    ] {
        assert!(before[key].is_u64(), "{key} missing: {before}");
    }
    let sent = 20;
    for _ in 0..sent {
        assert!(get_through(front));
    }
    let after = read();
    let grew = |key: &str| after[key].as_u64().unwrap() - before[key].as_u64().unwrap();
    // Every request was answered, so each counted before its answer left
    // (one connection each: the backend closes after answering).
    assert!(grew("requests") >= sent, "{before} -> {after}");
    assert!(grew("total_connections") >= sent, "{before} -> {after}");
    // The HTTP engine counts heads and bodies each way: at least a
    // request line out and a status line back per request.
    assert!(grew("bytes_out") >= 16 * sent, "{before} -> {after}");
    assert!(grew("bytes_in") >= 17 * sent, "{before} -> {after}");
    assert_eq!(after["failures"], 0, "{after}");
    assert_eq!(after["responses_5xx"], 0, "{after}");

    // Another project never reads them.
    let (other, _) = tenant(url, admin);
    let (status, _) = request("GET", &format!("{url}/v1/backends/{id}"), &other, None);
    assert_eq!(status, 404);
}
