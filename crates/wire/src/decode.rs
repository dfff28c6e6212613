//! Bytes → messages (RFC 4271 §4, §6).
//!
//! [`frame`] finds message boundaries in a receive buffer and checks the
//! header (RFC 4271 §6.1); [`decode_message`] decodes one whole message.
//! Errors are session resets carrying the NOTIFICATION to send. A
//! malformed UPDATE that RFC 7606 lets the session survive decodes to
//! `Ok` with [`UpdateIssue`]s: when any says treat-as-withdraw
//! ([`Decoded::treat_as_withdraw`]), the caller withdraws every prefix the
//! UPDATE announces (classic NLRI and MP_REACH_NLRI, both always decoded)
//! and ignores its attributes.
//!
//! UPDATE layout checks (RFC 4271 §6.3, RFC 7606 §3, §5.3):
//! - Withdrawn Routes Length or Total Path Attribute Length running past
//!   the message: session reset 3/1.
//! - Withdrawn Routes or NLRI field unparseable (prefix length above 32,
//!   prefix running past the field): session reset 3/10.
//! - ORIGIN or AS_PATH missing when the UPDATE announces prefixes, or
//!   NEXT_HOP missing when it has classic NLRI: treat-as-withdraw 3/3
//!   (§3 d). An UPDATE that only withdraws needs no attributes.
//! - Everything about individual attributes: see `attributes`.
//!
//! ROUTE-REFRESH subtypes other than 0–2 are decoded as they are; RFC 7313
//! §5 says to ignore such messages, which is the session's job.

use crate::attributes::decode_attributes;
use crate::error::DecodeError;
use crate::nlri::parse_ipv4;
use crate::open::decode_open;
use crate::types::{
    attribute_type as ty, message_type as mt, notification as code, Message, Notification,
    RouteRefresh, SessionCodec, Update, HEADER_LEN, MAX_MESSAGE_LEN,
};

/// A decoded message and the RFC 7606 outcomes met while decoding it
/// (UPDATE only; empty for other messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    pub issues: Vec<UpdateIssue>,
}

impl Decoded {
    /// Whether the UPDATE must be handled as a withdrawal of everything it
    /// announces (RFC 7606 §2 "treat-as-withdraw").
    pub fn treat_as_withdraw(&self) -> bool {
        self.issues
            .iter()
            .any(|i| i.action == UpdateAction::TreatAsWithdraw)
    }
}

/// One malformed-UPDATE finding that did not reset the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateIssue {
    pub action: UpdateAction,
    /// The attribute concerned; 0 when the finding is about the attribute
    /// list as a whole.
    pub type_code: u8,
    /// The UPDATE Message Error subcode RFC 4271 §6.3 would have sent.
    pub subcode: u8,
    /// Human-readable cause, for logs.
    pub reason: String,
}

/// RFC 7606 §2 approaches short of a session reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAction {
    /// Handle the UPDATE as withdrawing all of its NLRI.
    TreatAsWithdraw,
    /// The attribute was dropped; the rest of the UPDATE stands.
    AttributeDiscard,
}

/// Smallest length of each message type (RFC 4271 §4, RFC 2918 §3).
fn length_ok(kind: u8, len: usize) -> bool {
    match kind {
        mt::OPEN => (29..=MAX_MESSAGE_LEN).contains(&len),
        mt::UPDATE => len >= 23,
        mt::NOTIFICATION => len >= 21,
        mt::KEEPALIVE => len == HEADER_LEN,
        // Checked in `decode_message`: RFC 7313 §5 answers a wrong length
        // with ROUTE-REFRESH Message Error 7/1, not a header error.
        mt::ROUTE_REFRESH => len >= HEADER_LEN,
        _ => true,
    }
}

/// Inspect the start of a receive buffer. `Ok(None)`: fewer bytes than one
/// whole message so far. `Ok(Some(n))`: the first `n` bytes are one whole
/// message. Err: marker not all-ones (1/1), length < 19 or >
/// `codec.max_message_len()` (1/2, data = the length field), unknown type
/// (1/3, data = type), or a length wrong for the type (1/2): OPEN >= 29
/// (and <= 4096, RFC 8654 §4), UPDATE >= 23, KEEPALIVE == 19,
/// NOTIFICATION >= 21 (ROUTE-REFRESH length errors are 7/1, from
/// `decode_message`).
pub fn frame(buf: &[u8], codec: &SessionCodec) -> Result<Option<usize>, DecodeError> {
    let marker = &buf[..buf.len().min(16)];
    if marker.iter().any(|&b| b != 0xff) {
        return Err(DecodeError::header(
            code::CONNECTION_NOT_SYNCHRONIZED,
            Vec::new(),
            "marker is not all ones",
        ));
    }
    let Some(&[hi, lo, kind]) = buf.get(16..HEADER_LEN) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < HEADER_LEN || len > codec.max_message_len() {
        return Err(DecodeError::header(
            code::BAD_MESSAGE_LENGTH,
            vec![hi, lo],
            format!(
                "message length {len} outside 19..={}",
                codec.max_message_len()
            ),
        ));
    }
    if !(mt::OPEN..=mt::ROUTE_REFRESH).contains(&kind) {
        return Err(DecodeError::header(
            code::BAD_MESSAGE_TYPE,
            vec![kind],
            format!("unknown message type {kind}"),
        ));
    }
    if !length_ok(kind, len) {
        return Err(DecodeError::header(
            code::BAD_MESSAGE_LENGTH,
            vec![hi, lo],
            format!("length {len} invalid for message type {kind}"),
        ));
    }
    Ok((buf.len() >= len).then_some(len))
}

