//! An Octavia client over the golden harness, for the suites that drive
//! Octavia alone (`octavia_model`, `octavia_tags`, `octavia_persistence`):
//! a project's Keystone token and the expected-status helpers.

use serde_json::Value;

use crate::harness::{self, Reply, Server};

/// The reply's JSON, after insisting on `want`.
#[track_caller]
pub fn status(reply: &Reply, want: u16) -> Value {
    assert_eq!(reply.status, want, "{}\n-> {}", reply.request, reply.text);
    if reply.text.is_empty() {
        Value::Null
    } else {
        reply.json()
    }
}

/// The string at `pointer`, which must be there.
#[track_caller]
pub fn text(body: &Value, pointer: &str) -> String {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {body}"))
        .to_owned()
}

/// A Weir server and one project's token.
pub struct Octavia {
    pub server: Server,
    pub token: String,
}

impl Octavia {
    pub fn start() -> Self {
        let server = harness::start();
        let (_, token) = server.keystone_token();
        Self { server, token }
    }

    pub fn call(&self, method: &str, rest: &str, body: Option<Value>) -> Reply {
        self.server
            .octavia(&self.token, method, rest, body.as_ref())
    }
}
