//! Done means #1: the seed's manifests go in with plain `kubectl apply -f` (default validation, so
//! kubectl sends `fieldValidation=Strict`) and report `created`, then `unchanged`, then
//! `configured` after an edit — exactly the lines upstream kubectl prints against Kubernetes.

mod common;

use common::{Cluster, seed_manifest};

/// In the order a user applies them: the namespace before the quota that lives in it.
const SEED_FILES: &[&str] = &[
    "payments-namespace.yaml",
    "critical-service.yaml",
    "payments-quota.yaml",
    "payment-service.yaml",
    "payment-pdb.yaml",
    "payment-pod.yaml",
    "recommendation-service.yaml",
    "resilient-app.yaml",
];

/// The objects the seed files hold, as kubectl names them, in file order.
const SEED_OBJECTS: &[&str] = &[
    "namespace/payments",
    "priorityclass.scheduling.k8s.io/critical-service",
    "resourcequota/payments-quota",
    "limitrange/payments-limits",
    "deployment.apps/payment-service",
    "poddisruptionbudget.policy/payment-pdb",
    "pod/payment-pod",
    "pod/recommendation-service",
    "pod/resilient-app",
];

/// `kubectl apply -f a -f b …` over the given files.
fn apply_files(cluster: &Cluster, files: &[std::path::PathBuf]) -> String {
    let mut args: Vec<String> = vec!["apply".into()];
    for file in files {
        args.push("-f".into());
        args.push(file.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cluster.ok(&args)
}

fn seed_paths() -> Vec<std::path::PathBuf> {
    SEED_FILES.iter().map(|file| seed_manifest(file)).collect()
}

/// The lines kubectl prints, one per object: `<kind.group>/<name> <verb>`.
fn expected_lines(verb_of: impl Fn(&str) -> &'static str) -> String {
    SEED_OBJECTS
        .iter()
        .map(|object| format!("{object} {}\n", verb_of(object)))
        .collect()
}

/// Writes `content` as a manifest file in the cluster's temp dir.
fn write_manifest(cluster: &Cluster, name: &str, content: &str) -> std::path::PathBuf {
    let path = cluster.dir.path().join(name);
    std::fs::write(&path, content).expect("write manifest");
    path
}

fn edited_seed(cluster: &Cluster, file: &str, from: &str, to: &str) -> std::path::PathBuf {
    let original = std::fs::read_to_string(seed_manifest(file)).expect("read seed manifest");
    assert!(
        original.contains(from),
        "{file} no longer contains {from:?}"
    );
    write_manifest(cluster, file, &original.replacen(from, to, 1))
}

#[test]
fn seed_manifests_report_created_on_first_apply() {
    let cluster = Cluster::start();
    let output = apply_files(&cluster, &seed_paths());
    assert_eq!(output, expected_lines(|_| "created"));
    // Everything is really stored, with the server's defaults filled in.
    let names = cluster.ok(&["get", "deployments,pods,pdb", "-o", "name"]);
    for object in [
        "deployment.apps/payment-service",
        "pod/payment-pod",
        "pod/recommendation-service",
        "pod/resilient-app",
    ] {
        assert!(names.contains(object), "{object} missing from {names}");
    }
    let quota = cluster.ok(&[
        "get",
        "quota",
        "payments-quota",
        "-n",
        "payments",
        "-o",
        "jsonpath={.spec.hard.requests\\.memory}",
    ]);
    assert_eq!(quota, "40Gi");
}

#[test]
fn seed_manifests_report_unchanged_on_reapply() {
    let cluster = Cluster::start();
    apply_files(&cluster, &seed_paths());
    let output = apply_files(&cluster, &seed_paths());
    // Upstream kubectl reports `configured` on every re-apply of a policy/v1 PodDisruptionBudget:
    // the PDB's `spec.selector` carries patchStrategy=replace, so kubectl's three-way strategic
    // merge patch always restates the whole selector and is never empty, and kubectl prints
    // `unchanged` only for an empty patch. A real Kubernetes API server sees the same (a known
    // upstream behaviour, see Azure/eno PR #246), so that is what we assert.
    let expected = expected_lines(|object| {
        if object.starts_with("poddisruptionbudget") {
            "configured"
        } else {
            "unchanged"
        }
    });
    assert_eq!(output, expected);
}

#[test]
fn reapplying_an_unchanged_manifest_does_not_bump_the_resource_version() {
    // Without controllers: the Deployment controller's status writes would bump it meanwhile.
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    let deployment = seed_manifest("payment-service.yaml");
    apply_files(&cluster, std::slice::from_ref(&deployment));
    let before = cluster.ok(&[
        "get",
        "deployment",
        "payment-service",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    assert_eq!(
        apply_files(&cluster, std::slice::from_ref(&deployment)),
        "deployment.apps/payment-service unchanged\n"
    );
    let after = cluster.ok(&[
        "get",
        "deployment",
        "payment-service",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    assert_eq!(before, after);
}

#[test]
fn seed_manifests_report_configured_after_an_edit() {
    let cluster = Cluster::start();
    apply_files(&cluster, &seed_paths());
    let edited = vec![
        edited_seed(
            &cluster,
            "payments-namespace.yaml",
            "name: payments",
            "name: payments\n  labels:\n    team: payments",
        ),
        edited_seed(
            &cluster,
            "critical-service.yaml",
            "must not be evicted",
            "must never be evicted",
        ),
        edited_seed(
            &cluster,
            "payments-quota.yaml",
            "pods: \"100\"",
            "pods: \"120\"",
        ),
        edited_seed(
            &cluster,
            "payment-service.yaml",
            "replicas: 6",
            "replicas: 7",
        ),
        edited_seed(
            &cluster,
            "payment-pdb.yaml",
            "minAvailable: 2",
            "minAvailable: 3",
        ),
        edited_seed(
            &cluster,
            "payment-pod.yaml",
            "name: payment-pod",
            "name: payment-pod\n  labels:\n    tier: backend",
        ),
        edited_seed(
            &cluster,
            "recommendation-service.yaml",
            "name: recommendation-service",
            "name: recommendation-service\n  annotations:\n    owner: search",
        ),
        edited_seed(
            &cluster,
            "resilient-app.yaml",
            "name: resilient-app",
            "name: resilient-app\n  labels:\n    tier: backend",
        ),
    ];
    let output = apply_files(&cluster, &edited);
    // The LimitRange shares a file with the edited quota but did not change itself.
    let expected = expected_lines(|object| {
        if object == "limitrange/payments-limits" {
            "unchanged"
        } else {
            "configured"
        }
    });
    assert_eq!(output, expected);
}

#[test]
fn an_edited_deployment_is_stored_with_the_new_spec_and_a_new_generation() {
    let cluster = Cluster::start();
    apply_files(&cluster, &[seed_manifest("payment-service.yaml")]);
    let edited = edited_seed(
        &cluster,
        "payment-service.yaml",
        "replicas: 6",
        "replicas: 7",
    );
    assert_eq!(
        apply_files(&cluster, &[edited]),
        "deployment.apps/payment-service configured\n"
    );
    let stored = cluster.ok(&[
        "get",
        "deployment",
        "payment-service",
        "-o",
        "jsonpath={.spec.replicas} {.metadata.generation} {.spec.template.spec.topologySpreadConstraints[0].topologyKey}",
    ]);
    assert_eq!(stored, "7 2 topology.kubernetes.io/zone");
}

#[test]
fn removing_a_field_from_the_manifest_removes_it_from_the_object() {
    let cluster = Cluster::start();
    let labelled = edited_seed(
        &cluster,
        "payment-pod.yaml",
        "name: payment-pod",
        "name: payment-pod\n  labels:\n    tier: backend",
    );
    apply_files(&cluster, &[labelled]);
    assert_eq!(
        cluster.ok(&[
            "get",
            "pod",
            "payment-pod",
            "-o",
            "jsonpath={.metadata.labels.tier}"
        ]),
        "backend"
    );
    assert_eq!(
        apply_files(&cluster, &[seed_manifest("payment-pod.yaml")]),
        "pod/payment-pod configured\n"
    );
    assert_eq!(
        cluster.ok(&[
            "get",
            "pod",
            "payment-pod",
            "-o",
            "jsonpath={.metadata.labels}"
        ]),
        ""
    );
}

#[test]
fn default_validation_rejects_an_unknown_field_naming_it() {
    let cluster = Cluster::start();
    let typo = edited_seed(
        &cluster,
        "payment-service.yaml",
        "replicas: 6",
        "replica: 6",
    );
    let output = cluster.kubectl(&["apply", "-f", &typo.display().to_string()]);
    assert!(!output.status.success(), "a typo went in");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Error from server (BadRequest)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"strict decoding error: unknown field "spec.replica""#),
        "{stderr}"
    );
    let listed = cluster.ok(&["get", "deployments", "-o", "name"]);
    assert_eq!(listed, "", "nothing may be stored by a rejected apply");
}

#[test]
fn apply_from_stdin_reports_created_then_unchanged() {
    let cluster = Cluster::start();
    let manifest = std::fs::read_to_string(seed_manifest("critical-service.yaml"))
        .expect("read seed manifest");
    for verb in ["created", "unchanged"] {
        let output = cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("priorityclass.scheduling.k8s.io/critical-service {verb}\n")
        );
    }
}
