//! How Go prints values inside upstream's error messages (`%q`, `%#v` of `[]string`, aggregated
//! errors), so that our messages read byte for byte like a real API server's.

use std::fmt::Write;

/// Go's `strconv.Quote`: a double-quoted string with Go escapes for anything not printable.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint` for non-ASCII characters: Go treats controls, every
/// space other than U+0020 and the invisible format characters as unprintable.
fn is_printable(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// Go's `%#v` of a `[]string`; `None` is the nil slice.
pub(crate) fn string_slice(values: Option<&[String]>) -> String {
    match values {
        None => "[]string(nil)".to_string(),
        Some(values) => {
            let quoted = values.iter().map(|v| quote(v)).collect::<Vec<_>>();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// `utilerrors.NewAggregate(...).Error()`: one message alone, several deduplicated in brackets.
pub(crate) fn aggregate(messages: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for message in messages {
        if !seen.contains(&message.as_str()) {
            seen.push(message);
        }
    }
    match seen.as_slice() {
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(quote("\n\t\u{0}\u{7f}"), "\"\\n\\t\\x00\\x7f\"");
        assert_eq!(quote("é\u{a0}"), "\"é\\u00a0\"");
    }

    #[test]
    fn string_slices_print_as_go_literals() {
        assert_eq!(string_slice(None), "[]string(nil)");
        assert_eq!(string_slice(Some(&[])), "[]string{}");
        assert_eq!(
            string_slice(Some(&["a".into(), "b".into()])),
            "[]string{\"a\", \"b\"}"
        );
    }

    #[test]
    fn aggregates_bracket_several_distinct_messages() {
        assert_eq!(aggregate(&["x".into()]), "x");
        assert_eq!(aggregate(&["x".into(), "x".into()]), "x");
        assert_eq!(aggregate(&["x".into(), "y".into()]), "[x, y]");
    }
}
