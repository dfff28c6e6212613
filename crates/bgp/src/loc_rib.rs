//! Loc-RIB storage: one hash map per address family with packed keys.
//!
//! An `IpNet` key is 18 bytes and pads a bucket to 64 bytes; an IPv4 prefix
//! packed into a `u64` (address << 8 | length) makes the bucket 40 bytes,
//! which at a full table (2^21 buckets once past 917k prefixes) is ~50 MiB
//! less. IPv6 keeps `Ipv6Net` keys (17 bytes; 160k prefixes).

use std::net::Ipv4Addr;

use clos_wire::{IpNet, Ipv4Net, Ipv6Net};
use rustc_hash::FxHashMap;

/// A packed IPv4 prefix: address in the high 32 bits, length in the low 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct V4Key(u64);

impl V4Key {
    fn new(p: &Ipv4Net) -> V4Key {
        V4Key(((u32::from(p.addr()) as u64) << 8) | p.prefix_len() as u64)
    }

    fn prefix(self) -> IpNet {
        let addr = Ipv4Addr::from((self.0 >> 8) as u32);
        // The length came from a valid Ipv4Net.
        IpNet::V4(Ipv4Net::new(addr, (self.0 & 0xff) as u8).unwrap_or_default())
    }
}

/// Prefix → `V`, split by family.
#[derive(Debug)]
pub struct PrefixMap<V> {
    v4: FxHashMap<V4Key, V>,
    v6: FxHashMap<Ipv6Net, V>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap {
            v4: FxHashMap::default(),
            v6: FxHashMap::default(),
        }
    }
}

impl<V: Default> PrefixMap<V> {
    pub fn entry_or_default(&mut self, prefix: IpNet) -> &mut V {
        match prefix {
            IpNet::V4(p) => self.v4.entry(V4Key::new(&p)).or_default(),
            IpNet::V6(p) => self.v6.entry(p).or_default(),
        }
    }
}

impl<V> PrefixMap<V> {
    pub fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(p) => self.v4.get(&V4Key::new(p)),
            IpNet::V6(p) => self.v6.get(p),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        match prefix {
            IpNet::V4(p) => self.v4.get_mut(&V4Key::new(p)),
            IpNet::V6(p) => self.v6.get_mut(p),
        }
    }

    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.remove(&V4Key::new(p)),
            IpNet::V6(p) => self.v6.remove(p),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.v4.values().chain(self.v6.values())
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.v4
            .keys()
            .map(|k| k.prefix())
            .chain(self.v6.keys().map(|p| IpNet::V6(*p)))
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        self.v4
            .iter()
            .map(|(k, v)| (k.prefix(), v))
            .chain(self.v6.iter().map(|(p, v)| (IpNet::V6(*p), v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (IpNet, &mut V)> {
        self.v4
            .iter_mut()
            .map(|(k, v)| (k.prefix(), v))
            .chain(self.v6.iter_mut().map(|(p, v)| (IpNet::V6(*p), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_round_trip_and_stay_distinct() {
        let mut m: PrefixMap<u32> = PrefixMap::default();
        let a: IpNet = "10.0.0.0/8".parse().unwrap();
        let b: IpNet = "10.0.0.0/16".parse().unwrap();
        let c: IpNet = "0.0.0.0/0".parse().unwrap();
        let d: IpNet = "2001:db8::/32".parse().unwrap();
        for (i, p) in [a, b, c, d].iter().enumerate() {
            *m.entry_or_default(*p) = i as u32;
        }
        assert_eq!(m.len(), 4);
        assert_eq!(m.get(&b), Some(&1));
        let mut keys: Vec<IpNet> = m.keys().collect();
        keys.sort();
        let mut want = vec![a, b, c, d];
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(m.remove(&a), Some(0));
        assert_eq!(m.get(&a), None);
    }
}
