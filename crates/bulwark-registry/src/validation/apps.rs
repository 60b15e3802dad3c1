//! `apps/v1` workloads (apps/validation): Deployments, ReplicaSets and DaemonSets share the
//! selector/template contract; each adds its own rollout settings.

use bulwark_core::StatusCause;
use serde_json::Value;

use super::field::{self, BadValue, Path};
use super::json::{self, IntOrString};
use super::meta;
use super::names;
use super::pod;

/// Which workload a shared check speaks for (it changes a few messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Deployment,
    ReplicaSet,
    DaemonSet,
}

pub fn validate_deployment(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    for key in [
        "replicas",
        "minReadySeconds",
        "revisionHistoryLimit",
        "progressDeadlineSeconds",
    ] {
        causes.extend(meta::non_negative(spec, key, &path.child(key)));
    }
    causes.extend(selector_and_template(spec, &path, Workload::Deployment));
    causes.extend(deployment_strategy(
        spec.get("strategy").unwrap_or(&null),
        &path.child("strategy"),
    ));
    if let Some(deadline) = json::integer(spec, "progressDeadlineSeconds")
        && deadline <= json::integer(spec, "minReadySeconds").unwrap_or(0)
    {
        causes.push(field::invalid(
            &path.child("progressDeadlineSeconds"),
            deadline,
            "must be greater than minReadySeconds",
        ));
    }
    causes
}

pub fn validate_replica_set(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    for key in ["replicas", "minReadySeconds"] {
        causes.extend(meta::non_negative(spec, key, &path.child(key)));
    }
    causes.extend(selector_and_template(spec, &path, Workload::ReplicaSet));
    causes
}

pub fn validate_daemon_set(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = selector_and_template(spec, &path, Workload::DaemonSet);
    for key in [
        "minReadySeconds",
        "templateGeneration",
        "revisionHistoryLimit",
    ] {
        causes.extend(meta::non_negative(spec, key, &path.child(key)));
    }
    causes.extend(daemon_set_strategy(
        spec.get("updateStrategy").unwrap_or(&null),
        &path.child("updateStrategy"),
    ));
    causes
}

/// The selector is immutable in `apps/v1` for all three workloads.
pub fn validate_selector_unchanged(new: &Value, old: &Value) -> Vec<StatusCause> {
    let new_selector = new.get("spec").and_then(|s| s.get("selector"));
    let old_selector = old.get("spec").and_then(|s| s.get("selector"));
    if new_selector == old_selector {
        return Vec::new();
    }
    vec![field::immutable(
        &Path::root("spec").child("selector"),
        BadValue::Raw(field::go_label_selector(new_selector)),
    )]
}

