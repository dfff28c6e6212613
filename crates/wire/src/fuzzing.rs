//! Properties shared by the cargo-fuzz targets (`fuzz/`), the corpus replay
//! test and the property tests. Not part of the codec API: these functions
//! assert, and a failed assertion is a codec bug.
//!
//! - [`decode_stream`]: frame and decode a receive buffer; never panics.
//! - [`check_roundtrip`]: a message that decodes with no RFC 7606 issue
//!   encodes and decodes back to itself (up to [`normalise`]).
//! - [`check_packing`]: UPDATE packing produces messages within the size
//!   limit that decode to exactly the input prefixes and attributes.

use crate::decode::{decode_message, frame, Decoded};
use crate::encode::{encode_announcements, encode_message, encode_withdrawals};
use crate::error::{DecodeError, EncodeError};
use crate::types::{
    attribute_flags as flag, Family, IpNet, Message, PathAttributes, SegmentType, SessionCodec,
    AS_TRANS,
};

/// Every combination of codec settings, with RFC 8950 next hops allowed
/// (the generators produce IPv4 routes with IPv6 next hops; refusing them
/// without the capability is tested in `tests/rfc7606.rs`).
pub fn codecs() -> [SessionCodec; 4] {
    [(false, false), (true, false), (false, true), (true, true)].map(
        |(four_octet_as, extended_message)| SessionCodec {
            four_octet_as,
            extended_message,
            extended_next_hop_ipv4: true,
        },
    )
}

/// Frame and decode every message at the start of `buf`, stopping at the
/// first incomplete message or framing error.
pub fn decode_stream(mut buf: &[u8], codec: &SessionCodec) -> Vec<Result<Decoded, DecodeError>> {
    let mut out = Vec::new();
    loop {
        match frame(buf, codec) {
            Ok(Some(n)) => {
                assert!((19..=buf.len()).contains(&n), "frame returned {n}");
                out.push(decode_message(&buf[..n], codec));
                buf = &buf[n..];
            }
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
}

/// What a decoded message looks like after one encode/decode trip: unknown
/// optional transitive attributes gain the Partial bit, lose the unused
/// low flag bits, gain Extended Length when longer than 255 octets, and
/// come back in type-code order.
pub fn normalise(msg: &mut Message) {
    if let Message::Update(u) = msg {
        let Some(rare) = u.attributes.rare.get_mut() else {
            return;
        };
        for raw in &mut rare.unknown {
            if raw.flags & (flag::OPTIONAL | flag::TRANSITIVE) == flag::OPTIONAL | flag::TRANSITIVE
            {
                raw.flags |= flag::PARTIAL;
            }
            raw.flags &= 0xf0;
            if raw.value.len() > 255 {
                raw.flags |= flag::EXTENDED_LENGTH;
            }
        }
        rare.unknown.sort_by_key(|r| r.type_code);
    }
}

/// For each message in `buf` that decodes without issues, encode, decode
/// again, and compare.
pub fn check_roundtrip(buf: &[u8], codec: &SessionCodec) {
    for decoded in decode_stream(buf, codec).into_iter().flatten() {
        if !decoded.issues.is_empty() {
            continue;
        }
        let mut expected = decoded.message.clone();
        normalise(&mut expected);
        let mut bytes = Vec::new();
        match encode_message(&decoded.message, codec, &mut bytes) {
            Ok(()) => {}
            // A 2-octet AS_PATH whose AS4_PATH was shorter re-encodes with
            // a full AS4_PATH, which may no longer fit.
            Err(EncodeError::TooLong { .. }) if !codec.four_octet_as => continue,
            Err(e) => panic!("re-encoding {:?} failed: {e}", decoded.message),
        }
        assert_eq!(frame(&bytes, codec), Ok(Some(bytes.len())));
        let again = decode_message(&bytes, codec).expect("re-encoded message decodes");
        assert_eq!(again.issues, vec![], "re-encoded message has issues");
        assert_eq!(again.message, expected, "round trip changed the message");
    }
}

/// An OPEN (version 4, AS 65001, hold 90, id 10.0.0.1) whose optional
/// parameters are `params` (truncated to fit).
pub fn open_with_parameters(params: &[u8]) -> Vec<u8> {
    let params = &params[..params.len().min(4096 - 29)];
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((29 + params.len()) as u16).to_be_bytes());
    m.extend_from_slice(&[1, 4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 1]);
    m.push(params.len().min(255) as u8);
    m.extend_from_slice(params);
    m
}

/// Check announcement and withdrawal packing of `prefixes` (one family)
/// with `attributes` against decode.
pub fn check_packing_values(attributes: &PathAttributes, prefixes: &[IpNet], codec: &SessionCodec) {
    let mut out = Vec::new();
    match encode_announcements(attributes, prefixes, codec, &mut out) {
        Ok(count) => {
            let decoded = decode_all(&out, codec);
            assert_eq!(decoded.len(), count);
            let mut announced = Vec::new();
            for d in &decoded {
                let Message::Update(u) = &d.message else {
                    panic!("packing wrote a non-UPDATE")
                };
                assert!(
                    d.issues.is_empty(),
                    "packed UPDATE has issues: {:?}",
                    d.issues
                );
                announced.extend(u.announced());
                let mut attrs = u.attributes.clone();
                if let (Some(got), Some(template)) = (&mut attrs.mp_reach, &attributes.mp_reach) {
                    got.nlri = template.nlri.clone();
                }
                let mut want = if codec.four_octet_as {
                    attributes.clone()
                } else {
                    through_old_speaker(attributes)
                };
                if let Some(r) = want.rare.get_mut() {
                    r.mp_unreach = None;
                }
                want.rare.compact();
                let (mut want_msg, mut got_msg) = (wrap(want), wrap(attrs));
                normalise(&mut want_msg);
                normalise(&mut got_msg);
                assert_eq!(got_msg, want_msg, "packing changed the attributes");
            }
            let want: Vec<IpNet> = prefixes.iter().map(IpNet::trunc).collect();
            assert_eq!(announced, want, "packing changed the prefixes");
        }
        Err(
            EncodeError::MissingNextHop { .. }
            | EncodeError::FamilyMismatch { .. }
            | EncodeError::MixedFamilies,
        ) => {}
        Err(EncodeError::TooLong { .. }) => {}
        Err(e) => panic!("unexpected packing error {e}"),
    }
    out.clear();
    if let Ok(count) = encode_withdrawals(prefixes, codec, &mut out) {
        let decoded = decode_all(&out, codec);
        assert_eq!(decoded.len(), count);
        let withdrawn: Vec<IpNet> = decoded
            .iter()
            .flat_map(|d| match &d.message {
                Message::Update(u) => u.withdrawn_all().collect(),
                _ => Vec::new(),
            })
            .collect();
        let want: Vec<IpNet> = prefixes.iter().map(IpNet::trunc).collect();
        assert_eq!(withdrawn, want, "withdrawal packing changed the prefixes");
    }
}

fn wrap(attributes: PathAttributes) -> Message {
    Message::Update(crate::types::Update {
        attributes,
        ..Default::default()
    })
}

fn decode_all(mut buf: &[u8], codec: &SessionCodec) -> Vec<Decoded> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let n = frame(buf, codec)
            .expect("packed message frames")
            .expect("whole message");
        assert!(n <= codec.max_message_len());
        out.push(decode_message(&buf[..n], codec).expect("packed message decodes"));
        buf = &buf[n..];
    }
    out
}

