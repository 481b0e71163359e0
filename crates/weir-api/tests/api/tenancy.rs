//! Tenancy of addresses (issue 14, holes 4 and 5) through the native API:
//! a tenant-chosen VIP must be a usable host of `network.vip_ranges`; a
//! bare backend address must lie in the caller's own network; no load
//! balancer's VIP is ever a backend. Two projects with the same VPC CIDR
//! (10.0.0.0/16) show that overlapping address spaces both keep working.

use serde_json::{json, Value};
use weir_core::settings::Settings;

use crate::harness::*;

/// Loopback granted as a backend range outside VPCs, as the README's
/// walkthrough does, so VIPs (127.0.1.x) could otherwise be registered.
fn loopback_granted() -> Settings {
    let mut settings = Settings::default();
    for ranges in [
        &mut settings.network.backend_ranges,
        &mut settings.network.external_backend_ranges,
    ] {
        ranges.push("127.0.0.0/8".parse().unwrap());
    }
    settings
}

fn register(s: &Server, f: &Fixture, backends: Value) -> Reply {
    s.post(
        &format!("/v1/listeners/{}/backends", f.listener),
        &f.token,
        json!({ "backends": backends }),
    )
}

fn vip_of(s: &Server, f: &Fixture) -> String {
    let lb = s.get(&format!("/v1/loadbalancers/{}", f.lb), &f.token).body;
    lb["vip"].as_str().unwrap().to_owned()
}

#[test]
fn a_project_cannot_register_an_address_only_in_another_projects_vpc() {
    let s = start();
    let a = fixture_named(&s, "a");
    let b = fixture_named(&s, "b");
    // B's private service lives in a VPC of B's alone.
    let vpc = s.create(
        "/v1/vpcs",
        ADMIN,
        json!({"project_id": b.project, "name": "private", "cidr": "10.9.0.0/16"}),
    );
    let subnet = s.create(
        "/v1/subnets",
        ADMIN,
        json!({"vpc_id": vpc["id"], "cidr": "10.9.1.0/24"}),
    );
    s.create(
        "/v1/instances",
        ADMIN,
        json!({"project_id": b.project, "subnet_id": subnet["id"], "private_ip": "10.9.1.5", "name": "db"}),
    );
    let before = s.revision();
    let stolen = register(&s, &a, json!([{"address": "10.9.1.5", "port": 5432}]));
    assert_error(&stolen, 400, "AddressNotInNetwork");
    let mapped = register(
        &s,
        &a,
        json!([{"address": "::ffff:10.9.1.5", "port": 5432}]),
    );
    assert_error(&mapped, 400, "AddressNotInNetwork");
    let via_subnet = register(
        &s,
        &a,
        json!([{"address": "10.9.1.5", "port": 5432, "subnet_id": subnet["id"]}]),
    );
    assert_error(&via_subnet, 404, "NotFound");
    assert_eq!(s.revision(), before, "nothing was written");
    // B itself may: with a load balancer in that VPC, the address is its own.
    let lb = s.create(
        "/v1/loadbalancers",
        &b.token,
        json!({"name": "inner", "subnet_id": subnet["id"]}),
    );
    let listener = s.create(
        &format!("/v1/loadbalancers/{}/listeners", lb["id"].as_str().unwrap()),
        &b.token,
        json!({"name": "pg", "protocol": "tcp", "port": 5432}),
    );
    let own = s.post(
        &format!(
            "/v1/listeners/{}/backends",
            listener["id"].as_str().unwrap()
        ),
        &b.token,
        json!({"backends": [{"address": "10.9.1.5"}]}),
    );
    assert_eq!(own.status, 201, "{}", own.body);
}

#[test]
fn overlapping_vpcs_of_two_projects_both_work_for_their_own() {
    let s = start();
    let a = fixture_named(&s, "a");
    let b = fixture_named(&s, "b");
    for f in [&a, &b] {
        let bare = register(&s, f, json!([{"address": "10.0.1.50"}]));
        assert_eq!(bare.status, 201, "{}", bare.body);
        assert_eq!(bare.body["backends"][0]["address"], "10.0.1.50");
        let own_vm = register(&s, f, json!([{"instance_id": f.instances[0]}]));
        assert_eq!(own_vm.status, 201, "{}", own_vm.body);
        assert_eq!(own_vm.body["backends"][0]["address"], "10.0.1.11");
    }
    // The other project's instance id stays invisible.
    let foreign = register(&s, &a, json!([{"instance_id": b.instances[1]}]));
    assert_error(&foreign, 404, "NotFound");
}

