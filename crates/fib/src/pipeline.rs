//! The packet pipeline: batches of Ethernet frames in memory in, rewritten
//! frames and per-frame actions out, exceptions to a slow-path queue.
//!
//! Owns frame parsing and validation (Ethernet II with at most one 802.1Q
//! tag, IPv4 per RFC 1812 §5.2.2, IPv6 per RFC 8200), the TTL / hop-limit
//! decrement with the incremental IPv4 checksum update of RFC 1624, the
//! batched LPM and ECMP selection, the next-hop MAC rewrite, and the
//! [`SlowPathQueue`]. It owns no tables: the caller passes a consistent
//! snapshot of each per batch.
//!
//! Stages per batch (so lookups of a whole batch overlap in memory):
//! 1. parse + validate every frame; exceptions decided here are final;
//! 2. batched LPM of all IPv4 destinations, then all IPv6 ones;
//! 3. per frame: group → flow hash → member, TTL/hop-limit decrement,
//!    checksum update, MAC rewrite.
//!
//! Frames are only modified when forwarded; a punted frame is copied to the
//! slow path unmodified (what ICMP errors quote).

use std::collections::VecDeque;

use crate::ecmp::{flow_hash, FlowKey, NextHopTable};
use crate::table::{Table, NO_ROUTE};

/// Most frames per [`Pipeline::process`] call; larger inputs are split.
pub const MAX_BATCH: usize = 256;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;

/// Why a frame left the fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Exception {
    /// Truncated frame or header, wrong version, bad length or checksum.
    BadHeader,
    /// Not IPv4 or IPv6 (ARP, LLDP, …).
    NotIp,
    /// IPv4 with options: handled in software.
    Ipv4Options,
    /// TTL or hop limit would reach zero (ICMP time exceeded).
    TtlExpired,
    /// No route (ICMP unreachable).
    NoRoute,
    /// The route names a next-hop group that does not exist.
    UnknownNextHop,
}

/// What happened to a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Rewritten in place; send out of `port`.
    Forward {
        /// Egress port.
        port: u16,
    },
    /// Handed to the slow path.
    Punt(Exception),
}

/// A frame handed to the slow path, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Punted {
    /// Why.
    pub reason: Exception,
    /// The frame as received.
    pub frame: Vec<u8>,
}

/// A bounded queue of exception frames for the control plane; when full,
/// new exceptions are counted and dropped (the slow path must never slow
/// the fast path down).
#[derive(Debug)]
pub struct SlowPathQueue {
    queue: VecDeque<Punted>,
    capacity: usize,
    dropped: u64,
}

