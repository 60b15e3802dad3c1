//! The compare-and-swap rules, shared by every backend: given a write and the key's current
//! value, decide the event the write produces or why it fails. Pure, so each backend only has to
//! load the current value and apply the returned event.

use bytes::Bytes;

use crate::{Error, EventKind, KeyValue, Result, WatchEvent};

/// A write request as the backends receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteOp {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected_revision: i64,
    },
    Delete {
        key: String,
        expected_revision: Option<i64>,
    },
}

impl WriteOp {
    pub(crate) fn key(&self) -> &str {
        match self {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        }
    }
}

/// The event `op` produces at `revision` when the key currently holds `current`, or the error
/// that rejects it. A rejected write changes nothing and consumes no revision.
pub(crate) fn plan_write(
    op: &WriteOp,
    current: Option<&KeyValue>,
    revision: i64,
) -> Result<WatchEvent> {
    match (op, current) {
        (WriteOp::Create { key, .. }, Some(_)) => Err(Error::AlreadyExists(key.clone())),
        (WriteOp::Create { key, value }, None) => {
            Ok(put_event(key, value, revision, revision, None))
        }
        (WriteOp::Update { key, .. } | WriteOp::Delete { key, .. }, None) => {
            Err(Error::NotFound(key.clone()))
        }
        (
            WriteOp::Update {
                key,
                value,
                expected_revision,
            },
            Some(current),
        ) => {
            check_revision(key, *expected_revision, current)?;
            Ok(put_event(
                key,
                value,
                current.create_revision,
                revision,
                Some(current.clone()),
            ))
        }
        (
            WriteOp::Delete {
                key,
                expected_revision,
            },
            Some(current),
        ) => {
            if let Some(expected) = expected_revision {
                check_revision(key, *expected, current)?;
            }
            Ok(delete_event(key, revision, current.clone()))
        }
    }
}

fn check_revision(key: &str, expected: i64, current: &KeyValue) -> Result<()> {
    if current.mod_revision == expected {
        return Ok(());
    }
    Err(Error::Conflict {
        key: key.to_owned(),
        expected,
        current: Some(Box::new(current.clone())),
    })
}

fn put_event(
    key: &str,
    value: &Bytes,
    create_revision: i64,
    revision: i64,
    prev: Option<KeyValue>,
) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Put,
        kv: KeyValue {
            key: key.to_owned(),
            value: value.clone(),
            create_revision,
            mod_revision: revision,
        },
        prev,
    }
}

/// A delete reports the key with an empty value and `create_revision` 0 (as etcd does); the
/// removed value travels in `prev`.
fn delete_event(key: &str, revision: i64, prev: KeyValue) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Delete,
        kv: KeyValue {
            key: key.to_owned(),
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: revision,
        },
        prev: Some(prev),
    }
}

/// The revision of an event: the revision of the write that produced it.
pub(crate) fn event_revision(event: &WatchEvent) -> i64 {
    event.kv.mod_revision
}

/// What `delete` returns for an applied delete event.
pub(crate) fn deleted_value(event: WatchEvent) -> Result<(i64, KeyValue)> {
    let revision = event_revision(&event);
    match event.prev {
        Some(prev) => Ok((revision, prev)),
        None => Err(Error::Internal(format!(
            "delete of {:?} at revision {revision} carried no previous value",
            event.kv.key
        ))),
    }
}

/// The revision to compact to so that the last `keep_revisions` revisions stay watchable, if that
/// moves the compacted revision forward.
pub(crate) fn compaction_target(current: i64, compacted: i64, keep_revisions: i64) -> Option<i64> {
    let target = current.saturating_sub(keep_revisions.max(0));
    (target > compacted).then_some(target)
}

/// Validates a compaction request against the store's revisions: `Ok(false)` when there is
/// nothing to do (already compacted that far), `Ok(true)` when history must be trimmed.
pub(crate) fn check_compaction(requested: i64, current: i64, compacted: i64) -> Result<bool> {
    if requested > current {
        return Err(Error::FutureRevision { requested, current });
    }
    Ok(requested > compacted)
}

