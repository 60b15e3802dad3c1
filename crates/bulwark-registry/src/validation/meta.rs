//! `metadata` checks shared by every kind (apimachinery's `ValidateObjectMeta` and
//! `ValidateObjectMetaUpdate`), plus labels, annotations and label selectors.

use bulwark_core::StatusCause;
use serde_json::{Map, Value};

use super::field::{self, BadValue, Path};
use super::json;
use super::names;

/// 256 KiB: the total size of keys and values in `metadata.annotations`.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

/// Which name format a kind requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFormat {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
}

impl NameFormat {
    pub fn errors(self, name: &str) -> Vec<String> {
        match self {
            Self::Dns1123Subdomain => names::dns1123_subdomain_errors(name),
            Self::Dns1123Label => names::dns1123_label_errors(name),
            Self::Dns1035Label => names::dns1035_label_errors(name),
        }
    }
}

/// `metadata` of a new object.
pub fn validate_create(object: &Value, namespaced: bool, format: NameFormat) -> Vec<StatusCause> {
    let path = Path::root("metadata");
    let metadata = object.get("metadata").cloned().unwrap_or(Value::Null);
    let mut causes = Vec::new();
    if let Some(generate_name) = json::non_empty(&metadata, "generateName") {
        // Validated as a prefix: the random suffix will make a trailing '-' legal.
        let prefix_candidate = format!("{}a", generate_name.trim_end_matches('-'));
        for message in format.errors(&prefix_candidate) {
            causes.push(field::invalid(
                &path.child("generateName"),
                generate_name,
                &message,
            ));
        }
    }
    match json::non_empty(&metadata, "name") {
        None => causes.push(field::required(
            &path.child("name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for message in format.errors(name) {
                causes.push(field::invalid(&path.child("name"), name, &message));
            }
        }
    }
    causes.extend(validate_common(&metadata, namespaced, &path));
    causes
}

/// `metadata` of an updated object compared with the stored one.
pub fn validate_update(new: &Value, old: &Value) -> Vec<StatusCause> {
    let path = Path::root("metadata");
    let null = Value::Null;
    let new_meta = new.get("metadata").unwrap_or(&null);
    let old_meta = old.get("metadata").unwrap_or(&null);
    let mut causes = Vec::new();
    if old_meta
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        causes.extend(no_new_finalizers(
            new_meta,
            old_meta,
            &path.child("finalizers"),
        ));
    }
    // System fields the update leaves out are carried over from the stored object (upstream's
    // `BeforeUpdate` does so before validating), so only values actually sent are compared.
    if let (Some(new_generation), Some(old_generation)) = (
        json::integer(new_meta, "generation"),
        json::integer(old_meta, "generation"),
    ) && new_generation < old_generation
    {
        causes.push(field::invalid(
            &path.child("generation"),
            new_generation,
            "must not be decremented",
        ));
    }
    for key in ["name", "namespace", "uid"] {
        let new_value = new_meta.get(key).filter(|v| !v.is_null() && *v != "");
        let old_value = old_meta.get(key).filter(|v| !v.is_null() && *v != "");
        let carried = key == "uid" && new_value.is_none();
        if new_value != old_value && !carried {
            causes.push(field::immutable(
                &path.child(key),
                field::json_value(new_value),
            ));
        }
    }
    causes.extend(validate_maps_and_references(new_meta, &path));
    causes
}

fn validate_common(metadata: &Value, namespaced: bool, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let namespace = json::non_empty(metadata, "namespace");
    match (namespaced, namespace) {
        (true, None) => causes.push(field::required(&path.child("namespace"), "")),
        (true, Some(namespace)) => {
            for message in names::dns1123_label_errors(namespace) {
                causes.push(field::invalid(
                    &path.child("namespace"),
                    namespace,
                    &message,
                ));
            }
        }
        (false, Some(_)) => causes.push(field::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        )),
        (false, None) => {}
    }
    causes.extend(non_negative(
        metadata,
        "generation",
        &path.child("generation"),
    ));
    causes.extend(validate_maps_and_references(metadata, path));
    causes
}

/// Labels, annotations, owner references and finalizers: checked alike on create and update.
fn validate_maps_and_references(metadata: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = validate_labels(json::object(metadata, "labels"), &path.child("labels"));
    causes.extend(validate_annotations(
        json::object(metadata, "annotations"),
        &path.child("annotations"),
    ));
    causes.extend(validate_owner_references(
        json::array(metadata, "ownerReferences"),
        &path.child("ownerReferences"),
    ));
    causes.extend(validate_finalizers(
        json::array(metadata, "finalizers"),
        &path.child("finalizers"),
    ));
    causes
}

