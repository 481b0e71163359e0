//! OpenStack list semantics over rendered resources: filters on any
//! top-level attribute (`tags` by the four tag filters, `tags`,
//! `tags-any`, `not-tags`, `not-tags-any`, never by equality), `fields`,
//! `sort` (or `sort_key`/`sort_dir`), `limit`/`marker`/`page_reverse`
//! paging and `<resource>_links`.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use super::tags::{tags_match, TAG_FILTERS};
use super::LbaasError;
use crate::common::pct;

/// The largest page (Octavia's `pagination_max_limit`).
pub const MAX_LIMIT: usize = 1000;

const CONTROL_KEYS: &[&str] = &[
    "fields",
    "sort",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
];

/// How a value compares with a query string: text as is, numbers and
/// booleans in their JSON spelling.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        _ => as_text(a).cmp(&as_text(b)),
    }
}

/// Applies the query to `items` (each an object with `id` and
/// `created_at`) and answers `{plural: […], plural_links: […]}`.
pub fn list(
    items: Vec<Value>,
    query: &[(String, String)],
    plural: &str,
    path: &str,
) -> Result<Value, LbaasError> {
    let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|item| tags_match(item, query))
        .filter(|item| {
            query
                .iter()
                .filter(|(k, _)| {
                    !CONTROL_KEYS.contains(&k.as_str()) && !TAG_FILTERS.contains(&k.as_str())
                })
                .all(|(k, want)| match item.get(k.as_str()) {
                    // openstacksdk sends Python booleans: `True`.
                    Some(Value::Bool(b)) => want.eq_ignore_ascii_case(&b.to_string()),
                    Some(v) => as_text(v).is_some_and(|t| &t == want),
                    // Unknown attributes filter nothing, as Octavia ignores
                    // filters it does not know.
                    None => true,
                })
        })
        .collect();

    let mut keys: Vec<(String, bool)> = Vec::new();
    if let Some(sort) = get("sort") {
        for part in sort.split(',').filter(|p| !p.is_empty()) {
            let (key, dir) = part.split_once(':').unwrap_or((part, "asc"));
            keys.push((key.to_owned(), parse_dir(dir)?));
        }
    } else {
        let sort_keys: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "sort_key")
            .map(|(_, v)| v.as_str())
            .collect();
        let dirs: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "sort_dir")
            .map(|(_, v)| v.as_str())
            .collect();
        for (i, key) in sort_keys.iter().enumerate() {
            keys.push((
                (*key).to_owned(),
                parse_dir(dirs.get(i).copied().unwrap_or("asc"))?,
            ));
        }
    }
    keys.push(("created_at".to_owned(), true));
    keys.push(("id".to_owned(), true));
    items.sort_by(|a, b| {
        for (key, asc) in &keys {
            let ord = compare(
                a.get(key).unwrap_or(&Value::Null),
                b.get(key).unwrap_or(&Value::Null),
            );
            if ord != Ordering::Equal {
                return if *asc { ord } else { ord.reverse() };
            }
        }
        Ordering::Equal
    });
    let reverse = get("page_reverse").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if reverse {
        items.reverse();
    }

    let limit = match get("limit") {
        None => MAX_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| *l > 0)
            .ok_or_else(|| {
                LbaasError::bad_request(format!("limit {text:?} is not a positive integer"))
            })?
            .min(MAX_LIMIT),
    };
    let start = match get("marker") {
        None => 0,
        Some(marker) => {
            let at = items
                .iter()
                .position(|i| i.get("id").and_then(Value::as_str) == Some(marker))
                .ok_or_else(|| LbaasError::not_found(format!("marker {marker} not found")))?;
            at + 1
        }
    };
    let more = items.len() > start + limit;
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();

    // Links keep every other parameter (sort, filters, fields), so a
    // client that follows them as given sees one consistent listing.
    let kept: String = query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "marker" | "page_reverse"))
        .map(|(k, v)| format!("&{}={}", pct(k), pct(v)))
        .collect();
    let mut links = Vec::new();
    if more {
        if let Some(last) = page
            .last()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
        {
            links.push(
                json!({"rel": "next", "href": format!("{path}?limit={limit}&marker={last}{kept}")}),
            );
        }
    }
    if start > 0 {
        if let Some(first) = page
            .first()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
        {
            links.push(json!({
                "rel": "previous",
                "href": format!("{path}?limit={limit}&marker={first}&page_reverse=true{kept}")
            }));
        }
    }

    let fields: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "fields")
        .flat_map(|(_, v)| v.split(','))
        .filter(|f| !f.is_empty())
        .collect();
    let page: Vec<Value> = if fields.is_empty() {
        page
    } else {
        page.into_iter()
            .map(|item| {
                let mut out = Map::new();
                for f in &fields {
                    if let Some(v) = item.get(*f) {
                        out.insert((*f).to_owned(), v.clone());
                    }
                }
                Value::Object(out)
            })
            .collect()
    };
    let mut body = Map::new();
    body.insert(plural.to_owned(), Value::Array(page));
    body.insert(format!("{plural}_links"), Value::Array(links));
    Ok(Value::Object(body))
}

fn parse_dir(dir: &str) -> Result<bool, LbaasError> {
    match dir {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(LbaasError::bad_request(format!(
            "sort direction {other:?} is not asc or desc"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn items() -> Vec<Value> {
        (1..=5)
            .map(|i| json!({"id": format!("m{i}"), "created_at": format!("t{i}"), "weight": 6 - i, "protocol_port": 80 + i % 2}))
            .collect()
    }

    #[test]
    fn filters_sorts_pages_and_projects() {
        let body = list(items(), &q(&[("protocol_port", "81")]), "members", "/p").unwrap();
        let ids: Vec<&str> = body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m1", "m3", "m5"]);

        let body = list(items(), &q(&[("sort", "weight:asc")]), "members", "/p").unwrap();
        assert_eq!(body["members"][0]["id"], "m5");

        let body = list(items(), &q(&[("limit", "2")]), "members", "/p").unwrap();
        assert_eq!(body["members"].as_array().unwrap().len(), 2);
        assert_eq!(body["members_links"][0]["rel"], "next");
        assert_eq!(body["members_links"][0]["href"], "/p?limit=2&marker=m2");

        let body = list(
            items(),
            &q(&[("limit", "2"), ("marker", "m4")]),
            "members",
            "/p",
        )
        .unwrap();
        assert_eq!(body["members"].as_array().unwrap().len(), 1);
        assert_eq!(body["members_links"][0]["rel"], "previous");

        let body = list(
            items(),
            &q(&[("fields", "id"), ("limit", "1")]),
            "members",
            "/p",
        )
        .unwrap();
        assert_eq!(body["members"][0], json!({"id": "m1"}));
    }

    #[test]
    fn bad_paging_is_a_bad_request() {
        assert!(list(items(), &q(&[("limit", "x")]), "members", "/p").is_err());
        assert!(list(items(), &q(&[("marker", "nope")]), "members", "/p").is_err());
        assert!(list(items(), &q(&[("sort", "id:sideways")]), "members", "/p").is_err());
    }
}
