//! What the kernel says about our interfaces: index, up/down, MAC, and the
//! usable link-local address, read over `NETLINK_ROUTE`.
//!
//! Owns the netlink wire format for the two dumps we need (`RTM_GETLINK`,
//! `RTM_GETADDR` for IPv6) and the choice of link-local address
//! ([`LinkState`]). [`lookup`] is the blocking one-shot form; the
//! discovery task watches changes with [`crate::monitor`], which reuses the
//! same parsing.
//!
//! Why netlink and not `getifaddrs` or `/proc/net/if_inet6`: only netlink
//! gives, in one place, the address flags (a *tentative* address, still in
//! Duplicate Address Detection, cannot be a source) together with carrier
//! state and the MAC, and it pushes changes instead of being polled. It is
//! also bound to the namespace of the thread that opens the socket, where
//! `/sys/class/net` follows the mount namespace instead.
//!
//! The messages are parsed by hand: we read six attributes, and a parser
//! crate would cost more build time than these few lines.

use std::io;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

use crate::error::Error;
use crate::packet::is_link_local;

pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;
pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_DELLINK: u16 = 17;
pub(crate) const RTM_GETLINK: u16 = 18;
pub(crate) const RTM_NEWADDR: u16 = 20;
pub(crate) const RTM_DELADDR: u16 = 21;
pub(crate) const RTM_GETADDR: u16 = 22;
/// `RTMGRP_LINK | RTMGRP_IPV6_IFADDR`: the legacy group bitmask for the
/// notifications the monitor subscribes to.
pub(crate) const GROUPS_LINK_AND_IPV6_ADDRESS: u32 = 0x1 | 0x100;

const AF_UNSPEC: u8 = 0;
const AF_INET6: u8 = 10;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFF_UP: u32 = 0x1;
const IFF_LOWER_UP: u32 = 0x1_0000;
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_DEPRECATED: u32 = 0x20;
const IFA_F_TENTATIVE: u32 = 0x40;
/// Dump answers come in datagrams of at most 32 KiB.
pub(crate) const RECV_BUFFER: usize = 64 * 1024;

/// One interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub ifindex: u32,
    /// Administratively up (`IFF_UP`) with carrier (`IFF_LOWER_UP`).
    pub up: bool,
    /// Ethernet address, if the link has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    /// A link-local address usable as a source: not tentative (still in
    /// Duplicate Address Detection) and not a DAD failure. `None` while
    /// there is none.
    pub link_local: Option<Ipv6Addr>,
}

/// One netlink message of a datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    pub(crate) kind: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) payload: &'a [u8],
}

/// The messages of one datagram; stops at the first malformed header.
pub(crate) fn messages(mut datagram: &[u8]) -> impl Iterator<Item = Message<'_>> {
    std::iter::from_fn(move || {
        if datagram.len() < NLMSG_HDRLEN {
            return None;
        }
        let length = u32::from_ne_bytes(datagram[0..4].try_into().ok()?) as usize;
        if length < NLMSG_HDRLEN || length > datagram.len() {
            return None;
        }
        let message = Message {
            kind: u16::from_ne_bytes([datagram[4], datagram[5]]),
            flags: u16::from_ne_bytes([datagram[6], datagram[7]]),
            seq: u32::from_ne_bytes(datagram[8..12].try_into().ok()?),
            payload: &datagram[NLMSG_HDRLEN..length],
        };
        datagram = &datagram[align4(length).min(datagram.len())..];
        Some(message)
    })
}

fn align4(length: usize) -> usize {
    (length + 3) & !3
}

/// Routing attributes (`struct rtattr`) as (type, value) pairs.
fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let length = usize::from(u16::from_ne_bytes([data[0], data[1]]));
        if length < 4 || length > data.len() {
            return None;
        }
        // The top bits are NLA_F_NESTED / NLA_F_NET_BYTEORDER.
        let kind = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        let value = &data[4..length];
        data = &data[align4(length).min(data.len())..];
        Some((kind, value))
    })
}

/// A dump request for `kind` (`RTM_GETLINK` or `RTM_GETADDR`).
pub(crate) fn dump_request(kind: u16, seq: u32) -> Vec<u8> {
    let (family, body) = match kind {
        RTM_GETADDR => (AF_INET6, IFADDRMSG_LEN),
        _ => (AF_UNSPEC, IFINFOMSG_LEN),
    };
    let length = NLMSG_HDRLEN + body;
    let mut out = Vec::with_capacity(length);
    out.extend_from_slice(&(length as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.push(family);
    out.resize(length, 0);
    out
}

/// An `RTM_NEWLINK` message, reduced to what we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawLink {
    pub(crate) ifindex: u32,
    pub(crate) name: String,
    pub(crate) flags: u32,
    pub(crate) mac: Option<[u8; 6]>,
}

/// An IPv6 `RTM_NEWADDR` message, reduced to what we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawAddress {
    pub(crate) ifindex: u32,
    pub(crate) address: Ipv6Addr,
    /// `IFA_FLAGS` when present (it carries the bits above 8), else the
    /// header's `ifa_flags`.
    pub(crate) flags: u32,
}

