//! JSON merge patch (RFC 7386), the `application/merge-patch+json` patch type.
//!
//! A patch object is merged key by key into the target; `null` removes a key;
//! anything that is not an object (arrays included) replaces the target value.

use serde_json::{Map, Value};

/// Applies a JSON merge patch to `document` and returns the result.
///
/// Total: every pair of values has a result, as RFC 7386 defines it.
pub fn apply(document: &Value, patch: &Value) -> Value {
    let mut result = document.clone();
    merge_into(&mut result, patch);
    result
}

/// Applies `patch` to `target` in place.
pub fn merge_into(target: &mut Value, patch: &Value) {
    let Value::Object(patch_members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_members) = target else {
        return;
    };
    for (key, patch_value) in patch_members {
        if patch_value.is_null() {
            target_members.remove(key);
            continue;
        }
        let slot = target_members.entry(key.clone()).or_insert(Value::Null);
        merge_into(slot, patch_value);
    }
}

/// Computes a merge patch that turns `original` into `modified`.
///
/// Exact when `modified` holds no `null` inside objects (merge patch cannot
/// express "set to null"); used by tests and by callers that need a minimal diff.
pub fn create(original: &Value, modified: &Value) -> Value {
    let (Value::Object(original_members), Value::Object(modified_members)) = (original, modified)
    else {
        return modified.clone();
    };
    let mut patch = Map::new();
    for key in original_members.keys() {
        if !modified_members.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    for (key, modified_value) in modified_members {
        match original_members.get(key) {
            Some(original_value) if original_value == modified_value => {}
            Some(original_value) => {
                patch.insert(key.clone(), create(original_value, modified_value));
            }
            None => {
                patch.insert(key.clone(), create(&Value::Null, modified_value));
            }
        }
    }
    Value::Object(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7386 appendix A, every row: (target, patch, result).
    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(apply(&target, &patch), expected, "patch {patch}");
        }
    }

    #[test]
    fn create_emits_nulls_for_removed_keys() {
        let original = json!({"a": 1, "b": {"c": 2, "d": 3}});
        let modified = json!({"b": {"c": 2}, "e": [1]});
        let patch = create(&original, &modified);
        assert_eq!(patch, json!({"a": null, "b": {"d": null}, "e": [1]}));
        assert_eq!(apply(&original, &patch), modified);
    }
}
