//! JSON patch (RFC 6902), the `application/json-patch+json` patch type.
//!
//! Operations apply in order to a copy of the document; the first failing
//! operation aborts the whole patch and the error names its index and path.
//! Kubernetes answers such failures with 422 (or 400 for a malformed patch).

use serde_json::{Map, Value};

/// The most operations one patch may carry (the Kubernetes API server's bound).
pub const MAX_OPERATIONS: usize = 10_000;

/// The most bytes (approximately, as serialized) all `copy` operations of one
/// patch may duplicate; without it a few thousand copies could double the
/// document each time.
pub const MAX_COPIED_BYTES: usize = 16 * 1024 * 1024;

/// Why a JSON patch was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonPatchError {
    /// The patch is not a JSON array.
    #[error("a JSON patch must be a JSON array of operations, got {found}")]
    NotAnArray {
        /// The JSON type that was sent instead.
        found: &'static str,
    },
    /// The patch exceeds [`MAX_OPERATIONS`].
    #[error("the JSON patch has {count} operations; at most {limit} are allowed")]
    TooManyOperations {
        /// Operations sent.
        count: usize,
        /// The bound.
        limit: usize,
    },
    /// One operation failed.
    #[error("JSON patch operation {index} ({op} {path:?}): {failure}")]
    Operation {
        /// Zero-based position of the operation in the patch.
        index: usize,
        /// Its `op` member (empty when missing).
        op: String,
        /// Its `path` member (empty when missing).
        path: String,
        /// What went wrong.
        failure: OperationFailure,
    },
}

impl JsonPatchError {
    /// Whether the patch itself is malformed (HTTP 400) rather than
    /// inapplicable to this document (HTTP 422).
    pub fn is_malformed(&self) -> bool {
        match self {
            JsonPatchError::NotAnArray { .. } | JsonPatchError::TooManyOperations { .. } => true,
            JsonPatchError::Operation { failure, .. } => failure.is_malformed(),
        }
    }
}