/// Selector required and non-empty, template labels selected, template valid, pods restart always.
fn selector_and_template(spec: &Value, path: &Path, workload: Workload) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let selector = spec.get("selector").filter(|s| s.is_object());
    let template = spec.get("template").filter(|t| t.is_object());
    let template_path = path.child("template");
    match selector {
        None => causes.push(field::required(&path.child("selector"), "")),
        Some(selector) => {
            causes.extend(meta::validate_label_selector(
                selector,
                &path.child("selector"),
            ));
            if meta::selector_is_empty(selector) {
                let noun = if workload == Workload::DaemonSet {
                    "daemonset"
                } else {
                    "deployment"
                };
                causes.push(field::invalid(
                    &path.child("selector"),
                    BadValue::Raw(field::go_label_selector(Some(selector))),
                    &format!("empty selector is invalid for {noun}"),
                ));
            } else if template.is_some()
                && !meta::selector_matches(selector, pod::template_labels(template))
            {
                causes.push(field::invalid(
                    &template_path.child("metadata").child("labels"),
                    BadValue::Raw(field::go_string_map(pod::template_labels(template))),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    causes.extend(pod::validate_pod_template(template, &template_path));
    if let Some(template) = template {
        let null = Value::Null;
        let pod_spec = template.get("spec").unwrap_or(&null);
        let spec_path = template_path.child("spec");
        let restart_policy = json::string(pod_spec, "restartPolicy").unwrap_or_default();
        if !restart_policy.is_empty() && restart_policy != "Always" {
            causes.push(field::not_supported(
                &spec_path.child("restartPolicy"),
                restart_policy,
                &["Always"],
            ));
        }
        if let Some(deadline) = json::integer(pod_spec, "activeDeadlineSeconds") {
            let owner = if workload == Workload::DaemonSet {
                "DaemonSet"
            } else {
                "ReplicaSet"
            };
            causes.push(field::invalid(
                &spec_path.child("activeDeadlineSeconds"),
                deadline,
                &format!("activeDeadlineSeconds in {owner} is not Supported"),
            ));
        }
    }
    causes
}

fn deployment_strategy(strategy: &Value, path: &Path) -> Vec<StatusCause> {
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match json::string(strategy, "type").unwrap_or_default() {
        "Recreate" if rolling.is_some() => {
            vec![field::forbidden(
                &path.child("rollingUpdate"),
                "may not be specified when strategy `type` is 'Recreate'",
            )]
        }
        "Recreate" => Vec::new(),
        "RollingUpdate" => match rolling {
            None => vec![field::required(
                &path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )],
            Some(rolling) => rolling_update(rolling, &path.child("rollingUpdate")),
        },
        "" => vec![field::required(&path.child("type"), "")],
        other => vec![field::not_supported(
            &path.child("type"),
            other,
            &["Recreate", "RollingUpdate"],
        )],
    }
}

fn daemon_set_strategy(strategy: &Value, path: &Path) -> Vec<StatusCause> {
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match json::string(strategy, "type").unwrap_or_default() {
        "OnDelete" => Vec::new(),
        "RollingUpdate" => match rolling {
            None => vec![field::required(&path.child("rollingUpdate"), "")],
            Some(rolling) => rolling_update(rolling, &path.child("rollingUpdate")),
        },
        "" => vec![field::required(&path.child("type"), "")],
        other => vec![field::not_supported(
            &path.child("type"),
            other,
            &["OnDelete", "RollingUpdate"],
        )],
    }
}

/// maxUnavailable and maxSurge: non-negative ints or percents, at most 100%, not both zero.
fn rolling_update(rolling: &Value, path: &Path) -> Vec<StatusCause> {
    let max_unavailable = json::int_or_string(rolling, "maxUnavailable");
    let max_surge = json::int_or_string(rolling, "maxSurge");
    let mut causes = Vec::new();
    if let Some(value) = max_unavailable {
        causes.extend(positive_int_or_percent(
            value,
            &path.child("maxUnavailable"),
        ));
        causes.extend(not_more_than_100_percent(
            value,
            &path.child("maxUnavailable"),
        ));
    }
    if let Some(value) = max_surge {
        causes.extend(positive_int_or_percent(value, &path.child("maxSurge")));
    }
    let is_zero =
        |value: Option<IntOrString<'_>>| value.is_none_or(|v| int_or_percent_value(v) == Some(0));
    if max_unavailable.is_some() && is_zero(max_unavailable) && is_zero(max_surge) {
        let shown = max_unavailable.map(|v| v.display()).unwrap_or_default();
        causes.push(field::invalid(
            &path.child("maxUnavailable"),
            BadValue::Raw(shown),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    causes
}

/// The number an int-or-percent stands for (`25%` → 25).
pub fn int_or_percent_value(value: IntOrString<'_>) -> Option<i64> {
    match value {
        IntOrString::Int(number) => Some(number),
        IntOrString::Str(text) => text
            .strip_suffix('%')
            .and_then(|digits| digits.parse().ok()),
    }
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a `N%` string.
pub fn positive_int_or_percent(value: IntOrString<'_>, path: &Path) -> Vec<StatusCause> {
    match value {
        IntOrString::Int(number) if number < 0 => vec![field::invalid(
            path,
            number,
            "must be greater than or equal to 0",
        )],
        IntOrString::Int(_) => Vec::new(),
        IntOrString::Str(text) => {
            let mut causes = names::percent_errors(text)
                .iter()
                .map(|message| field::invalid(path, text, message))
                .collect::<Vec<_>>();
            if causes.is_empty() && int_or_percent_value(value).is_some_and(|v| v < 0) {
                causes.push(field::invalid(
                    path,
                    text,
                    "must be greater than or equal to 0",
                ));
            }
            causes
        }
    }
}

/// `IsNotMoreThan100Percent`.
pub fn not_more_than_100_percent(value: IntOrString<'_>, path: &Path) -> Vec<StatusCause> {
    match value {
        IntOrString::Str(text) if int_or_percent_value(value).is_some_and(|v| v > 100) => {
            vec![field::invalid(
                path,
                BadValue::Raw(text.to_string()),
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                        "containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]
                    }
                }
            }
        })
    }

    #[test]
    fn a_defaulted_deployment_is_valid() {
        assert_eq!(validate_deployment(&deployment()), vec![]);
    }

    #[test]
    fn selector_must_match_template_labels() {
        let mut bad = deployment();
        bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
        let causes = validate_deployment(&bad);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.template.metadata.labels");
        assert_eq!(
            causes[0].message,
            "Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
        );
    }

    #[test]
    fn selector_is_required_and_not_empty() {
        let mut bad = deployment();
        bad["spec"]["selector"] = Value::Null;
        assert_eq!(validate_deployment(&bad)[0].field, "spec.selector");
        bad["spec"]["selector"] = json!({});
        let causes = validate_deployment(&bad);
        assert!(
            causes[0]
                .message
                .ends_with("empty selector is invalid for deployment")
        );
    }

    #[test]
    fn replicas_and_strategy_are_checked() {
        let mut bad = deployment();
        bad["spec"]["replicas"] = json!(-1);
        bad["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": "0%"});
        let causes = validate_deployment(&bad);
        let fields = causes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>();
        assert_eq!(
            fields,
            vec![
                "spec.replicas",
                "spec.strategy.rollingUpdate.maxUnavailable"
            ]
        );
        assert_eq!(
            causes[1].message,
            "Invalid value: 0: may not be 0 when `maxSurge` is 0"
        );
        bad["spec"]["replicas"] = json!(1);
        bad["spec"]["strategy"] = json!({"type": "Blue"});
        assert_eq!(
            validate_deployment(&bad)[0].message,
            "Unsupported value: \"Blue\": supported values: \"Recreate\", \"RollingUpdate\""
        );
        bad["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "x"}});
        assert_eq!(validate_deployment(&bad).len(), 2);
    }

    #[test]
    fn template_must_restart_always() {
        let mut bad = deployment();
        bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        let causes = validate_deployment(&bad);
        assert_eq!(causes[0].field, "spec.template.spec.restartPolicy");
        assert_eq!(
            causes[0].message,
            "Unsupported value: \"Never\": supported values: \"Always\""
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = deployment();
        let mut new = deployment();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web2"}});
        let causes = validate_selector_unchanged(&new, &old);
        assert_eq!(
            causes[0].message,
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        );
    }

    #[test]
    fn daemon_sets_check_update_strategy() {
        let mut daemon_set = deployment();
        daemon_set["spec"]
            .as_object_mut()
            .map(|s| s.remove("strategy"));
        daemon_set["spec"]
            .as_object_mut()
            .map(|s| s.remove("replicas"));
        daemon_set["spec"]
            .as_object_mut()
            .map(|s| s.remove("progressDeadlineSeconds"));
        daemon_set["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
        assert_eq!(validate_daemon_set(&daemon_set), vec![]);
        daemon_set["spec"]["updateStrategy"] = json!({"type": "Sometimes"});
        assert_eq!(
            validate_daemon_set(&daemon_set)[0].field,
            "spec.updateStrategy.type"
        );
    }
}
