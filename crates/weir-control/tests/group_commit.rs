//! Registrations queued together commit as one group whose reads were
//! done ahead (`StoreTx::prefetch_registrations`) and whose writes were
//! held back for COMMIT: each still sees the ones queued before it, on
//! SQLite and (when `WEIR_TEST_POSTGRES_URL` is set) on PostgreSQL.

use std::sync::Arc;

use futures_util::future::join_all;
use weir_control::{Control, Principal, RegisterRequest, RegisterTarget};
use weir_core::inventory::{NewSubnet, NewVpc};
use weir_core::loadbalancer::{NewListener, NewLoadBalancer};
use weir_core::model::Listener;
use weir_core::register::{BackendSpec, RegisterPolicy};
use weir_core::settings::Settings;
use weir_store::sqlite::{Durability, SqliteStore};
use weir_store::{Page, Store};

/// A tenant with one load balancer and two TCP listeners.
async fn two_listeners(control: &Control) -> (Principal, Listener, Listener) {
    let admin = Principal::Admin;
    let project = control
        .create_project(&admin, "p".into())
        .await
        .unwrap()
        .project;
    let vpc = control
        .create_vpc(
            &admin,
            project.id.clone(),
            NewVpc {
                name: "v".into(),
                cidr: "10.0.0.0/16".into(),
                has_border_gateway: false,
                shared: false,
            },
        )
        .await
        .unwrap();
    let subnet = control
        .create_subnet(
            &admin,
            vpc.id.clone(),
            NewSubnet {
                name: "s".into(),
                cidr: "10.0.1.0/24".into(),
            },
        )
        .await
        .unwrap();
    let tenant = Principal::Project(project.id.clone());
    let lb = control
        .create_load_balancer(
            &tenant,
            subnet.id.clone(),
            NewLoadBalancer {
                name: "lb".into(),
                vip: None,
                vpc_id: None,
                stopped: false,
                description: None,
                tags: Vec::new(),
                flavor_id: None,
                vip_mode: None,
            },
        )
        .await
        .unwrap();
    let mut listeners = Vec::new();
    for port in [80, 81] {
        listeners.push(
            control
                .create_listener(
                    &tenant,
                    lb.id.clone(),
                    NewListener {
                        name: format!("l{port}"),
                        protocol: "tcp".into(),
                        port: Some(port),
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
        );
    }
    let b = listeners.pop().unwrap();
    let a = listeners.pop().unwrap();
    (tenant, a, b)
}

fn one(target: RegisterTarget, address: &str) -> RegisterRequest {
    RegisterRequest {
        target,
        backends: vec![BackendSpec {
            address: Some(address.into()),
            port: Some(8080),
            ..Default::default()
        }],
        policy: RegisterPolicy::native(),
        client_token: None,
    }
}

async fn queued_registrations_see_each_other(store: Arc<dyn Store>) {
    let control = Control::start(store.clone(), Settings::default(), "admin".into())
        .await
        .unwrap();
    let (tenant, a, b) = two_listeners(&control).await;
    // Queued at once (the writer takes them as one group): ten copies of
    // one backend, through the listener and through its pool, and ten
    // distinct backends on each listener.
    let mut requests = Vec::new();
    for i in 0..10 {
        let target = if i % 2 == 0 {
            RegisterTarget::Listener(a.id.clone())
        } else {
            RegisterTarget::Pool(a.default_pool_id.clone())
        };
        requests.push(one(target, "10.0.1.50"));
        requests.push(one(
            RegisterTarget::Listener(a.id.clone()),
            &format!("10.0.1.{}", 60 + i),
        ));
        requests.push(one(
            RegisterTarget::Listener(b.id.clone()),
            &format!("10.0.1.{}", 60 + i),
        ));
    }
    let outcomes = join_all(
        requests
            .into_iter()
            .map(|r| control.register_backends(&tenant, r)),
    )
    .await;
    let mut copies_registered = 0;
    for (k, outcome) in outcomes.iter().enumerate() {
        if k % 3 == 0 {
            // A copy: registered once; every later copy is refused as a
            // duplicate of it.
            match outcome {
                Ok(o) if !o.backends.is_empty() => copies_registered += 1,
                Ok(o) => panic!("copy {k} neither registered nor refused: {o:?}"),
                Err(e) => assert!(e.to_string().contains("10.0.1.50"), "copy {k}: {e}"),
            }
        } else {
            assert_eq!(outcome.as_ref().unwrap().backends.len(), 1, "request {k}");
        }
    }
    assert_eq!(copies_registered, 1);

    // What the store holds agrees, and so do its counts.
    let all = Page {
        marker: None,
        limit: usize::MAX,
    };
    let mut r = store.read().await.unwrap();
    for (pool, expected) in [(&a.default_pool_id, 11), (&b.default_pool_id, 10)] {
        assert_eq!(r.backends(pool, &all).await.unwrap().len(), expected);
        assert_eq!(r.count_backends(pool).await.unwrap(), expected);
    }
    drop(r);

    // One more group: a copy of a stored backend is still refused, a new
    // one still lands.
    let again = join_all([
        control.register_backends(
            &tenant,
            one(RegisterTarget::Listener(a.id.clone()), "10.0.1.50"),
        ),
        control.register_backends(
            &tenant,
            one(RegisterTarget::Listener(a.id.clone()), "10.0.1.99"),
        ),
    ])
    .await;
    assert!(again[0].is_err(), "{:?}", again[0]);
    assert_eq!(again[1].as_ref().unwrap().backends.len(), 1);
}

#[tokio::test]
async fn sqlite_queued_registrations_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .await
        .unwrap();
    queued_registrations_see_each_other(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_queued_registrations_see_each_other() {
    let Ok(url) = std::env::var("WEIR_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("WEIR_REQUIRE_POSTGRES").is_none(),
            "WEIR_REQUIRE_POSTGRES is set but WEIR_TEST_POSTGRES_URL is not"
        );
        eprintln!("PostgreSQL case skipped: WEIR_TEST_POSTGRES_URL is not set");
        return;
    };
    let scoped = weir_store::postgres::fresh_schema(&url, "group_commit")
        .await
        .unwrap();
    let store = weir_store::postgres::PgStore::connect(&scoped)
        .await
        .unwrap();
    queued_registrations_see_each_other(Arc::new(store)).await;
}
