//! Done-means 6: every class of bad input gets the status code, reason and causes upstream gives,
//! always as a `metav1.Status`. Raw HTTP, because well-behaved clients never send most of this.

mod common;

use std::io::{Read, Write};

use common::{Cluster, DEADLINE};
use serde_json::{Value, json};

/// A raw HTTP answer.
struct Answer {
    code: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Asserts a `metav1.Status` failure with this code and reason; returns it.
    fn status(&self, code: u16, reason: &str) -> Value {
        assert_eq!(self.code, code, "HTTP status; body: {}", self.body);
        let status = self.json();
        assert_is_failure_status(&status, code, reason);
        status
    }
}

fn assert_is_failure_status(status: &Value, code: u16, reason: &str) {
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["apiVersion"], "v1", "{status}");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["code"], code, "{status}");
    assert_eq!(status["reason"], reason, "{status}");
    assert!(
        status["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {status}"
    );
}

/// Sends one request with a byte body; tolerates the server answering before the body is sent.
fn send(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    // The server may refuse an oversized body early and close; the answer is still readable.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse_answer(&response)
}

fn parse_answer(response: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer {
        code,
        headers,
        body,
    }
}

fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    // Bounded by the input: every round consumes at least the size line.
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        raw = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn post_json(cluster: &Cluster, path: &str, body: &Value) -> Answer {
    send(
        cluster.port,
        "POST",
        path,
        "application/json",
        body.to_string().as_bytes(),
    )
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn causes(status: &Value) -> Vec<(String, String, String)> {
    status["details"]["causes"]
        .as_array()
        .map(|causes| {
            causes
                .iter()
                .map(|c| {
                    let text = |key: &str| c[key].as_str().unwrap_or_default().to_string();
                    (text("reason"), text("field"), text("message"))
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Bodies that cannot be decoded
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_json_is_400_bad_request() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "POST",
        CONFIGMAPS,
        "application/json",
        br#"{"metadata": {"name": "x"},"#,
    );
    let status = answer.status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("json parse error"),
        "{status}"
    );
}

#[test]
fn malformed_yaml_is_400_bad_request() {
    let cluster = Cluster::start();
    let body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unterminated\n";
    let answer = send(cluster.port, "POST", CONFIGMAPS, "application/yaml", body);
    let status = answer.status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("YAML"),
        "{status}"
    );
}

#[test]
fn a_body_that_is_not_an_object_is_400() {
    let cluster = Cluster::start();
    send(
        cluster.port,
        "POST",
        CONFIGMAPS,
        "application/json",
        b"[1, 2, 3]",
    )
    .status(400, "BadRequest");
    send(
        cluster.port,
        "POST",
        CONFIGMAPS,
        "application/json",
        b"\"just a string\"",
    )
    .status(400, "BadRequest");
}

#[test]
fn a_body_over_3_mib_is_413() {
    let cluster = Cluster::start();
    let mut object = configmap("huge");
    object["data"]["k"] = json!("x".repeat(3 * 1024 * 1024 + 1));
    let answer = post_json(&cluster, CONFIGMAPS, &object);
    answer.status(413, "RequestEntityTooLarge");
    let missing = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}/huge"),
        "application/json",
        b"",
    );
    missing.status(404, "NotFound");
}

#[test]
fn deeply_nested_json_is_rejected_without_crashing() {
    let cluster = Cluster::start();
    let depth = 100_000;
    let body = format!(
        "{{\"metadata\":{{\"name\":\"deep\"}},\"data\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let answer = send(
        cluster.port,
        "POST",
        CONFIGMAPS,
        "application/json",
        body.as_bytes(),
    );
    answer.status(400, "BadRequest");
    // Still serving.
    post_json(&cluster, CONFIGMAPS, &configmap("after")).json();
}

// ---------------------------------------------------------------------------------------------
// Addressing
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unknown_resource_is_404() {
    let cluster = Cluster::start();
    send(
        cluster.port,
        "GET",
        "/api/v1/namespaces/default/widgets",
        "application/json",
        b"",
    )
    .status(404, "NotFound");
    send(
        cluster.port,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        "application/json",
        b"{}",
    )
    .status(404, "NotFound");
    send(
        cluster.port,
        "GET",
        "/apis/apps/v1/namespaces/default/deployments/web/frobnicate",
        "application/json",
        b"",
    )
    .status(404, "NotFound");
}

