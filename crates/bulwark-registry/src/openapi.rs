//! The `/openapi/v3` index and one OpenAPI 3.0 document per served group-version, shaped like
//! kube-apiserver's so that kubectl can use them:
//!
//! * `kubectl explain` finds a resource's kind from the `x-kubernetes-group-version-kind` of an
//!   operation on its collection or item path, then walks `components.schemas` to the definition
//!   carrying the same group-version-kind;
//! * kubectl's query-parameter verifier decides that the server supports `fieldValidation` (and
//!   so sends `fieldValidation=Strict`) when the first PATCH operation tagged with the object's
//!   group-version-kind lists a `fieldValidation` query parameter among its own parameters.
//!
//! Everything is computed once from [`RESOURCES`] and [`crate::schema::definitions`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use bulwark_core::resource::{RESOURCES, ResourceInfo, Subresource};
use serde_json::{Map, Value, json};

use crate::schema::{
    REF_PREFIX, definition_name, definition_name_for, definitions, list_definition_name,
};

/// The Kubernetes version these documents describe.
const KUBERNETES_VERSION: &str = "v1.33.0";

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The content types a PATCH accepts, as upstream advertises them.
pub const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

struct Documents {
    index: Value,
    /// Keyed by group-version path: `api/v1`, `apis/apps/v1`.
    documents: BTreeMap<String, (Value, Vec<u8>, String)>,
}

static DOCUMENTS: LazyLock<Documents> = LazyLock::new(build);

/// The `/openapi/v3` index: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}`.
pub fn index() -> &'static Value {
    &DOCUMENTS.index
}

/// The document of one group-version, by its path (`api/v1`, `apis/apps/v1`).
pub fn document(group_version_path: &str) -> Option<&'static Value> {
    DOCUMENTS
        .documents
        .get(group_version_path)
        .map(|(document, _, _)| document)
}

/// The serialized document of one group-version.
pub fn document_bytes(group_version_path: &str) -> Option<&'static [u8]> {
    DOCUMENTS
        .documents
        .get(group_version_path)
        .map(|(_, bytes, _)| bytes.as_slice())
}

/// The content hash of one group-version's document, as used in the index's URLs (and usable
/// as an ETag).
pub fn document_hash(group_version_path: &str) -> Option<&'static str> {
    DOCUMENTS
        .documents
        .get(group_version_path)
        .map(|(_, _, hash)| hash.as_str())
}

fn build() -> Documents {
    let mut documents = BTreeMap::new();
    let mut paths = Map::new();
    for (group, version) in bulwark_core::resource::group_versions() {
        let key = group_version_key(group, version);
        let document = group_version_document(group, version);
        let bytes = serde_json::to_vec(&document).expect("a JSON value always serializes");
        let hash = content_hash(&bytes);
        paths.insert(
            key.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}") }),
        );
        documents.insert(key, (document, bytes, hash));
    }
    Documents {
        index: json!({ "paths": paths }),
        documents,
    }
}

fn group_version_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// FNV-1a over the bytes, twice with different offsets, as 32 upper-case hex digits: stable
/// across builds and platforms (unlike `std`'s hasher), which is all a cache key needs.
fn content_hash(bytes: &[u8]) -> String {
    let fnv = |offset: u64| {
        bytes.iter().fold(offset, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016X}{:016X}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

fn group_version_document(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for resource in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        resource_paths(resource, &mut paths);
    }
    let paths = Value::Object(paths);
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": paths,
        "components": {
            "schemas": referenced_schemas(&paths),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "name": "authorization",
                    "in": "header",
                    "description": "Bearer Token authentication",
                },
            },
        },
    })
}

/// The definitions the paths refer to, and everything those refer to in turn.
fn referenced_schemas(paths: &Value) -> Map<String, Value> {
    let mut pending = Vec::new();
    collect_references(paths, &mut pending);
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(definition) = definitions().get(&name) {
            collect_references(definition, &mut pending);
        }
    }
    seen.into_iter()
        .filter_map(|name| definitions().get(&name).map(|d| (name, d.clone())))
        .collect()
}

fn collect_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

