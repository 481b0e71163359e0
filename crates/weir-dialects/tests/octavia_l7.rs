//! Octavia's `/l7policies` and `/l7policies/{id}/rules` over a real
//! socket: create, show, update, delete with Octavia's shapes; positions
//! (insert shifts, past the end appends, moves and deletes close gaps)
//! as the listener's `l7policies` shows them; the 400s of Octavia's
//! validation, 404s, the 409 for a pool a policy uses, the 501 for rule
//! types that need TLS termination; cascades with the listener.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::{json, Value};

use harness::Reply;
use octavia::{status, text, Octavia};

struct World {
    o: Octavia,
    listener: String,
    pool: String,
}

fn world() -> World {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let lb = text(
        &status(
            &o.call(
                "POST",
                "/loadbalancers",
                Some(json!({"loadbalancer": {"vip_subnet_id": subnet}})),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let listener = text(
        &status(
            &o.call(
                "POST",
                "/listeners",
                Some(json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 8080}})),
            ),
            201,
        ),
        "/listener/id",
    );
    let pool = text(
        &status(
            &o.call(
                "POST",
                "/pools",
                Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})),
            ),
            201,
        ),
        "/pool/id",
    );
    World { o, listener, pool }
}

impl World {
    fn policy(&self, extra: Value) -> Reply {
        let mut body = json!({"listener_id": self.listener});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.o
            .call("POST", "/l7policies", Some(json!({"l7policy": body})))
    }

    fn created(&self, extra: Value) -> Value {
        status(&self.policy(extra), 201)["l7policy"].clone()
    }

    fn show(&self, id: &str) -> Value {
        status(&self.o.call("GET", &format!("/l7policies/{id}"), None), 200)["l7policy"].clone()
    }

    fn update(&self, id: &str, body: Value) -> Reply {
        self.o.call(
            "PUT",
            &format!("/l7policies/{id}"),
            Some(json!({"l7policy": body})),
        )
    }

