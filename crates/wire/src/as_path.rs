//! AS_PATH and AS4_PATH on the wire (RFC 4271 §4.3, RFC 6793 §3–§4).
//!
//! Between NEW (4-octet AS) speakers, AS_PATH carries 4-octet ASNs. Towards
//! an OLD speaker it carries 2-octet ASNs with AS_TRANS in place of any ASN
//! above 65535, and the real path travels in AS4_PATH; receiving from an
//! OLD speaker, the two are merged back (RFC 6793 §4.2.3), which this
//! module does in [`merge_as4_path`].
//!
//! Malformation (RFC 7606 §7.2): an unknown segment type, a segment of
//! length zero, a segment overrunning the attribute, or a single octet
//! left over. The caller decides the outcome (treat-as-withdraw for
//! AS_PATH, attribute discard for AS4_PATH, RFC 6793 §6).

use crate::types::{AsPath, AsPathSegment, Asn, SegmentType, AS_TRANS};

/// The largest number of ASNs a segment can carry (1-octet count).
const MAX_SEGMENT_LEN: usize = 255;

fn segment_type(code: u8) -> Option<SegmentType> {
    Some(match code {
        1 => SegmentType::AsSet,
        2 => SegmentType::AsSequence,
        3 => SegmentType::ConfedSequence,
        4 => SegmentType::ConfedSet,
        _ => return None,
    })
}

fn is_confed(kind: SegmentType) -> bool {
    matches!(kind, SegmentType::ConfedSequence | SegmentType::ConfedSet)
}

/// Parse an AS_PATH or AS4_PATH value with `asn_size`-octet (2 or 4) ASNs.
pub(crate) fn decode_as_path(value: &[u8], asn_size: usize) -> Result<AsPath, String> {
    let mut segments = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let Some(&[kind, count]) = rest.get(..2) else {
            return Err("one octet left where a segment header belongs".into());
        };
        let kind = segment_type(kind).ok_or_else(|| format!("unknown segment type {kind}"))?;
        if count == 0 {
            return Err("segment of length zero".into());
        }
        let need = usize::from(count) * asn_size;
        let Some(body) = rest.get(2..2 + need) else {
            return Err(format!(
                "segment of {count} ASNs needs {need} octets, {} remain",
                rest.len() - 2
            ));
        };
        let asns = body
            .chunks_exact(asn_size)
            .map(|c| match *c {
                [a, b] => Asn::from(u16::from_be_bytes([a, b])),
                [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
                _ => 0,
            })
            .collect();
        segments.push(AsPathSegment { kind, asns });
        rest = &rest[2 + need..];
    }
    // Most paths are one segment: without this a Vec grown by push keeps
    // room for four (128 bytes), and a full table holds ~300k of them.
    segments.shrink_to_fit();
    Ok(AsPath { segments })
}

/// Encode a path with `asn_size`-octet ASNs; with 2 octets, ASNs above
/// 65535 become AS_TRANS. Segments longer than 255 ASNs are split.
pub(crate) fn encode_as_path(path: &AsPath, asn_size: usize, out: &mut Vec<u8>) {
    for segment in &path.segments {
        for chunk in segment.asns.chunks(MAX_SEGMENT_LEN) {
            out.push(segment.kind as u8);
            out.push(chunk.len() as u8);
            for &asn in chunk {
                if asn_size == 2 {
                    let short = u16::try_from(asn).unwrap_or(AS_TRANS);
                    out.extend_from_slice(&short.to_be_bytes());
                } else {
                    out.extend_from_slice(&asn.to_be_bytes());
                }
            }
        }
    }
}

/// The AS4_PATH to send an OLD speaker alongside `path`, if one is needed:
/// only when a (non-confederation) ASN does not fit 2 octets. AS4_PATH
/// never carries confederation segments (RFC 6793 §3).
pub(crate) fn as4_path_for(path: &AsPath) -> Option<AsPath> {
    let needed = path
        .segments
        .iter()
        .any(|s| !is_confed(s.kind) && s.asns.iter().any(|&a| a > Asn::from(u16::MAX)));
    needed.then(|| AsPath {
        segments: path
            .segments
            .iter()
            .filter(|s| !is_confed(s.kind))
            .cloned()
            .collect(),
    })
}

