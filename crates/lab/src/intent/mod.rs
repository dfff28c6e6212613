//! The fabric intent file: what a whole RFC 7938 leaf–spine fabric should
//! be, in a dozen lines of TOML, validated into an [`Intent`].
//!
//! This module owns the file format and its checks; it knows nothing of
//! namespaces or daemons. [`crate::plan`] turns an [`Intent`] into nodes,
//! links and addresses. Every refusal is an [`IntentError`] naming the
//! file, the line and the dotted key, as `closd` does for its own config:
//!
//! ```text
//! dc1.toml:7: asn.plan.leaf2: leaf2 would get AS 65000, the spines' AS (asn.spine, line 5): ...
//! ```
//!
//! Every key is optional: a missing key takes the value of the built-in
//! default fabric ([`DEFAULT_INTENT`]), except `addressing.hosts-v6`, which
//! is IPv4-only when absent.

mod source;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use source::{Field, Source, Table};

/// The built-in fabric of `clos-lab up` without a file: 2 spines, 4 leaves,
/// one host per leaf, IPv4 and IPv6 host subnets, BFD at 50 ms × 3.
pub const DEFAULT_INTENT: &str = r#"# The built-in default fabric of clos-lab.
[fabric]
name = "dc1"
spines = 2
leaves = 4
hosts-per-leaf = 1

[asn]                         # RFC 7938 §5.2.1: spines share one AS, each leaf its own
spine = 65000
leaf-base = 65001             # leaf i gets leaf-base + i - 1

[addressing]
loopbacks = "10.255.0.0/24"   # one /32 per switch: spines first, then leaves
hosts = "10.1.0.0/16"         # leaf i gets the i-th /24: gateway .1, hosts .2 and up
hosts-v6 = "2001:db8:1::/48"  # leaf i gets the i-th /64: gateway ::1, hosts ::2 and up

[bfd]
enabled = true
interval-ms = 50
multiplier = 3

[bgp]
multipath = 8
hold-time = 9
"#;

/// Most spines a lab fabric may have (each is a namespace and a daemon).
pub const MAX_SPINES: u32 = 16;
/// Most leaves.
pub const MAX_LEAVES: u32 = 64;
/// Most hosts behind one leaf.
pub const MAX_HOSTS_PER_LEAF: u32 = 32;
/// Most ECMP paths (as `router.multipath` in the closd config).
pub const MAX_MULTIPATH: u32 = 64;

/// `AS_TRANS` (RFC 6793): a stand-in on the wire, never configured.
const AS_TRANS: u32 = 23456;

const TOP_KEYS: &[&str] = &["fabric", "asn", "addressing", "bfd", "bgp"];
const FABRIC_KEYS: &[&str] = &["name", "spines", "leaves", "hosts-per-leaf"];
const ASN_KEYS: &[&str] = &["spine", "leaf-base", "plan"];
const ADDRESSING_KEYS: &[&str] = &["loopbacks", "hosts", "hosts-v6"];
const BFD_KEYS: &[&str] = &["enabled", "interval-ms", "multiplier"];
const BGP_KEYS: &[&str] = &[
    "multipath",
    "hold-time",
    "keepalive",
    "fast-external-failover",
];

/// Why an intent file was refused. Displays as `FILE:LINE: KEY: MESSAGE`,
/// leaving out the parts that are unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct IntentError {
    /// The file (or the origin given to [`Intent::from_str`]).
    pub file: String,
    /// 1-based line of the offending key or value, when there is one.
    pub line: Option<usize>,
    /// Dotted path of the offending key, e.g. `asn.plan.leaf2`; empty for
    /// errors that concern no key (unreadable file, TOML syntax).
    pub key: String,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl IntentError {
    fn render(&self) -> String {
        let mut out = self.file.clone();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        out.push_str(": ");
        if !self.key.is_empty() {
            out.push_str(&self.key);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }
}

/// BFD on every fabric session (RFC 5880), as rendered into each switch's
/// neighbors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bfd {
    /// Desired transmit and required receive interval, milliseconds.
    pub interval_ms: u32,
    /// Detection multiplier.
    pub multiplier: u32,
}

