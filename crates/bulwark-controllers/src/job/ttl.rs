//! The TTL-after-finished controller: deletes a finished Job (with background propagation, so
//! its pods go too) `ttlSecondsAfterFinished` seconds after it finished.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::core::{COMPLETE, FAILED, condition};
use crate::runtime::backoff::FailureTracker;
use crate::runtime::{ignore_not_found, key_of, stopped};
use crate::{Error, Shared};

/// Pure: when a finished Job with a TTL expires (None: no TTL, or not finished).
pub fn expires_at(job: &Job) -> Option<Timestamp> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let status = job.status.as_ref()?;
    let finished_at = match condition(status, COMPLETE) {
        Some(complete) => status
            .completion_time
            .as_ref()
            .or(complete.last_transition_time.as_ref()),
        None => condition(status, FAILED)?.last_transition_time.as_ref(),
    }?;
    finished_at
        .0
        .checked_add(SignedDuration::from_secs(i64::from(ttl)))
        .ok()
}

/// Pure: how long until `job` should be deleted; zero once due, None if never.
pub fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    let at = expires_at(job)?;
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

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
        Api::<Job>::all(shared.client.clone()),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(stopped(shared.stop.clone()))
    .run(reconcile, error_policy, context)
    .for_each(|_| futures::future::ready(()))
    .await;
}

async fn reconcile(job: Arc<Job>, context: Arc<Context>) -> Result<Action, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let now = context.shared.clock.now();
    match time_left(&job, now) {
        None => return Ok(Action::await_change()),
        Some(wait) if !wait.is_zero() => {
            return Ok(Action::requeue(wait + Duration::from_millis(100)));
        }
        Some(_) => {}
    }
    let api: Api<Job> = Api::namespaced(
        context.shared.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    // Upstream re-reads the Job before deleting: its TTL may have been changed meanwhile.
    let Some(live) = api.get_opt(&job.name_any()).await? else {
        return Ok(Action::await_change());
    };
    if time_left(&live, now).is_none_or(|wait| !wait.is_zero()) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let mut params = DeleteParams::background();
    params.preconditions = Some(Preconditions {
        uid: live.metadata.uid.clone(),
        resource_version: live.metadata.resource_version.clone(),
    });
    ignore_not_found(api.delete(&live.name_any(), &params).await)?;
    tracing::info!(job = %key_of(&live), "deleted a finished job whose TTL expired");
    context.failures.forget(&key_of(&live));
    Ok(Action::await_change())
}

fn error_policy(job: Arc<Job>, error: &Error, context: Arc<Context>) -> Action {
    context
        .failures
        .retry("ttl-after-finished", job.as_ref(), error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::fixtures::at;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn finished(kind: &str, at_second: i64, ttl: Option<i32>) -> Job {
        Job {
            spec: Some(JobSpec {
                ttl_seconds_after_finished: ttl,
                ..JobSpec::default()
            }),
            status: Some(JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: kind.into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at(at_second))),
                    ..JobCondition::default()
                }]),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn finished_jobs_expire_their_ttl_after_finishing() {
        let job = finished(COMPLETE, 10, Some(5));
        assert_eq!(time_left(&job, at(12)), Some(Duration::from_secs(3)));
        assert_eq!(time_left(&job, at(20)), Some(Duration::ZERO));
        let failed = finished(FAILED, 10, Some(0));
        assert_eq!(time_left(&failed, at(10)), Some(Duration::ZERO));
        assert_eq!(time_left(&finished(COMPLETE, 10, None), at(99)), None);
        assert_eq!(time_left(&finished("Suspended", 10, Some(1)), at(99)), None);
    }
}
