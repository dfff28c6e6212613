//! Addresses, prefixes and routes, generic over the address family.
//!
//! Owns the [`Address`] trait that lets one trie implementation serve IPv4
//! (`u32`) and IPv6 (`u128`), the [`Prefix`] and [`Route`] value types, and
//! the parser for route-table files (`PREFIX/LEN NEXTHOP_ID` per line). It
//! does not own any lookup structure.

use std::fmt::{self, Debug, Display};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::FibError;

/// An address family's address as an unsigned integer, most significant bit
/// first (network order).
///
/// Implemented for `u32` (IPv4) and `u128` (IPv6). The trie reads the first
/// 16 bits as a direct index and then 8-bit strides.
pub trait Address: Copy + Ord + Eq + Hash + Debug + Default + Send + Sync + 'static {
    /// Width of the address in bits (32 or 128).
    const BITS: u8;
    /// The family's name, as on the command line (`ipv4`, `ipv6`).
    const FAMILY: Family;
    /// The standard-library address type.
    type Std: FromStr + Display + Debug + Copy;

    /// The first 16 bits, used as the direct index of the first level.
    fn top16(self) -> usize;
    /// The 8 bits starting at bit `depth` (counted from the most significant
    /// bit). `depth + 8 <= BITS`.
    fn stride(self, depth: u8) -> usize;
    /// The address with all but the first `len` bits cleared.
    fn masked(self, len: u8) -> Self;
    /// The last address of the prefix `self/len` (host bits set).
    fn last(self, len: u8) -> Self;
    /// The first address of first-level slot `slot`.
    fn from_top16(slot: usize) -> Self;
    /// Builds an address from 128 random bits (the low bits are used for IPv4).
    fn from_random(hi: u64, lo: u64) -> Self;
    /// Converts from the standard-library type.
    fn from_std(addr: Self::Std) -> Self;
    /// Converts to the standard-library type.
    fn to_std(self) -> Self::Std;
    /// Extracts this family's address from an [`IpAddr`], if it is one.
    fn from_ip(addr: IpAddr) -> Option<Self>;
    /// The address as an integer (IPv4 in the low 32 bits).
    fn to_u128(self) -> u128;
    /// The inverse of [`Address::to_u128`] (IPv4 keeps the low 32 bits).
    fn from_u128(v: u128) -> Self;
}

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        })
    }
}

impl FromStr for Family {
    type Err = FibError;
    fn from_str(s: &str) -> Result<Self, FibError> {
        match s {
            "ipv4" | "v4" | "4" => Ok(Family::Ipv4),
            "ipv6" | "v6" | "6" => Ok(Family::Ipv6),
            other => Err(FibError::BadFamily(other.to_string())),
        }
    }
}

impl Address for u32 {
    const BITS: u8 = 32;
    const FAMILY: Family = Family::Ipv4;
    type Std = Ipv4Addr;

    #[inline(always)]
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
    #[inline(always)]
    fn stride(self, depth: u8) -> usize {
        ((self >> (24 - depth as u32)) & 0xff) as usize
    }
    #[inline]
    fn masked(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u32::MAX << (32 - len as u32))
        }
    }
    #[inline]
    fn last(self, len: u8) -> Self {
        if len == 0 {
            u32::MAX
        } else if len == 32 {
            self
        } else {
            self.masked(len) | (u32::MAX >> len as u32)
        }
    }
    fn from_top16(slot: usize) -> Self {
        (slot as u32) << 16
    }
    fn from_random(_hi: u64, lo: u64) -> Self {
        lo as u32
    }
    fn from_std(addr: Ipv4Addr) -> Self {
        u32::from(addr)
    }
    fn to_std(self) -> Ipv4Addr {
        Ipv4Addr::from(self)
    }
    fn from_ip(addr: IpAddr) -> Option<Self> {
        match addr {
            IpAddr::V4(a) => Some(a.into()),
            IpAddr::V6(_) => None,
        }
    }
    fn to_u128(self) -> u128 {
        self as u128
    }
    fn from_u128(v: u128) -> Self {
        v as u32
    }
}

impl Address for u128 {
    const BITS: u8 = 128;
    const FAMILY: Family = Family::Ipv6;
    type Std = Ipv6Addr;

    #[inline(always)]
    fn top16(self) -> usize {
        (self >> 112) as usize
    }
    #[inline(always)]
    fn stride(self, depth: u8) -> usize {
        ((self >> (120 - depth as u32)) & 0xff) as usize
    }
    #[inline]
    fn masked(self, len: u8) -> Self {
        if len == 0 {
            0
        } else {
            self & (u128::MAX << (128 - len as u32))
        }
    }
    #[inline]
    fn last(self, len: u8) -> Self {
        if len == 0 {
            u128::MAX
        } else if len == 128 {
            self
        } else {
            self.masked(len) | (u128::MAX >> len as u32)
        }
    }
    fn from_top16(slot: usize) -> Self {
        (slot as u128) << 112
    }
    fn from_random(hi: u64, lo: u64) -> Self {
        ((hi as u128) << 64) | lo as u128
    }
    fn from_std(addr: Ipv6Addr) -> Self {
        u128::from(addr)
    }
    fn to_std(self) -> Ipv6Addr {
        Ipv6Addr::from(self)
    }
    fn from_ip(addr: IpAddr) -> Option<Self> {
        match addr {
            IpAddr::V6(a) => Some(a.into()),
            IpAddr::V4(_) => None,
        }
    }
    fn to_u128(self) -> u128 {
        self
    }
    fn from_u128(v: u128) -> Self {
        v
    }
}

