use super::*;
use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus, JobTemplateSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use proptest::prelude::*;

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn cron_job(schedule: &str, created: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some("hello".into()),
            namespace: Some("default".into()),
            uid: Some("cj-uid".into()),
            creation_timestamp: Some(Time(utc(created))),
            ..ObjectMeta::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            concurrency_policy: Some("Allow".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "hello".to_string())].into()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    template: PodTemplateSpec::default(),
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        status: None,
    }
}

fn with_policy(mut cron_job: CronJob, policy: &str) -> CronJob {
    cron_job.spec.as_mut().unwrap().concurrency_policy = Some(policy.into());
    cron_job
}

fn owned_job(name: &str, started: &str, finished: Option<&str>) -> Job {
    let conditions = finished.map(|how| {
        vec![JobCondition {
            type_: how.into(),
            status: "True".into(),
            ..JobCondition::default()
        }]
    });
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            creation_timestamp: Some(Time(utc(started))),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(JobStatus {
            start_time: Some(Time(utc(started))),
            completion_time: (finished == Some(COMPLETE)).then(|| Time(utc(started))),
            conditions,
            ..JobStatus::default()
        }),
    }
}

fn active(cron_job: &mut CronJob, jobs: &[&Job]) {
    cron_job.status = Some(CronJobStatus {
        active: Some(jobs.iter().map(|j| reference(j)).collect()),
        ..CronJobStatus::default()
    });
}

#[test]
fn a_due_schedule_starts_one_job_named_after_its_minute() {
    let cron_job = cron_job("*/1 * * * *", "2026-01-01T00:00:10Z");
    let plan = plan(&cron_job, &[], utc("2026-01-01T00:01:05Z")).unwrap();
    let job = plan.create.as_ref().unwrap();
    let minutes = utc("2026-01-01T00:01:00Z").as_second() / 60;
    assert_eq!(job.metadata.name, Some(format!("hello-{minutes}")));
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[SCHEDULED_TIMESTAMP],
        "2026-01-01T00:01:00Z"
    );
    assert_eq!(job.metadata.labels.as_ref().unwrap()["app"], "hello");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("CronJob", "cj-uid")
    );
    assert_eq!(
        plan.status.last_schedule_time,
        Some(Time(utc("2026-01-01T00:01:00Z")))
    );
    assert_eq!(plan.events[0].reason, "SuccessfulCreate");
    // Next look: just after the next minute.
    assert_eq!(plan.requeue_after, Some(Duration::from_millis(55_100)));
}

#[test]
fn nothing_is_due_before_the_first_schedule_time() {
    let cron_job = cron_job("0 * * * *", "2026-01-01T00:00:10Z");
    let plan = plan(&cron_job, &[], utc("2026-01-01T00:30:00Z")).unwrap();
    assert!(plan.create.is_none());
    assert_eq!(plan.requeue_after, Some(Duration::from_millis(1_800_100)));
}

#[test]
fn a_time_handled_already_is_not_started_again() {
    let mut cron_job = cron_job("*/1 * * * *", "2026-01-01T00:00:10Z");
    cron_job.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(utc("2026-01-01T00:01:00Z"))),
        ..CronJobStatus::default()
    });
    assert!(
        plan(&cron_job, &[], utc("2026-01-01T00:01:30Z"))
            .unwrap()
            .create
            .is_none()
    );
}

#[test]
fn time_zones_pick_the_wall_clock_and_the_annotation_offset() {
    let mut cron_job = cron_job("0 9 * * *", "2025-12-31T23:59:00Z");
    cron_job.spec.as_mut().unwrap().time_zone = Some("Asia/Tokyo".into());
    let plan = plan(&cron_job, &[], utc("2026-01-01T00:00:30Z")).unwrap();
    let job = plan.create.unwrap();
    assert_eq!(
        job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP],
        "2026-01-01T09:00:00+09:00"
    );
}

