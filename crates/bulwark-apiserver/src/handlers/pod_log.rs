//! `pods/{name}/log`: the log lives with the node agent that runs the pod, so the API server
//! resolves the container, validates the options as upstream (`PodLogOptions`), finds the
//! agent's endpoint on the pod's Node and proxies the request there, streaming the answer back.
//!
//! - The container is the `container` parameter, else the pod's only container, else the one
//!   the `kubectl.kubernetes.io/default-container` annotation names; otherwise a 400 listing
//!   the choices (upstream's `ValidateContainer` texts).
//! - The agent is reached at the Node's `InternalIP` (else `ExternalIP`, else `Hostname`) and
//!   `status.daemonEndpoints.kubeletEndpoint.Port`, at the kubelet's path
//!   `/containerLogs/{namespace}/{pod}/{container}` with the same query parameters.
//! - An agent that cannot be reached is a 503 naming the node; the agent's 404 and 400 answers
//!   become the matching `Status` with the agent's text as the message.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bulwark_core::{ApiError, StatusCause};
use futures::StreamExt;
use http_body_util::{BodyExt, BodyStream, Empty, Limited};
use hyper::body::{Bytes, Incoming as AgentBody};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use serde_json::Value;

use crate::ApiServer;
use crate::handlers::list::read_current;
use crate::http::{Incoming, Reply};
use crate::request::{Query, ResourcePath};

/// The annotation kubectl reads to pick a pod's default container.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// How long the agent may take to accept the connection and to answer with headers.
const AGENT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const AGENT_HEADERS_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of an agent's error answer kept as the Status message.
const MAX_AGENT_ERROR_BYTES: usize = 64 * 1024;

/// The query parameters of a log request (`PodLogOptions`), decoded but not yet validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodLogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
    pub since_seconds: Option<i64>,
    pub since_time: Option<Timestamp>,
}

impl PodLogOptions {
    /// Decodes the parameters; one that does not parse is a 400.
    pub fn from_query(query: &Query) -> Result<Self, ApiError> {
        let since_time = match query.get("sinceTime").filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<Timestamp>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value {text:?} for query parameter \"sinceTime\": not an RFC 3339 time"
                ))
            })?),
        };
        Ok(Self {
            container: query
                .get("container")
                .filter(|name| !name.is_empty())
                .map(str::to_string),
            follow: query.flag("follow"),
            previous: query.flag("previous"),
            timestamps: query.flag("timestamps"),
            tail_lines: query.integer("tailLines")?,
            limit_bytes: query.integer("limitBytes")?,
            since_seconds: query.integer("sinceSeconds")?,
            since_time,
        })
    }

    /// Upstream's `ValidatePodLogOptions`: a 422 `PodLogOptions "pod" is invalid` with a cause
    /// per bad field.
    pub fn validate(&self, pod: &str) -> Result<(), ApiError> {
        let mut causes = Vec::new();
        let invalid = |field: &str, value: i64, why: &str| {
            StatusCause::new(
                "FieldValueInvalid",
                field,
                format!("Invalid value: {value}: {why}"),
            )
        };
        if let Some(lines) = self.tail_lines.filter(|lines| *lines < 0) {
            causes.push(invalid(
                "tailLines",
                lines,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(bytes) = self.limit_bytes.filter(|bytes| *bytes < 1) {
            causes.push(invalid("limitBytes", bytes, "must be greater than 0"));
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => causes.push(StatusCause::new(
                "FieldValueForbidden",
                "",
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(seconds), None) if seconds < 1 => {
                causes.push(invalid("sinceSeconds", seconds, "must be greater than 0"));
            }
            _ => {}
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("", "PodLogOptions", pod, causes))
        }
    }

    /// The query string the agent's endpoint takes (the kubelet's parameter names).
    pub fn agent_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, on) in [
            ("follow", self.follow),
            ("previous", self.previous),
            ("timestamps", self.timestamps),
        ] {
            if on {
                query.append_pair(name, "true");
            }
        }
        for (name, value) in [
            ("tailLines", self.tail_lines),
            ("limitBytes", self.limit_bytes),
            ("sinceSeconds", self.since_seconds),
        ] {
            if let Some(value) = value {
                query.append_pair(name, &value.to_string());
            }
        }
        if let Some(time) = self.since_time {
            query.append_pair("sinceTime", &time.to_string());
        }
        query.finish()
    }
}

