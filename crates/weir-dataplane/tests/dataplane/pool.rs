//! Pool snapshots under concurrent transitions.

use std::sync::Arc;
use std::time::Duration;

use weir_core::model::{BackendPorts, Scheduler};
use weir_core::topology::{BackendTarget, PoolSpec};
use weir_dataplane::egress::Egress;
use weir_dataplane::pool::{Ejection, PoolRuntime, Registry};

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
            })
            .collect();
        let spec = Arc::new(PoolSpec {
            id: "pool".into(),
            lb_id: "lb".into(),
            health_check: None,
            drain_timeout_ms: 1000,
            slow_start_ms: 0,
            backends: backends.into_iter().collect(),
        });
        let egress = Egress::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
        let ejection = Ejection {
            after_failures: 1,
            period: Duration::from_secs(3600),
        };
        let pool = PoolRuntime::new(spec, egress, ejection, registry.clone());
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
                        pool.record_connect_failure(b, &std::io::Error::other("refused"));
                    }
                });
            }
        });
        for scheduler in [Scheduler::Wrr, Scheduler::Lc] {
            let picked = pool.pick(scheduler, "127.0.0.1".parse().unwrap(), &[]);
            assert!(
                picked.is_none(),
                "an ejected backend is still picked: {:?}",
                picked.map(|b| b.id.clone())
            );
        }
    }
}
