//! Netlink framing and the messages we encode by hand.
//!
//! Owns: `nlmsghdr` framing, the rtnetlink constants we use, the encoders for
//! `RTM_NEWROUTE`/`RTM_DELROUTE`/`RTM_GETROUTE` and for the nexthop-object
//! messages `RTM_NEWNEXTHOP`/`RTM_DELNEXTHOP` (which `netlink-packet-route`
//! 0.34 lacks), and the decoders for `nlmsgerr` and nexthop dumps.
//! Route, link and address *decoding* is left to `netlink-packet-route`.
//!
//! Why route requests are encoded here too: they are the hot path (a million
//! per full table) and writing them straight into one reusable buffer costs
//! no allocation per route (see README, "Crate choice").
//!
//! Layouts follow `include/uapi/linux/{netlink,rtnetlink,nexthop}.h`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

pub(crate) const NLMSG_HDRLEN: usize = 16;

pub(crate) const NLMSG_NOOP: u16 = 1;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLM_F_REPLACE: u16 = 0x100;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
/// In an `NLMSG_ERROR`: the echoed request was cut to its header.
const NLM_F_CAPPED: u16 = 0x100;
/// In an `NLMSG_ERROR`: extended-ACK TLVs follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_DELLINK: u16 = 17;
pub(crate) const RTM_NEWADDR: u16 = 20;
pub(crate) const RTM_DELADDR: u16 = 21;
pub(crate) const RTM_NEWROUTE: u16 = 24;
pub(crate) const RTM_DELROUTE: u16 = 25;
pub(crate) const RTM_GETROUTE: u16 = 26;
pub(crate) const RTM_NEWNEXTHOP: u16 = 104;
pub(crate) const RTM_DELNEXTHOP: u16 = 105;
pub(crate) const RTM_GETNEXTHOP: u16 = 106;

pub(crate) const AF_UNSPEC: u8 = 0;
pub(crate) const AF_INET: u8 = 2;
pub(crate) const AF_INET6: u8 = 10;

const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_NOWHERE: u8 = 255;
pub(crate) const RTN_UNICAST: u8 = 1;
const RT_TABLE_COMPAT: u8 = 252;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_TABLE: u16 = 15;
const RTA_VIA: u16 = 18;
const RTA_NH_ID: u16 = 30;

const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const NHA_GROUP_TYPE: u16 = 3;
const NHA_BLACKHOLE: u16 = 4;
const NHA_OIF: u16 = 5;
const NHA_GATEWAY: u16 = 6;
const NEXTHOP_GRP_TYPE_MPATH: u16 = 0;

/// Netlink alignment (`NLMSG_ALIGN`, `RTA_ALIGN`).
pub(crate) const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// A buffer of concatenated netlink requests, each with its own sequence
/// number, sent in as few `sendmsg` calls as the socket allows.
#[derive(Default)]
pub(crate) struct RequestBuf {
    pub(crate) bytes: Vec<u8>,
    /// Offset of each message's start.
    pub(crate) starts: Vec<usize>,
    /// Sequence number of the first message; message `i` has `first_seq + i`.
    pub(crate) first_seq: u32,
}

impl RequestBuf {
    pub(crate) fn new(first_seq: u32) -> Self {
        RequestBuf {
            bytes: Vec::new(),
            starts: Vec::new(),
            first_seq,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Byte range of message `i`.
    pub(crate) fn message_end(&self, i: usize) -> usize {
        self.starts.get(i + 1).copied().unwrap_or(self.bytes.len())
    }

    /// Sets `NLM_F_ACK` on message `i` (the last of each `sendmsg`, so the
    /// sender knows when the kernel is through with the chunk).
    pub(crate) fn request_ack(&mut self, i: usize) {
        let at = self.starts[i] + 6;
        let flags = u16::from_ne_bytes([self.bytes[at], self.bytes[at + 1]]) | NLM_F_ACK;
        self.bytes[at..at + 2].copy_from_slice(&flags.to_ne_bytes());
    }

    /// Starts a message; returns a writer that patches the length on drop.
    pub(crate) fn begin(&mut self, kind: u16, flags: u16) -> MessageWriter<'_> {
        let seq = self.first_seq.wrapping_add(self.starts.len() as u32);
        let start = self.bytes.len();
        self.starts.push(start);
        self.bytes.extend_from_slice(&0u32.to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(&flags.to_ne_bytes());
        self.bytes.extend_from_slice(&seq.to_ne_bytes());
        self.bytes.extend_from_slice(&0u32.to_ne_bytes()); // port id: kernel fills
        MessageWriter {
            bytes: &mut self.bytes,
            start,
        }
    }
}

/// Appends the body and attributes of one message.
pub(crate) struct MessageWriter<'a> {
    bytes: &'a mut Vec<u8>,
    start: usize,
}

impl MessageWriter<'_> {
    pub(crate) fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        self
    }

    pub(crate) fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.bytes.extend_from_slice(&(len as u16).to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(data);
        self.bytes.resize(self.bytes.len() + align4(len) - len, 0);
        self
    }

    pub(crate) fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }
}

