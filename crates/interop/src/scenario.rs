//! Topologies and interop scenarios, generic over the speakers.
//!
//! A [`Pair`] is two namespaces joined by one veth: side A runs the device
//! under test (closd in the interop matrix; BIRD, FRR or GoBGP when the
//! harness validates itself), side B runs the peer. Each scenario function
//! is one test of the matrix; `tests/*.rs` instantiate them per peer and
//! family.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use ipnet::IpNet;

use crate::lab::Lab;
use crate::netns::{veth, Link, Netns};
use crate::peer::{Family, NeighborConfig, Origin, Peer, PeerRoute, RouteAttrs, RouterConfig};
use crate::util::wait_until;
use crate::{Bird, Closd, Frr, Gobgp};

/// AS of the device under test.
pub const DUT_AS: u32 = 65000;
/// AS of the peer.
pub const PEER_AS: u32 = 65001;
/// AS of the second peer in the three-node line.
pub const PEER2_AS: u32 = 65002;
/// An AS nobody has, for refused OPENs.
pub const WRONG_AS: u32 = 65099;

/// Time allowed for a session to come up (slow, shared CI machines).
pub const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed for an UPDATE or withdrawal to show.
pub const ROUTE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which speaker to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    Closd,
    Bird,
    Frr,
    Gobgp,
}

impl Daemon {
    /// Starts this speaker in `netns`.
    pub fn start(
        self,
        lab: &Lab,
        netns: &Netns,
        tag: &str,
        config: RouterConfig,
    ) -> Result<Box<dyn Peer>> {
        Ok(match self {
            Daemon::Closd => Box::new(Closd::start(lab, netns, tag, config)?),
            Daemon::Bird => Box::new(Bird::start(lab, netns, tag, config)?),
            Daemon::Frr => Box::new(Frr::start(lab, netns, tag, config)?),
            Daemon::Gobgp => Box::new(Gobgp::start(lab, netns, tag, config)?),
        })
    }
}

/// Prefix the peer announces.
pub fn peer_prefix(family: Family) -> IpNet {
    parse_net(match family {
        Family::Ipv4Unicast => "10.201.0.0/24",
        Family::Ipv6Unicast => "2001:db8:201::/48",
    })
}

/// Prefix the device under test originates from its config.
pub fn dut_prefix(family: Family) -> IpNet {
    parse_net(match family {
        Family::Ipv4Unicast => "10.200.0.0/24",
        Family::Ipv6Unicast => "2001:db8:200::/48",
    })
}

/// Prefix the device under test originates at run time.
pub fn dut_runtime_prefix(family: Family) -> IpNet {
    parse_net(match family {
        Family::Ipv4Unicast => "10.200.1.0/24",
        Family::Ipv6Unicast => "2001:db8:202::/48",
    })
}

fn parse_net(text: &str) -> IpNet {
    text.parse().expect("constant prefix")
}

/// What the peer attaches to [`peer_prefix`]: two communities, a large
/// community, a MED, and one extra prepend of its own AS.
pub fn peer_attrs() -> RouteAttrs {
    RouteAttrs {
        communities: vec![(PEER_AS as u16, 100), (PEER_AS as u16, 200)],
        large_communities: vec![(PEER_AS, 1, 2)],
        med: Some(50),
        prepend: vec![PEER_AS],
    }
}

/// True when `route` has AS path `as_path` and carries the communities,
/// large communities and MED of `attrs`.
pub fn carries(route: &PeerRoute, attrs: &RouteAttrs, as_path: &[u32]) -> bool {
    route.as_path == as_path
        && attrs
            .communities
            .iter()
            .all(|c| route.communities.contains(c))
        && attrs
            .large_communities
            .iter()
            .all(|c| route.large_communities.contains(c))
        && route.med == attrs.med
}

