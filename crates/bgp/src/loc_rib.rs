//! Loc-RIB storage: one map per address family, IPv4 split into an index
//! table and a dense, chunked slab.
//!
//! IPv4 (a full table is ~1M prefixes) is stored in two parts:
//!
//! - `table`: a `hashbrown::HashTable<u32>` whose buckets hold only the slab
//!   index of an entry (4 bytes + 1 control byte). The key is not stored in
//!   the table: lookups hash the prefix (FxHash of `address << 8 | length`),
//!   and the 7-bit tag in the control byte lets hashbrown compare the key in
//!   the slab almost only for the entry that really matches.
//! - `slab`: the keys and values in insertion order, dense (no holes), in
//!   chunks of 2^14 entries that are never moved once allocated, so growth
//!   neither copies nor doubles the slab. Each chunk keeps three parallel
//!   arrays: addresses (`u32`), lengths (`u8`) and values (`V`), i.e.
//!   5 + `size_of::<V>()` bytes per prefix. `remove` moves the last entry into
//!   the hole (one extra table probe to repoint its index) so the slab stays
//!   dense; iteration walks the slab chunk by chunk and an emptied slab gives
//!   its chunks back (one spare chunk is kept against churn at a boundary).
//!
//! Measured with 1M random IPv4 prefixes and a 32-byte `V` (`bench_1m_v4`
//! below, release build): the old `FxHashMap<u64 key, V>` had 2^21 buckets ×
//! (40 + 1) bytes = 86 MB, 86 B/prefix (RSS grew by 107 MB while filling it);
//! this layout has 2^21 × (4 + 1) bytes = 10.5 MB of table plus 62 chunks ×
//! 2^14 × (5 + 32) bytes = 37.6 MB of slab: 48.1 MB, 48 B/prefix, 44 % less
//! (RSS grew by 49.6 MB). From 0.92M to 1.84M prefixes the table stays at
//! 2^21 buckets, so a prefix costs 37 B plus its share of 10.5 MB.
//!
//! Time, same run (best of five): inserting 1M took 73 ms (old: 120 ms; the
//! table rehashes 5-byte buckets), iterating 1.1 ms (5.2 ms), but a random
//! `get` is one dependent memory access longer: 70 ns (35 ns); `remove` with
//! its second probe 180 ns (63 ns).
//!
//! A slab index is a `u32`: an IPv4 prefix beyond the 2^32nd panics (after
//! ~160 GB of slab) rather than wrap. IPv6 keeps an `FxHashMap<Ipv6Net, V>`
//! (17-byte keys; ~200k prefixes).

use std::fmt;
use std::hash::BuildHasher;
use std::net::Ipv4Addr;

use clos_wire::{IpNet, Ipv4Net, Ipv6Net};
use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use rustc_hash::{FxBuildHasher, FxHashMap};

/// Entries per slab chunk: 512 KiB of values at a 32-byte `V`.
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: usize = CHUNK - 1;

/// An IPv4 prefix as stored: address and length (the address keeps any host
/// bits, as `Ipv4Net` does, so `10.0.0.1/8` and `10.0.0.0/8` differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V4Key {
    addr: u32,
    len: u8,
}

impl V4Key {
    fn new(p: &Ipv4Net) -> V4Key {
        V4Key {
            addr: u32::from(p.addr()),
            len: p.prefix_len(),
        }
    }

    fn hash(self) -> u64 {
        FxBuildHasher.hash_one(((self.addr as u64) << 8) | self.len as u64)
    }

    fn prefix(self) -> IpNet {
        // The length came from a valid Ipv4Net.
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(self.addr), self.len).unwrap_or_default())
    }
}

/// `CHUNK` entries (the last chunk may hold fewer); the three arrays always
/// have the same length.
#[derive(Debug)]
struct Chunk<V> {
    addr: Vec<u32>,
    len: Vec<u8>,
    vals: Vec<V>,
}

impl<V> Chunk<V> {
    fn new() -> Self {
        Chunk {
            addr: Vec::with_capacity(CHUNK),
            len: Vec::with_capacity(CHUNK),
            vals: Vec::with_capacity(CHUNK),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        self.addr
            .iter()
            .zip(&self.len)
            .zip(&self.vals)
            .map(|((&addr, &len), v)| (V4Key { addr, len }.prefix(), v))
    }
}

/// Dense keys and values, addressed by a `u32` index `i`: chunk
/// `i >> CHUNK_BITS`, offset `i & CHUNK_MASK`. All chunks before the one
/// holding the last entry are full.
#[derive(Debug)]
struct Slab<V> {
    chunks: Vec<Chunk<V>>,
    len: usize,
}

impl<V> Default for Slab<V> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<V> Slab<V> {
    fn locate(i: u32) -> (usize, usize) {
        let i = i as usize;
        (i >> CHUNK_BITS, i & CHUNK_MASK)
    }

