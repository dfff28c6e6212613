//! Loc-RIB storage: one map per address family, each an index table over a
//! dense, chunked slab.
//!
//! A full table is ~1M IPv4 and ~160k IPv6 prefixes. Each family
//! (`FamilyMap`, generic over the address: `u32` or `u128`) is stored in two
//! parts:
//!
//! - `table`: a `hashbrown::HashTable<u32>` whose buckets hold only the slab
//!   index of an entry (4 bytes + 1 control byte). The key is not stored in
//!   the table: lookups hash the prefix (FxHash of `address << 8 | length`
//!   for IPv4, of both address halves and the length for IPv6), and the
//!   7-bit tag in the control byte lets hashbrown compare the key in the
//!   slab almost only for the entry that really matches.
//! - `slab`: the keys and values in insertion order, dense (no holes), in
//!   chunks of 2^14 entries that are never moved once allocated, so growth
//!   neither copies nor doubles the slab. Each chunk keeps three parallel
//!   arrays: addresses (`u32` / `u128`), lengths (`u8`) and values (`V`),
//!   i.e. 5 (IPv4) or 17 (IPv6) + `size_of::<V>()` bytes per prefix. Only
//!   the first chunk starts small (16 entries) and doubles up to 2^14, so a
//!   map with a handful of prefixes (an unused family, a short Adj-RIB-Out
//!   batch) costs a few hundred bytes. `remove` moves the last entry into
//!   the hole (one extra table probe to repoint its index) so the slab stays
//!   dense; iteration walks the slab chunk by chunk and an emptied slab gives
//!   its chunks back (one spare chunk is kept against churn at a boundary).
//!
//! Measured with a 32-byte `V`, release build, best of five on a noisy
//! 2-core VM (`bench_1m_v4` and `bench_160k_v6` below; the former layout
//! with the same rounds, `bench_160k_v6_hash_map` as of commit 952cc0a):
//!
//! - IPv4, 1M random prefixes: the old `FxHashMap<u64 key, V>` had 2^21
//!   buckets × (40 + 1) bytes = 86 MB, 86 B/prefix (RSS grew by 107 MB while
//!   filling it); this layout has 2^21 × (4 + 1) bytes = 10.5 MB of table
//!   plus 62 chunks × 2^14 × (5 + 32) bytes = 37.6 MB of slab: 48.1 MB,
//!   48 B/prefix, 44 % less (RSS grew by 49.7 MB). From 0.92M to 1.84M
//!   prefixes the table stays at 2^21 buckets, so a prefix costs 37 B plus
//!   its share of 10.5 MB. Inserting 1M took 73–93 ms (old: 120 ms),
//!   iterating 1.0 ms (5.2 ms), a random `get` 70–85 ns (35 ns: one
//!   dependent memory access more), `remove` with its second probe
//!   180–250 ns (63 ns). (Run-to-run noise here is ±20 %.)
//! - IPv6, 160,147 random prefixes /29–/48: the old `FxHashMap<Ipv6Net, V>`
//!   had 2^18 buckets × (56 + 1) bytes = 14.9 MB, 93 B/prefix (RSS grew by
//!   20.6 MB: the old and the doubled table coexist while it rehashes); this
//!   layout has 2^18 × 5 bytes = 1.3 MB of table plus 10 chunks × 2^14 ×
//!   (17 + 32) bytes = 8.0 MB of slab: 9.3 MB, 58 B/prefix, 37 % less (RSS
//!   grew by 9.5 MB). Inserting took 9.0 ms (19.6 ms), iterating 0.10 ms
//!   (0.62 ms), a random `get` 37 ns (26 ns), `remove` 46–54 ns (26–31 ns).
//!
//! A slab index is a `u32`: a family's prefix beyond the 2^32nd panics
//! (after ~160 GB of slab) rather than wrap.

use std::fmt;
use std::hash::BuildHasher;
use std::iter::Zip;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::vec;

use clos_wire::{IpNet, Ipv4Net, Ipv6Net};
use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use rustc_hash::FxBuildHasher;

/// Entries per slab chunk: 512 KiB of values at a 32-byte `V`.
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: usize = CHUNK - 1;
/// The first chunk starts this small and doubles up to `CHUNK`, so a map
/// that only ever holds a few prefixes (an idle family, a short Adj-RIB-Out
/// batch) does not allocate a whole chunk.
const FIRST_CHUNK: usize = 16;

