//! `GET /v1/nodes`: the cluster's nodes (the operator's).

use serde::Serialize;
use weir_control::NodeStatus;
use weir_core::Timestamp;

use super::*;

#[derive(Serialize)]
pub(super) struct NodeView {
    id: String,
    name: String,
    state: &'static str,
    api_address: String,
    data_addresses: Vec<String>,
    holds_vips: bool,
    applied_revision: u64,
    heartbeat_age_ms: i64,
    started_at: String,
    last_heartbeat_at: String,
    vips: Vec<String>,
}

impl From<&NodeStatus> for NodeView {
    fn from(s: &NodeStatus) -> Self {
        Self {
            id: s.node.id.clone(),
            name: s.node.name.clone(),
            state: s.state.as_str(),
            api_address: s.node.api_address.clone(),
            data_addresses: s.node.data_addresses.clone(),
            holds_vips: s.node.holds_vips,
            applied_revision: s.node.applied_revision,
            heartbeat_age_ms: s.heartbeat_age_ms,
            started_at: Timestamp(s.node.started_ms).to_string(),
            last_heartbeat_at: Timestamp(s.node.heartbeat_ms).to_string(),
            vips: s.vips.iter().map(ToString::to_string).collect(),
        }
    }
}

pub(super) async fn list_nodes(State(c): State<Control>, Auth(p): Auth) -> ApiResult {
    let nodes = c.nodes(&p).await?;
    ok(json!({"nodes": nodes.iter().map(NodeView::from).collect::<Vec<_>>()}))
}

/// `GET /v1/cluster/live`: this node's data plane's live state, for a
/// node without one (`docs/HA.md`). The cluster token or the admin
/// token; anything else is 401, as for `/metrics`. A node without a data
/// plane of its own answers 404: it has nothing of its own to tell.
pub(super) async fn cluster_live(
    State(control): State<Control>,
    headers: axum::http::HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if !token.is_some_and(|t| control.may_read_cluster_live(t)) {
        return crate::error::ApiError::unauthenticated(
            "/v1/cluster/live needs Authorization: Bearer <cluster or admin token>",
        )
        .into_response();
    }
    let Some(snapshot) = control.live_snapshot() else {
        return ApiError {
            status: StatusCode::NOT_FOUND,
            code: "NoDataPlane",
            message: "this node runs no data plane".to_owned(),
            field: None,
        }
        .into_response();
    };
    Json(live_json(&snapshot)).into_response()
}

/// The wire shape `weir serve` reads back on a node without a data plane
/// (`weir::cluster::remote`): states by their lowercase names.
fn live_json(s: &weir_control::LiveSnapshot) -> serde_json::Value {
    use weir_core::status::ListenerLive;
    let listeners: Vec<_> = s
        .listeners
        .iter()
        .map(|(id, live, stats)| {
            let (state, reason) = match live {
                ListenerLive::Pending => ("pending", None),
                ListenerLive::Active => ("active", None),
                ListenerLive::Error(r) => ("error", Some(r)),
                ListenerLive::Unsupported(r) => ("unsupported", Some(r)),
            };
            json!({
                "id": id.as_str(),
                "state": state,
                "reason": reason,
                "stats": stats.map(|t| json!({
                    "active_connections": t.active_connections,
                    "total_connections": t.total_connections,
                    "bytes_in": t.bytes_in,
                    "bytes_out": t.bytes_out,
                    "request_errors": t.request_errors,
                })),
            })
        })
        .collect();
    let backends: Vec<_> = s
        .backends
        .iter()
        .map(|(id, b)| {
            json!({
                "id": id.as_str(),
                "state": b.state.as_str(),
                "reason": b.reason,
                "active_connections": b.active_connections,
                "drain_deadline": b.drain_deadline.map(|t| t.to_string()),
                "stats": {
                    "total_connections": b.stats.total_connections,
                    "requests": b.stats.requests,
                    "responses_5xx": b.stats.responses_5xx,
                    "failures": b.stats.failures,
                    "bytes_in": b.stats.bytes_in,
                    "bytes_out": b.stats.bytes_out,
                },
            })
        })
        .collect();
    json!({"applied": s.applied, "listeners": listeners, "backends": backends})
}
