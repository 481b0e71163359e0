//! TCP: weights, backups, health, failover, drain, egress, live changes.

use std::time::Duration;

use weir_core::model::{CheckKind, HealthCheck, Protocol, Scheduler};
use weir_core::status::BackendState;

use crate::support::*;

/// Checks every 50 ms; a refused connect fails at once, while the long
/// timeout and `fall: 2` keep a loaded test machine from failing a live
/// backend.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_are_honoured() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let (c, _tc) = tcp_backend("c").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 2), backend("c", c, 3)],
        None,
        1000,
    ));
    let counts = spread(v, 600).await;
    // Smooth WRR is exact over whole cycles: 600 = 100 cycles of 6.
    assert_eq!(counts.get("a"), Some(&100), "{counts:?}");
    assert_eq!(counts.get("b"), Some(&200), "{counts:?}");
    assert_eq!(counts.get("c"), Some(&300), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weight_zero_and_disabled_get_no_new_connections() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let (c, _tc) = tcp_backend("c").await;
    let v = vip();
    let mut disabled = backend("c", c, 5);
    disabled.enabled = false;
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 0), disabled],
        None,
        1000,
    ));
    let counts = spread(v, 20).await;
    assert_eq!(counts.get("a"), Some(&20), "{counts:?}");
    assert_eq!(
        dp.backend_live(&"c".into()).unwrap().state,
        BackendState::Disabled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_and_source_hash() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Lc,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    // Hold one connection open: the next ones go to the other backend.
    let (first, _held) = open(v).await;
    for _ in 0..5 {
        let (tag, _conn) = open(v).await;
        assert_ne!(tag, first, "least connections avoids the busy backend");
        drop(_conn);
        assert!(
            eventually(Duration::from_secs(2), async || dp
                .backend_live(&tag.as_str().into())
                .unwrap()
                .active_connections
                == 0)
            .await
        );
    }
    dp.apply(topology(
        2,
        v,
        Protocol::Tcp,
        Scheduler::Sh,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    let counts = spread(v, 20).await;
    assert_eq!(
        counts.len(),
        1,
        "one client address, one backend: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backend_fails_no_new_connection() {
    let dp = dataplane();
    let (a, ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    assert_eq!(spread(v, 4).await.len(), 2);
    ta.abort();
    assert!(
        eventually(Duration::from_secs(2), async || {
            tokio::net::TcpStream::connect(a).await.is_err()
        })
        .await
    );
    let counts = spread(v, 50).await;
    assert_eq!(
        counts.get("b"),
        Some(&50),
        "every connection retried onto b: {counts:?}"
    );
    assert_eq!(
        dp.backend_live(&"a".into()).unwrap().state,
        BackendState::Unhealthy
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_take_over_and_hand_back() {
    let dp = dataplane();
    let (a, ta) = tcp_backend("primary").await;
    let (b, _tb) = tcp_backend("backup").await;
    let mut spare = backend("backup", b, 1);
    spare.backup = true;
    let v = vip();
    let topo = |rev, primary_addr| {
        topology(
            rev,
            v,
            Protocol::Tcp,
            Scheduler::Wrr,
            vec![backend("primary", primary_addr, 1), spare.clone()],
            Some(fast_check()),
            1000,
        )
    };
    dp.apply(topo(1, a));
    assert!(
        eventually(Duration::from_secs(5), async || tag_of(v).await.as_deref()
            == Some("primary"))
        .await
    );
    let counts = spread(v, 10).await;
    assert_eq!(
        counts.get("primary"),
        Some(&10),
        "backups idle while a primary is up: {counts:?}, primary {:?}, backup {:?}",
        dp.backend_live(&"primary".into()),
        dp.backend_live(&"backup".into()),
    );

    ta.abort();
    assert!(
        eventually(Duration::from_secs(5), async || dp
            .backend_live(&"primary".into())
            .unwrap()
            .state
            == BackendState::Unhealthy)
        .await
    );
    assert_eq!(spread(v, 10).await.get("backup"), Some(&10));

    // The primary comes back on a new port (a new registration of it).
    let (a2, _ta2) = tcp_backend("primary").await;
    dp.apply(topo(2, a2));
    assert!(
        eventually(Duration::from_secs(5), async || tag_of(v).await.as_deref()
            == Some("primary"))
        .await
    );
    assert_eq!(spread(v, 10).await.get("primary"), Some(&10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checked_backends_start_checking_then_take_traffic() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    let mut check = fast_check();
    check.interval_ms = 60_000;
    check.timeout_ms = 1000;
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        Some(check),
        1000,
    ));
    // With a one-minute interval only the immediate first check can admit it.
    assert!(
        eventually(Duration::from_secs(3), async || dp
            .backend_live(&"a".into())
            .unwrap()
            .state
            == BackendState::Healthy)
        .await
    );
    assert_eq!(tag_of(v).await.as_deref(), Some("a"));
    assert!(
        metric(&dp, "weir_backend_check_latency_microseconds", "a").unwrap() > 0,
        "the check's latency is reported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_drains_open_connections_until_the_deadline() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        400,
    ));
    let (tag, mut conn) = open(v).await;
    assert_eq!(tag, "a");
    let wall_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let before = wall_ms();
    dp.apply(topology(
        2,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("b", b, 1)],
        None,
        400,
    ));
    let live = dp.backend_live(&"a".into()).unwrap();
    let after = wall_ms();
    assert_eq!(live.state, BackendState::Draining);
    // The deadline shown is the drain's start plus the pool's 400 ms.
    let deadline = live
        .drain_deadline
        .expect("a draining backend shows its deadline")
        .millis();
    assert!(
        (before..=after + 400).contains(&deadline) && deadline >= before + 350,
        "deadline {deadline} outside [{before}, {after}] + 400 ms"
    );
    assert_eq!(
        tag_of(v).await.as_deref(),
        Some("b"),
        "new connections avoid the drained backend"
    );
    assert_eq!(
        echo(&mut conn, "still here").await.as_deref(),
        Some("still here"),
        "the open one lives on"
    );
    assert!(
        closed_within(&mut conn, Duration::from_secs(3)).await,
        "closed at the drain deadline"
    );
    assert!(
        eventually(Duration::from_secs(2), async || dp
            .backend_live(&"a".into())
            .is_none())
        .await,
        "forgotten once drained"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_drains_and_reports_drained() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        10_000,
    ));
    let (first, conn) = open(v).await;
    let mut off = backend(&first, if first == "a" { a } else { b }, 1);
    off.enabled = false;
    let other = if first == "a" {
        backend("b", b, 1)
    } else {
        backend("a", a, 1)
    };
    dp.apply(topology(
        2,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![off, other],
        None,
        10_000,
    ));
    assert_eq!(
        dp.backend_live(&first.as_str().into()).unwrap().state,
        BackendState::Draining
    );
    assert!(!spread(v, 6).await.contains_key(&first));
    drop(conn);
    assert!(
        eventually(Duration::from_secs(3), async || dp
            .backend_live(&first.as_str().into())
            .unwrap()
            .state
            == BackendState::Drained)
        .await
    );
}

/// One backend "a" on `v`, enabled or not, with a drain timeout of `drain_ms`.
fn only_a(
    revision: u64,
    v: std::net::SocketAddr,
    a: std::net::SocketAddr,
    enabled: bool,
    drain_ms: u64,
) -> std::sync::Arc<weir_core::topology::Topology> {
    let mut target = backend("a", a, 1);
    target.enabled = enabled;
    topology(
        revision,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![target],
        None,
        drain_ms,
    )
}

/// Issue 14, hole 6: the drain timer used to latch `close` before looking
/// whether the drain had been called off, so at the old deadline every
/// connection of a re-enabled backend died and new ones were cut at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_called_off_by_re_enabling_never_fires() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    let drain = Duration::from_millis(400);
    dp.apply(only_a(1, v, a, true, 400));
    let (tag, mut conn) = open(v).await;
    assert_eq!(tag, "a");
    let disabled_at = std::time::Instant::now();
    dp.apply(only_a(2, v, a, false, 400));
    assert_eq!(
        dp.backend_live(&"a".into()).unwrap().state,
        BackendState::Draining
    );
    dp.apply(only_a(3, v, a, true, 400));
    // Past the old deadline, with room for a slow timer.
    tokio::time::sleep_until((disabled_at + drain * 2).into()).await;
    assert_eq!(
        echo(&mut conn, "still here").await.as_deref(),
        Some("still here"),
        "the open connection outlives the called-off deadline"
    );
    assert_eq!(
        tag_of(v).await.as_deref(),
        Some("a"),
        "new connections reach the re-enabled backend"
    );
    let (_, mut fresh) = open(v).await;
    assert_eq!(
        echo(&mut fresh, "new").await.as_deref(),
        Some("new"),
        "and stay open"
    );
    assert_eq!(
        dp.backend_live(&"a".into()).unwrap().state,
        BackendState::Healthy
    );
}

/// Disable, re-enable, disable again: the second drain runs to a deadline
/// of its own, not the first one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_again_after_a_called_off_drain_gets_a_fresh_deadline() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    let drain = Duration::from_millis(1500);
    dp.apply(only_a(1, v, a, true, 1500));
    let (_, mut conn) = open(v).await;
    let first_disable = std::time::Instant::now();
    dp.apply(only_a(2, v, a, false, 1500));
    dp.apply(only_a(3, v, a, true, 1500));
    tokio::time::sleep(Duration::from_millis(700)).await;
    dp.apply(only_a(4, v, a, false, 1500));
    // Past the first deadline, well before the second.
    tokio::time::sleep_until((first_disable + drain + Duration::from_millis(200)).into()).await;
    assert_eq!(
        echo(&mut conn, "between deadlines").await.as_deref(),
        Some("between deadlines"),
        "the first deadline was called off"
    );
    assert_eq!(
        dp.backend_live(&"a".into()).unwrap().state,
        BackendState::Draining
    );
    assert!(
        closed_within(&mut conn, Duration::from_secs(5)).await,
        "closed at the second deadline"
    );
    assert!(
        eventually(Duration::from_secs(2), async || dp
            .backend_live(&"a".into())
            .unwrap()
            .state
            == BackendState::Drained)
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_egress_guard_refuses_private_addresses_here() {
    let dp = dataplane();
    let v = vip();
    let outside = backend("outside", "10.255.255.1:80".parse().unwrap(), 1);
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![outside],
        None,
        1000,
    ));
    assert_eq!(
        tag_of(v).await,
        None,
        "no backend may be dialled: the client is closed"
    );
    let live = dp.backend_live(&"outside".into()).unwrap();
    assert_eq!(live.state, BackendState::Unhealthy);
    assert!(live.reason.unwrap().contains("egress_allow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_under_load_lose_no_connection() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let (c, _tc) = tcp_backend("c").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    let load = tokio::spawn(async move {
        let mut failures = 0;
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..600 {
            match tag_of(v).await {
                Some(tag) => {
                    seen.insert(tag);
                }
                None => failures += 1,
            }
        }
        (failures, seen)
    });
    let sets = [
        vec![backend("a", a, 1), backend("b", b, 1)],
        vec![backend("b", b, 1), backend("c", c, 2)],
        vec![backend("c", c, 1), backend("a", a, 1)],
    ];
    for (i, set) in sets.iter().cycle().take(30).enumerate() {
        dp.apply(topology(
            2 + i as u64,
            v,
            Protocol::Tcp,
            Scheduler::Wrr,
            set.clone(),
            None,
            1000,
        ));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (failures, seen) = load.await.unwrap();
    assert_eq!(failures, 0);
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_failures_are_reported_and_retried_until_the_port_is_free() {
    let dp = dataplane();
    let v = vip();
    let (a, _ta) = tcp_backend("a").await;
    let squatter = std::net::TcpListener::bind(v).unwrap();
    let (topologies, follow) = tokio::sync::watch::channel(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    tokio::spawn(dp.clone().follow(follow));
    assert!(
        eventually(Duration::from_secs(5), async || {
            dp.listener_live(&"listener".into()).is_some()
        })
        .await
    );
    match dp.listener_live(&"listener".into()).unwrap() {
        weir_core::status::ListenerLive::Error(reason) => {
            assert!(reason.contains("cannot bind"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Still failing while the port is held: retries change nothing.
    dp.retry_failed_binds();
    assert!(matches!(
        dp.listener_live(&"listener".into()),
        Some(weir_core::status::ListenerLive::Error(_))
    ));
    // The port comes free: the next retry binds it and traffic flows.
    drop(squatter);
    assert!(
        eventually(Duration::from_secs(5), async || {
            dp.listener_live(&"listener".into()) == Some(weir_core::status::ListenerLive::Active)
        })
        .await,
        "the listener binds once the port is free"
    );
    assert_eq!(tag_of(v).await.as_deref(), Some("a"));
    drop(topologies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_and_large_transfers_pass_through() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    let mut stream = tokio::net::TcpStream::connect(v).await.unwrap();
    // 4 MiB out, then our write side closes; the echo must all come back
    // and then the backend's own close.
    let payload: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = stream.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut received = Vec::new();
    let recv = async {
        tokio::time::timeout(Duration::from_secs(20), r.read_to_end(&mut received))
            .await
            .unwrap()
            .unwrap();
    };
    tokio::join!(send, recv);
    assert_eq!(&received[..2], b"a\n");
    assert_eq!(received.len(), 2 + payload.len());
    assert!(
        received[2..] == payload[..],
        "bytes arrive intact and in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_finishes_first_still_receives_the_rest() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The backend speaks first and half-closes (as an SMTP or FTP banner
    // server might), then keeps reading: the client must see its EOF at
    // once and still be able to send everything it has.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (counted, received) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"bye\n").await.unwrap();
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        let _ = counted.send(rest);
    });
    let dp = dataplane();
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", addr, 1)],
        None,
        1000,
    ));
    let mut stream = tokio::net::TcpStream::connect(v).await.unwrap();
    let mut banner = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut banner))
        .await
        .expect("the backend's half-close reaches the client")
        .unwrap();
    assert_eq!(banner, b"bye\n");
    let payload: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    stream.write_all(&payload).await.unwrap();
    stream.shutdown().await.unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(20), received)
        .await
        .expect("the client's EOF reaches the backend")
        .unwrap();
    assert_eq!(rest.len(), payload.len());
    assert!(
        rest == payload,
        "bytes after the backend's EOF arrive intact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_tells_the_backend_who_the_client_is() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // A backend that echoes the first line it receives: the PROXY header.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).await.is_ok() {
                    let _ = reader.get_mut().write_all(line.as_bytes()).await;
                }
            });
        }
    });
    let dp = dataplane();
    let v = vip();
    let mut topo = (*topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", addr, 1)],
        None,
        1000,
    ))
    .clone();
    let mut spec = (*topo.listeners[&weir_core::ids::ListenerId::from("listener")]).clone();
    spec.proxy_protocol = weir_core::model::ProxyProtocol::V1;
    topo.listeners
        .insert(spec.id.clone(), std::sync::Arc::new(spec));
    dp.apply(std::sync::Arc::new(topo));

    let client = tokio::net::TcpStream::connect(v).await.unwrap();
    let local = client.local_addr().unwrap();
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        line,
        format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            local.ip(),
            v.ip(),
            local.port(),
            v.port()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_check_to_a_live_pool_keeps_it_serving() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    assert_eq!(tag_of(v).await.as_deref(), Some("a"));
    // A check on a port nobody listens on, once a minute, two failures to
    // fall: its first (immediate) failure alone must not take `a` out.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let check = HealthCheck {
        kind: CheckKind::Tcp,
        interval_ms: 60_000,
        timeout_ms: 1000,
        rise: 1,
        fall: 2,
        port: Some(closed_port),
    };
    dp.apply(topology(
        2,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        Some(check),
        1000,
    ));
    assert!(
        eventually(Duration::from_secs(3), async || {
            metric(&dp, "weir_backend_checks_total", "a").is_some_and(|n| n > 0)
        })
        .await,
        "the first check ran"
    );
    assert_eq!(
        dp.backend_live(&"a".into()).unwrap().state,
        BackendState::Healthy
    );
    assert_eq!(spread(v, 10).await.get("a"), Some(&10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_without_a_port_are_dialled_on_the_listeners_backend_port() {
    use std::sync::Arc;
    use weir_core::model::BackendPorts;
    use weir_core::topology::BackendTarget;

    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    let mut top = topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![BackendTarget {
            ports: BackendPorts::Inherit,
            ..backend("a", a, 1)
        }],
        None,
        1000,
    );
    // Aliyun's default server group: the listener on the VIP's port sends
    // to BackendServerPort, the port the backend really listens on.
    let t = Arc::make_mut(&mut top);
    let listener = t.listeners.values_mut().next().unwrap();
    Arc::make_mut(listener).backend_port = Some(a.port());
    dp.apply(top);
    let (tag, _conn) = open(v).await;
    assert_eq!(tag, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_start_ramps_joining_backends_but_not_those_present_at_start() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let (c, _tc) = tcp_backend("c").await;
    let v = vip();
    let pool = |rev: u64, c_enabled: bool, slow_start_ms: u64| {
        let mut third = backend("c", c, 10);
        third.enabled = c_enabled;
        with_slow_start(
            topology(
                rev,
                v,
                Protocol::Tcp,
                Scheduler::Wrr,
                vec![backend("a", a, 10), backend("b", b, 10), third],
                None,
                1000,
            ),
            slow_start_ms,
        )
    };
    // Present when the pool starts: full weight at once (a and b alternate).
    dp.apply(pool(1, false, 60_000));
    let counts = spread(v, 40).await;
    assert_eq!(counts.get("a"), Some(&20), "{counts:?}");
    assert_eq!(counts.get("b"), Some(&20), "{counts:?}");

    // Joins with a minute-long ramp: a sliver of its equal share at first.
    dp.apply(pool(2, true, 60_000));
    let counts = spread(v, 60).await;
    let joined = counts.get("c").copied().unwrap_or(0);
    assert!(
        joined <= 3,
        "a ramping backend took {joined} of 60: {counts:?}"
    );
    let live = dp.backend_live(&"c".into()).unwrap();
    assert_eq!(live.state, BackendState::Healthy);
    assert!(
        live.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("slow start")),
        "{live:?}"
    );

    // Slow start turned off: full weight at once.
    dp.apply(pool(3, true, 0));
    let counts = spread(v, 30).await;
    assert_eq!(counts.get("c"), Some(&10), "{counts:?}");
    assert_eq!(dp.backend_live(&"c".into()).unwrap().reason, None);

    // Disabled and enabled again under a short ramp: it ramps, and the
    // pool's own steps bring it to its full share without another change.
    dp.apply(pool(4, false, 400));
    assert!(
        eventually(Duration::from_secs(5), async || {
            dp.backend_live(&"c".into()).unwrap().state == BackendState::Drained
        })
        .await
    );
    dp.apply(pool(5, true, 400));
    assert!(
        dp.backend_live(&"c".into())
            .unwrap()
            .reason
            .is_some_and(|r| r.starts_with("slow start")),
        "re-enabled backends ramp"
    );
    assert!(
        eventually(Duration::from_secs(10), async || {
            spread(v, 30).await.get("c") == Some(&10)
        })
        .await,
        "the ramp finishes on its own"
    );
}

/// A backend's own check target (Octavia's member `monitor_address` and
/// `monitor_port`): the check goes there, not to the traffic port, so a
/// backend whose monitor is down leaves while its traffic port still
/// answers, and one whose monitor is up serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_go_to_the_backends_own_monitor_target() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let (monitor, _tm) = tcp_backend("monitor").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let v = vip();
    let mut watched_down = backend("a", a, 1);
    watched_down.monitor_port = Some(closed.port());
    let mut watched_up = backend("b", b, 1);
    watched_up.monitor_address = Some(monitor.ip());
    watched_up.monitor_port = Some(monitor.port());
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![watched_down, watched_up],
        Some(fast_check()),
        1000,
    ));
    let state = |id: &str| dp.backend_live(&id.into()).map(|l| l.state);
    assert!(
        eventually(Duration::from_secs(5), async || state("a")
            == Some(BackendState::Unhealthy))
        .await,
        "a's monitor port is closed: {:?}",
        state("a")
    );
    assert!(
        eventually(Duration::from_secs(5), async || state("b")
            == Some(BackendState::Healthy))
        .await,
        "b's monitor answers: {:?}",
        state("b")
    );
    let counts = spread(v, 10).await;
    assert_eq!(counts.get("b"), Some(&10), "{counts:?}");
}

