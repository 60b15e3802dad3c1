use super::*;

fn q(input: &str) -> Quantity {
    Quantity::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

#[test]
fn canonical_forms_match_upstream() {
    let cases = [
        ("0", "0"),
        ("0n", "0"),
        ("0Mi", "0"),
        ("-0", "0"),
        ("1", "1"),
        ("1n", "1n"),
        ("1u", "1u"),
        ("1m", "1m"),
        ("1k", "1k"),
        ("1M", "1M"),
        ("1G", "1G"),
        ("1T", "1T"),
        ("1P", "1P"),
        ("1E", "1E"),
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1Ti", "1Ti"),
        ("1Pi", "1Pi"),
        ("1Ei", "1Ei"),
        ("500m", "500m"),
        ("0.5", "500m"),
        ("0.1", "100m"),
        (".1", "100m"),
        ("1.5", "1500m"),
        ("1.1", "1100m"),
        ("12.3456", "12345600u"),
        ("1000", "1k"),
        ("1001", "1001"),
        ("1000000", "1M"),
        ("1000m", "1"),
        ("1024", "1024"),
        ("1024Ki", "1Mi"),
        ("1024Mi", "1Gi"),
        ("1000Mi", "1000Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("0.5Ki", "512"),
        ("0.1Ki", "102400m"),
        ("1.1Mi", "1153433600m"),
        ("1023Ki", "1023Ki"),
        ("-1Ki", "-1Ki"),
        ("-1.5", "-1500m"),
        ("+1", "1"),
        ("5.", "5"),
        ("1e3", "1e3"),
        ("1E3", "1e3"),
        ("10e5", "1e6"),
        ("1e+3", "1e3"),
        ("1e-3", "1e-3"),
        ("5e-3", "5e-3"),
        ("1.5e3", "1500"),
        ("12e-3", "12e-3"),
        ("100Mi", "100Mi"),
        ("256Mi", "256Mi"),
        ("007", "7"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("-.001Ki", "-1024m"),
        ("300Mi", "300Mi"),
        ("307200Ki", "300Mi"),
        ("1025024Mi", "1001Gi"),
        ("5000m", "5"),
        ("0.001T", "1G"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("0.001e12", "1e9"),
        ("1000e-12", "1e-9"),
        ("80e-3", "80e-3"),
        ("300e6", "300e6"),
        ("100.035k", "100035"),
        ("1.01E", "1010P"),
        ("1.G", "1G"),
        ("-9.01", "-9010m"),
    ];
    for (input, canonical) in cases {
        assert_eq!(q(input).to_string(), canonical, "{input:?}");
    }
}

#[test]
fn amounts_finer_than_a_nano_round_up_in_magnitude() {
    assert_eq!(q("0.0000000001").to_string(), "1n");
    assert_eq!(q("-0.0000000001").to_string(), "-1n");
    assert_eq!(q("1.0000000001").to_string(), "1000000001n");
    assert_eq!(q("1e-2147483647").to_string(), "1e-9");
    assert_eq!(q("3.001n").nanos(), 4);
    assert_eq!(q("1.1E-9").nanos(), 2);
    assert_eq!(q("0.00000012345").nanos(), 124);
    assert_eq!(q("0.000000000001Ki").format(), Format::DecimalSI);
    assert_eq!(q("0.5n").nanos(), 1);
    assert_eq!(q("0.0000000000Ki").nanos(), 0);
}

#[test]
fn upstream_leniencies_parse_as_zero() {
    for input in ["+", "-", ".", "00", "e3", "Mi", "-.", "0.0"] {
        assert!(q(input).is_zero(), "{input:?}");
    }
}

#[test]
fn malformed_strings_get_upstream_errors() {
    let cases = [
        ("", QuantityError::FormatWrong),
        ("1.2.3", QuantityError::FormatWrong),
        ("1x", QuantityError::FormatWrong),
        ("1 ", QuantityError::FormatWrong),
        (" 1", QuantityError::FormatWrong),
        ("a", QuantityError::FormatWrong),
        ("1e1.5", QuantityError::FormatWrong),
        ("1Mi ", QuantityError::FormatWrong),
        ("1i", QuantityError::Suffix),
        ("1Ki3", QuantityError::Suffix),
        ("1Mii", QuantityError::Suffix),
        ("1e", QuantityError::Suffix),
        ("1ee", QuantityError::Suffix),
        ("1-3", QuantityError::Suffix),
        ("1e99999999999999999999", QuantityError::Suffix),
        ("1e4294967297", QuantityError::Suffix),
        ("1E2147483648", QuantityError::Suffix),
        ("1E-2147483648", QuantityError::Suffix),
        ("1.1.M", QuantityError::FormatWrong),
        ("1+1.0M", QuantityError::FormatWrong),
        ("0.1mi", QuantityError::Suffix),
        ("0.1am", QuantityError::FormatWrong),
        ("aoeu", QuantityError::FormatWrong),
        (".5i", QuantityError::Suffix),
        ("-3.01i", QuantityError::Suffix),
        ("-3.01e-", QuantityError::Suffix),
    ];
    for (input, error) in cases {
        assert_eq!(Quantity::parse(input), Err(error), "{input:?}");
    }
    assert_eq!(
        QuantityError::FormatWrong.to_string(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

#[test]
fn magnitudes_cap_at_the_int64_maximum() {
    let max = Quantity::new(i64::MAX, Format::DecimalSI);
    assert_eq!(q("99999999999999999999"), max);
    assert_eq!(q("10E"), max);
    assert_eq!(q("1e100"), max);
    assert_eq!(q("-1e100"), -max);
    assert_eq!(q("16Ei"), max);
    assert_eq!(q("99999999999999999999").to_string(), "9223372036854775807");
    assert_eq!(q("7Ei").to_string(), "7Ei");
}

#[test]
fn long_inputs_cap_or_round_without_big_arithmetic() {
    let digits = "9".repeat(200_000);
    assert_eq!(q(&digits), Quantity::new(i64::MAX, Format::DecimalSI));
    assert_eq!(q(&format!("0.{}1", "0".repeat(200_000))).nanos(), 1);
    assert_eq!(
        q(&format!("1.{}Ki", "0".repeat(200_000))).to_string(),
        "1Ki"
    );
    assert_eq!(q(&format!("{digits}e-2147483647")).nanos(), 1);
}

#[test]
fn values_round_away_from_zero() {
    assert_eq!(q("1500m").value(), 2);
    assert_eq!(q("-1500m").value(), -2);
    assert_eq!(q("1").value(), 1);
    assert_eq!(q("1Gi").value(), 1 << 30);
    assert_eq!(q("1n").milli_value(), 1);
    assert_eq!(q("1.5").milli_value(), 1500);
    assert_eq!(q("-1n").milli_value(), -1);
    assert_eq!(q("1E").milli_value(), i64::MAX);
}

#[test]
fn equal_amounts_compare_equal_across_spellings() {
    assert_eq!(q("1Gi"), q("1024Mi"));
    assert_eq!(q("1"), q("1000m"));
    assert_eq!(q("1k"), q("1e3"));
    assert!(q("500m") < q("1"));
    assert!(q("1Gi") > q("1G"));
    assert!(q("-1") < q("0"));
    assert_eq!(q("1Gi").cmp(&q("1073741824")), Ordering::Equal);
}

#[test]
fn sums_are_exact_and_keep_the_first_format() {
    let sum = q("1Gi") + q("512Mi");
    assert_eq!(sum.to_string(), "1536Mi");
    assert_eq!((q("100m") + q("200m")).to_string(), "300m");
    assert_eq!((Quantity::zero() + q("1Ki")).format(), Format::BinarySI);
    assert_eq!((q("1") - q("1500m")).to_string(), "-500m");
    let total: Quantity = ["100m", "250m", "1"].iter().map(|s| q(s)).sum();
    assert_eq!(total.to_string(), "1350m");
    assert_eq!(q("1").checked_add(&q("2")), Some(q("3")));
    assert_eq!(
        Quantity::from_nanos(i128::MAX, Format::DecimalSI),
        Quantity::new(i64::MAX, Format::DecimalSI)
    );
    let huge = Quantity {
        nanos: i128::MAX,
        format: Format::DecimalSI,
    };
    assert_eq!(huge.checked_add(&q("1n")), None);
    assert_eq!((huge + q("1n")).nanos(), i128::MAX);
    let _ = (-(huge) - huge).to_string();
}

#[test]
fn constructors_print_as_expected() {
    assert_eq!(Quantity::from_milli(250).to_string(), "250m");
    assert_eq!(Quantity::new(1 << 30, Format::BinarySI).to_string(), "1Gi");
    assert_eq!(Quantity::new(3, Format::DecimalSI).to_string(), "3");
}

#[test]
fn json_accepts_strings_numbers_and_null() {
    let parsed: Vec<Quantity> = serde_json::from_str(r#"["1Gi", " 500m ", 2, 1.5, null]"#).unwrap();
    let printed: Vec<String> = parsed.iter().map(ToString::to_string).collect();
    assert_eq!(printed, ["1Gi", "500m", "2", "1500m", "0"]);
    assert_eq!(serde_json::to_string(&q("1.5Gi")).unwrap(), "\"1536Mi\"");
    assert!(serde_json::from_str::<Quantity>("\"1x\"").is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A quantity spelled with a small integer part, up to three decimals and any suffix, and
    /// its exact amount in nanos computed the obvious way.
    fn spelled() -> impl Strategy<Value = (String, i128)> {
        let suffixes = prop_oneof![
            Just(("", 1i128, 1i128)),
            Just(("n", 1, 1_000_000_000)),
            Just(("u", 1, 1_000_000)),
            Just(("m", 1, 1_000)),
            Just(("k", 1_000, 1)),
            Just(("M", 1_000_000, 1)),
            Just(("G", 1_000_000_000, 1)),
            Just(("Ki", 1 << 10, 1)),
            Just(("Mi", 1 << 20, 1)),
            Just(("Gi", 1 << 30, 1)),
            Just(("e2", 100, 1)),
            Just(("e-2", 1, 100)),
        ];
        (
            any::<bool>(),
            0i128..1_000_000,
            0usize..4,
            0i128..1000,
            suffixes,
        )
            .prop_map(
                |(negative, integer, decimals, fraction, (suffix, multiplier, divisor))| {
                    let fraction = fraction % 10i128.pow(decimals as u32);
                    let text = if decimals == 0 {
                        format!("{}{integer}{suffix}", if negative { "-" } else { "" })
                    } else {
                        let fraction = format!("{fraction:0width$}", width = decimals);
                        format!(
                            "{}{integer}.{fraction}{suffix}",
                            if negative { "-" } else { "" }
                        )
                    };
                    let scaled = integer * 10i128.pow(decimals as u32) + fraction;
                    let numerator = scaled * multiplier * NANOS_PER_UNIT;
                    let denominator = divisor * 10i128.pow(decimals as u32);
                    let magnitude = (numerator + denominator - 1) / denominator;
                    (text, if negative { -magnitude } else { magnitude })
                },
            )
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_strings_never_panics(input in ".{0,40}") {
            let _ = Quantity::parse(&input);
        }

        #[test]
        fn parsing_quantity_shaped_strings_never_panics(input in "[-+]?[0-9.]{0,30}[eEinumkKMGTP]{0,3}[-+]?[0-9]{0,12}") {
            if let Ok(quantity) = Quantity::parse(&input) {
                let printed = quantity.to_string();
                prop_assert_eq!(Quantity::parse(&printed), Ok(quantity), "{} printed {}", input, printed);
            }
        }

        #[test]
        fn parsing_agrees_with_exact_arithmetic((text, nanos) in spelled()) {
            prop_assert_eq!(q(&text).nanos(), nanos, "{}", text);
        }

        #[test]
        fn printing_round_trips_and_is_stable((text, _) in spelled()) {
            let quantity = q(&text);
            let printed = quantity.to_string();
            let reparsed = q(&printed);
            prop_assert_eq!(reparsed, quantity);
            prop_assert_eq!(reparsed.to_string(), printed);
        }

        #[test]
        fn ordering_agrees_with_the_exact_amounts((a, a_nanos) in spelled(), (b, b_nanos) in spelled()) {
            prop_assert_eq!(q(&a).cmp(&q(&b)), a_nanos.cmp(&b_nanos));
            prop_assert_eq!(q(&q(&a).to_string()).cmp(&q(&q(&b).to_string())), a_nanos.cmp(&b_nanos));
        }

        #[test]
        fn addition_is_exact((a, a_nanos) in spelled(), (b, b_nanos) in spelled()) {
            let sum = q(&a) + q(&b);
            prop_assert_eq!(sum.nanos(), a_nanos + b_nanos);
            prop_assert_eq!(sum - q(&b), q(&a));
            prop_assert_eq!(q(&b) + q(&a), sum);
        }
    }
}
