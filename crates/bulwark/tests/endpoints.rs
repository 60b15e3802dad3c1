//! Services end to end: cluster IPs allocated at admission (`--service-cluster-ip-range`), and
//! the Endpoints and EndpointSlice controllers, driven with the real kubectl and kube clients
//! against a real `bulwark server` (with its scheduler) whose pods run on fake or real nodes.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{
    Cluster, DEADLINE, apply, demo_admin, eventually, is_ready, start_fake_nodes, terminating,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Endpoints;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

fn json_of(cluster: &Cluster, args: &[&str]) -> Value {
    serde_json::from_str(&cluster.ok(args)).expect("kubectl -o json output")
}

fn service_manifest(name: &str, cluster_ip: Option<&str>) -> String {
    let ip = cluster_ip.map_or(String::new(), |ip| format!("  clusterIP: {ip}\n"));
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n{ip}  selector: {{app: {name}}}\n  ports:\n  - port: 80\n"
    )
}

fn cluster_ip(cluster: &Cluster, name: &str) -> String {
    cluster.ok(&["get", "service", name, "-o", "jsonpath={.spec.clusterIP}"])
}

fn in_default_range(ip: &str) -> bool {
    let address: std::net::Ipv4Addr = ip.parse().expect("an IPv4 cluster IP");
    let [a, b, ..] = address.octets();
    a == 127 && (96..112).contains(&b)
}

#[test]
fn services_get_distinct_cluster_ips_and_a_taken_one_is_refused() {
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    let mut seen = BTreeSet::new();
    for name in ["alpha", "beta", "gamma", "delta"] {
        apply(&cluster, &service_manifest(name, None));
        let ip = cluster_ip(&cluster, name);
        assert!(in_default_range(&ip), "{name} got {ip}");
        let ips = json_of(&cluster, &["get", "service", name, "-o", "json"])["spec"]["clusterIPs"]
            .clone();
        assert_eq!(ips, serde_json::json!([ip]));
        assert!(seen.insert(ip.clone()), "{ip} handed out twice");
    }
    let taken = cluster_ip(&cluster, "alpha");
    let output = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        &service_manifest("copycat", Some(&taken)),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "spec.clusterIPs: Invalid value: []string{{\"{taken}\"}}: failed to allocate IP {taken}: provided IP is already allocated"
        )),
        "{stderr}"
    );
    let output = cluster.kubectl_stdin(
        &["apply", "-f", "-"],
        &service_manifest("outside", Some("10.0.0.10")),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not in the valid range. The range of valid IPs is 127.96.0.0/12"),
        "{stderr}"
    );
    // Headless services get none.
    apply(&cluster, &service_manifest("headless", Some("None")));
    assert_eq!(cluster_ip(&cluster, "headless"), "None");
    // Deleting a service releases its address: another may take it.
    cluster.ok(&["delete", "service", "alpha"]);
    apply(&cluster, &service_manifest("successor", Some(&taken)));
    assert_eq!(cluster_ip(&cluster, "successor"), taken);
}

#[test]
fn a_type_change_allocates_and_releases_the_cluster_ip() {
    let cluster = Cluster::start_with(&["--disable-controllers"]);
    apply(
        &cluster,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  type: ExternalName\n  externalName: db.example.com\n",
    );
    assert_eq!(cluster_ip(&cluster, "db"), "");
    cluster.ok(&[
        "patch",
        "service",
        "db",
        "--type=merge",
        "-p",
        r#"{"spec":{"type":"ClusterIP","externalName":null,"ports":[{"port":5432}]}}"#,
    ]);
    let ip = cluster_ip(&cluster, "db");
    assert!(
        in_default_range(&ip),
        "ExternalName -> ClusterIP got {ip:?}"
    );
    let output = cluster.kubectl_stdin(&["apply", "-f", "-"], &service_manifest("twin", Some(&ip)));
    assert!(!output.status.success(), "{ip} is held by db");
    cluster.ok(&[
        "patch",
        "service",
        "db",
        "--type=merge",
        "-p",
        r#"{"spec":{"type":"ExternalName","externalName":"db.example.com","clusterIP":"","clusterIPs":null,"ports":null}}"#,
    ]);
    assert_eq!(cluster_ip(&cluster, "db"), "");
    apply(&cluster, &service_manifest("twin", Some(&ip)));
    assert_eq!(
        cluster_ip(&cluster, "twin"),
        ip,
        "released by the change to ExternalName"
    );
}