/// What one operation is about; everything else in it follows from these.
struct Operation<'a> {
    resource: &'a ResourceInfo,
    /// `list`, `get`, `post`, `put`, `patch`, `delete`, `deletecollection`.
    action: &'static str,
    /// The kind the operation speaks, for `x-kubernetes-group-version-kind`.
    gvk: (&'a str, &'a str, &'a str),
    /// The operation id's verb and what follows the kind (`NamespacedPodStatus`).
    verb: &'static str,
    subject: String,
    /// The request and response definition.
    definition: &'a str,
    description: String,
}

fn resource_paths(resource: &ResourceInfo, paths: &mut Map<String, Value>) {
    let base = resource.group_version_path();
    let scope = if resource.namespaced() {
        "Namespaced"
    } else {
        ""
    };
    let collection = if resource.namespaced() {
        format!("{base}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{base}/{}", resource.plural)
    };
    let item = format!("{collection}/{{name}}");
    let subject = format!("{scope}{}", resource.kind);
    // (HTTP method, action) pairs become the path item's operations.
    let operations = |methods: &[(&str, &'static str)]| -> Map<String, Value> {
        methods
            .iter()
            .map(|&(method, action)| {
                let subject = if action == "deletecollection" {
                    format!("Collection{subject}")
                } else {
                    subject.clone()
                };
                (
                    method.to_string(),
                    standard_operation(resource, action, subject),
                )
            })
            .collect()
    };

    let collection_ops = operations(&[
        ("get", "list"),
        ("post", "post"),
        ("delete", "deletecollection"),
    ]);
    paths.insert(collection, path_item(resource, false, collection_ops));
    let item_ops = operations(&[
        ("get", "get"),
        ("put", "put"),
        ("patch", "patch"),
        ("delete", "delete"),
    ]);
    paths.insert(item.clone(), path_item(resource, true, item_ops));

    if resource.namespaced() {
        let subject = format!("{}ForAllNamespaces", resource.kind);
        let mut all = Map::new();
        all.insert("get".into(), standard_operation(resource, "list", subject));
        paths.insert(
            format!("{base}/{}", resource.plural),
            path_item_without_namespace(all),
        );
    }

    for subresource in resource.subresources {
        let mut ops = Map::new();
        for verb in subresource.verbs {
            if let Some((method, op)) = subresource_operation(resource, subresource, verb, scope) {
                ops.insert(method.into(), op);
            }
        }
        paths.insert(
            format!("{item}/{}", subresource.name),
            path_item(resource, true, ops),
        );
    }
}

/// An operation on a kind's collection or items: `action` (`list`, `post`, `deletecollection`,
/// `get`, `put`, `patch` or `delete`) decides the operation id's verb, the definition and the
/// description, as upstream names them.
fn standard_operation(resource: &ResourceInfo, action: &'static str, subject: String) -> Value {
    let kind = resource.kind;
    let object = definition_name(resource);
    let (verb, definition, description) = match action {
        "list" => (
            "list",
            list_definition_name(resource).unwrap_or(object),
            format!("list or watch objects of kind {kind}"),
        ),
        "post" => ("create", object, format!("create a {kind}")),
        "deletecollection" => ("delete", STATUS, format!("delete collection of {kind}")),
        "get" => ("read", object, format!("read the specified {kind}")),
        "put" => ("replace", object, format!("replace the specified {kind}")),
        "patch" => (
            "patch",
            object,
            format!("partially update the specified {kind}"),
        ),
        _ => ("delete", object, format!("delete a {kind}")),
    };
    operation(&Operation {
        resource,
        action,
        gvk: (resource.group, resource.version, kind),
        verb,
        subject,
        definition,
        description,
    })
}

fn subresource_operation(
    resource: &ResourceInfo,
    subresource: &Subresource,
    verb: &str,
    scope: &str,
) -> Option<(&'static str, Value)> {
    let (method, action, op_verb) = match verb {
        "get" => ("get", "get", "read"),
        "update" => ("put", "put", "replace"),
        "patch" => ("patch", "patch", "patch"),
        "create" => ("post", "post", "create"),
        _ => return None,
    };
    let definition = definition_name_for(subresource.group, subresource.version, subresource.kind)?;
    let suffix = capitalize(subresource.name);
    let op = Operation {
        resource,
        action,
        gvk: (subresource.group, subresource.version, subresource.kind),
        verb: op_verb,
        subject: format!("{scope}{}{suffix}", resource.kind),
        definition,
        description: format!(
            "{op_verb} {} of the specified {}",
            subresource.name, resource.kind
        ),
    };
    if subresource.name == "log" {
        return Some((method, log_operation(&op)));
    }
    Some((method, operation(&op)))
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `CoreV1`, `AppsV1`, `CoordinationV1`: upstream's operation-id infix for a group-version.
fn group_version_infix(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    format!("{}{}", capitalize(group), capitalize(version))
}

fn reference(definition: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{definition}") })
}

fn content(definition: &str, types: &[&str]) -> Value {
    let schema = reference(definition);
    let map: Map<String, Value> = types
        .iter()
        .map(|t| ((*t).to_string(), json!({ "schema": schema.clone() })))
        .collect();
    json!({ "content": map })
}

const RESPONSE_TYPES: &[&str] = &["application/json", "application/yaml"];
const LIST_RESPONSE_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;stream=watch",
];

fn operation(op: &Operation) -> Value {
    let (group, version, kind) = op.gvk;
    let infix = group_version_infix(op.resource.group, op.resource.version);
    let tag = if op.resource.group.is_empty() {
        format!("core_{}", op.resource.version)
    } else {
        format!(
            "{}_{}",
            op.resource
                .group
                .split('.')
                .next()
                .unwrap_or(op.resource.group),
            op.resource.version
        )
    };
    let mut value = json!({
        "tags": [tag],
        "description": op.description,
        "operationId": format!("{}{infix}{}", op.verb, op.subject),
        "parameters": parameters(op.action),
        "responses": responses(op),
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": { "group": group, "kind": kind, "version": version },
    });
    if let Some(body) = request_body(op) {
        value["requestBody"] = body;
    }
    value
}

fn request_body(op: &Operation) -> Option<Value> {
    let body = match op.action {
        "post" | "put" => content(op.definition, &["*/*"]),
        "patch" => content(PATCH, PATCH_CONTENT_TYPES),
        "delete" | "deletecollection" => content(DELETE_OPTIONS, &["*/*"]),
        _ => return None,
    };
    let mut body = body;
    body["required"] = json!(matches!(op.action, "post" | "put" | "patch"));
    Some(body)
}

fn responses(op: &Operation) -> Value {
    let types = if op.action == "list" {
        LIST_RESPONSE_TYPES
    } else {
        RESPONSE_TYPES
    };
    let ok = |definition: &str| {
        let mut response = content(definition, types);
        response["description"] = json!("OK");
        response
    };
    let described = |definition: &str, description: &str| {
        let mut response = content(definition, types);
        response["description"] = json!(description);
        response
    };
    let unauthorized = json!({ "description": "Unauthorized" });
    match op.action {
        "post" => json!({
            "200": ok(op.definition),
            "201": described(op.definition, "Created"),
            "202": described(op.definition, "Accepted"),
            "401": unauthorized,
        }),
        "put" | "patch" => json!({
            "200": ok(op.definition),
            "201": described(op.definition, "Created"),
            "401": unauthorized,
        }),
        "delete" => json!({
            "200": ok(op.definition),
            "202": described(op.definition, "Accepted"),
            "401": unauthorized,
        }),
        _ => json!({ "200": ok(op.definition), "401": unauthorized }),
    }
}

/// `pods/log` answers plain text.
fn log_operation(op: &Operation) -> Value {
    let mut value = operation(op);
    value["responses"] = json!({
        "200": {
            "description": "OK",
            "content": { "text/plain": { "schema": { "type": "string" } } },
        },
        "401": { "description": "Unauthorized" },
    });
    value["parameters"] = Value::Array(
        [
            ("container", "string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
            ("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
            ("limitBytes", "integer", "If set, the number of bytes to read from the server before terminating the log output."),
            ("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
            ("sinceSeconds", "integer", "A relative time in seconds before the current time from which to show logs."),
            ("tailLines", "integer", "If set, the number of lines from the end of the logs to show."),
            ("timestamps", "boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
        ]
        .iter()
        .map(|(name, kind, description)| query(name, kind, description))
        .collect(),
    );
    value
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": { "type": kind, "uniqueItems": true },
    })
}

const DRY_RUN: &str = "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
const FIELD_MANAGER: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
const FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";

fn write_parameters(force: bool) -> Vec<Value> {
    let mut parameters = vec![
        query("dryRun", "string", DRY_RUN),
        query("fieldManager", "string", FIELD_MANAGER),
        query("fieldValidation", "string", FIELD_VALIDATION),
    ];
    if force {
        parameters.push(query("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."));
    }
    parameters
}

fn list_parameters() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion.",
        ),
        query(
            "continue",
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "limit is a maximum number of responses to return for a list call.",
        ),
        query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
        ),
        query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}