impl SlowPathQueue {
    /// A queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Self {
        SlowPathQueue {
            queue: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            dropped: 0,
        }
    }

    fn push(&mut self, reason: Exception, frame: &[u8]) {
        if self.queue.len() >= self.capacity {
            self.dropped += 1;
        } else {
            self.queue.push_back(Punted {
                reason,
                frame: frame.to_vec(),
            });
        }
    }

    /// Takes the oldest exception.
    pub fn pop(&mut self) -> Option<Punted> {
        self.queue.pop_front()
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when no frame waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Exceptions dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[derive(Clone, Copy, Debug, Default)]
enum Parsed {
    #[default]
    Punt,
    V4 {
        l3: u16,
    },
    V6 {
        l3: u16,
    },
}

/// Per-batch scratch space, reused across calls so the fast path does not
/// allocate.
#[derive(Debug)]
pub struct Pipeline {
    parsed: Vec<Parsed>,
    v4_addrs: Vec<u32>,
    v4_frames: Vec<u16>,
    v4_hops: Vec<u32>,
    v6_addrs: Vec<u128>,
    v6_frames: Vec<u16>,
    v6_hops: Vec<u32>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Ones'-complement sum of a header, folded (0xffff for a valid IPv4 header).
#[inline]
fn ones_complement_sum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks_exact(2) {
        sum += u16::from_be_bytes([pair[0], pair[1]]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')` for one changed 16-bit word.
#[inline]
pub fn checksum_update(checksum: u16, old_word: u16, new_word: u16) -> u16 {
    let mut sum = (!checksum) as u32 + (!old_word) as u32 + new_word as u32;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// Parses the L2 header; returns (ethertype, L3 offset).
#[inline]
fn parse_ethernet(frame: &[u8]) -> Option<(u16, usize)> {
    if frame.len() < 14 {
        return None;
    }
    let ethertype = be16(frame, 12);
    if ethertype == ETHERTYPE_VLAN {
        if frame.len() < 18 {
            return None;
        }
        return Some((be16(frame, 16), 18));
    }
    Some((ethertype, 14))
}

/// Validates an IPv4 header (RFC 1812 §5.2.2) and the TTL.
#[inline]
fn check_ipv4(frame: &[u8], l3: usize) -> Result<u32, Exception> {
    let ip = frame.get(l3..).ok_or(Exception::BadHeader)?;
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return Err(Exception::BadHeader);
    }
    let ihl = (ip[0] & 0x0f) as usize * 4;
    let total = be16(ip, 2) as usize;
    if ihl < 20 || total < ihl || total > ip.len() || ip.len() < ihl {
        return Err(Exception::BadHeader);
    }
    if ones_complement_sum(&ip[..ihl]) != 0xffff {
        return Err(Exception::BadHeader);
    }
    if ihl > 20 {
        return Err(Exception::Ipv4Options);
    }
    if ip[8] <= 1 {
        return Err(Exception::TtlExpired);
    }
    Ok(u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]))
}

/// Validates an IPv6 header (RFC 8200 §3) and the hop limit.
#[inline]
fn check_ipv6(frame: &[u8], l3: usize) -> Result<u128, Exception> {
    let ip = frame.get(l3..).ok_or(Exception::BadHeader)?;
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return Err(Exception::BadHeader);
    }
    if 40 + be16(ip, 4) as usize > ip.len() {
        return Err(Exception::BadHeader);
    }
    if ip[7] <= 1 {
        return Err(Exception::TtlExpired);
    }
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&ip[24..40]);
    Ok(u128::from_be_bytes(dst))
}

#[inline]
fn ports(l4: &[u8], protocol: u8) -> (u16, u16) {
    // TCP, UDP, SCTP carry ports in the first four bytes.
    if matches!(protocol, 6 | 17 | 132) && l4.len() >= 4 {
        (be16(l4, 0), be16(l4, 2))
    } else {
        (0, 0)
    }
}

fn flow_key_v4(ip: &[u8]) -> FlowKey {
    let protocol = ip[9];
    let first_fragment = be16(ip, 6) & 0x1fff == 0;
    let (src_port, dst_port) = if first_fragment {
        ports(&ip[20..], protocol)
    } else {
        (0, 0)
    };
    FlowKey {
        src: u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]) as u128,
        dst: u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]) as u128,
        protocol,
        src_port,
        dst_port,
    }
}

fn flow_key_v6(ip: &[u8]) -> FlowKey {
    let protocol = ip[6];
    let mut a = [0u8; 16];
    a.copy_from_slice(&ip[8..24]);
    let src = u128::from_be_bytes(a);
    a.copy_from_slice(&ip[24..40]);
    let dst = u128::from_be_bytes(a);
    // Extension headers are not walked: such flows hash on addresses only.
    let (src_port, dst_port) = ports(&ip[40..], protocol);
    FlowKey {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
    }
}

impl Pipeline {
    /// A pipeline with empty scratch space.
    pub fn new() -> Self {
        Pipeline {
            parsed: Vec::with_capacity(MAX_BATCH),
            v4_addrs: Vec::with_capacity(MAX_BATCH),
            v4_frames: Vec::with_capacity(MAX_BATCH),
            v4_hops: vec![0; MAX_BATCH],
            v6_addrs: Vec::with_capacity(MAX_BATCH),
            v6_frames: Vec::with_capacity(MAX_BATCH),
            v6_hops: vec![0; MAX_BATCH],
        }
    }

