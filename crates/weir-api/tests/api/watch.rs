//! `GET /v1/watch` over real sockets: a registration shows up as an event,
//! a resumed stream misses nothing and repeats nothing, another project's
//! changes are invisible, a slow client is cut with a position to resume
//! from, the watcher limits, bad positions, and a revoked credential's
//! stream ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use serde_json::{json, Value};
use weir_control::watch::WatchSettings;
use weir_core::settings::Settings;

use crate::harness::*;

/// The longest a test waits for one line of a stream: a bound so that a
/// broken stream fails the test instead of hanging it, not a speed goal.
const READ_LIMIT: Duration = Duration::from_secs(20);

/// One event as the stream sent it.
#[derive(Debug, Clone)]
struct Event {
    id: Option<String>,
    kind: String,
    data: Value,
}

/// A watch stream read line by line through ureq (chunked decoding,
/// a read timeout as the bound).
struct Stream {
    lines: BufReader<Box<dyn Read + Send + Sync>>,
}

/// Opens a watch; `Err` holds the refusal (status and JSON body).
fn open(
    s: &Server,
    token: &str,
    query: &str,
    last_event_id: Option<&str>,
) -> Result<Stream, (u16, Value)> {
    let agent = ureq::AgentBuilder::new().timeout_read(READ_LIMIT).build();
    let mut req = agent
        .get(&format!("{}/v1/watch{query}", s.url))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Accept", "text/event-stream");
    if let Some(id) = last_event_id {
        req = req.set("Last-Event-ID", id);
    }
    match req.call() {
        Ok(r) => {
            assert_eq!(r.content_type(), "text/event-stream");
            Ok(Stream {
                lines: BufReader::new(r.into_reader()),
            })
        }
        Err(ureq::Error::Status(status, r)) => Err((
            status,
            serde_json::from_str(&r.into_string().unwrap()).unwrap(),
        )),
        Err(e) => panic!("GET /v1/watch{query}: {e}"),
    }
}

