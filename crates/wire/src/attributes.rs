//! Path attributes (RFC 4271 §4.3, §5) and the RFC 7606 classification of
//! malformed ones.
//!
//! One table, [`SPECS`], drives decoding: for each attribute the codec
//! knows, its expected Optional/Transitive flags and what a malformed
//! instance costs (RFC 7606 §2):
//!
//! | attribute | malformed → | RFC 7606 |
//! |---|---|---|
//! | ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF | treat-as-withdraw | §7.1–§7.5 |
//! | ATOMIC_AGGREGATE, AGGREGATOR | attribute discard | §7.6, §7.7 |
//! | COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST | treat-as-withdraw | §7.8–§7.10 |
//! | MP_REACH_NLRI, MP_UNREACH_NLRI | session reset | §7.11, §7.12, §5.3 |
//! | EXTENDED_COMMUNITIES, LARGE_COMMUNITY | treat-as-withdraw | §7.14, RFC 8092 §6 |
//! | AS4_PATH, AS4_AGGREGATOR | attribute discard | RFC 6793 §6 |
//!
//! Other rules applied here:
//! - Flags in conflict with the table (§3 c): treat-as-withdraw, except for
//!   the attribute-discard attributes, whose own specification mandates
//!   discard. MP_REACH/MP_UNREACH with bad flags are still parsed, so
//!   their NLRI can be withdrawn.
//! - Attribute overrunning the attribute field, or too few octets left for
//!   a header (§4): treat-as-withdraw, the Total Path Attribute Length
//!   locating the NLRI. When the overrunning attribute is MP_REACH or
//!   MP_UNREACH its NLRI cannot be parsed: session reset (§3, last para).
//! - Duplicates (§3 g): all but the first discarded; duplicate MP_REACH or
//!   MP_UNREACH: session reset (3/1).
//! - Unrecognised attributes: well-known → session reset 3/2 (RFC 4271
//!   §6.3); optional transitive → kept in `unknown` with flags as received;
//!   optional non-transitive → dropped quietly (RFC 4271 §5).
//! - MP_REACH/MP_UNREACH of an AFI/SAFI other than IPv4/IPv6 unicast
//!   (never negotiated by clos): attribute discard, reported.
//! - AS4_PATH/AS4_AGGREGATOR from a NEW speaker: discarded (RFC 6793 §3);
//!   from an OLD one merged (§4.2.3, see `as_path`).
//!
//! Encode writes MP_REACH_NLRI and MP_UNREACH_NLRI first (RFC 7606 §5.1
//! requires it so that a receiver can always find the NLRI), then every
//! other attribute by ascending type code, with the Extended Length flag
//! when a value exceeds 255 octets.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::as_path::{as4_path_for, decode_as_path, encode_as_path, merge_as4_path, strip_confed};
use crate::decode::{UpdateAction, UpdateIssue};
use crate::error::{DecodeError, EncodeError};
use crate::nlri::{parse_family, write_prefix};
use crate::types::{
    attribute_flags as flag, attribute_type as ty, notification as code, Aggregator,
    LargeCommunity, MpReach, MpUnreach, NextHop, Origin, PathAttributes, RawAttribute,
    SessionCodec, AS_TRANS,
};
use crate::{AsPath, Family};

/// What a malformed attribute costs (RFC 7606 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnMalformed {
    TreatAsWithdraw,
    AttributeDiscard,
    SessionReset,
}

/// What the codec knows about one attribute type.
struct Spec {
    type_code: u8,
    name: &'static str,
    /// Expected Optional and Transitive bits.
    flags: u8,
    on_malformed: OnMalformed,
}

const WELL_KNOWN: u8 = flag::TRANSITIVE;
const OPTIONAL_TRANSITIVE: u8 = flag::OPTIONAL | flag::TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE: u8 = flag::OPTIONAL;

const fn spec(type_code: u8, name: &'static str, flags: u8, on_malformed: OnMalformed) -> Spec {
    Spec {
        type_code,
        name,
        flags,
        on_malformed,
    }
}

use OnMalformed::{
    AttributeDiscard as Discard, SessionReset as Reset, TreatAsWithdraw as Withdraw,
};

