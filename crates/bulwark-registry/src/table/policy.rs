//! ResourceQuotas, PodDisruptionBudgets, PriorityClasses and Leases.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

use super::columns::{AGE, CellType, Column, Description, NAME, field_of};
use super::duration::since;
use super::fields::{at, flag, integer, name, object, optional_text, text, time};
use super::format::int_or_string;

pub(super) const RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Request",
        Description::Text(
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
    ),
    Column::text(
        "Limit",
        Description::Text(
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
    ),
    AGE,
];

pub(super) const POD_DISRUPTION_BUDGET_COLUMNS: &[Column] = &[
    NAME,
    Column::text(
        "Min Available",
        Description::Text("The minimum number of pods that must be available."),
    ),
    Column::text(
        "Max Unavailable",
        Description::Text("The maximum number of pods that may be unavailable."),
    ),
    Column::new(
        "Allowed Disruptions",
        CellType::Integer,
        Description::Text("Calculated number of pods that may be disrupted at this time."),
    ),
    AGE,
];

pub(super) const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Value",
        CellType::Integer,
        field_of::<PriorityClass>("value"),
    ),
    Column::new(
        "Global-Default",
        CellType::Boolean,
        field_of::<PriorityClass>("globalDefault"),
    ),
    AGE,
    // Upstream leaves this one at priority 0, so it shows without -o wide too.
    Column::text(
        "PreemptionPolicy",
        field_of::<PriorityClass>("preemptionPolicy"),
    ),
];

pub(super) const LEASE_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Holder", field_of::<LeaseSpec>("holderIdentity")),
    AGE,
];

fn age(object: &Value, now: Timestamp) -> Value {
    json!(since(time(object, &["metadata", "creationTimestamp"]), now))
}

/// `resource: used/hard` for every hard limit, sorted by resource name; `limits.*` resources go
/// to the LIMIT column and everything else to REQUEST.
pub(super) fn resource_quota_cells(quota: &Value, now: Timestamp) -> Vec<Value> {
    let mut hard: Vec<(&String, &Value)> = object(quota, &["status", "hard"])
        .into_iter()
        .flatten()
        .collect();
    hard.sort_by(|a, b| a.0.cmp(b.0));
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for (resource, hard_quantity) in hard {
        let used = optional_text(quota, &["status", "used", resource.as_str()]).unwrap_or("0");
        let entry = format!(
            "{resource}: {used}/{}",
            hard_quantity.as_str().unwrap_or("0")
        );
        let is_limit = resource
            .split_once('.')
            .is_some_and(|(prefix, _)| prefix == "limits");
        if is_limit {
            limits.push(entry)
        } else {
            requests.push(entry)
        }
    }
    vec![
        json!(name(quota)),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        age(quota, now),
    ]
}

/// `N/A` for an unset bound.
pub(super) fn pod_disruption_budget_cells(budget: &Value, now: Timestamp) -> Vec<Value> {
    let bound =
        |field: &str| at(budget, &["spec", field]).map_or_else(|| "N/A".to_string(), int_or_string);
    vec![
        json!(name(budget)),
        json!(bound("minAvailable")),
        json!(bound("maxUnavailable")),
        json!(integer(budget, &["status", "disruptionsAllowed"])),
        age(budget, now),
    ]
}

pub(super) fn priority_class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(class)),
        json!(integer(class, &["value"])),
        json!(flag(class, &["globalDefault"])),
        age(class, now),
        json!(text(class, &["preemptionPolicy"])),
    ]
}

pub(super) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(lease)),
        json!(text(lease, &["spec", "holderIdentity"])),
        age(lease, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    #[test]
    fn resource_quota_splits_requests_and_limits() {
        let quota = json!({
            "metadata": {"name": "compute", "creationTimestamp": "2025-06-01T10:00:00Z"},
            "status": {
                "hard": {"requests.cpu": "2", "pods": "10", "limits.memory": "4Gi", "limits.cpu": "4"},
                "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}
            }
        });
        assert_eq!(
            resource_quota_cells(&quota, now()),
            vec![
                json!("compute"),
                json!("pods: 3/10, requests.cpu: 500m/2"),
                json!("limits.cpu: 1/4, limits.memory: 0/4Gi"),
                json!("120m")
            ]
        );
        assert_eq!(
            resource_quota_cells(&json!({}), now())[1..3],
            [json!(""), json!("")]
        );
    }

    #[test]
    fn pod_disruption_budget_rows() {
        let budget = json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-06-01T11:00:00Z"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptionsAllowed": 1}
        });
        assert_eq!(
            pod_disruption_budget_cells(&budget, now()),
            vec![
                json!("web"),
                json!("2"),
                json!("N/A"),
                json!(1),
                json!("60m")
            ]
        );
        let percent = json!({"spec": {"maxUnavailable": "25%"}});
        assert_eq!(
            pod_disruption_budget_cells(&percent, now())[1..4],
            [json!("N/A"), json!("25%"), json!(0)]
        );
    }

    #[test]
    fn priority_class_and_lease_rows() {
        let class = json!({"metadata": {"name": "critical", "creationTimestamp": "2025-06-01T11:59:00Z"},
            "value": 1000000, "globalDefault": true, "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            priority_class_cells(&class, now()),
            vec![
                json!("critical"),
                json!(1000000),
                json!(true),
                json!("60s"),
                json!("PreemptLowerPriority")
            ]
        );
        let lease = json!({"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}});
        assert_eq!(
            lease_cells(&lease, now()),
            vec![json!("n1"), json!("n1"), json!("<unknown>")]
        );
    }
}
