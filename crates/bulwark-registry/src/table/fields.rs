//! Lenient reads from JSON objects of any shape.
//!
//! Upstream prints typed objects, where an absent field is Go's zero value. Objects reach us as
//! JSON, so a missing, `null` or wrongly typed field reads here as that zero value (or `None`)
//! instead of failing: a table must print whatever the store holds.

use jiff::Timestamp;
use serde_json::{Map, Value};

/// The value at `path`, if every step is an object holding the next key and the end is not null.
pub(super) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let found = path
        .iter()
        .try_fold(value, |current, key| current.as_object()?.get(*key))?;
    (!found.is_null()).then_some(found)
}

/// A string field, or `""` (Go's zero value) when absent or not a string.
pub(super) fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).and_then(Value::as_str).unwrap_or("")
}

/// A string field, or `None` when absent or not a string (a Go `*string`).
pub(super) fn optional_text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// An integer field, or `None` when absent or not an integer (a Go `*int32`).
pub(super) fn optional_integer(value: &Value, path: &[&str]) -> Option<i64> {
    at(value, path).and_then(Value::as_i64)
}

/// An integer field, or 0 when absent or not an integer.
pub(super) fn integer(value: &Value, path: &[&str]) -> i64 {
    optional_integer(value, path).unwrap_or(0)
}

/// A boolean field, or `None` when absent or not a boolean (a Go `*bool`).
pub(super) fn optional_flag(value: &Value, path: &[&str]) -> Option<bool> {
    at(value, path).and_then(Value::as_bool)
}

/// A boolean field, or `false` when absent or not a boolean.
pub(super) fn flag(value: &Value, path: &[&str]) -> bool {
    optional_flag(value, path).unwrap_or(false)
}

/// An array field, or an empty slice when absent or not an array.
pub(super) fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An object field, or `None` when absent or not an object (a Go pointer to a struct).
pub(super) fn object<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(value, path).and_then(Value::as_object)
}

/// The number of entries of a map field (`len(obj.Data)` upstream), 0 when absent.
pub(super) fn entry_count(value: &Value, path: &[&str]) -> usize {
    object(value, path).map_or(0, Map::len)
}

/// A `metav1.Time` or `metav1.MicroTime` field. `None` is Go's zero time: absent, unparseable,
/// or the literal zero instant `0001-01-01T00:00:00Z` that Go clients sometimes serialize.
pub(super) fn time(value: &Value, path: &[&str]) -> Option<Timestamp> {
    let parsed: Timestamp = optional_text(value, path)?.parse().ok()?;
    (parsed != go_zero_time()).then_some(parsed)
}

fn go_zero_time() -> Timestamp {
    // -62135596800 is 0001-01-01T00:00:00Z, Go's `time.Time{}`; it is within jiff's range.
    Timestamp::from_second(-62_135_596_800).unwrap_or(Timestamp::MIN)
}

/// The object's `metadata.name`.
pub(super) fn name(value: &Value) -> &str {
    text(value, &["metadata", "name"])
}

/// Whether `metadata.deletionTimestamp` is set (upstream tests the pointer, not its value).
pub(super) fn is_deleting(value: &Value) -> bool {
    at(value, &["metadata", "deletionTimestamp"]).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_nested_fields_and_falls_back_to_zero_values() {
        let value = json!({"a": {"b": "x", "n": 3, "t": true, "l": [1], "z": null}});
        assert_eq!(text(&value, &["a", "b"]), "x");
        assert_eq!(text(&value, &["a", "n"]), "");
        assert_eq!(integer(&value, &["a", "n"]), 3);
        assert_eq!(integer(&value, &["a", "b"]), 0);
        assert!(flag(&value, &["a", "t"]));
        assert_eq!(list(&value, &["a", "l"]).len(), 1);
        assert!(list(&value, &["a", "b", "c"]).is_empty());
        assert!(at(&value, &["a", "z"]).is_none());
    }

    #[test]
    fn zero_and_unparseable_times_read_as_absent() {
        let value = json!({"a": "0001-01-01T00:00:00Z", "b": "nope", "c": "2024-05-01T10:00:00Z"});
        assert_eq!(time(&value, &["a"]), None);
        assert_eq!(time(&value, &["b"]), None);
        assert!(time(&value, &["c"]).is_some());
    }
}
