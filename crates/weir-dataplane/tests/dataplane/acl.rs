//! A listener's access control list through real sockets (issue 16):
//! deny refuses the listed clients and serves the rest, allow the
//! reverse, on top of the listener's own allow list; a new list applies
//! to the next connection, and a UDP flow is judged before it opens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use weir_core::acl::{Acl, AclEntry, AclMode, AclRule, IpVersion};
use weir_core::model::*;
use weir_core::topology::Topology;

use crate::policy::{nets, one_backend, tag_from};
use crate::support::*;

fn rule(mode: AclMode, entries: &[&str]) -> Arc<AclRule> {
    let acl = Acl {
        id: "acl-1".into(),
        project_id: "p1".into(),
        name: String::new(),
        ip_version: IpVersion::V4,
        entries: entries
            .iter()
            .map(|e| AclEntry {
                cidr: e.parse().unwrap(),
                comment: String::new(),
            })
            .collect(),
        created_at: weir_core::Timestamp(0),
        updated_at: weir_core::Timestamp(0),
    };
    Arc::new(AclRule::compile(&acl, mode))
}

fn with_acl(
    v: SocketAddr,
    protocol: Protocol,
    backend: (&str, SocketAddr),
    revision: u64,
    acl: Arc<AclRule>,
) -> Arc<Topology> {
    let mut t = (*one_backend(v, protocol, backend, |l| l.acl = Some(acl.clone()))).clone();
    t.revision = revision;
    Arc::new(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_acl_refuses_listed_tcp_clients_and_serves_the_rest() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    dp.apply(with_acl(
        v,
        Protocol::Tcp,
        ("a", a),
        1,
        rule(AclMode::Deny, &["127.0.0.2/32"]),
    ));
    assert_eq!(tag_from("127.0.0.3", v).await.as_deref(), Some("a"));
    assert_eq!(tag_from("127.0.0.2", v).await, None, "listed: denied");
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(1));
    assert_eq!(metric(&dp, "weir_backend_connections_total", "a"), Some(1));
    // An entry added applies to the next connection.
    dp.apply(with_acl(
        v,
        Protocol::Tcp,
        ("a", a),
        2,
        rule(AclMode::Deny, &["127.0.0.2/32", "127.0.0.3/32"]),
    ));
    assert_eq!(tag_from("127.0.0.3", v).await, None, "added: denied");
    assert_eq!(tag_from("127.0.0.4", v).await.as_deref(), Some("a"));
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_acl_of_300_entries_serves_only_its_clients_and_the_own_list_still_applies() {
    let dp = dataplane();
    let (a, _ta) = tcp_backend("a").await;
    let v = vip();
    // 299 networks nowhere near loopback, and the one client allowed.
    let mut entries: Vec<String> = (0..299u32)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    entries.push("127.0.0.5/32".into());
    let list: Vec<&str> = entries.iter().map(String::as_str).collect();
    let allow = rule(AclMode::Allow, &list);
    let mut t = (*one_backend(v, Protocol::Tcp, ("a", a), |l| {
        l.acl = Some(allow.clone());
        // The listener's own list admits 127.0.0.4-7 only.
        l.allowed_cidrs = nets(&["127.0.0.4/30"]);
    }))
    .clone();
    t.revision = 1;
    dp.apply(Arc::new(t));
    assert_eq!(tag_from("127.0.0.5", v).await.as_deref(), Some("a"));
    assert_eq!(tag_from("127.0.0.6", v).await, None, "not in the ACL");
    assert_eq!(tag_from("127.0.0.1", v).await, None, "in neither");
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_acl_opens_no_udp_flow_for_a_listed_client() {
    let dp = dataplane();
    let (a, _ta) = udp_backend("a").await;
    let v = vip();
    dp.apply(with_acl(
        v,
        Protocol::Udp,
        ("a", a),
        1,
        rule(AclMode::Deny, &["127.0.0.2/32"]),
    ));
    let ask = |socket: UdpSocket, wait: Duration| async move {
        socket.send_to(b"hi", v).await.unwrap();
        let mut buf = [0u8; 256];
        tokio::time::timeout(wait, socket.recv_from(&mut buf))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let served = UdpSocket::bind("127.0.0.3:0").await.unwrap();
    assert_eq!(
        ask(served, Duration::from_secs(5)).await.as_deref(),
        Some("a:hi")
    );
    let listed = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    assert_eq!(ask(listed, Duration::from_millis(300)).await, None);
    assert_eq!(listener_metric(&dp, "weir_listener_denied_total"), Some(1));
    assert_eq!(metric(&dp, "weir_backend_connections_total", "a"), Some(1));
}
