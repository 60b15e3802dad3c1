//! Resource hogs on demand: CPU burned in threads, memory allocated and touched in a task.
//!
//! Both re-read their knob continuously, so the admin endpoints take effect at once, and both
//! stop when the service stops.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::routes::Demo;
use super::sleep;

/// Each burner works this share of every window, then sleeps the rest.
const WINDOW: Duration = Duration::from_millis(100);
/// At most this many cores are burned, however many millicores are asked for.
const MAX_BURN_THREADS: u64 = 8;
const MEBIBYTE: usize = 1 << 20;

/// Keeps the workers alive for as long as the service runs.
pub(super) struct Workers {
    memory: tokio::task::JoinHandle<()>,
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.memory.abort();
    }
}

pub(super) fn start(demo: Arc<Demo>) -> Workers {
    for index in 0..MAX_BURN_THREADS {
        let demo = demo.clone();
        // A thread that cannot be spawned only means less CPU burned.
        let _ = std::thread::Builder::new()
            .name(format!("demo-cpu-{index}"))
            .spawn(move || burn_cpu(&demo, index));
    }
    Workers {
        memory: tokio::spawn(grow_memory(demo)),
    }
}

/// Thread `index` burns the part of the requested millicores between `index` and `index + 1`
/// cores. Busy-waiting on the clock is the point here.
#[allow(clippy::disallowed_methods)]
fn burn_cpu(demo: &Demo, index: u64) {
    while !demo.stopping.load(Ordering::Relaxed) {
        let millicores = demo.cpu_millicores.load(Ordering::Relaxed);
        let share = millicores.saturating_sub(index * 1000).min(1000);
        let busy = WINDOW.mul_f64(share as f64 / 1000.0);
        let window_start = Instant::now();
        while window_start.elapsed() < busy {
            std::hint::spin_loop();
        }
        std::thread::sleep(WINDOW.saturating_sub(window_start.elapsed()));
    }
}

/// Allocates the requested megabytes per second in ten steps a second, writing every page so
/// the memory is really resident, up to `DEMO_MEMORY_MAX_MB`.
async fn grow_memory(demo: Arc<Demo>) {
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut owed_kib: u64 = 0;
    let max_mb = demo.config().memory_max_mb;
    while !demo.stopping.load(Ordering::Relaxed) {
        sleep(WINDOW).await;
        let rate = demo.memory_growth_mb_per_second.load(Ordering::Relaxed);
        owed_kib = owed_kib.saturating_add(rate.saturating_mul(1024) / 10);
        let held_mb = demo.memory_held_mb.load(Ordering::Relaxed);
        if owed_kib < 1024 || held_mb >= max_mb {
            continue;
        }
        let chunk_mb = (owed_kib / 1024).min(max_mb - held_mb);
        owed_kib %= 1024;
        let Ok(bytes) = usize::try_from(chunk_mb).map(|mb| mb.saturating_mul(MEBIBYTE)) else {
            continue;
        };
        held.push(vec![0xA5; bytes]);
        demo.memory_held_mb
            .store(held_mb + chunk_mb, Ordering::Relaxed);
    }
}
