//! The OpenStack LBaaS v2 routes (`lbaas::routes`) as Octavia serves them
//! under `/v2.0/lbaas` and `/v2/lbaas` and Huawei ELB under
//! `/v2/{project_id}/elb`; Neutron's read side and Keystone.

use serde_json::{json, Value};

use crate::harness::Client;
use crate::probe::{Dialect, Expect, Ids, Sweep};

/// One route: method, template as routed, expectation, the path after
/// the prefix and the body, from A's ids, the target's, and the id
/// family (`os` for Octavia's resources, `hw` for Huawei's).
struct Probe {
    method: &'static str,
    route: &'static str,
    expect: Expect,
    rest: fn(&Ids, &Ids, &str) -> String,
    body: fn(&Ids, &Ids, &str) -> Option<Value>,
}

fn id(ids: &Ids, family: &str, role: &str) -> String {
    ids.get(&format!("{family}.{role}")).to_owned()
}

/// The address and port of the target's own member in that family's
/// pool (B's `vm0` for Octavia, `vm1` for Huawei), which A's own machines
/// share: a duplicate there must not be told before the pool's owner.
fn twin(family: &str) -> &'static str {
    if family == "os" {
        "10.0.1.11"
    } else {
        "10.0.1.12"
    }
}

fn none(_: &Ids, _: &Ids, _: &str) -> Option<Value> {
    None
}

const fn p(
    method: &'static str,
    route: &'static str,
    expect: Expect,
    rest: fn(&Ids, &Ids, &str) -> String,
    body: fn(&Ids, &Ids, &str) -> Option<Value>,
) -> Probe {
    Probe {
        method,
        route,
        expect,
        rest,
        body,
    }
}

use Expect::{Empty, NotFound, Uniform};

/// The operator's flavor catalogue: a project gets 403 whatever it names.
const OPERATOR_ONLY: &str = "the operator's flavor catalogue: 403 for any project and any id";

