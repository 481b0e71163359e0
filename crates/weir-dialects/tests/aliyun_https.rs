//! Alibaba Cloud HTTPS listeners, domain extensions and the HTTP → HTTPS
//! redirect, over a real socket and signed as the SDKs sign: what a
//! hostile or careless tenant sends gets Aliyun's own error and changes
//! nothing (another project's certificate, a certificate in use, a domain
//! that is not one or that the certificate does not carry, a redirect to
//! a port that is not an HTTPS listener of the same load balancer, every
//! option Weir does not honour). Traffic through these listeners is the
//! SDK suite's (`tests/sdk/test_aliyun_https.py`).

#[path = "golden/harness.rs"]
mod harness;

use serde_json::Value;
use weir_core::settings::Settings;

use harness::{Reply, Server};

#[track_caller]
fn answer(reply: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(reply.status, status, "{}\n-> {}", reply.request, reply.text);
    let body = reply.json();
    if !code.is_empty() {
        assert_eq!(body["Code"], code, "{}\n-> {}", reply.request, reply.text);
    }
    body
}

fn upload(s: &Server, names: &[&str]) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap()
            .self_signed(&key)
            .unwrap();
    let reply = s.aliyun(
        "UploadServerCertificate",
        &[
            ("ServerCertificate", &cert.pem()),
            ("PrivateKey", &key.serialize_pem()),
            ("ServerCertificateName", "web"),
        ],
        false,
    );
    answer(&reply, 200, "")["ServerCertificateId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn load_balancer(s: &Server) -> String {
    let inv = &s.inventory;
    let reply = s.aliyun(
        "CreateLoadBalancer",
        &[("VSwitchId", &inv.subnet), ("VpcId", &inv.vpc)],
        false,
    );
    answer(&reply, 200, "")["LoadBalancerId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn https(s: &Server, lb: &str, port: &str, cert: &str, extra: &[(&str, &str)]) -> Reply {
    let mut params = vec![
        ("LoadBalancerId", lb),
        ("ListenerPort", port),
        ("BackendServerPort", "8443"),
        ("ServerCertificateId", cert),
    ];
    params.extend_from_slice(extra);
    s.aliyun("CreateLoadBalancerHTTPSListener", &params, false)
}

fn listeners(s: &Server, lb: &str) -> Value {
    let reply = s.aliyun(
        "DescribeLoadBalancerAttribute",
        &[("LoadBalancerId", lb)],
        false,
    );
    answer(&reply, 200, "")["ListenerPortsAndProtocol"].clone()
}

#[test]
fn every_option_weir_does_not_honour_is_refused_and_nothing_is_made() {
    let s = harness::start();
    let cert = upload(&s, &["www.example.test"]);
    let lb = load_balancer(&s);
    for extra in [
        &[("Bandwidth", "10")][..],
        &[("Gzip", "on")],
        &[("XForwardedFor_SLBIP", "on")],
        &[("XForwardedFor_SLBID", "on")],
        &[("XForwardedFor_ClientSrcPort", "on")],
        &[("TLSCipherPolicy", "tls_cipher_policy_1_0")],
        &[("Tag.1.Key", "k"), ("Tag.1.Value", "v")],
        &[
            ("StickySession", "on"),
            ("StickySessionType", "insert"),
            ("CookieTimeout", "60"),
        ],
    ] {
        let reply = https(&s, &lb, "443", &cert, extra);
        answer(&reply, 400, "UnsupportedOperation");
    }
    // A CA certificate that is not there (two-way authentication) is not found,
    // and a server certificate is no CA.
    let reply = https(&s, &lb, "443", &cert, &[("CACertificateId", "ca-1")]);
    answer(&reply, 404, "CACertificateId.NotFound");
    let reply = https(&s, &lb, "443", &cert, &[("CACertificateId", &cert)]);
    answer(&reply, 400, "InvalidParameter");
    for extra in [
        &[("IdleTimeout", "61")][..],
        &[("RequestTimeout", "0")],
        &[("ListenerForward", "on"), ("ForwardPort", "80")],
        &[("StickySession", "on"), ("StickySessionType", "rewrite")],
        &[("XForwardedFor", "maybe")],
        // ACL parameters are honoured (tests/aliyun_acls.rs), and an
        // incomplete set is refused, never dropped.
        &[("AclId", "acl-1")],
    ] {
        let reply = https(&s, &lb, "443", &cert, extra);
        answer(&reply, 400, "InvalidParameter");
    }
    let missing = s.aliyun(
        "CreateLoadBalancerHTTPSListener",
        &[("LoadBalancerId", &lb), ("ListenerPort", "443")],
        false,
    );
    answer(&missing, 400, "MissingParameter");
    for extra in [
        &[("AclStatus", "on"), ("AclId", "acl-1")][..],
        &[("AclStatus", "on"), ("AclType", "black")],
    ] {
        answer(
            &https(&s, &lb, "443", &cert, extra),
            400,
            "MissingParameter",
        );
    }
    assert_eq!(
        listeners(&s, &lb)["ListenerPortAndProtocol"],
        Value::Array(vec![])
    );
    // What Weir does honour is accepted and reads back.
    let made = https(
        &s,
        &lb,
        "443",
        &cert,
        &[
            ("Gzip", "off"),
            ("EnableHttp2", "off"),
            ("Bandwidth", "-1"),
            ("TLSCipherPolicy", "tls_cipher_policy_1_2_strict_with_1_3"),
            ("XForwardedFor_proto", "on"),
            ("IdleTimeout", "30"),
            ("RequestTimeout", "90"),
            ("StickySession", "on"),
            ("StickySessionType", "server"),
            ("Cookie", "session"),
        ],
    );
    answer(&made, 200, "");
    let got = answer(
        &s.aliyun(
            "DescribeLoadBalancerHTTPSListenerAttribute",
            &[("LoadBalancerId", &lb), ("ListenerPort", "443")],
            false,
        ),
        200,
        "",
    );
    assert_eq!(got["ServerCertificateId"], cert.as_str(), "{got}");
    assert_eq!(got["IdleTimeout"], 30, "{got}");
    assert_eq!(got["RequestTimeout"], 90, "{got}");
    assert_eq!(got["XForwardedFor_proto"], "on", "{got}");
    assert_eq!(got["StickySessionType"], "server", "{got}");
    assert_eq!(got["Cookie"], "session", "{got}");
    assert_eq!(
        listeners(&s, &lb)["ListenerPortAndProtocol"][0]["ListenerProtocol"],
        "https"
    );
}

#[test]
fn another_projects_certificate_is_not_found_and_one_in_use_is_not_deleted() {
    let s = harness::start_many(Settings::default(), 2);
    let (a, b) = (&s[0], &s[1]);
    let theirs = upload(b, &["www.example.test"]);
    let mine = upload(a, &["www.example.test"]);
    let lb = load_balancer(a);
    let reply = https(a, &lb, "443", &theirs, &[]);
    answer(&reply, 404, "ServerCertificateId.NotFound");
    let reply = https(a, &lb, "443", "no-such-certificate", &[]);
    answer(&reply, 404, "ServerCertificateId.NotFound");
    answer(&https(a, &lb, "443", &mine, &[]), 200, "");
    // Rotating to another project's certificate: not found, nothing changes.
    let set = a.aliyun(
        "SetLoadBalancerHTTPSListenerAttribute",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "443"),
            ("ServerCertificateId", &theirs),
        ],
        false,
    );
    answer(&set, 404, "ServerCertificateId.NotFound");
    let delete = a.aliyun(
        "DeleteServerCertificate",
        &[("ServerCertificateId", &mine)],
        false,
    );
    let body = answer(&delete, 400, "OperationFailed.Conflict");
    assert!(
        body["Message"].as_str().unwrap().contains("in use"),
        "{body}"
    );
    // B's certificate is still B's, and B may delete it.
    answer(
        &b.aliyun(
            "DeleteServerCertificate",
            &[("ServerCertificateId", &theirs)],
            false,
        ),
        200,
        "",
    );
}