#[test]
fn a_missing_object_is_404_with_details() {
    let cluster = Cluster::start();
    let status = send(
        cluster.port,
        "GET",
        "/apis/apps/v1/namespaces/default/deployments/nope",
        "application/json",
        b"",
    )
    .status(404, "NotFound");
    assert_eq!(status["message"], "deployments.apps \"nope\" not found");
    assert_eq!(
        status["details"],
        json!({"name": "nope", "group": "apps", "kind": "deployments"})
    );
}

#[test]
fn creating_in_an_unknown_namespace_is_404() {
    let cluster = Cluster::start();
    let status = post_json(
        &cluster,
        "/api/v1/namespaces/nowhere/configmaps",
        &configmap("x"),
    )
    .status(404, "NotFound");
    assert_eq!(status["message"], "namespaces \"nowhere\" not found");
}

#[test]
fn a_kind_in_the_body_not_matching_the_url_is_400() {
    let cluster = Cluster::start();
    let mut body = configmap("x");
    body["kind"] = json!("Secret");
    let status = post_json(&cluster, CONFIGMAPS, &body).status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Secret"),
        "{status}"
    );
}

#[test]
fn an_api_version_in_the_body_not_matching_the_url_is_400() {
    let cluster = Cluster::start();
    let mut body = configmap("x");
    body["apiVersion"] = json!("apps/v1");
    let status = post_json(&cluster, CONFIGMAPS, &body).status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("apps/v1"),
        "{status}"
    );
}

#[test]
fn a_name_in_the_body_not_matching_the_url_on_put_is_400() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("real")).json();
    let answer = send(
        cluster.port,
        "PUT",
        &format!("{CONFIGMAPS}/real"),
        "application/json",
        configmap("other").to_string().as_bytes(),
    );
    let status = answer.status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "the name of the object (other) does not match the name on the URL (real)"
    );
}

#[test]
fn a_namespace_in_the_body_not_matching_the_url_is_400() {
    let cluster = Cluster::start();
    let mut body = configmap("x");
    body["metadata"]["namespace"] = json!("kube-system");
    let status = post_json(&cluster, CONFIGMAPS, &body).status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
}

// ---------------------------------------------------------------------------------------------
// Field validation
// ---------------------------------------------------------------------------------------------

const TYPO_DEPLOYMENT: &str = r#"{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "name": "web"},
  "spec": {"replicaz": 2, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]}}}}"#;
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[test]
fn strict_field_validation_rejects_unknown_and_duplicate_fields_by_name() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Strict"),
        "application/json",
        TYPO_DEPLOYMENT.as_bytes(),
    );
    let status = answer.status(400, "BadRequest");
    assert_eq!(
        status["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: duplicate field \"metadata.name\", unknown field \"spec.replicaz\""
    );
    send(
        cluster.port,
        "GET",
        &format!("{DEPLOYMENTS}/web"),
        "application/json",
        b"",
    )
    .status(404, "NotFound");
}

#[test]
fn warn_field_validation_creates_and_returns_warning_headers() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Warn"),
        "application/json",
        TYPO_DEPLOYMENT.as_bytes(),
    );
    assert_eq!(answer.code, 201, "{}", answer.body);
    assert_eq!(
        answer.header_values("warning"),
        vec![
            r#"299 - "duplicate field \"metadata.name\"""#,
            r#"299 - "unknown field \"spec.replicaz\"""#
        ]
    );
    assert!(
        answer.json()["spec"].get("replicaz").is_none(),
        "unknown fields are dropped"
    );
}

#[test]
fn ignore_field_validation_creates_silently() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Ignore"),
        "application/json",
        TYPO_DEPLOYMENT.as_bytes(),
    );
    assert_eq!(answer.code, 201, "{}", answer.body);
    assert!(answer.header_values("warning").is_empty());
}

#[test]
fn an_unknown_field_validation_mode_is_400() {
    let cluster = Cluster::start();
    let answer = post_json(
        &cluster,
        &format!("{CONFIGMAPS}?fieldValidation=Sloppy"),
        &configmap("x"),
    );
    answer.status(400, "BadRequest");
}

