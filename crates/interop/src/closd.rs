//! closd driver: writes closd's TOML config, starts `closd -c FILE` in a
//! namespace and talks to it with `closctl --socket SOCK ... --json`.
//!
//! Binaries come from `$CLOS_BIN_DIR`, else `<workspace>/target/debug/`;
//! when they are missing the driver fails and says to build them first, so
//! the interop tests never pass vacuously. closd originates routes without
//! attributes: [`Peer::announce`] with attributes is an error.

use std::collections::BTreeSet;
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
use crate::util::{run, wait_until};

/// Where closd and closctl are: `$CLOS_BIN_DIR`, else the workspace's
/// `target/debug`.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("CLOS_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"),
    }
}

/// Path of a clos binary, or an error telling how to build it.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir().join(name);
    if !path.is_file() {
        bail!(
            "{} not found: run `cargo build --workspace --bins` first \
             (or set CLOS_BIN_DIR to the directory holding closd and closctl)",
            path.display()
        );
    }
    Ok(path)
}

/// Per-neighbor policy knobs beyond [`RouterConfig`], keyed by address.
#[derive(Clone, Debug, Default)]
pub struct ClosdOptions {
    /// `connect-retry` in `[router]` (seconds); default 2.
    pub connect_retry: Option<u32>,
    /// Neighbors to configure with `import = "reject"` (default accept).
    pub import_reject: Vec<IpAddr>,
    /// `[fib] kernel = true` with this `stale-time` (seconds).
    pub kernel: Option<u32>,
    /// `[fib] initial-hold` (seconds) with `kernel`; closd's default
    /// otherwise.
    pub initial_hold: Option<u32>,
    /// `multipath` in `[router]`, with `multipath-relax = true`.
    pub multipath: Option<u32>,
    /// A whole config file instead of one rendered from the
    /// [`RouterConfig`]; `{socket}` is replaced by the API socket path.
    pub raw_config: Option<String>,
    /// `password`, `ttl-security` and `ebgp-multihop` on every neighbor.
    pub security: SessionSecurity,
    /// `[router] listen` instead of each neighbor's local address, e.g.
    /// `["[::]:179"]` (dual-stack).
    pub listen: Option<Vec<String>>,
}

/// A running closd.
pub struct Closd {
    netns_name: String,
    dir: PathBuf,
    config: RouterConfig,
    options: ClosdOptions,
    closd: PathBuf,
    closctl: PathBuf,
    process: Option<Process>,
}

impl Closd {
    /// Writes `<lab>/closd-<tag>/closd.toml` and starts closd in `netns`;
    /// returns once closctl gets an answer.
    pub fn start(lab: &Lab, netns: &Netns, tag: &str, config: RouterConfig) -> Result<Closd> {
        Self::start_with(lab, netns, tag, config, ClosdOptions::default())
    }

    /// [`Closd::start`] with extra options.
    pub fn start_with(
        lab: &Lab,
        netns: &Netns,
        tag: &str,
        config: RouterConfig,
        options: ClosdOptions,
    ) -> Result<Closd> {
        let closd = binary("closd")?;
        let closctl = binary("closctl")?;
        for (prefix, attrs) in &config.originate {
            if !attrs.is_plain() {
                bail!("closd originates {prefix} without attributes; got {attrs:?}");
            }
        }
        let dir = lab.subdir(&format!("closd-{tag}"))?;
        let mut driver = Closd {
            netns_name: netns.name().to_string(),
            dir,
            config,
            options,
            closd,
            closctl,
            process: None,
        };
        driver.start_process()?;
        Ok(driver)
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("closd.sock")
    }

