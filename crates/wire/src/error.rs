//! Codec errors.
//!
//! [`DecodeError`] is a session-reset outcome: the NOTIFICATION (RFC 4271
//! §4.5, §6) the caller sends before closing the session. The softer
//! RFC 7606 outcomes of a malformed UPDATE (treat-as-withdraw, attribute
//! discard) are not errors: they are reported as
//! [`UpdateIssue`](crate::UpdateIssue)s beside a successfully decoded
//! message. [`EncodeError`] reports values that cannot be put on the wire
//! within the session's limits.

use crate::types::{notification as code, Notification};

/// A decode failure that ends the session: send
/// [`DecodeError::to_notification`] and close (RFC 4271 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (NOTIFICATION {code}/{subcode})")]
pub struct DecodeError {
    /// NOTIFICATION error code (RFC 4271 §4.5).
    pub code: u8,
    /// NOTIFICATION error subcode.
    pub subcode: u8,
    /// NOTIFICATION data, as the RFC prescribes for this error.
    pub data: Vec<u8>,
    /// What was wrong, for logs.
    pub reason: String,
}

impl DecodeError {
    pub(crate) fn new(code: u8, subcode: u8, data: Vec<u8>, reason: impl Into<String>) -> Self {
        DecodeError {
            code,
            subcode,
            data,
            reason: reason.into(),
        }
    }

    /// Message Header Error (RFC 4271 §6.1).
    pub(crate) fn header(subcode: u8, data: Vec<u8>, reason: impl Into<String>) -> Self {
        Self::new(code::MESSAGE_HEADER_ERROR, subcode, data, reason)
    }

    /// OPEN Message Error (RFC 4271 §6.2).
    pub(crate) fn open(subcode: u8, data: Vec<u8>, reason: impl Into<String>) -> Self {
        Self::new(code::OPEN_MESSAGE_ERROR, subcode, data, reason)
    }

    /// UPDATE Message Error (RFC 4271 §6.3).
    pub(crate) fn update(subcode: u8, data: Vec<u8>, reason: impl Into<String>) -> Self {
        Self::new(code::UPDATE_MESSAGE_ERROR, subcode, data, reason)
    }

    /// The NOTIFICATION to send for this error.
    pub fn to_notification(&self) -> Notification {
        Notification {
            code: self.code,
            subcode: self.subcode,
            data: self.data.clone(),
        }
    }
}

/// A value that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message would exceed the session's maximum message size
    /// (4096, or 65535 with RFC 8654 extended messages; OPEN is always
    /// limited to 4096).
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLong { len: usize, max: usize },
    /// A path attribute value longer than a 2-octet length field holds.
    #[error("attribute {type_code} value of {len} bytes exceeds 65535")]
    AttributeTooLong { type_code: u8, len: usize },
    /// A capability value longer than its 1-octet length field holds.
    #[error("capability {code} value of {len} bytes exceeds 255")]
    CapabilityTooLong { code: u8, len: usize },
    /// A variable-length field of a message (withdrawn routes, optional
    /// parameters) longer than its length field holds.
    #[error("{field} of {len} bytes does not fit its length field")]
    FieldTooLong { field: &'static str, len: usize },
    /// Prefixes of more than one family passed to a packing function.
    #[error("prefixes of more than one address family in one call")]
    MixedFamilies,
    /// The prefixes do not belong to the family of the MP_REACH_NLRI
    /// template.
    #[error("prefix family {family} does not match MP_REACH_NLRI AFI {afi} SAFI {safi}")]
    FamilyMismatch {
        family: crate::types::Family,
        afi: u16,
        safi: u8,
    },
    /// Announcements with neither a NEXT_HOP (IPv4) nor an MP_REACH_NLRI
    /// template.
    #[error("no next hop for {family} announcements")]
    MissingNextHop { family: crate::types::Family },
}