/// Decode one whole message (header included), as returned by [`frame`].
pub fn decode_message(msg: &[u8], codec: &SessionCodec) -> Result<Decoded, DecodeError> {
    match frame(msg, codec)? {
        Some(len) if len == msg.len() => {}
        _ => {
            let field = msg.get(16..18).map_or_else(Vec::new, <[u8]>::to_vec);
            return Err(DecodeError::header(
                code::BAD_MESSAGE_LENGTH,
                field,
                format!("{} bytes given, not one whole message", msg.len()),
            ));
        }
    }
    let body = &msg[HEADER_LEN..];
    let mut issues = Vec::new();
    let message = match msg[18] {
        mt::OPEN => Message::Open(decode_open(body)?),
        mt::UPDATE => Message::Update(decode_update(body, codec, &mut issues)?),
        mt::NOTIFICATION => Message::Notification(Notification {
            code: body[0],
            subcode: body[1],
            data: body[2..].to_vec(),
        }),
        mt::KEEPALIVE => Message::Keepalive,
        _ if body.len() != 4 => {
            return Err(DecodeError {
                code: code::ROUTE_REFRESH_MESSAGE_ERROR,
                subcode: code::INVALID_MESSAGE_LENGTH,
                data: msg.to_vec(),
                reason: format!(
                    "ROUTE-REFRESH of {} octets, expected 23 (RFC 7313 §5)",
                    msg.len()
                ),
            })
        }
        _ => Message::RouteRefresh(RouteRefresh {
            afi: u16::from_be_bytes([body[0], body[1]]),
            subtype: body[2],
            safi: body[3],
        }),
    };
    Ok(Decoded { message, issues })
}

/// Decode an UPDATE body (RFC 4271 §4.3) with RFC 7606 error handling.
fn decode_update(
    body: &[u8],
    codec: &SessionCodec,
    issues: &mut Vec<UpdateIssue>,
) -> Result<Update, DecodeError> {
    let list_error =
        |reason: String| DecodeError::update(code::MALFORMED_ATTRIBUTE_LIST, Vec::new(), reason);
    let withdrawn_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let Some(withdrawn_field) = body.get(2..2 + withdrawn_len) else {
        return Err(list_error(format!(
            "Withdrawn Routes Length {withdrawn_len} overruns the message"
        )));
    };
    let rest = &body[2 + withdrawn_len..];
    let Some(&[hi, lo]) = rest.get(..2) else {
        return Err(list_error(format!(
            "Withdrawn Routes Length {withdrawn_len} leaves no room for Total Path Attribute Length"
        )));
    };
    let attributes_len = usize::from(u16::from_be_bytes([hi, lo]));
    let Some(attributes_field) = rest.get(2..2 + attributes_len) else {
        return Err(list_error(format!(
            "Total Path Attribute Length {attributes_len} overruns the message"
        )));
    };
    let nlri_field = &rest[2 + attributes_len..];

    let network_error = |what: &str, r: String| {
        DecodeError::update(
            code::INVALID_NETWORK_FIELD,
            Vec::new(),
            format!("{what}: {r}"),
        )
    };
    let withdrawn =
        parse_ipv4(withdrawn_field).map_err(|r| network_error("Withdrawn Routes", r))?;
    let attributes = decode_attributes(attributes_field, codec, issues)?;
    let nlri = parse_ipv4(nlri_field).map_err(|r| network_error("NLRI", r))?;

    // Well-known mandatory attributes (RFC 4271 §5; RFC 7606 §3 d). NEXT_HOP
    // is needed only for classic NLRI (RFC 4760 §3). A malformed attribute
    // already reported as treat-as-withdraw is not reported again as
    // missing.
    let announces = !nlri.is_empty()
        || attributes
            .mp_reach
            .as_ref()
            .is_some_and(|r| !r.nlri.is_empty());
    if announces {
        let mut required = vec![(ty::ORIGIN, attributes.origin.is_some(), "ORIGIN")];
        required.push((ty::AS_PATH, attributes.as_path.is_some(), "AS_PATH"));
        if !nlri.is_empty() {
            required.push((ty::NEXT_HOP, attributes.next_hop.is_some(), "NEXT_HOP"));
        }
        for (type_code, present, name) in required {
            let reported = issues.iter().any(|i| i.type_code == type_code);
            if !present && !reported {
                issues.push(UpdateIssue {
                    action: UpdateAction::TreatAsWithdraw,
                    type_code,
                    subcode: code::MISSING_WELL_KNOWN_ATTRIBUTE,
                    reason: format!("missing well-known attribute {name} (RFC 7606 §3 d)"),
                });
            }
        }
    }
    Ok(Update {
        withdrawn,
        attributes,
        nlri,
    })
}