impl Drop for MessageWriter<'_> {
    fn drop(&mut self) {
        let len = (self.bytes.len() - self.start) as u32;
        self.bytes[self.start..self.start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

fn family_of(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

fn prefix_family(prefix: &IpNet) -> u8 {
    family_of(prefix.addr())
}

fn addr_bytes(addr: &IpAddr) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            out[..4].copy_from_slice(&a.octets());
            (out, 4)
        }
        IpAddr::V6(a) => {
            out.copy_from_slice(&a.octets());
            (out, 16)
        }
    }
}

/// `struct rtmsg`.
fn rtmsg(family: u8, dst_len: u8, table: u32, protocol: u8, scope: u8, kind: u8) -> [u8; 12] {
    let table8 = if table < 256 {
        table as u8
    } else {
        RT_TABLE_COMPAT
    };
    [
        family, dst_len, 0, 0, table8, protocol, scope, kind, 0, 0, 0, 0,
    ]
}

/// What a route points at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RouteTarget {
    /// A nexthop object or group (`RTA_NH_ID`).
    NexthopId(u32),
    /// An inline single path (`RTA_GATEWAY` or `RTA_VIA`, and `RTA_OIF`).
    Inline { gateway: IpAddr, ifindex: u32 },
}

/// Route identity shared by our add/delete encoders.
pub(crate) struct RouteKey {
    pub(crate) table: u32,
    pub(crate) protocol: u8,
    pub(crate) metric: u32,
}

/// `RTM_NEWROUTE`: create (`NLM_F_EXCL`) or replace our route at `prefix`.
pub(crate) fn new_route(
    buf: &mut RequestBuf,
    key: &RouteKey,
    prefix: &IpNet,
    target: RouteTarget,
    replace: bool,
) {
    let flags = NLM_F_REQUEST | NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
    let family = prefix_family(prefix);
    let mut w = buf.begin(RTM_NEWROUTE, flags);
    w.raw(&rtmsg(
        family,
        prefix.prefix_len(),
        key.table,
        key.protocol,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
    ));
    w.attr_u32(RTA_TABLE, key.table);
    let (dst, dst_len) = addr_bytes(&prefix.network());
    w.attr(RTA_DST, &dst[..dst_len]);
    w.attr_u32(RTA_PRIORITY, key.metric);
    match target {
        RouteTarget::NexthopId(id) => {
            w.attr_u32(RTA_NH_ID, id);
        }
        RouteTarget::Inline { gateway, ifindex } => {
            let (gw, gw_len) = addr_bytes(&gateway);
            if family_of(gateway) == family {
                w.attr(RTA_GATEWAY, &gw[..gw_len]);
            } else {
                // RFC 8950 (IPv4 via IPv6): `struct rtvia { sa_family; addr }`.
                let mut via = [0u8; 18];
                via[..2].copy_from_slice(&u16::from(family_of(gateway)).to_ne_bytes());
                via[2..2 + gw_len].copy_from_slice(&gw[..gw_len]);
                w.attr(RTA_VIA, &via[..2 + gw_len]);
            }
            w.attr_u32(RTA_OIF, ifindex);
        }
    }
}

