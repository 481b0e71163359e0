//! `StoreTx::registration_reads` (one batch, one PostgreSQL round trip)
//! answers what the single reads answer, and text a tenant chose goes
//! through a batch intact, whatever quotes, backslashes or SQL it holds.

use std::net::IpAddr;
use std::sync::Arc;

use weir_core::model::*;
use weir_store::{
    IdempotencyRecord, RegistrationQuery, RegistrationReads, RegistrationTarget, Store,
};

use super::{backend, seed, t};

/// What a tenant may put in a name, a tag or a client token.
const HOSTILE: &str = "it's a \\' test'); DROP TABLE backends; -- $1 \"x\" \\\\ é";

/// A registration's reads, as one batch and as the single reads answer.
pub(crate) async fn registration_reads_match_the_single_reads(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let member = Backend {
        name: HOSTILE.into(),
        tags: vec![HOSTILE.into(), "plain".into()],
        ..backend("b1", "10.0.1.5", BackendPorts::One(80))
    };
    let other = backend("b2", "10.0.1.6", BackendPorts::One(80));
    let record = IdempotencyRecord {
        fingerprint: HOSTILE.into(),
        response: "b1".into(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.savepoint().await.unwrap();
    tx.insert_backends(&[member.clone(), other.clone()])
        .await
        .unwrap();
    tx.put_idempotency_record(&"p1".into(), "register", HOSTILE, &record, t(20))
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();
    tx.commit().await.unwrap();

    let addresses: Vec<IpAddr> = ["10.0.1.5", "127.0.1.1", "10.9.9.9"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let subnets = vec!["s1".to_owned(), "it's-not".to_owned(), "nope".to_owned()];
    let pool_id = "pool1".into();
    let unknown: Vec<weir_core::ids::ListenerId> =
        ["it's", "nope", ""].into_iter().map(Into::into).collect();
    let ask = |target| RegistrationQuery {
        target,
        instance_ids: &[],
        addresses: &addresses,
        subnet_ids: &subnets,
        idempotency: Some(("register", HOSTILE)),
    };
    let mut tx = store.begin().await.unwrap();
    tx.savepoint().await.unwrap();
    let by_listener = tx
        .registration_reads(&ask(RegistrationTarget::Listener(&listener.id)))
        .await
        .unwrap();
    let pool = tx.pool(&"pool1".into()).await.unwrap();
    assert_eq!(by_listener.listener, Some(listener.clone()));
    assert_eq!(by_listener.pool, pool);
    assert_eq!(by_listener.load_balancer, Some(lb.clone()));
    assert_eq!(by_listener.vpc, tx.vpc(&lb.vpc_id).await.unwrap());
    assert!(by_listener.vpc.is_some());
    assert_eq!(
        by_listener.vips,
        ["127.0.1.1".parse().unwrap()].into_iter().collect()
    );
    // The hostile name and tags come back as written.
    assert_eq!(by_listener.overlapping, vec![member.clone()]);
    assert_eq!(by_listener.backend_count, 2);
    assert_eq!(
        by_listener.subnets,
        vec![tx.subnet(&"s1".into()).await.unwrap().unwrap()]
    );
    assert_eq!(by_listener.quotas, None);
    assert_eq!(by_listener.idempotency, Some(record));
    assert!(by_listener.instances.is_empty());

    // A pool named directly finds its listener; a load balancer its own
    // pool, which no listener has.
    let by_pool = tx
        .registration_reads(&ask(RegistrationTarget::Pool(&pool_id)))
        .await
        .unwrap();
    assert_eq!(by_pool.listener, Some(listener.clone()));
    assert_eq!(by_pool.overlapping, vec![member.clone()]);
    let by_lb = tx
        .registration_reads(&ask(RegistrationTarget::LoadBalancer(&lb.id)))
        .await
        .unwrap();
    assert_eq!(by_lb.pool.as_ref().map(|p| p.id.as_str()), Some("lbpool"));
    assert_eq!(by_lb.listener, None);
    assert_eq!(by_lb.load_balancer, Some(lb.clone()));
    assert!(by_lb.overlapping.is_empty());
    assert_eq!(by_lb.backend_count, 0);
    assert_eq!(by_lb.idempotency, by_listener.idempotency);

    // Ids that are no ids, or name nothing, find nothing.
    for id in &unknown {
        let none = tx
            .registration_reads(&ask(RegistrationTarget::Listener(id)))
            .await
            .unwrap();
        assert_eq!(none.listener, None);
        assert_eq!(none.pool, None);
        assert_eq!(none.load_balancer, None);
        assert_eq!(none.idempotency, None);
    }
    tx.release_savepoint().await.unwrap();
    tx.commit().await.unwrap();
}

/// Instances found by id bring their addresses into the VIP and overlap
/// checks, and instances found by address their ids.
pub(crate) async fn registration_reads_follow_instances(store: Arc<dyn Store>) {
    let (_, listener) = seed(&*store).await;
    let instance = Instance {
        id: "i1".into(),
        project_id: "p1".into(),
        subnet_id: "s1".into(),
        vpc_id: "v1".into(),
        name: "vm".into(),
        instance_type: InstanceType::Vm,
        state: InstanceState::Running,
        private_ip: "10.0.1.7".parse().unwrap(),
        created_at: t(6),
    };
    let on_it = backend("b3", "10.0.1.7", BackendPorts::One(80));
    let mut tx = store.begin().await.unwrap();
    tx.insert_instance(&instance).await.unwrap();
    tx.insert_backends(std::slice::from_ref(&on_it))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let reads: RegistrationReads = tx
        .registration_reads(&RegistrationQuery {
            target: RegistrationTarget::Listener(&listener.id),
            instance_ids: &["i1".to_owned()],
            addresses: &[],
            subnet_ids: &[],
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(reads.instances, vec![instance]);
    assert_eq!(reads.overlapping, vec![on_it]);
    assert_eq!(reads.idempotency, None);
}

/// A text no literal can hold (NUL) is bound instead: stored intact or
/// refused by the database, never cut short.
pub(crate) async fn a_nul_in_text_is_never_cut_short(store: Arc<dyn Store>) {
    seed(&*store).await;
    let member = Backend {
        name: "a\0b'; DROP TABLE backends; --".into(),
        ..backend("b9", "10.0.1.9", BackendPorts::One(80))
    };
    let mut tx = store.begin().await.unwrap();
    let written = tx.insert_backends(std::slice::from_ref(&member)).await;
    if written.is_ok() {
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        assert_eq!(r.backend(&member.id).await.unwrap(), Some(member));
    } else {
        drop(tx);
        let mut r = store.read().await.unwrap();
        assert_eq!(r.backend(&member.id).await.unwrap(), None);
        assert_eq!(r.count_backends(&"pool1".into()).await.unwrap(), 0);
    }
}

/// Registrations read ahead for a whole group (`prefetch_registrations`)
/// get what a read at their turn would answer: the group's earlier
/// registrations into the same pool are in the count and the overlaps,
/// and the writes held back for COMMIT land.
pub(crate) async fn reads_ahead_see_the_groups_earlier_registrations(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let seven: Vec<IpAddr> = vec!["10.0.1.7".parse().unwrap()];
    let eight: Vec<IpAddr> = vec!["10.0.1.8".parse().unwrap()];
    let pool_id = "pool1".into();
    let query = |target, addresses| RegistrationQuery {
        target,
        instance_ids: &[],
        addresses,
        subnet_ids: &[],
        idempotency: None,
    };
    let by_listener = query(RegistrationTarget::Listener(&listener.id), &seven);
    let by_pool = query(RegistrationTarget::Pool(&pool_id), &seven);
    let by_lb = query(RegistrationTarget::LoadBalancer(&lb.id), &eight);
    let mut tx = store.begin().await.unwrap();
    tx.prefetch_registrations(&[by_listener, by_pool, by_lb])
        .await
        .unwrap();

    tx.savepoint().await.unwrap();
    let first = tx.registration_reads(&by_listener).await.unwrap();
    assert_eq!(first.listener, Some(listener.clone()));
    assert_eq!(first.backend_count, 0);
    assert!(first.overlapping.is_empty());
    let seventh = backend("b7", "10.0.1.7", BackendPorts::One(80));
    tx.insert_backends(std::slice::from_ref(&seventh))
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();

    // The same pool by its id: brought up to date with b7, and the same
    // as a read at this point.
    tx.savepoint().await.unwrap();
    let second = tx.registration_reads(&by_pool).await.unwrap();
    assert_eq!(second.backend_count, 1);
    assert_eq!(second.overlapping, vec![seventh.clone()]);
    let fresh = tx.registration_reads(&by_pool).await.unwrap();
    assert_eq!(fresh.backend_count, second.backend_count);
    assert_eq!(fresh.overlapping, second.overlapping);
    assert_eq!(fresh.pool, second.pool);
    assert_eq!(fresh.listener, second.listener);
    tx.release_savepoint().await.unwrap();

    // Another pool is untouched.
    tx.savepoint().await.unwrap();
    let third = tx.registration_reads(&by_lb).await.unwrap();
    assert_eq!(third.pool.as_ref().map(|p| p.id.as_str()), Some("lbpool"));
    assert_eq!(third.backend_count, 0);
    assert!(third.overlapping.is_empty());
    tx.release_savepoint().await.unwrap();

    // A command that fails after its write was held leaves nothing.
    tx.savepoint().await.unwrap();
    let dropped = backend("b9", "10.0.1.9", BackendPorts::One(80));
    tx.insert_backends(std::slice::from_ref(&dropped))
        .await
        .unwrap();
    tx.rollback_to_savepoint().await.unwrap();

    let revision = tx.revision_to_commit().await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.revision().await.unwrap(), revision);
    let ids: Vec<String> = r
        .backends_by_ids(&["b7".into(), "b9".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(ids, vec!["b7".to_owned()]);
}

/// A held write that fails when it finally goes out belongs to a command
/// already answered: the group can no longer commit, and nothing of it
/// is written.
pub(crate) async fn a_held_write_that_fails_fails_the_group(store: Arc<dyn Store>) {
    seed(&*store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[backend("b1", "10.0.1.5", BackendPorts::One(80))])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.savepoint().await.unwrap();
    let kept = backend("b2", "10.0.1.6", BackendPorts::One(80));
    tx.insert_backends(std::slice::from_ref(&kept))
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();
    // The same address and port in the same pool: the unique key refuses
    // it, but only once it goes out, during the next command.
    tx.savepoint().await.unwrap();
    tx.insert_backends(&[backend("b3", "10.0.1.5", BackendPorts::One(80))])
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();
    tx.savepoint().await.unwrap();
    assert!(tx.pool(&"pool1".into()).await.is_err());
    assert!(tx.rollback_to_savepoint().await.is_err());
    assert!(tx.revision_to_commit().await.is_err());
    assert!(tx.commit().await.is_err());

    let mut r = store.read().await.unwrap();
    let found = r
        .backends_by_ids(&["b1".into(), "b2".into(), "b3".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "only the committed b1: {found:?}");
    drop(r);
    // The store is as usable as before.
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[kept]).await.unwrap();
    tx.commit().await.unwrap();
}
