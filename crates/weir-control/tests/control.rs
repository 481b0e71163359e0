//! The control layer through its public API: the topology follower
//! converges on what the store holds; the writer survives a panicking
//! command.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use weir_control::{Control, Principal, RegisterRequest, RegisterTarget, Retention};
use weir_core::backend::BackendUpdate;
use weir_core::group::{NewServerGroup, WhenInUse};
use weir_core::inventory::{NewSubnet, NewVpc};
use weir_core::loadbalancer::{LbAction, NewListener, NewLoadBalancer};
use weir_core::model::{ProxyProtocol, Scheduler};
use weir_core::pool::PoolUpdate;
use weir_core::register::{BackendSpec, RegisterPolicy};
use weir_core::settings::Settings;
use weir_core::topology::Topology;
use weir_core::Timestamp;
use weir_store::sqlite::{Durability, SqliteStore};

/// Waits (bounded) until the topology satisfies `pred`.
async fn until(
    rx: &mut watch::Receiver<Arc<Topology>>,
    pred: impl Fn(&Topology) -> bool,
) -> Arc<Topology> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let current = rx.borrow_and_update().clone();
            if pred(&current) {
                return current;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("topology converged")
}

#[tokio::test]
async fn topology_follows_registrations_and_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .await
        .unwrap();
    let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
        .await
        .unwrap();
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
    let mut rx = control.topology();
    assert!(rx.borrow().listeners.is_empty());

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
    let listener = control
        .create_listener(
            &tenant,
            lb.id.clone(),
            NewListener {
                name: "l".into(),
                protocol: "tcp".into(),
                port: Some(80),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t = until(&mut rx, |t| t.listeners.contains_key(&listener.id)).await;
    assert_eq!(
        t.listeners[&listener.id].pools,
        vec![listener.default_pool_id.clone(), lb.default_pool_id.clone()]
    );

    let outcome = control
        .register_backends(
            &tenant,
            RegisterRequest {
                target: RegisterTarget::Listener(listener.id.clone()),
                backends: (1..=3)
                    .map(|i| BackendSpec {
                        address: Some(format!("10.0.1.{i}")),
                        ..Default::default()
                    })
                    .collect(),
                policy: RegisterPolicy::native(),
                client_token: None,
            },
        )
        .await
        .unwrap();
    let pool = listener.default_pool_id.clone();
    until(&mut rx, |t| {
        t.pools.get(&pool).is_some_and(|p| p.backends.len() == 3)
    })
    .await;

    let first = outcome.backends[0].id.clone();
    control
        .update_backend(
            &tenant,
            first.clone(),
            BackendUpdate {
                weight: Some(7),
                ..Default::default()
            },
            RegisterPolicy::native(),
        )
        .await
        .unwrap();
    control
        .delete_backend(&tenant, outcome.backends[1].id.clone())
        .await
        .unwrap();
    let t = until(&mut rx, |t| t.pools[&pool].backends.len() == 2).await;
    assert_eq!(
        t.pools[&pool]
            .backends
            .iter()
            .find(|b| b.id == first)
            .unwrap()
            .weight,
        7
    );

    let before = rx.borrow().clone();
    control
        .load_balancer_action(&tenant, lb.id.clone(), LbAction::Stop)
        .await
        .unwrap();
    let t = until(&mut rx, |t| t.listeners.is_empty()).await;
    assert!(t.pools.is_empty(), "a stopped load balancer runs nothing");
    control
        .load_balancer_action(&tenant, lb.id.clone(), LbAction::Start)
        .await
        .unwrap();
    let t = until(&mut rx, |t| t.listeners.len() == 1 && t.pools.len() == 2).await;
    assert_eq!(
        t.pools[&pool], before.pools[&pool],
        "restart reloads the same backends"
    );
}

#[tokio::test]
async fn startup_loads_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (listener_id, pool_id) = {
        let store = SqliteStore::open(&path, Durability::Normal).await.unwrap();
        let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
            .await
            .unwrap();
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
                vpc.id,
                NewSubnet {
                    name: "s".into(),
                    cidr: "10.0.1.0/24".into(),
                },
            )
            .await
            .unwrap();
        let lb = control
            .create_load_balancer(
                &admin,
                subnet.id,
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
        let listener = control
            .create_listener(
                &admin,
                lb.id,
                NewListener {
                    protocol: "udp".into(),
                    port: Some(53),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        control
            .register_backends(
                &admin,
                RegisterRequest {
                    target: RegisterTarget::Listener(listener.id.clone()),
                    backends: vec![BackendSpec {
                        address: Some("10.0.1.9".into()),
                        ..Default::default()
                    }],
                    policy: RegisterPolicy::native(),
                    client_token: None,
                },
            )
            .await
            .unwrap();
        (listener.id, listener.default_pool_id)
    };
    let store = SqliteStore::open(&path, Durability::Normal).await.unwrap();
    let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
        .await
        .unwrap();
    let t = control.topology().borrow().clone();
    assert!(t.listeners.contains_key(&listener_id));
    assert_eq!(t.pools[&pool_id].backends.len(), 1);
    assert!(t.revision > 0);
}

#[tokio::test]
async fn a_panicking_command_does_not_stop_the_writer() {
    use weir_control::writer::Writer;
    use weir_control::{ControlError, ControlResult};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
            .await
            .unwrap(),
    );
    let writer = Writer::spawn(store, 0);
    let boom: ControlResult<()> = writer
        .write(|mut tx| async move {
            if tx.revision().await.is_ok() {
                panic!("a bug in a command");
            }
            (tx, Ok(()))
        })
        .await;
    assert!(matches!(boom, Err(ControlError::Unavailable)), "{boom:?}");
    let after: ControlResult<u64> = writer
        .write(|mut tx| async move {
            let rev = tx.revision().await.map_err(ControlError::from);
            (tx, rev)
        })
        .await;
    assert_eq!(after.unwrap(), 0, "later commands still run");
}

/// A takeover pauses this process's writes before the successor opens
/// the store: a paused control plane commits nothing and says so in a
/// retryable way; resumed (a takeover that failed), it writes again.
#[tokio::test]
async fn paused_writes_commit_nothing_until_resumed() {
    use weir_control::ControlError;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .await
        .unwrap();
    let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
        .await
        .unwrap();
    let admin = Principal::Admin;
    control
        .create_project(&admin, "before".into())
        .await
        .unwrap();
    let before = *control.revision().borrow();
    control.pause_writes().await;
    let refused = control.create_project(&admin, "during".into()).await;
    assert!(
        matches!(refused, Err(ControlError::StoreUnavailable(_))),
        "{refused:?}"
    );
    assert_eq!(*control.revision().borrow(), before, "nothing committed");
    let names: Vec<String> = control
        .list_projects(&admin)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["before"]);
    control.resume_writes();
    control
        .create_project(&admin, "after".into())
        .await
        .unwrap();
    assert!(*control.revision().borrow() > before);
}

