use super::*;
use bulwark_core::resource::find_kind;
use proptest::prelude::*;

fn now() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
}

fn resource(group: &str, kind: &str) -> &'static ResourceInfo {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
        .expect("served resource")
}

fn header_names(resource: &ResourceInfo) -> Vec<(String, u64)> {
    column_definitions(resource)
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["priority"].as_u64().unwrap_or(9),
            )
        })
        .collect()
}

#[test]
fn every_resource_has_columns_matching_its_cells() {
    for resource in RESOURCES {
        let definitions = column_definitions(resource);
        assert!(!definitions.is_empty(), "{}", resource.kind);
        let names = definitions.iter().filter(|c| c["format"] == "name").count();
        assert_eq!(names, 1, "{} has one name column", resource.kind);
        assert_eq!(
            row_cells(resource, &json!({}), now()).len(),
            definitions.len(),
            "{}",
            resource.kind
        );
    }
}

#[test]
fn pod_and_node_headers_match_upstream() {
    let pod = resource("", "Pod");
    let expected = [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ];
    let expected: Vec<(String, u64)> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(header_names(pod), expected);
    let node: Vec<String> = header_names(resource("", "Node"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        node,
        [
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
}

#[test]
fn both_event_resources_share_upstream_columns() {
    let core = header_names(resource("", "Event"));
    let events = header_names(resource("events.k8s.io", "Event"));
    assert_eq!(core, events);
    let shown: Vec<&str> = core
        .iter()
        .filter(|(_, p)| *p == 0)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(shown, ["Last Seen", "Type", "Reason", "Object", "Message"]);
}

#[test]
fn limit_ranges_get_the_default_table() {
    let limit_range = resource("", "LimitRange");
    let names: Vec<String> = header_names(limit_range)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["Name", "Created At"]);
    assert_eq!(column_definitions(limit_range)[1]["type"], "date");
}

#[test]
fn descriptions_are_filled_from_schemas() {
    for resource in RESOURCES {
        for column in column_definitions(resource) {
            let description = column["description"].as_str().unwrap_or_default();
            assert!(
                !description.is_empty(),
                "{} {}",
                resource.kind,
                column["name"]
            );
        }
    }
}

#[test]
fn table_wraps_rows_with_partial_object_metadata() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"},
                     "creationTimestamp": "2025-06-01T11:00:00Z", "resourceVersion": "7"},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Succeeded"}
    });
    let pods = find_kind("", "v1", "Pod").expect("pods are served");
    let table = table(
        pods,
        [&pod],
        now(),
        IncludeObject::Metadata,
        json!({"resourceVersion": "9"}),
    );
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table["metadata"], json!({"resourceVersion": "9"}));
    assert_eq!(table["columnDefinitions"].as_array().map(Vec::len), Some(9));
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "web-0");
    assert_eq!(row["cells"][2], "Succeeded");
    assert_eq!(row["conditions"][0]["type"], "Completed");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(row["object"]["metadata"]["labels"]["app"], "web");
}

#[test]
fn include_object_none_and_object() {
    let namespace = json!({"metadata": {"name": "prod"}, "status": {"phase": "Active"}});
    let namespaces = resource("", "Namespace");
    let none = table(
        namespaces,
        [&namespace],
        now(),
        IncludeObject::None,
        json!(null),
    );
    assert_eq!(none["rows"][0]["object"], Value::Null);
    assert_eq!(none["metadata"], json!({}));
    assert!(none["rows"][0].get("conditions").is_none());
    let whole = table(
        namespaces,
        vec![&namespace],
        now(),
        IncludeObject::Object,
        json!({}),
    );
    assert_eq!(whole["rows"][0]["object"], namespace);
    let empty = table(
        namespaces,
        std::iter::empty(),
        now(),
        IncludeObject::Metadata,
        json!({}),
    );
    assert_eq!(empty["rows"], json!([]));
}

