//! FRR driver: `zebra` and `bgpd` per instance, each with its own vty and
//! zserv sockets in the instance's directory (`--vty_socket`, `-z`), so
//! instances run in parallel; queried with `vtysh --vty_socket DIR`.
//!
//! zebra is needed, not optional: without it bgpd knows no interfaces and
//! treats an IPv6 UPDATE carrying a link-local next hop (which BIRD and FRR
//! send on a shared link) as a withdrawal. zebra installs BGP routes into
//! the namespace's own kernel table, which dies with the namespace. The
//! daemons drop privileges to the `frr` user, so the directory is owned by
//! `frr`. Announcements are `network` statements with a route-map per prefix
//! carrying its attributes; [`Peer::restart`] restarts bgpd only. Graceful
//! restart is disabled so a lost session flushes routes at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::IpNet;
use serde_json::Value;

use crate::lab::Lab;
use crate::netns::Netns;
use crate::peer::{
    parse_as_path, parse_community, parse_large_community, Family, Origin, Peer, PeerRoute,
    RouteAttrs, RouterConfig, SessionSecurity,
};
use crate::process::Process;
use crate::util::{cmd, wait_until};

const BGPD: &str = "/usr/lib/frr/bgpd";
const ZEBRA: &str = "/usr/lib/frr/zebra";

/// A running FRR instance (zebra + bgpd).
pub struct Frr {
    netns_name: String,
    tag: String,
    dir: PathBuf,
    config: RouterConfig,
    announced: BTreeMap<IpNet, RouteAttrs>,
    bgpd: Option<Process>,
    /// MD5, GTSM and multihop on every neighbor.
    security: SessionSecurity,
    // Declared last: dropped after bgpd.
    zebra: Process,
}

impl Frr {
    /// Writes configs into `<lab>/frr-<tag>/` and starts zebra and bgpd in
    /// `netns`.
    pub fn start(lab: &Lab, netns: &Netns, tag: &str, config: RouterConfig) -> Result<Frr> {
        Self::start_secured(lab, netns, tag, config, SessionSecurity::default())
    }

    /// [`Frr::start`] with `password`, `ttl-security hops` and
    /// `ebgp-multihop` on every neighbor.
    pub fn start_secured(
        lab: &Lab,
        netns: &Netns,
        tag: &str,
        config: RouterConfig,
        security: SessionSecurity,
    ) -> Result<Frr> {
        for binary in [BGPD, ZEBRA] {
            if !std::path::Path::new(binary).exists() {
                bail!("{binary} not found: install the Debian package frr");
            }
        }
        let dir = lab.subdir(&format!("frr-{tag}"))?;
        cmd("chown", &["frr:frr", dir.to_str().context("dir")?])
            .context("FRR's daemons run as user frr")?;
        let zebra_conf = dir.join("zebra.conf");
        std::fs::write(
            &zebra_conf,
            format!(
                "hostname frr-{tag}\nlog file {}/zebra.log informational\n",
                dir.display()
            ),
        )?;
        let zebra = Process::spawn(
            netns.name(),
            "zebra",
            &dir.join("zebra.out"),
            ZEBRA,
            &[
                "-f".into(),
                zebra_conf.display().to_string(),
                "-i".into(),
                dir.join("zebra.pid").display().to_string(),
                "--vty_socket".into(),
                dir.display().to_string(),
                "-z".into(),
                dir.join("zserv.api").display().to_string(),
                "-P".into(),
                "0".into(),
            ],
        )?;
        wait_until("zebra's zserv socket", Duration::from_secs(30), || {
            zebra.check_alive()?;
            Ok(dir.join("zserv.api").exists().then_some(()))
        })?;
        let announced = config.originate.iter().cloned().collect();
        let mut frr = Frr {
            netns_name: netns.name().to_string(),
            tag: tag.to_string(),
            dir,
            config,
            announced,
            bgpd: None,
            security,
            zebra,
        };
        frr.start_bgpd()?;
        Ok(frr)
    }