pub(crate) fn parse_link(payload: &[u8]) -> Option<RawLink> {
    if payload.len() < IFINFOMSG_LEN {
        return None;
    }
    let ifindex = u32::from_ne_bytes(payload[4..8].try_into().ok()?);
    let flags = u32::from_ne_bytes(payload[8..12].try_into().ok()?);
    let mut link = RawLink {
        ifindex,
        name: String::new(),
        flags,
        mac: None,
    };
    for (kind, value) in attributes(&payload[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_IFNAME => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                link.name = String::from_utf8_lossy(&value[..end]).into_owned();
            }
            IFLA_ADDRESS => link.mac = value.try_into().ok(),
            _ => {}
        }
    }
    Some(link)
}

pub(crate) fn parse_address(payload: &[u8]) -> Option<RawAddress> {
    if payload.len() < IFADDRMSG_LEN || payload[0] != AF_INET6 {
        return None;
    }
    let mut flags = u32::from(payload[2]);
    let ifindex = u32::from_ne_bytes(payload[4..8].try_into().ok()?);
    let (mut address, mut local) = (None, None);
    for (kind, value) in attributes(&payload[IFADDRMSG_LEN..]) {
        match kind {
            IFA_ADDRESS => address = <[u8; 16]>::try_from(value).ok().map(Ipv6Addr::from),
            IFA_LOCAL => local = <[u8; 16]>::try_from(value).ok().map(Ipv6Addr::from),
            IFA_FLAGS => flags = u32::from_ne_bytes(value.try_into().ok()?),
            _ => {}
        }
    }
    Some(RawAddress {
        ifindex,
        // IFA_LOCAL is ours on point-to-point links, where IFA_ADDRESS is
        // the peer's.
        address: local.or(address)?,
        flags,
    })
}

/// The links and IPv6 addresses of one namespace, as dumped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) links: Vec<RawLink>,
    pub(crate) addresses: Vec<RawAddress>,
}

/// Where a dump stands after one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DumpProgress {
    More,
    Done,
    /// The kernel's tables changed during the dump (`NLM_F_DUMP_INTR`):
    /// what was collected may be inconsistent, so dump again.
    Interrupted,
}

/// Adds the messages of one answer datagram for the dump with `seq`.
/// Messages with another sequence number (stale answers) are skipped.
pub(crate) fn absorb(
    datagram: &[u8],
    seq: u32,
    snapshot: &mut Snapshot,
) -> Result<DumpProgress, io::Error> {
    let mut progress = DumpProgress::More;
    for message in messages(datagram) {
        if message.seq != seq {
            continue;
        }
        if message.flags & NLM_F_DUMP_INTR != 0 {
            progress = DumpProgress::Interrupted;
        }
        match message.kind {
            NLMSG_DONE => {
                return Ok(match progress {
                    DumpProgress::Interrupted => DumpProgress::Interrupted,
                    _ => DumpProgress::Done,
                });
            }
            NLMSG_ERROR => {
                let code = message
                    .payload
                    .get(0..4)
                    .and_then(|b| b.try_into().ok())
                    .map(i32::from_ne_bytes)
                    .unwrap_or(-libc_eio());
                return Err(io::Error::from_raw_os_error(-code));
            }
            NLMSG_OVERRUN => return Ok(DumpProgress::Interrupted),
            RTM_NEWLINK => snapshot.links.extend(parse_link(message.payload)),
            RTM_NEWADDR => snapshot.addresses.extend(parse_address(message.payload)),
            _ => {}
        }
    }
    Ok(progress)
}

fn libc_eio() -> i32 {
    nix::errno::Errno::EIO as i32
}

