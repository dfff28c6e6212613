//! Small deterministic building blocks: a seeded PRNG (so a route set is
//! the same for a seed on every machine and every version of `rand`), a fast
//! hasher for the monitors' prefix tables, prefixes as plain integers, and
//! medians.
//!
//! Owns no I/O.

use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};

use clos_wire::{IpNet, Ipv4Net, Ipv6Net};

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for
/// benchmark data, and stable forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from several values (e.g. seed, generation, group),
    /// so any item can be regenerated on its own, in any order.
    pub fn keyed(parts: &[u64]) -> Rng {
        let mut s = 0x243f_6a88_85a3_08d3u64;
        for &p in parts {
            s = mix(s ^ p);
        }
        Rng(s)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0); the bias of the multiply-shift is far below
    /// anything a benchmark can see.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The SplitMix64 / MurmurHash3 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Multiply-rotate hasher with a final mix (the std SipHash costs more than
/// the rest of a monitor's per-prefix work). Not DoS resistant; the input is
/// our own benchmark traffic.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(K);
    }
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        mix(self.0)
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastBuild>;

/// IPv4 or IPv6 for a whole run: sessions, NLRI encoding, DUT configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
    pub fn wire(self) -> clos_wire::Family {
        match self {
            Family::Ipv4 => clos_wire::Family::Ipv4Unicast,
            Family::Ipv6 => clos_wire::Family::Ipv6Unicast,
        }
    }
    pub fn max_len(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

/// A prefix as integers: `bits` holds the address (IPv4 in the low 32
/// bits), host bits zero. 24 bytes with padding, hashed as two words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub bits: u128,
    pub len: u8,
}

impl Prefix {
    /// From the NLRI octets (already length-checked by the caller).
    #[inline]
    pub fn from_v4_octets(len: u8, octets: &[u8]) -> Prefix {
        let mut a = [0u8; 4];
        a[..octets.len()].copy_from_slice(octets);
        Prefix {
            bits: u128::from(u32::from_be_bytes(a)),
            len,
        }
    }

    #[inline]
    pub fn from_v6_octets(len: u8, octets: &[u8]) -> Prefix {
        let mut a = [0u8; 16];
        a[..octets.len()].copy_from_slice(octets);
        Prefix {
            bits: u128::from_be_bytes(a),
            len,
        }
    }

    pub fn to_ipnet(self, family: Family) -> IpNet {
        match family {
            Family::Ipv4 => IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from(self.bits as u32), self.len)
                    .unwrap_or_default()
                    .trunc(),
            ),
            Family::Ipv6 => IpNet::V6(
                Ipv6Net::new(Ipv6Addr::from(self.bits), self.len)
                    .unwrap_or_default()
                    .trunc(),
            ),
        }
    }

    pub fn from_ipnet(net: &IpNet) -> Prefix {
        match net {
            IpNet::V4(n) => Prefix {
                bits: u128::from(u32::from(n.trunc().addr())),
                len: n.prefix_len(),
            },
            IpNet::V6(n) => Prefix {
                bits: u128::from(n.trunc().addr()),
                len: n.prefix_len(),
            },
        }
    }

    pub fn display(self, family: Family) -> String {
        self.to_ipnet(family).to_string()
    }
}

/// Median of a non-empty list (mean of the two middle ones when even);
/// NaN-free input assumed.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_stable() {
        let mut r = Rng::keyed(&[1]);
        let a = r.next_u64();
        let mut r2 = Rng::keyed(&[1]);
        assert_eq!(a, r2.next_u64());
        assert!(Rng::keyed(&[7]).below(10) < 10);
    }

    #[test]
    fn prefix_round_trip() {
        for s in ["10.1.0.0/16", "2001:db8::/32", "0.0.0.0/0"] {
            let net: IpNet = s.parse().unwrap();
            let p = Prefix::from_ipnet(&net);
            let fam = if s.contains(':') {
                Family::Ipv6
            } else {
                Family::Ipv4
            };
            assert_eq!(p.display(fam), s);
        }
    }

    #[test]
    fn median_works() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
    }
}
