//! `bulwark bench api` at a tiny scale: proves the bench runs end to end against a real server
//! child process and prints every figure. Timings are not asserted (machine speed varies).

use std::process::Command;

/// The figure lines the bench prints, by their leading words.
const FIGURES: &[&str] = &[
    "create throughput (4 clients)",
    "get latency p50 (50 pods stored)",
    "get latency p99 (50 pods stored)",
    "list latency p50 (JSON, 50 pods)",
    "list latency p99 (JSON, 50 pods)",
    "list latency p50 (Table, 50 pods)",
    "list latency p99 (Table, 50 pods)",
    "mutating latency p50 (patch at 50/s)",
    "mutating latency p99 (patch at 50/s)",
    "watch delivery p50 (2 watchers)",
    "watch delivery p99 (2 watchers)",
    "server RSS (50 pods stored)",
    "server RSS (60 pods stored)",
];

#[test]
fn bench_api_prints_every_figure_with_a_result() {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args([
            "bench",
            "api",
            "--pods",
            "50",
            "--rss-pods",
            "60",
            "--watchers",
            "2",
            "--seconds",
            "1",
        ])
        .args([
            "--concurrency",
            "4",
            "--write-rate",
            "50",
            "--watch-write-rate",
            "20",
            "--max-seconds",
            "300",
        ])
        .output()
        .expect("run bulwark bench api");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    for figure in FIGURES {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(figure))
            .unwrap_or_else(|| panic!("no {figure:?} line in:\n{stdout}"));
        let result = line.split_whitespace().last().unwrap_or_default();
        assert!(
            ["PASS", "MISS", "-"].contains(&result),
            "line without a result: {line:?}"
        );
    }
    let targeted = [
        "create throughput",
        "list latency p99 (Table",
        "mutating latency p99",
        "watch delivery p99",
        "server RSS (60",
    ];
    for figure in targeted {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(figure))
            .unwrap_or_default();
        assert!(
            line.ends_with("PASS") || line.ends_with("MISS"),
            "{figure} has no target: {line:?}"
        );
    }
}

#[test]
fn bench_agent_prints_start_latencies_and_agent_memory() {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args([
            "bench", "agent", "--nodes", "2", "--pods", "6", "--rate", "20",
        ])
        .args(["--rss-pods", "8", "--fake-nodes", "5", "--fake-pods", "20"])
        .args(["--max-seconds", "300"])
        .output()
        .expect("run bulwark bench agent");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    let figures = [
        ("create -> Running p50 (6 pods, 2 nodes)", false),
        ("create -> Running p99 (6 pods, 2 nodes)", true),
        ("create -> Ready p99 (6 pods, 2 nodes)", false),
        ("agent RSS idle (max of 2)", true),
        ("agent RSS (8 pods on node-1)", false),
        ("create -> Running p99 (20 pods, 5 fake nodes)", false),
        ("create -> Ready p99 (20 pods, 5 fake nodes)", false),
    ];
    for (figure, targeted) in figures {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(figure))
            .unwrap_or_else(|| panic!("no {figure:?} line in:\n{stdout}"));
        let result = line.split_whitespace().last().unwrap_or_default();
        let expected: &[&str] = if targeted { &["PASS", "MISS"] } else { &["-"] };
        assert!(expected.contains(&result), "{figure}: {line:?}");
    }
}

#[test]
fn bench_scheduler_prints_core_and_end_to_end_throughput_for_every_workload() {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args([
            "bench",
            "scheduler",
            "--nodes",
            "40",
            "--existing-pods",
            "10",
        ])
        .args([
            "--pods",
            "60",
            "--preemption-pods",
            "8",
            "--max-seconds",
            "300",
        ])
        .env("BULWARK_LOG", "warn")
        .output()
        .expect("run bulwark bench scheduler");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    let workloads = [
        ("basic (60 pods)", true),
        ("required pod anti-affinity (30 pods)", true),
        ("hard topology spread (zones) (60 pods)", true),
        ("preferred topology spread (60 pods)", true),
        ("required node affinity (60 pods)", true),
        ("preemption (8 pods)", false),
    ];
    for (workload, targeted) in workloads {
        for phase in ["core", "end to end"] {
            let figure = format!("{phase}: {workload}");
            let line = stdout
                .lines()
                .find(|line| line.starts_with(&figure))
                .unwrap_or_else(|| panic!("no {figure:?} line in:\n{stdout}"));
            let cells: Vec<&str> = line.split_whitespace().collect();
            let result = cells.last().copied().unwrap_or_default();
            let expected: &[&str] = if targeted { &["PASS", "MISS"] } else { &["-"] };
            assert!(expected.contains(&result), "{figure}: {line:?}");
            let rate = cells
                .iter()
                .find_map(|cell| cell.strip_suffix("/s")?.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no rate in {line:?}"));
            assert!(rate > 0.0, "{line:?}");
        }
    }
    assert!(
        !stderr.contains("found no node"),
        "every pod was placed:\n{stderr}"
    );
}

#[test]
fn bench_scheduler_names_the_workloads_it_knows() {
    let output = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["bench", "scheduler", "--workloads", "basic,everything"])
        .output()
        .expect("run bulwark bench scheduler");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown workload \"everything\": pick from basic, anti-affinity"),
        "{stderr}"
    );
}
