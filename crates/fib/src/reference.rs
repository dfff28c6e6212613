//! Reference implementations the FIB is measured and tested against.
//!
//! Owns [`ReferenceLpm`], an obviously-correct longest-prefix match (one
//! hash map per prefix length, probed from longest to shortest) used as the
//! differential-test oracle, and [`Dir24_8`], the plain DIR-24-8 flat array
//! (2^24 × 4 bytes = 64 MiB plus 256-entry groups for prefixes longer than
//! /24) used as the speed reference in `closctl fib bench`.

use std::collections::HashMap;

use crate::prefix::{Address, Route};
use crate::table::NO_ROUTE;

/// Longest-prefix match by probing one hash map per length, longest first.
#[derive(Clone, Debug)]
pub struct ReferenceLpm<A: Address> {
    by_length: Vec<HashMap<A, u32>>,
}

impl<A: Address> ReferenceLpm<A> {
    /// Builds from routes; for duplicate prefixes the last one wins.
    pub fn new(routes: &[Route<A>]) -> Self {
        let mut r = ReferenceLpm {
            by_length: vec![HashMap::new(); A::BITS as usize + 1],
        };
        for route in routes {
            r.insert(route.prefix, route.nexthop);
        }
        r
    }

    /// Inserts or replaces a route.
    pub fn insert(&mut self, prefix: crate::Prefix<A>, nexthop: u32) {
        self.by_length[prefix.len() as usize].insert(prefix.addr(), nexthop);
    }

    /// Removes a route if present.
    pub fn remove(&mut self, prefix: crate::Prefix<A>) {
        self.by_length[prefix.len() as usize].remove(&prefix.addr());
    }

    /// Longest-prefix match.
    pub fn lookup(&self, addr: A) -> Option<u32> {
        (0..=A::BITS).rev().find_map(|len| {
            let m = &self.by_length[len as usize];
            if m.is_empty() {
                None
            } else {
                m.get(&addr.masked(len)).copied()
            }
        })
    }
}

const GROUP_FLAG: u32 = 1 << 31;

/// Plain DIR-24-8 (Gupta, Lin, McKeown 1998): one load for prefixes up to
/// /24, two beyond.
#[derive(Clone, Debug)]
pub struct Dir24_8 {
    tbl24: Vec<u32>,
    tbl8: Vec<u32>,
}

impl Dir24_8 {
    /// Builds from IPv4 routes (duplicates: last wins).
    pub fn build(routes: &[Route<u32>]) -> Self {
        let mut sorted = routes.to_vec();
        sorted.sort_by_key(|r| r.prefix.len());
        let mut d = Dir24_8 {
            tbl24: vec![0; 1 << 24],
            tbl8: Vec::new(),
        };
        for r in &sorted {
            let (addr, len) = (r.prefix.addr(), r.prefix.len());
            let leaf = r.nexthop + 1;
            if len <= 24 {
                let first = (addr >> 8) as usize;
                d.tbl24[first..first + (1 << (24 - len))].fill(leaf);
            } else {
                let cell = (addr >> 8) as usize;
                let mut e = d.tbl24[cell];
                if e & GROUP_FLAG == 0 {
                    let group = (d.tbl8.len() >> 8) as u32;
                    d.tbl8.resize(d.tbl8.len() + 256, e);
                    e = group | GROUP_FLAG;
                    d.tbl24[cell] = e;
                }
                let base = (((e ^ GROUP_FLAG) as usize) << 8) + (addr & 0xff) as usize;
                d.tbl8[base..base + (1 << (32 - len))].fill(leaf);
            }
        }
        d
    }

    /// Lookup returning [`NO_ROUTE`] on a miss.
    #[inline(always)]
    pub fn lookup_raw(&self, addr: u32) -> u32 {
        let e = self.tbl24[(addr >> 8) as usize];
        let e = if e & GROUP_FLAG != 0 {
            self.tbl8[(((e ^ GROUP_FLAG) as usize) << 8) | (addr & 0xff) as usize]
        } else {
            e
        };
        e.wrapping_sub(1)
    }

    /// Longest-prefix match.
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        let r = self.lookup_raw(addr);
        (r != NO_ROUTE).then_some(r)
    }

    /// Batched lookup, same contract as [`crate::Table::lookup_batch`]. The
    /// first-level loads of a group of 16 are issued before any second-level
    /// one.
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [u32]) {
        const GROUP: usize = 16;
        assert!(out.len() >= addrs.len(), "output shorter than input");
        for (addrs, out) in addrs.chunks(GROUP).zip(out.chunks_mut(GROUP)) {
            let mut entry = [0u32; GROUP];
            for (e, &a) in entry.iter_mut().zip(addrs) {
                *e = self.tbl24[(a >> 8) as usize];
            }
            for ((o, &e), &a) in out.iter_mut().zip(&entry).zip(addrs) {
                let e = if e & GROUP_FLAG != 0 {
                    self.tbl8[(((e ^ GROUP_FLAG) as usize) << 8) | (a & 0xff) as usize]
                } else {
                    e
                };
                *o = e.wrapping_sub(1);
            }
        }
    }

    /// Heap bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.tbl24.capacity() + self.tbl8.capacity()) * 4
    }
}
