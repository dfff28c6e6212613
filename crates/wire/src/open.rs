//! OPEN message body and capabilities (RFC 4271 §4.2, RFC 5492, RFC 9072).
//!
//! Decode checks what RFC 4271 §6.2 puts on the codec: version 4 (else 2/1
//! with the supported version as data), hold time 0 or >= 3 (else 2/6), a
//! non-zero BGP Identifier (else 2/3), and optional parameters of type 2
//! (Capabilities) only (else 2/4). Peer-AS checks belong to the session.
//!
//! Optional parameters may use the RFC 9072 extended length encoding
//! (Non-Ext OP Type 255); several capabilities per parameter and several
//! parameters are accepted, and duplicate capabilities are kept in order.
//!
//! A known capability whose value has the wrong length (say a 4-octet-AS
//! capability of 3 octets) is rejected with 2/0 (OPEN Message Error,
//! unspecific) and the capability as data, rather than kept as
//! `Capability::Unknown`: a peer that botches the encoding of a capability
//! it claims would otherwise be silently treated as lacking it.
//! Capabilities the codec does not know are kept verbatim.
//!
//! Encode puts all capabilities in one parameter; if that exceeds 255
//! octets it uses the RFC 9072 extended encoding.

use std::net::Ipv4Addr;

use crate::error::{DecodeError, EncodeError};
use crate::types::{
    capability_code as cap, notification as code, AddPathEntry, Capability, ExtendedNextHopEntry,
    GracefulRestart, GracefulRestartFamily, Open,
};

/// Optional parameter type of capabilities (RFC 5492 §4).
const PARAM_CAPABILITIES: u8 = 2;
/// Non-Ext OP Type marking the RFC 9072 extended encoding.
const PARAM_EXTENDED: u8 = 255;
/// The BGP version this codec speaks.
const BGP_VERSION: u8 = 4;

/// Decode an OPEN body (the message without its 19-octet header).
pub(crate) fn decode_open(body: &[u8]) -> Result<Open, DecodeError> {
    let Some(fixed) = body.get(..10) else {
        return Err(DecodeError::header(
            code::BAD_MESSAGE_LENGTH,
            ((body.len() + 19) as u16).to_be_bytes().to_vec(),
            "OPEN shorter than 29 octets",
        ));
    };
    let version = fixed[0];
    if version != BGP_VERSION {
        return Err(DecodeError::open(
            code::UNSUPPORTED_VERSION_NUMBER,
            u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            format!("unsupported BGP version {version}"),
        ));
    }
    let my_as = u16::from_be_bytes([fixed[1], fixed[2]]);
    let hold_time = u16::from_be_bytes([fixed[3], fixed[4]]);
    if hold_time == 1 || hold_time == 2 {
        return Err(DecodeError::open(
            code::UNACCEPTABLE_HOLD_TIME,
            Vec::new(),
            format!("hold time {hold_time} s is neither 0 nor at least 3"),
        ));
    }
    let bgp_identifier = Ipv4Addr::new(fixed[5], fixed[6], fixed[7], fixed[8]);
    if bgp_identifier.is_unspecified() {
        return Err(DecodeError::open(
            code::BAD_BGP_IDENTIFIER,
            Vec::new(),
            "BGP Identifier is 0.0.0.0",
        ));
    }
    let opt_len = usize::from(fixed[9]);
    let rest = &body[10..];
    let mut capabilities = Vec::new();
    if opt_len > 0 && rest.first() == Some(&PARAM_EXTENDED) {
        // RFC 9072 §2: 255, 255, then a 2-octet length and 2-octet
        // parameter lengths.
        let Some(&[_, hi, lo]) = rest.get(..3) else {
            return Err(malformed("extended optional parameters header truncated"));
        };
        let ext_len = usize::from(u16::from_be_bytes([hi, lo]));
        if rest.len() - 3 != ext_len {
            return Err(malformed(format!(
                "extended optional parameters length {ext_len} but {} octets follow",
                rest.len() - 3
            )));
        }
        decode_parameters(&rest[3..], 2, &mut capabilities)?;
    } else {
        if rest.len() != opt_len {
            return Err(malformed(format!(
                "optional parameters length {opt_len} but {} octets follow",
                rest.len()
            )));
        }
        decode_parameters(rest, 1, &mut capabilities)?;
    }
    Ok(Open {
        version,
        my_as,
        hold_time,
        bgp_identifier,
        capabilities,
    })
}