#[test]
fn no_load_balancers_vip_is_a_backend() {
    let s = start_with(loopback_granted());
    let a = fixture_named(&s, "a");
    let b = fixture_named(&s, "b");
    let (vip_a, vip_b) = (vip_of(&s, &a), vip_of(&s, &b));
    assert_ne!(vip_a, vip_b);
    let before = s.revision();
    for (who, address) in [
        ("its own VIP", vip_a.clone()),
        ("its own VIP, IPv4-mapped", format!("::ffff:{vip_a}")),
        ("another project's VIP (a loop)", vip_b.clone()),
        (
            "another project's VIP, IPv4-mapped",
            format!("::ffff:{vip_b}"),
        ),
    ] {
        let reply = register(&s, &a, json!([{"address": address}]));
        assert_error(&reply, 400, "AddressReserved");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("VIP"),
            "{who}: {}",
            reply.body
        );
    }
    assert_eq!(s.revision(), before, "nothing was written");
    let granted = register(&s, &a, json!([{"address": "127.0.0.1", "port": 8080}]));
    assert_eq!(
        granted.status, 201,
        "a granted loopback backend: {}",
        granted.body
    );
}

#[test]
fn a_mapped_metadata_address_is_the_metadata_address() {
    let s = start();
    let f = fixture(&s);
    let reply = register(&s, &f, json!([{"address": "::ffff:169.254.169.254"}]));
    assert_error(&reply, 400, "AddressReserved");
    let mapped = register(&s, &f, json!([{"address": "::ffff:10.0.1.60"}]));
    assert_eq!(mapped.status, 201, "{}", mapped.body);
    assert_eq!(
        mapped.body["backends"][0]["address"], "10.0.1.60",
        "stored as the IPv4 address it reaches"
    );
    let again = register(&s, &f, json!([{"address": "10.0.1.60"}]));
    assert_error(&again, 409, "BackendExists");
}

#[test]
fn bad_vips_are_refused() {
    let s = start();
    let f = fixture(&s);
    let before = s.revision();
    for vip in [
        "0.0.0.0",
        "::",
        "::ffff:127.0.1.5",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
        "127.0.0.1",
        "::1",
        "10.0.1.200",
        "127.0.1.0",
        "127.0.1.255",
    ] {
        let reply = s.post(
            "/v1/loadbalancers",
            &f.token,
            json!({"name": "bad", "subnet_id": f.subnet, "vip": vip}),
        );
        assert_error(&reply, 400, "VipNotAllowed");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(vip),
            "{vip}: {}",
            reply.body
        );
    }
    assert_eq!(s.revision(), before, "nothing was written");
    let good = s.create(
        "/v1/loadbalancers",
        &f.token,
        json!({"name": "good", "subnet_id": f.subnet, "vip": "127.0.1.77"}),
    );
    assert_eq!(good["vip"], "127.0.1.77");
}

#[test]
fn a_new_vip_is_never_a_registered_backends_address() {
    // VIPs from the subnet every project has: a VIP equal to project A's
    // backend 10.0.1.130 would be bound on this host and take A's traffic.
    let mut settings = Settings::default();
    settings.network.vip_ranges = vec!["10.0.1.128/25".parse().unwrap()];
    let s = start_with(settings);
    let a = fixture_named(&s, "a");
    assert_eq!(vip_of(&s, &a), "10.0.1.129");
    let taken = register(
        &s,
        &a,
        json!([{"address": "10.0.1.130"}, {"address": "10.0.1.131"}]),
    );
    assert_eq!(taken.status, 201, "{}", taken.body);
    let b = fixture_named(&s, "b");
    assert_eq!(
        vip_of(&s, &b),
        "10.0.1.132",
        "allocation skips backends' addresses"
    );
    let named = s.post(
        "/v1/loadbalancers",
        &b.token,
        json!({"name": "steal", "subnet_id": b.subnet, "vip": "10.0.1.130"}),
    );
    assert_error(&named, 400, "VipNotAllowed");
}
