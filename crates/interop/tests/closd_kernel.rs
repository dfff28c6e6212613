//! closd installing its best routes into the Linux kernel (`[fib] kernel =
//! true`), in three namespaces in a line: BIRD (AS 65001) — closd (AS
//! 65000) — BIRD (AS 65002), IPv4 and IPv6 sessions on each link. Each
//! BIRD announces its host prefix, whose first address sits on its `lo`;
//! the outer namespaces route everything via the middle, so a ping between
//! them only works through the routes closd put into the middle's kernel.
//!
//! Needs root and `cargo build --workspace --bins` first.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use clos_interop::closd::ClosdOptions;
use clos_interop::{
    veth, wait_until, Bird, Closd, Family, Lab, NeighborConfig, Netns, Peer, RouteAttrs,
    RouterConfig,
};
use ipnet::IpNet;
use serde_json::Value;

const DUT_AS: u32 = 65000;
const TIMEOUT: Duration = Duration::from_secs(60);

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix")
}

/// One outer speaker: its namespace, BIRD, link addresses and host prefixes.
struct Side {
    ns: Netns,
    bird: Bird,
    /// Its addresses on the link to the middle (v4, v6).
    addr: [IpAddr; 2],
    /// Its host prefixes (v4, v6) and the address on `lo` in each.
    prefixes: [IpNet; 2],
    host: [IpAddr; 2],
}

struct KernelLine {
    m: Netns,
    closd: Closd,
    sides: Vec<Side>,
}

/// `index` 1 and 2 are the left and right of the line; 3 is a second
/// upstream on the left announcing the same prefixes as 1 (ECMP).
fn build(lab: &Lab, sides: &[(u8, u32)], options: ClosdOptions) -> Result<KernelLine> {
    let m = lab.netns("m")?;
    // keep_addr_on_down: a router keeps its IPv6 addresses across a link
    // flap (Linux flushes them by default), as FRR's docs recommend.
    for sysctl in [
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.conf.all.keep_addr_on_down=1",
        "net.ipv6.conf.default.keep_addr_on_down=1",
    ] {
        m.exec("sysctl", &["-qw", sysctl])?;
    }
    let mut outer = Vec::new();
    let mut closd_neighbors = Vec::new();
    for &(index, asn) in sides {
        let ns = lab.netns(&format!("s{index}"))?;
        let m_addrs = [
            net(&format!("10.0.{index}.1/30")),
            net(&format!("fd00:0:0:{index}::1/64")),
        ];
        let s_addrs = [
            net(&format!("10.0.{index}.2/30")),
            net(&format!("fd00:0:0:{index}::2/64")),
        ];
        veth(&m, &format!("to{index}"), &m_addrs, &ns, "eth0", &s_addrs)?;
        // The ECMP upstream announces the same prefixes as side 1.
        let host_index = if index == 3 { 1 } else { index };
        let prefixes = [
            net(&format!("10.20{host_index}.0.0/24")),
            net(&format!("2001:db8:20{host_index}::/48")),
        ];
        let host: [IpAddr; 2] = [
            format!("10.20{host_index}.0.1").parse()?,
            format!("2001:db8:20{host_index}::1").parse()?,
        ];
        if index != 3 {
            ns.ip(&["addr", "add", &format!("{}/32", host[0]), "dev", "lo"])?;
            ns.ip(&["addr", "add", &format!("{}/128", host[1]), "dev", "lo"])?;
        }
        ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &m_addrs[0].addr().to_string(),
        ])?;
        ns.ip(&[
            "-6",
            "route",
            "add",
            "default",
            "via",
            &m_addrs[1].addr().to_string(),
        ])?;
        let mut neighbors = Vec::new();
        for (i, family) in [Family::Ipv4Unicast, Family::Ipv6Unicast]
            .into_iter()
            .enumerate()
        {
            neighbors.push(NeighborConfig {
                address: m_addrs[i].addr(),
                local_address: s_addrs[i].addr(),
                remote_as: DUT_AS,
                family,
                hold_time: None,
                passive: false,
            });
            closd_neighbors.push(NeighborConfig {
                address: s_addrs[i].addr(),
                local_address: m_addrs[i].addr(),
                remote_as: asn,
                family,
                hold_time: None,
                passive: false,
            });
        }
        // BIRD's default `graceful restart aware`: it sends End-of-RIB,
        // which is how closd knows its stale routes may go.
        let bird = Bird::start_with(
            lab,
            &ns,
            &format!("s{index}"),
            RouterConfig {
                asn,
                router_id: Ipv4Addr::new(10, 255, 0, index + 1),
                neighbors,
                originate: Vec::new(),
            },
            true,
        )?;
        outer.push(Side {
            ns,
            bird,
            addr: [s_addrs[0].addr(), s_addrs[1].addr()],
            prefixes,
            host,
        });
    }
    let closd = Closd::start_with(
        lab,
        &m,
        "m",
        RouterConfig {
            asn: DUT_AS,
            router_id: Ipv4Addr::new(10, 255, 0, 1),
            neighbors: closd_neighbors,
            originate: Vec::new(),
        },
        options,
    )?;
    let line = KernelLine {
        m,
        closd,
        sides: outer,
    };
    for side in &line.sides {
        for addr in side.addr {
            line.closd.wait_established(addr, TIMEOUT)?;
        }
    }
    Ok(line)
}

