//! Done-means 4: the `kube` crate works against Bulwark — typed `Api<K>` CRUD, every patch kind,
//! the status and scale subresources, selectors and paging, delete options, and a
//! `kube::runtime::watcher` that survives a server restart and a compaction (410 → relist).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Cluster, DEADLINE};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent,
    WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

fn configmap(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
    }))
    .expect("a valid ConfigMap")
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]},
    }))
    .expect("a valid Pod")
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]},
            },
        },
    }))
    .expect("a valid Deployment")
}

fn data_of(configmap: &ConfigMap, key: &str) -> Option<String> {
    configmap
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .cloned()
}

fn resource_version(object: &impl kube::ResourceExt) -> i64 {
    object
        .resource_version()
        .expect("a resourceVersion")
        .parse()
        .expect("a numeric resourceVersion")
}

/// The Status of a failed API call.
fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls an async check until it returns Some, or fails after the deadline.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Names of a reflector store's objects, sorted.
fn names_in(store: &reflector::Store<ConfigMap>) -> Vec<String> {
    let mut names: Vec<String> = store
        .state()
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    names
}

async fn server_names(api: &Api<ConfigMap>, labels: &str) -> Vec<String> {
    let list = api
        .list(&ListParams::default().labels(labels))
        .await
        .expect("list configmaps");
    let mut names: Vec<String> = list
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Typed CRUD
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn configmaps_round_trip_through_create_get_replace_delete() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(
            &PostParams::default(),
            &configmap("settings", &[], &[("mode", "fast")]),
        )
        .await
        .expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    let mut fetched = api.get("settings").await.expect("get");
    assert_eq!(data_of(&fetched, "mode").as_deref(), Some("fast"));
    assert_eq!(
        fetched.metadata.resource_version,
        created.metadata.resource_version
    );

    fetched.data = Some(BTreeMap::from([("mode".to_string(), "safe".to_string())]));
    let replaced = api
        .replace("settings", &PostParams::default(), &fetched)
        .await
        .expect("replace");
    assert_eq!(data_of(&replaced, "mode").as_deref(), Some("safe"));
    assert!(resource_version(&replaced) > resource_version(&created));
    assert_eq!(replaced.metadata.uid, created.metadata.uid);

    let deleted = api
        .delete("settings", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(
        deleted.is_left(),
        "a configmap without finalizers comes back as the deleted object"
    );
    let missing = api_error(api.get("settings").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "configmaps \"settings\" not found");
}

#[tokio::test]
async fn pods_get_upstream_defaults_and_unbound_pods_delete_at_once() {
    let cluster = Cluster::start();
    let api: Api<Pod> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(&PostParams::default(), &pod("web-1"))
        .await
        .expect("create pod");
    let spec = created.spec.as_ref().expect("spec");
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );

    let listed = api.list(&ListParams::default()).await.expect("list pods");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("web-1"));

    api.delete("web-1", &DeleteParams::default())
        .await
        .expect("delete pod");
    assert_eq!(api_error(api.get("web-1").await).code, 404);
}

#[tokio::test]
async fn deployments_bump_generation_on_spec_changes_only() {
    let cluster = Cluster::start();
    let api: Api<Deployment> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    let strategy = created
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .expect("defaulted strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));

    let mut relabelled = created.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("tier".to_string(), "front".to_string())]));
    let relabelled = api
        .replace("web", &PostParams::default(), &relabelled)
        .await
        .expect("relabel");
    assert_eq!(
        relabelled.metadata.generation,
        Some(1),
        "a metadata-only change keeps the generation"
    );

    let mut scaled = relabelled.clone();
    scaled.spec.as_mut().expect("spec").replicas = Some(5);
    let scaled = api
        .replace("web", &PostParams::default(), &scaled)
        .await
        .expect("scale by replace");
    assert_eq!(scaled.metadata.generation, Some(2));
}

#[tokio::test]
async fn namespaces_are_cluster_scoped_and_terminate_on_delete() {
    let cluster = Cluster::start();
    let api: Api<Namespace> = Api::all(cluster.client().await);
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team-a"}})).expect("namespace"),
        )
        .await
        .expect("create namespace");
    assert_eq!(created.metadata.namespace, None);
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Active")
    );
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for expected in [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "team-a",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    let deleted = api
        .delete("team-a", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let terminating = deleted
        .left()
        .expect("a namespace being finalized comes back as the object");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Terminating")
    );
}

