//! Rendering objects in the representation the client negotiated: as themselves, as a
//! `meta.k8s.io/v1 Table` (what kubectl prints), or as `PartialObjectMetadata`.

use std::sync::Arc;

use bulwark_core::ResourceInfo;
use bulwark_registry::table::IncludeObject;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::entry::Entry;
use crate::http::Incoming;
use crate::negotiate::Representation;

fn include_object(incoming: &Incoming) -> IncludeObject {
    match incoming.query.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

/// `PartialObjectMetadata` for one object.
pub fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// One object in the negotiated representation.
pub fn one(
    server: &ApiServer,
    info: &'static ResourceInfo,
    representation: Representation,
    incoming: &Incoming,
    object: &Value,
) -> Value {
    match representation {
        Representation::Object => object.clone(),
        Representation::Metadata => partial_metadata(object),
        Representation::Table => {
            let metadata = json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
            bulwark_registry::table::table(
                info,
                [object],
                server.clock.now(),
                include_object(incoming),
                metadata,
            )
        }
    }
}

/// A list in the negotiated representation, serialised straight to bytes: objects are borrowed
/// while writing, so a list of 10,000 objects costs no deep copies.
pub fn many_json(
    server: &ApiServer,
    info: &'static ResourceInfo,
    representation: Representation,
    incoming: &Incoming,
    objects: &[&Value],
    list_metadata: Value,
) -> Vec<u8> {
    match representation {
        Representation::Table => bulwark_registry::table::table_json(
            info,
            objects,
            server.clock.now(),
            include_object(incoming),
            &list_metadata,
        ),
        Representation::Object => {
            let list = ObjectList {
                api_version: info.api_version(),
                items: objects,
                kind: format!("{}List", info.kind),
                metadata: &list_metadata,
            };
            serde_json::to_vec(&list).expect("JSON values always serialise")
        }
        Representation::Metadata => {
            let value = many(
                server,
                info,
                representation,
                incoming,
                objects,
                list_metadata,
            );
            serde_json::to_vec(&value).expect("JSON values always serialise")
        }
    }
}

/// A list of cached objects in the negotiated representation, as JSON bytes. Objects as
/// themselves and their metadata are spliced from the cached bytes; Tables decode each object
/// (without `managedFields`) for its cells; objects shown in another shape are decoded whole.
pub fn entries_json(
    server: &ApiServer,
    info: &'static ResourceInfo,
    representation: Representation,
    incoming: &Incoming,
    entries: &[Arc<Entry>],
    list_metadata: Value,
) -> Vec<u8> {
    if crate::view::converts(info) {
        let presented: Vec<Value> = entries
            .iter()
            .map(|entry| crate::view::present(info, &entry.value()).into_owned())
            .collect();
        let refs: Vec<&Value> = presented.iter().collect();
        return many_json(server, info, representation, incoming, &refs, list_metadata);
    }
    let size: usize = entries.iter().map(|entry| entry.json.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 256);
    let write = |out: &mut Vec<u8>, value: &Value| {
        serde_json::to_writer(out, value).expect("JSON values always serialise")
    };
    match representation {
        Representation::Object => object_list_json(&mut out, info, entries, &list_metadata),
        Representation::Metadata => {
            out.extend_from_slice(b"{\"apiVersion\":\"meta.k8s.io/v1\",\"items\":[");
            for (at, entry) in entries.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                partial_metadata_json(&mut out, entry);
            }
            out.extend_from_slice(b"],\"kind\":\"PartialObjectMetadataList\",\"metadata\":");
            write(&mut out, &list_metadata);
            out.push(b'}');
        }
        Representation::Table => table_entries_json(
            &mut out,
            info,
            entries,
            server.clock.now(),
            include_object(incoming),
            &list_metadata,
        ),
    }
    out
}

/// `<Kind>List` of cached objects: their bytes, spliced.
fn object_list_json(
    out: &mut Vec<u8>,
    info: &ResourceInfo,
    entries: &[Arc<Entry>],
    list_metadata: &Value,
) {
    let write = |out: &mut Vec<u8>, value: &Value| {
        serde_json::to_writer(out, value).expect("JSON values always serialise")
    };
    out.extend_from_slice(b"{\"apiVersion\":");
    write(out, &Value::String(info.api_version()));
    out.extend_from_slice(b",\"items\":[");
    for (at, entry) in entries.iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&entry.json);
    }
    out.extend_from_slice(b"],\"kind\":");
    write(out, &Value::String(format!("{}List", info.kind)));
    out.extend_from_slice(b",\"metadata\":");
    write(out, list_metadata);
    out.push(b'}');
}

