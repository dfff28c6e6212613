//! The route set and what every monitor must end with.
//!
//! Owns: prefix generation (synthetic, or sampled from a table file), the
//! grouping of prefixes into attribute sets, the path attributes each
//! feeder announces for each set, and the expected best path per prefix.
//! Owns no I/O except reading a table file, and no encoding (`stream`).
//!
//! Route set (deterministic for a seed; shaped like the harness's
//! `ingest.py`, not byte-identical to it):
//! - N unique prefixes: IPv4 /16–/24 weighted like the 2024 tier-1 table
//!   (~60% /24) with public unicast first octets, or IPv6 /29–/48 in
//!   2000::/3 weighted like the tier-1 IPv6 table; or sampled from a
//!   `PREFIX/LEN ...` file (`--table`). Shuffled.
//! - Consecutive runs of the shuffled list form attribute sets ("groups")
//!   of geometric size with mean `per_set` (default 3).
//! - A group's path: ORIGIN (85% IGP, else INCOMPLETE); AS_PATH of the
//!   feeder AS, then 1–6 hops (20% 4-byte ASNs), then origin prepending in
//!   10%; MED in 30%; 1–6 COMMUNITIES in 50%; a LARGE_COMMUNITY in 5%.
//!
//! Several feeders (K > 1) announce every prefix, each with its own path
//! for a group, so best-path selection (RFC 4271 §9.1.2.2) really runs.
//! The winner is made unambiguous by AS_PATH length alone: feeder k
//! prepends the origin AS `rank = (k + group) mod K` extra times, so the K
//! paths of a group have K distinct lengths and the winner is the feeder
//! with rank 0, i.e. feeder `(K - group mod K) mod K` — it rotates across
//! groups, so every feeder wins about 1/K of the table. ORIGIN is the same
//! for all feeders of a group; MEDs differ per feeder but are never
//! compared (different neighbour ASes, §9.1.2.2 c); no router-ID or
//! address tie-break is ever reached.
//!
//! Churn (generation 1): feeder 0 re-announces the first C prefixes of the
//! list with new ASNs, MED and communities but the same AS_PATH length (so
//! ranks, hence winners, stay unambiguous), and withdraws the next C.
//! Restore (for `soak`): feeder 0 announces those 2C prefixes again with
//! its generation-0 paths, which brings back the initial table.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::{bail, Context, Result};
use clos_wire::{
    AsPath, LargeCommunity, MpReach, NextHop, Origin, PathAttributes, AFI_IPV6, SAFI_UNICAST,
};

use crate::util::{Family, FastMap, Prefix, Rng};

/// The DUT's AS; it prepends it on export to the monitors.
pub const DUT_ASN: u32 = 65000;
/// Feeder k is AS 65001 + k, monitor m is AS 65101 + m.
pub const FEEDER_ASN: u32 = 65001;
pub const MONITOR_ASN: u32 = 65101;
/// NEXT_HOP of IPv4 feeds: TEST-NET-1, because FRR drops 127/8 as martian.
pub const NEXT_HOP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// MP_REACH next hop of IPv6 feeds (documentation prefix).
pub const NEXT_HOP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// /16../24 counts in the tier-1 IPv4 table (shared/data/README.md).
const V4_LENGTHS: [(u8, u64); 9] = [
    (16, 13490),
    (17, 8235),
    (18, 13798),
    (19, 24870),
    (20, 42611),
    (21, 50750),
    (22, 108623),
    (23, 96510),
    (24, 537698),
];
/// The main IPv6 lengths of the tier-1 table (shared/data/README.md).
const V6_LENGTHS: [(u8, u64); 12] = [
    (29, 4371),
    (32, 22548),
    (33, 2926),
    (34, 2603),
    (36, 5996),
    (38, 1617),
    (40, 13418),
    (42, 2301),
    (44, 14365),
    (46, 3039),
    (47, 3153),
    (48, 75488),
];