/// IPv4 and IPv6 addresses (with prefix length) of sides A and B of link
/// number `index`: `10.0.<index>.1/30`, `fd00:0:0:<index>::1/64` and `.2`.
fn link_addrs(index: u8) -> ([IpNet; 2], [IpNet; 2]) {
    let a = [
        format!("10.0.{index}.1/30").parse().expect("v4"),
        format!("fd00:0:0:{index}::1/64").parse().expect("v6"),
    ];
    let b = [
        format!("10.0.{index}.2/30").parse().expect("v4"),
        format!("fd00:0:0:{index}::2/64").parse().expect("v6"),
    ];
    (a, b)
}

fn addr(nets: &[IpNet; 2], family: Family) -> IpAddr {
    nets[usize::from(family.is_ipv6())].addr()
}

/// Knobs of a [`Pair`].
#[derive(Clone, Debug)]
pub struct PairOptions {
    /// Hold time the device under test offers to the peer.
    pub dut_hold_time: Option<u16>,
    /// The AS the device under test expects of the peer.
    pub dut_expects_as: u32,
    /// The AS the peer expects of the device under test.
    pub peer_expects_as: u32,
    /// Routes the device under test originates from its config.
    pub dut_originate: Vec<IpNet>,
}

impl PairOptions {
    /// Correct ASes, default hold time, [`dut_prefix`] originated.
    pub fn new(family: Family) -> PairOptions {
        PairOptions {
            dut_hold_time: None,
            dut_expects_as: PEER_AS,
            peer_expects_as: DUT_AS,
            dut_originate: vec![dut_prefix(family)],
        }
    }
}

/// Device under test (namespace A) and peer (namespace B) on one veth.
pub struct Pair {
    /// Declared first: stopped before the namespaces go.
    pub dut: Box<dyn Peer>,
    pub peer: Box<dyn Peer>,
    pub family: Family,
    /// The device under test's address on the link.
    pub dut_addr: IpAddr,
    /// The peer's address on the link.
    pub peer_addr: IpAddr,
    pub link: Link,
    _ns_b: Netns,
    _ns_a: Netns,
}

impl Pair {
    /// Builds the topology and starts both speakers (the device under test
    /// actively connects; the peer too, whichever wins).
    pub fn new(
        lab: &Lab,
        family: Family,
        dut: Daemon,
        peer: Daemon,
        options: &PairOptions,
    ) -> Result<Pair> {
        let ns_a = lab.netns("a")?;
        let ns_b = lab.netns("b")?;
        let (nets_a, nets_b) = link_addrs(0);
        let link = veth(&ns_a, "eth0", &nets_a, &ns_b, "eth0", &nets_b)?;
        let dut_addr = addr(&nets_a, family);
        let peer_addr = addr(&nets_b, family);
        let dut_config = RouterConfig {
            asn: DUT_AS,
            router_id: Ipv4Addr::new(10, 255, 0, 1),
            neighbors: vec![NeighborConfig {
                address: peer_addr,
                local_address: dut_addr,
                remote_as: options.dut_expects_as,
                family,
                hold_time: options.dut_hold_time,
                passive: false,
            }],
            originate: options
                .dut_originate
                .iter()
                .map(|p| (*p, RouteAttrs::default()))
                .collect(),
        };
        let peer_config = RouterConfig {
            asn: PEER_AS,
            router_id: Ipv4Addr::new(10, 255, 0, 2),
            neighbors: vec![NeighborConfig {
                address: dut_addr,
                local_address: peer_addr,
                remote_as: options.peer_expects_as,
                family,
                hold_time: None,
                passive: false,
            }],
            originate: Vec::new(),
        };
        let peer = peer.start(lab, &ns_b, "b", peer_config)?;
        let dut = dut.start(lab, &ns_a, "a", dut_config)?;
        Ok(Pair {
            dut,
            peer,
            family,
            dut_addr,
            peer_addr,
            link,
            _ns_b: ns_b,
            _ns_a: ns_a,
        })
    }

    /// Waits until both sides say Established.
    pub fn wait_established(&self) -> Result<()> {
        self.dut
            .wait_established(self.peer_addr, ESTABLISH_TIMEOUT)?;
        self.peer.wait_established(self.dut_addr, ESTABLISH_TIMEOUT)
    }