/// The address of a prefix as stored in the slab: `u32` for IPv4, `u128`
/// for IPv6. It keeps any host bits, as `Ipv4Net`/`Ipv6Net` do, so
/// `10.0.0.1/8` and `10.0.0.0/8` are different keys.
trait Addr: Copy + Eq {
    /// The family's name, for the overflow panic.
    const FAMILY: &'static str;
    fn hash(self, len: u8) -> u64;
    /// The length came from a valid prefix of the family.
    fn prefix(self, len: u8) -> IpNet;
}

impl Addr for u32 {
    const FAMILY: &'static str = "IPv4";

    fn hash(self, len: u8) -> u64 {
        FxBuildHasher.hash_one(((self as u64) << 8) | len as u64)
    }

    fn prefix(self, len: u8) -> IpNet {
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(self), len).unwrap_or_default())
    }
}

impl Addr for u128 {
    const FAMILY: &'static str = "IPv6";

    fn hash(self, len: u8) -> u64 {
        // Routed IPv6 prefixes carry their bits in the upper half; fold the
        // halves so both reach the bits hashbrown uses.
        let hi = (self >> 64) as u64;
        let lo = self as u64;
        FxBuildHasher.hash_one((hi, lo ^ len as u64))
    }

    fn prefix(self, len: u8) -> IpNet {
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(self), len).unwrap_or_default())
    }
}

/// A prefix as stored: address and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key<A> {
    addr: A,
    len: u8,
}

impl<A: Addr> Key<A> {
    fn hash(self) -> u64 {
        self.addr.hash(self.len)
    }
}

fn v4_key(p: &Ipv4Net) -> Key<u32> {
    Key {
        addr: u32::from(p.addr()),
        len: p.prefix_len(),
    }
}

fn v6_key(p: &Ipv6Net) -> Key<u128> {
    Key {
        addr: u128::from(p.addr()),
        len: p.prefix_len(),
    }
}

/// Up to `CHUNK` entries; the three arrays always have the same length.
#[derive(Debug)]
struct Chunk<A, V> {
    addr: Vec<A>,
    len: Vec<u8>,
    vals: Vec<V>,
}

impl<A: Addr, V> Chunk<A, V> {
    fn with_capacity(n: usize) -> Self {
        Chunk {
            addr: Vec::with_capacity(n),
            len: Vec::with_capacity(n),
            vals: Vec::with_capacity(n),
        }
    }

    /// Room for one more entry: only the first chunk can be short of
    /// `CHUNK`; it doubles (exactly, so it ends at `CHUNK`).
    fn grow(&mut self) {
        let cap = self.vals.capacity();
        if self.vals.len() == cap {
            let more = (cap * 2).clamp(FIRST_CHUNK, CHUNK) - self.vals.len();
            self.addr.reserve_exact(more);
            self.len.reserve_exact(more);
            self.vals.reserve_exact(more);
        }
    }

    fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        self.addr
            .iter()
            .zip(&self.len)
            .zip(&self.vals)
            .map(|((&addr, &len), v)| (addr.prefix(len), v))
    }
}

/// Dense keys and values, addressed by a `u32` index `i`: chunk
/// `i >> CHUNK_BITS`, offset `i & CHUNK_MASK`. All chunks before the one
/// holding the last entry are full.
#[derive(Debug)]
struct Slab<A, V> {
    chunks: Vec<Chunk<A, V>>,
    len: usize,
}

impl<A, V> Default for Slab<A, V> {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<A: Addr, V> Slab<A, V> {
    fn locate(i: u32) -> (usize, usize) {
        let i = i as usize;
        (i >> CHUNK_BITS, i & CHUNK_MASK)
    }

