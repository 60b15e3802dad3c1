//! The Priority admission plugin: a pod's `priorityClassName` (or the cluster's `globalDefault`
//! class) becomes `spec.priority` and `spec.preemptionPolicy` when it is created; an unknown
//! class is refused with 403 Forbidden, as upstream.

use bulwark_core::priority::{PriorityClasses, PriorityError};
use serde_json::{Value, json};

use crate::ApiServer;
use bulwark_core::error::ApiError;

use crate::object;

/// Every PriorityClass the cache holds.
fn classes(server: &ApiServer) -> PriorityClasses {
    let mut classes = PriorityClasses::default();
    let Some(info) = bulwark_core::resource::find("scheduling.k8s.io", "v1", "priorityclasses")
    else {
        return classes;
    };
    for entry in server.cache.snapshot(info).objects.values() {
        let class = entry.value();
        let Some(name) = object::name(&class) else {
            continue;
        };
        let value = class["value"].as_i64().unwrap_or(0);
        classes.upsert(
            name,
            i32::try_from(value).unwrap_or(0),
            class["globalDefault"].as_bool().unwrap_or(false),
            class["preemptionPolicy"].as_str(),
        );
    }
    classes
}

/// Resolves a new pod's priority into its spec.
pub fn admit(server: &ApiServer, pod: &mut Value) -> Result<(), ApiError> {
    admit_with(&classes(server), pod)
}

/// [`admit`] against a given set of classes.
pub fn admit_with(classes: &PriorityClasses, pod: &mut Value) -> Result<(), ApiError> {
    let name = object::name(pod).unwrap_or_default().to_string();
    let forbidden =
        |why: String| ApiError::forbidden(format!("pods \"{name}\" is forbidden: {why}"));
    let requested = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let resolved = classes
        .resolve(requested.as_deref())
        .map_err(|error: PriorityError| forbidden(error.to_string()))?;
    let given = pod.pointer("/spec/priority").and_then(Value::as_i64);
    if given.is_some_and(|given| given != i64::from(resolved.value)) {
        // Upstream: a client may not choose its own priority.
        return Err(forbidden(format!(
            "the integer value of priority ({}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
            given.unwrap_or_default(),
            resolved.value
        )));
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if let Some(class) = resolved.class_name {
        spec.insert("priorityClassName".into(), json!(class));
    }
    spec.insert("priority".into(), json!(resolved.value));
    match spec.get("preemptionPolicy").and_then(Value::as_str) {
        Some(given) if given != resolved.preemption_policy => Err(forbidden(format!(
            "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
            resolved.preemption_policy
        ))),
        _ => {
            spec.insert("preemptionPolicy".into(), json!(resolved.preemption_policy));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    fn critical() -> PriorityClasses {
        let mut classes = PriorityClasses::default();
        classes.upsert("critical-service", 1_000_000, false, None);
        classes
    }

    #[test]
    fn a_named_class_sets_priority_and_policy() {
        let mut pod = pod(json!({"priorityClassName": "critical-service"}));
        admit_with(&critical(), &mut pod).expect("admitted");
        assert_eq!(pod["spec"]["priority"], 1_000_000);
        assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    }

    #[test]
    fn no_class_means_the_global_default_or_zero() {
        let mut plain = pod(json!({}));
        admit_with(&critical(), &mut plain).expect("admitted");
        assert_eq!(plain["spec"]["priority"], 0);
        assert!(plain["spec"].get("priorityClassName").is_none());
        let mut classes = critical();
        classes.upsert("everyday", 100, true, Some("Never"));
        let mut defaulted = pod(json!({}));
        admit_with(&classes, &mut defaulted).expect("admitted");
        assert_eq!(defaulted["spec"]["priorityClassName"], "everyday");
        assert_eq!(defaulted["spec"]["priority"], 100);
        assert_eq!(defaulted["spec"]["preemptionPolicy"], "Never");
    }

    #[test]
    fn an_unknown_class_is_forbidden_with_upstreams_message() {
        let mut pod = pod(json!({"priorityClassName": "gold"}));
        let error = admit_with(&critical(), &mut pod).expect_err("refused");
        assert_eq!(error.code, 403);
        assert_eq!(
            error.message,
            "pods \"p\" is forbidden: no PriorityClass with name gold was found"
        );
    }

    #[test]
    fn a_priority_of_the_clients_choosing_is_forbidden_unless_it_agrees() {
        let mut agreeing =
            pod(json!({"priorityClassName": "critical-service", "priority": 1_000_000}));
        admit_with(&critical(), &mut agreeing).expect("admitted");
        let mut chosen = pod(json!({"priority": 5}));
        let error = admit_with(&critical(), &mut chosen).expect_err("refused");
        assert_eq!(error.code, 403);
    }
}