#[test]
fn concurrent_creates_and_restarts_never_share_an_address() {
    let mut cluster = Cluster::start_with(&[
        "--disable-controllers",
        "--service-cluster-ip-range",
        "127.99.0.0/26",
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let create_many = |cluster: &Cluster, prefix: &str, count: usize| {
        runtime.block_on(async {
            let client = cluster.client().await;
            let api: kube::Api<k8s_openapi::api::core::v1::Service> =
                kube::Api::namespaced(client, "default");
            let creates = (0..count).map(|i| {
                let service = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("{prefix}-{i}")},
                    "spec": {"selector": {"app": prefix}, "ports": [{"port": 80}]},
                }))
                .expect("a service");
                let api = api.clone();
                async move { api.create(&Default::default(), &service).await }
            });
            futures::future::join_all(creates).await
        })
    };
    for result in create_many(&cluster, "first", 20) {
        result.expect("create a service");
    }
    cluster.kill();
    cluster.launch();
    for result in create_many(&cluster, "second", 20) {
        result.expect("create a service after a restart");
    }
    let list = json_of(&cluster, &["get", "services", "-o", "json"]);
    let ips: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            s["spec"]["clusterIP"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(ips.len(), 40);
    let distinct: BTreeSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), 40, "{ips:?}");
    assert!(ips.iter().all(|ip| ip.starts_with("127.99.0.")), "{ips:?}");
    // 62 usable addresses, 40 taken: 22 more fit, the next one is refused clearly.
    let outcomes = create_many(&cluster, "third", 23);
    let refused: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .to_string()
            .contains("failed to allocate a serviceIP: range is full"),
        "{}",
        refused[0]
    );
}

/// A Service selecting `app: web` on the named port `http`, and pods of it on node-1 (bound at
/// creation) running the demo service with a readiness probe on `/healthz/ready`.
fn web_service_and_pods(names: &[&str]) -> String {
    let mut manifest = String::from(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {tier: front}\nspec:\n  selector: {app: web}\n  ports:\n  - name: web\n    port: 80\n    targetPort: http\n",
    );
    for name in names {
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: web}}\nspec:\n  nodeName: node-1\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: web\n    image: recommender:v3.2\n    ports:\n    - {{name: http, containerPort: 8080}}\n    readinessProbe:\n      httpGet: {{path: /healthz/ready, port: http}}\n      periodSeconds: 1\n      failureThreshold: 1\n"
        ));
    }
    manifest
}

fn get_json(cluster: &Cluster, args: &[&str]) -> Option<Value> {
    let output = cluster.kubectl(args);
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).ok())
        .flatten()
}

