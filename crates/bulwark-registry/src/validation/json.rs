//! Tolerant readers over JSON objects: a field of the wrong type reads as absent, so validation
//! never panics on odd input (strict decoding reports type errors before we run).

use serde_json::{Map, Value};

pub fn object<'a>(value: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    value.get(key).and_then(Value::as_object)
}

pub fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub fn string<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A string field where empty means unset, as with Go's zero-valued strings.
pub fn non_empty<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    string(value, key).filter(|s| !s.is_empty())
}

pub fn integer(value: &Value, key: &str) -> Option<i64> {
    value.get(key).and_then(Value::as_i64)
}

pub fn boolean(value: &Value, key: &str) -> Option<bool> {
    value.get(key).and_then(Value::as_bool)
}

/// Whether `key` holds something other than null.
pub fn present(value: &Value, key: &str) -> bool {
    value.get(key).is_some_and(|v| !v.is_null())
}

/// A `map[string]string` as sorted pairs; non-string values read as empty strings.
pub fn string_pairs(map: Option<&Map<String, Value>>) -> Vec<(&str, &str)> {
    let mut pairs = map
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    pairs.sort_unstable();
    pairs
}

/// An `IntOrString` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrString<'a> {
    Int(i64),
    Str(&'a str),
}

impl IntOrString<'_> {
    /// How upstream prints an `IntOrString` (its `String()`: bare, never quoted).
    pub fn display(&self) -> String {
        match self {
            Self::Int(number) => number.to_string(),
            Self::Str(text) => (*text).to_string(),
        }
    }
}

pub fn int_or_string<'a>(value: &'a Value, key: &str) -> Option<IntOrString<'a>> {
    match value.get(key)? {
        Value::Number(number) => number.as_i64().map(IntOrString::Int),
        Value::String(text) => Some(IntOrString::Str(text)),
        _ => None,
    }
}
