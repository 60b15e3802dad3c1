use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(selector: &str) -> LabelSelector {
    LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"))
}

fn parse_error(selector: &str) -> String {
    match LabelSelector::parse(selector) {
        Ok(parsed) => panic!("{selector:?} parsed as {parsed}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn good_strings_print_back_without_spaces() {
    for input in [
        "x=a,y=b,z=c",
        "",
        "x!=a,y=b",
        "x=",
        "x= ",
        "x=,z= ",
        "x= ,z= ",
        "!x",
        "x>1",
        "x>1,z<5",
    ] {
        assert_eq!(
            parse(input).to_string(),
            input.replace(' ', ""),
            "{input:?}"
        );
    }
}

#[test]
fn bad_strings_are_rejected() {
    for input in [
        "x=a||y=b", "x==a==b", "!x=a", "x<a", "x in (a", "x in a", "x,", ",x", "x=a b", "a/b/c",
        "x>-1",
    ] {
        assert!(LabelSelector::parse(input).is_err(), "{input:?}");
    }
}

#[test]
fn parsing_orders_requirements_by_key() {
    assert_eq!(parse("x=a,a=x").to_string(), "a=x,x=a");
    assert_eq!(parse("x=a,a=x"), parse("a=x,x=a"));
}

#[test]
fn set_based_syntax_parses_to_sorted_value_sets() {
    let cases = [
        ("\rx", "x"),
        (
            "this-is-a-dns.domain.com/key-with-dash",
            "this-is-a-dns.domain.com/key-with-dash",
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
        ),
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x in (def,abc)", "x in (abc,def)"),
        ("x in (abc,)", "x in (,abc)"),
        ("x in ()", "x in ()"),
        ("x in (,)", "x in ()"),
        ("x in (a,,b)", "x in (,a,b)"),
        (
            "x notin (abc,def),bar,z in (),w",
            "bar,w,x notin (abc,def),z in ()",
        ),
        ("x=a,y!=b,z==c", "x=a,y!=b,z==c"),
        ("in in (in,notin)", "in in (in,notin)"),
        ("notin=in", "notin=in"),
        ("x in (b,a,b)", "x in (a,b)"),
    ];
    for (input, canonical) in cases {
        assert_eq!(parse(input).to_string(), canonical, "{input:?}");
    }
}

/// A selector, a label set, and whether the selector matches the set.
type MatchCase = (&'static str, &'static [(&'static str, &'static str)], bool);

#[test]
fn matching_follows_each_operator() {
    let cases: &[MatchCase] = &[
        ("", &[("x", "y")], true),
        ("x=y", &[("x", "y")], true),
        ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
        ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
        ("notin=in", &[("notin", "in")], true),
        ("x", &[("x", "z")], true),
        ("!x", &[("y", "z")], true),
        ("x>1", &[("x", "2")], true),
        ("x<1", &[("x", "0")], true),
        ("x=z", &[], false),
        ("x=y", &[("x", "z")], false),
        ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
        ("x", &[("y", "z")], false),
        ("!x", &[("x", "z")], false),
        ("x>1", &[("x", "0")], false),
        ("x<1", &[("x", "2")], false),
        ("x>1", &[("x", "v2")], false),
        ("x>1", &[], false),
        ("x notin ()", &[("y", "")], true),
        ("x in ()", &[("y", "baz")], false),
        ("x in ()", &[("x", "")], true),
        ("x notin (a)", &[], true),
        (
            "x in (foo),y notin (alpha)",
            &[("x", "foo"), ("y", "baz")],
            true,
        ),
        (
            "x in (foo),y in (alpha)",
            &[("x", "foo"), ("y", "baz")],
            false,
        ),
        (
            "foo=bar,foobar=bar,baz=blah",
            &[("foo", "bar"), ("baz", "blah")],
            false,
        ),
    ];
    for (selector, set, expected) in cases {
        assert_eq!(
            parse(selector).matches(&labels(set)),
            *expected,
            "{selector:?} against {set:?}"
        );
    }
}

#[test]
fn nothing_matches_nothing_and_everything_matches_all() {
    let set = labels(&[("a", "b")]);
    assert!(LabelSelector::everything().matches(&set));
    assert!(LabelSelector::everything().is_empty());
    assert!(!LabelSelector::nothing().matches(&set));
    assert!(!LabelSelector::nothing().matches(&labels(&[])));
    assert!(!LabelSelector::nothing().is_empty());
    assert_eq!(LabelSelector::nothing().to_string(), "");
}

#[test]
fn syntax_errors_read_like_upstream() {
    let cases = [
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        ("x=a,", "found '', expected: identifier after ','"),
        ("x,,y", "found ',', expected: identifier after ','"),
        (
            ",x",
            "found ',', expected: !, identifier, or 'end of string'",
        ),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        (
            "x!",
            "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "x in a",
            "unable to parse requirement: found 'a' expected: '('",
        ),
        (
            "x in (a",
            "unable to parse requirement: found '', expected: ',' or ')'",
        ),
        (
            "x in (a b)",
            "unable to parse requirement: found 'b', expected: ',' or ')'",
        ),
        (
            "x in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
        ),
        (
            "x in (a,=)",
            "unable to parse requirement: found '=', expected: ',', or identifier",
        ),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        (
            "x=(",
            "unable to parse requirement: found '(', expected: identifier",
        ),
        (
            "!=x",
            "found '!=', expected: !, identifier, or 'end of string'",
        ),
        (
            "!(x",
            "unable to parse requirement: found '(', expected: identifier",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(parse_error(input), message, "{input:?}");
    }
}

#[test]
fn invalid_keys_report_a_nil_path_like_upstream() {
    assert_eq!(
        parse_error("a/b/c=d"),
        "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
}

#[test]
fn invalid_values_report_their_sorted_index_and_key() {
    assert_eq!(
        parse_error("x in (b,-a)"),
        "unable to parse requirement: values[0][x]: Invalid value: \"-a\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
    assert_eq!(
        parse_error("x<a"),
        "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    assert_eq!(
        parse_error("x>-1"),
        "unable to parse requirement: values[0][x]: Invalid value: \"-1\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
    assert!(
        parse_error(&format!("x={}", "a".repeat(64)))
            .contains("must be no more than 63 characters")
    );
}

#[test]
fn several_requirement_errors_are_aggregated() {
    let error =
        Requirement::new("x", Operator::GreaterThan, vec!["a".into(), "b".into()]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "[values: Invalid value: []string{\"a\", \"b\"}: for 'Gt', 'Lt' operators, exactly one value is required, values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer, values[1]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer]"
    );
}

#[test]
fn requirement_constructor_checks_value_counts() {
    let value = |v: &str| vec![v.to_string()];
    assert!(Requirement::new("x", Operator::In, vec![]).is_err());
    assert!(Requirement::new("x", Operator::NotIn, vec![]).is_err());
    assert!(Requirement::new("x", Operator::In, value("foo")).is_ok());
    assert!(Requirement::new("x", Operator::Exists, vec![]).is_ok());
    assert!(Requirement::new("x", Operator::Exists, value("a")).is_err());
    assert!(Requirement::new("1foo", Operator::In, value("bar")).is_ok());
    assert!(Requirement::new("1234", Operator::In, value("bar")).is_ok());
    assert!(Requirement::new("y", Operator::GreaterThan, value("1")).is_ok());
    assert!(Requirement::new("foo", Operator::GreaterThan, value("bar")).is_err());
    assert!(Requirement::new(&"a".repeat(254), Operator::Exists, vec![]).is_err());
    assert!(Requirement::new("x", Operator::Equals, vec![]).is_err());
    assert_eq!(
        Requirement::new("x", Operator::In, vec![])
            .unwrap_err()
            .to_string(),
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
    );
}

#[test]
fn a_nul_byte_ends_the_input_as_upstream() {
    assert!(parse("\u{0}a=b").is_empty());
    assert_eq!(parse("a\u{0}").to_string(), "a");
}

#[test]
fn exact_match_is_reported_for_equality_and_single_in() {
    let selector = parse("a=1,b in (2),c in (3,4),d!=5");
    assert_eq!(selector.requires_exact_match("a"), Some("1"));
    assert_eq!(selector.requires_exact_match("b"), Some("2"));
    assert_eq!(selector.requires_exact_match("c"), None);
    assert_eq!(selector.requires_exact_match("d"), None);
    assert_eq!(selector.requires_exact_match("e"), None);
}

#[test]
fn objects_match_on_their_metadata_labels() {
    let object = serde_json::json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
    assert!(parse("app=web,tier").matches_object(&object));
    assert!(!parse("app=db").matches_object(&object));
    assert!(parse("!app").matches_object(&serde_json::json!({"metadata": {}})));
}

#[test]
fn from_set_builds_equality_requirements_in_key_order() {
    let selector = LabelSelector::from_set(&labels(&[("b", "2"), ("a", "1")]));
    assert_eq!(selector.to_string(), "a=1,b=2");
    assert!(LabelSelector::from_set(&BTreeMap::new()).is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]([a-z0-9._-]{0,6}[a-z0-9])?",
            "[a-z0-9]{1,4}(\\.[a-z0-9]{1,4}){0,2}/[A-Za-z0-9]([A-Za-z0-9._-]{0,5}[A-Za-z0-9])?",
            Just("in".to_string()),
            Just("notin".to_string()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[A-Za-z0-9]([A-Za-z0-9._-]{0,5}[A-Za-z0-9])?",
            "[0-9]{1,3}"
        ]
    }

    fn requirement() -> impl Strategy<Value = Requirement> {
        let operator = prop_oneof![
            Just(Operator::In),
            Just(Operator::NotIn),
            Just(Operator::Equals),
            Just(Operator::DoubleEquals),
            Just(Operator::NotEquals),
            Just(Operator::Exists),
            Just(Operator::DoesNotExist),
            Just(Operator::GreaterThan),
            Just(Operator::LessThan),
        ];
        (
            key(),
            operator,
            prop::collection::vec(value(), 1..4),
            0u16..500,
        )
            .prop_map(|(key, operator, values, number)| {
                let values = match operator {
                    Operator::In | Operator::NotIn => values,
                    Operator::Exists | Operator::DoesNotExist => vec![],
                    Operator::GreaterThan | Operator::LessThan => vec![number.to_string()],
                    _ => vec![values[0].clone()],
                };
                Requirement::new(&key, operator, values).expect("generated requirements are valid")
            })
    }

    fn label_set() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(
            prop_oneof![key(), Just("a".to_string()), Just("in".to_string())],
            value(),
            0..5,
        )
    }

    /// The obvious reading of each operator, written independently of the implementation.
    fn naive_matches(requirement: &Requirement, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(requirement.key());
        let values = requirement.values();
        match requirement.operator() {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| values.contains(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > values[0].parse::<i64>().unwrap_or(i64::MAX)),
            Operator::LessThan => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < values[0].parse::<i64>().unwrap_or(i64::MIN)),
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_strings_never_panics(input in ".{0,64}") {
            let _ = LabelSelector::parse(&input);
        }

        #[test]
        fn parsing_selector_shaped_strings_never_panics(input in "[a-z!=<>(), \\t0-9/.-]{0,40}") {
            if let Ok(selector) = LabelSelector::parse(&input) {
                prop_assert_eq!(LabelSelector::parse(&selector.to_string()), Ok(selector));
            }
        }

        #[test]
        fn printing_then_parsing_gives_back_the_selector(requirements in prop::collection::vec(requirement(), 0..5)) {
            let selector = LabelSelector::from_requirements(requirements);
            prop_assert_eq!(LabelSelector::parse(&selector.to_string()), Ok(selector));
        }

        #[test]
        fn matching_agrees_with_a_naive_model(
            requirements in prop::collection::vec(requirement(), 0..4),
            labels in label_set(),
        ) {
            let expected = requirements.iter().all(|r| naive_matches(r, &labels));
            let selector = LabelSelector::from_requirements(requirements);
            prop_assert_eq!(selector.matches(&labels), expected);
        }
    }
}