/// The route-set options of every scenario (`-n`, `--table`, `--seed`,
/// `--per-set`).
#[derive(clap::Args, Debug, Clone)]
pub struct RouteArgs {
    /// N: prefixes.
    #[arg(long, short = 'n', default_value_t = 1_000_000)]
    pub routes: usize,
    /// Sample prefixes from a `PREFIX/LEN ...` file instead of generating
    /// them (e.g. /work/shared/data/rib_tier1_2024.v4.txt, 901,899
    /// prefixes, or .v6.txt; `kernel` is IPv4 only).
    #[arg(long)]
    pub table: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Mean prefixes per attribute set.
    #[arg(long, default_value_t = 3.0)]
    pub per_set: f64,
}

impl RouteArgs {
    pub fn params(&self, family: Family) -> RouteParams {
        RouteParams {
            family,
            count: self.routes,
            seed: self.seed,
            per_set: self.per_set,
            table: self.table.clone(),
        }
    }
}

/// Parameters that fully determine a route set.
#[derive(Debug, Clone)]
pub struct RouteParams {
    pub family: Family,
    pub count: usize,
    pub seed: u64,
    pub per_set: f64,
    pub table: Option<std::path::PathBuf>,
}

impl RouteParams {
    /// A file-name-safe key for the stream cache.
    pub fn cache_key(&self) -> String {
        let src = self
            .table
            .as_deref()
            .and_then(Path::file_name)
            .map_or_else(|| "synth".to_string(), |n| n.to_string_lossy().into_owned());
        format!(
            "{}-{}-n{}-s{}-p{}",
            self.family.name(),
            src,
            self.count,
            self.seed,
            self.per_set
        )
    }
}

/// N prefixes in announcement order, cut into attribute-set groups.
#[derive(Debug)]
pub struct RouteSet {
    pub params: RouteParams,
    pub prefixes: Vec<Prefix>,
    /// `groups[g]` = start index of group g in `prefixes`; a group runs to
    /// the next start.
    pub group_starts: Vec<u32>,
}

impl RouteSet {
    pub fn build(params: &RouteParams) -> Result<RouteSet> {
        let mut rng = Rng::keyed(&[params.seed, 0x726f_7574_6573]);
        let mut prefixes = match &params.table {
            Some(path) => table_prefixes(path, params.family, params.count, &mut rng)?,
            None => synthetic_prefixes(params.family, params.count, &mut rng),
        };
        rng.shuffle(&mut prefixes);
        let p = 1.0 / params.per_set.max(1.0);
        let mut group_starts = Vec::new();
        let mut i = 0usize;
        while i < prefixes.len() {
            group_starts.push(i as u32);
            let size = if p >= 1.0 {
                1
            } else {
                1 + ((1.0 - rng.unit()).ln() / (1.0 - p).ln()) as usize
            };
            i += size;
        }
        Ok(RouteSet {
            params: params.clone(),
            prefixes,
            group_starts,
        })
    }

    pub fn groups(&self) -> usize {
        self.group_starts.len()
    }

    /// Index range of group g.
    pub fn group(&self, g: usize) -> std::ops::Range<usize> {
        let start = self.group_starts[g] as usize;
        let end = self
            .group_starts
            .get(g + 1)
            .map_or(self.prefixes.len(), |&e| e as usize);
        start..end
    }

    /// The group of every prefix index.
    pub fn group_of(&self) -> Vec<u32> {
        let mut out = vec![0u32; self.prefixes.len()];
        for g in 0..self.groups() {
            for i in self.group(g) {
                out[i] = g as u32;
            }
        }
        out
    }
}

fn synthetic_prefixes(family: Family, n: usize, rng: &mut Rng) -> Vec<Prefix> {
    let (lengths, weights): (Vec<u8>, Vec<u64>) = match family {
        Family::Ipv4 => V4_LENGTHS.iter().copied().unzip(),
        Family::Ipv6 => V6_LENGTHS.iter().copied().unzip(),
    };
    let mut seen = HashSet::with_capacity_and_hasher(n, crate::util::FastBuild::default());
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = lengths[rng.weighted(&weights)];
        let p = match family {
            Family::Ipv4 => {
                let addr = (rng.next_u64() as u32) & (u32::MAX << (32 - len));
                let first = addr >> 24;
                if first == 0 || first == 10 || first == 127 || first >= 224 {
                    continue;
                }
                Prefix {
                    bits: u128::from(addr),
                    len,
                }
            }
            Family::Ipv6 => {
                let raw = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                // 2000::/3 global unicast.
                let addr = (raw >> 3) | (1u128 << 125);
                Prefix {
                    bits: addr & (u128::MAX << (128 - u32::from(len))),
                    len,
                }
            }
        };
        if seen.insert(p) {
            out.push(p);
        }
    }
    out
}

