//! Reading a container's log back the way `kubectl logs` asks: `tailLines`, `sinceTime`
//! (`sinceSeconds` is turned into a time by the caller), `limitBytes`, `timestamps`, and
//! `follow` through [`LogFollower`].
//!
//! Output is the kubelet's: each record's content, a newline after a record that ends a line
//! (`F`), and with `timestamps` the record's time (RFC 3339, trailing zeros trimmed) and a space
//! before it. `tailLines` counts records. Malformed records are skipped.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::format::{LogRecord, decode};
use super::rotated_path;

/// What part of a log to return, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Only the last N records (after `since`).
    pub tail_lines: Option<u64>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Stop after this many bytes of output (possibly mid-line, as the kubelet does).
    pub limit_bytes: Option<u64>,
    /// Prefix each record with its time.
    pub timestamps: bool,
}

/// Where [`read_log`] stopped, for a [`LogFollower`] to continue from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCursor {
    path: PathBuf,
    /// The live file's identity (device, inode) when read, if it existed.
    identity: Option<(u64, u64)>,
    offset: u64,
    /// Output bytes written so far, counted against `limit_bytes`.
    written: u64,
}

/// Writes the part of the log at `path` (its rotated files first) that `query` asks for to
/// `out`, and returns where it stopped. A missing log reads as empty.
pub fn read_log(path: &Path, query: &LogQuery, out: &mut impl Write) -> io::Result<LogCursor> {
    // The live file is opened first and read only up to its length now, so that a follower
    // starting from the cursor neither repeats nor misses a record.
    let live = open_if_present(path)?;
    let (identity, live_length) = match &live {
        Some(file) => {
            let metadata = file.metadata()?;
            (Some((metadata.dev(), metadata.ino())), metadata.len())
        }
        None => (None, 0),
    };
    let mut sink = Sink::new(out, query);
    let mut tail = Tail::new(query.tail_lines);
    for file in rotated_files_oldest_first(path)? {
        for_each_record(BufReader::new(file), |line| tail.push(line, &mut sink))?;
    }
    if let Some(file) = live {
        let reader = BufReader::new(file.take(live_length));
        for_each_record(reader, |line| tail.push(line, &mut sink))?;
    }
    tail.finish(&mut sink)?;
    Ok(LogCursor {
        path: path.to_path_buf(),
        identity,
        offset: live_length,
        written: sink.written,
    })
}

/// The attempts that have a log under a container's log directory, oldest first; the last is
/// the current instance, the one before it what `--previous` shows.
pub fn attempts(container_log_dir: &Path) -> io::Result<Vec<u32>> {
    let entries = match std::fs::read_dir(container_log_dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other?,
    };
    let mut found = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let attempt = name
            .to_str()
            .and_then(|name| name.strip_suffix(".log"))
            .and_then(|number| number.parse::<u32>().ok());
        found.extend(attempt);
    }
    found.sort_unstable();
    Ok(found)
}

/// Continues a log from a [`LogCursor`]: each [`LogFollower::poll`] writes the complete records
/// appended since, following the live file through rotations.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    identity: Option<(u64, u64)>,
    /// Bytes of an unfinished record read but not yet written.
    unfinished: Vec<u8>,
    timestamps: bool,
    remaining_bytes: Option<u64>,
}

impl LogFollower {
    /// Follows on from `cursor` with `query`'s `timestamps` and what is left of `limit_bytes`.
    pub fn new(cursor: LogCursor, query: &LogQuery) -> io::Result<Self> {
        let mut follower = Self {
            path: cursor.path,
            file: None,
            identity: cursor.identity,
            unfinished: Vec::new(),
            timestamps: query.timestamps,
            remaining_bytes: query
                .limit_bytes
                .map(|limit| limit.saturating_sub(cursor.written)),
        };
        // The file the read stopped in, wherever rotation has moved it since; if it is gone
        // the first poll starts from the oldest file kept.
        if let Some(mut file) = follower.find_ours()? {
            file.seek(SeekFrom::Start(cursor.offset))?;
            follower.file = Some(file);
        }
        Ok(follower)
    }

    /// Whether `limit_bytes` has been reached, so following can end.
    pub fn exhausted(&self) -> bool {
        self.remaining_bytes == Some(0)
    }