/// A validated fabric intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Fabric name (containerlab topology name).
    pub name: String,
    /// Number of spines, 1..=[`MAX_SPINES`].
    pub spines: u32,
    /// Number of leaves, 1..=[`MAX_LEAVES`].
    pub leaves: u32,
    /// Hosts behind each leaf, 1..=[`MAX_HOSTS_PER_LEAF`].
    pub hosts_per_leaf: u32,
    /// The AS shared by all spines (RFC 7938 §5.2.1).
    pub spine_asn: u32,
    /// AS of leaf i at index i - 1; all distinct and unlike `spine_asn`.
    pub leaf_asns: Vec<u32>,
    /// Loopback /32s are taken from here: spine s gets address s, leaf l
    /// gets address `spines + l`.
    pub loopbacks: Ipv4Net,
    /// Leaf l's host subnet is the l-th /24 of this prefix.
    pub hosts: Ipv4Net,
    /// Leaf l's IPv6 host subnet is the l-th /64 of this prefix, if any.
    pub hosts_v6: Option<Ipv6Net>,
    /// BFD on fabric sessions; `None` when disabled.
    pub bfd: Option<Bfd>,
    /// Most equal-cost paths per prefix.
    pub multipath: u32,
    /// BGP hold time, seconds (0 or 3..=65535).
    pub hold_time: u32,
    /// BGP keepalive interval, seconds; `None`: a third of the hold time.
    pub keepalive: Option<u32>,
    /// Close a session the moment its link goes down (default), or leave
    /// detection to BFD / the hold timer (to measure BFD alone).
    pub fast_external_failover: bool,
}

impl Intent {
    /// The built-in default fabric.
    pub fn default_fabric() -> Intent {
        // The default text is a constant and tested to load.
        Intent::from_str(DEFAULT_INTENT, "<built-in default fabric>")
            .expect("the built-in default fabric is valid")
    }

    /// Reads and validates the file at `path`.
    pub fn from_file(path: &std::path::Path) -> Result<Intent, IntentError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| IntentError {
            file: origin.clone(),
            line: None,
            key: String::new(),
            message: format!("cannot read the intent file: {error}"),
        })?;
        Intent::from_str(&text, &origin)
    }

    /// Parses and validates `text`; `origin` names the file in errors.
    #[allow(clippy::should_implement_trait)] // two arguments: not `FromStr`
    pub fn from_str(text: &str, origin: &str) -> Result<Intent, IntentError> {
        load(origin, text)
    }
}

/// Where a leaf's AS came from, for conflict messages.
#[derive(Clone)]
struct AsnSource {
    /// Key path: `asn.plan.leaf2` or `asn.leaf-base`.
    key: String,
    /// `None` when the AS comes from the default `leaf-base`.
    line: Option<usize>,
}

