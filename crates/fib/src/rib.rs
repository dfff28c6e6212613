//! The writer's exact copy of the routes (control-plane side of the FIB).
//!
//! Owns the authoritative prefix → next-hop map that the compressed
//! [`crate::Table`] is built from, and answers the two questions an
//! incremental rebuild asks: "which routes lie strictly inside this span?"
//! and "which route covers this span?". Readers never touch it.

use std::collections::BTreeMap;

use crate::prefix::{Address, Prefix, Route};

/// Routes keyed by `(address, length)`, so a covering prefix sorts before
/// everything inside it and the routes inside a span are one range.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rib<A: Address> {
    routes: BTreeMap<(A, u8), u32>,
    /// How many routes of each length exist, so `covering` probes only the
    /// lengths in use (about 25 for IPv4, 45 for IPv6).
    per_length: Vec<u32>,
}

impl<A: Address> Rib<A> {
    pub(crate) fn new() -> Self {
        Rib {
            routes: BTreeMap::new(),
            per_length: vec![0; A::BITS as usize + 1],
        }
    }

    pub(crate) fn from_routes(routes: &[Route<A>]) -> Self {
        let mut rib = Rib::new();
        for r in routes {
            rib.insert(r.prefix, r.nexthop);
        }
        rib
    }

    pub(crate) fn len(&self) -> usize {
        self.routes.len()
    }

    /// Inserts or replaces; returns true if the table changed.
    pub(crate) fn insert(&mut self, prefix: Prefix<A>, nexthop: u32) -> bool {
        match self.routes.insert((prefix.addr(), prefix.len()), nexthop) {
            None => {
                self.per_length[prefix.len() as usize] += 1;
                true
            }
            Some(old) => old != nexthop,
        }
    }

    /// Removes; returns true if the route existed.
    pub(crate) fn remove(&mut self, prefix: Prefix<A>) -> bool {
        let existed = self.routes.remove(&(prefix.addr(), prefix.len())).is_some();
        if existed {
            self.per_length[prefix.len() as usize] -= 1;
        }
        existed
    }

    pub(crate) fn get(&self, prefix: Prefix<A>) -> Option<u32> {
        self.routes.get(&(prefix.addr(), prefix.len())).copied()
    }

    /// All routes, sorted by (address, length).
    pub(crate) fn routes(&self) -> Vec<Route<A>> {
        self.routes
            .iter()
            .map(|(&(addr, len), &nexthop)| Route {
                prefix: Prefix::new(addr, len).expect("stored prefixes are valid"),
                nexthop,
            })
            .collect()
    }

    /// Routes strictly inside `span/depth` (length > depth), sorted.
    ///
    /// A canonical prefix of length `<= depth` whose address lies inside the
    /// span must start at the span's first address, so the range below
    /// excludes exactly the covering routes.
    pub(crate) fn within(&self, span: A, depth: u8) -> impl Iterator<Item = Route<A>> + '_ {
        self.routes
            .range((span, depth + 1)..=(span.last(depth), u8::MAX))
            .map(|(&(addr, len), &nexthop)| Route {
                prefix: Prefix::new(addr, len).expect("stored prefixes are valid"),
                nexthop,
            })
    }

    /// True if any route lies strictly inside `span/depth`.
    pub(crate) fn has_within(&self, span: A, depth: u8) -> bool {
        self.within(span, depth).next().is_some()
    }

    /// The longest route of length `<= max_len` that covers `addr`.
    pub(crate) fn covering(&self, addr: A, max_len: u8) -> Option<u32> {
        (0..=max_len)
            .rev()
            .filter(|&len| self.per_length[len as usize] > 0)
            .find_map(|len| self.routes.get(&(addr.masked(len), len)).copied())
    }
}
