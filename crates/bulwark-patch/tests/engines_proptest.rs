//! Property tests for the patch engines: no input makes them panic, merge patch
//! round-trips through its own diff, and strategic merge patch on untyped maps
//! is exactly RFC 7386.

use bulwark_patch::{Schema, json_patch, merge_patch, strategic};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys that exercise the schema and every directive, plus plain names.
const KEYS: &[&str] = &[
    "a",
    "b",
    "name",
    "spec",
    "metadata",
    "containers",
    "ports",
    "containerPort",
    "finalizers",
    "tolerations",
    "image",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$setElementOrder/finalizers",
    "$deleteFromPrimitiveList/finalizers",
    "$unknown",
];

const PLAIN_KEYS: &[&str] = &["a", "b", "c", "name", "spec", "x/y", "~"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(|n| json!(n)),
        Just(json!(1.5)),
        prop_oneof![
            Just("replace"),
            Just("delete"),
            Just("merge"),
            Just("c"),
            Just("a")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn value_with_keys(keys: &'static [&'static str], nulls: bool) -> impl Strategy<Value = Value> {
    let leaf = scalar().prop_filter("no nulls", move |v| nulls || !v.is_null());
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(keys), inner), 0..4).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn any_value() -> impl Strategy<Value = Value> {
    value_with_keys(KEYS, true)
}

fn object(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    inner.prop_map(|v| match v {
        Value::Object(_) => v,
        other => json!({ "a": other }),
    })
}

fn pointer() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("0"),
            Just("1"),
            Just("-"),
            Just("01"),
            Just("~1"),
            Just("~2")
        ],
        0..4,
    )
    .prop_map(|tokens| tokens.iter().map(|t| format!("/{t}")).collect())
}

fn json_patch_operation() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("add"),
            Just("remove"),
            Just("replace"),
            Just("move"),
            Just("copy"),
            Just("test"),
            Just("bogus")
        ],
        pointer(),
        pointer(),
        any_value(),
    )
        .prop_map(
            |(op, path, from, value)| json!({"op": op, "path": path, "from": from, "value": value}),
        )
}

fn pod_schema() -> Schema {
    let definitions = json!({
        "Pod": {"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {
                "finalizers": {"type": "array", "items": {"type": "string"},
                    "x-kubernetes-patch-strategy": "merge"}
            }},
            "spec": {"type": "object", "properties": {
                "containers": {"type": "array", "items": {"$ref": "#/$defs/Container"},
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
                "tolerations": {"type": "array", "items": {"type": "object"}}
            }}
        }},
        "Container": {"type": "object", "properties": {
            "name": {"type": "string"},
            "ports": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-patch-strategy": "merge,retainKeys",
                "x-kubernetes-patch-merge-key": "containerPort"}
        }}
    });
    let Value::Object(definitions) = definitions else {
        unreachable!("literal is an object")
    };
    Schema::from_definitions(&definitions)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_patch_never_panics(
        document in any_value(),
        operations in prop::collection::vec(json_patch_operation(), 0..6),
        raw_patch in any_value(),
    ) {
        let _ = json_patch::apply(&document, &Value::Array(operations));
        let _ = json_patch::apply(&document, &raw_patch);
    }

    #[test]
    fn merge_patch_never_panics(document in any_value(), patch in any_value()) {
        let _ = merge_patch::apply(&document, &patch);
    }

    #[test]
    fn strategic_merge_patch_never_panics(document in any_value(), patch in any_value()) {
        let schema = pod_schema();
        for node in [schema.root("Pod").expect("Pod defined"), schema.untyped()] {
            let _ = strategic::apply(&document, &patch, node);
            let _ = strategic::apply(&json!({"spec": document.clone()}), &json!({"spec": patch.clone()}), node);
        }
    }

    #[test]
    fn strategic_merge_patch_never_panics_on_pod_shapes(
        containers in prop::collection::vec(object(any_value()), 0..4),
        patch_containers in prop::collection::vec(object(any_value()), 0..4),
        order in prop::collection::vec(any_value(), 0..4),
    ) {
        let schema = pod_schema();
        let pod = schema.root("Pod").expect("Pod defined");
        let document = json!({"spec": {"containers": containers}});
        let patch = json!({"spec": {
            "containers": patch_containers,
            "$setElementOrder/containers": order,
        }});
        let _ = strategic::apply(&document, &patch, pod);
    }

    #[test]
    fn merge_patch_of_a_diff_reproduces_the_target(
        original in value_with_keys(PLAIN_KEYS, false),
        modified in value_with_keys(PLAIN_KEYS, false),
    ) {
        let diff = merge_patch::create(&original, &modified);
        prop_assert_eq!(merge_patch::apply(&original, &diff), modified);
    }

    #[test]
    fn strategic_merge_patch_on_untyped_maps_is_merge_patch(
        document in object(value_with_keys(KEYS, true)),
        patch in object(value_with_keys(PLAIN_KEYS, true)),
    ) {
        let schema = Schema::empty();
        let strategic = strategic::apply(&document, &patch, schema.untyped());
        prop_assert_eq!(strategic, Ok(merge_patch::apply(&document, &patch)));
    }
}
