//! Kernel change notifications: links, addresses, routes, nexthops.
//!
//! A [`Subscription`] is its own `NETLINK_ROUTE` socket joined to the
//! multicast groups you ask for, read as a **blocking iterator** of
//! [`Event`]s. It does not share the [`crate::KernelFib`] socket, so
//! notifications never interleave with ACKs.
//!
//! From async code, own the subscription on a dedicated thread and forward
//! into a bounded channel (a full channel then blocks the thread, and the
//! kernel reports the overflow as [`Event::Overrun`]):
//!
//! ```no_run
//! use clos_fib_kernel::{EventGroup, Subscription};
//! let (tx, rx) = std::sync::mpsc::sync_channel(1024); // or tokio::sync::mpsc
//! std::thread::spawn(move || {
//!     let events = Subscription::open(&[EventGroup::Link, EventGroup::Ipv4Address]).unwrap();
//!     for event in events {
//!         if tx.send(event).is_err() { break; }
//!     }
//! });
//! # drop(rx);
//! ```
//!
//! [`Event::Overrun`] means notifications were lost (`ENOBUFS`): the
//! consumer must re-read the state it tracks (dump links and addresses,
//! re-resolve next hops).

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};

use ipnet::IpNet;
use netlink_packet_core::Parseable;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use crate::decode;
use crate::error::{Error, Result};
use crate::socket::force_recv_buffer;
use crate::wire::{self, *};

/// rtnetlink multicast groups (`RTNLGRP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventGroup {
    /// `RTNLGRP_LINK`: interfaces appear, disappear, go up or down.
    Link,
    /// `RTNLGRP_IPV4_IFADDR`.
    Ipv4Address,
    /// `RTNLGRP_IPV6_IFADDR`.
    Ipv6Address,
    /// `RTNLGRP_IPV4_ROUTE`.
    Ipv4Route,
    /// `RTNLGRP_IPV6_ROUTE`.
    Ipv6Route,
    /// `RTNLGRP_NEXTHOP`.
    Nexthop,
}

impl EventGroup {
    fn number(self) -> u32 {
        match self {
            EventGroup::Link => 1,
            EventGroup::Ipv4Address => 5,
            EventGroup::Ipv4Route => 7,
            EventGroup::Ipv6Address => 9,
            EventGroup::Ipv6Route => 11,
            EventGroup::Nexthop => 32,
        }
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A link was created or changed (`RTM_NEWLINK`).
    LinkChanged {
        /// Interface index.
        ifindex: u32,
        /// Interface name.
        name: String,
        /// Administratively up (`IFF_UP`).
        up: bool,
        /// Carrier present (`IFF_LOWER_UP`).
        lower_up: bool,
    },
    /// A link was deleted.
    LinkRemoved {
        /// Interface index.
        ifindex: u32,
    },
    /// An address was added.
    AddressAdded {
        /// Interface index.
        ifindex: u32,
        /// Address and prefix length.
        address: IpNet,
    },
    /// An address was removed.
    AddressRemoved {
        /// Interface index.
        ifindex: u32,
        /// Address and prefix length.
        address: IpNet,
    },
    /// A route was added or replaced (any protocol, any table).
    RouteAdded {
        /// Destination.
        prefix: IpNet,
        /// Table.
        table: u32,
        /// `rtm_protocol`.
        protocol: u8,
    },
    /// A route was deleted.
    RouteRemoved {
        /// Destination.
        prefix: IpNet,
        /// Table.
        table: u32,
        /// `rtm_protocol`.
        protocol: u8,
    },
    /// A nexthop object or group was created or replaced.
    NexthopAdded {
        /// Nexthop id.
        id: u32,
    },
    /// A nexthop object or group was deleted.
    NexthopRemoved {
        /// Nexthop id.
        id: u32,
    },
    /// The kernel dropped notifications: resynchronise.
    Overrun,
}

/// A blocking stream of kernel notifications; see the module docs.
pub struct Subscription {
    socket: Socket,
    pending: VecDeque<Event>,
    buf: Vec<u8>,
}

impl Subscription {
    /// Joins `groups` in the calling thread's network namespace.
    pub fn open(groups: &[EventGroup]) -> Result<Self> {
        let mut socket =
            Socket::new(NETLINK_ROUTE).map_err(|e| Error::socket("open NETLINK_ROUTE", e))?;
        socket.bind_auto().map_err(|e| Error::socket("bind", e))?;
        for group in groups {
            socket
                .add_membership(group.number())
                .map_err(|e| Error::socket("join multicast group", e))?;
        }
        force_recv_buffer(&socket, 4 * 1024 * 1024)?;
        Ok(Subscription {
            socket,
            pending: VecDeque::new(),
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Makes [`Subscription::next_event`] give up after `timeout`
    /// (an [`Error::Socket`] whose source is `WouldBlock`); `None` blocks
    /// for ever, the default.
    pub fn set_read_timeout(&mut self, timeout: Option<std::time::Duration>) -> Result<()> {
        use nix::sys::socket::{setsockopt, sockopt};
        use nix::sys::time::TimeVal;
        let value = match timeout {
            Some(t) => TimeVal::new(t.as_secs() as _, t.subsec_micros() as _),
            None => TimeVal::new(0, 0),
        };
        setsockopt(&self.socket.as_fd(), sockopt::ReceiveTimeout, &value)
            .map_err(|e| Error::socket("SO_RCVTIMEO", io::Error::from(e)))
    }

    /// Blocks until the next event.
    pub fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            self.buf.clear();
            self.buf.reserve(64 * 1024);
            match self.socket.recv(&mut self.buf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ENOBUFS as i32) => {
                    return Ok(Event::Overrun)
                }
                Err(e) => return Err(Error::socket("recv notification", e)),
            }
            for message in wire::messages(&self.buf) {
                if let Some(event) = decode_event(message.kind, message.payload) {
                    self.pending.push_back(event);
                }
            }
        }
    }
}

impl Iterator for Subscription {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_event())
    }
}