/// (ready, not ready) pod names listed by the Endpoints `name`, and the ports.
fn endpoint_pods(endpoints: &Value) -> (BTreeSet<String>, BTreeSet<String>, Vec<Value>) {
    let mut ready = BTreeSet::new();
    let mut not_ready = BTreeSet::new();
    let mut ports = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        for (list, set) in [
            ("addresses", &mut ready),
            ("notReadyAddresses", &mut not_ready),
        ] {
            for address in subset[list].as_array().into_iter().flatten() {
                set.insert(
                    address["targetRef"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
        ports.extend(subset["ports"].as_array().into_iter().flatten().cloned());
    }
    (ready, not_ready, ports)
}

/// Pod name -> (ready, serving, terminating) over the Service's managed slices.
fn slice_conditions(cluster: &Cluster, service: &str) -> Vec<(String, Value, Value, Value)> {
    let selector = format!("kubernetes.io/service-name={service}");
    let Some(list) = get_json(
        cluster,
        &["get", "endpointslices", "-l", &selector, "-o", "json"],
    ) else {
        return vec![];
    };
    let mut found: Vec<(String, Value, Value, Value)> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|slice| slice["endpoints"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let c = &e["conditions"];
            (
                e["targetRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                c["ready"].clone(),
                c["serving"].clone(),
                c["terminating"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn endpoints_and_slices_follow_readiness_on_a_real_node() {
    let cluster = Cluster::up(1, &[]);
    apply(&cluster, &web_service_and_pods(&["web-a", "web-b"]));
    let endpoints = eventually("both pods ready in the Endpoints", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "web", "-o", "json"])?;
        let (ready, not_ready, _) = endpoint_pods(&endpoints);
        (ready == names(&["web-a", "web-b"]) && not_ready.is_empty()).then_some(endpoints)
    });
    // The named targetPort resolved to the container port, under the service port's name.
    let (_, _, ports) = endpoint_pods(&endpoints);
    assert_eq!(
        ports,
        vec![serde_json::json!({"name": "web", "port": 8080, "protocol": "TCP"})]
    );
    assert_eq!(endpoints["metadata"]["labels"]["tier"], "front");
    assert_eq!(
        endpoints["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"],
        "endpoint-controller"
    );
    assert!(
        endpoints["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "{endpoints}"
    );
    let address = &endpoints["subsets"][0]["addresses"][0];
    assert_eq!(address["nodeName"], "node-1");
    assert_eq!(address["targetRef"]["kind"], "Pod");
    let ready_both = vec![
        ("web-a".to_string(), true.into(), true.into(), false.into()),
        ("web-b".to_string(), true.into(), true.into(), false.into()),
    ];
    eventually("the slice lists both ready", || {
        (slice_conditions(&cluster, "web") == ready_both).then_some(())
    });
    let pod_a = get_json(&cluster, &["get", "pod", "web-a", "-o", "json"]).expect("pod");
    let ip_a = pod_a["status"]["podIP"]
        .as_str()
        .expect("pod IP")
        .to_string();

    let table = cluster.ok(&["get", "endpoints", "web"]);
    assert!(table.contains(&format!("{ip_a}:8080")), "{table}");
    let table = cluster.ok(&["get", "endpointslices"]);
    assert!(
        table.contains("web-") && table.contains("IPv4") && table.contains("8080"),
        "{table}"
    );
    assert!(table.contains(&ip_a), "{table}");

    // Readiness fails: web-a moves to notReadyAddresses and its slice endpoint is unready.
    demo_admin(&pod_a, "/admin/ready?fail=true");
    eventually("web-a under notReadyAddresses", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "web", "-o", "json"])?;
        let (ready, not_ready, _) = endpoint_pods(&endpoints);
        (ready == names(&["web-b"]) && not_ready == names(&["web-a"])).then_some(())
    });
    eventually("web-a unready in the slice", || {
        let expected = vec![
            (
                "web-a".to_string(),
                false.into(),
                false.into(),
                false.into(),
            ),
            ready_both[1].clone(),
        ];
        (slice_conditions(&cluster, "web") == expected).then_some(())
    });
    // And back.
    demo_admin(&pod_a, "/admin/ready?fail=false");
    eventually("web-a ready again", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "web", "-o", "json"])?;
        let (ready, not_ready, _) = endpoint_pods(&endpoints);
        (ready == names(&["web-a", "web-b"]) && not_ready.is_empty()).then_some(())
    });
    eventually("the slice agrees", || {
        (slice_conditions(&cluster, "web") == ready_both).then_some(())
    });

    // A deleted pod leaves; a deleted Service takes its Endpoints and slices along.
    cluster.ok(&["delete", "pod", "web-b", "--wait=false"]);
    eventually("web-b gone from the Endpoints", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "web", "-o", "json"])?;
        let (ready, not_ready, _) = endpoint_pods(&endpoints);
        (ready == names(&["web-a"]) && not_ready.is_empty()).then_some(())
    });
    cluster.ok(&["delete", "service", "web"]);
    eventually("the Endpoints and slices deleted with the Service", || {
        let endpoints = cluster.kubectl(&["get", "endpoints", "web"]);
        let slices = cluster.ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "name",
        ]);
        (!endpoints.status.success() && slices.trim().is_empty()).then_some(())
    });
}

