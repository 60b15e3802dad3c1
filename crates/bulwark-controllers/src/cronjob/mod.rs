//! The CronJob controller (batch/v1): starts Jobs on a cron schedule in a time zone, with
//! `concurrencyPolicy`, `suspend`, `startingDeadlineSeconds` and history limits.

pub mod core;
pub mod shell;