#[tokio::test]
async fn nodes_are_cluster_scoped_and_take_status_writes() {
    let cluster = Cluster::start();
    let api: Api<Node> = Api::all(cluster.client().await);
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
        "spec": {},
    }))
    .expect("node");
    api.create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}]}});
    let patched = api
        .patch_status("node-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch node status");
    let conditions = patched
        .status
        .and_then(|s| s.conditions)
        .expect("conditions");
    assert_eq!(
        (conditions[0].type_.as_str(), conditions[0].status.as_str()),
        ("Ready", "True")
    );
    let cordoned = api
        .patch(
            "node-1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordon");
    assert_eq!(cordoned.spec.and_then(|s| s.unschedulable), Some(true));
    assert_eq!(
        cordoned.status.and_then(|s| s.conditions).map(|c| c.len()),
        Some(1),
        "spec writes keep status"
    );
}

#[tokio::test]
async fn leases_round_trip_with_renew_time_updates() {
    let cluster = Cluster::start();
    let api: Api<Lease> = Api::namespaced(cluster.client().await, "kube-node-lease");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "node-1"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"},
    }))
    .expect("lease");
    let created = api
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
    let mut renewed = created.clone();
    let renew_time = "2026-01-01T00:00:10.000000Z";
    renewed.spec.as_mut().expect("spec").renew_time =
        Some(serde_json::from_value(json!(renew_time)).expect("a MicroTime"));
    let renewed = api
        .replace("node-1", &PostParams::default(), &renewed)
        .await
        .expect("renew");
    let stored = api.get("node-1").await.expect("get lease");
    assert_eq!(
        stored.metadata.resource_version,
        renewed.metadata.resource_version
    );
    assert_eq!(
        serde_json::to_value(&stored.spec.as_ref().expect("spec").renew_time).expect("json"),
        json!(renew_time)
    );
    assert_eq!(stored.spec.and_then(|s| s.lease_duration_seconds), Some(40));
    api.delete("node-1", &DeleteParams::default())
        .await
        .expect("delete lease");
    assert_eq!(api_error(api.get("node-1").await).code, 404);
}

#[tokio::test]
async fn creating_an_existing_object_is_already_exists_and_a_stale_replace_is_conflict() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let first = api
        .create(
            &PostParams::default(),
            &configmap("once", &[], &[("v", "1")]),
        )
        .await
        .expect("create");
    let duplicate = api_error(
        api.create(&PostParams::default(), &configmap("once", &[], &[]))
            .await,
    );
    assert_eq!(
        (duplicate.code, duplicate.reason.as_str()),
        (409, "AlreadyExists")
    );

    let mut newer = first.clone();
    newer.data = Some(BTreeMap::from([("v".to_string(), "2".to_string())]));
    api.replace("once", &PostParams::default(), &newer)
        .await
        .expect("replace with the current version");
    let stale = api_error(api.replace("once", &PostParams::default(), &newer).await);
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert!(
        stale.message.contains("the object has been modified"),
        "{}",
        stale.message
    );
}

// ---------------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn json_patch_applies_operations_in_order() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    api.create(
        &PostParams::default(),
        &configmap("cfg", &[], &[("a", "1"), ("b", "2")]),
    )
    .await
    .expect("create");
    let operations = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/data/c", "value": "3"},
    ]))
    .expect("a JSON patch");
    let patched = api
        .patch(
            "cfg",
            &PatchParams::default(),
            &Patch::<()>::Json(operations),
        )
        .await
        .expect("json patch");
    assert_eq!(
        patched.data,
        Some(BTreeMap::from([
            ("a".to_string(), "10".to_string()),
            ("c".to_string(), "3".to_string())
        ]))
    );
}

#[tokio::test]
async fn json_patch_with_a_failing_test_is_rejected_and_changes_nothing() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(
            &PostParams::default(),
            &configmap("cfg", &[], &[("a", "1")]),
        )
        .await
        .expect("create");
    let operations = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "3"},
    ]))
    .expect("a JSON patch");
    let error = api_error(
        api.patch(
            "cfg",
            &PatchParams::default(),
            &Patch::<()>::Json(operations),
        )
        .await,
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        api.get("cfg").await.expect("get").metadata.resource_version,
        created.metadata.resource_version
    );
}

