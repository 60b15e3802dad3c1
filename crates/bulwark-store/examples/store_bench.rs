//! Durable create throughput of the sqlite backend at several concurrency levels.
//!
//! Run by hand: `cargo run --release -p bulwark-store --example store_bench [DIR]`
//! (DIR defaults to a temporary directory under the current one, so the numbers reflect the disk
//! the data would live on, not a tmpfs).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bulwark_store::{SqliteStore, Store};
use bytes::Bytes;

const CONCURRENCY_LEVELS: [usize; 3] = [1, 16, 256];
/// Roughly the size of a small Kubernetes object as JSON.
const VALUE_BYTES: usize = 1024;

fn writes_for(concurrency: usize) -> usize {
    (concurrency * 200).clamp(3_000, 40_000)
}

struct Measurement {
    writes: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn measure(store: Arc<SqliteStore>, concurrency: usize) -> Measurement {
    let total = writes_for(concurrency);
    let issued = Arc::new(AtomicUsize::new(0));
    let value = Bytes::from(vec![b'x'; VALUE_BYTES]);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (store, issued, value) = (store.clone(), issued.clone(), value.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let index = issued.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        return latencies;
                    }
                    let before = Instant::now();
                    store
                        .create(&format!("/bench/{concurrency}/{index:08}"), value.clone())
                        .await
                        .expect("create");
                    latencies.push(before.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    Measurement {
        writes: total,
        elapsed: started.elapsed(),
        latencies,
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let base = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let dir = tempfile::tempdir_in(&base).expect("temporary directory for the benchmark");
    println!(
        "durable creates ({VALUE_BYTES}-byte values, synchronous=FULL, group commit) in {}",
        dir.path().display()
    );
    for concurrency in CONCURRENCY_LEVELS {
        let path = dir.path().join(format!("bench-{concurrency}.db"));
        let store = Arc::new(SqliteStore::open(&path).expect("open store"));
        let mut result = measure(store, concurrency).await;
        result.latencies.sort();
        let rate = result.writes as f64 / result.elapsed.as_secs_f64();
        println!(
            "concurrency {concurrency:>4}: {:>6} creates in {:>6.2?} = {rate:>8.0} creates/s (latency p50 {:.2?}, p99 {:.2?})",
            result.writes,
            result.elapsed,
            percentile(&result.latencies, 0.5),
            percentile(&result.latencies, 0.99),
        );
    }
}
