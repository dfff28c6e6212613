//! `clos-fib-kernel`: installs routes into the Linux kernel FIB over
//! rtnetlink — single-path and ECMP, IPv4 and IPv6, IPv4 via IPv6 next hops
//! (RFC 8950), restart-safe.
//!
//! Owns: one kernel routing table's routes *of our protocol*
//! ([`RTPROT_CLOS`]), the kernel nexthop objects and groups in our id range,
//! and a compact mirror of what we installed. Does not own: route
//! selection or next-hop resolution (the `rib` crate decides what to
//! install; [`KernelFib::lookup_route`] only answers "how does the kernel
//! reach this address"), nor other protocols' routes, which it never
//! replaces or deletes.
//!
//! ECMP uses kernel nexthop objects (Linux ≥ 5.3): one object per distinct
//! (gateway, interface), one group per distinct set of objects, shared by
//! every route with that set and deleted when the last such route goes.
//! A million routes over the same 8-way set cost 8 objects and one group.
//!
//! Files: [`fib`] (the [`KernelFib`] state machine), `mirror` (pure
//! bookkeeping), `socket` (pipelined netlink I/O), `wire` (hand-encoded
//! messages, including the `RTM_NEWNEXTHOP` family that
//! `netlink-packet-route` lacks), `decode` (route decoding with
//! `netlink-packet-route`), [`events`] (notifications), [`netns`]
//! (namespaces for tests and benchmarks).
//!
//! ```no_run
//! use clos_fib_kernel::{Change, KernelFib, NextHop, Route, RTPROT_CLOS};
//! let mut fib = KernelFib::open(254, RTPROT_CLOS)?;
//! let ecmp = vec![
//!     NextHop::new("10.0.0.2".parse().unwrap(), None),
//!     NextHop::new("fe80::2".parse().unwrap(), Some(3)),
//! ];
//! let failed = fib.apply(&[Change::Upsert(Route::new("192.0.2.0/24".parse().unwrap(), ecmp))])?;
//! for (prefix, error) in failed {
//!     eprintln!("{prefix}: {error}");
//! }
//! # Ok::<(), clos_fib_kernel::Error>(())
//! ```

#![forbid(unsafe_code)]

mod decode;
mod error;
pub mod events;
pub mod fib;
mod mirror;
pub mod netns;
mod route;
mod socket;
mod wire;

pub use error::{Error, Op, Result};
pub use events::{Event, EventGroup, Subscription};
pub use fib::{
    protocol_name_hint, Config, KernelFib, SinglePath, Stats, DEFAULT_METRIC, DEFAULT_NEXTHOP_IDS,
    RTPROT_CLOS,
};
pub use route::{Change, NextHop, Resolution, Route};