#[test]
fn unknown_time_zones_and_bad_schedules_are_reported() {
    let mut cron_job = cron_job("*/1 * * * *", "2026-01-01T00:00:00Z");
    cron_job.spec.as_mut().unwrap().time_zone = Some("Mars/Olympus".into());
    let plan_zone = plan(&cron_job, &[], utc("2026-01-01T00:05:00Z")).unwrap();
    assert_eq!(plan_zone.events[0].reason, "UnknownTimeZone");
    assert!(plan_zone.create.is_none());
    let bad = self::cron_job("61 * * * *", "2026-01-01T00:00:00Z");
    let plan_bad = plan(&bad, &[], utc("2026-01-01T00:05:00Z")).unwrap();
    assert_eq!(plan_bad.events[0].reason, "UnparseableSchedule");
}

#[test]
fn suspended_cron_jobs_start_nothing() {
    let mut cron_job = cron_job("*/1 * * * *", "2026-01-01T00:00:00Z");
    cron_job.spec.as_mut().unwrap().suspend = Some(true);
    assert!(
        plan(&cron_job, &[], utc("2026-01-01T00:05:00Z"))
            .unwrap()
            .create
            .is_none()
    );
}

#[test]
fn forbid_skips_while_a_job_runs_and_replace_deletes_it() {
    let running = owned_job("hello-1", "2026-01-01T00:01:00Z", None);
    let mut forbid = with_policy(cron_job("*/1 * * * *", "2026-01-01T00:00:00Z"), "Forbid");
    active(&mut forbid, &[&running]);
    let plan_forbid = plan(&forbid, &[&running], utc("2026-01-01T00:02:01Z")).unwrap();
    assert!(plan_forbid.create.is_none());
    assert_eq!(plan_forbid.events[0].reason, "JobAlreadyActive");
    assert!(
        plan_forbid.status.last_schedule_time.is_none(),
        "the run is still owed"
    );

    let mut replace = with_policy(cron_job("*/1 * * * *", "2026-01-01T00:00:00Z"), "Replace");
    active(&mut replace, &[&running]);
    let plan_replace = plan(&replace, &[&running], utc("2026-01-01T00:02:01Z")).unwrap();
    assert_eq!(plan_replace.delete, vec!["hello-1".to_string()]);
    assert!(plan_replace.create.is_some());
    let active = plan_replace.status.active.unwrap_or_default();
    assert!(active.is_empty(), "the replaced job left the active list");

    let mut allow = cron_job("*/1 * * * *", "2026-01-01T00:00:00Z");
    active_list(&mut allow, &running);
    let plan_allow = plan(&allow, &[&running], utc("2026-01-01T00:02:01Z")).unwrap();
    assert!(plan_allow.create.is_some());
    assert!(plan_allow.delete.is_empty());
}

fn active_list(cron_job: &mut CronJob, job: &Job) {
    active(cron_job, &[job]);
}

#[test]
fn finished_jobs_leave_the_active_list_and_set_the_last_success() {
    let done = owned_job("hello-1", "2026-01-01T00:01:00Z", Some(COMPLETE));
    let mut cron_job = cron_job("0 0 1 1 *", "2026-01-01T00:00:30Z");
    active(&mut cron_job, &[&done]);
    let plan = plan(&cron_job, &[&done], utc("2026-01-01T00:02:00Z")).unwrap();
    assert!(plan.status.active.is_none());
    assert_eq!(plan.events[0].reason, "SawCompletedJob");
    assert_eq!(
        plan.events[0].message,
        "Saw completed job: hello-1, condition: Complete"
    );
    assert_eq!(
        plan.status.last_successful_time,
        Some(Time(utc("2026-01-01T00:01:00Z")))
    );
}

#[test]
fn running_jobs_it_owns_join_the_active_list() {
    let manual = owned_job("hello-manual", "2026-01-01T00:01:00Z", None);
    let cron_job = cron_job("0 0 1 1 *", "2026-01-01T00:00:30Z");
    let plan = plan(&cron_job, &[&manual], utc("2026-01-01T00:02:00Z")).unwrap();
    let active = plan.status.active.unwrap();
    assert_eq!(active[0].name.as_deref(), Some("hello-manual"));
}