#[test]
fn strict_field_validation_also_covers_patches() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg?fieldValidation=Strict"),
        "application/merge-patch+json",
        br#"{"dataa": {"k": "v2"}}"#,
    );
    let status = answer.status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown field \"dataa\""),
        "{status}"
    );
}

#[test]
fn warn_field_validation_on_a_patch_returns_warning_headers() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg?fieldValidation=Warn"),
        "application/merge-patch+json",
        br#"{"dataa": {"k": "v2"}}"#,
    );
    assert_eq!(answer.code, 200, "{}", answer.body);
    assert_eq!(
        answer.header_values("warning"),
        vec![r#"299 - "unknown field \"dataa\"""#]
    );
}

#[test]
fn strict_field_validation_refuses_a_patch_that_adds_an_unknown_field() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg?fieldValidation=Strict"),
        "application/merge-patch+json",
        br#"{"dataa": {"k": "v2"}}"#,
    );
    assert_eq!(answer.code, 400, "{}", answer.body);
    assert!(
        answer.body.contains(r#"unknown field \"dataa\""#),
        "{}",
        answer.body
    );
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[test]
fn an_invalid_name_is_422_with_a_cause_for_the_field() {
    let cluster = Cluster::start();
    let status = post_json(&cluster, CONFIGMAPS, &configmap("Bad_Name")).status(422, "Invalid");
    let causes = causes(&status);
    assert_eq!(causes.len(), 1, "{status}");
    assert_eq!(
        (causes[0].0.as_str(), causes[0].1.as_str()),
        ("FieldValueInvalid", "metadata.name")
    );
    assert!(
        status["message"].as_str().unwrap_or_default().starts_with(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
        ),
        "{status}"
    );
    assert_eq!(status["details"]["kind"], "ConfigMap");
    assert_eq!(status["details"]["name"], "Bad_Name");
}

#[test]
fn a_pod_without_containers_is_422_naming_spec_containers() {
    let cluster = Cluster::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {"containers": []}});
    let status =
        post_json(&cluster, "/api/v1/namespaces/default/pods", &pod).status(422, "Invalid");
    let causes = causes(&status);
    assert!(
        causes
            .iter()
            .any(|(reason, field, _)| reason == "FieldValueRequired" && field == "spec.containers"),
        "{status}"
    );
}

#[test]
fn a_selector_not_matching_template_labels_is_422() {
    let cluster = Cluster::start();
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]}}}});
    let status = post_json(&cluster, DEPLOYMENTS, &deployment).status(422, "Invalid");
    let causes = causes(&status);
    assert!(
        causes
            .iter()
            .any(|(reason, field, message)| reason == "FieldValueInvalid"
                && field == "spec.template.metadata.labels"
                && message.contains("`selector` does not match template `labels`")),
        "{status}"
    );
}

#[test]
fn several_invalid_fields_give_one_cause_each() {
    let cluster = Cluster::start();
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"bad key!": "v"}},
        "spec": {"containers": [{"name": "Bad_Container", "image": "bulwark/demo"}], "restartPolicy": "Sometimes"}});
    let status =
        post_json(&cluster, "/api/v1/namespaces/default/pods", &pod).status(422, "Invalid");
    let fields: Vec<String> = causes(&status)
        .into_iter()
        .map(|(_, field, _)| field)
        .collect();
    for expected in [
        "metadata.labels",
        "spec.containers[0].name",
        "spec.restartPolicy",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "no cause for {expected}: {status}"
        );
    }
    assert!(fields.len() >= 3);
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn a_put_with_a_stale_resource_version_is_409_conflict() {
    let cluster = Cluster::start();
    let created = post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let stale_rv = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let mut update = created.clone();
    update["data"]["k"] = json!("v2");
    let answer = send(
        cluster.port,
        "PUT",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json",
        update.to_string().as_bytes(),
    );
    assert_eq!(answer.code, 200, "{}", answer.body);
    update["metadata"]["resourceVersion"] = json!(stale_rv);
    update["data"]["k"] = json!("v3");
    let answer = send(
        cluster.port,
        "PUT",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json",
        update.to_string().as_bytes(),
    );
    let status = answer.status(409, "Conflict");
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on configmaps \"cfg\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(status["details"]["name"], "cfg");
}