    /// The config file closd runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("closd.toml")
    }

    /// Renders the config (contract in DESIGN.md and the interop brief).
    pub fn render_config(&self) -> String {
        if let Some(raw) = &self.options.raw_config {
            return raw.replace("{socket}", &self.socket().display().to_string());
        }
        let mut c = String::new();
        let _ = writeln!(c, "[router]");
        let _ = writeln!(c, "asn = {}", self.config.asn);
        let _ = writeln!(c, "router-id = \"{}\"", self.config.router_id);
        let listen: BTreeSet<String> = match &self.options.listen {
            Some(listen) => listen.iter().map(|a| format!("\"{a}\"")).collect(),
            None => self
                .config
                .neighbors
                .iter()
                .map(|n| match n.local_address {
                    IpAddr::V4(a) => format!("\"{a}:179\""),
                    IpAddr::V6(a) => format!("\"[{a}]:179\""),
                })
                .collect(),
        };
        let _ = writeln!(
            c,
            "listen = [{}]",
            listen.into_iter().collect::<Vec<_>>().join(", ")
        );
        let originate: Vec<String> = self
            .config
            .originate
            .iter()
            .map(|(p, _)| format!("\"{p}\""))
            .collect();
        let _ = writeln!(c, "originate = [{}]", originate.join(", "));
        let _ = writeln!(
            c,
            "connect-retry = {}",
            self.options.connect_retry.unwrap_or(2)
        );
        if let Some(paths) = self.options.multipath {
            let _ = writeln!(c, "multipath = {paths}");
            let _ = writeln!(c, "multipath-relax = true");
        }
        let _ = writeln!(c);
        let _ = writeln!(c, "[api]");
        let _ = writeln!(c, "socket = \"{}\"", self.socket().display());
        if let Some(stale_time) = self.options.kernel {
            let _ = writeln!(c);
            let _ = writeln!(c, "[fib]");
            let _ = writeln!(c, "kernel = true");
            let _ = writeln!(c, "stale-time = {stale_time}");
            if let Some(hold) = self.options.initial_hold {
                let _ = writeln!(c, "initial-hold = {hold}");
            }
        }
        for n in &self.config.neighbors {
            let _ = writeln!(c);
            let _ = writeln!(c, "[[neighbor]]");
            let _ = writeln!(c, "address = \"{}\"", n.address);
            let _ = writeln!(c, "remote-as = {}", n.remote_as);
            let _ = writeln!(c, "passive = {}", n.passive);
            let _ = writeln!(c, "families = [\"{}\"]", n.family.config_name());
            let import = if self.options.import_reject.contains(&n.address) {
                "reject"
            } else {
                "accept"
            };
            let _ = writeln!(c, "import = \"{import}\"");
            let _ = writeln!(c, "export = \"accept\"");
            if let Some(hold) = n.hold_time {
                let _ = writeln!(c, "hold-time = {hold}");
            }
            let security = &self.options.security;
            if let Some(password) = &security.password {
                let _ = writeln!(c, "password = \"{password}\"");
            }
            if security.ttl_security {
                let _ = writeln!(c, "ttl-security = true");
            }
            if let Some(hops) = security.multihop {
                let _ = writeln!(c, "ebgp-multihop = {hops}");
            }
        }
        c
    }

    fn start_process(&mut self) -> Result<()> {
        std::fs::write(self.config_path(), self.render_config())?;
        let _ = std::fs::remove_file(self.socket());
        let process = Process::spawn(
            &self.netns_name,
            "closd",
            &self.dir.join("closd.log"),
            self.closd.to_str().context("closd path")?,
            &["-c".into(), self.config_path().display().to_string()],
        )?;
        self.process = Some(process);
        wait_until("closd's API socket", Duration::from_secs(30), || {
            self.check_alive()?;
            self.closctl_json(&["bgp", "summary"]).map(Some)
        })?;
        Ok(())
    }

    /// Runs `closctl --socket SOCK ARGS...`.
    pub fn closctl(&self, args: &[&str]) -> Result<String> {
        run(std::process::Command::new(&self.closctl)
            .arg("--socket")
            .arg(self.socket())
            .args(args))
    }

    /// Runs `closctl --socket SOCK ARGS... --json` and parses the answer.
    pub fn closctl_json(&self, args: &[&str]) -> Result<Value> {
        let mut full = args.to_vec();
        full.push("--json");
        let out = self.closctl(&full)?;
        serde_json::from_str(&out)
            .with_context(|| format!("closctl {full:?} printed bad JSON:\n{out}"))
    }

    /// `closctl bgp summary --json`.
    pub fn summary(&self) -> Result<Value> {
        self.closctl_json(&["bgp", "summary"])
    }

    /// `closctl bgp neighbor ADDR --json` (NeighborDetail).
    pub fn neighbor(&self, neighbor: IpAddr) -> Result<Value> {
        self.closctl_json(&["bgp", "neighbor", &neighbor.to_string()])
    }

    /// The summary row of `neighbor`.
    pub fn neighbor_summary(&self, neighbor: IpAddr) -> Result<Value> {
        let summary = self.summary()?;
        summary["neighbors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| {
                n["address"]
                    .as_str()
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .is_some_and(|a| a == neighbor)
            })
            .cloned()
            .ok_or_else(|| anyhow!("closd's summary has no neighbor {neighbor}: {summary}"))
    }

    /// All Loc-RIB routes of `family` as closctl prints them (JSON Route
    /// objects), locally originated ones included.
    pub fn raw_routes(&self, family: Family) -> Result<Vec<Value>> {
        let value = self.closctl_json(&["bgp", "routes", "--family", family.short_name()])?;
        Ok(value["routes"].as_array().cloned().unwrap_or_default())
    }
}

/// A proto3 JSON integer: a number, or a string for 64-bit fields.
pub fn json_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        Value::Null => Some(0),
        _ => None,
    }
}

