//! The L7 rule table, one test per rule, and the matcher's semantics.

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
        flavor_id: None,
        vip_mode: None,
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

mod matching;
