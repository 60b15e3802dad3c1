//! Field paths and causes, worded exactly as apimachinery's `field.Error.ErrorBody()` words them,
//! so a user sees the same `spec.containers[0].image: Required value` as with upstream.

use std::fmt::Write as _;

use bulwark_core::StatusCause;
use serde_json::{Map, Value};

/// A field path such as `spec.containers[0].resources.requests[cpu]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn root(name: &str) -> Self {
        Self(name.to_string())
    }

    /// The empty path, used for causes about the whole object.
    pub fn empty() -> Self {
        Self(String::new())
    }

    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    pub fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    /// Map keys are written unquoted in brackets, as upstream's `Path.Key` does.
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A rejected value, printed the way Go's `%v`/`%q`/`%#v` would print it in upstream messages.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// Printed quoted (`"x"`), as Go prints strings.
    Str(String),
    /// Printed bare (`-1`).
    Int(i64),
    /// Printed verbatim: Stringers (quantities, int-or-string), maps and structs rendered already.
    Raw(String),
}

impl From<&str> for BadValue {
    fn from(value: &str) -> Self {
        Self::Str(value.to_string())
    }
}

impl From<String> for BadValue {
    fn from(value: String) -> Self {
        Self::Str(value)
    }
}

impl From<i64> for BadValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl BadValue {
    fn render(&self) -> String {
        match self {
            Self::Str(text) => go_quote(text),
            Self::Int(number) => number.to_string(),
            Self::Raw(text) => text.clone(),
        }
    }
}

fn with_detail(mut body: String, detail: &str) -> String {
    if !detail.is_empty() {
        body.push_str(": ");
        body.push_str(detail);
    }
    body
}

pub fn required(path: &Path, detail: &str) -> StatusCause {
    StatusCause::new(
        "FieldValueRequired",
        path.as_str(),
        with_detail("Required value".into(), detail),
    )
}

pub fn invalid(path: &Path, value: impl Into<BadValue>, detail: &str) -> StatusCause {
    let body = format!("Invalid value: {}", value.into().render());
    StatusCause::new(
        "FieldValueInvalid",
        path.as_str(),
        with_detail(body, detail),
    )
}

pub fn not_supported(path: &Path, value: impl Into<BadValue>, supported: &[&str]) -> StatusCause {
    let body = format!("Unsupported value: {}", value.into().render());
    let detail = if supported.is_empty() {
        String::new()
    } else {
        let quoted = supported
            .iter()
            .map(|value| go_quote(value))
            .collect::<Vec<_>>();
        format!("supported values: {}", quoted.join(", "))
    };
    StatusCause::new(
        "FieldValueNotSupported",
        path.as_str(),
        with_detail(body, &detail),
    )
}

pub fn duplicate(path: &Path, value: impl Into<BadValue>) -> StatusCause {
    StatusCause::new(
        "FieldValueDuplicate",
        path.as_str(),
        format!("Duplicate value: {}", value.into().render()),
    )
}

pub fn not_found(path: &Path, value: impl Into<BadValue>) -> StatusCause {
    StatusCause::new(
        "FieldValueNotFound",
        path.as_str(),
        format!("Not found: {}", value.into().render()),
    )
}

pub fn forbidden(path: &Path, detail: &str) -> StatusCause {
    StatusCause::new(
        "FieldValueForbidden",
        path.as_str(),
        with_detail("Forbidden".into(), detail),
    )
}

pub fn too_long(path: &Path, max_bytes: usize) -> StatusCause {
    let unit = if max_bytes == 1 { "byte" } else { "bytes" };
    StatusCause::new(
        "FieldValueTooLong",
        path.as_str(),
        format!("Too long: may not be more than {max_bytes} {unit}"),
    )
}

/// `field is immutable`, with the new value shown as upstream shows it.
pub fn immutable(path: &Path, value: impl Into<BadValue>) -> StatusCause {
    invalid(path, value, "field is immutable")
}

/// Go's `strconv.Quote`: printable characters stay, the rest are escaped.
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#v` of a `map[string]string`: keys sorted, values quoted; `(nil)` when absent.
pub fn go_string_map(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map else {
        return "map[string]string(nil)".to_string();
    };
    let mut pairs = map
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str().unwrap_or_default()))
        .collect::<Vec<_>>();
    pairs.sort_unstable();
    let body = pairs
        .iter()
        .map(|(key, value)| format!("{}:{}", go_quote(key), go_quote(value)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("map[string]string{{{body}}}")
}

/// A label selector as upstream prints it in `field is immutable` errors
/// (`v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`).
pub fn go_label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return "nil".to_string();
    };
    let labels = go_string_map(selector.get("matchLabels").and_then(Value::as_object));
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(items) => {
            let rendered = items
                .iter()
                .map(go_requirement)
                .collect::<Vec<_>>()
                .join(", ");
            format!("[]v1.LabelSelectorRequirement{{{rendered}}}")
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

fn go_requirement(requirement: &Value) -> String {
    let key = requirement
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let operator = requirement
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let values = match requirement.get("values").and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(values) => {
            let quoted = values
                .iter()
                .map(|v| go_quote(v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    };
    format!(
        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
        go_quote(key),
        go_quote(operator)
    )
}

/// Any other JSON value shown in a message: strings quoted, numbers bare, the rest as compact JSON.
pub fn json_value(value: Option<&Value>) -> BadValue {
    match value {
        None | Some(Value::Null) => BadValue::Raw("null".to_string()),
        Some(Value::String(text)) => BadValue::Str(text.clone()),
        Some(Value::Number(number)) => BadValue::Raw(number.to_string()),
        Some(Value::Bool(flag)) => BadValue::Raw(flag.to_string()),
        Some(other) => BadValue::Raw(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_render_like_upstream() {
        let path = Path::root("spec")
            .child("containers")
            .index(0)
            .child("resources")
            .child("requests")
            .key("cpu");
        assert_eq!(path.as_str(), "spec.containers[0].resources.requests[cpu]");
    }

    #[test]
    fn causes_render_like_error_body() {
        let path = Path::root("spec").child("restartPolicy");
        let cause = not_supported(&path, "Sometimes", &["Always", "Never", "OnFailure"]);
        assert_eq!(
            cause.message,
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\", \"OnFailure\""
        );
        assert_eq!(required(&path, "").message, "Required value");
        assert_eq!(
            invalid(&path, -1, "must be greater than or equal to 0").message,
            "Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            too_long(&path, 262144).message,
            "Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn go_quote_escapes_like_strconv() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(go_quote("héllo"), "\"héllo\"");
    }

    #[test]
    fn maps_and_selectors_render_like_go() {
        let labels = json!({"b": "2", "a": "1"});
        assert_eq!(
            go_string_map(labels.as_object()),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        let selector = json!({"matchLabels": {"app": "web"}});
        assert_eq!(
            go_label_selector(Some(&selector)),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
    }
}
