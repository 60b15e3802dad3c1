//! Done means #3: the everyday kubectl commands behave as against Kubernetes — their output
//! lines, their errors and their effect on the stored objects.

mod common;

use common::{Cluster, apply, http_request, seed_manifest};

fn apply_seed(cluster: &Cluster, file: &str) {
    apply(
        cluster,
        &std::fs::read_to_string(seed_manifest(file)).expect("read seed manifest"),
    );
}

fn pod_manifest(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  containers: [{{name: c, image: nginx}}]\n"
    )
}

const BOUND_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: bound}\nspec:\n  nodeName: node-a\n  containers: [{name: c, image: nginx}]\n";

/// Runs kubectl expecting failure; returns stderr.
fn fails(cluster: &Cluster, args: &[&str]) -> String {
    let output = cluster.kubectl(args);
    assert!(
        !output.status.success(),
        "kubectl {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn jsonpath(cluster: &Cluster, object: &[&str], path: &str) -> String {
    let template = format!("jsonpath={path}");
    let mut args = vec!["get"];
    args.extend_from_slice(object);
    args.extend_from_slice(&["-o", &template]);
    cluster.ok(&args)
}

fn not_found(cluster: &Cluster, kind: &str, name: &str) -> bool {
    let output = cluster.kubectl(&["get", kind, name]);
    !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("(NotFound)")
}

#[test]
fn scale_sets_replicas_through_the_scale_subresource() {
    let cluster = Cluster::start();
    apply_seed(&cluster, "payment-service.yaml");
    assert_eq!(
        cluster.ok(&["scale", "deployment", "payment-service", "--replicas=3"]),
        "deployment.apps/payment-service scaled\n"
    );
    assert_eq!(
        jsonpath(
            &cluster,
            &["deploy", "payment-service"],
            "{.spec.replicas} {.metadata.generation}"
        ),
        "3 2"
    );
    let stderr = fails(
        &cluster,
        &[
            "scale",
            "deployment",
            "payment-service",
            "--current-replicas=5",
            "--replicas=1",
        ],
    );
    assert!(
        stderr.contains("Expected replicas to be 5, was 3"),
        "{stderr}"
    );
    assert_eq!(
        jsonpath(&cluster, &["deploy", "payment-service"], "{.spec.replicas}"),
        "3"
    );
}

#[test]
fn cordon_and_uncordon_toggle_unschedulable() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n",
    );
    assert_eq!(cluster.ok(&["cordon", "node-a"]), "node/node-a cordoned\n");
    assert_eq!(
        jsonpath(&cluster, &["node", "node-a"], "{.spec.unschedulable}"),
        "true"
    );
    assert_eq!(
        cluster.ok(&["cordon", "node-a"]),
        "node/node-a already cordoned\n"
    );
    assert_eq!(
        cluster.ok(&["uncordon", "node-a"]),
        "node/node-a uncordoned\n"
    );
    assert_eq!(
        jsonpath(&cluster, &["node", "node-a"], "{.spec.unschedulable}"),
        ""
    );
    assert_eq!(
        cluster.ok(&["uncordon", "node-a"]),
        "node/node-a already uncordoned\n"
    );
}

#[test]
fn label_adds_refuses_to_overwrite_silently_and_removes() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web"));
    assert_eq!(
        cluster.ok(&["label", "pod", "p1", "tier=front"]),
        "pod/p1 labeled\n"
    );
    let stderr = fails(&cluster, &["label", "pod", "p1", "tier=back"]);
    assert!(
        stderr.contains("'tier' already has a value (front), and --overwrite is false"),
        "{stderr}"
    );
    assert_eq!(
        cluster.ok(&["label", "pod", "p1", "tier=back", "--overwrite"]),
        "pod/p1 labeled\n"
    );
    assert_eq!(
        jsonpath(&cluster, &["pod", "p1"], "{.metadata.labels.tier}"),
        "back"
    );
    assert_eq!(
        cluster.ok(&["label", "pod", "p1", "tier-"]),
        "pod/p1 unlabeled\n"
    );
    assert_eq!(
        jsonpath(&cluster, &["pod", "p1"], "{.metadata.labels}"),
        r#"{"app":"web"}"#
    );
    let stderr = fails(&cluster, &["label", "pod", "p1", "bad key=x"]);
    // kubectl checks only the value; the server rejects the key with upstream's message.
    assert!(
        stderr.contains(r#"The Pod "p1" is invalid: metadata.labels: Invalid value: "bad key""#),
        "{stderr}"
    );
}

