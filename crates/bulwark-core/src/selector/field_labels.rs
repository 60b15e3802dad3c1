//! Which fields each kind lets a list select on, and how each reads from an object.
//!
//! Upstream does this in two steps, and so do we:
//! 1. *Conversion* (`AddFieldLabelConversionFunc` per kind, else `DefaultMetaV1FieldSelectorConversion`)
//!    decides whether a field label is supported — a 400 with upstream's message when not — and may
//!    rename it (`spec.host` → `spec.nodeName`; events.k8s.io's `regarding.*` → `involvedObject.*`).
//! 2. *Selectable fields* (`ToSelectableFields` in each registry strategy) read the value from the
//!    object. A supported field the object lacks reads as `""`; booleans read `"true"`/`"false"`
//!    with their default when absent, counters read their number with `0` when absent.
//!
//! Objects are read in their JSON form, in either the core/v1 or the events.k8s.io/v1 shape for
//! events, since both APIs share storage.

use serde_json::Value;

use super::go;
use super::{FieldSelector, SelectorError};
use crate::resource::ResourceInfo;

const EVENT_OBJECT_FIELDS: &[&str] = &[
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
];

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];

/// Every field label any kind supports, in converted spelling (see [`selectable_fields`]).
const ALL_FIELDS: &[&str] = &[
    "spec.unschedulable",
    "status.phase",
    "type",
    "spec.clusterIP",
    "spec.type",
    "status.replicas",
    "status.successful",
    "reason",
    "reportingComponent",
    "source",
];

fn not_supported(label: &str) -> SelectorError {
    SelectorError::FieldLabelNotSupported(format!("field label not supported: {label}"))
}

fn accept(label: &str, allowed: &[&str]) -> Result<String, SelectorError> {
    if allowed.contains(&label) {
        Ok(label.to_string())
    } else {
        Err(not_supported(label))
    }
}

/// Upstream's field label conversion: whether `resource` supports selecting on `label`, and the
/// field and value the selector then uses.
pub fn convert_field_label(
    resource: &ResourceInfo,
    label: &str,
    value: &str,
) -> Result<(String, String), SelectorError> {
    let field = convert_label(resource, label)?;
    Ok((field, value.to_string()))
}

fn convert_label(resource: &ResourceInfo, label: &str) -> Result<String, SelectorError> {
    match (resource.group, resource.kind) {
        ("", "Pod") if label == "spec.host" => Ok("spec.nodeName".to_string()),
        ("", "Pod") => accept(label, POD_FIELDS),
        ("", "Node") => accept(label, &["metadata.name", "spec.unschedulable"]),
        ("", "Namespace") => accept(label, &["status.phase", "metadata.name"]),
        ("", "Secret") => accept(label, &["type", "metadata.namespace", "metadata.name"]),
        ("", "Service") => accept(
            label,
            &[
                "metadata.namespace",
                "metadata.name",
                "spec.clusterIP",
                "spec.type",
            ],
        ),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => accept(
            label,
            &["metadata.name", "metadata.namespace", "status.replicas"],
        ),
        ("", "Event") => convert_core_event_label(label),
        ("events.k8s.io", "Event") => convert_events_v1_label(label),
        ("batch", "Job") => match label {
            "metadata.name" | "metadata.namespace" | "status.successful" => Ok(label.to_string()),
            _ => Err(SelectorError::FieldLabelNotSupported(format!(
                "field label {} not supported for batchv1.Job",
                go::quote(label)
            ))),
        },
        _ => match label {
            "metadata.name" | "metadata.namespace" => Ok(label.to_string()),
            _ => Err(SelectorError::FieldLabelNotSupported(format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go::quote(label)
            ))),
        },
    }
}

fn convert_core_event_label(label: &str) -> Result<String, SelectorError> {
    let involved = label
        .strip_prefix("involvedObject.")
        .is_some_and(|field| EVENT_OBJECT_FIELDS.contains(&field));
    if involved {
        return Ok(label.to_string());
    }
    accept(
        label,
        &[
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ],
    )
}

