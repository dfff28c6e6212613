//! The lookup structure: a 16-bit direct first level over popcount-compressed
//! 8-bit chunks ("DIR-16-8-8…" with Poptrie-style leaf compression).
//!
//! Owns the memory layout, the bulk build, single and batched lookups, and
//! the in-place rebuild of one subtree that incremental updates use. It does
//! not own concurrency (see [`crate::concurrent`]): a `Table` is mutated only
//! by the writer on a copy no reader can see.
//!
//! # Layout
//! ```text
//!  level 1: [u32; 65536]  indexed by the first 16 address bits
//!           entry = leaf (0: no route, v+1: next hop v)
//!                 | CHILD | offset of a chunk in `arena`
//!  chunk (8-bit stride, 256 slots), in `arena: Vec<u32>` at `b`:
//!     b+0..b+8   256-bit bitmap: bit s set where slot s starts a new run
//!     b+8..b+10  8 bytes: popcount of the bitmap words before word w
//!     b+10..     one entry per run (leaf or CHILD|offset), same encoding
//! ```
//! Slot `s` resolves to `arena[b + 10 + cum[s/32] + popcount(word & mask(s)) - 1]`:
//! two loads from the chunk's first cache line (independent of each other),
//! then the entry. Leaf pushing makes every entry final for its range, so a
//! lookup stops at the first leaf. IPv4 needs at most 3 dependent loads
//! (16 + 8 + 8 bits); IPv6 at most 15.
//!
//! A run of equal slots is stored once, which is what makes the tier-1 IPv4
//! table fit in a few MiB (see the crate docs for figures). A child pointer
//! is unique, so the entry word of a child is owned by exactly one slot and
//! can be overwritten in place when that subtree is rebuilt.

use std::marker::PhantomData;

use crate::prefix::{Address, Route};
use crate::rib::Rib;

/// Returned by the raw lookups when no route matches.
pub const NO_ROUTE: u32 = u32::MAX;

const CHILD: u32 = 1 << 31;
const HEADER_WORDS: usize = 10;
/// The arena starts with a valid one-run chunk whose entry is "no route".
/// Branch-free batched lookups resolve leaves through it (and discard the
/// result) instead of taking a hard-to-predict branch per address per level.
const DUMMY_CHUNK: [u32; HEADER_WORDS + 1] = [1, 0, 0, 0, 0, 0, 0, 0, 0x0101_0100, 0x0101_0101, 0];

/// Arena words reserved for a chunk of `runs` entries: rounded up to 8
/// words so that a chunk that gains or loses a run on update usually fits
/// the block it was freed from (exact sizes fragmented the arena to twice
/// its size over 100k updates; rounding keeps it near the built size).
#[inline]
fn block_words(runs: usize) -> usize {
    (HEADER_WORDS + runs + 7) & !7
}

/// Where an entry lives, so a rebuilt subtree can be linked in place.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Level1(usize),
    Arena(usize),
}

/// Compressed longest-prefix-match table for one address family.
#[derive(Clone, Debug)]
pub struct Table<A: Address> {
    level1: Box<[u32; 1 << 16]>,
    arena: Vec<u32>,
    /// Freed chunks by size in words; a rebuild reuses exact sizes first.
    free: Vec<Vec<u32>>,
    free_words: usize,
    _family: PhantomData<A>,
}

/// Size and shape figures of a [`Table`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableStats {
    /// Bytes of the lookup structure (level 1 + arena in use + free space).
    pub memory_bytes: usize,
    /// Number of chunks.
    pub chunks: usize,
    /// Number of stored entries (runs) across chunks.
    pub entries: usize,
    /// Arena words on free lists (reusable, counted in `memory_bytes`).
    pub free_words: usize,
}

impl<A: Address> Table<A> {
    /// An empty table (every lookup misses).
    pub fn new() -> Self {
        Table {
            level1: vec![0; 1 << 16]
                .into_boxed_slice()
                .try_into()
                .expect("65536 entries"),
            arena: DUMMY_CHUNK.to_vec(),
            free: vec![Vec::new(); block_words(256) + 1],
            free_words: 0,
            _family: PhantomData,
        }
    }