fn table_prefixes(path: &Path, family: Family, n: usize, rng: &mut Rng) -> Result<Vec<Prefix>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut all = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(word) = line.split_whitespace().next() else {
            continue;
        };
        if word.starts_with('#') {
            continue;
        }
        let is_v6 = word.contains(':');
        if is_v6 != (family == Family::Ipv6) {
            continue;
        }
        let net: clos_wire::IpNet = word
            .parse()
            .with_context(|| format!("{}:{}: bad prefix {word:?}", path.display(), i + 1))?;
        all.push(Prefix::from_ipnet(&net));
    }
    all.sort_unstable();
    all.dedup();
    if n > all.len() {
        bail!(
            "table {} has only {} {} prefixes, asked for {n}",
            path.display(),
            all.len(),
            family.name()
        );
    }
    // Partial Fisher–Yates: a uniform sample of n.
    for i in 0..n {
        let j = i + rng.below((all.len() - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(n);
    Ok(all)
}

/// One feeder's path for one group: the values a monitor compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathSpec {
    /// ORIGIN code (0 IGP, 1 EGP, 2 INCOMPLETE).
    pub origin: u8,
    /// AS_PATH as one AS_SEQUENCE; other segment kinds (never sent by us)
    /// are flattened by the monitor with a marker, see `parse`.
    pub as_path: Vec<u32>,
    pub med: Option<u32>,
    /// Sorted, unique.
    pub communities: Vec<u32>,
    /// Sorted, unique.
    pub large: Vec<[u32; 3]>,
}

impl PathSpec {
    /// Path attributes to encode, with the family's next hop.
    pub fn attributes(&self, family: Family) -> PathAttributes {
        let mut a = PathAttributes {
            origin: Some(match self.origin {
                0 => Origin::Igp,
                1 => Origin::Egp,
                _ => Origin::Incomplete,
            }),
            as_path: Some(AsPath::sequence(self.as_path.iter().copied())),
            med: self.med,
            communities: self.communities.clone(),
            rare: clos_wire::RareAttributes {
                large_communities: self
                    .large
                    .iter()
                    .map(|l| LargeCommunity {
                        global_admin: l[0],
                        local_data1: l[1],
                        local_data2: l[2],
                    })
                    .collect(),
                ..Default::default()
            }
            .into(),
            ..Default::default()
        };
        match family {
            Family::Ipv4 => a.next_hop = Some(NEXT_HOP_V4),
            Family::Ipv6 => {
                a.mp_reach = Some(Box::new(MpReach {
                    afi: AFI_IPV6,
                    safi: SAFI_UNICAST,
                    next_hop: NextHop::V6 {
                        global: NEXT_HOP_V6,
                        link_local: None,
                    },
                    nlri: Vec::new(),
                }))
            }
        }
        a
    }

    /// What a monitor behind the DUT must see: the DUT's AS prepended
    /// (RFC 4271 §5.1.2) and MED dropped unless the DUT passes it on
    /// (MED is non-transitive across ASes, §5.1.4).
    pub fn via_dut(&self, keeps_med: bool) -> PathSpec {
        let mut p = self.clone();
        p.as_path.insert(0, DUT_ASN);
        if !keeps_med {
            p.med = None;
        }
        p
    }

    pub fn describe(&self) -> String {
        let path: Vec<String> = self.as_path.iter().map(u32::to_string).collect();
        let comms: Vec<String> = self
            .communities
            .iter()
            .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
            .collect();
        let large: Vec<String> = self
            .large
            .iter()
            .map(|l| format!("{}:{}:{}", l[0], l[1], l[2]))
            .collect();
        format!(
            "origin={} path=[{}] med={} comm=[{}] large=[{}]",
            self.origin,
            path.join(" "),
            self.med.map_or("-".to_string(), |m| m.to_string()),
            comms.join(" "),
            large.join(" ")
        )
    }
}

fn random_asn(rng: &mut Rng) -> u32 {
    if rng.chance(0.2) {
        131072 + rng.below(400000 - 131072) as u32
    } else {
        1 + rng.below(64495) as u32
    }
}

/// Which path a feeder announces: the generation (0 = initial feed, 1 =
/// churn) and the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteId {
    pub generation: u8,
    pub group: u32,
    pub feeder: u16,
}

