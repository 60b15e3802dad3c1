//! The namespace controller end to end: `kubectl delete namespace` empties a namespace of every
//! kind of content, reports what holds it in upstream's conditions, and removes it. Pods run on
//! fake nodes, placed by the scheduler. Driven with the real kubectl and kube.

mod common;

use common::{Cluster, FakeNodes, all_pods, apply, eventually};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;

const CONTENT: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: web:v1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: fast}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop}
spec:
  containers: [{name: c, image: solo:v1}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: logs, namespace: shop}
spec:
  selector:
    matchLabels: {app: logs}
  template:
    metadata:
      labels: {app: logs}
    spec:
      containers: [{name: c, image: logs:v1}]
"#;

fn running_pods_in(port: u16, namespace: &str) -> usize {
    all_pods(port)
        .into_iter()
        .filter(|p| p["metadata"]["namespace"] == namespace && p["status"]["phase"] == "Running")
        .count()
}

fn names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn deleting_a_namespace_empties_and_removes_it() {
    let cluster = Cluster::start();
    let _nodes = FakeNodes::spawn(&cluster, 2, &["--profile", "fast"]);
    cluster.wait_for_ready_nodes(2);
    apply(&cluster, CONTENT);
    // Two Deployment pods, the lone pod and a DaemonSet pod per node.
    eventually("the namespace's pods run", || {
        (running_pods_in(cluster.port, "shop") == 5).then_some(())
    });
    let deleted = cluster.ok(&["delete", "namespace", "shop", "--timeout=120s"]);
    assert_eq!(deleted, "namespace \"shop\" deleted\n");
    let stderr = cluster.kubectl(&["get", "namespace", "shop"]).stderr;
    assert!(
        String::from_utf8_lossy(&stderr).contains("(NotFound)"),
        "{}",
        String::from_utf8_lossy(&stderr)
    );
    let listed = names(&cluster.ok(&["get", "ns", "--no-headers"]));
    assert!(!listed.contains(&"shop".to_string()), "{listed:?}");
    assert!(listed.contains(&"default".to_string()), "{listed:?}");
    let left: Vec<_> = all_pods(cluster.port)
        .into_iter()
        .filter(|p| p["metadata"]["namespace"] == "shop")
        .collect();
    assert!(left.is_empty(), "pods left behind: {left:?}");
    // The same name can be used again, empty.
    apply(
        &cluster,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    );
    let content = cluster.ok(&["get", "all,cm", "-n", "shop", "-o", "name"]);
    let content: Vec<&str> = content
        .lines()
        .filter(|l| *l != "configmap/kube-root-ca.crt")
        .collect();
    assert!(content.is_empty(), "{content:?}");
}

#[tokio::test]
async fn content_with_a_finalizer_holds_the_namespace_and_the_conditions_say_so() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: held}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pinned\n  namespace: held\n  finalizers: [example.com/hold]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: held}\n",
    );
    cluster.ok(&["delete", "namespace", "held", "--wait=false"]);
    let api: Api<Namespace> = Api::all(cluster.client().await);
    let condition = |ns: &Namespace, type_: &str| {
        ns.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_))
            .map(|c| (c.status.clone(), c.message.clone().unwrap_or_default()))
    };
    let mut seen = None;
    for _ in 0..600 {
        let ns = api.get("held").await.expect("the namespace is still there");
        if let Some(remaining) = condition(&ns, "NamespaceFinalizersRemaining")
            && remaining.0 == "True"
        {
            seen = Some(ns);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ns = seen.expect("NamespaceFinalizersRemaining never became True");
    assert_eq!(
        condition(&ns, "NamespaceFinalizersRemaining").unwrap().1,
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    assert_eq!(
        condition(&ns, "NamespaceContentRemaining").unwrap(),
        (
            "True".to_string(),
            "Some resources are remaining: configmaps has 1 resource instances".to_string()
        )
    );
    assert_eq!(
        condition(&ns, "NamespaceDeletionDiscoveryFailure")
            .unwrap()
            .0,
        "False"
    );
    assert_eq!(
        ns.spec.as_ref().and_then(|s| s.finalizers.clone()),
        Some(vec!["kubernetes".to_string()])
    );
    let plain = cluster.kubectl(&["get", "cm", "plain", "-n", "held"]);
    assert!(
        !plain.status.success(),
        "content without finalizers is gone"
    );
    let refused = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: held}\n",
    );
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        stderr.contains(
            "unable to create new content in namespace held because it is being terminated"
        ),
        "{stderr}"
    );

    cluster.ok(&[
        "patch",
        "cm",
        "pinned",
        "-n",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    eventually("the released namespace goes away", || {
        let output = cluster.kubectl(&["get", "namespace", "held"]);
        String::from_utf8_lossy(&output.stderr)
            .contains("(NotFound)")
            .then_some(())
    });
}
