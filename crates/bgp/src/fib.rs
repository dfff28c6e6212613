//! What the RIB tells a forwarding table: for each prefix whose forwarding
//! set changed, the BGP next hops to forward over (the best path and its
//! multipath companions), or none (withdraw).
//!
//! The speaker does not know how a FIB works; the daemon hands it a
//! [`FibSink`] (the kernel writer of `clos-rib`, or a test double). The RIB
//! calls it once per decision batch with every changed prefix, so a sink
//! sees batches of thousands at full-table rates, never a call per route.

use std::net::IpAddr;
use std::time::Duration;

use clos_wire::IpNet;
use smallvec::SmallVec;

/// One BGP next hop of a forwarding set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FibNextHop {
    /// The next hop address as BGP carries it.
    pub address: IpAddr,
    /// The interface it is on, when the address alone does not say: an
    /// IPv6 link-local next hop (BGP unnumbered, RFC 8950) is only
    /// meaningful with its interface. `None` means "resolve it".
    pub ifindex: Option<u32>,
}

/// The forwarding set of one prefix; empty means "no route".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibRoute {
    pub prefix: IpNet,
    /// Sorted, without duplicates.
    pub next_hops: SmallVec<[FibNextHop; 2]>,
}

/// Receives the RIB's forwarding changes. Called from the RIB task: must not
/// block for long (queue and return).
pub trait FibSink: Send + Sync + 'static {
    /// A batch of changed prefixes. A prefix appears at most once.
    fn routes(&self, batch: Vec<FibRoute>);
    /// Every configured neighbor is Established and has sent End-of-RIB for
    /// each negotiated family (RFC 4724 §2), or none is configured: the
    /// forwarding table now reflects BGP's converged view, and routes left
    /// from an earlier run that BGP did not re-announce may go. Called once.
    fn converged(&self);
    /// How long the RIB may hold its routes back at start-up, waiting for
    /// convergence, when two or more neighbors are configured: their
    /// initial tables arrive interleaved, and a prefix's forwarding set
    /// would be rewritten once per arriving path (8 times for 8-way ECMP).
    /// Held, each prefix is written once with its final set. Zero: never.
    fn initial_hold(&self) -> Duration {
        Duration::ZERO
    }
    /// Whether the RIB holds its routes back now (for status displays).
    fn holding(&self, _held: bool) {}
}