/// Fuzz input for packing: byte 0 picks the family and a prefix count;
/// the rest is an UPDATE attribute field (used when it decodes cleanly)
/// followed by prefix seeds.
pub fn check_packing(data: &[u8], codec: &SessionCodec) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let family = if selector & 1 == 0 {
        Family::Ipv4Unicast
    } else {
        Family::Ipv6Unicast
    };
    let count = usize::from(selector >> 1) * 40;
    let split = rest.len() / 2;
    let (attr_field, seeds) = rest.split_at(split);
    let mut msg = vec![0xff; 16];
    let len = 23 + attr_field.len();
    if len > codec.max_message_len() {
        return;
    }
    msg.extend_from_slice(&(len as u16).to_be_bytes());
    msg.push(2);
    msg.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(&(attr_field.len() as u16).to_be_bytes());
    msg.extend_from_slice(attr_field);
    let Ok(Decoded {
        message: Message::Update(u),
        issues,
    }) = decode_message(&msg, codec)
    else {
        return;
    };
    if !issues.is_empty() {
        return;
    }
    let mut attributes = u.attributes;
    // Packing sends the attributes it is given; announcing without the
    // well-known mandatory ones is the caller's mistake, not the codec's.
    if attributes.origin.is_none() || attributes.as_path.is_none() {
        return;
    }
    if let Some(r) = &mut attributes.mp_reach {
        r.nlri.clear();
    }
    let prefixes: Vec<IpNet> = (0..count)
        .map(|i| {
            let b = |k: usize| {
                seeds
                    .get((i * 3 + k) % seeds.len().max(1))
                    .copied()
                    .unwrap_or(0)
            };
            let seed = u32::from_be_bytes([b(0), b(1), b(2), i as u8]);
            match family {
                Family::Ipv4Unicast => IpNet::V4(
                    crate::types::Ipv4Net::new(seed.into(), b(2) % 33).unwrap_or_default(),
                ),
                Family::Ipv6Unicast => IpNet::V6(
                    crate::types::Ipv6Net::new((u128::from(seed) << 96).into(), b(2) % 129)
                        .unwrap_or_default(),
                ),
            }
        })
        .collect();
    check_packing_values(&attributes, &prefixes, codec);
}

/// What `a` decodes to after a trip through a 2-octet-AS session
/// (RFC 6793): confederation segments lose ASNs above 65535, which
/// AS4_PATH never carries (§3).
pub fn through_old_speaker(a: &PathAttributes) -> PathAttributes {
    let mut a = a.clone();
    if let Some(path) = &mut a.as_path {
        for s in &mut path.segments {
            let confed = matches!(s.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet);
            if confed {
                for asn in &mut s.asns {
                    if *asn > 0xffff {
                        *asn = u32::from(AS_TRANS);
                    }
                }
            }
        }
    }
    a
}
