//! L7 policies on an HTTP listener through real sockets: which backend
//! answers (the listener's pool or a policy's), the redirects' code and
//! `Location` (the prefix one with the request's path and query), 403 for
//! a reject, keep-alive across local answers, and a policy change seen by
//! the next request of an open connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use weir_core::l7::matcher::L7Table;
use weir_core::l7::*;
use weir_core::model::{Persistence, Protocol, Scheduler};
use weir_core::topology::{L7Target, PoolSpec, Topology};
use weir_core::Timestamp;

use crate::http::http_backend;
use crate::http_limits::one_request;
use crate::support::*;

fn rule(rule_type: RuleType, compare_type: CompareType, key: Option<&str>, value: &str) -> L7Rule {
    L7Rule {
        id: format!("r-{value}").into(),
        project_id: "p".into(),
        policy_id: "pol".into(),
        rule_type,
        compare_type,
        key: key.map(str::to_owned),
        value: value.into(),
        invert: false,
        enabled: true,
        tags: Vec::new(),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

fn policy(position: u32, action: L7Action, rules: Vec<L7Rule>) -> L7Policy {
    L7Policy {
        id: format!("pol-{position}").into(),
        project_id: "p".into(),
        lb_id: "lb".into(),
        listener_id: "listener".into(),
        name: String::new(),
        description: String::new(),
        position,
        action,
        enabled: true,
        tags: Vec::new(),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        rules,
    }
}

/// A listener whose own pool answers "default", with a second pool
/// "web" (answering "web") that policies may forward to.
async fn setup(revision: u64, v: SocketAddr, policies: &[L7Policy]) -> Arc<Topology> {
    let default = http_backend("default").await;
    let web = http_backend("web").await;
    build(revision, v, policies, default, web)
}

fn build(
    revision: u64,
    v: SocketAddr,
    policies: &[L7Policy],
    default: SocketAddr,
    web: SocketAddr,
) -> Arc<Topology> {
    let t = topology(
        revision,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("default", default, 1)],
        None,
        1000,
    );
    let mut t = (*with_listener(t, |l| {
        let mut targets = Vec::new();
        l.l7 = L7Table::compile(policies, |_| {
            targets.push(L7Target {
                pool_id: "web".into(),
                enabled: true,
                scheduler: Scheduler::Wrr,
                persistence: None::<Persistence>,
            });
            targets.len() - 1
        })
        .map(Arc::new);
        l.l7_targets = targets;
    }))
    .clone();
    t.pools.insert(
        "web".into(),
        Arc::new(PoolSpec {
            id: "web".into(),
            lb_id: "lb".into(),
            health_check: None,
            drain_timeout_ms: 1000,
            slow_start_ms: 0,
            fail_open: false,
            tls: None,
            backends: [backend("web", web, 1)].into_iter().collect(),
        }),
    );
    Arc::new(t)
}

async fn connect(v: SocketAddr) -> TcpStream {
    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(v))
        .await
        .unwrap()
        .unwrap()
}

/// One request on `stream`: the status line, the `Location` if any, and
/// the body.
async fn ask(
    stream: &mut TcpStream,
    target: &str,
    extra: &str,
) -> (String, Option<String>, String) {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: app.example:8080\r\n{extra}\r\n");
    let text = one_request(stream, raw.as_bytes()).await;
    let (head, body) = text.split_once("\r\n\r\n").expect(&text);
    let status = head.lines().next().unwrap_or_default().to_owned();
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_owned);
    (status, location, body.to_owned())
}

async fn once(v: SocketAddr, target: &str, extra: &str) -> (String, Option<String>, String) {
    ask(&mut connect(v).await, target, extra).await
}