impl Peer for Closd {
    fn kind(&self) -> &'static str {
        "closd"
    }

    fn asn(&self) -> u32 {
        self.config.asn
    }

    fn session_state(&self, neighbor: IpAddr) -> Result<String> {
        let row = self.neighbor_summary(neighbor)?;
        Ok(row["state"].as_str().unwrap_or("Idle").to_string())
    }

    fn routes(&self, family: Family) -> Result<Vec<PeerRoute>> {
        let mut routes = Vec::new();
        for route in self.raw_routes(family)? {
            if route["peer"].as_str().unwrap_or("local") == "local" {
                continue;
            }
            routes.push(parse_route(&route)?);
        }
        Ok(routes)
    }

    fn announce(&mut self, prefix: IpNet, attrs: &RouteAttrs) -> Result<()> {
        if !attrs.is_plain() {
            bail!("closd originates {prefix} without attributes; got {attrs:?}");
        }
        self.closctl(&["bgp", "originate", "add", &prefix.to_string()])?;
        if !self.config.originate.iter().any(|(p, _)| *p == prefix) {
            self.config.originate.push((prefix, RouteAttrs::default()));
        }
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        self.closctl(&["bgp", "originate", "del", &prefix.to_string()])?;
        self.config.originate.retain(|(p, _)| *p != prefix);
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
        self.closctl(&["bgp", "refresh", &neighbor.to_string()])
            .map(|_| ())
    }

    fn updates_received(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let detail = self.neighbor(neighbor)?;
        Ok(json_u64(&detail["updates_received"]))
    }

    fn route_refresh_received(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let detail = self.neighbor(neighbor)?;
        Ok(json_u64(&detail["route_refresh_received"]))
    }

    fn negotiated_hold_time(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let detail = self.neighbor(neighbor)?;
        Ok(json_u64(&detail["hold_time"]))
    }

    fn established_transitions(&self, neighbor: IpAddr) -> Result<Option<u64>> {
        let detail = self.neighbor(neighbor)?;
        Ok(json_u64(&detail["established_transitions"]))
    }

    fn last_error(&self, neighbor: IpAddr) -> Result<String> {
        let detail = self.neighbor(neighbor)?;
        let mut parts = Vec::new();
        for key in ["last_notification_sent", "last_notification_received"] {
            if let Some(text) = detail[key].as_str().filter(|s| !s.is_empty()) {
                parts.push(format!("{key}: {text}"));
            }
        }
        if let Some(text) = detail["summary"]["last_error"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            parts.push(format!("last_error: {text}"));
        }
        Ok(parts.join("; "))
    }
}

/// One closctl Route object.
fn parse_route(route: &Value) -> Result<PeerRoute> {
    let text = |key: &str| route[key].as_str().unwrap_or_default();
    let prefix: IpNet = text("prefix")
        .parse()
        .with_context(|| format!("bad prefix in {route}"))?;
    let next_hop: IpAddr = text("next_hop")
        .parse()
        .with_context(|| format!("bad next_hop in {route}"))?;
    let number = |key: &str| json_u64(&route[key]).and_then(|n| u32::try_from(n).ok());
    let flag = |key: &str| route[key].as_bool().unwrap_or(false);
    let strings = |key: &str| -> Vec<String> {
        route[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    Ok(PeerRoute {
        prefix,
        next_hop,
        as_path: parse_as_path(text("as_path")),
        med: flag("has_med").then(|| number("med")).flatten(),
        local_pref: flag("has_local_pref")
            .then(|| number("local_pref"))
            .flatten(),
        communities: strings("communities")
            .iter()
            .filter_map(|s| parse_community(s))
            .collect(),
        large_communities: strings("large_communities")
            .iter()
            .filter_map(|s| parse_large_community(s))
            .collect(),
        origin: Origin::parse(text("origin")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_closctl_route() {
        let route: Value = serde_json::from_str(
            r#"{"prefix":"10.201.0.0/24","best":true,"next_hop":"10.0.0.2","peer":"10.0.0.2",
            "peer_asn":65001,"as_path":"65001 65001","origin":"igp","has_med":true,"med":50,
            "has_local_pref":false,"local_pref":0,"communities":["65001:100","65001:200"],
            "large_communities":["65001:1:2"],"extended_communities":[],"age_seconds":"3",
            "reason":"","multipath":false,"family":"ipv4-unicast"}"#,
        )
        .unwrap();
        let route = parse_route(&route).unwrap();
        assert_eq!(route.as_path, vec![65001, 65001]);
        assert_eq!(route.med, Some(50));
        assert_eq!(route.local_pref, None);
        assert_eq!(route.communities, vec![(65001, 100), (65001, 200)]);
        assert_eq!(route.large_communities, vec![(65001, 1, 2)]);
        assert_eq!(route.origin, Some(Origin::Igp));
    }

    #[test]
    fn proto3_json_integers() {
        assert_eq!(json_u64(&serde_json::json!("12")), Some(12));
        assert_eq!(json_u64(&serde_json::json!(12)), Some(12));
        assert_eq!(json_u64(&Value::Null), Some(0));
    }
}
