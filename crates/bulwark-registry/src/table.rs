//! Server-side printing: the `meta.k8s.io/v1` Table a client gets when it sends
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, with upstream's columns per kind
//! (`pkg/printers/internalversion/printers.go`, Kubernetes 1.33).
//!
//! Like upstream's server, every row carries every cell, the `-o wide` ones included; the column
//! priority (1 for wide) tells kubectl which to hide. Kinds upstream has no printer for (LimitRange)
//! and kinds not listed here get upstream's default table, `NAME` and `CREATED AT`.
//!
//! Printing is total: objects of any shape print, with Go's zero values or upstream's `<none>`,
//! `<unset>` and `<unknown>` placeholders where fields are missing or of the wrong type.

mod apps;
mod batch;
mod columns;
mod config;
mod default;
mod duration;
mod event;
mod fields;
mod format;
mod network;
mod node;
mod pod;
mod policy;

use std::collections::HashMap;
use std::sync::LazyLock;

use bulwark_core::resource::{RESOURCES, ResourceInfo};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub use duration::human_duration;

use columns::Column;

/// What each row's `object` holds (`?includeObject=`); kubectl's default is `Metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `"object": null`.
    None,
    /// A `meta.k8s.io/v1` `PartialObjectMetadata` with the object's metadata.
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter; `None` for anything else than the three
    /// values upstream accepts (an empty value means the default).
    pub fn from_query(value: &str) -> Option<IncludeObject> {
        match value {
            "None" => Some(IncludeObject::None),
            "Metadata" | "" => Some(IncludeObject::Metadata),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// How one kind prints.
struct Printer {
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
    /// `metav1.TableRowCondition`s for a row; only pods have any.
    row_conditions: fn(&Value) -> Vec<Value>,
}

const fn printer(
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
) -> Printer {
    Printer {
        columns,
        cells,
        row_conditions: no_row_conditions,
    }
}

fn no_row_conditions(_: &Value) -> Vec<Value> {
    Vec::new()
}

fn core_event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    event::cells(event, event::Shape::Core, now)
}

fn events_api_event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    event::cells(event, event::Shape::Events, now)
}

static POD: Printer = Printer {
    columns: pod::COLUMNS,
    cells: pod::cells,
    row_conditions: pod::row_conditions,
};
static NODE: Printer = printer(node::COLUMNS, node::cells);
static NAMESPACE: Printer = printer(config::NAMESPACE_COLUMNS, config::namespace_cells);
static CONFIG_MAP: Printer = printer(config::CONFIG_MAP_COLUMNS, config::config_map_cells);
static SECRET: Printer = printer(config::SECRET_COLUMNS, config::secret_cells);
static SERVICE_ACCOUNT: Printer = printer(
    config::SERVICE_ACCOUNT_COLUMNS,
    config::service_account_cells,
);
static SERVICE: Printer = printer(network::SERVICE_COLUMNS, network::service_cells);
static ENDPOINTS: Printer = printer(network::ENDPOINTS_COLUMNS, network::endpoints_cells);
static ENDPOINT_SLICE: Printer = printer(
    network::ENDPOINT_SLICE_COLUMNS,
    network::endpoint_slice_cells,
);
static CORE_EVENT: Printer = printer(event::COLUMNS, core_event_cells);
static EVENTS_API_EVENT: Printer = printer(event::COLUMNS, events_api_event_cells);
static RESOURCE_QUOTA: Printer =
    printer(policy::RESOURCE_QUOTA_COLUMNS, policy::resource_quota_cells);
static POD_DISRUPTION_BUDGET: Printer = printer(
    policy::POD_DISRUPTION_BUDGET_COLUMNS,
    policy::pod_disruption_budget_cells,
);
static PRIORITY_CLASS: Printer =
    printer(policy::PRIORITY_CLASS_COLUMNS, policy::priority_class_cells);
static LEASE: Printer = printer(policy::LEASE_COLUMNS, policy::lease_cells);
static DEPLOYMENT: Printer = printer(apps::DEPLOYMENT_COLUMNS, apps::deployment_cells);
static REPLICA_SET: Printer = printer(apps::REPLICA_SET_COLUMNS, apps::replica_set_cells);
static DAEMON_SET: Printer = printer(apps::DAEMON_SET_COLUMNS, apps::daemon_set_cells);
static CONTROLLER_REVISION: Printer = printer(
    apps::CONTROLLER_REVISION_COLUMNS,
    apps::controller_revision_cells,
);
static JOB: Printer = printer(batch::JOB_COLUMNS, batch::job_cells);
static CRON_JOB: Printer = printer(batch::CRON_JOB_COLUMNS, batch::cron_job_cells);
static DEFAULT: Printer = printer(default::COLUMNS, default::cells);

/// The printer of a resource, by group and kind (the version does not change the columns).
fn printer_for(resource: &ResourceInfo) -> &'static Printer {
    match (resource.group, resource.kind) {
        ("", "Pod") => &POD,
        ("", "Node") => &NODE,
        ("", "Namespace") => &NAMESPACE,
        ("", "ConfigMap") => &CONFIG_MAP,
        ("", "Secret") => &SECRET,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("", "Service") => &SERVICE,
        ("", "Endpoints") => &ENDPOINTS,
        ("", "Event") => &CORE_EVENT,
        ("", "ResourceQuota") => &RESOURCE_QUOTA,
        ("events.k8s.io", "Event") => &EVENTS_API_EVENT,
        ("discovery.k8s.io", "EndpointSlice") => &ENDPOINT_SLICE,
        ("coordination.k8s.io", "Lease") => &LEASE,
        ("policy", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("scheduling.k8s.io", "PriorityClass") => &PRIORITY_CLASS,
        ("apps", "Deployment") => &DEPLOYMENT,
        ("apps", "ReplicaSet") => &REPLICA_SET,
        ("apps", "DaemonSet") => &DAEMON_SET,
        ("apps", "ControllerRevision") => &CONTROLLER_REVISION,
        ("batch", "Job") => &JOB,
        ("batch", "CronJob") => &CRON_JOB,
        _ => &DEFAULT,
    }
}