#[test]
fn a_domain_extension_needs_a_domain_its_certificate_carries() {
    let s = harness::start_many(Settings::default(), 2);
    let (a, b) = (&s[0], &s[1]);
    let default = upload(a, &["default.example.test"]);
    let wildcard = upload(a, &["*.example.test"]);
    let theirs = upload(b, &["*.example.test"]);
    let lb = load_balancer(a);
    answer(&https(a, &lb, "443", &default, &[]), 200, "");
    let add = |domain: &str, cert: &str| {
        a.aliyun(
            "CreateDomainExtension",
            &[
                ("LoadBalancerId", &lb),
                ("ListenerPort", "443"),
                ("Domain", domain),
                ("ServerCertificateId", cert),
            ],
            false,
        )
    };
    for bad in [
        "not a domain",
        "a.b\r\nX: y",
        "*",
        "*.test.*",
        "x.*.example.test",
        "",
    ] {
        let reply = add(bad, &wildcard);
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.text);
    }
    // Not covered: another name, two labels under the wildcard, or a
    // wildcard domain the certificate does not carry.
    for uncovered in ["www.other.test", "a.b.example.test", "example.test"] {
        answer(&add(uncovered, &wildcard), 400, "InvalidParameter");
    }
    answer(&add("*.example.test", &default), 400, "InvalidParameter");
    answer(
        &add("www.example.test", &theirs),
        404,
        "ServerCertificateId.NotFound",
    );
    let made = answer(&add("www.example.test", &wildcard), 200, "");
    let id = made["DomainExtensionId"].as_str().unwrap().to_owned();
    answer(
        &add("WWW.example.test", &wildcard),
        400,
        "OperationFailed.Conflict",
    );
    answer(&add("*.example.test", &wildcard), 200, "");
    // The extension's certificate is in use too.
    answer(
        &a.aliyun(
            "DeleteServerCertificate",
            &[("ServerCertificateId", &wildcard)],
            false,
        ),
        400,
        "OperationFailed.Conflict",
    );
    // Set to a certificate that does not carry the domain: refused.
    let set = a.aliyun(
        "SetDomainExtensionAttribute",
        &[
            ("DomainExtensionId", &id),
            ("ServerCertificateId", &default),
        ],
        false,
    );
    answer(&set, 400, "InvalidParameter");
    // Forged and foreign ids are not found, as ones that never were.
    for forged in [format!("{id}x"), "nothing".into(), format!("{lb}.de-1")] {
        let reply = a.aliyun(
            "DeleteDomainExtension",
            &[("DomainExtensionId", &forged)],
            false,
        );
        answer(&reply, 404, "DomainExtensionId.NotFound");
    }
    let reply = b.aliyun(
        "DescribeDomainExtensionAttribute",
        &[("DomainExtensionId", &id)],
        false,
    );
    answer(&reply, 404, "DomainExtensionId.NotFound");
    let listed = answer(
        &a.aliyun(
            "DescribeDomainExtensions",
            &[("LoadBalancerId", &lb), ("ListenerPort", "443")],
            false,
        ),
        200,
        "",
    );
    assert_eq!(
        listed["DomainExtensions"]["DomainExtension"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{listed}"
    );
    answer(
        &a.aliyun(
            "DeleteDomainExtension",
            &[("DomainExtensionId", &id)],
            false,
        ),
        200,
        "",
    );
    answer(
        &a.aliyun(
            "DeleteDomainExtension",
            &[("DomainExtensionId", &id)],
            false,
        ),
        404,
        "DomainExtensionId.NotFound",
    );
}

