//! What we installed: the route mirror and the nexthop registry.
//!
//! Pure bookkeeping, no I/O. [`RouteMirror`] maps each of our prefixes to
//! the id its route points at. An IPv4 entry is one `u64` — address (32
//! bits), length (6) and the id as an offset into our id range (25) — in a
//! `hashbrown::HashTable`, so a bucket is 9 bytes with its control byte:
//! ~19 bytes a route at a million routes (2^21 buckets), where a
//! `HashMap<(u32, u8), u32>` costs 13 a bucket.
//!
//! [`Registry`] owns the nexthop ids: one *object* per distinct
//! `(gateway, ifindex)` and one *group* per distinct set of objects, each
//! with a reference count (routes that point at it, plus, for an object,
//! groups that contain it). An id whose count drops to zero is garbage
//! the caller deletes from the kernel. Objects can exist in the registry
//! without a kernel object (`in_kernel == false`): single-path routes in
//! inline mode carry their gateway in the route itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::{Error, Result};
use crate::route::NextHop;

/// Mirror value for a route adopted at start-up whose shape we do not
/// manage (inline multipath, a nexthop id outside our range, ...): we can
/// still replace or delete it. 0 is never a valid kernel nexthop id.
pub(crate) const UNMANAGED: u32 = 0;

/// Bits of an IPv4 entry that hold the id (as 1 + offset into the range,
/// 0 for [`UNMANAGED`]).
const ID_BITS: u32 = 25;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// The largest id range the packed IPv4 entries can hold.
pub(crate) const MAX_ID_RANGE: u32 = (1 << ID_BITS) - 2;

/// Prefix → nexthop id of every route we installed (or adopted). Ids are
/// [`UNMANAGED`] or inside the registry's range.
pub(crate) struct RouteMirror {
    base: u32,
    v4: hashbrown::HashTable<u64>,
    v6: HashMap<([u8; 16], u8), u32>,
}