fn malformed(reason: impl Into<String>) -> DecodeError {
    DecodeError::open(0, Vec::new(), reason)
}

/// Walk optional parameters whose length fields are `len_size` octets.
fn decode_parameters(
    mut rest: &[u8],
    len_size: usize,
    capabilities: &mut Vec<Capability>,
) -> Result<(), DecodeError> {
    while !rest.is_empty() {
        let Some(header) = rest.get(..1 + len_size) else {
            return Err(malformed("optional parameter header truncated"));
        };
        let kind = header[0];
        let len = if len_size == 2 {
            usize::from(u16::from_be_bytes([header[1], header[2]]))
        } else {
            usize::from(header[1])
        };
        let Some(value) = rest.get(1 + len_size..1 + len_size + len) else {
            return Err(malformed(format!(
                "optional parameter {kind} of length {len} overruns the OPEN"
            )));
        };
        if kind != PARAM_CAPABILITIES {
            return Err(DecodeError::open(
                code::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
                format!("unsupported optional parameter type {kind}"),
            ));
        }
        decode_capabilities(value, capabilities)?;
        rest = &rest[1 + len_size + len..];
    }
    Ok(())
}

/// Decode the capability TLVs of one Capabilities parameter (RFC 5492 §4).
pub(crate) fn decode_capabilities(
    mut rest: &[u8],
    out: &mut Vec<Capability>,
) -> Result<(), DecodeError> {
    while !rest.is_empty() {
        let Some(&[code, len]) = rest.get(..2) else {
            return Err(malformed("capability header truncated"));
        };
        let len = usize::from(len);
        let Some(value) = rest.get(2..2 + len) else {
            return Err(malformed(format!(
                "capability {code} of length {len} overruns its parameter"
            )));
        };
        match decode_capability(code, value) {
            Some(c) => out.push(c),
            None => {
                return Err(DecodeError::open(
                    0,
                    rest[..2 + len].to_vec(),
                    format!("capability {code} has malformed length {len}"),
                ))
            }
        }
        rest = &rest[2 + len..];
    }
    Ok(())
}

/// One capability value; `None` when a known capability is malformed.
fn decode_capability(code: u8, v: &[u8]) -> Option<Capability> {
    let be16 = |i: usize| u16::from_be_bytes([v[i], v[i + 1]]);
    Some(match code {
        cap::MULTIPROTOCOL => {
            if v.len() != 4 {
                return None;
            }
            Capability::Multiprotocol {
                afi: be16(0),
                safi: v[3],
            }
        }
        cap::ROUTE_REFRESH if v.is_empty() => Capability::RouteRefresh,
        cap::EXTENDED_MESSAGE if v.is_empty() => Capability::ExtendedMessage,
        cap::ENHANCED_ROUTE_REFRESH if v.is_empty() => Capability::EnhancedRouteRefresh,
        cap::ROUTE_REFRESH | cap::EXTENDED_MESSAGE | cap::ENHANCED_ROUTE_REFRESH => return None,
        cap::EXTENDED_NEXT_HOP => {
            if !v.len().is_multiple_of(6) {
                return None;
            }
            Capability::ExtendedNextHop(
                v.chunks_exact(6)
                    .map(|c| ExtendedNextHopEntry {
                        nlri_afi: u16::from_be_bytes([c[0], c[1]]),
                        nlri_safi: u16::from_be_bytes([c[2], c[3]]),
                        next_hop_afi: u16::from_be_bytes([c[4], c[5]]),
                    })
                    .collect(),
            )
        }
        cap::GRACEFUL_RESTART => {
            if v.len() < 2 || !(v.len() - 2).is_multiple_of(4) {
                return None;
            }
            let word = be16(0);
            Capability::GracefulRestart(GracefulRestart {
                restart_state: word & 0x8000 != 0,
                notification: word & 0x4000 != 0,
                restart_time: word & 0x0fff,
                families: v[2..]
                    .chunks_exact(4)
                    .map(|c| GracefulRestartFamily {
                        afi: u16::from_be_bytes([c[0], c[1]]),
                        safi: c[2],
                        forwarding_preserved: c[3] & 0x80 != 0,
                    })
                    .collect(),
            })
        }
        cap::FOUR_OCTET_AS => {
            let bytes: [u8; 4] = v.try_into().ok()?;
            Capability::FourOctetAs(u32::from_be_bytes(bytes))
        }
        cap::ADD_PATH => {
            if !v.len().is_multiple_of(4) {
                return None;
            }
            Capability::AddPath(
                v.chunks_exact(4)
                    .map(|c| AddPathEntry {
                        afi: u16::from_be_bytes([c[0], c[1]]),
                        safi: c[2],
                        send_receive: c[3],
                    })
                    .collect(),
            )
        }
        _ => Capability::Unknown {
            code,
            value: v.to_vec(),
        },
    })
}

