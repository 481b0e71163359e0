//! PING checks through real ICMP sockets, never off loopback.
//!
//! 127.0.0.1 and ::1 answer echo requests, so a member there turns
//! healthy. A member that does not answer needs a loopback that stays
//! silent: the tests create a network namespace of their own (`ip netns
//! add`, root only), switch its `net.ipv4.icmp_echo_ignore_all` on, and
//! run their other half inside it (`ip netns exec`, re-running this test
//! binary on one `#[ignore]`d test). The namespace's loopback is its own,
//! so nothing is sent anywhere but to this host's kernel. Without the
//! right to create namespaces those tests print a notice and pass.
//! Inside a namespace, `net.ipv4.ping_group_range` is ours to set too,
//! which is how the unprivileged datagram socket gets tested beside the
//! raw one.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use weir_core::model::{CheckKind, HealthCheck, Protocol, Scheduler};
use weir_core::status::{BackendState, FailureReason};
use weir_dataplane::egress::Egress;
use weir_dataplane::icmp::{IcmpSupport, SocketKind};
use weir_dataplane::probe::check_once;
use weir_dataplane::DataPlane;

use crate::support::*;

/// Set (to the namespace's name) in the half that runs inside one.
const INSIDE: &str = "WEIR_PING_NETNS";

fn ping(timeout_ms: u64) -> HealthCheck {
    HealthCheck {
        kind: CheckKind::Ping,
        interval_ms: 50,
        timeout_ms,
        rise: 1,
        fall: 1,
        port: None,
    }
}

fn egress(icmp: IcmpSupport) -> Egress {
    Egress::new(
        vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        Duration::from_secs(1),
    )
    .with_icmp(icmp)
}

/// A data plane pinging `member` (its port means nothing to PING).
fn pinging(icmp: IcmpSupport, member: SocketAddr) -> DataPlane {
    let dp = dataplane_with(|c| {
        c.icmp = icmp;
        c.egress_allow.push("::1/128".parse().unwrap());
    });
    dp.apply(topology(
        1,
        vip(),
        Protocol::Tcp,
        Scheduler::Wrr,
        vec![backend("m", member, 1)],
        Some(ping(500)),
        1000,
    ));
    dp
}

async fn becomes(dp: &DataPlane, state: BackendState) -> bool {
    eventually(Duration::from_secs(5), async || {
        dp.backend_live(&"m".into()).map(|l| l.state) == Some(state)
    })
    .await
}