    fn key(&self, i: u32) -> V4Key {
        let (c, o) = Self::locate(i);
        let chunk = &self.chunks[c];
        V4Key {
            addr: chunk.addr[o],
            len: chunk.len[o],
        }
    }

    fn value(&self, i: u32) -> &V {
        let (c, o) = Self::locate(i);
        &self.chunks[c].vals[o]
    }

    fn value_mut(&mut self, i: u32) -> &mut V {
        let (c, o) = Self::locate(i);
        &mut self.chunks[c].vals[o]
    }

    /// Appends an entry and returns its index.
    fn push(&mut self, key: V4Key, value: V) -> u32 {
        let Ok(i) = u32::try_from(self.len) else {
            panic!("IPv4 Loc-RIB full: {} prefixes", self.len);
        };
        let (c, _) = Self::locate(i);
        if c == self.chunks.len() {
            self.chunks.push(Chunk::new());
        }
        let chunk = &mut self.chunks[c];
        chunk.addr.push(key.addr);
        chunk.len.push(key.len);
        chunk.vals.push(value);
        self.len += 1;
        i
    }

    /// Removes entry `i` by moving the last entry into its place; returns the
    /// value of `i`. The caller repoints the table from the old last index
    /// (`len()` after the call) to `i`.
    fn swap_remove(&mut self, i: u32) -> V {
        let last = self.len - 1;
        let (lc, _) = Self::locate(last as u32);
        let chunk = &mut self.chunks[lc];
        let (addr, len, mut value) = match (chunk.addr.pop(), chunk.len.pop(), chunk.vals.pop()) {
            (Some(a), Some(l), Some(v)) => (a, l, v),
            _ => unreachable!("slab chunk {lc} is empty below len {}", self.len),
        };
        self.len = last;
        if i as usize != last {
            let (c, o) = Self::locate(i);
            let chunk = &mut self.chunks[c];
            chunk.addr[o] = addr;
            chunk.len[o] = len;
            std::mem::swap(&mut chunk.vals[o], &mut value);
        }
        // Keep one empty chunk past the last entry's, no more.
        let needed = self.len.div_ceil(CHUNK);
        if self.chunks.len() > needed + 1 {
            self.chunks.truncate(needed + 1);
        }
        value
    }

    fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.chunks.iter().flat_map(|c| c.vals.iter())
    }
}

/// The IPv4 half: index table over the slab.
struct V4Map<V> {
    table: HashTable<u32>,
    slab: Slab<V>,
}

impl<V> V4Map<V> {
    fn new() -> Self {
        V4Map {
            table: HashTable::new(),
            slab: Slab::default(),
        }
    }

    fn find(&self, key: V4Key) -> Option<u32> {
        let slab = &self.slab;
        self.table
            .find(key.hash(), |&i| slab.key(i) == key)
            .copied()
    }

    fn get(&self, key: V4Key) -> Option<&V> {
        self.find(key).map(|i| self.slab.value(i))
    }

    fn get_mut(&mut self, key: V4Key) -> Option<&mut V> {
        self.find(key).map(|i| self.slab.value_mut(i))
    }

    fn entry_or_insert_with(&mut self, key: V4Key, f: impl FnOnce() -> V) -> &mut V {
        let slab = &self.slab;
        let i = match self
            .table
            .entry(key.hash(), |&i| slab.key(i) == key, |&i| slab.key(i).hash())
        {
            TableEntry::Occupied(e) => *e.get(),
            TableEntry::Vacant(e) => {
                let i = self.slab.push(key, f());
                e.insert(i);
                i
            }
        };
        self.slab.value_mut(i)
    }

