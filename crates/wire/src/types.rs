//! Message, capability and path-attribute values: what the codec decodes to
//! and encodes from. These types are the contract between `clos-wire` and the
//! rest of clos; they carry no wire-format state (no lengths, no flags that
//! follow from the type) except where a value must round-trip unchanged
//! (unknown capabilities and attributes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An autonomous system number, always held as 4 octets (RFC 6793).
pub type Asn = u32;

/// AS_TRANS (RFC 6793 §9): stands in for a 4-octet ASN towards 2-octet peers.
pub const AS_TRANS: u16 = 23456;

/// BGP header length: marker (16) + length (2) + type (1).
pub const HEADER_LEN: usize = 19;
/// Maximum message size without the extended-message capability (RFC 4271 §4).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Maximum message size with the extended-message capability (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Address Family Identifier (IANA).
pub const AFI_IPV4: u16 = 1;
/// Address Family Identifier (IANA).
pub const AFI_IPV6: u16 = 2;
/// Subsequent Address Family Identifier: unicast.
pub const SAFI_UNICAST: u8 = 1;

/// The address families clos routes. Others are parsed (capabilities) and
/// kept as raw AFI/SAFI numbers but never carried in the RIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];

    pub fn afi_safi(self) -> (u16, u8) {
        match self {
            Family::Ipv4Unicast => (AFI_IPV4, SAFI_UNICAST),
            Family::Ipv6Unicast => (AFI_IPV6, SAFI_UNICAST),
        }
    }

    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Family> {
        match (afi, safi) {
            (AFI_IPV4, SAFI_UNICAST) => Some(Family::Ipv4Unicast),
            (AFI_IPV6, SAFI_UNICAST) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }

    /// The family of a prefix.
    pub fn of(prefix: &IpNet) -> Family {
        match prefix {
            IpNet::V4(_) => Family::Ipv4Unicast,
            IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }

    /// Config and CLI spelling: `ipv4-unicast`, `ipv6-unicast`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A whole BGP message (RFC 4271 §4.1: type codes 1–5).
// UPDATE dominates traffic, so boxing it would cost an allocation on the
// common path to save space on the rare ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// Message type codes (RFC 4271 §4.1, RFC 2918 §3).
pub mod message_type {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// OPEN (RFC 4271 §4.2). Optional parameters other than capabilities are
/// rejected at decode (2/4 Unsupported Optional Parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// The 2-octet "My Autonomous System" field: AS_TRANS when the real ASN
    /// does not fit; the real one is in `Capability::FourOctetAs`.
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_identifier: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// The speaker's ASN: from the 4-octet-AS capability when present.
    pub fn asn(&self) -> Asn {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(self.my_as as Asn)
    }
}

/// A capability (RFC 5492) as advertised in OPEN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Code 1, RFC 4760.
    Multiprotocol { afi: u16, safi: u8 },
    /// Code 2, RFC 2918.
    RouteRefresh,
    /// Code 5, RFC 8950.
    ExtendedNextHop(Vec<ExtendedNextHopEntry>),
    /// Code 6, RFC 8654.
    ExtendedMessage,
    /// Code 64, RFC 4724.
    GracefulRestart(GracefulRestart),
    /// Code 65, RFC 6793.
    FourOctetAs(Asn),
    /// Code 69, RFC 7911.
    AddPath(Vec<AddPathEntry>),
    /// Code 70, RFC 7313.
    EnhancedRouteRefresh,
    /// Anything else, kept verbatim.
    Unknown { code: u8, value: Vec<u8> },
}

/// Capability codes (IANA).
pub mod capability_code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

/// One tuple of the extended next hop capability (RFC 8950 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedNextHopEntry {
    pub nlri_afi: u16,
    /// Two octets on the wire in this capability, unlike elsewhere.
    pub nlri_safi: u16,
    pub next_hop_afi: u16,
}

/// Graceful restart capability (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    /// The R bit: the speaker has restarted.
    pub restart_state: bool,
    /// The N bit (RFC 8538): notification support.
    pub notification: bool,
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub afi: u16,
    pub safi: u8,
    /// The F bit: forwarding state was preserved.
    pub forwarding_preserved: bool,
}

/// One tuple of the ADD-PATH capability (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPathEntry {
    pub afi: u16,
    pub safi: u8,
    /// 1 = receive, 2 = send, 3 = both.
    pub send_receive: u8,
}