    /// Processes frames: forwarded ones are rewritten in place, exceptions
    /// are copied to `slow_path`. `actions` is cleared and gets one entry per
    /// frame, in order.
    pub fn process(
        &mut self,
        v4: &Table<u32>,
        v6: &Table<u128>,
        nexthops: &NextHopTable,
        frames: &mut [&mut [u8]],
        actions: &mut Vec<Action>,
        slow_path: &mut SlowPathQueue,
    ) {
        actions.clear();
        for batch in frames.chunks_mut(MAX_BATCH) {
            self.process_batch(v4, v6, nexthops, batch, actions, slow_path);
        }
    }

    fn process_batch(
        &mut self,
        v4: &Table<u32>,
        v6: &Table<u128>,
        nexthops: &NextHopTable,
        frames: &mut [&mut [u8]],
        actions: &mut Vec<Action>,
        slow_path: &mut SlowPathQueue,
    ) {
        let first_action = actions.len();
        self.parsed.clear();
        self.v4_addrs.clear();
        self.v4_frames.clear();
        self.v6_addrs.clear();
        self.v6_frames.clear();
        // Stage 1: parse and validate.
        for (i, frame) in frames.iter().enumerate() {
            let verdict = match parse_ethernet(frame) {
                None => Err(Exception::BadHeader),
                Some((ETHERTYPE_IPV4, l3)) => check_ipv4(frame, l3).map(|dst| {
                    self.v4_addrs.push(dst);
                    self.v4_frames.push(i as u16);
                    Parsed::V4 { l3: l3 as u16 }
                }),
                Some((ETHERTYPE_IPV6, l3)) => check_ipv6(frame, l3).map(|dst| {
                    self.v6_addrs.push(dst);
                    self.v6_frames.push(i as u16);
                    Parsed::V6 { l3: l3 as u16 }
                }),
                Some(_) => Err(Exception::NotIp),
            };
            match verdict {
                Ok(p) => {
                    self.parsed.push(p);
                    actions.push(Action::Forward { port: 0 });
                }
                Err(e) => {
                    self.parsed.push(Parsed::Punt);
                    actions.push(Action::Punt(e));
                }
            }
        }
        // Stage 2: batched LPM.
        v4.lookup_batch(&self.v4_addrs, &mut self.v4_hops);
        v6.lookup_batch(&self.v6_addrs, &mut self.v6_hops);
        // Stage 3: ECMP, rewrite.
        let actions = &mut actions[first_action..];
        for (&i, &hop) in self.v4_frames.iter().zip(&self.v4_hops) {
            let i = i as usize;
            let Parsed::V4 { l3 } = self.parsed[i] else {
                continue;
            };
            actions[i] = forward_v4(&mut frames[i][..], l3 as usize, hop, nexthops);
        }
        for (&i, &hop) in self.v6_frames.iter().zip(&self.v6_hops) {
            let i = i as usize;
            let Parsed::V6 { l3 } = self.parsed[i] else {
                continue;
            };
            actions[i] = forward_v6(&mut frames[i][..], l3 as usize, hop, nexthops);
        }
        for (action, frame) in actions.iter().zip(frames.iter()) {
            if let Action::Punt(reason) = *action {
                slow_path.push(reason, frame);
            }
        }
    }
}

#[inline]
fn rewrite_macs(frame: &mut [u8], nexthop: &crate::ecmp::NextHop) {
    frame[0..6].copy_from_slice(&nexthop.dst_mac);
    frame[6..12].copy_from_slice(&nexthop.src_mac);
}