fn kernel_options() -> ClosdOptions {
    ClosdOptions {
        kernel: Some(120),
        ..Default::default()
    }
}

impl KernelLine {
    fn announce_hosts(&mut self, side: usize) -> Result<()> {
        for prefix in self.sides[side].prefixes {
            self.sides[side]
                .bird
                .announce(prefix, &RouteAttrs::default())?;
        }
        Ok(())
    }

    /// `ip route show proto 201 PREFIX` in the middle (`-j`: JSON).
    fn kernel_route(&self, prefix: IpNet) -> Result<Option<Value>> {
        let family = if prefix.addr().is_ipv6() { "-6" } else { "-4" };
        let out = self.m.ip(&[
            "-j",
            family,
            "route",
            "show",
            "proto",
            "201",
            &prefix.to_string(),
        ])?;
        let routes: Value = serde_json::from_str(&out).context("ip -j route")?;
        Ok(routes.as_array().and_then(|a| a.first()).cloned())
    }

    fn wait_kernel_route(&self, prefix: IpNet) -> Result<Value> {
        wait_until(
            &format!("{prefix} in the middle's kernel with proto 201"),
            TIMEOUT,
            || self.kernel_route(prefix),
        )
    }

    fn wait_no_kernel_route(&self, prefix: IpNet) -> Result<()> {
        wait_until(
            &format!("{prefix} gone from the middle's kernel"),
            TIMEOUT,
            || Ok(self.kernel_route(prefix)?.is_none().then_some(())),
        )
    }

    fn fib(&self) -> Result<Value> {
        self.closd.closctl_json(&["fib", "kernel"])
    }

    /// Pings side `to`'s host address from side `from`'s, `family` 0/1.
    fn ping(&self, from: usize, to: usize, family: usize) -> bool {
        let (src, dst) = (
            self.sides[from].host[family].to_string(),
            self.sides[to].host[family].to_string(),
        );
        let flag = if family == 1 { "-6" } else { "-4" };
        self.sides[from]
            .ns
            .exec("ping", &[flag, "-c", "1", "-W", "1", "-I", &src, &dst])
            .is_ok()
    }

    fn wait_ping(&self, from: usize, to: usize) -> Result<()> {
        for family in 0..2 {
            wait_until(
                &format!(
                    "ping {} -> {}",
                    self.sides[from].host[family], self.sides[to].host[family]
                ),
                TIMEOUT,
                || Ok(self.ping(from, to, family).then_some(())),
            )?;
        }
        Ok(())
    }
}