fn probes() -> Vec<Probe> {
    vec![
        p(
            "GET",
            "/loadbalancers",
            Empty,
            |_, t, f| format!("/loadbalancers?id={}", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/loadbalancers",
            Empty,
            |_, t, _| format!("/loadbalancers?vip_subnet_id={}", t.get("subnet")),
            none,
        ),
        // A page marker is looked for in the caller's own list only.
        p(
            "GET",
            "/loadbalancers",
            NotFound,
            |_, t, f| format!("/loadbalancers?marker={}", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/loadbalancers",
            Empty,
            |_, t, _| format!("/loadbalancers?project_id={}", t.get("project")),
            none,
        ),
        p(
            "GET",
            "/loadbalancers",
            Empty,
            |_, t, _| format!("/loadbalancers?tenant_id={}", t.get("project")),
            none,
        ),
        p(
            "POST",
            "/loadbalancers",
            NotFound,
            |_, _, _| "/loadbalancers".into(),
            |_, t, _| Some(json!({"loadbalancer": {"vip_subnet_id": t.get("subnet")}})),
        ),
        p(
            "GET",
            "/loadbalancers/{lb_id}",
            NotFound,
            |_, t, f| format!("/loadbalancers/{}", id(t, f, "lb")),
            none,
        ),
        p(
            "PUT",
            "/loadbalancers/{lb_id}",
            NotFound,
            |_, t, f| format!("/loadbalancers/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"loadbalancer": {"description": "x"}})),
        ),
        p(
            "DELETE",
            "/loadbalancers/{lb_id}",
            NotFound,
            |_, t, f| format!("/loadbalancers/{}?cascade=true", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/listeners",
            Empty,
            |_, t, f| format!("/listeners?loadbalancer_id={}", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/listeners",
            Empty,
            |_, t, f| format!("/listeners?id={}", id(t, f, "listener")),
            none,
        ),
        p(
            "GET",
            "/listeners",
            Empty,
            |_, t, _| format!("/listeners?project_id={}", t.get("project")),
            none,
        ),
        p(
            "POST",
            "/listeners",
            NotFound,
            |_, _, _| "/listeners".into(),
            |_, t, f| {
                Some(
                    json!({"listener": {"loadbalancer_id": id(t, f, "lb"), "protocol": "TCP", "protocol_port": 80}}),
                )
            },
        ),
        p(
            "GET",
            "/listeners/{listener_id}",
            NotFound,
            |_, t, f| format!("/listeners/{}", id(t, f, "listener")),
            none,
        ),
        p(
            "PUT",
            "/listeners/{listener_id}",
            NotFound,
            |_, t, f| format!("/listeners/{}", id(t, f, "listener")),
            |_, _, _| Some(json!({"listener": {"name": "x"}})),
        ),
        p(
            "DELETE",
            "/listeners/{listener_id}",
            NotFound,
            |_, t, f| format!("/listeners/{}", id(t, f, "listener")),
            none,
        ),
        p(
            "GET",
            "/pools",
            Empty,
            |_, t, f| format!("/pools?loadbalancer_id={}", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/pools",
            Empty,
            |_, t, f| format!("/pools?id={}", id(t, f, "pool")),
            none,
        ),
        p(
            "GET",
            "/pools",
            Empty,
            |_, t, _| format!("/pools?project_id={}", t.get("project")),
            none,
        ),
        p(
            "POST",
            "/pools",
            NotFound,
            |_, _, _| "/pools".into(),
            |_, t, f| {
                Some(
                    json!({"pool": {"listener_id": id(t, f, "listener"), "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
                )
            },
        ),
        p(
            "POST",
            "/pools",
            NotFound,
            |_, _, _| "/pools".into(),
            |_, t, f| {
                Some(
                    json!({"pool": {"loadbalancer_id": id(t, f, "lb"), "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
                )
            },
        ),
        p(
            "GET",
            "/pools/{pool_id}",
            NotFound,
            |_, t, f| format!("/pools/{}", id(t, f, "pool")),
            none,
        ),
        p(
            "PUT",
            "/pools/{pool_id}",
            NotFound,
            |_, t, f| format!("/pools/{}", id(t, f, "pool")),
            |_, _, _| Some(json!({"pool": {"name": "x"}})),
        ),
        p(
            "DELETE",
            "/pools/{pool_id}",
            NotFound,
            |_, t, f| format!("/pools/{}", id(t, f, "pool")),
            none,
        ),
        p(
            "GET",
            "/pools/{pool_id}/members",
            NotFound,
            |_, t, f| format!("/pools/{}/members", id(t, f, "pool")),
            none,
        ),
        // B's member id as the page marker of A's own pool.
        p(
            "GET",
            "/pools/{pool_id}/members",
            NotFound,
            |a, t, f| {
                format!(
                    "/pools/{}/members?marker={}",
                    id(a, f, "pool"),
                    id(t, f, "member")
                )
            },
            none,
        ),
        p(
            "GET",
            "/pools",
            Empty,
            |_, t, f| format!("/pools?listener_id={}", id(t, f, "listener")),
            none,
        ),
        // A's own machine into B's pool; B's subnet for A's pool.
        p(
            "POST",
            "/pools/{pool_id}/members",
            NotFound,
            |_, t, f| format!("/pools/{}/members", id(t, f, "pool")),
            |a, _, f| {
                Some(
                    json!({"member": {"address": twin(f), "protocol_port": 8080, "subnet_id": a.get("subnet")}}),
                )
            },
        ),
        p(
            "POST",
            "/pools/{pool_id}/members",
            NotFound,
            |a, _, f| format!("/pools/{}/members", id(a, f, "pool")),
            |_, t, _| {
                Some(
                    json!({"member": {"address": "10.0.1.13", "protocol_port": 8081, "subnet_id": t.get("subnet")}}),
                )
            },
        ),
        p(
            "PUT",
            "/pools/{pool_id}/members",
            NotFound,
            |_, t, f| format!("/pools/{}/members", id(t, f, "pool")),
            |a, _, f| {
                Some(
                    json!({"members": [{"address": twin(f), "protocol_port": 8080, "subnet_id": a.get("subnet")}]}),
                )
            },
        ),
        p(
            "PUT",
            "/pools/{pool_id}/members",
            NotFound,
            |a, _, f| format!("/pools/{}/members", id(a, f, "pool")),
            |_, t, _| {
                Some(
                    json!({"members": [{"address": "10.0.1.13", "protocol_port": 8081, "subnet_id": t.get("subnet")}]}),
                )
            },
        ),
        p(
            "GET",
            "/pools/{pool_id}/members/{member_id}",
            NotFound,
            |_, t, f| format!("/pools/{}/members/{}", id(t, f, "pool"), id(t, f, "member")),
            none,
        ),
        p(
            "GET",
            "/pools/{pool_id}/members/{member_id}",
            NotFound,
            |a, t, f| format!("/pools/{}/members/{}", id(a, f, "pool"), id(t, f, "member")),
            none,
        ),
        p(
            "PUT",
            "/pools/{pool_id}/members/{member_id}",
            NotFound,
            |_, t, f| format!("/pools/{}/members/{}", id(t, f, "pool"), id(t, f, "member")),
            |_, _, _| Some(json!({"member": {"weight": 1}})),
        ),
        p(
            "PUT",
            "/pools/{pool_id}/members/{member_id}",
            NotFound,
            |a, t, f| format!("/pools/{}/members/{}", id(a, f, "pool"), id(t, f, "member")),
            |_, _, _| Some(json!({"member": {"weight": 1}})),
        ),
        p(
            "DELETE",
            "/pools/{pool_id}/members/{member_id}",
            NotFound,
            |_, t, f| format!("/pools/{}/members/{}", id(t, f, "pool"), id(t, f, "member")),
            none,
        ),
        p(
            "DELETE",
            "/pools/{pool_id}/members/{member_id}",
            NotFound,
            |a, t, f| format!("/pools/{}/members/{}", id(a, f, "pool"), id(t, f, "member")),
            none,
        ),
        p(
            "GET",
            "/healthmonitors",
            Empty,
            |_, t, _| format!("/healthmonitors?pool_id={}", t.get("os.pool")),
            none,
        ),
        p(
            "GET",
            "/healthmonitors",
            Empty,
            |_, t, _| format!("/healthmonitors?id={}", t.get("os.monitor")),
            none,
        ),
        p(
            "GET",
            "/healthmonitors",
            Empty,
            |_, t, _| format!("/healthmonitors?project_id={}", t.get("project")),
            none,
        ),
        p(
            "POST",
            "/healthmonitors",
            NotFound,
            |_, _, _| "/healthmonitors".into(),
            |_, t, f| {
                Some(
                    json!({"healthmonitor": {"pool_id": id(t, f, "pool"), "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2}}),
                )
            },
        ),
        p(
            "GET",
            "/healthmonitors/{monitor_id}",
            NotFound,
            |_, t, _| format!("/healthmonitors/{}", t.get("os.monitor")),
            none,
        ),
        p(
            "PUT",
            "/healthmonitors/{monitor_id}",
            NotFound,
            |_, t, _| format!("/healthmonitors/{}", t.get("os.monitor")),
            |_, _, _| Some(json!({"healthmonitor": {"delay": 7}})),
        ),
        p(
            "DELETE",
            "/healthmonitors/{monitor_id}",
            NotFound,
            |_, t, _| format!("/healthmonitors/{}", t.get("os.monitor")),
            none,
        ),
        p(
            "GET",
            "/loadbalancers/{lb_id}/stats",
            NotFound,
            |_, t, f| format!("/loadbalancers/{}/stats", id(t, f, "lb")),
            none,
        ),
        p(
            "PUT",
            "/loadbalancers/{lb_id}/failover",
            Uniform("the operator's (Octavia's policy): 403 for any id"),
            |_, t, f| format!("/loadbalancers/{}/failover", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/loadbalancers/{lb_id}/status",
            NotFound,
            |_, t, f| format!("/loadbalancers/{}/status", id(t, f, "lb")),
            none,
        ),
        p(
            "GET",
            "/listeners/{listener_id}/stats",
            NotFound,
            |_, t, f| format!("/listeners/{}/stats", id(t, f, "listener")),
            none,
        ),
        // One provider, its one flavor capability, no zones: the same
        // answer for everyone. Flavors are the operator's catalogue,
        // shared by every project (B's load balancer ids name none);
        // their writes and the profiles are the operator's alone: 403 for
        // any project whatever the id.
        p(
            "GET",
            "/providers",
            Uniform("the one provider, the same for everyone"),
            |_, _, _| "/providers".into(),
            none,
        ),
        p(
            "GET",
            "/providers/{provider}/flavor_capabilities",
            Uniform("loadbalancer_topology, for everyone"),
            |_, _, _| "/providers/weir/flavor_capabilities".into(),
            none,
        ),
        p(
            "GET",
            "/providers/{provider}/availability_zone_capabilities",
            Uniform("none, for everyone"),
            |_, _, _| "/providers/weir/availability_zone_capabilities".into(),
            none,
        ),
        p("GET", "/flavors", Empty, |_, _, _| "/flavors".into(), none),
        p(
            "POST",
            "/flavors",
            Uniform(OPERATOR_ONLY),
            |_, _, _| "/flavors".into(),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/flavors/{id}",
            NotFound,
            |_, t, f| format!("/flavors/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "PUT",
            "/flavors/{id}",
            Uniform(OPERATOR_ONLY),
            |_, t, f| format!("/flavors/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "DELETE",
            "/flavors/{id}",
            Uniform(OPERATOR_ONLY),
            |_, t, f| format!("/flavors/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/flavorprofiles",
            Uniform(OPERATOR_ONLY),
            |_, _, _| "/flavorprofiles".into(),
            none,
        ),
        p(
            "POST",
            "/flavorprofiles",
            Uniform(OPERATOR_ONLY),
            |_, _, _| "/flavorprofiles".into(),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/flavorprofiles/{id}",
            Uniform(OPERATOR_ONLY),
            |_, t, f| format!("/flavorprofiles/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "PUT",
            "/flavorprofiles/{id}",
            Uniform(OPERATOR_ONLY),
            |_, t, f| format!("/flavorprofiles/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "DELETE",
            "/flavorprofiles/{id}",
            Uniform(OPERATOR_ONLY),
            |_, t, f| format!("/flavorprofiles/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/availabilityzones",
            Empty,
            |_, _, _| "/availabilityzones".into(),
            none,
        ),
        p(
            "POST",
            "/availabilityzones",
            Uniform("an option Weir lacks: 501 for everyone"),
            |_, _, _| "/availabilityzones".into(),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/availabilityzones/{id}",
            NotFound,
            |_, t, f| format!("/availabilityzones/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "PUT",
            "/availabilityzones/{id}",
            NotFound,
            |_, t, f| format!("/availabilityzones/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "DELETE",
            "/availabilityzones/{id}",
            NotFound,
            |_, t, f| format!("/availabilityzones/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/availabilityzoneprofiles",
            Empty,
            |_, _, _| "/availabilityzoneprofiles".into(),
            none,
        ),
        p(
            "POST",
            "/availabilityzoneprofiles",
            Uniform("an option Weir lacks: 501 for everyone"),
            |_, _, _| "/availabilityzoneprofiles".into(),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "GET",
            "/availabilityzoneprofiles/{id}",
            NotFound,
            |_, t, f| format!("/availabilityzoneprofiles/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "PUT",
            "/availabilityzoneprofiles/{id}",
            NotFound,
            |_, t, f| format!("/availabilityzoneprofiles/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "DELETE",
            "/availabilityzoneprofiles/{id}",
            NotFound,
            |_, t, f| format!("/availabilityzoneprofiles/{}", id(t, f, "lb")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        // L7 policies and rules: B's are not found, nor listed, nor
        // usable as a target or a parent; A's own policy cannot point at
        // B's pool.
        p(
            "GET",
            "/l7policies",
            Empty,
            |_, t, f| format!("/l7policies?id={}", id(t, f, "l7policy")),
            none,
        ),
        p(
            "GET",
            "/l7policies",
            Empty,
            |_, t, f| format!("/l7policies?listener_id={}", id(t, f, "http_listener")),
            none,
        ),
        p(
            "POST",
            "/l7policies",
            NotFound,
            |_, _, _| "/l7policies".into(),
            |_, t, f| {
                Some(
                    json!({"l7policy": {"listener_id": id(t, f, "http_listener"), "action": "REJECT"}}),
                )
            },
        ),
        p(
            "POST",
            "/l7policies",
            NotFound,
            |_, _, _| "/l7policies".into(),
            |a, t, f| {
                Some(
                    json!({"l7policy": {"listener_id": id(a, f, "http_listener"),
                    "action": "REDIRECT_TO_POOL", "redirect_pool_id": id(t, f, "http_pool")}}),
                )
            },
        ),
        p(
            "GET",
            "/l7policies/{l7policy_id}",
            NotFound,
            |_, t, f| format!("/l7policies/{}", id(t, f, "l7policy")),
            none,
        ),
        p(
            "PUT",
            "/l7policies/{l7policy_id}",
            NotFound,
            |_, t, f| format!("/l7policies/{}", id(t, f, "l7policy")),
            |_, _, _| Some(json!({"l7policy": {"name": "x"}})),
        ),
        p(
            "PUT",
            "/l7policies/{l7policy_id}",
            NotFound,
            |a, _, f| format!("/l7policies/{}", id(a, f, "l7policy")),
            |_, t, f| Some(json!({"l7policy": {"redirect_pool_id": id(t, f, "http_pool")}})),
        ),
        p(
            "DELETE",
            "/l7policies/{l7policy_id}",
            NotFound,
            |_, t, f| format!("/l7policies/{}", id(t, f, "l7policy")),
            none,
        ),
        p(
            "GET",
            "/l7policies/{l7policy_id}/rules",
            NotFound,
            |_, t, f| format!("/l7policies/{}/rules", id(t, f, "l7policy")),
            none,
        ),
        p(
            "POST",
            "/l7policies/{l7policy_id}/rules",
            NotFound,
            |_, t, f| format!("/l7policies/{}/rules", id(t, f, "l7policy")),
            |_, _, _| {
                Some(json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/"}}))
            },
        ),
        p(
            "GET",
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            NotFound,
            |_, t, f| {
                format!(
                    "/l7policies/{}/rules/{}",
                    id(t, f, "l7policy"),
                    id(t, f, "l7rule")
                )
            },
            none,
        ),
        // B's rule under A's own policy.
        p(
            "GET",
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            NotFound,
            |a, t, f| {
                format!(
                    "/l7policies/{}/rules/{}",
                    id(a, f, "l7policy"),
                    id(t, f, "l7rule")
                )
            },
            none,
        ),
        p(
            "PUT",
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            NotFound,
            |_, t, f| {
                format!(
                    "/l7policies/{}/rules/{}",
                    id(t, f, "l7policy"),
                    id(t, f, "l7rule")
                )
            },
            |_, _, _| Some(json!({"rule": {"value": "/x"}})),
        ),
        p(
            "PUT",
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            NotFound,
            |a, t, f| {
                format!(
                    "/l7policies/{}/rules/{}",
                    id(a, f, "l7policy"),
                    id(t, f, "l7rule")
                )
            },
            |_, _, _| Some(json!({"rule": {"value": "/x"}})),
        ),
        p(
            "DELETE",
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            NotFound,
            |_, t, f| {
                format!(
                    "/l7policies/{}/rules/{}",
                    id(t, f, "l7policy"),
                    id(t, f, "l7rule")
                )
            },
            none,
        ),
        p(
            "DELETE",
            "/l7policies/{l7policy_id}/rules/{rule_id}",
            NotFound,
            |a, t, f| {
                format!(
                    "/l7policies/{}/rules/{}",
                    id(a, f, "l7policy"),
                    id(t, f, "l7rule")
                )
            },
            none,
        ),
    ]
}

/// Huawei ELB's own `/certificates` (`lbaas::certificates::routes`),
/// served on the Huawei prefix only.
fn huawei_certificate_probes() -> Vec<Probe> {
    vec![
        p(
            "GET",
            "/certificates",
            Empty,
            |_, t, _| format!("/certificates?id={}", t.get("certificate")),
            none,
        ),
        p(
            "GET",
            "/certificates/{certificate_id}",
            NotFound,
            |_, t, _| format!("/certificates/{}", t.get("certificate")),
            none,
        ),
        p(
            "DELETE",
            "/certificates/{certificate_id}",
            NotFound,
            |_, t, _| format!("/certificates/{}", t.get("certificate")),
            none,
        ),
        p(
            "PUT",
            "/certificates/{certificate_id}",
            Uniform("changing a certificate is not offered: 501 for any id"),
            |_, t, _| format!("/certificates/{}", t.get("certificate")),
            |_, _, _| Some(json!({"name": "x"})),
        ),
        p(
            "POST",
            "/certificates",
            Uniform("another project named in the body: 403 ELB.1003 for any project"),
            |_, _, _| "/certificates".into(),
            |_, t, _| {
                Some(
                    json!({"project_id": t.get("project"), "certificate": "x", "private_key": "y"}),
                )
            },
        ),
    ]
}

/// Huawei ELB's own `/whitelists` (`lbaas::whitelists::routes`): B's
/// listener has one; its id is the listener's.
fn huawei_whitelist_probes() -> Vec<Probe> {
    vec![
        p(
            "GET",
            "/whitelists",
            Empty,
            |_, t, _| format!("/whitelists?listener_id={}", t.get("hw.listener")),
            none,
        ),
        p(
            "GET",
            "/whitelists/{whitelist_id}",
            NotFound,
            |_, t, _| format!("/whitelists/{}", t.get("hw.listener")),
            none,
        ),
        p(
            "PUT",
            "/whitelists/{whitelist_id}",
            NotFound,
            |_, t, _| format!("/whitelists/{}", t.get("hw.listener")),
            |_, _, _| Some(json!({"whitelist": {"whitelist": "", "enable_whitelist": false}})),
        ),
        p(
            "DELETE",
            "/whitelists/{whitelist_id}",
            NotFound,
            |_, t, _| format!("/whitelists/{}", t.get("hw.listener")),
            none,
        ),
        p(
            "POST",
            "/whitelists",
            NotFound,
            |_, _, _| "/whitelists".into(),
            |_, t, _| Some(json!({"whitelist": {"listener_id": t.get("hw.listener")}})),
        ),
    ]
}

pub const OCTAVIA_PREFIXES: &[&str] = &[
    "/load-balancer/v2.0/lbaas",
    "/load-balancer/v2/lbaas",
    "/v2.0/lbaas",
    "/v2/lbaas",
];
pub const HUAWEI_PREFIX: &str = "/v2/{project_id}/elb";
/// Where Octavia's operator API of amphorae is served (`lbaas::amphora_routes`).
pub const AMPHORA_PREFIXES: &[&str] = &[
    "/load-balancer/v2/octavia",
    "/load-balancer/v2.0/octavia",
    "/v2/octavia",
    "/v2.0/octavia",
];

/// Octavia's quotas API (`lbaas::octavia_routes`): a project reads its
/// own; another project's is "not found"; writes are the operator's.
fn quota_probes(s: &mut Sweep, token: &str) {
    const WHY: &str = "the operator writes quotas: 403 for any project and any id";
    for prefix in OCTAVIA_PREFIXES {
        let get = |c: &Client, rest: String| c.octavia_at(prefix, token, "GET", &rest, None);
        let o = Dialect::Octavia;
        s.probe(o, &format!("GET {prefix}/quotas"), Empty, |c, _, _| {
            get(c, "/quotas".into())
        });
        s.probe(o, &format!("GET {prefix}/quotas"), Empty, |c, _, t| {
            get(c, format!("/quotas?project_id={}", t.get("project")))
        });
        s.probe(
            o,
            &format!("GET {prefix}/quotas/defaults"),
            Empty,
            |c, _, _| get(c, "/quotas/defaults".into()),
        );
        s.probe(
            o,
            &format!("GET {prefix}/quotas/{{project_id}}"),
            NotFound,
            |c, _, t| get(c, format!("/quotas/{}", t.get("project"))),
        );
        s.probe(
            o,
            &format!("GET {prefix}/quotas/{{project_id}}/default"),
            NotFound,
            |c, _, t| get(c, format!("/quotas/{}/default", t.get("project"))),
        );
        for method in ["PUT", "DELETE"] {
            s.probe(
                o,
                &format!("{method} {prefix}/quotas/{{project_id}}"),
                Expect::Uniform(WHY),
                |c, _, t| {
                    let body = (method == "PUT").then(|| json!({"quota": {"member": 1}}));
                    c.octavia_at(
                        prefix,
                        token,
                        method,
                        &format!("/quotas/{}", t.get("project")),
                        body.as_ref(),
                    )
                },
            );
        }
    }
}

/// The amphora API is the operator's: a project gets 403 whatever it names
/// (there are no amphorae, so no tenant's id can be told apart either).
fn amphora_probes(s: &mut Sweep, token: &str) {
    const WHY: &str = "the operator's amphora API: 403 for any project and any id";
    for prefix in AMPHORA_PREFIXES {
        for (method, route, rest) in [
            ("GET", "/amphorae", "/amphorae".to_owned()),
            ("GET", "/amphorae/{id}", "/amphorae/ID".to_owned()),
            ("DELETE", "/amphorae/{id}", "/amphorae/ID".to_owned()),
            (
                "GET",
                "/amphorae/{id}/stats",
                "/amphorae/ID/stats".to_owned(),
            ),
            (
                "PUT",
                "/amphorae/{id}/failover",
                "/amphorae/ID/failover".to_owned(),
            ),
            (
                "PUT",
                "/amphorae/{id}/config",
                "/amphorae/ID/config".to_owned(),
            ),
        ] {
            let named = format!("{method} {prefix}{route}");
            s.probe(Dialect::Octavia, &named, Expect::Uniform(WHY), |c, _, t| {
                let rest = rest.replace("ID", &id(t, "os", "lb"));
                c.octavia_at(prefix, token, method, &rest, None)
            });
        }
    }
}

pub fn sweep(s: &mut Sweep, token: &str) {
    for prefix in OCTAVIA_PREFIXES {
        for probe in probes() {
            let route = format!("{} {prefix}{}", probe.method, probe.route);
            s.probe(Dialect::Octavia, &route, probe.expect, |c, a, t| {
                let rest = (probe.rest)(a, t, "os");
                c.octavia_at(
                    prefix,
                    token,
                    probe.method,
                    &rest,
                    (probe.body)(a, t, "os").as_ref(),
                )
            });
        }
    }
    for probe in probes()
        .into_iter()
        .chain(huawei_certificate_probes())
        .chain(huawei_whitelist_probes())
    {
        let route = format!("{} {HUAWEI_PREFIX}{}", probe.method, probe.route);
        let body = |a: &Ids, t: &Ids| {
            // Seed 004: a Huawei member always names its subnet.
            (probe.body)(a, t, "hw")
        };
        s.probe(Dialect::Huawei, &route, probe.expect, |c, a, t| {
            c.huawei(probe.method, &(probe.rest)(a, t, "hw"), body(a, t).as_ref())
        });
        // B's project in the path: 403 ELB.1003 before any id is looked
        // at, for B's project as for any other (docs/dialects/huawei.md).
        s.probe(
            Dialect::Huawei,
            &route,
            Expect::Uniform("the path's project is not the key's: 403 ELB.1003 whatever it names"),
            |c, a, t| {
                c.huawei_in(
                    t.get("project"),
                    probe.method,
                    &(probe.rest)(a, t, "hw"),
                    body(a, t).as_ref(),
                )
            },
        );
    }
    amphora_probes(s, token);
    quota_probes(s, token);
    neutron_and_keystone(s, token);
}

fn neutron_and_keystone(s: &mut Sweep, token: &str) {
    let get = |c: &Client, rest: String| c.octavia_at("/v2.0", token, "GET", &rest, None);
    let o = Dialect::Octavia;
    s.probe(o, "GET /v2.0/subnets", Empty, |c, _, t| {
        get(c, format!("/subnets?id={}", t.get("subnet")))
    });
    s.probe(o, "GET /v2.0/subnets", Empty, |c, _, t| {
        get(c, format!("/subnets?network_id={}", t.get("vpc")))
    });
    s.probe(o, "GET /v2.0/subnets/{id}", NotFound, |c, _, t| {
        get(c, format!("/subnets/{}", t.get("subnet")))
    });
    s.probe(o, "GET /v2.0/networks", Empty, |c, _, t| {
        get(c, format!("/networks?id={}", t.get("vpc")))
    });
    s.probe(o, "GET /v2.0/networks/{id}", NotFound, |c, _, t| {
        get(c, format!("/networks/{}", t.get("vpc")))
    });
    // B's network named in a subnet create, B's project in a network
    // create, and B's subnet and network deleted: Neutron's 404, and
    // nothing of B's changes.
    s.probe(o, "POST /v2.0/subnets", NotFound, |c, _, t| {
        let body =
            json!({"subnet": {"network_id": t.get("vpc"), "cidr": "10.0.9.0/24", "ip_version": 4}});
        c.octavia_at("/v2.0", token, "POST", "/subnets", Some(&body))
    });
    s.probe(o, "POST /v2.0/networks", NotFound, |c, _, t| {
        let body = json!({"network": {"name": "mine", "project_id": t.get("project")}});
        c.octavia_at("/v2.0", token, "POST", "/networks", Some(&body))
    });
    s.probe(o, "DELETE /v2.0/subnets/{id}", NotFound, |c, _, t| {
        c.octavia_at(
            "/v2.0",
            token,
            "DELETE",
            &format!("/subnets/{}", t.get("subnet")),
            None,
        )
    });
    s.probe(o, "DELETE /v2.0/networks/{id}", NotFound, |c, _, t| {
        c.octavia_at(
            "/v2.0",
            token,
            "DELETE",
            &format!("/networks/{}", t.get("vpc")),
            None,
        )
    });
    // A load balancer's VIP port has its id.
    s.probe(o, "GET /v2.0/ports", Empty, |c, _, t| {
        get(c, format!("/ports?id={}", t.get("os.lb")))
    });
    s.probe(o, "GET /v2.0/ports", Empty, |c, _, t| {
        get(c, format!("/ports?network_id={}", t.get("vpc")))
    });
    s.probe(o, "GET /v2.0/ports/{id}", NotFound, |c, _, t| {
        get(c, format!("/ports/{}", t.get("os.lb")))
    });

    let k = Dialect::Keystone;
    for path in ["/v3", "/v3/"] {
        s.probe(k, &format!("GET {path}"), Empty, move |c, _, _| {
            c.send("GET", path, &[], b"", format!("GET {path}"))
        });
    }
    // A's credentials asking for B's project scope.
    s.probe(
        k,
        "POST /v3/auth/tokens",
        Expect::Uniform("a scope the credentials do not grant: 401 whatever project it names"),
        |c, _, t| {
            let body = json!({"auth": {
                "identity": {"methods": ["application_credential"], "application_credential": {
                    "id": c.inventory.access_key_id, "secret": c.inventory.secret}},
                "scope": {"project": {"id": t.get("project")}},
            }});
            c.send(
                "POST",
                "/v3/auth/tokens",
                &[("Content-Type", "application/json".to_owned())],
                body.to_string().as_bytes(),
                format!("POST /v3/auth/tokens {body}"),
            )
        },
    );
}

/// Routes the sweep does not probe, and why.
pub const NOT_PROBED: &[(&str, &str)] = &[
    (
        "GET /v3/auth/tokens",
        "takes a token, not an id: a token names its project in clear and cannot be forged (tested in openstack.rs)",
    ),
    (
        "GET /load-balancer/",
        "Octavia's version document: unauthenticated and the same for everyone, it names no resource",
    ),
];
