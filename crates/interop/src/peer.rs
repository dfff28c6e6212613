//! The uniform driver API every speaker (BIRD, FRR, GoBGP, closd) offers,
//! and the configuration and route types it speaks.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::Result;
use ipnet::IpNet;

use crate::util::wait_until;

/// An address family (AFI/SAFI pair) the harness exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    /// True for IPv6 unicast.
    pub fn is_ipv6(self) -> bool {
        self == Family::Ipv6Unicast
    }

    /// The name in closd's config (`ipv4-unicast`).
    pub fn config_name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        }
    }

    /// The short name (`ipv4`), as in `closctl bgp routes --family`.
    pub fn short_name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4",
            Family::Ipv6Unicast => "ipv6",
        }
    }

    /// The family of a prefix.
    pub fn of(prefix: &IpNet) -> Family {
        match prefix {
            IpNet::V4(_) => Family::Ipv4Unicast,
            IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }
}

/// ORIGIN (RFC 4271 §5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    /// Parses "IGP", "i", "igp", "0"... as each speaker prints it.
    pub fn parse(text: &str) -> Option<Origin> {
        match text.trim().to_ascii_lowercase().as_str() {
            "igp" | "i" | "0" => Some(Origin::Igp),
            "egp" | "e" | "1" => Some(Origin::Egp),
            "incomplete" | "?" | "2" => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

/// A route as a speaker shows it, learned from a BGP neighbor (locally
/// originated routes are not listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRoute {
    pub prefix: IpNet,
    /// The first (global) next hop.
    pub next_hop: IpAddr,
    /// AS_PATH flattened (sets included in order).
    pub as_path: Vec<u32>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub communities: Vec<(u16, u16)>,
    pub large_communities: Vec<(u32, u32, u32)>,
    pub origin: Option<Origin>,
}

/// Attributes a speaker attaches to a route it announces. The speaker
/// prepends its own AS on eBGP export as usual; `prepend` comes after it, so
/// the receiver sees `[own AS] ++ prepend`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteAttrs {
    pub communities: Vec<(u16, u16)>,
    pub large_communities: Vec<(u32, u32, u32)>,
    pub med: Option<u32>,
    pub prepend: Vec<u32>,
}

impl RouteAttrs {
    /// True when no attribute is set.
    pub fn is_plain(&self) -> bool {
        *self == RouteAttrs::default()
    }
}

/// One BGP neighbor of a speaker.
#[derive(Clone, Debug)]
pub struct NeighborConfig {
    pub address: IpAddr,
    /// Our address on the link to this neighbor.
    pub local_address: IpAddr,
    pub remote_as: u32,
    /// The one family this session carries.
    pub family: Family,
    /// Hold time we offer (seconds); None keeps the speaker's default.
    pub hold_time: Option<u16>,
    /// Wait for the neighbor to connect.
    pub passive: bool,
}

/// How a speaker protects its sessions from the wire; the drivers that
/// support it (BIRD, FRR, closd) apply it to every neighbor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionSecurity {
    /// TCP MD5 signatures (RFC 2385) with this password.
    pub password: Option<String>,
    /// GTSM (RFC 5082): send with TTL 255, accept only what arrives with
    /// 256 − hops (`multihop`, else 1 hop: 255).
    pub ttl_security: bool,
    /// eBGP multihop: the session's peer is this many hops away (BIRD
    /// `multihop N`, FRR `ebgp-multihop N` or, with GTSM,
    /// `ttl-security hops N`, closd `ebgp-multihop`).
    pub multihop: Option<u8>,
}

/// What a driver needs to start its speaker.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub neighbors: Vec<NeighborConfig>,
    /// Routes announced from the start.
    pub originate: Vec<(IpNet, RouteAttrs)>,
}

/// The uniform API of a running BGP speaker in a namespace.
pub trait Peer {
    /// "bird", "frr", "gobgp" or "closd", for messages.
    fn kind(&self) -> &'static str;

    /// The speaker's AS.
    fn asn(&self) -> u32;

    /// Fails fatally when the speaker's process has exited.
    fn check_alive(&self) -> Result<()> {
        self.process()?.check_alive()
    }

    /// The RFC 4271 state of the session with `neighbor`, spelled as in
    /// the RFC ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm",
    /// "Established"); speakers that say "down"/"start" map to "Idle".
    fn session_state(&self, neighbor: IpAddr) -> Result<String>;

    /// Routes learned from BGP neighbors in `family`.
    fn routes(&self, family: Family) -> Result<Vec<PeerRoute>>;

    /// Starts announcing (or re-announces with new attributes) `prefix`.
    fn announce(&mut self, prefix: IpNet, attrs: &RouteAttrs) -> Result<()>;

    /// Stops announcing `prefix`.
    fn withdraw(&mut self, prefix: IpNet) -> Result<()>;

