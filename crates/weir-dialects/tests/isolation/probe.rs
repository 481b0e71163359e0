//! The sweep's engine: every probe is sent twice with project A's
//! credentials, once naming project B's ids and once naming ghost ids of
//! the same shape that exist nowhere. The two answers, with each id
//! replaced by its role and request ids dropped, must be identical (so
//! the answer cannot tell B's resource from no resource, and names none
//! of B's other ids), and must be the dialect's not-found, an empty
//! listing, or a uniform refusal whose reason the probe states.
//!
//! Also the source scans that list what the routers serve, so a route
//! added without a probe fails the sweep.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::harness::{Client, Reply};

/// One project's ids by role (`"vpc"`, `"native.lb"`, …).
#[derive(Debug, Clone, Default)]
pub struct Ids(pub BTreeMap<String, String>);

impl Ids {
    pub fn set(&mut self, role: &str, id: String) {
        assert!(!id.is_empty(), "no id for {role}");
        self.0.insert(role.to_owned(), id);
    }

    #[track_caller]
    pub fn get(&self, role: &str) -> &str {
        self.0
            .get(role)
            .unwrap_or_else(|| panic!("no id for role {role}"))
    }

    /// The same roles with ids of the same shape that name nothing: the
    /// last character changed.
    pub fn ghost(&self) -> Ids {
        Ids(self
            .0
            .iter()
            .map(|(role, id)| {
                let mut chars: Vec<char> = id.chars().collect();
                let last = chars.last_mut().expect("ids are not empty");
                *last = if *last == '0' { '1' } else { '0' };
                (role.clone(), chars.into_iter().collect())
            })
            .collect())
    }

    /// Every id replaced by `[role]`, longest first so no id is cut.
    fn redact(&self, text: &str) -> String {
        let mut pairs: Vec<(&String, &String)> = self.0.iter().collect();
        pairs.sort_by_key(|(_, id)| std::cmp::Reverse(id.len()));
        let mut out = text.to_owned();
        for (role, id) in pairs {
            out = out.replace(id.as_str(), &format!("[{role}]"));
        }
        out
    }
}

/// The wire families, each with its own not-found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    Native,
    Zlb,
    Bmc,
    Ucloud,
    Aliyun,
    Keystone,
    /// Octavia under `/v2.0/lbaas` and `/v2/lbaas`, and Neutron's read side.
    Octavia,
    Huawei,
    /// Barbican's key-manager API under `/key-manager/v1`.
    KeyManager,
}

impl Dialect {
    /// The dialect's not-found (docs/errors.md, docs/dialects/*.md).
    fn is_not_found(self, status: u16, body: &Value) -> bool {
        let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
        match self {
            // 404 NotFound, never 403 (docs/errors.md).
            Self::Native => status == 404 && text("/error/code") == Some("NotFound"),
            // 404 INVALID_*_NOT_FOUND (docs/dialects/zenlayer.md).
            Self::Zlb | Self::Bmc => {
                status == 404 && text("/code").is_some_and(|c| c.ends_with("_NOT_FOUND"))
            }
            // HTTP 200 with RetCode 4018 instance, 4019 subnet/VPC,
            // 4027 backend, 4086 ULB, 4103 VServer (docs/dialects/ucloud.md).
            Self::Ucloud => {
                status == 200
                    && body["RetCode"]
                        .as_i64()
                        .is_some_and(|c| [4018, 4019, 4027, 4086, 4103].contains(&c))
            }
            // 404 *.NotFound, BackendServer.NotExist or AclNotExist
            // (docs/dialects/aliyun.md).
            Self::Aliyun => {
                status == 404
                    && text("/Code").is_some_and(|c| {
                        c.ends_with(".NotFound")
                            || c == "BackendServer.NotExist"
                            || c == "AclNotExist"
                    })
            }
            // Barbican's 404: `{"code": 404, "title": "Not Found", ...}`.
            Self::KeyManager => status == 404 && body["code"].as_u64() == Some(404),
            // Keystone answers a token it cannot find with 404.
            Self::Keystone => status == 404,
            // 404 ELB.1002; a subnet, VPC or instance named in a body is
            // Octavia's 400 ELB.1001 "… not found." (docs/dialects/openstack.md).
            // Neutron's routes answer Neutron's 404 (`NetworkNotFound`,
            // `SubnetNotFound`, `ProjectNotFound`).
            Self::Octavia | Self::Huawei => {
                (status == 404
                    && (text("/error_code") == Some("ELB.1002")
                        || text("/NeutronError/type").is_some_and(|t| t.ends_with("NotFound"))))
                    || (status == 400
                        && text("/error_code") == Some("ELB.1001")
                        && text("/faultstring").is_some_and(|m| m.ends_with("not found.")))
            }
        }
    }
}