    fn key(&self, i: u32) -> Key<A> {
        let (c, o) = Self::locate(i);
        let chunk = &self.chunks[c];
        Key {
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
    fn push(&mut self, key: Key<A>, value: V) -> u32 {
        let Ok(i) = u32::try_from(self.len) else {
            panic!("{} Loc-RIB full: {} prefixes", A::FAMILY, self.len);
        };
        let (c, _) = Self::locate(i);
        if c == self.chunks.len() {
            let cap = if c == 0 { FIRST_CHUNK } else { CHUNK };
            self.chunks.push(Chunk::with_capacity(cap));
        }
        let chunk = &mut self.chunks[c];
        chunk.grow();
        chunk.addr.push(key.addr);
        chunk.len.push(key.len);
        chunk.vals.push(value);
        self.len += 1;
        i
    }

    /// Removes entry `i` by moving the last entry into its place; returns the
    /// value of `i`. The caller repoints the table from the old last index
    /// (`len` after the call) to `i`.
    #[inline]
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

/// One family: index table over the slab.
struct FamilyMap<A, V> {
    table: HashTable<u32>,
    slab: Slab<A, V>,
}

impl<A: Addr, V> FamilyMap<A, V> {
    fn new() -> Self {
        FamilyMap {
            table: HashTable::new(),
            slab: Slab::default(),
        }
    }

    #[inline]
    fn find(&self, key: Key<A>) -> Option<u32> {
        let slab = &self.slab;
        self.table
            .find(key.hash(), |&i| slab.key(i) == key)
            .copied()
    }

    fn get(&self, key: Key<A>) -> Option<&V> {
        self.find(key).map(|i| self.slab.value(i))
    }

    fn get_mut(&mut self, key: Key<A>) -> Option<&mut V> {
        self.find(key).map(|i| self.slab.value_mut(i))
    }

    /// The index of `key`, appended with `f()` if absent; true if it was.
    #[inline]
    fn entry(&mut self, key: Key<A>, f: impl FnOnce() -> V) -> (u32, bool) {
        let slab = &self.slab;
        match self
            .table
            .entry(key.hash(), |&i| slab.key(i) == key, |&i| slab.key(i).hash())
        {
            TableEntry::Occupied(e) => (*e.get(), true),
            TableEntry::Vacant(e) => {
                let i = self.slab.push(key, f());
                e.insert(i);
                (i, false)
            }
        }
    }

    fn entry_or_insert_with(&mut self, key: Key<A>, f: impl FnOnce() -> V) -> &mut V {
        let (i, _) = self.entry(key, f);
        self.slab.value_mut(i)
    }

    fn insert(&mut self, key: Key<A>, value: V) -> Option<V> {
        let mut value = Some(value);
        let (i, existed) = self.entry(key, || value.take().expect("taken once"));
        match value {
            Some(v) if existed => Some(std::mem::replace(self.slab.value_mut(i), v)),
            _ => None,
        }
    }

    #[inline]
    fn remove(&mut self, key: Key<A>) -> Option<V> {
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
            assert!(chunk.vals.capacity() <= CHUNK);
            if c > 0 || want == CHUNK {
                assert_eq!(chunk.vals.capacity(), CHUNK);
            }
        }
    }

    /// Heap bytes by capacity: table buckets (index + control byte, plus
    /// one group of trailing control bytes) and slab chunks.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let cap = self.table.capacity();
        let table = if cap == 0 {
            0
        } else {
            (cap * 8 / 7).next_power_of_two() * (size_of::<u32>() + 1) + 16
        };
        let slab: usize = self
            .slab
            .chunks
            .iter()
            .map(|c| {
                c.addr.capacity() * size_of::<A>()
                    + c.len.capacity()
                    + c.vals.capacity() * size_of::<V>()
            })
            .sum();
        table + slab + self.slab.chunks.capacity() * size_of::<Chunk<A, V>>()
    }
}

/// Prefix → `V`, one index table over a slab per family.
pub struct PrefixMap<V> {
    v4: FamilyMap<u32, V>,
    v6: FamilyMap<u128, V>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap {
            v4: FamilyMap::new(),
            v6: FamilyMap::new(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for PrefixMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Default> PrefixMap<V> {
    #[inline]
    pub fn entry_or_default(&mut self, prefix: IpNet) -> &mut V {
        match prefix {
            IpNet::V4(p) => self.v4.entry_or_insert_with(v4_key(&p), V::default),
            IpNet::V6(p) => self.v6.entry_or_insert_with(v6_key(&p), V::default),
        }
    }
}

impl<V> PrefixMap<V> {
    /// Sets the value of `prefix`, returning the one it replaced.
    #[inline]
    pub fn insert(&mut self, prefix: IpNet, value: V) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.insert(v4_key(&p), value),
            IpNet::V6(p) => self.v6.insert(v6_key(&p), value),
        }
    }

    #[inline]
    pub fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(p) => self.v4.get(v4_key(p)),
            IpNet::V6(p) => self.v6.get(v6_key(p)),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        match prefix {
            IpNet::V4(p) => self.v4.get_mut(v4_key(p)),
            IpNet::V6(p) => self.v6.get_mut(v6_key(p)),
        }
    }

