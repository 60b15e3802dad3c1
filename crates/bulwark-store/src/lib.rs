//! Bulwark's storage: an MVCC key-value store modelled on etcd v3, so that an etcd backend can
//! sit behind the same trait without touching callers.
//!
//! * Every successful write bumps the store-wide revision by one; the revision of the write is
//!   the object's `resourceVersion`.
//! * Writes are compare-and-swap on the object's `mod_revision`.
//! * A watch replays every event after a revision, then streams live ones, in revision order.
//! * Compaction forgets history before a revision; watching from before it fails with
//!   [`Error::Compacted`].

use async_trait::async_trait;
use bytes::Bytes;

/// One stored key with its value and revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (its current incarnation).
    pub create_revision: i64,
    /// Revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: i64,
}

/// A page of a range read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// True when more keys under the prefix follow the last one returned.
    pub more: bool,
    /// The store revision the read was served at.
    pub revision: i64,
}

/// What a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, in revision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// For `Put`, the new value at `mod_revision`; for `Delete`, the key with an empty value and
    /// `mod_revision` set to the revision of the delete.
    pub kv: KeyValue,
    /// The value before this event, when there was one.
    pub prev: Option<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("key {0:?} already exists")]
    AlreadyExists(String),
    #[error("key {0:?} not found")]
    NotFound(String),
    /// The compare-and-swap saw a different revision; carries the current value.
    #[error("key {key:?} was modified: expected revision {expected}, found {}", current.as_ref().map_or(0, |kv| kv.mod_revision))]
    Conflict { key: String, expected: i64, current: Option<Box<KeyValue>> },
    #[error("revision {requested} has been compacted; the oldest available is {compacted}")]
    Compacted { requested: i64, compacted: i64 },
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision { requested: i64, current: i64 },
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("storage failed: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A live stream of watch events. Dropping it cancels the watch.
pub type WatchStream = futures::stream::BoxStream<'static, Result<WatchEvent>>;

/// The storage contract every backend (memory, sqlite, etcd) fulfils.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current value of `key`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys under `prefix` in key order, strictly after `start_after` when given, at most `limit`
    /// (0 = no limit). Served at the current revision.
    async fn range(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<RangeResult>;

    /// Creates `key` if absent; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<i64>;

    /// Replaces `key` if its mod_revision is `expected_revision`; returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected_revision: i64) -> Result<i64>;

    /// Deletes `key`, if its mod_revision is `expected_revision` when given; returns the revision
    /// of the delete and the value that was removed.
    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<(i64, KeyValue)>;

    /// Every event under `prefix` with a revision greater than `after_revision`, then live events.
    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream>;

    /// The revision of the latest write (0 for an empty store).
    async fn current_revision(&self) -> Result<i64>;

    /// The oldest revision a watch may still start after.
    async fn compacted_revision(&self) -> Result<i64>;

    /// Forgets history up to and including `revision`.
    async fn compact(&self, revision: i64) -> Result<()>;
}
