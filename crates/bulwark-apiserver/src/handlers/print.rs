//! Rendering objects in the representation the client negotiated: as themselves, as a
//! `meta.k8s.io/v1 Table` (what kubectl prints), or as `PartialObjectMetadata`.

use bulwark_core::ResourceInfo;
use bulwark_registry::table::IncludeObject;
use serde_json::{Value, json};

use crate::ApiServer;
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