impl Snapshot {
    /// The state of interface `name`, `None` if it does not exist.
    /// `previous` is the link-local address chosen last time: it is kept
    /// while still usable, so a second address does not make us switch.
    pub(crate) fn link_state(&self, name: &str, previous: Option<Ipv6Addr>) -> Option<LinkState> {
        let link = self.links.iter().find(|link| link.name == name)?;
        let usable = |a: &&RawAddress| {
            a.ifindex == link.ifindex
                && is_link_local(&a.address)
                && a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0
        };
        let candidates: Vec<&RawAddress> = self.addresses.iter().filter(usable).collect();
        let link_local = previous
            .filter(|p| candidates.iter().any(|a| a.address == *p))
            .or_else(|| {
                candidates
                    .iter()
                    .min_by_key(|a| (a.flags & IFA_F_DEPRECATED != 0, a.address))
                    .map(|a| a.address)
            });
        Some(LinkState {
            name: link.name.clone(),
            ifindex: link.ifindex,
            up: link.flags & IFF_UP != 0 && link.flags & IFF_LOWER_UP != 0,
            mac: link.mac,
            link_local,
        })
    }
}

/// Opens a `NETLINK_ROUTE` socket in the calling thread's network
/// namespace, joined to the legacy multicast `groups` bitmask.
pub(crate) fn open_socket(groups: u32, nonblocking: bool) -> Result<OwnedFd, Error> {
    let flags = if nonblocking {
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK
    } else {
        SockFlag::SOCK_CLOEXEC
    };
    let fd = socket::socket(
        AddressFamily::Netlink,
        SockType::Raw,
        flags,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|e| Error::netlink("open NETLINK_ROUTE socket", e))?;
    socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups))
        .map_err(|e| Error::netlink("bind NETLINK_ROUTE socket", e))?;
    Ok(fd)
}