fn to_web() -> L7Action {
    L7Action::RedirectToPool {
        pool_id: "web".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_policy_forwards_to_its_pool_and_others_to_the_default() {
    let dp = dataplane();
    let v = vip();
    let policies = [
        policy(
            1,
            to_web(),
            vec![rule(RuleType::Path, CompareType::StartsWith, None, "/api")],
        ),
        policy(
            2,
            to_web(),
            vec![
                rule(
                    RuleType::Header,
                    CompareType::EqualTo,
                    Some("X-Tier"),
                    "gold",
                ),
                rule(
                    RuleType::HostName,
                    CompareType::EqualTo,
                    None,
                    "APP.example",
                ),
            ],
        ),
        policy(
            3,
            to_web(),
            vec![rule(
                RuleType::Cookie,
                CompareType::Regex,
                Some("beta"),
                "^y",
            )],
        ),
        policy(
            4,
            to_web(),
            vec![rule(RuleType::FileType, CompareType::EqualTo, None, "css")],
        ),
    ];
    dp.apply(setup(1, v, &policies).await);
    for (target, extra, want) in [
        ("/api/users?x=1", "", "web"),
        ("/apx", "", "default"),
        ("/", "X-Tier: gold\r\n", "web"),
        ("/", "x-tier: silver\r\n", "default"),
        ("/", "Cookie: a=1; beta=yes\r\n", "web"),
        ("/", "Cookie: beta=no\r\n", "default"),
        ("/s/site.css?v=3", "", "web"),
        ("/s/site.cssx", "", "default"),
    ] {
        let (status, _, body) = once(v, target, extra).await;
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "{target} {extra}: {status}"
        );
        assert_eq!(body, want, "{target} {extra:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_rejects_are_answered_by_the_listener() {
    let dp = dataplane();
    let v = vip();
    let policies = [
        policy(
            1,
            L7Action::RedirectToUrl {
                url: "https://example.com/moved".into(),
                code: 301,
            },
            vec![rule(RuleType::Path, CompareType::EqualTo, None, "/old")],
        ),
        policy(
            2,
            L7Action::RedirectPrefix {
                prefix: "https://new.example/".into(),
                code: 308,
            },
            vec![rule(RuleType::Path, CompareType::StartsWith, None, "/app")],
        ),
        policy(
            3,
            L7Action::Reject,
            vec![rule(RuleType::Path, CompareType::Contains, None, "admin")],
        ),
    ];
    dp.apply(setup(1, v, &policies).await);
    let mut conn = connect(v).await;
    let (status, location, _) = ask(&mut conn, "/old", "").await;
    assert_eq!(status, "HTTP/1.1 301 Moved Permanently");
    assert_eq!(location.as_deref(), Some("https://example.com/moved"));
    // Same connection: local answers keep it alive.
    let (status, location, _) = ask(&mut conn, "/app/x%0D%0Ay?q=1&r=%20", "").await;
    assert_eq!(status, "HTTP/1.1 308 Permanent Redirect");
    assert_eq!(
        location.as_deref(),
        Some("https://new.example/app/x%0D%0Ay?q=1&r=%20")
    );
    let (status, location, body) = ask(&mut conn, "/x/admin/y", "").await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    assert_eq!(location, None);
    assert!(body.contains("L7 policy"), "{body}");
    let (status, _, body) = ask(&mut conn, "/other", "").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, "default");
    // A reject wins over a redirect listed before it (Octavia's order).
    let (status, _, _) = once(v, "/app/admin", "").await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_applies_to_the_next_request_of_an_open_connection() {
    let dp = dataplane();
    let v = vip();
    let default = http_backend("default").await;
    let web = http_backend("web").await;
    dp.apply(build(1, v, &[], default, web));
    let mut conn = connect(v).await;
    assert_eq!(ask(&mut conn, "/api", "").await.2, "default");
    let policies = [policy(
        1,
        to_web(),
        vec![rule(RuleType::Path, CompareType::StartsWith, None, "/api")],
    )];
    dp.apply(build(2, v, &policies, default, web));
    assert_eq!(ask(&mut conn, "/api", "").await.2, "web");
    // Inverted, the rule sends everything else there.
    let mut inverted = policies[0].clone();
    inverted.rules[0].invert = true;
    dp.apply(build(3, v, &[inverted], default, web));
    assert_eq!(ask(&mut conn, "/api", "").await.2, "default");
    assert_eq!(ask(&mut conn, "/else", "").await.2, "web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_a_body_answered_locally_closes_the_connection() {
    let dp = dataplane();
    let v = vip();
    let policies = [policy(
        1,
        L7Action::Reject,
        vec![rule(RuleType::Path, CompareType::EqualTo, None, "/up")],
    )];
    dp.apply(setup(1, v, &policies).await);
    let mut conn = connect(v).await;
    let raw = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    let text = one_request(&mut conn, raw.as_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert!(text.contains("Connection: close"), "{text}");
    assert!(closed_within_raw(&mut conn, Duration::from_secs(2)).await);
}

async fn closed_within_raw(conn: &mut TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(limit, conn.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A policy's pool keeps its own cookie persistence: the answer through
/// the policy sets Weir's cookie, and the cookie keeps the client on that
/// backend, while the listener's own pool has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_pool_keeps_its_own_cookie_persistence() {
    let dp = dataplane();
    let v = vip();
    let default = http_backend("default").await;
    let (w1, w2) = (http_backend("w1").await, http_backend("w2").await);
    let policies = [policy(
        1,
        to_web(),
        vec![rule(RuleType::Path, CompareType::StartsWith, None, "/api")],
    )];
    let mut t = (*build(1, v, &policies, default, w1)).clone();
    let mut spec = (**t.listeners.values().next().unwrap()).clone();
    spec.l7_targets[0].persistence = Some(Persistence::HttpCookie);
    t.listeners.insert(spec.id.clone(), Arc::new(spec));
    t.pools.insert(
        "web".into(),
        Arc::new(PoolSpec {
            id: "web".into(),
            lb_id: "lb".into(),
            health_check: None,
            drain_timeout_ms: 1000,
            slow_start_ms: 0,
            fail_open: false,
            tls: None,
            backends: [backend("w1", w1, 1), backend("w2", w2, 1)]
                .into_iter()
                .collect(),
        }),
    );
    dp.apply(Arc::new(t));
    let raw = "GET /api/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let text = one_request(&mut connect(v).await, raw.as_bytes()).await;
    let (head, first) = text.split_once("\r\n\r\n").unwrap();
    let token = head
        .lines()
        .find_map(|l| l.strip_prefix("Set-Cookie: WEIRSRV="))
        .and_then(|v| v.split(';').next())
        .expect(head)
        .to_owned();
    for _ in 0..10 {
        let raw = format!("GET /api/y HTTP/1.1\r\nHost: h\r\nCookie: WEIRSRV={token}\r\nConnection: close\r\n\r\n");
        let text = one_request(&mut connect(v).await, raw.as_bytes()).await;
        assert_eq!(text.split_once("\r\n\r\n").unwrap().1, first, "{text}");
    }
    // The listener's own pool sets no cookie.
    let text = one_request(
        &mut connect(v).await,
        b"GET /else HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!text.contains("WEIRSRV"), "{text}");
    assert!(text.ends_with("default"), "{text}");
}
