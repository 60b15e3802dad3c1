//! ConfigMaps and Secrets: key formats, size bounds, type-specific required keys, and the
//! `immutable: true` contract.

use std::collections::BTreeSet;

use bulwark_core::StatusCause;
use serde_json::{Map, Value};

use super::field::{self, Path};
use super::json;
use super::names;

/// 1 MiB: the most a ConfigMap or Secret may hold (what etcd accepts comfortably).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

fn keys(map: Option<&Map<String, Value>>, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for key in map.into_iter().flat_map(Map::keys) {
        for message in names::config_map_key_errors(key) {
            causes.push(field::invalid(&path.key(key), key.as_str(), &message));
        }
    }
    causes
}

/// Bytes a base64 text decodes to (padding excluded).
fn decoded_len(text: &str) -> usize {
    let trimmed = text.trim_end_matches('=');
    trimmed.len().saturating_mul(3) / 4
}

pub fn validate_config_map(object: &Value) -> Vec<StatusCause> {
    let data = json::object(object, "data");
    let binary = json::object(object, "binaryData");
    let mut causes = keys(data, &Path::root("data"));
    causes.extend(keys(binary, &Path::root("binaryData")));
    let data_keys = data
        .map(|d| d.keys().collect::<BTreeSet<_>>())
        .unwrap_or_default();
    for key in binary.into_iter().flat_map(Map::keys) {
        if data_keys.contains(key) {
            causes.push(field::invalid(
                &Path::root("binaryData").key(key),
                key.as_str(),
                "duplicate of key present in data",
            ));
        }
    }
    let text_bytes = data
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum::<usize>();
    let binary_bytes = binary
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, decoded_len))
        .sum::<usize>();
    if text_bytes.saturating_add(binary_bytes) > MAX_DATA_BYTES {
        causes.push(field::too_long(&Path::empty(), MAX_DATA_BYTES));
    }
    causes
}

pub fn validate_secret(object: &Value) -> Vec<StatusCause> {
    let data = json::object(object, "data");
    let string_data = json::object(object, "stringData");
    let data_path = Path::root("data");
    let mut causes = keys(data, &data_path);
    causes.extend(keys(string_data, &Path::root("stringData")));
    let has_key = |key: &str| {
        data.is_some_and(|d| d.contains_key(key))
            || string_data.is_some_and(|d| d.contains_key(key))
    };
    let required_keys: &[&str] = match json::string(object, "type").unwrap_or("Opaque") {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    };
    for key in required_keys.iter().filter(|key| !has_key(key)) {
        causes.push(field::required(&data_path.key(key), ""));
    }
    match json::string(object, "type") {
        Some("kubernetes.io/service-account-token") => {
            let annotation = "kubernetes.io/service-account.name";
            let named = object
                .get("metadata")
                .and_then(|m| json::object(m, "annotations"))
                .and_then(|a| a.get(annotation))
                .and_then(Value::as_str)
                .is_some_and(|name| !name.is_empty());
            if !named {
                causes.push(field::required(
                    &Path::root("metadata").child("annotations").key(annotation),
                    "",
                ));
            }
        }
        Some("kubernetes.io/basic-auth") if !has_key("username") && !has_key("password") => {
            causes.push(field::required(&data_path.key("username"), ""));
            causes.push(field::required(&data_path.key("password"), ""));
        }
        _ => {}
    }
    let total = data
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, decoded_len))
        .sum::<usize>()
        + string_data
            .into_iter()
            .flatten()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum::<usize>();
    if total > MAX_DATA_BYTES {
        causes.push(field::too_long(&data_path, MAX_DATA_BYTES));
    }
    causes
}

/// An immutable ConfigMap or Secret keeps its data and stays immutable; a Secret keeps its type.
pub fn validate_update(new: &Value, old: &Value, data_fields: &[&str]) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    if data_fields.contains(&"stringData") && new.get("type") != old.get("type") {
        let old_type = json::string(old, "type").unwrap_or("Opaque");
        let new_type = json::string(new, "type").unwrap_or("Opaque");
        if old_type != new_type {
            causes.push(field::immutable(&Path::root("type"), new_type));
        }
    }
    if json::boolean(old, "immutable") != Some(true) {
        return causes;
    }
    if json::boolean(new, "immutable") != Some(true) {
        causes.push(field::forbidden(
            &Path::root("immutable"),
            "field is immutable when `immutable` is set",
        ));
    }
    for key in data_fields.iter().filter(|key| **key != "stringData") {
        let empty = |v: Option<&Value>| {
            v.is_none_or(|v| v.is_null() || v.as_object().is_some_and(Map::is_empty))
        };
        let (new_value, old_value) = (new.get(*key), old.get(*key));
        let changed = !(empty(new_value) && empty(old_value)) && new_value != old_value;
        if changed
            || (*key == "data" && json::object(new, "stringData").is_some_and(|m| !m.is_empty()))
        {
            causes.push(field::forbidden(
                &Path::root(key),
                "field is immutable when `immutable` is set",
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_map_keys_are_checked() {
        let ok = json!({"data": {"app.properties": "x=1"}, "binaryData": {"logo.png": "AAEC"}});
        assert!(validate_config_map(&ok).is_empty());
        let bad = json!({"data": {"a/b": "x", "k": "v"}, "binaryData": {"k": "AA=="}});
        let fields = validate_config_map(&bad)
            .into_iter()
            .map(|c| c.field)
            .collect::<Vec<_>>();
        assert_eq!(fields, vec!["data[a/b]", "binaryData[k]"]);
    }

    #[test]
    fn config_maps_are_bounded() {
        let bad = json!({"data": {"big": "x".repeat(MAX_DATA_BYTES)}});
        assert_eq!(validate_config_map(&bad)[0].reason, "FieldValueTooLong");
    }

    #[test]
    fn secret_types_require_their_keys() {
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "QQ=="}});
        let causes = validate_secret(&tls);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "data[tls.key]");
        let token =
            json!({"type": "kubernetes.io/service-account-token", "metadata": {"name": "t"}});
        assert_eq!(
            validate_secret(&token)[0].field,
            "metadata.annotations[kubernetes.io/service-account.name]"
        );
        assert!(
            validate_secret(&json!({"type": "Opaque", "data": {"password": "cGFzcw=="}}))
                .is_empty()
        );
    }

    #[test]
    fn immutable_objects_keep_their_data() {
        let old = json!({"immutable": true, "data": {"k": "v"}});
        let mut new = old.clone();
        assert!(validate_update(&new, &old, &["data", "binaryData"]).is_empty());
        new["data"]["k"] = json!("w");
        let causes = validate_update(&new, &old, &["data", "binaryData"]);
        assert_eq!(
            causes[0].message,
            "Forbidden: field is immutable when `immutable` is set"
        );
        new["immutable"] = json!(false);
        assert_eq!(
            validate_update(&new, &old, &["data", "binaryData"]).len(),
            2
        );
    }

    #[test]
    fn secret_type_is_immutable() {
        let old = json!({"type": "Opaque"});
        let new = json!({"type": "kubernetes.io/tls"});
        assert_eq!(
            validate_update(&new, &old, &["data", "stringData"])[0].field,
            "type"
        );
    }
}
