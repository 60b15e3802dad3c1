//! JSON schemas of every served kind, keyed by upstream's OpenAPI definition names
//! (`io.k8s.api.core.v1.Pod`), in OpenAPI 3.0 form (`#/components/schemas/...` references).
//!
//! The schemas come from k8s-openapi's schemars support. k8s-openapi drops the Kubernetes
//! extensions that upstream's OpenAPI carries, so this module lays them back on from a
//! declarative table transcribed from upstream's 1.33 `types.go` struct tags and markers:
//! `x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key` (strategic merge patch),
//! `x-kubernetes-list-type`/`x-kubernetes-list-map-keys`/`x-kubernetes-map-type` (server-side
//! apply) and `x-kubernetes-group-version-kind` on top-level kinds (kubectl explain).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use bulwark_core::resource::{RESOURCES, ResourceInfo};
use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v1 as autoscaling, batch::v1 as batch,
    coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
    events::v1 as events, policy::v1 as policy, scheduling::v1 as scheduling,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// Where OpenAPI 3.0 documents keep their schemas; every `$ref` starts with this.
pub const REF_PREFIX: &str = "#/components/schemas/";

/// A kind this crate knows the schema and typed form of.
pub struct KindEntry {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Whether a `<Kind>List` definition is served next to it (top-level resources).
    pub listed: bool,
    schema_name: fn() -> std::borrow::Cow<'static, str>,
    add_schema: fn(&mut SchemaGenerator) -> schemars::Schema,
    /// Deserializes into the typed k8s-openapi struct and serializes back.
    pub(crate) round_trip: fn(Value) -> Result<Value, serde_json::Error>,
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    value: Value,
) -> Result<Value, serde_json::Error> {
    let typed: T = serde_json::from_value(value)?;
    serde_json::to_value(typed)
}

macro_rules! kind {
    ($group:literal, $version:literal, $kind:literal, $ty:ty, listed: $listed:literal) => {
        KindEntry {
            group: $group,
            version: $version,
            kind: $kind,
            listed: $listed,
            schema_name: <$ty as JsonSchema>::schema_name,
            add_schema: |generator| generator.subschema_for::<$ty>(),
            round_trip: round_trip::<$ty>,
        }
    };
}

/// Every kind with a schema: the served resources, the kinds their subresources speak, and the
/// meta kinds every group-version document refers to.
pub static KINDS: &[KindEntry] = &[
    kind!("", "v1", "Namespace", core::Namespace, listed: true),
    kind!("", "v1", "Node", core::Node, listed: true),
    kind!("", "v1", "Pod", core::Pod, listed: true),
    kind!("", "v1", "Service", core::Service, listed: true),
    kind!("", "v1", "Endpoints", core::Endpoints, listed: true),
    kind!("", "v1", "Event", core::Event, listed: true),
    kind!("", "v1", "ConfigMap", core::ConfigMap, listed: true),
    kind!("", "v1", "Secret", core::Secret, listed: true),
    kind!("", "v1", "ServiceAccount", core::ServiceAccount, listed: true),
    kind!("", "v1", "ResourceQuota", core::ResourceQuota, listed: true),
    kind!("", "v1", "LimitRange", core::LimitRange, listed: true),
    kind!("", "v1", "Binding", core::Binding, listed: false),
    kind!("coordination.k8s.io", "v1", "Lease", coordination::Lease, listed: true),
    kind!("apps", "v1", "Deployment", apps::Deployment, listed: true),
    kind!("apps", "v1", "ReplicaSet", apps::ReplicaSet, listed: true),
    kind!("apps", "v1", "DaemonSet", apps::DaemonSet, listed: true),
    kind!("apps", "v1", "ControllerRevision", apps::ControllerRevision, listed: true),
    kind!("batch", "v1", "Job", batch::Job, listed: true),
    kind!("batch", "v1", "CronJob", batch::CronJob, listed: true),
    kind!("policy", "v1", "PodDisruptionBudget", policy::PodDisruptionBudget, listed: true),
    kind!("policy", "v1", "Eviction", policy::Eviction, listed: false),
    kind!("scheduling.k8s.io", "v1", "PriorityClass", scheduling::PriorityClass, listed: true),
    kind!("events.k8s.io", "v1", "Event", events::Event, listed: true),
    kind!("discovery.k8s.io", "v1", "EndpointSlice", discovery::EndpointSlice, listed: true),
    kind!("autoscaling", "v1", "Scale", autoscaling::Scale, listed: false),
    kind!("", "v1", "Status", meta::Status, listed: false),
    kind!("meta.k8s.io", "v1", "DeleteOptions", meta::DeleteOptions, listed: false),
];

