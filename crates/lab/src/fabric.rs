//! The fabric in Linux network namespaces: creating the namespaces, veth
//! pairs and addresses of a [`Fabric`], taking links down and up, and
//! removing everything again.
//!
//! One namespace per node (`<prefix>-<node>`). Every veth pair is created
//! from inside its first namespace with the peer end placed straight into
//! the second, so nothing ever touches the host's own interfaces and
//! deleting the namespaces deletes the links.
//!
//! Fabric links carry no IPv4 and no global IPv6 address, only the IPv6
//! link-local the kernel generates (BGP unnumbered, RFC 8950). Duplicate
//! address detection is switched off (`accept_dad = 0` on `all` and
//! `default`, before any link exists) so those link-locals are usable at
//! once instead of after a second of DAD.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::plan::{namespace, Fabric, FabricLink, HOST_INTERFACE};
use crate::state::{LabDir, State};
use crate::sys::{self, ip, ip_batch, ip_in, list_netns, netns_pids, wait_until};

/// How long links may take to come up with their link-local addresses.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);

/// Sysctls of a switch namespace, set before any link is created so new
/// interfaces inherit the `default` values.
const SWITCH_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv4.ip_forward", "1"),
    ("net.ipv6.conf.all.forwarding", "1"),
    ("net.ipv6.conf.default.forwarding", "1"),
    // A next hop over a link without carrier is not used (both ends of a
    // failed link are down anyway, but a half-down veth must not
    // blackhole).
    ("net.ipv4.conf.all.ignore_routes_with_linkdown", "1"),
    ("net.ipv4.conf.default.ignore_routes_with_linkdown", "1"),
    ("net.ipv6.conf.all.ignore_routes_with_linkdown", "1"),
    ("net.ipv6.conf.default.ignore_routes_with_linkdown", "1"),
    // ECMP per flow on the 5-tuple, as fabric switches hash.
    ("net.ipv4.fib_multipath_hash_policy", "1"),
    ("net.ipv6.fib_multipath_hash_policy", "1"),
    // Multipath return traffic may arrive on another uplink.
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
];

/// Sysctls of a host namespace: no DAD, and unprivileged ICMP echo
/// sockets for `ping-all` (the group range is per namespace).
const HOST_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv4.ping_group_range", "0 2147483647"),
];

/// Creates every namespace, link and address of `fabric`, recording each
/// namespace in `state` (saved to `dir`) as soon as it exists.
pub fn create(fabric: &Fabric, prefix: &str, dir: &LabDir, state: &mut State) -> Result<()> {
    let ns = |node: &str| namespace(prefix, node);
    // Namespaces and their sysctls.
    for node in fabric.node_names() {
        let name = ns(&node);
        ip(&["netns", "add", &name])
            .with_context(|| format!("cannot create network namespace {name}"))?;
        state.namespaces.push(name.clone());
        dir.save(state)?;
        let sysctls = if fabric.host(&node).is_some() {
            HOST_SYSCTLS
        } else {
            SWITCH_SYSCTLS
        };
        sys::sysctls(&name, sysctls)?;
    }

    // Links: fabric links from each spine, host links from each leaf.
    for spine in &fabric.spines {
        let commands: Vec<String> = spine
            .ports
            .iter()
            .map(|port| {
                format!(
                    "link add {} type veth peer name {} netns {}",
                    port.interface,
                    port.link.leaf_interface(),
                    ns(&port.peer)
                )
            })
            .collect();
        ip_batch(&ns(&spine.name), &commands)
            .with_context(|| format!("cannot create the fabric links of {}", spine.name))?;
    }
    for leaf in &fabric.leaves {
        let commands: Vec<String> = fabric
            .hosts
            .iter()
            .filter(|h| h.leaf == leaf.index)
            .map(|host| {
                format!(
                    "link add {} type veth peer name {HOST_INTERFACE} netns {}",
                    host.leaf_interface(),
                    ns(&host.name)
                )
            })
            .collect();
        ip_batch(&ns(&leaf.name), &commands)
            .with_context(|| format!("cannot create the host links of {}", leaf.name))?;
    }

    // Addresses, and every interface up: switches first, so host links
    // have carrier by the time hosts add their routes.
    for switch in fabric.switches() {
        let mut commands = vec![
            "link set lo up".to_string(),
            format!("address add {}/32 dev lo", switch.loopback),
        ];
        for port in &switch.ports {
            commands.push(format!("link set {} up", port.interface));
        }
        for host in fabric.hosts.iter().filter(|h| h.leaf == switch.index) {
            if switch.hosts.is_none() {
                break;
            }
            let port = host.leaf_interface();
            commands.push(format!(
                "address add {}/{} dev {port}",
                host.gateway,
                host.address.prefix_len()
            ));
            if let (Some(gateway), Some(address)) = (host.gateway_v6, host.address_v6) {
                commands.push(format!(
                    "address add {gateway}/{} dev {port} nodad",
                    address.prefix_len()
                ));
            }
            commands.push(format!("link set {port} up"));
        }
        ip_batch(&ns(&switch.name), &commands)
            .with_context(|| format!("cannot configure {}", switch.name))?;
    }
    for host in &fabric.hosts {
        let mut commands = vec![
            "link set lo up".to_string(),
            format!("address add {} dev {HOST_INTERFACE}", host.address),
        ];
        if let Some(address) = host.address_v6 {
            commands.push(format!("address add {address} dev {HOST_INTERFACE} nodad"));
        }
        commands.push(format!("link set {HOST_INTERFACE} up"));
        ip_batch(&ns(&host.name), &commands)
            .with_context(|| format!("cannot configure {}", host.name))?;
    }

    wait_ready(fabric, prefix, &fabric.links())?;

    // Host default routes, once the gateways are on-link.
    for host in &fabric.hosts {
        let mut commands = vec![format!(
            "route add default via {} dev {HOST_INTERFACE}",
            host.gateway
        )];
        if let Some(gateway) = host.gateway_v6 {
            commands.push(format!(
                "route add default via {gateway} dev {HOST_INTERFACE}"
            ));
        }
        ip_batch(&ns(&host.name), &commands)
            .with_context(|| format!("cannot add the default routes of {}", host.name))?;
    }
    Ok(())
}