/// NOTIFICATION (RFC 4271 §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

/// NOTIFICATION error codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 7313).
pub mod notification {
    pub const MESSAGE_HEADER_ERROR: u8 = 1;
    pub const OPEN_MESSAGE_ERROR: u8 = 2;
    pub const UPDATE_MESSAGE_ERROR: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM_ERROR: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH_MESSAGE_ERROR: u8 = 7;

    // Message header error subcodes.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;

    // OPEN message error subcodes.
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    pub const ROLE_MISMATCH: u8 = 11;

    // UPDATE message error subcodes.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;

    // Cease subcodes (RFC 4486).
    pub const MAXIMUM_PREFIXES_REACHED: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    /// Cease subcode 10, "BFD Down" (RFC 9384).
    pub const BFD_DOWN: u8 = 10;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    /// Cease subcode 9, "Hard Reset" (RFC 8538).
    pub const HARD_RESET: u8 = 9;

    // Route refresh message error subcodes (RFC 7313 §5).
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// ROUTE-REFRESH (RFC 2918, with the RFC 7313 demarcation subtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: u16,
    /// 0 = normal request, 1 = BoRR, 2 = EoRR (RFC 7313 §3.2).
    pub subtype: u8,
    pub safi: u8,
}

/// UPDATE (RFC 4271 §4.3). IPv4 unicast NLRI may arrive in the classic
/// fields or in MP_REACH/MP_UNREACH; decode leaves each where it was found,
/// `Update::announced()` and `Update::withdrawn_all()` give the union.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: PathAttributes,
    pub nlri: Vec<Ipv4Net>,
}

impl Update {
    /// End-of-RIB marker (RFC 4724 §2): an empty UPDATE for IPv4 unicast, or
    /// an UPDATE carrying only an empty MP_UNREACH for another family.
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        let a = &self.attributes;
        if a == &PathAttributes::default() {
            return Some(Family::Ipv4Unicast);
        }
        match &a.rare.mp_unreach {
            Some(un) if un.withdrawn.is_empty() => {
                let only = PathAttributes {
                    rare: RareAttributes {
                        mp_unreach: Some(un.clone()),
                        ..Default::default()
                    }
                    .into(),
                    ..Default::default()
                };
                if *a == only {
                    Family::from_afi_safi(un.afi, un.safi)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// All prefixes this UPDATE announces, of every family.
    pub fn announced(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.nlri.iter().map(|p| IpNet::V4(*p)).chain(
            self.attributes
                .mp_reach
                .iter()
                .flat_map(|r| r.nlri.iter().copied()),
        )
    }

    /// All prefixes this UPDATE withdraws, of every family.
    pub fn withdrawn_all(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.withdrawn.iter().map(|p| IpNet::V4(*p)).chain(
            self.attributes
                .rare
                .mp_unreach
                .iter()
                .flat_map(|r| r.withdrawn.iter().copied()),
        )
    }
}

/// ORIGIN values (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// AS_PATH segment types (RFC 4271 §4.3, RFC 5065 for confederations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentType {
    AsSet = 1,
    AsSequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsPathSegment {
    pub kind: SegmentType,
    pub asns: Vec<Asn>,
}

/// AS_PATH, always with 4-octet ASNs: towards or from a 2-octet peer the codec
/// converts with AS4_PATH (RFC 6793 §4.2.3), so callers never see AS_TRANS
/// in place of a real ASN unless the path really contains it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsPathSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn sequence(asns: impl IntoIterator<Item = Asn>) -> AsPath {
        let asns: Vec<Asn> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsPathSegment {
                kind: SegmentType::AsSequence,
                asns,
            }],
        }
    }

    /// Path length for best-path selection (RFC 4271 §9.1.2.2 a): an AS_SET
    /// counts 1, confederation segments count 0 (RFC 5065 §5.3).
    pub fn selection_length(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::AsSequence => s.asns.len(),
                SegmentType::AsSet => 1,
                SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
            })
            .sum()
    }

    /// The neighbour AS: the first ASN of a leading AS_SEQUENCE.
    pub fn first_asn(&self) -> Option<Asn> {
        match self.segments.first() {
            Some(s) if s.kind == SegmentType::AsSequence => s.asns.first().copied(),
            _ => None,
        }
    }

    /// The originating AS: the last ASN of a trailing AS_SEQUENCE.
    pub fn origin_asn(&self) -> Option<Asn> {
        match self.segments.last() {
            Some(s) if s.kind == SegmentType::AsSequence => s.asns.last().copied(),
            _ => None,
        }
    }

    pub fn contains(&self, asn: Asn) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// Prepend `asn` as eBGP export does (RFC 4271 §5.1.2).
    pub fn prepend(&mut self, asn: Asn) {
        match self.segments.first_mut() {
            Some(s) if s.kind == SegmentType::AsSequence && s.asns.len() < 255 => {
                s.asns.insert(0, asn)
            }
            _ => self.segments.insert(
                0,
                AsPathSegment {
                    kind: SegmentType::AsSequence,
                    asns: vec![asn],
                },
            ),
        }
    }
}