    /// Peer announces [`peer_prefix`] with [`peer_attrs`]; waits until the
    /// device under test has it with those attributes.
    pub fn peer_announces(&mut self) -> Result<PeerRoute> {
        let prefix = peer_prefix(self.family);
        let attrs = peer_attrs();
        self.peer.announce(prefix, &attrs)?;
        self.dut_has_peer_route()
    }

    /// Waits until the device under test has the peer's route, attributes
    /// and next hop intact.
    pub fn dut_has_peer_route(&self) -> Result<PeerRoute> {
        let prefix = peer_prefix(self.family);
        let attrs = peer_attrs();
        let mut as_path = vec![PEER_AS];
        as_path.extend(&attrs.prepend);
        let peer_addr = self.peer_addr;
        let route = self
            .dut
            .wait_route(prefix, ROUTE_TIMEOUT, &|r| {
                carries(r, &attrs, &as_path) && r.next_hop == peer_addr
            })
            .with_context(|| {
                format!(
                    "{} should have {prefix} from {} with AS path {as_path:?}, next hop \
                     {peer_addr} and {attrs:?}",
                    self.dut.kind(),
                    self.peer.kind()
                )
            })?;
        ensure!(
            route.origin == Some(Origin::Igp),
            "origin of {prefix} should be IGP: {route:?}"
        );
        Ok(route)
    }

    /// Waits until the peer has `prefix` from the device under test with
    /// AS path `[DUT_AS]` and next hop the device's address.
    pub fn peer_has_dut_route(&self, prefix: IpNet) -> Result<PeerRoute> {
        let dut_addr = self.dut_addr;
        self.peer
            .wait_route(prefix, ROUTE_TIMEOUT, &|r| {
                r.as_path == [DUT_AS] && r.next_hop == dut_addr
            })
            .with_context(|| {
                format!(
                    "{} should have {prefix} from {} with AS path [{DUT_AS}] and next hop \
                     {dut_addr}",
                    self.peer.kind(),
                    self.dut.kind()
                )
            })
    }
}

/// Scenario 1: the session establishes, both sides say so.
pub fn establish(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let pair = Pair::new(lab, family, dut, peer, &PairOptions::new(family))?;
    pair.wait_established()
}

/// Scenario 2: routes flow both ways with attributes intact (config and
/// run-time origination on the device under test).
pub fn routes_both_ways(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut pair = Pair::new(lab, family, dut, peer, &PairOptions::new(family))?;
    pair.wait_established()?;
    pair.peer_announces()?;
    pair.peer_has_dut_route(dut_prefix(family))?;
    let runtime = dut_runtime_prefix(family);
    pair.dut.announce(runtime, &RouteAttrs::default())?;
    pair.peer_has_dut_route(runtime)?;
    Ok(())
}

/// Scenario 3: withdrawals both ways.
pub fn withdraw(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut pair = Pair::new(lab, family, dut, peer, &PairOptions::new(family))?;
    pair.wait_established()?;
    pair.peer_announces()?;
    let runtime = dut_runtime_prefix(family);
    pair.dut.announce(runtime, &RouteAttrs::default())?;
    pair.peer_has_dut_route(runtime)?;
    pair.peer_has_dut_route(dut_prefix(family))?;

    pair.peer.withdraw(peer_prefix(family))?;
    pair.dut
        .wait_no_route(peer_prefix(family), ROUTE_TIMEOUT)
        .context("the peer withdrew its prefix")?;
    pair.dut.withdraw(runtime)?;
    pair.peer
        .wait_no_route(runtime, ROUTE_TIMEOUT)
        .context("the device under test withdrew its run-time prefix")?;
    pair.dut.withdraw(dut_prefix(family))?;
    pair.peer
        .wait_no_route(dut_prefix(family), ROUTE_TIMEOUT)
        .context("the device under test withdrew its configured prefix")?;
    // The session survives withdrawals.
    ensure!(
        pair.dut.session_state(pair.peer_addr)? == "Established",
        "session went down after withdrawals"
    );
    Ok(())
}