/// What a probe must answer, beyond being the same for B and the ghost.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// The dialect's not-found.
    NotFound,
    /// A successful listing (HTTP 200, RetCode 0) — necessarily without
    /// any of B's ids, since the ghost's has none.
    Empty,
    /// A refusal that does not depend on the id at all; the reason.
    Uniform(&'static str),
}

/// One route of one dialect, as the coverage check names it.
pub type Route = (Dialect, String);

/// The sweep's state: who probes, whose ids, what was covered, what failed.
pub struct Sweep<'a> {
    pub a: &'a Client,
    pub a_ids: &'a Ids,
    pub b_ids: &'a Ids,
    ghost: Ids,
    pub covered: BTreeSet<Route>,
    pub probes: usize,
    pub failures: Vec<String>,
}

impl<'a> Sweep<'a> {
    pub fn new(a: &'a Client, a_ids: &'a Ids, b_ids: &'a Ids) -> Self {
        Self {
            a,
            a_ids,
            b_ids,
            ghost: b_ids.ghost(),
            covered: BTreeSet::new(),
            probes: 0,
            failures: Vec::new(),
        }
    }

    /// Sends `send(A's client, A's ids, target ids)` with B's ids and with
    /// the ghost's, and checks both answers.
    pub fn probe(
        &mut self,
        dialect: Dialect,
        route: &str,
        expect: Expect,
        send: impl Fn(&Client, &Ids, &Ids) -> Reply,
    ) {
        self.covered.insert((dialect, route.to_owned()));
        self.probes += 1;
        let on_b = send(self.a, self.a_ids, self.b_ids);
        let on_ghost = send(self.a, self.a_ids, &self.ghost);
        let (b_status, b_body) = normalise(&on_b, self.b_ids);
        let (g_status, g_body) = normalise(&on_ghost, &self.ghost);
        let stated = match expect {
            Expect::Uniform(reason) => format!(" (expected: {reason})"),
            _ => String::new(),
        };
        let mut fail = |why: String| {
            self.failures.push(format!(
                "{dialect:?} {route}: {why}{stated}\n  request: {}\n  answer for B's ids ({}): {}\n  answer for ghost ids ({}): {}",
                self.b_ids.redact(&on_b.request),
                on_b.status,
                on_b.text,
                on_ghost.status,
                on_ghost.text
            ));
        };
        if (b_status, &b_body) != (g_status, &g_body) {
            fail("B's ids are answered differently from ids that exist nowhere".into());
            return;
        }
        match expect {
            Expect::NotFound if !dialect.is_not_found(b_status, &b_body) => {
                fail("not the dialect's not-found".into());
            }
            Expect::Empty if !(b_status == 200 && b_body["RetCode"].as_i64().unwrap_or(0) == 0) => {
                fail("not a successful listing".into());
            }
            _ => {}
        }
    }
}

/// Status and body with ids by role and without request ids or
/// timestamps of the answer.
fn normalise(reply: &Reply, ids: &Ids) -> (u16, Value) {
    let text = ids.redact(&reply.text);
    let mut body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    strip(&mut body);
    (reply.status, body)
}

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| {
                !matches!(
                    k.as_str(),
                    "RequestId" | "requestId" | "request_id" | "TraceId"
                )
            });
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// The `"Name" =>` arms of `fn dispatch` in a dialect's source, up to its
/// unknown-action arm: the actions the dispatcher really serves.
pub fn dispatched_actions(source: &str) -> Vec<String> {
    let start = source.find("async fn dispatch(").expect("a dispatch fn");
    let end = start
        + source[start..]
            .find("other =>")
            .expect("an unknown-action arm");
    source[start..end]
        .lines()
        .filter_map(|line| line.split_once("=>").map(|(pattern, _)| pattern))
        .flat_map(|pattern| {
            pattern
                .split('|')
                .filter_map(|alt| alt.trim().strip_prefix('"')?.strip_suffix('"'))
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `(METHOD, path)` of every `.route("path", get(..).post(..))` in the
/// function `fn_name` of a router's source.
pub fn routed(source: &str, fn_name: &str) -> BTreeSet<(String, String)> {
    let start = source.find(fn_name).expect("the router fn");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("the fn's end")];
    let mut out = BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let open = rest.find('"').expect("a path") + 1;
        let close = open + rest[open..].find('"').expect("a path's end");
        let path = rest[open..close].to_owned();
        // The method chain runs to the parenthesis closing `.route(`.
        let mut depth = 1;
        let mut end = close;
        for (i, ch) in rest[close..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = close + i;
                break;
            }
        }
        let chain = &rest[close + 1..end];
        for method in ["get", "post", "put", "patch", "delete", "any"] {
            let called = chain.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !chain.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && chain.as_bytes()[i - 1] != b'_'
            });
            if called {
                out.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        rest = &rest[end..];
    }
    out
}
