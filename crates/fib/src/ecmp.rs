//! ECMP next-hop groups and the flow hash.
//!
//! Owns [`NextHop`] (what the pipeline writes into a forwarded frame),
//! [`NextHopGroup`] (members behind a 256-bucket indirection table),
//! [`NextHopTable`] (group id → group; the FIB's route value is a group id)
//! and [`flow_hash`].
//!
//! Stability: the hash is a fixed function of the 5-tuple alone (no seed
//! that changes, no dependence on table contents), and a route maps to a
//! group by id. So a route update never moves a flow unless it changes that
//! flow's own route; and because members sit behind buckets (resilient
//! hashing), removing a member moves only the flows that were on it, and
//! adding one moves only the buckets it takes over.

use crate::FibError;

/// Buckets per group: flows map to a bucket, buckets to members.
pub const BUCKETS: usize = 256;

/// A resolved next hop: the Ethernet rewrite and the egress port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Destination MAC (the neighbour's).
    pub dst_mac: [u8; 6],
    /// Source MAC (the egress port's).
    pub src_mac: [u8; 6],
    /// Egress port.
    pub port: u16,
}

/// The fields that identify a flow. IPv4 addresses are stored in the low 32
/// bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Source address.
    pub src: u128,
    /// Destination address.
    pub dst: u128,
    /// IP protocol / next header.
    pub protocol: u8,
    /// Source port (0 when not TCP/UDP or a non-first fragment).
    pub src_port: u16,
    /// Destination port (0 likewise).
    pub dst_port: u16,
}

#[inline(always)]
fn mix(h: u64, v: u64) -> u64 {
    let h = (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// The flow hash: a fixed multiply–xorshift mix of the 5-tuple.
#[inline]
pub fn flow_hash(key: &FlowKey) -> u32 {
    let mut h = 0x243f_6a88_85a3_08d3;
    h = mix(h, key.src as u64);
    h = mix(h, (key.src >> 64) as u64);
    h = mix(h, key.dst as u64);
    h = mix(h, (key.dst >> 64) as u64);
    h = mix(
        h,
        (key.protocol as u64) << 32 | (key.src_port as u64) << 16 | key.dst_port as u64,
    );
    (h ^ (h >> 32)) as u32
}

/// Members behind a bucket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextHopGroup {
    members: Vec<NextHop>,
    buckets: Box<[u16; BUCKETS]>,
}

impl NextHopGroup {
    /// A group of 1..=256 members, buckets dealt round-robin.
    pub fn new(members: Vec<NextHop>) -> Result<Self, FibError> {
        if members.is_empty() || members.len() > BUCKETS {
            return Err(FibError::BadGroupSize(members.len()));
        }
        let mut buckets = Box::new([0u16; BUCKETS]);
        for (i, b) in buckets.iter_mut().enumerate() {
            *b = (i % members.len()) as u16;
        }
        Ok(NextHopGroup { members, buckets })
    }

    /// A group with one member.
    pub fn single(nexthop: NextHop) -> Self {
        NextHopGroup {
            members: vec![nexthop],
            buckets: Box::new([0; BUCKETS]),
        }
    }

    /// The members.
    pub fn members(&self) -> &[NextHop] {
        &self.members
    }

    /// The member a flow hash selects.
    #[inline(always)]
    pub fn select(&self, hash: u32) -> &NextHop {
        &self.members[self.buckets[hash as usize % BUCKETS] as usize]
    }

    fn loads(&self) -> Vec<usize> {
        let mut loads = vec![0; self.members.len()];
        for &b in self.buckets.iter() {
            loads[b as usize] += 1;
        }
        loads
    }

    /// Removes a member; only its buckets move (to the least-loaded
    /// members). Fails if it is the last member.
    pub fn remove_member(&mut self, index: usize) -> Result<(), FibError> {
        if index >= self.members.len() || self.members.len() == 1 {
            return Err(FibError::BadGroupSize(self.members.len().saturating_sub(1)));
        }
        self.members.remove(index);
        const ORPHAN: u16 = u16::MAX;
        for b in self.buckets.iter_mut() {
            match (*b as usize).cmp(&index) {
                std::cmp::Ordering::Equal => *b = ORPHAN,
                std::cmp::Ordering::Greater => *b -= 1,
                std::cmp::Ordering::Less => {}
            }
        }
        let mut loads = vec![0usize; self.members.len()];
        for &b in self.buckets.iter().filter(|&&b| b != ORPHAN) {
            loads[b as usize] += 1;
        }
        for b in self.buckets.iter_mut().filter(|b| **b == ORPHAN) {
            let (lightest, _) = loads
                .iter()
                .enumerate()
                .min_by_key(|&(_, l)| *l)
                .expect("at least one member remains");
            *b = lightest as u16;
            loads[lightest] += 1;
        }
        Ok(())
    }

    /// Adds a member; it takes over an even share of buckets, each taken
    /// from the currently most-loaded member.
    pub fn add_member(&mut self, nexthop: NextHop) -> Result<(), FibError> {
        if self.members.len() == BUCKETS {
            return Err(FibError::BadGroupSize(BUCKETS + 1));
        }
        self.members.push(nexthop);
        let new = (self.members.len() - 1) as u16;
        let share = BUCKETS / self.members.len();
        let mut loads = self.loads();
        for _ in 0..share {
            let (heaviest, _) = loads
                .iter()
                .enumerate()
                .max_by_key(|&(_, l)| *l)
                .expect("non-empty");
            let bucket = self
                .buckets
                .iter()
                .position(|&b| b as usize == heaviest)
                .expect("the heaviest member owns a bucket");
            self.buckets[bucket] = new;
            loads[heaviest] -= 1;
            loads[new as usize] += 1;
        }
        Ok(())
    }
}

/// Next-hop groups by id. A route's value in the FIB is a group id; a plain
/// next hop is a group of one.
#[derive(Clone, Debug, Default)]
pub struct NextHopTable {
    groups: Vec<Option<NextHopGroup>>,
}

impl NextHopTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) group `id`.
    pub fn set(&mut self, id: u32, group: NextHopGroup) {
        let i = id as usize;
        if self.groups.len() <= i {
            self.groups.resize(i + 1, None);
        }
        self.groups[i] = Some(group);
    }

    /// Removes group `id`.
    pub fn remove(&mut self, id: u32) -> Option<NextHopGroup> {
        self.groups.get_mut(id as usize).and_then(Option::take)
    }

    /// Group `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&NextHopGroup> {
        self.groups.get(id as usize).and_then(Option::as_ref)
    }

    /// Group `id`, mutably (to add or remove members).
    pub fn get_mut(&mut self, id: u32) -> Option<&mut NextHopGroup> {
        self.groups.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// The next hop for a flow on the route whose value is `id`.
    #[inline]
    pub fn select(&self, id: u32, hash: u32) -> Option<&NextHop> {
        self.get(id).map(|g| g.select(hash))
    }
}