/// events.k8s.io/v1 speaks `regarding` and `reportingController`; upstream maps them onto the
/// core event's selectable fields, and supports neither `source` nor the core spellings.
fn convert_events_v1_label(label: &str) -> Result<String, SelectorError> {
    if let Some(field) = label
        .strip_prefix("regarding.")
        .filter(|field| EVENT_OBJECT_FIELDS.contains(field))
    {
        return Ok(format!("involvedObject.{field}"));
    }
    match label {
        "reportingController" => Ok("reportingComponent".to_string()),
        "reason" | "type" | "metadata.namespace" | "metadata.name" => Ok(label.to_string()),
        _ => Err(not_supported(label)),
    }
}

/// Every field a field selector on `resource` can read, in the spelling conversion leaves it
/// in: what a cache must remember of an object to match any selector without the object.
pub fn selectable_fields(resource: &ResourceInfo) -> Vec<String> {
    let involved = EVENT_OBJECT_FIELDS.iter().flat_map(|field| {
        [
            format!("involvedObject.{field}"),
            format!("regarding.{field}"),
        ]
    });
    let mut fields: Vec<String> = POD_FIELDS
        .iter()
        .chain(ALL_FIELDS)
        .chain(&["spec.host", "reportingController"])
        .map(|label| label.to_string())
        .chain(involved)
        .filter_map(|label| convert_label(resource, &label).ok())
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// Whether lists of `resource` can select on `label`.
pub fn supported(resource: &ResourceInfo, label: &str) -> bool {
    convert_label(resource, label).is_ok()
}

/// The value `label` reads on `object`, as a field selector compares it; `None` when `resource`
/// does not support the label. Supported fields the object lacks read as `""`.
pub fn field_value(resource: &ResourceInfo, object: &Value, label: &str) -> Option<String> {
    let field = convert_label(resource, label).ok()?;
    Some(selectable_value(resource, object, &field))
}

fn string_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn first_non_empty(object: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .map(|p| string_at(object, p))
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

fn bool_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

fn integer_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

/// The selectable field set of each kind (upstream's `ToSelectableFields`), read from JSON. Knows
/// the pre-conversion spellings too, so a selector matches whether or not it was converted.
fn selectable_value(resource: &ResourceInfo, object: &Value, field: &str) -> String {
    match field {
        "metadata.name" => return string_at(object, "/metadata/name"),
        "metadata.namespace" if resource.namespaced() => {
            return string_at(object, "/metadata/namespace");
        }
        "metadata.namespace" => return String::new(),
        _ => {}
    }
    match (resource.group, resource.kind) {
        ("", "Pod") => pod_value(object, field),
        ("", "Node") if field == "spec.unschedulable" => bool_at(object, "/spec/unschedulable"),
        ("", "Namespace") if field == "status.phase" => string_at(object, "/status/phase"),
        ("", "Secret") if field == "type" => string_at(object, "/type"),
        ("", "Service") if field == "spec.clusterIP" => string_at(object, "/spec/clusterIP"),
        ("", "Service") if field == "spec.type" => string_at(object, "/spec/type"),
        ("", "ReplicationController") | ("apps", "ReplicaSet") if field == "status.replicas" => {
            integer_at(object, "/status/replicas")
        }
        ("batch", "Job") if field == "status.successful" => integer_at(object, "/status/succeeded"),
        ("" | "events.k8s.io", "Event") => event_value(object, field),
        _ => String::new(),
    }
}

fn pod_value(pod: &Value, field: &str) -> String {
    match field {
        "spec.nodeName" | "spec.host" => string_at(pod, "/spec/nodeName"),
        "spec.restartPolicy" => string_at(pod, "/spec/restartPolicy"),
        "spec.schedulerName" => string_at(pod, "/spec/schedulerName"),
        "spec.serviceAccountName" => string_at(pod, "/spec/serviceAccountName"),
        "spec.hostNetwork" => bool_at(pod, "/spec/hostNetwork"),
        "status.phase" => string_at(pod, "/status/phase"),
        // The internal pod keeps only podIPs; v1's podIP wins when both are set, as in conversion.
        "status.podIP" => first_non_empty(pod, &["/status/podIP", "/status/podIPs/0/ip"]),
        "status.nominatedNodeName" => string_at(pod, "/status/nominatedNodeName"),
        _ => String::new(),
    }
}

/// Core/v1 events carry `involvedObject`, `reportingComponent` and `source`; events.k8s.io/v1
/// events carry `regarding`, `reportingController` and `deprecatedSource`.
fn event_value(event: &Value, field: &str) -> String {
    let object_field = field
        .strip_prefix("involvedObject.")
        .or_else(|| field.strip_prefix("regarding."));
    if let Some(name) = object_field.filter(|name| EVENT_OBJECT_FIELDS.contains(name)) {
        return first_non_empty(
            event,
            &[
                &format!("/involvedObject/{name}"),
                &format!("/regarding/{name}"),
            ],
        );
    }
    let reporting = || first_non_empty(event, &["/reportingComponent", "/reportingController"]);
    match field {
        "reason" => string_at(event, "/reason"),
        "type" => string_at(event, "/type"),
        "reportingComponent" | "reportingController" => reporting(),
        "source" => {
            let source =
                first_non_empty(event, &["/source/component", "/deprecatedSource/component"]);
            if source.is_empty() {
                reporting()
            } else {
                source
            }
        }
        _ => String::new(),
    }
}

impl FieldSelector {
    /// Checks every term against what `resource` supports and converts it, as the API server does
    /// before a list or watch; the first unsupported term (in sorted order) is the error.
    pub fn for_resource(&self, resource: &ResourceInfo) -> Result<FieldSelector, SelectorError> {
        self.transform(|label, value| convert_field_label(resource, label, value))
    }

    /// Matches an object of `resource` in JSON form. Terms may be converted or not; a field the
    /// kind does not know reads as `""`.
    pub fn matches_object(&self, resource: &ResourceInfo, object: &Value) -> bool {
        self.terms()
            .iter()
            .all(|term| term.matches_value(&selectable_value(resource, object, &term.field)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::find;
    use serde_json::json;

    fn resource(group: &str, plural: &str) -> &'static ResourceInfo {
        find(group, "v1", plural).unwrap_or_else(|| panic!("{group}/{plural}"))
    }

    #[test]
    fn pods_support_upstream_fields_and_spec_host() {
        let pods = resource("", "pods");
        for label in [
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.hostNetwork",
            "status.podIPs",
        ] {
            assert!(supported(pods, label), "{label}");
        }
        assert_eq!(
            convert_field_label(pods, "spec.host", "n1"),
            Ok(("spec.nodeName".into(), "n1".into()))
        );
        assert_eq!(
            convert_field_label(pods, "spec.containers", "x")
                .unwrap_err()
                .to_string(),
            "field label not supported: spec.containers"
        );
    }

    #[test]
    fn unsupported_labels_get_each_kinds_message() {
        let error = |group: &str, plural: &str, label: &str| {
            convert_field_label(resource(group, plural), label, "")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("apps", "deployments", "status.replicas"),
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            error("batch", "jobs", "status.active"),
            "field label \"status.active\" not supported for batchv1.Job"
        );
        assert_eq!(
            error("", "nodes", "metadata.namespace"),
            "field label not supported: metadata.namespace"
        );
        assert_eq!(
            error("events.k8s.io", "events", "source"),
            "field label not supported: source"
        );
        assert_eq!(
            error("", "events", "regarding.kind"),
            "field label not supported: regarding.kind"
        );
    }

    #[test]
    fn per_kind_fields_are_supported() {
        let cases = [
            ("", "nodes", "spec.unschedulable"),
            ("", "namespaces", "status.phase"),
            ("", "secrets", "type"),
            ("", "services", "spec.clusterIP"),
            ("apps", "replicasets", "status.replicas"),
            ("batch", "jobs", "status.successful"),
            ("", "events", "involvedObject.uid"),
            ("", "events", "reportingComponent"),
            ("events.k8s.io", "events", "regarding.name"),
            ("events.k8s.io", "events", "reportingController"),
            ("scheduling.k8s.io", "priorityclasses", "metadata.namespace"),
        ];
        for (group, plural, label) in cases {
            assert!(
                supported(resource(group, plural), label),
                "{plural} {label}"
            );
        }
    }

    #[test]
    fn pod_fields_read_with_upstream_defaults() {
        let pods = resource("", "pods");
        let pod = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "127.128.0.5"}]}
        });
        let value = |label: &str| field_value(pods, &pod, label);
        assert_eq!(value("metadata.name").as_deref(), Some("web"));
        assert_eq!(value("spec.host").as_deref(), Some("n1"));
        assert_eq!(value("spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(value("spec.schedulerName").as_deref(), Some(""));
        assert_eq!(value("status.podIP").as_deref(), Some("127.128.0.5"));
        assert_eq!(value("status.podIPs").as_deref(), Some(""));
        assert_eq!(value("spec.containers"), None);
    }

    #[test]
    fn counters_and_booleans_read_their_defaults() {
        assert_eq!(
            field_value(resource("", "nodes"), &json!({}), "spec.unschedulable").as_deref(),
            Some("false")
        );
        let node = json!({"spec": {"unschedulable": true}});
        assert_eq!(
            field_value(resource("", "nodes"), &node, "spec.unschedulable").as_deref(),
            Some("true")
        );
        let job = json!({"status": {"succeeded": 3}});
        assert_eq!(
            field_value(resource("batch", "jobs"), &job, "status.successful").as_deref(),
            Some("3")
        );
        assert_eq!(
            field_value(
                resource("apps", "replicasets"),
                &json!({}),
                "status.replicas"
            )
            .as_deref(),
            Some("0")
        );
    }

    #[test]
    fn events_read_the_same_in_both_shapes() {
        let core = json!({
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reportingComponent": "kubelet", "source": {"component": "kubelet"}, "reason": "Started"
        });
        let new = json!({"regarding": {"kind": "Pod", "name": "web"}, "reportingController": "kubelet", "reason": "Started"});
        let core_events = resource("", "events");
        let new_events = resource("events.k8s.io", "events");
        for event in [&core, &new] {
            assert_eq!(
                field_value(core_events, event, "involvedObject.kind").as_deref(),
                Some("Pod")
            );
            assert_eq!(
                field_value(new_events, event, "regarding.name").as_deref(),
                Some("web")
            );
            assert_eq!(
                field_value(new_events, event, "reportingController").as_deref(),
                Some("kubelet")
            );
            assert_eq!(
                field_value(core_events, event, "source").as_deref(),
                Some("kubelet")
            );
        }
    }

    #[test]
    fn selectors_convert_then_match_objects() {
        let pods = resource("", "pods");
        let selector = FieldSelector::parse("spec.host=n1,status.phase!=Failed").unwrap();
        let converted = selector.for_resource(pods).unwrap();
        assert_eq!(
            converted.to_string(),
            "spec.nodeName=n1,status.phase!=Failed"
        );
        let pod = json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(converted.matches_object(pods, &pod));
        assert!(selector.matches_object(pods, &pod));
        assert!(!converted.matches_object(pods, &json!({"spec": {"nodeName": "n2"}})));
        let bad = FieldSelector::parse("spec.nodeName=n1,spec.bogus=x").unwrap();
        assert_eq!(
            bad.for_resource(pods).unwrap_err().to_string(),
            "field label not supported: spec.bogus"
        );
    }

    #[test]
    fn selectable_fields_cover_every_converted_label() {
        assert_eq!(
            selectable_fields(resource("", "pods")).len(),
            POD_FIELDS.len()
        );
        let events = selectable_fields(resource("", "events"));
        assert!(events.contains(&"involvedObject.uid".to_string()));
        assert!(events.contains(&"source".to_string()));
        let events_v1 = selectable_fields(resource("events.k8s.io", "events"));
        assert!(events_v1.contains(&"reportingComponent".to_string()));
        assert_eq!(
            selectable_fields(resource("", "configmaps")),
            ["metadata.name", "metadata.namespace"]
        );
        assert!(
            selectable_fields(resource("batch", "jobs")).contains(&"status.successful".to_string())
        );
    }

    #[test]
    fn namespace_of_cluster_scoped_objects_reads_empty() {
        let classes = resource("scheduling.k8s.io", "priorityclasses");
        let object = json!({"metadata": {"name": "high", "namespace": "ignored"}});
        assert_eq!(
            field_value(classes, &object, "metadata.namespace").as_deref(),
            Some("")
        );
    }
}