    #[inline]
    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        match prefix {
            IpNet::V4(p) => self.v4.remove(v4_key(p)),
            IpNet::V6(p) => self.v6.remove(v6_key(p)),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes by capacity (see `FamilyMap::heap_bytes`).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.v4.slab.values().chain(self.v6.slab.values())
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.iter().map(|(p, _)| p)
    }

    /// IPv4 then IPv6, each in slab order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        self.v4.slab.iter().chain(self.v6.slab.iter())
    }
}

/// Consumes the map (IPv4 then IPv6, in slab order), freeing each slab
/// chunk once it is consumed.
impl<V> IntoIterator for PrefixMap<V> {
    type Item = (IpNet, V);
    type IntoIter = IntoIter<V>;

    fn into_iter(self) -> IntoIter<V> {
        IntoIter {
            v4: ChunksIntoIter::new(self.v4.slab),
            v6: ChunksIntoIter::new(self.v6.slab),
        }
    }
}

pub struct IntoIter<V> {
    v4: ChunksIntoIter<u32, V>,
    v6: ChunksIntoIter<u128, V>,
}

impl<V> Iterator for IntoIter<V> {
    type Item = (IpNet, V);

    fn next(&mut self) -> Option<(IpNet, V)> {
        self.v4.next().or_else(|| self.v6.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.v4.left + self.v6.left;
        (n, Some(n))
    }
}

type ChunkIntoIter<A, V> = Zip<Zip<vec::IntoIter<A>, vec::IntoIter<u8>>, vec::IntoIter<V>>;

struct ChunksIntoIter<A, V> {
    chunks: vec::IntoIter<Chunk<A, V>>,
    chunk: Option<ChunkIntoIter<A, V>>,
    left: usize,
}

impl<A: Addr, V> ChunksIntoIter<A, V> {
    fn new(slab: Slab<A, V>) -> Self {
        ChunksIntoIter {
            chunks: slab.chunks.into_iter(),
            chunk: None,
            left: slab.len,
        }
    }

    fn next(&mut self) -> Option<(IpNet, V)> {
        loop {
            if let Some(((addr, len), v)) = self.chunk.as_mut().and_then(Iterator::next) {
                self.left -= 1;
                return Some((addr.prefix(len), v));
            }
            let c = self.chunks.next()?;
            self.chunk = Some(c.addr.into_iter().zip(c.len).zip(c.vals));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{HashMap, HashSet};
    use std::net::Ipv6Addr;
    use std::rc::Rc;

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    pub(crate) fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// A random prefix: IPv4 with any length 0..=32 (host bits kept or
    /// not), or one time in four IPv6 with any length 32..=64 and addresses
    /// in the upper or the lower half. `space` bounds the addresses so keys
    /// repeat.
    fn random_prefix(seed: &mut u64, space: u32) -> IpNet {
        let r = xorshift(seed);
        let len = (r >> 40) as u8 % 33;
        let addr = Ipv4Addr::from((r as u32) % space);
        if (r >> 50) & 3 == 0 {
            let bits = r as u128 % space as u128;
            let shift = if (r >> 53) & 1 == 0 { 64 } else { 0 };
            let a = Ipv6Addr::from(0x2001_0db8_u128 << 96 | bits << shift);
            return IpNet::V6(Ipv6Net::new(a, 32 + len).unwrap());
        }
        let p = Ipv4Net::new(addr, len).unwrap();
        IpNet::V4(if (r >> 56) & 1 == 0 { p.trunc() } else { p })
    }

    fn check(m: &PrefixMap<u64>) {
        m.v4.check();
        m.v6.check();
    }

    /// Compares everything the map exposes with the model.
    fn assert_matches(m: &PrefixMap<u64>, model: &HashMap<IpNet, u64>) {
        check(m);
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
        assert_eq!(m.remove(&net("::/0")), Some(7));
        assert_eq!(m.get(&net("::/128")), Some(&8));
        assert_eq!(m.len(), keys.len() - 3);
        check(&m);
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
        assert!(m.v6.slab.chunks.len() > 1);
    }

    /// Chunk count of the family of `p`.
    fn chunks(m: &PrefixMap<u64>, p: &IpNet) -> usize {
        match p {
            IpNet::V4(_) => m.v4.slab.chunks.len(),
            IpNet::V6(_) => m.v6.slab.chunks.len(),
        }
    }

    fn removed_slots_case(prefix: impl Fn(usize) -> IpNet) {
        let n = 3 * CHUNK + 7;
        let p0 = prefix(0);
        let mut m: PrefixMap<u64> = PrefixMap::default();
        for i in 0..n {
            *m.entry_or_default(prefix(i)) = i as u64;
        }
        assert_eq!(chunks(&m, &p0), 4);
        for i in (0..n).step_by(2) {
            assert_eq!(m.remove(&prefix(i)), Some(i as u64));
        }
        assert_eq!(m.len(), n / 2);
        check(&m);
        // The freed half is filled again without a new chunk.
        for i in (0..n).step_by(2) {
            *m.entry_or_default(prefix(i + n)) = (i + n) as u64;
        }
        assert_eq!(m.len(), n);
        assert_eq!(chunks(&m, &p0), 4);
        check(&m);
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
        assert!(chunks(&m, &p0) <= 1);
        check(&m);
        *m.entry_or_default(prefix(1)) = 1;
        assert_eq!(m.get(&prefix(1)), Some(&1));
        check(&m);
    }

    #[test]
    fn removed_slots_are_reused_and_chunks_released() {
        removed_slots_case(|i| {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i as u32 * 256), 24).unwrap())
        });
    }

