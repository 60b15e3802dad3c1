//! The node agent end to end: `bulwark up` starts real agents as child processes, pods run as
//! real processes, and kubectl sees what a kubelet would report. The control plane's scheduler
//! places the pods.

mod common;

use std::time::Duration;

use common::{Cluster, FakeNodes, apply, demo_admin, eventually};
use serde_json::Value;

fn pod_json(cluster: &Cluster, pod: &str) -> Option<Value> {
    let output = cluster.kubectl(&["get", "pod", pod, "-o", "json"]);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).ok())
        .flatten()
}

fn condition(pod: &Value, kind: &str) -> Option<String> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
        .and_then(|condition| condition["status"].as_str())
        .map(str::to_string)
}

fn restart_count(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap_or(-1)
}

fn waiting_reason(pod: &Value) -> Option<String> {
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        .as_str()
        .map(str::to_string)
}

/// POST to the demo service's admin API on the pod's own address.
/// The pid of the pod's first container on node-1, from the runtime's state file (what the
/// agent adopts after a restart).
fn container_pid(cluster: &Cluster, pod: &str) -> Option<String> {
    let uid = pod_json(cluster, pod)?["metadata"]["uid"]
        .as_str()?
        .to_string();
    common::container_pid(cluster, "node-1", &uid)
}

fn busybox_pod(name: &str, script: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 5\n  containers:\n  - name: main\n    image: busybox:1.36\n    command: [\"sh\", \"-c\", {script:?}]\n{extra}"
    )
}

#[test]
fn up_starts_three_ready_nodes_in_three_zones_with_fresh_leases() {
    let cluster = Cluster::up(3, &[]);
    let wide = cluster.ok(&["get", "nodes", "-o", "wide"]);
    for node in ["node-1", "node-2", "node-3"] {
        assert!(wide.contains(node), "{wide}");
    }
    assert_eq!(wide.matches(" Ready ").count(), 3, "{wide}");
    let zones = cluster.ok(&["get", "nodes", "-L", "topology.kubernetes.io/zone"]);
    for zone in ["zone-a", "zone-b", "zone-c"] {
        assert!(zones.contains(zone), "{zones}");
    }
    let cidrs = cluster.ok(&["get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}"]);
    let mut blocks: Vec<&str> = cidrs.split_whitespace().collect();
    blocks.sort();
    blocks.dedup();
    assert_eq!(blocks.len(), 3, "each node its own pod CIDR: {cidrs}");
    assert!(
        blocks.iter().all(|block| block.starts_with("127.")),
        "{cidrs}"
    );
    let renewed = || {
        cluster.ok(&[
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            "node-1",
            "-o",
            "jsonpath={.spec.renewTime}",
        ])
    };
    let first = renewed();
    eventually("the node lease to be renewed", || {
        (renewed() != first).then_some(())
    });
}