    /// Runs `vtysh --vty_socket DIR -c CMD...` and returns its output.
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let mut args = vec![
            "--vty_socket".to_string(),
            self.dir.display().to_string(),
            "-d".to_string(),
            "bgpd".to_string(),
        ];
        for command in commands {
            args.push("-c".into());
            args.push(command.to_string());
        }
        cmd("vtysh", &args)
    }

    fn vtysh_json(&self, commands: &[String]) -> Result<Vec<Value>> {
        let refs: Vec<&str> = commands.iter().map(String::as_str).collect();
        let out = self.vtysh(&refs)?;
        serde_json::Deserializer::from_str(&out)
            .into_iter::<Value>()
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("vtysh printed bad JSON for {commands:?}:\n{out}"))
    }

    fn route_map_name(prefix: &IpNet) -> String {
        let name: String = prefix
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("ANNOUNCE_{name}")
    }

    fn route_map_lines(prefix: &IpNet, attrs: &RouteAttrs) -> Vec<String> {
        let mut lines = vec![format!(
            "route-map {} permit 10",
            Self::route_map_name(prefix)
        )];
        if !attrs.communities.is_empty() {
            let list: Vec<String> = attrs
                .communities
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect();
            lines.push(format!(" set community {}", list.join(" ")));
        }
        if !attrs.large_communities.is_empty() {
            let list: Vec<String> = attrs
                .large_communities
                .iter()
                .map(|(a, b, c)| format!("{a}:{b}:{c}"))
                .collect();
            lines.push(format!(" set large-community {}", list.join(" ")));
        }
        if let Some(med) = attrs.med {
            lines.push(format!(" set metric {med}"));
        }
        if !attrs.prepend.is_empty() {
            let list: Vec<String> = attrs.prepend.iter().map(u32::to_string).collect();
            lines.push(format!(" set as-path prepend {}", list.join(" ")));
        }
        lines
    }

    fn afi(prefix: &IpNet) -> &'static str {
        if prefix.addr().is_ipv6() {
            "ipv6"
        } else {
            "ipv4"
        }
    }

    fn render_config(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "frr defaults datacenter");
        let _ = writeln!(c, "hostname frr-{}", self.tag);
        let _ = writeln!(c, "log file {}/bgpd.log debugging", self.dir.display());
        let _ = writeln!(c, "debug bgp neighbor-events");
        let _ = writeln!(c, "bgp route-map delay-timer 0");
        for (prefix, attrs) in &self.announced {
            for line in Self::route_map_lines(prefix, attrs) {
                let _ = writeln!(c, "{line}");
            }
            let _ = writeln!(c, "exit");
        }
        let _ = writeln!(c, "router bgp {}", self.config.asn);
        let _ = writeln!(c, " bgp router-id {}", self.config.router_id);
        let _ = writeln!(c, " no bgp ebgp-requires-policy");
        let _ = writeln!(c, " no bgp network import-check");
        let _ = writeln!(c, " no bgp default ipv4-unicast");
        // No graceful restart: a lost session must flush routes at once.
        let _ = writeln!(c, " bgp graceful-restart-disable");
        for n in &self.config.neighbors {
            let a = n.address;
            let _ = writeln!(c, " neighbor {a} remote-as {}", n.remote_as);
            let _ = writeln!(c, " neighbor {a} update-source {}", n.local_address);
            let _ = writeln!(c, " neighbor {a} timers connect 2");
            let _ = writeln!(c, " neighbor {a} advertisement-interval 0");
            if let Some(hold) = n.hold_time {
                let _ = writeln!(c, " neighbor {a} timers {} {hold}", (hold / 3).max(1));
            }
            if n.passive {
                let _ = writeln!(c, " neighbor {a} passive");
            }
            if let Some(password) = &self.security.password {
                let _ = writeln!(c, " neighbor {a} password {password}");
            }
            // GTSM and ebgp-multihop exclude each other in FRR: with GTSM
            // the hop count goes into `ttl-security hops`.
            match (self.security.ttl_security, self.security.multihop) {
                (true, hops) => {
                    let _ = writeln!(c, " neighbor {a} ttl-security hops {}", hops.unwrap_or(1));
                }
                (false, Some(hops)) => {
                    let _ = writeln!(c, " neighbor {a} ebgp-multihop {hops}");
                }
                (false, None) => {}
            }
        }
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let _ = writeln!(c, " address-family {} unicast", family.short_name());
            for n in self.config.neighbors.iter().filter(|n| n.family == family) {
                let _ = writeln!(c, "  neighbor {} activate", n.address);
            }
            for prefix in self.announced.keys() {
                if Family::of(prefix) == family {
                    let _ = writeln!(
                        c,
                        "  network {prefix} route-map {}",
                        Self::route_map_name(prefix)
                    );
                }
            }
            let _ = writeln!(c, " exit-address-family");
        }
        c
    }

    fn start_bgpd(&mut self) -> Result<()> {
        let conf = self.dir.join("bgpd.conf");
        std::fs::write(&conf, self.render_config())?;
        let process = Process::spawn(
            &self.netns_name,
            "bgpd",
            &self.dir.join("bgpd.out"),
            BGPD,
            &[
                "-f".into(),
                conf.display().to_string(),
                "-i".into(),
                self.dir.join("bgpd.pid").display().to_string(),
                "--vty_socket".into(),
                self.dir.display().to_string(),
                "-z".into(),
                self.dir.join("zserv.api").display().to_string(),
                "-P".into(),
                "0".into(),
            ],
        )?;
        self.bgpd = Some(process);
        wait_until("bgpd's vty", Duration::from_secs(30), || {
            self.check_alive()?;
            self.vtysh(&["show bgp summary json"]).map(Some)
        })?;
        Ok(())
    }

    fn neighbor_json(&self, neighbor: IpAddr) -> Result<Value> {
        let values = self.vtysh_json(&[format!("show bgp neighbors {neighbor} json")])?;
        let value = values
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no output for neighbor {neighbor}"))?;
        match value.as_object().and_then(|o| o.values().next()) {
            Some(neighbor) => Ok(neighbor.clone()),
            None => bail!("frr has no neighbor {neighbor}: {value}"),
        }
    }

    fn configure(&self, lines: &[String]) -> Result<()> {
        let mut commands = vec!["configure terminal".to_string()];
        commands.extend(lines.iter().cloned());
        let refs: Vec<&str> = commands.iter().map(String::as_str).collect();
        let out = self.vtysh(&refs)?;
        if out.contains('%') {
            bail!("vtysh rejected {commands:?}: {out}");
        }
        Ok(())
    }
}

