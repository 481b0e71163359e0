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
