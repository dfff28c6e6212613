//! The fabric as a containerlab topology, to run it on real machines (or
//! clabernetes) instead of namespaces on one host. Pure: text out.
//!
//! Every node is `kind: linux`. A switch runs `closd -c
//! /etc/clos/closd.toml` as its container command, with its rendered
//! config bind-mounted there (read-only), and `exec` commands that set the
//! forwarding sysctls and its loopback (and, on leaves, the host gateway
//! addresses). A host gets its addresses and routes towards the fabric's
//! prefixes through its leaf (not a default route: containerlab's `eth0`
//! is the management network). Links use the interface names of the
//! namespace lab, so the rendered configs are the same.
//!
//! The YAML is written by hand, every string JSON-quoted (JSON strings are
//! YAML flow scalars), so no serializer dependency decides its layout.

use std::fmt::Write as _;

use crate::plan::{Fabric, HOST_INTERFACE};

/// Where each switch's config is mounted.
pub const CONFIG_PATH: &str = "/etc/clos/closd.toml";
/// closd's API socket inside the containers (the closd default).
pub const SOCKET_PATH: &str = "/run/clos/closd.sock";

/// Images used by the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Image of the switches: must hold `closd`, `ip` and `sysctl`.
    pub switch: String,
    /// Image of the hosts: must hold `ip`.
    pub host: String,
}

fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The topology file. `config_dir` is the directory of the rendered
/// configs relative to the topology file (containerlab resolves relative
/// bind sources against the topology file's directory).
pub fn topology(fabric: &Fabric, images: &Images, config_dir: &str) -> String {
    let intent = &fabric.intent;
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# containerlab topology of fabric {:?}: {} spines, {} leaves, {} hosts.\n\
         # Exported by clos-lab from the fabric intent; deploy with\n\
         #   containerlab deploy -t <this file>",
        intent.name,
        intent.spines,
        intent.leaves,
        fabric.hosts.len()
    );
    let _ = writeln!(y, "name: {}", quote(&intent.name));
    let _ = writeln!(y, "topology:");
    let _ = writeln!(y, "  nodes:");
    for switch in fabric.switches() {
        let _ = writeln!(y, "    {}:", quote(&switch.name));
        let _ = writeln!(y, "      kind: linux");
        let _ = writeln!(y, "      image: {}", quote(&images.switch));
        let _ = writeln!(y, "      binds:");
        let _ = writeln!(
            y,
            "        - {}",
            quote(&format!(
                "{config_dir}/{}.toml:{CONFIG_PATH}:ro",
                switch.name
            ))
        );
        let _ = writeln!(
            y,
            "      cmd: {}",
            quote(&format!("closd -c {CONFIG_PATH}"))
        );
        let mut exec = vec![
            "sysctl -w net.ipv4.ip_forward=1".to_string(),
            "sysctl -w net.ipv6.conf.all.forwarding=1".to_string(),
            "sysctl -w net.ipv4.fib_multipath_hash_policy=1".to_string(),
            "sysctl -w net.ipv6.fib_multipath_hash_policy=1".to_string(),
            format!("ip address add {}/32 dev lo", switch.loopback),
        ];
        for host in fabric
            .hosts
            .iter()
            .filter(|h| switch.hosts.is_some() && h.leaf == switch.index)
        {
            let port = host.leaf_interface();
            exec.push(format!(
                "ip address add {}/{} dev {port}",
                host.gateway,
                host.address.prefix_len()
            ));
            if let (Some(gateway), Some(address)) = (host.gateway_v6, host.address_v6) {
                exec.push(format!(
                    "ip -6 address add {gateway}/{} dev {port}",
                    address.prefix_len()
                ));
            }
        }
        write_list(&mut y, "exec", &exec);
    }
    for host in &fabric.hosts {
        let _ = writeln!(y, "    {}:", quote(&host.name));
        let _ = writeln!(y, "      kind: linux");
        let _ = writeln!(y, "      image: {}", quote(&images.host));
        let mut exec = vec![
            format!("ip address add {} dev {HOST_INTERFACE}", host.address),
            format!(
                "ip route add {} via {} dev {HOST_INTERFACE}",
                intent.hosts, host.gateway
            ),
            format!(
                "ip route add {} via {} dev {HOST_INTERFACE}",
                intent.loopbacks, host.gateway
            ),
        ];
        if let (Some(address), Some(gateway), Some(net)) =
            (host.address_v6, host.gateway_v6, intent.hosts_v6)
        {
            exec.push(format!("ip -6 address add {address} dev {HOST_INTERFACE}"));
            exec.push(format!(
                "ip -6 route add {net} via {gateway} dev {HOST_INTERFACE}"
            ));
        }
        write_list(&mut y, "exec", &exec);
    }
    let _ = writeln!(y, "  links:");
    for link in fabric.links() {
        let _ = writeln!(
            y,
            "    - endpoints: [{}, {}]",
            quote(&format!("{}:{}", link.spine_node(), link.spine_interface())),
            quote(&format!("{}:{}", link.leaf_node(), link.leaf_interface()))
        );
    }
    for host in &fabric.hosts {
        let _ = writeln!(
            y,
            "    - endpoints: [{}, {}]",
            quote(&format!("{}:{}", host.leaf_node(), host.leaf_interface())),
            quote(&format!("{}:{HOST_INTERFACE}", host.name))
        );
    }
    y
}

fn write_list(y: &mut String, key: &str, items: &[String]) {
    let _ = writeln!(y, "      {key}:");
    for item in items {
        let _ = writeln!(y, "        - {}", quote(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::Intent;

    #[test]
    fn names_and_links() {
        let fabric = Fabric::new(&Intent::default_fabric());
        let images = Images {
            switch: "clos:latest".into(),
            host: "clos:latest".into(),
        };
        let y = topology(&fabric, &images, "dc1-configs");
        assert!(y.contains("name: \"dc1\"\n"));
        assert!(y.contains("    - endpoints: [\"spine1:eth1\", \"leaf1:eth1\"]\n"));
        assert!(y.contains("    - endpoints: [\"spine2:eth4\", \"leaf4:eth2\"]\n"));
        assert!(y.contains("    - endpoints: [\"leaf3:host1\", \"host3-1:eth1\"]\n"));
        assert!(y.contains("        - \"dc1-configs/leaf2.toml:/etc/clos/closd.toml:ro\"\n"));
    }
}
