//! Cookie session persistence on an HTTP listener (Octavia's HTTP_COOKIE
//! and APP_COOKIE) against loopback backends that answer with their tag:
//! Weir's cookie keeps a client on its backend while that backend is
//! eligible and moves it (with a new cookie) when it is not; forged tokens
//! balance as if absent; an application cookie's value hashes onto one
//! backend; a sticky backend that fails is retried elsewhere.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use weir_core::model::{Persistence, Protocol, Scheduler};
use weir_dataplane::balance;

use crate::http::http_backend;
use crate::http_limits::one_request;
use crate::support::*;

/// One request on a fresh connection: the answering backend's tag and
/// the `WEIRSRV` value the response sets, if any.
async fn request(vip: SocketAddr, cookie: Option<&str>) -> (String, Option<String>) {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(vip))
        .await
        .unwrap()
        .unwrap();
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let raw = format!("GET / HTTP/1.1\r\nHost: sticky\r\n{cookie}Connection: close\r\n\r\n");
    let text = one_request(&mut stream, raw.as_bytes()).await;
    let (head, body) = text.split_once("\r\n\r\n").expect(&text);
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    let set = head.lines().find_map(|l| {
        let value = l.strip_prefix("Set-Cookie: WEIRSRV=")?;
        let (token, attributes) = value.split_once(';').unwrap_or((value, ""));
        assert_eq!(attributes, " Path=/; HttpOnly", "{l}");
        Some(token.to_owned())
    });
    (body.to_owned(), set)
}

fn sticky(persistence: Persistence) -> impl Fn(&mut weir_core::topology::ListenerSpec) {
    move |l| l.persistence = Some(persistence.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weirs_cookie_keeps_a_client_on_its_backend_until_it_leaves() {
    let dp = dataplane();
    let (a, b, c) = (
        http_backend("a").await,
        http_backend("b").await,
        http_backend("c").await,
    );
    let v = vip();
    let backends = vec![backend("a", a, 1), backend("b", b, 1), backend("c", c, 1)];
    let base = |revision, backends| {
        let t = topology(
            revision,
            v,
            Protocol::Http,
            Scheduler::Wrr,
            backends,
            None,
            1000,
        );
        with_listener(t, sticky(Persistence::HttpCookie))
    };
    dp.apply(base(1, backends.clone()));

    let (first, token) = request(v, None).await;
    let token = token.expect("a first answer sets the cookie");
    assert_eq!(token.len(), 16, "an opaque token: {token}");
    assert!(!token.contains("127.0.0.1"));
    // The same backend twenty times, and no new cookie while it holds.
    let cookie = format!("theme=dark; WEIRSRV={token}");
    for _ in 0..20 {
        assert_eq!(request(v, Some(&cookie)).await, (first.clone(), None));
    }

    // A forged or malformed token names nothing: balanced as usual, and
    // the answer sets the real cookie of whoever answered.
    let mut seen = BTreeSet::new();
    for forged in [
        "WEIRSRV=0000000000000000",
        "WEIRSRV=127.0.0.1:80",
        "WEIRSRV=",
    ] {
        for _ in 0..2 {
            let (tag, set) = request(v, Some(forged)).await;
            let set = set.expect("a forged cookie is replaced");
            // That fresh cookie sticks to the backend that set it.
            let again = format!("WEIRSRV={set}");
            assert_eq!(request(v, Some(&again)).await, (tag.clone(), None));
            seen.insert(tag);
        }
    }
    assert!(seen.len() >= 2, "forged tokens balance: {seen:?}");

    // The sticky backend disabled (a drain): its client moves and gets
    // the new backend's cookie; enabled again, the old cookie sticks again.
    let mut disabled = backends.clone();
    disabled
        .iter_mut()
        .find(|b| b.id.as_str() == first)
        .unwrap()
        .enabled = false;
    dp.apply(base(2, disabled));
    let mut moved = None;
    assert!(
        eventually(Duration::from_secs(5), async || {
            let (tag, set) = request(v, Some(&cookie)).await;
            moved = Some((tag.clone(), set));
            tag != first
        })
        .await
    );
    let (tag, set) = moved.unwrap();
    let set = set.expect("the client that moved gets a new cookie");
    assert_ne!(set, token);
    assert_eq!(
        request(v, Some(&format!("WEIRSRV={set}"))).await,
        (tag, None)
    );
    dp.apply(base(3, backends.clone()));
    assert!(
        eventually(Duration::from_secs(5), async || {
            request(v, Some(&cookie)).await == (first.clone(), None)
        })
        .await
    );

    // Removed: the same.
    let remaining: Vec<_> = backends
        .iter()
        .filter(|b| b.id.as_str() != first)
        .cloned()
        .collect();
    dp.apply(base(4, remaining));
    for _ in 0..5 {
        let (tag, set) = request(v, Some(&cookie)).await;
        assert_ne!(tag, first, "a removed backend takes no sticky client");
        assert!(set.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sticky_backend_is_retried_elsewhere_with_a_new_cookie() {
    let dp = dataplane();
    let live = http_backend("live").await;
    // A port nothing listens on: connects are refused.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let v = vip();
    let t = topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("dead", dead, 1), backend("live", live, 1)],
        None,
        1000,
    );
    dp.apply(with_listener(t, sticky(Persistence::HttpCookie)));
    let dead_token = format!("{:016x}", balance::cookie_token("pool", "dead"));
    let live_token = format!("{:016x}", balance::cookie_token("pool", "live"));
    let (tag, set) = request(v, Some(&format!("WEIRSRV={dead_token}"))).await;
    assert_eq!((tag.as_str(), set), ("live", Some(live_token)));
}

/// The backend of `ids` (equal weights) the Maglev table gives an
/// application cookie value.
fn predicted(ids: &[&'static str], value: &str) -> &'static str {
    let weights = vec![1; ids.len()];
    let table = balance::maglev_table(ids, &weights);
    let key = balance::hash(value.as_bytes(), 4);
    ids[table[(key % table.len() as u64) as usize] as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_cookie_hashes_its_value_onto_one_backend() {
    let dp = dataplane();
    let (a, b, c) = (
        http_backend("a").await,
        http_backend("b").await,
        http_backend("c").await,
    );
    let v = vip();
    let t = topology(
        1,
        v,
        Protocol::Http,
        Scheduler::Wrr,
        vec![backend("a", a, 1), backend("b", b, 1), backend("c", c, 1)],
        None,
        1000,
    );
    let app = Persistence::AppCookie {
        cookie_name: "sid".into(),
    };
    dp.apply(with_listener(t, sticky(app)));

    let mut spread = BTreeSet::new();
    for user in 0..12 {
        let value = format!("user-{user}");
        let want = predicted(&["a", "b", "c"], &value);
        for _ in 0..4 {
            let cookie = format!("lang=en; sid={value}");
            // Weir inserts no cookie of its own for an application's.
            assert_eq!(request(v, Some(&cookie)).await, (want.to_owned(), None));
        }
        spread.insert(want);
    }
    assert!(spread.len() >= 2, "values spread: {spread:?}");

    // Without the cookie (or with others only): round robin as ever.
    for cookie in [None, Some("lang=en; SID=x; sid2=y")] {
        let tags: BTreeSet<String> = {
            let mut tags = BTreeSet::new();
            for _ in 0..6 {
                tags.insert(request(v, cookie).await.0);
            }
            tags
        };
        assert_eq!(tags.len(), 3, "{cookie:?}: {tags:?}");
    }
}
