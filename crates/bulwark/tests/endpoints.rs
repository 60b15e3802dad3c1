//! Services end to end: cluster IPs allocated at admission (`--service-cluster-ip-range`), and
//! the Endpoints and EndpointSlice controllers, driven with the real kubectl and kube clients
//! against a real `bulwark server` whose pods run on fake nodes.

mod common;

use std::collections::BTreeSet;

use common::{Cluster, apply};
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
