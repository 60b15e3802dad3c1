//! Path elements and paths: the addresses of fields inside an object, as server-side apply sees
//! them.
//!
//! A path element selects one child of a container: a named field of a map (`f:`), the item of a
//! keyed list whose key fields have the given values (`k:`), the member of a set (`v:`), or an
//! item of a list by position (`i:`, only used for lists that are neither keyed nor sets). The
//! ordering follows upstream (field names, then keys, then values, then indices) so that sets
//! serialize in the same order as the API server's.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// One step into a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElement {
    /// A field of a map or struct, by name.
    Field(String),
    /// An item of a keyed list (`listType: map`), by the values of its key fields, sorted by
    /// key name.
    Key(Vec<(String, Value)>),
    /// A member of a set (`listType: set`), by its value.
    Value(Value),
    /// An item of a list by position.
    Index(i64),
}

impl PathElement {
    /// A key element from key fields in any order; the fields are sorted by name, as upstream
    /// stores them.
    pub fn key(mut fields: Vec<(String, Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Self::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Field(_) => 0,
            Self::Key(_) => 1,
            Self::Value(_) => 2,
            Self::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Field(a), Self::Field(b)) => a.cmp(b),
            (Self::Key(a), Self::Key(b)) => compare_key_fields(a, b),
            (Self::Value(a), Self::Value(b)) => compare_values(a, b),
            (Self::Index(a), Self::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Human-readable form used in conflict messages: `.name`, `[name="nginx"]`, `[="a"]`, `[3]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(fields) => {
                f.write_str("[")?;
                for (position, (name, value)) in fields.iter().enumerate() {
                    if position > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", display_value(value))?;
                }
                f.write_str("]")
            }
            Self::Value(value) => write!(f, "[={}]", display_value(value)),
            Self::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A sequence of path elements from the root of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of field names, e.g. `Path::fields(["spec", "replicas"])`.
    pub fn fields<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            names
                .into_iter()
                .map(|name| PathElement::Field(name.to_string()))
                .collect(),
        )
    }
}

/// `.spec.containers[name="nginx"].image`, the form upstream prints in conflicts and causes.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// Values as upstream prints them in paths: strings quoted, maps as `k=v` pairs.
fn display_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(display_value).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect(),
    }
}

fn compare_key_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((name_a, value_a), (name_b, value_b)) in a.iter().zip(b) {
        let order = name_a
            .cmp(name_b)
            .then_with(|| compare_values(value_a, value_b));
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// A total order over JSON values, consistent with equality. Follows upstream's type order
/// (numbers, strings, booleans, lists, maps, null); numbers compare numerically, and an integer
/// and a float that are numerically equal are ordered integer-last so the order stays total.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> u8 {
        match value {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (item_x, item_y) in x.iter().zip(y) {
                let order = compare_values(item_x, item_y);
                if order != Ordering::Equal {
                    return order;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            // serde_json maps iterate in key order unless `preserve_order` is on; sort to be sure.
            let mut x_entries: Vec<_> = x.iter().collect();
            let mut y_entries: Vec<_> = y.iter().collect();
            x_entries.sort_by(|p, q| p.0.cmp(q.0));
            y_entries.sort_by(|p, q| p.0.cmp(q.0));
            for ((key_x, value_x), (key_y, value_y)) in x_entries.iter().zip(&y_entries) {
                let order = key_x
                    .cmp(key_y)
                    .then_with(|| compare_values(value_x, value_y));
                if order != Ordering::Equal {
                    return order;
                }
            }
            x_entries.len().cmp(&y_entries.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let kind = |n: &serde_json::Number| u8::from(n.is_f64());
    let a = x.as_f64().unwrap_or(0.0);
    let b = y.as_f64().unwrap_or(0.0);
    a.total_cmp(&b)
        .then_with(|| kind(y).cmp(&kind(x)))
        .then_with(|| x.to_string().cmp(&y.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_displays_like_upstream() {
        let path = Path(vec![
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::key(vec![("name".into(), json!("nginx"))]),
            PathElement::Field("image".into()),
        ]);
        assert_eq!(path.to_string(), r#".spec.containers[name="nginx"].image"#);
        let set_member = Path(vec![
            PathElement::Field("finalizers".into()),
            PathElement::Value(json!("a")),
        ]);
        assert_eq!(set_member.to_string(), r#".finalizers[="a"]"#);
        assert_eq!(Path(vec![PathElement::Index(3)]).to_string(), "[3]");
    }

    #[test]
    fn elements_order_fields_then_keys_then_values_then_indices() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!(1)),
            PathElement::key(vec![("name".into(), json!("a"))]),
            PathElement::Field("z".into()),
        ];
        elements.sort();
        assert!(matches!(elements[0], PathElement::Field(_)));
        assert!(matches!(elements[1], PathElement::Key(_)));
        assert!(matches!(elements[2], PathElement::Value(_)));
        assert!(matches!(elements[3], PathElement::Index(_)));
    }

    #[test]
    fn numbers_compare_numerically_and_stay_total() {
        assert_eq!(compare_values(&json!(2), &json!(10)), Ordering::Less);
        assert_eq!(compare_values(&json!(1.5), &json!(2)), Ordering::Less);
        assert_ne!(compare_values(&json!(1.0), &json!(1)), Ordering::Equal);
        assert_eq!(compare_values(&json!(1), &json!(1)), Ordering::Equal);
    }
}
