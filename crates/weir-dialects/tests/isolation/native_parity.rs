//! Native `/v1` routes that completed the parity with the dialects
//! (docs/parity.md): the flavor catalogue, L7 rule update, domain
//! extensions, batch replace of a pool's backends, and server groups
//! made, renamed and deleted. Project A's token with B's ids, as in
//! `native.rs`.

use serde_json::json;

use crate::probe::{Dialect::Native, Expect, Ids, Sweep};
use crate::world::native;

use super::native::OPERATOR_ONLY;

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

    // The flavor catalogue is the operator's: a project's token writes
    // nothing and reads no profile, whatever id it names.
    for (method, route, path, body) in [
        (
            "POST",
            "POST /v1/flavors",
            "/v1/flavors",
            Some(json!({"name": "x", "profile_id": "x"})),
        ),
        (
            "PATCH",
            "PATCH /v1/flavors/{id}",
            "/v1/flavors/none",
            Some(json!({"enabled": false})),
        ),
        (
            "DELETE",
            "DELETE /v1/flavors/{id}",
            "/v1/flavors/none",
            None,
        ),
        (
            "POST",
            "POST /v1/flavorprofiles",
            "/v1/flavorprofiles",
            Some(json!({"name": "x"})),
        ),
        ("GET", "GET /v1/flavorprofiles", "/v1/flavorprofiles", None),
        (
            "GET",
            "GET /v1/flavorprofiles/{id}",
            "/v1/flavorprofiles/none",
            None,
        ),
        (
            "PATCH",
            "PATCH /v1/flavorprofiles/{id}",
            "/v1/flavorprofiles/none",
            Some(json!({"name": "x"})),
        ),
        (
            "DELETE",
            "DELETE /v1/flavorprofiles/{id}",
            "/v1/flavorprofiles/none",
            None,
        ),
    ] {
        s.probe(Native, route, OPERATOR_ONLY, move |c, _, _| {
            native(c, method, path, body.as_ref())
        });
    }
    s.probe(Native, "GET /v1/flavors", Expect::Empty, |c, _, _| {
        native(c, "GET", "/v1/flavors", None)
    });
    // B's rule, under B's policy or under A's own.
    s.probe(
        Native,
        "PATCH /v1/l7policies/{id}/rules/{rule_id}",
        Expect::NotFound,
        on(
            "PATCH",
            |_, t| {
                format!(
                    "/v1/l7policies/{}/rules/{}",
                    t.get("os.l7policy"),
                    t.get("os.l7rule")
                )
            },
            Some(json!({"value": "/mine"})),
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/l7policies/{id}/rules/{rule_id}",
        Expect::NotFound,
        on(
            "PATCH",
            |a, t| {
                format!(
                    "/v1/l7policies/{}/rules/{}",
                    a.get("os.l7policy"),
                    t.get("os.l7rule")
                )
            },
            Some(json!({"value": "/mine"})),
        ),
    );

    // Domain extensions on B's listener (with A's own certificate), and
    // B's extension changed or removed.
    s.probe(
        Native,
        "POST /v1/listeners/{id}/domains",
        Expect::NotFound,
        with(
            "POST",
            |_, t| format!("/v1/listeners/{}/domains", t.get("native.listener")),
            |a, _| json!({"domain": "shop.example.test", "certificate_id": a.get("certificate")}),
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/listeners/{id}/domains/{domain_id}",
        Expect::NotFound,
        with(
            "PATCH",
            |_, t| {
                format!(
                    "/v1/listeners/{}/domains/{}",
                    t.get("native.listener"),
                    t.get("aliyun.extension")
                )
            },
            |a, _| json!({"certificate_id": a.get("certificate")}),
        ),
    );
    s.probe(
        Native,
        "DELETE /v1/listeners/{id}/domains/{domain_id}",
        Expect::NotFound,
        on(
            "DELETE",
            |_, t| {
                format!(
                    "/v1/listeners/{}/domains/{}",
                    t.get("native.listener"),
                    t.get("aliyun.extension")
                )
            },
            None,
        ),
    );
    // The batch replace: of B's pool, and of A's own with a backend
    // placed in B's subnet.
    s.probe(
        Native,
        "PUT /v1/pools/{id}/backends",
        Expect::NotFound,
        on(
            "PUT",
            |_, t| format!("/v1/pools/{}/backends", t.get("native.pool")),
            Some(json!({"backends": []})),
        ),
    );
    s.probe(
        Native,
        "PUT /v1/pools/{id}/backends",
        Expect::NotFound,
        with(
            "PUT",
            |a, _| format!("/v1/pools/{}/backends", a.get("native.pool")),
            |_, t| {
                json!({"additive_only": true, "backends": [
                    {"address": "10.0.1.14", "port": 8082, "subnet_id": t.get("subnet")}
                ]})
            },
        ),
    );
    // Server groups: made on B's load balancer, attached to B's
    // listener from A's, renamed or deleted by A.
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/pools",
        Expect::NotFound,
        on(
            "POST",
            |_, t| format!("/v1/loadbalancers/{}/pools", t.get("native.lb")),
            Some(json!({"name": "intruder"})),
        ),
    );
    s.probe(
        Native,
        "POST /v1/loadbalancers/{id}/pools",
        Expect::NotFound,
        with(
            "POST",
            |a, _| format!("/v1/loadbalancers/{}/pools", a.get("native.lb")),
            |_, t| json!({"name": "intruder", "listener_id": t.get("native.listener")}),
        ),
    );
    s.probe(
        Native,
        "PATCH /v1/pools/{id}",
        Expect::NotFound,
        on(
            "PATCH",
            |_, t| format!("/v1/pools/{}", t.get("native.pool")),
            Some(json!({"name": "mine"})),
        ),
    );
    s.probe(
        Native,
        "DELETE /v1/pools/{id}",
        Expect::NotFound,
        on(
            "DELETE",
            |_, t| format!("/v1/pools/{}?detach=true", t.get("native.pool")),
            None,
        ),
    );
}
