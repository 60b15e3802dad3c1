//! Events, in both shapes: core `v1` (`involvedObject`, `message`, `source`, …) and
//! `events.k8s.io/v1` (`regarding`, `note`, `deprecatedSource`, …). Upstream prints both from one
//! internal type, so both read into one view here and print the same columns.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use serde_json::{Value, json};

use super::columns::{Column, NAME, field_of};
use super::duration::since;
use super::fields::{at, integer, name, text, time};

pub(super) const COLUMNS: &[Column] = &[
    Column::text("Last Seen", field_of::<Event>("lastTimestamp")),
    Column::text("Type", field_of::<Event>("type")),
    Column::text("Reason", field_of::<Event>("reason")),
    Column::text("Object", field_of::<Event>("involvedObject")),
    Column::text("Subobject", field_of::<ObjectReference>("fieldPath")).wide(),
    Column::text("Source", field_of::<Event>("source")).wide(),
    Column::text("Message", field_of::<Event>("message")),
    Column::text("First Seen", field_of::<Event>("firstTimestamp")).wide(),
    Column::text("Count", field_of::<Event>("count")).wide(),
    NAME.wide(),
];

/// Which of the two serializations an event object uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// Core `v1` Event.
    Core,
    /// `events.k8s.io/v1` Event.
    Events,
}

/// The fields the printer reads, whichever the shape.
struct View<'a> {
    object: &'a Value,
    first_timestamp: Option<Timestamp>,
    last_timestamp: Option<Timestamp>,
    count: i64,
    source_component: &'a str,
    source_host: &'a str,
    reporting_controller: &'a str,
    message: &'a str,
}

impl<'a> View<'a> {
    fn read(event: &'a Value, shape: Shape) -> View<'a> {
        match shape {
            Shape::Core => View {
                object: at(event, &["involvedObject"]).unwrap_or(&Value::Null),
                first_timestamp: time(event, &["firstTimestamp"]),
                last_timestamp: time(event, &["lastTimestamp"]),
                count: integer(event, &["count"]),
                source_component: text(event, &["source", "component"]),
                source_host: text(event, &["source", "host"]),
                reporting_controller: text(event, &["reportingComponent"]),
                message: text(event, &["message"]),
            },
            Shape::Events => View {
                object: at(event, &["regarding"]).unwrap_or(&Value::Null),
                first_timestamp: time(event, &["deprecatedFirstTimestamp"]),
                last_timestamp: time(event, &["deprecatedLastTimestamp"]),
                count: integer(event, &["deprecatedCount"]),
                source_component: text(event, &["deprecatedSource", "component"]),
                source_host: text(event, &["deprecatedSource", "host"]),
                reporting_controller: text(event, &["reportingController"]),
                message: text(event, &["note"]),
            },
        }
    }
}

pub(super) fn cells(event: &Value, shape: Shape, now: Timestamp) -> Vec<Value> {
    let view = View::read(event, shape);
    let first_seen = match view.first_timestamp {
        Some(first) => since(Some(first), now),
        None => since(time(event, &["eventTime"]), now),
    };
    let mut last_seen = match view.last_timestamp {
        Some(last) => since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut count = view.count;
    if at(event, &["series"]).is_some() {
        last_seen = since(time(event, &["series", "lastObservedTime"]), now);
        count = integer(event, &["series", "count"]);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }
    let source = format_source(
        first_non_empty(view.source_component, view.reporting_controller),
        first_non_empty(view.source_host, text(event, &["reportingInstance"])),
    );
    vec![
        json!(last_seen),
        json!(text(event, &["type"])),
        json!(text(event, &["reason"])),
        json!(target(view.object)),
        json!(text(view.object, &["fieldPath"])),
        json!(source),
        json!(view.message.trim()),
        json!(first_seen),
        json!(count),
        json!(name(event)),
    ]
}

/// `kind/name` in lower case kind, or the bare kind when the object has no name.
fn target(object: &Value) -> String {
    let kind = text(object, &["kind"]).to_lowercase();
    match text(object, &["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    }
}

fn first_non_empty<'a>(first: &'a str, second: &'a str) -> &'a str {
    if first.is_empty() { second } else { first }
}

/// `component, instance`, or just the component without an instance.
fn format_source(component: &str, instance: &str) -> String {
    if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().expect("valid timestamp")
    }

    #[test]
    fn core_event_row() {
        let event = json!({
            "metadata": {"name": "web-0.17f", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "message": "Back-off restarting failed container\n", "type": "Warning",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2025-06-01T11:00:00Z", "lastTimestamp": "2025-06-01T11:58:00Z", "count": 12
        });
        assert_eq!(
            cells(&event, Shape::Core, now()),
            vec![
                json!("2m"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, n1"),
                json!("Back-off restarting failed container"),
                json!("60m"),
                json!(12),
                json!("web-0.17f")
            ]
        );
    }

    #[test]
    fn new_style_event_uses_event_time_series_and_reporting_fields() {
        let event = json!({
            "metadata": {"name": "e1"},
            "regarding": {"kind": "Node"},
            "reason": "Starting", "note": "started", "type": "Normal",
            "eventTime": "2025-06-01T11:59:50.000000Z",
            "reportingController": "bulwark/agent", "reportingInstance": "n1"
        });
        let row = cells(&event, Shape::Events, now());
        assert_eq!(row[0], "10s");
        assert_eq!(row[3], "node");
        assert_eq!(row[5], "bulwark/agent, n1");
        assert_eq!(row[6], "started");
        assert_eq!(row[7], "10s");
        assert_eq!(row[8], 1);
        let mut series = event.clone();
        series["series"] = json!({"count": 4, "lastObservedTime": "2025-06-01T11:59:58.000000Z"});
        let row = cells(&series, Shape::Events, now());
        assert_eq!((row[0].clone(), row[8].clone()), (json!("2s"), json!(4)));
    }

    #[test]
    fn empty_event_prints_placeholders() {
        let row = cells(&json!({}), Shape::Core, now());
        assert_eq!(row[0], "<unknown>");
        assert_eq!(row[3], "");
        assert_eq!(row[8], 1);
    }
}