    /// Writes records appended since the last call; returns the bytes written.
    pub fn poll(&mut self, out: &mut impl Write) -> io::Result<u64> {
        let mut written = self.drain(out)?;
        // The path now names a new file: the one we read was rotated away after we drained
        // it, and any files rotated after it hold records we have not seen yet.
        if let Some(file) = open_if_present(&self.path)?
            && identity_of(&file)? != self.identity
        {
            for rotated in self.rotated_since_ours()? {
                written += self.switch_to(rotated, out)?;
            }
            written += self.switch_to(file, out)?;
        }
        Ok(written)
    }

    /// The live or rotated file that is the one we were reading.
    fn find_ours(&self) -> io::Result<Option<File>> {
        if self.identity.is_none() {
            return Ok(None);
        }
        let candidates = std::iter::once(self.path.clone())
            .chain((1..).map(|index| rotated_path(&self.path, index)));
        for path in candidates {
            let Some(file) = open_if_present(&path)? else {
                return Ok(None);
            };
            if identity_of(&file)? == self.identity {
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// The rotated files newer than the one we were reading, oldest first: all of them if
    /// ours is gone (rotated past the last kept file).
    fn rotated_since_ours(&self) -> io::Result<Vec<File>> {
        let mut newer = Vec::new();
        for file in rotated_files_oldest_first(&self.path)? {
            if identity_of(&file)? == self.identity {
                newer.clear();
            } else {
                newer.push(file);
            }
        }
        Ok(newer)
    }

    fn switch_to(&mut self, file: File, out: &mut impl Write) -> io::Result<u64> {
        self.identity = identity_of(&file)?;
        self.file = Some(file);
        self.unfinished.clear();
        self.drain(out)
    }

    /// Writes the complete records from where the file was left to its end, a bounded chunk at
    /// a time (an unfinished record waits in `unfinished`, at most one record long).
    fn drain(&mut self, out: &mut impl Write) -> io::Result<u64> {
        let Some(mut file) = self.file.take() else {
            return Ok(0);
        };
        let drained = self.drain_from(&mut file, out);
        self.file = Some(file);
        drained
    }

    fn drain_from(&mut self, file: &mut File, out: &mut impl Write) -> io::Result<u64> {
        let mut written = 0;
        let mut chunk = vec![0; DRAIN_CHUNK_BYTES];
        loop {
            let read = file.read(&mut chunk)?;
            if read == 0 {
                return Ok(written);
            }
            self.unfinished.extend_from_slice(&chunk[..read]);
            let Some(last_newline) = self.unfinished.iter().rposition(|byte| *byte == b'\n') else {
                continue;
            };
            let records: Vec<u8> = self.unfinished.drain(..=last_newline).collect();
            written += self.write_records(&records, out)?;
        }
    }

    fn write_records(&mut self, records: &[u8], out: &mut impl Write) -> io::Result<u64> {
        let query = LogQuery {
            limit_bytes: self.remaining_bytes,
            timestamps: self.timestamps,
            ..LogQuery::default()
        };
        let mut sink = Sink::new(out, &query);
        for line in records.split_inclusive(|byte| *byte == b'\n') {
            if let Some(record) = decode(line) {
                sink.write_record(&record)?;
            }
        }
        let written = sink.written;
        if let Some(remaining) = self.remaining_bytes.as_mut() {
            *remaining = remaining.saturating_sub(written);
        }
        Ok(written)
    }
}

/// How much of a followed file is read at once.
const DRAIN_CHUNK_BYTES: usize = 64 * 1024;

/// Applies `since`, `timestamps` and `limit_bytes` while writing records out.
struct Sink<'a, W> {
    out: &'a mut W,
    since: Option<Timestamp>,
    timestamps: bool,
    limit_bytes: Option<u64>,
    written: u64,
}

impl<'a, W: Write> Sink<'a, W> {
    fn new(out: &'a mut W, query: &LogQuery) -> Self {
        Self {
            out,
            since: query.since,
            timestamps: query.timestamps,
            limit_bytes: query.limit_bytes,
            written: 0,
        }
    }

    fn wanted(&self, record: &LogRecord<'_>) -> bool {
        self.since.is_none_or(|since| record.time >= since)
    }

    fn write_record(&mut self, record: &LogRecord<'_>) -> io::Result<()> {
        if !self.wanted(record) {
            return Ok(());
        }
        let mut text = Vec::with_capacity(record.content.len() + 40);
        if self.timestamps {
            text.extend_from_slice(record.time.to_string().as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(record.content);
        if !record.partial {
            text.push(b'\n');
        }
        let allowed = match self.limit_bytes {
            Some(limit) => usize::try_from(limit.saturating_sub(self.written))
                .unwrap_or(usize::MAX)
                .min(text.len()),
            None => text.len(),
        };
        self.out.write_all(&text[..allowed])?;
        self.written += allowed as u64;
        Ok(())
    }
}

/// Keeps the last N wanted records when `tailLines` is set; passes records straight through
/// otherwise. Memory is bounded by N records.
struct Tail {
    keep: Option<usize>,
    kept: VecDeque<Vec<u8>>,
}

impl Tail {
    fn new(tail_lines: Option<u64>) -> Self {
        Self {
            keep: tail_lines.map(|lines| usize::try_from(lines).unwrap_or(usize::MAX)),
            kept: VecDeque::new(),
        }
    }

    fn push<W: Write>(&mut self, line: &[u8], sink: &mut Sink<'_, W>) -> io::Result<()> {
        let Some(record) = decode(line) else {
            return Ok(());
        };
        match self.keep {
            None => sink.write_record(&record),
            Some(0) => Ok(()),
            Some(keep) => {
                if sink.wanted(&record) {
                    if self.kept.len() == keep {
                        self.kept.pop_front();
                    }
                    self.kept.push_back(line.to_vec());
                }
                Ok(())
            }
        }
    }

    fn finish<W: Write>(&mut self, sink: &mut Sink<'_, W>) -> io::Result<()> {
        for line in self.kept.drain(..) {
            if let Some(record) = decode(&line) {
                sink.write_record(&record)?;
            }
        }
        Ok(())
    }
}

/// Calls `each` with every newline-terminated line; a torn last line (no newline) is skipped.
fn for_each_record(
    mut reader: impl BufRead,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.ends_with(b"\n") {
            each(&line)?;
        }
    }
}

fn rotated_files_oldest_first(path: &Path) -> io::Result<Vec<File>> {
    let mut files = Vec::new();
    let mut index = 1;
    while let Some(file) = open_if_present(&rotated_path(path, index))? {
        files.push(file);
        index += 1;
    }
    files.reverse();
    Ok(files)
}

fn open_if_present(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn identity_of(file: &File) -> io::Result<Option<(u64, u64)>> {
    let metadata = file.metadata()?;
    Ok(Some((metadata.dev(), metadata.ino())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::format::Stream;
    use crate::logs::writer::{ContainerLog, RotationPolicy};

    fn second(n: i64) -> Timestamp {
        Timestamp::new(1_767_225_600 + n, 0).expect("in range")
    }

    /// A log with lines `line 0` … `line {count-1}`, line n written at second n.
    fn log_with_lines(dir: &Path, count: i64, policy: RotationPolicy) -> PathBuf {
        let path = dir.join("0.log");
        let mut log = ContainerLog::open(&path, policy).expect("open");
        for n in 0..count {
            let text = format!("line {n}\n");
            log.write(Stream::Stdout, second(n), text.as_bytes())
                .expect("write");
        }
        path
    }

    fn read(path: &Path, query: LogQuery) -> String {
        let mut out = Vec::new();
        read_log(path, &query, &mut out).expect("read");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn whole_log_reads_back_as_the_lines_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = log_with_lines(dir.path(), 3, RotationPolicy::default());
        assert_eq!(read(&path, LogQuery::default()), "line 0\nline 1\nline 2\n");
    }

    #[test]
    fn tail_since_limit_and_timestamps_compose() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = log_with_lines(dir.path(), 10, RotationPolicy::default());
        let tail = LogQuery {
            tail_lines: Some(2),
            ..LogQuery::default()
        };
        assert_eq!(read(&path, tail), "line 8\nline 9\n");
        let since = LogQuery {
            since: Some(second(7)),
            tail_lines: Some(5),
            ..LogQuery::default()
        };
        assert_eq!(read(&path, since), "line 7\nline 8\nline 9\n");
        let limited = LogQuery {
            limit_bytes: Some(10),
            ..LogQuery::default()
        };
        assert_eq!(read(&path, limited), "line 0\nlin");
        let stamped = LogQuery {
            timestamps: true,
            tail_lines: Some(1),
            ..LogQuery::default()
        };
        assert_eq!(read(&path, stamped), "2026-01-01T00:00:09Z line 9\n");
        let none = LogQuery {
            tail_lines: Some(0),
            ..LogQuery::default()
        };
        assert_eq!(read(&path, none), "");
    }

    #[test]
    fn tail_reaches_back_into_rotated_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = RotationPolicy {
            max_file_bytes: 120,
            max_files: 5,
        };
        let path = log_with_lines(dir.path(), 12, policy);
        assert!(rotated_path(&path, 2).exists(), "the log rotated twice");
        let tail = LogQuery {
            tail_lines: Some(6),
            ..LogQuery::default()
        };
        let expected: String = (6..12).map(|n| format!("line {n}\n")).collect();
        assert_eq!(read(&path, tail), expected);
    }

    #[test]
    fn follower_sees_new_lines_once_even_across_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = RotationPolicy {
            max_file_bytes: 120,
            max_files: 3,
        };
        let path = dir.path().join("0.log");
        let mut log = ContainerLog::open(&path, policy).expect("open");
        log.write(Stream::Stdout, second(0), b"before\n")
            .expect("write");
        let mut seen = Vec::new();
        let cursor = read_log(&path, &LogQuery::default(), &mut seen).expect("read");
        let mut follower = LogFollower::new(cursor, &LogQuery::default()).expect("follow");
        for n in 1..6 {
            log.write(Stream::Stdout, second(n), format!("after {n}\n").as_bytes())
                .expect("write");
            follower.poll(&mut seen).expect("poll");
        }
        log.write(Stream::Stdout, second(9), b"torn")
            .expect("write");
        follower.poll(&mut seen).expect("poll");
        let expected = "before\nafter 1\nafter 2\nafter 3\nafter 4\nafter 5\n";
        assert_eq!(String::from_utf8(seen).expect("utf-8"), expected);
    }

    #[test]
    fn follower_reads_every_file_rotated_between_two_polls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = RotationPolicy {
            max_file_bytes: 120,
            max_files: 5,
        };
        let path = dir.path().join("0.log");
        let mut log = ContainerLog::open(&path, policy).expect("open");
        log.write(Stream::Stdout, second(0), b"before\n")
            .expect("write");
        let mut seen = Vec::new();
        let cursor = read_log(&path, &LogQuery::default(), &mut seen).expect("read");
        let mut follower = LogFollower::new(cursor, &LogQuery::default()).expect("follow");
        // Each file holds two records: this rotates three times before the next poll.
        for n in 1..8 {
            log.write(Stream::Stdout, second(n), format!("after {n}\n").as_bytes())
                .expect("write");
        }
        assert!(rotated_path(&path, 3).exists(), "rotated three times");
        follower.poll(&mut seen).expect("poll");
        let expected: String = std::iter::once("before\n".to_string())
            .chain((1..8).map(|n| format!("after {n}\n")))
            .collect();
        assert_eq!(String::from_utf8(seen).expect("utf-8"), expected);
    }

    #[test]
    fn follower_started_after_rotations_continues_where_the_read_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = RotationPolicy {
            max_file_bytes: 120,
            max_files: 5,
        };
        let path = dir.path().join("0.log");
        let mut log = ContainerLog::open(&path, policy).expect("open");
        log.write(Stream::Stdout, second(0), b"before\n")
            .expect("write");
        let mut seen = Vec::new();
        let cursor = read_log(&path, &LogQuery::default(), &mut seen).expect("read");
        for n in 1..6 {
            log.write(Stream::Stdout, second(n), format!("after {n}\n").as_bytes())
                .expect("write");
        }
        assert!(
            rotated_path(&path, 2).exists(),
            "rotated twice before following"
        );
        let mut follower = LogFollower::new(cursor, &LogQuery::default()).expect("follow");
        follower.poll(&mut seen).expect("poll");
        let expected: String = std::iter::once("before\n".to_string())
            .chain((1..6).map(|n| format!("after {n}\n")))
            .collect();
        assert_eq!(String::from_utf8(seen).expect("utf-8"), expected);
    }

    #[test]
    fn attempts_are_listed_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["2.log", "0.log", "10.log", "1.log.1", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        assert_eq!(attempts(dir.path()).expect("list"), vec![0, 2, 10]);
        assert_eq!(
            attempts(&dir.path().join("missing")).expect("list"),
            Vec::<u32>::new()
        );
    }
}
