//! Interop harness: real BIRD 2, FRR and GoBGP peers, and `closd`, in Linux
//! network namespaces joined by veth pairs.
//!
//! What it owns: the test fixtures (namespaces, veths, child processes, a
//! per-test scratch directory) and one driver per BGP speaker behind the
//! uniform [`Peer`] trait, so a scenario is written once and run against any
//! pair of speakers. What it does not own: the speakers themselves, and any
//! state outside the namespaces it creates (it never touches the host's
//! interfaces; every address it configures lives on a veth inside a test
//! namespace).
//!
//! Layout:
//! - [`lab`]: the per-test [`Lab`] (scratch dir, unique names, logs printed
//!   on failure) and the root / `ip netns` skip check;
//! - [`netns`]: [`Netns`] and [`veth`];
//! - [`process`]: [`Process`], a daemon started with `ip netns exec`;
//! - [`peer`]: the [`Peer`] trait and the route and config types it speaks;
//! - [`bird`], [`frr`], [`gobgp`], [`closd`]: one driver per speaker;
//! - [`scenario`]: topologies and the interop scenarios, generic over the
//!   speakers, used by the tests in `tests/`.
//! - [`secured`]: closd and a peer with GTSM / TCP MD5 on either side,
//!   directly connected or one router apart.
//!
//! Errors are `anyhow`: this crate is test support, every error ends as a
//! test failure message for a human, and context (which daemon, which
//! command, its output) matters more than a matchable type.

pub mod bird;
pub mod closd;
pub mod frr;
pub mod gobgp;
pub mod lab;
pub mod netns;
pub mod peer;
pub mod process;
pub mod scenario;
pub mod secured;
mod util;

pub use anyhow::Result;
pub use bird::Bird;
pub use closd::Closd;
pub use frr::Frr;
pub use gobgp::Gobgp;
pub use lab::Lab;
pub use netns::{veth, Link, Netns};
pub use peer::{
    Family, NeighborConfig, Origin, Peer, PeerRoute, RouteAttrs, RouterConfig, SessionSecurity,
};
pub use process::Process;
pub use util::{wait_until, POLL_INTERVAL};