/// Feeder `k` of `feeders`: its path for `group` in `generation`. Shape
/// (hop count, prepending, ORIGIN, which optional attributes appear) comes
/// from generation 0 so AS_PATH lengths never change; values come from the
/// generation's own stream.
pub fn path_spec(seed: u64, id: RouteId, feeders: usize) -> PathSpec {
    let g = u64::from(id.group);
    let mut shape = Rng::keyed(&[seed, 0, g]);
    let mut vals = Rng::keyed(&[seed, 1 + u64::from(id.generation), g]);
    let hops = [1, 2, 3, 4, 5, 6][shape.weighted(&[10, 30, 30, 18, 8, 4])];
    let prepends = if shape.chance(0.1) {
        1 + shape.below(3) as usize
    } else {
        0
    };
    let origin = if shape.chance(0.85) { 0 } else { 2 };
    let has_med = shape.chance(0.3);
    let n_comms = if shape.chance(0.5) {
        1 + shape.below(6) as usize
    } else {
        0
    };
    let has_large = shape.chance(0.05);

    let k = usize::from(id.feeder);
    let rank = (k + id.group as usize) % feeders.max(1);
    let mut as_path = vec![FEEDER_ASN + k as u32];
    for _ in 0..hops {
        as_path.push(random_asn(&mut vals));
    }
    let last = *as_path.last().unwrap_or(&FEEDER_ASN);
    as_path.extend(std::iter::repeat_n(last, prepends + rank));
    let first_hop = as_path.get(1).copied().unwrap_or(FEEDER_ASN);
    let med = has_med.then(|| vals.below(1000) as u32 + 1000 * k as u32);
    let mut communities: Vec<u32> = (0..n_comms)
        .map(|_| ((first_hop & 0xffff) << 16) | vals.below(65536) as u32)
        .collect();
    communities.sort_unstable();
    communities.dedup();
    let large = if has_large {
        vec![[first_hop, vals.below(100) as u32, vals.below(1000) as u32]]
    } else {
        Vec::new()
    };
    PathSpec {
        origin,
        as_path,
        med,
        communities,
        large,
    }
}

/// The feeder whose path for `group` has rank 0 (the shortest AS_PATH).
pub fn winner(group: u32, feeders: usize) -> u16 {
    let k = feeders.max(1);
    ((k - group as usize % k) % k) as u16
}

/// The churn plan: which prefix indices feeder 0 re-announces and which it
/// withdraws.
#[derive(Debug, Clone)]
pub struct Churn {
    pub reannounce: std::ops::Range<usize>,
    pub withdraw: std::ops::Range<usize>,
}

impl Churn {
    /// `count` of each, clamped so both fit in the table.
    pub fn new(table_len: usize, count: usize) -> Churn {
        let c = count.min(table_len / 2);
        Churn {
            reannounce: 0..c,
            withdraw: c..2 * c,
        }
    }
}

/// Expected best route per prefix, by route id. `None`: the prefix must be
/// absent.
pub struct Expectation {
    /// Distinct route ids; `routes[i]` is the route of index i.
    pub routes: Vec<RouteId>,
    /// Phase 0 (initial feed): route index per prefix index.
    pub initial: Vec<u32>,
    /// Phase 1 (churn), when planned: (prefix index, new route index or
    /// `u32::MAX` for absent) for every prefix the churn touches.
    pub churn: Vec<(u32, u32)>,
    /// Phase 2 (restore), when churn is planned: (prefix index, its initial
    /// route index) for every prefix the churn touches.
    pub restore: Vec<(u32, u32)>,
}