/// Which container's log to serve, as upstream's `ValidateContainer` (plus kubectl's default
/// container annotation, which this server honours so every client gets it).
pub fn resolve_container(pod: &Value, asked: Option<&str>) -> Result<String, ApiError> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let containers = container_names(pod, "containers");
    let init_containers = container_names(pod, "initContainers");
    if let Some(asked) = asked {
        let ephemeral = container_names(pod, "ephemeralContainers");
        let known = [&containers, &init_containers, &ephemeral]
            .iter()
            .any(|names| names.iter().any(|known| known == asked));
        return if known {
            Ok(asked.to_string())
        } else {
            Err(ApiError::bad_request(format!(
                "container {asked} is not valid for pod {name}"
            )))
        };
    }
    let annotated = pod
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(DEFAULT_CONTAINER_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|annotated| containers.iter().any(|known| known == annotated));
    match (containers.as_slice(), annotated) {
        (_, Some(annotated)) => Ok(annotated.to_string()),
        ([only], None) => Ok(only.clone()),
        ([], None) => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}"
        ))),
        (many, None) => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                many.join(" ")
            );
            if !init_containers.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init_containers.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

fn container_names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|container| container.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// Where a Node's agent listens: `host:port` from its addresses and daemon endpoint.
pub fn agent_address(node: &Value) -> Result<String, String> {
    let node_name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let addresses = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let address_of = |kind: &str| {
        addresses
            .iter()
            .filter(|address| address.get("type").and_then(Value::as_str) == Some(kind))
            .find_map(|address| address.get("address").and_then(Value::as_str))
            .filter(|address| !address.is_empty())
    };
    let host = ["InternalIP", "ExternalIP", "Hostname"]
        .into_iter()
        .find_map(address_of)
        .ok_or_else(|| format!("node {node_name} publishes no address in status.addresses"))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port > 0)
        .ok_or_else(|| {
            format!(
                "node {node_name} publishes no agent port in status.daemonEndpoints.kubeletEndpoint.Port"
            )
        })?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

fn pod_path(path: &ResourcePath) -> ResourcePath {
    ResourcePath {
        subresource: None,
        ..path.clone()
    }
}

fn node_path(node: &str) -> ResourcePath {
    ResourcePath {
        resource: bulwark_core::resource::find("", "v1", "nodes").expect("nodes are served"),
        namespace: None,
        name: Some(node.to_string()),
        subresource: None,
    }
}

/// `GET pods/{name}/log`.
pub async fn log(
    server: &Arc<ApiServer>,
    path: &ResourcePath,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let (pod, _) = read_current(server, &pod_path(path)).await?;
    let name = path.name.as_deref().unwrap_or_default();
    let namespace = path.namespace.as_deref().unwrap_or_default();
    let options = PodLogOptions::from_query(&incoming.query)?;
    options.validate(name)?;
    let container = resolve_container(&pod, options.container.as_deref())?;
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        })?;
    let unavailable = |why: String| {
        ApiError::service_unavailable(format!(
            "the node agent on {node} cannot be reached for logs of pod {name}: {why}"
        ))
    };
    let (node_object, _) = read_current(server, &node_path(node))
        .await
        .map_err(|error| unavailable(error.message.clone()))?;
    let address = agent_address(&node_object).map_err(unavailable)?;
    let target = format!(
        "/containerLogs/{}/{}/{}?{}",
        encode_segment(namespace),
        encode_segment(name),
        encode_segment(&container),
        options.agent_query()
    );
    let response = ask_agent(&address, &target).await.map_err(unavailable)?;
    if response.status() == http::StatusCode::OK {
        return Ok(Reply::TextStream(until_shutdown(
            server,
            response.into_body(),
        )));
    }
    Err(agent_error(response.status(), response.into_body()).await)
}

/// A path segment with everything but unreserved characters percent-encoded.
fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Sends `GET target` to the agent at `address` and waits for the answer's headers.
async fn ask_agent(address: &str, target: &str) -> Result<http::Response<AgentBody>, String> {
    let stream = tokio::time::timeout(
        AGENT_CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(address),
    )
    .await
    .map_err(|_| format!("dial tcp {address}: i/o timeout"))?
    .map_err(|error| format!("dial tcp {address}: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("talking to {address}: {error}"))?;
    // The connection lives as long as the response body is read; it ends when the body is
    // dropped (the client went away) or complete.
    tokio::spawn(connection);
    let request = http::Request::get(target)
        .header(http::header::HOST, address)
        .body(Empty::<Bytes>::new())
        .map_err(|error| format!("building the request to {address}: {error}"))?;
    tokio::time::timeout(AGENT_HEADERS_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| format!("{address} did not answer within {AGENT_HEADERS_TIMEOUT:?}"))?
        .map_err(|error| format!("asking {address}: {error}"))
}

/// The agent's log stream, ended early if the server shuts down (so a `logs -f` does not hold
/// a graceful shutdown open).
fn until_shutdown(server: &Arc<ApiServer>, body: AgentBody) -> Body {
    let server = Arc::clone(server);
    let stopped = async move { server.stopped().await };
    let data = BodyStream::new(body)
        .filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(error) => Some(Err(error)),
            }
        })
        .take_until(stopped);
    Body::from_stream(data)
}

