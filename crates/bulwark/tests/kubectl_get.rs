//! Done means #2: `kubectl get` prints upstream's columns for every kind and supports every output
//! and filter option users reach for; `get -w` streams events live; `describe` works for pods,
//! deployments and nodes; the pod STATUS column follows upstream's rules.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Cluster, DEADLINE, apply, eventually};

/// One object of every served kind (nodes are plain objects here: no node agents yet).
const EVERY_KIND: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1}
data: {a: "1"}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ep1}
subsets:
- addresses: [{ip: 10.0.0.1}]
  ports: [{port: 80}]
---
apiVersion: v1
kind: Event
metadata: {name: ev1}
involvedObject: {kind: Pod, name: pod1, namespace: default}
reason: Tested
message: hello
type: Normal
---
apiVersion: v1
kind: LimitRange
metadata: {name: lr1}
spec:
  limits:
  - type: Container
    default: {cpu: 500m}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns1}
---
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {node-role.kubernetes.io/worker: ""}}
---
apiVersion: v1
kind: Pod
metadata: {name: pod1, labels: {app: web}}
spec:
  containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: rq1}
spec: {hard: {pods: "10"}}
---
apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {k: v}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa1}
---
apiVersion: v1
kind: Service
metadata: {name: svc1}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: cr1}
revision: 1
data: {spec: {template: {$patch: replace}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds1}
spec:
  selector: {matchLabels: {app: ds1}}
  template:
    metadata: {labels: {app: ds1}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: deploy1}
spec:
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs1}
spec:
  selector: {matchLabels: {app: rs1}}
  template:
    metadata: {labels: {app: rs1}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj1}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job1}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lease1}
spec: {holderIdentity: me}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: es1}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
ports: [{port: 80}]
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: eev1}
eventTime: "2024-01-01T00:00:00.000000Z"
reportingController: test/ctl
reportingInstance: test-1
action: Test
reason: Tested
regarding: {kind: Pod, name: pod1, namespace: default}
note: hi
type: Normal
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb1}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: pc1}
value: 10
"#;

/// (resource as `kubectl api-resources -o name` lists it, header, `-o wide` header), as upstream's
/// printers (kubernetes/pkg/printers/internalversion/printers.go) define them. Kinds without a
/// printer (LimitRange) get the default NAME / CREATED AT table.
const COLUMNS: &[(&str, &str, &str)] = &[
    ("configmaps", "NAME DATA AGE", "NAME DATA AGE"),
    ("endpoints", "NAME ENDPOINTS AGE", "NAME ENDPOINTS AGE"),
    (
        "events",
        "LAST SEEN TYPE REASON OBJECT MESSAGE",
        "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME",
    ),
    ("limitranges", "NAME CREATED AT", "NAME CREATED AT"),
    ("namespaces", "NAME STATUS AGE", "NAME STATUS AGE"),
    (
        "nodes",
        "NAME STATUS ROLES AGE VERSION",
        "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME",
    ),
    (
        "pods",
        "NAME READY STATUS RESTARTS AGE",
        "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES",
    ),
    (
        "resourcequotas",
        "NAME REQUEST LIMIT AGE",
        "NAME REQUEST LIMIT AGE",
    ),
    ("secrets", "NAME TYPE DATA AGE", "NAME TYPE DATA AGE"),
    ("serviceaccounts", "NAME SECRETS AGE", "NAME SECRETS AGE"),
    (
        "services",
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR",
    ),
    (
        "controllerrevisions.apps",
        "NAME CONTROLLER REVISION AGE",
        "NAME CONTROLLER REVISION AGE",
    ),
    (
        "daemonsets.apps",
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE",
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE CONTAINERS IMAGES SELECTOR",
    ),
    (
        "deployments.apps",
        "NAME READY UP-TO-DATE AVAILABLE AGE",
        "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR",
    ),
    (
        "replicasets.apps",
        "NAME DESIRED CURRENT READY AGE",
        "NAME DESIRED CURRENT READY AGE CONTAINERS IMAGES SELECTOR",
    ),
    (
        "cronjobs.batch",
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE",
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS IMAGES SELECTOR",
    ),
    (
        "jobs.batch",
        "NAME STATUS COMPLETIONS DURATION AGE",
        "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR",
    ),
    (
        "leases.coordination.k8s.io",
        "NAME HOLDER AGE",
        "NAME HOLDER AGE",
    ),
    (
        "endpointslices.discovery.k8s.io",
        "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
        "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
    ),
    (
        "events.events.k8s.io",
        "LAST SEEN TYPE REASON OBJECT MESSAGE",
        "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME",
    ),
    (
        "poddisruptionbudgets.policy",
        "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
        "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
    ),
    (
        "priorityclasses.scheduling.k8s.io",
        "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY",
        "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY",
    ),
];

