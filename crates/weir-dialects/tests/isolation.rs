//! The tenant isolation sweep (issue 14): two projects, A and B, each
//! with its own VPC, subnet, instances and, through every dialect, load
//! balancers, listeners, pools, backends, a health monitor and a server
//! group. Project A's credentials are then tried on every route of every
//! dialect with B's ids — read, update, delete, register into, list
//! filtered by B's id, B's project in the path — and each answer must be
//! the dialect's not-found (or an empty listing, or a refusal that does
//! not depend on the id), exactly as for ids that exist nowhere
//! (`isolation/probe.rs`). Afterwards B's resources, read with B's
//! credentials, equal the snapshot taken before, and the change-log
//! revision has not moved: nothing was written.
//!
//! The routes are enumerated from the routers' own sources (each
//! dispatcher's `ACTIONS`, checked against its `match` arms; the axum
//! routers' `.route(…)` calls; the native API also against its
//! `openapi.json`), so a route added without a probe fails here.
//!
//! Runs on SQLite; `WEIR_TEST_STORE=postgres` runs it on PostgreSQL.

#[path = "isolation/aliyun.rs"]
mod aliyun;
#[path = "golden/harness.rs"]
mod harness;
#[path = "isolation/keymgr.rs"]
mod keymgr;
#[path = "isolation/lbaas.rs"]
mod lbaas;
#[path = "isolation/native.rs"]
mod native;
#[path = "isolation/native_parity.rs"]
mod native_parity;
#[path = "isolation/probe.rs"]
mod probe;
#[path = "isolation/ucloud.rs"]
mod ucloud;
#[path = "isolation/world.rs"]
mod world;
#[path = "isolation/zenlayer.rs"]
mod zenlayer;

use std::collections::BTreeSet;

use probe::{dispatched_actions, routed, Dialect, Route, Sweep};

fn token(c: &harness::Client) -> String {
    let (reply, token) = c.keystone_token();
    assert_eq!(reply.status, 201, "{}", reply.text);
    token
}

#[test]
fn project_a_cannot_see_or_touch_project_b_on_any_route() {
    let (clients, _dir) = harness::start_projects(&["tenant-a", "tenant-b"]);
    let (a, b) = (&clients[0], &clients[1]);
    let (a_token, b_token) = (token(a), token(b));
    let mut a_ids = world::build(a, &a_token);
    let mut b_ids = world::build(b, &b_token);
    keymgr::build(a, &a_token, &mut a_ids);
    keymgr::build(b, &b_token, &mut b_ids);
    world::lone_instance(b, &mut b_ids, "10.0.1.31");
    world::stop_some(b, &b_ids);

    for (role, id) in &a_ids.0 {
        assert_ne!(b_ids.0.get(role), Some(id), "A and B share their {role}");
    }

    let before = world::snapshot(b, &b_token, &b_ids);
    let a_before = world::snapshot(a, &a_token, &a_ids);
    let revision = world::revision(b);

    let mut sweep = Sweep::new(a, &a_ids, &b_ids);
    native::sweep(&mut sweep);
    native_parity::sweep(&mut sweep);
    zenlayer::sweep(&mut sweep);
    ucloud::sweep(&mut sweep);
    aliyun::sweep(&mut sweep);
    lbaas::sweep(&mut sweep, &a_token);
    keymgr::sweep(&mut sweep, &a_token);

    let routes = every_route();
    let missing: Vec<&Route> = routes.difference(&sweep.covered).collect();
    let unknown: Vec<&Route> = sweep.covered.difference(&routes).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "routes without a probe: {missing:?}\nprobes of routes no router serves: {unknown:?}"
    );
    assert!(
        sweep.failures.is_empty(),
        "{} of {} probes leak:\n{}",
        sweep.failures.len(),
        sweep.probes,
        sweep.failures.join("\n\n")
    );
    assert_eq!(world::revision(b), revision, "the sweep wrote something");
    assert_eq!(
        world::snapshot(b, &b_token, &b_ids),
        before,
        "B's resources changed"
    );
    assert_eq!(
        world::snapshot(a, &a_token, &a_ids),
        a_before,
        "A's resources changed"
    );
    eprintln!(
        "isolation sweep: {} probes over {} routes, each with B's ids and ghost ids",
        sweep.probes,
        sweep.covered.len()
    );
}

