//! The agent's HTTP endpoint (the Node's `daemonEndpoints.kubeletEndpoint`): `/healthz`, and
//! the container logs the API server proxies for `kubectl logs`.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::NodeContext;

pub fn router(_context: Arc<NodeContext>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
