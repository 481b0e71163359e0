//! The store contract, written against the traits so that every
//! implementation runs the same suite: each case below runs once on SQLite
//! and once on PostgreSQL (when `WEIR_TEST_POSTGRES_URL` names a database
//! the tests may create schemas in; `.ci/run` sets one up).

use std::sync::Arc;

use weir_core::ids::*;
use weir_core::model::*;
use weir_core::Timestamp;
use weir_store::postgres::PgStore;
use weir_store::sqlite::{Durability, SqliteStore};
use weir_store::{IdempotencyRecord, Page, Store, StoreError};

// The tag cases, kept apart so that this file stays readable.
#[path = "store/tags.rs"]
mod tags;
use tags::tags_round_trip_and_update;

#[path = "store/acls.rs"]
mod acls;
use acls::acls_round_trip_and_reload_their_listeners;

#[path = "store/cluster.rs"]
mod cluster;
use cluster::{
    lb_vip_mode_round_trips_and_is_logged, leases_are_compare_and_set_on_the_epoch,
    nodes_heartbeat_in_place,
};
#[path = "store/watch.rs"]
mod watch;
use watch::projects_number_their_own_changes;

#[path = "store/l7.rs"]
mod l7;
use l7::l7_policies_round_trip_and_cascade;

#[path = "store/registration.rs"]
mod registration;
use registration::{
    a_held_write_that_fails_fails_the_group, a_nul_in_text_is_never_cut_short,
    reads_ahead_see_the_groups_earlier_registrations, registration_reads_follow_instances,
    registration_reads_match_the_single_reads,
};

#[path = "store/spellings.rs"]
mod spellings;
use spellings::member_spellings_round_trip;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Full)
        .await
        .unwrap();
    (Arc::new(store), dir)
}

/// A store in a schema of its own, so cases can run side by side; `None`
/// when no PostgreSQL is configured (unless `WEIR_REQUIRE_POSTGRES` says
/// one must be, as in CI, where a silent skip would hide a broken store).
async fn postgres() -> Option<Arc<dyn Store>> {
    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none(),
            "WEIR_REQUIRE_POSTGRES is set but WEIR_TEST_POSTGRES_URL is not"
        );
        eprintln!("PostgreSQL case skipped: WEIR_TEST_POSTGRES_URL is not set");
        return None;
    };
    let scoped = weir_store::postgres::fresh_schema(&url, "store_test")
        .await
        .expect("a schema of its own in WEIR_TEST_POSTGRES_URL");
    Some(Arc::new(PgStore::connect(&scoped).await.unwrap()))
}

fn t(ms: i64) -> Timestamp {
    Timestamp(ms)
}

