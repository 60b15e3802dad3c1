//! The first thing a user does: start a cluster and list namespaces.

mod common;

use common::Cluster;

#[test]
fn a_new_cluster_has_the_system_namespaces() {
    let cluster = Cluster::start();
    let output = cluster.ok(&["get", "namespaces", "-o", "name"]);
    for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            output.contains(&format!("namespace/{namespace}")),
            "{namespace} missing from {output}"
        );
    }
}