    /// Builds a table from routes in any order; for duplicate prefixes the
    /// last one wins. Next-hop ids must be `<= MAX_NEXTHOP` (the table
    /// parser and [`crate::FibWriter`] check this).
    pub fn build(routes: &[Route<A>]) -> Self {
        let mut sorted = routes.to_vec();
        // Stable: among duplicates, the later one stays later.
        sorted.sort_by_key(Route::key);
        let mut canonical: Vec<Route<A>> = Vec::with_capacity(sorted.len());
        for r in sorted {
            match canonical.last_mut() {
                Some(last) if last.key() == r.key() => *last = r,
                _ => canonical.push(r),
            }
        }
        Self::build_sorted(&canonical)
    }

    /// Builds from routes sorted by (address, length) without duplicates.
    pub(crate) fn build_sorted(routes: &[Route<A>]) -> Self {
        let mut t = Table::new();
        // Routes of /16 or shorter paint level 1. (address, length) order
        // paints every prefix before the prefixes it contains.
        for r in routes.iter().filter(|r| r.prefix.len() <= 16) {
            let first = r.prefix.addr().top16();
            let count = 1usize << (16 - r.prefix.len());
            t.level1[first..first + count].fill(r.nexthop + 1);
        }
        let deeper: Vec<Route<A>> = routes
            .iter()
            .filter(|r| r.prefix.len() > 16)
            .copied()
            .collect();
        for group in deeper.chunk_by(|a, b| a.prefix.addr().top16() == b.prefix.addr().top16()) {
            let slot = group[0].prefix.addr().top16();
            t.level1[slot] = t.build_subtree(group, 16, t.level1[slot]);
        }
        t.arena.shrink_to_fit();
        t
    }

    /// Builds the subtree for a span at `depth` from the routes strictly
    /// inside it (sorted), with `default` as the entry for uncovered
    /// addresses. Returns a leaf when the span needs no chunk.
    fn build_subtree(&mut self, routes: &[Route<A>], depth: u8, default: u32) -> u32 {
        if routes.is_empty() {
            return default;
        }
        let end = depth + 8;
        let mut slots = [default; 256];
        for r in routes.iter().filter(|r| r.prefix.len() <= end) {
            let first = r.prefix.addr().stride(depth);
            let count = 1usize << (end - r.prefix.len());
            slots[first..first + count].fill(r.nexthop + 1);
        }
        // Within one slot's group, routes that end in this chunk sort first
        // (they start at the slot's first address and are shortest).
        for group in
            routes.chunk_by(|a, b| a.prefix.addr().stride(depth) == b.prefix.addr().stride(depth))
        {
            let deeper_from = group.partition_point(|r| r.prefix.len() <= end);
            if deeper_from < group.len() {
                let s = group[0].prefix.addr().stride(depth);
                slots[s] = self.build_subtree(&group[deeper_from..], end, slots[s]);
            }
        }
        self.store_chunk(&slots)
    }

    /// Compresses 256 slot entries into runs and stores them as a chunk.
    fn store_chunk(&mut self, slots: &[u32; 256]) -> u32 {
        let mut bitmap = [0u32; 8];
        let mut runs = [0u32; 256];
        let mut n = 0;
        for s in 0..256 {
            if s == 0 || slots[s] != slots[s - 1] {
                bitmap[s >> 5] |= 1 << (s & 31);
                runs[n] = slots[s];
                n += 1;
            }
        }
        if n == 1 && slots[0] & CHILD == 0 {
            // Every slot resolves to the same next hop: no chunk needed.
            return slots[0];
        }
        let mut cum = [0u8; 8];
        for w in 1..8 {
            cum[w] = cum[w - 1] + bitmap[w - 1].count_ones() as u8;
        }
        let b = self.alloc(block_words(n));
        self.arena[b..b + 8].copy_from_slice(&bitmap);
        self.arena[b + 8] = u32::from_le_bytes([cum[0], cum[1], cum[2], cum[3]]);
        self.arena[b + 9] = u32::from_le_bytes([cum[4], cum[5], cum[6], cum[7]]);
        self.arena[b + HEADER_WORDS..b + HEADER_WORDS + n].copy_from_slice(&runs[..n]);
        assert!(b < CHILD as usize, "FIB arena exceeds 2^31 words");
        b as u32 | CHILD
    }

