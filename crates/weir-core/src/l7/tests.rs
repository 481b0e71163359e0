//! The L7 rule table, one test per rule, and the matcher's semantics.

use proptest::prelude::*;

use super::matcher::*;
use super::*;
use crate::group::{plan_server_group, NewServerGroup};
use crate::ids::SequentialIds;
use crate::loadbalancer::{plan_listener, NewListener};
use crate::model::LbStatus;

fn lb() -> LoadBalancer {
    LoadBalancer {
        id: "lb".into(),
        project_id: "p".into(),
        name: "lb".into(),
        subnet_id: "s".into(),
        vpc_id: "v".into(),
        vip: "10.0.0.5".parse().unwrap(),
        status: LbStatus::Running,
        default_pool_id: "lb-wide".into(),
        description: String::new(),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        tags: Vec::new(),
    }
}

fn listener(protocol: &str) -> Listener {
    let req = NewListener {
        name: protocol.into(),
        protocol: protocol.into(),
        port: Some(80),
        ..Default::default()
    };
    plan_listener(
        &lb(),
        &[],
        &req,
        &mut SequentialIds::default(),
        Timestamp(1),
    )
    .unwrap()
    .listener
}

fn group(id: &str, protocol: Option<&str>) -> Pool {
    let req = NewServerGroup {
        name: id.into(),
        protocol: protocol.map(str::to_owned),
        ..Default::default()
    };
    let mut pool =
        plan_server_group(&lb(), &req, &mut SequentialIds::default(), Timestamp(1)).unwrap();
    pool.id = id.into();
    pool
}

fn reject() -> ActionSpec {
    ActionSpec {
        action: Some("reject".into()),
        ..Default::default()
    }
}

fn rule(rule_type: &str, compare: &str, key: Option<&str>, value: &str) -> NewL7Rule {
    NewL7Rule {
        rule_type: rule_type.into(),
        compare_type: compare.into(),
        key: key.map(str::to_owned),
        value: value.into(),
        ..Default::default()
    }
}

fn policy_with(action: ActionSpec, position: Option<u64>, rules: Vec<NewL7Rule>) -> NewL7Policy {
    NewL7Policy {
        name: "p".into(),
        action,
        position,
        rules,
        ..Default::default()
    }
}

struct Ids(u32);

impl IdSource for Ids {
    fn next_id(&mut self) -> String {
        self.0 += 1;
        format!("id-{:04}", self.0)
    }
}

fn plan(existing: &[L7Policy], req: &NewL7Policy) -> Result<L7PolicyPlan, Error> {
    let pools = [group("web", Some("http")), group("tcp", Some("tcp"))];
    let mut ids = Ids(existing.len() as u32 * 1000);
    plan_policy(
        &lb(),
        &listener("http"),
        existing,
        &pools,
        req,
        &mut ids,
        Timestamp(5),
    )
}

/// Applies a plan to a listener's list, as the store would.
fn apply(list: &mut Vec<L7Policy>, plan: L7PolicyPlan) {
    for p in plan.moved.into_iter().chain([plan.policy]) {
        list.retain(|q| q.id != p.id);
        list.push(p);
    }
    list.sort_by_key(|p| p.position);
}

