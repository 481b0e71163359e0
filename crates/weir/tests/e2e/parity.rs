//! Native parity (issue 18): `docs/parity.md` maps every operation a
//! dialect's router serves to the native `/v1` routes and `weir`
//! commands that do the same, or says why there is none (`gap:`,
//! `n/a:`). This test reads the table and holds it to the code: the
//! operations are taken from the routers' sources (each action
//! dispatcher's `ACTIONS`, the LBaaS routers' `.route(…)` calls), the
//! native routes from `weir-api`'s router and `openapi.json`, and the
//! commands from the real binary's command tree (`weir … --help`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::support::BIN;

const TABLE: &str = include_str!("../../../../docs/parity.md");

/// `(METHOD, path)` of every `.route("path", get(..).post(..))` in the
/// function `fn_name` of a router's source.
fn routes_in(source: &str, fn_name: &str) -> BTreeSet<String> {
    let start = source
        .find(fn_name)
        .unwrap_or_else(|| panic!("no {fn_name}"));
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("the fn's end")];
    let mut out = BTreeSet::new();
    for (at, _) in body.match_indices(".route(") {
        let rest = &body[at + ".route(".len()..];
        let open = rest.find('"').unwrap() + 1;
        let close = open + rest[open..].find('"').unwrap();
        let path = &rest[open..close];
        // The handlers run to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut end = rest.len();
        for (i, ch) in rest[close..].char_indices() {
            depth += match ch {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            if depth == 0 {
                end = close + i;
                break;
            }
        }
        let chain = &rest[close..end];
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = chain.match_indices(&format!("{method}(")).any(|(i, _)| {
                let before = chain.as_bytes()[i - 1];
                !before.is_ascii_alphanumeric() && before != b'_'
            });
            if called {
                out.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    out
}

/// Every dialect operation the routers serve, as `(dialect, operation)`.
fn served() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut add = |dialect: &str, ops: BTreeSet<String>| {
        assert!(!ops.is_empty(), "{dialect}: no operation found");
        out.extend(ops.into_iter().map(|op| (dialect.to_owned(), op)));
    };
    let lbaas = include_str!("../../../weir-dialects/src/lbaas/mod.rs");
    add("lbaas", routes_in(lbaas, "pub fn routes("));
    let mut octavia = routes_in(lbaas, "pub fn octavia_routes(");
    octavia.extend(routes_in(lbaas, "pub fn amphora_routes("));
    add("octavia", octavia);
    let mut huawei = routes_in(
        include_str!("../../../weir-dialects/src/lbaas/certificates.rs"),
        "pub fn routes(",
    );
    huawei.extend(routes_in(
        include_str!("../../../weir-dialects/src/lbaas/whitelists.rs"),
        "pub fn routes(",
    ));
    add("huawei", huawei);
    // The dispatchers' lists are checked against their `match` arms by
    // weir-dialects' isolation test.
    let actions: [(&str, &[&str]); 4] = [
        ("zenlayer-zlb", weir_dialects::zenlayer::zlb::ACTIONS),
        ("zenlayer-bmc", weir_dialects::zenlayer::bmc::ACTIONS),
        ("ucloud", weir_dialects::ucloud::ulb::ACTIONS),
        ("aliyun", weir_dialects::aliyun::slb::ACTIONS),
    ];
    for (dialect, list) in actions {
        add(dialect, list.iter().map(|a| (*a).to_owned()).collect());
    }
    out
}

/// The native routes the router serves and `openapi.json` documents.
fn native() -> BTreeSet<String> {
    let router = routes_in(
        include_str!("../../../weir-api/src/routes/mod.rs"),
        "pub fn router(",
    );
    let openapi: serde_json::Value =
        serde_json::from_str(include_str!("../../../weir-api/openapi.json")).unwrap();
    let documented: BTreeSet<String> = openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| *m != "parameters")
                .map(move |m| format!("{} {path}", m.to_ascii_uppercase()))
        })
        .collect();
    router.intersection(&documented).cloned().collect()
}

/// The backquoted items of a cell: `` `GET /v1/x`, `GET /v1/y` ``.
fn quoted(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// Whether `weir <words> --help` is a command of the real binary.
fn is_command(words: &str, cache: &mut BTreeMap<String, bool>) -> bool {
    *cache.entry(words.to_owned()).or_insert_with(|| {
        Command::new(BIN)
            .args(words.split_whitespace())
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn every_dialect_operation_has_its_native_route_and_command_or_a_named_gap() {
    let native = native();
    let mut commands = BTreeMap::new();
    let mut listed = BTreeSet::new();
    let mut gaps = Vec::new();
    let mut problems = Vec::new();
    for line in TABLE
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| dialect") && !l.starts_with("| ---"))
    {
        let cells: Vec<&str> = line
            .split(" | ")
            .map(|c| c.trim_matches(|c| c == '|' || c == ' '))
            .collect();
        let [dialect, operation, route, command] = cells[..] else {
            panic!("not four cells: {line}");
        };
        let operation = operation.trim_matches('`').to_owned();
        if !listed.insert((dialect.to_owned(), operation.clone())) {
            problems.push(format!("listed twice: {dialect} {operation}"));
        }
        if let Some(why) = route
            .strip_prefix("gap: ")
            .or_else(|| route.strip_prefix("n/a: "))
        {
            assert!(!why.trim().is_empty(), "a gap says what is missing: {line}");
            if command != "gap" && command != "n/a" {
                problems.push(format!(
                    "{dialect} {operation}: no route but a command: {line}"
                ));
            }
            if route.starts_with("gap") {
                gaps.push(format!("{dialect} {operation}"));
            }
            continue;
        }
        let routes = quoted(route);
        let words = quoted(command);
        if routes.is_empty() || words.is_empty() {
            problems.push(format!(
                "{dialect} {operation}: no route or command named: {line}"
            ));
        }
        for r in routes {
            if !native.contains(r) {
                problems.push(format!("{dialect} {operation}: `{r}` is not served by the native router and documented in openapi.json"));
            }
        }
        for w in words {
            let Some(args) = w.strip_prefix("weir ") else {
                problems.push(format!(
                    "{dialect} {operation}: `{w}` is not a weir command"
                ));
                continue;
            };
            if !is_command(args, &mut commands) {
                problems.push(format!(
                    "{dialect} {operation}: `{w}` is not in weir's command tree"
                ));
            }
        }
    }
    let served = served();
    for missing in served.difference(&listed) {
        problems.push(format!(
            "served but not in docs/parity.md: {} {}",
            missing.0, missing.1
        ));
    }
    for extra in listed.difference(&served) {
        problems.push(format!(
            "in docs/parity.md but not served: {} {}",
            extra.0, extra.1
        ));
    }
    assert!(
        problems.is_empty(),
        "docs/parity.md:\n{}",
        problems.join("\n")
    );
    // The doc's own count stays true.
    let summary = format!("Today: {} operations, {} gaps,", listed.len(), gaps.len());
    assert!(
        TABLE.contains(&summary),
        "docs/parity.md should say {summary:?}"
    );
    // A command that does not exist is caught (the check is not vacuous).
    assert!(!is_command("pool frobnicate", &mut commands));
    assert!(is_command("pool update", &mut commands));
}