    /// Where the driver keeps its running BGP process (None when stopped).
    fn slot(&mut self) -> &mut Option<crate::Process>;

    /// The running BGP process, if any.
    fn running(&self) -> Option<&crate::Process>;

    /// Spawns the BGP process with the current configuration and
    /// announcements into [`Peer::slot`].
    fn spawn(&mut self) -> Result<()>;

    /// Stops the speaker's BGP process (SIGTERM; it may send a Cease).
    fn stop(&mut self) -> Result<()> {
        if let Some(process) = self.slot().take() {
            process.stop();
        }
        Ok(())
    }

    /// Starts a fresh BGP process (after [`Peer::stop`]).
    fn start(&mut self) -> Result<()> {
        if self.running().is_some() {
            anyhow::bail!("{} is already running", self.kind());
        }
        self.spawn()
    }

    /// The BGP process, for freezing it with SIGSTOP.
    fn process(&self) -> Result<&crate::Process> {
        self.running()
            .ok_or_else(|| anyhow::anyhow!("{} is stopped", self.kind()))
    }

    /// Asks `neighbor` to resend its routes (ROUTE-REFRESH, RFC 2918).
    fn request_refresh(&self, neighbor: IpAddr) -> Result<()>;

    /// ROUTE-REFRESH messages received from `neighbor`, when the speaker
    /// counts them.
    fn route_refresh_received(&self, _neighbor: IpAddr) -> Result<Option<u64>> {
        Ok(None)
    }

    /// The hold time negotiated with `neighbor` (seconds), when the speaker
    /// shows it.
    fn negotiated_hold_time(&self, _neighbor: IpAddr) -> Result<Option<u64>> {
        Ok(None)
    }

    /// UPDATE messages received from `neighbor`, when the speaker counts
    /// them (to see a peer answer a ROUTE-REFRESH).
    fn updates_received(&self, _neighbor: IpAddr) -> Result<Option<u64>> {
        Ok(None)
    }

    /// How many times the session with `neighbor` reached Established,
    /// when the speaker counts it (to detect flaps).
    fn established_transitions(&self, _neighbor: IpAddr) -> Result<Option<u64>> {
        Ok(None)
    }

    /// The last error or NOTIFICATION on the session with `neighbor`, as
    /// the speaker words it ("" when none).
    fn last_error(&self, neighbor: IpAddr) -> Result<String>;

    /// Kills and restarts the BGP process.
    fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.start()
    }

    /// Polls until the session with `neighbor` is Established.
    fn wait_established(&self, neighbor: IpAddr, timeout: Duration) -> Result<()> {
        wait_until(
            &format!("{} session with {neighbor} Established", self.kind()),
            timeout,
            || {
                self.check_alive()?;
                let state = self.session_state(neighbor)?;
                if state == "Established" {
                    Ok(Some(()))
                } else {
                    Err(anyhow::anyhow!(
                        "{} says the session is {state}",
                        self.kind()
                    ))
                }
            },
        )
    }

    /// Polls until a route for `prefix` satisfying `matches` is present.
    fn wait_route(
        &self,
        prefix: IpNet,
        timeout: Duration,
        matches: &dyn Fn(&PeerRoute) -> bool,
    ) -> Result<PeerRoute> {
        wait_until(
            &format!("{} to have a matching route for {prefix}", self.kind()),
            timeout,
            || {
                self.check_alive()?;
                let routes = self.routes(Family::of(&prefix))?;
                let found: Vec<&PeerRoute> = routes.iter().filter(|r| r.prefix == prefix).collect();
                match found.iter().find(|r| matches(r)) {
                    Some(route) => Ok(Some((*route).clone())),
                    None if found.is_empty() => Err(anyhow::anyhow!("no route for {prefix}")),
                    None => Err(anyhow::anyhow!(
                        "routes for {prefix} do not match: {found:?}"
                    )),
                }
            },
        )
    }

    /// Polls until no route for `prefix` is present.
    fn wait_no_route(&self, prefix: IpNet, timeout: Duration) -> Result<()> {
        wait_until(
            &format!("{} to have no route for {prefix}", self.kind()),
            timeout,
            || {
                self.check_alive()?;
                let routes = self.routes(Family::of(&prefix))?;
                match routes.iter().find(|r| r.prefix == prefix) {
                    None => Ok(Some(())),
                    Some(route) => Err(anyhow::anyhow!("still present: {route:?}")),
                }
            },
        )
    }
}

/// Parses "65001:100" into a community.
pub(crate) fn parse_community(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Parses "65001:1:2" into a large community.
pub(crate) fn parse_large_community(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split(':');
    let a = parts.next()?.parse().ok()?;
    let b = parts.next()?.parse().ok()?;
    let c = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((a, b, c))
}

/// Parses an AS path string such as "65001 65002 {65003,65004}" into a flat
/// list.
pub(crate) fn parse_as_path(text: &str) -> Vec<u32> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}