/// Every attribute the codec interprets.
static SPECS: &[Spec] = &[
    spec(ty::ORIGIN, "ORIGIN", WELL_KNOWN, Withdraw),
    spec(ty::AS_PATH, "AS_PATH", WELL_KNOWN, Withdraw),
    spec(ty::NEXT_HOP, "NEXT_HOP", WELL_KNOWN, Withdraw),
    spec(
        ty::MULTI_EXIT_DISC,
        "MULTI_EXIT_DISC",
        OPTIONAL_NON_TRANSITIVE,
        Withdraw,
    ),
    spec(ty::LOCAL_PREF, "LOCAL_PREF", WELL_KNOWN, Withdraw),
    spec(
        ty::ATOMIC_AGGREGATE,
        "ATOMIC_AGGREGATE",
        WELL_KNOWN,
        Discard,
    ),
    spec(ty::AGGREGATOR, "AGGREGATOR", OPTIONAL_TRANSITIVE, Discard),
    spec(
        ty::COMMUNITIES,
        "COMMUNITIES",
        OPTIONAL_TRANSITIVE,
        Withdraw,
    ),
    spec(
        ty::ORIGINATOR_ID,
        "ORIGINATOR_ID",
        OPTIONAL_NON_TRANSITIVE,
        Withdraw,
    ),
    spec(
        ty::CLUSTER_LIST,
        "CLUSTER_LIST",
        OPTIONAL_NON_TRANSITIVE,
        Withdraw,
    ),
    spec(
        ty::MP_REACH_NLRI,
        "MP_REACH_NLRI",
        OPTIONAL_NON_TRANSITIVE,
        Reset,
    ),
    spec(
        ty::MP_UNREACH_NLRI,
        "MP_UNREACH_NLRI",
        OPTIONAL_NON_TRANSITIVE,
        Reset,
    ),
    spec(
        ty::EXTENDED_COMMUNITIES,
        "EXTENDED_COMMUNITIES",
        OPTIONAL_TRANSITIVE,
        Withdraw,
    ),
    spec(ty::AS4_PATH, "AS4_PATH", OPTIONAL_TRANSITIVE, Discard),
    spec(
        ty::AS4_AGGREGATOR,
        "AS4_AGGREGATOR",
        OPTIONAL_TRANSITIVE,
        Discard,
    ),
    spec(
        ty::LARGE_COMMUNITY,
        "LARGE_COMMUNITY",
        OPTIONAL_TRANSITIVE,
        Withdraw,
    ),
];

fn find_spec(type_code: u8) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.type_code == type_code)
}

/// The name of an attribute type, for logs and the CLI.
pub fn attribute_name(type_code: u8) -> Option<&'static str> {
    find_spec(type_code).map(|s| s.name)
}

fn is_mp(type_code: u8) -> bool {
    type_code == ty::MP_REACH_NLRI || type_code == ty::MP_UNREACH_NLRI
}

/// A malformed attribute value: the RFC 4271 subcode and why.
struct Malformed {
    subcode: u8,
    reason: String,
}

fn malformed(subcode: u8, reason: impl Into<String>) -> Malformed {
    Malformed {
        subcode,
        reason: reason.into(),
    }
}

fn length_error(name: &str, len: usize, expected: &str) -> Malformed {
    malformed(
        code::ATTRIBUTE_LENGTH_ERROR,
        format!("{name} length {len}, expected {expected}"),
    )
}

fn issue(action: UpdateAction, type_code: u8, subcode: u8, reason: String) -> UpdateIssue {
    UpdateIssue {
        action,
        type_code,
        subcode,
        reason,
    }
}

/// Decoding state for one attribute field.
struct Decoder<'a> {
    codec: &'a SessionCodec,
    issues: &'a mut Vec<UpdateIssue>,
    attrs: PathAttributes,
    as4_path: Option<AsPath>,
    as4_aggregator: Option<Aggregator>,
}

