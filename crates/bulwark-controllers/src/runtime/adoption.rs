//! The writes of `ControllerRefManager`: adopting an orphan adds the owner's controller
//! reference, releasing removes it. Both are guarded by the object's uid, so a replacement with
//! the same name is never touched.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::runtime::ignore_not_found;

pub async fn adopt_and_release<K>(
    api: &Api<K>,
    owner: &OwnerReference,
    adopt: &[&K],
    release: &[&K],
) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for object in adopt {
        let mut owners = object.meta().owner_references.clone().unwrap_or_default();
        owners.push(owner.clone());
        patch_owners(api, *object, owners).await?;
    }
    for object in release {
        let owners: Vec<OwnerReference> = object
            .meta()
            .owner_references
            .iter()
            .flatten()
            .filter(|o| o.uid != owner.uid)
            .cloned()
            .collect();
        patch_owners(api, *object, owners).await?;
    }
    Ok(())
}

async fn patch_owners<K>(
    api: &Api<K>,
    object: &K,
    owners: Vec<OwnerReference>,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {"ownerReferences": owners, "uid": object.meta().uid}});
    ignore_not_found(
        api.patch(
            &object.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await,
    )
}
