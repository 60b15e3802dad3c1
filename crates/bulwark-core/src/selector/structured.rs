//! The structured `metav1.LabelSelector` (`matchLabels` + `matchExpressions`) found in specs:
//! turning it into a [`LabelSelector`] (`LabelSelectorAsSelector`) and validating it as part of an
//! object (`ValidateLabelSelector`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::label::{LabelSelector, Operator, Requirement};
use super::{SelectorError, go};
use crate::StatusCause;
use crate::names::{label_value_errors, qualified_name_errors};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Structured {
    #[serde(default)]
    match_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    match_expressions: Option<Vec<Expression>>,
}

#[derive(Debug, Default, Deserialize)]
struct Expression {
    #[serde(default)]
    key: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    values: Option<Vec<String>>,
}

fn decode(value: &Value) -> Result<Structured, String> {
    Structured::deserialize(value).map_err(|e| e.to_string())
}

impl LabelSelector {
    /// Converts a structured `metav1.LabelSelector` in JSON form (`LabelSelectorAsSelector`).
    ///
    /// - `None` or JSON `null` — a *null* selector — matches **nothing**.
    /// - `{}` or empty `matchLabels`/`matchExpressions` — an *empty* selector — matches **everything**.
    ///
    /// `matchLabels` entries become `key=value`; expressions map `In`, `NotIn`, `Exists` and
    /// `DoesNotExist` to their requirements. An unknown operator, `In`/`NotIn` without values,
    /// `Exists`/`DoesNotExist` with values, or an invalid key or value is an error with upstream's
    /// message.
    pub fn from_json(selector: Option<&Value>) -> Result<Self, SelectorError> {
        let Some(selector) = selector.filter(|s| !s.is_null()) else {
            return Ok(Self::nothing());
        };
        let structured = decode(selector).map_err(|why| {
            SelectorError::StructuredLabel(format!("invalid label selector: {why}"))
        })?;
        let match_labels = structured.match_labels.unwrap_or_default();
        let expressions = structured.match_expressions.unwrap_or_default();
        let mut requirements = Vec::with_capacity(match_labels.len() + expressions.len());
        for (key, value) in match_labels {
            requirements.push(
                Requirement::new(&key, Operator::Equals, vec![value]).map_err(structured_error)?,
            );
        }
        for expression in expressions {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::StructuredLabel(format!(
                        "{} is not a valid label selector operator",
                        go::quote(other)
                    )));
                }
            };
            let values = expression.values.unwrap_or_default();
            requirements.push(
                Requirement::new(&expression.key, operator, values).map_err(structured_error)?,
            );
        }
        Ok(Self::from_requirements(requirements))
    }
}

fn structured_error(error: SelectorError) -> SelectorError {
    SelectorError::StructuredLabel(error.message().to_string())
}

/// Switches of [`validate_label_selector`] (upstream's `LabelSelectorValidationOptions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelSelectorOptions {
    /// Accept values in `matchExpressions` that are not valid label values: upstream allows this
    /// on update when the stored object already had such a value.
    pub allow_invalid_label_value_in_selector: bool,
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn invalid(field: &str, value: &str, detail: &str) -> StatusCause {
    StatusCause::new(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {}: {detail}", go::quote(value)),
    )
}

/// Validates a structured label selector found at `path` in an object (`ValidateLabelSelector`),
/// returning one 422 cause per problem, in upstream's order. A null selector is valid.
pub fn validate_label_selector(
    selector: Option<&Value>,
    path: &str,
    options: LabelSelectorOptions,
) -> Vec<StatusCause> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Vec::new();
    };
    let structured = match decode(selector) {
        Ok(structured) => structured,
        Err(why) => {
            return vec![StatusCause::new(
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: {why}"),
            )];
        }
    };
    let mut causes = Vec::new();
    let labels_path = child(path, "matchLabels");
    for (key, value) in structured.match_labels.unwrap_or_default() {
        causes.extend(
            qualified_name_errors(&key)
                .iter()
                .map(|e| invalid(&labels_path, &key, e)),
        );
        causes.extend(
            label_value_errors(&value)
                .iter()
                .map(|e| invalid(&labels_path, &value, e)),
        );
    }
    let expressions_path = child(path, "matchExpressions");
    for (index, expression) in structured
        .match_expressions
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        causes.extend(validate_expression(
            expression,
            &format!("{expressions_path}[{index}]"),
            options,
        ));
    }
    causes
}

