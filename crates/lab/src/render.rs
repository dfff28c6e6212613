//! Per-switch daemon configuration, rendered from the fabric plan. Pure:
//! strings out, no I/O.
//!
//! - [`closd_config`]: the `closd -c FILE` TOML (keys in `docs/config.md`):
//!   one unnumbered eBGP neighbor per fabric link (`interface = "ethN"`,
//!   `remote-as = "external"`, both unicast families over the IPv6
//!   link-local session, RFC 8950), accept-all policies (the fabric is one
//!   administrative domain; RFC 8212's default reject would carry nothing),
//!   multipath with AS-path relax, kernel FIB, and BFD when the intent
//!   enables it.
//! - [`frr_config`]: the same switch as FRR (`zebra`, `bgpd`, `bfdd`), for
//!   `clos-lab up --frr NODE` interop runs.

use std::fmt::Write as _;
use std::path::Path;

use crate::plan::{Fabric, Switch};

/// The kernel routing table closd installs into (`main`).
pub const FIB_TABLE: u32 = 254;

/// The name of the BFD profile in the FRR configs.
pub const FRR_BFD_PROFILE: &str = "clos-lab";

/// A TOML basic string. JSON string escapes (`\"`, `\\`, `\n`, `\u00XX`)
/// are all valid TOML escapes, so serde_json quotes it correctly.
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

fn quoted_list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| quote(&i.to_string())).collect();
    format!("[{}]", items.join(", "))
}

/// The closd configuration of `switch`, its API socket at `socket`.
pub fn closd_config(fabric: &Fabric, switch: &Switch, socket: &Path) -> String {
    let intent = &fabric.intent;
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# closd configuration of {} ({}, AS {}) in fabric {:?}.\n\
         # Rendered by clos-lab from the fabric intent: edit the intent, not this file.\n",
        switch.name, switch.role, switch.asn, intent.name
    );
    let _ = writeln!(c, "[router]");
    let _ = writeln!(c, "asn = {}", switch.asn);
    let _ = writeln!(c, "router-id = {}", quote(&switch.loopback.to_string()));
    let _ = writeln!(c, "listen = [\"[::]:179\"]");
    let _ = writeln!(c, "originate = {}", quoted_list(switch.originate()));
    let _ = writeln!(c, "hold-time = {}", intent.hold_time);
    let _ = writeln!(c, "multipath = {}", intent.multipath);
    let _ = writeln!(c, "multipath-relax = true");
    if !intent.fast_external_failover {
        let _ = writeln!(c, "fast-external-failover = false");
    }
    let _ = writeln!(c);
    let _ = writeln!(c, "[api]");
    let _ = writeln!(c, "socket = {}", quote(&socket.display().to_string()));
    let _ = writeln!(c);
    let _ = writeln!(c, "[fib]");
    let _ = writeln!(c, "kernel = true");
    let _ = writeln!(c, "table = {FIB_TABLE}");
    for port in &switch.ports {
        let _ = writeln!(c);
        let _ = writeln!(
            c,
            "# {} (AS {}) on {}",
            port.peer,
            port.peer_asn,
            port.link.name()
        );
        let _ = writeln!(c, "[[neighbor]]");
        let _ = writeln!(c, "interface = {}", quote(&port.interface));
        let _ = writeln!(c, "remote-as = \"external\"");
        let _ = writeln!(c, "families = [\"ipv4-unicast\", \"ipv6-unicast\"]");
        let _ = writeln!(c, "import = \"accept\"");
        let _ = writeln!(c, "export = \"accept\"");
        if let Some(bfd) = intent.bfd {
            let _ = writeln!(c, "bfd = true");
            let _ = writeln!(c, "bfd-interval = {}", bfd.interval_ms);
            let _ = writeln!(c, "bfd-multiplier = {}", bfd.multiplier);
        }
    }
    c
}

/// FRR's three config files for one switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrrConfig {
    /// `zebra.conf`.
    pub zebra: String,
    /// `bgpd.conf`.
    pub bgpd: String,
    /// `bfdd.conf` (a profile only; sessions are asked for by bgpd).
    pub bfdd: String,
}