#[test]
fn the_seed_recommendation_service_is_ready_only_after_its_probes_pass() {
    let cluster = Cluster::up(1, &[]);
    cluster.ok(&[
        "apply",
        "-f",
        common::seed_manifest("recommendation-service.yaml")
            .to_str()
            .expect("path"),
    ]);
    let running = eventually("the pod to run", || {
        pod_json(&cluster, "recommendation-service")
            .filter(|pod| pod["status"]["phase"] == "Running")
    });
    assert_ne!(
        condition(&running, "Ready").as_deref(),
        Some("True"),
        "not ready before its probes"
    );
    let ready = eventually("the pod to become Ready", || {
        pod_json(&cluster, "recommendation-service")
            .filter(|pod| condition(pod, "Ready").as_deref() == Some("True"))
    });
    assert_eq!(restart_count(&ready), 0);
    let started_at = ready["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        .as_str()
        .and_then(|time| time.parse::<jiff::Timestamp>().ok())
        .expect("running since");
    let ready_at = ready["status"]["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .and_then(|time| time.parse::<jiff::Timestamp>().ok())
        .expect("ready since");
    assert!(
        ready_at.duration_since(started_at) >= jiff::SignedDuration::from_secs(4),
        "readiness waits its 5 s initial delay: started {started_at}, ready {ready_at}"
    );
    let ip = ready["status"]["podIP"].as_str().expect("pod IP");
    let block = cluster.ok(&["get", "node", "node-1", "-o", "jsonpath={.spec.podCIDR}"]);
    let network = block.strip_suffix(".0/24").expect("a /24 pod CIDR");
    assert!(
        ip.starts_with(&format!("{network}.")) && ip != format!("{network}.1"),
        "pod address {ip} from the node's block {block}"
    );
}

#[test]
fn readiness_failure_unreadies_without_restart_and_liveness_failure_restarts() {
    let cluster = Cluster::up(1, &[]);
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: probed\nspec:\n  terminationGracePeriodSeconds: 5\n  containers:\n  - name: web\n    image: recommender:v3.2\n    readinessProbe:\n      httpGet: {path: /healthz/ready, port: 8080}\n      periodSeconds: 1\n      failureThreshold: 1\n    livenessProbe:\n      httpGet: {path: /healthz/live, port: 8080}\n      periodSeconds: 1\n      failureThreshold: 2\n",
    );
    let ready = eventually("Ready", || {
        pod_json(&cluster, "probed")
            .filter(|pod| condition(pod, "Ready").as_deref() == Some("True"))
    });
    demo_admin(&ready, "/admin/ready?fail=true");
    let unready = eventually("Ready=False after the readiness switch", || {
        pod_json(&cluster, "probed")
            .filter(|pod| condition(pod, "Ready").as_deref() == Some("False"))
    });
    assert_eq!(
        restart_count(&unready),
        0,
        "readiness failure never restarts"
    );
    assert_eq!(unready["status"]["phase"], "Running");
    demo_admin(&unready, "/admin/live?fail=true");
    let restarted = eventually("a liveness restart", || {
        pod_json(&cluster, "probed").filter(|pod| restart_count(pod) >= 1)
    });
    assert_eq!(restart_count(&restarted), 1);
    let describe = cluster.ok(&["describe", "pod", "probed"]);
    assert!(describe.contains("Liveness probe failed"), "{describe}");
    assert!(
        describe.contains("failed liveness probe, will be restarted"),
        "{describe}"
    );
    assert!(describe.contains("Readiness probe failed"), "{describe}");
}

#[test]
fn a_crashing_container_backs_off_with_growing_delays() {
    let cluster = Cluster::up(1, &[]);
    apply(&cluster, &busybox_pod("crasher", "exit 3", ""));
    // restartCount -> (startedAt, finishedAt) of that instance, from lastState.
    let mut runs: std::collections::BTreeMap<i64, (String, String)> = Default::default();
    eventually("four restarts in CrashLoopBackOff", || {
        let pod = pod_json(&cluster, "crasher")?;
        let last = &pod["status"]["containerStatuses"][0]["lastState"]["terminated"];
        if let (Some(started), Some(finished)) =
            (last["startedAt"].as_str(), last["finishedAt"].as_str())
        {
            runs.insert(
                restart_count(&pod),
                (started.to_string(), finished.to_string()),
            );
            assert_eq!(last["exitCode"], 3);
            assert_eq!(last["reason"], "Error");
        }
        (restart_count(&pod) >= 4 && waiting_reason(&pod).as_deref() == Some("CrashLoopBackOff"))
            .then_some(())
    });
    let table = cluster.ok(&["get", "pod", "crasher"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    let time = |text: &str| text.parse::<jiff::Timestamp>().expect("timestamp");
    let gaps: Vec<i64> = runs
        .iter()
        .zip(runs.iter().skip(1))
        .filter(|((count, _), (next, _))| *next == &(*count + 1))
        .map(|((_, (_, finished)), (_, (started, _)))| {
            time(started).as_second() - time(finished).as_second()
        })
        .collect();
    // Fast profile: 1 s, 2 s, 4 s … between a crash and the next start (whole seconds in
    // the status, so each gap reads within a second of its true value).
    assert!(gaps.len() >= 2, "consecutive restarts observed: {runs:?}");
    assert!(
        gaps.last() > gaps.first() && gaps.last() >= Some(&3),
        "delays grow: {gaps:?} from {runs:?}"
    );
    let describe = cluster.ok(&["describe", "pod", "crasher"]);
    assert!(
        describe.contains("Back-off restarting failed container"),
        "{describe}"
    );
}

#[test]
fn a_container_past_its_memory_limit_is_oom_killed() {
    let cluster = Cluster::up(1, &[]);
    let limits = "    resources:\n      limits: {memory: 32Mi}\n";
    apply(
        &cluster,
        &busybox_pod(
            "hog",
            "head -c 200000000 /dev/zero | tail > /dev/null; sleep 60",
            limits,
        ),
    );
    eventually("an OOM kill", || {
        let pod = pod_json(&cluster, "hog")?;
        let status = &pod["status"]["containerStatuses"][0];
        let reason = status["lastState"]["terminated"]["reason"]
            .as_str()
            .or(status["state"]["terminated"]["reason"].as_str())?
            .to_string();
        (reason == "OOMKilled").then_some(())
    });
    eventually("an OOMKilling event", || {
        let describe = cluster.ok(&["describe", "pod", "hog"]);
        describe.contains("OOMKilling").then_some(())
    });
}

/// CPU time used so far by the cgroup holding `pid` (cgroup v1 `cpuacct` or v2 `cpu.stat`).
fn cgroup_cpu_time(pid: &str) -> Option<Duration> {
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in membership.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        if controllers.split(',').any(|c| c == "cpuacct") {
            let usage = std::fs::read_to_string(format!(
                "/sys/fs/cgroup/{controllers}{path}/cpuacct.usage"
            ))
            .ok()?;
            return Some(Duration::from_nanos(usage.trim().parse().ok()?));
        }
        if controllers.is_empty() {
            let stat = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cpu.stat")).ok()?;
            let micros = stat
                .lines()
                .find_map(|line| line.strip_prefix("usage_usec "))?;
            return Some(Duration::from_micros(micros.trim().parse().ok()?));
        }
    }
    None
}

#[test]
fn a_cpu_limit_holds_a_burning_container_to_its_share() {
    let cluster = Cluster::up(1, &[]);
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: burner\nspec:\n  containers:\n  - name: main\n    image: my-app:v1.0\n    env:\n    - {name: DEMO_CPU_BURN_MILLICORES, value: \"1000\"}\n    resources:\n      limits: {cpu: 200m}\n",
    );
    let pid = eventually("the burner running", || container_pid(&cluster, "burner"));
    let (first, first_at) = eventually("the pod's CPU accounting", || {
        cgroup_cpu_time(&pid).map(|usage| (usage, std::time::Instant::now()))
    });
    std::thread::sleep(Duration::from_secs(3)); // the measuring window, not a wait for a condition
    let used = cgroup_cpu_time(&pid).expect("CPU accounting") - first;
    let share = used.as_secs_f64() / first_at.elapsed().as_secs_f64();
    // CFS quota: 20 ms per 100 ms period. It wants a whole core; it may get less on a busy
    // machine, never more than its quota (plus a period's rounding).
    assert!(
        (0.05..=0.26).contains(&share),
        "a 200m limit holds a burner to about 20% of a core: {:.1}%",
        share * 100.0
    );
}

#[test]
fn init_containers_and_volumes_prepare_what_the_app_container_reads() {
    let cluster = Cluster::up(1, &[]);
    let mounts = cluster.dir.path().join("mnt");
    let host = cluster.dir.path().join("host");
    let (mounts, host) = (mounts.to_str().expect("path"), host.to_str().expect("path"));
    cluster.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=greeting=hello",
    ]);
    let script = format!(
        "cat {mounts}/scratch/note; cat {mounts}/config/greeting; echo; \
         (touch {mounts}/config/x 2>/dev/null && echo config-writable) || echo config-read-only; \
         echo main-wrote > {mounts}/host/out; sleep 3600"
    );
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: prepared\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes:\n  - {{name: scratch, emptyDir: {{}}}}\n  - {{name: config, configMap: {{name: settings}}}}\n  - {{name: host, hostPath: {{path: {host}, type: DirectoryOrCreate}}}}\n  initContainers:\n  - name: init\n    image: busybox:1.36\n    command: [sh, -c, \"echo from-init > {mounts}/scratch/note\"]\n    volumeMounts: [{{name: scratch, mountPath: {mounts}/scratch}}]\n  containers:\n  - name: main\n    image: busybox:1.36\n    command: [sh, -c, {script:?}]\n    volumeMounts:\n    - {{name: scratch, mountPath: {mounts}/scratch}}\n    - {{name: config, mountPath: {mounts}/config}}\n    - {{name: host, mountPath: {mounts}/host}}\n"
    );
    apply(&cluster, &manifest);
    let pod = eventually("the app container running", || {
        pod_json(&cluster, "prepared")
            .filter(|pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object())
    });
    assert_eq!(
        pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    let logs = eventually("the app container's output", || {
        let logs = cluster.ok(&["logs", "prepared", "-c", "main"]);
        logs.contains("config-").then_some(logs)
    });
    assert!(
        logs.contains("from-init"),
        "the init container ran first: {logs}"
    );
    assert!(logs.contains("hello"), "the config map is mounted: {logs}");
    if std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|line| line.starts_with("Uid:\t0\t"))
    {
        assert!(
            logs.contains("config-read-only"),
            "mounted read-only: {logs}"
        );
    }
    let written = eventually("the host path written", || {
        std::fs::read_to_string(std::path::Path::new(host).join("out")).ok()
    });
    assert_eq!(written, "main-wrote\n");
    let uid = pod["metadata"]["uid"].as_str().expect("uid").to_string();
    let pod_volumes = cluster.data_dir().join("nodes/node-1/volumes").join(&uid);
    assert!(
        pod_volumes.join("scratch/note").exists(),
        "emptyDir on the node"
    );
    cluster.ok(&["delete", "pod", "prepared", "--timeout=60s"]);
    eventually("the pod's volumes removed", || {
        (!pod_volumes.exists()).then_some(())
    });
}

