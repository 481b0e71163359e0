//! Pool snapshots under concurrent transitions, and passive health of
//! the last backend serving.

use std::sync::Arc;
use std::time::Duration;

use weir_core::model::{BackendPorts, Scheduler};
use weir_core::topology::{BackendTarget, PoolSpec};
use weir_dataplane::egress::Egress;
use weir_dataplane::pool::{Ejection, PassiveFailure, PoolRuntime, Registry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transitions_never_leave_a_stale_snapshot() {
    for _ in 0..50 {
        let registry: Registry = Arc::default();
        let backends: Vec<BackendTarget> = (0..64)
            .map(|i| BackendTarget {
                id: format!("b{i:02}").into(),
                address: "127.0.0.1".parse().unwrap(),
                ports: BackendPorts::One(9),
                weight: 1,
                enabled: true,
                backup: false,
                monitor_address: None,
                monitor_port: None,
            })
            .collect();
        let spec = Arc::new(PoolSpec {
            id: "pool".into(),
            lb_id: "lb".into(),
            health_check: None,
            drain_timeout_ms: 1000,
            slow_start_ms: 0,
            fail_open: false,
            tls: None,
            backends: backends.into_iter().collect(),
        });
        let egress = Egress::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
        let ejection = Ejection {
            after_failures: 1,
            period: Duration::from_secs(3600),
        };
        let pool = PoolRuntime::new(spec, egress, ejection, registry.clone(), Default::default());
        let members: Vec<_> = registry.lock().unwrap().values().cloned().collect();
        // Eject every backend from four threads at once: each ejection
        // rebuilds the snapshot, and none may be lost.
        let runtime = tokio::runtime::Handle::current();
        std::thread::scope(|scope| {
            for chunk in members.chunks(16) {
                let (pool, runtime) = (&pool, &runtime);
                scope.spawn(move || {
                    // The ejection timer is a tokio task.
                    let _entered = runtime.enter();
                    for b in chunk {
                        pool.record_failure(
                            b,
                            PassiveFailure::Connect,
                            &std::io::Error::other("refused"),
                        );
                    }
                });
            }
        });
        // Every backend but the last one serving is ejected: passive
        // health never empties a pool.
        for scheduler in [Scheduler::Wrr, Scheduler::Lc] {
            let client = "127.0.0.1:40000".parse().unwrap();
            let survivor = pool
                .pick(scheduler, client, &[])
                .expect("the last backend serves");
            let picked = pool.pick(scheduler, client, std::slice::from_ref(&survivor.id));
            assert!(
                picked.is_none(),
                "an ejected backend is still picked: {:?}",
                picked.map(|b| b.id.clone())
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_ejected_again_stays_out_longer_until_it_serves_well() {
    let registry: Registry = Arc::default();
    let spec = Arc::new(PoolSpec {
        id: "pool".into(),
        lb_id: "lb".into(),
        health_check: None,
        drain_timeout_ms: 1000,
        slow_start_ms: 0,
        fail_open: false,
        tls: None,
        // "b" fails; "steady" keeps the pool serving, without which "b"
        // would never be ejected.
        backends: ["b", "steady"]
            .into_iter()
            .map(|id| BackendTarget {
                id: id.into(),
                address: "127.0.0.1".parse().unwrap(),
                ports: BackendPorts::One(9),
                weight: 1,
                enabled: true,
                backup: false,
                monitor_address: None,
                monitor_port: None,
            })
            .collect(),
    });
    let egress = Egress::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
    let period = Duration::from_millis(300);
    let ejection = Ejection {
        after_failures: 1,
        period,
    };
    let pool = PoolRuntime::new(spec, egress, ejection, registry.clone(), Default::default());
    let b = registry.lock().unwrap()[&"b".into()].clone();
    let client = "127.0.0.1:40000".parse().unwrap();
    let steady = ["steady".into()];
    let picks_b = || pool.pick(Scheduler::Wrr, client, &steady).is_some();
    let back_within = async |limit: Duration| {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if picks_b() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    let failed = || pool.record_failure(&b, PassiveFailure::Response, &"reset");
    failed();
    assert!(!picks_b(), "ejected");
    assert!(back_within(period * 3).await, "back after one period");
    // Failing again before serving well: two periods out.
    failed();
    assert!(
        !back_within(period + period / 2).await,
        "out for two periods"
    );
    assert!(back_within(period * 3).await, "back after two periods");
    // A request served well forgives the past: one period again (not
    // three).
    pool.record_success(&b);
    failed();
    assert!(
        back_within(period * 5 / 2).await,
        "one period after a success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_backend_failing_traffic_reads_healthy_again_once_its_check_passes() {
    use weir_core::model::{CheckKind, HealthCheck};
    use weir_core::status::BackendState;
    // Traffic goes to a closed port; the check to an open one, so the
    // check keeps passing while traffic fails.
    let check_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry: Registry = Arc::default();
    let spec = Arc::new(PoolSpec {
        id: "pool".into(),
        lb_id: "lb".into(),
        health_check: Some(HealthCheck {
            kind: CheckKind::Tcp,
            interval_ms: 50,
            timeout_ms: 1000,
            rise: 1,
            fall: 1,
            port: Some(check_port.local_addr().unwrap().port()),
        }),
        drain_timeout_ms: 1000,
        slow_start_ms: 0,
        fail_open: false,
        tls: None,
        backends: [BackendTarget {
            id: "only".into(),
            address: "127.0.0.1".parse().unwrap(),
            ports: BackendPorts::One(9),
            weight: 1,
            enabled: true,
            backup: false,
            monitor_address: None,
            monitor_port: None,
        }]
        .into_iter()
        .collect(),
    });
    let egress = Egress::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
    let ejection = Ejection {
        after_failures: 1,
        period: Duration::from_secs(3600),
    };
    let pool = PoolRuntime::new(spec, egress, ejection, registry.clone(), Default::default());
    let only = registry.lock().unwrap()[&"only".into()].clone();
    let state_becomes = async |want: BackendState| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if only.live().state == want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(
        state_becomes(BackendState::Healthy).await,
        "{:?}",
        only.live()
    );
    pool.record_failure(&only, PassiveFailure::Connect, &"refused");
    assert_eq!(
        only.live().state,
        BackendState::Unhealthy,
        "failing traffic"
    );
    let client = "127.0.0.1:40000".parse().unwrap();
    assert!(
        pool.pick(Scheduler::Wrr, client, &[]).is_some(),
        "the last backend serving is never ejected"
    );
    assert!(
        state_becomes(BackendState::Healthy).await,
        "a passing check shows it serves: {:?}",
        only.live()
    );
}
