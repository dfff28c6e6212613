//! Network namespaces and the veth pairs that join them.
//!
//! Everything a test configures lives inside namespaces it created; nothing
//! here touches the host's interfaces. A veth pair is created from inside
//! its first namespace with its far end moved straight into the second, so
//! interface names only need to be unique within a namespace.

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use ipnet::IpNet;

use crate::util::{cmd, run, wait_until};

/// A network namespace, deleted on drop (after killing whatever still runs
/// in it, which can only be processes this test started).
pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add NAME` and brings `lo` up.
    pub fn create(name: &str) -> Result<Netns> {
        cmd("ip", &["netns", "add", name])
            .with_context(|| format!("cannot create network namespace {name}"))?;
        let netns = Netns {
            name: name.to_string(),
        };
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// Takes ownership of an existing namespace (deleted on drop).
    pub(crate) fn adopt(name: &str) -> Netns {
        Netns {
            name: name.to_string(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS...`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        cmd("ip", &full)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `program ARGS` inside the namespace and returns its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        run(self.command(program).args(args))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(pids) = cmd("ip", &["netns", "pids", &self.name]) {
            for pid in pids.split_whitespace() {
                let _ = cmd("kill", &["-s", "KILL", pid]);
            }
        }
        if let Err(error) = cmd("ip", &["netns", "del", &self.name]) {
            eprintln!("warning: {error:#}");
        }
    }
}

/// One veth pair: its two ends and their addresses.
#[derive(Clone, Debug)]
pub struct Link {
    pub ns_a: String,
    pub if_a: String,
    pub addrs_a: Vec<IpNet>,
    pub ns_b: String,
    pub if_b: String,
    pub addrs_b: Vec<IpNet>,
}

impl Link {
    /// Side A's first address of the given kind (IPv4 or IPv6).
    pub fn addr_a(&self, ipv6: bool) -> Option<IpAddr> {
        first_of(&self.addrs_a, ipv6)
    }

    /// Side B's first address of the given kind (IPv4 or IPv6).
    pub fn addr_b(&self, ipv6: bool) -> Option<IpAddr> {
        first_of(&self.addrs_b, ipv6)
    }
}

fn first_of(addrs: &[IpNet], ipv6: bool) -> Option<IpAddr> {
    addrs
        .iter()
        .map(|net| net.addr())
        .find(|addr| addr.is_ipv6() == ipv6)
}

/// Creates a veth pair `ns_a:if_a` -- `ns_b:if_b`, assigns the addresses
/// (IPv6 with `nodad`), brings both ends up, and waits until the link is up
/// and no address is tentative.
pub fn veth(
    ns_a: &Netns,
    if_a: &str,
    addrs_a: &[IpNet],
    ns_b: &Netns,
    if_b: &str,
    addrs_b: &[IpNet],
) -> Result<Link> {
    ns_a.ip(&[
        "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", &ns_b.name,
    ])
    .with_context(|| format!("cannot create veth {}:{if_a}", ns_a.name))?;
    for (ns, ifname, addrs) in [(ns_a, if_a, addrs_a), (ns_b, if_b, addrs_b)] {
        for addr in addrs {
            let addr = addr.to_string();
            let mut args = vec!["addr", "add", &addr, "dev", ifname];
            if addr.contains(':') {
                args.push("nodad");
            }
            ns.ip(&args)?;
        }
        ns.ip(&["link", "set", ifname, "up"])?;
    }
    for (ns, ifname) in [(ns_a, if_a), (ns_b, if_b)] {
        wait_until(
            &format!("{}:{ifname} up without tentative addresses", ns.name),
            Duration::from_secs(10),
            || {
                let link = ns.ip(&["link", "show", "dev", ifname])?;
                let tentative = ns.ip(&["-6", "addr", "show", "dev", ifname, "tentative"])?;
                Ok((link.contains("LOWER_UP") && tentative.trim().is_empty()).then_some(()))
            },
        )?;
    }
    Ok(Link {
        ns_a: ns_a.name.clone(),
        if_a: if_a.to_string(),
        addrs_a: addrs_a.to_vec(),
        ns_b: ns_b.name.clone(),
        if_b: if_b.to_string(),
        addrs_b: addrs_b.to_vec(),
    })
}