/// The kind entry for a group, version and kind.
pub fn kind_entry(group: &str, version: &str, kind: &str) -> Option<&'static KindEntry> {
    KINDS
        .iter()
        .find(|entry| entry.group == group && entry.version == version && entry.kind == kind)
}

/// One field's extensions as upstream's struct tags and `+listType`/`+listMapKey`/`+mapType`
/// markers declare them. Empty strings mean "not set".
struct FieldExtensions {
    /// Short definition name: `core.v1.PodSpec` or `meta.v1.ObjectMeta`.
    definition: &'static str,
    field: &'static str,
    patch_strategy: &'static str,
    patch_merge_key: &'static str,
    list_type: &'static str,
    list_map_keys: &'static [&'static str],
    map_type: &'static str,
}

const fn field(
    definition: &'static str,
    field: &'static str,
    patch_strategy: &'static str,
    patch_merge_key: &'static str,
    list_type: &'static str,
    list_map_keys: &'static [&'static str],
    map_type: &'static str,
) -> FieldExtensions {
    FieldExtensions {
        definition,
        field,
        patch_strategy,
        patch_merge_key,
        list_type,
        list_map_keys,
        map_type,
    }
}

/// Upstream 1.33's field extensions for every definition served here, in upstream's order
/// (columns: definition, field, patch strategy, patch merge key, list type, list map keys,
/// map type).
#[rustfmt::skip]
static FIELD_EXTENSIONS: &[FieldExtensions] = &[
    field("core.v1.PersistentVolumeClaimSpec", "accessModes", "", "", "atomic", &[], ""),
    field("core.v1.RBDVolumeSource", "monitors", "", "", "atomic", &[], ""),
    field("core.v1.CephFSVolumeSource", "monitors", "", "", "atomic", &[], ""),
    field("core.v1.SecretVolumeSource", "items", "", "", "atomic", &[], ""),
    field("core.v1.SecretProjection", "items", "", "", "atomic", &[], ""),
    field("core.v1.ISCSIVolumeSource", "portals", "", "", "atomic", &[], ""),
    field("core.v1.FCVolumeSource", "targetWWNs", "", "", "atomic", &[], ""),
    field("core.v1.FCVolumeSource", "wwids", "", "", "atomic", &[], ""),
    field("core.v1.ConfigMapVolumeSource", "items", "", "", "atomic", &[], ""),
    field("core.v1.ConfigMapProjection", "items", "", "", "atomic", &[], ""),
    field("core.v1.ProjectedVolumeSource", "sources", "", "", "atomic", &[], ""),
    field("core.v1.HTTPGetAction", "httpHeaders", "", "", "atomic", &[], ""),
    field("core.v1.ExecAction", "command", "", "", "atomic", &[], ""),
    field("core.v1.Capabilities", "add", "", "", "atomic", &[], ""),
    field("core.v1.Capabilities", "drop", "", "", "atomic", &[], ""),
    field("core.v1.ResourceRequirements", "claims", "", "", "map", &["name"], ""),
    field("core.v1.Container", "command", "", "", "atomic", &[], ""),
    field("core.v1.Container", "args", "", "", "atomic", &[], ""),
    field("core.v1.Container", "ports", "merge", "containerPort", "map", &["containerPort", "protocol"], ""),
    field("core.v1.Container", "envFrom", "", "", "atomic", &[], ""),
    field("core.v1.Container", "env", "merge", "name", "map", &["name"], ""),
    field("core.v1.Container", "resizePolicy", "", "", "atomic", &[], ""),
    field("core.v1.Container", "volumeMounts", "merge", "mountPath", "map", &["mountPath"], ""),
    field("core.v1.Container", "volumeDevices", "merge", "devicePath", "map", &["devicePath"], ""),
    field("core.v1.ContainerStatus", "volumeMounts", "merge", "mountPath", "map", &["mountPath"], ""),
    field("core.v1.ContainerStatus", "allocatedResourcesStatus", "merge", "name", "map", &["name"], ""),
    field("core.v1.ResourceStatus", "resources", "", "", "map", &["resourceID"], ""),
    field("core.v1.LinuxContainerUser", "supplementalGroups", "", "", "atomic", &[], ""),
    field("core.v1.NodeSelector", "nodeSelectorTerms", "", "", "atomic", &[], ""),
    field("core.v1.NodeSelectorTerm", "matchExpressions", "", "", "atomic", &[], ""),
    field("core.v1.NodeSelectorTerm", "matchFields", "", "", "atomic", &[], ""),
    field("core.v1.NodeSelectorRequirement", "values", "", "", "atomic", &[], ""),
    field("core.v1.PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "", "", "atomic", &[], ""),
    field("core.v1.PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution", "", "", "atomic", &[], ""),
    field("core.v1.PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "", "", "atomic", &[], ""),
    field("core.v1.PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", "", "", "atomic", &[], ""),
    field("core.v1.PodAffinityTerm", "namespaces", "", "", "atomic", &[], ""),
    field("core.v1.PodAffinityTerm", "matchLabelKeys", "", "", "atomic", &[], ""),
    field("core.v1.PodAffinityTerm", "mismatchLabelKeys", "", "", "atomic", &[], ""),
    field("core.v1.NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", "", "", "atomic", &[], ""),
    field("core.v1.PodSpec", "volumes", "merge,retainKeys", "name", "map", &["name"], ""),
    field("core.v1.PodSpec", "initContainers", "merge", "name", "map", &["name"], ""),
    field("core.v1.PodSpec", "containers", "merge", "name", "map", &["name"], ""),
    field("core.v1.PodSpec", "ephemeralContainers", "merge", "name", "map", &["name"], ""),
    field("core.v1.PodSpec", "nodeSelector", "", "", "", &[], "atomic"),
    field("core.v1.PodSpec", "imagePullSecrets", "merge", "name", "map", &["name"], ""),
    field("core.v1.PodSpec", "tolerations", "", "", "atomic", &[], ""),
    field("core.v1.PodSpec", "hostAliases", "merge", "ip", "map", &["ip"], ""),
    field("core.v1.PodSpec", "readinessGates", "", "", "atomic", &[], ""),
    field("core.v1.PodSpec", "topologySpreadConstraints", "merge", "topologyKey", "map", &["topologyKey", "whenUnsatisfiable"], ""),
    field("core.v1.PodSpec", "schedulingGates", "merge", "name", "map", &["name"], ""),
    field("core.v1.PodSpec", "resourceClaims", "merge,retainKeys", "name", "map", &["name"], ""),
    field("core.v1.TopologySpreadConstraint", "matchLabelKeys", "", "", "atomic", &[], ""),
    field("core.v1.HostAlias", "hostnames", "", "", "atomic", &[], ""),
    field("core.v1.PodSecurityContext", "supplementalGroups", "", "", "atomic", &[], ""),
    field("core.v1.PodSecurityContext", "sysctls", "", "", "atomic", &[], ""),
    field("core.v1.PodDNSConfig", "nameservers", "", "", "atomic", &[], ""),
    field("core.v1.PodDNSConfig", "searches", "", "", "atomic", &[], ""),
    field("core.v1.PodDNSConfig", "options", "", "", "atomic", &[], ""),
    field("core.v1.EphemeralContainer", "command", "", "", "atomic", &[], ""),
    field("core.v1.EphemeralContainer", "args", "", "", "atomic", &[], ""),
    field("core.v1.EphemeralContainer", "ports", "merge", "containerPort", "map", &["containerPort", "protocol"], ""),
    field("core.v1.EphemeralContainer", "envFrom", "", "", "atomic", &[], ""),
    field("core.v1.EphemeralContainer", "env", "merge", "name", "map", &["name"], ""),
    field("core.v1.EphemeralContainer", "resizePolicy", "", "", "atomic", &[], ""),
    field("core.v1.EphemeralContainer", "volumeMounts", "merge", "mountPath", "map", &["mountPath"], ""),
    field("core.v1.EphemeralContainer", "volumeDevices", "merge", "devicePath", "map", &["devicePath"], ""),
    field("core.v1.PodStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("core.v1.PodStatus", "hostIPs", "merge", "ip", "atomic", &[], ""),
    field("core.v1.PodStatus", "podIPs", "merge", "ip", "map", &["ip"], ""),
    field("core.v1.PodStatus", "initContainerStatuses", "", "", "atomic", &[], ""),
    field("core.v1.PodStatus", "containerStatuses", "", "", "atomic", &[], ""),
    field("core.v1.PodStatus", "ephemeralContainerStatuses", "", "", "atomic", &[], ""),
    field("core.v1.PodStatus", "resourceClaimStatuses", "merge,retainKeys", "name", "map", &["name"], ""),
    field("core.v1.ServiceStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("core.v1.LoadBalancerStatus", "ingress", "", "", "atomic", &[], ""),
    field("core.v1.LoadBalancerIngress", "ports", "", "", "atomic", &[], ""),
    field("core.v1.ServiceSpec", "ports", "merge", "port", "map", &["port", "protocol"], ""),
    field("core.v1.ServiceSpec", "selector", "", "", "", &[], "atomic"),
    field("core.v1.ServiceSpec", "clusterIPs", "", "", "atomic", &[], ""),
    field("core.v1.ServiceSpec", "externalIPs", "", "", "atomic", &[], ""),
    field("core.v1.ServiceSpec", "loadBalancerSourceRanges", "", "", "atomic", &[], ""),
    field("core.v1.ServiceSpec", "ipFamilies", "", "", "atomic", &[], ""),
    field("core.v1.ServiceAccount", "secrets", "merge", "name", "map", &["name"], ""),
    field("core.v1.ServiceAccount", "imagePullSecrets", "", "", "atomic", &[], ""),
    field("core.v1.Endpoints", "subsets", "", "", "atomic", &[], ""),
    field("core.v1.EndpointSubset", "addresses", "", "", "atomic", &[], ""),
    field("core.v1.EndpointSubset", "notReadyAddresses", "", "", "atomic", &[], ""),
    field("core.v1.EndpointSubset", "ports", "", "", "atomic", &[], ""),
    field("core.v1.NodeSpec", "podCIDRs", "merge", "", "set", &[], ""),
    field("core.v1.NodeSpec", "taints", "", "", "atomic", &[], ""),
    field("core.v1.NodeStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("core.v1.NodeStatus", "addresses", "merge", "type", "map", &["type"], ""),
    field("core.v1.NodeStatus", "images", "", "", "atomic", &[], ""),
    field("core.v1.NodeStatus", "volumesInUse", "", "", "atomic", &[], ""),
    field("core.v1.NodeStatus", "volumesAttached", "", "", "atomic", &[], ""),
    field("core.v1.NodeStatus", "runtimeHandlers", "", "", "atomic", &[], ""),
    field("core.v1.ContainerImage", "names", "", "", "atomic", &[], ""),
    field("core.v1.NamespaceSpec", "finalizers", "", "", "atomic", &[], ""),
    field("core.v1.NamespaceStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("core.v1.LimitRangeSpec", "limits", "", "", "atomic", &[], ""),
    field("core.v1.ResourceQuotaSpec", "scopes", "", "", "atomic", &[], ""),
    field("core.v1.ScopeSelector", "matchExpressions", "", "", "atomic", &[], ""),
    field("core.v1.ScopedResourceSelectorRequirement", "values", "", "", "atomic", &[], ""),
    field("core.v1.DownwardAPIVolumeSource", "items", "", "", "atomic", &[], ""),
    field("core.v1.DownwardAPIProjection", "items", "", "", "atomic", &[], ""),
    field("apps.v1.DeploymentSpec", "strategy", "retainKeys", "", "", &[], ""),
    field("apps.v1.DeploymentStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("apps.v1.DaemonSetStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("apps.v1.ReplicaSetStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("batch.v1.PodFailurePolicyOnExitCodesRequirement", "values", "", "", "set", &[], ""),
    field("batch.v1.PodFailurePolicyRule", "onPodConditions", "", "", "atomic", &[], ""),
    field("batch.v1.PodFailurePolicy", "rules", "", "", "atomic", &[], ""),
    field("batch.v1.SuccessPolicy", "rules", "", "", "atomic", &[], ""),
    field("batch.v1.JobStatus", "conditions", "merge", "type", "atomic", &[], ""),
    field("batch.v1.UncountedTerminatedPods", "succeeded", "", "", "set", &[], ""),
    field("batch.v1.UncountedTerminatedPods", "failed", "", "", "set", &[], ""),
    field("batch.v1.CronJobStatus", "active", "", "", "atomic", &[], ""),
    field("policy.v1.PodDisruptionBudgetSpec", "selector", "replace", "", "", &[], ""),
    field("policy.v1.PodDisruptionBudgetStatus", "conditions", "merge", "type", "map", &["type"], ""),
    field("discovery.v1.EndpointSlice", "endpoints", "", "", "atomic", &[], ""),
    field("discovery.v1.EndpointSlice", "ports", "", "", "atomic", &[], ""),
    field("discovery.v1.Endpoint", "addresses", "", "", "set", &[], ""),
    field("discovery.v1.EndpointHints", "forZones", "", "", "atomic", &[], ""),
    field("discovery.v1.EndpointHints", "forNodes", "", "", "atomic", &[], ""),
    field("meta.v1.ObjectMeta", "ownerReferences", "merge", "uid", "map", &["uid"], ""),
    field("meta.v1.ObjectMeta", "finalizers", "merge", "", "set", &[], ""),
    field("meta.v1.ObjectMeta", "managedFields", "", "", "atomic", &[], ""),
    field("meta.v1.DeleteOptions", "dryRun", "", "", "atomic", &[], ""),
    field("meta.v1.Status", "details", "", "", "atomic", &[], ""),
    field("meta.v1.StatusDetails", "causes", "", "", "atomic", &[], ""),
    field("meta.v1.LabelSelector", "matchExpressions", "", "", "atomic", &[], ""),
    field("meta.v1.LabelSelectorRequirement", "values", "", "", "atomic", &[], ""),
];

/// Structs marked `+structType=atomic` (or `+mapType=atomic`) upstream: they are replaced
/// whole by server-side apply, which upstream's OpenAPI says with `x-kubernetes-map-type: atomic`
/// on the definition itself.
#[rustfmt::skip]
static ATOMIC_STRUCTS: &[&str] = &[
    "core.v1.ObjectFieldSelector", "core.v1.ResourceFieldSelector", "core.v1.ConfigMapKeySelector",
    "core.v1.SecretKeySelector", "core.v1.NodeSelector", "core.v1.NodeSelectorTerm",
    "core.v1.EndpointAddress", "core.v1.EndpointPort", "core.v1.ObjectReference",
    "core.v1.LocalObjectReference", "core.v1.TypedLocalObjectReference", "core.v1.ScopeSelector",
    "discovery.v1.EndpointPort", "meta.v1.OwnerReference", "meta.v1.LabelSelector",
];

/// Expands a short definition name (`core.v1.Pod`, `meta.v1.ObjectMeta`) to upstream's.
fn full_definition_name(short: &str) -> String {
    match short.strip_prefix("meta.") {
        Some(rest) => format!("io.k8s.apimachinery.pkg.apis.meta.{rest}"),
        None => format!("io.k8s.api.{short}"),
    }
}

/// Every definition, keyed by upstream's definition name, with the Kubernetes extensions laid on.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFINITIONS: LazyLock<Map<String, Value>> = LazyLock::new(build_definitions);
    &DEFINITIONS
}

/// The type graph the patch engines merge with (merge keys, list and map types), built from
/// exactly these definitions.
pub fn patch_schema() -> &'static bulwark_patch::Schema {
    static SCHEMA: LazyLock<bulwark_patch::Schema> =
        LazyLock::new(|| bulwark_patch::Schema::from_definitions(definitions()));
    &SCHEMA
}

/// The definition name of a kind (`io.k8s.api.apps.v1.Deployment`), if it is known.
pub fn definition_name_for(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    let entry = kind_entry(group, version, kind)?;
    let name = (entry.schema_name)();
    definitions()
        .get_key_value(name.as_ref())
        .map(|(key, _)| key.as_str())
}

/// The definition name of a served resource's kind.
pub fn definition_name(resource: &ResourceInfo) -> &'static str {
    definition_name_for(resource.group, resource.version, resource.kind)
        .expect("every entry of RESOURCES has a schema (checked by a test)")
}

/// The definition name of a served resource's list kind (`io.k8s.api.core.v1.PodList`).
pub fn list_definition_name(resource: &ResourceInfo) -> Option<&'static str> {
    let name = format!(
        "{}List",
        definition_name_for(resource.group, resource.version, resource.kind)?
    );
    definitions()
        .get_key_value(&name)
        .map(|(key, _)| key.as_str())
}

/// The definition a schema refers to, whether directly (`$ref`) or through upstream's
/// single-element `allOf` wrapper that carries a description next to the reference.
pub fn referenced_definition(schema: &Value) -> Option<&str> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.strip_prefix(REF_PREFIX);
    }
    match schema
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([only]) => only
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(REF_PREFIX)),
        _ => None,
    }
}