#[test]
fn annotate_adds_overwrites_and_removes() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web"));
    assert_eq!(
        cluster.ok(&["annotate", "pod", "p1", "owner=team-a"]),
        "pod/p1 annotated\n"
    );
    let stderr = fails(&cluster, &["annotate", "pod", "p1", "owner=team-b"]);
    assert!(stderr.contains("--overwrite is false"), "{stderr}");
    cluster.ok(&["annotate", "pod", "p1", "owner=team-b", "--overwrite"]);
    assert_eq!(
        jsonpath(&cluster, &["pod", "p1"], "{.metadata.annotations.owner}"),
        "team-b"
    );
    cluster.ok(&["annotate", "pod", "p1", "owner-"]);
    assert_eq!(
        jsonpath(&cluster, &["pod", "p1"], "{.metadata.annotations.owner}"),
        ""
    );
}

#[test]
fn strategic_merge_patch_merges_containers_by_name() {
    let cluster = Cluster::start();
    apply_seed(&cluster, "payment-service.yaml");
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"payment","image":"payment:v2.2"}]}}}}"#;
    assert_eq!(
        cluster.ok(&["patch", "deployment", "payment-service", "-p", patch]),
        "deployment.apps/payment-service patched\n"
    );
    // The container keeps what the patch did not mention.
    let container = "{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].resources.requests.cpu}";
    assert_eq!(
        jsonpath(&cluster, &["deploy", "payment-service"], container),
        "payment:v2.2 250m"
    );
    assert_eq!(
        cluster.ok(&["patch", "deployment", "payment-service", "-p", patch]),
        "deployment.apps/payment-service patched (no change)\n"
    );
    let delete = r#"{"spec":{"template":{"spec":{"topologySpreadConstraints":[{"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","$patch":"delete"}]}}}}"#;
    cluster.ok(&[
        "patch",
        "deployment",
        "payment-service",
        "--type=strategic",
        "-p",
        delete,
    ]);
    assert_eq!(
        jsonpath(
            &cluster,
            &["deploy", "payment-service"],
            "{.spec.template.spec.topologySpreadConstraints[*].topologyKey}"
        ),
        ""
    );
}

#[test]
fn merge_patch_replaces_lists_whole() {
    let cluster = Cluster::start();
    apply_seed(&cluster, "payment-service.yaml");
    let patch = r#"{"metadata":{"labels":{"team":"payments"}},"spec":{"template":{"spec":{"containers":[{"name":"payment","image":"payment:v3"}]}}}}"#;
    assert_eq!(
        cluster.ok(&[
            "patch",
            "deployment",
            "payment-service",
            "--type=merge",
            "-p",
            patch
        ]),
        "deployment.apps/payment-service patched\n"
    );
    let fields = "{.metadata.labels.team} {.spec.template.spec.containers[0].image} [{.spec.template.spec.containers[0].resources.requests}]";
    assert_eq!(
        jsonpath(&cluster, &["deploy", "payment-service"], fields),
        "payments payment:v3 []"
    );
}

