//! Writing a container's output as CRI records into a size-rotated file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::format::{MAX_LINE_BYTES, Stream, encode};
use super::rotated_path;

/// How big a log file grows and how many files are kept (kubelet's
/// `containerLogMaxSize` / `containerLogMaxFiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// The live file is rotated before a write would take it past this size.
    pub max_file_bytes: u64,
    /// Files kept in all, the live one included; at least 1.
    pub max_files: usize,
}

impl Default for RotationPolicy {
    /// 10 MiB × 5, as the kubelet.
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// One container instance's log: frames bytes from stdout and stderr into records (a record per
/// line, per [`MAX_LINE_BYTES`] piece of a longer line) and appends them, rotating by size.
///
/// Output that ends without a newline waits in a per-stream buffer for the rest of its line;
/// [`ContainerLog::flush_partial`] writes it out when the stream ends.
#[derive(Debug)]
pub struct ContainerLog {
    path: PathBuf,
    policy: RotationPolicy,
    file: File,
    size: u64,
    pending: [Vec<u8>; 2],
}

impl ContainerLog {
    /// Opens (appending to) the live file at `path`, creating it and its directory.
    pub fn open(path: &Path, policy: RotationPolicy) -> io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_path_buf(),
            policy,
            file,
            size,
            pending: [Vec::new(), Vec::new()],
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends output read from `stream` at `time`: every complete line becomes an `F` record,
    /// every full [`MAX_LINE_BYTES`] of an unfinished line a `P` record.
    pub fn write(&mut self, stream: Stream, time: Timestamp, bytes: &[u8]) -> io::Result<()> {
        let mut out = Vec::new();
        let pending = &mut self.pending[stream_index(stream)];
        for piece in bytes.split_inclusive(|byte| *byte == b'\n') {
            let (text, ends_line) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            pending.extend_from_slice(text);
            while pending.len() > MAX_LINE_BYTES || (!ends_line && pending.len() == MAX_LINE_BYTES)
            {
                let rest = pending.split_off(MAX_LINE_BYTES);
                encode(&mut out, time, stream, true, pending);
                *pending = rest;
            }
            if ends_line {
                encode(&mut out, time, stream, false, pending);
                pending.clear();
            }
        }
        self.append(&out)
    }

