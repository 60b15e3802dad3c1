//! The agent's HTTP endpoint (the Node's `daemonEndpoints.kubeletEndpoint`): `/healthz`, and
//! the container logs the API server proxies for `kubectl logs`, found through the pods this
//! node runs.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use super::NodeContext;
use crate::log_server::{self, LogLocation, LogLocator, LogLookupError};

pub fn router(context: Arc<NodeContext>) -> Router {
    log_server::router(Arc::new(NodeLogs(context))).route("/healthz", get(|| async { "ok" }))
}

struct NodeLogs(Arc<NodeContext>);

impl LogLocator for NodeLogs {
    fn locate(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogLocation, LogLookupError> {
        let context = &self.0;
        let uid = context.pod_uid(namespace, pod).ok_or_else(|| {
            LogLookupError::NotFound(format!(
                "pod {namespace}/{pod} is not running on node {}",
                context.node_name
            ))
        })?;
        let mut instances: Vec<_> = context
            .runtime
            .pod_containers(&uid)
            .into_iter()
            .filter(|info| info.key.container == container)
            .collect();
        instances.sort_by_key(|info| std::cmp::Reverse(info.key.attempt));
        let chosen = if previous {
            instances.get(1).ok_or_else(|| {
                LogLookupError::BadRequest(format!(
                    "previous terminated container {container:?} in pod {pod:?} not found"
                ))
            })?
        } else {
            instances.first().ok_or_else(|| {
                LogLookupError::BadRequest(format!(
                    "container {container:?} in pod {pod:?} is waiting to start: ContainerCreating"
                ))
            })?
        };
        Ok(LogLocation {
            dir: crate::logs::container_log_dir(&context.log_root, &uid, container),
            attempt: chosen.key.attempt,
            running: chosen.is_alive(),
        })
    }
}