#[tokio::test]
async fn merge_patch_sets_and_removes_keys() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    api.create(
        &PostParams::default(),
        &configmap("cfg", &[("app", "web")], &[("a", "1"), ("b", "2")]),
    )
    .await
    .expect("create");
    let patch = json!({"metadata": {"labels": {"app": null, "tier": "front"}}, "data": {"b": null, "c": "3"}});
    let patched = api
        .patch("cfg", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    assert_eq!(
        patched.metadata.labels,
        Some(BTreeMap::from([("tier".to_string(), "front".to_string())]))
    );
    assert_eq!(
        patched.data,
        Some(BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("c".to_string(), "3".to_string())
        ]))
    );
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let cluster = Cluster::start();
    let api: Api<Deployment> = Api::namespaced(cluster.client().await, "default");
    api.create(&PostParams::default(), &deployment("web", 1))
        .await
        .expect("create");
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "bulwark/demo:2"},
        {"name": "sidecar", "image": "bulwark/demo"},
    ]}}}});
    let patched = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("strategic patch");
    let containers = patched
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers)
        .expect("containers");
    let images: Vec<(String, Option<String>)> =
        containers.into_iter().map(|c| (c.name, c.image)).collect();
    assert_eq!(
        images,
        vec![
            ("app".to_string(), Some("bulwark/demo:2".to_string())),
            ("sidecar".to_string(), Some("bulwark/demo".to_string())),
        ]
    );
    assert_eq!(patched.metadata.generation, Some(2));
}

#[tokio::test]
async fn server_side_apply_creates_then_conflicts_then_forces() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let intent = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"owner": "x"}});
    let created = api
        .patch("applied", &PatchParams::apply("x"), &Patch::Apply(&intent))
        .await
        .expect("apply creates");
    assert_eq!(data_of(&created, "owner").as_deref(), Some("x"));
    let managers: Vec<String> = created
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, vec!["x".to_string()]);

    let again = api
        .patch("applied", &PatchParams::apply("x"), &Patch::Apply(&intent))
        .await
        .expect("re-apply");
    assert_eq!(
        again.metadata.resource_version, created.metadata.resource_version,
        "re-applying is a no-op"
    );

    let takeover = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"owner": "y"}});
    let conflict = api_error(
        api.patch(
            "applied",
            &PatchParams::apply("y"),
            &Patch::Apply(&takeover),
        )
        .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("\"x\""),
        "the conflict names the manager: {}",
        conflict.message
    );

    let forced = api
        .patch(
            "applied",
            &PatchParams::apply("y").force(),
            &Patch::Apply(&takeover),
        )
        .await
        .expect("forced apply");
    assert_eq!(data_of(&forced, "owner").as_deref(), Some("y"));
    let owner_of_data = forced
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer("/f:data/f:owner").is_some())
        })
        .and_then(|m| m.manager.clone());
    assert_eq!(owner_of_data.as_deref(), Some("y"));
}

