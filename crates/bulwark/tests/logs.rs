//! `kubectl logs` against a real `bulwark server`: the API server proxies `pods/log` to the
//! node agent's log endpoint ([`bulwark_agent::log_server`]), served here from the test process
//! on a loopback port over log files the test writes with [`ContainerLog`], and found through a
//! Node whose status points at it.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use bulwark_agent::log_server::{self, LogLocation, LogLocator, LogLookupError};
use bulwark_agent::logs::{ContainerLog, RotationPolicy, Stream, instance_log_path};
use common::{Cluster, DEADLINE, eventually, free_port, http_get};
use jiff::Timestamp;

/// A container of a pod this agent runs: (namespace, pod, container).
type ContainerId = (String, String, String);

/// The containers this agent runs, each with its current attempt and whether it runs.
#[derive(Default)]
struct Agent {
    root: PathBuf,
    containers: Mutex<HashMap<ContainerId, (u32, bool)>>,
}

impl Agent {
    fn dir(&self, pod: &str, container: &str) -> PathBuf {
        self.root.join(pod).join(container)
    }

    fn set(&self, pod: &str, container: &str, attempt: u32, running: bool) {
        let key = (
            "default".to_string(),
            pod.to_string(),
            container.to_string(),
        );
        self.containers
            .lock()
            .expect("lock")
            .insert(key, (attempt, running));
    }

    fn log(&self, pod: &str, container: &str, attempt: u32) -> ContainerLog {
        let path = instance_log_path(&self.dir(pod, container), attempt);
        ContainerLog::open(&path, RotationPolicy::default()).expect("open log")
    }
}

impl LogLocator for Agent {
    fn locate(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogLocation, LogLookupError> {
        let key = (
            namespace.to_string(),
            pod.to_string(),
            container.to_string(),
        );
        let Some(&(attempt, running)) = self.containers.lock().expect("lock").get(&key) else {
            return Err(LogLookupError::NotFound(format!(
                "container {container:?} in pod {pod:?} is not running on this node"
            )));
        };
        let dir = self.dir(pod, container);
        match (previous, attempt) {
            (false, _) => Ok(LogLocation {
                dir,
                attempt,
                running,
            }),
            (true, 0) => Err(LogLookupError::BadRequest(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            ))),
            (true, current) => Ok(LogLocation {
                dir,
                attempt: current - 1,
                running: false,
            }),
        }
    }
}