/// Scenario 4: the peer's process is stopped and a fresh one started; the
/// peer's routes leave the device under test while it is down and return.
pub fn peer_restart(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut pair = Pair::new(lab, family, dut, peer, &PairOptions::new(family))?;
    pair.wait_established()?;
    pair.peer_announces()?;
    pair.peer_has_dut_route(dut_prefix(family))?;

    pair.peer.stop()?;
    pair.dut
        .wait_no_route(peer_prefix(family), ROUTE_TIMEOUT)
        .context("the peer's routes should go while it is down")?;
    let state = pair.dut.session_state(pair.peer_addr)?;
    ensure!(
        state != "Established",
        "session still Established with the peer down"
    );

    pair.peer.start()?;
    pair.wait_established()
        .context("the session should come back with the restarted peer")?;
    pair.dut_has_peer_route()
        .context("the peer's route should return")?;
    pair.peer_has_dut_route(dut_prefix(family))
        .context("the restarted peer should learn the route again")?;
    Ok(())
}

/// Scenario 5: hold timer expiry. The device under test offers hold time 9;
/// the peer is frozen (SIGSTOP); the device must drop the session within
/// the hold time plus slack, say why (hold timer expired, NOTIFICATION code
/// 4), remove the peer's routes, and recover after SIGCONT.
pub fn hold_timer_expiry(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    const HOLD: u16 = 9;
    let mut options = PairOptions::new(family);
    options.dut_hold_time = Some(HOLD);
    let mut pair = Pair::new(lab, family, dut, peer, &options)?;
    pair.wait_established()?;
    pair.peer_announces()?;
    // Both sides must have negotiated the smaller offer (RFC 4271 §4.2).
    for (side, neighbor) in [(&pair.dut, pair.peer_addr), (&pair.peer, pair.dut_addr)] {
        if let Some(hold) = side.negotiated_hold_time(neighbor)? {
            ensure!(
                hold == u64::from(HOLD),
                "{} negotiated hold time {hold}, expected {HOLD}",
                side.kind()
            );
        }
    }

    let frozen_at = Instant::now();
    pair.peer.process()?.freeze()?;
    let limit = Duration::from_secs(u64::from(HOLD) + 6);
    let outcome = wait_until(
        "the device under test to drop the session with the frozen peer",
        limit,
        || {
            pair.dut.check_alive()?;
            let state = pair.dut.session_state(pair.peer_addr)?;
            Ok((state != "Established").then_some(state))
        },
    );
    let down_after = frozen_at.elapsed();
    let checks = outcome.and_then(|_| {
        let error = pair.dut.last_error(pair.peer_addr)?;
        // closd must say it in the NOTIFICATION it sent; other speakers
        // word it their own way.
        let said = match pair.dut.kind() {
            "closd" => error_field(&error, "last_notification_sent").unwrap_or_default(),
            _ => &error,
        };
        ensure!(
            mentions_hold_timer(said) || said.contains("4/0"),
            "{} should say the hold timer expired (NOTIFICATION 4/0 sent); it says {error:?}",
            pair.dut.kind()
        );
        eprintln!("{}: {error}", pair.dut.kind());
        pair.dut
            .wait_no_route(peer_prefix(family), ROUTE_TIMEOUT)
            .context("the frozen peer's routes should be removed")
    });
    pair.peer.process()?.thaw()?;
    checks.with_context(|| format!("peer frozen for {down_after:?}"))?;
    eprintln!(
        "{}: session dropped {down_after:?} after freezing {}",
        pair.dut.kind(),
        pair.peer.kind()
    );
    pair.wait_established()
        .context("the session should recover after SIGCONT")?;
    pair.dut_has_peer_route()
        .context("the peer's route should return after recovery")?;
    Ok(())
}

/// The value of `key` in a `key: value; key: value` error summary (as
/// [`Closd`]'s `last_error` builds it).
pub fn error_field<'a>(summary: &'a str, key: &str) -> Option<&'a str> {
    summary
        .split("; ")
        .find_map(|part| part.strip_prefix(key)?.strip_prefix(": "))
}

