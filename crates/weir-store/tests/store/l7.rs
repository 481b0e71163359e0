//! L7 policies and rules: the store's side, on both databases.

use std::sync::Arc;

use weir_core::l7::*;
use weir_core::model::*;
use weir_store::Store;

use super::{seed, t};

fn rule(id: &str, policy: &str, rule_type: RuleType, key: Option<&str>) -> L7Rule {
    L7Rule {
        id: id.into(),
        project_id: "p1".into(),
        policy_id: policy.into(),
        rule_type,
        compare_type: CompareType::StartsWith,
        key: key.map(str::to_owned),
        value: "/api".into(),
        invert: true,
        enabled: false,
        tags: vec!["r".into()],
        created_at: t(7),
        updated_at: t(8),
    }
}

/// Policies with their rules are written, read back whole (by position,
/// rules oldest first), changed, deleted with their rules, logged per
/// load balancer, and go with their listener.
pub(crate) async fn l7_policies_round_trip_and_cascade(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let group = Pool::new(
        "g1".into(),
        (&lb.project_id, &lb.id),
        None,
        "g".into(),
        t(5),
    );
    let policy = |id: &str, position: u32, action: L7Action| L7Policy {
        id: id.into(),
        project_id: "p1".into(),
        lb_id: lb.id.clone(),
        listener_id: listener.id.clone(),
        name: format!("n-{id}"),
        description: "d".into(),
        position,
        action,
        enabled: true,
        tags: vec!["t".into()],
        created_at: t(6),
        updated_at: t(6),
        rules: Vec::new(),
    };
    let mut to_pool = policy(
        "pol-a",
        2,
        L7Action::RedirectToPool {
            pool_id: "g1".into(),
        },
    );
    to_pool.rules = vec![
        rule("r1", "pol-a", RuleType::Path, None),
        rule("r2", "pol-a", RuleType::Header, Some("X-Env")),
    ];
    let prefix = policy(
        "pol-b",
        1,
        L7Action::RedirectPrefix {
            prefix: "https://x.example".into(),
            code: 308,
        },
    );
    let before = store.read().await.unwrap().revision().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_server_group(&group).await.unwrap();
    tx.insert_l7_policy(&to_pool).await.unwrap();
    tx.insert_l7_policy(&prefix).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let listed = r.l7_policies_of(&listener.id).await.unwrap();
    assert_eq!(listed, [prefix.clone(), to_pool.clone()]);
    assert_eq!(r.l7_policies_of_lb(&lb.id).await.unwrap().len(), 2);
    assert_eq!(
        r.l7_policy(&"pol-a".into()).await.unwrap(),
        Some(to_pool.clone())
    );
    assert_eq!(r.l7_policy(&"nope\0".into()).await.unwrap(), None);
    let changes = r.changes_since(before, 10).await.unwrap();
    assert!(changes
        .iter()
        .filter(|c| c.entity == "l7policy")
        .all(|c| c.lb_id.as_ref() == Some(&lb.id)));
    drop(r);

    // Change a policy's action and position, a rule, delete a rule.
    let mut next = prefix.clone();
    next.action = L7Action::RedirectToUrl {
        url: "http://y.example/".into(),
        code: 301,
    };
    next.position = 3;
    let mut changed = to_pool.rules[0].clone();
    changed.rule_type = RuleType::Cookie;
    changed.key = Some("sid".into());
    changed.compare_type = CompareType::Regex;
    let mut tx = store.begin().await.unwrap();
    tx.update_l7_policy(&next).await.unwrap();
    tx.update_l7_rule(&to_pool, &changed).await.unwrap();
    tx.delete_l7_rule(&to_pool, &to_pool.rules[1])
        .await
        .unwrap();
    let extra = rule("r3", "pol-b", RuleType::FileType, None);
    tx.insert_l7_rule(&next, &extra).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let a = r.l7_policy(&"pol-a".into()).await.unwrap().unwrap();
    assert_eq!(a.rules, [changed]);
    let b = r.l7_policy(&"pol-b".into()).await.unwrap().unwrap();
    assert_eq!(b.action, next.action);
    assert_eq!(b.position, 3);
    assert_eq!(b.rules, [extra]);
    drop(r);

    // Deleting a policy takes its rules; deleting the listener the rest.
    let mut tx = store.begin().await.unwrap();
    tx.delete_l7_policy(&b).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .read()
            .await
            .unwrap()
            .l7_policies_of(&listener.id)
            .await
            .unwrap(),
        [a]
    );
    let mut tx = store.begin().await.unwrap();
    tx.delete_listener(&listener).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert!(r.l7_policies_of_lb(&lb.id).await.unwrap().is_empty());
}
