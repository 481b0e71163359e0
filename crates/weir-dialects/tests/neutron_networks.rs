//! Neutron's network and subnet writes over a real socket: a project
//! makes a network holding an IPv4 and an IPv6 subnet, puts a load
//! balancer on each (its VIP of the subnet's IP version), and deletes
//! them once nothing uses them; bad CIDRs and unhonoured fields are
//! Neutron's 400s, nothing refused is half-written, another project's
//! network is Neutron's 404, a subnet the project claims grants no member
//! addresses, and the operator's inventory stays the operator's.

#[path = "golden/harness.rs"]
mod harness;
#[path = "golden/octavia.rs"]
#[allow(dead_code, reason = "only the status helpers are used here")]
mod octavia;

use serde_json::{json, Value};
use weir_core::settings::Settings;

use harness::{Reply, Server};
use octavia::{status, text};

const V6_VIPS: &str = "fdde:1a92:7523:70a0::/64";

fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.network.vip_ranges = vec!["10.1.1.0/24".parse().unwrap(), V6_VIPS.parse().unwrap()];
    // Documentation addresses, granted as members: data, never dialled
    // (no data plane runs here).
    settings
        .network
        .backend_ranges
        .push("2001:db8::/32".parse().unwrap());
    settings.network.external_backend_ranges = vec!["2001:db8::/32".parse().unwrap()];
    settings.limits.networks_per_project = 3;
    settings
}

struct Neutron<'a> {
    server: &'a Server,
    token: String,
}

impl<'a> Neutron<'a> {
    fn new(server: &'a Server) -> Self {
        let (_, token) = server.keystone_token();
        Self { server, token }
    }

    fn call(&self, method: &str, rest: &str, body: Option<Value>) -> Reply {
        self.server
            .octavia_at("/v2.0", &self.token, method, rest, body.as_ref())
    }

    fn octavia(&self, method: &str, rest: &str, body: Option<Value>) -> Reply {
        self.server
            .octavia(&self.token, method, rest, body.as_ref())
    }

    fn network(&self, name: &str) -> Value {
        status(
            &self.call(
                "POST",
                "/networks",
                Some(json!({"network": {"name": name}})),
            ),
            201,
        )["network"]
            .clone()
    }

    fn subnet(&self, network: &str, cidr: &str, version: u8) -> Reply {
        self.call(
            "POST",
            "/subnets",
            Some(json!({"subnet": {"network_id": network, "cidr": cidr, "ip_version": version, "name": cidr}})),
        )
    }
}

/// Neutron's error: the status, and the exception name of the body.
#[track_caller]
fn neutron_error(reply: &Reply, want: u16, kind: &str) -> String {
    let body = status(reply, want);
    assert_eq!(text(&body, "/NeutronError/type"), kind, "{}", reply.text);
    text(&body, "/NeutronError/message")
}