    fn remove(&mut self, key: V4Key) -> Option<V> {
        let slab = &self.slab;
        let (i, _) = self
            .table
            .find_entry(key.hash(), |&i| slab.key(i) == key)
            .ok()?
            .remove();
        let value = self.slab.swap_remove(i);
        let moved = self.slab.len;
        if i as usize != moved {
            // The entry that was last now lives at `i`.
            let moved = moved as u32;
            let hash = self.slab.key(i).hash();
            match self.table.find_mut(hash, |&j| j == moved) {
                Some(j) => *j = i,
                None => unreachable!("slab entry {moved} has no table index"),
            }
        }
        Some(value)
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    /// Panics unless the table indexes every slab entry exactly once and the
    /// chunks are full up to the last entry's, with at most one spare after.
    #[cfg(test)]
    fn check(&self) {
        let n = self.slab.len;
        assert_eq!(self.table.len(), n);
        for i in 0..n as u32 {
            assert_eq!(self.find(self.slab.key(i)), Some(i));
        }
        let chunks = &self.slab.chunks;
        assert!(chunks.len() <= n.div_ceil(CHUNK) + 1);
        for (c, chunk) in chunks.iter().enumerate() {
            let want = n.saturating_sub(c * CHUNK).min(CHUNK);
            assert_eq!(chunk.addr.len(), want);
            assert_eq!(chunk.len.len(), want);
            assert_eq!(chunk.vals.len(), want);
            assert_eq!(chunk.vals.capacity(), CHUNK);
        }
    }

    /// Heap bytes by capacity: table buckets (index + control byte, plus
    /// one group of trailing control bytes) and slab chunks.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        let cap = self.table.capacity();
        let buckets = if cap == 0 {
            0
        } else {
            (cap * 8 / 7).next_power_of_two()
        };
        let table = if buckets == 0 {
            0
        } else {
            buckets * (std::mem::size_of::<u32>() + 1) + 16
        };
        let per_entry = std::mem::size_of::<u32>() + 1 + std::mem::size_of::<V>();
        table
            + self.slab.chunks.len() * CHUNK * per_entry
            + self.slab.chunks.capacity() * std::mem::size_of::<Chunk<V>>()
    }
}