#[test]
fn host_prefixes_become_pingable_through_the_middle() {
    Lab::run("kernel_ping", |lab| {
        let mut line = build(lab, &[(1, 65001), (2, 65002)], kernel_options())?;
        line.announce_hosts(0)?;
        line.announce_hosts(1)?;
        for side in 0..2 {
            for prefix in line.sides[side].prefixes {
                let route = line.wait_kernel_route(prefix)?;
                // A single-path route through a nexthop object whose
                // gateway is the BIRD's link address.
                ensure!(
                    route.get("nhid").is_some(),
                    "{prefix}: no nexthop object: {route}"
                );
                ensure!(
                    route["gateway"].as_str()
                        == Some(
                            &line.sides[side].addr[prefix.addr().is_ipv6() as usize].to_string()
                        ),
                    "{prefix}: wrong gateway: {route}"
                );
            }
        }
        line.wait_ping(1, 0)?;
        line.wait_ping(0, 1)?;
        // Exactly closd's routes under its protocol number, and the name
        // closd gave it for ip(8).
        let ours = line.m.ip(&["route", "show", "proto", "clos"])?;
        let ours6 = line.m.ip(&["-6", "route", "show", "proto", "clos"])?;
        ensure!(
            ours.lines().count() == 2 && ours6.lines().count() == 2,
            "proto clos:\n{ours}{ours6}"
        );
        let fib = line.fib()?;
        ensure!(fib["installed"] == 4 && fib["wanted"] == 4, "{fib}");
        ensure!(fib["failed"] == 0 && fib["unresolved"] == 0, "{fib}");
        ensure!(fib["routes"].as_array().map(Vec::len) == Some(4), "{fib}");

        // Withdraw: the routes leave the kernel, the ping stops.
        let left = line.sides[0].prefixes;
        for prefix in left {
            line.sides[0].bird.withdraw(prefix)?;
        }
        for prefix in left {
            line.wait_no_kernel_route(prefix)?;
        }
        ensure!(!line.ping(1, 0, 0), "ping still works after the withdrawal");
        line.announce_hosts(0)?;
        for prefix in left {
            line.wait_kernel_route(prefix)?;
        }
        line.wait_ping(1, 0)?;

        // Link down under a live session (the hold timer has not run out):
        // the next hop is unreachable, so the routes leave the kernel...
        line.m.ip(&["link", "set", "dev", "to1", "down"])?;
        for prefix in left {
            line.wait_no_kernel_route(prefix)?;
        }
        let fib = line.fib()?;
        ensure!(
            fib["unresolved"].as_u64() >= Some(1),
            "unresolved next hops not counted: {fib}"
        );
        // ...and come back with the link.
        line.m.ip(&["link", "set", "dev", "to1", "up"])?;
        for prefix in left {
            line.wait_kernel_route(prefix)?;
        }
        line.wait_ping(1, 0)?;
        Ok(())
    });
}

#[test]
fn two_upstreams_share_one_nexthop_group() {
    Lab::run("kernel_ecmp", |lab| {
        let options = ClosdOptions {
            multipath: Some(8),
            ..kernel_options()
        };
        let mut line = build(lab, &[(1, 65001), (2, 65002), (3, 65003)], options)?;
        line.announce_hosts(0)?;
        line.announce_hosts(1)?;
        line.announce_hosts(2)?;
        for prefix in line.sides[0].prefixes {
            let route = wait_until(&format!("{prefix} over two paths"), TIMEOUT, || {
                let Some(route) = line.kernel_route(prefix)? else {
                    return Ok(None);
                };
                let nhid = route["nhid"].as_u64().context("nhid")?;
                let group = line
                    .m
                    .ip(&["-j", "nexthop", "show", "id", &nhid.to_string()])?;
                let group: Value = serde_json::from_str(&group)?;
                let members = group[0]["group"].as_array().map(Vec::len).unwrap_or(0);
                Ok((members == 2).then_some(route))
            })?;
            ensure!(
                route["nexthops"].as_array().map(Vec::len).unwrap_or(2) == 2,
                "{route}"
            );
        }
        // One group for both prefixes of a family is not possible (the
        // IPv4 and IPv6 gateways differ); one per family, shared by every
        // prefix of that family with the same set.
        let fib = line.fib()?;
        ensure!(
            fib["nexthop_groups"] == 2,
            "expected one group per family: {fib}"
        );
        let paths = fib["routes"][0]["paths"].as_array().map(Vec::len);
        ensure!(paths == Some(2), "{fib}");

        // One upstream withdraws: single path again.
        for prefix in line.sides[2].prefixes {
            line.sides[2].bird.withdraw(prefix)?;
        }
        for prefix in line.sides[0].prefixes {
            let gateway = line.sides[0].addr[prefix.addr().is_ipv6() as usize].to_string();
            wait_until(&format!("{prefix} back to one path"), TIMEOUT, || {
                Ok(line
                    .kernel_route(prefix)?
                    .filter(|r| r["gateway"].as_str() == Some(&gateway)))
            })?;
        }
        line.wait_ping(1, 0)?;
        Ok(())
    });
}

