//! Native `/v1` (crates/weir-api/src/routes/): project A's bearer
//! token on every route that takes an id, with B's ids.

use serde_json::json;

use crate::probe::{Dialect::Native, Expect, Ids, Sweep};
use crate::world::native;

/// Inventory writes are the operator's: a project token gets 403
/// Forbidden whatever it names (docs/errors.md), so nothing is learnt.
pub const OPERATOR_ONLY: Expect = Expect::Uniform("operator-only route: 403 Forbidden for any id");

pub fn sweep(s: &mut Sweep) {
    let on =
        |method: &'static str, path: fn(&Ids, &Ids) -> String, body: Option<serde_json::Value>| {
            move |c: &crate::harness::Client, a: &Ids, t: &Ids| {
                native(c, method, &path(a, t), body.as_ref())
            }
        };
    let with = |method: &'static str,
                path: fn(&Ids, &Ids) -> String,
                body: fn(&Ids, &Ids) -> serde_json::Value| {
        move |c: &crate::harness::Client, a: &Ids, t: &Ids| {
            native(c, method, &path(a, t), Some(&body(a, t)))
        }
    };

    // Listings: A's own only, whoever else exists.
    for path in [
        "/v1/projects",
        "/v1/vpcs",
        "/v1/subnets",
        "/v1/instances",
        "/v1/loadbalancers",
        "/v1/certificates",
        "/v1/acls",
        "/v1/quotas",
    ] {
        s.probe(
            Native,
            &format!("GET {path}"),
            Expect::Empty,
            move |c, _, _| native(c, "GET", path, None),
        );
    }
    s.probe(Native, "GET /healthz", Expect::Empty, |c, _, _| {
        native(c, "GET", "/healthz", None)
    });
    s.probe(Native, "GET /v1/openapi.json", Expect::Empty, |c, _, _| {
        native(c, "GET", "/v1/openapi.json", None)
    });

    s.probe(
        Native,
        "POST /v1/projects",
        OPERATOR_ONLY,
        on(
            "POST",
            |_, _| "/v1/projects".into(),
            Some(json!({"name": "x"})),
        ),
    );
    for (method, body) in [("POST", Some(json!({"role": "admin"}))), ("GET", None)] {
        s.probe(
            Native,
            &format!("{method} /v1/projects/{{id}}/credentials"),
            OPERATOR_ONLY,
            on(
                method,
                |_, t| format!("/v1/projects/{}/credentials", t.get("project")),
                body,
            ),
        );
    }
    s.probe(
        Native,
        "GET /v1/projects/{id}/quotas",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/projects/{}/quotas", t.get("project")),
            None,
        ),
    );
    for (method, body) in [("PUT", Some(json!({"member": 1}))), ("DELETE", None)] {
        s.probe(
            Native,
            &format!("{method} /v1/projects/{{id}}/quotas"),
            OPERATOR_ONLY,
            on(
                method,
                |_, t| format!("/v1/projects/{}/quotas", t.get("project")),
                body,
            ),
        );
    }
    s.probe(
        Native,
        "DELETE /v1/projects/{id}/credentials/{access_key_id}",
        OPERATOR_ONLY,
        on(
            "DELETE",
            |_, t| format!("/v1/projects/{}/credentials/WKNONE", t.get("project")),
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/vpcs",
        OPERATOR_ONLY,
        with(
            "POST",
            |_, _| "/v1/vpcs".into(),
            |_, t| json!({"project_id": t.get("project"), "cidr": "10.9.0.0/16"}),
        ),
    );
    s.probe(
        Native,
        "POST /v1/subnets",
        OPERATOR_ONLY,
        with(
            "POST",
            |_, _| "/v1/subnets".into(),
            |_, t| json!({"vpc_id": t.get("vpc"), "cidr": "10.0.9.0/24"}),
        ),
    );
    s.probe(Native, "POST /v1/instances", OPERATOR_ONLY, with("POST", |_, _| "/v1/instances".into(), |_, t| {
        json!({"project_id": t.get("project"), "subnet_id": t.get("subnet"), "private_ip": "10.0.1.99"})
    }));
    s.probe(
        Native,
        "PATCH /v1/instances/{id}",
        OPERATOR_ONLY,
        on(
            "PATCH",
            |_, t| format!("/v1/instances/{}", t.get("vm0")),
            Some(json!({"state": "stopped"})),
        ),
    );
    // Access control lists: B's (made through Aliyun) is not found.
    for method in ["GET", "DELETE"] {
        s.probe(
            Native,
            &format!("{method} /v1/acls/{{id}}"),
            Expect::NotFound,
            on(
                method,
                |_, t| format!("/v1/acls/{}", t.get("aliyun.acl")),
                None,
            ),
        );
    }
    s.probe(
        Native,
        "PATCH /v1/acls/{id}",
        Expect::NotFound,
        on(
            "PATCH",
            |_, t| format!("/v1/acls/{}", t.get("aliyun.acl")),
            Some(json!({"name": "mine"})),
        ),
    );
    s.probe(
        Native,
        "POST /v1/acls/{id}/entries",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/acls/{}/entries", t.get("aliyun.acl")),
            Some(json!({"entries": [{"cidr": "198.51.100.0/24"}]})),
        ),
    );
    s.probe(
        Native,
        "POST /v1/acls/{id}/entries/remove",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/acls/{}/entries/remove", t.get("aliyun.acl")),
            Some(json!({"cidrs": ["192.0.2.0/24"]})),
        ),
    );
    s.probe(
        Native,
        "POST /v1/acls",
        Expect::NotFound,
        with(
            "POST",
            |_, _| "/v1/acls".into(),
            |_, t| json!({"project_id": t.get("project"), "name": "x"}),
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/listeners/{id}",
        Expect::NotFound,
        with(
            "PATCH",
            |a, _| format!("/v1/listeners/{}", a.get("native.listener")),
            |_, t| json!({"acl_id": t.get("aliyun.acl"), "acl_mode": "deny"}),
        ),
    );
    for method in ["GET", "DELETE"] {
        s.probe(
            Native,
            &format!("{method} /v1/certificates/{{id}}"),
            Expect::NotFound,
            on(
                method,
                |_, t| format!("/v1/certificates/{}", t.get("certificate")),
                None,
            ),
        );
    }
    s.probe(
        Native,
        "POST /v1/certificates",
        Expect::NotFound,
        with(
            "POST",
            |_, _| "/v1/certificates".into(),
            |_, t| json!({"project_id": t.get("project"), "certificate": "x", "private_key": "y"}),
        ),
    );
    s.probe(
        Native,
        "GET /v1/instances/{id}",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/instances/{}", t.get("vm0")),
            None,
        ),
    );

    s.probe(
        Native,
        "POST /v1/loadbalancers",
        Expect::NotFound,
        with(
            "POST",
            |_, _| "/v1/loadbalancers".into(),
            |_, t| json!({"subnet_id": t.get("subnet")}),
        ),
    );
    let lb = |_: &Ids, t: &Ids| format!("/v1/loadbalancers/{}", t.get("native.lb"));
    s.probe(
        Native,
        "GET /v1/loadbalancers/{id}",
        Expect::NotFound,
        on("GET", lb, None),
    );
    s.probe(
        Native,
        "DELETE /v1/loadbalancers/{id}",
        Expect::NotFound,
        on(
            "DELETE",
            |_, t| format!("/v1/loadbalancers/{}?cascade=true", t.get("native.lb")),
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/stop",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/loadbalancers/{}/stop", t.get("native.lb")),
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/start",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/loadbalancers/{}/start", t.get("native.lb")),
            None,
        ),
    );
    s.probe(
        Native,
        "GET /v1/loadbalancers/{id}/listeners",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/loadbalancers/{}/listeners", t.get("native.lb")),
            None,
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/loadbalancers/{id}",
        Expect::NotFound,
        on("PATCH", lb, Some(json!({"name": "taken"}))),
    );
    s.probe(
        Native,
        "GET /v1/loadbalancers/{id}/stats",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/loadbalancers/{}/stats", t.get("native.lb")),
            None,
        ),
    );
    s.probe(
        Native,
        "GET /v1/listeners/{id}/stats",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/listeners/{}/stats", t.get("native.listener")),
            None,
        ),
    );
    s.probe(
        Native,
        "GET /v1/loadbalancers/{id}/pools",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/loadbalancers/{}/pools", t.get("native.lb")),
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/listeners",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/loadbalancers/{}/listeners", t.get("native.lb")),
            Some(json!({"protocol": "tcp", "port": 80})),
        ),
    );

    // Registering into B's targets with A's own machine, and into A's
    // targets with B's machine.
    let own_backend =
        |a: &Ids, _: &Ids| json!({"backends": [{"instance_id": a.get("vm0"), "port": 8080}]});
    let their_backend =
        |_: &Ids, t: &Ids| json!({"backends": [{"instance_id": t.get("vm2"), "port": 8081}]});
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/backends",
        Expect::NotFound,
        with(
            "POST",
            |_, t| format!("/v1/loadbalancers/{}/backends", t.get("native.lb")),
            own_backend,
        ),
    );
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/backends",
        Expect::NotFound,
        with(
            "POST",
            |a, _| format!("/v1/loadbalancers/{}/backends", a.get("native.lb")),
            their_backend,
        ),
    );

    s.probe(
        Native,
        "DELETE /v1/listeners/{id}",
        Expect::NotFound,
        on(
            "DELETE",
            |_, t| format!("/v1/listeners/{}", t.get("native.listener")),
            None,
        ),
    );
    s.probe(
        Native,
        "GET /v1/listeners/{id}",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/listeners/{}", t.get("native.listener")),
            None,
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/listeners/{id}",
        Expect::NotFound,
        on(
            "PATCH",
            |_, t| format!("/v1/listeners/{}", t.get("native.listener")),
            Some(json!({"allowed_cidrs": [], "enabled": false})),
        ),
    );
    s.probe(
        Native,
        "GET /v1/listeners/{id}/backends",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/listeners/{}/backends", t.get("native.listener")),
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/listeners/{id}/backends",
        Expect::NotFound,
        with(
            "POST",
            |_, t| format!("/v1/listeners/{}/backends", t.get("native.listener")),
            own_backend,
        ),
    );
    s.probe(
        Native,
        "POST /v1/listeners/{id}/backends",
        Expect::NotFound,
        with(
            "POST",
            |a, _| format!("/v1/listeners/{}/backends", a.get("native.listener")),
            their_backend,
        ),
    );

    // L7 policies and rules (one registry: Octavia's, named natively).
    s.probe(
        Native,
        "GET /v1/listeners/{id}/l7policies",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/listeners/{}/l7policies", t.get("os.http_listener")),
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/listeners/{id}/l7policies",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/listeners/{}/l7policies", t.get("os.http_listener")),
            Some(json!({"action": "reject"})),
        ),
    );
    s.probe(
        Native,
        "POST /v1/listeners/{id}/l7policies",
        Expect::NotFound,
        with(
            "POST",
            |a, _| format!("/v1/listeners/{}/l7policies", a.get("os.http_listener")),
            |_, t| json!({"action": "redirect-to-pool", "redirect_pool_id": t.get("os.http_pool")}),
        ),
    );
    for method in ["GET", "PATCH", "DELETE"] {
        s.probe(
            Native,
            &format!("{method} /v1/l7policies/{{id}}"),
            Expect::NotFound,
            on(
                method,
                |_, t| format!("/v1/l7policies/{}", t.get("os.l7policy")),
                (method == "PATCH").then(|| json!({"name": "x"})),
            ),
        );
    }
    s.probe(
        Native,
        "PATCH /v1/l7policies/{id}",
        Expect::NotFound,
        with(
            "PATCH",
            |a, _| format!("/v1/l7policies/{}", a.get("os.l7policy")),
            |_, t| json!({"redirect_pool_id": t.get("os.http_pool")}),
        ),
    );
    s.probe(
        Native,
        "POST /v1/l7policies/{id}/rules",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/l7policies/{}/rules", t.get("os.l7policy")),
            Some(json!({"type": "path", "compare_type": "equal-to", "value": "/"})),
        ),
    );
    s.probe(
        Native,
        "DELETE /v1/l7policies/{id}/rules/{rule_id}",
        Expect::NotFound,
        on(
            "DELETE",
            |_, t| {
                format!(
                    "/v1/l7policies/{}/rules/{}",
                    t.get("os.l7policy"),
                    t.get("os.l7rule")
                )
            },
            None,
        ),
    );
    s.probe(
        Native,
        "DELETE /v1/l7policies/{id}/rules/{rule_id}",
        Expect::NotFound,
        on(
            "DELETE",
            |a, t| {
                format!(
                    "/v1/l7policies/{}/rules/{}",
                    a.get("os.l7policy"),
                    t.get("os.l7rule")
                )
            },
            None,
        ),
    );

    s.probe(
        Native,
        "GET /v1/pools/{id}",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/pools/{}", t.get("native.pool")),
            None,
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/pools/{id}",
        Expect::NotFound,
        on(
            "PATCH",
            |_, t| format!("/v1/pools/{}", t.get("native.pool")),
            Some(json!({"health_check": null})),
        ),
    );
    s.probe(
        Native,
        "GET /v1/pools/{id}/backends",
        Expect::NotFound,
        on(
            "GET",
            |_, t| format!("/v1/pools/{}/backends", t.get("native.pool")),
            None,
        ),
    );
    // A's own address, placed in B's subnet.
    s.probe(Native, "POST /v1/pools/{id}/backends", Expect::NotFound, with("POST", |a, _| {
        format!("/v1/pools/{}/backends", a.get("native.pool"))
    }, |_, t| json!({"backends": [{"address": "10.0.1.13", "subnet_id": t.get("subnet"), "port": 8081}]})));
    // B's backend id as the page marker of A's own pool.
    s.probe(
        Native,
        "GET /v1/pools/{id}/backends",
        Expect::Empty,
        on(
            "GET",
            |a, t| {
                format!(
                    "/v1/pools/{}/backends?marker={}",
                    a.get("native.pool"),
                    t.get("native.backend")
                )
            },
            None,
        ),
    );
    s.probe(
        Native,
        "POST /v1/pools/{id}/backends",
        Expect::NotFound,
        with(
            "POST",
            |_, t| format!("/v1/pools/{}/backends", t.get("native.pool")),
            own_backend,
        ),
    );
    s.probe(
        Native,
        "POST /v1/pools/{id}/backends",
        Expect::NotFound,
        with(
            "POST",
            |a, _| format!("/v1/pools/{}/backends", a.get("native.pool")),
            their_backend,
        ),
    );

    let backend = |_: &Ids, t: &Ids| format!("/v1/backends/{}", t.get("native.backend"));
    s.probe(
        Native,
        "GET /v1/backends/{id}",
        Expect::NotFound,
        on("GET", backend, None),
    );
    s.probe(
        Native,
        "PATCH /v1/backends/{id}",
        Expect::NotFound,
        on("PATCH", backend, Some(json!({"weight": 1}))),
    );
    s.probe(
        Native,
        "DELETE /v1/backends/{id}",
        Expect::NotFound,
        on("DELETE", backend, None),
    );
}

/// Routes the sweep does not probe, and why.
pub const NOT_PROBED: &[(&str, &str)] = &[
    (
        "GET /metrics",
        "operator-facing and takes no id: it needs the admin or metrics token (a tenant's gets 401), tested in weir-api tests/api/edge.rs",
    ),
    (
        "GET /v1/flavors/{id}",
        "a flavor belongs to no project: every project reads the operator's catalogue (a load balancer names a flavor), tested in weir tests/e2e/flavors.rs",
    ),
    (
        "GET /v1/nodes",
        "the operator's cluster view, no project's resource and no id: a project's token is refused (403), tested in weir tests/e2e/cluster.rs",
    ),
    (
        "GET /v1/cluster/live",
        "the nodes' route and no id: only the cluster token (derived from the shared secrets key) or the admin token reads it, a project's token gets 401, tested in weir tests/e2e/shared_store.rs",
    ),
    (
        "GET /v1/watch",
        "a stream, not an answer, and it takes no id: that a project's stream carries none of another project's changes (ids, names, or how many: positions are the project's own) is tested over a socket in weir-api tests/api/watch.rs",
    ),
];