#[test]
fn json_patch_applies_operations_in_order_and_fails_whole() {
    let cluster = Cluster::start();
    apply_seed(&cluster, "payment-service.yaml");
    let patch = r#"[{"op":"replace","path":"/spec/replicas","value":2},{"op":"add","path":"/metadata/labels","value":{"team":"payments"}}]"#;
    assert_eq!(
        cluster.ok(&[
            "patch",
            "deployment",
            "payment-service",
            "--type=json",
            "-p",
            patch
        ]),
        "deployment.apps/payment-service patched\n"
    );
    assert_eq!(
        jsonpath(
            &cluster,
            &["deploy", "payment-service"],
            "{.spec.replicas} {.metadata.labels.team}"
        ),
        "2 payments"
    );
    // A failing `test` operation rejects the whole patch.
    let guarded = r#"[{"op":"replace","path":"/spec/replicas","value":9},{"op":"test","path":"/spec/replicas","value":4}]"#;
    let stderr = fails(
        &cluster,
        &[
            "patch",
            "deployment",
            "payment-service",
            "--type=json",
            "-p",
            guarded,
        ],
    );
    // Upstream answers a patch that does not apply with 422 Invalid.
    assert!(stderr.starts_with("The request is invalid"), "{stderr}");
    assert_eq!(
        jsonpath(&cluster, &["deploy", "payment-service"], "{.spec.replicas}"),
        "2"
    );
}

#[test]
fn replace_stores_the_whole_object_and_refuses_a_stale_one() {
    // Without controllers: a Deployment controller writing status would make the read stale.
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    apply_seed(&cluster, "payment-service.yaml");
    let live = cluster.ok(&["get", "deployment", "payment-service", "-o", "yaml"]);
    let edited = live.replacen("  replicas: 6", "  replicas: 4", 1);
    let output = cluster.kubectl_stdin(&["replace", "-f", "-"], &edited);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "deployment.apps/payment-service replaced\n"
    );
    assert_eq!(
        jsonpath(&cluster, &["deploy", "payment-service"], "{.spec.replicas}"),
        "4"
    );
    // The first copy carries the old resourceVersion: optimistic concurrency refuses it.
    let stale = live.replacen("  replicas: 6", "  replicas: 5", 1);
    let output = cluster.kubectl_stdin(&["replace", "-f", "-"], &stale);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"Operation cannot be fulfilled on deployments.apps "payment-service": the object has been modified; please apply your changes to the latest version and try again"#),
        "{stderr}"
    );
    assert_eq!(
        jsonpath(&cluster, &["deploy", "payment-service"], "{.spec.replicas}"),
        "4"
    );
}

#[test]
fn delete_waits_until_an_unbound_pod_is_gone() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("p1", "app: web"));
    assert_eq!(cluster.ok(&["delete", "pod", "p1"]), "pod \"p1\" deleted\n");
    assert!(not_found(&cluster, "pod", "p1"));
    let stderr = fails(&cluster, &["delete", "pod", "p1"]);
    assert!(
        stderr.contains(r#"Error from server (NotFound): pods "p1" not found"#),
        "{stderr}"
    );
}

#[test]
fn delete_without_wait_returns_while_a_bound_pod_stays_terminating() {
    let cluster = Cluster::start();
    apply(&cluster, BOUND_POD);
    assert_eq!(
        cluster.ok(&["delete", "pod", "bound", "--wait=false"]),
        "pod \"bound\" deleted\n"
    );
    // Nothing confirms the termination (no node agent), so the pod stays with its grace period.
    let fields = jsonpath(
        &cluster,
        &["pod", "bound"],
        "{.metadata.deletionGracePeriodSeconds} {.metadata.deletionTimestamp}",
    );
    let (grace, timestamp) = fields.split_once(' ').expect("two fields");
    assert_eq!(grace, "30");
    assert!(!timestamp.is_empty());
}

#[test]
fn delete_with_wait_times_out_on_a_pod_nobody_terminates() {
    let cluster = Cluster::start();
    apply(&cluster, BOUND_POD);
    let stderr = fails(&cluster, &["delete", "pod", "bound", "--timeout=1s"]);
    assert!(
        stderr.contains("timed out waiting for the condition"),
        "{stderr}"
    );
    assert!(!not_found(&cluster, "pod", "bound"));
}