// ---------------------------------------------------------------------------------------------
// Subresources
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn patch_status_changes_status_only() {
    let cluster = Cluster::start();
    let api: Api<Deployment> = Api::namespaced(cluster.client().await, "default");
    api.create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let patch = json!({"spec": {"replicas": 9}, "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 1}});
    let patched = api
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch status");
    let status = patched.status.expect("status");
    assert_eq!((status.replicas, status.ready_replicas), (Some(2), Some(1)));
    assert_eq!(
        patched.spec.and_then(|s| s.replicas),
        Some(2),
        "a status write ignores spec"
    );
    assert_eq!(patched.metadata.generation, Some(1));
}

#[tokio::test]
async fn replace_status_keeps_spec_and_main_writes_keep_status() {
    // Status semantics of the API alone: the Deployment controller must not write meanwhile.
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    let api: Api<Deployment> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let mut with_status = created.clone();
    with_status.spec.as_mut().expect("spec").replicas = Some(7);
    with_status.status = Some(
        serde_json::from_value(json!({"replicas": 2, "availableReplicas": 2})).expect("status"),
    );
    let replaced = api
        .replace_status("web", &PostParams::default(), &with_status)
        .await
        .expect("replace status");
    assert_eq!(
        replaced.status.as_ref().and_then(|s| s.available_replicas),
        Some(2)
    );
    assert_eq!(
        replaced.spec.as_ref().and_then(|s| s.replicas),
        Some(2),
        "replace_status ignores spec"
    );

    let mut main_write = replaced.clone();
    main_write.status = None;
    main_write.spec.as_mut().expect("spec").replicas = Some(3);
    let updated = api
        .replace("web", &PostParams::default(), &main_write)
        .await
        .expect("replace");
    assert_eq!(updated.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        updated.status.as_ref().and_then(|s| s.available_replicas),
        Some(2),
        "a main write keeps status"
    );
}

#[tokio::test]
async fn scale_subresource_reads_and_patches_replicas() {
    let cluster = Cluster::start();
    let api: Api<Deployment> = Api::namespaced(cluster.client().await, "default");
    api.create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let scale = api.get_scale("web").await.expect("get scale");
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale.status.as_ref().and_then(|s| s.selector.as_deref()),
        Some("app=web")
    );

    let patched = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(patched.spec.and_then(|s| s.replicas), Some(4));
    let stored = api.get("web").await.expect("get");
    assert_eq!(stored.spec.and_then(|s| s.replicas), Some(4));
    assert_eq!(stored.metadata.generation, Some(2));
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_filters_by_label_selector() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    for (name, tier) in [
        ("a", "front"),
        ("b", "back"),
        ("c", "front"),
        ("d", "cache"),
    ] {
        api.create(
            &PostParams::default(),
            &configmap(name, &[("tier", tier)], &[]),
        )
        .await
        .expect("create");
    }
    assert_eq!(server_names(&api, "tier=front").await, ["a", "c"]);
    assert_eq!(server_names(&api, "tier in (back,cache)").await, ["b", "d"]);
    assert_eq!(server_names(&api, "tier!=front,tier").await, ["b", "d"]);
    assert_eq!(server_names(&api, "!tier").await, Vec::<String>::new());
}

#[tokio::test]
async fn list_filters_by_field_selector() {
    let cluster = Cluster::start();
    let client = cluster.client().await;
    let default: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    default
        .create(&PostParams::default(), &configmap("same", &[], &[]))
        .await
        .expect("create");
    default
        .create(&PostParams::default(), &configmap("other", &[], &[]))
        .await
        .expect("create");
    system
        .create(&PostParams::default(), &configmap("same", &[], &[]))
        .await
        .expect("create");
    let everywhere: Api<ConfigMap> = Api::all(client);
    let by_name = everywhere
        .list(&ListParams::default().fields("metadata.name=same"))
        .await
        .expect("list");
    let mut namespaces: Vec<String> = by_name
        .items
        .iter()
        .filter_map(|c| c.metadata.namespace.clone())
        .collect();
    namespaces.sort();
    assert_eq!(namespaces, ["default", "kube-system"]);
    let by_namespace = everywhere
        .list(&ListParams::default().fields("metadata.namespace=default,metadata.name!=same"))
        .await
        .expect("list");
    let names: Vec<String> = by_namespace
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["other"]);
}

#[tokio::test]
async fn list_pages_with_limit_and_continue() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let total = 23;
    for index in 0..total {
        api.create(
            &PostParams::default(),
            &configmap(&format!("page-{index:02}"), &[], &[]),
        )
        .await
        .expect("create");
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut first_revision = None;
    // Bounded: 23 objects in pages of 5 take 5 pages.
    for _ in 0..10 {
        let mut params = ListParams::default().limit(5);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let page = api.list(&params).await.expect("list page");
        pages += 1;
        assert!(page.items.len() <= 5);
        let revision = page.metadata.resource_version.clone();
        assert_eq!(
            *first_revision.get_or_insert(revision.clone()),
            revision,
            "every page comes from one snapshot"
        );
        seen.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
        // A write between pages must not show up in the paged list.
        if pages == 1 {
            api.create(&PostParams::default(), &configmap("page-zz-late", &[], &[]))
                .await
                .expect("create late");
        }
    }
    let expected: Vec<String> = (0..total).map(|index| format!("page-{index:02}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 5);
}

// ---------------------------------------------------------------------------------------------
// Deletes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_with_a_stale_resource_version_precondition_is_conflict() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(
            &PostParams::default(),
            &configmap("guarded", &[], &[("v", "1")]),
        )
        .await
        .expect("create");
    api.patch(
        "guarded",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"v": "2"}})),
    )
    .await
    .expect("patch");
    let stale = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: created.metadata.resource_version.clone(),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let conflict = api_error(api.delete("guarded", &stale).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("Precondition failed"),
        "{}",
        conflict.message
    );
    assert!(
        api.get("guarded").await.is_ok(),
        "the object survives a failed precondition"
    );

    let wrong_uid = DeleteParams::default().preconditions(Preconditions {
        uid: Some("not-the-uid".into()),
        resource_version: None,
    });
    assert_eq!(api_error(api.delete("guarded", &wrong_uid).await).code, 409);

    let right = DeleteParams::default().preconditions(Preconditions {
        uid: created.metadata.uid.clone(),
        resource_version: None,
    });
    api.delete("guarded", &right)
        .await
        .expect("delete with a matching uid");
    assert_eq!(api_error(api.get("guarded").await).code, 404);
}

