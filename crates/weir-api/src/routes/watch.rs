//! `GET /v1/watch`: the caller's changes and live transitions as
//! Server-Sent Events (`weir_control::watch` does the work; this module
//! reads the position, maps refusals to the native errors, and writes
//! each item as an event).
//!
//! Each event's `id` is its position in the caller's scope, so a client
//! that reconnects with `Last-Event-ID` (or `since=`) resumes with nothing
//! missed; live transitions carry no `id` (they are not replayed). The
//! stream opens with `ready` (the position it starts after) and ends, when
//! the server ends it, with `end` naming why and the position to resume
//! from.

use std::convert::Infallible;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::Value;
use weir_control::watch::{WatchItem, WatchRefusal, WatchedChange};
use weir_core::watch::{parse_position, LiveState, LiveSubject, PositionError};

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WatchQuery {
    since: Option<String>,
}

/// Where the client resumes: `Last-Event-ID` (what a reconnecting
/// EventSource sends, newer than the `since` of its URL), else `since`.
fn requested_position(headers: &HeaderMap, since: Option<&str>) -> Result<Option<u64>, ApiError> {
    let (field, text) = match headers.get("last-event-id") {
        Some(value) => (
            "Last-Event-ID",
            value.to_str().map_err(|_| {
                position_error(
                    "Last-Event-ID",
                    PositionError::Malformed("(not ASCII)".into()),
                )
            })?,
        ),
        None => match since {
            Some(text) => ("since", text),
            None => return Ok(None),
        },
    };
    parse_position(text)
        .map(Some)
        .map_err(|e| position_error(field, e))
}

fn position_error(field: &str, e: PositionError) -> ApiError {
    match e {
        PositionError::Compacted { .. } => ApiError {
            status: StatusCode::GONE,
            code: "PositionCompacted",
            message: e.to_string(),
            field: Some(field.to_owned()),
        },
        PositionError::Malformed(_) | PositionError::BeyondHead { .. } => ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidField",
            message: e.to_string(),
            field: Some(field.to_owned()),
        },
    }
}

fn refusal(field: &str, r: WatchRefusal) -> ApiError {
    match r {
        WatchRefusal::Position(e) => position_error(field, e),
        WatchRefusal::ProjectFull { limit } => ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "TooManyWatchers",
            message: format!(
                "this project has {limit} watch streams open (api.watch_max_per_project); close one first"
            ),
            field: None,
        },
        WatchRefusal::NodeFull { limit } => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "TooManyWatchers",
            message: format!(
                "this node serves {limit} watch streams already (api.watch_max_watchers); try again later"
            ),
            field: None,
        },
        WatchRefusal::Control(e) => e.into(),
    }
}

fn change_data(c: &WatchedChange) -> Value {
    let mut data = json!({
        "resource": c.resource,
        "id": c.id,
        "action": c.action,
        "load_balancer_id": c.lb_id.as_ref().map(|id| id.as_str()),
        "pool_id": c.pool_id.as_ref().map(|id| id.as_str()),
    });
    if let Some(project) = &c.project_id {
        data["project_id"] = json!(project.as_str());
    }
    data
}

/// One item as an SSE event.
fn event(item: WatchItem) -> Event {
    match item {
        WatchItem::Ready { position } => Event::default()
            .id(position.to_string())
            .event("ready")
            .data(json!({"position": position}).to_string()),
        WatchItem::Change(c) => Event::default()
            .id(c.position.to_string())
            .event(format!("{}.{}", c.resource, c.action))
            .data(change_data(&c).to_string()),
        WatchItem::Live(e) => {
            let (resource, id, pool_id) = match &e.subject {
                LiveSubject::Backend { id, pool_id } => ("backend", id.to_string(), Some(pool_id)),
                LiveSubject::Listener { id } => ("listener", id.to_string(), None),
            };
            let state = match &e.state {
                LiveState::Backend(s) => s.as_str(),
                LiveState::ListenerBound => "bound",
                LiveState::ListenerFailed => "failed",
            };
            Event::default().event(e.kind()).data(
                json!({
                    "resource": resource,
                    "id": id,
                    "state": state,
                    "reason": e.reason,
                    "load_balancer_id": e.lb_id.as_str(),
                    "pool_id": pool_id.map(|id| id.as_str()),
                })
                .to_string(),
            )
        }
        WatchItem::LiveLost => Event::default().event("live_lost").data(
            json!({"message": "some live transitions were dropped; read the resources for their state"})
                .to_string(),
        ),
        WatchItem::End {
            reason,
            resume_from,
        } => Event::default()
            .id(resume_from.to_string())
            .event("end")
            .data(json!({"reason": reason.as_str(), "resume_from": resume_from}).to_string()),
    }
}

/// The bearer token as sent (the `Auth` extractor has accepted it).
fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned()
}

pub(super) async fn watch_events(
    State(c): State<Control>,
    Auth(p): Auth,
    headers: HeaderMap,
    query: Result<Query<WatchQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::invalid_request(e.body_text(), None))?;
    let since = requested_position(&headers, q.since.as_deref())?;
    let field = if headers.contains_key("last-event-id") {
        "Last-Event-ID"
    } else {
        "since"
    };
    let watch = c
        .watch(p, &bearer(&headers), since)
        .await
        .map_err(|r| refusal(field, r))?;
    let keepalive = c.watch_settings().keepalive;
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        let item = w.next().await?;
        Some((Ok::<Event, Infallible>(event(item)), w))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(keepalive))
        .into_response();
    // Proxies that buffer responses (nginx) would hold events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
