//! Zenlayer ZLB and BMC: project A's key on every action, with B's ids.
//! Each request is signed afresh (the harness gives each its own second),
//! since accepted Zenlayer signatures are single-use.

use serde_json::{json, Value};

use crate::harness::{Client, Reply};
use crate::probe::{Dialect, Expect, Ids, Sweep};

fn zlb(c: &Client, action: &str, body: &Value) -> Reply {
    c.zenlayer("zlb", "2025-04-01", action, body)
}

fn bmc(c: &Client, action: &str, body: &Value) -> Reply {
    c.zenlayer("bmc", "2026-02-01", action, body)
}

type Body = fn(&Ids, &Ids) -> Value;

const LONE_IP: Expect =
    Expect::Uniform("no instance of A's at the address: INVALID_BACKEND_IP_ADDRESS");

pub fn sweep(s: &mut Sweep) {
    let zlb_probes: &[(&str, Expect, Body)] = &[
        (
            "CreateLoadBalancer",
            Expect::NotFound,
            |_, t| json!({"regionId": "local", "vpcId": t.get("vpc"), "subnetId": t.get("subnet")}),
        ),
        (
            "CreateLoadBalancer",
            Expect::NotFound,
            |a, t| json!({"regionId": "local", "vpcId": a.get("vpc"), "subnetId": t.get("subnet")}),
        ),
        (
            "CreateLoadBalancer",
            Expect::Uniform("A's subnet is not in any other VPC"),
            |a, t| json!({"regionId": "local", "vpcId": t.get("vpc"), "subnetId": a.get("subnet")}),
        ),
        (
            "DescribeLoadBalancers",
            Expect::Empty,
            |_, t| json!({"regionId": "local", "loadBalancerIds": [t.get("zlb.lb")]}),
        ),
        (
            "DescribeLoadBalancers",
            Expect::Empty,
            |_, t| json!({"regionId": "local", "vpcId": t.get("vpc")}),
        ),
        ("DescribeLoadBalancerRegions", Expect::Empty, |_, _| {
            json!({})
        }),
        (
            "CreateListener",
            Expect::NotFound,
            |_, t| json!({"loadBalancerId": t.get("zlb.lb"), "listenerName": "x", "protocol": "TCP", "port": "80"}),
        ),
        (
            "DescribeListeners",
            Expect::NotFound,
            |_, t| json!({"loadBalancerId": t.get("zlb.lb")}),
        ),
        (
            "DeleteListener",
            Expect::NotFound,
            |_, t| json!({"loadBalancerId": t.get("zlb.lb"), "listenerId": t.get("zlb.listener")}),
        ),
        (
            "DeleteListener",
            Expect::NotFound,
            |a, t| json!({"loadBalancerId": a.get("zlb.lb"), "listenerId": t.get("zlb.listener")}),
        ),
        ("RegisterBackend", Expect::NotFound, |a, t| {
            json!({"loadBalancerId": t.get("zlb.lb"), "listenerId": t.get("zlb.listener"),
                   "backendServers": [{"instanceId": a.get("vm0"), "port": 8080}]})
        }),
        ("RegisterBackend", Expect::NotFound, |a, t| {
            json!({"loadBalancerId": a.get("zlb.lb"), "listenerId": a.get("zlb.listener"),
                   "backendServers": [{"instanceId": t.get("vm2"), "port": 8081}]})
        }),
        // An address where only B has an instance: ZLB wants an instance
        // behind every address, and B's must not count.
        ("RegisterBackend", LONE_IP, |a, t| {
            json!({"loadBalancerId": a.get("zlb.lb"), "listenerId": a.get("zlb.listener"),
                   "backendServers": [{"privateIpAddress": t.get("lone_ip"), "port": 8081}]})
        }),
        (
            "DescribeBackends",
            Expect::NotFound,
            |_, t| json!({"loadBalancerId": t.get("zlb.lb"), "listenerId": t.get("zlb.listener")}),
        ),
        (
            "DescribeBackends",
            Expect::NotFound,
            |a, t| json!({"loadBalancerId": a.get("zlb.lb"), "listenerId": t.get("zlb.listener")}),
        ),
        (
            "DescribeBackendHealth",
            Expect::NotFound,
            |_, t| json!({"loadBalancerId": t.get("zlb.lb")}),
        ),
        ("ModifyBackend", Expect::NotFound, |_, t| {
            json!({"loadBalancerId": t.get("zlb.lb"), "listenerId": t.get("zlb.listener"),
                   "backendServers": [{"instanceId": t.get("vm0"), "weight": 1}]})
        }),
        ("ModifyBackend", Expect::NotFound, |a, t| {
            json!({"loadBalancerId": a.get("zlb.lb"), "listenerId": a.get("zlb.listener"),
                   "backendServers": [{"instanceId": t.get("vm0"), "weight": 1}]})
        }),
        ("DeregisterBackend", Expect::NotFound, |_, t| {
            json!({"loadBalancerId": t.get("zlb.lb"), "listenerId": t.get("zlb.listener"),
                   "backendServers": [{"instanceId": t.get("vm0")}]})
        }),
        ("DeregisterBackend", Expect::NotFound, |a, t| {
            json!({"loadBalancerId": a.get("zlb.lb"), "listenerId": a.get("zlb.listener"),
                   "backendServers": [{"instanceId": t.get("vm0")}]})
        }),
    ];
    for &(action, expect, body) in zlb_probes {
        s.probe(Dialect::Zlb, action, expect, move |c, a, t| {
            zlb(c, action, &body(a, t))
        });
    }

    let bmc_probes: &[(&str, Expect, Body)] = &[
        (
            "CreateLoadBalancer",
            Expect::NotFound,
            |_, t| json!({"zoneId": "local", "subnetId": t.get("subnet"), "clientToken": "iso-probe"}),
        ),
        (
            "DescribeLoadBalancers",
            Expect::Empty,
            |_, t| json!({"zoneId": "local", "loadBalancerIds": [t.get("bmc.lb")]}),
        ),
        ("DescribeLoadBalancerZones", Expect::Empty, |_, _| json!({})),
        (
            "CreateListener",
            Expect::NotFound,
            |_, t| json!({"loadBalancerId": t.get("bmc.lb"), "listenerName": "x", "portList": [80], "protocol": "TCP"}),
        ),
        (
            "DescribeListeners",
            Expect::NotFound,
            |_, t| json!({"loadBalancerIds": [t.get("bmc.lb")]}),
        ),
        (
            "DescribeListeners",
            Expect::Empty,
            |_, t| json!({"listenerIds": [t.get("bmc.listener")]}),
        ),
        (
            "DeleteListener",
            Expect::NotFound,
            |_, t| json!({"listenerId": t.get("bmc.listener")}),
        ),
        ("RegisterBackend", Expect::NotFound, |a, t| {
            json!({"listenerId": t.get("bmc.listener"), "backendName": "x", "instanceId": a.get("bm"),
                   "instanceType": "BM", "portList": [8080], "clientToken": "iso-probe"})
        }),
        ("RegisterBackend", Expect::NotFound, |a, t| {
            json!({"listenerId": a.get("bmc.listener"), "backendName": "x", "instanceId": t.get("bm"),
                   "instanceType": "BM", "portList": [8081], "clientToken": "iso-probe"})
        }),
        (
            "DescribeBackends",
            Expect::NotFound,
            |_, t| json!({"listenerId": t.get("bmc.listener")}),
        ),
        (
            "DescribeBackends",
            Expect::Empty,
            |_, t| json!({"backendIds": [t.get("bmc.backend")]}),
        ),
        (
            "DeregisterBackend",
            Expect::NotFound,
            |_, t| json!({"backendId": t.get("bmc.backend")}),
        ),
        (
            "ModifyBackendWeight",
            Expect::NotFound,
            |_, t| json!({"backendId": t.get("bmc.backend"), "weight": 1}),
        ),
    ];
    for &(action, expect, body) in bmc_probes {
        s.probe(Dialect::Bmc, action, expect, move |c, a, t| {
            bmc(c, action, &body(a, t))
        });
    }
}