#[test]
fn force_delete_removes_a_terminating_bound_pod_at_once() {
    let cluster = Cluster::start();
    apply(&cluster, BOUND_POD);
    cluster.ok(&["delete", "pod", "bound", "--wait=false"]);
    let output = cluster.kubectl(&["delete", "pod", "bound", "--grace-period=0", "--force"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "pod \"bound\" force deleted\n"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("Immediate deletion does not wait for confirmation")
    );
    assert!(not_found(&cluster, "pod", "bound"));
}

#[test]
fn diff_exits_one_with_a_diff_and_zero_without() {
    let cluster = Cluster::start();
    apply_seed(&cluster, "payment-service.yaml");
    let seed = seed_manifest("payment-service.yaml").display().to_string();
    let same = cluster.kubectl(&["diff", "-f", &seed]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&same.stdout), "");
    let edited = cluster.dir.path().join("edited.yaml");
    let manifest = std::fs::read_to_string(&seed).expect("read seed").replacen(
        "replicas: 6",
        "replicas: 7",
        1,
    );
    std::fs::write(&edited, manifest).expect("write manifest");
    let changed = cluster.kubectl(&["diff", "-f", &edited.display().to_string()]);
    assert_eq!(
        changed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let diff = String::from_utf8_lossy(&changed.stdout);
    let lines: Vec<&str> = diff.lines().collect();
    assert!(
        lines.contains(&"-  replicas: 6") && lines.contains(&"+  replicas: 7"),
        "{diff}"
    );
    // Upstream's dry run bumps the generation for a spec change, so the diff shows it too.
    assert!(
        lines.contains(&"-  generation: 1") && lines.contains(&"+  generation: 2"),
        "{diff}"
    );
    // Diffing stores nothing.
    assert_eq!(
        jsonpath(
            &cluster,
            &["deploy", "payment-service"],
            "{.spec.replicas} {.metadata.generation}"
        ),
        "6 1"
    );
}

#[test]
fn server_side_apply_conflicts_with_another_manager_until_forced() {
    let cluster = Cluster::start();
    let first = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";
    let output = cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], first);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "configmap/settings serverside-applied\n"
    );
    let second = first.replace("fast", "safe");
    let output = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=operator",
            "-f",
            "-",
        ],
        &second,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .data.mode"#),
        "{stderr}"
    );
    assert!(stderr.contains("--force-conflicts"), "{stderr}");
    assert_eq!(
        jsonpath(&cluster, &["cm", "settings"], "{.data.mode}"),
        "fast"
    );
    let output = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=operator",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &second,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        jsonpath(&cluster, &["cm", "settings"], "{.data.mode}"),
        "safe"
    );
    let managers = jsonpath(
        &cluster,
        &["cm", "settings"],
        "{range .metadata.managedFields[*]}{.manager}/{.operation} {end}",
    );
    assert_eq!(
        managers.trim_end(),
        "operator/Apply",
        "the forced apply takes the field from kubectl"
    );
}

#[test]
fn server_side_apply_shares_fields_applied_with_the_same_value() {
    let cluster = Cluster::start();
    let first = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";
    cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], first);
    let output = cluster.kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--field-manager=operator",
            "-f",
            "-",
        ],
        first,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let managers = jsonpath(
        &cluster,
        &["cm", "settings"],
        "{range .metadata.managedFields[*]}{.manager} {end}",
    );
    assert_eq!(managers.trim_end(), "kubectl operator");
}