/// A failover (`DataPlane::retry_binds_soon`) binds a failed listener at
/// once, from any thread, not at the next `bind_retry` tick (an hour here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_binds_a_failed_listener_at_once() {
    let dp = dataplane_with(|c| c.bind_retry = Duration::from_secs(3600));
    let v = vip();
    let (a, _ta) = tcp_backend("a").await;
    let squatter = std::net::TcpListener::bind(v).unwrap();
    let (topologies, follow) = tokio::sync::watch::channel(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("a", a, 1)],
        None,
        1000,
    ));
    tokio::spawn(dp.clone().follow(follow));
    let failed = || {
        matches!(
            dp.listener_live(&"listener".into()),
            Some(weir_core::status::ListenerLive::Error(_))
        )
    };
    assert!(eventually(Duration::from_secs(5), async || failed()).await);
    drop(squatter);
    // From a thread of no runtime at all, as the API's would be.
    let nudge = dp.clone();
    std::thread::spawn(move || nudge.retry_binds_soon())
        .join()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), async || {
            dp.listener_live(&"listener".into()) == Some(weir_core::status::ListenerLive::Active)
        })
        .await,
        "bound without waiting for the hourly retry"
    );
    assert_eq!(tag_of(v).await.as_deref(), Some("a"));
    drop(topologies);
}
