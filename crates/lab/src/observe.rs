//! What a running lab looks like: sessions from each switch's daemon,
//! routes from its Loc-RIB and from the kernel FIB, and whether the fabric
//! has converged.
//!
//! Split in two so the judgement is tested without a lab:
//! - [`observe`] does the I/O: `closctl --socket SOCK --json bgp summary` and
//!   `bgp routes` for closd switches, `vtysh ... show bgp summary json` for
//!   FRR switches, `ip -j route` (and `ip -j nexthop` when routes use
//!   nexthop objects) for every switch, in parallel;
//! - [`evaluate`] turns those [`SwitchObservation`]s into a [`LabStatus`]:
//!   the fabric has *converged* when every daemon runs, every session is
//!   Established and every switch has a kernel route (and, for closd, a
//!   Loc-RIB route) to every expected prefix ([`Fabric::expected_routes`]);
//!   it has *full ECMP* when, in addition, every such route has as many
//!   live next hops as there are equal-cost paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use ipnet::IpNet;
use serde::Serialize;
use serde_json::Value;

use crate::fabric;
use crate::plan::{namespace, Fabric, FabricLink, Switch};
use crate::render::FIB_TABLE;
use crate::state::{LabDir, State};
use crate::sys::{self, ip_in, run};
use crate::table::{duration, or_dash, Table};

/// Which daemon a switch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    /// clos's own.
    Closd,
    /// FRR (`--frr NODE`).
    Frr,
}

impl std::fmt::Display for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Daemon::Closd => "closd",
            Daemon::Frr => "frr",
        })
    }
}

/// One BGP session as its daemon reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `Established`, `Active`, ...
    pub state: String,
    /// Time in that state, when reported.
    pub uptime_seconds: Option<u64>,
}

/// One kernel route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KernelRoute {
    /// Live next hops (not dead, not linkdown).
    pub paths: usize,
    /// Their devices.
    pub devices: Vec<String>,
}

/// Everything read from one switch; errors kept as text for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchObservation {
    /// The daemon it should run, if daemons were started.
    pub daemon: Option<Daemon>,
    /// The daemon's PID (bgpd's for FRR).
    pub pid: Option<u32>,
    /// Whether that process is alive.
    pub running: bool,
    /// Sessions by local interface name.
    pub sessions: Result<BTreeMap<String, Session>, String>,
    /// closd's Loc-RIB prefixes (`None` for FRR or without a daemon).
    pub bgp_prefixes: Option<Result<BTreeSet<IpNet>, String>>,
    /// The kernel's routes in the FIB table.
    pub kernel: Result<BTreeMap<IpNet, KernelRoute>, String>,
}

/// One row per node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub node: String,
    /// `spine`, `leaf` or `host`.
    pub role: String,
    pub namespace: String,
    pub asn: Option<u32>,
    /// Loopback (switches) or IPv4 address (hosts).
    pub address: String,
    pub daemon: Option<Daemon>,
    pub pid: Option<u32>,
    pub running: Option<bool>,
    pub sessions_established: usize,
    pub sessions_expected: usize,
    pub bgp_prefixes: Option<usize>,
    pub fib_routes: usize,
    pub fib_expected: usize,
    pub full_ecmp_routes: usize,
}

/// One row per expected session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRow {
    pub node: String,
    pub interface: String,
    pub peer: String,
    pub peer_asn: u32,
    pub state: String,
    pub uptime_seconds: Option<u64>,
}

/// One row per expected route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRow {
    pub node: String,
    pub prefix: String,
    /// Live kernel next hops.
    pub paths: usize,
    pub expected_paths: usize,
    /// In closd's Loc-RIB (`None` for FRR).
    pub in_bgp: Option<bool>,
    pub via: Vec<String>,
}

/// The state of the whole lab (`clos-lab status --json` prints this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabStatus {
    pub fabric: String,
    pub prefix: String,
    /// False for a lab made with `up --no-daemons`.
    pub daemons: bool,
    pub converged: bool,
    pub full_ecmp: bool,
    pub links_down: Vec<String>,
    pub problems: Vec<String>,
    pub nodes: Vec<NodeRow>,
    pub sessions: Vec<SessionRow>,
    pub routes: Vec<RouteRow>,
}