/// The header line with column padding collapsed to single spaces.
fn header(output: &str) -> String {
    output
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rows (without the header), each with padding collapsed to single spaces.
fn rows(output: &str) -> Vec<String> {
    output
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Every line with its padding collapsed to single spaces (describe aligns on what is present).
fn collapsed_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The first cell of every row.
fn first_column(output: &str) -> Vec<String> {
    output
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect()
}

fn pod_manifest(name: &str, labels: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  containers: [{{name: c, image: {image}}}]\n"
    )
}

/// The STATUS cell of `kubectl get pod <name>`.
fn pod_status(cluster: &Cluster, name: &str) -> String {
    let output = cluster.ok(&["get", "pod", name, "--no-headers"]);
    output
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

fn patch_status(cluster: &Cluster, name: &str, status: &str) {
    cluster.ok(&[
        "patch",
        "pod",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
}

#[test]
fn every_served_kind_is_listed_with_upstream_columns() {
    let cluster = Cluster::start();
    apply(&cluster, EVERY_KIND);
    // Every kind api-resources lists has its columns checked here: a new kind must join the table.
    let served = cluster.ok(&["api-resources", "-o", "name"]);
    let served: Vec<&str> = served.lines().collect();
    let checked: Vec<&str> = COLUMNS.iter().map(|(resource, _, _)| *resource).collect();
    assert_eq!(
        served, checked,
        "served resources and checked resources differ"
    );
    for (resource, columns, wide_columns) in COLUMNS {
        let output = cluster.ok(&["get", resource]);
        assert_eq!(
            header(&output),
            *columns,
            "kubectl get {resource}:\n{output}"
        );
        assert!(
            output.lines().count() > 1,
            "kubectl get {resource} printed no rows:\n{output}"
        );
        let wide = cluster.ok(&["get", resource, "-o", "wide"]);
        assert_eq!(
            header(&wide),
            *wide_columns,
            "kubectl get {resource} -o wide:\n{wide}"
        );
    }
}

#[test]
fn a_single_object_prints_as_a_table_row() {
    // The printed status is the one applied: no controller may fill it in meanwhile.
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    apply(&cluster, EVERY_KIND);
    let deployment = cluster.ok(&["get", "deployment", "deploy1"]);
    assert_eq!(
        rows(&deployment)[0].split(' ').take(4).collect::<Vec<_>>(),
        ["deploy1", "0/1", "0", "0"]
    );
    let pdb = cluster.ok(&["get", "pdb", "pdb1"]);
    assert_eq!(
        rows(&pdb)[0].split(' ').take(4).collect::<Vec<_>>(),
        ["pdb1", "N/A", "1", "0"]
    );
    let priority_class = cluster.ok(&["get", "pc", "pc1"]);
    let row = &rows(&priority_class)[0];
    assert!(
        row.starts_with("pc1 10 false ") && row.ends_with(" PreemptLowerPriority"),
        "{row}"
    );
    let wide = cluster.ok(&["get", "deploy", "deploy1", "-o", "wide"]);
    assert!(rows(&wide)[0].ends_with(" c nginx app=d1"), "{wide}");
}

#[test]
fn output_yaml_shows_the_defaulted_object() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    let yaml = cluster.ok(&["get", "pod", "p1", "-o", "yaml"]);
    for line in [
        "apiVersion: v1",
        "kind: Pod",
        "  name: p1",
        "  namespace: default",
        "  restartPolicy: Always",
        "  terminationGracePeriodSeconds: 30",
        "  dnsPolicy: ClusterFirst",
        "    imagePullPolicy: Always",
        "  phase: Pending",
    ] {
        assert!(
            yaml.lines().any(|l| l == line),
            "{line:?} missing from\n{yaml}"
        );
    }
}

#[test]
fn output_json_is_the_object_and_lists_are_lists() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    let single: serde_json::Value =
        serde_json::from_str(&cluster.ok(&["get", "pod", "p1", "-o", "json"])).expect("json");
    assert_eq!(single["kind"], "Pod");
    assert_eq!(single["metadata"]["name"], "p1");
    assert!(
        single["metadata"]["uid"]
            .as_str()
            .is_some_and(|uid| !uid.is_empty())
    );
    let list: serde_json::Value =
        serde_json::from_str(&cluster.ok(&["get", "pods", "-o", "json"])).expect("json");
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "Pod");
    assert_eq!(list["items"][0]["metadata"]["name"], "p1");
}

#[test]
fn output_name_prints_kind_slash_name() {
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    apply(&cluster, EVERY_KIND);
    assert_eq!(cluster.ok(&["get", "pods", "-o", "name"]), "pod/pod1\n");
    assert_eq!(
        cluster.ok(&["get", "deploy,rs", "-o", "name"]),
        "deployment.apps/deploy1\nreplicaset.apps/rs1\n"
    );
    assert_eq!(
        cluster.ok(&["get", "pc", "pc1", "-o", "name"]),
        "priorityclass.scheduling.k8s.io/pc1\n"
    );
}

#[test]
fn output_jsonpath_reads_fields_of_objects_and_lists() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    apply(&cluster, &pod_manifest("p2", "app: api", "redis"));
    assert_eq!(
        cluster.ok(&[
            "get",
            "pod",
            "p1",
            "-o",
            "jsonpath={.spec.containers[0].image}"
        ]),
        "nginx"
    );
    assert_eq!(
        cluster.ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]),
        "p1 p2"
    );
    let range = "jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.app}{\"\\n\"}{end}";
    assert_eq!(
        cluster.ok(&["get", "pods", "-o", range]),
        "p1=web\np2=api\n"
    );
}