/// For registering with a poller (e.g. `tokio::io::unix::AsyncFd`) and
/// calling [`Subscription::next_event`] when readable.
impl AsFd for Subscription {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

fn decode_event(kind: u16, payload: &[u8]) -> Option<Event> {
    match kind {
        RTM_NEWLINK | RTM_DELLINK => {
            let link = LinkMessage::parse(payload).ok()?;
            let ifindex = link.header.index;
            if kind == RTM_DELLINK {
                return Some(Event::LinkRemoved { ifindex });
            }
            let name = link
                .attributes
                .iter()
                .find_map(|a| match a {
                    LinkAttribute::IfName(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            Some(Event::LinkChanged {
                ifindex,
                name,
                up: link.header.flags.contains(LinkFlags::Up),
                lower_up: link.header.flags.contains(LinkFlags::LowerUp),
            })
        }
        RTM_NEWADDR | RTM_DELADDR => {
            let message = AddressMessage::parse(payload).ok()?;
            // IFA_LOCAL is our address on point-to-point links, where
            // IFA_ADDRESS is the peer's.
            let mut addr: Option<IpAddr> = None;
            for attribute in &message.attributes {
                match attribute {
                    AddressAttribute::Local(a) => addr = Some(*a),
                    AddressAttribute::Address(a) if addr.is_none() => addr = Some(*a),
                    _ => {}
                }
            }
            let address = IpNet::new(addr?, message.header.prefix_len).ok()?;
            let ifindex = message.header.index;
            Some(if kind == RTM_NEWADDR {
                Event::AddressAdded { ifindex, address }
            } else {
                Event::AddressRemoved { ifindex, address }
            })
        }
        RTM_NEWROUTE | RTM_DELROUTE => {
            let route = decode::route(payload)?;
            let (prefix, table, protocol) = (route.prefix, route.table, route.protocol);
            Some(if kind == RTM_NEWROUTE {
                Event::RouteAdded {
                    prefix,
                    table,
                    protocol,
                }
            } else {
                Event::RouteRemoved {
                    prefix,
                    table,
                    protocol,
                }
            })
        }
        RTM_NEWNEXTHOP | RTM_DELNEXTHOP => {
            let id = wire::parse_nexthop(payload)?.id;
            Some(if kind == RTM_NEWNEXTHOP {
                Event::NexthopAdded { id }
            } else {
                Event::NexthopRemoved { id }
            })
        }
        _ => None,
    }
}