impl Expectation {
    pub fn build(set: &RouteSet, feeders: usize, churn: Option<&Churn>) -> Expectation {
        let mut routes = Vec::new();
        let mut index: FastMap<RouteId, u32> = FastMap::default();
        let mut intern = |id: RouteId| -> u32 {
            *index.entry(id).or_insert_with(|| {
                routes.push(id);
                (routes.len() - 1) as u32
            })
        };
        let group_of = set.group_of();
        let initial: Vec<u32> = group_of
            .iter()
            .map(|&g| {
                intern(RouteId {
                    generation: 0,
                    group: g,
                    feeder: winner(g, feeders),
                })
            })
            .collect();
        let mut delta = Vec::new();
        if let Some(c) = churn {
            for i in c.reannounce.clone() {
                let g = group_of[i];
                let w = winner(g, feeders);
                let generation = if w == 0 { 1 } else { 0 };
                delta.push((
                    i as u32,
                    intern(RouteId {
                        generation,
                        group: g,
                        feeder: w,
                    }),
                ));
            }
            for i in c.withdraw.clone() {
                let g = group_of[i];
                let w = winner(g, feeders);
                let new = if feeders <= 1 {
                    u32::MAX
                } else if w != 0 {
                    intern(RouteId {
                        generation: 0,
                        group: g,
                        feeder: w,
                    })
                } else {
                    // Feeder 0 had rank 0; rank 1 takes over.
                    let k = feeders;
                    let next = ((k + 1 - g as usize % k) % k) as u16;
                    intern(RouteId {
                        generation: 0,
                        group: g,
                        feeder: next,
                    })
                };
                delta.push((i as u32, new));
            }
        }
        let restore = delta
            .iter()
            .map(|&(i, _)| (i, initial[i as usize]))
            .collect();
        Expectation {
            routes,
            initial,
            churn: delta,
            restore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(family: Family, count: usize) -> RouteParams {
        RouteParams {
            family,
            count,
            seed: 1,
            per_set: 3.0,
            table: None,
        }
    }

    #[test]
    fn deterministic_unique_and_shaped() {
        let a = RouteSet::build(&params(Family::Ipv4, 20000)).unwrap();
        let b = RouteSet::build(&params(Family::Ipv4, 20000)).unwrap();
        assert_eq!(a.prefixes, b.prefixes);
        let uniq: HashSet<_> = a.prefixes.iter().collect();
        assert_eq!(uniq.len(), 20000);
        let slash24 = a.prefixes.iter().filter(|p| p.len == 24).count();
        assert!((0.5..0.7).contains(&(slash24 as f64 / 20000.0)));
        let mean = 20000.0 / a.groups() as f64;
        assert!((2.5..3.5).contains(&mean), "mean set size {mean}");
        let v6 = RouteSet::build(&params(Family::Ipv6, 1000)).unwrap();
        assert!(v6.prefixes.iter().all(|p| p.bits >> 125 == 1));
    }

    #[test]
    fn restore_brings_back_the_initial_route_of_every_churned_prefix() {
        let set = RouteSet::build(&params(Family::Ipv4, 1000)).unwrap();
        let churn = Churn::new(set.prefixes.len(), 100);
        for feeders in [1, 3] {
            let exp = Expectation::build(&set, feeders, Some(&churn));
            let churned: Vec<u32> = exp.churn.iter().map(|c| c.0).collect();
            let restored: Vec<u32> = exp.restore.iter().map(|r| r.0).collect();
            assert_eq!(churned, (0..200).collect::<Vec<u32>>());
            assert_eq!(restored, churned);
            for &(i, r) in &exp.restore {
                assert_eq!(r, exp.initial[i as usize]);
                assert_eq!(exp.routes[r as usize].generation, 0);
            }
        }
        assert!(Expectation::build(&set, 3, None).restore.is_empty());
    }

    #[test]
    fn winner_has_strictly_shortest_path() {
        for k in 1..6 {
            for g in 0..50u32 {
                let lens: Vec<usize> = (0..k)
                    .map(|f| {
                        let id = RouteId {
                            generation: 0,
                            group: g,
                            feeder: f as u16,
                        };
                        path_spec(1, id, k).as_path.len()
                    })
                    .collect();
                let w = usize::from(winner(g, k));
                for (f, l) in lens.iter().enumerate() {
                    if f != w {
                        assert!(*l > lens[w]);
                    }
                }
                let churned = path_spec(
                    1,
                    RouteId {
                        generation: 1,
                        group: g,
                        feeder: 0,
                    },
                    k,
                );
                assert_eq!(churned.as_path.len(), lens[0]);
            }
        }
    }
}
