//! Formatting helpers several kinds share: labels, label selectors, container lists, booleans.

use serde_json::{Map, Value};

use super::fields::{list, object, text};

/// `labels.FormatLabels`: `k=v` pairs sorted by key and comma separated, `<none>` when empty.
pub(super) fn labels(map: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> = map
        .into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// Upstream's `layoutContainerCells`: container names and images, each comma separated.
pub(super) fn containers(pod_spec: &Value) -> (String, String) {
    let containers = list(pod_spec, &["containers"]);
    let names: Vec<&str> = containers.iter().map(|c| text(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// `printBoolPtr`: `True`, `False` or `<unset>`.
pub(super) fn optional_bool(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// `intstr.IntOrString.String()`.
pub(super) fn int_or_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number
            .as_i64()
            .map_or_else(|| number.to_string(), |n| n.to_string()),
        _ => String::new(),
    }
}

/// A label selector that did not convert (`metav1.LabelSelectorAsSelector` failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InvalidSelector;

/// `metav1.LabelSelectorAsSelector(...).String()`: requirements sorted by key; a missing selector
/// selects nothing and an empty one everything, and both print as the empty string.
pub(super) fn selector_string(selector: Option<&Value>) -> Result<String, InvalidSelector> {
    let Some(selector) = selector else {
        return Ok(String::new());
    };
    if !selector.is_object() {
        return Err(InvalidSelector);
    }
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in object(selector, &["matchLabels"]).into_iter().flatten() {
        let value = value.as_str().ok_or(InvalidSelector)?;
        validate_key(key)?;
        validate_value(value)?;
        requirements.push((key.clone(), format!("{key}={value}")));
    }
    for expression in list(selector, &["matchExpressions"]) {
        let key = text(expression, &["key"]);
        validate_key(key)?;
        requirements.push((key.to_string(), expression_string(expression, key)?));
    }
    // Stable sort by key: upstream sorts requirements by key alone.
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

fn expression_string(expression: &Value, key: &str) -> Result<String, InvalidSelector> {
    let mut values: Vec<&str> = list(expression, &["values"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if values.len() != list(expression, &["values"]).len() {
        return Err(InvalidSelector);
    }
    let operator = match text(expression, &["operator"]) {
        "In" => "in",
        "NotIn" => "notin",
        "Exists" if values.is_empty() => return Ok(key.to_string()),
        "DoesNotExist" if values.is_empty() => return Ok(format!("!{key}")),
        _ => return Err(InvalidSelector),
    };
    if values.is_empty() {
        return Err(InvalidSelector);
    }
    for value in &values {
        validate_value(value)?;
    }
    values.sort_unstable();
    Ok(format!("{key} {operator} ({})", values.join(",")))
}

/// `metav1.FormatLabelSelector`: `<error>` when invalid, `<none>` when it prints empty.
pub(super) fn label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Err(InvalidSelector) => "<error>".to_string(),
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
    }
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
fn validate_key(key: &str) -> Result<(), InvalidSelector> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty() && name.len() <= 63 && is_label_token(name);
    let prefix_ok = prefix.is_none_or(is_dns_subdomain);
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(InvalidSelector)
    }
}

/// A label value: empty, or at most 63 characters of the label-token shape.
fn validate_value(value: &str) -> Result<(), InvalidSelector> {
    if value.is_empty() || (value.len() <= 63 && is_label_token(value)) {
        Ok(())
    } else {
        Err(InvalidSelector)
    }
}

/// Alphanumerics with `-`, `_` and `.` inside.
fn is_label_token(token: &str) -> bool {
    let bytes = token.as_bytes();
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let ends_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    inner_ok && ends_ok
}

/// A lowercase RFC 1123 subdomain of at most 253 characters.
fn is_dns_subdomain(prefix: &str) -> bool {
    prefix.len() <= 253
        && !prefix.is_empty()
        && prefix.split('.').all(|label| {
            let bytes = label.as_bytes();
            let inner_ok = bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            inner_ok && bytes.first().is_some_and(alnum) && bytes.last().is_some_and(alnum)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_print_sorted_pairs_or_none() {
        let map = json!({"b": "2", "a": "1"});
        assert_eq!(labels(map.as_object()), "a=1,b=2");
        assert_eq!(labels(None), "<none>");
    }

    #[test]
    fn selectors_print_requirements_sorted_by_key() {
        let selector = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"}
            ]
        });
        assert_eq!(
            label_selector(Some(&selector)),
            "app=web,!canary,env notin (prod),tier in (a,b),zone"
        );
    }

    #[test]
    fn empty_missing_and_invalid_selectors() {
        assert_eq!(label_selector(None), "<none>");
        assert_eq!(label_selector(Some(&json!({}))), "<none>");
        let bad_operator =
            json!({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["x"]}]});
        assert_eq!(label_selector(Some(&bad_operator)), "<error>");
        let in_without_values = json!({"matchExpressions": [{"key": "a", "operator": "In"}]});
        assert_eq!(
            selector_string(Some(&in_without_values)),
            Err(InvalidSelector)
        );
        let bad_key = json!({"matchLabels": {"-x": "1"}});
        assert_eq!(label_selector(Some(&bad_key)), "<error>");
        let prefixed = json!({"matchLabels": {"app.kubernetes.io/name": "web"}});
        assert_eq!(
            label_selector(Some(&prefixed)),
            "app.kubernetes.io/name=web"
        );
    }

    #[test]
    fn containers_and_scalars() {
        let spec =
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
        assert_eq!(containers(&spec), ("a,b".to_string(), "x,y".to_string()));
        assert_eq!(optional_bool(None), "<unset>");
        assert_eq!(int_or_string(&json!(2)), "2");
        assert_eq!(int_or_string(&json!("50%")), "50%");
    }
}
