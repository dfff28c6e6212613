//! Minimal UPDATE parsing for the monitors.
//!
//! Owns: splitting an UPDATE body into its fields, walking prefix fields
//! without allocating, and turning the attributes a monitor compares
//! (ORIGIN, AS_PATH, MED, COMMUNITIES, LARGE_COMMUNITY) into a
//! [`PathSpec`]. The monitor decodes attributes once per distinct attribute
//! block (it caches by bytes), so the per-prefix cost is one length byte,
//! a few octets and a hash-table update.
//!
//! Assumes what our sessions negotiate: 4-octet ASNs (RFC 6793), no
//! ADD-PATH, messages of at most 4096 bytes. Any malformation is an error
//! (the run fails): we are checking a DUT, not forgiving it (RFC 7606 is the
//! DUT's business, not the monitor's).
//!
//! [`decode_with_wire`] does the same through `clos_wire::decode_message`,
//! to compare costs (`--decoder wire`).

use clos_wire::{decode_message, Message, SessionCodec};

use crate::routes::PathSpec;
use std::hash::Hasher;

use crate::util::{Family, FastHasher, Prefix};

/// Marker put before the ASNs of a non-AS_SEQUENCE segment when flattening
/// an AS_PATH into a list (we never send one, so any appearance mismatches).
pub const SEGMENT_MARKER: u32 = 0xffff_ff00;

