//! The on-disk layout and connection setup.
//!
//! * `kv`: the current value of every live key.
//! * `events`: the log of every write after the compacted revision, so watches can replay
//!   history across restarts. A row carries the value before the write so replayed events have
//!   `prev` like live ones.
//! * `meta`: `revision` (the latest revision ever handed out, so revisions are never reused even
//!   when the log tail has been compacted away) and `compacted`.
//!
//! Keys are stored as BLOBs so that prefix bounds are plain byte comparisons.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{Error, Result};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    revision INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    kind INTEGER NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_value BLOB,
    prev_create_revision INTEGER,
    prev_mod_revision INTEGER
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
";

/// How long a connection waits for a lock held by another connection (checkpoints, a second
/// process) before reporting the store unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Event kinds as stored in `events.kind`.
pub(super) const KIND_PUT: i64 = 0;
pub(super) const KIND_DELETE: i64 = 1;

/// Opens (creating if needed) the database for writing: WAL journal, and `synchronous=FULL` so
/// that a commit returns only once the WAL is fsync'd.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    let connection = Connection::open(path).map_err(|error| open_error(path, error))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(storage_error)?;
    let journal_mode: String = connection
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(storage_error)?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Unavailable(format!(
            "{} cannot use write-ahead logging (got {journal_mode})",
            path.display()
        )));
    }
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(storage_error)?;
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(storage_error)?;
    if version > SCHEMA_VERSION {
        return Err(Error::Unavailable(format!(
            "{} has schema version {version}; this build understands up to {SCHEMA_VERSION}",
            path.display()
        )));
    }
    connection.execute_batch(SCHEMA).map_err(storage_error)?;
    connection
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(storage_error)?;
    Ok(connection)
}

/// Opens a read-only connection; WAL lets it read a consistent snapshot while the writer writes.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection =
        Connection::open_with_flags(path, flags).map_err(|error| open_error(path, error))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(storage_error)?;
    Ok(connection)
}

/// The latest revision ever handed out and the compacted revision. The revision is the largest
/// of what `meta` records and what the tables hold, so a revision is never reused.
pub(super) fn recover_revisions(connection: &Connection) -> Result<(i64, i64)> {
    let revision = connection
        .query_row(
            "SELECT max(
                (SELECT value FROM meta WHERE name = 'revision'),
                coalesce((SELECT max(revision) FROM events), 0),
                coalesce((SELECT max(mod_revision) FROM kv), 0))",
            [],
            |row| row.get(0),
        )
        .map_err(storage_error)?;
    let compacted = read_meta(connection, "compacted").map_err(storage_error)?;
    Ok((revision, compacted))
}

pub(super) fn read_meta(connection: &Connection, name: &str) -> rusqlite::Result<i64> {
    connection.query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
        row.get(0)
    })
}

pub(super) fn write_meta(connection: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")?
        .execute(rusqlite::params![name, value])?;
    Ok(())
}

fn open_error(path: &Path, error: rusqlite::Error) -> Error {
    Error::Unavailable(format!("cannot open {}: {error}", path.display()))
}

/// Maps a database error: undecodable rows mean corruption (internal); anything else is the
/// storage failing under us (unavailable, worth retrying).
pub(super) fn storage_error(error: rusqlite::Error) -> Error {
    match error {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => {
            Error::Internal(format!("undecodable row in the store: {error}"))
        }
        other => Error::Unavailable(format!("sqlite: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_database_from_a_newer_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.db");
        let connection = open_writer(&path).expect("create");
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump version");
        drop(connection);
        assert!(
            matches!(open_writer(&path), Err(Error::Unavailable(message)) if message.contains("schema version"))
        );
    }

    #[test]
    fn recovers_the_largest_revision_recorded_anywhere() {
        let dir = tempfile::tempdir().expect("temp dir");
        let connection = open_writer(&dir.path().join("store.db")).expect("create");
        connection
            .execute("INSERT INTO kv (key, value, create_revision, mod_revision) VALUES (x'2f61', x'', 7, 9)", [])
            .expect("insert");
        write_meta(&connection, "revision", 5).expect("meta");
        assert_eq!(recover_revisions(&connection), Ok((9, 0)));
    }
}