/// True when `text` says the hold timer expired.
pub fn mentions_hold_timer(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("hold time") || text.contains("hold-time") || text.contains("hold_time")
}

/// Scenario 6: the peer asks for a route refresh; the device under test
/// counts the ROUTE-REFRESH, keeps the session up and the routes in place.
pub fn route_refresh(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut pair = Pair::new(lab, family, dut, peer, &PairOptions::new(family))?;
    pair.wait_established()?;
    pair.peer_announces()?;
    pair.peer_has_dut_route(dut_prefix(family))?;
    let transitions_before = pair.dut.established_transitions(pair.peer_addr)?;
    let before = pair
        .dut
        .route_refresh_received(pair.peer_addr)?
        .ok_or_else(|| anyhow!("{} does not count ROUTE-REFRESH", pair.dut.kind()))?;
    pair.peer.request_refresh(pair.dut_addr)?;
    let after = wait_until(
        "the device under test to count the ROUTE-REFRESH",
        ROUTE_TIMEOUT,
        || {
            let now = pair
                .dut
                .route_refresh_received(pair.peer_addr)?
                .unwrap_or(0);
            Ok((now > before).then_some(now))
        },
    )?;
    eprintln!("route_refresh_received {before} -> {after}");
    ensure!(
        pair.dut.session_state(pair.peer_addr)? == "Established",
        "the session went down after a ROUTE-REFRESH"
    );
    ensure!(
        pair.dut.established_transitions(pair.peer_addr)? == transitions_before,
        "the session flapped during the refresh"
    );
    pair.peer_has_dut_route(dut_prefix(family))
        .context("the refreshed peer should still have the route")?;
    pair.dut_has_peer_route()?;
    Ok(())
}

/// Scenario 6b: the device under test asks the peer to resend its routes
/// (`closctl bgp refresh`, RFC 2918): the peer answers with its routes
/// again (the device counts UPDATEs arriving), counts the ROUTE-REFRESH
/// where it exposes a counter, and the session does not flap.
pub fn route_refresh_by_dut(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut pair = Pair::new(lab, family, dut, peer, &PairOptions::new(family))?;
    pair.wait_established()?;
    pair.peer_announces()?;
    pair.dut_has_peer_route()?;
    let transitions_before = pair.dut.established_transitions(pair.peer_addr)?;
    let updates_before = pair
        .dut
        .updates_received(pair.peer_addr)?
        .ok_or_else(|| anyhow!("{} does not count UPDATEs", pair.dut.kind()))?;
    let peer_counted_before = pair.peer.route_refresh_received(pair.dut_addr)?;
    // The peer must show it got the ROUTE-REFRESH: by sending its routes
    // again, or, where it exposes one, by its counter. FRR (8.4, graceful
    // restart off) counts the request but ignores it ("rcvd route-refresh
    // before EoR": it sends no End-of-RIB without graceful restart), so the
    // counter is what shows it there. Ask again every few seconds in case the
    // first request came too early.
    let mut asked: Option<Instant> = None;
    let answer = wait_until(
        "the peer to answer the ROUTE-REFRESH",
        ROUTE_TIMEOUT,
        || {
            if asked.is_none_or(|t| t.elapsed() > Duration::from_secs(4)) {
                pair.dut.request_refresh(pair.peer_addr)?;
                asked = Some(Instant::now());
            }
            let updates = pair.dut.updates_received(pair.peer_addr)?.unwrap_or(0);
            if updates > updates_before {
                return Ok(Some(format!(
                    "updates_received {updates_before} -> {updates}"
                )));
            }
            if let Some(before) = peer_counted_before {
                let now = pair
                    .peer
                    .route_refresh_received(pair.dut_addr)?
                    .unwrap_or(0);
                if now > before {
                    return Ok(Some(format!(
                        "peer's route_refresh_received {before} -> {now}"
                    )));
                }
            }
            Ok(None)
        },
    )?;
    eprintln!("{answer}");
    ensure!(
        pair.dut.session_state(pair.peer_addr)? == "Established",
        "the session went down after a ROUTE-REFRESH"
    );
    ensure!(
        pair.dut.established_transitions(pair.peer_addr)? == transitions_before,
        "the session flapped during the refresh"
    );
    pair.dut_has_peer_route()?;
    Ok(())
}