impl Peer for Frr {
    fn kind(&self) -> &'static str {
        "frr"
    }

    fn asn(&self) -> u32 {
        self.config.asn
    }

    fn check_alive(&self) -> Result<()> {
        self.zebra.check_alive()?;
        self.process()?.check_alive()
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<String> {
        let value = self.neighbor_json(neighbor)?;
        let state = value["bgpState"]
            .as_str()
            .ok_or_else(|| anyhow!("no bgpState in {value}"))?;
        Ok(match state {
            "Clearing" | "Deleted" => "Idle".to_string(),
            _ => state.to_string(),
        })
    }

    fn routes(&self, family: Family) -> Result<Vec<PeerRoute>> {
        let afi = family.short_name();
        let table = self.vtysh_json(&[format!("show bgp {afi} unicast json")])?;
        let Some(table) = table.first() else {
            return Ok(Vec::new());
        };
        let prefixes: Vec<String> = table["routes"]
            .as_object()
            .map(|routes| {
                routes
                    .iter()
                    .filter(|(_, paths)| {
                        paths.as_array().is_some_and(|paths| {
                            paths
                                .iter()
                                .any(|p| p["peerId"].as_str() != Some("(unspec)"))
                        })
                    })
                    .map(|(prefix, _)| prefix.clone())
                    .collect()
            })
            .unwrap_or_default();
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
        let commands: Vec<String> = prefixes
            .iter()
            .map(|p| format!("show bgp {afi} unicast {p} json"))
            .collect();
        let details = self.vtysh_json(&commands)?;
        let mut routes = Vec::new();
        for detail in &details {
            let Some(prefix) = detail["prefix"].as_str() else {
                continue;
            };
            let prefix: IpNet = prefix
                .parse()
                .with_context(|| format!("bad prefix {prefix}"))?;
            for path in detail["paths"].as_array().into_iter().flatten() {
                if let Some(route) = parse_path(prefix, path)? {
                    routes.push(route);
                }
            }
        }
        Ok(routes)
    }

    fn announce(&mut self, prefix: IpNet, attrs: &RouteAttrs) -> Result<()> {
        let afi = Self::afi(&prefix);
        let mut lines = Vec::new();
        if self.announced.contains_key(&prefix) {
            lines.push(format!("router bgp {}", self.config.asn));
            lines.push(format!("address-family {afi} unicast"));
            lines.push(format!("no network {prefix}"));
            lines.push("exit-address-family".into());
            lines.push("exit".into());
            lines.push(format!("no route-map {}", Self::route_map_name(&prefix)));
        }
        lines.extend(Self::route_map_lines(&prefix, attrs));
        lines.push("exit".into());
        lines.push(format!("router bgp {}", self.config.asn));
        lines.push(format!("address-family {afi} unicast"));
        lines.push(format!(
            "network {prefix} route-map {}",
            Self::route_map_name(&prefix)
        ));
        self.configure(&lines)?;
        self.announced.insert(prefix, attrs.clone());
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        let afi = Self::afi(&prefix);
        self.configure(&[
            format!("router bgp {}", self.config.asn),
            format!("address-family {afi} unicast"),
            format!("no network {prefix}"),
        ])?;
        self.announced.remove(&prefix);
        Ok(())
    }

    fn slot(&mut self) -> &mut Option<Process> {
        &mut self.bgpd
    }

    fn running(&self) -> Option<&Process> {
        self.bgpd.as_ref()
    }

    fn spawn(&mut self) -> Result<()> {
        self.start_bgpd()
    }

    fn request_refresh(&self, neighbor: IpAddr) -> Result<()> {
        self.vtysh(&[&format!("clear bgp {neighbor} soft in")])
            .map(drop)
    }

    fn route_refresh_received(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let value = self.neighbor_json(neighbor)?;
        Ok(value["messageStats"]["routeRefreshRecv"].as_u64())
    }

    fn negotiated_hold_time(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let value = self.neighbor_json(neighbor)?;
        Ok(value["bgpTimerHoldTimeMsecs"].as_u64().map(|ms| ms / 1000))
    }

    fn established_transitions(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let value = self.neighbor_json(neighbor)?;
        Ok(value["connectionsEstablished"].as_u64())
    }

    fn last_error(&self, neighbor: IpAddr) -> Result<String> {
        let value = self.neighbor_json(neighbor)?;
        let parts: Vec<String> = [
            "lastResetDueTo",
            "lastNotificationReason",
            "lastErrorCodeSubcode",
            "downLastResetReason",
        ]
        .iter()
        .filter_map(|key| match &value[*key] {
            Value::Null => None,
            Value::String(s) => Some(format!("{key}: {s}")),
            other => Some(format!("{key}: {other}")),
        })
        .collect();
        Ok(parts.join("; "))
    }
}