/// Inserts project → VPC → subnet → LB (+pool) → listener (+pool).
async fn seed(store: &dyn Store) -> (LoadBalancer, Listener) {
    let project = Project {
        id: "p1".into(),
        name: "p".into(),
        access_key_id: "AK1".into(),
        created_at: t(1),
    };
    let vpc = Vpc {
        id: "v1".into(),
        project_id: "p1".into(),
        name: "v".into(),
        cidr: Some("10.0.0.0/16".parse().unwrap()),
        has_border_gateway: true,
        shared: false,
        created_at: t(2),
    };
    let subnet = Subnet {
        id: "s1".into(),
        project_id: "p1".into(),
        vpc_id: "v1".into(),
        name: "s".into(),
        cidr: "10.0.1.0/24".parse().unwrap(),
        shared: false,
        granted: true,
        created_at: t(3),
    };
    let lb = LoadBalancer {
        id: "lb1".into(),
        project_id: "p1".into(),
        name: "lb".into(),
        subnet_id: "s1".into(),
        vpc_id: "v1".into(),
        vip: "127.0.1.1".parse().unwrap(),
        status: LbStatus::Running,
        default_pool_id: "lbpool".into(),
        description: "the front door".into(),
        created_at: t(4),
        updated_at: t(4),
        tags: vec!["edge".into(), "prod".into()],
        flavor_id: None,
        vip_mode: None,
    };
    let lb_pool = Pool::new(
        "lbpool".into(),
        (&"p1".into(), &"lb1".into()),
        None,
        "default".into(),
        t(4),
    );
    let listener = Listener {
        id: "l1".into(),
        project_id: "p1".into(),
        lb_id: "lb1".into(),
        name: "l".into(),
        protocol: Protocol::Udp,
        ports: ListenerPorts::Ranges(vec![
            PortRange {
                start: 5000,
                end: 5010,
            },
            PortRange {
                start: 6000,
                end: 6000,
            },
        ]),
        forwarding_mode: ForwardingMode::Dr,
        scheduler: Scheduler::Sh,
        proxy_protocol: ProxyProtocol::V2,
        // Stored as given; the planner allows it on single-port listeners only.
        backend_port: Some(7000),
        group_pool_id: None,
        enabled: true,
        max_connections: Some(1234),
        idle_timeout_ms: Some(60_000),
        connect_timeout_ms: Some(1_500),
        backend_timeout_ms: Some(45_000),
        inspect_timeout_ms: Some(50),
        allowed_cidrs: vec![
            "192.0.2.0/24".parse().unwrap(),
            "198.51.100.7/32".parse().unwrap(),
        ],
        acl: None,
        forwarded_headers: ForwardedHeaders {
            forwarded_for: false,
            forwarded_proto: true,
            forwarded_port: true,
            client_cert: Default::default(),
        },
        // The store keeps the list in order (the core keeps it to HTTPS).
        certificate_ids: vec!["cert-b".into(), "cert-a".into()],
        // Key-manager refs and TLS options round-trip through their columns.
        tls_refs: vec![
            weir_core::keymgr::TlsRef {
                href: "http://h/key-manager/v1/secrets/s1".into(),
                target: weir_core::keymgr::KeyRef::Secret("s1".into()),
            },
            weir_core::keymgr::TlsRef {
                href: "http://h/key-manager/v1/containers/c1".into(),
                target: weir_core::keymgr::KeyRef::Container("c1".into()),
            },
        ],
        tls_options: weir_core::tls::TlsOptions {
            versions: vec![weir_core::tls::TlsVersion::Tls13],
            ciphers: Some("TLS_AES_128_GCM_SHA256".into()),
            alpn: vec!["http/1.1".into()],
        },
        // Client-certificate verification round-trips through its column.
        client_auth: weir_core::client_auth::ClientAuth {
            mode: weir_core::client_auth::ClientAuthMode::Optional,
            ca: Some(weir_core::keymgr::TlsRef {
                href: "http://h/key-manager/v1/secrets/ca".into(),
                target: weir_core::keymgr::KeyRef::Secret("ca".into()),
            }),
            crl: Some(weir_core::keymgr::TlsRef {
                href: "http://h/key-manager/v1/containers/crl".into(),
                target: weir_core::keymgr::KeyRef::Container("crl".into()),
            }),
        },
        domain_extensions: vec![weir_core::model::DomainExtension {
            id: "l1.de-1".into(),
            domain: "*.example.com".into(),
            certificate_id: "cert-c".into(),
        }],
        redirect_https_port: Some(443),
        default_pool_id: "pool1".into(),
        description: "udp ranges".into(),
        created_at: t(5),
        updated_at: t(5),
        // Quotes, commas and non-ASCII survive the JSON column.
        tags: vec!["a,b".into(), "say \"hi\"".into(), "é".into()],
    };
    let pool = Pool {
        id: "pool1".into(),
        listener_id: Some("l1".into()),
        ..lb_pool.clone()
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_project(&project, "hash", "secret").await.unwrap();
    tx.insert_vpc(&vpc).await.unwrap();
    tx.insert_subnet(&subnet).await.unwrap();
    tx.insert_load_balancer(&lb, &lb_pool).await.unwrap();
    tx.insert_listener(&listener, &pool).await.unwrap();
    tx.commit().await.unwrap();
    (lb, listener)
}

fn backend(id: &str, address: &str, ports: BackendPorts) -> Backend {
    Backend {
        id: id.into(),
        project_id: "p1".into(),
        pool_id: "pool1".into(),
        lb_id: "lb1".into(),
        listener_id: Some("l1".into()),
        instance_id: None,
        subnet_id: None,
        address: address.parse().unwrap(),
        address_text: None,
        ports,
        weight: 65_535,
        enabled: true,
        backup: false,
        // A health-check target of its own, so every case round-trips it.
        monitor_address: Some("10.0.1.250".parse().unwrap()),
        monitor_address_text: None,
        monitor_port: Some(65_535),
        name: "b".into(),
        created_at: t(10),
        updated_at: t(10),
        tags: vec![format!("member-{id}")],
    }
}

async fn entities_round_trip(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let mut r = store.read().await.unwrap();
    assert_eq!(r.load_balancer(&lb.id).await.unwrap(), Some(lb.clone()));
    assert_eq!(
        r.listener(&listener.id).await.unwrap(),
        Some(listener.clone())
    );
    drop(r);
    // Limits change and fall back to the data plane's defaults.
    for (cap, idle) in [(Some(7), None), (None, Some(1_000)), (None, None)] {
        let changed = Listener {
            max_connections: cap,
            idle_timeout_ms: idle,
            connect_timeout_ms: idle.map(|ms| ms + 1),
            backend_timeout_ms: idle.map(|ms| ms + 2),
            inspect_timeout_ms: cap.map(u64::from),
            allowed_cidrs: if cap.is_some() {
                vec!["2001:db8::/32".parse().unwrap()]
            } else {
                Vec::new()
            },
            ..listener.clone()
        };
        let mut tx = store.begin().await.unwrap();
        tx.update_listener(&changed).await.unwrap();
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        assert_eq!(r.listener(&listener.id).await.unwrap(), Some(changed));
    }
    let mut r = store.read().await.unwrap();
    assert_eq!(r.used_vips().await.unwrap().len(), 1);
    let creds = r.project_by_access_key("AK1").await.unwrap().unwrap();
    assert_eq!(creds.access_key_secret, "secret");
    assert_eq!(
        r.project_by_token_hash("hash").await.unwrap().unwrap().id,
        ProjectId::from("p1")
    );
    drop(r);

    let list = BackendPorts::List(vec![80]);
    let backends = vec![
        backend("b1", "10.0.1.1", BackendPorts::Inherit),
        backend("b2", "10.0.1.2", BackendPorts::One(8080)),
        backend("b3", "fd00::3", list.clone()),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&backends).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let page = Page {
        marker: None,
        limit: 10,
    };
    assert_eq!(r.backends(&"pool1".into(), &page).await.unwrap(), backends);
    assert_eq!(
        r.backend(&"b3".into()).await.unwrap().unwrap().ports,
        list,
        "a one-port list stays a list"
    );
}

async fn identity_in_a_pool_is_unique(store: Arc<dyn Store>) {
    seed(&*store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::One(80))])
        .await
        .unwrap();
    // Refused by the time the transaction commits (the rows may be held
    // to go out with its next statement).
    let clash = match tx
        .insert_backends(&[backend("b2", "10.0.1.1", BackendPorts::One(80))])
        .await
    {
        Ok(()) => tx.commit().await,
        Err(e) => Err(e),
    };
    assert!(matches!(clash, Err(StoreError::Unique(_))), "{clash:?}");
}

