//! The RIB's own bookkeeping: prefix → interned next-hop set, compact.
//!
//! A full table is a million prefixes over a handful of distinct sets, so a
//! prefix costs one packed key and a `u32` set id (IPv4 keys are packed
//! into a `u64`, as in the Loc-RIB), and a set is stored once with its
//! reference count and its current resolution.

use std::net::{IpAddr, Ipv4Addr};

use clos_fib_kernel::NextHop;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// A protocol next hop: an address, and the interface when the address
/// alone does not say (an IPv6 link-local next hop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hop {
    pub address: IpAddr,
    pub ifindex: Option<u32>,
}

/// Sorted, deduplicated hops.
pub type HopSet = SmallVec<[Hop; 2]>;

pub type SetId = u32;

/// One interned set.
#[derive(Debug)]
pub struct Set {
    pub hops: HopSet,
    /// Prefixes using it.
    pub refs: u32,
    /// What the kernel gets for it: the resolved next hops (empty when none
    /// resolves: such prefixes are kept out of the kernel).
    pub kernel: Vec<NextHop>,
}

/// Prefix → set, with interned sets.
#[derive(Debug, Default)]
pub struct Table {
    v4: FxHashMap<u64, SetId>,
    v6: FxHashMap<Ipv6Net, SetId>,
    sets: Vec<Option<Set>>,
    free: Vec<SetId>,
    index: FxHashMap<HopSet, SetId>,
}

fn v4_key(p: &Ipv4Net) -> u64 {
    ((u32::from(p.addr()) as u64) << 8) | p.prefix_len() as u64
}

fn v4_prefix(key: u64) -> IpNet {
    IpNet::V4(
        Ipv4Net::new(Ipv4Addr::from((key >> 8) as u32), (key & 0xff) as u8).unwrap_or_default(),
    )
}

impl Table {
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn set(&self, id: SetId) -> Option<&Set> {
        self.sets.get(id as usize).and_then(Option::as_ref)
    }

    pub fn sets(&self) -> impl Iterator<Item = (SetId, &Set)> {
        self.sets
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as SetId, s)))
    }

    /// Sets the kernel next hops of set `id`.
    pub fn set_kernel(&mut self, id: SetId, kernel: Vec<NextHop>) {
        if let Some(Some(set)) = self.sets.get_mut(id as usize) {
            set.kernel = kernel;
        }
    }

    /// Points `prefix` at `hops`, interning them. Returns the set id,
    /// whether the prefix changed sets, and whether the set is new (its
    /// `kernel` next hops are then empty until [`Table::set_kernel`]).
    pub fn insert(&mut self, prefix: IpNet, hops: HopSet) -> (SetId, bool, bool) {
        let mut new_set = false;
        let id = match self.index.get(&hops) {
            Some(&id) => id,
            None => {
                new_set = true;
                let set = Set {
                    hops: hops.clone(),
                    refs: 0,
                    kernel: Vec::new(),
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.sets[id as usize] = Some(set);
                        id
                    }
                    None => {
                        self.sets.push(Some(set));
                        (self.sets.len() - 1) as SetId
                    }
                };
                self.index.insert(hops, id);
                id
            }
        };
        let old = match prefix {
            IpNet::V4(p) => self.v4.insert(v4_key(&p), id),
            IpNet::V6(p) => self.v6.insert(p, id),
        };
        if old == Some(id) {
            return (id, false, new_set);
        }
        if let Some(set) = self.sets[id as usize].as_mut() {
            set.refs += 1;
        }
        if let Some(old) = old {
            self.release(old);
        }
        (id, true, new_set)
    }

    /// Forgets `prefix`; whether it was there.
    pub fn remove(&mut self, prefix: &IpNet) -> bool {
        let old = match prefix {
            IpNet::V4(p) => self.v4.remove(&v4_key(p)),
            IpNet::V6(p) => self.v6.remove(p),
        };
        match old {
            Some(id) => {
                self.release(id);
                true
            }
            None => false,
        }
    }

    fn release(&mut self, id: SetId) {
        let Some(set) = self.sets[id as usize].as_mut() else {
            return;
        };
        set.refs -= 1;
        if set.refs == 0 {
            if let Some(set) = self.sets[id as usize].take() {
                self.index.remove(&set.hops);
            }
            self.free.push(id);
        }
    }

    /// Every prefix with its set id.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, SetId)> + '_ {
        self.v4
            .iter()
            .map(|(k, id)| (v4_prefix(*k), *id))
            .chain(self.v6.iter().map(|(p, id)| (IpNet::V6(*p), *id)))
    }

    /// Heap bytes of the prefix maps (the per-route cost).
    pub fn heap_bytes(&self) -> usize {
        // hashbrown: one control byte plus the entry per bucket.
        self.v4.capacity() * (1 + std::mem::size_of::<(u64, SetId)>())
            + self.v6.capacity() * (1 + std::mem::size_of::<(Ipv6Net, SetId)>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(s: &str) -> Hop {
        Hop {
            address: s.parse().unwrap(),
            ifindex: None,
        }
    }

    #[test]
    fn sets_are_shared_and_freed_with_their_last_prefix() {
        let mut t = Table::default();
        let a: HopSet = [hop("10.0.0.1"), hop("10.0.0.2")].into_iter().collect();
        let (s1, changed, new) = t.insert("192.0.2.0/24".parse().unwrap(), a.clone());
        assert!(changed && new);
        let (s2, changed, new) = t.insert("198.51.100.0/24".parse().unwrap(), a.clone());
        assert!(changed && !new, "an interned set is shared");
        assert_eq!(s1, s2);
        assert_eq!(t.set(s1).unwrap().refs, 2);
        // Same prefix, same set: no change.
        let (_, changed, _) = t.insert("192.0.2.0/24".parse().unwrap(), a.clone());
        assert!(!changed);
        assert!(t.remove(&"192.0.2.0/24".parse().unwrap()));
        assert_eq!(t.set(s1).unwrap().refs, 1);
        assert!(t.remove(&"198.51.100.0/24".parse().unwrap()));
        assert!(t.set(s1).is_none(), "a set without prefixes is freed");
        assert!(!t.remove(&"198.51.100.0/24".parse().unwrap()));
        assert_eq!(t.len(), 0);
        // The freed id is reused.
        let b: HopSet = [hop("2001:db8::1")].into_iter().collect();
        let (s3, _, _) = t.insert("2001:db8:1::/48".parse().unwrap(), b);
        assert_eq!(s3, s1);
        let all: Vec<_> = t.iter().collect();
        assert_eq!(all, vec![("2001:db8:1::/48".parse().unwrap(), s3)]);
    }

    #[test]
    fn ipv4_keys_round_trip() {
        for p in ["0.0.0.0/0", "10.1.2.0/24", "255.255.255.255/32"] {
            let net: Ipv4Net = p.parse().unwrap();
            assert_eq!(v4_prefix(v4_key(&net)), IpNet::V4(net));
        }
    }
}