/// The time from a pod's Ready condition changing (seen on a watch of the pod) to the
/// Endpoints listing the change (seen on a watch of the Endpoints), for one readiness flip.
#[test]
fn a_readiness_change_reaches_the_endpoints_quickly() {
    let cluster = Cluster::up(1, &[]);
    apply(&cluster, &web_service_and_pods(&["web-a"]));
    let pod = eventually("web-a ready in the Endpoints", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "web", "-o", "json"])?;
        let (ready, _, _) = endpoint_pods(&endpoints);
        (ready == names(&["web-a"])).then_some(())?;
        get_json(&cluster, &["get", "pod", "web-a", "-o", "json"])
    });
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let delays = runtime.block_on(async {
        let client = cluster.client().await;
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(client.clone(), "default");
        let endpoints: kube::Api<Endpoints> = kube::Api::namespaced(client, "default");
        let mut delays = Vec::new();
        for fail in [true, false, true, false] {
            let pod_seen = watch_until(pods.clone(), "web-a", move |p| {
                let ready = p
                    .status
                    .as_ref()?
                    .conditions
                    .as_ref()?
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                (ready != fail).then_some(())
            });
            let endpoints_seen = watch_until(endpoints.clone(), "web", move |e| {
                let listed_ready = e.subsets.iter().flatten().any(|s| {
                    s.addresses.iter().flatten().any(|a| {
                        a.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some("web-a")
                    })
                });
                (listed_ready != fail).then_some(())
            });
            let (pod_seen, endpoints_seen) = futures::join!(pod_seen, async {
                tokio::task::spawn_blocking({
                    let pod = pod.clone();
                    move || demo_admin(&pod, &format!("/admin/ready?fail={fail}"))
                })
                .await
                .expect("admin call");
                endpoints_seen.await
            });
            delays.push(endpoints_seen.saturating_duration_since(pod_seen));
        }
        delays
    });
    // Figures, not assertions on speed: the requirement is < 1 s; the deadline is generous.
    eprintln!("readiness change -> Endpoints: {delays:?}");
    assert!(delays.iter().all(|d| *d < DEADLINE), "{delays:?}");
}

/// Watches `name` until `check` passes; returns when it was seen.
async fn watch_until<K>(api: kube::Api<K>, name: &str, check: impl Fn(&K) -> Option<()>) -> Instant
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(api, config).default_backoff().applied_objects();
    futures::pin_mut!(stream);
    let seen = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(object)) = stream.next().await {
            if check(&object).is_some() {
                return Some(Instant::now());
            }
        }
        None
    });
    seen.await
        .ok()
        .flatten()
        .expect("the change was watched in time")
}

