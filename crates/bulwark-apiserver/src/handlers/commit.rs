//! The compare-and-swap step every read-modify-write loop ends with, written once.

use bulwark_core::{ApiError, ResourceInfo};
use serde_json::Value;

use crate::ApiServer;
use crate::object;

/// What a loop decided to do with the object it read at `revision`.
pub enum Commit {
    /// Store this new state.
    Update(Value),
    /// Remove the object; the value is its last state, returned to the client.
    Remove(Value),
}

/// Attempts of a read-modify-write loop before giving up with 409.
pub const MAX_ATTEMPTS: usize = 8;

/// Writes `commit` if the object is still at `revision`. `Ok(None)` means someone else wrote
/// first: read again and recompute.
pub async fn compare_and_swap(
    server: &ApiServer,
    info: &ResourceInfo,
    key: &str,
    name: &str,
    revision: i64,
    commit: Commit,
) -> Result<Option<Value>, ApiError> {
    let outcome = match &commit {
        Commit::Update(next) => {
            server
                .store
                .update(key, super::write::encode(next), revision)
                .await
        }
        Commit::Remove(_) => server
            .store
            .delete(key, Some(revision))
            .await
            .map(|(deleted_at, _)| deleted_at),
    };
    match outcome {
        Ok(new_revision) => {
            let removed = matches!(commit, Commit::Remove(_));
            let (Commit::Update(mut written) | Commit::Remove(mut written)) = commit;
            if removed {
                crate::service_ips::release(server, info, &written).await;
            }
            object::set_resource_version(&mut written, new_revision);
            Ok(Some(written))
        }
        Err(bulwark_store::Error::Conflict { .. }) => Ok(None),
        Err(bulwark_store::Error::NotFound(_)) => {
            Err(ApiError::not_found(&info.qualified_plural(), name))
        }
        Err(other) => Err(object::storage_error(other)),
    }
}

/// The 409 after [`MAX_ATTEMPTS`] lost races.
pub fn too_many_conflicts(info: &ResourceInfo, name: &str) -> ApiError {
    ApiError::conflict(
        &info.qualified_plural(),
        name,
        "too many concurrent updates; please retry",
    )
}
