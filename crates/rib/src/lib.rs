//! `clos-rib`: the only writer to forwarding tables.
//!
//! Routing protocols (today BGP) hand [`KernelRib`] forwarding sets: for
//! each prefix, the protocol's next hops (empty to withdraw). The RIB
//! resolves every next hop through the kernel's connected and static routes
//! (next-hop tracking), installs the result over netlink (`clos-fib-kernel`:
//! nexthop objects, one group per ECMP set), records what the kernel
//! refused and why, and follows link and address changes: a route whose
//! next hops all became unreachable leaves the kernel and comes back when
//! one returns.
//!
//! Start-up reconciliation: routes of our protocol left by an earlier run
//! stay installed (forwarding survives a daemon restart) until BGP reports
//! convergence ([`KernelRib::converged`]) or `stale_time` passes; then the
//! ones nobody re-announced are removed. Routes of other protocols are never
//! touched.
//!
//! Threads: one worker owns the netlink socket and all state; one reads
//! link/address notifications. Callers only lock a pending map (prefix →
//! latest set: a burst of changes to one prefix costs one kernel write) and
//! wake the worker.

#![forbid(unsafe_code)]

mod kernel;
mod table;

pub use kernel::{
    FailedRoute, InstalledRoute, KernelConfig, KernelRib, NextHopState, Snapshot, Status,
};
pub use table::Hop;