#[test]
fn include_object_parses_the_query_values() {
    assert_eq!(IncludeObject::from_query("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::from_query(""), Some(IncludeObject::Metadata));
    assert_eq!(
        IncludeObject::from_query("Object"),
        Some(IncludeObject::Object)
    );
    assert_eq!(IncludeObject::from_query("object"), None);
}

/// Keys the printers read, so arbitrary objects reach deep into the interesting paths.
const KEYS: &[&str] = &[
    "metadata",
    "name",
    "creationTimestamp",
    "deletionTimestamp",
    "labels",
    "spec",
    "status",
    "containers",
    "initContainers",
    "containerStatuses",
    "initContainerStatuses",
    "state",
    "lastState",
    "waiting",
    "running",
    "terminated",
    "reason",
    "exitCode",
    "signal",
    "finishedAt",
    "restartCount",
    "ready",
    "started",
    "restartPolicy",
    "conditions",
    "type",
    "phase",
    "podIP",
    "podIPs",
    "ip",
    "readinessGates",
    "conditionType",
    "replicas",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "template",
    "ports",
    "port",
    "nodePort",
    "subsets",
    "addresses",
    "endpoints",
    "involvedObject",
    "regarding",
    "series",
    "count",
    "lastObservedTime",
    "eventTime",
    "hard",
    "used",
    "minAvailable",
    "completions",
    "parallelism",
    "startTime",
    "completionTime",
    "jobTemplate",
    "active",
    "lastScheduleTime",
    "suspend",
    "nodeInfo",
    "unschedulable",
    "loadBalancer",
    "ingress",
    "externalIPs",
    "clusterIP",
    "clusterIPs",
    "data",
    "binaryData",
    "secrets",
    "value",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("2025-06-01T11:00:00Z".to_string()),
            Just("0001-01-01T00:00:00Z".to_string()),
            Just("Always".to_string()),
            Just("True".to_string()),
            Just("Completed".to_string()),
            Just("LoadBalancer".to_string()),
            Just("In".to_string()),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn arbitrary_time() -> impl Strategy<Value = Timestamp> {
    (-62_135_596_800_i64..253_402_300_799)
        .prop_map(|s| Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH))
}

proptest! {
    #[test]
    fn every_resource_prints_any_json_without_panicking(object in arbitrary_json(), now in arbitrary_time()) {
        for resource in RESOURCES {
            let table = table(resource, [&object], now, IncludeObject::Metadata, json!({}));
            let cells = table["rows"][0]["cells"].as_array().map_or(0, Vec::len);
            prop_assert_eq!(cells, column_definitions(resource).len());
        }
    }

    #[test]
    fn human_duration_never_panics(seconds in any::<i64>(), nanos in -999_999_999_i32..999_999_999) {
        let text = human_duration(jiff::SignedDuration::new(seconds, nanos));
        prop_assert!(!text.is_empty());
    }
}

#[test]
fn streamed_table_json_equals_the_table_value_for_every_include_mode() {
    let pods = resource("", "Pod");
    let running = json!({
        "metadata": {"name": "a", "namespace": "default", "labels": {"app": "x"}, "creationTimestamp": "2025-06-01T11:00:00Z"},
        "spec": {"containers": [{"name": "c"}], "readinessGates": [{"conditionType": "g"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    });
    let bare = json!({"metadata": {"name": "b"}});
    let objects = [&running, &bare];
    let list_metadata = json!({"resourceVersion": "7", "continue": "c"});
    for include in [
        IncludeObject::None,
        IncludeObject::Metadata,
        IncludeObject::Object,
    ] {
        let expected = table(pods, objects, now(), include, list_metadata.clone());
        let streamed: Value =
            serde_json::from_slice(&table_json(pods, &objects, now(), include, &list_metadata))
                .expect("valid JSON");
        assert_eq!(streamed, expected, "{include:?}");
    }
    let no_metadata: Value = serde_json::from_slice(&table_json(
        pods,
        &[],
        now(),
        IncludeObject::Metadata,
        &Value::Null,
    ))
    .expect("valid JSON");
    assert_eq!(
        no_metadata,
        table(pods, [], now(), IncludeObject::Metadata, Value::Null)
    );
}
