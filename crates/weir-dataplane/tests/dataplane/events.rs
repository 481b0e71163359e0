//! Live-state transitions through real sockets: a backend's health as its
//! checks see it, a removal's drain, a listener's failed and then
//! successful bind, each published once as it happens.

use std::time::Duration;

use tokio::sync::broadcast;
use weir_core::model::{CheckKind, HealthCheck, Protocol, Scheduler};
use weir_core::status::BackendState;
use weir_core::watch::{LiveEvent, LiveState, LiveSubject};

use crate::support::*;

fn fast_check() -> HealthCheck {
    HealthCheck {
        kind: CheckKind::Tcp,
        interval_ms: 50,
        timeout_ms: 1000,
        rise: 1,
        fall: 2,
        port: None,
    }
}

/// The next transition, waiting at most `limit` (a bound so a broken
/// publisher fails the test instead of hanging it).
async fn next(events: &mut broadcast::Receiver<LiveEvent>, limit: Duration) -> Option<LiveEvent> {
    tokio::time::timeout(limit, events.recv()).await.ok()?.ok()
}

/// Reads transitions until one says `want` of `id`, returning what came
/// before it for `id` (at most 50 events).
async fn until_state(
    events: &mut broadcast::Receiver<LiveEvent>,
    id: &str,
    want: &LiveState,
) -> Vec<LiveState> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let Some(event) = next(events, Duration::from_secs(10)).await else {
            panic!("no {want:?} for {id}; saw {seen:?}");
        };
        let subject = match &event.subject {
            LiveSubject::Backend { id, .. } => id.as_str().to_owned(),
            LiveSubject::Listener { id } => id.as_str().to_owned(),
        };
        if subject != id {
            continue;
        }
        if &event.state == want {
            return seen;
        }
        seen.push(event.state);
    }
    panic!("no {want:?} for {id} within 50 events; saw {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_health_and_drain_are_published_once_each() {
    let dp = dataplane();
    let mut events = dp.live_events();
    let v = vip();
    let (a, ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 1)],
        Some(fast_check()),
        100,
    ));
    let before = until_state(&mut events, "a", &LiveState::Backend(BackendState::Healthy)).await;
    assert!(
        before
            .iter()
            .all(|s| *s == LiveState::Backend(BackendState::Checking)),
        "{before:?}"
    );
    // The backend dies: its checks fail and it turns unhealthy, with the
    // tenant-facing reason.
    ta.abort();
    let _ = ta.await;
    let mut unhealthy = None;
    for _ in 0..50 {
        let event = next(&mut events, Duration::from_secs(10))
            .await
            .expect("a transition");
        if event.state == LiveState::Backend(BackendState::Unhealthy) {
            unhealthy = Some(event);
            break;
        }
    }
    let unhealthy = unhealthy.expect("a turns unhealthy");
    assert_eq!(unhealthy.lb_id.as_str(), "lb");
    assert!(matches!(
        &unhealthy.subject,
        LiveSubject::Backend { id, pool_id } if id.as_str() == "a" && pool_id.as_str() == "pool"
    ));
    assert_eq!(unhealthy.reason.as_deref(), Some("connection failed"));

    // b is removed: it drains, then is drained (nothing is open).
    dp.apply(topology(
        2,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        Some(fast_check()),
        100,
    ));
    let before = until_state(&mut events, "b", &LiveState::Backend(BackendState::Drained)).await;
    assert_eq!(before, [LiveState::Backend(BackendState::Draining)]);
    // A rebuild with nothing new publishes nothing more for b.
    dp.apply(topology(
        3,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 2)],
        Some(fast_check()),
        100,
    ));
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(&event.subject, LiveSubject::Backend { id, .. } if id.as_str() == "b"),
            "{event:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_is_published_failed_then_bound() {
    let dp = dataplane();
    let mut events = dp.live_events();
    let v = vip();
    let (a, _ta) = tcp_backend("a").await;
    let squatter = std::net::TcpListener::bind(v).unwrap();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    let failed = loop {
        let event = next(&mut events, Duration::from_secs(10))
            .await
            .expect("a transition");
        if matches!(event.subject, LiveSubject::Listener { .. }) {
            break event;
        }
    };
    assert_eq!(failed.state, LiveState::ListenerFailed);
    assert_eq!(failed.kind(), "listener.failed");
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("cannot bind"),
        "{failed:?}"
    );
    // Retrying while the port is held publishes nothing new.
    dp.retry_failed_binds();
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event.subject, LiveSubject::Listener { .. }),
            "{event:?}"
        );
    }
    drop(squatter);
    dp.retry_failed_binds();
    let before = until_state(&mut events, "listener", &LiveState::ListenerBound).await;
    assert!(before.is_empty(), "{before:?}");
}