/// Decode the Path Attributes field of an UPDATE (RFC 4271 §4.3), adding
/// RFC 7606 outcomes to `issues`. Err is a session reset.
pub(crate) fn decode_attributes(
    field: &[u8],
    codec: &SessionCodec,
    issues: &mut Vec<UpdateIssue>,
) -> Result<PathAttributes, DecodeError> {
    let mut d = Decoder {
        codec,
        issues,
        attrs: PathAttributes::default(),
        as4_path: None,
        as4_aggregator: None,
    };
    let mut seen = [false; 256];
    let mut rest = field;
    while let Some(&flags) = rest.first() {
        let header_len = if flags & flag::EXTENDED_LENGTH != 0 {
            4
        } else {
            3
        };
        if rest.len() < header_len {
            d.issues.push(issue(
                UpdateAction::TreatAsWithdraw,
                0,
                code::MALFORMED_ATTRIBUTE_LIST,
                format!(
                    "{} octets left in the attribute field, too few for an attribute header (RFC 7606 §4)",
                    rest.len()
                ),
            ));
            break;
        }
        let type_code = rest[1];
        let len = if header_len == 4 {
            usize::from(u16::from_be_bytes([rest[2], rest[3]]))
        } else {
            usize::from(rest[2])
        };
        let Some(value) = rest.get(header_len..header_len + len) else {
            let reason = format!(
                "attribute {type_code} of length {len} overruns the attribute field ({} octets left)",
                rest.len() - header_len
            );
            if is_mp(type_code) {
                return Err(DecodeError::update(
                    code::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    reason,
                ));
            }
            d.issues.push(issue(
                UpdateAction::TreatAsWithdraw,
                type_code,
                code::MALFORMED_ATTRIBUTE_LIST,
                format!("{reason} (RFC 7606 §4)"),
            ));
            break;
        };
        let whole = &rest[..header_len + len];
        rest = &rest[header_len + len..];

        if std::mem::replace(&mut seen[usize::from(type_code)], true) {
            if is_mp(type_code) {
                return Err(DecodeError::update(
                    code::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    format!("attribute {type_code} appears more than once (RFC 7606 §3 g)"),
                ));
            }
            d.issues.push(issue(
                UpdateAction::AttributeDiscard,
                type_code,
                code::MALFORMED_ATTRIBUTE_LIST,
                format!("duplicate attribute {type_code} discarded (RFC 7606 §3 g)"),
            ));
            continue;
        }

        let Some(spec) = find_spec(type_code) else {
            d.unknown(flags, type_code, value, whole)?;
            continue;
        };
        if flags & OPTIONAL_TRANSITIVE != spec.flags {
            let action = if spec.on_malformed == Discard {
                UpdateAction::AttributeDiscard
            } else {
                UpdateAction::TreatAsWithdraw
            };
            d.issues.push(issue(
                action,
                type_code,
                code::ATTRIBUTE_FLAGS_ERROR,
                format!(
                    "{} flags {flags:#04x} conflict with the expected {:#04x} (RFC 7606 §3 c)",
                    spec.name, spec.flags
                ),
            ));
            if !is_mp(type_code) {
                continue;
            }
            // Parse MP attributes anyway: their NLRI is what gets withdrawn.
        }
        if let Err(m) = d.value(type_code, value) {
            let reason = format!("malformed {}: {}", spec.name, m.reason);
            let action = match spec.on_malformed {
                Reset => {
                    return Err(DecodeError::update(m.subcode, whole.to_vec(), reason));
                }
                Withdraw => UpdateAction::TreatAsWithdraw,
                Discard => UpdateAction::AttributeDiscard,
            };
            d.issues.push(issue(action, type_code, m.subcode, reason));
        }
    }
    d.merge_as4();
    d.attrs.rare.compact();
    Ok(d.attrs)
}