fn field_of(e: Error) -> String {
    match e {
        Error::InvalidField { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn policies_only_on_http_listeners() {
    for protocol in ["tcp", "udp", "tls-passthrough"] {
        let e = plan_policy(
            &lb(),
            &listener(protocol),
            &[],
            &[],
            &policy_with(reject(), None, vec![]),
            &mut Ids(0),
            Timestamp(1),
        )
        .unwrap_err();
        assert_eq!(field_of(e), "listener_id", "{protocol}");
    }
}

#[test]
fn positions_insert_shift_and_append() {
    let mut list = Vec::new();
    for position in [None, Some(1), Some(99), Some(2)] {
        let planned = plan(&list, &policy_with(reject(), position, vec![])).unwrap();
        apply(&mut list, planned);
    }
    // Created: a (1), then b at 1 (a→2), then c past the end (3), then d
    // at 2 (a→3, c→4).
    let ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["id-1001", "id-3001", "id-0001", "id-2001"]);
    assert_eq!(
        list.iter().map(|p| p.position).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    // Moving the first to the end shifts the others up.
    let first = list[0].clone();
    let update = L7PolicyUpdate {
        position: Some(4),
        ..Default::default()
    };
    let moved = plan_policy_update(&lb(), &list, &[], &first, &update, Timestamp(9)).unwrap();
    assert_eq!(moved.policy.position, 4);
    assert_eq!(moved.moved.len(), 3);
    apply(&mut list, moved);
    assert_eq!(list[3].id, first.id);
    // Deleting closes the gap.
    let moved = plan_policy_delete(&list, &list[0].id.clone());
    assert_eq!(
        moved.iter().map(|p| p.position).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(plan(&list, &policy_with(reject(), Some(0), vec![])).is_err());
}

#[test]
fn actions_take_their_own_fields_only() {
    let url = |a: &str, u: &str| ActionSpec {
        action: Some(a.into()),
        redirect_url: Some(Some(u.into())),
        ..Default::default()
    };
    let ok = plan(
        &[],
        &policy_with(
            url("redirect-to-url", "https://example.com/x"),
            None,
            vec![],
        ),
    )
    .unwrap();
    assert_eq!(
        ok.policy.action,
        L7Action::RedirectToUrl {
            url: "https://example.com/x".into(),
            code: 302
        }
    );
    // A URL on a reject, a code on a pool action: refused, not ignored.
    let e = plan(&[], &policy_with(url("reject", "http://a"), None, vec![])).unwrap_err();
    assert_eq!(field_of(e), "redirect_url");
    let e = plan(
        &[],
        &policy_with(
            ActionSpec {
                action: Some("redirect-to-pool".into()),
                redirect_pool_id: Some(Some("web".into())),
                redirect_http_code: Some(Some(301)),
                ..Default::default()
            },
            None,
            vec![],
        ),
    )
    .unwrap_err();
    assert_eq!(field_of(e), "redirect_http_code");
    // Required fields, codes, unknown actions.
    for spec in [
        ActionSpec {
            action: Some("redirect-to-url".into()),
            ..Default::default()
        },
        ActionSpec {
            action: Some("redirect-prefix".into()),
            redirect_prefix: Some(None),
            ..Default::default()
        },
        ActionSpec {
            action: Some("redirect-to-url".into()),
            redirect_url: Some(Some("http://a".into())),
            redirect_http_code: Some(Some(300)),
            ..Default::default()
        },
        ActionSpec {
            action: Some("drop".into()),
            ..Default::default()
        },
        ActionSpec::default(),
    ] {
        assert!(
            plan(&[], &policy_with(spec.clone(), None, vec![])).is_err(),
            "{spec:?}"
        );
    }
    let code = ActionSpec {
        action: Some("redirect-prefix".into()),
        redirect_prefix: Some(Some("https://b.example".into())),
        redirect_http_code: Some(Some(308)),
        ..Default::default()
    };
    assert_eq!(
        plan(&[], &policy_with(code, None, vec![]))
            .unwrap()
            .policy
            .action
            .redirect_code(),
        Some(308)
    );
}

#[test]
fn redirect_urls_are_absolute_http_without_injection() {
    for good in [
        "http://a",
        "https://example.com:8443/x?y=1",
        "HTTPS://EXAMPLE.COM",
    ] {
        assert!(check_url("redirect_url", good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "example.com",
        "ftp://a",
        "http://",
        "http:///x",
        "http://a\r\nSet-Cookie: x=1",
        "http://a b",
        "http://a/\u{e9}",
        "http://a/#frag",
        "javascript:alert(1)",
    ] {
        assert!(check_url("redirect_url", bad).is_err(), "{bad:?}");
    }
    assert!(check_url("redirect_url", &format!("http://a/{}", "x".repeat(250))).is_err());
}

#[test]
fn pool_targets_are_http_groups_of_the_load_balancer() {
    let to = |pool: &str| ActionSpec {
        action: Some("redirect-to-pool".into()),
        redirect_pool_id: Some(Some(pool.into())),
        ..Default::default()
    };
    assert!(plan(&[], &policy_with(to("web"), None, vec![])).is_ok());
    assert_eq!(
        field_of(plan(&[], &policy_with(to("tcp"), None, vec![])).unwrap_err()),
        "redirect_pool_id"
    );
    assert!(matches!(
        plan(&[], &policy_with(to("elsewhere"), None, vec![])).unwrap_err(),
        Error::NotFound {
            kind: crate::ResourceKind::Pool,
            ..
        }
    ));
    let used = plan(&[], &policy_with(to("web"), None, vec![]))
        .unwrap()
        .policy;
    assert!(check_pool_unused(&"web".into(), std::slice::from_ref(&used)).is_err());
    assert!(check_pool_unused(&"tcp".into(), &[used]).is_ok());
}

#[test]
fn rules_are_validated_as_octavia_does() {
    let bad: Vec<(NewL7Rule, &str)> = vec![
        (rule("header", "equal-to", None, "v"), "rules[0].key"),
        (rule("cookie", "equal-to", Some("a b"), "v"), "rules[0].key"),
        (rule("path", "equal-to", Some("k"), "/"), "rules[0].key"),
        (
            rule("file-type", "starts-with", None, "jpg"),
            "rules[0].compare_type",
        ),
        (rule("path", "equal-to", None, ""), "rules[0].value"),
        (rule("path", "equal-to", None, "/a b"), "rules[0].value"),
        (rule("path", "equal-to", None, "/a\r\n"), "rules[0].value"),
        (
            rule("cookie", "equal-to", Some("c"), "a;b"),
            "rules[0].value",
        ),
        (rule("path", "regex", None, "(unclosed"), "rules[0].value"),
        (rule("path", "regex", None, "a\nb"), "rules[0].value"),
        (
            rule("path", "equal-to", None, &"x".repeat(256)),
            "rules[0].value",
        ),
        (
            rule("ssl-conn-has-cert", "equal-to", None, "x"),
            "rules[0].type",
        ),
        (rule("path", "like", None, "x"), "rules[0].compare_type"),
    ];
    for (r, field) in bad {
        let e = plan(&[], &policy_with(reject(), None, vec![r.clone()])).unwrap_err();
        assert_eq!(field_of(e), field, "{r:?}");
    }
    // A quoted header value may hold spaces; its quotes are not compared.
    let ok = rule("header", "equal-to", Some("X-Env"), "\"a b\"");
    assert!(plan(&[], &policy_with(reject(), None, vec![ok])).is_ok());
    assert_eq!(plain_value("\"a b\""), "a b");
}

#[test]
fn a_huge_or_deep_regex_is_refused_at_plan_time() {
    // Compiles far past the size limit (counted repetition of a Unicode
    // class), and nests past the depth limit.
    let huge = r"\w{1000}\w{1000}";
    let e = compile_regex("value", huge, false).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
    assert!(compile_regex("value", &deep, false).is_err());
    // Real routing patterns fit, Unicode classes included.
    for real in [
        r"^/api/v[0-9]+/\w+$",
        r"^[a-z0-9-]+\.example\.com$",
        r"\.(jpe?g|png|gif)$",
    ] {
        compile_regex("value", real, true).unwrap();
    }
    // Backtracking bombs are fine: the engine is linear.
    assert!(compile_regex("value", "(a+)+$", false).is_ok());
}

#[test]
fn counts_are_bounded() {
    let many: Vec<NewL7Rule> = (0..=MAX_RULES_PER_POLICY)
        .map(|i| rule("path", "equal-to", None, &format!("/{i}")))
        .collect();
    assert!(matches!(
        plan(&[], &policy_with(reject(), None, many)).unwrap_err(),
        Error::QuotaExceeded { .. }
    ));
    let mut list = Vec::new();
    for _ in 0..MAX_POLICIES {
        let p = plan(&list, &policy_with(reject(), None, vec![])).unwrap();
        apply(&mut list, p);
    }
    assert!(matches!(
        plan(&list, &policy_with(reject(), None, vec![])).unwrap_err(),
        Error::QuotaExceeded {
            kind: crate::error::QuotaKind::L7PoliciesPerListener,
            ..
        }
    ));
    let full = L7Policy {
        rules: Vec::new(),
        ..list[0].clone()
    };
    assert!(matches!(
        plan_rule(
            &full,
            MAX_RULES,
            &rule("path", "equal-to", None, "/"),
            &mut Ids(0),
            Timestamp(1)
        )
        .unwrap_err(),
        Error::QuotaExceeded {
            kind: crate::error::QuotaKind::L7RulesPerListener,
            ..
        }
    ));
}

#[test]
fn rule_updates_are_checked_whole() {
    let p = plan(
        &[],
        &policy_with(
            reject(),
            None,
            vec![rule("header", "equal-to", Some("X-A"), "1")],
        ),
    )
    .unwrap()
    .policy;
    let r = &p.rules[0];
    // Turning a header rule into a path rule without dropping the key.
    let to_path = L7RuleUpdate {
        rule_type: Some("path".into()),
        value: Some("/x".into()),
        ..Default::default()
    };
    assert!(plan_rule_update(r, &to_path, Timestamp(9)).is_err());
    let to_path = L7RuleUpdate {
        key: Some(None),
        ..to_path
    };
    let next = plan_rule_update(r, &to_path, Timestamp(9)).unwrap();
    assert_eq!(
        (next.rule_type, next.key.as_deref()),
        (RuleType::Path, None)
    );
    assert_eq!(
        (next.id.clone(), next.updated_at),
        (r.id.clone(), Timestamp(9))
    );
    let same = plan_rule_update(r, &L7RuleUpdate::default(), Timestamp(9)).unwrap();
    assert_eq!(&same, r);
}

// ---- the matcher ----

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
        match check_budget(&next) {
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
    assert!(check_budget(&prefixes).is_ok());
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
    assert!(check_budget(&[on("X-A"), on("X-B")]).is_ok());
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
    check_budget(&policies).unwrap();
}