#[test]
fn services_without_a_selector_keep_their_own_endpoints() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: external\nspec:\n  ports:\n  - port: 5432\n---\napiVersion: v1\nkind: Endpoints\nmetadata:\n  name: external\nsubsets:\n- addresses:\n  - ip: 127.0.0.55\n  ports:\n  - port: 5432\n",
    );
    // A Service with a selector in the same cluster proves the controller is at work...
    apply(&cluster, &service_manifest("selected", None));
    eventually("the controller wrote the other Service's Endpoints", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "selected", "-o", "json"])?;
        (endpoints["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"]
            == "endpoint-controller")
            .then_some(())
    });
    // ...and it left the user's alone (no slices for it either).
    let manual = json_of(&cluster, &["get", "endpoints", "external", "-o", "json"]);
    assert_eq!(manual["subsets"][0]["addresses"][0]["ip"], "127.0.0.55");
    assert!(manual["metadata"]["labels"].is_null(), "{manual}");
    let slices = cluster.ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=external",
        "-o",
        "name",
    ]);
    assert!(slices.trim().is_empty(), "{slices}");
    // A Service with a selector and no pods has an empty Endpoints and one placeholder slice.
    let selected = json_of(&cluster, &["get", "endpoints", "selected", "-o", "json"]);
    assert!(selected["subsets"].is_null(), "{selected}");
    let placeholder = eventually("a placeholder slice", || {
        let list = get_json(
            &cluster,
            &[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=selected",
                "-o",
                "json",
            ],
        )?;
        let items = list["items"].as_array()?.clone();
        (items.len() == 1).then(|| items[0].clone())
    });
    assert!(
        placeholder["endpoints"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{placeholder}"
    );
    assert_eq!(placeholder["addressType"], "IPv4");
    assert_eq!(
        placeholder["metadata"]["ownerReferences"][0]["kind"],
        "Service"
    );
    assert_eq!(
        placeholder["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
}

const PAYMENT_SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: payment\nspec:\n  selector: {app: payment}\n  ports:\n  - port: 80\n    targetPort: 8080\n";

/// Done means 2: a rolling update of the seed's payment-service with `maxUnavailable: 0` never
/// drops below the declared ready replicas, counted on every event of a watch of its Endpoints.
#[test]
fn a_rolling_update_of_payment_service_never_drops_ready_endpoints() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 3, &[]);
    apply(&cluster, PAYMENT_SERVICE);
    let seed = common::seed_manifest("payment-service.yaml");
    cluster.ok(&["apply", "-f", seed.to_str().expect("path")]);
    let declared = 6;
    let count_ready = |endpoints: &Value| endpoint_pods(endpoints).0.len();
    eventually("six ready endpoints", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "payment", "-o", "json"])?;
        (count_ready(&endpoints) == declared).then_some(())
    });
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/payment-service",
        "--timeout=60s",
    ]);
    cluster.ok(&[
        "patch",
        "deployment",
        "payment-service",
        "--type=merge",
        "-p",
        r#"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}}}"#,
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = runtime.block_on(cluster.client());
    let watching = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&watching);
    // Every event of the Endpoints, while the rollout runs: lowest ready count, and how many
    // distinct pods were listed (the rollout replaced them all).
    let counter = runtime.spawn(async move {
        let api: kube::Api<Endpoints> = kube::Api::namespaced(client, "default");
        let config = watcher::Config::default().fields("metadata.name=payment");
        let stream = watcher(api, config).default_backoff().applied_objects();
        futures::pin_mut!(stream);
        let (mut lowest, mut events, mut seen) = (usize::MAX, 0usize, BTreeSet::new());
        let started = Instant::now();
        while flag.load(Ordering::Relaxed) && started.elapsed() < DEADLINE * 3 {
            let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
            let Ok(Some(Ok(endpoints))) = next else {
                continue;
            };
            let ready: Vec<String> = endpoints
                .subsets
                .iter()
                .flatten()
                .flat_map(|s| s.addresses.iter().flatten())
                .filter_map(|a| a.target_ref.as_ref()?.name.clone())
                .collect();
            lowest = lowest.min(ready.len());
            seen.extend(ready);
            events += 1;
        }
        (lowest, events, seen.len())
    });
    cluster.ok(&[
        "set",
        "image",
        "deployment/payment-service",
        "payment=payment:v2.2",
    ]);
    cluster.ok(&[
        "rollout",
        "status",
        "deployment/payment-service",
        "--timeout=120s",
    ]);
    // The last old pod's removal from the Endpoints follows the rollout's end by a moment.
    eventually("the Endpoints list only the new pods", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "payment", "-o", "json"])?;
        let pods = common::pods_list(cluster.port, "app=payment");
        let new: BTreeSet<String> = pods
            .iter()
            .filter(|p| !terminating(p) && is_ready(p))
            .filter(|p| p["spec"]["containers"][0]["image"] == "payment:v2.2")
            .map(common::name)
            .collect();
        (new.len() == declared && endpoint_pods(&endpoints).0 == new).then_some(())
    });
    watching.store(false, Ordering::Relaxed);
    let (lowest, events, distinct) = runtime.block_on(counter).expect("counter");
    eprintln!(
        "Endpoints events during the rollout: {events}; lowest ready: {lowest}; pods listed: {distinct}"
    );
    assert!(
        events > declared,
        "the rollout was watched: {events} events"
    );
    assert!(
        distinct >= 2 * declared,
        "old and new pods were listed: {distinct}"
    );
    assert!(
        lowest >= declared,
        "ready endpoints dropped to {lowest} < {declared}"
    );
}

