//! What defaulting fills in, kind by kind, and that it is idempotent on every sample manifest.

use serde_json::{Value, json};

use super::{apply_defaults, carry_over_on_update};
use crate::validation::tests::{other_manifests, resource, seed_manifests};

fn defaulted(group: &str, kind: &str, manifest: Value) -> Value {
    let mut object = manifest;
    apply_defaults(resource(group, kind), &mut object);
    object
}

#[test]
fn defaults_are_idempotent() {
    for (resource, manifest) in seed_manifests().into_iter().chain(other_manifests()) {
        let mut once = manifest.clone();
        apply_defaults(resource, &mut once);
        let mut twice = once.clone();
        apply_defaults(resource, &mut twice);
        assert_eq!(once, twice, "{}", manifest["metadata"]["name"]);
    }
}

#[test]
fn pods_get_spec_and_container_defaults() {
    let pod = defaulted(
        "",
        "Pod",
        json!({"spec": {"containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "payment:v2.1"}
        ]}}),
    );
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        spec["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );
    assert_eq!(spec["containers"][0]["terminationMessagePolicy"], "File");
    assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
}

#[test]
fn user_values_are_kept() {
    let pod = defaulted(
        "",
        "Pod",
        json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
        "enableServiceLinks": false, "containers": [{"name": "a", "image": "nginx", "imagePullPolicy": "Never"}]}}),
    );
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 0);
    assert_eq!(pod["spec"]["enableServiceLinks"], false);
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
}

#[test]
fn probes_get_thresholds_and_http_scheme() {
    let pod = defaulted(
        "",
        "Pod",
        json!({"spec": {"containers": [{"name": "a", "image": "i",
        "livenessProbe": {"httpGet": {"port": 8080}, "failureThreshold": 5}}]}}),
    );
    let probe = &pod["spec"]["containers"][0]["livenessProbe"];
    assert_eq!(probe["timeoutSeconds"], 1);
    assert_eq!(probe["periodSeconds"], 10);
    assert_eq!(probe["successThreshold"], 1);
    assert_eq!(probe["failureThreshold"], 5);
    assert_eq!(probe["httpGet"]["scheme"], "HTTP");
    assert_eq!(probe["httpGet"]["path"], "/");
}

#[test]
fn pod_requests_default_to_limits_but_templates_do_not() {
    let container = json!({"name": "a", "image": "i", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}});
    let pod = defaulted(
        "",
        "Pod",
        json!({"spec": {"containers": [container.clone()]}}),
    );
    assert_eq!(
        pod["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "500m", "memory": "1Gi"})
    );
    let deployment = defaulted(
        "apps",
        "Deployment",
        json!({"spec": {"template": {"spec": {"containers": [container]}}}}),
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"],
        json!({"cpu": "500m"})
    );
    assert!(
        deployment["spec"]["template"]["spec"]
            .get("enableServiceLinks")
            .is_none()
    );
}