#[tokio::test]
async fn deleting_a_bound_pod_with_a_grace_period_marks_it_terminating() {
    let cluster = Cluster::start();
    let api: Api<Pod> = Api::namespaced(cluster.client().await, "default");
    let mut bound = pod("bound");
    bound.spec.as_mut().expect("spec").node_name = Some("node-1".into());
    api.create(&PostParams::default(), &bound)
        .await
        .expect("create bound pod");
    let marked = api
        .delete("bound", &DeleteParams::default().grace_period(45))
        .await
        .expect("graceful delete");
    let marked = marked
        .left()
        .expect("a terminating pod comes back as the object");
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(45));
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(
        api.get("bound").await.is_ok(),
        "the pod stays until the node confirms"
    );

    api.delete("bound", &DeleteParams::default().grace_period(0))
        .await
        .expect("force delete");
    assert_eq!(api_error(api.get("bound").await).code, 404);
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_removed() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let mut held = configmap("held", &[], &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &held)
        .await
        .expect("create");
    api.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let terminating = api.get("held").await.expect("still there");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizers");
    assert_eq!(api_error(api.get("held").await).code, 404);
}

// ---------------------------------------------------------------------------------------------
// Watches
// ---------------------------------------------------------------------------------------------

/// Spawns a watcher with a reflector over `api`, returning the store and a counter of 410s seen.
fn spawn_reflector(
    api: Api<ConfigMap>,
    config: watcher::Config,
) -> (
    reflector::Store<ConfigMap>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let (reader, writer) = reflector::store();
    let expired = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&expired);
    let stream = watcher(api, config).default_backoff().reflect(writer);
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Err(watcher::Error::WatchError(status)) = &item
                && status.code == 410
            {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    (reader, expired, task)
}

async fn wait_for_names(store: &reflector::Store<ConfigMap>, expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    eventually(&format!("reflector to hold {expected:?}"), || {
        let matched = names_in(store) == expected;
        async move { matched.then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn watcher_and_reflector_follow_live_changes() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    api.create(
        &PostParams::default(),
        &configmap("before", &[], &[("v", "1")]),
    )
    .await
    .expect("create");
    let (store, _, task) = spawn_reflector(api.clone(), watcher::Config::default());
    store.wait_until_ready().await.expect("reflector ready");
    wait_for_names(&store, &["before"]).await;

    api.create(
        &PostParams::default(),
        &configmap("after", &[], &[("v", "1")]),
    )
    .await
    .expect("create");
    api.patch(
        "before",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"v": "2"}})),
    )
    .await
    .expect("patch");
    wait_for_names(&store, &["after", "before"]).await;
    eventually("the modification to reach the store", || {
        let value = store
            .state()
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some("before"))
            .and_then(|c| data_of(c, "v"));
        async move { (value.as_deref() == Some("2")).then_some(()) }
    })
    .await;
    api.delete("after", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for_names(&store, &["before"]).await;
    task.abort();
}