/// A prefix `addr/len`; `addr` always has its host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix<A: Address> {
    addr: A,
    len: u8,
}

impl<A: Address> Prefix<A> {
    /// Builds a prefix, clearing host bits. Fails if `len` exceeds the width.
    pub fn new(addr: A, len: u8) -> Result<Self, FibError> {
        if len > A::BITS {
            return Err(FibError::BadPrefixLength { len, max: A::BITS });
        }
        Ok(Prefix {
            addr: addr.masked(len),
            len,
        })
    }
    /// The network address.
    pub fn addr(&self) -> A {
        self.addr
    }
    /// The prefix length.
    #[allow(clippy::len_without_is_empty)] // a prefix length, not a size
    pub fn len(&self) -> u8 {
        self.len
    }
    /// True for the default route (`/0`).
    pub fn is_default(&self) -> bool {
        self.len == 0
    }
    /// True if `addr` lies inside this prefix.
    pub fn contains(&self, addr: A) -> bool {
        addr.masked(self.len) == self.addr
    }
}

impl<A: Address> Display for Prefix<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr.to_std(), self.len)
    }
}

impl<A: Address> FromStr for Prefix<A> {
    type Err = FibError;
    fn from_str(s: &str) -> Result<Self, FibError> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| FibError::BadPrefix(s.to_string()))?;
        let addr = a
            .parse::<A::Std>()
            .map_err(|_| FibError::BadPrefix(s.to_string()))?;
        let len = l
            .parse::<u8>()
            .map_err(|_| FibError::BadPrefix(s.to_string()))?;
        Prefix::new(A::from_std(addr), len)
    }
}

/// A route: a prefix and the value the FIB returns for it (a next-hop or
/// next-hop-group id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route<A: Address> {
    /// The destination prefix.
    pub prefix: Prefix<A>,
    /// Next-hop (group) id; at most [`crate::MAX_NEXTHOP`].
    pub nexthop: u32,
}

impl<A: Address> Route<A> {
    /// Sort key: by address, then by length (a covering prefix sorts before
    /// everything it covers).
    #[inline]
    pub(crate) fn key(&self) -> (A, u8) {
        (self.prefix.addr, self.prefix.len)
    }
}

/// The routes of a table file, split by family, in file order.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    /// IPv4 routes.
    pub v4: Vec<Route<u32>>,
    /// IPv6 routes.
    pub v6: Vec<Route<u128>>,
}

impl RouteTable {
    /// Parses a table file's text: `PREFIX/LEN NEXTHOP_ID` per line, family
    /// detected per line; blank lines and lines starting with `#` are
    /// skipped. `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, FibError> {
        let mut table = RouteTable::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| FibError::Parse {
                origin: origin.to_string(),
                line: n + 1,
                reason,
            };
            let mut fields = line.split_ascii_whitespace();
            let (Some(prefix), Some(nexthop), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad(format!(
                    "expected `PREFIX/LEN NEXTHOP_ID`, got `{line}`"
                )));
            };
            let nexthop: u32 = nexthop
                .parse()
                .map_err(|_| bad(format!("bad next-hop id `{nexthop}`")))?;
            if nexthop > crate::MAX_NEXTHOP {
                return Err(bad(format!(
                    "next-hop id {nexthop} exceeds {}",
                    crate::MAX_NEXTHOP
                )));
            }
            if prefix.contains(':') {
                let prefix = prefix.parse().map_err(|e: FibError| bad(e.to_string()))?;
                table.v6.push(Route { prefix, nexthop });
            } else {
                let prefix = prefix.parse().map_err(|e: FibError| bad(e.to_string()))?;
                table.v4.push(Route { prefix, nexthop });
            }
        }
        Ok(table)
    }

    /// Reads and parses a table file.
    pub fn read(path: &std::path::Path) -> Result<Self, FibError> {
        let text = std::fs::read_to_string(path).map_err(|source| FibError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The family with more routes (IPv4 on a tie), used when none is given.
    pub fn main_family(&self) -> Family {
        if self.v6.len() > self.v4.len() {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_strides() {
        let a: u32 = 0x0a01_0203;
        assert_eq!(a.top16(), 0x0a01);
        assert_eq!(a.stride(16), 0x02);
        assert_eq!(a.stride(24), 0x03);
        assert_eq!(a.masked(8), 0x0a00_0000);
        assert_eq!(a.last(8), 0x0aff_ffff);
        assert_eq!(a.last(32), a);
        assert_eq!(a.last(0), u32::MAX);
        let b: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
        assert_eq!(b.top16(), 0x2001);
        assert_eq!(b.stride(16), 0x0d);
        assert_eq!(b.stride(120), 0x01);
        assert_eq!(b.masked(32), 0x2001_0db8 << 96);
        assert_eq!(b.last(128), b);
    }

    #[test]
    fn parses_table_lines() {
        let t =
            RouteTable::parse("1.0.0.0/24 3\n# c\n\n2001:db8::/32 7\n10.1.2.3/8 1\n", "t").unwrap();
        assert_eq!(t.v4.len(), 2);
        assert_eq!(t.v6.len(), 1);
        assert_eq!(t.v4[1].prefix.to_string(), "10.0.0.0/8");
        let err = RouteTable::parse("1.0.0.0/33 3\n", "t").unwrap_err();
        assert!(err.to_string().contains("t:1"), "{err}");
        assert!(RouteTable::parse("1.0.0.0/24\n", "t").is_err());
    }
}
