//! GoBGP driver: one `gobgpd` per instance with a TOML config and its gRPC
//! API on the namespace's own loopback (so every instance can use the
//! default port 50051), driven with the `gobgp` CLI run in the namespace.
//!
//! Announcements are `gobgp global rib add` with attributes; they live in
//! the daemon's memory, so [`Peer::start`] replays them. The idle hold time
//! after a reset is cut from 30 s to 1 s so broken sessions come back
//! quickly.

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
use crate::peer::{Family, Origin, Peer, PeerRoute, RouteAttrs, RouterConfig};
use crate::process::Process;
use crate::util::{run, wait_until};

/// A running gobgpd instance.
pub struct Gobgp {
    netns_name: String,
    dir: PathBuf,
    config: RouterConfig,
    announced: BTreeMap<IpNet, RouteAttrs>,
    process: Option<Process>,
}

impl Gobgp {
    /// Writes the config into `<lab>/gobgp-<tag>/` and starts gobgpd in
    /// `netns`.
    pub fn start(lab: &Lab, netns: &Netns, tag: &str, config: RouterConfig) -> Result<Gobgp> {
        let dir = lab.subdir(&format!("gobgp-{tag}"))?;
        let announced = config.originate.iter().cloned().collect();
        let mut gobgp = Gobgp {
            netns_name: netns.name().to_string(),
            dir,
            config,
            announced,
            process: None,
        };
        gobgp.start_process()?;
        Ok(gobgp)
    }

