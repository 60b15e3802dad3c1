//! Upstream's validation: one [`StatusCause`] per bad field, with Kubernetes' field paths,
//! cause types and messages, so `kubectl` users read the errors they already know.
//!
//! Objects arrive decoded to the canonical JSON shape and defaulted ([`crate::defaults`]);
//! fields of the wrong JSON type read as absent (strict decoding reports those earlier), so
//! nothing here can panic on odd input.
//!
//! * [`validate_create`] — metadata plus the kind's own rules;
//! * [`validate_update`] — metadata immutability, the kind's immutable fields, then the
//!   create-time rules on the new object;
//! * small reusable validators for names, labels and qualified names ([`is_dns1123_subdomain`]
//!   and friends) for other modules.

mod apps;
mod batch;
mod config;
mod core_kinds;
mod field;
mod json;
mod meta;
mod names;
mod pod;
mod policy;
mod quantity;

use bulwark_core::StatusCause;
use bulwark_core::resource::ResourceInfo;
use serde_json::Value;

pub use batch::parse_schedule;
pub use meta::TOTAL_ANNOTATION_SIZE_LIMIT_BYTES;
pub use names::{
    config_map_key_errors, dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors,
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, label_value_errors,
    qualified_name_errors, validate_label_value, validate_qualified_name,
};
pub use policy::HIGHEST_USER_DEFINABLE_PRIORITY;

use meta::NameFormat;

/// Causes for a new object of `resource`'s kind; empty when valid.
pub fn validate_create(resource: &ResourceInfo, object: &Value) -> Vec<StatusCause> {
    let mut causes = meta::validate_create(object, resource.namespaced(), name_format(resource));
    causes.extend(kind_rules(resource, object, None));
    deduplicated(causes)
}

/// Causes for replacing `old` with `new`: immutable fields first, then the create-time rules.
pub fn validate_update(resource: &ResourceInfo, new: &Value, old: &Value) -> Vec<StatusCause> {
    let mut causes = meta::validate_update(new, old);
    causes.extend(immutable_fields(resource, new, old));
    causes.extend(kind_rules(resource, new, Some(old)));
    deduplicated(causes)
}

/// Namespaces are DNS labels (they become DNS names); Services are DNS-1035 labels (they become
/// environment variables and DNS names); everything else is a DNS subdomain.
fn name_format(resource: &ResourceInfo) -> NameFormat {
    match (resource.group, resource.kind) {
        ("", "Namespace") => NameFormat::Dns1123Label,
        ("", "Service") => NameFormat::Dns1035Label,
        _ => NameFormat::Dns1123Subdomain,
    }
}

/// The kind-specific rules; `old` is present on update (pods validate differently then).
fn kind_rules(resource: &ResourceInfo, object: &Value, old: Option<&Value>) -> Vec<StatusCause> {
    match (resource.group, resource.kind) {
        ("", "Pod") => match old {
            Some(old) => pod::validate_pod_update(object, old),
            None => pod::validate_pod_create(object),
        },
        ("", "Service") => core_kinds::validate_service(object),
        ("", "Namespace") => core_kinds::validate_namespace(object),
        ("", "Node") => core_kinds::validate_node(object),
        ("", "Endpoints") => core_kinds::validate_endpoints(object),
        ("", "ConfigMap") => config::validate_config_map(object),
        ("", "Secret") => config::validate_secret(object),
        ("", "ResourceQuota") => core_kinds::validate_resource_quota(object),
        ("", "LimitRange") => core_kinds::validate_limit_range(object),
        ("coordination.k8s.io", "Lease") => core_kinds::validate_lease(object),
        ("discovery.k8s.io", "EndpointSlice") => core_kinds::validate_endpoint_slice(object),
        ("apps", "Deployment") => apps::validate_deployment(object),
        ("apps", "ReplicaSet") => apps::validate_replica_set(object),
        ("apps", "DaemonSet") => apps::validate_daemon_set(object),
        ("batch", "Job") => batch::validate_job(object),
        ("batch", "CronJob") => batch::validate_cron_job(object),
        ("policy", "PodDisruptionBudget") => policy::validate_pod_disruption_budget(object),
        ("scheduling.k8s.io", "PriorityClass") => policy::validate_priority_class(object),
        _ => Vec::new(),
    }
}

/// Fields fixed at creation, per kind.
fn immutable_fields(resource: &ResourceInfo, new: &Value, old: &Value) -> Vec<StatusCause> {
    match (resource.group, resource.kind) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => {
            apps::validate_selector_unchanged(new, old)
        }
        ("batch", "Job") => batch::validate_job_update(new, old),
        ("", "Service") => core_kinds::validate_service_update(new, old),
        ("", "ConfigMap") => config::validate_update(new, old, &["data", "binaryData"]),
        ("", "Secret") => config::validate_update(new, old, &["data", "stringData"]),
        ("scheduling.k8s.io", "PriorityClass") => policy::validate_priority_class_update(new, old),
        _ => Vec::new(),
    }
}

/// Upstream reports each distinct error once.
fn deduplicated(causes: Vec<StatusCause>) -> Vec<StatusCause> {
    let mut unique: Vec<StatusCause> = Vec::with_capacity(causes.len());
    for cause in causes {
        if !unique.contains(&cause) {
            unique.push(cause);
        }
    }
    unique
}

#[cfg(test)]
pub(crate) mod tests;
