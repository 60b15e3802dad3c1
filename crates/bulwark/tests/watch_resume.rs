//! A watch that resumes from a revision written before a server restart is replayed from the
//! store's history, not sent back to relist.

mod common;

use common::{Cluster, http_request};
use serde_json::Value;

fn resource_version(body: &str) -> String {
    let object: Value = serde_json::from_str(body).expect("JSON object");
    object["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string()
}

#[test]
fn a_watch_from_before_a_restart_replays_what_happened_since() {
    let mut cluster = Cluster::start();
    let json = [("Content-Type", "application/json")];
    let created = http_request(
        cluster.port,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &json,
        r#"{"metadata":{"name":"resume"},"data":{"step":"1"}}"#,
    )
    .expect("create");
    assert_eq!(created.0, 201, "{}", created.1);
    let before = resource_version(&created.1);
    let merge = [("Content-Type", "application/merge-patch+json")];
    let patched = http_request(
        cluster.port,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/resume",
        &merge,
        r#"{"data":{"step":"2"}}"#,
    )
    .expect("patch");
    assert_eq!(patched.0, 200, "{}", patched.1);
    let after = resource_version(&patched.1);

    cluster.kill();
    cluster.launch();

    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={before}&timeoutSeconds=1"
    );
    let (code, body) = http_request(cluster.port, "GET", &path, &[], "").expect("watch");
    assert_eq!(code, 200);
    let events: Vec<Value> = body
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter(|event| event.get("type").is_some())
        .collect();
    let first = events
        .first()
        .unwrap_or_else(|| panic!("no events in {body:?}"));
    assert_eq!(
        first["type"], "MODIFIED",
        "expected a replayed change, got {first}"
    );
    assert_eq!(first["object"]["data"]["step"], "2");
    assert_eq!(
        first["object"]["metadata"]["resourceVersion"].as_str(),
        Some(after.as_str())
    );
}