#[test]
fn host_network_pods_publish_container_ports() {
    let pod = defaulted(
        "",
        "Pod",
        json!({"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "i", "ports": [{"containerPort": 9100}]}]}}),
    );
    assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 9100);
}

#[test]
fn volumes_get_sources_and_modes() {
    let pod = defaulted(
        "",
        "Pod",
        json!({"spec": {"containers": [], "volumes": [
            {"name": "scratch"}, {"name": "cfg", "configMap": {"name": "settings"}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
        ]}}),
    );
    let volumes = &pod["spec"]["volumes"];
    assert_eq!(volumes[0]["emptyDir"], json!({}));
    assert_eq!(volumes[1]["configMap"]["defaultMode"], 420);
    assert_eq!(
        volumes[2]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3600
    );
}

#[test]
fn deployments_get_rollout_defaults_and_template_defaults() {
    let deployment = defaulted(
        "apps",
        "Deployment",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i:1"}]}}}}),
    );
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let recreate = defaulted(
        "apps",
        "Deployment",
        json!({"spec": {"strategy": {"type": "Recreate"}}}),
    );
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn replica_sets_and_daemon_sets_get_their_defaults() {
    assert_eq!(
        defaulted("apps", "ReplicaSet", json!({}))["spec"]["replicas"],
        1
    );
    let daemon_set = defaulted("apps", "DaemonSet", json!({}));
    assert_eq!(
        daemon_set["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(daemon_set["spec"]["revisionHistoryLimit"], 10);
}

#[test]
fn jobs_get_counts_policies_and_a_generated_selector() {
    let job = defaulted(
        "batch",
        "Job",
        json!({"metadata": {"name": "pi", "uid": "u1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}}),
    );
    let spec = &job["spec"];
    assert_eq!(
        (
            spec["completions"].clone(),
            spec["parallelism"].clone(),
            spec["backoffLimit"].clone()
        ),
        (json!(1), json!(1), json!(6))
    );
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(
        spec["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}})
    );
    assert_eq!(
        spec["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "pi"
    );
    assert_eq!(job["metadata"]["labels"]["job-name"], "pi");
    let parallel = defaulted("batch", "Job", json!({"spec": {"parallelism": 3}}));
    assert!(parallel["spec"].get("completions").is_none());
    let manual = defaulted(
        "batch",
        "Job",
        json!({"metadata": {"uid": "u1"}, "spec": {"manualSelector": true}}),
    );
    assert!(manual["spec"].get("selector").is_none());
}

#[test]
fn cron_jobs_get_history_limits_and_template_defaults() {
    let cron_job = defaulted(
        "batch",
        "CronJob",
        json!({"spec": {"schedule": "* * * * *",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}}}}),
    );
    let spec = &cron_job["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Allow");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["successfulJobsHistoryLimit"], 3);
    assert_eq!(spec["failedJobsHistoryLimit"], 1);
    assert_eq!(
        spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
        "ClusterFirst"
    );
    assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
}

#[test]
fn services_get_type_affinity_ports_and_families() {
    let service = defaulted(
        "",
        "Service",
        json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}),
    );
    let spec = &service["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(
        spec["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert!(spec.get("externalTrafficPolicy").is_none());
    let node_port = defaulted(
        "",
        "Service",
        json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
    );
    assert_eq!(node_port["spec"]["externalTrafficPolicy"], "Cluster");
    let headless = defaulted("", "Service", json!({"spec": {"clusterIP": "None"}}));
    assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
    let client_ip = defaulted(
        "",
        "Service",
        json!({"spec": {"sessionAffinity": "ClientIP"}}),
    );
    assert_eq!(
        client_ip["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
        10800
    );
}

#[test]
fn namespaces_get_label_finalizer_and_phase() {
    let namespace = defaulted("", "Namespace", json!({"metadata": {"name": "payments"}}));
    assert_eq!(
        namespace["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "payments"
    );
    assert_eq!(namespace["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(namespace["status"]["phase"], "Active");
}

#[test]
fn small_kinds_get_their_defaults() {
    assert_eq!(defaulted("", "Secret", json!({}))["type"], "Opaque");
    assert_eq!(
        defaulted("scheduling.k8s.io", "PriorityClass", json!({"value": 1}))["preemptionPolicy"],
        "PreemptLowerPriority"
    );
    let limits = defaulted(
        "",
        "LimitRange",
        json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "4"}, "min": {"memory": "64Mi"}}]}}),
    );
    assert_eq!(limits["spec"]["limits"][0]["default"], json!({"cpu": "4"}));
    assert_eq!(
        limits["spec"]["limits"][0]["defaultRequest"],
        json!({"cpu": "4", "memory": "64Mi"})
    );
    let node = defaulted("", "Node", json!({"status": {"capacity": {"cpu": "4"}}}));
    assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));
    let pdb = json!({"spec": {"minAvailable": 2}});
    assert_eq!(defaulted("policy", "PodDisruptionBudget", pdb.clone()), pdb);
}

#[test]
fn non_objects_are_left_alone() {
    assert_eq!(defaulted("", "Pod", json!([1, 2])), json!([1, 2]));
    assert_eq!(
        defaulted("", "Pod", json!({"spec": "nope"})),
        json!({"spec": "nope"})
    );
}

#[test]
fn service_updates_keep_allocated_values() {
    let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"],
        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"],
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}});
    let mut new = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
    carry_over_on_update(resource("", "Service"), &mut new, &old);
    assert_eq!(new["spec"]["clusterIP"], "10.96.0.7");
    assert_eq!(new["spec"]["clusterIPs"], json!(["10.96.0.7"]));
    assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
    assert!(new["spec"]["ports"][1].get("nodePort").is_none());
    let mut moved = json!({"spec": {"clusterIP": "10.96.0.8"}});
    carry_over_on_update(resource("", "Service"), &mut moved, &old);
    assert_eq!(moved["spec"]["clusterIP"], "10.96.0.8");
}

#[test]
fn namespace_updates_keep_finalizers() {
    let old = json!({"spec": {"finalizers": ["kubernetes"]}});
    let mut new = json!({"metadata": {"name": "n"}, "spec": {"finalizers": []}});
    carry_over_on_update(resource("", "Namespace"), &mut new, &old);
    assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
}

#[test]
fn updates_keep_metadata_system_fields() {
    let old = json!({"metadata": {"name": "c", "uid": "u1", "creationTimestamp": "2024-01-01T00:00:00Z", "generation": 4}});
    let mut new = json!({"metadata": {"name": "c", "creationTimestamp": "2030-01-01T00:00:00Z"}});
    carry_over_on_update(resource("", "ConfigMap"), &mut new, &old);
    assert_eq!(new["metadata"], old["metadata"]);
}
