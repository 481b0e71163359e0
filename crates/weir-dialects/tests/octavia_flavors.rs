//! Octavia's flavor API (2.6) over the wire, as a project sees it: the
//! provider's one capability, flavors listed and shown to everyone,
//! profiles and every write the operator's (403 before the body is read,
//! as Octavia checks policy first), and a load balancer's `flavor_id`
//! honoured: an unknown one is 400 and nothing is made. The operator's
//! side of the catalogue (profiles' `flavor_data` rules, in-use refusals,
//! a load balancer keeping its flavor) runs through `Control` in
//! `weir-control/tests/flavors.rs`; Keystone credentials are projects
//! until roles map an admin onto the operator.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
mod octavia;

use serde_json::json;

use octavia::{status, text, Octavia};

#[test]
fn the_provider_offers_one_flavor_capability() {
    let o = Octavia::start();
    let caps = status(
        &o.call("GET", "/providers/weir/flavor_capabilities", None),
        200,
    );
    assert_eq!(
        caps["flavor_capabilities"],
        json!([{"name": "loadbalancer_topology",
                "description": "The load balancer topology. One of: SINGLE - One data plane per node and no standby."}])
    );
    status(
        &o.call("GET", "/providers/amphora/flavor_capabilities", None),
        404,
    );
    // Zones still offer none.
    let zones = status(
        &o.call(
            "GET",
            "/providers/weir/availability_zone_capabilities",
            None,
        ),
        200,
    );
    assert_eq!(zones["availability_zone_capabilities"], json!([]));
}

#[test]
fn a_project_reads_flavors_but_writes_nothing() {
    let o = Octavia::start();
    let listed = status(&o.call("GET", "/flavors", None), 200);
    assert_eq!(listed["flavors"], json!([]));
    status(&o.call("GET", "/flavors/f-1", None), 404);
    // Profiles are the provider's settings: the operator's alone, and
    // every write is refused before its body is read (bad JSON data too).
    for (method, path, body) in [
        ("GET", "/flavorprofiles", None),
        ("GET", "/flavorprofiles/p-1", None),
        (
            "POST",
            "/flavorprofiles",
            Some(
                json!({"flavorprofile": {"name": "x", "provider_name": "weir",
                                          "flavor_data": "{not json"}}),
            ),
        ),
        (
            "PUT",
            "/flavorprofiles/p-1",
            Some(json!({"flavorprofile": {"name": "y"}})),
        ),
        ("DELETE", "/flavorprofiles/p-1", None),
        (
            "POST",
            "/flavors",
            Some(json!({"flavor": {"name": "x", "flavor_profile_id": "p-1"}})),
        ),
        (
            "PUT",
            "/flavors/f-1",
            Some(json!({"flavor": {"enabled": false}})),
        ),
        ("DELETE", "/flavors/f-1", None),
    ] {
        let reply = o.call(method, path, body);
        let body = status(&reply, 403);
        assert_eq!(body["error_code"], "ELB.1003", "{method} {path}");
    }
}

#[test]
fn a_load_balancers_flavor_id_is_honoured_or_refused() {
    let o = Octavia::start();
    let subnet = o.server.inventory.subnet.clone();
    let create = |flavor: serde_json::Value| {
        o.call(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": subnet, "flavor_id": flavor}})),
        )
    };
    let refused = status(&create(json!("no-such-flavor")), 400);
    assert_eq!(
        refused["faultstring"],
        "no-such-flavor is not a valid option for flavor"
    );
    let wrong_type = status(&create(json!(7)), 400);
    assert!(wrong_type["faultstring"]
        .as_str()
        .unwrap()
        .contains("flavor_id"));
    let listed = status(&o.call("GET", "/loadbalancers", None), 200);
    assert_eq!(listed["loadbalancers"], json!([]), "nothing was made");
    // No flavor (null) is a load balancer without one, shown as null.
    let made = status(&create(serde_json::Value::Null), 201);
    assert_eq!(made["loadbalancer"]["flavor_id"], serde_json::Value::Null);
    let id = text(&made, "/loadbalancer/id");
    let shown = status(&o.call("GET", &format!("/loadbalancers/{id}"), None), 200);
    assert_eq!(shown["loadbalancer"]["flavor_id"], serde_json::Value::Null);
}
