//! Resources that share storage but differ in shape: `events.k8s.io/v1` Events are stored as
//! core `v1` Events and converted on the way in and out, as upstream does.

use std::borrow::Cow;

use bulwark_core::ResourceInfo;
use serde_json::Value;

fn is_events_v1(info: &ResourceInfo) -> bool {
    info.group == "events.k8s.io"
}

/// Whether this resource's clients see objects in another shape than the stored one.
pub fn converts(info: &ResourceInfo) -> bool {
    is_events_v1(info)
}

/// The object as this resource's clients see it.
pub fn present<'a>(info: &ResourceInfo, stored: &'a Value) -> Cow<'a, Value> {
    if is_events_v1(info) {
        Cow::Owned(bulwark_registry::events::to_events_v1(stored))
    } else {
        Cow::Borrowed(stored)
    }
}

/// The object as it is stored.
pub fn to_storage(info: &ResourceInfo, object: Value) -> Value {
    if is_events_v1(info) {
        bulwark_registry::events::from_events_v1(&object)
    } else {
        object
    }
}

/// The resource whose strategy (decoding, defaults, validation) applies to the stored form.
pub fn storage_resource(info: &'static ResourceInfo) -> &'static ResourceInfo {
    if is_events_v1(info) {
        bulwark_core::resource::find("", "v1", "events").expect("core events are always served")
    } else {
        info
    }
}