/// The ICMP sockets this process has, or `None` after a notice.
fn icmp_or_notice() -> Option<IcmpSupport> {
    let icmp = IcmpSupport::detect();
    if icmp.v4.is_none() {
        eprintln!("NOTICE: skipped, this process can open no ICMP socket (not root, ping_group_range closed)");
        return None;
    }
    Some(icmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_check_turns_a_loopback_member_healthy() {
    let Some(icmp) = icmp_or_notice() else {
        return;
    };
    let dp = pinging(icmp, "127.0.0.1:9".parse().unwrap());
    assert!(becomes(&dp, BackendState::Healthy).await);
    // And IPv6, where this host has ::1.
    if icmp.v6.is_some() && std::net::UdpSocket::bind("[::1]:0").is_ok() {
        assert_eq!(
            check_once(&egress(icmp), &ping(1000), "[::1]:0".parse().unwrap()).await,
            Ok(())
        );
    }
}

#[tokio::test]
async fn a_ping_outside_the_egress_allow_list_is_never_sent() {
    let Some(icmp) = icmp_or_notice() else {
        return;
    };
    // Only 127.0.0.2 may be dialled: 127.0.0.1, though it would answer,
    // is refused before any socket is opened.
    let narrow = Egress::new(
        vec!["127.0.0.2/32".parse().unwrap()],
        Duration::from_secs(1),
    )
    .with_icmp(icmp);
    let refused = check_once(&narrow, &ping(1000), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(refused.reason, FailureReason::NotAllowed, "{refused:?}");
    assert!(refused.detail.contains("egress_allow"), "{refused:?}");
    // A data plane without ICMP sockets fails the check, never pretends.
    let none = check_once(
        &egress(IcmpSupport::default()),
        &ping(1000),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(none.reason, FailureReason::ConnectionFailed);
}

/// A namespace of this test's own, deleted when dropped.
struct Netns(String);

impl Netns {
    /// Creates it with its loopback up and `setup` (a shell line) run
    /// inside; `None` after a notice when namespaces cannot be made.
    fn create(tag: &str, setup: &str) -> Option<Self> {
        let name = format!("weir-ping-{}-{tag}", std::process::id());
        let made = Command::new("ip").args(["netns", "add", &name]).output();
        match made {
            Ok(out) if out.status.success() => {}
            other => {
                eprintln!(
                    "NOTICE: skipped, cannot create a network namespace (needs root and ip(8)): {other:?}"
                );
                return None;
            }
        }
        let ns = Self(name);
        let script = format!("ip link set lo up && {setup}");
        let status = Command::new("ip")
            .args(["netns", "exec", &ns.0, "sh", "-c", &script])
            .status()
            .expect("ip netns exec");
        assert!(status.success(), "setting up {}: {script}", ns.0);
        Some(ns)
    }

    /// Runs the `#[ignore]`d test `name` of this binary inside.
    fn run(&self, name: &str) {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .arg(exe)
            .args(["--exact", name, "--ignored", "--nocapture"])
            .env(INSIDE, &self.0)
            .output()
            .expect("ip netns exec");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name} inside {}:\n{text}", self.0);
        // libtest says how many ran: exactly the one, not a filtered zero.
        assert!(text.contains("1 passed"), "{name} did not run:\n{text}");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Whether this is the half inside a namespace; the other half of each
/// test below is what makes one.
fn inside() -> bool {
    let inside = std::env::var_os(INSIDE).is_some();
    if !inside {
        eprintln!("NOTICE: this half runs only inside the namespace its test creates");
    }
    inside
}

#[test]
fn a_member_that_stops_answering_turns_unhealthy() {
    if let Some(ns) = Netns::create("silent", "true") {
        ns.run("ping::inside_a_member_that_stops_answering");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside the namespace a_member_that_stops_answering_turns_unhealthy creates"]
async fn inside_a_member_that_stops_answering() {
    if !inside() {
        return;
    }
    // A fresh namespace admits no group to ping sockets: raw it is.
    let icmp = IcmpSupport::detect();
    assert_eq!(icmp.v4, Some(SocketKind::Raw), "root inside the namespace");
    let dp = pinging(icmp, "127.0.0.1:9".parse().unwrap());
    assert!(becomes(&dp, BackendState::Healthy).await, "echo answered");
    // This namespace's kernel stops answering echo requests.
    std::fs::write("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1").unwrap();
    assert!(becomes(&dp, BackendState::Unhealthy).await, "echo ignored");
    let live = dp.backend_live(&"m".into()).unwrap();
    assert_eq!(
        live.reason.as_deref(),
        Some(FailureReason::ConnectionFailed.as_str())
    );
    let failed = check_once(&egress(icmp), &ping(300), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(failed.detail.contains("timed out"), "{failed:?}");
}

#[test]
fn the_unprivileged_ping_socket_is_preferred_and_works() {
    if let Some(ns) = Netns::create(
        "dgram",
        "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range",
    ) {
        ns.run("ping::inside_the_unprivileged_ping_socket");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs inside the namespace the_unprivileged_ping_socket_is_preferred_and_works creates"]
async fn inside_the_unprivileged_ping_socket() {
    if !inside() {
        return;
    }
    // ping_group_range admits every group here: the datagram socket wins.
    let icmp = IcmpSupport::detect();
    assert_eq!(icmp.v4, Some(SocketKind::Datagram));
    let dp = pinging(icmp, "127.0.0.1:9".parse().unwrap());
    assert!(becomes(&dp, BackendState::Healthy).await);
    if icmp.v6 == Some(SocketKind::Datagram) && std::net::UdpSocket::bind("[::1]:0").is_ok() {
        assert_eq!(
            check_once(&egress(icmp), &ping(1000), "[::1]:0".parse().unwrap()).await,
            Ok(())
        );
    }
    // The kernel filters a datagram socket's replies, but a silent host
    // still times out rather than passing.
    std::fs::write("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1").unwrap();
    assert!(becomes(&dp, BackendState::Unhealthy).await);
}
