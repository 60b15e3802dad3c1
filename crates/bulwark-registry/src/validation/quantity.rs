//! Just enough of `resource.Quantity` to compare requests with limits: parse the canonical
//! text forms (`250m`, `1.5Gi`, `2e3`) into nano-units. Values beyond what i128 holds saturate,
//! which keeps comparisons right for every realistic input and never panics.

use serde_json::Value;

/// The message upstream's decoder gives for text that is not a quantity.
pub const QUANTITY_SYNTAX_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const NANO_EXPONENT: i32 = 9;

/// A parsed quantity in units of 10⁻⁹ (fractions below a nano-unit round up, as upstream's
/// milli-scale rounding never goes finer than that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    pub nanos: i128,
}

impl Quantity {
    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// Whether the quantity is a whole number of units (`2`, `1k`), as counts must be.
    pub fn is_integer(self) -> bool {
        self.nanos % 1_000_000_000 == 0
    }
}

/// A quantity from JSON: upstream accepts both `"500m"` and bare numbers.
pub fn from_json(value: &Value) -> Option<Quantity> {
    match value {
        Value::String(text) => parse(text),
        Value::Number(number) => parse(&number.to_string()),
        _ => None,
    }
}

/// Renders a JSON quantity as upstream prints a `Quantity` in messages (its text, unquoted).
pub fn display(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Parses `[+-]digits[.digits](suffix)`; `None` when the text is not a quantity.
pub fn parse(text: &str) -> Option<Quantity> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (exponent10, exponent2) = suffix_exponents(suffix)?;
    let digits = format!("{whole}{fraction}");
    let scale = exponent10 + NANO_EXPONENT - i32::try_from(fraction.len()).ok()?;
    let magnitude = scaled(&digits, scale, exponent2);
    Some(Quantity {
        nanos: if negative { -magnitude } else { magnitude },
    })
}

/// `(power of ten, power of two)` a suffix stands for.
fn suffix_exponents(suffix: &str) -> Option<(i32, u32)> {
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(power) = binary {
        return Some((0, power));
    }
    let decimal = match suffix {
        "" => Some(0),
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(power) = decimal {
        return Some((power, 0));
    }
    let exponent = suffix.strip_prefix(['e', 'E'])?;
    let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) || unsigned.len() > 4 {
        return None;
    }
    Some((exponent.parse().ok()?, 0))
}

/// `digits × 10^scale × 2^exponent2`, rounded up when `scale` is negative, saturating.
fn scaled(digits: &str, scale: i32, exponent2: u32) -> i128 {
    let mut value: i128 = 0;
    let mut saturated = false;
    for byte in digits.bytes() {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(byte - b'0')))
        {
            Some(next) => value = next,
            None => saturated = true,
        }
    }
    if saturated {
        return i128::MAX;
    }
    if scale >= 0 {
        for _ in 0..scale {
            value = value.saturating_mul(10);
        }
    } else {
        let mut dropped_nonzero = false;
        for _ in 0..(-scale) {
            dropped_nonzero |= value % 10 != 0;
            value /= 10;
        }
        if dropped_nonzero {
            value += 1;
        }
    }
    value
        .checked_shl(exponent2)
        .filter(|v| v >> exponent2 == value)
        .unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(text: &str) -> i128 {
        parse(text).map(|q| q.nanos).unwrap_or(i128::MIN)
    }

    #[test]
    fn parses_decimal_binary_and_exponent_forms() {
        assert_eq!(nanos("250m"), 250_000_000);
        assert_eq!(nanos("0.5"), 500_000_000);
        assert_eq!(nanos("1"), 1_000_000_000);
        assert_eq!(nanos("1Ki"), 1024 * 1_000_000_000);
        assert_eq!(nanos("1.5Gi"), 1_610_612_736 * 1_000_000_000);
        assert_eq!(nanos("2e3"), 2_000 * 1_000_000_000);
        assert_eq!(nanos("-1"), -1_000_000_000);
        assert_eq!(nanos("1n"), 1);
    }

    #[test]
    fn orders_mixed_units() {
        assert!(parse("256Mi") < parse("512Mi"));
        assert!(parse("500m") < parse("1"));
        assert!(parse("1G") < parse("1Gi"));
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "abc", "1.2.3", "1Qi", "1e", ".", "--1", "1 "] {
            assert!(parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(
            nanos("99999999999999999999999999999999999999999999Ei"),
            i128::MAX
        );
        assert_eq!(nanos("9e9999"), i128::MAX);
    }
}