/// Every route every router serves, from the sources, minus the few the
/// sweep documents as taking no tenant's id.
fn every_route() -> BTreeSet<Route> {
    let mut out = BTreeSet::new();
    let actions: [(Dialect, &[&str], &str); 4] = [
        (
            Dialect::Zlb,
            weir_dialects::zenlayer::zlb::ACTIONS,
            include_str!("../src/zenlayer/zlb.rs"),
        ),
        (
            Dialect::Bmc,
            weir_dialects::zenlayer::bmc::ACTIONS,
            include_str!("../src/zenlayer/bmc.rs"),
        ),
        (
            Dialect::Ucloud,
            weir_dialects::ucloud::ulb::ACTIONS,
            include_str!("../src/ucloud/ulb.rs"),
        ),
        (
            Dialect::Aliyun,
            weir_dialects::aliyun::slb::ACTIONS,
            include_str!("../src/aliyun/slb/mod.rs"),
        ),
    ];
    for (dialect, listed, source) in actions {
        assert_eq!(
            listed
                .iter()
                .map(|a| (*a).to_owned())
                .collect::<BTreeSet<_>>(),
            dispatched_actions(source).into_iter().collect(),
            "{dialect:?}: ACTIONS is not the dispatcher's list"
        );
        out.extend(listed.iter().map(|a| (dialect, (*a).to_owned())));
    }

    let native = routed(
        include_str!("../../weir-api/src/routes/mod.rs"),
        "pub fn router(",
    );
    let openapi: serde_json::Value =
        serde_json::from_str(include_str!("../../weir-api/openapi.json")).unwrap();
    let documented: BTreeSet<(String, String)> = openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| *m != "parameters")
                .map(|m| (m.to_ascii_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        native, documented,
        "routes/mod.rs and openapi.json disagree"
    );
    let skipped: BTreeSet<&str> = native::NOT_PROBED
        .iter()
        .chain(lbaas::NOT_PROBED)
        .map(|(route, _)| *route)
        .collect();
    let named = |(method, path): &(String, String)| format!("{method} {path}");
    out.extend(
        native
            .iter()
            .map(named)
            .filter(|r| !skipped.contains(r.as_str()))
            .map(|r| (Dialect::Native, r)),
    );

    let lbaas_routes = routed(include_str!("../src/lbaas/mod.rs"), "pub fn routes(");
    for (method, path) in &lbaas_routes {
        for prefix in lbaas::OCTAVIA_PREFIXES {
            out.insert((Dialect::Octavia, format!("{method} {prefix}{path}")));
        }
        out.insert((
            Dialect::Huawei,
            format!("{method} {}{path}", lbaas::HUAWEI_PREFIX),
        ));
    }
    let octavia_only = routed(
        include_str!("../src/lbaas/mod.rs"),
        "pub fn octavia_routes(",
    );
    for (method, path) in &octavia_only {
        for prefix in lbaas::OCTAVIA_PREFIXES {
            out.insert((Dialect::Octavia, format!("{method} {prefix}{path}")));
        }
    }
    let amphorae = routed(
        include_str!("../src/lbaas/mod.rs"),
        "pub fn amphora_routes(",
    );
    for (method, path) in &amphorae {
        for prefix in lbaas::AMPHORA_PREFIXES {
            out.insert((Dialect::Octavia, format!("{method} {prefix}{path}")));
        }
    }
    let certificates = routed(
        include_str!("../src/lbaas/certificates.rs"),
        "pub fn routes(",
    );
    let whitelists = routed(include_str!("../src/lbaas/whitelists.rs"), "pub fn routes(");
    for (method, path) in certificates.iter().chain(&whitelists) {
        out.insert((
            Dialect::Huawei,
            format!("{method} {}{path}", lbaas::HUAWEI_PREFIX),
        ));
    }
    let openstack = routed(
        include_str!("../src/openstack/mod.rs"),
        "pub(crate) fn routes(",
    );
    for route in openstack.iter().map(named) {
        if skipped.contains(route.as_str()) {
            continue;
        }
        let dialect = if route.contains("/v3") {
            Dialect::Keystone
        } else {
            Dialect::Octavia
        };
        out.insert((dialect, route));
    }
    let barbican = routed(
        include_str!("../src/openstack/barbican/mod.rs"),
        "pub(super) fn routes(",
    );
    for (method, path) in &barbican {
        out.insert((
            Dialect::KeyManager,
            format!("{method} {}{path}", keymgr::PREFIX),
        ));
    }
    // The nests themselves must be the prefixes the sweep probes.
    for source in [
        include_str!("../src/openstack/mod.rs"),
        include_str!("../src/huawei/mod.rs"),
    ] {
        for nest in source.match_indices(".nest(\"") {
            let rest = &source[nest.0 + ".nest(\"".len()..];
            let prefix = &rest[..rest.find('"').unwrap()];
            assert!(
                lbaas::OCTAVIA_PREFIXES.contains(&prefix)
                    || lbaas::AMPHORA_PREFIXES.contains(&prefix)
                    || prefix == lbaas::HUAWEI_PREFIX
                    || prefix == keymgr::PREFIX,
                "an LBaaS prefix the sweep does not probe: {prefix}"
            );
        }
    }
    out
}