/// Reads the state of every switch of the lab, in parallel.
pub fn observe(
    fabric: &Fabric,
    prefix: &str,
    dir: &LabDir,
    state: &State,
) -> BTreeMap<String, SwitchObservation> {
    let switches: Vec<&Switch> = fabric.switches().collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = switches
            .iter()
            .map(|switch| {
                scope.spawn(move || {
                    (
                        switch.name.clone(),
                        observe_switch(switch, prefix, dir, state),
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn daemon_of(state: &State, node: &str) -> Option<Daemon> {
    if !state.daemons {
        None
    } else if state.frr.iter().any(|n| n == node) {
        Some(Daemon::Frr)
    } else {
        Some(Daemon::Closd)
    }
}

fn observe_switch(switch: &Switch, prefix: &str, dir: &LabDir, state: &State) -> SwitchObservation {
    let ns = namespace(prefix, &switch.name);
    let daemon = daemon_of(state, &switch.name);
    let program = match daemon {
        Some(Daemon::Frr) => "bgpd",
        _ => "closd",
    };
    let pid = state
        .processes
        .iter()
        .find(|p| p.node == switch.name && p.program == program)
        .map(|p| p.pid);
    let running = pid.is_some_and(sys::pid_alive);
    let (sessions, bgp_prefixes) = match daemon {
        None => (Ok(BTreeMap::new()), None),
        Some(Daemon::Closd) => {
            let socket = dir.socket(&switch.name);
            let closctl = state.closctl.as_deref().unwrap_or(Path::new("closctl"));
            (
                text(closd_sessions(closctl, &socket)),
                Some(text(closd_prefixes(closctl, &socket))),
            )
        }
        Some(Daemon::Frr) => (text(frr_sessions(&dir.frr_dir(&switch.name))), None),
    };
    SwitchObservation {
        daemon,
        pid,
        running,
        sessions,
        bgp_prefixes,
        kernel: text(kernel_routes(&ns)),
    }
}

/// An error as one line of text, for the report.
fn text<T>(result: Result<T>) -> Result<T, String> {
    result.map_err(|error| sys::one_line(&format!("{error:#}")))
}

fn closctl_json(closctl: &Path, socket: &Path, args: &[&str]) -> Result<Value> {
    let out = run(Command::new(closctl)
        .arg("--socket")
        .arg(socket)
        .arg("--json")
        .args(args))?;
    serde_json::from_str(&out).with_context(|| format!("closctl printed bad JSON: {out}"))
}

fn closd_sessions(closctl: &Path, socket: &Path) -> Result<BTreeMap<String, Session>> {
    let summary = closctl_json(closctl, socket, &["bgp", "summary"])?;
    Ok(parse_closd_summary(&summary))
}

/// `closctl bgp summary --json`: `neighbors[].address` is the interface
/// name for unnumbered neighbors.
pub fn parse_closd_summary(summary: &Value) -> BTreeMap<String, Session> {
    summary["neighbors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            Some((
                n["address"].as_str()?.to_string(),
                Session {
                    state: n["state"].as_str().unwrap_or("?").to_string(),
                    uptime_seconds: n["uptime_seconds"].as_u64(),
                },
            ))
        })
        .collect()
}

fn closd_prefixes(closctl: &Path, socket: &Path) -> Result<BTreeSet<IpNet>> {
    let routes = closctl_json(closctl, socket, &["bgp", "routes"])?;
    Ok(routes["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["prefix"].as_str()?.parse().ok())
        .collect())
}

fn frr_sessions(frr_dir: &Path) -> Result<BTreeMap<String, Session>> {
    let out = run(Command::new("vtysh")
        .arg("--vty_socket")
        .arg(frr_dir)
        .args(["-d", "bgpd", "-c", "show bgp summary json"]))?;
    let summary: Value =
        serde_json::from_str(&out).with_context(|| format!("vtysh printed bad JSON: {out}"))?;
    Ok(parse_frr_summary(&summary))
}

/// FRR's `show bgp summary json`: peers per family, keyed by interface
/// name for `neighbor ethN interface` peers.
pub fn parse_frr_summary(summary: &Value) -> BTreeMap<String, Session> {
    let mut sessions = BTreeMap::new();
    for family in ["ipv4Unicast", "ipv6Unicast"] {
        for (name, peer) in summary[family]["peers"].as_object().into_iter().flatten() {
            sessions.entry(name.clone()).or_insert_with(|| Session {
                state: peer["state"].as_str().unwrap_or("?").to_string(),
                uptime_seconds: peer["peerUptimeMsec"].as_u64().map(|ms| ms / 1000),
            });
        }
    }
    sessions
}

fn kernel_routes(ns: &str) -> Result<BTreeMap<IpNet, KernelRoute>> {
    let table = FIB_TABLE.to_string();
    let v4 = ip_in(ns, &["-j", "-4", "route", "show", "table", &table])?;
    let v6 = ip_in(ns, &["-j", "-6", "route", "show", "table", &table])?;
    let needs_nexthops = v4.contains("\"nhid\"") || v6.contains("\"nhid\"");
    let nexthops = if needs_nexthops {
        ip_in(ns, &["-j", "nexthop", "show"])?
    } else {
        "[]".to_string()
    };
    parse_kernel_routes(&[&v4, &v6], &nexthops)
}

fn flags_live(value: &Value) -> bool {
    !value["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| matches!(f.as_str(), Some("dead" | "linkdown")))
}

/// Routes from `ip -j route show` outputs (one per family), resolving
/// nexthop objects from `ip -j nexthop show` when a route has only an
/// `nhid`.
pub fn parse_kernel_routes(
    outputs: &[&str],
    nexthops: &str,
) -> Result<BTreeMap<IpNet, KernelRoute>> {
    let nexthops: Value = serde_json::from_str(if nexthops.trim().is_empty() {
        "[]"
    } else {
        nexthops
    })
    .context("ip -j nexthop show printed bad JSON")?;
    let by_id: BTreeMap<u64, &Value> = nexthops
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_u64()?, n)))
        .collect();
    let single = |n: &Value| -> KernelRoute {
        match n["dev"].as_str() {
            Some(dev) if flags_live(n) => KernelRoute {
                paths: 1,
                devices: vec![dev.to_string()],
            },
            _ => KernelRoute::default(),
        }
    };
    let resolve = |id: u64| -> KernelRoute {
        let Some(nexthop) = by_id.get(&id) else {
            return KernelRoute::default();
        };
        match nexthop["group"].as_array() {
            Some(members) => {
                let mut route = KernelRoute::default();
                for member in members {
                    if let Some(member) = member["id"].as_u64().and_then(|id| by_id.get(&id)) {
                        let one = single(member);
                        route.paths += one.paths;
                        route.devices.extend(one.devices);
                    }
                }
                route
            }
            None => single(nexthop),
        }
    };
    let mut routes = BTreeMap::new();
    for output in outputs {
        let entries: Value = serde_json::from_str(if output.trim().is_empty() {
            "[]"
        } else {
            output
        })
        .context("ip -j route show printed bad JSON")?;
        for entry in entries.as_array().into_iter().flatten() {
            if entry["type"].as_str().is_some_and(|t| t != "unicast") {
                continue;
            }
            let Some(dst) = entry["dst"].as_str() else {
                continue;
            };
            let dst = if dst.contains('/') {
                dst.to_string()
            } else if dst.contains(':') {
                format!("{dst}/128")
            } else {
                format!("{dst}/32")
            };
            let Ok(prefix) = dst.parse::<IpNet>() else {
                continue; // "default" and the like
            };
            let route = if let Some(hops) = entry["nexthops"].as_array() {
                let mut route = KernelRoute::default();
                for hop in hops {
                    let one = single(hop);
                    route.paths += one.paths;
                    route.devices.extend(one.devices);
                }
                route
            } else if entry["dev"].is_string() {
                single(entry)
            } else if let Some(id) = entry["nhid"].as_u64() {
                resolve(id)
            } else {
                KernelRoute::default()
            };
            routes.insert(prefix, route);
        }
    }
    Ok(routes)
}

/// Judges the observations: convergence, ECMP, and a readable list of
/// what is still missing.
pub fn evaluate(
    fabric: &Fabric,
    prefix: &str,
    observations: &BTreeMap<String, SwitchObservation>,
    links_down: &BTreeSet<FabricLink>,
) -> LabStatus {
    let mut problems = Vec::new();
    let mut nodes = Vec::new();
    let mut sessions = Vec::new();
    let mut routes = Vec::new();
    let mut converged = true;
    let mut full_ecmp = true;
    // Without daemons (`up --no-daemons`) nothing routes: say so once
    // instead of listing every missing route.
    let daemons = observations.values().any(|o| o.daemon.is_some());
    if !daemons {
        converged = false;
        problems.push("no daemons running (the lab was made with `up --no-daemons`)".into());
    }
    for switch in fabric.switches() {
        let missing = SwitchObservation {
            daemon: None,
            pid: None,
            running: false,
            sessions: Err("not observed".into()),
            bgp_prefixes: None,
            kernel: Err("not observed".into()),
        };
        let observation = observations.get(&switch.name).unwrap_or(&missing);
        match (observation.daemon, observation.running) {
            (None, _) => converged = false,
            (Some(daemon), false) => {
                converged = false;
                problems.push(format!("{}: {daemon} is not running", switch.name));
            }
            _ => {}
        }

        let mut established = 0;
        for port in &switch.ports {
            let (state, uptime) = match &observation.sessions {
                Ok(map) => match map.get(&port.interface) {
                    Some(session) => (session.state.clone(), session.uptime_seconds),
                    None => ("(none)".to_string(), None),
                },
                Err(_) => ("?".to_string(), None),
            };
            if state == "Established" {
                established += 1;
            } else if observation.daemon.is_some() {
                converged = false;
                problems.push(format!(
                    "{}: session on {} ({}) is {state}",
                    switch.name, port.interface, port.peer
                ));
            }
            sessions.push(SessionRow {
                node: switch.name.clone(),
                interface: port.interface.clone(),
                peer: port.peer.clone(),
                peer_asn: port.peer_asn,
                state,
                uptime_seconds: uptime,
            });
        }
        if let (Some(_), Err(error)) = (observation.daemon, &observation.sessions) {
            problems.push(format!("{}: cannot read sessions: {error}", switch.name));
        }

        let expected = fabric.expected_routes(switch);
        let mut present = 0;
        let mut full = 0;
        let empty = BTreeMap::new();
        let kernel = match &observation.kernel {
            Ok(kernel) => kernel,
            Err(error) => {
                problems.push(format!(
                    "{}: cannot read kernel routes: {error}",
                    switch.name
                ));
                &empty
            }
        };
        let bgp = match &observation.bgp_prefixes {
            Some(Ok(set)) => Some(set),
            Some(Err(error)) => {
                problems.push(format!("{}: cannot read BGP routes: {error}", switch.name));
                None
            }
            None => None,
        };
        for want in &expected {
            let route = kernel.get(&want.prefix).cloned().unwrap_or_default();
            let in_bgp = match (&observation.bgp_prefixes, bgp) {
                (Some(_), Some(set)) => Some(set.contains(&want.prefix)),
                (Some(_), None) => Some(false),
                (None, _) => None,
            };
            if route.paths > 0 {
                present += 1;
            } else if daemons {
                converged = false;
                problems.push(format!(
                    "{}: no kernel route to {}",
                    switch.name, want.prefix
                ));
            }
            if in_bgp == Some(false) {
                converged = false;
                problems.push(format!("{}: no BGP route to {}", switch.name, want.prefix));
            }
            if route.paths >= want.paths {
                full += 1;
            } else {
                full_ecmp = false;
                if route.paths > 0 && daemons {
                    problems.push(format!(
                        "{}: {} has {} of {} equal-cost paths",
                        switch.name, want.prefix, route.paths, want.paths
                    ));
                }
            }
            routes.push(RouteRow {
                node: switch.name.clone(),
                prefix: want.prefix.to_string(),
                paths: route.paths,
                expected_paths: want.paths,
                in_bgp,
                via: route.devices.clone(),
            });
        }
        nodes.push(NodeRow {
            node: switch.name.clone(),
            role: switch.role.to_string(),
            namespace: namespace(prefix, &switch.name),
            asn: Some(switch.asn),
            address: switch.loopback.to_string(),
            daemon: observation.daemon,
            pid: observation.pid,
            running: observation.daemon.map(|_| observation.running),
            sessions_established: established,
            sessions_expected: switch.ports.len(),
            bgp_prefixes: bgp.map(BTreeSet::len),
            fib_routes: present,
            fib_expected: expected.len(),
            full_ecmp_routes: full,
        });
    }
    for host in &fabric.hosts {
        nodes.push(NodeRow {
            node: host.name.clone(),
            role: "host".to_string(),
            namespace: namespace(prefix, &host.name),
            asn: None,
            address: host.address.addr().to_string(),
            daemon: None,
            pid: None,
            running: None,
            sessions_established: 0,
            sessions_expected: 0,
            bgp_prefixes: None,
            fib_routes: 0,
            fib_expected: 0,
            full_ecmp_routes: 0,
        });
    }
    if !links_down.is_empty() {
        converged = false;
        full_ecmp = false;
    }
    LabStatus {
        fabric: fabric.intent.name.clone(),
        prefix: prefix.to_string(),
        daemons,
        converged,
        full_ecmp: converged && full_ecmp,
        links_down: links_down.iter().map(FabricLink::name).collect(),
        problems,
        nodes,
        sessions,
        routes,
    }
}

/// Observes and evaluates in one go.
pub fn status(fabric: &Fabric, prefix: &str, dir: &LabDir, state: &State) -> LabStatus {
    let observations = observe(fabric, prefix, dir, state);
    let down = fabric::down_links(fabric, prefix).unwrap_or_default();
    evaluate(fabric, prefix, &observations, &down)
}

/// The status as tables of nodes, sessions and routes.
pub fn render(status: &LabStatus) -> String {
    let mut out = format!(
        "fabric {} (namespaces {}-*): {}\n\n",
        status.fabric,
        status.prefix,
        if !status.daemons {
            "no daemons (made with `up --no-daemons`)"
        } else if status.full_ecmp {
            "converged, full ECMP"
        } else if status.converged {
            "converged, ECMP incomplete"
        } else {
            "NOT converged"
        }
    );
    let mut nodes = Table::new(&[
        "NODE", "ROLE", "AS", "ADDRESS", "DAEMON", "PID", "SESSIONS", "BGP-PFX", "FIB", "ECMP",
    ]);
    for n in &status.nodes {
        let switch = n.role != "host";
        let daemon = match (n.daemon, n.running) {
            (Some(d), Some(false)) => format!("{d} (dead)"),
            (Some(d), _) => d.to_string(),
            (None, _) => "-".to_string(),
        };
        nodes.row(vec![
            n.node.clone(),
            n.role.clone(),
            or_dash(n.asn),
            n.address.clone(),
            daemon,
            or_dash(n.pid),
            if switch {
                format!("{}/{}", n.sessions_established, n.sessions_expected)
            } else {
                "-".into()
            },
            or_dash(n.bgp_prefixes),
            if switch {
                format!("{}/{}", n.fib_routes, n.fib_expected)
            } else {
                "-".into()
            },
            if switch {
                format!("{}/{}", n.full_ecmp_routes, n.fib_expected)
            } else {
                "-".into()
            },
        ]);
    }
    out.push_str(&nodes.render());
    if !status.daemons {
        if !status.links_down.is_empty() {
            out.push_str(&format!("\nlinks down: {}\n", status.links_down.join(", ")));
        }
        return out;
    }

    let mut sessions = Table::new(&["NODE", "INTERFACE", "PEER", "PEER-AS", "STATE", "UPTIME"]);
    for s in &status.sessions {
        sessions.row(vec![
            s.node.clone(),
            s.interface.clone(),
            s.peer.clone(),
            s.peer_asn.to_string(),
            s.state.clone(),
            s.uptime_seconds.map_or_else(|| "-".to_string(), duration),
        ]);
    }
    out.push('\n');
    out.push_str(&sessions.render());

    let mut routes = Table::new(&["NODE", "PREFIX", "PATHS", "BGP", "VIA"]);
    for r in &status.routes {
        routes.row(vec![
            r.node.clone(),
            r.prefix.clone(),
            format!("{}/{}", r.paths, r.expected_paths),
            match r.in_bgp {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "-".into(),
            },
            if r.via.is_empty() {
                "-".into()
            } else {
                r.via.join(",")
            },
        ]);
    }
    out.push('\n');
    out.push_str(&routes.render());

    if !status.links_down.is_empty() {
        out.push_str(&format!("\nlinks down: {}\n", status.links_down.join(", ")));
    }
    if !status.problems.is_empty() {
        const SHOWN: usize = 20;
        out.push_str(&format!("\n{} problem(s):\n", status.problems.len()));
        for problem in status.problems.iter().take(SHOWN) {
            out.push_str(&format!("  {problem}\n"));
        }
        if status.problems.len() > SHOWN {
            out.push_str(&format!(
                "  ... and {} more\n",
                status.problems.len() - SHOWN
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::Intent;

    fn converged_observations(
        fabric: &Fabric,
        drop: Option<(&str, &str)>,
    ) -> BTreeMap<String, SwitchObservation> {
        fabric
            .switches()
            .map(|switch| {
                let sessions = switch
                    .ports
                    .iter()
                    .map(|p| {
                        (
                            p.interface.clone(),
                            Session {
                                state: "Established".into(),
                                uptime_seconds: Some(5),
                            },
                        )
                    })
                    .collect();
                let kernel = fabric
                    .expected_routes(switch)
                    .into_iter()
                    .filter(|r| drop != Some((&switch.name, &r.prefix.to_string())))
                    .map(|r| {
                        (
                            r.prefix,
                            KernelRoute {
                                paths: r.paths,
                                devices: vec!["eth1".into(); r.paths],
                            },
                        )
                    })
                    .collect();
                let bgp = fabric
                    .expected_routes(switch)
                    .into_iter()
                    .map(|r| r.prefix)
                    .collect();
                (
                    switch.name.clone(),
                    SwitchObservation {
                        daemon: Some(Daemon::Closd),
                        pid: Some(1),
                        running: true,
                        sessions: Ok(sessions),
                        bgp_prefixes: Some(Ok(bgp)),
                        kernel: Ok(kernel),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn all_up_is_converged_with_full_ecmp() {
        let fabric = Fabric::new(&Intent::default_fabric());
        let obs = converged_observations(&fabric, None);
        let status = evaluate(&fabric, "t", &obs, &BTreeSet::new());
        assert!(status.converged, "{:?}", status.problems);
        assert!(status.full_ecmp);
        assert!(status.problems.is_empty());
        assert_eq!(status.nodes.len(), 10);
        assert_eq!(status.sessions.len(), 16);
        let text = render(&status);
        assert!(text.contains("converged, full ECMP"), "{text}");
    }

    #[test]
    fn a_missing_route_or_session_is_reported() {
        let fabric = Fabric::new(&Intent::default_fabric());
        let mut obs = converged_observations(&fabric, Some(("leaf1", "10.1.4.0/24")));
        let status = evaluate(&fabric, "t", &obs, &BTreeSet::new());
        assert!(!status.converged);
        assert!(status
            .problems
            .contains(&"leaf1: no kernel route to 10.1.4.0/24".to_string()));

        obs = converged_observations(&fabric, None);
        if let Some(o) = obs.get_mut("spine2") {
            if let Ok(s) = &mut o.sessions {
                s.get_mut("eth3").unwrap().state = "Active".into();
            }
        }
        let status = evaluate(&fabric, "t", &obs, &BTreeSet::new());
        assert!(!status.converged);
        assert_eq!(
            status.problems,
            ["spine2: session on eth3 (leaf3) is Active"]
        );
    }

    #[test]
    fn fewer_paths_is_converged_without_full_ecmp() {
        let fabric = Fabric::new(&Intent::default_fabric());
        let mut obs = converged_observations(&fabric, None);
        let prefix: IpNet = "10.1.2.0/24".parse().unwrap();
        if let Some(o) = obs.get_mut("leaf1") {
            if let Ok(k) = &mut o.kernel {
                k.get_mut(&prefix).unwrap().paths = 1;
            }
        }
        let status = evaluate(&fabric, "t", &obs, &BTreeSet::new());
        assert!(status.converged);
        assert!(!status.full_ecmp);
    }

    #[test]
    fn kernel_route_json() {
        let v4 = r#"[
          {"dst":"10.1.2.0/24","protocol":"bgp","flags":[],"nexthops":[
            {"via":{"family":"inet6","host":"fe80::1"},"dev":"eth1","weight":1,"flags":[]},
            {"via":{"family":"inet6","host":"fe80::2"},"dev":"eth2","weight":1,"flags":["dead","linkdown"]}]},
          {"dst":"10.255.0.1","via":{"family":"inet6","host":"fe80::1"},"dev":"eth1","flags":[]},
          {"dst":"default","gateway":"10.0.0.1","dev":"eth9","flags":[]},
          {"type":"unreachable","dst":"10.9.0.0/16","flags":[]},
          {"dst":"10.1.3.0/24","nhid":7,"flags":[]}
        ]"#;
        let v6 = r#"[{"dst":"2001:db8:1:2::/64","nexthops":[
            {"gateway":"fe80::1","dev":"eth1","flags":[]},{"gateway":"fe80::2","dev":"eth2","flags":[]}]}]"#;
        let nexthops = r#"[{"id":5,"dev":"eth1","flags":[]},{"id":6,"dev":"eth2","flags":[]},
                           {"id":7,"group":[{"id":5},{"id":6}],"flags":[]}]"#;
        let routes = parse_kernel_routes(&[v4, v6], nexthops).unwrap();
        let get = |p: &str| routes.get(&p.parse::<IpNet>().unwrap()).cloned();
        assert_eq!(get("10.1.2.0/24").unwrap().paths, 1);
        assert_eq!(get("10.255.0.1/32").unwrap().devices, ["eth1"]);
        assert_eq!(get("2001:db8:1:2::/64").unwrap().paths, 2);
        assert_eq!(get("10.1.3.0/24").unwrap().paths, 2);
        assert!(get("10.9.0.0/16").is_none());
        assert_eq!(routes.len(), 4);
    }

    #[test]
    fn daemon_summaries() {
        let closd: Value = serde_json::from_str(
            r#"{"asn":65001,"router_id":"10.255.0.3","neighbors":[
                {"address":"eth1","remote_as":65000,"state":"Established","uptime_seconds":12}]}"#,
        )
        .unwrap();
        let s = parse_closd_summary(&closd);
        assert_eq!(s["eth1"].state, "Established");
        assert_eq!(s["eth1"].uptime_seconds, Some(12));
        let frr: Value = serde_json::from_str(
            r#"{"ipv4Unicast":{"peers":{"eth1":{"state":"Established","peerUptimeMsec":3000}}},
                "ipv6Unicast":{"peers":{"eth2":{"state":"Active"}}}}"#,
        )
        .unwrap();
        let s = parse_frr_summary(&frr);
        assert_eq!(s["eth1"].uptime_seconds, Some(3));
        assert_eq!(s["eth2"].state, "Active");
    }
}
