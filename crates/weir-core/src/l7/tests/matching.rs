//! The compiled matcher: what each rule type reads, comparisons,
//! invert, AND within a policy, Octavia's evaluation order, `Location`
//! safety, compiled tables kept across reloads, the per-subject regex
//! budget, and arbitrary request bytes.

use proptest::prelude::*;

use super::*;

fn table(policies: Vec<(ActionSpec, Vec<NewL7Rule>)>) -> L7Table {
    let mut list = Vec::new();
    for (action, rules) in policies {
        let p = plan(&list, &policy_with(action, None, rules)).unwrap();
        apply(&mut list, p);
    }
    L7Table::compile(&list, |_| 0).expect("some policy can match")
}

fn get(t: &L7Table, host: &str, target: &str, headers: &[(&str, &str)]) -> Option<Route> {
    t.evaluate(
        Some(host.as_bytes()),
        target.as_bytes(),
        headers.iter().map(|(n, v)| (*n, v.as_bytes())),
    )
    .cloned()
}

fn rejects(r: NewL7Rule) -> L7Table {
    table(vec![(reject(), vec![r])])
}

#[test]
fn host_rules_ignore_case_and_port() {
    let t = rejects(rule("host-name", "equal-to", None, "WWW.Example.com"));
    assert_eq!(
        get(&t, "www.example.COM:8080", "/", &[]),
        Some(Route::Reject)
    );
    assert_eq!(get(&t, "example.com", "/", &[]), None);
    let t = rejects(rule("host-name", "ends-with", None, ".example.com"));
    assert!(get(&t, "a.b.example.com", "/", &[]).is_some());
    assert!(get(&t, "example.com", "/", &[]).is_none());
    let t = rejects(rule("host-name", "regex", None, "^api[0-9]+\\."));
    assert!(get(&t, "API7.x", "/", &[]).is_some());
    let t = rejects(rule("host-name", "equal-to", None, "[::1]"));
    assert!(get(&t, "[::1]:80", "/", &[]).is_some());
}

#[test]
fn path_rules_read_the_path_without_query() {
    let t = rejects(rule("path", "starts-with", None, "/api"));
    assert!(get(&t, "h", "/api/v1?x=1", &[]).is_some());
    assert!(get(&t, "h", "/other?/api", &[]).is_none());
    assert!(get(&t, "h", "http://h/api/x", &[]).is_some());
    let t = rejects(rule("path", "equal-to", None, "/a"));
    assert!(get(&t, "h", "/a?b", &[]).is_some());
    assert!(get(&t, "h", "/A", &[]).is_none());
    let t = rejects(rule("path", "contains", None, "a.b"));
    assert!(get(&t, "h", "/xa.by", &[]).is_some());
    // CONTAINS is literal, not a regex.
    assert!(get(&t, "h", "/xaxb", &[]).is_none());
    let t = rejects(rule("path", "ends-with", None, ".php"));
    assert!(get(&t, "h", "/index.php?x", &[]).is_some());
}

#[test]
fn file_type_rules_read_the_extension() {
    let t = rejects(rule("file-type", "equal-to", None, "jpg"));
    assert!(get(&t, "h", "/img/a.jpg?v=2", &[]).is_some());
    assert!(get(&t, "h", "/img/a.jpeg", &[]).is_none());
    assert!(get(&t, "h", "/img.jpg/a", &[]).is_none());
    let t = rejects(rule("file-type", "equal-to", None, ".png"));
    assert!(get(&t, "h", "/a.png", &[]).is_some());
    let t = rejects(rule("file-type", "regex", None, "^(gif|png)$"));
    assert!(get(&t, "h", "/a.gif", &[]).is_some());
}

