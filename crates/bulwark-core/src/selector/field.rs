//! Field selectors: `fields.ParseSelector` (the string clients send as `fieldSelector=`), matching
//! and the canonical string form with upstream's escaping.

use std::fmt;

use super::SelectorError;

/// `=` and `==` are the same operator; `!=` is the other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldTerm {
    pub field: String,
    pub operator: FieldOperator,
    /// The unescaped value.
    pub value: String,
}

impl FieldTerm {
    /// Whether a field reading `actual` satisfies the term; absent fields read as `""`.
    pub fn matches_value(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(
            f,
            "{}{operator}{}",
            self.field,
            escape_field_value(&self.value)
        )
    }
}

/// A conjunction of field terms; no terms matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Escapes `\`, `,` and `=` so a value survives inside a field selector (`fields.EscapeValue`).
pub fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The inverse of [`escape_field_value`], rejecting unknown escapes and bare `,` or `=`.
fn unescape_field_value(value: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::Field(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            // Go prints the offending rune as its number.
            ',' | '=' => {
                return Err(SelectorError::Field(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            _ => out.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::Field(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Splits on commas that are not escaped; escapes stay in the pieces.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..index]);
            start = index + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator; `!=` and `==` win over `=` at the same position.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (index, _) in term.char_indices() {
        let rest = &term[index..];
        for (spelling, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(spelling) {
                return Some((&term[..index], operator, value));
            }
        }
    }
    None
}

impl FieldSelector {
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses the `fieldSelector` syntax as `fields.ParseSelector` does: comma-separated terms
    /// (sorted, empty ones skipped), `=`/`==`/`!=`, values escaped with `\`.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts.into_iter().filter(|part| !part.is_empty()) {
            let Some((field, operator, value)) = split_term(part) else {
                return Err(SelectorError::Field(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            terms.push(FieldTerm {
                field: field.to_string(),
                operator,
                value: unescape_field_value(value)?,
            });
        }
        Ok(Self { terms })
    }

    /// A selector of the given terms, in the given order.
    pub fn from_terms(terms: Vec<FieldTerm>) -> Self {
        Self { terms }
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Matches against a lookup that reads a field; `None` (an absent field) reads as `""`.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms
            .iter()
            .all(|term| term.matches_value(lookup(&term.field).as_deref().unwrap_or("")))
    }

    /// The value the selector pins `field` to with `=`, when it does.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }

    /// Rewrites every term's field and value (upstream's `Transform`); the first error wins.
    pub fn transform(
        &self,
        convert: impl Fn(&str, &str) -> Result<(String, String), SelectorError>,
    ) -> Result<Self, SelectorError> {
        let terms = self
            .terms
            .iter()
            .map(|term| {
                let (field, value) = convert(&term.field, &term.value)?;
                Ok(FieldTerm {
                    field,
                    operator: term.operator,
                    value,
                })
            })
            .collect::<Result<Vec<_>, SelectorError>>()?;
        Ok(Self { terms })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, term) in self.terms.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(selector: &str) -> Result<Self, Self::Err> {
        Self::parse(selector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn parse(selector: &str) -> FieldSelector {
        FieldSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"))
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matches(selector: &str, set: &[(&str, &str)]) -> bool {
        let set = fields(set);
        parse(selector).matches(|field| set.get(field).cloned())
    }

    #[test]
    fn terms_parse_sorted_with_every_operator() {
        assert_eq!(parse("b=2,a==1,c!=3").to_string(), "a=1,b=2,c!=3");
        assert_eq!(parse("").to_string(), "");
        assert!(parse(",,").is_empty());
        assert_eq!(parse("x=").to_string(), "x=");
        assert_eq!(
            parse("a=b").terms()[0],
            FieldTerm {
                field: "a".into(),
                operator: FieldOperator::Equals,
                value: "b".into()
            }
        );
    }

    #[test]
    fn the_leftmost_operator_splits_a_term() {
        assert_eq!(parse("a!=b").terms()[0].operator, FieldOperator::NotEquals);
        assert_eq!(parse("a=!b").terms()[0].value, "!b");
        assert_eq!(parse("!a=b").terms()[0].field, "!a");
    }

    #[test]
    fn escapes_protect_commas_equals_and_backslashes() {
        let selector = parse("a=x\\,y\\=z\\\\,b=c");
        assert_eq!(selector.terms()[0].value, "x,y=z\\");
        assert_eq!(selector.terms()[1].value, "c");
        assert_eq!(selector.to_string(), "a=x\\,y\\=z\\\\,b=c");
        assert_eq!(escape_field_value("a,b=c\\"), "a\\,b\\=c\\\\");
    }

    #[test]
    fn bad_selectors_get_upstream_messages() {
        let error = |s: &str| FieldSelector::parse(s).unwrap_err().to_string();
        assert_eq!(error("a"), "invalid selector: 'a'; can't understand 'a'");
        assert_eq!(
            error("a=b,c"),
            "invalid selector: 'a=b,c'; can't understand 'c'"
        );
        assert_eq!(
            error("a=b=c"),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            error("a!==c"),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            error("a=b\\x"),
            "invalid field selector: invalid escape sequence: \\x"
        );
        assert_eq!(
            error("a=b\\"),
            "invalid field selector: invalid escape sequence: \\"
        );
    }

    #[test]
    fn matching_reads_absent_fields_as_empty() {
        assert!(matches("a=1", &[("a", "1")]));
        assert!(!matches("a=1", &[("a", "2")]));
        assert!(matches("a!=1", &[]));
        assert!(matches("a=", &[]));
        assert!(!matches("a!=", &[]));
        assert!(matches("a=1,b!=2", &[("a", "1"), ("b", "3")]));
        assert!(!matches("a=1,b!=2", &[("a", "1"), ("b", "2")]));
        assert!(matches("", &[]));
    }

    #[test]
    fn exact_match_needs_equality() {
        let selector = parse("spec.nodeName=n1,status.phase!=Running");
        assert_eq!(selector.requires_exact_match("spec.nodeName"), Some("n1"));
        assert_eq!(selector.requires_exact_match("status.phase"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn term() -> impl Strategy<Value = FieldTerm> {
            (
                "[a-z]{1,3}(\\.[a-zA-Z]{1,4}){0,2}",
                any::<bool>(),
                "[a-z0-9,=\\\\ .-]{0,6}",
            )
                .prop_map(|(field, equals, value)| FieldTerm {
                    field,
                    operator: if equals {
                        FieldOperator::Equals
                    } else {
                        FieldOperator::NotEquals
                    },
                    value,
                })
        }

        fn sorted(mut terms: Vec<FieldTerm>) -> Vec<String> {
            let mut printed: Vec<String> = terms.drain(..).map(|t| t.to_string()).collect();
            printed.sort();
            printed
        }

        proptest! {
            #[test]
            fn parsing_arbitrary_strings_never_panics(input in ".{0,64}") {
                let _ = FieldSelector::parse(&input);
            }

            #[test]
            fn printing_then_parsing_keeps_every_term(terms in prop::collection::vec(term(), 0..5)) {
                let selector = FieldSelector::from_terms(terms.clone());
                let parsed = FieldSelector::parse(&selector.to_string());
                prop_assert!(parsed.is_ok(), "{}", selector);
                let parsed = parsed.unwrap_or_default();
                prop_assert_eq!(sorted(parsed.terms().to_vec()), sorted(terms));
            }

            #[test]
            fn matching_agrees_with_a_naive_model(
                terms in prop::collection::vec(term(), 0..4),
                values in prop::collection::btree_map("[a-z]{1,3}", "[a-z0-9,=]{0,2}", 0..4),
            ) {
                let expected = terms.iter().all(|t| {
                    let actual = values.get(&t.field).map(String::as_str).unwrap_or("");
                    (actual == t.value) == (t.operator == FieldOperator::Equals)
                });
                let selector = FieldSelector::from_terms(terms);
                prop_assert_eq!(selector.matches(|f| values.get(f).cloned()), expected);
            }
        }
    }
}