fn load(origin: &str, text: &str) -> Result<Intent, IntentError> {
    let src = Source::new(origin, text);
    let document = src.parse()?;
    let root = Table::root(&src, &document);
    root.check_keys(TOP_KEYS)?;
    let section = |name: &str| -> Result<Option<Table<'_>>, IntentError> {
        root.get(name)
            .map(|field| field.table(&format!("[{name}]")))
            .transpose()
    };

    // [fabric]
    let (mut name, mut spines, mut leaves, mut hosts_per_leaf) = ("dc1".to_string(), 2, 4, 1);
    if let Some(table) = section("fabric")? {
        table.check_keys(FABRIC_KEYS)?;
        if let Some(field) = table.get("name") {
            name = fabric_name(&field)?;
        }
        if let Some(field) = table.get("spines") {
            spines = field.int_in("a number of spines", 1, MAX_SPINES.into())?;
        }
        if let Some(field) = table.get("leaves") {
            leaves = field.int_in("a number of leaves", 1, MAX_LEAVES.into())?;
        }
        if let Some(field) = table.get("hosts-per-leaf") {
            hosts_per_leaf =
                field.int_in("a number of hosts per leaf", 1, MAX_HOSTS_PER_LEAF.into())?;
        }
    }

    // [asn]
    let asn_table = section("asn")?;
    if let Some(table) = &asn_table {
        table.check_keys(ASN_KEYS)?;
    }
    let get_asn = |key: &str| asn_table.as_ref().and_then(|t| t.get(key));
    let (spine_asn, spine_line) = match get_asn("spine") {
        Some(field) => (asn(&field)?, Some(field.line())),
        None => (65000, None),
    };
    let spine_asn_where = match spine_line {
        Some(line) => format!("asn.spine, line {line}"),
        None => "the default asn.spine".to_string(),
    };
    let base = get_asn("leaf-base")
        .map(|field| {
            let base = asn(&field)?;
            if u64::from(base) + u64::from(leaves) - 1 > u64::from(u32::MAX) {
                return Err(field.error(format!(
                    "leaf-base {base} + {leaves} leaves runs past the largest AS number 4294967295"
                )));
            }
            Ok((base, field.line()))
        })
        .transpose()?;
    let plan = match get_asn("plan") {
        Some(field) => asn_plan(&field, leaves)?,
        None => BTreeMap::new(),
    };
    let mut leaf_asns = Vec::new();
    let mut sources: Vec<AsnSource> = Vec::new();
    for leaf in 1..=leaves {
        let (value, source) = match (plan.get(&leaf), base) {
            (Some((value, line)), _) => (
                *value,
                AsnSource {
                    key: format!("asn.plan.leaf{leaf}"),
                    line: Some(*line),
                },
            ),
            (None, Some((base, line))) => (
                base + leaf - 1,
                AsnSource {
                    key: "asn.leaf-base".to_string(),
                    line: Some(line),
                },
            ),
            (None, None) if asn_table.as_ref().is_some_and(|t| t.get("plan").is_some()) => {
                let field = get_asn("plan").expect("checked above");
                return Err(field.error(format!(
                    "leaf{leaf} has no AS: list every leaf (leaf1..leaf{leaves}) in the plan, \
                     or set `asn.leaf-base` for the leaves the plan leaves out"
                )));
            }
            // The default leaf-base: a conflict is best shown at the
            // spine AS the user did write.
            (None, None) => (
                65001 + leaf - 1,
                AsnSource {
                    key: if spine_line.is_some() {
                        "asn.spine".to_string()
                    } else {
                        "asn.leaf-base".to_string()
                    },
                    line: spine_line,
                },
            ),
        };
        let error_at = |source: &AsnSource, message: String| IntentError {
            file: origin.to_string(),
            line: source.line,
            key: source.key.clone(),
            message,
        };
        if value == AS_TRANS {
            return Err(error_at(
                &source,
                format!("leaf{leaf} would get AS 23456, AS_TRANS (RFC 6793), which cannot be used"),
            ));
        }
        if value == spine_asn {
            return Err(error_at(
                &source,
                format!(
                    "leaf{leaf} would get AS {value}{}, the spines' AS ({spine_asn_where}): \
                     each leaf needs an AS of its own (RFC 7938 §5.2.1), or its routes \
                     would be dropped as AS-path loops",
                    if base.is_none() && !plan.contains_key(&leaf) {
                        " from the default leaf-base 65001 (set `asn.leaf-base`)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if let Some(other) = leaf_asns.iter().position(|asn| *asn == value) {
            let earlier: &AsnSource = &sources[other];
            let at = match earlier.line {
                Some(line) => format!(" ({}, line {line})", earlier.key),
                None => " (from the default leaf-base 65001)".to_string(),
            };
            // Point at whichever of the two the user wrote.
            let place = if source.line.is_some() {
                source.clone()
            } else {
                earlier.clone()
            };
            return Err(error_at(
                &place,
                format!(
                    "leaf{leaf} would get AS {value}, which leaf{} already has{at}: \
                     each leaf needs an AS of its own (RFC 7938 §5.2.1)",
                    other + 1
                ),
            ));
        }
        leaf_asns.push(value);
        sources.push(source);
    }

    // [addressing]
    let addressing = section("addressing")?;
    if let Some(table) = &addressing {
        table.check_keys(ADDRESSING_KEYS)?;
    }
    let get_addr = |key: &str| addressing.as_ref().and_then(|t| t.get(key));
    let switches = spines + leaves;
    let loopbacks = match get_addr("loopbacks") {
        Some(field) => {
            let net = ipv4_prefix(&field)?;
            let room = capacity(32 - u32::from(net.prefix_len()));
            if u64::from(switches) > room {
                return Err(field.error(format!(
                    "{net} has room for {room} loopback /32s (the network address is left \
                     unused) but the fabric has {switches} switches: use a /{} or shorter",
                    shortest_len(32, switches)
                )));
            }
            net
        }
        None => "10.255.0.0/24".parse().expect("constant"),
    };
    let hosts = match get_addr("hosts") {
        Some(field) => {
            let net = ipv4_prefix(&field)?;
            if net.prefix_len() > 24 {
                return Err(field.error(format!(
                    "{net} is too small: each leaf gets a /24 of it, so it must be a /24 or \
                     shorter (a /{} for {leaves} leaves)",
                    shortest_len(24, leaves)
                )));
            }
            let room = capacity(24 - u32::from(net.prefix_len()));
            if u64::from(leaves) > room {
                return Err(field.error(format!(
                    "{net} holds {room} usable /24s (the first is left unused) but the fabric \
                     has {leaves} leaves: use a /{} or shorter",
                    shortest_len(24, leaves)
                )));
            }
            if overlaps(IpNet::V4(net), IpNet::V4(loopbacks)) {
                return Err(field.error(format!(
                    "{net} overlaps the loopbacks {loopbacks}: host subnets and loopbacks \
                     must be disjoint"
                )));
            }
            net
        }
        None => {
            let net: Ipv4Net = "10.1.0.0/16".parse().expect("constant");
            if overlaps(IpNet::V4(net), IpNet::V4(loopbacks)) {
                let field = get_addr("loopbacks").expect("the default loopbacks do not overlap");
                return Err(field.error(format!(
                    "{loopbacks} overlaps the default host prefix {net}: set \
                     `addressing.hosts` too"
                )));
            }
            net
        }
    };
    let hosts_v6 = match get_addr("hosts-v6") {
        Some(field) => {
            let net = ipv6_prefix(&field)?;
            if net.prefix_len() > 64 {
                return Err(field.error(format!(
                    "{net} is too small: each leaf gets a /64 of it, so it must be a /64 or \
                     shorter (a /{} for {leaves} leaves)",
                    shortest_len(64, leaves)
                )));
            }
            let room = capacity(64 - u32::from(net.prefix_len()));
            if u64::from(leaves) > room {
                return Err(field.error(format!(
                    "{net} holds {room} usable /64s (the first is left unused) but the fabric \
                     has {leaves} leaves: use a /{} or shorter",
                    shortest_len(64, leaves)
                )));
            }
            Some(net)
        }
        None => None,
    };

    // [bfd]
    let mut bfd = Some(Bfd {
        interval_ms: 50,
        multiplier: 3,
    });
    if let Some(table) = section("bfd")? {
        table.check_keys(BFD_KEYS)?;
        let enabled = match table.get("enabled") {
            Some(field) => field.bool()?,
            None => true,
        };
        let interval_ms = match table.get("interval-ms") {
            Some(field) => field.int_in("a BFD interval in milliseconds", 10, 10_000)?,
            None => 50,
        };
        let multiplier = match table.get("multiplier") {
            Some(field) => field.int_in("a BFD detection multiplier", 1, 255)?,
            None => 3,
        };
        bfd = enabled.then_some(Bfd {
            interval_ms,
            multiplier,
        });
    }

    // [bgp]
    let (mut multipath, mut hold_time, mut keepalive) = (8, 9, None);
    let mut fast_external_failover = true;
    if let Some(table) = section("bgp")? {
        table.check_keys(BGP_KEYS)?;
        if let Some(field) = table.get("multipath") {
            multipath = field.int_in("the number of equal-cost paths", 1, MAX_MULTIPATH.into())?;
        }
        if let Some(field) = table.get("hold-time") {
            hold_time = field.int_in("a hold time in seconds", 0, 65535)?;
            if hold_time == 1 || hold_time == 2 {
                return Err(field.error(format!(
                    "a hold time of {hold_time} s is not allowed: use 0 (no keepalives) or \
                     3..=65535 seconds (RFC 4271 §4.2)"
                )));
            }
        }
        if let Some(field) = table.get("keepalive") {
            let value = field.int_in("a keepalive interval in seconds", 1, 21845)?;
            if hold_time == 0 {
                return Err(field.error(
                    "no keepalives are sent with hold-time = 0: remove `keepalive` or set a \
                     hold time",
                ));
            }
            if value >= hold_time {
                return Err(field.error(format!(
                    "keepalive {value} s must be shorter than the hold time {hold_time} s \
                     (RFC 4271 §10 suggests a third of it)"
                )));
            }
            keepalive = Some(value);
        }
        if let Some(field) = table.get("fast-external-failover") {
            fast_external_failover = field.bool()?;
        }
    }

    Ok(Intent {
        name,
        spines,
        leaves,
        hosts_per_leaf,
        spine_asn,
        leaf_asns,
        loopbacks,
        hosts,
        hosts_v6,
        bfd,
        multipath,
        hold_time,
        keepalive,
        fast_external_failover,
    })
}

/// `[a-z][a-z0-9-]*`, at most 32 characters: usable as a containerlab
/// topology name and in file names.
fn fabric_name(field: &Field<'_>) -> Result<String, IntentError> {
    let name = field.str("a fabric name such as \"dc1\"")?;
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(field.error(format!(
            "{name:?} is not a fabric name: use 1..=32 lowercase letters, digits and `-`, \
             starting with a letter"
        )));
    }
    Ok(name.to_string())
}

/// An AS number: 1..=4294967295 except `AS_TRANS` (RFC 6793); 0 is reserved
/// (RFC 7607).
fn asn(field: &Field<'_>) -> Result<u32, IntentError> {
    let value = field.int_in("an AS number", 1, u32::MAX.into())?;
    if value == AS_TRANS {
        return Err(field.error(
            "23456 is AS_TRANS (RFC 6793), a stand-in for 4-byte AS numbers on the wire, \
             and cannot be used",
        ));
    }
    Ok(value)
}

/// `plan = { leaf1 = 65101, ... }`: leaf number to (AS, line).
fn asn_plan(field: &Field<'_>, leaves: u32) -> Result<BTreeMap<u32, (u32, usize)>, IntentError> {
    let table = field.table("asn.plan (an inline table such as { leaf1 = 65101 })")?;
    let mut plan = BTreeMap::new();
    for (key, value) in table.entries() {
        let leaf = key
            .strip_prefix("leaf")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=leaves).contains(n) && key == format!("leaf{n}"));
        let Some(leaf) = leaf else {
            let names: Vec<String> = (1..=leaves.min(3)).map(|n| format!("leaf{n}")).collect();
            return Err(value.error(format!(
                "`{key}` is not a leaf of this fabric: plan keys are leaf1..leaf{leaves} \
                 (e.g. {})",
                names.join(", ")
            )));
        };
        plan.insert(leaf, (asn(&value)?, value.line()));
    }
    Ok(plan)
}