/// Prefix → `V`, split by family.
pub struct PrefixMap<V> {
    v4: V4Map<V>,
    v6: FxHashMap<Ipv6Net, V>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap {
            v4: V4Map::new(),
            v6: FxHashMap::default(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for PrefixMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Default> PrefixMap<V> {
    pub fn entry_or_default(&mut self, prefix: IpNet) -> &mut V {
        match prefix {
            IpNet::V4(p) => self.v4.entry_or_insert_with(V4Key::new(&p), V::default),
            IpNet::V6(p) => self.v6.entry(p).or_default(),
        }
    }
}

impl<V> PrefixMap<V> {
    pub fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(p) => self.v4.get(V4Key::new(p)),
            IpNet::V6(p) => self.v6.get(p),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        match prefix {
            IpNet::V4(p) => self.v4.get_mut(V4Key::new(p)),
            IpNet::V6(p) => self.v6.get_mut(p),
        }
    }

    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.remove(V4Key::new(p)),
            IpNet::V6(p) => self.v6.remove(p),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.v4.slab.values().chain(self.v6.values())
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.iter().map(|(p, _)| p)
    }

    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        self.v4
            .slab
            .iter()
            .chain(self.v6.iter().map(|(p, v)| (IpNet::V6(*p), v)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::net::Ipv6Addr;
    use std::rc::Rc;

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// A random prefix: mostly IPv4 with any length 0..=32 (host bits kept
    /// or not), some IPv6. `space` bounds the addresses so keys repeat.
    fn random_prefix(seed: &mut u64, space: u32) -> IpNet {
        let r = xorshift(seed);
        let len = (r >> 40) as u8 % 33;
        let addr = Ipv4Addr::from((r as u32) % space);
        if (r >> 50) & 15 == 0 {
            let a = Ipv6Addr::from(0x2001_0db8_u128 << 96 | (r as u128 % space as u128) << 64);
            return IpNet::V6(Ipv6Net::new(a, 32 + len).unwrap());
        }
        let p = Ipv4Net::new(addr, len).unwrap();
        IpNet::V4(if (r >> 56) & 1 == 0 { p.trunc() } else { p })
    }

    /// Compares everything the map exposes with the model.
    fn assert_matches(m: &PrefixMap<u64>, model: &HashMap<IpNet, u64>) {
        m.v4.check();
        assert_eq!(m.len(), model.len());
        let iter: HashMap<IpNet, u64> = m.iter().map(|(p, v)| (p, *v)).collect();
        assert_eq!(&iter, model);
        let keys: HashSet<IpNet> = m.keys().collect();
        assert_eq!(keys.len(), m.len());
        assert_eq!(keys, model.keys().copied().collect());
        let mut values: Vec<u64> = m.values().copied().collect();
        let mut want: Vec<u64> = model.values().copied().collect();
        values.sort_unstable();
        want.sort_unstable();
        assert_eq!(values, want);
        for (p, v) in model {
            assert_eq!(m.get(p), Some(v), "{p}");
        }
    }

    #[test]
    fn packed_keys_round_trip_and_stay_distinct() {
        let mut m: PrefixMap<u32> = PrefixMap::default();
        let a = net("10.0.0.0/8");
        let b = net("10.0.0.0/16");
        let c = net("0.0.0.0/0");
        let d = net("2001:db8::/32");
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

    #[test]
    fn edge_lengths_and_host_bits_are_distinct_keys() {
        let keys = [
            "0.0.0.0/0",
            "0.0.0.0/32",
            "255.255.255.255/32",
            "255.255.255.255/0",
            "255.255.255.0/24",
            "10.0.0.0/8",
            "10.0.0.1/8",
            "::/0",
            "::/128",
        ]
        .map(net);
        let mut m: PrefixMap<u64> = PrefixMap::default();
        for (i, p) in keys.iter().enumerate() {
            *m.entry_or_default(*p) = i as u64;
        }
        assert_eq!(m.len(), keys.len());
        for (i, p) in keys.iter().enumerate() {
            assert_eq!(m.get(p), Some(&(i as u64)), "{p}");
        }
        let got: HashSet<IpNet> = m.keys().collect();
        assert_eq!(got, keys.iter().copied().collect());
        assert_eq!(m.get(&net("10.0.0.2/8")), None);
        assert_eq!(m.remove(&net("0.0.0.0/0")), Some(0));
        assert_eq!(m.remove(&net("0.0.0.0/0")), None);
        assert_eq!(m.get(&net("0.0.0.0/32")), Some(&1));
        assert_eq!(m.remove(&net("255.255.255.255/32")), Some(2));
        assert_eq!(m.get(&net("255.255.255.255/0")), Some(&3));
        assert_eq!(m.len(), keys.len() - 2);
        m.v4.check();
    }

    #[test]
    fn random_operations_match_a_hash_map() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let mut m: PrefixMap<u64> = PrefixMap::default();
        let mut model: HashMap<IpNet, u64> = HashMap::new();
        // Address spaces small enough that keys repeat, large enough that
        // the slab spans several chunks.
        for (space, ops) in [(64, 5_000), (1 << 12, 40_000), (1 << 16, 200_000)] {
            for op in 0..ops {
                let p = random_prefix(&mut seed, space);
                let r = xorshift(&mut seed);
                match r % 10 {
                    0..=4 => {
                        *m.entry_or_default(p) = r;
                        model.insert(p, r);
                    }
                    5..=6 => assert_eq!(m.remove(&p), model.remove(&p), "{p}"),
                    7 => {
                        if let Some(v) = m.get_mut(&p) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = model.get_mut(&p) {
                            *v = v.wrapping_add(1);
                        }
                    }
                    8 => {
                        let v = m.entry_or_default(p);
                        assert_eq!(*v, model.get(&p).copied().unwrap_or_default());
                        model.entry(p).or_default();
                    }
                    _ => assert_eq!(m.get(&p), model.get(&p), "{p}"),
                }
                if op % 10_000 == 0 {
                    let keys: Vec<IpNet> = m.keys().collect();
                    for p in keys {
                        *m.get_mut(&p).unwrap() ^= 0x5555;
                        *model.get_mut(&p).unwrap() ^= 0x5555;
                    }
                    assert_matches(&m, &model);
                }
            }
            assert_matches(&m, &model);
            // Drain to empty after the first phase, to a third after the others.
            let keep = if space == 64 { 0 } else { model.len() / 3 };
            let victims: Vec<IpNet> = model.keys().skip(keep).copied().collect();
            for p in victims {
                assert_eq!(m.remove(&p), model.remove(&p));
            }
            assert_matches(&m, &model);
        }
        assert!(m.v4.slab.chunks.len() > 1);
    }

    #[test]
    fn removed_slots_are_reused_and_chunks_released() {
        let n = 3 * CHUNK + 7;
        let prefix =
            |i: usize| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i as u32 * 256), 24).unwrap());
        let mut m: PrefixMap<u64> = PrefixMap::default();
        for i in 0..n {
            *m.entry_or_default(prefix(i)) = i as u64;
        }
        assert_eq!(m.v4.slab.chunks.len(), 4);
        for i in (0..n).step_by(2) {
            assert_eq!(m.remove(&prefix(i)), Some(i as u64));
        }
        assert_eq!(m.len(), n / 2);
        m.v4.check();
        // The freed half is filled again without a new chunk.
        for i in (0..n).step_by(2) {
            *m.entry_or_default(prefix(i + n)) = (i + n) as u64;
        }
        assert_eq!(m.len(), n);
        assert_eq!(m.v4.slab.chunks.len(), 4);
        m.v4.check();
        for i in (1..n).step_by(2) {
            assert_eq!(m.get(&prefix(i)), Some(&(i as u64)));
            assert_eq!(m.get(&prefix(i + n)), None);
        }
        for i in (0..n).step_by(2) {
            assert_eq!(m.get(&prefix(i)), None);
            assert_eq!(m.get(&prefix(i + n)), Some(&((i + n) as u64)));
        }
        let all: Vec<IpNet> = m.keys().collect();
        for p in &all {
            assert!(m.remove(p).is_some());
        }
        assert_eq!(m.len(), 0);
        assert_eq!(m.iter().count(), 0);
        assert!(m.v4.slab.chunks.len() <= 1);
        m.v4.check();
        *m.entry_or_default(prefix(1)) = 1;
        assert_eq!(m.get(&prefix(1)), Some(&1));
        m.v4.check();
    }

