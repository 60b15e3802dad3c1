//! Test harness: starts the real `bulwark` binary on a free loopback port in a temp dir and
//! drives it with the real `kubectl` (each cluster with its own discovery cache) and kube clients.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Generous: the machine may be busy compiling; correctness never depends on speed.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    extra_args: Vec<String>,
    /// `server`, or `up` (control plane plus node agents).
    subcommand: &'static str,
    /// Held while the cluster lives: the slice of the pod network only its pods use.
    _pod_network: Option<std::fs::File>,
}

/// `/20` slices of 127.128.0.0/9 (16 nodes each) handed to concurrently running test
/// clusters, so that two clusters' pods never bind the same address and port.
const POD_NETWORK_SLOTS: u32 = 2048;

/// Claims a free slice through an exclusive lock file shared by every test process on the
/// machine; returns the lock (held until dropped) and the `--cluster-cidr` value.
fn claim_pod_network(port: u16) -> (std::fs::File, String) {
    let dir = std::env::temp_dir().join("bulwark-test-pod-networks");
    std::fs::create_dir_all(&dir).expect("pod network lock dir");
    for step in 0..POD_NETWORK_SLOTS {
        let slot = (u32::from(port) + step) % POD_NETWORK_SLOTS;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("slot-{slot}.lock")))
            .expect("pod network lock file");
        if file.try_lock().is_ok() {
            let base =
                std::net::Ipv4Addr::from(u32::from_be_bytes([127, 128, 0, 0]) + (slot << 12));
            let cidr = format!("{base}/20");
            return (file, cidr);
        }
    }
    panic!("every test pod network slot is taken");
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