#[test]
fn apply_dry_run_server_stores_nothing() {
    // Without controllers: the Deployment controller's status writes would bump the
    // resourceVersion this test compares.
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    let seed = seed_manifest("payment-service.yaml").display().to_string();
    assert_eq!(
        cluster.ok(&["apply", "--dry-run=server", "-f", &seed]),
        "deployment.apps/payment-service created (server dry run)\n"
    );
    assert!(not_found(&cluster, "deployment", "payment-service"));
    cluster.ok(&["apply", "-f", &seed]);
    let before = jsonpath(
        &cluster,
        &["deploy", "payment-service"],
        "{.metadata.resourceVersion}",
    );
    let dry = cluster.ok(&[
        "scale",
        "deploy",
        "payment-service",
        "--replicas=2",
        "--dry-run=server",
    ]);
    assert_eq!(
        dry,
        "deployment.apps/payment-service scaled (server dry run)\n"
    );
    let patched = cluster.ok(&[
        "patch",
        "deploy",
        "payment-service",
        "-p",
        r#"{"spec":{"replicas":3}}"#,
        "--dry-run=server",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(
        patched, "3",
        "a dry run answers with the object as it would be"
    );
    assert_eq!(
        jsonpath(
            &cluster,
            &["deploy", "payment-service"],
            "{.spec.replicas} {.metadata.resourceVersion}"
        ),
        format!("6 {before}")
    );
}

#[test]
fn explain_describes_a_nested_field_from_the_openapi_schema() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["explain", "deployment.spec.strategy"]);
    let lines: Vec<&str> = output.lines().collect();
    for expected in [
        "GROUP:      apps",
        "KIND:       Deployment",
        "VERSION:    v1",
        "FIELD: strategy <DeploymentStrategy>",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected:?} missing from\n{output}"
        );
    }
    assert!(
        lines.contains(&"  rollingUpdate\t<RollingUpdateDeployment>"),
        "{output}"
    );
    assert!(lines.contains(&"  type\t<string>"), "{output}");
    let pods = cluster.ok(&["explain", "pods.spec.containers.livenessProbe.httpGet.port"]);
    assert!(pods.contains("FIELD: port <IntOrString>"), "{pods}");
    let stderr = fails(&cluster, &["explain", "deployment.spec.nope"]);
    assert!(
        stderr.contains(r#"field "nope" does not exist"#),
        "{stderr}"
    );
}

#[test]
fn api_resources_lists_short_names_scope_and_kinds() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["api-resources"]);
    let lines: Vec<String> = output
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines[0], "NAME SHORTNAMES APIVERSION NAMESPACED KIND");
    for expected in [
        "pods po v1 true Pod",
        "namespaces ns v1 false Namespace",
        "nodes no v1 false Node",
        "services svc v1 true Service",
        "configmaps cm v1 true ConfigMap",
        "resourcequotas quota v1 true ResourceQuota",
        "limitranges limits v1 true LimitRange",
        "events ev v1 true Event",
        "deployments deploy apps/v1 true Deployment",
        "replicasets rs apps/v1 true ReplicaSet",
        "daemonsets ds apps/v1 true DaemonSet",
        "cronjobs cj batch/v1 true CronJob",
        "jobs batch/v1 true Job",
        "leases coordination.k8s.io/v1 true Lease",
        "poddisruptionbudgets pdb policy/v1 true PodDisruptionBudget",
        "priorityclasses pc scheduling.k8s.io/v1 false PriorityClass",
    ] {
        assert!(
            lines.iter().any(|line| line == expected),
            "{expected:?} missing from\n{output}"
        );
    }
    let cluster_scoped = cluster.ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert_eq!(
        cluster_scoped,
        "namespaces\nnodes\npriorityclasses.scheduling.k8s.io\n"
    );
    let apps = cluster.ok(&["api-resources", "--api-group=apps", "-o", "name"]);
    assert_eq!(
        apps,
        "controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\n"
    );
    let wide = cluster.ok(&["api-resources", "-o", "wide"]);
    let pods = wide
        .lines()
        .find(|line| line.starts_with("pods "))
        .expect("pods row");
    let cells: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(
        cells[5..],
        [
            "create,delete,deletecollection,get,list,patch,update,watch",
            "all"
        ]
    );
    // Short names resolve in every command.
    apply(
        &cluster,
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n",
    );
    assert_eq!(cluster.ok(&["get", "no", "-o", "name"]), "node/node-a\n");
}

