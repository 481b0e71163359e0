//! The head parser's unit tests: rewrites, refusals and the end-of-head scan.

use super::*;

/// The head the backend gets for `raw`, or the refusal's status.
fn rewritten(raw: &[u8]) -> Result<String, u16> {
    let shared = Shared::new(crate::Config::default());
    let settings = HttpSettings::default();
    let cx = RequestContext {
        client_ip: "192.0.2.1",
        settings: &settings,
        shared: &shared,
        forwarded: Default::default(),
        port: 80,
        local_ip: std::net::Ipv4Addr::new(198, 51, 100, 7).into(),
        sticky_cookie: None,
        l7: None,
        l7_targets: &[],
        tls: false,
        client_cert: None,
        redirect_https_port: None,
    };
    match parse_request(raw, &cx) {
        Ok(Some((_, head))) => Ok(String::from_utf8(head.bytes).unwrap()),
        Ok(None) => panic!("incomplete"),
        Err(refusal) => Err(refusal.status),
    }
}

#[test]
fn a_response_status_below_100_is_refused() {
    // Found by fuzz/fuzz_targets/http_framing.rs: `056` was written
    // back as `HTTP/1.1 56`, which no client can parse.
    let shared = Shared::new(crate::Config::default());
    let settings = HttpSettings::default();
    let cx = RequestContext {
        client_ip: "192.0.2.1",
        settings: &settings,
        shared: &shared,
        forwarded: Default::default(),
        port: 80,
        local_ip: std::net::Ipv4Addr::new(198, 51, 100, 7).into(),
        sticky_cookie: None,
        l7: None,
        l7_targets: &[],
        tls: false,
        client_cert: None,
        redirect_https_port: None,
    };
    let (_, request) = parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &cx)
        .unwrap()
        .unwrap();
    for head in [&b"HTTP/1.1 056 OK\r\n\r\n"[..], b"HTTP/1.1 000 X\r\n\r\n"] {
        let refusal = parse_response(head, &request).err().expect("refused");
        assert_eq!(refusal.status, 502);
    }
    let (_, ok) = parse_response(b"HTTP/1.1 100 Continue\r\n\r\n", &request)
        .unwrap()
        .unwrap();
    assert_eq!(ok.status, 100);
    assert!(ok.bytes.starts_with(b"HTTP/1.1 100 Continue\r\n"));
}

#[test]
fn an_http10_request_without_host_goes_on_with_the_listeners_authority() {
    // Found by fuzz/fuzz_targets/http_framing.rs: the head went on as
    // HTTP/1.1 with no Host, which Weir itself (and any backend)
    // refuses. An empty Host was no better: nginx answers it 400 and
    // closes the connection. RFC 9112 §3.3: the authority is the
    // connection's local address and port.
    let head = rewritten(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(
        head.starts_with("GET / HTTP/1.1\r\nHost: 198.51.100.7:80\r\n"),
        "{head:?}"
    );
    assert_eq!(head.matches("Host:").count(), 1, "{head:?}");
    assert!(rewritten(head.as_bytes()).is_ok(), "{head:?}");
    let with_host = rewritten(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(with_host.matches("Host:").count(), 1, "{with_host:?}");
    assert!(with_host.contains("Host: x\r\n"), "{with_host:?}");
}

#[test]
fn decimals_are_written_like_format() {
    for n in [0u64, 7, 10, 200, 404, 599, 65_535, u64::MAX] {
        let mut out = Vec::new();
        push_decimal(&mut out, n);
        assert_eq!(out, n.to_string().into_bytes());
    }
}

#[test]
fn content_length_is_digits_only() {
    assert_eq!(parse_length(b"0"), Some(0));
    assert_eq!(parse_length(b"0042"), Some(42));
    assert_eq!(parse_length(b"18446744073709551615"), Some(u64::MAX));
    for bad in [
        &b""[..],
        b"+5",
        b"-1",
        b"5, 6",
        b"5 5",
        b"0x5",
        b"18446744073709551616",
    ] {
        assert_eq!(
            parse_length(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn a_head_may_end_only_at_an_empty_line() {
    assert!(!may_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
    assert!(may_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0));
    assert!(may_end(b"GET / HTTP/1.1\nHost: x\n\n", 0));
    assert!(may_end(b"GET / HTTP/1.1\r\nHost: x\n\r\n", 0));
    // Split across reads: the scan restarts two bytes back.
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for cut in 1..head.len() {
        assert!(
            may_end(head, cut) || cut == head.len(),
            "cut at {cut} missed the end"
        );
    }
}

#[test]
fn a_redirect_to_https_keeps_host_path_and_query_and_nothing_a_client_smuggles() {
    let at = |host: &[u8], target: &str, port| {
        https_location(Some(host), target, port).map(|l| String::from_utf8(l).unwrap())
    };
    assert_eq!(
        at(b"www.example.com:8080", "/a/b?x=1#frag", 443).as_deref(),
        Some("https://www.example.com/a/b?x=1")
    );
    assert_eq!(
        at(b"10.0.0.5", "/", 8443).as_deref(),
        Some("https://10.0.0.5:8443/")
    );
    assert_eq!(
        at(b"[::1]:80", "/p", 443).as_deref(),
        Some("https://[::1]/p")
    );
    // Control bytes in the path are percent-encoded, never written raw.
    assert_eq!(
        at(b"h.test", "/a\r\nb", 443).as_deref(),
        Some("https://h.test/a%0D%0Ab")
    );
    for hostile in [
        &b"evil.test@good.test"[..],
        b"good.test/evil",
        b"good.test\\evil",
        b"a b",
        b"",
        b":443",
        b"h.test:44x",
        b"h.test:1:2",
        b"[::1",
        b"[x]",
        b"[::1]evil",
        b"h.test\r\nSet-Cookie: a=b",
    ] {
        assert_eq!(at(hostile, "/", 443), None, "{hostile:?}");
    }
    assert_eq!(https_location(None, "/", 443), None);
}

#[test]
fn a_tls_listener_drops_every_x_ssl_field_and_a_plain_one_passes_them() {
    let shared = Shared::new(crate::Config::default());
    let settings = HttpSettings::default();
    let raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-SSL-Client-CN: admin\r\nx-ssl-: v\r\n\
                X-Ssl-Anything: 1\r\nX-SSLx: kept\r\n\r\n";
    let head = |tls: bool| {
        let cx = RequestContext {
            client_ip: "192.0.2.1",
            settings: &settings,
            shared: &shared,
            forwarded: Default::default(),
            port: 443,
            local_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            sticky_cookie: None,
            l7: None,
            l7_targets: &[],
            tls,
            client_cert: None,
            redirect_https_port: None,
        };
        let (_, request) = parse_request(raw, &cx).unwrap().unwrap();
        String::from_utf8(request.bytes)
            .unwrap()
            .to_ascii_lowercase()
    };
    let over_tls = head(true);
    assert!(!over_tls.contains("x-ssl-"), "{over_tls}");
    // `X-SSLx` is not an `X-SSL-` field.
    assert!(over_tls.contains("x-sslx: kept"), "{over_tls}");
    let plain = head(false);
    assert!(plain.contains("x-ssl-client-cn: admin"), "{plain}");
}