    #[test]
    fn removed_v6_slots_are_reused_and_chunks_released() {
        // Keys that differ only in the upper half, or only in the length.
        removed_slots_case(|i| {
            let a = Ipv6Addr::from(0x2a00_u128 << 112 | (i as u128 / 4) << 80);
            IpNet::V6(Ipv6Net::new(a, 45 + (i % 4) as u8).unwrap())
        });
    }

    /// `n` distinct random IPv4 prefixes /16–/24, as routed (host bits clear).
    pub(crate) fn random_v4(seed: &mut u64, n: usize) -> Vec<IpNet> {
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(n);
        while keys.len() < n {
            let r = xorshift(seed);
            let len = 16 + (r >> 40) as u8 % 9;
            let p = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(r as u32), len).unwrap().trunc());
            if seen.insert(p) {
                keys.push(p);
            }
        }
        keys
    }

    /// `n` distinct random IPv6 prefixes /29–/48, as routed (host bits clear).
    fn random_v6(seed: &mut u64, n: usize) -> Vec<IpNet> {
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(n);
        while keys.len() < n {
            let r = xorshift(seed);
            let len = 29 + (r >> 56) as u8 % 20;
            let a = Ipv6Addr::from(0x2000_u128 << 112 | ((r as u128) << 64));
            let p = IpNet::V6(Ipv6Net::new(a, len).unwrap().trunc());
            if seen.insert(p) {
                keys.push(p);
            }
        }
        keys
    }

    #[test]
    fn full_v6_table_matches_a_hash_map() {
        let mut seed = 0x853c_49e6_748f_ea9b;
        let keys = random_v6(&mut seed, 160_147);
        let mut m: PrefixMap<u64> = PrefixMap::default();
        let mut model: HashMap<IpNet, u64> = HashMap::new();
        for (i, p) in keys.iter().enumerate() {
            assert_eq!(m.insert(*p, i as u64), None);
            model.insert(*p, i as u64);
        }
        assert_eq!(m.v6.slab.chunks.len(), 160_147usize.div_ceil(CHUNK));
        assert_eq!(m.v4.slab.chunks.len(), 0);
        assert_matches(&m, &model);
        // Remove a random two thirds (each removal repoints the last entry,
        // across chunk boundaries), overwrite some survivors, refill.
        for (i, p) in keys.iter().enumerate() {
            match xorshift(&mut seed) % 3 {
                0 => {
                    assert_eq!(m.insert(*p, !(i as u64)), Some(model[p]));
                    model.insert(*p, !(i as u64));
                }
                _ => assert_eq!(m.remove(p), model.remove(p), "{p}"),
            }
            if i % 40_000 == 0 {
                check(&m);
            }
        }
        assert_matches(&m, &model);
        assert!(m.v6.slab.chunks.len() <= model.len().div_ceil(CHUNK) + 1);
        for (i, p) in random_v6(&mut seed, 50_000).into_iter().enumerate() {
            *m.entry_or_default(p) = i as u64;
            model.insert(p, i as u64);
        }
        assert_matches(&m, &model);
        let drained: HashMap<IpNet, u64> = m.into_iter().collect();
        assert_eq!(drained, model);
    }

    #[test]
    fn small_maps_grow_the_first_chunk() {
        let mut m: PrefixMap<u64> = PrefixMap::default();
        assert_eq!(m.v4.heap_bytes() + m.v6.heap_bytes(), 0);
        *m.entry_or_default(net("10.0.0.0/8")) = 1;
        assert_eq!(m.v4.slab.chunks[0].vals.capacity(), FIRST_CHUNK);
        assert!(m.v4.heap_bytes() < 1024, "{}", m.v4.heap_bytes());
        for i in 0..CHUNK as u32 + 1 {
            m.insert(IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i), 32).unwrap()), 0);
        }
        assert_eq!(m.v4.slab.chunks.len(), 2);
        check(&m);
    }

    #[test]
    fn insert_and_into_iter() {
        let mut m: PrefixMap<Option<Rc<u32>>> = PrefixMap::default();
        let a = Rc::new(1);
        assert!(m.is_empty());
        assert_eq!(m.insert(net("10.0.0.0/8"), Some(a.clone())), None);
        assert_eq!(m.insert(net("10.0.0.0/8"), None), Some(Some(a.clone())));
        assert_eq!(m.insert(net("2001:db8::/32"), Some(a.clone())), None);
        assert_eq!(m.insert(net("10.1.0.0/16"), Some(a.clone())), None);
        assert_eq!(m.len(), 3);
        assert_eq!(Rc::strong_count(&a), 3);
        let mut it = m.into_iter();
        assert_eq!(it.size_hint(), (3, Some(3)));
        assert_eq!(it.next(), Some((net("10.0.0.0/8"), None)));
        assert_eq!(it.size_hint(), (2, Some(2)));
        drop(it);
        assert_eq!(Rc::strong_count(&a), 1);
        let mut m: PrefixMap<u64> = PrefixMap::default();
        let mut want = Vec::new();
        for i in 0..CHUNK as u32 + 3 {
            let p = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i << 8), 24).unwrap());
            m.insert(p, i as u64);
            want.push((p, i as u64));
        }
        let p6 = net("2001:db8::/48");
        m.insert(p6, 7);
        want.push((p6, 7));
        // IPv4 then IPv6, in slab (here: insertion) order.
        assert_eq!(m.into_iter().collect::<Vec<_>>(), want);
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

    /// Resident bytes of this process, for the benchmarks' RSS deltas.
    pub(crate) fn rss_bytes() -> usize {
        let s = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Shuffled copy of `keys`, for lookups in random order.
    fn shuffled(keys: &[IpNet], seed: &mut u64) -> Vec<IpNet> {
        let mut lookup = keys.to_vec();
        for i in (1..lookup.len()).rev() {
            let j = xorshift(seed) as usize % (i + 1);
            lookup.swap(i, j);
        }
        lookup
    }

    /// Three rounds of: insert `keys`, look all up in random order, iterate,
    /// remove half; prints heap (by capacity), RSS delta and times.
    fn bench(keys: &[IpNet], seed: &mut u64) {
        let n = keys.len();
        assert_eq!(std::mem::size_of::<V32>(), 32);
        let lookup = shuffled(keys, seed);
        for round in 0..3 {
            let before = rss_bytes();
            let t = std::time::Instant::now();
            let mut m: PrefixMap<V32> = PrefixMap::default();
            for (i, k) in keys.iter().enumerate() {
                m.entry_or_default(*k).0[0] = i as u64;
            }
            let insert = t.elapsed();
            let rss = rss_bytes() - before;
            let heap = m.v4.heap_bytes() + m.v6.heap_bytes();
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
            for k in &lookup[..n / 2] {
                m.remove(k).unwrap();
            }
            let remove = t.elapsed();
            assert_eq!(m.len(), n - n / 2);
            eprintln!(
                "round {round}: heap {:.2} MB ({:.1} B/prefix), rss delta {:.2} MB, \
                 insert {insert:?}, get {get:?}, values {values:?}, remove half {remove:?}",
                heap as f64 / 1e6,
                heap as f64 / n as f64,
                rss as f64 / 1e6,
            );
        }
    }

    /// Memory and time of 1M random IPv4 prefixes with a 32-byte value:
    /// `cargo test --release -p clos-bgp --lib loc_rib -- --ignored
    /// --nocapture --test-threads=1` (the RSS delta of the first round is the
    /// meaningful one; later rounds reuse freed heap).
    #[test]
    #[ignore]
    fn bench_1m_v4() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let keys = random_v4(&mut seed, 1_000_000);
        bench(&keys, &mut seed);
    }

    /// The same for a full IPv6 table, 160,147 random prefixes /29–/48.
    #[test]
    #[ignore]
    fn bench_160k_v6() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let keys = random_v6(&mut seed, 160_147);
        bench(&keys, &mut seed);
    }
}
