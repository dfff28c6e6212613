//! Peer discovery for BGP unnumbered (RFC 7938 §5.2.5 style, as FRR does
//! it): on an interface with no configured peer address, learn the peer's
//! IPv6 link-local address from the link.
//!
//! # Why Router Advertisements
//!
//! A BGP neighbor configured as `interface = "eth1"` has nothing to connect
//! to until we know who is at the other end. Each side periodically sends
//! an ICMPv6 Router Advertisement (RFC 4861 §4.2) to ff02::1 from its
//! link-local address, and takes the source address of the advertisements
//! it receives as the peer. This is what FRR's zebra does for
//! `neighbor eth1 interface`, so we interoperate with FRR (we learn it from
//! its advertisements, it learns us from ours) and with ourselves. Neighbor
//! Solicitations would not do: they are only sent when someone already has
//! an address to resolve.
//!
//! # What we send
//!
//! - **Router Lifetime 0.** RFC 4861 §4.2: a lifetime of 0 says "not a
//!   default router". We advertise to be found, not to route hosts: a
//!   Linux host on the link with `accept_ra=1` must not install a default
//!   route through a BGP speaker that never offered one.
//! - Cur Hop Limit 64, no flags, no prefix options (nothing to
//!   autoconfigure), and a Source Link-Layer Address option with our MAC
//!   so the receiver's neighbor cache needs no extra solicitation.
//! - Sent from our link-local address with hop limit 255, first three at
//!   1 s spacing (at start and whenever the interface comes up or gets its
//!   address), then every 10 s ([`Options`]).
//!
//! # What we accept (RFC 4861 §6.1.2)
//!
//! A received advertisement names the peer only if its IPv6 hop limit is
//! 255 (a packet that crossed a router has a lower one, so nobody off the
//! link can inject a peer; the socket reports it with `IPV6_RECVHOPLIMIT`),
//! its source is link-local, its ICMP code is 0, it is at least 16 octets,
//! and no option has length 0. The kernel has verified the checksum. See
//! [`packet::validate`].
//!
//! A different valid source replaces the neighbor (its link-local address
//! changed). A peer that falls silent is **kept**: BGP's hold timer
//! decides liveness; we only say where to connect.
//!
//! # Tasks
//!
//! ```text
//!   Discovery (handle) <-- watch: Option<Neighbor>, InterfaceStatus --+
//!        | drop = stop                                                 |
//!        v                                                             |
//!   DiscoveryTask::run --spawns--> InterfaceTask (one per interface) --+
//!        |                           ^   raw ICMPv6 socket, bound to
//!        | Monitor (netlink)         |   the device and our link-local
//!        +--- watch: LinkState ------+   address; Schedule of sends
//! ```
//!
//! The `monitor` watches links and IPv6 addresses over netlink and
//! publishes each interface's [`LinkState`] (exists? up with carrier?
//! MAC? a non-tentative link-local address?). Each `interface` task
//! reacts to it: opens its socket and advertises while the state is
//! usable, and publishes the learned [`Neighbor`]. State has one owner per
//! piece and no locks.
//!
//! # Use from a daemon
//!
//! ```no_run
//! # async fn example() -> Result<(), clos_nd::Error> {
//! let (discovery, task) = clos_nd::Discovery::start(&["eth1".to_string()], Default::default())?;
//! tokio::spawn(task.run()); // needs CAP_NET_RAW, else Error::Permission
//! let mut neighbor = discovery.neighbor("eth1").expect("configured");
//! let peer = neighbor.wait_for(Option::is_some).await.expect("running").expect("some");
//! let _connect_to = peer.socket_addr(179); // [fe80::...%ifindex]:179
//! # Ok(()) }
//! ```
//!
//! # Files
//!
//! - [`packet`]: RA encoding, decoding and the §6.1.2 checks (pure);
//! - `schedule`: when to send (pure);
//! - `link`: netlink wire format, [`LinkState`], [`lookup`];
//! - `monitor`: netlink notifications and dumps (I/O);
//! - `socket`: the raw ICMPv6 socket (I/O);
//! - `interface`: one interface's task;
//! - `discovery`: [`Discovery`], [`DiscoveryTask`], [`Options`], status.
//!
//! Not here: BGP itself (the neighbor is only an address to connect to),
//! Router Solicitations (both sides advertise, unsolicited), and prefix
//! or default-router advertisement (this is not a `radvd`).

// One `unsafe` block, in `fd`: registering sockets with tokio's reactor.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod discovery;
mod error;
mod fd;
mod interface;
mod link;
mod monitor;
pub mod packet;
mod schedule;
mod socket;

pub use discovery::{Discovery, DiscoveryTask, InterfaceStatus, Neighbor, Options};
pub use error::Error;
pub use link::{lookup, LinkState};
pub use socket::ALL_NODES;