impl Decoder<'_> {
    /// An attribute with no entry in [`SPECS`].
    fn unknown(
        &mut self,
        flags: u8,
        type_code: u8,
        value: &[u8],
        whole: &[u8],
    ) -> Result<(), DecodeError> {
        if flags & flag::OPTIONAL == 0 {
            return Err(DecodeError::update(
                code::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                whole.to_vec(),
                format!("unrecognised well-known attribute {type_code}"),
            ));
        }
        if flags & flag::TRANSITIVE != 0 {
            self.attrs.rare.make_mut().unknown.push(RawAttribute {
                flags,
                type_code,
                value: value.to_vec(),
            });
        }
        Ok(())
    }

    /// Decode the value of a known attribute into `self.attrs`.
    fn value(&mut self, type_code: u8, v: &[u8]) -> Result<(), Malformed> {
        let a = &mut self.attrs;
        match type_code {
            ty::ORIGIN => {
                let &[o] = v else {
                    return Err(length_error("ORIGIN", v.len(), "1"));
                };
                a.origin = Some(match o {
                    0 => Origin::Igp,
                    1 => Origin::Egp,
                    2 => Origin::Incomplete,
                    _ => {
                        return Err(malformed(
                            code::INVALID_ORIGIN_ATTRIBUTE,
                            format!("value {o}"),
                        ))
                    }
                });
            }
            ty::AS_PATH => {
                let size = if self.codec.four_octet_as { 4 } else { 2 };
                let path =
                    decode_as_path(v, size).map_err(|r| malformed(code::MALFORMED_AS_PATH, r))?;
                a.as_path = Some(path);
            }
            ty::NEXT_HOP => a.next_hop = Some(Ipv4Addr::from(u32_of("NEXT_HOP", v)?)),
            ty::MULTI_EXIT_DISC => a.med = Some(u32_of("MULTI_EXIT_DISC", v)?),
            ty::LOCAL_PREF => a.local_pref = Some(u32_of("LOCAL_PREF", v)?),
            ty::ATOMIC_AGGREGATE => {
                if !v.is_empty() {
                    return Err(length_error("ATOMIC_AGGREGATE", v.len(), "0"));
                }
                a.atomic_aggregate = true;
            }
            ty::AGGREGATOR => {
                let aggregator = match (v.len(), self.codec.four_octet_as) {
                    (6, false) => Aggregator {
                        asn: u32::from(u16::from_be_bytes([v[0], v[1]])),
                        address: Ipv4Addr::new(v[2], v[3], v[4], v[5]),
                    },
                    (8, true) => aggregator4(v),
                    (len, four) => {
                        return Err(length_error(
                            "AGGREGATOR",
                            len,
                            if four { "8" } else { "6" },
                        ))
                    }
                };
                a.rare.make_mut().aggregator = Some(aggregator);
            }
            ty::COMMUNITIES => {
                multiple_of("COMMUNITIES", v, 4)?;
                a.communities = v
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
            }
            ty::ORIGINATOR_ID => {
                a.rare.make_mut().originator_id = Some(Ipv4Addr::from(u32_of("ORIGINATOR_ID", v)?))
            }
            ty::CLUSTER_LIST => {
                multiple_of("CLUSTER_LIST", v, 4)?;
                a.rare.make_mut().cluster_list = v
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect();
            }
            ty::EXTENDED_COMMUNITIES => {
                multiple_of("EXTENDED_COMMUNITIES", v, 8)?;
                a.rare.make_mut().extended_communities = v
                    .chunks_exact(8)
                    .map(|c| {
                        let mut e = [0u8; 8];
                        e.copy_from_slice(c);
                        e
                    })
                    .collect();
            }
            ty::LARGE_COMMUNITY => {
                multiple_of("LARGE_COMMUNITY", v, 12)?;
                a.rare.make_mut().large_communities = v
                    .chunks_exact(12)
                    .map(|c| LargeCommunity {
                        global_admin: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                        local_data1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                        local_data2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                    })
                    .collect();
            }
            ty::MP_REACH_NLRI => self.mp_reach(v)?,
            ty::MP_UNREACH_NLRI => self.mp_unreach(v)?,
            ty::AS4_PATH => {
                if self.new_speaker_as4(type_code) {
                    return Ok(());
                }
                let mut path =
                    decode_as_path(v, 4).map_err(|r| malformed(code::MALFORMED_AS_PATH, r))?;
                if strip_confed(&mut path) {
                    self.issues.push(issue(
                        UpdateAction::AttributeDiscard,
                        type_code,
                        code::MALFORMED_AS_PATH,
                        "confederation segments in AS4_PATH discarded (RFC 6793 §6)".into(),
                    ));
                }
                self.as4_path = Some(path);
            }
            ty::AS4_AGGREGATOR => {
                if self.new_speaker_as4(type_code) {
                    return Ok(());
                }
                if v.len() != 8 {
                    return Err(length_error("AS4_AGGREGATOR", v.len(), "8"));
                }
                self.as4_aggregator = Some(aggregator4(v));
            }
            _ => {}
        }
        Ok(())
    }

    /// AS4_PATH/AS4_AGGREGATOR between NEW speakers: discard (RFC 6793 §3).
    fn new_speaker_as4(&mut self, type_code: u8) -> bool {
        if self.codec.four_octet_as {
            self.issues.push(issue(
                UpdateAction::AttributeDiscard,
                type_code,
                code::OPTIONAL_ATTRIBUTE_ERROR,
                format!("attribute {type_code} from a 4-octet-AS speaker discarded (RFC 6793 §3)"),
            ));
        }
        self.codec.four_octet_as
    }

    /// MP_REACH_NLRI (RFC 4760 §3; next hops per RFC 2545 §3, RFC 8950 §3).
    fn mp_reach(&mut self, v: &[u8]) -> Result<(), Malformed> {
        let err = |r: String| malformed(code::OPTIONAL_ATTRIBUTE_ERROR, r);
        let Some(&[afi_hi, afi_lo, safi, nh_len]) = v.get(..4) else {
            return Err(err(format!("length {} too short", v.len())));
        };
        let afi = u16::from_be_bytes([afi_hi, afi_lo]);
        let nh_len = usize::from(nh_len);
        // Next hop, then one reserved octet, then NLRI.
        let (Some(nh), Some(nlri)) = (v.get(4..4 + nh_len), v.get(5 + nh_len..)) else {
            return Err(err(format!(
                "next hop length {nh_len} overruns the attribute"
            )));
        };
        let Some(family) = Family::from_afi_safi(afi, safi) else {
            self.unsupported_family(ty::MP_REACH_NLRI, afi, safi);
            return Ok(());
        };
        let next_hop = match (family, nh.len()) {
            (Family::Ipv4Unicast, 4) => NextHop::V4(Ipv4Addr::new(nh[0], nh[1], nh[2], nh[3])),
            // An IPv4 route with an IPv6 next hop only where RFC 8950 was
            // negotiated; otherwise the length is wrong (RFC 7606 §7.11).
            (Family::Ipv4Unicast, 16 | 32) if !self.codec.extended_next_hop_ipv4 => {
                return Err(err(format!(
                    "next hop length {} for ipv4-unicast without the extended next hop capability (RFC 8950, RFC 7606 §7.11)",
                    nh.len()
                )))
            }
            (_, 16) => NextHop::V6 {
                global: ipv6(&nh[..16]),
                link_local: None,
            },
            (_, 32) => NextHop::V6 {
                global: ipv6(&nh[..16]),
                link_local: Some(ipv6(&nh[16..])),
            },
            (_, len) => {
                return Err(err(format!(
                    "next hop length {len} invalid for {family} (RFC 7606 §7.11)"
                )))
            }
        };
        let nlri =
            parse_family(nlri, family).map_err(|r| err(format!("NLRI: {r} (RFC 7606 §5.3)")))?;
        self.attrs.mp_reach = Some(Box::new(MpReach {
            afi,
            safi,
            next_hop,
            nlri,
        }));
        Ok(())
    }

    /// MP_UNREACH_NLRI (RFC 4760 §4).
    fn mp_unreach(&mut self, v: &[u8]) -> Result<(), Malformed> {
        let err = |r: String| malformed(code::OPTIONAL_ATTRIBUTE_ERROR, r);
        let Some(&[afi_hi, afi_lo, safi]) = v.get(..3) else {
            return Err(err(format!("length {} too short", v.len())));
        };
        let afi = u16::from_be_bytes([afi_hi, afi_lo]);
        let Some(family) = Family::from_afi_safi(afi, safi) else {
            self.unsupported_family(ty::MP_UNREACH_NLRI, afi, safi);
            return Ok(());
        };
        let withdrawn = parse_family(&v[3..], family)
            .map_err(|r| err(format!("withdrawn: {r} (RFC 7606 §5.3)")))?;
        self.attrs.rare.make_mut().mp_unreach = Some(MpUnreach {
            afi,
            safi,
            withdrawn,
        });
        Ok(())
    }

    /// An AFI/SAFI clos never negotiates: nothing of it can be in our RIBs,
    /// so the attribute is dropped rather than the session reset.
    fn unsupported_family(&mut self, type_code: u8, afi: u16, safi: u8) {
        self.issues.push(issue(
            UpdateAction::AttributeDiscard,
            type_code,
            code::OPTIONAL_ATTRIBUTE_ERROR,
            format!("attribute {type_code} for unsupported AFI {afi} SAFI {safi} discarded"),
        ));
    }

    /// Rebuild 4-octet AGGREGATOR and AS_PATH from an OLD speaker's
    /// AS4_AGGREGATOR and AS4_PATH (RFC 6793 §4.2.3).
    fn merge_as4(&mut self) {
        let as4_aggregator = self.as4_aggregator.take();
        let as4_path = self.as4_path.take();
        if self.codec.four_octet_as {
            return;
        }
        if let Some(aggregator) = self
            .attrs
            .rare
            .get_mut()
            .and_then(|r| r.aggregator.as_mut())
        {
            if aggregator.asn != u32::from(AS_TRANS) {
                // An OLD speaker aggregated after the AS4 attributes were
                // made: they are stale.
                return;
            }
            if let Some(a4) = as4_aggregator {
                *aggregator = a4;
            }
        }
        if let (Some(path), Some(as4)) = (&mut self.attrs.as_path, as4_path) {
            *path = merge_as4_path(path, &as4);
        }
    }
}