/// A pod relabelled out of a Service's selector leaves its Endpoints at once (not at the next
/// resync, 30 s away): the controller remembers which Service listed it.
#[test]
fn a_relabelled_pod_leaves_the_endpoints() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 1, &[]);
    apply(&cluster, &service_manifest("shop", None));
    for name in ["shop-1", "shop-2"] {
        apply(
            &cluster,
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: shop}}\nspec:\n  nodeName: fake-node-1\n  containers:\n  - name: shop\n    image: shop:v1\n"
            ),
        );
    }
    eventually("both pods listed", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "shop", "-o", "json"])?;
        (endpoint_pods(&endpoints).0 == names(&["shop-1", "shop-2"])).then_some(())
    });
    cluster.ok(&["label", "pod", "shop-2", "app=elsewhere", "--overwrite"]);
    // Well inside the 30 s resync period; the change itself takes milliseconds.
    common::eventually_within(
        Duration::from_secs(15),
        Duration::from_millis(100),
        "shop-2 gone from the Endpoints and slices",
        || {
            let endpoints = get_json(&cluster, &["get", "endpoints", "shop", "-o", "json"])?;
            let in_slices: Vec<String> = slice_conditions(&cluster, "shop")
                .into_iter()
                .map(|c| c.0)
                .collect();
            (endpoint_pods(&endpoints).0 == names(&["shop-1"]) && in_slices == ["shop-1"])
                .then_some(())
        },
    );
}

/// 150 ready pods: the Endpoints list them all, the slices split them at most 100 to a slice.
#[test]
fn many_pods_fill_slices_of_at_most_a_hundred() {
    let cluster = Cluster::start();
    let _nodes = start_fake_nodes(&cluster, 3, &[]);
    apply(&cluster, &service_manifest("crowd", None));
    apply(
        &cluster,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: crowd\nspec:\n  replicas: 150\n  selector:\n    matchLabels: {app: crowd}\n  template:\n    metadata:\n      labels: {app: crowd}\n    spec:\n      containers:\n      - name: crowd\n        image: crowd:v1\n",
    );
    let sizes = eventually("150 endpoints in slices", || {
        let endpoints = get_json(&cluster, &["get", "endpoints", "crowd", "-o", "json"])?;
        (endpoint_pods(&endpoints).0.len() == 150).then_some(())?;
        let list = get_json(
            &cluster,
            &[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=crowd",
                "-o",
                "json",
            ],
        )?;
        let mut sizes: Vec<usize> = list["items"]
            .as_array()?
            .iter()
            .map(|s| s["endpoints"].as_array().map_or(0, Vec::len))
            .collect();
        sizes.sort();
        let ready = slice_conditions(&cluster, "crowd")
            .iter()
            .filter(|c| c.1 == true)
            .count();
        (sizes.iter().sum::<usize>() == 150 && ready == 150).then_some(sizes)
    });
    assert!(sizes.iter().all(|size| *size <= 100), "{sizes:?}");
    assert!(sizes.len() >= 2, "{sizes:?}");
}