#[test]
fn restart_keeps_forwarding_and_removes_stale_routes() {
    Lab::run("kernel_restart", |lab| {
        let mut line = build(lab, &[(1, 65001), (2, 65002)], kernel_options())?;
        line.announce_hosts(0)?;
        line.announce_hosts(1)?;
        let prefix = line.sides[0].prefixes[0];
        line.wait_kernel_route(prefix)?;
        line.wait_ping(1, 0)?;

        // Watch the route the whole time closd is away and back.
        let stop = Arc::new(AtomicBool::new(false));
        let gaps = Arc::new(AtomicUsize::new(0));
        let checks = Arc::new(AtomicUsize::new(0));
        let watcher = {
            let (stop, gaps, checks) = (stop.clone(), gaps.clone(), checks.clone());
            let ns = line.m.name().to_string();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = std::process::Command::new("ip")
                        .args([
                            "-n",
                            &ns,
                            "route",
                            "show",
                            "proto",
                            "201",
                            &prefix.to_string(),
                        ])
                        .output();
                    if out.is_ok_and(|o| o.stdout.is_empty()) {
                        gaps.fetch_add(1, Ordering::Relaxed);
                    }
                    checks.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        line.closd.stop()?;
        // closd is gone; its routes are not, and still forward.
        ensure!(
            line.kernel_route(prefix)?.is_some(),
            "the route left with closd"
        );
        ensure!(line.ping(1, 0, 0), "no forwarding while closd is down");
        // A route of ours nobody will re-announce: stale after the restart.
        let stale = net("10.77.0.0/24");
        line.m.ip(&[
            "route",
            "add",
            &stale.to_string(),
            "via",
            "10.0.1.2",
            "proto",
            "201",
            "metric",
            "20",
        ])?;
        line.closd.start()?;
        let fib = line.fib()?;
        ensure!(
            fib["adopted"].as_u64() >= Some(5),
            "the earlier run's routes were not adopted: {fib}"
        );
        for side in &line.sides {
            for addr in side.addr {
                line.closd.wait_established(addr, TIMEOUT)?;
            }
        }
        // Every neighbor sends End-of-RIB: the stale route goes, the
        // re-announced ones stay.
        line.wait_no_kernel_route(stale)?;
        let fib = line.fib()?;
        ensure!(
            fib["stale_pending"] == false && fib["stale_removed"] == 1,
            "{fib}"
        );
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        ensure!(
            checks.load(Ordering::Relaxed) > 10,
            "the watcher did not run"
        );
        ensure!(
            gaps.load(Ordering::Relaxed) == 0,
            "{prefix} was missing from the kernel {} of {} times during the restart",
            gaps.load(Ordering::Relaxed),
            checks.load(Ordering::Relaxed)
        );
        for prefix in line.sides[0].prefixes {
            line.wait_kernel_route(prefix)?;
        }
        line.wait_ping(1, 0)?;
        Ok(())
    });
}

#[test]
fn start_up_hold_waits_for_a_missing_neighbor_until_it_expires() {
    Lab::run("kernel_hold", |lab| {
        const HOLD: u64 = 10;
        let options = ClosdOptions {
            kernel: Some(120),
            initial_hold: Some(HOLD as u32),
            ..Default::default()
        };
        let mut line = build(lab, &[(1, 65001), (2, 65002)], options)?;
        line.announce_hosts(0)?;
        let prefix = line.sides[0].prefixes[0];
        // Both neighbors up: End-of-RIB from both ends the hold at once.
        line.wait_kernel_route(prefix)?;
        ensure!(line.fib()?["holding"] != true, "{}", line.fib()?);

        // Restart closd with side 2's BIRD gone and our routes flushed, so
        // every route it installs now is written by the new run.
        line.sides[1].bird.stop()?;
        line.closd.stop()?;
        // Deleting the nexthop objects deletes the routes using them
        // (`ip route flush` refuses routes with a nexthop id).
        line.m.ip(&["nexthop", "flush"])?;
        ensure!(
            line.kernel_route(prefix)?.is_none(),
            "{prefix} survived the flush"
        );
        let started = std::time::Instant::now();
        line.closd.start()?;
        for addr in line.sides[0].addr {
            line.closd.wait_established(addr, TIMEOUT)?;
        }
        // While held, nothing is written; a route seen in the kernel means
        // the hold ended before (the flag is cleared before the writes).
        let mut seen_holding = false;
        let installed = wait_until("the hold to expire", TIMEOUT, || {
            let route = line.kernel_route(prefix)?;
            let holding = line.fib()?["holding"] == true;
            seen_holding |= holding;
            Ok(match (route, holding) {
                (Some(_), true) => Some(Err(anyhow::anyhow!(
                    "{prefix} was written during the start-up hold"
                ))),
                (Some(_), false) => Some(Ok(started.elapsed())),
                (None, _) => None,
            })
        })??;
        ensure!(
            seen_holding,
            "closd never reported the hold (routes after {installed:?})"
        );
        ensure!(
            installed >= Duration::from_secs(HOLD - 1),
            "{prefix} installed after {installed:?}: before the {HOLD} s hold expired"
        );
        Ok(())
    });
}

#[test]
fn a_route_the_kernel_refuses_is_reported_and_retried() {
    Lab::run("kernel_refused", |lab| {
        let mut line = build(lab, &[(1, 65001), (2, 65002)], kernel_options())?;
        let prefix = line.sides[0].prefixes[0];
        // Another protocol's route at the same prefix and metric: the
        // kernel refuses ours (EEXIST), and closd must not replace it.
        line.m.ip(&[
            "route",
            "add",
            &prefix.to_string(),
            "via",
            "10.0.1.2",
            "proto",
            "static",
            "metric",
            "20",
        ])?;
        line.announce_hosts(0)?;
        let fib = wait_until("the refusal in closctl fib kernel", TIMEOUT, || {
            let fib = line.fib()?;
            Ok((fib["failed"] == 1).then_some(fib))
        })?;
        ensure!(
            fib["failures"][0]["prefix"] == prefix.to_string().as_str(),
            "{fib}"
        );
        let error = fib["failures"][0]["error"].as_str().unwrap_or("");
        ensure!(
            error.contains("another protocol"),
            "not the refusal: {error:?}"
        );
        let text = line.closd.closctl(&["fib", "kernel"])?;
        ensure!(
            text.contains("Refused by the kernel") && text.contains(error),
            "{text}"
        );
        let theirs = line.m.ip(&["route", "show", &prefix.to_string()])?;
        ensure!(
            theirs.contains("proto static"),
            "the static route was touched: {theirs}"
        );
        // The IPv6 prefix had no conflict and is in.
        line.wait_kernel_route(line.sides[0].prefixes[1])?;

        // The conflict goes: closd's route is retried and installed.
        line.m.ip(&[
            "route",
            "del",
            &prefix.to_string(),
            "proto",
            "static",
            "metric",
            "20",
        ])?;
        line.wait_kernel_route(prefix)?;
        let fib = wait_until("no refusals left", TIMEOUT, || {
            let fib = line.fib()?;
            Ok((fib["failed"] == 0).then_some(fib))
        })?;
        ensure!(fib["installed"] == 2, "{fib}");
        Ok(())
    });
}
