//! Messages → bytes (RFC 4271 §4), and UPDATE packing.
//!
//! [`encode_message`] writes any message as given. The packing functions
//! build UPDATEs from a route set the way RFC 7606 §5.1 asks senders to:
//! each UPDATE carries exactly one of classic NLRI, Withdrawn Routes,
//! MP_REACH_NLRI or MP_UNREACH_NLRI, and MP_REACH/MP_UNREACH come first in
//! the attribute list. They fill each message up to the session's maximum
//! size (RFC 8654 when extended messages are negotiated).

use crate::attributes::{
    mp_reach_value, write_attributes, write_mp_unreach, write_non_mp_attributes,
};
use crate::error::EncodeError;
use crate::nlri::{prefix_wire_len, write_prefix};
use crate::open::encode_open;
use crate::types::{
    attribute_flags as flag, attribute_type as ty, message_type as mt, Family, IpNet, Message,
    MpReach, MpUnreach, PathAttributes, SessionCodec, HEADER_LEN, MAX_MESSAGE_LEN,
};

/// Header plus the two length fields of an empty UPDATE.
const EMPTY_UPDATE_LEN: usize = HEADER_LEN + 4;
/// Attribute header with a 2-octet length.
const EXTENDED_ATTRIBUTE_HEADER: usize = 4;

/// Encode one message (header included), appending to `out`. Err if longer
/// than `codec.max_message_len()` (4096 for OPEN, RFC 8654 §4); `out` is
/// then left as it was.
pub fn encode_message(
    msg: &Message,
    codec: &SessionCodec,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = encode_inner(msg, codec, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_inner(msg: &Message, codec: &SessionCodec, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0, 0]);
    let (kind, max) = match msg {
        Message::Open(open) => {
            encode_open(open, out)?;
            (mt::OPEN, MAX_MESSAGE_LEN)
        }
        Message::Update(update) => {
            let withdrawn_start = out.len();
            out.extend_from_slice(&[0, 0]);
            for p in &update.withdrawn {
                write_prefix(&IpNet::V4(*p), out);
            }
            patch_len(out, withdrawn_start, "withdrawn routes")?;
            let attributes_start = out.len();
            out.extend_from_slice(&[0, 0]);
            write_attributes(&update.attributes, codec, out)?;
            patch_len(out, attributes_start, "path attributes")?;
            for p in &update.nlri {
                write_prefix(&IpNet::V4(*p), out);
            }
            (mt::UPDATE, codec.max_message_len())
        }
        Message::Notification(n) => {
            out.extend_from_slice(&[n.code, n.subcode]);
            out.extend_from_slice(&n.data);
            (mt::NOTIFICATION, codec.max_message_len())
        }
        Message::Keepalive => (mt::KEEPALIVE, codec.max_message_len()),
        Message::RouteRefresh(r) => {
            out.extend_from_slice(&r.afi.to_be_bytes());
            out.extend_from_slice(&[r.subtype, r.safi]);
            (mt::ROUTE_REFRESH, codec.max_message_len())
        }
    };
    let len = out.len() - start;
    if len > max {
        return Err(EncodeError::TooLong { len, max });
    }
    out[start + 16..start + 18].copy_from_slice(&(len as u16).to_be_bytes());
    out[start + 18] = kind;
    Ok(())
}

/// Fill the 2-octet length field at `at` with the number of bytes after it.
fn patch_len(out: &mut [u8], at: usize, field: &'static str) -> Result<(), EncodeError> {
    let len = out.len() - at - 2;
    let v = u16::try_from(len).map_err(|_| EncodeError::FieldTooLong { field, len })?;
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// The one family of `prefixes`, or Err if they mix families.
fn single_family(prefixes: &[IpNet]) -> Result<Option<Family>, EncodeError> {
    let Some(first) = prefixes.first() else {
        return Ok(None);
    };
    let family = Family::of(first);
    if prefixes.iter().any(|p| Family::of(p) != family) {
        return Err(EncodeError::MixedFamilies);
    }
    Ok(Some(family))
}

/// Split `prefixes` into runs whose wire size is at most `room` octets.
fn chunks(prefixes: &[IpNet], room: usize) -> Result<Vec<&[IpNet]>, EncodeError> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, p) in prefixes.iter().enumerate() {
        let size = prefix_wire_len(p);
        if size > room {
            return Err(EncodeError::TooLong {
                len: size - room,
                max: room,
            });
        }
        if used + size > room {
            out.push(&prefixes[start..i]);
            start = i;
            used = 0;
        }
        used += size;
    }
    out.push(&prefixes[start..]);
    Ok(out)
}

/// Write an UPDATE from its three parts (each already encoded).
fn write_update(withdrawn: &[u8], attributes: &[u8], nlri: &[u8], out: &mut Vec<u8>) {
    let len = EMPTY_UPDATE_LEN + withdrawn.len() + attributes.len() + nlri.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.push(mt::UPDATE);
    out.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    out.extend_from_slice(withdrawn);
    out.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    out.extend_from_slice(attributes);
    out.extend_from_slice(nlri);
}

/// Room left for prefixes once `fixed` octets are spoken for, or Err when
/// not even the longest prefix would fit.
fn room(codec: &SessionCodec, fixed: usize) -> Result<usize, EncodeError> {
    let max = codec.max_message_len();
    match max.checked_sub(fixed) {
        Some(room) if room >= 17 => Ok(room),
        _ => Err(EncodeError::TooLong {
            len: fixed + 17,
            max,
        }),
    }
}