#[test]
fn header_and_cookie_rules_find_their_field() {
    let t = rejects(rule("header", "equal-to", Some("X-Env"), "prod"));
    assert!(get(&t, "h", "/", &[("x-env", "prod")]).is_some());
    assert!(get(&t, "h", "/", &[("X-ENV", "test")]).is_none());
    // The first field of the name decides.
    assert!(get(&t, "h", "/", &[("X-Env", "test"), ("X-Env", "prod")]).is_none());
    let t = rejects(rule("cookie", "equal-to", Some("tier"), "gold"));
    assert!(get(&t, "h", "/", &[("Cookie", "a=1; tier=gold; b=2")]).is_some());
    assert!(get(&t, "h", "/", &[("Cookie", "a=1"), ("cookie", "tier=gold")]).is_some());
    assert!(get(&t, "h", "/", &[("Cookie", "Tier=gold")]).is_none());
    assert!(get(&t, "h", "/", &[("X-Cookie", "tier=gold")]).is_none());
}

#[test]
fn invert_matches_what_fails_including_a_missing_field() {
    let mut r = rule("header", "equal-to", Some("X-Env"), "prod");
    r.invert = true;
    let t = rejects(r);
    assert!(get(&t, "h", "/", &[]).is_some());
    assert!(get(&t, "h", "/", &[("X-Env", "dev")]).is_some());
    assert!(get(&t, "h", "/", &[("X-Env", "prod")]).is_none());
}

#[test]
fn all_rules_of_a_policy_must_match() {
    let t = rejects_all(vec![
        rule("path", "starts-with", None, "/admin"),
        rule("host-name", "equal-to", None, "a.example"),
    ]);
    assert!(get(&t, "a.example", "/admin/x", &[]).is_some());
    assert!(get(&t, "b.example", "/admin/x", &[]).is_none());
    assert!(get(&t, "a.example", "/x", &[]).is_none());
}

fn rejects_all(rules: Vec<NewL7Rule>) -> L7Table {
    table(vec![(reject(), rules)])
}

#[test]
fn rejects_then_redirects_then_pools_each_by_position() {
    let to_pool = ActionSpec {
        action: Some("redirect-to-pool".into()),
        redirect_pool_id: Some(Some("web".into())),
        ..Default::default()
    };
    let to_url = ActionSpec {
        action: Some("redirect-to-url".into()),
        redirect_url: Some(Some("http://elsewhere/".into())),
        redirect_http_code: Some(Some(301)),
        ..Default::default()
    };
    let everything = || vec![rule("path", "starts-with", None, "/")];
    // Positions 1 (pool), 2 (url), 3 (reject on /x only).
    let t = table(vec![
        (to_pool, everything()),
        (to_url, everything()),
        (reject(), vec![rule("path", "starts-with", None, "/x")]),
    ]);
    assert_eq!(get(&t, "h", "/x", &[]), Some(Route::Reject));
    assert_eq!(
        get(&t, "h", "/y", &[]),
        Some(Route::RedirectUrl {
            url: "http://elsewhere/".into(),
            code: 301
        })
    );
}

#[test]
fn policies_without_enabled_rules_never_match() {
    let mut list = Vec::new();
    let p = plan(&list, &policy_with(reject(), None, vec![])).unwrap();
    apply(&mut list, p);
    assert!(L7Table::compile(&list, |_| 0).is_none());
    let mut r = rule("path", "starts-with", None, "/");
    r.disabled = true;
    let p = plan(&list, &policy_with(reject(), None, vec![r])).unwrap();
    apply(&mut list, p);
    assert!(L7Table::compile(&list, |_| 0).is_none());
}

#[test]
fn locations_cannot_be_broken_by_the_request() {
    let mut out = b"http://x".to_vec();
    push_location(&mut out, b"/a\r\nSet-Cookie: x b\xff");
    assert_eq!(out, b"http://x/a%0D%0ASet-Cookie:%20x%20b%FF");
    for (target, want) in [
        (&b"/a/b?c=d#e"[..], &b"/a/b?c=d"[..]),
        (b"http://h/p?q", b"/p?q"),
        (b"http://h?q", b"/?q"),
        (b"http://h", b"/"),
    ] {
        let mut out = Vec::new();
        push_path_and_query(&mut out, target);
        assert_eq!(out, want);
    }
    assert_eq!(host_without_port(b"h:1"), b"h");
    assert_eq!(extension_of(b"/a/b.tar.gz"), Some(&b"gz"[..]));
}

