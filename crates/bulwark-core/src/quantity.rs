//! Kubernetes resource quantities (`resource.Quantity`): parsing, canonical formatting, exact
//! comparison and arithmetic.
//!
//! A quantity is held as a signed count of nano-units in an `i128`, so every comparison and sum is
//! exact; no floating point is involved anywhere. Parsing follows `resource.ParseQuantity`:
//! - the grammar `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$` with upstream's leniencies
//!   (`"+"`, `"."` and `"5."` parse),
//! - decimal SI suffixes (`n u m "" k M G T P E`), binary SI suffixes (`Ki Mi Gi Ti Pi Ei`) and
//!   decimal exponents (`1e3`, `5E-2`),
//! - values finer than a nano-unit round *up* in magnitude (a request for some of a resource never
//!   becomes none of it),
//! - magnitudes above 2^63-1 units are capped at 2^63-1. Upstream caps only the spellings that
//!   miss its fast path (`99999999999999999999`) and keeps others exact (`10E`, `1e100`); capping
//!   all of them is the one deliberate difference, and no real resource amount comes near it.
//!
//! [`Display`](std::fmt::Display) prints upstream's canonical form (`Quantity.String()`): `1.5`
//! prints `1500m`, `1024Mi` prints `1Gi`, `1000` prints `1k`, `1e3` stays `1e3`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
/// The largest magnitude a parsed quantity keeps: 2^63-1 units.
const MAX_NANOS: u128 = (i64::MAX as u128) * NANOS_PER_UNIT as u128;
/// Digits of [`MAX_NANOS`]; any integer with more digits is above it.
const MAX_NANOS_DIGITS: usize = 28;

/// How a quantity prints, remembered from the suffix it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `1e3`, `5e-2`.
    DecimalExponent,
    /// `1Ki`, `512Mi`: powers of two.
    BinarySI,
    /// `500m`, `1k`, `2G`: powers of ten.
    DecimalSI,
}

/// Why a string is not a quantity; the messages are upstream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    FormatWrong,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// An exact amount of a resource (CPU, memory, storage, pods, …).
///
/// Equality, ordering and hashing look at the amount only: `1Gi == 1024Mi`, `1 == 1000m`.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl Quantity {
    pub const fn zero() -> Self {
        Self {
            nanos: 0,
            format: Format::DecimalSI,
        }
    }

    /// `units` whole units (`Quantity::new(2, Format::BinarySI)` is `2`; `1 << 30` would be `1Gi`).
    pub fn new(units: i64, format: Format) -> Self {
        Self {
            nanos: i128::from(units) * NANOS_PER_UNIT,
            format,
        }
    }

    /// `millis` thousandths of a unit, printed as decimal SI (`250` is `250m`).
    pub fn from_milli(millis: i64) -> Self {
        Self {
            nanos: i128::from(millis) * NANOS_PER_MILLI,
            format: Format::DecimalSI,
        }
    }

    /// An exact amount of nano-units, capped like parsed quantities at ±(2^63-1) units.
    pub fn from_nanos(nanos: i128, format: Format) -> Self {
        let cap = MAX_NANOS as i128;
        Self {
            nanos: nanos.clamp(-cap, cap),
            format,
        }
    }

    /// Parses a quantity as `resource.ParseQuantity` does.
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        if input.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let parts = split(input)?;
        let (base, exponent, format) = interpret_suffix(parts.suffix)?;
        let magnitude = magnitude_nanos(parts.num, parts.denom, base, exponent);
        // Bounded by MAX_NANOS, far below i128::MAX.
        let magnitude = magnitude.min(MAX_NANOS) as i128;
        let nanos = if parts.positive {
            magnitude
        } else {
            -magnitude
        };
        // A binary amount below one unit has no binary spelling; upstream switches it to decimal.
        let format = if format == Format::BinarySI && magnitude > 0 && magnitude < NANOS_PER_UNIT {
            Format::DecimalSI
        } else {
            format
        };
        Ok(Self { nanos, format })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The exact amount in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.nanos.signum() as i32
    }

    /// Whole units, rounded away from zero (`Quantity.Value()`: `1500m` is 2, `-1500m` is -2).
    pub fn value(&self) -> i64 {
        saturate_i64(divide_away_from_zero(self.nanos, NANOS_PER_UNIT))
    }

    /// Thousandths of a unit, rounded away from zero (`Quantity.MilliValue()`: `1n` is 1).
    pub fn milli_value(&self) -> i64 {
        saturate_i64(divide_away_from_zero(self.nanos, NANOS_PER_MILLI))
    }

    /// The exact sum, or `None` past the `i128` range. The result keeps this quantity's format,
    /// or takes `other`'s when this one is zero, as upstream's `Add` does.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let nanos = self.nanos.checked_add(other.nanos)?;
        Some(Self {
            nanos,
            format: self.combined_format(other),
        })
    }

    /// The exact difference, or `None` past the `i128` range.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        let nanos = self.nanos.checked_sub(other.nanos)?;
        Some(Self {
            nanos,
            format: self.combined_format(other),
        })
    }

    fn combined_format(&self, other: &Quantity) -> Format {
        if self.is_zero() {
            other.format
        } else {
            self.format
        }
    }
}

fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

fn divide_away_from_zero(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor == 0 {
        quotient
    } else {
        quotient + value.signum()
    }
}

/// The pieces of a quantity string, as upstream's `parseQuantityString` cuts them.
struct Parts<'a> {
    positive: bool,
    /// Integer digits without leading zeros; `"0"` when there are none.
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

const SUFFIX_LETTERS: &[u8] = b"eEinumkKMGTP";

fn split(input: &str) -> Result<Parts<'_>, QuantityError> {
    let bytes = input.as_bytes();
    let end = bytes.len();
    let mut position = 0;
    let mut positive = true;
    match bytes.first() {
        Some(b'-') => {
            positive = false;
            position += 1;
        }
        Some(b'+') => position += 1,
        _ => {}
    }
    while position < end && bytes[position] == b'0' {
        position += 1;
    }
    let digits = |mut at: usize| {
        while at < end && bytes[at].is_ascii_digit() {
            at += 1;
        }
        at
    };
    let num_end = digits(position);
    let num = if num_end == position {
        "0"
    } else {
        &input[position..num_end]
    };
    let mut parts = Parts {
        positive,
        num,
        denom: "",
        suffix: "",
    };
    position = num_end;
    if position < end && bytes[position] == b'.' {
        let denom_end = digits(position + 1);
        parts.denom = &input[position + 1..denom_end];
        position = denom_end;
    }
    let suffix_start = position;
    while position < end && SUFFIX_LETTERS.contains(&bytes[position]) {
        position += 1;
    }
    if position < end && matches!(bytes[position], b'-' | b'+') {
        position += 1;
    }
    if digits(position) != end {
        return Err(QuantityError::FormatWrong);
    }
    parts.suffix = &input[suffix_start..];
    Ok(parts)
}

/// The suffix's base (10 or 2), exponent and format.
fn interpret_suffix(suffix: &str) -> Result<(u32, i32, Format), QuantityError> {
    let decimal = |exponent| Ok((10, exponent, Format::DecimalSI));
    let binary = |exponent| Ok((2, exponent, Format::BinarySI));
    match suffix {
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .ok_or(QuantityError::Suffix)?;
            // Current upstream rejects exponents outside ±(2^31-1); older releases narrowed them
            // to 32 bits silently, turning `1e4294967297` into `1e1`.
            let exponent = exponent.parse::<i32>().ok().filter(|e| *e != i32::MIN);
            Ok((
                10,
                exponent.ok_or(QuantityError::Suffix)?,
                Format::DecimalExponent,
            ))
        }
    }
}

/// The magnitude in nano-units, rounded up, saturating above [`MAX_NANOS`]. Linear in the input's
/// length whatever the exponent, so a hostile string costs no more than reading it.
fn magnitude_nanos(num: &str, denom: &str, base: u32, exponent: i32) -> u128 {
    let mut digits: Vec<u8> = num.bytes().chain(denom.bytes()).map(|b| b - b'0').collect();
    let decimals = denom.len() as i64;
    let shift = if base == 2 {
        digits = multiply_digits(&digits, 1u64 << exponent.clamp(0, 63));
        9 - decimals
    } else {
        i64::from(exponent) - decimals + 9
    };
    scale_digits(&digits, shift)
}

/// Decimal digits times a small factor, schoolbook from the right.
fn multiply_digits(digits: &[u8], factor: u64) -> Vec<u8> {
    let mut reversed = Vec::with_capacity(digits.len() + 20);
    let mut carry: u128 = 0;
    for digit in digits.iter().rev() {
        let product = u128::from(*digit) * u128::from(factor) + carry;
        reversed.push((product % 10) as u8);
        carry = product / 10;
    }
    while carry > 0 {
        reversed.push((carry % 10) as u8);
        carry /= 10;
    }
    reversed.reverse();
    reversed
}

