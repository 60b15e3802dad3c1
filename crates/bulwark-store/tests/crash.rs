//! Crash durability: a child process writes with many concurrent tasks and prints every
//! acknowledged write; the parent kills it with SIGKILL mid-stream, reopens the database and
//! finds every acknowledged write with its exact content.
//!
//! The child is this test binary run again with `CHILD_DATABASE` set, selecting
//! `crash_child_writes_until_killed` (which does nothing in a normal run).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bulwark_store::{SqliteStore, Store};
use bytes::Bytes;

const CHILD_DATABASE: &str = "BULWARK_STORE_CRASH_CHILD_DATABASE";
const ACK_MARKER: &str = "ACK ";
const COUNTER_MARKER: &str = "COUNTER ";
const WRITERS: usize = 64;
/// Upper bound on the child's writes per task, so a child that is never killed still stops.
const WRITES_PER_WRITER: usize = 10_000;
/// How many acknowledgements the parent waits for before killing the child.
const ACKS_BEFORE_KILL: usize = 600;
/// Generous: only reached if the child is stuck.
const DEADLINE: Duration = Duration::from_secs(180);

/// The value written under `key`: derived from the key so the parent can verify it exactly.
fn payload(key: &str) -> Bytes {
    Bytes::from(format!("{key}|{}", "payload-".repeat(32)))
}

fn counter_value(count: usize) -> Bytes {
    Bytes::from(format!("count={count}"))
}

/// One write per line, so a kill never leaves half a line counted.
fn print_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(format!("{line}\n").as_bytes())
        .expect("stdout");
    stdout.flush().expect("flush");
}

#[test]
fn crash_child_writes_until_killed() {
    let Ok(path) = std::env::var(CHILD_DATABASE) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(&path).expect("child opens the store"));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    // Each writer also bumps its own counter key, so updates are covered too.
                    let counter = format!("/counter/{writer}");
                    let mut counter_revision = store
                        .create(&counter, counter_value(0))
                        .await
                        .expect("create counter");
                    print_line(&format!("{COUNTER_MARKER}{counter} {counter_revision}"));
                    for index in 0..WRITES_PER_WRITER {
                        let key = format!("/crash/{writer}/{index}");
                        let revision = store.create(&key, payload(&key)).await.expect("create");
                        print_line(&format!("{ACK_MARKER}{key} {revision}"));
                        counter_revision = store
                            .update(&counter, counter_value(index + 1), counter_revision)
                            .await
                            .expect("update counter");
                        print_line(&format!("{COUNTER_MARKER}{counter} {counter_revision}"));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("writer");
        }
    });
}

/// Parses `ACK <key> <revision>` out of a complete output line (libtest may print its own text
/// before the marker on the same line).
fn parse_ack(line: &str, marker: &str) -> Option<(String, i64)> {
    let line = line.strip_suffix('\n')?;
    let (_, ack) = line.split_once(marker)?;
    let (key, revision) = ack.rsplit_once(' ')?;
    Some((key.to_owned(), revision.parse().ok()?))
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var_os(CHILD_DATABASE).is_some() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash_child_writes_until_killed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DATABASE, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        while stdout.read_line(&mut line).is_ok_and(|read| read > 0) {
            if lines.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + DEADLINE;
    let mut acknowledged = Vec::new();
    let mut counters = BTreeMap::new();
    let mut record = |line: &str, acknowledged: &mut Vec<(String, i64)>| {
        acknowledged.extend(parse_ack(line, ACK_MARKER));
        if let Some((key, revision)) = parse_ack(line, COUNTER_MARKER) {
            counters.insert(key, revision);
        }
    };
    while acknowledged.len() < ACKS_BEFORE_KILL {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(remaining) {
            Ok(line) => record(&line, &mut acknowledged),
            Err(error) => {
                let _ = child.kill();
                panic!(
                    "child stopped acknowledging after {} writes: {error}",
                    acknowledged.len()
                );
            }
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    // Writes acknowledged between our count and the kill count too: read to the end of the pipe.
    for line in received.iter() {
        record(&line, &mut acknowledged);
    }
    reader.join().expect("reader thread");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&path).expect("reopen after the crash");
        let current = store.current_revision().await.expect("revision");
        for (key, revision) in &acknowledged {
            let kv = store
                .get(key)
                .await
                .expect("get")
                .unwrap_or_else(|| panic!("acknowledged {key} was lost"));
            assert_eq!(
                kv.mod_revision, *revision,
                "{key} has the acknowledged revision"
            );
            assert_eq!(kv.value, payload(key), "{key} has its full content");
            assert!(*revision <= current);
        }
        for (counter, revision) in &counters {
            let kv = store
                .get(counter)
                .await
                .expect("get")
                .unwrap_or_else(|| panic!("{counter} was lost"));
            // A later update may have committed without its acknowledgement being printed.
            assert!(
                kv.mod_revision >= *revision,
                "{counter} went back to before an acknowledged update"
            );
            assert!(
                kv.value.starts_with(b"count="),
                "{counter} holds a whole value"
            );
        }
        // The store keeps working after recovery, without reusing a revision.
        assert_eq!(
            store.create("/after-crash", Bytes::new()).await,
            Ok(current + 1)
        );
    });
    eprintln!(
        "verified {} acknowledged creates and {} counters after SIGKILL",
        acknowledged.len(),
        counters.len()
    );
    assert!(acknowledged.len() >= ACKS_BEFORE_KILL);
}