#[test]
fn label_selectors_filter_by_equality_and_by_set() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        &pod_manifest("web-front", "app: web, tier: front", "nginx"),
    );
    apply(
        &cluster,
        &pod_manifest("web-back", "app: web, tier: back", "nginx"),
    );
    apply(&cluster, &pod_manifest("api", "app: api", "nginx"));
    apply(&cluster, &pod_manifest("plain", "other: x", "nginx"));
    let names = |selector: &str| first_column(&cluster.ok(&["get", "pods", "-l", selector]));
    assert_eq!(names("app=web"), ["web-back", "web-front"]);
    assert_eq!(names("app==web,tier=front"), ["web-front"]);
    assert_eq!(names("app!=web"), ["api", "plain"]);
    assert_eq!(names("app in (api, web)"), ["api", "web-back", "web-front"]);
    assert_eq!(names("tier notin (front)"), ["api", "plain", "web-back"]);
    assert_eq!(names("tier"), ["web-back", "web-front"]);
    assert_eq!(names("!tier"), ["api", "plain"]);
    let none = cluster.kubectl(&["get", "pods", "-l", "app=nothing"]);
    assert!(none.status.success());
    assert_eq!(
        String::from_utf8_lossy(&none.stderr),
        "No resources found in default namespace.\n"
    );
}