/// `digits × 10^shift`, rounded up to an integer, saturating above [`MAX_NANOS`].
fn scale_digits(digits: &[u8], shift: i64) -> u128 {
    let first = digits.iter().position(|d| *d != 0);
    let Some(first) = first else {
        return 0;
    };
    let digits = &digits[first..];
    let (integer, round_up) = if shift >= 0 {
        (digits, false)
    } else {
        let dropped = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
        let kept = digits.len().saturating_sub(dropped);
        (&digits[..kept], digits[kept..].iter().any(|d| *d != 0))
    };
    let zeros = usize::try_from(shift.max(0)).unwrap_or(usize::MAX);
    if integer.len().saturating_add(zeros) > MAX_NANOS_DIGITS {
        return MAX_NANOS;
    }
    let mut value = integer
        .iter()
        .fold(0u128, |acc, d| acc * 10 + u128::from(*d));
    for _ in 0..zeros {
        value *= 10;
    }
    (value + u128::from(round_up)).min(MAX_NANOS)
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Default for Quantity {
    fn default() -> Self {
        Self::zero()
    }
}

/// Saturating at the `i128` range, which sums of real quantities never reach; use
/// [`Quantity::checked_add`] to detect it.
impl Add for Quantity {
    type Output = Quantity;

    fn add(self, other: Quantity) -> Quantity {
        Self {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.combined_format(&other),
        }
    }
}

impl Sub for Quantity {
    type Output = Quantity;

    fn sub(self, other: Quantity) -> Quantity {
        Self {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: self.combined_format(&other),
        }
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, other: Quantity) {
        *self = *self + other;
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, other: Quantity) {
        *self = *self - other;
    }
}

impl Neg for Quantity {
    type Output = Quantity;

    fn neg(self) -> Quantity {
        Self {
            nanos: self.nanos.saturating_neg(),
            format: self.format,
        }
    }
}

impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::zero(), Add::add)
    }
}

impl<'a> Sum<&'a Quantity> for Quantity {
    fn sum<I: Iterator<Item = &'a Quantity>>(iter: I) -> Quantity {
        iter.copied().sum()
    }
}

impl fmt::Display for Quantity {
    /// Upstream's canonical form (`CanonicalizeBytes`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let whole_binary =
            self.nanos % NANOS_PER_UNIT == 0 && self.nanos.abs() >= 1024 * NANOS_PER_UNIT;
        match self.format {
            Format::BinarySI if whole_binary => write_binary(f, self.nanos / NANOS_PER_UNIT),
            Format::BinarySI | Format::DecimalSI => write_decimal(f, self.nanos, Format::DecimalSI),
            Format::DecimalExponent => write_decimal(f, self.nanos, Format::DecimalExponent),
        }
    }
}

/// The mantissa with no trailing zeros, then the exponent lowered to a multiple of three.
fn write_decimal(f: &mut fmt::Formatter<'_>, nanos: i128, format: Format) -> fmt::Result {
    let mut mantissa = nanos;
    let mut exponent: i32 = -9;
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    let remainder = exponent.rem_euclid(3);
    mantissa *= 10i128.pow(remainder as u32);
    exponent -= remainder;
    let suffix = match (format, exponent) {
        (Format::DecimalExponent, 0) => "",
        (Format::DecimalExponent, _) => return write!(f, "{mantissa}e{exponent}"),
        (_, -9) => "n",
        (_, -6) => "u",
        (_, -3) => "m",
        (_, 0) => "",
        (_, 3) => "k",
        (_, 6) => "M",
        (_, 9) => "G",
        (_, 12) => "T",
        (_, 15) => "P",
        (_, 18) => "E",
        // Beyond exa only a capped-away magnitude could land here; print it exactly anyway.
        _ => return write!(f, "{mantissa}e{exponent}"),
    };
    write!(f, "{mantissa}{suffix}")
}

fn write_binary(f: &mut fmt::Formatter<'_>, units: i128) -> fmt::Result {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut mantissa = units;
    let mut power = 0;
    while power + 1 < SUFFIXES.len() && mantissa % 1024 == 0 {
        mantissa /= 1024;
        power += 1;
    }
    write!(f, "{mantissa}{}", SUFFIXES[power])
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Accepts what upstream's `UnmarshalJSON` accepts: a string (surrounding spaces ignored), a
/// bare JSON number read as its text, or `null` for zero.
impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

struct QuantityVisitor;

impl QuantityVisitor {
    fn parse<E: de::Error>(text: &str) -> Result<Quantity, E> {
        Quantity::parse(text.trim()).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity such as \"500m\" or \"1Gi\"")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Quantity, E> {
        Self::parse(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Quantity, E> {
        Self::parse(&value.to_string())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Quantity, E> {
        Self::parse(&value.to_string())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Quantity, E> {
        Self::parse(&value.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::zero())
    }
}

#[cfg(test)]
#[path = "quantity_tests.rs"]
mod tests;
