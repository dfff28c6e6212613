//! What we installed: the route mirror and the nexthop registry.
//!
//! Pure bookkeeping, no I/O. [`RouteMirror`] maps each of our prefixes to
//! the id its route points at, packed per family so that a million IPv4
//! routes cost about 13 bytes each in a hash table's buckets (key 5 bytes
//! padded to 8, value 4, one control byte; see README for the measurement).
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

/// Prefix → nexthop id of every route we installed (or adopted).
#[derive(Default)]
pub(crate) struct RouteMirror {
    v4: HashMap<(u32, u8), u32>,
    v6: HashMap<([u8; 16], u8), u32>,
}

impl RouteMirror {
    pub(crate) fn get(&self, prefix: &IpNet) -> Option<u32> {
        match prefix {
            IpNet::V4(p) => self.v4.get(&v4_key(p)).copied(),
            IpNet::V6(p) => self.v6.get(&v6_key(p)).copied(),
        }
    }

    pub(crate) fn insert(&mut self, prefix: &IpNet, id: u32) -> Option<u32> {
        match prefix {
            IpNet::V4(p) => self.v4.insert(v4_key(p), id),
            IpNet::V6(p) => self.v6.insert(v6_key(p), id),
        }
    }

    pub(crate) fn remove(&mut self, prefix: &IpNet) -> Option<u32> {
        match prefix {
            IpNet::V4(p) => self.v4.remove(&v4_key(p)),
            IpNet::V6(p) => self.v6.remove(&v6_key(p)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub(crate) fn reserve(&mut self, v4: usize, v6: usize) {
        self.v4.reserve(v4);
        self.v6.reserve(v6);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (IpNet, u32)> + '_ {
        let v4 = self.v4.iter().map(|(&(addr, len), &id)| {
            let net = Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap_or_default();
            (IpNet::V4(net), id)
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
        fn table<K, V>(map: &HashMap<K, V>) -> usize {
            if map.capacity() == 0 {
                return 0;
            }
            let buckets = (map.capacity() * 8 / 7).next_power_of_two();
            buckets * (std::mem::size_of::<(K, V)>() + 1)
        }
        table(&self.v4) + table(&self.v6)
    }
}

fn v4_key(p: &Ipv4Net) -> (u32, u8) {
    (u32::from(p.network()), p.prefix_len())
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
        let mut mirror = RouteMirror::default();
        let p: IpNet = "10.1.2.0/24".parse().unwrap();
        let q: IpNet = "2001:db8::/32".parse().unwrap();
        mirror.insert(&p, 7);
        mirror.insert(&q, 8);
        assert_eq!(mirror.get(&p), Some(7));
        assert_eq!(mirror.len(), 2);
        let mut all: Vec<_> = mirror.iter().collect();
        all.sort();
        assert_eq!(all, vec![(p, 7), (q, 8)]);
        assert_eq!(mirror.remove(&q), Some(8));
        assert_eq!(mirror.get(&q), None);
    }

    #[test]
    fn v4_slot_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<((u32, u8), u32)>(), 12);
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