/// The interfaces of `node` that must be up with a usable link-local:
/// all its fabric ports (on switches) or its one interface (hosts).
fn interfaces(fabric: &Fabric, node: &str) -> Vec<String> {
    match fabric.switch(node) {
        Some(switch) => {
            let mut out: Vec<String> = switch.ports.iter().map(|p| p.interface.clone()).collect();
            out.extend(
                fabric
                    .hosts
                    .iter()
                    .filter(|h| switch.hosts.is_some() && h.leaf == switch.index)
                    .map(|h| h.leaf_interface()),
            );
            out
        }
        None => vec![HOST_INTERFACE.to_string()],
    }
}

/// Waits until every interface of every node is up (carrier on both
/// ends), except those of `down` links, and every up fabric port has a
/// non-tentative IPv6 link-local address.
pub fn wait_ready(fabric: &Fabric, prefix: &str, up_links: &[FabricLink]) -> Result<()> {
    let up: BTreeSet<(String, String)> = up_links.iter().flat_map(|l| l.ends()).collect();
    let all_links: BTreeSet<(String, String)> =
        fabric.links().iter().flat_map(|l| l.ends()).collect();
    for node in fabric.node_names() {
        let name = namespace(prefix, &node);
        let wanted: Vec<String> = interfaces(fabric, &node)
            .into_iter()
            .filter(|i| {
                let end = (node.clone(), i.clone());
                !all_links.contains(&end) || up.contains(&end)
            })
            .collect();
        wait_until(
            &format!("the links of {node} to come up"),
            LINK_TIMEOUT,
            || {
                let out = ip_in(&name, &["-j", "address", "show"])?;
                let links: Value = serde_json::from_str(&out)
                    .with_context(|| format!("ip -j address show printed bad JSON: {out}"))?;
                for wanted in &wanted {
                    let Some(link) = links
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|l| l["ifname"].as_str() == Some(wanted))
                    else {
                        bail!("{node} has no interface {wanted}");
                    };
                    if !interface_ready(link) {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )?;
    }
    Ok(())
}

/// An interface from `ip -j address show` is ready when it has carrier
/// and an IPv6 link-local that is not tentative.
fn interface_ready(link: &Value) -> bool {
    let flags: Vec<&str> = link["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let addresses: Vec<&Value> = link["addr_info"].as_array().into_iter().flatten().collect();
    let link_local = addresses.iter().any(|a| {
        a["family"].as_str() == Some("inet6")
            && a["scope"].as_str() == Some("link")
            && a["tentative"].as_bool() != Some(true)
    });
    let tentative = addresses
        .iter()
        .any(|a| a["tentative"].as_bool() == Some(true));
    flags.contains(&"UP") && flags.contains(&"LOWER_UP") && link_local && !tentative
}

/// Sets both ends of each link administratively down or up. Bringing
/// links up waits until they have carrier and link-locals again.
pub fn set_links(fabric: &Fabric, prefix: &str, links: &[FabricLink], up: bool) -> Result<()> {
    let state = if up { "up" } else { "down" };
    for link in links {
        for (node, interface) in link.ends() {
            ip_in(
                &namespace(prefix, &node),
                &["link", "set", &interface, state],
            )
            .with_context(|| format!("cannot set {} {state}", link.name()))?;
        }
    }
    if up {
        let down = down_links(fabric, prefix)?;
        let up_links: Vec<FabricLink> = fabric
            .links()
            .into_iter()
            .filter(|l| !down.contains(l))
            .collect();
        wait_ready(fabric, prefix, &up_links)?;
    }
    Ok(())
}

/// Fabric links with at least one end administratively down.
pub fn down_links(fabric: &Fabric, prefix: &str) -> Result<BTreeSet<FabricLink>> {
    let mut down = BTreeSet::new();
    for switch in fabric.switches() {
        let out = ip_in(&namespace(prefix, &switch.name), &["-j", "link", "show"])?;
        let links: Value = serde_json::from_str(&out)
            .with_context(|| format!("ip -j link show printed bad JSON: {out}"))?;
        for port in &switch.ports {
            let admin_up = links
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["ifname"].as_str() == Some(&port.interface))
                .is_some_and(|l| {
                    l["flags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|f| f.as_str() == Some("UP"))
                });
            if !admin_up {
                down.insert(port.link);
            }
        }
    }
    Ok(down)
}

/// The namespaces of the lab with `prefix`, found by name: `<prefix>-`
/// followed by a node name this crate makes.
pub fn namespaces_by_name(prefix: &str) -> Result<Vec<String>> {
    let start = format!("{prefix}-");
    Ok(list_netns()?
        .into_iter()
        .filter(|name| {
            name.strip_prefix(&start)
                .is_some_and(crate::plan::is_node_name)
        })
        .collect())
}

/// What [`destroy`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Namespaces deleted.
    pub namespaces: Vec<String>,
    /// Processes stopped.
    pub processes: usize,
}

/// Stops every process inside `namespaces` and in `recorded` (PIDs `up`
/// recorded with their program names, stopped only if a process of that
/// name still has that PID), then deletes the namespaces (and with them
/// every veth pair). Namespaces that do not exist are skipped.
pub fn destroy(namespaces: &[String], recorded: &[(u32, String)]) -> Result<Removed> {
    let existing: BTreeSet<String> = list_netns()?.into_iter().collect();
    let namespaces: Vec<String> = namespaces
        .iter()
        .filter(|n| existing.contains(*n))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut pids: BTreeSet<u32> = namespaces.iter().flat_map(|ns| netns_pids(ns)).collect();
    for (pid, program) in recorded {
        if sys::pid_alive(*pid) && process_name_is(*pid, program) {
            pids.insert(*pid);
        }
    }
    let pids: Vec<u32> = pids.into_iter().collect();
    sys::stop_processes(&pids, Duration::from_secs(3));
    let mut failures = Vec::new();
    for ns in &namespaces {
        if let Err(error) = ip(&["netns", "delete", ns]) {
            failures.push(format!("{error:#}"));
        }
    }
    let left: Vec<String> = list_netns()?
        .into_iter()
        .filter(|n| namespaces.contains(n))
        .collect();
    if !left.is_empty() {
        bail!(
            "namespaces still present after down: {}: {}",
            left.join(", "),
            failures.join("; ")
        );
    }
    Ok(Removed {
        namespaces,
        processes: pids.len(),
    })
}

/// Whether `/proc/PID/comm` or the first word of its command line is
/// `program` (guards against a recycled PID).
fn process_name_is(pid: u32, program: &str) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    let base = argv0.rsplit('/').next().unwrap_or_default();
    comm.trim() == program || base == program
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_readiness_from_ip_json() {
        let ready: Value = serde_json::from_str(
            r#"{"ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],
                "addr_info":[{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}"#,
        )
        .unwrap();
        assert!(interface_ready(&ready));
        let tentative: Value = serde_json::from_str(
            r#"{"ifname":"eth1","flags":["UP","LOWER_UP"],
                "addr_info":[{"family":"inet6","local":"fe80::1","scope":"link","tentative":true}]}"#,
        )
        .unwrap();
        assert!(!interface_ready(&tentative));
        let no_carrier: Value = serde_json::from_str(
            r#"{"ifname":"eth1","flags":["NO-CARRIER","UP"],
                "addr_info":[{"family":"inet6","local":"fe80::1","scope":"link"}]}"#,
        )
        .unwrap();
        assert!(!interface_ready(&no_carrier));
    }
}
