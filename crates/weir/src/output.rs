//! How the client commands print an answer: tables for lists (`-o wide`
//! adds the columns named in [`wide_columns`]), `key  value` lines for one
//! object, or the API's JSON (`--json`, `-o json`). Nested values never
//! print as raw JSON: a state object reads `error: reason`, other objects
//! `key=value, …`, port ranges `80-90`, and an object's nested members
//! print as `parent.child` lines.

use serde_json::{Map, Value};

use crate::cli::Format;

/// How to print a response.
pub enum Show {
    /// A list under this key, with these columns (`-o wide` adds the
    /// key's [`wide_columns`]).
    Table(&'static str, &'static [&'static str]),
    /// One object as `key  value` lines.
    Object,
    /// Nothing but a confirmation line.
    Done(String),
}

/// The columns `-o wide` adds to a list's table, by the list's key.
pub fn wide_columns(key: &str) -> &'static [&'static str] {
    match key {
        "loadbalancers" => &[
            "operating_status",
            "vpc_id",
            "project_id",
            "default_pool_id",
            "tags",
            "created_at",
        ],
        "listeners" => &[
            "operating_status",
            "enabled",
            "port_ranges",
            "all_ports",
            "proxy_protocol",
            "max_connections",
            "allowed_cidrs",
            "acl_id",
            "acl_mode",
            "certificate_ids",
            "redirect_https_port",
            "created_at",
        ],
        "backends" => &[
            "status.active_connections",
            "ports",
            "monitor_address",
            "monitor_port",
            "pool_id",
            "listener_id",
            "load_balancer_id",
        ],
        "l7policies" => &["listener_id", "redirect_http_code", "rules", "created_at"],
        "pools" => &[
            "health_check",
            "enabled",
            "backend_tls",
            "load_balancer_id",
            "created_at",
        ],
        "certificates" => &[
            "names",
            "not_before",
            "chain_length",
            "project_id",
            "created_at",
        ],
        "credentials" => &["project_id"],
        "acls" => &["project_id", "entries", "updated_at"],
        "vpcs" => &["created_at"],
        "subnets" => &["project_id", "shared", "created_at"],
        "instances" => &["project_id", "vpc_id", "created_at"],
        "nodes" => &[
            "data_addresses",
            "holds_vips",
            "started_at",
            "last_heartbeat_at",
        ],
        _ => &[],
    }
}

/// One value as a table cell or the value of a `key  value` line.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) if items.iter().any(Value::is_object) => {
            items.iter().map(cell).collect::<Vec<_>>().join("; ")
        }
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(map) => object_cell(map),
        other => other.to_string(),
    }
}

/// An object in one cell: `state: reason (k=v, …)` for a live state,
/// `start-end` for a port range, else `k=v, …` (empty members left out).
fn object_cell(map: &Map<String, Value>) -> String {
    let set = |key: &str| map.get(key).filter(|v| !is_empty(v));
    if let (Some(start), Some(end), 2) = (set("start"), set("end"), map.len()) {
        return format!("{}-{}", cell(start), cell(end));
    }
    let mut out = String::new();
    if let Some(state) = set("state") {
        out.push_str(&cell(state));
        if let Some(reason) = set("reason") {
            out.push_str(": ");
            out.push_str(&cell(reason));
        }
    }
    let rest: Vec<String> = map
        .iter()
        .filter(|(k, v)| !is_empty(v) && (out.is_empty() || (*k != "state" && *k != "reason")))
        .map(|(k, v)| format!("{k}={}", cell(v)))
        .collect();
    match (out.is_empty(), rest.is_empty()) {
        (true, true) => "-".to_owned(),
        (true, false) => rest.join(", "),
        (false, true) => out,
        (false, false) => format!("{out} ({})", rest.join(", ")),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A member by dotted path (`status.state`); `Null` when absent.
fn field<'a>(item: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(item, |v, key| &v[key])
}

/// An object's members as `(dotted key, cell)` lines: nested objects
/// open into `parent.child` lines, so nothing prints as JSON.
fn object_lines(prefix: &str, map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) if !inner.is_empty() => object_lines(&key, inner, out),
            _ => out.push((key, cell(v))),
        }
    }
}

/// Prints an answer the way `show` and the format say.
pub fn print(show: &Show, value: &Value, format: Format) {
    if format == Format::Json {
        if !value.is_null() {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        }
        return;
    }
    match show {
        Show::Done(line) => println!("{line}"),
        Show::Object => {
            if let Value::Object(map) = value {
                let mut lines = Vec::new();
                object_lines("", map, &mut lines);
                let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, v) in lines {
                    println!("{k:width$}  {v}");
                }
            }
        }
        Show::Table(key, base) => {
            let mut columns: Vec<&str> = base.to_vec();
            if format == Format::Wide {
                columns.extend(wide_columns(key).iter().filter(|c| !base.contains(c)));
            }
            let rows: Vec<Vec<String>> = value[*key]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|item| columns.iter().map(|c| cell(field(item, c))).collect())
                        .collect()
                })
                .unwrap_or_default();
            print_table(&columns, &rows);
            if let Some(marker) = value["next_marker"].as_str() {
                println!("(more: --marker {marker})");
            }
            if let Some(ignored) = value["ignored"].as_array().filter(|i| !i.is_empty()) {
                for item in ignored {
                    println!(
                        "ignored #{}: {}",
                        cell(&item["index"]),
                        cell(&item["message"])
                    );
                }
            }
        }
    }
}

fn print_table(columns: &[&str], rows: &[Vec<String>]) {
    // A backend's `status.state` is headed STATE; other nested members
    // by their path (`health_check.type`: HEALTH_CHECK_TYPE).
    let heads: Vec<String> = columns
        .iter()
        .map(|c| {
            c.strip_prefix("status.")
                .unwrap_or(c)
                .replace('.', "_")
                .to_uppercase()
        })
        .collect();
    let widths: Vec<usize> = heads
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(&heads);
    for row in rows {
        line(row);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_values_read_as_text_never_json() {
        assert_eq!(cell(&json!({"state": "active", "reason": null})), "active");
        assert_eq!(
            cell(&json!({"state": "error", "reason": "address in use"})),
            "error: address in use"
        );
        assert_eq!(
            cell(&json!({"state": "healthy", "reason": null, "active_connections": 3})),
            "healthy (active_connections=3)"
        );
        assert_eq!(
            cell(&json!([{"start": 80, "end": 90}, {"start": 100, "end": 100}])),
            "80-90; 100-100"
        );
        assert_eq!(
            cell(&json!({"x_forwarded_for": true, "x_forwarded_port": false})),
            "x_forwarded_for=true, x_forwarded_port=false"
        );
        assert_eq!(cell(&json!({})), "-");
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
        for v in [
            json!({"a": {"b": [1, {"c": null}]}}),
            json!([{"state": "x", "deep": {"k": "v"}}]),
        ] {
            let text = cell(&v);
            assert!(!text.contains('{') && !text.contains('"'), "{text}");
        }
    }

    #[test]
    fn an_objects_nested_members_open_into_dotted_lines() {
        let v = json!({"id": "l1", "operating_status": {"state": "active", "reason": null}});
        let mut lines = Vec::new();
        object_lines("", v.as_object().unwrap(), &mut lines);
        assert_eq!(
            lines,
            [
                ("id".to_owned(), "l1".to_owned()),
                ("operating_status.reason".to_owned(), "-".to_owned()),
                ("operating_status.state".to_owned(), "active".to_owned()),
            ]
        );
    }
}
