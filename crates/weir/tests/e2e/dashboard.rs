//! `docs/grafana/weir-dashboard.json` against `docs/metrics.md`: every
//! PromQL expression of the dashboard (panel targets and template
//! queries) names only families the doc lists, a histogram only through
//! its `_bucket`/`_sum`/`_count` series, and selects or groups by
//! labels those families carry; so a renamed or dropped family breaks
//! the build instead of leaving an empty panel.

use std::collections::{BTreeMap, BTreeSet};

use crate::metrics_doc::documented;

const DASHBOARD: &str = include_str!("../../../../docs/grafana/weir-dashboard.json");

/// Every string under an `expr`, `query` or `definition` key.
fn expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s))
                        if s.contains("weir_") =>
                    {
                        out.push(s.clone())
                    }
                    _ => expressions(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

/// The metric names in `expr`, each with the label names of its
/// selector (`name{a="x",b=~"y"}`), if any.
fn selectors(expr: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("weir_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let name = expr[start..end].to_owned();
        let mut labels = Vec::new();
        if bytes.get(end) == Some(&b'{') {
            let close = end + expr[end..].find('}').expect("unclosed selector");
            for matcher in expr[end + 1..close].split(',') {
                let label: String = matcher
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                labels.push(label);
            }
            end = close;
        }
        out.push((name, labels));
        i = end;
    }
    out
}

/// The labels of `by (...)` clauses.
fn grouped_by(expr: &str) -> Vec<String> {
    expr.match_indices("by (")
        .flat_map(|(at, _)| {
            let rest = &expr[at + 4..];
            let close = rest.find(')').expect("unclosed by clause");
            rest[..close].split(',').map(|l| l.trim().to_owned())
        })
        .collect()
}

/// The labels a family's series carry (`instance`/`job` are the
/// scraper's, allowed everywhere).
fn labels_of(family: &str, series: &str) -> BTreeSet<&'static str> {
    let mut labels = BTreeSet::from(["instance", "job"]);
    if family.starts_with("weir_listener_") {
        labels.insert("listener");
    } else if family.starts_with("weir_backend_") {
        labels.insert("backend");
    }
    if family == "weir_backend_http_responses_total" {
        labels.insert("class");
    }
    match family {
        "weir_node_up" => labels.extend(["node", "name"]),
        "weir_node_applied_revision_lag" => labels.extend(["node"]),
        "weir_vip_served" => labels.extend(["vip"]),
        "weir_vip_lease_epoch" => labels.extend(["vip", "owner"]),
        _ => {}
    }
    if series.ends_with("_bucket") {
        labels.insert("le");
    }
    labels
}

#[test]
fn the_dashboard_queries_only_documented_families_and_their_labels() {
    let doc = documented();
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut shown = BTreeMap::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let targets = panel["targets"].as_array().map_or(0, Vec::len);
        assert!(targets > 0, "panel {} has no query", panel["title"]);
    }
    let mut exprs = Vec::new();
    expressions(&dashboard, &mut exprs);
    assert!(exprs.len() > 20, "only {} expressions found", exprs.len());
    for expr in &exprs {
        assert_eq!(
            expr.matches('(').count(),
            expr.matches(')').count(),
            "unbalanced: {expr}"
        );
        let found = selectors(expr);
        assert!(!found.is_empty(), "no family in {expr}");
        let mut allowed = BTreeSet::new();
        for (series, labels) in found {
            // A histogram is read through its series, never by its name.
            let family = match doc.get(&series).map(String::as_str) {
                Some("histogram") => {
                    panic!("{series} is a histogram: query its _bucket, _sum or _count ({expr})")
                }
                Some(_) => series.clone(),
                None => ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| series.strip_suffix(s))
                    .filter(|base| doc.get(*base).map(String::as_str) == Some("histogram"))
                    .unwrap_or_else(|| {
                        panic!("{series} is not documented in docs/metrics.md ({expr})")
                    })
                    .to_owned(),
            };
            let carried = labels_of(&family, &series);
            for label in &labels {
                assert!(
                    carried.contains(label.as_str()),
                    "{series} has no label {label} ({expr})"
                );
            }
            allowed.extend(carried);
            *shown.entry(family).or_insert(0) += 1;
        }
        for label in grouped_by(expr) {
            assert!(
                allowed.contains(label.as_str()),
                "grouped by {label}, which none of its families carries ({expr})"
            );
        }
        if expr.contains("histogram_quantile") {
            assert!(
                expr.contains("_bucket") && grouped_by(expr).iter().any(|l| l == "le"),
                "a quantile needs the buckets grouped by le: {expr}"
            );
        }
    }
    // The issue's panels: latency and connect-time quantiles among them.
    for family in [
        "weir_listener_request_duration_seconds",
        "weir_backend_connect_duration_seconds",
        "weir_listener_up",
        "weir_backend_healthy",
        "weir_listener_denied_total",
        "weir_listener_tls_handshake_failures_total",
        "weir_backend_http_responses_total",
        "weir_listener_active_connections",
    ] {
        assert!(shown.contains_key(family), "no panel shows {family}");
    }
}

#[test]
fn the_selector_reader_finds_names_and_labels() {
    let found = selectors(
        r#"sum by (listener, le) (rate(weir_a_bucket{listener=~"$l",le!="1"}[5m])) / weir_b"#,
    );
    assert_eq!(
        found,
        vec![
            (
                "weir_a_bucket".to_owned(),
                vec!["listener".to_owned(), "le".to_owned()]
            ),
            ("weir_b".to_owned(), vec![]),
        ]
    );
    assert_eq!(
        grouped_by("sum by (a, b) (x) + max by (c) (y)"),
        ["a", "b", "c"]
    );
}