#[test]
fn field_selectors_filter_pods_by_name_phase_and_node() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p2}\nspec:\n  nodeName: node-a\n  containers: [{name: c, image: nginx}]\n",
    );
    patch_status(&cluster, "p2", r#"{"status":{"phase":"Running"}}"#);
    let names =
        |selector: &str| first_column(&cluster.ok(&["get", "pods", "--field-selector", selector]));
    assert_eq!(names("metadata.name=p1"), ["p1"]);
    assert_eq!(names("status.phase=Pending"), ["p1"]);
    assert_eq!(names("status.phase!=Pending"), ["p2"]);
    assert_eq!(names("spec.nodeName=node-a"), ["p2"]);
    assert_eq!(names("spec.nodeName="), ["p1"]);
    assert_eq!(
        names("metadata.namespace=default,status.phase=Running"),
        ["p2"]
    );
    let bad = cluster.kubectl(&["get", "pods", "--field-selector", "spec.nope=x"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("field label not supported: spec.nope"),
        "{stderr}"
    );
}

#[test]
fn all_namespaces_adds_the_namespace_column() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n",
    );
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    let in_team = pod_manifest("p2", "app: web", "nginx")
        .replace("  name: p2\n", "  name: p2\n  namespace: team-a\n");
    apply(&cluster, &in_team);
    let output = cluster.ok(&["get", "pods", "-A"]);
    assert_eq!(header(&output), "NAMESPACE NAME READY STATUS RESTARTS AGE");
    let cells: Vec<Vec<String>> = rows(&output)
        .iter()
        .map(|row| row.split(' ').take(3).map(str::to_string).collect())
        .collect();
    assert_eq!(cells, [["default", "p1", "0/1"], ["team-a", "p2", "0/1"]]);
    let wide = cluster.ok(&["get", "pods", "--all-namespaces", "-o", "wide"]);
    assert_eq!(
        header(&wide),
        "NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
    );
}

#[test]
fn sort_by_orders_rows_by_a_field() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("a", "app: web", "zeta"));
    apply(&cluster, &pod_manifest("b", "app: web", "alpha"));
    apply(&cluster, &pod_manifest("c", "app: web", "mid"));
    let by_image = cluster.ok(&["get", "pods", "--sort-by=.spec.containers[0].image"]);
    assert_eq!(first_column(&by_image), ["b", "c", "a"]);
    let by_name = cluster.ok(&["get", "pods", "--sort-by=.metadata.name", "-o", "name"]);
    assert_eq!(by_name, "pod/a\npod/b\npod/c\n");
}

/// `kubectl get pods -w --output-watch-events`, read line by line on a thread.
struct Watch {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(cluster: &Cluster) -> Watch {
        let mut child = cluster
            .kubectl_command()
            .args(["get", "pods", "-w", "--output-watch-events"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubectl get -w");
        let stdout = child.stdout.take().expect("watch stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one starts with `event` and names `pod`; fails after the deadline.
    fn expect(&mut self, event: &str, pod: &str) -> String {
        let started = Instant::now();
        loop {
            let remaining = DEADLINE
                .checked_sub(started.elapsed())
                .unwrap_or(Duration::ZERO);
            match self.lines.recv_timeout(remaining) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    let mut cells = line.split_whitespace();
                    if cells.next() == Some(event) && cells.next() == Some(pod) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {event} event for {pod}; the watch printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn get_watch_shows_added_modified_and_deleted_live() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("existing", "app: web", "nginx"));
    let mut watch = Watch::start(&cluster);
    // The initial list arrives as ADDED events, after the header.
    watch.expect("ADDED", "existing");
    assert_eq!(
        header(&watch.seen[0]),
        "EVENT NAME READY STATUS RESTARTS AGE"
    );
    apply(&cluster, &pod_manifest("fresh", "app: web", "nginx"));
    let added = watch.expect("ADDED", "fresh");
    assert!(
        added.split_whitespace().collect::<Vec<_>>()[1..5] == ["fresh", "0/1", "Pending", "0"],
        "{added}"
    );
    cluster.ok(&["label", "pod", "fresh", "stage=two"]);
    watch.expect("MODIFIED", "fresh");
    cluster.ok(&["delete", "pod", "fresh"]);
    watch.expect("DELETED", "fresh");
}

#[test]
fn describe_pod_shows_its_spec_and_status() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        &std::fs::read_to_string(common::seed_manifest("payment-pod.yaml")).expect("seed"),
    );
    let output = cluster.ok(&["describe", "pod", "payment-pod"]);
    let lines = collapsed_lines(&output);
    for expected in [
        "Name: payment-pod",
        "Namespace: default",
        "Status: Pending",
        "Image: payment:v2.1",
        "Limits:",
        "cpu: 500m",
        "memory: 512Mi",
        "Requests:",
        "cpu: 250m",
        "QoS Class: Burstable",
    ] {
        assert!(
            lines.iter().any(|line| line == expected),
            "{expected:?} missing from\n{output}"
        );
    }
}

#[test]
fn describe_deployment_shows_replicas_and_strategy() {
    // The printed status is the one applied: no controller may fill it in meanwhile.
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    apply(
        &cluster,
        &std::fs::read_to_string(common::seed_manifest("payment-service.yaml")).expect("seed"),
    );
    let output = cluster.ok(&["describe", "deployment", "payment-service"]);
    for expected in [
        "Name: payment-service",
        "Selector: app=payment",
        "Replicas: 6 desired | 0 updated | 0 total | 0 available | 0 unavailable",
        "StrategyType: RollingUpdate",
        "RollingUpdateStrategy: 25% max unavailable, 25% max surge",
        "Image: payment:v2.1",
    ] {
        assert!(
            collapsed_lines(&output).iter().any(|line| line == expected),
            "{expected:?} missing from\n{output}"
        );
    }
}

#[test]
fn describe_node_shows_labels_and_scheduling() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-a\n  labels: {topology.kubernetes.io/zone: zone-1}\n",
    );
    let output = cluster.ok(&["describe", "node", "node-a"]);
    for expected in [
        "Name: node-a",
        "Labels: topology.kubernetes.io/zone=zone-1",
        "Unschedulable: false",
    ] {
        assert!(
            collapsed_lines(&output).iter().any(|line| line == expected),
            "{expected:?} missing from\n{output}"
        );
    }
    cluster.ok(&["cordon", "node-a"]);
    let output = cluster.ok(&["describe", "node", "node-a"]);
    assert!(
        collapsed_lines(&output)
            .iter()
            .any(|line| line == "Unschedulable: true"),
        "{output}"
    );
}

#[test]
fn pod_status_is_pending_before_it_runs() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    assert_eq!(pod_status(&cluster, "p1"), "Pending");
}

