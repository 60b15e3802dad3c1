//! Creating and deleting an owner's pods as every workload controller does it (upstream's
//! `PodControl`): each write is announced to the owner's expectations, so the next reconcile
//! waits for the cache to catch up instead of acting twice, and each outcome becomes an event
//! on the owner (`SuccessfulCreate`, `FailedCreate`, `SuccessfulDelete`, `FailedDelete`).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Resource, ResourceExt};

use super::events::{EventRecorder, EventType};
use super::expectations::Expectations;
use super::{api_message, ignore_not_found, key_of};
use bulwark_core::clock::Clock;

/// What one controller writes pods with.
pub struct PodControl<'a> {
    api: &'a Api<Pod>,
    expectations: &'a Expectations,
    recorder: &'a EventRecorder,
    clock: &'a dyn Clock,
}

/// Slow start: batches of 1, 2, 4, … so a template that cannot be created fails after one
/// attempt, not hundreds.
pub fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let mut remaining = count;
    let mut size = 1usize;
    while remaining > 0 {
        let batch = size.min(remaining);
        batches.push(batch);
        remaining -= batch;
        size = size.saturating_mul(2);
    }
    batches
}

impl<'a> PodControl<'a> {
    pub fn new(
        api: &'a Api<Pod>,
        expectations: &'a Expectations,
        recorder: &'a EventRecorder,
        shared: &'a crate::Shared,
    ) -> Self {
        Self {
            api,
            expectations,
            recorder,
            clock: shared.clock.as_ref(),
        }
    }

    /// Creates `pods` for `owner` in slow-start batches; the first batch with a failure records
    /// `FailedCreate`, stops the rest and returns that failure.
    pub async fn create<K>(&self, owner: &K, pods: &[Pod]) -> Option<kube::Error>
    where
        K: Resource<DynamicType = ()>,
    {
        let key = key_of(owner);
        let params = PostParams::default();
        let mut remaining = pods;
        for batch in slow_start_batches(pods.len()) {
            let (now, rest) = remaining.split_at(batch);
            remaining = rest;
            let results =
                futures::future::join_all(now.iter().map(|pod| self.api.create(&params, pod)))
                    .await;
            let created: Vec<String> = results
                .iter()
                .filter_map(|result| result.as_ref().ok())
                .map(ResourceExt::name_any)
                .collect();
            self.expectations
                .expect_creations(&key, created.iter().cloned(), self.clock.now());
            for name in &created {
                let message = format!("Created pod: {name}");
                self.recorder
                    .record(owner, EventType::Normal, "SuccessfulCreate", &message)
                    .await;
            }
            if let Some(error) = results.into_iter().find_map(Result::err) {
                let message = format!("Error creating: {}", api_message(&error));
                self.recorder
                    .record(owner, EventType::Warning, "FailedCreate", &message)
                    .await;
                return Some(error);
            }
        }
        None
    }

    /// Deletes the named pods of `owner` (a pod already gone counts as deleted); returns the
    /// last failure, after recording `FailedDelete` for each.
    pub async fn delete<K>(
        &self,
        owner: &K,
        names: &[String],
        params: &DeleteParams,
    ) -> Option<kube::Error>
    where
        K: Resource<DynamicType = ()>,
    {
        if names.is_empty() {
            return None;
        }
        self.expectations
            .expect_deletions(&key_of(owner), names.iter().cloned(), self.clock.now());
        let deletes = names.iter().map(|name| self.api.delete(name, params));
        let results = futures::future::join_all(deletes).await;
        let mut failure = None;
        for (name, result) in names.iter().zip(results) {
            let (kind, reason, message) = match ignore_not_found(result) {
                Ok(()) => (
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                ),
                Err(error) => {
                    let message = format!("Error deleting: {}", api_message(&error));
                    failure = Some(error);
                    (EventType::Warning, "FailedDelete", message)
                }
            };
            self.recorder.record(owner, kind, reason, &message).await;
        }
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_doubles() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(10), vec![1, 2, 4, 3]);
    }
}