#[test]
fn a_redirect_goes_only_to_an_https_listener_of_the_same_load_balancer() {
    let s = harness::start();
    let cert = upload(&s, &["www.example.test"]);
    let lb = load_balancer(&s);
    let other = load_balancer(&s);
    answer(&https(&s, &other, "443", &cert, &[]), 200, "");
    let tcp = s.aliyun(
        "CreateLoadBalancerTCPListener",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "8443"),
            ("BackendServerPort", "80"),
        ],
        false,
    );
    answer(&tcp, 200, "");
    let http = |forward: &str| {
        s.aliyun(
            "CreateLoadBalancerHTTPListener",
            &[
                ("LoadBalancerId", &lb),
                ("ListenerPort", "80"),
                ("BackendServerPort", "80"),
                ("ListenerForward", "on"),
                ("ForwardPort", forward),
            ],
            false,
        )
    };
    // 443 is another load balancer's; 8443 is TCP; 9 has nothing.
    for port in ["443", "8443", "9", "0", "70000"] {
        answer(&http(port), 400, "InvalidParameter");
    }
    answer(&https(&s, &lb, "443", &cert, &[]), 200, "");
    answer(&http("443"), 200, "");
    let got = answer(
        &s.aliyun(
            "DescribeLoadBalancerHTTPListenerAttribute",
            &[("LoadBalancerId", &lb), ("ListenerPort", "80")],
            false,
        ),
        200,
        "",
    );
    assert_eq!(got["ListenerForward"], "on", "{got}");
    assert_eq!(got["ForwardPort"], 443, "{got}");
    // The target stays while the redirect names it.
    let delete = s.aliyun(
        "DeleteLoadBalancerListener",
        &[
            ("LoadBalancerId", &lb),
            ("ListenerPort", "443"),
            ("ListenerProtocol", "https"),
        ],
        false,
    );
    answer(&delete, 400, "OperationFailed.Conflict");
}