/// Validates a watch start: history after `after_revision` must still be kept. A start in the
/// future is allowed: the watch waits for it, as etcd does.
pub(crate) fn check_watch_start(after_revision: i64, compacted: i64) -> Result<()> {
    if after_revision < compacted {
        return Err(Error::Compacted {
            requested: after_revision,
            compacted,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &'static str, create_revision: i64, mod_revision: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from_static(value.as_bytes()),
            create_revision,
            mod_revision,
        }
    }

    fn create(key: &str) -> WriteOp {
        WriteOp::Create {
            key: key.into(),
            value: Bytes::from_static(b"v"),
        }
    }

    #[test]
    fn create_of_absent_key_puts_at_the_new_revision() {
        let event = plan_write(&create("/a"), None, 7).expect("create succeeds");
        assert_eq!(event.kind, EventKind::Put);
        assert_eq!((event.kv.create_revision, event.kv.mod_revision), (7, 7));
        assert_eq!(event.prev, None);
    }

    #[test]
    fn create_of_present_key_is_already_exists() {
        let current = kv("/a", "x", 1, 1);
        assert_eq!(
            plan_write(&create("/a"), Some(&current), 2),
            Err(Error::AlreadyExists("/a".into()))
        );
    }

    #[test]
    fn update_keeps_create_revision_and_reports_prev() {
        let current = kv("/a", "x", 3, 5);
        let op = WriteOp::Update {
            key: "/a".into(),
            value: Bytes::from_static(b"y"),
            expected_revision: 5,
        };
        let event = plan_write(&op, Some(&current), 9).expect("update succeeds");
        assert_eq!((event.kv.create_revision, event.kv.mod_revision), (3, 9));
        assert_eq!(event.prev, Some(current));
    }

    #[test]
    fn update_with_stale_revision_is_conflict_with_current() {
        let current = kv("/a", "x", 3, 5);
        let op = WriteOp::Update {
            key: "/a".into(),
            value: Bytes::from_static(b"y"),
            expected_revision: 4,
        };
        let error = plan_write(&op, Some(&current), 9).expect_err("stale update fails");
        assert_eq!(
            error,
            Error::Conflict {
                key: "/a".into(),
                expected: 4,
                current: Some(Box::new(current))
            }
        );
    }

    #[test]
    fn update_and_delete_of_absent_key_are_not_found() {
        let update = WriteOp::Update {
            key: "/a".into(),
            value: Bytes::new(),
            expected_revision: 1,
        };
        let delete = WriteOp::Delete {
            key: "/a".into(),
            expected_revision: None,
        };
        assert_eq!(
            plan_write(&update, None, 2),
            Err(Error::NotFound("/a".into()))
        );
        assert_eq!(
            plan_write(&delete, None, 2),
            Err(Error::NotFound("/a".into()))
        );
    }

    #[test]
    fn unconditional_delete_reports_removed_value() {
        let current = kv("/a", "x", 3, 5);
        let delete = WriteOp::Delete {
            key: "/a".into(),
            expected_revision: None,
        };
        let event = plan_write(&delete, Some(&current), 6).expect("delete succeeds");
        assert_eq!(event.kind, EventKind::Delete);
        assert_eq!(event.kv, kv("/a", "", 0, 6));
        assert_eq!(deleted_value(event), Ok((6, current)));
    }

    #[test]
    fn conditional_delete_checks_revision() {
        let current = kv("/a", "x", 3, 5);
        let stale = WriteOp::Delete {
            key: "/a".into(),
            expected_revision: Some(4),
        };
        assert!(matches!(
            plan_write(&stale, Some(&current), 6),
            Err(Error::Conflict { expected: 4, .. })
        ));
    }

    #[test]
    fn compaction_target_keeps_the_requested_window() {
        assert_eq!(compaction_target(100, 0, 10), Some(90));
        assert_eq!(compaction_target(100, 90, 10), None);
        assert_eq!(compaction_target(5, 0, 10), None);
        assert_eq!(compaction_target(5, 0, -3), Some(5));
    }

    #[test]
    fn compaction_rejects_future_and_skips_past() {
        assert_eq!(
            check_compaction(11, 10, 0),
            Err(Error::FutureRevision {
                requested: 11,
                current: 10
            })
        );
        assert_eq!(check_compaction(5, 10, 5), Ok(false));
        assert_eq!(check_compaction(6, 10, 5), Ok(true));
    }

    #[test]
    fn watch_start_before_compaction_is_compacted() {
        assert_eq!(
            check_watch_start(4, 5),
            Err(Error::Compacted {
                requested: 4,
                compacted: 5
            })
        );
        assert_eq!(check_watch_start(5, 5), Ok(()));
        assert_eq!(check_watch_start(500, 5), Ok(()));
    }
}