    fn alloc(&mut self, words: usize) -> usize {
        if let Some(b) = self.free[words].pop() {
            self.free_words -= words;
            return b as usize;
        }
        let b = self.arena.len();
        if b + words > self.arena.capacity() {
            // Grow by an eighth, not the default doubling: after a build the
            // arena is exact, and updates add little.
            self.arena
                .reserve_exact(words.max(self.arena.capacity() / 8));
        }
        self.arena.resize(b + words, 0);
        b
    }

    /// Number of runs stored in the chunk at `b`.
    fn chunk_runs(&self, b: usize) -> usize {
        (self.arena[b + 9] >> 24) as usize + self.arena[b + 7].count_ones() as usize
    }

    /// Returns a subtree's chunks to the free lists.
    fn free_subtree(&mut self, entry: u32) {
        if entry & CHILD == 0 {
            return;
        }
        let b = (entry ^ CHILD) as usize;
        let n = self.chunk_runs(b);
        for i in 0..n {
            let e = self.arena[b + HEADER_WORDS + i];
            self.free_subtree(e);
        }
        self.free[block_words(n)].push(b as u32);
        self.free_words += block_words(n);
    }

    /// Arena index of the entry that slot `s` of the chunk at `b` resolves to.
    #[inline(always)]
    fn slot_index(&self, b: usize, s: usize) -> usize {
        let w = s >> 5;
        let bits = self.arena[b + w];
        let cum = (self.arena[b + 8 + (w >> 2)] >> ((w & 3) * 8)) & 0xff;
        let below = bits & (u32::MAX >> (31 - (s & 31)));
        b + HEADER_WORDS + (cum + below.count_ones()) as usize - 1
    }

    /// Longest-prefix match: the next-hop id, or `None`.
    #[inline]
    pub fn lookup(&self, addr: A) -> Option<u32> {
        let r = self.lookup_raw(addr);
        (r != NO_ROUTE).then_some(r)
    }

    /// Longest-prefix match returning [`NO_ROUTE`] on a miss.
    #[inline(always)]
    pub fn lookup_raw(&self, addr: A) -> u32 {
        let mut e = self.level1[addr.top16()];
        let mut depth = 16;
        while e & CHILD != 0 {
            let i = self.slot_index_unchecked((e ^ CHILD) as usize, addr.stride(depth));
            // SAFETY: `slot_index_unchecked` returns an index inside `arena`.
            #[allow(unsafe_code)]
            let next = unsafe { *self.arena.get_unchecked(i) };
            e = next;
            depth += 8;
        }
        e.wrapping_sub(1)
    }

