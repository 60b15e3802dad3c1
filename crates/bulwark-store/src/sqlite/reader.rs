//! Reads from a read-only connection. Each read that reports a revision runs in one transaction,
//! so the revision and the rows come from the same snapshot.

use bytes::Bytes;
use rusqlite::types::Type;
use rusqlite::{Connection, Row, params};

use super::schema::{KIND_DELETE, KIND_PUT, read_meta, storage_error};
use crate::keys::{page_start, prefix_end};
use crate::ops::check_watch_start;
use crate::watch::Replay;
use crate::{EventKind, KeyValue, RangeResult, Result, WatchEvent};

pub(super) fn get(connection: &Connection, key: &str) -> Result<Option<KeyValue>> {
    let mut statement = connection
        .prepare_cached("SELECT key, value, create_revision, mod_revision FROM kv WHERE key = ?1")
        .map_err(storage_error)?;
    let mut rows = statement.query([key.as_bytes()]).map_err(storage_error)?;
    match rows.next().map_err(storage_error)? {
        Some(row) => key_value(row).map(Some).map_err(storage_error),
        None => Ok(None),
    }
}

pub(super) fn range(
    connection: &mut Connection,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<RangeResult> {
    let transaction = connection.transaction().map_err(storage_error)?;
    let revision = read_meta(&transaction, "revision").map_err(storage_error)?;
    let (lower, inclusive) = match page_start(prefix, start_after) {
        std::ops::Bound::Excluded(key) => (key, false),
        _ => (prefix, true),
    };
    // One row past the limit tells whether more follow; -1 is sqlite's "no limit".
    let fetch = if limit == 0 {
        -1
    } else {
        i64::try_from(limit)
            .unwrap_or(i64::MAX - 1)
            .saturating_add(1)
    };
    let upper = prefix_end(prefix.as_bytes());
    let mut statement = transaction
        .prepare_cached(range_sql(inclusive, upper.is_some()))
        .map_err(storage_error)?;
    let rows = match &upper {
        Some(upper) => statement.query(params![lower.as_bytes(), fetch, upper]),
        None => statement.query(params![lower.as_bytes(), fetch]),
    };
    let mut kvs: Vec<KeyValue> = rows
        .and_then(|rows| rows.mapped(key_value).collect())
        .map_err(storage_error)?;
    let more = limit != 0 && kvs.len() > limit;
    kvs.truncate(if limit == 0 { kvs.len() } else { limit });
    Ok(RangeResult {
        kvs,
        more,
        revision,
    })
}

/// Separate statements per bound shape, so sqlite can walk the key index between both bounds.
fn range_sql(inclusive: bool, bounded: bool) -> &'static str {
    match (inclusive, bounded) {
        (true, true) => {
            "SELECT key, value, create_revision, mod_revision FROM kv
             WHERE key >= ?1 AND key < ?3 ORDER BY key LIMIT ?2"
        }
        (true, false) => {
            "SELECT key, value, create_revision, mod_revision FROM kv WHERE key >= ?1 ORDER BY key LIMIT ?2"
        }
        (false, true) => {
            "SELECT key, value, create_revision, mod_revision FROM kv
             WHERE key > ?1 AND key < ?3 ORDER BY key LIMIT ?2"
        }
        (false, false) => {
            "SELECT key, value, create_revision, mod_revision FROM kv WHERE key > ?1 ORDER BY key LIMIT ?2"
        }
    }
}

/// The logged events under `prefix` after `after_revision`, read in one snapshot with the
/// compacted revision so a concurrent compaction cannot punch a hole in the replay.
pub(super) fn replay(
    connection: &mut Connection,
    prefix: &str,
    after_revision: i64,
) -> Result<Replay> {
    let transaction = connection.transaction().map_err(storage_error)?;
    let revision = read_meta(&transaction, "revision").map_err(storage_error)?;
    let compacted = read_meta(&transaction, "compacted").map_err(storage_error)?;
    check_watch_start(after_revision, compacted)?;
    const COLUMNS: &str = "SELECT revision, key, kind, value, create_revision,
        prev_value, prev_create_revision, prev_mod_revision FROM events";
    let upper = prefix_end(prefix.as_bytes());
    let events = match &upper {
        Some(upper) => {
            let sql = format!(
                "{COLUMNS} WHERE revision > ?1 AND key >= ?2 AND key < ?3 ORDER BY revision"
            );
            let mut statement = transaction.prepare_cached(&sql).map_err(storage_error)?;
            let rows = statement.query(params![after_revision, prefix.as_bytes(), upper]);
            rows.and_then(|rows| rows.mapped(watch_event).collect())
        }
        None => {
            let sql = format!("{COLUMNS} WHERE revision > ?1 ORDER BY revision");
            let mut statement = transaction.prepare_cached(&sql).map_err(storage_error)?;
            let rows = statement.query(params![after_revision]);
            rows.and_then(|rows| rows.mapped(watch_event).collect())
        }
    };
    Ok(Replay {
        events: events.map_err(storage_error)?,
        revision,
    })
}

fn key_value(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: utf8_key(row, 0)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(1)?),
        create_revision: row.get(2)?,
        mod_revision: row.get(3)?,
    })
}

fn watch_event(row: &Row<'_>) -> rusqlite::Result<WatchEvent> {
    let revision: i64 = row.get(0)?;
    let key = utf8_key(row, 1)?;
    let kind = match row.get::<_, i64>(2)? {
        KIND_PUT => EventKind::Put,
        KIND_DELETE => EventKind::Delete,
        other => return Err(rusqlite::Error::IntegralValueOutOfRange(2, other)),
    };
    let prev = match row.get::<_, Option<i64>>(7)? {
        Some(prev_mod_revision) => Some(KeyValue {
            key: key.clone(),
            value: Bytes::from(row.get::<_, Option<Vec<u8>>>(5)?.unwrap_or_default()),
            create_revision: row.get::<_, Option<i64>>(6)?.unwrap_or_default(),
            mod_revision: prev_mod_revision,
        }),
        None => None,
    };
    let kv = KeyValue {
        key,
        value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
        create_revision: row.get(4)?,
        mod_revision: revision,
    };
    Ok(WatchEvent { kind, kv, prev })
}

fn utf8_key(row: &Row<'_>, column: usize) -> rusqlite::Result<String> {
    String::from_utf8(row.get::<_, Vec<u8>>(column)?).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(column, Type::Blob, Box::new(error))
    })
}