/// `RTM_DELROUTE` for our route at `prefix`. The protocol is set, so the
/// kernel only deletes a route of our protocol (IPv4 `fib_table_delete`
/// and IPv6 `ip6_route_del` both match `rtm_protocol` when non-zero). No
/// metric: a route adopted from a run with another metric still matches.
pub(crate) fn del_route(buf: &mut RequestBuf, key: &RouteKey, prefix: &IpNet) {
    let mut w = buf.begin(RTM_DELROUTE, NLM_F_REQUEST);
    w.raw(&rtmsg(
        prefix_family(prefix),
        prefix.prefix_len(),
        key.table,
        key.protocol,
        RT_SCOPE_NOWHERE,
        RTN_UNICAST,
    ));
    w.attr_u32(RTA_TABLE, key.table);
    let (dst, dst_len) = addr_bytes(&prefix.network());
    w.attr(RTA_DST, &dst[..dst_len]);
}

/// `RTM_GETROUTE` dump of one family, filtered in the kernel by table and
/// protocol (needs `NETLINK_GET_STRICT_CHK`, which we set).
pub(crate) fn dump_routes(buf: &mut RequestBuf, family: u8, table: u32, protocol: u8) {
    let mut w = buf.begin(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
    w.raw(&rtmsg(family, 0, table, protocol, 0, 0));
    w.attr_u32(RTA_TABLE, table);
}

/// `RTM_GETROUTE` for one destination address with `RTM_F_FIB_MATCH`
/// (`ip route get fibmatch`): the answer is the matching FIB entry, with
/// its prefix, table and protocol, not a cloned per-destination result.
pub(crate) fn get_route(buf: &mut RequestBuf, dst: IpAddr) {
    const RTM_F_FIB_MATCH: u32 = 0x2000;
    let mut w = buf.begin(RTM_GETROUTE, NLM_F_REQUEST);
    let (bytes, len) = addr_bytes(&dst);
    let mut header = rtmsg(family_of(dst), (len * 8) as u8, 0, 0, 0, 0);
    header[8..12].copy_from_slice(&RTM_F_FIB_MATCH.to_ne_bytes());
    w.raw(&header);
    w.attr(RTA_DST, &bytes[..len]);
}

/// `struct nhmsg`.
fn nhmsg(family: u8, protocol: u8) -> [u8; 8] {
    [family, 0, protocol, 0, 0, 0, 0, 0]
}

/// `RTM_NEWNEXTHOP` for one gateway on one interface.
pub(crate) fn new_nexthop(
    buf: &mut RequestBuf,
    protocol: u8,
    id: u32,
    gateway: IpAddr,
    ifindex: u32,
) {
    let mut w = buf.begin(RTM_NEWNEXTHOP, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
    w.raw(&nhmsg(family_of(gateway), protocol));
    w.attr_u32(NHA_ID, id);
    w.attr_u32(NHA_OIF, ifindex);
    let (gw, len) = addr_bytes(&gateway);
    w.attr(NHA_GATEWAY, &gw[..len]);
}

/// `RTM_NEWNEXTHOP` for a multipath group of equal weights.
pub(crate) fn new_group(buf: &mut RequestBuf, protocol: u8, id: u32, members: &[u32]) {
    let mut w = buf.begin(RTM_NEWNEXTHOP, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
    w.raw(&nhmsg(AF_UNSPEC, protocol));
    w.attr_u32(NHA_ID, id);
    // `struct nexthop_grp { u32 id; u8 weight (minus one); u8; u16 }`.
    let mut group = Vec::with_capacity(members.len() * 8);
    for member in members {
        group.extend_from_slice(&member.to_ne_bytes());
        group.extend_from_slice(&[0, 0, 0, 0]);
    }
    w.attr(NHA_GROUP, &group);
    w.attr(NHA_GROUP_TYPE, &NEXTHOP_GRP_TYPE_MPATH.to_ne_bytes());
}

/// `RTM_DELNEXTHOP`.
pub(crate) fn del_nexthop(buf: &mut RequestBuf, id: u32) {
    let mut w = buf.begin(RTM_DELNEXTHOP, NLM_F_REQUEST);
    w.raw(&nhmsg(AF_UNSPEC, 0));
    w.attr_u32(NHA_ID, id);
}

/// `RTM_GETNEXTHOP` dump of all nexthop objects (filtered by us).
pub(crate) fn dump_nexthops(buf: &mut RequestBuf) {
    let mut w = buf.begin(RTM_GETNEXTHOP, NLM_F_REQUEST | NLM_F_DUMP);
    w.raw(&nhmsg(AF_UNSPEC, 0));
}

/// One netlink message inside a received datagram.
pub(crate) struct Message<'a> {
    pub(crate) kind: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) payload: &'a [u8],
}

/// Iterates over the messages of one datagram. Stops at the first
/// malformed header (a truncated datagram is a kernel bug, not input we
/// can recover from).
pub(crate) fn messages(mut data: &[u8]) -> impl Iterator<Item = Message<'_>> {
    std::iter::from_fn(move || {
        if data.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(data[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            return None;
        }
        let message = Message {
            kind: u16::from_ne_bytes([data[4], data[5]]),
            flags: u16::from_ne_bytes([data[6], data[7]]),
            seq: u32::from_ne_bytes(data[8..12].try_into().ok()?),
            payload: &data[NLMSG_HDRLEN..len],
        };
        data = &data[align4(len).min(data.len())..];
        Some(message)
    })
}

/// Iterates over `(type, value)` of a run of `rtattr`/`nlattr`. The nested
/// and byte-order bits of the type are masked off.
pub(crate) fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        if len < 4 || len > data.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        let value = &data[4..len];
        data = &data[align4(len).min(data.len())..];
        Some((kind, value))
    })
}