fn aggregator4(v: &[u8]) -> Aggregator {
    Aggregator {
        asn: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        address: Ipv4Addr::new(v[4], v[5], v[6], v[7]),
    }
}

fn ipv6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

fn u32_of(name: &str, v: &[u8]) -> Result<u32, Malformed> {
    let bytes: [u8; 4] = v.try_into().map_err(|_| length_error(name, v.len(), "4"))?;
    Ok(u32::from_be_bytes(bytes))
}

/// RFC 7606 §7.8, §7.10, §7.14 and RFC 8092 §6: a non-zero multiple.
fn multiple_of(name: &str, v: &[u8], unit: usize) -> Result<(), Malformed> {
    if v.is_empty() || !v.len().is_multiple_of(unit) {
        return Err(length_error(
            name,
            v.len(),
            &format!("a non-zero multiple of {unit}"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Encode

/// Append one attribute: flags, type, 1- or 2-octet length, value.
pub(crate) fn write_attribute(
    flags: u8,
    type_code: u8,
    value: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let len = u16::try_from(value.len()).map_err(|_| EncodeError::AttributeTooLong {
        type_code,
        len: value.len(),
    })?;
    // The low four flag bits are unused and sent as zero (RFC 4271 §4.3).
    let mut flags = flags & 0xf0;
    if len > 255 {
        flags |= flag::EXTENDED_LENGTH;
    }
    out.push(flags);
    out.push(type_code);
    if flags & flag::EXTENDED_LENGTH != 0 {
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(len as u8);
    }
    out.extend_from_slice(value);
    Ok(())
}

fn spec_flags(type_code: u8) -> u8 {
    find_spec(type_code).map_or(OPTIONAL_TRANSITIVE, |s| s.flags)
}

/// The value of MP_REACH_NLRI (without the attribute header).
pub(crate) fn mp_reach_value(reach: &MpReach, out: &mut Vec<u8>) {
    out.extend_from_slice(&reach.afi.to_be_bytes());
    out.push(reach.safi);
    match reach.next_hop {
        NextHop::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        NextHop::V6 {
            global,
            link_local: None,
        } => {
            out.push(16);
            out.extend_from_slice(&global.octets());
        }
        NextHop::V6 {
            global,
            link_local: Some(ll),
        } => {
            out.push(32);
            out.extend_from_slice(&global.octets());
            out.extend_from_slice(&ll.octets());
        }
    }
    out.push(0);
    for p in &reach.nlri {
        write_prefix(p, out);
    }
}

/// Append the MP_REACH_NLRI attribute.
pub(crate) fn write_mp_reach(reach: &MpReach, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut v = Vec::new();
    mp_reach_value(reach, &mut v);
    write_attribute(spec_flags(ty::MP_REACH_NLRI), ty::MP_REACH_NLRI, &v, out)
}

/// Append the MP_UNREACH_NLRI attribute.
pub(crate) fn write_mp_unreach(unreach: &MpUnreach, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut v = Vec::new();
    v.extend_from_slice(&unreach.afi.to_be_bytes());
    v.push(unreach.safi);
    for p in &unreach.withdrawn {
        write_prefix(p, &mut v);
    }
    write_attribute(
        spec_flags(ty::MP_UNREACH_NLRI),
        ty::MP_UNREACH_NLRI,
        &v,
        out,
    )
}

/// Append every attribute of `a` except MP_REACH/MP_UNREACH, by ascending
/// type code. Towards an OLD speaker, AS_PATH and AGGREGATOR carry 2-octet
/// ASNs and AS4_PATH/AS4_AGGREGATOR are added when needed (RFC 6793 §4.2.2).
pub(crate) fn write_non_mp_attributes(
    a: &PathAttributes,
    codec: &SessionCodec,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    // Attributes go out in ascending type code (MP ones were written first
    // by the caller), each value written straight into `out`: no buffer per
    // attribute, since this runs once per UPDATE a peer is sent.
    let mut unknown: Vec<&RawAttribute> = a.rare.unknown.iter().collect();
    unknown.sort_by_key(|raw| raw.type_code);
    let mut unknown = unknown.into_iter().peekable();
    let mut w = AttributeWriter { out };
    // Unknown attributes whose type code sorts before `next`.
    let mut flush_unknown = |w: &mut AttributeWriter, next: u8| -> Result<(), EncodeError> {
        while let Some(raw) = unknown.next_if(|raw| raw.type_code < next) {
            // Passing on an optional transitive attribute we do not
            // recognise sets Partial (RFC 4271 §5).
            let mut flags = raw.flags;
            if flags & OPTIONAL_TRANSITIVE == OPTIONAL_TRANSITIVE {
                flags |= flag::PARTIAL;
            }
            w.write(flags, raw.type_code, |out| {
                out.extend_from_slice(&raw.value)
            })?;
        }
        Ok(())
    };
    let asn_size = if codec.four_octet_as { 4 } else { 2 };
    if let Some(o) = a.origin {
        flush_unknown(&mut w, ty::ORIGIN)?;
        w.known(ty::ORIGIN, |out| out.push(o as u8))?;
    }
    // AS4_PATH is sent only when some ASN needs it; an AGGREGATOR then goes
    // as AS_TRANS plus AS4_AGGREGATOR even if its ASN fits 2 octets, since a
    // receiver ignores AS4_PATH beside an AGGREGATOR that is not AS_TRANS
    // (RFC 6793 §4.2.3).
    let as4_path = match &a.as_path {
        Some(path) if !codec.four_octet_as => as4_path_for(path),
        _ => None,
    };
    if let Some(path) = &a.as_path {
        flush_unknown(&mut w, ty::AS_PATH)?;
        w.known(ty::AS_PATH, |out| encode_as_path(path, asn_size, out))?;
    }
    if let Some(nh) = a.next_hop {
        flush_unknown(&mut w, ty::NEXT_HOP)?;
        w.known(ty::NEXT_HOP, |out| out.extend_from_slice(&nh.octets()))?;
    }
    if let Some(med) = a.med {
        flush_unknown(&mut w, ty::MULTI_EXIT_DISC)?;
        w.known(ty::MULTI_EXIT_DISC, |out| {
            out.extend_from_slice(&med.to_be_bytes())
        })?;
    }
    if let Some(lp) = a.local_pref {
        flush_unknown(&mut w, ty::LOCAL_PREF)?;
        w.known(ty::LOCAL_PREF, |out| {
            out.extend_from_slice(&lp.to_be_bytes())
        })?;
    }
    if a.atomic_aggregate {
        flush_unknown(&mut w, ty::ATOMIC_AGGREGATE)?;
        w.known(ty::ATOMIC_AGGREGATE, |_| {})?;
    }
    let mut as4_aggregator = None;
    if let Some(agg) = a.rare.aggregator {
        flush_unknown(&mut w, ty::AGGREGATOR)?;
        w.known(ty::AGGREGATOR, |out| {
            if codec.four_octet_as {
                out.extend_from_slice(&agg.asn.to_be_bytes());
            } else {
                let short = u16::try_from(agg.asn).ok().filter(|_| as4_path.is_none());
                out.extend_from_slice(&short.unwrap_or(AS_TRANS).to_be_bytes());
                if short.is_none() {
                    as4_aggregator = Some(agg);
                }
            }
            out.extend_from_slice(&agg.address.octets());
        })?;
    }
    if !a.communities.is_empty() {
        flush_unknown(&mut w, ty::COMMUNITIES)?;
        w.known(ty::COMMUNITIES, |out| {
            for c in &a.communities {
                out.extend_from_slice(&c.to_be_bytes());
            }
        })?;
    }
    if let Some(id) = a.rare.originator_id {
        flush_unknown(&mut w, ty::ORIGINATOR_ID)?;
        w.known(ty::ORIGINATOR_ID, |out| out.extend_from_slice(&id.octets()))?;
    }
    if !a.rare.cluster_list.is_empty() {
        flush_unknown(&mut w, ty::CLUSTER_LIST)?;
        w.known(ty::CLUSTER_LIST, |out| {
            for c in &a.rare.cluster_list {
                out.extend_from_slice(&c.octets());
            }
        })?;
    }
    if !a.rare.extended_communities.is_empty() {
        flush_unknown(&mut w, ty::EXTENDED_COMMUNITIES)?;
        w.known(ty::EXTENDED_COMMUNITIES, |out| {
            for c in &a.rare.extended_communities {
                out.extend_from_slice(c);
            }
        })?;
    }
    if let Some(as4) = &as4_path {
        flush_unknown(&mut w, ty::AS4_PATH)?;
        w.known(ty::AS4_PATH, |out| encode_as_path(as4, 4, out))?;
    }
    if let Some(agg) = as4_aggregator {
        flush_unknown(&mut w, ty::AS4_AGGREGATOR)?;
        w.known(ty::AS4_AGGREGATOR, |out| {
            out.extend_from_slice(&agg.asn.to_be_bytes());
            out.extend_from_slice(&agg.address.octets());
        })?;
    }
    if !a.rare.large_communities.is_empty() {
        flush_unknown(&mut w, ty::LARGE_COMMUNITY)?;
        w.known(ty::LARGE_COMMUNITY, |out| {
            for c in &a.rare.large_communities {
                for v in [c.global_admin, c.local_data1, c.local_data2] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
        })?;
    }
    flush_unknown(&mut w, u8::MAX)?;
    // An unknown attribute of type 255 sorts last.
    for raw in unknown {
        let mut flags = raw.flags;
        if flags & OPTIONAL_TRANSITIVE == OPTIONAL_TRANSITIVE {
            flags |= flag::PARTIAL;
        }
        w.write(flags, raw.type_code, |out| {
            out.extend_from_slice(&raw.value)
        })?;
    }
    Ok(())
}

/// Writes attributes straight into the message buffer.
struct AttributeWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl AttributeWriter<'_> {
    /// A known attribute, with the flags its specification gives it.
    fn known(
        &mut self,
        type_code: u8,
        value: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), EncodeError> {
        self.write(spec_flags(type_code), type_code, value)
    }

    /// One attribute whose value `value` appends: the header is written with
    /// a 2-octet length and shrunk to the 1-octet form (one move of the
    /// value) when it fits and the flags did not ask for extended length —
    /// the same bytes `write_attribute` produces.
    fn write(
        &mut self,
        flags: u8,
        type_code: u8,
        value: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), EncodeError> {
        let out = &mut *self.out;
        let start = out.len();
        out.extend_from_slice(&[0, type_code, 0, 0]);
        value(out);
        let len = out.len() - start - 4;
        let Ok(len16) = u16::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::AttributeTooLong { type_code, len });
        };
        // The low four flag bits are unused and sent as zero (RFC 4271 §4.3).
        let mut flags = flags & 0xf0;
        if len > 255 {
            flags |= flag::EXTENDED_LENGTH;
        }
        out[start] = flags;
        if flags & flag::EXTENDED_LENGTH != 0 {
            out[start + 2..start + 4].copy_from_slice(&len16.to_be_bytes());
        } else {
            out[start + 2] = len as u8;
            out.copy_within(start + 4.., start + 3);
            out.truncate(out.len() - 1);
        }
        Ok(())
    }
}

/// Append the whole Path Attributes field of `a`.
pub(crate) fn write_attributes(
    a: &PathAttributes,
    codec: &SessionCodec,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if let Some(reach) = &a.mp_reach {
        write_mp_reach(reach, out)?;
    }
    if let Some(unreach) = &a.rare.mp_unreach {
        write_mp_unreach(unreach, out)?;
    }
    write_non_mp_attributes(a, codec, out)
}