/// Rendered column definitions, built once: descriptions come from OpenAPI schemas.
static DEFINITIONS: LazyLock<HashMap<usize, Vec<Value>>> = LazyLock::new(|| {
    let printers = RESOURCES.iter().map(printer_for).chain([&DEFAULT]);
    printers
        .map(|printer| (printer_key(printer), columns::render(printer.columns)))
        .collect()
});

/// A printer's identity: printers are statics, so their addresses are stable and distinct.
fn printer_key(printer: &'static Printer) -> usize {
    std::ptr::from_ref(printer) as usize
}

/// The `columnDefinitions` of a resource's table: `name`, `type`, `format`, `description` and
/// `priority` (0 always shown, 1 only with `-o wide`).
pub fn column_definitions(resource: &ResourceInfo) -> Vec<Value> {
    let printer = printer_for(resource);
    DEFINITIONS
        .get(&printer_key(printer))
        .cloned()
        .unwrap_or_else(|| columns::render(printer.columns))
}

/// The cells of one object's row, one per column definition, as of `now`.
pub fn row_cells(resource: &ResourceInfo, object: &Value, now: Timestamp) -> Vec<Value> {
    (printer_for(resource).cells)(object, now)
}

/// One `metav1.TableRow`.
pub fn row(
    resource: &ResourceInfo,
    object: &Value,
    now: Timestamp,
    include_object: IncludeObject,
) -> Value {
    let printer = printer_for(resource);
    let mut row = Map::new();
    row.insert(
        "cells".to_string(),
        Value::Array((printer.cells)(object, now)),
    );
    let conditions = (printer.row_conditions)(object);
    if !conditions.is_empty() {
        row.insert("conditions".to_string(), Value::Array(conditions));
    }
    row.insert("object".to_string(), row_object(object, include_object));
    Value::Object(row)
}

fn row_object(object: &Value, include_object: IncludeObject) -> Value {
    match include_object {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => object.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// A whole `meta.k8s.io/v1` Table for a get (one object), a list page or a watch event.
/// `list_metadata` becomes the table's `metadata` (`resourceVersion`, `continue`,
/// `remainingItemCount`); anything but an object reads as `{}`.
pub fn table<'a>(
    resource: &ResourceInfo,
    objects: impl IntoIterator<Item = &'a Value>,
    now: Timestamp,
    include_object: IncludeObject,
    list_metadata: Value,
) -> Value {
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|object| row(resource, object, now, include_object))
        .collect();
    let metadata = if list_metadata.is_object() {
        list_metadata
    } else {
        json!({})
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions(resource),
        "rows": rows,
    })
}

/// The same document as [`table`], serialised straight to JSON bytes: rows are computed while
/// writing and objects are borrowed, never copied, so a 10,000-row list costs no deep clones.
pub fn table_json(
    resource: &ResourceInfo,
    objects: &[&Value],
    now: Timestamp,
    include_object: IncludeObject,
    list_metadata: &Value,
) -> Vec<u8> {
    let empty = Value::Object(Map::new());
    let document = TableDocument {
        api_version: "meta.k8s.io/v1",
        column_definitions: column_definitions(resource),
        kind: "Table",
        metadata: if list_metadata.is_object() {
            list_metadata
        } else {
            &empty
        },
        rows: Rows {
            resource,
            objects,
            now,
            include_object,
        },
    };
    serde_json::to_vec(&document).expect("JSON values always serialise")
}

#[derive(serde::Serialize)]
struct TableDocument<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    #[serde(rename = "columnDefinitions")]
    column_definitions: Vec<Value>,
    kind: &'static str,
    metadata: &'a Value,
    rows: Rows<'a>,
}

struct Rows<'a> {
    resource: &'a ResourceInfo,
    objects: &'a [&'a Value],
    now: Timestamp,
    include_object: IncludeObject,
}

impl serde::Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let printer = printer_for(self.resource);
        serializer.collect_seq(self.objects.iter().map(|object| RowRef {
            cells: (printer.cells)(object, self.now),
            conditions: (printer.row_conditions)(object),
            object: RowObject {
                object,
                include: self.include_object,
            },
        }))
    }
}

#[derive(serde::Serialize)]
struct RowRef<'a> {
    cells: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conditions: Vec<Value>,
    object: RowObject<'a>,
}

struct RowObject<'a> {
    object: &'a Value,
    include: IncludeObject,
}

impl serde::Serialize for RowObject<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self.include {
            IncludeObject::None => serializer.serialize_unit(),
            IncludeObject::Object => self.object.serialize(serializer),
            IncludeObject::Metadata => {
                let empty = Value::Object(Map::new());
                let metadata = self
                    .object
                    .get("metadata")
                    .filter(|m| m.is_object())
                    .unwrap_or(&empty);
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("apiVersion", "meta.k8s.io/v1")?;
                map.serialize_entry("kind", "PartialObjectMetadata")?;
                map.serialize_entry("metadata", metadata)?;
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests;