/// Sends a request to the kernel.
pub(crate) fn send_request(fd: &OwnedFd, request: &[u8]) -> nix::Result<()> {
    socket::sendto(
        fd.as_raw_fd(),
        request,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map(drop)
}

/// Receives one datagram into `buf`, returning its length.
pub(crate) fn receive(fd: &OwnedFd, buf: &mut [u8]) -> nix::Result<usize> {
    socket::recv(fd.as_raw_fd(), buf, MsgFlags::empty())
}

/// Finds interface `name` in the calling thread's network namespace: its
/// index, state, MAC and usable link-local address. `Ok(None)` when there
/// is no such interface. Blocking; needs no privileges.
///
/// ```no_run
/// if let Some(link) = clos_nd::lookup("eth1")? {
///     println!("{} is ifindex {}, link-local {:?}", link.name, link.ifindex, link.link_local);
/// }
/// # Ok::<(), clos_nd::Error>(())
/// ```
pub fn lookup(name: &str) -> Result<Option<LinkState>, Error> {
    let fd = open_socket(0, false)?;
    let mut buf = vec![0; RECV_BUFFER];
    for attempt in 0.. {
        let mut snapshot = Snapshot::default();
        let mut interrupted = false;
        for (i, kind) in [RTM_GETLINK, RTM_GETADDR].into_iter().enumerate() {
            let seq = attempt * 2 + i as u32 + 1;
            send_request(&fd, &dump_request(kind, seq))
                .map_err(|e| Error::netlink("send dump request", e))?;
            loop {
                let length =
                    receive(&fd, &mut buf).map_err(|e| Error::netlink("receive dump", e))?;
                match absorb(&buf[..length], seq, &mut snapshot)
                    .map_err(|e| Error::netlink("dump", e))?
                {
                    DumpProgress::More => continue,
                    DumpProgress::Done => break,
                    DumpProgress::Interrupted => {
                        interrupted = true;
                        break;
                    }
                }
            }
        }
        if !interrupted || attempt >= 10 {
            return Ok(snapshot.link_state(name, None));
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let length = NLMSG_HDRLEN + payload.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(length as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(align4(out.len()), 0);
        out
    }

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align4(out.len()), 0);
        out
    }

    fn link(ifindex: u32, name: &str, flags: u32, mac: &[u8]) -> Vec<u8> {
        let mut payload = vec![0u8; IFINFOMSG_LEN];
        payload[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        payload[8..12].copy_from_slice(&flags.to_ne_bytes());
        let mut name = name.as_bytes().to_vec();
        name.push(0);
        payload.extend(attr(IFLA_IFNAME, &name));
        payload.extend(attr(IFLA_ADDRESS, mac));
        payload
    }

    fn address(ifindex: u32, address: &str, flags: u32) -> Vec<u8> {
        let mut payload = vec![AF_INET6, 64, flags as u8, 253];
        payload.extend_from_slice(&ifindex.to_ne_bytes());
        let ip: Ipv6Addr = address.parse().unwrap();
        payload.extend(attr(IFA_ADDRESS, &ip.octets()));
        payload.extend(attr(IFA_FLAGS, &flags.to_ne_bytes()));
        payload
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const UP: u32 = IFF_UP | IFF_LOWER_UP;

    fn snapshot(addresses: &[(&str, u32)]) -> Snapshot {
        let mut datagram = header(RTM_NEWLINK, 2, 7, &link(1, "lo", UP, &[0; 6]));
        datagram.extend(header(RTM_NEWLINK, 2, 7, &link(4, "eth1", UP, &MAC)));
        let mut s = Snapshot::default();
        assert_eq!(absorb(&datagram, 7, &mut s).unwrap(), DumpProgress::More);
        let mut datagram = Vec::new();
        for (a, flags) in addresses {
            datagram.extend(header(RTM_NEWADDR, 2, 8, &address(4, a, *flags)));
        }
        datagram.extend(header(RTM_NEWADDR, 2, 8, &address(9, "fe80::99", 0)));
        datagram.extend(header(NLMSG_DONE, 2, 8, &0i32.to_ne_bytes()));
        assert_eq!(absorb(&datagram, 8, &mut s).unwrap(), DumpProgress::Done);
        s
    }

    #[test]
    fn dump_request_bytes() {
        let request = dump_request(RTM_GETADDR, 5);
        assert_eq!(request.len(), 24);
        assert_eq!(&request[4..6], &RTM_GETADDR.to_ne_bytes());
        assert_eq!(&request[6..8], &0x301u16.to_ne_bytes());
        assert_eq!(request[16], AF_INET6);
        assert_eq!(dump_request(RTM_GETLINK, 5).len(), 32);
    }

    #[test]
    fn reads_link_and_usable_link_local() {
        let s = snapshot(&[("2001:db8::1", 0), ("fe80::1", 0x80)]);
        let state = s.link_state("eth1", None).unwrap();
        assert_eq!(
            state,
            LinkState {
                name: "eth1".into(),
                ifindex: 4,
                up: true,
                mac: Some(MAC),
                link_local: Some("fe80::1".parse().unwrap()),
            }
        );
        assert_eq!(s.link_state("eth2", None), None);
    }

    #[test]
    fn tentative_and_failed_addresses_are_not_usable() {
        let s = snapshot(&[("fe80::1", IFA_F_TENTATIVE), ("fe80::2", IFA_F_DADFAILED)]);
        assert_eq!(s.link_state("eth1", None).unwrap().link_local, None);
    }

    #[test]
    fn keeps_previous_choice_while_usable() {
        let s = snapshot(&[("fe80::1", 0), ("fe80::2", 0)]);
        let two: Ipv6Addr = "fe80::2".parse().unwrap();
        assert_eq!(
            s.link_state("eth1", Some(two)).unwrap().link_local,
            Some(two)
        );
        assert_eq!(
            s.link_state("eth1", None).unwrap().link_local,
            Some("fe80::1".parse().unwrap())
        );
        let gone: Ipv6Addr = "fe80::3".parse().unwrap();
        assert_eq!(
            s.link_state("eth1", Some(gone)).unwrap().link_local,
            Some("fe80::1".parse().unwrap())
        );
    }

    #[test]
    fn prefers_non_deprecated() {
        let s = snapshot(&[("fe80::1", IFA_F_DEPRECATED), ("fe80::2", 0)]);
        assert_eq!(
            s.link_state("eth1", None).unwrap().link_local,
            Some("fe80::2".parse().unwrap())
        );
    }

    #[test]
    fn down_without_carrier() {
        let mut s = snapshot(&[]);
        s.links[1].flags = IFF_UP;
        assert!(!s.link_state("eth1", None).unwrap().up);
    }

    #[test]
    fn errors_and_interruptions() {
        let mut s = Snapshot::default();
        let error = header(NLMSG_ERROR, 0, 3, &(-1i32).to_ne_bytes());
        assert_eq!(
            absorb(&error, 3, &mut s).unwrap_err().raw_os_error(),
            Some(1)
        );
        let interrupted = header(NLMSG_DONE, NLM_F_DUMP_INTR, 3, &0i32.to_ne_bytes());
        assert_eq!(
            absorb(&interrupted, 3, &mut s).unwrap(),
            DumpProgress::Interrupted
        );
        // Another dump's answer is ignored.
        assert_eq!(absorb(&error, 4, &mut s).unwrap(), DumpProgress::More);
    }

    #[test]
    fn malformed_input_does_not_panic() {
        let good = header(RTM_NEWLINK, 2, 1, &link(4, "eth1", UP, &MAC));
        for cut in 0..good.len() {
            let mut s = Snapshot::default();
            let _ = absorb(&good[..cut], 1, &mut s);
            for (_, value) in attributes(&good[cut..]) {
                let _ = value;
            }
            let _ = parse_link(&good[NLMSG_HDRLEN.min(cut)..cut]);
            let _ = parse_address(&good[NLMSG_HDRLEN.min(cut)..cut]);
        }
    }
}
