//! Fail-open (`PoolSpec::fail_open`, `weir_core::fail_open`): a pool
//! whose every backend fails its checks refuses clients when it is off
//! (as always) and spreads them over every backend in service when it is
//! on; a backend taken out (disabled) never serves; once one backend
//! passes again, only the healthy serve.

use std::sync::Arc;
use std::time::Duration;

use weir_core::model::*;
use weir_core::status::BackendState;
use weir_core::topology::*;

use crate::support::*;

fn fast_check() -> HealthCheck {
    HealthCheck {
        kind: CheckKind::Tcp,
        interval_ms: 50,
        timeout_ms: 1000,
        rise: 1,
        fall: 1,
        port: None,
    }
}

fn with_fail_open(topology: Arc<Topology>, on: bool) -> Arc<Topology> {
    let mut t = (*topology).clone();
    for pool in t.pools.values_mut() {
        let mut spec = (**pool).clone();
        spec.fail_open = on;
        *pool = Arc::new(spec);
    }
    Arc::new(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_down_refuses_unless_the_pool_fails_open() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let (c, _tc) = tcp_backend("c").await;
    // Each check goes to a closed port, so every backend is down while
    // its traffic port serves.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let watched = |id: &str, addr, up: bool| {
        let mut t = backend(id, addr, 1);
        if !up {
            t.monitor_address = Some(closed.ip());
            t.monitor_port = Some(closed.port());
        }
        t
    };
    let mut disabled = watched("c", c, false);
    disabled.enabled = false;
    let v = vip();
    let pool = |revision, b_up| {
        topology(
            revision,
            v,
            Protocol::Tcp,
            Scheduler::Wrr,
            vec![
                watched("a", a, false),
                watched("b", b, b_up),
                disabled.clone(),
            ],
            Some(fast_check()),
            1000,
        )
    };
    dp.apply(pool(1, false));
    let state = |id: &str| dp.backend_live(&id.into()).map(|l| l.state);
    assert!(
        eventually(Duration::from_secs(5), async || {
            state("a") == Some(BackendState::Unhealthy)
                && state("b") == Some(BackendState::Unhealthy)
        })
        .await,
        "both checks fail: {:?} {:?}",
        state("a"),
        state("b")
    );
    for _ in 0..3 {
        assert_eq!(tag_of(v).await, None, "fail-open off: nobody serves");
    }

    dp.apply(with_fail_open(pool(2, false), true));
    assert!(
        eventually(Duration::from_secs(5), async || tag_of(v).await.is_some()).await,
        "fail-open on: the backends serve"
    );
    let counts = spread(v, 20).await;
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["a", "b"], "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 20, "{counts:?}");
    // Still reported as failing their checks: fail-open serves them, it
    // does not call them healthy.
    assert_eq!(state("a"), Some(BackendState::Unhealthy));

    // One passes again: only it serves.
    dp.apply(with_fail_open(pool(3, true), true));
    assert!(
        eventually(Duration::from_secs(5), async || state("b")
            == Some(BackendState::Healthy))
        .await,
        "b's check passes: {:?}",
        state("b")
    );
    assert_eq!(spread(v, 10).await.get("b"), Some(&10));

    // And turning fail-open off again with all down refuses once more.
    dp.apply(pool(4, false));
    assert!(
        eventually(Duration::from_secs(5), async || state("b")
            == Some(BackendState::Unhealthy))
        .await,
        "b's check fails again: {:?}",
        state("b")
    );
    assert_eq!(tag_of(v).await, None, "fail-open off again: nobody serves");
}
