//! `kubectl create <kind>` subcommands send protobuf bodies; Bulwark decodes the core kinds.

mod common;

use common::{Cluster, http_request};

#[test]
fn kubectl_create_namespace_creates_it() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "namespace", "payments"]);
    assert_eq!(output.trim(), "namespace/payments created");
    let phase = cluster.ok(&[
        "get",
        "namespace",
        "payments",
        "-o",
        "jsonpath={.metadata.name} {.status.phase}",
    ]);
    assert_eq!(phase, "payments Active");
}

#[test]
fn kubectl_create_configmap_from_literal_stores_the_data() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "configmap", "c", "--from-literal=a=b"]);
    assert_eq!(output.trim(), "configmap/c created");
    let data = cluster.ok(&["get", "configmap", "c", "-o", "jsonpath={.data}"]);
    assert_eq!(data, r#"{"a":"b"}"#);
}

#[test]
fn kubectl_create_secret_generic_stores_base64_data() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "secret", "generic", "s", "--from-literal=p=q"]);
    assert_eq!(output.trim(), "secret/s created");
    let secret = cluster.ok(&["get", "secret", "s", "-o", "jsonpath={.type} {.data.p}"]);
    assert_eq!(secret, "Opaque cQ==");
}

#[test]
fn kubectl_create_serviceaccount_creates_it() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "serviceaccount", "robot"]);
    assert_eq!(output.trim(), "serviceaccount/robot created");
    let name = cluster.ok(&[
        "get",
        "serviceaccount",
        "robot",
        "-o",
        "jsonpath={.metadata.namespace}/{.metadata.name}",
    ]);
    assert_eq!(name, "default/robot");
}

#[test]
fn kubectl_create_priorityclass_stores_the_value() {
    let cluster = Cluster::start();
    let output = cluster.ok(&[
        "create",
        "priorityclass",
        "high",
        "--value=1000",
        "--description=important",
    ]);
    assert_eq!(
        output.trim(),
        "priorityclass.scheduling.k8s.io/high created"
    );
    let class = cluster.ok(&[
        "get",
        "priorityclass",
        "high",
        "-o",
        "jsonpath={.value} {.description} {.preemptionPolicy}",
    ]);
    assert_eq!(class, "1000 important PreemptLowerPriority");
}

#[test]
fn kubectl_create_quota_stores_the_hard_limits() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "quota", "q", "--hard=pods=10,cpu=2"]);
    assert_eq!(output.trim(), "resourcequota/q created");
    let hard = cluster.ok(&[
        "get",
        "resourcequota",
        "q",
        "-o",
        "jsonpath={.spec.hard.pods} {.spec.hard.cpu}",
    ]);
    assert_eq!(hard, "10 2");
}

#[test]
fn kubectl_create_pdb_stores_min_available_and_selector() {
    let cluster = Cluster::start();
    let output = cluster.ok(&[
        "create",
        "pdb",
        "p",
        "--selector=app=x",
        "--min-available=1",
    ]);
    assert_eq!(output.trim(), "poddisruptionbudget.policy/p created");
    let spec = cluster.ok(&[
        "get",
        "pdb",
        "p",
        "-o",
        "jsonpath={.spec.minAvailable} {.spec.selector.matchLabels.app}",
    ]);
    assert_eq!(spec, "1 x");
}

#[test]
fn kubectl_create_deployment_stores_the_pod_template() {
    let cluster = Cluster::start();
    let output = cluster.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=2",
        "--port=80",
    ]);
    assert_eq!(output.trim(), "deployment.apps/web created");
    let spec = cluster.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app} \
         {.spec.template.spec.containers[0].image} \
         {.spec.template.spec.containers[0].ports[0].containerPort}",
    ]);
    assert_eq!(spec, "2 web nginx 80");
}

#[test]
fn kubectl_create_service_clusterip_stores_the_port_mapping() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "service", "clusterip", "my", "--tcp=80:8080"]);
    assert_eq!(output.trim(), "service/my created");
    let spec = cluster.ok(&[
        "get",
        "service",
        "my",
        "-o",
        "jsonpath={.spec.type} {.spec.ports[0].name} {.spec.ports[0].port} \
         {.spec.ports[0].targetPort} {.spec.selector.app}",
    ]);
    assert_eq!(spec, "ClusterIP 80-8080 80 8080 my");
}

#[test]
fn kubectl_create_job_stores_the_pod_template() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["create", "job", "j", "--image=busybox"]);
    assert_eq!(output.trim(), "job.batch/j created");
    let spec = cluster.ok(&[
        "get",
        "job",
        "j",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} \
         {.spec.template.spec.restartPolicy}",
    ]);
    assert_eq!(spec, "busybox Never");
}

#[test]
fn kubectl_create_cronjob_stores_the_schedule_and_job_template() {
    let cluster = Cluster::start();
    let output = cluster.ok(&[
        "create",
        "cronjob",
        "c",
        "--image=busybox",
        "--schedule=*/5 * * * *",
    ]);
    assert_eq!(output.trim(), "cronjob.batch/c created");
    let spec = cluster.ok(&[
        "get",
        "cronjob",
        "c",
        "-o",
        "jsonpath={.spec.schedule}|\
         {.spec.jobTemplate.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(spec, "*/5 * * * *|busybox");
}

#[test]
fn protobuf_body_of_an_undecoded_kind_is_415_with_the_yaml_hint() {
    let cluster = Cluster::start();
    // `k8s\0` + runtime.Unknown{typeMeta: {apiVersion: "v1", kind: "LimitRange"}}.
    let body = "k8s\0\n\x10\n\x02v1\x12\nLimitRange";
    let (code, text) = http_request(
        cluster.port,
        "POST",
        "/api/v1/namespaces/default/limitranges",
        &[("Content-Type", "application/vnd.kubernetes.protobuf")],
        body,
    )
    .expect("protobuf request");
    assert_eq!(code, 415, "{text}");
    let status: serde_json::Value = serde_json::from_str(&text).expect("a Status body");
    assert_eq!(status["reason"], "UnsupportedMediaType", "{text}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(message.contains("LimitRange"), "{message}");
    assert!(message.contains("kubectl apply -f -"), "{message}");
}