    /// Runs `gobgp ARGS...` in the namespace.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        run(std::process::Command::new("ip")
            .args(["netns", "exec", &self.netns_name, "gobgp"])
            .args(args))
    }

    fn render_config(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "[global.config]");
        let _ = writeln!(c, "  as = {}", self.config.asn);
        let _ = writeln!(c, "  router-id = \"{}\"", self.config.router_id);
        for n in &self.config.neighbors {
            let _ = writeln!(c, "[[neighbors]]");
            let _ = writeln!(c, "  [neighbors.config]");
            let _ = writeln!(c, "    neighbor-address = \"{}\"", n.address);
            let _ = writeln!(c, "    peer-as = {}", n.remote_as);
            let _ = writeln!(c, "  [neighbors.timers.config]");
            let _ = writeln!(c, "    connect-retry = 2");
            let _ = writeln!(c, "    idle-hold-time-after-reset = 1");
            if let Some(hold) = n.hold_time {
                let _ = writeln!(c, "    hold-time = {hold}");
                let _ = writeln!(c, "    keepalive-interval = {}", (hold / 3).max(1));
            }
            let _ = writeln!(c, "  [neighbors.transport.config]");
            let _ = writeln!(c, "    local-address = \"{}\"", n.local_address);
            let _ = writeln!(c, "    passive-mode = {}", n.passive);
            let _ = writeln!(c, "  [[neighbors.afi-safis]]");
            let _ = writeln!(c, "    [neighbors.afi-safis.config]");
            let _ = writeln!(c, "      afi-safi-name = \"{}\"", n.family.config_name());
        }
        c
    }

    fn start_process(&mut self) -> Result<()> {
        let conf = self.dir.join("gobgpd.toml");
        std::fs::write(&conf, self.render_config())?;
        let process = Process::spawn(
            &self.netns_name,
            "gobgpd",
            &self.dir.join("gobgpd.log"),
            "gobgpd",
            &[
                "-f".into(),
                conf.display().to_string(),
                "-t".into(),
                "toml".into(),
                "--api-hosts".into(),
                "127.0.0.1:50051".into(),
                "-l".into(),
                "debug".into(),
            ],
        )?;
        self.process = Some(process);
        wait_until("gobgpd's API", Duration::from_secs(30), || {
            self.check_alive()?;
            self.gobgp(&["global"]).map(Some)
        })?;
        let announced: Vec<(IpNet, RouteAttrs)> = self
            .announced
            .iter()
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        for (prefix, attrs) in announced {
            self.add_path(prefix, &attrs)?;
        }
        Ok(())
    }

    fn add_path(&self, prefix: IpNet, attrs: &RouteAttrs) -> Result<()> {
        let family = Family::of(&prefix);
        let next_hop = if family.is_ipv6() { "::" } else { "0.0.0.0" };
        let mut args: Vec<String> = ["global", "rib", "-a", family.short_name(), "add"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(prefix.to_string());
        args.extend([
            "origin".into(),
            "igp".into(),
            "nexthop".into(),
            next_hop.into(),
        ]);
        if !attrs.prepend.is_empty() {
            let path: Vec<String> = attrs.prepend.iter().map(u32::to_string).collect();
            args.extend(["aspath".into(), path.join(",")]);
        }
        if let Some(med) = attrs.med {
            args.extend(["med".into(), med.to_string()]);
        }
        if !attrs.communities.is_empty() {
            let list: Vec<String> = attrs
                .communities
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect();
            args.extend(["community".into(), list.join(",")]);
        }
        if !attrs.large_communities.is_empty() {
            let list: Vec<String> = attrs
                .large_communities
                .iter()
                .map(|(a, b, c)| format!("{a}:{b}:{c}"))
                .collect();
            args.extend(["large-community".into(), list.join(",")]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.gobgp(&refs).map(drop)
    }

    fn del_path(&self, prefix: IpNet) -> Result<()> {
        let family = Family::of(&prefix);
        self.gobgp(&[
            "global",
            "rib",
            "-a",
            family.short_name(),
            "del",
            &prefix.to_string(),
        ])
        .map(drop)
    }

    fn neighbor_json(&self, neighbor: IpAddr) -> Result<Value> {
        let out = self.gobgp(&["neighbor", &neighbor.to_string(), "-j"])?;
        serde_json::from_str(&out).with_context(|| format!("bad JSON from gobgp: {out}"))
    }
}

impl Peer for Gobgp {
    fn kind(&self) -> &'static str {
        "gobgp"
    }

    fn asn(&self) -> u32 {
        self.config.asn
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<String> {
        let value = self.neighbor_json(neighbor)?;
        let state = &value["state"]["session_state"];
        let name = match state {
            Value::Number(n) => match n.as_u64() {
                Some(2) => "Connect",
                Some(3) => "Active",
                Some(4) => "OpenSent",
                Some(5) => "OpenConfirm",
                Some(6) => "Established",
                _ => "Idle",
            }
            .to_string(),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "connect" => "Connect",
                "active" => "Active",
                "opensent" => "OpenSent",
                "openconfirm" => "OpenConfirm",
                "established" => "Established",
                _ => "Idle",
            }
            .to_string(),
            _ => "Idle".to_string(),
        };
        Ok(name)
    }

    fn routes(&self, family: Family) -> Result<Vec<PeerRoute>> {
        let out = self.gobgp(&["global", "rib", "-a", family.short_name(), "-j"])?;
        let value: Value = serde_json::from_str(out.trim())
            .or_else(|_| {
                if out.trim().is_empty() {
                    Ok(Value::Null)
                } else {
                    Err(())
                }
            })
            .map_err(|()| anyhow!("bad JSON from gobgp global rib: {out}"))?;
        let mut routes = Vec::new();
        for (prefix, paths) in value.as_object().into_iter().flatten() {
            let prefix: IpNet = prefix
                .parse()
                .with_context(|| format!("bad prefix {prefix}"))?;
            for path in paths.as_array().into_iter().flatten() {
                if path.get("neighbor-ip").is_none() {
                    continue;
                }
                routes.push(parse_path(prefix, path)?);
            }
        }
        Ok(routes)
    }

    fn announce(&mut self, prefix: IpNet, attrs: &RouteAttrs) -> Result<()> {
        if self.announced.contains_key(&prefix) {
            self.del_path(prefix)?;
        }
        self.add_path(prefix, attrs)?;
        self.announced.insert(prefix, attrs.clone());
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        self.del_path(prefix)?;
        self.announced.remove(&prefix);
        Ok(())
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
        // Measured: `gobgp neighbor X softresetin` replays gobgpd's own
        // Adj-RIB-In and sends nothing, and the CLI has no other way.
        bail!(
            "gobgp cannot send a ROUTE-REFRESH to {neighbor}: softresetin only replays \
             its own Adj-RIB-In"
        )
    }

    fn route_refresh_received(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let value = self.neighbor_json(neighbor)?;
        let received = &value["state"]["messages"]["received"];
        if received.is_null() {
            return Ok(None);
        }
        Ok(Some(received["refresh"].as_u64().unwrap_or(0)))
    }

    fn negotiated_hold_time(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let value = self.neighbor_json(neighbor)?;
        Ok(value["timers"]["state"]["negotiated_hold_time"].as_u64())
    }

    fn last_error(&self, neighbor: IpAddr) -> Result<String> {
        // gobgp's API has no last-notification field; its log has the
        // NOTIFICATIONs it sends ("sent notification", with the reason).
        let log = std::fs::read_to_string(self.dir.join("gobgpd.log")).unwrap_or_default();
        let key = neighbor.to_string();
        let lines: Vec<String> = log
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["Key"].as_str() == Some(key.as_str()))
            .filter(|entry| {
                entry["msg"]
                    .as_str()
                    .is_some_and(|msg| msg.to_ascii_lowercase().contains("notification"))
            })
            .map(|entry| format!("{}: {}", entry["msg"], entry["Data"]))
            .collect();
        Ok(lines.last().cloned().unwrap_or_default())
    }
}

