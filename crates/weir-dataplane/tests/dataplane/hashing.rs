//! Source hashing with the port (Octavia's SOURCE_IP_PORT, `sh-port`):
//! over TCP, UDP and HTTP, connections of one address from different
//! ports spread over the backends, while one connection or flow stays on
//! its backend and a source port always lands where the table says.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use weir_core::model::{Protocol, Scheduler};
use weir_dataplane::balance;

use crate::http_limits::one_request;
use crate::support::*;

/// The backend (`a` or `b`, equal weights) the Maglev table gives a
/// client: what the data plane must pick for it.
fn predicted(client: SocketAddr, with_port: bool) -> &'static str {
    // Members are kept in id order, so the table's index 0 is `a`.
    let table = balance::maglev_table(&["a", "b"], &[1, 1]);
    let key = balance::source_key(client, with_port);
    ["a", "b"][table[(key % table.len() as u64) as usize] as usize]
}

/// A TCP connection to `vip` from 127.0.0.1 on a port the kernel picks,
/// with its source address and the tag of the backend that took it.
async fn tcp_from_any_port(vip: SocketAddr) -> (SocketAddr, String, BufReader<TcpStream>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(vip))
        .await
        .unwrap()
        .unwrap();
    let source = stream.local_addr().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    (source, line.trim().to_owned(), reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_of_one_address_spread_by_source_port() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let (b, _tb) = tcp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Tcp,
        Scheduler::ShPort,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    let mut seen = BTreeSet::new();
    for _ in 0..24 {
        let (source, tag, mut conn) = tcp_from_any_port(v).await;
        assert_eq!(
            tag,
            predicted(source, true),
            "{source} goes where its address and port hash"
        );
        // The connection carries on with the backend that greeted it.
        for i in 0..3 {
            let text = format!("m{i}");
            assert_eq!(echo(&mut conn, &text).await, Some(text));
        }
        seen.insert(tag);
    }
    assert_eq!(seen.len(), 2, "one address, many ports: {seen:?}");

    // The same clients under SOURCE_IP all go to the address's backend.
    dp.apply(topology(
        2,
        v,
        Protocol::Tcp,
        Scheduler::Sh,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    for _ in 0..8 {
        let (source, tag, _conn) = tcp_from_any_port(v).await;
        assert_eq!(tag, predicted(source, false));
        assert_eq!(tag, predicted("127.0.0.1:1".parse().unwrap(), false));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_flows_of_one_address_spread_by_source_port() {
    let dp = dataplane();
    let (a, _ta) = udp_backend("a").await;
    let (b, _tb) = udp_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Udp,
        Scheduler::ShPort,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    let ask = async |client: &UdpSocket, text: &str| {
        client.send_to(text.as_bytes(), v).await.unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut seen = BTreeSet::new();
    for _ in 0..16 {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let source = client.local_addr().unwrap();
        let tag = predicted(source, true);
        for i in 0..3 {
            assert_eq!(
                ask(&client, &format!("m{i}")).await,
                format!("{tag}:m{i}"),
                "the flow from {source} stays where it hashes"
            );
        }
        seen.insert(tag);
    }
    assert_eq!(seen.len(), 2, "one address, many ports: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connections_of_one_address_spread_by_source_port() {
    let dp = dataplane();
    let a = crate::http::http_backend("a").await;
    let b = crate::http::http_backend("b").await;
    let v = vip();
    dp.apply(topology(
        1,
        v,
        Protocol::Http,
        Scheduler::ShPort,
        vec![backend("a", a, 1), backend("b", b, 1)],
        None,
        1000,
    ));
    let mut seen = BTreeSet::new();
    for _ in 0..16 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut stream = socket.connect(v).await.unwrap();
        let tag = predicted(stream.local_addr().unwrap(), true);
        // Keep-alive requests of one connection all go to its backend.
        for _ in 0..3 {
            let answer = one_request(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            assert!(answer.ends_with(&format!("\r\n\r\n{tag}")), "{answer}");
        }
        seen.insert(tag);
    }
    assert_eq!(seen.len(), 2, "one address, many ports: {seen:?}");
}
