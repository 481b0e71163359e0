//! Octavia's pool `session_persistence` over a real socket: SOURCE_IP,
//! HTTP_COOKIE and APP_COOKIE kept on create and update and shown back
//! the same way; a bad or missing `cookie_name` and cookie persistence on
//! a pool that is not HTTP refused with 400, timeouts with 501.

// The golden suite's harness, shared whole; this suite drives Octavia only.
#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::{json, Value};

use harness::Reply;
use octavia::{status, text, Octavia};

impl Octavia {
    fn lb(&self) -> String {
        let subnet = self.server.inventory.subnet.clone();
        let body = json!({"loadbalancer": {"vip_subnet_id": subnet}});
        text(
            &status(&self.call("POST", "/loadbalancers", Some(body)), 201),
            "/loadbalancer/id",
        )
    }

    fn pool(&self, lb: &str, protocol: &str, sp: Value) -> Reply {
        let body = json!({"pool": {"loadbalancer_id": lb, "protocol": protocol,
                                   "lb_algorithm": "ROUND_ROBIN", "session_persistence": sp}});
        self.call("POST", "/pools", Some(body))
    }

    fn update(&self, id: &str, sp: Value) -> Reply {
        let body = json!({"pool": {"session_persistence": sp}});
        self.call("PUT", &format!("/pools/{id}"), Some(body))
    }
}

fn shown(cookie_type: &str, cookie_name: Value) -> Value {
    json!({"type": cookie_type, "cookie_name": cookie_name,
           "persistence_timeout": null, "persistence_granularity": null})
}

#[test]
fn cookie_persistence_is_kept_updated_and_shown() {
    let o = Octavia::start();
    let lb = o.lb();
    let created = status(&o.pool(&lb, "HTTP", json!({"type": "HTTP_COOKIE"})), 201);
    assert_eq!(
        created["pool"]["session_persistence"],
        shown("HTTP_COOKIE", Value::Null)
    );
    let id = text(&created, "/pool/id");
    let app = json!({"type": "APP_COOKIE", "cookie_name": "JSESSIONID"});
    let updated = status(&o.update(&id, app), 200);
    assert_eq!(
        updated["pool"]["session_persistence"],
        shown("APP_COOKIE", json!("JSESSIONID"))
    );
    let read = status(&o.call("GET", &format!("/pools/{id}"), None), 200);
    assert_eq!(
        read["pool"]["session_persistence"],
        shown("APP_COOKIE", json!("JSESSIONID"))
    );
    // Back to source IP, then to none.
    let ip = status(&o.update(&id, json!({"type": "SOURCE_IP"})), 200);
    assert_eq!(
        ip["pool"]["session_persistence"],
        shown("SOURCE_IP", Value::Null)
    );
    let none = status(&o.update(&id, Value::Null), 200);
    assert_eq!(none["pool"]["session_persistence"], Value::Null);
    // Created with an application cookie, it shows the same.
    let app = json!({"type": "APP_COOKIE", "cookie_name": "sid"});
    let created = status(&o.pool(&lb, "HTTP", app), 201);
    assert_eq!(
        created["pool"]["session_persistence"],
        shown("APP_COOKIE", json!("sid"))
    );
}

#[test]
fn bad_cookie_persistence_is_refused_and_changes_nothing() {
    let o = Octavia::start();
    let lb = o.lb();
    for sp in [
        json!({"type": "APP_COOKIE"}),
        json!({"type": "APP_COOKIE", "cookie_name": null}),
        json!({"type": "APP_COOKIE", "cookie_name": ""}),
        json!({"type": "APP_COOKIE", "cookie_name": "a b"}),
        json!({"type": "APP_COOKIE", "cookie_name": "a=b"}),
        json!({"type": "APP_COOKIE", "cookie_name": "a;b"}),
        json!({"type": "APP_COOKIE", "cookie_name": "a\r\nSet-Cookie: x"}),
        json!({"type": "APP_COOKIE", "cookie_name": "x".repeat(256)}),
        json!({"type": "APP_COOKIE", "cookie_name": 7}),
        json!({"type": "HTTP_COOKIE", "cookie_name": "c"}),
        json!({"type": "SOURCE_IP", "cookie_name": "c"}),
    ] {
        let body = status(&o.pool(&lb, "HTTP", sp.clone()), 400);
        assert!(
            body.to_string().contains("cookie_name"),
            "{sp}: the error names the field: {body}"
        );
    }
    // Cookies need HTTP: Octavia refuses them on other pools the same way.
    for protocol in ["TCP", "UDP", "HTTPS", "PROXY"] {
        for sp in [
            json!({"type": "HTTP_COOKIE"}),
            json!({"type": "APP_COOKIE", "cookie_name": "sid"}),
        ] {
            let body = status(&o.pool(&lb, protocol, sp.clone()), 400);
            assert!(
                body.to_string().contains("http pool"),
                "{protocol} {sp}: {body}"
            );
        }
    }
    let tcp = text(
        &status(&o.pool(&lb, "TCP", json!({"type": "SOURCE_IP"})), 201),
        "/pool/id",
    );
    status(&o.update(&tcp, json!({"type": "HTTP_COOKIE"})), 400);
    // An update refused keeps what was there.
    let http = text(
        &status(&o.pool(&lb, "HTTP", json!({"type": "HTTP_COOKIE"})), 201),
        "/pool/id",
    );
    status(&o.update(&http, json!({"type": "APP_COOKIE"})), 400);
    let read = status(&o.call("GET", &format!("/pools/{http}"), None), 200);
    assert_eq!(
        read["pool"]["session_persistence"],
        shown("HTTP_COOKIE", Value::Null)
    );
    let read = status(&o.call("GET", &format!("/pools/{tcp}"), None), 200);
    assert_eq!(read["pool"]["session_persistence"]["type"], "SOURCE_IP");
    // Timeouts are options Weir does not have.
    let timed = json!({"type": "HTTP_COOKIE", "persistence_timeout": 60});
    status(&o.pool(&lb, "HTTP", timed), 501);
    let listed = status(
        &o.call("GET", &format!("/pools?loadbalancer_id={lb}"), None),
        200,
    );
    assert_eq!(listed["pools"].as_array().unwrap().len(), 2);
}