#[test]
fn kubectl_logs_current_follow_previous_and_tail() {
    let cluster = Cluster::up(1, &[]);
    apply(
        &cluster,
        &busybox_pod(
            "talker",
            "for i in 1 2 3 4 5; do echo line-$i; done; sleep 2; exit 1",
            "",
        ),
    );
    eventually("the first run's output", || {
        let output = cluster.kubectl(&["logs", "talker"]);
        String::from_utf8_lossy(&output.stdout)
            .contains("line-5")
            .then_some(())
    });
    let tail = cluster.ok(&["logs", "talker", "--tail", "2"]);
    assert_eq!(
        tail.lines().collect::<Vec<_>>(),
        ["line-4", "line-5"],
        "{tail}"
    );
    eventually("a previous instance", || {
        pod_json(&cluster, "talker").filter(|pod| restart_count(pod) >= 1)
    });
    let previous = cluster.ok(&["logs", "talker", "--previous"]);
    assert!(
        previous.contains("line-1") && previous.contains("line-5"),
        "{previous}"
    );
    let follow = cluster
        .kubectl_command()
        .args(["logs", "-f", "talker"])
        .output()
        .expect("kubectl logs -f");
    let followed = String::from_utf8_lossy(&follow.stdout);
    assert!(
        followed.contains("line-5"),
        "follow reads to the end of the instance: {followed}"
    );
}