/// A decoded `NLMSG_ERROR`: `errno` is 0 for an ACK.
pub(crate) struct Ack {
    pub(crate) errno: i32,
    pub(crate) message: Option<String>,
}

/// Decodes the payload of an `NLMSG_ERROR` (`struct nlmsgerr` and its
/// extended-ACK TLVs).
pub(crate) fn parse_ack(flags: u16, payload: &[u8]) -> Option<Ack> {
    let error = i32::from_ne_bytes(payload.get(0..4)?.try_into().ok()?);
    let echoed_len = u32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?) as usize;
    let mut message = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        let skip = if flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            align4(echoed_len)
        };
        if let Some(tlvs) = payload.get(4 + skip..) {
            for (kind, value) in attributes(tlvs) {
                if kind == NLMSGERR_ATTR_MSG {
                    let text = value.split(|b| *b == 0).next().unwrap_or_default();
                    message = Some(String::from_utf8_lossy(text).into_owned());
                }
            }
        }
    }
    Some(Ack {
        errno: -error,
        message,
    })
}

/// A nexthop object as dumped by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NexthopObject {
    pub(crate) id: u32,
    pub(crate) protocol: u8,
    pub(crate) body: NexthopBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NexthopBody {
    Gateway {
        gateway: IpAddr,
        ifindex: u32,
    },
    Group {
        members: Vec<u32>,
    },
    /// Blackhole, device-only, FDB or encap nexthops: we never create them.
    Other,
}

