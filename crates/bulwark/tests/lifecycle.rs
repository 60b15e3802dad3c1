//! Starting, stopping and resuming a cluster the way a user does.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Cluster, DEADLINE, free_port};

#[test]
fn sigterm_stops_the_server_cleanly_even_with_open_watches() {
    let mut cluster = Cluster::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\n";
    assert!(
        cluster
            .kubectl_stdin(&["apply", "-f", "-"], manifest)
            .status
            .success()
    );
    let mut watch = cluster
        .kubectl_command()
        .args(["get", "configmaps", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kubectl get -w");
    // kubectl prints the existing object after its list, then holds the watch open.
    let mut rows = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let header = rows
        .next()
        .expect("a header line")
        .expect("readable output");
    assert!(header.starts_with("NAME"), "{header}");
    let row = rows.next().expect("a row").expect("readable output");
    assert!(row.starts_with("watched"), "{row}");
    // A change that shows up proves the watch itself is open, not just the initial list.
    cluster.ok(&["label", "configmap", "watched", "seen=yes"]);
    let change = rows
        .next()
        .expect("a watched change")
        .expect("readable output");
    assert!(change.starts_with("watched"), "{change}");
    let status = cluster.terminate();
    assert!(status.success(), "server exited with {status} on SIGTERM");
    // kubectl get -w exits 0 when the server closes the watch.
    let exited = common::eventually("kubectl get -w to end", || {
        watch.try_wait().expect("poll kubectl")
    });
    assert!(exited.success());
}

#[test]
fn a_restarted_server_resumes_the_same_cluster() {
    let mut cluster = Cluster::start();
    let manifest =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\ndata:\n  answer: \"42\"\n";
    let created = cluster.kubectl_stdin(&["apply", "-f", "-"], manifest);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(cluster.terminate().success());
    cluster.launch();
    let answer = cluster.ok(&["get", "configmap", "kept", "-o", "jsonpath={.data.answer}"]);
    assert_eq!(answer, "42");
    let namespaces = cluster.ok(&["get", "namespaces", "-o", "name"]);
    assert_eq!(
        namespaces.lines().count(),
        4,
        "system namespaces are not created twice: {namespaces}"
    );
}

#[test]
fn up_writes_a_kubeconfig_and_prints_how_to_use_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("cluster");
    let port = free_port();
    let mut up = Command::new(env!("CARGO_BIN_EXE_bulwark"))
        .args(["up", "--data-dir"])
        .arg(&data_dir)
        .args(["--port", &port.to_string(), "--nodes", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bulwark up");
    let stdout = up.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let export = loop {
        let line = lines_rx
            .recv_timeout(DEADLINE)
            .expect("bulwark up prints an export line");
        if let Some(path) = line.strip_prefix("export KUBECONFIG=") {
            break path.to_string();
        }
    };
    let kubeconfig = std::path::absolute(data_dir.join("kubeconfig")).expect("absolute path");
    assert_eq!(std::path::Path::new(&export), kubeconfig);
    let output = Command::new("kubectl")
        .env("KUBECONFIG", &export)
        .env("HOME", dir.path())
        .args(["--cache-dir"])
        .arg(dir.path().join("cache"))
        .args(["get", "namespace", "default", "-o", "name"])
        .output()
        .expect("run kubectl");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "namespace/default"
    );
    Command::new("kill")
        .args(["-TERM", &up.id().to_string()])
        .status()
        .expect("SIGTERM");
    let status = common::eventually("bulwark up to stop", || {
        up.try_wait().expect("poll bulwark up")
    });
    assert!(status.success(), "bulwark up exited with {status}");
}