/// Follows references until a schema with content: the definition behind a `$ref`, or the schema.
pub fn resolve(schema: &Value) -> &Value {
    let mut current = schema;
    // Bounded: definitions never alias each other more than once, but a bad table must not hang.
    for _ in 0..8 {
        match referenced_definition(current).and_then(|name| definitions().get(name)) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

fn build_definitions() -> Map<String, Value> {
    let settings = SchemaSettings::openapi3().with(|settings| settings.meta_schema = None);
    let mut generator = settings.into_generator();
    for entry in KINDS {
        (entry.add_schema)(&mut generator);
    }
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::WatchEvent<()>>();
    generator.subschema_for::<meta::Patch>();
    let mut definitions = generator.take_definitions(true);
    for entry in KINDS.iter().filter(|entry| entry.listed) {
        let item = (entry.schema_name)().into_owned();
        let list = list_definition(&item, entry);
        definitions.insert(format!("{item}List"), list);
    }
    apply_field_extensions(&mut definitions);
    apply_group_version_kinds(&mut definitions);
    definitions
}

/// Upstream's `<Kind>List` shape: `apiVersion`, `kind`, `metadata` (ListMeta) and `items`.
fn list_definition(item: &str, entry: &KindEntry) -> Value {
    let plural = RESOURCES
        .iter()
        .find(|r| r.group == entry.group && r.version == entry.version && r.kind == entry.kind)
        .map_or(entry.kind, |r| r.plural);
    json!({
        "description": format!("{}List is a list of {}.", entry.kind, plural),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": format!("List of {plural}."),
                "type": "array",
                "items": { "$ref": format!("{REF_PREFIX}{item}") },
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": {
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "allOf": [{ "$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta") }],
            },
        },
        "required": ["items"],
    })
}

