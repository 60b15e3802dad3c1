//! `pods/binding`: how the scheduler assigns a pod to a node, exactly once.

mod common;

use common::{Cluster, http_request};
use serde_json::Value;

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"payment:v2.1"}]}}"#;

fn bind(cluster: &Cluster, node: &str) -> (u16, Value) {
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"Binding","metadata":{{"name":"web"}},"target":{{"apiVersion":"v1","kind":"Node","name":"{node}"}}}}"#
    );
    let (code, text) = http_request(
        cluster.port,
        "POST",
        "/api/v1/namespaces/default/pods/web/binding",
        &[("Content-Type", "application/json")],
        &body,
    )
    .expect("binding request");
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn binding_assigns_the_node_and_marks_the_pod_scheduled() {
    let cluster = Cluster::start();
    let json = [("Content-Type", "application/json")];
    let (code, _) = http_request(
        cluster.port,
        "POST",
        "/api/v1/namespaces/default/pods",
        &json,
        POD,
    )
    .expect("create");
    assert_eq!(code, 201);
    let (code, status) = bind(&cluster, "node-1");
    assert_eq!(code, 201, "{status}");
    assert_eq!(status["status"], "Success");
    let node = cluster.ok(&["get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"]);
    assert_eq!(node, "node-1");
    let scheduled = cluster.ok(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].status}",
    ]);
    assert_eq!(scheduled, "True");
}

#[test]
fn a_bound_pod_cannot_be_bound_again() {
    let cluster = Cluster::start();
    let json = [("Content-Type", "application/json")];
    http_request(
        cluster.port,
        "POST",
        "/api/v1/namespaces/default/pods",
        &json,
        POD,
    )
    .expect("create");
    assert_eq!(bind(&cluster, "node-1").0, 201);
    let (code, status) = bind(&cluster, "node-2");
    assert_eq!(code, 409, "{status}");
    assert_eq!(status["reason"], "Conflict");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is already assigned to node \"node-1\""),
        "{status}"
    );
    let node = cluster.ok(&["get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"]);
    assert_eq!(node, "node-1");
}