/// Append one capability TLV.
pub(crate) fn encode_capability(c: &Capability, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut value = Vec::new();
    let code = match c {
        Capability::Multiprotocol { afi, safi } => {
            value.extend_from_slice(&afi.to_be_bytes());
            value.extend_from_slice(&[0, *safi]);
            cap::MULTIPROTOCOL
        }
        Capability::RouteRefresh => cap::ROUTE_REFRESH,
        Capability::ExtendedNextHop(entries) => {
            for e in entries {
                value.extend_from_slice(&e.nlri_afi.to_be_bytes());
                value.extend_from_slice(&e.nlri_safi.to_be_bytes());
                value.extend_from_slice(&e.next_hop_afi.to_be_bytes());
            }
            cap::EXTENDED_NEXT_HOP
        }
        Capability::ExtendedMessage => cap::EXTENDED_MESSAGE,
        Capability::GracefulRestart(gr) => {
            let mut word = gr.restart_time & 0x0fff;
            if gr.restart_state {
                word |= 0x8000;
            }
            if gr.notification {
                word |= 0x4000;
            }
            value.extend_from_slice(&word.to_be_bytes());
            for f in &gr.families {
                value.extend_from_slice(&f.afi.to_be_bytes());
                value.push(f.safi);
                value.push(if f.forwarding_preserved { 0x80 } else { 0 });
            }
            cap::GRACEFUL_RESTART
        }
        Capability::FourOctetAs(asn) => {
            value.extend_from_slice(&asn.to_be_bytes());
            cap::FOUR_OCTET_AS
        }
        Capability::AddPath(entries) => {
            for e in entries {
                value.extend_from_slice(&e.afi.to_be_bytes());
                value.push(e.safi);
                value.push(e.send_receive);
            }
            cap::ADD_PATH
        }
        Capability::EnhancedRouteRefresh => cap::ENHANCED_ROUTE_REFRESH,
        Capability::Unknown { code, value: v } => {
            value.extend_from_slice(v);
            *code
        }
    };
    let len = u8::try_from(value.len()).map_err(|_| EncodeError::CapabilityTooLong {
        code,
        len: value.len(),
    })?;
    out.push(code);
    out.push(len);
    out.extend_from_slice(&value);
    Ok(())
}

/// Append an OPEN body (everything after the header).
pub(crate) fn encode_open(open: &Open, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.push(open.version);
    out.extend_from_slice(&open.my_as.to_be_bytes());
    out.extend_from_slice(&open.hold_time.to_be_bytes());
    out.extend_from_slice(&open.bgp_identifier.octets());
    let mut caps = Vec::new();
    for c in &open.capabilities {
        encode_capability(c, &mut caps)?;
    }
    if caps.is_empty() {
        out.push(0);
    } else if caps.len() <= 255 - 2 {
        out.push((caps.len() + 2) as u8);
        out.push(PARAM_CAPABILITIES);
        out.push(caps.len() as u8);
        out.extend_from_slice(&caps);
    } else {
        // RFC 9072 §2.
        let param_len = u16::try_from(caps.len()).map_err(|_| EncodeError::FieldTooLong {
            field: "optional parameters",
            len: caps.len(),
        })?;
        let total = u16::try_from(caps.len() + 3).map_err(|_| EncodeError::FieldTooLong {
            field: "optional parameters",
            len: caps.len() + 3,
        })?;
        out.extend_from_slice(&[255, PARAM_EXTENDED]);
        out.extend_from_slice(&total.to_be_bytes());
        out.push(PARAM_CAPABILITIES);
        out.extend_from_slice(&param_len.to_be_bytes());
        out.extend_from_slice(&caps);
    }
    Ok(())
}