    /// Batched longest-prefix match: `out[i]` is the next hop of `addrs[i]`
    /// or [`NO_ROUTE`].
    ///
    /// Groups of 16 addresses go through a three-stage software pipeline so
    /// that the cache misses of about 48 lookups overlap: stage A reads the
    /// level-1 entries of group k+2 and prefetches the chunk-header words they
    /// need; stage B computes the entry index in group k+1's chunks and
    /// prefetches the entry; stage C reads group k's entries and finishes the
    /// rare lookups that go deeper than one chunk one at a time. Leaves run
    /// through the dummy chunk at offset 0 instead of branching.
    ///
    /// Panics if `out` is shorter than `addrs`.
    #[allow(unsafe_code)]
    pub fn lookup_batch(&self, addrs: &[A], out: &mut [u32]) {
        const G: usize = 16;
        assert!(out.len() >= addrs.len(), "output shorter than input");
        let groups = addrs.len() / G;
        let mut a_entry = [0u32; G];
        let mut b_entry = [0u32; G];
        let mut b_index = [0usize; G];
        // SAFETY: every unchecked index below is either `base + i` with
        // `base + i < groups * G <= addrs.len() <= out.len()`, `top16()` of an
        // address (< 2^16 = level1.len()), or an arena index produced by
        // `slot_index_unchecked` (see its invariant).
        for k in 0..groups + 2 {
            if k >= 2 {
                let base = (k - 2) * G;
                for i in 0..G {
                    let e = b_entry[i];
                    let mut r = if e & CHILD != 0 {
                        unsafe { *self.arena.get_unchecked(b_index[i]) }
                    } else {
                        e
                    };
                    if r & CHILD != 0 {
                        let a = addrs[base + i];
                        let mut depth = 24;
                        while r & CHILD != 0 {
                            let ix =
                                self.slot_index_unchecked((r ^ CHILD) as usize, a.stride(depth));
                            r = unsafe { *self.arena.get_unchecked(ix) };
                            depth += 8;
                        }
                    }
                    unsafe {
                        *out.get_unchecked_mut(base + i) = r.wrapping_sub(1);
                    }
                }
            }
            if k >= 1 && k <= groups {
                let base = (k - 1) * G;
                for i in 0..G {
                    let e = a_entry[i];
                    b_entry[i] = e;
                    // Most random addresses end at the first level: skip
                    // the chunk arithmetic and the prefetch for them.
                    if e & CHILD != 0 {
                        let ix = self
                            .slot_index_unchecked((e ^ CHILD) as usize, addrs[base + i].stride(16));
                        b_index[i] = ix;
                        prefetch(&self.arena, ix);
                    }
                }
            }
            if k < groups {
                let base = k * G;
                for i in 0..G {
                    let e = self.level1[addrs[base + i].top16()];
                    a_entry[i] = e;
                    let b = if e & CHILD != 0 {
                        (e ^ CHILD) as usize
                    } else {
                        0
                    };
                    prefetch(&self.arena, b + (addrs[base + i].stride(16) >> 5));
                }
            }
        }
        for i in groups * G..addrs.len() {
            out[i] = self.lookup_raw(addrs[i]);
        }
    }