impl Stream {
    /// The next event; `None` when the stream ended.
    fn next(&mut self) -> Option<Event> {
        let (mut id, mut kind, mut data) = (None, String::new(), String::new());
        loop {
            let mut line = String::new();
            if self
                .lines
                .read_line(&mut line)
                .expect("a line within the limit")
                == 0
            {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if kind.is_empty() && data.is_empty() {
                    continue;
                }
                return Some(Event {
                    id,
                    kind,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim_start().to_owned());
            } else if let Some(v) = line.strip_prefix("event:") {
                kind = v.trim_start().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }

    /// The next event that is not `ready` nor a live transition.
    fn next_change(&mut self) -> Event {
        loop {
            let e = self.next().expect("the stream goes on");
            if e.kind != "ready" && e.id.is_some() {
                return e;
            }
        }
    }

    /// The `ready` event's position.
    fn ready(&mut self) -> u64 {
        let e = self.next().expect("a ready event");
        assert_eq!(e.kind, "ready", "{e:?}");
        e.data["position"].as_u64().unwrap()
    }
}

fn id_of(e: &Event) -> u64 {
    e.id.as_deref().unwrap().parse().unwrap()
}

fn register(s: &Server, f: &Fixture, addresses: impl IntoIterator<Item = String>) -> Vec<String> {
    let backends: Vec<Value> = addresses
        .into_iter()
        .map(|a| json!({"address": a, "port": 8080}))
        .collect();
    let made = s.create(
        &format!("/v1/pools/{}/backends", f.pool),
        &f.token,
        json!({ "backends": backends }),
    );
    made["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

fn metric(s: &Server, name: &str) -> u64 {
    let text = ureq::get(&format!("{}/metrics", s.url))
        .set("Authorization", &format!("Bearer {ADMIN}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in /metrics"))
        .parse()
        .unwrap()
}

/// Polls `cond` up to 200 times, 25 ms apart (a bound, not a speed goal).
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

#[test]
fn a_registration_shows_up_as_an_event() {
    let s = start();
    let f = fixture(&s);
    let mut w = open(&s, &f.token, "", None).unwrap();
    let start = w.ready();
    assert!(start > 0, "the fixture's own changes are before it");
    let ids = register(&s, &f, ["10.0.1.50".to_owned()]);
    let e = w.next_change();
    assert_eq!(e.kind, "backend.created");
    assert_eq!(id_of(&e), start + 1, "a project's positions have no gaps");
    assert_eq!(e.data["resource"], "backend");
    assert_eq!(e.data["id"], ids[0].as_str());
    assert_eq!(e.data["action"], "created");
    assert_eq!(e.data["load_balancer_id"], f.lb.as_str());
    assert_eq!(e.data["pool_id"], f.pool.as_str());
    assert!(
        e.data.get("project_id").is_none(),
        "a project's watcher is told nothing it does not know: {}",
        e.data
    );
    let reply = s.call(
        "DELETE",
        &format!("/v1/backends/{}", ids[0]),
        &f.token,
        None,
    );
    assert!(reply.status < 300, "{}", reply.body);
    let e = w.next_change();
    assert_eq!((e.kind.as_str(), id_of(&e)), ("backend.deleted", start + 2));
}

#[test]
fn a_resumed_stream_misses_nothing_and_repeats_nothing() {
    let s = start();
    let f = fixture(&s);
    let mut w = open(&s, &f.token, "", None).unwrap();
    let start = w.ready();
    let first = register(&s, &f, ["10.0.1.50".to_owned()]);
    let seen = w.next_change();
    assert_eq!(id_of(&seen), start + 1);
    drop(w);

    // While nobody watches: three more changes.
    let more = register(&s, &f, (51..54).map(|i| format!("10.0.1.{i}")));
    // EventSource resumes with Last-Event-ID (newer than its URL's since).
    let mut w = open(
        &s,
        &f.token,
        &format!("?since={start}"),
        Some(&(start + 1).to_string()),
    )
    .unwrap();
    assert_eq!(w.ready(), start + 1);
    let replayed: Vec<Event> = (0..3).map(|_| w.next_change()).collect();
    let positions: Vec<u64> = replayed.iter().map(id_of).collect();
    assert_eq!(positions, [start + 2, start + 3, start + 4]);
    let ids: Vec<&str> = replayed
        .iter()
        .map(|e| e.data["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, more.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ids.contains(&first[0].as_str()), "nothing twice");
    // Then live, after the replay, with no gap and no repeat.
    let live = register(&s, &f, ["10.0.1.60".to_owned()]);
    let e = w.next_change();
    assert_eq!(
        (id_of(&e), e.data["id"].as_str()),
        (start + 5, Some(live[0].as_str()))
    );

    // `since` alone does the same.
    let mut w = open(&s, &f.token, &format!("?since={}", start + 3), None).unwrap();
    assert_eq!(w.ready(), start + 3);
    assert_eq!(id_of(&w.next_change()), start + 4);
    assert_eq!(id_of(&w.next_change()), start + 5);
}

#[test]
fn another_projects_changes_are_invisible() {
    let s = start();
    let a = fixture_named(&s, "a");
    let mut watch_a = open(&s, &a.token, "", None).unwrap();
    let start_a = watch_a.ready();
    let mut admin = open(&s, ADMIN, "", None).unwrap();
    let admin_start = admin.ready();

    // B builds a whole load balancer and registers into it.
    let b = fixture_named(&s, "b");
    let b_backends = register(&s, &b, (50..55).map(|i| format!("10.0.1.{i}")));
    // Then A makes one change: the first event A sees is its own.
    let mine = register(&s, &a, ["10.0.1.50".to_owned()]);
    let e = watch_a.next_change();
    assert_eq!(e.data["id"], mine[0].as_str(), "{e:?}");
    assert_eq!(
        id_of(&e),
        start_a + 1,
        "B's activity leaves no gap in A's positions"
    );
    let text = e.data.to_string();
    for secret in [&b.project, &b.lb, &b.pool, &b.listener, &b_backends[0]] {
        assert!(!text.contains(secret.as_str()), "{text}");
    }
    // B's changes replayed for A: none.
    let mut again = open(&s, &a.token, &format!("?since={start_a}"), None).unwrap();
    again.ready();
    assert_eq!(again.next_change().data["id"], mine[0].as_str());

    // The operator sees both, numbered by the global revision, with the
    // project named.
    let mut projects = std::collections::BTreeSet::new();
    let mut last = admin_start;
    loop {
        let e = admin.next_change();
        assert!(id_of(&e) > last, "increasing");
        last = id_of(&e);
        if let Some(p) = e.data["project_id"].as_str() {
            projects.insert(p.to_owned());
        }
        if e.data["id"] == mine[0].as_str() {
            break;
        }
    }
    assert!(projects.contains(&a.project) && projects.contains(&b.project));

    // A position past A's own head is refused, even though the global
    // revision is far beyond it.
    let (status, body) = open(&s, &a.token, &format!("?since={}", start_a + 2), None)
        .err()
        .unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "since");
}

#[test]
fn bad_positions_are_refused_in_the_native_format() {
    let s = start();
    let f = fixture(&s);
    for bad in ["-1", "abc", "1.5", "%201", "99999999999999999999999", ""] {
        let (status, body) = open(&s, &f.token, &format!("?since={bad}"), None)
            .err()
            .unwrap_or_else(|| panic!("since={bad} accepted"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "InvalidField");
        assert_eq!(body["error"]["field"], "since");
        assert!(body["request_id"].is_string());
    }
    let (status, body) = open(&s, &f.token, "", Some("x1")).err().unwrap();
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("Last-Event-ID"))
    );
    let (status, body) = open(&s, &f.token, "?since=100000", None).err().unwrap();
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("beyond"),
        "{body}"
    );
    let (status, body) = open(&s, &f.token, "?sinse=1", None).err().unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("InvalidRequest"))
    );
    let (status, _) = open(&s, "not-a-token", "", None).err().unwrap();
    assert_eq!(status, 401);
}

#[test]
fn a_compacted_position_is_gone() {
    let (s, control, rt) = start_adjusted(Settings::default(), |c| c);
    let f = fixture(&s);
    let mut w = open(&s, &f.token, "", None).unwrap();
    let head = w.ready();
    drop(w);
    register(&s, &f, ["10.0.1.50".to_owned()]);
    rt.block_on(control.compact_now(
        weir_control::Retention {
            change_log_keep: 1,
            ..Default::default()
        },
        weir_core::Timestamp(i64::MAX / 2),
    ))
    .unwrap();
    let (status, body) = open(&s, &f.token, "?since=1", None).err().unwrap();
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "PositionCompacted");
    // The newest row is kept: resuming from just before it still works.
    let mut w = open(&s, &f.token, &format!("?since={head}"), None).unwrap();
    w.ready();
    assert_eq!(w.next_change().kind, "backend.created");
    let (status, _) = open(&s, ADMIN, "?since=0", None).err().unwrap();
    assert_eq!(status, 410, "the operator's scope too");
}

/// A client socket with a small receive buffer, so that not reading fills
/// the path quickly.
fn small_socket(addr: &str) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        socket.connect(addr.parse().unwrap()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

#[test]
fn a_slow_client_is_cut_with_a_position_to_resume_from() {
    let (s, _control, _rt) = start_adjusted(Settings::default(), |c| {
        c.with_watch_settings(WatchSettings {
            buffer: 2,
            ..Default::default()
        })
    });
    let f = fixture(&s);
    let mut w = open(&s, &f.token, "", None).unwrap();
    let start = w.ready();
    // A client that reads nothing: its socket fills, then its queue.
    // HTTP/1.0, so the stream comes unchunked and reads as plain lines.
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut slow = small_socket(&addr);
    write!(
        slow,
        "GET /v1/watch HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        f.token
    )
    .unwrap();
    assert!(eventually(|| metric(&s, "weir_watch_watchers") == 2));
    // Registrations until the hub gives up on it (bounded: 30 listeners
    // of 1,000 backends, some 7 MiB of events, more than a loopback
    // connection and the server's write buffer hold); the reader that
    // keeps up reads each round.
    let mut made = 0u64;
    for round in 0..30u64 {
        let listener = s.create(
            &format!("/v1/loadbalancers/{}/listeners", f.lb),
            &f.token,
            json!({"name": format!("l{round}"), "protocol": "tcp", "port": 1000 + round}),
        );
        let pool = listener["default_pool_id"].as_str().unwrap();
        let backends: Vec<Value> = (0..1000)
            .map(|i| json!({"address": format!("10.0.{}.{}", 10 + i / 250, 1 + i % 250), "port": 8080}))
            .collect();
        s.create(
            &format!("/v1/pools/{pool}/backends"),
            &f.token,
            json!({ "backends": backends }),
        );
        made += 1001;
        for k in made - 1000..=made {
            assert_eq!(id_of(&w.next_change()), start + k, "the reader is not cut");
        }
        if metric(&s, "weir_watch_cut_total") > 0 {
            break;
        }
    }
    assert_eq!(
        metric(&s, "weir_watch_cut_total"),
        1,
        "the slow client is cut"
    );
    assert!(eventually(|| metric(&s, "weir_watch_watchers") == 1));
    // The slow client reads now: what was queued, then the end, then the
    // stream closes.
    slow.set_read_timeout(Some(READ_LIMIT)).unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 65536];
    while !String::from_utf8_lossy(&raw).contains("event: end") {
        let n = slow.read(&mut chunk).expect("the end within the limit");
        assert!(n > 0, "closed before the end");
        raw.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let end = text.find("event: end").unwrap();
    let data_line = text[end..]
        .lines()
        .find(|l| l.starts_with("data:"))
        .unwrap();
    let data: Value = serde_json::from_str(data_line.trim_start_matches("data:").trim()).unwrap();
    assert_eq!(data["reason"], "slow_client");
    let resume = data["resume_from"].as_u64().unwrap();
    assert!(resume < start + made, "cut before the end");
    // Every change before the end came in order, each once, and the end
    // names the last of them.
    // The end's own fields start after the blank line that ends the event
    // before it.
    let before_end = text[..end].rfind("\n\n").unwrap();
    let changes: Vec<u64> = text[..before_end]
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .filter_map(|v| v.trim().parse().ok())
        .filter(|&i| i > start)
        .collect();
    let expected: Vec<u64> = (start + 1..=resume).collect();
    assert!(
        changes == expected,
        "{} changes before the end, {} expected",
        changes.len(),
        expected.len()
    );
    // Resuming from there gets the rest.
    let mut again = open(&s, &f.token, &format!("?since={resume}"), None).unwrap();
    assert_eq!(again.ready(), resume);
    assert_eq!(id_of(&again.next_change()), resume + 1);
}

#[test]
fn watchers_are_limited_per_project_and_per_node() {
    let (s, _control, _rt) = start_adjusted(Settings::default(), |c| {
        c.with_watch_settings(WatchSettings {
            max_per_project: 2,
            max_watchers: 3,
            ..Default::default()
        })
    });
    let a = fixture_named(&s, "a");
    let b = fixture_named(&s, "b");
    let first = open(&s, &a.token, "", None).unwrap();
    let _second = open(&s, &a.token, "", None).unwrap();
    let (status, body) = open(&s, &a.token, "", None).err().unwrap();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "TooManyWatchers");
    // Another project still has room: one tenant cannot take every slot.
    let _theirs = open(&s, &b.token, "", None).unwrap();
    let (status, body) = open(&s, ADMIN, "", None).err().unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "TooManyWatchers");
    // A watcher that goes frees its slot.
    drop(first);
    assert!(eventually(|| open(&s, &a.token, "", None).is_ok()));
}

