//! BIRD 2 driver: one `bird` per instance with its own control socket,
//! queried and reconfigured with `birdc -s SOCK`.
//!
//! Announcements are static routes (`blackhole`, with per-route BGP
//! attributes set in the route's filter block) in `protocol static`; changing
//! them rewrites the config and runs `birdc configure`, which BIRD applies
//! without restarting the BGP sessions. The error-wait time after a session
//! error is cut from 60 s to 1–5 s so broken sessions come back quickly,
//! and graceful restart is off so a lost session flushes routes at once.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ipnet::IpNet;

use crate::lab::Lab;
use crate::netns::Netns;
use crate::peer::{
    parse_as_path, Family, Origin, Peer, PeerRoute, RouteAttrs, RouterConfig, SessionSecurity,
};
use crate::process::Process;
use crate::util::{cmd, wait_until};

/// A running BIRD 2 instance.
pub struct Bird {
    netns_name: String,
    dir: PathBuf,
    config: RouterConfig,
    announced: BTreeMap<IpNet, RouteAttrs>,
    process: Option<Process>,
    /// `graceful restart aware` instead of `off`.
    gr_aware: bool,
    /// MD5, GTSM and multihop on every neighbor.
    security: SessionSecurity,
}

impl Bird {
    /// Writes the config into `<lab>/bird-<tag>/` and starts BIRD in `netns`.
    pub fn start(lab: &Lab, netns: &Netns, tag: &str, config: RouterConfig) -> Result<Bird> {
        Self::start_with(lab, netns, tag, config, false)
    }

    /// [`Bird::start`] with BIRD's default `graceful restart aware` when
    /// `gr_aware` (BIRD then sends End-of-RIB to peers that offer the
    /// graceful-restart capability, RFC 4724).
    pub fn start_with(
        lab: &Lab,
        netns: &Netns,
        tag: &str,
        config: RouterConfig,
        gr_aware: bool,
    ) -> Result<Bird> {
        Self::launch(
            lab,
            netns,
            tag,
            config,
            gr_aware,
            SessionSecurity::default(),
        )
    }

    /// [`Bird::start`] with `password`, `ttl security` and `multihop` on
    /// every neighbor.
    pub fn start_secured(
        lab: &Lab,
        netns: &Netns,
        tag: &str,
        config: RouterConfig,
        security: SessionSecurity,
    ) -> Result<Bird> {
        Self::launch(lab, netns, tag, config, false, security)
    }

    fn launch(
        lab: &Lab,
        netns: &Netns,
        tag: &str,
        config: RouterConfig,
        gr_aware: bool,
        security: SessionSecurity,
    ) -> Result<Bird> {
        let dir = lab.subdir(&format!("bird-{tag}"))?;
        let announced = config.originate.iter().cloned().collect();
        let mut bird = Bird {
            netns_name: netns.name().to_string(),
            dir,
            config,
            announced,
            process: None,
            gr_aware,
            security,
        };
        bird.start_process()?;
        Ok(bird)
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("bird.ctl")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("bird.conf")
    }