#[test]
fn a_project_builds_a_dual_stack_network_uses_it_and_deletes_it() {
    let servers = harness::start_many(settings(), 1);
    let n = Neutron::new(&servers[0]);
    let project = servers[0].inventory.project.clone();

    let net = n.network("dual");
    let net_id = text(&net, "/id");
    assert_eq!(text(&net, "/project_id"), project);
    assert_eq!(net["subnets"], json!([]));
    assert_eq!(net["shared"], false);

    let v4 = status(&n.subnet(&net_id, "10.1.1.0/24", 4), 201)["subnet"].clone();
    assert_eq!(v4["ip_version"], 4);
    assert_eq!(text(&v4, "/network_id"), net_id);
    let v6 = status(&n.subnet(&net_id, V6_VIPS, 6), 201)["subnet"].clone();
    assert_eq!(v6["ip_version"], 6);
    assert_eq!(text(&v6, "/cidr"), V6_VIPS);
    let (v4_id, v6_id) = (text(&v4, "/id"), text(&v6, "/id"));

    let shown = status(&n.call("GET", &format!("/networks/{net_id}"), None), 200);
    let mut subnets: Vec<String> = shown["network"]["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    subnets.sort();
    let mut want = vec![v4_id.clone(), v6_id.clone()];
    want.sort();
    assert_eq!(subnets, want);

    // A load balancer on each subnet: its VIP of that subnet's version,
    // inside it, never the IPv6 subnet's routers' anycast address.
    let lb6 = status(
        &n.octavia(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": v6_id}})),
        ),
        201,
    )["loadbalancer"]
        .clone();
    let vip6: std::net::IpAddr = text(&lb6, "/vip_address").parse().unwrap();
    let std::net::IpAddr::V6(v6) = vip6 else {
        panic!("an IPv4 VIP on an IPv6 subnet: {vip6}")
    };
    assert_eq!(v6.segments()[..4], [0xfdde, 0x1a92, 0x7523, 0x70a0]);
    assert_ne!(v6.segments()[4..], [0, 0, 0, 0], "the anycast address");
    assert_eq!(text(&lb6, "/vip_network_id"), net_id);
    let lb4 = status(
        &n.octavia(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": v4_id, "vip_address": "10.1.1.50"}})),
        ),
        201,
    )["loadbalancer"]
        .clone();
    assert_eq!(text(&lb4, "/vip_address"), "10.1.1.50");
    // A VIP of the other version than its subnet is refused.
    let mixed = n.octavia(
        "POST",
        "/loadbalancers",
        Some(json!({"loadbalancer": {"vip_subnet_id": v4_id, "vip_address": "fdde:1a92:7523:70a0::9"}})),
    );
    status(&mixed, 400);

    // In use: neither the subnet nor the network is deleted, and nothing
    // of them goes.
    let in_use = n.call("DELETE", &format!("/subnets/{v6_id}"), None);
    neutron_error(&in_use, 409, "SubnetInUse");
    let in_use = n.call("DELETE", &format!("/networks/{net_id}"), None);
    neutron_error(&in_use, 409, "NetworkInUse");
    let shown = status(&n.call("GET", &format!("/networks/{net_id}"), None), 200);
    assert_eq!(shown["network"]["subnets"].as_array().unwrap().len(), 2);

    for lb in [&lb6, &lb4] {
        let gone = n.octavia(
            "DELETE",
            &format!("/loadbalancers/{}?cascade=true", text(lb, "/id")),
            None,
        );
        assert_eq!(gone.status, 204, "{}", gone.text);
    }
    status(&n.call("DELETE", &format!("/subnets/{v6_id}"), None), 204);
    neutron_error(
        &n.call("GET", &format!("/subnets/{v6_id}"), None),
        404,
        "SubnetNotFound",
    );
    // The network goes with its last subnet.
    status(&n.call("DELETE", &format!("/networks/{net_id}"), None), 204);
    neutron_error(
        &n.call("GET", &format!("/subnets/{v4_id}"), None),
        404,
        "SubnetNotFound",
    );
    neutron_error(
        &n.call("GET", &format!("/networks/{net_id}"), None),
        404,
        "NetworkNotFound",
    );
}

#[test]
fn bad_subnets_and_unhonoured_fields_are_neutron_400s_and_write_nothing() {
    let servers = harness::start_many(settings(), 1);
    let n = Neutron::new(&servers[0]);
    let net_id = text(&n.network("strict"), "/id");
    status(&n.subnet(&net_id, "10.1.1.0/24", 4), 201);

    let bad = |cidr: &str, version: u8| {
        neutron_error(&n.subnet(&net_id, cidr, version), 400, "HTTPBadRequest")
    };
    assert!(bad("10.1.2.1/24", 4).contains("host bits"));
    assert!(bad("not-a-cidr", 4).contains("not a CIDR"));
    assert!(bad("fd00::1:0:0/64", 6).contains("host bits"));
    // The stated version must be the CIDR's.
    assert!(bad("10.1.3.0/24", 6).contains("IPv6"));
    assert!(bad("fd00:5::/64", 4).contains("IPv4"));
    let odd = n.call(
        "POST",
        "/subnets",
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.1.4.0/24", "ip_version": 5}})),
    );
    neutron_error(&odd, 400, "HTTPBadRequest");
    // Overlapping a subnet of the network: Neutron's InvalidInput.
    let overlap = n.subnet(&net_id, "10.1.0.0/16", 4);
    neutron_error(&overlap, 400, "InvalidInput");
    // What Weir has nothing behind is refused by name, not ignored.
    for (field, value) in [
        ("enable_dhcp", json!(true)),
        ("gateway_ip", json!("10.1.5.1")),
        ("dns_nameservers", json!(["192.0.2.53"])),
        (
            "allocation_pools",
            json!([{"start": "10.1.5.10", "end": "10.1.5.20"}]),
        ),
        ("ipv6_address_mode", json!("slaac")),
    ] {
        let mut body = json!({"network_id": net_id, "cidr": "10.1.5.0/24", "ip_version": 4});
        body[field] = value;
        let refused = n.call("POST", "/subnets", Some(json!({ "subnet": body })));
        let message = neutron_error(&refused, 400, "HTTPBadRequest");
        assert!(message.contains(field), "{message}");
    }
    let unknown = n.call(
        "POST",
        "/subnets",
        Some(json!({"subnet": {"network_id": net_id, "cidr": "10.1.6.0/24", "ip_version": 4, "colour": "red"}})),
    );
    assert!(neutron_error(&unknown, 400, "HTTPBadRequest")
        .contains("Unrecognized attribute(s) 'colour'"));
    let malformed = servers[0].send(
        "POST",
        "/v2.0/subnets",
        &[
            ("X-Auth-Token", n.token.clone()),
            ("Content-Type", "application/json".to_owned()),
        ],
        b"{\"subnet\": ",
        "POST /v2.0/subnets (truncated)".to_owned(),
    );
    neutron_error(&malformed, 400, "HTTPBadRequest");
    // Networks: sharing is the operator's; no admin-down network.
    let shared = n.call(
        "POST",
        "/networks",
        Some(json!({"network": {"name": "s", "shared": true}})),
    );
    neutron_error(&shared, 403, "PolicyNotAuthorized");
    let down = n.call(
        "POST",
        "/networks",
        Some(json!({"network": {"name": "d", "admin_state_up": false}})),
    );
    neutron_error(&down, 400, "HTTPBadRequest");

    // Only the first subnet was written, and only the one network.
    let listed = status(
        &n.call("GET", &format!("/subnets?network_id={net_id}"), None),
        200,
    );
    assert_eq!(listed["subnets"].as_array().unwrap().len(), 1, "{listed}");
    let networks = status(&n.call("GET", "/networks?name=strict", None), 200);
    assert_eq!(networks["networks"].as_array().unwrap().len(), 1);
    assert_eq!(
        status(&n.call("GET", "/networks?name=s", None), 200)["networks"],
        json!([])
    );
}

#[test]
fn another_projects_network_is_not_found_and_claims_grant_nothing() {
    let servers = harness::start_many(settings(), 2);
    let (a, b) = (Neutron::new(&servers[0]), Neutron::new(&servers[1]));
    let b_net = text(&b.network("b-net"), "/id");
    let b_sub = text(
        &status(&b.subnet(&b_net, "10.1.1.0/24", 4), 201),
        "/subnet/id",
    );

    let ghost = "00000000-0000-7000-8000-000000000000";
    for id in [b_net.as_str(), ghost] {
        neutron_error(
            &a.call("GET", &format!("/networks/{id}"), None),
            404,
            "NetworkNotFound",
        );
        neutron_error(&a.subnet(id, "10.1.2.0/24", 4), 404, "NetworkNotFound");
        neutron_error(
            &a.call("DELETE", &format!("/networks/{id}"), None),
            404,
            "NetworkNotFound",
        );
    }
    for id in [b_sub.as_str(), ghost] {
        neutron_error(
            &a.call("DELETE", &format!("/subnets/{id}"), None),
            404,
            "SubnetNotFound",
        );
        neutron_error(
            &a.call("GET", &format!("/subnets/{id}"), None),
            404,
            "SubnetNotFound",
        );
    }
    // A network for B's project, made with A's token: not found.
    let for_b = a.call(
        "POST",
        "/networks",
        Some(json!({"network": {"name": "x", "project_id": servers[1].inventory.project}})),
    );
    neutron_error(&for_b, 404, "ProjectNotFound");
    // B's network and subnet are untouched.
    let shown = status(&b.call("GET", &format!("/networks/{b_net}"), None), 200);
    assert_eq!(shown["network"]["subnets"], json!([b_sub]));

    // A subnet a project claims is not its address space: B's private VM
    // address (10.9.1.5, in B's own VPC) named through A's claimed
    // 10.0.0.0/8 is refused as a member; a granted address is taken.
    let a_net = text(&a.network("a-net"), "/id");
    let claim = text(
        &status(&a.subnet(&a_net, "10.0.0.0/8", 4), 201),
        "/subnet/id",
    );
    let lb = status(
        &a.octavia(
            "POST",
            "/loadbalancers",
            Some(json!({"loadbalancer": {"vip_subnet_id": claim}})),
        ),
        201,
    );
    let lb_id = text(&lb, "/loadbalancer/id");
    let pool = status(
        &a.octavia(
            "POST",
            "/pools",
            Some(json!({"pool": {"loadbalancer_id": lb_id, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}})),
        ),
        201,
    );
    let pool_id = text(&pool, "/pool/id");
    let member = |address: &str, subnet: &str| {
        a.octavia(
            "POST",
            &format!("/pools/{pool_id}/members"),
            Some(json!({"member": {"address": address, "protocol_port": 80, "subnet_id": subnet}})),
        )
    };
    // Another VPC's address (B's private 10.9.1.5) through A's claim,
    // or in A's network without a subnet named.
    let stolen = member("10.9.1.5", &claim);
    assert_eq!(stolen.status, 400, "{}", stolen.text);
    let bare = a.octavia(
        "POST",
        &format!("/pools/{pool_id}/members"),
        Some(json!({"member": {"address": "10.9.1.5", "protocol_port": 80}})),
    );
    assert_eq!(bare.status, 400, "{}", bare.text);
    let granted = member("2001:db8::1", &claim);
    assert_eq!(granted.status, 201, "{}", granted.text);
    // The claimed subnet is in use by that member now.
    neutron_error(
        &a.call("DELETE", &format!("/subnets/{claim}"), None),
        409,
        "SubnetInUse",
    );
}

#[test]
fn the_operators_inventory_and_the_limits_hold() {
    let servers = harness::start_many(settings(), 1);
    let n = Neutron::new(&servers[0]);
    let inv = &servers[0].inventory;
    // The operator's VPC and subnet: no subnet added, none deleted.
    let added = n.subnet(&inv.vpc, "10.0.200.0/24", 4);
    neutron_error(&added, 403, "PolicyNotAuthorized");
    neutron_error(
        &n.call("DELETE", &format!("/subnets/{}", inv.subnet), None),
        403,
        "PolicyNotAuthorized",
    );
    neutron_error(
        &n.call("DELETE", &format!("/networks/{}", inv.vpc), None),
        403,
        "PolicyNotAuthorized",
    );
    status(
        &n.call("GET", &format!("/subnets/{}", inv.subnet), None),
        200,
    );

    // limits.networks_per_project (3 here; the project has the
    // operator's VPC already).
    n.network("one");
    n.network("two");
    let over = n.call(
        "POST",
        "/networks",
        Some(json!({"network": {"name": "three"}})),
    );
    neutron_error(&over, 409, "OverQuota");

    // A reader writes nothing.
    let reader = servers[0].with_role("reader");
    let r = Neutron::new(&reader);
    let refused = r.call("POST", "/networks", Some(json!({"network": {"name": "r"}})));
    neutron_error(&refused, 403, "PolicyNotAuthorized");
}
