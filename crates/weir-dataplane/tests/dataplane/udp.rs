//! UDP: round trip from the VIP, per-flow affinity, idle expiry, and the
//! UDP health checks (UDP-CONNECT, payload checks).

use std::time::Duration;

use tokio::net::UdpSocket;
use weir_core::model::{Protocol, Scheduler};

use crate::support::*;

async fn ask(
    client: &UdpSocket,
    vip: std::net::SocketAddr,
    text: &str,
) -> (String, std::net::SocketAddr) {
    client.send_to(text.as_bytes(), vip).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_stick_to_a_backend_and_replies_come_from_the_vip() {
    let dp = dataplane();
    let (a, _ta) = udp_backend("a").await;
    let (b, _tb) = udp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Udp,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    let mut tags = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (first, from) = ask(&client, v, "hello").await;
        assert_eq!(from, v, "replies leave from the VIP");
        let tag = first.split(':').next().unwrap().to_owned();
        assert_eq!(first, format!("{tag}:hello"));
        for i in 0..5 {
            let (reply, _) = ask(&client, v, &format!("m{i}")).await;
            assert_eq!(reply, format!("{tag}:m{i}"), "one flow, one backend");
        }
        tags.insert(tag);
    }
    assert_eq!(tags.len(), 2, "flows are balanced: {tags:?}");
    for b in ["a", "b"] {
        assert!(
            metric(&dp, "weir_backend_bytes_sent_total", b).unwrap() > 0,
            "client bytes counted for {b}"
        );
        assert!(
            metric(&dp, "weir_backend_bytes_received_total", b).unwrap() > 0,
            "reply bytes counted for {b}"
        );
    }
    let live = dp.backend_live(&"a".into()).unwrap();
    assert!(live.active_connections <= 2);
    assert!(
        eventually(Duration::from_secs(3), async || dp
            .backend_live(&"a".into())
            .unwrap()
            .active_connections
            == 0)
        .await,
        "idle flows expire"
    );
}

/// Octavia's UDP-CONNECT check: a backend whose UDP port is open passes; one
/// whose port is closed draws an ICMP port-unreachable and is taken out,
/// so flows go to the live one only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_connect_check_takes_out_a_closed_port() {
    use weir_core::model::{CheckKind, HealthCheck};
    use weir_core::status::BackendState;
    let dp = dataplane();
    let (live, _task) = udp_backend("live").await;
    // A port that was bound and let go: nothing listens on it.
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    let v = vip();
    let check = HealthCheck {
        kind: CheckKind::UdpConnect,
        interval_ms: 100,
        timeout_ms: 400,
        rise: 1,
        fall: 1,
        port: None,
    };
    dp.apply(topology(
        1,
        v,
        Protocol::Udp,
        Scheduler::Wrr,
        vec![backend("live", live, 1), backend("closed", closed, 1)],
        Some(check),
        1000,
    ));
    let state = |id: &'static str| {
        let dp = &dp;
        move || dp.backend_live(&id.into()).map(|l| l.state)
    };
    assert!(
        eventually(Duration::from_secs(5), async || state("closed")()
            == Some(BackendState::Unhealthy))
        .await,
        "the closed port is unhealthy: {:?}",
        state("closed")()
    );
    assert!(
        eventually(Duration::from_secs(5), async || state("live")()
            == Some(BackendState::Healthy))
        .await,
        "the open port is healthy: {:?}",
        state("live")()
    );
    for _ in 0..4 {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (tag, _) = ask(&client, v, "hello").await;
        assert!(tag.starts_with("live"), "{tag}");
    }
}

/// A UDP backend answering the check's `ping` with `answer` (`None`:
/// never answers it), and any other datagram with its tag.
async fn checked_udp_backend(
    tag: &'static str,
    answer: Option<&'static [u8]>,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let reply = if &buf[..n] == b"ping" {
                match answer {
                    Some(a) => a.to_vec(),
                    None => continue,
                }
            } else {
                let mut r = format!("{tag}:").into_bytes();
                r.extend_from_slice(&buf[..n]);
                r
            };
            let _ = socket.send_to(&reply, from).await;
        }
    });
    (addr, task)
}

/// A UDP payload check (Aliyun's HealthCheckReq/HealthCheckExp, UCloud's
/// RequestMsg/ResponseMsg): the backend answering the expected text (with
/// a line end) is up; one answering something else, one that stays
/// silent, and a closed port (ICMP unreachable) are down, so flows go to
/// the first only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_payload_check_wants_the_expected_answer() {
    use weir_core::model::{CheckKind, HealthCheck};
    use weir_core::status::BackendState;
    let dp = dataplane();
    let (right, _t1) = checked_udp_backend("right", Some(b"pong\n")).await;
    let (wrong, _t2) = checked_udp_backend("wrong", Some(b"pong-ish")).await;
    let (silent, _t3) = checked_udp_backend("silent", None).await;
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    let v = vip();
    let check = HealthCheck {
        kind: CheckKind::UdpPayload {
            send: "ping".into(),
            expect: Some("pong".into()),
        },
        interval_ms: 100,
        timeout_ms: 400,
        rise: 1,
        fall: 1,
        port: None,
    };
    dp.apply(topology(
        1,
        v,
        Protocol::Udp,
        Scheduler::Wrr,
        vec![
            backend("right", right, 1),
            backend("wrong", wrong, 1),
            backend("silent", silent, 1),
            backend("closed", closed, 1),
        ],
        Some(check),
        1000,
    ));
    let state = |id: &'static str| {
        let dp = &dp;
        move || dp.backend_live(&id.into()).map(|l| l.state)
    };
    for down in ["wrong", "silent", "closed"] {
        assert!(
            eventually(Duration::from_secs(5), async || state(down)()
                == Some(BackendState::Unhealthy))
            .await,
            "{down} is unhealthy: {:?}",
            state(down)()
        );
    }
    assert!(
        eventually(Duration::from_secs(5), async || state("right")()
            == Some(BackendState::Healthy))
        .await,
        "the backend with the expected answer is healthy: {:?}",
        state("right")()
    );
    for _ in 0..4 {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (tag, _) = ask(&client, v, "hello").await;
        assert!(tag.starts_with("right"), "{tag}");
    }
}

/// Without an expected answer the payload check is UDP-CONNECT's with the
/// tenant's datagram: a silent backend passes, a closed port fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_payload_check_without_an_expectation_fails_only_on_unreachable() {
    use weir_core::model::{CheckKind, HealthCheck};
    use weir_core::status::BackendState;
    let dp = dataplane();
    let (silent, _t) = checked_udp_backend("silent", None).await;
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    let check = HealthCheck {
        kind: CheckKind::UdpPayload {
            send: "ping".into(),
            expect: None,
        },
        interval_ms: 100,
        timeout_ms: 400,
        rise: 1,
        fall: 1,
        port: None,
    };
    dp.apply(topology(
        1,
        vip(),
        Protocol::Udp,
        Scheduler::Wrr,
        vec![backend("silent", silent, 1), backend("closed", closed, 1)],
        Some(check),
        1000,
    ));
    let state = |id: &'static str| {
        let dp = &dp;
        move || dp.backend_live(&id.into()).map(|l| l.state)
    };
    assert!(
        eventually(Duration::from_secs(5), async || state("closed")()
            == Some(BackendState::Unhealthy))
        .await,
        "the closed port is unhealthy: {:?}",
        state("closed")()
    );
    assert!(
        eventually(Duration::from_secs(5), async || state("silent")()
            == Some(BackendState::Healthy))
        .await,
        "a silent open port passes: {:?}",
        state("silent")()
    );
}