    /// Runs `birdc -s SOCK ARGS...` and returns its output without the
    /// greeting line.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let socket = self.socket();
        let mut full = vec!["-s", socket.to_str().context("socket path")?];
        full.extend_from_slice(args);
        let out = cmd("birdc", &full)?;
        Ok(out
            .lines()
            .filter(|line| !line.starts_with("BIRD ") || !line.ends_with("ready."))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn protocol_name(&self, neighbor: IpAddr) -> Result<String> {
        self.config
            .neighbors
            .iter()
            .position(|n| n.address == neighbor)
            .map(|i| format!("peer{i}"))
            .ok_or_else(|| anyhow!("bird has no neighbor {neighbor}"))
    }

    fn render_config(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "router id {};", self.config.router_id);
        let _ = writeln!(c, "log \"{}\" all;", self.dir.join("bird.log").display());
        let _ = writeln!(c, "protocol device {{ scan time 10; }}");
        for (name, ipv6) in [("static4", false), ("static6", true)] {
            let _ = writeln!(c, "protocol static {name} {{");
            let _ = writeln!(c, "  {};", if ipv6 { "ipv6" } else { "ipv4" });
            for (prefix, attrs) in &self.announced {
                if prefix.addr().is_ipv6() != ipv6 {
                    continue;
                }
                let _ = writeln!(c, "  route {prefix} blackhole {{");
                for (a, b) in &attrs.communities {
                    let _ = writeln!(c, "    bgp_community.add(({a},{b}));");
                }
                for (a, b, d) in &attrs.large_communities {
                    let _ = writeln!(c, "    bgp_large_community.add(({a},{b},{d}));");
                }
                for asn in attrs.prepend.iter().rev() {
                    let _ = writeln!(c, "    bgp_path.prepend({asn});");
                }
                let _ = writeln!(c, "  }};");
            }
            let _ = writeln!(c, "}}");
        }
        for (i, n) in self.config.neighbors.iter().enumerate() {
            let _ = writeln!(c, "protocol bgp peer{i} {{");
            let _ = writeln!(
                c,
                "  local {} as {}; neighbor {} as {};",
                n.local_address, self.config.asn, n.address, n.remote_as
            );
            if let Some(hold) = n.hold_time {
                let _ = writeln!(
                    c,
                    "  hold time {hold}; keepalive time {};",
                    (hold / 3).max(1)
                );
            }
            if n.passive {
                let _ = writeln!(c, "  passive on;");
            }
            if let Some(password) = &self.security.password {
                let _ = writeln!(c, "  password \"{password}\";");
            }
            if self.security.ttl_security {
                let _ = writeln!(c, "  ttl security yes;");
            }
            if let Some(hops) = self.security.multihop {
                let _ = writeln!(c, "  multihop {hops};");
            }
            let _ = writeln!(
                c,
                "  connect delay time 1; connect retry time 2; error wait time 1, 5;"
            );
            // No graceful restart by default: a lost session must flush
            // routes at once.
            let gr = if self.gr_aware { "aware" } else { "off" };
            let _ = writeln!(
                c,
                "  graceful restart {gr}; long lived graceful restart off;"
            );
            // BIRD sends a MED to an eBGP neighbor only when the export
            // filter sets it ("fresh"), so MEDs live here, not in the
            // static routes.
            let _ = writeln!(
                c,
                "  {} {{ import all; export filter {{",
                if n.family.is_ipv6() { "ipv6" } else { "ipv4" }
            );
            for (prefix, attrs) in &self.announced {
                if Family::of(prefix) != n.family {
                    continue;
                }
                if let Some(med) = attrs.med {
                    let _ = writeln!(c, "    if net = {prefix} then bgp_med = {med};");
                }
            }
            let _ = writeln!(c, "    accept;\n  }}; }};");
            let _ = writeln!(c, "}}");
        }
        c
    }

    fn write_config(&self) -> Result<()> {
        std::fs::write(self.config_path(), self.render_config())
            .with_context(|| format!("cannot write {}", self.config_path().display()))
    }

    fn start_process(&mut self) -> Result<()> {
        self.write_config()?;
        let _ = std::fs::remove_file(self.socket());
        let args = vec![
            "-f".to_string(),
            "-c".to_string(),
            self.config_path().display().to_string(),
            "-s".to_string(),
            self.socket().display().to_string(),
            "-P".to_string(),
            self.dir.join("bird.pid").display().to_string(),
        ];
        let process = Process::spawn(
            &self.netns_name,
            "bird",
            &self.dir.join("bird.out"),
            "bird",
            &args,
        )?;
        self.process = Some(process);
        wait_until("bird control socket", Duration::from_secs(30), || {
            self.check_alive()?;
            self.birdc(&["show", "status"]).map(Some)
        })?;
        Ok(())
    }