/// One path of `gobgp global rib -j`.
fn parse_path(prefix: IpNet, path: &Value) -> Result<PeerRoute> {
    let mut route = PeerRoute {
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
    };
    let as_u32 = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    for attr in path["attrs"].as_array().into_iter().flatten() {
        match attr["type"].as_u64() {
            Some(1) => {
                route.origin = attr["value"]
                    .as_u64()
                    .and_then(|v| Origin::parse(&v.to_string()))
            }
            Some(2) => {
                for segment in attr["as_paths"].as_array().into_iter().flatten() {
                    for asn in segment["asns"].as_array().into_iter().flatten() {
                        route.as_path.extend(as_u32(asn));
                    }
                }
            }
            Some(3) | Some(14) => {
                if let Some(hop) = attr["nexthop"].as_str() {
                    route.next_hop = hop.parse().with_context(|| format!("bad next hop {hop}"))?;
                }
            }
            Some(4) => route.med = as_u32(&attr["metric"]),
            Some(5) => route.local_pref = as_u32(&attr["value"]),
            Some(8) => {
                route.communities = attr["communities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(as_u32)
                    .map(|c| ((c >> 16) as u16, (c & 0xffff) as u16))
                    .collect()
            }
            Some(32) => {
                route.large_communities = attr["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| {
                        Some((
                            as_u32(&v["ASN"])?,
                            as_u32(&v["LocalData1"])?,
                            as_u32(&v["LocalData2"])?,
                        ))
                    })
                    .collect()
            }
            _ => {}
        }
    }
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gobgp_path() {
        let path: Value = serde_json::from_str(
            r#"{"nlri":{"prefix":"10.1.0.0/24"},"best":true,"attrs":[{"type":1,"value":0},
            {"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[65001,65001]}]},
            {"type":3,"nexthop":"10.0.0.1"},{"type":4,"metric":50},
            {"type":8,"communities":[4259905636]},
            {"type":32,"value":[{"ASN":65001,"LocalData1":1,"LocalData2":2}]}],
            "neighbor-ip":"10.0.0.1"}"#,
        )
        .unwrap();
        let route = parse_path("10.1.0.0/24".parse().unwrap(), &path).unwrap();
        assert_eq!(route.next_hop, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(route.as_path, vec![65001, 65001]);
        assert_eq!(route.med, Some(50));
        assert_eq!(route.communities, vec![(65001, 100)]);
        assert_eq!(route.large_communities, vec![(65001, 1, 2)]);
        assert_eq!(route.origin, Some(Origin::Igp));
    }

    #[test]
    fn parses_gobgp_mp_reach_next_hop() {
        let path: Value = serde_json::from_str(
            r#"{"attrs":[{"type":14,"nexthop":"fd00::1","afi":2,"safi":1,"value":[{"prefix":"2001:db8:1::/48"}]}],"neighbor-ip":"fd00::1"}"#,
        )
        .unwrap();
        let route = parse_path("2001:db8:1::/48".parse().unwrap(), &path).unwrap();
        assert_eq!(route.next_hop, "fd00::1".parse::<IpAddr>().unwrap());
    }
}