#[test]
fn pod_status_is_terminating_while_a_bound_pod_awaits_its_node() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bound}\nspec:\n  nodeName: node-a\n  containers: [{name: c, image: nginx}]\n",
    );
    cluster.ok(&["delete", "pod", "bound", "--wait=false"]);
    // No node agent confirms the deletion, so the pod stays, marked for deletion.
    assert_eq!(pod_status(&cluster, "bound"), "Terminating");
    let timestamp = cluster.ok(&[
        "get",
        "pod",
        "bound",
        "-o",
        "jsonpath={.metadata.deletionTimestamp}",
    ]);
    assert!(!timestamp.is_empty());
}

#[test]
fn pod_status_is_completed_when_it_succeeded() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    patch_status(
        &cluster,
        "p1",
        r#"{"status":{"phase":"Succeeded","containerStatuses":[{"name":"c","image":"nginx","imageID":"","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}"#,
    );
    assert_eq!(pod_status(&cluster, "p1"), "Completed");
}

#[test]
fn pod_status_is_crash_loop_back_off_while_a_container_waits_to_restart() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web", "nginx"));
    patch_status(
        &cluster,
        "p1",
        r#"{"status":{"phase":"Running","containerStatuses":[{"name":"c","image":"nginx","imageID":"","ready":false,"restartCount":4,"state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off 40s"}}}]}}"#,
    );
    let row = rows(&cluster.ok(&["get", "pod", "p1"])).remove(0);
    let cells: Vec<&str> = row.split(' ').collect();
    assert_eq!(cells[..4], ["p1", "0/1", "CrashLoopBackOff", "4"]);
}

#[test]
fn node_status_shows_scheduling_disabled_when_cordoned() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n",
    );
    let node_status = || {
        rows(&cluster.ok(&["get", "node", "node-a"]))[0]
            .split(' ')
            .nth(1)
            .map(str::to_string)
    };
    assert_eq!(node_status().as_deref(), Some("Unknown"));
    cluster.ok(&["cordon", "node-a"]);
    assert_eq!(node_status().as_deref(), Some("Unknown,SchedulingDisabled"));
    // A Ready node reads Ready,SchedulingDisabled.
    cluster.ok(&[
        "patch",
        "node",
        "node-a",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ok"}]}}"#,
    ]);
    eventually("node Ready,SchedulingDisabled", || {
        (node_status().as_deref() == Some("Ready,SchedulingDisabled")).then_some(())
    });
}