    fn reconfigure(&self) -> Result<()> {
        self.write_config()?;
        let out = self.birdc(&["configure"])?;
        if !out.contains("Reconfigur") {
            bail!("birdc configure failed: {out}");
        }
        Ok(())
    }

    /// The namespace BIRD runs in.
    pub fn netns_name(&self) -> &str {
        &self.netns_name
    }
}

impl Peer for Bird {
    fn kind(&self) -> &'static str {
        "bird"
    }

    fn asn(&self) -> u32 {
        self.config.asn
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<String> {
        let name = self.protocol_name(neighbor)?;
        let out = self.birdc(&["show", "protocols", "all", &name])?;
        let state = out
            .lines()
            .find_map(|line| line.trim().strip_prefix("BGP state:"))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| anyhow!("no BGP state in:\n{out}"))?;
        Ok(match state.as_str() {
            "Down" | "Start" => "Idle".to_string(),
            _ => state,
        })
    }

    fn routes(&self, family: Family) -> Result<Vec<PeerRoute>> {
        let table = if family.is_ipv6() {
            "master6"
        } else {
            "master4"
        };
        let out = self.birdc(&["show", "route", "all", "table", table])?;
        parse_routes(&out)
    }

    fn announce(&mut self, prefix: IpNet, attrs: &RouteAttrs) -> Result<()> {
        self.announced.insert(prefix, attrs.clone());
        self.reconfigure()
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        self.announced.remove(&prefix);
        self.reconfigure()
    }

    fn slot(&mut self) -> &mut Option<Process> {
        &mut self.process
    }

    fn running(&self) -> Option<&Process> {
        self.process.as_ref()
    }

    fn spawn(&mut self) -> Result<()> {
        self.start_process()
    }

    fn request_refresh(&self, neighbor: IpAddr) -> Result<()> {
        let name = self.protocol_name(neighbor)?;
        let out = self.birdc(&["reload", "in", &name])?;
        if !out.contains("reload") && !out.contains("Reload") {
            bail!("birdc reload in {name}: {out}");
        }
        Ok(())
    }

    fn negotiated_hold_time(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        // "Hold timer:       6.000/9": time left / negotiated.
        let name = self.protocol_name(neighbor)?;
        let out = self.birdc(&["show", "protocols", "all", &name])?;
        Ok(out
            .lines()
            .find_map(|line| line.trim().strip_prefix("Hold timer:"))
            .and_then(|value| value.trim().rsplit('/').next())
            .and_then(|hold| hold.trim().parse().ok()))
    }

    fn last_error(&self, neighbor: IpAddr) -> Result<String> {
        let name = self.protocol_name(neighbor)?;
        let out = self.birdc(&["show", "protocols", "all", &name])?;
        Ok(out
            .lines()
            .find_map(|line| line.trim().strip_prefix("Last error:"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default())
    }
}

/// Parses `birdc show route all` output, keeping BGP routes only.
pub fn parse_routes(out: &str) -> Result<Vec<PeerRoute>> {
    let mut routes = Vec::new();
    let mut prefix: Option<IpNet> = None;
    let mut current: Option<(PeerRoute, bool)> = None;
    let flush = |current: &mut Option<(PeerRoute, bool)>, routes: &mut Vec<PeerRoute>| {
        if let Some((route, true)) = current.take() {
            routes.push(route);
        }
    };
    for line in out.lines() {
        if line.trim().is_empty() || line.starts_with("Table ") {
            continue;
        }
        if line.starts_with('\t') {
            let Some((route, is_bgp)) = current.as_mut() else {
                continue;
            };
            let line = line.trim();
            if let Some(kind) = line.strip_prefix("Type:") {
                *is_bgp = kind.trim().starts_with("BGP");
            } else if let Some((key, value)) = line.split_once(':') {
                let value = value.trim();
                match key {
                    "BGP.origin" => route.origin = Origin::parse(value),
                    "BGP.as_path" => route.as_path = parse_as_path(value),
                    "BGP.next_hop" => {
                        if let Some(first) = value.split_whitespace().next() {
                            route.next_hop = first
                                .parse()
                                .with_context(|| format!("bad next hop {value}"))?;
                        }
                    }
                    "BGP.med" => route.med = value.parse().ok(),
                    "BGP.local_pref" => route.local_pref = value.parse().ok(),
                    "BGP.community" => {
                        route.communities = parse_tuples(value)
                            .into_iter()
                            .filter_map(|t| match t[..] {
                                [a, b] => Some((u16::try_from(a).ok()?, u16::try_from(b).ok()?)),
                                _ => None,
                            })
                            .collect()
                    }
                    "BGP.large_community" => {
                        route.large_communities = parse_tuples(value)
                            .into_iter()
                            .filter_map(|t| match t[..] {
                                [a, b, c] => Some((a, b, c)),
                                _ => None,
                            })
                            .collect()
                    }
                    _ => {}
                }
            }
            continue;
        }
        // A route header: "PREFIX  TYPE [proto ...] ..." or, for further
        // routes of the same prefix, the same line without the prefix.
        flush(&mut current, &mut routes);
        if !line.starts_with(' ') {
            let first = line.split_whitespace().next().unwrap_or_default();
            prefix = Some(
                first
                    .parse()
                    .with_context(|| format!("bad prefix in bird output line {line:?}"))?,
            );
        }
        let Some(prefix) = prefix else {
            bail!("bird route line without a prefix: {line:?}");
        };
        current = Some((
            PeerRoute {
                prefix,
                next_hop: if prefix.addr().is_ipv6() {
                    IpAddr::from([0u16; 8])
                } else {
                    IpAddr::from([0u8; 4])
                },
                as_path: Vec::new(),
                med: None,
                local_pref: None,
                communities: Vec::new(),
                large_communities: Vec::new(),
                origin: None,
            },
            false,
        ));
    }
    flush(&mut current, &mut routes);
    Ok(routes)
}

/// "(65000,1) (65000, 1, 2)" -> [[65000, 1], [65000, 1, 2]].
fn parse_tuples(text: &str) -> Vec<Vec<u32>> {
    text.split('(')
        .filter_map(|part| part.split(')').next())
        .filter(|inner| !inner.trim().is_empty())
        .map(|inner| {
            inner
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bird_routes() {
        let out = "Table master4:
10.2.0.0/24          unicast [p4 03:24:42.165] * (100) [AS65099i]
\tvia 10.0.0.2 on e0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 65000 65000 65099
\tBGP.next_hop: 10.0.0.2
\tBGP.med: 7
\tBGP.local_pref: 100
\tBGP.community: (65000,1) (65000,2)
\tBGP.large_community: (65000, 1, 2)
                     unicast [p5 03:24:42.165] (100) [AS65098i]
\tvia 10.0.0.6 on e1
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 65098
\tBGP.next_hop: 10.0.0.6
10.1.0.0/24          blackhole [s4 03:24:34.134] * (200)
\tType: static univ
\tBGP.as_path: 65001
";
        let routes = parse_routes(out).unwrap();
        assert_eq!(routes.len(), 2);
        let r = &routes[0];
        assert_eq!(r.prefix, "10.2.0.0/24".parse().unwrap());
        assert_eq!(r.as_path, vec![65000, 65000, 65099]);
        assert_eq!(r.next_hop, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(r.med, Some(7));
        assert_eq!(r.local_pref, Some(100));
        assert_eq!(r.communities, vec![(65000, 1), (65000, 2)]);
        assert_eq!(r.large_communities, vec![(65000, 1, 2)]);
        assert_eq!(r.origin, Some(Origin::Igp));
        assert_eq!(routes[1].prefix, "10.2.0.0/24".parse().unwrap());
        assert_eq!(routes[1].as_path, vec![65098]);
    }
}
