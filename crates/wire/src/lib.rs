//! clos-wire: the BGP-4 message codec (RFC 4271 §4) and its extensions.
//!
//! Owns: the byte layout of BGP messages, capabilities and path attributes,
//! and the RFC 7606 classification of malformed UPDATEs. Owns no I/O, no
//! timers, no async: every function takes bytes or values and returns values,
//! so it is fuzzed and property-tested directly.
//!
//! Layout:
//! - `types`        — message, capability and attribute values (the contract)
//! - `decode`       — bytes → values: framing, messages, RFC 7606 outcomes
//! - `encode`       — values → bytes, UPDATE packing, End-of-RIB
//! - `error`        — the decode (NOTIFICATION) and encode error types
//! - `open`         — OPEN body and capabilities (RFC 5492, RFC 9072)
//! - `attributes`   — path attributes, table-driven, RFC 7606 per attribute
//! - `as_path`      — AS_PATH/AS4_PATH wire forms and the RFC 6793 merge
//! - `nlri`         — prefix fields (RFC 4271 §4.3, RFC 4760 §5)
//! - `display`      — text forms for the CLI (communities, notifications)
//! - `fuzzing`      — properties shared by fuzz targets and tests (hidden)
//!
//! Not supported on the wire: ADD-PATH path identifiers in NLRI (RFC 7911
//! §3; the capability itself is parsed), and families other than IPv4 and
//! IPv6 unicast in MP_REACH/MP_UNREACH (discarded with an issue).
#![forbid(unsafe_code)]

mod as_path;
mod attributes;
pub mod decode;
pub mod display;
pub mod encode;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod nlri;
mod open;
pub mod types;

pub use attributes::attribute_name;
pub use decode::{decode_message, frame, Decoded, UpdateAction, UpdateIssue};
pub use display::{
    format_community, format_extended_community, format_large_community, notification_name,
    parse_community, parse_large_community,
};
pub use encode::{encode_announcements, encode_end_of_rib, encode_message, encode_withdrawals};
pub use error::{DecodeError, EncodeError};
pub use types::*;
