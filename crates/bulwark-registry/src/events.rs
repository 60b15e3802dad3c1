//! Conversion between core `v1` Events and `events.k8s.io/v1` Events.
//!
//! Both APIs serve the same stored objects (kept in the core `v1` form). The two kinds carry the
//! same information under different names, as upstream's conversion functions map them:
//! `involvedObject` ⇄ `regarding`, `message` ⇄ `note`, `reportingComponent` ⇄
//! `reportingController`, `source` ⇄ `deprecatedSource`, `firstTimestamp` ⇄
//! `deprecatedFirstTimestamp`, `lastTimestamp` ⇄ `deprecatedLastTimestamp`, `count` ⇄
//! `deprecatedCount`. Every other field (`metadata`, `eventTime`, `series`, `action`, `reason`,
//! `type`, `related`, `reportingInstance`) has the same name and shape in both.

use serde_json::{Map, Value};

/// (core `v1` name, `events.k8s.io/v1` name) of every field whose name differs.
const RENAMED_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

const EVENTS_API_VERSION: &str = "events.k8s.io/v1";
const CORE_API_VERSION: &str = "v1";

/// A core `v1` Event as an `events.k8s.io/v1` Event.
pub fn to_events_v1(core: &Value) -> Value {
    let renamed = |name: &str| {
        RENAMED_FIELDS
            .iter()
            .find(|(from, _)| *from == name)
            .map(|(_, to)| *to)
    };
    convert(core, renamed, EVENTS_API_VERSION)
}

/// An `events.k8s.io/v1` Event as a core `v1` Event.
pub fn from_events_v1(events: &Value) -> Value {
    let renamed = |name: &str| {
        RENAMED_FIELDS
            .iter()
            .find(|(_, from)| *from == name)
            .map(|(to, _)| *to)
    };
    convert(events, renamed, CORE_API_VERSION)
}

/// Renames the top-level fields; anything that is not an object passes through unchanged.
fn convert(
    value: &Value,
    renamed: impl Fn(&str) -> Option<&'static str>,
    api_version: &str,
) -> Value {
    let Value::Object(object) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (name, field) in object {
        let target = renamed(name).map_or_else(|| name.clone(), str::to_string);
        // A renamed field wins over a stray field that already bears the target name.
        if renamed(name).is_some() || !out.contains_key(&target) {
            out.insert(target, field.clone());
        }
    }
    out.insert(
        "apiVersion".to_string(),
        Value::String(api_version.to_string()),
    );
    out.insert("kind".to_string(), Value::String("Event".to_string()));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn core_event() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.17", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u1"},
            "reason": "Started",
            "message": "Started container web",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2025-01-01T00:00:00Z",
            "lastTimestamp": "2025-01-01T00:01:00Z",
            "count": 3,
            "type": "Normal",
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"},
            "action": "Start",
            "related": {"kind": "Node", "name": "node-1"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
        })
    }

    #[test]
    fn core_fields_take_their_events_v1_names() {
        let events = to_events_v1(&core_event());
        assert_eq!(events["apiVersion"], "events.k8s.io/v1");
        assert_eq!(events["regarding"]["name"], "web");
        assert_eq!(events["note"], "Started container web");
        assert_eq!(events["reportingController"], "kubelet");
        assert_eq!(events["deprecatedSource"]["host"], "node-1");
        assert_eq!(events["deprecatedFirstTimestamp"], "2025-01-01T00:00:00Z");
        assert_eq!(events["deprecatedLastTimestamp"], "2025-01-01T00:01:00Z");
        assert_eq!(events["deprecatedCount"], 3);
        assert_eq!(events["series"]["count"], 2);
        assert_eq!(events["eventTime"], "2025-01-01T00:00:00.000000Z");
        for core_only in [
            "involvedObject",
            "message",
            "reportingComponent",
            "source",
            "count",
        ] {
            assert!(events.get(core_only).is_none(), "{core_only}");
        }
    }

    #[test]
    fn an_events_v1_event_converts_back_exactly() {
        assert_eq!(from_events_v1(&to_events_v1(&core_event())), core_event());
    }

    #[test]
    fn both_forms_are_valid_typed_events() {
        let events = crate::normalize::normalize_kind(
            "events.k8s.io",
            "v1",
            "Event",
            to_events_v1(&core_event()),
        )
        .unwrap();
        assert_eq!(events["note"], "Started container web");
        assert_eq!(events["regarding"]["uid"], "u1");
        let core =
            crate::normalize::normalize_kind("", "v1", "Event", from_events_v1(&events)).unwrap();
        assert_eq!(core["involvedObject"]["uid"], "u1");
        assert_eq!(core["reportingComponent"], "kubelet");
    }

    #[test]
    fn a_renamed_field_wins_over_a_stray_one() {
        let events = json!({"note": "real", "message": "stray"});
        assert_eq!(from_events_v1(&events)["message"], "real");
    }

    #[test]
    fn non_objects_pass_through() {
        assert_eq!(to_events_v1(&json!(null)), json!(null));
    }

    const CORE_FIELDS: &[&str] = &[
        "metadata",
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "eventTime",
        "series",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    ];

    fn field_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[a-z ]{0,12}".prop_map(Value::String),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z]{1,6}".prop_map(|name| json!({"name": name})),
        ]
    }

    fn core_events() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(
            prop::sample::select(CORE_FIELDS),
            field_value(),
            0..CORE_FIELDS.len(),
        )
        .prop_map(|fields| {
            let mut object: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            object.insert("apiVersion".into(), json!("v1"));
            object.insert("kind".into(), json!("Event"));
            Value::Object(object)
        })
    }

    proptest! {
        #[test]
        fn core_to_events_v1_round_trips(core in core_events()) {
            prop_assert_eq!(from_events_v1(&to_events_v1(&core)), core);
        }

        #[test]
        fn events_v1_to_core_round_trips(core in core_events()) {
            let events = to_events_v1(&core);
            prop_assert_eq!(to_events_v1(&from_events_v1(&events)), events);
        }
    }
}