#[test]
fn delete_all_removes_every_pod_in_the_namespace_only() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
    );
    apply(&cluster, &pod_manifest("p1", "app: web"));
    apply(&cluster, &pod_manifest("p2", "app: api"));
    apply(
        &cluster,
        &pod_manifest("p3", "app: web").replace("  name: p3\n", "  name: p3\n  namespace: other\n"),
    );
    assert_eq!(
        cluster.ok(&["delete", "pods", "--all"]),
        "pod \"p1\" deleted\npod \"p2\" deleted\n"
    );
    let output = cluster.kubectl(&["get", "pods"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "No resources found in default namespace.\n"
    );
    assert_eq!(
        cluster.ok(&["get", "pods", "-n", "other", "-o", "name"]),
        "pod/p3\n"
    );
}

#[test]
fn delete_by_label_selector_removes_only_matching_pods() {
    let cluster = Cluster::start();
    apply(&cluster, &pod_manifest("w1", "app: web"));
    apply(&cluster, &pod_manifest("w2", "app: web"));
    apply(&cluster, &pod_manifest("a1", "app: api"));
    assert_eq!(
        cluster.ok(&["delete", "pods", "-l", "app=web"]),
        "pod \"w1\" deleted\npod \"w2\" deleted\n"
    );
    assert_eq!(cluster.ok(&["get", "pods", "-o", "name"]), "pod/a1\n");
}

#[test]
fn deletecollection_with_a_selector_deletes_matching_objects() {
    // kubectl itself deletes one by one; controllers and clients use the collection DELETE.
    let cluster = Cluster::start();
    for (name, group) in [("c1", "a"), ("c2", "a"), ("c3", "b")] {
        apply(
            &cluster,
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels: {{group: {group}}}\n"
            ),
        );
    }
    let (code, body) = http_request(
        cluster.port,
        "DELETE",
        "/api/v1/namespaces/default/configmaps?labelSelector=group%3Da",
        &[],
        "",
    )
    .expect("collection delete");
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("a list");
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        cluster.ok(&["get", "cm", "-l", "group", "-o", "name"]),
        "configmap/c3\n"
    );
}

#[test]
fn a_deleted_namespace_is_terminating_and_refuses_new_content() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n",
    );
    // Content with a finalizer holds the namespace in Terminating whatever cleans namespaces up.
    apply(
        &cluster,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: doomed\n  finalizers: [example.com/hold]\n",
    );
    assert_eq!(
        cluster.ok(&["delete", "namespace", "doomed", "--wait=false"]),
        "namespace \"doomed\" deleted\n"
    );
    let row = cluster.ok(&["get", "namespace", "doomed", "--no-headers"]);
    assert_eq!(row.split_whitespace().nth(1), Some("Terminating"), "{row}");
    assert_eq!(
        jsonpath(&cluster, &["namespace", "doomed"], "{.status.phase}"),
        "Terminating"
    );
    let late = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: doomed}\n";
    let output = cluster.kubectl_stdin(&["apply", "-f", "-"], late);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Error from server (Forbidden)"), "{stderr}");
    assert!(
        stderr.contains(r#"configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated"#),
        "{stderr}"
    );
    let stderr = fails(&cluster, &["get", "cm", "late", "-n", "doomed"]);
    assert!(stderr.contains("(NotFound)"), "{stderr}");
}

#[test]
fn server_side_apply_of_the_same_config_stores_nothing() {
    let cluster = Cluster::start();
    let config =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";
    cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], config);
    let before = jsonpath(&cluster, &["cm", "settings"], "{.metadata.resourceVersion}");
    let output = cluster.kubectl_stdin(&["apply", "--server-side", "-f", "-"], config);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        jsonpath(&cluster, &["cm", "settings"], "{.metadata.resourceVersion}"),
        before
    );
}