/// A Table of cached objects: [`bulwark_registry::table::table_json`]'s document, byte for byte.
fn table_entries_json(
    out: &mut Vec<u8>,
    info: &ResourceInfo,
    entries: &[Arc<Entry>],
    now: jiff::Timestamp,
    include: IncludeObject,
    list_metadata: &Value,
) {
    let write = |out: &mut Vec<u8>, value: &Value| {
        serde_json::to_writer(out, value).expect("JSON values always serialise")
    };
    out.extend_from_slice(b"{\"apiVersion\":\"meta.k8s.io/v1\",\"columnDefinitions\":");
    write(
        out,
        &Value::Array(bulwark_registry::table::column_definitions(info)),
    );
    out.extend_from_slice(b",\"kind\":\"Table\",\"metadata\":");
    if list_metadata.is_object() {
        write(out, list_metadata);
    } else {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b",\"rows\":[");
    for (at, entry) in entries.iter().enumerate() {
        if at > 0 {
            out.push(b',');
        }
        let object = entry.value_without_managed_fields();
        let row = bulwark_registry::table::row(info, &object, now, IncludeObject::None);
        out.push(b'{');
        let fields = row.as_object().into_iter().flatten();
        for (index, (key, value)) in fields.enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write(out, &Value::String(key.clone()));
            out.push(b':');
            if key == "object" {
                match include {
                    IncludeObject::None => out.extend_from_slice(b"null"),
                    IncludeObject::Object => out.extend_from_slice(&entry.json),
                    IncludeObject::Metadata => partial_metadata_json(out, entry),
                }
            } else {
                write(out, value);
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// `PartialObjectMetadata` for a cached object, spliced from its bytes.
fn partial_metadata_json(out: &mut Vec<u8>, entry: &Entry) {
    out.extend_from_slice(
        b"{\"apiVersion\":\"meta.k8s.io/v1\",\"kind\":\"PartialObjectMetadata\",\"metadata\":",
    );
    out.extend_from_slice(entry.metadata_json());
    out.push(b'}');
}

#[derive(serde::Serialize)]
struct ObjectList<'a> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    items: &'a [&'a Value],
    kind: String,
    metadata: &'a Value,
}

/// A list in the negotiated representation; `list_metadata` carries resourceVersion/continue.
pub fn many(
    server: &ApiServer,
    info: &'static ResourceInfo,
    representation: Representation,
    incoming: &Incoming,
    objects: &[&Value],
    list_metadata: Value,
) -> Value {
    match representation {
        Representation::Table => bulwark_registry::table::table(
            info,
            objects.iter().copied(),
            server.clock.now(),
            include_object(incoming),
            list_metadata,
        ),
        Representation::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_metadata,
            "items": objects.iter().map(|o| partial_metadata(o)).collect::<Vec<_>>(),
        }),
        Representation::Object => json!({
            "kind": format!("{}List", info.kind),
            "apiVersion": info.api_version(),
            "metadata": list_metadata,
            "items": objects,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> &'static ResourceInfo {
        bulwark_core::resource::find("", "v1", "pods").expect("pods are served")
    }

    fn entries() -> Vec<Arc<Entry>> {
        (0..3)
            .map(|n| {
                let pod = json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": format!("web-{n}"),
                        "namespace": "default",
                        "creationTimestamp": "2026-01-01T00:00:00Z",
                        "labels": {"app": "web"},
                        "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                    },
                    "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
                });
                Arc::new(Entry::new(pods(), pod, 10 + n))
            })
            .collect()
    }

    #[test]
    fn spliced_tables_match_tables_of_decoded_objects() {
        let entries = entries();
        let values: Vec<Value> = entries.iter().map(|entry| entry.value()).collect();
        let refs: Vec<&Value> = values.iter().collect();
        let now: jiff::Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let metadata = json!({"resourceVersion": "12"});
        for include in [
            IncludeObject::None,
            IncludeObject::Metadata,
            IncludeObject::Object,
        ] {
            let mut spliced = Vec::new();
            table_entries_json(&mut spliced, pods(), &entries, now, include, &metadata);
            let expected =
                bulwark_registry::table::table_json(pods(), &refs, now, include, &metadata);
            assert_eq!(
                String::from_utf8(spliced).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn spliced_object_lists_match_serialised_lists() {
        let entries = entries();
        let values: Vec<Value> = entries.iter().map(|entry| entry.value()).collect();
        let refs: Vec<&Value> = values.iter().collect();
        let list = ObjectList {
            api_version: "v1".to_string(),
            items: &refs,
            kind: "PodList".to_string(),
            metadata: &json!({"resourceVersion": "12"}),
        };
        let expected = serde_json::to_vec(&list).unwrap();
        let mut spliced = Vec::new();
        object_list_json(
            &mut spliced,
            pods(),
            &entries,
            &json!({"resourceVersion": "12"}),
        );
        assert_eq!(spliced, expected);
    }
}