/// Why a single operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OperationFailure {
    /// The operation is not a JSON object.
    #[error("an operation must be a JSON object")]
    NotAnObject,
    /// A required member is absent.
    #[error("the member {0:?} is required")]
    MissingMember(&'static str),
    /// A member that must be a string is not.
    #[error("the member {0:?} must be a string")]
    NotAString(&'static str),
    /// `op` is not one of the six RFC 6902 operations.
    #[error("unknown op {0:?}; expected add, remove, replace, move, copy or test")]
    UnknownOp(String),
    /// A JSON pointer is malformed.
    #[error("invalid JSON pointer {pointer:?}: {reason}")]
    InvalidPointer {
        /// The pointer as sent.
        pointer: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A location the operation needs does not exist.
    #[error("the location {pointer:?} does not exist in the document")]
    NotFound {
        /// The pointer (or the prefix of it) that could not be resolved.
        pointer: String,
    },
    /// An array index is not valid for the array it addresses.
    #[error("array index {index:?} is not valid for an array of length {length}")]
    BadIndex {
        /// The segment as sent.
        index: String,
        /// The array's length.
        length: usize,
    },
    /// The parent of the target location is a scalar.
    #[error("the location {pointer:?} is inside a scalar value")]
    NotAContainer {
        /// The pointer that could not be descended into.
        pointer: String,
    },
    /// `move` into one of the moved value's own children.
    #[error("cannot move {from:?} into its own child")]
    MoveIntoChild {
        /// The `from` pointer.
        from: String,
    },
    /// `remove` of the whole document.
    #[error("the whole document cannot be removed")]
    RemoveRoot,
    /// A `test` operation did not match.
    #[error("test failed: the value at the path is {actual}, not {expected}")]
    TestFailed {
        /// The expected value (as sent).
        expected: String,
        /// The value found (or `absent`).
        actual: String,
    },
    /// The `copy` operations together duplicate too much data.
    #[error("copy operations would duplicate more than {limit} bytes")]
    CopyLimit {
        /// The bound.
        limit: usize,
    },
}

impl OperationFailure {
    fn is_malformed(&self) -> bool {
        matches!(
            self,
            OperationFailure::NotAnObject
                | OperationFailure::MissingMember(_)
                | OperationFailure::NotAString(_)
                | OperationFailure::UnknownOp(_)
                | OperationFailure::InvalidPointer { .. }
        )
    }
}

/// Applies an RFC 6902 patch (a JSON array of operations) to `document`.
pub fn apply(document: &Value, patch: &Value) -> Result<Value, JsonPatchError> {
    let Value::Array(operations) = patch else {
        return Err(JsonPatchError::NotAnArray {
            found: type_name(patch),
        });
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(JsonPatchError::TooManyOperations {
            count: operations.len(),
            limit: MAX_OPERATIONS,
        });
    }
    let mut result = document.clone();
    let mut copied_bytes = 0usize;
    for (index, operation) in operations.iter().enumerate() {
        apply_operation(&mut result, operation, &mut copied_bytes).map_err(|failure| {
            JsonPatchError::Operation {
                index,
                op: member_text(operation, "op"),
                path: member_text(operation, "path"),
                failure,
            }
        })?;
    }
    Ok(result)
}

fn member_text(operation: &Value, member: &str) -> String {
    operation
        .get(member)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn apply_operation(
    document: &mut Value,
    operation: &Value,
    copied_bytes: &mut usize,
) -> Result<(), OperationFailure> {
    let Value::Object(members) = operation else {
        return Err(OperationFailure::NotAnObject);
    };
    let op = string_member(members, "op")?;
    let path = Pointer::parse(string_member(members, "path")?)?;
    match op {
        "add" => add(document, &path, value_member(members)?.clone()),
        "remove" => remove(document, &path).map(drop),
        "replace" => replace(document, &path, value_member(members)?.clone()),
        "move" => {
            let from = Pointer::parse(string_member(members, "from")?)?;
            move_value(document, &from, &path)
        }
        "copy" => {
            let from = Pointer::parse(string_member(members, "from")?)?;
            let value = get(document, &from)?.clone();
            *copied_bytes = copied_bytes.saturating_add(approximate_size(&value));
            if *copied_bytes > MAX_COPIED_BYTES {
                return Err(OperationFailure::CopyLimit {
                    limit: MAX_COPIED_BYTES,
                });
            }
            add(document, &path, value)
        }
        "test" => test(document, &path, value_member(members)?),
        other => Err(OperationFailure::UnknownOp(other.to_owned())),
    }
}

fn string_member<'a>(
    members: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, OperationFailure> {
    match members.get(name) {
        None => Err(OperationFailure::MissingMember(name)),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(OperationFailure::NotAString(name)),
    }
}

fn value_member(members: &Map<String, Value>) -> Result<&Value, OperationFailure> {
    members
        .get("value")
        .ok_or(OperationFailure::MissingMember("value"))
}

/// A parsed JSON pointer (RFC 6901): unescaped reference tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    fn parse(text: &str) -> Result<Pointer, OperationFailure> {
        let invalid = |reason| OperationFailure::InvalidPointer {
            pointer: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Ok(Pointer {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(invalid("it must be empty or start with '/'"));
        };
        let tokens = rest
            .split('/')
            .map(unescape_token)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("'~' must be followed by '0' or '1'"))?;
        Ok(Pointer {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pointer text of the first `length` tokens, for error messages.
    fn prefix_text(&self, length: usize) -> String {
        self.tokens
            .iter()
            .take(length)
            .map(|token| format!("/{}", token.replace('~', "~0").replace('/', "~1")))
            .collect()
    }

    fn split_last(&self) -> Option<(&[String], &str)> {
        let (last, parent) = self.tokens.split_last()?;
        Some((parent, last))
    }

    fn is_proper_prefix_of(&self, other: &Pointer) -> bool {
        self.tokens.len() < other.tokens.len() && other.tokens.starts_with(&self.tokens)
    }
}

fn unescape_token(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut characters = token.chars();
    while let Some(character) = characters.next() {
        if character != '~' {
            out.push(character);
            continue;
        }
        match characters.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return None,
        }
    }
    Some(out)
}

/// Parses an array index for reading: decimal digits without leading zeros.
fn parse_index(token: &str, length: usize) -> Result<usize, OperationFailure> {
    let bad = || OperationFailure::BadIndex {
        index: token.to_owned(),
        length,
    };
    let well_formed = !token.is_empty()
        && token.bytes().all(|byte| byte.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if !well_formed {
        return Err(bad());
    }
    let index: usize = token.parse().map_err(|_| bad())?;
    if index >= length {
        return Err(bad());
    }
    Ok(index)
}

fn get<'v>(document: &'v Value, pointer: &Pointer) -> Result<&'v Value, OperationFailure> {
    let mut current = document;
    for (depth, token) in pointer.tokens.iter().enumerate() {
        current = match current {
            Value::Object(members) => members.get(token),
            Value::Array(items) => Some(&items[parse_index(token, items.len())?]),
            _ => None,
        }
        .ok_or_else(|| OperationFailure::NotFound {
            pointer: pointer.prefix_text(depth + 1),
        })?;
    }
    Ok(current)
}

fn get_mut<'v>(
    document: &'v mut Value,
    pointer: &Pointer,
    tokens: &[String],
) -> Result<&'v mut Value, OperationFailure> {
    let mut current = document;
    for (depth, token) in tokens.iter().enumerate() {
        current = match current {
            Value::Object(members) => members.get_mut(token),
            Value::Array(items) => {
                let index = parse_index(token, items.len())?;
                items.get_mut(index)
            }
            _ => None,
        }
        .ok_or_else(|| OperationFailure::NotFound {
            pointer: pointer.prefix_text(depth + 1),
        })?;
    }
    Ok(current)
}

fn add(document: &mut Value, pointer: &Pointer, value: Value) -> Result<(), OperationFailure> {
    let Some((parent_tokens, last)) = pointer.split_last() else {
        *document = value;
        return Ok(());
    };
    match get_mut(document, pointer, parent_tokens)? {
        Value::Object(members) => {
            members.insert(last.to_owned(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                // Inserting at `length` appends, so validate against `length + 1`.
                parse_index(last, items.len() + 1)?
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(OperationFailure::NotAContainer {
            pointer: pointer.prefix_text(parent_tokens.len()),
        }),
    }
}

fn remove(document: &mut Value, pointer: &Pointer) -> Result<Value, OperationFailure> {
    let Some((parent_tokens, last)) = pointer.split_last() else {
        return Err(OperationFailure::RemoveRoot);
    };
    match get_mut(document, pointer, parent_tokens)? {
        Value::Object(members) => members
            .remove(last)
            .ok_or_else(|| OperationFailure::NotFound {
                pointer: pointer.text.clone(),
            }),
        Value::Array(items) => {
            let index = parse_index(last, items.len())?;
            Ok(items.remove(index))
        }
        _ => Err(OperationFailure::NotAContainer {
            pointer: pointer.prefix_text(parent_tokens.len()),
        }),
    }
}

fn replace(document: &mut Value, pointer: &Pointer, value: Value) -> Result<(), OperationFailure> {
    let tokens = pointer.tokens.as_slice();
    *get_mut(document, pointer, tokens)? = value;
    Ok(())
}

fn move_value(document: &mut Value, from: &Pointer, to: &Pointer) -> Result<(), OperationFailure> {
    if from == to {
        // RFC 6902 requires `from` to exist even when nothing moves.
        return get(document, from).map(drop);
    }
    if from.is_proper_prefix_of(to) {
        return Err(OperationFailure::MoveIntoChild {
            from: from.text.clone(),
        });
    }
    let value = remove(document, from)?;
    add(document, to, value)
}

fn test(document: &Value, pointer: &Pointer, expected: &Value) -> Result<(), OperationFailure> {
    let actual = get(document, pointer).ok();
    match actual {
        Some(actual) if json_equal(actual, expected) => Ok(()),
        _ => Err(OperationFailure::TestFailed {
            expected: abbreviate(expected),
            actual: actual.map_or_else(|| "absent".to_owned(), abbreviate),
        }),
    }
}

/// Keeps error messages short when the values are large.
fn abbreviate(value: &Value) -> String {
    const LIMIT: usize = 120;
    let text = value.to_string();
    if text.len() <= LIMIT {
        return text;
    }
    let cut = (0..=LIMIT)
        .rev()
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(0);
    format!("{}…", &text[..cut])
}

/// JSON equality as RFC 6902 `test` defines it: numbers compare by value
/// (`1` equals `1.0`), objects ignore member order.
pub(crate) fn json_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => {
            if let (Some(left), Some(right)) = (left.as_i64(), right.as_i64()) {
                return left == right;
            }
            if let (Some(left), Some(right)) = (left.as_u64(), right.as_u64()) {
                return left == right;
            }
            left.as_f64() == right.as_f64()
        }
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| json_equal(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .all(|(key, left)| right.get(key).is_some_and(|right| json_equal(left, right)))
        }
        _ => left == right,
    }
}

/// Roughly the serialized size of a value, without serializing it.
fn approximate_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(text) => text.len() + 2,
        Value::Array(items) => items.iter().map(approximate_size).sum::<usize>() + 2,
        Value::Object(members) => {
            members
                .iter()
                .map(|(key, value)| key.len() + 4 + approximate_size(value))
                .sum::<usize>()
                + 2
        }
    }
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failure_of(document: Value, patch: Value) -> OperationFailure {
        match apply(&document, &patch) {
            Err(JsonPatchError::Operation { failure, .. }) => failure,
            other => panic!("expected an operation failure, got {other:?}"),
        }
    }

    // RFC 6902 appendix A.1 to A.16 (A.11 "ignoring unrecognized elements" included).
    #[test]
    fn rfc6902_appendix_a_successes() {
        let cases = [
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/baz","value":"qux"}]),
                json!({"baz":"qux","foo":"bar"}),
            ),
            (
                json!({"foo":["bar","baz"]}),
                json!([{"op":"add","path":"/foo/1","value":"qux"}]),
                json!({"foo":["bar","qux","baz"]}),
            ),
            (
                json!({"baz":"qux","foo":"bar"}),
                json!([{"op":"remove","path":"/baz"}]),
                json!({"foo":"bar"}),
            ),
            (
                json!({"foo":["bar","qux","baz"]}),
                json!([{"op":"remove","path":"/foo/1"}]),
                json!({"foo":["bar","baz"]}),
            ),
            (
                json!({"baz":"qux","foo":"bar"}),
                json!([{"op":"replace","path":"/baz","value":"boo"}]),
                json!({"baz":"boo","foo":"bar"}),
            ),
            (
                json!({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}),
                json!([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]),
                json!({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}),
            ),
            (
                json!({"foo":["all","grass","cows","eat"]}),
                json!([{"op":"move","from":"/foo/1","path":"/foo/3"}]),
                json!({"foo":["all","cows","eat","grass"]}),
            ),
            (
                json!({"baz":"qux","foo":["a",2,"c"]}),
                json!([
                    {"op":"test","path":"/baz","value":"qux"},
                    {"op":"test","path":"/foo/1","value":2}
                ]),
                json!({"baz":"qux","foo":["a",2,"c"]}),
            ),
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/child","value":{"grandchild":{}}}]),
                json!({"foo":"bar","child":{"grandchild":{}}}),
            ),
            (
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/baz","value":"qux","xyz":123}]),
                json!({"foo":"bar","baz":"qux"}),
            ),
            (
                json!({"foo":["bar"]}),
                json!([{"op":"add","path":"/foo/-","value":["abc","def"]}]),
                json!({"foo":["bar",["abc","def"]]}),
            ),
            (
                json!({"/":9,"~1":10}),
                json!([{"op":"test","path":"/~01","value":10}]),
                json!({"/":9,"~1":10}),
            ),
        ];
        for (document, patch, expected) in cases {
            assert_eq!(apply(&document, &patch), Ok(expected), "patch {patch}");
        }
    }

    #[test]
    fn rfc6902_a9_test_failure() {
        let failure = failure_of(
            json!({"baz":"qux"}),
            json!([{"op":"test","path":"/baz","value":"bar"}]),
        );
        assert!(matches!(failure, OperationFailure::TestFailed { .. }));
    }

    #[test]
    fn rfc6902_a12_adding_to_a_nonexistent_target() {
        let failure = failure_of(
            json!({"foo":"bar"}),
            json!([{"op":"add","path":"/baz/bat","value":"qux"}]),
        );
        assert_eq!(
            failure,
            OperationFailure::NotFound {
                pointer: "/baz".to_owned()
            }
        );
    }

    #[test]
    fn rfc6902_a15_comparing_strings_and_numbers() {
        let failure = failure_of(
            json!({"/":9,"~1":10}),
            json!([{"op":"test","path":"/~01","value":"10"}]),
        );
        assert!(matches!(failure, OperationFailure::TestFailed { .. }));
    }

    #[test]
    fn pointer_escapes_address_slash_and_tilde_keys() {
        let patched = apply(
            &json!({"metadata":{"annotations":{"a/b":"1","c~d":"2"}}}),
            &json!([
                {"op":"replace","path":"/metadata/annotations/a~1b","value":"x"},
                {"op":"remove","path":"/metadata/annotations/c~0d"}
            ]),
        );
        assert_eq!(patched, Ok(json!({"metadata":{"annotations":{"a/b":"x"}}})));
    }

    #[test]
    fn errors_name_the_operation_index_and_path() {
        let error = apply(
            &json!({"spec":{}}),
            &json!([
                {"op":"add","path":"/spec/replicas","value":3},
                {"op":"remove","path":"/spec/missing"}
            ]),
        )
        .expect_err("second operation must fail");
        assert_eq!(
            error.to_string(),
            "JSON patch operation 1 (remove \"/spec/missing\"): \
             the location \"/spec/missing\" does not exist in the document"
        );
        assert!(!error.is_malformed());
    }

    #[test]
    fn malformed_operations_are_reported_as_such() {
        let cases = [
            (json!([1]), OperationFailure::NotAnObject),
            (
                json!([{"path":"/a"}]),
                OperationFailure::MissingMember("op"),
            ),
            (
                json!([{"op":"add","path":"/a"}]),
                OperationFailure::MissingMember("value"),
            ),
            (
                json!([{"op":"explode","path":"/a"}]),
                OperationFailure::UnknownOp("explode".to_owned()),
            ),
            (
                json!([{"op":"remove","path":"a"}]),
                OperationFailure::InvalidPointer {
                    pointer: "a".to_owned(),
                    reason: "it must be empty or start with '/'",
                },
            ),
            (
                json!([{"op":"remove","path":"/a~2"}]),
                OperationFailure::InvalidPointer {
                    pointer: "/a~2".to_owned(),
                    reason: "'~' must be followed by '0' or '1'",
                },
            ),
        ];
        for (patch, expected) in cases {
            let error = apply(&json!({"a":1}), &patch).expect_err("malformed");
            assert!(error.is_malformed(), "{error}");
            assert!(
                matches!(error, JsonPatchError::Operation { ref failure, .. } if *failure == expected),
                "{error}"
            );
        }
    }

    #[test]
    fn array_indices_are_strict() {
        for path in ["/a/01", "/a/-", "/a/2", "/a/x", "/a/-1"] {
            let failure = failure_of(
                json!({"a":[1,2]}),
                json!([{"op":"replace","path":path,"value":0}]),
            );
            assert!(
                matches!(failure, OperationFailure::BadIndex { .. }),
                "{path}"
            );
        }
        assert_eq!(
            apply(
                &json!({"a":[1,2]}),
                &json!([{"op":"add","path":"/a/2","value":3}])
            ),
            Ok(json!({"a":[1,2,3]}))
        );
    }

    #[test]
    fn whole_document_operations() {
        assert_eq!(
            apply(
                &json!({"a":1}),
                &json!([{"op":"replace","path":"","value":[1]}])
            ),
            Ok(json!([1]))
        );
        assert_eq!(
            failure_of(json!({"a":1}), json!([{"op":"remove","path":""}])),
            OperationFailure::RemoveRoot
        );
    }

    #[test]
    fn move_into_own_child_is_refused() {
        let failure = failure_of(
            json!({"a":{"b":{}}}),
            json!([{"op":"move","from":"/a","path":"/a/b/c"}]),
        );
        assert_eq!(
            failure,
            OperationFailure::MoveIntoChild {
                from: "/a".to_owned()
            }
        );
    }

    #[test]
    fn copy_and_numeric_test_equality() {
        assert_eq!(
            apply(
                &json!({"a":{"x":1.0}}),
                &json!([
                    {"op":"copy","from":"/a","path":"/b"},
                    {"op":"test","path":"/b","value":{"x":1}}
                ])
            ),
            Ok(json!({"a":{"x":1.0},"b":{"x":1.0}}))
        );
    }

    #[test]
    fn too_many_operations_are_refused() {
        let operations = vec![json!({"op":"test","path":"","value":{}}); MAX_OPERATIONS + 1];
        assert_eq!(
            apply(&json!({}), &Value::Array(operations)),
            Err(JsonPatchError::TooManyOperations {
                count: MAX_OPERATIONS + 1,
                limit: MAX_OPERATIONS
            })
        );
    }

    #[test]
    fn doubling_copies_hit_the_copy_limit() {
        let mut operations = vec![json!({"op":"add","path":"/a","value":"x".repeat(1024)})];
        for _ in 0..40 {
            operations.push(json!({"op":"copy","from":"/a","path":"/b"}));
            operations.push(json!({"op":"add","path":"/a","value":[]}));
            operations.push(json!({"op":"move","from":"/b","path":"/a/-"}));
            operations.push(json!({"op":"copy","from":"/a/0","path":"/a/-"}));
        }
        let error = apply(&json!({}), &Value::Array(operations)).expect_err("bounded");
        assert!(matches!(
            error,
            JsonPatchError::Operation {
                failure: OperationFailure::CopyLimit { .. },
                ..
            }
        ));
    }
}
