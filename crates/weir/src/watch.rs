//! `weir watch`: prints the caller's changes and live transitions as they
//! come (`GET /v1/watch`), one line each, or one JSON object per line with
//! `--json`. When the stream breaks or the server ends it, it reconnects
//! with the last position seen (`Last-Event-ID`), so nothing is missed and
//! nothing printed twice; refusals that retrying cannot fix (a bad
//! position, a compacted one, an unknown token) end it with the API's
//! error.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use weir_api::sse::{SseEvent, SseParser};

use crate::cli::{ClientArgs, WatchArgs};

/// Silence longer than this (keep-alives come every 15 s) is a broken
/// connection: reconnect.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Waits between reconnections, doubling up to the last.
const BACKOFF: [u64; 6] = [1, 2, 4, 8, 16, 30];

/// How one connection ended.
enum Ended {
    /// Reconnect (after a pause when it failed).
    Again { pause: bool },
    /// Stop with this exit code.
    Stop(ExitCode),
}

pub fn main(args: &ClientArgs, watch: &WatchArgs, json_output: bool) -> ExitCode {
    let mut position = watch.since;
    let mut failures = 0usize;
    loop {
        match connect(args, &mut position, json_output) {
            Ended::Stop(code) => return code,
            Ended::Again { pause: false } => failures = 0,
            Ended::Again { pause: true } => {
                let secs = BACKOFF[failures.min(BACKOFF.len() - 1)];
                failures += 1;
                eprintln!(
                    "watch: reconnecting in {secs}s from position {}",
                    show(position)
                );
                std::thread::sleep(Duration::from_secs(secs));
            }
        }
    }
}

fn show(position: Option<u64>) -> String {
    position.map_or_else(|| "now".to_owned(), |p| p.to_string())
}

fn connect(args: &ClientArgs, position: &mut Option<u64>, json_output: bool) -> Ended {
    let agent = ureq::AgentBuilder::new().timeout_read(READ_TIMEOUT).build();
    let url = format!("{}/v1/watch", args.url.trim_end_matches('/'));
    let mut request = agent.get(&url).set("Accept", "text/event-stream");
    if let Some(token) = &args.token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    if let Some(p) = position {
        request = request.set("Last-Event-ID", &p.to_string());
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(status, response)) => {
            let text = response.into_string().unwrap_or_default();
            let (code, message) = serde_json::from_str::<Value>(&text)
                .ok()
                .map(|v| {
                    (
                        v["error"]["code"].as_str().unwrap_or("").to_owned(),
                        v["error"]["message"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .unwrap_or_default();
            eprintln!("error: {code} ({status}): {message}");
            // Too many watchers or the store away: it may pass.
            return if status == 429 || status >= 500 {
                Ended::Again { pause: true }
            } else {
                Ended::Stop(ExitCode::FAILURE)
            };
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ended::Again { pause: true };
        }
    };
    let mut reader = response.into_reader();
    let mut parser = SseParser::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ended::Again { pause: true },
            Ok(n) => n,
            Err(e) => {
                eprintln!("watch: connection lost: {e}");
                return Ended::Again { pause: true };
            }
        };
        let events = match parser.feed(&buf[..n]) {
            Ok(events) => events,
            Err(e) => {
                eprintln!("error: {e}");
                return Ended::Again { pause: true };
            }
        };
        for event in events {
            if let Some(id) = event.id.as_deref().and_then(|i| i.parse().ok()) {
                *position = Some(id);
            }
            print_event(&event, json_output);
            if event.event == "end" {
                // The server ended it (a slow read, a revoked credential):
                // a revoked one is refused on reconnect and stops there.
                return Ended::Again { pause: false };
            }
        }
    }
}

fn print_event(event: &SseEvent, json_output: bool) {
    let data: Value =
        serde_json::from_str(&event.data).unwrap_or(Value::String(event.data.clone()));
    if json_output {
        println!(
            "{}",
            json!({"id": event.id, "event": event.event, "data": data})
        );
        return;
    }
    let text = |key: &str| data[key].as_str().unwrap_or("").to_owned();
    let detail = match event.event.as_str() {
        "ready" => format!("watching after position {}", data["position"]),
        "end" => format!(
            "ended ({}); resuming from {}",
            text("reason"),
            data["resume_from"]
        ),
        "live_lost" => text("message"),
        _ => {
            let mut line = format!("{} {}", text("resource"), text("id"));
            for key in ["reason", "load_balancer_id", "pool_id", "project_id"] {
                let value = text(key);
                if !value.is_empty() {
                    line.push_str(&format!(" {key}={value}"));
                }
            }
            line
        }
    };
    println!(
        "{:>8}  {:<24}  {detail}",
        event.id.as_deref().unwrap_or("-"),
        event.event
    );
}