#[tokio::test]
async fn topology_drops_what_goes_and_skips_stopped_listeners() {
    use weir_core::loadbalancer::ListenerUpdate;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .await
        .unwrap();
    let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
        .await
        .unwrap();
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
    let mut rx = control.topology();
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
    let spec = |port| BackendSpec {
        address: Some("10.0.1.5".into()),
        port: Some(port),
        ..Default::default()
    };
    let (group, _) = control
        .create_server_group(
            &tenant,
            lb.id.clone(),
            NewServerGroup {
                name: "g".into(),
                scheduler: Some("lc".into()),
                protocol: Some("proxy".into()),
                ..Default::default()
            },
            None,
            vec![spec(81), spec(82)],
            RegisterPolicy::native(),
        )
        .await
        .unwrap();
    let bound = control
        .create_listener(
            &tenant,
            lb.id.clone(),
            NewListener {
                name: "to-group".into(),
                protocol: "tcp".into(),
                port: Some(80),
                group_pool_id: Some(group.id.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let t = until(&mut rx, |t| t.listeners.contains_key(&bound.id)).await;
    assert_eq!(t.listeners[&bound.id].pools, vec![group.id.clone()]);
    assert_eq!(t.pools[&group.id].backends.len(), 2);
    // The group's own algorithm and protocol are the listener's.
    assert_eq!(t.listeners[&bound.id].scheduler, Scheduler::Lc);
    assert_eq!(t.listeners[&bound.id].proxy_protocol, ProxyProtocol::V1);
    assert_eq!(
        bound.scheduler,
        Scheduler::Wrr,
        "the listener's own is kept"
    );

    // A disabled group serves nothing; enabled again, it serves.
    let enable = |on| PoolUpdate {
        enabled: Some(on),
        ..Default::default()
    };
    control
        .update_pool(&tenant, group.id.clone(), enable(false))
        .await
        .unwrap();
    until(&mut rx, |t| {
        t.listeners
            .get(&bound.id)
            .is_some_and(|l| l.pools.is_empty())
    })
    .await;
    control
        .update_pool(&tenant, group.id.clone(), enable(true))
        .await
        .unwrap();
    until(&mut rx, |t| {
        t.listeners
            .get(&bound.id)
            .is_some_and(|l| l.pools == vec![group.id.clone()])
    })
    .await;

    // Stopped: configured, not served; started again: served.
    let stop = |enabled| ListenerUpdate {
        enabled: Some(enabled),
        ..Default::default()
    };
    control
        .update_listener(&tenant, bound.id.clone(), stop(false))
        .await
        .unwrap();
    until(&mut rx, |t| !t.listeners.contains_key(&bound.id)).await;
    control
        .update_listener(&tenant, bound.id.clone(), stop(true))
        .await
        .unwrap();
    until(&mut rx, |t| t.listeners.contains_key(&bound.id)).await;

    // In use, the group stays; once the listener is gone, the listener's
    // own pool and then the group leave the topology.
    assert!(control
        .delete_server_group(&tenant, group.id.clone(), WhenInUse::Refuse)
        .await
        .is_err());
    control
        .delete_listener(&tenant, bound.id.clone())
        .await
        .unwrap();
    let t = until(&mut rx, |t| !t.pools.contains_key(&bound.default_pool_id)).await;
    assert!(t.pools.contains_key(&group.id));
    control
        .delete_server_group(&tenant, group.id.clone(), WhenInUse::Refuse)
        .await
        .unwrap();
    let t = until(&mut rx, |t| !t.pools.contains_key(&group.id)).await;
    assert_eq!(
        t.pools.keys().cloned().collect::<Vec<_>>(),
        vec![lb.default_pool_id.clone()],
        "only the LB-wide pool is left"
    );
}

/// A client token is remembered for the idempotency TTL and no longer:
/// within it, the token with another request is refused; after the sweep
/// (run here as of a clock past the TTL) the record is gone and the token
/// executes again.
#[tokio::test]
async fn client_tokens_expire_after_the_idempotency_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .await
        .unwrap();
    let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
        .await
        .unwrap();
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
    let listener = control
        .create_listener(
            &tenant,
            lb.id.clone(),
            NewListener {
                name: "l".into(),
                protocol: "tcp".into(),
                port: Some(80),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let register = |address: &str| RegisterRequest {
        target: RegisterTarget::Listener(listener.id.clone()),
        backends: vec![BackendSpec {
            address: Some(address.into()),
            ..Default::default()
        }],
        policy: RegisterPolicy::native(),
        client_token: Some("token-1".into()),
    };
    control
        .register_backends(&tenant, register("10.0.1.1"))
        .await
        .unwrap();
    let reused = control
        .register_backends(&tenant, register("10.0.1.2"))
        .await;
    assert!(reused.is_err(), "within the TTL the token is taken");

    let retention = Retention {
        idempotency_ttl: Duration::from_secs(3600),
        ..Retention::default()
    };
    let in_two_hours = Timestamp(
        i64::try_from(
            (std::time::SystemTime::now() + Duration::from_secs(7200))
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap(),
    );
    let done = control.compact_now(retention, in_two_hours).await.unwrap();
    assert_eq!(done.idempotency_records, 1);
    let again = control
        .register_backends(&tenant, register("10.0.1.2"))
        .await
        .expect("after the TTL the token executes again");
    assert!(!again.replayed);
}

#[tokio::test]
async fn a_shared_vpc_serves_every_project_and_a_private_one_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .await
        .unwrap();
    let control = Control::start(Arc::new(store), Settings::default(), "admin".into())
        .await
        .unwrap();
    let admin = Principal::Admin;
    let mut projects = Vec::new();
    for name in ["owner", "other"] {
        let made = control.create_project(&admin, name.into()).await.unwrap();
        projects.push(made.project.id);
    }
    let network = |shared: bool, cidr: &str| NewVpc {
        name: "net".into(),
        cidr: cidr.into(),
        has_border_gateway: false,
        shared,
    };
    let mut subnets = Vec::new();
    for (shared, cidr, inner) in [
        (true, "10.1.0.0/16", "10.1.2.0/24"),
        (false, "10.2.0.0/16", "10.2.2.0/24"),
    ] {
        let vpc = control
            .create_vpc(&admin, projects[0].clone(), network(shared, cidr))
            .await
            .unwrap();
        assert_eq!(vpc.shared, shared);
        let subnet = control
            .create_subnet(
                &admin,
                vpc.id.clone(),
                NewSubnet {
                    name: "s".into(),
                    cidr: inner.into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(subnet.shared, shared);
        subnets.push(subnet);
    }
    let other = Principal::Project(projects[1].clone());
    let visible = control.list_subnets(&other).await.unwrap();
    assert_eq!(
        visible.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![subnets[0].id.clone()],
        "another project sees the shared subnet only"
    );
    let new_lb = || NewLoadBalancer {
        name: "lb".into(),
        vip: None,
        vpc_id: None,
        stopped: false,
        description: None,
        tags: Vec::new(),
        flavor_id: None,
        vip_mode: None,
    };
    let lb = control
        .create_load_balancer(&other, subnets[0].id.clone(), new_lb())
        .await
        .unwrap();
    assert_eq!(
        lb.project_id, projects[1],
        "the load balancer is the caller's"
    );
    let owner = Principal::Project(projects[0].clone());
    assert!(
        control.get_load_balancer(&owner, &lb.id).await.is_err(),
        "the network's owner does not see what others build on it"
    );
    // An address of the shared network is the caller's own network.
    let listener = control
        .create_listener(
            &other,
            lb.id.clone(),
            NewListener {
                name: "l".into(),
                protocol: "tcp".into(),
                port: Some(80),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    control
        .register_backends(
            &other,
            RegisterRequest {
                target: RegisterTarget::Listener(listener.id.clone()),
                backends: vec![BackendSpec {
                    address: Some("10.1.2.7".into()),
                    subnet_id: Some(subnets[0].id.to_string()),
                    ..Default::default()
                }],
                policy: RegisterPolicy::native(),
                client_token: None,
            },
        )
        .await
        .unwrap();
    let refused = control
        .create_load_balancer(&other, subnets[1].id.clone(), new_lb())
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not found"),
        "a private subnet of another project is not found: {refused}"
    );
}
