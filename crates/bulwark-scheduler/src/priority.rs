//! PriorityClass resolution (shared with the API server's Priority admission, in
//! [`bulwark_core::priority`]), fed from typed `PriorityClass` objects.

pub use bulwark_core::priority::*;

use k8s_openapi::api::scheduling::v1::PriorityClass;

/// Adds or replaces `class` in `classes`.
pub fn upsert(classes: &mut PriorityClasses, class: &PriorityClass) {
    classes.upsert(
        class.metadata.name.as_deref().unwrap_or_default(),
        class.value,
        class.global_default.unwrap_or(false),
        class.preemption_policy.as_deref(),
    );
}