fn ipv4_prefix(field: &Field<'_>) -> Result<Ipv4Net, IntentError> {
    match prefix(field)? {
        IpNet::V4(net) => Ok(net),
        IpNet::V6(net) => Err(field.error(format!("{net} is IPv6: expected an IPv4 prefix"))),
    }
}

fn ipv6_prefix(field: &Field<'_>) -> Result<Ipv6Net, IntentError> {
    match prefix(field)? {
        IpNet::V6(net) => Ok(net),
        IpNet::V4(net) => Err(field.error(format!("{net} is IPv4: expected an IPv6 prefix"))),
    }
}

/// A canonical prefix `ADDR/LEN` (host bits zero).
fn prefix(field: &Field<'_>) -> Result<IpNet, IntentError> {
    let text = field.str("a prefix such as \"10.1.0.0/16\"")?;
    let net: IpNet = text.parse().map_err(|_| {
        if text.parse::<IpAddr>().is_ok() {
            field.error(format!("{text:?} has no prefix length: write ADDR/LEN"))
        } else {
            field.error(format!(
                "{text:?} is not a prefix: expected ADDR/LEN such as \"10.1.0.0/16\""
            ))
        }
    })?;
    if net.trunc() != net {
        return Err(field.error(format!(
            "{text:?} has host bits set: the canonical form is \"{}\"",
            net.trunc()
        )));
    }
    Ok(net)
}

