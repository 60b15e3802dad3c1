//! The group-commit writer: one thread owns the write connection, drains every pending request
//! (up to a batch limit), applies them in arrival order inside one transaction, commits once (one
//! fsync for the whole batch), then publishes the events and answers each request.
//!
//! A request whose compare-and-swap fails gets its own error and changes nothing; the others in
//! the batch still commit. Only a database failure (I/O, disk full) fails the whole batch, and
//! then nothing of it was applied.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::schema::{KIND_DELETE, KIND_PUT, storage_error, write_meta};
use crate::ops::{WriteOp, check_compaction, event_revision, plan_write};
use crate::{EventKind, KeyValue, Result, WatchEvent};

pub(super) enum Command {
    Write(WriteOp),
    Compact(i64),
}

/// What a command produced: the event of an applied write, nothing for a compaction.
pub(super) type Reply = Result<Option<WatchEvent>>;

pub(super) struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
}

pub(super) struct Writer {
    connection: Connection,
    shared: Arc<Shared>,
    max_batch: usize,
}

/// The outcome of one transaction, before it is made visible to waiters and watchers.
struct Applied {
    replies: Vec<Reply>,
    events: Vec<WatchEvent>,
    revision: i64,
    compacted: i64,
}

impl Writer {
    pub(super) fn new(connection: Connection, shared: Arc<Shared>, max_batch: usize) -> Self {
        Writer {
            connection,
            shared,
            max_batch: max_batch.max(1),
        }
    }

    /// Serves requests until every sender is gone.
    pub(super) fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        while let Some(first) = requests.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let (commands, waiters): (Vec<Command>, Vec<oneshot::Sender<Reply>>) = batch
            .into_iter()
            .map(|request| (request.command, request.reply))
            .unzip();
        match self.apply(&commands) {
            Ok(applied) => {
                self.shared
                    .compacted
                    .store(applied.compacted, Ordering::Release);
                self.shared
                    .revision
                    .store(applied.revision, Ordering::Release);
                self.shared.hub.publish(&applied.events);
                for (waiter, reply) in waiters.into_iter().zip(applied.replies) {
                    // A caller that stopped waiting still had its write applied.
                    let _ = waiter.send(reply);
                }
            }
            Err(error) => {
                let error = storage_error(error);
                tracing::error!(%error, requests = waiters.len(), "store batch failed to commit; nothing of it was applied");
                for waiter in waiters {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
        }
    }

    fn apply(&mut self, commands: &[Command]) -> rusqlite::Result<Applied> {
        let mut revision = self.shared.revision.load(Ordering::Acquire);
        let mut compacted = self.shared.compacted.load(Ordering::Acquire);
        let first_revision = revision;
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut replies = Vec::with_capacity(commands.len());
        let mut events = Vec::new();
        for command in commands {
            let reply = match command {
                Command::Write(op) => apply_write(&transaction, op, revision + 1)?.map(|event| {
                    revision = event_revision(&event);
                    events.push(event.clone());
                    Some(event)
                }),
                Command::Compact(requested) => {
                    match check_compaction(*requested, revision, compacted) {
                        Ok(true) => {
                            transaction
                                .prepare_cached("DELETE FROM events WHERE revision <= ?1")?
                                .execute([requested])?;
                            write_meta(&transaction, "compacted", *requested)?;
                            compacted = *requested;
                            Ok(None)
                        }
                        Ok(false) => Ok(None),
                        Err(error) => Err(error),
                    }
                }
            };
            replies.push(reply);
        }
        if revision != first_revision {
            write_meta(&transaction, "revision", revision)?;
        }
        transaction.commit()?;
        Ok(Applied {
            replies,
            events,
            revision,
            compacted,
        })
    }
}

/// Applies one write inside the batch's transaction. The outer error is a database failure (fails
/// the batch); the inner one is this write's own rejection.
fn apply_write(
    transaction: &Transaction<'_>,
    op: &WriteOp,
    revision: i64,
) -> rusqlite::Result<Result<WatchEvent>> {
    let current = current_value(transaction, op.key())?;
    let event = match plan_write(op, current.as_ref(), revision) {
        Ok(event) => event,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let key = event.kv.key.as_bytes();
    match event.kind {
        EventKind::Put => transaction
            .prepare_cached(
                "INSERT INTO kv (key, value, create_revision, mod_revision) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                    create_revision = excluded.create_revision, mod_revision = excluded.mod_revision",
            )?
            .execute(params![key, event.kv.value.as_ref(), event.kv.create_revision, event.kv.mod_revision])?,
        EventKind::Delete => transaction.prepare_cached("DELETE FROM kv WHERE key = ?1")?.execute([key])?,
    };
    let kind = match event.kind {
        EventKind::Put => KIND_PUT,
        EventKind::Delete => KIND_DELETE,
    };
    let prev = event.prev.as_ref();
    transaction
        .prepare_cached(
            "INSERT INTO events (revision, key, kind, value, create_revision,
                prev_value, prev_create_revision, prev_mod_revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            event.kv.mod_revision,
            key,
            kind,
            event.kv.value.as_ref(),
            event.kv.create_revision,
            prev.map(|kv| kv.value.as_ref()),
            prev.map(|kv| kv.create_revision),
            prev.map(|kv| kv.mod_revision),
        ])?;
    Ok(Ok(event))
}

fn current_value(transaction: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<KeyValue>> {
    let mut statement = transaction
        .prepare_cached("SELECT value, create_revision, mod_revision FROM kv WHERE key = ?1")?;
    let mut rows = statement.query([key.as_bytes()])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(KeyValue {
        key: key.to_owned(),
        value: bytes::Bytes::from(row.get::<_, Vec<u8>>(0)?),
        create_revision: row.get(1)?,
        mod_revision: row.get(2)?,
    }))
}