    #[test]
    fn values_are_returned_or_dropped_exactly_once() {
        let token = Rc::new(());
        let mut m: PrefixMap<Option<Rc<()>>> = PrefixMap::default();
        let n = CHUNK + 100;
        let prefix = |i: usize| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i as u32), 32).unwrap());
        for i in 0..n {
            *m.entry_or_default(prefix(i)) = Some(token.clone());
        }
        assert_eq!(Rc::strong_count(&token), n + 1);
        for i in 0..n / 2 {
            assert!(m.remove(&prefix(i * 2)).unwrap().is_some());
        }
        assert_eq!(Rc::strong_count(&token), n - n / 2 + 1);
        drop(m);
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[derive(Debug, Default, Clone, Copy, PartialEq)]
    struct V32([u64; 4]);

    fn rss_bytes() -> usize {
        let s = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Memory and time of 1M random IPv4 prefixes with a 32-byte value:
    /// `cargo test --release -p clos-bgp --lib loc_rib -- --ignored
    /// --nocapture --test-threads=1` (the RSS delta of the first round is the
    /// meaningful one; later rounds reuse freed heap).
    #[test]
    #[ignore]
    fn bench_1m_v4() {
        const N: usize = 1_000_000;
        assert_eq!(std::mem::size_of::<V32>(), 32);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(N);
        while keys.len() < N {
            let r = xorshift(&mut seed);
            let len = 16 + (r >> 40) as u8 % 9;
            let p = Ipv4Net::new(Ipv4Addr::from(r as u32), len).unwrap().trunc();
            if seen.insert(p) {
                keys.push(IpNet::V4(p));
            }
        }
        drop(seen);
        let mut lookup = keys.clone();
        for i in (1..lookup.len()).rev() {
            let j = xorshift(&mut seed) as usize % (i + 1);
            lookup.swap(i, j);
        }
        for round in 0..3 {
            let before = rss_bytes();
            let t = std::time::Instant::now();
            let mut m: PrefixMap<V32> = PrefixMap::default();
            for (i, k) in keys.iter().enumerate() {
                m.entry_or_default(*k).0[0] = i as u64;
            }
            let insert = t.elapsed();
            let rss = rss_bytes() - before;
            let heap = m.v4.heap_bytes();
            let t = std::time::Instant::now();
            let mut sum = 0u64;
            for k in &lookup {
                sum = sum.wrapping_add(m.get(k).unwrap().0[0]);
            }
            let get = t.elapsed();
            let t = std::time::Instant::now();
            let isum = m.values().fold(0u64, |a, v| a.wrapping_add(v.0[0]));
            let values = t.elapsed();
            assert_eq!(sum, isum);
            let t = std::time::Instant::now();
            for k in &lookup[..N / 2] {
                m.remove(k).unwrap();
            }
            let remove = t.elapsed();
            assert_eq!(m.len(), N / 2);
            eprintln!(
                "round {round}: heap {:.1} MB ({:.1} B/prefix), rss delta {:.1} MB, \
                 insert {insert:?}, get {get:?}, values {values:?}, remove half {remove:?}",
                heap as f64 / 1e6,
                heap as f64 / N as f64,
                rss as f64 / 1e6,
            );
        }
    }
}
