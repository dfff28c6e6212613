//! The monitors' prefix table: open addressing over one flat array,
//! updated in batches with software prefetch.
//!
//! Owns: prefix → (expected id, current id) for the prefixes a run knows
//! in advance. The set of keys is fixed when the table is built (phases
//! only change values), so there is no deletion and no resize: a slot
//! array of twice the key count, linear probing, one 32-byte slot per key.
//!
//! Why not `HashMap`: with a million keys every update is a DRAM miss
//! (two, for hashbrown's control bytes and slot), and the monitor did
//! little else. Updates arrive in batches (everything one `read` brought),
//! so [`PrefixTable::apply_batch`] prefetches the home slot of update
//! `i + DISTANCE` while applying update `i`: the misses overlap.

use crate::util::Prefix;

/// How far ahead to prefetch (updates).
const DISTANCE: usize = 16;
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Slot {
    hi: u64,
    lo: u64,
    /// Prefix length, or `EMPTY`.
    len: u32,
    expected: u32,
    current: u32,
}

const VACANT: Slot = Slot {
    hi: 0,
    lo: 0,
    len: EMPTY,
    expected: 0,
    current: 0,
};

/// See the module docs.
pub struct PrefixTable {
    slots: Vec<Slot>,
    shift: u32,
    keys: usize,
    /// Slots whose current id equals their expected id.
    matching: usize,
}

#[inline]
fn split(p: Prefix) -> (u64, u64, u32) {
    ((p.bits >> 64) as u64, p.bits as u64, u32::from(p.len))
}

#[inline]
fn hash(hi: u64, lo: u64, len: u32) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let h =
        (lo ^ u64::from(len).rotate_left(40)).wrapping_mul(K) ^ hi.wrapping_mul(K.rotate_left(17));
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

#[inline]
fn prefetch(slot: &Slot) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint: it never faults and never changes
        // memory; the pointer comes from a live reference anyway. SSE is
        // part of the x86_64 baseline, so the target feature is present.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot).cast::<i8>())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

impl PrefixTable {
    /// A table holding `keys` with their expected ids and current id
    /// `none`.
    pub fn new(keys: &[(Prefix, u32)], none: u32) -> PrefixTable {
        let cap = (keys.len() * 2).next_power_of_two().max(16);
        let mut t = PrefixTable {
            slots: vec![VACANT; cap],
            shift: 64 - cap.trailing_zeros(),
            keys: 0,
            matching: 0,
        };
        for &(p, id) in keys {
            t.insert(p, id, none);
        }
        t
    }

    #[inline]
    fn home(&self, hi: u64, lo: u64, len: u32) -> usize {
        (hash(hi, lo, len) >> self.shift) as usize
    }

    #[inline]
    fn find(&self, p: Prefix) -> Option<usize> {
        let (hi, lo, len) = split(p);
        let mask = self.slots.len() - 1;
        let mut i = self.home(hi, lo, len);
        loop {
            let s = &self.slots[i];
            if s.len == EMPTY {
                return None;
            }
            if s.len == len && s.lo == lo && s.hi == hi {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Add a key (or reset its expected id if present). The table never
    /// grows: callers insert at most the key count it was built for, plus
    /// the few prefixes a later phase adds (capacity is twice the keys).
    pub fn insert(&mut self, p: Prefix, expected: u32, current: u32) {
        if let Some(i) = self.find(p) {
            self.set_expected_at(i, expected);
            return;
        }
        assert!(self.keys * 4 < self.slots.len() * 3, "prefix table full");
        let (hi, lo, len) = split(p);
        let mask = self.slots.len() - 1;
        let mut i = self.home(hi, lo, len);
        while self.slots[i].len != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot {
            hi,
            lo,
            len,
            expected,
            current,
        };
        self.keys += 1;
        self.matching += usize::from(expected == current);
    }

    fn set_expected_at(&mut self, i: usize, expected: u32) {
        let s = &mut self.slots[i];
        let was = s.current == s.expected;
        s.expected = expected;
        let now = s.current == s.expected;
        self.matching = self.matching + usize::from(now) - usize::from(was);
    }

    /// Change the expected id of a key; false if `p` is not a key.
    pub fn set_expected(&mut self, p: Prefix, expected: u32) -> bool {
        match self.find(p) {
            Some(i) => {
                self.set_expected_at(i, expected);
                true
            }
            None => false,
        }
    }

    /// Apply (prefix, current id) updates in order; unknown prefixes are
    /// passed to `unknown`.
    pub fn apply_batch(&mut self, batch: &[(Prefix, u32)], mut unknown: impl FnMut(Prefix, u32)) {
        let mask = self.slots.len() - 1;
        for (i, &(p, id)) in batch.iter().enumerate() {
            if let Some(&(ahead, _)) = batch.get(i + DISTANCE) {
                let (hi, lo, len) = split(ahead);
                prefetch(&self.slots[self.home(hi, lo, len)]);
            }
            let (hi, lo, len) = split(p);
            let mut j = self.home(hi, lo, len);
            loop {
                let s = &mut self.slots[j];
                if s.len == EMPTY {
                    unknown(p, id);
                    break;
                }
                if s.len == len && s.lo == lo && s.hi == hi {
                    let was = s.current == s.expected;
                    s.current = id;
                    let now = id == s.expected;
                    self.matching = self.matching + usize::from(now) - usize::from(was);
                    break;
                }
                j = (j + 1) & mask;
            }
        }
    }

    /// Every key matches its expected id.
    pub fn all_match(&self) -> bool {
        self.matching == self.keys
    }

    /// (prefix, expected, current) of every key that does not match.
    pub fn mismatching(&self) -> impl Iterator<Item = (Prefix, u32, u32)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.len != EMPTY && s.current != s.expected)
            .map(|s| {
                (
                    Prefix {
                        bits: (u128::from(s.hi) << 64) | u128::from(s.lo),
                        len: s.len as u8,
                    },
                    s.expected,
                    s.current,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_updates_track_matching() {
        let keys: Vec<(Prefix, u32)> = (0..1000u32)
            .map(|i| {
                (
                    Prefix {
                        bits: u128::from(i) << 8,
                        len: 24,
                    },
                    i % 7,
                )
            })
            .collect();
        let mut t = PrefixTable::new(&keys, u32::MAX);
        assert!(!t.all_match());
        let mut unknown = Vec::new();
        t.apply_batch(&keys, |p, id| unknown.push((p, id)));
        assert!(t.all_match());
        assert!(unknown.is_empty());
        let stranger = Prefix { bits: 1, len: 32 };
        t.apply_batch(&[(stranger, 3), (keys[0].0, 99)], |p, id| {
            unknown.push((p, id))
        });
        assert_eq!(unknown, vec![(stranger, 3)]);
        assert_eq!(t.mismatching().count(), 1);
        assert!(t.set_expected(keys[0].0, 99));
        assert!(t.all_match());
        assert!(t.find(keys[5].0).is_some());
    }
}