/// The agent's error answer as the matching Status.
async fn agent_error(status: http::StatusCode, body: AgentBody) -> ApiError {
    let text = match Limited::new(body, MAX_AGENT_ERROR_BYTES).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        format!("the node agent answered {status}")
    } else {
        text
    };
    match status.as_u16() {
        400 => ApiError::bad_request(message),
        404 => ApiError::new(404, "NotFound", message),
        code if code >= 500 => ApiError::new(503, "ServiceUnavailable", message),
        code => ApiError::new(code, "BadRequest", message),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(containers: &[&str], init: &[&str], annotation: Option<&str>) -> Value {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        let mut pod = json!({
            "metadata": {"name": "app"},
            "spec": {"containers": list(containers), "initContainers": list(init)},
        });
        if let Some(annotation) = annotation {
            pod["metadata"]["annotations"] = json!({DEFAULT_CONTAINER_ANNOTATION: annotation});
        }
        pod
    }

    #[test]
    fn the_container_defaults_as_upstream() {
        assert_eq!(
            resolve_container(&pod(&["web"], &[], None), None).expect("only one"),
            "web"
        );
        assert_eq!(
            resolve_container(&pod(&["web", "side"], &[], Some("side")), None).expect("annotated"),
            "side"
        );
        assert_eq!(
            resolve_container(&pod(&["web", "side"], &["init"], None), Some("init"))
                .expect("init containers have logs too"),
            "init"
        );
        let many = resolve_container(&pod(&["web", "side"], &["init"], Some("gone")), None)
            .expect_err("ambiguous");
        assert_eq!(many.code, 400);
        assert_eq!(
            many.message,
            "a container name must be specified for pod app, choose one of: [web side] or one of the init containers: [init]"
        );
        let unknown =
            resolve_container(&pod(&["web"], &[], None), Some("db")).expect_err("unknown");
        assert_eq!(unknown.message, "container db is not valid for pod app");
        let none = resolve_container(&pod(&[], &[], None), None).expect_err("no containers");
        assert_eq!(
            none.message,
            "a container name must be specified for pod app"
        );
    }

    #[test]
    fn options_validate_as_upstream() {
        let query = Query::parse(Some("tailLines=-1&limitBytes=0&sinceSeconds=0"));
        let options = PodLogOptions::from_query(&query).expect("decodes");
        let error = options.validate("app").expect_err("invalid");
        assert_eq!(error.code, 422);
        assert_eq!(
            error.message,
            "PodLogOptions \"app\" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]"
        );
        let both = Query::parse(Some("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z"));
        let error = PodLogOptions::from_query(&both)
            .expect("decodes")
            .validate("app")
            .expect_err("both");
        assert!(error.message.contains("at most one of"), "{error:?}");
        let bad = PodLogOptions::from_query(&Query::parse(Some("tailLines=ten")))
            .expect_err("not a number");
        assert_eq!(bad.code, 400);
        let bad_time = PodLogOptions::from_query(&Query::parse(Some("sinceTime=noon")))
            .expect_err("not a time");
        assert_eq!(bad_time.code, 400);
    }

    #[test]
    fn the_agent_gets_the_kubelet_parameters() {
        let query = Query::parse(Some(
            "container=web&follow=true&previous=false&tailLines=3&limitBytes=10&timestamps=1&sinceTime=2026-01-01T00:00:00Z",
        ));
        let options = PodLogOptions::from_query(&query).expect("decodes");
        options.validate("app").expect("valid");
        assert_eq!(
            options.agent_query(),
            "follow=true&timestamps=true&tailLines=3&limitBytes=10&sinceTime=2026-01-01T00%3A00%3A00Z"
        );
    }

    #[test]
    fn the_agent_address_comes_from_the_node_status() {
        let node = json!({
            "metadata": {"name": "node-1"},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "node-1"},
                    {"type": "InternalIP", "address": "127.0.0.1"},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            },
        });
        assert_eq!(agent_address(&node).expect("address"), "127.0.0.1:10250");
        let portless = json!({
            "metadata": {"name": "node-2"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.2"}]},
        });
        assert!(
            agent_address(&portless)
                .expect_err("no port")
                .contains("node node-2 publishes no agent port")
        );
        let nowhere = json!({"metadata": {"name": "node-3"}, "status": {}});
        assert!(
            agent_address(&nowhere)
                .expect_err("no address")
                .contains("no address")
        );
    }
}
