//! NodePorts: a `hostPort` can be held by one pod per node, per protocol and address (`0.0.0.0`
//! clashes with every address).

use super::{FilterResult, Rejection};
use crate::node_info::NodeInfo;
use crate::pod_info::HostPort;

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(wanted: &[HostPort], node: &NodeInfo) -> FilterResult {
    let clash = wanted
        .iter()
        .any(|w| node.used_ports().iter().any(|used| used.conflicts_with(w)));
    if clash {
        Err(Rejection::unschedulable(REASON))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{bound, node, pod_with_host_port};

    fn port(ip: &str, protocol: &str, port: i32) -> HostPort {
        HostPort {
            ip: ip.into(),
            protocol: protocol.into(),
            port,
        }
    }

    #[test]
    fn same_port_and_protocol_clash() {
        let mut n = node("n1", "4", "4Gi", &[]);
        n.add_pod(bound(pod_with_host_port("a", 8080), "n1"));
        assert!(filter(&[port("0.0.0.0", "TCP", 8080)], &n).is_err());
        assert!(filter(&[port("127.0.0.1", "TCP", 8080)], &n).is_err());
        assert!(filter(&[port("0.0.0.0", "UDP", 8080)], &n).is_ok());
        assert!(filter(&[port("0.0.0.0", "TCP", 8081)], &n).is_ok());
    }

    #[test]
    fn distinct_addresses_do_not_clash() {
        assert!(!port("10.0.0.1", "TCP", 80).conflicts_with(&port("10.0.0.2", "TCP", 80)));
        assert!(port("10.0.0.1", "TCP", 80).conflicts_with(&port("0.0.0.0", "TCP", 80)));
    }

    #[test]
    fn removing_the_pod_frees_the_port() {
        let mut n = node("n1", "4", "4Gi", &[]);
        let p = bound(pod_with_host_port("a", 8080), "n1");
        let key = p.key.clone();
        n.add_pod(p);
        n.remove_pod(&key);
        assert!(filter(&[port("0.0.0.0", "TCP", 8080)], &n).is_ok());
    }
}
