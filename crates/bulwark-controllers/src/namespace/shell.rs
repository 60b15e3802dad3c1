//! The namespace controller's I/O: a queue of namespaces; for one being deleted, discovery of
//! every served namespaced resource, a delete of each one's content, a count of what is left,
//! the deletion conditions, and the `finalize` write that lets the API server remove it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersion};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::core::{self, Sweep};
use crate::runtime::backoff::FailureTracker;
use crate::runtime::{RESYNC_PERIOD, api_message, ignore_not_found, key_of, resync, stopped};
use crate::{Error, Shared};

/// How soon to look again while content is still going away.
const CONTENT_POLL: Duration = Duration::from_secs(1);

struct Context {
    shared: Shared,
    failures: FailureTracker,
}

pub async fn run(shared: Shared) {
    let context = Arc::new(Context {
        shared: shared.clone(),
        failures: FailureTracker::default(),
    });
    Controller::new(
        Api::<Namespace>::all(shared.client.clone()),
        watcher::Config::default(),
    )
    .reconcile_all_on(resync(RESYNC_PERIOD))
    .graceful_shutdown_on(stopped(shared.stop.clone()))
    .run(reconcile, error_policy, context)
    .for_each(|_| futures::future::ready(()))
    .await;
}

fn error_policy(namespace: Arc<Namespace>, error: &Error, context: Arc<Context>) -> Action {
    context
        .failures
        .retry("namespace", namespace.as_ref(), error)
}

async fn reconcile(namespace: Arc<Namespace>, context: Arc<Context>) -> Result<Action, Error> {
    if !core::needs_finalizing(&namespace) {
        return Ok(Action::await_change());
    }
    let client = context.shared.client.clone();
    let name = namespace.name_any();
    let sweep = delete_content(&client, &name).await;
    write_conditions(&client, &namespace, &sweep, &context).await?;
    context.failures.forget(&key_of(namespace.as_ref()));
    if !sweep.done() {
        return Ok(Action::requeue(CONTENT_POLL));
    }
    finalize(&client, &name).await?;
    tracing::info!(namespace = %name, "namespace emptied and finalized");
    Ok(Action::await_change())
}

/// One namespaced resource that can be listed and deleted.
struct Deletable {
    resource: ApiResource,
    collection: bool,
}

/// Every served namespaced resource, from discovery (preferred versions of each group); the
/// group-versions that could not be read are reported, not skipped silently.
async fn discover(client: &Client, sweep: &mut Sweep) -> Vec<Deletable> {
    let mut group_versions = vec!["v1".to_string()];
    match client.list_api_groups().await {
        Ok(groups) => group_versions.extend(groups.groups.iter().filter_map(|g| {
            g.preferred_version
                .as_ref()
                .or(g.versions.first())
                .map(|v| v.group_version.clone())
        })),
        Err(error) => sweep.discovery_failures.push(format!("apis: {error}")),
    }
    let mut found = Vec::new();
    for group_version in group_versions {
        let list = if group_version == "v1" {
            client.list_core_api_resources("v1").await
        } else {
            client.list_api_group_resources(&group_version).await
        };
        match list {
            Ok(list) => found.extend(deletables(&group_version, &list)),
            Err(error) => sweep
                .discovery_failures
                .push(format!("{group_version}: {error}")),
        }
    }
    found
}

fn deletables(group_version: &str, list: &APIResourceList) -> Vec<Deletable> {
    let Ok(gv) = group_version.parse::<GroupVersion>() else {
        return vec![];
    };
    let verb = |r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource, v: &str| {
        r.verbs.iter().any(|x| x == v)
    };
    list.resources
        .iter()
        .filter(|r| r.namespaced && !r.name.contains('/'))
        .filter(|r| verb(r, "list") && (verb(r, "delete") || verb(r, "deletecollection")))
        .map(|r| Deletable {
            resource: ApiResource::from_gvk_with_plural(&gv.clone().with_kind(&r.kind), &r.name),
            collection: verb(r, "deletecollection"),
        })
        .collect()
}

fn resource_name(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// Deletes everything in the namespace, then counts what is left and the finalizers holding it.
async fn delete_content(client: &Client, namespace: &str) -> Sweep {
    let mut sweep = Sweep::default();
    for deletable in discover(client, &mut sweep).await {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &deletable.resource);
        let name = resource_name(&deletable.resource);
        if let Err(error) = delete_all(&api, deletable.collection).await {
            sweep
                .content_failures
                .push(format!("{name}: {}", api_message(&error)));
        }
        match api.list(&ListParams::default()).await {
            Ok(left) if !left.items.is_empty() => {
                sweep.remaining.insert(name, left.items.len());
                for object in &left.items {
                    for finalizer in object.finalizers() {
                        *sweep.finalizers.entry(finalizer.clone()).or_default() += 1;
                    }
                }
            }
            Ok(_) => {}
            Err(error) => sweep
                .content_failures
                .push(format!("{name}: {}", api_message(&error))),
        }
    }
    sweep
}

async fn delete_all(api: &Api<DynamicObject>, collection: bool) -> Result<(), kube::Error> {
    let params = DeleteParams::background();
    if collection {
        return ignore_not_found(api.delete_collection(&params, &ListParams::default()).await);
    }
    for object in api.list(&ListParams::default()).await?.items {
        ignore_not_found(api.delete(&object.name_any(), &params).await)?;
    }
    Ok(())
}

async fn write_conditions(
    client: &Client,
    namespace: &Namespace,
    sweep: &Sweep,
    context: &Context,
) -> Result<(), Error> {
    let current = namespace
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let next = core::merge_conditions(
        &current,
        core::conditions(sweep, context.shared.clock.now()),
    );
    if next == current {
        return Ok(());
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = json!({"status": {"conditions": next}});
    ignore_not_found(
        api.patch_status(
            &namespace.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await,
    )?;
    Ok(())
}

/// Removes the `kubernetes` finalizer through `namespaces/finalize`, from a fresh read so the
/// write is not refused as stale.
async fn finalize(client: &Client, name: &str) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(mut current) = api.get_opt(name).await? else {
        return Ok(());
    };
    if !core::needs_finalizing(&current) {
        return Ok(());
    }
    current.spec = Some(NamespaceSpec {
        finalizers: Some(core::finalizers_without_ours(&current)),
    });
    ignore_not_found(
        api.replace_subresource("finalize", name, &PostParams::default(), &current)
            .await,
    )?;
    Ok(())
}
