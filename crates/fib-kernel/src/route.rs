//! The values callers hand us: next hops, routes and changes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// One path of a route: a gateway and, optionally, the interface to reach
/// it through. Without an interface, [`crate::KernelFib::apply`] resolves
/// one with an `RTM_GETROUTE` for the gateway (the kernel needs it for a
/// nexthop object).
///
/// An IPv4 route may use a `V6` next hop (RFC 8950; `ip route` shows
/// `via inet6 ...`). An IPv6 route may not use a `V4` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextHop {
    /// IPv4 gateway.
    V4 {
        /// Gateway address.
        gateway: Ipv4Addr,
        /// Outgoing interface, if known.
        ifindex: Option<u32>,
    },
    /// IPv6 gateway (global or link-local; a link-local one needs `ifindex`).
    V6 {
        /// Gateway address.
        gateway: Ipv6Addr,
        /// Outgoing interface, if known.
        ifindex: Option<u32>,
    },
}

impl NextHop {
    /// A next hop for `gateway`, on `ifindex` if given.
    pub fn new(gateway: IpAddr, ifindex: Option<u32>) -> Self {
        match gateway {
            IpAddr::V4(gateway) => NextHop::V4 { gateway, ifindex },
            IpAddr::V6(gateway) => NextHop::V6 { gateway, ifindex },
        }
    }

    /// The gateway address.
    pub fn gateway(&self) -> IpAddr {
        match *self {
            NextHop::V4 { gateway, .. } => IpAddr::V4(gateway),
            NextHop::V6 { gateway, .. } => IpAddr::V6(gateway),
        }
    }

    /// The outgoing interface, if known.
    pub fn ifindex(&self) -> Option<u32> {
        match *self {
            NextHop::V4 { ifindex, .. } | NextHop::V6 { ifindex, .. } => ifindex,
        }
    }

    pub(crate) fn with_ifindex(self, ifindex: u32) -> Self {
        NextHop::new(self.gateway(), Some(ifindex))
    }
}

/// A route: a prefix and its paths. One next hop is a single-path route;
/// more are an ECMP route (equal weights, order irrelevant, duplicates
/// ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix (host bits are ignored: the kernel stores the
    /// network address).
    pub prefix: IpNet,
    /// Paths; must not be empty.
    pub next_hops: Vec<NextHop>,
}

impl Route {
    /// A route to `prefix` via `next_hops`.
    pub fn new(prefix: IpNet, next_hops: Vec<NextHop>) -> Self {
        Route { prefix, next_hops }
    }
}

/// One change of a batch given to [`crate::KernelFib::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Install the route, or replace our route at that prefix.
    Upsert(Route),
    /// Remove our route at that prefix (no-op if we have none).
    Remove(IpNet),
}

impl Change {
    /// The prefix this change is about.
    pub fn prefix(&self) -> IpNet {
        match self {
            Change::Upsert(route) => route.prefix.trunc(),
            Change::Remove(prefix) => prefix.trunc(),
        }
    }
}

/// Where the kernel would send a packet for one destination: the answer of
/// [`crate::KernelFib::lookup_route`]. For a multipath route, the first
/// path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// The matching route's prefix.
    pub prefix: IpNet,
    /// The gateway, or `None` when the destination is on-link (a connected
    /// route).
    pub gateway: Option<IpAddr>,
    /// Outgoing interface.
    pub ifindex: u32,
    /// Table of the matching route.
    pub table: u32,
    /// Protocol of the matching route (`2` kernel, `4` static, ...).
    pub protocol: u8,
}
