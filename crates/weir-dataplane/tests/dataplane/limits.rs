//! Resource limits (issue 14, hole 7): the per-listener connection cap,
//! the TCP idle timeout (copy and splice paths), UDP flow caps and expiry.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use weir_core::model::{Protocol, Scheduler};

use crate::support::*;

/// Reads the backend's tag line within `limit`; `None` if nothing came.
async fn tag_within(conn: &mut BufReader<TcpStream>, limit: Duration) -> Option<String> {
    let mut line = String::new();
    match tokio::time::timeout(limit, conn.read_line(&mut line)).await {
        Ok(Ok(n)) if n > 0 => Some(line.trim().to_owned()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_listener_stops_accepting_until_a_connection_ends() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    let capped = |revision, cap| {
        with_listener(
            topology(
                revision,
                v,
                Protocol::Tcp,
                Scheduler::Wrr,
                vec![backend("a", a, 1)],
                None,
                1000,
            ),
            move |l| l.max_connections = Some(cap),
        )
    };
    dp.apply(capped(1, 2));
    // The slot the accept loop holds while it waits serves no one: an idle
    // listener has no active connection (Octavia's stats read this).
    let (_, probe) = open(v).await;
    drop(probe);
    assert!(
        eventually(Duration::from_secs(2), async || listener_metric(
            &dp,
            "weir_listener_active_connections"
        ) == Some(0))
        .await,
        "{:?}",
        listener_metric(&dp, "weir_listener_active_connections")
    );
    let (_, first) = open(v).await;
    let (_, mut second) = open(v).await;
    assert_eq!(
        listener_metric(&dp, "weir_listener_max_connections"),
        Some(2)
    );
    // The kernel completes the handshake (the accept queue), but the
    // listener does not accept: nothing reaches the backend.
    let mut waiting = BufReader::new(TcpStream::connect(v).await.unwrap());
    assert_eq!(
        tag_within(&mut waiting, Duration::from_millis(300)).await,
        None
    );
    assert_eq!(
        listener_metric(&dp, "weir_listener_active_connections"),
        Some(2)
    );
    assert!(listener_metric(&dp, "weir_listener_saturated_total").unwrap() >= 1);
    drop(first);
    assert_eq!(
        tag_within(&mut waiting, Duration::from_secs(5))
            .await
            .as_deref(),
        Some("a"),
        "served as soon as a slot frees"
    );
    // A raised cap takes effect on the running listener.
    let mut third = BufReader::new(TcpStream::connect(v).await.unwrap());
    assert_eq!(
        tag_within(&mut third, Duration::from_millis(300)).await,
        None
    );
    dp.apply(capped(2, 3));
    assert_eq!(
        tag_within(&mut third, Duration::from_secs(5))
            .await
            .as_deref(),
        Some("a")
    );
    assert_eq!(echo(&mut second, "alive").await.as_deref(), Some("alive"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_cap_comes_from_the_data_plane() {
    let dp = dataplane_with(|c| c.max_connections = 1);
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
    let (_, first) = open(v).await;
    let mut waiting = BufReader::new(TcpStream::connect(v).await.unwrap());
    assert_eq!(
        tag_within(&mut waiting, Duration::from_millis(300)).await,
        None
    );
    drop(first);
    assert_eq!(
        tag_within(&mut waiting, Duration::from_secs(5))
            .await
            .as_deref(),
        Some("a")
    );
}

fn idle_after(
    ms: u64,
    v: std::net::SocketAddr,
    a: std::net::SocketAddr,
) -> std::sync::Arc<weir_core::topology::Topology> {
    with_listener(
        topology(
            1,
            v,
            Protocol::Tcp,
            Scheduler::Wrr,
            vec![backend("a", a, 1)],
            None,
            1000,
        ),
        move |l| l.idle_timeout_ms = Some(ms),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tcp_connection_is_closed_at_the_idle_timeout() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(idle_after(400, v, a));
    let (_, mut conn) = open(v).await;
    // Traffic keeps it open well past one timeout.
    for i in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            echo(&mut conn, &format!("m{i}")).await,
            Some(format!("m{i}")),
            "a busy connection stays open"
        );
    }
    assert!(
        closed_within(&mut conn, Duration::from_secs(5)).await,
        "closed once silent for the idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_timeout_also_closes_spliced_connections() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(idle_after(400, v, a));
    let (_, conn) = open(v).await;
    let mut stream = conn.into_inner();
    // Past the splice threshold (1 MiB) both ways: the echo backend returns
    // everything, so the relay moves to splice(2) in each direction.
    let payload = vec![b'x'; 3 * 1024 * 1024];
    let (mut r, mut w) = stream.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
    };
    let receive = async {
        let mut got = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while got < payload.len() {
            let n = r.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed mid-transfer");
            got += n;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(send, receive)
    })
    .await
    .expect("the transfer finishes");
    let mut conn = BufReader::new(stream);
    assert!(
        closed_within(&mut conn, Duration::from_secs(5)).await,
        "a spliced connection is closed once silent too"
    );
}

/// Sends `text` from `client` and waits up to `limit` for the reply.
async fn udp_ask(
    client: &UdpSocket,
    vip: std::net::SocketAddr,
    text: &str,
    limit: Duration,
) -> Option<String> {
    client.send_to(text.as_bytes(), vip).await.ok()?;
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(limit, client.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_flows_are_capped_per_source_and_per_listener_and_expire() {
    let dp = dataplane_with(|c| c.udp_max_flows_per_source = 2);
    let (a, _ta) = udp_backend("a").await;
    let v = vip();
    dp.apply(with_listener(
        topology(
            1,
            v,
            Protocol::Udp,
            Scheduler::Wrr,
            vec![backend("a", a, 1)],
            None,
            1000,
        ),
        |l| {
            l.max_connections = Some(3);
            // Long enough to outlast the checks below, short for a test.
            l.idle_timeout_ms = Some(2000);
        },
    ));
    let short = Duration::from_millis(200);
    let long = Duration::from_secs(5);
    // One source, three ports: the third flow is over the per-source cap.
    let mut same_source = Vec::new();
    for _ in 0..3 {
        same_source.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    assert_eq!(
        udp_ask(&same_source[0], v, "1", long).await.as_deref(),
        Some("a:1")
    );
    assert_eq!(
        udp_ask(&same_source[1], v, "2", long).await.as_deref(),
        Some("a:2")
    );
    assert_eq!(
        udp_ask(&same_source[2], v, "3", short).await,
        None,
        "per-source cap"
    );
    // Another source takes the listener's last slot; a third is over it.
    let other = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    assert_eq!(udp_ask(&other, v, "4", long).await.as_deref(), Some("a:4"));
    let third = UdpSocket::bind("127.0.0.3:0").await.unwrap();
    assert_eq!(udp_ask(&third, v, "5", short).await, None, "listener cap");
    assert_eq!(
        listener_metric(&dp, "weir_listener_active_connections"),
        Some(3)
    );
    assert!(listener_metric(&dp, "weir_listener_saturated_total").unwrap() >= 2);
    // Silent flows expire and give their slots back.
    assert!(
        eventually(Duration::from_secs(5), async || listener_metric(
            &dp,
            "weir_listener_active_connections"
        ) == Some(0))
        .await,
        "idle flows expire"
    );
    assert_eq!(udp_ask(&third, v, "6", long).await.as_deref(), Some("a:6"));
    assert_eq!(
        udp_ask(&same_source[2], v, "7", long).await.as_deref(),
        Some("a:7")
    );
}
