//! Barbican's key-manager API (`openstack::barbican::routes`, under
//! `/key-manager/v1`): project A's token with B's secret and container.

use serde_json::json;

use crate::harness::Client;
use crate::probe::{Dialect, Expect, Ids, Sweep};

pub const PREFIX: &str = "/key-manager/v1";

pub fn sweep(s: &mut Sweep, token: &str) {
    let k = Dialect::KeyManager;
    let at = |c: &Client, method: &str, rest: String, body: Option<serde_json::Value>| {
        c.octavia_at(PREFIX, token, method, &rest, body.as_ref())
    };
    for slash in ["", "/"] {
        s.probe(
            k,
            &format!("GET {PREFIX}/secrets{slash}"),
            Expect::Empty,
            |c, _, t| {
                at(
                    c,
                    "GET",
                    format!("/secrets{slash}?name={}", t.get("secret")),
                    None,
                )
            },
        );
        s.probe(
            k,
            &format!("POST {PREFIX}/secrets{slash}"),
            Expect::Uniform(
                "a body naming another project is an unknown field: 400 for any project",
            ),
            |c, _, t| {
                at(
                    c,
                    "POST",
                    format!("/secrets{slash}"),
                    Some(json!({"payload": "x", "payload_content_type": "text/plain",
                                "project_id": t.get("project")})),
                )
            },
        );
        s.probe(
            k,
            &format!("GET {PREFIX}/containers{slash}"),
            Expect::Empty,
            |c, _, t| {
                at(
                    c,
                    "GET",
                    format!("/containers{slash}?name={}", t.get("container")),
                    None,
                )
            },
        );
        // A container naming B's secret: B's secret is not found.
        s.probe(k, &format!("POST {PREFIX}/containers{slash}"), Expect::NotFound, |c, _, t| {
            let href = format!("http://{}{PREFIX}/secrets/{}", c.host, t.get("secret"));
            at(
                c,
                "POST",
                format!("/containers{slash}"),
                Some(json!({"type": "generic", "secret_refs": [{"name": "x", "secret_ref": href}]})),
            )
        });
    }
    for (method, route, rest) in [
        ("GET", "/secrets/{id}", ""),
        ("DELETE", "/secrets/{id}", ""),
        ("GET", "/secrets/{id}/payload", "/payload"),
        ("GET", "/secrets/{id}/payload/", "/payload/"),
        ("GET", "/secrets/{id}/acl", "/acl"),
        ("PUT", "/secrets/{id}/acl", "/acl"),
        ("PATCH", "/secrets/{id}/acl", "/acl"),
        ("DELETE", "/secrets/{id}/acl", "/acl"),
        ("GET", "/secrets/{id}/consumers", "/consumers"),
        ("GET", "/secrets/{id}/consumers/", "/consumers/"),
    ] {
        s.probe(
            k,
            &format!("{method} {PREFIX}{route}"),
            Expect::NotFound,
            move |c, _, t| {
                at(
                    c,
                    method,
                    format!("/secrets/{}{rest}", t.get("secret")),
                    None,
                )
            },
        );
    }
    // The payload of B's secret, sent as Barbican's second step.
    s.probe(
        k,
        &format!("PUT {PREFIX}/secrets/{{id}}"),
        Expect::NotFound,
        |c, _, t| {
            let path = format!("{PREFIX}/secrets/{}", t.get("secret"));
            c.send(
                "PUT",
                &path,
                &[
                    ("X-Auth-Token", token.to_owned()),
                    ("Content-Type", "text/plain".to_owned()),
                ],
                b"payload",
                format!("PUT {path}"),
            )
        },
    );
    // Barbican's secret metadata asked for by Accept: the payload.
    s.probe(
        k,
        &format!("GET {PREFIX}/secrets/{{id}}"),
        Expect::NotFound,
        |c, _, t| {
            let path = format!("{PREFIX}/secrets/{}", t.get("secret"));
            c.send(
                "GET",
                &path,
                &[
                    ("X-Auth-Token", token.to_owned()),
                    ("Accept", "text/plain".to_owned()),
                ],
                b"",
                format!("GET {path} Accept: text/plain"),
            )
        },
    );
    for (method, route, rest) in [
        ("GET", "/containers/{id}", ""),
        ("DELETE", "/containers/{id}", ""),
        ("GET", "/containers/{id}/consumers", "/consumers"),
        ("GET", "/containers/{id}/consumers/", "/consumers/"),
    ] {
        s.probe(
            k,
            &format!("{method} {PREFIX}{route}"),
            Expect::NotFound,
            move |c, _, t| {
                at(
                    c,
                    method,
                    format!("/containers/{}{rest}", t.get("container")),
                    None,
                )
            },
        );
    }
}

/// B's secret and container (and A's, so the roles are set for both).
pub fn build(c: &Client, token: &str, ids: &mut Ids) {
    let post = |rest: &str, body: serde_json::Value| {
        let reply = c.octavia_at(PREFIX, token, "POST", rest, Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.text);
        serde_json::from_str::<serde_json::Value>(&reply.text).unwrap()
    };
    let secret = post(
        "/secrets",
        json!({"name": "k", "payload": "secret", "payload_content_type": "text/plain"}),
    );
    let href = secret["secret_ref"].as_str().unwrap().to_owned();
    ids.set("secret", href.rsplit('/').next().unwrap().to_owned());
    let container = post(
        "/containers",
        json!({"type": "generic", "secret_refs": [{"name": "a", "secret_ref": href}]}),
    );
    let href = container["container_ref"].as_str().unwrap();
    ids.set("container", href.rsplit('/').next().unwrap().to_owned());
}