/// `switch` as FRR, logging into `dir`.
pub fn frr_config(fabric: &Fabric, switch: &Switch, dir: &Path) -> FrrConfig {
    let intent = &fabric.intent;
    let dir = dir.display();
    // Routes with inline next hops, not kernel nexthop objects: the kernel
    // deletes a nexthop object (and drops it from its groups) when its
    // link goes down, and FRR 8.4's zebra does not put it back when the
    // link returns, so a restored link would never regain ECMP.
    let zebra = format!(
        "hostname {name}\nlog file {dir}/zebra.log informational\nno zebra nexthop kernel enable\n",
        name = switch.name
    );
    let mut bfdd = format!(
        "hostname {name}\nlog file {dir}/bfdd.log informational\n",
        name = switch.name
    );
    let mut b = String::new();
    let _ = writeln!(b, "frr defaults datacenter");
    let _ = writeln!(b, "hostname {}", switch.name);
    let _ = writeln!(b, "log file {dir}/bgpd.log informational");
    let _ = writeln!(b, "!");
    let _ = writeln!(b, "router bgp {}", switch.asn);
    let _ = writeln!(b, " bgp router-id {}", switch.loopback);
    let _ = writeln!(b, " no bgp ebgp-requires-policy");
    let _ = writeln!(b, " no bgp network import-check");
    let _ = writeln!(b, " bgp bestpath as-path multipath-relax");
    if !intent.fast_external_failover {
        let _ = writeln!(b, " no bgp fast-external-failover");
    }
    // No graceful restart: a lost session must flush its routes at once,
    // as closd does.
    let _ = writeln!(b, " bgp graceful-restart-disable");
    let keepalive = intent.keepalive.unwrap_or(if intent.hold_time == 0 {
        0
    } else {
        (intent.hold_time / 3).max(1)
    });
    let _ = writeln!(b, " timers bgp {keepalive} {}", intent.hold_time);
    for port in &switch.ports {
        let i = &port.interface;
        let _ = writeln!(b, " neighbor {i} interface remote-as external");
        let _ = writeln!(b, " neighbor {i} timers connect 1");
        if intent.bfd.is_some() {
            let _ = writeln!(b, " neighbor {i} bfd");
            let _ = writeln!(b, " neighbor {i} bfd profile {FRR_BFD_PROFILE}");
        }
    }
    let originate = switch.originate();
    for (afi, v6) in [("ipv4", false), ("ipv6", true)] {
        let _ = writeln!(b, " address-family {afi} unicast");
        for port in &switch.ports {
            let _ = writeln!(b, "  neighbor {} activate", port.interface);
        }
        for prefix in originate.iter().filter(|p| p.addr().is_ipv6() == v6) {
            let _ = writeln!(b, "  network {prefix}");
        }
        let _ = writeln!(b, "  maximum-paths {}", intent.multipath);
        let _ = writeln!(b, " exit-address-family");
    }
    let _ = writeln!(b, "exit");
    if let Some(bfd) = intent.bfd {
        let _ = writeln!(bfdd, "bfd");
        let _ = writeln!(bfdd, " profile {FRR_BFD_PROFILE}");
        let _ = writeln!(bfdd, "  detect-multiplier {}", bfd.multiplier);
        let _ = writeln!(bfdd, "  receive-interval {}", bfd.interval_ms);
        let _ = writeln!(bfdd, "  transmit-interval {}", bfd.interval_ms);
        let _ = writeln!(bfdd, " exit");
        let _ = writeln!(bfdd, "exit");
    }
    FrrConfig {
        zebra,
        bgpd: b,
        bfdd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::Intent;

    #[test]
    fn closd_config_of_a_leaf() {
        let fabric = Fabric::new(&Intent::default_fabric());
        let leaf1 = fabric.switch("leaf1").unwrap();
        let text = closd_config(
            &fabric,
            leaf1,
            Path::new("/run/clos-lab/clos/leaf1/closd.sock"),
        );
        for line in [
            "asn = 65001",
            "router-id = \"10.255.0.3\"",
            "listen = [\"[::]:179\"]",
            "originate = [\"10.255.0.3/32\", \"10.1.1.0/24\", \"2001:db8:1:1::/64\"]",
            "hold-time = 9",
            "multipath = 8",
            "multipath-relax = true",
            "socket = \"/run/clos-lab/clos/leaf1/closd.sock\"",
            "kernel = true",
            "table = 254",
            "interface = \"eth2\"",
            "remote-as = \"external\"",
            "families = [\"ipv4-unicast\", \"ipv6-unicast\"]",
            "bfd = true",
            "bfd-interval = 50",
            "bfd-multiplier = 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert_eq!(text.matches("[[neighbor]]").count(), 2);
    }

    #[test]
    fn frr_config_of_a_leaf() {
        let fabric = Fabric::new(&Intent::default_fabric());
        let leaf1 = fabric.switch("leaf1").unwrap();
        let frr = frr_config(&fabric, leaf1, Path::new("/tmp/x"));
        for line in [
            "router bgp 65001",
            " neighbor eth1 interface remote-as external",
            " neighbor eth2 bfd",
            " neighbor eth2 bfd profile clos-lab",
            " timers bgp 3 9",
            "  network 10.1.1.0/24",
            "  network 2001:db8:1:1::/64",
            "  maximum-paths 8",
        ] {
            assert!(
                frr.bgpd.lines().any(|l| l == line),
                "no {line:?} in\n{}",
                frr.bgpd
            );
        }
        assert!(frr.bfdd.contains("  receive-interval 50\n"));
        assert!(frr.bfdd.contains("  detect-multiplier 3\n"));
    }

    #[test]
    fn quoting_is_toml() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