#[test]
fn many_rules_compile_into_one_table() {
    let rules: Vec<(ActionSpec, Vec<NewL7Rule>)> = (0..MAX_POLICIES)
        .map(|i| {
            (
                reject(),
                (0..10)
                    .map(|j| match j % 4 {
                        0 => rule("path", "starts-with", None, &format!("/p{i}/{j}")),
                        1 => rule(
                            "header",
                            "equal-to",
                            Some(&format!("x-h{j}")),
                            &format!("{i}"),
                        ),
                        2 => rule("path", "regex", None, &format!("^/r{i}/[0-9]+/{j}$")),
                        _ => rule("cookie", "contains", Some("c"), &format!("v{i}-{j}")),
                    })
                    .collect(),
            )
        })
        .collect();
    let t = table(rules);
    assert!(get(&t, "h", "/p3/0", &[]).is_none());
    let mut one = vec![
        rule("path", "starts-with", None, "/p"),
        rule("header", "equal-to", Some("x-h1"), "7"),
    ];
    one[0].invert = false;
    assert!(rejects_all(one)
        .evaluate(Some(b"h"), b"/p", [("X-H1", &b"7"[..])].into_iter())
        .is_some());
}

proptest! {
    /// Arbitrary request bytes never panic the matcher, and invert is the
    /// exact complement.
    #[test]
    fn arbitrary_requests_never_panic(
        host in proptest::collection::vec(any::<u8>(), 0..300),
        target in proptest::collection::vec(any::<u8>(), 0..300),
        cookie in proptest::collection::vec(any::<u8>(), 0..200),
        header in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let rules = || vec![
            rule("host-name", "ends-with", None, ".example"),
            rule("path", "regex", None, "^/a[0-9]*"),
            rule("file-type", "equal-to", None, "js"),
            rule("header", "contains", Some("X-A"), "z"),
            rule("cookie", "starts-with", Some("c"), "v"),
        ];
        for r in rules() {
            let mut inverted = r.clone();
            inverted.invert = true;
            let plain = rejects(r);
            let inverted = rejects(inverted);
            let fields = [("Cookie", &cookie[..]), ("X-A", &header[..])];
            let a = plain.evaluate(Some(&host), &target, fields.into_iter()).is_some();
            let b = inverted.evaluate(Some(&host), &target, fields.into_iter()).is_some();
            prop_assert_ne!(a, b);
        }
    }

    /// Rule values that pass validation compile; anything else is an
    /// error, never a panic.
    #[test]
    fn arbitrary_rule_values_validate_or_refuse(value in ".{0,300}", key in ".{0,20}") {
        for (t, c) in [("path", "regex"), ("header", "equal-to"), ("cookie", "contains"), ("file-type", "regex")] {
            let key = matches!(t, "header" | "cookie").then(|| key.clone());
            let req = policy_with(reject(), None, vec![NewL7Rule {
                rule_type: t.into(),
                compare_type: c.into(),
                key,
                value: value.clone(),
                ..Default::default()
            }]);
            if let Ok(p) = plan(&[], &req) {
                let t = L7Table::compile(&[p.policy], |_| 0).unwrap();
                let _ = t.evaluate(Some(b"h"), b"/x", std::iter::empty());
            }
        }
    }
}

#[test]
fn an_unchanged_listener_keeps_its_compiled_table() {
    use crate::topology::{listener_spec, with_l7};
    let (lb, l) = (lb(), listener("http"));
    let pools = [group("web", Some("http"))];
    let to_web = ActionSpec {
        action: Some("redirect-to-pool".into()),
        redirect_pool_id: Some(Some("web".into())),
        ..Default::default()
    };
    let mut list = Vec::new();
    for action in [reject(), to_web] {
        let req = policy_with(action, None, vec![rule("path", "regex", None, "^/a")]);
        let p = plan_policy(
            &lb,
            &l,
            &list,
            &pools,
            &req,
            &mut Ids(list.len() as u32 * 10),
            Timestamp(1),
        )
        .unwrap();
        apply(&mut list, p);
    }
    let first = with_l7(listener_spec(&lb, &l, None), &l, &list, &pools, None);
    let table = first.l7.clone().unwrap();
    let again = with_l7(
        listener_spec(&lb, &l, None),
        &l,
        &list,
        &pools,
        Some(&table),
    );
    assert!(std::sync::Arc::ptr_eq(&table, again.l7.as_ref().unwrap()));
    assert_eq!(again.l7_targets, first.l7_targets);
    assert_eq!(again.l7_targets[0].pool_id.as_str(), "web");
    // A changed policy compiles afresh.
    list[0].rules[0].value = "^/b".into();
    let changed = with_l7(
        listener_spec(&lb, &l, None),
        &l,
        &list,
        &pools,
        Some(&table),
    );
    assert!(!std::sync::Arc::ptr_eq(
        &table,
        changed.l7.as_ref().unwrap()
    ));
}

