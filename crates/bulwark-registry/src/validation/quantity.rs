//! Quantities as they appear in JSON (`"500m"` or a bare number), read through
//! [`bulwark_core::quantity`], and printed in upstream's canonical form as messages show them.

use bulwark_core::quantity::{Quantity, QuantityError};
use serde_json::Value;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// The message upstream's decoder gives for text that is not a quantity.
pub fn syntax_error() -> String {
    QuantityError::FormatWrong.to_string()
}

/// A quantity from JSON: upstream accepts both `"500m"` and bare numbers.
pub fn from_json(value: &Value) -> Option<Quantity> {
    match value {
        Value::String(text) => Quantity::parse(text).ok(),
        Value::Number(number) => Quantity::parse(&number.to_string()).ok(),
        _ => None,
    }
}

/// How upstream prints the quantity in a message: canonical when it parses, else as given.
pub fn display(value: &Value) -> String {
    match (from_json(value), value) {
        (Some(quantity), _) => quantity.to_string(),
        (None, Value::String(text)) => text.clone(),
        (None, other) => other.to_string(),
    }
}

pub fn is_negative(quantity: &Quantity) -> bool {
    quantity.signum() < 0
}

/// Whether the quantity is a whole number of units, as object counts must be.
pub fn is_integer(quantity: &Quantity) -> bool {
    quantity.nanos() % NANOS_PER_UNIT == 0
}

/// Whether the quantity is below one unit (limit/request ratios must not be).
pub fn is_below_one(quantity: &Quantity) -> bool {
    quantity.nanos() < NANOS_PER_UNIT
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_strings_and_numbers() {
        assert_eq!(from_json(&json!("500m")), from_json(&json!(0.5)));
        assert!(from_json(&json!("lots")).is_none());
        assert!(from_json(&json!(["1"])).is_none());
    }

    #[test]
    fn prints_canonical_forms() {
        assert_eq!(display(&json!("0.5")), "500m");
        assert_eq!(display(&json!("1024Mi")), "1Gi");
        assert_eq!(display(&json!("lots")), "lots");
    }

    #[test]
    fn classifies_amounts() {
        let parse = |text: &str| from_json(&json!(text)).unwrap_or_default();
        assert!(is_negative(&parse("-1")));
        assert!(is_integer(&parse("2k")));
        assert!(!is_integer(&parse("1500m")));
        assert!(is_below_one(&parse("999m")));
    }
}