#[tokio::test]
async fn raw_watch_sees_added_modified_deleted_in_order() {
    let cluster = Cluster::start();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let created = api
        .create(&PostParams::default(), &configmap("w", &[], &[("v", "1")]))
        .await
        .expect("create");
    let start = created.metadata.resource_version.clone().expect("rv");
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"v": "2"}})),
    )
    .await
    .expect("patch");
    api.delete("w", &DeleteParams::default())
        .await
        .expect("delete");
    // From the create's revision: the two later events, replayed from the cache's ring.
    let mut events = api
        .watch(&WatchParams::default().timeout(30), &start)
        .await
        .expect("watch")
        .boxed();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match tokio::time::timeout(DEADLINE, events.next())
            .await
            .expect("an event in time")
        {
            Some(Ok(WatchEvent::Modified(cm))) => kinds.push(("MODIFIED", data_of(&cm, "v"))),
            Some(Ok(WatchEvent::Deleted(cm))) => kinds.push(("DELETED", data_of(&cm, "v"))),
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            other => panic!("unexpected watch item {other:?}"),
        }
    }
    assert_eq!(
        kinds,
        vec![
            ("MODIFIED", Some("2".to_string())),
            ("DELETED", Some("2".to_string()))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_converges_after_a_server_restart() {
    let mut cluster = Cluster::start();
    let client = cluster.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &configmap("one", &[], &[]))
        .await
        .expect("create");
    api.create(&PostParams::default(), &configmap("two", &[], &[]))
        .await
        .expect("create");
    let (store, _, task) = spawn_reflector(api.clone(), watcher::Config::default());
    store.wait_until_ready().await.expect("reflector ready");
    wait_for_names(&store, &["one", "two"]).await;

    tokio::task::block_in_place(|| {
        cluster.kill();
        cluster.launch();
    });
    // Changes after the restart, including one the watcher can only learn of by a delete event
    // or a relist.
    api.create(&PostParams::default(), &configmap("three", &[], &[]))
        .await
        .expect("create after restart");
    api.delete("one", &DeleteParams::default())
        .await
        .expect("delete after restart");
    api.patch(
        "two",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"v": "restarted"}})),
    )
    .await
    .expect("patch");
    wait_for_names(&store, &["three", "two"]).await;
    eventually("the post-restart patch to reach the store", || {
        let value = store
            .state()
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some("two"))
            .and_then(|c| data_of(c, "v"));
        async move { (value.as_deref() == Some("restarted")).then_some(()) }
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn raw_watch_from_a_compacted_revision_gets_a_410_expired_event() {
    let cluster = Cluster::start_with(&["--watch-cache-events", "5"]);
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let first = api
        .create(&PostParams::default(), &configmap("old", &[], &[]))
        .await
        .expect("create");
    for index in 0..10 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("push-{index}"), &[], &[]),
        )
        .await
        .expect("create");
    }
    let old = first.metadata.resource_version.clone().expect("rv");
    let mut events = api
        .watch(&WatchParams::default(), &old)
        .await
        .expect("the watch itself is accepted")
        .boxed();
    let first_item = tokio::time::timeout(DEADLINE, events.next())
        .await
        .expect("an event in time");
    match first_item {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert_eq!(
                status.status,
                Some(kube::core::response::StatusSummary::Failure)
            );
            assert!(
                status.message.contains("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(DEADLINE, events.next())
            .await
            .expect("the stream ends")
            .is_none(),
        "the stream ends after the ERROR event"
    );
}

#[tokio::test]
async fn watcher_relists_after_its_revision_is_compacted_and_converges() {
    let cluster = Cluster::start_with(&["--watch-cache-events", "5"]);
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    api.create(
        &PostParams::default(),
        &configmap("watched-1", &[("watched", "yes")], &[]),
    )
    .await
    .expect("create");
    // The watcher sees only `watched=yes` objects and no bookmarks, so its resourceVersion stays
    // at its last matching event; the server ends each watch after a second, and the watcher
    // resumes from that revision — which the writes below push out of the 5-event ring.
    let config = watcher::Config::default()
        .labels("watched=yes")
        .disable_bookmarks()
        .timeout(1);
    let (store, expired, task) = spawn_reflector(api.clone(), config);
    store.wait_until_ready().await.expect("reflector ready");
    wait_for_names(&store, &["watched-1"]).await;

    for index in 0..10 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("unwatched-{index}"), &[], &[]),
        )
        .await
        .expect("create");
    }
    eventually("the watcher to be told its revision expired", || {
        let seen = expired.load(std::sync::atomic::Ordering::SeqCst);
        async move { (seen > 0).then_some(()) }
    })
    .await;
    api.create(
        &PostParams::default(),
        &configmap("watched-2", &[("watched", "yes")], &[]),
    )
    .await
    .expect("create");
    api.patch(
        "unwatched-3",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"watched": "yes"}}})),
    )
    .await
    .expect("label into the selection");
    wait_for_names(&store, &["unwatched-3", "watched-1", "watched-2"]).await;
    assert_eq!(names_in(&store), server_names(&api, "watched=yes").await);
    task.abort();
}
