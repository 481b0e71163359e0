//! An Octavia member's address as its caller wrote it, over a real socket:
//! Octavia keeps `2001:db8:0:0:0:0:0:1` as given and shows it back (the
//! octavia-tempest-plugin IPv6 member tests compare the text), so Weir
//! keeps a valid literal's spelling beside the parsed address. Identity is
//! still the address: the short form of a member already there is a 409;
//! a text that is not a literal of an address (zone ids, spaces,
//! brackets) is a 400, never stored or echoed.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
#[allow(dead_code, reason = "only the status helpers are used here")]
mod octavia;

use serde_json::{json, Value};
use weir_core::settings::Settings;

use harness::{Reply, Server};
use octavia::{status, text};

const LONG: &str = "2001:db8:0:0:0:0:0:1";
const LONG_MONITOR: &str = "2001:DB8:0:0:0:0:0:2";

/// Documentation addresses granted as members: data, never dialled (no
/// data plane runs here).
fn settings() -> Settings {
    let mut settings = Settings::default();
    for list in [
        &mut settings.network.backend_ranges,
        &mut settings.network.external_backend_ranges,
    ] {
        list.push("2001:db8::/32".parse().unwrap());
    }
    settings
}

struct Pool<'a> {
    server: &'a Server,
    token: String,
    id: String,
}

impl Pool<'_> {
    fn call(&self, method: &str, rest: &str, body: Option<Value>) -> Reply {
        self.server
            .octavia(&self.token, method, rest, body.as_ref())
    }

    fn create(&self, member: Value) -> Reply {
        self.call(
            "POST",
            &format!("/pools/{}/members", self.id),
            Some(json!({ "member": member })),
        )
    }

    fn member(&self, id: &str) -> Value {
        status(
            &self.call("GET", &format!("/pools/{}/members/{id}", self.id), None),
            200,
        )["member"]
            .clone()
    }

    fn update(&self, id: &str, member: Value) -> Reply {
        self.call(
            "PUT",
            &format!("/pools/{}/members/{id}", self.id),
            Some(json!({ "member": member })),
        )
    }
}

fn pool(server: &Server) -> Pool<'_> {
    let (_, token) = server.keystone_token();
    let call =
        |method: &str, rest: &str, body: Value| server.octavia(&token, method, rest, Some(&body));
    let lb = text(
        &status(
            &call(
                "POST",
                "/loadbalancers",
                json!({"loadbalancer": {"vip_subnet_id": server.inventory.subnet}}),
            ),
            201,
        ),
        "/loadbalancer/id",
    );
    let id = text(
        &status(
            &call(
                "POST",
                "/pools",
                json!({"pool": {"loadbalancer_id": lb, "protocol": "TCP",
                                "lb_algorithm": "ROUND_ROBIN"}}),
            ),
            201,
        ),
        "/pool/id",
    );
    Pool { server, token, id }
}

#[test]
fn a_member_reads_back_the_address_its_caller_wrote() {
    let servers = harness::start_many(settings(), 1);
    let pool = pool(&servers[0]);
    let created = status(
        &pool.create(json!({"address": LONG, "protocol_port": 80,
                            "monitor_address": LONG_MONITOR, "monitor_port": 8080})),
        201,
    )["member"]
        .clone();
    assert_eq!(text(&created, "/address"), LONG);
    assert_eq!(text(&created, "/monitor_address"), LONG_MONITOR);
    let id = text(&created, "/id");

    // From the store, shown and listed alike.
    let shown = pool.member(&id);
    assert_eq!(text(&shown, "/address"), LONG);
    assert_eq!(text(&shown, "/monitor_address"), LONG_MONITOR);
    let listed = status(
        &pool.call("GET", &format!("/pools/{}/members", pool.id), None),
        200,
    );
    assert_eq!(text(&listed, "/members/0/address"), LONG);

    // A new health-check address keeps its own spelling, or none when it
    // is written canonically.
    status(
        &pool.update(&id, json!({"monitor_address": "2001:0db8::3"})),
        200,
    );
    assert_eq!(text(&pool.member(&id), "/monitor_address"), "2001:0db8::3");
    status(
        &pool.update(&id, json!({"monitor_address": "2001:db8::3"})),
        200,
    );
    assert_eq!(text(&pool.member(&id), "/monitor_address"), "2001:db8::3");
    assert_eq!(text(&pool.member(&id), "/address"), LONG, "untouched");
}

#[test]
fn another_spelling_of_a_member_is_that_member() {
    let servers = harness::start_many(settings(), 1);
    let pool = pool(&servers[0]);
    let first = status(
        &pool.create(json!({"address": LONG, "protocol_port": 80})),
        201,
    );
    for other in [
        "2001:db8::1",
        "2001:DB8::0:1",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
    ] {
        let again = pool.create(json!({"address": other, "protocol_port": 80}));
        assert_eq!(again.status, 409, "{other}: {}", again.text);
    }
    // Another port of the same address is another member.
    let other_port = status(
        &pool.create(json!({"address": "2001:db8::1", "protocol_port": 81})),
        201,
    );
    assert_eq!(text(&other_port, "/member/address"), "2001:db8::1");
    let listed = status(
        &pool.call("GET", &format!("/pools/{}/members", pool.id), None),
        200,
    );
    assert_eq!(listed["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        text(&pool.member(&text(&first, "/member/id")), "/address"),
        LONG
    );
}

#[test]
fn a_text_that_is_not_an_ip_literal_is_refused_not_echoed() {
    let servers = harness::start_many(settings(), 1);
    let pool = pool(&servers[0]);
    let hostile = [
        "2001:db8::1%eth0",
        " 2001:db8::1",
        "2001:db8::1 ",
        "[2001:db8::1]",
        "2001:db8:0:0:0:0:0:0:1",
        "2001:db8::1/128",
        "<script>2001:db8::1",
    ];
    for bad in hostile {
        let refused = pool.create(json!({"address": bad, "protocol_port": 80}));
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.text);
        let refused = pool.create(json!({"address": "2001:db8::5", "protocol_port": 80,
                                         "monitor_address": bad}));
        assert_eq!(refused.status, 400, "monitor {bad:?}: {}", refused.text);
    }
    let listed = status(
        &pool.call("GET", &format!("/pools/{}/members", pool.id), None),
        200,
    );
    assert_eq!(listed["members"], json!([]), "nothing refused was written");

    // The IPv4-mapped form of an IPv4 member is that IPv4 address (Weir
    // folds it before every rule), shown as such.
    let vm = servers[0].inventory.vms[0].ip.clone();
    let mapped = status(
        &pool.create(json!({"address": format!("::ffff:{vm}"), "protocol_port": 80})),
        201,
    );
    assert_eq!(text(&mapped, "/member/address"), vm);
}