fn hash_key(key: u64) -> u64 {
    // One multiply-xorshift round (FxHash-like): keys are well spread
    // already, and hashbrown takes its control bits from the top.
    let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

impl RouteMirror {
    /// An empty mirror for ids in `range` (at most [`MAX_ID_RANGE`] long).
    pub(crate) fn new(range: &Range<u32>) -> RouteMirror {
        RouteMirror {
            base: range.start,
            v4: hashbrown::HashTable::new(),
            v6: HashMap::new(),
        }
    }

    fn encode(&self, id: u32) -> u64 {
        if id == UNMANAGED {
            0
        } else {
            (id.wrapping_sub(self.base) as u64 + 1) & ID_MASK
        }
    }

    fn decode(&self, entry: u64) -> u32 {
        match entry & ID_MASK {
            0 => UNMANAGED,
            code => self.base.wrapping_add(code as u32 - 1),
        }
    }

    pub(crate) fn get(&self, prefix: &IpNet) -> Option<u32> {
        match prefix {
            IpNet::V4(p) => {
                let key = v4_key(p);
                self.v4
                    .find(hash_key(key), |e| e >> ID_BITS == key)
                    .map(|e| self.decode(*e))
            }
            IpNet::V6(p) => self.v6.get(&v6_key(p)).copied(),
        }
    }

    pub(crate) fn insert(&mut self, prefix: &IpNet, id: u32) -> Option<u32> {
        match prefix {
            IpNet::V4(p) => {
                let key = v4_key(p);
                let entry = (key << ID_BITS) | self.encode(id);
                let base = self.base;
                let decode = |e: u64| match e & ID_MASK {
                    0 => UNMANAGED,
                    code => base.wrapping_add(code as u32 - 1),
                };
                match self.v4.entry(
                    hash_key(key),
                    |e| e >> ID_BITS == key,
                    |e| hash_key(e >> ID_BITS),
                ) {
                    hashbrown::hash_table::Entry::Occupied(mut o) => {
                        let old = decode(*o.get());
                        *o.get_mut() = entry;
                        Some(old)
                    }
                    hashbrown::hash_table::Entry::Vacant(v) => {
                        v.insert(entry);
                        None
                    }
                }
            }
            IpNet::V6(p) => self.v6.insert(v6_key(p), id),
        }
    }

    pub(crate) fn remove(&mut self, prefix: &IpNet) -> Option<u32> {
        match prefix {
            IpNet::V4(p) => {
                let key = v4_key(p);
                match self.v4.find_entry(hash_key(key), |e| e >> ID_BITS == key) {
                    Ok(o) => {
                        let (entry, _) = o.remove();
                        Some(self.decode(entry))
                    }
                    Err(_) => None,
                }
            }
            IpNet::V6(p) => self.v6.remove(&v6_key(p)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub(crate) fn reserve(&mut self, v4: usize, v6: usize) {
        self.v4.reserve(v4, |e| hash_key(e >> ID_BITS));
        self.v6.reserve(v6);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (IpNet, u32)> + '_ {
        let v4 = self.v4.iter().map(|&entry| {
            let key = entry >> ID_BITS;
            let net = Ipv4Net::new(Ipv4Addr::from((key >> 6) as u32), (key & 0x3f) as u8)
                .unwrap_or_default();
            (IpNet::V4(net), self.decode(entry))
        });
        let v6 = self.v6.iter().map(|(&(addr, len), &id)| {
            let net = Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap_or_default();
            (IpNet::V6(net), id)
        });
        v4.chain(v6)
    }

    /// Heap bytes of the bucket arrays (hashbrown: one control byte plus
    /// one slot per bucket; buckets are a power of two ≥ capacity · 8/7).
    pub(crate) fn heap_bytes(&self) -> usize {
        fn buckets(capacity: usize) -> usize {
            if capacity == 0 {
                return 0;
            }
            (capacity * 8 / 7).next_power_of_two()
        }
        buckets(self.v4.capacity()) * (std::mem::size_of::<u64>() + 1)
            + buckets(self.v6.capacity()) * (std::mem::size_of::<(([u8; 16], u8), u32)>() + 1)
    }
}

/// Address and length of an IPv4 prefix: 38 bits.
fn v4_key(p: &Ipv4Net) -> u64 {
    ((u32::from(p.network()) as u64) << 6) | p.prefix_len() as u64
}

fn v6_key(p: &Ipv6Net) -> ([u8; 16], u8) {
    (p.network().octets(), p.prefix_len())
}

/// A next hop with its interface resolved: the identity of a nexthop object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct HopKey {
    pub(crate) gateway: IpAddr,
    pub(crate) ifindex: u32,
}

impl HopKey {
    pub(crate) fn next_hop(&self) -> NextHop {
        NextHop::new(self.gateway, Some(self.ifindex))
    }
}

#[derive(Debug)]
pub(crate) enum EntryKind {
    Object {
        hop: HopKey,
        in_kernel: bool,
    },
    Group {
        members: Box<[u32]>,
    },
    /// An id in our range held by another protocol's nexthop: never ours
    /// to allocate or delete.
    Foreign,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) kind: EntryKind,
    pub(crate) refs: u32,
}

/// Nexthop objects and groups we own, by id and by content.
pub(crate) struct Registry {
    range: Range<u32>,
    next_id: u32,
    entries: HashMap<u32, Entry>,
    objects: HashMap<HopKey, u32>,
    groups: HashMap<Box<[u32]>, u32>,
}

impl Registry {
    pub(crate) fn new(range: Range<u32>) -> Self {
        Registry {
            next_id: range.start,
            range,
            entries: HashMap::new(),
            objects: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    pub(crate) fn owns(&self, id: u32) -> bool {
        self.range.contains(&id)
    }

    pub(crate) fn entry(&self, id: u32) -> Option<&Entry> {
        self.entries.get(&id)
    }

    pub(crate) fn object_count(&self) -> usize {
        self.objects.len()
    }

    pub(crate) fn group_count(&self) -> usize {
        self.groups.len()
    }

    fn allocate(&mut self) -> Result<u32> {
        let span = self.range.end - self.range.start;
        for _ in 0..span {
            let id = self.next_id;
            self.next_id = if id + 1 >= self.range.end {
                self.range.start
            } else {
                id + 1
            };
            if !self.entries.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(Error::NexthopIdsExhausted {
            start: self.range.start,
            end: self.range.end,
        })
    }

    /// The object for `hop`, created (with no references, not in the
    /// kernel) if new.
    pub(crate) fn intern_object(&mut self, hop: HopKey) -> Result<u32> {
        if let Some(&id) = self.objects.get(&hop) {
            return Ok(id);
        }
        let id = self.allocate()?;
        self.entries.insert(
            id,
            Entry {
                kind: EntryKind::Object {
                    hop,
                    in_kernel: false,
                },
                refs: 0,
            },
        );
        self.objects.insert(hop, id);
        Ok(id)
    }

    /// The group of `members` (sorted, distinct), and whether it is new. A
    /// new group holds one reference on each member.
    pub(crate) fn intern_group(&mut self, members: &[u32]) -> Result<(u32, bool)> {
        if let Some(&id) = self.groups.get(members) {
            return Ok((id, false));
        }
        let id = self.allocate()?;
        for member in members {
            self.acquire(*member);
        }
        self.entries.insert(
            id,
            Entry {
                kind: EntryKind::Group {
                    members: members.into(),
                },
                refs: 0,
            },
        );
        self.groups.insert(members.into(), id);
        Ok((id, true))
    }

    /// Records an object or group found in the kernel at start-up.
    pub(crate) fn adopt(&mut self, id: u32, kind: EntryKind) {
        match &kind {
            EntryKind::Object { hop, .. } => {
                self.objects.insert(*hop, id);
            }
            EntryKind::Group { members } => {
                self.groups.insert(members.clone(), id);
            }
            EntryKind::Foreign => {}
        }
        self.entries.insert(id, Entry { kind, refs: 0 });
    }

    pub(crate) fn set_in_kernel(&mut self, id: u32, value: bool) {
        if let Some(Entry {
            kind: EntryKind::Object { in_kernel, .. },
            ..
        }) = self.entries.get_mut(&id)
        {
            *in_kernel = value;
        }
    }

    pub(crate) fn acquire(&mut self, id: u32) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.refs += 1;
        }
    }

    /// Drops one reference; true when none is left.
    pub(crate) fn release(&mut self, id: u32) -> bool {
        match self.entries.get_mut(&id) {
            Some(entry) if entry.refs > 0 => {
                entry.refs -= 1;
                entry.refs == 0
            }
            Some(entry) => entry.refs == 0,
            None => false,
        }
    }

    /// Forgets `id` (after the kernel deleted it, or failed to create it).
    /// A group releases its members; returns the members that became
    /// unreferenced.
    pub(crate) fn forget(&mut self, id: u32) -> Vec<u32> {
        let mut orphans = Vec::new();
        match self.entries.remove(&id).map(|e| e.kind) {
            Some(EntryKind::Object { hop, .. }) => {
                self.objects.remove(&hop);
            }
            Some(EntryKind::Group { members }) => {
                self.groups.remove(&members);
                for member in members.iter() {
                    if self.release(*member) {
                        orphans.push(*member);
                    }
                }
            }
            Some(EntryKind::Foreign) | None => {}
        }
        orphans
    }

    /// Ids with no references: groups first, then objects (a group must
    /// go before its members).
    pub(crate) fn unreferenced(&self) -> (Vec<u32>, Vec<u32>) {
        let mut groups = Vec::new();
        let mut objects = Vec::new();
        for (&id, entry) in &self.entries {
            if entry.refs != 0 {
                continue;
            }
            match entry.kind {
                EntryKind::Group { .. } => groups.push(id),
                EntryKind::Object { .. } => objects.push(id),
                EntryKind::Foreign => {}
            }
        }
        (groups, objects)
    }

    /// The next hops of `id`, for dumps.
    pub(crate) fn next_hops(&self, id: u32) -> Option<Vec<NextHop>> {
        match &self.entries.get(&id)?.kind {
            EntryKind::Object { hop, .. } => Some(vec![hop.next_hop()]),
            EntryKind::Group { members } => members
                .iter()
                .map(|m| match &self.entries.get(m)?.kind {
                    EntryKind::Object { hop, .. } => Some(hop.next_hop()),
                    _ => None,
                })
                .collect(),
            EntryKind::Foreign => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(last: u8) -> HopKey {
        HopKey {
            gateway: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            ifindex: 2,
        }
    }

    #[test]
    fn mirror_keys_ignore_host_bits_and_round_trip() {
        let mut mirror = RouteMirror::new(&(7..0x0100_0007));
        let p: IpNet = "10.1.2.0/24".parse().unwrap();
        let q: IpNet = "2001:db8::/32".parse().unwrap();
        let r: IpNet = "10.1.2.0/23".parse().unwrap();
        let host_bits: IpNet = "10.1.2.9/24".parse().unwrap();
        assert_eq!(mirror.insert(&p, 7), None);
        mirror.insert(&q, 8);
        // The last id of the range and UNMANAGED survive the packing.
        mirror.insert(&r, 0x0100_0006);
        assert_eq!(mirror.get(&p), Some(7));
        assert_eq!(mirror.get(&host_bits), Some(7));
        assert_eq!(mirror.get(&r), Some(0x0100_0006));
        assert_eq!(mirror.insert(&r, UNMANAGED), Some(0x0100_0006));
        assert_eq!(mirror.get(&r), Some(UNMANAGED));
        assert_eq!(mirror.len(), 3);
        let mut all: Vec<_> = mirror.iter().collect();
        all.sort();
        assert_eq!(all, vec![(r, UNMANAGED), (p, 7), (q, 8)]);
        assert_eq!(mirror.remove(&q), Some(8));
        assert_eq!(mirror.get(&q), None);
        assert_eq!(mirror.remove(&p), Some(7));
        assert_eq!(mirror.remove(&p), None);
    }

    #[test]
    fn slots_are_nine_bytes_for_ipv4() {
        let mut mirror = RouteMirror::new(&(1..100));
        for i in 0..100_000u32 {
            let net = Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap();
            mirror.insert(&IpNet::V4(net), 1 + i % 99);
        }
        // 100k entries: 2^17 buckets of 8 + 1 bytes.
        assert_eq!(mirror.heap_bytes(), (1 << 17) * 9);
        assert_eq!(std::mem::size_of::<(([u8; 16], u8), u32)>(), 24);
    }

    #[test]
    fn groups_are_shared_and_collected_with_their_members() {
        let mut registry = Registry::new(100..200);
        let a = registry.intern_object(hop(1)).unwrap();
        let b = registry.intern_object(hop(2)).unwrap();
        assert_eq!(registry.intern_object(hop(1)).unwrap(), a);
        let (g, new) = registry.intern_group(&[a, b]).unwrap();
        assert!(new);
        assert_eq!(registry.intern_group(&[a, b]).unwrap(), (g, false));
        registry.acquire(g);
        registry.acquire(g);
        assert!(!registry.release(g));
        assert_eq!(registry.unreferenced(), (vec![], vec![]));
        assert!(registry.release(g));
        assert_eq!(registry.unreferenced().0, vec![g]);
        let mut orphans = registry.forget(g);
        orphans.sort();
        assert_eq!(orphans, vec![a, b]);
        registry.forget(a);
        registry.forget(b);
        assert_eq!((registry.object_count(), registry.group_count()), (0, 0));
    }

    #[test]
    fn allocation_skips_taken_ids_and_reports_exhaustion() {
        let mut registry = Registry::new(10..13);
        registry.adopt(11, EntryKind::Foreign);
        assert_eq!(registry.intern_object(hop(1)).unwrap(), 10);
        assert_eq!(registry.intern_object(hop(2)).unwrap(), 12);
        assert!(matches!(
            registry.intern_object(hop(3)),
            Err(Error::NexthopIdsExhausted { .. })
        ));
        registry.forget(10);
        assert_eq!(registry.intern_object(hop(3)).unwrap(), 10);
    }
}
