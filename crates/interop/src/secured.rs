//! Topologies for the session-protection tests (GTSM, RFC 5082; TCP MD5,
//! RFC 2385): closd (AS 65000) in namespace `a` and BIRD or FRR (AS 65001)
//! in `b`, on one veth or with a router namespace `r` between them (the
//! peer one hop away), each side with its own [`SessionSecurity`].
//!
//! Addresses: `a`–`b` (or `a`–`r`) on `10.0.0.0/30` and `fd00:0:0:0::/64`,
//! `r`–`b` on `10.0.1.0/30` and `fd00:0:0:1::/64`; closd is `.1`, the peer
//! `.2` of its link.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use ipnet::IpNet;

use crate::closd::ClosdOptions;
use crate::lab::Lab;
use crate::netns::{veth, Netns};
use crate::peer::{Family, NeighborConfig, Peer, RouteAttrs, RouterConfig, SessionSecurity};
use crate::scenario::{dut_prefix, Daemon, DUT_AS, ESTABLISH_TIMEOUT, PEER_AS, ROUTE_TIMEOUT};
use crate::{Bird, Closd, Frr};

/// How each side protects its session, and the topology.
#[derive(Clone, Debug, Default)]
pub struct SecuredOptions {
    /// closd's side.
    pub closd: SessionSecurity,
    /// The peer's side.
    pub peer: SessionSecurity,
    /// closd waits for the peer to connect (tests the listener side).
    pub closd_passive: bool,
    /// The peer waits for closd to connect (tests closd's own connection).
    pub peer_passive: bool,
    /// closd listens on `[::]:179`, so an IPv4 peer arrives under its
    /// IPv4-mapped address on an IPv6 socket.
    pub dual_stack: bool,
    /// A router namespace between closd and the peer.
    pub via_router: bool,
}

/// closd and its peer, running.
pub struct SecuredPair {
    /// Declared first: stopped before the namespaces go.
    pub closd: Closd,
    pub peer: Box<dyn Peer>,
    pub family: Family,
    /// closd's address, as the peer configures it.
    pub closd_addr: IpAddr,
    /// The peer's address, as closd configures it.
    pub peer_addr: IpAddr,
    _namespaces: Vec<Netns>,
}

fn net(text: &str) -> IpNet {
    text.parse().expect("constant prefix")
}

impl SecuredPair {
    /// Builds the topology and starts the peer (`Daemon::Bird` or
    /// `Daemon::Frr`) and closd with `options`.
    pub fn new(
        lab: &Lab,
        family: Family,
        peer: Daemon,
        options: &SecuredOptions,
    ) -> Result<SecuredPair> {
        let ns_a = lab.netns("a")?;
        let ns_b = lab.netns("b")?;
        let a = [net("10.0.0.1/30"), net("fd00:0:0:0::1/64")];
        let mut namespaces = Vec::new();
        let b = if options.via_router {
            let ns_r = lab.netns("r")?;
            for sysctl in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
                ns_r.exec("sysctl", &["-qw", sysctl])?;
            }
            let r_a = [net("10.0.0.2/30"), net("fd00:0:0:0::2/64")];
            let r_b = [net("10.0.1.1/30"), net("fd00:0:0:1::1/64")];
            let b = [net("10.0.1.2/30"), net("fd00:0:0:1::2/64")];
            veth(&ns_a, "eth0", &a, &ns_r, "eth0", &r_a)?;
            veth(&ns_r, "eth1", &r_b, &ns_b, "eth0", &b)?;
            ns_a.ip(&["route", "add", "10.0.1.0/30", "via", "10.0.0.2"])?;
            ns_a.ip(&["-6", "route", "add", "fd00:0:0:1::/64", "via", "fd00::2"])?;
            ns_b.ip(&["route", "add", "10.0.0.0/30", "via", "10.0.1.1"])?;
            ns_b.ip(&["-6", "route", "add", "fd00::/64", "via", "fd00:0:0:1::1"])?;
            namespaces.push(ns_r);
            b
        } else {
            let b = [net("10.0.0.2/30"), net("fd00:0:0:0::2/64")];
            veth(&ns_a, "eth0", &a, &ns_b, "eth0", &b)?;
            b
        };
        let pick = |nets: &[IpNet; 2]| nets[usize::from(family.is_ipv6())].addr();
        let (closd_addr, peer_addr) = (pick(&a), pick(&b));

        let peer_config = RouterConfig {
            asn: PEER_AS,
            router_id: Ipv4Addr::new(10, 255, 0, 2),
            neighbors: vec![NeighborConfig {
                address: closd_addr,
                local_address: peer_addr,
                remote_as: DUT_AS,
                family,
                hold_time: None,
                passive: options.peer_passive,
            }],
            originate: Vec::new(),
        };
        let security = options.peer.clone();
        let peer: Box<dyn Peer> = match peer {
            Daemon::Bird => Box::new(Bird::start_secured(lab, &ns_b, "b", peer_config, security)?),
            Daemon::Frr => Box::new(Frr::start_secured(lab, &ns_b, "b", peer_config, security)?),
            other => bail!("{other:?} has no session-protection driver"),
        };
        let closd_config = RouterConfig {
            asn: DUT_AS,
            router_id: Ipv4Addr::new(10, 255, 0, 1),
            neighbors: vec![NeighborConfig {
                address: peer_addr,
                local_address: closd_addr,
                remote_as: PEER_AS,
                family,
                hold_time: None,
                passive: options.closd_passive,
            }],
            originate: vec![(dut_prefix(family), RouteAttrs::default())],
        };
        let closd = Closd::start_with(
            lab,
            &ns_a,
            "a",
            closd_config,
            ClosdOptions {
                security: options.closd.clone(),
                listen: options.dual_stack.then(|| vec!["[::]:179".to_string()]),
                ..Default::default()
            },
        )?;
        namespaces.push(ns_b);
        namespaces.push(ns_a);
        Ok(SecuredPair {
            closd,
            peer,
            family,
            closd_addr,
            peer_addr,
            _namespaces: namespaces,
        })
    }

    /// Both sides Established, and closd's route reaches the peer (the
    /// session carries traffic, not just an OPEN exchange).
    pub fn wait_established(&self) -> Result<()> {
        self.closd
            .wait_established(self.peer_addr, ESTABLISH_TIMEOUT)?;
        self.peer
            .wait_established(self.closd_addr, ESTABLISH_TIMEOUT)?;
        let prefix = dut_prefix(self.family);
        self.peer
            .wait_route(prefix, ROUTE_TIMEOUT, &|r| r.as_path == [DUT_AS])?;
        Ok(())
    }

    /// Neither side reaches Established (nor OpenConfirm) for `duration`;
    /// returns closd's last error for the session.
    pub fn never_established(&self, duration: Duration) -> Result<String> {
        let deadline = Instant::now() + duration;
        let mut closd_error = String::new();
        while Instant::now() < deadline {
            self.closd.check_alive()?;
            self.peer.check_alive()?;
            let closd = self.closd.session_state(self.peer_addr)?;
            let peer = self.peer.session_state(self.closd_addr)?;
            for (who, state) in [("closd", &closd), (self.peer.kind(), &peer)] {
                if state == "Established" || state == "OpenConfirm" {
                    bail!("{who} reached {state}, but the session must not come up");
                }
            }
            let error = self.closd.last_error(self.peer_addr)?;
            if !error.is_empty() {
                closd_error = error;
            }
            std::thread::sleep(crate::POLL_INTERVAL);
        }
        Ok(closd_error)
    }
}