#[test]
fn history_limits_delete_the_oldest_finished_jobs() {
    let jobs: Vec<Job> = (1..=5)
        .map(|i| {
            owned_job(
                &format!("ok-{i}"),
                &format!("2026-01-01T00:0{i}:00Z"),
                Some(COMPLETE),
            )
        })
        .chain((1..=3).map(|i| {
            owned_job(
                &format!("bad-{i}"),
                &format!("2026-01-01T00:0{i}:30Z"),
                Some(FAILED),
            )
        }))
        .collect();
    let refs: Vec<&Job> = jobs.iter().collect();
    let cron_job = cron_job("0 0 1 1 *", "2026-01-01T00:00:00Z");
    let plan = plan(&cron_job, &refs, utc("2026-01-01T00:10:00Z")).unwrap();
    assert_eq!(plan.delete, vec!["ok-1", "ok-2", "bad-1", "bad-2"]);
    assert!(plan.events.iter().all(|e| e.reason == "SuccessfulDelete"));
}

#[test]
fn a_missed_start_past_its_deadline_is_reported_not_started() {
    let mut cron_job = cron_job("0 * * * *", "2026-01-01T00:00:00Z");
    cron_job.spec.as_mut().unwrap().starting_deadline_seconds = Some(60);
    cron_job.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(utc("2026-01-01T00:00:00Z"))),
        ..CronJobStatus::default()
    });
    // 01:00 is due; at 01:00:30 it is still within the deadline.
    let on_time = plan(&cron_job, &[], utc("2026-01-01T01:00:30Z")).unwrap();
    assert!(on_time.create.is_some());
    // At 01:05 the 60 s window has passed: nothing to start.
    let late = plan(&cron_job, &[], utc("2026-01-01T01:05:00Z")).unwrap();
    assert!(late.create.is_none());
}

#[test]
fn too_many_missed_times_warn_and_start_only_the_latest() {
    let cron_job = cron_job("*/1 * * * *", "2026-01-01T00:00:00Z");
    let plan = plan(&cron_job, &[], utc("2026-01-01T05:00:30Z")).unwrap();
    assert_eq!(plan.events[0].reason, "TooManyMissedTimes");
    assert_eq!(
        plan.status.last_schedule_time,
        Some(Time(utc("2026-01-01T05:00:00Z")))
    );
    assert!(plan.create.is_some());
}

proptest! {
    /// Running the controller every few seconds over a stretch of time starts exactly one Job
    /// per schedule time, each at or after its time, never one for a time that was not due.
    #[test]
    fn one_job_per_schedule_time(
        minutes in 1u32..20,
        step_seconds in 5i64..50,
        syncs in 10usize..120,
    ) {
        let schedule = format!("*/{minutes} * * * *");
        let start = utc("2026-01-01T00:00:00Z");
        let mut cron_job = cron_job(&schedule, "2026-01-01T00:00:00Z");
        let mut created: Vec<String> = Vec::new();
        let mut now = start;
        for _ in 0..syncs {
            now = now.checked_add(SignedDuration::from_secs(step_seconds)).unwrap();
            let plan = plan(&cron_job, &[], now).unwrap();
            if let Some(job) = plan.create {
                let name = job.metadata.name.clone().unwrap();
                prop_assert!(!created.contains(&name));
                let at: i64 = name.trim_start_matches("hello-").parse().unwrap();
                prop_assert_eq!(at.rem_euclid(60) % i64::from(minutes), 0);
                prop_assert!(at * 60 <= now.as_second());
                created.push(name);
            }
            cron_job.status = Some(plan.status);
        }
        let first = start.as_second() / 60 + 1;
        let last = now.as_second() / 60;
        let due = (first..=last).filter(|m| m.rem_euclid(60) % i64::from(minutes) == 0).count() as i64;
        prop_assert_eq!(created.len() as i64, due);
    }
}