impl std::fmt::Display for AsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind {
                SegmentType::AsSequence => ("", ""),
                SegmentType::AsSet => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(if s.kind == SegmentType::AsSequence {
                        " "
                    } else {
                        ","
                    })?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// AGGREGATOR (RFC 4271 §5.1.7), with a 4-octet ASN (merged with
/// AS4_AGGREGATOR from 2-octet peers, RFC 6793 §4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: Asn,
    pub address: Ipv4Addr,
}

/// LARGE_COMMUNITY (RFC 8092).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data1: u32,
    pub local_data2: u32,
}

/// Next hop of MP_REACH_NLRI (RFC 4760 §3, RFC 2545 §3, RFC 8950).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    V4(Ipv4Addr),
    /// A global address and optionally a link-local one (length 32).
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// The address used for forwarding resolution: the global one.
    pub fn address(&self) -> IpAddr {
        match self {
            NextHop::V4(a) => IpAddr::V4(*a),
            NextHop::V6 { global, .. } => IpAddr::V6(*global),
        }
    }
}

/// MP_REACH_NLRI (RFC 4760 §3). For IPv4 unicast with an IPv6 next hop see
/// RFC 8950.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub afi: u16,
    pub safi: u8,
    pub next_hop: NextHop,
    pub nlri: Vec<IpNet>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub afi: u16,
    pub safi: u8,
    pub withdrawn: Vec<IpNet>,
}

/// An attribute the codec does not interpret, passed on verbatim. When an
/// optional transitive one is passed on, the Partial bit is set (RFC 4271
/// §5); `flags` holds the flags as received or to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

/// Attribute flag bits (RFC 4271 §4.3).
pub mod attribute_flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA).
pub mod attribute_type {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITY: u8 = 32;
}

/// The path attributes of an UPDATE, decoded. Absent attributes are `None`
/// or empty. AS4_PATH/AS4_AGGREGATOR never appear here: decode merges them
/// into `as_path`/`aggregator`, encode generates them for 2-octet peers.
///
/// Layout: a RIB keeps one interned copy per distinct set (a full IPv4
/// table has ~330k of them), so the attributes nearly every route carries
/// are inline and the rest sit behind one optional box, [`Rare`]. The
/// struct is 96 bytes instead of 280 with every attribute inline; at a full
/// table that is ~65 MB less (`docs/performance.md`, step 6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub atomic_aggregate: bool,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub as_path: Option<AsPath>,
    pub communities: Vec<u32>,
    /// Boxed: 64 bytes inline, and only non-IPv4 routes carry it.
    pub mp_reach: Option<Box<MpReach>>,
    /// AGGREGATOR, ORIGINATOR_ID, CLUSTER_LIST, extended and large
    /// communities, MP_UNREACH and unknown attributes. Read them as
    /// `attrs.rare.cluster_list`, write them as
    /// `attrs.rare.make_mut().cluster_list = …`.
    pub rare: Rare,
}

/// The attributes of [`PathAttributes::rare`]: each absent or empty by
/// default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RareAttributes {
    pub aggregator: Option<Aggregator>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub extended_communities: Vec<[u8; 8]>,
    pub large_communities: Vec<LargeCommunity>,
    pub mp_unreach: Option<MpUnreach>,
    /// Unrecognised attributes, in the order received.
    pub unknown: Vec<RawAttribute>,
}

static NO_RARE_ATTRIBUTES: RareAttributes = RareAttributes {
    aggregator: None,
    originator_id: None,
    cluster_list: Vec::new(),
    extended_communities: Vec::new(),
    large_communities: Vec::new(),
    mp_unreach: None,
    unknown: Vec::new(),
};