#[inline]
fn forward_v4(frame: &mut [u8], l3: usize, hop: u32, nexthops: &NextHopTable) -> Action {
    if hop == NO_ROUTE {
        return Action::Punt(Exception::NoRoute);
    }
    let Some(group) = nexthops.get(hop) else {
        return Action::Punt(Exception::UnknownNextHop);
    };
    let ip = &mut frame[l3..];
    let nexthop = group.select(flow_hash(&flow_key_v4(ip)));
    // TTL shares a 16-bit word with the protocol field (RFC 1624 §4).
    let old_word = be16(ip, 8);
    ip[8] -= 1;
    let new_word = be16(ip, 8);
    let checksum = checksum_update(be16(ip, 10), old_word, new_word);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    rewrite_macs(frame, nexthop);
    Action::Forward { port: nexthop.port }
}

#[inline]
fn forward_v6(frame: &mut [u8], l3: usize, hop: u32, nexthops: &NextHopTable) -> Action {
    if hop == NO_ROUTE {
        return Action::Punt(Exception::NoRoute);
    }
    let Some(group) = nexthops.get(hop) else {
        return Action::Punt(Exception::UnknownNextHop);
    };
    let ip = &mut frame[l3..];
    let nexthop = group.select(flow_hash(&flow_key_v6(ip)));
    ip[7] -= 1;
    rewrite_macs(frame, nexthop);
    Action::Forward { port: nexthop.port }
}

/// Builders of test and benchmark frames.
pub mod frames {
    /// A minimal 64-byte Ethernet + IPv4 + UDP frame (60 bytes on the wire
    /// before the FCS, padded to 64 in the buffer), with a valid checksum.
    pub fn ipv4_udp(src: u32, dst: u32, ttl: u8, src_port: u16, dst_port: u16) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&super::ETHERTYPE_IPV4.to_be_bytes());
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&46u16.to_be_bytes());
        ip[8] = ttl;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src.to_be_bytes());
        ip[16..20].copy_from_slice(&dst.to_be_bytes());
        let sum = super::ones_complement_sum(&ip[..20]);
        ip[10..12].copy_from_slice(&(!sum).to_be_bytes());
        ip[20..22].copy_from_slice(&src_port.to_be_bytes());
        ip[22..24].copy_from_slice(&dst_port.to_be_bytes());
        ip[24..26].copy_from_slice(&26u16.to_be_bytes());
        f
    }

    /// A 78-byte Ethernet + IPv6 + UDP frame.
    pub fn ipv6_udp(src: u128, dst: u128, hop_limit: u8, src_port: u16, dst_port: u16) -> Vec<u8> {
        let mut f = vec![0u8; 78];
        f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&super::ETHERTYPE_IPV6.to_be_bytes());
        let ip = &mut f[14..];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&24u16.to_be_bytes());
        ip[6] = 17;
        ip[7] = hop_limit;
        ip[8..24].copy_from_slice(&src.to_be_bytes());
        ip[24..40].copy_from_slice(&dst.to_be_bytes());
        ip[40..42].copy_from_slice(&src_port.to_be_bytes());
        ip[42..44].copy_from_slice(&dst_port.to_be_bytes());
        f
    }

    /// True if the IPv4 header at `l3` has a valid checksum.
    pub fn ipv4_checksum_ok(frame: &[u8], l3: usize) -> bool {
        let ihl = (frame[l3] & 0x0f) as usize * 4;
        super::ones_complement_sum(&frame[l3..l3 + ihl]) == 0xffff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1624_matches_full_recompute() {
        for ttl in 2..=255u8 {
            let mut f = frames::ipv4_udp(0x0a00_0001, 0xc633_6401, ttl, 1, 2);
            let old = be16(&f, 22);
            f[22] -= 1;
            let c = checksum_update(be16(&f, 24), old, be16(&f, 22));
            f[24..26].copy_from_slice(&c.to_be_bytes());
            assert!(frames::ipv4_checksum_ok(&f, 14), "ttl {ttl}");
        }
    }
}
