//! Namespaces, ConfigMaps, Secrets and ServiceAccounts.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use serde_json::{Value, json};

use super::columns::{AGE, Column, Description, NAME, field_of};
use super::duration::since;
use super::fields::{entry_count, list, name, text, time};

pub(super) const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Status", Description::Text("The status of the namespace")),
    AGE,
];

pub(super) const CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Data", field_of::<ConfigMap>("data")),
    AGE,
];

pub(super) const SECRET_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Type", field_of::<Secret>("type")),
    Column::text("Data", field_of::<Secret>("data")),
    AGE,
];

pub(super) const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Secrets", field_of::<ServiceAccount>("secrets")),
    AGE,
];

fn age(object: &Value, now: Timestamp) -> Value {
    json!(since(time(object, &["metadata", "creationTimestamp"]), now))
}

pub(super) fn namespace_cells(namespace: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(namespace)),
        json!(text(namespace, &["status", "phase"])),
        age(namespace, now),
    ]
}

/// Keys of `data` and `binaryData` together.
pub(super) fn config_map_cells(config_map: &Value, now: Timestamp) -> Vec<Value> {
    let data =
        entry_count(config_map, &["data"]).saturating_add(entry_count(config_map, &["binaryData"]));
    vec![json!(name(config_map)), json!(data), age(config_map, now)]
}

pub(super) fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(secret)),
        json!(text(secret, &["type"])),
        json!(entry_count(secret, &["data"])),
        age(secret, now),
    ]
}

pub(super) fn service_account_cells(account: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(account)),
        json!(list(account, &["secrets"]).len()),
        age(account, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    #[test]
    fn config_kinds_rows() {
        let created = json!({"name": "x", "creationTimestamp": "2025-06-01T11:59:57Z"});
        let namespace = json!({"metadata": created, "status": {"phase": "Terminating"}});
        assert_eq!(
            namespace_cells(&namespace, now()),
            vec![json!("x"), json!("Terminating"), json!("3s")]
        );
        let config_map =
            json!({"metadata": created, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(config_map_cells(&config_map, now())[1], 3);
        let secret = json!({"metadata": created, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            secret_cells(&secret, now())[1..3],
            [json!("kubernetes.io/tls"), json!(2)]
        );
        let account = json!({"metadata": created, "secrets": [{"name": "token"}]});
        assert_eq!(service_account_cells(&account, now())[1], 1);
        assert_eq!(
            secret_cells(&json!({}), now()),
            vec![json!(""), json!(""), json!(0), json!("<unknown>")]
        );
    }
}