/// Scenario 7a: the device under test expects the wrong AS of the peer: the
/// session never establishes and the device sends OPEN error 2/2 (Bad Peer
/// AS).
pub fn refused_open(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut options = PairOptions::new(family);
    options.dut_expects_as = WRONG_AS;
    let pair = Pair::new(lab, family, dut, peer, &options)?;
    refused(&pair, "last_notification_sent")
}

/// Scenario 7b: the peer expects the wrong AS of the device under test: the
/// peer refuses the device's OPEN with 2/2, and the device reports the
/// NOTIFICATION it received.
pub fn refused_open_by_peer(lab: &Lab, family: Family, dut: Daemon, peer: Daemon) -> Result<()> {
    let mut options = PairOptions::new(family);
    options.peer_expects_as = WRONG_AS;
    let pair = Pair::new(lab, family, dut, peer, &options)?;
    refused(&pair, "last_notification_received")
}

/// Waits until the device under test reports Bad Peer AS on its session,
/// failing at once if either side ever says Established, then watches a
/// few more seconds. closd must report it in `closd_field` of its
/// NeighborDetail; other speakers anywhere in their last error.
fn refused(pair: &Pair, closd_field: &str) -> Result<()> {
    let speaker = &pair.dut;
    let neighbor = pair.peer_addr;
    let never_established = || -> Result<()> {
        for (side, addr) in [(&pair.dut, pair.peer_addr), (&pair.peer, pair.dut_addr)] {
            side.check_alive()?;
            if side.session_state(addr)? == "Established" {
                return Err(crate::util::Fatal(format!(
                    "{} says Established despite the AS mismatch",
                    side.kind()
                ))
                .into());
            }
        }
        Ok(())
    };
    let error = wait_until(
        &format!("{} to report Bad Peer AS", speaker.kind()),
        ESTABLISH_TIMEOUT,
        || {
            never_established()?;
            let error = speaker.last_error(neighbor)?;
            let said = match speaker.kind() {
                "closd" => error_field(&error, closd_field).unwrap_or_default(),
                _ => &error,
            };
            if mentions_bad_peer_as(said) {
                Ok(Some(error))
            } else {
                Err(anyhow!("last error so far: {error:?}"))
            }
        },
    )?;
    eprintln!("{}: {error}", speaker.kind());
    // The other side must have seen the same NOTIFICATION on the wire.
    // gobgpd does not say which NOTIFICATION it received (its log has the
    // FSM reason only), so that one case is left to the device's report.
    if pair.peer.kind() == "gobgp" && closd_field == "last_notification_sent" {
        return watch_never_established(never_established);
    }
    let error = wait_until(
        &format!("{} to report Bad Peer AS", pair.peer.kind()),
        ESTABLISH_TIMEOUT,
        || {
            never_established()?;
            let error = pair.peer.last_error(pair.dut_addr)?;
            if mentions_bad_peer_as(&error) {
                Ok(Some(error))
            } else {
                Err(anyhow!("last error so far: {error:?}"))
            }
        },
    )?;
    eprintln!("{}: {error}", pair.peer.kind());
    watch_never_established(never_established)
}

/// Runs `check` for a few more seconds: a refused session must stay down.
fn watch_never_established(check: impl Fn() -> Result<()>) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        check()?;
        std::thread::sleep(crate::POLL_INTERVAL);
    }
    Ok(())
}

/// True when `text` names OPEN error 2/2, Bad Peer AS.
pub fn mentions_bad_peer_as(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("bad peer as")
        || lower.contains("bad peer-as")
        || lower.contains("bad_peer_as")
        || lower.contains("badpeeras")
        || lower.contains("as number mismatch")
        || lower.contains("2/2")
        || lower.contains("code 2, subcode 2")
        || lower.contains("code 2 subcode 2")
}