async fn savepoints_undo_one_command_and_keep_the_rest(store: Arc<dyn Store>) {
    seed(&*store).await;
    let before = store.read().await.unwrap().revision().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.savepoint().await.unwrap();
    tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();
    tx.savepoint().await.unwrap();
    tx.insert_backends(&[backend("b2", "10.0.1.2", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.rollback_to_savepoint().await.unwrap();
    assert_eq!(
        tx.count_backends(&"pool1".into()).await.unwrap(),
        1,
        "reads see the transaction"
    );
    tx.commit().await.unwrap();

    let mut r = store.read().await.unwrap();
    assert_eq!(r.count_backends(&"pool1".into()).await.unwrap(), 1);
    assert_eq!(r.revision().await.unwrap(), before + 1, "one change logged");
}

/// A group commit's commands on PostgreSQL: one fails on a read (the
/// server refuses a NUL byte in text), and its neighbours before and after
/// it still commit. The failing read must run inside the command's
/// savepoint, or it aborts the whole transaction.
async fn a_failing_read_undoes_only_its_command(store: Arc<dyn Store>) {
    seed(&*store).await;
    let mut tx = store.begin().await.unwrap();
    tx.savepoint().await.unwrap();
    tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();

    tx.savepoint().await.unwrap();
    let refused = Page {
        marker: Some("b\0".into()),
        limit: 10,
    };
    // SQLite takes the NUL; PostgreSQL refuses the statement. Either way the
    // command is then abandoned, as the writer does with a failed one.
    let _ = tx.backends(&"pool1".into(), &refused).await;
    tx.rollback_to_savepoint().await.unwrap();

    tx.savepoint().await.unwrap();
    tx.insert_backends(&[backend("b2", "10.0.1.2", BackendPorts::Inherit)])
        .await
        .expect("the command after the failed one runs");
    tx.release_savepoint().await.unwrap();
    tx.commit().await.expect("the group commits");

    let mut r = store.read().await.unwrap();
    assert_eq!(r.count_backends(&"pool1".into()).await.unwrap(), 2);
}

/// Ids that cannot be ids (NUL bytes, control characters, over-long) name
/// nothing: lookups answer "none" without reaching the database, inside a
/// transaction too, which then still commits.
async fn malformed_ids_find_nothing(store: Arc<dyn Store>) {
    seed(&*store).await;
    let long = "l".repeat(weir_core::ids::MAX_ID_LEN + 1);
    let mut tx = store.begin().await.unwrap();
    tx.savepoint().await.unwrap();
    for bad in ["lb1\0", "\0", "l b", long.as_str()] {
        assert_eq!(tx.load_balancer(&bad.into()).await.unwrap(), None);
        assert_eq!(tx.listener(&bad.into()).await.unwrap(), None);
        assert_eq!(tx.backend(&bad.into()).await.unwrap(), None);
        assert_eq!(tx.count_backends(&bad.into()).await.unwrap(), 0);
        assert!(tx.listeners_of(&bad.into()).await.unwrap().is_empty());
        assert!(tx
            .backends_by_ids(&[bad.to_owned(), "b1".into()])
            .await
            .unwrap()
            .is_empty());
        assert!(tx.project_by_access_key(bad).await.unwrap().is_none());
    }
    tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.release_savepoint().await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .read()
            .await
            .unwrap()
            .backends_by_ids(&["b1\0".into(), "b1".into()])
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Compaction: idempotency records older than the cut-off go, newer ones
/// stay; the change log keeps its newest revisions (the newest always) and
/// records the horizon it deleted through.
async fn compaction_sweeps_old_records_and_keeps_the_newest_changes(store: Arc<dyn Store>) {
    seed(&*store).await;
    let record = IdempotencyRecord {
        fingerprint: "f".into(),
        response: "r".into(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.put_idempotency_record(&"p1".into(), "op", "old", &record, t(1_000))
        .await
        .unwrap();
    tx.put_idempotency_record(&"p1".into(), "op", "new", &record, t(3_000))
        .await
        .unwrap();
    for i in 1..=5 {
        tx.insert_backends(&[backend(
            &format!("b{i}"),
            &format!("10.0.1.{i}"),
            BackendPorts::Inherit,
        )])
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    let latest = r.revision().await.unwrap();
    assert_eq!(r.compacted_through().await.unwrap(), 0);
    drop(r);

    let mut tx = store.begin().await.unwrap();
    let done = tx.compact(t(2_000), 2).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(done.idempotency_records, 1);
    let mut r = store.read().await.unwrap();
    let p1: ProjectId = "p1".into();
    assert_eq!(r.idempotency_record(&p1, "op", "old").await.unwrap(), None);
    assert!(r
        .idempotency_record(&p1, "op", "new")
        .await
        .unwrap()
        .is_some());
    assert_eq!(r.revision().await.unwrap(), latest, "the newest row stays");
    assert_eq!(r.compacted_through().await.unwrap(), latest - 2);
    let kept = r.changes_since(0, 100).await.unwrap();
    assert_eq!(
        kept.iter().map(|c| c.revision).collect::<Vec<_>>(),
        vec![latest - 1, latest]
    );
    assert!(done.change_log_rows > 0);
    drop(r);

    // Keeping nothing still keeps the newest row.
    let mut tx = store.begin().await.unwrap();
    tx.compact(t(0), 0).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.revision().await.unwrap(), latest);
    assert_eq!(r.compacted_through().await.unwrap(), latest - 1);
}

async fn dropped_transactions_leave_nothing(store: Arc<dyn Store>) {
    seed(&*store).await;
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::Inherit)])
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .read()
            .await
            .unwrap()
            .count_backends(&"pool1".into())
            .await
            .unwrap(),
        0
    );
}

async fn paging_overlap_and_updates(store: Arc<dyn Store>) {
    seed(&*store).await;
    let many: Vec<Backend> = (0..1200)
        .map(|i| {
            backend(
                &format!("b{i:05}"),
                &format!("10.0.{}.{}", i / 250, i % 250),
                BackendPorts::Inherit,
            )
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&many).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = store.read().await.unwrap();
    let first = r
        .backends(
            &"pool1".into(),
            &Page {
                marker: None,
                limit: 500,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 500);
    let rest = r
        .backends(
            &"pool1".into(),
            &Page {
                marker: Some(first[499].id.to_string()),
                limit: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 700);
    assert_eq!(rest[0].id.as_str(), "b00500");

    let hits = r
        .overlapping_backends(&"pool1".into(), &["10.0.0.7".parse().unwrap()], &[])
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert!(r
        .overlapping_backends(&"pool1".into(), &[], &[])
        .await
        .unwrap()
        .is_empty());
    drop(r);

    let mut changed = many[3].clone();
    changed.weight = 0;
    changed.enabled = false;
    changed.updated_at = t(99);
    let mut tx = store.begin().await.unwrap();
    tx.update_backend(&changed).await.unwrap();
    tx.delete_backend(&many[4]).await.unwrap();
    tx.put_idempotency_record(
        &"p1".into(),
        "op",
        "tok",
        &IdempotencyRecord {
            fingerprint: "f".into(),
            response: "r".into(),
        },
        t(5),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.backend(&changed.id).await.unwrap(), Some(changed));
    assert_eq!(r.backend(&many[4].id).await.unwrap(), None);
    assert_eq!(
        r.count_backends(&"pool1".into()).await.unwrap(),
        1199,
        "counts follow deletes"
    );
    assert_eq!(
        r.idempotency_record(&"p1".into(), "op", "tok")
            .await
            .unwrap()
            .unwrap()
            .response,
        "r"
    );
    assert_eq!(
        r.idempotency_record(&"p1".into(), "op2", "tok")
            .await
            .unwrap(),
        None
    );
}

async fn deleting_a_load_balancer_cascades(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.delete_load_balancer(&lb).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.load_balancer(&lb.id).await.unwrap(), None);
    assert_eq!(r.listener(&listener.id).await.unwrap(), None);
    assert_eq!(r.pool(&"pool1".into()).await.unwrap(), None);
    assert_eq!(r.backend(&"b1".into()).await.unwrap(), None);
}

async fn deleting_a_listener_takes_its_pool_and_backends_and_is_logged(store: Arc<dyn Store>) {
    let (lb, listener) = seed(&*store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_backends(&[backend("b1", "10.0.1.1", BackendPorts::Inherit)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = store.read().await.unwrap().revision().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.delete_listener(&listener).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.listener(&listener.id).await.unwrap(), None);
    assert_eq!(r.pool(&"pool1".into()).await.unwrap(), None);
    assert_eq!(r.backend(&"b1".into()).await.unwrap(), None);
    assert!(r.load_balancer(&lb.id).await.unwrap().is_some());
    assert!(r.pool(&"lbpool".into()).await.unwrap().is_some());
    let changes = r.changes_since(before, 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].entity.as_str(), changes[0].op.as_str()),
        ("listener", "delete")
    );
    assert_eq!(changes[0].lb_id.as_ref(), Some(&lb.id));
}

async fn pool_settings_round_trip_and_changes_are_scoped(store: Arc<dyn Store>) {
    let (lb, _) = seed(&*store).await;
    let mut pool = store
        .read()
        .await
        .unwrap()
        .pool(&"pool1".into())
        .await
        .unwrap()
        .unwrap();
    let start = store.read().await.unwrap().revision().await.unwrap();
    for check in [
        HealthCheck {
            kind: CheckKind::Http {
                path: "/up".into(),
                expected: vec![(200, 299), (404, 404)],
                request: CheckRequest::default(),
            },
            interval_ms: 500,
            timeout_ms: 200,
            rise: 1,
            fall: 2,
            port: Some(8081),
        },
        // Octavia's http_method, http_version and domain_name.
        HealthCheck {
            kind: CheckKind::Https {
                path: "/up".into(),
                expected: vec![(200, 200)],
                request: CheckRequest {
                    method: HttpMethod::Head,
                    version: HttpVersion::Http10,
                    host: Some("health.example.com".into()),
                },
            },
            interval_ms: 1000,
            timeout_ms: 200,
            rise: 4,
            fall: 2,
            port: None,
        },
        HealthCheck {
            kind: CheckKind::Tcp,
            interval_ms: 100,
            timeout_ms: 100,
            rise: 3,
            fall: 3,
            port: None,
        },
    ] {
        pool.health_check = Some(check);
        pool.drain_timeout_ms = 1234;
        let mut tx = store.begin().await.unwrap();
        tx.update_pool(&pool).await.unwrap();
        tx.insert_backends(&[backend(
            &format!("b{}", pool.health_check.as_ref().unwrap().rise),
            "10.0.1.1",
            BackendPorts::One(pool.health_check.as_ref().unwrap().rise as u16),
        )])
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store.read().await.unwrap().pool(&pool.id).await.unwrap(),
            Some(pool.clone())
        );
    }
    let changes = store
        .read()
        .await
        .unwrap()
        .changes_since(start, 100)
        .await
        .unwrap();
    assert_eq!(changes.len(), 6, "a pool update and a backend per check");
    assert!(changes.windows(2).all(|w| w[0].revision < w[1].revision));
    assert_eq!(
        (changes[0].entity.as_str(), changes[0].op.as_str()),
        ("pool", "update")
    );
    assert_eq!(changes[1].entity, "backend");
    assert!(changes
        .iter()
        .all(|c| c.lb_id.as_ref() == Some(&lb.id) && c.pool_id == Some(pool.id.clone())));
    assert_eq!(
        store
            .read()
            .await
            .unwrap()
            .changes_since(start, 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .read()
            .await
            .unwrap()
            .pools_of(&lb.id)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn server_groups_come_and_go_with_their_backends_and_cascade_with_the_lb(
    store: Arc<dyn Store>,
) {
    let (lb, listener) = seed(&*store).await;
    let group = Pool {
        drain_timeout_ms: 1000,
        slow_start_ms: 250,
        scheduler: Some(Scheduler::Lc),
        protocol: Some(PoolProtocol::ProxyV2),
        persistence: Some(Persistence::SourceIp),
        enabled: false,
        description: "an Octavia pool".into(),
        monitor_name: "hm".into(),
        monitor_enabled: false,
        updated_at: t(6),
        tags: vec!["group".into()],
        monitor_tags: vec!["hm".into(), "checked".into()],
        fail_open: true,
        ..Pool::new(
            "group1".into(),
            (&lb.project_id, &lb.id),
            None,
            "g".into(),
            t(5),
        )
    };
    let before = store.read().await.unwrap().revision().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_server_group(&group).await.unwrap();
    tx.insert_backends(&[Backend {
        pool_id: "group1".into(),
        ..backend("gb1", "10.0.1.9", BackendPorts::One(81))
    }])
    .await
    .unwrap();
    let bound = Listener {
        id: "l2".into(),
        group_pool_id: Some("group1".into()),
        enabled: true,
        ports: ListenerPorts::Single(9000),
        default_pool_id: "pool2".into(),
        ..listener.clone()
    };
    let own_pool = Pool {
        id: "pool2".into(),
        listener_id: Some("l2".into()),
        ..group.clone()
    };
    tx.insert_listener(&bound, &own_pool).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(
        r.listener(&"l2".into())
            .await
            .unwrap()
            .unwrap()
            .group_pool_id,
        Some("group1".into())
    );
    assert_eq!(
        r.pool(&"group1".into()).await.unwrap().as_ref(),
        Some(&group),
        "a pool's settings, slow start and fail-open among them, round-trip"
    );
    drop(r);
    // Every persistence kind round-trips, the application cookie's name
    // with it.
    for (persistence, fail_open) in [
        (Persistence::HttpCookie, false),
        (
            Persistence::AppCookie {
                cookie_name: "JSESSIONID".into(),
            },
            true,
        ),
        (Persistence::SourceIp, true),
    ] {
        let changed = Pool {
            persistence: Some(persistence),
            fail_open,
            ..group.clone()
        };
        let mut tx = store.begin().await.unwrap();
        tx.update_pool(&changed).await.unwrap();
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        assert_eq!(
            r.pool(&"group1".into()).await.unwrap().as_ref(),
            Some(&changed)
        );
    }
    // Re-encryption round-trips: verifying against a CA ref with every
    // option set, not verifying with none, and back to the clear.
    use weir_core::keymgr::{KeyRef, TlsRef};
    use weir_core::tls::{TlsOptions, TlsVersion};
    use weir_core::upstream_tls::UpstreamTls;
    for upstream in [
        Some(UpstreamTls {
            ca: Some(TlsRef {
                href: "http://weir.test/key-manager/v1/secrets/s-ca".into(),
                target: KeyRef::Secret("s-ca".into()),
            }),
            options: TlsOptions {
                versions: vec![TlsVersion::Tls13],
                ciphers: Some("TLS_AES_128_GCM_SHA256".into()),
                alpn: vec!["http/1.1".into()],
            },
            ..UpstreamTls::default()
        }),
        Some(UpstreamTls {
            ca: Some(TlsRef {
                href: "c".into(),
                target: KeyRef::Container("c-ca".into()),
            }),
            options: TlsOptions::default(),
            ..UpstreamTls::default()
        }),
        // A CRL, a client certificate and a server name (native).
        Some(UpstreamTls {
            ca: Some(TlsRef {
                href: "s-ca".into(),
                target: KeyRef::Secret("s-ca".into()),
            }),
            crl: Some(TlsRef {
                href: "s-crl".into(),
                target: KeyRef::Secret("s-crl".into()),
            }),
            client_cert: Some(TlsRef {
                href: "c-client".into(),
                target: KeyRef::Container("c-client".into()),
            }),
            server_name: Some("member.test".into()),
            options: TlsOptions::default(),
        }),
        Some(UpstreamTls::default()),
        None,
    ] {
        let changed = Pool {
            upstream_tls: upstream,
            ..group.clone()
        };
        let mut tx = store.begin().await.unwrap();
        tx.update_pool(&changed).await.unwrap();
        tx.commit().await.unwrap();
        let mut r = store.read().await.unwrap();
        assert_eq!(
            r.pool(&"group1".into()).await.unwrap().as_ref(),
            Some(&changed)
        );
    }
    let with_tls = Pool {
        id: "group-tls".into(),
        upstream_tls: Some(UpstreamTls::default()),
        ..group.clone()
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_server_group(&with_tls).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .read()
            .await
            .unwrap()
            .pool(&"group-tls".into())
            .await
            .unwrap(),
        Some(with_tls),
        "created with re-encryption"
    );
    let mut r = store.read().await.unwrap();
    let changes = r.changes_since(before, 10).await.unwrap();
    assert!(changes
        .iter()
        .any(|c| c.entity == "pool" && c.op == "create" && c.lb_id.as_ref() == Some(&lb.id)));
    drop(r);

    // Detaching the group, renaming the load balancer: both round-trip.
    let detached = Listener {
        group_pool_id: None,
        description: "own pool again".into(),
        updated_at: t(9),
        ..bound.clone()
    };
    let renamed = LoadBalancer {
        name: "renamed".into(),
        description: "still the front door".into(),
        status: LbStatus::Stopped,
        updated_at: t(9),
        ..lb.clone()
    };
    let mut tx = store.begin().await.unwrap();
    tx.update_listener(&detached).await.unwrap();
    tx.update_load_balancer(&renamed).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.listener(&"l2".into()).await.unwrap(), Some(detached));
    assert_eq!(r.load_balancer(&lb.id).await.unwrap(), Some(renamed));
    drop(r);

    let mut tx = store.begin().await.unwrap();
    tx.delete_load_balancer(&lb).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.pool(&"group1".into()).await.unwrap(), None);
    assert_eq!(r.backend(&"gb1".into()).await.unwrap(), None);
    assert_eq!(r.listener(&"l2".into()).await.unwrap(), None);
}

/// Every case above, once per store.
async fn project_networks_round_trip_count_their_users_and_delete(store: Arc<dyn Store>) {
    let (lb, _) = seed(&*store).await;
    // A network a project made: no CIDR, a subnet of each IP version,
    // neither granted.
    let net = Vpc {
        id: "n1".into(),
        project_id: "p1".into(),
        name: "dual".into(),
        cidr: None,
        has_border_gateway: false,
        shared: false,
        created_at: t(20),
    };
    let sub = |id: &str, cidr: &str| Subnet {
        id: id.into(),
        project_id: "p1".into(),
        vpc_id: "n1".into(),
        name: id.into(),
        cidr: cidr.parse().unwrap(),
        shared: false,
        granted: false,
        created_at: t(21),
    };
    let (v4, v6) = (sub("n1-4", "10.1.1.0/24"), sub("n1-6", "fd00:1::/64"));
    let mut tx = store.begin().await.unwrap();
    tx.insert_vpc(&net).await.unwrap();
    tx.insert_subnet(&v4).await.unwrap();
    tx.insert_subnet(&v6).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.vpc(&net.id).await.unwrap(), Some(net.clone()));
    assert_eq!(
        r.subnets_of_vpc(&net.id).await.unwrap(),
        vec![v4.clone(), v6.clone()]
    );
    // The seeded operator subnet is granted and named by the load balancer.
    let seeded = r.subnet(&lb.subnet_id).await.unwrap().unwrap();
    assert!(seeded.granted);
    assert_eq!(
        r.subnet_users(&lb.subnet_id).await.unwrap().load_balancers,
        1
    );
    assert_eq!(r.subnet_users(&v6.id).await.unwrap(), Default::default());
    assert_eq!(r.count_networks(&"p1".into()).await.unwrap(), (2, 3));
    drop(r);

    let mut tx = store.begin().await.unwrap();
    tx.delete_subnet(&v4).await.unwrap();
    tx.delete_subnet(&v6).await.unwrap();
    tx.delete_vpc(&net).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = store.read().await.unwrap();
    assert_eq!(r.vpc(&net.id).await.unwrap(), None);
    assert_eq!(r.subnet(&v6.id).await.unwrap(), None);
    assert_eq!(r.count_networks(&"p1".into()).await.unwrap(), (1, 1));
}

macro_rules! for_each_store {
    ($($case:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _dir) = super::sqlite().await;
                    super::$case(store).await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(store) = super::postgres().await {
                        super::$case(store).await;
                    }
                }
            )*
        }
    };
}

