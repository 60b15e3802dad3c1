//! `batch/v1` (batch/validation): Jobs, CronJobs, and the cron schedule syntax.

use bulwark_core::StatusCause;
use serde_json::Value;

use super::field::{self, BadValue, Path};
use super::json;
use super::meta;
use super::pod;

/// CronJob names leave room for the 11-character suffix of the Jobs they create.
const CRON_JOB_NAME_MAX: usize = 52;

pub fn validate_job(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    match spec.get("selector").filter(|s| s.is_object()) {
        None => causes.push(field::required(&path.child("selector"), "")),
        Some(selector) => {
            causes.extend(meta::validate_label_selector(
                selector,
                &path.child("selector"),
            ));
            let template = spec.get("template");
            if !meta::selector_matches(selector, pod::template_labels(template)) {
                causes.push(field::invalid(
                    &path.child("template").child("metadata").child("labels"),
                    BadValue::Raw(field::go_string_map(pod::template_labels(template))),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    causes.extend(validate_job_spec(spec, &path));
    causes
}

/// `validateJobSpec`: counts, completion mode, and a template whose pods do not restart forever.
fn validate_job_spec(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        causes.extend(meta::non_negative(spec, key, &path.child(key)));
    }
    match json::string(spec, "completionMode") {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            if !json::present(spec, "completions") {
                causes.push(field::required(
                    &path.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
        }
        Some(other) => causes.push(field::not_supported(
            &path.child("completionMode"),
            other,
            &["NonIndexed", "Indexed"],
        )),
    }
    if let Some(policy) = json::string(spec, "podReplacementPolicy") {
        let failure_policy = json::present(spec, "podFailurePolicy");
        if !["TerminatingOrFailed", "Failed"].contains(&policy) {
            causes.push(field::not_supported(
                &path.child("podReplacementPolicy"),
                policy,
                &["Failed", "TerminatingOrFailed"],
            ));
        } else if failure_policy && policy != "Failed" {
            causes.push(field::not_supported(
                &path.child("podReplacementPolicy"),
                policy,
                &["Failed"],
            ));
        }
    }
    let template_path = path.child("template");
    let template = spec.get("template");
    causes.extend(pod::validate_pod_template(template, &template_path));
    if let Some(template) = template.filter(|t| t.is_object()) {
        let restart_policy = template
            .get("spec")
            .and_then(|s| json::string(s, "restartPolicy"))
            .unwrap_or_default();
        if !restart_policy.is_empty() && !["OnFailure", "Never"].contains(&restart_policy) {
            causes.push(field::not_supported(
                &template_path.child("spec").child("restartPolicy"),
                restart_policy,
                &["OnFailure", "Never"],
            ));
        }
    }
    causes
}

/// Job updates may not touch the selector, the completion mode or (unless suspended) the template.
pub fn validate_job_update(new: &Value, old: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let new_spec = new.get("spec").unwrap_or(&null);
    let old_spec = old.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    if new_spec.get("selector") != old_spec.get("selector") {
        causes.push(field::immutable(
            &path.child("selector"),
            BadValue::Raw(field::go_label_selector(new_spec.get("selector"))),
        ));
    }
    for key in ["completionMode", "completions"] {
        if new_spec.get(key) != old_spec.get(key) {
            causes.push(field::immutable(
                &path.child(key),
                field::json_value(new_spec.get(key)),
            ));
        }
    }
    let suspended = json::boolean(old_spec, "suspend") == Some(true);
    if !suspended && new_spec.get("template") != old_spec.get("template") {
        causes.push(field::immutable(
            &path.child("template"),
            field::json_value(new_spec.get("template")),
        ));
    }
    causes
}

pub fn validate_cron_job(object: &Value) -> Vec<StatusCause> {
    let path = Path::root("spec");
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let mut causes = Vec::new();
    let name = object
        .get("metadata")
        .and_then(|m| json::string(m, "name"))
        .unwrap_or_default();
    if name.len() > CRON_JOB_NAME_MAX {
        causes.push(field::invalid(
            &Path::root("metadata").child("name"),
            name,
            "must be no more than 52 characters",
        ));
    }
    match json::string(spec, "schedule").unwrap_or_default() {
        "" => causes.push(field::required(&path.child("schedule"), "")),
        schedule => {
            if schedule.contains("TZ") {
                causes.push(field::invalid(
                    &path.child("schedule"),
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            } else if let Err(message) = parse_schedule(schedule) {
                causes.push(field::invalid(&path.child("schedule"), schedule, &message));
            }
        }
    }
    match json::string(spec, "concurrencyPolicy").unwrap_or_default() {
        "" => causes.push(field::required(&path.child("concurrencyPolicy"), "")),
        "Allow" | "Forbid" | "Replace" => {}
        other => causes.push(field::not_supported(
            &path.child("concurrencyPolicy"),
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    for key in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        causes.extend(meta::non_negative(spec, key, &path.child(key)));
    }
    causes.extend(validate_time_zone(spec, &path));
    causes.extend(validate_job_template(
        spec.get("jobTemplate").unwrap_or(&null),
        &path.child("jobTemplate"),
    ));
    causes
}

/// A CronJob's job template: its selector is generated per Job, so none may be given.
fn validate_job_template(template: &Value, path: &Path) -> Vec<StatusCause> {
    let null = Value::Null;
    let spec = template.get("spec").unwrap_or(&null);
    let spec_path = path.child("spec");
    let mut causes = Vec::new();
    if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
        causes.push(field::invalid(
            &spec_path.child("selector"),
            BadValue::Raw(field::go_label_selector(Some(selector))),
            "`selector` will be auto-generated",
        ));
    }
    if json::boolean(spec, "manualSelector") == Some(true) {
        causes.push(field::not_supported(
            &spec_path.child("manualSelector"),
            BadValue::Raw("true".into()),
            &["nil", "false"],
        ));
    }
    causes.extend(validate_job_spec(spec, &spec_path));
    causes
}

/// Checks a standard 5-field cron expression or a `@` descriptor, with robfig/cron's messages
/// (the parser the CronJob controller runs).
pub fn parse_schedule(schedule: &str) -> Result<(), String> {
    bulwark_core::cron::Schedule::parse(schedule)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// `validateTimeZone`: an explicit IANA zone this machine's time zone database knows.
fn validate_time_zone(spec: &Value, path: &Path) -> Vec<StatusCause> {
    let Some(zone) = spec.get("timeZone").filter(|z| !z.is_null()) else {
        return vec![];
    };
    let path = path.child("timeZone");
    let Some(name) = zone.as_str() else {
        return vec![field::invalid(
            &path,
            BadValue::Raw(zone.to_string()),
            "must be a string",
        )];
    };
    let message = if name.is_empty() {
        "timeZone must be nil or non-empty string".to_string()
    } else if name.eq_ignore_ascii_case("local") {
        "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
            .to_string()
    } else if jiff::tz::TimeZone::get(name).is_err() {
        format!("unknown time zone {name}")
    } else {
        return vec![];
    };
    vec![field::invalid(&path, name, &message)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(restart_policy: &str) -> Value {
        json!({
            "metadata": {"labels": {"batch.kubernetes.io/controller-uid": "u1", "job-name": "pi"}},
            "spec": {
                "restartPolicy": restart_policy, "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "pi", "image": "perl", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]
            }
        })
    }

    fn job(restart_policy: &str) -> Value {
        json!({
            "metadata": {"name": "pi", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
                "template": template(restart_policy)
            }
        })
    }

    #[test]
    fn a_defaulted_job_is_valid() {
        assert_eq!(validate_job(&job("Never")), vec![]);
    }

    #[test]
    fn job_pods_may_not_restart_always() {
        let causes = validate_job(&job("Always"));
        assert_eq!(causes[0].field, "spec.template.spec.restartPolicy");
        assert_eq!(
            causes[0].message,
            "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn job_selector_is_required_and_immutable() {
        let mut bad = job("Never");
        bad["spec"]["selector"] = Value::Null;
        assert_eq!(validate_job(&bad)[0].message, "Required value");
        let old = job("Never");
        let mut new = job("Never");
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5");
        assert_eq!(validate_job_update(&new, &old)[0].field, "spec.template");
        let mut suspended = old.clone();
        suspended["spec"]["suspend"] = json!(true);
        assert!(validate_job_update(&new, &suspended).is_empty());
    }

    #[test]
    fn indexed_jobs_need_completions() {
        let mut bad = job("Never");
        bad["spec"]["completionMode"] = json!("Indexed");
        bad["spec"].as_object_mut().map(|s| s.remove("completions"));
        assert_eq!(
            validate_job(&bad)[0].message,
            "Required value: when completion mode is Indexed"
        );
    }

    #[test]
    fn cron_jobs_check_schedule_and_policy() {
        let mut job_template = template("OnFailure");
        job_template["metadata"] = json!({});
        let cron = json!({
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": "*/5 * * * mon-fri", "concurrencyPolicy": "Allow", "jobTemplate": {"spec": {"template": job_template}}}
        });
        assert_eq!(validate_cron_job(&cron), vec![]);
        let mut bad = cron.clone();
        bad["spec"]["schedule"] = json!("every minute");
        bad["spec"]["concurrencyPolicy"] = json!("Sometimes");
        let causes = validate_cron_job(&bad);
        assert_eq!(
            causes[0].message,
            "Invalid value: \"every minute\": expected exactly 5 fields, found 2: every minute"
        );
        assert_eq!(causes[1].field, "spec.concurrencyPolicy");
    }

    #[test]
    fn schedules_are_range_checked() {
        assert!(parse_schedule("0 0 * * *").is_ok());
        assert!(parse_schedule("@hourly").is_ok());
        assert!(parse_schedule("0-59/15 1,2,3 1-31 jan-dec 0-6").is_ok());
        assert_eq!(
            parse_schedule("60 * * * *").unwrap_err(),
            "end of range (60) above maximum (59): 60"
        );
        assert!(parse_schedule("* * 0 * *").is_err());
        assert!(parse_schedule("*/0 * * * *").is_err());
        assert!(parse_schedule("@sometimes").is_err());
    }

    #[test]
    fn cron_job_time_zones_must_be_known() {
        let spec = |zone: Value| json!({"timeZone": zone});
        let path = Path::root("spec");
        assert!(validate_time_zone(&spec(json!("Europe/Paris")), &path).is_empty());
        assert!(validate_time_zone(&json!({}), &path).is_empty());
        let causes = validate_time_zone(&spec(json!("Mars/Olympus")), &path);
        assert_eq!(causes[0].field, "spec.timeZone");
        assert_eq!(
            causes[0].message,
            "Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"
        );
        let local = validate_time_zone(&spec(json!("Local")), &path);
        assert!(local[0].message.contains("explicit time zone"));
    }
}