/// Drop confederation segments from a received AS4_PATH (RFC 6793 §6).
pub(crate) fn strip_confed(path: &mut AsPath) -> bool {
    let before = path.segments.len();
    path.segments.retain(|s| !is_confed(s.kind));
    before != path.segments.len()
}

/// Reconstruct the path from AS_PATH and AS4_PATH (RFC 6793 §4.2.3).
///
/// When AS_PATH holds fewer ASNs than AS4_PATH, AS4_PATH is ignored.
/// Otherwise the leading ASNs of AS_PATH (those added by OLD speakers) are
/// prepended to AS4_PATH until the result has as many ASNs as AS_PATH,
/// counting as in path selection (AS_SET 1, confederation segments 0).
/// Confederation segments are kept when leading or next to the prepended
/// part.
pub(crate) fn merge_as4_path(as_path: &AsPath, as4_path: &AsPath) -> AsPath {
    let n2 = as_path.selection_length();
    let n4 = as4_path.selection_length();
    if n2 < n4 {
        return as_path.clone();
    }
    let mut need = n2 - n4;
    let mut merged: Vec<AsPathSegment> = Vec::new();
    for segment in &as_path.segments {
        match segment.kind {
            SegmentType::ConfedSequence | SegmentType::ConfedSet => {
                let leading = merged.iter().all(|s| is_confed(s.kind));
                if need > 0 || leading {
                    merged.push(segment.clone());
                } else {
                    break;
                }
            }
            SegmentType::AsSet => {
                if need == 0 {
                    break;
                }
                merged.push(segment.clone());
                need -= 1;
            }
            SegmentType::AsSequence => {
                if need == 0 {
                    break;
                }
                let take = need.min(segment.asns.len());
                merged.push(AsPathSegment {
                    kind: SegmentType::AsSequence,
                    asns: segment.asns[..take].to_vec(),
                });
                need -= take;
            }
        }
    }
    for (i, segment) in as4_path.segments.iter().enumerate() {
        match merged.last_mut().filter(|_| i == 0) {
            // Join the prepended part of a sequence with the AS4_PATH's
            // leading sequence, as the sender saw one sequence.
            Some(last)
                if last.kind == SegmentType::AsSequence
                    && segment.kind == SegmentType::AsSequence
                    && last.asns.len() + segment.asns.len() <= MAX_SEGMENT_LEN =>
            {
                last.asns.extend_from_slice(&segment.asns)
            }
            _ => merged.push(segment.clone()),
        }
    }
    AsPath { segments: merged }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(asns: &[Asn]) -> AsPathSegment {
        AsPathSegment {
            kind: SegmentType::AsSequence,
            asns: asns.to_vec(),
        }
    }

    #[test]
    fn merge_prepends_old_speakers() {
        // OLD speaker 100 prepended itself to a path whose AS4_PATH it
        // passed on unchanged.
        let as_path = AsPath {
            segments: vec![seq(&[100, 23456, 200])],
        };
        let as4 = AsPath {
            segments: vec![seq(&[70000, 200])],
        };
        assert_eq!(
            merge_as4_path(&as_path, &as4).segments,
            vec![seq(&[100, 70000, 200])]
        );
    }

    #[test]
    fn merge_ignores_longer_as4_path() {
        let as_path = AsPath::sequence([100]);
        let as4 = AsPath::sequence([70000, 200]);
        assert_eq!(merge_as4_path(&as_path, &as4), as_path);
    }

    #[test]
    fn merge_keeps_leading_confed() {
        let confed = AsPathSegment {
            kind: SegmentType::ConfedSequence,
            asns: vec![1, 2],
        };
        let as_path = AsPath {
            segments: vec![confed.clone(), seq(&[23456])],
        };
        let as4 = AsPath::sequence([70000]);
        assert_eq!(
            merge_as4_path(&as_path, &as4).segments,
            vec![confed, seq(&[70000])]
        );
    }

    #[test]
    fn malformed_paths() {
        assert!(decode_as_path(&[2], 2).is_err());
        assert!(decode_as_path(&[2, 0], 2).is_err());
        assert!(decode_as_path(&[5, 1, 0, 1], 2).is_err());
        assert!(decode_as_path(&[2, 2, 0, 1], 2).is_err());
        assert_eq!(
            decode_as_path(&[2, 1, 0, 1], 2).unwrap(),
            AsPath::sequence([1])
        );
    }
}