#[test]
fn deleting_a_pod_stops_its_processes_gracefully_and_removes_it() {
    let cluster = Cluster::up(1, &[]);
    apply(
        &cluster,
        &busybox_pod(
            "graceful",
            "trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done",
            "",
        ),
    );
    eventually("running", || {
        pod_json(&cluster, "graceful")
            .filter(|pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object())
    });
    let started = std::time::Instant::now();
    cluster.ok(&["delete", "pod", "graceful", "--timeout=60s"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a process that honours SIGTERM does not wait out the grace period"
    );
    let output = cluster.kubectl(&["get", "pod", "graceful"]);
    assert!(!output.status.success(), "the pod object is gone");
    let processes = std::process::Command::new("pgrep")
        .args(["-f", "trap 'echo got-term"])
        .output()
        .expect("pgrep");
    assert!(
        processes.stdout.is_empty(),
        "nothing of the pod is left running"
    );
}

#[test]
fn a_pre_stop_hook_runs_before_the_container_is_signalled() {
    let cluster = Cluster::up(1, &[]);
    let record = cluster.dir.path().join("stopping.txt");
    let record = record.to_str().expect("path");
    let hook = |command: &str| {
        format!(
            "    lifecycle:\n      preStop:\n        exec:\n          command: [\"sh\", \"-c\", {command:?}]\n"
        )
    };
    let main = format!("trap 'echo term >> {record}; exit 0' TERM; while true; do sleep 0.1; done");
    apply(
        &cluster,
        &busybox_pod("hooked", &main, &hook(&format!("echo hook >> {record}"))),
    );
    apply(
        &cluster,
        &busybox_pod(
            "broken-hook",
            "while true; do sleep 0.1; done",
            &hook("exit 7"),
        ),
    );
    for pod in ["hooked", "broken-hook"] {
        eventually("running", || {
            pod_json(&cluster, pod)
                .filter(|pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object())
        });
    }
    cluster.ok(&["delete", "pod", "hooked", "broken-hook", "--timeout=60s"]);
    let order = std::fs::read_to_string(record).unwrap_or_default();
    assert_eq!(order, "hook\nterm\n", "the hook ran, then SIGTERM");
    let events = cluster.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=broken-hook",
    ]);
    assert!(events.contains("FailedPreStopHook"), "{events}");
}