    fn order(&self) -> Vec<String> {
        let l = status(
            &self
                .o
                .call("GET", &format!("/listeners/{}", self.listener), None),
            200,
        );
        l["listener"]["l7policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn policies_keep_octavias_shape_and_positions() {
    let w = world();
    let reject = w.created(json!({"action": "REJECT", "name": "r", "tags": ["a"]}));
    assert_eq!(reject["position"], 1);
    assert_eq!(reject["action"], "REJECT");
    assert_eq!(reject["listener_id"], w.listener.as_str());
    assert_eq!(reject["provisioning_status"], "ACTIVE");
    assert_eq!(reject["operating_status"], "ONLINE");
    assert_eq!(reject["rules"], json!([]));
    assert_eq!(reject["tags"], json!(["a"]));
    for absent in [
        "redirect_url",
        "redirect_pool_id",
        "redirect_prefix",
        "redirect_http_code",
    ] {
        assert_eq!(reject[absent], Value::Null, "{absent}");
    }
    // Inserted at 1: the reject moves to 2.
    let url = w.created(json!({"action": "REDIRECT_TO_URL", "position": 1,
                               "redirect_url": "https://example.com/x"}));
    assert_eq!(
        (url["position"].clone(), url["redirect_http_code"].clone()),
        (json!(1), json!(302))
    );
    assert_eq!(w.show(&id(&reject))["position"], 2);
    // Past the end appends.
    let pool = w.created(json!({"action": "REDIRECT_TO_POOL", "position": 99,
                                "redirect_pool_id": w.pool, "admin_state_up": false}));
    assert_eq!(pool["position"], 3);
    assert_eq!(pool["operating_status"], "OFFLINE");
    assert_eq!(pool["redirect_pool_id"], w.pool.as_str());
    assert_eq!(w.order(), [id(&url), id(&reject), id(&pool)]);
    // Moving to the front shifts the others down.
    let moved = status(&w.update(&id(&pool), json!({"position": 1})), 200);
    assert_eq!(moved["l7policy"]["position"], 1);
    assert_eq!(w.order(), [id(&pool), id(&url), id(&reject)]);
    // An action change drops the old action's fields; a redirect keeps
    // its code until told otherwise.
    let prefix = status(
        &w.update(
            &id(&url),
            json!({"action": "REDIRECT_PREFIX", "redirect_prefix": "http://b.example",
                   "redirect_http_code": 308}),
        ),
        200,
    )["l7policy"]
        .clone();
    assert_eq!(prefix["redirect_url"], Value::Null);
    assert_eq!(prefix["redirect_prefix"], "http://b.example");
    assert_eq!(prefix["redirect_http_code"], 308);
    let renamed = status(&w.update(&id(&url), json!({"name": "n"})), 200)["l7policy"].clone();
    assert_eq!(renamed["redirect_http_code"], 308);
    let to_reject = status(&w.update(&id(&url), json!({"action": "REJECT"})), 200);
    assert_eq!(to_reject["l7policy"]["redirect_http_code"], Value::Null);
    // Listing: filters and sort as the other resources.
    let listed = status(
        &w.o.call(
            "GET",
            &format!(
                "/l7policies?listener_id={}&action=REJECT&sort=position:desc",
                w.listener
            ),
            None,
        ),
        200,
    );
    let positions: Vec<Value> = listed["l7policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["position"].clone())
        .collect();
    assert_eq!(positions, [json!(3), json!(2)]);
    // Deleting closes the gap.
    status(
        &w.o.call("DELETE", &format!("/l7policies/{}", id(&pool)), None),
        204,
    );
    assert_eq!(w.order(), [id(&url), id(&reject)]);
    assert_eq!(w.show(&id(&reject))["position"], 2);
    status(
        &w.o.call("GET", &format!("/l7policies/{}", id(&pool)), None),
        404,
    );
}

#[test]
fn rules_are_created_listed_updated_and_deleted() {
    let w = world();
    let policy = w.created(json!({"action": "REJECT", "rules": [
        {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"},
        {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Env", "value": "prod", "invert": true}
    ]}));
    let pid = id(&policy);
    assert_eq!(policy["rules"].as_array().unwrap().len(), 2);
    let rules = status(
        &w.o.call("GET", &format!("/l7policies/{pid}/rules"), None),
        200,
    );
    let rules = rules["rules"].as_array().unwrap().clone();
    assert_eq!(rules[1]["type"], "HEADER");
    assert_eq!(rules[1]["key"], "X-Env");
    assert_eq!(rules[1]["invert"], true);
    assert_eq!(rules[1]["provisioning_status"], "ACTIVE");
    let created = status(
        &w.o.call(
            "POST",
            &format!("/l7policies/{pid}/rules"),
            Some(
                json!({"rule": {"type": "COOKIE", "compare_type": "REGEX", "key": "sid",
                                 "value": "^a[0-9]+$", "tags": ["t"], "admin_state_up": false}}),
            ),
        ),
        201,
    )["rule"]
        .clone();
    assert_eq!(created["operating_status"], "OFFLINE");
    assert_eq!(created["tags"], json!(["t"]));
    let rid = id(&created);
    let updated = status(
        &w.o.call(
            "PUT",
            &format!("/l7policies/{pid}/rules/{rid}"),
            Some(
                json!({"rule": {"type": "HOST_NAME", "key": null, "compare_type": "ENDS_WITH",
                                 "value": ".example.com", "admin_state_up": true}}),
            ),
        ),
        200,
    )["rule"]
        .clone();
    assert_eq!(
        (&updated["type"], &updated["key"], &updated["value"]),
        (&json!("HOST_NAME"), &Value::Null, &json!(".example.com"))
    );
    let shown = status(
        &w.o.call("GET", &format!("/l7policies/{pid}/rules/{rid}"), None),
        200,
    );
    assert_eq!(shown["rule"]["compare_type"], "ENDS_WITH");
    let filtered = status(
        &w.o.call("GET", &format!("/l7policies/{pid}/rules?type=PATH"), None),
        200,
    );
    assert_eq!(filtered["rules"].as_array().unwrap().len(), 1);
    status(
        &w.o.call("DELETE", &format!("/l7policies/{pid}/rules/{rid}"), None),
        204,
    );
    status(
        &w.o.call("GET", &format!("/l7policies/{pid}/rules/{rid}"), None),
        404,
    );
    assert_eq!(w.show(&pid)["rules"].as_array().unwrap().len(), 2);
    // A listener's deletion takes its policies with it.
    status(
        &w.o.call("DELETE", &format!("/listeners/{}", w.listener), None),
        204,
    );
    status(&w.o.call("GET", &format!("/l7policies/{pid}"), None), 404);
}

#[test]
fn octavias_errors() {
    let w = world();
    let bad = [
        json!({}),
        json!({"action": "DROP"}),
        json!({"action": "REDIRECT_TO_URL"}),
        json!({"action": "REDIRECT_TO_URL", "redirect_url": "ftp://x"}),
        json!({"action": "REDIRECT_TO_URL", "redirect_url": "http://x\r\nSet-Cookie: a=b"}),
        json!({"action": "REDIRECT_TO_URL", "redirect_url": "http://x", "redirect_http_code": 200}),
        json!({"action": "REJECT", "redirect_url": "http://x"}),
        json!({"action": "REDIRECT_TO_POOL", "redirect_pool_id": w.pool, "redirect_http_code": 301}),
        json!({"action": "REDIRECT_TO_POOL"}),
        json!({"action": "REJECT", "position": 0}),
        json!({"action": "REJECT", "position": 2_147_483_648_u64}),
        json!({"action": "REJECT", "shiny": true}),
        json!({"action": "REJECT", "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO", "value": "v"}]}),
        json!({"action": "REJECT", "rules": [{"type": "FILE_TYPE", "compare_type": "STARTS_WITH", "value": "jpg"}]}),
        json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "REGEX", "value": "(x"}]}),
        json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "REGEX", "value": "\\w{1000}\\w{1000}"}]}),
        json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "EQUAL_TO", "value": ""}]}),
        json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"}]}),
        json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "EQUAL_TO", "key": "k", "value": "/"}]}),
        json!({"action": "REJECT", "rules": [{"type": "PATH", "compare_type": "LIKE", "value": "/"}]}),
    ];
    for extra in bad {
        let reply = w.policy(extra.clone());
        assert_eq!(reply.status, 400, "{extra} -> {}", reply.text);
        assert!(reply.text.contains("faultstring"), "{}", reply.text);
    }
    // Rule types that need TLS termination: the provider's 501.
    let tls = w.policy(json!({"action": "REJECT", "rules": [
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True"}]}));
    assert_eq!(tls.status, 501, "{}", tls.text);
    assert!(tls
        .text
        .contains("Provider 'weir' does not support a requested option"));
    // Nothing of the refused bodies was written.
    assert!(w.order().is_empty());

    // 404s: the listener, the pool, the policy, the rule.
    let ghost = "00000000-0000-7000-8000-000000000000";
    let reply = w.o.call(
        "POST",
        "/l7policies",
        Some(json!({"l7policy": {"listener_id": ghost, "action": "REJECT"}})),
    );
    assert_eq!(reply.status, 404, "{}", reply.text);
    let reply = w.policy(json!({"action": "REDIRECT_TO_POOL", "redirect_pool_id": ghost}));
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert!(reply.text.contains("Pool"), "{}", reply.text);
    for (method, rest) in [
        ("GET", format!("/l7policies/{ghost}")),
        ("DELETE", format!("/l7policies/{ghost}")),
        ("GET", format!("/l7policies/{ghost}/rules")),
    ] {
        assert_eq!(w.o.call(method, &rest, None).status, 404, "{method} {rest}");
    }
    let policy = id(&w.created(json!({"action": "REDIRECT_TO_POOL", "redirect_pool_id": w.pool})));
    let reply =
        w.o.call("GET", &format!("/l7policies/{policy}/rules/{ghost}"), None);
    assert_eq!(reply.status, 404, "{}", reply.text);
    let tls = w.o.call(
        "POST",
        &format!("/l7policies/{policy}/rules"),
        Some(json!({"rule": {"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "CN", "value": "x"}})),
    );
    assert_eq!(tls.status, 501, "{}", tls.text);

    // A pool a policy forwards to is not deleted (409); once the policy
    // goes, it is.
    let reply = w.o.call("DELETE", &format!("/pools/{}", w.pool), None);
    assert_eq!(reply.status, 409, "{}", reply.text);
    status(
        &w.o.call("DELETE", &format!("/l7policies/{policy}"), None),
        204,
    );
    status(
        &w.o.call("DELETE", &format!("/pools/{}", w.pool), None),
        204,
    );
}

#[test]
fn only_http_listeners_and_http_pools() {
    let w = world();
    let lb = text(
        &status(
            &w.o.call("GET", &format!("/listeners/{}", w.listener), None),
            200,
        ),
        "/listener/loadbalancer_id",
    );
    let tcp = text(
        &status(
            &w.o.call(
                "POST",
                "/listeners",
                Some(json!({"listener": {"loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 9000}})),
            ),
            201,
        ),
        "/listener/id",
    );
    let reply = w.o.call(
        "POST",
        "/l7policies",
        Some(json!({"l7policy": {"listener_id": tcp, "action": "REJECT"}})),
    );
    assert_eq!(reply.status, 400, "{}", reply.text);
    let tcp_pool = text(
        &status(
            &w.o.call(
                "POST",
                "/pools",
                Some(json!({"pool": {"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}})),
            ),
            201,
        ),
        "/pool/id",
    );
    let reply = w.policy(json!({"action": "REDIRECT_TO_POOL", "redirect_pool_id": tcp_pool}));
    assert_eq!(reply.status, 400, "{}", reply.text);
}

#[test]
fn a_cascade_delete_of_the_load_balancer_takes_the_policies() {
    let w = world();
    let policy = id(&w.created(json!({"action": "REJECT", "rules": [
        {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}]})));
    let lb = text(
        &status(
            &w.o.call("GET", &format!("/listeners/{}", w.listener), None),
            200,
        ),
        "/listener/loadbalancer_id",
    );
    // Without cascade a load balancer with listeners stays (409).
    assert_eq!(
        w.o.call("DELETE", &format!("/loadbalancers/{lb}"), None)
            .status,
        409
    );
    status(
        &w.o.call("DELETE", &format!("/loadbalancers/{lb}?cascade=true"), None),
        204,
    );
    status(
        &w.o.call("GET", &format!("/l7policies/{policy}"), None),
        404,
    );
    let listed = status(&w.o.call("GET", "/l7policies", None), 200);
    assert_eq!(listed["l7policies"], json!([]));
}
