//! `docs/metrics.md` against a live exposition: every family `weir
//! serve` renders on `/metrics` is documented there with its type, and
//! every family documented is rendered, so the operator's reference
//! cannot drift from what a scrape returns.

use std::collections::BTreeMap;

use crate::support::*;

const DOC: &str = include_str!("../../../../docs/metrics.md");

/// `family -> type` from the doc's tables (`| \`name\` | type | ... |`).
pub(crate) fn documented() -> BTreeMap<String, String> {
    DOC.lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(str::trim).skip(1);
            let name = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            let kind = cells.next()?;
            name.starts_with("weir_")
                .then(|| (name.to_owned(), kind.to_owned()))
        })
        .collect()
}

#[test]
fn every_rendered_metric_family_is_documented_and_every_documented_one_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "metrics-doc-admin";
    let server = serve(dir.path(), Some(admin));
    let text = ureq::get(&format!("{}/metrics", server.url))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    // `# TYPE name kind` heads every family, with or without samples.
    let rendered: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.trim().to_owned()))
        .collect();
    assert!(!rendered.is_empty(), "no family rendered:\n{text}");
    let documented = documented();
    for (name, kind) in &rendered {
        assert_eq!(
            documented.get(name),
            Some(kind),
            "{name} ({kind}) is rendered but not documented (with that type) in docs/metrics.md"
        );
    }
    for name in documented.keys() {
        assert!(
            rendered.contains_key(name),
            "{name} is documented in docs/metrics.md but not rendered"
        );
    }
}