#[test]
fn creating_an_existing_object_is_409_already_exists() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let status = post_json(&cluster, CONFIGMAPS, &configmap("cfg")).status(409, "AlreadyExists");
    assert_eq!(status["message"], "configmaps \"cfg\" already exists");
    assert_eq!(
        status["details"],
        json!({"name": "cfg", "kind": "configmaps"})
    );
}

// ---------------------------------------------------------------------------------------------
// Lists and watches
// ---------------------------------------------------------------------------------------------

#[test]
fn an_invalid_label_selector_is_400() {
    let cluster = Cluster::start();
    for selector in ["app%20in%20(", "app%3D%3D%3Dweb", "!", "a%20b"] {
        let answer = send(
            cluster.port,
            "GET",
            &format!("{CONFIGMAPS}?labelSelector={selector}"),
            "application/json",
            b"",
        );
        answer.status(400, "BadRequest");
    }
}

#[test]
fn an_invalid_field_selector_is_400() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}?fieldSelector=metadata.name"),
        "application/json",
        b"",
    );
    answer.status(400, "BadRequest");
}

#[test]
fn an_unsupported_field_label_is_400_naming_it() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}?fieldSelector=spec.bogus%3Dx"),
        "application/json",
        b"",
    );
    let status = answer.status(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.bogus"),
        "{status}"
    );
}

#[test]
fn a_bad_continue_token_is_400() {
    let cluster = Cluster::start();
    for token in ["garbage!", "aGVsbG8", "eyJydiI6MX0"] {
        let answer = send(
            cluster.port,
            "GET",
            &format!("{CONFIGMAPS}?limit=1&continue={token}"),
            "application/json",
            b"",
        );
        answer.status(400, "BadRequest");
    }
}

#[test]
fn a_continue_token_for_another_list_is_400() {
    let cluster = Cluster::start();
    for name in ["a", "b"] {
        post_json(&cluster, CONFIGMAPS, &configmap(name)).json();
    }
    let page = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}?limit=1"),
        "application/json",
        b"",
    )
    .json();
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let answer = send(
        cluster.port,
        "GET",
        &format!("/api/v1/namespaces/default/secrets?limit=1&continue={token}"),
        "application/json",
        b"",
    );
    answer.status(400, "BadRequest");
}

#[test]
fn a_non_numeric_resource_version_is_400() {
    let cluster = Cluster::start();
    let answer = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}?resourceVersion=abc"),
        "application/json",
        b"",
    );
    answer.status(400, "BadRequest");
    let answer = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}?watch=1&resourceVersion=abc"),
        "application/json",
        b"",
    );
    answer.status(400, "BadRequest");
}

#[test]
fn a_watch_from_a_compacted_revision_gets_a_410_expired_error_event() {
    let cluster = Cluster::start_with(&["--watch-cache-events", "3"]);
    let first = post_json(&cluster, CONFIGMAPS, &configmap("first")).json();
    let old = first["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    for index in 0..6 {
        post_json(&cluster, CONFIGMAPS, &configmap(&format!("later-{index}"))).json();
    }
    let answer = send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}?watch=1&resourceVersion={old}"),
        "application/json",
        b"",
    );
    assert_eq!(
        answer.code, 200,
        "a watch answers 200 and reports the error as an event: {}",
        answer.body
    );
    let lines: Vec<&str> = answer
        .body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "exactly one event: {:?}", answer.body);
    let event: Value = serde_json::from_str(lines[0]).expect("an event");
    assert_eq!(event["type"], "ERROR");
    assert_is_failure_status(&event["object"], 410, "Expired");
    assert!(
        event["object"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("too old resource version: {old}"))
    );
}

// ---------------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unsupported_patch_content_type_is_415() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    for content_type in [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
    ] {
        let answer = send(
            cluster.port,
            "PATCH",
            &format!("{CONFIGMAPS}/cfg"),
            content_type,
            br#"{"data": {"k": "x"}}"#,
        );
        answer.status(415, "UnsupportedMediaType");
    }
}

#[test]
fn a_json_patch_whose_operation_fails_is_422() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let patch = br#"[{"op": "replace", "path": "/data/missing/deeper", "value": "x"}]"#;
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json-patch+json",
        patch,
    );
    answer.status(422, "Invalid");
    let patch = br#"[{"op": "test", "path": "/data/k", "value": "not-v"}]"#;
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json-patch+json",
        patch,
    );
    answer.status(422, "Invalid");
}