/// `must be greater than or equal to 0` for an optional integer field.
pub fn non_negative(object: &Value, key: &str, path: &Path) -> Vec<StatusCause> {
    match json::integer(object, key) {
        Some(value) if value < 0 => vec![field::invalid(
            path,
            value,
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// Every key must be a qualified name and every value a label value; causes sit on the map itself.
pub fn validate_labels(labels: Option<&Map<String, Value>>, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for (key, value) in json::string_pairs(labels) {
        causes.extend(validate_label_key(key, path));
        for message in names::label_value_errors(value) {
            causes.push(field::invalid(path, value, &message));
        }
    }
    causes
}

pub fn validate_label_key(key: &str, path: &Path) -> Vec<StatusCause> {
    names::qualified_name_errors(key)
        .iter()
        .map(|message| field::invalid(path, key, message))
        .collect()
}

/// Keys are qualified names compared case-insensitively; the total size is bounded.
pub fn validate_annotations(
    annotations: Option<&Map<String, Value>>,
    path: &Path,
) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut total_bytes = 0usize;
    for (key, value) in json::string_pairs(annotations) {
        for message in names::qualified_name_errors(&key.to_lowercase()) {
            causes.push(field::invalid(path, key, &message));
        }
        total_bytes = total_bytes
            .saturating_add(key.len())
            .saturating_add(value.len());
    }
    if total_bytes > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        causes.push(field::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
    }
    causes
}

fn validate_owner_references(references: &[Value], path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let mut first_controller: Option<String> = None;
    for reference in references {
        let api_version = json::string(reference, "apiVersion").unwrap_or_default();
        let version = api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            causes.push(field::invalid(
                &path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for key in ["kind", "name", "uid"] {
            let value = json::string(reference, key).unwrap_or_default();
            if value.is_empty() {
                causes.push(field::invalid(&path.child(key), value, "must not be empty"));
            }
        }
        if api_version == "v1" && json::string(reference, "kind") == Some("Event") {
            causes.push(field::invalid(
                path,
                BadValue::Raw(reference.to_string()),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if json::boolean(reference, "controller") == Some(true) {
            let name = format!(
                "{}/{}",
                json::string(reference, "kind").unwrap_or_default(),
                json::string(reference, "name").unwrap_or_default()
            );
            match &first_controller {
                Some(first) => causes.push(field::invalid(
                    path,
                    BadValue::Raw(Value::Array(references.to_vec()).to_string()),
                    &format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {name}"),
                )),
                None => first_controller = Some(name),
            }
        }
    }
    causes
}

fn validate_finalizers(finalizers: &[Value], path: &Path) -> Vec<StatusCause> {
    let names = finalizers
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>();
    let mut causes = Vec::new();
    for name in &names {
        for message in names::qualified_name_errors(name) {
            causes.push(field::invalid(path, *name, &message));
        }
        causes.extend(kube_finalizer_name(name, path));
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        let rendered = names
            .iter()
            .map(|n| field::go_quote(n))
            .collect::<Vec<_>>()
            .join(", ");
        causes.push(field::invalid(
            path,
            BadValue::Raw(format!("[]string{{{rendered}}}")),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    causes
}

/// Unqualified finalizer names must be one of Kubernetes' own.
pub fn kube_finalizer_name(name: &str, path: &Path) -> Vec<StatusCause> {
    const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        vec![field::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

fn no_new_finalizers(new_meta: &Value, old_meta: &Value, path: &Path) -> Vec<StatusCause> {
    let old = json::array(old_meta, "finalizers")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>();
    let mut extra = json::array(new_meta, "finalizers")
        .iter()
        .filter_map(Value::as_str)
        .filter(|name| !old.contains(name))
        .collect::<Vec<_>>();
    if extra.is_empty() {
        return Vec::new();
    }
    extra.sort_unstable();
    extra.dedup();
    let rendered = extra
        .iter()
        .map(|n| field::go_quote(n))
        .collect::<Vec<_>>()
        .join(", ");
    vec![field::forbidden(
        path,
        &format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{rendered}}}"
        ),
    )]
}

/// A `metav1.LabelSelector`: match labels and expressions.
pub fn validate_label_selector(selector: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = validate_labels(
        json::object(selector, "matchLabels"),
        &path.child("matchLabels"),
    );
    for (index, requirement) in json::array(selector, "matchExpressions").iter().enumerate() {
        let requirement_path = path.child("matchExpressions").index(index);
        let operator = json::string(requirement, "operator").unwrap_or_default();
        let values = json::array(requirement, "values");
        match operator {
            "In" | "NotIn" if values.is_empty() => causes.push(field::required(
                &requirement_path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => causes.push(field::forbidden(
                &requirement_path.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => causes.push(field::invalid(
                &requirement_path.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        causes.extend(validate_label_key(
            json::string(requirement, "key").unwrap_or_default(),
            &requirement_path.child("key"),
        ));
        for value in values.iter().filter_map(Value::as_str) {
            for message in names::label_value_errors(value) {
                causes.push(field::invalid(
                    &requirement_path.child("values"),
                    value,
                    &message,
                ));
            }
        }
    }
    causes
}

/// Whether a selector selects nothing-in-particular (no labels, no expressions).
pub fn selector_is_empty(selector: &Value) -> bool {
    json::object(selector, "matchLabels").is_none_or(Map::is_empty)
        && json::array(selector, "matchExpressions").is_empty()
}

/// Whether `labels` satisfy `selector` (matchLabels and matchExpressions, ANDed).
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let labels_match = json::string_pairs(json::object(selector, "matchLabels"))
        .into_iter()
        .all(|(key, value)| label(key) == Some(value));
    labels_match
        && json::array(selector, "matchExpressions")
            .iter()
            .all(|requirement| {
                let key = json::string(requirement, "key").unwrap_or_default();
                let values = json::array(requirement, "values")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>();
                match json::string(requirement, "operator").unwrap_or_default() {
                    "In" => label(key).is_some_and(|v| values.contains(&v)),
                    "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                    "Exists" => label(key).is_some(),
                    "DoesNotExist" => label(key).is_none(),
                    _ => false,
                }
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_is_required() {
        let causes = validate_create(
            &json!({"metadata": {"namespace": "default"}}),
            true,
            NameFormat::Dns1123Subdomain,
        );
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "metadata.name");
        assert_eq!(
            causes[0].message,
            "Required value: name or generateName is required"
        );
    }

    #[test]
    fn bad_name_quotes_the_value() {
        let causes = validate_create(
            &json!({"metadata": {"name": "Web", "namespace": "d"}}),
            true,
            NameFormat::Dns1123Subdomain,
        );
        assert!(
            causes[0]
                .message
                .starts_with("Invalid value: \"Web\": a lowercase RFC 1123 subdomain")
        );
    }

    #[test]
    fn generate_name_may_end_with_a_dash() {
        let object =
            json!({"metadata": {"generateName": "web-", "name": "web-x1z2q", "namespace": "d"}});
        assert!(validate_create(&object, true, NameFormat::Dns1123Subdomain).is_empty());
    }

    #[test]
    fn namespace_required_or_forbidden_by_scope() {
        let causes = validate_create(
            &json!({"metadata": {"name": "x"}}),
            true,
            NameFormat::Dns1123Subdomain,
        );
        assert_eq!(causes[0].field, "metadata.namespace");
        let causes = validate_create(
            &json!({"metadata": {"name": "x", "namespace": "d"}}),
            false,
            NameFormat::Dns1123Subdomain,
        );
        assert_eq!(causes[0].message, "Forbidden: not allowed on this type");
    }

    #[test]
    fn labels_and_annotations_are_checked() {
        let object = json!({"metadata": {"name": "x", "namespace": "d", "labels": {"bad key": "ok", "k": "-bad"},
            "annotations": {"Example.COM/Key": "fine"}}});
        let causes = validate_create(&object, true, NameFormat::Dns1123Subdomain);
        assert_eq!(causes.len(), 2, "{causes:?}");
        assert!(causes.iter().all(|c| c.field == "metadata.labels"));
    }

    #[test]
    fn annotations_are_bounded() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
        let object =
            json!({"metadata": {"name": "x", "namespace": "d", "annotations": {"a": big}}});
        let causes = validate_create(&object, true, NameFormat::Dns1123Subdomain);
        assert_eq!(causes[0].reason, "FieldValueTooLong");
        assert_eq!(
            causes[0].message,
            "Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn update_keeps_identity_immutable() {
        let old = json!({"metadata": {"name": "x", "uid": "1", "generation": 2}});
        let new = json!({"metadata": {"name": "y", "uid": "2", "generation": 1}});
        let fields = validate_update(&new, &old)
            .into_iter()
            .map(|c| c.field)
            .collect::<Vec<_>>();
        assert_eq!(
            fields,
            vec!["metadata.generation", "metadata.name", "metadata.uid"]
        );
        let resent_without_system_fields = json!({"metadata": {"name": "x"}});
        assert!(validate_update(&resent_without_system_fields, &old).is_empty());
    }

    #[test]
    fn finalizers_cannot_be_added_while_deleting() {
        let old = json!({"metadata": {"name": "x", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x"]}});
        let new = json!({"metadata": {"name": "x", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x", "b.io/y"]}});
        let causes = validate_update(&new, &old);
        assert_eq!(causes[0].reason, "FieldValueForbidden");
    }

    #[test]
    fn selectors_match_expressions() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]});
        let labels = json!({"app": "web", "tier": "b"});
        assert!(selector_matches(&selector, labels.as_object()));
        let labels = json!({"app": "web", "tier": "c"});
        assert!(!selector_matches(&selector, labels.as_object()));
        assert!(selector_is_empty(&json!({})));
        let bad = json!({"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["x"]}, {"key": "k", "operator": "Is"}]});
        assert_eq!(
            validate_label_selector(&bad, &Path::root("selector")).len(),
            2
        );
    }
}