/// The fields of an UPDATE body (RFC 4271 §4.3), plus the prefix fields of
/// MP_REACH/MP_UNREACH (RFC 4760) when present.
#[derive(Debug, Default)]
pub struct UpdateFields<'a> {
    /// Withdrawn Routes (IPv4).
    pub withdrawn: &'a [u8],
    pub attributes: &'a [u8],
    /// NLRI (IPv4).
    pub nlri: &'a [u8],
    /// (AFI, SAFI, prefixes) of MP_REACH_NLRI.
    pub mp_reach: Option<(u16, u8, &'a [u8])>,
    /// (AFI, SAFI, prefixes) of MP_UNREACH_NLRI.
    pub mp_unreach: Option<(u16, u8, &'a [u8])>,
}

/// Walk the attributes: `f(flags, type, value)`.
pub fn for_each_attribute<'a>(
    attrs: &'a [u8],
    mut f: impl FnMut(u8, u8, &'a [u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut i = 0;
    while i < attrs.len() {
        let (Some(&flags), Some(&code)) = (attrs.get(i), attrs.get(i + 1)) else {
            return Err("attribute header truncated".into());
        };
        let (len, hdr) = if flags & 0x10 != 0 {
            match attrs.get(i + 2..i + 4) {
                Some(b) => (usize::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Err("attribute length truncated".into()),
            }
        } else {
            match attrs.get(i + 2) {
                Some(&b) => (usize::from(b), 3),
                None => return Err("attribute length truncated".into()),
            }
        };
        let Some(value) = attrs.get(i + hdr..i + hdr + len) else {
            return Err(format!("attribute {code} overruns the attribute field"));
        };
        f(flags, code, value)?;
        i += hdr + len;
    }
    Ok(())
}

/// Split an UPDATE body (after the 19-byte header).
pub fn split_update(body: &[u8]) -> Result<UpdateFields<'_>, String> {
    let wlen = match body.get(..2) {
        Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
        None => return Err("UPDATE shorter than 4 bytes".into()),
    };
    let withdrawn = body
        .get(2..2 + wlen)
        .ok_or("Withdrawn Routes Length overruns the message")?;
    let alen = match body.get(2 + wlen..4 + wlen) {
        Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
        None => return Err("no room for Total Path Attribute Length".into()),
    };
    let attributes = body
        .get(4 + wlen..4 + wlen + alen)
        .ok_or("Total Path Attribute Length overruns the message")?;
    let nlri = &body[4 + wlen + alen..];
    let mut fields = UpdateFields {
        withdrawn,
        attributes,
        nlri,
        ..Default::default()
    };
    for_each_attribute(attributes, |_, code, v| {
        match code {
            14 => {
                // AFI(2) SAFI(1) NH-len(1) NH reserved(1) NLRI
                let nh = usize::from(*v.get(3).ok_or("MP_REACH_NLRI truncated")?);
                let nlri = v.get(5 + nh..).ok_or("MP_REACH_NLRI next hop overruns")?;
                fields.mp_reach = Some((u16::from_be_bytes([v[0], v[1]]), v[2], nlri));
            }
            15 => {
                if v.len() < 3 {
                    return Err("MP_UNREACH_NLRI truncated".into());
                }
                fields.mp_unreach = Some((u16::from_be_bytes([v[0], v[1]]), v[2], &v[3..]));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(fields)
}

/// Call `f` for every prefix of a prefix field of `family`.
#[inline]
pub fn for_each_prefix(
    field: &[u8],
    family: Family,
    mut f: impl FnMut(Prefix),
) -> Result<(), String> {
    let max = family.max_len();
    let mut i = 0;
    while i < field.len() {
        let len = field[i];
        if len > max {
            return Err(format!("prefix length {len} exceeds {max}"));
        }
        let n = usize::from(len).div_ceil(8);
        let Some(octets) = field.get(i + 1..i + 1 + n) else {
            return Err("prefix runs past its field".into());
        };
        f(match family {
            Family::Ipv4 => Prefix::from_v4_octets(len, octets),
            Family::Ipv6 => Prefix::from_v6_octets(len, octets),
        });
        i += 1 + n;
    }
    Ok(())
}

/// A 64-bit fingerprint of the compared attributes (ORIGIN, AS_PATH, MED,
/// COMMUNITIES and LARGE_COMMUNITY as sets), computed straight from the
/// wire bytes without allocating. Equal to [`fingerprint_spec`] of the
/// [`summarize`]d attributes, so a monitor maps a received attribute block
/// to an expected path with one hash and one lookup. (Two different paths
/// with one fingerprint: odds about 1e-8 for a million paths.)
#[derive(Default)]
pub struct Fingerprinter {
    as_path: Vec<u32>,
    communities: Vec<u32>,
    large: Vec<[u32; 3]>,
}

fn hash_path_spec_parts(
    h: &mut FastHasher,
    origin: u8,
    as_path: impl Iterator<Item = u32>,
    med: Option<u32>,
    communities: &[u32],
    large: &[[u32; 3]],
) {
    h.write_u8(origin);
    let mut n = 0usize;
    for a in as_path {
        h.write_u32(a);
        n += 1;
    }
    h.write_usize(n);
    match med {
        Some(m) => h.write_u64(1 << 32 | u64::from(m)),
        None => h.write_u64(0),
    }
    for c in communities {
        h.write_u32(*c);
    }
    h.write_usize(communities.len());
    for l in large {
        h.write_u32(l[0]);
        h.write_u32(l[1]);
        h.write_u32(l[2]);
    }
    h.write_usize(large.len());
}

/// The fingerprint of a spec (communities already sorted and unique).
pub fn fingerprint_spec(s: &PathSpec) -> u64 {
    let mut h = FastHasher::default();
    hash_path_spec_parts(
        &mut h,
        s.origin,
        s.as_path.iter().copied(),
        s.med,
        &s.communities,
        &s.large,
    );
    h.finish()
}

impl Fingerprinter {
    /// The fingerprint of an attribute field.
    pub fn of_attributes(&mut self, attrs: &[u8]) -> Result<u64, String> {
        let mut origin = 255u8;
        let mut as_path: &[u8] = &[];
        let mut med = None;
        self.communities.clear();
        self.large.clear();
        for_each_attribute(attrs, |_, code, v| {
            match code {
                1 => origin = *v.first().ok_or("empty ORIGIN")?,
                2 => as_path = v,
                4 => {
                    let b: [u8; 4] = v.try_into().map_err(|_| "MED length not 4")?;
                    med = Some(u32::from_be_bytes(b));
                }
                8 => self.communities.extend(
                    v.chunks_exact(4)
                        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
                ),
                32 => self.large.extend(v.chunks_exact(12).map(|c| {
                    let w = |o: usize| u32::from_be_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
                    [w(0), w(4), w(8)]
                })),
                _ => {}
            }
            Ok(())
        })?;
        self.communities.sort_unstable();
        self.communities.dedup();
        self.large.sort_unstable();
        self.large.dedup();
        flatten_as_path(as_path, &mut self.as_path)?;
        let mut h = FastHasher::default();
        hash_path_spec_parts(
            &mut h,
            origin,
            self.as_path.iter().copied(),
            med,
            &self.communities,
            &self.large,
        );
        Ok(h.finish())
    }
}

/// AS_PATH flattened into `out`: AS_SEQUENCE members as they are, other
/// segment kinds preceded by [`SEGMENT_MARKER`] | kind.
fn flatten_as_path(v: &[u8], out: &mut Vec<u32>) -> Result<(), String> {
    out.clear();
    let mut i = 0;
    while i < v.len() {
        let (Some(&kind), Some(&count)) = (v.get(i), v.get(i + 1)) else {
            return Err("AS_PATH segment header truncated".into());
        };
        let body = v
            .get(i + 2..i + 2 + 4 * usize::from(count))
            .ok_or("AS_PATH segment overruns")?;
        if kind != 2 {
            out.push(SEGMENT_MARKER | u32::from(kind));
        }
        out.extend(
            body.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        );
        i += 2 + 4 * usize::from(count);
    }
    Ok(())
}

/// Decode the compared attributes. Communities come out sorted and unique
/// (a DUT may reorder them; the set is what matters).
pub fn summarize(attrs: &[u8]) -> Result<PathSpec, String> {
    let mut s = PathSpec {
        origin: 255,
        as_path: Vec::new(),
        med: None,
        communities: Vec::new(),
        large: Vec::new(),
    };
    for_each_attribute(attrs, |_, code, v| {
        match code {
            1 => s.origin = *v.first().ok_or("empty ORIGIN")?,
            2 => {
                flatten_as_path(v, &mut s.as_path)?;
            }
            4 => {
                let b: [u8; 4] = v.try_into().map_err(|_| "MED length not 4")?;
                s.med = Some(u32::from_be_bytes(b));
            }
            8 => {
                s.communities = v
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                s.communities.sort_unstable();
                s.communities.dedup();
            }
            32 => {
                s.large = v
                    .chunks_exact(12)
                    .map(|c| {
                        let w = |o: usize| u32::from_be_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
                        [w(0), w(4), w(8)]
                    })
                    .collect();
                s.large.sort_unstable();
                s.large.dedup();
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

/// What one UPDATE does to a table, decoded by `clos-wire` (the slow,
/// complete path): withdrawn prefixes, then announced ones with their
/// compared attributes.
pub struct WireUpdate {
    pub withdrawn: Vec<Prefix>,
    pub announced: Vec<Prefix>,
    pub spec: Option<PathSpec>,
}

/// Decode one whole message with `clos_wire::decode_message`.
pub fn decode_with_wire(msg: &[u8], codec: &SessionCodec) -> Result<Option<WireUpdate>, String> {
    let decoded = decode_message(msg, codec).map_err(|e| format!("{e:?}"))?;
    let Message::Update(u) = decoded.message else {
        return Ok(None);
    };
    let withdrawn = u.withdrawn_all().map(|n| Prefix::from_ipnet(&n)).collect();
    let announced: Vec<Prefix> = u.announced().map(|n| Prefix::from_ipnet(&n)).collect();
    let spec = (!announced.is_empty()).then(|| {
        let a = &u.attributes;
        let mut as_path = Vec::new();
        for seg in a.as_path.iter().flat_map(|p| p.segments.iter()) {
            if seg.kind != clos_wire::SegmentType::AsSequence {
                as_path.push(SEGMENT_MARKER | seg.kind as u32);
            }
            as_path.extend_from_slice(&seg.asns);
        }
        let mut communities = a.communities.clone();
        communities.sort_unstable();
        communities.dedup();
        let mut large: Vec<[u32; 3]> = a
            .rare
            .large_communities
            .iter()
            .map(|l| [l.global_admin, l.local_data1, l.local_data2])
            .collect();
        large.sort_unstable();
        large.dedup();
        PathSpec {
            origin: a.origin.map_or(255, |o| o as u8),
            as_path,
            med: a.med,
            communities,
            large,
        }
    });
    Ok(Some(WireUpdate {
        withdrawn,
        announced,
        spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{path_spec, RouteId};
    use crate::stream::codec;

    #[test]
    fn light_and_wire_agree_with_the_encoder() {
        for family in [Family::Ipv4, Family::Ipv6] {
            let spec = path_spec(
                3,
                RouteId {
                    generation: 0,
                    group: 7,
                    feeder: 1,
                },
                3,
            );
            let nets: Vec<clos_wire::IpNet> = match family {
                Family::Ipv4 => vec![
                    "10.1.0.0/16".parse().unwrap(),
                    "1.2.3.0/24".parse().unwrap(),
                ],
                Family::Ipv6 => vec!["2001:db8::/32".parse().unwrap()],
            };
            let mut out = Vec::new();
            clos_wire::encode_announcements(&spec.attributes(family), &nets, &codec(), &mut out)
                .unwrap();
            let f = split_update(&out[19..]).unwrap();
            assert_eq!(summarize(f.attributes).unwrap(), spec);
            assert_eq!(
                Fingerprinter::default()
                    .of_attributes(f.attributes)
                    .unwrap(),
                fingerprint_spec(&spec)
            );
            let field = match family {
                Family::Ipv4 => f.nlri,
                Family::Ipv6 => f.mp_reach.unwrap().2,
            };
            let mut got = Vec::new();
            for_each_prefix(field, family, |p| got.push(p)).unwrap();
            let want: Vec<Prefix> = nets.iter().map(Prefix::from_ipnet).collect();
            assert_eq!(got, want);
            let w = decode_with_wire(&out, &codec()).unwrap().unwrap();
            assert_eq!(w.announced, want);
            assert_eq!(w.spec.unwrap(), spec);
        }
    }
}
