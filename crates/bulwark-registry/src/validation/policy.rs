//! Disruption and priority: `policy/v1` PodDisruptionBudgets and `scheduling.k8s.io/v1`
//! PriorityClasses.

use bulwark_core::StatusCause;
use serde_json::Value;

use super::apps::{not_more_than_100_percent, positive_int_or_percent};
use super::field::{self, BadValue, Path};
use super::json;
use super::meta;

/// The highest priority a user-defined PriorityClass may carry; above it is reserved for system classes.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;
/// The system classes that may use the reserved `system-` prefix.
const SYSTEM_PRIORITY_CLASSES: &[&str] = &["system-node-critical", "system-cluster-critical"];

pub fn validate_pod_disruption_budget(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    let min_available = json::int_or_string(spec, "minAvailable");
    let max_unavailable = json::int_or_string(spec, "maxUnavailable");
    if min_available.is_some() && max_unavailable.is_some() {
        causes.push(field::invalid(
            &path,
            BadValue::Raw(spec.to_string()),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (key, value) in [
        ("minAvailable", min_available),
        ("maxUnavailable", max_unavailable),
    ] {
        if let Some(value) = value {
            causes.extend(positive_int_or_percent(value, &path.child(key)));
            causes.extend(not_more_than_100_percent(value, &path.child(key)));
        }
    }
    if let Some(selector) = spec.get("selector").filter(|s| s.is_object()) {
        causes.extend(meta::validate_label_selector(
            selector,
            &path.child("selector"),
        ));
    }
    if let Some(policy) = json::string(spec, "unhealthyPodEvictionPolicy")
        && !["AlwaysAllow", "IfHealthyBudget"].contains(&policy)
    {
        causes.push(field::not_supported(
            &path.child("unhealthyPodEvictionPolicy"),
            policy,
            &["AlwaysAllow", "IfHealthyBudget"],
        ));
    }
    causes
}

pub fn validate_priority_class(object: &Value) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let name = object
        .get("metadata")
        .and_then(|m| json::string(m, "name"))
        .unwrap_or_default();
    if name.starts_with("system-") && !SYSTEM_PRIORITY_CLASSES.contains(&name) {
        causes.push(field::forbidden(
            &Path::root("metadata").child("name"),
            "priority class names with 'system-' prefix are reserved for system use only",
        ));
    }
    if json::integer(object, "value").is_some_and(|value| value > HIGHEST_USER_DEFINABLE_PRIORITY)
        && !SYSTEM_PRIORITY_CLASSES.contains(&name)
    {
        causes.push(field::forbidden(
            &Path::root("value"),
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    match json::string(object, "preemptionPolicy") {
        None => causes.push(field::required(&Path::root("preemptionPolicy"), "")),
        Some("Never" | "PreemptLowerPriority") => {}
        Some(other) => causes.push(field::not_supported(
            &Path::root("preemptionPolicy"),
            other,
            &["Never", "PreemptLowerPriority"],
        )),
    }
    causes
}

/// A PriorityClass's value and preemption policy are fixed once created.
pub fn validate_priority_class_update(new: &Value, old: &Value) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if new.get("value") != old.get("value") {
        causes.push(field::forbidden(
            &Path::root("value"),
            "may not be changed in an update.",
        ));
    }
    if new.get("preemptionPolicy") != old.get("preemptionPolicy") {
        causes.push(field::immutable(
            &Path::root("preemptionPolicy"),
            field::json_value(new.get("preemptionPolicy")),
        ));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pdb_takes_one_of_min_or_max() {
        let ok = json!({"spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "payment-service"}}}});
        assert!(validate_pod_disruption_budget(&ok).is_empty());
        let neither = json!({"spec": {"selector": {"matchLabels": {"app": "x"}}}});
        assert!(validate_pod_disruption_budget(&neither).is_empty());
        let both = json!({"spec": {"minAvailable": 2, "maxUnavailable": "10%"}});
        let causes = validate_pod_disruption_budget(&both);
        assert_eq!(causes.len(), 1);
        assert!(
            causes[0]
                .message
                .ends_with("minAvailable and maxUnavailable cannot be both set")
        );
    }

    #[test]
    fn pdb_values_are_non_negative_and_at_most_100_percent() {
        let bad = json!({"spec": {"minAvailable": -1}});
        assert_eq!(
            validate_pod_disruption_budget(&bad)[0].message,
            "Invalid value: -1: must be greater than or equal to 0"
        );
        let bad = json!({"spec": {"maxUnavailable": "120%"}});
        assert_eq!(
            validate_pod_disruption_budget(&bad)[0].message,
            "Invalid value: 120%: must not be greater than 100%"
        );
    }

    #[test]
    fn priority_classes_are_bounded_and_fixed() {
        let ok = json!({"metadata": {"name": "critical-service"}, "value": 1000000, "preemptionPolicy": "PreemptLowerPriority"});
        assert!(validate_priority_class(&ok).is_empty());
        let bad = json!({"metadata": {"name": "system-mine"}, "value": 2000000000, "preemptionPolicy": "Always"});
        let fields = validate_priority_class(&bad)
            .into_iter()
            .map(|c| c.field)
            .collect::<Vec<_>>();
        assert_eq!(fields, vec!["metadata.name", "value", "preemptionPolicy"]);
        let mut changed = ok.clone();
        changed["value"] = json!(5);
        assert_eq!(
            validate_priority_class_update(&changed, &ok)[0].message,
            "Forbidden: may not be changed in an update."
        );
    }
}