/// Update packing: encode as few UPDATEs as possible that announce
/// `prefixes` (all of ONE family) with `attributes`, each within
/// `codec.max_message_len()`; append them to `out`; return how many
/// messages were written.
///
/// IPv4 prefixes with `attributes.next_hop = Some(v4)` and no
/// `attributes.mp_reach` go in the classic NLRI field. Otherwise
/// `attributes.mp_reach` is a template (afi/safi/next_hop set, nlri
/// ignored) and prefixes go into MP_REACH_NLRI (IPv6 unicast; or IPv4
/// unicast with an IPv6 next hop per RFC 8950). `attributes.rare.mp_unreach` is
/// ignored. On Err nothing is appended.
pub fn encode_announcements(
    attributes: &PathAttributes,
    prefixes: &[IpNet],
    codec: &SessionCodec,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    let Some(family) = single_family(prefixes)? else {
        return Ok(0);
    };
    // Every attribute but MP_REACH/MP_UNREACH is the same in each message:
    // encode it once (MP_UNREACH is never sent beside announcements).
    let template = attributes.mp_reach.as_ref();
    let mut rest = Vec::with_capacity(128);
    write_non_mp_attributes(attributes, codec, &mut rest)?;

    let mut messages = Vec::new();
    match template {
        None => {
            if family != Family::Ipv4Unicast || attributes.next_hop.is_none() {
                return Err(EncodeError::MissingNextHop { family });
            }
            let room = room(codec, EMPTY_UPDATE_LEN + rest.len())?;
            let mut nlri = Vec::with_capacity(room.min(4096));
            let mut count = 0;
            for chunk in chunks(prefixes, room)? {
                nlri.clear();
                for p in chunk {
                    write_prefix(p, &mut nlri);
                }
                write_update(&[], &rest, &nlri, out);
                count += 1;
            }
            return Ok(count);
        }
        Some(template) => {
            if Family::from_afi_safi(template.afi, template.safi) != Some(family) {
                return Err(EncodeError::FamilyMismatch {
                    family,
                    afi: template.afi,
                    safi: template.safi,
                });
            }
            let empty = MpReach {
                nlri: Vec::new(),
                ..(**template).clone()
            };
            let mut reach_fixed = Vec::new();
            mp_reach_value(&empty, &mut reach_fixed);
            let fixed =
                EMPTY_UPDATE_LEN + EXTENDED_ATTRIBUTE_HEADER + reach_fixed.len() + rest.len();
            let room = room(codec, fixed)?;
            for chunk in chunks(prefixes, room)? {
                let mut attrs = Vec::new();
                let reach = MpReach {
                    nlri: chunk.to_vec(),
                    ..empty.clone()
                };
                crate::attributes::write_mp_reach(&reach, &mut attrs)?;
                attrs.extend_from_slice(&rest);
                messages.push((attrs, Vec::new()));
            }
        }
    }
    for (attrs, nlri) in &messages {
        write_update(&[], attrs, nlri, out);
    }
    Ok(messages.len())
}

/// Withdrawals of one family, packed: IPv4 in the Withdrawn Routes field,
/// IPv6 in MP_UNREACH_NLRI. Returns how many messages were written.
pub fn encode_withdrawals(
    prefixes: &[IpNet],
    codec: &SessionCodec,
    out: &mut Vec<u8>,
) -> Result<usize, EncodeError> {
    let Some(family) = single_family(prefixes)? else {
        return Ok(0);
    };
    let mut messages = Vec::new();
    match family {
        Family::Ipv4Unicast => {
            for chunk in chunks(prefixes, room(codec, EMPTY_UPDATE_LEN)?)? {
                let mut withdrawn = Vec::new();
                for p in chunk {
                    write_prefix(p, &mut withdrawn);
                }
                messages.push((withdrawn, Vec::new()));
            }
        }
        Family::Ipv6Unicast => {
            let fixed = EMPTY_UPDATE_LEN + EXTENDED_ATTRIBUTE_HEADER + 3;
            let (afi, safi) = family.afi_safi();
            for chunk in chunks(prefixes, room(codec, fixed)?)? {
                let mut attrs = Vec::new();
                let unreach = MpUnreach {
                    afi,
                    safi,
                    withdrawn: chunk.to_vec(),
                };
                write_mp_unreach(&unreach, &mut attrs)?;
                messages.push((Vec::new(), attrs));
            }
        }
    }
    for (withdrawn, attrs) in &messages {
        write_update(withdrawn, attrs, &[], out);
    }
    Ok(messages.len())
}

/// End-of-RIB marker for a family (RFC 4724 §2): an empty UPDATE for IPv4
/// unicast, otherwise an UPDATE with only an empty MP_UNREACH_NLRI.
pub fn encode_end_of_rib(
    family: Family,
    codec: &SessionCodec,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let _ = codec;
    match family {
        Family::Ipv4Unicast => write_update(&[], &[], &[], out),
        _ => {
            let (afi, safi) = family.afi_safi();
            let [hi, lo] = afi.to_be_bytes();
            let attrs = [flag::OPTIONAL, ty::MP_UNREACH_NLRI, 3, hi, lo, safi];
            write_update(&[], &attrs, &[], out);
        }
    }
    Ok(())
}
