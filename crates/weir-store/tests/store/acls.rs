//! Access control lists: the store's side of issue 16.

use std::sync::Arc;

use weir_core::acl::{Acl, AclEntry, AclMode, IpVersion, ListenerAcl};
use weir_core::ids::*;
use weir_store::Store;

use super::{seed, t};

/// An ACL and its entries round-trip; a listener names it with a mode;
/// changing the entries logs an update of that listener, scoped to its
/// load balancer (what makes the follower reload it); delete goes.
pub(crate) async fn acls_round_trip_and_reload_their_listeners(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let mut acl = Acl {
        id: AclId::new("acl1"),
        project_id: lb.project_id.clone(),
        name: "office ☃".into(),
        ip_version: IpVersion::V4,
        entries: vec![AclEntry {
            cidr: "127.0.0.2/32".parse().unwrap(),
            comment: "a \"quoted\", comment".into(),
        }],
        created_at: t(10),
        updated_at: t(10),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_acl(&acl).await.unwrap();
    let mut named = listener.clone();
    named.acl = Some(ListenerAcl {
        acl_id: acl.id.clone(),
        mode: AclMode::Deny,
        enabled: false,
    });
    tx.update_listener(&named).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.acl(&acl.id).await.unwrap().as_ref(), Some(&acl));
    assert_eq!(
        r.acls(Some(&lb.project_id)).await.unwrap(),
        vec![acl.clone()]
    );
    assert_eq!(r.acls(Some(&"p2".into())).await.unwrap(), Vec::new());
    assert_eq!(r.acl(&AclId::new("nope\0")).await.unwrap(), None);
    assert_eq!(
        r.listener(&listener.id).await.unwrap().unwrap().acl,
        named.acl
    );
    assert_eq!(
        r.listeners_using_acl(&acl.id).await.unwrap(),
        vec![r.listener(&listener.id).await.unwrap().unwrap()]
    );
    let before = r.revision().await.unwrap();
    drop(r);

    acl.entries.push(AclEntry {
        cidr: "2001:db8::/32".parse().unwrap(),
        comment: String::new(),
    });
    acl.name = "renamed".into();
    acl.updated_at = t(11);
    let mut tx = store.begin().await.unwrap();
    tx.update_acl(&acl).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.acl(&acl.id).await.unwrap().as_ref(), Some(&acl));
    let changes = r.changes_since(before, 10).await.unwrap();
    let seen: Vec<(&str, &str, Option<&LoadBalancerId>)> = changes
        .iter()
        .map(|c| (c.entity.as_str(), c.entity_id.as_str(), c.lb_id.as_ref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("acl", "acl1", None),
            ("listener", listener.id.as_str(), Some(&lb.id))
        ]
    );
    drop(r);

    let mut tx = store.begin().await.unwrap();
    named.acl = None;
    tx.update_listener(&named).await.unwrap();
    tx.delete_acl(&acl).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.acl(&acl.id).await.unwrap(), None);
    assert_eq!(r.listener(&listener.id).await.unwrap().unwrap().acl, None);
    assert!(r.listeners_using_acl(&acl.id).await.unwrap().is_empty());
}