/// Three speakers in a line, left — middle — right, middle the device under
/// test (AS 65000), left AS 65001, right AS 65002.
pub struct Line {
    pub middle: Box<dyn Peer>,
    pub left: Box<dyn Peer>,
    pub right: Box<dyn Peer>,
    pub family: Family,
    /// Middle's address towards the right.
    pub middle_right_addr: IpAddr,
    /// Middle's address towards the left.
    pub middle_left_addr: IpAddr,
    pub left_addr: IpAddr,
    pub right_addr: IpAddr,
    _ns: [Netns; 3],
}

impl Line {
    /// Builds the line and waits until both sessions are Established.
    pub fn new(
        lab: &Lab,
        family: Family,
        left: Daemon,
        middle: Daemon,
        right: Daemon,
    ) -> Result<Line> {
        let ns_m = lab.netns("m")?;
        let ns_l = lab.netns("l")?;
        let ns_r = lab.netns("r")?;
        let (m_left, l_nets) = link_addrs(1);
        let (m_right, r_nets) = link_addrs(2);
        veth(&ns_m, "left", &m_left, &ns_l, "eth0", &l_nets)?;
        veth(&ns_m, "right", &m_right, &ns_r, "eth0", &r_nets)?;
        let (ml, mr, la, ra) = (
            addr(&m_left, family),
            addr(&m_right, family),
            addr(&l_nets, family),
            addr(&r_nets, family),
        );
        let neighbor = |address, local_address, remote_as| NeighborConfig {
            address,
            local_address,
            remote_as,
            family,
            hold_time: None,
            passive: false,
        };
        let middle = middle.start(
            lab,
            &ns_m,
            "m",
            RouterConfig {
                asn: DUT_AS,
                router_id: Ipv4Addr::new(10, 255, 0, 1),
                neighbors: vec![neighbor(la, ml, PEER_AS), neighbor(ra, mr, PEER2_AS)],
                originate: Vec::new(),
            },
        )?;
        let left = left.start(
            lab,
            &ns_l,
            "l",
            RouterConfig {
                asn: PEER_AS,
                router_id: Ipv4Addr::new(10, 255, 0, 2),
                neighbors: vec![neighbor(ml, la, DUT_AS)],
                originate: Vec::new(),
            },
        )?;
        let right = right.start(
            lab,
            &ns_r,
            "r",
            RouterConfig {
                asn: PEER2_AS,
                router_id: Ipv4Addr::new(10, 255, 0, 3),
                neighbors: vec![neighbor(mr, ra, DUT_AS)],
                originate: Vec::new(),
            },
        )?;
        let line = Line {
            middle,
            left,
            right,
            family,
            middle_right_addr: mr,
            middle_left_addr: ml,
            left_addr: la,
            right_addr: ra,
            _ns: [ns_m, ns_l, ns_r],
        };
        line.middle.wait_established(la, ESTABLISH_TIMEOUT)?;
        line.middle.wait_established(ra, ESTABLISH_TIMEOUT)?;
        line.left.wait_established(ml, ESTABLISH_TIMEOUT)?;
        line.right.wait_established(mr, ESTABLISH_TIMEOUT)?;
        Ok(line)
    }
}

