//! Messages written octet by octet from the RFC 4271 §4 layouts, so a
//! test can break exactly one field. Nothing here validates: that is the
//! point.

use clos_wire::{attribute_flags as flag, attribute_type as ty, message_type as mt};

use super::p;

/// Flags of a well-known attribute: Transitive (RFC 4271 §4.3).
pub const WELL_KNOWN: u8 = flag::TRANSITIVE;
/// Flags of an optional transitive attribute.
pub const OPTIONAL_TRANSITIVE: u8 = flag::OPTIONAL | flag::TRANSITIVE;
/// Flags of an optional non-transitive attribute.
pub const OPTIONAL: u8 = flag::OPTIONAL;

/// A whole message: marker, length (computed), type, body (§4.1).
pub fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(19 + body.len()).unwrap();
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

/// A bare header with any length field, and no body.
pub fn header(len: u16, kind: u8) -> Vec<u8> {
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind);
    out
}

/// An UPDATE whose two length fields match the parts given (§4.3).
pub fn update(withdrawn: &[u8], attributes: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(withdrawn.len()).unwrap().to_be_bytes());
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend_from_slice(attributes);
    body.extend_from_slice(nlri);
    message(mt::UPDATE, &body)
}

/// One path attribute: flags, type, 1-octet length (2 with Extended
/// Length), value.
pub fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![flags, type_code];
    if flags & flag::EXTENDED_LENGTH != 0 {
        out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
    } else {
        out.push(u8::try_from(value.len()).unwrap());
    }
    out.extend_from_slice(value);
    out
}

pub fn origin(value: u8) -> Vec<u8> {
    attr(WELL_KNOWN, ty::ORIGIN, &[value])
}

/// AS_PATH of one AS_SEQUENCE with 4-octet ASNs (empty: no segment).
pub fn as_path(asns: &[u32]) -> Vec<u8> {
    let mut v = Vec::new();
    if !asns.is_empty() {
        v.push(2);
        v.push(u8::try_from(asns.len()).unwrap());
        for a in asns {
            v.extend_from_slice(&a.to_be_bytes());
        }
    }
    attr(WELL_KNOWN, ty::AS_PATH, &v)
}

pub fn next_hop(a: [u8; 4]) -> Vec<u8> {
    attr(WELL_KNOWN, ty::NEXT_HOP, &a)
}

pub fn communities(values: &[u32]) -> Vec<u8> {
    let v: Vec<u8> = values.iter().flat_map(|c| c.to_be_bytes()).collect();
    attr(OPTIONAL_TRANSITIVE, ty::COMMUNITIES, &v)
}

/// One prefix in NLRI form: length in bits, then the fewest octets.
pub fn prefix(s: &str) -> Vec<u8> {
    let net = p(s);
    let len = net.prefix_len();
    let octets = usize::from(len).div_ceil(8);
    let mut out = vec![len];
    match net {
        clos_wire::IpNet::V4(n) => out.extend_from_slice(&n.network().octets()[..octets]),
        clos_wire::IpNet::V6(n) => out.extend_from_slice(&n.network().octets()[..octets]),
    }
    out
}

/// MP_REACH_NLRI value (RFC 4760 §3): AFI, SAFI, next hop length and
/// address, reserved octet, NLRI.
pub fn mp_reach_value(afi: u16, safi: u8, next_hop: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = afi.to_be_bytes().to_vec();
    v.push(safi);
    v.push(u8::try_from(next_hop.len()).unwrap());
    v.extend_from_slice(next_hop);
    v.push(0);
    v.extend_from_slice(nlri);
    v
}

/// MP_UNREACH_NLRI value (RFC 4760 §4): AFI, SAFI, withdrawn routes.
pub fn mp_unreach_value(afi: u16, safi: u8, withdrawn: &[u8]) -> Vec<u8> {
    let mut v = afi.to_be_bytes().to_vec();
    v.push(safi);
    v.extend_from_slice(withdrawn);
    v
}

/// An OPEN body (RFC 4271 §4.2) with raw optional parameters.
pub fn open_message(my_as: u16, hold: u16, id: [u8; 4], parameters: &[u8]) -> Vec<u8> {
    let mut body = vec![4];
    body.extend_from_slice(&my_as.to_be_bytes());
    body.extend_from_slice(&hold.to_be_bytes());
    body.extend_from_slice(&id);
    body.push(u8::try_from(parameters.len()).unwrap());
    body.extend_from_slice(parameters);
    message(mt::OPEN, &body)
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