fn validate_expression(
    expression: &Expression,
    path: &str,
    options: LabelSelectorOptions,
) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let values = expression.values.as_deref().unwrap_or_default();
    let values_path = child(path, "values");
    match expression.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => causes.push(StatusCause::new(
            "FieldValueRequired",
            &values_path,
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => causes.push(StatusCause::new(
            "FieldValueForbidden",
            &values_path,
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => causes.push(invalid(
            &child(path, "operator"),
            other,
            "not a valid selector operator",
        )),
    }
    let key_path = child(path, "key");
    causes.extend(
        qualified_name_errors(&expression.key)
            .iter()
            .map(|e| invalid(&key_path, &expression.key, e)),
    );
    if !options.allow_invalid_label_value_in_selector {
        for (index, value) in values.iter().enumerate() {
            let value_path = format!("{values_path}[{index}]");
            causes.extend(
                label_value_errors(value)
                    .iter()
                    .map(|e| invalid(&value_path, value, e)),
            );
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn null_selector_matches_nothing_and_empty_matches_everything() {
        let set = labels(&[("a", "b")]);
        assert!(!LabelSelector::from_json(None).unwrap().matches(&set));
        assert!(
            !LabelSelector::from_json(Some(&Value::Null))
                .unwrap()
                .matches(&set)
        );
        assert!(
            LabelSelector::from_json(Some(&json!({})))
                .unwrap()
                .matches(&set)
        );
        assert!(
            LabelSelector::from_json(Some(&json!({"matchLabels": {}, "matchExpressions": []})))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let selector = LabelSelector::from_json(Some(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "zone", "operator": "Exists"}
            ]
        })))
        .unwrap();
        assert_eq!(
            selector.to_string(),
            "app=web,!canary,env notin (dev),tier in (edge,front),zone"
        );
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "edge"), ("zone", "a")])));
        assert!(!selector.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("zone", "a"),
            ("canary", "1")
        ])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "back"), ("zone", "a")])));
    }

    #[test]
    fn conversion_errors_read_like_upstream() {
        let error = |selector: Value| {
            LabelSelector::from_json(Some(&selector))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]})),
            "\"Foo\" is not a valid label selector operator"
        );
        assert_eq!(
            error(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            error(
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
            ),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        assert!(
            error(json!({"matchLabels": {"a/b/c": "x"}}))
                .starts_with("key: Invalid value: \"a/b/c\": a qualified name")
        );
        assert!(error(json!({"matchLabels": 3})).starts_with("invalid label selector:"));
    }

    #[test]
    fn validation_reports_one_cause_per_problem() {
        let causes = validate_label_selector(
            Some(&json!({
                "matchLabels": {"app": "-bad"},
                "matchExpressions": [
                    {"key": "a", "operator": "In"},
                    {"key": "b", "operator": "Exists", "values": ["x"]},
                    {"key": "c/d/e", "operator": "Sometimes"}
                ]
            })),
            "spec.selector",
            LabelSelectorOptions::default(),
        );
        let summary: Vec<(&str, &str)> = causes
            .iter()
            .map(|c| (c.reason.as_str(), c.field.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("FieldValueInvalid", "spec.selector.matchLabels"),
                (
                    "FieldValueRequired",
                    "spec.selector.matchExpressions[0].values"
                ),
                (
                    "FieldValueForbidden",
                    "spec.selector.matchExpressions[1].values"
                ),
                (
                    "FieldValueInvalid",
                    "spec.selector.matchExpressions[2].operator"
                ),
                ("FieldValueInvalid", "spec.selector.matchExpressions[2].key"),
            ]
        );
        assert_eq!(
            causes[1].message,
            "Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            causes[3].message,
            "Invalid value: \"Sometimes\": not a valid selector operator"
        );
        assert!(
            causes[0]
                .message
                .starts_with("Invalid value: \"-bad\": a valid label must be")
        );
    }

    #[test]
    fn invalid_expression_values_can_be_allowed() {
        let selector =
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["-x"]}]});
        assert_eq!(
            validate_label_selector(Some(&selector), "", LabelSelectorOptions::default()).len(),
            1
        );
        let options = LabelSelectorOptions {
            allow_invalid_label_value_in_selector: true,
        };
        assert!(validate_label_selector(Some(&selector), "", options).is_empty());
        assert!(validate_label_selector(None, "spec.selector", options).is_empty());
    }
}