/// A cluster, an agent log endpoint on loopback, and a Node `node-1` pointing at it.
struct Fixture {
    cluster: Cluster,
    agent: Arc<Agent>,
    _runtime: tokio::runtime::Runtime,
    _logs: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Self {
        let cluster = Cluster::start();
        let logs = tempfile::tempdir().expect("temp dir");
        let agent = Arc::new(Agent {
            root: logs.path().to_path_buf(),
            ..Agent::default()
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        runtime.spawn(log_server::serve(
            listener,
            Arc::clone(&agent) as Arc<dyn LogLocator>,
        ));
        let fixture = Self {
            cluster,
            agent,
            _runtime: runtime,
            _logs: logs,
        };
        fixture.add_node("node-1", port);
        fixture
    }

    fn add_node(&self, name: &str, port: u16) {
        let manifest = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{{\"name\":\"{name}\"}}}}"
        );
        let created = self
            .cluster
            .kubectl_stdin(&["create", "-f", "-"], &manifest);
        assert!(created.status.success(), "{created:?}");
        let status = format!(
            r#"{{"status":{{"addresses":[{{"type":"Hostname","address":"{name}"}},{{"type":"InternalIP","address":"127.0.0.1"}}],"daemonEndpoints":{{"kubeletEndpoint":{{"Port":{port}}}}}}}}}"#
        );
        self.cluster.ok(&[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ]);
    }

    /// A pod bound to `node` (empty: unbound) with the given containers.
    fn add_pod(&self, name: &str, node: &str, containers: &[&str]) {
        let containers: Vec<String> = containers
            .iter()
            .map(|c| format!(r#"{{"name":"{c}","image":"busybox"}}"#))
            .collect();
        let node_name = if node.is_empty() {
            String::new()
        } else {
            format!(r#""nodeName":"{node}","#)
        };
        let manifest = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{{node_name}"containers":[{}]}}}}"#,
            containers.join(",")
        );
        let created = self
            .cluster
            .kubectl_stdin(&["create", "-f", "-"], &manifest);
        assert!(created.status.success(), "{created:?}");
    }

    /// `GET` on the server's `pods/{pod}/log` with `query`: (status code, body).
    fn raw_log(&self, pod: &str, query: &str) -> (u16, String) {
        let path = format!("/api/v1/namespaces/default/pods/{pod}/log?{query}");
        http_get(self.cluster.port, &path).expect("the server answers")
    }
}

fn second(n: i64) -> Timestamp {
    Timestamp::new(1_767_225_600 + n, 0).expect("in range")
}

fn write_lines(log: &mut ContainerLog, prefix: &str, lines: std::ops::Range<i64>) {
    for n in lines {
        let stream = if n % 2 == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        log.write(stream, second(n), format!("{prefix} {n}\n").as_bytes())
            .expect("write");
    }
}

fn lines(prefix: &str, range: std::ops::Range<i64>) -> String {
    range.map(|n| format!("{prefix} {n}\n")).collect()
}

#[test]
fn kubectl_logs_reads_the_agent_log_in_every_mode() {
    let fixture = Fixture::start();
    fixture.add_pod("app", "node-1", &["web"]);
    write_lines(&mut fixture.agent.log("app", "web", 0), "first", 0..3);
    write_lines(&mut fixture.agent.log("app", "web", 1), "second", 10..15);
    fixture.agent.set("app", "web", 1, true);
    let cluster = &fixture.cluster;

    assert_eq!(cluster.ok(&["logs", "app"]), lines("second", 10..15));
    assert_eq!(
        cluster.ok(&["logs", "app", "-c", "web", "--previous"]),
        lines("first", 0..3)
    );
    assert_eq!(
        cluster.ok(&["logs", "app", "--tail=2"]),
        lines("second", 13..15)
    );
    assert_eq!(
        cluster.ok(&["logs", "app", "--tail=1", "--timestamps"]),
        "2026-01-01T00:00:14Z second 14\n"
    );
    assert_eq!(
        cluster.ok(&["logs", "app", "--limit-bytes=12"]),
        "second 10\nse"
    );
    assert_eq!(
        cluster.ok(&["logs", "app", "--since-time=2026-01-01T00:00:13Z"]),
        lines("second", 13..15)
    );
}

#[test]
fn kubectl_logs_follow_streams_until_the_container_stops() {
    let fixture = Fixture::start();
    fixture.add_pod("app", "node-1", &["web"]);
    let mut log = fixture.agent.log("app", "web", 0);
    write_lines(&mut log, "line", 0..2);
    fixture.agent.set("app", "web", 0, true);
    let mut follower = Follower::spawn(&fixture.cluster, &["logs", "-f", "app"]);
    follower.wait_for("line 1");
    write_lines(&mut log, "line", 2..5);
    follower.wait_for("line 4");
    write_lines(&mut log, "line", 5..6);
    fixture.agent.set("app", "web", 0, false);
    let status = follower.wait_for_exit();
    assert!(status.success(), "kubectl logs -f ended with {status}");
    assert_eq!(follower.seen.join(""), lines("line", 0..6));
}

#[test]
fn a_follower_that_goes_away_ends_the_agent_stream() {
    let fixture = Fixture::start();
    fixture.add_pod("app", "node-1", &["web"]);
    write_lines(&mut fixture.agent.log("app", "web", 0), "line", 0..1);
    fixture.agent.set("app", "web", 0, true);
    // The agent's server holds one reference; each open log stream holds another.
    let idle = Arc::strong_count(&fixture.agent);
    let mut follower = Follower::spawn(&fixture.cluster, &["logs", "-f", "app"]);
    follower.wait_for("line 0");
    assert!(
        Arc::strong_count(&fixture.agent) > idle,
        "the agent streams"
    );
    drop(follower);
    eventually("the agent's stream to end with its client", || {
        (Arc::strong_count(&fixture.agent) == idle).then_some(())
    });
}

#[test]
fn log_errors_are_statuses_a_person_can_act_on() {
    let fixture = Fixture::start();
    fixture.add_pod("two", "node-1", &["web", "side"]);
    fixture.add_pod("pending", "", &["web"]);
    fixture.add_pod("elsewhere", "node-2", &["web"]);
    fixture.add_pod("gone", "node-1", &["web"]);
    fixture.add_node("node-2", closed_port());

    let (code, body) = fixture.raw_log("two", "");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("a container name must be specified for pod two, choose one of: [web side]"),
        "{body}"
    );
    let (code, body) = fixture.raw_log("two", "container=db");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("container db is not valid for pod two"),
        "{body}"
    );
    let (code, body) = fixture.raw_log("two", "container=web&tailLines=-1");
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("tailLines: Invalid value: -1: must be greater than or equal to 0"),
        "{body}"
    );
    let (code, body) = fixture.raw_log("pending", "");
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("pod pending does not have a host assigned"),
        "{body}"
    );
    let (code, body) = fixture.raw_log("elsewhere", "");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"reason\":\"ServiceUnavailable\""), "{body}");
    assert!(body.contains("node-2"), "{body}");
    // Known to the API server but not (yet) to the agent: the agent's 404 as a Status.
    let (code, body) = fixture.raw_log("gone", "");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("\"reason\":\"NotFound\""), "{body}");
    assert!(
        body.contains(r#"container \"web\" in pod \"gone\" is not running on this node"#),
        "{body}"
    );
    fixture.agent.set("gone", "web", 0, false);
    let output = fixture.cluster.kubectl(&["logs", "gone", "--previous"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"previous terminated container "web" in pod "gone" not found"#),
        "{stderr}"
    );
    let output = fixture.cluster.kubectl(&["logs", "elsewhere"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("node-2"), "{stderr}");
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    free_port()
}

/// A running `kubectl logs -f` whose output lines are collected as they arrive.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn spawn(cluster: &Cluster, args: &[&str]) -> Self {
        let mut child = cluster
            .kubectl_command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run kubectl");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                if sender.send(std::mem::take(&mut line)).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_for(&mut self, wanted: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.seen.iter().any(|line| line.trim_end() == wanted) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("never saw {wanted:?}; saw {:?}", self.seen),
            }
        }
    }

    fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let status = eventually("kubectl logs -f to end", || {
            self.child.try_wait().expect("try_wait")
        });
        // The reader thread ends at EOF; take what it read before the exit.
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            self.seen.push(line);
        }
        status
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