#[test]
fn a_listeners_patterns_on_one_subject_share_a_budget() {
    // Each under the per-regex limit, together past the subject's budget.
    let heavy = |i: usize| rule("path", "regex", None, &format!("^/{i}/\\w"));
    let mut list = Vec::new();
    let mut refused = None;
    for i in 0..MAX_POLICIES {
        let req = policy_with(reject(), None, (0..10).map(|j| heavy(i * 10 + j)).collect());
        let p = plan(&list, &req).unwrap();
        let mut next = list.clone();
        apply(&mut next, p);
        match check_budget(
            &next,
            &next.iter().flat_map(|p| &p.rules).collect::<Vec<_>>(),
        ) {
            Ok(()) => list = next,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("a thousand Unicode-class regexes exceed the budget");
    assert!(e.to_string().contains("together"), "{e}");
    // The same count of plain prefixes costs no regex budget at all.
    let prefixes: Vec<L7Policy> = (0..MAX_POLICIES)
        .map(|i| {
            let req = policy_with(
                reject(),
                None,
                (0..10)
                    .map(|j| rule("path", "starts-with", None, &format!("/{i}/{j}")))
                    .collect(),
            );
            plan(&[], &req).unwrap().policy
        })
        .collect();
    assert!(check_budget(
        &prefixes,
        &prefixes.iter().flat_map(|p| &p.rules).collect::<Vec<_>>()
    )
    .is_ok());
    // Regexes on different headers have a budget each.
    let on = |key: &str| {
        plan(
            &[],
            &policy_with(
                reject(),
                None,
                vec![rule("header", "regex", Some(key), "^a\\w")],
            ),
        )
        .unwrap()
        .policy
    };
    let both = [on("X-A"), on("X-B")];
    let touched: Vec<&L7Rule> = both.iter().flat_map(|p| &p.rules).collect();
    assert!(check_budget(&both, &touched).is_ok());
    // Nothing touched, nothing compiled.
    assert!(check_budget(&both, &[]).is_ok());
}

#[test]
fn a_thousand_routing_rules_fit_the_budget() {
    // bench/l7_rules.py's mix: 1,000 rules, 143 ASCII regexes and 143
    // substrings on the path among them.
    let policies: Vec<L7Policy> = (0..MAX_POLICIES)
        .map(|p| {
            let rules = (0..10)
                .map(|k| {
                    let i = p * 10 + k;
                    match i % 7 {
                        0 => rule("path", "starts-with", None, &format!("/p{i}/")),
                        1 => rule("path", "regex", None, &format!("^/r{i}/[0-9]+/(a|b)$")),
                        2 => rule("host-name", "equal-to", None, &format!("h{i}.example")),
                        3 => rule("header", "equal-to", Some(&format!("X-H{}", i % 20)), "v"),
                        4 => rule("cookie", "equal-to", Some(&format!("c{}", i % 20)), "v"),
                        5 => rule("path", "contains", None, &format!("/seg{i}/")),
                        _ => rule("host-name", "ends-with", None, &format!(".d{i}.example")),
                    }
                })
                .collect();
            plan(&[], &policy_with(reject(), None, rules))
                .unwrap()
                .policy
        })
        .collect();
    assert_eq!(
        policies.iter().map(|p| p.rules.len()).sum::<usize>(),
        MAX_RULES
    );
    let touched: Vec<&L7Rule> = policies.iter().flat_map(|p| &p.rules).collect();
    check_budget(&policies, &touched).unwrap();
}