#[test]
fn a_stopped_agent_leaves_pods_running_and_its_return_adopts_them() {
    let cluster = Cluster::up(1, &[]);
    apply(
        &cluster,
        &busybox_pod("keeper", "while true; do sleep 0.2; done", ""),
    );
    apply(
        &cluster,
        &busybox_pod("doomed", "while true; do sleep 0.2; done", ""),
    );
    let pid_of = |pod: &str| container_pid(&cluster, pod);
    let keeper_pid = eventually("keeper running", || pid_of("keeper"));
    eventually("doomed running", || pid_of("doomed"));
    let stopped = cluster.bulwark(&["node", "stop", "node-1"]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(
        std::path::Path::new(&format!("/proc/{keeper_pid}")).exists(),
        "the pod keeps running while its agent is down"
    );
    cluster.ok(&["delete", "pod", "doomed", "--wait=false"]);
    let started = cluster.bulwark(&["node", "start", "node-1"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    eventually(
        "the pod deleted meanwhile to be stopped and removed",
        || (!cluster.kubectl(&["get", "pod", "doomed"]).status.success()).then_some(()),
    );
    let after = eventually("keeper status after adoption", || {
        pod_json(&cluster, "keeper")
            .filter(|pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object())
    });
    assert_eq!(restart_count(&after), 0, "adopted, not restarted");
    assert_eq!(
        pid_of("keeper"),
        Some(keeper_pid.clone()),
        "the same process, no duplicate"
    );
    // SIGKILL, no goodbye: the supervisor starts a new agent, which adopts the pod again.
    let agent_pid = || {
        std::fs::read_to_string(cluster.data_dir().join("nodes/node-1/agent.pid"))
            .ok()
            .map(|pid| pid.trim().to_string())
            .filter(|pid| !pid.is_empty())
    };
    let adoptions = || {
        cluster
            .agent_log("node-1")
            .matches("adopted the containers still running")
            .count()
    };
    let adopted_before = adoptions();
    let killed = eventually("the agent's pid", agent_pid);
    let status = std::process::Command::new("kill")
        .args(["-KILL", &killed])
        .status()
        .expect("kill");
    assert!(status.success());
    eventually("a new agent", || agent_pid().filter(|pid| *pid != killed));
    eventually("the new agent to adopt the pod", || {
        (adoptions() > adopted_before).then_some(())
    });
    let after = eventually("keeper status after the crash", || {
        pod_json(&cluster, "keeper")
            .filter(|pod| pod["status"]["containerStatuses"][0]["state"]["running"].is_object())
    });
    assert_eq!(
        restart_count(&after),
        0,
        "adopted after SIGKILL, not restarted"
    );
    assert_eq!(pid_of("keeper"), Some(keeper_pid), "still the same process");
    let processes = std::process::Command::new("pgrep")
        .args(["-f", "while true; do sleep 0.2; done"])
        .output()
        .expect("pgrep");
    let running = String::from_utf8_lossy(&processes.stdout).lines().count();
    assert!(running <= 1, "one keeper process, no duplicate: {running}");
}

#[test]
fn an_unknown_image_waits_in_image_pull_back_off() {
    let cluster = Cluster::up(1, &[]);
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mystery\nspec:\n  containers:\n  - {name: main, image: no-such-image:v9}\n",
    );
    eventually("ImagePullBackOff", || {
        let table = cluster.ok(&["get", "pod", "mystery"]);
        table.contains("ImagePullBackOff").then_some(())
    });
    let pod = pod_json(&cluster, "mystery").expect("pod");
    let message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("bulwark image add"),
        "says how to add it: {message}"
    );
}

#[test]
fn fake_nodes_register_ready_and_keep_their_leases_fresh() {
    let cluster = Cluster::start();
    // Kubernetes' own clocks (10 s lease renewal): a thousand leases renewed every second
    // would measure a debug build's write throughput, not registration.
    let args = [
        "--name-prefix",
        "sim",
        "--profile",
        "default",
        "--zone",
        "zone-a,zone-b,zone-c",
    ];
    let _nodes = FakeNodes::spawn(&cluster, 1000, &args);
    // A thousand registrations in a debug build on a busy machine: a long deadline, a slow poll.
    cluster.wait_for_ready_nodes_within(1000, Duration::from_secs(300), Duration::from_secs(2));
    let renewed = |name: &str| {
        let output = cluster.kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            name,
            "-o",
            "jsonpath={.spec.renewTime}",
        ]);
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    // A node registers before its first Lease is written.
    let before = eventually("sim-1000's lease", || renewed("sim-1000"));
    eventually("sim-1000's lease to be renewed", || {
        renewed("sim-1000").filter(|now| *now != before)
    });
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: simulated\nspec:\n  containers:\n  - {name: main, image: anything:v1}\n",
    );
    let pod = eventually("the scheduled simulated pod to be Ready", || {
        pod_json(&cluster, "simulated")
            .filter(|pod| condition(pod, "Ready").as_deref() == Some("True"))
    });
    let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    assert!(node.starts_with("sim-"), "placed on {node:?}");
}