impl Cluster {
    /// Starts `bulwark server` on SQLite in a fresh temp dir.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Self {
        Self::start_as("server", extra_args)
    }

    /// Starts `bulwark up` (node agents included, fast profile) and waits until `nodes`
    /// nodes are Ready.
    pub fn up(nodes: u32, extra_args: &[&str]) -> Self {
        let count = nodes.to_string();
        let port = free_port();
        let (lock, cidr) = claim_pod_network(port);
        let mut args = vec![
            "--nodes",
            &count,
            "--profile",
            "fast",
            "--cluster-cidr",
            &cidr,
        ];
        args.extend_from_slice(extra_args);
        let cluster = Self::start_on("up", port, Some(lock), &args);
        cluster.wait_for_ready_nodes(nodes as usize);
        cluster
    }

    fn start_as(subcommand: &'static str, extra_args: &[&str]) -> Self {
        Self::start_on(subcommand, free_port(), None, extra_args)
    }

    fn start_on(
        subcommand: &'static str,
        port: u16,
        pod_network: Option<std::fs::File>,
        extra_args: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cluster = Cluster {
            dir,
            port,
            child: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            subcommand,
            _pod_network: pod_network,
        };
        cluster.launch();
        cluster
    }

    /// Waits until `count` nodes report Ready=True.
    pub fn wait_for_ready_nodes(&self, count: usize) {
        self.wait_for_ready_nodes_within(count, DEADLINE, Duration::from_millis(100));
    }

    pub fn wait_for_ready_nodes_within(&self, count: usize, deadline: Duration, poll: Duration) {
        let jsonpath = r#"{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#;
        eventually_within(deadline, poll, &format!("{count} Ready nodes"), || {
            let output = self.kubectl(&["get", "nodes", "-o", &format!("jsonpath={jsonpath}")]);
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let ready = text.lines().filter(|line| line.ends_with(" True")).count();
            (ready >= count).then_some(())
        });
    }

    /// The log of a node agent `bulwark up` runs.
    pub fn agent_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.data_dir().join("nodes").join(node).join("agent.log"))
            .unwrap_or_default()
    }

    /// Runs `bulwark ARGS --data-dir DATA` (the `node` and `image` commands).
    pub fn bulwark(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bulwark"))
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("run bulwark")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig")
    }

    /// (Re)starts the server process on the same data dir and port, and waits until ready.
    pub fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("server log");
        let child = Command::new(env!("CARGO_BIN_EXE_bulwark"))
            .arg(self.subcommand)
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--port")
            .arg(self.port.to_string())
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn bulwark server");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "bulwark server exited early with {status}; log:\n{}",
                    self.server_log()
                );
            }
            if http_get(self.port, "/readyz").is_some_and(|(code, _)| code == 200)
                && self.kubeconfig().exists()
            {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "server not ready in time; log:\n{}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// SIGKILLs the server (no shutdown of any kind).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let pid = child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for server") {
                return status;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A kubectl invocation against this cluster with its own HOME and discovery cache.
    pub fn kubectl_command(&self) -> Command {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"));
        command
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command()
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// kubectl with a manifest on stdin (`-f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .kubectl_command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write manifest");
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr if it failed.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A kube client for this cluster.
    pub async fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().expect("cluster URL"));
        kube::Client::try_from(config).expect("kube client")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.subcommand == "up" {
            // A clean stop ends the agents and their pods, so no test leaves processes behind.
            if let Some(child) = self.child.as_mut() {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let started = Instant::now();
                while started.elapsed() < DEADLINE {
                    if let Ok(Some(_)) = child.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        self.kill();
    }
}

/// `kubectl apply -f -` of `manifest`, failing the test if kubectl does; returns its output.
pub fn apply(cluster: &Cluster, manifest: &str) -> String {
    let output = cluster.kubectl_stdin(&["apply", "-f", "-"], manifest);
    assert!(
        output.status.success(),
        "apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// POSTs a `pods/binding` for `pod` in `default` to `node` (what the scheduler will do):
/// 201 bound, 409 bound already, 404 gone; None if the server did not answer.
pub fn bind_pod(port: u16, pod: &str, node: &str) -> Option<(u16, String)> {
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"Binding","metadata":{{"name":"{pod}"}},"target":{{"apiVersion":"v1","kind":"Node","name":"{node}"}}}}"#
    );
    http_request(
        port,
        "POST",
        &format!("/api/v1/namespaces/default/pods/{pod}/binding"),
        &[("Content-Type", "application/json")],
        &body,
    )
}

/// `bulwark agent --fake-nodes COUNT ARGS…` against the cluster; killed on drop.
pub struct FakeNodes(Child);

impl FakeNodes {
    /// Starts the simulated nodes; the caller waits for them as its scale requires.
    pub fn spawn(cluster: &Cluster, count: usize, args: &[&str]) -> Self {
        Self::spawn_in(cluster, count, "fake-agent", args)
    }

    /// Another set of simulated nodes beside the first, named `PREFIX-1`…`PREFIX-COUNT`.
    pub fn spawn_named(cluster: &Cluster, count: usize, prefix: &str, args: &[&str]) -> Self {
        let mut all = vec!["--name-prefix", prefix];
        all.extend_from_slice(args);
        Self::spawn_in(cluster, count, &format!("fake-agent-{prefix}"), &all)
    }

    fn spawn_in(cluster: &Cluster, count: usize, data_dir: &str, args: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_bulwark"))
            .args(["agent", "--server", &cluster.url()])
            .args(["--fake-nodes", &count.to_string()])
            .args(args)
            .arg("--data-dir")
            .arg(fresh_dir(&cluster.data_dir(), data_dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fake nodes");
        FakeNodes(child)
    }
}

/// Creates and returns `base/name`, or `base/name-2`, `-3`, … if taken: each agent of a
/// cluster keeps its own state.
fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let dir = std::iter::once(base.join(name))
        .chain((2..).map(|n| base.join(format!("{name}-{n}"))))
        .find(|dir| !dir.exists())
        .expect("an unused directory name");
    std::fs::create_dir_all(&dir).expect("agent data directory");
    dir
}

impl Drop for FakeNodes {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn pods_list(port: u16, selector: &str) -> Vec<serde_json::Value> {
    let path = format!("/api/v1/namespaces/default/pods?labelSelector={selector}");
    let Some((200, body)) = http_get(port, &path) else {
        return vec![];
    };
    let list: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    list["items"].as_array().cloned().unwrap_or_default()
}

pub fn is_ready(pod: &serde_json::Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub fn terminating(pod: &serde_json::Value) -> bool {
    !pod["metadata"]["deletionTimestamp"].is_null()
}

pub fn name(pod: &serde_json::Value) -> String {
    pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `COUNT` Ready fake nodes `fake-node-1…`, `--profile fast`, over zones a, b and c round robin
/// (the seed's manifests spread over zones), with any `extra` agent flags.
pub fn start_fake_nodes(cluster: &Cluster, count: usize, extra: &[&str]) -> FakeNodes {
    let mut args = vec!["--profile", "fast", "--zone", "zone-a,zone-b,zone-c"];
    args.extend_from_slice(extra);
    let nodes = FakeNodes::spawn(cluster, count, &args);
    cluster.wait_for_ready_nodes(count);
    nodes
}

/// POSTs to a `bulwark/demo` pod's admin endpoint on port 8080 (`/admin/ready?fail=true`, …).
pub fn demo_admin(pod: &serde_json::Value, path: &str) {
    use std::io::{Read, Write};
    let ip = pod["status"]["podIP"].as_str().expect("pod IP");
    let mut stream = std::net::TcpStream::connect((ip, 8080)).expect("connect to the demo");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
}

/// Every pod in the cluster, through the API (empty if the server did not answer).
pub fn all_pods(port: u16) -> Vec<serde_json::Value> {
    let Some((200, body)) = http_get(port, "/api/v1/pods") else {
        return vec![];
    };
    let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The node a pod is pinned to by a required `matchFields metadata.name In [node]` term, as
/// DaemonSet pods are.
pub fn pinned_node(pod: &serde_json::Value) -> Option<String> {
    let terms = pod["spec"]["affinity"]["nodeAffinity"]
        ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        .as_array()?;
    terms.iter().find_map(|term| {
        term["matchFields"].as_array()?.iter().find_map(|field| {
            let values = field["values"].as_array()?;
            (field["key"] == "metadata.name" && field["operator"] == "In" && values.len() == 1)
                .then(|| values[0].as_str().map(str::to_string))
                .flatten()
        })
    })
}

/// The process id of the first container of the pod with `uid` on process node `node` (from
/// the agent's runtime state), once it runs.
pub fn container_pid(cluster: &Cluster, node: &str, uid: &str) -> Option<String> {
    let path = cluster
        .data_dir()
        .join("nodes")
        .join(node)
        .join("runtime/pods")
        .join(format!("{uid}.json"));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    state["containers"][0]["pid"]
        .as_u64()
        .map(|pid| pid.to_string())
}

/// A minimal HTTP/1.1 GET over loopback: (status code, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request(port, "GET", path, &[], "")
}

/// A minimal HTTP/1.1 request for raw-protocol tests (bad input the clients would never send).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(DEADLINE)).ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// Polls `check` until it returns Some, or fails after the deadline.
pub fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    eventually_within(DEADLINE, Duration::from_millis(100), what, check)
}

/// `eventually` for big clusters: a longer deadline and a slower poll, so that the polling
/// (a kubectl listing a thousand objects) does not slow down what it waits for.
pub fn eventually_within<T>(
    deadline: Duration,
    poll: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(poll);
    }
}

/// The seed's manifests, as shipped in `examples/seed/`.
pub fn seed_manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/seed")
        .join(name)
}