/// [`RareAttributes`] behind an optional box: 8 bytes when none is present.
/// Reads go through `Deref` (no box reads as all-empty); writes through
/// [`Rare::make_mut`], which allocates the box. Equality and hashing are by content, so a set with
/// an empty box equals one without, and interning stays canonical;
/// [`Rare::compact`] drops an empty box.
#[derive(Debug, Clone, Default)]
pub struct Rare(Option<Box<RareAttributes>>);

impl Rare {
    /// Whether any rare attribute is present.
    pub fn is_empty(&self) -> bool {
        **self == NO_RARE_ATTRIBUTES
    }

    /// The rare attributes for writing; allocates the box. There is no
    /// `DerefMut`, so no write allocates by accident: clearing an absent
    /// attribute goes through [`Rare::get_mut`].
    pub fn make_mut(&mut self) -> &mut RareAttributes {
        self.0.get_or_insert_with(Default::default)
    }

    /// The rare attributes for writing, if the box exists.
    pub fn get_mut(&mut self) -> Option<&mut RareAttributes> {
        self.0.as_deref_mut()
    }

    /// Free the box if it holds nothing.
    pub fn compact(&mut self) {
        if self.0.is_some() && self.is_empty() {
            self.0 = None;
        }
    }
}

impl From<RareAttributes> for Rare {
    fn from(rare: RareAttributes) -> Rare {
        let mut r = Rare(Some(Box::new(rare)));
        r.compact();
        r
    }
}

impl std::ops::Deref for Rare {
    type Target = RareAttributes;
    fn deref(&self) -> &RareAttributes {
        self.0.as_deref().unwrap_or(&NO_RARE_ATTRIBUTES)
    }
}

impl PartialEq for Rare {
    fn eq(&self, other: &Rare) -> bool {
        **self == **other
    }
}

impl Eq for Rare {}

impl std::hash::Hash for Rare {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Nothing for the common case, so a set without rare attributes
        // hashes as fast as before; by content otherwise.
        if !self.is_empty() {
            (**self).hash(state)
        }
    }
}

/// Per-session codec settings, from the capabilities both sides advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCodec {
    /// Both sides advertised the 4-octet-AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Both sides advertised extended messages (RFC 8654): 65535-byte limit.
    pub extended_message: bool,
    /// Both sides advertised IPv4 unicast NLRI with IPv6 next hops (RFC
    /// 8950); without it an IPv4 MP_REACH must carry a 4-octet next hop
    /// (RFC 7606 §7.11).
    pub extended_next_hop_ipv4: bool,
}

impl Default for SessionCodec {
    /// The conservative setting before OPENs are exchanged.
    fn default() -> Self {
        SessionCodec {
            four_octet_as: false,
            extended_message: false,
            extended_next_hop_ipv4: false,
        }
    }
}

impl SessionCodec {
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn an_empty_rare_box_is_equal_to_none_and_hashes_alike() {
        let hasher = std::collections::hash_map::RandomState::new();
        let plain = PathAttributes {
            origin: Some(Origin::Igp),
            communities: vec![1, 2],
            ..Default::default()
        };
        let mut boxed = plain.clone();
        boxed.rare.make_mut().cluster_list.clear();
        assert!(boxed.rare.get_mut().is_some(), "make_mut allocates the box");
        assert_eq!(plain, boxed);
        assert_eq!(hasher.hash_one(&plain), hasher.hash_one(&boxed));
        boxed.rare.compact();
        assert!(boxed.rare.get_mut().is_none(), "compact frees an empty box");

        let mut with = plain.clone();
        with.rare.make_mut().originator_id = Some(Ipv4Addr::new(192, 0, 2, 1));
        assert_ne!(plain, with);
        with.rare.compact();
        assert!(with.rare.get_mut().is_some(), "compact keeps a used box");
        assert_eq!(with.rare.originator_id, Some(Ipv4Addr::new(192, 0, 2, 1)));
        let from: Rare = RareAttributes::default().into();
        assert!(from.is_empty() && from.0.is_none());
    }

    #[test]
    fn path_attributes_stay_small() {
        // A full IPv4 table interns ~330k sets: each byte here is ~0.3 MB.
        assert!(
            std::mem::size_of::<PathAttributes>() <= 96,
            "PathAttributes grew to {} bytes",
            std::mem::size_of::<PathAttributes>()
        );
    }
}