for_each_store!(
    entities_round_trip,
    identity_in_a_pool_is_unique,
    savepoints_undo_one_command_and_keep_the_rest,
    a_failing_read_undoes_only_its_command,
    malformed_ids_find_nothing,
    compaction_sweeps_old_records_and_keeps_the_newest_changes,
    dropped_transactions_leave_nothing,
    paging_overlap_and_updates,
    deleting_a_load_balancer_cascades,
    deleting_a_listener_takes_its_pool_and_backends_and_is_logged,
    pool_settings_round_trip_and_changes_are_scoped,
    server_groups_come_and_go_with_their_backends_and_cascade_with_the_lb,
    tags_round_trip_and_update,
    l7_policies_round_trip_and_cascade,
    acls_round_trip_and_reload_their_listeners,
    nodes_heartbeat_in_place,
    leases_are_compare_and_set_on_the_epoch,
    lb_vip_mode_round_trips_and_is_logged,
    project_networks_round_trip_count_their_users_and_delete,
    projects_number_their_own_changes,
    member_spellings_round_trip,
    registration_reads_match_the_single_reads,
    registration_reads_follow_instances,
    a_nul_in_text_is_never_cut_short,
    reads_ahead_see_the_groups_earlier_registrations,
    a_held_write_that_fails_fails_the_group,
);