/// Three-node propagation: a route from the left reaches the right through
/// the middle with AS path [65000, 65001], communities intact and next hop
/// the middle's address; and the other way round.
pub fn line_propagation(
    lab: &Lab,
    family: Family,
    left: Daemon,
    middle: Daemon,
    right: Daemon,
) -> Result<()> {
    let mut line = Line::new(lab, family, left, middle, right)?;
    let attrs = RouteAttrs {
        communities: vec![(PEER_AS as u16, 100)],
        large_communities: vec![(PEER_AS, 7, 8)],
        med: None,
        prepend: Vec::new(),
    };
    let prefix = peer_prefix(family);
    line.left.announce(prefix, &attrs)?;
    let via = line.middle_right_addr;
    line.right
        .wait_route(prefix, ROUTE_TIMEOUT, &|r| {
            carries(r, &attrs, &[DUT_AS, PEER_AS]) && r.next_hop == via
        })
        .with_context(|| {
            format!(
                "{} should have {prefix} via {} with AS path [{DUT_AS}, {PEER_AS}], next hop {via}",
                line.right.kind(),
                line.middle.kind()
            )
        })?;

    let back = dut_prefix(family);
    line.right.announce(back, &RouteAttrs::default())?;
    let via = line.middle_left_addr;
    line.left
        .wait_route(back, ROUTE_TIMEOUT, &|r| {
            r.as_path == [DUT_AS, PEER2_AS] && r.next_hop == via
        })
        .with_context(|| format!("{} should have {back} via the middle", line.left.kind()))?;

    line.left.withdraw(prefix)?;
    line.right
        .wait_no_route(prefix, ROUTE_TIMEOUT)
        .context("the withdrawal should propagate through the middle")?;
    Ok(())
}

/// Generates the closd interop matrix against one peer: every scenario for
/// IPv4 and IPv6 sessions, as `v4::<scenario>` and `v6::<scenario>`.
///
/// `closd_matrix!(Bird, "bird")`; attributes after `refresh:` go on the
/// route-refresh tests (e.g. `#[ignore = "..."]` for a peer that cannot send
/// one).
#[macro_export]
macro_rules! closd_matrix {
    ($peer:ident, $name:literal $(, refresh: $(#[$refresh:meta])*)?) => {
        $crate::closd_matrix!(@family v4, Ipv4Unicast, $peer, $name $(, $(#[$refresh])*)?);
        $crate::closd_matrix!(@family v6, Ipv6Unicast, $peer, $name $(, $(#[$refresh])*)?);
    };
    (@family $module:ident, $family:ident, $peer:ident, $name:literal $(, $(#[$refresh:meta])*)?) => {
        mod $module {
            use $crate::scenario::{self, Daemon};
            use $crate::{Family, Lab};

            fn run(
                scenario_name: &str,
                body: fn(&Lab, Family, Daemon, Daemon) -> $crate::Result<()>,
            ) {
                let name = format!("closd_{}_{}_{}", $name, stringify!($module), scenario_name);
                Lab::run(&name, |lab| body(lab, Family::$family, Daemon::Closd, Daemon::$peer));
            }

            #[test]
            fn establish() {
                run("establish", scenario::establish);
            }

            #[test]
            fn routes_both_ways() {
                run("routes", scenario::routes_both_ways);
            }

            #[test]
            fn withdraw() {
                run("withdraw", scenario::withdraw);
            }

            #[test]
            fn peer_restart() {
                run("restart", scenario::peer_restart);
            }

            #[test]
            fn hold_timer_expiry() {
                run("hold", scenario::hold_timer_expiry);
            }

            #[test]
            $($(#[$refresh])*)?
            fn route_refresh() {
                run("refresh", scenario::route_refresh);
            }

            #[test]
            fn route_refresh_by_closd() {
                run("refresh_out", scenario::route_refresh_by_dut);
            }

            #[test]
            fn refused_open() {
                run("refused", scenario::refused_open);
            }

            #[test]
            fn refused_open_by_peer() {
                run("refused_by_peer", scenario::refused_open_by_peer);
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_fields() {
        let summary = "last_notification_sent: NOTIFICATION 4/0 (hold timer expired); \
                       last_error: sent NOTIFICATION 4/0 (hold timer expired)";
        let sent = error_field(summary, "last_notification_sent").unwrap();
        assert!(sent.contains("4/0"));
        assert!(mentions_hold_timer(sent));
        assert_eq!(error_field(summary, "last_notification_received"), None);
        assert!(mentions_bad_peer_as("NOTIFICATION 2/2 (bad peer AS)"));
        assert!(mentions_bad_peer_as("Received: Bad peer AS"));
        assert!(!mentions_bad_peer_as("Hold timer expired"));
    }
}