/// Usable blocks among `2^bits` when block 0 stays unused, saturating.
fn capacity(bits: u32) -> u64 {
    if bits >= 63 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The longest prefix length (of a `total`-bit space of blocks) that still
/// holds `count` blocks besides block 0.
fn shortest_len(total: u32, count: u32) -> u32 {
    let mut bits = 0;
    while capacity(bits) < u64::from(count) {
        bits += 1;
    }
    total - bits
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The `index`-th block of `len` bits inside `net` (IPv4).
pub(crate) fn ipv4_block(net: Ipv4Net, len: u8, index: u32) -> Ipv4Net {
    let shift = 32 - u32::from(len);
    let base = u32::from(net.network());
    let address = base + (index << shift);
    Ipv4Net::new(Ipv4Addr::from(address), len).expect("len <= 32")
}

/// The `index`-th /`len` block inside `net` (IPv6).
pub(crate) fn ipv6_block(net: Ipv6Net, len: u8, index: u32) -> Ipv6Net {
    let shift = 128 - u32::from(len);
    let base = u128::from(net.network());
    let address = base + (u128::from(index) << shift);
    Ipv6Net::new(address.into(), len).expect("len <= 128")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fabric_loads() {
        let intent = Intent::default_fabric();
        assert_eq!(
            (intent.spines, intent.leaves, intent.hosts_per_leaf),
            (2, 4, 1)
        );
        assert_eq!(intent.leaf_asns, vec![65001, 65002, 65003, 65004]);
        assert_eq!(
            intent.bfd,
            Some(Bfd {
                interval_ms: 50,
                multiplier: 3
            })
        );
        assert!(intent.hosts_v6.is_some());
    }

    #[test]
    fn an_empty_file_is_the_default_fabric_without_ipv6() {
        let intent = Intent::from_str("", "empty.toml").unwrap();
        let default = Intent::default_fabric();
        assert_eq!(intent.hosts_v6, None);
        assert_eq!(
            Intent {
                hosts_v6: default.hosts_v6,
                ..intent
            },
            default
        );
    }

    #[test]
    fn blocks_and_capacity() {
        let net: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        assert_eq!(ipv4_block(net, 24, 3).to_string(), "10.1.3.0/24");
        let net: Ipv6Net = "2001:db8:1::/48".parse().unwrap();
        assert_eq!(ipv6_block(net, 64, 1).to_string(), "2001:db8:1:1::/64");
        assert_eq!(capacity(0), 0);
        assert_eq!(capacity(2), 3);
        assert_eq!(shortest_len(24, 4), 21);
        assert_eq!(shortest_len(32, 6), 29);
    }
}