fn delete_parameters() -> Vec<Value> {
    vec![
        query("dryRun", "string", DRY_RUN),
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
        ),
    ]
}

fn parameters(action: &str) -> Value {
    let parameters = match action {
        "list" => list_parameters(),
        "post" | "put" => write_parameters(false),
        "patch" => write_parameters(true),
        "delete" => delete_parameters(),
        "deletecollection" => list_parameters()
            .into_iter()
            .chain(delete_parameters())
            .collect(),
        _ => Vec::new(),
    };
    Value::Array(parameters)
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn pretty() -> Value {
    query(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
    )
}

fn path_item(resource: &ResourceInfo, item: bool, mut operations: Map<String, Value>) -> Value {
    let mut parameters = Vec::new();
    if item {
        parameters.push(path_parameter(
            "name",
            &format!("name of the {}", resource.kind),
        ));
    }
    if resource.namespaced() {
        parameters.push(path_parameter(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    parameters.push(pretty());
    operations.insert("parameters".into(), Value::Array(parameters));
    Value::Object(operations)
}

fn path_item_without_namespace(mut operations: Map<String, Value>) -> Value {
    operations.insert("parameters".into(), json!([pretty()]));
    Value::Object(operations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> &'static Value {
        document("api/v1").expect("the core group-version has a document")
    }

    fn apps() -> &'static Value {
        document("apis/apps/v1").expect("apps/v1 has a document")
    }

    #[test]
    fn the_index_lists_every_group_version_with_a_hashed_url() {
        let paths = index()["paths"].as_object().unwrap();
        assert_eq!(paths.len(), bulwark_core::resource::group_versions().len());
        let url = paths["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
        let hash = document_hash("apis/apps/v1").unwrap();
        assert_eq!(url, format!("/openapi/v3/apis/apps/v1?hash={hash}"));
        assert_eq!(hash.len(), 32);
        assert_ne!(document_hash("api/v1"), document_hash("apis/apps/v1"));
    }

    #[test]
    fn documents_are_found_by_path_and_serialized() {
        assert!(document("apis/nope/v1").is_none());
        let bytes = document_bytes("api/v1").unwrap();
        assert_eq!(&serde_json::from_slice::<Value>(bytes).unwrap(), core());
        assert_eq!(core()["openapi"], "3.0.0");
    }

    #[test]
    fn namespaced_resources_have_upstreams_paths() {
        let paths = core()["paths"].as_object().unwrap();
        for path in [
            "/api/v1/namespaces/{namespace}/pods",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            "/api/v1/pods",
            "/api/v1/namespaces/{namespace}/pods/{name}/status",
            "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
            "/api/v1/namespaces/{namespace}/pods/{name}/binding",
            "/api/v1/namespaces/{namespace}/pods/{name}/log",
            "/api/v1/nodes",
            "/api/v1/nodes/{name}",
            "/api/v1/namespaces/{name}/finalize",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        assert!(!paths.contains_key("/api/v1/namespaces/{namespace}/nodes"));
        let scale =
            &apps()["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
        assert_eq!(
            scale["patch"]["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
        );
        assert!(
            apps()["components"]["schemas"]
                .get("io.k8s.api.autoscaling.v1.Scale")
                .is_some()
        );
    }

    #[test]
    fn operations_carry_action_kind_and_upstream_ids() {
        let item = &core()["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        assert_eq!(item["get"]["operationId"], "readCoreV1NamespacedPod");
        assert_eq!(item["patch"]["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(item["put"]["x-kubernetes-action"], "put");
        assert_eq!(
            item["delete"]["x-kubernetes-group-version-kind"],
            json!({"group": "", "kind": "Pod", "version": "v1"})
        );
        let collection = &core()["paths"]["/api/v1/namespaces/{namespace}/pods"];
        assert_eq!(collection["get"]["x-kubernetes-action"], "list");
        assert_eq!(
            collection["delete"]["operationId"],
            "deleteCoreV1CollectionNamespacedPod"
        );
        assert_eq!(
            core()["paths"]["/api/v1/pods"]["get"]["operationId"],
            "listCoreV1PodForAllNamespaces"
        );
        let lease = &document("apis/coordination.k8s.io/v1").unwrap()["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"];
        assert_eq!(
            lease["get"]["operationId"],
            "readCoordinationV1NamespacedLease"
        );
    }

    /// What kubectl's query-parameter verifier checks before sending `fieldValidation=Strict`:
    /// for every served kind, the first PATCH operation tagged with its group-version-kind lists
    /// `fieldValidation` as a query parameter of its own.
    #[test]
    fn every_patch_operation_supports_field_validation() {
        for resource in RESOURCES {
            let key = group_version_key(resource.group, resource.version);
            let gvk = json!({"group": resource.group, "kind": resource.kind, "version": resource.version});
            let paths = document(&key).unwrap()["paths"].as_object().unwrap();
            let patch = paths
                .values()
                .filter_map(|p| p.get("patch"))
                .find(|op| op["x-kubernetes-group-version-kind"] == gvk);
            let patch = patch.unwrap_or_else(|| panic!("no PATCH for {}", resource.kind));
            let parameters = patch["parameters"].as_array().unwrap();
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
                "{}",
                resource.kind
            );
            let types: Vec<&str> = patch["requestBody"]["content"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            for content_type in PATCH_CONTENT_TYPES {
                assert!(types.contains(content_type), "{content_type}");
            }
        }
    }

    /// Mirrors kubectl explain's template: find the GVK on the resource's paths, then the schema
    /// in `components.schemas` whose `x-kubernetes-group-version-kind` contains it, then follow
    /// `spec.containers` through references, `allOf` and `items`.
    #[test]
    fn kubectl_explain_can_walk_pods_spec_containers() {
        let document = core();
        let gvk = &document["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["x-kubernetes-group-version-kind"];
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let pod = schemas
            .values()
            .find(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|gvks| gvks.contains(gvk))
            })
            .expect("a schema carries the Pod GVK");
        let resolve = |schema: &Value| -> Value {
            let reference = schema
                .get("$ref")
                .or_else(|| {
                    schema
                        .get("allOf")
                        .and_then(|a| a.get(0))
                        .and_then(|a| a.get("$ref"))
                })
                .and_then(Value::as_str);
            match reference {
                Some(r) => schemas[r.strip_prefix(REF_PREFIX).unwrap()].clone(),
                None => schema.clone(),
            }
        };
        let spec = resolve(&pod["properties"]["spec"]);
        let containers = &spec["properties"]["containers"];
        assert_eq!(containers["type"], "array");
        let container = resolve(&containers["items"]);
        assert!(container["properties"].get("image").is_some());
        assert!(
            container["description"]
                .as_str()
                .unwrap()
                .contains("container")
        );
    }

    #[test]
    fn every_reference_in_a_document_resolves_within_it() {
        for (key, (document, _, _)) in &DOCUMENTS.documents {
            let mut references = Vec::new();
            collect_references(document, &mut references);
            let schemas = document["components"]["schemas"].as_object().unwrap();
            for name in references {
                assert!(schemas.contains_key(&name), "{key}: dangling {name}");
            }
        }
    }

    #[test]
    fn documents_only_carry_the_schemas_they_need() {
        let apps = apps()["components"]["schemas"].as_object().unwrap();
        assert!(apps.contains_key("io.k8s.api.apps.v1.Deployment"));
        assert!(apps.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(!apps.contains_key("io.k8s.api.core.v1.Node"));
    }

    #[test]
    fn the_content_hash_is_stable() {
        assert_eq!(content_hash(b""), "CBF29CE4842223256C62272E07BB0142");
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }
}