    /// Writes out what is left of an unfinished line of `stream` (its output ended).
    pub fn flush_partial(&mut self, stream: Stream, time: Timestamp) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending[stream_index(stream)]);
        if pending.is_empty() {
            return Ok(());
        }
        let mut out = Vec::new();
        encode(&mut out, time, stream, false, &pending);
        self.append(&out)
    }

    /// Appends whole records, rotating before any record that would take the file past its
    /// size; consecutive records that fit go out in one write.
    fn append(&mut self, records: &[u8]) -> io::Result<()> {
        let mut batch_start = 0;
        let mut batch_end = 0;
        for record in records.split_inclusive(|byte| *byte == b'\n') {
            let batch = (batch_end - batch_start) as u64;
            let size_with = self.size + batch + record.len() as u64;
            if size_with > self.policy.max_file_bytes && self.size + batch > 0 {
                self.write_batch(&records[batch_start..batch_end])?;
                batch_start = batch_end;
                self.rotate()?;
            }
            batch_end += record.len();
        }
        self.write_batch(&records[batch_start..batch_end])
    }

    fn write_batch(&mut self, batch: &[u8]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.file.write_all(batch)?;
        self.size = self.size.saturating_add(batch.len() as u64);
        Ok(())
    }

    /// Shifts `.1` → `.2` … (dropping the oldest), the live file → `.1`, and starts a new one.
    fn rotate(&mut self) -> io::Result<()> {
        let keep_rotated = self.policy.max_files.saturating_sub(1);
        if keep_rotated == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        remove_if_present(&rotated_path(&self.path, keep_rotated))?;
        for index in (1..keep_rotated).rev() {
            rename_if_present(
                &rotated_path(&self.path, index),
                &rotated_path(&self.path, index + 1),
            )?;
        }
        std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn stream_index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::format::decode;

    fn records(path: &Path) -> Vec<(Stream, bool, Vec<u8>)> {
        let text = std::fs::read(path).expect("log readable");
        text.split_inclusive(|byte| *byte == b'\n')
            .map(|line| {
                let record = decode(line).expect("well formed");
                (record.stream, record.partial, record.content.to_vec())
            })
            .collect()
    }

    #[test]
    fn lines_split_across_writes_become_one_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.log");
        let mut log = ContainerLog::open(&path, RotationPolicy::default()).expect("open");
        log.write(Stream::Stdout, Timestamp::UNIX_EPOCH, b"hel")
            .expect("write");
        log.write(Stream::Stderr, Timestamp::UNIX_EPOCH, b"oops\n")
            .expect("write");
        log.write(Stream::Stdout, Timestamp::UNIX_EPOCH, b"lo\n\nbye")
            .expect("write");
        log.flush_partial(Stream::Stdout, Timestamp::UNIX_EPOCH)
            .expect("flush");
        assert_eq!(
            records(&path),
            vec![
                (Stream::Stderr, false, b"oops".to_vec()),
                (Stream::Stdout, false, b"hello".to_vec()),
                (Stream::Stdout, false, b"".to_vec()),
                (Stream::Stdout, false, b"bye".to_vec()),
            ]
        );
    }

    #[test]
    fn long_lines_are_split_into_partial_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.log");
        let mut log = ContainerLog::open(&path, RotationPolicy::default()).expect("open");
        let mut line = vec![b'x'; MAX_LINE_BYTES * 2 + 5];
        line.push(b'\n');
        log.write(Stream::Stdout, Timestamp::UNIX_EPOCH, &line)
            .expect("write");
        let written = records(&path);
        let shape: Vec<(bool, usize)> = written.iter().map(|r| (r.1, r.2.len())).collect();
        assert_eq!(
            shape,
            vec![(true, MAX_LINE_BYTES), (true, MAX_LINE_BYTES), (false, 5)]
        );
    }

    #[test]
    fn one_large_write_still_rotates_by_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.log");
        let policy = RotationPolicy {
            max_file_bytes: 200,
            max_files: 3,
        };
        let mut log = ContainerLog::open(&path, policy).expect("open");
        let text: String = (0..40).map(|line| format!("line {line}\n")).collect();
        log.write(Stream::Stdout, Timestamp::UNIX_EPOCH, text.as_bytes())
            .expect("write");
        for file in [path.clone(), rotated_path(&path, 1), rotated_path(&path, 2)] {
            let size = std::fs::metadata(&file).expect("exists").len();
            assert!(size <= 200, "{} is {size} bytes", file.display());
        }
        let last = records(&path).pop().expect("live file has records");
        assert_eq!(last.2, b"line 39".to_vec());
    }

    #[test]
    fn rotation_keeps_at_most_max_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("0.log");
        let policy = RotationPolicy {
            max_file_bytes: 200,
            max_files: 3,
        };
        let mut log = ContainerLog::open(&path, policy).expect("open");
        for line in 0..40 {
            let text = format!("line {line}\n");
            log.write(Stream::Stdout, Timestamp::UNIX_EPOCH, text.as_bytes())
                .expect("write");
        }
        assert!(path.exists());
        assert!(rotated_path(&path, 1).exists());
        assert!(rotated_path(&path, 2).exists());
        assert!(!rotated_path(&path, 3).exists());
        for file in [path.clone(), rotated_path(&path, 1), rotated_path(&path, 2)] {
            let size = std::fs::metadata(&file).expect("exists").len();
            assert!(size <= 200, "{} is {size} bytes", file.display());
        }
        let last = records(&path).pop().expect("live file has records");
        assert_eq!(last.2, b"line 39".to_vec());
    }
}