    /// [`Self::slot_index`] without bounds checks, for the lookup paths.
    ///
    /// SAFETY (invariant of `Table`): `b` is 0 (the dummy chunk) or was taken
    /// from a CHILD entry reachable from `level1`, and every such entry is the
    /// offset of a complete chunk written by `store_chunk` inside `arena`
    /// (the arena never shrinks; chunks are only freed after the entry that
    /// points to them has been replaced, on a table no reader can see). A
    /// chunk's bitmap has bit 0 set and its `cum` bytes count the bits of
    /// the earlier words, so the index is at most `b + HEADER_WORDS + runs
    /// - 1`, inside the chunk. `s < 256` because it comes from `stride`.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn slot_index_unchecked(&self, b: usize, s: usize) -> usize {
        debug_assert!(b + HEADER_WORDS < self.arena.len() && s < 256);
        let w = s >> 5;
        let bits = unsafe { *self.arena.get_unchecked(b + w) };
        let cum = (unsafe { *self.arena.get_unchecked(b + 8 + (w >> 2)) } >> ((w & 3) * 8)) & 0xff;
        let below = bits & (u32::MAX >> (31 - (s & 31)));
        let i = b + HEADER_WORDS + (cum + below.count_ones()) as usize - 1;
        debug_assert!(i < self.arena.len());
        i
    }

    /// True when more than a third of the arena is on free lists, so that a
    /// fresh build would be markedly smaller.
    pub(crate) fn fragmented(&self) -> bool {
        self.free_words * 3 > self.arena.len()
    }

    /// Size figures.
    pub fn stats(&self) -> TableStats {
        let mut chunks = 0;
        let mut entries = 0;
        for &e in self.level1.iter() {
            self.count(e, &mut chunks, &mut entries);
        }
        TableStats {
            memory_bytes: self.memory_bytes(),
            chunks,
            entries,
            free_words: self.free_words,
        }
    }

    fn count(&self, e: u32, chunks: &mut usize, entries: &mut usize) {
        if e & CHILD == 0 {
            return;
        }
        let b = (e ^ CHILD) as usize;
        let n = self.chunk_runs(b);
        *chunks += 1;
        *entries += n;
        for i in 0..n {
            self.count(self.arena[b + HEADER_WORDS + i], chunks, entries);
        }
    }

    /// Heap bytes of the lookup structure (what a reader's cache sees, plus
    /// free space inside the arena).
    pub fn memory_bytes(&self) -> usize {
        self.level1.len() * 4
            + self.arena.capacity() * 4
            + self.free.iter().map(|f| f.capacity() * 4).sum::<usize>()
    }

    fn get(&self, slot: Slot) -> u32 {
        match slot {
            Slot::Level1(i) => self.level1[i],
            Slot::Arena(i) => self.arena[i],
        }
    }

    fn set(&mut self, slot: Slot, entry: u32) {
        match slot {
            Slot::Level1(i) => self.level1[i] = entry,
            Slot::Arena(i) => self.arena[i] = entry,
        }
    }

    /// Re-derives, from `rib`, every entry that a change of `changed` can
    /// affect. Runs only on a table no reader can see.
    pub(crate) fn refresh(&mut self, rib: &Rib<A>, changed: crate::Prefix<A>) {
        let leaf = |v: Option<u32>| v.map_or(0, |v| v + 1);
        let (addr, len) = (changed.addr(), changed.len());
        if len <= 16 {
            // Repaint the level-1 slots the prefix spans, then rebuild each
            // slot's subtree under its (possibly new) covering route.
            let first = addr.top16();
            let count = 1usize << (16 - len);
            let mut painted = vec![leaf(rib.covering(addr, len)); count];
            for r in rib.within(addr, len).filter(|r| r.prefix.len() <= 16) {
                let from = r.prefix.addr().top16() - first;
                painted[from..from + (1 << (16 - r.prefix.len()))].fill(r.nexthop + 1);
            }
            for (i, &default) in painted.iter().enumerate() {
                let span = A::from_top16(first + i);
                if self.level1[first + i] & CHILD != 0 || rib.has_within(span, 16) {
                    self.rebuild(rib, Slot::Level1(first + i), span, 16, default);
                } else {
                    self.level1[first + i] = default;
                }
            }
            return;
        }
        // Walk to the deepest chunk whose stride contains the prefix's end.
        let mut at = Slot::Level1(addr.top16());
        let mut parent = None;
        let mut depth = 16;
        let mut e = self.get(at);
        while e & CHILD != 0 && depth + 8 < len {
            let i = self.slot_index((e ^ CHILD) as usize, addr.stride(depth));
            parent = Some((at, depth));
            at = Slot::Arena(i);
            e = self.arena[i];
            depth += 8;
        }
        if e & CHILD == 0 {
            // A leaf inside a chunk may be shared by a run of slots: rebuild
            // the chunk that holds it instead.
            if let (Slot::Arena(_), Some((p, d))) = (at, parent) {
                at = p;
                depth = d;
            }
        }
        let span = addr.masked(depth);
        let default = leaf(rib.covering(span, depth));
        self.rebuild(rib, at, span, depth, default);
    }

    fn rebuild(&mut self, rib: &Rib<A>, at: Slot, span: A, depth: u8, default: u32) {
        let old = self.get(at);
        self.free_subtree(old);
        let routes: Vec<Route<A>> = rib.within(span, depth).collect();
        let entry = self.build_subtree(&routes, depth, default);
        self.set(at, entry);
    }
}

impl<A: Address> Default for Table<A> {
    fn default() -> Self {
        Self::new()
    }
}

/// Hints the CPU to start loading `slice[i]`'s cache line.
#[inline(always)]
fn prefetch(slice: &[u32], i: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, has no effect on
    // program state, and is defined for any address. `wrapping_add` keeps the
    // pointer arithmetic itself free of undefined behaviour for any `i`.
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(slice.as_ptr().wrapping_add(i).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}