#[test]
fn a_json_patch_that_is_not_a_patch_document_is_400() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    for patch in [&b"[{\"op\": "[..], b"{\"op\": \"add\"}", b"42", b"[1]"] {
        let answer = send(
            cluster.port,
            "PATCH",
            &format!("{CONFIGMAPS}/cfg"),
            "application/json-patch+json",
            patch,
        );
        answer.status(400, "BadRequest");
    }
}

#[test]
fn a_json_patch_with_too_many_operations_is_413() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let operations: Vec<Value> = (0..10_001)
        .map(|_| json!({"op": "test", "path": "/data/k", "value": "v"}))
        .collect();
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json-patch+json",
        Value::Array(operations).to_string().as_bytes(),
    );
    let status = answer.status(413, "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "The allowed maximum operations in a JSON patch is 10000, got 10001"
    );
}

#[test]
fn a_malformed_merge_patch_is_400() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    for content_type in [
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ] {
        let answer = send(
            cluster.port,
            "PATCH",
            &format!("{CONFIGMAPS}/cfg"),
            content_type,
            b"{not json",
        );
        answer.status(400, "BadRequest");
    }
}

#[test]
fn a_patch_making_the_object_invalid_is_422() {
    let cluster = Cluster::start();
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]}}}});
    post_json(&cluster, DEPLOYMENTS, &deployment).json();
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{DEPLOYMENTS}/web"),
        "application/merge-patch+json",
        br#"{"spec": {"replicas": -1}}"#,
    );
    let status = answer.status(422, "Invalid");
    assert!(
        causes(&status)
            .iter()
            .any(|(_, field, _)| field == "spec.replicas"),
        "{status}"
    );
}

#[test]
fn server_side_apply_without_a_field_manager_is_400() {
    let cluster = Cluster::start();
    let body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n";
    let answer = send(
        cluster.port,
        "PATCH",
        &format!("{CONFIGMAPS}/cfg"),
        "application/apply-patch+yaml",
        body,
    );
    answer.status(400, "BadRequest");
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

#[test]
fn creating_in_a_terminating_namespace_is_403_namespace_terminating() {
    // Without the namespace controller the empty namespace stays Terminating (with it, it would
    // be finalized and gone before the create).
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    post_json(
        &cluster,
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}),
    )
    .json();
    let deleted = send(
        cluster.port,
        "DELETE",
        "/api/v1/namespaces/doomed",
        "application/json",
        b"",
    );
    assert_eq!(deleted.code, 200, "{}", deleted.body);
    let answer = post_json(
        &cluster,
        "/api/v1/namespaces/doomed/configmaps",
        &configmap("late"),
    );
    let status = answer.status(403, "Forbidden");
    assert_eq!(
        status["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"
    );
    assert_eq!(
        causes(&status),
        vec![(
            "NamespaceTerminating".to_string(),
            "metadata.namespace".to_string(),
            "namespace doomed is being terminated".to_string()
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// Methods and options
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unsupported_method_is_405() {
    let cluster = Cluster::start();
    send(cluster.port, "PUT", CONFIGMAPS, "application/json", b"{}")
        .status(405, "MethodNotAllowed");
    send(cluster.port, "POST", "/version", "application/json", b"{}")
        .status(405, "MethodNotAllowed");
}

#[test]
fn invalid_delete_options_are_rejected() {
    let cluster = Cluster::start();
    post_json(&cluster, CONFIGMAPS, &configmap("cfg")).json();
    let answer = send(
        cluster.port,
        "DELETE",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json",
        b"{not json",
    );
    answer.status(400, "BadRequest");
    let answer = send(
        cluster.port,
        "DELETE",
        &format!("{CONFIGMAPS}/cfg?propagationPolicy=Sometimes"),
        "application/json",
        b"",
    );
    answer.status(422, "Invalid");
    send(
        cluster.port,
        "GET",
        &format!("{CONFIGMAPS}/cfg"),
        "application/json",
        b"",
    )
    .json();
}

#[test]
fn an_unsatisfiable_accept_header_is_406() {
    let cluster = Cluster::start();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", cluster.port)).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let request = format!(
        "GET {CONFIGMAPS} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept: application/vnd.kubernetes.protobuf\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse_answer(&response).status(406, "NotAcceptable");
}