/// Decodes an `RTM_NEWNEXTHOP` payload.
pub(crate) fn parse_nexthop(payload: &[u8]) -> Option<NexthopObject> {
    let header = payload.get(..8)?;
    let family = header[0];
    let protocol = header[2];
    let mut id = None;
    let mut gateway = None;
    let mut ifindex = None;
    let mut members = None;
    let mut other = false;
    for (kind, value) in attributes(&payload[8..]) {
        match kind {
            NHA_ID => id = Some(u32::from_ne_bytes(value.get(..4)?.try_into().ok()?)),
            NHA_OIF => ifindex = Some(u32::from_ne_bytes(value.get(..4)?.try_into().ok()?)),
            NHA_GATEWAY => {
                gateway = match (family, value.len()) {
                    (AF_INET, 4) => {
                        Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(value).ok()?)))
                    }
                    (AF_INET6, 16) => Some(IpAddr::V6(Ipv6Addr::from(
                        <[u8; 16]>::try_from(value).ok()?,
                    ))),
                    _ => return None,
                }
            }
            NHA_GROUP => {
                members = Some(
                    value
                        .chunks_exact(8)
                        .map(|entry| u32::from_ne_bytes([entry[0], entry[1], entry[2], entry[3]]))
                        .collect(),
                )
            }
            NHA_BLACKHOLE => other = true,
            _ => {}
        }
    }
    let body = match (members, gateway, ifindex) {
        (Some(members), _, _) => NexthopBody::Group { members },
        (None, Some(gateway), Some(ifindex)) if !other => NexthopBody::Gateway { gateway, ifindex },
        _ => NexthopBody::Other,
    };
    Some(NexthopObject {
        id: id?,
        protocol,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_message_layout_matches_iproute2() {
        // `ip route add 10.1.0.0/16 nhid 7 proto 201 metric 20 table 100`:
        // nlmsghdr, rtmsg, then RTA_TABLE, RTA_DST, RTA_PRIORITY, RTA_NH_ID.
        let mut buf = RequestBuf::new(5);
        let key = RouteKey {
            table: 100,
            protocol: 201,
            metric: 20,
        };
        new_route(
            &mut buf,
            &key,
            &"10.1.0.0/16".parse().unwrap(),
            RouteTarget::NexthopId(7),
            false,
        );
        let b = &buf.bytes;
        assert_eq!(b.len(), 16 + 12 + 8 + 8 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()),
            b.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), RTM_NEWROUTE);
        assert_eq!(
            u16::from_ne_bytes([b[6], b[7]]),
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL
        );
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 5);
        assert_eq!(&b[16..28], &[2, 16, 0, 0, 100, 201, 0, 1, 0, 0, 0, 0]);
        // RTA_DST 10.1.0.0
        assert_eq!(&b[36..44], &[8, 0, 1, 0, 10, 1, 0, 0]);
    }

    #[test]
    fn ipv4_via_ipv6_uses_rta_via() {
        let mut buf = RequestBuf::new(1);
        let key = RouteKey {
            table: 254,
            protocol: 201,
            metric: 20,
        };
        new_route(
            &mut buf,
            &key,
            &"10.0.0.0/8".parse().unwrap(),
            RouteTarget::Inline {
                gateway: "fe80::1".parse().unwrap(),
                ifindex: 3,
            },
            true,
        );
        let attrs: Vec<(u16, Vec<u8>)> = attributes(&buf.bytes[28..])
            .map(|(k, v)| (k, v.to_vec()))
            .collect();
        let via = attrs.iter().find(|(k, _)| *k == RTA_VIA).unwrap();
        assert_eq!(via.1.len(), 18);
        assert_eq!(u16::from_ne_bytes([via.1[0], via.1[1]]), AF_INET6 as u16);
        assert!(attrs.iter().all(|(k, _)| *k != RTA_GATEWAY));
    }

    #[test]
    fn ack_flag_is_patched_into_one_message() {
        let mut buf = RequestBuf::new(1);
        del_nexthop(&mut buf, 1);
        del_nexthop(&mut buf, 2);
        buf.request_ack(1);
        let flags: Vec<u16> = messages(&buf.bytes).map(|m| m.flags).collect();
        assert_eq!(flags, vec![NLM_F_REQUEST, NLM_F_REQUEST | NLM_F_ACK]);
        let seqs: Vec<u32> = messages(&buf.bytes).map(|m| m.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
    }

    #[test]
    fn group_round_trips_through_the_nexthop_decoder() {
        let mut buf = RequestBuf::new(1);
        new_group(&mut buf, 201, 9, &[3, 4, 5]);
        let message = messages(&buf.bytes).next().unwrap();
        let object = parse_nexthop(message.payload).unwrap();
        assert_eq!(
            object,
            NexthopObject {
                id: 9,
                protocol: 201,
                body: NexthopBody::Group {
                    members: vec![3, 4, 5]
                }
            }
        );
        let mut buf = RequestBuf::new(1);
        new_nexthop(&mut buf, 201, 3, "2001:db8::1".parse().unwrap(), 4);
        let message = messages(&buf.bytes).next().unwrap();
        assert_eq!(
            parse_nexthop(message.payload).unwrap().body,
            NexthopBody::Gateway {
                gateway: "2001:db8::1".parse().unwrap(),
                ifindex: 4
            }
        );
    }

    #[test]
    fn truncated_input_never_panics() {
        let mut buf = RequestBuf::new(1);
        new_group(&mut buf, 201, 9, &[3, 4, 5]);
        for cut in 0..buf.bytes.len() {
            let _ = messages(&buf.bytes[..cut]).count();
            let _ = parse_nexthop(&buf.bytes[16..cut.max(16)]);
            let _ = parse_ack(0x300, &buf.bytes[16..cut.max(16)]);
        }
    }
}