#[test]
fn a_revoked_credentials_stream_ends() {
    let s = start();
    let f = fixture(&s);
    let made = s.create(
        &format!("/v1/projects/{}/credentials", f.project),
        ADMIN,
        json!({"name": "watcher", "role": "reader"}),
    );
    let token = made["token"].as_str().unwrap();
    let key = made["access_key_id"].as_str().unwrap();
    let mut w = open(&s, token, "", None).expect("a reader may watch");
    w.ready();
    let reply = s.call(
        "DELETE",
        &format!("/v1/projects/{}/credentials/{key}", f.project),
        ADMIN,
        None,
    );
    assert!(reply.status < 300, "{}", reply.body);
    let end = loop {
        let e = w.next().expect("an end before the stream closes");
        if e.kind == "end" {
            break e;
        }
    };
    assert_eq!(end.data["reason"], "credential_revoked");
    assert!(w.next().is_none(), "nothing after the end");
    let (status, _) = open(&s, token, "", None).err().unwrap();
    assert_eq!(status, 401);
}

#[test]
fn an_idle_stream_gets_keep_alive_comments() {
    let (s, _control, _rt) = start_adjusted(Settings::default(), |c| {
        c.with_watch_settings(WatchSettings {
            keepalive: Duration::from_millis(50),
            ..Default::default()
        })
    });
    let f = fixture(&s);
    let mut w = open(&s, &f.token, "", None).unwrap();
    w.ready();
    // Only comments and blank lines while nothing happens (bounded: 4).
    let mut comments = 0;
    for _ in 0..4 {
        let mut line = String::new();
        w.lines.read_line(&mut line).unwrap();
        assert!(line.starts_with(':') || line.trim().is_empty(), "{line:?}");
        comments += usize::from(line.starts_with(':'));
    }
    assert!(comments >= 1);
    register(&s, &f, ["10.0.1.50".to_owned()]);
    assert_eq!(w.next_change().kind, "backend.created");
}