fn apply_field_extensions(definitions: &mut Map<String, Value>) {
    for extensions in FIELD_EXTENSIONS {
        let name = full_definition_name(extensions.definition);
        let Some(property) = definitions
            .get_mut(&name)
            .and_then(|definition| definition.get_mut("properties"))
            .and_then(|properties| properties.get_mut(extensions.field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut set = |key: &str, value: &str| {
            if !value.is_empty() {
                property.insert(key.to_string(), json!(value));
            }
        };
        set("x-kubernetes-patch-strategy", extensions.patch_strategy);
        set("x-kubernetes-patch-merge-key", extensions.patch_merge_key);
        set("x-kubernetes-list-type", extensions.list_type);
        set("x-kubernetes-map-type", extensions.map_type);
        if !extensions.list_map_keys.is_empty() {
            property.insert(
                "x-kubernetes-list-map-keys".to_string(),
                json!(extensions.list_map_keys),
            );
        }
    }
    for short in ATOMIC_STRUCTS {
        if let Some(definition) = definitions
            .get_mut(&full_definition_name(short))
            .and_then(Value::as_object_mut)
        {
            definition.insert("x-kubernetes-map-type".to_string(), json!("atomic"));
        }
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Tags every top-level kind with `x-kubernetes-group-version-kind`, which kubectl explain uses
/// to find a resource's schema. Meta kinds shared by every group-version (DeleteOptions,
/// WatchEvent) carry one entry per served group-version, as upstream's do.
fn apply_group_version_kinds(definitions: &mut Map<String, Value>) {
    let mut tags: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in KINDS {
        let name = (entry.schema_name)().into_owned();
        if entry.group == "meta.k8s.io" || entry.kind == "Status" {
            continue;
        }
        tags.entry(name.clone())
            .or_default()
            .push(gvk(entry.group, entry.version, entry.kind));
        if entry.listed {
            let list_kind = format!("{}List", entry.kind);
            tags.entry(format!("{name}List")).or_default().push(gvk(
                entry.group,
                entry.version,
                &list_kind,
            ));
        }
    }
    tags.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(),
        vec![gvk("", "v1", "Status")],
    );
    for shared in ["DeleteOptions", "WatchEvent"] {
        let mut entries: Vec<Value> = bulwark_core::resource::group_versions()
            .into_iter()
            .map(|(g, v)| gvk(g, v, shared))
            .collect();
        entries.push(gvk("autoscaling", "v1", shared));
        entries.push(gvk("meta.k8s.io", "v1", shared));
        tags.insert(
            format!("io.k8s.apimachinery.pkg.apis.meta.v1.{shared}"),
            entries,
        );
    }
    for (name, entries) in tags {
        if let Some(definition) = definitions.get_mut(&name).and_then(Value::as_object_mut) {
            definition.insert(
                "x-kubernetes-group-version-kind".to_string(),
                Value::Array(entries),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(definition: &str, field: &str) -> &'static Value {
        definitions()
            .get(definition)
            .map_or(&Value::Null, |d| &d["properties"][field])
    }

    fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    out.push(reference);
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_served_resource_has_a_definition_and_a_list_definition() {
        for resource in RESOURCES {
            let name = definition_name(resource);
            assert!(definitions().contains_key(name), "{name}");
            assert!(list_definition_name(resource).is_some(), "{name}List");
        }
        assert_eq!(
            definition_name(bulwark_core::resource::find("apps", "v1", "deployments").unwrap()),
            "io.k8s.api.apps.v1.Deployment"
        );
        assert_eq!(
            definition_name_for("events.k8s.io", "v1", "Event"),
            Some("io.k8s.api.events.v1.Event")
        );
        assert_eq!(
            definition_name_for("autoscaling", "v1", "Scale"),
            Some("io.k8s.api.autoscaling.v1.Scale")
        );
    }

    #[test]
    fn every_reference_resolves_to_a_definition() {
        let mut refs = Vec::new();
        for definition in definitions().values() {
            collect_refs(definition, &mut refs);
        }
        for reference in refs {
            let name = reference
                .strip_prefix(REF_PREFIX)
                .unwrap_or_else(|| panic!("{reference} is not a components ref"));
            assert!(definitions().contains_key(name), "dangling {reference}");
        }
    }

    #[test]
    fn every_extension_row_names_a_served_field() {
        let missing: Vec<String> = FIELD_EXTENSIONS
            .iter()
            .filter(|row| property(&full_definition_name(row.definition), row.field).is_null())
            .map(|row| format!("{}.{}", row.definition, row.field))
            .collect();
        assert!(
            missing.is_empty(),
            "rows for fields not served: {missing:?}"
        );
        let missing: Vec<&str> = ATOMIC_STRUCTS
            .iter()
            .copied()
            .filter(|short| !definitions().contains_key(&full_definition_name(short)))
            .collect();
        assert!(missing.is_empty(), "atomic structs not served: {missing:?}");
    }

    #[test]
    fn pod_spec_lists_carry_upstream_merge_keys() {
        let containers = property("io.k8s.api.core.v1.PodSpec", "containers");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
        let volumes = property("io.k8s.api.core.v1.PodSpec", "volumes");
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let tolerations = property("io.k8s.api.core.v1.PodSpec", "tolerations");
        assert_eq!(tolerations["x-kubernetes-list-type"], "atomic");
        assert!(tolerations.get("x-kubernetes-patch-merge-key").is_none());
        let ports = property("io.k8s.api.core.v1.Container", "ports");
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        assert_eq!(
            property("io.k8s.api.core.v1.Container", "env")["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.Container", "volumeMounts")["x-kubernetes-patch-merge-key"],
            "mountPath"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.PodSpec", "hostAliases")["x-kubernetes-patch-merge-key"],
            "ip"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.PodSpec", "imagePullSecrets")["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.PodStatus", "conditions")["x-kubernetes-patch-merge-key"],
            "type"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.EphemeralContainer", "env")["x-kubernetes-patch-merge-key"],
            "name"
        );
    }

    #[test]
    fn metadata_and_service_lists_carry_upstream_merge_keys() {
        let meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        assert_eq!(
            property(meta, "finalizers")["x-kubernetes-patch-strategy"],
            "merge"
        );
        assert_eq!(
            property(meta, "finalizers")["x-kubernetes-list-type"],
            "set"
        );
        assert_eq!(
            property(meta, "ownerReferences")["x-kubernetes-patch-merge-key"],
            "uid"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.ServiceSpec", "ports")["x-kubernetes-patch-merge-key"],
            "port"
        );
        assert_eq!(
            property("io.k8s.api.core.v1.EndpointSubset", "addresses")["x-kubernetes-list-type"],
            "atomic"
        );
        assert_eq!(
            property("io.k8s.api.apps.v1.DeploymentSpec", "strategy")["x-kubernetes-patch-strategy"],
            "retainKeys"
        );
        assert_eq!(
            definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"],
            "atomic"
        );
    }

    #[test]
    fn top_level_kinds_carry_their_group_version_kind() {
        let deployment = &definitions()["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let list = &definitions()["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "PodList", "version": "v1"}])
        );
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Pod"
        );
        let delete = definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]["x-kubernetes-group-version-kind"]
            .as_array()
            .unwrap();
        assert!(
            delete.contains(&json!({"group": "apps", "kind": "DeleteOptions", "version": "v1"}))
        );
    }

    #[test]
    fn the_patch_schema_sees_merge_keys_through_references() {
        let pod = patch_schema()
            .root("io.k8s.api.core.v1.Pod")
            .expect("pods are in the patch schema");
        let containers = pod.field("spec").field("containers");
        assert_eq!(containers.patch_merge_key(), Some("name"));
        assert_eq!(
            containers.items().field("ports").patch_merge_key(),
            Some("containerPort")
        );
        let deployment = patch_schema()
            .root("io.k8s.api.apps.v1.Deployment")
            .unwrap();
        let template_containers = deployment
            .field("spec")
            .field("template")
            .field("spec")
            .field("containers");
        assert_eq!(template_containers.patch_merge_key(), Some("name"));
    }

    #[test]
    fn references_with_descriptions_use_the_all_of_wrapper() {
        let metadata = property("io.k8s.api.core.v1.Pod", "metadata");
        assert_eq!(
            referenced_definition(metadata),
            Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        );
        assert!(metadata.get("description").is_some());
        assert!(resolve(metadata).get("properties").is_some());
    }
}