/// One path of `show bgp AFI unicast PREFIX json`; None for local routes.
fn parse_path(prefix: IpNet, path: &Value) -> Result<Option<PeerRoute>> {
    let peer = path["peer"]["peerId"].as_str().unwrap_or("(unspec)");
    if peer == "(unspec)" {
        return Ok(None);
    }
    let hops = path["nexthops"].as_array().cloned().unwrap_or_default();
    let next_hop = hops
        .iter()
        .find(|h| h["scope"].as_str() != Some("link-local"))
        .or(hops.first())
        .and_then(|h| h["ip"].as_str())
        .ok_or_else(|| anyhow!("no next hop in {path}"))?;
    let strings = |v: &Value| -> Vec<String> {
        v["list"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_else(|| {
                v["string"]
                    .as_str()
                    .map(|s| s.split_whitespace().map(String::from).collect())
                    .unwrap_or_default()
            })
    };
    let as_u32 = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    Ok(Some(PeerRoute {
        prefix,
        next_hop: next_hop
            .parse()
            .with_context(|| format!("bad next hop {next_hop}"))?,
        as_path: parse_as_path(path["aspath"]["string"].as_str().unwrap_or_default()),
        med: as_u32(&path["med"]).or_else(|| as_u32(&path["metric"])),
        local_pref: as_u32(&path["localpref"]).or_else(|| as_u32(&path["locPrf"])),
        communities: strings(&path["community"])
            .iter()
            .filter_map(|s| parse_community(s))
            .collect(),
        large_communities: strings(&path["largeCommunity"])
            .iter()
            .filter_map(|s| parse_large_community(s))
            .collect(),
        origin: path["origin"].as_str().and_then(Origin::parse),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frr_path_detail() {
        let path: Value = serde_json::from_str(
            r#"{"aspath":{"string":"65001 65001","segments":[{"type":"as-sequence","list":[65001,65001]}],"length":2},
            "origin":"IGP","med":50,"localpref":100,
            "community":{"string":"65001:100 65001:200","list":["65001:100","65001:200"]},
            "largeCommunity":{"string":"65001:1:2","list":["65001:1:2"]},
            "nexthops":[{"ip":"fd00::2","afi":"ipv6","scope":"global"},{"ip":"fe80::1","afi":"ipv6","scope":"link-local","used":true}],
            "peer":{"peerId":"fd00::2","routerId":"10.255.0.2","type":"external"}}"#,
        )
        .unwrap();
        let route = parse_path("2001:db8::/48".parse().unwrap(), &path)
            .unwrap()
            .unwrap();
        assert_eq!(route.next_hop, "fd00::2".parse::<IpAddr>().unwrap());
        assert_eq!(route.as_path, vec![65001, 65001]);
        assert_eq!(route.med, Some(50));
        assert_eq!(route.local_pref, Some(100));
        assert_eq!(route.communities, vec![(65001, 100), (65001, 200)]);
        assert_eq!(route.large_communities, vec![(65001, 1, 2)]);
        assert_eq!(route.origin, Some(Origin::Igp));
    }

    #[test]
    fn skips_local_frr_paths() {
        let path: Value = serde_json::from_str(
            r#"{"aspath":{"string":""},"origin":"IGP","nexthops":[{"ip":"0.0.0.0"}],"peer":{"peerId":"(unspec)"}}"#,
        )
        .unwrap();
        assert!(parse_path("10.0.0.0/24".parse().unwrap(), &path)
            .unwrap()
            .is_none());
    }
}
